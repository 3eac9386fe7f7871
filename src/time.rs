//! Time handling shared by every layer: the mirror's fixed-width UTC text form,
//! parsing vendor timestamps with any offset, and human durations (`15m`, `1d`).
//! Instants are compared as instants, never as strings from the wire.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use std::time::Duration;

/// Formats an instant in the mirror's stored form, `YYYY-MM-DDTHH:MM:SS.ffffffZ`:
/// fixed width, so text order is time order.
pub fn fmt_utc(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let (year, micros) = (t.year(), t.timestamp_subsec_micros());
    // Years outside 0000..=9999 and leap seconds take chrono's general path.
    if !(0..=9999).contains(&year) || micros >= 1_000_000 {
        return t.to_rfc3339_opts(SecondsFormat::Micros, true);
    }
    // The writer formats two instants per row: digits by hand, one allocation.
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 6, micros);
    b.iter().map(|&c| c as char).collect()
}

/// Microseconds since the Unix epoch, the unit the mirror's clock counts in.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant `micros` after the Unix epoch (saturating at chrono's range, at
/// whichever end `micros` is beyond).
pub fn from_micros(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or(if micros < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// Parses an RFC 3339 / ISO-8601 instant with any offset (`Z`, `-08:00`, `+05:30`,
/// also the basic form `+0000`) and truncates it to whole microseconds, the
/// mirror's precision. A date-time without any offset is taken as UTC.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    let t = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|n| n.and_utc())
            })
            .map_err(|_| e)?,
    };
    Ok(from_micros(to_micros(t)))
}

/// Parses a mirror-stored timestamp back into an instant.
pub fn parse_stored(s: &str) -> Option<DateTime<Utc>> {
    parse_instant(s).ok()
}

/// Parses a human duration such as `90s`, `15m`, `2h`, `1d`, `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. 90s, 15m, 2h or 1d"))
}

/// Formats a duration the way the config writes it and accepts it back:
/// `30d`, `15m`, `1h30m`, `2m30s`, `250ms` (days down to nanoseconds, largest
/// first, zero parts left out).
pub fn fmt_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_owned();
    }
    let secs = d.as_secs();
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (u64::from(d.subsec_millis()), "ms"),
        (u64::from(d.subsec_micros() % 1000), "us"),
        (u64::from(d.subsec_nanos() % 1000), "ns"),
    ];
    let text: String = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    text
}

/// `d` as a chrono duration, saturating instead of overflowing.
pub fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `t + d`, saturating at chrono's range instead of panicking as `+` does.
pub fn add_signed(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_add_signed(d)
        .unwrap_or(if d < chrono::Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// `t - d`, saturating at chrono's range instead of panicking as `-` does.
pub fn sub_signed(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_sub_signed(d)
        .unwrap_or(if d < chrono::Duration::zero() {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        })
}

/// The instant `d` before `t`, or the earliest instant chrono knows.
pub fn before(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    sub_signed(t, chrono_duration(d))
}

/// The instant `d` after `t`, or the latest instant chrono knows.
pub fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    add_signed(t, chrono_duration(d))
}

/// A time as the command line takes it (`backfill --from/--to`): an instant,
/// a date (a UTC day), or a duration back from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    At(DateTime<Utc>),
    Day(chrono::NaiveDate),
    Ago(Duration),
}

impl When {
    /// `2026-11-01T00:00:00Z` (any offset), `2026-11-01`, or `7d`.
    pub fn parse(s: &str) -> Result<When, String> {
        let s = s.trim();
        parse_instant(s)
            .map(When::At)
            .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(When::Day))
            .or_else(|_| parse_duration(s).map(When::Ago))
            .map_err(|_| {
                format!(
                    "`{s}` is neither an RFC 3339 instant (2026-11-01T00:00:00Z), a date \
                     (2026-11-01, in UTC) nor a duration back from now (7d)"
                )
            })
    }

    /// As the start of a range at `now`: a date is its first instant (00:00 UTC).
    pub fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            When::At(t) => t,
            When::Day(d) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
            When::Ago(d) => before(now, d),
        }
    }

    /// As the (exclusive) end of a range at `now`: a date is the first instant
    /// of the next day, so the day itself is included.
    pub fn end(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            When::Day(d) => match d.succ_opt() {
                Some(next) => When::Day(next).start(now),
                None => DateTime::<Utc>::MAX_UTC,
            },
            other => other.start(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_date_is_its_whole_utc_day() {
        let now = parse_instant("2026-12-05T03:00:00Z").unwrap();
        let day = When::parse("2026-11-30").unwrap();
        assert_eq!(
            day,
            When::Day(chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap())
        );
        assert_eq!(fmt_utc(day.start(now)), "2026-11-30T00:00:00.000000Z");
        assert_eq!(fmt_utc(day.end(now)), "2026-12-01T00:00:00.000000Z");
        let at = When::parse("2026-11-30T12:00:00+02:00").unwrap();
        assert_eq!(fmt_utc(at.start(now)), "2026-11-30T10:00:00.000000Z");
        assert_eq!(at.end(now), at.start(now));
        let ago = When::parse("2d").unwrap();
        assert_eq!(fmt_utc(ago.end(now)), "2026-12-03T03:00:00.000000Z");
        let e = When::parse("30/11/2026").unwrap_err();
        assert!(e.contains("a date (2026-11-01, in UTC)"), "{e}");
        assert!(When::parse("2026-02-30").is_err());
    }

    #[test]
    fn offsets_become_the_same_utc_instant() {
        let a = parse_instant("2018-02-17T02:30:00-08:00").unwrap();
        let b = parse_instant("2018-02-17T16:00:00+05:30").unwrap();
        let c = parse_instant("2018-02-17T10:30:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(fmt_utc(a), "2018-02-17T10:30:00.000000Z");
    }

    #[test]
    fn sub_microsecond_digits_are_truncated() {
        let t = parse_instant("2024-01-01T00:00:00.123456789Z").unwrap();
        assert_eq!(fmt_utc(t), "2024-01-01T00:00:00.123456Z");
    }

    #[test]
    fn basic_offsets_and_missing_offsets_are_understood() {
        let t = parse_instant("2018-02-17T10:30:00Z").unwrap();
        assert_eq!(parse_instant("2018-02-17T02:30:00.000-0800").unwrap(), t);
        assert_eq!(parse_instant("2018-02-17T10:30:00+0000").unwrap(), t);
        assert_eq!(parse_instant("2018-02-17T10:30:00").unwrap(), t);
        assert_eq!(parse_instant("2018-02-17T10:30:00.000").unwrap(), t);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for s in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00:00",
        ] {
            assert!(parse_instant(s).is_err(), "{s}");
        }
    }

    #[test]
    fn durations_parse_and_print_back() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("15 minutes ago").is_err());
        assert!(parse_duration("-1d").is_err());
        for (d, shown) in [
            ("15m", "15m"),
            ("1day", "1d"),
            ("30d", "30d"),
            ("2h 30m", "2h30m"),
            ("0s", "0s"),
            ("1500ms", "1s500ms"),
        ] {
            let parsed = parse_duration(d).unwrap();
            assert_eq!(fmt_duration(parsed), shown);
            assert_eq!(parse_duration(&fmt_duration(parsed)).unwrap(), parsed);
        }
    }

    proptest! {
        /// What the config prints, it reads back as the same duration.
        #[test]
        fn printed_durations_read_back(secs in 0u64..(200 * 365 * 86_400), nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(parse_duration(&fmt_duration(d)).unwrap(), d);
        }
    }

    #[test]
    fn instant_arithmetic_saturates_at_both_ends() {
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        let now = parse_instant("2026-11-24T12:00:00Z").unwrap();
        assert_eq!(from_micros(i64::MIN), min);
        assert_eq!(from_micros(i64::MAX), max);
        assert_eq!(before(now, Duration::MAX), min);
        assert_eq!(after(now, Duration::MAX), max);
        assert_eq!(sub_signed(now, chrono::Duration::MIN), max);
        assert_eq!(add_signed(now, chrono::Duration::MIN), min);
        assert_eq!(sub_signed(min, chrono::Duration::MAX), min);
        assert_eq!(add_signed(max, chrono::Duration::MAX), max);
        assert_eq!(
            before(now, Duration::from_secs(86_400)),
            parse_instant("2026-11-23T12:00:00Z").unwrap()
        );
        assert_eq!(chrono_duration(Duration::MAX), chrono::Duration::MAX);
        for s in [
            "+262143-12-31T23:59:59-23:59",
            "-262144-01-01T00:00:00+23:59",
            "+262143-12-31T23:59:59.999999999",
            "9999-12-31T23:59:60.999999999Z",
            "0000-01-01T00:00:00+23:59",
        ] {
            if let Ok(t) = parse_instant(s) {
                fmt_utc(t);
            }
        }
        for s in [
            "18446744073709551616s",
            "99999999999999999999d",
            "584942417355y 1y",
        ] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
        fmt_duration(Duration::MAX);
    }

    /// Strings shaped like instants, to reach deep into the parsers.
    const INSTANTISH: &str =
        "[+-]?[0-9]{1,7}-[0-9]{1,2}-[0-9]{1,2}T[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{0,12})?(Z|z|[+-][0-9]{2}:?[0-9]{2})?";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parsers_never_panic(s in any::<String>(), t in INSTANTISH, d in "[0-9]{1,25} ?(ns|us|ms|s|m|h|d|w|M|y)") {
            for text in [&s, &t, &d] {
                if let Ok(t) = parse_instant(text) {
                    // The stored form reads back, within the years it is fixed-width for.
                    let back = parse_stored(&fmt_utc(t));
                    if (0..=9999).contains(&chrono::Datelike::year(&t)) {
                        prop_assert_eq!(back, Some(t));
                    }
                }
                if let Ok(d) = parse_duration(text) {
                    fmt_duration(d);
                }
            }
        }

        #[test]
        fn instants_and_durations_never_panic(
            us in any::<i64>(),
            secs in any::<u64>(),
            nanos in 0u32..1_000_000_000,
            ms in any::<i64>(),
        ) {
            let t = from_micros(us);
            fmt_utc(t);
            let d = Duration::new(secs, nanos);
            fmt_duration(d);
            prop_assert!(before(t, d) <= t && after(t, d) >= t);
            let c = chrono::Duration::try_milliseconds(ms).unwrap_or(chrono::Duration::MIN);
            let (sum, difference) = (add_signed(t, c), sub_signed(t, c));
            if c >= chrono::Duration::zero() {
                prop_assert!(sum >= t && difference <= t);
            } else {
                prop_assert!(sum <= t && difference >= t);
            }
            let _ = chrono_duration(d);
        }

        /// The hand-written form is chrono's RFC 3339 with microseconds and `Z`.
        #[test]
        fn stored_form_is_rfc3339_micros(us in -62_000_000_000_000_000i64..253_000_000_000_000_000i64) {
            let t = from_micros(us);
            prop_assert_eq!(fmt_utc(t), t.to_rfc3339_opts(SecondsFormat::Micros, true));
        }

        /// The stored form sorts as text exactly as the instants sort, whatever
        /// offset the vendor used.
        #[test]
        fn stored_text_order_is_time_order(
            a in -2_000_000_000_000_000i64..4_000_000_000_000_000i64,
            b in -2_000_000_000_000_000i64..4_000_000_000_000_000i64,
            off_a in -50_400i32..50_400, off_b in -50_400i32..50_400,
        ) {
            // Keep years within 0000..9999 so the text stays fixed width.
            let (ta, tb) = (from_micros(a / 1000 * 1000), from_micros(b / 1000 * 1000));
            prop_assume!(fmt_utc(ta).len() == 27 && fmt_utc(tb).len() == 27);
            let wire_a = ta.with_timezone(&chrono::FixedOffset::east_opt(off_a / 60 * 60).unwrap()).to_rfc3339();
            let wire_b = tb.with_timezone(&chrono::FixedOffset::east_opt(off_b / 60 * 60).unwrap()).to_rfc3339();
            let (pa, pb) = (parse_instant(&wire_a).unwrap(), parse_instant(&wire_b).unwrap());
            prop_assert_eq!(pa, ta);
            prop_assert_eq!(pb, tb);
            prop_assert_eq!(fmt_utc(pa).cmp(&fmt_utc(pb)), pa.cmp(&pb));
            prop_assert_eq!(parse_stored(&fmt_utc(pa)), Some(pa));
        }
    }
}
