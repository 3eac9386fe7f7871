//! The seam between the generic program and the vendors. A [`Vendor`] (one
//! folder under `connectors/`, listed in the registry `connectors/mod.rs`) parses
//! its accounts from the config; an [`AccountConfig`] names its streams, their
//! retention and window strategy, and connects; a [`Connector`] opens a time
//! window of a stream as a [`PageReader`] of normalized rows. Connectors know HTTP
//! and JSON, never SQL or scheduling; the engine and the store never name a vendor.

use crate::config::{Account, AccountParser, ConfigError, Secret, StreamSettings};
use crate::http::{Counters, ErrorClass, HttpClient, HttpError};
use crate::record::{Rejected, Row, Table};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, so connectors can sit behind `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A vendor, as the registry lists it.
pub struct Vendor {
    /// Lower case: the config's `[[name]]` tables, the `source` column, `--source`.
    pub name: &'static str,
    /// As people write it, for messages.
    pub title: &'static str,
    /// The mirror table its rows go to.
    pub table: &'static Table,
    /// The longest `window` its API accepts, if limited.
    pub max_window: Option<std::time::Duration>,
    /// Parses the config's `[[name]]` tables into accounts.
    pub parse_accounts: fn(&AccountParser<'_>) -> Result<Vec<Account>, ConfigError>,
    /// Everyday questions its table answers, for `auditmirror demo`.
    pub examples: &'static [Example],
}

/// A question people ask the mirror, and the SQL that answers it.
pub struct Example {
    pub question: &'static str,
    pub sql: &'static str,
}

/// The vendor's own part of one configured account.
pub trait AccountConfig: AsAny + std::fmt::Debug + Send + Sync {
    /// The account's streams, with the vendor's retention and window strategy.
    fn streams(&self, settings: &StreamSettings) -> Vec<StreamSpec>;
    /// The most requests per second the account may send.
    fn requests_per_second(&self) -> f64;
    /// Requests per UTC day, if the vendor limits them.
    fn daily_request_budget(&self) -> Option<u64> {
        None
    }
    /// Every secret of the account.
    fn secrets(&self) -> Vec<&Secret>;
    /// The vendor's own keys, resolved, as TOML lines (secrets redacted).
    fn render(&self) -> String;
    /// The account's connector over `http` (the account's client, pacer and
    /// budget); it registers its credentials with the client's redactor.
    fn connect(&self, http: Arc<HttpClient>) -> Arc<dyn Connector>;
}

/// A vendor's account config as its concrete type (for the vendor's own code
/// and tests); every `'static` type has it.
pub trait AsAny {
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<T: std::any::Any> AsAny for T {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// One stream of an account, as its vendor defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    pub name: String,
    /// How long the vendor keeps the stream's events, if limited.
    pub retention: Option<chrono::Duration>,
    pub strategy: WindowStrategy,
}

/// How the engine cuts a stream's range into windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowStrategy {
    /// Ask for the whole range; split a window while its reader reports more
    /// than `records` records in it.
    Adaptive { records: u64 },
    /// Windows of at most `length`.
    Fixed { length: chrono::Duration },
}

/// A vendor account, connected: reads time windows of its streams.
pub trait Connector: Send + Sync {
    /// Starts reading `window` of `stream`.
    fn open<'a>(
        &'a self,
        stream: &'a str,
        window: Window,
        counters: &'a Counters,
    ) -> BoxFuture<'a, Result<Box<dyn PageReader + 'a>, ConnectorError>>;

    /// The parts the vendor lists for `stream` (its services, say), shown by
    /// `status`; `None` when the vendor lists none.
    fn catalog<'a>(
        &'a self,
        _stream: &'a str,
        _counters: &'a Counters,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, ConnectorError>> {
        Box::pin(async { Ok(None) })
    }

    /// One cheap authenticated request (`check-config --connect`): what worked.
    fn probe(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<String, ConnectorError>>;
}

/// `open`'s answer for a reader of a concrete type, boxed for the seam.
pub fn boxed<'a, R: PageReader + 'a>(
    opened: impl Future<Output = Result<R, ConnectorError>> + Send + 'a,
) -> BoxFuture<'a, Result<Box<dyn PageReader + 'a>, ConnectorError>> {
    Box::pin(async move { Ok(Box::new(opened.await?) as Box<dyn PageReader + 'a>) })
}

/// One window of one stream, page by page.
pub trait PageReader: Send {
    /// The records the vendor says the window holds, if it says.
    fn total(&self) -> Option<u64>;
    /// The next page and whether it is the window's last; `None` after the last.
    fn next<'a>(
        &'a mut self,
        counters: &'a Counters,
    ) -> BoxFuture<'a, Result<Option<(Page, bool)>, ConnectorError>>;
}

/// A half-open time range `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Window {
        Window { from, to }
    }

    pub fn len(&self) -> chrono::Duration {
        self.to - self.from
    }

    pub fn is_empty(&self) -> bool {
        self.to <= self.from
    }

    /// The two halves, split at the midpoint (whole microseconds).
    pub fn halves(&self) -> (Window, Window) {
        let mid = self.from
            + chrono::Duration::microseconds(
                (self.to - self.from).num_microseconds().unwrap_or(0) / 2,
            );
        (Window::new(self.from, mid), Window::new(mid, self.to))
    }

    /// Consecutive windows of at most `step` covering `self`.
    pub fn split_every(&self, step: chrono::Duration) -> Vec<Window> {
        let mut out = Vec::new();
        let mut from = self.from;
        while from < self.to {
            let to = crate::time::add_signed(from, step).min(self.to);
            out.push(Window::new(from, to));
            from = to;
        }
        out
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}, {})",
            crate::time::fmt_utc(self.from),
            crate::time::fmt_utc(self.to)
        )
    }
}

/// One page as a connector hands it to the engine.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub rows: Vec<Row>,
    pub rejected: Vec<Rejected>,
}

impl Page {
    /// The bytes of text the page holds: its rows, and its rejects with reasons.
    pub fn text_len(&self) -> usize {
        let rows: usize = self.rows.iter().map(Row::text_len).sum();
        let rejected: usize = (self.rejected.iter())
            .map(|r| r.reason.len() + r.raw_payload.len())
            .sum();
        rows + rejected
    }

    /// Records in the page, mapped or rejected.
    pub fn records(&self) -> usize {
        self.rows.len() + self.rejected.len()
    }

    /// The rejected records' payloads, in order.
    pub fn rejected_payloads(&self) -> Vec<&str> {
        self.rejected
            .iter()
            .map(|r| r.raw_payload.as_str())
            .collect()
    }
}

/// Why a window could not be read whole, in a way a shorter window may cure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowFailure {
    /// The vendor's paging cursor expired (again, after the window was read
    /// afresh) before the window's last page.
    CursorExpired,
    /// The vendor's query for the window ended without results, twice.
    QueryFailed,
    /// The vendor refuses a time range this long.
    TooLong,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The engine splits the window and reads the halves, down to a floor.
    #[error("{what}: {detail}")]
    Window {
        what: String,
        failure: WindowFailure,
        detail: String,
    },
    #[error("{what}: unexpected response: {detail}")]
    Protocol { what: String, detail: String },
}

impl ConnectorError {
    pub fn class(&self) -> ErrorClass {
        match self {
            ConnectorError::Http(e) => e.class(),
            ConnectorError::Window { .. } | ConnectorError::Protocol { .. } => {
                ErrorClass::Retryable
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_instant;

    #[test]
    fn windows_split_without_gaps_or_overlap() {
        let w = Window::new(
            parse_instant("2026-01-01T00:00:00Z").unwrap(),
            parse_instant("2026-01-03T12:00:00.000001Z").unwrap(),
        );
        let (a, b) = w.halves();
        assert_eq!((a.from, a.to, b.to), (w.from, b.from, w.to));
        let days = w.split_every(chrono::Duration::days(1));
        assert_eq!(days.len(), 3);
        assert!(days.windows(2).all(|p| p[0].to == p[1].from));
        assert_eq!((days[0].from, days[2].to), (w.from, w.to));
    }
}
