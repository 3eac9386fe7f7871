//! Log output: tracing events to stderr, as text (coloured only on a terminal)
//! or one JSON object per line.
//! The filter comes from `RUST_LOG`, else the config's `[log] level`, else
//! `info`; a config reload may change it (unless `RUST_LOG` is set).

use crate::config::LogFormat;
use std::sync::OnceLock;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

/// Used when neither `RUST_LOG` nor the config says otherwise.
const DEFAULT_FILTER: &str = "info,tokio_cron_scheduler=warn";
const QUIET: &str = "tokio_cron_scheduler=warn";

struct Logging {
    filter: reload::Handle<EnvFilter, Registry>,
    /// `RUST_LOG` was set: it wins over the config, now and after reloads.
    from_env: bool,
}

static LOGGING: OnceLock<Logging> = OnceLock::new();

fn filter(level: Option<&str>) -> (EnvFilter, bool) {
    if let Ok(f) = EnvFilter::try_from_default_env() {
        return (f, true);
    }
    // The scheduler's per-job chatter stays quiet unless the level names it.
    let f = level
        .and_then(|l| EnvFilter::builder().parse(format!("{QUIET},{l}")).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    (f, false)
}

/// Installs the global subscriber; later calls do nothing.
pub fn init(format: LogFormat, level: Option<&str>) {
    LOGGING.get_or_init(|| {
        let (f, from_env) = filter(level);
        let (filter_layer, handle) = reload::Layer::new(f);
        let text = (format == LogFormat::Text).then(|| {
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_ansi(colour())
        });
        let json = (format == LogFormat::Json).then(|| {
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_writer(std::io::stderr)
        });
        // Another subscriber already installed (tests) is no error.
        let _ = tracing_subscriber::registry()
            .with(filter_layer)
            .with(text)
            .with(json)
            .try_init();
        Logging {
            filter: handle,
            from_env,
        }
    });
}

/// Colour only for a person at a terminal: not into the journal, a pipe or a
/// file, and not when `NO_COLOR` is set (<https://no-color.org>).
fn colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Applies a reloaded config's `[log] level`, unless `RUST_LOG` is set.
pub fn set_level(level: Option<&str>) {
    if let Some(l) = LOGGING.get().filter(|l| !l.from_env) {
        let (f, _) = filter(level);
        let _ = l.filter.reload(f);
    }
}
