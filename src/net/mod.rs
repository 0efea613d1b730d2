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
//! Why AF_PACKET (SPEC.md §4): ucarp writes whole Ethernet frames, so its adverts carry
//! the `00:00:5e:00:00:<vhid>` source MAC, `-M` can change the destination MAC alone,
//! the source address need not be configured, and netfilter rules do not filter them.
//! The BPF program keeps every frame that is not protocol 112 of our family for our vhid
//! from another source out of the process: foreign traffic never wakes the daemon.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use pnet_base::MacAddr;

pub mod filter;
pub mod netlink;

pub use filter::{advert_filter, carp_filter, FRAME_SNAP};
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

/// An AF_PACKET raw socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

fn link_address(ifindex: i32, protocol: u16) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex;
    sll
}

impl PacketSocket {
    /// Opens the socket, attaches `filter`, then binds to `ifindex` for frames of
    /// Ethernet type `ethertype` (see [`ethertype_of`]).
    ///
    /// The socket is created with protocol 0, which receives nothing, and bound only
    /// after the filter is in place, so no unfiltered frame is ever queued.
    ///
    /// # Errors
    /// Any failing syscall; `EPERM` without CAP_NET_RAW.
    pub fn open(
        ifindex: u32,
        filter: &[libc::sock_filter],
        ethertype: u16,
    ) -> io::Result<PacketSocket> {
        let fd = socket(libc::AF_PACKET, libc::SOCK_RAW, 0)?;
        let ifindex =
            i32::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
        let prog = libc::sock_fprog {
            len: u16::try_from(filter.len())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
            filter: filter.as_ptr().cast_mut(),
        };
        setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &prog,
        )?;
        // Older kernels lack it; the filter drops our own frames by source anyway.
        let _ = setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            &1 as &libc::c_int,
        );
        let sll = link_address(ifindex, ethertype);
        // SAFETY: `sll` is a valid sockaddr_ll and the length is its size.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// Sets the receive buffer to `bytes`, above the system maximum when privileged
    /// (SO_RCVBUFFORCE), else as far as it allows.
    pub fn set_receive_buffer(&self, bytes: usize) {
        let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        let fd = self.fd.as_raw_fd();
        if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &size).is_err() {
            let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &size);
        }
    }

    /// Asks the interface to accept frames for a multicast MAC (no promiscuous mode).
    ///
    /// # Errors
    /// The failing setsockopt's errno.
    pub fn add_multicast_mac(&self, mac: MacAddr) -> io::Result<()> {
        // SAFETY: packet_mreq is plain data; all-zero is valid.
        let mut mreq: libc::packet_mreq = unsafe { zeroed() };
        mreq.mr_ifindex = self.ifindex;
        mreq.mr_type = libc::PACKET_MR_MULTICAST as u16;
        mreq.mr_alen = 6;
        mreq.mr_address[..6].copy_from_slice(&mac.octets());
        setsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            &mreq,
        )
    }

    /// Sends one whole Ethernet frame. The protocol for the kernel is read from the
    /// frame's own Ethernet type. EINTR is retried.
    ///
    /// # Errors
    /// The errno of send(2), or `EMSGSIZE` for a partial write or a runt frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let Some(&[hi, lo]) = frame.get(12..14) else {
            return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
        };
        let sll = link_address(self.ifindex, u16::from_be_bytes([hi, lo]));
        loop {
            // SAFETY: `frame` and `sll` are valid for the lengths passed.
            let ret = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    (&sll as *const libc::sockaddr_ll).cast(),
                    size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            match check_size(ret) {
                Ok(n) if n == frame.len() => return Ok(()),
                Ok(_) => return Err(io::Error::from_raw_os_error(libc::EMSGSIZE)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Receives up to `bufs.len()` frames with one recvmmsg(2), without blocking,
    /// storing each frame's length in `lens`. Returns how many were received (0 when
    /// none was queued). A frame longer than its buffer is cut to its length.
    ///
    /// # Errors
    /// The errno of recvmmsg(2), e.g. `ENETDOWN` once the interface is set down.
    pub fn recv_batch<const N: usize>(
        &self,
        bufs: &mut [[u8; N]],
        lens: &mut [usize],
    ) -> io::Result<usize> {
        let count = bufs.len().min(lens.len()).min(64);
        // SAFETY: iovec and mmsghdr are plain data; all-zero is valid.
        let mut iovs: [libc::iovec; 64] = unsafe { zeroed() };
        let mut msgs: [libc::mmsghdr; 64] = unsafe { zeroed() };
        for i in 0..count {
            iovs[i].iov_base = bufs[i].as_mut_ptr().cast();
            iovs[i].iov_len = N;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        loop {
            // SAFETY: each of the first `count` headers points to one iovec, which
            // points to a live buffer of N bytes; the kernel writes only inside them
            // and into the headers' msg_len.
            let ret = unsafe {
                libc::recvmmsg(
                    self.fd.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    count as libc::c_uint,
                    // c_int in glibc, c_uint in musl.
                    libc::MSG_DONTWAIT as _,
                    std::ptr::null_mut(),
                )
            };
            match usize::try_from(ret) {
                Ok(n) => {
                    for i in 0..n {
                        lens[i] = (msgs[i].msg_len as usize).min(N);
                    }
                    return Ok(n);
                }
                Err(_) => {
                    let e = io::Error::last_os_error();
                    match e.kind() {
                        io::ErrorKind::Interrupted => continue,
                        io::ErrorKind::WouldBlock => return Ok(0),
                        _ => return Err(e),
                    }
                }
            }
        }
    }

    /// Reads and clears the socket's pending error (after POLLERR).
    pub fn take_error(&self) -> io::Error {
        let mut err: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` and `len` are valid for writing, `len` holds err's size.
        let ret = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if ret < 0 {
            io::Error::last_os_error()
        } else {
            io::Error::from_raw_os_error(err)
        }
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
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

/// A raw IP socket for unicast adverts (`--peer`): the kernel routes each packet and
/// resolves the peer's MAC, and the packet leaves from the interface's own MAC. The
/// daemon writes the whole IP header itself (IP_HDRINCL, IPV6_HDRINCL), TTL or hop
/// limit 255 included. It never reads from it (a filter drops everything), but its
/// presence also keeps the kernel from answering the peers' unicast adverts with ICMP
/// "protocol unreachable" (IPv6: "unrecognized next header").
#[derive(Debug)]
pub struct RawIpSocket {
    fd: OwnedFd,
    /// The scope of link-local IPv6 destinations.
    ifindex: u32,
}

impl RawIpSocket {
    /// Opens a socket of `family`'s (IPv4 or IPv6), bound to `iface`.
    ///
    /// # Errors
    /// Any failing syscall; `EPERM` without CAP_NET_RAW.
    pub fn open(iface: &str, ifindex: u32, family: IpAddr) -> io::Result<RawIpSocket> {
        let proto = libc::c_int::from(crate::packet::CARP_PROTO);
        let fd = match family {
            IpAddr::V4(_) => {
                let fd = socket(libc::AF_INET, libc::SOCK_RAW, proto)?;
                setsockopt(fd.as_raw_fd(), libc::IPPROTO_IP, libc::IP_HDRINCL, &1)?;
                fd
            }
            IpAddr::V6(_) => {
                let fd = socket(libc::AF_INET6, libc::SOCK_RAW, proto)?;
                setsockopt(fd.as_raw_fd(), libc::IPPROTO_IPV6, libc::IPV6_HDRINCL, &1)?;
                fd
            }
        };
        let drop_all = [libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0,
        }];
        let prog = libc::sock_fprog {
            len: 1,
            filter: drop_all.as_ptr().cast_mut(),
        };
        setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &prog,
        )?;
        bind_to_device(&fd, iface)?;
        Ok(RawIpSocket { fd, ifindex })
    }

    /// Sends one IP packet (header included) to `dst`. EINTR is retried.
    ///
    /// # Errors
    /// The errno of sendto(2), or `EMSGSIZE` for a partial write.
    pub fn send_to(&self, packet: &[u8], dst: IpAddr) -> io::Result<()> {
        // SAFETY: both socket address types are plain data; all-zero is valid.
        let mut sin: libc::sockaddr_in = unsafe { zeroed() };
        let mut sin6: libc::sockaddr_in6 = unsafe { zeroed() };
        let (addr, len): (*const libc::sockaddr, usize) = match dst {
            IpAddr::V4(dst) => {
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_addr.s_addr = u32::from(dst).to_be();
                ((&sin as *const libc::sockaddr_in).cast(), size_of_val(&sin))
            }
            IpAddr::V6(dst) => {
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_addr.s6_addr = dst.octets();
                sin6.sin6_scope_id = self.ifindex;
                (
                    (&sin6 as *const libc::sockaddr_in6).cast(),
                    size_of_val(&sin6),
                )
            }
        };
        loop {
            // SAFETY: `packet` and the address are valid for the lengths passed.
            let ret = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    packet.as_ptr().cast(),
                    packet.len(),
                    0,
                    addr,
                    len as libc::socklen_t,
                )
            };
            match check_size(ret) {
                Ok(n) if n == packet.len() => return Ok(()),
                Ok(_) => return Err(io::Error::from_raw_os_error(libc::EMSGSIZE)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Binds a socket to one interface (SO_BINDTODEVICE).
fn bind_to_device(fd: &OwnedFd, iface: &str) -> io::Result<()> {
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

/// Membership of an IPv6 group on one interface, held as long as this value lives: a
/// UDP socket that never sends or receives. Opening it also checks that the source
/// address belongs to this host, as the IPv4 join through `srcip` does.
#[derive(Debug)]
pub struct Ipv6Membership {
    _fd: OwnedFd,
}

impl Ipv6Membership {
    /// Checks that `srcip` is a local address (bind), then joins `group` on `ifindex`
    /// (IPV6_ADD_MEMBERSHIP, which also sends the MLD report switches listen to).
    ///
    /// # Errors
    /// `EADDRNOTAVAIL` when `srcip` is not local (or still tentative, in duplicate
    /// address detection); another errno when the join fails.
    pub fn join(group: Ipv6Addr, srcip: Ipv6Addr, ifindex: u32) -> io::Result<Ipv6Membership> {
        let fd = socket(libc::AF_INET6, libc::SOCK_DGRAM, 0)?;
        // SAFETY: sockaddr_in6 is plain data; all-zero is valid.
        let mut sin6: libc::sockaddr_in6 = unsafe { zeroed() };
        sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        sin6.sin6_addr.s6_addr = srcip.octets();
        sin6.sin6_scope_id = ifindex;
        // SAFETY: `sin6` is a valid sockaddr_in6 and the length is its size.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sin6 as *const libc::sockaddr_in6).cast(),
                size_of_val(&sin6) as libc::socklen_t,
            )
        })?;
        let mreq = libc::ipv6_mreq {
            ipv6mr_multiaddr: libc::in6_addr {
                s6_addr: group.octets(),
            },
            ipv6mr_interface: ifindex,
        };
        setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_ADD_MEMBERSHIP,
            &mreq,
        )?;
        Ok(Ipv6Membership { _fd: fd })
    }
}

/// ucarp's UDP control socket: joins the group and answers interface ioctls. It never
/// sends or receives anything.
#[derive(Debug)]
pub struct ControlSocket {
    fd: OwnedFd,
}

fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { zeroed() };
    if name.len() >= req.ifr_name.len() || name.as_bytes().contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

impl ControlSocket {
    /// Opens the socket.
    ///
    /// # Errors
    /// The errno of socket(2).
    pub fn open() -> io::Result<ControlSocket> {
        Ok(ControlSocket {
            fd: socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?,
        })
    }

    fn ioctl(&self, request: libc::Ioctl, name: &str) -> io::Result<libc::ifreq> {
        let mut req = ifreq_for(name)?;
        // SAFETY: `req` is a valid ifreq for this request, which only writes inside it.
        check(unsafe { libc::ioctl(self.fd.as_raw_fd(), request, &mut req) })?;
        Ok(req)
    }

    /// Returns the interface flags (`IFF_UP`, `IFF_RUNNING`, ...).
    ///
    /// # Errors
    /// `ENODEV` when the interface does not exist.
    pub fn flags(&self, name: &str) -> io::Result<u32> {
        // The request constant's type differs between glibc and musl.
        #[allow(clippy::unnecessary_cast)]
        let req = self.ioctl(libc::SIOCGIFFLAGS as libc::Ioctl, name)?;
        // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
        Ok(u32::from(unsafe { req.ifr_ifru.ifru_flags } as u16))
    }

    /// Returns the interface's hardware address and ARPHRD type.
    ///
    /// # Errors
    /// `ENODEV` when the interface does not exist.
    pub fn hardware_address(&self, name: &str) -> io::Result<(MacAddr, u16)> {
        #[allow(clippy::unnecessary_cast)]
        let req = self.ioctl(libc::SIOCGIFHWADDR as libc::Ioctl, name)?;
        // SAFETY: SIOCGIFHWADDR filled the hwaddr member of the union.
        let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
        let d = sa.sa_data.map(|b| b as u8);
        Ok((MacAddr(d[0], d[1], d[2], d[3], d[4], d[5]), sa.sa_family))
    }

    /// Joins `group`: an IPv4 group through the interface that owns `srcip`
    /// ([`join`](Self::join)), an IPv6 group on `ifindex` after checking that `srcip`
    /// is local ([`Ipv6Membership::join`]). An IPv6 membership lasts as long as the
    /// returned socket; an IPv4 one as long as this control socket.
    ///
    /// # Errors
    /// The join's errno; `EAFNOSUPPORT` for a group and source of different families.
    pub fn join_group(
        &self,
        group: IpAddr,
        srcip: IpAddr,
        ifindex: u32,
    ) -> io::Result<Option<Ipv6Membership>> {
        match (group, srcip) {
            (IpAddr::V4(group), IpAddr::V4(srcip)) => self.join(group, srcip).map(|()| None),
            (IpAddr::V6(group), IpAddr::V6(srcip)) => {
                Ipv6Membership::join(group, srcip, ifindex).map(Some)
            }
            _ => Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
        }
    }

    /// Joins `group` through the interface that owns `srcip` (IP_ADD_MEMBERSHIP with
    /// `imr_interface`, as ucarp does).
    ///
    /// # Errors
    /// `ENODEV` when `srcip` is not a local address, or another errno.
    pub fn join(&self, group: Ipv4Addr, srcip: Ipv4Addr) -> io::Result<()> {
        let mreq = libc::ip_mreq {
            imr_multiaddr: libc::in_addr {
                s_addr: u32::from(group).to_be(),
            },
            imr_interface: libc::in_addr {
                s_addr: u32::from(srcip).to_be(),
            },
        };
        setsockopt(
            self.fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_ADD_MEMBERSHIP,
            &mreq,
        )
    }
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
