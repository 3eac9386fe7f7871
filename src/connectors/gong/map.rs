//! Gong's mirror table and its row type, and mapping one `/v2/logs` entry to a
//! [`GongRow`]: the content-hash id, UTC time, per-log-type fields, and the
//! entry's text with insignificant whitespace removed.

use super::id::{entry_id, IdFields};
use super::LogType;
use crate::connectors::json::compact_json;
use crate::record::{Rejected, Row, Table};
use crate::time::parse_instant;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

/// `gong_audit_log_entry`: what the mirror stores beside `raw_json` (the
/// schema generates the user, impersonator and details columns from it).
pub const TABLE: Table = Table {
    name: "gong_audit_log_entry",
    time_column: "timestamp",
    columns: &[
        "log_type",
        "action",
        "resource_type",
        "resource_id",
        "ip_address",
    ],
};

/// One `/v2/logs` entry, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct GongRow {
    /// Hex SHA-256 over the entry's identifying content (`docs/gong-id.md`).
    pub id: String,
    pub log_type: LogType,
    /// `eventTime` as an instant.
    pub timestamp: DateTime<Utc>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub ip_address: Option<String>,
    /// The entry exactly as received (insignificant whitespace removed).
    pub raw_json: String,
}

impl From<GongRow> for Row {
    fn from(r: GongRow) -> Row {
        let log_type = Some(r.log_type.as_str().to_owned());
        let derived = [r.action, r.resource_type, r.resource_id, r.ip_address];
        let columns = std::iter::once(log_type).chain(derived).collect();
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
    let record: Option<Value> = match e.log_record {
        Some(r) => serde_json::from_str(r.get()).map_err(|err| {
            reject(format!(
                "entry does not match Gong's logEntry shape: logRecord: {err}"
            ))
        })?,
        None => None,
    };
    if record.as_ref().is_some_and(|r| !r.is_object()) {
        return Err(reject("logRecord is not a JSON object".into()));
    }
    let derived = derive(log_type, record.as_ref().unwrap_or(&Value::Null));
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
        action: derived.action,
        resource_type: derived.resource_type,
        resource_id: derived.resource_id,
        ip_address: derived.ip,
        raw_json: compact_json(raw),
    })
}

#[derive(Debug, Default, PartialEq)]
struct Derived {
    action: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    ip: Option<String>,
}

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

/// Per-log-type fields (`docs/mirror.md` lists them); `None` when absent.
fn derive(log_type: LogType, r: &Value) -> Derived {
    match log_type {
        LogType::AccessLog => Derived {
            action: text(r, &["method"]),
            resource_type: None,
            resource_id: None,
            ip: text(r, &["request_headers", "x-forwarded-for"])
                .and_then(|v| v.split(',').next().map(|s| s.trim().to_owned()))
                .filter(|s| !s.is_empty()),
        },
        LogType::UserActivityLog => {
            let change = r.get("tableChanges").and_then(|t| t.get(0));
            let keys: Vec<String> = change
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
            let verb_uri = match (
                text(r, &["httpRequest", "verb"]),
                text(r, &["httpRequest", "endpointUri"]),
            ) {
                (Some(v), Some(u)) => Some(format!("{v} {u}")),
                (v, u) => v.or(u),
            };
            Derived {
                action: text(r, &["action"]).or(verb_uri),
                resource_type: change.and_then(|c| text(c, &["tableName"])),
                resource_id: (!keys.is_empty()).then(|| keys.join(",")),
                ip: text(r, &["httpRequest", "clientIp"]),
            }
        }
        _ => Derived {
            action: Some(log_type.as_str().to_owned()),
            resource_type: Some("call".to_owned()),
            resource_id: text(r, &["call_id"]),
            ip: text(r, &["page_viewer_ip"]),
        },
    }
}
