//! The election on an authenticated advert (docs/PROTOCOL.md §5.4): step down to a better
//! master, re-announce against a worse one, preempt with `-P`, or wait out a bow-out.

use std::time::Instant;

use super::{
    advert_interval, bow_out_delay, master_down_interval, tie_break_key, Action, Carp, Reason,
    State, BOW_OUT,
};
use crate::event::Event;
use crate::rx::VerifiedAdvert;

impl Carp {
    pub(super) fn elect(&mut self, now: Instant, adv: &VerifiedAdvert) {
        let peer = adv.src();
        let remote = advert_interval(adv.advert().advbase, adv.advert().advskew);
        let local = advert_interval(self.cfg.advbase, self.local_advskew());
        match self.state {
            State::Init => {}
            State::Master => {
                let ours = tie_break_key(self.cfg.srcip);
                let theirs = tie_break_key(peer);
                if local > remote || (local == remote && theirs < ours) {
                    // One more advert so the new master surely hears us, then step down;
                    // a claim still waiting for the up script was never heard: drop it.
                    self.master = Some(peer);
                    if !self.claim_pending() {
                        self.send_advert(now);
                    }
                    self.set_state(State::Backup, Reason::Preempted, Some(peer));
                    self.adv_at = None;
                    self.arm_master_down(now);
                    self.log(Event::PreferredMaster { peer });
                } else if self.claim_pending() {
                    // The master we are taking over from serves the address until it
                    // hears our claim: nothing to re-announce, no rival.
                } else if local < remote || (local == remote && theirs > ours) {
                    // Re-announce the address, as ucarp does (docs/PROTOCOL.md §5.4).
                    self.actions.push_back(Action::SendGratuitousArp);
                    self.delayed_arp = Some(2);
                    let adv = adv.advert();
                    // A bow-out is a node leaving, not a rival: the leaver of a handover
                    // we just took over repeats it until it hears our first advert.
                    if adv.advbase != BOW_OUT || adv.advskew != BOW_OUT {
                        self.watch_split_brain(now, peer, local.max(remote));
                        self.log(Event::NonPreferredMaster { peer });
                    }
                }
            }
            State::Backup => {
                let dead = master_down_interval(
                    self.cfg.advbase,
                    self.local_advskew(),
                    self.cfg.deadratio,
                );
                self.master = Some(peer);
                let leaving = adv.advert().advbase == BOW_OUT && adv.advert().advskew == BOW_OUT;
                // A demoted node never preempts. A bow-out is no master to preempt, even
                // with -P: it is the one takeover where backups must wait their turn.
                let preempt =
                    self.may_preempt(now) && !self.demotions.any() && local < remote && !leaving;
                // docs/PROTOCOL.md §5.15: no witness, no preemption.
                if preempt && !self.sees_witness() {
                    self.hold_back();
                }
                if preempt && self.sees_witness() {
                    self.become_master(now, Reason::Preempt, Some(peer));
                    self.log(Event::Preemption { peer });
                } else if (dead < remote || leaving) && !self.demotions.any() {
                    // The master is leaving (or will time out anyway): take over after
                    // the wait of `bow_out_delay`, unless a better backup advertises
                    // first. A repeated bow-out does not push the takeover back.
                    // A demoted node leaves bow-outs to healthy nodes and takes over
                    // only when its own timer says nobody is left: two demoted nodes
                    // must not pass the address back and forth.
                    let delay = bow_out_delay(self.cfg.advbase, self.local_advskew());
                    let at = now.checked_add(delay);
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
