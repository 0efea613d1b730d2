//! Receiving: judges each frame the kernel filter let through (ucarp's checks, then the
//! replay guard with `--replay-window`), counts and logs what it rejects, one line per
//! reason per period; now and then reads what the screen sockets counted of the frames
//! the kernel rejected, and logs a sample of each (docs/PROTOCOL.md §4.1.1). Owns the
//! receive checks' configuration, the replay guard, the screens and the reject
//! counters. Never changes state itself: an accepted advert goes to the state machine,
//! a rejected one nowhere.

use std::time::{Duration, Instant};

use crate::net::filter::Check;
use crate::net::{PacketSocket, FRAME_SNAP};
use crate::ratelimit::{Budget, RateLimit, Suppressed, DEFAULT_PERIOD};
use crate::replay::ReplayGuard;
use crate::rx::{
    Receiver, Reject, RejectCounters, RejectReason, VerifiedAdvert, VerifiedVrrp, VrrpReceiver,
};

/// How often the screens are read: their lines are rate limited to one per reason per
/// 10 s anyway, and a quiet daemon pays four system calls each time.
const SCREEN_PERIOD: Duration = Duration::from_secs(5);
/// Frames read from a screen at a time; the last is the sample. Its receive buffer
/// holds only a few.
const SCREEN_READ: usize = 4;

/// A screen: a packet socket whose kernel filter keeps only the frames that fail one
/// [`Check`]. It is never polled: the kernel counts what it keeps, and its queue holds
/// a recent sample for the log line.
#[derive(Debug)]
pub(super) struct Screen {
    pub(super) check: Check,
    pub(super) socket: PacketSocket,
}

/// The receive checks of the protocol spoken.
#[derive(Debug)]
pub(super) enum Judge {
    /// CARP's (docs/PROTOCOL.md §4.3).
    Carp(Receiver),
    /// VRRPv3's (docs/PROTOCOL.md §14.3).
    Vrrp(VrrpReceiver),
}

/// An advert that passed them, for the state machine.
#[derive(Debug)]
pub(super) enum Heard {
    Carp(VerifiedAdvert),
    Vrrp(VerifiedVrrp),
}

/// The judge of received frames.
#[derive(Debug)]
pub(super) struct Intake {
    pub(super) rx: Judge,
    /// The log budget of "other address list" warnings (VRRP).
    pub(super) mismatch_limit: Budget,
    /// `--replay-window`.
    pub(super) replay: Option<ReplayGuard>,
    pub(super) rejects: RejectCounters,
    pub(super) limit: RateLimit,
    /// One per [`Check`].
    pub(super) screens: Vec<Screen>,
    /// The fanout group's sink, which keeps nothing, held open with the screens;
    /// `None` without a group.
    pub(super) _sink: Option<PacketSocket>,
    /// When the screens were last read.
    pub(super) screened_at: Option<Instant>,
}

impl Intake {
    /// Judges one frame: the advert to hand to the state machine, or `None` (rejected,
    /// counted and logged within its budget; or a repeated bow-out, dropped quietly).
    pub(super) fn judge(&mut self, now: Instant, frame: &[u8]) -> Option<Heard> {
        let verdict = match &self.rx {
            Judge::Carp(rx) => rx
                .accept(frame)
                .and_then(|adv| crate::rx::admit(self.replay.as_mut(), adv))
                .map(|adv| adv.map(Heard::Carp)),
            Judge::Vrrp(rx) => rx.accept(frame).map(|adv| Some(Heard::Vrrp(adv))),
        };
        match verdict {
            Ok(None) => {
                log::debug!("<- a repeated bow-out");
                None
            }
            Ok(Some(Heard::Carp(adv))) => {
                log::debug!("<- {} from {}", adv.advert(), adv.src());
                Some(Heard::Carp(adv))
            }
            Ok(Some(Heard::Vrrp(adv))) => {
                log::debug!(
                    "<- {} from {} (checksum: {})",
                    adv.advert(),
                    adv.src(),
                    adv.checksum().name()
                );
                if !adv.addresses_match() {
                    if let Some(n) = self.mismatch_limit.check(now, DEFAULT_PERIOD) {
                        log::warn!(
                            "VRRP advert from [{}] lists other addresses than ours: every node of a group needs the same -a set{}",
                            adv.src(),
                            Suppressed(n)
                        );
                    }
                }
                Some(Heard::Vrrp(adv))
            }
            Err(reject) => {
                self.rejects.add(reject.reason());
                self.log(now, reject.reason(), Some(&reject), 1);
                None
            }
        }
    }

    /// Logs `n` rejections for `reason` within its budget: one line, with `reject`'s
    /// details, when one is due.
    fn log(&mut self, now: Instant, reason: RejectReason, reject: Option<&Reject>, n: u64) {
        let Some(reject) = reject else {
            // No sample to show: the occurrences still count against the budget.
            let _ = self.limit.check_many(reason, now, n);
            return;
        };
        if let Some(suppressed) = self.limit.check_many(reason, now, n) {
            let level = if reason.is_warning() {
                log::Level::Warn
            } else {
                log::Level::Debug
            };
            log::log!(level, "{reject}{}", Suppressed(suppressed));
        }
    }

    /// Reads the screens when `SCREEN_PERIOD` has passed since the last time, or at
    /// once when `now_anyway` (before the counters are shown or written): adds what
    /// the kernel counted to the reject counters and logs the newest sample of each.
    pub(super) fn review_screens(&mut self, now: Instant, now_anyway: bool) {
        let due = self
            .screened_at
            .is_none_or(|at| now.saturating_duration_since(at) >= SCREEN_PERIOD);
        if !(due || now_anyway) || self.screens.is_empty() {
            return;
        }
        self.screened_at = Some(now);
        let mut bufs = [[0u8; FRAME_SNAP]; SCREEN_READ];
        let mut lens = [0usize; SCREEN_READ];
        for i in 0..self.screens.len() {
            let (reason, counted, read) = {
                let screen = &self.screens[i];
                let counted = match screen.socket.kept_since_last() {
                    Ok(n) => n,
                    Err(e) => {
                        log::debug!("screen {:?}: {e}", screen.check);
                        continue;
                    }
                };
                if counted == 0 {
                    continue;
                }
                let read = screen.socket.recv_batch(&mut bufs, &mut lens).unwrap_or(0);
                (screen.check.reason(), counted, read)
            };
            self.rejects.add_many(reason, counted);
            let sample = match &self.rx {
                Judge::Carp(rx) => read
                    .checked_sub(1)
                    .and_then(|last| rx.accept(&bufs[last][..lens[last]]).err()),
                Judge::Vrrp(_) => None,
            };
            self.log(now, reason, sample.as_ref(), counted);
        }
    }

    /// Notes an advert we send, for the replay guard's count.
    pub(super) fn note_sent(&mut self, counter: u64) {
        if let Some(guard) = &mut self.replay {
            guard.note_sent(counter);
        }
    }
}
