//! `check-config --connect`: one cheap authenticated request per account, to
//! prove the credentials, base URLs and permissions work before a real sync.

use crate::config::Config;
use crate::connector::Window;
use crate::connectors::genesys::GenesysConnector;
use crate::connectors::gong::GongConnector;
use crate::http::{Counters, HttpClient, Policy};
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

/// Probes every account: Gong with a one-hour `/v2/logs` read of its first log
/// type, Genesys with a token and the audit service mapping.
pub async fn probe(config: &Config) -> Vec<Probe> {
    let mut out = Vec::new();
    let counters = Counters::default();
    for g in &config.gong {
        let result = match HttpClient::new(policy(), None, None) {
            Err(e) => Err(e.to_string()),
            Ok(http) => {
                let conn = GongConnector::new(g, Arc::new(http));
                let now = chrono::Utc::now();
                let log_type = g
                    .log_types
                    .first()
                    .map(String::as_str)
                    .unwrap_or("UserCallPlay");
                match conn
                    .open(
                        log_type,
                        Window::new(now - chrono::Duration::hours(1), now),
                        &counters,
                    )
                    .await
                {
                    Ok(r) => Ok(format!(
                        "read {log_type}: {} entries in the last hour",
                        r.total()
                    )),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        out.push(Probe {
            account: format!("gong/{}", g.name),
            result,
        });
    }
    for g in &config.genesys {
        let result = match HttpClient::new(policy(), None, None) {
            Err(e) => Err(e.to_string()),
            Ok(http) => match GenesysConnector::new(g, Arc::new(http))
                .services(&counters)
                .await
            {
                Ok(services) => Ok(format!(
                    "token and service mapping: {} services",
                    services.len()
                )),
                Err(e) => Err(e.to_string()),
            },
        };
        out.push(Probe {
            account: format!("genesys/{}", g.name),
            result,
        });
    }
    out
}
