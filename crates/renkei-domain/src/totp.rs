//! Time-based one-time passwords (TOTP, RFC 6238, on HOTP, RFC 4226) for two-factor login, and
//! the Base32 (RFC 4648) form of their secrets that authenticator apps read.
//!
//! Randomness is not made here (the domain has no I/O): callers pass the secret bytes.

use hmac::{Hmac, Mac};

/// Seconds per TOTP step, as every authenticator app assumes.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;

/// The hash TOTP is computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA-1: what authenticator apps support universally; Renkei's enrolments use it.
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

/// HOTP (RFC 4226) of `counter` with `digits` digits.
pub fn hotp(algorithm: Algorithm, secret: &[u8], counter: u64, digits: u32) -> u32 {
    let message = counter.to_be_bytes();
    let digest: Vec<u8> = match algorithm {
        Algorithm::Sha1 => mac::<Hmac<sha1::Sha1>>(secret, &message),
        Algorithm::Sha256 => mac::<Hmac<sha2::Sha256>>(secret, &message),
        Algorithm::Sha512 => mac::<Hmac<sha2::Sha512>>(secret, &message),
    };
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    binary % 10u32.pow(digits)
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(message);
    m.finalize().into_bytes().to_vec()
}

/// The TOTP step of a Unix time.
pub fn step_of(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// The 6-digit SHA-1 code for a Unix time, zero-padded.
pub fn code_at(secret: &[u8], unix_seconds: u64) -> String {
    format!(
        "{:06}",
        hotp(Algorithm::Sha1, secret, step_of(unix_seconds), DIGITS)
    )
}

/// Checks a code typed by a person against the current step and one step either side (clock
/// drift, a code typed just as it changed). Returns the matching step so the caller can refuse
/// its reuse: a step at or before `last_used_step` is rejected.
pub fn verify(
    secret: &[u8],
    typed: &str,
    unix_seconds: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let digits: String = crate::text::normalize(typed)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    for step in [now, now.saturating_sub(1), now + 1] {
        if last_used_step.is_some_and(|used| step <= used) {
            continue;
        }
        let expected = format!("{:06}", hotp(Algorithm::Sha1, secret, step, DIGITS));
        if constant_time_eq(expected.as_bytes(), digits.as_bytes()) {
            return Some(step);
        }
    }
    None
}

/// Compares without an early exit, so timing does not tell how many digits matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 without padding, as otpauth URIs carry secrets.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(char::from(BASE32[((buffer >> (bits - 5)) & 31) as usize]));
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes Base32, ignoring case, spaces and padding; `None` on any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = BASE32
            .iter()
            .position(|&b| char::from(b) == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            out.push(((buffer >> (bits - 8)) & 0xff) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app scans from the enrolment QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let label = format!("{}:{}", percent(issuer), percent(account));
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        base32_encode(secret),
        percent(issuer)
    )
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 Appendix B: the seeds are the ASCII digits repeated to the hash's block size.
    const SEED_SHA1: &[u8] = b"12345678901234567890";
    const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc_6238_test_vectors() {
        let vectors: [(u64, u32, u32, u32); 6] = [
            (59, 94287082, 46119246, 90693936),
            (1111111109, 7081804, 68084774, 25091201),
            (1111111111, 14050471, 67062674, 99943326),
            (1234567890, 89005924, 91819424, 93441116),
            (2000000000, 69279037, 90698825, 38618901),
            (20000000000, 65353130, 77737706, 47863826),
        ];
        for (time, sha1, sha256, sha512) in vectors {
            let step = step_of(time);
            assert_eq!(
                hotp(Algorithm::Sha1, SEED_SHA1, step, 8),
                sha1,
                "SHA1 at {time}"
            );
            assert_eq!(
                hotp(Algorithm::Sha256, SEED_SHA256, step, 8),
                sha256,
                "SHA256 at {time}"
            );
            assert_eq!(
                hotp(Algorithm::Sha512, SEED_SHA512, step, 8),
                sha512,
                "SHA512 at {time}"
            );
        }
    }

    #[test]
    fn rfc_4226_hotp_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(Algorithm::Sha1, SEED_SHA1, counter as u64, 6), *code);
        }
    }

    #[test]
    fn verification_allows_one_step_of_drift_and_no_replay() {
        let secret = b"renkei-test-secret!!";
        let now = 1_800_000_000;
        let code = code_at(secret, now);
        let step = verify(secret, &code, now, None).unwrap();
        assert_eq!(
            verify(secret, &code, now, Some(step)),
            None,
            "a used code is refused"
        );
        assert!(verify(secret, &code_at(secret, now - 30), now, None).is_some());
        assert!(verify(secret, &code_at(secret, now + 30), now, None).is_some());
        assert_eq!(verify(secret, &code_at(secret, now - 90), now, None), None);
        let wide: String = code
            .chars()
            .map(|c| char::from_u32(c as u32 - 0x30 + 0xFF10).unwrap())
            .collect();
        assert!(
            verify(secret, &wide, now, None).is_some(),
            "全角 digits are accepted"
        );
        assert_eq!(verify(secret, "12345", now, None), None);
        assert_eq!(verify(secret, "abcdef", now, None), None);
    }

    #[test]
    fn base32_round_trips_rfc_4648_examples() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZXW 6YTB OI").unwrap(), b"foobar");
        assert_eq!(base32_decode("M1"), None);
        let uri = otpauth_uri("Renkei 連携", "sato@example.jp", b"foobar");
        assert!(
            uri.starts_with(
                "otpauth://totp/Renkei%20%E9%80%A3%E6%90%BA:sato@example.jp?secret=MZXW6YTBOI&"
            ),
            "{uri}"
        );
    }
}
