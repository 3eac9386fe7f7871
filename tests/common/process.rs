//! Running the real binary as a child process from async tests, with a hang
//! guard, and editing the written config.

use super::Env;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary with `config`, as `Env::bin` builds it.
pub fn command(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_auditmirror"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG");
    c
}

/// A run of the binary that takes longer than this is a hang: kill it, fail.
pub const HANG: Duration = Duration::from_secs(60);

/// Runs the binary to completion off the runtime's workers, so the simulator
/// keeps serving; returns its output and wall time.
pub async fn run_bin(config: &Path, args: &[&str]) -> (Output, Duration) {
    let mut cmd = command(config, args);
    tokio::task::spawn_blocking(move || {
        let (mut out, mut err) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
        let started = Instant::now();
        let mut child = cmd
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > HANG {
                child.kill().unwrap();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let took = started.elapsed();
        let read = |f: &mut std::fs::File| {
            let mut v = Vec::new();
            f.seek(SeekFrom::Start(0)).unwrap();
            f.read_to_end(&mut v).unwrap();
            v
        };
        let output = Output {
            status,
            stdout: read(&mut out),
            stderr: read(&mut err),
        };
        assert!(
            took <= HANG,
            "{cmd:?} hung; killed after {took:?}\n{}",
            text(&output)
        );
        (output, took)
    })
    .await
    .unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Replaces the one config line `key = …` with `key = value`.
pub fn rewrite_config(env: &Env, key: &str, value: &str) {
    let (text, prefix) = (
        std::fs::read_to_string(&env.config).unwrap(),
        format!("{key} ="),
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with(&prefix)).count(),
        1,
        "{text}"
    );
    let new: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{prefix} {value}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(&env.config, new.join("\n") + "\n").unwrap();
}

/// Starts `sync` and SIGKILLs it after `delay_ms`; true when the kill found it
/// still running (a run that had already ended must have succeeded).
pub async fn sync_then_sigkill(config: &Path, delay_ms: u64, ctx: &str) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let mut child = command(config, &["sync"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    child.kill().unwrap(); // SIGKILL; harmless if it already exited
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let killed = status.signal() == Some(9);
    assert!(
        killed || status.success(),
        "{ctx}: the first run ended {status:?} before the kill"
    );
    killed
}

/// The last non-empty line a run wrote to stderr (where the `error:` goes).
pub fn last_stderr_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_owned()
}
