use super::*;
use crate::status::build;
use crate::store::StreamStatus;
use crate::time::{fmt_utc, parse_instant};
use std::path::Path;

fn now() -> DateTime<Utc> {
    parse_instant("2026-11-24T12:01:00Z").unwrap()
}

/// Two Gong streams every 5 minutes (settle 2m: limit 17m) and one Genesys
/// stream every hour with no settle (limit 3h).
fn config() -> Config {
    let src = "[defaults]\nschedule = \"0 */5 * * * *\"\n\
        [[gong]]\nname = \"acme\"\naccess_key = \"AK\"\naccess_key_secret = \"SK\"\n\
        log_types = [\"AccessLog\", \"UserCallPlay\"]\n\
        [[genesys]]\nname = \"emea\"\nregion = \"mypurecloud.ie\"\nclient_id = \"c\"\n\
        client_secret = \"CS\"\nschedule = \"0 0 * * * *\"\nsettle = \"0s\"\n";
    Config::parse(src, Path::new("/etc/auditmirror.toml"), now()).unwrap()
}

/// A stream whose watermark is `lag_secs` behind now.
fn synced(source: &str, account: &str, stream: &str, lag_secs: i64) -> StreamStatus {
    StreamStatus {
        watermark: Some(fmt_utc(now() - chrono::Duration::seconds(lag_secs))),
        ..StreamStatus::new(source, account, stream)
    }
}

fn all_synced(lags: [i64; 3]) -> Vec<StreamStatus> {
    vec![
        synced("gong", "acme", "AccessLog", lags[0]),
        synced("gong", "acme", "UserCallPlay", lags[1]),
        synced("genesys", "emea", "audits", lags[2]),
    ]
}

fn run(known: Vec<StreamStatus>, max_lag: Option<Duration>) -> Check {
    let config = config();
    let reports = build(&config, known, now());
    check(&config, &reports, max_lag, now())
}

#[test]
fn the_default_limit_is_settle_plus_three_periods() {
    let c = config();
    let limits: Vec<Duration> = c
        .accounts
        .iter()
        .map(|a| default_max_lag(&a.settings, now()))
        .collect();
    assert_eq!(
        limits,
        [Duration::from_secs(17 * 60), Duration::from_secs(3 * 3600)]
    );
}

#[test]
fn every_stream_within_its_limit_is_ok() {
    let c = run(all_synced([180, 17 * 60, 2 * 3600]), None);
    assert_eq!(c.health, Health::Ok);
    assert_eq!(
        c.line,
        "OK: 3 streams in sync, largest lag 2h (genesys/emea/audits)"
    );
    assert_eq!(c.health.exit_code(), 0);
}

#[test]
fn a_stream_past_its_limit_or_never_synced_is_a_warning() {
    let c = run(all_synced([2 * 3600, 60, 60]), None);
    assert_eq!(c.health, Health::Warning);
    assert_eq!(c.health.exit_code(), 1);
    assert_eq!(
        c.line,
        "WARNING: 1 of 3 streams lags past 17m: gong/acme/AccessLog 2h"
    );
    let mut known = all_synced([60, 60, 60]);
    known.remove(2);
    let c = run(known, None);
    assert_eq!(
        c.line,
        "WARNING: 1 of 3 streams lags past 3h: genesys/emea/audits never synced"
    );
    // Different limits are named per stream.
    let c = run(all_synced([3600, 60, 4 * 3600]), None);
    assert_eq!(
        c.line,
        "WARNING: 2 of 3 streams lag past their limits: gong/acme/AccessLog 60m (limit 17m), \
         genesys/emea/audits 4h (limit 3h)"
    );
}

#[test]
fn max_lag_overrides_every_limit() {
    let c = run(all_synced([600, 60, 60]), Some(Duration::from_secs(300)));
    assert_eq!(
        c.line,
        "WARNING: 1 of 3 streams lags past 5m: gong/acme/AccessLog 10m"
    );
    let c = run(
        all_synced([600, 60, 4 * 3600]),
        Some(Duration::from_secs(86_400)),
    );
    assert_eq!(c.health, Health::Ok, "{}", c.line);
}

#[test]
fn a_failing_stream_is_critical_and_says_since_when_and_why() {
    let mut known = all_synced([60, 60, 2 * 3600]);
    known[2].last_error = Some("HTTP 401 from login:\n  check client_secret".into());
    known[2].failing_since = Some("2026-11-24T10:00:00.000000Z".into());
    known[0].watermark = None;
    let c = run(known, None);
    assert_eq!(c.health, Health::Critical);
    assert_eq!(c.health.exit_code(), 2);
    assert_eq!(
        c.line,
        "CRITICAL: 1 of 3 streams failing: genesys/emea/audits since 2026-11-24T10:00:00Z: \
         HTTP 401 from login: check client_secret; also 1 stream lags past 17m: \
         gong/acme/AccessLog never synced"
    );
}

#[test]
fn an_unavailable_stream_is_neither_failing_nor_lagging() {
    let mut known = all_synced([60, 5 * 86_400, 60]);
    known[1].unavailable = Some("the tenant has no UserCallPlay log".into());
    known[1].last_error = Some("an older failure".into());
    let c = run(known, None);
    assert_eq!(c.health, Health::Ok, "{}", c.line);
    assert_eq!(
        c.line,
        "OK: 2 of 3 streams in sync, 1 unavailable to the tenant (gong/acme/UserCallPlay), \
         largest lag 60s (gong/acme/AccessLog)"
    );
}

#[test]
fn streams_no_longer_configured_do_not_count() {
    let mut known = all_synced([60, 60, 60]);
    let mut gone = synced("gong", "old", "AccessLog", 30 * 86_400);
    gone.last_error = Some("gone".into());
    known.push(gone);
    assert_eq!(run(known, None).health, Health::Ok);
}

#[test]
fn no_configured_stream_is_a_warning() {
    let config = Config::parse("", Path::new("/etc/a.toml"), now()).unwrap();
    let c = check(&config, &build(&config, Vec::new(), now()), None, now());
    assert_eq!(c.health, Health::Warning);
    assert!(
        c.line.starts_with("WARNING: no streams are configured"),
        "{}",
        c.line
    );
}

#[test]
fn a_long_error_is_cut_to_one_short_line() {
    let long = format!("first line\n{}", "x".repeat(1000));
    let s = short(&long);
    assert!(!s.contains('\n'));
    assert_eq!(s.chars().count(), MAX_ERROR_CHARS + 1, "{s}");
    assert!(s.ends_with('…'));
}

mod schedule;
