//! Turns the config and a command's selectors into runnable streams: one HTTP
//! client, pacer and daily budget per account, shared by that account's streams
//! (and, in the daemon, across config reloads: see [`Accounts`]).

use crate::config::{Account, Config, HttpLimits};
use crate::connector::Connector;
use crate::http::{HttpClient, HttpError, Pacer, Policy};
use crate::record::{Source, StreamKey};
use crate::store::{Store, StoreError};
use crate::sync::{DailyBudget, Stream};
use std::collections::HashMap;
use std::sync::Arc;

/// Each account's HTTP client (with its pacer) and daily budget. The daemon keeps
/// one across config reloads, so a run still going on the old config and the
/// first run on the new one share one rate and one budget instead of each
/// spending the account's whole allowance. An account whose rate or budget
/// changed gets new ones; an account no longer configured is forgotten.
#[derive(Default, Clone)]
pub struct Accounts {
    by_account: HashMap<(Source, String), Shared>,
}

#[derive(Clone)]
struct Shared {
    /// The settings the client and budget were made with: rate bits, budget,
    /// and the account's HTTP limits.
    limits: Limits,
    http: Arc<HttpClient>,
    budget: Option<Arc<DailyBudget>>,
}

impl Accounts {
    /// The account's client and budget: the kept ones when its limits are
    /// unchanged, else new ones from `make`.
    fn get(
        &self,
        next: &mut HashMap<(Source, String), Shared>,
        account: &Account,
        make: impl FnOnce() -> Result<(HttpClient, Option<Arc<DailyBudget>>), BuildError>,
    ) -> Result<(Arc<HttpClient>, Option<Arc<DailyBudget>>), BuildError> {
        let key = (account.source, account.name.clone());
        let c = &account.config;
        let limits = (
            (c.requests_per_second().to_bits(), c.daily_request_budget()),
            account.limits,
        );
        let shared = match self.by_account.get(&key).filter(|s| s.limits == limits) {
            Some(kept) => kept.clone(),
            None => {
                let (http, budget) = make()?;
                Shared {
                    limits,
                    http: Arc::new(http),
                    budget,
                }
            }
        };
        let out = (shared.http.clone(), shared.budget.clone());
        next.insert(key, shared);
        Ok(out)
    }
}

type Limits = ((u64, Option<u64>), HttpLimits);

/// `policy` with the account's limits on bodies and response times. A field the
/// caller set away from the default (the connection probe, tests) keeps its value.
fn with_limits(policy: &Policy, limits: &HttpLimits) -> Policy {
    let d = Policy::default();
    fn pick<T: PartialEq>(ours: T, default: T, configured: T) -> T {
        if ours != default {
            ours
        } else {
            configured
        }
    }
    Policy {
        request_timeout: pick(
            policy.request_timeout,
            d.request_timeout,
            limits.response_timeout,
        ),
        total_timeout: pick(policy.total_timeout, d.total_timeout, limits.total_timeout),
        max_body_bytes: pick(
            policy.max_body_bytes,
            d.max_body_bytes,
            limits.max_body_bytes,
        ),
        ..policy.clone()
    }
}

/// Which streams a command acts on; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub source: Option<Source>,
    pub account: Option<String>,
    pub stream: Option<String>,
}

impl Selector {
    fn matches(&self, key: &StreamKey) -> bool {
        self.source.is_none_or(|s| s == key.source)
            && self.account.as_ref().is_none_or(|a| *a == key.account)
            && self.stream.as_ref().is_none_or(|s| *s == key.stream)
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let any = "*".to_owned();
        write!(
            f,
            "{}/{}/{}",
            self.source.map_or("*", |s| s.as_str()),
            self.account.as_ref().unwrap_or(&any),
            self.stream.as_ref().unwrap_or(&any)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no configured stream matches {0}; `auditmirror check-config` lists them")]
    NoMatch(String),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every configured stream that `sel` matches, in config order.
pub fn build(
    config: &Config,
    sel: &Selector,
    store: &Store,
) -> Result<Vec<Arc<Stream>>, BuildError> {
    build_with(config, sel, store, &Policy::default())
}

/// [`build`] with a given timeout and retry policy.
pub fn build_with(
    config: &Config,
    sel: &Selector,
    store: &Store,
    policy: &Policy,
) -> Result<Vec<Arc<Stream>>, BuildError> {
    build_in(config, sel, store, policy, &mut Accounts::default())
}

/// [`build_with`], reusing the clients and budgets `accounts` kept from an
/// earlier build, and keeping this build's for the next one.
pub fn build_in(
    config: &Config,
    sel: &Selector,
    store: &Store,
    policy: &Policy,
    accounts: &mut Accounts,
) -> Result<Vec<Arc<Stream>>, BuildError> {
    let clock = crate::clock::system();
    let mut next = HashMap::new();
    let mut out = Vec::new();
    for a in &config.accounts {
        let specs: Vec<_> = a
            .streams()
            .into_iter()
            .filter(|spec| sel.matches(&StreamKey::new(a.source, &a.name, &spec.name)))
            .collect();
        if specs.is_empty() {
            continue;
        }
        let (http, budget) = accounts.get(&mut next, a, || {
            let budget = match a.config.daily_request_budget() {
                Some(limit) => Some(Arc::new(DailyBudget::load(
                    store,
                    a.source,
                    &a.name,
                    limit,
                    clock.clone(),
                )?)),
                None => None,
            };
            let pacer = Pacer::per_second(a.config.requests_per_second());
            let policy = with_limits(policy, &a.limits);
            let spend = budget.clone().map(|b| b as Arc<dyn crate::http::Budget>);
            Ok((HttpClient::new(policy, Some(pacer), spend)?, budget))
        })?;
        // A new connector each build: the account's credentials may have changed.
        let connector: Arc<dyn Connector> = a.config.connect(http.clone());
        let table = a.source.vendor().table;
        for spec in specs {
            out.push(Arc::new(Stream {
                key: StreamKey::new(a.source, &a.name, &spec.name),
                settings: a.settings.clone(),
                spec,
                table,
                connector: connector.clone(),
                budget: budget.clone(),
                redactor: http.redactor().clone(),
            }));
        }
    }
    if out.is_empty() {
        return Err(BuildError::NoMatch(sel.to_string()));
    }
    accounts.by_account = next;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(gong_rate: &str, with_genesys: bool) -> Config {
        let mut text = format!(
            "[database]\npath = \"m.sqlite\"\n[[gong]]\nname = \"acme\"\nbase_url = \"http://127.0.0.1:9\"\n\
             access_key = \"k\"\naccess_key_secret = \"s\"\nrequests_per_second = {gong_rate}\n"
        );
        if with_genesys {
            text += "[[genesys]]\nname = \"emea\"\napi_base_url = \"http://127.0.0.1:9\"\n\
                     login_base_url = \"http://127.0.0.1:9\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
        }
        Config::parse(
            &text,
            Path::new("/etc/auditmirror/c.toml"),
            crate::clock::now(),
        )
        .unwrap()
    }

    fn budget_of(streams: &[Arc<Stream>]) -> Arc<DailyBudget> {
        streams[0].budget.clone().unwrap()
    }

    #[test]
    fn a_reload_keeps_an_accounts_pacer_and_budget_unless_its_limits_changed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("m.sqlite")).unwrap();
        let (all, policy) = (Selector::default(), Policy::default());
        let mut accounts = Accounts::default();
        let first = build_in(&config("2.5", true), &all, &store, &policy, &mut accounts).unwrap();
        let gong = (Source::Gong, "acme".to_owned());
        let genesys = (Source::Genesys, "emea".to_owned());
        let http = |a: &Accounts, k: &(Source, String)| a.by_account[k].http.clone();
        let (gong_http, genesys_http) = (http(&accounts, &gong), http(&accounts, &genesys));

        // Same limits (the schedule or anything else may have changed): kept.
        let again = build_in(&config("2.5", true), &all, &store, &policy, &mut accounts).unwrap();
        assert!(Arc::ptr_eq(&budget_of(&first), &budget_of(&again)));
        assert!(Arc::ptr_eq(&gong_http, &http(&accounts, &gong)));
        assert!(Arc::ptr_eq(&genesys_http, &http(&accounts, &genesys)));

        // A new rate gets a new pacer and budget; a removed account is forgotten.
        let changed =
            build_in(&config("1.0", false), &all, &store, &policy, &mut accounts).unwrap();
        assert!(!Arc::ptr_eq(&budget_of(&first), &budget_of(&changed)));
        assert!(!Arc::ptr_eq(&gong_http, &http(&accounts, &gong)));
        assert!(!accounts.by_account.contains_key(&genesys));
    }
}
