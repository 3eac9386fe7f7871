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

/// A vendor's stored table, as the store writes it. Every such table has the
/// columns `account`, `id_key`, `event_us` and `written_us` (microseconds since
/// 1970, UTC) and `raw_json`, then the vendor's own `columns`; the public view
/// with the documented columns over it, and its indexes, are in `migrations/`.
#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    /// The stored table (the public view has its own name).
    pub name: &'static str,
    /// The generated column that shows `event_us` in the stored UTC text form
    /// (the one an index leads with).
    pub time_column: &'static str,
    /// How `id_key` holds [`Row::id`].
    pub id: IdForm,
    /// How a record is found again, to skip or update it.
    pub key: Key,
    /// The vendor's other stored columns, in the order of [`Row::columns`].
    pub columns: &'static [&'static str],
}

/// How a table stores a row's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdForm {
    /// The id is hex; its bytes are stored (half the size).
    HexBytes,
    /// The id's text, as it is.
    Text,
}

/// How a stored record is found again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// By its event time and id: for ids that hash the record, its time
    /// included (the table's time index finds it; no index over ids at all).
    TimeAndId,
    /// By account and id, through a unique index.
    Id,
}

/// A value of a vendor's own stored column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Value {
        v.map_or(Value::Null, Value::Text)
    }
}

/// One normalized record of a vendor's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The record's id: unique per account within its table.
    pub id: String,
    /// When the event happened.
    pub time: DateTime<Utc>,
    /// Values of [`Table::columns`], in that order.
    pub columns: Vec<Value>,
    /// The record as received, insignificant whitespace removed.
    pub raw_json: String,
}

impl Row {
    pub fn new(id: String, time: DateTime<Utc>, columns: Vec<Value>, raw_json: String) -> Row {
        Row {
            id,
            time,
            columns,
            raw_json,
        }
    }

    /// The bytes of text the row holds.
    pub fn text_len(&self) -> usize {
        let columns: usize = (self.columns.iter())
            .map(|v| match v {
                Value::Text(t) => t.len(),
                Value::Int(_) => 8,
                Value::Null => 0,
            })
            .sum();
        self.id.len() + columns + self.raw_json.len()
    }
}

/// A record that could not be normalized, kept with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub reason: String,
    pub raw_payload: String,
}
