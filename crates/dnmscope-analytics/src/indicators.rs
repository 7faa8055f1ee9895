//! Market indicators over time: activity, vendor flows and survival, prices per unit, estimated
//! sales, origins and flows, concentration. Each function returns [`Table`]s with documented
//! columns.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use dnmscope_store::{ActivityRow, FeedbackActivityRow, Period, VendorSpan};

use crate::data::{Dataset, Sale};
use crate::prices::{cents, quantile};
use crate::table::{Cell, Column, ColumnType as T, Table};

pub(crate) fn text(value: impl Into<String>) -> Cell {
    Cell::Text(value.into())
}
pub(crate) fn int(value: impl TryInto<i64>) -> Cell {
    value.try_into().map(Cell::Integer).unwrap_or(Cell::Null)
}
pub(crate) fn float(value: Option<f64>) -> Cell {
    value
        .filter(|v| v.is_finite())
        .map(|v| Cell::Float((v * 10_000.0).round() / 10_000.0))
        .unwrap_or(Cell::Null)
}

/// `activity`: listings and active vendors per market and period (from the SQL roll-up).
pub fn activity_table(rows: &[ActivityRow], period: Period) -> Table {
    let mut table = Table::new(
        "activity",
        format!(
            "Listings and vendors seen per market and {}.",
            period.as_str()
        ),
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new(
                "period_start",
                T::Date,
                "first day of the period (weeks start on Monday)",
            ),
            Column::new(
                "listings",
                T::Integer,
                "distinct listings observed in the period",
            ),
            Column::new(
                "active_vendors",
                T::Integer,
                "distinct vendors with an observed listing",
            ),
            Column::new(
                "observations",
                T::Integer,
                "listing observations (sightings) in the period",
            ),
        ],
    );
    for r in rows {
        table.push(vec![
            text(&r.market),
            Cell::Date(r.period_start),
            int(r.listings),
            int(r.vendors),
            int(r.observations),
        ]);
    }
    table
}

/// The periods in which each market was observed.
fn observed_periods(
    observed_days: &BTreeMap<String, BTreeSet<NaiveDate>>,
    period: Period,
) -> BTreeMap<String, Vec<NaiveDate>> {
    observed_days
        .iter()
        .map(|(market, days)| {
            let periods: BTreeSet<NaiveDate> = days.iter().map(|d| period.start_of(*d)).collect();
            (market.clone(), periods.into_iter().collect())
        })
        .collect()
}

/// `vendor_flow` and `vendor_survival`, from when each vendor was first and last seen.
pub fn vendor_tables(
    observed_days: &BTreeMap<String, BTreeSet<NaiveDate>>,
    spans: &[VendorSpan],
    period: Period,
) -> Vec<Table> {
    let periods = observed_periods(observed_days, period);
    let mut flow = Table::new(
        "vendor_flow",
        format!(
            "Active, new and departed vendors per market and {}. A vendor is new in the period \
             it is first seen with a listing and departed in the first observed period after \
             its last sighting; in a market's first observed period every vendor counts as new.",
            period.as_str()
        ),
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new("period_start", T::Date, "first day of the period"),
            Column::new(
                "active_vendors",
                T::Integer,
                "vendors seen with a listing in the period",
            ),
            Column::new(
                "new_vendors",
                T::Integer,
                "vendors first seen in the period",
            ),
            Column::new(
                "departed_vendors",
                T::Integer,
                "vendors last seen in the previous observed period",
            ),
        ],
    );
    let mut survival = Table::new(
        "vendor_survival",
        format!(
            "Vendor survival per market: of the vendors first seen in a cohort {}, how many \
             were still seen with a listing at or after each later observed period.",
            period.as_str()
        ),
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new(
                "cohort_start",
                T::Date,
                "period in which the cohort was first seen",
            ),
            Column::new("period_start", T::Date, "a later observed period"),
            Column::new(
                "periods_after",
                T::Integer,
                "observed periods since the cohort's",
            ),
            Column::new("cohort_vendors", T::Integer, "vendors in the cohort"),
            Column::new(
                "surviving",
                T::Integer,
                "of them, seen at or after this period",
            ),
            Column::new("share", T::Float, "surviving / cohort_vendors"),
        ],
    );
    let mut by_market: BTreeMap<&str, Vec<(NaiveDate, NaiveDate)>> = BTreeMap::new();
    for s in spans {
        by_market.entry(&s.market).or_default().push((
            period.start_of(s.first_seen.date_naive()),
            period.start_of(s.last_seen.date_naive()),
        ));
    }
    for (market, vendors) in by_market {
        let Some(observed) = periods.get(market) else {
            continue;
        };
        for (n, p) in observed.iter().enumerate() {
            let active = vendors.iter().filter(|(f, l)| f <= p && l >= p).count();
            let new = vendors.iter().filter(|(f, _)| f == p).count();
            let departed = match n.checked_sub(1).map(|i| observed[i]) {
                Some(previous) => vendors.iter().filter(|(_, l)| *l == previous).count(),
                None => 0,
            };
            flow.push(vec![
                text(market),
                Cell::Date(*p),
                int(active as i64),
                int(new as i64),
                int(departed as i64),
            ]);
        }
        for (c, cohort) in observed.iter().enumerate() {
            let members: Vec<&(NaiveDate, NaiveDate)> =
                vendors.iter().filter(|(f, _)| f == cohort).collect();
            if members.is_empty() {
                continue;
            }
            for (k, later) in observed.iter().enumerate().skip(c) {
                let surviving = members.iter().filter(|(_, l)| l >= later).count();
                survival.push(vec![
                    text(market),
                    Cell::Date(*cohort),
                    Cell::Date(*later),
                    int((k - c) as i64),
                    int(members.len() as i64),
                    int(surviving as i64),
                    float(Some(surviving as f64 / members.len() as f64)),
                ]);
            }
        }
    }
    vec![flow, survival]
}

/// `feedback_activity`: feedback entries per market and period (from the SQL roll-up).
pub fn feedback_activity_table(rows: &[FeedbackActivityRow], period: Period) -> Table {
    let mut table = Table::new(
        "feedback_activity",
        format!(
            "Feedback entries per market and {} by the date they were left (else first seen), \
             each entry once however many crawls saw it.",
            period.as_str()
        ),
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new("period_start", T::Date, "first day of the period"),
            Column::new("entries", T::Integer, "feedback entries"),
            Column::new("vendors", T::Integer, "vendors they are about"),
        ],
    );
    for r in rows {
        table.push(vec![
            text(&r.market),
            Cell::Date(r.period_start),
            int(r.entries),
            int(r.vendors),
        ]);
    }
    table
}

/// `prices`: USD per unit per market, period, substance, origin and unit.
pub fn price_table(data: &Dataset) -> Table {
    let period = data.period;
    let mut table = Table::new(
        "prices",
        format!(
            "Prices per unit in USD per market, {}, substance (the last element of the \
             category path) and origin country, each listing counted once per period at its \
             median observed price. Weights are per gram, volumes per millilitre, packs of \
             doses per piece.",
            period.as_str()
        ),
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new("period_start", T::Date, "first day of the period"),
            Column::new("substance", T::Text, "last element of the category path"),
            Column::new(
                "origin",
                T::Text,
                "ships_from code, or empty when not shown",
            ),
            Column::new("unit", T::Text, "g, ml or piece"),
            Column::new("listings", T::Integer, "listings with a converted price"),
            Column::new("median_usd_per_unit", T::Float, "median USD per unit"),
            Column::new("p25_usd_per_unit", T::Float, "25th percentile"),
            Column::new("p75_usd_per_unit", T::Float, "75th percentile"),
            Column::new("min_usd_per_unit", T::Float, "lowest"),
            Column::new("max_usd_per_unit", T::Float, "highest"),
            Column::new(
                "unconverted",
                T::Integer,
                "listings whose price could not be converted to USD or whose quantity was not read",
            ),
        ],
    );
    let digest = &data.listings;
    for ((market, p, substance, origin, unit), values) in &digest.unit_prices {
        let (p, unit) = (*p, *unit);
        let mut values = values.clone();
        values.sort_by(f64::total_cmp);
        let missing = digest
            .unconverted
            .get(&(market.clone(), p, substance.clone(), origin.clone()))
            .copied()
            .unwrap_or(0);
        table.push(vec![
            text(market),
            Cell::Date(p),
            text(substance),
            text(origin),
            text(unit),
            int(values.len() as i64),
            float(quantile(&values, 0.5).map(cents)),
            float(quantile(&values, 0.25).map(cents)),
            float(quantile(&values, 0.75).map(cents)),
            float(values.first().copied().map(cents)),
            float(values.last().copied().map(cents)),
            int(missing as i64),
        ]);
    }
    table
}

/// The assumptions behind the sales estimates, printed next to the figures.
pub const SALES_ASSUMPTIONS: &str = "Estimated sales are a lower bound. Each feedback entry \
counts as one sale, at the price the entry shows or else at its listing's price observed \
nearest the entry's date, converted to USD at that date. Feedback is de-duplicated across \
crawls by its content (vendor, item, rating, text, date, price), so identical entries left on \
the same day for the same item count once. Sales that left no feedback are not counted (on \
real markets often 30 % or more), nor are sales whose feedback was removed before a crawl saw \
it; invented orders behind fake reviews are counted. Entries whose price cannot be converted \
count as sales with no revenue.";

/// `sales_by_vendor`, `sales_by_listing`, `sales_by_category`, `sales_by_country`.
pub fn sales_tables(sales: &[Sale], period: Period) -> Vec<Table> {
    let mut tables = Vec::new();
    let specs: [(&str, &str, &str); 4] = [
        ("sales_by_vendor", "vendor", "vendor handle"),
        ("sales_by_listing", "listing_id", "store id of the listing"),
        ("sales_by_category", "category", "top-level category"),
        ("sales_by_country", "origin", "origin country (ships_from)"),
    ];
    for (name, key_name, key_doc) in specs {
        let mut table = Table::new(
            name,
            format!(
                "Estimated sales and revenue per market, {} and {key_name}, from feedback. {SALES_ASSUMPTIONS}",
                period.as_str()
            ),
            vec![
                Column::new("market", T::Text, "market name"),
                Column::new("period_start", T::Date, "first day of the period of the feedback dates"),
                Column::new(key_name, T::Text, key_doc),
                Column::new("estimated_sales", T::Integer, "feedback entries (one sale each)"),
                Column::new("estimated_revenue_usd", T::Float, "sum of the priced entries in USD"),
                Column::new("unpriced_sales", T::Integer, "entries with no convertible price"),
            ],
        );
        let mut groups: BTreeMap<(String, NaiveDate, String), (i64, f64, i64)> = BTreeMap::new();
        for s in sales {
            let key = match name {
                "sales_by_vendor" => s.vendor.clone().unwrap_or_default(),
                "sales_by_listing" => s.listing_id.map(|i| i.to_string()).unwrap_or_default(),
                "sales_by_category" => s.category.clone().unwrap_or_default(),
                _ => s.origin.clone().unwrap_or_default(),
            };
            let entry = groups
                .entry((s.market.clone(), period.start_of(s.day), key))
                .or_default();
            entry.0 += 1;
            match s.usd {
                Some(usd) => entry.1 += usd,
                None => entry.2 += 1,
            }
        }
        for ((market, p, key), (count, revenue, unpriced)) in groups {
            table.push(vec![
                text(market),
                Cell::Date(p),
                text(key),
                int(count),
                float(Some(cents(revenue))),
                int(unpriced),
            ]);
        }
        tables.push(table);
    }
    tables
}

/// `origin_shares` and `origin_destination_flows`.
pub fn origin_tables(data: &Dataset) -> Vec<Table> {
    let period = data.period;
    let mut shares = Table::new(
        "origin_shares",
        format!(
            "Share of listings by origin country per market and {}.",
            period.as_str()
        ),
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new("period_start", T::Date, "first day of the period"),
            Column::new(
                "origin",
                T::Text,
                "ships_from code, or empty when not shown",
            ),
            Column::new("listings", T::Integer, "distinct listings from the origin"),
            Column::new(
                "share",
                T::Float,
                "listings / all listings of the market in the period",
            ),
        ],
    );
    let mut flows = Table::new(
        "origin_destination_flows",
        format!(
            "Listings per origin and destination per market and {}; a listing shipping to \
             several destinations counts once for each.",
            period.as_str()
        ),
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new("period_start", T::Date, "first day of the period"),
            Column::new("origin", T::Text, "ships_from code"),
            Column::new("destination", T::Text, "a ships_to code (WW: worldwide)"),
            Column::new("listings", T::Integer, "distinct listings"),
        ],
    );
    for ((market, p), origins) in &data.listings.origins {
        let total: usize = origins.values().sum();
        for (origin, listings) in origins {
            shares.push(vec![
                text(market),
                Cell::Date(*p),
                text(origin),
                int(*listings as i64),
                float(Some(*listings as f64 / total.max(1) as f64)),
            ]);
        }
    }
    for ((market, p, origin, destination), listings) in &data.listings.flows {
        flows.push(vec![
            text(market),
            Cell::Date(*p),
            text(origin),
            text(destination),
            int(*listings as i64),
        ]);
    }
    vec![shares, flows]
}

/// `concentration`: shares of the top vendors by listings and by estimated revenue.
pub fn concentration_table(data: &Dataset, sales: &[Sale]) -> Table {
    let period = data.period;
    let mut table = Table::new(
        "concentration",
        format!(
            "Market concentration per market and {}: the share of the top 1, 5 and 10 vendors \
             and the Herfindahl-Hirschman index (0-10,000), by listings and by estimated revenue.",
            period.as_str()
        ),
        vec![
            Column::new("market", T::Text, "market name"),
            Column::new("period_start", T::Date, "first day of the period"),
            Column::new("basis", T::Text, "listings or estimated_revenue_usd"),
            Column::new("vendors", T::Integer, "vendors with a non-zero amount"),
            Column::new("top1_share", T::Float, "share of the largest vendor"),
            Column::new("top5_share", T::Float, "share of the 5 largest"),
            Column::new("top10_share", T::Float, "share of the 10 largest"),
            Column::new("hhi", T::Float, "sum of squared percentage shares"),
        ],
    );
    let mut revenue: BTreeMap<(String, NaiveDate), HashMap<i64, f64>> = BTreeMap::new();
    for s in sales {
        if let (Some(vendor), Some(usd)) = (s.vendor_id, s.usd) {
            *revenue
                .entry((s.market.clone(), period.start_of(s.day)))
                .or_default()
                .entry(vendor)
                .or_default() += usd;
        }
    }
    let mut rows: BTreeMap<(String, NaiveDate, &str), Vec<f64>> = BTreeMap::new();
    for ((market, p), vendors) in &data.listings.vendor_listings {
        rows.insert(
            (market.clone(), *p, "listings"),
            vendors.values().map(|l| *l as f64).collect(),
        );
    }
    for (key, vendors) in revenue {
        rows.insert(
            (key.0, key.1, "estimated_revenue_usd"),
            vendors.into_values().collect(),
        );
    }
    for ((market, p, basis), mut amounts) in rows {
        amounts.retain(|a| *a > 0.0);
        amounts.sort_by(|a, b| b.total_cmp(a));
        let total: f64 = amounts.iter().sum();
        if total <= 0.0 {
            continue;
        }
        let top = |n: usize| amounts.iter().take(n).sum::<f64>() / total;
        let hhi: f64 = amounts.iter().map(|a| (100.0 * a / total).powi(2)).sum();
        table.push(vec![
            text(market),
            Cell::Date(p),
            text(basis),
            int(amounts.len() as i64),
            float(Some(top(1))),
            float(Some(top(5))),
            float(Some(top(10))),
            float(Some(hhi)),
        ]);
    }
    table
}
