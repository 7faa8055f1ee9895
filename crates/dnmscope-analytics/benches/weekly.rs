//! Benchmark: weekly indicators over a large store.
//!
//! Builds a SQLite store of `DNMSCOPE_BENCH_OBSERVATIONS` listing observations (default 10
//! million: 3 markets crawled daily, about 33,000 listings per market and day with a steady
//! turnover, 2,000 vendors per market) through the store's bulk-load path (multi-row inserts,
//! one transaction per market and day; the weekly roll-up table refreshed after each day, as
//! after each crawl), then times the SQL roll-ups behind the weekly
//! indicators (`dnmscope_analytics::weekly_rollups`: activity, vendor flow and survival,
//! feedback activity) and reports wall time and peak resident memory.
//!
//! `DNMSCOPE_BENCH_STORE=PATH` keeps the store at PATH and reuses it when it exists.
//! `DNMSCOPE_BENCH_POSTGRES_URL=postgres://...` builds (or, when it already holds listing
//! observations, reuses) the store in that PostgreSQL database instead; the database is never
//! emptied by the benchmark, so give it one of its own.
//!
//! `DNMSCOPE_BENCH_COMPUTE_ALL=1` also times `compute_all` (every indicator, as the report
//! computes them) and its peak resident memory.
//!
//! `DNMSCOPE_BENCH_DUCKDB=PYTHON` (a Python with `duckdb`) adds the analyst's alternative side
//! by side: the store exported as Parquet (`dnmscope export --format parquet`, into
//! `DNMSCOPE_BENCH_EXPORT` or a temporary directory; an export already there is reused) and the
//! same questions asked of it by DuckDB (`benches/duckdb_peer.py`).
//!
//! ```sh
//! cargo bench -p dnmscope-analytics --bench weekly
//! ```

use std::path::PathBuf;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use dnmscope_analytics::{queries, weekly_rollups, Filter, Period};
use dnmscope_model::{Capture, Country, Listing, MarketName, Money, Quantity};
use dnmscope_store::{Location, Store, StoreOptions};

const MARKETS: [&str; 3] = ["bench-north", "bench-south", "bench-east"];
const VENDORS_PER_MARKET: u64 = 2_000;
const NEW_LISTINGS_PER_DAY: u64 = 500;
const CATEGORIES: [(&str, &str); 6] = [
    ("Cannabis", "Weed"),
    ("Stimulants", "Cocaine"),
    ("Ecstasy", "MDMA"),
    ("Opioids", "Heroin"),
    ("Psychedelics", "LSD"),
    ("Benzodiazepines", "Alprazolam"),
];
const ORIGINS: [&str; 6] = ["US", "NL", "DE", "GB", "AU", "CA"];

/// Peak resident set size of this process, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak RSS counter so the next reading covers only what follows (Linux).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn listing(market: usize, key: u64, day: u64) -> Listing {
    let (category, substance) = CATEGORIES[(key % CATEGORIES.len() as u64) as usize];
    let origin = ORIGINS[((key / 7) % ORIGINS.len() as u64) as usize];
    let cents = 2_000 + (key * 7_919 + day * 13) % 30_000;
    Listing {
        key: key.to_string(),
        title: Some(format!("{substance} {} g, lot {key}", 1 + key % 10)),
        vendor: Some(format!("vendor{}-{}", market, key % VENDORS_PER_MARKET)),
        category: vec![category.to_string(), substance.to_string()],
        price: Some(Money::new(&format!("{}.{:02}", cents / 100, cents % 100), "USD").unwrap()),
        quantity: Some(Quantity {
            count: 1,
            amount: rust_decimal::Decimal::from(1 + key % 10),
            unit: "g".to_string(),
        }),
        ships_from: Some(Country::from_code(origin).unwrap()),
        ships_to: vec![Country::from_code("WW").unwrap()],
        ..Listing::default()
    }
}

async fn build(store: &Store, observations: u64) {
    let per_market_day: u64 = 33_334.min(observations.div_ceil(3 * 30).max(1));
    let days = observations.div_ceil(per_market_day * MARKETS.len() as u64);
    let started = Instant::now();
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
    let mut stored = 0u64;
    // Time in the bulk load alone and in the roll-up refreshes.
    let mut loading = std::time::Duration::ZERO;
    let mut refreshing = std::time::Duration::ZERO;
    'days: for day in 0..days {
        let at = start + Duration::days(day as i64);
        let names: Vec<MarketName> = MARKETS
            .iter()
            .map(|m| MarketName::new(m).unwrap())
            .collect();
        let crawl = store
            .begin_crawl(&names, &serde_json::json!({"bench": true}), at)
            .await
            .unwrap();
        for (m, name) in names.iter().enumerate() {
            let remaining = observations - stored;
            if remaining == 0 {
                break 'days;
            }
            let count = per_market_day.min(remaining);
            let capture = Capture {
                market: name.clone(),
                crawl,
                url: format!("http://{name}.onion/bulk/{day}"),
                final_url: None,
                fetched_at: at,
                status: 200,
                headers: vec![],
                body: format!("bulk {name} {day}").into_bytes(),
                truncated: None,
                elapsed_ms: None,
            };
            let id = store.store_capture(&capture).await.unwrap().id;
            let first = day * NEW_LISTINGS_PER_DAY;
            let listings: Vec<Listing> = (first..first + count)
                .map(|key| listing(m, key, day))
                .collect();
            let load = Instant::now();
            stored += store
                .bulk_observe_listings(id, "bench@1", &listings)
                .await
                .unwrap();
            loading += load.elapsed();
        }
        // The weekly roll-up is kept up to date as data arrives, as after each crawl.
        let refresh = Instant::now();
        store.refresh_rollups().await.unwrap();
        refreshing += refresh.elapsed();
        if day % 10 == 9 {
            eprintln!(
                "  day {}: {stored} observations, {:.0} per second",
                day + 1,
                stored as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "built {stored} listing observations ({days} days x {} markets x up to {per_market_day}) \
         in {seconds:.1} s: {:.0} rows per second; the bulk load alone {:.1} s ({:.0} rows per \
         second), the roll-up refreshes {:.1} s",
        MARKETS.len(),
        stored as f64 / seconds,
        loading.as_secs_f64(),
        stored as f64 / loading.as_secs_f64(),
        refreshing.as_secs_f64(),
    );
}

/// The store exported as Parquet, and DuckDB asked the same questions over the export.
async fn duckdb_side_by_side(
    store: &Store,
    python: &str,
    vendors: &[(&str, String)],
    tmp: &std::path::Path,
) {
    use dnmscope_analytics::export::{export, ExportOptions, Format};
    let out_dir = std::env::var("DNMSCOPE_BENCH_EXPORT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| tmp.join("export"));
    if out_dir.join("tables/listing_observations.parquet").exists() {
        println!("reusing the Parquet export at {}", out_dir.display());
    } else {
        let started = Instant::now();
        let summary = export(
            store,
            &[],
            &ExportOptions {
                format: Format::Parquet,
                out_dir: out_dir.clone(),
                tool_version: "bench".to_string(),
                generated_at: Utc::now(),
            },
        )
        .await
        .expect("exporting the store as Parquet");
        let rows: u64 = summary.entries.iter().map(|e| e.rows).sum();
        println!(
            "exported the store as Parquet ({rows} rows) in {:.1} s to {}",
            started.elapsed().as_secs_f64(),
            out_dir.display()
        );
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_peer.py");
    let output = std::process::Command::new(python)
        .arg(&script)
        .arg(&out_dir)
        .args(vendors.iter().flat_map(|(m, h)| [*m, h.as_str()]))
        .output()
        .expect("running the DuckDB peer");
    print!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "the DuckDB peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn main() {
    let observations: u64 = std::env::var("DNMSCOPE_BENCH_OBSERVATIONS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(10_000_000);
    let keep = std::env::var("DNMSCOPE_BENCH_STORE")
        .ok()
        .map(PathBuf::from);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = keep
        .clone()
        .unwrap_or_else(|| dir.path().join("bench.sqlite"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let postgres = std::env::var("DNMSCOPE_BENCH_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty());
    runtime.block_on(async {
        let (location, exists) = match &postgres {
            Some(url) => (Location::Postgres(url.clone()), false),
            None => (Location::SqliteFile(path.clone()), path.exists()),
        };
        let mut options = StoreOptions::new(location);
        options.create = true;
        let store = Store::open(&options).await.expect("opening the bench store");
        let held = store
            .stats()
            .await
            .expect("the store's counts")
            .tables
            .iter()
            .find(|t| t.table == "listing_observations")
            .map_or(0, |t| t.rows);
        if exists || held > 0 {
            println!("reusing the store ({held} listing observations)");
        } else {
            build(&store, observations).await;
        }
        match &postgres {
            Some(_) => println!("store: PostgreSQL"),
            None => {
                // The database and its write-ahead log (what a checkpoint has not moved yet).
                let size: u64 = [path.clone(), PathBuf::from(format!("{}-wal", path.display()))]
                    .iter()
                    .filter_map(|p| std::fs::metadata(p).ok())
                    .map(|m| m.len())
                    .sum();
                println!(
                    "store: {} ({:.2} GiB, {:.0} bytes per listing observation)",
                    path.display(),
                    size as f64 / (1u64 << 30) as f64,
                    size as f64 / held.max(observations as i64) as f64
                );
            }
        }
        let rss_before = peak_rss_mib();
        let reset = reset_peak_rss();
        let filter = Filter {
            period: Period::Week,
            ..Filter::default()
        };
        for round in 1..=2 {
            let started = Instant::now();
            let tables = weekly_rollups(&store, &filter).await.expect("weekly indicators");
            let seconds = started.elapsed().as_secs_f64();
            let rows: usize = tables.iter().map(|t| t.rows.len()).sum();
            println!(
                "weekly indicators, round {round}: {seconds:.2} s wall ({} tables, {rows} rows: {})",
                tables.len(),
                tables
                    .iter()
                    .map(|t| format!("{} {}", t.name, t.rows.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        // Filtered by listing attributes (a substance, an origin).
        for (what, filter) in [
            (
                "substance Cocaine",
                Filter {
                    period: Period::Week,
                    substance: Some("Cocaine".to_string()),
                    ..Filter::default()
                },
            ),
            (
                "origin NL",
                Filter {
                    period: Period::Week,
                    origin: Some("NL".to_string()),
                    ..Filter::default()
                },
            ),
        ] {
            let started = Instant::now();
            let tables = weekly_rollups(&store, &filter).await.expect("weekly indicators");
            let rows: usize = tables.iter().map(|t| t.rows.len()).sum();
            println!(
                "weekly indicators filtered by {what}: {:.2} s wall ({rows} rows)",
                started.elapsed().as_secs_f64()
            );
        }
        // Where the time goes: each roll-up query alone.
        let store_filter = filter.store_filter();
        let mut parts = Vec::new();
        let started = Instant::now();
        store.activity(&store_filter, Period::Week).await.expect("activity");
        parts.push(format!("activity {:.0} ms", started.elapsed().as_secs_f64() * 1000.0));
        let started = Instant::now();
        store.vendor_spans(&store_filter, Period::Week).await.expect("vendor spans");
        parts.push(format!("vendor spans {:.0} ms", started.elapsed().as_secs_f64() * 1000.0));
        let started = Instant::now();
        store
            .observed_periods(&store_filter, Period::Week)
            .await
            .expect("observed weeks");
        parts.push(format!("observed weeks {:.0} ms", started.elapsed().as_secs_f64() * 1000.0));
        let started = Instant::now();
        store
            .feedback_activity(&store_filter, Period::Week)
            .await
            .expect("feedback activity");
        parts.push(format!("feedback {:.0} ms", started.elapsed().as_secs_f64() * 1000.0));
        println!("  by query: {}", parts.join(", "));
        // One vendor's trend (the `vendor_history` query): a vendor on each market, timed
        // several times each, median and slowest reported.
        let vendors: Vec<(&str, String)> = (0..30u64)
            .map(|round| {
                let m = (round % 3) as usize;
                (MARKETS[m], format!("vendor{m}-{}", (round * 37) % VENDORS_PER_MARKET))
            })
            .collect();
        let mut times = Vec::new();
        let mut rows = 0;
        for (market, handle) in &vendors {
            let started = Instant::now();
            let table = queries::vendor_history(&store, market, handle)
                .await
                .expect("a vendor's history");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            rows += table.rows.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "one vendor's trend (vendor_history, 30 vendors, {:.0} days each on average): \
             median {:.2} ms, slowest {:.2} ms",
            rows as f64 / times.len() as f64,
            times[times.len() / 2],
            times[times.len() - 1]
        );
        println!(
            "peak RSS: {:.0} MiB while computing the indicators{} ({:.0} MiB including the build)",
            peak_rss_mib().unwrap_or(0.0),
            if reset { "" } else { " (could not reset the counter: includes the build)" },
            rss_before.unwrap_or(0.0)
        );
        if let Ok(python) = std::env::var("DNMSCOPE_BENCH_DUCKDB") {
            duckdb_side_by_side(&store, &python, &vendors, dir.path()).await;
        }
        if std::env::var("DNMSCOPE_BENCH_COMPUTE_ALL").is_ok_and(|v| v == "1") {
            // Every indicator, as `dnmscope report` computes them: the listing observations
            // are streamed one listing at a time and reduced, so the peak grows with listings,
            // vendors and periods, not observations.
            let reset = reset_peak_rss();
            let started = Instant::now();
            let indicators = dnmscope_analytics::compute_all(&store, &filter)
                .await
                .expect("every indicator");
            println!(
                "compute_all: {:.1} s wall, {} tables, peak RSS {:.0} MiB{}",
                started.elapsed().as_secs_f64(),
                indicators.tables.len(),
                peak_rss_mib().unwrap_or(0.0),
                if reset { "" } else { " (could not reset the counter)" },
            );
        }
        store.close().await;
    });
}
