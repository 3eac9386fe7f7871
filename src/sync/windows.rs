//! Window splitting, pure: how a stream's range is cut before it is read (no
//! window longer than the limit, none holding more records than the limit),
//! and what to do when reading a window failed in a way a shorter window may
//! cure (a cursor that expired, a query that failed, an interval refused):
//! split it and tighten the limits for the rest of the run, down to a floor
//! below which the stream fails instead, saying why.

use crate::connector::{Window, WindowFailure, WindowStrategy};
use chrono::Duration;

/// A window whose cursor keeps expiring is halved while longer than this.
pub const CURSOR_FLOOR: Duration = Duration::seconds(2);
/// A window whose query keeps failing is halved while longer than this.
pub const QUERY_FLOOR: Duration = Duration::hours(1);
/// A window the vendor refuses as too long is halved while longer than this.
pub const REFUSED_FLOOR: Duration = Duration::minutes(1);
/// A window holding more records than its limit is split while longer than this.
pub const COUNT_FLOOR: Duration = Duration::seconds(2);

/// The limits on windows while one stream's range is read. They start from
/// the stream's strategy and only shrink, as failures teach the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The longest window to ask for.
    pub max_len: Option<Duration>,
    /// The most records a window may hold before it is split (when the
    /// vendor says how many a window holds).
    pub records: Option<u64>,
}

impl Limits {
    pub fn new(strategy: WindowStrategy) -> Limits {
        match strategy {
            WindowStrategy::Adaptive { records } => Limits {
                max_len: None,
                records: Some(records),
            },
            WindowStrategy::Fixed { length } => Limits {
                max_len: Some(length),
                records: None,
            },
        }
    }
}

/// `w` cut into windows no longer than the limit, in time order.
pub fn cut(w: Window, limits: &Limits) -> Vec<Window> {
    match limits.max_len {
        Some(max) if w.len() > max => w.split_every(max),
        _ => vec![w],
    }
}

/// A window too short to split further: `None`; else its two halves.
pub fn split(w: Window, floor: Duration) -> Option<(Window, Window)> {
    (w.len() > floor).then(|| w.halves())
}

/// Before a window is read past its first page: its halves, when the vendor
/// says it holds more than the limit and it is longer than the floor.
pub fn split_for_count(w: Window, total: Option<u64>, limits: &Limits) -> Option<(Window, Window)> {
    match (total, limits.records) {
        (Some(total), Some(limit)) if total > limit => split(w, COUNT_FLOOR),
        _ => None,
    }
}

/// What to do with a window whose read failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Read these two halves instead, in order.
    Split(Window, Window),
    /// Read the window again: the limits now cut it shorter.
    Again,
    /// Give up on the stream for this run; this says why splitting stops.
    Fail(String),
}

/// After reading `w` (whose first page said `total` records, if it said)
/// failed with `failure`: split it, or cut it again under tightened
/// `limits`, or give up once windows are as short as splitting can make them.
pub fn after_failure(
    w: Window,
    failure: WindowFailure,
    total: Option<u64>,
    limits: &mut Limits,
) -> Decision {
    let secs = |d: Duration| d.num_seconds();
    match failure {
        WindowFailure::CursorExpired => match split(w, CURSOR_FLOOR) {
            Some((a, b)) => {
                // Later windows hold fewer records from the start: half of what failed.
                if let (Some(limit), Some(total)) = (limits.records, total) {
                    limits.records = Some(limit.min((total / 2).max(1)));
                }
                Decision::Split(a, b)
            }
            None => Decision::Fail(format!(
                "even a window of {} s{} was not read before the cursor expired, so shorter windows cannot help",
                secs(w.len()),
                total.map_or(String::new(), |t| format!(" ({t} records)"))
            )),
        },
        WindowFailure::QueryFailed => match split(w, QUERY_FLOOR) {
            Some((a, b)) => Decision::Split(a, b),
            None => Decision::Fail(
                "even for a window of an hour or less; the next run tries again".into(),
            ),
        },
        WindowFailure::TooLong => match split(w, REFUSED_FLOOR) {
            Some(_) => {
                let half = Duration::microseconds(w.len().num_microseconds().unwrap_or(i64::MAX) / 2);
                let max = limits.max_len.map_or(half, |m| m.min(half));
                limits.max_len = Some(max.max(REFUSED_FLOOR));
                Decision::Again
            }
            None => Decision::Fail(format!("even a window of {} s was refused", secs(w.len()))),
        },
    }
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

    fn adaptive(records: u64) -> Limits {
        Limits::new(WindowStrategy::Adaptive { records })
    }

    #[test]
    fn windows_split_down_to_the_floor_only() {
        let floor = Duration::seconds(2);
        assert!(split(w(0, 3), floor).is_some());
        assert!(split(w(0, 2), floor).is_none());
        assert!(split_for_count(w(0, 100), Some(10), &adaptive(10)).is_none());
        assert!(split_for_count(w(0, 100), Some(11), &adaptive(10)).is_some());
        assert!(split_for_count(w(0, 100), None, &adaptive(10)).is_none());
        assert!(split_for_count(w(0, 2), Some(11), &adaptive(10)).is_none());
    }

    #[test]
    fn fixed_windows_are_cut_to_their_length() {
        let limits = Limits::new(WindowStrategy::Fixed {
            length: Duration::days(1),
        });
        let pieces = cut(w(0, 86_400 * 3 + 5), &limits);
        assert_eq!(pieces.len(), 4);
        assert_eq!(cut(w(0, 86_400), &limits), vec![w(0, 86_400)]);
        assert_eq!(
            cut(w(0, 10 * 86_400), &adaptive(5)),
            vec![w(0, 10 * 86_400)]
        );
    }

    #[test]
    fn an_expired_cursor_halves_the_window_and_later_windows_hold_fewer_records() {
        let mut limits = adaptive(10_000);
        let d = after_failure(
            w(0, 100),
            WindowFailure::CursorExpired,
            Some(500),
            &mut limits,
        );
        assert_eq!(d, Decision::Split(w(0, 50), w(50, 100)));
        assert_eq!(limits.records, Some(250));
        after_failure(
            w(0, 100),
            WindowFailure::CursorExpired,
            Some(1),
            &mut limits,
        );
        assert_eq!(limits.records, Some(1), "never below one record");
        let d = after_failure(w(0, 2), WindowFailure::CursorExpired, Some(9), &mut limits);
        assert!(
            matches!(d, Decision::Fail(ref m) if m.contains("2 s (9 records)")),
            "{d:?}"
        );
    }

    #[test]
    fn a_failed_query_halves_down_to_an_hour() {
        let mut limits = adaptive(1);
        let day = w(0, 86_400);
        assert_eq!(
            after_failure(day, WindowFailure::QueryFailed, None, &mut limits),
            Decision::Split(w(0, 43_200), w(43_200, 86_400))
        );
        assert!(matches!(
            after_failure(w(0, 3600), WindowFailure::QueryFailed, None, &mut limits),
            Decision::Fail(_)
        ));
    }

    #[test]
    fn a_refused_interval_shortens_every_later_window() {
        let mut limits = Limits::new(WindowStrategy::Fixed {
            length: Duration::days(1),
        });
        let d = after_failure(w(0, 86_400), WindowFailure::TooLong, None, &mut limits);
        assert_eq!(d, Decision::Again);
        assert_eq!(limits.max_len, Some(Duration::hours(12)));
        after_failure(w(0, 90), WindowFailure::TooLong, None, &mut limits);
        assert_eq!(limits.max_len, Some(REFUSED_FLOOR), "never below the floor");
        assert!(matches!(
            after_failure(w(0, 60), WindowFailure::TooLong, None, &mut limits),
            Decision::Fail(_)
        ));
    }

    proptest! {
        /// Splitting until nothing splits covers the window exactly, and every
        /// piece is within the floor.
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

        /// Whatever fails, the engine's loop ends: every decision either
        /// shortens the windows it reads or gives up, and limits only shrink.
        #[test]
        fn failures_always_end(len_s in 1i64..10_000_000, kinds in prop::collection::vec(0u8..3, 1..200)) {
            let mut limits = Limits::new(WindowStrategy::Fixed { length: Duration::days(1) });
            let mut todo = vec![w(0, len_s)];
            let mut steps = 0;
            let mut kinds = kinds.into_iter().cycle();
            while let Some(x) = todo.pop() {
                steps += 1;
                prop_assert!(steps < 2_000_000);
                let pieces = cut(x, &limits);
                if pieces.len() > 1 { todo.extend(pieces.into_iter().rev()); continue; }
                let failure = [WindowFailure::CursorExpired, WindowFailure::QueryFailed, WindowFailure::TooLong][kinds.next().unwrap() as usize];
                let before = limits;
                match after_failure(x, failure, Some(100), &mut limits) {
                    Decision::Split(a, b) => { prop_assert!(a.len() < x.len() && b.len() < x.len()); todo.push(b); todo.push(a); }
                    Decision::Again => { prop_assert!(limits.max_len < before.max_len || x.len() > limits.max_len.unwrap()); todo.push(x); }
                    Decision::Fail(_) => break,
                }
            }
        }
    }
}
