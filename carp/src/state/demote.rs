//! Demotions: maintenance (SIGUSR2), a failing health check, a tracked interface
//! without carrier, a failed up script. The first one on makes a master hand over and a
//! backup least preferred; the last one off lets the node compete again.

use std::time::Instant;

use super::handover::Leaving;
use super::{Carp, Demotion, State};
use crate::event::Event;

impl Carp {
    /// Handles SIGUSR2: toggles maintenance mode. Leaving it also forgets a failed up
    /// script (the operator says it is fixed).
    pub fn handle_demote(&mut self, now: Instant) {
        let on = !self.demotions.contains(Demotion::Maintenance);
        if !on {
            self.set_demotion(now, Demotion::UpFailed, false);
        }
        self.set_demotion(now, Demotion::Maintenance, on);
    }

    /// Handles the health check's verdict: a failing check demotes the node.
    pub fn handle_health(&mut self, now: Instant, healthy: bool) {
        self.set_demotion(now, Demotion::CheckFailed, !healthy);
    }

    /// Handles the carrier of the tracked interfaces: any without carrier demotes.
    pub fn handle_tracked_links(&mut self, now: Instant, all_up: bool) {
        self.set_demotion(now, Demotion::TrackedLinkDown, !all_up);
    }

    /// Handles the outcome of an up script under `--up-must-succeed`: a failure (or a
    /// timeout) demotes the node, which hands the address back rather than sit as a
    /// master that holds none; a later success clears it.
    pub fn handle_up_result(&mut self, now: Instant, ok: bool) {
        self.set_demotion(now, Demotion::UpFailed, !ok);
    }

    /// Turns one demotion on or off. The first one on makes a master hand over (see the
    /// module documentation) and a backup least preferred; the last one off lets the
    /// node compete normally again, and with `-P` take the address back.
    pub(super) fn set_demotion(&mut self, now: Instant, d: Demotion, on: bool) {
        if self.stopped {
            return;
        }
        let was = self.demotions.any();
        if !self.demotions.set(d, on) {
            return;
        }
        self.log(Event::Demotion { demotion: d, on });
        match (was, self.demotions.any()) {
            (false, true) => match self.state {
                // Our claim never went out: the master we were taking over from still
                // serves the address. Step back quietly.
                State::Master if self.claim_pending() => {
                    self.set_state(State::Backup, d.reason(), None);
                    self.arm_master_down(now);
                }
                State::Master if self.handover.is_none() && self.link_up => {
                    self.start_handover(now, Leaving::Demoted(d))
                }
                // Least preferred from now on, in the timer as in the comparison.
                State::Backup if self.link_up => self.arm_master_down(now),
                _ => {}
            },
            (true, false) => {
                // Not gone yet, and nobody has taken over: keep the address and
                // advertise normally again.
                if self
                    .handover
                    .is_some_and(|h| h.leaving != Leaving::Exit && h.successor.is_none())
                {
                    self.handover = None;
                    self.send_advert(now);
                } else if self.state == State::Backup && self.link_up {
                    self.arm_master_down(now);
                }
            }
            _ => {}
        }
    }
}
