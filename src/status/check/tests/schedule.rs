//! The period of a schedule, from its next two firings after a given instant.

use super::*;

fn period(expr: &str, at: &str) -> Option<Duration> {
    schedule_period(expr, parse_instant(at).unwrap())
}

#[test]
fn a_regular_schedule_has_its_interval_as_period() {
    let at = "2026-11-24T12:01:07Z";
    assert_eq!(period("0 */5 * * * *", at), Some(Duration::from_secs(300)));
    assert_eq!(period("*/10 * * * * *", at), Some(Duration::from_secs(10)));
    assert_eq!(period("0 0 3 * * *", at), Some(Duration::from_secs(86_400)));
    // Exactly on a firing: the next two firings come after it.
    assert_eq!(
        period("0 */5 * * * *", "2026-11-24T12:05:00Z"),
        Some(Duration::from_secs(300))
    );
}

#[test]
fn an_irregular_schedule_has_the_gap_after_now() {
    let expr = "0 0,30 9 * * *";
    assert_eq!(
        period(expr, "2026-11-24T08:00:00Z"),
        Some(Duration::from_secs(1800))
    );
    assert_eq!(
        period(expr, "2026-11-24T09:15:00Z"),
        Some(Duration::from_secs(23 * 3600 + 1800))
    );
    // Weekdays only: on Thursday evening the next two firings span the weekend.
    assert_eq!(
        period("0 0 9 * * MON-FRI", "2026-11-26T18:00:00Z"),
        Some(Duration::from_secs(3 * 86_400))
    );
}

#[test]
fn a_schedule_that_does_not_parse_has_no_period() {
    assert_eq!(period("*/5 * * * *", "2026-11-24T12:00:00Z"), None);
    assert_eq!(period("nonsense", "2026-11-24T12:00:00Z"), None);
}
