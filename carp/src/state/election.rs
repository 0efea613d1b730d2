//! The election on an authenticated advert (docs/PROTOCOL.md §5.4, §14.4): step down to
//! a better master, re-announce against a worse one, preempt with `-P`, or wait out a
//! bow-out. The same for both protocols: who is better, and how long to wait, is
//! `rules.rs`'s to say.

use std::time::Instant;

use super::rules::Offer;
use super::{Action, Carp, Protocol, Reason, State};
use crate::event::Event;

impl Carp {
    pub(super) fn elect(&mut self, now: Instant, offer: &Offer) {
        let peer = offer.src;
        let ours = self.local_rank();
        let theirs = offer.rank;
        match self.state {
            State::Init => {}
            State::Master => {
                if theirs > ours {
                    // One more advert so the new master surely hears us, then step down;
                    // a claim still waiting for the up script was never heard: drop it.
                    self.master = Some(peer);
                    if !self.claim_pending() {
                        self.send_advert(now);
                    }
                    self.set_state(State::Backup, Reason::Preempted, Some(peer));
                    self.adv_at = None;
                    self.learn_interval(offer);
                    self.arm_master_down(now);
                    self.log(Event::PreferredMaster { peer });
                } else if self.claim_pending() {
                    // The master we are taking over from serves the address until it
                    // hears our claim: nothing to re-announce, no rival.
                } else if theirs < ours {
                    // Re-announce the address, as ucarp does (docs/PROTOCOL.md §5.4);
                    // VRRP also answers with an advert at once (RFC 5798 §6.4.3 on a
                    // priority 0, keepalived on any lower one, docs/PROTOCOL.md §14.4).
                    if matches!(self.cfg.protocol, Protocol::Vrrp(_)) {
                        self.send_advert(now);
                    }
                    self.actions.push_back(Action::SendGratuitousArp);
                    self.delayed_arp = Some(2);
                    // A bow-out is a node leaving, not a rival: the leaver of a handover
                    // we just took over repeats it until it hears our first advert.
                    if !offer.leaving {
                        let slower = self.advert_period().max(offer.interval);
                        self.watch_split_brain(now, peer, slower);
                        self.log(Event::NonPreferredMaster { peer });
                    }
                }
            }
            State::Backup => {
                self.master = Some(peer);
                self.learn_interval(offer);
                let leaving = offer.leaving;
                // A demoted node never preempts. A bow-out is no master to preempt, even
                // with -P: it is the one takeover where backups must wait their turn.
                // A backup never breaks a tie: only a better level preempts.
                let preempt = self.may_preempt(now)
                    && !self.demotions.any()
                    && ours.level > theirs.level
                    && !leaving;
                // docs/PROTOCOL.md §5.15: no witness, no preemption.
                if preempt && !self.sees_witness() {
                    self.hold_back();
                }
                if preempt && self.sees_witness() {
                    self.become_master(now, Reason::Preempt, Some(peer));
                    self.log(Event::Preemption { peer });
                } else if (self.slower_than_dead(offer) || leaving) && !self.demotions.any() {
                    // The master is leaving (or will time out anyway): take over after
                    // the wait of `bow_out_wait`, unless a better backup advertises
                    // first. A repeated bow-out does not push the takeover back.
                    // A demoted node leaves bow-outs to healthy nodes and takes over
                    // only when its own timer says nobody is left: two demoted nodes
                    // must not pass the address back and forth.
                    let at = now.checked_add(self.bow_out_wait());
                    self.master_down_at = match (self.master_down_at, at) {
                        (Some(armed), Some(at)) => Some(armed.min(at)),
                        (armed, at) => at.or(armed),
                    };
                    self.bowed_out = Some(peer);
                } else {
                    self.arm_master_down(now);
                }
            }
        }
    }
}
