//! `status --check` through the real binary against a real mirror synced from
//! the simulator: exit 0 in sync, 1 lagging, 2 failing; and `status` in every
//! form needs no secret.

mod common;

use common::process::{command, rewrite_config, run_bin, text};
use common::{sim_config, Env};
use std::process::Output;

/// `status` args against `env`, the summary line and the exit code.
async fn check(env: &Env, args: &[&str]) -> (String, Option<i32>, Output) {
    let (out, _) = run_bin(&env.config, args).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line\n{}", text(&out));
    (lines[0].to_owned(), out.status.code(), out)
}

fn sql(env: &Env, statement: &str) {
    rusqlite::Connection::open(&env.db)
        .unwrap()
        .execute_batch(statement)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_0_in_sync_1_lagging_2_failing() {
    let env = Env::start(sim_config(81, 1, 50), "").await;
    let (line, code, out) = check(&env, &["status", "--check"]).await;
    assert_eq!(code, Some(1), "{}", text(&out));
    assert!(
        line.starts_with("WARNING: 5 of 5 streams lag past 15m: gong/acme/AccessLog never synced"),
        "{line}"
    );

    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (line, code, out) = check(&env, &["status", "--check"]).await;
    assert_eq!(code, Some(0), "{}", text(&out));
    assert!(
        line.starts_with("OK: 5 streams in sync, largest lag "),
        "{line}"
    );

    // One stream's watermark two hours back: past 3 × 5 minutes (settle 0s).
    sql(
        &env,
        "UPDATE sync_state SET watermark = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 hours', '-30 seconds') \
         WHERE stream = 'UserCallPlay'",
    );
    let (line, code, _) = check(&env, &["status", "--check"]).await;
    assert_eq!(code, Some(1), "{line}");
    assert_eq!(
        line,
        "WARNING: 1 of 5 streams lags past 15m: gong/acme/UserCallPlay 2h"
    );
    let (line, code, _) = check(&env, &["status", "--check", "--max-lag", "3h"]).await;
    assert_eq!(code, Some(0), "{line}");

    // Credentials the vendor refuses: every stream fails.
    rewrite_config(&env, "access_key_secret", "\"not-the-secret\"");
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (line, code, _) = check(&env, &["status", "--check"]).await;
    assert_eq!(code, Some(2), "{line}");
    assert!(
        line.starts_with("CRITICAL: 5 of 5 streams failing: gong/acme/AccessLog since "),
        "{line}"
    );
    assert!(!line.contains("not-the-secret"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_tenant_lacks_is_not_a_failure() {
    let mut cfg = sim_config(82, 1, 20);
    cfg.gong_log_types = Some(vec!["AccessLog".into(), "UserActivityLog".into()]);
    let env = Env::start(cfg, "log_types = [\"AccessLog\", \"UserCallPlay\"]").await;
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (line, code, _) = check(&env, &["status", "--check"]).await;
    assert_eq!(code, Some(0), "{line}");
    assert!(
        line.starts_with(
            "OK: 1 of 2 streams in sync, 1 unavailable to the tenant (gong/acme/UserCallPlay), \
             largest lag "
        ),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_needs_no_secret() {
    let env = Env::start(sim_config(83, 1, 20), "").await;
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The secrets now come from a credentials file and a variable, neither set.
    let written = std::fs::read_to_string(&env.config).unwrap();
    let edited: Vec<&str> = written
        .lines()
        .map(|l| match l.split(" = ").next() {
            Some("access_key") => "access_key_file = \"${CREDENTIALS_DIRECTORY}/gong-key\"",
            Some("access_key_secret") => "access_key_secret_env = \"AUDITMIRROR_TEST_UNSET_9d2e\"",
            _ => l,
        })
        .collect();
    std::fs::write(&env.config, edited.join("\n")).unwrap();
    let run = |args: &[&str]| {
        command(&env.config, args)
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("AUDITMIRROR_TEST_UNSET_9d2e")
            .output()
            .unwrap()
    };
    let out = run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "sync needs them\n{}",
        text(&out)
    );
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["status", "--check"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("AccessLog"),
            "{args:?}\n{}",
            text(&out)
        );
    }
}
