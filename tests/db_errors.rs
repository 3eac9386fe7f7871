//! The real binary against a mirror that cannot be written: a full disk (a file
//! size limit on the child), a read-only file, a directory the process may not
//! create files in, and the modes of the files it creates. Exit codes are exact:
//! 3 for the database; each error is said once.
//!
//! Tests run as root, whom file modes do not bind: where a mode must bind, the
//! child drops to `nobody` (65534) before `exec`.

mod common;

use auditmirror::simulator::faults::Faults;
use common::process::{command, rewrite_config, run_bin, text, HANG};
use common::{count, count_if_any, sim_config, Env};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

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

/// The uid the children of `as_unprivileged` run as.
fn child_uid() -> u32 {
    // SAFETY: `geteuid` cannot fail and touches no memory.
    match unsafe { libc::geteuid() } {
        0 => NOBODY,
        uid => uid,
    }
}

/// Run as root, the child becomes `nobody`, and `dir` (the env's directory, with
/// its config and mirror) becomes nobody's; otherwise modes bind already.
fn as_unprivileged(cmd: &mut Command, dir: &Path) {
    if child_uid() != NOBODY {
        return;
    }
    for entry in std::iter::once(dir.to_path_buf()).chain(
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file()),
    ) {
        std::os::unix::fs::chown(&entry, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    // SAFETY: between fork and exec the closure only makes system calls.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
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

fn gong_rows(db: &Path) -> i64 {
    count(db, "SELECT count(*) FROM gong_audit_log_entry")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fills_during_sync_exits_3() {
    // 10,000 entries, about 10 MB of mirror, against a 2 MB limit: the migrations
    // and the first pages fit, a later page does not.
    let env = Env::start(sim_config(61, 2, 1000), "").await;
    let mut cmd = command(&env.config, &["sync"]);
    limit_file_size(&mut cmd, 2 << 20);
    let out = finish(cmd, None).await;
    let said = format!("database {}: ", env.db.display());
    assert_database_error(&out, &said, "full disk mid-sync");
    assert_eq!(
        stderr(&out).matches("free space").count(),
        1,
        "{}",
        text(&out)
    );
    let written = gong_rows(&env.db);
    assert!(
        written > 0 && written < 10_000,
        "the limit should stop the sync after its first pages, not before or never: {written} rows\n{}",
        text(&out)
    );
    // The next sync, with room, reads the rest.
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(gong_rows(&env.db), 10_000);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_mirror_exits_3_and_the_daemon_refuses_to_start() {
    let env = Env::start(sim_config(63, 1, 20), "").await;
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = gong_rows(&env.db);
    std::fs::set_permissions(&env.db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let said = "attempt to write a readonly database";
    let uid = format!("(uid {})", child_uid());
    for args in [
        &["sync"][..],
        &["backfill", "--from", "2d", "--to", "1h"],
        &["run"],
    ] {
        let mut cmd = command(&env.config, args);
        as_unprivileged(&mut cmd, env.dir.path());
        // A daemon that schedules its jobs has started: that is the failure.
        let out = finish(cmd, Some("scheduled")).await;
        let ctx = format!("{args:?} on a read-only mirror");
        assert_database_error(&out, said, &ctx);
        assert_eq!(
            stderr(&out).matches(&uid).count(),
            1,
            "{ctx}\n{}",
            text(&out)
        );
        assert!(!stderr(&out).contains("scheduled"), "{ctx}\n{}", text(&out));
    }
    assert_eq!(gong_rows(&env.db), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_the_mirror_cannot_be_created_in_is_named_once() {
    let env = Env::start(sim_config(64, 1, 10), "").await;
    let locked = env.dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    // Root's (or, not run as root, read-only): only its owner may create in it.
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let in_locked = env.dir.path().join("locked/mirror.sqlite");
    let in_missing = env.dir.path().join("locked/sub/mirror.sqlite");
    for (path, said) in [
        (
            &in_locked,
            format!(
                "cannot create the mirror {}: the directory {} is not writable by this user (uid {})",
                in_locked.display(),
                locked.display(),
                child_uid()
            ),
        ),
        // A directory that does not exist is not created: the path may be mistyped.
        (
            &in_missing,
            format!(
                "the mirror's directory {} does not exist",
                locked.join("sub").display()
            ),
        ),
    ] {
        rewrite_config(&env, "path", &format!("{:?}", path.to_str().unwrap()));
        for args in [&["sync"][..], &["run"], &["backfill", "--from", "1d", "--to", "1h"]] {
            let mut cmd = command(&env.config, args);
            as_unprivileged(&mut cmd, env.dir.path());
            let out = finish(cmd, Some("scheduled")).await;
            let ctx = format!("{args:?} with the mirror at {}", path.display());
            assert_database_error(&out, &said, &ctx);
            let err = stderr(&out);
            assert_eq!(
                err.matches("[database] path").count(),
                1,
                "{ctx}\n{err}"
            );
            assert!(
                !err.contains("unable to open database file"),
                "{ctx}\n{err}"
            );
        }
    }
    assert!(!locked.join("sub").exists());
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_mirror_and_its_wal_and_shm_are_private_an_existing_one_keeps_its_mode() {
    let env = Env::start(sim_config(65, 1, 500), "log_types = [\"AccessLog\"]").await;
    // The second request never gets an answer: the sync holds the mirror open,
    // its -wal and -shm beside it, until it is killed.
    Faults::set(&env.sim.faults().hang_every, 2);
    let mut child = command(&env.config, &["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while count_if_any(&env.db, "gong_audit_log_entry") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no first page after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let files = ["", "-wal", "-shm"].map(|s| format!("{}{s}", env.db.display()));
    for f in &files {
        assert_eq!(mode(Path::new(f)), 0o600, "{f}");
    }
    // A mode its owner chose stays.
    std::fs::set_permissions(&env.db, std::fs::Permissions::from_mode(0o640)).unwrap();
    Faults::set(&env.sim.faults().hang_every, 0);
    let (out, _) = run_bin(&env.config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(gong_rows(&env.db), 500);
    assert_eq!(mode(&env.db), 0o640);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_and_status_check_where_the_mirror_goes() {
    let env = Env::start(sim_config(66, 1, 10), "").await;
    let run_as_child = |args: &[&str]| {
        let mut cmd = command(&env.config, args);
        as_unprivileged(&mut cmd, env.dir.path());
        cmd.output().unwrap()
    };
    // Fine: the directory may be written, the mirror does not exist yet.
    let out = run_as_child(&["check-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let missing = env.dir.path().join("typo/mirror.sqlite");
    rewrite_config(&env, "path", &format!("{:?}", missing.to_str().unwrap()));
    let said = format!(
        "the mirror's directory {} does not exist; fix [database] path in {}",
        missing.parent().unwrap().display(),
        env.config.display()
    );
    for args in [&["status"][..], &["status", "--check"]] {
        let out = run_as_child(args);
        assert_database_error(&out, &said, &format!("{args:?}"));
    }
    // check-config warns: under systemd, StateDirectory= makes it at first start.
    let out = run_as_child(&["check-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stderr(&out).matches(&said).count(), 1, "{}", text(&out));
    assert!(stderr(&out).contains("WARN"), "{}", text(&out));
    assert!(!missing.parent().unwrap().exists());

    let locked = env.dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    rewrite_config(&env, "path", "\"locked/mirror.sqlite\"");
    let out = run_as_child(&["check-config"]);
    let said = format!(
        "{} is not writable by this user (uid {})",
        locked.display(),
        child_uid()
    );
    assert_database_error(&out, &said, "a directory it may not write");

    // A mirror it may not write, in a directory it may.
    rewrite_config(&env, "path", "\"mirror.sqlite\"");
    std::fs::write(&env.db, b"").unwrap();
    std::fs::set_permissions(&env.db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = run_as_child(&["check-config"]);
    let said = format!("{} is not writable by this user", env.db.display());
    assert_database_error(&out, &said, "a read-only mirror");
}

#[test]
fn demo_in_a_directory_it_may_not_write_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auditmirror"));
    cmd.arg("demo").current_dir(&locked).env_remove("RUST_LOG");
    as_unprivileged(&mut cmd, &locked);
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        err.contains(&format!("cannot prepare the demo in {}", locked.display())),
        "{err}"
    );
    assert_eq!(err.matches("Permission denied").count(), 1, "{err}");
}
