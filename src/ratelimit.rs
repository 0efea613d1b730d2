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
        self.check_many(now, period, 1)
    }

    /// Records `n` occurrences at `now` (none when `n` is 0). Returns `Some(s)` when
    /// a line should be logged for one of them, `s` being how many were suppressed
    /// before; the other `n - 1` count as suppressed, for the next line to report.
    pub fn check_many(&mut self, now: Instant, period: Duration, n: u64) -> Option<u64> {
        if n == 0 {
            return None;
        }
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= period);
        if due {
            self.last = Some(now);
            Some(std::mem::replace(&mut self.suppressed, n - 1))
        } else {
            self.suppressed = self.suppressed.saturating_add(n);
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

    /// Records `n` rejections at once (see [`Budget::check_many`]).
    pub fn check_many(&mut self, reason: RejectReason, now: Instant, n: u64) -> Option<u64> {
        self.slots[reason as usize].check_many(now, self.period, n)
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
    fn many_at_once_log_one_line_and_carry_the_rest() {
        #[allow(clippy::disallowed_methods)] // origin of virtual time
        let t0 = Instant::now();
        let mut r = RateLimit::new(Duration::from_secs(10));
        assert_eq!(r.check_many(RejectReason::BadTtl, t0, 0), None);
        assert_eq!(r.check_many(RejectReason::BadTtl, t0, 500), Some(0));
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(r.check_many(RejectReason::BadTtl, t1, 100), None);
        let t2 = t0 + Duration::from_secs(10);
        assert_eq!(r.check(RejectReason::BadTtl, t2), Some(599));
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
