//! dnmscope's store: the only crate that speaks SQL.
//!
//! It keeps two kinds of data, and never overwrites either:
//!
//! - **raw captures**: every fetched page with its URL, market, crawl, fetch time, status,
//!   headers (secrets redacted) and truncation flag; bodies are stored once per content hash,
//!   zstd-compressed, and read back byte-identical (the hash is checked on every read);
//! - **observations**: what a parser version made of a capture. Listings, vendors, forum threads
//!   and posts have a stable identity per market and get one append-only observation row per
//!   sighting, carrying the crawl, time, capture and parser version. Feedback entries are one row
//!   per content key, keeping the first crawl that saw them, plus a sighting per crawl.
//!
//! Both SQLite (a file path is enough) and PostgreSQL (a URL) are supported with the same logical
//! schema (`migrations/sqlite`, `migrations/postgres`), applied when the store is opened. The
//! queries are written once, in `ops.rs`, and compiled for each backend.
//!
//! Ingest is idempotent (a capture is identified by its [`CaptureKey`], an extraction by its
//! capture and parser version) and transactional: a failure leaves the store as it was.
//!
//! [`CaptureKey`]: dnmscope_model::CaptureKey

mod error;
mod location;
mod stats;

use std::time::Duration;

use chrono::{DateTime, Utc};
use dnmscope_model::{
    Capture, CrawlId, CrawlRun, Extraction, FinishReason, MarketEvent, MarketName,
};
use sqlx::{PgPool, SqlitePool};

pub use error::StoreError;
pub use location::Location;
pub use stats::{CrawlSummary, Stats, TableCount};

use error::Context;

mod sqlite_ops {
    //! The shared queries, compiled for SQLite.
    pub(crate) type Db = sqlx::Sqlite;
    const BLOB_LENGTH: &str = "length(data)";
    include!("ops.rs");
}

mod postgres_ops {
    //! The shared queries, compiled for PostgreSQL.
    pub(crate) type Db = sqlx::Postgres;
    const BLOB_LENGTH: &str = "octet_length(data)";
    include!("ops.rs");
}

/// The tables of the schema, in the order `db stats` lists them.
pub const TABLES: &[&str] = &[
    "markets",
    "crawls",
    "blobs",
    "captures",
    "extractions",
    "vendors",
    "vendor_observations",
    "pgp_keys",
    "listings",
    "listing_observations",
    "feedback",
    "feedback_sightings",
    "forum_threads",
    "thread_observations",
    "forum_posts",
    "post_observations",
    "market_events",
];

/// How SQLite makes commits durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// Consistent after a crash; the last commits may be lost on power loss (WAL's usual mode).
    Normal,
    /// Every commit survives power loss, at some cost in write speed.
    Full,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub location: Location,
    /// Create a missing SQLite file (and apply the schema). When false, a missing file is an
    /// error, so that a typo in a path never silently starts an empty store.
    pub create: bool,
    /// How long SQLite waits for a lock before giving up.
    pub busy_timeout: Duration,
    pub synchronous: Synchronous,
    pub max_connections: u32,
    /// The PostgreSQL schema to work in (created if missing); the server's default when `None`.
    pub postgres_schema: Option<String>,
    /// zstd level for raw bodies.
    pub compression_level: i32,
}

impl StoreOptions {
    pub fn new(location: Location) -> StoreOptions {
        StoreOptions {
            location,
            create: false,
            busy_timeout: Duration::from_secs(5),
            synchronous: Synchronous::Normal,
            max_connections: 4,
            postgres_schema: None,
            compression_level: 3,
        }
    }
}

/// The result of storing one capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureStored {
    pub id: i64,
    /// False when the same capture was already stored (nothing was added).
    pub new: bool,
}

/// What one ingest added. All zero (and `extraction_new` false) when it was already ingested.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    pub capture_id: i64,
    pub capture_new: bool,
    pub extraction_new: bool,
    pub vendors_new: u64,
    pub vendor_observations: u64,
    pub listings_new: u64,
    pub listing_observations: u64,
    pub feedback_new: u64,
    pub feedback_seen_again: u64,
    pub threads_new: u64,
    pub thread_observations: u64,
    pub posts_new: u64,
    pub post_observations: u64,
    pub events_new: u64,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open store. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    location: Location,
    compression_level: i32,
}

/// Runs `$body` in a write transaction on whichever backend the store has, with `$ops` naming
/// that backend's queries and `$conn` the transaction's connection. `$body` uses `?` to give up;
/// the transaction commits when it finishes and rolls back (the transaction is dropped) when it
/// gives up. The macro's value is `Ok` of `$body`'s.
macro_rules! in_transaction {
    ($store:expr, $action:expr, |$conn:ident, $ops:ident| $body:expr) => {{
        let action = || $action;
        match &$store.backend {
            Backend::Sqlite(pool) => {
                use crate::sqlite_ops as $ops;
                // IMMEDIATE takes the write lock up front, so two writers queue on the busy
                // timeout instead of failing when a read transaction tries to upgrade.
                let mut tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .context(|| format!("starting a transaction for {}", action()))?;
                let $conn = &mut *tx;
                let out = $body;
                tx.commit()
                    .await
                    .context(|| format!("committing {}", action()))?;
                Ok(out)
            }
            Backend::Postgres(pool) => {
                use crate::postgres_ops as $ops;
                let mut tx = pool
                    .begin()
                    .await
                    .context(|| format!("starting a transaction for {}", action()))?;
                let $conn = &mut *tx;
                let out = $body;
                tx.commit()
                    .await
                    .context(|| format!("committing {}", action()))?;
                Ok(out)
            }
        }
    }};
}

/// Runs `$body` on a pooled connection, without a transaction (for reads).
macro_rules! on_connection {
    ($store:expr, $action:expr, |$conn:ident, $ops:ident| $body:expr) => {{
        match &$store.backend {
            Backend::Sqlite(pool) => {
                use crate::sqlite_ops as $ops;
                let mut held = pool
                    .acquire()
                    .await
                    .context(|| format!("getting a connection for {}", $action))?;
                let $conn = &mut *held;
                $body
            }
            Backend::Postgres(pool) => {
                use crate::postgres_ops as $ops;
                let mut held = pool
                    .acquire()
                    .await
                    .context(|| format!("getting a connection for {}", $action))?;
                let $conn = &mut *held;
                $body
            }
        }
    }};
}

impl Store {
    /// Opens (or with `create`, creates) the store and brings its schema up to date.
    pub async fn open(options: &StoreOptions) -> Result<Store, StoreError> {
        let backend = location::connect(options).await?;
        let store = Store {
            backend,
            location: options.location.clone(),
            compression_level: options.compression_level,
        };
        store.migrate().await?;
        tracing::debug!(location = %store.location, "store open");
        Ok(store)
    }

    /// Applies the migrations the store does not have yet. `open` already does this.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match &self.backend {
            Backend::Sqlite(pool) => sqlx::migrate!("../../migrations/sqlite").run(pool).await,
            Backend::Postgres(pool) => sqlx::migrate!("../../migrations/postgres").run(pool).await,
        };
        result.map_err(|source| StoreError::Migrate {
            location: self.location.to_string(),
            source,
        })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Starts a crawl run over `markets`, recording the configuration it runs with.
    pub async fn begin_crawl(
        &self,
        markets: &[MarketName],
        config: &serde_json::Value,
        started_at: DateTime<Utc>,
    ) -> Result<CrawlId, StoreError> {
        let tool_version = env!("CARGO_PKG_VERSION");
        in_transaction!(self, "starting a crawl run".to_string(), |conn, ops| {
            ops::begin_crawl(conn, markets, config, started_at, tool_version).await?
        })
    }

    /// Records how a crawl run ended.
    pub async fn finish_crawl(
        &self,
        crawl: CrawlId,
        reason: FinishReason,
        finished_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        in_transaction!(self, format!("finishing {crawl}"), |conn, ops| {
            ops::finish_crawl(conn, crawl, reason, finished_at).await?
        })
    }

    pub async fn crawl(&self, crawl: CrawlId) -> Result<CrawlRun, StoreError> {
        on_connection!(self, format!("reading {crawl}"), |conn, ops| {
            ops::load_crawl(conn, crawl).await
        })
    }

    /// Stores a raw capture. Storing the same capture again adds nothing.
    pub async fn store_capture(&self, capture: &Capture) -> Result<CaptureStored, StoreError> {
        let level = self.compression_level;
        in_transaction!(
            self,
            format!("storing the capture of {}", capture.url),
            |conn, ops| { ops::store_capture(conn, capture, level, Utc::now()).await? }
        )
    }

    /// Stores the observations one parser version made of a stored capture. Ingesting the same
    /// extraction (same capture, same parser version) again adds nothing.
    pub async fn ingest_extraction(
        &self,
        capture_id: i64,
        extraction: &Extraction,
    ) -> Result<IngestReport, StoreError> {
        in_transaction!(
            self,
            format!(
                "ingesting capture {capture_id} ({})",
                extraction.parser_version
            ),
            |conn, ops| { ops::ingest_extraction(conn, capture_id, extraction, Utc::now()).await? }
        )
    }

    /// Stores a capture and its extraction in one transaction: both or neither.
    pub async fn ingest(
        &self,
        capture: &Capture,
        extraction: &Extraction,
    ) -> Result<IngestReport, StoreError> {
        let level = self.compression_level;
        in_transaction!(self, format!("ingesting {}", capture.url), |conn, ops| {
            let now = Utc::now();
            let stored = ops::store_capture(conn, capture, level, now).await?;
            let mut report = ops::ingest_extraction(conn, stored.id, extraction, now).await?;
            report.capture_new = stored.new;
            report
        })
    }

    /// Records a market event that no capture shows (a takedown known from the news, an outage
    /// the crawler measured). Recording the same event again adds nothing.
    pub async fn record_event(
        &self,
        market: &MarketName,
        event: &MarketEvent,
        crawl: Option<CrawlId>,
    ) -> Result<bool, StoreError> {
        in_transaction!(
            self,
            format!("recording a {} event", event.kind.as_str()),
            |conn, ops| { ops::record_event(conn, market, event, crawl, None, Utc::now()).await? }
        )
    }

    /// Reads a stored capture back, body decompressed and checked against its hash.
    pub async fn capture(&self, capture_id: i64) -> Result<Capture, StoreError> {
        on_connection!(
            self,
            format!("reading capture {capture_id}"),
            |conn, ops| ops::load_capture(conn, capture_id).await
        )
    }

    /// Ids of stored captures in storage order, all or one crawl's (for exports).
    pub async fn capture_ids(&self, crawl: Option<CrawlId>) -> Result<Vec<i64>, StoreError> {
        on_connection!(self, "listing captures", |conn, ops| ops::capture_ids(
            conn, crawl
        )
        .await)
    }

    /// Row counts, crawls and the observation time span.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let mut stats = on_connection!(self, "reading statistics", |conn, ops| {
            ops::stats(conn).await
        })?;
        stats.backend = self.backend_name().to_string();
        stats.location = self.location.to_string();
        Ok(stats)
    }

    /// Waits for every connection to close. A dropped store closes them too, less tidily.
    pub async fn close(self) {
        match self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// A `u64` count as the `i64` that both databases store.
fn to_db_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The store's futures must be `Send`, so a crawler can run them on any runtime thread.
#[allow(dead_code)]
fn futures_are_send(store: &Store, capture: &Capture, extraction: &Extraction) {
    fn is_send<T: Send>(_: T) {}
    is_send(store.ingest(capture, extraction));
    is_send(store.store_capture(capture));
    is_send(store.stats());
    is_send(store.capture(1));
    is_send(Store::open(&StoreOptions::new(Location::SqliteMemory)));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    const SQLITE: &str = include_str!("../../../migrations/sqlite/0001_init.sql");
    const POSTGRES: &str = include_str!("../../../migrations/postgres/0001_init.sql");

    /// Table → column names, read from a migration's `CREATE TABLE` statements.
    fn tables(sql: &str) -> BTreeMap<String, Vec<String>> {
        let mut tables = BTreeMap::new();
        let mut current: Option<(String, Vec<String>)> = None;
        for line in sql.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
                let name = rest.split_whitespace().next().unwrap_or_default();
                current = Some((name.to_string(), Vec::new()));
            } else if line.starts_with(");") {
                if let Some((name, columns)) = current.take() {
                    tables.insert(name, columns);
                }
            } else if let Some((_, columns)) = current.as_mut() {
                let first = line.split_whitespace().next().unwrap_or_default();
                let is_column = !first.is_empty()
                    && first.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !["or"].contains(&first);
                if is_column {
                    columns.push(first.to_string());
                }
            }
        }
        tables
    }

    #[test]
    fn both_dialects_have_the_same_tables_and_columns() {
        let sqlite = tables(SQLITE);
        let postgres = tables(POSTGRES);
        assert_eq!(sqlite, postgres);
        let names: Vec<&str> = sqlite.keys().map(String::as_str).collect();
        let mut listed = super::TABLES.to_vec();
        listed.sort_unstable();
        assert_eq!(names, listed, "TABLES lists every table of the schema");
        assert!(sqlite["listing_observations"].contains(&"parser_version".to_string()));
    }
}
