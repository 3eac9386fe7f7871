use super::*;
use crate::config::Config;
use crate::http::Policy;
use crate::record::Row;
use crate::simulator::{self, SimConfig, SimHandle};
use crate::time::fmt_utc;
use chrono::DurationRound;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;

mod mapping;
use mapping::MESSAGE;
mod pages;

/// Four days of data ending an hour-aligned day ago (inside realtime's 14 days).
async fn sim(tweak: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let end = crate::clock::now()
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap()
        - chrono::Duration::days(1);
    let mut c = SimConfig::new(7);
    c.origin = end - chrono::Duration::days(4);
    c.end = Some(end);
    c.genesys_per_day = 2000;
    c.transaction_polls = 1;
    tweak(&mut c);
    simulator::start(c, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn account(base: &str, secret: &str, services: &[&str]) -> GenesysAccount {
    let src = format!(
        "[[genesys]]\nname = \"sim\"\napi_base_url = \"{base}\"\nlogin_base_url = \"{base}\"\nclient_id = \"sim-client-id\"\nclient_secret = \"{secret}\"\nservices = {services:?}\n"
    );
    let cfg = Config::parse(
        &src,
        Path::new("/tmp/auditmirror-test.toml"),
        crate::clock::now(),
    )
    .unwrap();
    cfg.accounts[0]
        .vendor_config::<GenesysAccount>()
        .unwrap()
        .clone()
}

fn connector_for(base: &str, secret: &str, services: &[&str]) -> GenesysConnector {
    let policy = Policy {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        max_tries: 4,
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        ..Policy::default()
    };
    let http = Arc::new(HttpClient::new(policy, None, None).unwrap());
    let mut conn = GenesysConnector::new(&account(base, secret, services), http);
    conn.poll_start = Duration::from_millis(5);
    conn
}

fn connector(h: &SimHandle, services: &[&str]) -> GenesysConnector {
    let secret = h.state.cfg.credentials.genesys_client_secret.clone();
    connector_for(&h.base_url(), &secret, services)
}

/// The last `days` days of the simulator's data.
fn last_days(h: &SimHandle, days: i64) -> Window {
    let end = h.state.cfg.end.unwrap();
    Window::new(end - chrono::Duration::days(days), end)
}

/// Reads every page; checks that exactly the final page says it is the last.
async fn drain(mut r: WindowReader<'_>, counters: &Counters) -> (Vec<Row>, Vec<Rejected>) {
    let (mut rows, mut rejected, mut last) = (Vec::new(), Vec::new(), false);
    while let Some((page, is_last)) = r.next(counters).await.unwrap() {
        assert!(!last, "a page after the last");
        last = is_last;
        rows.extend(page.rows);
        rejected.extend(page.rejected);
    }
    assert!(last, "no page said it was the last");
    assert!(r.next(counters).await.unwrap().is_none());
    (rows, rejected)
}

fn assert_truth(rows: &[Row], truth: &[String]) {
    assert!(!truth.is_empty());
    assert_eq!(rows.len(), truth.len());
    for (row, t) in rows.iter().zip(truth) {
        assert_eq!(row, &Row::from(map_message(t).unwrap()));
        assert_eq!(&row.raw_json, t);
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_window_reads_exactly_the_truth() {
    let h = sim(|c| c.malformed_every = 97).await;
    let conn = connector(&h, &[]);
    let (w, counters) = (last_days(&h, 2), Counters::default());
    let (rows, rejected) = drain(conn.open(w, &counters).await.unwrap(), &counters).await;
    assert_truth(&rows, &h.genesys_truth(w.from, w.to));
    let bad: Vec<String> = rejected.iter().map(|r| r.raw_payload.clone()).collect();
    assert_eq!(bad, h.genesys_malformed(w.from, w.to));
    assert_eq!(counters.token_refreshes.load(Relaxed), 0);
    assert_eq!(h.stats().tokens_issued, 1);
    assert!(!format!("{conn:?}").contains("sim-client-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_and_counted() {
    let h = sim(|c| c.token_ttl = Duration::from_secs(1)).await;
    let conn = connector(&h, &[]);
    let counters = Counters::default();
    let w = Window::new(
        last_days(&h, 1).from,
        last_days(&h, 1).from + chrono::Duration::hours(2),
    );
    drain(conn.open(w, &counters).await.unwrap(), &counters).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (rows, _) = drain(conn.open(w, &counters).await.unwrap(), &counters).await;
    assert_truth(&rows, &h.genesys_truth(w.from, w.to));
    assert!(counters.token_refreshes.load(Relaxed) >= 1);
    // A token the server no longer honours but we think fresh: 401, refresh, retry.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    if let Some((_, at)) = &mut conn.token.lock().await.bearer {
        *at = Instant::now() + Duration::from_secs(3600);
    }
    let before = counters.token_refreshes.load(Relaxed);
    let (rows, _) = drain(conn.open(w, &counters).await.unwrap(), &counters).await;
    assert_truth(&rows, &h.genesys_truth(w.from, w.to));
    assert_eq!(counters.token_refreshes.load(Relaxed), before + 1);
    assert!(h.stats().unauthorized >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_transaction_is_run_once_more() {
    let h = sim(|c| c.fail_first_transactions = 1).await;
    let conn = connector(&h, &[]);
    let (w, counters) = (last_days(&h, 1), Counters::default());
    let (rows, _) = drain(conn.open(w, &counters).await.unwrap(), &counters).await;
    assert_truth(&rows, &h.genesys_truth(w.from, w.to));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_failing_twice_is_query_failed() {
    let h = sim(|c| c.fail_transactions_longer_than = Some(Duration::from_secs(86_400))).await;
    let conn = connector(&h, &[]);
    let counters = Counters::default();
    match conn.open(last_days(&h, 2), &counters).await {
        Err(ConnectorError::Window {
            failure: WindowFailure::QueryFailed,
            detail,
            ..
        }) => {
            assert!(detail.contains("ended Failed twice"), "{detail}");
        }
        other => panic!("expected QueryFailed, got {:?}", other.map(|_| ())),
    }
    let (rows, _) = drain(
        conn.open(last_days(&h, 1), &counters).await.unwrap(),
        &counters,
    )
    .await;
    assert_eq!(
        rows.len(),
        h.genesys_truth(last_days(&h, 1).from, last_days(&h, 1).to)
            .len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_realtime_path_reads_exactly_the_truth() {
    let h = sim(|_| {}).await;
    let conn = connector(&h, &[]);
    let (w, counters) = (last_days(&h, 2), Counters::default());
    let (rows, _) = drain(conn.open_realtime(w, &counters).await.unwrap(), &counters).await;
    // Without serviceName the realtime query covers the realtime services only.
    let realtime = conn
        .mapping(&counters, GenesysMode::Realtime)
        .await
        .unwrap();
    let truth: Vec<String> = h
        .genesys_truth(w.from, w.to)
        .into_iter()
        .filter(|m| {
            let v: Value = serde_json::from_str(m).unwrap();
            realtime.iter().any(|s| v["serviceName"] == json!(s))
        })
        .collect();
    assert_truth(&rows, &truth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_services_yield_only_those() {
    let h = sim(|_| {}).await;
    let conn = connector(&h, &["Architect", "Directory"]);
    let (w, counters) = (last_days(&h, 1), Counters::default());
    let (rows, _) = drain(conn.open(w, &counters).await.unwrap(), &counters).await;
    let truth: Vec<String> = h
        .genesys_truth(w.from, w.to)
        .into_iter()
        .filter(|m| {
            m.contains(r#""serviceName":"Architect""#) || m.contains(r#""serviceName":"Directory""#)
        })
        .collect();
    let got: Vec<String> = rows.iter().map(|r| r.raw_json.clone()).collect();
    assert_eq!(sorted(got), sorted(truth));
    let (rt, _) = drain(conn.open_realtime(w, &counters).await.unwrap(), &counters).await;
    assert_eq!(rt.len(), rows.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_read_once_from_the_mapping() {
    let h = sim(|_| {}).await;
    let conn = connector(&h, &[]);
    let counters = Counters::default();
    let names = conn.services(&counters).await.unwrap();
    assert!(
        names.contains(&"Architect".to_owned()) && names.len() == 12,
        "{names:?}"
    );
    let requests = counters.requests.load(Relaxed);
    assert_eq!(conn.services(&counters).await.unwrap(), names);
    assert_eq!(counters.requests.load(Relaxed), requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_cursor_restarts_the_window_once() {
    let h = sim(|_| {}).await;
    let conn = connector(&h, &[]);
    let (w, counters) = (last_days(&h, 1), Counters::default());
    h.faults().expire_next_cursors.store(1, Relaxed);
    let (rows, _) = drain(conn.open(w, &counters).await.unwrap(), &counters).await;
    let ids: BTreeSet<String> = rows.iter().map(|r| r.id.clone()).collect();
    let truth = h.genesys_truth(w.from, w.to);
    assert_eq!(ids.len(), truth.len());
    assert_eq!(h.stats().expired_cursors, 1);
    h.faults().expire_next_cursors.store(2, Relaxed);
    let mut r = conn.open(w, &counters).await.unwrap();
    let err = loop {
        match r.next(&counters).await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the window ended despite two expired cursors"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            err,
            ConnectorError::Window {
                failure: WindowFailure::CursorExpired,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_faults_are_retried() {
    let h = sim(|_| {}).await;
    h.faults().truncate_every.store(3, Relaxed);
    h.faults().http_5xx_every.store(7, Relaxed);
    let conn = connector(&h, &[]);
    let (w, counters) = (last_days(&h, 1), Counters::default());
    let (rows, _) = drain(conn.open(w, &counters).await.unwrap(), &counters).await;
    assert_truth(&rows, &h.genesys_truth(w.from, w.to));
    assert!(counters.retries.load(Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_an_auth_error_without_the_secret() {
    let h = sim(|_| {}).await;
    let conn = connector_for(&h.base_url(), "wrong-secret-123", &[]);
    let err = conn
        .open(last_days(&h, 1), &Counters::default())
        .await
        .unwrap_err();
    let ConnectorError::Http(e @ HttpError::Auth { .. }) = &err else {
        panic!("{err:?}")
    };
    let text = e.to_string();
    assert!(
        text.contains("client_secret") && text.contains("sim"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret-123") && !format!("{err:?}").contains("wrong-secret-123"));
}

/// A proxy that refuses queries without `serviceName`, as older APIs did.
async fn strict_proxy(h: &SimHandle) -> (String, tokio::task::JoinHandle<()>) {
    let refuse = |post: bool, path: &str, body: &str| {
        (post && path.starts_with("/api/v2/audits/query") && !body.contains("serviceName")).then(
            || json!({"message": "serviceName is required", "code": "invalid.value", "status": 400}).to_string(),
        )
    };
    proxy(h, refuse, |body| body).await
}

/// A proxy in front of the simulator: `refuse` may answer a request with a 400
/// body of its own (given whether it is a POST, its path and its body), and
/// `rewrite` edits every response body.
async fn proxy(
    h: &SimHandle,
    refuse: fn(bool, &str, &str) -> Option<String>,
    rewrite: fn(String) -> String,
) -> (String, tokio::task::JoinHandle<()>) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, Uri};
    let target = h.base_url();
    crate::http::install_tls();
    let client = reqwest::Client::new();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (target, client) = (target.clone(), client.clone());
        async move {
            if let Some(e) = refuse(
                method == Method::POST,
                uri.path(),
                &String::from_utf8_lossy(&body),
            ) {
                return (axum::http::StatusCode::BAD_REQUEST, e);
            }
            let mut req = client.request(method, format!("{target}{uri}")).body(body);
            for (k, v) in &headers {
                req = req.header(k, v);
            }
            let resp = req.send().await.unwrap();
            let status = axum::http::StatusCode::from_u16(resp.status().as_u16()).unwrap();
            (status, rewrite(resp.text().await.unwrap()))
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_wants_service_names_is_queried_per_service() {
    let h = sim(|c| c.genesys_per_day = 600).await;
    let (base, proxy) = strict_proxy(&h).await;
    let secret = h.state.cfg.credentials.genesys_client_secret.clone();
    let conn = connector_for(&base, &secret, &[]);
    let (w, counters) = (last_days(&h, 1), Counters::default());
    let (rows, _) = drain(conn.open(w, &counters).await.unwrap(), &counters).await;
    let got: Vec<String> = rows.iter().map(|r| r.raw_json.clone()).collect();
    assert_eq!(sorted(got), sorted(h.genesys_truth(w.from, w.to)));
    assert!(conn.per_service.load(Relaxed));
    let (rt, _) = drain(conn.open_realtime(w, &counters).await.unwrap(), &counters).await;
    assert!(!rt.is_empty() && rt.len() < rows.len());
    proxy.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_states_are_read_in_any_case() {
    let h = sim(|c| {
        c.genesys_per_day = 300;
        c.transaction_polls = 2;
    })
    .await;
    let shout = |body: String| {
        ["Queued", "Running", "Succeeded"]
            .iter()
            .fold(body, |b, s| {
                b.replace(
                    &format!("\"state\":\"{s}\""),
                    &format!("\"state\":\"{}\"", s.to_uppercase()),
                )
            })
    };
    let (base, proxy) = proxy(&h, |_, _, _| None, shout).await;
    let secret = h.state.cfg.credentials.genesys_client_secret.clone();
    let conn = connector_for(&base, &secret, &["Architect"]);
    let (w, counters) = (last_days(&h, 1), Counters::default());
    let (rows, _) = drain(conn.open(w, &counters).await.unwrap(), &counters).await;
    assert!(!rows.is_empty());
    let polls = counters.requests.load(Relaxed);
    assert!(polls >= 3, "the proxy saw the polls: {polls} requests");
    proxy.abort();
}
