//! The `auditmirror` command line's dispatch: parses arguments (their grammar is
//! `cli.rs`), loads the config, calls the library, and turns errors into exit
//! codes (README, "Exit codes"). No other logic lives here.

use anyhow::Context as _;
use auditmirror::config::{Config, DatabasePathError, LogFormat, SecretMode};
use auditmirror::connector::Window;
use auditmirror::record::Source;
use auditmirror::status::StreamReport;
use auditmirror::store::{Store, StoreError};
use auditmirror::streams::BuildError;
use auditmirror::sync::Range;
use auditmirror::time::When;
use cli::{Cli, Command, SimulateArgs};
use std::path::PathBuf;
use std::process::ExitCode;

mod cli;
mod run_sync;

/// Exit codes users script against.
const EXIT_OK: u8 = 0;
const EXIT_STREAM_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_DATABASE: u8 = 3;

/// `config OK: 1 Gong and 2 Genesys account(s), 7 stream(s)`.
fn config_summary(config: &Config) -> String {
    let per_vendor: Vec<String> = Source::ALL
        .iter()
        .map(|s| format!("{} {}", config.accounts_of(*s).count(), s.vendor().title))
        .collect();
    let streams: usize = config.accounts.iter().map(|a| a.streams().len()).sum();
    let vendors = match per_vendor.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    format!("config OK: {vendors} account(s), {streams} stream(s)")
}

/// An error with the exit code it deserves.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn main() -> ExitCode {
    let cli = cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

/// Runs the command; its exit code when it did what it was asked (only
/// `status --check` has codes other than 0 then).
fn run(cli: Cli) -> Result<u8, Failure> {
    let log_format = cli.log_format;
    let config_path = cli.config_path();
    let load_config = |secrets| load_config(&config_path, log_format, secrets);
    let done = |()| EXIT_OK;
    match cli.command {
        Command::CheckConfig { connect, .. } => {
            let config = load_config(SecretMode::Read)?;
            print!("{}", config.render());
            check_database(&config)?;
            eprintln!("{}", config_summary(&config));
            if connect {
                return runtime()?.block_on(check_connect(&config)).map(done);
            }
            Ok(EXIT_OK)
        }
        Command::Status {
            json,
            check,
            max_lag,
            ..
        } => {
            let config = load_config(SecretMode::Skip)?;
            match check {
                true => status_check(&config, max_lag),
                false => status(&config, json).map(done),
            }
        }
        Command::Run(_) => {
            let config = load_config(SecretMode::Read)?;
            daemon(config_path.clone(), config).map(done)
        }
        Command::Sync(sel) => {
            let config = load_config(SecretMode::Read)?;
            runtime()?
                .block_on(run_sync::sync_streams(&config, &sel, Range::Incremental))
                .map(done)
        }
        Command::Backfill {
            from,
            to,
            selectors,
        } => {
            let window = backfill_window(from, to)?;
            let config = load_config(SecretMode::Read)?;
            let range = Range::Bounded(window);
            runtime()?
                .block_on(run_sync::sync_streams(&config, &selectors, range))
                .map(done)
        }
        Command::Demo => {
            auditmirror::logging::init(log_format.unwrap_or_default(), None);
            runtime()?.block_on(demo()).map(done)
        }
        Command::Simulate(args) => {
            auditmirror::logging::init(log_format.unwrap_or_default(), None);
            runtime()?.block_on(simulate(*args)).map(done)
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli::command(), "auditmirror", &mut script);
            write_stdout(&script, "the completion script").map(done)
        }
        Command::Man => man().map(done),
    }
}

/// `backfill`'s range: both ends read against one clock reading.
fn backfill_window(from: When, to: When) -> Result<Window, Failure> {
    let now = auditmirror::clock::now();
    let (from, to) = (from.start(now), to.end(now));
    if from >= to {
        return Err(Failure {
            code: EXIT_USAGE,
            error: anyhow::anyhow!(
                "--from ({}) must be before --to ({})",
                auditmirror::time::fmt_utc(from),
                auditmirror::time::fmt_utc(to)
            ),
        });
    }
    Ok(Window::new(from, to))
}

/// What the mirror says of every stream it holds (nothing when there is no
/// mirror yet), joined with the configured streams.
fn stream_reports(config: &Config) -> Result<Vec<StreamReport>, Failure> {
    config.check_database_dir().map_err(path_failure)?;
    let known = match Store::open_read_only(&config.database_path).map_err(db_failure)? {
        Some(store) if store.user_version().map_err(db_failure)? > 0 => {
            store.stream_statuses().map_err(db_failure)?
        }
        _ => Vec::new(),
    };
    Ok(auditmirror::status::build(
        config,
        known,
        auditmirror::clock::now(),
    ))
}

fn status(config: &Config, json: bool) -> Result<(), Failure> {
    let reports = stream_reports(config)?;
    if json {
        let text = serde_json::to_string_pretty(&reports)
            .context("cannot encode status as JSON")
            .map_err(|error| Failure {
                code: EXIT_STREAM_FAILED,
                error,
            })?;
        println!("{text}");
    } else {
        println!("mirror: {}", config.database_path.display());
        print!("{}", auditmirror::status::render_text(&reports));
    }
    Ok(())
}

/// `status --check`: one line, and 0, 1 or 2 as a Nagios plugin exits.
fn status_check(config: &Config, max_lag: Option<std::time::Duration>) -> Result<u8, Failure> {
    let reports = stream_reports(config)?;
    let verdict = auditmirror::status::check(config, &reports, max_lag, auditmirror::clock::now());
    println!("{}", verdict.line);
    Ok(verdict.health.exit_code())
}

/// `run`: the daemon, with SIGTERM and SIGINT to stop it and SIGHUP to reload.
fn daemon(path: PathBuf, config: Config) -> Result<(), Failure> {
    use auditmirror::daemon::{self, ConfigFile, DaemonError, SdNotify};
    config.check_database_dir().map_err(path_failure)?;
    let rt = runtime()?;
    let result = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        // Installed before the daemon is ready: an early SIGHUP must not kill it.
        let signals = Signals::install().map_err(|e| Failure {
            code: EXIT_STREAM_FAILED,
            error: anyhow::anyhow!("cannot listen for signals: {e}"),
        })?;
        tokio::spawn(signals.forward(tx));
        let source = ConfigFile(path);
        Ok(daemon::run(config, &source, rx, std::sync::Arc::new(SdNotify)).await)
    });
    // Writers of runs cut short are blocking threads: do not wait on them forever.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    result?.map_err(|e| match e {
        DaemonError::Store(e) | DaemonError::Build(BuildError::Store(e)) => db_failure(e),
        e @ (DaemonError::Config(_)
        | DaemonError::Build(_)
        | DaemonError::Metrics(_)
        | DaemonError::Schedule { .. }) => Failure {
            code: EXIT_USAGE,
            error: e.into(),
        },
    })
}

/// The daemon's signals: SIGTERM and SIGINT stop it, SIGHUP reloads.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Sends each signal to the daemon as a control, until it stops listening.
    async fn forward(mut self, tx: tokio::sync::mpsc::Sender<auditmirror::daemon::Control>) {
        use auditmirror::daemon::Control;
        loop {
            let control = tokio::select! {
                _ = self.term.recv() => Control::Stop { why: "SIGTERM" },
                _ = self.int.recv() => Control::Stop { why: "SIGINT" },
                _ = self.hup.recv() => Control::Reload,
            };
            if tx.send(control).await.is_err() {
                return;
            }
        }
    }
}

async fn check_connect(config: &Config) -> Result<(), Failure> {
    let probes = auditmirror::probe::probe(config).await;
    let mut failed = 0;
    for p in &probes {
        match &p.result {
            Ok(what) => eprintln!("{:24} ok      {what}", p.account),
            Err(why) => {
                failed += 1;
                eprintln!("{:24} FAILED  {why}", p.account);
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(Failure {
            code: EXIT_STREAM_FAILED,
            error: anyhow::anyhow!("{n} of {} accounts could not connect", probes.len()),
        }),
    }
}

async fn demo() -> Result<(), Failure> {
    let dir = std::env::current_dir()
        .context("cannot read the current directory")
        .map_err(|error| Failure {
            code: EXIT_USAGE,
            error,
        })?;
    let summary = auditmirror::demo::run(&dir, auditmirror::progress::bars())
        .await
        .map_err(|e| match e {
            auditmirror::demo::DemoError::Store(e) => db_failure(e),
            other => Failure {
                code: EXIT_STREAM_FAILED,
                error: other.into(),
            },
        })?;
    println!(
        "\nSynced the built-in simulators into {} in {:.1}s:\n",
        summary.db.display(),
        summary.elapsed.as_secs_f64()
    );
    for r in &summary.reports {
        println!("  {r}");
    }
    let requests: i64 = summary.reports.iter().map(|r| r.counts.requests).sum();
    let total: i64 = summary.rows.iter().map(|r| r.3).sum();
    println!("\n{total} rows from {requests} requests. Rows per stream:");
    for (source, account, stream, n) in &summary.rows {
        println!("  {:44} {n:>8}", format!("{source}/{account}/{stream}"));
    }
    for (question, sql, (columns, rows)) in &summary.examples {
        println!("\n-- {question}\n{sql};\n");
        println!("  {}", columns.join(" | "));
        for row in rows {
            println!("  {}", row.join(" | "));
        }
        if rows.is_empty() {
            println!("  (no rows)");
        }
    }
    println!(
        "\nExplore it yourself:  sqlite3 {} 'SELECT * FROM audit_event LIMIT 5'\nThe config the demo used: {}",
        summary.db.display(),
        summary.config.display()
    );
    run_sync::outcome(&summary.reports)
}

/// `man`: the man page to stdout.
fn man() -> Result<(), Failure> {
    let page = cli::man_page()
        .context("cannot render the man page")
        .map_err(|error| Failure {
            code: EXIT_STREAM_FAILED,
            error,
        })?;
    write_stdout(&page, "the man page")
}

/// Writes `bytes` to stdout. A reader that stops early (`| head`) is no error.
fn write_stdout(bytes: &[u8], what: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure {
            code: EXIT_STREAM_FAILED,
            error: anyhow::anyhow!("cannot write {what} to stdout: {e}"),
        }),
        _ => Ok(()),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(|error| Failure {
            code: EXIT_STREAM_FAILED,
            error,
        })
}

async fn simulate(a: SimulateArgs) -> Result<(), Failure> {
    use auditmirror::simulator::{faults::Faults, LateEvents, SimConfig};
    let usage = |error: anyhow::Error| Failure {
        code: EXIT_USAGE,
        error,
    };
    let stop = shutdown_signal();
    let now = auditmirror::clock::now();
    let mut cfg = SimConfig::new(a.seed);
    cfg.origin = now - chrono::Duration::days(a.days.into());
    cfg.end = a.finite.then_some(now);
    cfg.gong_per_day = a.gong_per_day;
    cfg.genesys_per_day = a.genesys_per_day;
    cfg.gong_requests_per_second = a.gong_rps;
    cfg.genesys_requests_per_minute = a.genesys_rpm;
    cfg.token_ttl = a.token_ttl;
    cfg.late = (a.late_fraction > 0.0).then_some(LateEvents {
        fraction: a.late_fraction,
        delay: a.late_delay,
    });
    cfg.malformed_every = a.malformed_every;
    cfg.duplicate_every = a.duplicate_every;
    cfg.changed_every = a.changed_every;
    cfg.fail_first_transactions = a.fail_first_transactions;
    cfg.fail_transactions_longer_than = a.fail_longer_than;
    cfg.transaction_polls = a.transaction_polls;
    cfg.bad_utf8_every = a.bad_utf8_every;
    cfg.gong_cursor_ttl = a.cursor_ttl;
    cfg.gong_log_types = a.gong_log_types.clone();
    cfg.genesys_max_interval = a.max_interval;
    let sim = auditmirror::simulator::start(cfg, a.listen)
        .await
        .with_context(|| format!("cannot serve the simulator on {}", a.listen))
        .map_err(usage)?;
    let f = sim.faults();
    for (switch, value) in [
        (&f.http_429_every, a.fault_429_every),
        (&f.http_5xx_every, a.fault_5xx_every),
        (&f.http_5xx_burst, a.fault_5xx_burst),
        (&f.slow_every, a.fault_slow_every),
        (&f.slow_ms, a.slow_ms),
        (&f.hang_every, a.fault_hang_every),
        (&f.truncate_every, a.fault_truncate_every),
        (&f.expire_cursor_every, a.fault_expire_cursor_every),
    ] {
        Faults::set(switch, value);
    }
    if let Some(path) = &a.truth {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(usage)?;
        let mut out = std::io::BufWriter::new(file);
        sim.write_truth(&mut out)
            .and_then(|()| std::io::Write::flush(&mut out))
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(usage)?;
    }
    println!("{}", sim.connection_info());
    tracing::info!(
        "serving the Gong and Genesys simulators on {}; stop with Ctrl-C",
        sim.base_url()
    );
    stop.await;
    tracing::info!("simulator stopped: {}", sim.stats());
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. It listens from the moment it is called
/// (inside the runtime), not from its first poll: a signal that comes early
/// still stops the command cleanly instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let listeners =
        signal(SignalKind::terminate()).and_then(|t| Ok((t, signal(SignalKind::interrupt())?)));
    async move {
        match listeners {
            Ok((mut term, mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// Loads the config (its secrets read or not), then starts logging as it (or
/// `--log-format`) says.
fn load_config(
    path: &std::path::Path,
    format: Option<LogFormat>,
    secrets: SecretMode,
) -> Result<Config, Failure> {
    let config = Config::load_with(path, secrets).map_err(|e| Failure {
        code: EXIT_USAGE,
        error: e.into(),
    })?;
    auditmirror::logging::init(
        format.or(config.log.format).unwrap_or_default(),
        config.log.level.as_deref(),
    );
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    Ok(config)
}

/// `check-config`'s look at `[database] path`: a directory that does not
/// exist yet is only a warning (the systemd units' `StateDirectory=` creates
/// it when they first start, after the config was checked); anything else
/// that keeps the mirror from being written is a database error.
fn check_database(config: &Config) -> Result<(), Failure> {
    match config.check_database_writable() {
        Err(e @ DatabasePathError::NoDirectory { .. }) => {
            tracing::warn!(
                "{e}; sync, backfill, run and status refuse to start until it exists \
                 (the systemd units' StateDirectory= creates it when they first start)"
            );
            Ok(())
        }
        other => other.map_err(path_failure),
    }
}

/// `[database] path` cannot hold the mirror: a database error (3).
fn path_failure(e: DatabasePathError) -> Failure {
    Failure {
        code: EXIT_DATABASE,
        error: e.into(),
    }
}

fn db_failure(e: StoreError) -> Failure {
    Failure {
        code: EXIT_DATABASE,
        error: e.into(),
    }
}
