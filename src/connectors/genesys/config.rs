//! A `[[genesys]]` account: region (or API and login base URLs), OAuth client,
//! services, rate and mode, validated with key and line; its one stream
//! `audits`, kept about a year (14 days in realtime mode), in fixed windows.

use super::GenesysConnector;
use crate::config::{Account, AccountParser, AccountTable, ConfigError, Ctx, Secret};
use crate::config::{StreamSettings, Text};
use crate::connector::{AccountConfig, Connector, StreamSpec, WindowStrategy};
use crate::http::HttpClient;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

/// The one stream of a Genesys account.
pub const STREAM: &str = "audits";

/// The longest audit query interval the API accepts.
pub const MAX_WINDOW: Duration = Duration::from_secs(31 * 86_400);

/// Genesys Cloud region domains (API at `https://api.{domain}`, login at
/// `https://login.{domain}`), with the AWS-style names the SDKs use.
pub const REGIONS: [(&str, &str); 18] = [
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

/// Which endpoint an account reads.
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

    /// How long Genesys keeps what this mode reads.
    pub fn retention(self) -> chrono::Duration {
        match self {
            GenesysMode::History => chrono::Duration::days(365),
            GenesysMode::Realtime => chrono::Duration::days(14),
        }
    }
}

/// One `[[genesys]]` account's own keys.
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
}

impl AccountConfig for GenesysAccount {
    fn connect(&self, http: Arc<HttpClient>) -> Arc<dyn Connector> {
        Arc::new(GenesysConnector::new(self, http))
    }

    fn streams(&self, settings: &StreamSettings) -> Vec<StreamSpec> {
        vec![StreamSpec {
            name: STREAM.to_owned(),
            retention: Some(self.mode.retention()),
            strategy: WindowStrategy::Fixed {
                length: crate::time::chrono_duration(settings.window),
            },
        }]
    }

    fn requests_per_second(&self) -> f64 {
        f64::from(self.requests_per_minute) / 60.0
    }

    fn secrets(&self) -> Vec<&Secret> {
        vec![&self.client_secret]
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(r) = &self.region {
            out += &format!("region = {r:?}\n");
        }
        out += &format!(
            "api_base_url = {:?}\nlogin_base_url = {:?}\nclient_id = {:?}\nclient_secret = \"{}\"\nservices = {:?}\nrequests_per_minute = {}\nmode = {:?}\n",
            self.api_base_url, self.login_base_url, self.client_id, self.client_secret, self.services, self.requests_per_minute, self.mode.as_str()
        );
        out
    }
}

crate::account_table!(RawGenesys {
    region: Text,
    api_base_url: Text,
    login_base_url: Text,
    client_id: Text,
    services: Option<Spanned<Vec<Spanned<String>>>>,
    requests_per_minute: Option<Spanned<i64>>,
    mode: Text,
});

type Res<T> = Result<T, ConfigError>;

/// Every `[[genesys]]` table of the file.
pub(super) fn parse_accounts(p: &AccountParser<'_>) -> Res<Vec<Account>> {
    p.accounts(RawGenesys::common, &["client_secret"], account)
}

/// One `[[genesys]]` table's own keys.
fn account(t: &AccountTable<'_, '_, RawGenesys>) -> Res<GenesysAccount> {
    let (ctx, r, table) = (t.ctx, t.raw, &t.common.table);
    let (region, api_base_url, login_base_url) = endpoints(ctx, table, r, t.span.clone())?;
    let client_id = match &r.client_id {
        Some(c) if !c.get_ref().trim().is_empty() => c.get_ref().trim().to_owned(),
        Some(c) => return Err(ctx.err(c.span(), t.key("client_id"), "must not be empty")),
        None => return Err(ctx.err(
            t.span.clone(),
            t.key("client_id"),
            "missing: the OAuth client id of a client-credentials client with audits:audit:view",
        )),
    };
    let key = t.key("requests_per_minute");
    let rpm = ctx.int_in(r.requests_per_minute.as_ref(), &key, 300, 1, 100_000)?;
    Ok(GenesysAccount {
        name: t.common.name.clone(),
        region,
        api_base_url,
        login_base_url,
        client_id,
        client_secret: t.secret("client_secret")?,
        services: services(ctx, table, r.services.as_ref())?,
        requests_per_minute: rpm as u32,
        mode: mode(ctx, table, r.mode.as_ref())?,
    })
}

fn services(
    ctx: &Ctx<'_>,
    t: &str,
    list: Option<&Spanned<Vec<Spanned<String>>>>,
) -> Res<Vec<String>> {
    let mut services: Vec<String> = Vec::new();
    for s in list.map(|l| l.get_ref().as_slice()).unwrap_or_default() {
        let v = s.get_ref().trim();
        if v.is_empty() || services.iter().any(|o| o == v) {
            return Err(ctx.err(
                s.span(),
                format!("{t}.services"),
                format!("`{v}` is empty or listed twice"),
            ));
        }
        services.push(v.to_owned());
    }
    Ok(services)
}

fn mode(ctx: &Ctx<'_>, t: &str, m: Option<&Spanned<String>>) -> Res<GenesysMode> {
    match m.map(|m| (m, m.get_ref().trim())) {
        None | Some((_, "history")) => Ok(GenesysMode::History),
        Some((_, "realtime")) => Ok(GenesysMode::Realtime),
        Some((m, other)) => Err(ctx.err(
            m.span(),
            format!("{t}.mode"),
            format!(
                "`{other}` is not a mode: use \"history\" (default) or \"realtime\" (last 14 days)"
            ),
        )),
    }
}

/// The region, API base URL and login base URL of an account.
fn endpoints(
    ctx: &Ctx<'_>,
    t: &str,
    r: &RawGenesys,
    span: Range<usize>,
) -> Res<(Option<String>, String, String)> {
    match (&r.region, &r.api_base_url) {
        (Some(reg), Some(_)) => Err(ctx.err(
            reg.span(),
            format!("{t}.region"),
            "give either region or api_base_url + login_base_url, not both",
        )),
        (Some(reg), None) => {
            let v = reg.get_ref().trim();
            let domain = REGIONS
                .iter()
                .find(|(aws, domain)| *domain == v || aws.replace('_', "-") == v.replace('_', "-"))
                .map(|(_, d)| *d)
                .ok_or_else(|| {
                    let known: Vec<_> = REGIONS.iter().map(|(_, d)| *d).collect();
                    ctx.err(reg.span(), format!("{t}.region"), format!("`{v}` is not a Genesys Cloud region; use one of {known:?}, or set api_base_url and login_base_url"))
                })?;
            if r.login_base_url.is_some() {
                return Err(ctx.err(
                    reg.span(),
                    format!("{t}.login_base_url"),
                    "login_base_url goes with api_base_url, not with region",
                ));
            }
            Ok((
                Some(domain.to_owned()),
                format!("https://api.{domain}"),
                format!("https://login.{domain}"),
            ))
        }
        (None, Some(api)) => {
            let api_url = ctx.base_url(api, &format!("{t}.api_base_url"))?;
            let login = match &r.login_base_url {
                Some(l) => ctx.base_url(l, &format!("{t}.login_base_url"))?,
                None if api_url.contains("//api.") => api_url.replacen("//api.", "//login.", 1),
                None => {
                    return Err(ctx.err(
                        api.span(),
                        format!("{t}.login_base_url"),
                        "missing: with this api_base_url, also set login_base_url",
                    ))
                }
            };
            Ok((None, api_url, login))
        }
        (None, None) => Err(ctx.err(
            span,
            format!("{t}.region"),
            "missing: set region (e.g. \"mypurecloud.ie\") or api_base_url + login_base_url",
        )),
    }
}
