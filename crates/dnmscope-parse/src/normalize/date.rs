//! Dates as markets show them: absolute ("2019-03-02", "Mar 2, 2019", "02 March 2019 14:33")
//! and relative to the capture ("3 days ago", "an hour ago", "yesterday").

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use super::{collapse_whitespace, Unreadable};

/// A date read from a page: the day it names, and whether the text was relative to the capture
/// time (so only approximately that day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDate {
    pub date: NaiveDate,
    pub relative: bool,
}

const DATE_TIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%d %b %Y %H:%M",
    "%d %B %Y %H:%M",
    "%b %d, %Y %H:%M",
    "%B %d, %Y %H:%M",
    "%b %d %Y %H:%M",
];

const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%d %b, %Y",
    "%d-%b-%Y",
    "%d.%m.%Y",
];

/// Reads a date; relative texts count back from `captured_at`.
pub fn parse_date(text: &str, captured_at: DateTime<Utc>) -> Result<ParsedDate, Unreadable> {
    let unreadable = |reason: &str| Unreadable::new("date", text, reason);
    let cleaned = collapse_whitespace(text);
    let cleaned = cleaned.trim_end_matches(" UTC").trim();
    if cleaned.is_empty() {
        return Err(unreadable("it is empty"));
    }
    let absolute = |date| ParsedDate {
        date,
        relative: false,
    };
    for format in DATE_TIME_FORMATS {
        if let Ok(moment) = NaiveDateTime::parse_from_str(cleaned, format) {
            return Ok(absolute(moment.date()));
        }
    }
    // Ordinals: "2nd March 2019", "March 2nd, 2019".
    let without_ordinals = strip_ordinals(cleaned);
    for format in DATE_FORMATS {
        if let Ok(date) = NaiveDate::parse_from_str(&without_ordinals, format) {
            return Ok(absolute(date));
        }
    }
    let ago = relative(&cleaned.to_lowercase())
        .ok_or_else(|| unreadable("not a date format dnmscope knows"))?;
    Ok(ParsedDate {
        date: (captured_at - ago).date_naive(),
        relative: true,
    })
}

fn strip_ordinals(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let trimmed = word.trim_end_matches(',');
            let digits = trimmed.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let suffix = &trimmed[digits.len()..];
            if !digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit())
                && ["st", "nd", "rd", "th"].contains(&suffix)
            {
                word.replacen(suffix, "", 1)
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long ago a relative text says: "3 days ago", "an hour ago", "yesterday", "just now".
fn relative(text: &str) -> Option<Duration> {
    match text {
        "just now" | "now" | "today" | "moments ago" | "a moment ago" => {
            return Some(Duration::zero())
        }
        "yesterday" => return Some(Duration::days(1)),
        _ => {}
    }
    let text = text.strip_suffix(" ago")?.trim();
    let mut words = text.split_whitespace();
    let count = match words.next()? {
        "a" | "an" | "one" => 1,
        number => number.parse::<i64>().ok()?,
    };
    let unit = words.next()?.trim_end_matches('s');
    if words.next().is_some() {
        return None;
    }
    Some(match unit {
        "second" | "sec" => Duration::seconds(count),
        "minute" | "min" => Duration::minutes(count),
        "hour" | "hr" | "h" => Duration::hours(count),
        "day" | "d" => Duration::days(count),
        "week" | "wk" | "w" => Duration::weeks(count),
        "month" | "mo" => Duration::days(30 * count),
        "year" | "yr" | "y" => Duration::days(365 * count),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn check(text: &str, expected: &str, relative: bool) {
        let captured = Utc.with_ymd_and_hms(2019, 3, 10, 12, 0, 0).unwrap();
        let parsed = parse_date(text, captured).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.date.to_string(), expected, "{text}");
        assert_eq!(parsed.relative, relative, "{text}");
    }

    #[test]
    fn absolute_and_relative_dates() {
        check("2019-03-02", "2019-03-02", false);
        check("2019-03-02 14:33", "2019-03-02", false);
        check("Mar 2, 2019", "2019-03-02", false);
        check("02 March 2019", "2019-03-02", false);
        check("2nd March 2019", "2019-03-02", false);
        check("March 2nd, 2019", "2019-03-02", false);
        check("02.03.2019", "2019-03-02", false);
        check("3 days ago", "2019-03-07", true);
        check("an hour ago", "2019-03-10", true);
        check("13 hours ago", "2019-03-09", true);
        check("2 weeks ago", "2019-02-24", true);
        check("1 month ago", "2019-02-08", true);
        check("yesterday", "2019-03-09", true);
        check("just now", "2019-03-10", true);
    }

    #[test]
    fn unreadable_dates() {
        let captured = Utc.with_ymd_and_hms(2019, 3, 10, 12, 0, 0).unwrap();
        for text in ["", "soon", "3 fortnights ago", "2019-13-45", "ago"] {
            assert!(parse_date(text, captured).is_err(), "{text}");
        }
    }
}
