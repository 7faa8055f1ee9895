-- Per-market zstd dictionaries for raw bodies. A market's pages share most of their bytes with
-- their siblings (the same header, menus and markup), which per-page zstd cannot see; a
-- dictionary trained on a market's own pages can. A body compressed with one names it
-- (`blobs.dictionary_id`); bodies from before this migration, or stored before their market
-- had a dictionary, are plain per-page zstd (NULL) and stay readable.
--
-- A dictionary holds fragments of the pages it was trained on, so it is protected like them:
-- sealed with the raw-body key when the store encrypts raw bodies (`encryption`, `key_id`, the
-- dictionary's hash bound in as associated data), and emptied by a purge once no kept body
-- needs it (`purge_id`). `hash` is the BLAKE3 of the dictionary's bytes, checked on load.
CREATE TABLE raw_dictionaries (
    id            INTEGER PRIMARY KEY,
    market_id     INTEGER NOT NULL REFERENCES markets (id),
    trained_at    TEXT NOT NULL,
    samples       INTEGER NOT NULL,
    sample_bytes  INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    hash          TEXT NOT NULL,
    data          BLOB NOT NULL,
    encryption    TEXT CHECK (encryption IN ('xchacha20poly1305')),
    key_id        TEXT,
    purge_id      INTEGER REFERENCES raw_purges (id)
);
CREATE INDEX raw_dictionaries_by_market ON raw_dictionaries (market_id, id);

ALTER TABLE blobs ADD COLUMN dictionary_id INTEGER REFERENCES raw_dictionaries (id);
CREATE INDEX blobs_by_dictionary ON blobs (dictionary_id) WHERE dictionary_id IS NOT NULL;
