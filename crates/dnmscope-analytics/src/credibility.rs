//! Review credibility: flags with their evidence, per vendor. A flag is a reason to look, not
//! a verdict.
//!
//! - `feedback_burst`: three days with at least 8 entries and at least four times the vendor's
//!   usual rate (its entries outside the window spread over its other days);
//! - `short_generic_texts`: in such a burst, most entries are three words or fewer;
//! - `near_duplicate_texts`: in such a burst, most entries repeat a text of the same burst;
//! - `short_text_burst`: a burst of entries of three words or fewer against the vendor's usual
//!   rate of such entries (a busy vendor's overall rate can hide a campaign);
//! - `suspected_campaign`: a burst whose entries are mostly short or repeated, or a burst of
//!   short entries: the pattern of bought reviews.
//!
//! Reviews from new buyer accounts are a known signal too, but dnmscope stores nothing about
//! buyers (not even their order counts), so it is not computed.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use crate::data::{normalise, Dataset};
use crate::indicators::{int, text};
use crate::table::{Cell, Column, ColumnType as T, Table};

const WINDOW_DAYS: i64 = 3;
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
            });
    }
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
    }
    flags
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
         generic texts and near-duplicate texts in a burst, and suspected review campaigns. \
         Reviews from new buyer accounts are not assessed: dnmscope stores nothing about buyers.",
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new("vendor", T::Text, "vendor handle"),
            Column::new(
                "flag",
                T::Text,
                "feedback_burst, short_generic_texts, near_duplicate_texts, short_text_burst or suspected_campaign",
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
