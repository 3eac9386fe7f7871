//! The audit query's wire format: the request body and its interval, and the
//! transaction's status as Genesys answers it (states read in any case).

use crate::connector::Window;
use crate::http::Reply;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use std::borrow::Cow;

/// A query transaction's id and state.
#[derive(Debug, Deserialize)]
pub(super) struct Status {
    pub(super) id: String,
    #[serde(deserialize_with = "TxState::deserialize_any_case")]
    pub(super) state: TxState,
}

/// The state of an audit query transaction. The spec's are PascalCase; any
/// case is read, and a state the spec does not list is kept as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TxState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// The transaction is gone (HTTP 404 while polling).
    NotFound,
    Unknown(String),
}

impl TxState {
    pub(super) fn parse(s: &str) -> TxState {
        match s.to_ascii_lowercase().as_str() {
            "queued" | "pending" => TxState::Queued,
            "running" => TxState::Running,
            "succeeded" => TxState::Succeeded,
            "failed" => TxState::Failed,
            "cancelled" | "canceled" => TxState::Cancelled,
            "notfound" => TxState::NotFound,
            _ => TxState::Unknown(s.to_owned()),
        }
    }

    fn deserialize_any_case<'de, D: Deserializer<'de>>(d: D) -> Result<TxState, D::Error> {
        let s: Cow<'de, str> = Deserialize::deserialize(d)?;
        Ok(TxState::parse(&s))
    }

    /// Whether polling is over (the transaction ended, well or not).
    pub(super) fn ended(&self) -> bool {
        !matches!(self, TxState::Queued | TxState::Running)
    }
}

impl std::fmt::Display for TxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TxState::Queued => "Queued",
            TxState::Running => "Running",
            TxState::Succeeded => "Succeeded",
            TxState::Failed => "Failed",
            TxState::Cancelled => "Cancelled",
            TxState::NotFound => "NotFound",
            TxState::Unknown(s) => s,
        })
    }
}

/// `AuditQueryRequest` (or, with a page, `AuditRealtimeQueryRequest`).
pub(super) fn query_body(window: Window, service: Option<&str>, page: Option<(u32, u32)>) -> Value {
    let mut body = json!({
        "interval": interval(window),
        "sort": [{"name": "Timestamp", "sortOrder": "ascending"}],
    });
    if let Some(s) = service {
        body["serviceName"] = json!(s);
    }
    if let Some((number, size)) = page {
        body["pageNumber"] = json!(number);
        body["pageSize"] = json!(size);
    }
    body
}

/// `from/to` in `yyyy-MM-ddTHH:mm:ss.SSSZ`, widened to whole milliseconds so
/// that no event of the window falls outside it.
pub(super) fn interval(w: Window) -> String {
    let ms = |t: DateTime<Utc>, up: bool| {
        let us = t.timestamp_micros();
        let ms = us.div_euclid(1000) + i64::from(up && us.rem_euclid(1000) != 0);
        let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(t);
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    };
    format!("{}/{}", ms(w.from, false), ms(w.to, true))
}

/// A status answer; its id goes into URL paths, so it must be plain.
pub(super) fn parse_status(r: &Reply) -> Result<Status, String> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
    match serde_json::from_slice::<Status>(&r.body) {
        Ok(s) if !s.id.is_empty() && s.id.bytes().all(plain) => Ok(s),
        Ok(s) => Err(format!("unusable transaction id `{}`", s.id)),
        Err(e) => Err(format!("unreadable query status ({e})")),
    }
}
