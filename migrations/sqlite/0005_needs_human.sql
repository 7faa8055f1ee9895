-- A market event kind for the crawl's own record: `needs_human`, written when a market answers
-- with a login or captcha page and a person must log in and run `dnmscope session import`.
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt under its name, rows
-- and ids kept, and the view over it is recreated as 0004 made it.

DROP VIEW market_events_view;

CREATE TABLE market_events_rebuilt (
    id             INTEGER PRIMARY KEY,
    market_id      INTEGER NOT NULL REFERENCES markets (id),
    kind           TEXT NOT NULL CHECK (kind IN ('takedown', 'seizure_banner', 'exit_scam', 'outage', 'mirror_change', 'needs_human')),
    observed_at    TEXT NOT NULL,
    detail         TEXT NOT NULL,
    crawl_id       INTEGER REFERENCES crawls (id),
    capture_id     INTEGER REFERENCES captures (id),
    UNIQUE (market_id, kind, observed_at)
);

INSERT INTO market_events_rebuilt (id, market_id, kind, observed_at, detail, crawl_id, capture_id)
SELECT id, market_id, kind, observed_at, detail, crawl_id, capture_id FROM market_events;

DROP TABLE market_events;

ALTER TABLE market_events_rebuilt RENAME TO market_events;

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
