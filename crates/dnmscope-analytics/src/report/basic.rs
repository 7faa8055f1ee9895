//! The tables a report and an export can build from the store directly, before (and beside)
//! the analytics indicators: crawl completeness, what each crawl observed per market, listings
//! by origin, market events.

use dnmscope_store::{Relation, Store, StoreError, Value};
use futures_util::TryStreamExt;

use crate::{Cell, Column, ColumnType, Table};

/// Every row of a store relation, with a lookup by column name.
struct Rows {
    relation: &'static Relation,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    async fn read(store: &Store, name: &str) -> Result<Rows, StoreError> {
        let relation = Relation::find(name).ok_or_else(|| StoreError::Corrupt {
            what: format!("the store has no relation {name}"),
        })?;
        let rows = store.rows(relation).try_collect().await?;
        Ok(Rows { relation, rows })
    }

    fn index(&self, column: &str) -> usize {
        self.relation
            .columns
            .iter()
            .position(|c| c.name == column)
            .unwrap_or_else(|| panic!("{} has no column {column}", self.relation.name))
    }

    fn cell(&self, row: &[Value], column: &str) -> Cell {
        Cell::from(row[self.index(column)].clone())
    }
}

fn ratio(numerator: &Cell, denominator: &Cell) -> Cell {
    match (numerator, denominator) {
        (Cell::Integer(n), Cell::Integer(d)) if *d > 0 => Cell::Float(*n as f64 / *d as f64),
        _ => Cell::Null,
    }
}

/// Name of the completeness table in reports and exports.
pub const CRAWL_COMPLETENESS: &str = "crawl_completeness";

/// Per crawl run and market, how complete the snapshot is (from the crawl's accounting).
pub async fn crawl_completeness(store: &Store) -> Result<Table, StoreError> {
    let view = Rows::read(store, "crawl_accounting_view").await?;
    let mut table = Table::new(
        CRAWL_COMPLETENESS,
        "One row per crawl run and market: what the crawler attempted and got, so each snapshot's completeness can be judged.",
        vec![
            Column::new("crawl_id", ColumnType::Integer, "The crawl run."),
            Column::new("market", ColumnType::Text, "Market name."),
            Column::new("started_at", ColumnType::Timestamp, "When the run started."),
            Column::new("finished_at", ColumnType::Timestamp, "When the run ended (null: running or crashed)."),
            Column::new("finish_reason", ColumnType::Text, "completed, budget_exhausted, interrupted or failed."),
            Column::new("attempted", ColumnType::Integer, "Fetch attempts (each try counts)."),
            Column::new("fetched", ColumnType::Integer, "Pages fetched and stored."),
            Column::new("failed", ColumnType::Integer, "Failed attempts."),
            Column::new("given_up", ColumnType::Integer, "Pages given up on."),
            Column::new("gates", ColumnType::Integer, "Queue, ban, login and captcha pages met."),
            Column::new("listings_announced", ColumnType::Integer, "Distinct listings index pages announced."),
            Column::new("listings_fetched", ColumnType::Integer, "Listing pages fetched and parsed."),
            Column::new("availability", ColumnType::Float, "fetched / attempted (null when nothing was attempted)."),
            Column::new("listing_coverage", ColumnType::Float, "listings_fetched / listings_announced (null when none were announced)."),
            Column::new("unreachable", ColumnType::Boolean, "The market stopped answering during the run."),
            Column::new("seized", ColumnType::Boolean, "The market showed a seizure banner."),
        ],
    );
    for row in &view.rows {
        let get = |column: &str| view.cell(row, column);
        table.push(vec![
            get("crawl_id"),
            get("market"),
            get("started_at"),
            get("finished_at"),
            get("finish_reason"),
            get("attempted"),
            get("fetched"),
            get("failed"),
            get("given_up"),
            get("gates"),
            get("listings_announced"),
            get("listings_fetched"),
            ratio(&get("fetched"), &get("attempted")),
            ratio(&get("listings_fetched"), &get("listings_announced")),
            get("unreachable"),
            get("seized"),
        ]);
    }
    Ok(table)
}

/// Per crawl run and market: listings, vendors and posts observed and feedback first seen.
pub async fn observed_per_crawl(store: &Store) -> Result<Table, StoreError> {
    let mut table = Table::new(
        "observed_per_crawl",
        "One row per crawl run and market: distinct listings, vendors and forum posts observed, and feedback entries seen for the first time.",
        vec![
            Column::new("crawl_id", ColumnType::Integer, "The crawl run."),
            Column::new("started_at", ColumnType::Timestamp, "When the run started."),
            Column::new("market", ColumnType::Text, "Market name."),
            Column::new("listings", ColumnType::Integer, "Distinct listings observed."),
            Column::new("vendors", ColumnType::Integer, "Distinct vendors observed (on a listing or their profile)."),
            Column::new("new_feedback", ColumnType::Integer, "Feedback entries this run saw first."),
            Column::new("posts", ColumnType::Integer, "Distinct forum posts observed."),
        ],
    );
    for counts in store.crawl_market_counts().await? {
        table.push(vec![
            Cell::Integer(counts.crawl_id),
            Cell::Timestamp(counts.started_at),
            Cell::Text(counts.market),
            Cell::Integer(counts.listings),
            Cell::Integer(counts.vendors),
            Cell::Integer(counts.new_feedback),
            Cell::Integer(counts.posts),
        ]);
    }
    Ok(table)
}

/// Per market and origin: distinct listings over all crawls and their share of the market's.
pub async fn listings_by_origin(store: &Store) -> Result<Table, StoreError> {
    let origins = store.listings_by_origin().await?;
    let mut totals = std::collections::BTreeMap::<&str, i64>::new();
    for origin in &origins {
        *totals.entry(origin.market.as_str()).or_default() += origin.listings;
    }
    let mut table = Table::new(
        "listings_by_origin",
        "One row per market and origin (ships_from): distinct listings ever observed and their share of the market's listings.",
        vec![
            Column::new("market", ColumnType::Text, "Market name."),
            Column::new("ships_from", ColumnType::Text, "Origin code or region word; null when the listing did not say."),
            Column::new("listings", ColumnType::Integer, "Distinct listings observed with this origin."),
            Column::new("share", ColumnType::Float, "listings / all the market's listings (a listing whose origin changed counts under each)."),
        ],
    );
    for origin in &origins {
        let total = totals.get(origin.market.as_str()).copied().unwrap_or(0);
        table.push(vec![
            Cell::Text(origin.market.clone()),
            origin.ships_from.clone().map_or(Cell::Null, Cell::Text),
            Cell::Integer(origin.listings),
            ratio(&Cell::Integer(origin.listings), &Cell::Integer(total)),
        ]);
    }
    Ok(table)
}

/// Every market event, oldest first.
pub async fn market_events(store: &Store) -> Result<Table, StoreError> {
    let view = Rows::read(store, "market_events_view").await?;
    let mut table = Table::new(
        "market_events",
        "One row per market event (seizure banner, exit scam, outage, takedown, mirror change).",
        vec![
            Column::new(
                "observed_at",
                ColumnType::Timestamp,
                "When it was observed.",
            ),
            Column::new("market", ColumnType::Text, "Market name."),
            Column::new("kind", ColumnType::Text, "What happened."),
            Column::new("detail", ColumnType::Text, "What was seen."),
            Column::new(
                "crawl_id",
                ColumnType::Integer,
                "The crawl run that saw it, if any.",
            ),
        ],
    );
    let mut rows: Vec<Vec<Cell>> = view
        .rows
        .iter()
        .map(|row| {
            let get = |column: &str| view.cell(row, column);
            vec![
                get("observed_at"),
                get("market"),
                get("kind"),
                get("detail"),
                get("crawl_id"),
            ]
        })
        .collect();
    rows.sort_by_key(|row| match &row[0] {
        Cell::Timestamp(t) => Some(*t),
        _ => None,
    });
    for row in rows {
        table.push(row);
    }
    Ok(table)
}

/// Grams in one unit of weight, for the units the parser normalises to; `None` for the rest.
fn grams_per(unit: &str) -> Option<rust_decimal::Decimal> {
    use rust_decimal::Decimal;
    Some(match unit {
        "g" => Decimal::ONE,
        "mg" => Decimal::new(1, 3),
        "ug" => Decimal::new(1, 6),
        "kg" => Decimal::new(1000, 0),
        "oz" => Decimal::new(28_349_523_125, 9),
        "lb" => Decimal::new(45_359_237, 5),
        _ => return None,
    })
}

/// The `q`-quantile of sorted values (linear interpolation).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// Per crawl run and market: median and quartiles of the USD price per gram of listings priced
/// in USD with a quantity by weight. Listings priced in another currency are left out (the
/// analytics' indicators convert them at the market's displayed rates).
pub async fn usd_per_gram(store: &Store) -> Result<Table, StoreError> {
    use std::str::FromStr;

    use rust_decimal::prelude::ToPrimitive;
    use rust_decimal::Decimal;

    let relation =
        Relation::find("listing_observations_view").ok_or_else(|| StoreError::Corrupt {
            what: "the store has no listing_observations_view".to_string(),
        })?;
    let index = |name: &str| {
        relation
            .columns
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("listing_observations_view has no column {name}"))
    };
    let (crawl, market, amount, currency) = (
        index("crawl_id"),
        index("market"),
        index("price_amount"),
        index("price_currency"),
    );
    let (count, quantity, unit) = (
        index("quantity_count"),
        index("quantity_amount"),
        index("quantity_unit"),
    );
    let mut prices: std::collections::BTreeMap<(i64, String), Vec<f64>> = Default::default();
    let mut rows = store.rows(relation);
    while let Some(row) = rows.try_next().await? {
        let text = |i: usize| match &row[i] {
            Value::Text(t) => Some(t.as_str()),
            _ => None,
        };
        if text(currency) != Some("USD") {
            continue;
        }
        let (Value::Integer(crawl_id), Some(market_name)) = (&row[crawl], text(market)) else {
            continue;
        };
        let Some(grams) = text(unit).and_then(grams_per) else {
            continue;
        };
        let units = match &row[count] {
            Value::Integer(n) if *n > 0 => Decimal::from(*n),
            _ => Decimal::ONE,
        };
        let (Some(price), Some(per_unit)) = (
            text(amount).and_then(|t| Decimal::from_str(t).ok()),
            text(quantity).and_then(|t| Decimal::from_str(t).ok()),
        ) else {
            continue;
        };
        let total_grams = units * per_unit * grams;
        if total_grams <= Decimal::ZERO {
            continue;
        }
        if let Some(value) = (price / total_grams).to_f64() {
            prices
                .entry((*crawl_id, market_name.to_string()))
                .or_default()
                .push(value);
        }
    }
    let mut table = Table::new(
        "usd_per_gram",
        "One row per crawl run and market: the price per gram of listings priced in USD with a quantity by weight.",
        vec![
            Column::new("crawl_id", ColumnType::Integer, "The crawl run."),
            Column::new("market", ColumnType::Text, "Market name."),
            Column::new("observations", ColumnType::Integer, "Listing observations priced in USD by weight."),
            Column::new("median_usd_per_gram", ColumnType::Float, "Median of price / (count x amount in grams)."),
            Column::new("p25_usd_per_gram", ColumnType::Float, "First quartile."),
            Column::new("p75_usd_per_gram", ColumnType::Float, "Third quartile."),
        ],
    );
    for ((crawl_id, market_name), mut values) in prices {
        values.sort_by(f64::total_cmp);
        table.push(vec![
            Cell::Integer(crawl_id),
            Cell::Text(market_name),
            Cell::Integer(values.len() as i64),
            Cell::Float(quantile(&values, 0.5)),
            Cell::Float(quantile(&values, 0.25)),
            Cell::Float(quantile(&values, 0.75)),
        ]);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_and_units_convert_to_grams() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&[7.0], 0.25), 7.0);
        assert_eq!(quantile(&[0.0, 10.0], 0.25), 2.5);
        assert_eq!(grams_per("mg").unwrap().to_string(), "0.001");
        assert_eq!(grams_per("oz").unwrap().to_string(), "28.349523125");
        assert!(grams_per("ml").is_none() && grams_per("piece").is_none());
    }
}
