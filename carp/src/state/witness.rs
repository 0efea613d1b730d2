//! Witnesses (`--witness`, docs/PROTOCOL.md §5.15): hosts outside the group, typically the
//! gateway, whose answers tell a node that it is on the side of the network that
//! matters. The daemon probes them and reports with [`Carp::handle_witness`]; this part
//! decides what that means:
//!
//! * a BACKUP that sees no witness never takes over: not at its master-down deadline,
//!   not on a bow-out, not by preemption (one warning per episode);
//! * a MASTER that loses every witness is demoted ([`Demotion::NoWitness`]) and hands
//!   over make-before-break like any demoted master; but if nobody answers its bow-out
//!   by [`witness_release_after`] after the last answer, it is cut off, and it releases
//!   the address (BACKUP, down script) before a backup on the other side of the cut can
//!   take over;
//! * when a witness answers again the demotion ends and the node competes normally.
//!
//! Without `--witness` ([`Config::witness`] false) none of this runs.
//!
//! [`WitnessSchedule`] is the prober's clock, pure so that the daemon and the
//! virtual-clock tests run the same code: when to probe, and when the silence of every
//! witness makes them lost.

use std::time::{Duration, Instant};

use super::handover::Leaving;
use super::{Carp, Demotion, State};
use crate::event::Event;

/// How often witnesses are probed, and how long their silence takes to count as
/// lost: [`super::witness_probe_interval`] and [`super::witness_lost_after`] for CARP,
/// the same rule over the VRRP interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessTiming {
    /// Between two probes of each witness.
    pub period: Duration,
    /// Without any answer for this long, every witness is lost.
    pub lost_after: Duration,
}

/// What [`WitnessSchedule::handle_timeout`] asks of the prober.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WitnessTick {
    /// Every witness is lost: report it with `Carp::handle_witness(now, false)`.
    pub lost: bool,
    /// Send each witness its probe now.
    pub probe: bool,
}

/// The prober's schedule (docs/PROTOCOL.md §5.15): a probe every
/// [`witness_probe_interval`], and every witness lost after [`witness_lost_after`] of
/// probing without an answer. Silence only counts while probes go out: after a stall
/// (the process did not run for a probe period or more: a frozen VM, SIGSTOP), the
/// loss time starts over from the first probe after it, so a stall shorter than the
/// dead time, which the state machine rides out, is no loss of the witnesses.
#[derive(Debug, Clone)]
pub struct WitnessSchedule {
    period: Duration,
    lost_after: Duration,
    /// The next probes; `None` only if the clock cannot represent it.
    next_probe: Option<Instant>,
    /// When a witness last answered.
    last_answer: Option<Instant>,
    /// The first probe after a stall: silence counts from here, not from before it.
    resumed: Option<Instant>,
    /// What the state machine was last told.
    reachable: bool,
}

impl WitnessSchedule {
    /// A schedule with this timing (from [`super::Config::witness_timing`]) whose
    /// first probes are due at `now`.
    pub fn new(timing: WitnessTiming, now: Instant) -> WitnessSchedule {
        WitnessSchedule {
            period: timing.period,
            lost_after: timing.lost_after,
            next_probe: Some(now),
            last_answer: None,
            resumed: None,
            reachable: false,
        }
    }

    /// Returns true while a witness answered within the loss time, as last reported.
    pub fn reachable(&self) -> bool {
        self.reachable
    }

    /// Returns when [`handle_timeout`](Self::handle_timeout) next has work: the next
    /// probe, or the loss of every witness if that comes first.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.lost_at(), self.next_probe]
            .into_iter()
            .flatten()
            .min()
    }

    fn lost_at(&self) -> Option<Instant> {
        let last = self.last_answer.filter(|_| self.reachable)?;
        last.max(self.resumed.unwrap_or(last))
            .checked_add(self.lost_after)
    }

    /// The passing of time: whether every witness is now lost, and whether to probe.
    pub fn handle_timeout(&mut self, now: Instant) -> WitnessTick {
        let mut tick = WitnessTick::default();
        if let Some(due) = self.next_probe.filter(|t| *t <= now) {
            // A whole period late: the process did not run, and sent no probe to be
            // answered. That silence is no loss; count afresh from this probe.
            let next = due.checked_add(self.period);
            if next.is_none_or(|t| t <= now) {
                self.resumed = Some(now);
            }
            tick.probe = true;
            // After a stall, start afresh rather than catch up.
            self.next_probe = match next {
                Some(t) if t > now => Some(t),
                _ => now.checked_add(self.period),
            };
        }
        if self.lost_at().is_some_and(|t| t <= now) {
            self.reachable = false;
            tick.lost = true;
        }
        tick
    }

    /// A witness answered at `now`; report it with `Carp::handle_witness(now, true)`.
    /// Returns true when none had answered within the loss time until then.
    pub fn answered(&mut self, now: Instant) -> bool {
        self.last_answer = Some(now);
        !std::mem::replace(&mut self.reachable, true)
    }
}

impl Carp {
    /// Handles the witnesses' verdict: `reachable` is true each time a witness answers
    /// (call it for every answer: the last one dates the release), false once none has
    /// answered for [`witness_lost_after`](super::witness_lost_after). Ignored without
    /// `--witness`.
    pub fn handle_witness(&mut self, now: Instant, reachable: bool) {
        if self.stopped || !self.cfg.witness {
            return;
        }
        if reachable {
            self.witness_seen = Some(now);
        }
        if reachable == self.witness_up {
            return;
        }
        self.witness_up = reachable;
        if reachable {
            if let Some(h) = self.handover.as_mut() {
                h.release = None;
            }
            self.set_demotion(now, Demotion::NoWitness, false);
            if std::mem::take(&mut self.witness_held) {
                self.log(Event::WitnessBack);
                if self.state == State::Backup && self.link_up && self.master_down_at.is_none() {
                    self.arm_master_down(now);
                }
            }
            return;
        }
        // The skew our adverts had until now: the demotion is about to change it.
        let release = self.release_window();
        let release_at = self
            .witness_seen
            .and_then(|t| t.checked_add(release))
            .unwrap_or(now)
            .max(now);
        self.set_demotion(now, Demotion::NoWitness, true);
        // Without carrier, in its grace: it must not outlast the release either.
        self.carrier_hold_witness_lost(now);
        // Already demoted for another reason, this master stayed: it must go now.
        if self.state == State::Master
            && self.link_up
            && self.handover.is_none()
            && !self.claim_pending()
        {
            self.start_handover(now, Leaving::Demoted(Demotion::NoWitness));
        }
        if let Some(h) = self.handover.as_mut() {
            h.release = Some(release_at);
        }
    }

    /// With `--witness`, whether a witness answers (within the loss time); `None`
    /// without the option.
    pub fn witness(&self) -> Option<bool> {
        self.cfg.witness.then_some(self.witness_up)
    }

    /// Returns true when this node may take the address: no `--witness`, or a witness
    /// answers.
    pub fn sees_witness(&self) -> bool {
        !self.cfg.witness || self.witness_up
    }

    /// A takeover this node would make, held back because no witness answers: says so
    /// once per episode.
    pub(super) fn hold_back(&mut self) {
        if !self.witness_held {
            self.witness_held = true;
            self.log(Event::WitnessHoldBack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::{witness_lost_after, witness_probe_interval};

    /// Probes every period; lost a loss time after the last answer; a stall restarts
    /// the count instead of being taken for silence.
    #[test]
    fn schedule_counts_only_silence_while_probing() {
        // Only an origin: every instant below is this one plus durations.
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let p = witness_probe_interval(1, 0, 3);
        let w = witness_lost_after(1, 0, 3);
        let mut s = WitnessSchedule::new(
            WitnessTiming {
                period: p,
                lost_after: w,
            },
            t0,
        );
        assert_eq!(s.poll_timeout(), Some(t0));
        assert!(s.handle_timeout(t0).probe);
        assert!(s.answered(t0));
        assert!(!s.answered(t0), "already reachable");
        assert_eq!(s.poll_timeout(), Some(t0 + p));
        // Unanswered probes, on time: lost at exactly W.
        let mut now = t0;
        while now + p < t0 + w {
            now += p;
            assert_eq!(
                s.handle_timeout(now),
                WitnessTick {
                    lost: false,
                    probe: true
                }
            );
        }
        assert_eq!(s.poll_timeout(), Some(t0 + w));
        assert!(s.handle_timeout(t0 + w).lost);
        assert!(!s.reachable());
        assert!(!s.handle_timeout(t0 + w * 3).lost, "reported once");

        // A stall of 2 W right after an answer: no loss at the thaw, a probe, and the
        // loss time counts from it.
        let mut s = WitnessSchedule::new(
            WitnessTiming {
                period: p,
                lost_after: w,
            },
            t0,
        );
        s.handle_timeout(t0);
        s.answered(t0);
        let thaw = t0 + w * 2;
        assert_eq!(
            s.handle_timeout(thaw),
            WitnessTick {
                lost: false,
                probe: true
            }
        );
        assert_eq!(s.poll_timeout(), Some(thaw + p));
        let mut now = thaw;
        while now + p < thaw + w {
            now += p;
            assert!(!s.handle_timeout(now).lost);
        }
        assert!(s.handle_timeout(thaw + w).lost);
    }
}
