//! Passwords (Argon2id) and random tokens.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::RngCore;
use std::sync::OnceLock;

/// An Argon2id PHC string for a password (the crate's defaults: 19 MiB, 2 passes, 1 lane, as
/// OWASP recommends).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches the stored hash. With no hash (unknown account, or a user who has
/// not set one) a dummy hash is checked anyway, so the time taken does not tell which.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash_password("renkei dummy password for timing").unwrap_or_default());
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// `bytes` random bytes from the operating system, as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    renkei_domain::audit::hex(&buf)
}

/// Random bytes from the operating system.
pub fn random_bytes(bytes: usize) -> Vec<u8> {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf
}

/// A recovery code people can type: ten characters from an alphabet without look-alikes, shown
/// as two groups of five (「K7QXM-PA3TW」).
pub fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let raw = random_bytes(10);
    let chars: String = raw
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// The stored form of a recovery code: SHA-256 of its normalised text (case, spaces, hyphens
/// and 全角 ignored).
pub fn recovery_code_hash(code: &str) -> String {
    let normal: String = renkei_domain::text::normalize(code)
        .to_uppercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    renkei_domain::audit::token_hash(&normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(Some(&hash), "correct horse battery staple"));
        assert!(!verify_password(
            Some(&hash),
            "correct horse battery stapler"
        ));
        assert!(
            !verify_password(None, "renkei dummy password for timing"),
            "no hash never verifies"
        );
        assert!(!verify_password(Some("garbage"), "x"));
    }

    #[test]
    fn tokens_and_recovery_codes() {
        assert_eq!(random_hex(32).len(), 64);
        assert_ne!(random_hex(32), random_hex(32));
        let code = recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(
            recovery_code_hash(&code),
            recovery_code_hash(&code.to_lowercase().replace('-', " "))
        );
    }
}
