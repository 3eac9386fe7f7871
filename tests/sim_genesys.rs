//! The fake Genesys Cloud audit API against Genesys's official Swagger
//! definitions, its own ground truth, the query state machine and token expiry.

use auditmirror::simulator::{self, SimConfig, SimHandle};
use chrono::{DateTime, Duration, DurationRound, Utc};
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const QUERY: &str = "/api/v2/audits/query";
const MAPPING: &str = "/api/v2/audits/query/servicemapping";
const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/vendor-specs/audits-openapi.json"
);

/// Eight days of data ending a day ago (inside the realtime query's 14 days).
fn cfg(seed: u64) -> SimConfig {
    let hour = auditmirror::clock::now().duration_trunc(Duration::hours(1));
    let mut c = SimConfig::ending(seed, hour.unwrap() - Duration::days(1), 8);
    c.genesys_per_day = 2000;
    c.transaction_polls = 1;
    c
}

async fn serve(cfg: SimConfig) -> SimHandle {
    let listen = "127.0.0.1:0".parse().unwrap();
    simulator::start(cfg, listen).await.unwrap()
}

/// A validator for one definition of the official spec, made strict: objects may
/// carry no property the spec does not declare. Formats are checked; `uri` admits
/// the relative `selfUri`s the real API sends.
fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(SPEC).unwrap();
    let mut spec: Value = serde_json::from_str(&text).unwrap();
    for def in spec["definitions"].as_object_mut().unwrap().values_mut() {
        if def.get("properties").is_some() && def.get("additionalProperties").is_none() {
            def["additionalProperties"] = Value::Bool(false);
        }
    }
    spec["$ref"] = Value::String(format!("#/definitions/{name}"));
    let uri = |s: &str| s.starts_with("/api/v2/") || url::Url::parse(s).is_ok();
    let instant = |s: &str| DateTime::parse_from_rfc3339(s).is_ok();
    let interval = move |s: &str| {
        s.split_once('/')
            .is_some_and(|(a, b)| instant(a) && instant(b))
    };
    let options = jsonschema::draft4::options().should_validate_formats(true);
    let options = options
        .with_format("uri", uri)
        .with_format("interval", interval);
    options.build(&spec).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, body: &Value) {
    let errors = v.iter_errors(body).take(5);
    let errors: Vec<String> = errors
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    let shown: String = body.to_string().chars().take(600).collect();
    assert!(errors.is_empty(), "{errors:?} in {shown}");
}

fn interval(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!("{}/{}", from.to_rfc3339(), to.to_rfc3339())
}

fn parsed(lines: Vec<String>) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn only(messages: &[Value], keep: impl Fn(&Value) -> bool) -> Vec<Value> {
    messages.iter().filter(|m| keep(m)).cloned().collect()
}

/// The status and the `ErrorBody` code of an answer.
fn code(answer: &(StatusCode, Value)) -> (u16, &str) {
    (answer.0.as_u16(), answer.1["code"].as_str().unwrap_or("-"))
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn new(sim: &SimHandle) -> Api {
        auditmirror::http::install_tls();
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10));
        let (http, base) = (http.build().unwrap(), sim.base_url());
        let mut api = Api {
            http,
            base,
            token: String::new(),
        };
        let (status, body) = api.token(sim, "client_credentials").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        api.token = body["access_token"].as_str().unwrap().to_owned();
        api
    }

    async fn token(&self, sim: &SimHandle, grant: &str) -> (StatusCode, Value) {
        let c = &sim.state.cfg.credentials;
        let r = self.http.post(format!("{}/oauth/token", self.base));
        let r = r.basic_auth(&c.genesys_client_id, Some(&c.genesys_client_secret));
        let r = r.header("content-type", "application/x-www-form-urlencoded");
        let r = r.body(format!("grant_type={grant}")).send().await.unwrap();
        (r.status(), r.json().await.unwrap())
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> (StatusCode, String) {
        let r = r.bearer_auth(&self.token).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], "application/json");
        (r.status(), r.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let get = self.http.get(format!("{}{path}", self.base));
        let (status, body) = self.send(get).await;
        (status, serde_json::from_str(&body).unwrap())
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let post = self.http.post(format!("{}{path}", self.base)).json(body);
        let (status, body) = self.send(post).await;
        (status, serde_json::from_str(&body).unwrap())
    }

    /// Creates a query and polls it to its final state; returns the id and state.
    async fn run(&self, query: &Value) -> (String, String) {
        let (status, created) = self.post(QUERY, query).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        loop {
            let (status, s) = self.get(&format!("{QUERY}/{id}")).await;
            match s["state"].as_str().unwrap() {
                "Running" | "Queued" => assert_eq!(status, StatusCode::ACCEPTED),
                state => return (id, state.to_owned()),
            }
        }
    }

    async fn state(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        self.run(&json!({"interval": interval(from, to)})).await.1
    }

    /// Every results page of a transaction, as raw bodies; checks the cursor rules.
    async fn pages(&self, id: &str, page_size: usize, expand: &[&str]) -> Vec<String> {
        let (mut out, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let mut q = vec![("pageSize", page_size.to_string())];
            q.extend(expand.iter().map(|e| ("expand", e.to_string())));
            q.extend(cursor.iter().map(|c| ("cursor", c.clone())));
            let url = format!("{}{QUERY}/{id}/results", self.base);
            let (status, body) = self.send(self.http.get(url).query(&q)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let page: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                (&page["id"], &page["pageSize"]),
                (&json!(id), &json!(page_size))
            );
            let n = page["entities"].as_array().unwrap().len();
            out.push(body);
            let Some(next) = page.get("cursor") else {
                return out;
            };
            assert_eq!(n, page_size, "a page with a cursor is full");
            cursor = Some(next.as_str().unwrap().to_owned());
        }
    }

    async fn entities(&self, id: &str, page_size: usize, expand: &[&str]) -> Vec<Value> {
        let pages = self.pages(id, page_size, expand).await;
        let pages = pages
            .iter()
            .map(|p| serde_json::from_str::<Value>(p).unwrap());
        pages
            .flat_map(|p| p["entities"].as_array().unwrap().clone())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_matches_the_official_definitions() {
    let sim = serve(cfg(1)).await;
    let api = Api::new(&sim).await;
    let (status, token) = api.token(&sim, "client_credentials").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        token["access_token"].as_str().is_some_and(|t| t.len() > 20),
        "{token}"
    );
    assert_eq!(
        (&token["token_type"], &token["expires_in"]),
        (&json!("bearer"), &json!(86_400))
    );

    let status_schema = validator("AuditQueryExecutionStatusResponse");
    let end = sim.state.cfg.end.unwrap();
    let day = interval(end - Duration::days(1), end);
    let query = json!({"interval": day, "serviceName": "Architect",
                       "filters": [{"property": "Action", "value": "Update"}],
                       "sort": [{"name": "Timestamp", "sortOrder": "ascending"}]});
    let (status, created) = api.post(QUERY, &query).await;
    assert_eq!(
        (status, &created["state"]),
        (StatusCode::ACCEPTED, &json!("Queued"))
    );
    assert_eq!(
        (&created["serviceName"], &created["filters"]),
        (&query["serviceName"], &query["filters"])
    );
    assert_valid(&status_schema, &created);
    let path = format!("{QUERY}/{}", created["id"].as_str().unwrap());
    for (want, state) in [
        (StatusCode::ACCEPTED, "Running"),
        (StatusCode::OK, "Succeeded"),
    ] {
        let (status, polled) = api.get(&path).await;
        assert_eq!((status, &polled["state"]), (want, &json!(state)));
        assert_eq!(polled["interval"], created["interval"]);
        assert_valid(&status_schema, &polled);
    }

    let results = validator("AuditQueryExecutionResultsResponse");
    for wrong in [
        json!({"entities": [{"eventDate": "yesterday"}]}),
        json!({"entities": [{"remoteIp": "10.0.0.1"}]}),
        json!({"entities": [{"user": {"id": "1", "email": "x"}}]}),
    ] {
        assert!(
            !results.is_valid(&wrong),
            "the validator is strict: {wrong}"
        );
    }
    let (id, _) = api.run(&json!({"interval": day})).await;
    let pages = api.pages(&id, 500, &["user"]).await;
    assert!(pages.len() > 2 && pages[0].contains("\"cursor\""));
    let bare = api.pages(&id, 200, &[]).await;
    for page in pages.iter().chain(&bare) {
        assert_valid(&results, &serde_json::from_str(page).unwrap());
    }

    let realtime =
        json!({"interval": day, "serviceName": "Directory", "pageNumber": 2, "pageSize": 50});
    let (status, rt) = api
        .post(&format!("{QUERY}/realtime?expand=user"), &realtime)
        .await;
    assert_eq!(status, StatusCode::OK, "{rt}");
    assert_eq!(
        (&rt["pageNumber"], &rt["pageSize"]),
        (&json!(2), &json!(50))
    );
    assert_valid(&validator("AuditRealtimeQueryResultsResponse"), &rt);

    let mapping = validator("AuditQueryServiceMapping");
    let (_, all) = api.get(MAPPING).await;
    let (_, realtime) = api.get(&format!("{QUERY}/realtime/servicemapping")).await;
    assert_valid(&mapping, &all);
    assert_valid(&mapping, &realtime);
    let names = |m: &Value| -> Vec<Value> {
        let services = m["services"].as_array().unwrap();
        services.iter().map(|s| s["name"].clone()).collect()
    };
    let (all, realtime) = (names(&all), names(&realtime));
    assert!(all.len() >= 12 && realtime.len() < all.len());
    assert!(realtime.iter().all(|n| all.contains(n)));

    let error = validator("ErrorBody");
    let long = api
        .post(
            QUERY,
            &json!({"interval": interval(end - Duration::days(32), end)}),
        )
        .await;
    assert_eq!(code(&long), (400, "bad.request"));
    assert!(long.1["message"].as_str().unwrap().contains("31 days"));
    assert_valid(&error, &long.1);
    let bad_bodies = [
        (json!({"interval": "yesterday/today"}), "invalid.date"),
        (
            json!({"interval": day, "serviceName": "Nope"}),
            "invalid.value",
        ),
        (
            json!({"interval": day, "filters": [{"property": "Nope", "value": "x"}]}),
            "invalid.value",
        ),
        (json!({"serviceName": "Architect"}), "bad.request"),
    ];
    for (body, want) in bad_bodies {
        let answer = api.post(QUERY, &body).await;
        assert_eq!(code(&answer), (400, want), "{body}");
        assert_valid(&error, &answer.1);
    }
    let too_big = api.get(&format!("{QUERY}/{id}/results?pageSize=501")).await;
    assert_eq!(code(&too_big), (400, "invalid.query.param.value"));
    let forged = api
        .get(&format!("{QUERY}/{id}/results?cursor=Zm9vLjEy"))
        .await;
    assert_eq!(code(&forged), (400, "invalid.value"));
    let unknown = api
        .get(&format!("{QUERY}/00000000-0000-4000-8000-000000000000"))
        .await;
    assert_eq!(code(&unknown), (404, "not.found"));
    assert_valid(&error, &unknown.1);
    let r = api
        .http
        .get(format!("{}{MAPPING}", api.base))
        .send()
        .await
        .unwrap();
    let anonymous = (r.status(), r.json::<Value>().await.unwrap());
    assert_eq!(code(&anonymous), (401, "authentication.required"));
    assert_eq!(anonymous.1["status"], 401);
    assert_valid(&error, &anonymous.1);

    let mut limited = cfg(1);
    limited.genesys_requests_per_minute = Some(2);
    let limited = serve(limited).await;
    let api = Api::new(&limited).await;
    assert_eq!(api.get(MAPPING).await.0, StatusCode::OK);
    assert_eq!(api.get(MAPPING).await.0, StatusCode::OK);
    let throttled = api.get(MAPPING).await;
    assert_eq!(code(&throttled), (429, "too.many.requests.retry.after"));
    assert_valid(&error, &throttled.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_a_succeeded_transaction_returns_exactly_the_truth() {
    let sim = serve(cfg(2)).await;
    let api = Api::new(&sim).await;
    let to = sim.state.cfg.end.unwrap() - Duration::hours(5);
    let from = to - Duration::days(3);
    let truth = parsed(sim.genesys_truth(from, to));
    assert!(truth.len() > 5000, "{}", truth.len());

    let (id, state) = api.run(&json!({"interval": interval(from, to)})).await;
    assert_eq!(state, "Succeeded");
    assert_eq!(api.entities(&id, 500, &["user", "user"]).await, truth);
    let bare = api.entities(&id, 500, &[]).await;
    assert_eq!(bare.len(), truth.len());
    let unnamed = |u: &Value| u.get("name").is_none() && u.get("id").is_some();
    assert!(bare.iter().all(|m| m.get("user").is_none_or(unnamed)));
    assert!(truth.iter().any(|m| m["user"]["name"].is_string()));

    let queues = json!({"interval": interval(from, to), "serviceName": "Routing",
                        "filters": [{"property": "EntityType", "value": "Queue"}]});
    let (id, _) = api.run(&queues).await;
    let want = only(&truth, |m| {
        m["serviceName"] == "Routing" && m["entityType"] == "Queue"
    });
    assert!(want.len() > 100);
    assert_eq!(api.entities(&id, 500, &["user"]).await, want);

    let user = truth.iter().find_map(|m| m["user"]["id"].as_str()).unwrap();
    let mine = json!({"interval": interval(from, to),
                      "filters": [{"property": "UserId", "value": user}],
                      "sort": [{"name": "Timestamp", "sortOrder": "descending"}]});
    let (id, _) = api.run(&mine).await;
    let mut want = only(&truth, |m| m["user"]["id"] == user);
    want.reverse();
    assert_eq!(api.entities(&id, 37, &["user"]).await, want);

    let groups = json!({"interval": interval(from, to), "serviceName": "Groups", "pageSize": 500});
    let (status, rt) = api
        .post(&format!("{QUERY}/realtime?expand=user"), &groups)
        .await;
    assert_eq!(status, StatusCode::OK);
    let want = only(&truth, |m| m["serviceName"] == "Groups");
    assert_eq!(rt["total"], want.len());
    assert_eq!(rt["pageCount"], want.len().div_ceil(500));
    assert_eq!(
        rt["entities"].as_array().unwrap()[..],
        want[..want.len().min(500)]
    );
    let now = auditmirror::clock::now();
    let old = json!({"interval": interval(now - Duration::days(15), now - Duration::days(14))});
    let answer = api.post(&format!("{QUERY}/realtime"), &old).await;
    assert_eq!(code(&answer), (400, "bad.request"));
    assert!(answer.1["message"].as_str().unwrap().contains("14 days"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_serves_byte_identical_pages() {
    let c = cfg(3);
    let (a, b) = (serve(c.clone()).await, serve(c.clone()).await);
    let (from, to) = (c.end.unwrap() - Duration::days(1), c.end.unwrap());
    let mut bodies = Vec::new();
    for s in [&a, &b] {
        let api = Api::new(s).await;
        let (id, _) = api.run(&json!({"interval": interval(from, to)})).await;
        bodies.push(api.pages(&id, 300, &["user"]).await);
    }
    assert!(bodies[0].len() > 3);
    assert_eq!(bodies[0], bodies[1]);
    let other = serve(cfg(4)).await;
    assert_ne!(a.genesys_truth(from, to), other.genesys_truth(from, to));
}

#[test]
fn paging_any_range_at_any_page_size_returns_the_truth() {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    let rt = rt.worker_threads(2).enable_all().build().unwrap();
    let sim = rt.block_on(serve(cfg(5)));
    let api = rt.block_on(Api::new(&sim));
    let origin = sim.state.cfg.origin;
    let config = ProptestConfig {
        cases: 8,
        failure_persistence: None,
        ..Default::default()
    };
    let ranges = (
        0i64..9 * 24 * 60,
        1i64..36 * 60,
        10usize..=500,
        any::<bool>(),
    );
    proptest!(config, |((start, minutes, page, desc) in ranges)| {
        let from = origin - Duration::hours(12) + Duration::minutes(start);
        let to = from + Duration::minutes(minutes);
        let mut want = parsed(sim.genesys_truth(from, to));
        let order = if desc { "descending" } else { "ascending" };
        let sort = json!([{"name": "Timestamp", "sortOrder": order}]);
        let query = json!({"interval": interval(from, to), "sort": sort});
        let got = rt.block_on(async {
            let (id, _) = api.run(&query).await;
            api.entities(&id, page, &["user"]).await
        });
        if desc {
            want.reverse();
        }
        prop_assert_eq!(got, want);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_fail_as_configured() {
    let mut c = cfg(6);
    c.fail_first_transactions = 1;
    c.fail_transactions_longer_than = Some(std::time::Duration::from_secs(2 * 86_400));
    c.transaction_polls = 0;
    let sim = serve(c).await;
    let api = Api::new(&sim).await;
    let end = sim.state.cfg.end.unwrap();
    let (first, state) = api
        .run(&json!({"interval": interval(end - Duration::days(1), end)}))
        .await;
    assert_eq!(state, "Failed");
    let results = api.get(&format!("{QUERY}/{first}/results")).await;
    assert_eq!(code(&results), (400, "bad.request"));
    assert_eq!(api.state(end - Duration::days(1), end).await, "Succeeded");
    assert_eq!(api.state(end - Duration::days(3), end).await, "Failed");
    assert_eq!(api.state(end - Duration::days(2), end).await, "Succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_and_bad_credentials_are_refused() {
    let mut c = cfg(7);
    c.token_ttl = std::time::Duration::from_secs(1);
    let sim = serve(c).await;
    let mut api = Api::new(&sim).await;
    assert_eq!(api.get(MAPPING).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(code(&api.get(MAPPING).await), (401, "bad.credentials"));
    assert_eq!(sim.stats().unauthorized, 1);
    api.token = Api::new(&sim).await.token;
    assert_eq!(api.get(MAPPING).await.0, StatusCode::OK);
    assert_eq!(sim.stats().tokens_issued, 2);

    let (status, body) = api.token(&sim, "password").await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("unsupported_grant_type"))
    );
    let url = format!("{}/oauth/token", api.base);
    let wrong = api
        .http
        .post(&url)
        .basic_auth("sim-client-id", Some("wrong"));
    let r = wrong
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let form =
        "grant_type=client_credentials&client_id=sim-client-id&client_secret=sim-client-secret";
    let r = api.http.post(&url).body(form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_changed_messages() {
    let mut c = cfg(8);
    c.malformed_every = 45;
    c.changed_every = 10;
    let sim = serve(c).await;
    let api = Api::new(&sim).await;
    let end = sim.state.cfg.end.unwrap();
    let (from, to) = (end - Duration::days(1), end);
    let good = parsed(sim.genesys_truth(from, to));
    let bad = parsed(sim.genesys_malformed(from, to));
    let (id, _) = api.run(&json!({"interval": interval(from, to)})).await;
    let served = api.entities(&id, 500, &["user"]).await;
    assert_eq!(served.len(), good.len() + bad.len());
    assert!(bad.len() >= 40 && bad.iter().all(|m| served.contains(m)));
    assert_eq!(only(&served, |m| !bad.contains(m)), good);
    let kinds = |f: fn(&Value) -> bool| bad.iter().filter(|m| f(m)).count();
    assert!(kinds(|m| m["id"].is_number()) > 0 && kinds(|m| m["remoteIp"].is_string()) > 0);
    assert!(kinds(|m| m["eventDate"] == "yesterday") > 0);
    assert!(kinds(|m| m["eventDate"] == "2026-13-45T99:00:00Z") > 0);

    let renamed = |m: &Value, rev: u32| {
        let name = m["entity"]["name"].as_str();
        name.is_some_and(|n| n.ends_with(&format!(" (rev {rev})")))
    };
    sim.bump_revision();
    let after = parsed(sim.genesys_truth(from, to));
    assert_eq!(good.len(), after.len());
    let differ: Vec<bool> = good.iter().zip(&after).map(|(a, b)| a != b).collect();
    assert_eq!(
        differ,
        good.iter().map(|m| renamed(m, 0)).collect::<Vec<_>>()
    );
    assert_eq!(
        differ,
        after.iter().map(|m| renamed(m, 1)).collect::<Vec<_>>()
    );
    let share = differ.iter().filter(|d| **d).count() as f64 / good.len() as f64;
    assert!((0.07..0.13).contains(&share), "{share}");
    let bad = parsed(sim.genesys_malformed(from, to));
    let (id, _) = api.run(&json!({"interval": interval(from, to)})).await;
    let served = api.entities(&id, 500, &["user"]).await;
    assert_eq!(only(&served, |m| !bad.contains(m)), after);
}
