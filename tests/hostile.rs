//! The real binary against a hostile server on loopback: a body past the cap is
//! refused naming URL and size with memory kept low, a dripping server fails
//! within the request's time budget (and SIGTERM still stops at once), and
//! secrets a vendor echoes back never reach stderr or the database.

mod common;

use common::hostile::{self, Mode, TOKEN};
use common::{count, process::text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "hostile-access-key-7f3a9c";
const SECRET: &str = "hostile-key-secret-Zq81+/x=";
const CLIENT_SECRET: &str = "genesys-client-secret-41d9e/+";

struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
    db: PathBuf,
}

fn setup(account: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("auditmirror.toml");
    let start = (auditmirror::clock::now() - chrono::Duration::hours(2)).to_rfc3339();
    std::fs::write(
        &config,
        format!("[database]\npath = \"mirror.sqlite\"\n[defaults]\nstart = \"{start}\"\nsettle = \"0s\"\n{account}"),
    )
    .unwrap();
    let db = dir.path().join("mirror.sqlite");
    Setup {
        _dir: dir,
        config,
        db,
    }
}

fn gong(base: &str, extra: &str) -> String {
    format!("[[gong]]\nname = \"acme\"\nbase_url = \"{base}\"\naccess_key = \"{KEY}\"\naccess_key_secret = \"{SECRET}\"\nlog_types = [\"AccessLog\"]\n{extra}\n")
}

fn genesys(base: &str, extra: &str) -> String {
    format!("[[genesys]]\nname = \"emea\"\napi_base_url = \"{base}\"\nlogin_base_url = \"{base}\"\nclient_id = \"client-id-123\"\nclient_secret = \"{CLIENT_SECRET}\"\n{extra}\n")
}

/// The child's peak resident memory so far, in MB (`VmHWM`, reset at exec).
fn peak_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs `sync` to its end off the runtime; returns its output, wall time and
/// peak resident memory in MB, read from `/proc` while it runs.
async fn sync(config: &Path) -> (Output, Duration, f64) {
    let config = config.to_owned();
    tokio::task::spawn_blocking(move || {
        let (out, err) = (
            tempfile::NamedTempFile::new().unwrap(),
            tempfile::NamedTempFile::new().unwrap(),
        );
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_auditmirror"))
            .arg("--config")
            .arg(&config)
            .arg("sync")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(out.reopen().unwrap())
            .stderr(err.reopen().unwrap())
            .spawn()
            .unwrap();
        let mut peak = 0.0f64;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            peak = peak.max(peak_mb(child.id()).unwrap_or(0.0));
            assert!(started.elapsed() < common::process::HANG, "sync hung");
            std::thread::sleep(Duration::from_millis(2));
        };
        let output = Output {
            status,
            stdout: std::fs::read(out.path()).unwrap(),
            stderr: std::fs::read(err.path()).unwrap(),
        };
        (output, started.elapsed(), peak)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_past_the_cap_is_refused_naming_url_and_size_and_memory_stays_low() {
    for mode in [Mode::Huge(200 << 20), Mode::Declared(200 << 20)] {
        let server = hostile::start(mode).await;
        let s = setup(&gong(&server.base_url, ""));
        let (out, _, peak_mb) = sync(&s.config).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{mode:?}\n{}", text(&out));
        assert!(
            stderr.contains(&format!("{}/v2/logs", server.base_url))
                && stderr.contains("larger than the limit of 33554432 bytes")
                && stderr.contains("max_body_mb"),
            "{mode:?}\n{stderr}"
        );
        eprintln!("{mode:?}: peak {peak_mb:.1} MB");
        assert!(peak_mb < 100.0, "{mode:?}: peak {peak_mb:.0} MB");
        assert_eq!(count(&s.db, "SELECT count(*) FROM gong_audit_log_entry"), 0);
        // Refused at once, not retried.
        assert_eq!(
            server.requests.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smaller_cap_from_the_config_applies() {
    let server = hostile::start(Mode::Huge(3 << 20)).await;
    let s = setup(&gong(&server.base_url, "max_body_mb = 2"));
    let (out, _, _) = sync(&s.config).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("larger than the limit of 2097152 bytes"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_server_fails_within_the_time_budget() {
    let server = hostile::start(Mode::Drip(Duration::from_millis(50))).await;
    let s = setup(&gong(
        &server.base_url,
        "response_timeout = \"1s\"\ntotal_timeout = \"3s\"",
    ));
    let (out, took, _) = sync(&s.config).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr.contains("total_timeout"), "{stderr}");
    // 3 s of budget; the bound only guards against a hang, not for speed.
    eprintln!("a dripping server failed the sync after {took:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    let error: String = rusqlite::Connection::open(&s.db)
        .unwrap()
        .query_row(
            "SELECT error FROM sync_runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(error.contains("no complete response within"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_sync_stuck_on_a_dripping_server_at_once() {
    let server = hostile::start(Mode::Drip(Duration::from_millis(50))).await;
    let s = setup(&gong(&server.base_url, ""));
    let mut child = common::process::command(&s.config, &["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    while server.requests.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no request came"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let signalled = Instant::now();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    eprintln!("exited {:?} after SIGTERM", signalled.elapsed());
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "{:?}",
        signalled.elapsed()
    );
    assert_eq!(status.code(), Some(1), "a stopped sync exits 1");
}

fn stored_errors(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT coalesce(error, '') FROM sync_runs",
        "SELECT coalesce(last_error, '') FROM sync_state",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        out.extend(rows.map(|r| r.unwrap()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_a_vendor_echoes_back_are_scrubbed_from_output_and_database() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let limits = "response_timeout = \"1s\"\ntotal_timeout = \"2s\"";
    for (account, secrets) in [
        (
            gong as fn(&str, &str) -> String,
            vec![
                KEY.to_owned(),
                SECRET.to_owned(),
                b64(&format!("{KEY}:{SECRET}")),
            ],
        ),
        (
            genesys,
            vec![
                CLIENT_SECRET.to_owned(),
                TOKEN.to_owned(),
                b64(&format!("client-id-123:{CLIENT_SECRET}")),
            ],
        ),
    ] {
        let server = hostile::start(Mode::Echo500).await;
        let s = setup(&account(&server.base_url, limits));
        let (out, _, _) = sync(&s.config).await;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let stored = stored_errors(&s.db);
        assert!(
            stderr.contains("[redacted]"),
            "the echo did not reach the error: {stderr}"
        );
        assert!(
            stored.iter().any(|e| e.contains("[redacted]")),
            "{stored:?}"
        );
        for secret in &secrets {
            assert!(
                !stderr.contains(secret.as_str()),
                "{secret} in stderr: {stderr}"
            );
            assert!(
                !stored.iter().any(|e| e.contains(secret.as_str())),
                "{secret} stored: {stored:?}"
            );
        }
        assert!(stored.iter().all(|e| e.len() <= 2200), "{stored:?}");
    }
}
