//! Writing pages of normalized rows: the pages a writer has in hand in one
//! transaction, cached statements, and the mirror's own
//! clock `db_last_updated` (DESIGN §2): strictly increasing across every write to
//! the database, untouched when a row does not change.

use super::{Lease, Result, Store, StoreError};
use crate::record::{GenesysRow, GongRow, Rejected, StreamKey};
use crate::time::{fmt_utc, from_micros, parse_stored, to_micros};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::Path;

/// A page of rows of one source.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    Gong(&'a [GongRow]),
    Genesys(&'a [GenesysRow]),
}

impl Rows<'_> {
    pub fn len(&self) -> usize {
        match self {
            Rows::Gong(r) => r.len(),
            Rows::Genesys(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One page to write, and what comes with it.
#[derive(Debug, Clone, Copy)]
pub struct PageWrite<'a> {
    pub stream: &'a StreamKey,
    pub rows: Rows<'a>,
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

const GONG_INSERT: &str = "INSERT INTO gong_audit_log_entry \
    (account, id, log_type, timestamp, action, resource_type, resource_id, ip_address, raw_json, db_last_updated) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (account, id) DO NOTHING";
const GONG_UPDATE: &str =
    "UPDATE gong_audit_log_entry SET log_type = ?3, timestamp = ?4, action = ?5, \
    resource_type = ?6, resource_id = ?7, ip_address = ?8, raw_json = ?9, db_last_updated = ?10 \
    WHERE account = ?1 AND id = ?2 AND raw_json IS NOT ?9";
const GENESYS_INSERT: &str = "INSERT INTO genesys_audit_log_message \
    (account, id, event_date, remote_ip_addresses, raw_json, db_last_updated) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (account, id) DO NOTHING";
const GENESYS_UPDATE: &str = "UPDATE genesys_audit_log_message SET event_date = ?3, \
    remote_ip_addresses = ?4, raw_json = ?5, db_last_updated = ?6 \
    WHERE account = ?1 AND id = ?2 AND raw_json IS NOT ?5";
const LAST_ASSIGNED: &str = "SELECT max(m) FROM ( \
    SELECT max(db_last_updated) AS m FROM gong_audit_log_entry \
    UNION ALL SELECT max(db_last_updated) FROM genesys_audit_log_message)";

/// Hands out `db_last_updated` values inside one write transaction.
struct Clock {
    next: i64,
}

impl Clock {
    /// `max(now, last assigned + 1µs)`, read under the write lock so that
    /// concurrent writers (other connections, other processes) never collide.
    fn start(tx: &Connection, path: &Path) -> Result<Clock> {
        let last: Option<String> =
            tx.query_row(LAST_ASSIGNED, [], |r| r.get(0))
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
        Ok(Clock {
            next: to_micros(Utc::now()).max(last.saturating_add(1)),
        })
    }

    fn peek(&self) -> String {
        fmt_utc(from_micros(self.next))
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
        rows: Rows<'_>,
        rejected: &[Rejected],
        advance_watermark: Option<DateTime<Utc>>,
        lease: Option<&Lease>,
    ) -> Result<PageCounts> {
        let page = PageWrite {
            stream,
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
        let mut clock = Clock::start(&tx, &path)?;
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
                if let Err(err) = Store::renew_in(&tx, lease, &path) {
                    if !matches!(err, StoreError::LeaseLost { .. }) {
                        return Err(err);
                    }
                    failed.push(page.stream);
                    out.push(Err(err));
                    continue;
                }
            }
            out.push(Ok(write_in(&tx, &path, page, &mut clock)?));
        }
        tx.commit().map_err(e)?;
        Ok(out)
    }
}

fn write_in(
    tx: &Connection,
    path: &Path,
    page: &PageWrite<'_>,
    clock: &mut Clock,
) -> Result<PageCounts> {
    let e = |source| StoreError::Sqlite {
        path: path.to_owned(),
        error: source,
    };
    let PageWrite {
        stream,
        rows,
        rejected,
        advance_watermark,
        ..
    } = *page;
    let mut counts = PageCounts::default();
    let account = stream.account.as_str();
    match rows {
        Rows::Gong(rows) => {
            let mut insert = tx.prepare_cached(GONG_INSERT).map_err(e)?;
            let mut update = tx.prepare_cached(GONG_UPDATE).map_err(e)?;
            for r in rows {
                let ts = fmt_utc(r.timestamp);
                let stamp = clock.peek();
                let p = params![
                    account,
                    r.id,
                    r.log_type,
                    ts,
                    r.action,
                    r.resource_type,
                    r.resource_id,
                    r.ip_address,
                    r.raw_json,
                    stamp
                ];
                tally(&mut counts, clock, insert.execute(p).map_err(e)?, || {
                    update.execute(p)
                })
                .map_err(e)?;
            }
        }
        Rows::Genesys(rows) => {
            let mut insert = tx.prepare_cached(GENESYS_INSERT).map_err(e)?;
            let mut update = tx.prepare_cached(GENESYS_UPDATE).map_err(e)?;
            for r in rows {
                let date = fmt_utc(r.event_date);
                let stamp = clock.peek();
                let p = params![
                    account,
                    r.id,
                    date,
                    r.remote_ip_addresses,
                    r.raw_json,
                    stamp
                ];
                tally(&mut counts, clock, insert.execute(p).map_err(e)?, || {
                    update.execute(p)
                })
                .map_err(e)?;
            }
        }
    }
    if !rejected.is_empty() {
        let now = fmt_utc(Utc::now());
        let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO rejected_records (source, account, stream, reason, raw_payload, first_seen, last_seen) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (source, account, stream, raw_payload) \
                     DO UPDATE SET reason = excluded.reason, last_seen = excluded.last_seen",
                )
                .map_err(e)?;
        for r in rejected {
            stmt.execute(params![
                stream.source.as_str(),
                account,
                stream.stream,
                r.reason,
                r.raw_payload,
                now
            ])
            .map_err(e)?;
            counts.rejected += 1;
        }
    }
    // The stream's state moves with its rows: a later watermark (never an
    // earlier one) and the count of rows this page added, in one statement.
    if advance_watermark.is_some() || counts.inserted > 0 {
        Store::ensure_stream_in(tx, stream, path)?;
        tx.prepare_cached(
            "UPDATE sync_state SET rows_total = rows_total + ?5, \
                 watermark = CASE WHEN ?4 IS NULL THEN watermark ELSE max(coalesce(watermark, ''), ?4) END \
             WHERE source = ?1 AND account = ?2 AND stream = ?3",
        )
        .and_then(|mut s| {
            s.execute(params![stream.source.as_str(), account, stream.stream, advance_watermark.map(fmt_utc), counts.inserted])
        })
        .map_err(e)?;
    }
    Ok(counts)
}

/// Counts one row: inserted, else updated if its content changed, else unchanged.
/// Only a row that was written consumes a tick of the clock.
fn tally(
    counts: &mut PageCounts,
    clock: &mut Clock,
    inserted: usize,
    update: impl FnOnce() -> rusqlite::Result<usize>,
) -> rusqlite::Result<()> {
    if inserted == 1 {
        counts.inserted += 1;
        clock.take();
    } else if update()? == 1 {
        counts.updated += 1;
        clock.take();
    } else {
        counts.unchanged += 1;
    }
    Ok(())
}
