//! Read-only questions to the mirror for people: one query's rows as text (the
//! examples `auditmirror demo` shows), and rows per stream.

use super::{Result, Store};

/// A query's column names and rows, every value as text (`NULL` for null).
pub type QueryTable = (Vec<String>, Vec<Vec<String>>);

impl Store {
    /// Runs one read-only example query.
    pub fn run_example(&self, sql: &str) -> Result<QueryTable> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        if !stmt.readonly() {
            return Err(self.err(rusqlite::Error::InvalidQuery));
        }
        let columns: Vec<String> = stmt.column_names().map(|c| c.to_string()).collect();
        let n = columns.len();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                            rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                            rusqlite::types::ValueRef::Real(v) => v.to_string(),
                            rusqlite::types::ValueRef::Text(t)
                            | rusqlite::types::ValueRef::Blob(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                        })
                    })
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok((columns, rows))
    }

    /// Refreshes the statistics the query planner reads (sampled: a few
    /// milliseconds on a million rows), so that questions by a call's or a
    /// record's id find it through its index, day by day.
    pub fn analyze(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA analysis_limit = 400; ANALYZE;")
            .map_err(|e| self.err(e))
    }

    /// Rows each stream has added to the mirror, for summaries.
    pub fn rows_per_stream(&self) -> Result<Vec<(String, String, String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, account, stream, rows_total FROM sync_state ORDER BY 1, 2, 3")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}
