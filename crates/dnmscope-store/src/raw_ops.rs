// The queries of raw-body protection (encryption at rest, retention), written once and
// included in `sqlite_ops` and `postgres_ops` after `ops.rs`, whose imports it shares.

/// The store's policy for new raw bodies: the newest `raw_encryption` row, if any.
pub(crate) async fn raw_policy(conn: &mut Conn) -> Result<Option<crate::RawPolicy>, StoreError> {
    let row: Option<(String, String, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT cipher, key_id, enabled_at, enabled_by FROM raw_encryption ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await
    .context(|| "reading the store's raw-body encryption".to_string())?;
    Ok(row.map(|(cipher, key_id, enabled_at, enabled_by)| crate::RawPolicy {
        cipher,
        key_id,
        enabled_at,
        enabled_by,
    }))
}

/// Turns encryption of new raw bodies on with `key` (a new policy row, unless it is already the
/// policy). Refuses to change a policy that names another key: rotation is not supported.
pub(crate) async fn enable_raw_policy(
    conn: &mut Conn,
    key: &crate::RawKey,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if let Some(policy) = raw_policy(conn).await? {
        crate::raw::key_for(Some(key), &policy.key_id, || {
            "turning on raw-body encryption".to_string()
        })?;
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO raw_encryption (cipher, key_id, enabled_at, enabled_by) VALUES ($1, $2, $3, $4)",
    )
    .bind(crate::raw::CIPHER)
    .bind(key.id())
    .bind(now)
    .bind(by)
    .execute(&mut *conn)
    .await
    .context(|| "recording the store's raw-body encryption".to_string())?;
    Ok(true)
}

pub(crate) async fn blob_total(conn: &mut Conn) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM blobs")
        .fetch_one(&mut *conn)
        .await
        .context(|| "counting raw bodies".to_string())
}

/// Encrypts up to `limit` plain bodies in place; the number converted (0: none left).
/// Each sealed body is opened again and compared before it replaces the plain one.
pub(crate) async fn encrypt_batch(
    conn: &mut Conn,
    key: &crate::RawKey,
    limit: i64,
) -> Result<(u64, u64), StoreError> {
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT hash, data FROM blobs WHERE encryption IS NULL AND purge_id IS NULL
         ORDER BY hash LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .context(|| "reading plain raw bodies".to_string())?;
    let mut bytes = 0u64;
    for (hash, data) in &rows {
        let sealed = key.seal(hash, data);
        if key.open(hash, &sealed)? != *data {
            return Err(StoreError::Corrupt {
                what: format!("the body {hash} did not read back after encryption"),
            });
        }
        let updated = sqlx::query(
            "UPDATE blobs SET data = $1, encryption = $2, key_id = $3
             WHERE hash = $4 AND encryption IS NULL",
        )
        .bind(&sealed)
        .bind(crate::raw::CIPHER)
        .bind(key.id())
        .bind(hash)
        .execute(&mut *conn)
        .await
        .context(|| format!("encrypting the body {hash}"))?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Corrupt {
                what: format!("the body {hash} changed while it was encrypted"),
            });
        }
        bytes += data.len() as u64;
    }
    Ok((rows.len() as u64, bytes))
}

/// Purges the raw pages of captures fetched before `before` (of `market`, or all): the
/// captures are marked with a new `raw_purges` row, and every body that no unpurged capture
/// still needs loses its bytes. `None` when there was nothing to purge (no row written).
pub(crate) async fn purge_raw(
    conn: &mut Conn,
    before: DateTime<Utc>,
    market: Option<&MarketName>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Option<crate::PurgeReport>, StoreError> {
    let market_id: Option<i64> = match market {
        Some(market) => {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM markets WHERE name = $1")
                .bind(market.as_str())
                .fetch_optional(&mut *conn)
                .await
                .context(|| format!("looking up market {market}"))?;
            Some(id.ok_or_else(|| StoreError::Refused {
                what: format!("a purge of market {market}"),
                reason: "the store has no such market".to_string(),
            })?)
        }
        None => None,
    };
    let captures: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM captures
         WHERE raw_purge_id IS NULL AND fetched_at < $1 AND ($2 IS NULL OR market_id = $2)",
    )
    .bind(before)
    .bind(market_id)
    .fetch_one(&mut *conn)
    .await
    .context(|| "counting the captures to purge".to_string())?;
    if captures == 0 {
        return Ok(None);
    }
    // Bodies every one of whose captures is purged or about to be.
    let doomed = "SELECT b.hash FROM blobs b
         WHERE b.purge_id IS NULL
           AND EXISTS (SELECT 1 FROM captures c WHERE c.body_hash = b.hash
                       AND c.raw_purge_id IS NULL AND c.fetched_at < $1
                       AND ($2 IS NULL OR c.market_id = $2))
           AND NOT EXISTS (SELECT 1 FROM captures c WHERE c.body_hash = b.hash
                           AND c.raw_purge_id IS NULL
                           AND NOT (c.fetched_at < $1 AND ($2 IS NULL OR c.market_id = $2)))";
    let (bodies, bytes): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM blobs WHERE hash IN ({doomed})"
    )))
    .bind(before)
    .bind(market_id)
    .fetch_one(&mut *conn)
    .await
    .context(|| "counting the bodies to purge".to_string())?;
    let purge_id: i64 = sqlx::query_scalar(
        "INSERT INTO raw_purges (purged_at, purged_by, before, market_id, captures, bodies, bytes)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(now)
    .bind(by)
    .bind(before)
    .bind(market_id)
    .bind(captures)
    .bind(bodies)
    .bind(bytes)
    .fetch_one(&mut *conn)
    .await
    .context(|| "recording the purge".to_string())?;
    let emptied = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE blobs SET data = $3, purge_id = $4 WHERE hash IN ({doomed})"
    )))
    .bind(before)
    .bind(market_id)
    .bind(Vec::<u8>::new())
    .bind(purge_id)
    .execute(&mut *conn)
    .await
    .context(|| "purging raw bodies".to_string())?;
    let marked = sqlx::query(
        "UPDATE captures SET raw_purge_id = $3
         WHERE raw_purge_id IS NULL AND fetched_at < $1 AND ($2 IS NULL OR market_id = $2)",
    )
    .bind(before)
    .bind(market_id)
    .bind(purge_id)
    .execute(&mut *conn)
    .await
    .context(|| "marking purged captures".to_string())?;
    if marked.rows_affected() != captures as u64 || emptied.rows_affected() != bodies as u64 {
        return Err(StoreError::Refused {
            what: "a purge".to_string(),
            reason: "the store changed while it ran; run it again".to_string(),
        });
    }
    Ok(Some(crate::PurgeReport {
        purge_id,
        captures: captures as u64,
        bodies: bodies as u64,
        bytes: bytes as u64,
    }))
}

type PurgeRow = (i64, DateTime<Utc>, String, DateTime<Utc>, Option<String>, i64, i64, i64);

/// What `db stats` and the datasheet say about raw bodies.
pub(crate) async fn raw_stats(conn: &mut Conn) -> Result<crate::RawStats, StoreError> {
    let policy = raw_policy(conn).await?;
    let (encrypted, plain, purged): (i64, i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN purge_id IS NULL AND encryption IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN purge_id IS NULL AND encryption IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN purge_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT)
         FROM blobs",
    )
    .fetch_one(&mut *conn)
    .await
    .context(|| "counting raw bodies by state".to_string())?;
    let key_ids: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT key_id FROM blobs WHERE key_id IS NOT NULL ORDER BY key_id",
    )
    .fetch_all(&mut *conn)
    .await
    .context(|| "listing raw-body key ids".to_string())?;
    let (captures_purged, oldest_kept, newest_kept): (i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM captures WHERE raw_purge_id IS NOT NULL),
                    (SELECT MIN(fetched_at) FROM captures WHERE raw_purge_id IS NULL),
                    (SELECT MAX(fetched_at) FROM captures WHERE raw_purge_id IS NULL)",
        )
        .fetch_one(&mut *conn)
        .await
        .context(|| "measuring raw-page retention".to_string())?;
    let purges: Vec<PurgeRow> = sqlx::query_as(
        "SELECT p.id, p.purged_at, p.purged_by, p.before, m.name, p.captures, p.bodies, p.bytes
         FROM raw_purges p LEFT JOIN markets m ON m.id = p.market_id ORDER BY p.id",
    )
    .fetch_all(&mut *conn)
    .await
    .context(|| "listing raw-page purges".to_string())?;
    Ok(crate::RawStats {
        policy,
        bodies_encrypted: encrypted as u64,
        bodies_plain: plain as u64,
        bodies_purged: purged as u64,
        key_ids,
        captures_purged: captures_purged as u64,
        oldest_kept,
        newest_kept,
        purges: purges
            .into_iter()
            .map(
                |(id, purged_at, purged_by, before, market, captures, bodies, bytes)| {
                    crate::PurgeRecord {
                        id,
                        purged_at,
                        purged_by,
                        before,
                        market,
                        captures: captures as u64,
                        bodies: bodies as u64,
                        bytes: bytes as u64,
                    }
                },
            )
            .collect(),
    })
}
