//! Gong `GET /v2/logs`, one folder: the vendor's registration and its account
//! config (`config.rs`), auth headers, cursor paging through one window
//! (`paging.rs`), 404 as an empty window, each page's `logEntries` (`page.rs`)
//! mapped to rows of its table (`map.rs`: the content-hash id of `id.rs` over
//! the canonical JSON of `canonical.rs`, UTC time, per-log-type fields).
//! Knows HTTP and JSON, not SQL.

use crate::connector::{
    boxed, BoxFuture, Connector, ConnectorError, Example, Page, PageReader, Vendor, Window,
};
use crate::http::{Counters, HttpClient, HttpError, Reply, Verdict};
use crate::time::fmt_utc;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::Arc;

/// The scope a Gong key or token needs for `/v2/logs`.
pub const SCOPE: &str = "api:logs:read";

/// Gong, as the registry lists it.
pub static VENDOR: Vendor = Vendor {
    name: "gong",
    title: "Gong",
    table: &TABLE,
    max_window: None,
    parse_accounts: config::parse_accounts,
    examples: EXAMPLES,
};

/// Questions `auditmirror demo` answers from this table.
const EXAMPLES: &[Example] = &[
    Example {
        question: "Who exported or deleted calls in the last week?",
        sql: "SELECT user_email, action, count(*) AS n, max(timestamp) AS last
  FROM gong_audit_log_entry
 WHERE log_type = 'UserActivityLog' AND action IN ('EXPORT_CALLS', 'DELETE_CALL')
   AND timestamp >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days')
 GROUP BY 1, 2 ORDER BY n DESC LIMIT 5",
    },
    Example {
        question: "Which calls were opened most by people outside the company?",
        sql:
            "SELECT resource_id AS call_id, count(*) AS views, count(DISTINCT user_email) AS viewers
  FROM gong_audit_log_entry
 WHERE log_type = 'ExternallySharedCallAccess'
 GROUP BY 1 ORDER BY views DESC LIMIT 5",
    },
    Example {
        question: "Who acted while impersonating another user?",
        sql: "SELECT impersonator_email, user_email, count(*) AS actions
  FROM gong_audit_log_entry
 WHERE impersonator_user_id IS NOT NULL
 GROUP BY 1, 2 ORDER BY actions DESC LIMIT 5",
    },
];

/// One Gong account's access to `/v2/logs`.
pub struct GongConnector {
    account: String,
    url: String,
    auth: SecretString,
    log_types: Vec<LogType>,
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
            log_types: account.log_types.clone(),
            http,
        }
    }

    /// Starts reading `window` of `log_type`: fetches the first page, whose
    /// `totalRecords` tells the engine whether to split the window instead.
    pub async fn open(
        &self,
        log_type: LogType,
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
            log_type,
            window,
            pending: Some(first),
            paging: Paging::default(),
        })
    }

    fn what(&self, log_type: LogType, window: Window) -> String {
        format!("gong/{}/{log_type} {window}", self.account)
    }

    async fn fetch(
        &self,
        log_type: LogType,
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
                ("logType", log_type.as_str()),
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
fn unavailable(e: HttpError, log_type: LogType) -> HttpError {
    match e {
        HttpError::Rejected {
            what,
            status: 400,
            message,
        } if {
            let lower = message.to_ascii_lowercase();
            lower.contains("logtype")
                || lower.contains("log type")
                || lower.contains(&log_type.as_str().to_ascii_lowercase())
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

/// One reply about a page, judged.
#[derive(Debug)]
enum Fetched {
    Page(FetchedPage),
    /// The cursor expired or failed to verify.
    CursorRejected,
}

fn judge(
    reply: &Reply,
    log_type: LogType,
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
                let page = Page::default();
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

impl Connector for GongConnector {
    fn open<'a>(
        &'a self,
        stream: &'a str,
        window: Window,
        counters: &'a Counters,
    ) -> BoxFuture<'a, Result<Box<dyn PageReader + 'a>, ConnectorError>> {
        boxed(async move {
            let log_type = LogType::parse(stream).ok_or_else(|| ConnectorError::Protocol {
                what: format!("gong/{}/{stream}", self.account),
                detail: "not a Gong log type".into(),
            })?;
            GongConnector::open(self, log_type, window, counters).await
        })
    }

    /// A one-hour read of the account's first log type.
    fn probe(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<String, ConnectorError>> {
        let counters = Counters::default();
        Box::pin(async move {
            let log_type = self
                .log_types
                .first()
                .copied()
                .unwrap_or(LogType::UserCallPlay);
            let hour = Window::new(now - chrono::Duration::hours(1), now);
            let r = GongConnector::open(self, log_type, hour, &counters).await?;
            Ok(format!(
                "read {log_type}: {} entries in the last hour",
                r.total()
            ))
        })
    }
}

mod canonical;
mod config;
mod id;
mod map;
mod page;
mod paging;

pub use canonical::canonical;
pub use config::{GongAccount, GongAuth, LogType};
pub use id::{entry_id, IdFields};
pub use map::{map_entry, GongRow, TABLE};
pub use page::{parse_page, FetchedPage};
pub use paging::{Paging, Step, WindowReader};

#[cfg(test)]
pub(crate) mod tests;
