//! Normalisation shared by all markets: money, quantities and price per unit, countries, dates,
//! rating forms, and PGP key blocks to fingerprints.
//!
//! Each function takes the text as the market shows it and returns the model's value, or an
//! [`Unreadable`] saying what it could not read.

mod country;
mod date;
mod money;
mod pgp;
#[cfg(test)]
mod properties;
mod quantity;
mod rating;

use std::fmt;

pub use country::parse_country;
pub use date::{parse_date, ParsedDate};
pub use money::{parse_decimal, parse_money, parse_price};
pub use pgp::{pgp_fingerprint, pgp_key_facts};
pub use quantity::{find_quantity, parse_quantity, price_per_unit, UnitPrice};
pub use rating::{parse_rating, RatingForm};

/// A text a normaliser could not read, and why: becomes a field's diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub what: &'static str,
    pub text: String,
    pub reason: String,
}

impl Unreadable {
    pub(crate) fn new(what: &'static str, text: &str, reason: impl Into<String>) -> Unreadable {
        Unreadable {
            what,
            text: text.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read {} from {:?}: {}",
            self.what, self.text, self.reason
        )
    }
}

impl std::error::Error for Unreadable {}

/// Collapses runs of white space (including non-breaking spaces) to one space and trims.
pub fn collapse_whitespace(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
