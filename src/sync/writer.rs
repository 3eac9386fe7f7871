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
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// The most pages one write transaction takes from the queue.
const MAX_PAGES_PER_TRANSACTION: usize = 64;

/// The most text (records and rejects) in pages sent and not yet written.
/// Pages differ in size a hundredfold (a Gong page holds 100 entries, a Genesys
/// one 500 larger messages), so a count of pages alone does not keep memory
/// flat. A page larger than this still goes, alone.
const MAX_BYTES_IN_FLIGHT: u32 = 12 << 20;

/// A page on its way to the writer.
pub(super) struct Msg {
    pub(super) stream: usize,
    pub(super) page: Page,
    /// Set on a window's last page: the watermark may move to this instant.
    pub(super) window_end: Option<DateTime<Utc>>,
    /// The window the page is from, and the records the vendor said it holds.
    pub(super) window: Option<(Window, Option<u64>)>,
    /// The page's share of [`MAX_BYTES_IN_FLIGHT`], given back when the writer
    /// is done with the page (the message is dropped).
    held: Option<OwnedSemaphorePermit>,
}

impl Msg {
    pub(super) fn new(
        stream: usize,
        page: Page,
        window_end: Option<DateTime<Utc>>,
        window: Option<(Window, Option<u64>)>,
    ) -> Msg {
        Msg {
            stream,
            page,
            window_end,
            window,
            held: None,
        }
    }
}

/// The fetchers' way to the writer: a channel bounded in pages, whose pages
/// are bounded in bytes too, from when they are sent until they are written.
#[derive(Clone)]
pub(super) struct Pipe {
    tx: mpsc::Sender<Msg>,
    bytes: Arc<Semaphore>,
    /// The bytes `bytes` holds when no page is in flight.
    limit: u32,
}

impl Pipe {
    /// A pipe holding at most `pages` pages (and [`MAX_BYTES_IN_FLIGHT`]).
    pub(super) fn new(pages: usize) -> (Pipe, mpsc::Receiver<Msg>) {
        Pipe::with_bytes(pages, MAX_BYTES_IN_FLIGHT)
    }

    fn with_bytes(pages: usize, bytes: u32) -> (Pipe, mpsc::Receiver<Msg>) {
        let (tx, rx) = mpsc::channel(pages);
        let limit = bytes.max(1);
        let bytes = Arc::new(Semaphore::new(limit as usize));
        (Pipe { tx, bytes, limit }, rx)
    }

    /// Sends once the page's bytes fit (a page larger than the whole bound
    /// waits for all others to be written); false if the writer is gone.
    pub(super) async fn send(&self, mut msg: Msg) -> bool {
        let want = u32::try_from(msg.page.text_len()).unwrap_or(u32::MAX);
        let want = want.clamp(1, self.limit);
        let Ok(held) = self.bytes.clone().acquire_many_owned(want).await else {
            return false;
        };
        msg.held = Some(held);
        self.tx.send(msg).await.is_ok()
    }
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
    use crate::record::Rejected;
    use std::time::Duration;

    fn page(bytes: usize) -> Msg {
        let r = Rejected {
            reason: String::new(),
            raw_payload: "x".repeat(bytes),
        };
        Msg::new(
            0,
            Page {
                rows: Vec::new(),
                rejected: vec![r],
            },
            None,
            None,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn the_pipe_holds_a_page_back_until_its_bytes_fit() {
        let (pipe, mut rx) = Pipe::with_bytes(8, 100);
        assert!(pipe.send(page(60)).await);
        let second = pipe.send(page(60));
        tokio::pin!(second);
        // Room for eight pages, not for 120 bytes: the second waits...
        let waited = tokio::time::timeout(Duration::from_secs(3600), &mut second).await;
        assert!(waited.is_err(), "sent past the byte bound");
        // ...until the writer is done with the first.
        drop(rx.recv().await);
        assert!(second.await);
        drop(rx.recv().await);
        // A page larger than the whole bound goes, alone.
        assert!(pipe.send(page(500)).await);
        drop(rx);
        assert!(!pipe.send(page(1)).await, "the writer is gone");
    }

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
