//! The daemon: sets up the sockets, then one single-threaded `epoll` loop that feeds the
//! state machine its inputs and carries out its actions.
//!
//! ```text
//!   packet socket ──frames──▶ rx::Receiver ──VerifiedAdvert──┐
//!   netlink ──────link up/down/gone──────────────────────────┤
//!   signalfd ─────USR1 / USR2 / TERM… / CHLD────────────────┤
//!   clock ────────now, at state::Carp::poll_timeout()────────┴▶ state::Carp
//!                                                                  │ actions
//!   packet socket ◀── adverts, GARPs and claims (after scripts) ◀─┤
//!   hooks::Hooks ◀── up/down scripts, one at a time, never waited ◀┘
//! ```
//!
//! The loop sleeps until the next deadline (the state machine's, a script's timeout,
//! the health check, the state file, a down script's retry), a frame for our vhid, a
//! signal, or a link event. Deadlines come from a timerfd, which fires on time: a poll
//! timeout may run late by 0.1 % of its length, 3 ms on a 3 s master-down wait. This
//! module and the logger are the only ones that read the clock.
//!
//! Each job is a small part the loop owns, in its own file: `setup` (sockets, then
//! run), `send` (adverts and GARPs), `receive` (judging frames), `links` (carrier and
//! tracked interfaces), `scripts` (what a script's outcome means), `state_file`.
//! This file is the loop itself: the next deadline, the actions, the signals.

mod clock;
mod links;
mod receive;
mod scripts;
mod send;
mod setup;
mod signals;
mod state_file;
mod witness;

pub use crate::error::Error;
pub use setup::run;

use std::os::fd::AsFd;
use std::time::{Duration, Instant, SystemTime};

use nix::poll::PollTimeout;
use nix::sys::epoll::{Epoll, EpollEvent, EpollFlags};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::timerfd::{Expiration, TimerFd, TimerSetTimeFlags};

use crate::check::Checker;
use crate::config::Config;
use crate::hooks::{Due, Hooks, Job, Outcome as ScriptOutcome, Script};
use crate::net::{self, ControlSocket, Ipv6Membership, LinkMonitor, PacketSocket, RxRing};
use crate::service::Notifier;
use crate::state::Advertisement;
use crate::state::{Action, Carp, State, Transition};
use clock::Monotonic;
use links::Tracked;
use receive::{Heard, Intake};
use scripts::ScriptWatch;
use send::Sender;
use signals::handled_signals;
use state_file::{StateFile, View};
use witness::Prober;

/// ARPHRD_ETHER and ARPHRD_IEEE802: the hardware types ucarp expects.
pub(crate) const ARPHRD_ETHER: u16 = 1;
pub(crate) const ARPHRD_IEEE802: u16 = 6;
/// Frames read per wake-up (one recvmmsg) before timers get a look in, so a flood can
/// neither starve them nor cost a system call per frame.
const FRAMES_PER_WAKE: usize = 64;
/// Under a flood, wake-ups for frames come at most this often: the loop naps until
/// this long after the last one, and reads what came meanwhile by the batch. A valid
/// advert in a flood is read at most this late, plus the nap's timer slack (50 µs) and
/// the batch before it: within 1 ms (docs/PROTOCOL.md §4.1).
const FRAME_SPACING: Duration = Duration::from_micros(800);
/// A flood is this many wake-ups for frames in a row, each less than
/// [`FRAME_SPACING`] after the one before (twice that once napping, since a nap ends a
/// little late). A real peer sends one frame a second, so a quiet daemon never naps:
/// a nap costs a wake-up of its own, worth it only when frames keep coming.
const FLOOD_WAKES: u8 = 1;
/// With the ring (docs/PROTOCOL.md §4.1.2), a second that brings fewer frames than
/// this is calm again: the ring goes, and with it the kernel's millisecond timer.
const CALM_FRAMES: u32 = 32;
/// The packet socket's receive buffer: room for a flood's frames during a nap.
pub(crate) const RCVBUF: usize = 1 << 20;
/// Receive buffer for netlink: a link message with all its attributes can exceed 2 KiB
/// (bridges, bonds). A truncated one is detected and the flags are read directly.
const NETLINK_BUF: usize = 32 * 1024;

/// The loop's inputs, by their token in its epoll set.
mod token {
    pub const SIGNALS: u64 = 0;
    pub const TIMER: u64 = 1;
    pub const PACKET: u64 = 2;
    pub const LINKS: u64 = 3;
    pub const WITNESS: u64 = 4;
    /// How many there are.
    pub const COUNT: usize = 5;
}

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit with status 0.
    Exit,
    /// An exit signal arrived without `-z`: after cleaning up, the caller must die of
    /// it with the default action, as ucarp does (status 128 + n, no script).
    Killed(Signal),
}

/// The loop's state: the core, the sockets, and one small part per job, each in its
/// own module.
struct Daemon {
    cfg: Config,
    carp: Carp,
    /// Our AF_PACKET socket: adverts and GARPs out, filtered frames in.
    packet: PacketSocket,
    sender: Sender,
    intake: Intake,
    /// An IPv6 node's group membership, held for the daemon's life.
    _membership: Option<Ipv6Membership>,
    control: ControlSocket,
    links: LinkMonitor,
    signals: SignalFd,
    /// Fires at the next deadline. A timerfd, not a poll timeout: the kernel lets a
    /// poll timeout run late by 0.1 % of its length (3 ms on a 3 s master-down wait),
    /// a timerfd fires on time.
    timer: TimerFd,
    /// The deadline the timer is armed for, so it is only re-armed when it changes.
    armed: Option<Instant>,
    /// The timer fired and is readable until re-armed.
    timer_fired: bool,
    /// Turns an `Instant` into the timer's absolute time.
    clock: Monotonic,
    hooks: Hooks,
    scripts: ScriptWatch,
    ifindex: i32,
    /// The interface went down or away: stop reading the packet socket.
    gone: bool,
    /// The state machine said Exit: finish the scripts, then return.
    exiting: bool,
    /// Return at once, without waiting for scripts (the interface went away without
    /// `-z`, or a second exit signal arrived).
    exit_now: bool,
    /// Set when an exit signal arrived without `-z`.
    killed_by: Option<Signal>,
    /// The health check, with `--check-script`.
    checker: Option<Checker>,
    /// The `--track-iface` interfaces and their carrier.
    tracked: Vec<Tracked>,
    /// systemd's notification socket.
    notifier: Option<Notifier>,
    state_file: StateFile,
    /// `--witness`: the prober and its socket; `None` without witnesses.
    witness: Option<Prober>,
    /// The last wake-up that read frames, and how many before it came in quick
    /// succession (see [`FLOOD_WAKES`]).
    frame_wakes: (Option<Instant>, u8),
    /// Under a flood, the packet socket's receive ring, and since when it counts
    /// frames for [`CALM_FRAMES`] and how many.
    ring: Option<(RxRing, Instant, u32)>,
    /// The kernel refused a ring once: floods are read by the batch, with naps.
    ring_refused: bool,
    /// What the loop waits on, registered once (see [`token`]): an epoll set, so a
    /// wake-up costs no registration of every descriptor, as poll(2) would.
    epoll: Epoll,
    /// The packet socket, the link monitor and the witness socket have left the set:
    /// once exiting or gone, only signals and the timer matter.
    inputs_closed: bool,
}

impl Daemon {
    fn run(&mut self) {
        let mut frame_bufs = vec![[0u8; net::FRAME_SNAP]; FRAMES_PER_WAKE];
        let mut frame_lens = [0usize; FRAMES_PER_WAKE];
        let mut link_buf = vec![0u8; NETLINK_BUF];
        let mut flooded = false;
        // The clock is read once per pass, when the poll returns (and after a nap):
        // every input of the pass, and the actions they lead to, share that `now`.
        #[allow(clippy::disallowed_methods)]
        let mut now = Instant::now();
        loop {
            self.perform(now);
            if !self.gone {
                self.intake.review_screens(now, false);
            }
            if self.state_file.is_due(now, &self.carp, self.scripts.failed) {
                self.intake.review_screens(now, true);
                self.state_file.write(&self.view(), false);
            }
            if self.exit_now
                || (self.exiting && self.hooks.is_idle() && self.scripts.retry_at.is_none())
            {
                return;
            }
            if std::mem::take(&mut flooded) {
                self.nap();
            }
            let fallback = self.arm_timer();
            // Once exiting, only signals and the timer matter (scripts, a second TERM).
            if (self.exiting || self.gone) && !self.inputs_closed {
                self.close_inputs();
            }
            let mut ev = [EpollFlags::empty(); token::COUNT];
            {
                let mut events = [EpollEvent::empty(); token::COUNT];
                let waited = self.epoll.wait(&mut events, fallback);
                #[allow(clippy::disallowed_methods)]
                {
                    now = Instant::now();
                }
                let n = match waited {
                    Ok(n) => n,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        log::error!("epoll_wait() error: {e}");
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                for e in &events[..n] {
                    if let Some(slot) = usize::try_from(e.data()).ok().and_then(|i| ev.get_mut(i)) {
                        *slot |= e.events();
                    }
                }
            }
            let [signals_ev, timer_ev, packet_ev, links_ev, witness_ev] = ev;
            if !timer_ev.is_empty() {
                // Expired: arming it afresh (or disarming it) below clears it, without
                // a read.
                self.timer_fired = true;
            }
            if !signals_ev.is_empty() {
                self.on_signals(now);
            }
            if packet_ev.intersects(EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP) {
                let err = self.packet.take_error();
                self.interface_gone(now, &format!("{err} (revents={:#x})", packet_ev.bits()));
            } else if packet_ev.contains(EpollFlags::EPOLLIN)
                && self.on_frames(now, &mut frame_bufs, &mut frame_lens) > 0
                && self.note_frame_wake(now)
                && self.ring.is_none()
            {
                // A flood: read it through a ring, which the kernel hands over at
                // most once a millisecond; nap between batches if there can be none.
                flooded =
                    self.ring_refused || !self.start_ring(now, &mut frame_bufs, &mut frame_lens);
            }
            if !self.gone {
                self.end_ring_when_calm(now);
            }
            if !links_ev.is_empty() && !self.gone {
                self.on_links(now, &mut link_buf);
            }
            if !witness_ev.is_empty() && !self.gone {
                self.on_witness_frames(now);
            }
            if let Some(w) = self.witness.as_mut().filter(|_| !self.gone) {
                w.handle_timeout(now, &mut self.carp);
            }
            if let Some(healthy) = self.checker.as_mut().and_then(|c| c.handle_timeout(now)) {
                self.carp.handle_health(now, healthy);
            }
            self.hooks.handle_timeout(now);
            self.retry_down(now);
            self.carp.handle_timeout(now);
        }
    }

    /// The next instant at which something must happen without an input: the one
    /// place that gathers every part's deadline.
    fn next_deadline(&self) -> Option<Instant> {
        [
            self.carp.poll_timeout(),
            self.hooks.poll_timeout(),
            self.checker.as_ref().map(Checker::poll_timeout),
            self.state_file.next_at,
            self.scripts.retry_at,
            self.witness
                .as_ref()
                .filter(|_| !self.gone && !self.exiting)
                .and_then(Prober::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Takes the packet socket, the link monitor and the witness socket out of the
    /// epoll set, once, when exiting or when the interface is gone: a socket in error
    /// would otherwise be reported again on every wait.
    fn close_inputs(&mut self) {
        self.inputs_closed = true;
        let _ = self.epoll.delete(self.packet.as_fd());
        let _ = self.epoll.delete(self.links.as_fd());
        if let Some(w) = &self.witness {
            let _ = self.epoll.delete(w.as_fd());
        }
    }

    /// Arms the timer for the next deadline, or disarms it, when that changed (a
    /// system call saved on every wake-up of a flood). The timer is armed with the
    /// deadline's absolute time, so it fires on time however long ago `now` was read.
    /// Returns the wait's timeout: none, or a short one if the timer could not be
    /// armed.
    fn arm_timer(&mut self) -> PollTimeout {
        let next = self.next_deadline();
        if next == self.armed && !self.timer_fired {
            return PollTimeout::NONE;
        }
        self.armed = next;
        // timerfd_settime(2) zeroes the expiration count, so a fired timer stops
        // being readable.
        self.timer_fired = false;
        let result = match next {
            Some(at) => self.timer.set(
                Expiration::OneShot(self.clock.timespec(at)),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            ),
            None => self.timer.unset(),
        };
        match result {
            Ok(()) => PollTimeout::NONE,
            Err(e) => {
                // Not expected with valid arguments; fall back to a wait timeout, and
                // read the timer so that a fired one stops being readable.
                log::error!("timerfd_settime: {e}");
                let _ = self.timer.wait();
                self.armed = None;
                PollTimeout::from(10u8)
            }
        }
    }

    /// Carries out the state machine's actions, then whatever scripts and frames can go,
    /// until neither has anything more (a send result can queue another advert, a
    /// script's outcome can change the state).
    fn perform(&mut self, now: Instant) {
        loop {
            while let Some(action) = self.carp.poll_action() {
                self.carry_out(now, action);
            }
            let due = self.hooks.advance(now);
            if due.is_empty() && !self.carp.has_actions() {
                return;
            }
            for due in due {
                match due {
                    Due::Garp => self.sender.announce(&self.packet),
                    Due::Advert(advert) => self.send_and_report(now, &advert),
                    Due::Done {
                        script,
                        outcome,
                        transition,
                    } => self.script_done(now, script, outcome, transition),
                }
            }
        }
    }

    /// Acts on how a script ended (see the man page, "Scripts that fail").
    fn script_done(&mut self, now: Instant, script: Script, outcome: ScriptOutcome, t: Transition) {
        match script {
            Script::Up => {
                if let Some(ok) = self.scripts.up_done(outcome, self.cfg.up_must_succeed) {
                    self.carp.handle_up_result(now, ok);
                }
            }
            Script::Down => {
                let master_again = self.carp.state() == State::Master;
                self.scripts.down_done(
                    now,
                    outcome,
                    t,
                    master_again,
                    self.exiting,
                    &self.cfg.vaddrs,
                );
            }
        }
    }

    /// Runs a failed down script again when its pause is over, unless another script
    /// has taken over the question (the node became master again, say).
    fn retry_down(&mut self, now: Instant) {
        let Some(t) = self.scripts.due(now) else {
            return;
        };
        // Exiting, the down script is the last word whatever the state says.
        if self.hooks.is_idle() && (self.exiting || self.carp.state() != State::Master) {
            self.hooks.push(Job::Run(Script::Down, t));
            self.perform(now);
        }
    }

    fn carry_out(&mut self, now: Instant, action: Action) {
        match action {
            // A claim from a live master waits for the up script and the GARP before it
            // (make-before-break); the script timeout bounds it.
            Action::SendAdvert {
                advert,
                after_scripts: true,
            } if !self.hooks.is_idle() => self.hooks.push(Job::Advert(advert)),
            // While the up script has not even started (another script still runs),
            // the address is not ours to claim: hold this advert as the claim, until
            // the up script has run, as ucarp blocked in that script would.
            Action::SendAdvert { advert, .. } if self.hooks.is_up_waiting() => {
                log::debug!("advert held until the up script has run: {advert}");
                if !self.hooks.has_claim() {
                    self.carp.handle_claim_deferred(now);
                }
                self.hooks.drop_adverts();
                self.hooks.push(Job::Advert(advert));
            }
            Action::SendAdvert { advert, .. } => {
                self.hooks.drop_adverts();
                self.send_and_report(now, &advert);
            }
            Action::SendGratuitousArp => self.hooks.push(Job::Garp),
            Action::RunUp(t) => {
                self.scripts.master_again();
                self.hooks.push(Job::Run(Script::Up, t))
            }
            Action::RunDown(t) => self.hooks.push(Job::Run(Script::Down, t)),
            Action::Log(event) => {
                if let crate::event::Event::StateChange(t) = &event {
                    #[allow(clippy::disallowed_methods)] // wall-clock time for the state file
                    let wall = SystemTime::now();
                    self.state_file.since = wall;
                    if let Some(n) = &self.notifier {
                        n.notify(&format!(
                            "STATUS={} on {} id {}",
                            t.to, self.cfg.iface, self.cfg.vhid
                        ));
                    }
                }
                let level = match event.level() {
                    crate::event::Level::Error => log::Level::Error,
                    crate::event::Level::Warn => log::Level::Warn,
                    crate::event::Level::Info => log::Level::Info,
                };
                log::log!(level, "{event}");
            }
            Action::Exit => {
                self.exiting = true;
                // The exit does not wait out a failed down script's pause.
                self.scripts.exiting(now);
            }
        }
    }

    fn send_and_report(&mut self, now: Instant, advert: &Advertisement) {
        if let Advertisement::Carp(advert) = advert {
            self.intake.note_sent(advert.counter);
        }
        let ok = self.sender.advert(&self.packet, now, advert);
        self.carp.handle_send_result(now, ok);
    }

    /// Notes a wake-up that read frames at `now`; returns whether frames come as a
    /// flood, fast enough that the loop should nap before it polls again.
    fn note_frame_wake(&mut self, now: Instant) -> bool {
        let (last, quick) = self.frame_wakes;
        let napping = quick >= FLOOD_WAKES;
        let limit = if napping {
            2 * FRAME_SPACING
        } else {
            FRAME_SPACING
        };
        let quick = match last {
            Some(t) if now.saturating_duration_since(t) < limit => quick.saturating_add(1),
            _ => 0,
        };
        self.frame_wakes = (Some(now), quick);
        quick >= FLOOD_WAKES
    }

    /// Under a flood, waits until [`FRAME_SPACING`] after the last wake-up for frames,
    /// so that the next one reads a batch; not past the next deadline, so timing stays
    /// exact.
    fn nap(&self) {
        #[allow(clippy::disallowed_methods)] // the flood path: `now` may be stale by a batch
        let now = Instant::now();
        let Some(last) = self.frame_wakes.0 else {
            return;
        };
        let until = self
            .next_deadline()
            .map_or(last + FRAME_SPACING, |t| t.min(last + FRAME_SPACING));
        let wait = until.saturating_duration_since(now);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Gives the packet socket a ring (docs/PROTOCOL.md §4.1.2), then reads what it had
    /// queued before. Returns false when the kernel refused a ring.
    fn start_ring(
        &mut self,
        now: Instant,
        bufs: &mut [[u8; net::FRAME_SNAP]],
        lens: &mut [usize],
    ) -> bool {
        match RxRing::attach(&self.packet) {
            Ok(ring) => {
                log::debug!("a flood of frames: reading them through a ring");
                self.ring = Some((ring, now, 0));
                while self.read_queued(now, bufs, lens) == bufs.len() {}
                true
            }
            Err(e) => {
                log::warn!("No receive ring ({e}): a flood is read by the batch");
                self.ring_refused = true;
                false
            }
        }
    }

    /// Takes the ring away after a calm second.
    fn end_ring_when_calm(&mut self, now: Instant) {
        let Some((_, since, frames)) = self.ring.as_mut() else {
            return;
        };
        if now.saturating_duration_since(*since) < Duration::from_secs(1) {
            return;
        }
        if *frames >= CALM_FRAMES {
            (*since, *frames) = (now, 0);
            return;
        }
        if let Some((ring, _, _)) = self.ring.take() {
            log::debug!("calm again: reading frames as they come");
            if let Err(e) = ring.detach(&self.packet) {
                // The socket keeps its ring and nobody reads it: nothing is heard.
                self.interface_gone(now, &format!("could not remove the receive ring: {e}"));
            }
            self.frame_wakes = (None, 0);
        }
    }

    /// Reads and judges the frames there are: from the ring under a flood, else one
    /// batch from the socket's queue. Returns how many there were.
    fn on_frames(
        &mut self,
        now: Instant,
        bufs: &mut [[u8; net::FRAME_SNAP]],
        lens: &mut [usize],
    ) -> usize {
        let Some((ring, _, counted)) = self.ring.as_mut() else {
            return self.read_queued(now, bufs, lens);
        };
        let (intake, carp) = (&mut self.intake, &mut self.carp);
        let count = ring.read(|frame| {
            if let Some(heard) = intake.judge(now, frame) {
                hand_over(carp, now, heard);
            }
        });
        *counted = counted.saturating_add(u32::try_from(count).unwrap_or(u32::MAX));
        count
    }

    /// Reads and judges one batch of frames from the socket's queue; returns how many
    /// there were.
    fn read_queued(
        &mut self,
        now: Instant,
        bufs: &mut [[u8; net::FRAME_SNAP]],
        lens: &mut [usize],
    ) -> usize {
        let count = match self.packet.recv_batch(bufs, lens) {
            Ok(n) => n,
            Err(e) => {
                self.interface_gone(now, &e.to_string());
                return 0;
            }
        };
        for (buf, &len) in bufs.iter().zip(lens.iter()).take(count) {
            if let Some(heard) = self.intake.judge(now, &buf[..len]) {
                hand_over(&mut self.carp, now, heard);
            }
        }
        count
    }

    /// Reads the witnesses' answers. A read error other than an empty queue is the
    /// interface going away, which the packet socket reports too.
    fn on_witness_frames(&mut self, now: Instant) {
        if let Some(w) = self.witness.as_mut() {
            if let Err(e) = w.on_frames(now, &mut self.carp) {
                log::debug!("witness socket: {e}");
            }
        }
    }

    /// What the state file is written from.
    fn view(&self) -> View<'_> {
        View {
            cfg: &self.cfg,
            carp: &self.carp,
            rejects: &self.intake.rejects,
            script_failed: self.scripts.failed,
        }
    }

    /// Logs the counters since start, after the SIGUSR1 status line.
    fn log_counters(&self) {
        let st = self.carp.stats();
        let mut line = format!(
            "adverts sent={} send_errors={} received={} transitions={} rejected={}",
            st.adverts_sent,
            st.send_errors,
            st.adverts_received,
            st.transitions,
            self.intake.rejects.total()
        );
        for (reason, n) in self.intake.rejects.iter().filter(|(_, n)| *n > 0) {
            line.push_str(&format!(" {}={n}", reason.name()));
        }
        log::info!("{line}");
    }

    /// The interface was set down or deleted: exit 0, after the downscript when master
    /// and `-z` (docs/PROTOCOL.md §5.3 step 4, §5.6).
    fn interface_gone(&mut self, now: Instant, why: &str) {
        if self.gone {
            return;
        }
        self.gone = true;
        log::error!("exiting: interface [{}] is gone: {why}", self.cfg.iface);
        if self.cfg.shutdown {
            // Nobody can hear a bow-out on a dead interface: no handover, just the
            // down script if master, then exit.
            self.carp.handle_interface_gone(now);
        } else {
            // As ucarp: exit at once, no script, nothing more from the state machine.
            self.hooks.clear();
            self.exit_now = true;
        }
    }

    /// Collects whatever child exited: a script, the health check, or both.
    fn reap_children(&mut self, now: Instant) {
        self.hooks.reap();
        if let Some(healthy) = self.checker.as_mut().and_then(|c| c.reap(now)) {
            self.carp.handle_health(now, healthy);
        }
    }
}

/// Gives an accepted advert of either protocol to the state machine.
fn hand_over(carp: &mut Carp, now: Instant, heard: Heard) {
    match heard {
        Heard::Carp(adv) => carp.handle_advert(now, &adv),
        Heard::Vrrp(adv) => carp.handle_vrrp_advert(now, &adv),
    }
}
