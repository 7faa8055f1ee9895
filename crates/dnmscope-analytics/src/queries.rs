//! The questions analysts ask most, each answered with one [`Table`]: a vendor's history, a
//! substance's price trend, a market's timeline, and vendor links.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use dnmscope_store::{AnalyticsFilter, Store};

use crate::data::Dataset;
use crate::error::{AnalyticsError, Context};
use crate::indicators::{float, int, text};
use crate::table::{Cell, Column, ColumnType as T, Table};
use crate::{indicators, linking, Filter, Period};

/// A vendor's history on a market, per observed day: listings, prices, profile figures and
/// feedback entries.
pub async fn vendor_history(
    store: &Store,
    market: &str,
    handle: &str,
) -> Result<Table, AnalyticsError> {
    let filter = Filter {
        markets: vec![market.to_string()],
        ..Filter::default()
    };
    filter.check()?;
    let data = VendorData::load(store, market, handle).await?;
    let wanted = handle.trim().to_lowercase();
    let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    #[derive(Default)]
    struct Day {
        listings: std::collections::BTreeSet<i64>,
        prices: Vec<f64>,
        rating: Option<f64>,
        sales: Option<i64>,
        feedback: i64,
    }
    let mut found = false;
    for day in &data.prices.days {
        found = true;
        let entry = days.entry(day.day).or_default();
        entry.listings.extend(day.listing_ids.iter().copied());
        // As `RateBook::listing_usd` reads a USD price.
        entry.prices.extend(
            day.usd_prices
                .iter()
                .filter_map(|p| rust_decimal::prelude::ToPrimitive::to_f64(&p.amount)),
        );
    }
    for row in &data.prices.converted {
        let day = row.observed_at.date_naive();
        if let Some((usd, _)) = data.book.listing_usd(market, day, &row.listing) {
            days.entry(day).or_default().prices.push(usd);
        }
    }
    for row in &data.vendors {
        if row.handle.to_lowercase() == wanted {
            found = true;
            let entry = days.entry(row.observed_at.date_naive()).or_default();
            entry.rating = row.vendor.rating.or(entry.rating);
            entry.sales = row
                .vendor
                .sales
                .and_then(|s| i64::try_from(s).ok())
                .or(entry.sales);
        }
    }
    for f in &data.feedback {
        if f.vendor.as_deref().map(str::to_lowercase) == Some(wanted.clone()) {
            found = true;
            days.entry(Dataset::feedback_day(f)).or_default().feedback += 1;
        }
    }
    if !found {
        return Err(AnalyticsError::Input {
            what: format!("vendor {handle:?} on {market}"),
            reason: "no observation of this vendor in the store".to_string(),
        });
    }
    let mut table = Table::new(
        "vendor_history",
        format!(
            "The history of vendor {handle} on {market}, per day with an observation or feedback."
        ),
        vec![
            Column::new("day", T::Date, "calendar day (UTC)"),
            Column::new("listings", T::Integer, "listings observed that day"),
            Column::new(
                "median_price_usd",
                T::Float,
                "median listing price in USD that day",
            ),
            Column::new("rating", T::Float, "profile rating as shown"),
            Column::new("profile_sales", T::Integer, "sales the profile showed"),
            Column::new(
                "feedback_entries",
                T::Integer,
                "feedback entries dated that day",
            ),
        ],
    );
    for (day, mut d) in days {
        d.prices.sort_by(f64::total_cmp);
        table.push(vec![
            Cell::Date(day),
            int(d.listings.len() as i64),
            float(crate::prices::quantile(&d.prices, 0.5).map(crate::prices::cents)),
            float(d.rating),
            d.sales.map(Cell::Integer).unwrap_or(Cell::Null),
            int(d.feedback),
        ]);
    }
    Ok(table)
}

/// What a vendor's history reads: that vendor's rows only, found through the vendor indexes
/// (a vendor's history on an archive of millions of observations reads one row per day for its
/// USD prices, from the index alone), and a rate book that is the market's own wherever one of
/// its coin prices needs it.
struct VendorData {
    prices: dnmscope_store::VendorPrices,
    vendors: Vec<dnmscope_store::VendorObservationRow>,
    feedback: Vec<dnmscope_store::FeedbackRow>,
    book: crate::prices::RateBook,
}

impl VendorData {
    async fn load(store: &Store, market: &str, handle: &str) -> Result<VendorData, AnalyticsError> {
        let market_only = AnalyticsFilter {
            markets: vec![market.to_string()],
            ..AnalyticsFilter::default()
        };
        let vendor = AnalyticsFilter {
            vendor: Some(handle.to_string()),
            ..market_only.clone()
        };
        let what = || format!("vendor {handle:?} on {market}");
        let prices = store
            .vendor_prices(market, handle)
            .await
            .context(|| format!("loading the listing prices of {}", what()))?;
        let vendors = store
            .vendor_observations(&vendor)
            .await
            .context(|| format!("loading the profile observations of {}", what()))?;
        let feedback = store
            .feedback_rows(&vendor)
            .await
            .context(|| format!("loading the feedback of {}", what()))?;
        // A listing priced in a coin with no USD price or rate on its own page is converted
        // with the market's rates of the day, which come from every listing of the market (and
        // the imported rates): only then is the whole market read, and the book is the one
        // `Dataset` builds. Otherwise no price consults the book's rates.
        let book = if prices
            .converted
            .iter()
            .any(|row| crate::prices::needs_market_rates(&row.listing))
        {
            let rates = store
                .rates()
                .await
                .context(|| "loading exchange rates".to_string())?;
            crate::data::rate_book(store, &market_only, &rates)
                .await
                .context(|| format!("reading the exchange rates the pages of {market} show"))?
        } else {
            crate::prices::RateBook::new(&[], &[])
        };
        Ok(VendorData {
            prices,
            vendors,
            feedback,
            book,
        })
    }
}

/// A substance's (or any filter's) price per unit over time: the `prices` indicator.
pub async fn price_trend(store: &Store, filter: &Filter) -> Result<Table, AnalyticsError> {
    filter.check()?;
    let data = Dataset::load(store, &filter.store_filter(), filter.period).await?;
    let mut table = indicators::price_table(&data);
    table.name = "price_trend".to_string();
    Ok(table)
}

/// A market's timeline per period: listings, vendors (active, new, departed), feedback
/// entries and events.
pub async fn market_timeline(
    store: &Store,
    market: &str,
    period: Period,
) -> Result<Table, AnalyticsError> {
    let filter = Filter {
        markets: vec![market.to_string()],
        period,
        ..Filter::default()
    };
    let rollups = crate::weekly_rollups(store, &filter).await?;
    let events = store
        .event_rows(&AnalyticsFilter {
            markets: vec![market.to_string()],
            ..AnalyticsFilter::default()
        })
        .await
        .context(|| format!("reading the events of {market}"))?;
    #[derive(Default, Clone)]
    struct Row {
        listings: Option<i64>,
        active: Option<i64>,
        new: Option<i64>,
        departed: Option<i64>,
        feedback: Option<i64>,
        events: Vec<String>,
    }
    let mut rows: BTreeMap<NaiveDate, Row> = BTreeMap::new();
    let cell_int = |c: &Cell| match c {
        Cell::Integer(n) => Some(*n),
        _ => None,
    };
    let cell_date = |c: &Cell| match c {
        Cell::Date(d) => Some(*d),
        _ => None,
    };
    for table in &rollups {
        for r in &table.rows {
            let Some(p) = cell_date(&r[1]) else { continue };
            let row = rows.entry(p).or_default();
            match table.name.as_str() {
                "activity" => row.listings = cell_int(&r[2]),
                "vendor_flow" => {
                    row.active = cell_int(&r[2]);
                    row.new = cell_int(&r[3]);
                    row.departed = cell_int(&r[4]);
                }
                "feedback_activity" => row.feedback = cell_int(&r[2]),
                _ => {}
            }
        }
    }
    for e in &events {
        rows.entry(period.start_of(e.observed_at.date_naive()))
            .or_default()
            .events
            .push(format!("{} {}", e.observed_at.format("%Y-%m-%d"), e.kind));
    }
    if rows.is_empty() {
        return Err(AnalyticsError::Input {
            what: format!("market {market:?}"),
            reason: "no observation of this market in the store".to_string(),
        });
    }
    let mut table = Table::new(
        "market_timeline",
        format!("The timeline of {market} per {}.", period.as_str()),
        vec![
            Column::new("period_start", T::Date, "first day of the period"),
            Column::new("listings", T::Integer, "distinct listings observed"),
            Column::new("active_vendors", T::Integer, "vendors seen with a listing"),
            Column::new("new_vendors", T::Integer, "vendors first seen"),
            Column::new(
                "departed_vendors",
                T::Integer,
                "vendors last seen in the previous observed period",
            ),
            Column::new(
                "feedback_entries",
                T::Integer,
                "feedback entries dated in the period",
            ),
            Column::new("events", T::Text, "events observed in the period"),
        ],
    );
    let opt = |v: Option<i64>| v.map(Cell::Integer).unwrap_or(Cell::Null);
    for (p, r) in rows {
        table.push(vec![
            Cell::Date(p),
            opt(r.listings),
            opt(r.active),
            opt(r.new),
            opt(r.departed),
            opt(r.feedback),
            text(r.events.join(", ")),
        ]);
    }
    Ok(table)
}

/// Candidate vendor links (all, or those of one handle), with score, status and evidence.
pub async fn vendor_links(
    store: &Store,
    filter: &Filter,
    handle: Option<&str>,
) -> Result<Table, AnalyticsError> {
    filter.check()?;
    // Links span markets: load every market, then keep the links touching the filter's.
    let data = Dataset::load(store, &AnalyticsFilter::default(), filter.period).await?;
    let profiles = linking::profiles(&data);
    let links: Vec<linking::Link> = linking::candidate_links(&data, &profiles)
        .into_iter()
        .filter(|l| {
            let (a, b) = (&profiles[l.a], &profiles[l.b]);
            let market_ok = filter.markets.is_empty()
                || filter.markets.contains(&a.market)
                || filter.markets.contains(&b.market);
            let handle_ok = handle.is_none_or(|h| {
                let h = h.trim().to_lowercase();
                a.handle.to_lowercase() == h || b.handle.to_lowercase() == h
            });
            market_ok && handle_ok
        })
        .collect();
    Ok(linking::links_table(&profiles, &links))
}
