// Crawl runs, market events and the store's statistics.

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

#[derive(sqlx::FromRow)]
struct CrawlRow {
    id: i64,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    finish_reason: Option<String>,
    markets: Json<Vec<String>>,
    config: Json<serde_json::Value>,
    tool_version: String,
}

pub(crate) async fn load_crawl(conn: &mut Conn, crawl: CrawlId) -> Result<CrawlRun, StoreError> {
    let row: Option<CrawlRow> = sqlx::query_as(
        "SELECT id, started_at, finished_at, finish_reason, markets, config, tool_version
         FROM crawls WHERE id = $1",
    )
    .bind(crawl.0)
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("reading {crawl}"))?;
    let Some(CrawlRow { id, started_at, finished_at, finish_reason: reason, markets, config, tool_version }) = row else {
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

#[derive(sqlx::FromRow)]
struct CrawlSummaryRow {
    id: i64,
    markets: Json<Vec<String>>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    finish_reason: Option<String>,
    captures: i64,
}

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
                (SELECT COUNT(*) FROM captures c WHERE c.crawl_id = k.id) AS captures
         FROM crawls k ORDER BY k.id",
    )
    .fetch_all(&mut *conn)
    .await
    .context(|| "listing crawls".to_string())?;
    let crawls = crawls
        .into_iter()
        .map(
            |CrawlSummaryRow { id, markets, started_at, finished_at, finish_reason, captures }| CrawlSummary {
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
                  + (SELECT CAST(COALESCE(SUM({BLOB_LENGTH}), 0) AS BIGINT) FROM raw_dictionaries)
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

/// The import run `import_key` names, started now when there is none yet; true when it is new.
pub(crate) async fn begin_import(
    conn: &mut Conn,
    import_key: &str,
    markets: &[MarketName],
    config: &serde_json::Value,
    started_at: DateTime<Utc>,
    tool_version: &str,
) -> Result<(CrawlId, bool), StoreError> {
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM crawls WHERE import_key = $1")
        .bind(import_key)
        .fetch_optional(&mut *conn)
        .await
        .context(|| format!("looking up the import run {import_key}"))?;
    if let Some(id) = existing {
        return Ok((CrawlId(id), false));
    }
    for market in markets {
        market_id(conn, market, started_at).await?;
    }
    let names: Vec<&str> = markets.iter().map(|m| m.as_str()).collect();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO crawls (started_at, markets, config, tool_version, source, import_key)
         VALUES ($1, $2, $3, $4, 'import', $5) RETURNING id",
    )
    .bind(started_at)
    .bind(Json(&names))
    .bind(Json(config))
    .bind(tool_version)
    .bind(import_key)
    .fetch_one(&mut *conn)
    .await
    .context(|| format!("recording the import run {import_key}"))?;
    Ok((CrawlId(id), true))
}

/// Records the markets an import run's pages were found to be of, and its end the first time
/// it ends (an import of the same archive again changes nothing).
pub(crate) async fn finish_import(
    conn: &mut Conn,
    crawl: CrawlId,
    markets: &[MarketName],
    finished_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let stored: Option<(Json<Vec<String>>,)> =
        sqlx::query_as("SELECT markets FROM crawls WHERE id = $1 AND source = 'import'")
            .bind(crawl.0)
            .fetch_optional(&mut *conn)
            .await
            .context(|| format!("reading the markets of {crawl}"))?;
    let Some((Json(mut names),)) = stored else {
        return Err(StoreError::Missing {
            what: "import run",
            id: crawl.0,
        });
    };
    let before = names.len();
    for market in markets {
        if !names.iter().any(|n| n == market.as_str()) {
            names.push(market.as_str().to_owned());
        }
    }
    names.sort();
    if names.len() != before {
        sqlx::query("UPDATE crawls SET markets = $1 WHERE id = $2")
            .bind(Json(&names))
            .bind(crawl.0)
            .execute(&mut *conn)
            .await
            .context(|| format!("recording the markets of {crawl}"))?;
    }
    sqlx::query(
        "UPDATE crawls SET finished_at = $1, finish_reason = 'completed'
         WHERE id = $2 AND finished_at IS NULL",
    )
    .bind(finished_at)
    .bind(crawl.0)
    .execute(&mut *conn)
    .await
    .context(|| format!("recording the end of {crawl}"))?;
    Ok(())
}
