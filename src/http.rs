//! One HTTP layer for both connectors: a reqwest client (rustls) per account with
//! a connect timeout, a deadline on each whole response, a cap on body size and a
//! time budget per request across retries; pacing under the account's rate, a
//! daily budget, retries (decided in `retry.rs`), `Retry-After`, error classes the
//! engine acts on, and the account's secrets scrubbed from error text
//! (`redact.rs`). It knows nothing of vendors' JSON: callers judge replies.

mod redact;
mod retry;

pub use redact::{cap, Redactor, MAX_ERROR_BYTES, REDACTED};
pub use retry::{backoff, step, try_deadline, Failure, Step};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Timeouts, limits and the retry policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub connect_timeout: Duration,
    /// The deadline on one whole response, headers and body.
    pub request_timeout: Duration,
    /// The most one request may take across all its tries and backoffs (waits
    /// the server asks for with `Retry-After` are not counted).
    pub total_timeout: Duration,
    /// A response body larger than this is refused.
    pub max_body_bytes: u64,
    /// Attempts per call, the first included.
    pub max_tries: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited out: the call fails.
    pub max_retry_after: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(120),
            max_body_bytes: 32 * 1024 * 1024,
            max_tries: 8,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(900),
        }
    }
}

/// What the engine can do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth trying again later (network, 5xx, 429, broken bodies).
    Retryable,
    /// Credentials or permissions: every stream of the account fails the same
    /// way, at once and without retries, until a human fixes them.
    Auth,
    /// The request itself is wrong: retrying will not help.
    BadRequest,
    /// The account's daily request budget is spent.
    Budget,
    /// The tenant does not have this log type or service: the stream is skipped.
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    // The causes are in the text, not chained, or `{:#}` would say them twice.
    #[error("cannot build the HTTP client: {}", chain(.0))]
    Client(reqwest::Error),
    #[error("{what}: {last}")]
    GaveUp {
        what: String,
        tries: u32,
        last: String,
    },
    #[error("{what}: {message}")]
    Auth { what: String, message: String },
    #[error("{what}: HTTP {status}: {message}")]
    Rejected {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: the server asked to wait {secs} s (Retry-After), longer than auditmirror waits; try again later")]
    WaitTooLong { what: String, secs: u64 },
    #[error("{what}: the response from {url} is larger than the limit of {limit} bytes (at least {size} bytes); if the vendor's pages really are this large, raise max_body_mb for this account")]
    TooLarge {
        what: String,
        url: String,
        size: u64,
        limit: u64,
    },
    #[error("{what}: not available on this tenant: {message}")]
    Unavailable { what: String, message: String },
    #[error("{0}")]
    Budget(String),
}

impl HttpError {
    pub fn class(&self) -> ErrorClass {
        match self {
            HttpError::GaveUp { .. } | HttpError::WaitTooLong { .. } => ErrorClass::Retryable,
            HttpError::Auth { .. } => ErrorClass::Auth,
            HttpError::Client(_) | HttpError::Rejected { .. } | HttpError::TooLarge { .. } => {
                ErrorClass::BadRequest
            }
            HttpError::Unavailable { .. } => ErrorClass::Unavailable,
            HttpError::Budget(_) => ErrorClass::Budget,
        }
    }

    /// The same error with `r`'s secrets scrubbed from its text.
    fn scrubbed(self, r: &Redactor) -> HttpError {
        let s = |t: String| r.scrub(&t);
        match self {
            HttpError::GaveUp { what, tries, last } => HttpError::GaveUp {
                what,
                tries,
                last: s(last),
            },
            HttpError::Auth { what, message } => HttpError::Auth {
                what,
                message: s(message),
            },
            HttpError::Rejected {
                what,
                status,
                message,
            } => HttpError::Rejected {
                what,
                status,
                message: s(message),
            },
            HttpError::Unavailable { what, message } => HttpError::Unavailable {
                what,
                message: s(message),
            },
            other => other,
        }
    }
}

/// A complete reply: status, headers and the whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as text for error messages, cut to a readable length.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut s: String = text.chars().take(300).collect();
        if text.chars().count() > 300 {
            s.push('…');
        }
        s
    }
}

/// A caller's judgement of a reply that was not 429 or 5xx.
#[derive(Debug)]
pub enum Verdict<T> {
    Done(T),
    /// Try again (e.g. a truncated body); counts against the tries.
    Retry(String),
    Fail(HttpError),
}

/// Counters of one run of one stream, read by the engine into `sync_runs`,
/// and who else sees each request (the metrics), if anyone.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub token_refreshes: AtomicU64,
    pub observer: Option<Arc<dyn Observe>>,
}

impl Counters {
    /// Counters whose requests `observer` sees too.
    pub fn observed(observer: Option<Arc<dyn Observe>>) -> Counters {
        Counters {
            observer,
            ..Counters::default()
        }
    }
}

/// Sees every try of every request of one account.
pub trait Observe: Send + Sync + std::fmt::Debug {
    /// A try ended: with the HTTP status it got, or none (a network error or a
    /// timeout), after `elapsed` (headers and body).
    fn request(&self, status: Option<StatusCode>, elapsed: Duration);
    /// A try is about to be repeated.
    fn retry(&self);
}

/// Spacing between requests of one account: at most one per `interval`, and
/// nobody sends while a `Retry-After` is being waited out.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: std::sync::Mutex<Instant>,
}

impl Pacer {
    /// `rate` per second, with 2 % headroom so network jitter never pushes the
    /// server's view of our rate over its limit.
    pub fn per_second(rate: f64) -> Pacer {
        Pacer {
            interval: Duration::from_secs_f64(1.02 / rate),
            next: std::sync::Mutex::new(Instant::now()),
        }
    }

    pub fn per_minute(n: u32) -> Pacer {
        Pacer::per_second(n as f64 / 60.0)
    }

    /// Waits for this request's slot. The slot is reserved under the lock and
    /// slept for outside it, so streams sharing the pacer wait side by side, and
    /// slots follow the schedule rather than wake-up times: a timer's overshoot
    /// never accumulates into a slower rate.
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        if slot > Instant::now() {
            tokio::time::sleep_until(slot).await;
        }
    }

    fn defer(&self, wait: Duration) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        *next = (*next).max(Instant::now() + wait);
    }
}

/// A daily request budget, kept by the caller (the engine persists it).
pub trait Budget: Send + Sync {
    /// Takes one request from the budget, or says why not.
    fn spend(&self) -> Result<(), HttpError>;
}

/// The HTTP client of one account.
pub struct HttpClient {
    client: Client,
    policy: Policy,
    pacer: Option<Pacer>,
    budget: Option<Arc<dyn Budget>>,
    redactor: Arc<Redactor>,
    /// The jitter of backoffs; seeded by tests that want the same waits twice.
    rng: std::sync::Mutex<fastrand::Rng>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("policy", &self.policy)
            .field("pacer", &self.pacer)
            .finish()
    }
}

/// Why one try got no usable reply.
enum SendError {
    Http(reqwest::Error),
    Deadline(Duration),
    TooLarge { url: String, size: u64 },
}

impl HttpClient {
    pub fn new(
        policy: Policy,
        pacer: Option<Pacer>,
        budget: Option<Arc<dyn Budget>>,
    ) -> Result<HttpClient, HttpError> {
        install_tls();
        // No client-wide timeout: each try gets its own deadline (`retry::try_deadline`).
        let client = Client::builder()
            .user_agent(concat!("auditmirror/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(policy.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(HttpError::Client)?;
        Ok(HttpClient {
            client,
            policy,
            pacer,
            budget,
            redactor: Arc::new(Redactor::default()),
            rng: std::sync::Mutex::new(fastrand::Rng::new()),
        })
    }

    /// Draws backoff jitter from `rng` (tests seed it to repeat a run exactly).
    pub fn with_rng(mut self, rng: fastrand::Rng) -> HttpClient {
        self.rng = std::sync::Mutex::new(rng);
        self
    }

    /// The account's secrets, to register credentials and to scrub error text.
    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Sends the request `build` makes until `judge` accepts the reply, retrying
    /// network errors, timeouts, 5xx, 429 (after `Retry-After`) and what `judge`
    /// calls retryable, within the policy's tries and time budget. Errors come
    /// back with the account's secrets scrubbed from their text.
    pub async fn call<T>(
        &self,
        counters: &Counters,
        what: &str,
        build: impl Fn(&Client) -> RequestBuilder,
        judge: impl FnMut(&Reply) -> Verdict<T>,
    ) -> Result<T, HttpError> {
        self.call_inner(counters, what, build, judge)
            .await
            .map_err(|e| e.scrubbed(&self.redactor))
    }

    async fn call_inner<T>(
        &self,
        counters: &Counters,
        what: &str,
        build: impl Fn(&Client) -> RequestBuilder,
        mut judge: impl FnMut(&Reply) -> Verdict<T>,
    ) -> Result<T, HttpError> {
        let mut tries = 0;
        // Time charged to this request: tries and backoffs, not pacing or Retry-After.
        let mut spent = Duration::ZERO;
        loop {
            tries += 1;
            if let Some(b) = &self.budget {
                b.spend()?;
            }
            if let Some(p) = &self.pacer {
                p.wait().await;
            }
            counters.requests.fetch_add(1, Relaxed);
            let started = Instant::now();
            let deadline = try_deadline(&self.policy, spent);
            let sent = send(build(&self.client), deadline, self.policy.max_body_bytes).await;
            spent += started.elapsed();
            if let Some(o) = &counters.observer {
                o.request(sent.as_ref().ok().map(|r| r.status), started.elapsed());
            }
            let failure = match self.judged(sent, what, &mut judge)? {
                Ok(t) => return Ok(t),
                Err(failure) => failure,
            };
            let rand = self.rng.lock().map_or(0.5, |mut r| r.f64());
            let wait = match step(&self.policy, tries, spent, &failure, rand) {
                Step::Retry {
                    wait,
                    reason,
                    paced,
                } => {
                    let reason = self.redactor.scrub(&reason);
                    tracing::debug!(what, tries, %reason, wait_ms = wait.as_millis() as u64, "retrying");
                    match (paced, &self.pacer) {
                        (true, Some(p)) => p.defer(wait),
                        (true, None) => {}
                        (false, _) => spent += wait,
                    }
                    wait
                }
                Step::GiveUp { reason } => {
                    let (what, last) = (what.to_owned(), reason);
                    return Err(HttpError::GaveUp { what, tries, last });
                }
                Step::WaitTooLong { secs } => {
                    let what = what.to_owned();
                    return Err(HttpError::WaitTooLong { what, secs });
                }
            };
            counters.retries.fetch_add(1, Relaxed);
            if let Some(o) = &counters.observer {
                o.retry();
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One try's result: the value `judge` accepted (`Ok(Ok)`), an error to
    /// stop with (`Err`), or a failure worth trying again for (`Ok(Err)`).
    fn judged<T>(
        &self,
        sent: Result<Reply, SendError>,
        what: &str,
        judge: &mut impl FnMut(&Reply) -> Verdict<T>,
    ) -> Result<Result<T, Failure>, HttpError> {
        let failure = match sent {
            Err(SendError::TooLarge { url, size }) => {
                return Err(HttpError::TooLarge {
                    what: what.to_owned(),
                    url,
                    size,
                    limit: self.policy.max_body_bytes,
                })
            }
            Err(SendError::Deadline(d)) => Failure::Transient(format!(
                "no complete response within {:.1} s (response_timeout, or what total_timeout left)",
                d.as_secs_f64()
            )),
            Err(SendError::Http(e)) => Failure::Transient(describe(&e)),
            Ok(reply) if reply.status == StatusCode::TOO_MANY_REQUESTS => Failure::RateLimited {
                retry_after: retry_after(&reply.headers, crate::clock::now()),
            },
            Ok(reply) if reply.status.is_server_error() => Failure::Transient(format!(
                "HTTP {}: {}",
                reply.status.as_u16(),
                reply.snippet()
            )),
            Ok(reply) => match judge(&reply) {
                Verdict::Done(t) => return Ok(Ok(t)),
                Verdict::Fail(e) => return Err(e),
                Verdict::Retry(reason) => Failure::Transient(reason),
            },
        };
        Ok(Err(failure))
    }
}

/// Makes rustls with ring this process's TLS (see Cargo.toml): every reqwest
/// client is built after it. Idempotent.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One try: headers and the whole body within `deadline`, the body read in
/// chunks and refused past `max_body` (memory never holds more than the cap).
async fn send(req: RequestBuilder, deadline: Duration, max_body: u64) -> Result<Reply, SendError> {
    let read = async {
        let mut resp = req.send().await.map_err(SendError::Http)?;
        let url = {
            let mut u = resp.url().clone();
            u.set_query(None);
            u.to_string()
        };
        if let Some(len) = resp.content_length().filter(|l| *l > max_body) {
            return Err(SendError::TooLarge { url, size: len });
        }
        let (status, headers) = (resp.status(), resp.headers().clone());
        let hint = resp.content_length().unwrap_or(0).min(max_body) as usize;
        let mut body = Vec::with_capacity(hint);
        while let Some(chunk) = resp.chunk().await.map_err(SendError::Http)? {
            let size = (body.len() + chunk.len()) as u64;
            if size > max_body {
                return Err(SendError::TooLarge { url, size });
            }
            if body.capacity() < size as usize {
                // Double, but never past the cap: memory peaks at 1.5 × the cap.
                let want = (body.capacity() * 2).clamp(size as usize, max_body as usize);
                body.reserve_exact(want - body.len());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            headers,
            body: Bytes::from(body),
        })
    };
    tokio::time::timeout(deadline, read)
        .await
        .unwrap_or(Err(SendError::Deadline(deadline)))
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    // The URL may carry a cursor; it carries no secret (those go in headers).
    format!("{kind}: {}", chain(e))
}

/// An error and its causes in one line (a refused certificate, a reset
/// connection are in the sources), each said once.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests;
