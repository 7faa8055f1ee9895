-- Per-market dictionaries are stored compressed (issue 16: raw storage is measured with the
-- dictionaries counted in, and a dictionary made of a market's newest pages is mostly markup
-- that compresses several times over). `compression` says how `data` (once opened, when sealed)
-- is compressed: 'zstd', or NULL for a dictionary stored as is (every one before this
-- migration). `size` stays the dictionary's own size and `hash` the hash of its own bytes.
ALTER TABLE raw_dictionaries ADD COLUMN compression TEXT CHECK (compression IN ('zstd'));
