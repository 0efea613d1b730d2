//! The planned handover (make-before-break): a leaving master sends bow-outs and keeps
//! the address until a successor advertises or its hold ends; then it exits (`-z`) or
//! stays a backup (demoted).

use std::net::IpAddr;
use std::time::Instant;

use super::rules::{Advertisement, Stance};
use super::{Action, Carp, Demotion, Reason, State};
use crate::event::Event;

/// Why a handover started, and so what happens when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Leaving {
    /// Shutdown under `-z`: exit once the successor is heard (or at the bound).
    Exit,
    /// Demoted: stay as a backup once the successor is heard; stay master, least
    /// preferred, when nobody answers, unless every witness is lost: then release.
    Demoted(Demotion),
}

/// A master handing the address over (make-before-break).
#[derive(Debug, Clone, Copy)]
pub(super) struct Handover {
    pub(super) leaving: Leaving,
    /// Give up waiting for a successor at this instant.
    pub(super) until: Instant,
    /// Send the next bow-out advert at this instant.
    pub(super) next_bow_out: Instant,
    /// The first bow-out: repeats are retransmissions of it, with its counter, so a
    /// successor that missed some still continues the count where we stand (a peer's
    /// replay guard accepts its claim), and a repeat is no new advert.
    pub(super) bow_out: Option<Advertisement>,
    /// Every witness is lost (docs/PROTOCOL.md §5.15): unanswered at this instant (or at
    /// `until`, whichever comes first), the address is released, not kept.
    pub(super) release: Option<Instant>,
}

impl Carp {
    /// Handles TERM, INT, QUIT or HUP under `-z`. A backup exits at once, with no script
    /// (docs/PROTOCOL.md §5.7). A master hands over first: it sends a bow-out advert and keeps
    /// the address until the successor's first advert, or [`super::handover_bound`], then runs
    /// its down script and exits ([`Action::Exit`]). Nothing happens afterwards.
    pub fn handle_shutdown(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        // A claim still waiting for the up script was never heard: nobody needs a
        // bow-out, the master we were taking over from still serves the address.
        let claimed = self.state == State::Master && !self.claim_pending();
        match self.handover.as_mut() {
            Some(h) => h.leaving = Leaving::Exit,
            None if claimed && self.link_up => self.start_handover(now, Leaving::Exit),
            None => {
                self.leave_master(Reason::Shutdown, None);
                self.stop();
            }
        }
    }

    pub(super) fn start_handover(&mut self, now: Instant, leaving: Leaving) {
        let bound = self.handover_hold();
        self.log(Event::HandoverStarted { bound });
        self.adv_at = None;
        self.waking = None;
        self.handover = Some(Handover {
            leaving,
            until: now.checked_add(bound).unwrap_or(now),
            next_bow_out: now,
            bow_out: None,
            release: None,
        });
        self.send_bow_out(now);
    }

    /// Sends a bow-out advert and schedules the next one: several fractions of the
    /// bound apart, so a lost frame costs little.
    pub(super) fn send_bow_out(&mut self, now: Instant) {
        let repeat = self.bow_out_repeat();
        match self.handover.and_then(|h| h.bow_out) {
            Some(advert) => {
                self.actions.push_back(Action::SendAdvert {
                    advert,
                    after_scripts: false,
                });
                self.stats.adverts_sent += 1;
            }
            None => {
                let advert = self.send_advert_as(now, Stance::BowOut, false);
                if let Some(h) = self.handover.as_mut() {
                    h.bow_out = Some(advert);
                }
            }
        }
        self.adv_at = None;
        if let Some(h) = self.handover.as_mut() {
            h.next_bow_out = now.checked_add(repeat).unwrap_or(h.until);
        }
    }

    /// The successor advertised: it holds the address now, so drop ours.
    pub(super) fn handover_answered(&mut self, now: Instant, leaving: Leaving, peer: IpAddr) {
        self.handover = None;
        self.master = Some(peer);
        self.log(Event::HandoverDone { peer });
        let reason = match leaving {
            Leaving::Exit => Reason::Shutdown,
            Leaving::Demoted(d) => d.reason(),
        };
        self.set_state(State::Backup, reason, Some(peer));
        match leaving {
            Leaving::Exit => self.stop(),
            Leaving::Demoted(_) => self.arm_master_down(now),
        }
    }

    /// Nobody took over within the bound, or by the witness release (`release`).
    pub(super) fn handover_unanswered(&mut self, now: Instant, leaving: Leaving, release: bool) {
        self.handover = None;
        self.log(Event::HandoverUnanswered {
            staying: leaving != Leaving::Exit && !release,
        });
        match leaving {
            Leaving::Exit => {
                self.set_state(State::Backup, Reason::Shutdown, None);
                self.stop();
            }
            // Cut off from every witness and, as nobody answers, from the group: a
            // backup on the other side is about to take over (docs/PROTOCOL.md §5.15).
            Leaving::Demoted(_) if release => {
                self.set_state(State::Backup, Reason::NoWitness, None);
                self.arm_master_down(now);
            }
            // The address must stay somewhere: keep it, least preferred, so that any
            // node that appears takes over.
            Leaving::Demoted(_) => self.send_advert(now),
        }
    }
}
