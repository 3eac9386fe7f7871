//! The fake Gong `/v2/logs` against Gong's official OpenAPI schemas, its own
//! ground truth, and its fault switches, over loopback HTTP.

use auditmirror::simulator::{self, faults::Faults, LateEvents, SimConfig, SimHandle};
use chrono::{DateTime, Duration, DurationRound, Utc};
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::Ordering::Relaxed;

use auditmirror::connectors::gong::LogType;

const LOG_TYPES: [&str; 5] = LogType::NAMES;

/// Ten days of data ending a day ago (inside AccessLog's 14-day retention).
fn cfg(seed: u64) -> SimConfig {
    let hour = auditmirror::clock::now().duration_trunc(Duration::hours(1));
    let mut c = SimConfig::ending(seed, hour.unwrap() - Duration::days(1), 10);
    c.gong_per_day = 300;
    c
}

async fn sim(cfg: SimConfig) -> SimHandle {
    simulator::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A validator for one schema of the official spec, made strict: the response
/// objects may carry no property the spec does not declare.
fn validator(name: &str) -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/vendor-specs/gong-v2-logs-excerpt.json"
    );
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for strict in ["ErrorResponse", "LogsResponse", "Records", "logEntry"] {
        spec["components"]["schemas"][strict]["additionalProperties"] = Value::Bool(false);
    }
    // springdoc renders Java's `Map<String, Object>` as values of `type: object`;
    // real logRecords hold strings, numbers and arrays,
    // so the values are left unconstrained. Everything else stays as published.
    spec["components"]["schemas"]["logEntry"]["properties"]["logRecord"]["additionalProperties"] =
        Value::Bool(true);
    spec["$ref"] = Value::String(format!("#/components/schemas/{name}"));
    jsonschema::validator_for(&spec).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, body: &Value) {
    let errors: Vec<String> = v
        .iter_errors(body)
        .take(5)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    let shown: String = body.to_string().chars().take(500).collect();
    assert!(errors.is_empty(), "{errors:?} in {shown}");
}

struct Client {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Client {
    fn new(sim: &SimHandle) -> Client {
        let c = &sim.state.cfg.credentials;
        auditmirror::http::install_tls();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap();
        let basic = base64_basic(&c.gong_access_key, &c.gong_access_key_secret);
        Client {
            http,
            base: sim.base_url(),
            auth: basic,
        }
    }

    async fn get(
        &self,
        params: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let r = self
            .http
            .get(format!("{}/v2/logs", self.base))
            .header("authorization", &self.auth)
            .query(params)
            .send()
            .await
            .unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.text().await.unwrap())
    }

    /// Every page of one window; checks page numbering and the cursor rules.
    async fn all(
        &self,
        lt: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        schema: &jsonschema::Validator,
    ) -> Vec<Value> {
        let (f, t) = (from.to_rfc3339(), to.to_rfc3339());
        let mut cursor: Option<String> = None;
        let mut out = Vec::new();
        for page in 0.. {
            let mut params = vec![
                ("logType", lt),
                ("fromDateTime", f.as_str()),
                ("toDateTime", t.as_str()),
            ];
            if let Some(c) = &cursor {
                params.push(("cursor", c));
            }
            let (status, _, body) = self.get(&params).await;
            if status == StatusCode::NOT_FOUND && page == 0 {
                return out;
            }
            assert_eq!(status, StatusCode::OK, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_valid(schema, &v);
            let entries = v["logEntries"].as_array().unwrap();
            assert_eq!(v["records"]["currentPageNumber"], page);
            assert_eq!(v["records"]["currentPageSize"], entries.len());
            assert!(entries.len() <= 100);
            out.extend(entries.iter().cloned());
            match v["records"].get("cursor") {
                Some(c) => cursor = Some(c.as_str().unwrap().to_owned()),
                None => return out,
            }
        }
        unreachable!()
    }
}

fn base64_basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn parsed(raw: Vec<String>) -> Vec<Value> {
    raw.iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_every_log_type_returns_exactly_the_truth_in_the_official_shape() {
    let cfg = cfg(7);
    let (from, to) = (cfg.origin, cfg.end.unwrap());
    let sim = sim(cfg).await;
    let client = Client::new(&sim);
    let schema = validator("LogsResponse");
    let mut offsets = std::collections::BTreeSet::new();
    for lt in LOG_TYPES {
        let served = client.all(lt, from, to, &schema).await;
        let truth = parsed(sim.gong_truth(lt, from, to));
        assert!(truth.len() > 2500, "{lt}: {}", truth.len());
        assert_eq!(served, truth, "{lt}");
        for e in &served {
            let t = e["eventTime"].as_str().unwrap();
            offsets.insert(if t.ends_with('Z') {
                "Z".to_owned()
            } else {
                t[t.len() - 6..].to_owned()
            });
            assert_eq!(
                e.get("userId").is_some(),
                !lt.starts_with("ExternallyShared"),
                "{e}"
            );
        }
    }
    assert_eq!(
        offsets.into_iter().collect::<Vec<_>>(),
        ["+00:00", "+05:30", "-08:00", "Z"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equal_timestamps_straddle_page_boundaries() {
    let cfg = cfg(11);
    let (from, to) = (cfg.origin, cfg.end.unwrap());
    let sim = sim(cfg).await;
    let truth = parsed(sim.gong_truth("UserCallPlay", from, to));
    let instant =
        |e: &Value| DateTime::parse_from_rfc3339(e["eventTime"].as_str().unwrap()).unwrap();
    let straddling = (1..truth.len() / 100)
        .filter(|p| instant(&truth[p * 100 - 1]) == instant(&truth[p * 100]))
        .count();
    assert!(straddling >= 1, "no page boundary splits equal timestamps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_gong_status_codes_and_shape() {
    let c = cfg(3);
    let (from, to) = (c.origin.to_rfc3339(), c.end.unwrap().to_rfc3339());
    let sim = sim(c.clone()).await;
    let client = Client::new(&sim);
    let schema = validator("ErrorResponse");
    let long_ago = "2020-01-01T00:00:00Z";
    type Case<'a> = (Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("logType", "UserCallPlay"),
                ("fromDateTime", long_ago),
                ("toDateTime", "2020-01-02T00:00:00Z"),
            ],
            StatusCode::NOT_FOUND,
            "No logs found",
        ),
        (
            vec![("fromDateTime", &from)],
            StatusCode::BAD_REQUEST,
            "logType",
        ),
        (
            vec![("logType", "AuditLog"), ("fromDateTime", &from)],
            StatusCode::BAD_REQUEST,
            "logType",
        ),
        (
            vec![("logType", "AccessLog")],
            StatusCode::BAD_REQUEST,
            "fromDateTime",
        ),
        (
            vec![("logType", "AccessLog"), ("fromDateTime", "yesterday")],
            StatusCode::BAD_REQUEST,
            "fromDateTime",
        ),
        (
            vec![
                ("logType", "AccessLog"),
                ("fromDateTime", &to),
                ("toDateTime", &from),
            ],
            StatusCode::BAD_REQUEST,
            "before",
        ),
        (
            vec![
                ("logType", "AccessLog"),
                ("fromDateTime", &from),
                ("cursor", "forged.cursor.value"),
            ],
            StatusCode::BAD_REQUEST,
            "cursor",
        ),
    ];
    for (params, status, text) in cases {
        let (got, _, body) = client.get(&params).await;
        assert_eq!(got, status, "{params:?}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_valid(&schema, &v);
        assert!(v["errors"][0].as_str().unwrap().contains(text), "{body}");
    }
    let bad = Client {
        auth: base64_basic("sim-access-key", "wrong"),
        ..Client::new(&sim)
    };
    let (status, _, body) = bad
        .get(&[("logType", "AccessLog"), ("fromDateTime", &from)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_valid(&schema, &serde_json::from_str(&body).unwrap());
    // A bearer token works too.
    let bearer = Client {
        auth: "Bearer sim-bearer-token".into(),
        ..Client::new(&sim)
    };
    assert_eq!(
        bearer
            .get(&[
                ("logType", "UserCallPlay"),
                ("fromDateTime", &from),
                ("toDateTime", &to)
            ])
            .await
            .0,
        StatusCode::OK
    );
    // Over the rate: 429 with an integer Retry-After.
    let sim = self::sim(SimConfig {
        gong_requests_per_second: Some(1.0),
        ..c
    })
    .await;
    let client = Client::new(&sim);
    let mut limited = None;
    for _ in 0..3 {
        let (status, headers, body) = client
            .get(&[
                ("logType", "UserCallPlay"),
                ("fromDateTime", &from),
                ("toDateTime", &to),
            ])
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_valid(&schema, &serde_json::from_str(&body).unwrap());
            limited = Some(
                headers["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
            );
        }
    }
    assert_eq!(limited, Some(1));
    assert!(sim.stats().rate_limited >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_is_kept_fourteen_days_and_to_is_optional() {
    let mut c = SimConfig::new(5);
    c.origin = auditmirror::clock::now() - Duration::days(30);
    c.gong_per_day = 50;
    let sim = sim(c).await;
    let client = Client::new(&sim);
    let entries = client
        .all(
            "AccessLog",
            auditmirror::clock::now() - Duration::days(30),
            auditmirror::clock::now() + Duration::days(1),
            &validator("LogsResponse"),
        )
        .await;
    let oldest = entries
        .iter()
        .map(|e| DateTime::parse_from_rfc3339(e["eventTime"].as_str().unwrap()).unwrap())
        .min()
        .unwrap();
    assert!(
        oldest >= auditmirror::clock::now() - Duration::days(14) - Duration::minutes(1),
        "{oldest}"
    );
    let plays = client
        .all(
            "UserCallPlay",
            auditmirror::clock::now() - Duration::days(30),
            auditmirror::clock::now() + Duration::days(1),
            &validator("LogsResponse"),
        )
        .await;
    assert!(plays.len() > 1400, "{}", plays.len());
    // Without toDateTime the logs end with the latest recorded one.
    let from = (auditmirror::clock::now() - Duration::days(1)).to_rfc3339();
    let (status, _, body) = client
        .get(&[("logType", "UserCallPlay"), ("fromDateTime", &from)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_gives_byte_identical_pages() {
    let c = cfg(42);
    let (a, b) = (sim(c.clone()).await, sim(c.clone()).await);
    let (from, to) = (c.origin.to_rfc3339(), c.end.unwrap().to_rfc3339());
    for lt in LOG_TYPES {
        let mut cursor = String::new();
        for _ in 0..3 {
            let params = [
                ("logType", lt),
                ("fromDateTime", &from),
                ("toDateTime", &to),
                ("cursor", &cursor),
            ];
            let (_, _, x) = Client::new(&a).get(&params).await;
            let (_, _, y) = Client::new(&b).get(&params).await;
            assert_eq!(x, y);
            cursor = serde_json::from_str::<Value>(&x).unwrap()["records"]["cursor"]
                .as_str()
                .unwrap()
                .to_owned();
        }
    }
}

#[test]
fn paging_random_ranges_matches_the_truth() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = cfg(9);
    let sim = rt.block_on(sim(c.clone()));
    let client = Client::new(&sim);
    let schema = validator("LogsResponse");
    let span = (c.end.unwrap() - c.origin).num_seconds();
    proptest!(ProptestConfig::with_cases(12), |(start in 0..span, len in 1..(span / 3), lt in 0usize..5)| {
        let from = c.origin + Duration::seconds(start);
        let to = from + Duration::seconds(len);
        let served = rt.block_on(client.all(LOG_TYPES[lt], from, to, &schema));
        prop_assert_eq!(served, parsed(sim.gong_truth(LOG_TYPES[lt], from, to)));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_faults_malformed_duplicated_and_late_entries() {
    let mut c = SimConfig::new(13);
    c.origin = auditmirror::clock::now() - Duration::hours(2);
    c.gong_per_day = 86_400 * 4; // four a second, so the last seconds hold data
    c.malformed_every = 50;
    c.duplicate_every = 2;
    c.late = Some(LateEvents {
        fraction: 0.5,
        delay: std::time::Duration::from_secs(2),
    });
    let sim = sim(c.clone()).await;
    let client = Client::new(&sim);
    let (from, to) = (c.origin, c.origin + Duration::minutes(5));
    // Malformed entries break the schema on purpose: check only the paging here.
    let served = client
        .all(
            "UserActivityLog",
            from,
            to,
            &jsonschema::validator_for(&serde_json::json!({})).unwrap(),
        )
        .await;
    let (good, bad) = (
        parsed(sim.gong_truth("UserActivityLog", from, to)),
        parsed(sim.gong_malformed("UserActivityLog", from, to)),
    );
    assert!(
        !bad.is_empty()
            && bad.iter().all(|e| e["eventTime"]
                .as_str()
                .is_none_or(|t| DateTime::parse_from_rfc3339(t).is_err()))
    );
    assert!(
        served.len() > good.len() + bad.len(),
        "duplicates were served"
    );
    let mut expected: Vec<Value> = good.into_iter().chain(bad).collect();
    let key = |v: &Value| v.to_string();
    expected.sort_by_key(key);
    let mut unique = served.clone();
    unique.sort_by_key(key);
    unique.dedup();
    assert_eq!(unique, expected);
    // Late events: part of the last two seconds is hidden, then shows up.
    let hidden_window = (
        auditmirror::clock::now() - Duration::seconds(30),
        auditmirror::clock::now() - Duration::milliseconds(200),
    );
    let early = sim
        .gong_truth("UserCallPlay", hidden_window.0, hidden_window.1)
        .len();
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let later = sim
        .gong_truth("UserCallPlay", hidden_window.0, hidden_window.1)
        .len();
    assert!(
        later > early,
        "late events never arrived ({early} → {later})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_faults_can_be_switched_on_and_off() {
    let c = cfg(21);
    let (from, to) = (c.origin.to_rfc3339(), c.end.unwrap().to_rfc3339());
    let sim = sim(c).await;
    let client = Client::new(&sim);
    let params = [
        ("logType", "UserCallPlay"),
        ("fromDateTime", from.as_str()),
        ("toDateTime", to.as_str()),
    ];
    let f: &Faults = sim.faults();
    Faults::set(&f.truncate_every, 1);
    let (status, _, body) = client.get(&params).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        serde_json::from_str::<Value>(&body).is_err(),
        "body was not truncated"
    );
    Faults::set(&f.truncate_every, 0);
    Faults::set(&f.http_5xx_every, 3);
    Faults::set(&f.http_5xx_burst, 2);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(client.get(&params).await.0.as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 500).count(),
        4,
        "{statuses:?}"
    );
    Faults::set(&f.http_5xx_every, 0);
    Faults::set(&f.http_429_every, 1);
    let (status, headers, _) = client.get(&params).await;
    assert_eq!(
        (status, headers["retry-after"].to_str().unwrap()),
        (StatusCode::TOO_MANY_REQUESTS, "1")
    );
    Faults::set(&f.http_429_every, 0);
    // Expired cursor: the first page works, following its cursor fails.
    Faults::set(&f.expire_cursor_every, 1);
    let (_, _, body) = client.get(&params).await;
    let cursor = serde_json::from_str::<Value>(&body).unwrap()["records"]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut with_cursor = params.to_vec();
    with_cursor.push(("cursor", &cursor));
    let (status, _, body) = client.get(&with_cursor).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("cursor has expired"), "{body}");
    Faults::set(&f.expire_cursor_every, 0);
    assert_eq!(client.get(&with_cursor).await.0, StatusCode::OK);
    // A hung request never answers: the client's timeout is what ends it.
    Faults::set(&f.hang_every, 1);
    auditmirror::http::install_tls();
    let quick = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let hung = quick
        .get(format!("{}/v2/logs", sim.base_url()))
        .query(&params)
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
    Faults::set(&f.hang_every, 0);
    let s = sim.stats();
    assert_eq!(
        (
            s.truncated,
            s.injected_5xx,
            s.injected_429,
            s.expired_cursors,
            s.hung
        ),
        (1, 4, 1, 1, 1)
    );
    assert!(f.slow_every.load(Relaxed) == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_are_ascii_and_names_keep_their_letters() {
    let s = sim(cfg(31)).await;
    let (from, to) = (s.state.cfg.origin, s.state.cfg.end.unwrap());
    let entries = parsed(s.gong_truth("UserActivityLog", from, to));
    let spelled = [
        ("Łukasz", "lukasz"),
        ("Ångström", "angstrom"),
        ("Zoë", "zoe"),
        ("Chloé", "chloe"),
        ("Öberg", "oberg"),
        ("García", "garcia"),
    ];
    let mut accented = 0;
    for e in &entries {
        let email = e["userEmailAddress"].as_str().unwrap_or_default();
        assert!(email.is_ascii(), "{email}");
        let name = e["userFullName"].as_str().unwrap_or_default();
        for (letters, ascii) in spelled {
            if name.contains(letters) {
                accented += 1;
                assert!(email.contains(ascii), "{name}: {email}");
            }
        }
    }
    assert!(
        accented > 0,
        "no accented name among {} entries",
        entries.len()
    );
}
