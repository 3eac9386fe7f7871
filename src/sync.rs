//! The window/watermark engine, the same for every vendor: plans the range from
//! watermark, lookback, settle, start and the vendor's retention; fetching tasks
//! (`fetch.rs`, windows cut and split by `windows.rs`) stream pages over a
//! bounded channel to one writing thread (`run.rs`), which commits the pages
//! waiting in one transaction; the watermark moves in the transaction of each
//! window's last page.

use crate::clock::Clock;
use crate::config::StreamSettings;
use crate::connector::{Connector, StreamSpec, Window};
use crate::http::ErrorClass;
use crate::record::{StreamKey, Table};
use crate::store::RunCounts;
use crate::time::{fmt_utc, from_micros, to_micros};
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One stream, ready to run.
pub struct Stream {
    pub key: StreamKey,
    pub settings: StreamSettings,
    /// Its vendor's retention and window strategy.
    pub spec: StreamSpec,
    /// The vendor table its rows go to.
    pub table: &'static Table,
    /// The account's connector, shared by the account's streams.
    pub connector: Arc<dyn Connector>,
    pub budget: Option<Arc<DailyBudget>>,
    /// The account's secrets: every error text is scrubbed with it before it is
    /// logged or stored.
    pub redactor: Arc<crate::http::Redactor>,
}

/// A stream's "stop writing": set by the writer when a page cannot be written,
/// or by the lease keeper when another process took the stream over; its
/// fetcher stops, and the run is recorded as failed with the reason.
#[derive(Debug, Default)]
pub(crate) struct Halt {
    why: std::sync::OnceLock<String>,
}

impl Halt {
    /// Stops the stream; the first reason given is the one kept.
    pub(crate) fn halt(&self, why: impl Into<String>) {
        let _ = self.why.set(why.into());
    }

    pub(crate) fn halted(&self) -> bool {
        self.why.get().is_some()
    }

    pub(crate) fn reason(&self) -> Option<&str> {
        self.why.get().map(String::as_str)
    }
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
    /// Where the reading is: `reached`, or an estimate inside the window being
    /// read from the share of its records (as the vendor counted them) written.
    pub position: DateTime<Utc>,
    pub rows: u64,
}

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Settings of the engine itself.
#[derive(Clone)]
pub struct Options {
    pub db_path: PathBuf,
    /// This process's lease name (`lease::owner_id()`).
    pub owner: String,
    pub lease_ttl: Duration,
    /// How long to wait for a stream whose lease another process holds before
    /// skipping it (zero: skip at once).
    pub wait: Duration,
    /// Cancelled: stop fetching, write the pages already fetched, record the run
    /// as stopped. The watermark never moves past what was written.
    pub cancel: CancellationToken,
    pub progress: Option<ProgressFn>,
    /// Counts records, requests and runs, if set.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The time runs are planned and recorded at.
    pub clock: Arc<dyn Clock>,
}

impl Options {
    /// This process's owner id, a 2-minute lease, no waiting, no progress,
    /// the system clock.
    pub fn new(db_path: PathBuf) -> Options {
        Options {
            db_path,
            owner: crate::lease::owner_id(),
            lease_ttl: Duration::from_secs(120),
            wait: Duration::ZERO,
            cancel: CancellationToken::new(),
            progress: None,
            metrics: None,
            clock: crate::clock::system(),
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
                    fmt_utc(floor.min(to))
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

mod budget;
mod fetch;
mod lease;
mod run;
mod windows;
mod writer;
pub use budget::{DailyBudget, Tally};
pub use run::{run_all, run_stream};

#[cfg(test)]
mod tests;
