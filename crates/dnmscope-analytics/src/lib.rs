//! dnmscope-analytics: the indicators drug-policy research asks for, computed from the store's
//! observations, and the reports and exports that carry them out of dnmscope.
//!
//! Everything here reads the store through `dnmscope-store`'s API (the only crate with SQL) and
//! produces [`Table`]s: named, typed, documented columns that the report, the exports and the
//! `query` commands all print the same way.
//!
//! The entry point for a report is [`compute_all`]: every indicator for a [`Filter`], as named
//! tables, with the assumptions behind them as text. [`weekly_rollups`] is the part computed by
//! SQL roll-ups alone (fast on large stores); [`queries`] answers the questions analysts ask
//! most (a vendor's history, a substance's price trend, a market's timeline, vendor links).

mod credibility;
mod data;
mod error;
mod estimate;
mod events;
pub mod format;
mod harm;
mod indicators;
mod linking;
mod prices;
pub mod queries;
mod rates;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};

use dnmscope_store::{AnalyticsFilter, Store};

pub use credibility::{flags_table, review_flags, Flag};
pub use data::{normalise, Dataset, DaySeen, ListingAccount, ListingDigest, Sale, UnitKey};
pub use dnmscope_store::Period;
pub use error::AnalyticsError;
pub use estimate::{
    estimate_sales, sales_sensitivity, shown_review_counts, ProfileReviews, ReviewRate,
    SalesEstimate,
};
pub use events::{event_tables, Migration};
pub use harm::{topics_of, TOPICS};
pub use indicators::SALES_ASSUMPTIONS;
pub use linking::{
    candidate_links, candidate_pairs, handle_core, profiles, Link, Profile, LINK_THRESHOLD,
    MAX_BLOCK,
};
pub use prices::{Conversion, RateBook, RateGather};
pub use rates::parse_rates_csv;
pub use table::{Cell, Column, ColumnType, Table};

pub mod chart;
pub mod datasheet;
pub mod export;
pub mod report;
use error::Context;

/// What to compute over: markets, listing attributes and the period of the time series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Market names; empty: all.
    pub markets: Vec<String>,
    /// A category anywhere in the listing's category path.
    pub category: Option<String>,
    /// The last element of the category path.
    pub substance: Option<String>,
    /// Origin country code (`ships_from`).
    pub origin: Option<String>,
    /// Destination country code (in `ships_to`).
    pub destination: Option<String>,
    /// Days or weeks.
    pub period: Period,
}

impl Default for Filter {
    fn default() -> Filter {
        Filter {
            markets: Vec::new(),
            category: None,
            substance: None,
            origin: None,
            destination: None,
            period: Period::Week,
        }
    }
}

impl Filter {
    pub fn store_filter(&self) -> AnalyticsFilter {
        AnalyticsFilter {
            markets: self.markets.clone(),
            category: self.category.clone(),
            substance: self.substance.clone(),
            origin: self.origin.clone(),
            destination: self.destination.clone(),
            vendor: None,
        }
    }

    /// Refuses values that cannot match anything (a bad market name, a country that is not a
    /// code).
    pub fn check(&self) -> Result<(), AnalyticsError> {
        for market in &self.markets {
            dnmscope_model::MarketName::new(market).map_err(|e| AnalyticsError::Input {
                what: format!("market filter {market:?}"),
                reason: e.to_string(),
            })?;
        }
        for (what, value) in [("origin", &self.origin), ("destination", &self.destination)] {
            if let Some(value) = value {
                dnmscope_model::Country::from_code(value).map_err(|e| AnalyticsError::Input {
                    what: format!("{what} filter {value:?}"),
                    reason: format!("{e} (use a code such as NL, US or WW)"),
                })?;
            }
        }
        for (what, value) in [("category", &self.category), ("substance", &self.substance)] {
            if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
                return Err(AnalyticsError::Input {
                    what: format!("{what} filter"),
                    reason: "it is empty".to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Every indicator, as named tables, and the assumptions behind them.
#[derive(Debug, Clone)]
pub struct Indicators {
    pub tables: Vec<Table>,
    /// One paragraph per assumption, to print next to the figures.
    pub assumptions: Vec<String>,
}

impl Indicators {
    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// The indicators computed by SQL roll-ups alone (`GROUP BY` in the store): `activity`,
/// `vendor_flow`, `vendor_survival` and `feedback_activity`. Fast on large stores.
pub async fn weekly_rollups(store: &Store, filter: &Filter) -> Result<Vec<Table>, AnalyticsError> {
    filter.check()?;
    let store_filter = filter.store_filter();
    let period = filter.period;
    let activity = store
        .activity(&store_filter, period)
        .await
        .context(|| "computing listing activity".to_string())?;
    let spans = store
        .vendor_spans(&store_filter, period)
        .await
        .context(|| "computing vendor spans".to_string())?;
    let days = store
        .observed_periods(
            &AnalyticsFilter {
                markets: filter.markets.clone(),
                ..AnalyticsFilter::default()
            },
            period,
        )
        .await
        .context(|| "listing observed periods".to_string())?;
    let feedback = store
        .feedback_activity(&store_filter, period)
        .await
        .context(|| "computing feedback activity".to_string())?;
    let mut observed: BTreeMap<String, BTreeSet<chrono::NaiveDate>> = BTreeMap::new();
    for d in days {
        observed.entry(d.market).or_default().insert(d.day);
    }
    let mut tables = vec![indicators::activity_table(&activity, period)];
    tables.extend(indicators::vendor_tables(&observed, &spans, period));
    tables.push(indicators::feedback_activity_table(&feedback, period));
    Ok(tables)
}

/// Every indicator for a filter: activity, vendor flow and survival, feedback activity,
/// prices, estimated sales (by vendor, listing, category, country), origin shares and flows,
/// concentration, market events with their impact and migrations, vendor links, review flags
/// and harm-reduction discussion; with the assumptions as text.
pub async fn compute_all(store: &Store, filter: &Filter) -> Result<Indicators, AnalyticsError> {
    let mut tables = weekly_rollups(store, filter).await?;
    let data = Dataset::load(store, &filter.store_filter(), filter.period).await?;
    let period = filter.period;
    let sales = &data.sales;
    tables.push(indicators::price_table(&data));
    tables.extend(indicators::sales_tables(sales, period));
    tables.extend(indicators::origin_tables(&data));
    tables.push(indicators::concentration_table(&data, sales));
    let profiles = linking::profiles(&data);
    let links = linking::candidate_links(&data, &profiles);
    let (event_tables, _) = events::event_tables(&data, &profiles, &links);
    tables.extend(event_tables);
    tables.push(linking::links_table(&profiles, &links));
    let flags = credibility::review_flags(&data);
    tables.push(estimate::sales_sensitivity(
        sales,
        &estimate::shown_review_counts(&data),
        &flags,
    ));
    tables.push(credibility::flags_table(&flags));
    tables.push(harm::harm_reduction_table(&data, period));

    let priced = sales.iter().filter(|s| s.usd.is_some()).count();
    let from_feedback = sales
        .iter()
        .filter(|s| s.priced_from.is_some_and(|p| p.0 == "feedback"))
        .count();
    let assumptions = vec![
        SALES_ASSUMPTIONS.to_string(),
        format!(
            "Of {} feedback entries, {priced} were priced: {from_feedback} at the price the \
             entry shows and {} at the listing's observed price; {} have no price.",
            sales.len(),
            priced - from_feedback,
            sales.len() - priced
        ),
        "Prices are converted to USD at the observation date: a USD price as shown, else the \
         USD price the page shows beside it, else the exchange rates the page prints, else the \
         rates the market showed on other pages that day (median), else a rate imported with \
         `dnmscope rates import` for that day or up to 7 days before. Prices per unit are per \
         gram for weights, per millilitre for volumes and per piece for packs of doses; each \
         listing counts once per period at its median observed price."
            .to_string(),
        "Time series count what the crawls saw: a period with no crawl of a market has no row, \
         and an incomplete crawl undercounts (see each crawl's completeness). A vendor is active \
         in a period when seen with a listing; departures are dated to the first observed \
         period without the vendor."
            .to_string(),
        format!(
            "Vendor links are candidates scored from evidence (same PGP key, handle similarity, \
             imported ratings, overlapping listings); probable at {LINK_THRESHOLD} or more and \
             never merged. A researcher's confirmation or rejection overrides the score. \
             Accounts are compared when they share a key or a handle core; a core shared by \
             more than {MAX_BLOCK} accounts is compared by whole handles, and a key shown by \
             more than {MAX_BLOCK} accounts is not evidence."
        ),
        "Total sales (sales_sensitivity) scale the feedback entries outside suspected review \
         campaigns by the share of orders that leave a review, which no market shows: the table \
         gives the estimate for rates from 0.3 to 1.0 (dnmscope validate assumes 0.5 to 0.9)."
            .to_string(),
        "Review flags are reasons to look, not verdicts. Reviews from new buyer accounts are \
         not assessed because dnmscope keeps no buyer data."
            .to_string(),
        "Forum posts are tagged by keyword rules per harm-reduction topic and dated when first \
         seen."
            .to_string(),
    ];
    Ok(Indicators {
        tables,
        assumptions,
    })
}
