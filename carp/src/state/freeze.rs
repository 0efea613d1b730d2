//! A master that was frozen (a paused or migrating VM, SIGSTOP) for longer than a dead
//! time. While it was silent a backup took over; if it simply advertised again, the
//! address would move back at once, a second move nobody asked for. Instead it notices
//! the gap from `now` at its first input, keeps quiet for one dead time and listens:
//!
//! * another node advertises as master: without `-P`, or when that node is preferred,
//!   this one yields (BACKUP, down script); with `-P` and the better interval it takes
//!   the address back make-before-break (it still holds it): claim and gratuitous ARP
//!   at once, and the other node steps down on hearing it;
//! * nobody does: it advertises again, with a gratuitous ARP.
//!
//! Pure, like the rest of the machine: the gap is read from the advert timer.

use std::time::Instant;

use super::rules::Offer;
use super::{Action, Carp, Reason, State};
use crate::event::Event;

impl Carp {
    /// Notices, first thing in every input, that this master has missed its own adverts
    /// for longer than a dead time, and starts listening.
    pub(super) fn notice_freeze(&mut self, now: Instant) {
        if self.state != State::Master
            || self.waking.is_some()
            || self.handover.is_some()
            || self.claim_pending()
        {
            return;
        }
        let Some(due) = self.adv_at else {
            return;
        };
        let interval = self.advert_period();
        let dead = self.own_dead_time();
        let last_sent = due.checked_sub(interval).unwrap_or(due);
        let silent = now.saturating_duration_since(last_sent);
        if silent < dead {
            return;
        }
        self.adv_at = None;
        self.delayed_arp = None;
        self.waking = Some(now.checked_add(dead).unwrap_or(now));
        self.log(Event::Frozen { silent });
    }

    /// The listening after a freeze ended with nobody heard: advertise again.
    pub(super) fn resume_after_freeze(&mut self, now: Instant) {
        self.waking = None;
        self.log(Event::ResumeAfterFreeze);
        self.send_advert(now);
        self.actions.push_back(Action::SendGratuitousArp);
    }

    /// An advert heard while listening after a freeze: yield to the node that took
    /// over, or take the address back from it with `-P`.
    pub(super) fn heard_after_freeze(&mut self, now: Instant, offer: &Offer) {
        let peer = offer.src;
        if offer.leaving {
            // Whoever took over is leaving again: the address stays here.
            self.resume_after_freeze(now);
            return;
        }
        let preferred = self.local_rank() > offer.rank;
        self.waking = None;
        if self.may_preempt(now) && !self.demotions.any() && self.sees_witness() && preferred {
            self.log(Event::ReclaimAfterFreeze { peer });
            // A fresh claim: the other master stepping down is no split brain.
            self.master_since = Some(now);
            self.send_advert(now);
            self.actions.push_back(Action::SendGratuitousArp);
        } else {
            self.log(Event::YieldAfterFreeze { peer });
            self.master = Some(peer);
            self.set_state(State::Backup, Reason::Preempted, Some(peer));
            self.adv_at = None;
            self.learn_interval(offer);
            self.arm_master_down(now);
        }
    }
}
