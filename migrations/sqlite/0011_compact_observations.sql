-- Listing observations get smaller (issue 16: the 10M-observation store held about 760 bytes per
-- observation).
--
-- * From now on `data` holds only what the typed columns do not (other prices, price tiers,
--   shipping options, accepted currencies, exchange rates, the URL, a vendor spelled otherwise
--   than its stored handle): `{}` for most rows, read back whole by the store (listing_row.rs).
--   Rows stored before keep their whole listing; both read the same.
-- * Two indexes no query uses go: by listing (the UNIQUE (listing_id, extraction_id) index
--   already finds a listing's rows) and by crawl (a crawl's rows are read by id range).
-- * The full-text index keeps no per-row column sizes (`columnsize=0`: they serve only ranking,
--   and searches order by time). It is rebuilt here from the rows.
DROP INDEX listing_observations_by_listing;
DROP INDEX listing_observations_by_crawl;

DROP TRIGGER listing_observations_fts_insert;
DROP TRIGGER listing_observations_fts_delete;
DROP TRIGGER listing_observations_fts_update;
DROP TABLE listing_observations_fts;

CREATE VIRTUAL TABLE listing_observations_fts USING fts5(
    title, description,
    content="listing_observations", content_rowid="id",
    tokenize="porter unicode61", columnsize=0
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
