// The analytics queries. What differs between the backends is how a time becomes a day or a
// week: `period_sql` and `FEEDBACK_DAY`, defined by the backend module.

use crate::analytics::CURRENT_EXTRACTION;
use crate::analytics::{
    ActivityRow, AnalyticsFilter, EventRow, FeedbackActivityRow, FeedbackRow, LinkDecision,
    LinkDecisionRow, ListingObservationRow, ObservationPass, ObservedDay, Period, PostRow, RateRow, VendorObservationRow,
    VendorDay, VendorPriceRow, VendorPrices, VendorRef, VendorSpan,
};

/// The joins of a roll-up read from `attribute_weeks`, with their conditions
/// (`ATTRIBUTE_WEEKS_JOINED`): the filter picks combinations in the small dictionary first and
/// reads only their rows (`CROSS JOIN` fixes that order in SQLite; PostgreSQL plans it).
const ATTRIBUTE_WEEKS_FROM: &str = "FROM listing_attributes a
     CROSS JOIN attribute_weeks w
     CROSS JOIN markets m";
const ATTRIBUTE_WEEKS_JOINED: &str = "w.attributes_id = a.id AND m.id = w.market_id";

/// The joins of a read narrowed to one vendor: `CROSS JOIN` fixes the join order in SQLite
/// (PostgreSQL plans it as the inner join it is), so that the observations are found through
/// the vendor index first rather than by reading every listing of the market. Vendor and
/// feedback reads narrowed to a vendor join the same way.
const VENDOR_LISTING_FROM: &str = "FROM listing_observations o
     CROSS JOIN listings l
     CROSS JOIN markets m";
const VENDOR_LISTING_JOINED: &str = "l.id = o.listing_id AND m.id = l.market_id";

/// The joins every listing roll-up starts from.
const LISTING_FROM: &str = "FROM listing_observations o
     JOIN listings l ON l.id = o.listing_id
     JOIN markets m ON m.id = l.market_id";

fn parse_period(text: &str, what: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| StoreError::Corrupt {
        what: format!("{what}: period {text:?} is not a date"),
    })
}

/// Whether a roll-up can read the weekly roll-up (`market_weeks`, `vendor_weeks`) instead of
/// every observation.
fn from_weeks(filter: &AnalyticsFilter, period: Period) -> bool {
    period == Period::Week && !filter.narrows_listings()
}

/// A roll-up's watermark: the last listing observation it has taken in (its state row created
/// at 0, and locked on PostgreSQL so that two refreshes queue).
async fn watermark(conn: &mut Conn, name: &str) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO rollup_state (name, last_observation_id) VALUES ($1, 0)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .execute(&mut *conn)
    .await
    .context(|| format!("starting the roll-up {name}"))?;
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT last_observation_id FROM rollup_state WHERE name = $1{FOR_UPDATE}"
    )))
    .bind(name)
    .fetch_one(&mut *conn)
    .await
    .context(|| format!("reading the watermark of the roll-up {name}"))
}

async fn move_watermark(conn: &mut Conn, name: &str, high: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE rollup_state SET last_observation_id = $1 WHERE name = $2")
        .bind(high)
        .bind(name)
        .execute(&mut *conn)
        .await
        .context(|| format!("moving the watermark of the roll-up {name} to {high}"))?;
    Ok(())
}

/// Brings the weekly roll-ups (`listing_weeks` with its summaries, and `attribute_weeks`) up to
/// date with the observations stored since their watermarks. Returns how many observations the
/// roll-up furthest behind took in.
pub(crate) async fn refresh_weekly(conn: &mut Conn) -> Result<u64, StoreError> {
    let low = watermark(conn, "listing_weeks").await?;
    let attributes_low = watermark(conn, "attribute_weeks").await?;
    let high: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM listing_observations")
        .fetch_one(&mut *conn)
        .await
        .context(|| "finding the newest listing observation".to_string())?;
    let mut taken = 0;
    if high > low {
        roll_up_listing_weeks(conn, low, high).await?;
        move_watermark(conn, "listing_weeks", high).await?;
        taken = high - low;
    }
    if high > attributes_low {
        roll_up_attribute_weeks(conn, attributes_low, high).await?;
        move_watermark(conn, "attribute_weeks", high).await?;
        taken = taken.max(high - attributes_low);
    }
    Ok(u64::try_from(taken).unwrap_or(0))
}

/// Adds listing observations `low + 1 ..= high` to `listing_weeks` and recounts the summaries
/// of the weeks they fall in.
async fn roll_up_listing_weeks(conn: &mut Conn, low: i64, high: i64) -> Result<(), StoreError> {
    let week = period_sql(Period::Week, "o.observed_at", true);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO listing_weeks (market_id, week_start, listing_id, vendor_id, observations)
         SELECT l.market_id, {week} AS w, o.listing_id, MIN(o.vendor_id), COUNT(*)
         FROM listing_observations o JOIN listings l ON l.id = o.listing_id
         WHERE o.id > $1 AND o.id <= $2 AND {CURRENT_EXTRACTION}
         GROUP BY l.market_id, w, o.listing_id
         ON CONFLICT (market_id, week_start, listing_id)
         DO UPDATE SET observations = listing_weeks.observations + excluded.observations"
    )))
    .bind(low)
    .bind(high)
    .execute(&mut *conn)
    .await
    .context(|| format!("rolling up listing observations {} to {high} by week", low + 1))?;
    // The summaries: the (market, week) pairs this batch touched are recounted from
    // `listing_weeks` (a week holds tens of thousands of listings, not millions).
    let touched: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT l.market_id, {week}
         FROM listing_observations o JOIN listings l ON l.id = o.listing_id
         WHERE o.id > $1 AND o.id <= $2 AND {CURRENT_EXTRACTION}"
    )))
    .bind(low)
    .bind(high)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("finding the weeks of listing observations {} to {high}", low + 1))?;
    for (market_id, week) in &touched {
        summarise_week(conn, *market_id, week).await?;
    }
    Ok(())
}

/// The filtered columns of an observation as `listing_attributes` keeps them.
const CATEGORY_TEXT: &str = "COALESCE(CAST(o.category AS TEXT), '')";
const SHIPS_FROM_TEXT: &str = "COALESCE(o.ships_from, '')";
const SHIPS_TO_TEXT: &str = "COALESCE(CAST(o.ships_to AS TEXT), '')";

/// Adds listing observations `low + 1 ..= high` to `attribute_weeks`, naming their attribute
/// combinations in `listing_attributes` first.
async fn roll_up_attribute_weeks(conn: &mut Conn, low: i64, high: i64) -> Result<(), StoreError> {
    let what = || format!("rolling up listing observations {} to {high} by attributes", low + 1);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO listing_attributes (category, ships_from, ships_to)
         SELECT DISTINCT {CATEGORY_TEXT}, {SHIPS_FROM_TEXT}, {SHIPS_TO_TEXT}
         FROM listing_observations o
         WHERE o.id > $1 AND o.id <= $2 AND {CURRENT_EXTRACTION}
         ON CONFLICT (category, ships_from, ships_to) DO NOTHING"
    )))
    .bind(low)
    .bind(high)
    .execute(&mut *conn)
    .await
    .context(what)?;
    let week = period_sql(Period::Week, "o.observed_at", true);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO attribute_weeks
             (attributes_id, market_id, week_start, listing_id, vendor_id, observations)
         SELECT a.id, l.market_id, {week} AS w, o.listing_id, MIN(o.vendor_id), COUNT(*)
         FROM listing_observations o
         JOIN listings l ON l.id = o.listing_id
         JOIN listing_attributes a
           ON a.category = {CATEGORY_TEXT} AND a.ships_from = {SHIPS_FROM_TEXT}
              AND a.ships_to = {SHIPS_TO_TEXT}
         WHERE o.id > $1 AND o.id <= $2 AND {CURRENT_EXTRACTION}
         GROUP BY a.id, l.market_id, w, o.listing_id
         ON CONFLICT (attributes_id, market_id, week_start, listing_id)
         DO UPDATE SET observations = attribute_weeks.observations + excluded.observations"
    )))
    .bind(low)
    .bind(high)
    .execute(&mut *conn)
    .await
    .context(what)?;
    Ok(())
}

/// Recounts one market's week in the roll-up's summaries (`market_weeks`, `vendor_weeks`) and
/// adds the week's vendor-listing pairs to `vendor_listings`.
async fn summarise_week(conn: &mut Conn, market_id: i64, week: &str) -> Result<(), StoreError> {
    let what = || format!("summarising week {week} of market {market_id}");
    let statements = [
        "DELETE FROM market_weeks WHERE market_id = $1 AND week_start = $2",
        "INSERT INTO market_weeks (market_id, week_start, listings, vendors, observations)
         SELECT market_id, week_start, COUNT(*), COUNT(DISTINCT vendor_id),
                CAST(SUM(observations) AS BIGINT)
         FROM listing_weeks WHERE market_id = $1 AND week_start = $2
         GROUP BY market_id, week_start",
        "DELETE FROM vendor_weeks WHERE market_id = $1 AND week_start = $2",
        "INSERT INTO vendor_weeks (market_id, vendor_id, week_start, listings)
         SELECT market_id, vendor_id, week_start, COUNT(*)
         FROM listing_weeks
         WHERE market_id = $1 AND week_start = $2 AND vendor_id IS NOT NULL
         GROUP BY market_id, vendor_id, week_start",
        "INSERT INTO vendor_listings (market_id, vendor_id, listing_id)
         SELECT DISTINCT market_id, vendor_id, listing_id
         FROM listing_weeks
         WHERE market_id = $1 AND week_start = $2 AND vendor_id IS NOT NULL
         ON CONFLICT DO NOTHING",
    ];
    for sql in statements {
        sqlx::query(sql)
            .bind(market_id)
            .bind(week)
            .execute(&mut *conn)
            .await
            .context(what)?;
    }
    Ok(())
}

pub(crate) async fn activity(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
    period: Period,
) -> Result<Vec<ActivityRow>, StoreError> {
    let (sql, params) = if from_weeks(filter, period) {
        let (conditions, params) = filter.market_conditions(1);
        let sql = format!(
            "SELECT m.name, w.week_start, w.listings, w.vendors, w.observations
             FROM market_weeks w JOIN markets m ON m.id = w.market_id
             WHERE {conditions}
             ORDER BY m.name, w.week_start"
        );
        (sql, params)
    } else if period == Period::Week && filter.by_attributes() {
        let (conditions, params) = filter.attribute_conditions(1);
        let sql = format!(
            "SELECT m.name, w.week_start, COUNT(DISTINCT w.listing_id),
                    COUNT(DISTINCT w.vendor_id), CAST(SUM(w.observations) AS BIGINT)
             {ATTRIBUTE_WEEKS_FROM}
             WHERE {ATTRIBUTE_WEEKS_JOINED} AND {conditions}
             GROUP BY m.name, w.week_start ORDER BY m.name, w.week_start"
        );
        (sql, params)
    } else {
        let (conditions, params) = filter.listing_conditions(1);
        let bucket = period_sql(period, "o.observed_at", true);
        let sql = format!(
            "SELECT m.name, {bucket} AS p, COUNT(DISTINCT o.listing_id),
                    COUNT(DISTINCT o.vendor_id), COUNT(*)
             {LISTING_FROM}
             WHERE {conditions}
             GROUP BY m.name, p ORDER BY m.name, p"
        );
        (sql, params)
    };
    let mut query = sqlx::query_as::<_, (String, String, i64, i64, i64)>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .context(|| format!("rolling up listing observations by {}", period.as_str()))?;
    rows.into_iter()
        .map(|(market, p, listings, vendors, observations)| {
            Ok(ActivityRow {
                period_start: parse_period(&p, "activity")?,
                market,
                listings,
                vendors,
                observations,
            })
        })
        .collect()
}

pub(crate) async fn vendor_spans(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
    period: Period,
) -> Result<Vec<VendorSpan>, StoreError> {
    if from_weeks(filter, period) {
        return vendor_weeks(conn, filter).await;
    }
    if period == Period::Week && filter.by_attributes() {
        return vendor_attribute_weeks(conn, filter).await;
    }
    let (conditions, params) = filter.listing_conditions(1);
    let sql = format!(
        "SELECT m.name AS market, o.vendor_id, v.handle, MIN(o.observed_at) AS first_seen,
                MAX(o.observed_at) AS last_seen, COUNT(DISTINCT o.listing_id) AS listings
         {LISTING_FROM}
         JOIN vendors v ON v.id = o.vendor_id
         WHERE {conditions}
         GROUP BY m.name, o.vendor_id, v.handle ORDER BY m.name, o.vendor_id"
    );
    let mut query = sqlx::query_as::<_, VendorSpan>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    query
        .fetch_all(&mut *conn)
        .await
        .context(|| "rolling up when each vendor was seen".to_string())
}

/// Vendor spans by week for a listing-attribute filter, from `attribute_weeks`: first and
/// last seen are the Mondays of the first and last week with a matching observation.
async fn vendor_attribute_weeks(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
) -> Result<Vec<VendorSpan>, StoreError> {
    let (conditions, params) = filter.attribute_conditions(1);
    let sql = format!(
        "SELECT m.name, w.vendor_id, v.handle, MIN(w.week_start), MAX(w.week_start),
                COUNT(DISTINCT w.listing_id)
         {ATTRIBUTE_WEEKS_FROM}
         JOIN vendors v ON v.id = w.vendor_id
         WHERE {ATTRIBUTE_WEEKS_JOINED} AND {conditions}
         GROUP BY m.name, w.vendor_id, v.handle ORDER BY m.name, w.vendor_id"
    );
    week_spans(conn, sql, params).await
}

/// Vendor spans by week from `vendor_weeks` and `vendor_listings`: first and last seen are the
/// weeks' Mondays.
async fn vendor_weeks(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
) -> Result<Vec<VendorSpan>, StoreError> {
    let (conditions, params) = filter.market_conditions(1);
    let sql = format!(
        "SELECT m.name, w.vendor_id, v.handle, MIN(w.week_start), MAX(w.week_start),
                (SELECT COUNT(*) FROM vendor_listings vl
                 WHERE vl.market_id = w.market_id AND vl.vendor_id = w.vendor_id)
         FROM vendor_weeks w
         JOIN markets m ON m.id = w.market_id
         JOIN vendors v ON v.id = w.vendor_id
         WHERE {conditions}
         GROUP BY m.name, w.market_id, w.vendor_id, v.handle ORDER BY m.name, w.vendor_id"
    );
    week_spans(conn, sql, params).await
}

/// Vendor spans from a query of (market, vendor id, handle, first week, last week, listings).
async fn week_spans(
    conn: &mut Conn,
    sql: String,
    params: Vec<String>,
) -> Result<Vec<VendorSpan>, StoreError> {
    let mut query =
        sqlx::query_as::<_, (String, i64, String, String, String, i64)>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .context(|| "rolling up the weeks each vendor was seen".to_string())?;
    let midnight = |text: &str| -> Result<DateTime<Utc>, StoreError> {
        Ok(parse_period(text, "vendor weeks")?
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc())
    };
    rows.into_iter()
        .map(|(market, vendor_id, handle, first, last, listings)| {
            Ok(VendorSpan {
                first_seen: midnight(&first)?,
                last_seen: midnight(&last)?,
                market,
                vendor_id,
                handle,
                listings,
            })
        })
        .collect()
}

/// The periods in which each market yielded listings.
pub(crate) async fn observed_periods(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
    period: Period,
) -> Result<Vec<ObservedDay>, StoreError> {
    let (conditions, params) = filter.market_conditions(1);
    let sql = if period == Period::Week {
        format!(
            "SELECT m.name, w.week_start
             FROM market_weeks w JOIN markets m ON m.id = w.market_id
             WHERE {conditions} ORDER BY 1, 2"
        )
    } else {
        let bucket = period_sql(period, "o.observed_at", true);
        format!(
            "SELECT DISTINCT m.name, {bucket} AS p
             {LISTING_FROM}
             WHERE {conditions}
             ORDER BY 1, 2"
        )
    };
    let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .context(|| format!("listing the {}s each market was observed", period.as_str()))?;
    rows.into_iter()
        .map(|(market, p)| {
            Ok(ObservedDay {
                day: parse_period(&p, "observed periods")?,
                market,
            })
        })
        .collect()
}

pub(crate) async fn feedback_activity(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
    period: Period,
) -> Result<Vec<FeedbackActivityRow>, StoreError> {
    let (conditions, params) = filter.market_conditions(1);
    let bucket = period_sql(period, FEEDBACK_DAY, false);
    let sql = format!(
        "SELECT m.name, {bucket} AS p, COUNT(*), COUNT(DISTINCT f.vendor_id)
         FROM feedback f JOIN markets m ON m.id = f.market_id
         WHERE {conditions}
         GROUP BY m.name, p ORDER BY m.name, p"
    );
    let mut query = sqlx::query_as::<_, (String, String, i64, i64)>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .context(|| format!("rolling up feedback by {}", period.as_str()))?;
    rows.into_iter()
        .map(|(market, p, entries, vendors)| {
            Ok(FeedbackActivityRow {
                period_start: parse_period(&p, "feedback activity")?,
                market,
                entries,
                vendors,
            })
        })
        .collect()
}

pub(crate) async fn observed_days(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
) -> Result<Vec<ObservedDay>, StoreError> {
    let (conditions, params) = filter.market_conditions(1);
    let bucket = period_sql(Period::Day, "o.observed_at", true);
    let sql = format!(
        "SELECT DISTINCT m.name, {bucket} AS p
         {LISTING_FROM}
         WHERE {conditions}
         ORDER BY m.name, p"
    );
    let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .context(|| "listing the days each market was observed".to_string())?;
    rows.into_iter()
        .map(|(market, p)| {
            Ok(ObservedDay {
                day: parse_period(&p, "observed days")?,
                market,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct ListingObservationDbRow {
    market: String,
    listing_id: i64,
    vendor_id: Option<i64>,
    vendor: Option<String>,
    crawl_id: i64,
    observed_at: DateTime<Utc>,
    listing_key: String,
    #[sqlx(flatten)]
    row: ListingRow,
}

/// The SQL of a read of listing observations, in `order`, with its parameters.
fn listing_observations_sql(
    filter: &AnalyticsFilter,
    pass: ObservationPass,
) -> (String, Vec<String>) {
    let (conditions, params) = filter.listing_conditions(1);
    let (from, joined) = if filter.vendor.is_some() {
        (VENDOR_LISTING_FROM, VENDOR_LISTING_JOINED)
    } else {
        (LISTING_FROM, "1 = 1")
    };
    let (extra, order) = match pass {
        ObservationPass::Oldest => ("", "o.observed_at, o.id"),
        ObservationPass::ByListing => ("", "o.listing_id, o.observed_at, o.id"),
        // `data` holds only what the typed columns do not (`{}` for most rows since migration
        // 0011; the whole listing in older rows): other prices and printed exchange rates live
        // there, so a row whose `data` is `{}` shows no rate.
        ObservationPass::WithPageExtras => (" AND o.data <> '{}'", "o.observed_at, o.id"),
    };
    let sql = format!(
        "SELECT m.name AS market, o.listing_id, o.vendor_id, v.handle AS vendor, o.crawl_id,
                o.observed_at, l.listing_key, {SELECT_COLUMNS}
         {from}
         LEFT JOIN vendors v ON v.id = o.vendor_id
         WHERE {joined} AND {conditions}{extra}
         ORDER BY {order}"
    );
    (sql, params)
}

impl ListingObservationDbRow {
    fn into_row(self) -> Result<ListingObservationRow, StoreError> {
        let listing = self
            .row
            .join(&self.listing_key, self.vendor.as_deref())
            .map_err(|e| StoreError::Corrupt {
                what: format!(
                    "an observation of listing {} on {}: {e}",
                    self.listing_id, self.market
                ),
            })?;
        Ok(ListingObservationRow {
            market: self.market,
            listing_id: self.listing_id,
            vendor_id: self.vendor_id,
            vendor: self.vendor,
            crawl_id: self.crawl_id,
            observed_at: self.observed_at,
            listing,
        })
    }
}

/// Streams the listing observations of `filter` to `each`, one row at a time (the process holds
/// one row, whatever the number of rows; a sort the order needs is the database's), and returns
/// how many were read.
pub(crate) async fn each_listing_observation(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
    pass: ObservationPass,
    each: &mut (dyn FnMut(ListingObservationRow) + Send),
) -> Result<u64, StoreError> {
    use futures_util::TryStreamExt;
    let (sql, params) = listing_observations_sql(filter, pass);
    let mut query = sqlx::query_as::<_, ListingObservationDbRow>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    let mut rows = query.fetch(&mut *conn);
    let mut read = 0;
    while let Some(row) = rows
        .try_next()
        .await
        .context(|| "reading listing observations".to_string())?
    {
        each(row.into_row()?);
        read += 1;
    }
    Ok(read)
}

/// A vendor's listing observations for its trend: per day, from the vendor index alone (no
/// table row is read), the listings seen and the USD prices; the observations priced otherwise
/// with their whole observed listing.
pub(crate) async fn vendor_prices(
    conn: &mut Conn,
    market: &str,
    handle: &str,
) -> Result<VendorPrices, StoreError> {
    let what = || format!("reading the prices of vendor {handle:?} on {market}");
    let vendor: Option<i64> = sqlx::query_scalar(
        "SELECT v.id FROM vendors v JOIN markets m ON m.id = v.market_id
         WHERE m.name = $1 AND v.handle_key = $2",
    )
    .bind(market)
    .bind(vendor_key(handle))
    .fetch_optional(&mut *conn)
    .await
    .context(what)?;
    let Some(vendor) = vendor else {
        return Ok(VendorPrices::default());
    };
    let day = period_sql(Period::Day, "o.observed_at", true);
    let days: Vec<(String, Option<String>, Option<String>, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {day} AS d, {LISTING_IDS_AGG}, {USD_AMOUNTS_AGG},
                    COUNT(CASE WHEN o.price_currency <> 'USD' THEN 1 END)
             FROM listing_observations o
             WHERE o.vendor_id = $1 AND {CURRENT_EXTRACTION}
             GROUP BY d ORDER BY d"
        )))
        .bind(vendor)
        .fetch_all(&mut *conn)
        .await
        .context(what)?;
    let list = |text: Option<String>| -> Vec<String> {
        text.map(|t| t.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    };
    // Observations priced in another currency than USD, read from the table below.
    let converted_count: i64 = days.iter().map(|d| d.3).sum();
    let days = days
        .into_iter()
        .map(|(day, ids, amounts, _)| {
            let mut listing_ids = list(ids)
                .iter()
                .map(|id| {
                    id.trim().parse::<i64>().map_err(|_| StoreError::Corrupt {
                        what: format!("vendor {vendor}'s listings on {day}: id {id:?}"),
                    })
                })
                .collect::<Result<Vec<i64>, StoreError>>()?;
            listing_ids.sort_unstable();
            listing_ids.dedup();
            let usd_prices = list(amounts)
                .iter()
                .map(|amount| {
                    dnmscope_model::Money::new(amount, "USD").map_err(|e| StoreError::Corrupt {
                        what: format!("vendor {vendor}'s USD price {amount:?} on {day}: {e}"),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(VendorDay {
                day: parse_period(&day, "vendor prices")?,
                listing_ids,
                usd_prices,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    if converted_count == 0 {
        return Ok(VendorPrices {
            days,
            converted: Vec::new(),
        });
    }
    #[derive(sqlx::FromRow)]
    struct Converted {
        listing_id: i64,
        observed_at: DateTime<Utc>,
        listing_key: String,
        handle: String,
        #[sqlx(flatten)]
        row: ListingRow,
    }
    let converted: Vec<Converted> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT o.listing_id, o.observed_at, l.listing_key, v.handle, {SELECT_COLUMNS}
         FROM listing_observations o
         JOIN listings l ON l.id = o.listing_id
         JOIN vendors v ON v.id = o.vendor_id
         WHERE o.vendor_id = $1 AND o.price_currency <> 'USD' AND {CURRENT_EXTRACTION}
         ORDER BY o.observed_at, o.id"
    )))
    .bind(vendor)
    .fetch_all(&mut *conn)
    .await
    .context(what)?;
    let converted = converted
        .into_iter()
        .map(|c| {
            let listing = c.row.join(&c.listing_key, Some(&c.handle)).map_err(|e| {
                StoreError::Corrupt {
                    what: format!("an observation of listing {} by vendor {vendor}: {e}", c.listing_id),
                }
            })?;
            Ok(VendorPriceRow {
                listing_id: c.listing_id,
                observed_at: c.observed_at,
                listing,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(VendorPrices { days, converted })
}

pub(crate) async fn vendor_observations(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
) -> Result<Vec<VendorObservationRow>, StoreError> {
    let (conditions, params) = filter.vendor_conditions("o.vendor_id", 1);
    let joins = if filter.vendor.is_some() {
        "CROSS JOIN vendors v CROSS JOIN markets m"
    } else {
        "JOIN vendors v ON v.id = o.vendor_id JOIN markets m ON m.id = v.market_id"
    };
    let sql = format!(
        "SELECT m.name AS market, o.vendor_id, v.handle, o.crawl_id, o.observed_at,
                o.data AS vendor
         FROM vendor_observations o
         {joins}
         WHERE v.id = o.vendor_id AND m.id = v.market_id AND {conditions}
           AND {CURRENT_EXTRACTION}
         ORDER BY o.observed_at, o.id"
    );
    let mut query = sqlx::query_as::<_, VendorObservationRow>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    query
        .fetch_all(&mut *conn)
        .await
        .context(|| "reading vendor observations".to_string())
}

pub(crate) async fn feedback_rows(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
) -> Result<Vec<FeedbackRow>, StoreError> {
    let (conditions, params) = filter.vendor_conditions("f.vendor_id", 1);
    let joins = if filter.vendor.is_some() {
        "CROSS JOIN markets m"
    } else {
        "JOIN markets m ON m.id = f.market_id"
    };
    let sql = format!(
        "SELECT m.name AS market, f.id AS feedback_id, f.vendor_id, v.handle AS vendor,
                f.listing_id, f.rating, f.text, f.left_on, f.item, f.price_amount,
                f.price_currency, f.first_seen_at,
                (SELECT COUNT(*) FROM feedback_sightings s WHERE s.feedback_id = f.id) AS sightings
         FROM feedback f
         {joins}
         LEFT JOIN vendors v ON v.id = f.vendor_id
         WHERE m.id = f.market_id AND {conditions}
         ORDER BY f.id"
    );
    let mut query = sqlx::query_as::<_, FeedbackRow>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    query
        .fetch_all(&mut *conn)
        .await
        .context(|| "reading feedback entries".to_string())
}

pub(crate) async fn post_rows(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
) -> Result<Vec<PostRow>, StoreError> {
    let (conditions, params) = filter.market_conditions(1);
    let sql = format!(
        "SELECT m.name AS market, p.thread_id,
                (SELECT t.title FROM thread_observations t WHERE t.thread_id = p.thread_id
                 ORDER BY t.id LIMIT 1) AS thread_title,
                (SELECT t.board FROM thread_observations t WHERE t.thread_id = p.thread_id
                 ORDER BY t.id LIMIT 1) AS board,
                p.id AS post_id, o.author_kind, o.author, o.text, p.first_seen_at
         FROM forum_posts p
         JOIN forum_threads th ON th.id = p.thread_id
         JOIN markets m ON m.id = th.market_id
         JOIN post_observations o
           ON o.id = (SELECT MIN(q.id) FROM post_observations q WHERE q.post_id = p.id
                      AND q.extraction_id NOT IN
                          (SELECT s.extraction_id FROM superseded_extractions s))
         WHERE {conditions}
         ORDER BY p.id"
    );
    let mut query = sqlx::query_as::<_, PostRow>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    query
        .fetch_all(&mut *conn)
        .await
        .context(|| "reading forum posts".to_string())
}

pub(crate) async fn event_rows(
    conn: &mut Conn,
    filter: &AnalyticsFilter,
) -> Result<Vec<EventRow>, StoreError> {
    let (conditions, params) = filter.market_conditions(1);
    let sql = format!(
        "SELECT m.name, e.kind, e.observed_at, e.detail
         FROM market_events e JOIN markets m ON m.id = e.market_id
         WHERE {conditions} AND e.kind <> 'needs_human'
         ORDER BY e.observed_at, e.id"
    );
    let mut query =
        sqlx::query_as::<_, (String, String, DateTime<Utc>, String)>(sqlx::AssertSqlSafe(sql));
    for param in params {
        query = query.bind(param);
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .context(|| "reading market events".to_string())?;
    Ok(rows
        .into_iter()
        .map(|(market, kind, observed_at, detail)| EventRow {
            market,
            kind,
            observed_at,
            detail,
        })
        .collect())
}

/// Stores rates not stored yet (same day, currency and source); returns how many were new.
pub(crate) async fn import_rates(
    conn: &mut Conn,
    rates: &[RateRow],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut added = 0;
    for rate in rates {
        let done = sqlx::query(
            "INSERT INTO exchange_rates (day, currency, usd, source, imported_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (currency, day, source) DO NOTHING",
        )
        .bind(rate.day)
        .bind(rate.currency.to_uppercase())
        .bind(rate.usd.trim())
        .bind(rate.source.trim())
        .bind(now)
        .execute(&mut *conn)
        .await
        .context(|| format!("storing the {} rate of {}", rate.currency, rate.day))?;
        added += done.rows_affected();
    }
    Ok(added)
}

pub(crate) async fn rates(conn: &mut Conn) -> Result<Vec<RateRow>, StoreError> {
    let rows: Vec<(NaiveDate, String, String, String)> = sqlx::query_as(
        "SELECT day, currency, usd, source FROM exchange_rates ORDER BY currency, day, source",
    )
    .fetch_all(&mut *conn)
    .await
    .context(|| "reading exchange rates".to_string())?;
    Ok(rows
        .into_iter()
        .map(|(day, currency, usd, source)| RateRow {
            day,
            currency,
            usd,
            source,
        })
        .collect())
}

pub(crate) async fn decide_link(
    conn: &mut Conn,
    a: &VendorRef,
    b: &VendorRef,
    decision: LinkDecision,
    note: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO vendor_link_decisions
             (market_a, handle_a, market_b, handle_b, decision, note, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&a.market)
    .bind(&a.handle)
    .bind(&b.market)
    .bind(&b.handle)
    .bind(decision.as_str())
    .bind(note)
    .bind(at)
    .execute(&mut *conn)
    .await
    .context(|| format!("recording a {} link", decision.as_str()))?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct LinkDecisionDbRow {
    market_a: String,
    handle_a: String,
    market_b: String,
    handle_b: String,
    decision: String,
    note: String,
    decided_at: DateTime<Utc>,
}

pub(crate) async fn link_decisions(conn: &mut Conn) -> Result<Vec<LinkDecisionRow>, StoreError> {
    let rows: Vec<LinkDecisionDbRow> =
        sqlx::query_as(
            "SELECT d.market_a, d.handle_a, d.market_b, d.handle_b, d.decision, d.note,
                    d.decided_at
             FROM vendor_link_decisions d
             WHERE d.id = (SELECT MAX(e.id) FROM vendor_link_decisions e
                           WHERE e.market_a = d.market_a AND e.handle_a = d.handle_a
                             AND e.market_b = d.market_b AND e.handle_b = d.handle_b)
             ORDER BY d.market_a, d.handle_a, d.market_b, d.handle_b",
        )
        .fetch_all(&mut *conn)
        .await
        .context(|| "reading link decisions".to_string())?;
    rows.into_iter()
        .map(
            |LinkDecisionDbRow { market_a, handle_a, market_b, handle_b, decision, note, decided_at }| {
                Ok(LinkDecisionRow {
                    decision: LinkDecision::parse(&decision).ok_or_else(|| {
                        StoreError::Corrupt {
                            what: format!("link decision {decision:?}"),
                        }
                    })?,
                    a: VendorRef {
                        market: market_a,
                        handle: handle_a,
                    },
                    b: VendorRef {
                        market: market_b,
                        handle: handle_b,
                    },
                    note,
                    decided_at,
                })
            },
        )
        .collect()
}

pub(crate) async fn bulk_observe_listings(
    conn: &mut Conn,
    capture_id: i64,
    parser_version: &str,
    listings: &[Listing],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let capture = capture_context(conn, capture_id).await?;
    let extraction_id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO extractions (capture_id, parser_version, page_kind, diagnostics, ingested_at)
         VALUES ($1, $2, 'search', $3, $4)
         ON CONFLICT (capture_id, parser_version) DO NOTHING RETURNING id",
    )
    .bind(capture_id)
    .bind(parser_version)
    .bind(Json(Vec::<String>::new()))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("recording the bulk extraction of capture {capture_id}"))?;
    let Some(extraction_id) = extraction_id else {
        return Ok(0);
    };

    // Vendors and listings, created where missing, then their ids (a handle that is empty
    // once trimmed names no vendor).
    let handles: Vec<&str> = listings
        .iter()
        .filter_map(|l| l.vendor.as_deref())
        .filter(|h| !vendor_key(h).is_empty())
        .collect();
    let vendors = vendor_ids(conn, &capture, &handles).await?;
    let keys: Vec<&str> = listings.iter().map(|l| l.key.as_str()).collect();
    let listing_ids = entity_ids(conn, Entity::Listing, capture.market_id, &keys, None, &capture).await?;

    // One observation per listing key (a page observes a listing once).
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&Listing> = listings.iter().filter(|l| seen.insert(l.key.as_str())).collect();
    let mut rows = Vec::with_capacity(unique.len());
    for listing in unique {
        let key = listing.vendor.as_deref().map(vendor_key).filter(|k| !k.is_empty());
        let (vendor_id, handle) = match &key {
            Some(key) => (Some(vendors.id(key)?), vendors.label(key)),
            None => (None, None),
        };
        rows.push(ObservationInsert {
            listing_id: Some(listing_ids.id(&listing.key)?),
            extraction_id,
            crawl_id: capture.crawl_id,
            capture_id,
            observed_at: capture.fetched_at,
            parser_version,
            page_kind: "search",
            vendor_id,
            row: ListingRow::split(listing, handle),
        });
    }
    insert_listing_rows(conn, &rows).await
}

