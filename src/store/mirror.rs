//! Writing pages of normalized rows: the pages a writer has in hand in one
//! transaction, one generic upsert per vendor table (built from its [`Table`]),
//! cached statements, and the mirror's own clock `db_last_updated`: strictly
//! increasing across every write to the database, untouched when a row does
//! not change.

use super::upsert::{upsert, UpsertError, UpsertSql, Wrote};
use super::{Lease, Result, Store, StoreError};
use crate::record::{Rejected, Row, StreamKey, Table};
use crate::time::{fmt_utc, parse_stored, to_micros};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::Path;

/// One page to write, and what comes with it.
#[derive(Debug, Clone, Copy)]
pub struct PageWrite<'a> {
    pub stream: &'a StreamKey,
    /// The vendor table the rows go to.
    pub table: &'static Table,
    pub rows: &'a [Row],
    pub rejected: &'a [Rejected],
    /// The last page of a window: the stream's watermark moves forward to this.
    pub advance_watermark: Option<DateTime<Utc>>,
    /// With a lease, the write extends it, and fails with
    /// [`StoreError::LeaseLost`] if another process holds the stream now.
    pub lease: Option<&'a Lease>,
}

/// What one page write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageCounts {
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
}

/// Hands out `db_last_updated` values inside one write transaction.
struct Stamps {
    next: i64,
}

impl Stamps {
    /// `max(now, last assigned + 1µs)`, read under the write lock so that
    /// concurrent writers (other connections, other processes) never collide.
    fn start(
        tx: &Connection,
        last_assigned: &str,
        now: DateTime<Utc>,
        path: &Path,
    ) -> Result<Stamps> {
        let last: Option<String> =
            tx.query_row(last_assigned, [], |r| r.get(0))
                .map_err(|source| StoreError::Sqlite {
                    path: path.to_owned(),
                    error: source,
                })?;
        let last = match last {
            None => i64::MIN,
            Some(s) => to_micros(parse_stored(&s).ok_or_else(|| StoreError::Corrupt {
                path: path.to_owned(),
                column: "db_last_updated",
                value: s.clone(),
            })?),
        };
        Ok(Stamps {
            next: to_micros(now).max(last.saturating_add(1)),
        })
    }

    fn peek(&self) -> i64 {
        self.next
    }

    fn take(&mut self) {
        self.next += 1;
    }
}

impl Store {
    /// Writes one page in one transaction: upserts `rows`, records `rejected`,
    /// and, for the last page of a window, moves the stream's watermark forward to
    /// `advance_watermark` (never backward). With a `lease`, the transaction also
    /// extends it, and fails with [`StoreError::LeaseLost`] if another process
    /// holds the stream now, so nothing is written twice.
    pub fn write_page(
        &mut self,
        stream: &StreamKey,
        table: &'static Table,
        rows: &[Row],
        rejected: &[Rejected],
        advance_watermark: Option<DateTime<Utc>>,
        lease: Option<&Lease>,
    ) -> Result<PageCounts> {
        let page = PageWrite {
            stream,
            table,
            rows,
            rejected,
            advance_watermark,
            lease,
        };
        self.write_pages(&[page])?
            .pop()
            .expect("one result per page")
    }

    /// Writes pages in one transaction. A page whose stream's lease was taken
    /// over is not written, nor are that stream's later pages: their errors are
    /// returned in their places while the other pages are committed. Any other
    /// error rolls the whole transaction back and is returned as the outer error
    /// (nothing was written; write the pages one at a time to see which failed).
    pub fn write_pages(&mut self, pages: &[PageWrite<'_>]) -> Result<Vec<Result<PageCounts>>> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite {
            path: path.clone(),
            error: source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let now = self.clock.now();
        let mut clock = Stamps::start(&tx, &self.last_assigned, now, &path)?;
        let mut out = Vec::with_capacity(pages.len());
        let mut failed: Vec<&StreamKey> = Vec::new();
        for page in pages {
            // A stream's pages stay in order: none is written after one that failed.
            if failed.contains(&page.stream) {
                out.push(Err(StoreError::AfterFailure {
                    stream: page.stream.to_string(),
                }));
                continue;
            }
            // Checked before the page writes anything, so a lost lease needs no undo.
            if let Some(lease) = page.lease {
                if let Err(err) = Store::renew_in(&tx, lease, now, &path) {
                    if !matches!(err, StoreError::LeaseLost { .. }) {
                        return Err(err);
                    }
                    failed.push(page.stream);
                    out.push(Err(err));
                    continue;
                }
            }
            let sql = self
                .upserts
                .entry(page.table.name)
                .or_insert_with(|| UpsertSql::new(page.table));
            out.push(Ok(write_in(&tx, &path, page, sql, &mut clock, now)?));
        }
        tx.commit().map_err(e)?;
        Ok(out)
    }
}

fn write_in(
    tx: &Connection,
    path: &Path,
    page: &PageWrite<'_>,
    sql: &UpsertSql,
    clock: &mut Stamps,
    now: DateTime<Utc>,
) -> Result<PageCounts> {
    let e = |source| StoreError::Sqlite {
        path: path.to_owned(),
        error: source,
    };
    let PageWrite {
        stream,
        table,
        rows,
        rejected,
        advance_watermark,
        ..
    } = *page;
    let mut counts = PageCounts::default();
    let account = stream.account.as_str();
    for r in rows {
        if r.columns.len() != table.columns.len() {
            return Err(StoreError::BadRow {
                table: table.name,
                detail: format!(
                    "row {} has {} columns, the table {}",
                    r.id,
                    r.columns.len(),
                    table.columns.len()
                ),
            });
        }
        match upsert(tx, sql, table, account, r, clock.peek()) {
            Ok(Wrote::Inserted) => {
                counts.inserted += 1;
                clock.take();
            }
            Ok(Wrote::Updated) => {
                counts.updated += 1;
                clock.take();
            }
            Ok(Wrote::Unchanged) => counts.unchanged += 1,
            Err(UpsertError::Sqlite(error)) => return Err(e(error)),
            Err(UpsertError::BadRow(detail)) => {
                return Err(StoreError::BadRow {
                    table: table.name,
                    detail,
                })
            }
        }
    }
    counts.rejected = reject_in(tx, stream, rejected, now).map_err(e)?;
    // The stream's state moves with its rows: a later watermark (never an
    // earlier one) and the count of rows this page added, in one statement.
    if advance_watermark.is_some() || counts.inserted > 0 {
        Store::ensure_stream_in(tx, stream, path)?;
        let sql = "UPDATE sync_state SET rows_total = rows_total + ?5, \
             watermark = CASE WHEN ?4 IS NULL THEN watermark ELSE max(coalesce(watermark, ''), ?4) END \
             WHERE source = ?1 AND account = ?2 AND stream = ?3";
        let (source, watermark) = (stream.source.as_str(), advance_watermark.map(fmt_utc));
        tx.prepare_cached(sql)
            .and_then(|mut s| {
                s.execute(params![
                    source,
                    account,
                    stream.stream,
                    watermark,
                    counts.inserted
                ])
            })
            .map_err(e)?;
    }
    Ok(counts)
}

/// Keeps the records that could not be normalized, once each: a record seen
/// again moves its `last_seen`. Returns how many the page had.
fn reject_in(
    tx: &Connection,
    stream: &StreamKey,
    rejected: &[Rejected],
    now: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    if rejected.is_empty() {
        return Ok(0);
    }
    let now = fmt_utc(now);
    let mut stmt = tx.prepare_cached(
        "INSERT INTO rejected_records (source, account, stream, reason, raw_payload, first_seen, last_seen) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (source, account, stream, raw_payload) \
         DO UPDATE SET reason = excluded.reason, last_seen = excluded.last_seen",
    )?;
    for r in rejected {
        let key = (stream.source.as_str(), &stream.account, &stream.stream);
        stmt.execute(params![key.0, key.1, key.2, r.reason, r.raw_payload, now])?;
    }
    Ok(rejected.len() as i64)
}
