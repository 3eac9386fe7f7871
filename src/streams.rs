//! Turns the config and a command's selectors into runnable streams: one HTTP
//! client, pacer and daily budget per account, shared by that account's streams.

use crate::config::Config;
use crate::config::GenesysMode;
use crate::connectors::genesys::GenesysConnector;
use crate::connectors::gong::GongConnector;
use crate::http::{HttpClient, HttpError, Pacer, Policy};
use crate::record::{Source, StreamKey};
use crate::store::{Store, StoreError};
use crate::sync::{DailyBudget, Reader, Stream};
use std::sync::Arc;

/// How long Gong keeps each log type, where limited.
pub fn gong_retention(log_type: &str) -> Option<chrono::Duration> {
    (log_type == "AccessLog").then(|| chrono::Duration::days(14))
}

/// How long Genesys keeps audits: about a year for queries, 14 days for realtime.
pub fn genesys_retention(mode: GenesysMode) -> chrono::Duration {
    match mode {
        GenesysMode::History => chrono::Duration::days(365),
        GenesysMode::Realtime => chrono::Duration::days(14),
    }
}

/// Which streams a command acts on; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub source: Option<Source>,
    pub account: Option<String>,
    pub stream: Option<String>,
}

impl Selector {
    fn matches(&self, key: &StreamKey) -> bool {
        self.source.is_none_or(|s| s == key.source)
            && self.account.as_ref().is_none_or(|a| *a == key.account)
            && self.stream.as_ref().is_none_or(|s| *s == key.stream)
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let any = "*".to_owned();
        write!(
            f,
            "{}/{}/{}",
            self.source.map_or("*", |s| s.as_str()),
            self.account.as_ref().unwrap_or(&any),
            self.stream.as_ref().unwrap_or(&any)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no configured stream matches {0}; `auditmirror check-config` lists them")]
    NoMatch(String),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every configured stream that `sel` matches, in config order.
pub fn build(
    config: &Config,
    sel: &Selector,
    store: &Store,
) -> Result<Vec<Arc<Stream>>, BuildError> {
    build_with(config, sel, store, &Policy::default())
}

/// [`build`] with a given timeout and retry policy.
pub fn build_with(
    config: &Config,
    sel: &Selector,
    store: &Store,
    policy: &Policy,
) -> Result<Vec<Arc<Stream>>, BuildError> {
    let mut out = Vec::new();
    for g in &config.gong {
        let keys: Vec<StreamKey> = g
            .log_types
            .iter()
            .map(|lt| StreamKey::new(Source::Gong, &g.name, lt))
            .filter(|k| sel.matches(k))
            .collect();
        if keys.is_empty() {
            continue;
        }
        let budget = Arc::new(DailyBudget::load(
            store,
            Source::Gong,
            &g.name,
            g.daily_request_budget.into(),
        )?);
        let pacer = Pacer::per_second(g.requests_per_second);
        let http = Arc::new(HttpClient::new(
            policy.clone(),
            Some(pacer),
            Some(budget.clone()),
        )?);
        let conn = Arc::new(GongConnector::new(g, http));
        for key in keys {
            let log_type = key.stream.clone();
            out.push(Arc::new(Stream {
                retention: gong_retention(&log_type),
                key,
                settings: g.settings.clone(),
                reader: Reader::Gong {
                    conn: conn.clone(),
                    log_type,
                },
                budget: Some(budget.clone()),
            }));
        }
    }
    for g in &config.genesys {
        let key = StreamKey::new(Source::Genesys, &g.name, "audits");
        if !sel.matches(&key) {
            continue;
        }
        let http = Arc::new(HttpClient::new(
            policy.clone(),
            Some(Pacer::per_minute(g.requests_per_minute)),
            None,
        )?);
        out.push(Arc::new(Stream {
            key,
            settings: g.settings.clone(),
            retention: Some(genesys_retention(g.mode)),
            reader: Reader::Genesys {
                conn: Arc::new(GenesysConnector::new(g, http)),
                realtime: g.mode == GenesysMode::Realtime,
            },
            budget: None,
        }));
    }
    if out.is_empty() {
        return Err(BuildError::NoMatch(sel.to_string()));
    }
    Ok(out)
}
