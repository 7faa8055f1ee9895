-- A vendor's trend reads only that vendor's observations, through this index. It now also holds
-- what the trend reads of an observation priced in USD (the row id, the listing and the price),
-- so those rows can be read by an index-only scan. Rows priced otherwise are read from the table
-- (their conversion needs the whole observed listing).
DROP INDEX listing_observations_by_vendor;
CREATE INDEX listing_observations_by_vendor
    ON listing_observations (vendor_id, observed_at, id, listing_id, price_currency, price_amount);
