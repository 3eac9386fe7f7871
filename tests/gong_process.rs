//! Gong end to end through the real binary, as a separate process: SIGKILL at
//! random moments then a re-run, bad credentials, a rate-limited backfill, and
//! what `sync` and `status --json` print.

mod common;

use common::*;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary with `config`, as `Env::bin` builds it.
fn command(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_auditmirror"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG");
    c
}

/// Runs the binary to completion off the runtime's workers, so the simulator
/// keeps serving; returns its output and wall time.
async fn run_bin(config: &Path, args: &[&str]) -> (Output, Duration) {
    let config: PathBuf = config.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let out = command(&config, &args).output().unwrap();
        (out, started.elapsed())
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Replaces the one config line starting with `key =` by `line`.
fn rewrite_config(env: &Env, key: &str, line: &str) {
    let text = std::fs::read_to_string(&env.config).unwrap();
    let hits = text
        .lines()
        .filter(|l| l.starts_with(&format!("{key} =")))
        .count();
    assert_eq!(hits, 1, "`{key}` lines in the config:\n{text}");
    let new: Vec<&str> = text
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key} =")) {
                line
            } else {
                l
            }
        })
        .collect();
    std::fs::write(&env.config, new.join("\n") + "\n").unwrap();
}

/// Entries per log type in the kill test: a debug `sync` of all five log types
/// takes about 1.5 s on two cores.
const KILL_DAYS: i64 = 4;
const KILL_PER_DAY: u64 = 2500;
/// Kill moments are drawn up to this many milliseconds after the spawn.
const KILL_SPAN_MS: u64 = 1500;
const SIGKILL: i32 = 9;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_twenty_random_moments_then_rerun_equals_truth() {
    let seed: u64 = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_260_101);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut interrupted = 0;
    let started = Instant::now();
    for i in 0..20u64 {
        let env = Env::start(sim_config(100 + i, KILL_DAYS, KILL_PER_DAY), "").await;
        // Four very early kills (start-up, migrations, first requests), the rest
        // uniformly over the run.
        let delay = if i < 4 {
            rng.u64(5..=50)
        } else {
            rng.u64(5..=KILL_SPAN_MS)
        };
        let ctx = format!("KILL_SEED={seed} iteration {i} kill at {delay} ms");
        let mut child = command(&env.config, &["sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill().unwrap(); // SIGKILL; harmless if it already exited
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        let killed = status.signal() == Some(SIGKILL);
        if killed {
            interrupted += 1;
        } else {
            assert!(
                status.success(),
                "{ctx}: the first run ended {status:?} before the kill"
            );
        }
        let (out, took) = run_bin(&env.config, &["sync"]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{ctx}: the re-run failed\n{}",
            text(&out)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains("skipped"),
            "{ctx}: the dead process's lease was not taken over\n{stdout}"
        );
        assert_mirror_equals_truth(&env);
        let truth: usize = LOG_TYPES.iter().map(|lt| env.truth(lt).len()).sum();
        assert_eq!(
            count(&env.db, "SELECT count(*) FROM gong_audit_log_entry") as usize,
            truth,
            "{ctx}"
        );
        for lt in LOG_TYPES {
            assert!(
                watermark(&env.db, lt).is_some(),
                "{ctx}: {lt} has no watermark"
            );
        }
        eprintln!(
            "kill {i:2}: at {delay:4} ms, {}, re-run {:.2}s",
            if killed { "interrupted" } else { "after exit " },
            took.as_secs_f64()
        );
    }
    eprintln!(
        "{interrupted} of 20 kills interrupted a running sync ({:.1}s in all)",
        started.elapsed().as_secs_f64()
    );
    assert!(interrupted >= 10, "KILL_SEED={seed}: only {interrupted} of 20 kills hit a running process; the data set is too small for this machine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_fail_fast_naming_account_and_scope() {
    let env = Env::start(sim_config(11, 2, 300), "").await;
    rewrite_config(
        &env,
        "access_key_secret",
        "access_key_secret = \"not-the-secret\"",
    );
    let before = env.sim.stats();
    let (out, took) = run_bin(&env.config, &["sync"]).await;
    let after = env.sim.stats();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        took < Duration::from_secs(5),
        "took {took:?}\n{}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(
        last.starts_with("error:") && last.contains("acme") && last.contains("api:logs:read"),
        "last stderr line: {last}\n{}",
        text(&out)
    );
    assert!(
        !stderr.contains("not-the-secret"),
        "the secret leaked\n{stderr}"
    );
    let requests = after.gong_requests - before.gong_requests;
    assert!(
        (1..=5).contains(&requests),
        "{requests} requests for 5 streams: a retry storm? {after:?}"
    );
    assert_eq!(
        after.unauthorized - before.unauthorized,
        requests,
        "{after:?}"
    );
    for lt in LOG_TYPES {
        assert_eq!(watermark(&env.db, lt), None, "{lt}");
    }
    assert_eq!(
        count(&env.db, "SELECT count(*) FROM gong_audit_log_entry"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_backfill_makes_no_429s_at_over_ninety_percent_of_the_rate() {
    let mut cfg = sim_config(12, 1, 4500);
    cfg.gong_requests_per_second = Some(3.0);
    let env = Env::start(cfg, "log_types = [\"UserCallPlay\"]").await;
    rewrite_config(&env, "requests_per_second", "requests_per_second = 3.0");
    let (from, to) = env.span();
    let (from, to) = (from.to_rfc3339(), to.to_rfc3339());
    let before = env.sim.stats();
    let (out, took) = run_bin(
        &env.config,
        &[
            "backfill",
            "--from",
            &from,
            "--to",
            &to,
            "--stream",
            "UserCallPlay",
        ],
    )
    .await;
    let after = env.sim.stats();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        mirror_rows(&env.db, "UserCallPlay"),
        env.truth("UserCallPlay")
    );
    let requests = after.gong_requests - before.gong_requests;
    let secs = took.as_secs_f64();
    let rate = requests as f64 / secs;
    eprintln!(
        "rate-limited backfill: {requests} requests in {secs:.2} s = {rate:.3} req/s ({:.1} % of 3.0); 429s: {} rate-limited, {} injected",
        rate / 3.0 * 100.0,
        after.rate_limited,
        after.injected_429
    );
    assert!(
        requests >= 45,
        "{requests} requests: too few to measure a rate"
    );
    assert_eq!(
        (after.rate_limited, after.injected_429),
        (0, 0),
        "{after:?}"
    );
    assert!(rate >= 0.9 * 3.0, "{rate:.3} req/s is under 90 % of 3.0");
    assert!(
        rate <= 3.0 * 1.05,
        "{rate:.3} req/s is over the limit, yet no 429?"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_output_and_status_after_a_run() {
    let env = Env::start(sim_config(13, 2, 300), "").await;
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    for lt in LOG_TYPES {
        let key = format!("gong/acme/{lt}");
        let mine: Vec<&&str> = lines
            .iter()
            .filter(|l| l.split_whitespace().next() == Some(key.as_str()))
            .collect();
        assert_eq!(mine.len(), 1, "{key}\n{stdout}");
        assert_eq!(mine[0].split_whitespace().nth(1), Some("ok"), "{}", mine[0]);
        let new = format!("{} new,", env.truth(lt).len());
        assert!(mine[0].contains(&new), "{} should say {new}", mine[0]);
    }
    let (out, _) = run_bin(&env.config, &["status", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", text(&out)));
    let streams = json
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {json}"));
    assert_eq!(streams.len(), 5, "{json:#}");
    for lt in LOG_TYPES {
        let s = streams
            .iter()
            .find(|s| s["stream"] == lt)
            .unwrap_or_else(|| panic!("no {lt} in {json:#}"));
        assert_eq!(
            (
                s["source"].as_str(),
                s["account"].as_str(),
                s["configured"].as_bool()
            ),
            (Some("gong"), Some("acme"), Some(true)),
            "{s:#}"
        );
        let state = &s["state"];
        let mark = state["watermark"]
            .as_str()
            .unwrap_or_else(|| panic!("{lt}: no watermark in {s:#}"));
        assert_eq!(Some(mark.to_owned()), watermark(&env.db, lt));
        assert!(state["last_error"].is_null(), "{s:#}");
        assert_eq!(
            state["rows_total"].as_u64(),
            Some(env.truth(lt).len() as u64),
            "{lt}: {s:#}"
        );
        assert_eq!(state["last_run"]["outcome"], "success", "{s:#}");
    }
}
