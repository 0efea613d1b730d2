//! What the state machine reports for the log, and the one place that words it.
//!
//! Pure data plus `Display`. Where ucarp logs the same event (state changes, election
//! decisions, the SIGUSR1 status; docs/PROTOCOL.md §5, §8) the wording and level are ucarp's, so
//! log watchers written for ucarp keep matching; the link, send-error and demotion
//! messages are this project's own. This module never writes anything itself; the
//! daemon sends each event to its logger at the [`Level`] given here.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::types::{Demotion, Demotions, State, Transition};

/// How much an event matters, as ucarp logs it; the daemon maps it to its logger's
/// levels (this crate depends on no logging crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Something failed.
    Error,
    /// A state change or a decision an operator should see.
    Warn,
    /// Routine.
    Info,
}

/// Something the state machine decided or noticed, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The state changed (`Switching to state: MASTER`).
    StateChange(Transition),
    /// As master, a better master was heard; we stepped down (docs/PROTOCOL.md §5.4).
    PreferredMaster {
        /// The better master.
        peer: IpAddr,
    },
    /// As master, a worse master was heard; we re-sent a gratuitous ARP (docs/PROTOCOL.md §5.4).
    NonPreferredMaster {
        /// The worse master.
        peer: IpAddr,
    },
    /// As master, the first advert of another, worse master in an episode: both hold
    /// the address until it steps down.
    SplitBrain {
        /// The other master.
        peer: IpAddr,
        /// Our vhid.
        vhid: u8,
    },
    /// As backup with preemption, a worse master was heard; we took over (docs/PROTOCOL.md §5.4).
    Preemption {
        /// The master we preempted.
        peer: IpAddr,
    },
    /// As backup, the master's interval exceeds our dead time, or it bowed out with
    /// 255/255; we took over once the wait of `state::bow_out_delay` ended without a
    /// better backup advertising (docs/PROTOCOL.md §5.4; ucarp takes over at once).
    GoingToTimeOut {
        /// The master that will time out.
        peer: IpAddr,
    },
    /// VRRP: the master resigned with a priority-0 advert, and we took over after our
    /// Skew_Time (docs/PROTOCOL.md §14.4).
    MasterResigned {
        /// The master that resigned.
        peer: IpAddr,
    },
    /// Three adverts in a row could not be sent: preemption is suppressed (docs/PROTOCOL.md §5.8).
    SendErrors {
        /// Consecutive failures so far.
        count: u32,
        /// In VRRP mode: what is lowered is the priority, not the advskew.
        vrrp: bool,
    },
    /// Sending works again: preemption is no longer suppressed (docs/PROTOCOL.md §5.8).
    SendRecovered {
        /// In VRRP mode.
        vrrp: bool,
    },
    /// The answer to SIGUSR1 (`MASTER on eth0 id 7`).
    Status {
        /// Current state.
        state: State,
        /// Interface name, as configured.
        iface: String,
        /// Virtual host id.
        vhid: u8,
        /// Active demotions.
        demotions: Demotions,
    },
    /// A master started handing the address over: bow-out sent.
    HandoverStarted {
        /// How long it waits for the successor.
        bound: Duration,
    },
    /// The successor's first advert arrived: the address is released.
    HandoverDone {
        /// The successor.
        peer: IpAddr,
    },
    /// No successor within the bound.
    HandoverUnanswered {
        /// True in maintenance mode: the node keeps the address, least preferred.
        staying: bool,
    },
    /// A demotion turned on or off.
    Demotion {
        /// Which.
        demotion: Demotion,
        /// On or off.
        on: bool,
    },
    /// As master, this node missed its own adverts for longer than a dead time (it was
    /// frozen: a paused VM, SIGSTOP): it listens before it advertises again.
    Frozen {
        /// How long it was silent.
        silent: Duration,
    },
    /// After a freeze, another node had taken over; this one, not preferred or without
    /// `-P`, leaves the address to it.
    YieldAfterFreeze {
        /// The node that took over.
        peer: IpAddr,
    },
    /// After a freeze, a worse node had taken over; with `-P` this one takes the
    /// address back (it still holds it).
    ReclaimAfterFreeze {
        /// The node that took over.
        peer: IpAddr,
    },
    /// After a freeze, nobody advertised: this node goes on as master.
    ResumeAfterFreeze,
    /// With `--witness`, a takeover held back because no witness answers
    /// (docs/PROTOCOL.md §5.15); once per episode.
    WitnessHoldBack,
    /// A witness answers again after a takeover was held back.
    WitnessBack,
    /// The carrier was lost (IFF_RUNNING cleared); forced to BACKUP.
    LinkDown,
    /// The carrier is back; the election starts over.
    LinkUp,
    /// A master lost its carrier: it keeps the address for `grace` in case the carrier
    /// comes back (docs/PROTOCOL.md §5.6.1).
    LinkDownHolding {
        /// How long it waits before going to BACKUP.
        grace: Duration,
    },
    /// The carrier came back within the grace: still master, advertising at once.
    LinkBackInTime,
}

impl Event {
    /// Returns the level ucarp logs this at.
    pub fn level(&self) -> Level {
        match self {
            Event::StateChange(_)
            | Event::PreferredMaster { .. }
            | Event::NonPreferredMaster { .. }
            | Event::SplitBrain { .. }
            | Event::Preemption { .. }
            | Event::GoingToTimeOut { .. }
            | Event::LinkDown
            | Event::LinkUp
            | Event::HandoverUnanswered { .. }
            | Event::Demotion { .. }
            | Event::Frozen { .. }
            | Event::YieldAfterFreeze { .. }
            | Event::ReclaimAfterFreeze { .. }
            | Event::ResumeAfterFreeze
            | Event::WitnessHoldBack
            | Event::WitnessBack
            | Event::LinkDownHolding { .. }
            | Event::LinkBackInTime => Level::Warn,
            Event::SendErrors { .. } => Level::Error,
            Event::SendRecovered { .. }
            | Event::MasterResigned { .. }
            | Event::Status { .. }
            | Event::HandoverStarted { .. }
            | Event::HandoverDone { .. } => Level::Info,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::StateChange(t) => write!(f, "Switching to state: {}", t.to),
            Event::PreferredMaster { .. } => {
                write!(f, "Preferred master advertised: going back to BACKUP state")
            }
            Event::NonPreferredMaster { .. } => write!(
                f,
                "Non-preferred master advertising: reasserting control of VIP with another gratuitous arp"
            ),
            Event::SplitBrain { peer, vhid } => write!(
                f,
                "Split brain: [{peer}] also advertises as master of vhid {vhid}; keeping the address, re-announcing it"
            ),
            Event::Preemption { .. } => write!(f, "Putting MASTER down - preemption"),
            Event::GoingToTimeOut { .. } => write!(f, "Putting MASTER DOWN (going to time out)"),
            Event::MasterResigned { peer } => {
                write!(f, "Master [{peer}] resigned (priority 0): taking over")
            }
            Event::SendErrors { count, vrrp: false } => write!(
                f,
                "write() error #{count}/3: advertising with advskew 240 until sending works"
            ),
            Event::SendErrors { count, vrrp: true } => write!(
                f,
                "write() error #{count}/3: advertising with priority 16 at most until sending works"
            ),
            Event::SendRecovered { vrrp: false } => {
                write!(f, "write() works again: normal advskew restored")
            }
            Event::SendRecovered { vrrp: true } => {
                write!(f, "write() works again: normal priority restored")
            }
            Event::Status {
                state,
                iface,
                vhid,
                demotions,
            } => {
                write!(f, "{state} on {iface} id {vhid}")?;
                if demotions.any() {
                    write!(f, " ({demotions})")?;
                }
                Ok(())
            }
            Event::HandoverStarted { bound } => write!(
                f,
                "Handing over: bow-out advertised, keeping the address until a successor advertises (at most {} ms)",
                bound.as_millis()
            ),
            Event::HandoverDone { peer } => {
                write!(f, "Successor [{peer}] advertises: releasing the address")
            }
            Event::HandoverUnanswered { staying: false } => {
                write!(f, "No successor advertised in time: releasing the address anyway")
            }
            Event::HandoverUnanswered { staying: true } => write!(
                f,
                "No successor advertised in time: keeping the address, least preferred"
            ),
            Event::Demotion {
                demotion: Demotion::Maintenance,
                on: true,
            } => write!(
                f,
                "Maintenance mode on: least preferred, no preemption (SIGUSR2 again to leave)"
            ),
            Event::Demotion {
                demotion: Demotion::Maintenance,
                on: false,
            } => write!(f, "Maintenance mode off"),
            Event::Demotion {
                demotion: Demotion::NoWitness,
                on: true,
            } => write!(
                f,
                "Demoted (no-witness): no witness answers; a master hands over, or releases the address if nobody takes it"
            ),
            Event::Demotion {
                demotion: Demotion::NoWitness,
                on: false,
            } => write!(f, "No longer demoted (no-witness): a witness answers again"),
            Event::Demotion { demotion, on: true } => {
                write!(f, "Demoted ({demotion}): least preferred, no preemption")
            }
            Event::Demotion { demotion, on: false } => write!(f, "No longer demoted ({demotion})"),
            Event::Frozen { silent } => write!(
                f,
                "Missed our own adverts for {} ms (frozen?): listening before advertising again",
                silent.as_millis()
            ),
            Event::YieldAfterFreeze { peer } => write!(
                f,
                "[{peer}] took over while we were frozen: leaving the address to it"
            ),
            Event::ReclaimAfterFreeze { peer } => write!(
                f,
                "[{peer}] took over while we were frozen: taking the address back (preemption)"
            ),
            Event::ResumeAfterFreeze => {
                write!(f, "Nobody took over while we were frozen: advertising again")
            }
            Event::WitnessHoldBack => write!(f, "No witness reachable: not taking over"),
            Event::WitnessBack => write!(f, "A witness answers again: taking part in the election"),
            Event::LinkDown => write!(f, "Link down: switching to BACKUP until it comes back"),
            Event::LinkUp => write!(f, "Link up again: waiting for a master"),
            Event::LinkDownHolding { grace } => write!(
                f,
                "Link down: keeping the address for {} ms in case it comes back",
                grace.as_millis()
            ),
            Event::LinkBackInTime => {
                write!(f, "Link up again in time: still MASTER, advertising at once")
            }
        }
    }
}
