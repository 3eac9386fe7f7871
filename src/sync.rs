//! The window/watermark engine of DESIGN §2, shared by both connectors: plans the
//! range from watermark, lookback, settle, start and vendor retention; a fetching
//! task streams pages over a bounded channel to a writing thread, one transaction
//! per page; the watermark moves in the transaction of each window's last page.

use crate::config::StreamSettings;
use crate::connector::{ConnectorError, Page, Window};
use crate::connectors::gong::GongConnector;
use crate::http::{Budget, Counters, ErrorClass, HttpError};
use crate::record::{Source, StreamKey};
use crate::store::{Lease, RunCounts, RunKind, RunOutcome, Store, StoreError};
use crate::time::{fmt_utc, from_micros, to_micros};
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Pages in flight between the fetching task and the writer: enough to overlap
/// the next request with this write, few enough that memory stays flat.
const CHANNEL_PAGES: usize = 2;
/// A Gong window this short is never split further, however many records it holds.
const MIN_SPLIT: chrono::Duration = chrono::Duration::seconds(2);

/// Where a stream's pages come from.
pub enum Reader {
    Gong {
        conn: Arc<GongConnector>,
        log_type: String,
    },
}

/// One stream, ready to run.
pub struct Stream {
    pub key: StreamKey,
    pub settings: StreamSettings,
    /// How long the vendor keeps this stream's events, if limited.
    pub retention: Option<chrono::Duration>,
    pub reader: Reader,
    pub budget: Option<Arc<DailyBudget>>,
}

/// What a run reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// From the watermark (less lookback) to now less settle; moves the watermark.
    Incremental,
    /// Exactly this range; the watermark stays where it is.
    Bounded(Window),
}

/// Progress of one stream, for bars and logs.
#[derive(Debug, Clone)]
pub struct Progress {
    pub key: StreamKey,
    pub range: Window,
    /// Everything before this instant has been read.
    pub reached: DateTime<Utc>,
    pub rows: u64,
}

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Settings of the engine itself.
#[derive(Clone)]
pub struct Options {
    pub db_path: PathBuf,
    /// This process's lease name (`store::lease_owner_id()`).
    pub owner: String,
    pub lease_ttl: Duration,
    pub progress: Option<ProgressFn>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    /// Another process holds the stream's lease.
    Skipped {
        holder: String,
    },
    Failed {
        class: Option<ErrorClass>,
        message: String,
    },
}

/// The result of one run of one stream.
#[derive(Debug, Clone)]
pub struct Report {
    pub key: StreamKey,
    pub outcome: Outcome,
    pub counts: RunCounts,
    pub elapsed: Duration,
    /// The range read, if any.
    pub range: Option<Window>,
    /// A range the vendor no longer keeps, if the run had to skip one.
    pub gap: Option<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.counts;
        match &self.outcome {
            Outcome::Success => write!(
                f,
                "{:44} ok      {} new, {} updated, {} unchanged, {} rejected; {} pages, {} requests, {} retries, {:.1}s",
                self.key.to_string(),
                c.rows_inserted,
                c.rows_updated,
                c.rows_unchanged,
                c.rows_rejected,
                c.pages,
                c.requests,
                c.retries,
                self.elapsed.as_secs_f64()
            )?,
            Outcome::Skipped { holder } => write!(f, "{:44} skipped {holder} is syncing this stream", self.key.to_string())?,
            Outcome::Failed { message, .. } => write!(f, "{:44} FAILED  {message}", self.key.to_string())?,
        }
        if let Some(gap) = &self.gap {
            write!(f, " ({gap})")?;
        }
        Ok(())
    }
}

/// The range a run reads, and the gap it must leave if the vendor no longer
/// keeps part of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub window: Option<Window>,
    pub gap: Option<String>,
}

/// Plans a run (pure: no I/O, no clock).
pub fn plan(
    range: Range,
    watermark: Option<DateTime<Utc>>,
    s: &StreamSettings,
    retention: Option<chrono::Duration>,
    now: DateTime<Utc>,
) -> Plan {
    let now = from_micros(to_micros(now));
    let (mut from, to) = match range {
        Range::Incremental => {
            let from = match watermark {
                Some(w) => w - crate::time::chrono_duration(s.lookback),
                None => s.start.resolve(now),
            };
            (from, now - crate::time::chrono_duration(s.settle))
        }
        Range::Bounded(w) => (w.from, w.to.min(now)),
    };
    let mut gap = None;
    if let Some(keep) = retention {
        // A minute inside the vendor's limit, so the request is never refused.
        let floor = now - keep + chrono::Duration::minutes(1);
        if from < floor {
            let lost_from = match (range, watermark) {
                (Range::Incremental, Some(w)) => (w < floor).then_some(w),
                (Range::Bounded(_), _) => Some(from),
                _ => None,
            };
            gap = lost_from.map(|f| {
                format!(
                    "gap: events from {} to {} are no longer kept by the vendor",
                    fmt_utc(f),
                    fmt_utc(floor)
                )
            });
            from = floor;
        }
    }
    Plan {
        window: (from < to).then_some(Window::new(from, to)),
        gap,
    }
}

/// A daily request budget shared by an account's streams, counted per UTC day
/// and persisted by the writer so it survives restarts.
pub struct DailyBudget {
    source: Source,
    account: String,
    limit: u64,
    state: Mutex<(String, u64)>,
    unsaved: AtomicU64,
}

fn utc_day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

impl DailyBudget {
    /// Starts from what `store` says this account already spent today.
    pub fn load(
        store: &Store,
        source: Source,
        account: &str,
        limit: u64,
    ) -> Result<DailyBudget, StoreError> {
        let day = utc_day(Utc::now());
        let used = store.requests_on(source, account, &day)?;
        Ok(DailyBudget {
            source,
            account: account.to_owned(),
            limit,
            state: Mutex::new((day, used)),
            unsaved: AtomicU64::new(0),
        })
    }

    /// Requests spent today.
    pub fn used(&self) -> u64 {
        self.state.lock().map(|s| s.1).unwrap_or(0)
    }

    fn save(&self, store: &mut Store) -> Result<(), StoreError> {
        let n = self.unsaved.swap(0, Relaxed);
        let day = self
            .state
            .lock()
            .map(|s| s.0.clone())
            .unwrap_or_else(|_| utc_day(Utc::now()));
        store
            .add_requests(self.source, &self.account, &day, n)
            .inspect_err(|_| {
                self.unsaved.fetch_add(n, Relaxed);
            })
    }
}

impl Budget for DailyBudget {
    fn spend(&self) -> Result<(), HttpError> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let today = utc_day(Utc::now());
        if s.0 != today {
            *s = (today, 0);
        }
        if s.1 >= self.limit {
            return Err(HttpError::Budget(format!(
                "{}/{}: the daily request budget of {} is spent (daily_request_budget); syncing resumes after 00:00 UTC",
                self.source, self.account, self.limit
            )));
        }
        s.1 += 1;
        self.unsaved.fetch_add(1, Relaxed);
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error("internal error: {0}")]
    Task(String),
}

struct Msg {
    page: Page,
    /// Set on a window's last page: the watermark may move to this instant.
    window_end: Option<DateTime<Utc>>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RunError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RunError::Task(e.to_string()))
}

/// Runs one stream once: lease, plan, fetch and write, record the run.
pub async fn run_stream(stream: Arc<Stream>, range: Range, opts: Options) -> Report {
    let started = Instant::now();
    let key = stream.key.clone();
    let mut report = Report {
        key: key.clone(),
        outcome: Outcome::Success,
        counts: RunCounts::default(),
        elapsed: Duration::ZERO,
        range: None,
        gap: None,
    };
    if let Err(e) = run_inner(&stream, range, &opts, &mut report).await {
        let class = match &e {
            RunError::Connector(c) => Some(c.class()),
            _ => None,
        };
        report.outcome = Outcome::Failed {
            class,
            message: e.to_string(),
        };
    }
    report.elapsed = started.elapsed();
    report
}

async fn run_inner(
    stream: &Arc<Stream>,
    range: Range,
    opts: &Options,
    report: &mut Report,
) -> Result<(), RunError> {
    let key = stream.key.clone();
    let (db, owner, ttl) = (opts.db_path.clone(), opts.owner.clone(), opts.lease_ttl);
    let k = key.clone();
    let (mut store, lease, watermark) = blocking(move || -> Result<_, StoreError> {
        let mut store = Store::open(&db)?;
        let lease = store.try_lease(&k, &owner, ttl)?;
        let watermark = store.watermark(&k)?;
        Ok((store, lease, watermark))
    })
    .await??;
    let kind = if matches!(range, Range::Incremental) {
        RunKind::Sync
    } else {
        RunKind::Backfill
    };
    let Some(lease) = lease else {
        let holder = store
            .lease_holder(&key)?
            .unwrap_or_else(|| "another process".into());
        let run = store.begin_run(&key, kind, None)?;
        store.finish_run(
            run,
            RunOutcome::Skipped,
            &RunCounts::default(),
            Some(&format!("skipped: {holder} is syncing this stream")),
        )?;
        report.outcome = Outcome::Skipped { holder };
        return Ok(());
    };
    let plan = plan(
        range,
        watermark,
        &stream.settings,
        stream.retention,
        Utc::now(),
    );
    if let Some(gap) = &plan.gap {
        tracing::warn!(stream = %key, "{gap}");
    }
    report.range = plan.window;
    report.gap = plan.gap.clone();
    let run_id = store.begin_run(&key, kind, plan.window.map(|w| (w.from, w.to)))?;
    let counters = Arc::new(Counters::default());
    let mut result: Result<(), RunError> = Ok(());
    if let Some(window) = plan.window {
        let (tx, rx) = mpsc::channel::<Msg>(CHANNEL_PAGES);
        let producer = tokio::spawn(produce(stream.clone(), window, tx, counters.clone()));
        let writer = {
            let (key, lease, budget, progress) = (
                key.clone(),
                lease.clone(),
                stream.budget.clone(),
                opts.progress.clone(),
            );
            let advance = kind == RunKind::Sync;
            blocking(move || write_pages(store, rx, key, window, advance, lease, budget, progress))
        };
        let (produced, written) = tokio::join!(producer, writer);
        let (returned, counts, write_result) = written?;
        store = returned;
        report.counts = counts;
        result = write_result.map_err(RunError::from);
        if result.is_ok() {
            result = produced
                .map_err(|e| RunError::Task(e.to_string()))?
                .map_err(RunError::from);
        }
    }
    report.counts.requests = counters.requests.load(Relaxed) as i64;
    report.counts.retries = counters.retries.load(Relaxed) as i64;
    report.counts.token_refreshes = counters.token_refreshes.load(Relaxed) as i64;
    let now = Utc::now();
    let (outcome, error) = match &result {
        Ok(()) => (RunOutcome::Success, plan.gap.clone()),
        Err(e) => (RunOutcome::Failed, Some(e.to_string())),
    };
    store.finish_run(run_id, outcome, &report.counts, error.as_deref())?;
    match &result {
        Ok(()) if kind == RunKind::Sync => store.record_success(&key, now)?,
        Ok(()) => {}
        Err(e) => store.record_failure(&key, &e.to_string(), now)?,
    }
    store.release_lease(&lease)?;
    result
}

/// Runs several streams at once (each has its own writer; SQLite serializes
/// their transactions) and returns their reports in the order given.
pub async fn run_all(streams: Vec<Arc<Stream>>, range: Range, opts: Options) -> Vec<Report> {
    let handles: Vec<_> = streams
        .into_iter()
        .map(|s| tokio::spawn(run_stream(s, range, opts.clone())))
        .collect();
    let mut reports = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(r) = h.await {
            reports.push(r);
        }
    }
    reports
}

/// The fetching side: reads the windows in time order and sends their pages.
async fn produce(
    stream: Arc<Stream>,
    range: Window,
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
) -> Result<(), ConnectorError> {
    match &stream.reader {
        Reader::Gong { conn, log_type } => {
            // Adaptive windows: ask for the whole range; halve while the first
            // page reports more than `window_records`.
            let mut todo = vec![range];
            while let Some(w) = todo.pop() {
                let mut reader = conn.open(log_type, w, &counters).await?;
                if reader.total() > stream.settings.window_records && w.len() > MIN_SPLIT {
                    let (a, b) = w.halves();
                    todo.push(b);
                    todo.push(a);
                    continue;
                }
                while let Some((page, last)) = reader.next(&counters).await? {
                    if tx
                        .send(Msg {
                            page,
                            window_end: last.then_some(w.to),
                        })
                        .await
                        .is_err()
                    {
                        return Ok(()); // the writer stopped; it reports why
                    }
                }
            }
        }
    }
    Ok(())
}

/// The writing side: one transaction per page, on a blocking thread.
#[allow(clippy::too_many_arguments)]
fn write_pages(
    mut store: Store,
    mut rx: mpsc::Receiver<Msg>,
    key: StreamKey,
    range: Window,
    advance: bool,
    lease: Lease,
    budget: Option<Arc<DailyBudget>>,
    progress: Option<ProgressFn>,
) -> (Store, RunCounts, Result<(), StoreError>) {
    let mut counts = RunCounts::default();
    let mut reached = range.from;
    while let Some(msg) = rx.blocking_recv() {
        let watermark = msg.window_end.filter(|_| advance);
        match store.write_page(
            &key,
            msg.page.rows.as_rows(),
            &msg.page.rejected,
            watermark,
            Some(&lease),
        ) {
            Ok(c) => counts.add_page(c),
            Err(e) => return (store, counts, Err(e)),
        }
        if let Some(b) = &budget {
            if let Err(e) = b.save(&mut store) {
                return (store, counts, Err(e));
            }
        }
        if let Some(end) = msg.window_end {
            reached = end;
        }
        if let Some(p) = &progress {
            p(&Progress {
                key: key.clone(),
                range,
                reached,
                rows: (counts.rows_inserted + counts.rows_updated + counts.rows_unchanged) as u64,
            });
        }
    }
    (store, counts, Ok(()))
}

#[cfg(test)]
mod tests;
