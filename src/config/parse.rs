//! The config file as written (`toml::Spanned` raw tables, one macro for the
//! stream settings every table shares) and its validation into [`Config`]: every
//! error names the key and its line.

use super::*;

// ---------------------------------------------------------------------------
// The file as written. Stream settings and HTTP limits appear in `[defaults]`
// and in every account, so one macro declares them for all three tables.

macro_rules! table_with_settings {
    ($name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            $($field: $ty,)*
            schedule: Option<Spanned<String>>,
            lookback: Option<Spanned<String>>,
            settle: Option<Spanned<String>>,
            start: Option<Spanned<toml::Value>>,
            window: Option<Spanned<String>>,
            window_records: Option<Spanned<i64>>,
            max_body_mb: Option<Spanned<i64>>,
            response_timeout: Option<Spanned<String>>,
            total_timeout: Option<Spanned<String>>,
        }

        impl $name {
            fn overrides(&self) -> Overrides<'_> {
                Overrides {
                    schedule: self.schedule.as_ref(),
                    lookback: self.lookback.as_ref(),
                    settle: self.settle.as_ref(),
                    start: self.start.as_ref(),
                    window: self.window.as_ref(),
                    window_records: self.window_records.as_ref(),
                    max_body_mb: self.max_body_mb.as_ref(),
                    response_timeout: self.response_timeout.as_ref(),
                    total_timeout: self.total_timeout.as_ref(),
                }
            }
        }
    };
}

pub(super) type Text = Option<Spanned<String>>;
pub(super) type SecretText = Option<Spanned<SecretString>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    database: Option<RawDatabase>,
    defaults: Option<RawDefaults>,
    log: Option<RawLog>,
    #[serde(default)]
    gong: Vec<Spanned<RawGong>>,
    #[serde(default)]
    genesys: Vec<Spanned<RawGenesys>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    path: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Text,
    format: Text,
}

table_with_settings!(RawDefaults {});

table_with_settings!(RawGong {
    name: Spanned<String>,
    base_url: Text,
    access_key: SecretText,
    access_key_file: Text,
    access_key_env: Text,
    access_key_secret: SecretText,
    access_key_secret_file: Text,
    access_key_secret_env: Text,
    bearer_token: SecretText,
    bearer_token_file: Text,
    bearer_token_env: Text,
    log_types: Option<Spanned<Vec<Spanned<String>>>>,
    requests_per_second: Option<Spanned<f64>>,
    daily_request_budget: Option<Spanned<i64>>,
});

table_with_settings!(RawGenesys {
    name: Spanned<String>,
    region: Text,
    api_base_url: Text,
    login_base_url: Text,
    client_id: Text,
    client_secret: SecretText,
    client_secret_file: Text,
    client_secret_env: Text,
    services: Option<Spanned<Vec<Spanned<String>>>>,
    requests_per_minute: Option<Spanned<i64>>,
    mode: Text,
});

#[derive(Clone, Copy, Default)]
pub(super) struct Overrides<'a> {
    pub(super) schedule: Option<&'a Spanned<String>>,
    pub(super) lookback: Option<&'a Spanned<String>>,
    pub(super) settle: Option<&'a Spanned<String>>,
    pub(super) start: Option<&'a Spanned<toml::Value>>,
    pub(super) window: Option<&'a Spanned<String>>,
    pub(super) window_records: Option<&'a Spanned<i64>>,
    pub(super) max_body_mb: Option<&'a Spanned<i64>>,
    pub(super) response_timeout: Option<&'a Spanned<String>>,
    pub(super) total_timeout: Option<&'a Spanned<String>>,
}

/// The three spellings of one secret key.
pub(super) struct SecretKeys<'a> {
    pub(super) key: &'static str,
    pub(super) inline: &'a SecretText,
    pub(super) file: &'a Text,
    pub(super) env: &'a Text,
}

impl SecretKeys<'_> {
    fn given(&self) -> bool {
        self.inline.is_some() || self.file.is_some() || self.env.is_some()
    }
}

pub(super) struct Ctx<'a> {
    pub(super) path: &'a Path,
    pub(super) src: &'a str,
    pub(super) now: DateTime<Utc>,
    pub(super) dir: PathBuf,
}

pub(super) type Res<T> = Result<T, ConfigError>;

impl Ctx<'_> {
    pub(super) fn err(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        // Bytes, not `str` slicing: a span off a char boundary must not panic.
        let before = &self.src.as_bytes()[..span.start.min(self.src.len())];
        let line = memchr::memchr_iter(b'\n', before).count() + 1;
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line,
            key: key.into(),
            message: message.into(),
        }
    }

    pub(super) fn build(&self, raw: RawFile) -> Res<Config> {
        let database_path = match &raw.database {
            Some(db) if db.path.get_ref().trim().is_empty() => {
                return Err(self.err(db.path.span(), "database.path", "must not be empty"))
            }
            Some(db) => self.relative(db.path.get_ref()),
            None => self.dir.join("auditmirror.sqlite"),
        };
        let defaults = raw
            .defaults
            .as_ref()
            .map(RawDefaults::overrides)
            .unwrap_or_default();
        let mut warnings = Vec::new();
        if raw.gong.is_empty() && raw.genesys.is_empty() {
            warnings.push(format!(
                "{}: no [[gong]] or [[genesys]] account is configured: nothing will sync",
                self.path.display()
            ));
        }
        let mut gong = Vec::new();
        for g in &raw.gong {
            let acct = self.gong(g, defaults)?;
            if gong.iter().any(|o: &GongAccount| o.name == acct.name) {
                return Err(self.err(
                    g.get_ref().name.span(),
                    format!("gong[{}].name", acct.name),
                    "another [[gong]] account has this name; names must be unique",
                ));
            }
            gong.push(acct);
        }
        let mut genesys = Vec::new();
        for g in &raw.genesys {
            let acct = self.genesys(g, defaults)?;
            if genesys.iter().any(|o: &GenesysAccount| o.name == acct.name) {
                return Err(self.err(
                    g.get_ref().name.span(),
                    format!("genesys[{}].name", acct.name),
                    "another [[genesys]] account has this name; names must be unique",
                ));
            }
            genesys.push(acct);
        }
        Ok(Config {
            file: self.path.to_owned(),
            database_path,
            gong,
            genesys,
            log: raw
                .log
                .as_ref()
                .map(|l| self.log(l))
                .transpose()?
                .unwrap_or_default(),
            warnings,
        })
    }

    fn log(&self, raw: &RawLog) -> Res<LogSettings> {
        let level = match &raw.level {
            None => None,
            Some(l) => {
                const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
                // A bare word would be taken for a module name and silently match nothing.
                let bare_word = l.get_ref().split(',').map(str::trim).find(|d| {
                    !d.contains(['=', '[']) && !LEVELS.contains(&d.to_ascii_lowercase().as_str())
                });
                let parsed = match bare_word {
                    Some(w) => Err(format!("`{w}` is not a level")),
                    None => tracing_subscriber::EnvFilter::builder()
                        .parse(l.get_ref())
                        .map(drop)
                        .map_err(|e| e.to_string()),
                };
                parsed.map_err(|e| {
                    self.err(l.span(), "log.level", format!("`{}` is not a log filter ({e}); use error, warn, info, debug or trace, optionally per module as in info,auditmirror=debug", l.get_ref()))
                })?;
                Some(l.get_ref().clone())
            }
        };
        let format = match &raw.format {
            None => None,
            Some(f) => Some(LogFormat::parse(f.get_ref()).ok_or_else(|| {
                self.err(
                    f.span(),
                    "log.format",
                    format!(
                        "`{}` is not a log format; use \"text\" or \"json\"",
                        f.get_ref()
                    ),
                )
            })?),
        };
        Ok(LogSettings { level, format })
    }

    pub(super) fn relative(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.dir.join(p)
        }
    }

    pub(super) fn name(&self, table: &str, name: &Spanned<String>) -> Res<String> {
        let n = name.get_ref();
        let ok = !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(self.err(
                name.span(),
                format!("{table}.name"),
                format!("`{n}` is not a valid account name: use letters, digits, '-', '_' or '.'"),
            ));
        }
        Ok(n.clone())
    }

    fn gong(&self, g: &Spanned<RawGong>, defaults: Overrides<'_>) -> Res<GongAccount> {
        let r = g.get_ref();
        let name = self.name("gong", &r.name)?;
        let t = format!("gong[{name}]");
        let base_url = match &r.base_url {
            Some(u) => self.base_url(u, &format!("{t}.base_url"))?,
            None => "https://api.gong.io".to_owned(),
        };
        let auth = self.gong_auth(&t, g)?;
        let log_types = self.log_types(&t, r.log_types.as_ref())?;
        let requests_per_second = match &r.requests_per_second {
            None => 2.5,
            Some(v) if v.get_ref().is_finite() && *v.get_ref() > 0.0 && *v.get_ref() <= 1000.0 => {
                *v.get_ref()
            }
            Some(v) => {
                return Err(self.err(
                    v.span(),
                    format!("{t}.requests_per_second"),
                    "must be above 0 and at most 1000 (Gong allows 3 per second by default)",
                ))
            }
        };
        let daily_request_budget = self.int_in(
            r.daily_request_budget.as_ref(),
            &format!("{t}.daily_request_budget"),
            10_000,
            1,
            u32::MAX as i64,
        )? as u32;
        let settings = self.settings(&t, r.overrides(), defaults)?;
        let limits = self.limits(&t, r.overrides(), defaults)?;
        Ok(GongAccount {
            name,
            base_url,
            auth,
            log_types,
            requests_per_second,
            daily_request_budget,
            settings,
            limits,
        })
    }

    fn genesys(&self, g: &Spanned<RawGenesys>, defaults: Overrides<'_>) -> Res<GenesysAccount> {
        let r = g.get_ref();
        let name = self.name("genesys", &r.name)?;
        let t = format!("genesys[{name}]");
        let (region, api_base_url, login_base_url) = self.genesys_endpoints(&t, g)?;
        let client_id = match &r.client_id {
            Some(c) if !c.get_ref().trim().is_empty() => c.get_ref().trim().to_owned(),
            Some(c) => return Err(self.err(c.span(), format!("{t}.client_id"), "must not be empty")),
            None => return Err(self.err(g.span(), format!("{t}.client_id"), "missing: the OAuth client id of a client-credentials client with audits:audit:view")),
        };
        let client_secret = self.secret(
            &t,
            g.span(),
            &SecretKeys {
                key: "client_secret",
                inline: &r.client_secret,
                file: &r.client_secret_file,
                env: &r.client_secret_env,
            },
        )?;
        let mut services = Vec::new();
        if let Some(list) = &r.services {
            for s in list.get_ref() {
                let v = s.get_ref().trim();
                if v.is_empty() || services.iter().any(|o| o == v) {
                    return Err(self.err(
                        s.span(),
                        format!("{t}.services"),
                        format!("`{v}` is empty or listed twice"),
                    ));
                }
                services.push(v.to_owned());
            }
        }
        let requests_per_minute = self.int_in(
            r.requests_per_minute.as_ref(),
            &format!("{t}.requests_per_minute"),
            300,
            1,
            100_000,
        )? as u32;
        let mode = match r.mode.as_ref().map(|m| (m, m.get_ref().trim())) {
            None | Some((_, "history")) => GenesysMode::History,
            Some((_, "realtime")) => GenesysMode::Realtime,
            Some((m, other)) => {
                return Err(self.err(
                    m.span(),
                    format!("{t}.mode"),
                    format!("`{other}` is not a mode: use \"history\" (default) or \"realtime\" (last 14 days)"),
                ))
            }
        };
        let settings = self.settings(&t, r.overrides(), defaults)?;
        let limits = self.limits(&t, r.overrides(), defaults)?;
        Ok(GenesysAccount {
            name,
            region,
            api_base_url,
            login_base_url,
            client_id,
            client_secret,
            services,
            requests_per_minute,
            mode,
            settings,
            limits,
        })
    }

    fn gong_auth(&self, t: &str, g: &Spanned<RawGong>) -> Res<GongAuth> {
        let r = g.get_ref();
        let basic_key = SecretKeys {
            key: "access_key",
            inline: &r.access_key,
            file: &r.access_key_file,
            env: &r.access_key_env,
        };
        let basic_secret = SecretKeys {
            key: "access_key_secret",
            inline: &r.access_key_secret,
            file: &r.access_key_secret_file,
            env: &r.access_key_secret_env,
        };
        let bearer = SecretKeys {
            key: "bearer_token",
            inline: &r.bearer_token,
            file: &r.bearer_token_file,
            env: &r.bearer_token_env,
        };
        if bearer.given() {
            if basic_key.given() || basic_secret.given() {
                return Err(self.err(
                    g.span(),
                    format!("{t}.bearer_token"),
                    "give either bearer_token or access_key + access_key_secret, not both",
                ));
            }
            Ok(GongAuth::Bearer {
                token: self.secret(t, g.span(), &bearer)?,
            })
        } else {
            Ok(GongAuth::Basic {
                access_key: self.secret(t, g.span(), &basic_key)?,
                access_key_secret: self.secret(t, g.span(), &basic_secret)?,
            })
        }
    }

    fn log_types(&self, t: &str, list: Option<&Spanned<Vec<Spanned<String>>>>) -> Res<Vec<String>> {
        match list {
            None => Ok(GONG_LOG_TYPES.iter().map(|s| s.to_string()).collect()),
            Some(list) => {
                let key = format!("{t}.log_types");
                if list.get_ref().is_empty() {
                    return Err(self.err(list.span(), key, format!("is empty: leave it out for all five, or list some of {GONG_LOG_TYPES:?}")));
                }
                let mut seen = HashSet::new();
                for lt in list.get_ref() {
                    if !GONG_LOG_TYPES.contains(&lt.get_ref().as_str()) {
                        return Err(self.err(
                            lt.span(),
                            key,
                            format!(
                                "`{}` is not a Gong log type; use one of {GONG_LOG_TYPES:?}",
                                lt.get_ref()
                            ),
                        ));
                    }
                    if !seen.insert(lt.get_ref().clone()) {
                        return Err(self.err(
                            lt.span(),
                            key,
                            format!("`{}` is listed twice", lt.get_ref()),
                        ));
                    }
                }
                Ok(list.get_ref().iter().map(|s| s.get_ref().clone()).collect())
            }
        }
    }

    /// The region, API base URL and login base URL of a Genesys account.
    fn genesys_endpoints(
        &self,
        t: &str,
        g: &Spanned<RawGenesys>,
    ) -> Res<(Option<String>, String, String)> {
        let r = g.get_ref();
        let endpoints = match (&r.region, &r.api_base_url) {
            (Some(reg), Some(_)) => {
                return Err(self.err(
                    reg.span(),
                    format!("{t}.region"),
                    "give either region or api_base_url + login_base_url, not both",
                ))
            }
            (Some(reg), None) => {
                let v = reg.get_ref().trim();
                let domain = GENESYS_REGIONS
                    .iter()
                    .find(|(aws, domain)| *domain == v || aws.replace('_', "-") == v.replace('_', "-"))
                    .map(|(_, d)| *d)
                    .ok_or_else(|| {
                        let known: Vec<_> = GENESYS_REGIONS.iter().map(|(_, d)| *d).collect();
                        self.err(reg.span(), format!("{t}.region"), format!("`{v}` is not a Genesys Cloud region; use one of {known:?}, or set api_base_url and login_base_url"))
                    })?;
                if r.login_base_url.is_some() {
                    return Err(self.err(
                        reg.span(),
                        format!("{t}.login_base_url"),
                        "login_base_url goes with api_base_url, not with region",
                    ));
                }
                (
                    Some(domain.to_owned()),
                    format!("https://api.{domain}"),
                    format!("https://login.{domain}"),
                )
            }
            (None, Some(api)) => {
                let api_url = self.base_url(api, &format!("{t}.api_base_url"))?;
                let login = match &r.login_base_url {
                    Some(l) => self.base_url(l, &format!("{t}.login_base_url"))?,
                    None if api_url.contains("//api.") => api_url.replacen("//api.", "//login.", 1),
                    None => {
                        return Err(self.err(
                            api.span(),
                            format!("{t}.login_base_url"),
                            "missing: with this api_base_url, also set login_base_url",
                        ))
                    }
                };
                (None, api_url, login)
            }
            (None, None) => return Err(self.err(
                g.span(),
                format!("{t}.region"),
                "missing: set region (e.g. \"mypurecloud.ie\") or api_base_url + login_base_url",
            )),
        };
        Ok(endpoints)
    }

    pub(super) fn int_in(
        &self,
        v: Option<&Spanned<i64>>,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Res<i64> {
        match v {
            None => Ok(default),
            Some(v) if (min..=max).contains(v.get_ref()) => Ok(*v.get_ref()),
            Some(v) => Err(self.err(
                v.span(),
                key,
                format!("{} is out of range: use {min} to {max}", v.get_ref()),
            )),
        }
    }

    /// Checks a base URL: https, or http to a loopback host only.
    pub(super) fn base_url(&self, v: &Spanned<String>, key: &str) -> Res<String> {
        let s = v.get_ref().trim();
        let url = reqwest::Url::parse(s)
            .map_err(|e| self.err(v.span(), key, format!("`{s}` is not a URL: {e}")))?;
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(self.err(v.span(), key, format!("`{s}` uses http:// to a host that is not loopback; secrets would cross the network in clear text: use https://"))),
            other => return Err(self.err(v.span(), key, format!("`{s}`: scheme {other}:// is not supported; use https://"))),
        }
        if url.host().is_none() || url.query().is_some() || url.fragment().is_some() {
            return Err(self.err(
                v.span(),
                key,
                format!("`{s}` must be a plain base URL such as https://us-12345.api.gong.io"),
            ));
        }
        Ok(s.trim_end_matches('/').to_owned())
    }
}
