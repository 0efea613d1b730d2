//! The CARP state machine of ucarp (SPEC.md §5), sans-IO.
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
//!   first poll wake-up after it (SPEC.md §5.3). "Lower skew promotes first" still
//!   holds, because the deadline includes the skew;
//! * advbase 255 with advskew 255 sends one advert and stops, instead of re-sending on
//!   every loop pass (§5.2, §12 item 14);
//! * a master that is shut down (`-z`) or put into maintenance (SIGUSR2) hands over
//!   make-before-break: it sends a bow-out advert (255/255, which backups, ucarp's
//!   included, take over on at once, §5.4), keeps the address until it hears the
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
//! The shape of the API follows quinn-proto: inputs are `handle_*`, outputs are drained
//! with [`Carp::poll_action`]. One queue serves the constructor's startup actions and
//! every handler alike, and costs no allocation per call.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::event::Event;
use crate::rx::VerifiedAdvert;
use crate::wire::packet::Advert;

// The vocabulary and the formulas live in their own modules (`types`, `timing`); they
// are re-exported so that the machine's API reads as one.
pub use crate::timing::*;
pub use crate::types::*;

/// The longest gap between two bow-out adverts during a handover, so that one lost
/// frame does not cost a dead-time outage.
pub const BOW_OUT_REPEAT_MAX: Duration = Duration::from_millis(100);
/// How many split-brain rivals are remembered at once (only authenticated nodes count).
const MAX_RIVALS: usize = 8;

/// Consecutive send failures that suppress preemption (SPEC.md §5.8).
pub const SEND_ERRORS_MAX: u32 = 3;
/// Consecutive successful sends that lift the suppression again.
pub const SEND_SUCCESSES_MIN: u32 = 3;

/// Something the caller must do, in queue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advert, framed per SPEC.md §2, then report the outcome with
    /// [`Carp::handle_send_result`].
    SendAdvert {
        /// The advert.
        advert: Advert,
        /// True for a claim, the first advert after a takeover from a live master: the
        /// caller holds it until the up script queued before it has run, so that the
        /// master handing over drops the address only once ours is in place, and
        /// reports it with [`Carp::handle_send_result`] when it goes out. No other
        /// advert is asked for meanwhile.
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

/// Why a handover started, and so what happens when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaving {
    /// Shutdown under `-z`: exit once the successor is heard (or at the bound).
    Exit,
    /// Demoted: stay as a backup once the successor is heard; stay master, least
    /// preferred, when nobody answers.
    Demoted(Demotion),
}

/// A master handing the address over (make-before-break).
#[derive(Debug, Clone, Copy)]
struct Handover {
    leaving: Leaving,
    /// Give up waiting for a successor at this instant.
    until: Instant,
    /// Send the next bow-out advert at this instant.
    next_bow_out: Instant,
    /// The first bow-out: repeats are retransmissions of it, with its counter, so a
    /// successor that missed some still continues the count where we stand (a peer's
    /// replay guard accepts its claim), and a repeat is no new advert.
    bow_out: Option<Advert>,
}

/// Another master heard during a split-brain episode.
#[derive(Debug, Clone, Copy)]
struct Rival {
    ip: IpAddr,
    /// When its last advert came.
    last: Instant,
    /// How long it must stay silent for its episode to end.
    quiet: Duration,
}

/// One CARP virtual host: ucarp's `sc` and the logic of `carp.c`, without the I/O.
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
    /// MASTER, but the first advert (the claim) waits for the up script: the master we
    /// preempted, or that bowed out, still serves the address. Until the caller reports
    /// it sent ([`Carp::handle_send_result`]) no other advert goes out, and that master's
    /// adverts are expected, not a split brain.
    claim_pending: bool,
    /// When our claim went out: rivals heard within [`step_down_grace`] of it are the
    /// master stepping down, not a split brain.
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
            handover: None,
            claim_pending: false,
            master_since: None,
            bowed_out: None,
            demotions: Demotions::default(),
            master: None,
            last_transition: None,
            rivals: Vec::new(),
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
        let handover = self.handover.map(|h| h.until.min(h.next_bow_out));
        [self.adv_at, self.master_down_at, handover]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles the passing of time. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stopped || !self.link_up {
            return;
        }
        if let Some(h) = self.handover {
            if h.until <= now {
                self.handover_unanswered(now, h.leaving);
            } else if h.next_bow_out <= now {
                self.send_bow_out(now);
            }
            return;
        }
        match self.state {
            State::Backup if self.master_down_at.is_some_and(|t| t <= now) => {
                self.master_down_at = None;
                match self.bowed_out.take() {
                    Some(peer) => {
                        self.become_master(now, Reason::BowOut, Some(peer));
                        self.log(Event::GoingToTimeOut { peer });
                    }
                    None => self.become_master(now, Reason::MasterDown, None),
                }
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
        if let Some(h) = self.handover {
            // Whoever advertises now took over on our bow-out: the address is theirs.
            self.handover_answered(now, h.leaving, adv.src());
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
                    // One more advert so the new master surely hears us, then step down;
                    // a claim still waiting for the up script was never heard: drop it.
                    self.master = Some(peer);
                    if !self.claim_pending {
                        self.send_advert(now);
                    }
                    self.set_state(State::Backup, Reason::Preempted, Some(peer));
                    self.adv_at = None;
                    self.arm_master_down(now);
                    self.log(Event::PreferredMaster { peer });
                } else if self.claim_pending {
                    // The master we are taking over from serves the address until it
                    // hears our claim: nothing to re-announce, no rival.
                } else if local < remote || (local == remote && theirs > ours) {
                    // Re-announce the address, as ucarp does (SPEC.md §5.4).
                    self.actions.push_back(Action::SendGratuitousArp);
                    self.delayed_arp = Some(2);
                    let adv = adv.advert();
                    // A bow-out is a node leaving, not a rival: the leaver of a handover
                    // we just took over repeats it until it hears our first advert.
                    if adv.advbase != BOW_OUT || adv.advskew != BOW_OUT {
                        self.watch_split_brain(now, peer, local.max(remote));
                        self.log(Event::NonPreferredMaster { peer });
                    }
                }
            }
            State::Backup => {
                let dead = master_down_interval(
                    self.cfg.advbase,
                    self.local_advskew(),
                    self.cfg.deadratio,
                );
                self.master = Some(peer);
                let leaving = adv.advert().advbase == BOW_OUT && adv.advert().advskew == BOW_OUT;
                // A demoted node never preempts. A bow-out is no master to preempt, even
                // with -P: it is the one takeover where backups must wait their turn.
                if self.cfg.preempt && !self.demotions.any() && local < remote && !leaving {
                    self.become_master(now, Reason::Preempt, Some(peer));
                    self.log(Event::Preemption { peer });
                } else if (dead < remote || leaving) && !self.demotions.any() {
                    // The master is leaving (or will time out anyway): take over after
                    // the wait of `bow_out_delay`, unless a better backup advertises
                    // first. A repeated bow-out does not push the takeover back.
                    // A demoted node leaves bow-outs to healthy nodes and takes over
                    // only when its own timer says nobody is left: two demoted nodes
                    // must not pass the address back and forth.
                    let delay = bow_out_delay(self.cfg.advbase, self.local_advskew());
                    let at = now.checked_add(delay);
                    self.master_down_at = match (self.master_down_at, at) {
                        (Some(armed), Some(at)) => Some(armed.min(at)),
                        (armed, at) => at.or(armed),
                    };
                    self.bowed_out = Some(peer);
                } else {
                    self.arm_master_down(now);
                }
            }
        }
    }

    /// Handles the caller holding back a claim the machine asked to send at once (a
    /// takeover from a dead master) because our own up script waits behind another
    /// script: the address is not ours yet. The claim is then pending as after a
    /// preemption: no other advert until it goes out, and a master heard meanwhile
    /// (another backup that took over) is not re-announced against nor a split brain.
    pub fn handle_claim_deferred(&mut self, _now: Instant) {
        if self.state == State::Master && !self.stopped {
            self.claim_pending = true;
            self.master_since = None;
            self.adv_at = None;
        }
    }

    /// Handles the outcome of sending the advert of the oldest [`Action::SendAdvert`]
    /// (SPEC.md §5.8): three failures in a row suppress preemption, three successes
    /// lift it.
    ///
    /// The first result after a takeover whose claim waited for the up script says the
    /// claim went out: the advert timer starts from then.
    pub fn handle_send_result(&mut self, now: Instant, ok: bool) {
        if std::mem::take(&mut self.claim_pending) && self.state == State::Master {
            self.master_since = Some(now);
            if self.handover.is_none() && !self.stopped {
                self.adv_at =
                    now.checked_add(advert_interval(self.cfg.advbase, self.local_advskew()));
            }
        }
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
            if self.state == State::Master && !self.stopped && self.handover.is_none() {
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
            return;
        }
        self.log(Event::LinkDown);
        let leaving = self.handover.take().map(|h| h.leaving);
        self.set_state(State::Backup, Reason::LinkDown, None);
        self.adv_at = None;
        self.master_down_at = None;
        // Nobody can hear a bow-out now; a shutdown that waited for one is over.
        if leaving == Some(Leaving::Exit) {
            self.stop();
        }
    }

    /// Handles our interface being set down or deleted under `-z`: the daemon exits.
    /// A master runs its down script first (SPEC.md §5.6); no bow-out, since nobody can
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

    /// Handles SIGUSR2: toggles maintenance mode. Leaving it also forgets a failed up
    /// script (the operator says it is fixed).
    pub fn handle_demote(&mut self, now: Instant) {
        let on = !self.demotions.contains(Demotion::Maintenance);
        if !on {
            self.set_demotion(now, Demotion::UpFailed, false);
        }
        self.set_demotion(now, Demotion::Maintenance, on);
    }

    /// Handles the health check's verdict: a failing check demotes the node.
    pub fn handle_health(&mut self, now: Instant, healthy: bool) {
        self.set_demotion(now, Demotion::CheckFailed, !healthy);
    }

    /// Handles the carrier of the tracked interfaces: any without carrier demotes.
    pub fn handle_tracked_links(&mut self, now: Instant, all_up: bool) {
        self.set_demotion(now, Demotion::TrackedLinkDown, !all_up);
    }

    /// Handles the outcome of an up script under `--up-must-succeed`: a failure (or a
    /// timeout) demotes the node, which hands the address back rather than sit as a
    /// master that holds none; a later success clears it.
    pub fn handle_up_result(&mut self, now: Instant, ok: bool) {
        self.set_demotion(now, Demotion::UpFailed, !ok);
    }

    /// Turns one demotion on or off. The first one on makes a master hand over (see the
    /// module documentation) and a backup least preferred; the last one off lets the
    /// node compete normally again, and with `-P` take the address back.
    fn set_demotion(&mut self, now: Instant, d: Demotion, on: bool) {
        if self.stopped {
            return;
        }
        let was = self.demotions.any();
        if !self.demotions.set(d, on) {
            return;
        }
        self.log(Event::Demotion { demotion: d, on });
        match (was, self.demotions.any()) {
            (false, true) => match self.state {
                // Our claim never went out: the master we were taking over from still
                // serves the address. Step back quietly.
                State::Master if self.claim_pending => {
                    self.set_state(State::Backup, d.reason(), None);
                    self.arm_master_down(now);
                }
                State::Master if self.handover.is_none() && self.link_up => {
                    self.start_handover(now, Leaving::Demoted(d))
                }
                // Least preferred from now on, in the timer as in the comparison.
                State::Backup if self.link_up => self.arm_master_down(now),
                _ => {}
            },
            (true, false) => {
                if self.handover.is_some_and(|h| h.leaving != Leaving::Exit) {
                    // Not gone yet: keep the address and advertise normally again.
                    self.handover = None;
                    self.send_advert(now);
                } else if self.state == State::Backup && self.link_up {
                    self.arm_master_down(now);
                }
            }
            _ => {}
        }
    }

    /// Handles TERM, INT, QUIT or HUP under `-z`. A backup exits at once, with no script
    /// (SPEC.md §5.7). A master hands over first: it sends a bow-out advert and keeps
    /// the address until the successor's first advert, or [`handover_bound`], then runs
    /// its down script and exits ([`Action::Exit`]). Nothing happens afterwards.
    pub fn handle_shutdown(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        match self.handover.as_mut() {
            Some(h) => h.leaving = Leaving::Exit,
            // A claim still waiting for the up script was never heard: nobody needs a
            // bow-out, the master we were taking over from still serves the address.
            None if self.state == State::Master && self.link_up && !self.claim_pending => {
                self.start_handover(now, Leaving::Exit)
            }
            None => {
                self.leave_master(Reason::Shutdown, None);
                self.stop();
            }
        }
    }

    fn start_handover(&mut self, now: Instant, leaving: Leaving) {
        let bound = handover_bound(self.cfg.advbase, self.cfg.advskew, self.cfg.deadratio);
        self.log(Event::HandoverStarted { bound });
        self.adv_at = None;
        self.handover = Some(Handover {
            leaving,
            until: now.checked_add(bound).unwrap_or(now),
            next_bow_out: now,
            bow_out: None,
        });
        self.send_bow_out(now);
    }

    /// Sends a bow-out advert and schedules the next one: several fractions of the
    /// bound apart, so a lost frame costs little.
    fn send_bow_out(&mut self, now: Instant) {
        let bound = handover_bound(self.cfg.advbase, self.cfg.advskew, self.cfg.deadratio);
        let repeat = (bound / 4).min(BOW_OUT_REPEAT_MAX);
        match self.handover.and_then(|h| h.bow_out) {
            Some(advert) => {
                self.actions.push_back(Action::SendAdvert {
                    advert,
                    after_scripts: false,
                });
                self.stats.adverts_sent += 1;
            }
            None => {
                let advert = self.send_advert_as(now, BOW_OUT, BOW_OUT, false);
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
    fn handover_answered(&mut self, now: Instant, leaving: Leaving, peer: IpAddr) {
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

    /// Nobody took over within the bound.
    fn handover_unanswered(&mut self, now: Instant, leaving: Leaving) {
        self.handover = None;
        self.log(Event::HandoverUnanswered {
            staying: leaving != Leaving::Exit,
        });
        match leaving {
            Leaving::Exit => {
                self.set_state(State::Backup, Reason::Shutdown, None);
                self.stop();
            }
            // The address must stay somewhere: keep it, least preferred, so that any
            // node that appears takes over.
            Leaving::Demoted(_) => self.send_advert(now),
        }
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
        self.adv_at = None;
        self.master_down_at = None;
        self.handover = None;
        self.actions.push_back(Action::Exit);
    }

    /// The skew this node advertises and compares itself with (§5.4, §5.8), 255 when
    /// demoted.
    fn local_advskew(&self) -> u8 {
        if self.demotions.any() {
            DEMOTED_ADVSKEW
        } else if self.suppress_preempt && self.cfg.advskew < SUPPRESSED_ADVSKEW {
            SUPPRESSED_ADVSKEW
        } else {
            self.cfg.advskew
        }
    }

    fn arm_master_down(&mut self, now: Instant) {
        // ucarp uses its configured skew here even while suppressed (§5.4); a demoted
        // node uses 255 so that every other node promotes first.
        let skew = if self.demotions.any() {
            DEMOTED_ADVSKEW
        } else {
            self.cfg.advskew
        };
        let interval = master_down_interval(self.cfg.advbase, skew, self.cfg.deadratio);
        // An interval too long for `Instant` (deadratio near 2^32) means "never".
        self.master_down_at = now.checked_add(interval);
        self.bowed_out = None;
    }

    /// BACKUP → MASTER (SPEC.md §5.2): upscript, gratuitous ARP, an advert, and a
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
        self.send_advert_as(now, self.cfg.advbase, self.local_advskew(), after_scripts);
        self.delayed_arp = Some(2);
        if after_scripts {
            self.claim_pending = true;
            self.adv_at = None;
        } else {
            self.master_since = Some(now);
        }
    }

    fn send_advert(&mut self, now: Instant) {
        if self.demotions.any() && self.state == State::Master {
            // A demoted master keeps offering the address: every advert is a bow-out,
            // so a healthy node that appears takes over at once (and steps us down
            // make-before-break with its first advert). It still goes out every
            // interval, so the address is never without an advertising master.
            self.send_advert_as(now, BOW_OUT, BOW_OUT, false);
            self.adv_at = now.checked_add(advert_interval(self.cfg.advbase, DEMOTED_ADVSKEW));
            return;
        }
        self.send_advert_as(now, self.cfg.advbase, self.local_advskew(), false);
    }

    fn send_advert_as(
        &mut self,
        now: Instant,
        advbase: u8,
        advskew: u8,
        after_scripts: bool,
    ) -> Advert {
        // §3.3: random until synchronised, then adopted value plus one per send.
        self.counter = if self.counter_synced {
            self.counter.wrapping_add(1)
        } else {
            self.rng.next_u64()
        };
        // With sequential counters the random draw is only the starting point.
        self.counter_synced |= self.cfg.sequential_counters;
        let advert = Advert {
            vhid: self.cfg.vhid,
            advbase,
            advskew,
            counter: self.counter,
            md: self.cfg.signer.sign(&self.counter.to_be_bytes()),
        };
        self.actions.push_back(Action::SendAdvert {
            advert,
            after_scripts,
        });
        self.stats.adverts_sent += 1;
        // §5.2 step 6; 255/255 is BSD's bow-out: send once, do not re-arm.
        self.adv_at = if advbase == BOW_OUT && advskew == BOW_OUT {
            None
        } else {
            now.checked_add(advert_interval(advbase, advskew))
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
        advert
    }

    /// Split brain (another authenticated master that loses the election, typically
    /// after a partition heals): logs `peer` once per episode. An episode ends after
    /// `deadratio` of the slower of the two intervals without hearing it, so a rival
    /// advertising more slowly than we do is still one episode.
    ///
    /// A rival heard within [`step_down_grace`] of our claim is the master we took over
    /// from, stepping down as it should (a ucarp master needs up to a second to hear
    /// us): not reported.
    fn watch_split_brain(&mut self, now: Instant, peer: IpAddr, slower: Duration) {
        let settling = self
            .master_since
            .and_then(|t| t.checked_add(step_down_grace(slower)))
            .is_some_and(|end| now < end);
        if settling {
            return;
        }
        let quiet = slower
            .checked_mul(self.cfg.deadratio)
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

    /// The one place a state changes: logs it and queues the script (§5.5). Setting the
    /// state it already has does nothing.
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
            self.claim_pending = false;
            self.master_since = None;
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

    fn log(&mut self, event: Event) {
        self.actions.push_back(Action::Log(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_deterministic_and_mixes() {
        let mut a = SplitMix64(1);
        let mut b = SplitMix64(1);
        let x = a.next_u64();
        assert_eq!(x, b.next_u64());
        assert_ne!(x, a.next_u64());
    }
}
