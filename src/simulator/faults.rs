//! Transport faults, rate limits and request statistics for both fake APIs, as
//! one axum middleware. Every switch is an atomic, so tests flip faults while the
//! simulator serves. Counting is per vendor: "every Nth" means that vendor's Nth.

use super::SimState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which fake API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Gong,
    Genesys,
}

impl Vendor {
    pub fn of_path(path: &str) -> Vendor {
        if path.starts_with("/v2/") {
            Vendor::Gong
        } else {
            Vendor::Genesys
        }
    }
}

/// Transport faults, switchable at run time. 0 means off.
#[derive(Debug, Default)]
pub struct Faults {
    /// Every Nth request answers 429 with `Retry-After: 1`.
    pub http_429_every: AtomicU32,
    /// Every Nth request starts a burst of `http_5xx_burst` server errors.
    pub http_5xx_every: AtomicU32,
    pub http_5xx_burst: AtomicU32,
    /// Every Nth request is delayed by `slow_ms`.
    pub slow_every: AtomicU32,
    pub slow_ms: AtomicU32,
    /// Every Nth request never gets an answer (the client must time out).
    pub hang_every: AtomicU32,
    /// Every Nth successful response has its body cut in half.
    pub truncate_every: AtomicU32,
    /// Every Nth request that carries a cursor is told the cursor expired.
    pub expire_cursor_every: AtomicU32,
    /// The next N requests that carry a cursor are told it expired (one-shot).
    pub expire_next_cursors: AtomicU32,
}

impl Faults {
    pub fn set(field: &AtomicU32, value: u32) {
        field.store(value, Relaxed);
    }
}

/// What the simulator has seen and done; tests assert on these.
#[derive(Debug, Default)]
pub struct Stats {
    pub gong_requests: AtomicU64,
    pub genesys_requests: AtomicU64,
    /// 429s sent because a client went over the configured rate.
    pub rate_limited: AtomicU64,
    /// 429s, 5xx, hangs, slow answers and truncations injected by faults.
    pub injected_429: AtomicU64,
    pub injected_5xx: AtomicU64,
    pub hung: AtomicU64,
    pub slowed: AtomicU64,
    pub truncated: AtomicU64,
    pub expired_cursors: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub unauthorized: AtomicU64,
}

/// A plain-number copy of [`Stats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    pub gong_requests: u64,
    pub genesys_requests: u64,
    pub rate_limited: u64,
    pub injected_429: u64,
    pub injected_5xx: u64,
    pub hung: u64,
    pub slowed: u64,
    pub truncated: u64,
    pub expired_cursors: u64,
    pub tokens_issued: u64,
    pub unauthorized: u64,
}

/// One line for people: `served 120 Gong and 45 Genesys requests, issued 2
/// tokens; 1 refused unauthorized; injected 3 × 429, 1 × 5xx`.
impl std::fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "served {} Gong and {} Genesys requests, issued {} tokens",
            self.gong_requests, self.genesys_requests, self.tokens_issued
        )?;
        let answered: Vec<String> = [
            (self.rate_limited, "answered 429 over the rate limit"),
            (self.unauthorized, "refused as unauthorized"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if !answered.is_empty() {
            write!(f, "; {}", answered.join(", "))?;
        }
        let injected: Vec<String> = [
            (self.injected_429, "429"),
            (self.injected_5xx, "5xx"),
            (self.hung, "hung"),
            (self.slowed, "slow"),
            (self.truncated, "truncated"),
            (self.expired_cursors, "expired cursor"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} × {what}"))
        .collect();
        if !injected.is_empty() {
            write!(f, "; injected {}", injected.join(", "))?;
        }
        Ok(())
    }
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            gong_requests: self.gong_requests.load(Relaxed),
            genesys_requests: self.genesys_requests.load(Relaxed),
            rate_limited: self.rate_limited.load(Relaxed),
            injected_429: self.injected_429.load(Relaxed),
            injected_5xx: self.injected_5xx.load(Relaxed),
            hung: self.hung.load(Relaxed),
            slowed: self.slowed.load(Relaxed),
            truncated: self.truncated.load(Relaxed),
            expired_cursors: self.expired_cursors.load(Relaxed),
            tokens_issued: self.tokens_issued.load(Relaxed),
            unauthorized: self.unauthorized.load(Relaxed),
        }
    }
}

/// A token bucket: `rate` per second, holding at most `burst` tokens. `None` when
/// a request may pass, else how long until one could.
#[derive(Debug)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub fn new(rate: f64, burst: f64) -> Bucket {
        Bucket {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    pub fn take(&self) -> Option<Duration> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.burst);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - s.0) / self.rate))
        }
    }
}

/// At most `limit` requests per key in any rolling `window` (Genesys counts per
/// access token per minute).
#[derive(Debug)]
pub struct RollingWindow {
    limit: usize,
    window: Duration,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RollingWindow {
    pub fn new(limit: u32, window: Duration) -> RollingWindow {
        RollingWindow {
            limit: limit as usize,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn take(&self, key: &str) -> Option<Duration> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let q = seen.entry(key.to_owned()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() < self.limit {
            q.push_back(now);
            None
        } else {
            Some(self.window.saturating_sub(now.duration_since(q[0])))
        }
    }
}

fn every(n: u64, every: u32) -> bool {
    every > 0 && n % every as u64 == every as u64 - 1
}

/// The middleware: rate limits first (as a real API would), then injected faults.
pub async fn layer(State(sim): State<Arc<SimState>>, req: Request, next: Next) -> Response {
    let vendor = Vendor::of_path(req.uri().path());
    let is_token = req.uri().path() == "/oauth/token";
    let counter = match vendor {
        Vendor::Gong => &sim.stats.gong_requests,
        Vendor::Genesys => &sim.stats.genesys_requests,
    };
    let n = counter.fetch_add(1, Relaxed);
    let f = &sim.faults;
    let has_cursor = req.uri().query().is_some_and(|q| q.contains("cursor="));

    let wait = match vendor {
        Vendor::Gong => sim.gong_limit.as_ref().and_then(Bucket::take),
        Vendor::Genesys if is_token => None,
        Vendor::Genesys => {
            let key = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("anonymous")
                .to_owned();
            sim.genesys_limit.as_ref().and_then(|w| w.take(&key))
        }
    };
    if let Some(wait) = wait {
        sim.stats.rate_limited.fetch_add(1, Relaxed);
        return too_many(vendor, wait.as_secs_f64().ceil().max(1.0) as u64);
    }
    if every(n, f.http_429_every.load(Relaxed)) {
        sim.stats.injected_429.fetch_add(1, Relaxed);
        return too_many(vendor, 1);
    }
    let e5 = f.http_5xx_every.load(Relaxed);
    if e5 > 0
        && n % e5 as u64 >= (e5 as u64).saturating_sub(f.http_5xx_burst.load(Relaxed).max(1) as u64)
    {
        sim.stats.injected_5xx.fetch_add(1, Relaxed);
        return server_error(vendor);
    }
    if every(n, f.hang_every.load(Relaxed)) {
        sim.stats.hung.fetch_add(1, Relaxed);
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if every(n, f.slow_every.load(Relaxed)) {
        sim.stats.slowed.fetch_add(1, Relaxed);
        tokio::time::sleep(Duration::from_millis(f.slow_ms.load(Relaxed) as u64)).await;
    }
    let one_shot = || {
        f.expire_next_cursors
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
            .is_ok()
    };
    if has_cursor
        && (every(
            sim.cursor_uses.fetch_add(1, Relaxed),
            f.expire_cursor_every.load(Relaxed),
        ) || one_shot())
    {
        sim.stats.expired_cursors.fetch_add(1, Relaxed);
        return match vendor {
            Vendor::Gong => super::gong::error(StatusCode::BAD_REQUEST, "cursor has expired"),
            Vendor::Genesys => super::genesys::error(
                StatusCode::BAD_REQUEST,
                "bad.request",
                "The cursor has expired. Run the query again.",
            ),
        };
    }
    let response = next.run(req).await;
    if response.status().is_success() && every(n, f.truncate_every.load(Relaxed)) {
        sim.stats.truncated.fetch_add(1, Relaxed);
        return truncate(response).await;
    }
    response
}

fn too_many(vendor: Vendor, secs: u64) -> Response {
    let mut r = match vendor {
        Vendor::Gong => {
            super::gong::error(StatusCode::TOO_MANY_REQUESTS, "API request limit exceeded")
        }
        Vendor::Genesys => super::genesys::error(
            StatusCode::TOO_MANY_REQUESTS,
            "too.many.requests.retry.after",
            &format!("Rate limit exceeded the maximum. Retry the request in [{secs}] seconds"),
        ),
    };
    r.headers_mut()
        .insert("retry-after", HeaderValue::from(secs));
    r
}

fn server_error(vendor: Vendor) -> Response {
    match vendor {
        Vendor::Gong => super::gong::error(StatusCode::INTERNAL_SERVER_ERROR, "unexpected error"),
        Vendor::Genesys => super::genesys::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "service.unavailable",
            "Service is currently unavailable. Please try again later.",
        ),
    }
}

/// The same response with half of its body: valid headers, broken JSON.
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    parts.headers.remove("content-length");
    (parts, Body::from(cut)).into_response()
}

#[cfg(test)]
mod tests {
    use super::StatsSnapshot;

    #[test]
    fn stats_read_as_one_line_naming_only_what_happened() {
        let quiet = StatsSnapshot {
            gong_requests: 12,
            genesys_requests: 3,
            tokens_issued: 1,
            ..StatsSnapshot::default()
        };
        assert_eq!(
            quiet.to_string(),
            "served 12 Gong and 3 Genesys requests, issued 1 tokens"
        );
        let faulty = StatsSnapshot {
            rate_limited: 2,
            injected_5xx: 4,
            expired_cursors: 1,
            ..quiet
        };
        assert_eq!(
            faulty.to_string(),
            "served 12 Gong and 3 Genesys requests, issued 1 tokens; 2 answered 429 over the \
             rate limit; injected 4 × 5xx, 1 × expired cursor"
        );
    }
}
