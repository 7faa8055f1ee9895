// Raw-body protection: encryption at rest, per-market dictionaries, retention.

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

#[derive(sqlx::FromRow)]
struct PurgeRow {
    id: i64,
    purged_at: DateTime<Utc>,
    purged_by: String,
    before: DateTime<Utc>,
    market: Option<String>,
    captures: i64,
    bodies: i64,
    bytes: i64,
}

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
        "SELECT p.id, p.purged_at, p.purged_by, p.before, m.name AS market, p.captures, p.bodies,
                p.bytes
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
                |PurgeRow { id, purged_at, purged_by, before, market, captures, bodies, bytes }| {
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

// -------------------------------------------------------------------------------------------
// Per-market zstd dictionaries (see `dictionary.rs`).

#[derive(sqlx::FromRow)]
struct DictionaryRow {
    id: i64,
    hash: String,
    size: i64,
    data: Vec<u8>,
    compression: Option<String>,
    encryption: Option<String>,
    key_id: Option<String>,
}

/// The columns of a [`DictionaryRow`].
const DICTIONARY_COLUMNS: &str = "d.id, d.hash, d.size, d.data, d.compression, d.encryption, d.key_id";

/// Dictionaries are written rarely (a few per market) and read once per process: stored at
/// zstd's highest level.
const DICTIONARY_LEVEL: i32 = 19;

#[derive(sqlx::FromRow)]
struct SampleRow {
    #[sqlx(flatten)]
    blob: StoredBlob,
    capture_id: i64,
}

/// A dictionary row's bytes: opened with the key when sealed, checked against the hash.
fn open_dictionary(row: DictionaryRow, raw_key: Option<&crate::RawKey>) -> Result<Vec<u8>, StoreError> {
    let DictionaryRow { id, hash, size, data, compression, encryption, key_id } = row;
    let stored = match encryption.as_deref() {
        None => data,
        Some(crate::raw::CIPHER) => {
            let key_id = key_id.ok_or_else(|| crate::dictionary::corrupt(id, "sealed without a key id"))?;
            crate::raw::key_for(raw_key, &key_id, || format!("reading raw-body dictionary {id}"))?
                .open(&hash, &data)?
        }
        Some(other) => {
            return Err(crate::dictionary::corrupt(id, &format!("unknown encryption {other:?}")))
        }
    };
    let bytes = match compression.as_deref() {
        None => stored,
        Some("zstd") => {
            // A dictionary is at most a few hundred KiB; `size` bounds what is decompressed.
            let capacity = usize::try_from(size)
                .ok()
                .filter(|s| *s <= crate::dictionary::MAX_SIZE)
                .ok_or_else(|| crate::dictionary::corrupt(id, &format!("its size {size} is out of range")))?;
            zstd::bulk::decompress(&stored, capacity)
                .map_err(|e| crate::dictionary::corrupt(id, &format!("it does not decompress: {e}")))?
        }
        Some(other) => {
            return Err(crate::dictionary::corrupt(id, &format!("unknown compression {other:?}")))
        }
    };
    if ContentHash::of(&bytes).0 != hash {
        return Err(crate::dictionary::corrupt(id, "its bytes differ from their hash"));
    }
    Ok(bytes)
}

/// The newest kept dictionary of `market` (id, bytes and the pages it was trained on), and the
/// pages stored since: bodies compressed with it, or without one every capture of the market.
pub(crate) async fn market_dictionary(
    conn: &mut Conn,
    market: &MarketName,
    raw_key: Option<&crate::RawKey>,
) -> Result<(Option<(i64, Vec<u8>, u64)>, u64), StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        dictionary: DictionaryRow,
        samples: i64,
    }
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DICTIONARY_COLUMNS}, d.samples
         FROM raw_dictionaries d JOIN markets m ON m.id = d.market_id
         WHERE m.name = $1 AND d.purge_id IS NULL ORDER BY d.id DESC LIMIT 1"
    )))
    .bind(market.as_str())
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("reading the raw-body dictionary of {market}"))?;
    match row {
        Some(Row { dictionary, samples }) => {
            let id = dictionary.id;
            let bytes = open_dictionary(dictionary, raw_key)?;
            let since: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blobs WHERE dictionary_id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await
                .context(|| format!("counting the bodies of dictionary {id}"))?;
            Ok((Some((id, bytes, samples as u64)), since as u64))
        }
        None => {
            let pages: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM captures c JOIN markets m ON m.id = c.market_id WHERE m.name = $1",
            )
            .bind(market.as_str())
            .fetch_one(&mut *conn)
            .await
            .context(|| format!("counting the pages of {market}"))?;
            Ok((None, pages as u64))
        }
    }
}

/// Dictionary `id`, prepared (from the cache, else read and kept there).
pub(crate) async fn dictionary(
    conn: &mut Conn,
    id: i64,
    raw_key: Option<&crate::RawKey>,
    cache: &crate::dictionary::Cache,
    level: i32,
) -> Result<std::sync::Arc<crate::dictionary::Dictionary>, StoreError> {
    if let Some(found) = cache.get(id) {
        return Ok(found);
    }
    let row: Option<DictionaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DICTIONARY_COLUMNS} FROM raw_dictionaries d WHERE d.id = $1 AND d.purge_id IS NULL"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("reading raw-body dictionary {id}"))?;
    let row = row.ok_or_else(|| crate::dictionary::corrupt(id, "missing or purged while a kept body needs it"))?;
    let prepared = std::sync::Arc::new(crate::dictionary::Dictionary::new(id, &open_dictionary(row, raw_key)?, level));
    cache.insert(prepared.clone());
    Ok(prepared)
}

/// The newest `limit` kept bodies of `market`, newest first, uncompressed (to train on).
pub(crate) async fn market_samples(
    conn: &mut Conn,
    market: &MarketName,
    limit: usize,
    raw_key: Option<&crate::RawKey>,
    cache: &crate::dictionary::Cache,
    level: i32,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let rows: Vec<SampleRow> = sqlx::query_as(
        "SELECT b.hash, b.size, b.compression, b.data, b.encryption, b.key_id, b.dictionary_id,
                c.id AS capture_id
         FROM captures c JOIN markets m ON m.id = c.market_id JOIN blobs b ON b.hash = c.body_hash
         WHERE m.name = $1 AND b.purge_id IS NULL AND c.raw_purge_id IS NULL
         ORDER BY c.id DESC LIMIT $2",
    )
    .bind(market.as_str())
    .bind(limit as i64)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("reading the newest pages of {market}"))?;
    let mut samples = Vec::with_capacity(rows.len());
    let mut seen = std::collections::HashSet::new();
    for SampleRow { blob, capture_id } in rows {
        if seen.insert(blob.hash.clone()) {
            let what = format!("capture {capture_id}");
            samples.push(decode_blob(conn, blob, &what, raw_key, cache, level).await?);
        }
    }
    Ok(samples)
}

/// Records a dictionary trained on `samples` pages (`sample_bytes` bytes) of `market`, sealed
/// with the key when the store encrypts raw bodies; its id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_dictionary(
    conn: &mut Conn,
    market: &MarketName,
    bytes: &[u8],
    samples: usize,
    sample_bytes: usize,
    raw_key: Option<&crate::RawKey>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let market_id = market_id(conn, market, now).await?;
    let hash = ContentHash::of(bytes).0;
    let policy = raw_policy(conn).await?;
    // Compressed when that makes it smaller (a dictionary of raw page content is mostly markup).
    let (stored, compression) = match zstd::bulk::compress(bytes, DICTIONARY_LEVEL) {
        Ok(compressed) if compressed.len() < bytes.len() => (compressed, Some("zstd")),
        _ => (bytes.to_vec(), None),
    };
    let (data, encryption, key_id) = match &policy {
        Some(policy) => {
            let key = crate::raw::key_for(raw_key, &policy.key_id, || {
                format!("storing a raw-body dictionary of {market}")
            })?;
            (key.seal(&hash, &stored), Some(crate::raw::CIPHER), Some(key.id().to_string()))
        }
        None => (stored, None, None),
    };
    sqlx::query_scalar(
        "INSERT INTO raw_dictionaries (market_id, trained_at, samples, sample_bytes, size, hash,
                                       data, compression, encryption, key_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(market_id)
    .bind(now)
    .bind(to_db_int(samples as u64))
    .bind(to_db_int(sample_bytes as u64))
    .bind(to_db_int(bytes.len() as u64))
    .bind(&hash)
    .bind(data)
    .bind(compression)
    .bind(encryption)
    .bind(key_id)
    .fetch_one(&mut *conn)
    .await
    .context(|| format!("storing a raw-body dictionary of {market}"))
}

/// Seals every plain dictionary with `key` (turning encryption on for an existing store); the
/// number sealed.
pub(crate) async fn encrypt_dictionaries(conn: &mut Conn, key: &crate::RawKey) -> Result<u64, StoreError> {
    let rows: Vec<(i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT id, hash, data FROM raw_dictionaries WHERE encryption IS NULL AND purge_id IS NULL ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await
    .context(|| "reading plain raw-body dictionaries".to_string())?;
    for (id, hash, data) in &rows {
        let sealed = key.seal(hash, data);
        if key.open(hash, &sealed)? != *data {
            return Err(crate::dictionary::corrupt(*id, "did not read back after encryption"));
        }
        sqlx::query("UPDATE raw_dictionaries SET data = $1, encryption = $2, key_id = $3 WHERE id = $4 AND encryption IS NULL")
            .bind(&sealed)
            .bind(crate::raw::CIPHER)
            .bind(key.id())
            .bind(id)
            .execute(&mut *conn)
            .await
            .context(|| format!("encrypting raw-body dictionary {id}"))?;
    }
    Ok(rows.len() as u64)
}

/// Empties the dictionaries a purge left without a kept body, except each market's newest (new
/// bodies are compressed with it); the number emptied.
pub(crate) async fn retire_dictionaries(conn: &mut Conn, purge_id: i64) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE raw_dictionaries SET data = $1, purge_id = $2
         WHERE purge_id IS NULL
           AND id NOT IN (SELECT MAX(id) FROM raw_dictionaries GROUP BY market_id)
           AND NOT EXISTS (SELECT 1 FROM blobs b
                           WHERE b.dictionary_id = raw_dictionaries.id AND b.purge_id IS NULL)",
    )
    .bind(Vec::<u8>::new())
    .bind(purge_id)
    .execute(&mut *conn)
    .await
    .context(|| "retiring raw-body dictionaries no kept body needs".to_string())?;
    Ok(done.rows_affected())
}

/// Moves up to `limit` kept bodies of `market` that are not on `dictionary` (plain, or on an
/// older one) to it: each is opened, recompressed, sealed again if it was sealed, read back and
/// compared, and replaces the old bytes only if smaller. Bodies the store cannot open (sealed,
/// no key) are left as they are. The market's older dictionaries no body needs any more are
/// deleted (only one process writes a store at a time, so none still compresses with them).
/// The number of bodies moved.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn recompress_market(
    conn: &mut Conn,
    market: &MarketName,
    dictionary: &crate::dictionary::Dictionary,
    limit: usize,
    raw_key: Option<&crate::RawKey>,
    cache: &crate::dictionary::Cache,
    level: i32,
) -> Result<u64, StoreError> {
    let rows: Vec<StoredBlob> = sqlx::query_as(
        "SELECT b.hash, b.size, b.compression, b.data, b.encryption, b.key_id, b.dictionary_id
         FROM blobs b
         WHERE b.purge_id IS NULL AND COALESCE(b.dictionary_id, 0) <> $2
           AND b.hash IN (SELECT c.body_hash FROM captures c JOIN markets m ON m.id = c.market_id
                          WHERE m.name = $1)
         ORDER BY b.hash LIMIT $3",
    )
    .bind(market.as_str())
    .bind(dictionary.id)
    .bind(limit as i64)
    .fetch_all(&mut *conn)
    .await
    .context(|| format!("reading raw bodies of {market} to recompress"))?;
    let mut moved = 0;
    for blob in rows {
        if blob.encryption.is_some() && raw_key.is_none() {
            continue;
        }
        let stored_len = blob.data.len();
        let (hash, size, encryption, key_id, old) = (
            blob.hash.clone(),
            blob.size,
            blob.encryption.clone(),
            blob.key_id.clone(),
            blob.dictionary_id,
        );
        let body = decode_blob(conn, blob, &format!("body {hash}"), raw_key, cache, level).await?;
        let compressed = dictionary.compress(&body).map_err(|source| StoreError::Compression {
            action: format!("recompressing body {hash}"),
            source,
        })?;
        let data = match (&encryption, &key_id) {
            (Some(_), Some(key_id)) => {
                crate::raw::key_for(raw_key, key_id, || format!("recompressing body {hash}"))?
                    .seal(&hash, &compressed)
            }
            _ => compressed,
        };
        if data.len() >= stored_len {
            continue;
        }
        let check = StoredBlob {
            hash: hash.clone(),
            size,
            compression: "zstd".to_string(),
            data: data.clone(),
            encryption,
            key_id,
            dictionary_id: Some(dictionary.id),
        };
        if decode_blob(conn, check, &format!("body {hash}"), raw_key, cache, level).await? != body {
            return Err(StoreError::Corrupt {
                what: format!("the body {hash} did not read back after recompression"),
            });
        }
        let updated = sqlx::query(
            "UPDATE blobs SET data = $1, dictionary_id = $2
             WHERE hash = $3 AND purge_id IS NULL AND COALESCE(dictionary_id, 0) = $4",
        )
        .bind(&data)
        .bind(dictionary.id)
        .bind(&hash)
        .bind(old.unwrap_or(0))
        .execute(&mut *conn)
        .await
        .context(|| format!("recompressing body {hash}"))?;
        moved += updated.rows_affected();
    }
    // Older dictionaries of the market that no body needs any more go (a purged body keeps
    // naming its dictionary, so those stay as the purge left them).
    sqlx::query(
        "DELETE FROM raw_dictionaries
         WHERE id <> $1 AND purge_id IS NULL
           AND market_id = (SELECT market_id FROM raw_dictionaries WHERE id = $1)
           AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.dictionary_id = raw_dictionaries.id)",
    )
    .bind(dictionary.id)
    .execute(&mut *conn)
    .await
    .context(|| format!("dropping dictionaries of {market} no body needs"))?;
    Ok(moved)
}
