// The export queries: every table and view streamed as typed values, full-text search, and the
// counts the datasheet reports. What differs between the dialects (the full-text search) is a
// constant or function of the backend module (`LISTING_SEARCH`, `POST_SEARCH`, `search_terms`).

use crate::export::{
    CrawlMarketCounts, ListingHit, MarketSpan, OriginCount, ParserVersionCount, PostHit, Relation,
    Value, ValueType,
};

type DbRow = <Db as sqlx::Database>::Row;

/// One column of a row as a [`Value`] of the column's type.
fn decode(row: &DbRow, index: usize, ty: ValueType) -> Result<Value, sqlx::Error> {
    Ok(match ty {
        ValueType::Integer => row
            .try_get_unchecked::<Option<i64>, _>(index)?
            .map_or(Value::Null, Value::Integer),
        ValueType::Float => row
            .try_get_unchecked::<Option<f64>, _>(index)?
            .map_or(Value::Null, Value::Float),
        ValueType::Text => row
            .try_get_unchecked::<Option<String>, _>(index)?
            .map_or(Value::Null, Value::Text),
        ValueType::Json => row
            .try_get_unchecked::<Option<Json<serde_json::Value>>, _>(index)?
            .map_or(Value::Null, |json| Value::Text(json.0.to_string())),
        ValueType::Boolean => row
            .try_get_unchecked::<Option<bool>, _>(index)?
            .map_or(Value::Null, Value::Boolean),
        ValueType::Timestamp => row
            .try_get_unchecked::<Option<DateTime<Utc>>, _>(index)?
            .map_or(Value::Null, Value::Timestamp),
        ValueType::Date => row
            .try_get_unchecked::<Option<chrono::NaiveDate>, _>(index)?
            .map_or(Value::Null, Value::Date),
    })
}

pub(crate) fn rows<'a>(
    pool: &'a sqlx::Pool<Db>,
    relation: &'static Relation,
) -> impl Stream<Item = Result<Vec<Value>, StoreError>> + Send + 'a {
    // The SQL names only the relation and columns of the constant `RELATIONS`.
    sqlx::query(sqlx::AssertSqlSafe(relation.select_sql()))
        .fetch(pool)
        .map(move |row| {
            let row = row.context(|| format!("reading {}", relation.name))?;
            relation
                .columns
                .iter()
                .enumerate()
                .map(|(index, column)| decode(&row, index, column.ty))
                .collect::<Result<Vec<Value>, sqlx::Error>>()
                .context(|| format!("reading {} from {}", relation.name, relation.name))
        })
}

pub(crate) async fn search_listings(
    conn: &mut Conn,
    query: &str,
    limit: u32,
) -> Result<Vec<ListingHit>, StoreError> {
    sqlx::query_as(LISTING_SEARCH)
        .bind(search_terms(query))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .context(|| format!("searching listings for {query:?}"))
}

pub(crate) async fn search_posts(
    conn: &mut Conn,
    query: &str,
    limit: u32,
) -> Result<Vec<PostHit>, StoreError> {
    sqlx::query_as(POST_SEARCH)
        .bind(search_terms(query))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .context(|| format!("searching forum posts for {query:?}"))
}

pub(crate) async fn crawl_market_counts(
    conn: &mut Conn,
) -> Result<Vec<CrawlMarketCounts>, StoreError> {
    // One union of everything a run observed, tagged by what it is, then counted per run and
    // market; markets a run crawled without observing anything still get a row (from captures).
    sqlx::query_as(
        "SELECT k.id AS crawl_id, k.started_at, m.name AS market,
                CAST(COUNT(DISTINCT s.listing_id) AS BIGINT) AS listings,
                CAST(COUNT(DISTINCT s.vendor_id) AS BIGINT) AS vendors,
                CAST(COUNT(DISTINCT s.feedback_id) AS BIGINT) AS new_feedback,
                CAST(COUNT(DISTINCT s.post_id) AS BIGINT) AS posts
         FROM (
             SELECT o.crawl_id, l.market_id, o.listing_id, o.vendor_id,
                    CAST(NULL AS BIGINT) AS feedback_id, CAST(NULL AS BIGINT) AS post_id
             FROM listing_observations o JOIN listings l ON l.id = o.listing_id
             UNION ALL
             SELECT o.crawl_id, v.market_id, CAST(NULL AS BIGINT), o.vendor_id, CAST(NULL AS BIGINT),
                    CAST(NULL AS BIGINT)
             FROM vendor_observations o JOIN vendors v ON v.id = o.vendor_id
             UNION ALL
             SELECT f.first_crawl_id, f.market_id, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), f.id,
                    CAST(NULL AS BIGINT)
             FROM feedback f
             UNION ALL
             SELECT o.crawl_id, t.market_id, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
                    CAST(NULL AS BIGINT), o.post_id
             FROM post_observations o
             JOIN forum_posts p ON p.id = o.post_id
             JOIN forum_threads t ON t.id = p.thread_id
             UNION ALL
             SELECT c.crawl_id, c.market_id, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
                    CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)
             FROM captures c
         ) s
         JOIN crawls k ON k.id = s.crawl_id
         JOIN markets m ON m.id = s.market_id
         GROUP BY k.id, k.started_at, m.name
         ORDER BY k.id, m.name",
    )
    .fetch_all(&mut *conn)
    .await
    .context(|| "counting observations per crawl run and market".to_string())
}

pub(crate) async fn market_spans(conn: &mut Conn) -> Result<Vec<MarketSpan>, StoreError> {
    sqlx::query_as(
        "SELECT m.name AS market,
                (SELECT MIN(c.fetched_at) FROM captures c WHERE c.market_id = m.id)
                  AS first_observed,
                (SELECT MAX(c.fetched_at) FROM captures c WHERE c.market_id = m.id)
                  AS last_observed,
                (SELECT CAST(COUNT(DISTINCT c.crawl_id) AS BIGINT) FROM captures c
                 WHERE c.market_id = m.id) AS crawls,
                (SELECT CAST(COUNT(*) AS BIGINT) FROM listings l WHERE l.market_id = m.id)
                  AS listings,
                (SELECT CAST(COUNT(*) AS BIGINT) FROM vendors v WHERE v.market_id = m.id)
                  AS vendors,
                (SELECT CAST(COUNT(*) AS BIGINT) FROM feedback f WHERE f.market_id = m.id)
                  AS feedback,
                (SELECT CAST(COUNT(*) AS BIGINT) FROM forum_posts p
                 JOIN forum_threads t ON t.id = p.thread_id WHERE t.market_id = m.id) AS posts
         FROM markets m ORDER BY m.name",
    )
    .fetch_all(&mut *conn)
    .await
    .context(|| "measuring each market's observations".to_string())
}

pub(crate) async fn parser_versions(
    conn: &mut Conn,
) -> Result<Vec<ParserVersionCount>, StoreError> {
    sqlx::query_as(
        "SELECT parser_version, CAST(COUNT(*) AS BIGINT) AS extractions,
                MIN(ingested_at) AS first_ingested, MAX(ingested_at) AS last_ingested
         FROM extractions GROUP BY parser_version ORDER BY parser_version",
    )
    .fetch_all(&mut *conn)
    .await
    .context(|| "listing parser versions".to_string())
}

pub(crate) async fn listings_by_origin(conn: &mut Conn) -> Result<Vec<OriginCount>, StoreError> {
    sqlx::query_as(
        // Pages that do not show the origin (search results) leave it null: a listing counts
        // under null only when no observation of it ever showed one.
        "SELECT market, ships_from, listings FROM (
             SELECT m.name AS market, o.ships_from AS ships_from,
                    CAST(COUNT(DISTINCT o.listing_id) AS BIGINT) AS listings
             FROM listing_observations o
             JOIN listings l ON l.id = o.listing_id
             JOIN markets m ON m.id = l.market_id
             WHERE o.ships_from IS NOT NULL
             GROUP BY m.name, o.ships_from
             UNION ALL
             SELECT m.name, NULL, CAST(COUNT(*) AS BIGINT)
             FROM listings l
             JOIN markets m ON m.id = l.market_id
             WHERE NOT EXISTS (SELECT 1 FROM listing_observations o
                               WHERE o.listing_id = l.id AND o.ships_from IS NOT NULL)
             GROUP BY m.name
         ) counts
         ORDER BY market, ships_from IS NULL, ships_from",
    )
    .fetch_all(&mut *conn)
    .await
    .context(|| "counting listings by origin".to_string())
}
