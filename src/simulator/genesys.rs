//! The fake Genesys Cloud audit API: client-credentials tokens, the async query
//! trio (create, poll, cursor-paged results), realtime query and service mapping.
//! Messages are drawn on the fly from the seed; `truth` tells what is served.

use super::{gen, now_us, parse_query_time, SimState};
pub use data::truth;
use data::*;

mod data;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

const MAX_TRANSACTIONS: usize = 10_000;
const MAX_TOKENS: usize = 10_000;
const DAY_US: i64 = 86_400_000_000;
const MAX_PAGE_SIZE: u64 = 500;
const VALUE: &str = "invalid.value";
const PARAM: &str = "invalid.query.param.value";

/// Transactions and tokens; bounded, shared by the handlers.
#[derive(Debug, Default)]
pub struct GenesysState {
    /// Transactions by id, and their ids oldest first (for eviction).
    txs: Mutex<(HashMap<String, Tx>, VecDeque<String>)>,
    /// Access token → expiry (µs since the epoch).
    tokens: Mutex<HashMap<String, i64>>,
    tx_seq: AtomicU64,
    token_seq: AtomicU64,
}

/// `AuditQueryRequest` and `AuditRealtimeQueryRequest` bodies.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryBody {
    interval: String,
    service_name: Option<String>,
    filters: Option<Vec<Filter>>,
    sort: Option<Vec<Sort>>,
    page_number: Option<i64>,
    page_size: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Filter {
    property: String,
    value: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Sort {
    name: String,
    sort_order: String,
}

/// A query, checked.
#[derive(Debug, Clone)]
struct Query {
    from_us: i64,
    to_us: i64,
    service: Option<String>,
    realtime: bool,
    filters: Vec<Filter>,
    descending: bool,
}

#[derive(Debug)]
struct Tx {
    q: Query,
    created_us: i64,
    /// The revision when created: results are a snapshot.
    rev: u32,
    polls: u32,
    fails: bool,
    /// The status response without `state`.
    status: Value,
}

/// A failed request, answered with an `ErrorBody`.
struct Fail(StatusCode, &'static str, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        error(self.0, self.1, &self.2)
    }
}

type Reply = Result<Response, Fail>;

/// The simulator's Genesys routes (token, audits).
pub fn routes() -> Router<Arc<SimState>> {
    let all = |State(s): State<Arc<SimState>>, h: HeaderMap| async move { mapping(&s, &h, false) };
    let rt = |State(s): State<Arc<SimState>>, h: HeaderMap| async move { mapping(&s, &h, true) };
    Router::new()
        .route("/oauth/token", post(token))
        .route("/api/v2/audits/query", post(create_query))
        .route("/api/v2/audits/query/{id}", get(poll))
        .route("/api/v2/audits/query/{id}/results", get(results))
        .route("/api/v2/audits/query/realtime", post(realtime))
        .route("/api/v2/audits/query/servicemapping", get(all))
        .route("/api/v2/audits/query/realtime/servicemapping", get(rt))
}

/// A Genesys `ErrorBody` response.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let context_id = gen::uuid(0, gen::tag("genesys.context"), SEQ.fetch_add(1, Relaxed));
    let body = json!({"message": message, "code": code, "status": status.as_u16(),
                      "contextId": context_id, "details": [], "errors": []});
    let mut r = json_response(status, &body);
    if let Ok(v) = HeaderValue::from_str(&context_id) {
        r.headers_mut().insert("inin-correlation-id", v);
    }
    r
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn bad(code: &'static str, message: impl Into<String>) -> Fail {
    Fail(StatusCode::BAD_REQUEST, code, message.into())
}

/// `invalid.value` for a body field, `invalid.query.param.value` for a parameter.
fn invalid(code: &'static str, value: &str, name: &str, allowed: &[&str]) -> Fail {
    let kind = if code == VALUE {
        "field type"
    } else {
        "parameter"
    };
    let allowed = allowed.join(", ");
    let text = format!("Value [{value}] is not valid for {kind} [{name}]. ");
    bad(code, text + &format!("Allowable values are: {allowed}"))
}

/// `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC.
fn fmt_ms(us: i64) -> String {
    let t = DateTime::from_timestamp_micros(us).unwrap_or_default();
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Drops the `null` members of an object: absent, as the API leaves them.
fn compact(mut v: Value) -> Value {
    if let Value::Object(o) = &mut v {
        o.retain(|_, v| !v.is_null());
    }
    v
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------- auth

/// The credential after `scheme` in the `Authorization` header.
fn credential(headers: &HeaderMap, scheme: &str) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, credential) = value.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| credential.trim().to_owned())
}

async fn token(State(sim): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let basic = credential(&headers, "basic").and_then(|b| STANDARD.decode(b).ok());
    let basic = basic.and_then(|b| String::from_utf8(b).ok());
    let (id, secret) = match basic.as_ref().and_then(|s| s.split_once(':')) {
        Some((id, secret)) => (id.to_owned(), secret.to_owned()),
        None => (field("client_id"), field("client_secret")),
    };
    let creds = &sim.cfg.credentials;
    let oauth_error = |status: StatusCode, error: &str, text: &str| {
        let body = json!({"error": error, "description": text, "error_description": text});
        json_response(status, &body)
    };
    if id != creds.genesys_client_id || secret != creds.genesys_client_secret {
        let text = "client not found or bad client credentials";
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", text);
    }
    if field("grant_type") != "client_credentials" {
        let text = "grant_type must be client_credentials";
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", text);
    }
    let n = sim.genesys.token_seq.fetch_add(1, Relaxed);
    let token = URL_SAFE_NO_PAD.encode(gen::hex(sim.cfg.seed, gen::tag("genesys.token"), n, 96));
    let (ttl, now) = (sim.cfg.token_ttl, now_us());
    let expiry = now.saturating_add(ttl.as_micros().min(i64::MAX as u128) as i64);
    let mut tokens = lock(&sim.genesys.tokens);
    if tokens.len() >= MAX_TOKENS {
        tokens.retain(|_, exp| *exp > now);
        let oldest = tokens.iter().min_by_key(|t| *t.1).map(|t| t.0.clone());
        if let Some(t) = oldest.filter(|_| tokens.len() >= MAX_TOKENS) {
            tokens.remove(&t);
        }
    }
    tokens.insert(token.clone(), expiry);
    drop(tokens);
    sim.stats.tokens_issued.fetch_add(1, Relaxed);
    let body = json!({"access_token": token, "token_type": "bearer", "expires_in": ttl.as_secs()});
    json_response(StatusCode::OK, &body)
}

/// `Ok` for a known, unexpired bearer token; else the 401 to send.
fn authorize(sim: &SimState, headers: &HeaderMap) -> Result<(), Fail> {
    let given = credential(headers, "bearer");
    let expiry = given
        .as_ref()
        .and_then(|t| lock(&sim.genesys.tokens).get(t).copied());
    if expiry.is_some_and(|e| e > now_us()) {
        return Ok(());
    }
    sim.stats.unauthorized.fetch_add(1, Relaxed);
    let (code, text) = match given {
        None => ("authentication.required", NO_TOKEN),
        Some(_) => ("bad.credentials", "Invalid login credentials."),
    };
    Err(Fail(StatusCode::UNAUTHORIZED, code, text.into()))
}

// ---------------------------------------------------------------- queries

/// Checks a query body; returns it, the query and the echo of what was given.
fn parse_query(body: &[u8], realtime: bool) -> Result<(QueryBody, Query, Value), Fail> {
    let b: QueryBody =
        serde_json::from_slice(body).map_err(|e| bad("bad.request", e.to_string()))?;
    let time = |s: &str| parse_query_time(s).map(|t| t.timestamp_micros());
    let interval = b.interval.split_once('/').map(|(a, z)| (time(a), time(z)));
    let Some((Some(from_us), Some(to_us))) = interval else {
        return Err(bad("invalid.date", BAD_DATE));
    };
    if to_us <= from_us {
        return Err(bad("bad.request", "The interval must end after it starts."));
    }
    let services: Vec<&str> = SERVICES
        .iter()
        .filter(|x| x.1 || !realtime)
        .map(|x| x.0)
        .collect();
    let mut given: Vec<(&str, &str, &[&str])> = Vec::new();
    if let Some(s) = &b.service_name {
        given.push(("serviceName", s, &services));
    }
    for f in b.filters.iter().flatten() {
        given.push(("property", &f.property, FILTERS));
    }
    for s in b.sort.iter().flatten() {
        given.push(("name", &s.name, &["Timestamp"]));
        given.push(("sortOrder", &s.sort_order, &["ascending", "descending"]));
    }
    if let Some((field, value, allowed)) = given.into_iter().find(|(_, v, a)| !a.contains(v)) {
        return Err(invalid(VALUE, value, field, allowed));
    }
    let first_sort = b.sort.as_ref().and_then(|s| s.first());
    let descending = first_sort.is_some_and(|s| s.sort_order == "descending");
    let interval = format!("{}/{}", fmt_ms(from_us), fmt_ms(to_us));
    let echo = json!({"interval": interval, "serviceName": b.service_name,
                      "filters": b.filters, "sort": b.sort});
    let service = b.service_name.clone();
    let filters = b.filters.clone().unwrap_or_default();
    let q = Query {
        from_us,
        to_us,
        service,
        realtime,
        filters,
        descending,
    };
    Ok((b, q, compact(echo)))
}

async fn create_query(State(sim): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Reply {
    authorize(&sim, &headers)?;
    let (_, q, echo) = parse_query(&body, false)?;
    let len_us = q.to_us.saturating_sub(q.from_us);
    if len_us > 31 * DAY_US {
        return Err(bad("bad.request", OVER_31_DAYS));
    }
    if let Some(max) = sim.cfg.genesys_max_interval {
        if len_us as u128 > max.as_micros() {
            let text = format!(
                "The interval exceeds the maximum of {} hours allowed for this organization.",
                max.as_secs() / 3600
            );
            return Err(bad("bad.request", text));
        }
    }
    let n = sim.genesys.tx_seq.fetch_add(1, Relaxed);
    let longest = sim.cfg.fail_transactions_longer_than;
    let too_long = longest.is_some_and(|d| len_us as u128 > d.as_micros());
    let fails = n < sim.cfg.fail_first_transactions as u64 || too_long;
    let id = gen::uuid(sim.cfg.seed, gen::tag("genesys.transaction"), n);
    let created_us = now_us();
    let mut status = json!({"id": id, "startDate": fmt_ms(created_us)});
    if let (Value::Object(s), Value::Object(e)) = (&mut status, echo) {
        s.extend(e);
    }
    let rev = sim.revision.load(Relaxed);
    let tx = Tx {
        q,
        created_us,
        rev,
        polls: 0,
        fails,
        status,
    };
    let body = status_body(&tx, "Queued");
    let mut txs = lock(&sim.genesys.txs);
    txs.0.insert(id.clone(), tx);
    txs.1.push_back(id);
    while txs.1.len() > MAX_TRANSACTIONS {
        if let Some(old) = txs.1.pop_front() {
            txs.0.remove(&old);
        }
    }
    Ok(json_response(StatusCode::ACCEPTED, &body))
}

fn status_body(tx: &Tx, state: &str) -> Value {
    let mut v = tx.status.clone();
    v["state"] = json!(state);
    v
}

fn not_found() -> Fail {
    let text = "The requested resource was not found.";
    Fail(StatusCode::NOT_FOUND, "not.found", text.into())
}

async fn poll(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&sim, &headers)?;
    let mut txs = lock(&sim.genesys.txs);
    let tx = txs.0.get_mut(&id).ok_or_else(not_found)?;
    tx.polls = tx.polls.saturating_add(1);
    Ok(match (tx.polls <= sim.cfg.transaction_polls, tx.fails) {
        (true, _) => json_response(StatusCode::ACCEPTED, &status_body(tx, "Running")),
        (false, true) => json_response(StatusCode::OK, &status_body(tx, "Failed")),
        (false, false) => json_response(StatusCode::OK, &status_body(tx, "Succeeded")),
    })
}

/// The results parameters: `(cursor, pageSize, expand=user)`.
fn page_params(raw: Option<&str>) -> Result<(Option<String>, u64, bool), Fail> {
    let (mut cursor, mut size, mut expand) = (None, 25, false);
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match &*k {
            "cursor" => cursor = Some(v.into_owned()),
            "pageSize" => match v.parse::<u64>() {
                Ok(n @ 1..=MAX_PAGE_SIZE) => size = n,
                _ => return Err(invalid(PARAM, &v, "pageSize", &["1 to 500"])),
            },
            "expand" if v == "user" => expand = true,
            "expand" => return Err(invalid(PARAM, &v, "expand", &["user"])),
            _ => {}
        }
    }
    Ok((cursor, size, expand))
}

/// The opaque cursor for resuming transaction `tx_id` at scan position `pos`.
fn cursor(sim: &SimState, tx_id: &str, pos: u64) -> String {
    let check = gen::h(sim.cfg.seed, gen::tag(tx_id), pos) & 0xffff_ffff;
    URL_SAFE_NO_PAD.encode(format!("{pos}.{check:08x}"))
}

async fn results(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    authorize(&sim, &headers)?;
    let (given, size, expand) = page_params(raw.as_deref())?;
    let (q, created_us, rev) = {
        let txs = lock(&sim.genesys.txs);
        let tx = txs.0.get(&id).ok_or_else(not_found)?;
        if tx.polls <= sim.cfg.transaction_polls && sim.cfg.transaction_polls > 0 {
            return Err(bad(
                "bad.request",
                "The query has not completed yet. Poll until it has.",
            ));
        }
        if tx.fails {
            return Err(bad(
                "bad.request",
                "The query failed and has no results. Run it again.",
            ));
        }
        (tx.q.clone(), tx.created_us, tx.rev)
    };
    let c = Ctx::new(&sim, rev);
    let span = c.span(&q, created_us);
    let mut pos = if q.descending { span.1 } else { span.0 };
    if let Some(given) = given {
        let decoded = URL_SAFE_NO_PAD.decode(&given).ok();
        let decoded = decoded.and_then(|b| String::from_utf8(b).ok());
        let p = decoded.and_then(|s| s.split_once('.')?.0.parse::<u64>().ok());
        let valid = p.filter(|p| (span.0..=span.1).contains(p) && cursor(&sim, &id, *p) == given);
        let allowed = "a cursor from this query's previous page";
        pos = valid.ok_or_else(|| invalid(VALUE, &given, "cursor", &[allowed]))?;
    }
    let mut entities = Vec::new();
    while entities.len() < size as usize {
        let Some(m) = c.next(&q, span, &mut pos, created_us) else {
            break;
        };
        entities.push(c.render(&m, expand));
    }
    let mut body = json!({"id": id, "pageSize": size});
    let more = (entities.len() == size as usize).then(|| c.next(&q, span, &mut pos, created_us));
    if let Some(m) = more.flatten() {
        body["cursor"] = json!(cursor(&sim, &id, if q.descending { m.i + 1 } else { m.i }));
    }
    body["entities"] = Value::Array(entities);
    Ok(json_response(StatusCode::OK, &body))
}

async fn realtime(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Reply {
    authorize(&sim, &headers)?;
    let (_, _, expand) = page_params(raw.as_deref())?;
    let (b, q, _) = parse_query(&body, true)?;
    let number = |value: Option<i64>, key: &str, default: u64, max: u64| match value {
        None => Ok(default),
        Some(n) if (1..=max as i64).contains(&n) => Ok(n as u64),
        Some(n) => {
            let allowed = format!("1 to {max}");
            Err(invalid(VALUE, &n.to_string(), key, &[&allowed]))
        }
    };
    let page_number = number(b.page_number, "pageNumber", 1, i32::MAX as u64)?;
    let page_size = number(b.page_size, "pageSize", 25, MAX_PAGE_SIZE)?;
    let now = now_us();
    if q.from_us < now - 14 * DAY_US {
        return Err(bad("bad.request", OVER_14_DAYS));
    }
    let c = Ctx::new(&sim, sim.revision.load(Relaxed));
    let span = c.span(&q, now);
    let mut pos = if q.descending { span.1 } else { span.0 };
    let page = (page_number - 1) * page_size..page_number.saturating_mul(page_size);
    let (mut total, mut entities) = (0u64, Vec::new());
    while let Some(m) = c.next(&q, span, &mut pos, now) {
        if page.contains(&total) {
            entities.push(c.render(&m, expand));
        }
        total += 1;
    }
    let body = json!({"entities": entities, "pageSize": page_size, "pageNumber": page_number,
                      "total": total, "pageCount": total.div_ceil(page_size)});
    Ok(json_response(StatusCode::OK, &body))
}

/// `AuditQueryServiceMapping`: every service, or the realtime ones.
fn mapping(sim: &SimState, headers: &HeaderMap, realtime_only: bool) -> Reply {
    authorize(sim, headers)?;
    let entity = |(name, actions): &Entity| json!({"name": name, "actions": actions});
    let entities = |ents: &[Entity]| ents.iter().map(entity).collect::<Vec<_>>();
    let services: Vec<Value> = SERVICES
        .iter()
        .filter(|s| s.1 || !realtime_only)
        .map(|(name, _, ents)| json!({"name": name, "entities": entities(ents)}))
        .collect();
    let body = json!({"services": services});
    Ok(json_response(StatusCode::OK, &body))
}
