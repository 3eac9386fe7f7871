//! Progress bars per stream on a terminal (indicatif); nothing otherwise, where
//! the per-stream report lines and logs say it all.

use crate::record::StreamKey;
use crate::sync::{Progress, ProgressFn};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

/// Bars for the streams of one command, or `None` when stderr is not a terminal.
pub fn bars() -> Option<ProgressFn> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let multi = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:42} {bar:30} {percent:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bars: Mutex<HashMap<StreamKey, ProgressBar>> = Mutex::new(HashMap::new());
    Some(Arc::new(move |p: &Progress| {
        let Ok(mut bars) = bars.lock() else { return };
        let bar = bars.entry(p.key.clone()).or_insert_with(|| {
            let b = multi.add(ProgressBar::new(1000));
            b.set_style(style.clone());
            b.set_prefix(p.key.to_string());
            b
        });
        let total = (p.range.to - p.range.from).num_milliseconds().max(1);
        let done = (p.reached - p.range.from)
            .num_milliseconds()
            .clamp(0, total);
        bar.set_position((done * 1000 / total) as u64);
        bar.set_message(format!("{} rows", p.rows));
        if p.reached >= p.range.to {
            bar.finish();
        }
    }))
}
