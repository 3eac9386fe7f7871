//! Config values past their bounds are config errors (exit 2, key and line
//! named), never a panic later in `sync`; and the parser returns Ok or Err,
//! never panics, on any text at all.

use auditmirror::config::Config;
use auditmirror::sync::{plan, Range};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_auditmirror"));
    c.env_remove("AUDITMIRROR_CONFIG").env_remove("RUST_LOG");
    c
}

/// A Gong account that can reach nothing, `extra` on line 6, in `dir`.
fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("limits.toml");
    let text = format!(
        "[database]\npath = \"mirror.sqlite\"\n\n[[gong]]\nname = \"acme\"\n{extra}\nbase_url = \"http://127.0.0.1:9\"\nbearer_token = \"TOK-limits-test\"\n"
    );
    std::fs::write(&path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

fn run(args: &[&str], config: &Path) -> Output {
    bin()
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Both `check-config` and `sync` exit 2 naming `want` (file:line: key), no panic.
fn refused(extra: &str, want: &str, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), extra);
    for cmd in ["check-config", "sync"] {
        let out = run(&[cmd], &config);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{cmd} with {extra}: {err}");
        assert_eq!(out.status.code(), Some(2), "{cmd} with {extra}: {err}");
        assert!(err.contains(want), "{cmd}: want `{want}` in {err}");
        assert!(err.contains(says), "{cmd}: want `{says}` in {err}");
        assert!(!err.contains("TOK-limits-test"), "{err}");
    }
    assert!(
        !dir.path().join("mirror.sqlite").exists(),
        "a refused config must not create the mirror"
    );
}

#[test]
fn a_start_999999999_days_back_exits_2_naming_key_and_line() {
    refused(
        "start = \"999999999d\"",
        "limits.toml:6: gong[acme].start",
        "at most 100y",
    );
}

#[test]
fn a_lookback_of_99999999_days_exits_2_naming_key_and_line() {
    refused(
        "lookback = \"99999999d\"",
        "limits.toml:6: gong[acme].lookback",
        "use 0s to 30d",
    );
}

#[test]
fn an_instant_far_in_the_past_exits_2_naming_key_and_line() {
    refused(
        "start = 0001-01-01T00:00:00Z",
        "limits.toml:6: gong[acme].start",
        "at most 100y",
    );
}

#[test]
fn http_limits_out_of_range_exit_2_naming_key_and_line() {
    refused(
        "max_body_mb = 4096",
        "limits.toml:6: gong[acme].max_body_mb",
        "use 1 to 1024",
    );
    refused(
        "response_timeout = \"1h\"",
        "limits.toml:6: gong[acme].response_timeout",
        "use 1s to 10m",
    );
    refused(
        "total_timeout = \"999999999d\"",
        "limits.toml:6: gong[acme].total_timeout",
        "use 1s to 1h",
    );
}

#[test]
fn check_config_shows_the_http_limits_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "max_body_mb = 8\nstart = \"36500d\"");
    let out = run(&["check-config"], &config);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "max_body_mb = 8\n",
        "response_timeout = \"1m\"\n",
        "total_timeout = \"2m\"\n",
    ] {
        assert!(stdout.contains(want), "want {want:?} in {stdout}");
    }
}

// ---------------------------------------------------------------------------
// The parser under arbitrary input.

fn now() -> DateTime<Utc> {
    auditmirror::time::parse_instant("2026-11-24T12:00:00Z").unwrap()
}

/// A directory with the example's credential files, and the example pointing there.
fn fixture() -> &'static (tempfile::TempDir, String) {
    static FIXTURE: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        for name in ["gong-acme-key", "gong-acme-secret", "genesys-emea"] {
            std::fs::write(dir.path().join(name), format!("{name}-value\n")).unwrap();
        }
        let example = include_str!("../config.example.toml")
            .replace("${CREDENTIALS_DIRECTORY}", dir.path().to_str().unwrap());
        (dir, example)
    })
}

/// Parses `src`: Ok or Err, and either way what it yields must print and plan.
fn parse_any(src: &str) -> Result<(), TestCaseError> {
    let path = fixture().0.path().join("auditmirror.toml");
    match Config::parse(src, &path, now()) {
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
        }
        Ok(cfg) => {
            cfg.render();
            for s in cfg.accounts.iter().map(|a| &a.settings) {
                let keep = Some(chrono::Duration::days(365));
                plan(Range::Incremental, None, s, keep, now());
                plan(Range::Incremental, Some(now()), s, None, now());
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(prop::sample::Index),
    Insert(prop::sample::Index, u8),
    Replace(prop::sample::Index, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<prop::sample::Index>();
    prop_oneof![
        at.clone().prop_map(Edit::Delete),
        (at.clone(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        (at, any::<u8>()).prop_map(|(i, b)| Edit::Replace(i, b)),
    ]
}

fn mutate(src: &str, edits: &[Edit]) -> String {
    let mut b = src.as_bytes().to_vec();
    for e in edits {
        match *e {
            Edit::Delete(i) if !b.is_empty() => {
                b.remove(i.index(b.len()));
            }
            Edit::Insert(i, v) => b.insert(i.index(b.len() + 1), v),
            Edit::Replace(i, v) if !b.is_empty() => {
                let at = i.index(b.len());
                b[at] = v;
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

const DURATIONS: &[&str] = &[
    "\"999999999d\"",
    "\"99999999d\"",
    "\"18446744073709551615s\"",
    "\"36525d\"",
    "\"31d\"",
    "\"10m\"",
    "\"1ns\"",
    "\"0\"",
    "\"-1d\"",
    "\"\"",
];
const STARTS: &[&str] = &[
    "\"999999999d\"",
    "\"100y\"",
    "\"36526d\"",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1979-05-27",
    "\"-262144-01-01T00:00:00Z\"",
    "\"+262143-12-31T23:59:59-23:59\"",
    "\"2026-11-24T12:00:00Z\"",
];
const INTS: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "0",
    "1",
    "1024",
    "1025",
];
const FLOATS: &[&str] = &["1e308", "nan", "-inf", "0.0", "1000.0", "-0.0"];
const TEXTS: &[&str] = &[
    "\"\"",
    "\"A=B\\u0000\"",
    "\"\u{e9}\\n[x]\"",
    "\"http://[::1]:0/\"",
];

/// Keys every table knows (so lines get past `deny_unknown_fields`) with values
/// of their type, at and past their bounds.
const COMMON: &[(&str, &[&str])] = &[
    ("schedule", &["\"* * * * * *\"", "\"0 0 0 31 2 *\"", "\"\""]),
    ("lookback", DURATIONS),
    ("settle", DURATIONS),
    ("start", STARTS),
    ("window", DURATIONS),
    ("window_records", INTS),
    ("max_body_mb", INTS),
    ("response_timeout", DURATIONS),
    ("total_timeout", DURATIONS),
];
const GONG: &[(&str, &[&str])] = &[
    ("requests_per_second", FLOATS),
    ("daily_request_budget", INTS),
    (
        "log_types",
        &["[]", "[\"AccessLog\", \"AccessLog\"]", "[\"\"]"],
    ),
    ("base_url", TEXTS),
    ("bearer_token_env", TEXTS),
];
const GENESYS: &[(&str, &[&str])] = &[
    ("requests_per_minute", INTS),
    ("services", &["[]", "[\"a\", \"a\"]", "[\" \"]"]),
    ("mode", TEXTS),
    ("client_secret_env", TEXTS),
];

/// Some of `keys`, each at most once, with one of its values.
fn lines(
    keys: &'static [(&'static str, &'static [&'static str])],
) -> impl Strategy<Value = String> {
    let pick = (prop::bool::weighted(0.3), any::<prop::sample::Index>());
    prop::collection::vec(pick, keys.len()).prop_map(move |picks| {
        let mut out = String::new();
        for ((key, values), (set, i)) in keys.iter().zip(picks) {
            if set {
                out.push_str(&format!("{key} = {}\n", values[i.index(values.len())]));
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_is_ok_or_err(s in any::<String>(), bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_any(&s)?;
        parse_any(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn mutations_of_the_example_are_ok_or_err(edits in prop::collection::vec(edit(), 1..8)) {
        parse_any(&mutate(&fixture().1, &edits))?;
    }

    #[test]
    fn extreme_values_in_every_table_are_ok_or_err(
        d in lines(COMMON),
        (c, g) in (lines(COMMON), lines(GONG)),
        e in lines(GENESYS),
    ) {
        parse_any(&format!("[defaults]\n{d}\n[[gong]]\nname = \"g\"\nbearer_token = \"t\"\n{c}{g}"))?;
        parse_any(&format!("[defaults]\n{d}\n[[genesys]]\nname = \"e\"\nregion = \"eu_west_1\"\nclient_id = \"c\"\nclient_secret = \"s\"\n{c}{e}"))?;
    }
}
