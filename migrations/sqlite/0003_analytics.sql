-- Analytics (SQLite dialect; ../postgres has the same tables): exchange rates imported by a
-- researcher, researchers' decisions on cross-market vendor links, and weekly roll-ups.
--
-- A rate is USD per one unit of `currency` on `day` (a UTC calendar date). Rates come from a
-- CSV (`dnmscope rates import`); the rates a market prints on its pages stay in the observations.

CREATE TABLE exchange_rates (
    day          TEXT NOT NULL,
    currency     TEXT NOT NULL,
    usd          TEXT NOT NULL,
    source       TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    PRIMARY KEY (currency, day, source)
);

-- A researcher's decision on a candidate link between two vendor accounts on two markets.
-- Append-only: the latest decision for a pair is the one that counts. The pair is stored in a
-- canonical order (market_a, handle_a) < (market_b, handle_b); handles are case-folded.
CREATE TABLE vendor_link_decisions (
    id          INTEGER PRIMARY KEY,
    market_a    TEXT NOT NULL,
    handle_a    TEXT NOT NULL,
    market_b    TEXT NOT NULL,
    handle_b    TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
    note        TEXT NOT NULL,
    decided_at  TEXT NOT NULL
);
CREATE INDEX vendor_link_decisions_by_pair ON vendor_link_decisions (market_a, handle_a, market_b, handle_b, id);

-- Weekly roll-ups read a derived table instead of every observation: one row per market, week
-- (its Monday, YYYY-MM-DD) and listing, with the listing's vendor and its observations that
-- week. It is derived data, brought up to date incrementally (observations with an id above
-- the watermark in `rollup_state`) before a weekly roll-up; it can be dropped and rebuilt.
CREATE TABLE listing_weeks (
    market_id     INTEGER NOT NULL REFERENCES markets (id),
    week_start    TEXT NOT NULL,
    listing_id    INTEGER NOT NULL REFERENCES listings (id),
    vendor_id     INTEGER REFERENCES vendors (id),
    observations  INTEGER NOT NULL,
    PRIMARY KEY (market_id, week_start, listing_id)
);

CREATE TABLE rollup_state (
    name                 TEXT PRIMARY KEY,
    last_observation_id  INTEGER NOT NULL
);
