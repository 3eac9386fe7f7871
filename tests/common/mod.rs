//! Shared harness for the end-to-end tests: a simulator on loopback, a config
//! pointing at it, the mirror read back, and the simulator's ground truth mapped
//! the same way, so tests compare the two exactly.
#![allow(dead_code)]

pub mod hostile;
pub mod process;

use auditmirror::config::Config;
use auditmirror::connectors::genesys::map_message;
use auditmirror::connectors::gong::{map_entry, LogType};
use auditmirror::connectors::json::compact_json;
use auditmirror::http::Policy;
use auditmirror::simulator::{self, SimConfig, SimHandle};
use auditmirror::store::Store;
use auditmirror::streams::{self, Selector};
use auditmirror::sync::{self, Options, Range, Report};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

pub const LOG_TYPES: [&str; 5] = LogType::NAMES;

/// `id → raw_json` of one stream.
pub type Rows = BTreeMap<String, String>;

/// A simulator and a temp directory holding a config for it and the mirror.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub sim: SimHandle,
    pub config: PathBuf,
    pub db: PathBuf,
}

/// A finite data set: `days` of data ending an hour ago (inside AccessLog's
/// retention), `per_day` entries per log type.
pub fn sim_config(seed: u64, days: i64, per_day: u64) -> SimConfig {
    let end = auditmirror::clock::now() - chrono::Duration::hours(1);
    let mut c = SimConfig::new(seed);
    c.origin = end - chrono::Duration::days(days);
    c.end = Some(end);
    c.gong_per_day = per_day;
    c
}

impl Env {
    /// Starts the simulator and writes a config whose `[[gong]]` account "acme"
    /// points at it; `gong_extra` is appended to that account's table.
    pub async fn start(cfg: SimConfig, gong_extra: &str) -> Env {
        Env::with_account(cfg, |sim| {
            let c = &sim.state.cfg.credentials;
            format!(
                "[[gong]]\nname = \"acme\"\nbase_url = \"{}\"\naccess_key = \"{}\"\naccess_key_secret = \"{}\"\n\
                 requests_per_second = 1000.0\n{gong_extra}\n",
                sim.base_url(),
                c.gong_access_key,
                c.gong_access_key_secret
            )
        })
        .await
    }

    /// Starts the simulator and writes a config with one `[[genesys]]` account
    /// "emea" pointing at it; `extra` is appended to that account's table.
    pub async fn start_genesys(cfg: SimConfig, extra: &str) -> Env {
        Env::with_account(cfg, |sim| {
            let c = &sim.state.cfg.credentials;
            format!(
                "[[genesys]]\nname = \"emea\"\napi_base_url = \"{base}\"\nlogin_base_url = \"{base}\"\n\
                 client_id = \"{}\"\nclient_secret = \"{}\"\nrequests_per_minute = 100000\n{extra}\n",
                c.genesys_client_id,
                c.genesys_client_secret,
                base = sim.base_url(),
            )
        })
        .await
    }

    /// The simulator, a temp dir, and a config there: the mirror next to it, a
    /// start before the data, no settle, and the account table `account` writes.
    async fn with_account(cfg: SimConfig, account: impl FnOnce(&SimHandle) -> String) -> Env {
        let start = cfg.origin - chrono::Duration::hours(1);
        let sim = simulator::start(cfg, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("auditmirror.toml");
        let text = format!(
            "[database]\npath = \"mirror.sqlite\"\n\n[defaults]\nstart = \"{}\"\nsettle = \"0s\"\n\n{}",
            start.to_rfc3339(),
            account(&sim)
        );
        std::fs::write(&config, text).unwrap();
        let db = dir.path().join("mirror.sqlite");
        Env {
            dir,
            sim,
            config,
            db,
        }
    }

    /// Genesys ground truth over `[from, to)`, mapped as the mirror does.
    pub fn genesys_truth(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Rows {
        self.sim
            .genesys_truth(from, to)
            .iter()
            .map(|raw| (map_message(raw).unwrap().id, compact_json(raw)))
            .collect()
    }

    /// Makes the simulator take `ms` over every response (0: no delay).
    pub fn slow_every_response(&self, ms: u32) {
        use auditmirror::simulator::faults::Faults;
        let f = self.sim.faults();
        Faults::set(&f.slow_ms, ms);
        Faults::set(&f.slow_every, u32::from(ms > 0));
    }

    pub fn load_config(&self) -> Config {
        Config::load(&self.config).unwrap()
    }

    /// Runs the real engine in-process over the selected streams.
    pub async fn run(&self, sel: Selector, range: Range, policy: &Policy) -> Vec<Report> {
        let config = self.load_config();
        let store = Store::open(&config.database_path).unwrap();
        let streams = streams::build_with(&config, &sel, &store, policy).unwrap();
        drop(store);
        let opts = Options::new(config.database_path.clone());
        sync::run_all(streams, range, opts).await
    }

    /// One incremental pass over every stream, with the default policy; every
    /// stream must succeed.
    pub async fn sync_ok(&self) -> Vec<Report> {
        let reports = self
            .run(Selector::default(), Range::Incremental, &Policy::default())
            .await;
        for r in &reports {
            assert_eq!(r.outcome, auditmirror::sync::Outcome::Success, "{r}");
        }
        reports
    }

    /// The real binary with this env's config.
    pub fn bin(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_auditmirror"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    /// The whole range the simulator has data for.
    pub fn span(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            self.sim.state.cfg.origin,
            self.sim
                .state
                .cfg
                .end
                .unwrap_or_else(auditmirror::clock::now),
        )
    }

    /// Ground truth of one log type over the whole span, mapped as the mirror does.
    pub fn truth(&self, log_type: &str) -> Rows {
        let (from, to) = self.span();
        truth_rows(&self.sim, log_type, from, to)
    }
}

/// Fast retries for tests that inject faults.
pub fn quick_policy() -> Policy {
    Policy {
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        request_timeout: Duration::from_secs(5),
        ..Policy::default()
    }
}

pub fn truth_rows(sim: &SimHandle, log_type: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Rows {
    sim.gong_truth(log_type, from, to)
        .iter()
        .map(|raw| {
            let row = map_entry(LogType::parse(log_type).unwrap(), raw).unwrap();
            (row.id, compact_json(raw))
        })
        .collect()
}

/// The mirror's Gong rows of one log type.
pub fn mirror_rows(db: &Path, log_type: &str) -> Rows {
    pairs(db, &format!("SELECT id, raw_json FROM gong_audit_log_entry WHERE account = 'acme' AND log_type = '{log_type}'"))
}

/// Every `(first, second)` text column pair a query returns, as a map.
pub fn pairs(db: &Path, sql: &str) -> BTreeMap<String, String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// The mirror's Genesys rows of account "emea".
pub fn mirror_genesys(db: &Path) -> Rows {
    pairs(
        db,
        "SELECT id, raw_json FROM genesys_audit_log_message WHERE account = 'emea'",
    )
}

/// `id → db_last_updated` over every Genesys row.
pub fn genesys_stamps(db: &Path) -> BTreeMap<String, String> {
    pairs(
        db,
        "SELECT id, db_last_updated FROM genesys_audit_log_message",
    )
}

/// `id → db_last_updated` over every Gong row.
pub fn stamps(db: &Path) -> BTreeMap<String, String> {
    pairs(db, "SELECT id, db_last_updated FROM gong_audit_log_entry")
}

/// A query's single integer answer.
pub fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Rows in `table` now, or 0 when the mirror or the table is not there yet (a
/// kill before the migrations ran leaves no table, or no file).
pub fn count_if_any(db: &Path, table: &str) -> i64 {
    count_or_zero(db, &format!("SELECT count(*) FROM {table}"))
}

/// A query's integer answer, or 0 while the mirror is not there or not yet
/// migrated (the file exists, 0600, before its tables do).
pub fn count_or_zero(db: &Path, sql: &str) -> i64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(db, flags)
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(0)
}

/// The stream's watermark as stored.
pub fn watermark(db: &Path, log_type: &str) -> Option<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT watermark FROM sync_state WHERE source = 'gong' AND account = 'acme' AND stream = ?1", [log_type], |r| r.get(0)).ok().flatten()
}

/// What `status` reports stays exact after a kill: rows are counted in the
/// transaction that wrote them, and no run is left looking alive.
pub fn assert_status_exact(db: &Path, total: usize, ctx: &str) {
    assert_eq!(
        count(db, "SELECT sum(rows_total) FROM sync_state") as usize,
        total,
        "{ctx}: status rows"
    );
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM sync_runs WHERE outcome = 'running'"
        ),
        0,
        "{ctx}: stale running runs"
    );
}

/// Asserts the mirror holds exactly the truth for every log type.
pub fn assert_mirror_equals_truth(env: &Env) {
    for lt in LOG_TYPES {
        let (mirror, truth) = (mirror_rows(&env.db, lt), env.truth(lt));
        assert!(!truth.is_empty(), "{lt}: no truth");
        if mirror != truth {
            let missing = truth.keys().filter(|k| !mirror.contains_key(*k)).count();
            let extra = mirror.keys().filter(|k| !truth.contains_key(*k)).count();
            panic!(
                "{lt}: mirror {} rows, truth {}; {missing} missing, {extra} extra",
                mirror.len(),
                truth.len()
            );
        }
    }
}

/// Panics with counts of missing, extra and changed rows unless equal.
pub fn assert_rows_equal(ctx: &str, mirror: &Rows, truth: &Rows) {
    if mirror != truth {
        let missing = truth.keys().filter(|k| !mirror.contains_key(*k)).count();
        let extra = mirror.keys().filter(|k| !truth.contains_key(*k)).count();
        let changed = truth
            .iter()
            .filter(|(k, v)| mirror.get(*k).is_some_and(|m| m != *v))
            .count();
        panic!(
            "{ctx}: mirror {} rows, truth {}; {missing} missing, {extra} extra, {changed} changed",
            mirror.len(),
            truth.len()
        );
    }
}
