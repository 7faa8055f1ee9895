//! `dnmscope import`: saved pages (wget mirrors, saved-page folders, WARC files) into the store.
//! Ctrl-C once lets the pages in flight be stored and stops; importing again goes on.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, Utc};
use dnmscope_crawl::import::{self, ImportConfig, ImportProgress, ImportSummary, MarketChoice};
use dnmscope_crawl::Stop;
use dnmscope_model::MarketName;
use dnmscope_store::{Store, StoreOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{ImportArgs, ProgressMode, ReparseArgs};
use crate::commands::crawl::{definitions, human, peak_memory_mib, watch_signals};
use crate::config::Config;

/// The exit code of an import stopped before its end (run it again to go on).
const STOPPED: u8 = 130;

pub async fn run(
    args: ImportArgs,
    config: &Config,
    store_options: &StoreOptions,
) -> anyhow::Result<ExitCode> {
    for path in &args.paths {
        if !path.exists() {
            bail!("{} does not exist", path.display());
        }
    }
    let definitions = definitions(&config.crawl.definitions_dir)?;
    let index_of = |wanted: &str| definitions.iter().position(|d| d.name == wanted);
    let mut hosts = Vec::new();
    for (name, market) in &config.markets {
        let wanted = market.definition.as_deref().unwrap_or(name);
        let Some(definition) = index_of(wanted) else {
            bail!("markets.{name}: no market definition {wanted:?}");
        };
        let market_name = MarketName::new(name).with_context(|| format!("market name {name:?}"))?;
        for host in &market.hosts {
            hosts.push((host.to_ascii_lowercase(), market_name.clone(), definition));
        }
    }
    let market = if args.market == "auto" {
        MarketChoice::Auto
    } else {
        let name =
            MarketName::new(&args.market).with_context(|| format!("--market {:?}", args.market))?;
        let wanted = config
            .markets
            .get(&args.market)
            .and_then(|m| m.definition.clone())
            .unwrap_or_else(|| args.market.clone());
        let Some(definition) = index_of(&wanted) else {
            bail!(
                "--market {}: no market definition {wanted:?} (known: {}; or auto)",
                args.market,
                definitions
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        MarketChoice::Fixed { name, definition }
    };
    let observed_at = args.observed_at.as_deref().map(parse_time).transpose()?;
    // The writer (SQLite's or PostgreSQL's client work, compression) is a core's work of its
    // own: on two cores one parsing thread imported 947 pages/s and two 804.
    let threads = args.threads.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .saturating_sub(1)
            .max(1)
    });
    let import_config = Arc::new(ImportConfig {
        market,
        definitions,
        hosts,
        observed_at,
        pseudonyms: super::keys::pseudonym_key(config)?,
        parse_limits: dnmscope_parse::Limits::default(),
        threads,
        max_body: config.fetch.max_body_bytes as usize,
    });

    let store = Store::open(store_options)
        .await
        .context("opening the store")?;
    let _writer = store
        .lock_writer("dnmscope import")
        .context("taking the store's writer lock")?;
    let stop = Stop::new();
    watch_signals(stop.clone());
    let progress = Arc::new(ImportProgress::default());
    let mode = match args.progress {
        ProgressMode::Auto if std::io::stderr().is_terminal() => Some(None),
        ProgressMode::Auto | ProgressMode::Lines => Some(Some(Duration::from_secs(
            config.crawl.status_every_secs.max(1),
        ))),
        ProgressMode::None => None,
    };
    let display = mode.map(|mode| tokio::spawn(show(Arc::clone(&progress), mode)));
    let started = Instant::now();
    let result = import::import(
        &store,
        import_config,
        args.paths.clone(),
        Arc::clone(&progress),
        stop,
    )
    .await;
    if let Some(display) = display {
        display.abort();
        let _ = display.await;
    }
    let summary = result.context("importing")?;
    let took = started.elapsed();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary, took);
        if let Some(peak) = peak_memory_mib() {
            println!("peak memory: {peak} MiB");
        }
    }
    store.close().await;
    if summary.stopped {
        eprintln!("stopped before the end; run the same `dnmscope import` again to go on");
        return Ok(ExitCode::from(STOPPED));
    }
    Ok(ExitCode::SUCCESS)
}

/// RFC 3339, or a date (its midnight UTC).
fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    bail!("--observed-at {text:?}: not an RFC 3339 time (2014-05-03T12:00:00Z) or a date (2014-05-03)")
}

fn print_summary(summary: &ImportSummary, took: Duration) {
    let rate = summary.pages as f64 / took.as_secs_f64().max(1e-9);
    println!(
        "imported {} of {} pages in {} ({rate:.0} pages/s): {} files, {} WARC records; {} already imported",
        summary.imported,
        summary.pages,
        human(took),
        summary.files,
        summary.records,
        summary.already_imported
    );
    if summary.unknown_market > 0 {
        println!(
            "  {} pages no definition recognises, kept as captures of the market `{}` for a later `dnmscope reparse`",
            summary.unknown_market,
            import::UNKNOWN_MARKET
        );
    }
    if summary.refused > 0 {
        println!(
            "  {} pages refused by the parser (stored, not read)",
            summary.refused
        );
    }
    if !summary.skipped.is_empty() {
        println!("skipped:");
        for (reason, n) in &summary.skipped {
            let example = summary
                .skipped_examples
                .get(reason)
                .map(|e| format!(" (e.g. {e})"))
                .unwrap_or_default();
            println!("  {n:>8}  {reason}{example}");
        }
    }
    if !summary.markets.is_empty() {
        println!("markets:");
        for (market, n) in &summary.markets {
            println!("  {n:>8}  {market}");
        }
    }
    if !summary.page_kinds.is_empty() {
        println!("page kinds:");
        for (kind, n) in &summary.page_kinds {
            println!("  {n:>8}  {kind}");
        }
    }
    if !summary.diagnostics.is_empty() {
        println!("pages with a parse diagnostic, by field:");
        for (field, n) in &summary.diagnostics {
            println!("  {n:>8}  {field}");
        }
    }
    println!("runs:");
    for run in &summary.runs {
        let times: Vec<String> = run
            .page_times
            .iter()
            .map(|(how, n)| format!("{how}: {n}"))
            .collect();
        let times = if times.is_empty() {
            String::new()
        } else {
            format!("; page times from {}", times.join(", "))
        };
        println!(
            "  crawl-{} {} {} {} (date from {}{times}): {} pages imported{}",
            run.crawl,
            run.kind,
            run.date,
            run.path,
            run.date_from,
            run.pages_imported,
            if run.new { "" } else { " (run continued)" }
        );
    }
}

/// A progress bar on a terminal (`None`), or a status line every so often.
async fn show(progress: Arc<ImportProgress>, lines: Option<Duration>) {
    let started = Instant::now();
    let bar = match lines {
        None => {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Some(bar)
        }
        Some(_) => None,
    };
    let mut interval = tokio::time::interval(lines.unwrap_or(Duration::from_millis(250)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let total = progress.walk.total_bytes.load(Ordering::Relaxed);
        let read = progress.walk.read_bytes.load(Ordering::Relaxed);
        let written = progress.pages_written.load(Ordering::Relaxed);
        let rate = written as f64 / started.elapsed().as_secs_f64().max(1e-9);
        match &bar {
            Some(bar) => {
                bar.set_length(total);
                bar.set_position(read.min(total));
                bar.set_message(format!("{written} pages, {rate:.0} pages/s"));
            }
            None => {
                let eta = if read > 0 && total > read {
                    let per_byte = started.elapsed().as_secs_f64() / read as f64;
                    format!(
                        ", ETA {}",
                        human(Duration::from_secs_f64(per_byte * (total - read) as f64))
                    )
                } else {
                    String::new()
                };
                eprintln!(
                    "import: {written} pages stored ({rate:.0} pages/s), {} of {} MiB read{eta}",
                    read >> 20,
                    total >> 20
                );
            }
        }
    }
}

pub async fn reparse(
    args: ReparseArgs,
    config: &Config,
    store_options: &StoreOptions,
) -> anyhow::Result<ExitCode> {
    let definitions = definitions(&config.crawl.definitions_dir)?;
    let mut markets = std::collections::HashMap::new();
    for (name, market) in &config.markets {
        let wanted = market.definition.as_deref().unwrap_or(name);
        let Some(index) = definitions.iter().position(|d| d.name == wanted) else {
            bail!("markets.{name}: no market definition {wanted:?}");
        };
        markets.insert(name.clone(), index);
    }
    if let Some(market) = &args.market {
        MarketName::new(market).with_context(|| format!("--market {market:?}"))?;
    }
    let selection = dnmscope_store::ReparseSelection {
        market: args.market.clone(),
        crawl: args.crawl.map(dnmscope_model::CrawlId),
        since: args.since.as_deref().map(parse_time).transpose()?,
    };
    let threads = args.threads.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let reparse_config = Arc::new(dnmscope_crawl::reparse::ReparseConfig {
        definitions,
        markets,
        pseudonyms: super::keys::pseudonym_key(config)?,
        parse_limits: dnmscope_parse::Limits::default(),
        threads,
    });
    let store = Store::open(store_options)
        .await
        .context("opening the store")?;
    let _writer = store
        .lock_writer("dnmscope reparse")
        .context("taking the store's writer lock")?;
    let stop = Stop::new();
    watch_signals(stop.clone());
    let started = Instant::now();
    let summary = dnmscope_crawl::reparse::reparse(
        &store,
        reparse_config,
        &selection,
        &|seen| tracing::debug!(captures = seen, "re-parse progress"),
        &stop,
    )
    .await
    .context("re-parsing")?;
    store.close().await;
    let took = started.elapsed();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_reparse(&summary, took);
    }
    if summary.stopped {
        eprintln!("stopped before the end; run the same `dnmscope reparse` again to go on");
        return Ok(ExitCode::from(STOPPED));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_reparse(summary: &dnmscope_crawl::reparse::ReparseSummary, took: Duration) {
    let rate = summary.reparsed as f64 / took.as_secs_f64().max(1e-9);
    println!(
        "re-parsed {} of {} captures in {} ({rate:.0} pages/s); {} already read by their definition's current version; {} older extractions replaced (kept, no longer read by analytics)",
        summary.reparsed,
        summary.captures,
        human(took),
        summary.current,
        summary.superseded
    );
    for (market, n) in &summary.no_definition {
        println!("  {n} captures of {market}: no definition for it, left alone");
    }
    for (market, n) in &summary.recognised {
        println!("  {n} captures of the unknown market now recognised as {market}");
    }
    for (reason, n) in &summary.refused {
        println!("  {n} extractions refused by the store: {reason}");
    }
    for (versions, n) in &summary.versions {
        println!("  {n:>8}  {versions}");
    }
    if !summary.page_kinds.is_empty() {
        println!("page kinds that changed:");
        for (kinds, n) in &summary.page_kinds {
            println!("  {n:>8}  {kinds}");
        }
    }
    println!(
        "{} re-parsed captures read exactly as before; what changed, per page kind and field:",
        summary.unchanged
    );
    let mut none = true;
    for (kind, fields) in &summary.changes {
        for (field, change) in fields {
            none = false;
            println!(
                "  {kind:<14} {field:<28} {:>7} changed {:>7} added {:>7} removed",
                change.changed, change.added, change.removed
            );
        }
    }
    if none {
        println!("  nothing");
    }
}
