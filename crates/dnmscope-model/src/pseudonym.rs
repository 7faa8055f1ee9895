//! Pseudonyms: how forum and feedback authors who are not vendors are kept.
//!
//! A handle is replaced by a keyed HMAC-SHA256 of the market and the handle. With the key, the
//! same handle always gives the same pseudonym (so a poster's activity can be followed); without
//! it, the handle cannot be recovered or confirmed by guessing. The key lives apart from the data.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{MarketName, ModelError};

/// The secret key of the pseudonymisation. Its `Debug` never shows it.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl PseudonymKey {
    pub fn from_bytes(bytes: [u8; 32]) -> PseudonymKey {
        PseudonymKey(bytes)
    }

    /// A key written as 64 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<PseudonymKey, ModelError> {
        let invalid = || ModelError::Invalid {
            what: "pseudonym key",
            input: "[redacted]".to_string(),
            reason: "expected 64 hex digits",
        };
        let bytes = hex::decode(text.trim()).map_err(|_| invalid())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| invalid())?;
        Ok(PseudonymKey(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey([redacted])")
    }
}

/// A pseudonymised handle: `p:` and 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pseudonym(String);

impl Pseudonym {
    /// The pseudonym of `handle` on `market`. Handles compare without regard to case or
    /// surrounding white space, as markets treat them.
    pub fn of(key: &PseudonymKey, market: &MarketName, handle: &str) -> Pseudonym {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("HMAC accepts keys of any length");
        mac.update(market.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(handle.trim().to_lowercase().as_bytes());
        let digest = mac.finalize().into_bytes();
        Pseudonym(format!("p:{}", hex::encode(&digest[..16])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Takes back a stored pseudonym; refuses anything that does not look like one, so that a
    /// plain handle can never pass for a pseudonym.
    pub fn from_stored(text: &str) -> Result<Pseudonym, ModelError> {
        let ok = text.len() == 34
            && text.starts_with("p:")
            && text[2..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(ModelError::Invalid {
                what: "pseudonym",
                input: text.to_string(),
                reason: "expected \"p:\" and 32 lower-case hex digits",
            });
        }
        Ok(Pseudonym(text.to_string()))
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_keyed_and_case_blind() {
        let key = PseudonymKey::from_bytes([7; 32]);
        let other = PseudonymKey::from_bytes([8; 32]);
        let dream = MarketName::new("dream").unwrap();
        let empire = MarketName::new("empire").unwrap();
        let a = Pseudonym::of(&key, &dream, "Alice");
        assert_eq!(a, Pseudonym::of(&key, &dream, " alice "));
        assert_ne!(a, Pseudonym::of(&other, &dream, "Alice"));
        assert_ne!(a, Pseudonym::of(&key, &empire, "Alice"));
        assert!(!a.as_str().contains("lice"));
        assert_eq!(Pseudonym::from_stored(a.as_str()).unwrap(), a);
        assert!(Pseudonym::from_stored("alice").is_err());
    }

    #[test]
    fn keys_never_show() {
        let key = PseudonymKey::from_hex(&"ab".repeat(32)).unwrap();
        assert!(!format!("{key:?}").contains("ab"));
        assert_eq!(key.to_hex(), "ab".repeat(32));
        let err = PseudonymKey::from_hex("abcd").unwrap_err().to_string();
        assert!(!err.contains("abcd"), "{err}");
    }
}
