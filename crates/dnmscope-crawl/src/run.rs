//! One crawl run: fetch, store the raw page, parse, store observations, enqueue links, until the
//! frontier is empty.
//!
//! Every step that changes state is one store transaction, and the frontier lives in the store,
//! so a run killed at any moment resumes where it stopped: a page stored but not yet parsed is
//! parsed from the store, never fetched again; a page parsed is never parsed again in that run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dnmscope_model::{
    CrawlId, FinishReason, FrontierEntry, MarketEvent, MarketEventKind, MarketName, NewLink,
    PageKind,
};
use dnmscope_parse::{to_extraction, PageContext};

use crate::parse_pool::ParsePool;
use dnmscope_store::{Store, StoreError};
use futures_util::StreamExt;
use regex::Regex;

use crate::accounting::MarketAccounting;
use crate::plan::{canonical_link, priority, CrawlConfig, MarketPlan};
use crate::source::{FailureKind, Signal, Source, SourceError};

/// What can stop a run: the store failing (a page's failure never does).
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error("the crawl has no market to visit")]
    NoMarkets,
    #[error("{action}")]
    Store {
        action: String,
        #[source]
        source: StoreError,
    },
    #[error("starting the threads that parse pages")]
    ParseThreads(#[source] std::io::Error),
}

trait StoreContext<T> {
    fn during(self, action: impl FnOnce() -> String) -> Result<T, CrawlError>;
}

impl<T> StoreContext<T> for Result<T, StoreError> {
    fn during(self, action: impl FnOnce() -> String) -> Result<T, CrawlError> {
        self.map_err(|source| CrawlError::Store {
            action: action(),
            source,
        })
    }
}

/// Asks a run to stop: in-flight pages finish, nothing new starts, and the run stays
/// unfinished so the next `crawl` resumes it.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a run went.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub crawl: CrawlId,
    /// Whether an unfinished run was resumed.
    pub resumed: bool,
    /// None when the run was stopped before the frontier was empty (it can be resumed).
    pub finish: Option<FinishReason>,
    pub accounting: BTreeMap<String, MarketAccounting>,
}

struct MarketRuntime {
    accounting: MarketAccounting,
    paused_until: Option<DateTime<Utc>>,
    consecutive_down: u32,
    /// Gate pages (ban, login, captcha) in a row: a market that only ever answers with gates is
    /// given up for the run instead of being asked forever.
    consecutive_gates: u32,
    /// Until a market has answered with a real page (and again after a queue page), only one
    /// request at a time goes to it: requests racing through a queue would come back with a
    /// ticket that is not ready yet and get the visitor banned.
    cautious: bool,
    /// A login or captcha page was met and no real page has come since: a human must act.
    awaiting_human: bool,
    in_flight: u32,
    queued: u64,
    budget_hit: bool,
    announced: HashSet<String>,
}

impl Default for MarketRuntime {
    fn default() -> Self {
        MarketRuntime {
            accounting: MarketAccounting::default(),
            paused_until: None,
            consecutive_down: 0,
            consecutive_gates: 0,
            cautious: true,
            awaiting_human: false,
            in_flight: 0,
            queued: 0,
            budget_hit: false,
            announced: HashSet::new(),
        }
    }
}

/// Which frontier entries are in flight, and how many per market.
#[derive(Debug, Default)]
struct Schedule {
    running: HashSet<i64>,
    per_market: HashMap<String, usize>,
    /// Entries that finished while the frontier was being read: the read may show them still
    /// pending, and they must not be taken again on its word.
    finished_since_read: HashSet<i64>,
}

/// A request slot of a market; freed when dropped.
struct Slot<'a> {
    state: &'a Mutex<HashMap<String, MarketRuntime>>,
    market: &'a str,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut state) = self.state.lock() {
            if let Some(m) = state.get_mut(self.market) {
                m.in_flight = m.in_flight.saturating_sub(1);
            }
        }
    }
}

struct Runner<'a, S> {
    store: &'a Store,
    source: &'a S,
    config: &'a CrawlConfig,
    crawl: CrawlId,
    plans: HashMap<String, &'a MarketPlan>,
    state: Mutex<HashMap<String, MarketRuntime>>,
    progress: &'a Progress,
    parser: ParsePool,
}

/// The note a resumed run leaves on an entry while it parses the entry's stored page again (the
/// entry's last error until the parse returns).
pub const REPARSE_NOTE: &str = "parsing the stored page again after the process ended";
/// Processes in a row that may end while parsing one stored page before it is refused.
pub const REPARSE_TRIES: u32 = 3;

/// How many processes in a row ended while parsing an entry's stored page, from its note.
fn reparse_tries(last_error: Option<&str>) -> u32 {
    last_error
        .and_then(|e| e.strip_prefix(REPARSE_NOTE))
        .and_then(|rest| rest.trim().strip_prefix("(try "))
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

const REPARSE_REFUSED: &str =
    "three processes in a row ended while parsing this stored page; it is not parsed again";

static META_REFRESH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)<meta[^>]*http-equiv\s*=\s*["']?refresh["']?[^>]*content\s*=\s*["']?\s*(\d+)\s*(?:;\s*url\s*=\s*([^"'>\s]+))?"#)
        .expect("a valid pattern")
});

/// The longest a queue page's refresh delay is waited: a page asking for longer is waited out
/// this long and asked again (a page's number never overflows the clock).
pub const MAX_QUEUE_WAIT_SECS: u64 = 600;

/// The delay (at most [`MAX_QUEUE_WAIT_SECS`]) and target of a page's meta refresh.
fn meta_refresh(html: &str) -> Option<(u64, Option<String>)> {
    let caps = META_REFRESH.captures(html)?;
    let written = caps.get(1)?.as_str();
    let delay = written.parse::<u64>().unwrap_or(u64::MAX);
    if delay > MAX_QUEUE_WAIT_SECS {
        tracing::info!(
            written,
            "a refresh delay longer than {MAX_QUEUE_WAIT_SECS} s; waiting that long instead"
        );
    }
    let delay = delay.min(MAX_QUEUE_WAIT_SECS);
    Some((delay, caps.get(2).map(|m| m.as_str().replace("&amp;", "&"))))
}

/// What a run is doing now, per market: for a live display. Cheap to clone; the crawl updates it
/// as it goes.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<ProgressState>>);

#[derive(Debug, Clone, Default)]
struct ProgressState {
    crawl: Option<CrawlId>,
    markets: BTreeMap<String, MarketStatus>,
}

/// One market's state in a running crawl.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MarketStatus {
    pub accounting: MarketAccounting,
    /// Links taken into the run so far (pages done, failed and waiting).
    pub queued: u64,
    /// Requests in flight now.
    pub in_flight: u32,
    /// Until when the market is left alone (queue, ban, login).
    pub paused_until: Option<DateTime<Utc>>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress::default()
    }

    /// The run being crawled, once known.
    pub fn crawl(&self) -> Option<CrawlId> {
        self.0.lock().map(|p| p.crawl).unwrap_or(None)
    }

    /// Every market's state now.
    pub fn snapshot(&self) -> BTreeMap<String, MarketStatus> {
        self.0.lock().map(|p| p.markets.clone()).unwrap_or_default()
    }

    fn set_crawl(&self, crawl: CrawlId) {
        if let Ok(mut p) = self.0.lock() {
            p.crawl = Some(crawl);
            p.markets.clear();
        }
    }

    fn publish(&self, market: &str, runtime: &MarketRuntime) {
        if let Ok(mut p) = self.0.lock() {
            let status = p.markets.entry(market.to_owned()).or_default();
            status.accounting.clone_from(&runtime.accounting);
            status.queued = runtime.queued;
            status.in_flight = runtime.in_flight;
            status.paused_until = runtime.paused_until;
        }
    }
}

/// Runs (or resumes) a crawl run over `config`'s markets until its frontier is empty or `stop`
/// is requested.
pub async fn crawl<S: Source>(
    store: &Store,
    source: &S,
    config: &CrawlConfig,
    stop: &Stop,
) -> Result<RunOutcome, CrawlError> {
    crawl_with_progress(store, source, config, stop, &Progress::new()).await
}

/// [`crawl`], publishing what it does to `progress` as it goes.
pub async fn crawl_with_progress<S: Source>(
    store: &Store,
    source: &S,
    config: &CrawlConfig,
    stop: &Stop,
    progress: &Progress,
) -> Result<RunOutcome, CrawlError> {
    if config.markets.is_empty() {
        return Err(CrawlError::NoMarkets);
    }
    let names: Vec<MarketName> = config.markets.iter().map(|m| m.name.clone()).collect();
    let unfinished = store
        .unfinished_crawl()
        .await
        .during(|| "looking for an unfinished run".into())?;
    let mut resumed = None;
    if let Some(id) = unfinished {
        let run = store.crawl(id).await.during(|| format!("reading {id}"))?;
        if run.markets == names {
            resumed = Some(id);
        }
    }
    let crawl = match resumed {
        Some(id) => {
            tracing::info!(%id, "resuming the unfinished run");
            id
        }
        None => store
            .begin_crawl(&names, &config.describe(), Utc::now())
            .await
            .during(|| "starting a crawl run".into())?,
    };
    progress.set_crawl(crawl);
    let mut state: HashMap<String, MarketRuntime> = HashMap::new();
    for (market, data) in store
        .accounting(crawl)
        .await
        .during(|| format!("reading the accounting of {crawl}"))?
    {
        let accounting = serde_json::from_value(data).unwrap_or_default();
        state.entry(market).or_default().accounting = accounting;
    }
    for (market, _, count) in store
        .frontier_counts(crawl)
        .await
        .during(|| format!("counting the frontier of {crawl}"))?
    {
        state.entry(market).or_default().queued += count;
    }
    let runner = Runner {
        store,
        source,
        config,
        crawl,
        plans: config
            .markets
            .iter()
            .map(|m| (m.name.as_str().to_owned(), m))
            .collect(),
        state: Mutex::new(state),
        progress,
        parser: ParsePool::new(
            std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .min(4),
        )
        .map_err(CrawlError::ParseThreads)?,
    };
    if resumed.is_some() {
        runner.reconcile().await?;
    }
    for (market, runtime) in runner.state.lock().expect("state lock").iter() {
        progress.publish(market, runtime);
    }
    for plan in &config.markets {
        let seeds: Vec<NewLink> = plan
            .seeds
            .iter()
            .map(|url| NewLink {
                url: url.clone(),
                kind: "home".into(),
                depth: 0,
                priority: 10,
            })
            .collect();
        runner.enqueue(plan, seeds, Utc::now()).await?;
    }

    // A continuous pipeline: pages are started as slots free up (never waiting for a whole
    // batch's slowest page), each market gets a fair share of the slots, and a market that must
    // be asked one request at a time gets no second request while its first is out. The
    // frontier is read inside the stream, so pages in flight are polled (and release their store
    // connections) while it is.
    let concurrency = config.concurrency.max(1);
    let pipeline = &runner;
    let schedule = Mutex::new(Schedule::default());
    let schedule = &schedule;
    {
        let feed = futures_util::stream::unfold(
            (
                std::collections::VecDeque::<FrontierEntry>::new(),
                Instant::now(),
            ),
            move |(mut ready, mut saved)| async move {
                loop {
                    if stop.requested() {
                        return None;
                    }
                    if let Some(entry) = ready.pop_front() {
                        return Some((Ok(entry), (ready, saved)));
                    }
                    if saved.elapsed() >= Duration::from_secs(1) {
                        if let Err(error) = pipeline.save_accounting().await {
                            return Some((Err(error), (ready, saved)));
                        }
                        saved = Instant::now();
                    }
                    let now = Utc::now();
                    schedule
                        .lock()
                        .expect("schedule lock")
                        .finished_since_read
                        .clear();
                    let due = match store
                        .due(crawl, now, concurrency as u32)
                        .await
                        .during(|| format!("reading the frontier of {crawl}"))
                    {
                        Ok(due) => due,
                        Err(error) => return Some((Err(error), (ready, saved))),
                    };
                    {
                        let mut schedule = schedule.lock().expect("schedule lock");
                        let with_work: HashSet<String> = due
                            .iter()
                            .map(|e| e.market.as_str().to_owned())
                            .chain(
                                schedule
                                    .per_market
                                    .iter()
                                    .filter(|(_, n)| **n > 0)
                                    .map(|(m, _)| m.clone()),
                            )
                            .collect();
                        let share = concurrency.div_ceil(with_work.len().max(1));
                        for entry in due {
                            if schedule.running.len() >= concurrency {
                                break;
                            }
                            if schedule.running.contains(&entry.id)
                                || schedule.finished_since_read.contains(&entry.id)
                            {
                                continue;
                            }
                            let market = entry.market.as_str();
                            let taken = schedule.per_market.get(market).copied().unwrap_or(0);
                            let one_at_a_time =
                                pipeline.with_market(market, |m| m.cautious && m.in_flight > 0);
                            if taken >= share || (one_at_a_time && taken > 0) {
                                continue;
                            }
                            schedule.running.insert(entry.id);
                            *schedule.per_market.entry(market.to_owned()).or_default() += 1;
                            ready.push_back(entry);
                        }
                    }
                    if !ready.is_empty() {
                        continue;
                    }
                    let idle = schedule.lock().expect("schedule lock").running.is_empty();
                    if idle {
                        let next = match store
                            .next_due(crawl)
                            .await
                            .during(|| format!("reading the frontier of {crawl}"))
                        {
                            Ok(next) => next,
                            Err(error) => return Some((Err(error), (ready, saved))),
                        };
                        match next {
                            // Nothing pending and nothing in flight: the run is done.
                            None => return None,
                            Some(next) => {
                                let wait = (next - now)
                                    .to_std()
                                    .unwrap_or_default()
                                    .clamp(Duration::from_millis(20), Duration::from_secs(1));
                                tokio::time::sleep(wait).await;
                            }
                        }
                    } else {
                        // Pages in flight bring new links when they finish; time brings retries.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            },
        );
        let mut pages = std::pin::pin!(feed
            .map(|entry| async move {
                let entry = entry?;
                let (id, market) = (entry.id, entry.market.as_str().to_owned());
                let result = pipeline.process(entry, stop).await;
                let mut schedule = schedule.lock().expect("schedule lock");
                schedule.running.remove(&id);
                schedule.finished_since_read.insert(id);
                if let Some(n) = schedule.per_market.get_mut(&market) {
                    *n = n.saturating_sub(1);
                }
                result
            })
            .buffer_unordered(concurrency));
        while let Some(result) = pages.next().await {
            result?;
        }
    }
    let finish = if stop.requested() {
        None
    } else {
        let budget = runner
            .state
            .lock()
            .expect("state lock")
            .values()
            .any(|s| s.budget_hit);
        Some(if budget {
            FinishReason::BudgetExhausted
        } else {
            FinishReason::Completed
        })
    };
    runner.reconcile().await?;
    runner.save_accounting().await?;
    if let Some(reason) = finish {
        store
            .finish_crawl(crawl, reason, Utc::now())
            .await
            .during(|| format!("finishing {crawl}"))?;
    }
    let accounting = runner
        .state
        .into_inner()
        .expect("state lock")
        .into_iter()
        .map(|(k, v)| (k, v.accounting))
        .collect();
    Ok(RunOutcome {
        crawl,
        resumed: resumed.is_some(),
        finish,
        accounting,
    })
}

impl<S: Source> Runner<'_, S> {
    fn with_market<T>(&self, market: &str, f: impl FnOnce(&mut MarketRuntime) -> T) -> T {
        let mut state = self.state.lock().expect("state lock");
        let runtime = state.entry(market.to_owned()).or_default();
        let result = f(runtime);
        self.progress.publish(market, runtime);
        result
    }

    /// Brings each market's accounting in line with what the store holds of the run (at the
    /// start of a resumed run and at the end of every run).
    async fn reconcile(&self) -> Result<(), CrawlError> {
        let tallies = self
            .store
            .run_tally(self.crawl)
            .await
            .during(|| format!("tallying {}", self.crawl))?;
        for (market, tally) in tallies {
            if self.plans.contains_key(&market) {
                self.with_market(&market, |m| m.accounting.reconcile(&tally));
            }
        }
        Ok(())
    }

    async fn save_accounting(&self) -> Result<(), CrawlError> {
        let snapshot: Vec<(String, serde_json::Value)> = {
            let state = self.state.lock().expect("state lock");
            state
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        serde_json::to_value(&v.accounting).unwrap_or_default(),
                    )
                })
                .collect()
        };
        for (market, data) in snapshot {
            let Some(plan) = self.plans.get(&market) else {
                continue;
            };
            self.store
                .save_accounting(self.crawl, &plan.name, &data)
                .await
                .during(|| format!("saving the accounting of {}", self.crawl))?;
        }
        Ok(())
    }

    /// Enqueues links within the market's page budget.
    async fn enqueue(
        &self,
        plan: &MarketPlan,
        mut links: Vec<NewLink>,
        now: DateTime<Utc>,
    ) -> Result<(), CrawlError> {
        links.retain(|l| l.depth <= plan.max_depth);
        if links.is_empty() {
            return Ok(());
        }
        let room = self.reserve_budget(plan, links.len());
        let enqueued = self
            .store
            .enqueue(self.crawl, &plan.name, &links, room, now)
            .await;
        let added = enqueued.as_ref().map_or(0, |e| e.added);
        self.settle_budget(plan, room, added);
        let enqueued = enqueued.during(|| format!("enqueueing links for {}", plan.name))?;
        self.links_left(plan, enqueued.taken, links.len());
        Ok(())
    }

    /// Reserves room in the page budget for up to `links` new pages (settled by
    /// [`Runner::settle_budget`] once the store says how many were new), so that concurrent
    /// pages never take the market past its budget. `None`: the market has no budget.
    fn reserve_budget(&self, plan: &MarketPlan, links: usize) -> Option<u64> {
        let max = plan.max_pages?;
        Some(self.with_market(plan.name.as_str(), |m| {
            let room = max.saturating_sub(m.queued).min(links as u64);
            m.queued += room;
            room
        }))
    }

    /// Counts the links the frontier took, giving back what was reserved for links it already
    /// had: only new pages count against the budget.
    fn settle_budget(&self, plan: &MarketPlan, reserved: Option<u64>, added: u64) {
        if let Some(reserved) = reserved {
            self.with_market(plan.name.as_str(), |m| {
                m.queued = m.queued.saturating_sub(reserved) + added;
            });
        }
    }

    /// Links the store did not look at (the budget's room was filled first): the budget is hit.
    fn links_left(&self, plan: &MarketPlan, taken: usize, links: usize) {
        if taken < links {
            self.with_market(plan.name.as_str(), |m| m.budget_hit = true);
        }
    }

    async fn process(&self, entry: FrontierEntry, stop: &Stop) -> Result<(), CrawlError> {
        let Some(plan) = self.plans.get(entry.market.as_str()).copied() else {
            return self
                .give_up(&entry, "the market is not part of this run")
                .await;
        };
        let market = plan.name.as_str();
        let now = Utc::now();
        let (unreachable, seized, paused) = self.with_market(market, |m| {
            (
                m.accounting.unreachable,
                m.accounting.seized,
                m.paused_until,
            )
        });
        if unreachable || seized {
            self.with_market(market, |m| m.accounting.given_up += 1);
            let why = if seized {
                "the market was seized"
            } else {
                "the market is unreachable"
            };
            return self.give_up(&entry, why).await;
        }
        if let Some(until) = paused.filter(|until| *until > now) {
            return self
                .retry(&entry, until, false, "the market is paused")
                .await;
        }
        if stop.requested() {
            return Ok(());
        }

        let mut _slot: Option<Slot<'_>> = None;
        let mut reparsing = false;
        // The page: from the store when this run already fetched it, else from the source.
        let (capture_id, capture) = match entry.capture_id {
            Some(id) => {
                // A page stored by an earlier process and never settled. The note is on the
                // entry only while its page is parsed again, and counts the processes that
                // ended meanwhile: when [`REPARSE_TRIES`] in a row ended while parsing this very
                // page, the page is what ends them, and it is refused instead of parsed again.
                let ended = reparse_tries(entry.last_error.as_deref());
                if ended >= REPARSE_TRIES {
                    self.with_market(market, |m| {
                        m.accounting.refused += 1;
                        m.accounting.given_up += 1;
                    });
                    tracing::warn!(market, url = %entry.url, "page refused: {REPARSE_REFUSED}");
                    return self
                        .give_up(&entry, &format!("refused: {REPARSE_REFUSED}"))
                        .await;
                }
                let note = format!("{REPARSE_NOTE} (try {})", ended + 1);
                self.store
                    .note_reparse(entry.id, Some(&note))
                    .await
                    .during(|| format!("noting the re-parse of {}", entry.url))?;
                reparsing = true;
                let capture = self
                    .store
                    .capture(id)
                    .await
                    .during(|| format!("reading capture {id}"))?;
                (id, capture)
            }
            None => {
                let admitted = self.with_market(market, |m| {
                    if m.cautious && m.in_flight > 0 {
                        return false;
                    }
                    m.in_flight += 1;
                    m.accounting.attempted += 1;
                    true
                });
                if !admitted {
                    let at = now + chrono::Duration::milliseconds(200);
                    return self
                        .retry(&entry, at, false, "waiting for the market's gate")
                        .await;
                }
                // The slot is held until the page is classified and acted on (its drop at the
                // end of this call), so a queue page pauses the market before the next request.
                _slot = Some(Slot {
                    state: &self.state,
                    market,
                });
                match self.source.fetch(self.crawl, &plan.name, &entry.url).await {
                    Ok(capture) => {
                        let stored = self
                            .store
                            .store_fetched(entry.id, &capture)
                            .await
                            .during(|| format!("storing {}", entry.url))?;
                        self.with_market(market, |m| {
                            m.accounting.fetched += 1;
                            m.consecutive_down = 0;
                        });
                        (stored.id, capture)
                    }
                    Err(error) => return self.failed(plan, &entry, &error).await,
                }
            }
        };

        let html: Arc<str> = String::from_utf8_lossy(&capture.body).into();
        let parsed = match self
            .parser
            .parse(
                Arc::clone(&html),
                Arc::clone(&plan.definition),
                self.config.parse_limits,
            )
            .await
        {
            Ok(parsed) => parsed,
            Err(crash) => {
                dnmscope_parse::refused_page(format!("the parser crashed on this page: {crash}"))
            }
        };
        if reparsing {
            // Parsed: whatever ends this process now, it was not this page.
            self.store
                .note_reparse(entry.id, None)
                .await
                .during(|| format!("clearing the re-parse note of {}", entry.url))?;
        }
        if let Some(why) = &parsed.refused {
            // Stored once, never parsed again: the frontier entry is given up with the reason.
            tracing::warn!(market, url = %entry.url, "page refused: {why}");
            self.with_market(market, |m| {
                m.accounting.refused += 1;
                m.accounting.given_up += 1;
            });
            // Every refusal's reason starts with `refused:` (the store's tally counts them so).
            let reason = if why.starts_with("refused:") {
                why.clone()
            } else {
                format!("refused: {why}")
            };
            return self.give_up(&entry, &reason).await;
        }
        let kind = parsed.page_kind;
        self.with_market(market, |m| {
            *m.accounting
                .parsed
                .entry(kind.as_str().to_owned())
                .or_default() += 1
        });
        let url = capture
            .final_url
            .clone()
            .unwrap_or_else(|| entry.url.clone());
        match kind {
            PageKind::Captcha => {
                if let Some((delay, _)) = meta_refresh(&html) {
                    // A queue: wait it out, never come back early; but a queue that never lets
                    // the crawler in counts against the market like any other gate.
                    if self.blocked(market) {
                        return self
                            .give_up(&entry, "the market answers only with queue pages")
                            .await;
                    }
                    self.gate(market, "queue");
                    self.source.report(&plan.name, Signal::Queue);
                    // The whole market waits, one request at a time afterwards: a request
                    // sent before the queue's time would come back early and get the visitor
                    // banned.
                    self.with_market(market, |m| m.cautious = true);
                    let until = self.pause(market, Duration::from_secs(delay + 1));
                    self.retry_gated(&entry, until, "queue page").await
                } else {
                    if self.blocked(market) {
                        return self
                            .give_up(&entry, "the market keeps asking for a captcha")
                            .await;
                    }
                    self.needs_human(plan, "captcha").await?;
                    let until = self.pause(market, self.config.login_pause);
                    self.retry_gated(&entry, until, "captcha page").await
                }
            }
            PageKind::Login => {
                if self.blocked(market) {
                    return self
                        .give_up(&entry, "the market keeps asking for a login")
                        .await;
                }
                self.needs_human(plan, "login").await?;
                let until = self.pause(market, self.config.login_pause);
                self.retry_gated(&entry, until, "the session ended (login page)")
                    .await
            }
            PageKind::Banned => {
                if self.blocked(market) {
                    return self
                        .give_up(&entry, "the market keeps answering with ban pages")
                        .await;
                }
                self.gate(market, "banned");
                self.source.report(&plan.name, Signal::Banned);
                let until = self.pause(market, self.config.ban_pause);
                tracing::warn!(
                    market,
                    pause_s = self.config.ban_pause.as_secs(),
                    "banned: pausing the market"
                );
                self.retry_gated(&entry, until, "ban page").await
            }
            PageKind::Seizure => {
                let first = self.with_market(market, |m| {
                    !std::mem::replace(&mut m.accounting.seized, true)
                });
                if first {
                    tracing::warn!(market, url = %entry.url, "the market shows a seizure banner");
                }
                let extraction =
                    to_extraction(&parsed, &self.context(plan, &url, page_time(&capture)));
                self.complete(&entry, Some((capture_id, &extraction)), plan, Vec::new())
                    .await
            }
            PageKind::Redirect => {
                let links = meta_refresh(&html)
                    .and_then(|(_, target)| target)
                    .and_then(|target| canonical_link(plan, &url, &target))
                    .map(|target| {
                        vec![NewLink {
                            url: target,
                            kind: entry.kind.clone(),
                            depth: entry.depth,
                            priority: priority(&entry.kind),
                        }]
                    })
                    .unwrap_or_default();
                self.complete(&entry, None, plan, links).await
            }
            PageKind::Error => {
                let error = SourceError {
                    kind: FailureKind::SiteDown,
                    url: entry.url.clone(),
                    message: "an error page".into(),
                    answer: None,
                };
                // An error page is a failed attempt, not a fetched page.
                self.with_market(market, |m| {
                    m.accounting.fetched = m.accounting.fetched.saturating_sub(1)
                });
                self.failed(plan, &entry, &error).await
            }
            PageKind::NotFound | PageKind::Unknown => {
                self.complete(&entry, None, plan, Vec::new()).await
            }
            _ => {
                self.source.report(&plan.name, Signal::Normal);
                self.with_market(market, |m| {
                    m.cautious = false;
                    m.consecutive_gates = 0;
                    m.awaiting_human = false;
                });
                let extraction =
                    to_extraction(&parsed, &self.context(plan, &url, page_time(&capture)));
                let mut links = Vec::new();
                let mut seen = HashSet::new();
                for link in parsed.links.iter().filter(|l| l.follow) {
                    let Some(target) = canonical_link(plan, &url, &link.url) else {
                        continue;
                    };
                    if seen.insert(target.clone()) {
                        links.push(NewLink {
                            url: target,
                            kind: link.kind.clone(),
                            depth: entry.depth + 1,
                            priority: priority(&link.kind),
                        });
                    }
                }
                self.with_market(market, |m| {
                    if kind == PageKind::Listing {
                        m.accounting.listings_fetched += 1;
                    }
                    if kind == PageKind::Search {
                        for listing in &extraction.listings {
                            if let Some(u) = listing
                                .url
                                .as_deref()
                                .and_then(|u| canonical_link(plan, &url, u))
                            {
                                m.announced.insert(u);
                            }
                        }
                        m.accounting.listings_announced = m
                            .accounting
                            .listings_announced
                            .max(m.announced.len() as u64);
                    }
                });
                let observations = if kind.is_interstitial() {
                    None
                } else {
                    Some((capture_id, &extraction))
                };
                self.complete(&entry, observations, plan, links).await
            }
        }
    }

    fn context<'c>(
        &'c self,
        plan: &'c MarketPlan,
        url: &'c str,
        at: DateTime<Utc>,
    ) -> PageContext<'c> {
        PageContext {
            market: &plan.name,
            url,
            captured_at: at,
            pseudonyms: &self.config.pseudonyms,
        }
    }

    /// Counts a gate page; true when the market has answered with nothing but gates for too
    /// long, and is now given up for the run (marked unreachable).
    fn blocked(&self, market: &str) -> bool {
        let limit = self.config.unreachable_after.max(1) * 4;
        let (blocked, first) = self.with_market(market, |m| {
            m.consecutive_gates += 1;
            let blocked = m.consecutive_gates > limit;
            let first = blocked && !m.accounting.unreachable;
            if blocked {
                m.accounting.unreachable = true;
                m.accounting.given_up += 1;
            }
            (blocked, first)
        });
        if first {
            tracing::warn!(
                market,
                "the market answers only with queue, ban, login or captcha pages: given up for this run"
            );
        }
        blocked
    }

    fn gate(&self, market: &str, what: &str) {
        self.with_market(market, |m| {
            *m.accounting.gates.entry(what.to_owned()).or_default() += 1
        });
    }

    /// Pauses the market for `pause`; returns when the pause ends.
    fn pause(&self, market: &str, pause: Duration) -> DateTime<Utc> {
        let until = chrono::Duration::from_std(pause)
            .ok()
            .and_then(|d| Utc::now().checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.with_market(market, |m| {
            m.paused_until = Some(m.paused_until.map_or(until, |p| p.max(until)))
        });
        until
    }

    /// A login or captcha page: the need is kept with the run's accounting, and each time a
    /// market starts needing a human it is recorded as a `needs_human` market event with the
    /// instructions.
    async fn needs_human(&self, plan: &MarketPlan, what: &str) -> Result<(), CrawlError> {
        let instructions = format!(
            "a {what} page at {}: log in with Tor Browser, export the cookies and run `dnmscope session import --market {} cookies.txt`; the crawl retries the market after its pause and goes on with the other markets meanwhile",
            Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
            plan.name
        );
        let (first, new_episode) = self.with_market(plan.name.as_str(), |m| {
            let count = m.accounting.gates.entry(what.to_owned()).or_default();
            *count += 1;
            let first = *count == 1;
            let new_episode = !m.awaiting_human;
            m.awaiting_human = true;
            // Kept with the run's accounting (the "needs a human" record); the first and the
            // latest few are enough to act on.
            if m.accounting.needs_human.len() >= 8 {
                m.accounting.needs_human.remove(1);
            }
            m.accounting.needs_human.push(instructions.clone());
            (first, new_episode)
        });
        if first {
            tracing::warn!(market = %plan.name, "{} needs a human: {instructions}", plan.name);
        }
        self.source.report(&plan.name, Signal::NeedsSession);
        if new_episode {
            let event = MarketEvent {
                kind: MarketEventKind::NeedsHuman,
                observed_at: self.source.now(),
                detail: instructions,
            };
            self.store
                .record_event(&plan.name, &event, Some(self.crawl))
                .await
                .during(|| format!("recording that {} needs a human", plan.name))?;
        }
        Ok(())
    }

    async fn complete(
        &self,
        entry: &FrontierEntry,
        extraction: Option<(i64, &dnmscope_model::Extraction)>,
        plan: &MarketPlan,
        mut links: Vec<NewLink>,
    ) -> Result<(), CrawlError> {
        links.retain(|l| l.depth <= plan.max_depth);
        let room = self.reserve_budget(plan, links.len());
        let completed = self
            .store
            .complete(
                entry.id,
                extraction,
                self.crawl,
                &plan.name,
                &links,
                room,
                Utc::now(),
            )
            .await
            .during(|| format!("completing {}", entry.url));
        let added = completed.as_ref().map_or(0, |c| c.links_added);
        self.settle_budget(plan, room, added);
        let completed = completed?;
        self.links_left(plan, completed.links_taken, links.len());
        Ok(())
    }

    async fn retry(
        &self,
        entry: &FrontierEntry,
        at: DateTime<Utc>,
        attempted: bool,
        why: &str,
    ) -> Result<(), CrawlError> {
        self.store
            .retry_later(entry.id, at, attempted, why)
            .await
            .during(|| format!("rescheduling {}", entry.url))
    }

    /// Like [`Self::retry`] for a page that met a gate: it also goes behind its market's other
    /// waiting pages.
    async fn retry_gated(
        &self,
        entry: &FrontierEntry,
        at: DateTime<Utc>,
        why: &str,
    ) -> Result<(), CrawlError> {
        self.store
            .retry_after_gate(entry.id, at, why)
            .await
            .during(|| format!("rescheduling {}", entry.url))
    }

    async fn give_up(&self, entry: &FrontierEntry, why: &str) -> Result<(), CrawlError> {
        self.store
            .give_up(entry.id, why)
            .await
            .during(|| format!("giving up {}", entry.url))
    }

    async fn failed(
        &self,
        plan: &MarketPlan,
        entry: &FrontierEntry,
        error: &SourceError,
    ) -> Result<(), CrawlError> {
        let market = plan.name.as_str();
        tracing::debug!(market, url = %entry.url, kind = error.kind.as_str(), "{}", error.message);
        if let Some(answer) = &error.answer {
            // The market's last word (a 429 or 503 page) is kept like every page it sent.
            self.store
                .store_capture(answer)
                .await
                .during(|| format!("storing the answer of {}", entry.url))?;
        }
        let attempts = entry.attempts + 1;
        let (unreachable_now, counted) = self.with_market(market, |m| {
            *m.accounting
                .failed
                .entry(error.kind.as_str().to_owned())
                .or_default() += 1;
            if error.kind == FailureKind::SiteDown {
                m.consecutive_down += 1;
            }
            let now_unreachable =
                !m.accounting.unreachable && m.consecutive_down >= self.config.unreachable_after;
            if now_unreachable {
                m.accounting.unreachable = true;
            }
            (now_unreachable, m.accounting.unreachable)
        });
        if unreachable_now {
            tracing::warn!(market, "the market stopped answering: marked unreachable for this run, the crawl goes on with the others");
            let event = MarketEvent {
                kind: MarketEventKind::Outage,
                observed_at: self.source.now(),
                detail: format!("unreachable during {}: {}", self.crawl, error.message),
            };
            self.store
                .record_event(&plan.name, &event, Some(self.crawl))
                .await
                .during(|| format!("recording an outage of {market}"))?;
        }
        let give_up =
            counted || error.kind == FailureKind::Fatal || attempts >= self.config.max_attempts;
        if give_up {
            self.with_market(market, |m| m.accounting.given_up += 1);
            return self.give_up(entry, &error.to_string()).await;
        }
        let backoff =
            self.config.retry_delay * 2u32.saturating_pow(attempts.saturating_sub(1)).min(64);
        let at = Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
        self.retry(entry, at, true, &error.to_string()).await
    }
}

/// The time relative dates on a page count back from: the server's `Date` header when it sends
/// a readable one (a market's own clock), else when the page was fetched.
pub(crate) fn page_time(capture: &dnmscope_model::Capture) -> DateTime<Utc> {
    capture
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("date"))
        .and_then(|h| DateTime::parse_from_rfc2822(h.value.trim()).ok())
        .map_or(capture.fetched_at, |d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_refresh_delays_and_targets() {
        assert_eq!(
            meta_refresh("<meta http-equiv=\"refresh\" content=\"5\">"),
            Some((5, None))
        );
        assert_eq!(
            meta_refresh("<META HTTP-EQUIV='Refresh' CONTENT='0; url=/index.php?p=home&amp;x=1'>"),
            Some((0, Some("/index.php?p=home&x=1".to_owned())))
        );
        assert_eq!(meta_refresh("<p>no refresh</p>"), None);
    }

    #[test]
    fn a_queue_refresh_past_the_maximum_is_clamped() {
        for written in [
            "9000000000000",
            "18446744073709551615",
            "99999999999999999999999",
        ] {
            let page = format!("<meta http-equiv=\"refresh\" content=\"{written}\">");
            assert_eq!(
                meta_refresh(&page),
                Some((MAX_QUEUE_WAIT_SECS, None)),
                "{written}"
            );
        }
        assert_eq!(
            meta_refresh("<meta http-equiv=\"refresh\" content=\"600\">"),
            Some((600, None))
        );
    }
}
