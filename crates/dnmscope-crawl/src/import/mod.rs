//! Archives in: saved pages (wget mirrors, folders of saved pages, WARC files) imported as
//! captures, parsed and ingested as a crawl's pages are.
//!
//! [`import`] runs a pipeline with bounded memory: one thread walks the archive
//! ([`archive::Walker`]) and reads pages while a budget of bytes in flight
//! ([`BUDGET_BYTES`]) allows; the pages already stored (an import run again, or continued after a
//! kill) are looked up by their capture keys in batches and dropped before any parse; a pool of
//! threads parses and extracts the rest; one writer stores them in batches, a transaction per
//! batch ([`Store::import_pages`]). Each dated snapshot is an import run (found again by its
//! `import_key`, so an archive imported twice adds nothing).

pub mod archive;
pub mod warc;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use dnmscope_model::{Capture, CrawlId, Extraction, MarketName, PageKind, PseudonymKey};
use dnmscope_parse::{parse_page, parse_page_auto, to_extraction, Limits, Market, PageContext};
use dnmscope_store::{Store, StoreError};
use serde::Serialize;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

pub use archive::{ArchiveKind, DateFrom, Skip, Snapshot, WalkProgress, UNKNOWN_HOST};

use crate::run::page_time;
use crate::Stop;

/// The market of pages no definition recognises: kept as its captures, for a later `reparse`.
pub const UNKNOWN_MARKET: &str = "unknown";

/// Bytes of page bodies in the pipeline at once (read, waiting, parsing or being written).
pub const BUDGET_BYTES: usize = 48 << 20;

/// Pages per store transaction, at most.
const BATCH_PAGES: usize = 256;
/// Bytes of bodies per store transaction, at most.
const BATCH_BYTES: usize = 8 << 20;
/// How long a partial batch waits for more pages before it is written anyway.
const BATCH_WAIT: Duration = Duration::from_millis(50);

/// Which market the pages are of.
#[derive(Debug, Clone)]
pub enum MarketChoice {
    /// Every page is of this market, read with the definition at this index.
    Fixed { name: MarketName, definition: usize },
    /// Each page's market is its host's configured market, else the one whose definition
    /// recognises the page, else [`UNKNOWN_MARKET`].
    Auto,
}

/// What an import needs beyond its inputs.
pub struct ImportConfig {
    pub market: MarketChoice,
    pub definitions: Vec<Market>,
    /// Configured markets by host name (lower case): the market's name and its definition.
    pub hosts: Vec<(String, MarketName, usize)>,
    /// Every page's time (`--observed-at`), instead of what the archive says.
    pub observed_at: Option<DateTime<Utc>>,
    pub pseudonyms: PseudonymKey,
    pub parse_limits: Limits,
    /// Parsing threads (at least one).
    pub threads: usize,
    /// Bytes of a page kept; the rest is cut (the capture says so).
    pub max_body: usize,
}

impl std::fmt::Debug for ImportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pseudonym key is a secret: never printed.
        f.debug_struct("ImportConfig")
            .field("market", &self.market)
            .field(
                "definitions",
                &self.definitions.iter().map(|d| &d.name).collect::<Vec<_>>(),
            )
            .field("hosts", &self.hosts)
            .field("observed_at", &self.observed_at)
            .field("threads", &self.threads)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

/// Counters a progress display reads while an import runs.
#[derive(Debug, Default)]
pub struct ImportProgress {
    pub walk: WalkProgress,
    pub pages_parsed: AtomicU64,
    pub pages_written: AtomicU64,
}

/// One import run: a snapshot and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub crawl: i64,
    /// False when the run was there from an earlier import of the same snapshot.
    pub new: bool,
    pub kind: &'static str,
    pub path: String,
    pub date: String,
    pub date_from: &'static str,
    pub page_times: BTreeMap<&'static str, u64>,
    pub pages_imported: u64,
}

/// What an import saw and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    /// Files looked at (WARC files included).
    pub files: u64,
    /// WARC records read.
    pub records: u64,
    /// Pages read (files and records that were HTML pages).
    pub pages: u64,
    pub imported: u64,
    /// Pages stored by an earlier import (of the same snapshot) and left alone.
    pub already_imported: u64,
    /// Files and records not imported, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// One file or record per reason, for a look.
    pub skipped_examples: BTreeMap<&'static str, String>,
    /// Imported pages no definition recognised (stored as captures of [`UNKNOWN_MARKET`]).
    pub unknown_market: u64,
    /// Imported pages the parser refused (too costly to read; stored, not read).
    pub refused: u64,
    pub page_kinds: BTreeMap<String, u64>,
    pub markets: BTreeMap<String, u64>,
    /// Imported pages with a parse diagnostic, by field ("page" for the page as a whole).
    pub diagnostics: BTreeMap<String, u64>,
    pub runs: Vec<RunSummary>,
    /// True when the import was stopped before its end (run it again to go on).
    pub stopped: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{action}")]
    Store {
        action: String,
        #[source]
        source: StoreError,
    },
    #[error("the import's {what} stopped unexpectedly")]
    Pipeline { what: &'static str },
    #[error("cannot start the import's threads")]
    Threads(#[source] std::io::Error),
}

trait During<T> {
    fn during(self, action: impl FnOnce() -> String) -> Result<T, ImportError>;
}

impl<T> During<T> for Result<T, StoreError> {
    fn during(self, action: impl FnOnce() -> String) -> Result<T, ImportError> {
        self.map_err(|source| ImportError::Store {
            action: action(),
            source,
        })
    }
}

/// A page on its way through the pipeline, holding its share of the byte budget.
struct Job {
    crawl: CrawlId,
    snapshot: usize,
    page: archive::RawPage,
    _permit: OwnedSemaphorePermit,
}

/// A parsed page, ready to be written.
struct Parsed {
    snapshot: usize,
    capture: Capture,
    extraction: Extraction,
    unknown: bool,
    refused: bool,
    fields_with_diagnostics: Vec<String>,
    _permit: OwnedSemaphorePermit,
}

/// What the walking thread sends on.
enum Walked {
    Item(archive::Item),
    Page(archive::RawPage, OwnedSemaphorePermit),
}

/// Imports the archives at `paths` into `store`. Stopping (`stop`) ends it after the pages in
/// flight are stored; every run stays open, and importing again goes on where it stopped.
pub async fn import(
    store: &Store,
    config: Arc<ImportConfig>,
    paths: Vec<PathBuf>,
    progress: Arc<ImportProgress>,
    stop: Stop,
) -> Result<ImportSummary, ImportError> {
    let budget = Arc::new(Semaphore::new(BUDGET_BYTES >> 10));
    let (walked_tx, mut walked_rx) = mpsc::channel::<Walked>(64);
    let reader = {
        let progress = Arc::clone(&progress);
        let budget = Arc::clone(&budget);
        let stop = stop.clone();
        let observed_at = config.observed_at;
        let max_body = config.max_body;
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("dnmscope-import-read".into())
            .spawn(move || {
                let total = archive::Walker::measure(&paths);
                progress.walk.total_bytes.store(total, Ordering::Relaxed);
                let mut send = |item: archive::Item| -> bool {
                    if stop.requested() {
                        return false;
                    }
                    let walked = match item {
                        archive::Item::Page(page) => {
                            let kib = (page.body.len() >> 10).clamp(1, BUDGET_BYTES >> 10) as u32;
                            let Ok(permit) =
                                runtime.block_on(Arc::clone(&budget).acquire_many_owned(kib))
                            else {
                                return false;
                            };
                            Walked::Page(page, permit)
                        }
                        other => Walked::Item(other),
                    };
                    walked_tx.blocking_send(walked).is_ok()
                };
                archive::Walker::new(observed_at, max_body, &progress.walk, &mut send).walk(&paths)
            })
            .map_err(ImportError::Threads)?
    };

    // Parsing threads.
    let (job_tx, job_rx) = mpsc::channel::<Job>(config.threads.max(1) * 2);
    let (parsed_tx, mut parsed_rx) = mpsc::channel::<Parsed>(BATCH_PAGES);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let mut workers = Vec::new();
    for i in 0..config.threads.max(1) {
        let job_rx = Arc::clone(&job_rx);
        let parsed_tx = parsed_tx.clone();
        let config = Arc::clone(&config);
        let progress = Arc::clone(&progress);
        workers.push(
            std::thread::Builder::new()
                .name(format!("dnmscope-import-parse-{i}"))
                .stack_size(64 * 1024 * 1024)
                .spawn(move || loop {
                    let job = match job_rx.lock() {
                        Ok(mut rx) => rx.blocking_recv(),
                        Err(_) => return,
                    };
                    let Some(job) = job else { return };
                    let parsed = parse_job(&config, job);
                    progress.pages_parsed.fetch_add(1, Ordering::Relaxed);
                    if parsed_tx.blocking_send(parsed).is_err() {
                        return;
                    }
                })
                .map_err(ImportError::Threads)?,
        );
    }
    drop(parsed_tx);

    let mut summary = ImportSummary::default();
    let mut runs: Vec<(CrawlId, Snapshot, bool)> = Vec::new();
    let writer = {
        let store = store.clone();
        let progress = Arc::clone(&progress);
        tokio::spawn(async move {
            let mut tally = WriterTally::default();
            let mut batch: Vec<Parsed> = Vec::new();
            let mut bytes = 0;
            loop {
                let next = if batch.is_empty() {
                    parsed_rx.recv().await.map(Some)
                } else {
                    match tokio::time::timeout(BATCH_WAIT, parsed_rx.recv()).await {
                        Ok(next) => next.map(Some),
                        Err(_) => Some(None),
                    }
                };
                let idle = matches!(next, Some(None));
                let done = match next {
                    Some(Some(parsed)) => {
                        bytes += parsed.capture.body.len();
                        batch.push(parsed);
                        false
                    }
                    Some(None) => false,
                    None => true,
                };
                let full = batch.len() >= BATCH_PAGES || bytes >= BATCH_BYTES;
                if !batch.is_empty() && (full || idle || done) {
                    write_batch(&store, &mut batch, &mut tally).await?;
                    progress
                        .pages_written
                        .store(tally.written, Ordering::Relaxed);
                    bytes = 0;
                }
                if done {
                    return Ok::<WriterTally, ImportError>(tally);
                }
            }
        })
    };

    // The coordinator: runs for snapshots, known pages dropped, the rest to the parsers.
    let mut pending: Vec<Job> = Vec::new();
    let mut pending_bytes = 0;
    let mut closed = false;
    while !closed {
        let next = if pending.is_empty() {
            walked_rx.recv().await.map(Some)
        } else {
            match tokio::time::timeout(BATCH_WAIT, walked_rx.recv()).await {
                Ok(next) => next.map(Some),
                Err(_) => Some(None),
            }
        };
        let idle = matches!(next, Some(None));
        match next {
            None => closed = true,
            Some(None) => {}
            Some(Some(Walked::Page(page, permit))) => {
                summary.pages += 1;
                let Some((crawl, _, _)) = runs.get(page.snapshot) else {
                    return Err(ImportError::Pipeline { what: "reader" });
                };
                pending_bytes += page.body.len();
                pending.push(Job {
                    crawl: *crawl,
                    snapshot: page.snapshot,
                    page,
                    _permit: permit,
                });
            }
            Some(Some(Walked::Item(item))) => match item {
                archive::Item::Snapshot(snapshot) => {
                    // Pages of the snapshot before go first: their run is settled.
                    let (crawl, new) = begin_run(store, &config, &snapshot).await?;
                    runs.push((crawl, snapshot, new));
                }
                archive::Item::File => summary.files += 1,
                archive::Item::Record => summary.records += 1,
                archive::Item::Skipped {
                    reason,
                    origin,
                    detail,
                } => {
                    tracing::debug!(origin, detail, "skipped: {}", reason.as_str());
                    *summary.skipped.entry(reason.as_str()).or_default() += 1;
                    summary
                        .skipped_examples
                        .entry(reason.as_str())
                        .or_insert(origin);
                }
                archive::Item::Page(_) => return Err(ImportError::Pipeline { what: "reader" }),
            },
        }
        if !pending.is_empty()
            && (closed || idle || pending.len() >= BATCH_PAGES || pending_bytes >= BATCH_BYTES)
        {
            let jobs = std::mem::take(&mut pending);
            pending_bytes = 0;
            let (fresh, known) = unstored(store, &config, jobs).await?;
            summary.already_imported += known;
            for job in fresh {
                if job_tx.send(job).await.is_err() {
                    return Err(ImportError::Pipeline { what: "parser" });
                }
            }
        }
    }
    drop(job_tx);
    let walked_whole = reader
        .join()
        .map_err(|_| ImportError::Pipeline { what: "reader" })?;
    for worker in workers {
        worker
            .join()
            .map_err(|_| ImportError::Pipeline { what: "parser" })?;
    }
    let tally = writer
        .await
        .map_err(|_| ImportError::Pipeline { what: "writer" })??;
    summary.imported = tally.imported;
    summary.already_imported += tally.already;
    summary.unknown_market = tally.unknown;
    summary.refused = tally.refused;
    summary.page_kinds = tally.page_kinds;
    summary.markets = tally.markets;
    summary.diagnostics = tally.diagnostics;
    summary.stopped = !walked_whole || stop.requested();

    for (index, (crawl, snapshot, new)) in runs.iter().enumerate() {
        let markets: Vec<MarketName> = tally
            .run_markets
            .get(&index)
            .map(|names| {
                names
                    .keys()
                    .filter_map(|n| MarketName::new(n).ok())
                    .collect()
            })
            .unwrap_or_default();
        if !summary.stopped {
            store
                .finish_import(*crawl, &markets, Utc::now())
                .await
                .during(|| format!("finishing the import run {crawl}"))?;
        }
        summary.runs.push(RunSummary {
            crawl: crawl.0,
            new: *new,
            kind: snapshot.kind.as_str(),
            path: snapshot.path.display().to_string(),
            date: snapshot.date.to_string(),
            date_from: snapshot.date_from.as_str(),
            page_times: snapshot.page_times.clone(),
            pages_imported: tally
                .run_markets
                .get(&index)
                .map_or(0, |m| m.values().sum()),
        });
    }
    Ok(summary)
}

/// What the writer counted.
#[derive(Default)]
struct WriterTally {
    written: u64,
    imported: u64,
    already: u64,
    unknown: u64,
    refused: u64,
    page_kinds: BTreeMap<String, u64>,
    markets: BTreeMap<String, u64>,
    diagnostics: BTreeMap<String, u64>,
    /// Per snapshot, pages imported per market.
    run_markets: BTreeMap<usize, BTreeMap<String, u64>>,
}

async fn write_batch(
    store: &Store,
    batch: &mut Vec<Parsed>,
    tally: &mut WriterTally,
) -> Result<(), ImportError> {
    let mut pages: Vec<(Capture, Extraction)> = Vec::with_capacity(batch.len());
    let mut meta = Vec::with_capacity(batch.len());
    for parsed in batch.drain(..) {
        pages.push((parsed.capture, parsed.extraction));
        meta.push((
            parsed.snapshot,
            parsed.unknown,
            parsed.refused,
            parsed.fields_with_diagnostics,
            parsed._permit,
        ));
    }
    let stored = store
        .import_pages(&pages)
        .await
        .during(|| format!("storing {} imported pages", pages.len()))?;
    for ((parsed, (capture, extraction)), page) in meta.iter().zip(&pages).zip(stored) {
        let (snapshot, unknown, refused, fields, _) = parsed;
        tally.written += 1;
        if !page.capture_new {
            tally.already += 1;
            continue;
        }
        if let Err(refused) = &page.ingest {
            tracing::warn!(url = %capture.url, "the store refused the page's extraction: {refused}");
        }
        tally.imported += 1;
        tally.unknown += u64::from(*unknown);
        tally.refused += u64::from(*refused);
        *tally
            .page_kinds
            .entry(extraction.page_kind.as_str().to_owned())
            .or_default() += 1;
        *tally
            .markets
            .entry(capture.market.as_str().to_owned())
            .or_default() += 1;
        *tally
            .run_markets
            .entry(*snapshot)
            .or_default()
            .entry(capture.market.as_str().to_owned())
            .or_default() += 1;
        for field in fields {
            *tally.diagnostics.entry(field.clone()).or_default() += 1;
        }
    }
    Ok(())
}

/// The import run of a snapshot: found again when this snapshot was imported before.
async fn begin_run(
    store: &Store,
    config: &ImportConfig,
    snapshot: &Snapshot,
) -> Result<(CrawlId, bool), ImportError> {
    let path = std::fs::canonicalize(&snapshot.path).unwrap_or_else(|_| snapshot.path.clone());
    let market = match &config.market {
        MarketChoice::Fixed { name, .. } => name.as_str().to_owned(),
        MarketChoice::Auto => "auto".to_owned(),
    };
    let mut hasher = blake3::Hasher::new();
    for part in [
        "import",
        snapshot.kind.as_str(),
        &path.display().to_string(),
        &snapshot.date.to_string(),
        &market,
        &config
            .observed_at
            .map(|at| at.to_rfc3339())
            .unwrap_or_default(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    let key = hasher.finalize().to_hex().to_string();
    let run_config = serde_json::json!({
        "import": {
            "source": snapshot.kind.as_str(),
            "path": path.display().to_string(),
            "date": snapshot.date.to_string(),
            "date_from": snapshot.date_from.as_str(),
            "page_times": snapshot.page_times,
            "market": market,
            "folder": snapshot.hint,
            "adjusted_extension": snapshot.adjusted_extension,
            "observed_at": config.observed_at,
        }
    });
    let markets: Vec<MarketName> = match &config.market {
        MarketChoice::Fixed { name, .. } => vec![name.clone()],
        MarketChoice::Auto => Vec::new(),
    };
    let started_at = snapshot.date.and_time(chrono::NaiveTime::MIN).and_utc();
    store
        .begin_import(&key, &markets, &run_config, started_at)
        .await
        .during(|| format!("starting the import run of {}", snapshot.path.display()))
}

/// The market names a page could be stored under (its capture key depends on it).
fn candidate_markets(config: &ImportConfig, url: &str) -> Vec<MarketName> {
    match &config.market {
        MarketChoice::Fixed { name, .. } => vec![name.clone()],
        MarketChoice::Auto => {
            if let Some((name, _)) = host_market(config, url) {
                return vec![name];
            }
            let mut names: Vec<MarketName> = config
                .definitions
                .iter()
                .filter_map(|d| MarketName::new(&d.name).ok())
                .collect();
            names.push(unknown_market());
            names
        }
    }
}

/// The configured market whose host a URL is on.
fn host_market(config: &ImportConfig, url: &str) -> Option<(MarketName, usize)> {
    let host = url::Url::parse(url).ok()?.host_str()?.to_ascii_lowercase();
    config
        .hosts
        .iter()
        .find(|(h, _, _)| *h == host)
        .map(|(_, name, definition)| (name.clone(), *definition))
}

/// Splits jobs into those not stored yet and a count of those stored before.
async fn unstored(
    store: &Store,
    config: &ImportConfig,
    jobs: Vec<Job>,
) -> Result<(Vec<Job>, u64), ImportError> {
    let keyed: Vec<(Job, Vec<String>)> = jobs
        .into_iter()
        .map(|job| {
            let body_hash = dnmscope_model::ContentHash::of(&job.page.body);
            let keys = candidate_markets(config, &job.page.url)
                .into_iter()
                .map(|market| capture_key(&market, job.crawl, &job.page, &body_hash))
                .collect();
            (job, keys)
        })
        .collect();
    let all: Vec<&str> = keyed
        .iter()
        .flat_map(|(_, keys)| keys.iter().map(String::as_str))
        .collect();
    let stored = store
        .stored_capture_keys(&all)
        .await
        .during(|| "looking up pages imported before".to_owned())?;
    let mut fresh = Vec::with_capacity(keyed.len());
    let mut known = 0;
    for (job, keys) in keyed {
        if keys.iter().any(|k| stored.contains(k)) {
            known += 1;
        } else {
            fresh.push(job);
        }
    }
    Ok((fresh, known))
}

/// The key the page's capture will have under `market` (as [`Capture::key`] makes it).
fn capture_key(
    market: &MarketName,
    crawl: CrawlId,
    page: &archive::RawPage,
    body_hash: &dnmscope_model::ContentHash,
) -> String {
    let capture = Capture {
        market: market.clone(),
        crawl,
        url: page.url.clone(),
        final_url: None,
        fetched_at: page.fetched_at,
        status: page.status,
        headers: Vec::new(),
        body: Vec::new(),
        truncated: None,
        elapsed_ms: None,
    };
    capture.key_with_body_hash(body_hash).0
}

/// Parses one page: its market, its page kind and what it says.
fn parse_job(config: &ImportConfig, job: Job) -> Parsed {
    let Job {
        crawl,
        snapshot,
        page,
        _permit,
    } = job;
    let html = String::from_utf8_lossy(&page.body);
    let chosen: Option<(MarketName, usize)> = match &config.market {
        MarketChoice::Fixed { name, definition } => Some((name.clone(), *definition)),
        MarketChoice::Auto => host_market(config, &page.url),
    };
    let limits = config.parse_limits;
    let outcome = catch_unwind(AssertUnwindSafe(|| match &chosen {
        Some((_, index)) => parse_page(&html, config.definitions.get(*index), limits),
        None => parse_page_auto(&html, &config.definitions, limits),
    }));
    let parsed = match outcome {
        Ok(parsed) => parsed,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            dnmscope_parse::refused_page(format!("the parser crashed on this page: {why}"))
        }
    };
    let market = chosen.map(|(name, _)| name).or_else(|| {
        parsed
            .market
            .as_deref()
            .and_then(|n| MarketName::new(n).ok())
    });
    let unknown = market.is_none();
    let market = market.unwrap_or_else(unknown_market);
    let capture = Capture {
        market,
        crawl,
        url: page.url,
        final_url: None,
        fetched_at: page.fetched_at,
        status: page.status,
        headers: page.headers,
        body: page.body,
        truncated: page.truncated,
        elapsed_ms: None,
    };
    let mut fields_with_diagnostics: Vec<String> = parsed
        .diagnostics
        .iter()
        .map(|d| d.field.clone().unwrap_or_else(|| "page".to_owned()))
        .collect();
    fields_with_diagnostics.sort();
    fields_with_diagnostics.dedup();
    let refused = parsed.refused.is_some();
    let extraction = extraction_of(&parsed, &capture, &config.pseudonyms);
    Parsed {
        snapshot,
        capture,
        extraction,
        unknown,
        refused,
        fields_with_diagnostics,
        _permit,
    }
}

/// What a parsed page's capture is stored with: its observations, as a crawl stores them (every
/// page but gates, errors, redirects and unknown pages; a seizure banner's carries the seizure
/// event), else an extraction with the page kind and the diagnostics alone.
pub(crate) fn extraction_of(
    parsed: &dnmscope_parse::ParsedPage,
    capture: &Capture,
    pseudonyms: &PseudonymKey,
) -> Extraction {
    let kind = parsed.page_kind;
    if parsed.refused.is_some() || !kind.is_interstitial() || kind == PageKind::Seizure {
        return to_extraction(
            parsed,
            &PageContext {
                market: &capture.market,
                url: capture.final_url.as_deref().unwrap_or(&capture.url),
                captured_at: page_time(capture),
                pseudonyms,
            },
        );
    }
    let version = parsed
        .parser_version
        .clone()
        .unwrap_or_else(|| "generic@1".to_owned());
    let mut empty = Extraction::empty(kind, &version);
    empty.diagnostics = parsed
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    empty
}

fn unknown_market() -> MarketName {
    MarketName::new(UNKNOWN_MARKET).expect("the unknown market's name is a market name")
}
