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

/// The seal of the chain's head (its sequence and hash) under the audit key: rewinding the
/// head to hide entries cut from the end needs the key, not only write access to the database.
pub fn head_seal(key: &[u8], seq: i64, hash: &str) -> String {
    derived_token(key, "renkei audit head v1", &[&seq.to_string(), hash])
}

/// A copy of the chain's head kept outside the database (a file written by cron or by the
/// server), signed with the audit key. A later chain must still hold this entry with this
/// hash: a chain cut below it, or rewritten, no longer does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The head's sequence number.
    pub seq: i64,
    /// The head's hash.
    pub hash: String,
    /// When the anchor was taken (UTC text).
    pub at: String,
    /// The signature under the audit key.
    pub mac: String,
}

/// The first word of an anchor line.
const ANCHOR_TAG: &str = "renkei-audit-anchor-v1";

impl Anchor {
    /// An anchor of the head `seq`/`hash` taken `at`, signed with `key`.
    pub fn sign(key: &[u8], seq: i64, hash: &str, at: &str) -> Self {
        Self {
            seq,
            hash: hash.to_owned(),
            at: at.to_owned(),
            mac: derived_token(key, ANCHOR_TAG, &[&seq.to_string(), hash, at]),
        }
    }

    /// Whether the signature is right for `key`.
    pub fn is_signed_by(&self, key: &[u8]) -> bool {
        let want = derived_token(
            key,
            ANCHOR_TAG,
            &[&self.seq.to_string(), &self.hash, &self.at],
        );
        crate::totp::constant_time_eq(want.as_bytes(), self.mac.as_bytes())
    }

    /// The anchor as one line of text (an anchor file holds one per line, newest last).
    pub fn to_line(&self) -> String {
        format!(
            "{ANCHOR_TAG} seq={} hash={} at={} mac={}",
            self.seq, self.hash, self.at, self.mac
        )
    }

    /// Reads a line written by [`Anchor::to_line`].
    pub fn parse(line: &str) -> Option<Self> {
        let mut words = line.split_whitespace();
        if words.next()? != ANCHOR_TAG {
            return None;
        }
        let mut field = |name: &str| -> Option<String> {
            words
                .next()?
                .strip_prefix(name)?
                .strip_prefix('=')
                .map(str::to_owned)
        };
        Some(Self {
            seq: field("seq")?.parse().ok()?,
            hash: field("hash")?,
            at: field("at")?,
            mac: field("mac")?,
        })
    }
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
    fn anchors_round_trip_and_need_the_key() {
        let a = Anchor::sign(b"key", 1337, "ab12", "2026-12-07T15:00:00.000000Z");
        let back = Anchor::parse(&a.to_line()).unwrap();
        assert_eq!(back, a);
        assert!(back.is_signed_by(b"key"));
        assert!(!back.is_signed_by(b"other key"));
        let mut moved = back.clone();
        moved.seq = 1300;
        assert!(!moved.is_signed_by(b"key"), "a changed anchor fails");
        assert_eq!(Anchor::parse("not an anchor"), None);
        assert_ne!(head_seal(b"key", 5, "ab"), head_seal(b"key", 4, "ab"));
    }

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
