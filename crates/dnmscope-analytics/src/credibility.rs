//! Review credibility: flags with their evidence, per vendor. A flag is a reason to look, not
//! a verdict.
//!
//! - `feedback_burst`: three days with at least 8 entries and at least four times the vendor's
//!   usual rate (its entries outside the window spread over its other days);
//! - `short_generic_texts`: in such a burst, most entries are three words or fewer;
//! - `near_duplicate_texts`: in such a burst, most entries repeat a text of the same burst;
//! - `short_text_burst`: a burst of entries of three words or fewer against the vendor's usual
//!   rate of such entries (a busy vendor's overall rate can hide a campaign);
//! - `rate_shift`: one to four weeks in which the vendor received far more entries than its own
//!   rate on its other days predicts (at least twice as many, at least 10 more, and a Poisson
//!   tail probability below one in a million): bought reviews spread over weeks and written
//!   like real ones, which neither text nor a three-day burst shows;
//! - `negative_shift`: the same test on the vendor's negative entries alone (negative, or a
//!   score in the bottom two fifths of its scale), against its own rate of them and against
//!   its share of negatives (or its market's, when larger) for the entries of the window: a
//!   wave of bad reviews a competitor bought, or a vendor that stopped shipping;
//! - `suspected_campaign`: a burst whose entries are mostly short or repeated, a burst of short
//!   entries, a rate shift or a negative shift: the patterns of bought reviews.
//!
//! Reviews from new buyer accounts are a known signal too, but dnmscope stores nothing about
//! buyers (not even their order counts), so it is not computed.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use crate::data::{normalise, Dataset};
use crate::indicators::{int, text};
use crate::table::{Cell, Column, ColumnType as T, Table};

const WINDOW_DAYS: i64 = 3;
/// Rate shifts are looked for in windows of these lengths (days)...
const SHIFT_WINDOWS: [i64; 4] = [7, 14, 21, 28];
/// ...with at least this many times the entries the vendor's rate elsewhere predicts,
const SHIFT_FACTOR: f64 = 2.0;
/// at least this many more,
const SHIFT_EXCESS: f64 = 10.0;
/// and a Poisson upper tail below this (a vendor of a year is tested about 1,400 times).
const SHIFT_P: f64 = 1e-6;
/// Shifts are looked for in at most this many days before the vendor's last entry: a page can
/// date an entry in year 1, and the tests allocate and scan a slot per day.
const SHIFT_HISTORY_DAYS: u64 = 3 * 366;

/// The first of `days` within the `SHIFT_HISTORY_DAYS` ending on `last` (and not before
/// `first`): an entry dated long before the others is left out rather than stretching the
/// history into years of empty days.
fn shift_start(days: &[NaiveDate], first: NaiveDate, last: NaiveDate) -> NaiveDate {
    let floor = first.max(last - chrono::Days::new(SHIFT_HISTORY_DAYS - 1));
    days.iter()
        .copied()
        .filter(|d| *d >= floor)
        .min()
        .unwrap_or(floor)
}
const MIN_BURST: usize = 8;
const BURST_FACTOR: f64 = 4.0;

/// One flag on one vendor.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub market: String,
    pub vendor_id: i64,
    pub vendor: String,
    pub flag: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub entries: usize,
    pub evidence: String,
}

struct Entry {
    day: NaiveDate,
    text: String,
    negative: bool,
}

/// Whether a stored rating (`positive`, `neutral`, `negative`, a score, `unknown`) is bad: a
/// score in the bottom two fifths of the scale it appears to be on (5, 10 or 100 points).
fn is_negative(rating: &str) -> bool {
    if rating == "negative" {
        return true;
    }
    match rating.parse::<f64>() {
        Ok(score) if score <= 5.0 => score <= 2.0,
        Ok(score) if score <= 10.0 => score <= 4.0,
        Ok(score) => score <= 40.0,
        Err(_) => false,
    }
}

/// Flags for every vendor with feedback.
pub fn review_flags(data: &Dataset) -> Vec<Flag> {
    let mut by_vendor: BTreeMap<(String, i64), (String, Vec<Entry>)> = BTreeMap::new();
    for f in &data.feedback {
        let Some(vendor_id) = f.vendor_id else {
            continue;
        };
        by_vendor
            .entry((f.market.clone(), vendor_id))
            .or_insert_with(|| (f.vendor.clone().unwrap_or_default(), Vec::new()))
            .1
            .push(Entry {
                day: Dataset::feedback_day(f),
                text: normalise(&f.text),
                negative: is_negative(&f.rating),
            });
    }
    // Each market's share of negative entries: the least a vendor's own share is taken to be.
    let mut market_negative: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for ((market, _), (_, entries)) in &by_vendor {
        let e = market_negative.entry(market.as_str()).or_default();
        e.0 += entries.iter().filter(|x| x.negative).count();
        e.1 += entries.len();
    }
    let market_negative: BTreeMap<String, f64> = market_negative
        .into_iter()
        .map(|(m, (neg, all))| (m.to_string(), neg as f64 / all.max(1) as f64))
        .collect();
    let mut flags = Vec::new();
    for ((market, vendor_id), (vendor, mut entries)) in by_vendor {
        entries.sort_by_key(|e| e.day);
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            continue;
        };
        let (first, last) = (first.day, last.day);
        let all_days: Vec<NaiveDate> = entries.iter().map(|e| e.day).collect();
        let mut campaign_windows: Vec<NaiveDate> = Vec::new();
        for (start, end, _count, usual) in bursts(&all_days, first, last) {
            let inside: Vec<&Entry> = entries
                .iter()
                .filter(|e| e.day >= start && e.day <= end)
                .collect();
            let short = inside
                .iter()
                .filter(|e| e.text.split(' ').filter(|w| !w.is_empty()).count() <= 3)
                .count();
            let mut texts: HashMap<&str, usize> = HashMap::new();
            for e in &inside {
                *texts.entry(e.text.as_str()).or_default() += 1;
            }
            let repeated = inside.iter().filter(|e| texts[e.text.as_str()] > 1).count();
            let n = inside.len();
            let mut push = |flag: &'static str, evidence: String| {
                flags.push(Flag {
                    market: market.clone(),
                    vendor_id,
                    vendor: vendor.clone(),
                    flag,
                    from: start,
                    to: end,
                    entries: n,
                    evidence,
                })
            };
            push(
                "feedback_burst",
                format!(
                    "{n} entries from {start} to {end}, against a usual {usual:.1} per {WINDOW_DAYS} days"
                ),
            );
            let short_share = short as f64 / n as f64;
            let repeated_share = repeated as f64 / n as f64;
            if short_share >= 0.5 {
                push(
                    "short_generic_texts",
                    format!("{short} of the {n} entries in the burst have three words or fewer"),
                );
            }
            if repeated_share >= 0.5 {
                push(
                    "near_duplicate_texts",
                    format!(
                        "{repeated} of the {n} entries in the burst repeat a text of the burst \
                         ({} distinct texts)",
                        texts.len()
                    ),
                );
            }
            if short_share >= 0.5 || repeated_share >= 0.5 {
                campaign_windows.push(start);
                push(
                    "suspected_campaign",
                    format!(
                        "a burst of {n} entries ({:.0} % short, {:.0} % repeated) from {start} to {end}",
                        100.0 * short_share,
                        100.0 * repeated_share
                    ),
                );
            }
        }
        // Short texts have a usual rate of their own: a burst of them is suspicious even when
        // a busy vendor's overall rate hides it.
        let is_short = |e: &Entry| e.text.split(' ').filter(|w| !w.is_empty()).count() <= 3;
        let short_days: Vec<NaiveDate> = entries
            .iter()
            .filter(|e| is_short(e))
            .map(|e| e.day)
            .collect();
        for (start, end, count, usual) in bursts(&short_days, first, last) {
            if campaign_windows
                .iter()
                .any(|w| (*w - start).num_days().abs() < WINDOW_DAYS)
            {
                continue;
            }
            let n = entries
                .iter()
                .filter(|e| e.day >= start && e.day <= end)
                .count();
            for (flag, evidence) in [
                (
                    "short_text_burst",
                    format!(
                        "{count} entries of three words or fewer from {start} to {end} (of {n} \
                         entries), against a usual {usual:.1} per {WINDOW_DAYS} days"
                    ),
                ),
                (
                    "suspected_campaign",
                    format!("a burst of {count} short entries from {start} to {end}"),
                ),
            ] {
                flags.push(Flag {
                    market: market.clone(),
                    vendor_id,
                    vendor: vendor.clone(),
                    flag,
                    from: start,
                    to: end,
                    entries: n,
                    evidence,
                });
            }
        }
        // Weeks of more entries than the vendor's own rate predicts, whatever their texts.
        let mut windows_so_far: Vec<(NaiveDate, NaiveDate)> = flags
            .iter()
            .filter(|f| {
                f.flag == "suspected_campaign" && f.market == market && f.vendor_id == vendor_id
            })
            .map(|f| (f.from, f.to))
            .collect();
        let negative_days: Vec<NaiveDate> = entries
            .iter()
            .filter(|e| e.negative)
            .map(|e| e.day)
            .collect();
        // The history the shift tests look at: from the first entry of the last three years.
        let first = shift_start(&all_days, first, last);
        let shifts = rate_shifts(&all_days, first, last)
            .into_iter()
            .map(|s| (false, s))
            .chain(
                negative_waves(
                    &all_days,
                    &negative_days,
                    first,
                    last,
                    market_negative.get(&market).copied().unwrap_or(0.0),
                )
                .into_iter()
                .chain(rate_shifts(&negative_days, first, last))
                .map(|s| (true, s)),
            );
        for (negative, shift) in shifts {
            if windows_so_far
                .iter()
                .any(|(from, to)| shift.start <= *to && *from <= shift.end)
            {
                continue;
            }
            windows_so_far.push((shift.start, shift.end));
            let days = (shift.end - shift.start).num_days() + 1;
            let what = if negative {
                "negative entries"
            } else {
                "entries"
            };
            for (flag, evidence) in [
                (
                    if negative {
                        "negative_shift"
                    } else {
                        "rate_shift"
                    },
                    format!(
                        "{} {what} in the {days} days from {} to {}, where the vendor's rate of \
                         them on its other days predicts {:.1} (Poisson tail probability {:.1e})",
                        shift.count, shift.start, shift.end, shift.expected, shift.p
                    ),
                ),
                (
                    "suspected_campaign",
                    format!(
                        "{:.1} times the vendor's usual number of {what} over {days} days from \
                         {} to {}",
                        shift.count as f64 / shift.expected.max(f64::MIN_POSITIVE),
                        shift.start,
                        shift.end
                    ),
                ),
            ] {
                flags.push(Flag {
                    market: market.clone(),
                    vendor_id,
                    vendor: vendor.clone(),
                    flag,
                    from: shift.start,
                    to: shift.end,
                    entries: shift.count,
                    evidence,
                });
            }
        }
    }
    flags
}

/// A window of more entries than the vendor's rate elsewhere predicts.
#[derive(Debug, Clone, PartialEq)]
struct Shift {
    start: NaiveDate,
    end: NaiveDate,
    count: usize,
    expected: f64,
    p: f64,
}

/// P(X >= k) for X ~ Poisson(lambda), summed in log space from k up.
fn poisson_tail(k: usize, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    let ln_factorial = |n: usize| (1..=n).map(|i| (i as f64).ln()).sum::<f64>();
    let mut log_term = -lambda + k as f64 * lambda.ln() - ln_factorial(k);
    let mut total = 0.0;
    let mut i = k;
    loop {
        let term = log_term.exp();
        total += term;
        i += 1;
        log_term += lambda.ln() - (i as f64).ln();
        if term < total * 1e-12 || i > k + 10_000 {
            break;
        }
    }
    total.min(1.0)
}

/// Windows of `SHIFT_WINDOWS` days among `days` (one per entry, sorted) between `first` and
/// `last` (at most `SHIFT_HISTORY_DAYS`; earlier entries are left out) with far more entries than the rate outside them predicts, most improbable first, not
/// overlapping. A window needs at least as many days outside it as inside.
fn rate_shifts(days: &[NaiveDate], first: NaiveDate, last: NaiveDate) -> Vec<Shift> {
    let first = first.max(last - chrono::Days::new(SHIFT_HISTORY_DAYS - 1));
    let span = (last - first).num_days() + 1;
    let Ok(len) = usize::try_from(span) else {
        return Vec::new();
    };
    // Entries per day and prefix sums.
    let mut per_day = vec![0usize; len];
    for day in days {
        if let Ok(i) = usize::try_from((*day - first).num_days()) {
            if i < len {
                per_day[i] += 1;
            }
        }
    }
    let mut prefix = vec![0usize; len + 1];
    for (i, n) in per_day.iter().enumerate() {
        prefix[i + 1] = prefix[i] + n;
    }
    let total = prefix[len];
    let mut candidates: Vec<Shift> = Vec::new();
    for w in SHIFT_WINDOWS {
        if span < 2 * w {
            continue;
        }
        let w_len = w as usize;
        for start in 0..=len - w_len {
            let count = prefix[start + w_len] - prefix[start];
            let usual = (total - count) as f64 / (span - w) as f64 * w as f64;
            let from = first + chrono::Days::new(start as u64);
            consider(&mut candidates, from, w_len, count, usual.max(0.5));
        }
    }
    most_improbable(candidates)
}

/// Keeps the window of `days` days from `from` with `count` entries where `expected` were
/// predicted when it passes the shift thresholds.
fn consider(
    candidates: &mut Vec<Shift>,
    from: NaiveDate,
    days: usize,
    count: usize,
    expected: f64,
) {
    if (count as f64) < SHIFT_FACTOR * expected || (count as f64) - expected < SHIFT_EXCESS {
        return;
    }
    let p = poisson_tail(count, expected);
    if p < SHIFT_P {
        candidates.push(Shift {
            start: from,
            end: from + chrono::Days::new(days as u64 - 1),
            count,
            expected,
            p,
        });
    }
}

/// The most improbable windows first, none overlapping another kept.
fn most_improbable(mut candidates: Vec<Shift>) -> Vec<Shift> {
    candidates.sort_by(|a, b| a.p.total_cmp(&b.p).then(a.start.cmp(&b.start)));
    let mut found: Vec<Shift> = Vec::new();
    for c in candidates {
        if found.iter().all(|f| c.end < f.start || f.end < c.start) {
            found.push(c);
        }
    }
    found
}

/// Windows of `SHIFT_WINDOWS` days whose negative entries far exceed what the vendor's share of
/// negatives predicts for the window's entries: that share is the vendor's own outside the
/// window or, when larger, its market's (so a young vendor with no history outside is judged
/// against its peers). Same thresholds as [`rate_shifts`]; most improbable first, not
/// overlapping.
fn negative_waves(
    days: &[NaiveDate],
    negative_days: &[NaiveDate],
    first: NaiveDate,
    last: NaiveDate,
    market_share: f64,
) -> Vec<Shift> {
    let first = first.max(last - chrono::Days::new(SHIFT_HISTORY_DAYS - 1));
    let span = (last - first).num_days() + 1;
    let Ok(len) = usize::try_from(span) else {
        return Vec::new();
    };
    let prefix = |days: &[NaiveDate]| {
        let mut per_day = vec![0usize; len + 1];
        for day in days {
            if let Ok(i) = usize::try_from((*day - first).num_days()) {
                if i < len {
                    per_day[i + 1] += 1;
                }
            }
        }
        for i in 1..=len {
            per_day[i] += per_day[i - 1];
        }
        per_day
    };
    let (all, bad) = (prefix(days), prefix(negative_days));
    let (total, total_bad) = (all[len], bad[len]);
    let mut candidates = Vec::new();
    for w in SHIFT_WINDOWS {
        let w_len = (w as usize).min(len);
        for start in 0..=len - w_len {
            let (m, k) = (
                all[start + w_len] - all[start],
                bad[start + w_len] - bad[start],
            );
            let own = (total_bad - k) as f64 / (total - m).max(1) as f64;
            let share = own.max(market_share);
            let from = first + chrono::Days::new(start as u64);
            consider(&mut candidates, from, w_len, k, (share * m as f64).max(0.5));
        }
    }
    most_improbable(candidates)
}

/// Dense windows of `WINDOW_DAYS` days among sorted `days` (one per entry) between `first` and
/// `last`: at least `MIN_BURST` entries and `BURST_FACTOR` times the usual rate outside the
/// window, densest first, not overlapping. Each is (start, end, entries, usual per window).
fn bursts(
    days: &[NaiveDate],
    first: NaiveDate,
    last: NaiveDate,
) -> Vec<(NaiveDate, NaiveDate, usize, f64)> {
    let span_days = (last - first).num_days() + 1;
    let mut per_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for day in days {
        *per_day.entry(*day).or_default() += 1;
    }
    let mut windows: Vec<(usize, NaiveDate)> = per_day
        .keys()
        .map(|&start| {
            let end = start + chrono::Days::new(WINDOW_DAYS as u64 - 1);
            (per_day.range(start..=end).map(|(_, n)| n).sum(), start)
        })
        .collect();
    windows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut found: Vec<(NaiveDate, NaiveDate, usize, f64)> = Vec::new();
    for (count, start) in windows {
        if count < MIN_BURST {
            break;
        }
        if found
            .iter()
            .any(|(t, _, _, _)| (*t - start).num_days().abs() < WINDOW_DAYS)
        {
            continue;
        }
        let end = start + chrono::Days::new(WINDOW_DAYS as u64 - 1);
        let other_days = (span_days - WINDOW_DAYS).max(1) as f64;
        let usual = (days.len() - count) as f64 / other_days * WINDOW_DAYS as f64;
        if (count as f64) < BURST_FACTOR * usual.max(1.0) {
            continue;
        }
        found.push((start, end, count, usual));
    }
    found
}

/// `review_flags`.
pub fn flags_table(flags: &[Flag]) -> Table {
    let mut table = Table::new(
        "review_flags",
        "Review credibility flags per vendor with their evidence: bursts of feedback, short \
         generic texts and near-duplicate texts in a burst, weeks of far more feedback (or far \
         more negative feedback) than the vendor's own rate predicts, and suspected review \
         campaigns. \
         Reviews from new buyer accounts are not assessed: dnmscope stores nothing about buyers.",
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new("vendor", T::Text, "vendor handle"),
            Column::new(
                "flag",
                T::Text,
                "feedback_burst, short_generic_texts, near_duplicate_texts, short_text_burst, rate_shift, negative_shift or suspected_campaign",
            ),
            Column::new("from", T::Date, "first day of the window"),
            Column::new("to", T::Date, "last day of the window"),
            Column::new("entries", T::Integer, "feedback entries in the window"),
            Column::new("evidence", T::Text, "the evidence in words"),
        ],
    );
    for f in flags {
        table.push(vec![
            text(&f.market),
            text(&f.vendor),
            text(f.flag),
            Cell::Date(f.from),
            Cell::Date(f.to),
            int(f.entries as i64),
            text(&f.evidence),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(n)
    }

    #[test]
    fn poisson_tail_matches_closed_forms() {
        // P(X >= 1) = 1 - e^-lambda.
        assert!((poisson_tail(1, 2.0) - (1.0 - (-2.0f64).exp())).abs() < 1e-12);
        // P(X >= 2) for lambda 1: 1 - 2/e.
        assert!((poisson_tail(2, 1.0) - (1.0 - 2.0 / std::f64::consts::E)).abs() < 1e-12);
        assert_eq!(poisson_tail(0, 3.0), 1.0);
        assert!(poisson_tail(40, 5.0) < 1e-15);
    }

    #[test]
    fn a_steady_rate_is_no_shift_and_two_added_weeks_are() {
        // One entry a day for 90 days (two on every fifth).
        let steady: Vec<NaiveDate> = (0..90)
            .flat_map(|d| std::iter::repeat_n(day(d), if d % 5 == 0 { 2 } else { 1 }))
            .collect();
        assert!(rate_shifts(&steady, day(0), day(89)).is_empty());
        // Plus 30 entries spread over days 40 to 53, two or three a day.
        let mut campaign = steady.clone();
        campaign.extend((0..30).map(|i| day(40 + i % 14)));
        campaign.sort();
        let shifts = rate_shifts(&campaign, day(0), day(89));
        assert_eq!(shifts.len(), 1, "{shifts:?}");
        let s = &shifts[0];
        assert!(s.start >= day(33) && s.end <= day(60), "{s:?}");
        assert!(s.count >= 30 && s.p < SHIFT_P, "{s:?}");
    }

    #[test]
    fn ratings_are_negative_in_the_bottom_two_fifths_of_their_scale() {
        for (rating, negative) in [
            ("negative", true),
            ("neutral", false),
            ("positive", false),
            ("unknown", false),
            ("1", true),
            ("2", true),
            ("3", false),
            ("4.5", false),
            ("7", false),
            ("3.5", false),
            ("35", true),
            ("98.5", false),
        ] {
            assert_eq!(is_negative(rating), negative, "{rating}");
        }
    }

    #[test]
    fn a_wave_of_negatives_stands_out_against_the_market_even_without_history() {
        // Ten days of three entries a day; twelve of days 2 to 6's fifteen are negative.
        let days: Vec<NaiveDate> = (0..10)
            .flat_map(|d| std::iter::repeat_n(day(d), 3))
            .collect();
        let bad: Vec<NaiveDate> = (2..6)
            .flat_map(|d| std::iter::repeat_n(day(d), 3))
            .collect();
        let waves = negative_waves(&days, &bad, day(0), day(9), 0.05);
        assert_eq!(waves.len(), 1, "{waves:?}");
        assert_eq!(waves[0].count, 12);
        // The same share of negatives spread evenly over a vendor's life is its normal.
        let even: Vec<NaiveDate> = (0..90).map(day).collect();
        let spread: Vec<NaiveDate> = (0..90).step_by(3).map(day).collect();
        assert!(negative_waves(&even, &spread, day(0), day(89), 0.05).is_empty());
    }

    #[test]
    fn an_entry_dated_in_year_one_does_not_stretch_the_history() {
        // One entry a day for 90 days, 30 more over days 40 to 53, and one a page dated in
        // year 1: the shift is found within the bounded history, without a slot per day since.
        let mut days: Vec<NaiveDate> = (0..90).map(day).collect();
        days.extend((0..30).map(|i| day(40 + i % 14)));
        let ancient = NaiveDate::from_ymd_opt(1, 1, 1).unwrap();
        days.push(ancient);
        days.sort();
        let first = shift_start(&days, ancient, day(89));
        assert_eq!(first, day(0));
        let shifts = rate_shifts(&days, first, day(89));
        assert_eq!(shifts.len(), 1, "{shifts:?}");
        let bad: Vec<NaiveDate> = vec![ancient];
        assert!(negative_waves(&days, &bad, first, day(89), 0.05).is_empty());
        // Given the ancient day itself, the tests still look at most three years back.
        assert!(rate_shifts(&days, ancient, day(89)).len() <= 3 * 366 / 7);
    }

    #[test]
    fn a_short_history_is_not_tested() {
        let days: Vec<NaiveDate> = (0..40).map(|i| day(i % 10)).collect();
        assert!(rate_shifts(&days, day(0), day(9)).is_empty());
    }
}
