//! The `auditmirror` command line: parses arguments, loads the config, calls the
//! library, and turns errors into exit codes (DESIGN §5). No other logic lives here.

use anyhow::Context as _;
use auditmirror::config::Config;
use auditmirror::store::{Store, StoreError};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes users script against.
const EXIT_STREAM_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_DATABASE: u8 = 3;

#[derive(Parser)]
#[command(
    name = "auditmirror",
    version,
    about = "Mirror Gong and Genesys Cloud audit logs into SQLite"
)]
struct Cli {
    /// The config file.
    #[arg(
        long,
        global = true,
        env = "AUDITMIRROR_CONFIG",
        default_value = "auditmirror.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the config and print it resolved, secrets redacted.
    CheckConfig,
    /// Per stream: watermark, lag, last run, rows, last error.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// An error with the exit code it deserves.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tokio_cron_scheduler=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::CheckConfig => {
            let config = load_config(&cli.config)?;
            print!("{}", config.render());
            let streams: usize =
                config.gong.iter().map(|g| g.log_types.len()).sum::<usize>() + config.genesys.len();
            eprintln!(
                "config OK: {} Gong and {} Genesys account(s), {streams} stream(s)",
                config.gong.len(),
                config.genesys.len()
            );
            Ok(())
        }
        Command::Status { json } => {
            let config = load_config(&cli.config)?;
            let known = match Store::open_read_only(&config.database_path).map_err(db_failure)? {
                Some(store) if store.user_version().map_err(db_failure)? > 0 => {
                    store.stream_statuses().map_err(db_failure)?
                }
                _ => Vec::new(),
            };
            let reports = auditmirror::status::build(&config, known, chrono::Utc::now());
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
    }
}

fn load_config(path: &std::path::Path) -> Result<Config, Failure> {
    let config = Config::load(path).map_err(|e| Failure {
        code: EXIT_USAGE,
        error: e.into(),
    })?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    Ok(config)
}

fn db_failure(e: StoreError) -> Failure {
    Failure {
        code: EXIT_DATABASE,
        error: e.into(),
    }
}
