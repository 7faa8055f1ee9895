-- Listing observations get smaller (issue 16).
--
-- * From now on `data` holds only what the typed columns do not (other prices, price tiers,
--   shipping options, accepted currencies, exchange rates, the URL, a vendor spelled otherwise
--   than its stored handle): `{}` for most rows, read back whole by the store (listing_row.rs).
--   Rows stored before keep their whole listing; both read the same.
-- * Two indexes no query uses go: by listing (the UNIQUE (listing_id, extraction_id) index
--   already finds a listing's rows) and by crawl (a crawl's rows are read by id range).
DROP INDEX listing_observations_by_listing;
DROP INDEX listing_observations_by_crawl;
