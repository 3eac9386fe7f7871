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
