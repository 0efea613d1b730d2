//! The CARP state machine of ucarp (docs/PROTOCOL.md §5), sans-IO; with
//! [`Protocol::Vrrp`] the same machine speaks VRRPv3 (docs/PROTOCOL.md §14), its
//! election rules swapped in by `rules.rs`.
//!
//! [`Carp`] takes inputs — an authenticated advert, the passing of time, the link going
//! up or down, a signal — each with an explicit `now`, and queues [`Action`]s for the
//! caller to carry out in order. [`Carp::poll_timeout`] says when it next needs
//! [`Carp::handle_timeout`]. It never opens a socket, never reads the clock, never
//! spawns a process and never sleeps: time and randomness come in as arguments, so it
//! is tested with a virtual clock.
//!
//! Decisions are ucarp's, with these deliberate differences:
//! * deadlines are exact: a backup takes over *at* its master-down deadline, not at the
//!   first poll wake-up after it (docs/PROTOCOL.md §5.3). "Lower skew promotes first" still
//!   holds, because the deadline includes the skew;
//! * advbase 255 with advskew 255 sends one advert and stops, instead of re-sending on
//!   every loop pass (docs/PROTOCOL.md §5.2, §12 item 14);
//! * a master that is shut down (`-z`) or put into maintenance (SIGUSR2) hands over
//!   make-before-break: it sends a bow-out advert (255/255, which backups, ucarp's
//!   included, take over on at once, docs/PROTOCOL.md §5.4), keeps the address until it hears the
//!   successor's first advert — bounded by [`handover_bound`], the group's dead time —
//!   and only then runs its down script. ucarp sends nothing and leaves a dead-time
//!   outage;
//! * a backup takes over a bow-out after [`bow_out_delay`] (ucarp's receive lag plus its
//!   own skew), not at once, so backups take over one at a time in preference order and
//!   a ucarp backup, which does take over at once, is never raced;
//! * a takeover from a live master (preemption, bow-out) claims the address only once
//!   the up script has run: the first advert waits for it (see
//!   [`Action::SendAdvert`]), so the old master keeps serving until ours is in place
//!   (one that bowed out, at most until its hold ends). ucarp blocks in its script, to
//!   the same effect. From a dead master the claim goes out at once;
//! * a master still heard within [`step_down_grace`] of our claim is the master we took
//!   over from, stepping down: no split brain;
//! * a node can be *demoted* — SIGUSR2's persistent maintenance mode, a failing health
//!   check, a tracked interface without carrier, a failed up script — and is then least
//!   preferred: it advertises and competes with advskew 255 and never preempts, so it
//!   never holds the address while a healthy node is alive. A demoted master hands over
//!   make-before-break as above. ucarp's SIGUSR2 is a 3 s silence after which a
//!   preempting node takes the address right back, and ucarp has no health checks;
//! * with advbase 0 the master-down interval is deadratio × the whole interval. ucarp
//!   adds the skew once, so its dead time collapses to one interval (no loss
//!   tolerance).
//!
//! The machine's parts are `impl Carp` blocks in files of their own: `rules` (what
//! differs between CARP and VRRP), `election` (an authenticated advert), `handover` (bow-outs, make-before-break), `demote`
//! (demotions), `carrier` (carrier loss, and the grace a master keeps the address
//! through a flap), `witness` (`--witness`: no takeover without one, a cut-off master
//! releases), `rivals` (the split-brain watch), `adverts` (counters and sending).
//!
//! The shape of the API follows quinn-proto: inputs are `handle_*`, outputs are drained
//! with [`Carp::poll_action`]. One queue serves the constructor's startup actions and
//! every handler alike, and costs no allocation per call.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::event::Event;
use crate::rx::{VerifiedAdvert, VerifiedVrrp};
use crate::wire::vrrp::MAX_INTERVAL_CS;

// The vocabulary and the formulas live in their own modules (`types`, `timing`); they
// are re-exported so that the machine's API reads as one.
pub use crate::timing::*;
pub use crate::types::*;

mod adverts;
mod carrier;
mod demote;
mod election;
mod freeze;
mod handover;
mod rivals;
mod rules;
mod witness;

use adverts::SplitMix64;
use carrier::CarrierHold;
use handover::Handover;
use rivals::Rival;
pub use rules::{vrrp_pace, Advertisement, VRRP_PACE, VRRP_PACE_FLOOR, VRRP_SUCCESSOR_GRACE};
use rules::{Offer, Stance};
pub use witness::{WitnessSchedule, WitnessTick, WitnessTiming};

/// The longest gap between two bow-out adverts during a handover, so that one lost
/// frame does not cost a dead-time outage.
pub const BOW_OUT_REPEAT_MAX: Duration = Duration::from_millis(100);
/// How many split-brain rivals are remembered at once (only authenticated nodes count).
const MAX_RIVALS: usize = 8;

/// Consecutive send failures that suppress preemption (docs/PROTOCOL.md §5.8).
pub const SEND_ERRORS_MAX: u32 = 3;
/// Consecutive successful sends that lift the suppression again.
pub const SEND_SUCCESSES_MIN: u32 = 3;

/// Something the caller must do, in queue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advert, framed per docs/PROTOCOL.md §2, then report the outcome with
    /// [`Carp::handle_send_result`].
    SendAdvert {
        /// The advert.
        advert: Advertisement,
        /// True for a claim, the first advert after a takeover from a live master: the
        /// caller holds it until the up script queued before it has run, so that the
        /// master handing over drops the address only once ours is in place, and
        /// reports it with [`Carp::handle_send_result`] when it goes out. No other
        /// advert is asked for meanwhile.
        after_scripts: bool,
    },
    /// Send a gratuitous ARP for the virtual address (docs/PROTOCOL.md §6).
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

/// One virtual host, CARP or VRRP: ucarp's `sc` and the logic of `carp.c`, without
/// the I/O.
#[derive(Debug)]
pub struct Carp {
    cfg: Config,
    state: State,
    /// When the next advert is due (MASTER only, not while handing over).
    adv_at: Option<Instant>,
    /// When the master is considered dead (BACKUP only).
    master_down_at: Option<Instant>,
    /// Set while a master hands over.
    handover: Option<Handover>,
    /// MASTER after a freeze, listening until then before it advertises again
    /// (see `freeze.rs`).
    waking: Option<Instant>,
    /// When our claim (our first advert as master) went out: rivals heard within
    /// [`step_down_grace`] of it are the master stepping down, not a split brain. `None`
    /// while MASTER means the claim is still pending (see [`Carp::claim_pending`]).
    master_since: Option<Instant>,
    /// BACKUP after a bow-out from this peer: the master-down timer is the short wait
    /// of [`bow_out_delay`], and its expiry is a takeover on a bow-out.
    bowed_out: Option<IpAddr>,
    /// Active demotions: while any is, least preferred and never preempts.
    demotions: Demotions,
    /// The source of the last authenticated advert heard while BACKUP: the master.
    master: Option<IpAddr>,
    /// The last state change.
    last_transition: Option<Transition>,
    /// Worse masters heard while we are master (split brain), oldest first; at most
    /// [`MAX_RIVALS`], emptied on leaving MASTER.
    rivals: Vec<Rival>,
    link_up: bool,
    /// A master without carrier keeps the address until then (`carrier.rs`).
    carrier_hold: Option<CarrierHold>,
    /// Until then `-P` does not preempt (`--preempt-delay` after start or link up).
    preempt_hold: Option<Instant>,
    /// With `--witness`: a witness answered within the loss time (see `witness.rs`).
    witness_up: bool,
    /// When a witness last answered.
    witness_seen: Option<Instant>,
    /// A takeover was held back for want of a witness (logged once until one answers).
    witness_held: bool,
    /// After shutdown nothing more happens.
    stopped: bool,
    /// The counter last sent or adopted.
    counter: u64,
    /// False until a valid advert has been received: until then every advert carries a
    /// fresh random counter (docs/PROTOCOL.md §3.3).
    counter_synced: bool,
    /// Adverts left before the delayed gratuitous ARP (docs/PROTOCOL.md §5.2 step 5).
    delayed_arp: Option<u8>,
    /// VRRP's Master_Adver_Interval: our own interval until a backup learns the
    /// master's from its adverts (docs/PROTOCOL.md §14.4). Unused by CARP.
    master_interval: Duration,
    send_errors: u32,
    send_successes: u32,
    suppress_preempt: bool,
    rng: SplitMix64,
    stats: Stats,
    actions: VecDeque<Action>,
}

impl Carp {
    /// Starts a virtual host at `now`: INIT → BACKUP, with the downscript unless
    /// `neutral`, and the master-down timer armed (docs/PROTOCOL.md §5.1). Nothing is sent.
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
        let master_interval = match &cfg.protocol {
            Protocol::Carp(c) if c.advbase == 0 && c.advskew == 0 => {
                return Err(ConfigError::ZeroInterval)
            }
            Protocol::Carp(c) if c.deadratio == 0 => return Err(ConfigError::ZeroDeadRatio),
            Protocol::Carp(_) => Duration::ZERO,
            Protocol::Vrrp(v) if !(1..=254).contains(&v.priority) => {
                return Err(ConfigError::Priority(v.priority))
            }
            Protocol::Vrrp(v) if v.interval_cs == 0 || v.interval_cs > MAX_INTERVAL_CS => {
                return Err(ConfigError::ZeroInterval)
            }
            Protocol::Vrrp(v) => v.interval(),
        };
        let mut carp = Carp {
            cfg,
            state: State::Init,
            adv_at: None,
            master_down_at: None,
            handover: None,
            waking: None,
            master_since: None,
            bowed_out: None,
            demotions: Demotions::default(),
            master: None,
            last_transition: None,
            rivals: Vec::new(),
            link_up: true,
            preempt_hold: None,
            carrier_hold: None,
            witness_up: false,
            witness_seen: None,
            witness_held: false,
            stopped: false,
            counter: 0,
            counter_synced: false,
            delayed_arp: None,
            master_interval,
            send_errors: 0,
            send_successes: 0,
            suppress_preempt: false,
            rng: SplitMix64(seed),
            stats: Stats::default(),
            actions: VecDeque::new(),
        };
        carp.set_state(State::Backup, Reason::Startup, None);
        carp.arm_master_down(now);
        carp.hold_preemption(now);
        Ok(carp)
    }

    /// Returns the current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Returns the counts since start.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Returns the active demotions.
    pub fn demotions(&self) -> Demotions {
        self.demotions
    }

    /// Returns the current master as far as this node knows: itself when MASTER, the
    /// source of the last advert heard when BACKUP, `None` before any was heard.
    pub fn current_master(&self) -> Option<IpAddr> {
        match self.state {
            State::Master => Some(self.cfg.srcip),
            _ => self.master,
        }
    }

    /// Returns the last state change, with its reason.
    pub fn last_transition(&self) -> Option<Transition> {
        self.last_transition
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
    /// a state change swaps it for the advert timer, a handover replaces the advert
    /// timer by its own, a link change or shutdown clears them. Callers should read it
    /// again after each input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let handover = self.handover.map(|h| match h.successor {
            Some((_, at)) => at,
            None => {
                let until = h.release.map_or(h.until, |r| r.min(h.until));
                until.min(h.next_bow_out)
            }
        });
        [
            self.adv_at,
            self.master_down_at,
            handover,
            self.waking,
            self.carrier_hold.map(|h| h.until),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles the passing of time. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        if let Some(hold) = self.carrier_hold {
            if hold.until <= now {
                self.carrier_grace_over();
            }
            return;
        }
        if !self.link_up {
            return;
        }
        self.notice_freeze(now);
        if let Some(until) = self.waking {
            if until <= now {
                self.resume_after_freeze(now);
            }
            return;
        }
        if let Some(h) = self.handover {
            let release = h.release.is_some_and(|r| r <= now);
            if let Some((peer, at)) = h.successor {
                if at <= now {
                    self.handover_answered(now, h.leaving, peer);
                }
            } else if h.until <= now || release {
                self.handover_unanswered(now, h.leaving, h.release.is_some());
            } else if h.next_bow_out <= now {
                self.send_bow_out(now);
            }
            return;
        }
        match self.state {
            State::Backup if self.master_down_at.is_some_and(|t| t <= now) => {
                self.master_down_at = None;
                if !self.sees_witness() {
                    // docs/PROTOCOL.md §5.15: no witness, no takeover.
                    self.bowed_out = None;
                    self.hold_back();
                    return;
                }
                match self.bowed_out.take() {
                    Some(peer) => {
                        self.become_master(now, Reason::BowOut, Some(peer));
                        self.log(match self.cfg.protocol {
                            Protocol::Carp(_) => Event::GoingToTimeOut { peer },
                            Protocol::Vrrp(_) => Event::MasterResigned { peer },
                        });
                    }
                    None => self.become_master(now, Reason::MasterDown, None),
                }
            }
            State::Master if self.adv_at.is_some_and(|t| t <= now) => self.send_advert(now),
            _ => {}
        }
    }

    /// Handles an authenticated CARP advert from a peer (docs/PROTOCOL.md §5.4).
    pub fn handle_advert(&mut self, now: Instant, adv: &VerifiedAdvert) {
        if self.stopped || !self.link_up || !matches!(self.cfg.protocol, Protocol::Carp(_)) {
            return;
        }
        // docs/PROTOCOL.md §3.3: adopt the counter in every state, then add one per send.
        self.counter = adv.advert().counter;
        self.counter_synced = true;
        self.heard(now, Self::carp_offer(adv));
    }

    /// Handles a VRRPv3 advert that passed the receive checks (docs/PROTOCOL.md §14.4).
    pub fn handle_vrrp_advert(&mut self, now: Instant, adv: &VerifiedVrrp) {
        if self.stopped || !self.link_up || !matches!(self.cfg.protocol, Protocol::Vrrp(_)) {
            return;
        }
        self.heard(now, Self::vrrp_offer(adv));
    }

    /// An advert of either protocol, in the election's terms.
    fn heard(&mut self, now: Instant, offer: Offer) {
        // While the link is down ucarp reads no packets at all (docs/PROTOCOL.md §5.6):
        // the callers return before this.
        self.stats.adverts_received += 1;
        self.notice_freeze(now);
        if self.waking.is_some() {
            self.heard_after_freeze(now, &offer);
            return;
        }
        if self.handover.is_some() {
            // Whoever advertises now took over on our bow-out: the address is theirs.
            self.successor_heard(now, offer.src);
            return;
        }
        self.elect(now, &offer);
    }

    /// Handles our interface being set down or deleted under `-z`: the daemon exits.
    /// A master runs its down script first (docs/PROTOCOL.md §5.6); no bow-out, since nobody can
    /// hear one, and no "link down" story, since nothing waits for the link to return.
    pub fn handle_interface_gone(&mut self, _now: Instant) {
        if self.stopped {
            return;
        }
        self.link_up = false;
        self.handover = None;
        self.set_state(State::Backup, Reason::LinkDown, None);
        self.stop();
    }

    /// Handles SIGUSR1: logs the state.
    pub fn handle_status(&mut self, _now: Instant) {
        self.log(Event::Status {
            state: self.state,
            iface: self.cfg.iface.clone(),
            vhid: self.cfg.vhid,
            demotions: self.demotions,
        });
    }

    /// Runs the down script of a master that leaves without a state change to log
    /// (ucarp's `-z` exit path).
    fn leave_master(&mut self, reason: Reason, peer: Option<IpAddr>) {
        if self.state == State::Master {
            self.actions.push_back(Action::RunDown(Transition {
                from: State::Master,
                to: State::Backup,
                reason,
                peer,
            }));
        }
    }

    /// Stops for good: no timer, nothing more, then [`Action::Exit`].
    fn stop(&mut self) {
        self.stopped = true;
        self.carrier_hold = None;
        self.adv_at = None;
        self.master_down_at = None;
        self.handover = None;
        self.actions.push_back(Action::Exit);
    }

    fn arm_master_down(&mut self, now: Instant) {
        // An interval too long for `Instant` (deadratio near 2^32) means "never".
        self.master_down_at = now.checked_add(self.dead_time());
        self.bowed_out = None;
    }

    /// BACKUP → MASTER (docs/PROTOCOL.md §5.2): upscript, gratuitous ARP, an advert, and a
    /// second gratuitous ARP with the third advert.
    ///
    /// From a dead master the advert (the claim) goes out at once: nobody serves the
    /// address, and the other backups must hear a master before their own timers run
    /// out. From a live master, one we preempt or one that bowed out and keeps the
    /// address until it hears us, the claim waits for the up script (make-before-break),
    /// and so does every other advert until it has gone out.
    fn become_master(&mut self, now: Instant, reason: Reason, peer: Option<IpAddr>) {
        self.set_state(State::Master, reason, peer);
        self.master_down_at = None;
        self.bowed_out = None;
        self.actions.push_back(Action::SendGratuitousArp);
        let after_scripts = reason != Reason::MasterDown;
        self.send_advert_as(now, Stance::Standing, after_scripts);
        self.delayed_arp = Some(2);
        if after_scripts {
            // Pending: no advert before the claim has gone out.
            self.adv_at = None;
        } else {
            self.master_since = Some(now);
        }
    }

    /// MASTER, but the first advert (the claim) waits for the up script: the master we
    /// preempted, or that bowed out, still serves the address. Until the caller reports
    /// it sent ([`Carp::handle_send_result`]) no other advert goes out, and that master's
    /// adverts are expected, not a split brain.
    fn claim_pending(&self) -> bool {
        self.state == State::Master && self.master_since.is_none()
    }

    /// The one place a state changes: logs it and queues the script (docs/PROTOCOL.md §5.5).
    /// Setting the state it already has does nothing.
    fn set_state(&mut self, to: State, reason: Reason, peer: Option<IpAddr>) {
        if self.state == to {
            return;
        }
        let t = Transition {
            from: self.state,
            to,
            reason,
            peer,
        };
        if self.state == State::Master {
            self.rivals.clear();
            self.master_since = None;
            self.waking = None;
        }
        self.state = to;
        self.last_transition = Some(t);
        self.stats.transitions += 1;
        self.log(Event::StateChange(t));
        match to {
            State::Master => self.actions.push_back(Action::RunUp(t)),
            State::Backup if reason == Reason::Startup && self.cfg.neutral => {}
            State::Backup => self.actions.push_back(Action::RunDown(t)),
            State::Init => {}
        }
    }

    /// Starts the `--preempt-delay` wait, if there is one.
    fn hold_preemption(&mut self, now: Instant) {
        self.preempt_hold = (!self.cfg.preempt_delay.is_zero())
            .then(|| now.checked_add(self.cfg.preempt_delay))
            .flatten();
    }

    /// Whether `-P` may preempt at `now`: not during the `--preempt-delay` wait.
    fn may_preempt(&self, now: Instant) -> bool {
        self.cfg.preempt && self.preempt_hold.is_none_or(|until| until <= now)
    }

    fn log(&mut self, event: Event) {
        self.actions.push_back(Action::Log(event));
    }
}
