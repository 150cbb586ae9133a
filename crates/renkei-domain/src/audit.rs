//! The audit log's hash chain: every entry carries an HMAC-SHA-256 of its content and of the
//! previous entry's hash, so an entry edited, deleted or inserted behind Renkei's back breaks
//! the chain from that point on. The key lives outside the database (a file in the data
//! directory or `RENKEI_AUDIT_KEY`), so someone who can write the database cannot recompute a
//! valid chain.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The hash the first entry chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an audit entry that the chain protects, in their stored text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedFields<'a> {
    /// Sequence number, 1-based, gapless.
    pub seq: i64,
    /// UTC timestamp text.
    pub at: &'a str,
    /// Acting user id, when known.
    pub actor: Option<i64>,
    /// Action code, e.g. `login.success`.
    pub action: &'a str,
    /// Outcome code: `ok` or `denied` or `failed`.
    pub outcome: &'a str,
    /// What the action was about, e.g. `user:12`.
    pub target: &'a str,
    /// Client address, when known.
    pub client: &'a str,
    /// Further details as JSON text.
    pub details: &'a str,
}

/// The hash of an entry: HMAC-SHA-256 under `key` over the previous hash and every field, each
/// length-prefixed so that no two different entries serialise alike.
pub fn entry_hash(key: &[u8], previous: &str, fields: &ChainedFields<'_>) -> String {
    let mut hasher = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key)
        .expect("HMAC takes any key length");
    let actor = fields.actor.map(|a| a.to_string()).unwrap_or_default();
    let seq = fields.seq.to_string();
    for part in [
        previous,
        seq.as_str(),
        fields.at,
        actor.as_str(),
        fields.action,
        fields.outcome,
        fields.target,
        fields.client,
        fields.details,
    ] {
        hasher.update(&(part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex(&hasher.finalize().into_bytes())
}

/// A secret token derived from `key` for one purpose: HMAC-SHA-256 over the purpose and the
/// parts, each length-prefixed, cut to 128 bits as hex. The same inputs give the same token, so
/// it can be shown again (a link printed for fax) without being stored.
pub fn derived_token(key: &[u8], purpose: &str, parts: &[&str]) -> String {
    let mut hasher = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key)
        .expect("HMAC takes any key length");
    for part in std::iter::once(purpose).chain(parts.iter().copied()) {
        hasher.update(&(part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex(&hasher.finalize().into_bytes()[..16])
}

/// What came of an audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was done.
    Ok,
    /// It was refused for lack of permission.
    Denied,
    /// It failed (wrong password, expired link …).
    Failed,
}

impl Outcome {
    /// Code stored in the log.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// SHA-256 of a secret token, in hex: what the database keeps instead of the token itself.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// SHA-256 of a file's content, in hex (kept with uploads so a copy can be checked).
pub fn content_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(hex(&[]), "");
    }

    fn fields(seq: i64, action: &str) -> ChainedFields<'_> {
        ChainedFields {
            seq,
            at: "2026-11-25T00:00:00.000000Z",
            actor: Some(1),
            action,
            outcome: "ok",
            target: "user:1",
            client: "127.0.0.1",
            details: "{}",
        }
    }

    const KEY: &[u8] = b"test audit key";

    #[test]
    fn every_field_the_previous_hash_and_the_key_change_the_hash() {
        let base = entry_hash(KEY, GENESIS, &fields(1, "login.success"));
        assert_eq!(base.len(), 64);
        assert_eq!(base, entry_hash(KEY, GENESIS, &fields(1, "login.success")));
        assert_ne!(base, entry_hash(KEY, GENESIS, &fields(2, "login.success")));
        assert_ne!(base, entry_hash(KEY, GENESIS, &fields(1, "login.failure")));
        assert_ne!(base, entry_hash(KEY, &base, &fields(1, "login.success")));
        assert_ne!(
            base,
            entry_hash(b"another key", GENESIS, &fields(1, "login.success"))
        );
        let mut moved = fields(1, "login.success");
        moved.target = "user:1x";
        moved.client = "27.0.0.1";
        assert_ne!(
            base,
            entry_hash(KEY, GENESIS, &moved),
            "length prefixes keep field borders"
        );
    }

    #[test]
    fn token_hashes_are_sha256() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
