//! Gong end to end, in-process: the real engine against the simulator over
//! loopback into a real SQLite file, compared with ground truth exactly.

mod common;

use auditmirror::connector::Window;
use auditmirror::connectors::json::compact_json;
use auditmirror::http::Policy;
use auditmirror::record::Source;
use auditmirror::streams::Selector;
use auditmirror::sync::{Outcome, Range};
use common::*;

fn ok(reports: &[auditmirror::sync::Report]) {
    for r in reports {
        assert_eq!(r.outcome, Outcome::Success, "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_equals_the_truth_and_a_second_writes_nothing() {
    let env = Env::start(sim_config(1, 6, 400), "").await;
    env.sync_ok().await;
    assert_mirror_equals_truth(&env);
    // The simulator serves -08:00, +05:30 and Z offsets and ties across pages;
    // the mirror stores them all as UTC instants.
    let offsets = count(&env.db, "SELECT count(DISTINCT substr(event_time_raw, -6)) FROM gong_audit_log_entry WHERE event_time_raw NOT LIKE '%Z'");
    assert!(offsets >= 3, "{offsets}");
    let before = stamps(&env.db);
    let requests_before = env.sim.stats().gong_requests;
    let again = env.sync_ok().await;
    assert_eq!(stamps(&env.db), before, "a second sync touched rows");
    for r in &again {
        assert_eq!(
            (r.counts.rows_inserted, r.counts.rows_updated),
            (0, 0),
            "{r}"
        );
    }
    // Only the lookback is read again: one request per stream.
    assert_eq!(env.sim.stats().gong_requests - requests_before, 5);
    assert_mirror_equals_truth(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_that_is_not_utf8_is_rejected_with_its_bytes_and_the_stream_goes_on() {
    use base64::Engine as _;
    let mut cfg = sim_config(41, 2, 500);
    cfg.bad_utf8_every = 37;
    cfg.malformed_every = 50;
    let env = Env::start(cfg, "log_types = [\"UserActivityLog\", \"UserCallPlay\"]").await;
    let reports = env.sync_ok().await;
    let (from, to) = env.span();
    let mut expected = std::collections::BTreeSet::new();
    for lt in ["UserActivityLog", "UserCallPlay"] {
        assert_eq!(mirror_rows(&env.db, lt), env.truth(lt), "{lt}");
        let bad = env.sim.gong_bad_utf8(lt, from, to);
        assert!(!bad.is_empty(), "{lt}: no entry was served with a bad byte");
        assert!(bad.iter().all(|b| std::str::from_utf8(b).is_err()));
        let b64 = base64::engine::general_purpose::STANDARD;
        expected.extend(bad.iter().map(|b| (lt.to_owned(), b64.encode(b))));
        expected.extend(
            env.sim
                .gong_malformed(lt, from, to)
                .iter()
                .map(|m| (lt.to_owned(), compact_json(m))),
        );
        let mark = watermark(&env.db, lt).expect("the watermark moved");
        let mark = auditmirror::time::parse_stored(&mark).unwrap();
        assert!(
            mark >= to,
            "{lt}: watermark {mark} short of the data's end {to}"
        );
    }
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    let mut stmt = conn
        .prepare("SELECT stream, raw_payload, reason FROM rejected_records WHERE source = 'gong'")
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let got: std::collections::BTreeSet<(String, String)> = rows
        .iter()
        .map(|(s, p, _)| (s.clone(), p.clone()))
        .collect();
    assert_eq!(got.len(), rows.len(), "one row per rejected entry");
    assert_eq!(
        got, expected,
        "rejected_records holds exactly the bad and the malformed entries"
    );
    let mut not_utf8 = 0;
    for (_, payload, reason) in &rows {
        if !reason.contains("not valid UTF-8") {
            continue;
        }
        not_utf8 += 1;
        assert!(
            reason.contains("byte 0xff") && reason.contains("base64"),
            "{reason}"
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap();
        assert!(bytes.contains(&0xff), "{payload}");
    }
    let bad_total: usize = ["UserActivityLog", "UserCallPlay"]
        .iter()
        .map(|lt| env.sim.gong_bad_utf8(lt, from, to).len())
        .sum();
    assert_eq!(not_utf8, bad_total);
    let counted: i64 = reports.iter().map(|r| r.counts.rows_rejected).sum();
    assert_eq!(counted as usize, rows.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_rereads_a_past_range_and_leaves_the_watermark() {
    let env = Env::start(
        sim_config(5, 3, 600),
        "log_types = [\"UserCallPlay\", \"AccessLog\"]",
    )
    .await;
    env.sync_ok().await;
    let marks = (
        watermark(&env.db, "UserCallPlay"),
        watermark(&env.db, "AccessLog"),
    );
    let (from, to) = env.span();
    let sel = Selector {
        source: Some(Source::Gong),
        account: Some("acme".into()),
        stream: Some("UserCallPlay".into()),
    };
    let reports = env
        .run(
            sel,
            Range::Bounded(Window::new(from, from + chrono::Duration::days(1))),
            &Policy::default(),
        )
        .await;
    ok(&reports);
    assert_eq!(reports.len(), 1);
    assert!(reports[0].counts.rows_unchanged > 500, "{}", reports[0]);
    assert_eq!(
        (
            watermark(&env.db, "UserCallPlay"),
            watermark(&env.db, "AccessLog")
        ),
        marks
    );
    assert_eq!(
        count(
            &env.db,
            "SELECT count(*) FROM sync_runs WHERE kind = 'backfill'"
        ),
        1
    );
    // A backfill into an empty mirror fills exactly its range.
    let env2 = Env::start(sim_config(5, 3, 600), "log_types = [\"UserCallPlay\"]").await;
    let mid = from + chrono::Duration::hours(30);
    ok(&env2
        .run(
            Selector::default(),
            Range::Bounded(Window::new(mid, to)),
            &Policy::default(),
        )
        .await);
    assert_eq!(
        mirror_rows(&env2.db, "UserCallPlay"),
        truth_rows(&env2.sim, "UserCallPlay", mid, to)
    );
    assert_eq!(watermark(&env2.db, "UserCallPlay"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_ranges_are_split_into_windows_of_bounded_size() {
    let env = Env::start(
        sim_config(6, 4, 3000),
        "window_records = 2500\nlog_types = [\"UserCallPlay\"]",
    )
    .await;
    let reports = env.sync_ok().await;
    assert_eq!(
        mirror_rows(&env.db, "UserCallPlay"),
        env.truth("UserCallPlay")
    );
    // 12,000 entries in windows of at most 2,500: 8 windows of ~1,500 (= 15 pages),
    // plus the first pages of the ranges that were split (1 + 2 + 4).
    let pages = reports[0].counts.pages;
    assert!((120..=130).contains(&pages), "{pages} pages");
    assert_eq!(reports[0].counts.requests, pages + 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_its_lease_while_it_waits_longer_than_the_lease_lasts() {
    use auditmirror::record::StreamKey;
    use auditmirror::store::Store;
    use auditmirror::sync::Options;
    let env = Env::start(sim_config(51, 1, 300), "log_types = [\"AccessLog\"]").await;
    // Each response takes 1.5 s, longer than the 0.9 s lease below.
    env.slow_every_response(1500);
    let config = env.load_config();
    let streams = {
        let store = Store::open(&config.database_path).unwrap();
        auditmirror::streams::build(&config, &Selector::default(), &store).unwrap()
    };
    let opts = Options {
        lease_ttl: std::time::Duration::from_millis(900),
        ..Options::new(config.database_path.clone())
    };
    let run = tokio::spawn(auditmirror::sync::run_all(
        streams,
        Range::Incremental,
        opts,
    ));
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let key = StreamKey::new(Source::Gong, "acme", "AccessLog");
    let mut other = Store::open(&env.db).unwrap();
    let ttl = std::time::Duration::from_secs(60);
    assert!(
        other
            .try_lease(&key, "elsewhere:1:x", ttl)
            .unwrap()
            .is_none(),
        "the lease of a live run expired while it waited for a response"
    );
    ok(&run.await.unwrap());
    assert_eq!(mirror_rows(&env.db, "AccessLog"), env.truth("AccessLog"));
}

/// A run whose lease another process took over (here: by hand, as a process
/// on another host whose clock ran ahead might) stops, and is recorded as
/// failed naming the new holder; nothing claims the range was read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_lease_is_taken_over_fails_naming_the_holder() {
    use auditmirror::sync::Options;
    let env = Env::start(sim_config(52, 1, 300), "log_types = [\"AccessLog\"]").await;
    env.slow_every_response(700);
    let config = env.load_config();
    let streams = {
        let store = auditmirror::store::Store::open(&config.database_path).unwrap();
        auditmirror::streams::build(&config, &Selector::default(), &store).unwrap()
    };
    let opts = Options {
        lease_ttl: std::time::Duration::from_millis(600),
        ..Options::new(config.database_path.clone())
    };
    let run = tokio::spawn(auditmirror::sync::run_all(
        streams,
        Range::Incremental,
        opts,
    ));
    // Once the run holds the lease, another holder takes it.
    let held = "SELECT count(*) FROM sync_state WHERE lease_owner IS NOT NULL";
    while count_or_zero(&env.db, held) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    rusqlite::Connection::open(&env.db)
        .unwrap()
        .execute(
            "UPDATE sync_state SET lease_owner = 'elsewhere:1:x', lease_expires_at = '9999-01-01T00:00:00.000000Z'",
            [],
        )
        .unwrap();
    let reports = run.await.unwrap();
    let Outcome::Failed { message, .. } = &reports[0].outcome else {
        panic!("{}", reports[0]);
    };
    assert!(message.contains("elsewhere:1:x"), "{message}");
    let success = count(
        &env.db,
        "SELECT count(last_success_at) FROM sync_state WHERE stream = 'AccessLog'",
    );
    assert_eq!(success, 0, "a run that lost its stream is no success");
}

/// Requests that wrote nothing (refused here) still count against the daily
/// budget the next process starts from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_wrote_nothing_still_count_against_the_daily_budget() {
    let env = Env::start(sim_config(53, 1, 300), "").await;
    common::process::rewrite_config(&env, "access_key_secret", "\"wrong-secret\"");
    let reports = env
        .run(Selector::default(), Range::Incremental, &Policy::default())
        .await;
    assert!(reports
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Failed { .. })));
    let sent = env.sim.stats().gong_requests as i64;
    assert!(sent >= 5, "{sent}");
    let saved = count(&env.db, "SELECT sum(requests) FROM request_budget");
    assert_eq!(saved, sent);
}
