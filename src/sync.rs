//! The window/watermark engine, shared by both connectors: plans the range from
//! watermark, lookback, settle, start and vendor retention; fetching tasks
//! (`fetch.rs`) stream pages over a bounded channel to one writing thread
//! (`run.rs`), which commits the pages waiting in one transaction; the watermark
//! moves in the transaction of each window's last page.

use crate::config::StreamSettings;
use crate::connector::Window;
use crate::connectors::genesys::GenesysConnector;
use crate::connectors::gong::GongConnector;
use crate::http::{Budget, ErrorClass, HttpError};
use crate::record::{Source, StreamKey};
use crate::store::{RunCounts, Store, StoreError};
use crate::time::{fmt_utc, from_micros, to_micros};
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A Gong window this short is never split further, however many records it holds.
const MIN_SPLIT: chrono::Duration = chrono::Duration::seconds(2);
/// A Genesys window whose query keeps failing is halved while longer than this.
const MIN_FAILED_SPLIT: chrono::Duration = chrono::Duration::hours(1);
/// A window the vendor refuses as too long is halved while longer than this.
const MIN_REFUSED_SPLIT: chrono::Duration = chrono::Duration::minutes(1);

/// Where a stream's pages come from.
pub enum Reader {
    Gong {
        conn: Arc<GongConnector>,
        log_type: String,
    },
    /// `realtime`: the realtime endpoint instead of asynchronous queries.
    Genesys {
        conn: Arc<GenesysConnector>,
        realtime: bool,
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
    /// The account's secrets: every error text is scrubbed with it before it is
    /// logged or stored.
    pub redactor: Arc<crate::http::Redactor>,
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
    /// How long to wait for a stream whose lease another process holds before
    /// skipping it (zero: skip at once).
    pub wait: Duration,
    /// Cancelled: stop fetching, write the pages already fetched, record the run
    /// as stopped. The watermark never moves past what was written.
    pub cancel: CancellationToken,
    pub progress: Option<ProgressFn>,
}

impl Options {
    /// This process's owner id, a 2-minute lease, no waiting, no progress.
    pub fn new(db_path: PathBuf) -> Options {
        Options {
            db_path,
            owner: crate::store::lease_owner_id(),
            lease_ttl: Duration::from_secs(120),
            wait: Duration::ZERO,
            cancel: CancellationToken::new(),
            progress: None,
        }
    }
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
        /// The mirror failed (`StoreError::is_database_fault`): commands exit 3.
        database: bool,
    },
    /// Cancelled (SIGTERM) before it finished; what it fetched is written.
    Stopped,
    /// The vendor says this tenant does not have the stream (its log type or
    /// service): skipped, not failed.
    Unavailable {
        reason: String,
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
            Outcome::Stopped => write!(f, "{:44} stopped before the end ({} rows written); the next run reads the rest", self.key.to_string(), c.rows_inserted + c.rows_updated)?,
            Outcome::Failed { message, .. } => write!(f, "{:44} FAILED  {message}", self.key.to_string())?,
            Outcome::Unavailable { reason } => write!(f, "{:44} skipped {reason}", self.key.to_string())?,
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

/// Plans a run (pure: no I/O, no clock). Whatever the settings, watermark and
/// clock say, it never panics: instant arithmetic saturates at chrono's range.
pub fn plan(
    range: Range,
    watermark: Option<DateTime<Utc>>,
    s: &StreamSettings,
    retention: Option<chrono::Duration>,
    now: DateTime<Utc>,
) -> Plan {
    use crate::time::{add_signed, before, sub_signed};
    let now = from_micros(to_micros(now));
    let (mut from, to) = match range {
        Range::Incremental => {
            let from = match watermark {
                Some(w) => before(w, s.lookback),
                None => s.start.resolve(now),
            };
            (from, before(now, s.settle))
        }
        Range::Bounded(w) => (w.from, w.to.min(now)),
    };
    let mut gap = None;
    if let Some(keep) = retention {
        // A minute inside the vendor's limit, so the request is never refused.
        let floor = add_signed(sub_signed(now, keep), chrono::Duration::minutes(1));
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

    /// Catches up with what other processes spent today and saved (a manual
    /// `sync` beside the daemon, whose budget was loaded when it started).
    pub fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        let day = utc_day(Utc::now());
        let saved = store.requests_on(self.source, &self.account, &day)?;
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 != day {
            *s = (day, 0);
        }
        // What the store holds includes our saved requests; add our unsaved ones.
        s.1 = s.1.max(saved + self.unsaved.load(Relaxed));
        Ok(())
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

mod fetch;
mod lease;
mod run;
mod windows;
pub use run::{run_all, run_stream};

#[cfg(test)]
mod tests;
