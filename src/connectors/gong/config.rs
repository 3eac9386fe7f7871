//! A `[[gong]]` account: base URL, Basic or bearer credentials, log types, rate
//! and daily request budget, validated with key and line; its streams (one per
//! log type, AccessLog kept 14 days by Gong) and adaptive windows.

use super::GongConnector;
use crate::config::{Account, ConfigError, Secret};
use crate::config::{AccountParser, AccountTable, Ctx, StreamSettings, Text};
use crate::connector::{AccountConfig, Connector, StreamSpec, WindowStrategy};
use crate::http::HttpClient;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use toml::Spanned;

/// Gong's `logType` values; one stream each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogType {
    AccessLog,
    UserActivityLog,
    UserCallPlay,
    ExternallySharedCallAccess,
    ExternallySharedCallPlay,
}

impl LogType {
    pub const ALL: [LogType; 5] = [
        LogType::AccessLog,
        LogType::UserActivityLog,
        LogType::UserCallPlay,
        LogType::ExternallySharedCallAccess,
        LogType::ExternallySharedCallPlay,
    ];

    /// The names, as Gong spells them.
    pub const NAMES: [&'static str; 5] = [
        LogType::AccessLog.as_str(),
        LogType::UserActivityLog.as_str(),
        LogType::UserCallPlay.as_str(),
        LogType::ExternallySharedCallAccess.as_str(),
        LogType::ExternallySharedCallPlay.as_str(),
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            LogType::AccessLog => "AccessLog",
            LogType::UserActivityLog => "UserActivityLog",
            LogType::UserCallPlay => "UserCallPlay",
            LogType::ExternallySharedCallAccess => "ExternallySharedCallAccess",
            LogType::ExternallySharedCallPlay => "ExternallySharedCallPlay",
        }
    }

    /// How the mirror stores it (`gong_log.log_type_code`).
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn parse(s: &str) -> Option<LogType> {
        LogType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// How long Gong keeps this log type, where limited.
    pub fn retention(self) -> Option<chrono::Duration> {
        (self == LogType::AccessLog).then(|| chrono::Duration::days(14))
    }
}

impl std::fmt::Display for LogType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the account authenticates.
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

/// One `[[gong]]` account's own keys.
#[derive(Debug, Clone)]
pub struct GongAccount {
    pub name: String,
    /// Without a trailing slash.
    pub base_url: String,
    pub auth: GongAuth,
    pub log_types: Vec<LogType>,
    pub requests_per_second: f64,
    pub daily_request_budget: u32,
}

impl AccountConfig for GongAccount {
    fn streams(&self, settings: &StreamSettings) -> Vec<StreamSpec> {
        let strategy = WindowStrategy::Adaptive {
            records: settings.window_records,
        };
        self.log_types
            .iter()
            .map(|lt| StreamSpec {
                name: lt.as_str().to_owned(),
                retention: lt.retention(),
                strategy,
            })
            .collect()
    }

    fn requests_per_second(&self) -> f64 {
        self.requests_per_second
    }

    fn daily_request_budget(&self) -> Option<u64> {
        Some(u64::from(self.daily_request_budget))
    }

    fn secrets(&self) -> Vec<&Secret> {
        match &self.auth {
            GongAuth::Basic {
                access_key,
                access_key_secret,
            } => vec![access_key, access_key_secret],
            GongAuth::Bearer { token } => vec![token],
        }
    }

    fn render(&self) -> String {
        let mut out = format!("base_url = {:?}\n", self.base_url);
        let _ = match &self.auth {
            GongAuth::Basic {
                access_key,
                access_key_secret,
            } => writeln!(
                out,
                "access_key = \"{access_key}\"\naccess_key_secret = \"{access_key_secret}\""
            ),
            GongAuth::Bearer { token } => writeln!(out, "bearer_token = \"{token}\""),
        };
        let names: Vec<&str> = self.log_types.iter().map(|l| l.as_str()).collect();
        let _ = writeln!(
            out,
            "log_types = {names:?}\nrequests_per_second = {}\ndaily_request_budget = {}",
            self.requests_per_second, self.daily_request_budget
        );
        out
    }

    fn connect(&self, http: Arc<HttpClient>) -> Arc<dyn Connector> {
        Arc::new(GongConnector::new(self, http))
    }
}

/// The secrets of a `[[gong]]` table (each also as `KEY_file` or `KEY_env`).
const SECRETS: &[&str] = &["access_key", "access_key_secret", "bearer_token"];

crate::account_table!(RawGong {
    base_url: Text,
    log_types: Option<Spanned<Vec<Spanned<String>>>>,
    requests_per_second: Option<Spanned<f64>>,
    daily_request_budget: Option<Spanned<i64>>,
});

type Res<T> = Result<T, ConfigError>;

/// Every `[[gong]]` table of the file.
pub(super) fn parse_accounts(p: &AccountParser<'_>) -> Res<Vec<Account>> {
    p.accounts(RawGong::common, SECRETS, account)
}

/// One `[[gong]]` table's own keys.
fn account(t: &AccountTable<'_, '_, RawGong>) -> Res<GongAccount> {
    let (ctx, r) = (t.ctx, t.raw);
    let base_url = match &r.base_url {
        Some(u) => ctx.base_url(u, &t.key("base_url"))?,
        None => "https://api.gong.io".to_owned(),
    };
    let requests_per_second = match &r.requests_per_second {
        None => 2.5,
        Some(v) if v.get_ref().is_finite() && *v.get_ref() > 0.0 && *v.get_ref() <= 100_000.0 => {
            *v.get_ref()
        }
        Some(v) => {
            return Err(ctx.err(
                v.span(),
                t.key("requests_per_second"),
                "must be above 0 and at most 100000 (Gong allows 3 per second by default)",
            ))
        }
    };
    let key = t.key("daily_request_budget");
    let budget = ctx.int_in(
        r.daily_request_budget.as_ref(),
        &key,
        10_000,
        1,
        u32::MAX.into(),
    )?;
    Ok(GongAccount {
        name: t.common.name.clone(),
        base_url,
        auth: auth(t)?,
        log_types: log_types(ctx, &t.common.table, r.log_types.as_ref())?,
        requests_per_second,
        daily_request_budget: budget as u32,
    })
}

fn auth(t: &AccountTable<'_, '_, RawGong>) -> Res<GongAuth> {
    let given = |name| t.secrets.given(name);
    if !given("bearer_token") {
        return Ok(GongAuth::Basic {
            access_key: t.secret("access_key")?,
            access_key_secret: t.secret("access_key_secret")?,
        });
    }
    if given("access_key") || given("access_key_secret") {
        return Err(t.ctx.err(
            t.span.clone(),
            t.key("bearer_token"),
            "give either bearer_token or access_key + access_key_secret, not both",
        ));
    }
    Ok(GongAuth::Bearer {
        token: t.secret("bearer_token")?,
    })
}

fn log_types(
    ctx: &Ctx<'_>,
    t: &str,
    list: Option<&Spanned<Vec<Spanned<String>>>>,
) -> Res<Vec<LogType>> {
    let Some(list) = list else {
        return Ok(LogType::ALL.to_vec());
    };
    let all: Vec<&str> = LogType::ALL.iter().map(|l| l.as_str()).collect();
    let key = format!("{t}.log_types");
    if list.get_ref().is_empty() {
        return Err(ctx.err(
            list.span(),
            key,
            format!("is empty: leave it out for all five, or list some of {all:?}"),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for lt in list.get_ref() {
        let name = lt.get_ref();
        let Some(parsed) = LogType::parse(name) else {
            return Err(ctx.err(
                lt.span(),
                key,
                format!("`{name}` is not a Gong log type; use one of {all:?}"),
            ));
        };
        if !seen.insert(parsed) {
            return Err(ctx.err(lt.span(), key, format!("`{name}` is listed twice")));
        }
        out.push(parsed);
    }
    Ok(out)
}
