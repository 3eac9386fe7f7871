use super::*;
use crate::connectors::genesys::GenesysAccount;
use crate::connectors::gong::{GongAccount, GongAuth, LogType};
use secrecy::ExposeSecret;

/// The `i`-th Gong account: what every account has, and Gong's own part.
fn gong(cfg: &Config, i: usize) -> (&Account, &GongAccount) {
    let a = cfg
        .accounts_of(Source::Gong)
        .nth(i)
        .expect("a Gong account");
    (a, a.vendor_config().expect("Gong's config"))
}

/// The `i`-th Genesys account.
fn genesys(cfg: &Config, i: usize) -> (&Account, &GenesysAccount) {
    let a = cfg
        .accounts_of(Source::Genesys)
        .nth(i)
        .expect("a Genesys account");
    (a, a.vendor_config().expect("Genesys's config"))
}

fn now() -> DateTime<Utc> {
    parse_instant("2026-11-24T12:00:00Z").unwrap()
}

fn parse(src: &str) -> Result<Config, ConfigError> {
    Config::parse(src, Path::new("/etc/auditmirror/auditmirror.toml"), now())
}

const GONG: &str = "[[gong]]\nname = \"acme\"\naccess_key = \"AK-inline-1234\"\naccess_key_secret = \"SK-inline-5678\"\n";
const GENESYS: &str = "[[genesys]]\nname = \"emea\"\nregion = \"mypurecloud.ie\"\nclient_id = \"cid\"\nclient_secret = \"CS-inline-9999\"\n";

/// The example file, with its credential directory pointed at real files.
fn example_with_credentials(dir: &Path) -> String {
    for name in ["gong-acme-key", "gong-acme-secret", "genesys-emea"] {
        std::fs::write(dir.join(name), format!("{name}-value\n")).unwrap();
    }
    let example = include_str!("../../config.example.toml");
    example.replace("${CREDENTIALS_DIRECTORY}", dir.to_str().unwrap())
}

#[test]
fn example_file_loads_with_documented_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = parse(&example_with_credentials(dir.path())).unwrap();
    assert_eq!(
        cfg.database_path,
        PathBuf::from("/var/lib/auditmirror/mirror.sqlite")
    );
    assert_eq!(cfg.log.level.as_deref(), Some("info"));
    assert_eq!(cfg.log.format, Some(LogFormat::Text));
    let (ga, g) = gong(&cfg, 0);
    assert_eq!(g.name, "acme");
    assert_eq!(g.base_url, "https://us-12345.api.gong.io");
    assert_eq!(g.log_types, LogType::ALL);
    assert_eq!(g.requests_per_second, 2.5);
    assert_eq!(g.daily_request_budget, 10_000);
    match &g.auth {
        GongAuth::Basic {
            access_key,
            access_key_secret,
        } => {
            assert_eq!(access_key.value().expose_secret(), "gong-acme-key-value");
            assert_eq!(
                access_key_secret.value().expose_secret(),
                "gong-acme-secret-value"
            );
            assert!(matches!(access_key_secret.origin(), SecretOrigin::File(_)));
        }
        GongAuth::Bearer { .. } => panic!("example uses basic auth"),
    }
    let s = &ga.settings;
    assert_eq!(s.schedule, "0 */5 * * * *");
    assert_eq!(s.lookback, Duration::from_secs(900));
    assert_eq!(s.settle, Duration::from_secs(120));
    assert_eq!(s.start, Start::Ago(Duration::from_secs(30 * 86_400)));
    assert_eq!(s.window, Duration::from_secs(86_400));
    assert_eq!(s.window_records, 10_000);
    assert_eq!(ga.limits, HttpLimits::default());
    let (ea, e) = genesys(&cfg, 0);
    assert_eq!(ea.limits, HttpLimits::default());
    assert_eq!(e.api_base_url, "https://api.mypurecloud.ie");
    assert_eq!(e.login_base_url, "https://login.mypurecloud.ie");
    assert_eq!(e.requests_per_minute, 300);
    assert!(e.services.is_empty());
    assert_eq!(
        e.client_secret.value().expose_secret(),
        "genesys-emea-value"
    );
}

#[test]
fn defaults_are_inherited_and_overridden_per_account() {
    let src = format!(
        "[defaults]\nlookback = \"1h\"\nschedule = \"*/30 * * * * *\"\n\n{GONG}lookback = \"5m\"\n\n{GENESYS}window = \"7d\"\nstart = 2026-01-01T00:00:00Z\n"
    );
    let cfg = parse(&src).unwrap();
    assert_eq!(gong(&cfg, 0).0.settings.lookback, Duration::from_secs(300));
    assert_eq!(gong(&cfg, 0).0.settings.schedule, "*/30 * * * * *");
    assert_eq!(
        genesys(&cfg, 0).0.settings.lookback,
        Duration::from_secs(3600)
    );
    assert_eq!(
        genesys(&cfg, 0).0.settings.window,
        Duration::from_secs(7 * 86_400)
    );
    assert_eq!(
        genesys(&cfg, 0).0.settings.start,
        Start::At(parse_instant("2026-01-01T00:00:00Z").unwrap())
    );
}

#[test]
fn several_accounts_and_relative_paths() {
    let src = format!(
        "[database]\npath = \"data/m.sqlite\"\n{GONG}\n[[gong]]\nname = \"beta\"\nbearer_token = \"tok\"\nlog_types = [\"AccessLog\"]\n\n{GENESYS}\n[[genesys]]\nname = \"us\"\nregion = \"us_east_1\"\nclient_id = \"c\"\nclient_secret = \"s\"\n"
    );
    let cfg = parse(&src).unwrap();
    assert_eq!(
        cfg.database_path,
        PathBuf::from("/etc/auditmirror/data/m.sqlite")
    );
    assert_eq!(cfg.accounts_of(Source::Gong).count(), 2);
    assert!(matches!(gong(&cfg, 1).1.auth, GongAuth::Bearer { .. }));
    assert_eq!(
        genesys(&cfg, 1).1.api_base_url,
        "https://api.mypurecloud.com"
    );
}

#[test]
fn loopback_http_is_allowed_for_the_simulator() {
    let src = "[[gong]]\nname = \"sim\"\nbase_url = \"http://127.0.0.1:41001/\"\nbearer_token = \"t\"\n\n[[genesys]]\nname = \"sim\"\napi_base_url = \"http://localhost:41002\"\nlogin_base_url = \"http://[::1]:41002\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
    let cfg = parse(src).unwrap();
    assert_eq!(gong(&cfg, 0).1.base_url, "http://127.0.0.1:41001");
    assert_eq!(genesys(&cfg, 0).1.login_base_url, "http://[::1]:41002");
}

/// Each malformed config fails, naming the key (and the line it is on).
#[test]
fn malformed_configs_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let unreadable = dir.path().join("missing-secret-file");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad cron",
            format!("[defaults]\nschedule = \"*/5 * * * *\"\n{GONG}"),
            "defaults.schedule",
        ),
        (
            "unknown key",
            format!("{GONG}acces_key_secret = \"x\"\n"),
            "acces_key_secret",
        ),
        (
            "unknown top-level table",
            format!("[databse]\npath = \"x\"\n{GONG}"),
            "databse",
        ),
        (
            "duplicate account",
            format!("{GONG}\n{GONG}"),
            "gong[acme].name",
        ),
        (
            "missing secret",
            "[[gong]]\nname = \"acme\"\naccess_key = \"k\"\n".to_owned(),
            "gong[acme].access_key_secret",
        ),
        (
            "http to non-loopback",
            format!("{GONG}base_url = \"http://us-1.api.gong.io\"\n"),
            "gong[acme].base_url",
        ),
        (
            "bad duration",
            format!("{GONG}lookback = \"15 minutes ago\"\n"),
            "gong[acme].lookback",
        ),
        (
            "start in the future",
            format!("{GONG}start = \"2030-01-01T00:00:00Z\"\n"),
            "gong[acme].start",
        ),
        (
            "empty log_types",
            format!("{GONG}log_types = []\n"),
            "gong[acme].log_types",
        ),
        (
            "unknown log type",
            format!("{GONG}log_types = [\"AuditLog\"]\n"),
            "gong[acme].log_types",
        ),
        (
            "unreadable secret file",
            format!(
                "[[gong]]\nname = \"acme\"\naccess_key = \"k\"\naccess_key_secret_file = \"{}\"\n",
                unreadable.display()
            ),
            "gong[acme].access_key_secret_file",
        ),
        (
            "both KEY and KEY_file",
            format!("{GONG}access_key_secret_file = \"/x\"\n"),
            "gong[acme].access_key_secret",
        ),
        (
            "unset env secret",
            GENESYS.replace(
                "client_secret = \"CS-inline-9999\"",
                "client_secret_env = \"AUDITMIRROR_TEST_UNSET_VAR\"",
            ),
            "genesys[emea].client_secret_env",
        ),
        (
            "window over 31 days",
            format!("{GENESYS}window = \"32d\"\n"),
            "genesys[emea].window",
        ),
        (
            "unknown region",
            GENESYS.replace("mypurecloud.ie", "mypurecloud.ei"),
            "genesys[emea].region",
        ),
        (
            "bad rate",
            format!("{GONG}requests_per_second = 0.0\n"),
            "gong[acme].requests_per_second",
        ),
        (
            "wrong type",
            format!("{GONG}daily_request_budget = \"lots\"\n"),
            "daily_request_budget",
        ),
        (
            "bad account name",
            GONG.replace("\"acme\"", "\"ac me\""),
            "gong.name",
        ),
        (
            "ftp scheme",
            GENESYS.replace(
                "region = \"mypurecloud.ie\"",
                "api_base_url = \"ftp://x\"\nlogin_base_url = \"https://login.x\"",
            ),
            "genesys[emea].api_base_url",
        ),
        (
            "bad log level",
            format!("[log]\nlevel = \"loud\"\n{GONG}"),
            "log.level",
        ),
        (
            "bad log format",
            format!("[log]\nformat = \"xml\"\n{GONG}"),
            "log.format",
        ),
    ];
    assert!(cases.len() >= 10);
    for (what, src, key) in cases {
        let err = match parse(&src) {
            Ok(_) => panic!("{what}: config was accepted:\n{src}"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(key),
            "{what}: error does not name `{key}`: {err}"
        );
        assert!(
            err.contains("line") || err.contains(".toml:"),
            "{what}: error gives no line: {err}"
        );
        assert!(
            !err.contains("inline-"),
            "{what}: error shows a secret: {err}"
        );
    }
}

#[test]
fn errors_point_at_the_right_line() {
    let src = format!("{GONG}\nlookback = \"nope\"\n");
    let err = parse(&src).unwrap_err().to_string();
    assert!(
        err.starts_with("/etc/auditmirror/auditmirror.toml:6: gong[acme].lookback:"),
        "{err}"
    );
}

#[test]
fn secrets_never_reach_debug_or_render() {
    std::env::set_var("AUDITMIRROR_TEST_GENESYS_SECRET", "CS-env-4242");
    let src = format!(
        "{GONG}\n{}",
        GENESYS.replace(
            "client_secret = \"CS-inline-9999\"",
            "client_secret_env = \"AUDITMIRROR_TEST_GENESYS_SECRET\""
        )
    );
    let cfg = parse(&src).unwrap();
    let shown = format!("{cfg:?}\n{}", cfg.render());
    for secret in ["AK-inline-1234", "SK-inline-5678", "CS-env-4242"] {
        assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
    }
    assert!(shown.contains("[redacted] (from $AUDITMIRROR_TEST_GENESYS_SECRET)"));
    // The rendered config is itself valid TOML.
    toml::from_str::<toml::Table>(&cfg.render()).unwrap();
}

#[cfg(unix)]
#[test]
fn inline_secret_in_a_readable_file_warns() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auditmirror.toml");
    std::fs::write(&path, GONG).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = Config::load(&path).unwrap();
    assert!(
        cfg.warnings.iter().any(|w| w.contains("chmod 600")),
        "{:?}",
        cfg.warnings
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Config::load(&path).unwrap().warnings.is_empty());
}

#[test]
fn cron_is_checked_like_the_scheduler_does() {
    assert!(check_cron("0 */5 * * * *").is_ok());
    assert!(check_cron("*/1 * * * * *").is_ok());
    assert!(check_cron("@hourly").is_ok());
    assert!(check_cron("*/5 * * * *").is_err());
    assert!(check_cron("0 61 * * * *").is_err());
    assert!(check_cron("").is_err());
}

#[test]
fn start_resolves_against_now() {
    let at = parse_instant("2026-11-01T00:00:00Z").unwrap();
    assert_eq!(Start::At(at).resolve(now()), at);
    assert_eq!(
        Start::Ago(Duration::from_secs(86_400)).resolve(now()),
        parse_instant("2026-11-23T12:00:00Z").unwrap()
    );
}

/// `src` fails with an error that starts `PATH:line: key:` and says `says`.
fn fails_at(src: &str, line: usize, key: &str, says: &str) {
    let err = match parse(src) {
        Ok(_) => panic!("accepted:\n{src}"),
        Err(e) => e.to_string(),
    };
    let prefix = format!("/etc/auditmirror/auditmirror.toml:{line}: {key}:");
    assert!(err.starts_with(&prefix), "want {prefix}\n got {err}");
    assert!(err.contains(says), "want `{says}` in {err}");
}

#[test]
fn http_limits_default_to_32mb_60s_2m() {
    let cfg = parse(&format!("{GONG}\n{GENESYS}")).unwrap();
    let want = HttpLimits {
        max_body_bytes: 32 * 1024 * 1024,
        response_timeout: Duration::from_secs(60),
        total_timeout: Duration::from_secs(120),
    };
    assert_eq!(HttpLimits::default(), want);
    assert_eq!(gong(&cfg, 0).0.limits, want);
    assert_eq!(genesys(&cfg, 0).0.limits, want);
    let shown = cfg.render();
    assert!(
        shown.contains("max_body_mb = 32\nresponse_timeout = \"1m\"\ntotal_timeout = \"2m\""),
        "{shown}"
    );
}

#[test]
fn http_limits_are_inherited_and_overridden_per_account() {
    let src = format!(
        "[defaults]\nmax_body_mb = 8\nresponse_timeout = \"30s\"\n\n{GONG}total_timeout = \"10m\"\n\n{GENESYS}max_body_mb = 1024\nresponse_timeout = \"10m\"\ntotal_timeout = \"1h\"\n"
    );
    let cfg = parse(&src).unwrap();
    let g = gong(&cfg, 0).0.limits;
    assert_eq!(g.max_body_bytes, 8 * 1024 * 1024);
    assert_eq!(g.response_timeout, Duration::from_secs(30));
    assert_eq!(g.total_timeout, Duration::from_secs(600));
    let e = genesys(&cfg, 0).0.limits;
    assert_eq!(e.max_body_bytes, 1024 * 1024 * 1024);
    assert_eq!(e.response_timeout, Duration::from_secs(600));
    assert_eq!(e.total_timeout, Duration::from_secs(3600));
    let lowest =
        format!("{GONG}max_body_mb = 1\nresponse_timeout = \"1s\"\ntotal_timeout = \"1s\"\n");
    let lowest = parse(&lowest).unwrap();
    let l = gong(&lowest, 0).0.limits;
    assert_eq!(
        (l.max_body_bytes, l.response_timeout, l.total_timeout),
        (1024 * 1024, Duration::from_secs(1), Duration::from_secs(1))
    );
}

#[test]
fn http_limits_out_of_range_name_key_and_line() {
    let g = "gong[acme]";
    let e = "genesys[emea]";
    for (extra, key, says) in [
        ("max_body_mb = 0", "max_body_mb", "use 1 to 1024"),
        ("max_body_mb = 1025", "max_body_mb", "use 1 to 1024"),
        ("max_body_mb = -1", "max_body_mb", "use 1 to 1024"),
        (
            "response_timeout = \"0s\"",
            "response_timeout",
            "use 1s to 10m",
        ),
        (
            "response_timeout = \"11m\"",
            "response_timeout",
            "use 1s to 10m",
        ),
        (
            "response_timeout = \"soon\"",
            "response_timeout",
            "not a duration",
        ),
        ("total_timeout = \"500ms\"", "total_timeout", "use 1s to 1h"),
        ("total_timeout = \"2h\"", "total_timeout", "use 1s to 1h"),
        (
            "total_timeout = \"99999999d\"",
            "total_timeout",
            "use 1s to 1h",
        ),
        ("total_timeout = \"30s\"", "total_timeout", "shorter than"),
        (
            "response_timeout = \"5m\"",
            "response_timeout",
            "shorter than",
        ),
    ] {
        fails_at(&format!("{GONG}{extra}\n"), 5, &format!("{g}.{key}"), says);
        fails_at(
            &format!("{GENESYS}{extra}\n"),
            6,
            &format!("{e}.{key}"),
            says,
        );
        let inherited = format!("[defaults]\n{extra}\n\n{GONG}");
        fails_at(&inherited, 2, &format!("defaults.{key}"), says);
    }
    let wrong_type = format!("{GONG}max_body_mb = \"32MB\"\n");
    let err = parse(&wrong_type).unwrap_err().to_string();
    assert!(
        err.contains("max_body_mb") && err.contains("line 5"),
        "{err}"
    );
}

#[test]
fn durations_past_their_bounds_name_key_and_line() {
    for (extra, key, says) in [
        ("lookback = \"99999999d\"", "lookback", "use 0s to 30d"),
        ("lookback = \"31d\"", "lookback", "use 0s to 30d"),
        (
            "lookback = \"18446744073709551615s\"",
            "lookback",
            "use 0s to 30d",
        ),
        ("settle = \"25h\"", "settle", "use 0s to 1d"),
        ("settle = \"999999999d\"", "settle", "use 0s to 1d"),
        ("window = \"30s\"", "window", "use 1m to 366d"),
        ("window = \"0s\"", "window", "use 1m to 366d"),
        ("window = \"999999999d\"", "window", "use 1m to 366d"),
        ("start = \"999999999d\"", "start", "at most 100y"),
        ("start = \"36526d\"", "start", "at most 100y"),
        ("start = \"0001-01-01T00:00:00Z\"", "start", "at most 100y"),
        ("start = 1900-01-01T00:00:00Z", "start", "at most 100y"),
        ("start = \"9999-12-31T23:59:59Z\"", "start", "in the future"),
        ("start = \"+262143-12-31T23:59:59Z\"", "start", "neither"),
    ] {
        fails_at(
            &format!("{GONG}{extra}\n"),
            5,
            &format!("gong[acme].{key}"),
            says,
        );
        let inherited = format!("[defaults]\n{extra}\n\n{GENESYS}");
        fails_at(&inherited, 2, &format!("defaults.{key}"), says);
    }
}

#[test]
fn the_longest_window_is_the_vendors_own() {
    // Genesys accepts audit queries of at most 31 days; Gong has no such limit.
    fails_at(
        &format!("{GENESYS}window = \"32d\"\n"),
        6,
        "genesys[emea].window",
        "use 1m to 31d",
    );
    fails_at(
        &format!("[defaults]\nwindow = \"40d\"\n{GONG}\n{GENESYS}"),
        2,
        "defaults.window",
        "use 1m to 31d",
    );
    let cfg = parse(&format!("{GONG}window = \"90d\"\n")).unwrap();
    assert_eq!(
        gong(&cfg, 0).0.settings.window,
        Duration::from_secs(90 * 86_400)
    );
}

#[test]
fn durations_at_their_bounds_are_accepted() {
    let src = format!(
        "{GONG}lookback = \"30d\"\nsettle = \"1d\"\nstart = \"36500d\"\n\n{GENESYS}window = \"1m\"\nstart = \"100y\"\n"
    );
    let cfg = parse(&src).unwrap();
    let g = &gong(&cfg, 0).0.settings;
    assert_eq!(g.lookback, MAX_LOOKBACK);
    assert_eq!(g.settle, MAX_SETTLE);
    assert_eq!(g.start, Start::Ago(Duration::from_secs(36_500 * 86_400)));
    let e = &genesys(&cfg, 0).0.settings;
    assert_eq!(e.window, MIN_WINDOW);
    assert_eq!(e.start, Start::Ago(MAX_START_AGO));
    let oldest = format!("{GONG}start = 1926-11-25T00:00:00Z\nwindow = \"31d\"\n");
    assert!(parse(&oldest).is_ok());
}

#[test]
fn start_resolve_saturates_instead_of_overflowing() {
    let min = DateTime::<Utc>::MIN_UTC;
    assert_eq!(Start::Ago(Duration::MAX).resolve(now()), min);
    assert_eq!(Start::Ago(Duration::from_secs(1)).resolve(min), min);
    let max = DateTime::<Utc>::MAX_UTC;
    assert_eq!(Start::At(max).resolve(min), max);
    assert!(Start::Ago(Duration::from_secs(999_999_999 * 86_400)).resolve(max) < max);
}

proptest::proptest! {
    #[test]
    fn start_resolve_never_panics(
        secs in proptest::prelude::any::<u64>(),
        nanos in 0u32..1_000_000_000,
        now_us in proptest::prelude::any::<i64>(),
        at_us in proptest::prelude::any::<i64>(),
    ) {
        let now = crate::time::from_micros(now_us);
        let ago = Start::Ago(Duration::new(secs, nanos)).resolve(now);
        proptest::prop_assert!(ago <= now);
        let at = crate::time::from_micros(at_us);
        proptest::prop_assert_eq!(Start::At(at).resolve(now), at);
    }
}

#[test]
fn oversized_secret_files_are_refused_not_read_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, "x".repeat(64 * 1024 + 1)).unwrap();
    let mut paths = vec![big.display().to_string()];
    if cfg!(unix) {
        paths.push("/dev/zero".to_owned());
    }
    for p in paths {
        let src = format!("[[gong]]\nname = \"acme\"\nbearer_token_file = \"{p}\"\n");
        fails_at(
            &src,
            3,
            "gong[acme].bearer_token_file",
            "larger than 64 KiB",
        );
    }
    std::fs::write(&big, "x".repeat(64 * 1024)).unwrap();
    let src = format!(
        "[[gong]]\nname = \"acme\"\nbearer_token_file = \"{}\"\n",
        big.display()
    );
    assert!(parse(&src).is_ok());
}

mod skip;
