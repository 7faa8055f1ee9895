// What every query file shares. The query files (`queries/*.rs`) are written once and
// compiled for each backend: `sqlite.rs` includes them in `mod sqlite` (with `Db = sqlx::Sqlite`)
// and `postgres.rs` in `mod postgres` (with `Db = sqlx::Postgres`), this file first. The SQL is
// the common dialect of both (`$N` parameters, `ON CONFLICT … DO NOTHING`, `RETURNING`); what
// differs is a constant or function the backend module defines beside its includes.
//
// Functions that write take the connection of a transaction the caller opened, so a failure
// anywhere rolls back everything the caller did.

use chrono::{DateTime, NaiveDate, Utc};
use dnmscope_model::{
    Capture, ContentHash, CrawlId, CrawlRun, Extraction, FeedbackEntry, FinishReason, Header,
    Listing, MarketEvent, MarketName, Truncation, Vendor,
};
use futures_util::stream::{Stream, StreamExt};
use sqlx::types::Json;
use sqlx::Row;

use crate::analytics::vendor_key;
use crate::error::Context;
use crate::listing_row::{ListingRow, ObservationInsert, ROW_COLUMNS, SELECT_COLUMNS};
use crate::stats::{CrawlSummary, Stats, TableCount};
use crate::{to_db_int, CaptureStored, IngestReport, StoreError, TABLES};

type Conn = <Db as sqlx::Database>::Connection;

async fn market_id(
    conn: &mut Conn,
    market: &MarketName,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO markets (name, created_at) VALUES ($1, $2)
         ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(market.as_str())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("recording market {market}"))?;
    if let Some(id) = inserted {
        return Ok(id);
    }
    sqlx::query_scalar("SELECT id FROM markets WHERE name = $1")
        .bind(market.as_str())
        .fetch_one(&mut *conn)
        .await
        .context(|| format!("looking up market {market}"))
}
