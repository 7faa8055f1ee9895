//! The store's queries compiled for SQLite, with what SQLite's dialect needs of its own. The
//! queries are written once in `queries/` and included here and in the other backend module.

pub(crate) type Db = sqlx::Sqlite;
const BLOB_LENGTH: &str = "length(data)";
/// The listing ids of a group, comma-separated (repeated ids are dropped by the reader: a
/// `DISTINCT` here costs a sort per group).
const LISTING_IDS_AGG: &str = "group_concat(o.listing_id, ',')";
/// The USD price amounts of a group, comma-separated.
const USD_AMOUNTS_AGG: &str =
    "group_concat(CASE WHEN o.price_currency = 'USD' THEN o.price_amount END, ',')";
/// The day a feedback entry was left, else the day it was first seen (`YYYY-MM-DD` text).
const FEEDBACK_DAY: &str = "COALESCE(f.left_on, substr(f.first_seen_at, 1, 10))";
/// SQLite has no row locks: `BEGIN IMMEDIATE` already serialises writers.
const FOR_UPDATE: &str = "";
/// Statements that look keys up in lists of bound values are prepared once per list length
/// and kept.
const CACHE_KEY_LISTS: bool = true;
/// The first day (`YYYY-MM-DD`) of the period holding `column` (times and dates are text
/// that starts with the UTC date).
fn period_sql(period: crate::Period, column: &str, _timestamp: bool) -> String {
    match period {
        crate::Period::Day => format!("substr({column}, 1, 10)"),
        crate::Period::Week => format!("date(substr({column}, 1, 10), 'weekday 0', '-6 days')"),
    }
}
/// New listing observations: multi-row inserts.
async fn insert_listing_rows(
    conn: &mut Conn,
    rows: &[crate::listing_row::ObservationInsert<'_>],
) -> Result<u64, crate::StoreError> {
    insert_listing_rows_multi(conn, rows).await
}

// Full-text search.
const LISTING_SEARCH: &str = "SELECT o.id AS observation_id, o.listing_id, m.name AS market,
            o.observed_at, o.title
     FROM listing_observations_fts f
     JOIN listing_observations o ON o.id = f.rowid
     JOIN listings l ON l.id = o.listing_id
     JOIN markets m ON m.id = l.market_id
     WHERE listing_observations_fts MATCH $1
     ORDER BY o.observed_at DESC, o.id DESC LIMIT $2";
const POST_SEARCH: &str = "SELECT o.id AS observation_id, o.post_id, m.name AS market,
            o.observed_at, o.text
     FROM post_observations_fts f
     JOIN post_observations o ON o.id = f.rowid
     JOIN forum_posts p ON p.id = o.post_id
     JOIN forum_threads t ON t.id = p.thread_id
     JOIN markets m ON m.id = t.market_id
     WHERE post_observations_fts MATCH $1
     ORDER BY o.observed_at DESC, o.id DESC LIMIT $2";
/// FTS5 query syntax: every word quoted (so no word is read as an operator), all required.
pub(super) fn search_terms(query: &str) -> String {
    query
        .split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
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
