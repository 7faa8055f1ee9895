//! `dnmscope crawl` as a user runs it, against simulated markets served in this test process on
//! loopback (the loopback transport; nothing leaves 127.0.0.1): killed with SIGKILL at random
//! points and restarted until done, the store ends equal to an uninterrupted crawl's; Ctrl-C once
//! drains and stops, twice stops at once, and both resume; a market behind a login waits for a
//! human to import a session and then goes on.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnmscope_sim::view::Ctx;
use dnmscope_sim::{generate, Page, ServerConfig, SimServer, World, WorldConfig};
use dnmscope_store::{Location, Store, StoreOptions};
use rand::{Rng, SeedableRng};

use crate::cli::{dnmscope, stderr, stdout};

pub(crate) const DAY: u32 = 4;

/// Simulated markets served by this process (a runtime of their own).
pub(crate) struct Markets {
    pub(crate) runtime: tokio::runtime::Runtime,
    server: Option<SimServer>,
    pub(crate) world: Arc<World>,
}

impl Markets {
    pub(crate) fn start(seed: u64, vendors: u32, config: ServerConfig) -> Markets {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let world = Arc::new(
            generate(&WorldConfig {
                vendors,
                ..WorldConfig::small(seed)
            })
            .unwrap(),
        );
        let server = runtime
            .block_on(SimServer::start(
                world.clone(),
                config,
                "127.0.0.1:0".parse().unwrap(),
            ))
            .unwrap();
        Markets {
            runtime,
            server: Some(server),
            world,
        }
    }

    pub(crate) fn server(&self) -> &SimServer {
        self.server.as_ref().unwrap()
    }

    /// A configuration crawling `markets` (indices) over the loopback transport.
    pub(crate) fn config(&self, dir: &Path, markets: &[usize], extra: &str) -> String {
        let addr = self.server().addr();
        let mut text = format!(
            "[fetch]\ntransport = \"loopback\"\nloopback_addr = \"{addr}\"\ndata_dir = \"{}\"\n\
             max_attempts = 1\nbackoff_ms = 100\n\n[politeness]\nrequests_per_minute = 6000\n\
             jitter_ms = 0\nmax_concurrent = 4\n\n[crawl]\nconcurrency = 8\nretry_delay_secs = 1\n\
             ban_pause_secs = 1\nstatus_every_secs = 1\n{extra}\n",
            dir.join("data").display()
        );
        for &i in markets {
            let market = &self.world.markets[i];
            let ctx = Ctx {
                world: &self.world,
                market,
                day: DAY,
                layout: 1,
            };
            let seeds: Vec<String> = [Page::Home, Page::CategoryIndex, Page::Forum { page: 1 }]
                .iter()
                .map(|p| format!("\"http://{}{}\"", market.hosts[0], ctx.url(p)))
                .collect();
            let hosts: Vec<String> = market.hosts.iter().map(|h| format!("\"{h}\"")).collect();
            text.push_str(&format!(
                "\n[markets.{}]\nhosts = [{}]\nseeds = [{}]\n",
                market.slug,
                hosts.join(", "),
                seeds.join(", ")
            ));
        }
        let path = dir.join("dnmscope.toml");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for Markets {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.stop());
        }
    }
}

/// Lowers a test configuration's request rate (6000 a minute) to `per_minute`, so a run can be
/// caught mid-way.
fn slow_down(config: &str, per_minute: u32) {
    let text = std::fs::read_to_string(config).unwrap();
    assert!(text.contains("requests_per_minute = 6000"), "{text}");
    std::fs::write(
        config,
        text.replace(
            "requests_per_minute = 6000",
            &format!("requests_per_minute = {per_minute}"),
        ),
    )
    .unwrap();
}

/// Creates the store `db` in `dir` if it is not there (`crawl` never creates one).
pub(crate) fn migrated(dir: &Path, db: &str) {
    // A PostgreSQL store is migrated by its test, with its own schema.
    if !db.starts_with("postgres") && !dir.join(db).exists() {
        let output = dnmscope(dir, &["--db", db, "db", "migrate"]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
}

pub(crate) fn crawl_command(dir: &Path, config: &str, db: &str, progress: &str) -> Command {
    migrated(dir, db);
    let mut command = Command::new(env!("CARGO_BIN_EXE_dnmscope"));
    command
        .args([
            "--config",
            config,
            "--db",
            db,
            "crawl",
            "--progress",
            progress,
        ])
        .current_dir(dir)
        .env_remove("DNMSCOPE_DB")
        .env_remove("DNMSCOPE_CONFIG")
        .env_remove("RUST_LOG");
    command
}

/// What a store holds: rows per table, and how many times each URL was captured. (Bodies differ
/// between two crawls of the same simulated day: pages carry per-visit tokens.)
#[derive(Debug, PartialEq)]
struct Contents {
    rows: BTreeMap<String, i64>,
    pages: BTreeMap<String, usize>,
}

/// Asserts two stores hold the same, naming the differences.
fn assert_same(got: &Contents, expected: &Contents) {
    assert_eq!(got.rows, expected.rows, "rows per table");
    let missing: Vec<&String> = expected
        .pages
        .keys()
        .filter(|u| !got.pages.contains_key(*u))
        .collect();
    let extra: Vec<&String> = got
        .pages
        .keys()
        .filter(|u| !expected.pages.contains_key(*u))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "pages missing: {missing:?}; pages extra: {extra:?}"
    );
    let twice: Vec<(&String, &usize)> = got.pages.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "pages stored more than once: {twice:?}");
}

/// The raw-body key a test's binary made beside the store at `path` (in the test
/// configuration's `data`, or the default `dnmscope-data`), if any.
pub(crate) fn raw_key_beside(path: &Path) -> Option<dnmscope_store::RawKey> {
    let dir = path.parent()?;
    ["data/raw.key", "dnmscope-data/raw.key"]
        .iter()
        .find_map(|name| std::fs::read_to_string(dir.join(name)).ok())
        .map(|text| dnmscope_store::RawKey::from_hex(&text).unwrap())
}

/// Opens the SQLite store at `path` (with the raw-body key beside it), reads it with `read`,
/// and closes it.
pub(crate) fn with_store<T>(path: &Path, read: impl AsyncFnOnce(&Store) -> T) -> T {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut options = StoreOptions::new(Location::SqliteFile(path.to_owned()));
        options.raw_key = raw_key_beside(path);
        let store = Store::open(&options).await.unwrap();
        let out = read(&store).await;
        store.close().await;
        out
    })
}

fn contents(path: &Path) -> Contents {
    with_store(path, async |store| {
        let stats = store.stats().await.unwrap();
        let rows = stats
            .tables
            .iter()
            .filter(|t| {
                !["frontier", "crawl_accounting", "crawls", "blobs"].contains(&t.table.as_str())
            })
            .map(|t| (t.table.clone(), t.rows))
            .collect();
        let mut pages: BTreeMap<String, usize> = BTreeMap::new();
        for id in store.capture_ids(None).await.unwrap() {
            let capture = store.capture(id).await.unwrap();
            *pages.entry(capture.url.clone()).or_default() += 1;
        }
        Contents { rows, pages }
    })
}

/// Whether the store's one run is finished.
fn run_finished(path: &Path) -> bool {
    if !path.exists() {
        return false;
    }
    with_store(path, async |store| {
        let stats = store.stats().await.unwrap();
        stats.crawls.iter().any(|c| c.finished_at.is_some())
    })
}

/// The completeness accounting of a store's one run, per market: the figures the store can
/// vouch for (what only a process saw, failed attempts and gates, is left out).
fn vouched_accounting(path: &Path) -> BTreeMap<String, serde_json::Value> {
    with_store(path, async |store| {
        let stats = store.stats().await.unwrap();
        assert_eq!(stats.crawls.len(), 1, "one run in {}", path.display());
        let crawl = dnmscope_model::CrawlId(stats.crawls[0].id);
        let mut out = BTreeMap::new();
        for (market, mut data) in store.accounting(crawl).await.unwrap() {
            let gates = [
                "captcha",
                "login",
                "banned",
                "redirect",
                "error",
                "not_found",
                "unknown",
            ];
            if let Some(parsed) = data["parsed"].as_object_mut() {
                parsed.retain(|kind, _| !gates.contains(&kind.as_str()));
            }
            let keep = [
                "fetched",
                "given_up",
                "refused",
                "parsed",
                "listings_announced",
                "listings_fetched",
            ];
            let vouched: serde_json::Map<String, serde_json::Value> = keep
                .iter()
                .map(|k| (k.to_string(), data[*k].clone()))
                .collect();
            out.insert(market, serde_json::Value::Object(vouched));
        }
        out
    })
}

pub(crate) fn wait_with_deadline(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dnmscope crawl did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} failed");
}

/// Reads `child`'s stderr until a line contains `needle`; the rest is drained in the background
/// (so the child never blocks on a full pipe) and returned by the handle.
fn wait_for_line(child: &mut Child, needle: &str) -> (String, std::thread::JoinHandle<String>) {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(needle) {
            break;
        }
    }
    let rest = std::thread::spawn(move || {
        lines
            .map_while(Result::ok)
            .fold(String::new(), |acc, l| acc + &l + "\n")
    });
    (seen, rest)
}

#[test]
fn a_crawl_killed_at_random_points_ends_equal_to_an_uninterrupted_one() {
    let markets = Markets::start(41, 24, ServerConfig::open(DAY));
    let dir = tempfile::tempdir().unwrap();
    let config = markets.config(dir.path(), &[0, 1, 2], "");

    // The reference: one uninterrupted run.
    let started = Instant::now();
    let reference = crawl_command(dir.path(), &config, "reference.sqlite", "none")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        reference.status.success(),
        "{}\n{}",
        stdout(&reference),
        stderr(&reference)
    );
    assert!(
        stdout(&reference).contains("completed"),
        "{}",
        stdout(&reference)
    );
    let requests_once = markets.server().requests().len();
    assert_polite(&markets.server().requests(), 6000);
    let expected = contents(&dir.path().join("reference.sqlite"));
    assert!(
        expected.rows["listing_observations"] > 0,
        "{:?}",
        expected.rows
    );

    // The same crawl, killed (SIGKILL) at random moments and restarted each time.
    let seed: u64 = rand::random();
    println!("kill points drawn with seed {seed}; the uninterrupted crawl took {took:?}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut kills = 0;
    let mut finished = false;
    for _ in 0..20 {
        let mut child = crawl_command(dir.path(), &config, "killed.sqlite", "none")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let at = took.mul_f64(rng.gen_range(0.02..0.35));
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_some() {
            finished = true;
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        // Killed after the run was finished in the store but before the process exited: the
        // crawl is done (another `crawl` would start a new run).
        if run_finished(&dir.path().join("killed.sqlite")) {
            finished = true;
            break;
        }
    }
    assert!(
        kills >= 3,
        "only {kills} kills landed before the crawl ended"
    );
    if !finished {
        let last = crawl_command(dir.path(), &config, "killed.sqlite", "none")
            .output()
            .unwrap();
        assert!(
            last.status.success(),
            "{}\n{}",
            stdout(&last),
            stderr(&last)
        );
        assert!(stdout(&last).contains("(resumed)"), "{}", stdout(&last));
    }
    let got = contents(&dir.path().join("killed.sqlite"));
    println!("{kills} kills; {} pages", got.pages.len());
    assert_same(&got, &expected);
    // The completeness accounting the reports rest on agrees too (it used to show a market
    // with 0 pages fetched, another with 305 % coverage, after kills).
    assert_eq!(
        vouched_accounting(&dir.path().join("killed.sqlite")),
        vouched_accounting(&dir.path().join("reference.sqlite")),
        "the accounting of the killed run differs from the uninterrupted run's"
    );
    // A restarted run asks again only for pages that were in flight at a kill.
    let again = markets.server().requests().len() - requests_once;
    assert!(
        again <= requests_once + kills * 8,
        "{again} requests for a crawl of {requests_once}"
    );
    assert!(markets.server().violations().is_empty());
}

#[test]
fn ctrl_c_once_drains_twice_stops_at_once_and_both_resume() {
    let markets = Markets::start(43, 12, ServerConfig::open(DAY));
    let dir = tempfile::tempdir().unwrap();
    // Slow enough to be caught mid-run.
    let config = markets.config(dir.path(), &[0, 1], "");
    slow_down(&config, 300);

    // Once: the pages in flight finish, the run stops and says how to resume it.
    let mut child = crawl_command(dir.path(), &config, "c.sqlite", "lines")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (seen, rest) = wait_for_line(&mut child, "fetched ");
    signal(&child, "INT");
    let status = wait_with_deadline(&mut child, Duration::from_secs(60));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let err = seen + &rest.join().unwrap();
    assert_eq!(status.code(), Some(130), "{out}\n{err}");
    assert!(err.contains("stopping after the pages in flight"), "{err}");
    assert!(out.contains("stopped after"), "{out}");
    assert!(
        out.contains("run `dnmscope crawl` again to resume it"),
        "{out}"
    );

    // Twice: stops at once, still resumable.
    let mut child = crawl_command(dir.path(), &config, "c.sqlite", "lines")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (seen, rest) = wait_for_line(&mut child, "fetched ");
    signal(&child, "INT");
    std::thread::sleep(Duration::from_millis(50));
    signal(&child, "INT");
    let status = wait_with_deadline(&mut child, Duration::from_secs(30));
    let err = seen + &rest.join().unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("stopping now"), "{err}");

    // The rest of the run, resumed, and a reference crawl of the same markets.
    let last = crawl_command(dir.path(), &config, "c.sqlite", "none")
        .output()
        .unwrap();
    assert!(
        last.status.success(),
        "{}\n{}",
        stdout(&last),
        stderr(&last)
    );
    assert!(stdout(&last).contains("(resumed)"), "{}", stdout(&last));
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("requests_per_minute = 300", "requests_per_minute = 6000"),
    )
    .unwrap();
    migrated(dir.path(), "r.sqlite");
    let reference = dnmscope(
        dir.path(),
        &[
            "--config",
            &config,
            "--db",
            "r.sqlite",
            "crawl",
            "--progress",
            "none",
        ],
    );
    assert!(reference.status.success(), "{}", stderr(&reference));
    let got = contents(&dir.path().join("c.sqlite"));
    let expected = contents(&dir.path().join("r.sqlite"));
    assert_same(&got, &expected);
}

/// No market received more than its rate in any 1-second or 60-second window (the simulator's
/// request log, by its clock).
fn assert_polite(requests: &[dnmscope_sim::RequestRecord], per_minute: u64) {
    let mut by_market: BTreeMap<Option<u32>, Vec<u64>> = BTreeMap::new();
    for r in requests {
        by_market.entry(r.market).or_default().push(r.at_ms);
    }
    for (market, mut times) in by_market {
        times.sort_unstable();
        for (window_ms, allowed) in [(1000, per_minute.div_ceil(60)), (60_000, per_minute)] {
            let mut start = 0;
            for end in 0..times.len() {
                while times[end] - times[start] >= window_ms {
                    start += 1;
                }
                let n = (end - start + 1) as u64;
                assert!(
                    n <= allowed,
                    "market {market:?}: {n} requests within {window_ms} ms, allowed {allowed}"
                );
            }
        }
    }
}

/// Logs into market `index` as a human would in Tor Browser (solving the captcha) and returns
/// the session cookie's value.
fn log_in(markets: &Markets, index: usize) -> String {
    let world = &markets.world;
    let market = &world.markets[index];
    let addr = markets.server().addr();
    let host = &market.hosts[0];
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .resolve(host, addr)
        .build()
        .unwrap();
    let ctx = Ctx {
        world,
        market,
        day: DAY,
        layout: 1,
    };
    markets.runtime.block_on(async {
        let form = client
            .get(format!("http://{host}:{}/", addr.port()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let challenge = form
            .split("name=\"challenge\" value=\"")
            .nth(1)
            .unwrap_or_else(|| panic!("no login form: {form}"))
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let account = world
            .accounts
            .iter()
            .find(|a| a.market == market.id)
            .unwrap();
        let answer = world.captcha_answer(market.id, &challenge);
        let response = client
            .post(format!(
                "http://{host}:{}{}",
                addr.port(),
                ctx.url(&Page::Login)
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "username={}&password={}&challenge={challenge}&captcha={answer}",
                account.username, account.password
            ))
            .send()
            .await
            .unwrap();
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("sid="))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned()
    })
}

#[test]
fn a_market_behind_a_login_waits_for_an_imported_session_then_goes_on() {
    let markets = Markets::start(
        45,
        10,
        ServerConfig {
            day: dnmscope_sim::DaySchedule::Fixed(DAY),
            forced_logout_rate: 0.0,
            queue: None,
            rate_limit: None,
            ..ServerConfig::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let config = markets.config(
        dir.path(),
        &[0],
        "login_pause_secs = 1\nunreachable_after = 1000",
    );
    let market = markets.world.markets[0].slug.clone();

    let mut child = crawl_command(dir.path(), &config, "l.sqlite", "lines")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (seen, rest) = wait_for_line(&mut child, "needs a human");
    assert!(
        seen.contains(&format!("dnmscope session import --market {market}")),
        "{seen}"
    );

    // The human logs in, exports the cookie and imports it while the crawl waits.
    let sid = log_in(&markets, 0);
    let cookies = dir.path().join("cookies.txt");
    std::fs::write(
        &cookies,
        format!(
            "# Netscape HTTP Cookie File\n{}\tFALSE\t/\tFALSE\t0\tsid\t{sid}\n",
            markets.world.markets[0].hosts[0]
        ),
    )
    .unwrap();
    let import = dnmscope(
        dir.path(),
        &[
            "--config",
            &config,
            "session",
            "import",
            "--market",
            &market,
            cookies.to_str().unwrap(),
        ],
    );
    assert!(import.status.success(), "{}", stderr(&import));
    assert!(
        !stdout(&import).contains(&sid),
        "the session is never printed"
    );

    let status = wait_with_deadline(&mut child, Duration::from_secs(120));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let err = seen + &rest.join().unwrap();
    assert!(status.success(), "{out}\n{err}");
    assert!(!err.contains(&sid), "the session is never logged");
    assert!(out.contains("completed"), "{out}");
    assert!(out.contains("[needs a human]"), "the run records it: {out}");

    // Everything reachable was crawled; no login page became an observation.
    let got = contents(&dir.path().join("l.sqlite"));
    let listings = dnmscope_sim::view::active_listings(&Ctx {
        world: &markets.world,
        market: &markets.world.markets[0],
        day: DAY,
        layout: 1,
    })
    .count();
    assert_eq!(got.rows["listings"] as usize, listings, "{:?}", got.rows);
    assert!(markets.server().violations().is_empty());
}

#[test]
fn every_takes_a_snapshot_per_interval_until_stopped() {
    let markets = Markets::start(47, 8, ServerConfig::open(DAY));
    let dir = tempfile::tempdir().unwrap();
    let config = markets.config(dir.path(), &[1], "");
    migrated(dir.path(), "e.sqlite");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnmscope"))
        .args([
            "--config",
            &config,
            "--db",
            "e.sqlite",
            "crawl",
            "--every",
            "2s",
            "--progress",
            "none",
        ])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let mut completed = 0;
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(": completed in") {
            completed += 1;
            if completed == 2 {
                break;
            }
        }
    }
    assert_eq!(completed, 2, "{seen}");
    assert!(seen.contains("crawl 1: completed"), "{seen}");
    assert!(seen.contains("crawl 2: completed"), "{seen}");
    assert!(seen.contains("next snapshot at"), "{seen}");
    // Stopped between snapshots: nothing is unfinished, so the exit is a success.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).count());
    signal(&child, "INT");
    let status = wait_with_deadline(&mut child, Duration::from_secs(60));
    rest.join().unwrap();
    assert!(
        status.code() == Some(0) || status.code() == Some(130),
        "{status:?}"
    );
    let crawls = with_store(&dir.path().join("e.sqlite"), async |store| {
        store.stats().await.unwrap().crawls
    });
    let finished = crawls.iter().filter(|c| c.finished_at.is_some()).count();
    assert!(finished >= 2, "{crawls:?}");
    // Each snapshot fetched the market's pages again (listing pages once per run).
    assert!(
        crawls[1].captures > 0 && crawls[0].captures == crawls[1].captures,
        "{crawls:?}"
    );
}

#[test]
fn a_second_crawl_on_a_sqlite_store_fails_at_once_naming_the_first() {
    let markets = Markets::start(47, 8, ServerConfig::open(DAY));
    let dir = tempfile::tempdir().unwrap();
    let config = markets.config(dir.path(), &[0], "");
    slow_down(&config, 120);
    let mut first = crawl_command(dir.path(), &config, "c.sqlite", "lines")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (seen, rest) = wait_for_line(&mut first, "fetched ");
    let second = crawl_command(dir.path(), &config, "c.sqlite", "none")
        .output()
        .unwrap();
    // At once: the second gave up while the first still runs (not after it ended).
    let first_still_running = first.try_wait().unwrap().is_none();
    signal(&first, "INT");
    wait_with_deadline(&mut first, Duration::from_secs(60));
    let _ = seen + &rest.join().unwrap();
    assert!(!second.status.success());
    let err = stderr(&second);
    assert!(
        err.contains("is in use by dnmscope crawl")
            && err.contains(&format!("process {}", first.id())),
        "{err}"
    );
    assert!(
        first_still_running,
        "the second crawl waited for the first to end"
    );
}
