-- Summaries of the weekly roll-up, so that weekly indicators read thousands of rows instead of
-- one per listing and week (millions on an archive-sized store). All three are derived from
-- `listing_weeks` alone and kept exact by `refresh_weekly`: the (market, week) pairs a
-- refresh touched are recounted from `listing_weeks`, and the (market, vendor, listing)
-- triples it added are inserted. Like `listing_weeks` they can be dropped and rebuilt.

-- Per market and week: listings, vendors and observations (what `activity` shows).
CREATE TABLE market_weeks (
    market_id     BIGINT NOT NULL REFERENCES markets (id),
    week_start    TEXT NOT NULL,
    listings      BIGINT NOT NULL,
    vendors       BIGINT NOT NULL,
    observations  BIGINT NOT NULL,
    PRIMARY KEY (market_id, week_start)
);

-- Per market, vendor and week: the vendor's listings that week (first and last weeks seen).
CREATE TABLE vendor_weeks (
    market_id   BIGINT NOT NULL REFERENCES markets (id),
    vendor_id   BIGINT NOT NULL REFERENCES vendors (id),
    week_start  TEXT NOT NULL,
    listings    BIGINT NOT NULL,
    PRIMARY KEY (market_id, vendor_id, week_start)
);
CREATE INDEX vendor_weeks_by_week ON vendor_weeks (market_id, week_start);

-- Which listings each vendor has had (a vendor's distinct listings over all weeks).
CREATE TABLE vendor_listings (
    market_id   BIGINT NOT NULL REFERENCES markets (id),
    vendor_id   BIGINT NOT NULL REFERENCES vendors (id),
    listing_id  BIGINT NOT NULL REFERENCES listings (id),
    PRIMARY KEY (market_id, vendor_id, listing_id)
);

INSERT INTO market_weeks (market_id, week_start, listings, vendors, observations)
SELECT market_id, week_start, COUNT(*), COUNT(DISTINCT vendor_id), SUM(observations)
FROM listing_weeks GROUP BY market_id, week_start;

INSERT INTO vendor_weeks (market_id, vendor_id, week_start, listings)
SELECT market_id, vendor_id, week_start, COUNT(*)
FROM listing_weeks WHERE vendor_id IS NOT NULL GROUP BY market_id, vendor_id, week_start;

INSERT INTO vendor_listings (market_id, vendor_id, listing_id)
SELECT DISTINCT market_id, vendor_id, listing_id FROM listing_weeks WHERE vendor_id IS NOT NULL;
