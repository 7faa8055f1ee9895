//! Reading the store out: every base table and view as rows with a fixed, documented column
//! order ([`RELATIONS`], streamed by [`Store::rows`]), full-text search over listings and forum
//! posts, and the few aggregates that reports and datasheets need (counts per crawl and market,
//! the span of each market's observations, parser versions, origins).
//!
//! The column lists here are the export format: `dnmscope export` writes them in this order and
//! its data dictionary is generated from these descriptions. A unit test checks that they name
//! every column of every table in the migrations, in order, and the behaviour suite reads every
//! relation on both backends.

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::stream::{BoxStream, StreamExt};
use serde::Serialize;

use crate::error::Context;
use crate::{Backend, Store, StoreError};

/// What a column holds, whatever the backend stores it as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    Integer,
    Float,
    Text,
    /// JSON, read back as its compact text.
    Json,
    Boolean,
    /// An instant in UTC.
    Timestamp,
    /// A calendar date.
    Date,
}

/// One value read from the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Integer(i64),
    Float(f64),
    /// Text, and JSON as its compact text.
    Text(String),
    Boolean(bool),
    Timestamp(DateTime<Utc>),
    Date(NaiveDate),
}

/// Whether a relation stores data or joins it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    Table,
    View,
}

/// One column of a relation as exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExportColumn {
    pub name: &'static str,
    pub ty: ValueType,
    pub description: &'static str,
}

/// A base table or view, its columns in export order, and the order rows come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Relation {
    pub name: &'static str,
    pub kind: RelationKind,
    pub description: &'static str,
    pub columns: &'static [ExportColumn],
    /// The columns rows are sorted by (a key, so the order is total and stable).
    pub order_by: &'static str,
}

impl Relation {
    pub fn find(name: &str) -> Option<&'static Relation> {
        RELATIONS.iter().find(|r| r.name == name)
    }

    pub(crate) fn select_sql(&self) -> String {
        let columns: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            columns.join(", "),
            self.name,
            self.order_by
        )
    }
}

/// Columns the migrations have that exports leave out, with the reason.
pub const OMITTED_COLUMNS: &[(&str, &str, &str)] = &[
    (
        "blobs",
        "data",
        "raw bodies, zstd-compressed: export them as WARC with `dnmscope export warc`",
    ),
    (
        "raw_dictionaries",
        "data",
        "zstd dictionaries made of fragments of raw pages: never exported",
    ),
];

macro_rules! columns {
    ($(($name:literal, $ty:ident, $description:literal)),* $(,)?) => {
        &[$(ExportColumn { name: $name, ty: ValueType::$ty, description: $description }),*]
    };
}

/// Every base table and view, in export order.
pub const RELATIONS: &[Relation] = &[
    Relation {
        name: "markets",
        kind: RelationKind::Table,
        description: "One row per market the store knows.",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Market id (referenced as market_id)."),
            ("name", Text, "The market's name, as in its definition (e.g. dream)."),
            ("created_at", Timestamp, "When the store first recorded the market."),
        ],
    },
    Relation {
        name: "crawls",
        kind: RelationKind::Table,
        description: "One row per crawl run: when it ran, over which markets, with which configuration.",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Crawl run id (referenced as crawl_id)."),
            ("started_at", Timestamp, "When the run started."),
            ("finished_at", Timestamp, "When the run ended; null while running or after a crash."),
            ("finish_reason", Text, "completed, budget_exhausted, interrupted or failed; null while running."),
            ("markets", Json, "The markets the run crawled (JSON array of names)."),
            ("config", Json, "The configuration the run used (JSON)."),
            ("tool_version", Text, "The dnmscope version that ran it."),
            ("source", Text, "crawl (fetched by dnmscope crawl) or import (saved pages brought in by dnmscope import; migration 0013)."),
            ("import_key", Text, "An import run's identity (what was imported: kind, path, date, market), so importing again adds to the same run; null for crawls."),
        ],
    },
    Relation {
        name: "blobs",
        kind: RelationKind::Table,
        description: "Raw page bodies, once per content hash (the compressed bytes are not exported).",
        order_by: "hash",
        columns: columns![
            ("hash", Text, "BLAKE3 hash of the uncompressed body (hex)."),
            ("size", Integer, "Uncompressed size in bytes."),
            ("compression", Text, "How the body is stored (zstd)."),
            ("encryption", Text, "The cipher the stored body is sealed with (xchacha20poly1305); null when stored unencrypted."),
            ("key_id", Text, "The id of the key an encrypted body needs (not the key); null when unencrypted."),
            ("purge_id", Integer, "The purge that deleted the body's bytes (raw_purges.id); null while kept."),
            ("dictionary_id", Integer, "The market's zstd dictionary the body was compressed with (raw_dictionaries.id); null for plain per-page zstd."),
        ],
    },
    Relation {
        name: "captures",
        kind: RelationKind::Table,
        description: "One row per fetched page (raw capture), secret headers redacted.",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Capture id (referenced as capture_id)."),
            ("capture_key", Text, "What makes two captures the same (market, crawl, URL, time, body)."),
            ("market_id", Integer, "The market (markets.id)."),
            ("crawl_id", Integer, "The crawl run (crawls.id)."),
            ("url", Text, "The URL requested."),
            ("final_url", Text, "The URL after redirects, when it differs."),
            ("fetched_at", Timestamp, "When the page was fetched."),
            ("status", Integer, "HTTP status code."),
            ("headers", Json, "Response headers as [name, value] pairs; cookies and authorisation redacted."),
            ("body_hash", Text, "The body (blobs.hash)."),
            ("body_size", Integer, "Body size in bytes."),
            ("truncated", Text, "Why the body is short (length, time, disconnect, unspecified); null when whole."),
            ("elapsed_ms", Integer, "Milliseconds the fetch took."),
            ("raw_purge_id", Integer, "The purge that deleted this page's raw body (raw_purges.id); null while kept. Observations read from it remain."),
        ],
    },
    Relation {
        name: "extractions",
        kind: RelationKind::Table,
        description: "What one parser version made of one capture; observations point here.",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Extraction id (referenced as extraction_id)."),
            ("capture_id", Integer, "The capture parsed (captures.id)."),
            ("parser_version", Text, "The market definition and version that parsed it (name@version)."),
            ("page_kind", Text, "What the page was classified as (listing, vendor, search, forum_thread, login, ...)."),
            ("diagnostics", Json, "The parser's diagnostics: fields it could not read and why (JSON)."),
            ("ingested_at", Timestamp, "When the extraction was stored."),
        ],
    },
    Relation {
        name: "superseded_extractions",
        kind: RelationKind::Table,
        description: "Extractions a newer parse of the same capture replaced (dnmscope reparse; migration 0014). Analytics read the observations of the extractions not listed here.",
        order_by: "extraction_id",
        columns: columns![
            ("extraction_id", Integer, "The extraction replaced (extractions.id)."),
            ("by_extraction_id", Integer, "The extraction that replaced it."),
            ("superseded_at", Timestamp, "When it was replaced."),
        ],
    },
    Relation {
        name: "vendors",
        kind: RelationKind::Table,
        description: "One row per vendor account per market (identity only; what was seen is in vendor_observations).",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Vendor id (referenced as vendor_id)."),
            ("market_id", Integer, "The market (markets.id)."),
            ("handle_key", Text, "The handle as compared (case-folded); unique per market."),
            ("handle", Text, "The vendor's handle as first seen."),
            ("first_crawl_id", Integer, "The crawl that first saw the vendor."),
            ("first_seen_at", Timestamp, "When the vendor was first seen."),
        ],
    },
    Relation {
        name: "vendor_observations",
        kind: RelationKind::Table,
        description: "One row per sighting of a vendor's profile (append-only).",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Observation id."),
            ("vendor_id", Integer, "The vendor (vendors.id)."),
            ("extraction_id", Integer, "The extraction it came from (extractions.id)."),
            ("crawl_id", Integer, "The crawl run (crawls.id)."),
            ("capture_id", Integer, "The page it was read from (captures.id)."),
            ("observed_at", Timestamp, "When the page was fetched."),
            ("parser_version", Text, "The parser that read it (name@version)."),
            ("page_kind", Text, "The kind of page it was read from."),
            ("rating", Float, "Rating shown on the market (the market's scale)."),
            ("positive_percent", Float, "Share of positive feedback shown, in percent."),
            ("sales", Integer, "Sales count the market shows."),
            ("feedback_positive", Integer, "Positive feedback count shown."),
            ("feedback_neutral", Integer, "Neutral feedback count shown."),
            ("feedback_negative", Integer, "Negative feedback count shown."),
            ("level", Text, "Vendor level or rank shown."),
            ("pgp_fingerprint", Text, "Fingerprint of the PGP key shown (lower-case hex, pgp_keys.fingerprint)."),
            ("registered", Text, "Registration date as shown (text)."),
            ("last_seen", Text, "Last-seen date as shown (text)."),
            ("data", Json, "The whole observed vendor as JSON (imported ratings, shipping, ...)."),
        ],
    },
    Relation {
        name: "pgp_keys",
        kind: RelationKind::Table,
        description: "PGP public keys vendors published, once per fingerprint.",
        order_by: "fingerprint",
        columns: columns![
            ("fingerprint", Text, "The key's fingerprint as gpg prints it (lower-case hex)."),
            ("armored", Text, "The ASCII-armored public key block."),
            ("first_seen_at", Timestamp, "When the key was first seen."),
        ],
    },
    Relation {
        name: "listings",
        kind: RelationKind::Table,
        description: "One row per listing per market (identity only; what was seen is in listing_observations).",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Listing id (referenced as listing_id)."),
            ("market_id", Integer, "The market (markets.id)."),
            ("listing_key", Text, "The market's own key for the listing (from its URL); unique per market."),
            ("first_crawl_id", Integer, "The crawl that first saw the listing."),
            ("first_seen_at", Timestamp, "When the listing was first seen."),
        ],
    },
    Relation {
        name: "listing_observations",
        kind: RelationKind::Table,
        description: "One row per sighting of a listing (append-only).",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Observation id (also the rowid of listing_observations_fts in SQLite)."),
            ("listing_id", Integer, "The listing (listings.id)."),
            ("extraction_id", Integer, "The extraction it came from (extractions.id)."),
            ("crawl_id", Integer, "The crawl run (crawls.id)."),
            ("capture_id", Integer, "The page it was read from (captures.id)."),
            ("observed_at", Timestamp, "When the page was fetched."),
            ("parser_version", Text, "The parser that read it (name@version)."),
            ("page_kind", Text, "The kind of page it was read from (listing page or a search/index page)."),
            ("title", Text, "Title shown."),
            ("vendor_id", Integer, "The vendor (vendors.id), when shown."),
            ("price_amount", Text, "Price as exact decimal text, in price_currency."),
            ("price_currency", Text, "Currency of the price (USD, EUR, BTC, XMR, ...)."),
            ("category", Json, "Category path shown, outermost first (JSON array)."),
            ("quantity_count", Integer, "Number of units in a pack (100 in '100 x 2 mg'), when stated."),
            ("quantity_amount", Text, "Amount per unit as exact decimal text (2 in '100 x 2 mg')."),
            ("quantity_unit", Text, "Unit of quantity_amount (g, mg, ml, ug, pill, ...)."),
            ("ships_from", Text, "Origin: ISO 3166-1 alpha-2 code or a region word (WW, EU, ...)."),
            ("ships_to", Json, "Destinations: codes or region words (JSON array)."),
            ("stock", Integer, "Units in stock shown; null when unknown or unlimited."),
            ("stock_unlimited", Boolean, "True when the market shows unlimited stock."),
            ("sales", Integer, "Sales count shown on the listing."),
            ("escrow", Boolean, "Whether the listing offers escrow."),
            ("finalize_early", Boolean, "Whether the listing asks to finalize early."),
            ("description", Text, "Description text shown."),
            ("data", Json, "What the columns above do not hold, as JSON: other prices, price tiers, shipping options, accepted currencies, exchange rates, the URL, the vendor as shown when it differs from vendors.handle ({} when nothing). Rows stored before migration 0011 hold the whole listing but its description."),
        ],
    },
    Relation {
        name: "feedback",
        kind: RelationKind::Table,
        description: "One row per feedback entry (by content key) however often seen; no buyer identity.",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Feedback id (referenced as feedback_id)."),
            ("market_id", Integer, "The market (markets.id)."),
            ("feedback_key", Text, "What makes two sightings the same entry (content hash)."),
            ("vendor_id", Integer, "The vendor reviewed (vendors.id), when known."),
            ("listing_id", Integer, "The listing reviewed (listings.id), when known."),
            ("rating", Text, "positive, neutral or negative (or the market's stars)."),
            ("text", Text, "The review text."),
            ("date_text", Text, "The date as shown (may be relative: '2 days ago')."),
            ("left_on", Date, "The date the review was left, read from date_text."),
            ("item", Text, "The item named in the review."),
            ("price_amount", Text, "The price shown with the review (exact decimal text)."),
            ("price_currency", Text, "Currency of price_amount."),
            ("first_crawl_id", Integer, "The crawl that first saw the entry."),
            ("first_capture_id", Integer, "The page that first showed it (captures.id)."),
            ("first_extraction_id", Integer, "The extraction that first stored it."),
            ("first_seen_at", Timestamp, "When it was first seen."),
        ],
    },
    Relation {
        name: "feedback_sightings",
        kind: RelationKind::Table,
        description: "Which crawl runs saw which feedback entry (one row per entry and run).",
        order_by: "feedback_id, crawl_id",
        columns: columns![
            ("feedback_id", Integer, "The entry (feedback.id)."),
            ("crawl_id", Integer, "The crawl run that saw it."),
            ("capture_id", Integer, "The page it was seen on in that run."),
            ("seen_at", Timestamp, "When that page was fetched."),
        ],
    },
    Relation {
        name: "forum_threads",
        kind: RelationKind::Table,
        description: "One row per forum thread per market (identity only).",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Thread id (referenced as thread_id)."),
            ("market_id", Integer, "The market whose forum it is."),
            ("thread_key", Text, "The forum's own key for the thread; unique per market."),
            ("first_crawl_id", Integer, "The crawl that first saw the thread."),
            ("first_seen_at", Timestamp, "When the thread was first seen."),
        ],
    },
    Relation {
        name: "thread_observations",
        kind: RelationKind::Table,
        description: "One row per sighting of a thread (append-only).",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Observation id."),
            ("thread_id", Integer, "The thread (forum_threads.id)."),
            ("extraction_id", Integer, "The extraction it came from."),
            ("crawl_id", Integer, "The crawl run."),
            ("capture_id", Integer, "The page it was read from."),
            ("observed_at", Timestamp, "When the page was fetched."),
            ("parser_version", Text, "The parser that read it."),
            ("board", Text, "The board the thread is in."),
            ("title", Text, "The thread's title."),
        ],
    },
    Relation {
        name: "forum_posts",
        kind: RelationKind::Table,
        description: "One row per forum post (identity only).",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Post id (referenced as post_id)."),
            ("thread_id", Integer, "The thread (forum_threads.id)."),
            ("post_key", Text, "The post's key within its thread."),
            ("first_crawl_id", Integer, "The crawl that first saw the post."),
            ("first_seen_at", Timestamp, "When the post was first seen."),
        ],
    },
    Relation {
        name: "post_observations",
        kind: RelationKind::Table,
        description: "One row per sighting of a forum post (append-only); authors are vendors or keyed pseudonyms only.",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Observation id (also the rowid of post_observations_fts in SQLite)."),
            ("post_id", Integer, "The post (forum_posts.id)."),
            ("extraction_id", Integer, "The extraction it came from."),
            ("crawl_id", Integer, "The crawl run."),
            ("capture_id", Integer, "The page it was read from."),
            ("observed_at", Timestamp, "When the page was fetched."),
            ("parser_version", Text, "The parser that read it."),
            ("author_kind", Text, "vendor (author is a vendor handle) or pseudonym (author is a keyed HMAC, p:...)."),
            ("author", Text, "A vendor's handle or a pseudonym; never a plain non-vendor handle."),
            ("date_text", Text, "The post's date as shown."),
            ("text", Text, "The post's text."),
        ],
    },
    Relation {
        name: "market_events",
        kind: RelationKind::Table,
        description: "Seizures, exit scams, outages and mirror changes, once per market, kind and time.",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Event id."),
            ("market_id", Integer, "The market."),
            ("kind", Text, "takedown, seizure_banner, exit_scam, outage or mirror_change."),
            ("observed_at", Timestamp, "When the event was observed."),
            ("detail", Text, "What was seen (banner text, outage length, ...)."),
            ("crawl_id", Integer, "The crawl run that saw it, if any."),
            ("capture_id", Integer, "The page that showed it, if any."),
        ],
    },
    Relation {
        name: "frontier",
        kind: RelationKind::Table,
        description: "The pages each crawl run meant to fetch (one per run, market and canonical URL) and what became of them.",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Frontier entry id."),
            ("crawl_id", Integer, "The crawl run."),
            ("market_id", Integer, "The market."),
            ("url", Text, "Canonical URL (session parameters and fragments removed)."),
            ("kind", Text, "The kind of link that led here (seed, listing, next_page, ...)."),
            ("depth", Integer, "Links followed from a seed."),
            ("priority", Integer, "Higher is fetched first."),
            ("state", Text, "pending, done or failed."),
            ("attempts", Integer, "Fetch attempts made."),
            ("next_attempt_at", Timestamp, "When a pending entry falls due."),
            ("last_error", Text, "The last failure, if any."),
            ("capture_id", Integer, "The capture the page was stored as, once fetched."),
            ("discovered_at", Timestamp, "When the link was found."),
        ],
    },
    Relation {
        name: "crawl_accounting",
        kind: RelationKind::Table,
        description: "Each crawl run's figures per market as the crawler saved them (JSON; crawl_accounting_view spreads them into columns).",
        order_by: "crawl_id, market_id",
        columns: columns![
            ("crawl_id", Integer, "The crawl run."),
            ("market_id", Integer, "The market."),
            ("data", Json, "Attempted, fetched, failed by reason, parsed by kind, listings announced and fetched, gates, unreachable, seized (JSON)."),
            ("updated_at", Timestamp, "When the figures were last saved."),
        ],
    },
    // Analytics (0003_analytics.sql).
    Relation {
        name: "exchange_rates",
        kind: RelationKind::Table,
        description: "Exchange rates imported with `dnmscope rates import`: USD per unit of a currency on a day, by source.",
        order_by: "currency, day, source",
        columns: columns![
            ("day", Date, "The day the rate holds for."),
            ("currency", Text, "Currency code (BTC, XMR, EUR, ...)."),
            ("usd", Text, "US dollars per unit, exact decimal text."),
            ("source", Text, "Where the rates came from (the --source given at import)."),
            ("imported_at", Timestamp, "When the row was imported."),
        ],
    },
    Relation {
        name: "vendor_link_decisions",
        kind: RelationKind::Table,
        description: "Researchers' decisions on candidate cross-market vendor links (append-only; the latest per pair counts).",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Row id, in decision order."),
            ("market_a", Text, "Market of the first account (the pair is stored in canonical order)."),
            ("handle_a", Text, "Handle of the first account."),
            ("market_b", Text, "Market of the second account."),
            ("handle_b", Text, "Handle of the second account."),
            ("decision", Text, "confirmed or rejected."),
            ("note", Text, "The researcher's note."),
            ("decided_at", Timestamp, "When the decision was recorded."),
        ],
    },
    Relation {
        name: "listing_weeks",
        kind: RelationKind::Table,
        description: "Weekly roll-up: how often each listing was observed in each week (refreshed incrementally before weekly indicators are read).",
        order_by: "market_id, week_start, listing_id",
        columns: columns![
            ("market_id", Integer, "The market."),
            ("week_start", Text, "Monday of the week, YYYY-MM-DD."),
            ("listing_id", Integer, "listings.id."),
            ("vendor_id", Integer, "vendors.id of the listing's vendor in that week, when shown."),
            ("observations", Integer, "Observations of the listing in that week."),
        ],
    },
    Relation {
        name: "market_weeks",
        kind: RelationKind::Table,
        description: "Summary of listing_weeks per market and week (recounted for the weeks each refresh touches).",
        order_by: "market_id, week_start",
        columns: columns![
            ("market_id", Integer, "The market."),
            ("week_start", Text, "Monday of the week, YYYY-MM-DD."),
            ("listings", Integer, "Listings observed in that week."),
            ("vendors", Integer, "Distinct vendors of those listings."),
            ("observations", Integer, "Listing observations in that week."),
        ],
    },
    Relation {
        name: "vendor_weeks",
        kind: RelationKind::Table,
        description: "Summary of listing_weeks per market, vendor and week (recounted for the weeks each refresh touches).",
        order_by: "market_id, vendor_id, week_start",
        columns: columns![
            ("market_id", Integer, "The market."),
            ("vendor_id", Integer, "vendors.id."),
            ("week_start", Text, "Monday of the week, YYYY-MM-DD."),
            ("listings", Integer, "The vendor's listings observed in that week."),
        ],
    },
    Relation {
        name: "vendor_listings",
        kind: RelationKind::Table,
        description: "Which listings each vendor has had, from listing_weeks (for distinct listing counts over all weeks).",
        order_by: "market_id, vendor_id, listing_id",
        columns: columns![
            ("market_id", Integer, "The market."),
            ("vendor_id", Integer, "vendors.id."),
            ("listing_id", Integer, "listings.id."),
        ],
    },
    Relation {
        name: "listing_attributes",
        kind: RelationKind::Table,
        description: "Each distinct combination of the attributes listing filters look at, as observed (for attribute_weeks).",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Row id."),
            ("category", Text, "The category path as JSON text; empty when none was shown."),
            ("ships_from", Text, "The origin code; empty when none was shown."),
            ("ships_to", Text, "The destinations as JSON text; empty when none were shown."),
        ],
    },
    Relation {
        name: "attribute_weeks",
        kind: RelationKind::Table,
        description: "Weekly roll-up by attribute combination: how often each listing was observed in each week with those attributes (for filtered weekly indicators).",
        order_by: "attributes_id, market_id, week_start, listing_id",
        columns: columns![
            ("attributes_id", Integer, "listing_attributes.id."),
            ("market_id", Integer, "The market."),
            ("week_start", Text, "Monday of the week, YYYY-MM-DD."),
            ("listing_id", Integer, "listings.id."),
            ("vendor_id", Integer, "vendors.id of the listing's vendor in that week, when shown."),
            ("observations", Integer, "Observations of the listing in that week with those attributes."),
        ],
    },
    Relation {
        name: "rollup_state",
        kind: RelationKind::Table,
        description: "Watermarks of the incremental roll-ups: the last observation each has taken in.",
        order_by: "name",
        columns: columns![
            ("name", Text, "The roll-up."),
            ("last_observation_id", Integer, "The last listing_observations.id it has taken in."),
        ],
    },
    Relation {
        name: "raw_encryption",
        kind: RelationKind::Table,
        description: "The store's policy for raw bodies, append-only: the newest row is in force; none means unencrypted.",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Policy row id."),
            ("cipher", Text, "The cipher new raw bodies are sealed with (xchacha20poly1305)."),
            ("key_id", Text, "The id of the key (a digest of it, not the key)."),
            ("enabled_at", Timestamp, "When encryption was turned on."),
            ("enabled_by", Text, "What turned it on (a new store, or dnmscope db encrypt-raw and who ran it)."),
        ],
    },
    Relation {
        name: "raw_purges",
        kind: RelationKind::Table,
        description: "The audit of raw-page retention, append-only: one row per dnmscope db purge-raw.",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Purge id (referenced as raw_purge_id and purge_id)."),
            ("purged_at", Timestamp, "When the purge ran."),
            ("purged_by", Text, "Who ran it (user@host)."),
            ("before", Timestamp, "Raw pages fetched before this instant were purged."),
            ("market_id", Integer, "The market purged (markets.id); null for every market."),
            ("captures", Integer, "Captures whose raw page was purged."),
            ("bodies", Integer, "Stored bodies deleted (a body shared with a capture that is kept stays)."),
            ("bytes", Integer, "Uncompressed bytes of the bodies deleted."),
        ],
    },
    Relation {
        name: "raw_dictionaries",
        kind: RelationKind::Table,
        description: "Per-market zstd dictionaries raw bodies are compressed with, trained on the market's newest pages (the dictionary bytes are not exported).",
        order_by: "id",
        columns: columns![
            ("id", Integer, "Dictionary id (referenced as blobs.dictionary_id)."),
            ("market_id", Integer, "The market whose pages it was trained on (markets.id)."),
            ("trained_at", Timestamp, "When it was trained."),
            ("samples", Integer, "Pages it was trained on."),
            ("sample_bytes", Integer, "Uncompressed bytes of those pages."),
            ("size", Integer, "Size of the dictionary in bytes."),
            ("hash", Text, "BLAKE3 hash of the dictionary (hex), checked when it is loaded."),
            ("encryption", Text, "The cipher the stored dictionary is sealed with (xchacha20poly1305); null when unencrypted."),
            ("key_id", Text, "The id of the key an encrypted dictionary needs (not the key); null when unencrypted."),
            ("purge_id", Integer, "The purge after which no kept body needed it and its bytes were deleted (raw_purges.id); null while kept."),
            ("compression", Text, "How the stored dictionary is compressed (zstd); null when stored as is (every dictionary before migration 0012)."),
        ],
    },
    // Views (0004_views.sql).
    Relation {
        name: "listing_observations_view",
        kind: RelationKind::View,
        description: "Each listing observation with its market, listing key and vendor handle.",
        order_by: "observation_id",
        columns: columns![
            ("observation_id", Integer, "listing_observations.id."),
            ("observed_at", Timestamp, "When the page was fetched."),
            ("crawl_id", Integer, "The crawl run."),
            ("market", Text, "Market name."),
            ("listing_id", Integer, "listings.id."),
            ("listing_key", Text, "The market's key for the listing."),
            ("vendor_id", Integer, "vendors.id, when shown."),
            ("vendor", Text, "The vendor's handle, when shown."),
            ("title", Text, "Title shown."),
            ("price_amount", Text, "Price as exact decimal text."),
            ("price_currency", Text, "Currency of the price."),
            ("category", Json, "Category path (JSON array)."),
            ("quantity_count", Integer, "Units per pack, when stated."),
            ("quantity_amount", Text, "Amount per unit (exact decimal text)."),
            ("quantity_unit", Text, "Unit of quantity_amount."),
            ("ships_from", Text, "Origin code or region word."),
            ("ships_to", Json, "Destinations (JSON array)."),
            ("stock", Integer, "Units in stock shown."),
            ("stock_unlimited", Boolean, "Unlimited stock shown."),
            ("sales", Integer, "Sales count shown."),
            ("escrow", Boolean, "Escrow offered."),
            ("finalize_early", Boolean, "Finalize early asked."),
            ("page_kind", Text, "The kind of page it was read from."),
            ("parser_version", Text, "The parser that read it."),
            ("capture_id", Integer, "The page it was read from."),
        ],
    },
    Relation {
        name: "vendor_observations_view",
        kind: RelationKind::View,
        description: "Each vendor observation with its market and handle.",
        order_by: "observation_id",
        columns: columns![
            ("observation_id", Integer, "vendor_observations.id."),
            ("observed_at", Timestamp, "When the page was fetched."),
            ("crawl_id", Integer, "The crawl run."),
            ("market", Text, "Market name."),
            ("vendor_id", Integer, "vendors.id."),
            ("vendor", Text, "The vendor's handle."),
            ("rating", Float, "Rating shown."),
            ("positive_percent", Float, "Positive feedback share shown, in percent."),
            ("sales", Integer, "Sales count shown."),
            ("feedback_positive", Integer, "Positive feedback count shown."),
            ("feedback_neutral", Integer, "Neutral feedback count shown."),
            ("feedback_negative", Integer, "Negative feedback count shown."),
            ("level", Text, "Level or rank shown."),
            ("pgp_fingerprint", Text, "PGP fingerprint shown."),
            ("registered", Text, "Registration date as shown."),
            ("last_seen", Text, "Last-seen date as shown."),
            ("page_kind", Text, "The kind of page it was read from."),
            ("parser_version", Text, "The parser that read it."),
            ("capture_id", Integer, "The page it was read from."),
        ],
    },
    Relation {
        name: "feedback_view",
        kind: RelationKind::View,
        description: "Each feedback entry with its market, vendor handle, listing key and the number of crawls that saw it.",
        order_by: "feedback_id",
        columns: columns![
            ("feedback_id", Integer, "feedback.id."),
            ("market", Text, "Market name."),
            ("vendor_id", Integer, "vendors.id, when known."),
            ("vendor", Text, "The vendor's handle, when known."),
            ("listing_id", Integer, "listings.id, when known."),
            ("listing_key", Text, "The market's key for the listing, when known."),
            ("rating", Text, "positive, neutral or negative."),
            ("text", Text, "The review text."),
            ("left_on", Date, "The date the review was left."),
            ("item", Text, "The item named in the review."),
            ("price_amount", Text, "Price shown with the review."),
            ("price_currency", Text, "Currency of price_amount."),
            ("first_crawl_id", Integer, "The crawl that first saw it."),
            ("first_seen_at", Timestamp, "When it was first seen."),
            ("crawls_seen", Integer, "How many crawl runs saw it."),
        ],
    },
    Relation {
        name: "forum_posts_view",
        kind: RelationKind::View,
        description: "Each forum post observation with its thread (board and title as last observed) and market.",
        order_by: "observation_id",
        columns: columns![
            ("observation_id", Integer, "post_observations.id."),
            ("observed_at", Timestamp, "When the page was fetched."),
            ("crawl_id", Integer, "The crawl run."),
            ("market", Text, "Market name."),
            ("thread_id", Integer, "forum_threads.id."),
            ("thread_key", Text, "The forum's key for the thread."),
            ("board", Text, "The thread's board, as last observed."),
            ("thread_title", Text, "The thread's title, as last observed."),
            ("post_id", Integer, "forum_posts.id."),
            ("post_key", Text, "The post's key within its thread."),
            ("author_kind", Text, "vendor or pseudonym."),
            ("author", Text, "A vendor's handle or a keyed pseudonym."),
            ("date_text", Text, "The post's date as shown."),
            ("text", Text, "The post's text."),
            ("parser_version", Text, "The parser that read it."),
            ("capture_id", Integer, "The page it was read from."),
        ],
    },
    Relation {
        name: "crawl_accounting_view",
        kind: RelationKind::View,
        description: "Each crawl run and market with the run's completeness figures.",
        order_by: "crawl_id, market",
        columns: columns![
            ("crawl_id", Integer, "The crawl run."),
            ("market", Text, "Market name."),
            ("started_at", Timestamp, "When the run started."),
            ("finished_at", Timestamp, "When the run ended (null: running or crashed)."),
            ("finish_reason", Text, "How the run ended."),
            ("tool_version", Text, "The dnmscope version that ran it."),
            ("attempted", Integer, "Fetch attempts for the market (each try counts)."),
            ("fetched", Integer, "Pages fetched and stored."),
            ("failed", Integer, "Failed attempts, all reasons."),
            ("given_up", Integer, "Pages given up on."),
            ("gates", Integer, "Queue, ban, login and captcha pages met."),
            ("parsed", Integer, "Pages parsed, all kinds."),
            ("listings_announced", Integer, "Distinct listings that index pages announced."),
            ("listings_fetched", Integer, "Listing pages fetched and parsed."),
            ("unreachable", Boolean, "The market stopped answering during the run."),
            ("seized", Boolean, "The market showed a seizure banner."),
            ("updated_at", Timestamp, "When the figures were last saved."),
        ],
    },
    Relation {
        name: "market_events_view",
        kind: RelationKind::View,
        description: "Each market event with its market's name.",
        order_by: "event_id",
        columns: columns![
            ("event_id", Integer, "market_events.id."),
            ("market", Text, "Market name."),
            ("kind", Text, "takedown, seizure_banner, exit_scam, outage or mirror_change."),
            ("observed_at", Timestamp, "When it was observed."),
            ("detail", Text, "What was seen."),
            ("crawl_id", Integer, "The crawl run that saw it, if any."),
            ("capture_id", Integer, "The page that showed it, if any."),
        ],
    },
];

/// Listings, vendors, new feedback and forum posts one crawl run observed on one market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CrawlMarketCounts {
    pub crawl_id: i64,
    pub started_at: DateTime<Utc>,
    pub market: String,
    /// Distinct listings observed.
    pub listings: i64,
    /// Distinct vendors observed (on a listing or a profile).
    pub vendors: i64,
    /// Feedback entries this run saw first.
    pub new_feedback: i64,
    /// Distinct forum posts observed.
    pub posts: i64,
}

/// What a store holds of one market, and over which time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MarketSpan {
    pub market: String,
    pub first_observed: Option<DateTime<Utc>>,
    pub last_observed: Option<DateTime<Utc>>,
    pub crawls: i64,
    pub listings: i64,
    pub vendors: i64,
    pub feedback: i64,
    pub posts: i64,
}

/// A parser version and how much it read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ParserVersionCount {
    pub parser_version: String,
    pub extractions: i64,
    pub first_ingested: DateTime<Utc>,
    pub last_ingested: DateTime<Utc>,
}

/// Distinct listings per market and origin (`ships_from`; `None` for listings that never showed
/// one). A listing whose stated origin changed counts under each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OriginCount {
    pub market: String,
    pub ships_from: Option<String>,
    pub listings: i64,
}

/// A listing observation that matched a full-text search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ListingHit {
    pub observation_id: i64,
    pub listing_id: i64,
    pub market: String,
    pub observed_at: DateTime<Utc>,
    pub title: Option<String>,
}

/// A forum post observation that matched a full-text search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PostHit {
    pub observation_id: i64,
    pub post_id: i64,
    pub market: String,
    pub observed_at: DateTime<Utc>,
    pub text: String,
}

impl Store {
    /// Streams every row of a relation, columns in [`Relation::columns`] order, rows in
    /// [`Relation::order_by`] order. Rows come as the database sends them, so a large table
    /// never sits in memory; the stream holds one pooled connection until it is dropped.
    pub fn rows(
        &self,
        relation: &'static Relation,
    ) -> BoxStream<'_, Result<Vec<Value>, StoreError>> {
        match &self.backend {
            Backend::Sqlite(pool) => crate::sqlite::rows(pool, relation).boxed(),
            Backend::Postgres(pool) => crate::postgres::rows(pool, relation).boxed(),
        }
    }

    /// Listing observations whose title or description contains every word of `query` (English
    /// stemming: "tested" finds "test"), newest first. An empty query finds nothing.
    pub async fn search_listings(
        &self,
        query: &str,
        limit: u32,
    ) -> Result<Vec<ListingHit>, StoreError> {
        if query.split_whitespace().next().is_none() {
            return Ok(Vec::new());
        }
        with_backend!(
            connection,
            self,
            format!("searching listings for {query:?}"),
            |conn, db| db::search_listings(conn, query, limit).await
        )
    }

    /// Forum post observations whose text contains every word of `query`, newest first.
    pub async fn search_posts(&self, query: &str, limit: u32) -> Result<Vec<PostHit>, StoreError> {
        if query.split_whitespace().next().is_none() {
            return Ok(Vec::new());
        }
        with_backend!(
            connection,
            self,
            format!("searching posts for {query:?}"),
            |conn, db| db::search_posts(conn, query, limit).await
        )
    }

    /// Per crawl run and market: distinct listings, vendors and posts observed, and the
    /// feedback entries first seen. Ordered by run, then market.
    pub async fn crawl_market_counts(&self) -> Result<Vec<CrawlMarketCounts>, StoreError> {
        with_backend!(
            connection,
            self,
            "counting observations per crawl",
            |conn, db| db::crawl_market_counts(conn).await
        )
    }

    /// Per market: the first and last observation and how much was observed.
    pub async fn market_spans(&self) -> Result<Vec<MarketSpan>, StoreError> {
        with_backend!(
            connection,
            self,
            "measuring each market's observations",
            |conn, db| db::market_spans(conn).await
        )
    }

    /// The parser versions that produced extractions, with counts and time spans.
    pub async fn parser_versions(&self) -> Result<Vec<ParserVersionCount>, StoreError> {
        with_backend!(connection, self, "listing parser versions", |conn, db| {
            db::parser_versions(conn).await
        })
    }

    /// Distinct listings per market and origin country, over all crawls.
    pub async fn listings_by_origin(&self) -> Result<Vec<OriginCount>, StoreError> {
        with_backend!(
            connection,
            self,
            "counting listings by origin",
            |conn, db| db::listings_by_origin(conn).await
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_have_unique_names_and_columns() {
        let mut names: Vec<&str> = RELATIONS.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RELATIONS.len());
        for relation in RELATIONS {
            let mut columns: Vec<&str> = relation.columns.iter().map(|c| c.name).collect();
            columns.sort_unstable();
            columns.dedup();
            assert_eq!(columns.len(), relation.columns.len(), "{}", relation.name);
            for key in relation.order_by.split(", ") {
                assert!(
                    relation.columns.iter().any(|c| c.name == key),
                    "{} is ordered by {key}, which it does not export",
                    relation.name
                );
            }
            assert!(relation
                .columns
                .iter()
                .all(|c| !c.description.is_empty() && c.description.ends_with('.')));
        }
    }

    #[test]
    fn search_terms_are_quoted_for_fts5() {
        assert_eq!(
            crate::sqlite::search_terms(r#"fentanyl "test OR"#),
            r#""fentanyl" """test" "OR""#
        );
        assert_eq!(crate::postgres::search_terms("  a  b "), "a b");
    }
}
