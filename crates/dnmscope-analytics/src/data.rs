//! Everything the indicators read, loaded from the store once per computation, with the
//! derived lookups several indicators share (USD prices, feedback attributed to listings).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use dnmscope_store::{
    AnalyticsFilter, EventRow, FeedbackRow, LinkDecisionRow, ListingObservationRow, ObservedDay,
    PostRow, RateRow, Store, VendorObservationRow,
};

use crate::error::{AnalyticsError, Context};
use crate::prices::{Conversion, RateBook};

/// The observations of a filter, loaded.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub filter: AnalyticsFilter,
    pub listings: Vec<ListingObservationRow>,
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
    pub async fn load(store: &Store, filter: &AnalyticsFilter) -> Result<Dataset, AnalyticsError> {
        let markets_only = AnalyticsFilter {
            markets: filter.markets.clone(),
            ..AnalyticsFilter::default()
        };
        let listings = store
            .listing_observations(filter)
            .await
            .context(|| "loading listing observations".to_string())?;
        let vendors = store
            .vendor_observations(&markets_only)
            .await
            .context(|| "loading vendor observations".to_string())?;
        let mut feedback = store
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
        if filter.narrows_listings() {
            // Only feedback on vendors that have a matching listing; attribution below keeps
            // only entries on matching listings where the listing is known.
            let vendors: BTreeSet<i64> = listings.iter().filter_map(|l| l.vendor_id).collect();
            feedback.retain(|f| f.vendor_id.is_some_and(|v| vendors.contains(&v)));
        }
        // A full rate book needs every listing of the market, not only the filter's.
        let book = if filter.narrows_listings() {
            let all = store
                .listing_observations(&markets_only)
                .await
                .context(|| "loading listing observations for exchange rates".to_string())?;
            RateBook::new(&all, &rates)
        } else {
            RateBook::new(&listings, &rates)
        };
        Ok(Dataset {
            filter: filter.clone(),
            listings,
            vendors,
            feedback,
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

    /// Every feedback entry as a sale: attributed to a listing (its own, else the vendor's
    /// listing with the entry's item title observed nearest its date) and priced (its own shown
    /// price, else that listing's price observed nearest the date), in USD.
    pub fn sales(&self) -> Vec<Sale> {
        // Per listing: its observations' days, USD prices, category and origin.
        struct Seen {
            day: NaiveDate,
            usd: Option<(f64, Conversion)>,
        }
        let mut by_listing: HashMap<i64, Vec<Seen>> = HashMap::new();
        let mut about: HashMap<i64, (Option<String>, Option<String>)> = HashMap::new();
        let mut by_title: HashMap<(i64, String), Vec<i64>> = HashMap::new();
        for row in &self.listings {
            let day = row.observed_at.date_naive();
            by_listing.entry(row.listing_id).or_default().push(Seen {
                day,
                usd: self.book.listing_usd(&row.market, day, &row.listing),
            });
            about.entry(row.listing_id).or_insert_with(|| {
                (
                    row.listing.category.first().cloned(),
                    row.listing.ships_from.map(|c| c.code().to_string()),
                )
            });
            if let (Some(vendor), Some(title)) = (row.vendor_id, &row.listing.title) {
                let ids = by_title.entry((vendor, normalise(title))).or_default();
                if !ids.contains(&row.listing_id) {
                    ids.push(row.listing_id);
                }
            }
        }
        let nearest = |listing: i64, day: NaiveDate| -> Option<&Seen> {
            by_listing.get(&listing).and_then(|seen| {
                seen.iter()
                    .filter(|s| s.usd.is_some())
                    .min_by_key(|s| ((s.day - day).num_days().abs(), s.day > day))
            })
        };
        let narrowed = self.filter.narrows_listings();
        let mut out = Vec::with_capacity(self.feedback.len());
        for f in &self.feedback {
            let day = Dataset::feedback_day(f);
            let listing = f
                .listing_id
                .filter(|id| by_listing.contains_key(id))
                .or_else(|| {
                    let vendor = f.vendor_id?;
                    let item = f.item.as_deref()?;
                    let ids = by_title.get(&(vendor, normalise(item)))?;
                    ids.iter().copied().min_by_key(|id| {
                        by_listing[id]
                            .iter()
                            .map(|s| (s.day - day).num_days().abs())
                            .min()
                            .unwrap_or(i64::MAX)
                    })
                });
            if narrowed && listing.is_none() {
                continue;
            }
            let shown = match (&f.price_amount, &f.price_currency) {
                (Some(amount), Some(currency)) => dnmscope_model::Money::new(amount, currency).ok(),
                _ => None,
            };
            let priced = shown
                .and_then(|money| self.book.to_usd(&f.market, day, &money))
                .map(|(usd, how)| (usd, ("feedback", how)))
                .or_else(|| {
                    let seen = nearest(listing?, day)?;
                    seen.usd.map(|(usd, how)| (usd, ("listing", how)))
                });
            let (category, origin) = listing
                .and_then(|id| about.get(&id).cloned())
                .unwrap_or((None, None));
            out.push(Sale {
                market: f.market.clone(),
                vendor_id: f.vendor_id,
                vendor: f.vendor.clone(),
                listing_id: listing,
                day,
                usd: priced.map(|p| p.0),
                priced_from: priced.map(|p| p.1),
                category,
                origin,
            });
        }
        out
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
