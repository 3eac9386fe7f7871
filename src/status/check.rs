//! `status --check`: one summary line and a Nagios plugin state (OK, WARNING,
//! CRITICAL) over the configured streams, from the status report, the config's
//! schedules and a clock passed in. Pure: no I/O.

use super::{human_lag, StreamReport};
use crate::config::{schedule_period, Config, StreamSettings};
use crate::record::Source;
use crate::time::{fmt_duration, parse_stored};
use chrono::{DateTime, SecondsFormat, Utc};
use std::time::Duration;

/// How many schedule periods (after `settle`) a stream may fall behind before
/// it counts as lagging.
pub const PERIODS_OF_LAG: u32 = 3;

/// The period assumed for a schedule that does not fire twice.
const FALLBACK_PERIOD: Duration = Duration::from_secs(86_400);

/// The longest text quoted from one stream's error.
const MAX_ERROR_CHARS: usize = 400;

/// The states of a Nagios plugin, in increasing gravity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Ok,
    /// A stream lags past its limit (or never synced).
    Warning,
    /// A stream is failing.
    Critical,
}

impl Health {
    /// The exit code monitoring reads: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Health::Ok => 0,
            Health::Warning => 1,
            Health::Critical => 2,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Health::Ok => "OK",
            Health::Warning => "WARNING",
            Health::Critical => "CRITICAL",
        }
    }
}

/// The verdict of a check: its state and the one line that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub health: Health,
    pub line: String,
}

/// The lag a stream of these settings may have at `now` before it counts as
/// lagging: its `settle` (it never reads closer to now than that) plus three
/// periods of its schedule.
pub fn default_max_lag(settings: &StreamSettings, now: DateTime<Utc>) -> Duration {
    let period = schedule_period(&settings.schedule, now).unwrap_or(FALLBACK_PERIOD);
    settings.settle + period * PERIODS_OF_LAG
}

/// What one configured stream is.
enum Verdict<'a> {
    /// In sync: its lag in seconds.
    Fine(i64),
    /// The vendor says the tenant does not have it: not a failure.
    Unavailable,
    /// Behind its limit; `None`: never synced.
    Lagging(Option<i64>, Duration),
    Failing {
        since: String,
        error: &'a str,
    },
}

/// Checks every configured stream of `reports` (streams the config no longer
/// names are left out). `max_lag` overrides every stream's default limit.
pub fn check(
    config: &Config,
    reports: &[StreamReport],
    max_lag: Option<Duration>,
    now: DateTime<Utc>,
) -> Check {
    let judged: Vec<(String, Verdict<'_>)> = reports
        .iter()
        .filter(|r| r.configured)
        .map(|r| {
            let limit = max_lag.unwrap_or_else(|| limit_of(config, r, now));
            (
                format!("{}/{}/{}", r.source, r.account, r.stream),
                judge(r, limit),
            )
        })
        .collect();
    let total = judged.len();
    if total == 0 {
        let tables: Vec<String> = Source::ALL.iter().map(|s| format!("[[{s}]]")).collect();
        return Check {
            health: Health::Warning,
            line: format!(
                "{}: no streams are configured: add a {} account",
                Health::Warning.label(),
                tables.join(" or ")
            ),
        };
    }
    let failing: Vec<String> = judged
        .iter()
        .filter_map(|(name, v)| match v {
            Verdict::Failing { since, error } => {
                Some(format!("{name} since {since}: {}", short(error)))
            }
            _ => None,
        })
        .collect();
    let lagging = lagging_text(&judged);
    if !failing.is_empty() {
        let mut line = format!(
            "{}: {} of {total} {} failing: {}",
            Health::Critical.label(),
            failing.len(),
            streams(total),
            failing.join("; ")
        );
        if let Some((n, text)) = lagging {
            line.push_str(&format!("; also {n} {} {text}", streams(n)));
        }
        return Check {
            health: Health::Critical,
            line,
        };
    }
    if let Some((n, text)) = lagging {
        return Check {
            health: Health::Warning,
            line: format!("{}: {n} of {total} streams {text}", Health::Warning.label()),
        };
    }
    Check {
        health: Health::Ok,
        line: ok_line(&judged),
    }
}

/// The default limit of the report's stream, from its account's settings.
fn limit_of(config: &Config, r: &StreamReport, now: DateTime<Utc>) -> Duration {
    config
        .accounts
        .iter()
        .find(|a| a.source.as_str() == r.source && a.name == r.account)
        .map_or(FALLBACK_PERIOD * PERIODS_OF_LAG, |a| {
            default_max_lag(&a.settings, now)
        })
}

fn judge(r: &StreamReport, limit: Duration) -> Verdict<'_> {
    let Some(state) = &r.state else {
        return Verdict::Lagging(None, limit);
    };
    if state.unavailable.is_some() {
        return Verdict::Unavailable;
    }
    if let Some(error) = &state.last_error {
        let since = state
            .failing_since
            .as_deref()
            .and_then(parse_stored)
            .map_or_else(
                || "?".to_owned(),
                |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        return Verdict::Failing { since, error };
    }
    match r.lag_seconds {
        Some(lag) if lag <= i64::try_from(limit.as_secs()).unwrap_or(i64::MAX) => {
            Verdict::Fine(lag)
        }
        lag => Verdict::Lagging(lag, limit),
    }
}

/// How many streams lag, and `lags past 17m: gong/acme/AccessLog 2h` (the
/// verb agreeing with that count); `None` when no stream lags.
fn lagging_text(judged: &[(String, Verdict<'_>)]) -> Option<(usize, String)> {
    let lagging: Vec<(&str, Option<i64>, Duration)> = judged
        .iter()
        .filter_map(|(name, v)| match v {
            Verdict::Lagging(lag, limit) => Some((name.as_str(), *lag, *limit)),
            _ => None,
        })
        .collect();
    let (_, _, first_limit) = *lagging.first()?;
    let one_limit = lagging.iter().all(|l| l.2 == first_limit);
    let each: Vec<String> = lagging
        .iter()
        .map(|(name, lag, limit)| {
            let lag = lag.map_or_else(|| "never synced".to_owned(), human_lag);
            match one_limit {
                true => format!("{name} {lag}"),
                false => format!("{name} {lag} (limit {})", fmt_duration(*limit)),
            }
        })
        .collect();
    let n = lagging.len();
    let verb = if n == 1 { "lags" } else { "lag" };
    let past = match one_limit {
        true => format!("past {}", fmt_duration(first_limit)),
        false => "past their limits".to_owned(),
    };
    Some((n, format!("{verb} {past}: {}", each.join(", "))))
}

/// `OK: 7 streams in sync, largest lag 3m (gong/acme/AccessLog)`.
fn ok_line(judged: &[(String, Verdict<'_>)]) -> String {
    let total = judged.len();
    let unavailable: Vec<&str> = judged
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Unavailable))
        .map(|(name, _)| name.as_str())
        .collect();
    let largest = judged
        .iter()
        .filter_map(|(name, v)| match v {
            Verdict::Fine(lag) => Some((*lag, name)),
            _ => None,
        })
        // The first of equals, in config order.
        .fold(
            None,
            |best: Option<(i64, &String)>, (lag, name)| match best {
                Some((b, _)) if b >= lag => best,
                _ => Some((lag, name)),
            },
        );
    let in_sync = total - unavailable.len();
    let mut line = match unavailable.len() {
        0 => format!("{}: {total} {} in sync", Health::Ok.label(), streams(total)),
        n => format!(
            "{}: {in_sync} of {total} streams in sync, {n} unavailable to the tenant ({})",
            Health::Ok.label(),
            unavailable.join(", ")
        ),
    };
    if let Some((lag, name)) = largest {
        line.push_str(&format!(", largest lag {} ({name})", human_lag(lag)));
    }
    line
}

fn streams(n: usize) -> &'static str {
    if n == 1 {
        "stream"
    } else {
        "streams"
    }
}

/// An error on one line, cut to `MAX_ERROR_CHARS`.
fn short(error: &str) -> String {
    let one_line = error.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests;
