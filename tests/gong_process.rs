//! Gong end to end through the real binary, as a separate process: SIGKILL at
//! random moments then a re-run, bad credentials, a rate-limited backfill, and
//! what `sync` and `status --json` print.

mod common;

use common::process::*;
use common::*;
use std::time::{Duration, Instant};

/// The kill test's data: 8,000 entries per log type, 40,000 in all; a debug
/// `sync` of it takes about 1.2 s on two idle cores.
const KILL_DAYS: i64 = 4;
const KILL_PER_DAY: u64 = 2000;
/// Kill moments are drawn up to this many milliseconds after the spawn.
const KILL_SPAN_MS: u64 = 1200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_twenty_random_moments_then_rerun_equals_truth() {
    let seed: u64 = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_260_101);
    let mut rng = fastrand::Rng::with_seed(seed);
    // Every iteration serves the same data to a fresh mirror, so the truth is
    // computed once (it is the slow part in a debug build).
    let cfg = sim_config(seed, KILL_DAYS, KILL_PER_DAY);
    let mut truth: Vec<(&str, Rows)> = Vec::new();
    let (mut interrupted, mut total) = (0, 0);
    let started = Instant::now();
    for i in 0..20 {
        let env = Env::start(cfg.clone(), "").await;
        if i == 0 {
            truth = LOG_TYPES.iter().map(|lt| (*lt, env.truth(lt))).collect();
            total = truth.iter().map(|(_, t)| t.len()).sum();
        }
        // Four very early kills (start-up, migrations, first requests), the rest
        // uniformly over the run.
        let delay = if i < 4 {
            rng.u64(5..=50)
        } else {
            rng.u64(5..=KILL_SPAN_MS)
        };
        let ctx = format!("KILL_SEED={seed} iteration {i} (kill at {delay} ms)");
        let killed = sync_then_sigkill(&env.config, delay, &ctx).await;
        if killed {
            interrupted += 1;
        }
        let rows_at_kill = count_if_any(&env.db, "gong_audit_log_entry");
        let (out, took) = run_bin(&env.config, &["sync"]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{ctx}: the re-run failed\n{}",
            text(&out)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.matches(" ok ").count(),
            5,
            "{ctx}: the re-run did not sync all five streams\n{stdout}"
        );
        if i == 0 {
            assert_mirror_equals_truth(&env);
        }
        for (lt, truth) in &truth {
            let mirror = mirror_rows(&env.db, lt);
            if &mirror != truth {
                let missing = truth.keys().filter(|k| !mirror.contains_key(*k)).count();
                let extra = mirror.keys().filter(|k| !truth.contains_key(*k)).count();
                let changed = truth
                    .iter()
                    .filter(|(k, v)| mirror.get(*k).is_some_and(|m| m != *v))
                    .count();
                panic!("{ctx}: {lt}: mirror {} rows, truth {}; {missing} missing, {extra} extra, {changed} changed", mirror.len(), truth.len());
            }
            assert!(
                watermark(&env.db, lt).is_some(),
                "{ctx}: {lt} has no watermark"
            );
        }
        assert_eq!(
            count(&env.db, "SELECT count(*) FROM gong_audit_log_entry") as usize,
            total,
            "{ctx}"
        );
        assert_status_exact(&env.db, total, &ctx);
        let state = if killed { "interrupted" } else { "had exited" };
        eprintln!(
            "kill {i:2} at {delay:4} ms: {state}, {rows_at_kill:5} rows then; re-run {:.2} s",
            took.as_secs_f64()
        );
    }
    eprintln!(
        "{interrupted} of 20 kills interrupted a running sync; {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
    assert!(interrupted >= 10, "KILL_SEED={seed}: only {interrupted} of 20 kills hit a running sync: make the data set larger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_fail_fast_naming_account_and_scope() {
    let env = Env::start(sim_config(11, 2, 300), "").await;
    rewrite_config(&env, "access_key_secret", "\"not-the-secret\"");
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
    let last = last_stderr_line(&out);
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
    eprintln!(
        "bad credentials: exit {:?} after {took:?}, {requests} requests; {last}",
        out.status.code()
    );
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
    rewrite_config(&env, "requests_per_second", "3.0");
    let (from, to) = env.span();
    let (from, to) = (from.to_rfc3339(), to.to_rfc3339());
    let before = env.sim.stats();
    let args = [
        "backfill",
        "--from",
        &from,
        "--to",
        &to,
        "--stream",
        "UserCallPlay",
    ];
    let (out, took) = run_bin(&env.config, &args).await;
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
        requests >= 40,
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
