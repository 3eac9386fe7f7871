//! Configuration: reads the TOML file, resolves `[defaults]` into each account,
//! loads secrets (`KEY`, `KEY_file`, `KEY_env`) into `SecretString`s, and checks
//! every value. Every error names the key and its line. Knows nothing of HTTP or SQL.

use crate::time::{fmt_duration, fmt_utc, parse_duration, parse_instant};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The five Gong `logType` values; one stream each.
pub const GONG_LOG_TYPES: [&str; 5] = [
    "AccessLog",
    "UserActivityLog",
    "UserCallPlay",
    "ExternallySharedCallAccess",
    "ExternallySharedCallPlay",
];

/// Genesys Cloud region domains (API at `https://api.{domain}`, login at
/// `https://login.{domain}`), with the AWS-style names the SDKs use.
pub const GENESYS_REGIONS: [(&str, &str); 18] = [
    ("us_east_1", "mypurecloud.com"),
    ("eu_west_1", "mypurecloud.ie"),
    ("ap_southeast_2", "mypurecloud.com.au"),
    ("ap_northeast_1", "mypurecloud.jp"),
    ("eu_central_1", "mypurecloud.de"),
    ("us_west_2", "usw2.pure.cloud"),
    ("ca_central_1", "cac1.pure.cloud"),
    ("ap_northeast_2", "apne2.pure.cloud"),
    ("eu_west_2", "euw2.pure.cloud"),
    ("ap_south_1", "aps1.pure.cloud"),
    ("us_east_2", "use2.us-gov-pure.cloud"),
    ("sa_east_1", "sae1.pure.cloud"),
    ("me_central_1", "mec1.pure.cloud"),
    ("ap_northeast_3", "apne3.pure.cloud"),
    ("eu_central_2", "euc2.pure.cloud"),
    ("mx_central_1", "mxc1.pure.cloud"),
    ("ap_southeast_1", "apse1.pure.cloud"),
    ("eusc_de_east_1", "edee1.eusc-pure.cloud"),
];

/// Longest Genesys query window the API accepts.
pub const MAX_GENESYS_WINDOW: Duration = Duration::from_secs(31 * 86_400);
/// Shortest `window`: shorter ones would split a range into millions of queries.
pub const MIN_WINDOW: Duration = Duration::from_secs(60);
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
    #[error("cannot read config file {path}: {source} (give the file with --config PATH or $AUDITMIRROR_CONFIG)")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    pub database_path: PathBuf,
    pub gong: Vec<GongAccount>,
    pub genesys: Vec<GenesysAccount>,
    pub log: LogSettings,
    /// Things that are allowed but unwise, for the caller to log.
    pub warnings: Vec<String>,
}

/// The `[log]` table. `RUST_LOG` and `--log-format` take precedence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogSettings {
    /// A tracing filter such as `info` or `info,auditmirror=debug`.
    pub level: Option<String>,
    pub format: Option<LogFormat>,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
    /// Genesys query window.
    pub window: Duration,
    /// Gong: split a range whose `totalRecords` exceeds this.
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

#[derive(Debug, Clone)]
pub enum GongAuth {
    /// `Authorization: Basic base64(access_key:access_key_secret)`.
    Basic {
        access_key: Secret,
        access_key_secret: Secret,
    },
    /// `Authorization: Bearer token` (OAuth).
    Bearer { token: Secret },
}

#[derive(Debug, Clone)]
pub struct GongAccount {
    pub name: String,
    /// Without a trailing slash.
    pub base_url: String,
    pub auth: GongAuth,
    pub log_types: Vec<String>,
    pub requests_per_second: f64,
    pub daily_request_budget: u32,
    pub settings: StreamSettings,
    pub limits: HttpLimits,
}

#[derive(Debug, Clone)]
pub struct GenesysAccount {
    pub name: String,
    pub region: Option<String>,
    /// Without a trailing slash.
    pub api_base_url: String,
    /// Without a trailing slash.
    pub login_base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Empty: every service the service mapping lists.
    pub services: Vec<String>,
    pub requests_per_minute: u32,
    pub mode: GenesysMode,
    pub settings: StreamSettings,
    pub limits: HttpLimits,
}

/// Which Genesys endpoint an account reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenesysMode {
    /// Asynchronous audit queries (`/api/v2/audits/query`): about a year back.
    History,
    /// `/api/v2/audits/query/realtime`: the last 14 days, lower latency.
    Realtime,
}

impl GenesysMode {
    pub fn as_str(self) -> &'static str {
        match self {
            GenesysMode::History => "history",
            GenesysMode::Realtime => "realtime",
        }
    }
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg = Config::parse(&src, path, Utc::now())?;
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
        let raw: RawFile = toml::from_str(src).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let ctx = Ctx {
            path,
            src,
            now,
            dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
        };
        ctx.build(raw)
    }

    fn has_inline_secret(&self) -> bool {
        let gong = self.gong.iter().any(|g| match &g.auth {
            GongAuth::Basic {
                access_key,
                access_key_secret,
            } => {
                access_key.origin == SecretOrigin::Inline
                    || access_key_secret.origin == SecretOrigin::Inline
            }
            GongAuth::Bearer { token } => token.origin == SecretOrigin::Inline,
        });
        gong || self
            .genesys
            .iter()
            .any(|g| g.client_secret.origin == SecretOrigin::Inline)
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
        for g in &self.gong {
            let _ = writeln!(
                out,
                "\n[[gong]]\nname = {:?}\nbase_url = {:?}",
                g.name, g.base_url
            );
            match &g.auth {
                GongAuth::Basic {
                    access_key,
                    access_key_secret,
                } => {
                    let _ = writeln!(out, "access_key = \"{access_key}\"\naccess_key_secret = \"{access_key_secret}\"");
                }
                GongAuth::Bearer { token } => {
                    let _ = writeln!(out, "bearer_token = \"{token}\"");
                }
            }
            let _ = writeln!(
                out,
                "log_types = {:?}\nrequests_per_second = {}\ndaily_request_budget = {}",
                g.log_types, g.requests_per_second, g.daily_request_budget
            );
            render_settings(&mut out, &g.settings, &g.limits);
        }
        for g in &self.genesys {
            let _ = writeln!(out, "\n[[genesys]]\nname = {:?}", g.name);
            if let Some(r) = &g.region {
                let _ = writeln!(out, "region = {r:?}");
            }
            let _ = writeln!(
                out,
                "api_base_url = {:?}\nlogin_base_url = {:?}\nclient_id = {:?}\nclient_secret = \"{}\"\nservices = {:?}\nrequests_per_minute = {}\nmode = {:?}",
                g.api_base_url, g.login_base_url, g.client_id, g.client_secret, g.services, g.requests_per_minute, g.mode.as_str()
            );
            render_settings(&mut out, &g.settings, &g.limits);
        }
        out
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

mod parse;
mod secrets;
mod settings;
use parse::{Ctx, RawFile};

/// Checks a schedule the way the scheduler will parse it: six fields with
/// seconds first, day-of-month AND day-of-week.
pub fn check_cron(expr: &str) -> Result<(), String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr.trim())
        .map(drop)
        .map_err(|e| format!("`{expr}` is not a cron schedule with seconds ({e}); write six fields, sec min hour day month weekday, in UTC, e.g. \"0 */5 * * * *\""))
}

#[cfg(test)]
mod tests;
