//! The daemon: sets up the sockets, then one single-threaded `ppoll` loop that feeds the
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
//! The loop sleeps until the next deadline (the state machine's or a script's
//! timeout), a frame for our vhid, a signal, or a link event. Deadlines come from a
//! timerfd, which fires on time: a poll timeout may run late by 0.1 % of its length,
//! 3 ms on a 3 s master-down wait. This is the only module besides the logger that
//! reads the clock.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant, SystemTime};

use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use pnet_base::MacAddr;

use crate::arp::GarpFrame;
use crate::check::Checker;
use crate::config::Config;
use crate::frame::{
    advert_source_mac, emit_advert, group_mac, BROADCAST_MAC, ETHERNET_HEADER_LEN,
    MAX_ADVERT_FRAME_LEN,
};
use crate::hooks::{Due, Hooks, Job, Outcome as ScriptOutcome, Script};
use crate::ndp::UnsolicitedNa;
use crate::net::{self, ControlSocket, Ipv6Membership, LinkMonitor, PacketSocket, RawIpSocket};
use crate::packet::Advert;
use crate::ratelimit::{Budget, RateLimit, DEFAULT_PERIOD};
use crate::replay::{Replay, ReplayGuard};
use crate::rx::{Receiver, Reject, RejectCounters};
use crate::service::{Notifier, PidFile};
use crate::state::{Action, Carp, Demotions, State, Transition};
use crate::status::{self, Snapshot};

/// ARPHRD_ETHER and ARPHRD_IEEE802: the hardware types ucarp expects.
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_IEEE802: u16 = 6;
/// Frames read per wake-up (one recvmmsg) before timers get a look in, so a flood can
/// neither starve them nor cost a system call per frame.
const FRAMES_PER_WAKE: usize = 64;
/// A wake-up that finds this many frames means a flood (a real peer sends one a
/// second): the loop then naps [`FLOOD_NAP`] before polling again, so that frames are
/// read by the batch instead of a wake-up each.
const FLOOD_BATCH: usize = 8;
/// See [`FLOOD_NAP`]'s use; never longer than the time to the next deadline.
const FLOOD_NAP: Duration = Duration::from_millis(2);
/// The packet socket's receive buffer: room for a flood's frames during a nap.
const RCVBUF: usize = 1 << 20;
/// How often the state file is rewritten when nothing changes, so its `updated` field
/// shows the daemon is alive.
const STATE_FILE_PERIOD: Duration = Duration::from_secs(5);
/// The first pause before a failed down script is run again; it doubles each time.
const DOWN_RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest pause between two runs of a failing down script.
const DOWN_RETRY_MAX: Duration = Duration::from_secs(60);
/// Runs of a failing down script after the first, when the daemon is exiting.
const DOWN_RETRIES_AT_EXIT: u32 = 1;
/// Receive buffer for netlink: a link message with all its attributes can exceed 2 KiB
/// (bridges, bonds). A truncated one is detected and the flags are read directly.
const NETLINK_BUF: usize = 32 * 1024;

/// A fatal error: one line, and the exit code ucarp uses for it (SPEC.md §1.1).
#[derive(Debug)]
pub struct Error {
    /// What failed.
    pub message: String,
    /// The process exit code.
    pub exit_code: u8,
}

impl Error {
    /// A protocol setup failure: exit code 2, as in ucarp.
    pub(crate) fn setup(message: String) -> Error {
        Error {
            message,
            exit_code: 2,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit with status 0.
    Exit,
    /// An exit signal arrived without `-z`: after cleaning up, the caller must die of
    /// it with the default action, as ucarp does (status 128 + n, no script).
    Killed(Signal),
}

/// The signals the loop takes through its signalfd. TERM, INT, QUIT and HUP are taken
/// with `-z`, and also when a pid file or state file must be cleaned up at exit (the
/// daemon then dies of the signal itself, as it would have); otherwise they keep their
/// default action and kill the process, as in ucarp.
fn handled_signals(exit_signals: bool) -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGUSR1, Signal::SIGUSR2, Signal::SIGCHLD] {
        set.add(s);
    }
    if exit_signals {
        for s in [
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGQUIT,
            Signal::SIGHUP,
        ] {
            set.add(s);
        }
    }
    set
}

struct Daemon {
    cfg: Config,
    carp: Carp,
    rx: Receiver,
    packet: PacketSocket,
    /// With `--peer`: sends the unicast adverts.
    unicast: Option<RawIpSocket>,
    /// An IPv6 node's group membership, held for the daemon's life.
    _membership: Option<Ipv6Membership>,
    control: ControlSocket,
    links: LinkMonitor,
    signals: SignalFd,
    /// Fires at the state machine's next deadline. A timerfd, not a poll timeout: the
    /// kernel lets a poll timeout run late by 0.1 % of its length (3 ms on a 3 s
    /// master-down wait), a timerfd fires on time.
    timer: TimerFd,
    /// The deadline the timer is armed for, so it is only re-armed when it changes.
    armed: Option<Instant>,
    hooks: Hooks,
    ifindex: i32,
    mac: MacAddr,
    dst_mac: MacAddr,
    rejects: RejectCounters,
    limit: RateLimit,
    /// With `--peer`: the log budget of failed sends, one per peer.
    peer_send_limit: Vec<Budget>,
    ip_id: u64,
    /// The interface went down or away: stop reading the packet socket.
    gone: bool,
    /// The state machine said Exit: finish the scripts, then return.
    exiting: bool,
    /// Return at once, without waiting for scripts (the interface went away without
    /// `-z`, or a second exit signal arrived).
    exit_now: bool,
    /// The script whose failure leaves the address in doubt, until a later run
    /// settles it: an up script that failed while we stay MASTER, or a down script that
    /// failed with a virtual address still on this host.
    script_failed: Option<Script>,
    /// Runs of the down script that failed in a row, with the address left here.
    down_failures: u32,
    /// When the failed down script runs again.
    down_retry_at: Option<Instant>,
    /// The transition the down script being retried ran for.
    down_transition: Option<Transition>,
    /// Set when an exit signal arrived without `-z`.
    killed_by: Option<Signal>,
    /// `--replay-window`.
    replay: Option<ReplayGuard>,
    /// The health check, with `--check-script`.
    checker: Option<Checker>,
    /// The `--track-iface` interfaces and their carrier.
    tracked: Vec<Tracked>,
    /// systemd's notification socket.
    notifier: Option<Notifier>,
    /// When the state last changed (wall clock, for the state file).
    since: SystemTime,
    /// What the state file last said, to rewrite it only on change (and periodically).
    written: Option<Written>,
    /// When the state file is next rewritten even without a change.
    state_file_at: Option<Instant>,
}

/// What the state file says that can change: state, demotions, master, transitions,
/// the failed script.
type Written = (State, Demotions, Option<IpAddr>, u64, Option<Script>);

/// An interface of `--track-iface`.
#[derive(Debug)]
struct Tracked {
    name: String,
    ifindex: Option<i32>,
    up: bool,
}

impl Tracked {
    /// Reads the interface's index and state with ioctls; a missing one is down.
    fn read(control: &ControlSocket, name: &str) -> Tracked {
        Tracked {
            name: name.to_string(),
            ifindex: net::interface_index(name)
                .ok()
                .and_then(|i| i32::try_from(i).ok()),
            up: control.flags(name).is_ok_and(net::is_up_and_running),
        }
    }
}

/// Sets everything up, then runs until an exit signal or the interface going away.
///
/// Every setup step that can fail runs before `-B` detaches, so its error still
/// reaches the caller and the exit code (ucarp's parent always exits 0).
///
/// # Errors
/// A setup failure, with ucarp's message where it has one and exit code 2.
pub fn run(cfg: Config) -> Result<Outcome, Error> {
    let iface = cfg.iface.clone();
    let control = ControlSocket::open()
        .map_err(|e| Error::setup(format!("Unable to open a control socket: {e}")))?;
    let no_mac =
        |e: io::Error| Error::setup(format!("Unable to find MAC address of [{iface}]: {e}"));
    let ifindex = net::interface_index(&iface).map_err(no_mac)?;
    let (mac, hwtype) = control.hardware_address(&iface).map_err(no_mac)?;
    if hwtype != ARPHRD_ETHER && hwtype != ARPHRD_IEEE802 {
        log::error!("Unknown hardware type [{hwtype}]");
    }
    log::info!("Local advertised ethernet address is [{mac}]");
    let packet = PacketSocket::open(
        ifindex,
        &net::advert_filter(cfg.srcip, cfg.vhid),
        net::ethertype_of(cfg.srcip),
    )
    .map_err(|e| Error::setup(format!("Unable to open a packet socket on [{iface}]: {e}")))?;
    packet.set_receive_buffer(RCVBUF);
    let links = LinkMonitor::open()
        .map_err(|e| Error::setup(format!("Unable to watch the link state: {e}")))?;
    let mask = handled_signals(cfg.shutdown || cfg.pidfile.is_some() || cfg.state_file.is_some());
    mask.thread_block()
        .map_err(|e| Error::setup(format!("Unable to block signals: {e}")))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::setup(format!("Unable to open a signalfd: {e}")))?;
    let timer = TimerFd::new(
        ClockId::CLOCK_MONOTONIC,
        TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
    )
    .map_err(|e| Error::setup(format!("Unable to open a timerfd: {e}")))?;
    let unicast = if cfg.peers.is_empty() {
        None
    } else {
        Some(RawIpSocket::open(&iface, ifindex, cfg.srcip).map_err(|e| {
            Error::setup(format!("Unable to open a raw IP socket on [{iface}]: {e}"))
        })?)
    };
    let mut membership = None;
    let dst_mac = if cfg.nomcast || unicast.is_some() {
        BROADCAST_MAC
    } else {
        let (group, srcip) = (cfg.group, cfg.srcip);
        membership = control
            .join_group(group, srcip, ifindex)
            .map_err(|e| match srcip {
                IpAddr::V4(_) => Error::setup(format!(
                    "Can't do IP_ADD_MEMBERSHIP errno={e} (is {srcip} a local address?)"
                )),
                IpAddr::V6(_) => Error::setup(format!(
                    "Can't join {group} on [{iface}] from {srcip}: {e} (is {srcip} a local address, past duplicate address detection?)"
                )),
            })?;
        let group_mac = group_mac(cfg.group);
        // The IP join above goes through srcip's interface; this makes sure the group
        // MAC is also accepted on -i when srcip lives elsewhere (SPEC.md §12 item 13).
        if let Err(e) = packet.add_multicast_mac(group_mac) {
            log::warn!("Unable to add multicast MAC {group_mac} on [{iface}]: {e}");
        }
        group_mac
    };
    let flags = control
        .flags(&iface)
        .map_err(|e| Error::setup(format!("Unable to read the flags of [{iface}]: {e}")))?;
    if flags & libc::IFF_UP as u32 == 0 {
        return Err(Error::setup(format!("Interface [{iface}] is down")));
    }
    let random =
        || net::random_u64().map_err(|e| Error::setup(format!("Unable to read /dev/urandom: {e}")));
    // Separate draws: the counters' generator is invertible, so sharing a seed would let
    // one IP id tell about the counters.
    let seed = random()?;
    let ip_id_seed = random()?;

    let tracked: Vec<Tracked> = cfg
        .track
        .iter()
        .map(|name| {
            let t = Tracked::read(&control, name);
            if t.ifindex.is_none() {
                log::warn!("Tracked interface [{name}] does not exist (yet): counted as down");
            }
            t
        })
        .collect();

    if cfg.daemonize {
        daemonize().map_err(|e| Error::setup(format!("Unable to daemonize: {e}")))?;
    }
    // After detaching: the file holds the daemon's own pid. Removed when dropped, on
    // every way out of this function.
    let _pidfile = match &cfg.pidfile {
        Some(path) => Some(PidFile::create(path).map_err(|e| {
            Error::setup(format!("Unable to write pid file {}: {e}", path.display()))
        })?),
        None => None,
    };

    if cfg.advbase == 0 {
        log::warn!(
            "advbase 0: the master is declared dead after {} ms ({} intervals), not after one interval as in ucarp",
            crate::state::master_down_interval(0, cfg.advskew, cfg.deadratio).as_millis(),
            cfg.deadratio
        );
    }
    #[allow(clippy::disallowed_methods)] // the daemon owns the clock
    let now = Instant::now();
    let carp = Carp::new(cfg.carp(), now, seed).map_err(|e| Error {
        message: e.to_string(),
        exit_code: 1,
    })?;
    let rx = cfg.receiver();
    let cfg_replay = cfg.replay_window;
    let cfg_peers = cfg.peers.len();
    let checker = cfg.check.clone().map(|c| Checker::new(c, now));
    #[allow(clippy::disallowed_methods)] // wall-clock time for the state file
    let since = SystemTime::now();
    let mut daemon = Daemon {
        hooks: Hooks::new(&cfg),
        cfg,
        carp,
        rx,
        packet,
        unicast,
        _membership: membership,
        control,
        links,
        signals,
        timer,
        armed: None,
        ifindex: i32::try_from(ifindex).unwrap_or(-1),
        mac,
        dst_mac,
        rejects: RejectCounters::default(),
        limit: RateLimit::new(DEFAULT_PERIOD),
        peer_send_limit: vec![Budget::default(); cfg_peers],
        ip_id: ip_id_seed | 1,
        gone: false,
        exiting: false,
        exit_now: false,
        script_failed: None,
        down_failures: 0,
        down_retry_at: None,
        down_transition: None,
        killed_by: None,
        replay: cfg_replay.map(ReplayGuard::new),
        checker,
        tracked,
        notifier: Notifier::from_env(),
        since,
        written: None,
        state_file_at: None,
    };
    if flags & libc::IFF_RUNNING as u32 == 0 && !daemon.cfg.ignoreifstate {
        daemon.carp.handle_link(now, false);
    }
    if !daemon.tracked.is_empty() {
        let all_up = daemon.tracked.iter().all(|t| t.up);
        daemon.carp.handle_tracked_links(now, all_up);
    }
    if let Some(n) = &daemon.notifier {
        n.notify(&format!(
            "READY=1\nMAINPID={}\nSTATUS=BACKUP",
            std::process::id()
        ));
    }
    daemon.run();
    if let Some(n) = &daemon.notifier {
        n.notify("STOPPING=1");
    }
    daemon.write_state_file(true);
    Ok(match daemon.killed_by {
        Some(sig) => Outcome::Killed(sig),
        None => Outcome::Exit,
    })
}

impl Daemon {
    fn run(&mut self) {
        let mut frame_bufs = vec![[0u8; net::FRAME_SNAP]; FRAMES_PER_WAKE];
        let mut frame_lens = [0usize; FRAMES_PER_WAKE];
        let mut link_buf = vec![0u8; NETLINK_BUF];
        let mut flooded = false;
        loop {
            #[allow(clippy::disallowed_methods)]
            let now = Instant::now();
            self.perform(now);
            self.update_state_file(now);
            if self.exit_now
                || (self.exiting && self.hooks.is_idle() && self.down_retry_at.is_none())
            {
                return;
            }
            if std::mem::take(&mut flooded) {
                self.nap();
            }
            let fallback = self.arm_timer();
            // Once exiting, only signals and the timer matter (scripts, a second TERM).
            let listening = if !self.exiting && !self.gone { 4 } else { 2 };
            let (packet_ev, links_ev, signals_ev, timer_ev) = {
                let mut fds = [
                    PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.timer.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.packet.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.links.as_fd(), PollFlags::POLLIN),
                ];
                let fds = &mut fds[..listening];
                match ppoll(fds, fallback, None) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        log::error!("poll() error: {e}");
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                }
                let ev = |i: usize| {
                    fds.get(i)
                        .and_then(|f| f.revents())
                        .unwrap_or(PollFlags::empty())
                };
                (ev(2), ev(3), ev(0), ev(1))
            };
            #[allow(clippy::disallowed_methods)]
            let now = Instant::now();
            if !timer_ev.is_empty() {
                // Expired: read it, so it stops being readable, and arm it afresh.
                let _ = self.timer.wait();
                self.armed = None;
            }
            if !signals_ev.is_empty() {
                self.on_signals(now);
            }
            if packet_ev.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL) {
                let err = self.packet.take_error();
                self.interface_gone(now, &format!("{err} (revents={:#x})", packet_ev.bits()));
            } else if packet_ev.contains(PollFlags::POLLIN) {
                flooded = self.on_frames(now, &mut frame_bufs, &mut frame_lens) >= FLOOD_BATCH;
            }
            if !links_ev.is_empty() && !self.gone {
                self.on_links(now, &mut link_buf);
            }
            if let Some(healthy) = self.checker.as_mut().and_then(|c| c.handle_timeout(now)) {
                self.carp.handle_health(now, healthy);
            }
            self.hooks.handle_timeout(now);
            self.retry_down(now);
            self.carp.handle_timeout(now);
        }
    }

    /// Arms the timer for the next deadline, or disarms it, when that changed (a
    /// system call saved on every wake-up of a flood). Returns a poll timeout to use
    /// instead if the timer could not be armed.
    fn arm_timer(&mut self) -> Option<TimeSpec> {
        let next = [
            self.carp.poll_timeout(),
            self.hooks.poll_timeout(),
            self.checker.as_ref().map(Checker::poll_timeout),
            self.state_file_at,
            self.down_retry_at,
        ]
        .into_iter()
        .flatten()
        .min();
        if next == self.armed {
            return None;
        }
        self.armed = next;
        let result = match next {
            Some(at) => {
                #[allow(clippy::disallowed_methods)]
                let left = at.saturating_duration_since(Instant::now());
                // Zero would disarm the timer; a due deadline fires at once instead.
                let left = left.max(Duration::from_nanos(1));
                self.timer.set(
                    Expiration::OneShot(TimeSpec::from_duration(left)),
                    TimerSetTimeFlags::empty(),
                )
            }
            None => self.timer.unset(),
        };
        match result {
            Ok(()) => None,
            Err(e) => {
                // Not expected with valid arguments; fall back to a poll timeout.
                log::error!("timerfd_settime: {e}");
                self.armed = None;
                Some(TimeSpec::from_duration(Duration::from_millis(10)))
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
                    Due::Garp => self.send_garp(),
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
        match (script, outcome) {
            (Script::Up, ScriptOutcome::Ok) => {
                self.script_failed = None;
                self.carp.handle_up_result(now, true);
            }
            // It never finished: the address is most likely not in place.
            (Script::Up, ScriptOutcome::Killed) => {
                self.script_failed = Some(Script::Up);
                log::error!(
                    "The up script was killed at the timeout: the virtual address may be missing here; handing it to another node"
                );
                self.carp.handle_up_result(now, false);
            }
            (Script::Up, ScriptOutcome::Failed) if self.cfg.up_must_succeed => {
                self.script_failed = Some(Script::Up);
                log::error!(
                    "The up script failed: handing the address to another node (--up-must-succeed)"
                );
                self.carp.handle_up_result(now, false);
            }
            (Script::Up, ScriptOutcome::Failed) => {
                self.script_failed = Some(Script::Up);
                log::error!(
                    "The up script failed: staying MASTER, but the virtual address may be missing here (--up-must-succeed hands it over instead)"
                );
            }
            (Script::Down, ScriptOutcome::Ok) => self.down_settled(),
            (Script::Down, _) => self.down_failed(now, outcome, t),
        }
    }

    fn down_settled(&mut self) {
        self.script_failed = None;
        self.down_failures = 0;
        self.down_retry_at = None;
        self.down_transition = None;
    }

    /// A down script failed: if a virtual address is still on this host, say so at
    /// ERROR and run the script again after a pause that doubles each time (1 s up to
    /// 60 s), until it succeeds or the node becomes master again; when exiting, only
    /// [`DOWN_RETRIES_AT_EXIT`] more times. If none is left here, the script did its job
    /// whatever its status (many scripts exit non-zero on removing an absent address).
    fn down_failed(&mut self, now: Instant, outcome: ScriptOutcome, t: Transition) {
        let how = if outcome == ScriptOutcome::Killed {
            "was killed at the timeout"
        } else {
            "failed"
        };
        if self.carp.state() == State::Master && !self.exiting {
            // Master again meanwhile: the up script queued behind it settles the address.
            log::warn!("The down script {how}; master again, the up script follows");
            self.down_settled();
            return;
        }
        let left = match net::addresses_present(&self.cfg.vaddrs) {
            Ok(present) if present.is_empty() => {
                log::warn!(
                    "The down script {how}, but no virtual address is on this host: nothing left to remove"
                );
                self.down_settled();
                return;
            }
            Ok(present) => {
                let list: Vec<String> = present.iter().map(IpAddr::to_string).collect();
                format!("{} still on this host", list.join(", "))
            }
            Err(e) => format!("the virtual address may still be on this host ({e})"),
        };
        self.script_failed = Some(Script::Down);
        self.down_failures += 1;
        self.down_transition = Some(t);
        let give_up = self.exiting && self.down_failures > DOWN_RETRIES_AT_EXIT;
        if give_up {
            self.down_retry_at = None;
            log::error!("The down script {how}: {left}; exiting anyway");
            return;
        }
        let pause = DOWN_RETRY_FIRST
            .saturating_mul(1 << (self.down_failures - 1).min(6))
            .min(DOWN_RETRY_MAX);
        self.down_retry_at = now.checked_add(pause);
        log::error!(
            "The down script {how}: {left}; running it again in {} s",
            pause.as_secs()
        );
    }

    /// Runs a failed down script again when its pause is over, unless another script
    /// has taken over the question (the node became master again, say).
    fn retry_down(&mut self, now: Instant) {
        if self.down_retry_at.is_none_or(|at| at > now) {
            return;
        }
        self.down_retry_at = None;
        match self.down_transition {
            // Exiting, the down script is the last word whatever the state says.
            Some(t)
                if self.hooks.is_idle() && (self.exiting || self.carp.state() != State::Master) =>
            {
                self.hooks.push(Job::Run(Script::Down, t));
                self.perform(now);
            }
            _ => {}
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
                // Master again: the up script puts the address in place, whatever a
                // failed down script left.
                self.down_retry_at = None;
                self.down_failures = 0;
                self.hooks.push(Job::Run(Script::Up, t))
            }
            Action::RunDown(t) => self.hooks.push(Job::Run(Script::Down, t)),
            Action::Log(event) => {
                if let crate::event::Event::StateChange(t) = &event {
                    #[allow(clippy::disallowed_methods)] // wall-clock time for the state file
                    let wall = SystemTime::now();
                    self.since = wall;
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
                // A failed down script waiting for its next run: run it now, the exit
                // does not wait out the pause.
                if self.down_retry_at.is_some() {
                    self.down_retry_at = Some(now);
                }
            }
        }
    }

    fn send_and_report(&mut self, now: Instant, advert: &Advert) {
        if let Some(guard) = &mut self.replay {
            guard.note_sent(advert.counter);
        }
        let ok = self.send_advert(now, advert);
        self.carp.handle_send_result(now, ok);
    }

    fn next_ip_id(&mut self) -> u16 {
        // xorshift64: unpredictable enough for an IP id, as ucarp's arc4random is.
        self.ip_id ^= self.ip_id << 13;
        self.ip_id ^= self.ip_id >> 7;
        self.ip_id ^= self.ip_id << 17;
        (self.ip_id >> 16) as u16
    }

    /// Builds the frame of an advert to `dst` into `buf`; returns its length.
    fn advert_frame(&mut self, advert: &Advert, dst: IpAddr, buf: &mut [u8]) -> usize {
        let src_mac = if self.cfg.real_mac {
            self.mac
        } else {
            advert_source_mac(self.cfg.vhid)
        };
        let ip_id = self.next_ip_id();
        emit_advert(
            buf,
            self.dst_mac,
            src_mac,
            self.cfg.srcip,
            dst,
            ip_id,
            *advert,
        )
    }

    /// Sends an advert: one frame to the group (or the broadcast MAC with `-M`), or
    /// with `--peer` one unicast packet to each peer. True when it left: the frame was
    /// sent, or with peers, at least one packet was (one unreachable peer says nothing
    /// about our own link, which is what the send-failure count watches).
    fn send_advert(&mut self, now: Instant, advert: &Advert) -> bool {
        let mut buf = [0u8; MAX_ADVERT_FRAME_LEN];
        log::debug!("-> {advert}");
        if self.unicast.is_none() {
            let len = self.advert_frame(advert, self.cfg.group, &mut buf);
            return match self.packet.send(&buf[..len]) {
                Ok(()) => true,
                Err(e) => {
                    log::warn!("write() has failed: {e}");
                    false
                }
            };
        }
        let mut sent_any = false;
        for i in 0..self.cfg.peers.len() {
            let peer = self.cfg.peers[i];
            let len = self.advert_frame(advert, peer, &mut buf);
            let packet = buf.get(ETHERNET_HEADER_LEN..len).unwrap_or_default();
            let sent = match &self.unicast {
                Some(raw) => raw.send_to(packet, peer),
                None => Ok(()),
            };
            match sent {
                Ok(()) => sent_any = true,
                Err(e) => {
                    // Logged at most once per period per peer: a peer that stays
                    // unreachable would otherwise log at every advert.
                    let budget = self.peer_send_limit.get_mut(i);
                    match budget.and_then(|b| b.check(now, DEFAULT_PERIOD)) {
                        Some(0) => log::warn!("write() to {peer} has failed: {e}"),
                        Some(n) => {
                            log::warn!("write() to {peer} has failed: {e} ({n} more suppressed)")
                        }
                        None => {}
                    }
                }
            }
        }
        sent_any
    }

    /// Announces each virtual address at our MAC: a gratuitous ARP for IPv4, an
    /// unsolicited neighbour advertisement for IPv6.
    fn send_garp(&mut self) {
        const _: () = assert!(UnsolicitedNa::LEN >= GarpFrame::LEN);
        for &vaddr in &self.cfg.vaddrs {
            let mut buf = [0u8; UnsolicitedNa::LEN];
            let (len, what) = match vaddr {
                IpAddr::V4(vaddr) => (
                    GarpFrame {
                        mac: self.mac,
                        vaddr,
                    }
                    .emit(&mut buf),
                    "gratuitous ARP",
                ),
                IpAddr::V6(vaddr) => (
                    UnsolicitedNa {
                        mac: self.mac,
                        vaddr,
                    }
                    .emit(&mut buf),
                    "neighbour advertisement",
                ),
            };
            log::debug!("-> {what} for {vaddr} at {}", self.mac);
            if let Err(e) = self.packet.send(&buf[..len]) {
                log::warn!("write() of a {what} has failed: {e}");
            }
        }
    }

    /// Under a flood, waits a little so that the next wake-up reads a whole batch; not
    /// past the next deadline, so timing stays exact.
    fn nap(&self) {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let until_deadline = [self.carp.poll_timeout(), self.hooks.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .map_or(FLOOD_NAP, |t| t.saturating_duration_since(now));
        std::thread::sleep(FLOOD_NAP.min(until_deadline));
    }

    /// Reads and judges one batch of frames; returns how many there were.
    fn on_frames(
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
            let verdict = self.rx.accept(&buf[..len]).and_then(|adv| {
                let Some(guard) = &mut self.replay else {
                    return Ok(Some(adv));
                };
                match guard.check(adv.src(), adv.advert().counter) {
                    Ok(()) => Ok(Some(adv)),
                    // A leaver repeats its bow-out with one counter: a retransmission
                    // of what we already heard, not a replay worth reporting.
                    Err(Replay::Repeated) if adv.advert().is_bow_out() => Ok(None),
                    Err(_) => Err(Reject::Replay {
                        src: adv.src(),
                        counter: adv.advert().counter,
                    }),
                }
            });
            match verdict {
                Ok(None) => log::debug!("<- a repeated bow-out"),
                Ok(Some(adv)) => {
                    log::debug!("<- {} from {}", adv.advert(), adv.src());
                    self.carp.handle_advert(now, &adv);
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
                        if suppressed > 0 {
                            log::log!(level, "{reject} ({suppressed} more suppressed)");
                        } else {
                            log::log!(level, "{reject}");
                        }
                    }
                }
            }
        }
        count
    }

    fn on_links(&mut self, now: Instant, buf: &mut [u8]) {
        loop {
            let events = match self.links.recv(buf) {
                Ok(None) => break,
                Ok(Some(len)) if len <= buf.len() => net::parse_link_events(&buf[..len]),
                // Events were lost (a storm, or a message too long for the buffer):
                // read the state of every interface we care about directly.
                Ok(Some(_)) => {
                    self.reread_links(now);
                    continue;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.reread_links(now);
                    continue;
                }
                Err(e) => {
                    log::warn!("netlink: {e}");
                    break;
                }
            };
            for e in events {
                if e.ifindex == self.ifindex {
                    self.own_link(now, (!e.deleted).then_some(e.flags));
                    if self.gone {
                        return;
                    }
                }
                self.tracked_event(&e);
            }
        }
        self.tracked_changed(now);
    }

    /// Our own interface: `None` when deleted.
    fn own_link(&mut self, now: Instant, flags: Option<u32>) {
        match flags {
            None => self.interface_gone(now, "interface deleted"),
            Some(f) if f & libc::IFF_UP as u32 == 0 => {
                self.interface_gone(now, "interface set down")
            }
            Some(f) if !self.cfg.ignoreifstate => {
                self.carp
                    .handle_link(now, f & libc::IFF_RUNNING as u32 != 0);
            }
            Some(_) => {}
        }
    }

    /// Updates a tracked interface from a netlink event, matched by index, or by name
    /// for an interface (re)created since.
    fn tracked_event(&mut self, e: &net::LinkEvent) {
        for t in &mut self.tracked {
            let same_name = e.name.as_deref() == Some(t.name.as_str());
            if t.ifindex == Some(e.ifindex) || (same_name && !e.deleted) {
                t.ifindex = (!e.deleted).then_some(e.ifindex);
                t.up = !e.deleted && net::is_up_and_running(e.flags);
            }
        }
    }

    /// Tells the state machine whether every tracked interface has its carrier.
    fn tracked_changed(&mut self, now: Instant) {
        if !self.tracked.is_empty() {
            let all_up = self.tracked.iter().all(|t| t.up);
            self.carp.handle_tracked_links(now, all_up);
        }
    }

    /// Reads our interface's and the tracked interfaces' flags with ioctls, after lost
    /// netlink events.
    fn reread_links(&mut self, now: Instant) {
        let flags = self.control.flags(&self.cfg.iface).ok();
        self.own_link(now, flags);
        for t in &mut self.tracked {
            *t = Tracked::read(&self.control, &t.name);
        }
        self.tracked_changed(now);
    }

    /// Rewrites the state file when what it says changed, or when its period is due.
    fn update_state_file(&mut self, now: Instant) {
        if self.cfg.state_file.is_none() {
            return;
        }
        let key = (
            self.carp.state(),
            self.carp.demotions(),
            self.carp.current_master(),
            self.carp.stats().transitions,
            self.script_failed,
        );
        let due = self.state_file_at.is_none_or(|at| at <= now);
        if self.written != Some(key) || due {
            self.write_state_file(false);
            self.written = Some(key);
            self.state_file_at = now.checked_add(STATE_FILE_PERIOD);
        }
    }

    /// Writes the state file now; `stopped` marks the daemon's exit.
    fn write_state_file(&self, stopped: bool) {
        let Some(path) = &self.cfg.state_file else {
            return;
        };
        let state = if stopped {
            "STOPPED"
        } else {
            self.carp.state().as_str()
        };
        #[allow(clippy::disallowed_methods)] // wall-clock time for the state file
        let updated = SystemTime::now();
        let vaddrs: Vec<String> = self
            .cfg
            .vaddr_args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let snapshot = Snapshot {
            pid: std::process::id(),
            updated,
            state,
            since: if stopped { updated } else { self.since },
            transition: self.carp.last_transition(),
            vhid: self.cfg.vhid,
            vaddrs: &vaddrs,
            interface: &self.cfg.iface,
            srcip: self.cfg.srcip,
            master: self.carp.current_master(),
            demotions: self.carp.demotions(),
            stats: self.carp.stats(),
            rejects: &self.rejects,
            script_failed: self.script_failed.map(Script::name),
        };
        if let Err(e) = status::write_atomically(path, &snapshot.to_json()) {
            log::warn!("Unable to write the state file {}: {e}", path.display());
        }
    }

    /// Repeats, after the SIGUSR1 status line, a script failure that leaves the address
    /// in doubt.
    fn log_script_failure(&self) {
        match self.script_failed {
            Some(Script::Up) => {
                log::error!("The last up script failed: the virtual address may be missing here")
            }
            Some(Script::Down) => log::error!(
                "The last down script failed: the virtual address may still be on this host{}",
                if self.down_retry_at.is_some() {
                    " (it will run again)"
                } else {
                    ""
                }
            ),
            None => {}
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
            self.rejects.total()
        );
        for (reason, n) in self.rejects.iter().filter(|(_, n)| *n > 0) {
            line.push_str(&format!(" {}={n}", reason.name()));
        }
        log::info!("{line}");
    }

    /// The interface was set down or deleted: exit 0, after the downscript when master
    /// and `-z` (SPEC.md §5.3 step 4, §5.6).
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

    fn on_signals(&mut self, now: Instant) {
        loop {
            let sig = match self.signals.read_signal() {
                Ok(Some(info)) => info.ssi_signo,
                Ok(None) => return,
                Err(e) => {
                    log::warn!("signalfd: {e}");
                    return;
                }
            };
            match Signal::try_from(sig as i32) {
                Ok(Signal::SIGUSR1) => {
                    self.carp.handle_status(now);
                    self.perform(now);
                    self.log_counters();
                    self.log_script_failure();
                }
                Ok(Signal::SIGUSR2) => self.carp.handle_demote(now),
                Ok(Signal::SIGCHLD) => self.reap_children(now),
                // A second exit signal while waiting for the downscript: leave now.
                Ok(s) if self.exiting => {
                    log::warn!("{s} again: exiting without waiting for the script");
                    self.exit_now = true;
                }
                Ok(s) if self.cfg.shutdown => {
                    log::debug!("{s}: handing over if master, then exiting");
                    self.carp.handle_shutdown(now);
                }
                // Taken only to clean up the pid and state files: die of it, as
                // without those files (no script).
                Ok(s) => {
                    self.killed_by = Some(s);
                    self.exit_now = true;
                }
                Err(_) => {}
            }
        }
    }
}

/// Detaches like ucarp (SPEC.md §1 `-B`): fork, setsid, fork again, chdir `/`, stdio to
/// /dev/null. The parents exit 0.
#[allow(unsafe_code)]
fn daemonize() -> io::Result<()> {
    use nix::unistd::{fork, setsid, ForkResult};
    let devnull = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for round in 0..2 {
        // SAFETY: the process is single-threaded here (no thread is ever spawned), so
        // the child may run any code after fork.
        match unsafe { fork() }.map_err(io::Error::from)? {
            ForkResult::Parent { .. } => std::process::exit(0),
            ForkResult::Child => {}
        }
        // The first child leads a new session; the second fork leaves a process that
        // is no session leader, so it can never get a controlling terminal.
        if round == 0 {
            setsid().map_err(io::Error::from)?;
        }
    }
    nix::unistd::chdir("/").map_err(io::Error::from)?;
    crate::logger::detach_stderr();
    nix::unistd::dup2_stdin(&devnull).map_err(io::Error::from)?;
    nix::unistd::dup2_stdout(&devnull).map_err(io::Error::from)?;
    nix::unistd::dup2_stderr(&devnull).map_err(io::Error::from)?;
    Ok(())
}
