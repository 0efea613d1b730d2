//! Opt-in replay protection (`--replay-window N`), layered on authenticated adverts.
//!
//! CARP's HMAC covers a 64-bit counter but ucarp never checks it (docs/PROTOCOL.md §3.3): a
//! captured advert of a master that has since left can be replayed forever to keep
//! its backups from taking over. This guard remembers, per source address, the last
//! `N` counters it accepted, and where the group's counting stands — one count for
//! all nodes, since each node continues from the last counter it heard (docs/PROTOCOL.md §3.3)
//! and the counters this node sends are noted too:
//!
//! * a counter already among a source's last `N` accepted is a replay: rejected;
//! * once the group has counted in sequence (each counter 1 to `N` past the previous)
//!   for [`CONFIRM`] adverts, a counter outside the next `N` is rejected too, unless
//!   [`CONFIRM`] adverts in a row confirm a new sequence there (a restarted node, or
//!   the other side of a healed partition).
//!
//! What it stops: a captured advert (or any of the last `N`) replayed once or in a
//! loop, and any old advert of a source that counts — ours with this option, or a
//! ucarp that has heard another node. What it does not stop: a recorded run of
//! [`CONFIRM`] or more consecutive adverts older than the window, replayed in order;
//! old adverts of a ucarp master that has never heard a valid advert (it sends a
//! random counter every time, so only exact repeats within the window are caught);
//! and a fresh advert whose advskew or advbase was rewritten in flight (the HMAC does
//! not cover them, docs/PROTOCOL.md §3.2). Interoperable: it only ever drops packets, and a
//! ucarp peer's random counters are accepted.
//!
//! Pure and bounded: at most [`MAX_SOURCES`] sources, least recently heard evicted.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;

/// Adverts in sequence needed to trust (or move) a source's counting.
pub const CONFIRM: u32 = 3;
/// Sources remembered at once.
pub const MAX_SOURCES: usize = 16;
/// The largest window accepted.
pub const MAX_WINDOW: usize = 65_536;

#[derive(Debug)]
struct Source {
    ip: IpAddr,
    /// Accepted counters, oldest first, with a set for lookups.
    order: VecDeque<u64>,
    seen: HashSet<u64>,
    /// For least-recently-heard eviction.
    heard: u64,
}

/// Why an advert was taken for a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Its counter was accepted before.
    Repeated,
    /// The source counts, and this counter is not where the count stands.
    OutOfSequence,
}

/// The per-source memory of accepted counters and the group's count.
#[derive(Debug)]
pub struct ReplayGuard {
    window: usize,
    sources: Vec<Source>,
    clock: u64,
    /// The last counter accepted or sent.
    last: Option<u64>,
    /// Consecutive in-sequence counters.
    run: u32,
    /// A new sequence being confirmed: its last counter and length so far.
    candidate: Option<(u64, u32)>,
}

impl ReplayGuard {
    /// Remembers the last `window` counters of each source (1 to [`MAX_WINDOW`]).
    pub fn new(window: usize) -> ReplayGuard {
        ReplayGuard {
            window: window.clamp(1, MAX_WINDOW),
            sources: Vec::new(),
            clock: 0,
            last: None,
            run: 0,
            candidate: None,
        }
    }

    /// Returns true when `to` is 1 to `window` counts past `from`.
    fn follows(&self, from: u64, to: u64) -> bool {
        let step = to.wrapping_sub(from);
        step >= 1 && step <= self.window as u64
    }

    /// Notes a counter this node sent: peers that take over continue from it.
    ///
    /// The same counter again (a repeated bow-out, which is a retransmission) changes
    /// nothing.
    pub fn note_sent(&mut self, counter: u64) {
        if self.last == Some(counter) {
            return;
        }
        self.advance(counter);
        self.candidate = None;
    }

    fn advance(&mut self, counter: u64) {
        let in_sequence = self.last.is_some_and(|l| self.follows(l, counter));
        self.run = if in_sequence {
            self.run.saturating_add(1)
        } else {
            0
        };
        self.last = Some(counter);
    }

    fn source(&mut self, ip: IpAddr) -> usize {
        if let Some(i) = self.sources.iter().position(|s| s.ip == ip) {
            return i;
        }
        if self.sources.len() == MAX_SOURCES {
            let oldest = (0..self.sources.len())
                .min_by_key(|&i| self.sources[i].heard)
                .unwrap_or(0);
            self.sources.swap_remove(oldest);
        }
        self.sources.push(Source {
            ip,
            order: VecDeque::new(),
            seen: HashSet::new(),
            heard: 0,
        });
        self.sources.len() - 1
    }

    /// Checks one authenticated advert; remembers it when accepted.
    ///
    /// # Errors
    /// The kind of replay when it is one.
    pub fn check(&mut self, ip: IpAddr, counter: u64) -> Result<(), Replay> {
        self.clock += 1;
        let i = self.source(ip);
        if self.sources[i].seen.contains(&counter) {
            return Err(Replay::Repeated);
        }
        let in_sequence = self.last.is_some_and(|l| self.follows(l, counter));
        if self.run >= CONFIRM && !in_sequence {
            // Counting, and not where the count stands: a replay, or a node that starts
            // a new sequence, which must then confirm itself.
            let confirmed = match self.candidate {
                Some((last, n)) if self.follows(last, counter) => n + 1,
                _ => 1,
            };
            self.candidate = Some((counter, confirmed));
            if confirmed < CONFIRM {
                return Err(Replay::OutOfSequence);
            }
            // Confirmed: the count moves there and stays trusted.
            self.last = Some(counter);
            self.candidate = None;
        } else {
            self.advance(counter);
            self.candidate = None;
        }
        let (clock, window) = (self.clock, self.window);
        let s = &mut self.sources[i];
        s.heard = clock;
        remember(s, counter, window);
        Ok(())
    }
}

fn remember(s: &mut Source, counter: u64, window: usize) {
    s.order.push_back(counter);
    s.seen.insert(counter);
    while s.order.len() > window {
        if let Some(old) = s.order.pop_front() {
            s.seen.remove(&old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn a_repeated_advert_is_a_replay() {
        let mut g = ReplayGuard::new(64);
        assert_eq!(g.check(A, 1000), Ok(()));
        assert_eq!(g.check(A, 1000), Err(Replay::Repeated));
        // Per source: B may send the same counter (counters synchronise, docs/PROTOCOL.md §3.3).
        assert_eq!(g.check(B, 1000), Ok(()));
    }

    /// A leaver repeats its bow-out with one counter; a successor that heard any of
    /// them continues in sequence, and the repeats do not reset the count.
    #[test]
    fn a_repeated_own_bow_out_keeps_the_count() {
        let mut g = ReplayGuard::new(64);
        for c in 100..105 {
            g.note_sent(c);
        }
        for _ in 0..10 {
            g.note_sent(105);
        }
        assert_eq!(g.check(B, 106), Ok(()));
        // Our own counters replayed from another source are still refused.
        assert_eq!(g.check(A, 103), Err(Replay::OutOfSequence));
    }

    #[test]
    fn random_counters_of_an_unsynchronised_ucarp_are_accepted() {
        let mut g = ReplayGuard::new(64);
        let mut x: u64 = 0x1234_5678_9abc_def0;
        for _ in 0..1000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            assert_eq!(g.check(A, x), Ok(()));
        }
    }

    #[test]
    fn once_counting_old_adverts_are_refused() {
        let mut g = ReplayGuard::new(8);
        for c in 100..200u64 {
            assert_eq!(g.check(A, c), Ok(()), "{c}");
        }
        // Far older than the window: not remembered, but behind the count.
        assert_eq!(g.check(A, 150), Err(Replay::OutOfSequence));
        assert_eq!(g.check(A, 10), Err(Replay::OutOfSequence));
        // Losses are fine: a gap within the window.
        assert_eq!(g.check(A, 205), Ok(()));
    }

    #[test]
    fn a_looped_capture_is_stopped() {
        let mut g = ReplayGuard::new(64);
        for c in 1..=40u64 {
            assert_eq!(g.check(A, c), Ok(()));
        }
        // The master leaves; its last 40 adverts are replayed in a loop.
        let mut accepted = 0;
        for _ in 0..3 {
            for c in 1..=40u64 {
                accepted += usize::from(g.check(A, c).is_ok());
            }
        }
        assert_eq!(accepted, 0);
    }

    #[test]
    fn a_restarted_peer_is_accepted_after_confirming_a_new_sequence() {
        let mut g = ReplayGuard::new(64);
        for c in 1000..1010u64 {
            assert_eq!(g.check(A, c), Ok(()));
        }
        // Restarted with a counter far away, counting from there.
        assert_eq!(g.check(A, 500_000), Err(Replay::OutOfSequence));
        assert_eq!(g.check(A, 500_001), Err(Replay::OutOfSequence));
        assert_eq!(g.check(A, 500_002), Ok(()));
        assert_eq!(g.check(A, 500_003), Ok(()));
        assert_eq!(g.check(A, 1011), Err(Replay::OutOfSequence));
    }

    #[test]
    fn nodes_taking_turns_continue_one_count() {
        let mut g = ReplayGuard::new(16);
        for c in 1..=10u64 {
            assert_eq!(g.check(A, c), Ok(()));
        }
        // This node was master for a while (counters 11..=100), then B took over and
        // continued from the last it heard.
        for c in 11..=100u64 {
            g.note_sent(c);
        }
        assert_eq!(g.check(B, 101), Ok(()));
        assert_eq!(g.check(A, 5), Err(Replay::Repeated));
        assert_eq!(g.check(A, 50), Err(Replay::OutOfSequence));
    }

    #[test]
    fn sources_are_bounded() {
        let mut g = ReplayGuard::new(4);
        for i in 0..100u32 {
            let _ = g.check(IpAddr::from(Ipv4Addr::from(i)), u64::from(i));
        }
        assert_eq!(g.sources.len(), MAX_SOURCES);
        let total: usize = g.sources.iter().map(|s| s.order.len()).sum();
        assert!(total <= MAX_SOURCES * 4);
    }
}
