//! The daily request budget's ledger: requests sent per account and UTC day, so
//! a budget survives restarts and is shared by every process on the mirror.

use super::{Result, Store};
use rusqlite::{params, OptionalExtension};

impl Store {
    /// Requests already sent on `day` (`YYYY-MM-DD`, UTC) for an account.
    pub fn requests_on(
        &self,
        source: crate::record::Source,
        account: &str,
        day: &str,
    ) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT requests FROM request_budget WHERE source = ?1 AND account = ?2 AND day = ?3",
                params![source.as_str(), account, day],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|n| n.unwrap_or(0).max(0) as u64)
            .map_err(|e| self.err(e))
    }

    /// Adds `n` requests to an account's count for `day`.
    pub fn add_requests(
        &mut self,
        source: crate::record::Source,
        account: &str,
        day: &str,
        n: u64,
    ) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.conn
            .prepare_cached(
                "INSERT INTO request_budget (source, account, day, requests) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (source, account, day) DO UPDATE SET requests = requests + excluded.requests",
            )
            .and_then(|mut s| s.execute(params![source.as_str(), account, day, n as i64]))
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
