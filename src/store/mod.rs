//! The SQLite mirror: opening, migrations, and every statement the program runs.
//! This is the only module that speaks SQL; callers hand it normalized rows and
//! get counts back. See `migrations/` for the schema.

mod budget;
mod migrate;
mod query;
pub use query::QueryTable;
mod mirror;
mod state;
mod upsert;

pub use mirror::{PageCounts, PageWrite};
pub use state::{Lease, RunCounts, RunKind, RunOutcome, RunSummary, StreamStatus};

use crate::clock::Clock;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = migrate::MIGRATIONS.len() as i64;

/// How long a writer waits for another process's transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of the mirror. A variant that wraps a `rusqlite::Error` renders it
/// itself (once, with what to do) and does not chain it as `source()`: rusqlite's
/// own chain repeats its message ("disk I/O error: Error code 4874: disk I/O
/// error"), and callers print `{:#}`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {}", describe(error))]
    Sqlite {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error(
        "database {path} has schema version {found}, but this auditmirror only knows versions up to \
         {supported}; it was written by a newer release. Upgrade auditmirror (the file was not modified)"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("migration {name} failed on {path}: {}", describe(error))]
    Migration {
        path: PathBuf,
        name: &'static str,
        error: rusqlite::Error,
    },
    /// The file did not exist and could not be created.
    #[error("cannot create the mirror {path}: {why}; fix [database] path or the directory's permissions")]
    Create { path: PathBuf, why: String },
    #[error(
        "stream {stream} is now leased by {holder}: another auditmirror process took it over; this run \
         stopped without writing"
    )]
    LeaseLost { stream: String, holder: String },
    #[error("stream {stream}: page not written, because an earlier page of it in the same transaction failed")]
    AfterFailure { stream: String },
    /// A connector handed a row that does not fit its table (a bug).
    #[error("table {table}: {detail}; this is a bug in auditmirror, please report it")]
    BadRow { table: &'static str, detail: String },
    #[error("database {path}: stored value `{value}` in {column} is not a timestamp")]
    Corrupt {
        path: PathBuf,
        column: &'static str,
        value: String,
    },
}

impl StoreError {
    /// Whether the mirror itself failed (disk full, I/O error, read-only, cannot
    /// be opened or created, damaged, too new), rather than a lease taken over
    /// or a statement this program got wrong. Commands exit 3 for these.
    pub fn is_database_fault(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            StoreError::Sqlite { error, .. } | StoreError::Migration { error, .. } => matches!(
                error.sqlite_error_code(),
                Some(
                    C::DiskFull
                        | C::SystemIoFailure
                        | C::ReadOnly
                        | C::CannotOpen
                        | C::DatabaseCorrupt
                        | C::NotADatabase
                        | C::PermissionDenied
                )
            ),
            StoreError::TooNew { .. } | StoreError::Create { .. } | StoreError::Corrupt { .. } => {
                true
            }
            StoreError::LeaseLost { .. }
            | StoreError::AfterFailure { .. }
            | StoreError::BadRow { .. } => false,
        }
    }
}

/// SQLite's complaint, once, and for the errors about the file what to do.
fn describe(error: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode as C;
    let Some(e) = error.sqlite_error() else {
        return error.to_string();
    };
    // SAFETY: `geteuid` cannot fail and touches no memory.
    let uid = unsafe { libc::geteuid() };
    let said = rusqlite::ffi::code_to_str(e.extended_code);
    let hint = match e.code {
        C::DiskFull => "the disk is full (or the file reached the process's file size limit); \
             free space on it, then run again"
            .to_owned(),
        C::SystemIoFailure => format!(
            "the disk may be full, failing or gone, or the file over the process's file size \
             limit (SQLite code {}); check the disk and free space, then run again",
            e.extended_code
        ),
        C::ReadOnly | C::PermissionDenied => format!(
            "the file, its -wal or -shm file, or its directory is not writable by this user \
             (uid {uid}); fix their owner or permissions, or [database] path"
        ),
        C::CannotOpen => format!(
            "check that [database] path is right and that the file and its directory are \
             readable and writable by this user (uid {uid})"
        ),
        C::DatabaseCorrupt | C::NotADatabase => "this is not an intact auditmirror database; \
             restore it from a backup, or move it away to start a new mirror"
            .to_owned(),
        // Anything else: SQLite's own message is the best description.
        _ => return error.to_string(),
    };
    format!("{said}: {hint}")
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An open mirror database. One per thread; open several for concurrent writers.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// `max(db_last_updated)` over every mirror table (read at open: the
    /// tables with that column).
    last_assigned: String,
    /// Each vendor table's upsert statements, built on first use.
    upserts: std::collections::HashMap<&'static str, upsert::UpsertSql>,
    /// Stamps rows and leases.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the mirror at `path` and applies pending
    /// migrations. A database newer than this binary is refused untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        create_private(&path)?;
        let conn = Connection::open(&path).map_err(|error| StoreError::Sqlite {
            path: path.clone(),
            error,
        })?;
        let mut store = Store::with(conn, path);
        store.configure()?;
        store.migrate()?;
        store.last_assigned = store.last_assigned_sql()?;
        Ok(store)
    }

    /// Opens an existing mirror for reading only; never creates or migrates.
    /// Returns `Ok(None)` when there is no file at `path`.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Option<Store>> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
            |error| StoreError::Sqlite {
                path: path.clone(),
                error,
            },
        )?;
        let store = Store::with(conn, path);
        store
            .conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| store.err(e))?;
        let found = store.user_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: store.path,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(Some(store))
    }

    /// Whether this process could write the mirror now, without writing (and
    /// without waiting for a writer's lock): the file opens for writing and
    /// its schema is one this binary knows.
    pub fn check_writable(path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref().to_path_buf();
        let err = |error| StoreError::Sqlite {
            path: path.clone(),
            error,
        };
        let conn =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        // SQLite opens a file it may not write read-only, and says so here.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(err)? {
            return Err(err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
                Some("the mirror opened read-only".to_owned()),
            )));
        }
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path,
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    fn with(conn: Connection, path: PathBuf) -> Store {
        Store {
            conn,
            path,
            last_assigned: String::new(),
            upserts: Default::default(),
            clock: crate::clock::system(),
        }
    }

    /// Reads the time from `clock` from now on (tests move time by hand).
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The query for the newest `db_last_updated` of the whole mirror: the
    /// maximum over every table with that column, each read from its index.
    fn last_assigned_sql(&self) -> Result<String> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.name FROM sqlite_schema m, pragma_table_xinfo(m.name) c \
                 WHERE m.type = 'table' AND c.name = 'db_last_updated' ORDER BY m.name",
            )
            .map_err(|e| self.err(e))?;
        let tables = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|e| self.err(e))?;
        let parts: Vec<String> = tables
            .iter()
            .map(|t| format!("SELECT max(db_last_updated) AS m FROM \"{t}\""))
            .collect();
        Ok(match parts.is_empty() {
            true => "SELECT NULL".to_owned(),
            false => format!("SELECT max(m) FROM ({})", parts.join(" UNION ALL ")),
        })
    }

    /// The schema version recorded in the file.
    pub fn user_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn configure(&mut self) -> Result<()> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.err(e))?;
        // Refuse a newer schema before anything (even the journal mode) is changed.
        let found = self.user_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        // 16 KB pages (a new file only): rows of a few hundred bytes waste less
        // of each page. Checkpoints every 32 MB of WAL rather than 4 MB: bulk
        // syncs re-copy hot index pages less often. Rows are appended in time
        // order and indexes grow at a few hot spots, so a small page cache
        // (8 MB) holds what a writer touches.
        self.conn
            .execute_batch(
                "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 2048; \
                 PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -8192;",
            )
            .map_err(|e| self.err(e))?;
        self.conn.set_prepared_statement_cache_capacity(32);
        Ok(())
    }

    fn err(&self, error: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            error,
        }
    }

    /// Direct access for tests and read-only diagnostics in this crate.
    #[cfg(test)]
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Creates the mirror, if there is none at `path`, readable and writable by its
/// owner only (it holds emails and IP addresses); SQLite gives its -wal and -shm
/// files the same mode. An existing file keeps the mode its owner chose; a
/// directory that does not exist is refused, never created.
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.symlink_metadata().is_ok() {
        return Ok(());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let failed = |why: String| StoreError::Create {
        path: path.to_path_buf(),
        why,
    };
    // A directory that is not there is a typo more often than a wish: never
    // create it (this holds for a reload that points at a new path, too).
    if !dir.is_dir() {
        return Err(failed(format!(
            "the directory {} does not exist (create it first)",
            dir.display()
        )));
    }
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        // Another process created it meanwhile: as good.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            // SAFETY: `geteuid` cannot fail and touches no memory.
            let uid = unsafe { libc::geteuid() };
            Err(failed(format!(
                "the directory {} is not writable by this user (uid {uid})",
                dir.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem => Err(failed(format!(
            "the directory {} is on a read-only filesystem",
            dir.display()
        ))),
        Err(e) => Err(failed(e.to_string())),
    }
}

#[cfg(test)]
mod tests;
