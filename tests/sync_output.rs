//! What `sync` prints, stream by stream, and what `status --json` reports
//! after it, through the real binary (a Gong account).

mod common;

use common::process::*;
use common::*;

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

/// Another runner, on another host, holds every stream's lease; one of its
/// runs is in progress.
fn lease_everything_elsewhere(env: &Env) {
    rusqlite::Connection::open(&env.db)
        .unwrap()
        .execute_batch(
            "UPDATE sync_state SET lease_owner = 'elsewhere.invalid:4242:beef', \
                    lease_expires_at = '2999-01-01T00:00:00.000000Z'; \
             INSERT INTO sync_runs (source, account, stream, kind, started_at, outcome) \
             VALUES ('gong', 'acme', 'AccessLog', 'sync', '2026-12-01T00:00:00.000000Z', 'running');",
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_skips_everything_says_so_and_status_shows_the_run_in_progress() {
    let env = Env::start(sim_config(14, 1, 20), "").await;
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    lease_everything_elsewhere(&env);

    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "skipping is no failure\n{}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.contains(" skipped ")).count(),
        5,
        "{stdout}"
    );
    let last = last_stderr_line(&out);
    assert_eq!(
        last,
        "nothing synced: another runner (elsewhere.invalid:4242:beef) holds the leases of all 5 \
         selected streams, syncing them; run again later, or with --wait 10m to wait for it"
    );
    let (out, _) = run_bin(&env.config, &["sync", "--stream", "UserCallPlay"]).await;
    assert!(
        last_stderr_line(&out).contains("holds the lease of the selected stream and is syncing it"),
        "{}",
        text(&out)
    );

    // status: the run in progress, not the skips recorded after it.
    let (out, _) = run_bin(&env.config, &["status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in json.as_array().unwrap() {
        let expected = match s["stream"].as_str() {
            Some("AccessLog") => "running",
            _ => "success",
        };
        assert_eq!(s["state"]["last_run"]["outcome"], expected, "{s:#}");
    }
    let (out, _) = run_bin(&env.config, &["status"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("  last run      sync running since 2026-12-01T00:00:00.000000Z\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  leased by     elsewhere.invalid:4242:beef until 2999-01-01"),
        "{stdout}"
    );
}
