//! Fake Gong `GET /v2/logs`: Basic or Bearer auth, the five log types, cursor
//! paging at 100 entries, `totalRecords`, 404 for an empty window, AccessLog kept
//! 14 days, offset `eventTime`s, and entries generated on the fly from the seed
//! (`entries.rs`; the request's checks and its cursor are in `query.rs`).

mod entries;
mod query;

use super::{gen, now_us, SimState};
use crate::connectors::gong::LogType;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use entries::render_entry;
use query::{encode_cursor, logs_query, resumed, CursorState};
use serde_json::{json, Value};
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
    /// Page number `page`, from `start` in `range`: up to [`PAGE_SIZE`]
    /// visible entries, and where the next page starts.
    fn page(
        &self,
        range: std::ops::Range<u64>,
        start: u64,
        page: u32,
        now: i64,
    ) -> (Vec<Vec<u8>>, u64) {
        let mut pos = range.start.max(start);
        let mut entries: Vec<Vec<u8>> = Vec::with_capacity(PAGE_SIZE + 1);
        let every = self.sim.cfg.duplicate_every;
        if every > 0 && page > 0 && page as u64 % every == 0 {
            // A real-world wart: the previous page's last entry served again.
            if let Some(prev) = (range.start..pos).rev().find(|i| self.visible(*i, now)) {
                entries.push(self.served(prev));
            }
        }
        let mut served = entries.len();
        while pos < range.end && served < PAGE_SIZE {
            if self.visible(pos, now) {
                entries.push(self.served(pos));
                served += 1;
            }
            pos += 1;
        }
        (entries, pos)
    }

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
    let (log_type, from, to) = match logs_query(&sim, &q) {
        Ok(asked) => asked,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
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
    let first = CursorState {
        lt: log_type.to_string(),
        from: from_us,
        to: to_us,
        pos: 0,
        page: 0,
        at: issued,
    };
    let state = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => first,
        Some(raw) => match resumed(&sim, raw, &first, to.is_some(), now) {
            Ok(state) => state,
            Err(why) => return error(StatusCode::BAD_REQUEST, &why),
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
    let (entries, pos) = stream.page(range.clone(), state.pos, state.page, now);
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
