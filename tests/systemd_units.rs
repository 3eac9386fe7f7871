//! The unit files in systemd/: `systemd-analyze security` keeps their exposure at
//! or below 2.0, `systemd-analyze verify` finds nothing to say about them, and the
//! two units share the user, state directory, credentials and sandbox.
//! The systemd-analyze checks are skipped (and pass) where it is not installed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const UNITS: [&str; 2] = ["auditmirror.service", "auditmirror-sync.service"];
const MAX_EXPOSURE: f64 = 2.0;

fn unit_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("systemd")
        .join(name)
}

/// Runs systemd-analyze; None when it is not installed.
fn analyze(args: &[&str], file: &Path) -> Option<Output> {
    match Command::new("systemd-analyze")
        .args(args)
        .arg(file)
        .output()
    {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("systemd-analyze is not on PATH: systemd unit check skipped");
            None
        }
        Err(e) => panic!("cannot run systemd-analyze: {e}"),
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn exposure_is_at_most_two() {
    for name in UNITS {
        let path = unit_path(name);
        let args = ["security", "--offline=true", "--no-pager"];
        let Some(out) = analyze(&args, &path) else {
            return;
        };
        let all = text(&out);
        assert!(out.status.success(), "{name}: {}\n{all}", out.status);
        let score: f64 = all
            .lines()
            .find(|l| l.contains("Overall exposure level for"))
            .and_then(|l| l.rsplit(": ").next())
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no overall exposure level in:\n{all}"));
        println!("{name}: exposure {score}");
        assert!(
            score <= MAX_EXPOSURE,
            "{name}: exposure {score} > {MAX_EXPOSURE}\n{all}"
        );
    }
}

/// `verify` exits 0 even for unknown keys or unparsable values; it only prints
/// them, prefixed with the file's path or the unit's name. So: no line may name it.
#[test]
fn units_verify_without_complaint() {
    let dir = tempfile::tempdir().unwrap();
    let exe = format!(
        "\"{}\"",
        env!("CARGO_BIN_EXE_auditmirror").replace('%', "%%")
    );
    for name in UNITS {
        let unit = std::fs::read_to_string(unit_path(name)).unwrap();
        assert!(
            unit.contains("ExecStart=/usr/local/bin/auditmirror "),
            "{name}"
        );
        let copy = dir.path().join(name);
        let rewritten = unit.replace(
            "ExecStart=/usr/local/bin/auditmirror ",
            &format!("ExecStart={exe} "),
        );
        std::fs::write(&copy, rewritten).unwrap();
        let Some(out) = analyze(&["verify"], &copy) else {
            return;
        };
        let all = text(&out);
        assert!(out.status.success(), "{name}: {}\n{all}", out.status);
        let ours: Vec<&str> = all.lines().filter(|l| l.contains(name)).collect();
        assert!(
            ours.is_empty(),
            "systemd-analyze verify on {name}:\n{}",
            ours.join("\n")
        );
    }
}

/// The keys a manual sync must share with the daemon to open its database and
/// be held to the same sandbox: everything in [Service] except how it runs.
fn shared_settings(name: &str) -> BTreeSet<String> {
    const OWN: [&str; 11] = [
        "Type",
        "NotifyAccess",
        "ExecStart",
        "ExecReload",
        "WatchdogSec",
        "TimeoutStartSec",
        "TimeoutStopSec",
        "Restart",
        "RestartSec",
        "RestartPreventExitStatus",
        "Environment",
    ];
    let unit = std::fs::read_to_string(unit_path(name)).unwrap();
    let mut section = "";
    let mut settings = BTreeSet::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[Service]"
            && !line.is_empty()
            && !line.starts_with('#')
            && !OWN.contains(&line.split('=').next().unwrap())
        {
            settings.insert(line.to_string());
        }
    }
    settings
}

#[test]
fn both_units_share_user_state_credentials_and_sandbox() {
    let daemon = shared_settings(UNITS[0]);
    let sync = shared_settings(UNITS[1]);
    assert!(daemon.contains("DynamicUser=yes") && daemon.contains("StateDirectory=auditmirror"));
    let odd: Vec<_> = daemon.symmetric_difference(&sync).collect();
    assert!(odd.is_empty(), "set in one unit only: {odd:?}");
}
