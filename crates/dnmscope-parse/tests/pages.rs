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
//!
//! `fuzz::*` trials are a mutation fuzzer seeded from every page of both corpora: each page is
//! mutated (bytes flipped, hostile fragments spliced in, slices repeated, cut short, pages
//! spliced together) and parsed with its market's definition and with `--market auto`, then
//! turned into model values; nothing may panic, and every page must come back with a kind. CI
//! runs 4 mutations per page (a fixed seed); `DNMSCOPE_FUZZ_ROUNDS=N` runs N per page, and
//! `DNMSCOPE_FUZZ_SEED` another seed. (`cargo fuzz` needs a nightly toolchain, which this
//! project's machines cannot fetch; a crash found here becomes a `hostile::` case.)

use std::path::{Path, PathBuf};

use dnmscope_parse::{builtin_markets, parse_page, Limits, Market, ParsedPage};
use libtest_mimic::{Arguments, Failed, Trial};
use rand::{Rng, SeedableRng};

fn main() {
    let args = Arguments::from_args();
    let mut trials = golden_trials();
    trials.extend(sim_trials());
    trials.extend(hostile_trials());
    trials.extend(fuzz_trials());
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
            "an_amplifying_page_is_refused_not_crashed_on",
            Box::new(|| {
                // Formatting elements closed off by their block are re-opened for every
                // paragraph: millions of elements out of a few kilobytes.
                let formatting: String = (0..60).map(|i| format!("<b c={i}>")).collect();
                let html = format!("<div>{formatting}</div>{}", "<p>x".repeat(5_000));
                let small = Limits {
                    max_nodes: 2_000,
                    ..Limits::default()
                };
                let page = hostile(html, small);
                let why = page.refused.as_deref().unwrap_or_default();
                assert!(
                    why.starts_with("refused: the page makes the parser build"),
                    "{why:?}"
                );
                assert_eq!(page.page_kind.as_str(), "unknown");
                assert!(page.fields.is_empty() && page.links.is_empty());
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

/// Fragments that have broken HTML parsers: misnesting, unclosed raw text and comments, foreign
/// content, entities out of range, control bytes.
const HOSTILE_FRAGMENTS: &[&str] = &[
    "</b></i></div></table>",
    "<!--",
    "<script>",
    "<textarea>",
    "<title>",
    "<svg><g><title>",
    "<math><mi><table>",
    "<template><td>",
    "<table><tr><td><b><i><p>",
    "&#xFFFFFF;&#0;&#x110000;&bogus",
    "\u{0}\u{1}\u{ffff}",
    "<a href=\"javascript:alert(1)\">",
    "<meta http-equiv=refresh content=\"99999999999999999999\">",
    "<base href=\"http://elsewhere.example/\">",
    "<style>a{display:none}</style>",
    "<plaintext>",
    "<frameset><frame>",
    "<select><option><optgroup>",
];

fn mutate(rng: &mut rand_chacha::ChaCha8Rng, page: &str, other: &str) -> String {
    let mut bytes = page.as_bytes().to_vec();
    for _ in 0..rng.gen_range(1..4) {
        let len = bytes.len().max(1);
        match rng.gen_range(0..6) {
            0 => {
                for _ in 0..rng.gen_range(1..64) {
                    let at = rng.gen_range(0..len);
                    if let Some(b) = bytes.get_mut(at) {
                        *b = rng.gen();
                    }
                }
            }
            1 => {
                let fragment = HOSTILE_FRAGMENTS[rng.gen_range(0..HOSTILE_FRAGMENTS.len())];
                let repeat = if rng.gen_bool(0.3) {
                    rng.gen_range(100..3000)
                } else {
                    1
                };
                let at = rng.gen_range(0..=bytes.len());
                let insert = fragment.repeat(repeat);
                bytes.splice(at..at, insert.bytes());
            }
            2 => {
                let start = rng.gen_range(0..len);
                let end = (start + rng.gen_range(1..2000)).min(bytes.len());
                let slice = bytes.get(start..end).unwrap_or(&[]).to_vec();
                let times = rng.gen_range(2..50);
                let at = rng.gen_range(0..=bytes.len());
                bytes.splice(
                    at..at,
                    slice.iter().copied().cycle().take(slice.len() * times),
                );
            }
            3 => {
                let at = rng.gen_range(0..=bytes.len());
                bytes.truncate(at);
            }
            4 => {
                let cut = rng.gen_range(0..=bytes.len());
                let from = rng.gen_range(0..=other.len());
                bytes.truncate(cut);
                bytes.extend_from_slice(&other.as_bytes()[from..]);
            }
            _ => {
                let at = rng.gen_range(0..=bytes.len());
                let deep = if rng.gen_bool(0.5) {
                    "<div>"
                } else {
                    "<span><b>"
                };
                bytes.splice(at..at, deep.repeat(rng.gen_range(500..5000)).bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn fuzz_trials() -> Vec<Trial> {
    let rounds: usize = std::env::var("DNMSCOPE_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let seed: u64 = std::env::var("DNMSCOPE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2026);
    let mut seeds: Vec<(String, PathBuf)> = Vec::new();
    let real = corpus_dir();
    for market in ["dream", "empire"] {
        for folder in ["pages", "unlabelled"] {
            if let Ok(entries) = std::fs::read_dir(real.join(market).join(folder)) {
                seeds.extend(entries.filter_map(|e| e.ok().map(|e| (market.to_owned(), e.path()))));
            }
        }
    }
    let sim = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/sim");
    for market in ["nightshade", "cobalt", "tessera"] {
        if let Ok(entries) = std::fs::read_dir(sim.join(market).join("pages")) {
            seeds.extend(entries.filter_map(|e| e.ok().map(|e| (market.to_owned(), e.path()))));
        }
    }
    seeds.sort();
    if !seeds.iter().any(|(m, _)| m == "dream") {
        eprintln!(
            "fuzz: the real corpus is not at {}; fuzzing from the simulator's pages only",
            real.display()
        );
    }
    let all: std::sync::Arc<Vec<(String, PathBuf)>> = std::sync::Arc::new(seeds);
    (0..all.len())
        .map(|index| {
            let all = std::sync::Arc::clone(&all);
            let (market, path) = all[index].clone();
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Trial::test(format!("fuzz::{market}::{stem}"), move || {
                let markets = builtin_markets().expect("the built-in definitions compile");
                let definition = markets
                    .iter()
                    .find(|m| m.name == market)
                    .expect("a built-in market");
                let page =
                    String::from_utf8_lossy(&std::fs::read(&path).map_err(|e| e.to_string())?)
                        .into_owned();
                let other_path = &all[(index * 7 + 3) % all.len()].1;
                let other = String::from_utf8_lossy(&std::fs::read(other_path).unwrap_or_default())
                    .into_owned();
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ (index as u64) << 20);
                let name = dnmscope_model::MarketName::new(&market).expect("a market name");
                let key = dnmscope_model::PseudonymKey::from_bytes([5; 32]);
                for round in 0..rounds {
                    let mutated = mutate(&mut rng, &page, &other);
                    let outcome = std::panic::catch_unwind(|| {
                        let parsed = parse_page(&mutated, Some(definition), Limits::default());
                        let auto =
                            dnmscope_parse::parse_page_auto(&mutated, &markets, Limits::default());
                        let ctx = dnmscope_parse::PageContext {
                            market: &name,
                            url: "http://fuzz.onion/a/b?c=d",
                            captured_at: chrono::Utc::now(),
                            pseudonyms: &key,
                        };
                        let _ = dnmscope_parse::to_extraction(&parsed, &ctx);
                        let _ = dnmscope_parse::to_extraction(&auto, &ctx);
                        serde_json::to_string(&parsed).expect("a parsed page serialises");
                        assert!(!parsed.page_kind.as_str().is_empty());
                    });
                    if outcome.is_err() {
                        let saved = std::env::temp_dir()
                            .join(format!("dnmscope-fuzz-{market}-{stem}-{seed}-{round}.html"));
                        let _ = std::fs::write(&saved, &mutated);
                        return Err(format!(
                            "round {round} (seed {seed}) panicked; the input is in {}",
                            saved.display()
                        )
                        .into());
                    }
                }
                Ok(())
            })
        })
        .collect()
}
