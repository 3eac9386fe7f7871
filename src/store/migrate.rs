//! Migrations: `migrations/NNNN_*.sql`, listed by `build.rs`, each applied in
//! its own transaction that also moves `PRAGMA user_version`; a database newer
//! than this binary is refused untouched. After a migration that rebuilt the
//! mirror's tables, the file is compacted (the old tables' pages freed, 16 KB pages).

use super::{Result, Store, StoreError, SCHEMA_VERSION};
use rusqlite::TransactionBehavior;

/// The migrations compiled into this binary, in order. Entry `i` moves the
/// database from `user_version` i to i + 1.
pub(super) const MIGRATIONS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The migrations after which the file is compacted (they copy the big tables).
const REBUILDS: &[&str] = &["0006_storage_for_a_million.sql"];

impl Store {
    pub(super) fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let err = |error| StoreError::Sqlite {
            path: path.clone(),
            error,
        };
        let (mut rebuilt, mut new_file) = (false, None);
        loop {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            // Read inside the write lock: another process may have migrated meanwhile.
            let current: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(err)?;
            if current > SCHEMA_VERSION {
                return Err(StoreError::TooNew {
                    path: self.path.clone(),
                    found: current,
                    supported: SCHEMA_VERSION,
                });
            }
            let Some(&(name, sql)) = MIGRATIONS.get(current as usize) else {
                // A file this process may not write still opens (SQLite falls back
                // to reading) and even begins a write transaction; writing the
                // version back unchanged, rolled back with `tx`, fails on it now
                // rather than on the first page fetched.
                tx.pragma_update(None, "user_version", current)
                    .map_err(err)?;
                drop(tx);
                if rebuilt {
                    self.compact();
                }
                return Ok(());
            };
            // A new file has nothing to compact.
            let new_file = *new_file.get_or_insert(current == 0);
            rebuilt |= !new_file && REBUILDS.contains(&name);
            let applied = tx
                .execute_batch(sql)
                .and_then(|()| tx.pragma_update(None, "user_version", current + 1))
                .and_then(|()| tx.commit());
            applied.map_err(|error| StoreError::Migration {
                path: self.path.clone(),
                name,
                error,
            })?;
            tracing::info!(path = %self.path.display(), migration = name, "migrated the mirror");
        }
    }

    /// Rewrites the file with 16 KB pages and without the pages a rebuild
    /// freed. It needs the file to itself (and twice its size on disk for a
    /// moment); when it cannot run now, the mirror works as it is.
    fn compact(&mut self) {
        tracing::info!(path = %self.path.display(), "compacting the mirror after rebuilding its tables; this takes a while once");
        let done = self.conn.execute_batch(
            "PRAGMA journal_mode = DELETE; PRAGMA page_size = 16384; VACUUM; ANALYZE;",
        );
        let wal = self.conn.execute_batch("PRAGMA journal_mode = WAL;");
        match (done, wal) {
            (Ok(()), Ok(())) => tracing::info!(path = %self.path.display(), "compacted"),
            (Err(e), _) | (_, Err(e)) => tracing::warn!(
                path = %self.path.display(),
                "could not compact the mirror now ({e}); it works as it is, with space the old tables used left free"
            ),
        }
    }
}
