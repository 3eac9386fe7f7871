//! `auditmirror run` as a function, [`run`]: one tokio-cron-scheduler job per
//! stream (six-field cron, UTC) that never overlaps itself, with a start jitter
//! per account; READY/WATCHDOG/STATUS/RELOADING/STOPPING told to a [`Notifier`]
//! (sd_notify under systemd); a [`Control::Stop`] stops after the page in hand,
//! a [`Control::Reload`] reads the config again and keeps the old one if the new
//! one is bad. The caller (`main.rs`) turns signals into controls.

mod notify;

pub use notify::{ConfigFile, ConfigSource, Notice, Notifier, RecordingNotifier, SdNotify};

use crate::config::{Config, ConfigError};
use crate::http::Policy;
use crate::metrics::{serve, Metrics};
use crate::record::{Source, StreamKey};
use crate::store::{Store, StoreError};
use crate::streams::{self, Accounts, BuildError, Selector};
use crate::sync::{run_stream, Options, Outcome, Range, Report, Stream};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// How long runs in flight get, after SIGTERM, to write the pages they hold.
/// Well inside the promised 10 s and the unit's `TimeoutStopSec=15s`.
const STOP_GRACE: Duration = Duration::from_secs(8);
/// The most an account's start is delayed, so accounts do not fire together.
const MAX_JITTER: Duration = Duration::from_secs(5);
/// The scheduler's own heartbeat job: proof for the watchdog that it ticks.
const HEARTBEAT: &str = "* * * * * *";

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Metrics(#[from] serve::BindError),
    #[error("cannot schedule {what}: {source}")]
    Schedule {
        what: String,
        source: JobSchedulerError,
    },
}

/// What the caller tells a running daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Read the config again (SIGHUP).
    Reload,
    /// Stop: runs write the pages they hold (SIGTERM, SIGINT; `why` is logged).
    Stop { why: &'static str },
}

impl DaemonError {
    fn schedule(what: impl Into<String>) -> impl FnOnce(JobSchedulerError) -> DaemonError {
        let what = what.into();
        move |source| DaemonError::Schedule { what, source }
    }
}

/// Runs the daemon on `config` until `control` says stop (or is closed);
/// `source` is read again on each [`Control::Reload`].
pub async fn run(
    config: Config,
    source: &dyn ConfigSource,
    mut control: mpsc::Receiver<Control>,
    notifier: Arc<dyn Notifier>,
) -> Result<(), DaemonError> {
    let d = Daemon::new(notifier);
    // Bound first: a port in use is refused before anything is scheduled.
    let endpoint = match config.metrics.listen {
        Some(addr) => Some(d.serve_metrics(addr, &config).await?),
        None => None,
    };
    let sched = JobScheduler::new()
        .await
        .map_err(DaemonError::schedule("the scheduler"))?;
    d.add_heartbeat(&sched).await?;
    let mut current = d.arm(&sched, &config).await?;
    sched
        .start()
        .await
        .map_err(DaemonError::schedule("the scheduler"))?;
    tracing::info!(
        streams = current.streams,
        database = %current.db.display(),
        "scheduled {} stream(s); each syncs on its schedule (UTC)",
        current.streams
    );
    d.notify(&[Notice::Ready, Notice::Status(d.status_line())]);
    let watchdog = d
        .notifier
        .watchdog_interval()
        .map(|every| tokio::spawn(d.clone().watchdog(every)));
    let why = loop {
        match control.recv().await {
            Some(Control::Reload) => {
                let Some(new) = d.reload(&sched, source, &mut current).await else {
                    continue;
                };
                if new.metrics.listen != config.metrics.listen {
                    tracing::warn!(
                        "[metrics] listen changed; the change takes effect at the next start"
                    );
                }
                if let Some(e) = &endpoint {
                    e.set_config(Arc::new(new));
                }
            }
            Some(Control::Stop { why }) => break why,
            None => break "the controlling channel closed",
        }
    };
    d.stop(sched, why).await;
    if let Some(w) = watchdog {
        w.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// The jobs of one config, replaced as a whole by a reload.
struct Generation {
    jobs: Vec<Uuid>,
    streams: usize,
    db: PathBuf,
}

/// How a stream's last run ended, for `STATUS=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Ok,
    Skipped,
    Failed,
    Stopped,
}

impl Ended {
    fn of(outcome: &Outcome) -> Ended {
        match outcome {
            Outcome::Success => Ended::Ok,
            Outcome::Skipped { .. } | Outcome::Unavailable { .. } => Ended::Skipped,
            Outcome::Failed { .. } => Ended::Failed,
            Outcome::Stopped => Ended::Stopped,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Ended::Ok => "ok",
            Ended::Skipped => "skipped",
            Ended::Failed => "FAILED",
            Ended::Stopped => "stopped",
        }
    }
}

/// The last run of a stream, for `STATUS=`.
struct Last {
    at: DateTime<Utc>,
    ended: Ended,
    rows: i64,
}

struct Daemon {
    /// This process's lease name; one per daemon, whatever the config.
    owner: String,
    /// Cancelled on SIGTERM: runs stop fetching and write what they hold.
    cancel: CancellationToken,
    /// The runs in flight, to wait for at shutdown.
    tracker: TaskTracker,
    /// One per stream, kept across reloads: a run still going when its next
    /// tick fires (or when a reload re-creates its job) makes that tick skip.
    locks: Mutex<HashMap<StreamKey, Arc<tokio::sync::Mutex<()>>>>,
    last: Mutex<BTreeMap<String, Last>>,
    /// When the scheduler's heartbeat job last ran.
    heartbeat: Mutex<Instant>,
    /// Each account's HTTP client (pacer) and daily budget, kept across reloads
    /// so runs of the old and the new config share one rate.
    accounts: Mutex<Accounts>,
    notifier: Arc<dyn Notifier>,
    /// What every run counts, served at `[metrics] listen` if set.
    metrics: Arc<Metrics>,
}

impl Daemon {
    fn new(notifier: Arc<dyn Notifier>) -> Arc<Daemon> {
        Arc::new(Daemon {
            owner: crate::lease::owner_id(),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            locks: Mutex::new(HashMap::new()),
            last: Mutex::new(BTreeMap::new()),
            heartbeat: Mutex::new(Instant::now()),
            accounts: Mutex::new(Accounts::default()),
            notifier,
            metrics: Arc::new(Metrics::new()),
        })
    }

    /// Serves `/metrics`, `/livez` and `/readyz` on `addr` until the daemon stops.
    async fn serve_metrics(
        &self,
        addr: std::net::SocketAddr,
        config: &Config,
    ) -> Result<Arc<serve::Endpoint>, DaemonError> {
        let listener = serve::bind(addr).await?;
        let addr = listener.local_addr().unwrap_or(addr);
        let endpoint = Arc::new(serve::Endpoint::new(
            self.metrics.clone(),
            Arc::new(config.clone()),
            crate::clock::system(),
        ));
        let (e, stop) = (endpoint.clone(), self.cancel.clone());
        tokio::spawn(async move {
            if let Err(error) = serve::serve(listener, e, stop.cancelled_owned()).await {
                tracing::error!("the metrics endpoint on {addr} stopped: {error}");
            }
        });
        tracing::info!("serving /metrics, /livez and /readyz on http://{addr}");
        Ok(endpoint)
    }

    fn notify(&self, notices: &[Notice]) {
        self.notifier.notify(notices);
    }

    /// The scheduler's own job, whose ticks the watchdog checks.
    async fn add_heartbeat(self: &Arc<Self>, sched: &JobScheduler) -> Result<(), DaemonError> {
        let beat = self.clone();
        let job = Job::new_async(HEARTBEAT, move |_, _| {
            let beat = beat.clone();
            Box::pin(async move { *lock(&beat.heartbeat) = Instant::now() })
        })
        .map_err(DaemonError::schedule("the heartbeat"))?;
        sched
            .add(job)
            .await
            .map(drop)
            .map_err(DaemonError::schedule("the heartbeat"))
    }

    /// Cancels the runs (they write the pages they hold), stops the
    /// scheduler, and waits for the runs up to [`STOP_GRACE`].
    async fn stop(&self, mut sched: JobScheduler, why: &str) {
        tracing::info!("{why}: stopping; runs in progress write the pages they hold");
        self.notify(&[Notice::Stopping, Notice::Status("stopping".into())]);
        self.cancel.cancel();
        if let Err(e) = sched.shutdown().await {
            tracing::warn!("the scheduler did not shut down cleanly: {e}");
        }
        self.tracker.close();
        if tokio::time::timeout(STOP_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "runs still going after {}s; exiting anyway (what they had not written is read again by the next run)",
                STOP_GRACE.as_secs()
            );
        }
    }

    /// Builds the config's streams and schedules one job per stream.
    async fn arm(
        self: &Arc<Self>,
        sched: &JobScheduler,
        config: &Config,
    ) -> Result<Generation, DaemonError> {
        // Built on a copy: a config that fails to arm leaves the kept ones alone.
        let mut accounts = self
            .accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let streams = {
            let store = Store::open(&config.database_path)?;
            let all = Selector::default();
            streams::build_in(config, &all, &store, &Policy::default(), &mut accounts)?
        };
        let mut jitter: HashMap<(Source, String), Duration> = HashMap::new();
        let mut jobs = Vec::with_capacity(streams.len());
        for stream in &streams {
            let delay = *jitter
                .entry((stream.key.source, stream.key.account.clone()))
                .or_insert_with(|| jitter_for(&stream.settings.schedule));
            let (d, s, db) = (self.clone(), stream.clone(), config.database_path.clone());
            let job = Job::new_async(stream.settings.schedule.as_str(), move |_, _| {
                let (d, s, db) = (d.clone(), s.clone(), db.clone());
                Box::pin(async move { d.tick(s, delay, db) })
            });
            let added = match job {
                Ok(job) => sched.add(job).await,
                Err(e) => Err(e),
            };
            match added {
                Ok(id) => jobs.push(id),
                Err(e) => {
                    for id in &jobs {
                        let _ = sched.remove(id).await;
                    }
                    return Err(DaemonError::schedule(format!(
                        "{} ({})",
                        stream.key, stream.settings.schedule
                    ))(e));
                }
            }
        }
        *self.accounts.lock().unwrap_or_else(|p| p.into_inner()) = accounts;
        Ok(Generation {
            streams: jobs.len(),
            jobs,
            db: config.database_path.clone(),
        })
    }

    /// One tick of a stream's job: starts a run unless one is still going.
    fn tick(self: Arc<Self>, stream: Arc<Stream>, jitter: Duration, db: PathBuf) {
        if self.cancel.is_cancelled() {
            return;
        }
        let lock = self
            .locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(stream.key.clone())
            .or_default()
            .clone();
        let Ok(guard) = lock.try_lock_owned() else {
            tracing::info!(stream = %stream.key, "the previous run is still going; skipping this tick");
            return;
        };
        let d = self.clone();
        self.tracker.spawn(async move {
            let _guard = guard;
            tokio::select! {
                () = tokio::time::sleep(jitter) => {}
                () = d.cancel.cancelled() => return,
            }
            let opts = Options {
                owner: d.owner.clone(),
                cancel: d.cancel.clone(),
                metrics: Some(d.metrics.clone()),
                ..Options::new(db)
            };
            let report = run_stream(stream, Range::Incremental, opts).await;
            log_report(&report);
            d.finished(&report);
        });
    }

    fn finished(&self, r: &Report) {
        let c = &r.counts;
        lock(&self.last).insert(
            r.key.to_string(),
            Last {
                at: crate::clock::now(),
                ended: Ended::of(&r.outcome),
                rows: c.rows_inserted + c.rows_updated,
            },
        );
        if !self.cancel.is_cancelled() {
            self.notify(&[Notice::Status(self.status_line())]);
        }
    }

    /// `STATUS=`: how many streams are failing, and the newest run.
    fn status_line(&self) -> String {
        let last = lock(&self.last);
        let failing: Vec<&str> = last
            .iter()
            .filter(|(_, l)| l.ended == Ended::Failed)
            .map(|(k, _)| k.as_str())
            .collect();
        let Some((key, l)) = last.iter().max_by_key(|(_, l)| l.at) else {
            return "scheduled; no run yet".to_owned();
        };
        let mut s = format!(
            "last run {} {} {} ({} rows)",
            l.at.format("%H:%M:%SZ"),
            key,
            l.ended.as_str(),
            l.rows
        );
        match failing.as_slice() {
            [] => s.push_str("; no stream failing"),
            [one] => s.push_str(&format!("; failing: {one}")),
            [first, rest @ ..] => {
                s.push_str(&format!("; failing: {first} and {} more", rest.len()))
            }
        }
        s
    }

    /// A reload: a new config replaces the jobs (and is returned); a bad one
    /// changes nothing.
    async fn reload(
        self: &Arc<Self>,
        sched: &JobScheduler,
        source: &dyn ConfigSource,
        current: &mut Generation,
    ) -> Option<Config> {
        self.notify(&[Notice::Reloading]);
        let armed = match source.load() {
            Ok(config) => {
                for w in &config.warnings {
                    tracing::warn!("{w}");
                }
                self.arm(sched, &config).await.map(|g| (g, config))
            }
            Err(e) => Err(e.into()),
        };
        match armed {
            Ok((next, config)) => {
                for id in &current.jobs {
                    if let Err(e) = sched.remove(id).await {
                        tracing::warn!("cannot remove a job of the old config: {e}");
                    }
                }
                crate::logging::set_level(config.log.level.as_deref());
                tracing::info!(
                    streams = next.streams,
                    "SIGHUP: config reloaded from {}; {} stream(s) scheduled",
                    source.describe(),
                    next.streams
                );
                *current = next;
                self.notify(&[Notice::Ready, Notice::Status(self.status_line())]);
                Some(config)
            }
            Err(e) => {
                tracing::error!("SIGHUP: config not reloaded, the running one stays in force: {e}");
                self.notify(&[Notice::Ready, Notice::Status(self.status_line())]);
                None
            }
        }
    }

    /// Pings systemd's watchdog at half its interval, while the scheduler's
    /// heartbeat job keeps running.
    async fn watchdog(self: Arc<Self>, every: Duration) {
        let half = (every / 2).max(Duration::from_millis(100));
        let fresh = half.max(Duration::from_secs(3));
        let mut t = tokio::time::interval(half);
        loop {
            t.tick().await;
            let age = lock(&self.heartbeat).elapsed();
            if age <= fresh {
                self.notify(&[Notice::Watchdog]);
            } else {
                tracing::warn!(
                    age_ms = age.as_millis() as u64,
                    "the scheduler has not ticked for {age:?}; withholding the watchdog ping"
                );
            }
        }
    }
}

/// A random delay in `[0, min(5 s, a tenth of the schedule's shortest gap)]`.
fn jitter_for(schedule: &str) -> Duration {
    let cap = shortest_gap(schedule, crate::clock::now())
        .map_or(MAX_JITTER, |g| (g / 10).min(MAX_JITTER));
    cap.mul_f64(fastrand::f64())
}

/// The shortest time between the next few firings of a cron schedule.
fn shortest_gap(schedule: &str, now: DateTime<Utc>) -> Option<Duration> {
    let cron = crate::config::parse_cron(schedule).ok()?;
    let mut at = cron.find_next_occurrence(&now, false).ok()?;
    let mut gap: Option<Duration> = None;
    for _ in 0..4 {
        let next = cron.find_next_occurrence(&at, false).ok()?;
        let d = (next - at).to_std().ok()?;
        gap = Some(gap.map_or(d, |g| g.min(d)));
        at = next;
    }
    gap
}

/// One log line per run and stream, with its counts and duration.
fn log_report(r: &Report) {
    let c = &r.counts;
    let secs = format!("{:.1}", r.elapsed.as_secs_f64());
    match &r.outcome {
        Outcome::Success => tracing::info!(
            stream = %r.key,
            new = c.rows_inserted,
            updated = c.rows_updated,
            unchanged = c.rows_unchanged,
            rejected = c.rows_rejected,
            pages = c.pages,
            requests = c.requests,
            retries = c.retries,
            secs,
            "synced"
        ),
        Outcome::Skipped { holder } => tracing::info!(
            stream = %r.key,
            holder = %holder,
            "skipped: another process is syncing this stream"
        ),
        Outcome::Failed { message, .. } => tracing::warn!(
            stream = %r.key,
            requests = c.requests,
            secs,
            error = %message,
            "sync failed; the next tick tries again"
        ),
        // The engine has warned once for this run already.
        Outcome::Unavailable { reason } => tracing::debug!(
            stream = %r.key,
            reason = %reason,
            "skipped: not available on this tenant"
        ),
        Outcome::Stopped => tracing::info!(
            stream = %r.key,
            new = c.rows_inserted,
            updated = c.rows_updated,
            secs,
            "stopped before the end; the next run reads the rest"
        ),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_is_fed_only_while_the_scheduler_ticks() {
        let notes = Arc::new(RecordingNotifier::default());
        let d = Daemon::new(notes.clone());
        let dog = tokio::spawn(d.clone().watchdog(Duration::from_secs(10)));
        let pings = || notes.count(|n| *n == Notice::Watchdog);
        // Pings every 5 s while the heartbeat is fresh (here: kept fresh by hand).
        for _ in 0..3 {
            *lock(&d.heartbeat) = Instant::now();
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        let fed = pings();
        assert!(fed >= 3, "{fed} pings");
        // A scheduler that stopped ticking gets no more pings.
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(
            pings() <= fed + 1,
            "{} pings after the heartbeat stopped",
            pings()
        );
        dog.abort();
    }

    #[test]
    fn gaps_of_schedules() {
        let now = "2026-11-24T10:00:00.5Z".parse().unwrap();
        assert_eq!(
            shortest_gap("* * * * * *", now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            shortest_gap("0 */5 * * * *", now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            shortest_gap("0 0 3 * * *", now),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(shortest_gap("not cron", now), None);
    }

    #[test]
    fn jitter_is_a_tenth_of_the_gap_at_most_and_never_above_five_seconds() {
        for _ in 0..200 {
            assert!(jitter_for("* * * * * *") <= Duration::from_millis(100));
            assert!(jitter_for("0 0 * * * *") <= MAX_JITTER);
        }
    }
}
