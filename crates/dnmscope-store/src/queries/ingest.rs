// Ingest: the observations one parser version made of a capture.

/// The capture an extraction belongs to, as far as observations need it.
struct CaptureContext {
    id: i64,
    market_id: i64,
    market: MarketName,
    crawl_id: i64,
    fetched_at: DateTime<Utc>,
}

/// What ingest needs to know of a stored capture: its market, crawl and time.
async fn capture_context(conn: &mut Conn, capture_id: i64) -> Result<CaptureContext, StoreError> {
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
    Ok(CaptureContext {
        id: capture_id,
        market_id,
        market: MarketName::new(&market).map_err(|e| StoreError::Corrupt {
            what: format!("market of capture {capture_id}: {e}"),
        })?,
        crawl_id,
        fetched_at,
    })
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
    let capture = capture_context(conn, capture_id).await?;

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
    let market_id = capture.market_id;

    // Every entity the page names, resolved a kind at a time (one lookup and at most one
    // multi-row insert per kind, not two statements per row): vendors in the order the page
    // names them (its vendors, then the listings' vendors), listings, threads.
    let handles: Vec<&str> = extraction
        .vendors
        .iter()
        .map(|v| v.handle.as_str())
        .chain(extraction.listings.iter().filter_map(|l| l.vendor.as_deref()))
        .collect();
    let vendors = vendor_ids(conn, &capture, &handles).await?;
    report.vendors_new += vendors.new;
    let listing_keys: Vec<&str> = extraction.listings.iter().map(|l| l.key.as_str()).collect();
    let listings = entity_ids(conn, Entity::Listing, market_id, &listing_keys, None, &capture).await?;
    report.listings_new += listings.new;

    for vendor in &extraction.vendors {
        let vendor_id = vendors.id(&vendor_key(&vendor.handle))?;
        report.vendor_observations +=
            insert_vendor_observation(conn, &capture, extraction_id, extraction, page_kind, vendor_id, vendor)
                .await?;
    }

    // A page that lists the same listing twice (featured and in the list) observes it once.
    let mut rows = Vec::with_capacity(extraction.listings.len());
    let mut seen = std::collections::HashSet::with_capacity(extraction.listings.len());
    for listing in &extraction.listings {
        let listing_id = listings.id(&listing.key)?;
        if !seen.insert(listing_id) {
            continue;
        }
        let (vendor_id, handle) = match &listing.vendor {
            Some(shown) => {
                let key = vendor_key(shown);
                (Some(vendors.id(&key)?), vendors.label(&key))
            }
            None => (None, None),
        };
        rows.push(ObservationInsert {
            listing_id: Some(listing_id),
            extraction_id,
            crawl_id: capture.crawl_id,
            capture_id: capture.id,
            observed_at: capture.fetched_at,
            parser_version: &extraction.parser_version,
            page_kind,
            vendor_id,
            row: ListingRow::split(listing, handle),
        });
    }
    report.listing_observations += insert_listing_rows(conn, &rows).await?;

    // A page's rows are paired with stored entries before anything is written, so the result
    // does not depend on the order pages arrive in: of two pairings, the one that matches more
    // stored entries wins, and on a tie the one that keeps rows on their own keys (see
    // `pair_feedback`).
    if !extraction.feedback.is_empty() {
        ingest_feedback(conn, &capture, extraction_id, extraction, &mut report).await?;
    }

    if !(extraction.threads.is_empty() && extraction.posts.is_empty()) {
        ingest_forum(conn, &capture, extraction_id, extraction, &mut report).await?;
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

/// Rows per multi-row statement: well under SQLite's 32,766 and PostgreSQL's 65,535 bound
/// parameters for the widest row (24 columns).
const ROWS_PER_STATEMENT: usize = 500;

/// The feedback rows of a page: looked up with one query for all of their keys, paired with
/// stored entries, the new ones inserted together and every sighting recorded in one statement.
async fn ingest_feedback(
    conn: &mut Conn,
    capture: &CaptureContext,
    extraction_id: i64,
    extraction: &Extraction,
    report: &mut IngestReport,
) -> Result<(), StoreError> {
    let mut feedback: Vec<&FeedbackEntry> = extraction.feedback.iter().collect();
    feedback.sort_by_key(|entry| entry.left_on);
    let prepared = prepare_feedback(conn, capture, extraction, &feedback).await?;
    let pairing = pair_feedback(&prepared);
    // Rows paired with nothing stored are new entries; identical rows of one page (one key) are
    // one entry, the first of them new and the others seen again.
    let mut new_rows: Vec<&PreparedFeedback> = Vec::new();
    let mut new_keys = std::collections::HashSet::new();
    for (row, existing) in prepared.iter().zip(&pairing) {
        if existing.is_none() && new_keys.insert(row.key.0.as_str()) {
            new_rows.push(row);
        }
    }
    let created = insert_new_feedback(conn, capture, extraction_id, &new_rows, report).await?;
    report.feedback_new += created.len() as u64;
    let mut sightings = Vec::with_capacity(prepared.len());
    for (row, existing) in prepared.iter().zip(&pairing) {
        let id = match existing {
            Some(id) => *id,
            None => *created.get(&row.key.0).ok_or_else(|| StoreError::Corrupt {
                what: format!("feedback {} was not stored", row.key),
            })?,
        };
        sightings.push(id);
    }
    report.feedback_seen_again += (prepared.len() - created.len()) as u64;
    for chunk in sightings.chunks(ROWS_PER_STATEMENT) {
        let mut insert = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO feedback_sightings (feedback_id, crawl_id, capture_id, seen_at) ",
        );
        insert.push_values(chunk, |mut row, id| {
            row.push_bind(*id)
                .push_bind(capture.crawl_id)
                .push_bind(capture.id)
                .push_bind(capture.fetched_at);
        });
        insert.push(" ON CONFLICT (feedback_id, crawl_id) DO NOTHING");
        insert
            .build()
            .execute(&mut *conn)
            .await
            .context(|| format!("recording the feedback sightings of capture {}", capture.id))?;
    }
    Ok(())
}

/// Inserts the page's new feedback entries (their vendors and listings created when missing);
/// the id of each by key.
async fn insert_new_feedback(
    conn: &mut Conn,
    capture: &CaptureContext,
    extraction_id: i64,
    rows: &[&PreparedFeedback],
    report: &mut IngestReport,
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    let mut created = std::collections::HashMap::new();
    if rows.is_empty() {
        return Ok(created);
    }
    let handles: Vec<&str> = rows.iter().filter_map(|r| r.entry.vendor.as_deref()).collect();
    let vendors = vendor_ids(conn, capture, &handles).await?;
    report.vendors_new += vendors.new;
    let listing_keys: Vec<&str> =
        rows.iter().filter_map(|r| r.entry.listing_key.as_deref()).collect();
    let listings =
        entity_ids(conn, Entity::Listing, capture.market_id, &listing_keys, None, capture).await?;
    report.listings_new += listings.new;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut values = Vec::with_capacity(chunk.len());
        for row in chunk {
            let vendor = match &row.entry.vendor {
                Some(handle) => Some(vendors.id(&vendor_key(handle))?),
                None => None,
            };
            let listing = match &row.entry.listing_key {
                Some(key) => Some(listings.id(key)?),
                None => None,
            };
            values.push((*row, vendor, listing));
        }
        let mut insert = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO feedback (market_id, feedback_key, vendor_id, listing_id, rating, text,
                 date_text, left_on, item, price_amount, price_currency, first_crawl_id,
                 first_capture_id, first_extraction_id, first_seen_at) ",
        );
        insert.push_values(&values, |mut b, (row, vendor, listing)| {
            let entry = &row.entry;
            b.push_bind(capture.market_id)
                .push_bind(row.key.0.clone())
                .push_bind(*vendor)
                .push_bind(*listing)
                .push_bind(entry.rating.as_text())
                .push_bind(entry.text.clone())
                .push_bind(entry.date_text.clone())
                .push_bind(entry.left_on)
                .push_bind(entry.item.clone())
                .push_bind(entry.price.as_ref().map(|p| p.amount_text()))
                .push_bind(entry.price.as_ref().map(|p| p.currency.as_str().to_string()))
                .push_bind(capture.crawl_id)
                .push_bind(capture.id)
                .push_bind(extraction_id)
                .push_bind(capture.fetched_at);
        });
        insert.push(" RETURNING id, feedback_key");
        let ids: Vec<(i64, String)> = insert
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .context(|| format!("storing {} feedback entries of capture {}", chunk.len(), capture.id))?;
        created.extend(ids.into_iter().map(|(id, key)| (key, id)));
    }
    Ok(created)
}

/// A page's threads and posts: threads resolved together, posts per thread, observations in
/// multi-row inserts.
async fn ingest_forum(
    conn: &mut Conn,
    capture: &CaptureContext,
    extraction_id: i64,
    extraction: &Extraction,
    report: &mut IngestReport,
) -> Result<(), StoreError> {
    let thread_keys: Vec<&str> = extraction
        .threads
        .iter()
        .map(|t| t.key.as_str())
        .chain(extraction.posts.iter().map(|p| p.thread_key.as_str()))
        .collect();
    let threads =
        entity_ids(conn, Entity::Thread, capture.market_id, &thread_keys, None, capture).await?;
    report.threads_new += threads.new;
    for chunk in extraction.threads.chunks(ROWS_PER_STATEMENT) {
        let mut values = Vec::with_capacity(chunk.len());
        for thread in chunk {
            values.push((threads.id(&thread.key)?, thread));
        }
        let mut insert = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO thread_observations (thread_id, extraction_id, crawl_id, capture_id,
                                              observed_at, parser_version, board, title) ",
        );
        insert.push_values(&values, |mut b, (id, thread)| {
            b.push_bind(*id)
                .push_bind(extraction_id)
                .push_bind(capture.crawl_id)
                .push_bind(capture.id)
                .push_bind(capture.fetched_at)
                .push_bind(extraction.parser_version.clone())
                .push_bind(thread.board.clone())
                .push_bind(thread.title.clone());
        });
        // A page that shows the same thread twice observes it once.
        insert.push(" ON CONFLICT (thread_id, extraction_id) DO NOTHING");
        report.thread_observations += insert
            .build()
            .execute(&mut *conn)
            .await
            .context(|| format!("storing the thread observations of capture {}", capture.id))?
            .rows_affected();
    }
    if extraction.posts.is_empty() {
        return Ok(());
    }
    // Posts are keyed under their thread: one resolution per thread the page's posts are in.
    let mut by_thread: Vec<(i64, Vec<String>)> = Vec::new();
    for post in &extraction.posts {
        let thread_id = threads.id(&post.thread_key)?;
        match by_thread.iter_mut().find(|(id, _)| *id == thread_id) {
            Some((_, keys)) => keys.push(post.identity()),
            None => by_thread.push((thread_id, vec![post.identity()])),
        }
    }
    let mut post_ids = std::collections::HashMap::new();
    for (thread_id, keys) in &by_thread {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let posts = entity_ids(conn, Entity::Post, *thread_id, &keys, None, capture).await?;
        report.posts_new += posts.new;
        for key in keys {
            post_ids.insert((*thread_id, key.to_string()), posts.id(key)?);
        }
    }
    for chunk in extraction.posts.chunks(ROWS_PER_STATEMENT) {
        let mut insert = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO post_observations (post_id, extraction_id, crawl_id, capture_id,
                                            observed_at, parser_version, author_kind, author,
                                            date_text, text) ",
        );
        let mut values = Vec::with_capacity(chunk.len());
        for post in chunk {
            let thread_id = threads.id(&post.thread_key)?;
            values.push((post_ids[&(thread_id, post.identity())], post));
        }
        insert.push_values(&values, |mut b, (id, post)| {
            let (author_kind, author) = match &post.author {
                Some(author) => {
                    let (kind, name) = author.parts();
                    (Some(kind), Some(name.to_string()))
                }
                None => (None, None),
            };
            b.push_bind(*id)
                .push_bind(extraction_id)
                .push_bind(capture.crawl_id)
                .push_bind(capture.id)
                .push_bind(capture.fetched_at)
                .push_bind(extraction.parser_version.clone())
                .push_bind(author_kind)
                .push_bind(author)
                .push_bind(post.date_text.clone())
                .push_bind(post.text.clone());
        });
        // The same post twice on a page (a double post) is one post, observed once.
        insert.push(" ON CONFLICT (post_id, extraction_id) DO NOTHING");
        report.post_observations += insert
            .build()
            .execute(&mut *conn)
            .await
            .context(|| format!("storing the posts of capture {}", capture.id))?
            .rows_affected();
    }
    Ok(())
}

/// Interstitial pages (login, captcha, ban, seizure, error…) never yield observations: a login
/// page stored as a listing would corrupt a study. Only events may come from them.
pub(crate) fn check_extraction(extraction: &Extraction) -> Result<(), StoreError> {
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

/// Entities of one kind resolved for a page: key -> id, and how many were created.
struct Resolved {
    table: &'static str,
    ids: std::collections::HashMap<String, i64>,
    /// Vendors: key -> the handle stored (as first seen).
    labels: std::collections::HashMap<String, String>,
    new: u64,
}

impl Resolved {
    fn extend(&mut self, rows: Vec<(String, i64, String)>, labelled: bool) {
        for (key, id, label) in rows {
            if labelled {
                self.labels.insert(key.clone(), label);
            }
            self.ids.insert(key, id);
        }
    }

    /// The stored handle of the vendor `key`.
    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    fn id(&self, key: &str) -> Result<i64, StoreError> {
        self.ids.get(key).copied().ok_or_else(|| StoreError::Corrupt {
            what: format!("{} entry {key:?} was neither found nor created", self.table),
        })
    }
}

/// The ids of the entities `keys` under `parent`, those missing created (first seen by this
/// capture's crawl) in one multi-row insert. `labels`, beside the keys, is what vendors keep
/// beside their key: the handle as first seen. A key named twice is one entity, labelled by
/// its first mention.
async fn entity_ids(
    conn: &mut Conn,
    entity: Entity,
    parent: i64,
    keys: &[&str],
    labels: Option<&[&str]>,
    capture: &CaptureContext,
) -> Result<Resolved, StoreError> {
    let (table, parent_column, key_column) = entity.columns();
    let mut resolved = Resolved {
        table,
        ids: std::collections::HashMap::with_capacity(keys.len()),
        labels: std::collections::HashMap::new(),
        new: 0,
    };
    // What a lookup returns beside the key and id: the stored label, where there is one.
    let label_column = if labels.is_some() { "handle" } else { key_column };
    // Distinct keys in first-mention order, with their labels.
    let mut wanted: Vec<(&str, Option<&str>)> = Vec::with_capacity(keys.len());
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        if seen.insert(*key) {
            wanted.push((key, labels.map(|l| l[i])));
        }
    }
    if wanted.is_empty() {
        return Ok(resolved);
    }
    let select = |chunk: &[(&str, Option<&str>)]| {
        let mut query = sqlx::QueryBuilder::<Db>::new(format!(
            "SELECT {key_column}, id, {label_column} FROM {table} WHERE {parent_column} = "
        ));
        query.push_bind(parent);
        query.push(format!(" AND {key_column} IN ("));
        let mut list = query.separated(", ");
        for (key, _) in chunk {
            list.push_bind(key.to_string());
        }
        query.push(")");
        query
    };
    for chunk in wanted.chunks(ROWS_PER_STATEMENT) {
        let found: Vec<(String, i64, String)> = select(chunk)
            .build_query_as()
            .persistent(CACHE_KEY_LISTS)
            .fetch_all(&mut *conn)
            .await
            .context(|| format!("looking up {} {table} entries", chunk.len()))?;
        resolved.extend(found, labels.is_some());
    }
    let missing: Vec<(&str, Option<&str>)> = wanted
        .iter()
        .filter(|(key, _)| !resolved.ids.contains_key(*key))
        .copied()
        .collect();
    for chunk in missing.chunks(ROWS_PER_STATEMENT) {
        let insert_label = if labels.is_some() { ", handle" } else { "" };
        let mut insert = sqlx::QueryBuilder::<Db>::new(format!(
            "INSERT INTO {table} ({parent_column}, {key_column}, first_crawl_id, first_seen_at{insert_label}) "
        ));
        insert.push_values(chunk, |mut b, (key, label)| {
            b.push_bind(parent)
                .push_bind(key.to_string())
                .push_bind(capture.crawl_id)
                .push_bind(capture.fetched_at);
            if labels.is_some() {
                b.push_bind(label.map(str::to_string));
            }
        });
        insert.push(format!(
            " ON CONFLICT ({parent_column}, {key_column}) DO NOTHING
             RETURNING {key_column}, id, {label_column}"
        ));
        let created: Vec<(String, i64, String)> = insert
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .context(|| format!("recording {} new {table} entries", chunk.len()))?;
        resolved.new += created.len() as u64;
        resolved.extend(created, labels.is_some());
        // Another writer may have created some meanwhile (PostgreSQL): read those.
        let raced: Vec<(&str, Option<&str>)> = chunk
            .iter()
            .filter(|(key, _)| !resolved.ids.contains_key(*key))
            .copied()
            .collect();
        if !raced.is_empty() {
            let found: Vec<(String, i64, String)> = select(&raced)
                .build_query_as()
                .persistent(CACHE_KEY_LISTS)
                .fetch_all(&mut *conn)
                .await
                .context(|| format!("looking up {} {table} entries", raced.len()))?;
            resolved.extend(found, labels.is_some());
        }
    }
    Ok(resolved)
}

/// Vendors are one per handle on a market, compared without regard to case; the handle is kept
/// as first seen.
async fn vendor_ids(
    conn: &mut Conn,
    capture: &CaptureContext,
    handles: &[&str],
) -> Result<Resolved, StoreError> {
    let labels: Vec<&str> = handles.iter().map(|h| h.trim()).collect();
    let keys: Vec<String> = handles.iter().map(|h| vendor_key(h)).collect();
    if keys.iter().any(String::is_empty) {
        return Err(StoreError::Refused {
            what: "a vendor".to_string(),
            reason: "its handle is empty".to_string(),
        });
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    entity_ids(conn, Entity::Vendor, capture.market_id, &keys, Some(&labels), capture).await
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

/// Listing observations of new extractions, one per listing and extraction, in multi-row
/// inserts; the number stored. (PostgreSQL sends many with `COPY`: `insert_listing_rows`.)
async fn insert_listing_rows_multi(
    conn: &mut Conn,
    rows: &[ObservationInsert<'_>],
) -> Result<u64, StoreError> {
    let mut stored = 0;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut insert = sqlx::QueryBuilder::<Db>::new(format!(
            "INSERT INTO listing_observations (listing_id, extraction_id, crawl_id, capture_id,
                 observed_at, parser_version, page_kind, vendor_id, {ROW_COLUMNS}) "
        ));
        insert.push_values(chunk, |mut b, r| {
            b.push_bind(r.listing_id)
                .push_bind(r.extraction_id)
                .push_bind(r.crawl_id)
                .push_bind(r.capture_id)
                .push_bind(r.observed_at)
                .push_bind(r.parser_version.to_string())
                .push_bind(r.page_kind.to_string())
                .push_bind(r.vendor_id);
            push_listing_row(&mut b, &r.row);
        });
        insert.push(" ON CONFLICT (listing_id, extraction_id) DO NOTHING");
        stored += insert
            .build()
            .execute(&mut *conn)
            .await
            .context(|| format!("storing {} listing observations", chunk.len()))?
            .rows_affected();
    }
    Ok(stored)
}

/// Binds a listing row's columns in the order of [`ROW_COLUMNS`].
fn push_listing_row(
    b: &mut sqlx::query_builder::Separated<'_, Db, &'static str>,
    row: &ListingRow,
) {
    let c = &row.columns;
    b.push_bind(c.title.clone())
        .push_bind(c.price_amount.clone())
        .push_bind(c.price_currency.clone())
        .push_bind(c.category.clone())
        .push_bind(c.quantity_count)
        .push_bind(c.quantity_amount.clone())
        .push_bind(c.quantity_unit.clone())
        .push_bind(c.ships_from.clone())
        .push_bind(c.ships_to.clone())
        .push_bind(c.stock)
        .push_bind(c.stock_unlimited)
        .push_bind(c.sales)
        .push_bind(c.escrow)
        .push_bind(c.finalize_early)
        .push_bind(c.description.clone())
        .push_bind(Json(row.data.clone()));
}

/// A feedback row of a page with what the store holds under the keys near its own.
struct PreparedFeedback {
    entry: FeedbackEntry,
    key: dnmscope_model::FeedbackKey,
    /// Keys within the date's resolution, earliest date first (its own among them).
    candidates: Vec<dnmscope_model::FeedbackKey>,
    /// Stored entries under those keys: key -> feedback id.
    stored: std::collections::HashMap<String, i64>,
}

/// The page's feedback rows with the vendor and listing the page implies (a vendor page's
/// vendor, a listing page's listing and its vendor) and the stored entries near each, read in
/// one query for all of them.
async fn prepare_feedback(
    conn: &mut Conn,
    capture: &CaptureContext,
    extraction: &Extraction,
    entries: &[&FeedbackEntry],
) -> Result<Vec<PreparedFeedback>, StoreError> {
    let page_listing = match extraction.listings.as_slice() {
        [only] => Some(only),
        _ => None,
    };
    let page_vendor = match extraction.vendors.as_slice() {
        [only] => Some(only.handle.clone()),
        _ => page_listing.and_then(|l| l.vendor.clone()),
    };
    let mut prepared: Vec<PreparedFeedback> = entries
        .iter()
        .map(|entry| {
            let mut entry = (*entry).clone();
            if entry.vendor.is_none() {
                entry.vendor = page_vendor.clone();
            }
            if entry.listing_key.is_none() {
                entry.listing_key = page_listing.map(|l| l.key.clone());
            }
            let key = entry.content_key(&capture.market);
            let candidates = entry.keys_within_resolution(&capture.market);
            PreparedFeedback {
                entry,
                key,
                candidates,
                stored: std::collections::HashMap::new(),
            }
        })
        .collect();
    let mut all: Vec<&str> = prepared
        .iter()
        .flat_map(|row| row.candidates.iter().map(|c| c.0.as_str()))
        .collect();
    all.sort_unstable();
    all.dedup();
    let mut stored = std::collections::HashMap::new();
    for chunk in all.chunks(ROWS_PER_STATEMENT) {
        let mut select = sqlx::QueryBuilder::<Db>::new(
            "SELECT f.feedback_key, f.id FROM feedback f WHERE f.market_id = ",
        );
        select.push_bind(capture.market_id);
        select.push(" AND f.feedback_key IN (");
        let mut list = select.separated(", ");
        for key in chunk {
            list.push_bind(key.to_string());
        }
        select.push(")");
        let found: Vec<(String, i64)> = select
            .build_query_as()
            .persistent(CACHE_KEY_LISTS)
            .fetch_all(&mut *conn)
            .await
            .context(|| format!("looking up {} feedback keys of capture {}", chunk.len(), capture.id))?;
        stored.extend(found);
    }
    for row in &mut prepared {
        row.stored = row
            .candidates
            .iter()
            .filter_map(|c| stored.get(&c.0).map(|id| (c.0.clone(), *id)))
            .collect();
    }
    Ok(prepared)
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
