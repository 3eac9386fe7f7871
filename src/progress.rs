//! Progress bars per stream on a terminal (indicatif): how far into its range
//! a stream has read, its rows, their rate and an ETA; nothing when stderr is
//! not a terminal, where the per-stream report lines and logs say it all.

use crate::record::StreamKey;
use crate::sync::{Progress, ProgressFn};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Steps of a bar: tenths of a percent of the range's time.
const STEPS: u64 = 1000;

/// Bars for the streams of one command, or `None` when stderr is not a terminal.
pub fn bars() -> Option<ProgressFn> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let multi = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{prefix:42} {bar:30} {percent:>3}% {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    // Every stream of a command starts with it: rates and ETAs count from here,
    // not from a stream's first page.
    let started = Instant::now();
    let bars: Mutex<HashMap<StreamKey, ProgressBar>> = Mutex::new(HashMap::new());
    Some(Arc::new(move |p: &Progress| {
        let Ok(mut bars) = bars.lock() else { return };
        let bar = bars.entry(p.key.clone()).or_insert_with(|| {
            let b = multi.add(ProgressBar::new(STEPS).with_elapsed(started.elapsed()));
            b.set_style(style.clone());
            b.set_prefix(p.key.to_string());
            // The clock moves even while a long window is read.
            b.enable_steady_tick(Duration::from_millis(500));
            b
        });
        let done = fraction(p);
        bar.set_position((done * STEPS as f64) as u64);
        bar.set_message(describe(p.rows, started.elapsed(), done));
        if p.reached >= p.range.to {
            bar.finish();
        }
    }))
}

/// How much of its range's time the stream has read, from 0 to 1.
fn fraction(p: &Progress) -> f64 {
    let total = (p.range.to - p.range.from).num_milliseconds().max(1);
    let done = (p.position - p.range.from)
        .num_milliseconds()
        .clamp(0, total);
    done as f64 / total as f64
}

/// `12,345 rows, 850/s, ETA 1m20s`: the rate over `elapsed`, and the time
/// left at the pace the range's time has been read so far (unknown before any
/// of it is).
fn describe(rows: u64, elapsed: Duration, done: f64) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
    let eta = match done {
        d if d >= 1.0 => "done".to_owned(),
        d if d > 0.0 => {
            let left = Duration::from_secs_f64(secs * (1.0 - d) / d);
            format!("ETA {}", short_duration(left))
        }
        _ => "ETA -".to_owned(),
    };
    format!("{} rows, {rate:.0}/s, {eta}", thousands(rows))
}

/// `1h02m`, `3m20s`, `45s`.
fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::Window;
    use crate::record::Source;
    use crate::time::parse_instant;

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        parse_instant(s).unwrap()
    }

    #[test]
    fn the_message_has_rows_rate_and_an_eta_once_time_is_read() {
        let ten = Duration::from_secs(10);
        assert_eq!(describe(0, Duration::ZERO, 0.0), "0 rows, 0/s, ETA -");
        assert_eq!(describe(12_345, ten, 0.0), "12,345 rows, 1234/s, ETA -");
        assert_eq!(describe(5_000, ten, 0.25), "5,000 rows, 500/s, ETA 30s");
        assert_eq!(
            describe(5_000, ten * 60, 0.5),
            "5,000 rows, 8/s, ETA 10m00s"
        );
        assert_eq!(
            describe(1_000_000, ten * 360, 0.5),
            "1,000,000 rows, 278/s, ETA 1h00m"
        );
        assert_eq!(describe(7, ten, 1.0), "7 rows, 1/s, done");
    }

    #[test]
    fn the_fraction_is_the_position_in_the_range() {
        let p = |reached: &str| Progress {
            key: StreamKey::new(Source::Gong, "acme", "AccessLog"),
            range: Window::new(at("2026-11-01T00:00:00Z"), at("2026-11-05T00:00:00Z")),
            reached: at("2026-11-01T00:00:00Z"),
            position: at(reached),
            rows: 0,
        };
        assert_eq!(fraction(&p("2026-11-01T00:00:00Z")), 0.0);
        assert_eq!(fraction(&p("2026-11-02T00:00:00Z")), 0.25);
        assert_eq!(fraction(&p("2026-11-09T00:00:00Z")), 1.0);
        assert_eq!(fraction(&p("2026-10-01T00:00:00Z")), 0.0);
    }
}
