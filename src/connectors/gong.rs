//! Gong `GET /v2/logs`: auth headers, cursor paging through one window, 404 as an
//! empty window, and each page's `logEntries`, mapped to rows by `map` (the
//! content-hash id, UTC time, per-log-type fields). Knows HTTP and JSON, not SQL.

use crate::config::{GongAccount, GongAuth};
use crate::connector::{ConnectorError, Page, PageRows, Window};
use crate::http::{Counters, HttpClient, HttpError, Reply, Verdict};
use crate::time::fmt_utc;
use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
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

/// Absent and `null` alike mean empty: a last page may carry neither. `records`
/// is kept as text until it is known to be UTF-8 (see [`parse_page`]).
#[derive(Deserialize)]
struct LogsPage<'a> {
    #[serde(borrow)]
    records: Option<&'a RawValue>,
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
///
/// A body that is not UTF-8 throughout is read again with each bad byte as `?`:
/// an entry holding a bad byte is rejected with its bytes in base64, the others
/// are mapped, and paging goes on. Bad bytes in `records` (the cursor), or a
/// body that is not JSON even so, make the page unreadable as a whole.
pub fn parse_page(body: &[u8], log_type: &str) -> Result<FetchedPage, serde_json::Error> {
    let err = match serde_json::from_slice::<LogsPage<'_>>(body) {
        Ok(page) => return map_page(page, log_type, None),
        Err(e) => e,
    };
    let Some(lossy) = lossy::Lossy::new(body) else {
        return Err(err);
    };
    let Ok(page) = serde_json::from_str::<LogsPage<'_>>(lossy.text()) else {
        return Err(err);
    };
    if page.records.is_some_and(|r| !lossy.is_clean(body, r.get())) {
        return Err(serde::de::Error::custom(format!(
            "records (the cursor) is not valid UTF-8 ({err})"
        )));
    }
    map_page(page, log_type, Some((&lossy, body)))
}

/// Maps a parsed page; `lossy` when it was parsed from a repaired copy of `body`.
fn map_page(
    page: LogsPage<'_>,
    log_type: &str,
    lossy: Option<(&lossy::Lossy, &[u8])>,
) -> Result<FetchedPage, serde_json::Error> {
    let records: Records = match page.records {
        Some(r) => serde_json::from_str::<Option<Records>>(r.get())?.unwrap_or_default(),
        None => Records::default(),
    };
    let entries = page.log_entries.unwrap_or_default();
    let mut rows = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for raw in entries {
        let checked = lossy.map_or(Ok(()), |(l, body)| l.check(body, raw.get(), "entry"));
        match checked.and_then(|()| map_entry(log_type, raw.get())) {
            Ok(row) => rows.push(row),
            Err(r) => rejected.push(r),
        }
    }
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

mod canonical;
mod id;
pub(crate) mod lossy;
mod map;

pub use canonical::canonical;
pub use id::{entry_id, IdFields};
pub use map::{compact_json, map_entry};

#[cfg(test)]
pub(crate) mod tests;
