//! Harm-reduction discussion: forum posts tagged by topic with keyword rules, counted over time
//! per market and substance.
//!
//! A post may carry several topics. Its substance is the first substance word it names (the
//! markets' own category names plus a built-in list of common names); its date is when it was
//! first seen (a post older than the first crawl counts on that crawl's date).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use dnmscope_store::Period;

use crate::data::{normalise, Dataset};
use crate::indicators::{int, text};
use crate::table::{Cell, Column, ColumnType as T, Table};

/// The topics and the words or phrases (normalised: lower case, single spaces) that mark them.
pub const TOPICS: &[(&str, &[&str])] = &[
    (
        "dosing",
        &[
            "dose",
            "doses",
            "dosing",
            "redose",
            "redosing",
            "start low",
            "go slow",
            "milligram scale",
            "microdose",
            "threshold dose",
        ],
    ),
    (
        "reagent_testing",
        &[
            "reagent",
            "reagents",
            "marquis",
            "mecke",
            "mandelin",
            "simon s",
            "ehrlich",
            "drug checking",
            "lab tested",
            "test kit",
            "purity",
        ],
    ),
    (
        "adulterants",
        &[
            "fentanyl",
            "adulterant",
            "adulterants",
            "adulterated",
            "levamisole",
            "xylazine",
            "nitazene",
            "test strip",
            "test strips",
            "cut with",
            "laced",
        ],
    ),
    (
        "overdose_naloxone",
        &[
            "overdose",
            "overdosed",
            "naloxone",
            "narcan",
            "recovery position",
            "unresponsive",
            "never use alone",
            "slow breathing",
        ],
    ),
    (
        "scam_warning",
        &[
            "scam",
            "scammer",
            "scammed",
            "phishing",
            "exit scam",
            "not shipping",
            "finalize early",
            "fake mirror",
            "fake mirrors",
            "lost my coins",
            "impersonator",
            "impersonators",
        ],
    ),
];

const SUBSTANCES: &[&str] = &[
    "cannabis",
    "weed",
    "hash",
    "hashish",
    "cocaine",
    "crack",
    "heroin",
    "fentanyl",
    "oxycodone",
    "mdma",
    "ecstasy",
    "molly",
    "lsd",
    "psilocybin",
    "mushrooms",
    "dmt",
    "ketamine",
    "amphetamine",
    "speed",
    "methamphetamine",
    "meth",
    "xanax",
    "alprazolam",
    "diazepam",
    "valium",
    "benzos",
    "tramadol",
    "codeine",
    "morphine",
    "methadone",
    "ghb",
    "2c b",
    "mescaline",
];

/// The topics a text is about.
pub fn topics_of(text: &str) -> Vec<&'static str> {
    let padded = format!(" {} ", normalise(text));
    TOPICS
        .iter()
        .filter(|(_, words)| words.iter().any(|w| padded.contains(&format!(" {w} "))))
        .map(|(topic, _)| *topic)
        .collect()
}

/// `harm_reduction`: tagged posts per market, period, topic and substance.
pub fn harm_reduction_table(data: &Dataset, period: Period) -> Table {
    let mut substances: BTreeSet<String> = SUBSTANCES.iter().map(|s| s.to_string()).collect();
    for last in &data.listings.substances {
        let name = normalise(last);
        if name.len() >= 3 {
            substances.insert(name);
        }
    }
    let mut counts: BTreeMap<(String, NaiveDate, &str, String), usize> = BTreeMap::new();
    for post in &data.posts {
        let whole = format!(
            "{} {}",
            post.thread_title.as_deref().unwrap_or(""),
            post.text
        );
        let topics = topics_of(&post.text);
        if topics.is_empty() {
            continue;
        }
        let padded = format!(" {} ", normalise(&whole));
        let substance = substances
            .iter()
            .filter_map(|s| padded.find(&format!(" {s} ")).map(|at| (at, s)))
            .min()
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let p = period.start_of(post.first_seen_at.date_naive());
        for topic in topics {
            *counts
                .entry((post.market.clone(), p, topic, substance.clone()))
                .or_default() += 1;
        }
    }
    let mut table = Table::new(
        "harm_reduction",
        format!(
            "Forum posts per market, {}, harm-reduction topic and substance, tagged by keyword \
             rules (a post may count under several topics); dated when first seen.",
            period.as_str()
        ),
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new(
                "period_start",
                T::Date,
                "first day of the period the posts were first seen in",
            ),
            Column::new(
                "topic",
                T::Text,
                "dosing, reagent_testing, adulterants, overdose_naloxone or scam_warning",
            ),
            Column::new(
                "substance",
                T::Text,
                "the first substance named in the post or its thread's title, or empty",
            ),
            Column::new("posts", T::Integer, "posts"),
        ],
    );
    for ((market, p, topic, substance), n) in counts {
        table.push(vec![
            text(market),
            Cell::Date(p),
            text(topic),
            text(substance),
            int(n as i64),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_are_tagged_by_their_words() {
        assert_eq!(
            topics_of("Fentanyl test strip came back positive on a batch"),
            vec!["adulterants"]
        );
        assert_eq!(
            topics_of("Give naloxone (Narcan) and call for help"),
            vec!["overdose_naloxone"]
        );
        assert_eq!(topics_of("Marquis turned purple"), vec!["reagent_testing"]);
        assert_eq!(
            topics_of("Start low, go slow with the first dose"),
            vec!["dosing"]
        );
        assert_eq!(
            topics_of("SCAM: never finalize early"),
            vec!["scam_warning"]
        );
        assert!(topics_of("Anyone noticed prices rising this month?").is_empty());
    }
}
