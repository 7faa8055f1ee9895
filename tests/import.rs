//! `dnmscope import`: a simulator mirror (written by `dnmscope sim mirror`, as wget would have
//! saved the days) and its WARC import to exactly the observations a crawl of the same days
//! stored; an import killed at random points and run again ends equal to it; importing again adds
//! nothing; a WARC written by another tool (Python's warcio: gzip, chunked, revisit records)
//! imports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use dnmscope_sim::ServerConfig;
use dnmscope_store::{AnalyticsFilter, Location, Store, StoreOptions};
use rand::{Rng, SeedableRng};

use crate::cli::{dnmscope, stderr, stdout, tool_missing};
use crate::crawl::{crawl_command, migrated, raw_key_beside, wait_with_deadline, Markets, DAY};

const SEED: u64 = 53;
const VENDORS: u32 = 16;
/// The mirror's folders in the Darknet Market Archives layout (its WARC files are in
/// `mirror/warc`).
const MIRROR: &[&str] = &["mirror/cobalt", "mirror/nightshade", "mirror/tessera"];

/// Where an import goes.
#[derive(Clone)]
enum Backend {
    Sqlite,
    Postgres { url: String, schema: String },
}

impl Backend {
    /// The `--db` of a store named `name`, and the configuration that goes with it.
    fn db(&self, name: &str) -> String {
        match self {
            Backend::Sqlite => name.to_owned(),
            Backend::Postgres { url, .. } => url.clone(),
        }
    }

    fn config(&self, base: &str, dir: &Path, name: &str) -> String {
        match self {
            Backend::Sqlite => base.to_owned(),
            Backend::Postgres { schema, .. } => {
                let text = std::fs::read_to_string(base).unwrap();
                let path = dir.join(format!("{name}.toml"));
                std::fs::write(
                    &path,
                    format!("{text}\n[store]\npostgres_schema = \"{schema}_{name}\"\n"),
                )
                .unwrap();
                path.display().to_string()
            }
        }
    }

    fn options(&self, dir: &Path, name: &str) -> StoreOptions {
        match self {
            Backend::Sqlite => StoreOptions::new(Location::SqliteFile(dir.join(name))),
            Backend::Postgres { url, schema } => {
                let mut options = StoreOptions::new(Location::parse(url).unwrap());
                let name = name.trim_end_matches(".sqlite");
                options.postgres_schema = Some(format!("{schema}_{name}"));
                options
            }
        }
    }

    fn drop_schemas(&self, names: &[&str]) {
        if let Backend::Postgres { url, schema } = self {
            for name in names {
                let _ = Command::new("psql")
                    .args([
                        url.as_str(),
                        "-qc",
                        &format!("DROP SCHEMA IF EXISTS {schema}_{name} CASCADE"),
                    ])
                    .output();
            }
        }
    }
}

fn postgres() -> Option<Backend> {
    let url = std::env::var("DNMSCOPE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    Some(Backend::Postgres {
        url,
        schema: format!("dnmscope_import_{}", std::process::id()),
    })
}

/// The world file that makes `dnmscope sim mirror` build the world `Markets::start` serves.
fn world_file(dir: &Path) -> PathBuf {
    let path = dir.join("world.toml");
    std::fs::write(
        &path,
        format!("vendors = {VENDORS}\nlistings_per_vendor = 5.0\nthreads_per_market = 12\n"),
    )
    .unwrap();
    path
}

/// `dnmscope sim mirror` of the test world's `days` into `dir/mirror`.
fn sim_mirror(dir: &Path, days: &str, extra: &[&str]) {
    let world = world_file(dir);
    let seed = SEED.to_string();
    let mut args = vec![
        "sim",
        "mirror",
        "--seed",
        &seed,
        "--world",
        world.to_str().unwrap(),
        "--days",
        days,
        "--out",
        "mirror",
    ];
    args.extend(extra);
    let mirror = dnmscope(dir, &args);
    assert!(mirror.status.success(), "{}", stderr(&mirror));
}

fn import_command(dir: &Path, config: &str, db: &str, paths: &[&str], extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dnmscope"));
    command
        .args([
            "--config",
            config,
            "--db",
            db,
            "import",
            "--progress",
            "none",
        ])
        .args(extra)
        .args(paths)
        .current_dir(dir)
        .env_remove("DNMSCOPE_DB")
        .env_remove("DNMSCOPE_CONFIG")
        .env_remove("RUST_LOG");
    command
}

/// Imports and checks it succeeded; the summary printed.
fn import(dir: &Path, config: &str, db: &str, paths: &[&str], extra: &[&str]) -> String {
    let output = import_command(dir, config, db, paths, extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        !stderr(&output).contains("WARN"),
        "a normal import prints no warnings:\n{}",
        stderr(&output)
    );
    stdout(&output)
}

/// The observation rows of a store, without ids (ids depend on the order pages were stored) and
/// without the times pages were fetched at (capture metadata: the crawl's are the wall clock's,
/// an archive's are the server's date); dates read from the pages are kept: per table, one JSON
/// line per row, sorted.
fn observations(options: &StoreOptions) -> BTreeMap<&'static str, Vec<String>> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open(options).await.unwrap();
        let filter = AnalyticsFilter::default();
        let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for row in store.listing_observations(&filter).await.unwrap() {
            out.entry("listing_observations")
                .or_default()
                .push(serde_json::json!([row.market, row.vendor, row.listing]).to_string());
        }
        for row in store.vendor_observations(&filter).await.unwrap() {
            out.entry("vendor_observations")
                .or_default()
                .push(serde_json::json!([row.market, row.handle, row.vendor]).to_string());
        }
        for row in store.feedback_rows(&filter).await.unwrap() {
            out.entry("feedback").or_default().push(
                serde_json::json!([
                    row.market,
                    row.vendor,
                    row.rating,
                    row.text,
                    row.left_on,
                    row.item,
                    row.price_amount,
                    row.price_currency,
                    row.sightings
                ])
                .to_string(),
            );
        }
        for row in store.post_rows(&filter).await.unwrap() {
            out.entry("forum_posts").or_default().push(
                serde_json::json!([
                    row.market,
                    row.thread_title,
                    row.board,
                    row.author_kind,
                    row.author,
                    row.text
                ])
                .to_string(),
            );
        }
        for rows in out.values_mut() {
            rows.sort();
        }
        store.close().await;
        out
    })
}

/// Asserts two stores' observations are equal, showing the first rows that differ.
fn assert_same(
    what: &str,
    expected: &BTreeMap<&'static str, Vec<String>>,
    got: &BTreeMap<&'static str, Vec<String>>,
) {
    for table in [
        "listing_observations",
        "vendor_observations",
        "feedback",
        "forum_posts",
    ] {
        let (e, g) = (
            &expected[table],
            got.get(table).cloned().unwrap_or_default(),
        );
        if *e != g {
            let missing: Vec<&String> = e.iter().filter(|r| !g.contains(r)).take(3).collect();
            let extra: Vec<&String> = g.iter().filter(|r| !e.contains(r)).take(3).collect();
            panic!(
                "{what}: {table} differs ({} rows expected, {} got)\nmissing: {missing:#?}\nextra: {extra:#?}",
                e.len(),
                g.len()
            );
        }
    }
}

/// Captures in a store, and captures per (crawl, URL) more than once.
fn capture_counts(dir: &Path, options: &StoreOptions) -> (usize, usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut options = options.clone();
        options.raw_key = raw_key_beside(&dir.join("store"));
        let store = Store::open(&options).await.unwrap();
        let stats = store.stats().await.unwrap();
        let captures = stats
            .tables
            .iter()
            .find(|t| t.table == "captures")
            .map_or(0, |t| t.rows as usize);
        let mut seen = std::collections::HashSet::new();
        let mut twice = 0;
        for id in store.capture_ids(None).await.unwrap() {
            let capture = store.capture(id).await.unwrap();
            if !seen.insert((capture.crawl, capture.url)) {
                twice += 1;
            }
        }
        store.close().await;
        (captures, twice)
    })
}

/// The crawl of two simulated days, the mirror of the same days, and their imports.
fn crawl_and_mirror(dir: &Path) -> (Markets, String, BTreeMap<&'static str, Vec<String>>) {
    let markets = Markets::start(SEED, VENDORS, ServerConfig::open(DAY));
    let config = markets.config(dir, &[0, 1, 2], "");
    for day in [DAY, DAY + 1] {
        markets.server().set_day(day);
        let output = crawl_command(dir, &config, "crawled.sqlite", "none")
            .output()
            .unwrap();
        assert!(
            output.status.success() && stdout(&output).contains("completed"),
            "{}\n{}",
            stdout(&output),
            stderr(&output)
        );
    }
    assert!(markets.server().violations().is_empty());
    sim_mirror(dir, &format!("{DAY}..{}", DAY + 1), &[]);
    let crawled = observations(&StoreOptions::new(Location::SqliteFile(
        dir.join("crawled.sqlite"),
    )));
    for table in [
        "listing_observations",
        "vendor_observations",
        "feedback",
        "forum_posts",
    ] {
        assert!(
            crawled.get(table).is_some_and(|rows| !rows.is_empty()),
            "the crawl stored {table}"
        );
    }
    (markets, config, crawled)
}

fn mirror_equals_crawl(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_markets, base_config, crawled) = crawl_and_mirror(dir);

    // The mirror's folders, imported while being killed at random moments.
    let config = backend.config(&base_config, dir, "folders");
    let db = backend.db("folders.sqlite");
    migrated_store(dir, &config, &db);
    let seed: u64 = rand::random();
    println!("kill points drawn with seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut kills = 0;
    let mut finished = false;
    for _ in 0..30 {
        let mut child = import_command(dir, &config, &db, MIRROR, &["--threads", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.gen_range(50..1500)));
        if child.try_wait().unwrap().is_some() {
            let status = wait_with_deadline(&mut child, Duration::from_secs(60));
            assert!(status.success(), "an import between kills failed");
            finished = true;
            break;
        }
        child.kill().unwrap();
        let _ = child.wait();
        kills += 1;
    }
    assert!(kills > 0, "the import was never caught mid-way");
    if !finished {
        import(dir, &config, &db, MIRROR, &[]);
    }
    let options = backend.options(dir, "folders.sqlite");
    assert_same(
        "the mirror's folders (killed and resumed)",
        &crawled,
        &observations(&options),
    );
    let (captures, twice) = capture_counts(dir, &options);
    assert_eq!(twice, 0, "no page stored twice in a run");
    assert!(captures > 0);

    // Importing again adds nothing.
    let again = import(dir, &config, &db, MIRROR, &[]);
    assert!(again.contains("imported 0 of"), "{again}");
    assert_eq!(capture_counts(dir, &options).0, captures, "{again}");
    assert_same(
        "the mirror imported twice",
        &crawled,
        &observations(&options),
    );

    // The mirror's WARC files.
    let config = backend.config(&base_config, dir, "warc");
    let db = backend.db("warc.sqlite");
    migrated_store(dir, &config, &db);
    let summary = import(dir, &config, &db, &["mirror/warc"], &[]);
    assert!(summary.contains("WARC-Date"), "{summary}");
    assert_same(
        "the mirror's WARC files",
        &crawled,
        &observations(&backend.options(dir, "warc.sqlite")),
    );
    backend.drop_schemas(&["folders", "warc"]);
}

fn migrated_store(dir: &Path, config: &str, db: &str) {
    if db.starts_with("postgres") {
        let output = dnmscope(dir, &["--config", config, "--db", db, "db", "migrate"]);
        assert!(output.status.success(), "{}", stderr(&output));
    } else {
        migrated(dir, db);
    }
}

#[test]
fn a_mirror_imports_to_what_a_crawl_of_its_days_stored_on_sqlite() {
    mirror_equals_crawl(Backend::Sqlite);
}

#[test]
fn a_mirror_imports_to_what_a_crawl_of_its_days_stored_on_postgres() {
    let Some(backend) = postgres() else {
        tool_missing(
            "DNMSCOPE_TEST_POSTGRES_URL is not set: the import was not checked on PostgreSQL",
        );
        return;
    };
    let result = std::panic::catch_unwind(|| mirror_equals_crawl(backend.clone()));
    backend.drop_schemas(&["folders", "warc"]);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Rewrites the simulator's WARC of one market and day with Python's warcio: every other
/// response gzip-encoded and chunked, the others plain; a request record before each; an image
/// response; a metadata record; and, in a second file dated the next day, revisit records
/// (identical payload digest) of the first three plain listing responses.
const WARCIO_SCRIPT: &str = r#"
import base64, datetime, gzip, hashlib, io, sys
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

source, first, second = sys.argv[1], sys.argv[2], sys.argv[3]
pages = []
with open(source, 'rb') as f:
    for record in ArchiveIterator(f):
        if record.rec_type == 'response':
            date = record.rec_headers.get_header('WARC-Date')
            http_date = record.http_headers.get_header('Date')
            pages.append((record.rec_headers.get_header('WARC-Target-URI'), date, http_date,
                          record.content_stream().read()))

def chunked(data, size=1000):
    out = b''
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b'%x\r\n' % len(piece) + piece + b'\r\n'
    return out + b'0\r\n\r\n'

revisits = []
with open(first, 'wb') as out:
    writer = WARCWriter(out, gzip=True)
    writer.write_record(writer.create_warcinfo_record('first.warc.gz', {'software': 'warcio'}))
    for i, (uri, date, http_date, body) in enumerate(pages):
        request = StatusAndHeaders('GET / HTTP/1.1', [('Host', uri.split('/')[2])], is_http_request=True)
        writer.write_record(writer.create_warc_record(uri, 'request', http_headers=request,
                            warc_headers_dict={'WARC-Date': date}))
        if i % 2 == 0:
            payload = chunked(gzip.compress(body))
            headers = [('Content-Type', 'text/html; charset=utf-8'), ('Date', http_date),
                       ('Content-Encoding', 'gzip'), ('Transfer-Encoding', 'chunked')]
        else:
            payload = body
            headers = [('Content-Type', 'text/html; charset=utf-8'), ('Date', http_date),
                       ('Content-Length', str(len(body)))]
            if '?p=item' in uri and len(revisits) < 3:
                digest = 'sha1:' + base64.b32encode(hashlib.sha1(body).digest()).decode()
                revisits.append((uri, date, http_date, digest))
        http = StatusAndHeaders('200 OK', headers, protocol='HTTP/1.1')
        writer.write_record(writer.create_warc_record(uri, 'response', payload=io.BytesIO(payload),
                            http_headers=http, warc_headers_dict={'WARC-Date': date}))
    image = b'\x89PNG\r\n\x1a\n' + b'\0' * 64
    http = StatusAndHeaders('200 OK', [('Content-Type', 'image/png')], protocol='HTTP/1.1')
    writer.write_record(writer.create_warc_record(pages[0][0] + 'logo.png', 'response',
                        payload=io.BytesIO(image), http_headers=http,
                        warc_headers_dict={'WARC-Date': pages[0][1]}))
    writer.write_record(writer.create_warc_record(pages[0][0], 'metadata',
                        payload=io.BytesIO(b'outlinks: none'),
                        warc_content_type='text/plain',
                        warc_headers_dict={'WARC-Date': pages[0][1]}))

assert len(revisits) == 3, revisits
with open(second, 'wb') as out:
    writer = WARCWriter(out, gzip=True)
    for uri, date, http_date, digest in revisits:
        seen = datetime.datetime.strptime(date[:19], '%Y-%m-%dT%H:%M:%S')
        next_day = (seen + datetime.timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%SZ')
        http = StatusAndHeaders('200 OK', [('Content-Type', 'text/html; charset=utf-8'),
                                ('Date', http_date)], protocol='HTTP/1.1')
        writer.write_record(writer.create_revisit_record(uri, digest, uri, date, http_headers=http,
                            warc_headers_dict={'WARC-Date': next_day}))
print(len(pages))
"#;

/// Multiset difference: the rows of `bigger` not matched by a row of `smaller`.
fn beyond(bigger: &[String], smaller: &[String]) -> Vec<String> {
    let mut left: BTreeMap<&String, usize> = BTreeMap::new();
    for row in smaller {
        *left.entry(row).or_default() += 1;
    }
    let mut extra = Vec::new();
    for row in bigger {
        match left.get_mut(row) {
            Some(n) if *n > 0 => *n -= 1,
            _ => extra.push(row.clone()),
        }
    }
    extra
}

#[test]
fn a_warc_written_by_warcio_imports_with_gzip_chunked_and_revisit_records() {
    let Some(warcio) = crate::fetch::warcio() else {
        tool_missing("warcio is not installed: a WARC written by another tool was not imported");
        return;
    };
    let python = Path::new(&warcio).with_file_name("python");
    let python = if python.exists() {
        python.display().to_string()
    } else {
        "python3".to_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    sim_mirror(dir, &DAY.to_string(), &[]);
    let source = std::fs::read_dir(dir.join("mirror/warc"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("cobalt"))
        .expect("the mirror's WARC of the cards market");
    std::fs::write(dir.join("rewrite.py"), WARCIO_SCRIPT).unwrap();
    std::fs::create_dir(dir.join("warcio")).unwrap();
    let rewrite = Command::new(&python)
        .args([
            "rewrite.py",
            source.to_str().unwrap(),
            "warcio/a.warc.gz",
            "warcio/b.warc.gz",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(rewrite.status.success(), "{}", stderr(&rewrite));
    let pages: usize = stdout(&rewrite).trim().parse().unwrap();
    assert!(pages > 20, "{pages} pages");

    // The simulator's own WARC (the reference) and warcio's, with the same configuration (the
    // pseudonym key and the markets' hosts).
    let markets = Markets::start(SEED, VENDORS, ServerConfig::open(DAY));
    let config = markets.config(dir, &[0, 1, 2], "");
    migrated(dir, "own.sqlite");
    migrated(dir, "warcio.sqlite");
    import(dir, &config, "own.sqlite", &[source.to_str().unwrap()], &[]);
    let summary = import(dir, &config, "warcio.sqlite", &["warcio"], &["--json"]);
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(
        summary["imported"],
        serde_json::json!(pages + 3),
        "{summary:#}"
    );
    assert_eq!(summary["skipped"]["not HTML"], 1, "{summary:#}");
    assert_eq!(
        summary["runs"].as_array().unwrap().len(),
        2,
        "one run per file and day: {summary:#}"
    );
    assert!(summary["page_kinds"]["listing"].as_u64().unwrap() > 3);

    let own = observations(&StoreOptions::new(Location::SqliteFile(
        dir.join("own.sqlite"),
    )));
    let theirs = observations(&StoreOptions::new(Location::SqliteFile(
        dir.join("warcio.sqlite"),
    )));
    for table in ["vendor_observations", "forum_posts"] {
        assert_eq!(own.get(table), theirs.get(table), "{table}");
    }
    assert!(own.contains_key("vendor_observations") || own.contains_key("forum_posts"));
    // The revisits are three more observations of listings the first file showed.
    let listings = "listing_observations";
    assert!(beyond(&own[listings], &theirs[listings]).is_empty());
    let extra = beyond(&theirs[listings], &own[listings]);
    assert_eq!(extra.len(), 3, "{extra:#?}");
    for row in &extra {
        assert!(own[listings].contains(row), "{row}");
    }
}

/// Weekly activity (from the roll-ups), listing observations' origins, and extractions per
/// parser version of a SQLite store.
#[allow(clippy::type_complexity)]
fn reparse_view(
    path: &Path,
) -> (
    Vec<(String, i64, i64)>,
    BTreeMap<String, usize>,
    BTreeMap<String, i64>,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open(&StoreOptions::new(Location::SqliteFile(path.to_owned())))
            .await
            .unwrap();
        let filter = AnalyticsFilter::default();
        let activity = store
            .activity(&filter, dnmscope_store::Period::Week)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.market, r.listings, r.observations))
            .collect();
        let mut origins: BTreeMap<String, usize> = BTreeMap::new();
        for row in store.listing_observations(&filter).await.unwrap() {
            let origin = row
                .listing
                .ships_from
                .map_or("none".to_owned(), |c| c.to_string());
            *origins
                .entry(format!("{} {origin}", row.market))
                .or_default() += 1;
        }
        let versions = store
            .parser_versions()
            .await
            .unwrap()
            .into_iter()
            .map(|v| (v.parser_version, v.extractions))
            .collect();
        store.close().await;
        (activity, origins, versions)
    })
}

#[test]
fn reparse_after_a_definition_change_says_what_changed_and_analytics_read_the_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    sim_mirror(dir, &format!("{DAY}..{}", DAY + 1), &["--no-warc"]);
    // A page of a market no definition knows yet, in the mirror of the list skin's first day.
    let day = std::fs::read_dir(dir.join("mirror/tessera"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .min()
        .unwrap();
    let host = std::fs::read_dir(&day)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(
        host.join("odd.html"),
        "<!DOCTYPE html><html><head><meta name=\"generator\" content=\"odd-market\">\
         <title>Odd</title></head><body><div class=\"odd\"><h1>An odd listing</h1></div></body></html>",
    )
    .unwrap();
    std::fs::write(dir.join("plain.toml"), "").unwrap();
    migrated(dir, "s.sqlite");
    let imported = import(dir, "plain.toml", "s.sqlite", MIRROR, &[]);
    assert!(
        imported.contains("1 pages no definition recognises"),
        "{imported}"
    );
    let store = dir.join("s.sqlite");
    let (activity, origins, versions) = reparse_view(&store);
    let shipped = |origins: &BTreeMap<String, usize>, market: &str| -> usize {
        origins
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{market} ")) && !k.ends_with(" none"))
            .map(|(_, n)| n)
            .sum()
    };
    assert!(shipped(&origins, "nightshade") > 0, "{origins:?}");
    let nightshade_extractions = versions["nightshade@2"];

    // The same definition read again: nothing to do.
    let same = dnmscope(
        dir,
        &["--config", "plain.toml", "--db", "s.sqlite", "reparse"],
    );
    assert!(same.status.success(), "{}", stderr(&same));
    assert!(
        stdout(&same).starts_with("re-parsed 0 of"),
        "{}",
        stdout(&same)
    );

    // A definition that no longer reads the origin, under a new version.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/markets/nightshade.toml"),
    )
    .unwrap();
    assert!(text.contains("\nversion = 2\n"));
    let start = text.find("[fields.listing.ships_from]").unwrap();
    let end = start + 1 + text[start + 1..].find("\n[").unwrap();
    let changed = text.replacen("\nversion = 2\n", "\nversion = 3\n", 1);
    let changed = format!("{}{}", &changed[..start], &changed[end + 1..]);
    std::fs::create_dir(dir.join("defs")).unwrap();
    std::fs::write(dir.join("defs/nightshade.toml"), changed).unwrap();
    // And a definition for the odd market.
    std::fs::write(
        dir.join("defs/odd.toml"),
        "name = \"odd\"\nversion = 1\nhosts = []\n\n[recognise]\nhtml = 'content=\"odd-market\"'\n\n\
         [[page_kinds]]\nkind = \"listing\"\nselector = \"div.odd\"\n\n\
         [fields.listing.title]\nselector = \"div.odd h1\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("changed.toml"),
        "[crawl]\ndefinitions_dir = \"defs\"\n",
    )
    .unwrap();
    let output = dnmscope(
        dir,
        &[
            "--config",
            "changed.toml",
            "--db",
            "s.sqlite",
            "reparse",
            "--json",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let moved = nightshade_extractions as u64;
    assert_eq!(
        summary["versions"]["nightshade@2 -> nightshade@3"], moved,
        "{summary:#}"
    );
    assert_eq!(
        summary["reparsed"],
        moved + 1,
        "only nightshade's definition changed, and the odd page is recognised: {summary:#}"
    );
    assert_eq!(summary["recognised"]["odd"], 1, "{summary:#}");
    assert_eq!(summary["superseded"], moved, "{summary:#}");
    let removed = summary["changes"]["listing"]["listing.ships_from"]["removed"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        removed as usize,
        shipped(&origins, "nightshade"),
        "every origin read before is gone: {summary:#}"
    );
    assert!(
        summary["changes"]["listing"]
            .as_object()
            .unwrap()
            .keys()
            .all(|field| field == "listing.ships_from"),
        "{summary:#}"
    );

    // Analytics read the new version, once per capture; the old extractions are still there.
    let (activity_after, mut origins_after, versions_after) = reparse_view(&store);
    assert_eq!(
        origins_after.remove("odd none"),
        Some(1),
        "the odd page's listing, under its market: {origins_after:?}"
    );
    let activity_after: Vec<(String, i64, i64)> = activity_after
        .into_iter()
        .filter(|(market, _, _)| market != "odd")
        .collect();
    assert_eq!(
        shipped(&origins_after, "nightshade"),
        0,
        "{origins_after:?}"
    );
    assert_eq!(
        origins_after.values().sum::<usize>(),
        origins.values().sum::<usize>(),
        "one observation per listing and capture, as before"
    );
    assert_eq!(
        shipped(&origins_after, "cobalt"),
        shipped(&origins, "cobalt")
    );
    assert_eq!(
        activity_after, activity,
        "the weekly roll-ups count each capture once"
    );
    assert_eq!(versions_after["nightshade@2"], nightshade_extractions);
    assert_eq!(versions_after["nightshade@3"], nightshade_extractions);

    // Back to the built-in definition: its extractions are the current ones again.
    let back = dnmscope(
        dir,
        &["--config", "plain.toml", "--db", "s.sqlite", "reparse"],
    );
    assert!(back.status.success(), "{}", stderr(&back));
    assert!(
        stdout(&back).contains("nightshade@3 -> nightshade@2"),
        "{}",
        stdout(&back)
    );
    let (_, mut origins_back, _) = reparse_view(&store);
    origins_back.remove("odd none");
    assert_eq!(origins_back, origins);
}
