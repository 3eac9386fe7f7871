//! Genesys end to end through the real binary, as a separate process: SIGKILL at
//! random moments then a re-run, pacing under a per-minute limit, a 429 with
//! `Retry-After`, and a wrong client secret.

mod common;

use auditmirror::simulator::faults::Faults;
use auditmirror::simulator::SimConfig;
use common::process::*;
use common::*;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// `days` of Genesys data ending an hour ago.
fn data(seed: u64, days: i64, per_day: u64) -> SimConfig {
    let mut c = sim_config(seed, days, 0);
    c.genesys_per_day = per_day;
    c.transaction_polls = 0;
    c
}

/// The Genesys stream's watermark as stored.
fn watermark(db: &Path) -> Option<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT watermark FROM sync_state WHERE source = 'genesys' AND account = 'emea' AND stream = 'audits'",
        [],
        |r| r.get(0),
    )
    .ok()
    .flatten()
}

/// Every message the simulator serves.
fn everything(env: &Env) -> Rows {
    let (from, to) = env.span();
    env.genesys_truth(from, to)
}

/// Panics with counts of missing, extra and changed rows unless equal.
fn assert_rows_equal(ctx: &str, mirror: &Rows, truth: &Rows) {
    if mirror != truth {
        let missing = truth.keys().filter(|k| !mirror.contains_key(*k)).count();
        let extra = mirror.keys().filter(|k| !truth.contains_key(*k)).count();
        let changed = truth
            .iter()
            .filter(|(k, v)| mirror.get(*k).is_some_and(|m| m != *v))
            .count();
        panic!(
            "{ctx}: mirror {} rows, truth {}; {missing} missing, {extra} extra, {changed} changed",
            mirror.len(),
            truth.len()
        );
    }
}

/// Asserts the one stream's report line says `ok`.
fn assert_ok(ctx: &str, out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{ctx}: the run failed\n{}",
        text(out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{ctx}: one stream, one line\n{stdout}");
    let words: Vec<&str> = lines[0].split_whitespace().take(2).collect();
    assert_eq!(
        words,
        ["genesys/emea/audits", "ok"],
        "{ctx}: {}\n{}",
        lines[0],
        text(out)
    );
}

/// The kill test's data: 3 days of 3,000 messages, 9,000 in all, read in four
/// one-day windows (a transaction, a poll 200 ms later, six 500-message pages
/// each); a debug `sync` of it takes about 1.3 s on two cores. (Ten days of
/// 3,000 took 4.4 s: each window costs 0.2 s of polling plus ~75 µs a row.)
const KILL_DAYS: i64 = 3;
const KILL_PER_DAY: u64 = 3000;
/// Kill moments are drawn up to this many milliseconds after the spawn.
const KILL_SPAN_MS: u64 = 1300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_twenty_random_moments_then_rerun_equals_truth() {
    let seed: u64 = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_260_202);
    let mut rng = fastrand::Rng::with_seed(seed);
    // Every iteration serves the same data to a fresh mirror, so the truth is
    // computed once.
    let cfg = data(seed, KILL_DAYS, KILL_PER_DAY);
    let mut truth = Rows::new();
    let mut interrupted = 0;
    let started = Instant::now();
    for i in 0..20 {
        let env = Env::start_genesys(cfg.clone(), "window = \"1d\"").await;
        if i == 0 {
            truth = everything(&env);
            assert!(truth.len() > 8_000, "{} messages", truth.len());
        }
        // Four very early kills (start-up, migrations, token, first query), the
        // rest uniformly over the run.
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
        let rows_at_kill = count_if_any(&env.db, "genesys_audit_log_message");
        let (out, took) = run_bin(&env.config, &["sync"]).await;
        assert_ok(&ctx, &out);
        assert_rows_equal(&ctx, &mirror_genesys(&env.db), &truth);
        assert!(watermark(&env.db).is_some(), "{ctx}: no watermark");
        assert_eq!(
            count(&env.db, "SELECT count(*) FROM genesys_audit_log_message") as usize,
            truth.len(),
            "{ctx}"
        );
        assert_status_exact(&env.db, truth.len(), &ctx);
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
    assert!(
        interrupted >= 10,
        "KILL_SEED={seed}: only {interrupted} of 20 kills hit a running sync: make the data set larger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_300_per_minute_limit_no_429s() {
    // 50 requests per 10 s is 300 a minute, scaled down so the test takes
    // seconds; the client paces at its configured 300 a minute.
    let mut cfg = data(21, 2, 1200);
    cfg.genesys_requests_per_minute = Some(50);
    cfg.genesys_rate_window = Duration::from_secs(10);
    let env = Env::start_genesys(cfg, "window = \"2h\"").await;
    rewrite_config(&env, "requests_per_minute", "300");
    let before = env.sim.stats();
    let (out, took) = run_bin(&env.config, &["sync"]).await;
    let after = env.sim.stats();
    assert_ok("paced sync", &out);
    assert_rows_equal("paced sync", &mirror_genesys(&env.db), &everything(&env));
    let requests = after.genesys_requests - before.genesys_requests;
    let tokens = after.tokens_issued - before.tokens_issued;
    let secs = took.as_secs_f64();
    let per_minute = requests as f64 / secs * 60.0;
    eprintln!(
        "paced sync: {requests} requests ({tokens} token) in {secs:.2} s = {per_minute:.1} req/min \
         ({:.1} % of 300); 429s: {} rate-limited, {} injected",
        per_minute / 300.0 * 100.0,
        after.rate_limited,
        after.injected_429
    );
    assert!(
        requests >= 60,
        "{requests} requests: too few to measure a rate"
    );
    assert_eq!(
        (after.rate_limited, after.injected_429),
        (0, 0),
        "{after:?}"
    );
    // Token requests go through the same paced client, so they count too.
    assert!(
        per_minute >= 0.9 * 300.0,
        "{per_minute:.1} req/min is under 90 % of 300"
    );
    assert!(
        per_minute <= 300.0 * 1.05,
        "{per_minute:.1} req/min is over the limit, yet no 429?"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_honoured() {
    let env = Env::start_genesys(data(22, 2, 400), "window = \"6h\"").await;
    Faults::set(&env.sim.faults().http_429_every, 7);
    let (out, took) = run_bin(&env.config, &["sync"]).await;
    let s = env.sim.stats();
    assert_ok("sync with 429s", &out);
    assert_rows_equal(
        "sync with 429s",
        &mirror_genesys(&env.db),
        &everything(&env),
    );
    let retries = count(&env.db, "SELECT sum(retries) FROM sync_runs");
    let secs = took.as_secs_f64();
    eprintln!(
        "429 every 7th: {} requests, {} injected 429s, {retries} retries, {secs:.2} s",
        s.genesys_requests, s.injected_429
    );
    assert!(s.injected_429 >= 3, "{s:?}");
    assert_eq!(s.rate_limited, 0, "{s:?}");
    assert!(retries > 0, "no retries recorded");
    assert_eq!(retries as u64, s.injected_429, "one retry per 429: {s:?}");
    // Each 429 says `Retry-After: 1`: the client waits a second before anything else.
    assert!(
        secs >= 0.9 * s.injected_429 as f64,
        "{secs:.2} s for {} 429s with Retry-After 1: not waited out",
        s.injected_429
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_client_secret_exits_1_naming_the_account() {
    let env = Env::start_genesys(data(23, 1, 300), "").await;
    let wrong = "not-the-secret-4711";
    rewrite_config(&env, "client_secret", &format!("\"{wrong}\""));
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
        last.starts_with("error:") && last.contains("emea") && last.contains("client_secret"),
        "last stderr line: {last}\n{}",
        text(&out)
    );
    let all = format!("{}{stderr}", String::from_utf8_lossy(&out.stdout));
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("sim-client-id:{wrong}"));
    for secret in [wrong, basic.as_str()] {
        assert!(!all.contains(secret), "the secret leaked: {secret}\n{all}");
    }
    let requests = after.genesys_requests - before.genesys_requests;
    eprintln!(
        "bad client secret: exit {:?} after {took:?}, {requests} requests; {last}",
        out.status.code()
    );
    assert!(
        (1..=3).contains(&requests),
        "{requests} requests: a retry storm? {after:?}"
    );
    assert_eq!(after.tokens_issued, 0, "{after:?}");
    assert_eq!(watermark(&env.db), None);
    assert_eq!(
        count(&env.db, "SELECT count(*) FROM genesys_audit_log_message"),
        0
    );
}
