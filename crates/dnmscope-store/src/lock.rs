//! One writer per SQLite store, and one migration at a time.
//!
//! SQLite serialises transactions, not runs: two crawls on one file would each run the whole
//! crawl, fetching every page twice at twice the allowed rate. A run that writes (crawl, demo,
//! import, migration) takes the store's writer lock, an exclusive `flock` on `STORE.lock` beside
//! the file, for as long as it runs; a second one fails at once, naming the process that holds
//! it. The operating system releases the lock when the process ends, however it ends (`kill
//! -9` included), so a lock is never left behind.
//!
//! Creating or upgrading the schema takes `STORE.migrate-lock` the same way, waiting its turn:
//! two processes that open a new store at once no longer both create it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::StoreError;

/// Held while a run writes to a SQLite store; released when dropped (or the process ends).
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
    path: PathBuf,
}

impl WriterLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn lock_path(store: &Path, suffix: &str) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn open_lock(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| StoreError::Lock {
            path: path.to_owned(),
            source,
        })
}

/// Takes the writer lock of the SQLite store at `store` for `what`, or says who holds it.
pub(crate) fn lock_writer(store: &Path, what: &str) -> Result<WriterLock, StoreError> {
    let path = lock_path(store, ".lock");
    let mut file = open_lock(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(StoreError::Busy {
                path: store.to_owned(),
                holder: if holder.is_empty() {
                    "another process (it has not said which yet)".into()
                } else {
                    holder.to_owned()
                },
            });
        }
        Err(TryLockError::Error(source)) => return Err(StoreError::Lock { path, source }),
    }
    let holder = format!(
        "{what} (process {}, since {})",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
    );
    let written = file
        .set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(holder.as_bytes()))
        .and_then(|()| file.flush());
    written.map_err(|source| StoreError::Lock {
        path: path.clone(),
        source,
    })?;
    Ok(WriterLock { _file: file, path })
}

/// Held while the schema of a SQLite store is created or upgraded.
pub(crate) struct MigrationLock {
    _file: File,
}

/// Waits (up to `patience`) for the migration lock of the store at `store`.
pub(crate) async fn lock_migration(
    store: &Path,
    patience: Duration,
) -> Result<MigrationLock, StoreError> {
    let path = lock_path(store, ".migrate-lock");
    let file = open_lock(&path)?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(MigrationLock { _file: file }),
            Err(TryLockError::WouldBlock) if started.elapsed() < patience => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    path: store.to_owned(),
                    holder: format!(
                        "another process creating or upgrading its schema for more than {} s",
                        patience.as_secs()
                    ),
                })
            }
            Err(TryLockError::Error(source)) => return Err(StoreError::Lock { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Location, Store, StoreError, StoreOptions};

    fn options(path: &std::path::Path, create: bool) -> StoreOptions {
        let mut options = StoreOptions::new(Location::SqliteFile(path.to_owned()));
        options.create = create;
        options
    }

    #[tokio::test]
    async fn a_second_writer_fails_at_once_naming_the_first_and_gets_the_lock_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let store = Store::open(&options(&path, true)).await.unwrap();
        let first = store.lock_writer("dnmscope crawl").unwrap().unwrap();
        let other = Store::open(&options(&path, false)).await.unwrap();
        let err = other.lock_writer("dnmscope demo").unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StoreError::Busy { .. }), "{message}");
        assert!(
            message.contains("dnmscope crawl")
                && message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        // Readers are not writers: a second store opens and reads while the lock is held.
        other.stats().await.unwrap();
        drop(first);
        let again = other.lock_writer("dnmscope demo").unwrap().unwrap();
        assert!(again.path().ends_with("s.sqlite.lock"));
    }

    #[tokio::test]
    async fn stores_created_at_once_take_turns_to_migrate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.sqlite");
        let opens = (0..6).map(|_| {
            let options = options(&path, true);
            tokio::spawn(async move { Store::open(&options).await.map(|_| ()) })
        });
        for open in futures_util::future::join_all(opens).await {
            open.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn an_empty_file_and_a_newer_store_are_refused_with_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.sqlite");
        std::fs::write(&empty, b"").unwrap();
        let err = Store::open(&options(&empty, false)).await.unwrap_err();
        assert!(matches!(err, StoreError::EmptyFile { .. }), "{err}");
        assert_eq!(
            std::fs::metadata(&empty).unwrap().len(),
            0,
            "nothing written"
        );

        let newer = dir.path().join("newer.sqlite");
        let store = Store::open(&options(&newer, true)).await.unwrap();
        if let crate::Backend::Sqlite(pool) = &store.backend {
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES (9999, 'from the future', 1, x'00', 0)",
            )
            .execute(pool)
            .await
            .unwrap();
        }
        store.close().await;
        let err = Store::open(&options(&newer, false)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Newer { version: 9999, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("newer dnmscope"), "{err}");
    }
}
