-- Re-parses (issue 17): `dnmscope reparse` reads stored captures again with the current market
-- definitions and appends the new extraction beside the old ones. An extraction that a newer
-- parse of the same capture replaced is listed here (append-only), and analytics read the
-- observations of the extractions not listed: the newest parse of every capture.
CREATE TABLE superseded_extractions (
    extraction_id     INTEGER PRIMARY KEY REFERENCES extractions (id),
    by_extraction_id  INTEGER NOT NULL REFERENCES extractions (id),
    superseded_at     TEXT NOT NULL
);
