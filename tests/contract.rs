//! One contract for every registered vendor: each case below runs for Gong and
//! for Genesys through the same trait (`contract/vendors.rs`), against the
//! simulator over loopback into a real SQLite file, compared with the
//! simulator's ground truth exactly. A new vendor adds an impl there and one
//! `contract_for!` line here. Vendor-specific behaviour stays in the vendors'
//! own test files.

mod common;
#[path = "contract/vendors.rs"]
mod vendors;

use auditmirror::connector::Window;
use auditmirror::http::Policy;
use auditmirror::simulator::faults::Faults;
use auditmirror::simulator::LateEvents;
use auditmirror::streams::Selector;
use auditmirror::sync::{Outcome, Range, Report};
use common::process::{last_stderr_line, rewrite_config, run_bin, sync_then_sigkill, text};
use common::*;
use std::time::{Duration, Instant};
use vendors::Vendor;

fn ok(reports: &[Report]) {
    for r in reports {
        assert_eq!(r.outcome, Outcome::Success, "{r}");
    }
}

async fn sync<V: Vendor>(env: &Env, policy: &Policy) -> Vec<Report> {
    let reports = env
        .run(Selector::default(), Range::Incremental, policy)
        .await;
    assert_eq!(reports.len(), V::STREAMS, "one report per stream");
    reports
}

async fn paging_across_pages_equals_the_truth<V: Vendor>() {
    let env = V::env(V::data(101, 2, 700), "").await;
    let reports = sync::<V>(&env, &Policy::default()).await;
    ok(&reports);
    assert_rows_equal(V::NAME, &V::mirror(&env), &V::truth(&env));
    let pages: i64 = reports.iter().map(|r| r.counts.pages).sum();
    assert!(pages > 2 * V::STREAMS as i64, "{pages} pages: no paging");
}

async fn an_empty_window_reads_as_empty<V: Vendor>() {
    let env = V::env(V::data(102, 2, 500), "").await;
    // The day before the simulator's data begins.
    let (origin, _) = env.span();
    let before = Window::new(origin - chrono::Duration::days(1), origin);
    let reports = env
        .run(
            Selector::default(),
            Range::Bounded(before),
            &Policy::default(),
        )
        .await;
    ok(&reports);
    for r in &reports {
        assert_eq!(r.counts.rows_inserted + r.counts.rows_rejected, 0, "{r}");
        assert!(r.counts.requests >= 1, "{r}");
    }
    assert!(V::mirror(&env).is_empty());
    // A sync after it reads everything.
    ok(&sync::<V>(&env, &Policy::default()).await);
    assert_rows_equal(V::NAME, &V::mirror(&env), &V::truth(&env));
}

async fn a_429_with_retry_after_is_waited_out<V: Vendor>() {
    let env = V::env(V::data(103, 2, 700), V::ONE_STREAM).await;
    Faults::set(&env.sim.faults().http_429_every, 5);
    let started = Instant::now();
    let sel = Selector::default();
    let reports = env.run(sel, Range::Incremental, &quick_policy()).await;
    let took = started.elapsed();
    ok(&reports);
    let (from, to) = env.span();
    assert_rows_equal(
        V::NAME,
        &V::mirror(&env),
        &V::one_stream_truth(&env, from, to),
    );
    let s = env.sim.stats();
    let retries: i64 = reports.iter().map(|r| r.counts.retries).sum();
    assert!(s.injected_429 >= 2, "{s:?}");
    assert_eq!(retries as u64, s.injected_429, "one retry per 429: {s:?}");
    // Each `Retry-After: 1` is waited out, not replaced by the quick backoff.
    let waited = Duration::from_millis(950 * s.injected_429);
    assert!(took >= waited, "{took:?} for {} 429s", s.injected_429);
}

async fn a_truncated_body_is_read_again<V: Vendor>() {
    let env = V::env(V::data(111, 1, 900), "").await;
    Faults::set(&env.sim.faults().truncate_every, 4);
    let reports = sync::<V>(&env, &quick_policy()).await;
    ok(&reports);
    assert_rows_equal(V::NAME, &V::mirror(&env), &V::truth(&env));
    let s = env.sim.stats();
    let retries: i64 = reports.iter().map(|r| r.counts.retries).sum();
    assert!(s.truncated >= 2, "{s:?}");
    assert_eq!(retries as u64, s.truncated, "{s:?}");
}

async fn a_burst_of_server_errors_is_retried<V: Vendor>() {
    let env = V::env(V::data(104, 1, 600), "").await;
    let f = env.sim.faults();
    Faults::set(&f.http_5xx_every, 9);
    Faults::set(&f.http_5xx_burst, 3);
    let reports = sync::<V>(&env, &quick_policy()).await;
    ok(&reports);
    assert_rows_equal(V::NAME, &V::mirror(&env), &V::truth(&env));
    let s = env.sim.stats();
    let retries: i64 = reports.iter().map(|r| r.counts.retries).sum();
    assert!(s.injected_5xx >= 3, "{s:?}");
    assert_eq!(retries as u64, s.injected_5xx, "{s:?}");
}

async fn a_malformed_record_is_rejected_and_the_rest_lands<V: Vendor>() {
    let mut cfg = V::data(105, 2, 500);
    cfg.malformed_every = 40;
    let env = V::env(cfg, "").await;
    let reports = sync::<V>(&env, &Policy::default()).await;
    ok(&reports);
    assert_rows_equal(V::NAME, &V::mirror(&env), &V::truth(&env));
    let malformed = V::malformed(&env);
    assert!(malformed > 0);
    let rejected = |env: &Env| count(&env.db, "SELECT count(*) FROM rejected_records") as usize;
    assert_eq!(rejected(&env), malformed);
    let counted: i64 = reports.iter().map(|r| r.counts.rows_rejected).sum();
    assert_eq!(counted as usize, malformed);
    let reasons = count(
        &env.db,
        "SELECT count(*) FROM rejected_records WHERE reason <> ''",
    );
    assert_eq!(reasons as usize, malformed, "every reject says why");
    // Reading the whole range again keeps one copy of each.
    let (from, to) = env.span();
    let again = Window::new(from, to);
    ok(&env
        .run(
            Selector::default(),
            Range::Bounded(again),
            &Policy::default(),
        )
        .await);
    assert_eq!(rejected(&env), malformed);
}

async fn an_expired_cursor_is_survived<V: Vendor>() {
    let env = V::env(V::data(106, 1, 1500), "").await;
    Faults::set(&env.sim.faults().expire_next_cursors, 2);
    ok(&sync::<V>(&env, &quick_policy()).await);
    assert_rows_equal(V::NAME, &V::mirror(&env), &V::truth(&env));
    assert_eq!(env.sim.stats().expired_cursors, 2);
}

async fn a_rerun_writes_nothing<V: Vendor>() {
    let env = V::env(V::data(107, 2, 400), "").await;
    ok(&sync::<V>(&env, &Policy::default()).await);
    let before = V::stamps(&env);
    let again = sync::<V>(&env, &Policy::default()).await;
    ok(&again);
    for r in &again {
        assert_eq!(
            (r.counts.rows_inserted, r.counts.rows_updated),
            (0, 0),
            "{r}"
        );
    }
    assert_eq!(V::stamps(&env), before, "a second sync touched rows");
    assert_rows_equal(V::NAME, &V::mirror(&env), &V::truth(&env));
}

async fn late_events_within_the_lookback_arrive_on_the_next_run<V: Vendor>() {
    let mut cfg = V::data(108, 1, 0);
    cfg.gong_per_day = 864_000; // ten a second
    cfg.genesys_per_day = 864_000;
    cfg.end = None; // events keep arriving
    cfg.origin = auditmirror::clock::now() - chrono::Duration::minutes(5);
    cfg.late = Some(LateEvents {
        fraction: 0.3,
        delay: Duration::from_secs(2),
    });
    let env = V::env(cfg, &format!("lookback = \"1m\"\n{}", V::ONE_STREAM)).await;
    let watermark = |env: &Env| {
        let w: String = pairs(&env.db, "SELECT 'w', max(watermark) FROM sync_state")["w"].clone();
        auditmirror::time::parse_stored(&w).unwrap()
    };
    env.sync_ok().await;
    let (w1, first) = (watermark(&env), V::mirror(&env));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    env.sync_ok().await;
    let (w2, second) = (watermark(&env), V::mirror(&env));
    let (origin, _) = env.span();
    // Everything up to the first watermark is there now, late events included.
    let truth_w1 = V::one_stream_truth(&env, origin, w1);
    let late = truth_w1.keys().filter(|k| !first.contains_key(*k)).count();
    assert!(late > 0, "no event arrived late");
    assert!(
        truth_w1.iter().all(|(k, v)| second.get(k) == Some(v)),
        "late events inside the lookback are missing"
    );
    // New events after the first watermark arrived, and nothing else.
    let truth_w2 = V::one_stream_truth(&env, origin, w2);
    assert!(second.len() > truth_w1.len());
    assert!(
        second.keys().all(|k| truth_w2.contains_key(k)),
        "rows never served"
    );
}

async fn sigkill_at_random_moments_then_rerun_equals_truth<V: Vendor>() {
    let seed: u64 = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_260_101);
    let mut rng = fastrand::Rng::with_seed(seed);
    let (days, per_day) = V::KILL_DATA;
    let cfg = V::data(seed, days, per_day);
    // One run without a kill: the truth, and how long a whole sync takes on
    // this machine now, so that kills land during runs however loaded it is.
    let env = V::env(cfg.clone(), "").await;
    let truth = V::truth(&env);
    let (out, whole) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_rows_equal("the run without a kill", &V::mirror(&env), &truth);
    let span = (whole.as_millis() as u64 * 9 / 10).max(60);
    let mut interrupted = 0;
    for i in 0..20 {
        let env = V::env(cfg.clone(), "").await;
        // Four very early kills (start-up, migrations, first requests), the rest
        // uniformly over a run.
        let delay = if i < 4 {
            rng.u64(5..=50)
        } else {
            rng.u64(5..=span)
        };
        let ctx = format!(
            "{} KILL_SEED={seed} iteration {i} (kill at {delay} ms)",
            V::NAME
        );
        interrupted += u32::from(sync_then_sigkill(&env.config, delay, &ctx).await);
        let rows_at_kill = count_if_any(&env.db, V::TABLE);
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
            V::STREAMS,
            "{ctx}\n{stdout}"
        );
        assert_rows_equal(&ctx, &V::mirror(&env), &truth);
        let marked = count(&env.db, "SELECT count(watermark) FROM sync_state");
        assert_eq!(marked as usize, V::STREAMS, "{ctx}: watermarks");
        assert_status_exact(&env.db, truth.len(), &ctx);
        eprintln!(
            "{ctx}: {rows_at_kill:5} rows at the kill; re-run {:.2} s",
            took.as_secs_f64()
        );
    }
    eprintln!(
        "{}: {interrupted} of 20 kills interrupted a sync (a whole sync took {whole:?})",
        V::NAME
    );
    assert!(
        interrupted >= 10,
        "KILL_SEED={seed}: only {interrupted} of 20 kills hit a sync"
    );
}

async fn pacing_at_the_vendors_limit_makes_no_429s<V: Vendor>() {
    let mut cfg = V::data(112, 2, 2200);
    let pace = V::at_the_vendors_limit(&mut cfg);
    let env = V::env(cfg, &format!("{}\n{}", V::ONE_STREAM, pace.extra)).await;
    rewrite_config(&env, pace.key, pace.value);
    let before = env.sim.stats();
    let (out, took) = run_bin(&env.config, &["sync"]).await;
    let after = env.sim.stats();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (from, to) = env.span();
    assert_rows_equal(
        V::NAME,
        &V::mirror(&env),
        &V::one_stream_truth(&env, from, to),
    );
    let requests = (after.gong_requests + after.genesys_requests)
        - (before.gong_requests + before.genesys_requests);
    let rate = requests as f64 / took.as_secs_f64();
    eprintln!(
        "{}: {requests} requests in {took:.2?} = {rate:.3}/s ({:.1} % of {}/s); 429s: {} rate-limited, {} injected",
        V::NAME,
        rate / pace.per_second * 100.0,
        pace.per_second,
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
    assert!(
        rate >= 0.9 * pace.per_second,
        "{rate:.3}/s is under 90 % of the limit"
    );
    assert!(
        rate <= 1.05 * pace.per_second,
        "{rate:.3}/s is over the limit, yet no 429?"
    );
}

async fn bad_credentials_fail_fast_naming_the_scope<V: Vendor>() {
    let env = V::env(V::data(109, 1, 300), "").await;
    let wrong = V::break_secret(&env);
    let before = env.sim.stats();
    let (out, took) = run_bin(&env.config, &["sync"]).await;
    let after = env.sim.stats();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}\n{}",
        text(&out)
    );
    let last = last_stderr_line(&out);
    assert!(
        last.starts_with("error:") && last.contains(V::ACCOUNT) && last.contains(V::SCOPE),
        "last stderr line: {last}\n{}",
        text(&out)
    );
    assert!(
        !text(&out).contains(wrong),
        "the secret leaked\n{}",
        text(&out)
    );
    let requests = (after.gong_requests + after.genesys_requests)
        - (before.gong_requests + before.genesys_requests);
    assert!(
        (1..=V::STREAMS as u64 + 2).contains(&requests),
        "{requests} requests: a retry storm? {after:?}"
    );
    assert_eq!(count(&env.db, "SELECT count(watermark) FROM sync_state"), 0);
    assert_eq!(count_if_any(&env.db, V::TABLE), 0);
}

/// Every case of the contract, for one vendor.
macro_rules! contract_for {
    ($module:ident, $vendor:ty) => {
        mod $module {
            use super::*;
            contract_for!(@cases $vendor;
                paging_across_pages_equals_the_truth,
                an_empty_window_reads_as_empty,
                a_429_with_retry_after_is_waited_out,
                a_burst_of_server_errors_is_retried,
                a_truncated_body_is_read_again,
                a_malformed_record_is_rejected_and_the_rest_lands,
                an_expired_cursor_is_survived,
                a_rerun_writes_nothing,
                late_events_within_the_lookback_arrive_on_the_next_run,
                sigkill_at_random_moments_then_rerun_equals_truth,
                bad_credentials_fail_fast_naming_the_scope,
                pacing_at_the_vendors_limit_makes_no_429s,
            );
        }
    };
    (@cases $vendor:ty; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case::<$vendor>().await
            }
        )*
    };
}

contract_for!(gong, vendors::Gong);
contract_for!(genesys, vendors::Genesys);
