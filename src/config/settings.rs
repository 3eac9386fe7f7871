//! Stream settings (`schedule`, `lookback`, `settle`, `start`, `window`,
//! `window_records`) and HTTP limits (`max_body_mb`, `response_timeout`,
//! `total_timeout`): an account's own value, else `[defaults]`, else the
//! built-in default, each validated, bounds included, with the key and line of
//! its error. The bounds also keep every instant the engine computes from them
//! far inside chrono's range.

use super::parse::{Ctx, Res};
use super::*;

/// A duration key: its default and the range it must fall in, as said in errors.
struct DurationKey {
    name: &'static str,
    default: Duration,
    min: Duration,
    max: Duration,
    range: &'static str,
}

const LOOKBACK: DurationKey = DurationKey {
    name: "lookback",
    default: Duration::from_secs(15 * 60),
    min: Duration::ZERO,
    max: MAX_LOOKBACK,
    range: "use 0s to 30d",
};

const SETTLE: DurationKey = DurationKey {
    name: "settle",
    default: Duration::from_secs(2 * 60),
    min: Duration::ZERO,
    max: MAX_SETTLE,
    range: "use 0s to 1d",
};

const WINDOW: DurationKey = DurationKey {
    name: "window",
    default: Duration::from_secs(86_400),
    min: MIN_WINDOW,
    max: MAX_WINDOW,
    range: "use 1m to 366d",
};

const RESPONSE_TIMEOUT: DurationKey = DurationKey {
    name: "response_timeout",
    default: Duration::from_secs(60),
    min: Duration::from_secs(1),
    max: MAX_RESPONSE_TIMEOUT,
    range: "use 1s to 10m",
};

const TOTAL_TIMEOUT: DurationKey = DurationKey {
    name: "total_timeout",
    default: Duration::from_secs(120),
    min: Duration::from_secs(1),
    max: MAX_TOTAL_TIMEOUT,
    range: "use 1s to 1h",
};

/// The value that applies: the account's own (`true`), else the inherited default.
fn pick<'a, T>(
    own: Option<&'a Spanned<T>>,
    inherited: Option<&'a Spanned<T>>,
) -> Option<(bool, &'a Spanned<T>)> {
    own.map(|v| (true, v)).or(inherited.map(|v| (false, v)))
}

/// The key to name in an error: the account's own, or the inherited default.
fn key(table: &str, own: bool, name: &str) -> String {
    if own {
        format!("{table}.{name}")
    } else {
        format!("defaults.{name}")
    }
}

impl Ctx<'_> {
    /// An account's stream settings; `max_window` is its vendor's longest
    /// `window`, if the vendor has one.
    pub(super) fn settings(
        &self,
        table: &str,
        acct: Overrides<'_>,
        defaults: Overrides<'_>,
        max_window: Option<Duration>,
    ) -> Res<StreamSettings> {
        let schedule = match pick(acct.schedule, defaults.schedule) {
            None => "0 */5 * * * *".to_owned(),
            Some((own, v)) => {
                check_cron(v.get_ref())
                    .map_err(|m| self.err(v.span(), key(table, own, "schedule"), m))?;
                v.get_ref().trim().to_owned()
            }
        };
        let window_records = match pick(acct.window_records, defaults.window_records) {
            None => 10_000,
            Some((own, v)) => {
                let k = key(table, own, "window_records");
                self.int_in(Some(v), &k, 10_000, 1, 10_000_000)? as u64
            }
        };
        let start = match pick(acct.start, defaults.start) {
            None => Start::Ago(Duration::from_secs(30 * 86_400)),
            Some((own, v)) => self.start(v, &key(table, own, "start"))?,
        };
        Ok(StreamSettings {
            schedule,
            lookback: self.duration(table, &LOOKBACK, pick(acct.lookback, defaults.lookback))?,
            settle: self.duration(table, &SETTLE, pick(acct.settle, defaults.settle))?,
            start,
            window: self.window(table, pick(acct.window, defaults.window), max_window)?,
            window_records,
        })
    }

    pub(super) fn limits(
        &self,
        table: &str,
        acct: Overrides<'_>,
        defaults: Overrides<'_>,
    ) -> Res<HttpLimits> {
        let max_body_mb = match pick(acct.max_body_mb, defaults.max_body_mb) {
            None => 32,
            Some((own, v)) => {
                let k = key(table, own, "max_body_mb");
                self.int_in(Some(v), &k, 32, 1, MAX_BODY_MB as i64)? as u64
            }
        };
        let response = pick(acct.response_timeout, defaults.response_timeout);
        let total = pick(acct.total_timeout, defaults.total_timeout);
        let response_timeout = self.duration(table, &RESPONSE_TIMEOUT, response)?;
        let total_timeout = self.duration(table, &TOTAL_TIMEOUT, total)?;
        // Name the key that was set (both defaults are consistent): the one to change.
        let set = total
            .map(|t| ("total_timeout", t))
            .or(response.map(|r| ("response_timeout", r)));
        if let Some((name, (own, v))) = set.filter(|_| total_timeout < response_timeout) {
            return Err(self.err(
                v.span(),
                key(table, own, name),
                format!(
                    "total_timeout ({}) is shorter than response_timeout ({}): raise total_timeout or lower response_timeout",
                    fmt_duration(total_timeout),
                    fmt_duration(response_timeout)
                ),
            ));
        }
        Ok(HttpLimits {
            max_body_bytes: max_body_mb * MIB,
            response_timeout,
            total_timeout,
        })
    }

    /// `window`, within the vendor's longest if it has one.
    fn window(
        &self,
        table: &str,
        v: Option<(bool, &Spanned<String>)>,
        vendor_max: Option<Duration>,
    ) -> Res<Duration> {
        let window = self.duration(table, &WINDOW, v)?;
        match (v, vendor_max) {
            (Some((own, v)), Some(max)) if window > max => Err(self.err(
                v.span(),
                key(table, own, "window"),
                format!(
                    "`{}` is out of range: use 1m to {} (the longest this vendor's API accepts)",
                    v.get_ref().trim(),
                    fmt_duration(max)
                ),
            )),
            _ => Ok(window),
        }
    }

    /// A duration key's value, its default when absent; out of its range is an error.
    fn duration(
        &self,
        table: &str,
        k: &DurationKey,
        v: Option<(bool, &Spanned<String>)>,
    ) -> Res<Duration> {
        let Some((own, v)) = v else {
            return Ok(k.default);
        };
        let name = key(table, own, k.name);
        let d = parse_duration(v.get_ref()).map_err(|m| self.err(v.span(), &name, m))?;
        if d < k.min || d > k.max {
            let text = v.get_ref().trim();
            return Err(self.err(
                v.span(),
                name,
                format!("`{text}` is out of range: {}", k.range),
            ));
        }
        Ok(d)
    }

    fn start(&self, v: &Spanned<toml::Value>, key: &str) -> Res<Start> {
        let text = match v.get_ref() {
            toml::Value::String(s) => s.trim().to_owned(),
            toml::Value::Datetime(d) => d.to_string(),
            other => {
                return Err(self.err(
                    v.span(),
                    key,
                    format!(
                        "`{other}` is neither a duration (e.g. \"30d\") nor an RFC 3339 instant"
                    ),
                ))
            }
        };
        let start = match parse_instant(&text) {
            Ok(t) => Start::At(t),
            Err(_) => match parse_duration(&text) {
                Ok(d) if !d.is_zero() => Start::Ago(d),
                _ => {
                    return Err(self.err(v.span(), key, format!("`{text}` is neither a duration back from now (e.g. \"30d\") nor an RFC 3339 instant with an offset (e.g. \"2026-01-01T00:00:00Z\")")))
                }
            },
        };
        let too_far =
            "more than 100 years back: use at most 100y (36525d), or an instant since then";
        match start {
            Start::Ago(d) if d > MAX_START_AGO => {
                Err(self.err(v.span(), key, format!("`{text}` is {too_far}")))
            }
            Start::At(t) if t > self.now => Err(self.err(
                v.span(),
                key,
                format!(
                    "{} is in the future; nothing could sync before it",
                    fmt_utc(t)
                ),
            )),
            Start::At(t) if t < crate::time::before(self.now, MAX_START_AGO) => {
                Err(self.err(v.span(), key, format!("{} is {too_far}", fmt_utc(t))))
            }
            _ => Ok(start),
        }
    }
}
