//! The clock the timerfd runs on, paired once with `Instant`, so that deadlines are
//! armed as absolute times.

use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;

/// The monotonic clock as the timerfd reads it, paired once with `Instant`: on Linux
/// both are `CLOCK_MONOTONIC`, so a deadline can be armed as an absolute time
/// (`TFD_TIMER_ABSTIME`) without reading the clock again, and without the drift of a
/// relative time computed from a `now` read earlier.
#[derive(Debug, Clone, Copy)]
pub(super) struct Monotonic {
    base: Instant,
    base_time: Duration,
}

impl Monotonic {
    /// Reads both clocks, back to back.
    pub(super) fn new() -> nix::Result<Monotonic> {
        #[allow(clippy::disallowed_methods)] // the pairing, once at start
        let base = Instant::now();
        let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
        Ok(Monotonic {
            base,
            base_time: Duration::from(ts),
        })
    }

    /// The absolute time of `at` on `CLOCK_MONOTONIC`. An instant before the pairing
    /// maps to the pairing itself, which is past: the timer fires at once.
    pub(super) fn timespec(&self, at: Instant) -> TimeSpec {
        let t = self.base_time + at.saturating_duration_since(self.base);
        TimeSpec::from_duration(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The timer's absolute time follows `Instant` one for one, and an instant before
    /// the pairing is in the past (fires at once), never zero (which would disarm).
    #[test]
    fn deadlines_map_to_monotonic_time() {
        let clock = Monotonic::new().unwrap();
        let at = clock.base + Duration::from_millis(1500);
        let ts = Duration::from(clock.timespec(at));
        assert_eq!(ts - clock.base_time, Duration::from_millis(1500));
        let before = clock
            .base
            .checked_sub(Duration::from_secs(1))
            .unwrap_or(clock.base);
        assert_eq!(Duration::from(clock.timespec(before)), clock.base_time);
        assert!(clock.base_time > Duration::ZERO);
        // The pairing agrees with a fresh reading of the kernel's clock.
        let kernel =
            Duration::from(nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap());
        #[allow(clippy::disallowed_methods)]
        let mapped = Duration::from(clock.timespec(Instant::now()));
        assert!(
            mapped.abs_diff(kernel) < Duration::from_millis(50),
            "{mapped:?} {kernel:?}"
        );
    }
}
