//! Signed links: a token that names a row (a survey's recipient) and carries an HMAC-SHA256 of
//! it under a key derived from the server's secret for one purpose. Nothing about the link is
//! stored, so the same link can be mailed again as a reminder, and a database dump gives no
//! link away.

use crate::connect::Store;
use crate::StoreError;
use ring::{hkdf, hmac};

/// Hex digits of the MAC kept in a link (128 bits).
const MAC_HEX: usize = 32;

fn key(secret: &[u8], purpose: &str) -> Result<hmac::Key, StoreError> {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"renkei signed links v1");
    let info = [purpose.as_bytes()];
    let prk = salt.extract(secret);
    let okm = prk
        .expand(&info, hmac::HMAC_SHA256)
        .map_err(|_| StoreError::Invalid("key derivation failed".into()))?;
    Ok(hmac::Key::from(okm))
}

fn mac_hex(key: &hmac::Key, id: i64) -> String {
    let tag = hmac::sign(key, id.to_string().as_bytes());
    tag.as_ref()
        .iter()
        .take(MAC_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// The link token for row `id` of `purpose`: `{id}-{mac}`.
    pub fn signed_link(&self, purpose: &str, id: i64) -> Result<String, StoreError> {
        let key = key(self.audit_key()?, purpose)?;
        Ok(format!("{id}-{}", mac_hex(&key, id)))
    }

    /// The row a token of `purpose` names, if its MAC is right (compared in constant time).
    pub fn signed_link_target(&self, purpose: &str, token: &str) -> Option<i64> {
        let (id, mac) = token.split_once('-')?;
        let id: i64 = id.parse().ok()?;
        if mac.len() != MAC_HEX || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let key = key(self.audit_key().ok()?, purpose).ok()?;
        let want = mac_hex(&key, id);
        let same = want
            .bytes()
            .zip(mac.to_ascii_lowercase().bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (same == 0).then_some(id)
    }
}
