//! Re-parsing stored captures with the current market definitions.
//!
//! [`reparse`] walks the selected captures in id order, a batch at a time. A capture whose
//! newest extraction is already of its definition's current version is left alone; the others
//! are read back, parsed on every core, and their new extraction is stored beside the old ones
//! ([`Store::reparse_pages`], which marks the old ones replaced: analytics read the newest).
//! What changed is counted per page kind and field against the capture's previous extraction,
//! so a researcher sees what a definition change did to the data before trusting it. Captures of
//! the unknown market (pages an import could not attribute) are recognised again; one a
//! definition now recognises is stored as a capture of its market.

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use dnmscope_model::{Capture, Extraction, MarketName, PseudonymKey};
use dnmscope_parse::{parse_page, parse_page_auto, Limits, Market};
use dnmscope_store::{ReparseCandidate, ReparseSelection, Store, StoreError};
use serde::Serialize;
use serde_json::Value;

use crate::import::{extraction_of, UNKNOWN_MARKET};
use crate::Stop;

/// Captures read per batch.
const BATCH: i64 = 256;

/// What a re-parse needs.
pub struct ReparseConfig {
    pub definitions: Vec<Market>,
    /// Configured market names to their definition's index (a market without an entry is read
    /// with the definition of its own name).
    pub markets: HashMap<String, usize>,
    pub pseudonyms: PseudonymKey,
    pub parse_limits: Limits,
    pub threads: usize,
}

impl std::fmt::Debug for ReparseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pseudonym key is a secret: never printed.
        f.debug_struct("ReparseConfig")
            .field("markets", &self.markets)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// How one field's values moved between the previous parse and the new one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// A value before and a different one now.
    pub changed: u64,
    /// No value before, one now.
    pub added: u64,
    /// A value before, none now.
    pub removed: u64,
}

/// What a re-parse did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReparseSummary {
    /// Captures selected.
    pub captures: u64,
    /// Captures parsed again and stored with a new extraction.
    pub reparsed: u64,
    /// Captures already parsed by their definition's current version (left alone).
    pub current: u64,
    /// Captures of markets no definition is known for, by market.
    pub no_definition: BTreeMap<String, u64>,
    /// Captures of the unknown market a definition now recognises (stored as its captures).
    pub recognised: BTreeMap<String, u64>,
    /// Older extractions replaced.
    pub superseded: u64,
    /// Version moves, "old -> new".
    pub versions: BTreeMap<String, u64>,
    /// Captures whose page kind changed, "old -> new".
    pub page_kinds: BTreeMap<String, u64>,
    /// Per page kind (the new parse's), per field ("listing.price", "vendor.rating",
    /// "listings" for listings found or lost, "posts"): how the values moved.
    pub changes: BTreeMap<String, BTreeMap<String, FieldChange>>,
    /// Re-parsed captures whose observations did not change at all.
    pub unchanged: u64,
    /// Extractions the store refused (with the reason), by reason.
    pub refused: BTreeMap<String, u64>,
    /// True when stopped before the end (run it again to go on: done captures are current).
    pub stopped: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReparseError {
    #[error("{action}")]
    Store {
        action: String,
        #[source]
        source: StoreError,
    },
    #[error("the re-parse's parsing threads stopped unexpectedly")]
    Threads,
}

fn during<T>(
    result: Result<T, StoreError>,
    action: impl FnOnce() -> String,
) -> Result<T, ReparseError> {
    result.map_err(|source| ReparseError::Store {
        action: action(),
        source,
    })
}

/// One capture to parse, with the definition to parse it with (None: recognise the market).
struct Work {
    candidate: ReparseCandidate,
    capture: Capture,
    definition: Option<usize>,
}

/// One capture parsed.
struct Done {
    candidate: ReparseCandidate,
    capture: Capture,
    extraction: Extraction,
    /// The market a definition recognised, for a capture of the unknown market.
    recognised: Option<MarketName>,
}

/// Parses the selected captures again; `progress` is told how many captures were looked at.
pub async fn reparse(
    store: &Store,
    config: Arc<ReparseConfig>,
    selection: &ReparseSelection,
    progress: &(dyn Fn(u64) + Sync),
    stop: &Stop,
) -> Result<ReparseSummary, ReparseError> {
    let mut summary = ReparseSummary::default();
    let mut after = 0;
    loop {
        if stop.requested() {
            summary.stopped = true;
            break;
        }
        let candidates = during(
            store.reparse_candidates(selection, after, BATCH).await,
            || "listing captures to re-parse".to_owned(),
        )?;
        let Some(last) = candidates.last() else {
            break;
        };
        after = last.capture_id;
        let mut work = Vec::new();
        for candidate in candidates {
            summary.captures += 1;
            let definition = if candidate.market == UNKNOWN_MARKET {
                None
            } else {
                match config.markets.get(&candidate.market).copied().or_else(|| {
                    config
                        .definitions
                        .iter()
                        .position(|d| d.name == candidate.market)
                }) {
                    Some(index) => Some(index),
                    None => {
                        *summary
                            .no_definition
                            .entry(candidate.market.clone())
                            .or_default() += 1;
                        continue;
                    }
                }
            };
            let current = definition.map(|i| config.definitions[i].parser_version());
            if current.is_some() && current == candidate.parser_version {
                summary.current += 1;
                continue;
            }
            let capture = during(store.capture(candidate.capture_id).await, || {
                format!("reading capture {}", candidate.capture_id)
            })?;
            work.push(Work {
                candidate,
                capture,
                definition,
            });
        }
        let parsed = {
            let config = Arc::clone(&config);
            tokio::task::spawn_blocking(move || parse_all(&config, work))
                .await
                .map_err(|_| ReparseError::Threads)?
        };
        let mut fresh = Vec::new();
        let mut moved = Vec::new();
        for done in parsed {
            if done.recognised.is_some() {
                moved.push(done);
                continue;
            }
            if done.candidate.parser_version.as_deref() == Some(&done.extraction.parser_version) {
                // An unknown-market page still recognised by nothing.
                summary.current += 1;
                continue;
            }
            let before = match done.candidate.extraction_id {
                Some(id) => during(store.extraction_contents(id).await, || {
                    format!("reading extraction {id}")
                })?,
                None => Default::default(),
            };
            count_changes(&mut summary, &done, &before);
            fresh.push(done);
        }
        if !fresh.is_empty() {
            let items: Vec<(i64, &Extraction)> = fresh
                .iter()
                .map(|d| (d.candidate.capture_id, &d.extraction))
                .collect();
            let stored = during(store.reparse_pages(&items).await, || {
                format!("storing {} re-parsed extractions", items.len())
            })?;
            for (done, result) in fresh.iter().zip(stored) {
                match result.ingest {
                    Ok(_) => {
                        summary.reparsed += 1;
                        summary.superseded += result.superseded;
                        let old = done.candidate.parser_version.as_deref().unwrap_or("none");
                        *summary
                            .versions
                            .entry(format!("{old} -> {}", done.extraction.parser_version))
                            .or_default() += 1;
                    }
                    Err(refused) => {
                        *summary.refused.entry(refused.to_string()).or_default() += 1;
                    }
                }
            }
        }
        if !moved.is_empty() {
            let pages: Vec<(Capture, Extraction)> = moved
                .iter()
                .map(|d| (d.capture.clone(), d.extraction.clone()))
                .collect();
            let stored = during(store.import_pages(&pages).await, || {
                format!("storing {} recognised captures", pages.len())
            })?;
            for ((capture, _), page) in pages.iter().zip(stored) {
                if page.capture_new {
                    summary.reparsed += 1;
                    *summary
                        .recognised
                        .entry(capture.market.as_str().to_owned())
                        .or_default() += 1;
                } else {
                    summary.current += 1;
                }
            }
        }
        progress(summary.captures);
    }
    Ok(summary)
}

/// Parses a batch on `config.threads` threads, in order.
fn parse_all(config: &ReparseConfig, work: Vec<Work>) -> Vec<Done> {
    let threads = config.threads.max(1);
    let per = work.len().div_ceil(threads).max(1);
    let mut chunks: Vec<Vec<Work>> = Vec::new();
    let mut work = work.into_iter().peekable();
    while work.peek().is_some() {
        chunks.push(work.by_ref().take(per).collect());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                std::thread::Builder::new()
                    .stack_size(64 * 1024 * 1024)
                    .spawn_scoped(scope, move || {
                        chunk
                            .into_iter()
                            .map(|w| parse_one(config, w))
                            .collect::<Vec<_>>()
                    })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.ok())
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn parse_one(config: &ReparseConfig, work: Work) -> Done {
    let html = String::from_utf8_lossy(&work.capture.body);
    let limits = config.parse_limits;
    let parsed = catch_unwind(AssertUnwindSafe(|| match work.definition {
        Some(index) => parse_page(&html, config.definitions.get(index), limits),
        None => parse_page_auto(&html, &config.definitions, limits),
    }))
    .unwrap_or_else(|_| dnmscope_parse::refused_page("the parser crashed on this page".to_owned()));
    let recognised = match work.definition {
        None => parsed
            .market
            .as_deref()
            .and_then(|name| MarketName::new(name).ok()),
        Some(_) => None,
    };
    let mut capture = work.capture;
    if let Some(market) = &recognised {
        capture.market = market.clone();
    }
    let extraction = extraction_of(&parsed, &capture, &config.pseudonyms);
    Done {
        candidate: work.candidate,
        capture,
        extraction,
        recognised,
    }
}

/// Counts what the new parse of a capture changed against what its previous one stored.
fn count_changes(
    summary: &mut ReparseSummary,
    done: &Done,
    before: &dnmscope_store::ExtractionContents,
) {
    let new_kind = done.extraction.page_kind.as_str();
    let old_kind = done.candidate.page_kind.as_deref().unwrap_or("none");
    let mut any = false;
    if old_kind != new_kind {
        *summary
            .page_kinds
            .entry(format!("{old_kind} -> {new_kind}"))
            .or_default() += 1;
        any = true;
    }
    let fields = summary.changes.entry(new_kind.to_owned()).or_default();
    let keyed_listings = |listings: &'_ [dnmscope_model::Listing]| -> BTreeMap<String, Value> {
        listings
            .iter()
            .map(|l| {
                (
                    l.key.clone(),
                    serde_json::to_value(l).unwrap_or(Value::Null),
                )
            })
            .collect()
    };
    let old_listings = keyed_listings(&before.listings);
    let new_listings = keyed_listings(&done.extraction.listings);
    any |= compare_entities("listing", &old_listings, &new_listings, fields);
    // A vendor's armored key is stored once per fingerprint, not with each observation: the
    // fingerprint says whether it changed.
    let vendor_value = |v: &dnmscope_model::Vendor| {
        let mut value = serde_json::to_value(v).unwrap_or(Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.remove("pgp_key");
        }
        value
    };
    let keyed_vendors = |vendors: &'_ [dnmscope_model::Vendor]| -> BTreeMap<String, Value> {
        vendors
            .iter()
            .map(|v| (v.handle.clone(), vendor_value(v)))
            .collect()
    };
    let old_vendors = keyed_vendors(&before.vendors);
    let new_vendors = keyed_vendors(&done.extraction.vendors);
    any |= compare_entities("vendor", &old_vendors, &new_vendors, fields);
    let posts = done.extraction.posts.len() as u64;
    if posts != before.posts {
        let change = fields.entry("posts".to_owned()).or_default();
        if posts > before.posts {
            change.added += posts - before.posts;
        } else {
            change.removed += before.posts - posts;
        }
        any = true;
    }
    if !any {
        summary.unchanged += 1;
    }
}

/// Counts entity and field moves between two parses of a page (entities by key). True when
/// anything moved.
fn compare_entities(
    what: &str,
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
    fields: &mut BTreeMap<String, FieldChange>,
) -> bool {
    let mut any = false;
    for (key, before) in old {
        let Some(after) = new.get(key) else {
            fields.entry(format!("{what}s")).or_default().removed += 1;
            any = true;
            continue;
        };
        let empty = serde_json::Map::new();
        let b = before.as_object().unwrap_or(&empty);
        let a = after.as_object().unwrap_or(&empty);
        let mut names: Vec<&String> = b.keys().chain(a.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let (x, y) = (b.get(name), a.get(name));
            let present = |v: Option<&Value>| {
                v.is_some_and(|v| {
                    !(v.is_null()
                        || v.as_array().is_some_and(Vec::is_empty)
                        || v.as_object().is_some_and(serde_json::Map::is_empty))
                })
            };
            let change = match (present(x), present(y)) {
                (false, false) => continue,
                (true, true) if x == y => continue,
                (true, true) => |c: &mut FieldChange| c.changed += 1,
                (false, true) => |c: &mut FieldChange| c.added += 1,
                (true, false) => |c: &mut FieldChange| c.removed += 1,
            };
            change(fields.entry(format!("{what}.{name}")).or_default());
            any = true;
        }
    }
    for key in new.keys() {
        if !old.contains_key(key) {
            fields.entry(format!("{what}s")).or_default().added += 1;
            any = true;
        }
    }
    any
}
