//! Configuration: reads the TOML file, resolves `[defaults]` into each account,
//! loads secrets (`KEY`, `KEY_file`, `KEY_env`) into `SecretString`s, and checks
//! every value; each vendor's `[[name]]` tables are read by the vendor through
//! [`AccountParser`]. Every error names the key and its line. Knows nothing of
//! HTTP or SQL.

use crate::connector::{AccountConfig, StreamSpec};
use crate::record::Source;
use crate::time::{fmt_duration, fmt_utc, parse_duration, parse_instant};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

/// Shortest `window`: shorter ones would split a range into millions of queries.
pub const MIN_WINDOW: Duration = Duration::from_secs(60);
/// Longest `window` of any vendor; a vendor may accept less.
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * 86_400);
/// Longest `lookback`: a sync re-reads at most this far behind its watermark.
pub const MAX_LOOKBACK: Duration = Duration::from_secs(30 * 86_400);
/// Longest `settle`: a mirror a day behind is already no mirror.
pub const MAX_SETTLE: Duration = Duration::from_secs(86_400);
/// Furthest back a first sync may `start`: 100 years (`100y`, 36525 days).
pub const MAX_START_AGO: Duration = Duration::from_secs(36_525 * 86_400);
/// Largest `max_body_mb`.
pub const MAX_BODY_MB: u64 = 1024;
/// Longest `response_timeout`.
pub const MAX_RESPONSE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Longest `total_timeout`.
pub const MAX_TOTAL_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Says the OS error itself, once: it is not chained as `source()`.
    #[error("cannot read config file {path}: {why} (give the file with --config PATH or $AUDITMIRROR_CONFIG)")]
    Read { path: PathBuf, why: std::io::Error },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}:{line}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
}

/// Whether loading a config reads its secrets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SecretMode {
    /// Read every secret (`KEY_file`, `KEY_env`): commands that talk to vendors.
    #[default]
    Read,
    /// Check that each secret is given exactly once, but read none: commands
    /// that only read the mirror (`status`), which must work without
    /// `CREDENTIALS_DIRECTORY` or the secrets' variables. Every secret is then
    /// empty: such a config must never reach a connector.
    Skip,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// Whether the secrets were read (`Skip`: they are empty).
    pub secrets: SecretMode,
    pub database_path: PathBuf,
    /// Every account, vendor by vendor in the registry's order, each in file order.
    pub accounts: Vec<Account>,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    /// Things that are allowed but unwise, for the caller to log.
    pub warnings: Vec<String>,
}

/// The `[metrics]` table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSettings {
    /// Where `run` serves `/metrics`, `/livez` and `/readyz`; none if unset.
    pub listen: Option<std::net::SocketAddr>,
}

/// The `[log]` table. `RUST_LOG` and `--log-format` take precedence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogSettings {
    /// A tracing filter such as `info` or `info,auditmirror=debug`.
    pub level: Option<String>,
    pub format: Option<LogFormat>,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// The settings every stream has; `[defaults]` overridden per account.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSettings {
    /// Six-field cron (seconds first), UTC.
    pub schedule: String,
    pub lookback: Duration,
    pub settle: Duration,
    pub start: Start,
    /// Fixed windows (vendors that query by interval): their length.
    pub window: Duration,
    /// Adaptive windows (vendors that report a window's size): split a window
    /// that holds more records than this.
    pub window_records: u64,
}

/// Where a stream's first sync begins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Start {
    /// This long before the run.
    Ago(Duration),
    At(DateTime<Utc>),
}

impl Start {
    /// The instant to begin at, for a run at `now`; saturates at the earliest
    /// instant chrono knows rather than overflowing.
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Start::Ago(d) => crate::time::before(now, d),
            Start::At(t) => t,
        }
    }
}

impl std::fmt::Display for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Start::Ago(d) => f.write_str(&fmt_duration(*d)),
            Start::At(t) => f.write_str(&fmt_utc(*t)),
        }
    }
}

/// Limits on one account's HTTP requests (`max_body_mb`, `response_timeout`,
/// `total_timeout`); `[defaults]` overridden per account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpLimits {
    /// A response body larger than this is refused.
    pub max_body_bytes: u64,
    /// Deadline on one whole response, headers and body.
    pub response_timeout: Duration,
    /// Total time one request may take across all its retries.
    pub total_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            max_body_bytes: 32 * MIB,
            response_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(120),
        }
    }
}

/// Bytes in one `max_body_mb`.
pub const MIB: u64 = 1024 * 1024;

/// A secret and where it came from. Its value never reaches `Debug` or `Display`.
#[derive(Debug, Clone)]
pub struct Secret {
    value: SecretString,
    origin: SecretOrigin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SecretOrigin {
    Inline,
    File(PathBuf),
    Env(String),
}

impl Secret {
    pub fn new(value: SecretString, origin: SecretOrigin) -> Secret {
        Secret { value, origin }
    }

    pub fn value(&self) -> &SecretString {
        &self.value
    }

    pub fn origin(&self) -> &SecretOrigin {
        &self.origin
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.origin {
            SecretOrigin::Inline => f.write_str("[redacted] (inline)"),
            SecretOrigin::File(p) => write!(f, "[redacted] (from file {})", p.display()),
            SecretOrigin::Env(v) => write!(f, "[redacted] (from ${v})"),
        }
    }
}

impl Config {
    /// Reads and validates the file at `path`, secrets included.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, SecretMode::Read)
    }

    /// Reads and validates the file at `path`; `secrets` says whether to read
    /// the secrets it names.
    pub fn load_with(path: &Path, secrets: SecretMode) -> Result<Config, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|why| ConfigError::Read {
            path: path.to_owned(),
            why,
        })?;
        let mut cfg = Config::parse_with(&src, path, crate::clock::now(), secrets)?;
        if cfg.has_inline_secret() {
            if let Some(w) = world_readable_warning(path) {
                cfg.warnings.push(w);
            }
        }
        Ok(cfg)
    }

    /// Validates `src` as if read from `path` (relative paths resolve against
    /// its directory) at the instant `now`.
    pub fn parse(src: &str, path: &Path, now: DateTime<Utc>) -> Result<Config, ConfigError> {
        Config::parse_with(src, path, now, SecretMode::Read)
    }

    /// [`Config::parse`], reading the secrets or not as `secrets` says.
    pub fn parse_with(
        src: &str,
        path: &Path,
        now: DateTime<Utc>,
        secrets: SecretMode,
    ) -> Result<Config, ConfigError> {
        let ctx = Ctx {
            path,
            src,
            now,
            dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
            secrets,
        };
        ctx.build()
    }

    fn has_inline_secret(&self) -> bool {
        self.accounts.iter().any(|a| {
            a.config
                .secrets()
                .iter()
                .any(|s| s.origin == SecretOrigin::Inline)
        })
    }

    /// The accounts of one vendor.
    pub fn accounts_of(&self, source: Source) -> impl Iterator<Item = &Account> {
        self.accounts.iter().filter(move |a| a.source == source)
    }

    /// The resolved configuration as TOML, defaults filled in, secrets redacted.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# resolved from {}\n[database]\npath = {:?}",
            self.file.display(),
            self.database_path
        );
        let _ = writeln!(
            out,
            "\n[log]\nlevel = {:?}\nformat = {:?}",
            self.log.level.as_deref().unwrap_or("info"),
            self.log.format.unwrap_or_default().as_str()
        );
        if let Some(addr) = self.metrics.listen {
            let _ = writeln!(out, "\n[metrics]\nlisten = \"{addr}\"");
        }
        for a in &self.accounts {
            let _ = write!(
                out,
                "\n[[{}]]\nname = {:?}\n{}",
                a.source,
                a.name,
                a.config.render()
            );
            render_settings(&mut out, &a.settings, &a.limits);
        }
        out
    }
}

/// One configured account: what every account has, and its vendor's own part.
#[derive(Debug, Clone)]
pub struct Account {
    pub source: Source,
    pub name: String,
    pub settings: StreamSettings,
    pub limits: HttpLimits,
    pub config: Arc<dyn AccountConfig>,
}

impl Account {
    /// The account's streams, as its vendor defines them.
    pub fn streams(&self) -> Vec<StreamSpec> {
        self.config.streams(&self.settings)
    }

    /// The vendor's own part as its concrete type, for that vendor's code and tests.
    pub fn vendor_config<T: 'static>(&self) -> Option<&T> {
        self.config.as_any().downcast_ref::<T>()
    }
}

fn render_settings(out: &mut String, s: &StreamSettings, l: &HttpLimits) {
    let _ = writeln!(
        out,
        "schedule = {:?}\nlookback = {:?}\nsettle = {:?}\nstart = {:?}\nwindow = {:?}\nwindow_records = {}",
        s.schedule,
        fmt_duration(s.lookback),
        fmt_duration(s.settle),
        s.start.to_string(),
        fmt_duration(s.window),
        s.window_records
    );
    let _ = writeln!(
        out,
        "max_body_mb = {}\nresponse_timeout = {:?}\ntotal_timeout = {:?}",
        l.max_body_bytes / MIB,
        fmt_duration(l.response_timeout),
        fmt_duration(l.total_timeout)
    );
}

#[cfg(unix)]
fn world_readable_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o044 != 0).then(|| {
        format!(
            "{} holds a secret inline and is readable by group or others (mode {:o}): run `chmod 600 {}` \
             or move the secret to a KEY_file / KEY_env setting",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn world_readable_warning(_: &Path) -> Option<String> {
    None
}

mod account;
mod database;
mod parse;
mod secrets;
mod settings;
pub use account::{
    AccountParser, AccountTable, Common, CommonKeys, Overrides, SecretKeys, SecretText, Secrets,
    Text,
};
pub use database::DatabasePathError;
pub use parse::Ctx;

/// Checks a schedule the way the scheduler will parse it: six fields with
/// seconds first, day-of-month AND day-of-week.
pub fn check_cron(expr: &str) -> Result<(), String> {
    parse_cron(expr).map(drop)
}

/// The period of a schedule as of `now`: the time between its next two
/// firings after `now` (for `0 0,30 9 * * *` at 08:00, 30 minutes; at 09:15,
/// 23½ hours). `None` when it does not parse or does not fire twice. Parsed
/// as the scheduler does: six fields, seconds first, day-of-month AND
/// day-of-week.
pub fn schedule_period(expr: &str, now: DateTime<Utc>) -> Option<Duration> {
    let cron = parse_cron(expr).ok()?;
    let first = cron.find_next_occurrence(&now, false).ok()?;
    let second = cron.find_next_occurrence(&first, false).ok()?;
    (second - first).to_std().ok()
}

pub(crate) fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr.trim())
        .map_err(|e| format!("`{expr}` is not a cron schedule with seconds ({e}); write six fields, sec min hour day month weekday, in UTC, e.g. \"0 */5 * * * *\""))
}

#[cfg(test)]
mod tests;
