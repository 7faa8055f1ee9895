//! Where a store lives: a SQLite file or a PostgreSQL URL, and how to connect to it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Connection;

use crate::{Backend, StoreError, StoreOptions, Synchronous};

/// A store's location, as given on the command line or in the configuration.
///
/// - `postgres://…` or `postgresql://…`: a PostgreSQL database;
/// - `sqlite://PATH`, `sqlite:PATH` or a plain path: a SQLite file;
/// - `sqlite::memory:`: a private in-memory SQLite database (tests).
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    SqliteFile(PathBuf),
    SqliteMemory,
    Postgres(String),
}

impl Location {
    pub fn parse(text: &str) -> Result<Location, StoreError> {
        let text = text.trim();
        let refuse = |reason: &str| StoreError::Location {
            location: redact_password(text),
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(refuse("it is empty"));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            PgConnectOptions::from_str(text).map_err(|err| refuse(&err.to_string()))?;
            return Ok(Location::Postgres(text.to_string()));
        }
        if text == "sqlite::memory:" || text == ":memory:" {
            return Ok(Location::SqliteMemory);
        }
        let path = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
            .unwrap_or(text);
        if path.contains("://") {
            return Err(refuse(
                "only sqlite and postgres locations are supported (a path, sqlite://PATH or postgres://URL)",
            ));
        }
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err(refuse("the SQLite path is empty"));
        }
        Ok(Location::SqliteFile(PathBuf::from(path)))
    }
}

impl fmt::Display for Location {
    /// Never shows a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::SqliteFile(path) => write!(f, "{}", path.display()),
            Location::SqliteMemory => f.write_str("sqlite::memory:"),
            Location::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

pub(crate) async fn connect(options: &StoreOptions) -> Result<Backend, StoreError> {
    let open_error = |source| StoreError::Open {
        location: options.location.to_string(),
        source,
    };
    match &options.location {
        Location::SqliteFile(path) => {
            if !options.create && !path.exists() {
                return Err(StoreError::NotFound { path: path.clone() });
            }
            let connect = sqlite_options(options).filename(path);
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .connect_with(connect)
                .await
                .map_err(open_error)?;
            Ok(Backend::Sqlite(pool))
        }
        Location::SqliteMemory => {
            // One connection: every connection to `:memory:` would be its own database.
            let connect = sqlite_options(options).in_memory(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(connect)
                .await
                .map_err(open_error)?;
            Ok(Backend::Sqlite(pool))
        }
        Location::Postgres(url) => {
            let mut connect = PgConnectOptions::from_str(url).map_err(open_error)?;
            // No JIT: the store's analytic queries take milliseconds to a few hundred, and
            // compiling them cost more (408 ms of the 523 ms of the vendor spans of a
            // 1M-observation store, `EXPLAIN ANALYZE`). (Key lists are planned for their values:
            // `CACHE_KEY_LISTS` in lib.rs.)
            let mut startup = vec![("jit", "off")];
            if let Some(schema) = &options.postgres_schema {
                check_schema_name(schema)?;
                // The schema must exist before a connection can put it on its search path.
                let mut setup = PgConnection::connect_with(&connect)
                    .await
                    .map_err(open_error)?;
                // Look first: creating needs a privilege that using an existing schema does not.
                let exists: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM pg_namespace WHERE nspname = $1")
                        .bind(schema)
                        .fetch_optional(&mut setup)
                        .await
                        .map_err(open_error)?;
                if exists.is_none() {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
                    )))
                    .execute(&mut setup)
                    .await
                    .map_err(open_error)?;
                }
                setup.close().await.map_err(open_error)?;
                startup.push(("search_path", schema.as_str()));
            }
            connect = connect.options(startup);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .connect_with(connect)
                .await
                .map_err(open_error)?;
            Ok(Backend::Postgres(pool))
        }
    }
}

fn sqlite_options(options: &StoreOptions) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .create_if_missing(options.create)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        // Multi-row statements differ by their row count; keep them all prepared.
        .statement_cache_capacity(100)
        .busy_timeout(options.busy_timeout)
        .synchronous(match options.synchronous {
            Synchronous::Normal => SqliteSynchronous::Normal,
            Synchronous::Full => SqliteSynchronous::Full,
        })
}

fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Location {
            location: schema.to_string(),
            reason: "a PostgreSQL schema name must be 1 to 63 characters of a-z, 0-9 and _"
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("data/x.sqlite").unwrap(),
            Location::SqliteFile("data/x.sqlite".into())
        );
        assert_eq!(
            Location::parse("sqlite://data/x.sqlite").unwrap(),
            Location::SqliteFile("data/x.sqlite".into())
        );
        assert_eq!(
            Location::parse("sqlite:x.db?mode=rwc").unwrap(),
            Location::SqliteFile("x.db".into())
        );
        assert_eq!(
            Location::parse("sqlite::memory:").unwrap(),
            Location::SqliteMemory
        );
        assert!(matches!(
            Location::parse("postgres://u@127.0.0.1/test").unwrap(),
            Location::Postgres(_)
        ));
        assert!(Location::parse("mysql://x/y").is_err());
        assert!(Location::parse("  ").is_err());
    }

    #[test]
    fn passwords_never_show() {
        let location = Location::parse("postgres://u:hunter2@127.0.0.1/test").unwrap();
        assert!(!location.to_string().contains("hunter2"));
        assert!(!format!("{location:?}").contains("hunter2"));
    }
}
