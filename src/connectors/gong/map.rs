//! Gong's mirror table and its row type, and mapping one `/v2/logs` entry to a
//! [`GongRow`]: the content-hash id, UTC time, per-log-type fields, and the
//! entry's text with insignificant whitespace removed.

use super::id::{entry_id, IdFields};
use super::LogType;
use crate::connectors::json::compact_json;
use crate::record::{IdForm, Key, Rejected, Row, Table, Value as Column};
use crate::time::parse_instant;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

/// `gong_log`, under the view `gong_audit_log_entry`: what the mirror stores
/// beside `raw_json` (the view computes every other column from it when read;
/// see `migrations/0006_storage_for_a_million.sql`). The id hashes the entry,
/// its time included, so an entry is found again by time and id.
pub const TABLE: Table = Table {
    name: "gong_log",
    time_column: "timestamp",
    id: IdForm::HexBytes,
    key: Key::TimeAndId,
    columns: &["log_type_code", "stored_resource_id"],
};

/// One `/v2/logs` entry, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct GongRow {
    /// Hex SHA-256 over the entry's identifying content (`docs/gong-id.md`).
    pub id: String,
    pub log_type: LogType,
    /// `eventTime` as an instant.
    pub timestamp: DateTime<Utc>,
    /// UserActivityLog: the primary key columns of the row it changed, joined
    /// with `,` (what SQL cannot compute when the view is read); else `None`.
    pub resource_id: Option<String>,
    /// The entry exactly as received (insignificant whitespace removed).
    pub raw_json: String,
}

impl From<GongRow> for Row {
    fn from(r: GongRow) -> Row {
        let columns = vec![Column::Int(r.log_type.code()), r.resource_id.into()];
        Row::new(r.id, r.timestamp, columns, r.raw_json)
    }
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(rename = "userId", borrow)]
    user_id: Option<Cow<'a, str>>,
    #[serde(rename = "userEmailAddress", borrow)]
    user_email: Option<Cow<'a, str>>,
    #[serde(rename = "userFullName", borrow)]
    _user_full_name: Option<Cow<'a, str>>,
    #[serde(rename = "impersonatorUserId", borrow)]
    impersonator_id: Option<Cow<'a, str>>,
    #[serde(rename = "impersonatorEmailAddress", borrow)]
    impersonator_email: Option<Cow<'a, str>>,
    #[serde(rename = "impersonatorFullName", borrow)]
    _impersonator_full_name: Option<Cow<'a, str>>,
    #[serde(rename = "impersonatorCompanyId", borrow)]
    _impersonator_company_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventTime", borrow)]
    event_time: Option<Cow<'a, str>>,
    /// Kept as text: the id is computed from it (see `id.rs`), the derived
    /// fields from its parsed value.
    #[serde(rename = "logRecord", borrow)]
    log_record: Option<&'a RawValue>,
}

/// Maps one raw entry; what cannot be mapped is returned with the reason.
pub fn map_entry(log_type: LogType, raw: &str) -> Result<GongRow, Rejected> {
    let reject = |reason: String| Rejected {
        reason,
        raw_payload: compact_json(raw),
    };
    let e: Entry<'_> = serde_json::from_str(raw)
        .map_err(|err| reject(format!("entry does not match Gong's logEntry shape: {err}")))?;
    let time_raw = e
        .event_time
        .as_deref()
        .ok_or_else(|| reject("entry has no eventTime".into()))?;
    let timestamp = parse_instant(time_raw).map_err(|err| {
        // The whole entry is kept beside the reason: quote only the start.
        let shown: String = time_raw.chars().take(64).collect();
        reject(format!(
            "eventTime `{shown}` is not an ISO-8601 instant: {err}"
        ))
    })?;
    // An object (or absent): only UserActivityLog's row ids need it parsed.
    let record = e.log_record.map(RawValue::get).filter(|r| *r != "null");
    if record.is_some_and(|r| !r.starts_with('{')) {
        return Err(reject("logRecord is not a JSON object".into()));
    }
    let resource_id = match (log_type, record) {
        (LogType::UserActivityLog, Some(r)) => {
            let parsed: Value = serde_json::from_str(r).map_err(|err| {
                reject(format!(
                    "entry does not match Gong's logEntry shape: logRecord: {err}"
                ))
            })?;
            changed_row_id(&parsed)
        }
        _ => None,
    };
    let fields = IdFields {
        log_type: log_type.as_str(),
        timestamp,
        user_id: e.user_id.as_deref(),
        user_email: e.user_email.as_deref(),
        impersonator_id: e.impersonator_id.as_deref(),
        impersonator_email: e.impersonator_email.as_deref(),
        log_record: e.log_record.map(RawValue::get),
    };
    let id = entry_id(&fields)
        .map_err(|err| reject(format!("logRecord has no canonical JSON form: {err}")))?;
    Ok(GongRow {
        id,
        log_type,
        timestamp,
        resource_id,
        raw_json: compact_json(raw),
    })
}

/// A value as the mirror shows it: a non-empty string, or a number's text.
fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut v = v;
    for key in path {
        v = v.get(key)?;
    }
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// UserActivityLog's `resource_id`: the primary key columns of the first row
/// of the first table it changed, joined with `,`; `None` when there are none.
/// (The view computes every other derived column from `raw_json` in SQL; this
/// one needs a loop over an array, which a view cannot do per row cheaply.)
fn changed_row_id(r: &Value) -> Option<String> {
    let keys: Vec<String> = r
        .get("tableChanges")
        .and_then(|t| t.get(0))
        .and_then(|c| c.get("rowChanges"))
        .and_then(|rc| rc.get(0))
        .and_then(|rc| rc.get("primaryKeyColumns"))
        .and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .filter_map(|c| text(c, &["columnValue"]))
                .collect()
        })
        .unwrap_or_default();
    (!keys.is_empty()).then(|| keys.join(","))
}
