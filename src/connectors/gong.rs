//! Gong `GET /v2/logs`: auth headers, cursor paging through one window, 404 as an
//! empty window, and the mapping of each `logEntries` item to a [`GongRow`] (the
//! content-hash id, UTC time, per-log-type fields). Knows HTTP and JSON, not SQL.

use crate::config::{GongAccount, GongAuth};
use crate::connector::{ConnectorError, Page, PageRows, Window};
use crate::http::{Counters, HttpClient, HttpError, Reply, Verdict};
use crate::record::{GongRow, Rejected};
use crate::time::{fmt_utc, parse_instant};
use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

/// The scope a Gong key or token needs for `/v2/logs`.
pub const SCOPE: &str = "api:logs:read";

/// One Gong account's access to `/v2/logs`.
pub struct GongConnector {
    account: String,
    url: String,
    auth: SecretString,
    http: Arc<HttpClient>,
}

impl std::fmt::Debug for GongConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GongConnector")
            .field("account", &self.account)
            .field("url", &self.url)
            .finish()
    }
}

impl GongConnector {
    pub fn new(account: &GongAccount, http: Arc<HttpClient>) -> GongConnector {
        let auth = match &account.auth {
            GongAuth::Basic {
                access_key,
                access_key_secret,
            } => {
                http.redactor().add_basic(
                    access_key.value().expose_secret(),
                    access_key_secret.value().expose_secret(),
                );
                let pair = format!(
                    "{}:{}",
                    access_key.value().expose_secret(),
                    access_key_secret.value().expose_secret()
                );
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
            GongAuth::Bearer { token } => {
                http.redactor().add(token.value().expose_secret());
                format!("Bearer {}", token.value().expose_secret())
            }
        };
        GongConnector {
            account: account.name.clone(),
            url: format!("{}/v2/logs", account.base_url),
            auth: auth.into(),
            http,
        }
    }

    /// Starts reading `window` of `log_type`: fetches the first page, whose
    /// `totalRecords` tells the engine whether to split the window instead.
    pub async fn open(
        &self,
        log_type: &str,
        window: Window,
        counters: &Counters,
    ) -> Result<WindowReader<'_>, ConnectorError> {
        let first = self.fetch(log_type, window, None, counters).await?;
        let Fetched::Page(first) = first else {
            return Err(ConnectorError::Protocol {
                what: self.what(log_type, window),
                detail: "a cursor error without a cursor".into(),
            });
        };
        Ok(WindowReader {
            conn: self,
            log_type: log_type.to_owned(),
            window,
            pending: Some(first),
            cursor: None,
            seen: HashSet::new(),
            restarted: false,
            done: false,
        })
    }

    fn what(&self, log_type: &str, window: Window) -> String {
        format!("gong/{}/{log_type} {window}", self.account)
    }

    async fn fetch(
        &self,
        log_type: &str,
        window: Window,
        cursor: Option<&str>,
        counters: &Counters,
    ) -> Result<Fetched, ConnectorError> {
        let what = self.what(log_type, window);
        let (from, to) = (fmt_utc(window.from), fmt_utc(window.to));
        let mut auth =
            HeaderValue::from_str(self.auth.expose_secret()).map_err(|_| HttpError::Auth {
                what: what.clone(),
                message: "the credentials contain characters that cannot go in an HTTP header"
                    .into(),
            })?;
        auth.set_sensitive(true);
        let build = |c: &reqwest::Client| {
            let mut q: Vec<(&str, &str)> = vec![
                ("logType", log_type),
                ("fromDateTime", &from),
                ("toDateTime", &to),
            ];
            if let Some(c) = cursor {
                q.push(("cursor", c));
            }
            c.get(&self.url)
                .header(AUTHORIZATION, auth.clone())
                .query(&q)
        };
        let judge = |reply: &Reply| judge(reply, log_type, cursor.is_some(), &self.account, &what);
        let fetched = self.http.call(counters, &what, build, judge).await;
        Ok(fetched.map_err(|e| unavailable(e, log_type))?)
    }
}

/// A 400 that names the log type means this tenant does not have it: the
/// stream is unavailable rather than failing (some tenants accept only
/// `AccessLog` and `UserActivityLog`).
fn unavailable(e: HttpError, log_type: &str) -> HttpError {
    match e {
        HttpError::Rejected {
            what,
            status: 400,
            message,
        } if {
            let lower = message.to_ascii_lowercase();
            lower.contains("logtype")
                || lower.contains("log type")
                || lower.contains(&log_type.to_ascii_lowercase())
        } =>
        {
            HttpError::Unavailable {
                what,
                message: format!("Gong refused logType {log_type} (HTTP 400: {message}); remove it from `log_types` if this company does not have it"),
            }
        }
        e => e,
    }
}

/// One fetched page, mapped.
#[derive(Debug)]
pub struct FetchedPage {
    pub page: Page,
    pub total: u64,
    pub cursor: Option<String>,
}

#[derive(Debug)]
enum Fetched {
    Page(FetchedPage),
    /// The cursor expired or failed to verify.
    CursorRejected,
}

fn judge(
    reply: &Reply,
    log_type: &str,
    had_cursor: bool,
    account: &str,
    what: &str,
) -> Verdict<Fetched> {
    let errors = || -> String {
        serde_json::from_slice::<ErrorBody>(&reply.body)
            .map(|e| e.errors.join("; "))
            .unwrap_or_else(|_| reply.snippet())
    };
    match reply.status {
        StatusCode::OK => match parse_page(&reply.body, log_type) {
            Ok(p) => Verdict::Done(Fetched::Page(p)),
            Err(e) => Verdict::Retry(format!("unreadable /v2/logs body ({e})")),
        },
        StatusCode::NOT_FOUND => {
            let text = errors();
            // Gong's documented "No logs found for the specified period"; its
            // other lists say "No calls found …", so any "no … found" is empty.
            let lower = text.to_ascii_lowercase();
            if ["no logs found", "no records found", "no data found", "no results found"].iter().any(|p| lower.contains(p)) {
                let page = Page { rows: PageRows::Gong(Vec::new()), rejected: Vec::new() };
                Verdict::Done(Fetched::Page(FetchedPage { page, total: 0, cursor: None }))
            } else {
                Verdict::Fail(HttpError::Rejected { what: what.to_owned(), status: 404, message: format!("{text} (is base_url right for account {account}?)") })
            }
        }
        // Account-level: the same for every stream and window of the account.
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Verdict::Fail(HttpError::Auth {
            what: format!("gong/{account}"),
            message: format!(
                "Gong refused the credentials of account {account} (HTTP {}: {}): check access_key / access_key_secret (or bearer_token) and that they have the {SCOPE} scope",
                reply.status.as_u16(),
                errors()
            ),
        }),
        StatusCode::BAD_REQUEST if had_cursor && errors().to_ascii_lowercase().contains("cursor") => Verdict::Done(Fetched::CursorRejected),
        s => Verdict::Fail(HttpError::Rejected { what: what.to_owned(), status: s.as_u16(), message: errors() }),
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<String>,
}

/// Absent and `null` alike mean empty: a last page may carry neither.
#[derive(Deserialize)]
struct LogsPage<'a> {
    records: Option<Records>,
    #[serde(rename = "logEntries", borrow)]
    log_entries: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize, Default)]
struct Records {
    #[serde(rename = "totalRecords")]
    total_records: Option<u64>,
    cursor: Option<String>,
}

/// Parses one `/v2/logs` body: each entry is sliced out once, then mapped.
pub fn parse_page(body: &[u8], log_type: &str) -> Result<FetchedPage, serde_json::Error> {
    let page: LogsPage<'_> = serde_json::from_slice(body)?;
    let entries = page.log_entries.unwrap_or_default();
    let mut rows = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for raw in entries {
        match map_entry(log_type, raw.get()) {
            Ok(row) => rows.push(row),
            Err(r) => rejected.push(r),
        }
    }
    let records = page.records.unwrap_or_default();
    let total = records
        .total_records
        .unwrap_or(rows.len() as u64 + rejected.len() as u64);
    let cursor = records.cursor.filter(|c| !c.is_empty());
    Ok(FetchedPage {
        page: Page {
            rows: PageRows::Gong(rows),
            rejected,
        },
        total,
        cursor,
    })
}

/// Reads one window page by page, restarting it once if the vendor's cursor
/// expires or repeats.
pub struct WindowReader<'a> {
    conn: &'a GongConnector,
    log_type: String,
    window: Window,
    pending: Option<FetchedPage>,
    cursor: Option<String>,
    seen: HashSet<String>,
    restarted: bool,
    done: bool,
}

impl WindowReader<'_> {
    /// `totalRecords` of the first page (0 for an empty window).
    pub fn total(&self) -> u64 {
        self.pending.as_ref().map_or(0, |p| p.total)
    }

    /// The next page and whether it is the window's last; `None` after the last.
    pub async fn next(
        &mut self,
        counters: &Counters,
    ) -> Result<Option<(Page, bool)>, ConnectorError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let fetched = match self.pending.take() {
                Some(p) => Fetched::Page(p),
                None => {
                    self.conn
                        .fetch(
                            &self.log_type,
                            self.window,
                            self.cursor.as_deref(),
                            counters,
                        )
                        .await?
                }
            };
            let repeated = matches!(&fetched, Fetched::Page(p) if p.cursor.as_ref().is_some_and(|c| self.seen.contains(c)));
            match fetched {
                Fetched::Page(p) if !repeated => {
                    self.cursor = p.cursor;
                    if let Some(c) = &self.cursor {
                        self.seen.insert(c.clone());
                    }
                    self.done = self.cursor.is_none();
                    return Ok(Some((p.page, self.done)));
                }
                _ if !self.restarted => {
                    // Start the window again; rows already written are idempotent.
                    tracing::info!(what = %self.conn.what(&self.log_type, self.window), "cursor expired or repeated; reading the window again");
                    self.restarted = true;
                    self.cursor = None;
                    self.seen.clear();
                }
                _ => {
                    return Err(ConnectorError::Cursor {
                        what: self.conn.what(&self.log_type, self.window),
                    })
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Mapping one entry.

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
    #[serde(rename = "logRecord")]
    log_record: Option<Value>,
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
        reject(format!(
            "eventTime `{time_raw}` is not an ISO-8601 instant: {err}"
        ))
    })?;
    let record = e.log_record.as_ref();
    if record.is_some_and(|r| !r.is_object() && !r.is_null()) {
        return Err(reject("logRecord is not a JSON object".into()));
    }
    let derived = derive(log_type, record.unwrap_or(&Value::Null));
    let id = entry_id(log_type, timestamp, &e, record);
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

/// The id of DESIGN §3: SHA-256 over log type, UTC time, user and impersonator
/// ids and emails, and the canonical JSON (sorted keys, no whitespace) of
/// `logRecord`. Absent fields hash differently from empty ones.
fn entry_id(
    log_type: &str,
    timestamp: chrono::DateTime<chrono::Utc>,
    e: &Entry<'_>,
    record: Option<&Value>,
) -> String {
    let mut h = Sha256::new();
    h.update(log_type.as_bytes());
    h.update([0x1f]);
    h.update(fmt_utc(timestamp).as_bytes());
    for field in [
        &e.user_id,
        &e.user_email,
        &e.impersonator_id,
        &e.impersonator_email,
    ] {
        match field {
            Some(v) => {
                h.update([0x1f]);
                h.update(v.as_bytes());
            }
            None => h.update([0x1e]),
        }
    }
    h.update([0x1f]);
    // serde_json's map keeps keys sorted, so this is the canonical form.
    h.update(record.map(Value::to_string).unwrap_or_default().as_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
        out.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
    }
    out
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

#[cfg(test)]
mod tests;
