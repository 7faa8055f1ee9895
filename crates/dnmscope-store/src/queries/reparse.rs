// Re-parses: the captures to read again with their newest extraction, what an extraction
// holds (to say what a new parse changed), the new extractions with the ones they replace, and
// the roll-ups started over once observations were replaced.

pub(crate) async fn reparse_candidates(
    conn: &mut Conn,
    selection: &crate::ReparseSelection,
    after: i64,
    limit: i64,
) -> Result<Vec<crate::ReparseCandidate>, StoreError> {
    let mut query = sqlx::QueryBuilder::<Db>::new(
        "SELECT c.id AS capture_id, m.name AS market, e.id AS extraction_id,
                e.parser_version, e.page_kind
         FROM captures c
         JOIN markets m ON m.id = c.market_id
         LEFT JOIN extractions e
           ON e.id = (SELECT MAX(x.id) FROM extractions x
                      WHERE x.capture_id = c.id
                        AND x.id NOT IN (SELECT s.extraction_id FROM superseded_extractions s))
         WHERE c.id > ",
    );
    query.push_bind(after);
    if let Some(market) = &selection.market {
        query.push(" AND m.name = ").push_bind(market.clone());
    }
    if let Some(crawl) = selection.crawl {
        query.push(" AND c.crawl_id = ").push_bind(crawl.0);
    }
    if let Some(since) = selection.since {
        query.push(" AND c.fetched_at >= ").push_bind(since);
    }
    query.push(" ORDER BY c.id LIMIT ").push_bind(limit);
    query
        .build_query_as::<crate::ReparseCandidate>()
        .fetch_all(&mut *conn)
        .await
        .context(|| format!("listing captures to re-parse after capture {after}"))
}

pub(crate) async fn extraction_contents(
    conn: &mut Conn,
    extraction: i64,
) -> Result<crate::ExtractionContents, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        listing_key: String,
        handle: Option<String>,
        #[sqlx(flatten)]
        row: ListingRow,
    }
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT l.listing_key, v.handle, {SELECT_COLUMNS}
         FROM listing_observations o
         JOIN listings l ON l.id = o.listing_id
         LEFT JOIN vendors v ON v.id = o.vendor_id
         WHERE o.extraction_id = $1
         ORDER BY o.id"
    )))
    .bind(extraction)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("reading the listings of extraction {extraction}"))?;
    let listings = rows
        .into_iter()
        .map(|r| {
            r.row
                .join(&r.listing_key, r.handle.as_deref())
                .map_err(|e| StoreError::Corrupt {
                    what: format!("a listing observation of extraction {extraction}: {e}"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let vendors: Vec<(Json<Vendor>,)> = sqlx::query_as(
        "SELECT data FROM vendor_observations WHERE extraction_id = $1 ORDER BY id",
    )
    .bind(extraction)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("reading the vendors of extraction {extraction}"))?;
    let posts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM post_observations WHERE extraction_id = $1")
            .bind(extraction)
            .fetch_one(&mut *conn)
            .await
            .context(|| format!("counting the posts of extraction {extraction}"))?;
    Ok(crate::ExtractionContents {
        listings,
        vendors: vendors.into_iter().map(|(Json(v),)| v).collect(),
        posts: u64::try_from(posts).unwrap_or(0),
    })
}

/// Makes `by` the current extraction of `capture`: every other one is marked replaced by it
/// (and `by` no longer is, when a re-parse went back to an older version).
pub(crate) async fn supersede(
    conn: &mut Conn,
    capture: i64,
    by: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    sqlx::query("DELETE FROM superseded_extractions WHERE extraction_id = $1")
        .bind(by)
        .execute(&mut *conn)
        .await
        .context(|| format!("making extraction {by} current again"))?;
    let done = sqlx::query(
        "INSERT INTO superseded_extractions (extraction_id, by_extraction_id, superseded_at)
         SELECT x.id, $2, $3 FROM extractions x
         WHERE x.capture_id = $1 AND x.id <> $2
         ON CONFLICT (extraction_id) DO UPDATE
            SET by_extraction_id = excluded.by_extraction_id,
                superseded_at = excluded.superseded_at
            WHERE superseded_extractions.by_extraction_id <> excluded.by_extraction_id",
    )
    .bind(capture)
    .bind(by)
    .bind(now)
    .execute(&mut *conn)
    .await
    .context(|| format!("recording the extractions of capture {capture} replaced by {by}"))?;
    Ok(done.rows_affected())
}

pub(crate) async fn extraction_id(
    conn: &mut Conn,
    capture: i64,
    parser_version: &str,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar("SELECT id FROM extractions WHERE capture_id = $1 AND parser_version = $2")
        .bind(capture)
        .bind(parser_version)
        .fetch_optional(&mut *conn)
        .await
        .context(|| format!("looking up the {parser_version} extraction of capture {capture}"))
}

/// Empties the weekly roll-ups and their watermarks: the next read rebuilds them from the
/// observations of the newest extractions.
pub(crate) async fn reset_rollups(conn: &mut Conn) -> Result<(), StoreError> {
    for table in [
        "listing_weeks",
        "market_weeks",
        "vendor_weeks",
        "vendor_listings",
        "attribute_weeks",
        "listing_attributes",
        "rollup_state",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *conn)
            .await
            .context(|| format!("emptying the roll-up table {table}"))?;
    }
    Ok(())
}
