//! Deterministic, index-addressable data: event `i` of a stream is a pure function
//! of `(seed, stream, i)`, so any range is produced on the fly in O(log n) to find
//! and O(k) to emit, and memory does not grow with volume.

/// SplitMix64's finalizer: a fast, well-mixed 64-bit hash.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A hash of `(seed, tag, i)`; different tags give independent sequences.
pub fn h(seed: u64, tag: u64, i: u64) -> u64 {
    mix(seed ^ mix(tag.wrapping_mul(0xA24B_AED4_963E_E407) ^ mix(i)))
}

/// A hash mapped to `[0, 1)`.
pub fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// One element of `items`, chosen by `x`.
pub fn pick<T>(x: u64, items: &[T]) -> &T {
    &items[(x % items.len() as u64) as usize]
}

/// A stable tag for a name, so streams get independent sequences.
pub fn tag(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325u64, |acc, b| {
        (acc ^ b as u64).wrapping_mul(0x100_0000_01B3)
    })
}

/// Lowercase hex of `n` bytes drawn from the hash sequence `(seed, tag, i, k)`.
pub fn hex(seed: u64, tag: u64, i: u64, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut k = 0u64;
    while out.len() < len {
        let x = h(seed ^ k.wrapping_mul(0x51_7CC1_B727_220A), tag, i);
        out.push_str(&format!("{x:016x}"));
        k += 1;
    }
    out.truncate(len);
    out
}

/// A UUID-shaped id (version 4 layout) from the hash sequence.
pub fn uuid(seed: u64, tag: u64, i: u64) -> String {
    let x = hex(seed, tag, i, 32);
    format!(
        "{}-{}-4{}-{}{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        pick(h(seed, tag ^ 7, i), &['8', '9', 'a', 'b']),
        &x[17..20],
        &x[20..32]
    )
}

/// The times of one stream's events: event `i` falls in
/// `[origin + i·step, origin + (i+1)·step)`, truncated to whole milliseconds, so
/// times never decrease with `i`. Groups of three sometimes share one instant:
/// equal timestamps occur, and straddle 100-entry pages.
#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    pub seed: u64,
    pub tag: u64,
    /// Microseconds since the epoch of event 0's slot.
    pub origin_us: i64,
    /// Microseconds between slots (at least 1).
    pub step_us: i64,
    /// No event at or after this instant (µs), if set.
    pub end_us: Option<i64>,
}

impl Timeline {
    pub fn new(seed: u64, tag: u64, origin_us: i64, per_day: u64, end_us: Option<i64>) -> Timeline {
        let step_us = (86_400_000_000 / per_day.max(1) as i64).max(1);
        Timeline {
            seed,
            tag,
            origin_us,
            step_us,
            end_us,
        }
    }

    fn base(&self, i: u64) -> i64 {
        let jitter = (h(self.seed, self.tag, i) % self.step_us as u64) as i64;
        let t = self.origin_us + i as i64 * self.step_us + jitter;
        t - t.rem_euclid(1000)
    }

    /// The instant of event `i`, in µs since the epoch.
    pub fn time(&self, i: u64) -> i64 {
        let group = i / 3;
        if h(self.seed, self.tag ^ 0x7135, group) % 6 == 0 {
            self.base(group * 3)
        } else {
            self.base(i)
        }
    }

    /// The number of events that exist at all (bounded only by `end_us`).
    fn limit(&self) -> u64 {
        match self.end_us {
            Some(end) => self.first_at_or_after_unbounded(end),
            None => u64::MAX / 4,
        }
    }

    fn first_at_or_after_unbounded(&self, t: i64) -> u64 {
        if t <= self.origin_us {
            return 0;
        }
        // Millisecond truncation and tied groups put event i up to 999 µs and three
        // slots before its own slot: search far enough past t's slot.
        let (mut lo, mut hi) = (
            0u64,
            ((t - self.origin_us + 1000) / self.step_us) as u64 + 5,
        );
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.time(mid) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The first index whose time is at or after `t` (µs).
    pub fn first_at_or_after(&self, t: i64) -> u64 {
        self.first_at_or_after_unbounded(t).min(self.limit())
    }

    /// Indexes of the events with `from ≤ time < to` (µs).
    pub fn range(&self, from: i64, to: i64) -> std::ops::Range<u64> {
        let lo = self.first_at_or_after(from);
        let hi = self.first_at_or_after(to).max(lo);
        lo..hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn times_never_decrease_and_ranges_are_exact(
            seed in any::<u64>(), per_day in 1u64..2_000_000, i in 0u64..1_000_000,
            a in 0i64..40 * 86_400_000_000, len in 0i64..5 * 86_400_000_000,
        ) {
            let tl = Timeline::new(seed, 3, 1_700_000_000_000_000, per_day, None);
            prop_assert!(tl.time(i) <= tl.time(i + 1));
            prop_assert_eq!(tl.time(i) % 1000, 0);
            let (from, to) = (tl.origin_us + a, tl.origin_us + a + len);
            let r = tl.range(from, to);
            if r.start > 0 { prop_assert!(tl.time(r.start - 1) < from); }
            if !r.is_empty() {
                prop_assert!(tl.time(r.start) >= from);
                prop_assert!(tl.time(r.end - 1) < to);
            }
            prop_assert!(tl.time(r.end) >= to);
        }
    }

    #[test]
    fn end_bounds_the_stream() {
        let tl = Timeline::new(1, 2, 0, 86_400, Some(100_000_000));
        let r = tl.range(0, i64::MAX / 2);
        // 100 one-second slots; tied groups may pull a few more inside the end.
        assert!((98..=103).contains(&r.end), "{r:?}");
        assert!(tl.time(r.end - 1) < 100_000_000 && tl.time(r.end) >= 100_000_000);
    }

    #[test]
    fn ties_occur() {
        let tl = Timeline::new(5, 2, 0, 10_000, None);
        let ties = (0..1000).filter(|i| tl.time(*i) == tl.time(i + 1)).count();
        assert!(ties > 50, "{ties}");
    }

    #[test]
    fn uuids_look_like_uuids() {
        let u = uuid(1, 2, 3);
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_ne!(u, uuid(1, 2, 4));
    }
}
