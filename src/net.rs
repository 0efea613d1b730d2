//! The sockets: an AF_PACKET socket bound to the interface that sends whole frames and
//! receives through a classic BPF filter attached in the kernel; a UDP control socket
//! for the multicast join and interface ioctls; a route-netlink socket for link events.
//!
//! This module holds the crate's socket `unsafe`, each block small and commented. It
//! decides nothing: the daemon calls it, the state machine never sees it.
//!
//! Why AF_PACKET (SPEC.md §4): ucarp writes whole Ethernet frames, so its adverts carry
//! the `00:00:5e:00:00:<vhid>` source MAC, `-M` can change the destination MAC alone,
//! the source address need not be configured, and netfilter rules do not filter them.
//! The BPF program keeps every frame that is not IPv4 protocol 112 for our vhid from
//! another source out of the process: foreign traffic never wakes the daemon.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
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

/// Builds the kernel filter: keep IPv4 protocol 112 frames whose source is not
/// `srcip` and whose CARP vhid byte is `vhid`; drop everything else before it is
/// queued. VRRP adverts for a VRID equal to our vhid pass (same byte), so ucarp's
/// `Bad version` warning for them still shows.
pub fn advert_filter(srcip: Ipv4Addr, vhid: u8) -> Vec<libc::sock_filter> {
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    // Instruction 9 drops; `jf`/`jt` offsets count from the next instruction.
    vec![
        ins(bpf::LD_H_ABS, 0, 0, 12),             // 0: ethertype
        ins(bpf::JEQ_K, 0, 7, 0x0800),            // 1: IPv4, else drop
        ins(bpf::LD_B_ABS, 0, 0, 23),             // 2: IP protocol
        ins(bpf::JEQ_K, 0, 5, 112),               // 3: CARP, else drop
        ins(bpf::LD_W_ABS, 0, 0, 26),             // 4: IP source
        ins(bpf::JEQ_K, 3, 0, u32::from(srcip)),  // 5: ours: drop
        ins(bpf::LDX_B_MSH, 0, 0, 14),            // 6: X = IP header length
        ins(bpf::LD_B_IND, 0, 0, 14 + 1),         // 7: CARP byte 1, the vhid
        ins(bpf::JEQ_K, 1, 0, u32::from(vhid)),   // 8: ours: keep
        ins(bpf::RET_K, 0, 0, 0),                 // 9: drop
        ins(bpf::RET_K, 0, 0, FRAME_SNAP as u32), // 10: keep the headers
    ]
}

/// Builds a kernel filter for `--preflight`: every IPv4 protocol-112 frame (CARP and
/// VRRP, any id) whose source is not `srcip`.
pub fn carp_filter(srcip: Ipv4Addr) -> Vec<libc::sock_filter> {
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    vec![
        ins(bpf::LD_H_ABS, 0, 0, 12),             // 0: ethertype
        ins(bpf::JEQ_K, 0, 4, 0x0800),            // 1: IPv4, else drop
        ins(bpf::LD_B_ABS, 0, 0, 23),             // 2: IP protocol
        ins(bpf::JEQ_K, 0, 2, 112),               // 3: CARP/VRRP, else drop
        ins(bpf::LD_W_ABS, 0, 0, 26),             // 4: IP source
        ins(bpf::JEQ_K, 0, 1, u32::from(srcip)),  // 5: ours: drop, else keep
        ins(bpf::RET_K, 0, 0, 0),                 // 6: drop
        ins(bpf::RET_K, 0, 0, FRAME_SNAP as u32), // 7: keep the headers
    ]
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
    /// Opens the socket, attaches `filter`, then binds to `ifindex` for IPv4 frames.
    ///
    /// The socket is created with protocol 0, which receives nothing, and bound only
    /// after the filter is in place, so no unfiltered frame is ever queued.
    ///
    /// # Errors
    /// Any failing syscall; `EPERM` without CAP_NET_RAW.
    pub fn open(ifindex: u32, filter: &[libc::sock_filter]) -> io::Result<PacketSocket> {
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
        let sll = link_address(ifindex, libc::ETH_P_IP as u16);
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
                    libc::MSG_DONTWAIT,
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

/// A raw IPv4 socket for unicast adverts (`--peer`): the kernel routes each packet and
/// resolves the peer's MAC, and the packet leaves from the interface's own MAC. The
/// daemon writes the whole IPv4 header itself (IP_HDRINCL), TTL 255 included. It never
/// reads from it (a filter drops everything), but its presence also keeps the kernel
/// from answering the peers' unicast adverts with ICMP "protocol unreachable".
#[derive(Debug)]
pub struct RawIpSocket {
    fd: OwnedFd,
}

impl RawIpSocket {
    /// Opens the socket, bound to `iface`.
    ///
    /// # Errors
    /// Any failing syscall; `EPERM` without CAP_NET_RAW.
    pub fn open(iface: &str) -> io::Result<RawIpSocket> {
        let fd = socket(
            libc::AF_INET,
            libc::SOCK_RAW,
            libc::c_int::from(crate::packet::CARP_PROTO),
        )?;
        setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_HDRINCL,
            &(1 as libc::c_int),
        )?;
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
        Ok(RawIpSocket { fd })
    }

    /// Sends one IPv4 packet (header included) to `dst`. EINTR is retried.
    ///
    /// # Errors
    /// The errno of sendto(2), or `EMSGSIZE` for a partial write.
    pub fn send_to(&self, packet: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        // SAFETY: sockaddr_in is plain data; all-zero is valid.
        let mut sin: libc::sockaddr_in = unsafe { zeroed() };
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from(dst).to_be();
        loop {
            // SAFETY: `packet` and `sin` are valid for the lengths passed.
            let ret = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    packet.as_ptr().cast(),
                    packet.len(),
                    0,
                    (&sin as *const libc::sockaddr_in).cast(),
                    size_of::<libc::sockaddr_in>() as libc::socklen_t,
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
        let me = Ipv4Addr::new(10, 9, 0, 2);
        assert!(keep(me, 7, &golden));
        assert!(!keep(Ipv4Addr::new(10, 9, 0, 1), 7, &golden), "own source");
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
        let keep = |srcip, frame: &[u8]| run_bpf(&carp_filter(srcip), frame) > 0;
        assert!(keep(Ipv4Addr::new(10, 9, 0, 2), &golden));
        assert!(!keep(Ipv4Addr::new(10, 9, 0, 1), &golden), "own source");
        let mut other_vhid = golden.clone();
        other_vhid[35] = 99;
        assert!(keep(Ipv4Addr::new(10, 9, 0, 2), &other_vhid));
        let mut udp = golden.clone();
        udp[23] = 17;
        assert!(!keep(Ipv4Addr::new(10, 9, 0, 2), &udp));
    }

    #[test]
    fn filter_jumps_stay_inside_the_program() {
        let prog = advert_filter(Ipv4Addr::new(192, 0, 2, 1), 7);
        for (i, ins) in prog.iter().enumerate() {
            if ins.code == bpf::JEQ_K {
                assert!(i + 1 + usize::from(ins.jt) < prog.len());
                assert!(i + 1 + usize::from(ins.jf) < prog.len());
            }
        }
        assert_eq!(prog.last().unwrap().code, bpf::RET_K);
        assert_eq!(prog[9].k, 0);
    }
}
