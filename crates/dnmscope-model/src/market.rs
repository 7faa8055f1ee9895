//! Markets and the events that happen to them: takedowns, seizures, exit scams, outages.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// A market's short name, the key it has everywhere in dnmscope (`dream`, `empire`, `sim-agora`).
///
/// Lower-case ASCII letters, digits, `-` and `_`; 1 to 64 of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MarketName(String);

impl MarketName {
    pub fn new(name: &str) -> Result<MarketName, ModelError> {
        let ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok {
            return Err(ModelError::MarketName {
                input: name.to_string(),
            });
        }
        Ok(MarketName(name.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MarketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for MarketName {
    type Error = ModelError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        MarketName::new(&value)
    }
}

impl From<MarketName> for String {
    fn from(value: MarketName) -> String {
        value.0
    }
}

/// What happened to a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketEventKind {
    /// Known from outside the crawl (news, a researcher's note) that the market was taken down.
    Takedown,
    /// A law-enforcement seizure banner replaced the market's pages.
    SeizureBanner,
    /// The operators vanished with the escrowed funds.
    ExitScam,
    /// The market did not answer for a while.
    Outage,
    /// The market announced or started using a new address.
    MirrorChange,
    /// The crawl's own record, not a change of the market: it answered with a login or captcha
    /// page, and a person must log in and import the session (`detail` says how).
    NeedsHuman,
}

impl MarketEventKind {
    pub const ALL: [MarketEventKind; 6] = [
        MarketEventKind::Takedown,
        MarketEventKind::SeizureBanner,
        MarketEventKind::ExitScam,
        MarketEventKind::Outage,
        MarketEventKind::MirrorChange,
        MarketEventKind::NeedsHuman,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MarketEventKind::Takedown => "takedown",
            MarketEventKind::SeizureBanner => "seizure_banner",
            MarketEventKind::ExitScam => "exit_scam",
            MarketEventKind::Outage => "outage",
            MarketEventKind::MirrorChange => "mirror_change",
            MarketEventKind::NeedsHuman => "needs_human",
        }
    }

    pub fn parse(text: &str) -> Option<MarketEventKind> {
        MarketEventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// One event in a market's life, with when it was observed and what shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketEvent {
    pub kind: MarketEventKind,
    pub observed_at: DateTime<Utc>,
    /// Free text: the banner's wording, the new mirror's address, the outage's length.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_names() {
        assert!(MarketName::new("dream").is_ok());
        assert!(MarketName::new("sim-agora_2").is_ok());
        assert!(MarketName::new("Dream").is_err());
        assert!(MarketName::new("").is_err());
        assert!(MarketName::new("a b").is_err());
    }

    #[test]
    fn event_kinds_round_trip() {
        for kind in MarketEventKind::ALL {
            assert_eq!(MarketEventKind::parse(kind.as_str()), Some(kind));
        }
    }
}
