//! The indicators read listing observations as a stream, one listing at a time, and keep only
//! aggregates ([`Dataset`]). These tests hold that reduction to the plain computation over every
//! observation in memory (`Store::listing_observations`, written out here as the oracle) on a
//! small store built to have what makes the reduction hard: prices in coins converted by the
//! page's rates and by the market's rates of the day, origins that change, listings that end
//! before a seizure, feedback attributed by listing and by title (two listings with one title),
//! and filters that narrow the listings.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use dnmscope_analytics::{
    candidate_links, event_tables, profiles, Cell, Dataset, Period, RateBook, Sale,
};
use dnmscope_model::{
    Capture, Country, Currency, Extraction, FeedbackEntry, FeedbackRating, Listing, MarketEvent,
    MarketEventKind, MarketName, Money, PageKind, Quantity,
};
use dnmscope_store::{
    AnalyticsFilter, FeedbackRow, ListingObservationRow, Location, Store, StoreOptions,
};
use rust_decimal::Decimal;

fn at(day: i64, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 4, hour, 0, 0).unwrap() + Duration::days(day)
}

fn money(amount: &str, currency: &str) -> Money {
    Money::new(amount, currency).unwrap()
}

fn country(code: &str) -> Country {
    Country::from_code(code).unwrap()
}

struct Spec {
    key: &'static str,
    title: &'static str,
    vendor: &'static str,
    substance: &'static str,
    grams: u32,
    days: std::ops::Range<i64>,
}

/// The listing `spec` as shown on `day`.
fn listing(spec: &Spec, day: i64) -> Listing {
    let usd = 10 + day * 3 + spec.grams as i64;
    let mut listing = Listing {
        key: spec.key.to_string(),
        title: Some(spec.title.to_string()),
        vendor: Some(spec.vendor.to_string()),
        category: vec!["Drugs".to_string(), spec.substance.to_string()],
        price: Some(money(&format!("{usd}.50"), "USD")),
        quantity: Some(Quantity {
            count: 1,
            amount: Decimal::from(spec.grams),
            unit: "g".to_string(),
        }),
        ships_from: Some(country(if day < 9 { "NL" } else { "DE" })),
        ships_to: vec![country("WW"), country("US")],
        ..Listing::default()
    };
    match spec.key {
        // Priced in BTC with the market's rates printed on the page.
        "btc-rates" => {
            listing.price = Some(money(&format!("0.00{}", 100 + day), "BTC"));
            listing.exchange_rates = [
                (
                    Currency::new("USD").unwrap(),
                    Decimal::from(60_000 + day * 100),
                ),
                (Currency::new("XMR").unwrap(), Decimal::from(400)),
            ]
            .into_iter()
            .collect();
        }
        // Priced in XMR alone: converted with the rates the market's other pages show that day.
        "xmr-only" => listing.price = Some(money(&format!("{}.25", 1 + day), "XMR")),
        // USD and XMR side by side: a market rate for the day.
        "pair" => listing.other_prices = vec![money(&format!("{}.5", 2 + day % 3), "XMR")],
        // No quantity: counted as unconverted.
        "no-quantity" => listing.quantity = None,
        _ => {}
    }
    listing
}

fn entry(
    vendor: &str,
    listing_key: Option<&str>,
    item: &str,
    day: i64,
    price: Option<Money>,
) -> FeedbackEntry {
    FeedbackEntry {
        vendor: Some(vendor.to_string()),
        listing_key: listing_key.map(str::to_string),
        rating: FeedbackRating::Positive,
        text: format!("thanks {item} {day} {listing_key:?}"),
        date_text: None,
        left_on: NaiveDate::from_ymd_opt(2024, 3, 4).map(|d| d + Duration::days(day)),
        left_on_within_days: 0,
        item: Some(item.to_string()),
        price,
    }
}

/// Two markets over 16 days; `north` is seized on day 11.
async fn store() -> Store {
    let store = Store::open(&StoreOptions::new(Location::SqliteMemory))
        .await
        .unwrap();
    let north = [
        Spec {
            key: "mdma",
            title: "Dutch MDMA 1g",
            vendor: "Alpha",
            substance: "MDMA",
            grams: 1,
            days: 0..16,
        },
        // The same title (once normalised) by the same vendor, seen for three days only.
        Spec {
            key: "mdma-copy",
            title: "dutch mdma, 1g!",
            vendor: "Alpha",
            substance: "MDMA",
            grams: 1,
            days: 5..8,
        },
        Spec {
            key: "btc-rates",
            title: "Cocaine 2g",
            vendor: "Alpha",
            substance: "Cocaine",
            grams: 2,
            days: 0..16,
        },
        Spec {
            key: "xmr-only",
            title: "Weed 5g",
            vendor: "Bravo",
            substance: "Weed",
            grams: 5,
            days: 0..11,
        },
        Spec {
            key: "pair",
            title: "Weed 10g",
            vendor: "Bravo",
            substance: "Weed",
            grams: 10,
            days: 0..13,
        },
        Spec {
            key: "no-quantity",
            title: "Mystery",
            vendor: "Charlie",
            substance: "MDMA",
            grams: 1,
            days: 2..11,
        },
    ];
    let south = [
        Spec {
            key: "s1",
            title: "Speed 3g",
            vendor: "Delta",
            substance: "Speed",
            grams: 3,
            days: 0..16,
        },
        Spec {
            key: "s2",
            title: "Dutch MDMA 1g",
            vendor: "alpha",
            substance: "MDMA",
            grams: 1,
            days: 12..16,
        },
    ];
    for day in 0..16 {
        let crawl = store
            .begin_crawl(
                &[
                    MarketName::new("north").unwrap(),
                    MarketName::new("south").unwrap(),
                ],
                &serde_json::json!({"test": "streamed"}),
                at(day, 1),
            )
            .await
            .unwrap();
        for (market, specs) in [("north", &north[..]), ("south", &south[..])] {
            if market == "north" && day == 14 {
                continue; // a day without a crawl of north
            }
            for (i, spec) in specs
                .iter()
                .enumerate()
                .filter(|(_, s)| s.days.contains(&day))
            {
                // Two observations a day of the first listing: the nearest-price rule must take
                // the first of the day.
                for round in 0..(if i == 0 { 2 } else { 1 }) {
                    let mut extraction = Extraction::empty(PageKind::Listing, "streamed@1");
                    let mut shown = listing(spec, day);
                    if round == 1 {
                        shown.price = Some(money("999.00", "USD"));
                    }
                    extraction.listings.push(shown);
                    // Vendor pages show entries with their item only: attributed by title.
                    let mut vendor_page = Extraction::empty(PageKind::Vendor, "streamed@1");
                    if day % 4 == 1 && round == 0 {
                        // Named by its listing, and by its item only (no price, then a price).
                        extraction.feedback.push(entry(
                            spec.vendor,
                            Some(spec.key),
                            spec.title,
                            day - 1,
                            None,
                        ));
                        vendor_page.feedback.push(entry(
                            spec.vendor,
                            None,
                            spec.title,
                            day + 2,
                            None,
                        ));
                        vendor_page.feedback.push(entry(
                            spec.vendor,
                            None,
                            spec.title,
                            day,
                            Some(money("0.001", "BTC")),
                        ));
                    }
                    for (page, extraction) in [("listing", extraction), ("vendor", vendor_page)] {
                        let capture = Capture {
                            market: MarketName::new(market).unwrap(),
                            crawl,
                            url: format!(
                                "http://{market}.onion/{page}/{}?day={day}&round={round}",
                                spec.key
                            ),
                            final_url: None,
                            fetched_at: at(day, 2 + i as u32 + round),
                            status: 200,
                            headers: Vec::new(),
                            body: format!(
                                "<html>{page} {market} {} {day} {round}</html>",
                                spec.key
                            )
                            .into_bytes(),
                            truncated: None,
                            elapsed_ms: None,
                        };
                        store.ingest(&capture, &extraction).await.unwrap();
                    }
                }
            }
            if market == "north" && day == 11 {
                let mut extraction = Extraction::empty(PageKind::Seizure, "streamed@1");
                extraction.events.push(MarketEvent {
                    kind: MarketEventKind::SeizureBanner,
                    observed_at: at(day, 20),
                    detail: "seized".to_string(),
                });
                let capture = Capture {
                    market: MarketName::new(market).unwrap(),
                    crawl,
                    url: "http://north.onion/".to_string(),
                    final_url: None,
                    fetched_at: at(day, 20),
                    status: 200,
                    headers: Vec::new(),
                    body: b"<html>seized</html>".to_vec(),
                    truncated: None,
                    elapsed_ms: None,
                };
                store.ingest(&capture, &extraction).await.unwrap();
            }
        }
    }
    store
}

fn normalise(text: &str) -> String {
    dnmscope_analytics::normalise(text)
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    let weight = position - low as f64;
    Some(sorted[low] * (1.0 - weight) + sorted[high] * weight)
}

/// (market, period start, substance, origin): a price group.
type Group = (String, NaiveDate, String, String);

/// The price group of an observation.
fn group(row: &ListingObservationRow, period: Period) -> Group {
    (
        row.market.clone(),
        period.start_of(row.observed_at.date_naive()),
        row.listing.category.last().cloned().unwrap_or_default(),
        row.listing
            .ships_from
            .map(|c| c.code().to_string())
            .unwrap_or_default(),
    )
}

/// The oracle: every observation in memory, oldest first.
struct Oracle {
    rows: Vec<ListingObservationRow>,
    book: RateBook,
}

impl Oracle {
    async fn load(store: &Store, filter: &AnalyticsFilter) -> Oracle {
        let rows = store.listing_observations(filter).await.unwrap();
        let markets_only = AnalyticsFilter {
            markets: filter.markets.clone(),
            ..AnalyticsFilter::default()
        };
        let every = store.listing_observations(&markets_only).await.unwrap();
        let book = RateBook::new(&every, &store.rates().await.unwrap());
        Oracle { rows, book }
    }

    fn usd(&self, row: &ListingObservationRow) -> Option<f64> {
        self.book
            .listing_usd(&row.market, row.observed_at.date_naive(), &row.listing)
            .map(|(usd, _)| usd)
    }

    /// Per price group, the listings' medians, sorted.
    fn unit_prices(&self, period: Period) -> BTreeMap<Group, Vec<f64>> {
        let mut groups: BTreeMap<Group, HashMap<i64, Vec<f64>>> = BTreeMap::new();
        for row in &self.rows {
            let (Some(usd), Some(q)) = (self.usd(row), row.listing.quantity.as_ref()) else {
                continue;
            };
            let grams: f64 = q.amount.to_string().parse().unwrap();
            groups
                .entry(group(row, period))
                .or_default()
                .entry(row.listing_id)
                .or_default()
                .push(usd / grams);
        }
        groups
            .into_iter()
            .map(|(key, listings)| {
                let mut medians: Vec<f64> = listings
                    .into_values()
                    .map(|mut v| {
                        v.sort_by(f64::total_cmp);
                        quantile(&v, 0.5).unwrap()
                    })
                    .collect();
                medians.sort_by(f64::total_cmp);
                (key, medians)
            })
            .collect()
    }

    /// Each feedback entry's listing and USD price, as the in-memory computation attributed them.
    fn sales(
        &self,
        feedback: &[FeedbackRow],
        narrowed: bool,
    ) -> Vec<(i64, Option<i64>, Option<f64>)> {
        let mut by_listing: HashMap<i64, Vec<(NaiveDate, Option<f64>)>> = HashMap::new();
        let mut by_title: HashMap<(i64, String), Vec<i64>> = HashMap::new();
        for row in &self.rows {
            by_listing
                .entry(row.listing_id)
                .or_default()
                .push((row.observed_at.date_naive(), self.usd(row)));
            if let (Some(vendor), Some(title)) = (row.vendor_id, &row.listing.title) {
                let ids = by_title.entry((vendor, normalise(title))).or_default();
                if !ids.contains(&row.listing_id) {
                    ids.push(row.listing_id);
                }
            }
        }
        let vendors: BTreeSet<i64> = self.rows.iter().filter_map(|r| r.vendor_id).collect();
        let mut out = Vec::new();
        for f in feedback {
            if narrowed && !f.vendor_id.is_some_and(|v| vendors.contains(&v)) {
                continue;
            }
            let day = Dataset::feedback_day(f);
            let listing = f
                .listing_id
                .filter(|id| by_listing.contains_key(id))
                .or_else(|| {
                    let ids = by_title.get(&(f.vendor_id?, normalise(f.item.as_deref()?)))?;
                    ids.iter().copied().min_by_key(|id| {
                        by_listing[id]
                            .iter()
                            .map(|(d, _)| (*d - day).num_days().abs())
                            .min()
                            .unwrap()
                    })
                });
            if narrowed && listing.is_none() {
                continue;
            }
            let shown = match (&f.price_amount, &f.price_currency) {
                (Some(a), Some(c)) => self
                    .book
                    .to_usd(&f.market, day, &money(a, c))
                    .map(|(usd, _)| usd),
                _ => None,
            };
            let usd = shown.or_else(|| {
                by_listing[&listing?]
                    .iter()
                    .filter(|(_, usd)| usd.is_some())
                    .min_by_key(|(d, _)| ((*d - day).num_days().abs(), *d > day))
                    .and_then(|(_, usd)| *usd)
            });
            out.push((f.feedback_id, listing, usd));
        }
        out
    }

    /// Per event: vendors and listings on the last day before it, and of those, the ones never
    /// seen on or after its day.
    fn impact(&self, market: &str, event_day: NaiveDate) -> (usize, usize, usize, usize) {
        let mut days: BTreeMap<NaiveDate, (BTreeSet<i64>, BTreeSet<i64>)> = BTreeMap::new();
        for row in self.rows.iter().filter(|r| r.market == market) {
            let e = days.entry(row.observed_at.date_naive()).or_default();
            e.1.insert(row.listing_id);
            e.0.extend(row.vendor_id);
        }
        let (_, (vendors, listings)) = days.range(..event_day).next_back().unwrap();
        let (mut vendors_after, mut listings_after) = (BTreeSet::new(), BTreeSet::new());
        for (_, (v, l)) in days.range(event_day..) {
            vendors_after.extend(v.iter().copied());
            listings_after.extend(l.iter().copied());
        }
        (
            vendors.len(),
            listings.len(),
            vendors.difference(&vendors_after).count(),
            listings.difference(&listings_after).count(),
        )
    }
}

fn filters() -> Vec<(&'static str, AnalyticsFilter)> {
    vec![
        ("everything", AnalyticsFilter::default()),
        (
            "origin NL",
            AnalyticsFilter {
                origin: Some("NL".into()),
                ..AnalyticsFilter::default()
            },
        ),
        (
            "substance Weed",
            AnalyticsFilter {
                substance: Some("Weed".into()),
                ..AnalyticsFilter::default()
            },
        ),
        (
            "market north",
            AnalyticsFilter {
                markets: vec!["north".into()],
                ..AnalyticsFilter::default()
            },
        ),
        (
            "vendor Alpha",
            AnalyticsFilter {
                vendor: Some("Alpha".into()),
                ..AnalyticsFilter::default()
            },
        ),
    ]
}

#[tokio::test]
async fn the_streamed_reduction_gives_what_every_observation_in_memory_gives() {
    let store = store().await;
    for period in [Period::Week, Period::Day] {
        for (name, filter) in filters() {
            let data = Dataset::load(&store, &filter, period).await.unwrap();
            let oracle = Oracle::load(&store, &filter).await;
            let what = format!("{name}, by {}", period.as_str());
            assert!(
                !oracle.rows.is_empty(),
                "{what}: the filter matches nothing"
            );
            assert_eq!(
                data.listings.observations,
                oracle.rows.len() as u64,
                "{what}"
            );

            // Prices per unit: the listings' medians per group.
            let mut streamed: BTreeMap<Group, Vec<f64>> = BTreeMap::new();
            for ((market, p, substance, origin, _unit), medians) in &data.listings.unit_prices {
                let mut medians = medians.clone();
                medians.sort_by(f64::total_cmp);
                streamed.insert(
                    (market.clone(), *p, substance.clone(), origin.clone()),
                    medians,
                );
            }
            assert_eq!(
                streamed,
                oracle.unit_prices(period),
                "{what}: prices per unit"
            );
            let mut unconverted: BTreeMap<Group, BTreeSet<i64>> = BTreeMap::new();
            for row in &oracle.rows {
                if oracle.usd(row).is_none() || row.listing.quantity.is_none() {
                    unconverted
                        .entry(group(row, period))
                        .or_default()
                        .insert(row.listing_id);
                }
            }
            let expected: BTreeMap<_, _> =
                unconverted.into_iter().map(|(k, v)| (k, v.len())).collect();
            assert_eq!(data.listings.unconverted, expected, "{what}: unconverted");
            if !filter.narrows_listings() {
                assert!(
                    !expected.is_empty(),
                    "{what}: the listing without a quantity is unconverted"
                );
            }

            // Origins: distinct listings per market, period and origin.
            let mut origins: BTreeMap<(String, NaiveDate, String), BTreeSet<i64>> = BTreeMap::new();
            for row in &oracle.rows {
                origins
                    .entry((
                        row.market.clone(),
                        period.start_of(row.observed_at.date_naive()),
                        row.listing
                            .ships_from
                            .map(|c| c.code().to_string())
                            .unwrap_or_default(),
                    ))
                    .or_default()
                    .insert(row.listing_id);
            }
            let streamed: BTreeMap<(String, NaiveDate, String), usize> = data
                .listings
                .origins
                .iter()
                .flat_map(|((m, p), o)| {
                    o.iter()
                        .map(move |(origin, n)| ((m.clone(), *p, origin.clone()), *n))
                })
                .collect();
            let expected: BTreeMap<_, _> = origins.into_iter().map(|(k, v)| (k, v.len())).collect();
            assert_eq!(streamed, expected, "{what}: origins");

            // Sales: every feedback entry's listing and price.
            let feedback = store
                .feedback_rows(&AnalyticsFilter {
                    markets: filter.markets.clone(),
                    ..AnalyticsFilter::default()
                })
                .await
                .unwrap();
            let expected = oracle.sales(&feedback, filter.narrows_listings());
            let ids: Vec<i64> = data.feedback.iter().map(|f| f.feedback_id).collect();
            let got: Vec<(i64, Option<i64>, Option<f64>)> = ids
                .iter()
                .zip(&data.sales)
                .map(|(id, s): (&i64, &Sale)| (*id, s.listing_id, s.usd))
                .collect();
            if !filter.narrows_listings() {
                assert_eq!(got, expected, "{what}: sales");
                assert!(
                    got.iter().any(|(_, l, usd)| l.is_some() && usd.is_some()),
                    "{what}: some sales are priced from listings"
                );
                let by_title = data
                    .feedback
                    .iter()
                    .zip(&data.sales)
                    .filter(|(f, s)| f.listing_id.is_none() && s.listing_id.is_some())
                    .count();
                assert!(
                    by_title >= 10,
                    "{what}: {by_title} entries attributed by title"
                );
            } else {
                let got: BTreeSet<_> = data
                    .sales
                    .iter()
                    .map(|s| (s.listing_id, s.usd.map(f64::to_bits)))
                    .collect();
                let expected: BTreeSet<_> = expected
                    .iter()
                    .map(|(_, l, u)| (*l, u.map(f64::to_bits)))
                    .collect();
                assert_eq!(got, expected, "{what}: sales");
            }

            // The seizure's impact on north.
            if !filter.narrows_listings() {
                let profiles = profiles(&data);
                let links = candidate_links(&data, &profiles);
                let (tables, _) = event_tables(&data, &profiles, &links);
                let impact = tables.iter().find(|t| t.name == "event_impact").unwrap();
                let row = impact
                    .rows
                    .iter()
                    .find(|r| r[0] == Cell::Text("north".into()));
                if let Some(row) = row {
                    let (vb, lb, vl, ll) = oracle.impact("north", at(11, 0).date_naive());
                    let ints: Vec<i64> = row[4..8]
                        .iter()
                        .map(|c| match c {
                            Cell::Integer(i) => *i,
                            other => panic!("{what}: {other:?}"),
                        })
                        .collect();
                    assert_eq!(
                        ints,
                        vec![vb as i64, lb as i64, vl as i64, ll as i64],
                        "{what}: impact"
                    );
                    assert!(ll > 0, "{what}: a listing ended before the seizure");
                } else {
                    panic!("{what}: no impact row for north's seizure");
                }
            }
        }
    }
}
