//! `dnmscope parse`, `eval` and `bench parse` as a user runs them, on the real corpus beside the
//! workspace (`../shared/corpus/real`) and on definitions written in the test.

use std::path::{Path, PathBuf};

use crate::cli::{assert_clean_failure, dnmscope, stderr, stdout};

/// The real corpus, or `None` after printing why the test does not run.
fn corpus(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/real");
    if dir.join("dream/pages").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "{test}: SKIPPED: the real corpus is not at {}",
            dir.display()
        );
        None
    }
}

#[test]
fn parse_prints_one_json_object_per_file_with_schema_fields() {
    let Some(corpus) = corpus("parse_prints_one_json_object_per_file_with_schema_fields") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let listing = corpus.join("dream/pages/listing_0.html");
    let vendor = corpus.join("dream/pages/seller_0.html");
    let output = dnmscope(
        dir.path(),
        &[
            "parse",
            "--market",
            "dream",
            listing.to_str().unwrap(),
            vendor.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["page_kind"], "listing");
    assert_eq!(lines[0]["fields"]["vendor"], "PHARMORA");
    assert_eq!(lines[0]["fields"]["price"]["currency"], "USD");
    assert_eq!(lines[1]["page_kind"], "vendor");
    assert_eq!(
        lines[1]["fields"]["pgp_fingerprint"],
        "cadfc78bcb67070c0c2d141923a5b750309d62e5"
    );
    assert!(lines[0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["kind"] == "vendor" && l["url"] == "./contactMember?member=PHARMORA"));
    // The drift signal goes to stderr.
    assert!(stderr(&output).contains("field yield: dream/listing title 1/1"));
}

#[test]
fn parse_auto_recognises_the_market_and_never_follows_logout() {
    let Some(corpus) = corpus("parse_auto_recognises_the_market_and_never_follows_logout") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = corpus.join("empire/pages/saved_empire_listing_3.html");
    let output = dnmscope(dir.path(), &["parse", page.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let line: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(line["market"], "empire");
    assert_eq!(line["page_kind"], "listing");
    let links = line["links"].as_array().unwrap();
    let logout = links
        .iter()
        .find(|l| l["url"].as_str().unwrap().contains("logout"))
        .expect("the logout link is reported");
    assert_eq!(logout["follow"], false);
}

#[test]
fn eval_scores_the_real_corpus_above_95_percent() {
    let Some(corpus) = corpus("eval_scores_the_real_corpus_above_95_percent") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = dnmscope(
        dir.path(),
        &["eval", "--corpus", corpus.to_str().unwrap(), "--json"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    for market in ["dream", "empire"] {
        let values = &report[market]["values"];
        let share = values["matched"].as_f64().unwrap() / values["total"].as_f64().unwrap();
        assert!(share >= 0.95, "{market}: {values}");
    }
    let text = dnmscope(dir.path(), &["eval", "--corpus", corpus.to_str().unwrap()]);
    assert!(stdout(&text).contains("dream: "), "{}", stdout(&text));
}

#[test]
fn a_market_added_as_a_toml_file_parses_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let markets = dir.path().join("markets");
    std::fs::create_dir(&markets).unwrap();
    std::fs::write(
        markets.join("grid.toml"),
        r#"
name = "grid"
[recognise]
title = "^Grid Market"
[[page_kinds]]
kind = "search"
selector = "div.card"
[fields.search.listings]
selector = "div.card"
fields.title = { selector = "h2" }
fields.url = { selector = "a", attr = "href", type = "url_path" }
fields.price = { selector = "dl dt", label = "Price", type = "money" }
"#,
    )
    .unwrap();
    let corpus = dir.path().join("corpus/grid");
    std::fs::create_dir_all(corpus.join("pages")).unwrap();
    std::fs::create_dir_all(corpus.join("expected")).unwrap();
    std::fs::write(
        corpus.join("pages/search_0.html"),
        "<title>Grid Market</title><div class=card><h2>Gold Bar</h2><a href='http://g.onion/l/1'>\
         open</a><dl><dt>Price:</dt><dd>0.0093 BTC</dd></dl></div>",
    )
    .unwrap();
    std::fs::write(
        corpus.join("expected/search_0.json"),
        r#"{"page_kind": "search", "fields": {"listings": [{"title": "Gold Bar", "url": "/l/1",
           "price": {"amount": 0.0093, "currency": "BTC"}}]}}"#,
    )
    .unwrap();
    let page = corpus.join("pages/search_0.html");
    let output = dnmscope(
        dir.path(),
        &[
            "parse",
            "--markets-dir",
            "markets",
            "--market",
            "auto",
            page.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(r#""market":"grid""#),
        "{}",
        stdout(&output)
    );
    let output = dnmscope(
        dir.path(),
        &["eval", "--markets-dir", "markets", "--corpus", "corpus"],
    );
    assert!(
        // The page kind, and each key of the one expected search result (item by item).
        stdout(&output).contains("grid: 4/4 expected values matched (100.0 %)")
            && stdout(&output).contains("search listings[].title"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_bad_definition_is_refused_naming_file_field_and_selector() {
    let dir = tempfile::tempdir().unwrap();
    let markets = dir.path().join("markets");
    std::fs::create_dir(&markets).unwrap();
    std::fs::write(
        markets.join("broken.toml"),
        "name = \"broken\"\n[fields.listing.title]\nselector = \"div..title\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("page.html"), "<p>x</p>").unwrap();
    let output = dnmscope(
        dir.path(),
        &["parse", "--markets-dir", "markets", "page.html"],
    );
    assert_clean_failure(&output);
    let err = stderr(&output);
    assert!(err.contains("broken.toml"), "{err}");
    assert!(err.contains("fields.listing.title"), "{err}");
    assert!(err.contains("\"div..title\""), "{err}");
}

#[test]
fn parse_of_an_unknown_market_or_missing_file_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.html"), "<p>x</p>").unwrap();
    let output = dnmscope(dir.path(), &["parse", "--market", "silkroad", "page.html"]);
    assert_clean_failure(&output);
    assert!(stderr(&output).contains("no market definition named \"silkroad\""));
    let output = dnmscope(dir.path(), &["parse", "missing.html", "page.html"]);
    assert_clean_failure(&output);
    // The readable file is still parsed.
    assert!(stdout(&output).contains(r#""file":"page.html""#));
}

#[test]
fn bench_parse_reports_pages_per_second() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus/generic");
    std::fs::create_dir_all(corpus.join("pages")).unwrap();
    std::fs::create_dir_all(corpus.join("expected")).unwrap();
    std::fs::write(corpus.join("pages/a.html"), "<title>Error 404</title>").unwrap();
    std::fs::write(
        corpus.join("expected/a.json"),
        r#"{"page_kind": "not_found"}"#,
    )
    .unwrap();
    let output = dnmscope(
        dir.path(),
        &["bench", "parse", "--corpus", "corpus", "--rounds", "2"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("parsed 1 pages"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("pages per"), "{}", stdout(&output));
}
