//! The seam between the engine and the vendors: a time window, the pages a
//! connector reads for it, and the errors the engine acts on. Connectors know HTTP
//! and JSON (`connectors/`), never SQL or scheduling.

use crate::http::{ErrorClass, HttpError};
use crate::record::{GenesysRow, GongRow, Rejected};
use chrono::{DateTime, Utc};

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

/// Normalized rows of one page, of either source.
#[derive(Debug, Clone, PartialEq)]
pub enum PageRows {
    Gong(Vec<GongRow>),
    Genesys(Vec<GenesysRow>),
}

impl PageRows {
    pub fn len(&self) -> usize {
        match self {
            PageRows::Gong(r) => r.len(),
            PageRows::Genesys(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_rows(&self) -> crate::store::Rows<'_> {
        match self {
            PageRows::Gong(r) => crate::store::Rows::Gong(r),
            PageRows::Genesys(r) => crate::store::Rows::Genesys(r),
        }
    }
}

/// One page as a connector hands it to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: PageRows,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{what}: the vendor's cursor expired or repeated twice in one window; the window will be read again on the next run")]
    Cursor { what: String },
    #[error("{what}: unexpected response: {detail}")]
    Protocol { what: String, detail: String },
    /// The vendor refused the window as too long: the engine splits it.
    #[error("{what}: the vendor refuses a time window this long: {message}")]
    WindowTooLong { what: String, message: String },
}

impl ConnectorError {
    pub fn class(&self) -> ErrorClass {
        match self {
            ConnectorError::Http(e) => e.class(),
            ConnectorError::Cursor { .. }
            | ConnectorError::Protocol { .. }
            | ConnectorError::WindowTooLong { .. } => ErrorClass::Retryable,
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
