//! The control sockets: ucarp's UDP socket for interface ioctls and the IPv4 group
//! join, and the held IPv6 group membership.

#![allow(unsafe_code)]

use std::io;
use std::mem::zeroed;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};

use pnet_base::MacAddr;

use super::*;

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
