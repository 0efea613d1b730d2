//! Setup: every socket, the signal mask and the timer, before `-B` detaches, so that a
//! failure still reaches the caller with its exit code; then the daemon runs. Also the
//! detaching itself.

use std::io;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::time::{Instant, SystemTime};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::timerfd::{ClockId, TimerFd, TimerFlags};

use super::links::Tracked;
use super::receive::{Intake, Judge, Screen};
use super::scripts::ScriptWatch;
use super::send::Sender;
use super::state_file::StateFile;
use super::witness::Prober;
use super::{
    handled_signals, token, Daemon, Error, Monotonic, Outcome, ARPHRD_ETHER, ARPHRD_IEEE802, RCVBUF,
};
use crate::check::Checker;
use crate::config::Config;
use crate::frame::{group_mac, BROADCAST_MAC};
use crate::hooks::Hooks;
use crate::net::filter::Check;
use crate::net::{self, ControlSocket, LinkMonitor, PacketSocket, RawIpSocket};
use crate::ratelimit::{Budget, RateLimit, DEFAULT_PERIOD};
use crate::replay::ReplayGuard;
use crate::service::{Notifier, PidFile};
use crate::state::Carp;

/// Puts `sink`, the screens, then the packet socket in one fanout group whose
/// selector hands each frame to the member that keeps it (docs/PROTOCOL.md §4.1.1);
/// then the screens keep all they are given. On an error the screens keep their exact
/// filters, and a member left out still gets every frame through its own hook.
fn group(
    sink: &PacketSocket,
    screens: &[Screen],
    packet: &PacketSocket,
    srcip: IpAddr,
    vhid: u8,
) -> io::Result<()> {
    let id = sink.join_fanout(None)?;
    sink.set_fanout_program(&net::filter::screen_selector(srcip, vhid))?;
    for screen in screens {
        screen.socket.join_fanout(Some(id))?;
    }
    packet.join_fanout(Some(id))?;
    for screen in screens {
        screen.socket.set_filter(&net::filter::keep_all())?;
    }
    Ok(())
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
    let filter = match cfg.vrrp {
        Some(_) => net::filter::vrrp_filter(cfg.srcip, cfg.vhid),
        None => net::advert_filter(cfg.srcip, cfg.vhid),
    };
    let packet = PacketSocket::open(ifindex, &filter, net::ethertype_of(cfg.srcip))
        .map_err(|e| Error::setup(format!("Unable to open a packet socket on [{iface}]: {e}")))?;
    packet.set_receive_buffer(RCVBUF);
    // The screens count what the kernel filter rejects (docs/PROTOCOL.md §4.1.1); a
    // buffer as small as the kernel allows holds the few frames kept as samples. VRRP
    // mode has none: its filter keeps every VRRP frame for our VRID, and the daemon
    // judges them all.
    let checks: &[Check] = match cfg.vrrp {
        Some(_) => &[],
        None => &Check::ALL,
    };
    let screens = checks
        .iter()
        .map(|&check| {
            let filter = net::screen_filter(cfg.srcip, cfg.vhid, check);
            let socket = PacketSocket::open(ifindex, &filter, net::ethertype_of(cfg.srcip))?;
            socket.set_receive_buffer(0);
            Ok(Screen { check, socket })
        })
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| Error::setup(format!("Unable to open a packet socket on [{iface}]: {e}")))?;
    // One hook for the sockets instead of five: each frame costs the kernel (and, on a
    // veth, its sender) one dispatch and one short program, as with one socket. The
    // packet socket joins last, so that a ring, which takes it out of the group and
    // back in at the end, leaves it where the selector expects it.
    // The sink stays open even if the group fails half-way, so that no member moves.
    let ungrouped = |e: io::Error| {
        log::debug!("no fanout group for the screens ({e}): each has its own hook");
    };
    let sink = if screens.is_empty() {
        None
    } else {
        PacketSocket::open(
            ifindex,
            &net::filter::drop_all(),
            net::ethertype_of(cfg.srcip),
        )
        .map_err(ungrouped)
        .ok()
    };
    if let Some(sink) = &sink {
        let _ = group(sink, &screens, &packet, cfg.srcip, cfg.vhid).map_err(ungrouped);
    }
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
        // MAC is also accepted on -i when srcip lives elsewhere (docs/PROTOCOL.md §12 item 13).
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

    let named =
        |p: &Option<std::path::PathBuf>| p.as_ref().is_some_and(|p| !p.as_os_str().is_empty());
    if (named(&cfg.upscript) || named(&cfg.downscript))
        && crate::process::scripts_lack(crate::process::CAP_NET_ADMIN) == Some(true)
    {
        log::warn!(
            "Scripts will run without CAP_NET_ADMIN and may fail to add or remove the address (see RUNNING WITHOUT ROOT in ucarp(8))"
        );
    }

    // docs/PROTOCOL.md §5.15: only with --witness is there a socket, and a probe.
    let witness = if cfg.witnesses.is_empty() {
        None
    } else {
        Some(
            Prober::open(
                ifindex,
                mac,
                cfg.srcip,
                &cfg.witnesses,
                cfg.carp().witness_timing(),
            )
            .map_err(|e| {
                Error::setup(format!(
                    "Unable to open the witness socket on [{iface}]: {e}"
                ))
            })?,
        )
    };

    if cfg.daemonize {
        crate::process::daemonize()
            .map_err(|e| Error::setup(format!("Unable to daemonize: {e}")))?;
    }
    // After detaching: the file holds the daemon's own pid. Removed when dropped, on
    // every way out of this function.
    let _pidfile = match &cfg.pidfile {
        Some(path) => Some(PidFile::create(path).map_err(|e| {
            Error::setup(format!("Unable to write pid file {}: {e}", path.display()))
        })?),
        None => None,
    };

    if cfg.advbase == 0 && cfg.vrrp.is_none() {
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
    let rx = match cfg.receiver() {
        Some(rx) => Judge::Carp(rx),
        None => Judge::Vrrp(cfg.vrrp_receiver()),
    };
    let cfg_replay = cfg.replay_window;
    let cfg_peers = cfg.peers.len();
    let checker = cfg.check.clone().map(|c| Checker::new(c, now));
    #[allow(clippy::disallowed_methods)] // wall-clock time for the state file
    let since = SystemTime::now();
    let sender = Sender {
        unicast,
        mac,
        dst_mac,
        real_mac: cfg.real_mac,
        vhid: cfg.vhid,
        srcip: cfg.srcip,
        group: cfg.group,
        peers: cfg.peers.clone(),
        vaddrs: cfg.vaddrs.clone(),
        peer_send_limit: vec![Budget::default(); cfg_peers],
        ip_id: ip_id_seed | 1,
    };
    let intake = Intake {
        rx,
        mismatch_limit: Budget::default(),
        replay: cfg_replay.map(ReplayGuard::new),
        rejects: Default::default(),
        limit: RateLimit::new(DEFAULT_PERIOD),
        screens,
        _sink: sink,
        screened_at: None,
    };
    let state_file = StateFile::new(cfg.state_file.clone(), since);
    let epoll = (|| {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let inputs = [
            (signals.as_fd(), token::SIGNALS),
            (timer.as_fd(), token::TIMER),
            (packet.as_fd(), token::PACKET),
            (links.as_fd(), token::LINKS),
        ];
        for (fd, token) in inputs {
            epoll.add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token))?;
        }
        if let Some(w) = &witness {
            epoll.add(
                w.as_fd(),
                EpollEvent::new(EpollFlags::EPOLLIN, token::WITNESS),
            )?;
        }
        Ok::<_, nix::errno::Errno>(epoll)
    })()
    .map_err(|e| Error::setup(format!("Unable to create an epoll set: {e}")))?;
    let clock = Monotonic::new()
        .map_err(|e| Error::setup(format!("Unable to read the monotonic clock: {e}")))?;
    let mut daemon = Daemon {
        hooks: Hooks::new(&cfg),
        cfg,
        carp,
        packet,
        sender,
        intake,
        _membership: membership,
        control,
        links,
        signals,
        timer,
        armed: None,
        timer_fired: false,
        clock,
        ifindex: i32::try_from(ifindex).unwrap_or(-1),
        gone: false,
        exiting: false,
        exit_now: false,
        scripts: ScriptWatch::default(),
        killed_by: None,
        checker,
        tracked,
        notifier: Notifier::from_env(),
        state_file,
        witness,
        frame_wakes: (None, 0),
        ring: None,
        ring_refused: false,
        epoll,
        inputs_closed: false,
    };
    if let Some(w) = daemon.witness.as_mut() {
        w.start(now);
    }
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
    #[allow(clippy::disallowed_methods)] // the last word: what the screens counted
    daemon.intake.review_screens(Instant::now(), true);
    daemon.state_file.write(&daemon.view(), true);
    Ok(match daemon.killed_by {
        Some(sig) => Outcome::Killed(sig),
        None => Outcome::Exit,
    })
}
