//! One HTTP layer for both connectors: a reqwest client (rustls) per account with
//! connect and request timeouts, pacing under the account's rate, a daily budget,
//! retries with exponential backoff and jitter, `Retry-After`, and error classes
//! the engine acts on. It knows nothing of vendors' JSON: callers judge replies.

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Timeouts and the retry policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub connect_timeout: Duration,
    /// For the whole request, body included.
    pub request_timeout: Duration,
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
    /// Credentials or permissions: stop the account until a human fixes them.
    Auth,
    /// The request itself is wrong: retrying will not help.
    BadRequest,
    /// The account's daily request budget is spent.
    Budget,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("{what}: gave up after {tries} tries; last: {last}")]
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
    #[error("{0}")]
    Budget(String),
}

impl HttpError {
    pub fn class(&self) -> ErrorClass {
        match self {
            HttpError::GaveUp { .. } | HttpError::WaitTooLong { .. } => ErrorClass::Retryable,
            HttpError::Auth { .. } => ErrorClass::Auth,
            HttpError::Client(_) | HttpError::Rejected { .. } => ErrorClass::BadRequest,
            HttpError::Budget(_) => ErrorClass::Budget,
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

/// Counters of one run of one stream, read by the engine into `sync_runs`.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub token_refreshes: AtomicU64,
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
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("policy", &self.policy)
            .field("pacer", &self.pacer)
            .finish()
    }
}

impl HttpClient {
    pub fn new(
        policy: Policy,
        pacer: Option<Pacer>,
        budget: Option<Arc<dyn Budget>>,
    ) -> Result<HttpClient, HttpError> {
        let client = Client::builder()
            .user_agent(concat!("auditmirror/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(HttpError::Client)?;
        Ok(HttpClient {
            client,
            policy,
            pacer,
            budget,
        })
    }

    /// Sends the request `build` makes until `judge` accepts the reply, retrying
    /// network errors, timeouts, 5xx, 429 (after `Retry-After`) and what `judge`
    /// calls retryable, up to the policy's number of tries.
    pub async fn call<T>(
        &self,
        counters: &Counters,
        what: &str,
        build: impl Fn(&Client) -> RequestBuilder,
        mut judge: impl FnMut(&Reply) -> Verdict<T>,
    ) -> Result<T, HttpError> {
        let mut tries = 0;
        loop {
            tries += 1;
            if let Some(b) = &self.budget {
                b.spend()?;
            }
            if let Some(p) = &self.pacer {
                p.wait().await;
            }
            counters.requests.fetch_add(1, Relaxed);
            let (reason, wait) = match send(build(&self.client)).await {
                Err(e) => (describe(&e), self.backoff(tries)),
                Ok(reply) if reply.status == StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after(&reply.headers).unwrap_or_else(|| self.backoff(tries));
                    if wait > self.policy.max_retry_after {
                        return Err(HttpError::WaitTooLong {
                            what: what.to_owned(),
                            secs: wait.as_secs(),
                        });
                    }
                    if let Some(p) = &self.pacer {
                        p.defer(wait);
                    }
                    (
                        format!("HTTP 429, Retry-After {} s", wait.as_secs_f64()),
                        wait,
                    )
                }
                Ok(reply) if reply.status.is_server_error() => (
                    format!("HTTP {}: {}", reply.status.as_u16(), reply.snippet()),
                    self.backoff(tries),
                ),
                Ok(reply) => match judge(&reply) {
                    Verdict::Done(t) => return Ok(t),
                    Verdict::Fail(e) => return Err(e),
                    Verdict::Retry(reason) => (reason, self.backoff(tries)),
                },
            };
            if tries >= self.policy.max_tries {
                return Err(HttpError::GaveUp {
                    what: what.to_owned(),
                    tries,
                    last: reason,
                });
            }
            counters.retries.fetch_add(1, Relaxed);
            tracing::debug!(what, tries, %reason, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// Exponential backoff with full jitter: a random wait up to
    /// `base · 2^(tries-1)`, capped.
    fn backoff(&self, tries: u32) -> Duration {
        let cap = self
            .policy
            .base_backoff
            .saturating_mul(1 << tries.saturating_sub(1).min(16))
            .min(self.policy.max_backoff);
        cap.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

async fn send(req: RequestBuilder) -> Result<Reply, reqwest::Error> {
    let resp = req.send().await?;
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.bytes().await?;
    Ok(Reply {
        status,
        headers,
        body,
    })
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
    format!("{kind}: {e}")
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_str(v).unwrap(),
        );
        h
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(retry_after(&headers("3")), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after(&headers("0.5")),
            Some(Duration::from_millis(500))
        );
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30))
            .to_rfc2822()
            .replace("+0000", "GMT");
        let d = retry_after(&headers(&soon)).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&headers("-1")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = HttpClient::new(Policy::default(), None, None).unwrap();
        for tries in 1..30 {
            let d = c.backoff(tries);
            let cap = Duration::from_millis(500)
                .saturating_mul(1 << (tries - 1).min(16))
                .min(Duration::from_secs(30));
            assert!(d <= cap && d >= cap / 2, "{tries}: {d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_requests() {
        let p = Pacer::per_second(3.0);
        let start = Instant::now();
        for _ in 0..7 {
            p.wait().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((2.0..2.1).contains(&elapsed), "{elapsed}");
        p.defer(Duration::from_secs(5));
        let before = Instant::now();
        p.wait().await;
        assert!(before.elapsed() >= Duration::from_secs(4));
    }
}
