//! Countries as markets write them ("USA", "Holland", "World Wide", "Antarctica(c)") to ISO
//! 3166-1 codes or region words.

use dnmscope_model::{Country, Region};

use super::{collapse_whitespace, Unreadable};

/// Names and abbreviations ISO's short names do not cover, lower case.
const ALIASES: &[(&str, &str)] = &[
    ("usa", "US"),
    ("u.s.a.", "US"),
    ("u.s.", "US"),
    ("united states", "US"),
    ("united states of america", "US"),
    ("america", "US"),
    ("uk", "GB"),
    ("u.k.", "GB"),
    ("great britain", "GB"),
    ("britain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("northern ireland", "GB"),
    ("holland", "NL"),
    ("the netherlands", "NL"),
    ("deutschland", "DE"),
    ("czech republic", "CZ"),
    ("russia", "RU"),
    ("south korea", "KR"),
    ("korea", "KR"),
    ("north korea", "KP"),
    ("vietnam", "VN"),
    ("iran", "IR"),
    ("syria", "SY"),
    ("laos", "LA"),
    ("bolivia", "BO"),
    ("venezuela", "VE"),
    ("tanzania", "TZ"),
    ("moldova", "MD"),
    ("taiwan", "TW"),
    ("macau", "MO"),
    ("ivory coast", "CI"),
    ("turkey", "TR"),
    ("swaziland", "SZ"),
    ("macedonia", "MK"),
    ("burma", "MM"),
    ("vatican", "VA"),
    ("worldwide", "WW"),
    ("world wide", "WW"),
    ("world", "WW"),
    ("everywhere", "WW"),
    ("international", "WW"),
    ("internationally", "WW"),
    ("all countries", "WW"),
    ("eu", "EU"),
    ("european union", "EU"),
    ("europe", "EUROPE"),
    ("north america", "NORTH_AMERICA"),
    ("south america", "SOUTH_AMERICA"),
    ("latin america", "SOUTH_AMERICA"),
    ("asia", "ASIA"),
    ("africa", "AFRICA"),
    ("oceania", "OCEANIA"),
    ("undeclared", "UNDECLARED"),
    ("not specified", "UNDECLARED"),
    ("unspecified", "UNDECLARED"),
    ("unknown", "UNDECLARED"),
];

/// Reads a country or region: an ISO code, ISO's English name, or a common alias. Decorations
/// markets add ("Antarctica(c)", "Germany ✈") are dropped.
pub fn parse_country(text: &str) -> Result<Country, Unreadable> {
    let unreadable = |reason: &str| Unreadable::new("country", text, reason);
    let without_notes = text.split('(').next().unwrap_or(text);
    let cleaned: String = without_notes
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace() || matches!(c, '.' | '-' | '\''))
        .collect();
    let cleaned = collapse_whitespace(&cleaned);
    if cleaned.is_empty() {
        return Err(unreadable("it is empty"));
    }
    let lower = cleaned.to_lowercase();
    if let Some((_, code)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        return Country::from_code(code).map_err(|e| unreadable(&e.to_string()));
    }
    if let Some(country) = Country::from_english_name(&cleaned) {
        return Ok(country);
    }
    if cleaned.len() == 2 && cleaned.chars().all(|c| c.is_ascii_uppercase()) {
        if let Ok(country) = Country::from_code(&cleaned) {
            return Ok(country);
        }
    }
    if cleaned.eq_ignore_ascii_case(Region::Worldwide.name()) {
        return Ok(Country::Region(Region::Worldwide));
    }
    Err(unreadable("not a country, region or known alias"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_codes_and_regions() {
        for (text, code) in [
            ("United States", "US"),
            ("USA", "US"),
            ("Holland", "NL"),
            ("Netherlands", "NL"),
            ("World Wide", "WW"),
            ("Worldwide", "WW"),
            ("Antarctica(c)", "AQ"),
            ("Latvia", "LV"),
            ("  germany ", "DE"),
            ("UK", "GB"),
            ("DE", "DE"),
            ("EU", "EU"),
            ("Europe", "EUROPE"),
            ("Undeclared", "UNDECLARED"),
            ("Russia", "RU"),
            ("Czech Republic", "CZ"),
            ("Asia", "ASIA"),
        ] {
            let country = parse_country(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(country.code(), code, "{text}");
        }
    }

    #[test]
    fn unknown_places_are_unreadable() {
        for text in ["", "Narnia", "XX", "()"] {
            let err = parse_country(text).unwrap_err();
            assert_eq!(err.what, "country");
        }
    }
}
