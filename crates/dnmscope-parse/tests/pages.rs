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
//! `redact::*` trials take every page of both corpora through `identifiers` and `redact` and
//! check the result against what the page shows, found independently of the definitions'
//! `[[redact]]` rules: no masked buyer is left (the sim skins' and Empire's `b***3`, Dream's
//! `s . . . r`), no forum author who is not a vendor (the simulator's truth, minus the authors
//! rendered with the vendor tag) and no account the page was fetched with ("Logged in as ...");
//! every vendor handle the page shows (expected and parsed) is left as often as it was; nothing
//! the rules found is missed in the bytes; and the page is still the same kind of page.
//!
//! `fuzz::*` trials are a mutation fuzzer seeded from every page of both corpora: each page is
//! mutated (bytes flipped, hostile fragments spliced in, slices repeated, cut short, pages
//! spliced together) and parsed with its market's definition and with `--market auto`, then
//! turned into model values; nothing may panic, and every page must come back with a kind. CI
//! runs 4 mutations per page (a fixed seed); `DNMSCOPE_FUZZ_ROUNDS=N` runs N per page, and
//! `DNMSCOPE_FUZZ_SEED` another seed. (`cargo fuzz` needs a nightly toolchain, which this
//! project's machines cannot fetch; a crash found here becomes a `hostile::` case.)

use std::path::{Path, PathBuf};

use std::sync::LazyLock;

use dnmscope_parse::{builtin_markets, parse_page, Limits, Market, ParsedPage};
use libtest_mimic::{Arguments, Failed, Trial};
use rand::{Rng, SeedableRng};

fn main() {
    let args = Arguments::from_args();
    let mut trials = golden_trials();
    trials.extend(sim_trials());
    trials.extend(redact_trials());
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

/// Redaction trials for every page of the simulator's corpus and of the real one.
fn redact_trials() -> Vec<Trial> {
    let mut pages: Vec<(String, PathBuf, Option<PathBuf>)> = Vec::new();
    let sim = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/sim");
    for market in ["nightshade", "cobalt", "tessera"] {
        let entries = std::fs::read_dir(sim.join(market).join("pages"))
            .expect("the simulator corpus is part of the repository");
        for page in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let expected = sim
                .join(market)
                .join("expected")
                .join(page.with_extension("json").file_name().unwrap_or_default());
            pages.push((market.to_owned(), page, Some(expected)));
        }
    }
    let real = corpus_dir();
    let mut trials = Vec::new();
    for market in ["dream", "empire"] {
        let before = pages.len();
        for folder in ["pages", "unlabelled"] {
            let Ok(entries) = std::fs::read_dir(real.join(market).join(folder)) else {
                continue;
            };
            for page in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                let expected = real
                    .join(market)
                    .join("expected")
                    .join(page.with_extension("json").file_name().unwrap_or_default());
                let expected = expected.is_file().then_some(expected);
                pages.push((market.to_owned(), page, expected));
            }
        }
        if pages.len() == before {
            eprintln!(
                "redact::{market}: ignored: the real corpus is not at {}",
                real.display()
            );
            trials.push(
                Trial::test(format!("redact::{market}::corpus_missing"), || Ok(()))
                    .with_ignored_flag(true),
            );
        }
    }
    pages.sort();
    for (market, page, expected) in pages {
        let stem = page
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        trials.push(Trial::test(
            format!("redact::{market}::{stem}"),
            move || {
                let markets = builtin_markets().expect("the built-in definitions compile");
                let definition = markets
                    .iter()
                    .find(|m| m.name == market)
                    .expect("a built-in definition");
                check_redaction(definition, &page, expected.as_deref())
            },
        ));
    }
    trials
}

/// Masked buyers as the markets show them, whatever the definitions say: `b***3` (the
/// simulator's skins, Empire) and `s . . . r` (Dream).
static MASKED_BUYER: LazyLock<Vec<regex::Regex>> = LazyLock::new(|| {
    [r"\w\*{3}\w", r"\S \. \. \. \S"]
        .iter()
        .map(|p| regex::Regex::new(p).expect("a valid pattern"))
        .collect()
});

/// The account a page was fetched with, as each market's menu shows it.
static ACCOUNT: LazyLock<Vec<regex::Regex>> = LazyLock::new(|| {
    [
        // Empire
        r"Logged in as <a [^>]*>([^<]+)</a>",
        // Dream
        r#"title="Update my profile settings"><a href="[^"]*">([^<]+)</a>"#,
        // the simulator's table, cards and list skins
        r#"class="user">([^<|]+?) \| <a"#,
        r#"class="hello">Hello, ([^<]+)</li>"#,
        r"signed in as <b>([^<]+)</b>",
    ]
    .iter()
    .map(|p| regex::Regex::new(p).expect("a valid pattern"))
    .collect()
});

/// How often `needle` occurs in `text` as a whole word (ASCII letters, digits and `_` are
/// word bytes), as itself or HTML-escaped.
fn count_whole(text: &str, needle: &str) -> usize {
    let escaped = needle
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    let mut forms = vec![needle.to_owned()];
    if escaped != needle {
        forms.push(escaped);
    }
    forms
        .iter()
        .map(|form| {
            text.match_indices(form.as_str())
                .filter(|(at, m)| {
                    let bytes = text.as_bytes();
                    !word(at.checked_sub(1).and_then(|i| bytes.get(i)))
                        && !word(bytes.get(at + m.len()))
                })
                .count()
        })
        .sum()
}

/// The vendor handles a page's fields name (`vendor`, `name`, `listings[].vendor`).
fn vendor_handles(fields: &serde_json::Value, out: &mut Vec<String>) {
    for key in ["vendor", "name"] {
        if let Some(handle) = fields.get(key).and_then(serde_json::Value::as_str) {
            out.push(handle.to_owned());
        }
    }
    for row in fields
        .get("listings")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(handle) = row.get("vendor").and_then(serde_json::Value::as_str) {
            out.push(handle.to_owned());
        }
    }
}

/// The one check of every redaction trial: see the module documentation.
fn check_redaction(market: &Market, page: &Path, expected: Option<&Path>) -> Result<(), Failed> {
    let bytes = std::fs::read(page).map_err(|e| format!("reading {}: {e}", page.display()))?;
    let html = String::from_utf8_lossy(&bytes).into_owned();
    let (found, cut) = dnmscope_parse::identifiers_within(market, &html, Limits::default());
    if !cut.is_empty() {
        return Err(format!("the page was not read whole: {cut:?}").into());
    }
    let redacted = dnmscope_parse::redact(&bytes, &found, |_| "[x]".to_owned());
    if !redacted.missed.is_empty() {
        return Err(format!(
            "found in the page but not in its bytes: {:?}",
            redacted.missed
        )
        .into());
    }
    let after = String::from_utf8_lossy(&redacted.body).into_owned();
    let marks = after.matches("[x]").count() - html.matches("[x]").count();
    if marks != redacted.replaced {
        return Err(format!(
            "{} replaced, {marks} replacements in the page",
            redacted.replaced
        )
        .into());
    }
    for pattern in MASKED_BUYER.iter() {
        if let Some(left) = pattern.find(&after) {
            let from = after.floor_char_boundary(left.start().saturating_sub(80));
            let to = after.ceil_char_boundary((left.end() + 40).min(after.len()));
            return Err(format!("a masked buyer is left: {:?}", &after[from..to]).into());
        }
    }
    let expected: Option<serde_json::Value> = match expected {
        Some(path) => Some(
            serde_json::from_str(
                &std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?,
            )
            .map_err(|e| format!("{}: {e}", path.display()))?,
        ),
        None => None,
    };
    let parsed = parse_page(&html, Some(market), Limits::default());
    let mut vendors = Vec::new();
    let mut people = Vec::new();
    if let Some(fields) = expected.as_ref().and_then(|e| e.get("fields")) {
        vendor_handles(fields, &mut vendors);
        // Forum authors: the simulator's truth; a vendor's is rendered as a link with the
        // vendor tag after it.
        for post in fields
            .get("posts")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(author) = post.get("author").and_then(serde_json::Value::as_str) else {
                continue;
            };
            let tagged = format!(">{author}</a> <span class=\"tag\">Vendor</span>");
            if html.contains(&tagged) {
                vendors.push(author.to_owned());
            } else {
                people.push(author.to_owned());
            }
        }
    }
    // The parser's handles too (the unlabelled pages have no truth), where the page holds them
    // as they are (a Dream vendor's name is parsed with the "()" of its external ratings).
    let mut parsed_vendors = Vec::new();
    vendor_handles(
        &serde_json::Value::Object(parsed.fields.clone()),
        &mut parsed_vendors,
    );
    let required = vendors.len();
    vendors.extend(parsed_vendors);
    for pattern in ACCOUNT.iter() {
        people.extend(pattern.captures_iter(&html).map(|c| c[1].trim().to_owned()));
    }
    people.sort();
    people.dedup();
    for person in &people {
        if vendors.contains(person) {
            continue;
        }
        let left = count_whole(&after, person);
        if left > 0 {
            return Err(format!("{person:?} is left {left} times").into());
        }
    }
    for (index, vendor) in vendors.iter().enumerate() {
        let (was, is) = (count_whole(&html, vendor), count_whole(&after, vendor));
        if (was == 0 && index < required) || was != is {
            return Err(format!("vendor {vendor:?} was on the page {was} times, now {is}").into());
        }
    }
    let reparsed = parse_page(&after, Some(market), Limits::default());
    if reparsed.page_kind != parsed.page_kind {
        return Err(format!(
            "redacted, the page is a {} page, not a {} page",
            reparsed.page_kind.as_str(),
            parsed.page_kind.as_str()
        )
        .into());
    }
    Ok(())
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
                        let (found, _) = dnmscope_parse::identifiers_within(
                            definition,
                            &mutated,
                            Limits::default(),
                        );
                        let _ =
                            dnmscope_parse::redact(mutated.as_bytes(), &found, |_| "[x]".into());
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
