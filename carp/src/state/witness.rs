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

use std::time::Instant;

use super::handover::Leaving;
use super::{witness_release_after, Carp, Demotion, State};
use crate::event::Event;

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
        let release =
            witness_release_after(self.cfg.advbase, self.local_advskew(), self.cfg.deadratio);
        let release_at = self
            .witness_seen
            .and_then(|t| t.checked_add(release))
            .unwrap_or(now)
            .max(now);
        self.set_demotion(now, Demotion::NoWitness, true);
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
