//! The daemon's HTTP endpoint (`[metrics] listen`): `/metrics` in the text
//! format the scraper asks for, `/livez` (the process answers) and `/readyz`
//! (the mirror is writable and no stream has failed for three of its periods).

use super::{Format, Metrics};
use crate::clock::Clock;
use crate::config::{schedule_period, Config};
use crate::store::{Store, StreamStatus};
use crate::time::parse_stored;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

/// A stream failing longer than this many of its schedule's periods makes the
/// daemon unready (one failed run is a blip; three in a row are not).
pub const FAILING_PERIODS: u32 = 3;

/// What the endpoint reads: the metrics, the config in force, the clock.
pub struct Endpoint {
    metrics: Arc<Metrics>,
    config: RwLock<Arc<Config>>,
    clock: Arc<dyn Clock>,
}

impl Endpoint {
    pub fn new(metrics: Arc<Metrics>, config: Arc<Config>, clock: Arc<dyn Clock>) -> Endpoint {
        Endpoint {
            metrics,
            config: RwLock::new(config),
            clock,
        }
    }

    /// The config after a reload (its streams and budgets from now on).
    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {addr} for [metrics] listen: {error}; pick a free port, or another address"
)]
pub struct BindError {
    pub addr: SocketAddr,
    pub error: std::io::Error,
}

pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, BindError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| BindError { addr, error })
}

/// Serves the endpoint on `listener` until `stop` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    endpoint: Arc<Endpoint>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(endpoint);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}

async fn metrics(State(e): State<Arc<Endpoint>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let rendered = tokio::task::spawn_blocking(move || {
        let config = e.config();
        let store = Store::open_read_only(&config.database_path)?;
        e.metrics
            .render(store.as_ref(), &config, e.clock.now(), format)
    })
    .await;
    match rendered {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, format.content_type())], text).into_response(),
        Ok(Err(error)) => unavailable(format!("cannot read the mirror: {error}\n")),
        Err(error) => unavailable(format!("the scrape failed: {error}\n")),
    }
}

async fn readyz(State(e): State<Arc<Endpoint>>) -> Response {
    let checked = tokio::task::spawn_blocking(move || {
        let config = e.config();
        let now = e.clock.now();
        let writable = Store::check_writable(&config.database_path).map_err(|e| e.to_string());
        let statuses = Store::open_read_only(&config.database_path)
            .and_then(|s| s.map_or(Ok(Vec::new()), |s| s.stream_statuses()))
            .unwrap_or_default();
        unready(&config, &statuses, writable, now)
    })
    .await;
    match checked {
        Ok(reasons) if reasons.is_empty() => "ready\n".into_response(),
        Ok(reasons) => unavailable(reasons.join("\n") + "\n"),
        Err(error) => unavailable(format!("the check failed: {error}\n")),
    }
}

fn unavailable(body: String) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

/// Why the daemon is not ready (nothing: it is): the mirror is not writable,
/// or a configured stream has failed for longer than [`FAILING_PERIODS`] of
/// its schedule.
pub fn unready(
    config: &Config,
    statuses: &[StreamStatus],
    writable: Result<(), String>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut reasons: Vec<String> = writable.err().into_iter().collect();
    for a in &config.accounts {
        let grace = schedule_period(&a.settings.schedule, now)
            .map(|p| p * FAILING_PERIODS)
            .unwrap_or_default();
        for spec in a.streams() {
            let status = statuses.iter().find(|s| {
                s.source == a.source.as_str() && s.account == a.name && s.stream == spec.name
            });
            let Some(s) = status.filter(|s| s.unavailable.is_none()) else {
                continue;
            };
            let Some(since) = s.failing_since.as_deref().and_then(parse_stored) else {
                continue;
            };
            if (now - since).to_std().unwrap_or_default() > grace {
                reasons.push(format!(
                    "{}/{}/{} failing since {}: {}",
                    s.source,
                    s.account,
                    s.stream,
                    since.format("%Y-%m-%dT%H:%M:%SZ"),
                    s.last_error.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    reasons
}
