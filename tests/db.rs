//! `dnmscope db migrate` and `dnmscope db stats`.

use chrono::{TimeZone, Utc};
use dnmscope_model::{Capture, Extraction, FinishReason, Listing, MarketName, Money, PageKind};
use dnmscope_store::{Location, Store, StoreOptions};

use crate::cli::{assert_clean_failure, dnmscope, stderr, stdout};

#[test]
fn migrate_creates_a_store_and_stats_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = dnmscope(dir.path(), &["db", "migrate", "--db", "store.sqlite"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("up to date"));
    // Migrating again changes nothing and succeeds.
    let output = dnmscope(dir.path(), &["db", "migrate", "--db", "store.sqlite"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let output = dnmscope(dir.path(), &["db", "stats", "--db", "store.sqlite"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.contains("listing_observations"), "{table}");
    assert!(table.contains("crawls: none yet"), "{table}");
    assert!(
        stderr(&output).is_empty(),
        "a normal run printed: {}",
        stderr(&output)
    );
}

#[test]
fn stats_on_a_store_with_data_prints_a_readable_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.sqlite");
    populate(&path);
    let output = dnmscope(dir.path(), &["db", "stats", "--db", "full.sqlite"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row in {table}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(row("listings"), "1");
    assert_eq!(row("listing_observations"), "2");
    assert_eq!(row("captures"), "2");
    assert_eq!(row("crawls"), "2");
    assert!(
        table.contains("first observation: 2026-03-01 10:00:00 UTC"),
        "{table}"
    );
    assert!(
        table.contains("last observation:  2026-03-08 10:00:00 UTC"),
        "{table}"
    );
    assert!(table.contains("completed"), "{table}");
    assert!(table.contains("(running)"), "{table}");

    let output = dnmscope(
        dir.path(),
        &["db", "stats", "--json", "--db", "full.sqlite"],
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["crawls"].as_array().unwrap().len(), 2);
    assert_eq!(json["backend"], "sqlite");
}

#[test]
fn the_store_location_comes_from_the_environment_too() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_dnmscope"))
        .args(["db", "migrate"])
        .current_dir(dir.path())
        .env("DNMSCOPE_DB", "from-env.sqlite")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(dir.path().join("from-env.sqlite").exists());
}

#[test]
fn stats_on_a_missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = dnmscope(dir.path(), &["db", "stats", "--db", "nowhere.sqlite"]);
    assert_clean_failure(&output);
    let err = stderr(&output);
    assert!(
        err.contains("nowhere.sqlite") && err.contains("does not exist"),
        "{err}"
    );
    assert!(
        err.contains("dnmscope db migrate"),
        "the error says how to fix it: {err}"
    );
    assert!(
        !dir.path().join("nowhere.sqlite").exists(),
        "stats created a store"
    );
}

#[test]
fn stats_on_a_corrupt_file_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.sqlite");
    let garbage =
        b"SQLite format 2\0 but not really; this file was truncated by a bad copy".repeat(64);
    std::fs::write(&path, &garbage).unwrap();
    let output = dnmscope(dir.path(), &["db", "stats", "--db", "corrupt.sqlite"]);
    assert_clean_failure(&output);
    let err = stderr(&output);
    assert!(err.contains("corrupt.sqlite"), "{err}");
    assert!(err.contains("not a database"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
    // And the location itself may be bad.
    let output = dnmscope(dir.path(), &["db", "stats", "--db", "mysql://localhost/x"]);
    assert_clean_failure(&output);
    assert!(stderr(&output).contains("mysql://localhost/x"));
}

#[test]
fn migrate_and_stats_on_postgres() {
    let Some(url) = std::env::var("DNMSCOPE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        crate::cli::tool_missing(
            "DNMSCOPE_TEST_POSTGRES_URL is not set: migrate and stats were not run on PostgreSQL",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("dnmscope_cli_test_{}", std::process::id());
    std::fs::write(
        dir.path().join("pg.toml"),
        format!("[store]\npostgres_schema = \"{schema}\"\n"),
    )
    .unwrap();
    let migrate = dnmscope(
        dir.path(),
        &["--config", "pg.toml", "db", "migrate", "--db", &url],
    );
    let stats = dnmscope(
        dir.path(),
        &["--config", "pg.toml", "db", "stats", "--db", &url],
    );
    let drop = std::process::Command::new("psql")
        .args([
            url.as_str(),
            "-qc",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        ])
        .output();
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    assert!(stats.status.success(), "{}", stderr(&stats));
    assert!(stdout(&stats).contains("(postgres)"), "{}", stdout(&stats));
    assert!(
        drop.map(|o| o.status.success()).unwrap_or(false),
        "could not drop {schema}"
    );
}

/// Two crawls of one listing, the first finished, the second still running.
fn populate(path: &std::path::Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut options = StoreOptions::new(Location::SqliteFile(path.to_path_buf()));
        options.create = true;
        let store = Store::open(&options).await.unwrap();
        let market = MarketName::new("sim-alpha").unwrap();
        for (day, price) in [(1, "20.00"), (8, "18.50")] {
            let at = Utc.with_ymd_and_hms(2026, 3, day, 10, 0, 0).unwrap();
            let crawl = store
                .begin_crawl(std::slice::from_ref(&market), &serde_json::json!({}), at)
                .await
                .unwrap();
            let capture = Capture {
                market: market.clone(),
                crawl,
                url: "http://alpha.sim/listing/7".to_string(),
                final_url: None,
                fetched_at: at,
                status: 200,
                headers: vec![],
                body: format!("<html>{price}</html>").into_bytes(),
                truncated: None,
                elapsed_ms: None,
            };
            let mut extraction = Extraction::empty(PageKind::Listing, "test@1");
            extraction.listings.push(Listing {
                key: "7".to_string(),
                title: Some("1g cannabis".to_string()),
                price: Some(Money::new(price, "USD").unwrap()),
                ..Listing::default()
            });
            store.ingest(&capture, &extraction).await.unwrap();
            if day == 1 {
                store
                    .finish_crawl(crawl, FinishReason::Completed, at)
                    .await
                    .unwrap();
            }
        }
        store.close().await;
    });
}

#[test]
fn a_log_written_to_a_pipe_has_no_colour_codes_and_an_empty_file_is_no_store() {
    let dir = tempfile::tempdir().unwrap();
    // -vv: the store logs at debug and trace; stderr is a pipe here, not a terminal.
    let output = dnmscope(dir.path(), &["-vv", "db", "migrate", "--db", "s.sqlite"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(log.contains("store open"), "the log has lines: {log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a piped log: {log:?}"
    );
    // An empty file is not a store: refused, and left empty.
    std::fs::write(dir.path().join("empty.sqlite"), b"").unwrap();
    let output = dnmscope(dir.path(), &["db", "stats", "--db", "empty.sqlite"]);
    assert_clean_failure(&output);
    assert!(
        stderr(&output).contains("not a dnmscope store"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("empty.sqlite"))
            .unwrap()
            .len(),
        0
    );
}
