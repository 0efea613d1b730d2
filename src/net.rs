//! The sockets: an AF_PACKET socket bound to the interface that sends whole frames and
//! receives through a classic BPF filter attached in the kernel; a UDP control socket
//! for the IPv4 multicast join and interface ioctls, and an IPv6 one for the IPv6 join;
//! a raw IP socket for `--peer`; a route-netlink socket for link events.
//!
//! This module holds the crate's socket `unsafe`, each block small and commented. It
//! decides nothing: the daemon calls it, the state machine never sees it.
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

/// `PACKET_IGNORE_OUTGOING` (Linux 4.20): do not loop our own frames back to us.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Returns `-1` results of a libc call as the errno.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_size(ret: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// Opens a socket with close-on-exec and non-blocking set, so scripts never inherit it.
fn socket(domain: libc::c_int, kind: libc::c_int, protocol: libc::c_int) -> io::Result<OwnedFd> {
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

fn setsockopt<T: Copy>(
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

/// Classic BPF opcodes used by [`advert_filter`].
mod bpf {
    pub const LD_H_ABS: u16 = 0x28;
    pub const LD_B_ABS: u16 = 0x30;
    pub const LD_W_ABS: u16 = 0x20;
    pub const LD_B_IND: u16 = 0x50;
    pub const LDX_B_MSH: u16 = 0xb1;
    pub const JEQ_K: u16 = 0x15;
    pub const RET_K: u16 = 0x06;
}

/// How much of a kept frame the kernel copies to the daemon: Ethernet, the longest IPv4
/// header (60 bytes) and the CARP header fit; the rest is never read.
pub const FRAME_SNAP: usize = 14 + 60 + 36 + 18;

/// Builds the kernel filter: keep CARP frames of `srcip`'s family whose source is not
/// `srcip` and whose CARP vhid byte is `vhid`; drop everything else before it is
/// queued. For IPv4, protocol 112 with any header length; for IPv6, next header 112
/// right after the fixed header. VRRP adverts for a VRID equal to our vhid pass (same
/// byte), so ucarp's `Bad version` warning for them still shows.
pub fn advert_filter(srcip: IpAddr, vhid: u8) -> Vec<libc::sock_filter> {
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let vhid = u32::from(vhid);
    match srcip {
        // Instruction 9 drops; `jf`/`jt` offsets count from the next instruction.
        IpAddr::V4(srcip) => vec![
            ins(bpf::LD_H_ABS, 0, 0, 12),             // 0: ethertype
            ins(bpf::JEQ_K, 0, 7, 0x0800),            // 1: IPv4, else drop
            ins(bpf::LD_B_ABS, 0, 0, 23),             // 2: IP protocol
            ins(bpf::JEQ_K, 0, 5, 112),               // 3: CARP, else drop
            ins(bpf::LD_W_ABS, 0, 0, 26),             // 4: IP source
            ins(bpf::JEQ_K, 3, 0, u32::from(srcip)),  // 5: ours: drop
            ins(bpf::LDX_B_MSH, 0, 0, 14),            // 6: X = IP header length
            ins(bpf::LD_B_IND, 0, 0, 14 + 1),         // 7: CARP byte 1, the vhid
            ins(bpf::JEQ_K, 1, 0, vhid),              // 8: ours: keep
            ins(bpf::RET_K, 0, 0, 0),                 // 9: drop
            ins(bpf::RET_K, 0, 0, FRAME_SNAP as u32), // 10: keep the headers
        ],
        // Instruction 14 drops. The source is ours only when all four words match.
        IpAddr::V6(srcip) => {
            let w = source_words(srcip);
            vec![
                ins(bpf::LD_H_ABS, 0, 0, 12),             // 0: ethertype
                ins(bpf::JEQ_K, 0, 12, 0x86dd),           // 1: IPv6, else drop
                ins(bpf::LD_B_ABS, 0, 0, 20),             // 2: next header
                ins(bpf::JEQ_K, 0, 10, 112),              // 3: CARP, else drop
                ins(bpf::LD_W_ABS, 0, 0, 22),             // 4: source, word 0
                ins(bpf::JEQ_K, 0, 6, w[0]),              // 5: differs: not ours
                ins(bpf::LD_W_ABS, 0, 0, 26),             // 6: word 1
                ins(bpf::JEQ_K, 0, 4, w[1]),              // 7
                ins(bpf::LD_W_ABS, 0, 0, 30),             // 8: word 2
                ins(bpf::JEQ_K, 0, 2, w[2]),              // 9
                ins(bpf::LD_W_ABS, 0, 0, 34),             // 10: word 3
                ins(bpf::JEQ_K, 2, 0, w[3]),              // 11: ours: drop
                ins(bpf::LD_B_ABS, 0, 0, 14 + 40 + 1),    // 12: CARP byte 1, the vhid
                ins(bpf::JEQ_K, 1, 0, vhid),              // 13: ours: keep
                ins(bpf::RET_K, 0, 0, 0),                 // 14: drop
                ins(bpf::RET_K, 0, 0, FRAME_SNAP as u32), // 15: keep the headers
            ]
        }
    }
}

/// The four big-endian words of an IPv6 address, as BPF word loads read them.
fn source_words(ip: Ipv6Addr) -> [u32; 4] {
    let o = ip.octets();
    [0, 4, 8, 12].map(|i| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]))
}

/// Builds a kernel filter for `--preflight`: every protocol-112 frame (CARP and VRRP,
/// any id) of `srcip`'s family whose source is not `srcip`.
pub fn carp_filter(srcip: IpAddr) -> Vec<libc::sock_filter> {
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    match srcip {
        IpAddr::V4(srcip) => vec![
            ins(bpf::LD_H_ABS, 0, 0, 12),             // 0: ethertype
            ins(bpf::JEQ_K, 0, 4, 0x0800),            // 1: IPv4, else drop
            ins(bpf::LD_B_ABS, 0, 0, 23),             // 2: IP protocol
            ins(bpf::JEQ_K, 0, 2, 112),               // 3: CARP/VRRP, else drop
            ins(bpf::LD_W_ABS, 0, 0, 26),             // 4: IP source
            ins(bpf::JEQ_K, 0, 1, u32::from(srcip)),  // 5: ours: drop, else keep
            ins(bpf::RET_K, 0, 0, 0),                 // 6: drop
            ins(bpf::RET_K, 0, 0, FRAME_SNAP as u32), // 7: keep the headers
        ],
        IpAddr::V6(srcip) => {
            let w = source_words(srcip);
            vec![
                ins(bpf::LD_H_ABS, 0, 0, 12),             // 0: ethertype
                ins(bpf::JEQ_K, 0, 10, 0x86dd),           // 1: IPv6, else drop
                ins(bpf::LD_B_ABS, 0, 0, 20),             // 2: next header
                ins(bpf::JEQ_K, 0, 8, 112),               // 3: CARP/VRRP, else drop
                ins(bpf::LD_W_ABS, 0, 0, 22),             // 4: source, word 0
                ins(bpf::JEQ_K, 0, 7, w[0]),              // 5: differs: keep
                ins(bpf::LD_W_ABS, 0, 0, 26),             // 6
                ins(bpf::JEQ_K, 0, 5, w[1]),              // 7
                ins(bpf::LD_W_ABS, 0, 0, 30),             // 8
                ins(bpf::JEQ_K, 0, 3, w[2]),              // 9
                ins(bpf::LD_W_ABS, 0, 0, 34),             // 10
                ins(bpf::JEQ_K, 0, 1, w[3]),              // 11: ours: drop, else keep
                ins(bpf::RET_K, 0, 0, 0),                 // 12: drop
                ins(bpf::RET_K, 0, 0, FRAME_SNAP as u32), // 13: keep the headers
            ]
        }
    }
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

fn recv_flags(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<Option<usize>> {
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

/// A change reported by route netlink for one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    /// Interface index.
    pub ifindex: i32,
    /// `IFF_*` flags after the change; meaningless when `deleted`.
    pub flags: u32,
    /// RTM_DELLINK: the interface is gone.
    pub deleted: bool,
    /// The interface name (IFLA_IFNAME), when the message carries it.
    pub name: Option<String>,
}

const NLMSG_HDR_LEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const IFLA_IFNAME: u16 = 3;

/// Finds IFLA_IFNAME among the route attributes that follow an ifinfomsg.
fn ifname_attribute(mut attrs: &[u8]) -> Option<String> {
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == IFLA_IFNAME {
            let value = &attrs[4..len];
            let value = value.split(|&b| b == 0).next().unwrap_or(value);
            return String::from_utf8(value.to_vec()).ok();
        }
        attrs = attrs.get((len + 3) & !3..).unwrap_or(&[]);
    }
    None
}

/// Reads the link events out of one netlink datagram. Malformed or foreign messages
/// are skipped; nothing here can panic.
pub fn parse_link_events(buf: &[u8]) -> Vec<LinkEvent> {
    let mut events = Vec::new();
    let mut rest = buf;
    while rest.len() >= NLMSG_HDR_LEN {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        if len < NLMSG_HDR_LEN || len > rest.len() {
            break;
        }
        let body = &rest[NLMSG_HDR_LEN..len];
        if (kind == RTM_NEWLINK || kind == RTM_DELLINK) && body.len() >= IFINFOMSG_LEN {
            events.push(LinkEvent {
                ifindex: i32::from_ne_bytes([body[4], body[5], body[6], body[7]]),
                flags: u32::from_ne_bytes([body[8], body[9], body[10], body[11]]),
                deleted: kind == RTM_DELLINK,
                name: ifname_attribute(&body[IFINFOMSG_LEN..]),
            });
        }
        // Messages are 4-byte aligned.
        let next = (len + 3) & !3;
        rest = rest.get(next..).unwrap_or(&[]);
    }
    events
}

/// A route-netlink socket subscribed to link changes: carrier and admin state arrive
/// as events, so nothing is polled on a timer.
#[derive(Debug)]
pub struct LinkMonitor {
    fd: OwnedFd,
}

impl LinkMonitor {
    /// Opens the socket and subscribes to RTMGRP_LINK.
    ///
    /// # Errors
    /// The errno of socket(2) or bind(2).
    pub fn open() -> io::Result<LinkMonitor> {
        let fd = socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
        // SAFETY: sockaddr_nl is plain data; all-zero is valid.
        let mut addr: libc::sockaddr_nl = unsafe { zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_groups = libc::RTMGRP_LINK as u32;
        // SAFETY: `addr` is a valid sockaddr_nl and the length is its size.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
        Ok(LinkMonitor { fd })
    }

    /// Receives one datagram without blocking; `Ok(None)` when none is queued. The
    /// length returned is the datagram's full length, which exceeds `buf.len()` when it
    /// was truncated (MSG_TRUNC).
    ///
    /// # Errors
    /// The errno of recv(2); `ENOBUFS` means events were lost and the state must be
    /// read again.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        recv_flags(self.fd.as_raw_fd(), buf, libc::MSG_TRUNC)
    }
}

impl AsFd for LinkMonitor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn nlmsg(kind: u16, ifindex: i32, flags: u32) -> Vec<u8> {
        nlmsg_named(kind, ifindex, flags, None)
    }

    fn nlmsg_named(kind: u16, ifindex: i32, flags: u32, name: Option<&str>) -> Vec<u8> {
        let mut attrs = Vec::new();
        // An unrelated attribute first (IFLA_MTU), then the name.
        attrs.extend_from_slice(&8u16.to_ne_bytes());
        attrs.extend_from_slice(&4u16.to_ne_bytes());
        attrs.extend_from_slice(&1500u32.to_ne_bytes());
        if let Some(name) = name {
            let len = 4 + name.len() + 1;
            attrs.extend_from_slice(&(len as u16).to_ne_bytes());
            attrs.extend_from_slice(&IFLA_IFNAME.to_ne_bytes());
            attrs.extend_from_slice(name.as_bytes());
            attrs.push(0);
            while attrs.len() % 4 != 0 {
                attrs.push(0);
            }
        }
        let total = 32 + attrs.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(total as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&[0, 0, 1, 0]);
        m.extend_from_slice(&ifindex.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&attrs);
        m
    }

    #[test]
    fn link_events() {
        let mut buf = nlmsg_named(RTM_NEWLINK, 3, 0x1043, Some("eth0"));
        buf.extend(nlmsg(RTM_DELLINK, 4, 0));
        buf.extend(nlmsg(20, 5, 0)); // RTM_NEWADDR: ignored
        let ev = |ifindex, flags, deleted, name: Option<&str>| LinkEvent {
            ifindex,
            flags,
            deleted,
            name: name.map(str::to_string),
        };
        assert_eq!(
            parse_link_events(&buf),
            vec![ev(3, 0x1043, false, Some("eth0")), ev(4, 0, true, None)]
        );
    }

    #[test]
    fn malformed_netlink_never_panics() {
        let good = nlmsg(RTM_NEWLINK, 3, 1);
        for len in 0..good.len() {
            let _ = parse_link_events(&good[..len]);
        }
        let mut bad = good.clone();
        bad[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse_link_events(&bad).is_empty());
        bad[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(parse_link_events(&bad).is_empty());
    }

    /// Runs the few classic-BPF instructions `advert_filter` uses, as the kernel would:
    /// returns the number of bytes kept (0 = dropped). Loads past the end drop.
    fn run_bpf(prog: &[libc::sock_filter], pkt: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let byte = |i: usize| pkt.get(i).copied().map(u32::from);
        loop {
            let ins = prog[pc];
            let k = ins.k as usize;
            pc += 1;
            match ins.code {
                bpf::LD_H_ABS => match (byte(k), byte(k + 1)) {
                    (Some(h), Some(l)) => a = h << 8 | l,
                    _ => return 0,
                },
                bpf::LD_W_ABS => match pkt.get(k..k + 4) {
                    Some(w) => a = u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
                    None => return 0,
                },
                bpf::LD_B_ABS => match byte(k) {
                    Some(b) => a = b,
                    None => return 0,
                },
                bpf::LD_B_IND => match byte(x as usize + k) {
                    Some(b) => a = b,
                    None => return 0,
                },
                bpf::LDX_B_MSH => match byte(k) {
                    Some(b) => x = 4 * (b & 0xf),
                    None => return 0,
                },
                bpf::JEQ_K => pc += usize::from(if a == ins.k { ins.jt } else { ins.jf }),
                bpf::RET_K => return ins.k,
                other => panic!("opcode {other:#x} not modelled"),
            }
        }
    }

    #[test]
    fn filter_keeps_only_peer_adverts_for_our_vhid() {
        // The golden frame of SPEC.md §2.3: vhid 7 from 10.9.0.1.
        let golden = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        let keep = |srcip, vhid, frame: &[u8]| run_bpf(&advert_filter(srcip, vhid), frame) > 0;
        let me = IpAddr::from([10, 9, 0, 2]);
        assert!(keep(me, 7, &golden));
        assert!(!keep(IpAddr::from([10, 9, 0, 1]), 7, &golden), "own source");
        assert!(!keep(me, 8, &golden), "other vhid");
        let mut udp = golden.clone();
        udp[23] = 17;
        assert!(!keep(me, 7, &udp));
        let mut arp = golden.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(!keep(me, 7, &arp));
        // With 4 bytes of IP options the vhid is read 4 bytes further on.
        let mut opts = golden[..34].to_vec();
        opts.extend_from_slice(&[1, 1, 1, 0]);
        opts.extend_from_slice(&golden[34..]);
        opts[14] = 0x46;
        assert!(keep(me, 7, &opts));
        assert!(!keep(me, 7, &golden[..20]), "runt");
        let garp = crate::testutil::hex(crate::testutil::GOLDEN_GARP_FRAME);
        assert!(!keep(me, 7, &garp));
    }

    #[test]
    fn preflight_filter_keeps_every_vhid_but_not_ours_or_other_protocols() {
        let golden = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        let keep = |srcip: [u8; 4], frame: &[u8]| run_bpf(&carp_filter(srcip.into()), frame) > 0;
        assert!(keep([10, 9, 0, 2], &golden));
        assert!(!keep([10, 9, 0, 1], &golden), "own source");
        let mut other_vhid = golden.clone();
        other_vhid[35] = 99;
        assert!(keep([10, 9, 0, 2], &other_vhid));
        let mut udp = golden.clone();
        udp[23] = 17;
        assert!(!keep([10, 9, 0, 2], &udp));
    }

    #[test]
    fn filter_jumps_stay_inside_the_program() {
        let v4 = IpAddr::from([192, 0, 2, 1]);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        for prog in [
            advert_filter(v4, 7),
            advert_filter(v6, 7),
            carp_filter(v4),
            carp_filter(v6),
        ] {
            for (i, ins) in prog.iter().enumerate() {
                if ins.code == bpf::JEQ_K {
                    assert!(i + 1 + usize::from(ins.jt) < prog.len());
                    assert!(i + 1 + usize::from(ins.jf) < prog.len());
                }
            }
            assert_eq!(prog.last().unwrap().code, bpf::RET_K);
            assert_eq!(prog[prog.len() - 2].k, 0, "the drop");
        }
    }

    /// An IPv6 advert frame for vhid 7 from 2001:db8::1.
    fn advert6(src: &str) -> Vec<u8> {
        let mut buf = vec![0u8; crate::frame::ADVERT6_FRAME_LEN];
        crate::frame::Advert6Frame {
            dst_mac: crate::frame::multicast_mac6(crate::packet::CARP_MCAST_V6),
            src_mac: crate::frame::advert_source_mac(7),
            src: src.parse().unwrap(),
            dst: crate::packet::CARP_MCAST_V6,
            advert: crate::testutil::golden_advert(),
        }
        .emit(&mut buf);
        buf
    }

    #[test]
    fn ipv6_filter_keeps_only_peer_adverts_for_our_vhid() {
        let me: IpAddr = "2001:db8::2".parse().unwrap();
        let keep = |srcip, vhid, frame: &[u8]| run_bpf(&advert_filter(srcip, vhid), frame) > 0;
        let frame = advert6("2001:db8::1");
        assert!(keep(me, 7, &frame));
        assert!(!keep(me, 8, &frame), "other vhid");
        assert!(
            !keep("2001:db8::1".parse().unwrap(), 7, &frame),
            "own source"
        );
        // Sources that share three of our four words are not ours.
        for other in [
            "2001:db8::2:2",
            "2001:db8:0:1::2",
            "2001:db9::2",
            "3001:db8::2",
        ] {
            assert!(keep(me, 7, &advert6(other)), "{other}");
            assert!(run_bpf(&carp_filter(me), &advert6(other)) > 0, "{other}");
        }
        assert!(run_bpf(&carp_filter(me), &advert6("2001:db8::2")) == 0);
        let mut hop_by_hop = frame.clone();
        hop_by_hop[20] = 0;
        assert!(!keep(me, 7, &hop_by_hop));
        assert!(run_bpf(&carp_filter(me), &hop_by_hop) == 0);
        // An IPv4 node's filter drops IPv6 frames and the reverse.
        let golden = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        assert!(!keep(me, 7, &golden));
        assert!(!keep(IpAddr::from([10, 9, 0, 2]), 7, &frame));
        assert!(run_bpf(&carp_filter(me), &golden) == 0);
    }
}
