//! The CARP state machine of ucarp (SPEC.md §5), sans-IO.
//!
//! [`Carp`] takes inputs — an authenticated advert, the passing of time, the link going
//! up or down, a signal — each with an explicit `now`, and queues [`Action`]s for the
//! caller to carry out in order. [`Carp::poll_timeout`] says when it next needs
//! [`Carp::handle_timeout`]. It never opens a socket, never reads the clock, never
//! spawns a process and never sleeps: time and randomness come in as arguments, so it
//! is tested with a virtual clock.
//!
//! Decisions are ucarp's, with two deliberate differences:
//! * deadlines are exact: a backup takes over *at* its master-down deadline, not at the
//!   first poll wake-up after it (SPEC.md §5.3). "Lower skew promotes first" still
//!   holds, because the deadline includes the skew;
//! * advbase 255 with advskew 255 sends one advert and stops, instead of re-sending on
//!   every loop pass (§5.2, §12 item 14).
//!
//! The shape of the API follows quinn-proto: inputs are `handle_*`, outputs are drained
//! with [`Carp::poll_action`]. One queue serves the constructor's startup actions and
//! every handler alike, and costs no allocation per call.

use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::auth::Key;
use crate::event::Event;
use crate::packet::Advert;
use crate::rx::VerifiedAdvert;

/// How long ucarp stays quiet after SIGUSR2 before arming its master-down timer again
/// (its `sleep(3)`, SPEC.md §5.7).
pub const DEMOTE_HOLD: Duration = Duration::from_secs(3);

/// Consecutive send failures that suppress preemption (SPEC.md §5.8).
pub const SEND_ERRORS_MAX: u32 = 3;
/// Consecutive successful sends that lift the suppression again.
pub const SEND_SUCCESSES_MIN: u32 = 3;
/// The advskew advertised, and used locally, while preemption is suppressed.
pub const SUPPRESSED_ADVSKEW: u8 = 240;

/// At most this many adverts are held back while the SIGUSR2 hold lasts; ucarp's are
/// held in the capture buffer, which is bounded too.
const DEFERRED_MAX: usize = 16;

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
    /// SIGUSR2.
    Demote,
    /// TERM, INT, QUIT or HUP with `-z`.
    Shutdown,
}

impl Reason {
    /// Returns a stable lowercase name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Startup => "startup",
            Reason::MasterDown => "master-down",
            Reason::Preempt => "preempt",
            Reason::Preempted => "preempted",
            Reason::BowOut => "bow-out",
            Reason::LinkDown => "link-down",
            Reason::Demote => "demote",
            Reason::Shutdown => "shutdown",
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
    pub peer: Option<Ipv4Addr>,
}

/// Something the caller must do, in queue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advert, framed per SPEC.md §2, then report the outcome with
    /// [`Carp::handle_send_result`].
    SendAdvert {
        /// The advert.
        advert: Advert,
        /// True for the first advert after a takeover: the caller may hold it until
        /// the up script queued before it has run, so that a peer handing over on
        /// hearing it only drops the address once ours is in place.
        after_scripts: bool,
    },
    /// Send a gratuitous ARP for the virtual address (SPEC.md §6).
    SendGratuitousArp,
    /// Run the up script.
    RunUp(Transition),
    /// Run the down script.
    RunDown(Transition),
    /// Log this event.
    Log(Event),
    /// Exit once the scripts already queued have run. Nothing follows it.
    Exit,
}

/// Why a configuration cannot run; worded as ucarp's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// vhid 0.
    ZeroVhid,
    /// advbase and advskew both 0: the advert interval would be zero.
    ZeroInterval,
    /// deadratio 0.
    ZeroDeadRatio,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroVhid => write!(f, "vhid must be between 1 and 255."),
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
    /// Virtual host id, 1–255.
    pub vhid: u8,
    /// Base advert interval, in seconds.
    pub advbase: u8,
    /// Skew added to the interval, in 1/256 s; lower is preferred.
    pub advskew: u8,
    /// Multiplier of `advbase` in the master-down interval.
    pub deadratio: u32,
    /// `-P`: take over from a worse master at once.
    pub preempt: bool,
    /// `-n`: no downscript on the INIT → BACKUP transition at start.
    pub neutral: bool,
    /// Our source address: the tie-break between equal intervals.
    pub srcip: Ipv4Addr,
    /// The virtual address, covered by the digest.
    pub vaddr: Ipv4Addr,
    /// The HMAC key.
    pub key: Key,
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

/// Returns ucarp's interval `T(base, skew)`: `base` s + `skew`/256 s, truncated to whole
/// microseconds (SPEC.md §5).
pub fn advert_interval(advbase: u8, advskew: u8) -> Duration {
    Duration::from_micros(u64::from(advbase) * 1_000_000 + skew_micros(advskew))
}

/// Returns the master-down interval: `advbase × deadratio` s + `advskew`/256 s. Only the
/// base is multiplied (SPEC.md §5.1, §12 item 6).
pub fn master_down_interval(advbase: u8, advskew: u8, deadratio: u32) -> Duration {
    Duration::from_secs(u64::from(advbase) * u64::from(deadratio))
        + Duration::from_micros(skew_micros(advskew))
}

fn skew_micros(advskew: u8) -> u64 {
    u64::from(advskew) * 1_000_000 / 256
}

/// The tie-break key of an address: its four bytes read as a little-endian integer, as
/// ucarp on x86 and arm64 compares them (SPEC.md §5.4, §12 item 1). The last octet
/// counts most: 10.9.1.1 beats 10.9.0.2.
pub fn tie_break_key(ip: Ipv4Addr) -> u32 {
    u32::from_le_bytes(ip.octets())
}

/// SplitMix64: a tiny, well-mixed generator for the pre-synchronisation counters. It
/// only needs to be unpredictable to peers, which the caller's seed provides.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// One CARP virtual host: ucarp's `sc` and the logic of `carp.c`, without the I/O.
#[derive(Debug)]
pub struct Carp {
    cfg: Config,
    state: State,
    /// When the next advert is due (MASTER only).
    adv_at: Option<Instant>,
    /// When the master is considered dead (BACKUP only).
    master_down_at: Option<Instant>,
    /// End of the quiet period after SIGUSR2.
    hold_until: Option<Instant>,
    /// Adverts that arrived during the hold, handled when it ends.
    deferred: Vec<VerifiedAdvert>,
    link_up: bool,
    /// After shutdown nothing more happens.
    stopped: bool,
    /// The counter last sent or adopted.
    counter: u64,
    /// False until a valid advert has been received: until then every advert carries a
    /// fresh random counter (SPEC.md §3.3).
    counter_synced: bool,
    /// Adverts left before the delayed gratuitous ARP (§5.2 step 5).
    delayed_arp: Option<u8>,
    send_errors: u32,
    send_successes: u32,
    suppress_preempt: bool,
    rng: SplitMix64,
    stats: Stats,
    actions: VecDeque<Action>,
}

impl Carp {
    /// Starts a virtual host at `now`: INIT → BACKUP, with the downscript unless
    /// `neutral`, and the master-down timer armed (SPEC.md §5.1). Nothing is sent.
    ///
    /// `seed` feeds the random counters sent before the first advert is received.
    ///
    /// # Errors
    /// A [`ConfigError`] when the configuration would make the machine spin or never
    /// run: vhid 0, a zero interval, or deadratio 0.
    pub fn new(cfg: Config, now: Instant, seed: u64) -> Result<Carp, ConfigError> {
        if cfg.vhid == 0 {
            return Err(ConfigError::ZeroVhid);
        }
        if cfg.advbase == 0 && cfg.advskew == 0 {
            return Err(ConfigError::ZeroInterval);
        }
        if cfg.deadratio == 0 {
            return Err(ConfigError::ZeroDeadRatio);
        }
        let mut carp = Carp {
            cfg,
            state: State::Init,
            adv_at: None,
            master_down_at: None,
            hold_until: None,
            deferred: Vec::new(),
            link_up: true,
            stopped: false,
            counter: 0,
            counter_synced: false,
            delayed_arp: None,
            send_errors: 0,
            send_successes: 0,
            suppress_preempt: false,
            rng: SplitMix64(seed),
            stats: Stats::default(),
            actions: VecDeque::new(),
        };
        carp.set_state(State::Backup, Reason::Startup, None);
        carp.arm_master_down(now);
        Ok(carp)
    }

    /// Returns the current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Returns the configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Returns the counts since start.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Returns true while preemption is suppressed after send failures (SPEC.md §5.8).
    pub fn is_preempt_suppressed(&self) -> bool {
        self.suppress_preempt
    }

    /// Returns true while actions are queued.
    pub fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Returns the next action to carry out, oldest first.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Returns the earliest deadline at which [`handle_timeout`](Self::handle_timeout)
    /// has work to do, or `None` when only an input can wake the machine.
    ///
    /// Every handler can change it: an advert re-arms or clears the master-down timer,
    /// a state change swaps it for the advert timer, a link change or shutdown clears
    /// both. Callers should read it again after each input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.adv_at, self.master_down_at, self.hold_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles the passing of time. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stopped || !self.link_up {
            return;
        }
        if self.hold_until.is_some_and(|t| t <= now) {
            self.end_hold(now);
        }
        match self.state {
            State::Backup if self.master_down_at.is_some_and(|t| t <= now) => {
                self.master_down_at = None;
                self.become_master(now, Reason::MasterDown, None);
            }
            State::Master if self.adv_at.is_some_and(|t| t <= now) => self.send_advert(now),
            _ => {}
        }
    }

    /// Handles an authenticated advert from a peer (SPEC.md §5.4).
    pub fn handle_advert(&mut self, now: Instant, adv: &VerifiedAdvert) {
        // While the link is down ucarp reads no packets at all (§5.6).
        if self.stopped || !self.link_up {
            return;
        }
        self.stats.adverts_received += 1;
        // §3.3: adopt the counter in every state, then add one per send.
        self.counter = adv.advert().counter;
        self.counter_synced = true;
        if self.hold_until.is_some() {
            if self.deferred.len() < DEFERRED_MAX {
                self.deferred.push(*adv);
            }
            return;
        }
        self.elect(now, adv);
    }

    fn elect(&mut self, now: Instant, adv: &VerifiedAdvert) {
        let peer = adv.src();
        let remote = advert_interval(adv.advert().advbase, adv.advert().advskew);
        let local = advert_interval(self.cfg.advbase, self.local_advskew());
        match self.state {
            State::Init => {}
            State::Master => {
                let ours = tie_break_key(self.cfg.srcip);
                let theirs = tie_break_key(peer);
                if local > remote || (local == remote && theirs < ours) {
                    // One more advert so the new master surely hears us, then step down.
                    self.send_advert(now);
                    self.set_state(State::Backup, Reason::Preempted, Some(peer));
                    self.adv_at = None;
                    self.arm_master_down(now);
                    self.log(Event::PreferredMaster { peer });
                } else if local < remote || (local == remote && theirs > ours) {
                    self.actions.push_back(Action::SendGratuitousArp);
                    self.delayed_arp = Some(2);
                    self.log(Event::NonPreferredMaster { peer });
                }
            }
            State::Backup => {
                let dead = Duration::from_secs(
                    u64::from(self.cfg.advbase) * u64::from(self.cfg.deadratio),
                ) + Duration::from_micros(skew_micros(self.local_advskew()));
                if self.cfg.preempt && local < remote {
                    self.become_master(now, Reason::Preempt, Some(peer));
                    self.log(Event::Preemption { peer });
                } else if dead < remote {
                    self.become_master(now, Reason::BowOut, Some(peer));
                    self.log(Event::GoingToTimeOut { peer });
                } else {
                    self.arm_master_down(now);
                }
            }
        }
    }

    /// Handles the outcome of sending the advert of the oldest [`Action::SendAdvert`]
    /// (SPEC.md §5.8): three failures in a row suppress preemption, three successes
    /// lift it.
    pub fn handle_send_result(&mut self, now: Instant, ok: bool) {
        if ok {
            if self.send_errors >= SEND_ERRORS_MAX {
                self.send_successes += 1;
                if self.send_successes >= SEND_SUCCESSES_MIN {
                    self.send_errors = 0;
                    self.send_successes = 0;
                    if self.suppress_preempt {
                        self.suppress_preempt = false;
                        self.log(Event::SendRecovered);
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
            });
            self.suppress_preempt = true;
            if self.state == State::Master && !self.stopped {
                self.send_advert(now);
            }
        }
    }

    /// Handles a change of carrier (IFF_RUNNING). Down forces BACKUP and stops every
    /// timer; up starts the election over (SPEC.md §5.6). The caller does not report
    /// link changes under `-S`.
    pub fn handle_link(&mut self, now: Instant, up: bool) {
        if self.stopped || up == self.link_up {
            return;
        }
        self.link_up = up;
        if up {
            self.log(Event::LinkUp);
            self.arm_master_down(now);
        } else {
            self.log(Event::LinkDown);
            self.set_state(State::Backup, Reason::LinkDown, None);
            self.adv_at = None;
            self.master_down_at = None;
            self.hold_until = None;
            self.deferred.clear();
        }
    }

    /// Handles SIGUSR1: logs the state.
    pub fn handle_status(&mut self, now: Instant) {
        self.cut_hold_short(now);
        self.log(Event::Status {
            state: self.state,
            iface: self.cfg.iface.clone(),
            vhid: self.cfg.vhid,
        });
    }

    /// Handles SIGUSR2: a master goes to BACKUP (downscript), stays quiet for
    /// [`DEMOTE_HOLD`], then arms its master-down timer as ucarp does after its
    /// `sleep(3)` (SPEC.md §5.7). Adverts heard meanwhile are handled when the hold ends.
    pub fn handle_demote(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        self.cut_hold_short(now);
        if self.state == State::Backup {
            self.log(Event::DemoteIgnored);
            return;
        }
        self.set_state(State::Backup, Reason::Demote, None);
        self.adv_at = None;
        self.master_down_at = None;
        self.hold_until = now.checked_add(DEMOTE_HOLD);
    }

    /// Handles TERM, INT, QUIT or HUP under `-z`: the downscript if not BACKUP, then
    /// [`Action::Exit`]. No advert is sent (SPEC.md §5.7). Nothing happens afterwards.
    pub fn handle_shutdown(&mut self, _now: Instant) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if self.state != State::Backup {
            self.actions.push_back(Action::RunDown(Transition {
                from: self.state,
                to: State::Backup,
                reason: Reason::Shutdown,
                peer: None,
            }));
        }
        self.adv_at = None;
        self.master_down_at = None;
        self.hold_until = None;
        self.actions.push_back(Action::Exit);
    }

    /// A signal ends ucarp's `sleep(3)` early (SPEC.md §5.7, "cut short by any signal").
    fn cut_hold_short(&mut self, now: Instant) {
        if self.hold_until.is_some() {
            self.end_hold(now);
        }
    }

    fn end_hold(&mut self, now: Instant) {
        self.hold_until = None;
        self.arm_master_down(now);
        for adv in std::mem::take(&mut self.deferred) {
            self.elect(now, &adv);
        }
    }

    /// The skew this node advertises and compares itself with (§5.4, §5.8).
    fn local_advskew(&self) -> u8 {
        if self.suppress_preempt && self.cfg.advskew < SUPPRESSED_ADVSKEW {
            SUPPRESSED_ADVSKEW
        } else {
            self.cfg.advskew
        }
    }

    fn arm_master_down(&mut self, now: Instant) {
        let interval = master_down_interval(self.cfg.advbase, self.cfg.advskew, self.cfg.deadratio);
        // An interval too long for `Instant` (deadratio near 2^32) means "never".
        self.master_down_at = now.checked_add(interval);
    }

    /// BACKUP → MASTER (SPEC.md §5.2): upscript, gratuitous ARP, an advert at once, and
    /// a second gratuitous ARP with the third advert.
    fn become_master(&mut self, now: Instant, reason: Reason, peer: Option<Ipv4Addr>) {
        self.set_state(State::Master, reason, peer);
        self.master_down_at = None;
        self.actions.push_back(Action::SendGratuitousArp);
        self.send_advert_with(now, true);
        self.delayed_arp = Some(2);
    }

    fn send_advert(&mut self, now: Instant) {
        self.send_advert_with(now, false);
    }

    fn send_advert_with(&mut self, now: Instant, after_scripts: bool) {
        // §3.3: random until synchronised, then adopted value plus one per send.
        self.counter = if self.counter_synced {
            self.counter.wrapping_add(1)
        } else {
            self.rng.next_u64()
        };
        let advskew = self.local_advskew();
        let advert = Advert {
            vhid: self.cfg.vhid,
            advbase: self.cfg.advbase,
            advskew,
            counter: self.counter,
            md: self
                .cfg
                .key
                .sign(self.cfg.vhid, self.cfg.vaddr, &self.counter.to_be_bytes()),
        };
        self.actions.push_back(Action::SendAdvert {
            advert,
            after_scripts,
        });
        self.stats.adverts_sent += 1;
        // §5.2 step 6; 255/255 is BSD's bow-out: send once, do not re-arm.
        self.adv_at = if self.cfg.advbase == 255 && advskew == 255 {
            None
        } else {
            now.checked_add(advert_interval(self.cfg.advbase, advskew))
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
    }

    /// The one place a state changes: logs it and queues the script (§5.5). Setting the
    /// state it already has does nothing.
    fn set_state(&mut self, to: State, reason: Reason, peer: Option<Ipv4Addr>) {
        if self.state == to {
            return;
        }
        let t = Transition {
            from: self.state,
            to,
            reason,
            peer,
        };
        self.state = to;
        self.stats.transitions += 1;
        self.log(Event::StateChange(t));
        match to {
            State::Master => self.actions.push_back(Action::RunUp(t)),
            State::Backup if reason == Reason::Startup && self.cfg.neutral => {}
            State::Backup => self.actions.push_back(Action::RunDown(t)),
            State::Init => {}
        }
    }

    fn log(&mut self, event: Event) {
        self.actions.push_back(Action::Log(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_truncate_to_microseconds() {
        assert_eq!(advert_interval(1, 0), Duration::from_secs(1));
        // 50/256 s = 195312.5 µs, truncated.
        assert_eq!(advert_interval(1, 50), Duration::from_micros(1_195_312));
        assert_eq!(advert_interval(0, 20), Duration::from_micros(78_125));
        assert_eq!(
            master_down_interval(1, 50, 3),
            Duration::from_micros(3_195_312)
        );
        assert_eq!(
            master_down_interval(255, 255, u32::MAX),
            Duration::from_secs(255 * u64::from(u32::MAX)) + Duration::from_micros(996_093)
        );
    }

    #[test]
    fn tie_break_is_little_endian() {
        let a = Ipv4Addr::new(10, 9, 1, 1);
        let b = Ipv4Addr::new(10, 9, 0, 2);
        assert!(tie_break_key(a) < tie_break_key(b));
        assert!(u32::from(a) > u32::from(b));
    }

    #[test]
    fn splitmix_is_deterministic_and_mixes() {
        let mut a = SplitMix64(1);
        let mut b = SplitMix64(1);
        let x = a.next_u64();
        assert_eq!(x, b.next_u64());
        assert_ne!(x, a.next_u64());
    }
}
