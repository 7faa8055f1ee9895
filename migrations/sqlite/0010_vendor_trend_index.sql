-- A vendor's trend reads only that vendor's observations, through this index. It now also holds
-- what the trend reads of an observation priced in USD (the listing and the price; the rowid is
-- in every SQLite index entry), so those rows are read from the index alone: the trend of a
-- vendor with thousands of observations no longer looks up thousands of table rows. Rows priced
-- otherwise are read from the table (their conversion needs the whole observed listing).
DROP INDEX listing_observations_by_vendor;
CREATE INDEX listing_observations_by_vendor
    ON listing_observations (vendor_id, observed_at, listing_id, price_currency, price_amount);
