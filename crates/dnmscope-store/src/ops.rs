// The store's queries, written once and compiled for each backend: `lib.rs` includes this file
// in `sqlite_ops` (with `Db = sqlx::Sqlite`) and in `postgres_ops` (with `Db = sqlx::Postgres`).
// The SQL here is the common dialect of both (`$N` parameters, `ON CONFLICT … DO NOTHING`,
// `RETURNING`); what differs is a constant the including module defines (`BLOB_LENGTH`).
//
// Every function takes the connection of a transaction the caller opened, so a failure anywhere
// rolls back everything the caller did.

use chrono::{DateTime, NaiveDate, Utc};
use dnmscope_model::{
    Capture, ContentHash, CrawlId, CrawlRun, Extraction, FeedbackEntry, FinishReason, Header,
    Listing, MarketEvent, MarketName, Truncation, Vendor,
};
use sqlx::types::Json;

use crate::error::Context;
use crate::stats::{CrawlSummary, Stats, TableCount};
use crate::{to_db_int, CaptureStored, IngestReport, StoreError, TABLES};

type Conn = <Db as sqlx::Database>::Connection;

pub(crate) async fn begin_crawl(
    conn: &mut Conn,
    markets: &[MarketName],
    config: &serde_json::Value,
    started_at: DateTime<Utc>,
    tool_version: &str,
) -> Result<CrawlId, StoreError> {
    for market in markets {
        market_id(conn, market, started_at).await?;
    }
    let names: Vec<&str> = markets.iter().map(|m| m.as_str()).collect();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO crawls (started_at, markets, config, tool_version)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(started_at)
    .bind(Json(&names))
    .bind(Json(config))
    .bind(tool_version)
    .fetch_one(&mut *conn)
    .await
    .context(|| "recording a new crawl run".to_string())?;
    Ok(CrawlId(id))
}

pub(crate) async fn finish_crawl(
    conn: &mut Conn,
    crawl: CrawlId,
    reason: FinishReason,
    finished_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE crawls SET finished_at = $1, finish_reason = $2 WHERE id = $3",
    )
    .bind(finished_at)
    .bind(reason.as_str())
    .bind(crawl.0)
    .execute(&mut *conn)
    .await
    .context(|| format!("recording the end of {crawl}"))?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::Missing {
            what: "crawl",
            id: crawl.0,
        });
    }
    Ok(())
}

type CrawlRow = (
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Json<Vec<String>>,
    Json<serde_json::Value>,
    String,
);

pub(crate) async fn load_crawl(conn: &mut Conn, crawl: CrawlId) -> Result<CrawlRun, StoreError> {
    let row: Option<CrawlRow> = sqlx::query_as(
        "SELECT id, started_at, finished_at, finish_reason, markets, config, tool_version
         FROM crawls WHERE id = $1",
    )
    .bind(crawl.0)
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("reading {crawl}"))?;
    let Some((id, started_at, finished_at, reason, markets, config, tool_version)) = row else {
        return Err(StoreError::Missing {
            what: "crawl",
            id: crawl.0,
        });
    };
    let corrupt = |what: String| StoreError::Corrupt { what };
    let markets = markets
        .0
        .iter()
        .map(|m| MarketName::new(m).map_err(|e| corrupt(format!("crawl {id}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let finish_reason = match reason {
        Some(text) => Some(
            FinishReason::parse(&text)
                .ok_or_else(|| corrupt(format!("crawl {id}: finish reason {text:?}")))?,
        ),
        None => None,
    };
    Ok(CrawlRun {
        id: CrawlId(id),
        markets,
        started_at,
        finished_at,
        finish_reason,
        config: config.0,
        tool_version,
    })
}

async fn market_id(
    conn: &mut Conn,
    market: &MarketName,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO markets (name, created_at) VALUES ($1, $2)
         ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(market.as_str())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("recording market {market}"))?;
    if let Some(id) = inserted {
        return Ok(id);
    }
    sqlx::query_scalar("SELECT id FROM markets WHERE name = $1")
        .bind(market.as_str())
        .fetch_one(&mut *conn)
        .await
        .context(|| format!("looking up market {market}"))
}

pub(crate) async fn store_capture(
    conn: &mut Conn,
    capture: &Capture,
    compression_level: i32,
    raw_key: Option<&crate::RawKey>,
    now: DateTime<Utc>,
) -> Result<CaptureStored, StoreError> {
    let key = capture.key();
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM captures WHERE capture_key = $1")
        .bind(&key.0)
        .fetch_optional(&mut *conn)
        .await
        .context(|| format!("looking up the capture of {}", capture.url))?;
    if let Some(id) = existing {
        return Ok(CaptureStored { id, new: false });
    }

    let crawl_exists: Option<i64> = sqlx::query_scalar("SELECT id FROM crawls WHERE id = $1")
        .bind(capture.crawl.0)
        .fetch_optional(&mut *conn)
        .await
        .context(|| format!("looking up {}", capture.crawl))?;
    if crawl_exists.is_none() {
        return Err(StoreError::Missing {
            what: "crawl",
            id: capture.crawl.0,
        });
    }
    let market = market_id(conn, &capture.market, now).await?;

    let hash = capture.body_hash();
    // None: a new body; Some(Some(purge)): a body whose bytes a purge deleted, which this
    // capture brings back (the captures that purge covered still say their page was purged).
    let blob_purge: Option<Option<i64>> =
        sqlx::query_scalar("SELECT purge_id FROM blobs WHERE hash = $1")
            .bind(&hash.0)
            .fetch_optional(&mut *conn)
            .await
            .context(|| format!("looking up body {hash}"))?;
    if !matches!(blob_purge, Some(None)) {
        // Read in the transaction: another process may have turned encryption on.
        let policy = raw_policy(conn).await?;
        let key = match &policy {
            Some(policy) => Some(crate::raw::key_for(raw_key, &policy.key_id, || {
                format!("storing the body of {}", capture.url)
            })?),
            None => None,
        };
        let compressed =
            zstd::bulk::compress(&capture.body, compression_level).map_err(|source| {
                StoreError::Compression {
                    action: format!("compressing the body of {}", capture.url),
                    source,
                }
            })?;
        let (data, encryption, key_id) = match key {
            Some(key) => (
                key.seal(&hash.0, &compressed),
                Some(crate::raw::CIPHER),
                Some(key.id()),
            ),
            None => (compressed, None, None),
        };
        sqlx::query(
            "INSERT INTO blobs (hash, size, compression, data, encryption, key_id)
             VALUES ($1, $2, 'zstd', $3, $4, $5)
             ON CONFLICT (hash) DO UPDATE
                SET data = excluded.data, encryption = excluded.encryption,
                    key_id = excluded.key_id, purge_id = NULL
                WHERE blobs.purge_id IS NOT NULL",
        )
        .bind(&hash.0)
        .bind(to_db_int(capture.body.len() as u64))
        .bind(data)
        .bind(encryption)
        .bind(key_id)
        .execute(&mut *conn)
        .await
        .context(|| format!("storing the body of {}", capture.url))?;
    }

    let headers: Vec<(String, String)> = capture
        .redacted_headers()
        .into_iter()
        .map(|h| (h.name, h.value))
        .collect();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO captures (capture_key, market_id, crawl_id, url, final_url, fetched_at,
                               status, headers, body_hash, body_size, truncated, elapsed_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(&key.0)
    .bind(market)
    .bind(capture.crawl.0)
    .bind(&capture.url)
    .bind(capture.final_url.as_deref())
    .bind(capture.fetched_at)
    .bind(i64::from(capture.status))
    .bind(Json(&headers))
    .bind(&hash.0)
    .bind(to_db_int(capture.body.len() as u64))
    .bind(capture.truncated.map(|t| t.as_str()))
    .bind(capture.elapsed_ms.map(to_db_int))
    .fetch_one(&mut *conn)
    .await
    .context(|| format!("storing the capture of {}", capture.url))?;
    Ok(CaptureStored { id, new: true })
}

type CaptureRow = (
    String,
    i64,
    String,
    Option<String>,
    DateTime<Utc>,
    i64,
    Json<Vec<(String, String)>>,
    String,
    Option<String>,
    Option<i64>,
    i64,
    String,
    Vec<u8>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// Ids of stored captures in storage order, optionally of one crawl.
pub(crate) async fn capture_ids(
    conn: &mut Conn,
    crawl: Option<CrawlId>,
) -> Result<Vec<i64>, StoreError> {
    let ids: Vec<i64> = match crawl {
        Some(crawl) => {
            sqlx::query_scalar("SELECT id FROM captures WHERE crawl_id = $1 ORDER BY id")
                .bind(crawl.0)
                .fetch_all(&mut *conn)
                .await
        }
        None => {
            sqlx::query_scalar("SELECT id FROM captures ORDER BY id")
                .fetch_all(&mut *conn)
                .await
        }
    }
    .context(|| "listing captures".to_string())?;
    Ok(ids)
}

pub(crate) async fn load_capture(
    conn: &mut Conn,
    capture_id: i64,
    raw_key: Option<&crate::RawKey>,
) -> Result<Capture, StoreError> {
    let row: Option<CaptureRow> = sqlx::query_as(
        "SELECT m.name, c.crawl_id, c.url, c.final_url, c.fetched_at, c.status, c.headers,
                c.body_hash, c.truncated, c.elapsed_ms, b.size, b.compression, b.data,
                b.encryption, b.key_id, COALESCE(c.raw_purge_id, b.purge_id)
         FROM captures c
         JOIN markets m ON m.id = c.market_id
         JOIN blobs b ON b.hash = c.body_hash
         WHERE c.id = $1",
    )
    .bind(capture_id)
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("reading capture {capture_id}"))?;
    let Some((
        market,
        crawl,
        url,
        final_url,
        fetched_at,
        status,
        headers,
        body_hash,
        truncated,
        elapsed_ms,
        size,
        compression,
        data,
        encryption,
        key_id,
        purge,
    )) = row
    else {
        return Err(StoreError::Missing {
            what: "capture",
            id: capture_id,
        });
    };
    let corrupt = |what: String| StoreError::Corrupt {
        what: format!("capture {capture_id}: {what}"),
    };
    if let Some(purge_id) = purge {
        return Err(StoreError::Purged {
            capture_id,
            purge_id,
        });
    }
    if compression != "zstd" {
        return Err(corrupt(format!("unknown compression {compression:?}")));
    }
    let data = match encryption.as_deref() {
        None => data,
        Some(crate::raw::CIPHER) => {
            let key_id = key_id.ok_or_else(|| corrupt("an encrypted body without a key id".into()))?;
            crate::raw::key_for(raw_key, &key_id, || format!("reading capture {capture_id}"))?
                .open(&body_hash, &data)?
        }
        Some(other) => return Err(corrupt(format!("unknown encryption {other:?}"))),
    };
    let capacity = usize::try_from(size).map_err(|_| corrupt(format!("body size {size}")))?;
    let body = zstd::bulk::decompress(&data, capacity).map_err(|source| {
        StoreError::Compression {
            action: format!("decompressing the body of capture {capture_id}"),
            source,
        }
    })?;
    let actual = ContentHash::of(&body);
    if actual.0 != body_hash || body.len() != capacity {
        return Err(corrupt(format!(
            "body hash {actual} ({} bytes) differs from the stored {body_hash} ({size} bytes)",
            body.len()
        )));
    }
    Ok(Capture {
        market: MarketName::new(&market).map_err(|e| corrupt(e.to_string()))?,
        crawl: CrawlId(crawl),
        url,
        final_url,
        fetched_at,
        status: u16::try_from(status).map_err(|_| corrupt(format!("status {status}")))?,
        headers: headers
            .0
            .iter()
            .map(|(name, value)| Header::new(name, value))
            .collect(),
        body,
        truncated: match truncated {
            Some(text) => Some(
                Truncation::parse(&text)
                    .ok_or_else(|| corrupt(format!("truncation {text:?}")))?,
            ),
            None => None,
        },
        elapsed_ms: elapsed_ms.map(|ms| u64::try_from(ms).unwrap_or(0)),
    })
}

/// The capture an extraction belongs to, as far as observations need it.
struct CaptureContext {
    id: i64,
    market_id: i64,
    market: MarketName,
    crawl_id: i64,
    fetched_at: DateTime<Utc>,
}

pub(crate) async fn ingest_extraction(
    conn: &mut Conn,
    capture_id: i64,
    extraction: &Extraction,
    now: DateTime<Utc>,
) -> Result<IngestReport, StoreError> {
    let mut report = IngestReport {
        capture_id,
        ..IngestReport::default()
    };
    check_extraction(extraction)?;
    let row: Option<(i64, String, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT c.market_id, m.name, c.crawl_id, c.fetched_at
         FROM captures c JOIN markets m ON m.id = c.market_id WHERE c.id = $1",
    )
    .bind(capture_id)
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("looking up capture {capture_id}"))?;
    let Some((market_id, market, crawl_id, fetched_at)) = row else {
        return Err(StoreError::Missing {
            what: "capture",
            id: capture_id,
        });
    };
    let capture = CaptureContext {
        id: capture_id,
        market_id,
        market: MarketName::new(&market).map_err(|e| StoreError::Corrupt {
            what: format!("market of capture {capture_id}: {e}"),
        })?,
        crawl_id,
        fetched_at,
    };

    let extraction_id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO extractions (capture_id, parser_version, page_kind, diagnostics, ingested_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (capture_id, parser_version) DO NOTHING RETURNING id",
    )
    .bind(capture_id)
    .bind(&extraction.parser_version)
    .bind(extraction.page_kind.as_str())
    .bind(Json(&extraction.diagnostics))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("recording the extraction of capture {capture_id}"))?;
    let Some(extraction_id) = extraction_id else {
        // Already ingested by this parser version: nothing to add.
        return Ok(report);
    };
    report.extraction_new = true;
    let page_kind = extraction.page_kind.as_str();

    for vendor in &extraction.vendors {
        let (vendor_id, new) = vendor_id(conn, &capture, &vendor.handle).await?;
        report.vendors_new += u64::from(new);
        report.vendor_observations +=
            insert_vendor_observation(conn, &capture, extraction_id, extraction, page_kind, vendor_id, vendor)
                .await?;
    }

    for listing in &extraction.listings {
        let (listing_id, new) = entity_id(conn, Entity::Listing, capture.market_id, &listing.key, &capture)
        .await?;
        report.listings_new += u64::from(new);
        let vendor = match &listing.vendor {
            Some(handle) => {
                let (id, new) = vendor_id(conn, &capture, handle).await?;
                report.vendors_new += u64::from(new);
                Some(id)
            }
            None => None,
        };
        report.listing_observations += insert_listing_observation(
            conn,
            &capture,
            extraction_id,
            extraction,
            page_kind,
            listing_id,
            vendor,
            listing,
        )
        .await?;
    }

    // A page's rows are paired with stored entries before anything is written, so the result
    // does not depend on the order pages arrive in: of two pairings, the one that matches more
    // stored entries wins, and on a tie the one that keeps rows on their own keys (see
    // `pair_feedback`).
    let mut feedback: Vec<&FeedbackEntry> = extraction.feedback.iter().collect();
    feedback.sort_by_key(|entry| entry.left_on);
    let mut prepared = Vec::with_capacity(feedback.len());
    for entry in feedback {
        prepared.push(prepare_feedback(conn, &capture, extraction, entry).await?);
    }
    let pairing = pair_feedback(&prepared);
    for (row, existing) in prepared.iter().zip(pairing) {
        if insert_feedback(conn, &capture, extraction_id, row, existing, &mut report).await? {
            report.feedback_new += 1;
        } else {
            report.feedback_seen_again += 1;
        }
    }

    for thread in &extraction.threads {
        let (thread_id, new) = entity_id(conn, Entity::Thread, capture.market_id, &thread.key, &capture)
        .await?;
        report.threads_new += u64::from(new);
        let inserted = sqlx::query(
            "INSERT INTO thread_observations (thread_id, extraction_id, crawl_id, capture_id,
                                              observed_at, parser_version, board, title)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (thread_id, extraction_id) DO NOTHING",
        )
        .bind(thread_id)
        .bind(extraction_id)
        .bind(capture.crawl_id)
        .bind(capture.id)
        .bind(capture.fetched_at)
        .bind(&extraction.parser_version)
        .bind(thread.board.as_deref())
        .bind(thread.title.as_deref())
        .execute(&mut *conn)
        .await
        .context(|| format!("storing an observation of thread {}", thread.key))?;
        // A page that shows the same thread twice observes it once.
        report.thread_observations += inserted.rows_affected();
    }

    for post in &extraction.posts {
        let (thread_id, new_thread) = entity_id(conn, Entity::Thread, capture.market_id, &post.thread_key, &capture)
        .await?;
        report.threads_new += u64::from(new_thread);
        let (post_id, new) = entity_id(conn, Entity::Post, thread_id, &post.identity(), &capture)
        .await?;
        report.posts_new += u64::from(new);
        let (author_kind, author) = match &post.author {
            Some(author) => {
                let (kind, name) = author.parts();
                (Some(kind), Some(name))
            }
            None => (None, None),
        };
        let inserted = sqlx::query(
            "INSERT INTO post_observations (post_id, extraction_id, crawl_id, capture_id,
                                            observed_at, parser_version, author_kind, author,
                                            date_text, text)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (post_id, extraction_id) DO NOTHING",
        )
        .bind(post_id)
        .bind(extraction_id)
        .bind(capture.crawl_id)
        .bind(capture.id)
        .bind(capture.fetched_at)
        .bind(&extraction.parser_version)
        .bind(author_kind)
        .bind(author)
        .bind(post.date_text.as_deref())
        .bind(&post.text)
        .execute(&mut *conn)
        .await
        .context(|| format!("storing a post of thread {}", post.thread_key))?;
        // The same post twice on a page (a double post) is one post, observed once.
        report.post_observations += inserted.rows_affected();
    }

    for event in &extraction.events {
        let new = record_event(
            conn,
            &capture.market,
            event,
            Some(CrawlId(capture.crawl_id)),
            Some(capture.id),
            now,
        )
        .await?;
        report.events_new += u64::from(new);
    }
    Ok(report)
}

/// Interstitial pages (login, captcha, ban, seizure, error…) never yield observations: a login
/// page stored as a listing would corrupt a study. Only events may come from them.
fn check_extraction(extraction: &Extraction) -> Result<(), StoreError> {
    let has_observations = !(extraction.listings.is_empty()
        && extraction.vendors.is_empty()
        && extraction.feedback.is_empty()
        && extraction.threads.is_empty()
        && extraction.posts.is_empty());
    if extraction.page_kind.is_interstitial() && has_observations {
        return Err(StoreError::Refused {
            what: format!("observations from a {} page", extraction.page_kind.as_str()),
            reason: "interstitial pages never yield observations".to_string(),
        });
    }
    if extraction.parser_version.trim().is_empty() {
        return Err(StoreError::Refused {
            what: "an extraction".to_string(),
            reason: "it names no parser version".to_string(),
        });
    }
    Ok(())
}

/// Things with a stable key under a parent: a market's vendors, listings and threads, a thread's
/// posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    Vendor,
    Listing,
    Thread,
    Post,
}

impl Entity {
    /// `(table, parent column, key column)`.
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Entity::Vendor => ("vendors", "market_id", "handle_key"),
            Entity::Listing => ("listings", "market_id", "listing_key"),
            Entity::Thread => ("forum_threads", "market_id", "thread_key"),
            Entity::Post => ("forum_posts", "thread_id", "post_key"),
        }
    }
}

/// The id of the entity `key` under `parent`, created (first seen by this capture's crawl) when
/// missing; `true` when it was created. `label` is what vendors keep beside their key: the
/// handle as first seen.
async fn entity_id(
    conn: &mut Conn,
    entity: Entity,
    parent: i64,
    key: &str,
    capture: &CaptureContext,
) -> Result<(i64, bool), StoreError> {
    entity_id_labelled(conn, entity, parent, key, None, capture).await
}

async fn entity_id_labelled(
    conn: &mut Conn,
    entity: Entity,
    parent: i64,
    key: &str,
    label: Option<&str>,
    capture: &CaptureContext,
) -> Result<(i64, bool), StoreError> {
    let (table, parent_column, key_column) = entity.columns();
    let (label_column, label_value) = match label {
        Some(_) => (", handle", ", $5"),
        None => ("", ""),
    };
    let sql = format!(
        "INSERT INTO {table} ({parent_column}, {key_column}, first_crawl_id, first_seen_at{label_column})
         VALUES ($1, $2, $3, $4{label_value})
         ON CONFLICT ({parent_column}, {key_column}) DO NOTHING RETURNING id"
    );
    let mut insert = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
        .bind(parent)
        .bind(key)
        .bind(capture.crawl_id)
        .bind(capture.fetched_at);
    if let Some(label) = label {
        insert = insert.bind(label);
    }
    let inserted: Option<i64> = insert
        .fetch_optional(&mut *conn)
        .await
        .context(|| format!("recording {table} entry {key:?}"))?;
    if let Some(id) = inserted {
        return Ok((id, true));
    }
    let id = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM {table} WHERE {parent_column} = $1 AND {key_column} = $2"
    )))
    .bind(parent)
    .bind(key)
    .fetch_one(&mut *conn)
    .await
    .context(|| format!("looking up {table} entry {key:?}"))?;
    Ok((id, false))
}

/// Vendors are one per handle on a market, compared without regard to case; the handle is kept
/// as first seen.
async fn vendor_id(
    conn: &mut Conn,
    capture: &CaptureContext,
    handle: &str,
) -> Result<(i64, bool), StoreError> {
    let handle = handle.trim();
    let key = handle.to_lowercase();
    if key.is_empty() {
        return Err(StoreError::Refused {
            what: "a vendor".to_string(),
            reason: "its handle is empty".to_string(),
        });
    }
    entity_id_labelled(conn, Entity::Vendor, capture.market_id, &key, Some(handle), capture).await
}

async fn insert_vendor_observation(
    conn: &mut Conn,
    capture: &CaptureContext,
    extraction_id: i64,
    extraction: &Extraction,
    page_kind: &str,
    vendor_id: i64,
    vendor: &Vendor,
) -> Result<u64, StoreError> {
    let fingerprint = vendor.pgp_fingerprint.as_ref().map(|f| f.as_str());
    if let Some(fingerprint) = fingerprint {
        // The key block is kept once per fingerprint, not in every observation.
        sqlx::query(
            "INSERT INTO pgp_keys (fingerprint, armored, first_seen_at) VALUES ($1, $2, $3)
             ON CONFLICT (fingerprint) DO NOTHING",
        )
        .bind(fingerprint)
        .bind(vendor.pgp_key.as_deref().unwrap_or(""))
        .bind(capture.fetched_at)
        .execute(&mut *conn)
        .await
        .context(|| format!("storing the PGP key of vendor {:?}", vendor.handle))?;
    }
    let mut data = vendor.clone();
    if data.pgp_fingerprint.is_some() {
        data.pgp_key = None;
    }
    let counts = vendor.feedback_counts;
    sqlx::query(
        "INSERT INTO vendor_observations (vendor_id, extraction_id, crawl_id, capture_id,
             observed_at, parser_version, page_kind, rating, positive_percent, sales,
             feedback_positive, feedback_neutral, feedback_negative, level, pgp_fingerprint,
             registered, last_seen, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT (vendor_id, extraction_id) DO NOTHING",
    )
    .bind(vendor_id)
    .bind(extraction_id)
    .bind(capture.crawl_id)
    .bind(capture.id)
    .bind(capture.fetched_at)
    .bind(&extraction.parser_version)
    .bind(page_kind)
    .bind(vendor.rating)
    .bind(vendor.positive_percent)
    .bind(vendor.sales.map(to_db_int))
    .bind(counts.map(|c| to_db_int(c.positive)))
    .bind(counts.map(|c| to_db_int(c.neutral)))
    .bind(counts.map(|c| to_db_int(c.negative)))
    .bind(vendor.level.as_deref())
    .bind(fingerprint)
    .bind(vendor.registered.as_deref())
    .bind(vendor.last_seen.as_deref())
    .bind(Json(&data))
    .execute(&mut *conn)
    .await
    .context(|| format!("storing an observation of vendor {:?}", vendor.handle))
    // A page that shows the same vendor twice observes it once.
    .map(|done| done.rows_affected())
}

#[allow(clippy::too_many_arguments)]
async fn insert_listing_observation(
    conn: &mut Conn,
    capture: &CaptureContext,
    extraction_id: i64,
    extraction: &Extraction,
    page_kind: &str,
    listing_id: i64,
    vendor_id: Option<i64>,
    listing: &Listing,
) -> Result<u64, StoreError> {
    // The description has its own column; the rest of the listing is kept whole as JSON.
    let mut data = listing.clone();
    data.description = None;
    let ships_to: Vec<&str> = listing.ships_to.iter().map(|c| c.code()).collect();
    let (stock, stock_unlimited) = match listing.stock {
        Some(Some(count)) => (Some(to_db_int(count)), Some(false)),
        Some(None) => (None, Some(true)),
        None => (None, None),
    };
    sqlx::query(
        "INSERT INTO listing_observations (listing_id, extraction_id, crawl_id, capture_id,
             observed_at, parser_version, page_kind, title, vendor_id, price_amount,
             price_currency, category, quantity_count, quantity_amount, quantity_unit,
             ships_from, ships_to, stock, stock_unlimited, sales, escrow, finalize_early,
             description, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20, $21, $22, $23, $24)
         ON CONFLICT (listing_id, extraction_id) DO NOTHING",
    )
    .bind(listing_id)
    .bind(extraction_id)
    .bind(capture.crawl_id)
    .bind(capture.id)
    .bind(capture.fetched_at)
    .bind(&extraction.parser_version)
    .bind(page_kind)
    .bind(listing.title.as_deref())
    .bind(vendor_id)
    .bind(listing.price.as_ref().map(|p| p.amount_text()))
    .bind(listing.price.as_ref().map(|p| p.currency.as_str().to_string()))
    .bind(Json(&listing.category))
    .bind(listing.quantity.as_ref().map(|q| i64::from(q.count)))
    .bind(listing.quantity.as_ref().map(|q| q.amount.to_string()))
    .bind(listing.quantity.as_ref().map(|q| q.unit.clone()))
    .bind(listing.ships_from.map(|c| c.code().to_string()))
    .bind(Json(&ships_to))
    .bind(stock)
    .bind(stock_unlimited)
    .bind(listing.sales.map(to_db_int))
    .bind(listing.escrow)
    .bind(listing.finalize_early)
    .bind(listing.description.as_deref())
    .bind(Json(&data))
    .execute(&mut *conn)
    .await
    .context(|| format!("storing an observation of listing {}", listing.key))
    // A page that lists the same listing twice (featured and in the list) observes it once.
    .map(|done| done.rows_affected())
}

/// Stores a feedback entry once per content key and records that this crawl saw it; `true` when
/// the entry is new. An entry that names no vendor or listing takes them from the page it is on
/// (a vendor page's vendor, a listing page's listing and its vendor).
/// A feedback row of a page with what the store holds under the keys near its own.
struct PreparedFeedback {
    entry: FeedbackEntry,
    key: dnmscope_model::FeedbackKey,
    /// Keys within the date's resolution, earliest date first (its own among them).
    candidates: Vec<dnmscope_model::FeedbackKey>,
    /// Stored entries under those keys: key -> feedback id.
    stored: std::collections::HashMap<String, i64>,
}

async fn prepare_feedback(
    conn: &mut Conn,
    capture: &CaptureContext,
    extraction: &Extraction,
    entry: &FeedbackEntry,
) -> Result<PreparedFeedback, StoreError> {
    let page_listing = match extraction.listings.as_slice() {
        [only] => Some(only),
        _ => None,
    };
    let page_vendor = match extraction.vendors.as_slice() {
        [only] => Some(only.handle.clone()),
        _ => page_listing.and_then(|l| l.vendor.clone()),
    };
    let mut entry = entry.clone();
    if entry.vendor.is_none() {
        entry.vendor = page_vendor;
    }
    if entry.listing_key.is_none() {
        entry.listing_key = page_listing.map(|l| l.key.clone());
    }
    let key = entry.content_key(&capture.market);
    let candidates = entry.keys_within_resolution(&capture.market);
    let mut select = sqlx::QueryBuilder::<Db>::new(
        "SELECT f.feedback_key, f.id FROM feedback f WHERE f.market_id = ",
    );
    select.push_bind(capture.market_id);
    select.push(" AND f.feedback_key IN (");
    let mut list = select.separated(", ");
    for candidate in &candidates {
        list.push_bind(candidate.0.clone());
    }
    select.push(")");
    let stored = select
        .build_query_as::<(String, i64)>()
        .fetch_all(&mut *conn)
        .await
        .context(|| format!("looking up feedback {key} and its neighbouring dates"))?
        .into_iter()
        .collect();
    Ok(PreparedFeedback {
        entry,
        key,
        candidates,
        stored,
    })
}

/// Pairs a page's rows (earliest first) with stored entries, each stored entry taken by at most
/// one row unless rows are identical (identical rows of one page are one entry). Two pairings
/// are tried: *earliest*, where each row takes the earliest untaken stored entry within its
/// date's resolution (a whole page of ages read a day later than last time: "10d" then "11d"),
/// and *own key first*, where rows whose own key is stored take it and the rest the nearest
/// untaken one (a page showing an older review beside one seen before). The one that pairs more
/// stored entries wins; on a tie, own key first.
fn pair_feedback(rows: &[PreparedFeedback]) -> Vec<Option<i64>> {
    use std::collections::HashSet;
    let own = |row: &PreparedFeedback| row.stored.get(&row.key.0).copied();
    let mut taken = HashSet::new();
    let earliest: Vec<Option<i64>> = rows
        .iter()
        .map(|row| {
            let id = row
                .candidates
                .iter()
                .filter_map(|c| row.stored.get(&c.0).copied())
                .find(|id| !taken.contains(id))
                .or_else(|| own(row));
            taken.extend(id);
            id
        })
        .collect();
    let mut taken = HashSet::new();
    let mut own_first: Vec<Option<i64>> = rows.iter().map(own).collect();
    taken.extend(own_first.iter().flatten().copied());
    for (row, slot) in rows.iter().zip(own_first.iter_mut()) {
        if slot.is_some() {
            continue;
        }
        let own_index = row.candidates.iter().position(|c| c == &row.key).unwrap_or(0);
        let mut order: Vec<usize> = (0..row.candidates.len()).collect();
        order.sort_by_key(|&i| (i.abs_diff(own_index), i));
        *slot = order
            .into_iter()
            .filter_map(|i| row.stored.get(&row.candidates[i].0).copied())
            .find(|id| !taken.contains(id));
        taken.extend(*slot);
    }
    let paired = |pairing: &[Option<i64>]| pairing.iter().flatten().collect::<HashSet<_>>().len();
    if paired(&earliest) > paired(&own_first) {
        earliest
    } else {
        own_first
    }
}

/// Stores a paired feedback row: a sighting of `existing`, else a new entry (or the entry an
/// identical row of the same page just made); `true` when new.
async fn insert_feedback(
    conn: &mut Conn,
    capture: &CaptureContext,
    extraction_id: i64,
    row: &PreparedFeedback,
    existing: Option<i64>,
    report: &mut IngestReport,
) -> Result<bool, StoreError> {
    let entry = &row.entry;
    let key = &row.key;
    let mut existing = existing;
    if existing.is_none() {
        existing = sqlx::query_scalar(
            "SELECT id FROM feedback WHERE market_id = $1 AND feedback_key = $2",
        )
        .bind(capture.market_id)
        .bind(&key.0)
        .fetch_optional(&mut *conn)
        .await
        .context(|| format!("looking up feedback {key}"))?;
    }
    let (feedback_id, new) = match existing {
        Some(id) => (id, false),
        None => {
            let vendor = match &entry.vendor {
                Some(handle) => {
                    let (id, new) = vendor_id(conn, capture, handle).await?;
                    report.vendors_new += u64::from(new);
                    Some(id)
                }
                None => None,
            };
            let listing = match &entry.listing_key {
                Some(listing_key) => {
                    let (id, new) =
                        entity_id(conn, Entity::Listing, capture.market_id, listing_key, capture)
                            .await?;
                    report.listings_new += u64::from(new);
                    Some(id)
                }

                None => None,
            };
            let left_on: Option<NaiveDate> = entry.left_on;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO feedback (market_id, feedback_key, vendor_id, listing_id, rating,
                     text, date_text, left_on, item, price_amount, price_currency,
                     first_crawl_id, first_capture_id, first_extraction_id, first_seen_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                 RETURNING id",
            )
            .bind(capture.market_id)
            .bind(&key.0)
            .bind(vendor)
            .bind(listing)
            .bind(entry.rating.as_text())
            .bind(&entry.text)
            .bind(entry.date_text.as_deref())
            .bind(left_on)
            .bind(entry.item.as_deref())
            .bind(entry.price.as_ref().map(|p| p.amount_text()))
            .bind(entry.price.as_ref().map(|p| p.currency.as_str().to_string()))
            .bind(capture.crawl_id)
            .bind(capture.id)
            .bind(extraction_id)
            .bind(capture.fetched_at)
            .fetch_one(&mut *conn)
            .await
            .context(|| format!("storing feedback {key}"))?;
            (id, true)
        }
    };
    sqlx::query(
        "INSERT INTO feedback_sightings (feedback_id, crawl_id, capture_id, seen_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (feedback_id, crawl_id) DO NOTHING",
    )
    .bind(feedback_id)
    .bind(capture.crawl_id)
    .bind(capture.id)
    .bind(capture.fetched_at)
    .execute(&mut *conn)
    .await
    .context(|| format!("recording a sighting of feedback {key}"))?;
    Ok(new)
}

pub(crate) async fn record_event(
    conn: &mut Conn,
    market: &MarketName,
    event: &MarketEvent,
    crawl: Option<CrawlId>,
    capture: Option<i64>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let market_id = market_id(conn, market, now).await?;
    let inserted = sqlx::query(
        "INSERT INTO market_events (market_id, kind, observed_at, detail, crawl_id, capture_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (market_id, kind, observed_at) DO NOTHING",
    )
    .bind(market_id)
    .bind(event.kind.as_str())
    .bind(event.observed_at)
    .bind(&event.detail)
    .bind(crawl.map(|c| c.0))
    .bind(capture)
    .execute(&mut *conn)
    .await
    .context(|| format!("recording a {} event of {market}", event.kind.as_str()))?;
    Ok(inserted.rows_affected() > 0)
}

type CrawlSummaryRow = (
    i64,
    Json<Vec<String>>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    i64,
);

pub(crate) async fn stats(conn: &mut Conn) -> Result<Stats, StoreError> {
    let mut tables = Vec::new();
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&mut *conn)
            .await
            .context(|| format!("counting the rows of {table}"))?;
        tables.push(TableCount {
            table: table.to_string(),
            rows,
        });
    }
    let crawls: Vec<CrawlSummaryRow> = sqlx::query_as(
        "SELECT k.id, k.markets, k.started_at, k.finished_at, k.finish_reason,
                (SELECT COUNT(*) FROM captures c WHERE c.crawl_id = k.id)
         FROM crawls k ORDER BY k.id",
    )
    .fetch_all(&mut *conn)
    .await
    .context(|| "listing crawls".to_string())?;
    let crawls = crawls
        .into_iter()
        .map(
            |(id, markets, started_at, finished_at, finish_reason, captures)| CrawlSummary {
                id,
                markets: markets.0,
                started_at,
                finished_at,
                finish_reason,
                captures,
            },
        )
        .collect();
    let mut first_observation: Option<DateTime<Utc>> = None;
    let mut last_observation: Option<DateTime<Utc>> = None;
    for (table, column) in [
        ("listing_observations", "observed_at"),
        ("vendor_observations", "observed_at"),
        ("thread_observations", "observed_at"),
        ("post_observations", "observed_at"),
        ("feedback_sightings", "seen_at"),
    ] {
        let (first, last): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT MIN({column}), MAX({column}) FROM {table}")))
        .fetch_one(&mut *conn)
        .await
        .context(|| format!("finding the time span of {table}"))?;
        first_observation = match (first_observation, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last_observation = match (last_observation, last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    let (body_bytes, stored_body_bytes): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT),
                CAST(COALESCE(SUM({BLOB_LENGTH}), 0) AS BIGINT)
         FROM blobs"
    )))
    .fetch_one(&mut *conn)
    .await
    .context(|| "measuring raw bodies".to_string())?;
    Ok(Stats {
        backend: String::new(),
        location: String::new(),
        tables,
        crawls,
        first_observation,
        last_observation,
        body_bytes,
        stored_body_bytes,
        raw: raw_stats(conn).await?,
    })
}
