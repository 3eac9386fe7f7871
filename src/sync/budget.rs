//! A daily request budget shared by an account's streams: counted per UTC day,
//! caught up with what other processes saved today, and persisted by the
//! writer so it survives restarts. The day's rollover and the spending rule
//! are pure ([`Tally`]); the time comes from the budget's clock.

use crate::clock::Clock;
use crate::http::{Budget, HttpError};
use crate::record::Source;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Requests spent on one UTC day (`YYYY-MM-DD`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub day: String,
    pub used: u64,
}

impl Tally {
    /// The UTC day of `t`, as the store keys it.
    pub fn day_of(t: DateTime<Utc>) -> String {
        t.format("%Y-%m-%d").to_string()
    }

    /// The tally as of `today`: a new day starts from nothing.
    pub fn on(self, today: &str) -> Tally {
        if self.day == today {
            self
        } else {
            Tally {
                day: today.to_owned(),
                used: 0,
            }
        }
    }

    /// Takes one request of `limit` for `today`, or says the day's are spent.
    pub fn spend(&mut self, today: &str, limit: u64) -> bool {
        *self = std::mem::take(self).on(today);
        if self.used >= limit {
            return false;
        }
        self.used += 1;
        true
    }
}

/// An account's daily request budget.
pub struct DailyBudget {
    source: Source,
    account: String,
    limit: u64,
    tally: Mutex<Tally>,
    /// Requests spent and not yet saved in the store.
    unsaved: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl DailyBudget {
    /// Starts from what `store` says this account already spent today.
    pub fn load(
        store: &Store,
        source: Source,
        account: &str,
        limit: u64,
        clock: Arc<dyn Clock>,
    ) -> Result<DailyBudget, StoreError> {
        let day = Tally::day_of(clock.now());
        let used = store.requests_on(source, account, &day)?;
        Ok(DailyBudget {
            source,
            account: account.to_owned(),
            limit,
            tally: Mutex::new(Tally { day, used }),
            unsaved: AtomicU64::new(0),
            clock,
        })
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Catches up with what other processes spent today and saved (a manual
    /// `sync` beside the daemon, whose budget was loaded when it started).
    pub fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        let day = Tally::day_of(self.clock.now());
        let saved = store.requests_on(self.source, &self.account, &day)?;
        let mut t = self.tally();
        *t = std::mem::take(&mut *t).on(&day);
        // What the store holds includes our saved requests; add our unsaved ones.
        t.used = t.used.max(saved + self.unsaved.load(Relaxed));
        Ok(())
    }

    /// Requests spent today.
    pub fn used(&self) -> u64 {
        let today = Tally::day_of(self.clock.now());
        let t = self.tally().clone();
        t.on(&today).used
    }

    /// Saves the requests spent since the last save.
    pub(super) fn save(&self, store: &mut Store) -> Result<(), StoreError> {
        let n = self.unsaved.swap(0, Relaxed);
        let day = self.tally().day.clone();
        store
            .add_requests(self.source, &self.account, &day, n)
            .inspect_err(|_| {
                self.unsaved.fetch_add(n, Relaxed);
            })
    }
}

impl Budget for DailyBudget {
    fn spend(&self) -> Result<(), HttpError> {
        let today = Tally::day_of(self.clock.now());
        if !self.tally().spend(&today, self.limit) {
            return Err(HttpError::Budget(format!(
                "{}/{}: the daily request budget of {} is spent (daily_request_budget); syncing resumes after 00:00 UTC",
                self.source, self.account, self.limit
            )));
        }
        self.unsaved.fetch_add(1, Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::http::ErrorClass;
    use proptest::prelude::*;

    const NOON: DateTime<Utc> = DateTime::from_timestamp(1_764_936_000, 0).unwrap();

    fn clock() -> Arc<dyn Clock> {
        Arc::new(ManualClock::new(NOON))
    }

    #[test]
    fn a_new_utc_day_starts_from_nothing() {
        let mut t = Tally {
            day: "2026-12-05".into(),
            used: 3,
        };
        assert!(!t.spend("2026-12-05", 3));
        assert_eq!(t.used, 3);
        assert!(t.spend("2026-12-06", 3));
        assert_eq!(
            t,
            Tally {
                day: "2026-12-06".into(),
                used: 1
            }
        );
    }

    #[test]
    fn the_budget_rolls_over_at_midnight_utc() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("m.sqlite")).unwrap();
        let before_midnight = "2026-12-05T23:59:59Z".parse().unwrap();
        let clock = Arc::new(ManualClock::new(before_midnight));
        let b = DailyBudget::load(&store, Source::Gong, "acme", 2, clock.clone()).unwrap();
        assert!(b.spend().is_ok() && b.spend().is_ok());
        assert!(b.spend().is_err(), "the day's two are spent");
        b.save(&mut store).unwrap();
        assert_eq!(
            store
                .requests_on(Source::Gong, "acme", "2026-12-05")
                .unwrap(),
            2
        );
        clock.advance(chrono::Duration::seconds(1));
        assert_eq!(b.used(), 0, "a new day");
        assert!(b.spend().is_ok());
        b.save(&mut store).unwrap();
        assert_eq!(
            store
                .requests_on(Source::Gong, "acme", "2026-12-06")
                .unwrap(),
            1
        );
    }

    #[test]
    fn the_daily_budget_stops_before_the_limit_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        let mut store = Store::open(&path).unwrap();
        let budget = DailyBudget::load(&store, Source::Gong, "acme", 5, clock()).unwrap();
        for _ in 0..3 {
            budget.spend().unwrap();
        }
        budget.save(&mut store).unwrap();
        // A new process starts from what the database says was spent today.
        let again = DailyBudget::load(&store, Source::Gong, "acme", 5, clock()).unwrap();
        assert_eq!(again.used(), 3);
        again.spend().unwrap();
        again.spend().unwrap();
        let err = again.spend().unwrap_err();
        assert_eq!(err.class(), ErrorClass::Budget);
        assert!(err.to_string().contains("daily_request_budget"), "{err}");
        again.save(&mut store).unwrap();
        assert_eq!(
            store
                .requests_on(Source::Gong, "acme", &Tally::day_of(NOON))
                .unwrap(),
            5
        );
        // Other accounts have budgets of their own.
        assert_eq!(
            DailyBudget::load(&store, Source::Gong, "other", 5, clock())
                .unwrap()
                .used(),
            0
        );
    }

    #[test]
    fn a_budget_loaded_earlier_catches_up_with_what_another_process_spent() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("m.sqlite")).unwrap();
        // The daemon's budget, loaded when it started.
        let daemon = DailyBudget::load(&store, Source::Gong, "acme", 10, clock()).unwrap();
        daemon.spend().unwrap();
        daemon.save(&mut store).unwrap();
        daemon.spend().unwrap(); // not saved yet
                                 // A manual sync beside it spends 6 and saves them.
        let manual = DailyBudget::load(&store, Source::Gong, "acme", 10, clock()).unwrap();
        assert_eq!(manual.used(), 1);
        for _ in 0..6 {
            manual.spend().unwrap();
        }
        manual.save(&mut store).unwrap();
        assert_eq!(daemon.used(), 2, "it cannot know before it asks");
        daemon.refresh(&store).unwrap();
        assert_eq!(
            daemon.used(),
            8,
            "1 saved + 6 of the other process + 1 unsaved"
        );
        daemon.spend().unwrap();
        daemon.spend().unwrap();
        assert_eq!(daemon.spend().unwrap_err().class(), ErrorClass::Budget);
        daemon.save(&mut store).unwrap();
        let today = Tally::day_of(NOON);
        assert_eq!(store.requests_on(Source::Gong, "acme", &today).unwrap(), 10);
        // Refreshing again changes nothing: the store now holds our own requests.
        daemon.refresh(&store).unwrap();
        assert_eq!(daemon.used(), 10);
    }

    proptest! {
        /// However requests and days interleave, no day spends more than the limit.
        #[test]
        fn no_day_spends_more_than_the_limit(limit in 0u64..20, steps in prop::collection::vec(any::<bool>(), 0..200)) {
            let mut t = Tally::default();
            let mut day = 0;
            let mut spent_today = 0;
            for next_day in steps {
                if next_day { day += 1; spent_today = 0; }
                if t.spend(&format!("d{day}"), limit) { spent_today += 1; }
                prop_assert!(spent_today <= limit);
                prop_assert_eq!(t.used, spent_today);
            }
        }
    }
}
