//! auditmirror keeps a local SQLite mirror of the Gong and Genesys Cloud audit
//! logs. The binary (`main.rs`) is a thin command line over these modules:
//!
//! - [`config`]: the TOML file, validated, with secrets kept secret.
//! - [`store`]: the SQLite mirror; the only code that speaks SQL.
//! - [`record`]: the normalized rows passed from connectors to the store.
//! - [`time`]: the mirror's UTC text form, vendor timestamps and durations.
//! - [`status`]: the per-stream report of `auditmirror status`.
//!
//! `ARCHITECTURE.md` shows how data flows between them.

pub mod clock;
pub mod config;
pub mod connector;
pub mod connectors;
pub mod daemon;
pub mod demo;
pub mod http;
pub mod lease;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod progress;
pub mod record;
pub mod simulator;
pub mod status;
pub mod store;
pub mod streams;
pub mod sync;
pub mod time;
