//! A datasheet for an export (Gebru et al., "Datasheets for Datasets", CACM 2021): the seven
//! sections, pre-filled with what the store knows (markets and their date ranges, crawl runs and
//! their completeness, parser versions, the pseudonymisation rules), and the questions only the
//! researcher can answer left as marked prompts.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use dnmscope_store::{MarketSpan, ParserVersionCount, Stats, Store, StoreError};

use crate::export::{cell_text, md, DictionaryEntry, Format};
use crate::report::basic;
use crate::{Cell, Table};

/// What the datasheet states, gathered from the store.
#[derive(Debug, Clone)]
pub struct DatasheetFacts {
    pub generated_at: DateTime<Utc>,
    pub tool_version: String,
    pub stats: Stats,
    pub markets: Vec<MarketSpan>,
    pub parser_versions: Vec<ParserVersionCount>,
    pub completeness: Table,
    pub events: Table,
}

impl DatasheetFacts {
    pub async fn gather(
        store: &Store,
        tool_version: &str,
        generated_at: DateTime<Utc>,
    ) -> Result<DatasheetFacts, StoreError> {
        Ok(DatasheetFacts {
            generated_at,
            tool_version: tool_version.to_string(),
            stats: store.stats().await?,
            markets: store.market_spans().await?,
            parser_versions: store.parser_versions().await?,
            completeness: basic::crawl_completeness(store).await?,
            events: basic::market_events(store).await?,
        })
    }
}

const TO_FILL: &str = "> **To be filled in by the researcher:**";

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_string(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn cell(c: &Cell) -> String {
    match c {
        Cell::Float(f) if f.is_finite() => format!("{:.1} %", f * 100.0),
        Cell::Timestamp(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        other => cell_text(other).map_or_else(|| "-".to_string(), |t| md(&t)),
    }
}

/// The datasheet as Markdown. With `files`, the Composition section lists the export's files.
pub fn render(facts: &DatasheetFacts, files: Option<(Format, &[DictionaryEntry])>) -> String {
    let mut out = String::new();
    let stats = &facts.stats;
    let _ = writeln!(
        out,
        "# Datasheet\n\nFollowing Gebru et al., \"Datasheets for Datasets\" (Communications of the ACM 64(12), 2021). \
         Generated {} by dnmscope {} from the {} store at `{}`. Facts below come from the store; \
         each section ends with the questions only the people who ran the collection can answer.\n",
        facts.generated_at.format("%Y-%m-%d %H:%M UTC"),
        facts.tool_version,
        stats.backend,
        stats.location,
    );

    out.push_str("## 1. Motivation\n\n");
    out.push_str(
        "The data was collected with dnmscope, a research instrument that observes darknet drug markets over \
         time to measure the market itself (availability, prices per unit, vendors, estimated sales, reputation, \
         harm-reduction discussion) rather than enforcement outcomes.\n\n",
    );
    let _ = writeln!(
        out,
        "{TO_FILL} for what purpose was the dataset created, and what gap does it fill? Who created it, on \
         behalf of which group or institution, and who funded it? Which ethics review approved the collection?\n"
    );

    out.push_str("## 2. Composition\n\n");
    let _ = writeln!(
        out,
        "Observations span {} to {} over {} crawl runs and {} markets. Each instance is an observation of a \
         listing, vendor profile, forum thread or post as one crawl saw it, with the time, the crawl, the raw \
         capture and the parser version it came from; feedback entries are stored once per content key with a \
         sighting per crawl. Nothing seen is overwritten: a listing seen in ten crawls has ten observation rows.\n",
        time(stats.first_observation),
        time(stats.last_observation),
        stats.crawls.len(),
        facts.markets.len(),
    );
    out.push_str("| market | first capture | last capture | crawls | listings | vendors | feedback | forum posts |\n|---|---|---|---|---|---|---|---|\n");
    for m in &facts.markets {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&m.market),
            time(m.first_observed),
            time(m.last_observed),
            m.crawls,
            m.listings,
            m.vendors,
            m.feedback,
            m.posts
        );
    }
    out.push_str("\nRows per table in the store:\n\n| table | rows |\n|---|---|\n");
    for t in &stats.tables {
        let _ = writeln!(out, "| {} | {} |", t.table, t.rows);
    }
    if let Some((format, entries)) = files {
        let _ = writeln!(
            out,
            "\nThis export holds {} files in {} format; `data_dictionary.md` documents every column and \
             `SHA256SUMS` their checksums.\n",
            entries.len(),
            format.extension()
        );
        out.push_str("| file | kind | rows |\n|---|---|---|\n");
        for entry in entries {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                entry.file, entry.kind, entry.rows
            );
        }
    }
    out.push_str(
        "\n**Personal data in the tables.** No table has a buyer column: feedback rows have no author, not even a \
         masked handle. Vendor handles are stored as shown (vendors are public sellers). Forum authors who are not \
         vendors are kept only as keyed HMAC-SHA256 pseudonyms (`p:` followed by 32 hex digits); the key is kept \
         apart from the data, so a pseudonym cannot be reversed from the dataset alone, and the schema refuses any \
         other form. Session cookies and authorisation headers are redacted before a page is stored.\n\n\
         **Personal data in the raw pages.** The store also keeps every page as fetched, and those pages do name \
         people: buyers' masked handles in feedback rows and forum authors' plain handles. ",
    );
    let raw = &facts.stats.raw;
    let _ = write!(out, "In this store {}. ", md(&raw.encryption_summary()));
    out.push_str(
        "An encrypted body is XChaCha20-Poly1305 under a key kept in a file apart from the store (the store holds \
         only the key's id); without that key the store opens for everything but raw bodies. Each body's BLAKE3 \
         hash of the plaintext stays visible, so anyone holding an exact copy of a page could confirm it is in the \
         store. `dnmscope export warc` redacts by default: the spans the market definitions mark as buyers become \
         `[buyer]`, non-vendor authors their keyed pseudonym, and a page that cannot be redacted is left out; \
         `export warc --raw` writes the pages as stored and says so in its warcinfo record. The table exports \
         never contain raw bodies.\n\n\
         **Known residual risk.** Text fields are kept as written: a feedback text or forum post that quotes a \
         buyer's or another user's handle (\"thanks b***s\", \"@someone\") still contains it, in the tables, their \
         exports and the redacted WARC; so may a page's URL where a market puts a handle in it. Review free text \
         before sharing it beyond the research team.\n\n",
    );
    let _ = writeln!(out, "**Retention.** {}.\n", md(&raw.retention_summary()));
    if !raw.purges.is_empty() {
        out.push_str("| purge | when | by | raw pages before | market | captures | bodies deleted |\n|---|---|---|---|---|---|---|\n");
        for p in &raw.purges {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                p.id,
                time(Some(p.purged_at)),
                md(&p.purged_by),
                time(Some(p.before)),
                p.market
                    .as_deref()
                    .map(md)
                    .unwrap_or_else(|| "all".to_string()),
                p.captures,
                p.bodies
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{TO_FILL} is the dataset a sample of the markets of its time, and how were the markets chosen? What is \
         missing (markets, sections, periods), and why? Does it contain data that could identify people when \
         combined with other sources?\n"
    );

    out.push_str("## 3. Collection process\n\n");
    out.push_str(
        "Pages were fetched by dnmscope's crawler (over Tor, or over loopback from the simulator), one request at \
         a time per market until it answered with a real page, at polite per-market rates; anti-DDoS queues, \
         login and captcha pages were waited out or handed to a human, never circumvented. Every fetched page was \
         stored raw (zstd, BLAKE3-addressed) before it was parsed. The crawler never buys, posts, messages, votes \
         or logs out.\n\nCompleteness of every crawl run per market (from `crawl_accounting`):\n\n",
    );
    out.push_str("| crawl | market | started | finish | attempted | fetched | availability | listing coverage | seized | unreachable |\n|---|---|---|---|---|---|---|---|---|---|\n");
    let column = |name: &str| {
        facts
            .completeness
            .columns
            .iter()
            .position(|c| c.name == name)
    };
    for row in &facts.completeness.rows {
        let get = |name: &str| column(name).map_or_else(|| "-".to_string(), |i| cell(&row[i]));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            get("crawl_id"),
            get("market"),
            get("started_at"),
            get("finish_reason"),
            get("attempted"),
            get("fetched"),
            get("availability"),
            get("listing_coverage"),
            get("seized"),
            get("unreachable"),
        );
    }
    if facts.completeness.rows.is_empty() {
        out.push_str("| - | no crawl run saved its accounting | | | | | | | | |\n");
    }
    out.push_str("\nCrawl runs:\n\n| crawl | started | finished | finish reason | captures | markets |\n|---|---|---|---|---|---|\n");
    for c in &stats.crawls {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            c.id,
            time(Some(c.started_at)),
            time(c.finished_at),
            c.finish_reason.as_deref().unwrap_or("(running or crashed)"),
            c.captures,
            md(&c.markets.join(", "))
        );
    }
    if !facts.events.rows.is_empty() {
        out.push_str("\nMarket events observed:\n\n| observed | market | kind | detail |\n|---|---|---|---|\n");
        for row in &facts.events.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&row[0]),
                cell(&row[1]),
                cell(&row[2]),
                cell(&row[3])
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{TO_FILL} who ran the crawls, from where, with which accounts and configuration files (the `crawls.config` \
         column holds each run's configuration)? Over what timeframe, and does it match the timeframe of the \
         market activity studied? Were the markets' operators or users informed?\n"
    );

    out.push_str("## 4. Preprocessing, cleaning, labeling\n\n");
    out.push_str(
        "Raw pages are kept as fetched until purged (in the store; `dnmscope export warc` writes them as WARC 1.1, redacted), so every \
         observation can be traced to its page and re-parsed. Parsing is done by versioned market definitions; \
         a later parser version adds observations beside the old ones, never replacing them. Normalisation: \
         prices as exact decimals with their currency, countries as ISO 3166-1 codes or region words, quantities \
         split into count, amount and unit, relative dates resolved against the page's time, PGP keys reduced to \
         their fingerprints. Gate pages (queue, login, captcha, ban, seizure, errors) never yield observations.\n\n",
    );
    out.push_str("Parser versions that produced this data:\n\n| parser version | extractions | first | last |\n|---|---|---|---|\n");
    for p in &facts.parser_versions {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            p.parser_version,
            p.extractions,
            time(Some(p.first_ingested)),
            time(Some(p.last_ingested))
        );
    }
    let _ = writeln!(
        out,
        "\n{TO_FILL} was any further cleaning or labelling done outside dnmscope (manual vendor links, \
         category mappings, exchange rates imported)? Where is that work kept?\n"
    );

    out.push_str("## 5. Uses\n\n");
    out.push_str(
        "Intended: research on drug markets and drug policy (availability, prices per unit, market concentration, \
         vendor migration after takedowns, sales estimated from feedback as a lower bound, review credibility, \
         harm-reduction discussion). Estimates from feedback assume one feedback entry per sale at the listing's \
         price; feedback that buyers never left is missing, so sales are a lower bound. Incomplete crawls (see \
         the completeness table) under-count what a market offered.\n\n\
         Not intended: identifying, profiling or contacting individuals; re-identifying pseudonymised forum \
         authors; law-enforcement targeting of individual vendors or buyers.\n\n",
    );
    let _ = writeln!(
        out,
        "{TO_FILL} what has the dataset been used for already? Are there uses that could harm the people it \
         describes, and how should users avoid them?\n"
    );

    out.push_str("## 6. Distribution\n\n");
    let _ = writeln!(
        out,
        "{TO_FILL} will the dataset be shared, with whom, under which licence or data-use agreement, and when? \
         Do export controls or other regulatory restrictions apply? Raw pages contain text authored by market \
         users; share the redacted WARC, never the store file or a `--raw` WARC.\n"
    );

    out.push_str("## 7. Maintenance\n\n");
    out.push_str(
        "Checksums of every exported file are in `SHA256SUMS` (`sha256sum -c SHA256SUMS`). A new crawl or parser \
         version adds rows; regenerate the export rather than editing it.\n\n",
    );
    let _ = writeln!(
        out,
        "{TO_FILL} who maintains the dataset and how can they be contacted? How long are raw pages kept (purge \
         them with `dnmscope db purge-raw --before DATE`; each purge is recorded in `raw_purges`) and the \
         pseudonymisation and raw-body keys, and how are errata published?"
    );
    out
}
