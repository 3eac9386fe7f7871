//! The Prometheus metrics: the families, what the engine and the HTTP client
//! count into them, and the gauges read from the mirror at each scrape or
//! textfile write (so they hold whatever process wrote the mirror). Labels
//! name sources, accounts and streams only: never a user id or an email.

pub mod serve;
mod text;

use crate::config::Config;
use crate::http::Observe;
use crate::record::StreamKey;
use crate::store::{PageCounts, Store, StoreError};
use crate::time::parse_stored;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use reqwest::StatusCode;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

pub use text::Format;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    source: String,
    account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    source: String,
    account: String,
    stream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordLabels {
    source: String,
    account: String,
    stream: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    source: String,
    account: String,
    status_class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

type Seconds = Gauge<f64, AtomicU64>;
type Durations = Family<AccountLabels, Histogram, fn() -> Histogram>;

/// Request durations from 50 ms to a minute (a vendor's query pages can be slow).
fn duration_histogram() -> Histogram {
    Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])
}

/// Every family, registered once; cheap to share (`Arc`).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    records: Family<RecordLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
    retries: Family<AccountLabels, Counter>,
    runs: Family<RecordLabels, Counter>,
    watermark: Family<StreamLabels, Seconds>,
    last_success: Family<StreamLabels, Seconds>,
    failing: Family<StreamLabels, Gauge>,
    budget_left: Family<AccountLabels, Gauge>,
    /// Scrapes one at a time: the mirror's gauges are cleared and set again.
    scrape: std::sync::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("auditmirror");
        let m = Metrics {
            records: Family::default(),
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            retries: Family::default(),
            runs: Family::default(),
            watermark: Family::default(),
            last_success: Family::default(),
            failing: Family::default(),
            budget_left: Family::default(),
            scrape: std::sync::Mutex::new(()),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register("records", "Records written to the mirror, by what writing them did (inserted, updated, unchanged, rejected)", m.records.clone());
        r.register("requests", "HTTP requests sent to a vendor, by status class (2xx, 3xx, 4xx, 5xx, or error: no response)", m.requests.clone());
        r.register(
            "request_duration_seconds",
            "Time from sending a request to the end of its response body",
            m.durations.clone(),
        );
        r.register(
            "retries",
            "Requests sent again after a failure (429, 5xx, network, truncated body)",
            m.retries.clone(),
        );
        r.register(
            "sync_runs",
            "Runs of a stream, by outcome (success, failed, stopped, skipped, unavailable)",
            m.runs.clone(),
        );
        r.register(
            "watermark_timestamp_seconds",
            "The stream's watermark: everything before it is in the mirror (Unix seconds)",
            m.watermark.clone(),
        );
        r.register(
            "last_success_timestamp_seconds",
            "When the stream's last successful sync ended (Unix seconds)",
            m.last_success.clone(),
        );
        r.register(
            "stream_failing",
            "1 while the stream's syncs fail (since its last success), else 0",
            m.failing.clone(),
        );
        r.register(
            "daily_budget_remaining",
            "Requests left in today's (UTC) daily request budget of the account",
            m.budget_left.clone(),
        );
        let build = Family::<VersionLabels, Gauge>::default();
        build
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        r.register("build_info", "The running version; always 1", build);
        Metrics { registry, ..m }
    }

    /// What sees every request of one account's streams.
    pub fn observer(&self, key: &StreamKey) -> Arc<dyn Observe> {
        Arc::new(AccountObserver {
            source: key.source.as_str().to_owned(),
            account: key.account.clone(),
            requests: self.requests.clone(),
            durations: self.durations.clone(),
            retries: self.retries.clone(),
        })
    }

    /// A page of `key` written: its records counted by outcome.
    pub fn page_written(&self, key: &StreamKey, c: &PageCounts) {
        for (outcome, n) in [
            ("inserted", c.inserted),
            ("updated", c.updated),
            ("unchanged", c.unchanged),
            ("rejected", c.rejected),
        ] {
            self.records
                .get_or_create(&record_labels(key, outcome))
                .inc_by(n as u64);
        }
    }

    /// A run of `key` ended with `outcome` (`success`, `failed`, …).
    pub fn run_ended(&self, key: &StreamKey, outcome: &str) {
        self.runs.get_or_create(&record_labels(key, outcome)).inc();
    }

    /// Sets the mirror's gauges from what `store` records now: every stream it
    /// holds, and the daily budgets of `config`'s accounts. Then encodes.
    pub fn render(
        &self,
        store: Option<&Store>,
        config: &Config,
        now: DateTime<Utc>,
        format: Format,
    ) -> Result<String, StoreError> {
        let _one = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = store {
            self.refresh(store, config, now)?;
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        Ok(match format {
            Format::OpenMetrics => out,
            Format::Prometheus => text::to_prometheus(&out),
        })
    }

    fn refresh(
        &self,
        store: &Store,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let statuses = store.stream_statuses()?;
        for family in [&self.watermark, &self.last_success] {
            family.clear();
        }
        self.failing.clear();
        for s in &statuses {
            let labels = StreamLabels {
                source: s.source.clone(),
                account: s.account.clone(),
                stream: s.stream.clone(),
            };
            let seconds = |t: &Option<String>| t.as_deref().and_then(parse_stored).map(unix);
            if let Some(w) = seconds(&s.watermark) {
                self.watermark.get_or_create(&labels).set(w);
            }
            if let Some(ok) = seconds(&s.last_success_at) {
                self.last_success.get_or_create(&labels).set(ok);
            }
            let failing = s.failing_since.is_some() && s.unavailable.is_none();
            self.failing.get_or_create(&labels).set(i64::from(failing));
        }
        self.budget_left.clear();
        let day = now.format("%Y-%m-%d").to_string();
        for a in &config.accounts {
            let Some(limit) = a.config.daily_request_budget() else {
                continue;
            };
            let used = store.requests_on(a.source, &a.name, &day)?;
            let labels = AccountLabels {
                source: a.source.as_str().to_owned(),
                account: a.name.clone(),
            };
            let left = limit.saturating_sub(used);
            self.budget_left
                .get_or_create(&labels)
                .set(i64::try_from(left).unwrap_or(i64::MAX));
        }
        Ok(())
    }

    /// Writes the metrics for node_exporter's textfile collector: to a
    /// temporary file beside `path`, then renamed over it, so the collector
    /// never reads half a file.
    pub fn write_textfile(
        &self,
        path: &Path,
        store: Option<&Store>,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<(), TextfileError> {
        let text = self
            .render(store, config, now, Format::Prometheus)
            .map_err(TextfileError::Store)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let io = |e| TextfileError::Io {
            path: path.to_owned(),
            error: e,
        };
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// Why the metrics textfile was not written.
#[derive(Debug, thiserror::Error)]
pub enum TextfileError {
    #[error("cannot read the mirror for the metrics: {0}")]
    Store(StoreError),
    #[error("cannot write the metrics textfile {}: {error}; check that its directory exists and is writable", path.display())]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

fn unix(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

fn record_labels(key: &StreamKey, outcome: &str) -> RecordLabels {
    RecordLabels {
        source: key.source.as_str().to_owned(),
        account: key.account.clone(),
        stream: key.stream.clone(),
        outcome: outcome.to_owned(),
    }
}

/// Counts one account's requests into the families.
#[derive(Debug)]
struct AccountObserver {
    source: String,
    account: String,
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
    retries: Family<AccountLabels, Counter>,
}

impl AccountObserver {
    fn labels(&self) -> AccountLabels {
        AccountLabels {
            source: self.source.clone(),
            account: self.account.clone(),
        }
    }
}

impl Observe for AccountObserver {
    fn request(&self, status: Option<StatusCode>, elapsed: Duration) {
        let class = match status.map(|s| s.as_u16() / 100) {
            Some(c @ 1..=5) => format!("{c}xx"),
            _ => "error".to_owned(),
        };
        let labels = RequestLabels {
            source: self.source.clone(),
            account: self.account.clone(),
            status_class: class,
        };
        self.requests.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&self.labels())
            .observe(elapsed.as_secs_f64());
    }

    fn retry(&self) {
        self.retries.get_or_create(&self.labels()).inc();
    }
}

#[cfg(test)]
mod tests;
