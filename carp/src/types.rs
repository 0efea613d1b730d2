//! The vocabulary of the state machine: states, reasons, transitions, demotions, the
//! configuration it takes and the counts it keeps. Plain data with `Display`; the first
//! link of the core's one-way chain `types` → `timing` → `event` → `state`.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::auth::Signer;

/// The advbase and advskew of a bow-out advert: "I am leaving, take over now".
pub const BOW_OUT: u8 = 255;
/// The advskew of a demoted node: the least preferred.
pub const DEMOTED_ADVSKEW: u8 = 255;
/// The priority of a demoted VRRP node: the least preferred (docs/PROTOCOL.md §14.4).
pub const DEMOTED_PRIORITY: u8 = 1;
/// The highest priority a VRRP node competes with while send errors suppress
/// preemption, as [`SUPPRESSED_ADVSKEW`] in CARP.
pub const SUPPRESSED_PRIORITY: u8 = 16;

/// The advskew advertised, and used locally, while preemption is suppressed.
pub const SUPPRESSED_ADVSKEW: u8 = 240;

/// A node's CARP state, named as in ucarp's logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Before the first transition; only seen during construction.
    Init,
    /// Listening for a master, ready to take over.
    Backup,
    /// Holding the virtual address and advertising.
    Master,
}

impl State {
    /// Returns the name ucarp logs: `INIT`, `BACKUP` or `MASTER`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a state change or a script run happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The INIT → BACKUP transition at start.
    Startup,
    /// No advert from a master within the master-down interval.
    MasterDown,
    /// With `-P`, an advert from a worse master: we took over.
    Preempt,
    /// As master, an advert from a better master: we stepped down.
    Preempted,
    /// An advert whose interval exceeds our dead time, e.g. a 255/255 bow-out.
    BowOut,
    /// The carrier was lost.
    LinkDown,
    /// SIGUSR2: maintenance mode.
    Maintenance,
    /// The health check failed.
    CheckFailed,
    /// A tracked interface lost its carrier.
    TrackedLinkDown,
    /// The up script failed (`--up-must-succeed`).
    UpFailed,
    /// TERM, INT, QUIT or HUP with `-z`.
    Shutdown,
    /// With `--witness`, no witness answered: the master let the address go.
    NoWitness,
}

impl Reason {
    /// Returns a stable lowercase name, for logs and the scripts' `UCARP_REASON`.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Startup => "startup",
            Reason::MasterDown => "master-down",
            Reason::Preempt => "preempt",
            Reason::Preempted => "preempted",
            Reason::BowOut => "bow-out",
            Reason::LinkDown => "link-down",
            Reason::Maintenance => "maintenance",
            Reason::CheckFailed => "check-failed",
            Reason::TrackedLinkDown => "link-down",
            Reason::UpFailed => "up-failed",
            Reason::Shutdown => "signal",
            Reason::NoWitness => "no-witness",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A change of state, with what caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Cause.
    pub reason: Reason,
    /// Source address of the advert that caused it, when an advert did.
    pub peer: Option<IpAddr>,
}

/// Why a configuration cannot run; worded as ucarp's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// vhid 0.
    ZeroVhid,
    /// A VRRP priority outside 1–254.
    Priority(u8),
    /// advbase and advskew both 0: the advert interval would be zero.
    ZeroInterval,
    /// deadratio 0.
    ZeroDeadRatio,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroVhid => write!(f, "vhid must be between 1 and 255."),
            ConfigError::Priority(p) => write!(f, "priority must be from 1 to 254, not [{p}]"),
            ConfigError::ZeroInterval => {
                write!(f, "You must supply an advertisement time base")
            }
            ConfigError::ZeroDeadRatio => write!(f, "Dead ratio can't be zero"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// What the state machine needs to know about this node.
#[derive(Debug, Clone)]
pub struct Config {
    /// Interface name; used only in the SIGUSR1 status line.
    pub iface: String,
    /// Virtual host id (the VRID in VRRP mode), 1–255.
    pub vhid: u8,
    /// `-P`: take over from a worse master at once.
    pub preempt: bool,
    /// `-n`: no downscript on the INIT → BACKUP transition at start.
    pub neutral: bool,
    /// Our source address: the tie-break between equals.
    pub srcip: IpAddr,
    /// `--preempt-delay`: after start and after the carrier returns, `-P` waits this
    /// long before it preempts a worse master (zero: at once). Taking over from a dead
    /// master is never delayed.
    pub preempt_delay: Duration,
    /// `--witness` is configured: this node takes the address only while a witness
    /// answers (reported with `Carp::handle_witness`), and a master that loses every
    /// witness hands over or releases the address (docs/PROTOCOL.md §5.15). False: no
    /// witness, and nothing of this applies.
    pub witness: bool,
    /// The protocol spoken, with what only it needs.
    pub protocol: Protocol,
}

/// The protocol a node speaks: what it advertises and how it elects. Everything else
/// (scripts, demotions, handover, carrier, witnesses, the split-brain watch) is the
/// same for both.
#[derive(Debug, Clone)]
pub enum Protocol {
    /// CARP, as ucarp speaks it.
    Carp(CarpConfig),
    /// VRRPv3, as RFC 5798, keepalived and FreeBSD speak it (`--vrrp`,
    /// docs/PROTOCOL.md §14).
    Vrrp(VrrpConfig),
}

/// What only a CARP node needs.
#[derive(Debug, Clone)]
pub struct CarpConfig {
    /// Base advert interval, in seconds.
    pub advbase: u8,
    /// Skew added to the interval, in 1/256 s; lower is preferred.
    pub advskew: u8,
    /// Multiplier of `advbase` in the master-down interval.
    pub deadratio: u32,
    /// The key bound to the vhid and the virtual addresses the digest covers.
    pub signer: Signer,
    /// Count adverts from a random start even before any advert was heard, instead of
    /// a fresh random counter each time (ucarp, docs/PROTOCOL.md §3.3), so that peers with
    /// replay protection can follow the sequence. Receivers without it ignore counters.
    pub sequential_counters: bool,
}

/// What only a VRRPv3 node needs (docs/PROTOCOL.md §14.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrrpConfig {
    /// 1–254; higher is preferred.
    pub priority: u8,
    /// Our advert interval, in centiseconds, 1–4095.
    pub interval_cs: u16,
}

impl VrrpConfig {
    /// Our advert interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.interval_cs) * 10)
    }
}

/// Counts since start, for status output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Adverts handed to the caller to send.
    pub adverts_sent: u64,
    /// Adverts whose sending failed.
    pub send_errors: u64,
    /// Authenticated adverts received.
    pub adverts_received: u64,
    /// State changes, the startup one included.
    pub transitions: u64,
}

/// What can make a node least preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Demotion {
    /// SIGUSR2's maintenance mode.
    Maintenance,
    /// The health check fails.
    CheckFailed,
    /// A tracked interface has no carrier.
    TrackedLinkDown,
    /// The up script failed, with `--up-must-succeed`.
    UpFailed,
    /// With `--witness`, no witness answers (docs/PROTOCOL.md §5.15). Unlike the others, a
    /// master demoted for it that nobody takes over from releases the address.
    NoWitness,
}

impl Demotion {
    /// Every demotion, in display order.
    pub const ALL: [Demotion; 5] = [
        Demotion::Maintenance,
        Demotion::CheckFailed,
        Demotion::TrackedLinkDown,
        Demotion::UpFailed,
        Demotion::NoWitness,
    ];

    /// Returns a stable lowercase name, for logs and the state file.
    pub fn name(self) -> &'static str {
        match self {
            Demotion::Maintenance => "maintenance",
            Demotion::CheckFailed => "check-failed",
            Demotion::TrackedLinkDown => "tracked-link-down",
            Demotion::UpFailed => "up-failed",
            Demotion::NoWitness => "no-witness",
        }
    }

    /// Returns the reason a state change caused by this demotion carries.
    pub fn reason(self) -> Reason {
        match self {
            Demotion::Maintenance => Reason::Maintenance,
            Demotion::CheckFailed => Reason::CheckFailed,
            Demotion::TrackedLinkDown => Reason::TrackedLinkDown,
            Demotion::UpFailed => Reason::UpFailed,
            Demotion::NoWitness => Reason::NoWitness,
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Demotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of active demotions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Demotions(u8);

impl Demotions {
    /// Returns true when any demotion is active.
    pub fn any(self) -> bool {
        self.0 != 0
    }

    /// Returns true when `d` is active.
    pub fn contains(self, d: Demotion) -> bool {
        self.0 & d.bit() != 0
    }

    /// Iterates over the active demotions.
    pub fn iter(self) -> impl Iterator<Item = Demotion> {
        Demotion::ALL.into_iter().filter(move |d| self.contains(*d))
    }

    pub(crate) fn set(&mut self, d: Demotion, on: bool) -> bool {
        let before = self.0;
        if on {
            self.0 |= d.bit();
        } else {
            self.0 &= !d.bit();
        }
        before != self.0
    }
}

impl fmt::Display for Demotions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for d in self.iter() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            f.write_str(d.name())?;
        }
        Ok(())
    }
}
