//! Sealing data at rest: AES-256-GCM under a key derived with HKDF-SHA256 from the server's
//! secret (the audit key) for one purpose, with a fresh random nonce per item and additional
//! data that binds the item to its owner, so that sealed bytes copied to another row do not
//! open. A database file or dump alone does not reveal what was sealed.

use crate::StoreError;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// A key for one purpose.
pub(crate) struct Sealer(LessSafeKey);

/// Sealed bytes and the nonce they were sealed with.
pub(crate) struct Sealed {
    /// The nonce (12 bytes).
    pub nonce: Vec<u8>,
    /// The ciphertext with its tag.
    pub bytes: Vec<u8>,
}

impl Sealer {
    /// The key for `purpose`, derived from `secret`.
    pub(crate) fn derive(secret: &[u8], purpose: &str) -> Result<Self, StoreError> {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"renkei sealed at rest v1");
        let info = [purpose.as_bytes()];
        let prk = salt.extract(secret);
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .map_err(|_| StoreError::Invalid("key derivation failed".into()))?;
        Ok(Sealer(LessSafeKey::new(UnboundKey::from(okm))))
    }

    /// Seals `plain`, bound to `owner`.
    pub(crate) fn seal(&self, owner: &str, plain: &[u8]) -> Result<Sealed, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| StoreError::Invalid("no randomness for a nonce".into()))?;
        let mut bytes = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut bytes,
            )
            .map_err(|_| StoreError::Invalid("sealing failed".into()))?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            bytes,
        })
    }

    /// Opens what [`Sealer::seal`] sealed for `owner`; an error when the bytes, the nonce or
    /// the owner do not match (tampered, moved, or another key).
    pub(crate) fn open(
        &self,
        owner: &str,
        nonce: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| StoreError::Invalid("bad nonce".into()))?;
        let mut bytes = sealed.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut bytes)
            .map_err(|_| StoreError::Invalid("sealed data does not open".into()))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_only_for_their_owner_and_key() {
        let key = Sealer::derive(b"secret one", "care-attachment").unwrap();
        let plain = b"\x89PNG photo of a wound";
        let s = key.seal("patient:7", plain).unwrap();
        assert_ne!(
            &s.bytes[..plain.len()],
            plain,
            "the bytes are not stored as they came"
        );
        assert_eq!(key.open("patient:7", &s.nonce, &s.bytes).unwrap(), plain);
        // Moved to another patient, another key, another purpose, or tampered: it does not open.
        assert!(key.open("patient:8", &s.nonce, &s.bytes).is_err());
        let other = Sealer::derive(b"secret two", "care-attachment").unwrap();
        assert!(other.open("patient:7", &s.nonce, &s.bytes).is_err());
        let purpose = Sealer::derive(b"secret one", "something else").unwrap();
        assert!(purpose.open("patient:7", &s.nonce, &s.bytes).is_err());
        let mut tampered = s.bytes.clone();
        tampered[0] ^= 1;
        assert!(key.open("patient:7", &s.nonce, &tampered).is_err());
        // Two seals of the same bytes differ (fresh nonces).
        let again = key.seal("patient:7", plain).unwrap();
        assert_ne!(again.nonce, s.nonce);
        assert_ne!(again.bytes, s.bytes);
    }
}
