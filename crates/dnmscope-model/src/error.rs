//! The one error type of this crate: a value that does not validate.

/// A value was refused by a constructor; the message says which value and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("invalid currency code {input:?}: expected 2 to 5 ASCII letters (ISO 4217 or a coin ticker)")]
    Currency { input: String },
    #[error("invalid amount {input:?}: {reason}")]
    Amount { input: String, reason: String },
    #[error("unknown country {input:?}: expected an ISO 3166-1 alpha-2 code or a region word (WW, EU, EUROPE, ...)")]
    Country { input: String },
    #[error("invalid PGP fingerprint {input:?}: expected 40 (v4) or 64 (v5/v6) hex digits")]
    PgpFingerprint { input: String },
    #[error("invalid market name {input:?}: expected 1 to 64 characters of a-z, 0-9, '-' or '_'")]
    MarketName { input: String },
    #[error("invalid {what} {input:?}: {reason}")]
    Invalid {
        what: &'static str,
        input: String,
        reason: &'static str,
    },
}
