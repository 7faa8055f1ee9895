//! The crawl's efficiency under simulated Tor latency: achieved pages per second against the
//! politeness ceiling, CPU per page and peak memory of the crawling process.
//!
//! `cargo bench -p dnmscope-crawl --bench crawl` (release). The simulated markets run in a child
//! process (this same executable, role `sim`) so the figures are the crawler's alone. Every
//! connection is delayed by a latency drawn from a log-normal distribution around a median (an
//! onion-service round trip), then served over loopback through the real fetcher (politeness,
//! HTTP, cookies) into a SQLite store, parsed and stored as in a real crawl.
//!
//! Environment: DNMSCOPE_BENCH_PAGES (pages per market, default 120), DNMSCOPE_BENCH_VENDORS
//! (vendors in the simulated world, default 60; more vendors, more pages), DNMSCOPE_BENCH_RATE
//! (requests per minute per market, default 240), DNMSCOPE_BENCH_LATENCIES (medians in ms,
//! default "500,2000"; empty: none).
//!
//! Then the cost of encrypting raw bodies at rest, on the two paths that write them, each run
//! with the store's raw-body key and without, interleaved (DNMSCOPE_BENCH_ENCRYPTION_ROUNDS
//! rounds, default 5; 0: skipped), medians of CPU per page:
//! - the crawl path: the same crawl with no latency and a rate limit it never reaches (fetch,
//!   parse, store);
//! - the import path: the crawled pages (DNMSCOPE_BENCH_IMPORT_PAGES of them, default 2000,
//!   cycled with distinct URLs) stored, parsed and ingested into a new store, as an import does.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dnmscope_crawl::{crawl, CrawlConfig, FetchSource, MarketPlan, Stop};
use dnmscope_fetch::{
    Connecting, ConnectionStats, Fetcher, IsolationKey, Limits, LoopbackTransport, MarketSpec,
    Politeness, TokioClock, Transport,
};
use dnmscope_model::{Capture, CrawlId, MarketName, PseudonymKey};
use dnmscope_parse::{Market, PageContext};
use dnmscope_sim::view::Ctx;
use dnmscope_sim::{generate, Page, ServerConfig, SimServer, World, WorldConfig};
use dnmscope_store::{Location, RawKey, Store, StoreOptions};
use rand::{Rng, SeedableRng};

const SEED: u64 = 7;
const DAY: u32 = 5;

fn world() -> World {
    generate(&WorldConfig {
        vendors: env("DNMSCOPE_BENCH_VENDORS", "60")
            .parse()
            .expect("vendors"),
        ..WorldConfig::small(SEED)
    })
    .expect("generating the world")
}

/// Loopback connections delayed like an onion-service circuit.
#[derive(Debug)]
struct Latency {
    inner: LoopbackTransport,
    median: Duration,
    rng: Mutex<rand_chacha::ChaCha8Rng>,
}

impl Transport for Latency {
    fn name(&self) -> &'static str {
        "simulated-tor"
    }

    fn connect<'a>(&'a self, host: &'a str, port: u16, key: &'a IsolationKey) -> Connecting<'a> {
        // Log-normal, sigma 0.5: most round trips within a factor of 2.7 of the median.
        let (u1, u2): (f64, f64) = {
            let mut rng = self.rng.lock().expect("rng lock");
            (rng.gen_range(f64::EPSILON..1.0), rng.gen())
        };
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let delay = self.median.mul_f64((0.5 * normal).exp());
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            self.inner.connect(host, port, key).await
        })
    }
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() {
    if std::env::var("DNMSCOPE_BENCH_ROLE").as_deref() == Ok("sim") {
        return serve();
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let pages: u64 = env("DNMSCOPE_BENCH_PAGES", "120").parse().expect("pages");
    let rate: u32 = env("DNMSCOPE_BENCH_RATE", "240").parse().expect("rate");
    let latencies: Vec<u64> = env("DNMSCOPE_BENCH_LATENCIES", "500,2000")
        .split(',')
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse().expect("latency in ms"))
        .collect();
    let rounds: usize = env("DNMSCOPE_BENCH_ENCRYPTION_ROUNDS", "5")
        .parse()
        .expect("rounds");
    let import_pages: usize = env("DNMSCOPE_BENCH_IMPORT_PAGES", "2000")
        .parse()
        .expect("import pages");

    // The simulated markets, in a child process.
    let mut child = Command::new(std::env::current_exe().expect("this executable"))
        .env("DNMSCOPE_BENCH_ROLE", "sim")
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the simulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the simulator's address");
    let addr: SocketAddr = line.trim().parse().expect("an address");
    let world = world();

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    println!(
        "crawl under simulated Tor latency: {} markets, {pages} pages each, politeness {rate} requests/min and 4 in flight per market",
        world.markets.len()
    );
    for median in latencies {
        // Without keep-alive (a new connection, through Tor a new stream, per request) and with.
        for keep_alive in [false, true] {
            let ceiling = f64::from(rate) / 60.0 * world.markets.len() as f64;
            let cpu_before = cpu_seconds();
            let (fetched, took, _, connections) = runtime.block_on(run(
                &world, addr, pages, rate, median, None, false, keep_alive,
            ));
            let cpu = cpu_seconds() - cpu_before;
            let achieved = fetched as f64 / took.as_secs_f64();
            println!(
                "  latency median {median:>5} ms, keep-alive {}: {fetched} pages in {:.1} s = {achieved:.2} pages/s against a ceiling of {ceiling:.1} ({:.0} %); {} connections opened, {} reused; CPU {:.2} ms per page; peak RSS {:.0} MiB",
                if keep_alive { "on " } else { "off" },
                took.as_secs_f64(),
                achieved / ceiling * 100.0,
                connections.opened,
                connections.reused,
                cpu / fetched.max(1) as f64 * 1e3,
                peak_rss_mib()
            );
        }
    }
    if env("DNMSCOPE_BENCH_RAW", "1") == "1" {
        raw_storage(&runtime, &world, addr, pages);
    }
    let writes_rounds: usize = env("DNMSCOPE_BENCH_WRITES_ROUNDS", "3")
        .parse()
        .expect("rounds");
    if writes_rounds > 0 {
        store_writes(&runtime, &world, addr, pages, writes_rounds, import_pages);
    }
    if rounds > 0 {
        encryption_cost(&runtime, &world, addr, pages, rounds, import_pages);
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// CPU per page of the crawl and import paths with and without raw-body encryption,
/// interleaved (the order alternates each round), as medians.
fn encryption_cost(
    runtime: &tokio::runtime::Runtime,
    world: &World,
    addr: SocketAddr,
    pages: u64,
    rounds: usize,
    import_pages: usize,
) {
    let key = RawKey::from_bytes([9; 32]);
    println!(
        "raw-body encryption (XChaCha20-Poly1305 after zstd), {rounds} interleaved rounds, medians of CPU per page:"
    );
    let mut crawl_cpu: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    // The pages the import path stores: one crawl's, read back.
    let (_, _, captures, _) =
        runtime.block_on(run(world, addr, pages, 1_000_000, 0, None, true, true));
    for round in 0..rounds {
        for which in [round % 2, 1 - round % 2] {
            let key = (which == 1).then(|| key.clone());
            let before = cpu_seconds();
            let (fetched, _, _, _) =
                runtime.block_on(run(world, addr, pages, 1_000_000, 0, key, false, true));
            crawl_cpu[which].push((cpu_seconds() - before) / fetched.max(1) as f64 * 1e3);
        }
    }
    let (plain, sealed) = (median(crawl_cpu[0].clone()), median(crawl_cpu[1].clone()));
    println!(
        "  crawl path (no latency, rate limit out of reach): {plain:.3} ms plain, {sealed:.3} ms encrypted: {:+.1} %",
        (sealed / plain - 1.0) * 100.0
    );
    let definitions = dnmscope_parse::builtin_markets().expect("definitions");
    let mut import_cpu: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut bytes = 0usize;
    for round in 0..rounds {
        for which in [round % 2, 1 - round % 2] {
            let key = (which == 1).then(|| key.clone());
            let before = cpu_seconds();
            let (stored, b) =
                runtime.block_on(import(world, &captures, import_pages, &definitions, key));
            bytes = b;
            import_cpu[which].push((cpu_seconds() - before) / stored.max(1) as f64 * 1e3);
        }
    }
    let (plain, sealed) = (median(import_cpu[0].clone()), median(import_cpu[1].clone()));
    println!(
        "  import path ({import_pages} pages, {:.1} KiB each on average: store, parse, ingest): {plain:.3} ms plain, {sealed:.3} ms encrypted: {:+.1} %",
        bytes as f64 / import_pages.max(1) as f64 / 1024.0,
        (sealed / plain - 1.0) * 100.0
    );
}

/// A new SQLite store at `path` (`configure` sets its options) with a run over the world's
/// markets begun, as an import or a crawl would.
async fn new_store(
    world: &World,
    path: std::path::PathBuf,
    what: &str,
    configure: impl FnOnce(&mut StoreOptions),
) -> (Store, CrawlId) {
    let mut options = StoreOptions::new(Location::SqliteFile(path));
    options.create = true;
    configure(&mut options);
    let store = Store::open(&options).await.expect("the store");
    let markets: Vec<MarketName> = world
        .markets
        .iter()
        .map(|m| MarketName::new(&m.slug).expect("a name"))
        .collect();
    let run = store
        .begin_crawl(
            &markets,
            &serde_json::json!({ "bench": what }),
            chrono::Utc::now(),
        )
        .await
        .expect("a run");
    (store, run)
}

/// Raw storage: the crawled pages stored into a new store with per-market dictionaries and
/// into one without (plain per-page zstd, as before dictionaries), each measured by the store's
/// own figures (`db stats`: body bytes over stored bytes, dictionaries counted in) and by CPU
/// per megabyte; then compression alone, per market: plain zstd against a dictionary trained
/// by the store's own trainer on the market's first 256 pages, over all its pages.
fn raw_storage(runtime: &tokio::runtime::Runtime, world: &World, addr: SocketAddr, pages: u64) {
    let (_, _, captures, _) =
        runtime.block_on(run(world, addr, pages, 1_000_000, 0, None, true, true));
    let bytes: usize = captures.iter().map(|c| c.body.len()).sum();
    // The store's own level unless DNMSCOPE_BENCH_LEVEL says otherwise.
    let default_level = StoreOptions::new(Location::SqliteFile("-".into())).compression_level;
    let level: i32 = env("DNMSCOPE_BENCH_LEVEL", &default_level.to_string())
        .parse()
        .expect("a zstd level");
    println!(
        "raw storage: {} pages ({:.1} MB) of one crawl stored into a new SQLite store (zstd level {level}):",
        captures.len(),
        bytes as f64 / 1e6
    );
    for dictionaries in [false, true] {
        let (ratio, cpu) = runtime.block_on(async {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let (store, run) = new_store(world, dir.path().join("raw.sqlite"), "raw", |options| {
                options.raw_dictionaries = dictionaries;
                options.compression_level = level;
            })
            .await;
            let before = cpu_seconds();
            for capture in &captures {
                let mut capture = capture.clone();
                capture.crawl = run;
                store.store_capture(&capture).await.expect("storing");
            }
            let cpu = cpu_seconds() - before;
            let stats = store.stats().await.expect("stats");
            store.close().await;
            (
                stats.body_bytes as f64 / stats.stored_body_bytes.max(1) as f64,
                cpu,
            )
        });
        println!(
            "  {}: {ratio:.2}:1 (dictionaries counted in); storing {:.1} MB per CPU-second",
            if dictionaries {
                "per-market dictionaries"
            } else {
                "plain per-page zstd    "
            },
            bytes as f64 / 1e6 / cpu.max(1e-9)
        );
    }
    let mut by_market: std::collections::BTreeMap<&str, Vec<Vec<u8>>> = Default::default();
    for capture in &captures {
        by_market
            .entry(capture.market.as_str())
            .or_default()
            .push(capture.body.clone());
    }
    let (mut plain_bytes, mut plain_cpu, mut dict_bytes, mut dict_cpu) = (0usize, 0.0, 0usize, 0.0);
    for bodies in by_market.values() {
        let before = cpu_seconds();
        for _ in 0..5 {
            plain_bytes = 0;
            for body in bodies {
                plain_bytes += zstd::bulk::compress(body, 3).expect("zstd").len();
            }
        }
        plain_cpu += (cpu_seconds() - before) / 5.0;
        // The store trains on the newest pages first.
        let newest: Vec<Vec<u8>> = bodies.iter().take(256).rev().cloned().collect();
        let Some(trained) = dnmscope_store::dictionary::train(&newest, level) else {
            continue;
        };
        let dictionary = dnmscope_store::dictionary::Dictionary::new(1, &trained, level);
        let before = cpu_seconds();
        let mut size = 0;
        for _ in 0..5 {
            size = trained.len();
            for body in bodies {
                size += dictionary.compress(body).expect("zstd").len();
            }
        }
        dict_cpu += (cpu_seconds() - before) / 5.0;
        dict_bytes += size;
    }
    let _ = plain_bytes;
    let plain_total: usize = by_market
        .values()
        .flatten()
        .map(|b| zstd::bulk::compress(b, 3).expect("zstd").len())
        .sum();
    println!(
        "  compression alone (5 rounds; plain at level 3, the store's level before dictionaries): plain {:.2}:1 at {:.0} MB/s; with a dictionary trained on each market's first 256 pages (at the store's level) {:.2}:1 (dictionaries counted in) at {:.0} MB/s",
        bytes as f64 / plain_total as f64,
        bytes as f64 / 1e6 / plain_cpu.max(1e-9),
        bytes as f64 / dict_bytes.max(1) as f64,
        bytes as f64 / 1e6 / dict_cpu.max(1e-9)
    );
}

/// Context switches of every thread of this process so far (voluntary and not).
fn context_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .map(|task| {
            std::fs::read_to_string(task.path().join("status"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// `n` pages (the crawled ones, cycled under distinct URLs and bodies) with their extractions.
fn prepare_pages(
    captures: &[Capture],
    n: usize,
    definitions: &[Market],
) -> Vec<(Capture, dnmscope_model::Extraction)> {
    let pseudonyms = PseudonymKey::from_bytes([3; 32]);
    (0..n)
        .map(|i| {
            let mut capture = captures[i % captures.len()].clone();
            if i >= captures.len() {
                capture.url = format!("{}?copy={}", capture.url, i / captures.len());
                capture
                    .body
                    .extend_from_slice(format!("<!-- {i} -->").as_bytes());
                capture.fetched_at += chrono::Duration::days((i / captures.len()) as i64);
            }
            let definition = definitions
                .iter()
                .find(|d| d.name == capture.market.as_str());
            let text = String::from_utf8_lossy(&capture.body);
            let page =
                dnmscope_parse::parse_page(&text, definition, dnmscope_parse::Limits::default());
            let extraction = dnmscope_parse::to_extraction(
                &page,
                &PageContext {
                    market: &capture.market,
                    url: &capture.url,
                    captured_at: capture.fetched_at,
                    pseudonyms: &pseudonyms,
                },
            );
            (capture, extraction)
        })
        .collect()
}

/// The store's write path against Python's `executemany` writing the same rows into the same
/// schema (benches/executemany.py, run by DNMSCOPE_PYTHON or python3): `n` parsed pages are
/// ingested page by page (one transaction each, as a crawl does) into a new SQLite store whose
/// captures were stored beforehand, untimed; then the peer inserts every row that ingest wrote.
/// Rows per CPU-second of the writing process, and context switches per page.
fn store_writes(
    runtime: &tokio::runtime::Runtime,
    world: &World,
    addr: SocketAddr,
    pages: u64,
    rounds: usize,
    n: usize,
) {
    let (_, _, captures, _) =
        runtime.block_on(run(world, addr, pages, 1_000_000, 0, None, true, true));
    let definitions = dnmscope_parse::builtin_markets().expect("definitions");
    let prepared = prepare_pages(&captures, n, &definitions);
    let python = std::env::var("DNMSCOPE_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = manifest.join("benches/executemany.py");
    let migrations = manifest.join("../../migrations/sqlite");
    let batch: usize = env("DNMSCOPE_BENCH_WRITES_BATCH", "1")
        .parse()
        .expect("pages per transaction");
    println!("store writes: {n} parsed pages ingested {batch} page(s) per transaction (SQLite), against Python's executemany of the same rows ({rounds} rounds, medians):");
    let (mut ours, mut peers, mut switches, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("writes.sqlite");
        let (cpu, ctx) = runtime.block_on(async {
            let (store, run) = new_store(world, path.clone(), "writes", |_| {}).await;
            let mut ids = Vec::with_capacity(prepared.len());
            for (capture, _) in &prepared {
                let mut capture = capture.clone();
                capture.crawl = run;
                ids.push(store.store_capture(&capture).await.expect("storing").id);
            }
            let (cpu_before, ctx_before) = (cpu_seconds(), context_switches());
            if batch <= 1 {
                for (id, (_, extraction)) in ids.iter().zip(&prepared) {
                    // Interstitial pages yield nothing; the store refuses what they must not hold.
                    let _ = store.ingest_extraction(*id, extraction).await;
                }
            } else {
                let items: Vec<(i64, &dnmscope_model::Extraction)> = ids
                    .iter()
                    .zip(&prepared)
                    .map(|(id, (_, e))| (*id, e))
                    .collect();
                for chunk in items.chunks(batch) {
                    store.ingest_extractions(chunk).await.expect("ingesting");
                }
            }
            let took = (cpu_seconds() - cpu_before, context_switches() - ctx_before);
            store.close().await;
            took
        });
        let out = Command::new(&python)
            .arg(&script)
            .arg(&path)
            .arg(&migrations)
            .output()
            .expect("running the Python peer");
        assert!(
            out.status.success(),
            "the Python peer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let peer: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("the peer's JSON line");
        let rows = peer["rows"].as_f64().expect("rows");
        let peer_rate = rows / peer["cpu_s"].as_f64().expect("cpu");
        let our_rate = rows / cpu.max(1e-9);
        ours.push(our_rate);
        peers.push(peer_rate);
        switches.push(ctx as f64 / n as f64);
        ratios.push(our_rate / peer_rate);
        println!(
            "  round: {rows} rows; dnmscope {our_rate:.0} rows per CPU-second ({cpu:.2} s), {:.1} context switches per page; executemany {peer_rate:.0} rows per CPU-second",
            ctx as f64 / n as f64
        );
    }
    println!(
        "  median: dnmscope {:.0} rows per CPU-second, executemany {:.0}: {:.2}x; {:.1} context switches per page",
        median(ours),
        median(peers),
        median(ratios),
        median(switches)
    );
}

/// Stores, parses and ingests `n` pages (the crawled ones, cycled under distinct URLs) into a
/// new SQLite store, as an import of saved pages does. Pages stored, and their bytes.
async fn import(
    world: &World,
    captures: &[Capture],
    n: usize,
    definitions: &[Market],
    key: Option<RawKey>,
) -> (usize, usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (store, run) = new_store(
        world,
        dir.path().join("import.sqlite"),
        "import",
        |options| {
            options.raw_key = key;
        },
    )
    .await;
    let pseudonyms = PseudonymKey::from_bytes([3; 32]);
    let mut bytes = 0;
    for i in 0..n {
        let mut capture = captures[i % captures.len()].clone();
        capture.crawl = run;
        if i >= captures.len() {
            capture.url = format!("{}?copy={}", capture.url, i / captures.len());
            // A distinct page, so the body is stored (and sealed) again.
            capture
                .body
                .extend_from_slice(format!("<!-- {i} -->").as_bytes());
        }
        bytes += capture.body.len();
        let definition = definitions
            .iter()
            .find(|d| d.name == capture.market.as_str());
        let text = String::from_utf8_lossy(&capture.body);
        let page = dnmscope_parse::parse_page(&text, definition, dnmscope_parse::Limits::default());
        let extraction = dnmscope_parse::to_extraction(
            &page,
            &PageContext {
                market: &capture.market,
                url: &capture.url,
                captured_at: capture.fetched_at,
                pseudonyms: &pseudonyms,
            },
        );
        let stored = store.store_capture(&capture).await.expect("storing");
        // Interstitial pages yield nothing; the store refuses what it must not hold.
        let _ = store.ingest_extraction(stored.id, &extraction).await;
    }
    store.close().await;
    (n, bytes)
}

#[allow(clippy::too_many_arguments)]
async fn run(
    world: &World,
    addr: SocketAddr,
    pages: u64,
    rate: u32,
    median_ms: u64,
    key: Option<RawKey>,
    collect: bool,
    keep_alive: bool,
) -> (u64, Duration, Vec<Capture>, ConnectionStats) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut options = StoreOptions::new(Location::SqliteFile(dir.path().join("bench.sqlite")));
    options.create = true;
    options.raw_key = key;
    options.raw_dictionaries = env("DNMSCOPE_BENCH_DICTIONARIES", "1") == "1";
    let store = Store::open(&options).await.expect("the store");
    let mut plans = Vec::new();
    let mut specs = Vec::new();
    for market in &world.markets {
        let ctx = Ctx {
            world,
            market,
            day: DAY,
            layout: 1,
        };
        let base = format!("http://{}:{}", market.hosts[0], addr.port());
        let name = MarketName::new(&market.slug).expect("a name");
        plans.push(MarketPlan {
            name: name.clone(),
            definition: Arc::new(
                dnmscope_parse::builtin_markets()
                    .expect("definitions")
                    .into_iter()
                    .find(|d| d.name == market.slug)
                    .expect("a definition"),
            ),
            hosts: market.hosts.clone(),
            seeds: [Page::Home, Page::CategoryIndex, Page::Forum { page: 1 }]
                .iter()
                .map(|p| format!("{base}{}", ctx.url(p)))
                .collect(),
            max_pages: Some(pages),
            max_depth: 50,
            session_params: Vec::new(),
        });
        specs.push(MarketSpec {
            name,
            hosts: market.hosts.clone(),
            politeness: Politeness {
                requests_per_minute: rate,
                jitter: Duration::from_millis(100),
                max_concurrent: 4,
                ban_pause: Duration::from_secs(30),
                max_slowdown: Duration::from_secs(30),
            },
        });
    }
    let transport = Latency {
        inner: LoopbackTransport::new(
            world
                .markets
                .iter()
                .flat_map(|m| m.hosts.iter().map(move |h| (h.clone(), addr))),
        )
        .expect("loopback"),
        median: Duration::from_millis(median_ms),
        rng: Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(median_ms)),
    };
    let fetcher = Fetcher::new(
        Arc::new(transport),
        Arc::new(TokioClock::new()),
        Limits {
            max_idle_connections: if keep_alive { 8 } else { 0 },
            ..Limits::default()
        },
        specs,
        CrawlId(0),
    );
    let config = CrawlConfig {
        markets: plans,
        concurrency: 16,
        max_attempts: 3,
        retry_delay: Duration::from_secs(1),
        ban_pause: Duration::from_secs(30),
        login_pause: Duration::from_secs(30),
        unreachable_after: 5,
        pseudonyms: PseudonymKey::from_bytes([3; 32]),
        parse_limits: dnmscope_parse::Limits::default(),
    };
    let started = Instant::now();
    let source = FetchSource::new(fetcher, None);
    let outcome = crawl(&store, &source, &config, &Stop::new())
        .await
        .expect("the crawl");
    let took = started.elapsed();
    let connections = source.fetcher().connection_stats();
    let fetched = outcome.accounting.values().map(|a| a.fetched).sum();
    let mut captures = Vec::new();
    let ids = if collect {
        store.capture_ids(None).await.expect("capture ids")
    } else {
        Vec::new()
    };
    for id in ids {
        captures.push(store.capture(id).await.expect("a capture"));
    }
    store.close().await;
    (fetched, took, captures, connections)
}

/// The child: serves the world on loopback and prints its address.
fn serve() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let server = SimServer::start(
            Arc::new(world()),
            ServerConfig::open(DAY),
            "127.0.0.1:0".parse().expect("an address"),
        )
        .await
        .expect("serving");
        println!("{}", server.addr());
        server.wait().await.expect("serving");
    });
}
