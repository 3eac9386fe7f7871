use super::*;
use crate::config::Start;
use crate::time::parse_instant;
use proptest::prelude::*;

fn settings() -> StreamSettings {
    StreamSettings {
        schedule: "0 */5 * * * *".into(),
        lookback: Duration::from_secs(15 * 60),
        settle: Duration::from_secs(120),
        start: Start::Ago(Duration::from_secs(30 * 86_400)),
        window: Duration::from_secs(86_400),
        window_records: 10_000,
    }
}

fn t(s: &str) -> DateTime<Utc> {
    parse_instant(s).unwrap()
}

const NOW: &str = "2026-11-24T12:00:00Z";

#[test]
fn the_first_run_starts_at_start_and_stops_settle_before_now() {
    let p = plan(Range::Incremental, None, &settings(), None, t(NOW));
    assert_eq!(
        p.window,
        Some(Window::new(
            t("2026-10-25T12:00:00Z"),
            t("2026-11-24T11:58:00Z")
        ))
    );
    assert_eq!(p.gap, None);
    let at = StreamSettings {
        start: Start::At(t("2026-11-01T00:00:00Z")),
        ..settings()
    };
    assert_eq!(
        plan(Range::Incremental, None, &at, None, t(NOW))
            .window
            .unwrap()
            .from,
        t("2026-11-01T00:00:00Z")
    );
}

#[test]
fn later_runs_reread_the_lookback_behind_the_watermark() {
    let p = plan(
        Range::Incremental,
        Some(t("2026-11-24T11:00:00Z")),
        &settings(),
        None,
        t(NOW),
    );
    assert_eq!(
        p.window,
        Some(Window::new(
            t("2026-11-24T10:45:00Z"),
            t("2026-11-24T11:58:00Z")
        ))
    );
}

#[test]
fn nothing_to_read_when_the_range_is_empty() {
    let s = StreamSettings {
        lookback: Duration::ZERO,
        ..settings()
    };
    let p = plan(
        Range::Incremental,
        Some(t("2026-11-24T11:59:00Z")),
        &s,
        None,
        t(NOW),
    );
    assert_eq!(p.window, None);
}

#[test]
fn retention_clamps_and_records_a_gap_only_when_events_were_lost() {
    let keep = Some(chrono::Duration::days(14));
    let floor = t("2026-11-10T12:01:00Z");
    // First run: the start is clamped, nothing was lost that the mirror had.
    let first = plan(Range::Incremental, None, &settings(), keep, t(NOW));
    assert_eq!((first.window.unwrap().from, first.gap), (floor, None));
    // A watermark older than what the vendor keeps: the gap is recorded.
    let late = plan(
        Range::Incremental,
        Some(t("2026-11-01T00:00:00Z")),
        &settings(),
        keep,
        t(NOW),
    );
    assert_eq!(late.window.unwrap().from, floor);
    assert!(late.gap.unwrap().contains("2026-11-01T00:00:00.000000Z"));
    // A recent watermark whose lookback reaches past the floor loses nothing.
    let recent = plan(
        Range::Incremental,
        Some(t("2026-11-10T12:10:00Z")),
        &settings(),
        keep,
        t(NOW),
    );
    assert_eq!((recent.window.unwrap().from, recent.gap), (floor, None));
}

#[test]
fn a_bounded_range_stops_at_now_and_leaves_settings_aside() {
    let w = Window::new(t("2026-11-20T00:00:00Z"), t("2026-12-01T00:00:00Z"));
    let p = plan(
        Range::Bounded(w),
        Some(t("2026-11-24T11:00:00Z")),
        &settings(),
        None,
        t(NOW),
    );
    assert_eq!(
        p.window,
        Some(Window::new(t("2026-11-20T00:00:00Z"), t(NOW)))
    );
    let old = Window::new(t("2026-10-01T00:00:00Z"), t("2026-10-02T00:00:00Z"));
    let p = plan(
        Range::Bounded(old),
        None,
        &settings(),
        Some(chrono::Duration::days(14)),
        t(NOW),
    );
    assert_eq!(p.window, None);
    assert!(p.gap.is_some());
}

/// The config of the report: `start = "999999999d"` and `lookback = "99999999d"`
/// (config now refuses both) and instants at chrono's ends plan without panicking.
#[test]
fn extreme_settings_and_instants_saturate_instead_of_panicking() {
    let huge = StreamSettings {
        lookback: Duration::from_secs(99_999_999 * 86_400),
        settle: Duration::MAX,
        start: Start::Ago(Duration::from_secs(999_999_999 * 86_400)),
        ..settings()
    };
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    assert_eq!(
        plan(Range::Incremental, None, &huge, None, t(NOW)).window,
        None
    );
    let start = StreamSettings {
        start: Start::Ago(Duration::MAX),
        ..settings()
    };
    let p = plan(Range::Incremental, None, &start, None, t(NOW));
    assert_eq!(p.window.unwrap().from, min);
    let lookback = StreamSettings {
        lookback: Duration::MAX,
        ..settings()
    };
    let p = plan(Range::Incremental, Some(t(NOW)), &lookback, None, t(NOW));
    assert_eq!(p.window.unwrap().from, min);
    let keep = Some(chrono::Duration::MAX);
    let p = plan(Range::Incremental, Some(min), &settings(), keep, max);
    assert!(p.window.is_some());
    let p = plan(
        Range::Incremental,
        None,
        &settings(),
        Some(chrono::Duration::MIN),
        min,
    );
    assert_eq!(p.window, None);
}

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    any::<i64>().prop_map(crate::time::from_micros)
}

fn any_duration() -> impl Strategy<Value = Duration> {
    (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n))
}

fn any_settings() -> impl Strategy<Value = StreamSettings> {
    let start = prop_oneof![
        any_duration().prop_map(Start::Ago),
        any_instant().prop_map(Start::At)
    ];
    (any_duration(), any_duration(), start, any_duration()).prop_map(
        |(lookback, settle, start, window)| StreamSettings {
            lookback,
            settle,
            start,
            window,
            ..settings()
        },
    )
}

fn any_range() -> impl Strategy<Value = Range> {
    prop_oneof![
        Just(Range::Incremental),
        (any_instant(), any_instant()).prop_map(|(a, b)| Range::Bounded(Window::new(a, b)))
    ]
}

proptest! {
    #[test]
    fn plan_never_panics(
        range in any_range(),
        watermark in proptest::option::of(any_instant()),
        s in any_settings(),
        retention in proptest::option::of(any::<i64>().prop_map(|ms| {
            chrono::Duration::try_milliseconds(ms).unwrap_or(chrono::Duration::MIN)
        })),
        now in any_instant(),
    ) {
        let p = plan(range, watermark, &s, retention, now);
        if let Some(w) = p.window {
            prop_assert!(w.from < w.to);
            prop_assert!(w.to <= now);
        }
    }
}
