-- The crawl frontier and per-run accounting (SQLite dialect; ../postgres has the same tables).
--
-- A frontier row is one page a run means to fetch, unique per run, market and canonical URL.
-- `capture_id` is set in the same transaction that stores the fetched page, so a run resumed
-- after a crash parses the stored page instead of fetching it again.

CREATE TABLE frontier (
    id               INTEGER PRIMARY KEY,
    crawl_id         INTEGER NOT NULL REFERENCES crawls (id),
    market_id        INTEGER NOT NULL REFERENCES markets (id),
    url              TEXT NOT NULL,
    kind             TEXT NOT NULL,
    depth            INTEGER NOT NULL CHECK (depth >= 0),
    priority         INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    attempts         INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    capture_id       INTEGER REFERENCES captures (id),
    discovered_at    TEXT NOT NULL,
    UNIQUE (crawl_id, market_id, url)
);

CREATE INDEX frontier_due ON frontier (crawl_id, state, next_attempt_at);

-- What a run did per market (pages attempted, fetched, failed by reason, parsed by kind, ...),
-- as JSON the crawler writes; rewritten as the run goes.
CREATE TABLE crawl_accounting (
    crawl_id    INTEGER NOT NULL REFERENCES crawls (id),
    market_id   INTEGER NOT NULL REFERENCES markets (id),
    data        TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (crawl_id, market_id)
);
