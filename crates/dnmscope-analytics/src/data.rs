//! Everything the indicators read, from the store once per computation.
//!
//! Listing observations are never held all at once: an archive-scale store has tens of millions
//! of them. They are read twice as streams ([`Store::each_listing_observation`]): first the rows
//! that show exchange rates, for the [`RateBook`]; then every row of the filter one listing at a
//! time (the database sorts them), and each listing's history is reduced to what the indicators
//! read ([`ListingDigest`]) and to the sales its feedback entries make ([`Sale`]). Memory grows
//! with listings, vendors, periods and feedback entries, never with observations.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use dnmscope_store::{
    AnalyticsFilter, EventRow, FeedbackRow, LinkDecisionRow, ListingObservationRow,
    ObservationPass, ObservedDay, Period, PostRow, RateRow, Store, VendorObservationRow,
};

use crate::error::{AnalyticsError, Context};
use crate::prices::{quantile, units, Conversion, RateBook, RateGather};

/// The observations of a filter, read and reduced.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub filter: AnalyticsFilter,
    /// The period the listing aggregates are grouped by.
    pub period: Period,
    /// What the indicators read of the filter's listing observations.
    pub listings: ListingDigest,
    /// Every feedback entry (of [`Dataset::feedback`]) as a sale, in the same order, less those
    /// left out by a filter that narrows listings.
    pub sales: Vec<Sale>,
    pub vendors: Vec<VendorObservationRow>,
    pub feedback: Vec<FeedbackRow>,
    pub posts: Vec<PostRow>,
    pub events: Vec<EventRow>,
    pub rates: Vec<RateRow>,
    pub decisions: Vec<LinkDecisionRow>,
    /// Days each market yielded listings (all listings of the market, not only the filter's).
    pub observed_days: BTreeMap<String, BTreeSet<NaiveDate>>,
    pub book: RateBook,
}

/// (market, period start, substance, origin, unit): the groups of the price table.
pub type UnitKey = (String, NaiveDate, String, String, &'static str);

/// The filter's listing observations as the indicators read them. Every count of listings is of
/// distinct listings (each listing's history is reduced once).
#[derive(Debug, Clone, Default)]
pub struct ListingDigest {
    /// Observations read.
    pub observations: u64,
    /// Per price group, each listing's median USD price per unit in that period (the order is
    /// not meaningful).
    pub unit_prices: BTreeMap<UnitKey, Vec<f64>>,
    /// Per (market, period, substance, origin): listings whose price could not be converted to
    /// USD or whose quantity was not read.
    pub unconverted: BTreeMap<(String, NaiveDate, String, String), usize>,
    /// Per (market, period): listings per origin (`""` when not shown).
    pub origins: BTreeMap<(String, NaiveDate), BTreeMap<String, usize>>,
    /// Per (market, period, origin, destination): listings.
    pub flows: BTreeMap<(String, NaiveDate, String, String), usize>,
    /// Per (market, period): listings per vendor.
    pub vendor_listings: BTreeMap<(String, NaiveDate), BTreeMap<i64, usize>>,
    /// Per (market, vendor): each of its listings' median USD price over all its observations
    /// (the upper median), by listing id.
    pub vendor_listing_usd: BTreeMap<(String, i64), Vec<f64>>,
    /// Per (market, day): what was seen that day.
    pub days: BTreeMap<(String, NaiveDate), DaySeen>,
    /// Per (market, vendor): the last day it was seen with a listing.
    pub vendor_last_day: BTreeMap<(String, i64), NaiveDate>,
    /// Every listing's last category as shown (the substance).
    pub substances: BTreeSet<String>,
    /// Per (market, vendor): the account as its listings show it.
    pub accounts: BTreeMap<(String, i64), ListingAccount>,
}

/// One market's day in the listing observations.
#[derive(Debug, Clone, Default)]
pub struct DaySeen {
    /// Vendors with a listing that day.
    pub vendors: BTreeSet<i64>,
    /// Listings seen that day.
    pub listings: usize,
    /// Listings seen for the last time that day.
    pub listings_ending: usize,
}

/// A vendor account as its listing observations show it.
#[derive(Debug, Clone)]
pub struct ListingAccount {
    pub handle: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The titles of its listings as shown.
    pub titles: BTreeSet<String>,
}

/// One feedback entry counted as a sale.
#[derive(Debug, Clone)]
pub struct Sale {
    pub market: String,
    pub vendor_id: Option<i64>,
    pub vendor: Option<String>,
    pub listing_id: Option<i64>,
    pub day: NaiveDate,
    pub usd: Option<f64>,
    /// Where the price came from: `feedback` (the entry shows it) or `listing` (the listing's
    /// price observed nearest the date), and how it became USD.
    pub priced_from: Option<(&'static str, Conversion)>,
    pub category: Option<String>,
    pub origin: Option<String>,
}

impl Dataset {
    /// Reads what the indicators need for `filter`, with listing aggregates by `period`.
    pub async fn load(
        store: &Store,
        filter: &AnalyticsFilter,
        period: Period,
    ) -> Result<Dataset, AnalyticsError> {
        let markets_only = AnalyticsFilter {
            markets: filter.markets.clone(),
            ..AnalyticsFilter::default()
        };
        let vendors = store
            .vendor_observations(&markets_only)
            .await
            .context(|| "loading vendor observations".to_string())?;
        let feedback = store
            .feedback_rows(&markets_only)
            .await
            .context(|| "loading feedback".to_string())?;
        let posts = store
            .post_rows(&markets_only)
            .await
            .context(|| "loading forum posts".to_string())?;
        let events = store
            .event_rows(&markets_only)
            .await
            .context(|| "loading market events".to_string())?;
        let rates = store
            .rates()
            .await
            .context(|| "loading exchange rates".to_string())?;
        let decisions = store
            .link_decisions()
            .await
            .context(|| "loading link decisions".to_string())?;
        let days: Vec<ObservedDay> = store
            .observed_days(&markets_only)
            .await
            .context(|| "loading observed days".to_string())?;
        let mut observed_days: BTreeMap<String, BTreeSet<NaiveDate>> = BTreeMap::new();
        for d in days {
            observed_days.entry(d.market).or_default().insert(d.day);
        }
        // A full rate book needs every listing of the market, not only the filter's.
        let narrowed = filter.narrows_listings();
        let book = rate_book(store, if narrowed { &markets_only } else { filter }, &rates)
            .await
            .context(|| "reading the exchange rates listing pages show".to_string())?;

        let mut reducer = Reducer::new(period, &book, &feedback);
        let mut listing: Vec<ListingObservationRow> = Vec::new();
        store
            .each_listing_observation(filter, ObservationPass::ByListing, |row| {
                if listing
                    .last()
                    .is_some_and(|l| l.listing_id != row.listing_id)
                {
                    reducer.listing(&listing);
                    listing.clear();
                }
                listing.push(row);
            })
            .await
            .context(|| "reading listing observations".to_string())?;
        reducer.listing(&listing);
        let Reducer {
            digest, pending, ..
        } = reducer;
        // Vendor ids are unique across markets.
        let vendors_listed: BTreeSet<i64> =
            digest.vendor_last_day.keys().map(|(_, v)| *v).collect();

        // Narrowed: only feedback on vendors that have a matching listing, and only entries
        // attributed to a matching listing.
        let mut kept_feedback = Vec::with_capacity(feedback.len());
        let mut sales = Vec::with_capacity(feedback.len());
        for (f, pending) in feedback.into_iter().zip(pending) {
            if narrowed && !f.vendor_id.is_some_and(|v| vendors_listed.contains(&v)) {
                continue;
            }
            let Pending {
                day,
                shown,
                direct,
                by_title,
            } = pending;
            let attribution = direct.or(by_title.map(|(_, a)| a));
            if !(narrowed && attribution.is_none()) {
                sales.push(sale(&f, day, shown, attribution));
            }
            kept_feedback.push(f);
        }
        Ok(Dataset {
            filter: filter.clone(),
            period,
            listings: digest,
            sales,
            vendors,
            feedback: kept_feedback,
            posts,
            events,
            rates,
            decisions,
            observed_days,
            book,
        })
    }

    /// The day of a feedback entry: when it was left, else when it was first seen.
    pub fn feedback_day(row: &FeedbackRow) -> NaiveDate {
        row.left_on
            .unwrap_or_else(|| row.first_seen_at.date_naive())
    }
}

/// The rate book of the listing pages of `filter` (streamed: only the rows that show more than
/// the typed columns can show a rate) and the imported `rates`.
pub(crate) async fn rate_book(
    store: &Store,
    filter: &AnalyticsFilter,
    rates: &[RateRow],
) -> Result<RateBook, dnmscope_store::StoreError> {
    let mut gather = RateGather::default();
    store
        .each_listing_observation(filter, ObservationPass::WithPageExtras, |row| {
            gather.add(&row)
        })
        .await?;
    Ok(gather.finish(rates))
}

/// A listing a feedback entry is attributed to, with the listing's price nearest the entry's day
/// (when the entry shows no price of its own) and its category and origin.
#[derive(Debug, Clone)]
struct Attribution {
    listing: i64,
    priced: Option<(f64, Conversion)>,
    category: Option<String>,
    origin: Option<String>,
}

/// (days to the nearest observation, first seen with the title, listing id): how a listing
/// ranks as the one a feedback entry's item names, smallest first.
type TitleRank = (i64, DateTime<Utc>, i64);

/// A feedback entry while the listings stream by.
#[derive(Debug, Clone)]
struct Pending {
    day: NaiveDate,
    /// The entry's own price in USD.
    shown: Option<(f64, Conversion)>,
    /// Its own listing, when that is among the filter's.
    direct: Option<Attribution>,
    /// The best listing of its vendor with the entry's item as title: (days from the entry to
    /// the listing's nearest observation, when the listing was first seen with that title,
    /// listing id) ranks them, smallest first.
    by_title: Option<(TitleRank, Attribution)>,
}

/// A feedback entry as a sale: priced at its own price, else its listing's.
fn sale(
    f: &FeedbackRow,
    day: NaiveDate,
    shown: Option<(f64, Conversion)>,
    attribution: Option<Attribution>,
) -> Sale {
    let priced = shown
        .map(|(usd, how)| (usd, ("feedback", how)))
        .or_else(|| {
            let (usd, how) = attribution.as_ref()?.priced?;
            Some((usd, ("listing", how)))
        });
    let (listing_id, category, origin) = match attribution {
        Some(a) => (Some(a.listing), a.category, a.origin),
        None => (None, None, None),
    };
    Sale {
        market: f.market.clone(),
        vendor_id: f.vendor_id,
        vendor: f.vendor.clone(),
        listing_id,
        day,
        usd: priced.map(|p| p.0),
        priced_from: priced.map(|p| p.1),
        category,
        origin,
    }
}

/// Reduces one listing's history at a time into the [`ListingDigest`] and the feedback
/// entries' attributions.
struct Reducer<'a> {
    period: Period,
    book: &'a RateBook,
    digest: ListingDigest,
    pending: Vec<Pending>,
    /// Feedback entries (indexes into `pending`) per listing id they name.
    by_listing: HashMap<i64, Vec<usize>>,
    /// Feedback entries per (vendor id, normalised item title).
    by_title: HashMap<(i64, String), Vec<usize>>,
}

impl<'a> Reducer<'a> {
    fn new(period: Period, book: &'a RateBook, feedback: &[FeedbackRow]) -> Reducer<'a> {
        let mut by_listing: HashMap<i64, Vec<usize>> = HashMap::new();
        let mut by_title: HashMap<(i64, String), Vec<usize>> = HashMap::new();
        let mut pending = Vec::with_capacity(feedback.len());
        for (i, f) in feedback.iter().enumerate() {
            let day = Dataset::feedback_day(f);
            let shown = match (&f.price_amount, &f.price_currency) {
                (Some(amount), Some(currency)) => dnmscope_model::Money::new(amount, currency)
                    .ok()
                    .and_then(|money| book.to_usd(&f.market, day, &money)),
                _ => None,
            };
            pending.push(Pending {
                day,
                shown,
                direct: None,
                by_title: None,
            });
            if let Some(id) = f.listing_id {
                by_listing.entry(id).or_default().push(i);
            }
            if let (Some(vendor), Some(item)) = (f.vendor_id, f.item.as_deref()) {
                by_title
                    .entry((vendor, normalise(item)))
                    .or_default()
                    .push(i);
            }
        }
        Reducer {
            period,
            book,
            digest: ListingDigest::default(),
            pending,
            by_listing,
            by_title,
        }
    }

    /// One listing's observations, oldest first.
    fn listing(&mut self, rows: &[ListingObservationRow]) {
        let Some(first) = rows.first() else {
            return;
        };
        let market = first.market.as_str();
        let listing_id = first.listing_id;
        let period = self.period;
        let digest = &mut self.digest;
        digest.observations += rows.len() as u64;

        let days: Vec<NaiveDate> = rows.iter().map(|r| r.observed_at.date_naive()).collect();
        let usd: Vec<Option<(f64, Conversion)>> = rows
            .iter()
            .zip(&days)
            .map(|(r, day)| self.book.listing_usd(market, *day, &r.listing))
            .collect();

        // Prices per unit, per period and group; groups it could not be priced in.
        let mut groups: BTreeMap<(NaiveDate, String, String, &'static str), Vec<f64>> =
            BTreeMap::new();
        let mut unconverted: BTreeSet<(NaiveDate, String, String)> = BTreeSet::new();
        let mut origins: BTreeSet<(NaiveDate, String)> = BTreeSet::new();
        let mut flows: BTreeSet<(NaiveDate, String, String)> = BTreeSet::new();
        let mut vendor_periods: BTreeSet<(NaiveDate, i64)> = BTreeSet::new();
        let mut vendor_usd: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        // Per day of this listing: the vendors it was seen with.
        let mut listing_days: BTreeMap<NaiveDate, BTreeSet<i64>> = BTreeMap::new();
        let mut accounts: BTreeMap<i64, ListingAccount> = BTreeMap::new();
        for ((row, day), usd) in rows.iter().zip(&days).zip(&usd) {
            let p = period.start_of(*day);
            let substance = row.listing.category.last().cloned().unwrap_or_default();
            let origin = row
                .listing
                .ships_from
                .map(|c| c.code().to_string())
                .unwrap_or_default();
            match (usd, row.listing.quantity.as_ref().and_then(units)) {
                (Some((usd, _)), Some((unit, count))) => groups
                    .entry((p, substance, origin.clone(), unit))
                    .or_default()
                    .push(usd / count),
                _ => {
                    unconverted.insert((p, substance, origin.clone()));
                }
            }
            for to in &row.listing.ships_to {
                flows.insert((p, origin.clone(), to.code().to_string()));
            }
            origins.insert((p, origin));
            if let Some(last) = row.listing.category.last() {
                if !digest.substances.contains(last) {
                    digest.substances.insert(last.clone());
                }
            }
            let seen = listing_days.entry(*day).or_default();
            if let Some(vendor) = row.vendor_id {
                seen.insert(vendor);
                vendor_periods.insert((p, vendor));
                if let Some((usd, _)) = usd {
                    vendor_usd.entry(vendor).or_default().push(*usd);
                }
                if let Some(handle) = &row.vendor {
                    let account = accounts.entry(vendor).or_insert_with(|| ListingAccount {
                        handle: handle.clone(),
                        first_seen: row.observed_at,
                        last_seen: row.observed_at,
                        titles: BTreeSet::new(),
                    });
                    account.first_seen = account.first_seen.min(row.observed_at);
                    account.last_seen = account.last_seen.max(row.observed_at);
                    if let Some(title) = &row.listing.title {
                        if !account.titles.contains(title) {
                            account.titles.insert(title.clone());
                        }
                    }
                }
            }
        }
        for ((p, substance, origin, unit), mut values) in groups {
            values.sort_by(f64::total_cmp);
            if let Some(median) = quantile(&values, 0.5) {
                digest
                    .unit_prices
                    .entry((market.to_string(), p, substance, origin, unit))
                    .or_default()
                    .push(median);
            }
        }
        for (p, substance, origin) in unconverted {
            *digest
                .unconverted
                .entry((market.to_string(), p, substance, origin))
                .or_default() += 1;
        }
        for (p, origin) in origins {
            *digest
                .origins
                .entry((market.to_string(), p))
                .or_default()
                .entry(origin)
                .or_default() += 1;
        }
        for (p, origin, to) in flows {
            *digest
                .flows
                .entry((market.to_string(), p, origin, to))
                .or_default() += 1;
        }
        for (p, vendor) in vendor_periods {
            *digest
                .vendor_listings
                .entry((market.to_string(), p))
                .or_default()
                .entry(vendor)
                .or_default() += 1;
        }
        for (vendor, mut values) in vendor_usd {
            values.sort_by(f64::total_cmp);
            digest
                .vendor_listing_usd
                .entry((market.to_string(), vendor))
                .or_default()
                .push(values[values.len() / 2]);
        }
        let last_day = listing_days.keys().next_back().copied();
        for (day, vendors) in listing_days {
            let seen = digest.days.entry((market.to_string(), day)).or_default();
            seen.listings += 1;
            seen.listings_ending += usize::from(Some(day) == last_day);
            for vendor in vendors {
                seen.vendors.insert(vendor);
                let last = digest
                    .vendor_last_day
                    .entry((market.to_string(), vendor))
                    .or_insert(day);
                *last = (*last).max(day);
            }
        }
        for (vendor, account) in accounts {
            match digest.accounts.entry((market.to_string(), vendor)) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(account);
                }
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    let known = slot.get_mut();
                    known.first_seen = known.first_seen.min(account.first_seen);
                    known.last_seen = known.last_seen.max(account.last_seen);
                    known.titles.extend(account.titles);
                }
            }
        }

        // Feedback: entries naming this listing, and entries whose item is one of its titles.
        let priced: Vec<(NaiveDate, (f64, Conversion))> = days
            .iter()
            .zip(&usd)
            .filter_map(|(day, usd)| usd.map(|u| (*day, u)))
            .collect();
        let attribution = |day: NaiveDate, shown: bool| Attribution {
            listing: listing_id,
            priced: if shown {
                None
            } else {
                nearest_priced(&priced, day)
            },
            category: first.listing.category.first().cloned(),
            origin: first.listing.ships_from.map(|c| c.code().to_string()),
        };
        if let Some(entries) = self.by_listing.get(&listing_id) {
            for &i in entries {
                let p = &mut self.pending[i];
                p.direct = Some(attribution(p.day, p.shown.is_some()));
            }
        }
        if !self.by_title.is_empty() {
            // (vendor, normalised title) -> when the listing was first seen with it.
            let mut titles: BTreeMap<(i64, String), DateTime<Utc>> = BTreeMap::new();
            let mut last_title: Option<(i64, &str)> = None;
            for row in rows {
                if let (Some(vendor), Some(title)) = (row.vendor_id, row.listing.title.as_deref()) {
                    if last_title == Some((vendor, title)) {
                        continue;
                    }
                    last_title = Some((vendor, title));
                    titles
                        .entry((vendor, normalise(title)))
                        .or_insert(row.observed_at);
                }
            }
            for (key, first_seen) in titles {
                let Some(entries) = self.by_title.get(&key) else {
                    continue;
                };
                for &i in entries {
                    let p = &mut self.pending[i];
                    let rank = (nearest_distance(&days, p.day), first_seen, listing_id);
                    if p.by_title.as_ref().is_none_or(|(best, _)| rank < *best) {
                        p.by_title = Some((rank, attribution(p.day, p.shown.is_some())));
                    }
                }
            }
        }
    }
}

/// Days from `day` to the nearest of `days` (sorted, not empty).
fn nearest_distance(days: &[NaiveDate], day: NaiveDate) -> i64 {
    let i = days.partition_point(|d| *d < day);
    let after = days.get(i).map(|d| (*d - day).num_days());
    let before = i.checked_sub(1).map(|j| (day - days[j]).num_days());
    after.into_iter().chain(before).min().unwrap_or(i64::MAX)
}

/// The price observed nearest `day` among `priced` (oldest first): the nearest day, the
/// earlier day on a tie, the first observation of that day.
fn nearest_priced(
    priced: &[(NaiveDate, (f64, Conversion))],
    day: NaiveDate,
) -> Option<(f64, Conversion)> {
    let i = priced.partition_point(|(d, _)| *d < day);
    let after = priced.get(i);
    if let Some((_, usd)) = after.filter(|(d, _)| *d == day) {
        return Some(*usd);
    }
    let before = i.checked_sub(1).map(|j| {
        let d = priced[j].0;
        &priced[priced.partition_point(|(e, _)| *e < d)]
    });
    match (before, after) {
        (Some(b), Some(a)) => {
            if (day - b.0).num_days() <= (a.0 - day).num_days() {
                Some(b.1)
            } else {
                Some(a.1)
            }
        }
        (Some(only), None) | (None, Some(only)) => Some(only.1),
        (None, None) => None,
    }
}

/// Lower case, letters and digits only, single spaces: for comparing titles and texts.
pub fn normalise(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 3, day).unwrap()
    }

    #[test]
    fn nearest_priced_takes_the_nearest_day_then_the_earlier_then_the_first_of_the_day() {
        let usd = |v: f64| (v, Conversion::Usd);
        let priced = [
            (d(2), usd(1.0)),
            (d(2), usd(2.0)),
            (d(6), usd(3.0)),
            (d(6), usd(4.0)),
            (d(9), usd(5.0)),
        ];
        assert_eq!(nearest_priced(&priced, d(1)).unwrap().0, 1.0);
        assert_eq!(nearest_priced(&priced, d(2)).unwrap().0, 1.0);
        // Two days from both: the earlier wins, and its first observation.
        assert_eq!(nearest_priced(&priced, d(4)).unwrap().0, 1.0);
        assert_eq!(nearest_priced(&priced, d(5)).unwrap().0, 3.0);
        assert_eq!(nearest_priced(&priced, d(6)).unwrap().0, 3.0);
        assert_eq!(nearest_priced(&priced, d(8)).unwrap().0, 5.0);
        assert_eq!(nearest_priced(&priced, d(20)).unwrap().0, 5.0);
        assert_eq!(nearest_priced(&[], d(20)), None);
        // The same as the scan it replaces, for every day around the observations.
        for day in 1..=12 {
            let scan = priced
                .iter()
                .min_by_key(|(s, _)| ((*s - d(day)).num_days().abs(), *s > d(day)))
                .map(|(_, u)| *u);
            assert_eq!(nearest_priced(&priced, d(day)), scan, "day {day}");
        }
    }

    #[test]
    fn nearest_distance_is_the_smallest_gap() {
        let days = [d(2), d(2), d(6), d(9)];
        let expected = [1, 0, 1, 2, 1, 0, 1, 1, 0, 1];
        for (day, want) in (1..=10).zip(expected) {
            assert_eq!(nearest_distance(&days, d(day)), want, "day {day}");
        }
    }
}
