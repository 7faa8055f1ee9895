//! `dnmscope sim …` as a user runs it: serve a world on loopback, write its
//! truth and a labelled corpus, and refuse what it must refuse.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::cli::{assert_clean_failure, dnmscope, stderr, stdout};

#[test]
fn truth_is_written_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let output = dnmscope(
        dir.path(),
        &[
            "sim",
            "truth",
            "--seed",
            "4",
            "--vendors",
            "30",
            "--days",
            "20",
            "--out",
            "truth.json",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("truth.json"));
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
            .unwrap();
    assert_eq!(truth["format"], "dnmscope-sim-truth/1");
    assert_eq!(truth["days"], 20);
    assert_eq!(truth["markets"].as_array().unwrap().len(), 3);
    assert!(!truth["listings"].as_array().unwrap().is_empty());

    let again = dnmscope(
        dir.path(),
        &[
            "sim",
            "truth",
            "--seed",
            "4",
            "--vendors",
            "30",
            "--days",
            "20",
            "--out",
            "again.json",
        ],
    );
    assert!(again.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("truth.json")).unwrap(),
        std::fs::read(dir.path().join("again.json")).unwrap(),
        "same seed, same bytes"
    );

    let nowhere = dnmscope(
        dir.path(),
        &[
            "sim",
            "truth",
            "--vendors",
            "10",
            "--out",
            "no/such/dir/truth.json",
        ],
    );
    assert_clean_failure(&nowhere);
    assert!(
        stderr(&nowhere).contains("no/such/dir/truth.json"),
        "{}",
        stderr(&nowhere)
    );
}

#[test]
fn a_labelled_corpus_is_written_per_market() {
    let dir = tempfile::tempdir().unwrap();
    let output = dnmscope(
        dir.path(),
        &[
            "sim",
            "corpus",
            "--vendors",
            "30",
            "--day",
            "5",
            "--per-kind",
            "2",
            "--out",
            "corpus",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let markets: Vec<_> = std::fs::read_dir(dir.path().join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(markets.len(), 3);
    for market in markets {
        let root = dir.path().join("corpus").join(market);
        let expected = std::fs::read_to_string(root.join("expected/home.json")).unwrap();
        assert!(expected.contains("\"page_kind\": \"home\""));
        assert!(root.join("pages/home.html").exists());
    }
}

#[test]
fn bad_flags_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let far = dnmscope(dir.path(), &["sim", "serve", "--addr", "0.0.0.0:0"]);
    assert_clean_failure(&far);
    assert!(stderr(&far).contains("loopback"), "{}", stderr(&far));
    let late = dnmscope(
        dir.path(),
        &["sim", "serve", "--day", "60", "--addr", "127.0.0.1:0"],
    );
    assert_clean_failure(&late);
    assert!(stderr(&late).contains("--day 60"), "{}", stderr(&late));
    let both = dnmscope(
        dir.path(),
        &["sim", "serve", "--day", "3", "--days-per-minute", "2"],
    );
    assert_clean_failure(&both);
    let bad_rate = dnmscope(
        dir.path(),
        &[
            "sim",
            "serve",
            "--days-per-minute",
            "-1",
            "--addr",
            "127.0.0.1:0",
        ],
    );
    assert_clean_failure(&bad_rate);
    let zero = dnmscope(
        dir.path(),
        &["sim", "truth", "--days", "0", "--out", "t.json"],
    );
    assert_clean_failure(&zero);
    assert!(stderr(&zero).contains("days"), "{}", stderr(&zero));
}

#[test]
fn serve_answers_on_loopback_with_the_market_chosen_by_host() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnmscope"))
        .args([
            "-q",
            "sim",
            "serve",
            "--vendors",
            "30",
            "--open",
            "--day",
            "3",
            "--addr",
            "127.0.0.1:0",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let _market = lines.next().unwrap().unwrap();
    let host = lines
        .next()
        .unwrap()
        .unwrap()
        .trim()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    assert!(host.ends_with(".onion"), "{host}");

    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /categories HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("Categories"));
    assert!(response.contains("Nightshade"));
}

#[test]
fn every_simulator_skin_parses_with_all_of_the_truths_fields() {
    let dir = tempfile::tempdir().unwrap();
    for (seed, day) in [("7", "3"), ("8", "20")] {
        let out = format!("corpus-{seed}");
        let written = dnmscope(
            dir.path(),
            &[
                "sim",
                "corpus",
                "--seed",
                seed,
                "--vendors",
                "40",
                "--day",
                day,
                "--per-kind",
                "3",
                "--out",
                &out,
            ],
        );
        assert!(written.status.success(), "{}", stderr(&written));
        let eval = dnmscope(dir.path(), &["eval", "--corpus", &out, "--json"]);
        assert!(eval.status.success(), "{}", stderr(&eval));
        let report: serde_json::Value = serde_json::from_str(&stdout(&eval)).unwrap();
        for market in ["nightshade", "cobalt", "tessera"] {
            let values = &report[market]["values"];
            let total = values["total"].as_u64().unwrap();
            assert!(
                total > 100,
                "seed {seed}: {market} has {total} expected values"
            );
            assert_eq!(
                values["matched"], values["total"],
                "seed {seed}: {market}: {}",
                report[market]
            );
        }
    }
}

#[test]
fn the_demo_crawls_the_simulated_markets_into_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let output = dnmscope(
        dir.path(),
        &[
            "demo",
            "--db",
            "demo.sqlite",
            "--days",
            "2",
            "--every",
            "40",
            "--vendors",
            "12",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("the simulator saw 0 state-changing or hidden-link requests"),
        "{out}"
    );
    assert!(
        out.contains("[seized]"),
        "day 40: the first market shows its seizure banner: {out}"
    );
    let stats = dnmscope(
        dir.path(),
        &["db", "stats", "--db", "demo.sqlite", "--json"],
    );
    let stats: serde_json::Value = serde_json::from_str(&stdout(&stats)).unwrap();
    let rows = |table: &str| {
        stats["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == table)
            .map(|t| t["rows"].as_i64().unwrap())
            .unwrap()
    };
    for table in [
        "listings",
        "listing_observations",
        "vendors",
        "feedback",
        "forum_posts",
        "market_events",
    ] {
        assert!(rows(table) > 0, "{table} is empty: {stats}");
    }
    assert_eq!(stats["crawls"].as_array().unwrap().len(), 2);
    // The demo ends with its report, beside the store.
    assert!(
        out.contains("report: demo-report/index.html"),
        "the demo says where its report is: {out}"
    );
    let report = std::fs::read_to_string(dir.path().join("demo-report/index.html")).unwrap();
    // The demo's world is known, and the report says how the analytics did on it.
    assert!(
        report.contains("Accuracy on the world demo") && report.contains("linking precision"),
        "{report}"
    );
    assert!(report.contains("<svg") && report.contains("Crawl completeness"));
    assert!(dir
        .path()
        .join("demo-report/charts/listings_per_crawl.png")
        .is_file());
    let bad = dnmscope(dir.path(), &["demo", "--db", "x.sqlite", "--days", "0"]);
    assert_clean_failure(&bad);
}

/// `dnmscope validate` on a small world: the scorecard as JSON and a Markdown table, with
/// every estimator's figures; bad flags and world files refused before any work.
#[test]
fn validate_scores_a_world_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("world.toml"),
        "fake_review_share = 0.2\n[impersonators]\ncount = 2\n",
    )
    .unwrap();
    let output = dnmscope(
        dir.path(),
        &[
            "validate",
            "--world",
            "world.toml",
            "--vendors",
            "10",
            "--days",
            "20",
            "--seed",
            "3",
            "--json",
            "--markdown",
            "table.md",
            "--report",
            "report",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let cards: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let card = &cards[0];
    assert_eq!(card["world"], "world");
    assert_eq!(card["seed"], 3);
    assert_eq!(card["days"], 20);
    assert_eq!(card["violations"], 0);
    for figure in [
        "/linking/precision",
        "/linking/recall",
        "/linking/impersonators_linked",
        "/campaigns/recall",
        "/sales/estimate/sales_low",
        "/sales/covered",
        "/harm/overall/f1",
        "/events/false_alarms",
    ] {
        assert!(card.pointer(figure).is_some(), "{figure} in {card}");
    }
    assert!(card["observed_accounts"].as_u64().unwrap() > 0);
    let table = std::fs::read_to_string(dir.path().join("table.md")).unwrap();
    assert!(table.contains("| linking precision |"), "{table}");
    assert!(table.contains("| seed 3 |"), "{table}");
    let html = std::fs::read_to_string(dir.path().join("report/index.html")).unwrap();
    assert!(html.contains("Accuracy on the world world"), "{html}");
    assert!(html.contains("linking precision"), "{html}");
    // No log noise on a normal run: the table (or JSON) is the output.
    assert!(!stderr(&output).contains("WARN"), "{}", stderr(&output));

    for (args, says) in [
        (&["validate", "--days", "5"][..], "--days"),
        (&["validate", "--world", "missing.toml"][..], "missing.toml"),
        (&["validate", "--vendors", "0"][..], "--vendors"),
    ] {
        let output = dnmscope(dir.path(), args);
        assert_clean_failure(&output);
        assert!(stderr(&output).contains(says), "{}", stderr(&output));
    }
    std::fs::write(dir.path().join("bad.toml"), "[migration]\nkeep_key = 2\n").unwrap();
    let output = dnmscope(dir.path(), &["validate", "--world", "bad.toml"]);
    assert_clean_failure(&output);
    assert!(
        stderr(&output).contains("migration.keep_key must be between 0 and 1"),
        "{}",
        stderr(&output)
    );
}
