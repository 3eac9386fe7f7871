//! Window splitting, pure: when a window is split before it is read (too many
//! records, longer than the vendor takes) or after its read failed in a way a
//! shorter window cures (a cursor that expired, a query the vendor refused),
//! and the floor below which splitting stops and the stream fails instead.

use crate::connector::Window;
use chrono::Duration;

/// A window too short to split further: `None`; else its two halves.
pub fn split(w: Window, floor: Duration) -> Option<(Window, Window)> {
    (w.len() > floor).then(|| w.halves())
}

/// Adaptive (Gong): a window whose first page reports `total` records is split
/// before it is read while it holds more than `limit` and is longer than `floor`.
pub fn split_for_count(
    w: Window,
    total: u64,
    limit: u64,
    floor: Duration,
) -> Option<(Window, Window)> {
    if total > limit {
        split(w, floor)
    } else {
        None
    }
}

/// After a cursor expired while reading a window of `total` records: the record
/// limit for the rest of the run, so later windows need fewer pages per cursor
/// from the start (half of what failed, never less than one record).
pub fn limit_after_cursor_failure(limit: u64, total: u64) -> u64 {
    limit.min((total / 2).max(1))
}

/// After the vendor refused `w` as too long: the longest window to ask for
/// from now on (half of what was refused, never below `floor`).
pub fn max_len_after_refusal(max_len: Duration, w: Window, floor: Duration) -> Duration {
    let half = Duration::microseconds(w.len().num_microseconds().unwrap_or(i64::MAX) / 2);
    max_len.min(half).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::from_micros;
    use proptest::prelude::*;

    fn w(from_s: i64, to_s: i64) -> Window {
        Window::new(
            from_micros(from_s * 1_000_000),
            from_micros(to_s * 1_000_000),
        )
    }

    #[test]
    fn windows_split_down_to_the_floor_only() {
        let floor = Duration::seconds(2);
        assert!(split(w(0, 3), floor).is_some());
        assert!(split(w(0, 2), floor).is_none());
        assert!(split_for_count(w(0, 100), 10, 10, floor).is_none());
        assert!(split_for_count(w(0, 100), 11, 10, floor).is_some());
    }

    #[test]
    fn limits_shrink_after_failures() {
        assert_eq!(limit_after_cursor_failure(10_000, 500), 250);
        assert_eq!(limit_after_cursor_failure(100, 500), 100);
        assert_eq!(limit_after_cursor_failure(10_000, 1), 1);
        let day = Duration::days(1);
        assert_eq!(
            max_len_after_refusal(day, w(0, 86_400), Duration::minutes(1)),
            Duration::hours(12)
        );
        assert_eq!(
            max_len_after_refusal(day, w(0, 60), Duration::minutes(1)),
            Duration::minutes(1)
        );
    }

    proptest! {
        /// Splitting until nothing splits covers the window exactly, and every
        /// piece is within the floor or its count's limit.
        #[test]
        fn repeated_splits_cover_the_window(len_s in 1i64..1_000_000, floor_s in 100i64..10_000) {
            let floor = Duration::seconds(floor_s);
            let (mut todo, mut done) = (vec![w(0, len_s)], Vec::new());
            while let Some(x) = todo.pop() {
                match split(x, floor) {
                    Some((a, b)) => { todo.push(b); todo.push(a); }
                    None => done.push(x),
                }
            }
            prop_assert_eq!(done[0].from, w(0, len_s).from);
            prop_assert_eq!(done.last().unwrap().to, w(0, len_s).to);
            prop_assert!(done.windows(2).all(|p| p[0].to == p[1].from));
            prop_assert!(done.iter().all(|x| x.len() <= floor && !x.is_empty()));
        }
    }
}
