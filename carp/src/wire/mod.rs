//! The bytes on the wire, built and read with pnet's packet views: the CARP header
//! ([`packet`]), whole advert frames for IPv4 and IPv6 ([`frame`]), the Internet
//! checksum ([`checksum`]), gratuitous ARP ([`arp`]) and unsolicited neighbour
//! advertisements ([`ndp`]).
//!
//! Everything here is a pure function of its arguments: emit into a caller's buffer,
//! parse from a caller's slice. Judging a received frame (TTL, source, digest) is
//! [`crate::rx`]'s job, not this module's.

pub mod arp;
pub mod checksum;
pub mod frame;
pub mod ndp;
pub mod packet;
pub mod vrrp;
