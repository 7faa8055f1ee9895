//! `dnmscope export warc`: stored captures as a WARC 1.1 file, redacted by default.
//!
//! Raw pages name people: buyers (masked handles in feedback rows) and forum or feedback
//! authors who are not vendors. A shared WARC must not. By default each page goes through its
//! market definition's `[[redact]]` rules (`dnmscope_parse::redact`): a buyer becomes
//! `[buyer]`, an author the keyed pseudonym the tables use (`[author]` when the pseudonym key
//! is not at hand). A page the rules find a person on that cannot be replaced byte for byte, a
//! page not read whole (past the parser's limits), and a page of a market without a definition
//! or whose definition has no `[[redact]]` rules, are left out and counted. `--raw` writes pages
//! as stored; the warcinfo record says which of the two a file is.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use dnmscope_model::{CrawlId, Pseudonym};
use dnmscope_parse::redact::{self, Identifier, IdentifierKind};
use dnmscope_parse::Market;
use dnmscope_store::{Store, StoreError, StoreOptions};

use crate::config::Config;

/// What the export did, printed at the end.
#[derive(Debug, Default)]
struct Tally {
    written: u64,
    spans_replaced: u64,
    pages_redacted: u64,
    withheld_unredactable: u64,
    /// Pages not read whole (past the parser's limits): a person may be past the cut.
    withheld_unread: u64,
    /// Per market: no definition, or one without `[[redact]]` rules.
    withheld_no_definition: BTreeMap<String, u64>,
    purged: u64,
}

pub async fn export_warc(
    config: &Config,
    options: &StoreOptions,
    out: &Path,
    crawl: Option<i64>,
    raw: bool,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(options).await?;
    // The definitions that know where people are on a market's pages.
    let definitions: Vec<Market> = super::crawl::definitions(&config.crawl.definitions_dir)?;
    let definition_of = |market: &str| -> Option<&Market> {
        let wanted = config
            .markets
            .get(market)
            .and_then(|m| m.definition.as_deref())
            .unwrap_or(market);
        definitions.iter().find(|d| d.name == wanted)
    };
    let pseudonyms = if raw {
        None
    } else {
        super::keys::existing_pseudonym_key(config)?
    };
    let ids = store.capture_ids(crawl.map(CrawlId)).await?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut writer = dnmscope_fetch::warc::WarcWriter::new(std::io::BufWriter::new(file));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let redaction = if raw {
        "none: written with --raw; the pages name buyers and forum authors as the markets showed them; do not share this file".to_string()
    } else {
        format!(
            "redacted: spans the market definitions mark as buyers are replaced by [buyer], non-vendor authors by {}; pages that could not be redacted are left out",
            if pseudonyms.is_some() {
                "their keyed pseudonyms (as in the tables)"
            } else {
                "[author] (the pseudonym key was not found)"
            }
        )
    };
    writer.write_info_with(
        &name,
        chrono::Utc::now(),
        &[("dnmscope-redaction", &redaction)],
    )?;
    let mut tally = Tally::default();
    for id in ids {
        let mut capture = match store.capture(id).await {
            Ok(capture) => capture,
            Err(StoreError::Purged { .. }) => {
                tally.purged += 1;
                continue;
            }
            Err(err) => return Err(err).context("reading the captures to export"),
        };
        if !raw {
            let Some(definition) = definition_of(capture.market.as_str()) else {
                *tally
                    .withheld_no_definition
                    .entry(capture.market.to_string())
                    .or_default() += 1;
                continue;
            };
            let text = String::from_utf8_lossy(&capture.body);
            let (people, unread) =
                redact::identifiers_within(definition, &text, dnmscope_parse::Limits::default());
            if unread.iter().any(|reason| reason == redact::NO_RULES) {
                *tally
                    .withheld_no_definition
                    .entry(capture.market.to_string())
                    .or_default() += 1;
                continue;
            }
            if !unread.is_empty() {
                tracing::debug!(capture = id, reasons = ?unread, "page left out: not read whole");
                tally.withheld_unread += 1;
                continue;
            }
            if !people.is_empty() {
                let market = capture.market.clone();
                let replace = |person: &Identifier| match (person.kind, &pseudonyms) {
                    (IdentifierKind::Buyer, _) => "[buyer]".to_string(),
                    (IdentifierKind::Author, Some(key)) => {
                        Pseudonym::of(key, &market, &person.text).to_string()
                    }
                    (IdentifierKind::Author, None) => "[author]".to_string(),
                };
                let redacted = redact::redact(&capture.body, &people, replace);
                if !redacted.missed.is_empty() {
                    tracing::debug!(
                        capture = id,
                        missed = redacted.missed.len(),
                        "page left out: a person could not be redacted"
                    );
                    tally.withheld_unredactable += 1;
                    continue;
                }
                // The URL too, in case a page's address names someone.
                let url = redact::redact(capture.url.as_bytes(), &people, replace);
                capture.url = String::from_utf8_lossy(&url.body).into_owned();
                if let Some(final_url) = &capture.final_url {
                    let url = redact::redact(final_url.as_bytes(), &people, replace);
                    capture.final_url = Some(String::from_utf8_lossy(&url.body).into_owned());
                }
                tally.spans_replaced += redacted.replaced as u64;
                tally.pages_redacted += 1;
                capture.body = redacted.body;
            }
        }
        writer.write_capture(&capture)?;
        tally.written += 1;
    }
    let records = writer.records();
    writer.finish()?;
    println!(
        "wrote {records} records to {} ({} pages)",
        out.display(),
        tally.written
    );
    if raw {
        println!("unredacted (--raw): the file names buyers and forum authors; do not share it");
    } else {
        println!(
            "redacted: {} spans replaced on {} pages",
            tally.spans_replaced, tally.pages_redacted
        );
        if tally.withheld_unredactable > 0 {
            println!(
                "left out: {} pages on which a person was found but could not be replaced",
                tally.withheld_unredactable
            );
        }
        if tally.withheld_unread > 0 {
            println!(
                "left out: {} pages that could not be read whole (past the parser's limits), so a person past the cut would not be found",
                tally.withheld_unread
            );
        }
        for (market, n) in &tally.withheld_no_definition {
            println!(
                "left out: {n} pages of {market}, which has no market definition with [[redact]] rules to redact them by"
            );
        }
    }
    if tally.purged > 0 {
        println!(
            "not exported: {} captures whose raw page was purged",
            tally.purged
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
