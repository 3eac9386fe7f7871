//! The real binary against a mirror that cannot be written: a full disk (a file
//! size limit on the child), a read-only file, a directory the process may not
//! create files in, and the modes of the files it creates. Exit codes are exact:
//! 3 for the database; each error is said once.
//!
//! Tests run as root, whom file modes do not bind: where a mode must bind, the
//! child drops to `nobody` (65534) before `exec`.

mod common;

use common::process::{command, text, HANG};
use common::{sim_config, Env};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The child gets a file size limit of `bytes`; a write past it fails with
/// EFBIG (SQLite: SQLITE_FULL or SQLITE_IOERR) instead of killing the process.
fn limit_file_size(cmd: &mut Command, bytes: u64) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: between fork and exec the closure only makes two system calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
}

/// Runs `cmd` to its end off the runtime's workers (the simulator keeps
/// serving), output through pipes (no file size limit applies to them). A child
/// that writes `refused` to stderr is killed at once (a daemon that should not
/// have started); one that runs past `HANG` is killed too.
async fn finish(mut cmd: Command, refused: Option<&'static str>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let drain = |mut from: Box<dyn Read + Send>| {
            let buf = Arc::new(Mutex::new(Vec::new()));
            let to = buf.clone();
            let t = std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = from.read(&mut chunk) {
                    to.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            });
            (buf, t)
        };
        let (stdout, t_out) = drain(Box::new(child.stdout.take().unwrap()));
        let (stderr, t_err) = drain(Box::new(child.stderr.take().unwrap()));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            let said = |what: &str| String::from_utf8_lossy(&stderr.lock().unwrap()).contains(what);
            if refused.is_some_and(said) || started.elapsed() > HANG {
                child.kill().unwrap();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        t_out.join().unwrap();
        t_err.join().unwrap();
        let take = |b: Arc<Mutex<Vec<u8>>>| std::mem::take(&mut *b.lock().unwrap());
        Output {
            status,
            stdout: take(stdout),
            stderr: take(stderr),
        }
    })
    .await
    .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the run exited 3 and said `what` on stderr exactly once.
fn assert_database_error(o: &Output, what: &str, ctx: &str) {
    assert_eq!(o.status.code(), Some(3), "{ctx}\n{}", text(o));
    assert_eq!(
        stderr(o).matches(what).count(),
        1,
        "{ctx}: `{what}` not said exactly once\n{}",
        text(o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_full_before_the_first_page_exits_3() {
    // 16 KB: not even the migrations fit.
    let env = Env::start(sim_config(62, 1, 10), "").await;
    let mut cmd = command(&env.config, &["sync"]);
    limit_file_size(&mut cmd, 16 << 10);
    let out = finish(cmd, None).await;
    assert_database_error(
        &out,
        &format!("database {}: ", env.db.display()),
        "full disk at start",
    );
    let err = stderr(&out);
    let first = ["disk I/O error", "database or disk is full"]
        .into_iter()
        .find(|what| err.contains(what))
        .unwrap_or_else(|| panic!("neither I/O error nor full disk\n{}", text(&out)));
    assert_eq!(err.matches(first).count(), 1, "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
}
