//! Stream settings (`schedule`, `lookback`, `settle`, `start`, `window`,
//! `window_records`): an account's own value, else `[defaults]`, else the
//! built-in default, each validated with the key and line of its error.

use super::parse::{Ctx, Overrides, Res};
use super::*;

impl Ctx<'_> {
    pub(super) fn settings(
        &self,
        table: &str,
        acct: Overrides<'_>,
        defaults: Overrides<'_>,
    ) -> Res<StreamSettings> {
        // The key to name in an error: the account's own, or the inherited default.
        let key = |own: bool, name: &str| {
            if own {
                format!("{table}.{name}")
            } else {
                format!("defaults.{name}")
            }
        };
        let schedule = match acct
            .schedule
            .map(|v| (true, v))
            .or(defaults.schedule.map(|v| (false, v)))
        {
            None => "0 */5 * * * *".to_owned(),
            Some((own, v)) => {
                check_cron(v.get_ref()).map_err(|m| self.err(v.span(), key(own, "schedule"), m))?;
                v.get_ref().trim().to_owned()
            }
        };
        let dur = |name: &str,
                   a: Option<&Spanned<String>>,
                   d: Option<&Spanned<String>>,
                   default: Duration|
         -> Res<Duration> {
            match a.map(|v| (true, v)).or(d.map(|v| (false, v))) {
                None => Ok(default),
                Some((own, v)) => {
                    parse_duration(v.get_ref()).map_err(|m| self.err(v.span(), key(own, name), m))
                }
            }
        };
        let lookback = dur(
            "lookback",
            acct.lookback,
            defaults.lookback,
            Duration::from_secs(15 * 60),
        )?;
        let settle = dur(
            "settle",
            acct.settle,
            defaults.settle,
            Duration::from_secs(2 * 60),
        )?;
        let window = dur(
            "window",
            acct.window,
            defaults.window,
            Duration::from_secs(86_400),
        )?;
        if window.is_zero() || window > MAX_GENESYS_WINDOW {
            let (own, v) = acct
                .window
                .map(|v| (true, v))
                .or(defaults.window.map(|v| (false, v)))
                .expect("the default window is valid");
            return Err(self.err(
                v.span(),
                key(own, "window"),
                "must be above 0 and at most 31d (the longest Genesys audit query)",
            ));
        }
        let window_records = match acct
            .window_records
            .map(|v| (true, v))
            .or(defaults.window_records.map(|v| (false, v)))
        {
            None => 10_000,
            Some((own, v)) => {
                self.int_in(Some(v), &key(own, "window_records"), 10_000, 1, 10_000_000)? as u64
            }
        };
        let start = match acct
            .start
            .map(|v| (true, v))
            .or(defaults.start.map(|v| (false, v)))
        {
            None => Start::Ago(Duration::from_secs(30 * 86_400)),
            Some((own, v)) => self.start(v, &key(own, "start"))?,
        };
        Ok(StreamSettings {
            schedule,
            lookback,
            settle,
            start,
            window,
            window_records,
        })
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
        if let Start::At(t) = start {
            if t > self.now {
                return Err(self.err(
                    v.span(),
                    key,
                    format!(
                        "{} is in the future; nothing could sync before it",
                        fmt_utc(t)
                    ),
                ));
            }
        }
        Ok(start)
    }
}
