//! `dnmscope crawl`: the configured markets, one snapshot per run, or one every `--every` until
//! stopped. An unfinished run is resumed first. Ctrl-C once lets the pages in flight finish and
//! stops; twice stops at once. Either way the run stays resumable.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use dnmscope_crawl::{
    crawl_with_progress, table, CrawlConfig, FetchSource, MarketPlan, MarketStatus, Progress,
    Sessions, Stop,
};
use dnmscope_fetch::{Fetcher, TokioClock};
use dnmscope_model::{FrontierState, MarketName};
use dnmscope_parse::Market;
use dnmscope_store::{Store, StoreOptions};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::cli::{CrawlArgs, ProgressMode};
use crate::commands::fetch::transport;
use crate::config::Config;

/// The exit code of a run stopped before its end (it can be resumed).
const STOPPED: u8 = 130;

pub async fn run(
    args: CrawlArgs,
    config: &Config,
    store_options: &StoreOptions,
) -> anyhow::Result<ExitCode> {
    let crawl_config = crawl_config(config, &args.markets)?;
    // Like every command but `db migrate` and `demo`, a crawl never creates a store: a typo in
    // --db must not start an empty one.
    let store = Store::open(store_options)
        .await
        .context("opening the store")?;
    let _writer = store
        .lock_writer("dnmscope crawl")
        .context("taking the store's writer lock")?;

    let stop = Stop::new();
    watch_signals(stop.clone());

    let transport = transport(config).await?.transport;
    let fetcher = Fetcher::new(
        transport,
        Arc::new(TokioClock::new()),
        config.fetch.limits(),
        config.market_specs()?,
        dnmscope_model::CrawlId(0),
    )
    .with_account(&config.fetch.account);
    let source = FetchSource::new(
        fetcher,
        Some(Sessions {
            dir: Path::new(&config.fetch.data_dir).join("sessions"),
            account: config.fetch.account.clone(),
        }),
    );
    let mode = match args.progress {
        ProgressMode::Auto if std::io::stderr().is_terminal() => Display::Live,
        ProgressMode::Auto | ProgressMode::Lines => {
            Display::Lines(Duration::from_secs(config.crawl.status_every_secs))
        }
        ProgressMode::None => Display::Nothing,
    };

    loop {
        let started = Instant::now();
        let progress = Progress::new();
        let display = tokio::spawn(show(store.clone(), progress.clone(), mode));
        let result = crawl_with_progress(&store, &source, &crawl_config, &stop, &progress).await;
        display.abort();
        let _ = display.await;
        let outcome = result.context("crawling")?;
        let took = started.elapsed();
        match outcome.finish {
            Some(reason) => println!(
                "{}{}: {} in {}",
                outcome.crawl,
                if outcome.resumed { " (resumed)" } else { "" },
                reason.as_str(),
                human(took)
            ),
            None => println!(
                "{}: stopped after {}; run `dnmscope crawl` again to resume it",
                outcome.crawl,
                human(took)
            ),
        }
        print!("{}", table(&outcome.accounting));
        if let Some(peak) = peak_memory_mib() {
            println!("peak memory: {peak} MiB");
        }
        if outcome.finish.is_none() {
            store.close().await;
            return Ok(ExitCode::from(STOPPED));
        }
        let Some(every) = args.every else {
            break;
        };
        let wait = every.saturating_sub(started.elapsed());
        let next = chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        println!(
            "next snapshot at {} (Ctrl-C to stop)",
            next.format("%Y-%m-%d %H:%M:%S UTC")
        );
        let until = Instant::now() + wait;
        while Instant::now() < until && !stop.requested() {
            tokio::time::sleep(Duration::from_millis(200).min(until - Instant::now())).await;
        }
        if stop.requested() {
            break;
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The process's peak resident memory so far (Linux's `VmHWM`), in MiB; None where the system
/// does not say.
pub(super) fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib.div_ceil(1024))
}

/// Ctrl-C (or SIGTERM) once: finish the pages in flight and stop. Twice: stop at once. The
/// store is consistent at every commit, so both leave a resumable run.
pub(super) fn watch_signals(stop: Stop) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => Some(term),
                Err(error) => {
                    tracing::debug!(%error, "cannot watch SIGTERM");
                    None
                }
            };
        loop {
            #[cfg(unix)]
            let signalled = match term.as_mut() {
                Some(term) => tokio::select! {
                    r = tokio::signal::ctrl_c() => r.is_ok(),
                    r = term.recv() => r.is_some(),
                },
                None => tokio::signal::ctrl_c().await.is_ok(),
            };
            #[cfg(not(unix))]
            let signalled = tokio::signal::ctrl_c().await.is_ok();
            if !signalled {
                return;
            }
            if stop.requested() {
                eprintln!("stopping now; the run can be resumed with `dnmscope crawl`");
                std::process::exit(i32::from(STOPPED));
            }
            eprintln!(
                "stopping after the pages in flight (Ctrl-C again to stop at once; either way the run can be resumed)"
            );
            stop.request();
        }
    });
}

/// The run's plan from the configuration: the markets (all, or those named), their
/// definitions, seeds and budgets, and the crawl settings.
pub fn crawl_config(config: &Config, only: &[String]) -> anyhow::Result<CrawlConfig> {
    if config.markets.is_empty() {
        bail!("no markets to crawl: add [markets.NAME] tables with their hosts to the configuration (see config/dnmscope.example.toml)");
    }
    for name in only {
        if !config.markets.contains_key(name) {
            bail!(
                "market {name:?} is not in the configuration (configured: {})",
                config
                    .markets
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let definitions: Vec<Arc<Market>> = definitions(&config.crawl.definitions_dir)?
        .into_iter()
        .map(Arc::new)
        .collect();
    let settings = &config.crawl;
    let mut plans = Vec::new();
    for (name, market) in &config.markets {
        if !only.is_empty() && !only.contains(name) {
            continue;
        }
        let wanted = market.definition.as_deref().unwrap_or(name);
        let Some(definition) = definitions.iter().find(|d| d.name == wanted) else {
            bail!(
                "markets.{name}: no market definition {wanted:?} (known: {}); set markets.{name}.definition or add one to crawl.definitions_dir",
                definitions.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
            );
        };
        let seeds = if market.seeds.is_empty() {
            vec![format!("http://{}/", market.hosts[0])]
        } else {
            market.seeds.clone()
        };
        plans.push(MarketPlan {
            name: MarketName::new(name).with_context(|| format!("market name {name:?}"))?,
            definition: Arc::clone(definition),
            hosts: market.hosts.clone(),
            seeds,
            max_pages: Some(market.max_pages.unwrap_or(settings.max_pages)),
            max_depth: market.max_depth.unwrap_or(settings.max_depth),
            session_params: market.session_params.clone(),
        });
    }
    Ok(CrawlConfig {
        markets: plans,
        concurrency: settings.concurrency,
        max_attempts: settings.max_attempts,
        retry_delay: Duration::from_secs(settings.retry_delay_secs),
        ban_pause: Duration::from_secs(settings.ban_pause_secs),
        login_pause: Duration::from_secs(settings.login_pause_secs),
        unreachable_after: settings.unreachable_after,
        pseudonyms: super::keys::pseudonym_key(config)?,
        parse_limits: dnmscope_parse::Limits::default(),
    })
}

pub fn definitions(dir: &str) -> anyhow::Result<Vec<Market>> {
    let mut markets =
        dnmscope_parse::builtin_markets().context("compiling the built-in market definitions")?;
    if dir.is_empty() {
        return Ok(markets);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading crawl.definitions_dir {dir}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let market = Market::from_toml(&path.display().to_string(), &text)?;
        markets.retain(|m| m.name != market.name);
        markets.push(market);
    }
    Ok(markets)
}

#[derive(Debug, Clone, Copy)]
enum Display {
    Live,
    Lines(Duration),
    Nothing,
}

/// Shows the run's progress until aborted.
async fn show(store: Store, progress: Progress, mode: Display) {
    let tick = match mode {
        Display::Nothing => return,
        Display::Live => Duration::from_millis(250),
        Display::Lines(every) => every,
    };
    let bars = MultiProgress::new();
    let mut shown: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let mut last: BTreeMap<String, (u64, Instant)> = BTreeMap::new();
    let mut waiting: BTreeMap<String, u64> = BTreeMap::new();
    let mut counted: Option<Instant> = None;
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if matches!(mode, Display::Lines(_)) {
        interval.tick().await;
    }
    loop {
        interval.tick().await;
        let Some(crawl) = progress.crawl() else {
            continue;
        };
        if counted.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            counted = Some(Instant::now());
            if let Ok(counts) = store.frontier_counts(crawl).await {
                waiting.clear();
                for (market, state, n) in counts {
                    if state == FrontierState::Pending {
                        *waiting.entry(market).or_default() += n;
                    }
                }
            }
        }
        for (market, status) in progress.snapshot() {
            let pending = waiting.get(&market).copied().unwrap_or(0);
            let (before, at) = last
                .get(&market)
                .copied()
                .unwrap_or((status.accounting.fetched, Instant::now()));
            let rate = if at.elapsed() > Duration::ZERO {
                status.accounting.fetched.saturating_sub(before) as f64 / at.elapsed().as_secs_f64()
            } else {
                0.0
            };
            if at.elapsed() >= Duration::from_secs(5) || !last.contains_key(&market) {
                last.insert(market.clone(), (status.accounting.fetched, Instant::now()));
            }
            let line = status_line(&status, pending, rate);
            match mode {
                Display::Live => {
                    let bar = shown.entry(market.clone()).or_insert_with(|| {
                        let bar = bars.add(ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template("{spinner} {prefix:<14} {msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar.set_prefix(market.clone());
                        bar
                    });
                    bar.set_message(line);
                    bar.tick();
                }
                Display::Lines(_) => eprintln!("{crawl} {market}: {line}"),
                Display::Nothing => {}
            }
        }
    }
}

fn status_line(status: &MarketStatus, pending: u64, rate: f64) -> String {
    let a = &status.accounting;
    let failed: u64 = a.failed.values().sum();
    let gates: u64 = a.gates.values().sum();
    let mut line = format!(
        "fetched {}, waiting {pending}, in flight {}, failed {failed}, gates {gates}, {rate:.1} pages/s",
        a.fetched, status.in_flight
    );
    if let Some(until) = status.paused_until {
        let left = until - chrono::Utc::now();
        if left > chrono::Duration::zero() {
            line.push_str(&format!(", paused {} s", left.num_seconds() + 1));
        }
    }
    if a.seized {
        line.push_str(", seized");
    }
    if a.unreachable {
        line.push_str(", unreachable");
    }
    if !a.needs_human.is_empty() {
        line.push_str(", needs a human (dnmscope session import)");
    }
    line
}

pub(super) fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}
