// The crawl frontier: what to fetch next, leases, and what was done with each entry.

#[derive(sqlx::FromRow)]
struct FrontierRow {
    id: i64,
    crawl_id: i64,
    market: String,
    url: String,
    kind: String,
    depth: i64,
    priority: i64,
    state: String,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    capture_id: Option<i64>,
}

const FRONTIER_COLUMNS: &str = "f.id, f.crawl_id, m.name AS market, f.url, f.kind, f.depth, f.priority, \
     f.state, f.attempts, f.next_attempt_at, f.last_error, f.capture_id";

fn frontier_entry(row: FrontierRow) -> Result<dnmscope_model::FrontierEntry, StoreError> {
    let FrontierRow { id, crawl_id, market, url, kind, depth, priority, state, attempts, next_attempt_at, last_error, capture_id } = row;
    Ok(dnmscope_model::FrontierEntry {
        id,
        crawl: CrawlId(crawl_id),
        market: MarketName::new(&market).map_err(|source| StoreError::Corrupt {
            what: format!("frontier entry {id} names market {market:?}: {source}"),
        })?,
        url,
        kind,
        depth: u32::try_from(depth).unwrap_or(0),
        priority: i32::try_from(priority).unwrap_or(0),
        state: dnmscope_model::FrontierState::parse(&state).ok_or_else(|| StoreError::Corrupt {
            what: format!("frontier entry {id} has unknown state {state:?}"),
        })?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at,
        last_error,
        capture_id,
    })
}

/// Adds links to a run's frontier; links already there are left as they are. Returns how many
/// were new.
pub(crate) async fn enqueue(
    conn: &mut Conn,
    crawl: CrawlId,
    market: &MarketName,
    links: &[dnmscope_model::NewLink],
    max_new: Option<u64>,
    now: DateTime<Utc>,
) -> Result<crate::Enqueued, StoreError> {
    let market_id = market_id(conn, market, now).await?;
    let mut added = 0;
    let mut taken = 0;
    for link in links {
        if max_new.is_some_and(|max| added >= max) {
            break;
        }
        taken += 1;
        let result = sqlx::query(
            "INSERT INTO frontier (crawl_id, market_id, url, kind, depth, priority, state, attempts,
                                   next_attempt_at, discovered_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)
             ON CONFLICT (crawl_id, market_id, url) DO NOTHING",
        )
        .bind(crawl.0)
        .bind(market_id)
        .bind(&link.url)
        .bind(&link.kind)
        .bind(i64::from(link.depth))
        .bind(i64::from(link.priority))
        .bind(now)
        .execute(&mut *conn)
        .await
        .context(|| format!("enqueueing {} for {crawl}", link.url))?;
        added += result.rows_affected();
    }
    Ok(crate::Enqueued { added, taken })
}

/// Pending entries whose time has come, highest priority first, then oldest first.
pub(crate) async fn due(
    conn: &mut Conn,
    crawl: CrawlId,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<dnmscope_model::FrontierEntry>, StoreError> {
    // At most `limit` per market, so a market with a deep frontier never hides the others.
    let sql = format!(
        "SELECT {FRONTIER_COLUMNS} FROM (
             SELECT *, ROW_NUMBER() OVER (PARTITION BY market_id ORDER BY priority DESC, id) AS rn
             FROM frontier
             WHERE crawl_id = $1 AND state = 'pending' AND next_attempt_at <= $2
         ) f JOIN markets m ON m.id = f.market_id
         WHERE f.rn <= $3
         ORDER BY f.priority DESC, f.id"
    );
    let rows: Vec<FrontierRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(crawl.0)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .context(|| format!("reading the due frontier of {crawl}"))?;
    rows.into_iter().map(frontier_entry).collect()
}

/// When the next pending entry falls due, if any is pending.
pub(crate) async fn next_due(conn: &mut Conn, crawl: CrawlId) -> Result<Option<DateTime<Utc>>, StoreError> {
    sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM frontier WHERE crawl_id = $1 AND state = 'pending'")
        .bind(crawl.0)
        .fetch_one(&mut *conn)
        .await
        .context(|| format!("reading when {crawl} has work next"))
}

pub(crate) async fn frontier_entry_by_id(conn: &mut Conn, id: i64) -> Result<dnmscope_model::FrontierEntry, StoreError> {
    let sql = format!("SELECT {FRONTIER_COLUMNS} FROM frontier f JOIN markets m ON m.id = f.market_id WHERE f.id = $1");
    let row: Option<FrontierRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .context(|| format!("reading frontier entry {id}"))?;
    frontier_entry(row.ok_or(StoreError::Missing { what: "frontier entry", id })?)
}

/// Links a stored capture to its frontier entry (same transaction as storing it).
pub(crate) async fn attach_capture(conn: &mut Conn, entry: i64, capture_id: i64) -> Result<(), StoreError> {
    let updated = sqlx::query("UPDATE frontier SET capture_id = $1 WHERE id = $2")
        .bind(capture_id)
        .bind(entry)
        .execute(&mut *conn)
        .await
        .context(|| format!("linking capture {capture_id} to frontier entry {entry}"))?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::Missing { what: "frontier entry", id: entry });
    }
    Ok(())
}

/// Notes on an entry that its stored page is being parsed again by a resumed run (the note is
/// cleared when the entry is settled).
pub(crate) async fn note_reparse(
    conn: &mut Conn,
    entry: i64,
    note: Option<&str>,
) -> Result<(), StoreError> {
    let updated = sqlx::query("UPDATE frontier SET last_error = $1 WHERE id = $2")
        .bind(note)
        .bind(entry)
        .execute(&mut *conn)
        .await
        .context(|| format!("noting the re-parse of frontier entry {entry}"))?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::Missing { what: "frontier entry", id: entry });
    }
    Ok(())
}

/// Moves an entry to `done` or `failed`, or back to `pending` at a later time, counting the
/// attempt when `attempted`.
pub(crate) async fn settle(
    conn: &mut Conn,
    entry: i64,
    state: dnmscope_model::FrontierState,
    attempted: bool,
    next_attempt_at: Option<DateTime<Utc>>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE frontier SET state = $1, attempts = attempts + $2,
                next_attempt_at = COALESCE($3, next_attempt_at), last_error = $4,
                capture_id = CASE WHEN $1 = 'pending' THEN NULL ELSE capture_id END
         WHERE id = $5",
    )
    .bind(state.as_str())
    .bind(i64::from(attempted))
    .bind(next_attempt_at)
    .bind(error)
    .bind(entry)
    .execute(&mut *conn)
    .await
    .context(|| format!("marking frontier entry {entry} {}", state.as_str()))?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::Missing { what: "frontier entry", id: entry });
    }
    Ok(())
}

/// Moves an entry behind its market's other entries of the same priority (one step down).
pub(crate) async fn demote(conn: &mut Conn, entry: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE frontier SET priority = priority - 1 WHERE id = $1 AND priority > -1000000")
        .bind(entry)
        .execute(&mut *conn)
        .await
        .context(|| format!("moving frontier entry {entry} back"))?;
    Ok(())
}

/// Entries per market and state.
pub(crate) async fn frontier_counts(
    conn: &mut Conn,
    crawl: CrawlId,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    sqlx::query_as(
        "SELECT m.name, f.state, COUNT(*) FROM frontier f JOIN markets m ON m.id = f.market_id
         WHERE f.crawl_id = $1 GROUP BY m.name, f.state ORDER BY m.name, f.state",
    )
    .bind(crawl.0)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("counting the frontier of {crawl}"))
}

/// The most recent crawl run that has not finished, if any.
pub(crate) async fn unfinished_crawl(conn: &mut Conn) -> Result<Option<CrawlId>, StoreError> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM crawls WHERE finished_at IS NULL AND source = 'crawl' ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .context(|| "looking for an unfinished crawl run".to_string())?;
    Ok(id.map(CrawlId))
}

pub(crate) async fn save_accounting(
    conn: &mut Conn,
    crawl: CrawlId,
    market: &MarketName,
    data: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let market_id = market_id(conn, market, now).await?;
    sqlx::query(
        "INSERT INTO crawl_accounting (crawl_id, market_id, data, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (crawl_id, market_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
    )
    .bind(crawl.0)
    .bind(market_id)
    .bind(Json(data))
    .bind(now)
    .execute(&mut *conn)
    .await
    .context(|| format!("saving the accounting of {crawl} for {market}"))?;
    Ok(())
}

pub(crate) async fn load_accounting(
    conn: &mut Conn,
    crawl: CrawlId,
) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
    let rows: Vec<(String, Json<serde_json::Value>)> = sqlx::query_as(
        "SELECT m.name, a.data FROM crawl_accounting a JOIN markets m ON m.id = a.market_id
         WHERE a.crawl_id = $1 ORDER BY m.name",
    )
    .bind(crawl.0)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("reading the accounting of {crawl}"))?;
    Ok(rows.into_iter().map(|(name, Json(data))| (name, data)).collect())
}

/// What the store holds of one run, per market: the facts completeness accounting is derived
/// from (see [`crate::RunTally`]).
pub(crate) async fn run_tally(
    conn: &mut Conn,
    crawl: CrawlId,
) -> Result<Vec<(String, crate::RunTally)>, StoreError> {
    let mut tallies: std::collections::BTreeMap<String, crate::RunTally> = Default::default();
    let answered: Vec<(String, i64)> = sqlx::query_as(
        "SELECT m.name, COUNT(*) FROM captures c JOIN markets m ON m.id = c.market_id
         WHERE c.crawl_id = $1 AND c.status <> 429 AND c.status < 500 GROUP BY m.name",
    )
    .bind(crawl.0)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("counting the captures of {crawl}"))?;
    for (market, n) in answered {
        tallies.entry(market).or_default().pages_stored = n as u64;
    }
    let kinds: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT m.name, e.page_kind, COUNT(DISTINCT e.capture_id)
         FROM extractions e JOIN captures c ON c.id = e.capture_id
         JOIN markets m ON m.id = c.market_id
         WHERE c.crawl_id = $1 GROUP BY m.name, e.page_kind",
    )
    .bind(crawl.0)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("counting the extractions of {crawl}"))?;
    for (market, kind, n) in kinds {
        tallies
            .entry(market)
            .or_default()
            .extracted
            .insert(kind, n as u64);
    }
    let entries: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT m.name, f.state, COUNT(*),
                SUM(CASE WHEN f.last_error LIKE 'refused:%' THEN 1 ELSE 0 END)
         FROM frontier f JOIN markets m ON m.id = f.market_id
         WHERE f.crawl_id = $1 GROUP BY m.name, f.state",
    )
    .bind(crawl.0)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("counting the frontier of {crawl}"))?;
    for (market, state, n, refused) in entries {
        let tally = tallies.entry(market).or_default();
        if state == "failed" {
            tally.given_up += n as u64;
            tally.refused += refused as u64;
        }
    }
    // Listing links, less those whose page turned out to have nothing to read (gone, moved,
    // not a listing): a page fetched and stored without observations.
    let listings: Vec<(String, i64)> = sqlx::query_as(
        "SELECT m.name, COUNT(*) FROM frontier f JOIN markets m ON m.id = f.market_id
         WHERE f.crawl_id = $1 AND f.kind = 'listing'
           AND NOT (f.state = 'done' AND f.capture_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM extractions e WHERE e.capture_id = f.capture_id))
         GROUP BY m.name",
    )
    .bind(crawl.0)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("counting the listing links of {crawl}"))?;
    for (market, n) in listings {
        tallies.entry(market).or_default().listing_entries = n as u64;
    }
    Ok(tallies.into_iter().collect())
}
