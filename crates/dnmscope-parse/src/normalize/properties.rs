//! Property tests of the normalisers: over generated texts, the output is exactly right or a
//! refusal, never a third thing.
//!
//! Each property builds texts whose meaning the generator knows (an amount in one of the ways
//! markets write it, a count, an age), then damages some of them in ways that make them mean
//! something else or nothing (a unit stuck to the number, a second number, a stray word, letters
//! inside the number). A well-formed text must be read exactly; a damaged one must be refused,
//! or read as what the damaged text itself says (checked from the text, not from the
//! normaliser). Cases come from a fixed seed, so a failure names a reproducible text; set
//! `DNMSCOPE_PROPERTY_CASES` for a longer run.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::{parse_date, parse_money, parse_quantity};

fn cases() -> usize {
    std::env::var("DNMSCOPE_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

fn rng(property: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(0xd0_5c09e ^ property)
}

/// Each of `texts` (damaged: none says one value) must be refused, never read.
fn refused<T: std::fmt::Debug, E>(
    case: usize,
    texts: &[String],
    read: impl Fn(&str) -> Result<T, E>,
) {
    for text in texts {
        if let Ok(value) = read(text) {
            panic!("case {case}: {text:?} was read as {value:?} (a guess)");
        }
    }
}

/// An amount with `scale` decimals, written with `.` as the decimal mark and, when `grouped`,
/// `,` between thousands (or the European way round when `european`).
fn write_amount(units: u64, cents: u64, scale: u32, grouped: bool, european: bool) -> String {
    let mut int = units.to_string();
    if grouped {
        let digits: Vec<char> = int.chars().collect();
        let mut out = String::new();
        for (i, c) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(if european { '.' } else { ',' });
            }
            out.push(*c);
        }
        int = out;
    }
    if scale == 0 {
        return int;
    }
    let mark = if european { ',' } else { '.' };
    format!("{int}{mark}{cents:0width$}", width = scale as usize)
}

/// A random word of letters that is no currency, unit or marker of any language dnmscope reads.
fn junk_word(rng: &mut ChaCha8Rng) -> String {
    let len = rng.gen_range(4..8);
    (0..len)
        .map(|_| *b"bcdfhjkqvwxz".choose(rng).expect("letters") as char)
        .collect()
}

#[test]
fn money_is_read_exactly_or_refused() {
    let mut rng = rng(1);
    // (how it is written before or after the number, the currency it names)
    let markers: &[(&str, &str, bool)] = &[
        ("$", "USD", true),
        ("USD", "USD", false),
        ("usd", "USD", false),
        ("€", "EUR", true),
        ("EUR", "EUR", false),
        ("£", "GBP", true),
        ("฿", "BTC", true),
        ("BTC", "BTC", false),
        ("XMR", "XMR", false),
        ("LTC", "LTC", false),
        ("CHF", "CHF", false),
    ];
    for case in 0..cases() {
        let (marker, code, symbol) = *markers.choose(&mut rng).expect("markers");
        let crypto = code == "BTC" || code == "XMR" || code == "LTC";
        let scale = if crypto {
            rng.gen_range(0..=8)
        } else {
            *[0u32, 2].choose(&mut rng).expect("scales")
        };
        let units: u64 = if rng.gen_bool(0.3) {
            rng.gen_range(1_000..5_000_000)
        } else {
            rng.gen_range(0..1_000)
        };
        let cents: u64 = if scale == 0 {
            0
        } else {
            rng.gen_range(0..10u64.pow(scale))
        };
        if units == 0 && cents == 0 {
            continue;
        }
        // Grouped thousands only with decimals: "1,234" alone is ambiguous, and a reader that
        // took it either way would be guessing.
        let grouped = units >= 1_000 && scale > 0 && rng.gen_bool(0.5);
        let european = rng.gen_bool(0.3) && (grouped || scale > 0) && scale != 3;
        let number = write_amount(units, cents, scale, grouped, european);
        let space = if rng.gen_bool(0.5) { " " } else { "" };
        let text = if symbol && rng.gen_bool(0.7) || !symbol && rng.gen_bool(0.4) {
            format!("{marker}{space}{number}")
        } else {
            format!("{number}{space}{marker}")
        };
        let expected = Decimal::from_i128_with_scale(
            i128::from(units) * 10i128.pow(scale) + i128::from(cents),
            scale,
        );
        match parse_money(&text) {
            Ok(money) => {
                assert_eq!(
                    (money.amount, money.currency.as_str()),
                    (expected, code),
                    "case {case}: {text:?}"
                );
            }
            Err(e) => panic!("case {case}: {text:?} is well formed but was refused: {e}"),
        }

        // Damaged: each must be refused (none of them says a plain amount of one currency).
        let unit = ["g", "gram", "112g", "pill"]
            .choose(&mut rng)
            .expect("units");
        let damaged = [
            format!("{text}/{unit}"),
            format!("{text} per {unit}"),
            format!("{text} {}", junk_word(&mut rng)),
            format!("{} {text}", junk_word(&mut rng)),
            // A second number (of one or two digits: three would be a valid thousands group,
            // "CHF 197 929").
            format!("{text} {}", rng.gen_range(1..99)),
            number.to_string(),
            format!("-{text}"),
            format!("{number} {}", junk_word(&mut rng).to_uppercase()),
        ];
        refused(case, &damaged, parse_money);
    }
}

#[test]
fn money_with_letters_inside_the_number_is_never_misread() {
    let mut rng = rng(2);
    for case in 0..cases() {
        let units: u64 = rng.gen_range(1..100_000);
        let text = format!("{units} USD");
        // A letter put inside the number splits it; the text no longer holds one amount.
        let digits = units.to_string();
        if digits.len() < 2 {
            continue;
        }
        let at = rng.gen_range(1..digits.len());
        let letter = *b"abkmxz".choose(&mut rng).expect("letters") as char;
        let bad = format!("{}{letter}{} USD", &digits[..at], &digits[at..]);
        match parse_money(&bad) {
            Err(_) => {}
            Ok(money) => panic!("case {case}: {bad:?} (from {text:?}) was read as {money:?}"),
        }
    }
}

#[test]
fn quantities_are_read_exactly_or_refused() {
    let mut rng = rng(3);
    let units: &[(&str, &str)] = &[
        ("g", "g"),
        ("gram", "g"),
        ("grams", "g"),
        ("mg", "mg"),
        ("kg", "kg"),
        ("oz", "oz"),
        ("ml", "ml"),
        ("ug", "ug"),
    ];
    for case in 0..cases() {
        let (spelling, unit) = *units.choose(&mut rng).expect("units");
        let whole: u64 = rng.gen_range(0..1_000);
        let tenths: u64 = rng.gen_range(0..10);
        let decimal = rng.gen_bool(0.5);
        if whole == 0 && (!decimal || tenths == 0) {
            continue;
        }
        let mark = if rng.gen_bool(0.3) { ',' } else { '.' };
        let number = if decimal {
            format!("{whole}{mark}{tenths}")
        } else {
            whole.to_string()
        };
        let space = if rng.gen_bool(0.5) { " " } else { "" };
        let text = format!("{number}{space}{spelling}");
        let expected = if decimal {
            Decimal::new((whole * 10 + tenths) as i64, 1)
        } else {
            Decimal::from(whole)
        };
        let quantity = parse_quantity(&text)
            .unwrap_or_else(|e| panic!("case {case}: {text:?} was refused: {e}"));
        assert_eq!(
            (quantity.count, quantity.amount, quantity.unit.as_str()),
            (1, expected, unit),
            "case {case}: {text:?}"
        );

        // Pieces: whole counts are read; a fraction of a pill is not a count.
        let pills: u64 = rng.gen_range(1..500);
        let text = format!("{pills} pills");
        let quantity = parse_quantity(&text).expect("a count of pills");
        assert_eq!(
            (quantity.count, quantity.unit.as_str()),
            (pills as u32, "piece")
        );
        refused(case, &[format!("{pills}.5 pills")], parse_quantity);

        // Damaged: a stray word, an unknown unit, two quantities.
        let damaged = [
            format!("{number} {}", junk_word(&mut rng)),
            format!("{number}{space}{spelling} {}", junk_word(&mut rng)),
            format!("{number}{space}{spelling} {number}{space}{spelling}"),
        ];
        refused(case, &damaged, parse_quantity);
    }
}

#[test]
fn ages_count_back_from_the_capture_exactly_or_are_refused() {
    let mut rng = rng(4);
    let base: DateTime<Utc> = Utc.with_ymd_and_hms(2019, 3, 14, 12, 0, 0).unwrap();
    for case in 0..cases() {
        let captured = base + Duration::minutes(rng.gen_range(0..60 * 24 * 400));
        let days: i64 = rng.gen_range(0..400);
        let hours: i64 = rng.gen_range(0..24);
        // The forms markets print, with the age they mean.
        let (text, age) = match rng.gen_range(0..8) {
            0 => (format!("{days}d"), Duration::days(days)),
            1 => (
                format!("{days}d {hours}h"),
                Duration::days(days) + Duration::hours(hours),
            ),
            2 => (format!("{hours}h"), Duration::hours(hours)),
            3 => (
                format!("{days} day{} ago", if days == 1 { "" } else { "s" }),
                Duration::days(days),
            ),
            4 => (
                format!("{hours} hour{} ago", if hours == 1 { "" } else { "s" }),
                Duration::hours(hours),
            ),
            5 => (
                format!("vor {days} Tag{}", if days == 1 { "" } else { "en" }),
                Duration::days(days),
            ),
            6 => (
                format!("il y a {days} jour{}", if days == 1 { "" } else { "s" }),
                Duration::days(days),
            ),
            _ => (
                format!("{} weeks ago", days / 7 + 2),
                Duration::weeks(days / 7 + 2),
            ),
        };
        let expected = (captured - age).date_naive();
        let parsed = parse_date(&text, captured)
            .unwrap_or_else(|e| panic!("case {case}: {text:?} was refused: {e}"));
        assert!(parsed.relative, "case {case}: {text:?}");
        assert_eq!(parsed.date, expected, "case {case}: {text:?} at {captured}");

        // A clock time is today when it is not later than the capture, else yesterday.
        let (h, m) = (rng.gen_range(0..24), rng.gen_range(0..60));
        let text = format!("{h:02}:{m:02}");
        let parsed = parse_date(&text, captured)
            .unwrap_or_else(|e| panic!("case {case}: {text:?} was refused: {e}"));
        let today = captured.date_naive();
        let at = today.and_hms_opt(h, m, 0).unwrap().and_utc();
        let expected = if at <= captured {
            today
        } else {
            today.pred_opt().unwrap()
        };
        assert_eq!(parsed.date, expected, "case {case}: {text:?} at {captured}");

        // Damaged: a stray word, an age in the future, a clock time that is no time.
        let damaged = [
            format!("{days}d {}", junk_word(&mut rng)),
            format!("in {days} days"),
            format!("{}:{m:02}", rng.gen_range(24..99)),
            format!("{h:02}:{}", rng.gen_range(60..99)),
            format!("{days}x"),
        ];
        refused(case, &damaged, |text| parse_date(text, captured));
    }
}
