//! `auditmirror run` as a child process against the simulator: scheduled runs
//! mirror new events, sd_notify messages on a fake `NOTIFY_SOCKET`, SIGHUP with a
//! broken config, SIGTERM mid-run, a manual `sync` beside the daemon, and Genesys
//! streams scheduled beside Gong ones.

mod common;

use auditmirror::simulator::SimConfig;
use chrono::{DateTime, Utc};
use common::process::{command, run_bin, text};
use common::{
    assert_status_exact, count, count_or_zero, mirror_rows, pairs, sim_config, truth_rows, Env,
};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EVERY_SECOND: &str = "schedule = \"* * * * * *\"";

/// The binary as a child process (`run`, or a `sync` to stop), stderr in a file.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(config: &Path, args: &[&str], envs: &[(&str, &str)]) -> Proc {
        let log = config.with_file_name(format!("{}.log", args.last().unwrap()));
        let mut cmd = command(config, args);
        cmd.envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        Proc {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: sends a signal to our own child; no memory is involved.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// Waits for `what` to appear in the log.
    async fn wait_log(&self, what: &str, ctx: &str) {
        let log = self.log.clone();
        let what_owned = what.to_owned();
        wait_until(ctx, Duration::from_secs(30), move || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains(&what_owned)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", self.stderr()));
    }

    /// SIGTERM, then the exit status and how long the exit took.
    async fn terminate(mut self) -> (ExitStatus, Duration, String) {
        self.signal(libc::SIGTERM);
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(30) {
                self.child.kill().unwrap();
                panic!("SIGTERM ignored for 30 s\n{}", self.stderr());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        (status, started.elapsed(), self.stderr())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Polls `done` every 50 ms until it holds or `limit` passes.
async fn wait_until(
    ctx: &str,
    limit: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<Duration, String> {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > limit {
            return Err(format!("{ctx}: not after {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(started.elapsed())
}

/// A fake systemd: a Unix datagram socket that records every notification.
struct Notify {
    path: PathBuf,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Notify {
    fn bind(dir: &Path) -> Notify {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock().unwrap().extend(msg.lines().map(str::to_owned));
            }
        });
        Notify { path, seen }
    }

    fn count(&self, line: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|l| *l == line)
            .count()
    }

    fn lines(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// True when the mirror holds every event the simulator served before `t`,
/// exactly as served.
fn mirrored_until(env: &Env, log_type: &str, t: DateTime<Utc>) -> bool {
    let mirror = mirror_rows(&env.db, log_type);
    truth_rows(&env.sim, log_type, env.sim.state.cfg.origin, t)
        .iter()
        .all(|(id, raw)| mirror.get(id) == Some(raw))
}

fn runs_started_after(db: &Path, stream: &str, t: DateTime<Utc>) -> i64 {
    count(
        db,
        &format!(
            "SELECT count(*) FROM sync_runs WHERE stream = '{stream}' AND account = 'acme' AND started_at > '{}'",
            auditmirror::time::fmt_utc(t)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_runs_mirror_new_events_tell_systemd_and_survive_a_bad_reload() {
    // Live data: ten new events per second and log type.
    let mut cfg = SimConfig::new(11);
    cfg.origin = auditmirror::clock::now() - chrono::Duration::minutes(2);
    cfg.gong_per_day = 864_000;
    let env = Env::start(
        cfg,
        &format!("log_types = [\"AccessLog\", \"UserActivityLog\"]\n{EVERY_SECOND}"),
    )
    .await;
    // A second account whose secret is wrong: it fails on every tick, alone.
    let good = std::fs::read_to_string(&env.config).unwrap()
        + &format!(
            "\n[[gong]]\nname = \"bad\"\nbase_url = \"{}\"\naccess_key = \"k\"\naccess_key_secret = \"wrong-secret-5150\"\nlog_types = [\"AccessLog\"]\n{EVERY_SECOND}\n",
            env.sim.base_url()
        );
    std::fs::write(&env.config, &good).unwrap();
    let notify = Notify::bind(env.dir.path());
    let daemon = Proc::spawn(
        &env.config,
        &["run"],
        &[
            ("NOTIFY_SOCKET", notify.path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    wait_until("READY=1", Duration::from_secs(30), || {
        notify.count("READY=1") == 1
    })
    .await
    .unwrap();

    // The first runs read the two minutes of history.
    let t0 = auditmirror::clock::now();
    wait_until("first sync", Duration::from_secs(30), || {
        mirrored_until(&env, "AccessLog", t0) && mirrored_until(&env, "UserActivityLog", t0)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", daemon.stderr()));

    // Events that arrived but are not mirrored yet are within three ticks of one second.
    let mut t = auditmirror::clock::now();
    wait_until("an event not mirrored yet", Duration::from_secs(10), || {
        t = auditmirror::clock::now();
        !mirrored_until(&env, "AccessLog", t)
    })
    .await
    .unwrap();
    let took = wait_until("new events", Duration::from_secs(30), || {
        mirrored_until(&env, "AccessLog", t) && mirrored_until(&env, "UserActivityLog", t)
    })
    .await
    .unwrap();
    let runs = runs_started_after(&env.db, "AccessLog", t);
    eprintln!("new events mirrored {took:?} after they arrived, by run {runs} after");
    assert!(
        runs <= 3 && took < Duration::from_secs(4),
        "new events took {took:?} and {runs} runs to arrive\n{}",
        daemon.stderr()
    );

    // The failing account failed alone, and `status` says since when.
    let (out, _) = run_bin(&env.config, &["status", "--json"]).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let state_of = |account: &str| {
        status
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["account"] == account && s["stream"] == "AccessLog")
            .unwrap()["state"]
            .clone()
    };
    let bad = state_of("bad");
    assert!(bad["failing_since"].is_string(), "{bad}");
    assert!(
        bad["last_error"].as_str().unwrap().contains("access_key"),
        "{bad}"
    );
    assert!(state_of("acme")["failing_since"].is_null());
    assert!(notify
        .lines()
        .iter()
        .any(|l| l.starts_with("STATUS=") && l.contains("failing: gong/bad/AccessLog")));

    // SIGHUP with a broken config: the error names key and line, syncing goes on.
    let broken = good.replacen(EVERY_SECOND, "schedule = \"every second\"", 1);
    let line = broken
        .lines()
        .position(|l| l.contains("every second"))
        .unwrap()
        + 1;
    std::fs::write(&env.config, &broken).unwrap();
    daemon.signal(libc::SIGHUP);
    daemon
        .wait_log("config not reloaded", "the rejected reload")
        .await;
    let log = daemon.stderr();
    assert!(
        log.contains(&format!(":{line}: gong[acme].schedule")),
        "the reload error names neither key nor line {line}:\n{log}"
    );
    assert!(notify.count("RELOADING=1") >= 1);
    let t2 = auditmirror::clock::now();
    wait_until(
        "events after the bad reload",
        Duration::from_secs(10),
        || mirrored_until(&env, "AccessLog", t2),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", daemon.stderr()));

    // A good reload takes effect: UserActivityLog is no longer scheduled.
    std::fs::write(
        &env.config,
        good.replacen("\"AccessLog\", \"UserActivityLog\"", "\"AccessLog\"", 1),
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_log("config reloaded", "the good reload").await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // a run already under way may finish
    let settled = auditmirror::clock::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(runs_started_after(&env.db, "UserActivityLog", settled), 0);
    assert!(runs_started_after(&env.db, "AccessLog", settled) >= 1);

    assert!(notify.count("WATCHDOG=1") >= 4, "{:?}", notify.lines());
    let (status, took, log) = daemon.terminate().await;
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(took < Duration::from_secs(10), "stopping took {took:?}");
    assert_eq!(notify.count("STOPPING=1"), 1);
    assert!(notify.count("STATUS=stopping") == 1);
    assert!(
        !log.contains("wrong-secret-5150"),
        "a secret reached the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_exits_promptly_and_the_next_sync_completes() {
    let env = Env::start(sim_config(21, 2, 1000), EVERY_SECOND).await;
    // Every response takes 1.5 s: SIGTERM lands with requests in flight.
    env.slow_every_response(1500);
    let daemon = Proc::spawn(&env.config, &["run"], &[]);
    first_pages(&env, &daemon).await;
    let (status, took, log) = daemon.terminate().await;
    assert!(status.success(), "exit {status:?}\n{log}");
    eprintln!("SIGTERM mid-run: exit {status:?} after {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "stopping took {took:?}\n{log}"
    );
    assert!(
        count(
            &env.db,
            "SELECT count(*) FROM sync_runs WHERE outcome = 'stopped'"
        ) >= 1
    );
    let written = count(&env.db, "SELECT count(*) FROM gong_audit_log_entry");
    assert!(
        written < 10_000,
        "the runs were not cut short: {written} rows"
    );

    env.slow_every_response(0);
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    common::assert_mirror_equals_truth(&env);
    assert_status_exact(&env.db, 10_000, "after SIGTERM and a sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_sync_waits_for_the_daemon_and_never_writes_beside_it() {
    let env = Env::start(
        sim_config(31, 1, 3000),
        &format!("log_types = [\"AccessLog\"]\n{EVERY_SECOND}"),
    )
    .await;
    // 30 pages at 200 ms: the daemon's first run lasts about six seconds.
    env.slow_every_response(200);
    let daemon = Proc::spawn(&env.config, &["--log-format", "json", "run"], &[]);
    let db = env.db.clone();
    wait_until("the daemon's run", Duration::from_secs(30), || {
        count_or_zero(
            &db,
            "SELECT count(*) FROM sync_runs WHERE outcome = 'running'",
        ) > 0
    })
    .await
    .unwrap();

    // Without --wait the manual sync skips the stream and says who holds it.
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("skipped") && stdout.contains(&format!(":{}:", daemon.child.id())),
        "{stdout}"
    );
    // With --wait it runs once the daemon's run is over.
    let (out, _) = run_bin(&env.config, &["sync", "--wait", "60s"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" ok "),
        "{}",
        text(&out)
    );
    let (status, _, log) = daemon.terminate().await;
    assert!(status.success(), "{log}");

    // No two runs that wrote overlapped in time.
    let runs: Vec<(String, String)> = pairs(
        &env.db,
        "SELECT started_at, finished_at FROM sync_runs WHERE outcome IN ('success', 'failed', 'stopped') ORDER BY started_at",
    )
    .into_iter()
    .collect();
    assert!(runs.len() >= 2, "{runs:?}");
    for w in runs.windows(2) {
        assert!(w[0].1 <= w[1].0, "runs overlap: {w:?}");
    }
    assert_eq!(
        count(
            &env.db,
            "SELECT count(*) FROM sync_runs WHERE outcome = 'running'"
        ),
        0
    );
    assert_eq!(mirror_rows(&env.db, "AccessLog"), env.truth("AccessLog"));

    // --log-format json: one JSON object per line, a run's counts as fields.
    let synced: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|v: &serde_json::Value| v["message"] == "synced")
        .collect();
    assert!(!synced.is_empty(), "{log}");
    assert_eq!(synced[0]["stream"], "gong/acme/AccessLog");
    assert!(synced.iter().any(|v| v["new"].as_i64() > Some(0)), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_manual_sync_after_the_page_in_hand() {
    let env = Env::start(sim_config(41, 1, 2000), "log_types = [\"AccessLog\"]").await;
    env.slow_every_response(300);
    let sync = Proc::spawn(&env.config, &["sync"], &[]);
    first_pages(&env, &sync).await;
    let (status, took, log) = sync.terminate().await;
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    assert!(log.contains("stopped by a signal"), "{log}");
    assert_eq!(
        count(
            &env.db,
            "SELECT count(*) FROM sync_runs WHERE outcome = 'stopped'"
        ),
        1
    );
    let written = count(&env.db, "SELECT count(*) FROM gong_audit_log_entry") as usize;
    assert!(written < 2000, "not cut short: {written} rows");
    assert_status_exact(&env.db, written, "after SIGTERM");
    // A stop is no failure: status does not call the stream failing.
    assert_eq!(
        count(
            &env.db,
            "SELECT count(*) FROM sync_state WHERE failing_since IS NOT NULL"
        ),
        0
    );

    env.slow_every_response(0);
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mirror_rows(&env.db, "AccessLog"), env.truth("AccessLog"));
}

/// Waits until `proc` has written Gong rows (the tables may not exist yet).
async fn first_pages(env: &Env, proc: &Proc) {
    let sql = "SELECT id, raw_json FROM gong_audit_log_entry LIMIT 1";
    wait_until("the first pages", Duration::from_secs(30), || {
        rows_if_any(&env.db, sql).is_some_and(|r| !r.is_empty())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", proc.stderr()));
}

/// `id → raw_json` of a table, or `None` while the daemon has not created it.
fn rows_if_any(db: &Path, sql: &str) -> Option<common::Rows> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn = rusqlite::Connection::open_with_flags(db, flags).ok()?;
    let mut stmt = conn.prepare(sql).ok()?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .ok()?
        .collect::<Result<_, _>>()
        .ok()?;
    Some(rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesys_streams_run_on_their_schedule_beside_gong_ones() {
    let mut cfg = sim_config(23, 3, 200);
    cfg.genesys_per_day = 300;
    cfg.transaction_polls = 0;
    let env = Env::start(cfg, &format!("log_types = [\"AccessLog\"]\n{EVERY_SECOND}")).await;
    let c = &env.sim.state.cfg.credentials;
    let text = std::fs::read_to_string(&env.config).unwrap()
        + &format!(
            "\n[[genesys]]\nname = \"emea\"\napi_base_url = \"{base}\"\nlogin_base_url = \"{base}\"\n\
             client_id = \"{}\"\nclient_secret = \"{}\"\nrequests_per_minute = 100000\n{EVERY_SECOND}\n",
            c.genesys_client_id,
            c.genesys_client_secret,
            base = env.sim.base_url(),
        );
    std::fs::write(&env.config, text).unwrap();
    let (from, to) = env.span();
    let genesys = env.genesys_truth(from, to);
    let gong = env.truth("AccessLog");
    assert!(!genesys.is_empty() && !gong.is_empty());
    let daemon = Proc::spawn(&env.config, &["run"], &[]);

    // Both mirrors complete, and each stream has been run again by a later tick.
    let successes = |source: &str| {
        rows_if_any(
            &env.db,
            &format!("SELECT CAST(id AS TEXT), stream FROM sync_runs WHERE source = '{source}' AND outcome = 'success'"),
        )
        .map_or(0, |r| r.len())
    };
    wait_until(
        "both sources mirrored, twice",
        Duration::from_secs(60),
        || {
            rows_if_any(
                &env.db,
                "SELECT id, raw_json FROM genesys_audit_log_message",
            )
            .as_ref()
                == Some(&genesys)
                && rows_if_any(&env.db, "SELECT id, raw_json FROM gong_audit_log_entry").as_ref()
                    == Some(&gong)
                && successes("genesys") >= 2
                && successes("gong") >= 2
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", daemon.stderr()));

    let (status, took, log) = daemon.terminate().await;
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(took < Duration::from_secs(10), "{took:?}\n{log}");
    assert!(
        log.contains("genesys/emea/audits"),
        "a line per Genesys run\n{log}"
    );
    assert_eq!(common::mirror_genesys(&env.db), genesys);
    assert_eq!(mirror_rows(&env.db, "AccessLog"), gong);
}

/// The daemon as a function, in this process: no signal, no socket, no child.
/// Its runs mirror the data, a broken reload (bad TOML, or a mirror in a
/// directory that does not exist) leaves the running config in force (and says
/// ready again), and a stop ends it with the stopping notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_as_a_function_syncs_survives_a_bad_reload_and_stops() {
    use auditmirror::daemon::{self, ConfigFile, Control, Notice, RecordingNotifier};
    let env = Env::start(sim_config(41, 1, 300), EVERY_SECOND).await;
    let notes = Arc::new(RecordingNotifier::default());
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (config, source) = (env.load_config(), ConfigFile(env.config.clone()));
    let notifier = notes.clone();
    let running = tokio::spawn(async move { daemon::run(config, &source, rx, notifier).await });
    let truth: Vec<(&str, common::Rows)> = common::LOG_TYPES
        .iter()
        .map(|lt| (*lt, env.truth(lt)))
        .collect();
    wait_until("the first runs", Duration::from_secs(60), || {
        truth.iter().all(|(lt, t)| mirror_rows(&env.db, lt) == *t)
    })
    .await
    .unwrap();
    let ready = || notes.count(|n| *n == Notice::Ready);
    assert_eq!(ready(), 1);
    let good = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(&env.config, "[[gong]\nname = ").unwrap();
    tx.send(Control::Reload).await.unwrap();
    wait_until("ready again", Duration::from_secs(10), || ready() == 2)
        .await
        .unwrap();
    // A reload to a mirror in a directory that is not there (a typo) is
    // refused like any bad config: the directory is not created.
    let typo = env.db.parent().unwrap().join("typo");
    let db = "path = \"mirror.sqlite\"";
    assert!(good.contains(db), "the config names the mirror\n{good}");
    std::fs::write(&env.config, good.replace(db, "path = \"typo/m.sqlite\"")).unwrap();
    tx.send(Control::Reload).await.unwrap();
    wait_until("ready a third time", Duration::from_secs(10), || {
        ready() == 3
    })
    .await
    .unwrap();
    assert!(!typo.exists(), "a reload created {}", typo.display());
    assert_eq!(notes.count(|n| *n == Notice::Reloading), 2);
    tx.send(Control::Stop { why: "the test" }).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .expect("stopped within the grace period")
        .unwrap();
    assert!(ended.is_ok(), "{ended:?}");
    assert_eq!(notes.count(|n| *n == Notice::Stopping), 1);
    assert_status_exact(
        &env.db,
        truth.iter().map(|(_, t)| t.len()).sum(),
        "after stop",
    );
}
