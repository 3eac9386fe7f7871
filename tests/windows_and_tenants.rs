//! What a tenant or its cursors refuse, end to end in-process: cursors that
//! expire between pages split windows until the truth is reached, a Genesys
//! interval too long for the tenant is split, and a log type or service the
//! tenant does not have makes that stream unavailable while the others sync.

mod common;

use auditmirror::http::Policy;
use auditmirror::streams::Selector;
use auditmirror::sync::{Outcome, Range};
use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_that_expire_at_once_split_windows_until_the_truth_is_reached() {
    let mut cfg = sim_config(31, 2, 900);
    // Every cursor is refused as expired: only windows of one page can be read.
    cfg.gong_cursor_ttl = Some(Duration::ZERO);
    let env = Env::start(cfg, "log_types = [\"AccessLog\", \"UserCallPlay\"]").await;
    let reports = env
        .run(Selector::default(), Range::Incremental, &Policy::default())
        .await;
    for r in &reports {
        assert_eq!(r.outcome, Outcome::Success, "{r}");
    }
    for lt in ["AccessLog", "UserCallPlay"] {
        let truth = env.truth(lt);
        assert!(truth.len() > 1000, "{}", truth.len());
        assert_eq!(mirror_rows(&env.db, lt), truth, "{lt}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_that_expire_even_for_the_shortest_window_fail_saying_why() {
    // 200 entries within one second: more than a page even at the floor.
    let mut cfg = sim_config(32, 1, 0);
    let end = auditmirror::clock::now() - chrono::Duration::minutes(10);
    cfg.origin = end - chrono::Duration::seconds(1);
    cfg.end = Some(end);
    cfg.gong_per_day = 200 * 86_400;
    cfg.gong_cursor_ttl = Some(Duration::ZERO);
    let env = Env::start(cfg, "log_types = [\"UserCallPlay\"]").await;
    let reports = env
        .run(Selector::default(), Range::Incremental, &Policy::default())
        .await;
    let Outcome::Failed { message, .. } = &reports[0].outcome else {
        panic!("{}", reports[0]);
    };
    assert!(
        message.contains("cursor expired") && message.contains("requests_per_second"),
        "{message}"
    );
    // The watermark went no further than the windows read whole.
    let (origin, _) = env.span();
    let w =
        watermark(&env.db, "UserCallPlay").map(|w| auditmirror::time::parse_stored(&w).unwrap());
    assert!(
        w.is_none_or(|w| w <= origin + chrono::Duration::seconds(1)),
        "{w:?}"
    );
    let mirrored = count(&env.db, "SELECT count(*) FROM gong_audit_log_entry");
    assert!(mirrored < 200, "{mirrored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_type_the_tenant_lacks_is_unavailable_and_the_others_sync() {
    let mut cfg = sim_config(33, 2, 300);
    cfg.gong_log_types = Some(vec!["AccessLog".into(), "UserActivityLog".into()]);
    let env = Env::start(cfg, "").await;
    for round in 0..2 {
        let reports = env
            .run(Selector::default(), Range::Incremental, &Policy::default())
            .await;
        for r in &reports {
            match r.key.stream.as_str() {
                "AccessLog" | "UserActivityLog" => assert_eq!(r.outcome, Outcome::Success, "{r}"),
                _ => assert!(
                    matches!(&r.outcome, Outcome::Unavailable { reason } if reason.contains(&r.key.stream)),
                    "round {round}: {r}"
                ),
            }
        }
    }
    assert_eq!(mirror_rows(&env.db, "AccessLog"), env.truth("AccessLog"));
    assert_eq!(
        mirror_rows(&env.db, "UserActivityLog"),
        env.truth("UserActivityLog")
    );
    let skipped = count(
        &env.db,
        "SELECT count(*) FROM sync_runs WHERE outcome = 'skipped' AND error LIKE 'unavailable: %'",
    );
    assert_eq!(skipped, 6, "three streams, two runs");
    let failing = count(
        &env.db,
        "SELECT count(*) FROM sync_state WHERE last_error IS NOT NULL",
    );
    assert_eq!(failing, 0);
    // The binary: exit 0, one warning per unavailable stream, shown in status.
    let out = env.bin(&["sync"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("UserCallPlay is not available").count(),
        1,
        "{stderr}"
    );
    let status = env.bin(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(text.matches("unavailable ").count(), 3, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genesys_interval_too_long_for_the_tenant_is_split() {
    let mut cfg = sim_config(34, 3, 0);
    cfg.genesys_per_day = 400;
    cfg.genesys_max_interval = Some(Duration::from_secs(5 * 3600));
    let env = Env::start_genesys(cfg, "window = \"1d\"").await;
    let reports = env
        .run(Selector::default(), Range::Incremental, &Policy::default())
        .await;
    assert_eq!(reports[0].outcome, Outcome::Success, "{}", reports[0]);
    let (from, to) = env.span();
    assert_eq!(mirror_genesys(&env.db), env.genesys_truth(from, to));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genesys_service_the_tenant_lacks_is_unavailable() {
    let mut cfg = sim_config(35, 1, 0);
    cfg.genesys_per_day = 100;
    let env = Env::start_genesys(cfg, "services = [\"NoSuchService\"]").await;
    let reports = env
        .run(Selector::default(), Range::Incremental, &Policy::default())
        .await;
    assert!(
        matches!(&reports[0].outcome, Outcome::Unavailable { reason } if reason.contains("NoSuchService")),
        "{}",
        reports[0]
    );
    let out = env.bin(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
