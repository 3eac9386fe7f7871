//! The simulated `/v2/logs` request: its query parameters checked as Gong
//! checks them, and the opaque cursor (signed with the seed, optionally
//! expiring) that carries where the next page starts.

use super::{B64, LOG_TYPES};
use crate::simulator::{parse_query_time, SimState};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::Digest;
use std::collections::HashMap;

/// Where a page starts, carried in the opaque cursor.
#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
pub(super) struct CursorState {
    pub(super) lt: String,
    pub(super) from: i64,
    pub(super) to: i64,
    pub(super) pos: u64,
    pub(super) page: u32,
    /// When the cursor was issued (µs), for `gong_cursor_ttl`.
    #[serde(default)]
    pub(super) at: i64,
}

fn sign(seed: u64, payload: &str) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update(payload.as_bytes());
    B64.encode(&hasher.finalize()[..16])
}

pub(super) fn encode_cursor(seed: u64, c: &CursorState) -> String {
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

/// The log type, `fromDateTime` and `toDateTime` (if any) a request asks for.
pub(super) type Asked = (&'static str, DateTime<Utc>, Option<DateTime<Utc>>);

/// The log type and time range a `/v2/logs` request asks for, or why Gong
/// answers 400.
pub(super) fn logs_query(sim: &SimState, q: &HashMap<String, String>) -> Result<Asked, String> {
    let bad = |m: &str| m.to_owned();
    let Some(log_type) = q.get("logType") else {
        return Err(bad("logType is required"));
    };
    let Some(log_type) = LOG_TYPES.iter().find(|t| **t == log_type.as_str()) else {
        return Err(bad(&format!(
            "logType must be one of {}",
            LOG_TYPES.join(", ")
        )));
    };
    if let Some(has) = &sim.cfg.gong_log_types {
        if !has.iter().any(|t| t == log_type) {
            return Err(bad(&format!(
                "logType {log_type} is not available for this company"
            )));
        }
    }
    let Some(from_raw) = q.get("fromDateTime") else {
        return Err(bad("fromDateTime is required"));
    };
    let Some(from) = parse_query_time(from_raw) else {
        return Err(bad(
            "fromDateTime must be an ISO-8601 date-time, e.g. 2018-02-18T02:30:00-07:00",
        ));
    };
    let to = match q.get("toDateTime").map(|s| parse_query_time(s)) {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => {
            return Err(bad(
                "toDateTime must be an ISO-8601 date-time, e.g. 2018-02-18T08:00:00Z",
            ))
        }
    };
    if to.is_some_and(|t| t <= from) {
        return Err(bad("fromDateTime must be before toDateTime"));
    }
    Ok((log_type, from, to))
}

/// The state a request's cursor resumes, if it is this query's, verifies and
/// has not expired; else why Gong answers 400.
pub(super) fn resumed(
    sim: &SimState,
    raw: &str,
    first: &CursorState,
    bounded: bool,
    now: i64,
) -> Result<CursorState, String> {
    let bad = |m: &str| m.to_owned();
    match decode_cursor(sim.cfg.seed, raw) {
        Some(c)
            if sim
                .cfg
                .gong_cursor_ttl
                .is_some_and(|ttl| now - c.at >= ttl.as_micros() as i64) =>
        {
            Err(bad("cursor has expired"))
        }
        Some(c) if c.lt == first.lt && c.from == first.from && (!bounded || c.to == first.to) => {
            Ok(c)
        }
        _ => Err(bad("failed to verify cursor")),
    }
}
