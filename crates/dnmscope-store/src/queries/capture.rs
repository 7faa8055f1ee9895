// Captures and their bodies.

/// Stores a capture and its body (compressed with `dictionary`, the market's, when it has one).
pub(crate) async fn store_capture(
    conn: &mut Conn,
    capture: &Capture,
    compression_level: i32,
    dictionary: Option<&crate::dictionary::Dictionary>,
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
        let compressed = match dictionary {
            Some(dictionary) => dictionary.compress(&capture.body),
            None => zstd::bulk::compress(&capture.body, compression_level),
        }
        .map_err(|source| StoreError::Compression {
            action: format!("compressing the body of {}", capture.url),
            source,
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
            "INSERT INTO blobs (hash, size, compression, data, encryption, key_id, dictionary_id)
             VALUES ($1, $2, 'zstd', $3, $4, $5, $6)
             ON CONFLICT (hash) DO UPDATE
                SET data = excluded.data, encryption = excluded.encryption,
                    key_id = excluded.key_id, dictionary_id = excluded.dictionary_id,
                    purge_id = NULL
                WHERE blobs.purge_id IS NOT NULL",
        )
        .bind(&hash.0)
        .bind(to_db_int(capture.body.len() as u64))
        .bind(data)
        .bind(encryption)
        .bind(key_id)
        .bind(dictionary.map(|d| d.id))
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

/// A capture with its body as stored.
#[derive(sqlx::FromRow)]
struct CaptureRow {
    market: String,
    crawl_id: i64,
    url: String,
    final_url: Option<String>,
    fetched_at: DateTime<Utc>,
    status: i64,
    headers: Json<Vec<(String, String)>>,
    body_hash: String,
    truncated: Option<String>,
    elapsed_ms: Option<i64>,
    size: i64,
    compression: String,
    data: Vec<u8>,
    encryption: Option<String>,
    key_id: Option<String>,
    purge_id: Option<i64>,
    dictionary_id: Option<i64>,
}

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

/// A body as stored: compressed (with a dictionary or not), maybe sealed.
#[derive(sqlx::FromRow)]
pub(crate) struct StoredBlob {
    pub hash: String,
    pub size: i64,
    pub compression: String,
    pub data: Vec<u8>,
    pub encryption: Option<String>,
    pub key_id: Option<String>,
    pub dictionary_id: Option<i64>,
}

/// A stored body's bytes: opened with the key when sealed, decompressed (with its dictionary
/// when it names one) and checked against its hash and size. `what` names it in errors.
pub(crate) async fn decode_blob(
    conn: &mut Conn,
    blob: StoredBlob,
    what: &str,
    raw_key: Option<&crate::RawKey>,
    dictionaries: &crate::dictionary::Cache,
    level: i32,
) -> Result<Vec<u8>, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        what: format!("{what}: {detail}"),
    };
    if blob.compression != "zstd" {
        return Err(corrupt(format!("unknown compression {:?}", blob.compression)));
    }
    let data = match blob.encryption.as_deref() {
        None => blob.data,
        Some(crate::raw::CIPHER) => {
            let key_id = blob
                .key_id
                .ok_or_else(|| corrupt("an encrypted body without a key id".into()))?;
            crate::raw::key_for(raw_key, &key_id, || format!("reading {what}"))?
                .open(&blob.hash, &blob.data)?
        }
        Some(other) => return Err(corrupt(format!("unknown encryption {other:?}"))),
    };
    let size = blob.size;
    let capacity = usize::try_from(size).map_err(|_| corrupt(format!("body size {size}")))?;
    let body = match blob.dictionary_id {
        Some(id) => {
            let dictionary = dictionary(conn, id, raw_key, dictionaries, level).await?;
            dictionary.decompress(&data, capacity)
        }
        None => zstd::bulk::decompress(&data, capacity),
    }
    .map_err(|source| StoreError::Compression {
        action: format!("decompressing the body of {what}"),
        source,
    })?;
    let actual = ContentHash::of(&body);
    if actual.0 != blob.hash || body.len() != capacity {
        return Err(corrupt(format!(
            "body hash {actual} ({} bytes) differs from the stored {} ({size} bytes)",
            body.len(),
            blob.hash
        )));
    }
    Ok(body)
}

pub(crate) async fn load_capture(
    conn: &mut Conn,
    capture_id: i64,
    raw_key: Option<&crate::RawKey>,
    dictionaries: &crate::dictionary::Cache,
    level: i32,
) -> Result<Capture, StoreError> {
    let row: Option<CaptureRow> = sqlx::query_as(
        "SELECT m.name AS market, c.crawl_id, c.url, c.final_url, c.fetched_at, c.status,
                c.headers, c.body_hash, c.truncated, c.elapsed_ms, b.size, b.compression, b.data,
                b.encryption, b.key_id, COALESCE(c.raw_purge_id, b.purge_id) AS purge_id,
                b.dictionary_id
         FROM captures c
         JOIN markets m ON m.id = c.market_id
         JOIN blobs b ON b.hash = c.body_hash
         WHERE c.id = $1",
    )
    .bind(capture_id)
    .fetch_optional(&mut *conn)
    .await
    .context(|| format!("reading capture {capture_id}"))?;
    let Some(CaptureRow {
        market,
        crawl_id: crawl,
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
        purge_id: purge,
        dictionary_id,
    }) = row
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
    let blob = StoredBlob {
        hash: body_hash,
        size,
        compression,
        data,
        encryption,
        key_id,
        dictionary_id,
    };
    let body = decode_blob(
        conn,
        blob,
        &format!("capture {capture_id}"),
        raw_key,
        dictionaries,
        level,
    )
    .await?;
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

/// Which of `keys` are stored captures (an import skips the pages it stored before).
pub(crate) async fn stored_capture_keys(
    conn: &mut Conn,
    keys: &[&str],
) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let mut query =
            sqlx::QueryBuilder::<Db>::new("SELECT capture_key FROM captures WHERE capture_key IN (");
        let mut list = query.separated(", ");
        for key in chunk {
            list.push_bind(key.to_string());
        }
        query.push(")");
        let rows: Vec<(String,)> = query
            .build_query_as()
            .persistent(CACHE_KEY_LISTS)
            .fetch_all(&mut *conn)
            .await
            .context(|| format!("looking up {} capture keys", chunk.len()))?;
        found.extend(rows.into_iter().map(|(key,)| key));
    }
    Ok(found)
}
