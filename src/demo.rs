//! `auditmirror demo`: starts the simulators in-process on loopback, writes a
//! config for them, syncs every stream into `auditmirror-demo.sqlite`, and returns
//! what happened plus example queries with their answers, for `main.rs` to print.

use crate::config::{Config, ConfigError};
use crate::record::Source;
use crate::simulator::{self, SimConfig, SimHandle};
use crate::store::{QueryTable, Store, StoreError};
use crate::streams::{self, BuildError, Selector};
use crate::sync::{self, ProgressFn, Range, Report};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const DB_FILE: &str = "auditmirror-demo.sqlite";
pub const CONFIG_FILE: &str = "auditmirror-demo.toml";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Says the OS error itself, once: it is not chained as `source()`.
    #[error("cannot prepare the demo in {dir}: {why}; run it in a directory you may write")]
    Io { dir: PathBuf, why: std::io::Error },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// What the demo did.
pub struct Summary {
    pub db: PathBuf,
    pub config: PathBuf,
    pub reports: Vec<Report>,
    pub elapsed: Duration,
    /// `(source, account, stream, rows)`.
    pub rows: Vec<(String, String, String, i64)>,
    /// `(question, sql, answer)`.
    pub examples: Vec<(&'static str, &'static str, QueryTable)>,
}

fn config_text(sim: &SimHandle) -> String {
    let c = &sim.state.cfg.credentials;
    let base = sim.base_url();
    format!(
        "# Written by `auditmirror demo` for its built-in simulators; safe to delete.\n\
         [database]\npath = \"{DB_FILE}\"\n\n\
         [defaults]\nstart = \"30d\"\nsettle = \"0s\"\n\n\
         [[gong]]\nname = \"demo\"\nbase_url = \"{base}\"\naccess_key = \"{}\"\naccess_key_secret = \"{}\"\n\
         # The simulator has no rate limit; a real Gong company allows 3 per second.\nrequests_per_second = 1000.0\n\n\
         [[genesys]]\nname = \"demo\"\napi_base_url = \"{base}\"\nlogin_base_url = \"{base}\"\n\
         client_id = \"{}\"\nclient_secret = \"{}\"\nrequests_per_minute = 100000\nwindow = \"7d\"\n",
        c.gong_access_key, c.gong_access_key_secret, c.genesys_client_id, c.genesys_client_secret
    )
}

/// Runs the demo in `dir`, replacing an earlier demo database there.
pub async fn run(dir: &Path, progress: Option<ProgressFn>) -> Result<Summary, DemoError> {
    let io = |why| DemoError::Io {
        dir: dir.to_owned(),
        why,
    };
    let started = Instant::now();
    let mut cfg = SimConfig::new(1);
    cfg.end = Some(crate::clock::now());
    let sim = simulator::start(cfg, "127.0.0.1:0".parse().expect("a socket address"))
        .await
        .map_err(io)?;
    let (db, config_path) = (dir.join(DB_FILE), dir.join(CONFIG_FILE));
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            std::fs::remove_file(&p).map_err(io)?;
        }
    }
    write_private(&config_path, &config_text(&sim)).map_err(io)?;
    let config = Config::load(&config_path)?;
    let store = Store::open(&config.database_path)?;
    let streams = streams::build(&config, &Selector::default(), &store)?;
    drop(store);
    let opts = sync::Options {
        progress,
        ..sync::Options::new(config.database_path.clone())
    };
    let reports = sync::run_all(streams, Range::Incremental, opts).await;
    let store = Store::open(&config.database_path)?;
    let rows = store.rows_per_stream()?;
    let mut examples = Vec::new();
    for e in Source::ALL.iter().flat_map(|s| s.vendor().examples) {
        examples.push((e.question, e.sql, store.run_example(e.sql)?));
    }
    Ok(Summary {
        db,
        config: config_path,
        reports,
        elapsed: started.elapsed(),
        rows,
        examples,
    })
}

/// Writes a file only its owner can read (it holds the simulator's secrets).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    std::io::Write::write_all(&mut opts.open(path)?, text.as_bytes())
}
