//! Raw bodies at rest: zstd, then XChaCha20-Poly1305 under a key kept apart from the store.
//!
//! A sealed body is `nonce (24 bytes) || ciphertext || tag (16 bytes)`; the body's content hash
//! (BLAKE3 of the plaintext, the `blobs` row's key) is the associated data, so a sealed body
//! moved to another row fails to open instead of reading as another page. The nonce is random
//! per body (XChaCha's 192-bit nonces make collisions negligible).
//!
//! The key is named by its id: the first 8 bytes of a BLAKE3 key derivation from the key, in
//! hex. The id says which key a store needs without saying anything about the key.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::StoreError;

/// The one cipher raw bodies are sealed with (`blobs.encryption`, `raw_encryption.cipher`).
pub const CIPHER: &str = "xchacha20poly1305";

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The key raw bodies are encrypted with. Its `Debug` prints the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct RawKey {
    bytes: [u8; 32],
    id: String,
}

impl RawKey {
    pub fn from_bytes(bytes: [u8; 32]) -> RawKey {
        let derived = blake3::derive_key("dnmscope 2026 raw-body key id", &bytes);
        RawKey {
            bytes,
            id: hex::encode(&derived[..8]),
        }
    }

    /// A key file's text: 64 hexadecimal digits (white space around them ignored).
    pub fn from_hex(text: &str) -> Result<RawKey, StoreError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| StoreError::RawKey {
            reason: "a raw-body key is 64 hexadecimal digits".to_string(),
        })?;
        Ok(RawKey::from_bytes(bytes))
    }

    /// A new random key.
    pub fn generate() -> RawKey {
        RawKey::from_bytes(rand::random())
    }

    /// The key as a key file holds it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    /// What names the key in the store and in `db stats` (16 hex digits; not secret).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals a compressed body whose plaintext has content hash `hash`.
    pub(crate) fn seal(&self, hash: &str, compressed: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&self.bytes).into());
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: compressed,
                    aad: hash.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`RawKey::seal`] sealed; a wrong key, a damaged body or a body of another
    /// row is an error, never garbage.
    pub(crate) fn open(&self, hash: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let refused = || StoreError::Corrupt {
            what: format!(
                "the encrypted body {hash} does not open with key {} (damaged, or not this row's)",
                self.id
            ),
        };
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(refused());
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new((&self.bytes).into());
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: rest,
                    aad: hash.as_bytes(),
                },
            )
            .map_err(|_| refused())
    }
}

impl fmt::Debug for RawKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawKey(id {}, key redacted)", self.id)
    }
}

/// The store's policy for new raw bodies: the newest `raw_encryption` row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RawPolicy {
    pub cipher: String,
    pub key_id: String,
    pub enabled_at: chrono::DateTime<chrono::Utc>,
    pub enabled_by: String,
}

/// Checks that `key` is the key a body sealed under `key_id` needs.
pub(crate) fn key_for<'k>(
    key: Option<&'k RawKey>,
    key_id: &str,
    what: impl FnOnce() -> String,
) -> Result<&'k RawKey, StoreError> {
    match key {
        None => Err(StoreError::RawKeyNeeded {
            what: what(),
            key_id: key_id.to_string(),
        }),
        Some(key) if key.id() != key_id => Err(StoreError::WrongRawKey {
            what: what(),
            needed: key_id.to_string(),
            given: key.id().to_string(),
        }),
        Some(key) => Ok(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_body_opens_with_its_key_and_hash_only() {
        let key = RawKey::from_bytes([7; 32]);
        let other = RawKey::from_bytes([8; 32]);
        let sealed = key.seal("hash-a", b"the compressed body");
        assert_eq!(key.open("hash-a", &sealed).unwrap(), b"the compressed body");
        assert!(other.open("hash-a", &sealed).is_err(), "another key");
        assert!(key.open("hash-b", &sealed).is_err(), "another row's hash");
        let mut damaged = sealed.clone();
        damaged[30] ^= 1;
        assert!(key.open("hash-a", &damaged).is_err(), "a flipped bit");
        assert!(key.open("hash-a", &sealed[..20]).is_err(), "too short");
        assert_ne!(
            key.seal("hash-a", b"x"),
            key.seal("hash-a", b"x"),
            "fresh nonces"
        );
    }

    #[test]
    fn a_key_is_named_by_an_id_that_is_not_the_key() {
        let key = RawKey::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(key.id().len(), 16);
        assert!(!key.to_hex().contains(key.id()));
        assert_ne!(key.id(), RawKey::from_bytes([0; 32]).id());
        let debug = format!("{key:?}");
        assert!(
            debug.contains(key.id()) && !debug.contains(&"ab".repeat(8)),
            "{debug}"
        );
        assert!(RawKey::from_hex("abcd").is_err());
        assert_eq!(
            RawKey::from_hex(&format!(" {}\n", key.to_hex())).unwrap(),
            key
        );
    }

    #[test]
    fn a_missing_or_wrong_key_is_named() {
        let key = RawKey::from_bytes([7; 32]);
        let err = key_for(None, key.id(), || "reading capture 3".into()).unwrap_err();
        assert!(err.to_string().contains(key.id()), "{err}");
        let other = RawKey::from_bytes([8; 32]);
        let err = key_for(Some(&other), key.id(), || "reading capture 3".into()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(key.id()) && text.contains(other.id()),
            "{text}"
        );
        assert!(key_for(Some(&key), key.id(), String::new).is_ok());
    }
}
