-- Raw pages hold people (masked buyer handles, forum authors): their bodies are encrypted at
-- rest and can be purged on a retention schedule.
--
-- `raw_encryption` is the store's policy, append-only: the newest row is in force. A store
-- without a row keeps raw bodies as plain zstd (stores from before this migration, until
-- `dnmscope db encrypt-raw`). `key_id` names the key (a digest of it, never the key).
CREATE TABLE raw_encryption (
    id          INTEGER PRIMARY KEY,
    cipher      TEXT NOT NULL CHECK (cipher IN ('xchacha20poly1305')),
    key_id      TEXT NOT NULL,
    enabled_at  TEXT NOT NULL,
    enabled_by  TEXT NOT NULL
);

-- One row per `dnmscope db purge-raw`, append-only: who ran it, when, what range, how much.
CREATE TABLE raw_purges (
    id          INTEGER PRIMARY KEY,
    purged_at   TEXT NOT NULL,
    purged_by   TEXT NOT NULL,
    before      TEXT NOT NULL,
    market_id   INTEGER REFERENCES markets (id),
    captures    INTEGER NOT NULL,
    bodies      INTEGER NOT NULL,
    bytes       INTEGER NOT NULL
);

-- A body is encrypted (`encryption`, `key_id`; `data` is nonce, ciphertext and tag of the zstd
-- frame, the hash bound in as associated data) or plain zstd (both NULL). A purged body keeps
-- its hash and size and loses its bytes (`data` empty, `purge_id` set).
ALTER TABLE blobs ADD COLUMN encryption TEXT CHECK (encryption IN ('xchacha20poly1305'));
ALTER TABLE blobs ADD COLUMN key_id TEXT;
ALTER TABLE blobs ADD COLUMN purge_id INTEGER REFERENCES raw_purges (id);
CREATE INDEX blobs_unencrypted ON blobs (hash) WHERE encryption IS NULL AND purge_id IS NULL;

-- A capture whose raw page was purged says so; its observations stay.
ALTER TABLE captures ADD COLUMN raw_purge_id INTEGER REFERENCES raw_purges (id);
CREATE INDEX captures_by_fetched_at ON captures (fetched_at);
