//! Per-stream state: watermarks, leases (taken as `crate::lease` decides, in
//! the same transaction that reads them), run records and the status report.

use super::{Result, Store, StoreError};
use crate::lease;
use crate::record::StreamKey;
use crate::time::{fmt_utc, parse_stored};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// This process's hold on a stream: `owner` may write it while the lease,
/// renewed with every page, has not expired (`ttl` after its last renewal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub stream: StreamKey,
    pub owner: String,
    pub ttl: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Sync,
    Backfill,
}

impl RunKind {
    fn as_str(self) -> &'static str {
        match self {
            RunKind::Sync => "sync",
            RunKind::Backfill => "backfill",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Success,
    Failed,
    Skipped,
    /// Cut short by a signal; what was fetched is written.
    Stopped,
}

impl RunOutcome {
    fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Success => "success",
            RunOutcome::Failed => "failed",
            RunOutcome::Skipped => "skipped",
            RunOutcome::Stopped => "stopped",
        }
    }
}

/// Counters of one run of one stream, as stored in `sync_runs`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RunCounts {
    pub pages: i64,
    pub requests: i64,
    pub retries: i64,
    pub token_refreshes: i64,
    pub rows_inserted: i64,
    pub rows_updated: i64,
    pub rows_unchanged: i64,
    pub rows_rejected: i64,
}

impl RunCounts {
    /// Adds one written page.
    pub fn add_page(&mut self, page: super::PageCounts) {
        self.pages += 1;
        self.rows_inserted += page.inserted;
        self.rows_updated += page.updated;
        self.rows_unchanged += page.unchanged;
        self.rows_rejected += page.rejected;
    }
}

/// The newest run of a stream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub kind: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: String,
    pub counts: RunCounts,
    pub error: Option<String>,
}

/// One row of `auditmirror status`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StreamStatus {
    pub source: String,
    pub account: String,
    pub stream: String,
    pub watermark: Option<String>,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub failing_since: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<String>,
    /// Rows this stream has added to the mirror over all runs.
    pub rows_total: i64,
    /// The parts (services) the vendor listed for the stream at the last run.
    pub services: Option<Vec<String>>,
    /// Why the vendor says this tenant does not have the stream, if it does.
    pub unavailable: Option<String>,
    pub last_run: Option<RunSummary>,
}

impl StreamStatus {
    /// A stream the mirror knows nothing about yet: no watermark, no run.
    pub fn new(source: &str, account: &str, stream: &str) -> StreamStatus {
        StreamStatus {
            source: source.to_owned(),
            account: account.to_owned(),
            stream: stream.to_owned(),
            watermark: None,
            last_success_at: None,
            last_error: None,
            last_error_at: None,
            failing_since: None,
            lease_owner: None,
            lease_expires_at: None,
            rows_total: 0,
            services: None,
            unavailable: None,
            last_run: None,
        }
    }
}

const KEY: &str = "source = ?1 AND account = ?2 AND stream = ?3";

impl Store {
    pub(super) fn ensure_stream_in(
        tx: &rusqlite::Connection,
        stream: &StreamKey,
        path: &Path,
    ) -> Result<()> {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO sync_state (source, account, stream) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| {
            s.execute(params![
                stream.source.as_str(),
                stream.account,
                stream.stream
            ])
        })
        .map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            error: source,
        })?;
        Ok(())
    }

    pub(super) fn renew_in(
        tx: &rusqlite::Connection,
        lease: &Lease,
        now: DateTime<Utc>,
        path: &Path,
    ) -> Result<()> {
        let s = &lease.stream;
        let until = fmt_utc(crate::time::after(now, lease.ttl));
        let renewed = tx
            .prepare_cached(&format!(
                "UPDATE sync_state SET lease_expires_at = ?5 WHERE {KEY} AND lease_owner = ?4"
            ))
            .and_then(|mut st| {
                st.execute(params![
                    s.source.as_str(),
                    s.account,
                    s.stream,
                    lease.owner,
                    until
                ])
            })
            .map_err(|source| StoreError::Sqlite {
                path: path.to_path_buf(),
                error: source,
            })?;
        if renewed == 1 {
            return Ok(());
        }
        let holder: Option<String> = tx
            .query_row(
                &format!("SELECT lease_owner FROM sync_state WHERE {KEY}"),
                params![s.source.as_str(), s.account, s.stream],
                |r| r.get(0),
            )
            .optional()
            .map_err(|source| StoreError::Sqlite {
                path: path.to_path_buf(),
                error: source,
            })?
            .flatten();
        Err(StoreError::LeaseLost {
            stream: s.to_string(),
            holder: holder.unwrap_or_else(|| "nobody".into()),
        })
    }

    fn immediate(&mut self) -> Result<Transaction<'_>> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Sqlite {
                path,
                error: source,
            })
    }

    /// The stream's watermark, if it ever completed a window.
    pub fn watermark(&self, stream: &StreamKey) -> Result<Option<DateTime<Utc>>> {
        let w: Option<String> = self
            .conn
            .query_row(
                &format!("SELECT watermark FROM sync_state WHERE {KEY}"),
                params![stream.source.as_str(), stream.account, stream.stream],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .flatten();
        w.map(|s| {
            parse_stored(&s).ok_or_else(|| StoreError::Corrupt {
                path: self.path.clone(),
                column: "watermark",
                value: s,
            })
        })
        .transpose()
    }

    /// Takes the stream's lease for `ttl` if it is free, expired, already ours,
    /// or held by a process of this host that no longer exists. `Ok(None)` names
    /// nobody: call [`Store::lease_holder`] to say who has it.
    pub fn try_lease(
        &mut self,
        stream: &StreamKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite {
            path: path.clone(),
            error: source,
        };
        let now = self.clock.now();
        let tx = self.immediate()?;
        Self::ensure_stream_in(&tx, stream, &path)?;
        let (holder, expires): (Option<String>, Option<String>) = tx
            .query_row(
                &format!("SELECT lease_owner, lease_expires_at FROM sync_state WHERE {KEY}"),
                params![stream.source.as_str(), stream.account, stream.stream],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(e)?;
        let held = holder.as_deref().map(|owner| lease::Held {
            owner,
            expires: expires.as_deref().and_then(parse_stored),
        });
        if lease::decide(held, owner, now, lease::holder_is_dead) == lease::Decision::Busy {
            return Ok(None);
        }
        let until = fmt_utc(crate::time::after(now, ttl));
        tx.execute(
            &format!("UPDATE sync_state SET lease_owner = ?4, lease_expires_at = ?5 WHERE {KEY}"),
            params![
                stream.source.as_str(),
                stream.account,
                stream.stream,
                owner,
                until
            ],
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(Some(Lease {
            stream: stream.clone(),
            owner: owner.to_owned(),
            ttl,
        }))
    }

    /// Who holds the stream's lease now, if anyone.
    pub fn lease_holder(&self, stream: &StreamKey) -> Result<Option<String>> {
        self.conn
            .query_row(
                &format!("SELECT lease_owner FROM sync_state WHERE {KEY}"),
                params![stream.source.as_str(), stream.account, stream.stream],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    /// Extends a held lease; fails with `LeaseLost` if it is no longer ours.
    pub fn renew_lease(&mut self, lease: &Lease) -> Result<()> {
        let path = self.path.clone();
        let now = self.clock.now();
        let tx = self.immediate()?;
        Self::renew_in(&tx, lease, now, &path)?;
        tx.commit().map_err(|source| StoreError::Sqlite {
            path,
            error: source,
        })
    }

    /// Gives a lease back (a no-op if someone else holds it now).
    pub fn release_lease(&mut self, lease: &Lease) -> Result<()> {
        let s = &lease.stream;
        self.conn
            .execute(
                &format!("UPDATE sync_state SET lease_owner = NULL, lease_expires_at = NULL WHERE {KEY} AND lease_owner = ?4"),
                params![s.source.as_str(), s.account, s.stream, lease.owner],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records a successful run of the stream.
    pub fn record_success(&mut self, stream: &StreamKey, at: DateTime<Utc>) -> Result<()> {
        let path = self.path.clone();
        let tx = self.immediate()?;
        Self::ensure_stream_in(&tx, stream, &path)?;
        tx.execute(
            &format!("UPDATE sync_state SET last_success_at = ?4, last_error = NULL, last_error_at = NULL, failing_since = NULL, unavailable = NULL WHERE {KEY}"),
            params![stream.source.as_str(), stream.account, stream.stream, fmt_utc(at)],
        )
        .and_then(|_| tx.commit())
        .map_err(|source| StoreError::Sqlite { path, error: source })
    }

    /// Records a failed run; `failing_since` keeps the first failure of a streak.
    pub fn record_failure(
        &mut self,
        stream: &StreamKey,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = self.immediate()?;
        Self::ensure_stream_in(&tx, stream, &path)?;
        tx.execute(
            &format!("UPDATE sync_state SET last_error = ?4, last_error_at = ?5, failing_since = coalesce(failing_since, ?5) WHERE {KEY}"),
            params![stream.source.as_str(), stream.account, stream.stream, error, fmt_utc(at)],
        )
        .and_then(|_| tx.commit())
        .map_err(|source| StoreError::Sqlite { path, error: source })
    }

    /// Records that the vendor says this tenant does not have the stream. It is
    /// not a failure: the error state stays as it was.
    pub fn record_unavailable(&mut self, stream: &StreamKey, reason: &str) -> Result<()> {
        let path = self.path.clone();
        let tx = self.immediate()?;
        Self::ensure_stream_in(&tx, stream, &path)?;
        tx.execute(
            &format!("UPDATE sync_state SET unavailable = ?4 WHERE {KEY}"),
            params![
                stream.source.as_str(),
                stream.account,
                stream.stream,
                reason
            ],
        )
        .and_then(|_| tx.commit())
        .map_err(|source| StoreError::Sqlite {
            path,
            error: source,
        })
    }

    /// Marks the stream's runs still `running` as failed: call it holding the
    /// stream's lease, when no run of it can be live (their process died).
    pub fn close_interrupted_runs(&mut self, stream: &StreamKey) -> Result<usize> {
        self.conn
            .execute(
                &format!(
                    "UPDATE sync_runs SET outcome = 'failed', finished_at = ?4, \
                     error = 'interrupted: the process ended before the run finished (killed or crashed); the next run read the range again' \
                     WHERE {KEY} AND outcome = 'running'"
                ),
                params![stream.source.as_str(), stream.account, stream.stream, fmt_utc(self.clock.now())],
            )
            .map_err(|e| self.err(e))
    }

    /// Records the parts (services) the vendor lists for a stream.
    pub fn set_services(&mut self, stream: &StreamKey, services: &[String]) -> Result<()> {
        let json = serde_json::to_string(services).unwrap_or_default();
        self.conn
            .execute(
                &format!("UPDATE sync_state SET services = ?4 WHERE {KEY}"),
                params![stream.source.as_str(), stream.account, stream.stream, json],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Opens a `sync_runs` row for a run that starts `at`; returns its id.
    pub fn begin_run(
        &mut self,
        stream: &StreamKey,
        kind: RunKind,
        range: Option<(DateTime<Utc>, DateTime<Utc>)>,
        at: DateTime<Utc>,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO sync_runs (source, account, stream, kind, started_at, outcome, range_from, range_to) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7)",
                params![
                    stream.source.as_str(),
                    stream.account,
                    stream.stream,
                    kind.as_str(),
                    fmt_utc(at),
                    range.map(|r| fmt_utc(r.0)),
                    range.map(|r| fmt_utc(r.1)),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Closes a `sync_runs` row, finished `at`, with its outcome and counts.
    pub fn finish_run(
        &mut self,
        run_id: i64,
        outcome: RunOutcome,
        c: &RunCounts,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE sync_runs SET finished_at = ?2, outcome = ?3, pages = ?4, requests = ?5, retries = ?6, \
                 token_refreshes = ?7, rows_inserted = ?8, rows_updated = ?9, rows_unchanged = ?10, \
                 rows_rejected = ?11, error = ?12 WHERE id = ?1",
                params![
                    run_id,
                    fmt_utc(at),
                    outcome.as_str(),
                    c.pages,
                    c.requests,
                    c.retries,
                    c.token_refreshes,
                    c.rows_inserted,
                    c.rows_updated,
                    c.rows_unchanged,
                    c.rows_rejected,
                    error
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every stream the mirror knows, with its newest run that was not
    /// skipped (a run in progress rather than a later runner's skip), else its
    /// newest, in key order.
    pub fn stream_statuses(&self) -> Result<Vec<StreamStatus>> {
        let e = |source| StoreError::Sqlite {
            path: self.path.clone(),
            error: source,
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.source, s.account, s.stream, s.watermark, s.last_success_at, s.last_error, s.last_error_at, \
                        s.failing_since, s.lease_owner, s.lease_expires_at, \
                        s.rows_total, s.services, s.unavailable, \
                        r.id, r.kind, r.started_at, r.finished_at, r.outcome, r.pages, r.requests, r.retries, \
                        r.token_refreshes, r.rows_inserted, r.rows_updated, r.rows_unchanged, r.rows_rejected, r.error \
                   FROM sync_state s \
                   LEFT JOIN sync_runs r ON r.id = coalesce( \
                        (SELECT x.id FROM sync_runs x WHERE x.source = s.source AND x.account = s.account \
                            AND x.stream = s.stream AND x.outcome <> 'skipped' ORDER BY x.id DESC LIMIT 1), \
                        (SELECT max(id) FROM sync_runs x \
                            WHERE x.source = s.source AND x.account = s.account AND x.stream = s.stream)) \
                  ORDER BY s.source, s.account, s.stream",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map([], |r| {
                let last_run = match r.get::<_, Option<i64>>(13)? {
                    None => None,
                    Some(id) => Some(RunSummary {
                        id,
                        kind: r.get(14)?,
                        started_at: r.get(15)?,
                        finished_at: r.get(16)?,
                        outcome: r.get(17)?,
                        counts: RunCounts {
                            pages: r.get(18)?,
                            requests: r.get(19)?,
                            retries: r.get(20)?,
                            token_refreshes: r.get(21)?,
                            rows_inserted: r.get(22)?,
                            rows_updated: r.get(23)?,
                            rows_unchanged: r.get(24)?,
                            rows_rejected: r.get(25)?,
                        },
                        error: r.get(26)?,
                    }),
                };
                Ok(StreamStatus {
                    source: r.get(0)?,
                    account: r.get(1)?,
                    stream: r.get(2)?,
                    watermark: r.get(3)?,
                    last_success_at: r.get(4)?,
                    last_error: r.get(5)?,
                    last_error_at: r.get(6)?,
                    failing_since: r.get(7)?,
                    lease_owner: r.get(8)?,
                    lease_expires_at: r.get(9)?,
                    rows_total: r.get(10)?,
                    services: r
                        .get::<_, Option<String>>(11)?
                        .and_then(|s| serde_json::from_str(&s).ok()),
                    unavailable: r.get(12)?,
                    last_run,
                })
            })
            .map_err(e)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(e)
    }
}
