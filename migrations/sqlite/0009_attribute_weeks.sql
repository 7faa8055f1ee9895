-- A weekly roll-up that listing-attribute filters (category, substance, origin, destination)
-- can read instead of every observation. `listing_attributes` names each distinct combination of
-- the filtered columns as observed (the category path and destinations as JSON text, '' where
-- none was shown); `attribute_weeks` has one row per combination, market, week and listing,
-- with the listing's vendor and its observations that week with those attributes. A filter
-- picks its combinations from the small dictionary and reads only their rows (the primary key
-- leads with the combination; in SQLite the table is stored in that order). Derived data with its own watermark in `rollup_state`
-- ('attribute_weeks'): a store upgraded to this migration fills it on its first refresh.
CREATE TABLE listing_attributes (
    id          INTEGER PRIMARY KEY,
    category    TEXT NOT NULL,
    ships_from  TEXT NOT NULL,
    ships_to    TEXT NOT NULL,
    UNIQUE (category, ships_from, ships_to)
);

CREATE TABLE attribute_weeks (
    attributes_id  INTEGER NOT NULL REFERENCES listing_attributes (id),
    market_id      INTEGER NOT NULL REFERENCES markets (id),
    week_start     TEXT NOT NULL,
    listing_id     INTEGER NOT NULL REFERENCES listings (id),
    vendor_id      INTEGER REFERENCES vendors (id),
    observations   INTEGER NOT NULL,
    PRIMARY KEY (attributes_id, market_id, week_start, listing_id)
) WITHOUT ROWID;
