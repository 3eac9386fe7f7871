//! The contract's view of each registered vendor: its data in the simulator,
//! its account in the config, its rows in the mirror, its faults, and what a
//! refused credential must say. One impl per vendor; the cases never branch
//! on which.

use super::common::process::rewrite_config;
use super::common::*;
use auditmirror::simulator::SimConfig;
use chrono::{DateTime, Utc};

pub trait Vendor {
    /// Its name, for messages.
    const NAME: &'static str;
    /// The table its rows go to.
    const TABLE: &'static str;
    /// The streams of the test account.
    const STREAMS: usize;
    /// What a refused credential's error must name: the scope or permission.
    const SCOPE: &'static str;
    /// The secret to break in the config.
    const SECRET_KEY: &'static str;
    /// Config lines that keep the test account to one stream.
    const ONE_STREAM: &'static str;
    /// The SIGKILL case's data: days, and records a day per stream, enough
    /// for a debug `sync` of a second or more.
    const KILL_DATA: (i64, u64);

    /// `days` of data ending an hour ago, `per_day` records a day per stream.
    fn data(seed: u64, days: i64, per_day: u64) -> SimConfig;
    /// The simulator and one account of this vendor; `extra` goes in its table.
    async fn env(cfg: SimConfig, extra: &str) -> Env;
    /// Every record the simulator serves in `[from, to)`, mapped as the mirror
    /// does: `id → raw_json`.
    fn truth_between(env: &Env, from: DateTime<Utc>, to: DateTime<Utc>) -> Rows;
    /// The malformed records the simulator serves over its whole span.
    fn malformed(env: &Env) -> usize;
    /// Makes the simulator enforce the vendor's default rate (scaled to
    /// seconds where the vendor counts per minute), and says how the account
    /// is configured to stay under it.
    fn at_the_vendors_limit(cfg: &mut SimConfig) -> Pace;
    /// [`Vendor::truth_between`] of the one stream [`Vendor::ONE_STREAM`] keeps.
    fn one_stream_truth(env: &Env, from: DateTime<Utc>, to: DateTime<Utc>) -> Rows;

    /// Every record the simulator serves.
    fn truth(env: &Env) -> Rows {
        let (from, to) = env.span();
        Self::truth_between(env, from, to)
    }

    /// The account's rows in the mirror: `id → raw_json`.
    fn mirror(env: &Env) -> Rows {
        pairs(
            &env.db,
            &format!(
                "SELECT id, raw_json FROM {} WHERE account = '{}'",
                Self::TABLE,
                Self::ACCOUNT
            ),
        )
    }

    /// The test account's name.
    const ACCOUNT: &'static str;

    /// `id → db_last_updated` of the account's rows.
    fn stamps(env: &Env) -> Rows {
        pairs(
            &env.db,
            &format!("SELECT id, db_last_updated FROM {}", Self::TABLE),
        )
    }

    /// Breaks the account's secret in the config; returns the wrong value.
    fn break_secret(env: &Env) -> &'static str {
        let wrong = "not-the-secret-4711";
        rewrite_config(env, Self::SECRET_KEY, &format!("\"{wrong}\""));
        wrong
    }
}

/// A vendor's rate limit, as the pacing case sets it.
pub struct Pace {
    /// The account's rate key and value.
    pub key: &'static str,
    pub value: &'static str,
    /// More lines for the account's table.
    pub extra: &'static str,
    /// The rate the account may use, per second.
    pub per_second: f64,
}

pub struct Gong;

impl Vendor for Gong {
    const NAME: &'static str = "gong";
    const TABLE: &'static str = "gong_audit_log_entry";
    const STREAMS: usize = 5;
    const SCOPE: &'static str = "api:logs:read";
    const SECRET_KEY: &'static str = "access_key_secret";
    const ONE_STREAM: &'static str = "log_types = [\"UserCallPlay\"]";
    const KILL_DATA: (i64, u64) = (4, 2000);
    const ACCOUNT: &'static str = "acme";

    fn data(seed: u64, days: i64, per_day: u64) -> SimConfig {
        sim_config(seed, days, per_day)
    }

    async fn env(cfg: SimConfig, extra: &str) -> Env {
        Env::start(cfg, extra).await
    }

    fn truth_between(env: &Env, from: DateTime<Utc>, to: DateTime<Utc>) -> Rows {
        LOG_TYPES
            .iter()
            .flat_map(|lt| truth_rows(&env.sim, lt, from, to))
            .collect()
    }

    fn one_stream_truth(env: &Env, from: DateTime<Utc>, to: DateTime<Utc>) -> Rows {
        truth_rows(&env.sim, "UserCallPlay", from, to)
    }

    /// Gong allows 3 requests a second per company.
    fn at_the_vendors_limit(cfg: &mut SimConfig) -> Pace {
        cfg.gong_requests_per_second = Some(3.0);
        Pace {
            key: "requests_per_second",
            value: "3.0",
            extra: "",
            per_second: 3.0,
        }
    }

    fn malformed(env: &Env) -> usize {
        let (from, to) = env.span();
        LOG_TYPES
            .iter()
            .map(|lt| env.sim.gong_malformed(lt, from, to).len())
            .sum()
    }
}

pub struct Genesys;

impl Vendor for Genesys {
    const NAME: &'static str = "genesys";
    const TABLE: &'static str = "genesys_audit_log_message";
    const STREAMS: usize = 1;
    const SCOPE: &'static str = "audits:audit:view";
    const SECRET_KEY: &'static str = "client_secret";
    const ONE_STREAM: &'static str = "";
    const KILL_DATA: (i64, u64) = (3, 3000);
    const ACCOUNT: &'static str = "emea";

    fn data(seed: u64, days: i64, per_day: u64) -> SimConfig {
        let mut c = sim_config(seed, days, 0);
        c.genesys_per_day = per_day;
        c.transaction_polls = 0;
        c
    }

    async fn env(cfg: SimConfig, extra: &str) -> Env {
        Env::start_genesys(cfg, extra).await
    }

    fn truth_between(env: &Env, from: DateTime<Utc>, to: DateTime<Utc>) -> Rows {
        env.genesys_truth(from, to)
    }

    fn one_stream_truth(env: &Env, from: DateTime<Utc>, to: DateTime<Utc>) -> Rows {
        Self::truth_between(env, from, to)
    }

    /// Genesys allows 300 a minute per token; scaled here to 50 per 10 s, so
    /// the case takes seconds. Token requests are paced (and counted) too.
    fn at_the_vendors_limit(cfg: &mut SimConfig) -> Pace {
        cfg.genesys_requests_per_minute = Some(50);
        cfg.genesys_rate_window = std::time::Duration::from_secs(10);
        Pace {
            key: "requests_per_minute",
            value: "300",
            extra: "window = \"2h\"",
            per_second: 5.0,
        }
    }

    fn malformed(env: &Env) -> usize {
        let (from, to) = env.span();
        env.sim.genesys_malformed(from, to).len()
    }
}
