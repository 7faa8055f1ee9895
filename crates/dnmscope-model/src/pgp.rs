//! PGP fingerprints: the strongest signal that two vendor accounts are one person.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// A PGP key fingerprint as lower-case hex: 40 digits for v4 keys, 64 for v5/v6 keys.
///
/// Accepts the ways people write them (`"ABCD 1234 ..."`, `"0xABCD..."`) and normalises.
/// Computing a fingerprint from an armored key block is the parser's work.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PgpFingerprint(String);

impl PgpFingerprint {
    pub fn new(text: &str) -> Result<PgpFingerprint, ModelError> {
        let trimmed = text.trim();
        let trimmed = trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
            .unwrap_or(trimmed);
        let hex: String = trimmed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect();
        let ok = (hex.len() == 40 || hex.len() == 64) && hex.chars().all(|c| c.is_ascii_hexdigit());
        if !ok {
            return Err(ModelError::PgpFingerprint {
                input: text.to_string(),
            });
        }
        Ok(PgpFingerprint(hex.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The long key id: the last 16 hex digits of a v4 fingerprint, the first 16 of a v5/v6 one.
    pub fn key_id(&self) -> &str {
        if self.0.len() == 40 {
            &self.0[24..]
        } else {
            &self.0[..16]
        }
    }
}

impl fmt::Display for PgpFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PgpFingerprint {
    type Error = ModelError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        PgpFingerprint::new(&value)
    }
}

impl From<PgpFingerprint> for String {
    fn from(value: PgpFingerprint) -> String {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_the_usual_spellings() {
        let a =
            PgpFingerprint::new("0x1234 5678 9ABC DEF0 1234  5678 9ABC DEF0 1234 5678").unwrap();
        assert_eq!(a.as_str(), "123456789abcdef0123456789abcdef012345678");
        assert_eq!(a.key_id(), "9abcdef012345678");
        assert!(PgpFingerprint::new("1234").is_err());
        assert!(PgpFingerprint::new(&"g".repeat(40)).is_err());
        assert!(PgpFingerprint::new(&"a".repeat(64)).is_ok());
    }
}
