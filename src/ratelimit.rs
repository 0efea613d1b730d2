//! Rate limiting of repeated log lines (bad packets, sends to an unreachable peer): at
//! most one line per kind per period, and that line says how many were suppressed
//! since the last one.
//!
//! ucarp logs every bad packet (docs/PROTOCOL.md §4.3), so another VRRP speaker on the group, or
//! a flood, fills the log. Pure: time comes in as an argument.

use std::fmt;
use std::time::{Duration, Instant};

use crate::rx::RejectReason;

/// The default period: one line per reason per 10 s.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(10);

/// The end of a rate-limited line: ` (N more suppressed)` when lines like it were left
/// out since the last one, nothing otherwise. The one wording of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed(pub u64);

impl fmt::Display for Suppressed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, " ({n} more suppressed)"),
        }
    }
}

/// The budget of one kind of line: when it was last logged, and how many were
/// suppressed since.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    last: Option<Instant>,
    suppressed: u64,
}

impl Budget {
    /// Records one occurrence at `now`. Returns `Some(n)` when a line should be logged
    /// (at most one per `period`), `n` being how many were suppressed since the
    /// previous line; `None` to stay quiet.
    pub fn check(&mut self, now: Instant, period: Duration) -> Option<u64> {
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= period);
        if due {
            self.last = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
            None
        }
    }
}

/// Per-reason log limiter.
#[derive(Debug, Clone)]
pub struct RateLimit {
    period: Duration,
    slots: [Budget; RejectReason::ALL.len()],
}

impl RateLimit {
    /// Allows one line per reason per `period`.
    pub fn new(period: Duration) -> RateLimit {
        RateLimit {
            period,
            slots: [Budget::default(); RejectReason::ALL.len()],
        }
    }

    /// Records one rejection at `now`. Returns `Some(n)` when a line should be logged,
    /// `n` being how many were suppressed since the previous line; `None` to stay quiet.
    pub fn check(&mut self, reason: RejectReason, now: Instant) -> Option<u64> {
        self.slots[reason as usize].check(now, self.period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suppressed_note_appears_only_after_suppression() {
        assert_eq!(format!("x{}", Suppressed(0)), "x");
        assert_eq!(format!("x{}", Suppressed(3)), "x (3 more suppressed)");
    }

    #[test]
    fn one_line_per_reason_per_period() {
        #[allow(clippy::disallowed_methods)] // origin of virtual time
        let t0 = Instant::now();
        let mut r = RateLimit::new(Duration::from_secs(10));
        assert_eq!(r.check(RejectReason::BadDigest, t0), Some(0));
        for i in 1..=99 {
            let t = t0 + Duration::from_millis(i * 100);
            assert_eq!(r.check(RejectReason::BadDigest, t), None);
        }
        // Another reason has its own budget.
        assert_eq!(
            r.check(RejectReason::BadTtl, t0 + Duration::from_secs(1)),
            Some(0)
        );
        assert_eq!(
            r.check(RejectReason::BadDigest, t0 + Duration::from_secs(10)),
            Some(99)
        );
        assert_eq!(
            r.check(RejectReason::BadDigest, t0 + Duration::from_secs(25)),
            Some(0)
        );
    }
}
