//! Example questions a user asks the mirror, with the SQL that answers them:
//! shown by `auditmirror demo`, and a starting point for the README.

use super::{Result, Store};

/// A question, and the SQL that answers it.
pub struct Example {
    pub question: &'static str,
    pub sql: &'static str,
}

pub const GONG_EXAMPLES: &[Example] = &[
    Example {
        question: "Who exported or deleted calls in the last week?",
        sql: "SELECT user_email, action, count(*) AS n, max(timestamp) AS last
  FROM gong_audit_log_entry
 WHERE log_type = 'UserActivityLog' AND action IN ('EXPORT_CALLS', 'DELETE_CALL')
   AND timestamp >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days')
 GROUP BY 1, 2 ORDER BY n DESC LIMIT 5",
    },
    Example {
        question: "Which calls were opened most by people outside the company?",
        sql:
            "SELECT resource_id AS call_id, count(*) AS views, count(DISTINCT user_email) AS viewers
  FROM gong_audit_log_entry
 WHERE log_type = 'ExternallySharedCallAccess'
 GROUP BY 1 ORDER BY views DESC LIMIT 5",
    },
    Example {
        question: "Who acted while impersonating another user?",
        sql: "SELECT impersonator_email, user_email, count(*) AS actions
  FROM gong_audit_log_entry
 WHERE impersonator_user_id IS NOT NULL
 GROUP BY 1, 2 ORDER BY actions DESC LIMIT 5",
    },
];

pub const GENESYS_EXAMPLES: &[Example] = &[
    Example {
        question: "Failed logins and other failed actions, by user",
        sql:
            "SELECT coalesce(user_name, user_id) AS user, service_name, action, count(*) AS failures
  FROM genesys_audit_log_message
 WHERE status = 'FAILURE'
 GROUP BY 1, 2, 3 ORDER BY failures DESC LIMIT 5",
    },
    Example {
        question: "Who changed Architect flows, and which?",
        sql: "SELECT event_date, user_name, action, entity_type, entity_name
  FROM genesys_audit_log_message
 WHERE service_name = 'Architect' AND action IN ('Create', 'Update', 'Delete', 'Publish')
 ORDER BY event_date DESC LIMIT 5",
    },
];

/// A query's column names and rows, every value as text (`NULL` for null).
pub type Table = (Vec<String>, Vec<Vec<String>>);

impl Store {
    /// Runs one read-only example query.
    pub fn run_example(&self, sql: &str) -> Result<Table> {
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

    /// Rows in the mirror per stream, for summaries.
    pub fn rows_per_stream(&self) -> Result<Vec<(String, String, String, i64)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT 'gong', account, log_type, count(*) FROM gong_audit_log_entry GROUP BY 2, 3 \
                 UNION ALL SELECT 'genesys', account, 'audits', count(*) FROM genesys_audit_log_message GROUP BY 2 \
                 ORDER BY 1, 2, 3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}
