//! What the daemon tells its supervisor ([`Notice`]s to a [`Notifier`]:
//! sd_notify under systemd, a recorder in tests) and where its config comes
//! from at start and at each reload ([`ConfigSource`]).

use crate::config::{Config, ConfigError};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// What the daemon tells its supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Ready,
    Reloading,
    Stopping,
    /// One line on what the daemon is doing.
    Status(String),
    /// Alive: the scheduler ticks.
    Watchdog,
}

/// Hears the daemon's notices: systemd ([`SdNotify`]), or a test.
pub trait Notifier: Send + Sync {
    fn notify(&self, notices: &[Notice]);
    /// How often the supervisor wants [`Notice::Watchdog`], if it does.
    fn watchdog_interval(&self) -> Option<Duration> {
        None
    }
}

/// sd_notify, when systemd listens (`NOTIFY_SOCKET`); otherwise nothing.
pub struct SdNotify;

impl Notifier for SdNotify {
    fn notify(&self, notices: &[Notice]) {
        use sd_notify::NotifyState as S;
        let monotonic = S::monotonic_usec_now().ok();
        let mut states = Vec::new();
        for n in notices {
            match n {
                Notice::Ready => states.push(S::Ready),
                Notice::Reloading => states.extend(
                    [Some(S::Reloading), monotonic.clone()]
                        .into_iter()
                        .flatten(),
                ),
                Notice::Stopping => states.push(S::Stopping),
                Notice::Status(s) => states.push(S::Status(s)),
                Notice::Watchdog => states.push(S::Watchdog),
            }
        }
        if let Err(e) = sd_notify::notify(&states) {
            tracing::debug!("sd_notify failed: {e}");
        }
    }

    fn watchdog_interval(&self) -> Option<Duration> {
        sd_notify::watchdog_enabled()
    }
}

/// Where the daemon's config comes from, then and at each reload.
pub trait ConfigSource: Send + Sync {
    fn load(&self) -> Result<Config, ConfigError>;
    /// Where it is, for log lines.
    fn describe(&self) -> String;
}

/// The config file at a path.
pub struct ConfigFile(pub PathBuf);

impl ConfigSource for ConfigFile {
    fn load(&self) -> Result<Config, ConfigError> {
        Config::load(&self.0)
    }

    fn describe(&self) -> String {
        self.0.display().to_string()
    }
}

/// Notices kept in order, for tests.
#[derive(Default)]
pub struct RecordingNotifier {
    pub notices: Mutex<Vec<Notice>>,
    /// What [`Notifier::watchdog_interval`] answers.
    pub watchdog: Option<Duration>,
}

impl RecordingNotifier {
    /// How many of the notices so far `pick` accepts.
    pub fn count(&self, pick: impl Fn(&Notice) -> bool) -> usize {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|n| pick(n))
            .count()
    }
}

impl Notifier for RecordingNotifier {
    fn notify(&self, notices: &[Notice]) {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(notices);
    }

    fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }
}
