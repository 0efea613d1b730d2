//! Sending adverts: the counter (random until synchronised, then adopted + 1), the
//! signature, the next advert's deadline, the delayed gratuitous ARP; and what comes
//! back, the send results (docs/PROTOCOL.md §5.8) and a claim the caller held back.

use std::time::Instant;

use super::rules::{Advertisement, Stance};
use super::{Action, Carp, State, SEND_ERRORS_MAX, SEND_SUCCESSES_MIN};
use crate::event::Event;

/// SplitMix64: a tiny, well-mixed generator for the pre-synchronisation counters. It
/// only needs to be unpredictable to peers, which the caller's seed provides.
#[derive(Debug, Clone)]
pub(super) struct SplitMix64(pub(super) u64);

impl SplitMix64 {
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Carp {
    /// Handles the caller holding back a claim the machine asked to send at once (a
    /// takeover from a dead master) because our own up script waits behind another
    /// script: the address is not ours yet. The claim is then pending as after a
    /// preemption: no other advert until it goes out, and a master heard meanwhile
    /// (another backup that took over) is not re-announced against nor a split brain.
    pub fn handle_claim_deferred(&mut self, _now: Instant) {
        if self.state == State::Master && !self.stopped {
            self.master_since = None;
            self.adv_at = None;
        }
    }

    /// Handles the outcome of sending the advert of the oldest [`Action::SendAdvert`]
    /// (docs/PROTOCOL.md §5.8): three failures in a row suppress preemption, three successes
    /// lift it.
    ///
    /// The first result after a takeover whose claim waited for the up script says the
    /// claim went out: the advert timer starts from then.
    pub fn handle_send_result(&mut self, now: Instant, ok: bool) {
        if self.claim_pending() {
            self.master_since = Some(now);
            if self.handover.is_none() && !self.stopped {
                self.adv_at = now.checked_add(self.advert_period());
            }
        }
        if ok {
            if self.send_errors >= SEND_ERRORS_MAX {
                self.send_successes += 1;
                if self.send_successes >= SEND_SUCCESSES_MIN {
                    self.send_errors = 0;
                    self.send_successes = 0;
                    if self.suppress_preempt {
                        self.suppress_preempt = false;
                        self.log(Event::SendRecovered {
                            vrrp: self.vrrp_priority().is_some(),
                        });
                    }
                }
            } else {
                self.send_errors = 0;
            }
            return;
        }
        self.stats.send_errors += 1;
        self.send_successes = 0;
        self.send_errors = self.send_errors.saturating_add(1);
        if self.send_errors == SEND_ERRORS_MAX {
            self.log(Event::SendErrors {
                count: self.send_errors,
                vrrp: self.vrrp_priority().is_some(),
            });
            self.suppress_preempt = true;
            // Not while the carrier is away (the carrier grace, docs/PROTOCOL.md §5.6.1):
            // nothing is sent then, and the advert timer stays off.
            if self.state == State::Master
                && !self.stopped
                && self.handover.is_none()
                && self.link_up
            {
                self.send_advert(now);
            }
        }
    }

    pub(super) fn send_advert(&mut self, now: Instant) {
        if self.demotions.any() && self.state == State::Master {
            // A demoted master keeps offering the address: every advert is a bow-out,
            // so a healthy node that appears takes over at once (and steps us down
            // make-before-break with its first advert). It still goes out every
            // interval, so the address is never without an advertising master.
            self.send_advert_as(now, Stance::BowOut, false);
            self.adv_at = now.checked_add(self.demoted_period());
            return;
        }
        self.send_advert_as(now, Stance::Standing, false);
    }

    pub(super) fn send_advert_as(
        &mut self,
        now: Instant,
        stance: Stance,
        after_scripts: bool,
    ) -> Advertisement {
        let advert = self.make_advert(stance);
        self.actions.push_back(Action::SendAdvert {
            advert,
            after_scripts,
        });
        self.stats.adverts_sent += 1;
        // docs/PROTOCOL.md §5.2 step 6; a bow-out goes once (the handover repeats it),
        // and so does a CARP node's own 255/255 interval, BSD's bow-out.
        self.adv_at = if advert.is_bow_out() {
            None
        } else {
            now.checked_add(self.advert_period())
        };
        match self.delayed_arp {
            Some(n) if n > 1 => self.delayed_arp = Some(n - 1),
            Some(_) => {
                self.delayed_arp = None;
                if self.state == State::Master {
                    self.actions.push_back(Action::SendGratuitousArp);
                }
            }
            None => {}
        }
        advert
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn splitmix_is_deterministic_and_mixes() {
        let mut a = SplitMix64(1);
        let mut b = SplitMix64(1);
        let x = a.next_u64();
        assert_eq!(x, b.next_u64());
        assert_ne!(x, a.next_u64());
    }
}
