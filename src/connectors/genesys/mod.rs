//! Genesys Cloud audits, one folder: the vendor's registration and its account
//! config (`config.rs`), OAuth client credentials (`auth.rs`), the asynchronous
//! audit query (create, poll, cursor-paged results), the realtime query (page
//! numbers), paging one window (`reader.rs`), the service mapping, error replies
//! (`errors.rs`), and the mapping of each `AuditLogMessage` to a row of its table
//! (`map.rs`). Knows HTTP and JSON, not SQL.

use crate::connector::{
    boxed, BoxFuture, Connector, ConnectorError, Example, Page, PageReader, Vendor,
};
use crate::connector::{Window, WindowFailure};
use crate::connectors::json::compact_json;
use crate::http::{Counters, HttpClient, HttpError, Reply, Verdict};
use crate::record::Rejected;
use crate::time::parse_instant;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use query::{parse_status, query_body, Status, TxState};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, RequestBuilder, StatusCode};
use secrecy::ExposeSecret;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OnceCell};
use tokio::time::Instant;

/// What an OAuth client needs to read audits.
pub const SCOPE_HINT: &str =
    "the OAuth client needs the audits:audit:view permission (scope audits:readonly)";
/// Results and realtime page size: the API's maximum.
const PAGE_SIZE: u32 = 500;
const POLL_MAX: Duration = Duration::from_secs(5);
/// How long a transaction may stay `Queued`/`Running` before we give up.
const POLL_BUDGET: Duration = Duration::from_secs(15 * 60);
const TOO_LARGE: &str = "response.entity.too.large";
const QUERY: &str = "/api/v2/audits/query";

/// Genesys Cloud, as the registry lists it.
pub static VENDOR: Vendor = Vendor {
    name: "genesys",
    title: "Genesys",
    table: &TABLE,
    max_window: Some(MAX_WINDOW),
    parse_accounts: config::parse_accounts,
    examples: EXAMPLES,
};

/// Questions `auditmirror demo` answers from this table.
const EXAMPLES: &[Example] = &[
    Example {
        question: "Failed logins and other failed actions, by user",
        sql:
            "SELECT coalesce(user_name, user_id) AS user, service_name, action, count(*) AS failures
  FROM genesys_audit_log_message
 WHERE status = 'FAILURE'
 GROUP BY 1, 2, 3 ORDER BY failures DESC LIMIT 5",
    },
    Example {
        question: "Who changed Architect flows, and which?",
        sql: "SELECT event_date, user_name, action, entity_type, entity_name
  FROM genesys_audit_log_message
 WHERE service_name = 'Architect' AND action IN ('Create', 'Update', 'Delete', 'Publish')
 ORDER BY event_date DESC LIMIT 5",
    },
];

/// One Genesys Cloud organisation's audit API, with its cached access token.
pub struct GenesysConnector {
    account: String,
    api: String,
    login: String,
    client_id: String,
    /// `Basic base64(client_id:client_secret)`, marked sensitive.
    basic: HeaderValue,
    /// Configured services; empty: all.
    services: Vec<String>,
    http: Arc<HttpClient>,
    token: Mutex<TokenState>,
    mapping: OnceCell<Vec<String>>,
    realtime_mapping: OnceCell<Vec<String>>,
    /// The API refused a query without `serviceName`: query each service.
    per_service: AtomicBool,
    /// The first wait between polls of a transaction.
    poll_start: Duration,
    mode: GenesysMode,
}

#[derive(Default)]
struct TokenState {
    /// `Bearer …`, marked sensitive, and when to fetch a new one.
    bearer: Option<(HeaderValue, Instant)>,
    issued: u64,
}

impl std::fmt::Debug for GenesysConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenesysConnector")
            .field("account", &self.account)
            .field("api", &self.api)
            .field("login", &self.login)
            .field("client_id", &self.client_id)
            .field("services", &self.services)
            .field("per_service", &self.per_service.load(Relaxed))
            .finish()
    }
}

/// One reply about results, judged.
#[derive(Debug)]
enum Fetched {
    Page(Fetch),
    /// `400 response.entity.too.large`: ask again with a smaller page.
    TooLarge,
    /// The cursor expired or the transaction is gone.
    CursorRejected,
    /// A query without `serviceName` was refused (older API).
    NeedsService,
}

/// One page of messages, mapped.
#[derive(Debug)]
struct Fetch {
    page: Page,
    count: usize,
    cursor: Option<String>,
    page_count: Option<u64>,
}

impl GenesysConnector {
    pub fn new(account: &GenesysAccount, http: Arc<HttpClient>) -> GenesysConnector {
        http.redactor().add_basic(
            &account.client_id,
            account.client_secret.value().expose_secret(),
        );
        let pair = format!(
            "{}:{}",
            account.client_id,
            account.client_secret.value().expose_secret()
        );
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        );
        // Base64 is always a valid header value.
        let mut basic = HeaderValue::try_from(basic).unwrap_or(HeaderValue::from_static(""));
        basic.set_sensitive(true);
        GenesysConnector {
            account: account.name.clone(),
            api: account.api_base_url.clone(),
            login: account.login_base_url.clone(),
            client_id: account.client_id.clone(),
            basic,
            services: account.services.clone(),
            http,
            token: Mutex::new(TokenState::default()),
            mapping: OnceCell::new(),
            realtime_mapping: OnceCell::new(),
            per_service: AtomicBool::new(false),
            poll_start: Duration::from_millis(200),
            mode: account.mode,
        }
    }

    /// Starts reading `window` by the account's mode: asynchronous queries, or
    /// the realtime endpoint.
    pub async fn open(
        &self,
        window: Window,
        counters: &Counters,
    ) -> Result<WindowReader<'_>, ConnectorError> {
        match self.mode {
            GenesysMode::History => self.open_history(window, counters).await,
            GenesysMode::Realtime => self.open_realtime(window, counters).await,
        }
    }

    /// Service names from `GET /api/v2/audits/query/servicemapping`, fetched once.
    pub async fn services(&self, counters: &Counters) -> Result<Vec<String>, ConnectorError> {
        self.mapping(counters, GenesysMode::History).await
    }

    /// History path: one transaction per planned service for `window`, each
    /// polled until it ends (a `Failed`/`Cancelled` one is run once more), then
    /// their results paged in turn.
    async fn open_history(
        &self,
        window: Window,
        counters: &Counters,
    ) -> Result<WindowReader<'_>, ConnectorError> {
        let mut plan = self.plan(counters, GenesysMode::History).await?;
        let mut txs = Vec::with_capacity(plan.len());
        while let Some(service) = plan.get(txs.len()) {
            match self
                .transaction(window, service.as_deref(), counters)
                .await?
            {
                Some(id) => txs.push(id),
                None => {
                    self.fall_back();
                    plan = self.plan(counters, GenesysMode::History).await?;
                    txs.clear();
                }
            }
        }
        Ok(self.reader(window, plan, txs, GenesysMode::History, None))
    }

    /// Realtime path (the last 14 days): `POST /api/v2/audits/query/realtime`
    /// with page numbers.
    async fn open_realtime(
        &self,
        window: Window,
        counters: &Counters,
    ) -> Result<WindowReader<'_>, ConnectorError> {
        loop {
            let plan = self.plan(counters, GenesysMode::Realtime).await?;
            let first = plan.first().cloned().flatten();
            let fetched = self
                .fetch_realtime(window, first.as_deref(), 1, PAGE_SIZE, counters)
                .await?;
            if matches!(fetched, Fetched::NeedsService) && first.is_none() {
                self.fall_back();
                continue;
            }
            return Ok(self.reader(
                window,
                plan,
                Vec::new(),
                GenesysMode::Realtime,
                Some(fetched),
            ));
        }
    }

    fn reader(
        &self,
        window: Window,
        plan: Vec<Option<String>>,
        txs: Vec<String>,
        mode: GenesysMode,
        pending: Option<Fetched>,
    ) -> WindowReader<'_> {
        WindowReader {
            conn: self,
            window,
            mode,
            plan,
            txs,
            at: 0,
            cursor: None,
            seen: HashSet::new(),
            page_number: 1,
            page_size: PAGE_SIZE,
            pending,
            restarted: false,
        }
    }

    fn fall_back(&self) {
        if !self.per_service.swap(true, Relaxed) {
            tracing::info!(account = %self.account, "Genesys refused a query without serviceName; querying each service from now on");
        }
    }

    /// The services to query for one window: `None` means all at once.
    async fn plan(
        &self,
        counters: &Counters,
        mode: GenesysMode,
    ) -> Result<Vec<Option<String>>, ConnectorError> {
        if !self.services.is_empty() {
            return Ok(self.services.iter().cloned().map(Some).collect());
        }
        if !self.per_service.load(Relaxed) {
            return Ok(vec![None]);
        }
        let names = self.mapping(counters, mode).await?;
        Ok(names.into_iter().map(Some).collect())
    }

    fn what(&self, window: Window, service: Option<&str>) -> String {
        match service {
            Some(s) => format!("genesys/{}/audits {window} {s}", self.account),
            None => format!("genesys/{}/audits {window}", self.account),
        }
    }

    // ------------------------------------------------------------- queries

    async fn mapping(
        &self,
        counters: &Counters,
        mode: GenesysMode,
    ) -> Result<Vec<String>, ConnectorError> {
        #[derive(Deserialize)]
        struct Mapping {
            services: Option<Vec<Named>>,
        }
        #[derive(Deserialize)]
        struct Named {
            name: Option<String>,
        }
        let (cell, path) = match mode {
            GenesysMode::Realtime => (&self.realtime_mapping, "/realtime/servicemapping"),
            GenesysMode::History => (&self.mapping, "/servicemapping"),
        };
        let fetch = || async {
            let what = format!("genesys/{}/servicemapping", self.account);
            let url = format!("{}{QUERY}{path}", self.api);
            let judge = |r: &Reply| match r.status {
                StatusCode::OK => match serde_json::from_slice::<Mapping>(&r.body) {
                    Ok(m) => Verdict::Done(m.services.unwrap_or_default()),
                    Err(e) => Verdict::Retry(format!("unreadable service mapping ({e})")),
                },
                _ => rejected(r, &what),
            };
            let listed = self.call(counters, &what, |c| c.get(&url), judge).await?;
            let mut seen = HashSet::new();
            let names: Vec<String> = listed
                .into_iter()
                .filter_map(|s| s.name.filter(|n| !n.is_empty()))
                .filter(|n| seen.insert(n.clone()))
                .collect();
            if names.is_empty() {
                let detail = "the service mapping lists no services".into();
                return Err(ConnectorError::Protocol { what, detail });
            }
            Ok(names)
        };
        cell.get_or_try_init(fetch).await.cloned()
    }

    /// Runs one transaction to its end, once more if it fails: its id, or
    /// `None` when the API wants a `serviceName`.
    async fn transaction(
        &self,
        window: Window,
        service: Option<&str>,
        counters: &Counters,
    ) -> Result<Option<String>, ConnectorError> {
        let what = self.what(window, service);
        let url = format!("{}{QUERY}", self.api);
        let body = query_body(window, service, None);
        let mut attempts = 0;
        loop {
            let judge = |r: &Reply| match r.status {
                StatusCode::OK | StatusCode::ACCEPTED => {
                    parse_status(r).map_or_else(Verdict::Retry, |s| Verdict::Done(Some(s)))
                }
                StatusCode::BAD_REQUEST if service.is_none() && mentions(r, "servicename") => {
                    Verdict::Done(None)
                }
                _ => rejected(r, &what),
            };
            let post = |c: &Client| c.post(&url).json(&body);
            let posted = self.call(counters, &what, post, judge).await;
            let Some(status) = posted.map_err(|e| refine(e, service))? else {
                return Ok(None);
            };
            let end = self.wait(status, counters, &what).await?;
            if end.state == TxState::Succeeded {
                return Ok(Some(end.id));
            }
            attempts += 1;
            tracing::warn!(%what, transaction = %end.id, state = %end.state, attempts, "audit query transaction ended without results");
            if attempts >= 2 {
                return Err(ConnectorError::Window {
                    what,
                    failure: WindowFailure::QueryFailed,
                    detail: format!(
                        "audit query transaction {} ended {} twice",
                        end.id, end.state
                    ),
                });
            }
        }
    }

    /// Polls a transaction with growing waits until it ends.
    async fn wait(
        &self,
        mut status: Status,
        counters: &Counters,
        what: &str,
    ) -> Result<Status, ConnectorError> {
        let (started, mut delay) = (Instant::now(), self.poll_start);
        loop {
            if let TxState::Unknown(other) = &status.state {
                return Err(ConnectorError::Protocol {
                    what: what.to_owned(),
                    detail: format!("transaction {} is in unknown state `{other}`", status.id),
                });
            }
            if status.state.ended() {
                return Ok(status);
            }
            if started.elapsed() >= POLL_BUDGET {
                return Err(ConnectorError::Protocol {
                    what: what.to_owned(),
                    detail: format!(
                        "transaction {} still {} after {} minutes",
                        status.id,
                        status.state,
                        POLL_BUDGET.as_secs() / 60
                    ),
                });
            }
            tokio::time::sleep(delay).await;
            delay = delay.mul_f64(1.5).min(POLL_MAX);
            let url = format!("{}{QUERY}/{}", self.api, status.id);
            let judge = |r: &Reply| match r.status {
                StatusCode::OK | StatusCode::ACCEPTED => {
                    parse_status(r).map_or_else(Verdict::Retry, Verdict::Done)
                }
                StatusCode::NOT_FOUND => Verdict::Done(Status {
                    id: status.id.clone(),
                    state: TxState::NotFound,
                }),
                _ => rejected(r, what),
            };
            status = self.call(counters, what, |c| c.get(&url), judge).await?;
        }
    }

    async fn fetch_results(
        &self,
        (window, service): (Window, Option<&str>),
        tx: &str,
        cursor: Option<&str>,
        page_size: u32,
        counters: &Counters,
    ) -> Result<Fetched, ConnectorError> {
        let what = self.what(window, service);
        let url = format!("{}{QUERY}/{tx}/results", self.api);
        let size = page_size.to_string();
        let build = |c: &Client| {
            let mut q = vec![("pageSize", size.as_str()), ("expand", "user")];
            q.extend(cursor.map(|c| ("cursor", c)));
            c.get(&url).query(&q)
        };
        let judge = |r: &Reply| match r.status {
            StatusCode::OK => parsed(r),
            StatusCode::BAD_REQUEST if is_too_large(r) => Verdict::Done(Fetched::TooLarge),
            StatusCode::BAD_REQUEST if cursor.is_some() && mentions(r, "cursor") => {
                Verdict::Done(Fetched::CursorRejected)
            }
            StatusCode::NOT_FOUND => Verdict::Done(Fetched::CursorRejected),
            _ => rejected(r, &what),
        };
        self.call(counters, &what, build, judge).await
    }

    async fn fetch_realtime(
        &self,
        window: Window,
        service: Option<&str>,
        page_number: u32,
        page_size: u32,
        counters: &Counters,
    ) -> Result<Fetched, ConnectorError> {
        let what = self.what(window, service);
        let url = format!("{}{QUERY}/realtime", self.api);
        let body = query_body(window, service, Some((page_number, page_size)));
        let build = |c: &Client| c.post(&url).query(&[("expand", "user")]).json(&body);
        let judge = |r: &Reply| match r.status {
            StatusCode::OK => parsed(r),
            StatusCode::BAD_REQUEST if is_too_large(r) => Verdict::Done(Fetched::TooLarge),
            StatusCode::BAD_REQUEST if service.is_none() && mentions(r, "servicename") => {
                Verdict::Done(Fetched::NeedsService)
            }
            _ => rejected(r, &what),
        };
        let fetched = self.call(counters, &what, build, judge).await;
        fetched.map_err(|e| refine(e, service))
    }
}

fn parsed(r: &Reply) -> Verdict<Fetched> {
    match parse_page(&r.body) {
        Ok(f) => Verdict::Done(Fetched::Page(f)),
        Err(e) => Verdict::Retry(format!("unreadable audit results ({e})")),
    }
}

impl Connector for GenesysConnector {
    fn open<'a>(
        &'a self,
        _stream: &'a str,
        window: Window,
        counters: &'a Counters,
    ) -> BoxFuture<'a, Result<Box<dyn PageReader + 'a>, ConnectorError>> {
        boxed(GenesysConnector::open(self, window, counters))
    }

    /// The service names of the service mapping.
    fn catalog<'a>(
        &'a self,
        _stream: &'a str,
        counters: &'a Counters,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, ConnectorError>> {
        Box::pin(async move { self.services(counters).await.map(Some) })
    }

    /// A token and the audit service mapping.
    fn probe(&self, _now: DateTime<Utc>) -> BoxFuture<'_, Result<String, ConnectorError>> {
        Box::pin(async move {
            let services = self.services(&Counters::default()).await?;
            Ok(format!(
                "token and service mapping: {} services",
                services.len()
            ))
        })
    }
}

mod auth;
mod config;
mod errors;
mod map;
mod query;
mod reader;

use errors::{error_text, is_too_large, mentions, oauth_error, refine, rejected};

pub use config::{GenesysAccount, GenesysMode, MAX_WINDOW, REGIONS, STREAM};
use map::parse_page;
pub use map::{map_message, GenesysRow, TABLE};
pub use reader::WindowReader;

#[cfg(test)]
mod tests;
