//! Errors of the store, each saying what was being done.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database location {location:?}: {reason}")]
    Location { location: String, reason: String },
    #[error("database file {} does not exist (create it with `dnmscope db migrate --db {}`)", path.display(), path.display())]
    NotFound { path: PathBuf },
    #[error("cannot open database {location}")]
    Open {
        location: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot bring the schema of {location} up to date")]
    Migrate {
        location: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("{action}")]
    Query {
        action: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{action}")]
    Compression {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to store {what}: {reason}")]
    Refused { what: String, reason: String },
    #[error("stored data is inconsistent: {what}")]
    Corrupt { what: String },
    #[error("no {what} with id {id}")]
    Missing { what: &'static str, id: i64 },
    #[error("store {} is in use by {holder}; one run writes to a SQLite store at a time (wait for it, or stop it)", path.display())]
    Busy { path: PathBuf, holder: String },
    #[error("cannot take the lock {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is empty: it is not a dnmscope store (create one with `dnmscope db migrate --db {}`)", path.display(), path.display())]
    EmptyFile { path: PathBuf },
    #[error("invalid raw-body key: {reason}")]
    RawKey { reason: String },
    #[error("{what} needs the raw-body key {key_id}, and none was given (set store.raw_key_file to the key file this store was encrypted with; everything but raw bodies reads without it)")]
    RawKeyNeeded { what: String, key_id: String },
    #[error("{what} needs the raw-body key {needed}, but the key given is {given} (a different key; use the key file this store was encrypted with)")]
    WrongRawKey {
        what: String,
        needed: String,
        given: String,
    },
    #[error("the raw page of capture {capture_id} was purged by purge {purge_id} (its observations remain)")]
    Purged { capture_id: i64, purge_id: i64 },
    #[error("{location} was written by a newer dnmscope (its schema has migration {version}, which this version does not know); use that version or a later one")]
    Newer { location: String, version: i64 },
}

/// Adds "what was happening" to a database error.
pub(crate) trait Context<T> {
    fn context(self, action: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, action: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Query {
            action: action(),
            source,
        })
    }
}
