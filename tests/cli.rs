//! The real binary: config checking, secret redaction, exit codes and `status`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRETS: [&str; 4] = [
    "AK-inline-7c1e",
    "SK-file-93ab",
    "CS-env-55d0",
    "TOK-never-shown",
];

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_auditmirror"));
    c.env_remove("AUDITMIRROR_CONFIG").env_remove("RUST_LOG");
    c
}

fn write_config(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("gong-secret"), format!("{}\n", SECRETS[1])).unwrap();
    let path = dir.join("auditmirror.toml");
    std::fs::write(
        &path,
        format!(
            r#"[database]
path = "mirror.sqlite"

[[gong]]
name = "acme"
base_url = "http://127.0.0.1:9"
access_key = "{}"
access_key_secret_file = "gong-secret"
log_types = ["AccessLog", "UserCallPlay"]

[[genesys]]
name = "emea"
region = "mypurecloud.ie"
client_id = "client-1"
client_secret_env = "AUDITMIRROR_CLI_TEST_SECRET"
"#,
            SECRETS[0]
        ),
    )
    .unwrap();
    path
}

fn run(args: &[&str], config: &Path) -> Output {
    bin()
        .arg("--config")
        .arg(config)
        .args(args)
        .env("AUDITMIRROR_CLI_TEST_SECRET", SECRETS[2])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn check_config_prints_the_resolved_config_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let out = run(&["check-config"], &config);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for s in SECRETS {
        assert!(!all.contains(s), "secret {s} in output:\n{all}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("access_key = \"[redacted] (inline)\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("[redacted] (from $AUDITMIRROR_CLI_TEST_SECRET)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lookback = \"15m\""),
        "defaults are shown resolved: {stdout}"
    );
    // The inline secret sits in a file readable by others: the warning names the fix.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = run(&["check-config"], &config);
        assert!(text(&out).contains("chmod 600"), "{}", text(&out));
    }
}

#[test]
fn config_comes_from_the_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let out = bin()
        .arg("check-config")
        .env("AUDITMIRROR_CONFIG", &config)
        .env("AUDITMIRROR_CLI_TEST_SECRET", SECRETS[2])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_bad_config_exits_2_naming_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        format!(
            "[[gong]]\nname = \"acme\"\nbearer_token = \"{}\"\nschedule = \"*/5 * * * *\"\n",
            SECRETS[3]
        ),
    )
    .unwrap();
    let out = run(&["check-config"], &config);
    assert_eq!(out.status.code(), Some(2));
    let all = text(&out);
    assert!(all.contains("bad.toml:4: gong[acme].schedule"), "{all}");
    assert!(!all.contains(SECRETS[3]), "{all}");
    for args in [&["check-config"][..], &["status"], &["sync"]] {
        let missing = run(args, &dir.path().join("nope.toml"));
        assert_eq!(missing.status.code(), Some(2));
        let all = text(&missing);
        assert!(all.contains("nope.toml"), "{all}");
        // The OS error is said once.
        assert_eq!(all.matches("No such file or directory").count(), 1, "{all}");
    }
}

#[test]
fn bad_usage_exits_2() {
    let out = bin().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn status_on_an_empty_mirror_says_nothing_has_synced() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let out = run(&["status"], &config);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("nothing has synced yet"), "{all}");
    assert!(
        all.contains("gong/acme/AccessLog") && all.contains("genesys/emea/audits"),
        "{all}"
    );
    assert!(
        !dir.path().join("mirror.sqlite").exists(),
        "status must not create the mirror"
    );
    let out = run(&["status", "--json"], &config);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[0]["state"], serde_json::Value::Null);
    for s in SECRETS {
        assert!(!text(&out).contains(s));
    }
}

#[test]
fn status_reports_a_database_newer_than_the_binary_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let conn = rusqlite::Connection::open(dir.path().join("mirror.sqlite")).unwrap();
    conn.execute_batch("PRAGMA user_version = 999;").unwrap();
    drop(conn);
    let out = run(&["status"], &config);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("newer release"), "{}", text(&out));
}

#[test]
fn secret_files_may_live_in_the_systemd_credentials_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::rename(dir.path().join("gong-secret"), creds.join("gong-acme")).unwrap();
    let text_of = std::fs::read_to_string(&config).unwrap().replace(
        "access_key_secret_file = \"gong-secret\"",
        "access_key_secret_file = \"${CREDENTIALS_DIRECTORY}/gong-acme\"",
    );
    std::fs::write(&config, text_of).unwrap();
    let out = bin()
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .env("AUDITMIRROR_CLI_TEST_SECRET", SECRETS[2])
        .env("CREDENTIALS_DIRECTORY", &creds)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // Outside systemd the variable is unset: the error says so and names the key.
    let out = bin()
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .env("AUDITMIRROR_CLI_TEST_SECRET", SECRETS[2])
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gong[acme].access_key_secret_file")
            && err.contains("CREDENTIALS_DIRECTORY is not set"),
        "{err}"
    );
}

#[test]
fn logs_have_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    // An inline secret in a file others may read: a warning is logged.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    for journal in [None, Some("8:12345")] {
        let mut cmd = bin();
        cmd.arg("--config").arg(&config).arg("status");
        match journal {
            Some(v) => cmd.env("JOURNAL_STREAM", v),
            None => cmd.env_remove("JOURNAL_STREAM"),
        };
        let out = cmd.env_remove("NO_COLOR").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("WARN") && err.contains("chmod 600"), "{err}");
        assert!(!err.contains('\x1b'), "JOURNAL_STREAM {journal:?}: {err:?}");
    }
}
