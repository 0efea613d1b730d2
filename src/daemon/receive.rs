//! Receiving: judges each frame the kernel filter let through (ucarp's checks, then the
//! replay guard with `--replay-window`), counts and logs what it rejects, one line per
//! reason per period. Owns the receive checks' configuration, the replay guard and the
//! reject counters. Never changes state itself: an accepted advert goes to the state
//! machine, a rejected one nowhere.

use std::time::Instant;

use crate::ratelimit::{RateLimit, Suppressed};
use crate::replay::ReplayGuard;
use crate::rx::{Receiver, RejectCounters, VerifiedAdvert};

/// The judge of received frames.
#[derive(Debug)]
pub(super) struct Intake {
    pub(super) rx: Receiver,
    /// `--replay-window`.
    pub(super) replay: Option<ReplayGuard>,
    pub(super) rejects: RejectCounters,
    pub(super) limit: RateLimit,
}

impl Intake {
    /// Judges one frame: the advert to hand to the state machine, or `None` (rejected,
    /// counted and logged within its budget; or a repeated bow-out, dropped quietly).
    pub(super) fn judge(&mut self, now: Instant, frame: &[u8]) -> Option<VerifiedAdvert> {
        let verdict = self
            .rx
            .accept(frame)
            .and_then(|adv| crate::rx::admit(self.replay.as_mut(), adv));
        match verdict {
            Ok(None) => {
                log::debug!("<- a repeated bow-out");
                None
            }
            Ok(Some(adv)) => {
                log::debug!("<- {} from {}", adv.advert(), adv.src());
                Some(adv)
            }
            Err(reject) => {
                let reason = reject.reason();
                self.rejects.add(reason);
                if let Some(suppressed) = self.limit.check(reason, now) {
                    let level = if reason.is_warning() {
                        log::Level::Warn
                    } else {
                        log::Level::Debug
                    };
                    log::log!(level, "{reject}{}", Suppressed(suppressed));
                }
                None
            }
        }
    }

    /// Notes an advert we send, for the replay guard's count.
    pub(super) fn note_sent(&mut self, counter: u64) {
        if let Some(guard) = &mut self.replay {
            guard.note_sent(counter);
        }
    }
}
