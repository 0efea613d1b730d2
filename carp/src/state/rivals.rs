//! The split-brain watch: another master of our vhid that loses the election, logged
//! once per episode, and not during the grace in which the master we took over from
//! steps down.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{step_down_grace, Carp, MAX_RIVALS};
use crate::event::Event;

/// Another master heard during a split-brain episode.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rival {
    pub(super) ip: IpAddr,
    /// When its last advert came.
    pub(super) last: Instant,
    /// How long it must stay silent for its episode to end.
    pub(super) quiet: Duration,
}

impl Carp {
    /// Split brain (another authenticated master that loses the election, typically
    /// after a partition heals): logs `peer` once per episode. An episode ends after
    /// `deadratio` of the slower of the two intervals without hearing it, so a rival
    /// advertising more slowly than we do is still one episode.
    ///
    /// A rival heard within [`step_down_grace`] of our claim is the master we took over
    /// from, stepping down as it should (a ucarp master needs up to a second to hear
    /// us): not reported.
    pub(super) fn watch_split_brain(&mut self, now: Instant, peer: IpAddr, slower: Duration) {
        let settling = self
            .master_since
            .and_then(|t| t.checked_add(step_down_grace(slower)))
            .is_some_and(|end| now < end);
        if settling {
            return;
        }
        let quiet = slower
            .checked_mul(self.dead_ratio())
            .unwrap_or(Duration::MAX);
        self.rivals
            .retain(|r| now.saturating_duration_since(r.last) <= r.quiet);
        if let Some(rival) = self.rivals.iter_mut().find(|r| r.ip == peer) {
            rival.last = now;
            rival.quiet = quiet;
            return;
        }
        if self.rivals.len() == MAX_RIVALS {
            self.rivals.remove(0);
        }
        self.rivals.push(Rival {
            ip: peer,
            last: now,
            quiet,
        });
        self.log(Event::SplitBrain {
            peer,
            vhid: self.cfg.vhid,
        });
    }
}
