//! What analyses read: observation rows with their market and time, roll-ups done in SQL
//! (`GROUP BY` day or week), imported exchange rates, researchers' decisions on vendor links, and
//! a bulk-load path for large synthetic stores (benchmarks).
//!
//! The queries live in `queries/analytics.rs`, compiled for both backends. Filters are
//! applied in SQL: markets by name, category and substance on the stored category path (the
//! substance is the path's last element), origin on `ships_from`, destination on `ships_to`.

use chrono::{DateTime, NaiveDate, Utc};
use dnmscope_model::{Listing, MarketName, Money, Vendor};
use serde::Serialize;

use crate::error::Context;
use crate::{Backend, Store, StoreError};

/// The observations of the newest parse of each capture: an extraction a re-parse replaced
/// (`superseded_extractions`, migration 0014) is left out, its rows kept. `o` is the
/// observation table.
pub(crate) const CURRENT_EXTRACTION: &str =
    "o.extraction_id NOT IN (SELECT s.extraction_id FROM superseded_extractions s)";

/// Which observations an analysis looks at. Empty fields filter nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AnalyticsFilter {
    /// Market names; empty: every market.
    pub markets: Vec<String>,
    /// A category anywhere in a listing's category path (exact, case-sensitive as shown).
    pub category: Option<String>,
    /// The last element of the category path (the substance, on markets that go that deep).
    pub substance: Option<String>,
    /// Origin: the `ships_from` code (`NL`, `US`, `WW`, ...).
    pub origin: Option<String>,
    /// Destination: a code in `ships_to`.
    pub destination: Option<String>,
    /// One vendor's handle (compared without regard to case, as vendors are keyed): listing
    /// observations, vendor observations and feedback are narrowed to that vendor's, found
    /// through the vendor indexes rather than by reading every row of a market.
    pub vendor: Option<String>,
}

impl AnalyticsFilter {
    /// The `WHERE` conditions over `listing_observations o JOIN listings l JOIN markets m`, with
    /// `$N` placeholders numbered from `first`, and the text values to bind in order.
    pub(crate) fn listing_conditions(&self, first: usize) -> (String, Vec<String>) {
        let (conditions, params) = self.conditions_on(
            "CAST(o.category AS TEXT)",
            "o.ships_from",
            "CAST(o.ships_to AS TEXT)",
            first,
        );
        (format!("{conditions} AND {CURRENT_EXTRACTION}"), params)
    }

    /// The same conditions over `attribute_weeks w JOIN listing_attributes a JOIN markets m`
    /// (the filter names no vendor there: see [`AnalyticsFilter::by_attributes`]).
    pub(crate) fn attribute_conditions(&self, first: usize) -> (String, Vec<String>) {
        self.conditions_on("a.category", "a.ships_from", "a.ships_to", first)
    }

    /// Whether a weekly roll-up with this filter reads `attribute_weeks`: it narrows listings
    /// by their attributes only (a vendor is found through the vendor indexes instead).
    pub(crate) fn by_attributes(&self) -> bool {
        self.narrows_listings() && self.vendor.is_none()
    }

    /// The conditions, with the filtered columns given as SQL expressions (the category path
    /// and destinations as JSON text).
    fn conditions_on(
        &self,
        category_text: &str,
        ships_from: &str,
        ships_to_text: &str,
        first: usize,
    ) -> (String, Vec<String>) {
        let mut conditions = vec!["1 = 1".to_string()];
        let mut params = Vec::new();
        let next = |value: String, params: &mut Vec<String>| {
            params.push(value);
            format!("${}", first + params.len() - 1)
        };
        if !self.markets.is_empty() {
            let slots: Vec<String> = self
                .markets
                .iter()
                .map(|m| next(m.clone(), &mut params))
                .collect();
            conditions.push(format!("m.name IN ({})", slots.join(", ")));
        }
        if let Some(category) = &self.category {
            let slot = next(format!("%{}%", json_string(category)), &mut params);
            conditions.push(format!("{category_text} LIKE {slot}"));
        }
        if let Some(substance) = &self.substance {
            let slot = next(format!("%{}]", json_string(substance)), &mut params);
            conditions.push(format!("{category_text} LIKE {slot}"));
        }
        if let Some(origin) = &self.origin {
            let slot = next(origin.to_uppercase(), &mut params);
            conditions.push(format!("{ships_from} = {slot}"));
        }
        if let Some(destination) = &self.destination {
            let slot = next(
                format!("%{}%", json_string(&destination.to_uppercase())),
                &mut params,
            );
            conditions.push(format!("{ships_to_text} LIKE {slot}"));
        }
        if let Some(handle) = &self.vendor {
            let first = first + params.len();
            let (condition, more) = self.vendor_ids_condition(handle, "o.vendor_id", first);
            conditions.push(condition);
            params.extend(more);
        }
        (conditions.join(" AND "), params)
    }

    /// The market condition and, when the filter names a vendor, `column` (a vendor id
    /// column of the queried table) narrowed to that vendor's accounts.
    pub(crate) fn vendor_conditions(&self, column: &str, first: usize) -> (String, Vec<String>) {
        let (mut conditions, mut params) = self.market_conditions(first);
        if let Some(handle) = &self.vendor {
            let (condition, more) = self.vendor_ids_condition(handle, column, first + params.len());
            conditions.push_str(" AND ");
            conditions.push_str(&condition);
            params.extend(more);
        }
        (conditions, params)
    }

    /// `column IN (the ids of vendor `handle` on the filter's markets)`, with placeholders from
    /// `first`: the vendor is looked up by market and key in the vendors' unique index.
    fn vendor_ids_condition(
        &self,
        handle: &str,
        column: &str,
        first: usize,
    ) -> (String, Vec<String>) {
        let mut params = vec![vendor_key(handle)];
        let mut condition =
            format!("{column} IN (SELECT fv.id FROM vendors fv WHERE fv.handle_key = ${first}");
        if !self.markets.is_empty() {
            let slots: Vec<String> = self
                .markets
                .iter()
                .map(|m| {
                    params.push(m.clone());
                    format!("${}", first + params.len() - 1)
                })
                .collect();
            condition.push_str(&format!(
                " AND fv.market_id IN (SELECT fm.id FROM markets fm WHERE fm.name IN ({})))",
                slots.join(", ")
            ));
        } else {
            condition.push(')');
        }
        (condition, params)
    }

    /// Only the market condition (for tables that have no listing attributes).
    pub(crate) fn market_conditions(&self, first: usize) -> (String, Vec<String>) {
        if self.markets.is_empty() {
            return ("1 = 1".to_string(), Vec::new());
        }
        let slots: Vec<String> = (0..self.markets.len())
            .map(|n| format!("${}", first + n))
            .collect();
        (
            format!("m.name IN ({})", slots.join(", ")),
            self.markets.clone(),
        )
    }

    /// Whether the filter looks at listing attributes or a vendor (not only markets).
    pub fn narrows_listings(&self) -> bool {
        self.vendor.is_some()
            || self.category.is_some()
            || self.substance.is_some()
            || self.origin.is_some()
            || self.destination.is_some()
    }
}

/// A vendor's key: its handle trimmed and lower-cased (as `db::vendor_ids` stores it).
pub(crate) fn vendor_key(handle: &str) -> String {
    handle.trim().to_lowercase()
}

/// A value as it appears inside a JSON array, LIKE wildcards escaped away (`%` and `_` in a
/// category name match themselves only approximately; category names do not contain them).
fn json_string(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The length of a roll-up's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    /// ISO weeks, named by their Monday.
    Week,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
        }
    }

    /// The first day of the period that holds `day`.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        use chrono::Datelike;
        match self {
            Period::Day => day,
            Period::Week => {
                day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
            }
        }
    }
}

/// Listings and vendors seen on a market in one period (a SQL roll-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityRow {
    pub market: String,
    pub period_start: NaiveDate,
    pub listings: i64,
    pub vendors: i64,
    pub observations: i64,
}

/// When a vendor was seen with a listing (matching the filter): first and last observation, and
/// on how many distinct days (a SQL roll-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct VendorSpan {
    pub market: String,
    pub vendor_id: i64,
    pub handle: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub listings: i64,
}

/// Feedback entries per market and period, by the date they were left (else first seen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedbackActivityRow {
    pub market: String,
    pub period_start: NaiveDate,
    pub entries: i64,
    pub vendors: i64,
}

/// Which listing observations a streamed read ([`Store::each_listing_observation`]) gives, in
/// which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservationPass {
    /// Every observation of the filter, oldest first.
    Oldest,
    /// Every observation of the filter, one listing after another (by listing id), each
    /// listing's oldest first.
    ByListing,
    /// Oldest first, only the observations that hold more than the typed columns (other prices,
    /// printed exchange rates, shipping options...): the rows a page's exchange rates come from.
    WithPageExtras,
}

/// One listing observation with its market and vendor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListingObservationRow {
    pub market: String,
    pub listing_id: i64,
    pub vendor_id: Option<i64>,
    pub vendor: Option<String>,
    pub crawl_id: i64,
    pub observed_at: DateTime<Utc>,
    /// The listing as observed (its `data`; the description is not loaded).
    pub listing: Listing,
}

/// A vendor's listing observations as its trend reads them: per day, from the vendor index
/// alone, the listings seen and the prices shown in USD; and every observation priced in another
/// currency with its whole observed listing (its conversion may need the page's other prices
/// and rates).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VendorPrices {
    pub days: Vec<VendorDay>,
    pub converted: Vec<VendorPriceRow>,
}

/// One day of a vendor's listing observations (UTC calendar day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorDay {
    pub day: NaiveDate,
    /// The distinct listings observed that day, whatever their price, in id order.
    pub listing_ids: Vec<i64>,
    /// The main price of each observation that day priced in USD.
    pub usd_prices: Vec<Money>,
}

/// One listing observation of a vendor priced in another currency than USD.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VendorPriceRow {
    pub listing_id: i64,
    pub observed_at: DateTime<Utc>,
    /// The listing as observed.
    pub listing: Listing,
}

/// One vendor observation with its market.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct VendorObservationRow {
    pub market: String,
    pub vendor_id: i64,
    pub handle: String,
    pub crawl_id: i64,
    pub observed_at: DateTime<Utc>,
    /// The vendor as observed (its `data`; the armored key is kept once in `pgp_keys`).
    #[sqlx(json)]
    pub vendor: Vendor,
}

/// One feedback entry (stored once however often it was seen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct FeedbackRow {
    pub market: String,
    pub feedback_id: i64,
    pub vendor_id: Option<i64>,
    pub vendor: Option<String>,
    pub listing_id: Option<i64>,
    pub rating: String,
    pub text: String,
    pub left_on: Option<NaiveDate>,
    pub item: Option<String>,
    pub price_amount: Option<String>,
    pub price_currency: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    /// Crawls that saw it.
    pub sightings: i64,
}

/// One forum post, as first observed, with its thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PostRow {
    pub market: String,
    pub thread_id: i64,
    pub thread_title: Option<String>,
    pub board: Option<String>,
    pub post_id: i64,
    pub author_kind: Option<String>,
    pub author: Option<String>,
    pub text: String,
    pub first_seen_at: DateTime<Utc>,
}

/// A market event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRow {
    pub market: String,
    pub kind: String,
    pub observed_at: DateTime<Utc>,
    pub detail: String,
}

/// When a market was crawled with a result: the distinct days with listing observations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedDay {
    pub market: String,
    pub day: NaiveDate,
}

/// An exchange rate: USD per one unit of `currency` on `day`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateRow {
    pub day: NaiveDate,
    pub currency: String,
    /// Exact decimal text.
    pub usd: String,
    pub source: String,
}

/// A researcher's decision on a link between two vendor accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkDecision {
    Confirmed,
    Rejected,
}

impl LinkDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkDecision::Confirmed => "confirmed",
            LinkDecision::Rejected => "rejected",
        }
    }
    pub fn parse(text: &str) -> Option<LinkDecision> {
        match text {
            "confirmed" => Some(LinkDecision::Confirmed),
            "rejected" => Some(LinkDecision::Rejected),
            _ => None,
        }
    }
}

/// One vendor account: a market and a handle (compared case-blind).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct VendorRef {
    pub market: String,
    pub handle: String,
}

impl VendorRef {
    pub fn new(market: &str, handle: &str) -> VendorRef {
        VendorRef {
            market: market.to_string(),
            handle: handle.trim().to_lowercase(),
        }
    }
}

/// The latest decision on a pair of accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkDecisionRow {
    pub a: VendorRef,
    pub b: VendorRef,
    pub decision: LinkDecision,
    pub note: String,
    pub decided_at: DateTime<Utc>,
}

impl Store {
    /// Brings the weekly roll-ups (`listing_weeks` and its summaries, `attribute_weeks`) up to
    /// date with the listing observations stored since their last refresh; returns how many
    /// the roll-up furthest behind took in. Weekly
    /// roll-ups ([`Store::activity`], [`Store::vendor_spans`], [`Store::observed_periods`])
    /// call it first, so calling it is only needed to spread the work (after each crawl, say).
    pub async fn refresh_rollups(&self) -> Result<u64, StoreError> {
        with_backend!(
            transaction,
            self,
            "bringing the weekly roll-up up to date".to_string(),
            |conn, db| db::refresh_weekly(conn).await?
        )
    }

    /// Listings, vendors and observations per market and period (SQL `GROUP BY`). Weeks are
    /// read from the weekly roll-ups (`market_weeks`; `attribute_weeks` for a listing-attribute
    /// filter); only a vendor filter or days read the observations.
    pub async fn activity(
        &self,
        filter: &AnalyticsFilter,
        period: Period,
    ) -> Result<Vec<ActivityRow>, StoreError> {
        if period == Period::Week {
            self.refresh_rollups().await?;
        }
        with_backend!(
            connection,
            self,
            "rolling up listing activity",
            |conn, db| db::activity(conn, filter, period).await
        )
    }

    /// Per vendor with a matching listing: first and last observation (SQL `GROUP BY`). With
    /// `Period::Week` (and no vendor in the filter) they come from the weekly roll-ups and are
    /// the Mondays of the first and last week.
    pub async fn vendor_spans(
        &self,
        filter: &AnalyticsFilter,
        period: Period,
    ) -> Result<Vec<VendorSpan>, StoreError> {
        if period == Period::Week {
            self.refresh_rollups().await?;
        }
        with_backend!(connection, self, "rolling up vendor spans", |conn, db| {
            db::vendor_spans(conn, filter, period).await
        })
    }

    /// The periods (days, or weeks by their Monday) in which each of the filter's markets
    /// yielded listing observations (only the filter's markets count).
    pub async fn observed_periods(
        &self,
        filter: &AnalyticsFilter,
        period: Period,
    ) -> Result<Vec<ObservedDay>, StoreError> {
        if period == Period::Week {
            self.refresh_rollups().await?;
        }
        with_backend!(connection, self, "listing observed periods", |conn, db| {
            db::observed_periods(conn, filter, period).await
        })
    }

    /// Feedback entries per market and period (SQL `GROUP BY`; markets filter only).
    pub async fn feedback_activity(
        &self,
        filter: &AnalyticsFilter,
        period: Period,
    ) -> Result<Vec<FeedbackActivityRow>, StoreError> {
        with_backend!(connection, self, "rolling up feedback", |conn, db| {
            db::feedback_activity(conn, filter, period).await
        })
    }

    /// Days on which each market yielded listing observations.
    pub async fn observed_days(
        &self,
        filter: &AnalyticsFilter,
    ) -> Result<Vec<ObservedDay>, StoreError> {
        with_backend!(connection, self, "listing observed days", |conn, db| {
            db::observed_days(conn, filter).await
        })
    }

    /// Listing observations matching the filter, oldest first.
    pub async fn listing_observations(
        &self,
        filter: &AnalyticsFilter,
    ) -> Result<Vec<ListingObservationRow>, StoreError> {
        let mut rows = Vec::new();
        self.each_listing_observation(filter, ObservationPass::Oldest, |row| rows.push(row))
            .await?;
        Ok(rows)
    }

    /// Streams the listing observations of `filter` (`pass` says which and in which order) to
    /// `each`, holding one row at a time, and returns how many were read. Reads at archive scale
    /// go through here rather than [`Store::listing_observations`].
    pub async fn each_listing_observation(
        &self,
        filter: &AnalyticsFilter,
        pass: ObservationPass,
        mut each: impl FnMut(ListingObservationRow) + Send,
    ) -> Result<u64, StoreError> {
        with_backend!(
            connection,
            self,
            "reading listing observations",
            |conn, db| db::each_listing_observation(conn, filter, pass, &mut each).await
        )
    }

    /// The listing observations of the vendor `handle` on `market` (compared without regard to
    /// case), as its trend reads them (see [`VendorPrices`]); days and rows oldest first.
    pub async fn vendor_prices(
        &self,
        market: &str,
        handle: &str,
    ) -> Result<VendorPrices, StoreError> {
        with_backend!(
            connection,
            self,
            format!("reading the prices of {handle:?} on {market}"),
            |conn, db| db::vendor_prices(conn, market, handle).await
        )
    }

    /// Vendor observations of the filter's markets, oldest first.
    pub async fn vendor_observations(
        &self,
        filter: &AnalyticsFilter,
    ) -> Result<Vec<VendorObservationRow>, StoreError> {
        with_backend!(
            connection,
            self,
            "reading vendor observations",
            |conn, db| db::vendor_observations(conn, filter).await
        )
    }

    /// Feedback entries of the filter's markets.
    pub async fn feedback_rows(
        &self,
        filter: &AnalyticsFilter,
    ) -> Result<Vec<FeedbackRow>, StoreError> {
        with_backend!(connection, self, "reading feedback", |conn, db| {
            db::feedback_rows(conn, filter).await
        })
    }

    /// Forum posts of the filter's markets, each as first observed.
    pub async fn post_rows(&self, filter: &AnalyticsFilter) -> Result<Vec<PostRow>, StoreError> {
        with_backend!(connection, self, "reading forum posts", |conn, db| {
            db::post_rows(conn, filter).await
        })
    }

    /// Market events of the filter's markets, oldest first.
    pub async fn event_rows(&self, filter: &AnalyticsFilter) -> Result<Vec<EventRow>, StoreError> {
        with_backend!(connection, self, "reading market events", |conn, db| {
            db::event_rows(conn, filter).await
        })
    }

    /// Stores exchange rates (USD per unit) from `source`; a rate already stored for the same
    /// day, currency and source is replaced. Returns how many rows were written.
    pub async fn import_rates(&self, rates: &[RateRow]) -> Result<u64, StoreError> {
        for rate in rates {
            check_rate(rate)?;
        }
        with_backend!(
            transaction,
            self,
            format!("importing {} exchange rates", rates.len()),
            |conn, db| db::import_rates(conn, rates, Utc::now()).await?
        )
    }

    /// Every imported rate, by currency and day.
    pub async fn rates(&self) -> Result<Vec<RateRow>, StoreError> {
        with_backend!(connection, self, "reading exchange rates", |conn, db| {
            db::rates(conn).await
        })
    }

    /// Records a researcher's decision on a link between two vendor accounts (on two markets).
    /// Decisions are kept as a history; the latest one counts.
    pub async fn decide_link(
        &self,
        a: &VendorRef,
        b: &VendorRef,
        decision: LinkDecision,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let refused = |reason: String| StoreError::Refused {
            what: format!(
                "a link between {}:{} and {}:{}",
                a.market, a.handle, b.market, b.handle
            ),
            reason,
        };
        for side in [a, b] {
            MarketName::new(&side.market).map_err(|e| refused(e.to_string()))?;
            if side.handle.trim().is_empty() {
                return Err(refused("a handle is empty".to_string()));
            }
        }
        if a.market == b.market {
            return Err(refused(
                "both accounts are on the same market; links are across markets".to_string(),
            ));
        }
        let (a, b) = canonical_pair(a, b);
        with_backend!(
            transaction,
            self,
            format!(
                "recording a link decision on {}:{} and {}:{}",
                a.market, a.handle, b.market, b.handle
            ),
            |conn, db| db::decide_link(conn, &a, &b, decision, note, at).await?
        )
    }

    /// The latest decision on every pair that has one.
    pub async fn link_decisions(&self) -> Result<Vec<LinkDecisionRow>, StoreError> {
        with_backend!(connection, self, "reading link decisions", |conn, db| {
            db::link_decisions(conn).await
        })
    }

    /// Stores many listing observations of one capture fast: multi-row inserts, one
    /// transaction. Meant for building large synthetic stores (benchmarks) and bulk re-imports:
    /// the capture gets one extraction (`page_kind` search) holding every observation; vendors
    /// and listings are created as needed. Returns the number of observations stored.
    pub async fn bulk_observe_listings(
        &self,
        capture_id: i64,
        parser_version: &str,
        listings: &[Listing],
    ) -> Result<u64, StoreError> {
        with_backend!(
            transaction,
            self,
            format!(
                "bulk-loading {} listing observations into capture {capture_id}",
                listings.len()
            ),
            |conn, db| {
                db::bulk_observe_listings(conn, capture_id, parser_version, listings, Utc::now())
                    .await?
            }
        )
    }
}

/// The pair in canonical order, handles case-folded.
pub(crate) fn canonical_pair(a: &VendorRef, b: &VendorRef) -> (VendorRef, VendorRef) {
    let a = VendorRef::new(&a.market, &a.handle);
    let b = VendorRef::new(&b.market, &b.handle);
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn check_rate(rate: &RateRow) -> Result<(), StoreError> {
    let refused = |reason: String| StoreError::Refused {
        what: format!("the {} rate of {}", rate.currency, rate.day),
        reason,
    };
    dnmscope_model::Currency::new(&rate.currency).map_err(|e| refused(e.to_string()))?;
    let usd: f64 = rate
        .usd
        .trim()
        .parse()
        .map_err(|_| refused(format!("{:?} is not a decimal number", rate.usd)))?;
    if !(usd.is_finite() && usd > 0.0) {
        return Err(refused(format!("{:?} is not a positive amount", rate.usd)));
    }
    if rate.source.trim().is_empty() {
        return Err(refused("the source is empty".to_string()));
    }
    Ok(())
}
