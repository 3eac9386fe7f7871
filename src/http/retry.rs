//! The retry decision, pure: given the policy, how many tries were made, how much
//! of the request's time budget is spent, what went wrong and a random number,
//! say whether to try again and after how long. No clock, no I/O.

use super::Policy;
use std::time::Duration;

/// What went wrong with one try.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Network error, timeout, 5xx, or a body the caller called broken.
    Transient(String),
    /// HTTP 429, with the server's `Retry-After` if it sent one.
    RateLimited { retry_after: Option<Duration> },
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Wait this long, then try again. `paced`: the wait is the server's own
    /// (`Retry-After`), so it is not charged to the request's time budget.
    Retry {
        wait: Duration,
        reason: String,
        paced: bool,
    },
    /// Stop trying: `reason` says why.
    GiveUp { reason: String },
    /// The server asked to wait longer than the policy allows.
    WaitTooLong { secs: u64 },
}

/// Exponential backoff with jitter: a random wait between half and all of
/// `base · 2^(tries-1)`, capped at `max_backoff`. `rand` is in `[0, 1)`.
pub fn backoff(policy: &Policy, tries: u32, rand: f64) -> Duration {
    let cap = policy
        .base_backoff
        .saturating_mul(1 << tries.saturating_sub(1).min(16))
        .min(policy.max_backoff);
    cap.mul_f64(0.5 + rand.clamp(0.0, 1.0) * 0.5)
}

/// The next step after try number `tries` (1 for the first) failed with
/// `failure`, when `spent` of the request's time budget is used.
pub fn step(policy: &Policy, tries: u32, spent: Duration, failure: &Failure, rand: f64) -> Step {
    let (wait, reason, paced) = match failure {
        Failure::RateLimited { retry_after } => {
            let wait = retry_after.unwrap_or_else(|| backoff(policy, tries, rand));
            if wait > policy.max_retry_after {
                return Step::WaitTooLong {
                    secs: wait.as_secs(),
                };
            }
            let reason = format!("HTTP 429, Retry-After {} s", wait.as_secs_f64());
            (wait, reason, retry_after.is_some())
        }
        Failure::Transient(reason) => (backoff(policy, tries, rand), reason.clone(), false),
    };
    if tries >= policy.max_tries {
        return Step::GiveUp {
            reason: format!("gave up after {tries} tries; last: {reason}"),
        };
    }
    if !paced && spent.saturating_add(wait) >= policy.total_timeout {
        return Step::GiveUp {
            reason: format!(
                "gave up after {tries} tries in {:.0} s, the request's time budget (total_timeout = {}); last: {reason}",
                spent.as_secs_f64(),
                crate::time::fmt_duration(policy.total_timeout)
            ),
        };
    }
    Step::Retry {
        wait,
        reason,
        paced,
    }
}

/// How long the next try may take: the deadline on one response, or what is
/// left of the request's time budget if that is less (never zero).
pub fn try_deadline(policy: &Policy, spent: Duration) -> Duration {
    policy
        .request_timeout
        .min(policy.total_timeout.saturating_sub(spent))
        .max(Duration::from_millis(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn transient() -> Failure {
        Failure::Transient("HTTP 503".into())
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = Policy::default();
        for tries in 1..30 {
            let cap = Duration::from_millis(500)
                .saturating_mul(1 << (tries - 1).min(16))
                .min(Duration::from_secs(30));
            assert_eq!(backoff(&p, tries, 0.0), cap / 2);
            assert!(backoff(&p, tries, 0.999) <= cap);
        }
    }

    #[test]
    fn the_last_try_gives_up() {
        let p = Policy::default();
        let s = step(&p, p.max_tries, Duration::ZERO, &transient(), 0.5);
        assert!(matches!(s, Step::GiveUp { ref reason } if reason.contains("8 tries")));
        assert!(matches!(
            step(&p, 1, Duration::ZERO, &transient(), 0.5),
            Step::Retry { paced: false, .. }
        ));
    }

    #[test]
    fn a_spent_time_budget_gives_up_naming_it() {
        let p = Policy::default();
        let s = step(&p, 2, p.total_timeout, &transient(), 0.5);
        assert!(
            matches!(s, Step::GiveUp { ref reason } if reason.contains("total_timeout")),
            "{s:?}"
        );
    }

    #[test]
    fn retry_after_is_obeyed_and_not_charged_to_the_budget() {
        let p = Policy::default();
        let f = Failure::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        };
        let s = step(&p, 1, p.total_timeout, &f, 0.5);
        assert_eq!(
            s,
            Step::Retry {
                wait: Duration::from_secs(7),
                reason: "HTTP 429, Retry-After 7 s".into(),
                paced: true
            }
        );
        let long = Failure::RateLimited {
            retry_after: Some(p.max_retry_after + Duration::from_secs(1)),
        };
        assert_eq!(
            step(&p, 1, Duration::ZERO, &long, 0.5),
            Step::WaitTooLong { secs: 901 }
        );
    }

    #[test]
    fn a_try_never_outlives_the_budget() {
        let p = Policy::default();
        assert_eq!(try_deadline(&p, Duration::ZERO), p.request_timeout);
        assert_eq!(
            try_deadline(&p, p.total_timeout - Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        assert_eq!(
            try_deadline(&p, p.total_timeout * 2),
            Duration::from_millis(1)
        );
    }

    proptest! {
        /// Whatever happens, the time a request can take is bounded: the waits
        /// it is charged for plus each try's deadline stay within the budget.
        #[test]
        fn charged_time_never_exceeds_the_budget(
            rands in proptest::collection::vec(0.0f64..1.0, 1..20),
            took_ms in proptest::collection::vec(0u64..200_000, 1..20),
        ) {
            let p = Policy::default();
            let mut spent = Duration::ZERO;
            for (tries, (r, took)) in (1u32..).zip(rands.iter().zip(&took_ms)) {
                spent += Duration::from_millis(*took).min(try_deadline(&p, spent));
                match step(&p, tries, spent, &transient(), *r) {
                    Step::Retry { wait, .. } => {
                        spent += wait;
                        prop_assert!(spent < p.total_timeout);
                    }
                    Step::GiveUp { .. } => break,
                    Step::WaitTooLong { .. } => prop_assert!(false),
                }
            }
            prop_assert!(spent <= p.total_timeout);
        }
    }
}
