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
//! queries are written once, grouped by concern in `queries/`, and compiled for each backend
//! (`sqlite.rs`, `postgres.rs`: each holds its dialect's differences beside the included queries).
//!
//! Ingest is idempotent (a capture is identified by its [`CaptureKey`], an extraction by its
//! capture and parser version) and transactional: a failure leaves the store as it was.
//!
//! [`CaptureKey`]: dnmscope_model::CaptureKey

mod copy;
pub mod dictionary;
mod error;
mod listing_row;
mod location;
mod lock;
mod raw;
mod stats;

use std::time::Duration;

use chrono::{DateTime, Utc};
use dnmscope_model::{
    Capture, CrawlId, CrawlRun, Extraction, FinishReason, FrontierEntry, FrontierState,
    MarketEvent, MarketName, NewLink,
};
use sqlx::{PgPool, SqlitePool};

pub use error::StoreError;
pub use export::{
    CrawlMarketCounts, ExportColumn, ListingHit, MarketSpan, OriginCount, ParserVersionCount,
    PostHit, Relation, RelationKind, Value, ValueType, OMITTED_COLUMNS, RELATIONS,
};
pub use location::Location;
pub use lock::WriterLock;
pub use raw::{RawKey, RawPolicy, CIPHER as RAW_CIPHER};
pub use stats::{CrawlSummary, PurgeRecord, PurgeReport, RawStats, Stats, TableCount};

use error::Context;

mod postgres;
mod sqlite;

pub use analytics::{
    ActivityRow, AnalyticsFilter, EventRow, FeedbackActivityRow, FeedbackRow, LinkDecision,
    LinkDecisionRow, ListingObservationRow, ObservationPass, ObservedDay, Period, PostRow, RateRow,
    VendorDay, VendorObservationRow, VendorPriceRow, VendorPrices, VendorRef, VendorSpan,
};

/// What the store holds of one market in one run (see [`Store::run_tally`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunTally {
    /// Pages the market answered and the run stored (captures other than 429 and 5xx).
    pub pages_stored: u64,
    /// Stored pages with observations, by page kind (one per capture).
    pub extracted: std::collections::BTreeMap<String, u64>,
    /// Frontier entries given up.
    pub given_up: u64,
    /// Of those, pages the parser refused.
    pub refused: u64,
    /// Frontier entries of kind `listing` (the listings the run found links to), less those
    /// whose page was fetched and had nothing to read (gone, moved, not a listing).
    pub listing_entries: u64,
}

/// The tables of the schema, in the order `db stats` lists them.
pub const TABLES: &[&str] = &[
    "markets",
    "crawls",
    "blobs",
    "captures",
    "extractions",
    "superseded_extractions",
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
    "frontier",
    "crawl_accounting",
    "exchange_rates",
    "vendor_link_decisions",
    "listing_weeks",
    "market_weeks",
    "vendor_weeks",
    "vendor_listings",
    "listing_attributes",
    "attribute_weeks",
    "rollup_state",
    "raw_encryption",
    "raw_purges",
    "raw_dictionaries",
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
    /// The key raw bodies are encrypted with (kept apart from the store). Without it the store
    /// opens for everything but encrypted raw bodies.
    pub raw_key: Option<RawKey>,
    /// A store that holds no raw body yet and has no encryption policy starts encrypting with
    /// `raw_key` (new stores are encrypted by default).
    pub encrypt_new_stores: bool,
    /// Compress raw bodies with per-market dictionaries trained on the market's own pages (see
    /// [`dictionary`]); off: every body plain per-page zstd, as before they existed.
    pub raw_dictionaries: bool,
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
            compression_level: 6,
            raw_key: None,
            encrypt_new_stores: true,
            raw_dictionaries: true,
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

/// Which captures `dnmscope reparse` reads again (all when every field is empty).
#[derive(Debug, Clone, Default)]
pub struct ReparseSelection {
    pub market: Option<String>,
    pub crawl: Option<CrawlId>,
    /// Captures fetched at or after this instant.
    pub since: Option<DateTime<Utc>>,
}

/// A capture to parse again, with its newest extraction (none for a capture never parsed).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReparseCandidate {
    pub capture_id: i64,
    pub market: String,
    pub extraction_id: Option<i64>,
    pub parser_version: Option<String>,
    pub page_kind: Option<String>,
}

/// What an extraction's stored observations hold (to compare a new parse with).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtractionContents {
    pub listings: Vec<dnmscope_model::Listing>,
    pub vendors: Vec<dnmscope_model::Vendor>,
    pub posts: u64,
}

/// What [`Store::reparse_pages`] did with one capture's new extraction.
#[derive(Debug)]
pub struct Reparsed {
    pub ingest: Result<IngestReport, StoreError>,
    /// Older extractions of the capture it replaced.
    pub superseded: u64,
}

/// What [`Store::import_pages`] did with one page.
#[derive(Debug)]
pub struct ImportedPage {
    pub capture_id: i64,
    /// False when the same capture was already stored.
    pub capture_new: bool,
    /// What its extraction added, or why the store refused it.
    pub ingest: Result<IngestReport, StoreError>,
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
/// What [`Store::complete`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The observations stored, when the page had an extraction.
    pub report: Option<IngestReport>,
    /// Links that were new to the run's frontier (the others were already in it).
    pub links_added: u64,
    /// Links looked at, from the front: all of them unless `max_new` new ones were reached.
    pub links_taken: usize,
}

/// What [`Store::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// Links that were new to the run's frontier.
    pub added: u64,
    /// Links looked at, from the front: all of them unless `max_new` new ones were reached
    /// (links already in the frontier cost nothing, so more may be taken than `max_new`).
    pub taken: usize,
}

#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    location: Location,
    compression_level: i32,
    raw_key: Option<RawKey>,
    /// Per-market zstd dictionaries, prepared, shared by clones.
    dictionaries: std::sync::Arc<dictionary::Cache>,
    /// Whether new bodies are compressed with them.
    raw_dictionaries: bool,
}

/// Runs `$body` on whichever backend the store has, with `$db` naming that backend's module
/// (its queries, `crate::sqlite` or `crate::postgres`) and `$conn` a connection:
///
/// - `with_backend!(transaction, store, action, |conn, db| body)` runs it in a write
///   transaction. `body` uses `?` to give up; the transaction commits when it finishes and rolls
///   back (the transaction is dropped) when it gives up. The value is `Ok` of `body`'s.
/// - `with_backend!(connection, store, action, |conn, db| body)` runs it on a pooled connection
///   without a transaction (reads). The value is `body`'s.
///
/// `action` names what is done, for the error's context.
macro_rules! with_backend {
    (transaction, $store:expr, $action:expr, |$conn:ident, $db:ident| $body:expr) => {{
        let action = || $action;
        match &$store.backend {
            Backend::Sqlite(pool) => {
                use crate::sqlite as $db;
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
                use crate::postgres as $db;
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
    (connection, $store:expr, $action:expr, |$conn:ident, $db:ident| $body:expr) => {{
        let action = || $action;
        match &$store.backend {
            Backend::Sqlite(pool) => {
                use crate::sqlite as $db;
                let mut held = pool
                    .acquire()
                    .await
                    .context(|| format!("getting a connection for {}", action()))?;
                let $conn = &mut *held;
                $body
            }
            Backend::Postgres(pool) => {
                use crate::postgres as $db;
                let mut held = pool
                    .acquire()
                    .await
                    .context(|| format!("getting a connection for {}", action()))?;
                let $conn = &mut *held;
                $body
            }
        }
    }};
}

// After the macro above, which they use.
mod analytics;
mod export;

impl Store {
    /// Opens (or with `create`, creates) the store and brings its schema up to date.
    pub async fn open(options: &StoreOptions) -> Result<Store, StoreError> {
        if let Location::SqliteFile(path) = &options.location {
            // SQLite would take a zero-byte file for an empty database and write a schema into
            // it: a file that is not a store is refused instead.
            if !options.create && std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
                return Err(StoreError::EmptyFile { path: path.clone() });
            }
        }
        // Two processes creating or upgrading one SQLite store take turns.
        let _migrating = match &options.location {
            Location::SqliteFile(path) if options.create || path.exists() => Some(
                lock::lock_migration(path, options.busy_timeout.max(Duration::from_secs(30)))
                    .await?,
            ),
            _ => None,
        };
        let backend = location::connect(options).await?;
        let store = Store {
            backend,
            location: options.location.clone(),
            compression_level: options.compression_level,
            raw_key: options.raw_key.clone(),
            dictionaries: Default::default(),
            raw_dictionaries: options.raw_dictionaries,
        };
        store.migrate().await?;
        if let (Some(key), true) = (&options.raw_key, options.encrypt_new_stores) {
            let enabled = with_backend!(
                transaction,
                store,
                "turning on raw-body encryption".to_string(),
                |conn, db| {
                    if db::raw_policy(conn).await?.is_none() && db::blob_total(conn).await? == 0 {
                        db::enable_raw_policy(conn, key, "a new store", Utc::now()).await?
                    } else {
                        false
                    }
                }
            )?;
            if enabled {
                tracing::info!(
                    key_id = key.id(),
                    "raw bodies of this new store are encrypted"
                );
            }
        }
        tracing::debug!(location = %store.location, "store open");
        Ok(store)
    }

    /// Applies the migrations the store does not have yet. `open` already does this.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match &self.backend {
            Backend::Sqlite(pool) => sqlx::migrate!("../../migrations/sqlite").run(pool).await,
            Backend::Postgres(pool) => sqlx::migrate!("../../migrations/postgres").run(pool).await,
        };
        result.map_err(|source| match source {
            // The store has a migration this build does not: a newer dnmscope wrote it.
            sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::Newer {
                location: self.location.to_string(),
                version,
            },
            source => StoreError::Migrate {
                location: self.location.to_string(),
                source,
            },
        })
    }

    /// Takes the store's writer lock for `what` (`"dnmscope crawl"`): a second run that writes
    /// (crawl, demo, import) fails at once, naming the holder. Held until dropped, released by
    /// the operating system when the process ends however it ends. `None` for stores that need
    /// no lock (in memory; PostgreSQL, whose workers coordinate in the database).
    pub fn lock_writer(&self, what: &str) -> Result<Option<WriterLock>, StoreError> {
        match &self.location {
            Location::SqliteFile(path) => lock::lock_writer(path, what).map(Some),
            Location::SqliteMemory | Location::Postgres(_) => Ok(None),
        }
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
        with_backend!(
            transaction,
            self,
            "starting a crawl run".to_string(),
            |conn, db| db::begin_crawl(conn, markets, config, started_at, tool_version).await?
        )
    }

    /// Records how a crawl run ended.
    pub async fn finish_crawl(
        &self,
        crawl: CrawlId,
        reason: FinishReason,
        finished_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        with_backend!(
            transaction,
            self,
            format!("finishing {crawl}"),
            |conn, db| db::finish_crawl(conn, crawl, reason, finished_at).await?
        )
    }

    pub async fn crawl(&self, crawl: CrawlId) -> Result<CrawlRun, StoreError> {
        with_backend!(connection, self, format!("reading {crawl}"), |conn, db| {
            db::load_crawl(conn, crawl).await
        })
    }

    /// Stores a raw capture. Storing the same capture again adds nothing.
    pub async fn store_capture(&self, capture: &Capture) -> Result<CaptureStored, StoreError> {
        let level = self.compression_level;
        let dictionary = self.dictionary_for(&capture.market).await?;
        let dictionary = dictionary.as_deref();
        let stored = with_backend!(
            transaction,
            self,
            format!("storing the capture of {}", capture.url),
            |conn, db| {
                db::store_capture(
                    conn,
                    capture,
                    level,
                    dictionary,
                    self.raw_key.as_ref(),
                    Utc::now(),
                )
                .await?
            }
        )?;
        self.stored_body(capture, stored.new);
        Ok(stored)
    }

    /// Stores the observations one parser version made of a stored capture. Ingesting the same
    /// extraction (same capture, same parser version) again adds nothing.
    pub async fn ingest_extraction(
        &self,
        capture_id: i64,
        extraction: &Extraction,
    ) -> Result<IngestReport, StoreError> {
        with_backend!(
            transaction,
            self,
            format!(
                "ingesting capture {capture_id} ({})",
                extraction.parser_version
            ),
            |conn, db| db::ingest_extraction(conn, capture_id, extraction, Utc::now()).await?
        )
    }

    /// Stores the observations of many stored captures in one transaction, in order, each as
    /// [`Store::ingest_extraction`] would: the bulk path of imports and re-parses, where a
    /// transaction per page would cost more than the page. An extraction the store must refuse
    /// (observations from an interstitial page, no parser version) gets its error in its place
    /// and the others are stored; any other failure stores none of them.
    pub async fn ingest_extractions(
        &self,
        items: &[(i64, &Extraction)],
    ) -> Result<Vec<Result<IngestReport, StoreError>>, StoreError> {
        with_backend!(
            transaction,
            self,
            format!("ingesting {} extractions", items.len()),
            |conn, db| {
                let now = Utc::now();
                let mut reports = Vec::with_capacity(items.len());
                for (capture_id, extraction) in items {
                    match db::check_extraction(extraction) {
                        Err(refused) => reports.push(Err(refused)),
                        Ok(()) => reports.push(Ok(db::ingest_extraction(
                            conn,
                            *capture_id,
                            extraction,
                            now,
                        )
                        .await?)),
                    }
                }
                reports
            }
        )
    }

    /// The import run `import_key` names (what was imported: kind, path, date, market), begun
    /// now when there is none; the flag is true when it is new. Importing the same archive again
    /// finds the same run, so its pages have the same capture keys and add nothing.
    pub async fn begin_import(
        &self,
        import_key: &str,
        markets: &[MarketName],
        config: &serde_json::Value,
        started_at: DateTime<Utc>,
    ) -> Result<(CrawlId, bool), StoreError> {
        let tool_version = env!("CARGO_PKG_VERSION");
        with_backend!(
            transaction,
            self,
            format!("starting the import run {import_key}"),
            |conn, db| db::begin_import(
                conn,
                import_key,
                markets,
                config,
                started_at,
                tool_version
            )
            .await?
        )
    }

    /// Records the markets an import run's pages were of, and its end the first time it ends.
    pub async fn finish_import(
        &self,
        crawl: CrawlId,
        markets: &[MarketName],
        finished_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        with_backend!(
            transaction,
            self,
            format!("finishing the import run {crawl}"),
            |conn, db| db::finish_import(conn, crawl, markets, finished_at).await?
        )
    }

    /// Which of `keys` are stored captures: an import skips the pages it stored before, so a
    /// killed import run again goes on where it stopped.
    pub async fn stored_capture_keys(
        &self,
        keys: &[&str],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        with_backend!(connection, self, "looking up capture keys", |conn, db| {
            db::stored_capture_keys(conn, keys).await
        })
        .map(|found| found.into_iter().collect())
    }

    /// Stores many captures, each with what its parser made of it, in one transaction: the
    /// bulk path of imports. Each page is stored as [`Store::ingest`] stores it; an extraction
    /// the store must refuse gets its error in its place (its capture is kept), any other failure
    /// stores none of them.
    pub async fn import_pages(
        &self,
        pages: &[(Capture, Extraction)],
    ) -> Result<Vec<ImportedPage>, StoreError> {
        let level = self.compression_level;
        let mut dictionaries: std::collections::HashMap<
            &str,
            Option<std::sync::Arc<dictionary::Dictionary>>,
        > = std::collections::HashMap::new();
        for (capture, _) in pages {
            if !dictionaries.contains_key(capture.market.as_str()) {
                let found = self.dictionary_for(&capture.market).await?;
                dictionaries.insert(capture.market.as_str(), found);
            }
        }
        let imported = with_backend!(
            transaction,
            self,
            format!("importing {} pages", pages.len()),
            |conn, db| {
                let now = Utc::now();
                let mut imported = Vec::with_capacity(pages.len());
                for (capture, extraction) in pages {
                    let dictionary = dictionaries
                        .get(capture.market.as_str())
                        .and_then(|d| d.as_deref());
                    let stored = db::store_capture(
                        conn,
                        capture,
                        level,
                        dictionary,
                        self.raw_key.as_ref(),
                        now,
                    )
                    .await?;
                    let ingest = match db::check_extraction(extraction) {
                        Err(refused) => Err(refused),
                        Ok(()) => {
                            Ok(db::ingest_extraction(conn, stored.id, extraction, now).await?)
                        }
                    };
                    imported.push(ImportedPage {
                        capture_id: stored.id,
                        capture_new: stored.new,
                        ingest,
                    });
                }
                imported
            }
        )?;
        for ((capture, _), page) in pages.iter().zip(&imported) {
            self.stored_body(capture, page.capture_new);
        }
        Ok(imported)
    }

    /// Captures to parse again, in id order after `after`, at most `limit`.
    pub async fn reparse_candidates(
        &self,
        selection: &ReparseSelection,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ReparseCandidate>, StoreError> {
        with_backend!(
            connection,
            self,
            "listing captures to re-parse",
            |conn, db| db::reparse_candidates(conn, selection, after, limit).await
        )
    }

    /// What an extraction's observations hold: its listings and vendors as stored, and how many
    /// posts it has (through the observations' extraction indexes, migration 0014).
    pub async fn extraction_contents(
        &self,
        extraction: i64,
    ) -> Result<ExtractionContents, StoreError> {
        with_backend!(
            connection,
            self,
            format!("reading extraction {extraction}"),
            |conn, db| db::extraction_contents(conn, extraction).await
        )
    }

    /// Stores the new extractions of stored captures (a re-parse) in one transaction, each as
    /// [`Store::ingest_extraction`] would, and marks every other extraction of each capture as
    /// replaced (`superseded_extractions`): analytics then read the newest parse, and the old
    /// rows stay. When any was replaced the weekly roll-ups start over (their next read rebuilds
    /// them).
    pub async fn reparse_pages(
        &self,
        items: &[(i64, &Extraction)],
    ) -> Result<Vec<Reparsed>, StoreError> {
        with_backend!(
            transaction,
            self,
            format!("storing {} re-parsed extractions", items.len()),
            |conn, db| {
                let now = Utc::now();
                let mut done = Vec::with_capacity(items.len());
                let mut replaced = 0;
                for (capture_id, extraction) in items {
                    if let Err(refused) = db::check_extraction(extraction) {
                        done.push(Reparsed {
                            ingest: Err(refused),
                            superseded: 0,
                        });
                        continue;
                    }
                    let report = db::ingest_extraction(conn, *capture_id, extraction, now).await?;
                    let superseded =
                        match db::extraction_id(conn, *capture_id, &extraction.parser_version)
                            .await?
                        {
                            Some(id) => db::supersede(conn, *capture_id, id, now).await?,
                            None => 0,
                        };
                    replaced += superseded;
                    done.push(Reparsed {
                        ingest: Ok(report),
                        superseded,
                    });
                }
                if replaced > 0 {
                    db::reset_rollups(conn).await?;
                }
                done
            }
        )
    }

    /// Stores a capture and its extraction in one transaction: both or neither.
    pub async fn ingest(
        &self,
        capture: &Capture,
        extraction: &Extraction,
    ) -> Result<IngestReport, StoreError> {
        let level = self.compression_level;
        let dictionary = self.dictionary_for(&capture.market).await?;
        let dictionary = dictionary.as_deref();
        let report = with_backend!(
            transaction,
            self,
            format!("ingesting {}", capture.url),
            |conn, db| {
                let now = Utc::now();
                let stored =
                    db::store_capture(conn, capture, level, dictionary, self.raw_key.as_ref(), now)
                        .await?;
                let mut report = db::ingest_extraction(conn, stored.id, extraction, now).await?;
                report.capture_new = stored.new;
                report
            }
        )?;
        self.stored_body(capture, report.capture_new);
        Ok(report)
    }

    /// Adds links to a crawl run's frontier (each canonical URL once per run and market), in
    /// order, until `max_new` of them were new (a page budget's room; `None`: all of them).
    pub async fn enqueue(
        &self,
        crawl: CrawlId,
        market: &MarketName,
        links: &[NewLink],
        max_new: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Enqueued, StoreError> {
        with_backend!(
            transaction,
            self,
            format!("enqueueing {} links for {crawl}", links.len()),
            |conn, db| db::enqueue(conn, crawl, market, links, max_new, now).await?
        )
    }

    /// Pending frontier entries due at `now`, highest priority first: up to `limit` of each
    /// market, so a market with a deep frontier never hides the others.
    pub async fn due(
        &self,
        crawl: CrawlId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FrontierEntry>, StoreError> {
        with_backend!(
            connection,
            self,
            format!("reading the frontier of {crawl}"),
            |conn, db| db::due(conn, crawl, now, limit).await
        )
    }

    /// When the next pending entry of a run falls due (None: nothing pending).
    pub async fn next_due(&self, crawl: CrawlId) -> Result<Option<DateTime<Utc>>, StoreError> {
        with_backend!(
            connection,
            self,
            format!("reading the frontier of {crawl}"),
            |conn, db| db::next_due(conn, crawl).await
        )
    }

    pub async fn frontier_entry(&self, id: i64) -> Result<FrontierEntry, StoreError> {
        with_backend!(
            connection,
            self,
            format!("reading frontier entry {id}"),
            |conn, db| db::frontier_entry_by_id(conn, id).await
        )
    }

    /// Stores the page fetched for a frontier entry and links it to the entry, in one
    /// transaction: a run resumed later finds the page stored and does not fetch it again.
    pub async fn store_fetched(
        &self,
        entry: i64,
        capture: &Capture,
    ) -> Result<CaptureStored, StoreError> {
        let level = self.compression_level;
        let dictionary = self.dictionary_for(&capture.market).await?;
        let dictionary = dictionary.as_deref();
        let stored = with_backend!(
            transaction,
            self,
            format!("storing the capture of {}", capture.url),
            |conn, db| {
                let stored = db::store_capture(
                    conn,
                    capture,
                    level,
                    dictionary,
                    self.raw_key.as_ref(),
                    Utc::now(),
                )
                .await?;
                db::attach_capture(conn, entry, stored.id).await?;
                stored
            }
        )?;
        self.stored_body(capture, stored.new);
        Ok(stored)
    }

    /// Finishes a frontier entry whose page was stored: its extraction (if the page yields
    /// observations), the links it found (up to `max_new` new ones, as [`Store::enqueue`]), and
    /// the entry marked done, all in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete(
        &self,
        entry: i64,
        extraction: Option<(i64, &Extraction)>,
        crawl: CrawlId,
        market: &MarketName,
        links: &[NewLink],
        max_new: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Completed, StoreError> {
        with_backend!(
            transaction,
            self,
            format!("completing frontier entry {entry}"),
            |conn, db| {
                let report = match extraction {
                    Some((capture_id, extraction)) => {
                        Some(db::ingest_extraction(conn, capture_id, extraction, now).await?)
                    }
                    None => None,
                };
                let enqueued = db::enqueue(conn, crawl, market, links, max_new, now).await?;
                db::settle(conn, entry, FrontierState::Done, true, None, None).await?;
                Completed {
                    report,
                    links_added: enqueued.added,
                    links_taken: enqueued.taken,
                }
            }
        )
    }

    /// Puts an entry back to wait until `at` (a failed attempt that may succeed later, or a page
    /// that must be fetched again because the session died); `attempted` counts the attempt.
    /// The page will be fetched again: a capture stored for it (a queue or login page) stays in
    /// the store but is no longer the entry's.
    pub async fn retry_later(
        &self,
        entry: i64,
        at: DateTime<Utc>,
        attempted: bool,
        error: &str,
    ) -> Result<(), StoreError> {
        with_backend!(
            transaction,
            self,
            format!("rescheduling frontier entry {entry}"),
            |conn, db| {
                db::settle(
                    conn,
                    entry,
                    FrontierState::Pending,
                    attempted,
                    Some(at),
                    Some(error),
                )
                .await?
            }
        )
    }

    /// Reschedules an entry that met a gate (a queue, ban, login or captcha page) and moves it
    /// behind its market's other waiting pages of the same priority: a page that is always a
    /// gate cannot starve the rest of its market.
    pub async fn retry_after_gate(
        &self,
        entry: i64,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        with_backend!(
            transaction,
            self,
            format!("rescheduling frontier entry {entry} after a gate"),
            |conn, db| {
                db::settle(
                    conn,
                    entry,
                    FrontierState::Pending,
                    false,
                    Some(at),
                    Some(error),
                )
                .await?;
                db::demote(conn, entry).await?
            }
        )
    }

    /// Notes that a resumed run is parsing an entry's stored page again (`note` becomes the
    /// entry's last error; `None` clears it once the parse returned): a run that finds the note
    /// already there knows a process ended while parsing that page, and can refuse it instead of
    /// crashing on it again.
    pub async fn note_reparse(&self, entry: i64, note: Option<&str>) -> Result<(), StoreError> {
        with_backend!(
            transaction,
            self,
            format!("noting the re-parse of frontier entry {entry}"),
            |conn, db| db::note_reparse(conn, entry, note).await?
        )
    }

    /// Gives up on an entry for this run.
    pub async fn give_up(&self, entry: i64, error: &str) -> Result<(), StoreError> {
        with_backend!(
            transaction,
            self,
            format!("giving up frontier entry {entry}"),
            |conn, db| {
                db::settle(conn, entry, FrontierState::Failed, true, None, Some(error)).await?
            }
        )
    }

    /// Frontier entries of a run as (market, state, count).
    pub async fn frontier_counts(
        &self,
        crawl: CrawlId,
    ) -> Result<Vec<(String, FrontierState, u64)>, StoreError> {
        let rows = with_backend!(
            connection,
            self,
            format!("counting the frontier of {crawl}"),
            |conn, db| db::frontier_counts(conn, crawl).await
        )?;
        rows.into_iter()
            .map(|(market, state, count)| {
                let parsed = FrontierState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                    what: format!("frontier of {crawl} has unknown state {state:?}"),
                })?;
                Ok((market, parsed, u64::try_from(count).unwrap_or(0)))
            })
            .collect()
    }

    /// The most recent crawl run that never finished (the one `dnmscope crawl` resumes).
    pub async fn unfinished_crawl(&self) -> Result<Option<CrawlId>, StoreError> {
        with_backend!(
            connection,
            self,
            "looking for an unfinished crawl run",
            |conn, db| db::unfinished_crawl(conn).await
        )
    }

    /// Saves a run's accounting for one market (replacing what was saved before).
    pub async fn save_accounting(
        &self,
        crawl: CrawlId,
        market: &MarketName,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        with_backend!(
            transaction,
            self,
            format!("saving the accounting of {crawl}"),
            |conn, db| db::save_accounting(conn, crawl, market, data, Utc::now()).await?
        )
    }

    /// What the store holds of a run, per market: the facts its completeness accounting is
    /// derived from, whatever happened to the processes that ran it.
    pub async fn run_tally(&self, crawl: CrawlId) -> Result<Vec<(String, RunTally)>, StoreError> {
        with_backend!(connection, self, format!("tallying {crawl}"), |conn, db| {
            db::run_tally(conn, crawl).await
        })
    }

    /// A run's accounting per market, as saved.
    pub async fn accounting(
        &self,
        crawl: CrawlId,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        with_backend!(
            connection,
            self,
            format!("reading the accounting of {crawl}"),
            |conn, db| db::load_accounting(conn, crawl).await
        )
    }

    /// Records a market event that no capture shows (a takedown known from the news, an outage
    /// the crawler measured). Recording the same event again adds nothing.
    pub async fn record_event(
        &self,
        market: &MarketName,
        event: &MarketEvent,
        crawl: Option<CrawlId>,
    ) -> Result<bool, StoreError> {
        with_backend!(
            transaction,
            self,
            format!("recording a {} event", event.kind.as_str()),
            |conn, db| db::record_event(conn, market, event, crawl, None, Utc::now()).await?
        )
    }

    /// Reads a stored capture back, body decompressed and checked against its hash.
    pub async fn capture(&self, capture_id: i64) -> Result<Capture, StoreError> {
        with_backend!(
            connection,
            self,
            format!("reading capture {capture_id}"),
            |conn, db| db::load_capture(
                conn,
                capture_id,
                self.raw_key.as_ref(),
                &self.dictionaries,
                self.compression_level
            )
            .await
        )
    }

    /// Ids of stored captures in storage order, all or one crawl's (for exports).
    pub async fn capture_ids(&self, crawl: Option<CrawlId>) -> Result<Vec<i64>, StoreError> {
        with_backend!(connection, self, "listing captures", |conn, db| {
            db::capture_ids(conn, crawl).await
        })
    }

    /// Row counts, crawls and the observation time span.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let mut stats = with_backend!(connection, self, "reading statistics", |conn, db| {
            db::stats(conn).await
        })?;
        stats.backend = self.backend_name().to_string();
        stats.location = self.location.to_string();
        Ok(stats)
    }

    /// The store's policy for new raw bodies (`None`: stored unencrypted).
    pub async fn raw_policy(&self) -> Result<Option<RawPolicy>, StoreError> {
        with_backend!(
            connection,
            self,
            "reading the raw-body policy",
            |conn, db| db::raw_policy(conn).await
        )
    }

    /// The key this store was opened with, if any.
    pub fn raw_key(&self) -> Option<&RawKey> {
        self.raw_key.as_ref()
    }

    /// Encrypts the store's unencrypted raw bodies in place with the key it was opened with,
    /// `batch` bodies per transaction, calling `progress(done, total)` after each. Turns the
    /// policy on first, so new bodies are encrypted from then on. Resumable: a run killed at any
    /// point leaves every body either plain or encrypted, never lost, and the next run goes on.
    pub async fn encrypt_raw(
        &self,
        batch: u32,
        by: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64, StoreError> {
        let key = self.raw_key.clone().ok_or_else(|| StoreError::RawKey {
            reason: "encrypting raw bodies needs a key (store.raw_key_file)".to_string(),
        })?;
        with_backend!(
            transaction,
            self,
            "turning on raw-body encryption".to_string(),
            |conn, db| db::enable_raw_policy(conn, &key, by, Utc::now()).await?
        )?;
        with_backend!(
            transaction,
            self,
            "encrypting raw-body dictionaries".to_string(),
            |conn, db| db::encrypt_dictionaries(conn, &key).await?
        )?;
        let total = self.stats().await?.raw.bodies_plain;
        let mut done = 0u64;
        loop {
            let (n, _) = with_backend!(
                transaction,
                self,
                "encrypting raw bodies".to_string(),
                |conn, db| db::encrypt_batch(conn, &key, i64::from(batch.max(1))).await?
            )?;
            if n == 0 {
                break;
            }
            done += n;
            progress(done, total);
        }
        Ok(done)
    }

    /// Purges the raw pages of captures fetched before `before` (of one market, or all): the
    /// observations stay, the captures say they were purged, the bodies no unpurged capture
    /// needs lose their bytes, and an audit row records who (`by`), when and how much.
    pub async fn purge_raw(
        &self,
        before: DateTime<Utc>,
        market: Option<&MarketName>,
        by: &str,
    ) -> Result<Option<PurgeReport>, StoreError> {
        with_backend!(
            transaction,
            self,
            "purging raw pages".to_string(),
            |conn, db| {
                let report = db::purge_raw(conn, before, market, by, Utc::now()).await?;
                if let Some(report) = &report {
                    db::retire_dictionaries(conn, report.purge_id).await?;
                }
                report
            }
        )
    }

    /// The dictionary a new body of `market` is compressed with: the market's current one,
    /// trained (or replaced by a better one) first when it is time (see `dictionary.rs`).
    /// Training runs in its own transaction, so a dictionary is only ever used once stored.
    async fn dictionary_for(
        &self,
        market: &MarketName,
    ) -> Result<Option<std::sync::Arc<dictionary::Dictionary>>, StoreError> {
        if !self.raw_dictionaries {
            return Ok(None);
        }
        let level = self.compression_level;
        // Whether it is time to train, taking the market's training turn if so: concurrent pages
        // of one market go on with its current dictionary meanwhile.
        let take_turn = |state: &mut dictionary::MarketState| {
            let due = state.due();
            state.training |= due;
            (due, state.current.clone())
        };
        let known = {
            let mut markets = self.dictionaries.markets.lock().expect("dictionary lock");
            markets.get_mut(market.as_str()).map(take_turn)
        };
        let (due, current) = match known {
            Some(known) => known,
            None => {
                let (found, since) = with_backend!(
                    connection,
                    self,
                    format!("reading the raw-body dictionary of {market}"),
                    |conn, db| db::market_dictionary(conn, market, self.raw_key.as_ref()).await
                )?;
                let trained_on = found.as_ref().map_or(0, |(_, _, samples)| *samples);
                let current = found.map(|(id, bytes, _)| {
                    let prepared =
                        std::sync::Arc::new(dictionary::Dictionary::new(id, &bytes, level));
                    self.dictionaries.insert(prepared.clone());
                    prepared
                });
                let mut markets = self.dictionaries.markets.lock().expect("dictionary lock");
                // Another page of this market may have looked first.
                let state =
                    markets
                        .entry(market.as_str().to_string())
                        .or_insert(dictionary::MarketState {
                            current,
                            since,
                            training: false,
                            trained_on,
                        });
                take_turn(state)
            }
        };
        if !due {
            return Ok(current);
        }
        // A dictionary only saves space: when one cannot be made (a stored page that no longer
        // reads back, say) the page is stored with the current one and the next try waits.
        let trained = match self.train_dictionary(market, current.clone()).await {
            Ok(trained) => trained,
            Err(err) => {
                tracing::warn!("no new raw-body dictionary for {market}: {err}");
                None
            }
        };
        let mut markets = self.dictionaries.markets.lock().expect("dictionary lock");
        let state = markets
            .get_mut(market.as_str())
            .expect("a market whose turn it was is known");
        state.training = false;
        state.since = 0;
        match trained {
            Some((adopted, samples)) => {
                state.current = Some(adopted.clone());
                state.trained_on = samples;
                Ok(Some(adopted))
            }
            // Nothing better: the current one stays, as if it had learnt from these pages.
            None => {
                state.trained_on = state.trained_on.max(dictionary::SAMPLES as u64);
                Ok(current)
            }
        }
    }

    /// Trains a dictionary for `market` and stores it when it does better than `current`: the
    /// new dictionary and the pages it learnt from; `None` when `current` stays.
    async fn train_dictionary(
        &self,
        market: &MarketName,
        current: Option<std::sync::Arc<dictionary::Dictionary>>,
    ) -> Result<Option<(std::sync::Arc<dictionary::Dictionary>, u64)>, StoreError> {
        let level = self.compression_level;
        let samples = with_backend!(
            connection,
            self,
            format!("reading the newest pages of {market}"),
            |conn, db| db::market_samples(
                conn,
                market,
                dictionary::SAMPLES,
                self.raw_key.as_ref(),
                &self.dictionaries,
                level
            )
            .await
        )?;
        let sample_bytes: usize = samples.iter().map(Vec::len).sum();
        // Training takes a CPU for a while (tens of milliseconds): off the async threads, on the
        // process's one trainer thread (see `train_on_trainer` for why one).
        let (samples, trained) =
            tokio::task::spawn_blocking(move || dictionary::train_on_trainer(samples, level))
                .await
                .map_err(|err| StoreError::Corrupt {
                    what: format!("training a raw-body dictionary of {market}: {err}"),
                })?;
        let adopted = match trained {
            Some(bytes)
                if current.as_ref().is_none_or(|current| {
                    dictionary::better(
                        &dictionary::Dictionary::new(0, &bytes, level),
                        current,
                        &samples,
                    )
                }) =>
            {
                let id = with_backend!(
                    transaction,
                    self,
                    format!("storing a raw-body dictionary of {market}"),
                    |conn, db| {
                        db::insert_dictionary(
                            conn,
                            market,
                            &bytes,
                            samples.len(),
                            sample_bytes,
                            self.raw_key.as_ref(),
                            Utc::now(),
                        )
                        .await?
                    }
                )?;
                tracing::debug!(
                    "raw-body dictionary {id} of {market}: {} bytes from {} pages",
                    bytes.len(),
                    samples.len()
                );
                let prepared = std::sync::Arc::new(dictionary::Dictionary::new(id, &bytes, level));
                self.dictionaries.insert(prepared.clone());
                // The market's older bodies (plain, or on an older dictionary) move to the new
                // one, each checked before it replaces the old bytes.
                let moved: Result<u64, StoreError> = async {
                    with_backend!(
                        transaction,
                        self,
                        format!("recompressing raw bodies of {market}"),
                        |conn, db| {
                            db::recompress_market(
                                conn,
                                market,
                                &prepared,
                                dictionary::RECOMPRESS,
                                self.raw_key.as_ref(),
                                &self.dictionaries,
                                level,
                            )
                            .await?
                        }
                    )
                }
                .await;
                match moved {
                    Ok(moved) => tracing::debug!("{moved} raw bodies of {market} recompressed"),
                    Err(err) => tracing::warn!("raw bodies of {market} kept as they were: {err}"),
                }
                Some((prepared, samples.len() as u64))
            }
            _ => None,
        };
        Ok(adopted)
    }

    /// Counts a new capture toward its market's next dictionary check.
    fn stored_body(&self, capture: &Capture, new: bool) {
        if new {
            self.dictionaries.stored(capture.market.as_str());
        }
    }

    /// Gives the space of deleted and rewritten rows back and leaves none of their old bytes in
    /// the store's files: SQLite checkpoints its write-ahead log, vacuums and truncates the log;
    /// PostgreSQL rewrites the raw tables (`VACUUM FULL`). Run after encrypting or purging.
    pub async fn compact(&self) -> Result<(), StoreError> {
        let statements: &[&str] = match &self.backend {
            Backend::Sqlite(_) => &[
                "PRAGMA wal_checkpoint(TRUNCATE)",
                "VACUUM",
                "PRAGMA wal_checkpoint(TRUNCATE)",
            ],
            Backend::Postgres(_) => &[
                "VACUUM FULL blobs",
                "VACUUM FULL raw_dictionaries",
                "VACUUM FULL captures",
            ],
        };
        for statement in statements {
            match &self.backend {
                Backend::Sqlite(pool) => sqlx::query(*statement).execute(pool).await.map(|_| ()),
                Backend::Postgres(pool) => sqlx::query(*statement).execute(pool).await.map(|_| ()),
            }
            .context(|| format!("compacting the store ({statement})"))?;
        }
        Ok(())
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

    const SQLITE: &[&str] = &[
        include_str!("../../../migrations/sqlite/0001_init.sql"),
        include_str!("../../../migrations/sqlite/0002_frontier.sql"),
        include_str!("../../../migrations/sqlite/0003_analytics.sql"),
        include_str!("../../../migrations/sqlite/0004_views.sql"),
        include_str!("../../../migrations/sqlite/0005_needs_human.sql"),
        include_str!("../../../migrations/sqlite/0006_raw_protection.sql"),
        include_str!("../../../migrations/sqlite/0007_raw_dictionaries.sql"),
        include_str!("../../../migrations/sqlite/0008_rollup_summaries.sql"),
        include_str!("../../../migrations/sqlite/0009_attribute_weeks.sql"),
        include_str!("../../../migrations/sqlite/0010_vendor_trend_index.sql"),
        include_str!("../../../migrations/sqlite/0011_compact_observations.sql"),
        include_str!("../../../migrations/sqlite/0012_compressed_dictionaries.sql"),
        include_str!("../../../migrations/sqlite/0013_imports.sql"),
        include_str!("../../../migrations/sqlite/0014_reparse.sql"),
    ];
    const POSTGRES: &[&str] = &[
        include_str!("../../../migrations/postgres/0001_init.sql"),
        include_str!("../../../migrations/postgres/0002_frontier.sql"),
        include_str!("../../../migrations/postgres/0003_analytics.sql"),
        include_str!("../../../migrations/postgres/0004_views.sql"),
        include_str!("../../../migrations/postgres/0005_needs_human.sql"),
        include_str!("../../../migrations/postgres/0006_raw_protection.sql"),
        include_str!("../../../migrations/postgres/0007_raw_dictionaries.sql"),
        include_str!("../../../migrations/postgres/0008_rollup_summaries.sql"),
        include_str!("../../../migrations/postgres/0009_attribute_weeks.sql"),
        include_str!("../../../migrations/postgres/0010_vendor_trend_index.sql"),
        include_str!("../../../migrations/postgres/0011_compact_observations.sql"),
        include_str!("../../../migrations/postgres/0012_compressed_dictionaries.sql"),
        include_str!("../../../migrations/postgres/0013_imports.sql"),
        include_str!("../../../migrations/postgres/0014_reparse.sql"),
    ];

    /// Table → column names, read from a migration's `CREATE TABLE` statements.
    fn tables(sql: &str) -> BTreeMap<String, Vec<String>> {
        let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current: Option<(String, Vec<String>)> = None;
        for line in sql.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("DROP TABLE ") {
                tables.remove(rest.trim_end_matches(';').trim());
            } else if let Some(rest) = line.strip_prefix("ALTER TABLE ") {
                // ALTER TABLE old RENAME TO new;
                let words: Vec<&str> = rest.trim_end_matches(';').split_whitespace().collect();
                if let [old, "RENAME", "TO", new] = words[..] {
                    if let Some(columns) = tables.remove(old) {
                        tables.insert(new.to_string(), columns);
                    }
                } else if let [table, "ADD", "COLUMN", column, ..] = words[..] {
                    if let Some(columns) = tables.get_mut(table) {
                        columns.push(column.to_string());
                    }
                }
            } else if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
                let name = rest.split_whitespace().next().unwrap_or_default();
                current = Some((name.to_string(), Vec::new()));
            } else if line.starts_with(");") || line.starts_with(") WITHOUT ROWID") {
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
        // Every migration is read here (a new one must be added to the lists above).
        for (dialect, listed) in [("sqlite", SQLITE.len()), ("postgres", POSTGRES.len())] {
            let dir =
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/").to_string() + dialect;
            let files = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
                .filter(|f| {
                    f.as_ref()
                        .is_ok_and(|f| f.path().extension().is_some_and(|e| e == "sql"))
                })
                .count();
            assert_eq!(
                files, listed,
                "{dir} has {files} migrations, the test lists {listed}"
            );
        }
        let sqlite = tables(&SQLITE.concat());
        let postgres = tables(&POSTGRES.concat());
        assert_eq!(sqlite, postgres);
        let names: Vec<&str> = sqlite.keys().map(String::as_str).collect();
        let mut listed = super::TABLES.to_vec();
        listed.sort_unstable();
        assert_eq!(names, listed, "TABLES lists every table of the schema");
        assert!(sqlite["listing_observations"].contains(&"parser_version".to_string()));
    }

    /// `CREATE VIEW` name → the names after each `AS` that ends a select-list line.
    fn views(sql: &str) -> BTreeMap<String, Vec<String>> {
        let mut views = BTreeMap::new();
        let mut current: Option<(String, Vec<String>)> = None;
        for line in sql.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("CREATE VIEW ") {
                let name = rest.split_whitespace().next().unwrap_or_default();
                current = Some((name.to_string(), Vec::new()));
            } else if line.starts_with("FROM ") {
                if let Some((name, columns)) = current.take() {
                    views.insert(name, columns);
                }
            } else if let Some((_, columns)) = current.as_mut() {
                let words: Vec<&str> = line.trim_end_matches(',').split_whitespace().collect();
                if words.len() >= 2 && words[words.len() - 2] == "AS" {
                    columns.push(words[words.len() - 1].to_string());
                }
            }
        }
        views
    }

    #[test]
    fn exports_list_every_column_of_every_relation_in_order() {
        use super::{RelationKind, OMITTED_COLUMNS, RELATIONS};
        let mut expected = tables(&SQLITE.concat());
        for (table, column, _) in OMITTED_COLUMNS {
            expected
                .get_mut(*table)
                .expect("an omitted column's table exists")
                .retain(|c| c != column);
        }
        let sqlite_views = views(&SQLITE.concat());
        assert_eq!(
            sqlite_views,
            views(&POSTGRES.concat()),
            "both dialects have the same views"
        );
        assert_eq!(sqlite_views.len(), 6);
        expected.extend(sqlite_views);
        let exported: BTreeMap<String, Vec<String>> = RELATIONS
            .iter()
            .map(|r| {
                let columns = r.columns.iter().map(|c| c.name.to_string()).collect();
                (r.name.to_string(), columns)
            })
            .collect();
        assert_eq!(exported, expected);
        let tables: Vec<&str> = RELATIONS
            .iter()
            .filter(|r| r.kind == RelationKind::Table)
            .map(|r| r.name)
            .collect();
        assert_eq!(
            tables,
            super::TABLES,
            "base tables come first, in TABLES order"
        );
    }
}
