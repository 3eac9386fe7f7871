//! Fake Gong `GET /v2/logs`: Basic or Bearer auth, the five log types, cursor
//! paging at 100 entries, `totalRecords`, 404 for an empty window, AccessLog kept
//! 14 days, offset `eventTime`s, and entries generated on the fly from the seed.

use super::{gen, now_us, parse_query_time, SimState};
use crate::connectors::gong::LogType;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::Arc;

/// Entries per page, as Gong serves them.
pub const PAGE_SIZE: usize = 100;
/// How long Gong keeps AccessLog.
const ACCESS_LOG_RETENTION_US: i64 = 14 * 86_400_000_000;
const LOG_TYPES: [&str; 5] = LogType::NAMES;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn routes() -> Router<Arc<SimState>> {
    Router::new().route("/v2/logs", get(list_logs))
}

/// Gong's `ErrorResponse`: `{"requestId": …, "errors": [message]}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"requestId": request_id(gen::tag(message)), "errors": [message]});
    (status, axum::Json(body)).into_response()
}

fn request_id(x: u64) -> String {
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut v = gen::mix(x);
    (0..19)
        .map(|_| {
            let c = alphabet[(v % 36) as usize] as char;
            v = gen::mix(v);
            c
        })
        .collect()
}

fn authorized(sim: &SimState, headers: &HeaderMap) -> bool {
    let c = &sim.cfg.credentials;
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return token.trim() == c.gong_bearer_token;
    }
    let Some(b64) = auth.strip_prefix("Basic ") else {
        return false;
    };
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        c.gong_access_key, c.gong_access_key_secret
    ));
    b64.trim() == expected
}

/// One log type's data: its timeline and the lower bound of what Gong keeps.
struct Stream<'a> {
    sim: &'a SimState,
    log_type: &'static str,
    timeline: gen::Timeline,
}

impl<'a> Stream<'a> {
    fn new(sim: &'a SimState, log_type: &'static str) -> Stream<'a> {
        let cfg = &sim.cfg;
        let timeline = gen::Timeline::new(
            cfg.seed,
            gen::tag(log_type),
            cfg.origin.timestamp_micros(),
            cfg.gong_per_day,
            cfg.end.map(|e| e.timestamp_micros()),
        );
        Stream {
            sim,
            log_type,
            timeline,
        }
    }

    /// Indexes with `from ≤ t < to`, clamped to what exists at `now`.
    fn range(&self, from_us: i64, to_us: i64, now_us: i64) -> std::ops::Range<u64> {
        let floor = if self.log_type == "AccessLog" {
            now_us - ACCESS_LOG_RETENTION_US
        } else {
            i64::MIN
        };
        self.timeline
            .range(from_us.max(floor), to_us.min(now_us.saturating_add(1)))
    }

    fn visible(&self, i: u64, now_us: i64) -> bool {
        self.sim
            .visible(self.timeline.tag, i, self.timeline.time(i), now_us)
    }

    fn malformed(&self, i: u64) -> bool {
        let every = self.sim.cfg.malformed_every;
        every > 0 && i % every == every / 2
    }

    /// Served with a byte that is not UTF-8 (whether or not also malformed).
    fn bad_utf8(&self, i: u64) -> bool {
        let every = self.sim.cfg.bad_utf8_every;
        every > 0 && i % every == every - 1
    }

    /// Entries in `range` that are served at `now`.
    fn count_visible(&self, range: std::ops::Range<u64>, now_us: i64) -> u64 {
        let Some(late) = self.sim.cfg.late else {
            return range.end - range.start;
        };
        // Only the last `delay` of data can be hidden: scan just that tail.
        let tail = self
            .timeline
            .first_at_or_after(now_us - late.delay.as_micros() as i64)
            .max(range.start);
        let hidden = (tail..range.end)
            .filter(|i| !self.visible(*i, now_us))
            .count() as u64;
        range.end - range.start - hidden
    }

    fn entry(&self, i: u64) -> String {
        render_entry(
            self.sim,
            self.log_type,
            i,
            self.timeline.time(i),
            self.malformed(i),
        )
    }

    /// The entry's bytes as served: with `bad_utf8_every`, a 0xff byte inside
    /// the first key of `logRecord` (every entry has one).
    fn served(&self, i: u64) -> Vec<u8> {
        let mut bytes = self.entry(i).into_bytes();
        if self.bad_utf8(i) {
            let marker = b"\"logRecord\":{\"";
            if let Some(at) = bytes.windows(marker.len()).position(|w| w == marker) {
                bytes.insert(at + marker.len(), 0xff);
            }
        }
        bytes
    }
}

/// Where a page starts, carried in the opaque cursor.
#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct CursorState {
    lt: String,
    from: i64,
    to: i64,
    pos: u64,
    page: u32,
    /// When the cursor was issued (µs), for `gong_cursor_ttl`.
    #[serde(default)]
    at: i64,
}

fn sign(seed: u64, payload: &str) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update(payload.as_bytes());
    B64.encode(&hasher.finalize()[..16])
}

fn encode_cursor(seed: u64, c: &CursorState) -> String {
    let payload = B64.encode(serde_json::to_vec(c).unwrap_or_default());
    format!("eyJhbGciOiJIUzI1NiJ9.{payload}.{}", sign(seed, &payload))
}

fn decode_cursor(seed: u64, s: &str) -> Option<CursorState> {
    let mut parts = s.split('.');
    let (_, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || sign(seed, payload) != sig {
        return None;
    }
    serde_json::from_slice(&B64.decode(payload).ok()?).ok()
}

async fn list_logs(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&sim, &headers) {
        sim.stats
            .unauthorized
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return error(
            StatusCode::UNAUTHORIZED,
            "Access denied: the credentials are invalid or lack the api:logs:read scope",
        );
    }
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, m);
    let Some(log_type) = q.get("logType") else {
        return bad("logType is required");
    };
    let Some(log_type) = LOG_TYPES.iter().find(|t| **t == log_type.as_str()) else {
        return bad(&format!("logType must be one of {}", LOG_TYPES.join(", ")));
    };
    if let Some(has) = &sim.cfg.gong_log_types {
        if !has.iter().any(|t| t == log_type) {
            return bad(&format!(
                "logType {log_type} is not available for this company"
            ));
        }
    }
    let Some(from_raw) = q.get("fromDateTime") else {
        return bad("fromDateTime is required");
    };
    let Some(from) = parse_query_time(from_raw) else {
        return bad("fromDateTime must be an ISO-8601 date-time, e.g. 2018-02-18T02:30:00-07:00");
    };
    let to = match q.get("toDateTime").map(|s| parse_query_time(s)) {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => {
            return bad("toDateTime must be an ISO-8601 date-time, e.g. 2018-02-18T08:00:00Z")
        }
    };
    if to.is_some_and(|t| t <= from) {
        return bad("fromDateTime must be before toDateTime");
    }
    let now = now_us();
    let stream = Stream::new(&sim, log_type);
    let (from_us, to_us) = (
        from.timestamp_micros(),
        to.map_or(now, |t| t.timestamp_micros()),
    );
    // Cursors carry when they were issued only when they expire: pages stay
    // byte-identical for a seed otherwise.
    let issued = if sim.cfg.gong_cursor_ttl.is_some() {
        now
    } else {
        0
    };
    let state = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => CursorState {
            lt: log_type.to_string(),
            from: from_us,
            to: to_us,
            pos: 0,
            page: 0,
            at: issued,
        },
        Some(raw) => match decode_cursor(sim.cfg.seed, raw) {
            Some(c)
                if sim
                    .cfg
                    .gong_cursor_ttl
                    .is_some_and(|ttl| now - c.at >= ttl.as_micros() as i64) =>
            {
                return bad("cursor has expired")
            }
            Some(c)
                if c.lt == *log_type && c.from == from_us && to.is_none_or(|_| c.to == to_us) =>
            {
                c
            }
            _ => return bad("failed to verify cursor"),
        },
    };
    let range = stream.range(state.from, state.to, now);
    let total = stream.count_visible(range.clone(), now);
    if total == 0 {
        return error(
            StatusCode::NOT_FOUND,
            "No logs found for the specified period",
        );
    }
    let mut pos = range.start.max(state.pos);
    let mut entries: Vec<Vec<u8>> = Vec::with_capacity(PAGE_SIZE + 1);
    let every = sim.cfg.duplicate_every;
    if every > 0 && state.page > 0 && state.page as u64 % every == 0 {
        // A real-world wart: the previous page's last entry served again.
        if let Some(prev) = (range.start..pos).rev().find(|i| stream.visible(*i, now)) {
            entries.push(stream.served(prev));
        }
    }
    let mut served = entries.len();
    while pos < range.end && served < PAGE_SIZE {
        if stream.visible(pos, now) {
            entries.push(stream.served(pos));
            served += 1;
        }
        pos += 1;
    }
    let more = (pos..range.end).any(|i| stream.visible(i, now));
    let mut records = json!({"totalRecords": total, "currentPageSize": entries.len(), "currentPageNumber": state.page});
    if more {
        let next = CursorState {
            pos,
            page: state.page + 1,
            at: issued,
            ..state
        };
        records["cursor"] = Value::String(encode_cursor(sim.cfg.seed, &next));
    }
    let id = request_id(gen::h(
        sim.cfg.seed,
        stream.timeline.tag,
        pos ^ from_us as u64,
    ));
    let mut body =
        format!("{{\"requestId\":\"{id}\",\"records\":{records},\"logEntries\":[").into_bytes();
    body.extend_from_slice(&entries.join(&b","[..]));
    body.extend_from_slice(b"]}");
    ([("content-type", "application/json")], body).into_response()
}

/// Ground truth for one log type: the well-formed (or, with `malformed`, the
/// malformed) entries with `from ≤ eventTime < to` served at `now_us`. Entries
/// served with a byte that is not UTF-8 are in neither: see [`truth_bad_utf8`].
pub fn truth(
    sim: &SimState,
    log_type: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now_us: i64,
    malformed: bool,
) -> Vec<String> {
    let Some(lt) = LOG_TYPES.iter().find(|t| **t == log_type) else {
        return Vec::new();
    };
    let stream = Stream::new(sim, lt);
    stream
        .range(from.timestamp_micros(), to.timestamp_micros(), now_us)
        .filter(|i| stream.visible(*i, now_us) && stream.malformed(*i) == malformed)
        .filter(|i| !stream.bad_utf8(*i))
        .map(|i| stream.entry(i))
        .collect()
}

/// The entries of `log_type` in the same range served with a byte that is not
/// UTF-8 (`bad_utf8_every`), as their exact bytes.
pub fn truth_bad_utf8(
    sim: &SimState,
    log_type: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now_us: i64,
) -> Vec<Vec<u8>> {
    let Some(lt) = LOG_TYPES.iter().find(|t| **t == log_type) else {
        return Vec::new();
    };
    let stream = Stream::new(sim, lt);
    stream
        .range(from.timestamp_micros(), to.timestamp_micros(), now_us)
        .filter(|i| stream.visible(*i, now_us) && stream.bad_utf8(*i))
        .map(|i| stream.served(i))
        .collect()
}

// ---------------------------------------------------------------------------
// Entry bodies. Keys follow the real API; `logRecord` bodies follow what public
// integrations report per log type (request headers for AccessLog, table
// changes for UserActivityLog, call and viewer for the call logs).

const FIRST: [&str; 12] = [
    "Jon", "Zoë", "Ana", "Łukasz", "Mei", "Olu", "Sven", "Priya", "Chloé", "Diego", "Aiyana", "李",
];
const LAST: [&str; 10] = [
    "Snow",
    "Ångström",
    "García",
    "Nowak",
    "Chen",
    "Adeyemi",
    "Öberg",
    "Sharma",
    "Dubois",
    "雷",
];
const OFFSETS: [i32; 3] = [-8 * 3600, 5 * 3600 + 1800, 0];

struct User {
    id: String,
    email: String,
    name: String,
}

fn user(seed: u64, k: u64) -> User {
    let x = gen::h(seed, 0x05e2, k % 40);
    let (first, last) = (gen::pick(x, &FIRST), gen::pick(x >> 8, &LAST));
    let id = format!(
        "{}",
        1_000_000_000_000_000_000 + x % 8_000_000_000_000_000_000
    );
    // Emails are ASCII as real tenants' are: `Łukasz Ångström` → `lukasz.angstrom`.
    let ascii: String = super::ascii::transliterate(&format!("{first}.{last}"))
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let local = if ascii.trim_matches('.').is_empty() {
        format!("user{}", k % 40)
    } else {
        ascii.to_lowercase()
    };
    // One user in forty has an empty display name, as real tenants do.
    let name = if k % 40 == 7 {
        String::new()
    } else {
        format!("{first} {last}")
    };
    User {
        id,
        email: format!("{local}.{}@acme.example", k % 40),
        name,
    }
}

/// `eventTime` in one of three offsets, with milliseconds only when non-zero.
fn event_time(t_us: i64, offset_secs: i32) -> String {
    let tz = FixedOffset::east_opt(offset_secs)
        .unwrap_or(FixedOffset::east_opt(0).expect("zero offset"));
    let t = tz
        .timestamp_micros(t_us)
        .single()
        .unwrap_or_else(|| tz.timestamp_micros(0).unwrap());
    let fmt = if t_us % 1_000_000 == 0 {
        "%Y-%m-%dT%H:%M:%S"
    } else {
        "%Y-%m-%dT%H:%M:%S%.3f"
    };
    let zone = if offset_secs == 0 && t_us % 3 == 0 {
        "Z".to_owned()
    } else {
        t.format("%:z").to_string()
    };
    format!("{}{zone}", t.format(fmt))
}

fn ip(x: u64) -> String {
    if x % 5 == 0 {
        format!("2001:db8:{:x}::{:x}", (x >> 8) & 0xffff, (x >> 24) & 0xffff)
    } else {
        format!("203.0.{}.{}", (x >> 8) % 256, (x >> 16) % 254 + 1)
    }
}

fn render_entry(sim: &SimState, log_type: &str, i: u64, t_us: i64, malformed: bool) -> String {
    let seed = sim.cfg.seed;
    let tg = gen::tag(log_type);
    let x = gen::h(seed, tg, i);
    let u = user(seed, x >> 3);
    let time = event_time(t_us, *gen::pick(x >> 17, &OFFSETS));
    let call_id = format!(
        "{}",
        7_000_000_000_000_000_000u64 + gen::h(seed, tg ^ 0xca11, i / 3) % 1_000_000_000_000_000_000
    );
    let mut e = serde_json::Map::new();
    let internal = !log_type.starts_with("ExternallyShared");
    if internal {
        e.insert("userId".into(), json!(u.id));
        e.insert("userEmailAddress".into(), json!(u.email));
        if x % 11 != 0 {
            e.insert("userFullName".into(), json!(u.name));
        }
    } else {
        e.insert(
            "userEmailAddress".into(),
            json!(format!("guest{}@partner-{}.example", x % 97, x % 7)),
        );
        if x % 3 != 0 {
            e.insert(
                "userFullName".into(),
                json!(format!("Guest {}", gen::pick(x >> 5, &FIRST))),
            );
        }
    }
    let record = match log_type {
        "AccessLog" => {
            let method = *gen::pick(x >> 21, &["GET", "GET", "GET", "POST", "PUT", "DELETE"]);
            let path = gen::pick(
                x >> 25,
                &[
                    "/ajax/home/calls",
                    "/call",
                    "/ajax/settings/api",
                    "/library/folder",
                    "/deals",
                ],
            );
            json!({
                "requested_uri": format!("{path}?id={}", x % 100_000),
                "requested_url": format!("https://app.gong.io{path}?id={}", x % 100_000),
                "method": method,
                "protocol": "HTTP/1.1",
                "status": *gen::pick(x >> 29, &[200, 200, 200, 302, 403, 404, 500]),
                "elapsed_time": x % 900,
                "content_length": x % 50_000,
                "message": if x % 13 == 0 { "" } else { "request completed" },
                "request_headers": {
                    "referer": "https://app.gong.io/home",
                    "x-forwarded-for": if x % 4 == 0 { format!("{}, 10.0.{}.{}", ip(x >> 7), x % 255, (x >> 3) % 255) } else { ip(x >> 7) },
                    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
                },
                "response_headers": {"x-traceid": gen::hex(seed, tg, i, 16), "content-type": "application/json", "x-iid": gen::hex(seed, tg ^ 1, i, 8)},
                "mdc": {"xtid": gen::hex(seed, tg ^ 2, i, 12)},
            })
        }
        "UserActivityLog" => {
            if x % 9 == 0 {
                let imp = user(seed, x >> 13);
                e.insert("impersonatorUserId".into(), json!(imp.id));
                e.insert("impersonatorEmailAddress".into(), json!(imp.email));
                e.insert("impersonatorFullName".into(), json!(imp.name));
                e.insert(
                    "impersonatorCompanyId".into(),
                    json!(format!("{}", 5_000_000_000_000_000_000u64 + x % 1000)),
                );
            }
            let action = *gen::pick(
                x >> 23,
                &[
                    "EXPORT_CALLS",
                    "UPDATE_CALL_PRIVACY",
                    "DELETE_CALL",
                    "CHANGE_USER_SETTINGS",
                    "SHARE_CALL",
                    "LOGIN",
                ],
            );
            json!({
                "action": action,
                "httpRequest": {
                    "clientIp": ip(x >> 9),
                    "verb": *gen::pick(x >> 27, &["POST", "PUT", "DELETE"]),
                    "endpointUri": format!("/ajax/{}", action.to_lowercase().replace('_', "-")),
                    "referrerUri": "https://app.gong.io/settings",
                    "body": if x % 5 == 0 { String::new() } else { format!("{{\"callId\":\"{call_id}\"}}") },
                    "parameters": [{"name": "workspace", "value": format!("{}", x % 4)}],
                },
                "tableChanges": [{
                    "tableName": *gen::pick(x >> 31, &["calls", "users", "call_privacy", "workspace_settings"]),
                    "preSnapshotTimestamp": t_us / 1000 - 1,
                    "postSnapshotTimestamp": t_us / 1000,
                    "rowChanges": [{
                        "primaryKeyColumns": [{"columnName": "id", "columnValue": call_id}],
                        "columnChanges": [{"columnName": "is_private", "oldValue": "false", "newValue": "true", "operation": "UPDATE"}],
                    }],
                }],
                "customData": [],
                "workspaceId": format!("{}", 4_000_000_000_000_000_000u64 + x % 4),
            })
        }
        "UserCallPlay" | "ExternallySharedCallPlay" => {
            let start = (x % 3600) as f64 + 0.25;
            let mut r = json!({
                "call_id": call_id,
                "video_player_instance_id": gen::uuid(seed, tg, i / 3),
                "sequence_num": i % 3,
                "play_speed": *gen::pick(x >> 19, &[1.0, 1.25, 1.5, 2.0]),
                "device": *gen::pick(x >> 15, &["desktop", "mobile", "tablet"]),
                "start_time": start,
                "end_time": start + (x % 120) as f64,
                "event_time_on_device": event_time(t_us - 1_000_000, 0),
                "offline": x % 17 == 0,
                "live": x % 23 == 0,
            });
            if log_type == "ExternallySharedCallPlay" {
                r["time_based_secure_sharing_id"] = json!(gen::hex(seed, tg ^ 3, i / 3, 24));
            }
            r
        }
        _ => json!({
            "call_id": call_id,
            "time_based_secure_sharing_id": gen::hex(seed, tg ^ 3, i, 24),
            "page_viewer_ip": ip(x >> 11),
        }),
    };
    e.insert("eventTime".into(), json!(time));
    e.insert("logRecord".into(), record);
    if malformed {
        // Alternate the two ways real payloads go wrong: a bad time, a wrong type.
        if (i / sim.cfg.malformed_every.max(1)) % 2 == 0 {
            e.insert("eventTime".into(), json!("2026-13-45T99:99:99 PST"));
        } else {
            e.insert("userEmailAddress".into(), json!(12345));
            e.insert("eventTime".into(), json!(42));
        }
    }
    Value::Object(e).to_string()
}
