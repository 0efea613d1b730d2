//! Carrier changes (docs/PROTOCOL.md §5.6, §5.6.1). A backup that loses its carrier
//! stops its timers and ignores everything until the carrier returns, then starts the
//! election over, as ucarp does. A master keeps the address for [`carrier_grace`]
//! (1.9 s at the defaults), the time in which no backup can have taken over: a carrier
//! back within it (a flap, a switch port renegotiating) makes it advertise and send a
//! gratuitous ARP at once, and the address never moved; a carrier still missing at its
//! end makes it a BACKUP, before any backup takes over.

use std::time::Instant;

use super::handover::Leaving;
use super::{carrier_grace, Action, Carp, Reason, State};
use crate::event::Event;

impl Carp {
    /// Handles a change of carrier (IFF_RUNNING); see the module documentation. The
    /// caller does not report link changes under `-S`.
    pub fn handle_link(&mut self, now: Instant, up: bool) {
        if self.stopped || up == self.link_up {
            return;
        }
        self.link_up = up;
        if up {
            if self.carrier_hold.take().is_some() {
                self.carrier_back_in_time(now);
            } else {
                self.log(Event::LinkUp);
                self.arm_master_down(now);
                self.hold_preemption(now);
            }
            return;
        }
        let grace = carrier_grace(self.cfg.advbase, self.local_advskew(), self.cfg.deadratio);
        let holding = self.state == State::Master
            && self.handover.is_none()
            && !self.claim_pending()
            && self.waking.is_none()
            && !grace.is_zero();
        if holding {
            if let Some(until) = now.checked_add(grace) {
                self.carrier_hold = Some(until);
                self.adv_at = None;
                self.log(Event::LinkDownHolding { grace });
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

    /// The carrier came back within the grace: nobody can have taken over, so the
    /// master advertises and points ARP caches at itself at once. A demotion that came
    /// meanwhile starts its handover now.
    fn carrier_back_in_time(&mut self, now: Instant) {
        self.log(Event::LinkBackInTime);
        self.actions.push_back(Action::SendGratuitousArp);
        match self.demotions.iter().next() {
            Some(d) => self.start_handover(now, Leaving::Demoted(d)),
            None => self.send_advert(now),
        }
    }
}
