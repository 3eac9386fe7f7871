//! Running streams: leases and plans first, then one fetching task per stream and
//! ONE writing thread for all of them (SQLite has one writer anyway; several would
//! only wait on each other's locks), joined by a bounded channel of pages.

use super::fetch::{produce, Fetched};
use super::lease::{acquire, LeaseKeeper};
use super::{plan, DailyBudget, Options, Outcome, Progress, ProgressFn, Range, Report, Stream};
use crate::connector::{ConnectorError, Page, Window};
use crate::http::{cap, Counters, ErrorClass, MAX_ERROR_BYTES};
use crate::record::StreamKey;
use crate::store::{Lease, PageWrite, RunCounts, RunKind, RunOutcome, Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Pages in flight per stream: enough that requests overlap writes and that a
/// writer that falls behind finds several pages to commit at once, few enough
/// that memory stays flat whatever the volume (256 Gong pages are about 20 MB).
/// 32 rather than 8 took the writer of a 67k-row first sync from 0.87 s to 0.80 s:
/// fetchers that rarely block on a full queue keep the writer fed.
const PAGES_PER_STREAM: usize = 32;
const MAX_PAGES_IN_FLIGHT: usize = 256;
/// The most pages one write transaction takes from the queue.
const MAX_PAGES_PER_TRANSACTION: usize = 64;

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Task(String),
}

/// Runs `f` on a blocking thread. It starts at once, not when first awaited.
fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = Result<T, RunError>> {
    let handle = tokio::task::spawn_blocking(f);
    async move { handle.await.map_err(|e| RunError::Task(e.to_string())) }
}

/// A page on its way to the writer.
pub(super) struct Msg {
    pub(super) stream: usize,
    pub(super) page: Page,
    /// Set on a window's last page: the watermark may move to this instant.
    pub(super) window_end: Option<DateTime<Utc>>,
}

/// A stream that got its lease and has something to read.
struct Ready {
    lease: Lease,
    run_id: i64,
    window: Option<Window>,
    /// Set by the writer when it can write this stream no more; its fetcher stops.
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
}

/// Runs one stream once.
pub async fn run_stream(stream: Arc<Stream>, range: Range, opts: Options) -> Report {
    let mut reports = run_all(vec![stream], range, opts).await;
    reports.pop().expect("one report per stream")
}

/// Runs the streams once, concurrently, and returns their reports in order.
pub async fn run_all(streams: Vec<Arc<Stream>>, range: Range, opts: Options) -> Vec<Report> {
    let started = Instant::now();
    let mut reports: Vec<Report> = streams
        .iter()
        .map(|s| Report {
            key: s.key.clone(),
            outcome: Outcome::Success,
            counts: RunCounts::default(),
            elapsed: Default::default(),
            range: None,
            gap: None,
        })
        .collect();
    if let Err(e) = run_inner(streams, range, &opts, &mut reports).await {
        for r in reports.iter_mut().filter(|r| r.outcome == Outcome::Success) {
            r.outcome = Outcome::Failed {
                class: None,
                message: e.to_string(),
                database: matches!(&e, RunError::Store(s) if s.is_database_fault()),
            };
        }
    }
    for r in &mut reports {
        if r.elapsed.is_zero() {
            r.elapsed = started.elapsed();
        }
    }
    reports
}

async fn run_inner(
    streams: Vec<Arc<Stream>>,
    range: Range,
    opts: &Options,
    reports: &mut [Report],
) -> Result<(), RunError> {
    let started = Instant::now();
    let kind = if matches!(range, Range::Incremental) {
        RunKind::Sync
    } else {
        RunKind::Backfill
    };
    // 1. Leases, plans and `sync_runs` rows.
    let (o, ss) = (opts.clone(), streams.clone());
    let (mut store, prepared) = blocking(move || -> Result<_, StoreError> {
        let mut store = Store::open(&o.db_path)?;
        let leases = acquire(&mut store, &ss, &o)?;
        // Once per account: its streams share one budget.
        let mut refreshed: Vec<&Arc<super::DailyBudget>> = Vec::new();
        for b in ss.iter().filter_map(|s| s.budget.as_ref()) {
            if !refreshed.iter().any(|r| Arc::ptr_eq(r, b)) {
                b.refresh(&store)?;
                refreshed.push(b);
            }
        }
        let mut out = Vec::new();
        for (s, lease) in ss.iter().zip(leases) {
            out.push(prepare(&mut store, s, lease, range, kind)?);
        }
        Ok((store, out))
    })
    .await??;
    let mut ready: Vec<Option<Ready>> = Vec::new();
    for (report, p) in reports.iter_mut().zip(prepared) {
        match p {
            Prepared::Skipped { holder } => {
                report.outcome = Outcome::Skipped { holder };
                ready.push(None);
            }
            Prepared::Ready {
                lease,
                run_id,
                plan,
            } => {
                if let Some(gap) = &plan.gap {
                    tracing::warn!(stream = %report.key, "{gap}");
                }
                report.range = plan.window;
                report.gap = plan.gap;
                let (stop, counters) = (
                    Arc::new(AtomicBool::new(false)),
                    Arc::new(Counters::default()),
                );
                ready.push(Some(Ready {
                    lease,
                    run_id,
                    window: plan.window,
                    stop,
                    counters,
                }));
            }
        }
    }
    // 2. One fetcher per stream, one writer for all.
    let active = ready
        .iter()
        .flatten()
        .filter(|r| r.window.is_some())
        .count();
    let (tx, rx) = mpsc::channel::<Msg>((PAGES_PER_STREAM * active).clamp(1, MAX_PAGES_IN_FLIGHT));
    let mut fetchers = Vec::new();
    for (i, r) in ready.iter().enumerate() {
        if let Some(Ready {
            window: Some(w),
            stop,
            counters,
            ..
        }) = r
        {
            let f = produce(
                streams[i].clone(),
                i,
                *w,
                tx.clone(),
                counters.clone(),
                stop.clone(),
            );
            let cancel = opts.cancel.clone();
            fetchers.push((
                i,
                tokio::spawn(async move {
                    // Dropping `f` drops its request in flight; pages already sent are written.
                    let end = tokio::select! {
                        biased;
                        () = cancel.cancelled() => FetchEnd::Stopped,
                        r = f => r.map_or_else(FetchEnd::Failed, FetchEnd::Done),
                    };
                    (end, Instant::now())
                }),
            ));
        }
    }
    drop(tx);
    let keeper = LeaseKeeper::start(
        opts.db_path.clone(),
        ready
            .iter()
            .flatten()
            .filter(|r| r.window.is_some())
            .map(|r| (r.lease.clone(), r.stop.clone()))
            .collect(),
        opts.lease_ttl / 3,
    );
    let writer = {
        let targets: Vec<Option<Target>> = ready
            .iter()
            .zip(&streams)
            .map(|(r, s)| {
                r.as_ref().map(|r| Target {
                    key: s.key.clone(),
                    lease: r.lease.clone(),
                    range: r.window,
                    advance: kind == RunKind::Sync,
                    budget: s.budget.clone(),
                    stop: r.stop.clone(),
                })
            })
            .collect();
        let progress = opts.progress.clone();
        // Spawned now, not when first awaited: the fetchers need it draining.
        tokio::task::spawn_blocking(move || write_pages(store, rx, targets, progress))
    };
    let mut fetched: Vec<Option<FetchEnd>> = (0..streams.len()).map(|_| None).collect();
    for (i, handle) in fetchers {
        let (result, done) = handle.await.map_err(|e| RunError::Task(e.to_string()))?;
        reports[i].elapsed = done - started;
        fetched[i] = Some(result);
    }
    let (returned, counts, write_errors) =
        writer.await.map_err(|e| RunError::Task(e.to_string()))?;
    store = returned;
    drop(keeper);
    // 3. Record each stream's outcome, and give the leases back.
    let now = Utc::now();
    for (i, r) in ready.into_iter().enumerate() {
        let Some(r) = r else { continue };
        let report = &mut reports[i];
        report.counts = counts[i];
        report.counts.requests = r.counters.requests.load(Relaxed) as i64;
        report.counts.retries = r.counters.retries.load(Relaxed) as i64;
        report.counts.token_refreshes = r.counters.token_refreshes.load(Relaxed) as i64;
        let key = report.key.clone();
        let mut stopped = false;
        let failure = match (&write_errors[i], fetched[i].take()) {
            (Some(e), _) => Some((
                None,
                cap(&e.to_string(), MAX_ERROR_BYTES),
                e.is_database_fault(),
            )),
            (None, Some(FetchEnd::Failed(e))) => Some((
                Some(e.class()),
                streams[i].redactor.for_the_record(&e.to_string()),
                false,
            )),
            (
                None,
                Some(FetchEnd::Done(Fetched {
                    services: Some(list),
                })),
            ) => {
                store.set_services(&key, &list)?;
                None
            }
            (None, Some(FetchEnd::Stopped)) => {
                stopped = true;
                None
            }
            _ => None,
        };
        match &failure {
            // Not a failure of the stream: its status stays as it was.
            None if stopped => {
                store.finish_run(r.run_id, RunOutcome::Stopped, &report.counts, Some(STOPPED))?;
                report.outcome = Outcome::Stopped;
            }
            None => {
                store.finish_run(
                    r.run_id,
                    RunOutcome::Success,
                    &report.counts,
                    report.gap.as_deref(),
                )?;
                if kind == RunKind::Sync {
                    store.record_success(&key, now)?;
                }
            }
            Some((Some(ErrorClass::Unavailable), message, _)) => {
                // Not a failure either: the tenant lacks the stream. Said once a run.
                tracing::warn!(stream = %key, "skipped: {message}");
                let why = format!("unavailable: {message}");
                store.finish_run(r.run_id, RunOutcome::Skipped, &report.counts, Some(&why))?;
                store.record_unavailable(&key, message)?;
                report.outcome = Outcome::Unavailable {
                    reason: message.clone(),
                };
            }
            Some((class, message, database)) => {
                store.finish_run(r.run_id, RunOutcome::Failed, &report.counts, Some(message))?;
                store.record_failure(&key, message, now)?;
                report.outcome = Outcome::Failed {
                    class: *class,
                    message: message.clone(),
                    database: *database,
                };
            }
        }
        store.release_lease(&r.lease)?;
    }
    Ok(())
}

/// The `sync_runs.error` of a run stopped by a signal.
const STOPPED: &str =
    "stopped: the process was asked to stop before the run finished; the next run reads the rest";

/// How a fetcher ended.
enum FetchEnd {
    Done(Fetched),
    Failed(ConnectorError),
    /// Cancelled by `Options::cancel`.
    Stopped,
}

enum Prepared {
    Skipped {
        holder: String,
    },
    Ready {
        lease: Lease,
        run_id: i64,
        plan: super::Plan,
    },
}

fn prepare(
    store: &mut Store,
    s: &Stream,
    lease: Result<Lease, String>,
    range: Range,
    kind: RunKind,
) -> Result<Prepared, StoreError> {
    let lease = match lease {
        Ok(lease) => lease,
        Err(holder) => {
            let run = store.begin_run(&s.key, kind, None)?;
            store.finish_run(
                run,
                RunOutcome::Skipped,
                &RunCounts::default(),
                Some(&format!("skipped: {holder} is syncing this stream")),
            )?;
            return Ok(Prepared::Skipped { holder });
        }
    };
    if store.close_interrupted_runs(&s.key)? > 0 {
        tracing::warn!(stream = %s.key, "an earlier run was interrupted (killed or crashed); reading its range again");
    }
    let plan = plan(
        range,
        store.watermark(&s.key)?,
        &s.settings,
        s.retention,
        Utc::now(),
    );
    let run_id = store.begin_run(&s.key, kind, plan.window.map(|w| (w.from, w.to)))?;
    Ok(Prepared::Ready {
        lease,
        run_id,
        plan,
    })
}

/// Where the writer puts one stream's pages.
struct Target {
    key: StreamKey,
    lease: Lease,
    range: Option<Window>,
    advance: bool,
    budget: Option<Arc<DailyBudget>>,
    stop: Arc<AtomicBool>,
}

type Written = (Store, Vec<RunCounts>, Vec<Option<StoreError>>);

/// The writing side: one transaction per page, on one blocking thread.
fn write_pages(
    mut store: Store,
    mut rx: mpsc::Receiver<Msg>,
    targets: Vec<Option<Target>>,
    progress: Option<ProgressFn>,
) -> Written {
    let mut counts = vec![RunCounts::default(); targets.len()];
    let mut errors: Vec<Option<StoreError>> = (0..targets.len()).map(|_| None).collect();
    let mut reached: Vec<Option<DateTime<Utc>>> = targets
        .iter()
        .map(|t| t.as_ref().and_then(|t| t.range).map(|r| r.from))
        .collect();
    let mut batch: Vec<Msg> = Vec::with_capacity(MAX_PAGES_PER_TRANSACTION);
    while let Some(first) = rx.blocking_recv() {
        // The pages already waiting go in the same transaction: a writer that
        // keeps up writes one page per transaction, one that falls behind
        // catches up with fewer commits (each rewrites the indexes' hot pages).
        batch.push(first);
        while batch.len() < MAX_PAGES_PER_TRANSACTION {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        batch.retain(|m| targets[m.stream].is_some() && errors[m.stream].is_none());
        let writes: Vec<PageWrite<'_>> = batch
            .iter()
            .filter_map(|m| {
                let t = targets[m.stream].as_ref()?;
                Some(PageWrite {
                    stream: &t.key,
                    rows: m.page.rows.as_rows(),
                    rejected: &m.page.rejected,
                    advance_watermark: m.window_end.filter(|_| t.advance),
                    lease: Some(&t.lease),
                })
            })
            .collect();
        // If the transaction as a whole fails, each page is tried alone, so the
        // error lands on the streams it concerns.
        let results = store.write_pages(&writes).unwrap_or_else(|_| {
            writes
                .iter()
                .map(|w| {
                    store
                        .write_pages(std::slice::from_ref(w))
                        .and_then(|mut r| r.remove(0))
                })
                .collect()
        });
        for (m, result) in batch.drain(..).zip(results) {
            let i = m.stream;
            let Some(t) = &targets[i] else { continue };
            let written = result.and_then(|c| {
                counts[i].add_page(c);
                t.budget.as_ref().map_or(Ok(()), |b| b.save(&mut store))
            });
            if let Err(e) = written {
                t.stop.store(true, Relaxed);
                errors[i].get_or_insert(e);
                continue;
            }
            if let Some(end) = m.window_end {
                reached[i] = Some(end);
            }
            if let (Some(p), Some(range), Some(at)) = (&progress, t.range, reached[i]) {
                let c = &counts[i];
                p(&Progress {
                    key: t.key.clone(),
                    range,
                    reached: at,
                    rows: (c.rows_inserted + c.rows_updated + c.rows_unchanged) as u64,
                });
            }
        }
    }
    (store, counts, errors)
}
