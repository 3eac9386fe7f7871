//! The per-stream report behind `auditmirror status`: configured streams joined
//! with what the mirror recorded about them, as text for people, JSON for
//! scripts, or one verdict line for monitoring (`check.rs`). Reads only; never
//! shows a secret (it never sees one).

use crate::config::Config;
use crate::store::StreamStatus;
use crate::time::parse_stored;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

mod check;
pub use crate::config::schedule_period;
pub use check::{check, default_max_lag, Check, Health, PERIODS_OF_LAG};

/// One line of the report: a stream, whether the config still names it, and
/// what the mirror knows of it (`None` when it never synced).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamReport {
    pub source: String,
    pub account: String,
    pub stream: String,
    pub configured: bool,
    /// Seconds from the watermark to now.
    pub lag_seconds: Option<i64>,
    pub state: Option<StreamStatus>,
}

/// Configured streams first (in config order), then streams the mirror still
/// holds that the config no longer names.
pub fn build(config: &Config, known: Vec<StreamStatus>, now: DateTime<Utc>) -> Vec<StreamReport> {
    let configured: Vec<(String, String, String)> = config
        .accounts
        .iter()
        .flat_map(|a| {
            a.streams()
                .into_iter()
                .map(move |s| (a.source.to_string(), a.name.clone(), s.name))
        })
        .collect();
    let mut known = known;
    let mut out = Vec::new();
    for (source, account, stream) in configured {
        let pos = known
            .iter()
            .position(|s| s.source == source && s.account == account && s.stream == stream);
        let state = pos.map(|i| known.remove(i));
        out.push(report(source, account, stream, true, state, now));
    }
    for s in known {
        out.push(report(
            s.source.clone(),
            s.account.clone(),
            s.stream.clone(),
            false,
            Some(s),
            now,
        ));
    }
    out
}

fn report(
    source: String,
    account: String,
    stream: String,
    configured: bool,
    state: Option<StreamStatus>,
    now: DateTime<Utc>,
) -> StreamReport {
    let lag_seconds = state
        .as_ref()
        .and_then(|s| s.watermark.as_deref())
        .and_then(parse_stored)
        .map(|w| (now - w).num_seconds());
    StreamReport {
        source,
        account,
        stream,
        configured,
        lag_seconds,
        state,
    }
}

/// The report as text for a terminal.
pub fn render_text(reports: &[StreamReport]) -> String {
    if reports.is_empty() {
        return "no streams are configured and the mirror holds none\n".to_owned();
    }
    let mut out = String::new();
    if reports
        .iter()
        .all(|r| r.state.as_ref().is_none_or(|s| s.last_run.is_none()))
    {
        out.push_str("nothing has synced yet: run `auditmirror sync` or start the daemon with `auditmirror run`\n\n");
    }
    for r in reports {
        let _ = write!(out, "{}/{}/{}", r.source, r.account, r.stream);
        if !r.configured {
            out.push_str("  (no longer in the config)");
        }
        out.push('\n');
        match &r.state {
            Some(s) => render_state(&mut out, s, r.lag_seconds),
            None => out.push_str("  never synced\n"),
        }
    }
    out
}

/// One `  label         value` line; every label in one column.
fn field(out: &mut String, label: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "  {label:<14}{value}");
}

fn render_state(out: &mut String, s: &StreamStatus, lag: Option<i64>) {
    let lag = lag.map(human_lag).unwrap_or_else(|| "-".into());
    let watermark = s.watermark.as_deref().unwrap_or("none yet");
    field(out, "watermark", format!("{watermark} (lag {lag})"));
    field(out, "rows", s.rows_total);
    if let Some(services) = s.services.as_ref().filter(|v| !v.is_empty()) {
        field(out, "services", services.join(", "));
    }
    match &s.last_run {
        Some(run) if run.outcome == "running" => field(
            out,
            "last run",
            format!("{} running since {}", run.kind, run.started_at),
        ),
        Some(run) => {
            let c = &run.counts;
            field(out, "last run", format!(
                "{} {} at {}: {} new, {} updated, {} unchanged, {} rejected; {} pages, {} requests, {} retries",
                run.kind, run.outcome, run.started_at, c.rows_inserted, c.rows_updated, c.rows_unchanged,
                c.rows_rejected, c.pages, c.requests, c.retries
            ));
        }
        None => field(out, "last run", "none"),
    }
    if let Some(ok) = &s.last_success_at {
        field(out, "last success", ok);
    }
    if let Some(why) = &s.unavailable {
        field(out, "unavailable", why);
    }
    if let Some(err) = &s.last_error {
        let since = s.failing_since.as_deref().unwrap_or("?");
        field(out, "failing since", format!("{since}: {err}"));
    }
    if let Some(owner) = &s.lease_owner {
        let until = s.lease_expires_at.as_deref().unwrap_or("?");
        field(out, "leased by", format!("{owner} until {until}"));
    }
}

fn human_lag(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
