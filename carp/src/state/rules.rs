//! The election rules of each protocol: what a node compares itself with, how long it
//! waits, and what it puts in an advert. This is the one place where CARP and VRRPv3
//! differ (docs/PROTOCOL.md §5.4, §14.4); the rest of the machine asks it and never
//! looks at [`Protocol`] itself.
//!
//! * **Rank.** A heard advert becomes an [`Offer`] whose [`Rank`] compares with ours:
//!   greater is preferred. CARP prefers the shorter interval, then the lower
//!   [`tie_break_key`]; VRRP the higher priority, then the higher address read as a
//!   big-endian number (RFC 5798 §6.4.3).
//! * **Times.** CARP's come from ucarp's formulas over advbase, advskew and deadratio;
//!   VRRP's from the master's interval, which a backup learns from each advert, and the
//!   priority (Skew_Time, Master_Down_Interval).
//! * **Bow-out.** CARP's is an advbase and advskew of 255; VRRP's is priority 0.
//!
//! Never changes the state: it reads the configuration, and writes only what its
//! protocol keeps between adverts (VRRP's learned interval, CARP's counter).

use std::net::IpAddr;
use std::time::Duration;

use super::{
    advert_interval, bow_out_delay, carp_cadence, handover_bound, master_down_interval,
    probe_interval, release_after, tie_break_key, vrrp_handover_bound, vrrp_master_down, vrrp_skew,
    Carp, Protocol, BOW_OUT, BOW_OUT_REPEAT_MAX, DEMOTED_ADVSKEW, DEMOTED_PRIORITY,
    SUPPRESSED_ADVSKEW, SUPPRESSED_PRIORITY,
};
use crate::rx::{VerifiedAdvert, VerifiedVrrp};
use crate::wire::packet::{Advert, DIGEST_LEN};
use crate::wire::vrrp::{VrrpAdvert, PRIORITY_BOW_OUT};

/// How preferred a node is: greater wins. `level` decides, `tie` breaks equal levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Rank {
    /// CARP: the interval, inverted (shorter is greater); VRRP: the priority.
    pub(super) level: u64,
    /// CARP: the tie-break key, inverted; VRRP: the address, big-endian.
    pub(super) tie: u128,
}

/// A heard advert, in the terms the election uses.
#[derive(Debug, Clone, Copy)]
pub(super) struct Offer {
    /// The sender.
    pub(super) src: IpAddr,
    /// Its rank.
    pub(super) rank: Rank,
    /// The interval it advertises at.
    pub(super) interval: Duration,
    /// A bow-out: the sender is leaving and offers the address.
    pub(super) leaving: bool,
}

/// What a node advertises: CARP's or VRRP's advert, as the caller frames it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advertisement {
    /// A CARP advert (docs/PROTOCOL.md §2), signed.
    Carp(Advert),
    /// A VRRPv3 advert (docs/PROTOCOL.md §14.1); the caller adds the addresses.
    Vrrp(VrrpAdvert),
}

impl Advertisement {
    /// Returns true for a bow-out: CARP's 255/255, VRRP's priority 0.
    pub fn is_bow_out(&self) -> bool {
        match self {
            Advertisement::Carp(a) => a.is_bow_out(),
            Advertisement::Vrrp(a) => a.is_bow_out(),
        }
    }
}

impl std::fmt::Display for Advertisement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Advertisement::Carp(a) => a.fmt(f),
            Advertisement::Vrrp(a) => a.fmt(f),
        }
    }
}

/// What an advert we send says about us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stance {
    /// Our current standing (demotion and suppression included).
    Standing,
    /// Leaving: take over now.
    BowOut,
}

fn carp_level(interval: Duration) -> u64 {
    u64::MAX - u64::try_from(interval.as_micros()).unwrap_or(u64::MAX)
}

fn vrrp_tie(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(ip) => u128::from(u32::from_be_bytes(ip.octets())),
        IpAddr::V6(ip) => u128::from_be_bytes(ip.octets()),
    }
}

impl Carp {
    /// Our rank, as we advertise and compare it.
    pub(super) fn local_rank(&self) -> Rank {
        match &self.cfg.protocol {
            Protocol::Carp(c) => Rank {
                level: carp_level(advert_interval(c.advbase, self.local_advskew())),
                tie: u128::MAX - tie_break_key(self.cfg.srcip),
            },
            Protocol::Vrrp(_) => Rank {
                level: u64::from(self.local_priority()),
                tie: vrrp_tie(self.cfg.srcip),
            },
        }
    }

    /// A CARP advert in the election's terms.
    pub(super) fn carp_offer(adv: &VerifiedAdvert) -> Offer {
        let a = adv.advert();
        let interval = advert_interval(a.advbase, a.advskew);
        Offer {
            src: adv.src(),
            rank: Rank {
                level: carp_level(interval),
                tie: u128::MAX - tie_break_key(adv.src()),
            },
            interval,
            leaving: a.is_bow_out(),
        }
    }

    /// A VRRP advert in the election's terms.
    pub(super) fn vrrp_offer(adv: &VerifiedVrrp) -> Offer {
        let a = adv.advert();
        Offer {
            src: adv.src(),
            rank: Rank {
                level: u64::from(a.priority),
                tie: vrrp_tie(adv.src()),
            },
            interval: a.interval(),
            leaving: a.is_bow_out(),
        }
    }

    /// The skew this CARP node advertises and compares itself with (docs/PROTOCOL.md
    /// §5.4, §5.8), 255 when demoted. Zero in VRRP mode, which has none.
    pub(super) fn local_advskew(&self) -> u8 {
        let Protocol::Carp(c) = &self.cfg.protocol else {
            return 0;
        };
        if self.demotions.any() {
            DEMOTED_ADVSKEW
        } else if self.suppress_preempt && c.advskew < SUPPRESSED_ADVSKEW {
            SUPPRESSED_ADVSKEW
        } else {
            c.advskew
        }
    }

    /// The priority this VRRP node advertises and compares itself with
    /// (docs/PROTOCOL.md §14.4): 1 when demoted, at most 16 while send errors suppress
    /// preemption. 255 in CARP mode, where it means nothing.
    pub(super) fn local_priority(&self) -> u8 {
        let Protocol::Vrrp(v) = &self.cfg.protocol else {
            return u8::MAX;
        };
        if self.demotions.any() {
            DEMOTED_PRIORITY
        } else if self.suppress_preempt {
            v.priority.min(SUPPRESSED_PRIORITY)
        } else {
            v.priority
        }
    }

    /// In VRRP mode, the priority we advertise and compare with now (1 when demoted);
    /// `None` in CARP mode.
    pub fn vrrp_priority(&self) -> Option<u8> {
        matches!(self.cfg.protocol, Protocol::Vrrp(_)).then(|| self.local_priority())
    }

    /// How often our adverts go out now: CARP's advertised interval; VRRP's paced
    /// ([`vrrp_pace`]).
    pub(super) fn advert_period(&self) -> Duration {
        match &self.cfg.protocol {
            Protocol::Carp(c) => advert_interval(c.advbase, self.local_advskew()),
            Protocol::Vrrp(v) => vrrp_pace(v.interval()),
        }
    }

    /// How often a demoted master's adverts go out.
    pub(super) fn demoted_period(&self) -> Duration {
        match &self.cfg.protocol {
            Protocol::Carp(c) => advert_interval(c.advbase, DEMOTED_ADVSKEW),
            Protocol::Vrrp(v) => vrrp_pace(v.interval()),
        }
    }

    /// The master-down interval a backup arms on an advert. CARP uses its configured
    /// skew even while suppressed, as ucarp (docs/PROTOCOL.md §5.4); VRRP the master's
    /// learned interval. A demoted node waits longest, so every other node promotes
    /// first.
    pub(super) fn dead_time(&self) -> Duration {
        match &self.cfg.protocol {
            Protocol::Carp(c) => {
                let skew = if self.demotions.any() {
                    DEMOTED_ADVSKEW
                } else {
                    c.advskew
                };
                master_down_interval(c.advbase, skew, c.deadratio)
            }
            Protocol::Vrrp(_) => vrrp_master_down(self.local_priority(), self.master_interval),
        }
    }

    /// The dead time the election compares a heard interval with: an advert slower
    /// than this is as good as a bow-out (CARP only; a VRRP backup adopts the
    /// master's interval instead, so nothing is ever slower).
    pub(super) fn slower_than_dead(&self, offer: &Offer) -> bool {
        match &self.cfg.protocol {
            Protocol::Carp(c) => {
                master_down_interval(c.advbase, self.local_advskew(), c.deadratio) < offer.interval
            }
            Protocol::Vrrp(_) => false,
        }
    }

    /// Our own dead time as a master sees it: how long silent before a backup may have
    /// taken over (the freeze check, `freeze.rs`).
    pub(super) fn own_dead_time(&self) -> Duration {
        match &self.cfg.protocol {
            Protocol::Carp(c) => master_down_interval(c.advbase, self.local_advskew(), c.deadratio),
            Protocol::Vrrp(v) => vrrp_master_down(self.local_priority(), v.interval()),
        }
    }

    /// How long a backup waits after a bow-out (CARP: [`bow_out_delay`]; VRRP:
    /// Skew_Time, RFC 5798 §6.4.2).
    pub(super) fn bow_out_wait(&self) -> Duration {
        match &self.cfg.protocol {
            Protocol::Carp(c) => bow_out_delay(c.advbase, self.local_advskew()),
            Protocol::Vrrp(_) => vrrp_skew(self.local_priority(), self.master_interval),
        }
    }

    /// How long a master handing over keeps the address waiting for a successor.
    pub(super) fn handover_hold(&self) -> Duration {
        match &self.cfg.protocol {
            Protocol::Carp(c) => handover_bound(c.advbase, c.advskew, c.deadratio),
            Protocol::Vrrp(v) => vrrp_handover_bound(v.interval()),
        }
    }

    /// How long between two bow-outs of a handover, so that one lost frame costs
    /// little. CARP: a quarter of the hold, at most [`BOW_OUT_REPEAT_MAX`]. VRRP: two of
    /// our intervals, because every priority-0 advert restarts a backup's Skew_Time
    /// (RFC 5798 §6.4.2; keepalived does so), and a backup must be left time to take
    /// over: Skew_Time is less than one interval (docs/PROTOCOL.md §14.5).
    pub(super) fn bow_out_repeat(&self) -> Duration {
        match &self.cfg.protocol {
            Protocol::Carp(_) => (self.handover_hold() / 4).min(BOW_OUT_REPEAT_MAX),
            Protocol::Vrrp(v) => v.interval().saturating_mul(2),
        }
    }

    /// How long a master handing over keeps the address after the successor's first
    /// advert: none in CARP, whose successors advertise after their up script; VRRP's
    /// [`VRRP_SUCCESSOR_GRACE`], since keepalived adds the address after it.
    pub(super) fn successor_grace(&self) -> Duration {
        match &self.cfg.protocol {
            Protocol::Carp(_) => Duration::ZERO,
            Protocol::Vrrp(_) => VRRP_SUCCESSOR_GRACE,
        }
    }

    /// How many of the slower interval without hearing a rival end a split-brain
    /// episode.
    pub(super) fn dead_ratio(&self) -> u32 {
        match &self.cfg.protocol {
            Protocol::Carp(c) => c.deadratio,
            Protocol::Vrrp(_) => 3,
        }
    }

    /// How long after its last answer a master that lost every witness must have
    /// released the address (docs/PROTOCOL.md §5.15), and the carrier grace.
    pub(super) fn release_window(&self) -> Duration {
        let (interval, earliest) = self.cfg.cadence(self.local_advskew());
        release_after(interval, earliest)
    }

    /// Adopts the interval of the master heard (VRRP; CARP has nothing to learn).
    pub(super) fn learn_interval(&mut self, offer: &Offer) {
        if matches!(self.cfg.protocol, Protocol::Vrrp(_)) && !offer.leaving {
            self.master_interval = offer.interval;
        }
    }

    /// The advert that says `stance`, with the next counter and the signature for
    /// CARP.
    pub(super) fn make_advert(&mut self, stance: Stance) -> Advertisement {
        let (advbase, advskew, sequential) = match &self.cfg.protocol {
            Protocol::Vrrp(v) => {
                return Advertisement::Vrrp(VrrpAdvert {
                    vrid: self.cfg.vhid,
                    priority: match stance {
                        Stance::Standing => self.local_priority(),
                        Stance::BowOut => PRIORITY_BOW_OUT,
                    },
                    interval_cs: v.interval_cs,
                })
            }
            Protocol::Carp(c) => match stance {
                Stance::Standing => (c.advbase, self.local_advskew(), c.sequential_counters),
                Stance::BowOut => (BOW_OUT, BOW_OUT, c.sequential_counters),
            },
        };
        // docs/PROTOCOL.md §3.3: random until synchronised, then adopted value plus one
        // per send. With sequential counters the random draw is only the starting point.
        self.counter = if self.counter_synced {
            self.counter.wrapping_add(1)
        } else {
            self.rng.next_u64()
        };
        self.counter_synced |= sequential;
        let mut advert = Advert {
            vhid: self.cfg.vhid,
            advbase,
            advskew,
            counter: self.counter,
            md: [0; DIGEST_LEN],
        };
        if let Protocol::Carp(c) = &self.cfg.protocol {
            advert.md = c
                .signer
                .sign(&advert.signed_fields(), &self.counter.to_be_bytes());
        }
        Advertisement::Carp(advert)
    }
}

/// How long a VRRP master handing over keeps the address after its successor's first
/// advert: keepalived sends it, then adds the address (about 2 ms later, measured; more
/// on a loaded router). Both hold it meanwhile, which costs nothing: the successor's
/// gratuitous ARP points the LAN at it (docs/PROTOCOL.md §14.5).
pub const VRRP_SUCCESSOR_GRACE: Duration = Duration::from_millis(100);

/// How many adverts a VRRP master sends per advertised interval.
pub const VRRP_PACE: u32 = 3;
/// The shortest gap between two paced VRRP adverts.
pub const VRRP_PACE_FLOOR: Duration = Duration::from_millis(10);

/// How often a VRRP master sends its adverts: [`VRRP_PACE`] times per advertised
/// interval, never more often than every [`VRRP_PACE_FLOOR`] (docs/PROTOCOL.md §14.4).
///
/// The field is the *maximum* interval between adverts, and every advert restarts a
/// backup's timer, which still runs for three advertised intervals plus its skew.
/// So a cut is noticed as soon as with one advert per interval, but a backup now
/// takes over on a live master only after about nine lost adverts in a row instead
/// of three: at 10 % loss and 0.1 s, about once in ten years instead of every two
/// minutes.
pub fn vrrp_pace(interval: Duration) -> Duration {
    (interval / VRRP_PACE).max(VRRP_PACE_FLOOR).min(interval)
}

impl super::Config {
    /// This node's advert interval and the earliest any backup takes over after
    /// hearing it last, with `advskew` as its CARP skew: what the witness probes and the
    /// carrier grace are timed from (docs/PROTOCOL.md §5.15).
    pub fn cadence(&self, advskew: u8) -> (Duration, Duration) {
        match &self.protocol {
            Protocol::Carp(c) => carp_cadence(c.advbase, advskew, c.deadratio),
            Protocol::Vrrp(v) => {
                let interval = v.interval();
                // The most preferred backup (254) waits three intervals and a little.
                (interval, interval.saturating_mul(3))
            }
        }
    }

    /// The witness prober's period and loss time (docs/PROTOCOL.md §5.15).
    pub fn witness_timing(&self) -> super::WitnessTiming {
        let skew = match &self.protocol {
            Protocol::Carp(c) => c.advskew,
            Protocol::Vrrp(_) => 0,
        };
        let (interval, earliest) = self.cadence(skew);
        let period = probe_interval(interval, earliest);
        super::WitnessTiming {
            period,
            lost_after: period * super::WITNESS_PROBES_LOST,
        }
    }
}
