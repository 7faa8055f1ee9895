//! The store's queries compiled for PostgreSQL, with what PostgreSQL's dialect needs of its own. The
//! queries are written once in `queries/` and included here and in the other backend module.

pub(crate) type Db = sqlx::Postgres;
const BLOB_LENGTH: &str = "octet_length(data)";
/// The listing ids of a group, comma-separated (repeated ids are dropped by the reader).
const LISTING_IDS_AGG: &str = "string_agg(CAST(o.listing_id AS TEXT), ',')";
/// The USD price amounts of a group, comma-separated.
const USD_AMOUNTS_AGG: &str =
    "string_agg(CASE WHEN o.price_currency = 'USD' THEN o.price_amount END, ',')";
/// The day a feedback entry was left, else the day it was first seen (a `DATE`).
const FEEDBACK_DAY: &str = "COALESCE(f.left_on, CAST(f.first_seen_at AT TIME ZONE 'UTC' AS DATE))";
/// Two refreshes of a roll-up queue on its state row.
const FOR_UPDATE: &str = " FOR UPDATE";
/// Statements that look keys up in lists of bound values are not kept: PostgreSQL plans an
/// unnamed statement for the values at hand, where the generic plan of a kept one for
/// `key IN ($2, ...)` compares every row of a market with every value (1.4 s a statement at
/// 34,000 listings; the custom plan hashes the list and takes milliseconds). Only these:
/// planning every statement for its values (`plan_cache_mode = force_custom_plan`, as
/// before) also re-planned each foreign-key check and made inserts 2.8 times slower.
const CACHE_KEY_LISTS: bool = false;
/// The first day (`YYYY-MM-DD`) of the period holding `column`, in UTC.
fn period_sql(period: crate::Period, column: &str, timestamp: bool) -> String {
    let value = if timestamp {
        format!("({column} AT TIME ZONE 'UTC')")
    } else {
        column.to_string()
    };
    match period {
        crate::Period::Day => format!("to_char({value}, 'YYYY-MM-DD')"),
        crate::Period::Week => format!("to_char(date_trunc('week', {value}), 'YYYY-MM-DD')"),
    }
}
/// New listing observations: a page's few in multi-row inserts, more with one `COPY`.
async fn insert_listing_rows(
    conn: &mut Conn,
    rows: &[crate::listing_row::ObservationInsert<'_>],
) -> Result<u64, crate::StoreError> {
    if rows.len() < COPY_FROM_ROWS {
        insert_listing_rows_multi(conn, rows).await
    } else {
        crate::copy::copy_listing_rows(conn, rows).await
    }
}
/// From this many rows on, `COPY` (chosen, not measured: a page's few rows keep the
/// insert, bulk loads of thousands take `COPY`).
const COPY_FROM_ROWS: usize = 64;

// Full-text search.
// The expressions of the GIN indexes in migrations/postgres/0004_views.sql.
const LISTING_SEARCH: &str = "SELECT o.id AS observation_id, o.listing_id, m.name AS market,
            o.observed_at, o.title
     FROM listing_observations o
     JOIN listings l ON l.id = o.listing_id
     JOIN markets m ON m.id = l.market_id
     WHERE to_tsvector('english', coalesce(o.title, '') || ' ' || coalesce(o.description, ''))
           @@ plainto_tsquery('english', $1)
     ORDER BY o.observed_at DESC, o.id DESC LIMIT $2";
const POST_SEARCH: &str = "SELECT o.id AS observation_id, o.post_id, m.name AS market,
            o.observed_at, o.text
     FROM post_observations o
     JOIN forum_posts p ON p.id = o.post_id
     JOIN forum_threads t ON t.id = p.thread_id
     JOIN markets m ON m.id = t.market_id
     WHERE to_tsvector('english', o.text) @@ plainto_tsquery('english', $1)
     ORDER BY o.observed_at DESC, o.id DESC LIMIT $2";
/// plainto_tsquery reads plain words itself (all required).
pub(super) fn search_terms(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

include!("queries/common.rs");
include!("queries/crawl.rs");
include!("queries/capture.rs");
include!("queries/ingest.rs");
include!("queries/frontier.rs");
include!("queries/analytics.rs");
include!("queries/raw.rs");
include!("queries/export.rs");
include!("queries/reparse.rs");
