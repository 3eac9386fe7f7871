//! What the real binary says about itself: shell completions, the man page,
//! help texts, and where `--config` applies.

use std::process::{Command, Output};

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auditmirror"))
        .args(args)
        .env_remove("AUDITMIRROR_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn all(o: &Output) -> String {
    format!("{}{}", stdout(o), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn completions_for_every_shell_name_the_commands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = bin(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", all(&out));
        let script = stdout(&out);
        for command in ["sync", "backfill", "status", "check-config", "completions"] {
            assert!(
                script.contains(command),
                "{shell}: no {command} in\n{script}"
            );
        }
        assert!(script.contains("max-lag"), "{shell}: {script}");
    }
    let out = bin(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", all(&out));
}

#[test]
fn the_man_page_is_roff_describing_every_command() {
    let out = bin(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let page = stdout(&out);
    assert!(page.starts_with(".TH auditmirror 1"), "{page}");
    for command in ["sync", "backfill", "status", "run", "demo", "simulate"] {
        assert!(
            page.contains(&format!(".SS \"auditmirror {command}\"")),
            "no section for {command}:\n{page}"
        );
    }
    assert!(page.contains("\\-\\-max\\-lag"), "{page}");
    // One page: no reference to per-command pages that do not exist.
    assert!(!page.contains("auditmirror-sync(1)"), "{page}");
}

#[test]
fn config_is_no_option_of_the_commands_that_read_none() {
    for args in [
        &["demo"][..],
        &["simulate"],
        &["completions", "bash"],
        &["man"],
    ] {
        let command = args[0];
        let help = stdout(&bin(&[command, "--help"]));
        assert!(!help.contains("--config"), "{command}:\n{help}");
        let out = bin(&[&["--config", "x.toml"][..], args].concat());
        assert_eq!(out.status.code(), Some(2), "{command}: {}", all(&out));
        assert!(
            all(&out).contains(&format!("--config does not apply to `{command}`")),
            "{}",
            all(&out)
        );
    }
    for command in ["sync", "backfill", "status", "run", "check-config"] {
        let help = stdout(&bin(&[command, "--help"]));
        assert!(help.contains("--config"), "{command}:\n{help}");
    }
}

#[test]
fn config_after_the_command_wins_over_before_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[database]\npath = \"m.sqlite\"\n").unwrap();
    let missing = dir.path().join("missing.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_auditmirror"))
        .arg("--config")
        .arg(&missing)
        .arg("check-config")
        .arg("--config")
        .arg(&good)
        .env("AUDITMIRROR_CONFIG", &missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    assert!(stdout(&out).contains("good.toml"), "{}", all(&out));
}

#[test]
fn every_simulate_flag_has_help() {
    let help = stdout(&bin(&["simulate", "--help"]));
    let lines: Vec<&str> = help.lines().map(str::trim).collect();
    let flags = lines.iter().filter(|l| l.starts_with("--")).count();
    assert!(flags > 20, "{help}");
    for pair in lines.windows(2) {
        if pair[0].starts_with("--") {
            let next = pair[1];
            assert!(
                !next.is_empty() && !next.starts_with('['),
                "{} has no help text:\n{help}",
                pair[0]
            );
        }
    }
}
