//! Money: an exact decimal amount with its currency, as displayed by a market.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// A currency code: ISO 4217 for fiat (`USD`, `EUR`) or a coin ticker (`BTC`, `XMR`).
///
/// Always upper case ASCII letters, 2 to 5 of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn new(code: &str) -> Result<Currency, ModelError> {
        let code = code.trim();
        let ok = (2..=5).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphabetic());
        if !ok {
            return Err(ModelError::Currency {
                input: code.to_string(),
            });
        }
        Ok(Currency(code.to_ascii_uppercase()))
    }
    pub fn usd() -> Currency {
        Currency("USD".to_string())
    }
    pub fn btc() -> Currency {
        Currency("BTC".to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether this is a cryptocurrency ticker that dnmscope knows.
    pub fn is_crypto(&self) -> bool {
        matches!(
            self.0.as_str(),
            "BTC" | "XMR" | "LTC" | "BCH" | "ETH" | "ZEC" | "DASH"
        )
    }
}

impl TryFrom<String> for Currency {
    type Error = ModelError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::new(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> String {
        value.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An exact amount of a currency. Amounts are never floating point: `0.1 + 0.2` BTC is exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    /// Money from an amount written in plain decimal notation (`"49.00"`, `"0.000272"`).
    ///
    /// Negative amounts are refused: no market shows a negative price.
    pub fn new(amount: &str, currency: &str) -> Result<Money, ModelError> {
        let amount_text = amount.trim();
        let amount = Decimal::from_str_exact(amount_text).map_err(|err| ModelError::Amount {
            input: amount_text.to_string(),
            reason: err.to_string(),
        })?;
        Money::from_decimal(amount, Currency::new(currency)?)
    }

    pub fn from_decimal(amount: Decimal, currency: Currency) -> Result<Money, ModelError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(ModelError::Amount {
                input: amount.to_string(),
                reason: "amounts are never negative".to_string(),
            });
        }
        Ok(Money { amount, currency })
    }

    /// The amount as text, exactly as stored (`"49.00"`); trailing zeros are kept as shown.
    pub fn amount_text(&self) -> String {
        self.amount.to_string()
    }
}

/// `"49.00 USD"`
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// Parses the canonical form written by `Display`: `"<amount> <CODE>"`.
impl FromStr for Money {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Money, ModelError> {
        let mut parts = s.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(amount), Some(code), None) => Money::new(amount, code),
            _ => Err(ModelError::Amount {
                input: s.to_string(),
                reason: "expected \"<amount> <currency>\"".to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_and_keep_their_scale() {
        let a = Money::new("0.1", "btc").unwrap();
        let b = Money::new("0.2", "BTC").unwrap();
        assert_eq!((a.amount + b.amount).to_string(), "0.3");
        assert_eq!(Money::new("49.00", "usd").unwrap().to_string(), "49.00 USD");
        assert_eq!(
            "0.000272 BTC".parse::<Money>().unwrap(),
            Money::new("0.000272", "BTC").unwrap()
        );
    }

    #[test]
    fn bad_money_is_refused_with_the_input() {
        let err = Money::new("-3", "USD").unwrap_err();
        assert!(err.to_string().contains("never negative"), "{err}");
        let err = Money::new("1e5x", "USD").unwrap_err();
        assert!(err.to_string().contains("1e5x"), "{err}");
        assert!(Currency::new("US$").is_err());
        assert!(Currency::new("").is_err());
        assert!("12".parse::<Money>().is_err());
    }

    #[test]
    fn money_round_trips_through_json_as_strings() {
        let m = Money::new("12.50", "EUR").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"12.50","currency":"EUR"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
    }
}
