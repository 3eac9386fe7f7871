//! The config file as written and its validation into [`Config`]: the generic
//! tables (`[database]`, `[defaults]`, `[log]`) here, each vendor's `[[name]]`
//! tables handed to the vendor (through `account.rs`). Every error names the
//! key and its line.

use super::account::RawDefaults;
use super::*;
use toml::de::{DeTable, DeValue, ValueDeserializer};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Text,
}

/// The file being read: where it is, its text, and the instant it is read at.
/// Vendors validate their keys with its helpers, so errors read alike.
pub struct Ctx<'a> {
    pub(super) path: &'a Path,
    pub(super) src: &'a str,
    pub(super) now: DateTime<Utc>,
    pub(super) dir: PathBuf,
    pub(super) secrets: SecretMode,
}

pub(super) type Res<T> = Result<T, ConfigError>;

impl<'a> Ctx<'a> {
    /// An error at `span` of the file, naming `key` and the span's line.
    pub fn err(
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

    /// A TOML value of the file as `T`; a wrong type or an unknown key is an
    /// error showing its line.
    pub(super) fn typed<T: serde::de::DeserializeOwned>(
        &self,
        value: Spanned<DeValue<'a>>,
    ) -> Res<T> {
        T::deserialize(ValueDeserializer::from(value)).map_err(|e| self.syntax(e))
    }

    fn syntax(&self, mut e: toml::de::Error) -> ConfigError {
        e.set_input(Some(self.src));
        ConfigError::Syntax {
            path: self.path.to_owned(),
            message: e.to_string(),
        }
    }

    pub(super) fn build(&self) -> Res<Config> {
        let doc = DeTable::parse(self.src).map_err(|e| self.syntax(e))?;
        let (mut database, mut defaults, mut log, mut metrics) = (None, None, None, None);
        let mut vendor_tables: Vec<(Source, Spanned<DeValue<'a>>)> = Vec::new();
        for (key, value) in doc.into_inner() {
            match key.get_ref().as_ref() {
                "database" => database = Some(self.typed::<RawDatabase>(value)?),
                "defaults" => defaults = Some(self.typed::<RawDefaults>(value)?),
                "log" => log = Some(self.typed::<RawLog>(value)?),
                "metrics" => metrics = Some(self.typed::<RawMetrics>(value)?),
                other => match Source::parse(other) {
                    Some(source) => vendor_tables.push((source, value)),
                    None => {
                        let known: Vec<&str> = ["database", "defaults", "log", "metrics"]
                            .into_iter()
                            .chain(Source::ALL.map(Source::as_str))
                            .collect();
                        return Err(self.err(
                            key.span(),
                            other,
                            format!(
                                "unknown table or key; the file may hold {}",
                                known.join(", ")
                            ),
                        ));
                    }
                },
            }
        }
        let database_path = match &database {
            Some(RawDatabase { path }) if path.get_ref().trim().is_empty() => {
                return Err(self.err(path.span(), "database.path", "must not be empty"))
            }
            Some(RawDatabase { path }) => self.relative(path.get_ref()),
            None => self.dir.join("auditmirror.sqlite"),
        };
        let defaults = defaults
            .as_ref()
            .map(RawDefaults::overrides)
            .unwrap_or_default();
        let mut accounts = Vec::new();
        for source in Source::ALL {
            let Some(i) = vendor_tables.iter().position(|(s, _)| *s == source) else {
                continue;
            };
            let (_, tables) = vendor_tables.swap_remove(i);
            let parser = AccountParser::new(self, source, tables, defaults);
            accounts.extend((source.vendor().parse_accounts)(&parser)?);
        }
        let mut warnings = Vec::new();
        if accounts.is_empty() {
            let tables: Vec<String> = Source::ALL.iter().map(|s| format!("[[{s}]]")).collect();
            warnings.push(format!(
                "{}: no {} account is configured: nothing will sync",
                self.path.display(),
                tables.join(" or ")
            ));
        }
        Ok(Config {
            file: self.path.to_owned(),
            secrets: self.secrets,
            database_path,
            accounts,
            log: log
                .as_ref()
                .map(|l| self.log(l))
                .transpose()?
                .unwrap_or_default(),
            metrics: self.metrics(metrics.as_ref())?,
            warnings,
        })
    }

    fn metrics(&self, raw: Option<&RawMetrics>) -> Res<MetricsSettings> {
        let Some(listen) = raw.and_then(|r| r.listen.as_ref()) else {
            return Ok(MetricsSettings::default());
        };
        let addr = listen
            .get_ref()
            .parse::<std::net::SocketAddr>()
            .map_err(|_| {
                self.err(
                    listen.span(),
                    "metrics.listen",
                    format!(
                        "`{}` is not an address and port; write e.g. \"127.0.0.1:9464\"",
                        listen.get_ref()
                    ),
                )
            })?;
        Ok(MetricsSettings { listen: Some(addr) })
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

    pub fn relative(&self, p: &str) -> PathBuf {
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

    pub fn int_in(
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
    pub fn base_url(&self, v: &Spanned<String>, key: &str) -> Res<String> {
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
                format!("`{s}` must be a plain base URL such as https://api.example.com"),
            ));
        }
        Ok(s.trim_end_matches('/').to_owned())
    }
}
