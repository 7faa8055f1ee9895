//! `dnmscope parse`, `dnmscope eval` and `dnmscope bench parse`: the parser on saved pages,
//! scored against a labelled corpus, and timed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use dnmscope_parse::compare::{score_page, PageScore};
use dnmscope_parse::{
    builtin_markets, parse_page, parse_page_auto, FieldYield, Limits, Market, ParsedPage,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::cli::{EvalArgs, MarketsArgs, ParseArgs};

/// The built-in definitions, with those of `--markets-dir` added (or replacing a built-in one of
/// the same name).
fn load_markets(args: &MarketsArgs) -> anyhow::Result<Vec<Market>> {
    let mut markets = builtin_markets().context("compiling the built-in market definitions")?;
    if let Some(dir) = &args.markets_dir {
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .with_context(|| format!("reading the market directory {}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        for path in files {
            let text =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let market = Market::from_toml(&path.display().to_string(), &text)?;
            for warning in market.warnings() {
                eprintln!("warning: {warning}");
            }
            markets.retain(|m| m.name != market.name);
            markets.push(market);
        }
    }
    Ok(markets)
}

fn find_market<'a>(markets: &'a [Market], name: &str) -> anyhow::Result<&'a Market> {
    markets.iter().find(|m| m.name == name).with_context(|| {
        let known: Vec<&str> = markets.iter().map(|m| m.name.as_str()).collect();
        format!(
            "no market definition named {name:?} (known: {}, or auto)",
            known.join(", ")
        )
    })
}

fn read_page(path: &Path) -> anyhow::Result<String> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn parse_with(html: &str, market: &str, markets: &[Market]) -> ParsedPage {
    if market == "auto" {
        parse_page_auto(html, markets, Limits::default())
    } else {
        // Checked by the caller: the market exists.
        let definition = markets.iter().find(|m| m.name == market);
        parse_page(html, definition, Limits::default())
    }
}

/// One line of `dnmscope parse`'s output, in this key order.
#[derive(Serialize)]
struct ParseLine<'a> {
    file: String,
    market: Option<&'a str>,
    page_kind: &'a str,
    fields: &'a serde_json::Map<String, Value>,
    links: &'a [dnmscope_parse::Link],
    diagnostics: &'a [dnmscope_parse::Diagnostic],
}

pub fn parse(args: &ParseArgs) -> anyhow::Result<ExitCode> {
    let markets = load_markets(&args.markets)?;
    if args.market != "auto" {
        find_market(&markets, &args.market)?;
    }
    let mut yields = FieldYield::default();
    let mut failed = 0;
    for file in &args.files {
        let html = match read_page(file) {
            Ok(html) => html,
            Err(err) => {
                eprintln!("error: {err:#}");
                failed += 1;
                continue;
            }
        };
        let page = parse_with(&html, &args.market, &markets);
        let market = page
            .market
            .as_deref()
            .and_then(|name| markets.iter().find(|m| m.name == name));
        yields.add(market, &page);
        let line = ParseLine {
            file: file.display().to_string(),
            market: page.market.as_deref(),
            page_kind: page.page_kind.as_str(),
            fields: &page.fields,
            links: &page.links,
            diagnostics: &page.diagnostics,
        };
        println!(
            "{}",
            serde_json::to_string(&line).context("writing a parsed page")?
        );
    }
    // The drift signal: which fields each page kind yielded in this run.
    for line in yields.lines() {
        eprintln!("field yield: {line}");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One labelled page of a corpus.
struct LabelledPage {
    market: String,
    name: String,
    page: PathBuf,
    expected: PathBuf,
}

/// An unlabelled page of a corpus: its market (folder) and path.
type UnlabelledPage = (String, PathBuf);

/// The labelled pages of a corpus in SCHEMA.md's layout, and its unlabelled ones.
fn corpus_pages(corpus: &Path) -> anyhow::Result<(Vec<LabelledPage>, Vec<UnlabelledPage>)> {
    let mut labelled = Vec::new();
    let mut unlabelled = Vec::new();
    let mut market_dirs: Vec<PathBuf> = fs::read_dir(corpus)
        .with_context(|| format!("reading the corpus {}", corpus.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("expected").is_dir())
        .collect();
    market_dirs.sort();
    if market_dirs.is_empty() {
        bail!(
            "{} has no <market>/expected/ directory: not a corpus in SCHEMA.md's layout",
            corpus.display()
        );
    }
    for dir in market_dirs {
        let market = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut expected: Vec<PathBuf> = fs::read_dir(dir.join("expected"))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        expected.sort();
        for path in expected {
            let name = path
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            labelled.push(LabelledPage {
                market: market.clone(),
                page: dir.join("pages").join(format!("{name}.html")),
                name,
                expected: path,
            });
        }
        if let Ok(entries) = fs::read_dir(dir.join("unlabelled")) {
            let mut pages: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .collect();
            pages.sort();
            unlabelled.extend(pages.into_iter().map(|p| (market.clone(), p)));
        }
    }
    Ok((labelled, unlabelled))
}

#[derive(Debug, Default, Serialize)]
struct Tally {
    matched: u64,
    total: u64,
}

impl Tally {
    fn add(&mut self, matched: bool) {
        self.total += 1;
        self.matched += u64::from(matched);
    }
    fn share(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.matched as f64 / self.total as f64
        }
    }
}

#[derive(Debug, Default, Serialize)]
struct MarketReport {
    /// Page kinds and fields together: every expected value.
    values: Tally,
    page_kinds: Tally,
    fields: Tally,
    /// "page_kind field" -> tally.
    by_field: BTreeMap<String, Tally>,
    mismatches: Vec<Value>,
    /// Unlabelled pages and the kind they were given.
    unlabelled: BTreeMap<String, String>,
}

pub fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let markets = load_markets(&args.markets)?;
    let (labelled, unlabelled) = corpus_pages(&args.corpus)?;
    let mut reports: BTreeMap<String, MarketReport> = BTreeMap::new();
    for item in &labelled {
        let report = reports.entry(item.market.clone()).or_default();
        let expected: Value = serde_json::from_str(
            &fs::read_to_string(&item.expected)
                .with_context(|| format!("reading {}", item.expected.display()))?,
        )
        .with_context(|| format!("reading {}", item.expected.display()))?;
        let html = read_page(&item.page)?;
        let definition = markets.iter().find(|m| m.name == item.market);
        let parsed = parse_page(&html, definition, Limits::default());
        let score: PageScore = score_page(&expected, &parsed);
        report.page_kinds.add(score.kind_matched);
        report.values.add(score.kind_matched);
        report
            .by_field
            .entry(format!("{} page_kind", score.expected_kind))
            .or_default()
            .add(score.kind_matched);
        if !score.kind_matched {
            report.mismatches.push(json!({
                "page": item.name,
                "field": "page_kind",
                "expected": score.expected_kind,
                "actual": score.actual_kind,
            }));
        }
        for field in &score.fields {
            let diagnostics: Vec<String> = parsed
                .diagnostics
                .iter()
                .filter_map(|d| {
                    let name = d.field.as_deref()?;
                    (name.split(['.', '[']).next() == Some(&field.field))
                        .then(|| format!("{name}: {}", d.message))
                })
                .collect();
            if !field.items.is_empty() {
                // A list of records: every key of every expected item is a value of its own,
                // found only when the parsed item has it; only the items that differ are shown.
                for entry in &field.items {
                    report.fields.add(entry.matched);
                    report.values.add(entry.matched);
                    report
                        .by_field
                        .entry(format!(
                            "{} {}[].{}",
                            score.expected_kind, field.field, entry.key
                        ))
                        .or_default()
                        .add(entry.matched);
                    if !entry.matched {
                        report.mismatches.push(json!({
                            "page": item.name,
                            "field": format!("{}[{}].{}", field.field, entry.index, entry.key),
                            "expected": entry.expected,
                            "actual": entry.actual,
                            "diagnostics": diagnostics
                                .iter()
                                .filter(|d| d.starts_with(&format!("{}[{}]", field.field, entry.index)))
                                .collect::<Vec<_>>(),
                        }));
                    }
                }
                if let Some((expected, actual)) = field.lengths.filter(|(e, a)| e != a) {
                    report.mismatches.push(json!({
                        "page": item.name,
                        "field": field.field,
                        "expected_items": expected,
                        "actual_items": actual,
                    }));
                }
                continue;
            }
            report.fields.add(field.matched);
            report.values.add(field.matched);
            report
                .by_field
                .entry(format!("{} {}", score.expected_kind, field.field))
                .or_default()
                .add(field.matched);
            if !field.matched {
                report.mismatches.push(json!({
                    "page": item.name,
                    "field": field.field,
                    "expected": field.expected,
                    "actual": field.actual,
                    "diagnostics": diagnostics,
                }));
            }
        }
    }
    for (market, path) in &unlabelled {
        let html = read_page(path)?;
        let definition = markets.iter().find(|m| &m.name == market);
        let parsed = parse_page(&html, definition, Limits::default());
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        reports
            .entry(market.clone())
            .or_default()
            .unlabelled
            .insert(name, parsed.page_kind.as_str().to_string());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).context("writing the report")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (market, report) in &reports {
        if !markets.iter().any(|m| &m.name == market) {
            println!("{market}: no market definition of that name; every value counts as missed");
        }
        println!(
            "{market}: {}/{} expected values matched ({:.1} %): page kinds {}/{}, fields {}/{}",
            report.values.matched,
            report.values.total,
            100.0 * report.values.share(),
            report.page_kinds.matched,
            report.page_kinds.total,
            report.fields.matched,
            report.fields.total,
        );
        for (field, tally) in &report.by_field {
            println!(
                "  {field:<40} {:>3}/{:<3} {:>5.1} %",
                tally.matched,
                tally.total,
                100.0 * tally.share()
            );
        }
        for mismatch in &report.mismatches {
            println!("  mismatch: {mismatch}");
        }
        for (name, kind) in &report.unlabelled {
            println!("  unlabelled {name}: {kind}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Time spent in the timed parts of a benchmark: this thread's CPU time where the kernel tells
/// it (Linux), else wall time.
#[derive(Default)]
struct Clock {
    cpu: f64,
    wall: f64,
    cpu_known: bool,
    rounds: u32,
}

impl Clock {
    fn time(&mut self, work: impl FnOnce()) {
        let cpu_start = thread_cpu_seconds();
        let wall_start = Instant::now();
        work();
        self.wall += wall_start.elapsed().as_secs_f64();
        match (cpu_start, thread_cpu_seconds()) {
            (Some(start), Some(end)) => {
                self.cpu += end - start;
                self.cpu_known = self.rounds == 0 || self.cpu_known;
            }
            _ => self.cpu_known = false,
        }
        self.rounds += 1;
    }

    fn seconds(&self) -> (f64, &'static str) {
        if self.cpu_known {
            (self.cpu, "CPU")
        } else {
            (self.wall, "wall-clock")
        }
    }
}

/// CPU time of this thread, from the kernel's scheduler statistics (Linux), else wall time.
fn thread_cpu_seconds() -> Option<f64> {
    let text = fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

pub fn bench(corpus: &Path, rounds: u32, args: &MarketsArgs) -> anyhow::Result<ExitCode> {
    let markets = load_markets(args)?;
    let (labelled, unlabelled) = corpus_pages(corpus)?;
    let mut pages = Vec::new();
    for item in &labelled {
        pages.push((item.market.clone(), read_page(&item.page)?));
    }
    for (market, path) in &unlabelled {
        pages.push((market.clone(), read_page(path)?));
    }
    let bytes: usize = pages.iter().map(|(_, html)| html.len()).sum();
    // The engine (limits, definitions, extraction) and bare html5ever tree building, round by
    // round in turn, so both see the same machine.
    let mut engine = Clock::default();
    let mut bare = Clock::default();
    let mut fields = 0usize;
    let mut nodes = 0usize;
    for _ in 0..rounds {
        engine.time(|| {
            for (market, html) in &pages {
                let definition = markets.iter().find(|m| &m.name == market);
                let parsed = parse_page(html, definition, Limits::default());
                fields += parsed.fields.len();
            }
        });
        bare.time(|| {
            for (_, html) in &pages {
                nodes += dnmscope_parse::bare_tree(html);
            }
        });
    }
    let parsed = pages.len() as f64 * f64::from(rounds);
    let (seconds, clock) = engine.seconds();
    println!(
        "parsed {} pages ({:.1} MB) x {rounds} rounds on one thread in {seconds:.2} {clock} seconds: \
         {:.0} pages per {clock} second, {:.1} MB/s ({fields} fields)",
        pages.len(),
        bytes as f64 / 1e6,
        parsed / seconds.max(1e-9),
        bytes as f64 * f64::from(rounds) / 1e6 / seconds.max(1e-9),
    );
    let (bare_seconds, _) = bare.seconds();
    println!(
        "tree building alone (html5ever through scraper, no limits, no definition): {:.0} pages per {clock} second ({nodes} nodes); \
         the engine takes {:.2}x its time",
        parsed / bare_seconds.max(1e-9),
        seconds / bare_seconds.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
