-- dnmscope store, SQLite dialect. The PostgreSQL dialect in ../postgres has the same tables,
-- columns and constraints; keep them in step (a test compares them).
--
-- Conventions: times are UTC, RFC 3339 text; money amounts are exact decimal text; JSON columns
-- are text. Raw captures are never overwritten and observation rows are append-only.

CREATE TABLE markets (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE crawls (
    id             INTEGER PRIMARY KEY,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    finish_reason  TEXT CHECK (finish_reason IN ('completed', 'budget_exhausted', 'interrupted', 'failed')),
    markets        TEXT NOT NULL,
    config         TEXT NOT NULL,
    tool_version   TEXT NOT NULL
);

-- Raw bodies, stored once per content hash (BLAKE3 of the uncompressed bytes), zstd-compressed.
CREATE TABLE blobs (
    hash         TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    compression  TEXT NOT NULL CHECK (compression IN ('zstd')),
    data         BLOB NOT NULL
);

-- One fetched page. Secret header values (cookies) are redacted before they get here.
CREATE TABLE captures (
    id           INTEGER PRIMARY KEY,
    capture_key  TEXT NOT NULL UNIQUE,
    market_id    INTEGER NOT NULL REFERENCES markets (id),
    crawl_id     INTEGER NOT NULL REFERENCES crawls (id),
    url          TEXT NOT NULL,
    final_url    TEXT,
    fetched_at   TEXT NOT NULL,
    status       INTEGER NOT NULL,
    headers      TEXT NOT NULL,
    body_hash    TEXT NOT NULL REFERENCES blobs (hash),
    body_size    INTEGER NOT NULL,
    truncated    TEXT CHECK (truncated IN ('length', 'time', 'disconnect', 'unspecified')),
    elapsed_ms   INTEGER
);
CREATE INDEX captures_by_crawl ON captures (crawl_id, market_id);
CREATE INDEX captures_by_url ON captures (market_id, url);

-- What one parser version made of one capture. Observations point here.
CREATE TABLE extractions (
    id              INTEGER PRIMARY KEY,
    capture_id      INTEGER NOT NULL REFERENCES captures (id),
    parser_version  TEXT NOT NULL,
    page_kind       TEXT NOT NULL,
    diagnostics     TEXT NOT NULL,
    ingested_at     TEXT NOT NULL,
    UNIQUE (capture_id, parser_version)
);

CREATE TABLE pgp_keys (
    fingerprint    TEXT PRIMARY KEY,
    armored        TEXT NOT NULL,
    first_seen_at  TEXT NOT NULL
);

CREATE TABLE vendors (
    id              INTEGER PRIMARY KEY,
    market_id       INTEGER NOT NULL REFERENCES markets (id),
    handle_key      TEXT NOT NULL,
    handle          TEXT NOT NULL,
    first_crawl_id  INTEGER NOT NULL REFERENCES crawls (id),
    first_seen_at   TEXT NOT NULL,
    UNIQUE (market_id, handle_key)
);

CREATE TABLE vendor_observations (
    id                 INTEGER PRIMARY KEY,
    vendor_id          INTEGER NOT NULL REFERENCES vendors (id),
    extraction_id      INTEGER NOT NULL REFERENCES extractions (id),
    crawl_id           INTEGER NOT NULL REFERENCES crawls (id),
    capture_id         INTEGER NOT NULL REFERENCES captures (id),
    observed_at        TEXT NOT NULL,
    parser_version     TEXT NOT NULL,
    page_kind          TEXT NOT NULL,
    rating             REAL,
    positive_percent   REAL,
    sales              INTEGER,
    feedback_positive  INTEGER,
    feedback_neutral   INTEGER,
    feedback_negative  INTEGER,
    level              TEXT,
    pgp_fingerprint    TEXT REFERENCES pgp_keys (fingerprint),
    registered         TEXT,
    last_seen          TEXT,
    data               TEXT NOT NULL,
    UNIQUE (vendor_id, extraction_id)
);
CREATE INDEX vendor_observations_by_vendor ON vendor_observations (vendor_id, observed_at);
CREATE INDEX vendor_observations_by_pgp ON vendor_observations (pgp_fingerprint);

CREATE TABLE listings (
    id              INTEGER PRIMARY KEY,
    market_id       INTEGER NOT NULL REFERENCES markets (id),
    listing_key     TEXT NOT NULL,
    first_crawl_id  INTEGER NOT NULL REFERENCES crawls (id),
    first_seen_at   TEXT NOT NULL,
    UNIQUE (market_id, listing_key)
);

CREATE TABLE listing_observations (
    id               INTEGER PRIMARY KEY,
    listing_id       INTEGER NOT NULL REFERENCES listings (id),
    extraction_id    INTEGER NOT NULL REFERENCES extractions (id),
    crawl_id         INTEGER NOT NULL REFERENCES crawls (id),
    capture_id       INTEGER NOT NULL REFERENCES captures (id),
    observed_at      TEXT NOT NULL,
    parser_version   TEXT NOT NULL,
    page_kind        TEXT NOT NULL,
    title            TEXT,
    vendor_id        INTEGER REFERENCES vendors (id),
    price_amount     TEXT,
    price_currency   TEXT,
    category         TEXT,
    quantity_count   INTEGER,
    quantity_amount  TEXT,
    quantity_unit    TEXT,
    ships_from       TEXT,
    ships_to         TEXT,
    stock            INTEGER,
    stock_unlimited  BOOLEAN,
    sales            INTEGER,
    escrow           BOOLEAN,
    finalize_early   BOOLEAN,
    description      TEXT,
    data             TEXT NOT NULL,
    UNIQUE (listing_id, extraction_id)
);
CREATE INDEX listing_observations_by_listing ON listing_observations (listing_id, observed_at);
CREATE INDEX listing_observations_by_vendor ON listing_observations (vendor_id, observed_at);
CREATE INDEX listing_observations_by_crawl ON listing_observations (crawl_id);

-- Feedback entries, one row per content key however often they are seen. No buyer identity.
CREATE TABLE feedback (
    id                   INTEGER PRIMARY KEY,
    market_id            INTEGER NOT NULL REFERENCES markets (id),
    feedback_key         TEXT NOT NULL,
    vendor_id            INTEGER REFERENCES vendors (id),
    listing_id           INTEGER REFERENCES listings (id),
    rating               TEXT NOT NULL,
    text                 TEXT NOT NULL,
    date_text            TEXT,
    left_on              TEXT,
    item                 TEXT,
    price_amount         TEXT,
    price_currency       TEXT,
    first_crawl_id       INTEGER NOT NULL REFERENCES crawls (id),
    first_capture_id     INTEGER NOT NULL REFERENCES captures (id),
    first_extraction_id  INTEGER NOT NULL REFERENCES extractions (id),
    first_seen_at        TEXT NOT NULL,
    UNIQUE (market_id, feedback_key)
);
CREATE INDEX feedback_by_vendor ON feedback (vendor_id, left_on);
CREATE INDEX feedback_by_listing ON feedback (listing_id, left_on);

-- Which crawls saw a feedback entry (completeness, disappearance).
CREATE TABLE feedback_sightings (
    feedback_id  INTEGER NOT NULL REFERENCES feedback (id),
    crawl_id     INTEGER NOT NULL REFERENCES crawls (id),
    capture_id   INTEGER NOT NULL REFERENCES captures (id),
    seen_at      TEXT NOT NULL,
    PRIMARY KEY (feedback_id, crawl_id)
);

CREATE TABLE forum_threads (
    id              INTEGER PRIMARY KEY,
    market_id       INTEGER NOT NULL REFERENCES markets (id),
    thread_key      TEXT NOT NULL,
    first_crawl_id  INTEGER NOT NULL REFERENCES crawls (id),
    first_seen_at   TEXT NOT NULL,
    UNIQUE (market_id, thread_key)
);

CREATE TABLE thread_observations (
    id              INTEGER PRIMARY KEY,
    thread_id       INTEGER NOT NULL REFERENCES forum_threads (id),
    extraction_id   INTEGER NOT NULL REFERENCES extractions (id),
    crawl_id        INTEGER NOT NULL REFERENCES crawls (id),
    capture_id      INTEGER NOT NULL REFERENCES captures (id),
    observed_at     TEXT NOT NULL,
    parser_version  TEXT NOT NULL,
    board           TEXT,
    title           TEXT,
    UNIQUE (thread_id, extraction_id)
);

CREATE TABLE forum_posts (
    id              INTEGER PRIMARY KEY,
    thread_id       INTEGER NOT NULL REFERENCES forum_threads (id),
    post_key        TEXT NOT NULL,
    first_crawl_id  INTEGER NOT NULL REFERENCES crawls (id),
    first_seen_at   TEXT NOT NULL,
    UNIQUE (thread_id, post_key)
);

-- Authors are vendors (by handle) or pseudonyms (keyed HMAC); never a plain non-vendor handle.
CREATE TABLE post_observations (
    id              INTEGER PRIMARY KEY,
    post_id         INTEGER NOT NULL REFERENCES forum_posts (id),
    extraction_id   INTEGER NOT NULL REFERENCES extractions (id),
    crawl_id        INTEGER NOT NULL REFERENCES crawls (id),
    capture_id      INTEGER NOT NULL REFERENCES captures (id),
    observed_at     TEXT NOT NULL,
    parser_version  TEXT NOT NULL,
    author_kind     TEXT CHECK (author_kind IN ('vendor', 'pseudonym')),
    author          TEXT,
    date_text       TEXT,
    text            TEXT NOT NULL,
    UNIQUE (post_id, extraction_id),
    CHECK ((author_kind IS NULL AND author IS NULL)
        OR author_kind = 'vendor'
        OR (author_kind = 'pseudonym' AND author LIKE 'p:%' AND length(author) = 34))
);

CREATE TABLE market_events (
    id             INTEGER PRIMARY KEY,
    market_id      INTEGER NOT NULL REFERENCES markets (id),
    kind           TEXT NOT NULL CHECK (kind IN ('takedown', 'seizure_banner', 'exit_scam', 'outage', 'mirror_change')),
    observed_at    TEXT NOT NULL,
    detail         TEXT NOT NULL,
    crawl_id       INTEGER REFERENCES crawls (id),
    capture_id     INTEGER REFERENCES captures (id),
    UNIQUE (market_id, kind, observed_at)
);
