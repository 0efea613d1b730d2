//! Route netlink: the link events of every interface (RTM_NEWLINK, RTM_DELLINK), read
//! without blocking from a socket the loop polls, and parsed here. A malformed or
//! truncated message is skipped, never a panic.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use super::{check, recv_flags, socket};

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
}
