-- Views for the common joins and full-text search (SQLite dialect; ../postgres has the same
-- views with the same columns, and a GIN index in place of the FTS5 tables).
--
-- The views make the store readable without knowing its keys: each observation row with its
-- market, listing, vendor or thread named. They add no data and change none. The FTS5 tables
-- index listing titles and descriptions and forum post texts; they are external-content tables
-- (the text stays in the observation tables, the index holds the words), kept in step by
-- triggers and filled here for the rows already stored. Datasette finds them by their
-- `content="..."` and offers a search box on `listing_observations` and `post_observations`.
--
-- Column order is part of the export format (dnmscope-store's `export.rs` lists it); change both.

-- Each listing observation with its market, listing key and vendor handle.
CREATE VIEW listing_observations_view AS
SELECT
    o.id              AS observation_id,
    o.observed_at     AS observed_at,
    o.crawl_id        AS crawl_id,
    m.name            AS market,
    o.listing_id      AS listing_id,
    l.listing_key     AS listing_key,
    o.vendor_id       AS vendor_id,
    v.handle          AS vendor,
    o.title           AS title,
    o.price_amount    AS price_amount,
    o.price_currency  AS price_currency,
    o.category        AS category,
    o.quantity_count  AS quantity_count,
    o.quantity_amount AS quantity_amount,
    o.quantity_unit   AS quantity_unit,
    o.ships_from      AS ships_from,
    o.ships_to        AS ships_to,
    o.stock           AS stock,
    o.stock_unlimited AS stock_unlimited,
    o.sales           AS sales,
    o.escrow          AS escrow,
    o.finalize_early  AS finalize_early,
    o.page_kind       AS page_kind,
    o.parser_version  AS parser_version,
    o.capture_id      AS capture_id
FROM listing_observations o
JOIN listings l ON l.id = o.listing_id
JOIN markets m ON m.id = l.market_id
LEFT JOIN vendors v ON v.id = o.vendor_id;

-- Each vendor observation with its market and handle.
CREATE VIEW vendor_observations_view AS
SELECT
    o.id                 AS observation_id,
    o.observed_at        AS observed_at,
    o.crawl_id           AS crawl_id,
    m.name               AS market,
    o.vendor_id          AS vendor_id,
    v.handle             AS vendor,
    o.rating             AS rating,
    o.positive_percent   AS positive_percent,
    o.sales              AS sales,
    o.feedback_positive  AS feedback_positive,
    o.feedback_neutral   AS feedback_neutral,
    o.feedback_negative  AS feedback_negative,
    o.level              AS level,
    o.pgp_fingerprint    AS pgp_fingerprint,
    o.registered         AS registered,
    o.last_seen          AS last_seen,
    o.page_kind          AS page_kind,
    o.parser_version     AS parser_version,
    o.capture_id         AS capture_id
FROM vendor_observations o
JOIN vendors v ON v.id = o.vendor_id
JOIN markets m ON m.id = v.market_id;

-- Each feedback entry with its market, vendor handle, listing key and how many crawls saw it.
CREATE VIEW feedback_view AS
SELECT
    f.id              AS feedback_id,
    m.name            AS market,
    f.vendor_id       AS vendor_id,
    v.handle          AS vendor,
    f.listing_id      AS listing_id,
    l.listing_key     AS listing_key,
    f.rating          AS rating,
    f.text            AS text,
    f.left_on         AS left_on,
    f.item            AS item,
    f.price_amount    AS price_amount,
    f.price_currency  AS price_currency,
    f.first_crawl_id  AS first_crawl_id,
    f.first_seen_at   AS first_seen_at,
    (SELECT COUNT(*) FROM feedback_sightings s WHERE s.feedback_id = f.id) AS crawls_seen
FROM feedback f
JOIN markets m ON m.id = f.market_id
LEFT JOIN vendors v ON v.id = f.vendor_id
LEFT JOIN listings l ON l.id = f.listing_id;

-- Each forum post observation with its thread (board and title as last observed) and market.
CREATE VIEW forum_posts_view AS
SELECT
    o.id              AS observation_id,
    o.observed_at     AS observed_at,
    o.crawl_id        AS crawl_id,
    m.name            AS market,
    t.id              AS thread_id,
    t.thread_key      AS thread_key,
    (SELECT x.board FROM thread_observations x WHERE x.thread_id = t.id
     ORDER BY x.observed_at DESC, x.id DESC LIMIT 1) AS board,
    (SELECT x.title FROM thread_observations x WHERE x.thread_id = t.id
     ORDER BY x.observed_at DESC, x.id DESC LIMIT 1) AS thread_title,
    o.post_id         AS post_id,
    p.post_key        AS post_key,
    o.author_kind     AS author_kind,
    o.author          AS author,
    o.date_text       AS date_text,
    o.text            AS text,
    o.parser_version  AS parser_version,
    o.capture_id      AS capture_id
FROM post_observations o
JOIN forum_posts p ON p.id = o.post_id
JOIN forum_threads t ON t.id = p.thread_id
JOIN markets m ON m.id = t.market_id;

-- Each crawl run and market with the run's figures from crawl_accounting (one row per run and
-- market; a run that saved no accounting yet has no row here).
CREATE VIEW crawl_accounting_view AS
SELECT
    c.id                 AS crawl_id,
    m.name               AS market,
    c.started_at         AS started_at,
    c.finished_at        AS finished_at,
    c.finish_reason      AS finish_reason,
    c.tool_version       AS tool_version,
    CAST(COALESCE(json_extract(a.data, '$.attempted'), 0) AS INTEGER)          AS attempted,
    CAST(COALESCE(json_extract(a.data, '$.fetched'), 0) AS INTEGER)            AS fetched,
    CAST(COALESCE((SELECT SUM(j.value) FROM json_each(a.data, '$.failed') j), 0) AS INTEGER) AS failed,
    CAST(COALESCE(json_extract(a.data, '$.given_up'), 0) AS INTEGER)           AS given_up,
    CAST(COALESCE((SELECT SUM(j.value) FROM json_each(a.data, '$.gates') j), 0) AS INTEGER)  AS gates,
    CAST(COALESCE((SELECT SUM(j.value) FROM json_each(a.data, '$.parsed') j), 0) AS INTEGER) AS parsed,
    CAST(COALESCE(json_extract(a.data, '$.listings_announced'), 0) AS INTEGER) AS listings_announced,
    CAST(COALESCE(json_extract(a.data, '$.listings_fetched'), 0) AS INTEGER)   AS listings_fetched,
    CASE WHEN json_extract(a.data, '$.unreachable') THEN 1 ELSE 0 END          AS unreachable,
    CASE WHEN json_extract(a.data, '$.seized') THEN 1 ELSE 0 END               AS seized,
    a.updated_at         AS updated_at
FROM crawl_accounting a
JOIN crawls c ON c.id = a.crawl_id
JOIN markets m ON m.id = a.market_id;

-- Each market event with its market's name.
CREATE VIEW market_events_view AS
SELECT
    e.id           AS event_id,
    m.name         AS market,
    e.kind         AS kind,
    e.observed_at  AS observed_at,
    e.detail       AS detail,
    e.crawl_id     AS crawl_id,
    e.capture_id   AS capture_id
FROM market_events e
JOIN markets m ON m.id = e.market_id;

-- Full-text search on listing titles and descriptions, one index row per observation (rowid =
-- listing_observations.id). Porter stemming, so "tested" finds "test" (as PostgreSQL's
-- 'english' configuration does).
CREATE VIRTUAL TABLE listing_observations_fts USING fts5(
    title, description,
    content="listing_observations", content_rowid="id",
    tokenize="porter unicode61"
);
INSERT INTO listing_observations_fts (listing_observations_fts) VALUES ('rebuild');

CREATE TRIGGER listing_observations_fts_insert AFTER INSERT ON listing_observations BEGIN
    INSERT INTO listing_observations_fts (rowid, title, description)
    VALUES (new.id, new.title, new.description);
END;
CREATE TRIGGER listing_observations_fts_delete AFTER DELETE ON listing_observations BEGIN
    INSERT INTO listing_observations_fts (listing_observations_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER listing_observations_fts_update AFTER UPDATE ON listing_observations BEGIN
    INSERT INTO listing_observations_fts (listing_observations_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO listing_observations_fts (rowid, title, description)
    VALUES (new.id, new.title, new.description);
END;

-- Full-text search on forum post texts (rowid = post_observations.id).
CREATE VIRTUAL TABLE post_observations_fts USING fts5(
    text,
    content="post_observations", content_rowid="id",
    tokenize="porter unicode61"
);
INSERT INTO post_observations_fts (post_observations_fts) VALUES ('rebuild');

CREATE TRIGGER post_observations_fts_insert AFTER INSERT ON post_observations BEGIN
    INSERT INTO post_observations_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER post_observations_fts_delete AFTER DELETE ON post_observations BEGIN
    INSERT INTO post_observations_fts (post_observations_fts, rowid, text)
    VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER post_observations_fts_update AFTER UPDATE ON post_observations BEGIN
    INSERT INTO post_observations_fts (post_observations_fts, rowid, text)
    VALUES ('delete', old.id, old.text);
    INSERT INTO post_observations_fts (rowid, text) VALUES (new.id, new.text);
END;
