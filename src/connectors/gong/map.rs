//! Mapping one `/v2/logs` entry to a [`GongRow`]: the content-hash id, UTC time,
//! per-log-type fields, and the entry's text with insignificant whitespace removed.

use super::id::{entry_id, IdFields};
use crate::record::{GongRow, Rejected};
use crate::time::parse_instant;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

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
pub fn map_entry(log_type: &str, raw: &str) -> Result<GongRow, Rejected> {
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
        log_type,
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
        log_type: log_type.to_owned(),
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

/// Per-log-type fields (research/gong-api.md §7); `None` when absent.
fn derive(log_type: &str, r: &Value) -> Derived {
    match log_type {
        "AccessLog" => Derived {
            action: text(r, &["method"]),
            resource_type: None,
            resource_id: None,
            ip: text(r, &["request_headers", "x-forwarded-for"])
                .and_then(|v| v.split(',').next().map(|s| s.trim().to_owned()))
                .filter(|s| !s.is_empty()),
        },
        "UserActivityLog" => {
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
            action: Some(log_type.to_owned()),
            resource_type: Some("call".to_owned()),
            resource_id: text(r, &["call_id"]),
            ip: text(r, &["page_viewer_ip"]),
        },
    }
}

/// Removes whitespace outside strings, byte for byte otherwise: the mirror keeps
/// what the vendor sent without paying for its pretty-printing.
pub fn compact_json(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    // Outside strings: copy up to the next quote or whitespace; inside: up to
    // the closing quote, stepping over escapes. Whole runs move at once.
    while at < bytes.len() {
        let rest = &bytes[at..];
        let Some(n) = rest
            .iter()
            .position(|b| matches!(b, b'"' | b' ' | b'\n' | b'\r' | b'\t'))
        else {
            out.extend_from_slice(rest);
            break;
        };
        out.extend_from_slice(&rest[..n]);
        at += n;
        if bytes[at] != b'"' {
            at += 1; // whitespace outside a string
            continue;
        }
        let mut end = at + 1;
        loop {
            match memchr::memchr2(b'"', b'\\', &bytes[end..]) {
                None => {
                    end = bytes.len();
                    break;
                }
                Some(k) if bytes[end + k] == b'\\' => end += k + 2,
                Some(k) => {
                    end += k + 1;
                    break;
                }
            }
        }
        let end = end.min(bytes.len());
        out.extend_from_slice(&bytes[at..end]);
        at = end;
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_owned())
}
