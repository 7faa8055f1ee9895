//! Research data protection, end to end: the simulator (whose world knows every buyer handle it
//! rendered, masked in feedback rows and plain as forum authors) is crawled, and every one of
//! those handles is searched for, byte for byte, in everything dnmscope writes: the SQLite file
//! and its write-ahead log, a PostgreSQL dump, every export format, the default WARC and the
//! report. The only hits allowed are inside encrypted raw bodies (the test shows they are
//! ciphertext and that they do hold the handles) and in a `--raw` WARC. Converting an
//! unencrypted store (`db encrypt-raw`, killed with SIGKILL half-way and run again) and purging
//! raw pages (`db purge-raw`) run on both backends.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use aho_corasick::AhoCorasick;
use dnmscope_sim::PostAuthor;
use dnmscope_store::{Location, RawKey, Store, StoreOptions};
use sqlx::Connection;

use crate::cli::{dnmscope, stderr, stdout, tool_missing};
use crate::crawl::{crawl_command, migrated, raw_key_beside, wait_with_deadline, Markets};

const SEED: u64 = 14;

/// A masked buyer on a page nested past the parser's depth limit.
const DEEP_BUYER: &str = "zq***9";

/// The people the simulated world shows: masked feedback buyers and forum authors who are not
/// vendors (buyers), by the world's own records, not by dnmscope's rules.
fn people(markets: &Markets) -> Vec<String> {
    let world = &markets.world;
    let mut people = BTreeSet::new();
    for f in &world.feedback {
        let handle = &world.buyers[f.buyer as usize].handle;
        let first = handle.chars().next().unwrap();
        let last = handle.chars().last().unwrap();
        people.insert(format!("{first}***{last}"));
    }
    for p in &world.posts {
        if let PostAuthor::Buyer(b) = p.author {
            people.insert(world.buyers[b as usize].handle.clone());
        }
    }
    people.into_iter().collect()
}

/// Counts occurrences of any of the people in some bytes.
struct Search {
    automaton: AhoCorasick,
}

impl Search {
    fn new(people: &[String]) -> Search {
        Search {
            automaton: AhoCorasick::new(people).unwrap(),
        }
    }

    fn hits(&self, bytes: &[u8]) -> usize {
        self.automaton.find_overlapping_iter(bytes).count()
    }

    /// Hits per file under `path` (a file or a directory, recursively).
    fn files(&self, path: &Path) -> Vec<(PathBuf, usize)> {
        let mut out = Vec::new();
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            for entry in entries {
                out.extend(self.files(&entry));
            }
        } else if path.exists() {
            out.push((path.to_owned(), self.hits(&std::fs::read(path).unwrap())));
        }
        out
    }

    fn total(&self, path: &Path) -> usize {
        self.files(path).iter().map(|(_, n)| n).sum()
    }

    fn assert_none(&self, path: &Path, what: &str) {
        let found: Vec<_> = self
            .files(path)
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        assert!(
            found.is_empty(),
            "{what}: buyer or author handles found in {found:?}"
        );
    }
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let output = dnmscope(dir, args);
    assert!(
        output.status.success(),
        "dnmscope {args:?}: {}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// `dnmscope --config CONFIG --db DB ARGS...` in `dir`, which must succeed: its stdout.
fn on_store(dir: &Path, config: &str, db: &str, args: &[&str]) -> String {
    run_ok(dir, &[&["--config", config, "--db", db][..], args].concat())
}

/// Crawls the simulated markets into `db` (a SQLite file in `dir`, or a PostgreSQL URL).
fn crawl(markets: &Markets, dir: &Path, db: &str, extra_config: &str) -> String {
    let config = markets.config(dir, &[0, 1, 2], "max_pages = 150");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n{extra_config}\n")).unwrap();
    if !db.starts_with("postgres") {
        migrated_with(dir, &config, db);
    } else {
        run_ok(dir, &["--config", &config, "--db", db, "db", "migrate"]);
    }
    let mut command = crawl_command(dir, &config, db, "none");
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    config
}

fn migrated_with(dir: &Path, config: &str, db: &str) {
    if !dir.join(db).exists() {
        run_ok(dir, &["--config", config, "--db", db, "db", "migrate"]);
    }
    migrated(dir, db);
}

#[test]
fn no_buyer_or_author_leaves_a_new_store_but_as_ciphertext_or_in_a_raw_warc() {
    let markets = Markets::start(
        SEED,
        24,
        dnmscope_sim::ServerConfig::open(crate::crawl::DAY),
    );
    let people = people(&markets);
    assert!(people.len() > 100, "{} people", people.len());
    let search = Search::new(&people);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = crawl(&markets, dir, "store.sqlite", "");
    let db = dir.join("store.sqlite");
    let key = raw_key_beside(&db).expect("the crawl made a raw-body key");
    let key_mode = std::fs::metadata(dir.join("data/raw.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key_mode.permissions()) & 0o777,
        0o600
    );

    // The store's files: no handle at all.
    for file in ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm"] {
        search.assert_none(&dir.join(file), "the SQLite store");
    }
    // The bodies are ciphertext, and they do hold the people (so the search can find them).
    let (in_bodies, encrypted, total) = sqlite_bodies(&db, &key, &search);
    assert_eq!(encrypted, total, "every body is encrypted");
    assert!(in_bodies > 100, "the pages showed {in_bodies} handles");
    let stats = on_store(dir, &config, "store.sqlite", &["db", "stats"]);
    assert!(
        stats.contains(key.id()) && stats.contains("encrypted"),
        "{stats}"
    );

    // Every export format, the report, the default WARC: nothing.
    for format in ["csv", "jsonl", "parquet"] {
        let out = format!("export-{format}");
        on_store(
            dir,
            &config,
            "store.sqlite",
            &["export", "--format", format, "--out", &out],
        );
        search.assert_none(&dir.join(&out), &format!("the {format} export"));
    }
    parquet_as_text(dir, &search);
    on_store(dir, &config, "store.sqlite", &["report", "--out", "report"]);
    search.assert_none(&dir.join("report"), "the report");
    let said = on_store(
        dir,
        &config,
        "store.sqlite",
        &["export", "warc", "--out", "shared.warc"],
    );
    search.assert_none(&dir.join("shared.warc"), "the default WARC");
    let shared = std::fs::read(dir.join("shared.warc")).unwrap();
    let shared_text = String::from_utf8_lossy(&shared);
    assert!(
        shared_text.contains("dnmscope-redaction: redacted"),
        "the warcinfo says it is redacted"
    );
    assert!(shared_text.contains("[buyer]"), "buyers were replaced");
    assert!(
        shared_text.contains(">p:"),
        "authors were replaced by pseudonyms: {said}"
    );
    // Vendors stay: they are public sellers, and the tables keep them.
    let vendor = &markets.world.vendors[0].handle;
    assert!(
        shared_text.contains(vendor.as_str()),
        "vendor {vendor} was redacted too"
    );
    assert!(!said.contains("left out"), "pages were withheld: {said}");

    // With --raw: the people are there, and the file says so.
    let said = on_store(
        dir,
        &config,
        "store.sqlite",
        &["export", "warc", "--raw", "--out", "raw.warc"],
    );
    let raw_hits = search.total(&dir.join("raw.warc"));
    assert!(raw_hits > 100, "{raw_hits}");
    let raw = String::from_utf8_lossy(&std::fs::read(dir.join("raw.warc")).unwrap()).into_owned();
    assert!(
        raw.contains("dnmscope-redaction: none"),
        "the raw WARC says it is not redacted"
    );
    assert!(said.contains("do not share"), "{said}");
    println!(
        "privacy (new store): {} people; in the decrypted bodies {in_bodies}, in the raw WARC {raw_hits}; \
         in the SQLite file, exports, report and default WARC 0",
        people.len()
    );

    // Without the key: everything but raw bodies, and a clear error for them.
    std::fs::rename(dir.join("data/raw.key"), dir.join("elsewhere.key")).unwrap();
    on_store(
        dir,
        &config,
        "store.sqlite",
        &["report", "--out", "report-2"],
    );
    let output = dnmscope(
        dir,
        &[
            &["--config", &config, "--db", "store.sqlite"][..],
            &["export", "warc", "--out", "x.warc"],
        ]
        .concat(),
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains(key.id()) && stderr(&output).contains("raw_key_file"),
        "{}",
        stderr(&output)
    );
    assert!(
        !stderr(&output).contains(&key.to_hex()),
        "the key was printed"
    );
}

/// Decrypts every body of a SQLite store with `key`: handles found in the plaintexts, and how
/// many bodies are encrypted (ciphertext: no zstd frame in the clear, no page text) of how many.
fn sqlite_bodies(db: &Path, key: &RawKey, search: &Search) -> (usize, usize, usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let rows: Vec<(Option<String>, Option<String>, Vec<u8>)> =
            sqlx::query_as("SELECT encryption, key_id, data FROM blobs WHERE purge_id IS NULL")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        conn.close().await.unwrap();
        let total = rows.len();
        let mut encrypted = 0;
        for (encryption, key_id, data) in &rows {
            if encryption.as_deref() == Some("xchacha20poly1305") {
                assert_eq!(key_id.as_deref(), Some(key.id()));
                assert!(
                    zstd::bulk::decompress(data, 1 << 26).is_err(),
                    "a plain zstd frame"
                );
                assert_eq!(search.hits(data), 0);
                encrypted += 1;
            }
        }
        let mut options = StoreOptions::new(Location::SqliteFile(db.to_owned()));
        options.raw_key = Some(key.clone());
        let store = Store::open(&options).await.unwrap();
        let mut hits = 0;
        for id in store.capture_ids(None).await.unwrap() {
            if let Ok(capture) = store.capture(id).await {
                hits += search.hits(&capture.body);
            }
        }
        store.close().await;
        (hits, encrypted, total)
    })
}

/// The Parquet export is compressed: opened in pandas and written out as text, it is searched
/// too.
fn parquet_as_text(dir: &Path, search: &Search) {
    let Some(python) = crate::report::python() else {
        return;
    };
    let script = "import pathlib, sys, pandas\n\
        out = open(sys.argv[2], 'w')\n\
        for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.parquet')):\n    \
            out.write(pandas.read_parquet(p).to_csv())\n";
    let output = Command::new(python)
        .args(["-c", script])
        .arg(dir.join("export-parquet"))
        .arg(dir.join("parquet.txt"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(std::fs::metadata(dir.join("parquet.txt")).unwrap().len() > 1000);
    search.assert_none(&dir.join("parquet.txt"), "the Parquet export, as text");
}

/// Where a conversion test keeps its store.
enum Backend {
    Sqlite,
    Postgres { url: String, schema: String },
}

impl Backend {
    fn db(&self) -> String {
        match self {
            Backend::Sqlite => "store.sqlite".to_string(),
            Backend::Postgres { url, .. } => url.clone(),
        }
    }

    fn config(&self) -> String {
        match self {
            Backend::Sqlite => "[store]\n".to_string(),
            Backend::Postgres { schema, .. } => {
                format!("[store]\npostgres_schema = \"{schema}\"\n")
            }
        }
    }

    fn options(&self, dir: &Path, key: Option<RawKey>) -> StoreOptions {
        let mut options = match self {
            Backend::Sqlite => StoreOptions::new(Location::SqliteFile(dir.join("store.sqlite"))),
            Backend::Postgres { url, schema } => {
                let mut options = StoreOptions::new(Location::parse(url).unwrap());
                options.postgres_schema = Some(schema.clone());
                options
            }
        };
        options.raw_key = key;
        options.encrypt_new_stores = false;
        options
    }

    /// Hits in what anyone holding the database reads without the key: its files (or a dump),
    /// and the raw bodies that are plain zstd, decompressed.
    fn hits_at_rest(&self, dir: &Path, search: &Search) -> usize {
        self.hits_in_files(dir, search) + self.hits_in_plain_bodies(dir, search)
    }

    /// Handles anyone with zstd reads out of the store: in plain bodies (decompressed with
    /// their market's dictionary when they name one) and in plain dictionaries, which are made
    /// of page fragments (decompressed first when stored compressed).
    fn hits_in_plain_bodies(&self, dir: &Path, search: &Search) -> usize {
        type Rows = (
            Vec<(Vec<u8>, Option<Vec<u8>>, Option<String>)>,
            Vec<(Vec<u8>, Option<String>)>,
        );
        let bodies = "SELECT b.data, d.data, d.compression FROM blobs b
                      LEFT JOIN raw_dictionaries d ON d.id = b.dictionary_id AND d.encryption IS NULL
                      WHERE b.encryption IS NULL";
        let dictionaries =
            "SELECT data, compression FROM raw_dictionaries WHERE encryption IS NULL";
        let open = |data: &[u8], compression: &Option<String>| -> Vec<u8> {
            match compression.as_deref() {
                Some("zstd") => {
                    zstd::bulk::decompress(data, 1 << 26).expect("a compressed dictionary")
                }
                _ => data.to_vec(),
            }
        };
        let (bodies, dictionaries): Rows = block_on(async || match self {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.join("store.sqlite").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let rows = sqlx::query_as(bodies).fetch_all(&mut conn).await.unwrap();
                let dictionaries = sqlx::query_as(dictionaries)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                (rows, dictionaries)
            }
            Backend::Postgres { url, schema } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET search_path TO {schema}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let rows = sqlx::query_as(bodies).fetch_all(&mut conn).await.unwrap();
                let dictionaries = sqlx::query_as(dictionaries)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                (rows, dictionaries)
            }
        });
        let in_bodies: usize = bodies
            .iter()
            .filter_map(|(data, dictionary, compression)| match dictionary {
                Some(dictionary) => {
                    zstd::bulk::Decompressor::with_dictionary(&open(dictionary, compression))
                        .ok()?
                        .decompress(data, 1 << 26)
                        .ok()
                }
                None => zstd::bulk::decompress(data, 1 << 26).ok(),
            })
            .map(|body| search.hits(&body))
            .sum();
        in_bodies
            + dictionaries
                .iter()
                .map(|(d, compression)| search.hits(&open(d, compression)))
                .sum::<usize>()
    }

    fn hits_in_files(&self, dir: &Path, search: &Search) -> usize {
        match self {
            Backend::Sqlite => ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm"]
                .iter()
                .map(|f| search.total(&dir.join(f)))
                .sum(),
            Backend::Postgres { url, schema } => {
                let dump = dir.join("dump.sql");
                let output = Command::new("pg_dump")
                    .args([url.as_str(), "--schema", schema, "--file"])
                    .arg(&dump)
                    .output()
                    .expect("running pg_dump");
                assert!(output.status.success(), "pg_dump: {}", stderr(&output));
                search.total(&dump)
            }
        }
    }
}

fn block_on<T>(f: impl AsyncFnOnce() -> T) -> T {
    tokio::runtime::Runtime::new().unwrap().block_on(f())
}

fn conversion(backend: Backend) {
    let markets = Markets::start(
        SEED + 1,
        20,
        dnmscope_sim::ServerConfig::open(crate::crawl::DAY),
    );
    let search = Search::new(&people(&markets));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = backend.db();
    // A store from before encryption: raw bodies stored plain.
    let plain = format!("{}encrypt_raw = false\n", backend.config());
    let config = crawl(&markets, dir, &db, &plain);
    assert!(
        raw_key_beside(&dir.join("store.sqlite")).is_none(),
        "no key was made"
    );
    let before_at_rest = backend.hits_at_rest(dir, &search);
    assert!(
        before_at_rest > 50,
        "an unencrypted store shows the handles to anyone with zstd: {before_at_rest}"
    );
    on_store(
        dir,
        &config,
        &db,
        &["export", "warc", "--raw", "--out", "before.warc"],
    );
    let before_raw = search.total(&dir.join("before.warc"));
    assert!(before_raw > 50, "{before_raw}");
    // Enough bodies that the conversion, one body per transaction and a line each, fills the
    // output pipe the test does not read: it blocks there, half done, and is killed.
    let (crawl_bodies, listing_observations) = block_on(async || {
        let store = Store::open(&backend.options(dir, None)).await.unwrap();
        let stats = store.stats().await.unwrap();
        let market = dnmscope_model::MarketName::new(&markets.world.markets[0].slug).unwrap();
        let now = chrono::Utc::now();
        let run = store
            .begin_crawl(
                std::slice::from_ref(&market),
                &serde_json::json!({"filler": true}),
                now,
            )
            .await
            .unwrap();
        for n in 0..3000 {
            let capture = dnmscope_model::Capture {
                market: market.clone(),
                crawl: run,
                url: format!("http://{}/filler/{n}", markets.world.markets[0].hosts[0]),
                final_url: None,
                fetched_at: now,
                status: 200,
                headers: Vec::new(),
                body: if n == 0 {
                    // A buyer past the parser's depth limit: the rules cannot see them.
                    format!(
                        "<html>{}<table class=\"feedback\"><tr><td class=\"buyer\">{DEEP_BUYER} (3)</td></tr></table></html>",
                        "<div>".repeat(1000)
                    )
                } else {
                    format!("<html><p>filler page {n}</p></html>")
                }
                .into_bytes(),
                truncated: None,
                elapsed_ms: None,
            };
            store.store_capture(&capture).await.unwrap();
        }
        store
            .finish_crawl(run, dnmscope_model::FinishReason::Completed, now)
            .await
            .unwrap();
        store.close().await;
        (
            stats.raw.bodies_plain,
            stats.rows("listing_observations").unwrap(),
        )
    });
    let total = crawl_bodies + 3000;

    // Encryption on (the key is made now), and the conversion killed half-way.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("encrypt_raw = false", "encrypt_raw = true"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnmscope"))
        .args([
            "--config",
            &config,
            "--db",
            &db,
            "db",
            "encrypt-raw",
            "--batch",
            "1",
        ])
        .current_dir(dir)
        .env_remove("DNMSCOPE_DB")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("encrypting "), "{first}");
    let second = lines.next().unwrap().unwrap();
    assert!(second.starts_with("encrypted 1 of "), "{second}");
    let key = raw_key_beside(&dir.join("store.sqlite")).expect("encrypt-raw made a key");
    // Wait until it stands still on the full pipe, then SIGKILL.
    let mut last = 0;
    let mut still = 0;
    while still < 5 {
        std::thread::sleep(Duration::from_millis(100));
        let now = block_on(async || {
            let store = Store::open(&backend.options(dir, None)).await.unwrap();
            let n = store.stats().await.unwrap().raw.bodies_encrypted;
            store.close().await;
            n
        });
        still = if now == last { still + 1 } else { 0 };
        last = now;
        assert!(
            child.try_wait().unwrap().is_none(),
            "encrypt-raw finished before it was killed"
        );
    }
    child.kill().unwrap();
    let status = wait_with_deadline(&mut child, Duration::from_secs(30));
    assert!(!status.success());
    drop(lines);
    assert!(
        last > 0 && last < total,
        "killed half-way: {last} of {total} encrypted"
    );

    // Run again: it goes on, and nothing is lost.
    let said = on_store(dir, &config, &db, &["db", "encrypt-raw", "--batch", "64"]);
    assert!(
        said.contains(&format!("encrypting {} raw bodies", total - last)),
        "{said}"
    );
    let (stats, readable) = block_on(async || {
        let store = Store::open(&backend.options(dir, Some(key.clone())))
            .await
            .unwrap();
        let stats = store.stats().await.unwrap();
        let mut readable = 0;
        for id in store.capture_ids(None).await.unwrap() {
            store.capture(id).await.unwrap();
            readable += 1;
        }
        store.close().await;
        (stats, readable)
    });
    assert_eq!(
        (stats.raw.bodies_encrypted, stats.raw.bodies_plain),
        (total, 0)
    );
    assert_eq!(
        readable,
        stats.rows("captures").unwrap(),
        "every capture reads back, its hash checked"
    );
    assert_eq!(
        stats.rows("listing_observations"),
        Some(listing_observations)
    );
    let after_at_rest = backend.hits_at_rest(dir, &search);
    assert_eq!(
        after_at_rest, 0,
        "handles left in the store after encrypt-raw"
    );
    let said = on_store(
        dir,
        &config,
        &db,
        &["export", "warc", "--out", "after.warc"],
    );
    search.assert_none(&dir.join("after.warc"), "the default WARC after conversion");
    // The page too deep to read whole is left out, not shared with its buyer.
    assert!(
        said.contains("left out: 1 pages that could not be read whole"),
        "{said}"
    );
    let after = std::fs::read(dir.join("after.warc")).unwrap();
    assert_eq!(Search::new(&[DEEP_BUYER.to_string()]).hits(&after), 0);

    // Purge one market's raw pages: observations stay, the audit row says who and what.
    let market = &markets.world.markets[0].slug;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let purge = ["db", "purge-raw", "--before", &tomorrow, "--market", market];
    let said = on_store(dir, &config, &db, &purge);
    assert!(
        said.contains("purged") && said.contains("observations kept"),
        "{said}"
    );
    let stats_text = on_store(dir, &config, &db, &["db", "stats"]);
    assert!(
        stats_text.contains("in 1 purges") && stats_text.contains('@'),
        "{stats_text}"
    );
    let after = block_on(async || {
        let store = Store::open(&backend.options(dir, Some(key.clone())))
            .await
            .unwrap();
        let stats = store.stats().await.unwrap();
        store.close().await;
        stats
    });
    assert_eq!(
        after.rows("listing_observations"),
        Some(listing_observations)
    );
    assert_eq!(after.rows("raw_purges"), Some(1));
    assert!(after.raw.captures_purged >= 3000, "{:?}", after.raw);
    let said = on_store(
        dir,
        &config,
        &db,
        &["export", "warc", "--out", "purged.warc"],
    );
    assert!(
        said.contains(&format!(
            "not exported: {} captures whose raw page was purged",
            after.raw.captures_purged
        )),
        "{said}"
    );
    // Purging the same range again does nothing and records nothing.
    let said = on_store(dir, &config, &db, &purge);
    assert!(said.contains("nothing to purge"), "{said}");
    println!(
        "privacy (conversion, {}): handles at rest before {before_at_rest}, after 0; in the raw WARC {before_raw}; killed at {last} of {total} bodies encrypted",
        if matches!(backend, Backend::Sqlite) { "sqlite" } else { "postgres" }
    );
}

#[test]
fn an_unencrypted_sqlite_store_is_converted_through_a_kill_and_purged() {
    conversion(Backend::Sqlite);
}

#[test]
fn an_unencrypted_postgres_store_is_converted_through_a_kill_and_purged() {
    let Some(url) = std::env::var("DNMSCOPE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        tool_missing(
            "DNMSCOPE_TEST_POSTGRES_URL is not set: encrypt-raw and purge-raw were not run on PostgreSQL",
        );
        return;
    };
    if Command::new("pg_dump").arg("--version").output().is_err() {
        tool_missing("pg_dump is not installed: the PostgreSQL store could not be searched");
        return;
    }
    let schema = format!("dnmscope_privacy_{}", std::process::id());
    let result = std::panic::catch_unwind(|| {
        conversion(Backend::Postgres {
            url: url.clone(),
            schema: schema.clone(),
        })
    });
    let _ = Command::new("psql")
        .args([
            url.as_str(),
            "-qc",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        ])
        .output();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
