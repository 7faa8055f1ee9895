//! Completeness accounting: what a run did per market, so a researcher knows how complete each
//! snapshot is. Saved with the run (`crawl_accounting`) and printed at the end.

use std::collections::BTreeMap;
use std::fmt::Write;

use dnmscope_model::PageKind;
use dnmscope_store::RunTally;
use serde::{Deserialize, Serialize};

/// One market's figures in one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MarketAccounting {
    /// Fetch attempts (each try counts).
    pub attempted: u64,
    /// Pages fetched and stored.
    pub fetched: u64,
    /// Failed attempts by reason.
    pub failed: BTreeMap<String, u64>,
    /// Pages parsed, by page kind.
    pub parsed: BTreeMap<String, u64>,
    /// Listings the run found links to (distinct URLs in its frontier), less links whose page
    /// had nothing to read (a delisted listing).
    pub listings_announced: u64,
    /// Listing pages fetched and parsed as listings.
    pub listings_fetched: u64,
    /// Pages given up on.
    pub given_up: u64,
    /// Pages the parser refused (past its limits) or crashed on: stored, given up, never parsed
    /// again on resume (counted in `given_up` too).
    #[serde(default)]
    pub refused: u64,
    /// Gates met: queue, ban, login pages.
    pub gates: BTreeMap<String, u64>,
    /// Whether the market stopped answering during the run.
    pub unreachable: bool,
    /// Whether the market showed a seizure banner.
    pub seized: bool,
    /// What a human must do for the crawl to go on (a login or captcha page): when it was seen
    /// and the instructions. Empty when nothing is needed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs_human: Vec<String>,
}

impl MarketAccounting {
    /// Share of attempts that returned a page.
    pub fn availability(&self) -> f64 {
        if self.attempted == 0 {
            return 0.0;
        }
        self.fetched as f64 / self.attempted as f64
    }

    /// Share of announced listings that were fetched.
    pub fn listing_coverage(&self) -> Option<f64> {
        (self.listings_announced > 0)
            .then(|| self.listings_fetched as f64 / self.listings_announced as f64)
    }
}

impl MarketAccounting {
    /// Replaces every figure the store can vouch for with what the store holds (see
    /// [`RunTally`]): pages stored, pages given up and refused, pages with observations by
    /// kind, listing pages and the listings the run found links to. A run killed at any moment
    /// and resumed then reports what an uninterrupted run would have; what only the process
    /// knew (attempts that failed before a kill, gates met) stays as counted.
    pub fn reconcile(&mut self, tally: &RunTally) {
        self.fetched = tally.pages_stored;
        self.attempted = self.attempted.max(self.fetched);
        self.given_up = tally.given_up;
        self.refused = tally.refused;
        self.parsed.retain(|kind, _| !yields_observations(kind));
        for (kind, n) in &tally.extracted {
            self.parsed.insert(kind.clone(), *n);
        }
        self.listings_fetched = tally.extracted.get("listing").copied().unwrap_or(0);
        self.listings_announced = tally.listing_entries;
    }
}

/// Page kinds whose pages are stored with observations (the others are gates, redirects and
/// pages with nothing to read, known only to the process that met them).
fn yields_observations(kind: &str) -> bool {
    PageKind::parse(kind).is_some_and(|k| !k.is_interstitial() || k == PageKind::Seizure)
}

/// The end-of-run table.
pub fn table(markets: &BTreeMap<String, MarketAccounting>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:>9} {:>8} {:>7} {:>9} {:>13} {:>9}  pages by kind",
        "market", "attempted", "fetched", "failed", "available", "listings", "coverage"
    );
    for (name, a) in markets {
        let failed: u64 = a.failed.values().sum();
        let kinds: Vec<String> = a.parsed.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let mut state = String::new();
        if a.seized {
            state.push_str(" [seized]");
        }
        if a.unreachable {
            state.push_str(" [unreachable]");
        }
        if !a.needs_human.is_empty() {
            state.push_str(" [needs a human]");
        }
        if a.refused > 0 {
            let _ = write!(state, " [{} pages refused by the parser]", a.refused);
        }
        let _ = writeln!(
            out,
            "{:<14} {:>9} {:>8} {:>7} {:>8.1}% {:>6}/{:<6} {:>8}  {}{}",
            name,
            a.attempted,
            a.fetched,
            failed,
            a.availability() * 100.0,
            a.listings_fetched,
            a.listings_announced,
            a.listing_coverage()
                .map_or("-".to_owned(), |c| format!("{:.1}%", c * 100.0)),
            kinds.join(", "),
            state
        );
    }
    for (name, a) in markets {
        if let Some(last) = a.needs_human.last() {
            let _ = writeln!(out, "{name} needs a human: {last}");
        }
    }
    out
}
