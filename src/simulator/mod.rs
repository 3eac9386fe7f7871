//! Fake Gong (`/v2/logs`) and Genesys Cloud (audits, OAuth) APIs on loopback, with
//! the vendors' paths, shapes, status codes and auth flows; deterministic data from
//! a seed, generated on the fly; ground truth for tests; faults on request.
//! Used by `auditmirror simulate`, `demo`, the tests and the benchmark.

mod ascii;
pub mod faults;
pub mod gen;
pub mod genesys;
pub mod gong;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use faults::{Bucket, Faults, RollingWindow, Stats, StatsSnapshot};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// Events that exist at their time but are served only `delay` later.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LateEvents {
    /// Share of events that arrive late, 0 to 1.
    pub fraction: f64,
    pub delay: Duration,
}

/// What the simulator serves. Data-shaping settings are fixed at start;
/// transport faults live in [`Faults`] and can change while it runs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    /// The first instant with data. Data continues as real time passes.
    pub origin: DateTime<Utc>,
    /// No event at or after this instant, if set (a finite data set).
    pub end: Option<DateTime<Utc>>,
    /// Gong entries per day, per log type.
    pub gong_per_day: u64,
    /// Genesys audit messages per day.
    pub genesys_per_day: u64,
    /// Gong answers 429 above this rate (per company), if set.
    pub gong_requests_per_second: Option<f64>,
    /// Genesys answers 429 above this many requests per minute per token, if set.
    pub genesys_requests_per_minute: Option<u32>,
    /// The window of `genesys_requests_per_minute`: Genesys counts per minute;
    /// tests shorten it to check pacing without waiting minutes.
    pub genesys_rate_window: Duration,
    /// Lifetime of Genesys access tokens.
    pub token_ttl: Duration,
    pub late: Option<LateEvents>,
    /// Every Nth record is malformed (bad timestamp or wrong types); 0 = none.
    pub malformed_every: u64,
    /// Every Nth Gong entry has a 0xff byte inside a string, so the page is not
    /// UTF-8 (`gong_bad_utf8` lists them); 0 = none.
    pub bad_utf8_every: u64,
    /// Every Nth Gong page repeats the previous page's last entry; 0 = never.
    pub duplicate_every: u64,
    /// Every Nth Genesys message changes whenever the revision is bumped; 0 = none.
    pub changed_every: u64,
    /// The first N Genesys query transactions end `Failed`.
    pub fail_first_transactions: u32,
    /// Genesys transactions over an interval longer than this always end `Failed`.
    pub fail_transactions_longer_than: Option<Duration>,
    /// Polls a Genesys transaction answers `Queued`/`Running` before `Succeeded`.
    pub transaction_polls: u32,
    /// Gong cursors older than this are refused as expired, if set.
    pub gong_cursor_ttl: Option<Duration>,
    /// The log types this Gong tenant has (others get a 400), if limited.
    pub gong_log_types: Option<Vec<String>>,
    /// Genesys refuses query intervals longer than this with a 400, if set.
    pub genesys_max_interval: Option<Duration>,
    pub credentials: Credentials,
}

/// The credentials the simulator accepts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Credentials {
    pub gong_access_key: String,
    pub gong_access_key_secret: String,
    pub gong_bearer_token: String,
    pub genesys_client_id: String,
    pub genesys_client_secret: String,
}

impl Default for Credentials {
    fn default() -> Credentials {
        Credentials {
            gong_access_key: "sim-access-key".into(),
            gong_access_key_secret: "sim-access-key-secret".into(),
            gong_bearer_token: "sim-bearer-token".into(),
            genesys_client_id: "sim-client-id".into(),
            genesys_client_secret: "sim-client-secret".into(),
        }
    }
}

impl SimConfig {
    /// Thirty days of data up to now, no limits, no faults.
    /// `days` of data ending at `end`, which stays put (no events after it).
    pub fn ending(seed: u64, end: DateTime<Utc>, days: i64) -> SimConfig {
        SimConfig {
            origin: end - chrono::Duration::days(days),
            end: Some(end),
            ..SimConfig::new(seed)
        }
    }

    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            origin: crate::clock::now() - chrono::Duration::days(30),
            end: None,
            gong_per_day: 500,
            genesys_per_day: 1000,
            gong_requests_per_second: None,
            genesys_requests_per_minute: None,
            genesys_rate_window: Duration::from_secs(60),
            token_ttl: Duration::from_secs(86_400),
            late: None,
            malformed_every: 0,
            bad_utf8_every: 0,
            duplicate_every: 0,
            changed_every: 0,
            fail_first_transactions: 0,
            fail_transactions_longer_than: None,
            transaction_polls: 1,
            gong_cursor_ttl: None,
            gong_log_types: None,
            genesys_max_interval: None,
            credentials: Credentials::default(),
        }
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct SimState {
    pub cfg: SimConfig,
    pub faults: Faults,
    pub stats: Stats,
    pub(crate) gong_limit: Option<Bucket>,
    pub(crate) genesys_limit: Option<RollingWindow>,
    pub(crate) cursor_uses: AtomicU64,
    /// Bumped to change every `changed_every`th Genesys message.
    pub revision: AtomicU32,
    pub(crate) genesys: genesys::GenesysState,
}

impl SimState {
    pub fn new(cfg: SimConfig) -> SimState {
        SimState {
            gong_limit: cfg
                .gong_requests_per_second
                .map(|r| Bucket::new(r, r.max(1.0))),
            genesys_limit: cfg
                .genesys_requests_per_minute
                .map(|r| RollingWindow::new(r, cfg.genesys_rate_window)),
            genesys: genesys::GenesysState::default(),
            faults: Faults::default(),
            stats: Stats::default(),
            cursor_uses: AtomicU64::new(0),
            revision: AtomicU32::new(0),
            cfg,
        }
    }

    /// Whether event `i` at `t_us` is served at `now_us` (late events wait).
    pub fn visible(&self, tag: u64, i: u64, t_us: i64, now_us: i64) -> bool {
        if t_us > now_us {
            return false;
        }
        match self.cfg.late {
            Some(late) if gen::unit(gen::h(self.cfg.seed, tag ^ 0x1a7e, i)) < late.fraction => {
                t_us + late.delay.as_micros() as i64 <= now_us
            }
            _ => true,
        }
    }
}

pub fn now_us() -> i64 {
    crate::clock::now().timestamp_micros()
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The simulator's whole HTTP surface: both APIs behind the fault layer.
pub fn router(state: Arc<SimState>) -> axum::Router {
    axum::Router::new()
        .merge(gong::routes())
        .merge(genesys::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::layer,
        ))
        .with_state(state)
}

/// Starts serving on `listen` (loopback only) on the current tokio runtime.
pub async fn start(cfg: SimConfig, listen: SocketAddr) -> std::io::Result<SimHandle> {
    if !listen.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the simulator binds loopback only; {listen} is not a loopback address"),
        ));
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(SimState::new(cfg));
    let app = router(state.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(SimHandle {
        addr,
        state,
        server,
    })
}

impl SimHandle {
    /// The base URL of both APIs (Gong paths `/v2/…`, Genesys `/api/v2/…` and `/oauth/token`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// Changes every `changed_every`th Genesys message (served and in the truth).
    pub fn bump_revision(&self) {
        self.state.revision.fetch_add(1, Relaxed);
    }

    /// The one JSON line `auditmirror simulate` prints: where and how to connect.
    pub fn connection_info(&self) -> serde_json::Value {
        let c = &self.state.cfg.credentials;
        let base = self.base_url();
        serde_json::json!({
            "gong": {"base_url": base, "access_key": c.gong_access_key, "access_key_secret": c.gong_access_key_secret,
                     "bearer_token": c.gong_bearer_token},
            "genesys": {"api_base_url": base, "login_base_url": base, "client_id": c.genesys_client_id,
                        "client_secret": c.genesys_client_secret},
        })
    }

    /// Ground truth: every well-formed Gong entry of `log_type` with
    /// `from ≤ eventTime < to` that is served now, once each, as JSON text.
    pub fn gong_truth(
        &self,
        log_type: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<String> {
        gong::truth(&self.state, log_type, from, to, now_us(), false)
    }

    /// The malformed Gong entries served in the same range.
    pub fn gong_malformed(
        &self,
        log_type: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<String> {
        gong::truth(&self.state, log_type, from, to, now_us(), true)
    }

    /// The Gong entries served in the same range with a byte that is not UTF-8,
    /// as their exact bytes (in neither `gong_truth` nor `gong_malformed`).
    pub fn gong_bad_utf8(
        &self,
        log_type: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Vec<u8>> {
        gong::truth_bad_utf8(&self.state, log_type, from, to, now_us())
    }

    /// Ground truth: every well-formed Genesys message (as served with
    /// `expand=user`) with `from ≤ eventDate < to` served now, as JSON text.
    pub fn genesys_truth(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
        genesys::truth(&self.state, from, to, now_us(), false)
    }

    /// The malformed Genesys messages served in the same range.
    pub fn genesys_malformed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
        genesys::truth(&self.state, from, to, now_us(), true)
    }

    /// Writes every record served now, one JSON object per line:
    /// `{"source":"gong","log_type":…,"entry":{…}}` or `{"source":"genesys","message":{…}}`,
    /// plus `"malformed": true` on the malformed ones; a Gong entry that is not
    /// UTF-8 as `"entry_base64":"…"` (standard base64 of its bytes).
    pub fn write_truth(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let (from, to) = (
            self.state.cfg.origin,
            crate::clock::now() + chrono::Duration::seconds(1),
        );
        for lt in crate::connectors::gong::LogType::ALL.map(|l| l.as_str()) {
            for malformed in [false, true] {
                for e in gong::truth(&self.state, lt, from, to, now_us(), malformed) {
                    let extra = if malformed { ",\"malformed\":true" } else { "" };
                    writeln!(
                        out,
                        "{{\"source\":\"gong\",\"log_type\":\"{lt}\",\"entry\":{e}{extra}}}"
                    )?;
                }
            }
        }
        for lt in crate::connectors::gong::LogType::ALL.map(|l| l.as_str()) {
            for e in gong::truth_bad_utf8(&self.state, lt, from, to, now_us()) {
                let b64 = base64::engine::general_purpose::STANDARD.encode(e);
                writeln!(out, "{{\"source\":\"gong\",\"log_type\":\"{lt}\",\"entry_base64\":\"{b64}\",\"malformed\":true}}")?;
            }
        }
        for malformed in [false, true] {
            for m in genesys::truth(&self.state, from, to, now_us(), malformed) {
                let extra = if malformed { ",\"malformed\":true" } else { "" };
                writeln!(out, "{{\"source\":\"genesys\",\"message\":{m}{extra}}}")?;
            }
        }
        Ok(())
    }
}

/// Parses an ISO-8601 instant as the vendors accept it: with an offset, or
/// without one meaning UTC.
pub(crate) fn parse_query_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}
