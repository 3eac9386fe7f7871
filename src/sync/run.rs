//! Running streams: leases and plans first, then one fetching task per stream
//! (`fetch.rs`) and ONE writing thread for all of them (`writer.rs`; SQLite has
//! one writer anyway, several would only wait on each other's locks), joined
//! by a bounded channel of pages; last, each stream's outcome is recorded.

use super::fetch::{produce, Fetched};
use super::lease::{acquire, LeaseKeeper};
use super::writer::{write_pages, Pipe, Seen, Target, Written};
use super::{plan, DailyBudget, Halt, Options, Outcome, Range, Report, Stream};
use crate::connector::{ConnectorError, Window};
use crate::http::{cap, Counters, ErrorClass, MAX_ERROR_BYTES};
use crate::store::{Lease, RunCounts, RunKind, RunOutcome, Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

/// Pages in flight per stream: enough that requests overlap writes and that a
/// writer that falls behind finds several pages to commit at once, few enough
/// that memory stays flat whatever the volume (the pipe bounds their bytes too).
/// 32 rather than 8 took the writer of a 67k-row first sync from 0.87 s to 0.80 s:
/// fetchers that rarely block on a full queue keep the writer fed.
const PAGES_PER_STREAM: usize = 32;
const MAX_PAGES_IN_FLIGHT: usize = 256;

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

/// One stream of a run, from its lease to its recorded outcome.
struct Job {
    stream: Arc<Stream>,
    report: Report,
    /// Set once the stream has its lease.
    ready: Option<Ready>,
}

/// A stream that got its lease.
struct Ready {
    lease: Lease,
    run_id: i64,
    /// What to read; `None`: nothing (the range is empty).
    window: Option<Window>,
    /// Set by the writer when it can write this stream no more; its fetcher stops.
    stop: Arc<Halt>,
    counters: Arc<Counters>,
    /// How its fetcher ended, and when.
    fetched: Option<(FetchEnd, DateTime<Utc>)>,
}

/// How a fetcher ended.
enum FetchEnd {
    Done(Fetched),
    Failed(ConnectorError),
    /// Cancelled by `Options::cancel`.
    Stopped,
}

/// Runs one stream once.
pub async fn run_stream(stream: Arc<Stream>, range: Range, opts: Options) -> Report {
    let mut reports = run_all(vec![stream], range, opts).await;
    reports.pop().expect("one report per stream")
}

/// Runs the streams once, concurrently, and returns their reports in order.
pub async fn run_all(streams: Vec<Arc<Stream>>, range: Range, opts: Options) -> Vec<Report> {
    let started = Instant::now();
    let mut jobs: Vec<Job> = streams
        .into_iter()
        .map(|stream| Job {
            report: Report {
                key: stream.key.clone(),
                outcome: Outcome::Success,
                counts: RunCounts::default(),
                elapsed: Default::default(),
                range: None,
                gap: None,
            },
            stream,
            ready: None,
        })
        .collect();
    if let Err(e) = run_inner(&mut jobs, range, &opts).await {
        let database = matches!(&e, RunError::Store(s) if s.is_database_fault());
        for j in jobs
            .iter_mut()
            .filter(|j| j.report.outcome == Outcome::Success)
        {
            j.report.outcome = Outcome::Failed {
                class: None,
                message: e.to_string(),
                database,
            };
        }
    }
    jobs.into_iter()
        .map(|mut j| {
            if j.report.elapsed.is_zero() {
                j.report.elapsed = started.elapsed();
            }
            if let Some(m) = &opts.metrics {
                m.run_ended(&j.report.key, j.report.outcome.name());
            }
            j.report
        })
        .collect()
}

async fn run_inner(jobs: &mut [Job], range: Range, opts: &Options) -> Result<(), RunError> {
    let started = Instant::now();
    let kind = match range {
        Range::Incremental => RunKind::Sync,
        Range::Bounded(_) => RunKind::Backfill,
    };
    let mut store = prepare(jobs, range, kind, opts).await?;
    // A stream with nothing to read (skipped, or its range all gap) is done
    // once planned: its time is not the run's.
    let planned = started.elapsed();
    for j in jobs.iter_mut() {
        if j.ready.as_ref().is_none_or(|r| r.window.is_none()) {
            j.report.elapsed = planned;
        }
    }
    let reading = jobs
        .iter()
        .filter_map(|j| j.ready.as_ref())
        .filter(|r| r.window.is_some());
    let capacity = (PAGES_PER_STREAM * reading.count()).clamp(1, MAX_PAGES_IN_FLIGHT);
    let (pipe, rx) = Pipe::new(capacity);
    let fetchers = spawn_fetchers(jobs, pipe, opts);
    let keeper = LeaseKeeper::start(
        opts.db_path.clone(),
        jobs.iter()
            .filter_map(|j| j.ready.as_ref().filter(|r| r.window.is_some()))
            .map(|r| (r.lease.clone(), r.stop.clone()))
            .collect(),
        opts.lease_ttl / 3,
    );
    let targets = jobs.iter().map(|j| target(j, kind)).collect();
    let seen = Seen {
        progress: opts.progress.clone(),
        metrics: opts.metrics.clone(),
        clock: opts.clock.clone(),
    };
    // Spawned now, not when first awaited: the fetchers need it draining.
    let writer = tokio::task::spawn_blocking(move || write_pages(store, rx, targets, seen));
    for (i, handle) in fetchers {
        let (end, done) = handle.await.map_err(|e| RunError::Task(e.to_string()))?;
        jobs[i].report.elapsed = done - started;
        if let Some(r) = jobs[i].ready.as_mut() {
            r.fetched = Some((end, opts.clock.now()));
        }
    }
    let (returned, written) = writer.await.map_err(|e| RunError::Task(e.to_string()))?;
    store = returned;
    drop(keeper);
    // Requests spent after the last page written (retries that failed, say)
    // are saved too, so the next process's budget counts them.
    for b in distinct_budgets(jobs) {
        b.save(&mut store)?;
    }
    let wrote = written.iter().any(|w| w.counts.rows_inserted > 0);
    for (job, w) in jobs.iter_mut().zip(written) {
        finish(&mut store, job, w, kind, opts)?;
    }
    if wrote {
        store.analyze()?;
    }
    Ok(())
}

/// Each account's budget once (an account's streams share one).
fn distinct_budgets(jobs: &[Job]) -> Vec<Arc<DailyBudget>> {
    let mut out: Vec<Arc<DailyBudget>> = Vec::new();
    for b in jobs.iter().filter_map(|j| j.stream.budget.as_ref()) {
        if !out.iter().any(|o| Arc::ptr_eq(o, b)) {
            out.push(b.clone());
        }
    }
    out
}

/// Takes the streams' leases (waiting up to `opts.wait`), refreshes each
/// account's budget once, plans each stream and opens its `sync_runs` row.
async fn prepare(
    jobs: &mut [Job],
    range: Range,
    kind: RunKind,
    opts: &Options,
) -> Result<Store, RunError> {
    let (o, streams): (Options, Vec<Arc<Stream>>) = (
        opts.clone(),
        jobs.iter().map(|j| j.stream.clone()).collect(),
    );
    let budgets = distinct_budgets(jobs);
    let (store, prepared) = blocking(move || -> Result<_, StoreError> {
        let mut store = Store::open(&o.db_path)?;
        let leases = acquire(&mut store, &streams, &o)?;
        for b in &budgets {
            b.refresh(&store)?;
        }
        let mut out = Vec::new();
        for (s, lease) in streams.iter().zip(leases) {
            out.push(prepare_one(&mut store, s, lease, range, kind, &o)?);
        }
        Ok((store, out))
    })
    .await??;
    for (job, p) in jobs.iter_mut().zip(prepared) {
        match p {
            Err(holder) => job.report.outcome = Outcome::Skipped { holder },
            Ok((lease, run_id, plan)) => {
                if let Some(gap) = &plan.gap {
                    tracing::warn!(stream = %job.report.key, "{gap}");
                }
                job.report.range = plan.window;
                job.report.gap = plan.gap;
                job.ready = Some(Ready {
                    lease,
                    run_id,
                    window: plan.window,
                    stop: Arc::new(Halt::default()),
                    counters: Arc::new(Counters::observed(
                        opts.metrics.as_ref().map(|m| m.observer(&job.report.key)),
                    )),
                    fetched: None,
                });
            }
        }
    }
    Ok(store)
}

/// One stream's lease, run row and plan; or, when another process holds the
/// stream, its name (and a `skipped` run row).
fn prepare_one(
    store: &mut Store,
    s: &Stream,
    lease: Result<Lease, String>,
    range: Range,
    kind: RunKind,
    opts: &Options,
) -> Result<Result<(Lease, i64, super::Plan), String>, StoreError> {
    let now = opts.clock.now();
    let lease = match lease {
        Ok(lease) => lease,
        Err(holder) => {
            let run = store.begin_run(&s.key, kind, None, now)?;
            let why = format!("skipped: {holder} is syncing this stream");
            store.finish_run(
                run,
                RunOutcome::Skipped,
                &RunCounts::default(),
                Some(&why),
                now,
            )?;
            return Ok(Err(holder));
        }
    };
    if store.close_interrupted_runs(&s.key)? > 0 {
        tracing::warn!(stream = %s.key, "an earlier run was interrupted (killed or crashed); reading its range again");
    }
    let watermark = store.watermark(&s.key)?;
    let plan = plan(range, watermark, &s.settings, s.spec.retention, now);
    let run_id = store.begin_run(&s.key, kind, plan.window.map(|w| (w.from, w.to)), now)?;
    Ok(Ok((lease, run_id, plan)))
}

type FetchTask = tokio::task::JoinHandle<(FetchEnd, Instant)>;

/// One fetching task per stream with something to read.
fn spawn_fetchers(jobs: &[Job], pipe: Pipe, opts: &Options) -> Vec<(usize, FetchTask)> {
    let mut out = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let Some(
            r @ Ready {
                window: Some(w), ..
            },
        ) = &job.ready
        else {
            continue;
        };
        let f = produce(
            job.stream.clone(),
            i,
            *w,
            pipe.clone(),
            r.counters.clone(),
            r.stop.clone(),
        );
        let cancel = opts.cancel.clone();
        out.push((
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
    out
}

/// Where the writer puts a job's pages; `None` for a stream without a lease.
fn target(job: &Job, kind: RunKind) -> Option<Target> {
    let r = job.ready.as_ref()?;
    Some(Target {
        key: job.stream.key.clone(),
        table: job.stream.table,
        lease: r.lease.clone(),
        range: r.window,
        advance: kind == RunKind::Sync,
        budget: job.stream.budget.clone(),
        stop: r.stop.clone(),
    })
}

/// The `sync_runs.error` of a run stopped by a signal.
const STOPPED: &str =
    "stopped: the process was asked to stop before the run finished; the next run reads the rest";

/// Records how one stream's run ended, at the stream's own end (its last
/// page written, or its fetcher done), and gives its lease back.
fn finish(
    store: &mut Store,
    job: &mut Job,
    written: Written,
    kind: RunKind,
    opts: &Options,
) -> Result<(), StoreError> {
    let Some(r) = job.ready.take() else {
        return Ok(());
    };
    let (report, stream) = (&mut job.report, &job.stream);
    report.counts = written.counts;
    report.counts.requests = r.counters.requests.load(Relaxed) as i64;
    report.counts.retries = r.counters.retries.load(Relaxed) as i64;
    report.counts.token_refreshes = r.counters.token_refreshes.load(Relaxed) as i64;
    let (fetched, fetched_at) = r.fetched.unzip();
    let at = [fetched_at, written.last_write]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or_else(|| opts.clock.now());
    let (key, c) = (&report.key, &report.counts);
    let (outcome, error) = match (written.error, fetched) {
        (Some(e), _) => Outcome::failed(
            None,
            cap(&e.to_string(), MAX_ERROR_BYTES),
            e.is_database_fault(),
        ),
        // Halted without a write error: the lease was taken over mid-run.
        (None, _) if r.stop.halted() => {
            let why = r.stop.reason().unwrap_or("stopped").to_owned();
            Outcome::failed(None, cap(&why, MAX_ERROR_BYTES), false)
        }
        (None, Some(FetchEnd::Failed(e))) => {
            let message = stream.redactor.for_the_record(&e.to_string());
            Outcome::failed(Some(e.class()), message, false)
        }
        (None, Some(FetchEnd::Stopped)) => (Outcome::Stopped, Some(STOPPED.to_owned())),
        (
            None,
            Some(FetchEnd::Done(Fetched {
                catalog: Some(list),
            })),
        ) => {
            store.set_services(key, &list)?;
            (Outcome::Success, report.gap.clone())
        }
        (None, _) => (Outcome::Success, report.gap.clone()),
    };
    match &outcome {
        Outcome::Success => {
            store.finish_run(r.run_id, RunOutcome::Success, c, error.as_deref(), at)?;
            if kind == RunKind::Sync {
                store.record_success(key, at)?;
            }
        }
        // Not a failure of the stream: its status stays as it was.
        Outcome::Stopped => {
            store.finish_run(r.run_id, RunOutcome::Stopped, c, error.as_deref(), at)?;
        }
        Outcome::Unavailable { reason } => {
            // Not a failure either: the tenant lacks the stream. Said once a run.
            tracing::warn!(stream = %key, "skipped: {reason}");
            let why = format!("unavailable: {reason}");
            store.finish_run(r.run_id, RunOutcome::Skipped, c, Some(&why), at)?;
            store.record_unavailable(key, reason)?;
        }
        Outcome::Failed { message, .. } => {
            store.finish_run(r.run_id, RunOutcome::Failed, c, Some(message), at)?;
            // A failed backfill says so in its run; the stream's own state
            // (failing since …) belongs to its incremental syncs.
            if kind == RunKind::Sync {
                store.record_failure(key, message, at)?;
            }
        }
        Outcome::Skipped { .. } => {}
    }
    report.outcome = outcome;
    store.release_lease(&r.lease)
}

impl Outcome {
    /// The outcome's one word, as metrics label it.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Failed { .. } => "failed",
            Outcome::Stopped => "stopped",
            Outcome::Unavailable { .. } => "unavailable",
        }
    }

    /// A failed run's outcome (or, when the tenant lacks the stream, an
    /// unavailable one) and the error to store.
    fn failed(
        class: Option<ErrorClass>,
        message: String,
        database: bool,
    ) -> (Outcome, Option<String>) {
        if class == Some(ErrorClass::Unavailable) {
            return (Outcome::Unavailable { reason: message }, None);
        }
        let outcome = Outcome::Failed {
            class,
            message: message.clone(),
            database,
        };
        (outcome, Some(message))
    }
}
