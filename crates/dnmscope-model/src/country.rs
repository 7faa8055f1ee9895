//! Countries as markets show them: an ISO 3166-1 alpha-2 code, or a region word.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::iso3166::ISO_3166_1;
use crate::ModelError;

/// A place a listing ships from or to.
///
/// Serialised as its code: `"NL"`, or for a region `"WW"`, `"EU"`, `"EUROPE"`, ... (the
/// comparison form of the corpus schema). Mapping the many ways markets write a country
/// ("Holland", "United States of America") to this type is the parser's normalisation; this type
/// only accepts codes and region words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Country {
    /// An ISO 3166-1 alpha-2 code, upper case.
    Iso([u8; 2]),
    Region(Region),
}

/// Region words that markets use in place of a country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    Worldwide,
    /// The European Union.
    Eu,
    /// Europe, wider than the EU.
    Europe,
    NorthAmerica,
    SouthAmerica,
    Asia,
    Oceania,
    Africa,
    /// The vendor did not say.
    Undeclared,
}

impl Region {
    pub const ALL: [Region; 9] = [
        Region::Worldwide,
        Region::Eu,
        Region::Europe,
        Region::NorthAmerica,
        Region::SouthAmerica,
        Region::Asia,
        Region::Oceania,
        Region::Africa,
        Region::Undeclared,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Region::Worldwide => "WW",
            Region::Eu => "EU",
            Region::Europe => "EUROPE",
            Region::NorthAmerica => "NORTH_AMERICA",
            Region::SouthAmerica => "SOUTH_AMERICA",
            Region::Asia => "ASIA",
            Region::Oceania => "OCEANIA",
            Region::Africa => "AFRICA",
            Region::Undeclared => "UNDECLARED",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Region::Worldwide => "Worldwide",
            Region::Eu => "European Union",
            Region::Europe => "Europe",
            Region::NorthAmerica => "North America",
            Region::SouthAmerica => "South America",
            Region::Asia => "Asia",
            Region::Oceania => "Oceania",
            Region::Africa => "Africa",
            Region::Undeclared => "Undeclared",
        }
    }
}

impl Country {
    /// A country from its code: an ISO 3166-1 alpha-2 code in any case (`"nl"`), or a region
    /// code (`"WW"`, `"EU"`, `"EUROPE"`, `"UNDECLARED"`, ...).
    pub fn from_code(code: &str) -> Result<Country, ModelError> {
        let upper = code.trim().to_ascii_uppercase();
        if let Some(region) = Region::ALL.iter().find(|r| r.code() == upper) {
            return Ok(Country::Region(*region));
        }
        if upper.len() == 2
            && ISO_3166_1
                .binary_search_by_key(&upper.as_str(), |(c, _)| c)
                .is_ok()
        {
            let bytes = upper.as_bytes();
            return Ok(Country::Iso([bytes[0], bytes[1]]));
        }
        Err(ModelError::Country {
            input: code.to_string(),
        })
    }

    /// A country from its English short name as ISO 3166-1 gives it (`"Netherlands"`), or a
    /// region's name (`"Worldwide"`), ignoring case. Aliases ("Holland", "USA") are the parser's.
    pub fn from_english_name(name: &str) -> Option<Country> {
        let name = name.trim();
        if let Some(region) = Region::ALL
            .iter()
            .find(|r| r.name().eq_ignore_ascii_case(name))
        {
            return Some(Country::Region(*region));
        }
        ISO_3166_1
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .and_then(|(code, _)| Country::from_code(code).ok())
    }

    pub fn code(&self) -> &str {
        match self {
            // The bytes were checked to be ASCII letters when the value was made.
            Country::Iso(bytes) => std::str::from_utf8(bytes).unwrap_or("??"),
            Country::Region(region) => region.code(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Country::Iso(_) => ISO_3166_1
                .binary_search_by_key(&self.code(), |(c, _)| c)
                .map(|i| ISO_3166_1[i].1)
                .unwrap_or("?"),
            Country::Region(region) => region.name(),
        }
    }

    pub fn is_region(&self) -> bool {
        matches!(self, Country::Region(_))
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Country {
    type Error = ModelError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Country::from_code(&value)
    }
}

impl From<Country> for String {
    fn from(value: Country) -> String {
        value.code().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_for_binary_search() {
        assert!(ISO_3166_1.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(ISO_3166_1.len(), 249);
    }

    #[test]
    fn codes_and_regions() {
        assert_eq!(Country::from_code("nl").unwrap().code(), "NL");
        assert_eq!(Country::from_code("NL").unwrap().name(), "Netherlands");
        assert_eq!(
            Country::from_code("ww").unwrap(),
            Country::Region(Region::Worldwide)
        );
        assert_eq!(
            Country::from_code("EU").unwrap(),
            Country::Region(Region::Eu)
        );
        assert!(Country::from_code("XX").is_err());
        assert!(Country::from_code("USA").is_err());
        assert_eq!(
            Country::from_english_name("united kingdom").unwrap().code(),
            "GB"
        );
        assert_eq!(
            Country::from_english_name("Worldwide").unwrap().code(),
            "WW"
        );
        let json = serde_json::to_string(&Country::from_code("de").unwrap()).unwrap();
        assert_eq!(json, "\"DE\"");
        assert!(serde_json::from_str::<Country>("\"QQ\"").is_err());
    }
}
