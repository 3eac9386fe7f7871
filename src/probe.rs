//! `check-config --connect`: one cheap authenticated request per account (what
//! its connector's `probe` asks), to prove the credentials, base URLs and
//! permissions work before a real sync.

use crate::config::Config;
use crate::http::{HttpClient, Policy};
use std::sync::Arc;
use std::time::Duration;

/// What one account's probe found: `Ok(what worked)` or `Err(why not)`.
pub struct Probe {
    pub account: String,
    pub result: Result<String, String>,
}

/// Few, quick tries: a probe reports, it does not wait out an outage.
fn policy() -> Policy {
    Policy {
        max_tries: 2,
        request_timeout: Duration::from_secs(20),
        ..Policy::default()
    }
}

/// Probes every account, in config order.
pub async fn probe(config: &Config) -> Vec<Probe> {
    let mut out = Vec::new();
    for a in &config.accounts {
        let result = match HttpClient::new(policy(), None, None) {
            Err(e) => Err(e.to_string()),
            Ok(http) => {
                let conn = a.config.connect(Arc::new(http));
                let now = crate::clock::now();
                conn.probe(now).await.map_err(|e| e.to_string())
            }
        };
        out.push(Probe {
            account: format!("{}/{}", a.source, a.name),
            result,
        });
    }
    out
}
