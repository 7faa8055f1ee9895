//! Whole pages through the public API: golden files for every page of the real corpus, and
//! hostile pages (malformed, truncated, binary, deeply nested, huge) that must parse without a
//! panic, within the limits, with diagnostics.
//!
//! Golden files live in `test_data/golden/<market>/<page>.json`; `UPDATE_EXPECT=1` writes them.
//! The simulator's skins (nightshade, cobalt, tessera) have a labelled corpus of their own in
//! `test_data/sim` (written by `dnmscope sim corpus --seed 1 --vendors 30 --day 12 --per-kind 1`):
//! their trials also score every page against its expected values and require all of them.
//! The real corpus is read from `../shared/corpus/real` beside the workspace; when it is absent
//! its trials are listed as ignored and the reason is printed.

use std::path::{Path, PathBuf};

use dnmscope_parse::{builtin_markets, parse_page, Limits, Market, ParsedPage};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let mut trials = golden_trials();
    trials.extend(sim_trials());
    trials.extend(hostile_trials());
    libtest_mimic::run(&args, trials).exit();
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/real")
}

/// The one function every golden trial goes through: parse `page` with `market` and compare
/// the result with its golden file.
fn check(market: &Market, page: &Path, golden: &Path) -> Result<(), Failed> {
    let bytes = std::fs::read(page).map_err(|e| format!("reading {}: {e}", page.display()))?;
    let parsed = parse_page(
        &String::from_utf8_lossy(&bytes),
        Some(market),
        Limits::default(),
    );
    let json = serde_json::to_string_pretty(&parsed).map_err(|e| e.to_string())?;
    expect_test::expect_file![golden].assert_eq(&format!("{json}\n"));
    Ok(())
}

fn golden_trials() -> Vec<Trial> {
    let corpus = corpus_dir();
    let markets = builtin_markets().expect("the built-in definitions compile");
    let mut trials = Vec::new();
    for market in ["dream", "empire"] {
        let mut pages = Vec::new();
        for folder in ["pages", "unlabelled"] {
            if let Ok(entries) = std::fs::read_dir(corpus.join(market).join(folder)) {
                pages.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            }
        }
        pages.sort();
        if pages.is_empty() {
            eprintln!(
                "golden::{market}: ignored: the real corpus is not at {}",
                corpus.display()
            );
            trials.push(
                Trial::test(format!("golden::{market}::corpus_missing"), || Ok(()))
                    .with_ignored_flag(true),
            );
            continue;
        }
        for page in pages {
            let stem = page
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data/golden")
                .join(market)
                .join(format!("{stem}.json"));
            let definition = markets
                .iter()
                .position(|m| m.name == market)
                .expect("a built-in definition");
            let markets = builtin_markets().expect("the built-in definitions compile");
            trials.push(Trial::test(
                format!("golden::{market}::{stem}"),
                move || check(&markets[definition], &page, &golden),
            ));
        }
    }
    trials
}

/// Golden and scored trials for every page of the simulator's labelled corpus.
fn sim_trials() -> Vec<Trial> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/sim");
    let mut trials = Vec::new();
    for market in ["nightshade", "cobalt", "tessera"] {
        let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join(market).join("pages"))
            .expect("the simulator corpus is part of the repository")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        pages.sort();
        assert!(pages.len() > 15, "{market}: {} pages", pages.len());
        for page in pages {
            let stem = page
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let expected = root
                .join(market)
                .join("expected")
                .join(format!("{stem}.json"));
            let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data/golden")
                .join(market)
                .join(format!("{stem}.json"));
            trials.push(Trial::test(format!("sim::{market}::{stem}"), move || {
                let markets = builtin_markets().expect("the built-in definitions compile");
                let definition = markets
                    .iter()
                    .find(|m| m.name == market)
                    .expect("a built-in definition");
                check(definition, &page, &golden)?;
                score_all(definition, &page, &expected)
            }));
        }
    }
    trials
}

/// Every expected value of a labelled page must be matched.
fn score_all(market: &Market, page: &Path, expected: &Path) -> Result<(), Failed> {
    let html =
        std::fs::read_to_string(page).map_err(|e| format!("reading {}: {e}", page.display()))?;
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(expected)
            .map_err(|e| format!("reading {}: {e}", expected.display()))?,
    )
    .map_err(|e| e.to_string())?;
    let parsed = parse_page(&html, Some(market), Limits::default());
    let score = dnmscope_parse::compare::score_page(&expected, &parsed);
    if !score.kind_matched {
        return Err(format!(
            "page kind {} where {} was expected",
            score.actual_kind, score.expected_kind
        )
        .into());
    }
    let missed: Vec<String> = score
        .fields
        .iter()
        .filter(|f| !f.matched)
        .map(|f| format!("{f:?}"))
        .collect();
    if missed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} fields differ: {}",
            missed.len(),
            score.fields.len(),
            missed.join("; ")
        )
        .into())
    }
}

/// Parses a hostile page and checks what every page owes: no panic (the trial would fail), a
/// page kind, and diagnostics saying what went wrong.
fn hostile(html: String, limits: Limits) -> ParsedPage {
    let markets = builtin_markets().expect("the built-in definitions compile");
    let page = parse_page(&html, Some(&markets[0]), limits);
    let auto = dnmscope_parse::parse_page_auto(&html, &markets, limits);
    assert!(!page.page_kind.as_str().is_empty());
    assert!(
        !auto.diagnostics.is_empty() || !page.diagnostics.is_empty() || !page.fields.is_empty()
    );
    page
}

/// One hostile-page case: panics when the page is not handled as it must be.
type Case = Box<dyn Fn() + Send + Sync>;

fn hostile_trials() -> Vec<Trial> {
    let listing = std::fs::read_to_string(corpus_dir().join("dream/pages/listing_0.html"))
        .unwrap_or_else(|_| {
            "<html><head><title>t</title></head><body><div class=\"viewProduct\">\
             <div class=\"title\">A</div><div class=\"tabularDetails\"><div><label>Price</label>\
             <span>$49</span></div></div></div></body></html>"
                .to_string()
        });
    let cases: Vec<(&str, Case)> = vec![
        (
            "deeply_nested_100k_levels_is_cut",
            Box::new(|| {
                let html = "<div>".repeat(100_000) + &"</div>".repeat(100_000);
                let page = hostile(html, Limits::default());
                assert!(page.diagnostics[0]
                    .message
                    .contains("nested deeper than 512"));
            }),
        ),
        (
            "deeply_nested_inline_and_table_elements",
            Box::new(|| {
                let html = "<b><i><table><tr><td><span><a>".repeat(20_000);
                let page = hostile(html, Limits::default());
                assert!(page.diagnostics[0].message.contains("nested deeper"));
            }),
        ),
        (
            "huge_page_is_read_up_to_the_byte_limit",
            Box::new(|| {
                // 12 MB: mostly text under the default limit, then many elements under a small one.
                let html = format!(
                    "<html><body><pre>{}</pre></body></html>",
                    "x".repeat(12 << 20)
                );
                let page = hostile(html, Limits::default());
                assert!(page.diagnostics[0]
                    .message
                    .contains("only the first 8388608"));
                let html = "<p>x</p>".repeat(1 << 20);
                let small = Limits {
                    max_bytes: 1 << 20,
                    ..Limits::default()
                };
                let page = hostile(html, small);
                assert!(page.diagnostics[0]
                    .message
                    .contains("only the first 1048576"));
            }),
        ),
        (
            "binary_garbage",
            Box::new(|| {
                // A fixed pseudo-random byte stream (xorshift), read as lossy UTF-8.
                let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
                let bytes: Vec<u8> = (0..200_000)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state >> 24) as u8
                    })
                    .collect();
                let page = hostile(
                    String::from_utf8_lossy(&bytes).into_owned(),
                    Limits::default(),
                );
                assert!(!page.diagnostics.is_empty());
            }),
        ),
        (
            "empty_page_is_an_error_page",
            Box::new(|| {
                let page = hostile(String::new(), Limits::default());
                assert_eq!(page.page_kind.as_str(), "error");
            }),
        ),
        (
            "every_truncation_of_a_real_listing",
            Box::new(move || {
                let step = (listing.len() / 40).max(1);
                let mut end = 0;
                while end < listing.len() {
                    if listing.is_char_boundary(end) {
                        let page = hostile(listing[..end].to_string(), Limits::default());
                        if page.page_kind.as_str() == "listing" {
                            // A cut listing says which fields it lost, or has them all.
                            assert!(!page.fields.is_empty() || !page.diagnostics.is_empty());
                        }
                    }
                    end += step;
                }
            }),
        ),
        (
            "malformed_markup",
            Box::new(|| {
                let html = "<div class=\"viewProduct\"><div class=title>unclosed <label>Price\
                            </label><span>$$$</span><<<>>></table></td><a href=\"./?logout\" \
                            style=\"display: none\">x</a><!-- unterminated"
                    .to_string();
                let page = hostile(html, Limits::default());
                assert_eq!(page.page_kind.as_str(), "listing");
                let messages: Vec<&str> = page
                    .diagnostics
                    .iter()
                    .map(|d| d.message.as_str())
                    .collect();
                assert!(
                    messages.iter().any(|m| m.contains("matched nothing")),
                    "{messages:?}"
                );
            }),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, case)| {
            Trial::test(format!("hostile::{name}"), move || {
                case();
                Ok(())
            })
        })
        .collect()
}
