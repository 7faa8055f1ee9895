-- Re-parses (issue 17): `dnmscope reparse` reads stored captures again with the current market
-- definitions and appends the new extraction beside the old ones. An extraction that a newer
-- parse of the same capture replaced is listed here (append-only), and analytics read the
-- observations of the extractions not listed: the newest parse of every capture.
CREATE TABLE superseded_extractions (
    extraction_id     INTEGER PRIMARY KEY REFERENCES extractions (id),
    by_extraction_id  INTEGER NOT NULL REFERENCES extractions (id),
    superseded_at     TEXT NOT NULL
);

-- What an extraction said, read back to compare a new parse with (`Store::extraction_contents`).
CREATE INDEX listing_observations_by_extraction ON listing_observations (extraction_id);
CREATE INDEX vendor_observations_by_extraction ON vendor_observations (extraction_id);
CREATE INDEX post_observations_by_extraction ON post_observations (extraction_id);
