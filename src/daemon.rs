//! `auditmirror run`: one tokio-cron-scheduler job per stream (six-field cron,
//! UTC) that never overlaps itself, with a start jitter per account; sd_notify
//! READY/WATCHDOG/STATUS/STOPPING; SIGTERM and SIGINT stop after the page in
//! hand, SIGHUP reloads the config and keeps the old one if the new one is bad.

use crate::config::{Config, ConfigError};
use crate::http::Policy;
use crate::record::{Source, StreamKey};
use crate::store::{Store, StoreError};
use crate::streams::{self, Accounts, BuildError, Selector};
use crate::sync::{run_stream, Options, Outcome, Range, Report, Stream};
use chrono::{DateTime, Utc};
use sd_notify::NotifyState;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
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
    #[error("cannot schedule {what}: {source}")]
    Schedule {
        what: String,
        source: JobSchedulerError,
    },
    #[error("cannot listen for signals: {0}")]
    Signal(std::io::Error),
}

impl DaemonError {
    fn schedule(what: impl Into<String>) -> impl FnOnce(JobSchedulerError) -> DaemonError {
        let what = what.into();
        move |source| DaemonError::Schedule { what, source }
    }
}

/// Runs the daemon until SIGTERM or SIGINT. `config` is the already validated
/// contents of `path`, which SIGHUP reads again.
pub async fn run(path: PathBuf, config: Config) -> Result<(), DaemonError> {
    let d = Arc::new(Daemon {
        owner: crate::lease::owner_id(),
        cancel: CancellationToken::new(),
        tracker: TaskTracker::new(),
        locks: Mutex::new(HashMap::new()),
        last: Mutex::new(BTreeMap::new()),
        heartbeat: AtomicI64::new(crate::clock::now().timestamp_millis()),
        accounts: Mutex::new(Accounts::default()),
    });
    let mut sched = JobScheduler::new()
        .await
        .map_err(DaemonError::schedule("the scheduler"))?;
    let beat = d.clone();
    let heartbeat = Job::new_async(HEARTBEAT, move |_, _| {
        let beat = beat.clone();
        Box::pin(async move {
            beat.heartbeat
                .store(crate::clock::now().timestamp_millis(), Relaxed)
        })
    })
    .map_err(DaemonError::schedule("the heartbeat"))?;
    sched
        .add(heartbeat)
        .await
        .map_err(DaemonError::schedule("the heartbeat"))?;
    let mut current = d.arm(&sched, &config).await?;
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
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
    notify(&[NotifyState::Ready, NotifyState::Status(&d.status_line())]);
    let watchdog =
        sd_notify::watchdog_enabled().map(|every| tokio::spawn(d.clone().watchdog(every)));
    let signal = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => d.reload(&sched, &path, &mut current).await,
        }
    };
    tracing::info!("{signal}: stopping; runs in progress write the pages they hold");
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    d.cancel.cancel();
    if let Err(e) = sched.shutdown().await {
        tracing::warn!("the scheduler did not shut down cleanly: {e}");
    }
    d.tracker.close();
    if tokio::time::timeout(STOP_GRACE, d.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "runs still going after {}s; exiting anyway (what they had not written is read again by the next run)",
            STOP_GRACE.as_secs()
        );
    }
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

/// The last run of a stream, for `STATUS=`.
struct Last {
    at: DateTime<Utc>,
    outcome: &'static str,
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
    /// When the scheduler's heartbeat job last ran (Unix ms).
    heartbeat: AtomicI64,
    /// Each account's HTTP client (pacer) and daily budget, kept across reloads
    /// so runs of the old and the new config share one rate.
    accounts: Mutex<Accounts>,
}

impl Daemon {
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
                ..Options::new(db)
            };
            let report = run_stream(stream, Range::Incremental, opts).await;
            log_report(&report);
            d.finished(&report);
        });
    }

    fn finished(&self, r: &Report) {
        let c = &r.counts;
        let outcome = match r.outcome {
            Outcome::Success => "ok",
            Outcome::Skipped { .. } | Outcome::Unavailable { .. } => "skipped",
            Outcome::Failed { .. } => "FAILED",
            Outcome::Stopped => "stopped",
        };
        self.last.lock().unwrap_or_else(|p| p.into_inner()).insert(
            r.key.to_string(),
            Last {
                at: crate::clock::now(),
                outcome,
                rows: c.rows_inserted + c.rows_updated,
            },
        );
        if !self.cancel.is_cancelled() {
            notify(&[NotifyState::Status(&self.status_line())]);
        }
    }

    /// `STATUS=`: how many streams are failing, and the newest run.
    fn status_line(&self) -> String {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let failing: Vec<&str> = last
            .iter()
            .filter(|(_, l)| l.outcome == "FAILED")
            .map(|(k, _)| k.as_str())
            .collect();
        let Some((key, l)) = last.iter().max_by_key(|(_, l)| l.at) else {
            return "scheduled; no run yet".to_owned();
        };
        let mut s = format!(
            "last run {} {} {} ({} rows)",
            l.at.format("%H:%M:%SZ"),
            key,
            l.outcome,
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

    /// SIGHUP: a new config replaces the jobs; a bad one changes nothing.
    async fn reload(self: &Arc<Self>, sched: &JobScheduler, path: &Path, current: &mut Generation) {
        let monotonic = sd_notify::NotifyState::monotonic_usec_now().ok();
        notify(
            &[Some(NotifyState::Reloading), monotonic]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
        );
        let armed = match Config::load(path) {
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
                    path.display(),
                    next.streams
                );
                *current = next;
            }
            Err(e) => {
                tracing::error!("SIGHUP: config not reloaded, the running one stays in force: {e}")
            }
        }
        notify(&[NotifyState::Ready, NotifyState::Status(&self.status_line())]);
    }

    /// Pings systemd's watchdog at half its interval, while the scheduler's
    /// heartbeat job keeps running.
    async fn watchdog(self: Arc<Self>, every: Duration) {
        let half = (every / 2).max(Duration::from_millis(100));
        let fresh = half.max(Duration::from_secs(3));
        let mut t = tokio::time::interval(half);
        loop {
            t.tick().await;
            let age = crate::clock::now().timestamp_millis() - self.heartbeat.load(Relaxed);
            if age <= fresh.as_millis() as i64 {
                notify(&[NotifyState::Watchdog]);
            } else {
                tracing::warn!(
                    "the scheduler has not ticked for {age} ms; withholding the watchdog ping"
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
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(schedule)
        .ok()?;
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

/// Tells systemd, when it listens (`NOTIFY_SOCKET`); otherwise nothing.
fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
