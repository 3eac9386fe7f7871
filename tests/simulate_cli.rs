//! `auditmirror simulate` as a process: its connection line, and on SIGTERM one
//! readable line of what it served.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

#[test]
fn simulate_stops_on_sigterm_with_a_readable_summary() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditmirror"))
        .args(["simulate", "--finite", "--days", "1", "--seed", "5"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&first).unwrap_or_else(|e| {
        let _ = child.kill();
        panic!("{e}: {first:?}")
    });
    let base = info["gong"]["base_url"].as_str().unwrap();
    let addr = base.strip_prefix("http://").unwrap();
    // One Gong request (refused: no credentials), so the summary counts it.
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "GET /v2/logs?logType=AccessLog HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    // SAFETY: signals the child this test started, by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("simulator stopped: served 1 Gong and 0 Genesys requests, issued 0 tokens; 1 refused as unauthorized"),
        "{err}"
    );
    assert!(!err.contains("StatsSnapshot"), "{err}");
}
