//! Dates as markets show them: absolute ("2019-03-02", "Mar 2, 2019", "02 March 2019 14:33")
//! and relative to the capture ("3 days ago", "an hour ago", "yesterday", and the compact forms
//! real markets print: Dream's "10d", "1d 4h" and a bare "22:58" for today; German and French
//! relative forms). A relative date also says how uncertain it is ([`ParsedDate::within_days`]),
//! which feedback content keys use to recognise the same review in a later crawl.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use super::{collapse_whitespace, Unreadable};

/// A date read from a page: the day it names, and whether the text was relative to the capture
/// time (so only approximately that day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDate {
    pub date: NaiveDate,
    pub relative: bool,
    /// How many days either side of `date` the true day may lie: 0 for an absolute date; for a
    /// relative one the resolution it was printed with ("10d": up to a day; "3w": up to a week),
    /// and at least one day (the market's clock need not be UTC, and the capture time is when
    /// the page arrived, not when it was rendered).
    pub within_days: u32,
}

/// Days of uncertainty of an age printed at `resolution`: a later crawl's reading of the same
/// age differs from this one by less than the resolution.
fn within_days(resolution: Duration) -> u32 {
    let days = (resolution.num_seconds() + 86_399) / 86_400;
    u32::try_from(days.max(1)).unwrap_or(u32::MAX)
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
        within_days: 0,
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
    if let Some(parsed) = clock_time(cleaned, captured_at) {
        return Ok(parsed);
    }
    let age = relative(&cleaned.to_lowercase())
        .ok_or_else(|| unreadable("not a date format dnmscope knows"))?;
    let date = captured_at
        .checked_sub_signed(age.ago)
        .ok_or_else(|| unreadable("the age reaches before any date"))?
        .date_naive();
    Ok(ParsedDate {
        date,
        relative: true,
        within_days: within_days(age.resolution),
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

/// How long ago a relative text says, and the resolution it says it with (a market that prints
/// "10d" means at least ten days and less than eleven).
struct Age {
    ago: Duration,
    resolution: Duration,
}

/// The unit words of relative dates, in English, German and French, with their length.
fn unit(word: &str) -> Option<Duration> {
    let word = word.trim_end_matches('.');
    Some(match word {
        "s" | "sec" | "secs" | "second" | "seconds" | "sekunde" | "sekunden" | "seconde"
        | "secondes" => Duration::seconds(1),
        "m" | "min" | "mins" | "minute" | "minutes" | "minuten" => Duration::minutes(1),
        "h" | "hr" | "hrs" | "hour" | "hours" | "stunde" | "stunden" | "std" | "heure"
        | "heures" => Duration::hours(1),
        "d" | "day" | "days" | "tag" | "tage" | "tagen" | "jour" | "jours" | "j" => {
            Duration::days(1)
        }
        "w" | "wk" | "wks" | "week" | "weeks" | "woche" | "wochen" | "semaine" | "semaines" => {
            Duration::weeks(1)
        }
        "mo" | "mon" | "month" | "months" | "monat" | "monate" | "monaten" | "mois" => {
            Duration::days(30)
        }
        "y" | "yr" | "yrs" | "year" | "years" | "jahr" | "jahre" | "jahren" | "an" | "ans"
        | "année" | "années" => Duration::days(365),
        _ => return None,
    })
}

/// A count word: a number, or "a", "an", "one" and their German and French forms.
fn count(word: &str) -> Option<i64> {
    match word {
        "a" | "an" | "one" | "ein" | "eine" | "einem" | "einer" | "un" | "une" => Some(1),
        number => number.parse::<i64>().ok().filter(|n| *n < 100_000),
    }
}

/// "3 days ago", "an hour ago", "yesterday", "just now", and the compact forms real markets print
/// ("10d", "1d 4h", "3w", "2 months"); German ("vor 3 Tagen", "gestern") and French
/// ("il y a 3 jours", "hier").
fn relative(text: &str) -> Option<Age> {
    let day = Duration::days(1);
    let word = |ago: Duration, resolution: Duration| Some(Age { ago, resolution });
    match text {
        "just now" | "now" | "moments ago" | "a moment ago" | "gerade eben" | "soeben"
        | "jetzt" | "à l'instant" | "a l'instant" | "maintenant" => {
            return word(Duration::zero(), Duration::minutes(1))
        }
        "today" | "heute" | "aujourd'hui" | "aujourd’hui" => return word(Duration::zero(), day),
        "yesterday" | "gestern" | "hier" => return word(day, day),
        _ => {}
    }
    let text = text
        .strip_suffix(" ago")
        .or_else(|| text.strip_prefix("vor "))
        .or_else(|| text.strip_prefix("il y a "))
        .unwrap_or(text)
        .trim();
    // Split "10d4h" and "1d 4h" alike into number and unit tokens.
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut digits = false;
    for c in text.chars() {
        if c.is_whitespace() || c == ',' {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            continue;
        }
        let is_digit = c.is_ascii_digit();
        if !current.is_empty() && is_digit != digits {
            tokens.push(std::mem::take(&mut current));
        }
        digits = is_digit;
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    if tokens.is_empty() || tokens.len() % 2 != 0 {
        return None;
    }
    let mut ago = Duration::zero();
    let mut resolution: Option<Duration> = None;
    for pair in tokens.chunks(2) {
        let n = count(&pair[0])?;
        let length = unit(&pair[1])?;
        // Largest unit first, each once: "1d 4h", never "4h 1d".
        if resolution.is_some_and(|r| length >= r) {
            return None;
        }
        ago += length * i32::try_from(n).ok()?;
        resolution = Some(length);
    }
    word(ago, resolution?)
}

/// A bare clock time ("22:58", "09:14:03"): today at that time, or yesterday when it is later
/// than the capture (a market printing today's reviews by their time alone).
fn clock_time(text: &str, captured_at: DateTime<Utc>) -> Option<ParsedDate> {
    let time = chrono::NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| chrono::NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .ok()?;
    let today = captured_at.date_naive();
    let date = if time > captured_at.time() {
        today.pred_opt()?
    } else {
        today
    };
    // The market's clock may not be UTC: a day either side.
    Some(ParsedDate {
        date,
        relative: true,
        within_days: 1,
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
        // What real markets print (Dream's review ages), resolved against 2019-03-10 12:00.
        check("10d", "2019-02-28", true);
        check("1d 4h", "2019-03-09", true);
        check("2d 14h", "2019-03-07", true);
        check("11:58", "2019-03-10", true);
        check("22:58", "2019-03-09", true);
        check("3w", "2019-02-17", true);
        check("2 months", "2019-01-09", true);
        check("5 hours ago", "2019-03-10", true);
        check("vor 3 Tagen", "2019-03-07", true);
        check("vor einer Stunde", "2019-03-10", true);
        check("gestern", "2019-03-09", true);
        check("il y a 3 jours", "2019-03-07", true);
        check("il y a une semaine", "2019-03-03", true);
        check("hier", "2019-03-09", true);
    }

    #[test]
    fn relative_dates_say_how_uncertain_they_are() {
        let captured = Utc.with_ymd_and_hms(2019, 3, 10, 12, 0, 0).unwrap();
        let within = |text: &str| parse_date(text, captured).unwrap().within_days;
        assert_eq!(within("2019-03-02"), 0);
        assert_eq!(within("1d 4h"), 1);
        assert_eq!(within("10d"), 1);
        assert_eq!(within("3w"), 7);
        assert_eq!(within("2 months"), 30);
        assert_eq!(within("22:58"), 1);
    }

    #[test]
    fn unreadable_dates() {
        let captured = Utc.with_ymd_and_hms(2019, 3, 10, 12, 0, 0).unwrap();
        for text in [
            "",
            "soon",
            "3 fortnights ago",
            "2019-13-45",
            "ago",
            "4h 1d",
            "10",
            "d",
            "25:61",
            "99999999999d",
        ] {
            assert!(parse_date(text, captured).is_err(), "{text}");
        }
    }
}
