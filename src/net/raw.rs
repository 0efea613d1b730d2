//! The raw IP socket of `--peer`: unicast adverts with our own IP header, routed and
//! resolved by the kernel.

#![allow(unsafe_code)]

use std::io;
use std::mem::zeroed;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use super::*;

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
                let fd =
                    socket(libc::AF_INET, libc::SOCK_RAW, proto).map_err(needing("CAP_NET_RAW"))?;
                setsockopt(fd.as_raw_fd(), libc::IPPROTO_IP, libc::IP_HDRINCL, &1)?;
                fd
            }
            IpAddr::V6(_) => {
                let fd = socket(libc::AF_INET6, libc::SOCK_RAW, proto)
                    .map_err(needing("CAP_NET_RAW"))?;
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
        attach_filter(&fd, &drop_all)?;
        bind_to_device(&fd, iface)?;
        Ok(RawIpSocket { fd, ifindex })
    }

    /// Sends one IP packet (header included) to `dst`. EINTR is retried.
    ///
    /// # Errors
    /// The errno of sendto(2), or `EMSGSIZE` for a partial write.
    pub fn send_to(&self, packet: &[u8], dst: IpAddr) -> io::Result<()> {
        match dst {
            IpAddr::V4(dst) => {
                // SAFETY: a socket address is plain data; all-zero is valid.
                let mut sin: libc::sockaddr_in = unsafe { zeroed() };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_addr.s_addr = u32::from(dst).to_be();
                send_whole(&self.fd, packet, &sin)
            }
            IpAddr::V6(dst) => {
                // SAFETY: a socket address is plain data; all-zero is valid.
                let mut sin6: libc::sockaddr_in6 = unsafe { zeroed() };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_addr.s6_addr = dst.octets();
                sin6.sin6_scope_id = self.ifindex;
                send_whole(&self.fd, packet, &sin6)
            }
        }
    }
}
