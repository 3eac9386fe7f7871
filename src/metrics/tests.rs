use super::serve::unready;
use super::*;
use crate::record::Source;
use crate::store::StreamStatus;

fn key() -> StreamKey {
    StreamKey {
        source: Source::Gong,
        account: "acme".into(),
        stream: "AccessLog".into(),
    }
}

fn config(text: &str) -> Config {
    let dir = std::env::temp_dir();
    Config::parse(text, &dir.join("t.toml"), crate::clock::now()).unwrap()
}

const GONG: &str = r#"
[database]
path = "m.sqlite"
[defaults]
schedule = "0 */5 * * * *"
[[gong]]
name = "acme"
access_key = "k"
access_key_secret = "s"
log_types = ["AccessLog"]
"#;

#[test]
fn families_are_named_by_convention_and_counted() {
    let m = Metrics::new();
    m.page_written(
        &key(),
        &PageCounts {
            inserted: 5,
            updated: 1,
            unchanged: 2,
            rejected: 0,
        },
    );
    m.run_ended(&key(), "success");
    let o = m.observer(&key());
    o.request(Some(StatusCode::OK), Duration::from_millis(120));
    o.request(
        Some(StatusCode::TOO_MANY_REQUESTS),
        Duration::from_millis(3),
    );
    o.request(None, Duration::from_secs(2));
    o.retry();
    let text = m
        .render(None, &config(GONG), crate::clock::now(), Format::Prometheus)
        .unwrap();
    for line in [
        "# TYPE auditmirror_records_total counter",
        "auditmirror_records_total{source=\"gong\",account=\"acme\",stream=\"AccessLog\",outcome=\"inserted\"} 5",
        "auditmirror_records_total{source=\"gong\",account=\"acme\",stream=\"AccessLog\",outcome=\"rejected\"} 0",
        "auditmirror_requests_total{source=\"gong\",account=\"acme\",status_class=\"2xx\"} 1",
        "auditmirror_requests_total{source=\"gong\",account=\"acme\",status_class=\"4xx\"} 1",
        "auditmirror_requests_total{source=\"gong\",account=\"acme\",status_class=\"error\"} 1",
        "auditmirror_retries_total{source=\"gong\",account=\"acme\"} 1",
        "auditmirror_request_duration_seconds_bucket{le=\"0.25\",source=\"gong\",account=\"acme\"} 2",
        "auditmirror_request_duration_seconds_count{source=\"gong\",account=\"acme\"} 3",
        "auditmirror_sync_runs_total{source=\"gong\",account=\"acme\",stream=\"AccessLog\",outcome=\"success\"} 1",
        "# TYPE auditmirror_build_info gauge",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    assert!(!text.contains("# EOF"));
    let om = m
        .render(
            None,
            &config(GONG),
            crate::clock::now(),
            Format::OpenMetrics,
        )
        .unwrap();
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE auditmirror_records counter\n"));
}

#[test]
fn a_stream_failing_for_three_periods_makes_the_daemon_unready() {
    let c = config(GONG);
    let now: DateTime<Utc> = "2026-12-05T12:00:00Z".parse().unwrap();
    let status = |since: &str| StreamStatus {
        last_error: Some("HTTP 401: check access_key".into()),
        failing_since: Some(since.into()),
        ..StreamStatus::new("gong", "acme", "AccessLog")
    };
    // Every 5 minutes: 15 minutes of failing is the limit.
    let recent = [status("2026-12-05T11:46:00.000000Z")];
    assert!(unready(&c, &recent, Ok(()), now).is_empty());
    let long = [status("2026-12-05T11:44:00.000000Z")];
    let reasons = unready(&c, &long, Ok(()), now);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("gong/acme/AccessLog failing since 2026-12-05T11:44:00Z: HTTP 401")
    );
    let ro = unready(&c, &recent, Err("read-only".into()), now);
    assert_eq!(ro, vec!["read-only".to_owned()]);
    let mut gone = status("2026-12-05T10:00:00.000000Z");
    gone.unavailable = Some("the tenant lacks AccessLog".into());
    assert!(unready(&c, &[gone], Ok(()), now).is_empty());
}

#[test]
fn metrics_listen_must_be_an_address() {
    let bad = format!("{GONG}\n[metrics]\nlisten = \"localhost\"\n");
    let dir = std::env::temp_dir();
    let e = Config::parse(&bad, &dir.join("t.toml"), crate::clock::now()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("metrics.listen") && text.contains("t.toml:13:"),
        "{text}"
    );
    let good = config(&format!("{GONG}\n[metrics]\nlisten = \"127.0.0.1:9464\"\n"));
    assert_eq!(good.metrics.listen, Some("127.0.0.1:9464".parse().unwrap()));
}
