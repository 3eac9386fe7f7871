//! The command line's grammar: every command, flag and help text (clap derive).
//! `main.rs` dispatches what is parsed here; completions and the man page are
//! generated from the same definitions.

use auditmirror::config::LogFormat;
use auditmirror::record::Source;
use auditmirror::streams::Selector;
use auditmirror::time::When;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "auditmirror",
    version,
    about = "Mirror Gong and Genesys Cloud audit logs into SQLite"
)]
pub struct Cli {
    /// The config file, for the commands that read one.
    #[arg(long, env = "AUDITMIRROR_CONFIG", default_value = "auditmirror.toml")]
    config: PathBuf,
    /// Log lines as text, or JSON objects for log shippers (default: the
    /// config's `[log] format`, else text).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Validate the config and print it resolved, secrets redacted.
    CheckConfig {
        /// Also try each account's credentials with one cheap request.
        #[arg(long)]
        connect: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The daemon: every stream syncs on its schedule until SIGTERM.
    Run(ConfigArg),
    /// Per stream: watermark, lag, last run, rows, last error. Reads only the
    /// mirror: needs no secret.
    #[command(after_help = STATUS_CHECK_HELP)]
    Status {
        /// Print JSON for scripts.
        #[arg(long, conflicts_with = "check")]
        json: bool,
        /// For monitoring: print one summary line and exit 0 (OK), 1 (WARNING:
        /// a stream lags) or 2 (CRITICAL: a stream is failing), as Nagios
        /// plugins do.
        #[arg(long)]
        check: bool,
        /// With --check: the lag past which a stream is late, e.g. 30m (default:
        /// each stream's settle plus three periods of its schedule).
        #[arg(long, requires = "check", value_parser = parse_duration)]
        max_lag: Option<std::time::Duration>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// One incremental pass over the selected streams, then exit.
    Sync(Selectors),
    /// Re-read a bounded range of the selected streams; watermarks stay where they are.
    Backfill {
        /// Start: an RFC 3339 instant (2026-11-01T09:00:00Z), a date
        /// (2026-11-01: its 00:00 UTC), or a duration back from now (7d).
        #[arg(long, value_parser = When::parse)]
        from: When,
        /// End, in the same forms: an instant or a duration is exclusive; a
        /// date is included (the range ends at 00:00 UTC the day after it).
        #[arg(long, value_parser = When::parse)]
        to: When,
        #[command(flatten)]
        selectors: Selectors,
    },
    /// Start the simulators, sync everything into ./auditmirror-demo.sqlite, show what is there.
    Demo,
    /// Serve the fake Gong and Genesys APIs on loopback until stopped.
    Simulate(Box<SimulateArgs>),
    /// Print a completion script for SHELL to stdout.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: `auditmirror man | man -l -`.
    Man,
}

const COMPLETIONS_HELP: &str = "\
Install, e.g.:
  bash: auditmirror completions bash > ~/.local/share/bash-completion/completions/auditmirror
  zsh:  auditmirror completions zsh > ~/.zfunc/_auditmirror   (with fpath+=~/.zfunc before compinit)
  fish: auditmirror completions fish > ~/.config/fish/completions/auditmirror.fish";

/// `--config` after a command that reads the config (before the command it is
/// accepted too, as the top-level option; after wins).
#[derive(clap::Args)]
pub struct ConfigArg {
    /// The config file (default: the one given before the command, else
    /// $AUDITMIRROR_CONFIG, else ./auditmirror.toml).
    #[arg(long = "config", value_name = "CONFIG")]
    config: Option<PathBuf>,
}

/// The commands that read no config: `--config` before them is refused.
const WITHOUT_CONFIG: [&str; 4] = ["demo", "simulate", "completions", "man"];

/// The whole command line, as completions and the man page describe it.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Parses the process's arguments; bad usage exits 2 with clap's message.
pub fn parse() -> Cli {
    let mut cmd = command();
    let matches = cmd.get_matches_mut();
    let given = matches.value_source("config") == Some(clap::parser::ValueSource::CommandLine);
    if let Some((name, _)) = matches.subcommand().filter(|_| given) {
        if WITHOUT_CONFIG.contains(&name) {
            cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--config does not apply to `{name}`, which reads no config file; leave it out"
                ),
            )
            .exit();
        }
    }
    <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

impl Cli {
    /// The config file the command reads: `--config` after the command, else
    /// before it, else `$AUDITMIRROR_CONFIG`, else `./auditmirror.toml`.
    pub fn config_path(&self) -> PathBuf {
        let after = match &self.command {
            Command::CheckConfig { config, .. } | Command::Status { config, .. } => config,
            Command::Run(config) => config,
            Command::Sync(sel) | Command::Backfill { selectors: sel, .. } => &sel.config,
            Command::Demo | Command::Simulate(_) | Command::Completions { .. } | Command::Man => {
                return self.config.clone()
            }
        };
        after.config.clone().unwrap_or_else(|| self.config.clone())
    }
}

const STATUS_CHECK_HELP: &str = "\
With --check, a stream is:
  failing (CRITICAL, exit 2)  its last run failed;
  lagging (WARNING, exit 1)   its watermark is further behind now than --max-lag,
                              or it never synced;
  fine    (OK, exit 0)        otherwise, or when its vendor says the tenant does
                              not have it (unavailable).
A database error exits 3 (UNKNOWN to Nagios).";

#[derive(clap::Args)]
pub struct Selectors {
    /// Only this source.
    #[arg(long, value_enum)]
    pub source: Option<Source>,
    /// Only this account (its `name` in the config).
    #[arg(long)]
    pub account: Option<String>,
    /// Only this stream (a Gong log type, or `audits`).
    #[arg(long)]
    pub stream: Option<String>,
    /// When another process (the daemon) is syncing a stream, wait this long
    /// for it (e.g. 10m) instead of skipping the stream.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub wait: std::time::Duration,
    /// Also write the run's metrics here in Prometheus text, for node_exporter's
    /// textfile collector (e.g. /var/lib/node_exporter/auditmirror.prom).
    #[arg(long, value_name = "PATH")]
    pub metrics_textfile: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
}

impl Selectors {
    pub fn selector(&self) -> Selector {
        Selector {
            source: self.source,
            account: self.account.clone(),
            stream: self.stream.clone(),
        }
    }
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Loopback address to serve both APIs on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Seed of the generated data; the same seed serves the same data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Days of history before now.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Stop the data at start-up instead of letting new events arrive as time passes.
    #[arg(long)]
    pub finite: bool,
    /// Gong entries per day and log type.
    #[arg(long, default_value_t = 500)]
    pub gong_per_day: u64,
    /// Genesys audit messages per day.
    #[arg(long, default_value_t = 1000)]
    pub genesys_per_day: u64,
    /// Answer 429 above this many Gong requests per second (Gong's default is 3).
    #[arg(long)]
    pub gong_rps: Option<f64>,
    /// Answer 429 above this many Genesys requests per minute and token (default 300).
    #[arg(long)]
    pub genesys_rpm: Option<u32>,
    /// Lifetime of Genesys access tokens, e.g. 30s.
    #[arg(long, value_parser = parse_duration, default_value = "1d")]
    pub token_ttl: std::time::Duration,
    /// Share of events (0 to 1) served only `--late-delay` after their time.
    #[arg(long, default_value_t = 0.0)]
    pub late_fraction: f64,
    /// How long after their time late events appear (see --late-fraction).
    #[arg(long, value_parser = parse_duration, default_value = "1m")]
    pub late_delay: std::time::Duration,
    /// Every Nth record is malformed (bad timestamp or wrong types).
    #[arg(long, default_value_t = 0)]
    pub malformed_every: u64,
    /// Every Nth Gong page repeats the previous page's last entry.
    #[arg(long, default_value_t = 0)]
    pub duplicate_every: u64,
    /// Every Nth Genesys message changes each time the data's revision moves.
    #[arg(long, default_value_t = 0)]
    pub changed_every: u64,
    /// The first N Genesys query transactions end Failed.
    #[arg(long, default_value_t = 0)]
    pub fail_first_transactions: u32,
    /// Genesys query transactions over longer intervals than this end Failed.
    #[arg(long, value_parser = parse_duration)]
    pub fail_longer_than: Option<std::time::Duration>,
    /// Polls a Genesys query transaction answers Queued/Running before it succeeds.
    #[arg(long, default_value_t = 1)]
    pub transaction_polls: u32,
    /// Every Nth Gong entry carries a byte that is not UTF-8.
    #[arg(long, default_value_t = 0)]
    pub bad_utf8_every: u64,
    /// Gong cursors older than this are refused as expired, e.g. 1s.
    #[arg(long, value_parser = parse_duration)]
    pub cursor_ttl: Option<std::time::Duration>,
    /// The only Gong log types the tenant has (others answer 400), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub gong_log_types: Option<Vec<String>>,
    /// Genesys refuses query intervals longer than this with a 400, e.g. 6h.
    #[arg(long, value_parser = parse_duration)]
    pub max_interval: Option<std::time::Duration>,
    /// Every Nth request answers 429 with Retry-After: 1.
    #[arg(long, default_value_t = 0)]
    pub fault_429_every: u32,
    /// Every Nth request starts a burst of --fault-5xx-burst server errors.
    #[arg(long, default_value_t = 0)]
    pub fault_5xx_every: u32,
    /// Server errors in a row once --fault-5xx-every starts a burst.
    #[arg(long, default_value_t = 1)]
    pub fault_5xx_burst: u32,
    /// Every Nth request is delayed by --slow-ms.
    #[arg(long, default_value_t = 0)]
    pub fault_slow_every: u32,
    /// Milliseconds a slowed answer (--fault-slow-every) waits before it comes.
    #[arg(long, default_value_t = 2000)]
    pub slow_ms: u32,
    /// Every Nth request is never answered.
    #[arg(long, default_value_t = 0)]
    pub fault_hang_every: u32,
    /// Every Nth successful response is cut in half.
    #[arg(long, default_value_t = 0)]
    pub fault_truncate_every: u32,
    /// Every Nth request with a cursor is told the cursor expired.
    #[arg(long, default_value_t = 0)]
    pub fault_expire_cursor_every: u32,
    /// Write every record served at start-up to FILE, one JSON object per line.
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    auditmirror::time::parse_duration(s)
}

/// The man page, roff: the command and its options, then every command with
/// its synopsis, options and notes, in one page (`man -l`).
pub fn man_page() -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let cmd = command();
    let top = clap_mangen::Man::new(cmd.clone());
    let mut body = Vec::new();
    top.render_name_section(&mut body)?;
    top.render_synopsis_section(&mut body)?;
    top.render_description_section(&mut body)?;
    top.render_options_section(&mut body)?;
    writeln!(body, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("auditmirror {}", sub.get_name());
        let man = clap_mangen::Man::new(sub.clone().bin_name(&name));
        writeln!(body, ".SS \"{name}\"")?;
        let mut part = Vec::new();
        man.render_description_section(&mut part)?;
        man.render_synopsis_section(&mut part)?;
        man.render_options_section(&mut part)?;
        // Its sections become paragraphs of this command's subsection.
        for line in String::from_utf8_lossy(&part).lines() {
            match line.strip_prefix(".SH ") {
                Some(_) => writeln!(body, ".PP")?,
                None => writeln!(body, "{line}")?,
            }
        }
        if let Some(notes) = sub.get_after_help() {
            writeln!(body, ".PP\n.nf")?;
            for line in notes.to_string().lines() {
                writeln!(body, "{}", roff_text(line))?;
            }
            writeln!(body, ".fi")?;
        }
    }
    top.render_version_section(&mut body)?;
    // `.TH` first; the apostrophe string clap_mangen defines before each part once, after it.
    let mut page = Vec::new();
    top.render_title(&mut page)?;
    let text = String::from_utf8_lossy(&page).into_owned() + &String::from_utf8_lossy(&body);
    let (preamble, rest): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|l| l.starts_with(".ie \\n(.g .ds Aq") || l.starts_with(".el .ds Aq"));
    let (title, rest) = rest.split_first().map_or(("", &[][..]), |(t, r)| (*t, r));
    let mut out = format!("{title}\n");
    for line in preamble.iter().take(2).chain(rest) {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out.into_bytes())
}

/// A line of plain text as roff reads it literally.
fn roff_text(line: &str) -> String {
    let escaped = line.replace('\\', "\\e");
    match escaped.starts_with(['.', '\'']) {
        true => format!("\\&{escaped}"),
        false => escaped,
    }
}
