//! The data that crosses from connectors to the store: stream keys, a vendor's
//! mirror table as the store writes it, normalized rows of it, and records that
//! could not be normalized. Plain data: no HTTP, no SQL, no vendor.

use chrono::{DateTime, Utc};

pub use crate::connectors::Source;

/// The unit of sync and of state: `(source, account, stream)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    pub source: Source,
    pub account: String,
    pub stream: String,
}

impl StreamKey {
    pub fn new(source: Source, account: impl Into<String>, stream: impl Into<String>) -> Self {
        StreamKey {
            source,
            account: account.into(),
            stream: stream.into(),
        }
    }
}

impl std::fmt::Display for StreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.source, self.account, self.stream)
    }
}

/// A vendor's mirror table, as the store writes it. Besides `account`, `id`,
/// `raw_json` and `db_last_updated`, the store writes the event time and the
/// `columns` below; every other column of the table is generated from
/// `raw_json` by the schema (`migrations/`), so each byte is stored once.
#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    /// The column that holds [`Row::time`] in the stored UTC form.
    pub time_column: &'static str,
    /// The other stored columns, in the order of [`Row::columns`].
    pub columns: &'static [&'static str],
}

/// One normalized record of a vendor's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The record's id: unique per account within its table.
    pub id: String,
    /// When the event happened.
    pub time: DateTime<Utc>,
    /// Values of [`Table::columns`], in that order.
    pub columns: Vec<Option<String>>,
    /// The record as received, insignificant whitespace removed.
    pub raw_json: String,
}

impl Row {
    pub fn new(
        id: String,
        time: DateTime<Utc>,
        columns: Vec<Option<String>>,
        raw_json: String,
    ) -> Row {
        Row {
            id,
            time,
            columns,
            raw_json,
        }
    }

    /// The bytes of text the row holds.
    pub fn text_len(&self) -> usize {
        let columns: usize = self.columns.iter().flatten().map(String::len).sum();
        self.id.len() + columns + self.raw_json.len()
    }
}

/// A record that could not be normalized, kept with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub reason: String,
    pub raw_payload: String,
}
