//! The normalized rows that connectors produce and the store writes. Plain data:
//! no HTTP, no SQL. Columns that are plain fields of `raw_json` are derived by the
//! mirror itself (DESIGN §1, "store each byte once"), so they are not carried here.

use chrono::{DateTime, Utc};

/// Which vendor a stream belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Gong,
    Genesys,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Gong => "gong",
            Source::Genesys => "genesys",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        match s {
            "gong" => Some(Source::Gong),
            "genesys" => Some(Source::Genesys),
            _ => None,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// One Gong `/v2/logs` entry, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct GongRow {
    /// Hex SHA-256 over the entry's identifying content (DESIGN §3).
    pub id: String,
    pub log_type: String,
    /// `eventTime` as an instant.
    pub timestamp: DateTime<Utc>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub ip_address: Option<String>,
    /// The entry exactly as received (insignificant whitespace removed).
    pub raw_json: String,
}

/// One Genesys `AuditLogMessage`, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct GenesysRow {
    pub id: String,
    /// `eventDate` as an instant.
    pub event_date: DateTime<Utc>,
    /// `remoteIp` joined with `,`; `None` when absent or empty.
    pub remote_ip_addresses: Option<String>,
    /// The message exactly as received (insignificant whitespace removed).
    pub raw_json: String,
}

/// A record that could not be normalized, kept with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub reason: String,
    pub raw_payload: String,
}
