//! Carrier changes (docs/PROTOCOL.md §5.6, §5.6.1). A backup that loses its carrier
//! stops its timers and ignores everything until the carrier returns, then starts the
//! election over, as ucarp does. A master keeps the address for [`super::carrier_grace`]
//! (1.9 s at the defaults), the time in which no backup can have taken over: a carrier
//! back within it (a flap, a switch port renegotiating) makes it advertise and send a
//! gratuitous ARP at once, and the address never moved; a carrier still missing at its
//! end makes it a BACKUP, before any backup takes over.

use std::time::{Duration, Instant};

use super::handover::Leaving;
use super::{Action, Carp, Reason, State};
use crate::event::Event;

/// A master without carrier keeping the address (docs/PROTOCOL.md §5.6.1).
#[derive(Debug, Clone, Copy)]
pub(super) struct CarrierHold {
    /// The end of the grace: BACKUP then, unless the carrier is back.
    pub(super) until: Instant,
    /// The grace it was given, from its last advert.
    grace: Duration,
}

impl Carp {
    /// Handles a change of carrier (IFF_RUNNING); see the module documentation. The
    /// caller does not report link changes under `-S`.
    pub fn handle_link(&mut self, now: Instant, up: bool) {
        if self.stopped || up == self.link_up {
            return;
        }
        self.link_up = up;
        if up {
            match self.carrier_hold.take() {
                Some(hold) if now < hold.until => self.carrier_back_in_time(now, hold),
                // Back only after the grace ended (the process ran late, or was frozen
                // meanwhile): a backup may hold the address by now. The grace ends
                // first, as if its deadline had been handled on time.
                Some(_) => {
                    self.carrier_lost();
                    self.carrier_back(now);
                }
                None => self.carrier_back(now),
            }
            return;
        }
        let grace = self.release_window();
        let holding = self.state == State::Master
            && self.handover.is_none()
            && !self.claim_pending()
            && self.waking.is_none()
            && !grace.is_zero();
        // The window runs from our last advert (the next one is due an interval after
        // it), not from when the loss is noticed: a master late with its adverts (it
        // stalled, or was frozen while the carrier went) has less of it left, or none.
        let from = self.adv_at.map_or(now, |due| due.min(now));
        if holding {
            if let Some(until) = from.checked_add(grace).filter(|until| *until > now) {
                self.carrier_hold = Some(CarrierHold { until, grace });
                self.adv_at = None;
                self.log(Event::LinkDownHolding { grace: until - now });
                return;
            }
        }
        self.carrier_lost();
    }

    /// The carrier grace ended with the carrier still missing.
    pub(super) fn carrier_grace_over(&mut self) {
        self.carrier_hold = None;
        self.carrier_lost();
    }

    /// BACKUP until the carrier returns: the down script, no timers.
    fn carrier_lost(&mut self) {
        self.log(Event::LinkDown);
        let leaving = self.handover.take().map(|h| h.leaving);
        self.set_state(State::Backup, Reason::LinkDown, None);
        self.adv_at = None;
        self.master_down_at = None;
        // Nobody can hear a bow-out now; a shutdown that waited for one is over.
        if leaving == Some(Leaving::Exit) {
            self.stop();
        }
    }

    /// The carrier returned to a backup: the election starts over.
    fn carrier_back(&mut self, now: Instant) {
        self.log(Event::LinkUp);
        self.arm_master_down(now);
        self.hold_preemption(now);
    }

    /// The carrier came back within the grace: nobody can have taken over, so the
    /// master advertises and points ARP caches at itself at once. A demotion that came
    /// meanwhile starts its handover now.
    fn carrier_back_in_time(&mut self, now: Instant, hold: CarrierHold) {
        self.log(Event::LinkBackInTime);
        self.actions.push_back(Action::SendGratuitousArp);
        let Some(d) = self.demotions.iter().next() else {
            self.send_advert(now);
            return;
        };
        self.start_handover(now, Leaving::Demoted(d));
        if !self.sees_witness() {
            // Every witness was lost while the carrier was away (docs/PROTOCOL.md
            // §5.15): a backup that cannot hear us may take over from the end of the
            // grace on (`handle_witness` brought it forward to the release time of
            // the last answer): unanswered by then, release.
            if let Some(h) = self.handover.as_mut() {
                h.release = Some(hold.until);
            }
        }
    }

    /// Every witness was lost during the grace: the address must be gone by the
    /// release time of the last answer (docs/PROTOCOL.md §5.15), if that comes first.
    pub(super) fn carrier_hold_witness_lost(&mut self, now: Instant) {
        let seen = self.witness_seen;
        if let Some(hold) = self.carrier_hold.as_mut() {
            if let Some(release) = seen.and_then(|t| t.checked_add(hold.grace)) {
                hold.until = hold.until.min(release.max(now));
            }
        }
    }
}
