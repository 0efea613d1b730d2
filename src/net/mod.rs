//! The sockets: an AF_PACKET socket bound to the interface that sends whole frames and
//! receives through a classic BPF filter attached in the kernel; a UDP control socket
//! for the IPv4 multicast join and interface ioctls, and an IPv6 one for the IPv6 join;
//! a raw IP socket for `--peer`; a route-netlink socket for link events.
//!
//! This module holds the crate's socket `unsafe`, each block small and commented. It
//! decides nothing: the daemon calls it, the state machine never sees it. The kernel
//! filters it attaches are built in [`filter`]'s pure code, and link events are
//! parsed in [`netlink`].
//!
//! Why AF_PACKET (docs/PROTOCOL.md §4): ucarp writes whole Ethernet frames, so its adverts carry
//! the `00:00:5e:00:00:<vhid>` source MAC, `-M` can change the destination MAC alone,
//! the source address need not be configured, and netfilter rules do not filter them.
//! The BPF program keeps every frame that is not protocol 112 of our family for our vhid
//! from another source out of the process: foreign traffic never wakes the daemon.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

mod control;
pub mod filter;
pub mod netlink;
mod packet;
mod raw;
mod ring;

pub use control::{ControlSocket, Ipv6Membership};
pub use packet::PacketSocket;
pub use raw::RawIpSocket;
pub use ring::RxRing;

pub use filter::{advert_filter, carp_filter, screen_filter, witness_filter, FRAME_SNAP};
pub use netlink::{parse_link_events, LinkEvent, LinkMonitor};

/// `PACKET_IGNORE_OUTGOING` (Linux 4.20): do not loop our own frames back to us.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Returns `-1` results of a libc call as the errno.
pub(crate) fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub(crate) fn check_size(ret: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// Opens a socket with close-on-exec and non-blocking set, so scripts never inherit it.
pub(crate) fn socket(
    domain: libc::c_int,
    kind: libc::c_int,
    protocol: libc::c_int,
) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success the fd is new and owned by nobody else.
    let fd = check(unsafe {
        libc::socket(
            domain,
            kind | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            protocol,
        )
    })?;
    // SAFETY: `fd` was just returned by socket(2) and is not owned elsewhere.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Names the capability that a refused call needs: EPERM alone ("Operation not
/// permitted") says nothing of the fix when the daemon runs without root. (A security
/// policy can refuse the call too, but then usually with EACCES, left as it is.)
pub(crate) fn needing(capability: &'static str) -> impl Fn(io::Error) -> io::Error {
    move |e| match e.raw_os_error() {
        Some(libc::EPERM) => io::Error::new(
            e.kind(),
            format!(
                "{e}; it needs {capability} (root has it; see RUNNING WITHOUT ROOT in ucarp(8))"
            ),
        ),
        _ => e,
    }
}

pub(crate) fn setsockopt<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` and the length passed is its size.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Reads a socket option of type `T` (plain data, for which all-zero is valid).
pub(crate) fn getsockopt<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    // SAFETY: the callers' `T`s are C structs or integers, valid when all-zero.
    let mut value: T = unsafe { std::mem::zeroed() };
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writing, `len` holds value's size.
    check(unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut T).cast(), &mut len) })?;
    Ok(value)
}

/// Attaches a classic BPF program to a socket (SO_ATTACH_FILTER): the kernel runs it
/// on every packet before queueing it.
///
/// # Errors
/// `EINVAL` for a program too long for the kernel's count, or setsockopt's errno.
pub(crate) fn attach_filter(fd: &OwnedFd, filter: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: u16::try_from(filter.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        filter: filter.as_ptr().cast_mut(),
    };
    setsockopt(
        fd.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_ATTACH_FILTER,
        &prog,
    )
}

/// Sends `data` in one datagram to the socket address `addr` of `T`'s type, retrying
/// on EINTR: the one sendto(2) of every socket here.
///
/// # Errors
/// The errno of sendto(2), or `EMSGSIZE` for a partial write.
pub(crate) fn send_whole<T>(fd: &OwnedFd, data: &[u8], addr: &T) -> io::Result<()> {
    loop {
        // SAFETY: `data` is valid for its length, and `addr` for `size_of::<T>()` bytes,
        // the socket address type the caller's socket expects.
        let ret = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                0,
                (addr as *const T).cast(),
                size_of::<T>() as libc::socklen_t,
            )
        };
        match check_size(ret) {
            Ok(n) if n == data.len() => return Ok(()),
            Ok(_) => return Err(io::Error::from_raw_os_error(libc::EMSGSIZE)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Returns the index of an interface.
///
/// # Errors
/// `ENODEV` (or another errno) when there is no such interface.
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    // SAFETY: a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

/// Returns the first interface that is up and not a loopback, by index, as libpcap's
/// default device is found (ucarp without `-i`).
pub fn default_interface() -> Option<String> {
    let mut best: Option<(u32, String)> = None;
    for entry in std::fs::read_dir("/sys/class/net").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let read = |f: &str| std::fs::read_to_string(entry.path().join(f)).ok();
        let flags = read("flags")
            .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
            .unwrap_or(0);
        let index: u32 = read("ifindex")
            .and_then(|i| i.trim().parse().ok())
            .unwrap_or(u32::MAX);
        let usable = flags & libc::IFF_UP as u32 != 0 && flags & libc::IFF_LOOPBACK as u32 == 0;
        if usable && best.as_ref().is_none_or(|(i, _)| index < *i) {
            best = Some((index, name));
        }
    }
    best.map(|(_, name)| name)
}

/// The Ethernet type of `ip`'s family, for binding a packet socket.
pub fn ethertype_of(ip: IpAddr) -> u16 {
    match ip {
        IpAddr::V4(_) => libc::ETH_P_IP as u16,
        IpAddr::V6(_) => libc::ETH_P_IPV6 as u16,
    }
}

pub(crate) fn recv_flags(
    fd: RawFd,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<Option<usize>> {
    loop {
        // SAFETY: `buf` is valid for writing `buf.len()` bytes; with MSG_TRUNC the kernel
        // still writes at most that many and only reports the longer length.
        let ret = unsafe {
            libc::recv(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | flags,
            )
        };
        match check_size(ret) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// Binds a socket to one interface (SO_BINDTODEVICE).
pub(crate) fn bind_to_device(fd: &OwnedFd, iface: &str) -> io::Result<()> {
    let name = CString::new(iface).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    // SAFETY: the option value is the NUL-terminated name, its length given.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            name.as_ptr().cast(),
            name.as_bytes_with_nul().len() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Returns those of `addrs` that are configured on any local interface (a down
/// script's job is to remove them, so they tell whether one that failed left the
/// address behind).
///
/// # Errors
/// When the interface addresses cannot be listed.
pub fn addresses_present(addrs: &[IpAddr]) -> io::Result<Vec<IpAddr>> {
    let mut present = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(io::Error::from)? {
        let Some(a) = ifa.address else { continue };
        let ip = if let Some(v4) = a.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = a.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        if addrs.contains(&ip) && !present.contains(&ip) {
            present.push(ip);
        }
    }
    Ok(present)
}

/// Returns true when interface flags say the interface is up and has its carrier
/// (IFF_UP and IFF_RUNNING).
pub fn is_up_and_running(flags: u32) -> bool {
    let both = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
    flags & both == both
}

/// Returns 8 bytes from the kernel's random source, for the state machine's seed and
/// the IP ids.
///
/// # Errors
/// When /dev/urandom cannot be read.
pub fn random_u64() -> io::Result<u64> {
    use std::io::Read;
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(u64::from_ne_bytes(b))
}
