//! Genesys end to end, in-process: OAuth, asynchronous audit queries and the
//! realtime endpoint through the real engine into a real SQLite file, compared
//! with the simulator's ground truth exactly.

mod common;

use auditmirror::connector::Window;
use auditmirror::http::Policy;
use auditmirror::simulator::SimConfig;
use auditmirror::streams::Selector;
use auditmirror::sync::{Outcome, Range, Report};
use chrono::Duration;
use common::*;

fn ok(reports: &[Report]) {
    for r in reports {
        assert_eq!(r.outcome, Outcome::Success, "{r}");
    }
}

/// `days` of Genesys data ending an hour ago.
fn data(seed: u64, days: i64, per_day: u64) -> SimConfig {
    let mut c = sim_config(seed, days, 0);
    c.genesys_per_day = per_day;
    c.transaction_polls = 0;
    c
}

fn everything(env: &Env) -> Rows {
    let (from, to) = env.span();
    env.genesys_truth(from, to)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_days_equal_the_truth_reruns_write_nothing_and_changes_update_their_rows() {
    let mut cfg = data(1, 30, 400);
    cfg.changed_every = 97;
    let env = Env::start_genesys(cfg, "").await;
    let reports = env.sync_ok().await;
    assert_eq!(mirror_genesys(&env.db), everything(&env));
    assert!(reports[0].counts.rows_inserted > 11_000, "{}", reports[0]);
    // The service names the mapping listed are kept for `status`.
    let services = count(
        &env.db,
        "SELECT json_array_length(services) FROM sync_state WHERE source = 'genesys'",
    );
    assert!(services >= 10, "{services}");
    // A re-run writes nothing.
    let before = genesys_stamps(&env.db);
    env.sync_ok().await;
    assert_eq!(genesys_stamps(&env.db), before);
    // Changed messages (same id) update exactly their rows when re-read.
    env.sim.bump_revision();
    let (from, to) = env.span();
    let reread = env
        .run(
            Selector::default(),
            Range::Bounded(Window::new(from, to)),
            &Policy::default(),
        )
        .await;
    ok(&reread);
    let after = genesys_stamps(&env.db);
    let changed: Vec<&String> = after
        .keys()
        .filter(|id| after[*id] != before[*id])
        .collect();
    assert_eq!(changed.len() as i64, reread[0].counts.rows_updated);
    assert!(!changed.is_empty());
    let newest_before = before.values().max().unwrap();
    assert!(changed.iter().all(|id| &after[*id] > newest_before));
    assert_eq!(
        mirror_genesys(&env.db),
        everything(&env),
        "the mirror holds the new versions"
    );
    assert_eq!(reread[0].counts.rows_inserted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_token_is_refreshed_mid_run_and_counted() {
    let mut cfg = data(2, 6, 300);
    cfg.token_ttl = std::time::Duration::from_secs(1);
    cfg.transaction_polls = 2;
    let env = Env::start_genesys(cfg, "window = \"12h\"").await;
    let reports = env.sync_ok().await;
    assert_eq!(mirror_genesys(&env.db), everything(&env));
    assert!(reports[0].counts.token_refreshes > 0, "{}", reports[0]);
    assert_eq!(
        count(&env.db, "SELECT token_refreshes FROM sync_runs"),
        reports[0].counts.token_refreshes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_transactions_are_retried_then_windows_split() {
    // The first transaction fails once: retried, nothing lost.
    let mut once = data(3, 3, 300);
    once.fail_first_transactions = 1;
    let env = Env::start_genesys(once, "").await;
    env.sync_ok().await;
    assert_eq!(mirror_genesys(&env.db), everything(&env));
    // Every query over more than 6 hours fails: day windows are split until they work.
    let mut long = data(4, 3, 300);
    long.fail_transactions_longer_than = Some(std::time::Duration::from_secs(6 * 3600));
    let env = Env::start_genesys(long, "").await;
    env.sync_ok().await;
    assert_eq!(mirror_genesys(&env.db), everything(&env));
    // Queries that always fail, however short: the stream fails, naming the transaction.
    let mut never = data(5, 1, 300);
    never.fail_first_transactions = 1_000;
    let env = Env::start_genesys(never, "").await;
    let reports = env
        .run(Selector::default(), Range::Incremental, &Policy::default())
        .await;
    match &reports[0].outcome {
        Outcome::Failed { message, .. } => assert!(
            message.contains("transaction") && message.contains("Failed"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(watermark_of(&env), None);
}

fn watermark_of(env: &Env) -> Option<String> {
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.query_row(
        "SELECT watermark FROM sync_state WHERE source = 'genesys'",
        [],
        |r| r.get(0),
    )
    .ok()
    .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_realtime_path_mirrors_the_last_days() {
    let mut cfg = data(7, 3, 500);
    cfg.origin = auditmirror::clock::now() - Duration::days(3);
    let env = Env::start_genesys(cfg, "mode = \"realtime\"").await;
    env.sync_ok().await;
    // Without a service list the realtime query covers the realtime services.
    let mirror = mirror_genesys(&env.db);
    let truth = everything(&env);
    assert!(!mirror.is_empty() && mirror.len() < truth.len());
    assert!(
        mirror.iter().all(|(id, raw)| truth.get(id) == Some(raw)),
        "rows that differ from the truth"
    );
    let services = count(
        &env.db,
        "SELECT count(DISTINCT service_name) FROM genesys_audit_log_message",
    );
    let all = truth
        .values()
        .map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap()["serviceName"].to_string())
        .collect::<std::collections::BTreeSet<_>>();
    assert!((services as usize) < all.len());
    // Every message of those services is there.
    let realtime: Vec<&String> = truth
        .iter()
        .filter(|(_, r)| mirror.values().any(|m| service(m) == service(r)))
        .map(|(id, _)| id)
        .collect();
    assert!(realtime.iter().all(|id| mirror.contains_key(*id)));
}

fn service(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw).unwrap()["serviceName"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_service_list_limits_the_mirror() {
    let env =
        Env::start_genesys(data(8, 2, 500), "services = [\"Architect\", \"Directory\"]").await;
    env.sync_ok().await;
    let expected: Rows = everything(&env)
        .into_iter()
        .filter(|(_, r)| ["\"Architect\"", "\"Directory\""].contains(&service(r).as_str()))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(mirror_genesys(&env.db), expected);
}
