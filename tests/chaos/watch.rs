//! The observer: one thread that records, with the time of each, every change of who
//! holds the address (route-netlink address events from each node's namespace, so
//! nothing is polled and no change is missed) and every echo reply to a ping sent to
//! the address every 5 ms from the observer's namespace.
//!
//! It only records; judging is `judge.rs`'s job. Its sockets are opened in the right
//! namespace by a short-lived thread (`netns::in_netns`) and then used from here.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::in_netns;

/// How often the observer pings the address.
pub const PING_EVERY: Duration = Duration::from_millis(5);

/// The wall clock of the run. The harness measures real time by design; tests proper
/// never do (the workspace's clippy.toml bans `Instant::now` there).
#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
    Instant::now()
}

/// The wall-clock time now, in seconds since the epoch, to find a step in a capture or
/// a daemon's log.
#[allow(clippy::disallowed_methods)]
pub fn epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What the observer saw.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// (when, node, holds the address now).
    pub holds: Vec<(Instant, usize, bool)>,
    /// When each echo reply came back.
    pub replies: Vec<Instant>,
    /// Who holds the address right now.
    pub current: Vec<bool>,
}

pub struct Watch {
    shared: Arc<Mutex<Timeline>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    /// Starts watching `vip` on the nodes' namespaces and pinging it from `observer_ns`.
    pub fn start(node_ns: &[String], observer_ns: &str, vip: Ipv4Addr) -> Watch {
        let links: Vec<OwnedFd> = node_ns
            .iter()
            .map(|ns| in_netns(ns, address_events))
            .collect();
        let icmp = in_netns(observer_ns, icmp_socket);
        let shared = Arc::new(Mutex::new(Timeline {
            current: vec![false; node_ns.len()],
            ..Timeline::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = shared.clone();
            let stop = stop.clone();
            std::thread::spawn(move || observe(&links, &icmp, vip, &shared, &stop))
        };
        Watch {
            shared,
            stop,
            thread: Some(thread),
        }
    }

    /// The nodes that hold the address now.
    pub fn holders(&self) -> Vec<usize> {
        let t = self.shared.lock().unwrap();
        (0..t.current.len()).filter(|&n| t.current[n]).collect()
    }

    /// A copy of everything seen so far.
    pub fn timeline(&self) -> Timeline {
        self.shared.lock().unwrap().clone()
    }

    /// Stops the observer thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop();
    }
}

fn check(rc: libc::c_int, what: &str) -> libc::c_int {
    assert!(rc >= 0, "{what}: {}", std::io::Error::last_os_error());
    rc
}

/// A new non-blocking, close-on-exec socket, owned.
fn socket(domain: libc::c_int, ty: libc::c_int, protocol: libc::c_int, what: &str) -> OwnedFd {
    // SAFETY: a plain socket call; the descriptor is owned at once.
    let fd = unsafe {
        libc::socket(
            domain,
            ty | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            protocol,
        )
    };
    // SAFETY: `check` has ensured it is a descriptor we alone hold.
    unsafe { OwnedFd::from_raw_fd(check(fd, what)) }
}

/// A route-netlink socket subscribed to IPv4 address changes.
fn address_events() -> OwnedFd {
    let fd = socket(
        libc::AF_NETLINK,
        libc::SOCK_RAW,
        libc::NETLINK_ROUTE,
        "netlink socket",
    );
    // SAFETY: the address struct is zeroed, filled in, and passed with its size.
    unsafe {
        let mut sa: libc::sockaddr_nl = std::mem::zeroed();
        sa.nl_family = libc::AF_NETLINK as u16;
        sa.nl_groups = libc::RTMGRP_IPV4_IFADDR as u32;
        check(
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            ),
            "netlink bind",
        );
    }
    fd
}

/// A raw ICMP socket for the pings.
fn icmp_socket() -> OwnedFd {
    socket(
        libc::AF_INET,
        libc::SOCK_RAW,
        libc::IPPROTO_ICMP,
        "icmp socket",
    )
}

fn observe(
    links: &[OwnedFd],
    icmp: &OwnedFd,
    vip: Ipv4Addr,
    shared: &Mutex<Timeline>,
    stop: &AtomicBool,
) {
    let ident = (std::process::id() as u16) ^ (icmp.as_raw_fd() as u16).rotate_left(8);
    let mut seq: u16 = 0;
    let mut next_ping = now();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let t = now();
        if t >= next_ping {
            send_echo(icmp, vip, ident, seq);
            seq = seq.wrapping_add(1);
            next_ping += PING_EVERY;
            if next_ping < t {
                next_ping = t + PING_EVERY;
            }
        }
        let mut fds: Vec<libc::pollfd> = links
            .iter()
            .chain(std::iter::once(icmp))
            .map(|fd| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let wait = next_ping.saturating_duration_since(now());
        let ms = wait.as_millis().max(1) as libc::c_int;
        // SAFETY: `fds` is a live array of pollfd of the length given.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n <= 0 {
            continue;
        }
        let seen = now();
        for (node, pfd) in fds.iter().enumerate() {
            if pfd.revents == 0 {
                continue;
            }
            if node == links.len() {
                while let Some(len) = recv(icmp, &mut buf) {
                    if is_reply(&buf[..len], ident) {
                        shared.lock().unwrap().replies.push(seen);
                    }
                }
            } else {
                while let Some(len) = recv(&links[node], &mut buf) {
                    for holds in address_changes(&buf[..len], vip) {
                        let mut t = shared.lock().unwrap();
                        if t.current[node] != holds {
                            t.current[node] = holds;
                            t.holds.push((seen, node, holds));
                        }
                    }
                }
            }
        }
    }
}

fn recv(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: reading into a live buffer of the length given.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    (n > 0).then_some(n as usize)
}

fn send_echo(icmp: &OwnedFd, to: Ipv4Addr, ident: u16, seq: u16) {
    let mut msg = [0u8; 24];
    msg[0] = 8; // echo request
    msg[4..6].copy_from_slice(&ident.to_be_bytes());
    msg[6..8].copy_from_slice(&seq.to_be_bytes());
    let sum = carp::wire::checksum::checksum(&msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(to).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sending a live buffer to a filled-in address of the size given. A failed
    // send (no route to a holder yet) is simply a ping without reply.
    unsafe {
        libc::sendto(
            icmp.as_raw_fd(),
            msg.as_ptr().cast(),
            msg.len(),
            libc::MSG_DONTWAIT,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        );
    }
}

/// Whether an IPv4 datagram (a raw ICMP socket hands over the IP header too) is an
/// echo reply to one of our pings.
fn is_reply(ip: &[u8], ident: u16) -> bool {
    let Some(&first) = ip.first() else {
        return false;
    };
    let ihl = usize::from(first & 0x0f) * 4;
    ip.len() >= ihl + 8 && ip[ihl] == 0 && ip[ihl + 4..ihl + 6] == ident.to_be_bytes()
}

/// The changes to `vip` that a batch of route-netlink messages reports: `true` for an
/// address added, `false` for one removed.
fn address_changes(mut msgs: &[u8], vip: Ipv4Addr) -> Vec<bool> {
    const NLMSG_HDR: usize = 16;
    const IFADDRMSG: usize = 8;
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    let mut out = Vec::new();
    while msgs.len() >= NLMSG_HDR {
        let len = u32::from_ne_bytes([msgs[0], msgs[1], msgs[2], msgs[3]]) as usize;
        let kind = u16::from_ne_bytes([msgs[4], msgs[5]]);
        if len < NLMSG_HDR || len > msgs.len() {
            break;
        }
        let added = match kind {
            libc::RTM_NEWADDR => Some(true),
            libc::RTM_DELADDR => Some(false),
            _ => None,
        };
        if let Some(added) = added {
            let mut attrs = &msgs[(NLMSG_HDR + IFADDRMSG).min(len)..len];
            while attrs.len() >= 4 {
                let alen = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
                let atype = u16::from_ne_bytes([attrs[2], attrs[3]]);
                if alen < 4 || alen > attrs.len() {
                    break;
                }
                if (atype == IFA_LOCAL || atype == IFA_ADDRESS)
                    && alen == 8
                    && attrs[4..8] == vip.octets()
                {
                    out.push(added);
                    break;
                }
                attrs = &attrs[((alen + 3) & !3).min(attrs.len())..];
            }
        }
        msgs = &msgs[((len + 3) & !3).min(msgs.len())..];
    }
    out
}
