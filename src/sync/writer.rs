//! The writing side of a run: ONE blocking thread for all its streams takes
//! the pages waiting in the channel and commits them in one transaction (a
//! writer that keeps up commits page by page, one that falls behind catches up
//! with fewer commits), moving each stream's watermark with its window's last
//! page, and reports progress.

use super::{DailyBudget, Halt, Progress, ProgressFn};
use crate::clock::Clock;
use crate::connector::{Page, Window};
use crate::metrics::Metrics;
use crate::record::{StreamKey, Table};
use crate::store::{Lease, PageWrite, RunCounts, Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The most pages one write transaction takes from the queue.
const MAX_PAGES_PER_TRANSACTION: usize = 64;

/// A page on its way to the writer.
pub(super) struct Msg {
    pub(super) stream: usize,
    pub(super) page: Page,
    /// Set on a window's last page: the watermark may move to this instant.
    pub(super) window_end: Option<DateTime<Utc>>,
    /// The window the page is from, and the records the vendor said it holds.
    pub(super) window: Option<(Window, Option<u64>)>,
}

/// Where the writer puts one stream's pages.
pub(super) struct Target {
    pub(super) key: StreamKey,
    pub(super) table: &'static Table,
    pub(super) lease: Lease,
    pub(super) range: Option<Window>,
    /// Move the watermark (a sync; a backfill leaves it).
    pub(super) advance: bool,
    pub(super) budget: Option<Arc<DailyBudget>>,
    /// Set when this stream can be written no more: its fetcher stops.
    pub(super) stop: Arc<Halt>,
}

/// What the writer did for one stream.
#[derive(Default)]
pub(super) struct Written {
    pub(super) counts: RunCounts,
    pub(super) error: Option<StoreError>,
    /// When it last committed a page of the stream.
    pub(super) last_write: Option<DateTime<Utc>>,
    /// Everything before this instant is written.
    reached: Option<DateTime<Utc>>,
    /// The window being written: its records by the vendor's count, and those
    /// written so far (for progress inside a long window).
    window: Option<(Window, Option<u64>, u64)>,
}

/// Who hears of each page written, and the clock it is written at.
pub(super) struct Seen {
    pub(super) progress: Option<ProgressFn>,
    pub(super) metrics: Option<Arc<Metrics>>,
    pub(super) clock: Arc<dyn Clock>,
}

/// Writes the pages `rx` brings until every fetcher is done; `targets[i]` is
/// stream `i`'s (`None`: it has no lease and gets no pages).
pub(super) fn write_pages(
    mut store: Store,
    mut rx: mpsc::Receiver<Msg>,
    targets: Vec<Option<Target>>,
    seen: Seen,
) -> (Store, Vec<Written>) {
    let mut out: Vec<Written> = targets
        .iter()
        .map(|t| Written {
            reached: t.as_ref().and_then(|t| t.range).map(|r| r.from),
            ..Written::default()
        })
        .collect();
    let mut batch: Vec<Msg> = Vec::with_capacity(MAX_PAGES_PER_TRANSACTION);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_PAGES_PER_TRANSACTION {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        batch.retain(|m| targets[m.stream].is_some() && out[m.stream].error.is_none());
        let results = commit(&mut store, &batch, &targets);
        let now = seen.clock.now();
        for (m, result) in batch.drain(..).zip(results) {
            let (i, w) = (m.stream, &mut out[m.stream]);
            let Some(t) = &targets[i] else { continue };
            let written = result.and_then(|c| {
                if let Some(m) = &seen.metrics {
                    m.page_written(&t.key, &c);
                }
                w.counts.add_page(c);
                t.budget.as_ref().map_or(Ok(()), |b| b.save(&mut store))
            });
            if let Err(e) = written {
                t.stop.halt(e.to_string());
                w.error.get_or_insert(e);
                continue;
            }
            w.last_write = Some(now);
            if let Some((window, total)) = m.window {
                let records = (m.page.rows.len() + m.page.rejected.len()) as u64;
                match &mut w.window {
                    Some((at, _, n)) if *at == window => *n += records,
                    other => *other = Some((window, total, records)),
                }
            }
            if let Some(end) = m.window_end {
                w.reached = Some(end);
            }
            report(&seen.progress, t, w);
        }
    }
    (store, out)
}

/// Commits `batch` in one transaction. If that fails as a whole, each page is
/// tried alone, so the error lands on the streams it concerns.
fn commit(
    store: &mut Store,
    batch: &[Msg],
    targets: &[Option<Target>],
) -> Vec<Result<crate::store::PageCounts, StoreError>> {
    let writes: Vec<PageWrite<'_>> = batch
        .iter()
        .filter_map(|m| {
            let t = targets[m.stream].as_ref()?;
            Some(PageWrite {
                stream: &t.key,
                table: t.table,
                rows: &m.page.rows,
                rejected: &m.page.rejected,
                advance_watermark: m.window_end.filter(|_| t.advance),
                lease: Some(&t.lease),
            })
        })
        .collect();
    store.write_pages(&writes).unwrap_or_else(|_| {
        writes
            .iter()
            .map(|w| {
                store
                    .write_pages(std::slice::from_ref(w))
                    .and_then(|mut r| r.remove(0))
            })
            .collect()
    })
}

fn report(progress: &Option<ProgressFn>, t: &Target, w: &Written) {
    if let (Some(p), Some(range), Some(at)) = (progress, t.range, w.reached) {
        let c = &w.counts;
        p(&Progress {
            key: t.key.clone(),
            range,
            reached: at,
            position: position(at, w.window),
            rows: (c.rows_inserted + c.rows_updated + c.rows_unchanged) as u64,
        });
    }
}

/// How far the reading has got: `reached`, or, inside a window whose record
/// count the vendor gave, as far into its time as its records written are
/// into that count (an estimate: records are not spread evenly).
fn position(reached: DateTime<Utc>, window: Option<(Window, Option<u64>, u64)>) -> DateTime<Utc> {
    match window {
        Some((w, Some(total), n)) if total > 0 && w.to > reached && w.from >= reached => {
            let share = (n as f64 / total as f64).min(1.0);
            let span = (w.to - w.from).num_milliseconds() as f64;
            w.from + chrono::Duration::milliseconds((span * share) as i64)
        }
        _ => reached,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn inside_a_counted_window_the_position_follows_the_records_written() {
        let w = Window::new(at("2026-11-01T00:00:00Z"), at("2026-11-02T00:00:00Z"));
        let reached = w.from;
        assert_eq!(
            position(reached, Some((w, Some(400), 100))),
            at("2026-11-01T06:00:00Z")
        );
        assert_eq!(position(reached, Some((w, Some(400), 900))), w.to);
        // No count, a zero count, or a window already behind: what is reached.
        assert_eq!(position(reached, Some((w, None, 100))), reached);
        assert_eq!(position(reached, Some((w, Some(0), 0))), reached);
        assert_eq!(position(w.to, Some((w, Some(400), 400))), w.to);
        assert_eq!(position(reached, None), reached);
    }
}
