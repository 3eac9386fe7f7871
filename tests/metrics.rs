//! The metrics as an operator meets them: `run` with `[metrics] listen` serves
//! `/metrics` (scraped and parsed as Prometheus text, and as OpenMetrics when
//! asked), `/livez` and `/readyz` (unready once a stream fails for three of its
//! periods); `sync --metrics-textfile` writes the same families to a file.

mod common;

use common::process::{command, run_bin, text};
use common::{count, sim_config, Env};
use prometheus_parse::{Sample, Scrape, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const EVERY_SECOND: &str =
    "schedule = \"* * * * * *\"\nlog_types = [\"AccessLog\", \"UserCallPlay\"]";

/// `run` as a child, its stderr in a file.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(env: &Env) -> Daemon {
        let log = env.dir.path().join("run.log");
        let child = command(&env.config, &["run"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The endpoint's address, from the line the daemon logs when it listens.
    async fn address(&self) -> String {
        let line = wait_for("the endpoint", || {
            let log = self.stderr();
            let at = log.find("/readyz on http://")?;
            let rest = &log[at + "/readyz on http://".len()..];
            Some(
                rest.split_whitespace()
                    .next()?
                    .trim_end_matches('"')
                    .to_owned(),
            )
        })
        .await;
        line.unwrap_or_else(|| panic!("no endpoint\n{}", self.stderr()))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 50 ms for up to 60 s.
async fn wait_for<T>(_what: &str, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(t) = f() {
            return Some(t);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn get(url: &str, accept: Option<&str>) -> (u16, String, String) {
    auditmirror::http::install_tls();
    let mut req = reqwest::Client::new().get(url);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, resp.text().await.unwrap())
}

/// Parses Prometheus text 0.0.4, after checking what the crate's lenient
/// parser lets by: each family's HELP and TYPE come once, before its samples,
/// and its samples are contiguous; every sample has a family; no series twice.
fn parse_strict(text: &str) -> Scrape {
    let (mut typed, mut done, mut series) =
        (Vec::<String>::new(), BTreeSet::new(), BTreeSet::new());
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap().to_owned();
            assert!(!typed.contains(&name), "TYPE {name} twice");
            assert!(
                done.insert(current.clone()) || current.is_empty(),
                "{current} split"
            );
            typed.push(name.clone());
            current = name;
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| *f == current))
            .unwrap_or(name);
        assert_eq!(family, current, "sample {name} outside its family");
        let key = line.rsplit_once(' ').unwrap().0.to_owned();
        assert!(series.insert(key.clone()), "series twice: {key}");
        assert!(!line.contains('@'), "an email in a label: {line}");
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

fn samples<'a>(s: &'a Scrape, metric: &str) -> Vec<&'a Sample> {
    s.samples.iter().filter(|x| x.metric == metric).collect()
}

fn value(s: &Sample) -> f64 {
    match &s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("{} is a {other:?}", s.metric),
    }
}

fn sum(s: &Scrape, metric: &str, label: &str, is: &str) -> f64 {
    samples(s, metric)
        .into_iter()
        .filter(|x| x.labels.get(label) == Some(is))
        .map(value)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_metrics_a_prometheus_parser_reads() {
    let env = Env::start(sim_config(71, 1, 200), EVERY_SECOND).await;
    let mut text = std::fs::read_to_string(&env.config).unwrap();
    text.push_str("\n[metrics]\nlisten = \"127.0.0.1:0\"\n");
    std::fs::write(&env.config, text).unwrap();
    let truth = env.truth("AccessLog").len() + env.truth("UserCallPlay").len();
    let daemon = Daemon::start(&env);
    let base = format!("http://{}", daemon.address().await);

    assert_eq!(get(&format!("{base}/livez"), None).await.0, 200);
    let mut last = String::new();
    let scrape = wait_for("every row counted", || {
        let body = futures_block(get(&format!("{base}/metrics"), None));
        last = body.2.clone();
        let s = parse_strict(&body.2);
        let inserted = sum(&s, "auditmirror_records_total", "outcome", "inserted");
        // Rows are written before a run's end is recorded: wait for both.
        let ended = sum(&s, "auditmirror_sync_runs_total", "outcome", "success");
        (inserted as usize == truth
            && ended >= 2.0
            && samples(&s, "auditmirror_last_success_timestamp_seconds").len() == 2)
            .then_some((body.1, s))
    })
    .await;
    let (ctype, s) = scrape.unwrap_or_else(|| panic!("{last}\n{}", daemon.stderr()));
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(
        count(&env.db, "SELECT count(*) FROM gong_audit_log_entry"),
        truth as i64
    );
    for family in [
        "auditmirror_requests_total",
        "auditmirror_request_duration_seconds",
        "auditmirror_sync_runs_total",
        "auditmirror_watermark_timestamp_seconds",
        "auditmirror_stream_failing",
        "auditmirror_build_info",
    ] {
        assert!(s.docs.contains_key(family), "no HELP for {family}\n{last}");
    }
    assert!(sum(&s, "auditmirror_requests_total", "status_class", "2xx") >= 2.0);
    // A run each second moves the watermarks on: the scraped one lies
    // between what the mirror holds just before and just after the scrape.
    let stored = |stream: &str| {
        let at: chrono::DateTime<chrono::Utc> =
            common::watermark(&env.db, stream).unwrap().parse().unwrap();
        at.timestamp_micros() as f64 / 1e6
    };
    let before: Vec<f64> = ["AccessLog", "UserCallPlay"].map(stored).to_vec();
    let (_, _, body) = get(&format!("{base}/metrics"), None).await;
    let after: Vec<f64> = ["AccessLog", "UserCallPlay"].map(stored).to_vec();
    let s = parse_strict(&body);
    let marks = samples(&s, "auditmirror_watermark_timestamp_seconds");
    assert_eq!(marks.len(), 2, "{body}");
    for m in marks {
        let stream = m.labels.get("stream").unwrap();
        let i = usize::from(stream == "UserCallPlay");
        assert!(
            before[i] - 1e-3 <= value(m) && value(m) <= after[i] + 1e-3,
            "{stream}: scraped {}, stored {} then {}",
            value(m),
            before[i],
            after[i]
        );
    }
    let build = samples(&s, "auditmirror_build_info");
    assert_eq!(
        build[0].labels.get("version"),
        Some(env!("CARGO_PKG_VERSION"))
    );

    let om = get(
        &format!("{base}/metrics"),
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
    )
    .await;
    assert!(
        om.1.starts_with("application/openmetrics-text; version=1.0.0"),
        "{}",
        om.1
    );
    assert!(om.2.ends_with("# EOF\n") && om.2.contains("# TYPE auditmirror_records counter\n"));
    assert_eq!(
        get(&format!("{base}/readyz"), None).await,
        (200, "text/plain; charset=utf-8".into(), "ready\n".into())
    );
}

/// Blocks on a future from inside a synchronous poll closure.
fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_failing_three_periods_makes_the_daemon_unready_without_leaking_the_secret() {
    let env = Env::start(sim_config(72, 1, 50), EVERY_SECOND).await;
    let text = std::fs::read_to_string(&env.config).unwrap().replace(
        "access_key_secret = \"sim-access-key-secret\"",
        "access_key_secret = \"WRONG-s3cret-4711\"",
    );
    assert!(text.contains("WRONG-s3cret-4711"));
    std::fs::write(
        &env.config,
        format!("{text}\n[metrics]\nlisten = \"127.0.0.1:0\"\n"),
    )
    .unwrap();
    let daemon = Daemon::start(&env);
    let base = format!("http://{}", daemon.address().await);
    let unready = wait_for("unready", || {
        let (status, _, body) = futures_block(get(&format!("{base}/readyz"), None));
        (status == 503).then_some(body)
    })
    .await
    .unwrap_or_else(|| panic!("still ready\n{}", daemon.stderr()));
    // Either stream may pass the threshold first.
    let named = ["AccessLog", "UserCallPlay"]
        .into_iter()
        .find(|s| unready.contains(&format!("gong/acme/{s} failing since")))
        .unwrap_or_else(|| panic!("no failing stream named\n{unready}"));
    let metrics = get(&format!("{base}/metrics"), None).await.2;
    let s = parse_strict(&metrics);
    assert_eq!(sum(&s, "auditmirror_stream_failing", "stream", named), 1.0);
    assert!(sum(&s, "auditmirror_requests_total", "status_class", "4xx") >= 1.0);
    assert!(sum(&s, "auditmirror_sync_runs_total", "outcome", "failed") >= 1.0);
    for body in [&unready, &metrics] {
        assert!(!body.contains("WRONG-s3cret-4711"), "{body}");
    }
    assert_eq!(get(&format!("{base}/livez"), None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_writes_a_textfile_for_node_exporter() {
    let env = Env::start(sim_config(73, 1, 150), "daily_request_budget = 5000").await;
    let missing = env.dir.path().join("no/such/dir/auditmirror.prom");
    let (out, _) = run_bin(
        &env.config,
        &["sync", "--metrics-textfile", missing.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("its directory does not exist"),
        "{}",
        text(&out)
    );
    assert!(!env.db.exists() || count(&env.db, "SELECT count(*) FROM sync_runs") == 0);

    let path = env.dir.path().join("auditmirror.prom");
    let (out, _) = run_bin(
        &env.config,
        &["sync", "--metrics-textfile", path.to_str().unwrap()],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let body = std::fs::read_to_string(&path).unwrap();
    assert!(!env.dir.path().join("auditmirror.prom.tmp").exists());
    let s = parse_strict(&body);
    let rows = count(&env.db, "SELECT count(*) FROM gong_audit_log_entry");
    assert_eq!(
        sum(&s, "auditmirror_records_total", "outcome", "inserted"),
        rows as f64
    );
    let requests = count(&env.db, "SELECT sum(requests) FROM sync_runs");
    assert_eq!(
        sum(&s, "auditmirror_daily_budget_remaining", "account", "acme"),
        (5000 - requests) as f64
    );
    assert_eq!(
        samples(&s, "auditmirror_watermark_timestamp_seconds").len(),
        5
    );
    assert_eq!(
        sum(&s, "auditmirror_sync_runs_total", "outcome", "success"),
        5.0
    );
}
