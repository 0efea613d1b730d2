//! The whole Ethernet frame that carries an advert: ucarp's 70-byte IPv4 frame
//! (docs/PROTOCOL.md §2.1–2.3) and the 90-byte IPv6 frame of BSD carp (docs/PROTOCOL.md §2.4),
//! built and read with pnet's Ethernet, IPv4 and IPv6 views plus [`crate::wire::packet`] for
//! the CARP part.
//!
//! Pure: never opens a socket, never reads the clock. Everything that varies between two
//! frames (IP id, counter) is a parameter, so tests reproduce captured bytes exactly.
//! This module reads frames *structurally*; the receive checks and their order
//! (docs/PROTOCOL.md §4.3) live in [`crate::rx`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_base::MacAddr;
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::ipv4::MutableIpv4Packet;
use pnet_packet::ipv6::MutableIpv6Packet;
#[cfg(any(test, feature = "test-fixtures"))]
use pnet_packet::{ethernet::EthernetPacket, ipv4::Ipv4Packet, ipv6::Ipv6Packet};
#[cfg(any(test, feature = "test-fixtures"))]
use std::fmt;

use crate::wire::checksum;
use crate::wire::packet::{self, Advert, CarpPacket, CARP_PROTO, CARP_TTL};

/// Length of an Ethernet II header without a VLAN tag.
pub const ETHERNET_HEADER_LEN: usize = 14;
/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of a whole advert frame: 14 + 20 + 36 = 70 bytes, no padding.
pub const ADVERT_FRAME_LEN: usize = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + packet::HEADER_LEN;
/// Length of an IPv6 header, without extension headers.
pub const IPV6_HEADER_LEN: usize = 40;
/// Length of a whole IPv6 advert frame: 14 + 40 + 36 = 90 bytes.
pub const ADVERT6_FRAME_LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + packet::HEADER_LEN;
/// IPv4 TOS of adverts: IPTOS_LOWDELAY.
pub const ADVERT_TOS: u8 = 0x10;
/// IPv4 flags and fragment offset of adverts: don't fragment.
const FLAGS_DF: u8 = 0b010;

/// The Ethernet broadcast address, the advert destination with `-M` (docs/PROTOCOL.md §2.1).
pub const BROADCAST_MAC: MacAddr = MacAddr(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/// Returns the source MAC of ucarp's adverts, `00:00:5e:00:00:<vhid>` (docs/PROTOCOL.md §2.1).
///
/// Not the NIC's MAC, and not the VRRP virtual MAC `00:00:5e:00:01:<vhid>`.
pub fn advert_source_mac(vhid: u8) -> MacAddr {
    MacAddr(0x00, 0x00, 0x5e, 0x00, 0x00, vhid)
}

/// Returns the multicast MAC of an IPv4 group: `01:00:5e` and the low 23 bits.
pub fn multicast_mac(group: Ipv4Addr) -> MacAddr {
    let o = group.octets();
    MacAddr(0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3])
}

/// Returns the multicast MAC of an IPv6 group: `33:33` and its last four bytes
/// (RFC 2464 §7).
pub fn multicast_mac6(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    MacAddr(0x33, 0x33, o[12], o[13], o[14], o[15])
}

/// The longest advert frame of either family: room for [`emit_advert`].
pub const MAX_ADVERT_FRAME_LEN: usize = ADVERT6_FRAME_LEN;

/// Writes the frame of `advert` from `src` to `dst` into `buf`: ucarp's IPv4 frame
/// (with `ip_id`) or the IPv6 one, by the addresses' family. Returns its length, or 0
/// when the two addresses are not of one family (the configuration rules that out).
///
/// # Panics
/// If `buf` is shorter than the frame; [`MAX_ADVERT_FRAME_LEN`] always fits.
pub fn emit_advert(
    buf: &mut [u8],
    dst_mac: MacAddr,
    src_mac: MacAddr,
    src: IpAddr,
    dst: IpAddr,
    ip_id: u16,
    advert: Advert,
) -> usize {
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => AdvertFrame {
            dst_mac,
            src_mac,
            src,
            dst,
            ip_id,
            advert,
        }
        .emit(buf),
        (IpAddr::V6(src), IpAddr::V6(dst)) => Advert6Frame {
            dst_mac,
            src_mac,
            src,
            dst,
            advert,
        }
        .emit(buf),
        _ => 0,
    }
}

/// Returns the multicast MAC of a group of either family.
pub fn group_mac(group: IpAddr) -> MacAddr {
    match group {
        IpAddr::V4(g) => multicast_mac(g),
        IpAddr::V6(g) => multicast_mac6(g),
    }
}

/// Why bytes could not be read as an advert frame.
#[cfg(any(test, feature = "test-fixtures"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than the headers it claims to hold.
    Truncated,
    /// Not IPv4 protocol 112 (or, for [`Advert6Frame`], IPv6 next header 112) in an
    /// Ethernet II frame.
    NotCarp,
    /// The IPv4 header length field is below 5 words.
    BadHeaderLength(u8),
    /// The CARP part is not a version-2 header with a valid checksum.
    Carp(packet::ParseError),
}

#[cfg(any(test, feature = "test-fixtures"))]
impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated => write!(f, "truncated frame"),
            FrameError::NotCarp => write!(f, "not a CARP frame"),
            FrameError::BadHeaderLength(ihl) => write!(f, "bad IPv4 header length: [{ihl}]"),
            FrameError::Carp(e) => e.fmt(f),
        }
    }
}

#[cfg(any(test, feature = "test-fixtures"))]
impl std::error::Error for FrameError {}

/// An advert together with the Ethernet and IPv4 fields that frame it.
///
/// TOS, flags, TTL and protocol are not fields: emit always writes ucarp's values
/// (0x10, DF, 255, 112), so emit-then-parse is the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertFrame {
    /// Ethernet destination: the group's multicast MAC, or broadcast with `-M`.
    pub dst_mac: MacAddr,
    /// Ethernet source: [`advert_source_mac`] for a ucarp-compatible frame.
    pub src_mac: MacAddr,
    /// IPv4 source, ucarp's `--srcip`.
    pub src: Ipv4Addr,
    /// IPv4 destination, ucarp's `--mcastip` (also with `-M`, docs/PROTOCOL.md §12 item 3).
    pub dst: Ipv4Addr,
    /// IPv4 identification; ucarp draws a random one per packet.
    pub ip_id: u16,
    /// The CARP advertisement.
    pub advert: Advert,
}

impl AdvertFrame {
    /// Length of an emitted frame in bytes.
    pub const LEN: usize = ADVERT_FRAME_LEN;

    /// Writes all [`Self::LEN`] bytes of the frame into the front of `buf`, returning
    /// the length written.
    ///
    /// # Panics
    /// If `buf` is shorter than [`Self::LEN`]; callers size their own buffers.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let buf = &mut buf[..Self::LEN];
        let (eth, rest) = buf.split_at_mut(ETHERNET_HEADER_LEN);
        let (ip, carp) = rest.split_at_mut(IPV4_HEADER_LEN);

        // Invariant for the three `expect`s: the slices were just cut to the exact
        // header lengths, which are each view's minimum size.
        let mut e = MutableEthernetPacket::new(eth).expect("14-byte Ethernet slice");
        e.set_destination(self.dst_mac);
        e.set_source(self.src_mac);
        e.set_ethertype(EtherTypes::Ipv4);

        self.advert.emit(&mut CarpPacket::new_unchecked(&mut *carp));

        let mut i = MutableIpv4Packet::new(ip).expect("20-byte IPv4 slice");
        i.set_version(4);
        i.set_header_length(5);
        i.set_dscp(ADVERT_TOS >> 2);
        i.set_ecn(ADVERT_TOS & 0b11);
        i.set_total_length((IPV4_HEADER_LEN + packet::HEADER_LEN) as u16);
        i.set_identification(self.ip_id);
        i.set_flags(FLAGS_DF);
        i.set_fragment_offset(0);
        i.set_ttl(CARP_TTL);
        i.set_next_level_protocol(IpNextHeaderProtocol(CARP_PROTO));
        i.set_source(self.src);
        i.set_destination(self.dst);
        i.set_checksum(0);
        // docs/PROTOCOL.md §2.2: ucarp sums the whole 56 bytes, but the filled CARP checksum
        // makes the CARP half add one's-complement zero, so the plain header checksum
        // gives identical bytes.
        let sum = checksum::checksum(pnet_packet::Packet::packet(&i));
        i.set_checksum(sum);
        Self::LEN
    }

    /// Reads a frame structurally: Ethernet II carrying IPv4 protocol 112, IP options
    /// skipped, and a CARP header that [`Advert::parse`] accepts.
    ///
    /// TTL, addresses and the digest are *not* judged here; see [`crate::rx`].
    ///
    /// # Errors
    /// The first structural problem found, as a [`FrameError`].
    #[cfg(any(test, feature = "test-fixtures"))]
    pub fn parse(frame: &[u8]) -> Result<AdvertFrame, FrameError> {
        let eth = EthernetPacket::new(frame).ok_or(FrameError::Truncated)?;
        if eth.get_ethertype() != EtherTypes::Ipv4 {
            return Err(FrameError::NotCarp);
        }
        let l3 = &frame[ETHERNET_HEADER_LEN..];
        let ip = Ipv4Packet::new(l3).ok_or(FrameError::Truncated)?;
        if ip.get_version() != 4 || ip.get_next_level_protocol().0 != CARP_PROTO {
            return Err(FrameError::NotCarp);
        }
        let ihl = ip.get_header_length();
        if ihl < 5 {
            return Err(FrameError::BadHeaderLength(ihl));
        }
        let carp = l3
            .get(usize::from(ihl) * 4..)
            .ok_or(FrameError::Truncated)?;
        let carp = CarpPacket::new_checked(carp).map_err(FrameError::Carp)?;
        let advert = Advert::parse(&carp).map_err(FrameError::Carp)?;
        Ok(AdvertFrame {
            dst_mac: eth.get_destination(),
            src_mac: eth.get_source(),
            src: ip.get_source(),
            dst: ip.get_destination(),
            ip_id: ip.get_identification(),
            advert,
        })
    }
}

/// An IPv6 advert with the Ethernet and IPv6 fields that frame it: BSD carp's format
/// (docs/PROTOCOL.md §2.4), which ucarp never had. Version 6, traffic class and flow label 0,
/// payload length 36, next header 112 (no extension headers), hop limit 255; the CARP
/// checksum covers the CARP header alone, as IPv6 has no header checksum to fold in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert6Frame {
    /// Ethernet destination: the group's `33:33:…` MAC, or broadcast with `-M`.
    pub dst_mac: MacAddr,
    /// Ethernet source: [`advert_source_mac`], or the interface's with `--real-mac`.
    pub src_mac: MacAddr,
    /// IPv6 source, `--srcip`.
    pub src: Ipv6Addr,
    /// IPv6 destination: the group, `ff02::12` unless `--mcastip`.
    pub dst: Ipv6Addr,
    /// The CARP advertisement.
    pub advert: Advert,
}

impl Advert6Frame {
    /// Length of an emitted frame in bytes.
    pub const LEN: usize = ADVERT6_FRAME_LEN;

    /// Writes all [`Self::LEN`] bytes of the frame into the front of `buf`, returning
    /// the length written.
    ///
    /// # Panics
    /// If `buf` is shorter than [`Self::LEN`]; callers size their own buffers.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let buf = &mut buf[..Self::LEN];
        let (eth, rest) = buf.split_at_mut(ETHERNET_HEADER_LEN);
        let (ip, carp) = rest.split_at_mut(IPV6_HEADER_LEN);
        // Invariant for both `expect`s: the slices were just cut to the exact header
        // lengths, which are each view's minimum size.
        let mut e = MutableEthernetPacket::new(eth).expect("14-byte Ethernet slice");
        e.set_destination(self.dst_mac);
        e.set_source(self.src_mac);
        e.set_ethertype(EtherTypes::Ipv6);
        let mut i = MutableIpv6Packet::new(ip).expect("40-byte IPv6 slice");
        i.set_version(6);
        i.set_traffic_class(0);
        i.set_flow_label(0);
        i.set_payload_length(packet::HEADER_LEN as u16);
        i.set_next_header(IpNextHeaderProtocol(CARP_PROTO));
        i.set_hop_limit(CARP_TTL);
        i.set_source(self.src);
        i.set_destination(self.dst);
        self.advert.emit(&mut CarpPacket::new_unchecked(&mut *carp));
        Self::LEN
    }

    /// Reads a frame structurally: Ethernet II carrying IPv6 next header 112 directly,
    /// and a CARP header that [`Advert::parse`] accepts. Hop limit, addresses and the
    /// digest are judged by [`crate::rx`].
    ///
    /// # Errors
    /// The first structural problem found, as a [`FrameError`].
    #[cfg(any(test, feature = "test-fixtures"))]
    pub fn parse(frame: &[u8]) -> Result<Advert6Frame, FrameError> {
        let eth = EthernetPacket::new(frame).ok_or(FrameError::Truncated)?;
        if eth.get_ethertype() != EtherTypes::Ipv6 {
            return Err(FrameError::NotCarp);
        }
        let l3 = &frame[ETHERNET_HEADER_LEN..];
        let ip = Ipv6Packet::new(l3).ok_or(FrameError::Truncated)?;
        if ip.get_version() != 6 || ip.get_next_header().0 != CARP_PROTO {
            return Err(FrameError::NotCarp);
        }
        let carp = CarpPacket::new_checked(&l3[IPV6_HEADER_LEN..]).map_err(FrameError::Carp)?;
        let advert = Advert::parse(&carp).map_err(FrameError::Carp)?;
        Ok(Advert6Frame {
            dst_mac: eth.get_destination(),
            src_mac: eth.get_source(),
            src: ip.get_source(),
            dst: ip.get_destination(),
            advert,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_eq_hex, golden_advert, hex, GOLDEN_ADVERT_FRAME};

    fn golden() -> AdvertFrame {
        AdvertFrame {
            dst_mac: MacAddr(0x01, 0x00, 0x5e, 0x00, 0x00, 0x12),
            src_mac: MacAddr(0x00, 0x00, 0x5e, 0x00, 0x00, 0x07),
            src: Ipv4Addr::new(10, 9, 0, 1),
            dst: Ipv4Addr::new(224, 0, 0, 18),
            ip_id: 0x9413,
            advert: golden_advert(),
        }
    }

    #[test]
    fn deconstruct_golden_frame() {
        let bytes = hex(GOLDEN_ADVERT_FRAME);
        assert_eq!(bytes.len(), ADVERT_FRAME_LEN);
        assert_eq!(AdvertFrame::parse(&bytes), Ok(golden()));
    }

    #[test]
    fn construct_golden_frame_into_a5_buffer() {
        let mut buf = [0xa5u8; 80];
        assert_eq!(golden().emit(&mut buf), ADVERT_FRAME_LEN);
        assert_eq_hex(&buf[..ADVERT_FRAME_LEN], &hex(GOLDEN_ADVERT_FRAME));
        assert!(buf[ADVERT_FRAME_LEN..].iter().all(|&b| b == 0xa5));
    }

    #[test]
    fn macs() {
        assert_eq!(multicast_mac(packet::CARP_MCAST_V4), golden().dst_mac);
        assert_eq!(
            multicast_mac(Ipv4Addr::new(239, 200, 1, 2)),
            MacAddr(0x01, 0x00, 0x5e, 0x48, 0x01, 0x02)
        );
        assert_eq!(advert_source_mac(7), golden().src_mac);
    }

    #[test]
    fn ip_options_are_skipped() {
        let plain = hex(GOLDEN_ADVERT_FRAME);
        let mut with_opts = plain[..34].to_vec();
        with_opts.extend_from_slice(&[1, 1, 1, 0]); // NOP NOP NOP EOL
        with_opts.extend_from_slice(&plain[34..]);
        with_opts[14] = 0x46;
        assert_eq!(
            AdvertFrame::parse(&with_opts).map(|f| f.advert),
            Ok(golden().advert)
        );
    }

    #[test]
    fn structural_errors() {
        let good = hex(GOLDEN_ADVERT_FRAME);
        assert_eq!(AdvertFrame::parse(&good[..13]), Err(FrameError::Truncated));
        assert_eq!(AdvertFrame::parse(&good[..33]), Err(FrameError::Truncated));
        let mut arp = good.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(AdvertFrame::parse(&arp), Err(FrameError::NotCarp));
        let mut udp = good.clone();
        udp[23] = 17;
        assert_eq!(AdvertFrame::parse(&udp), Err(FrameError::NotCarp));
        let mut ihl = good.clone();
        ihl[14] = 0x44;
        assert_eq!(
            AdvertFrame::parse(&ihl),
            Err(FrameError::BadHeaderLength(4))
        );
        assert_eq!(
            AdvertFrame::parse(&good[..69]),
            Err(FrameError::Carp(packet::ParseError::Truncated))
        );
    }

    /// The golden advert carried over IPv6 from 2001:db8::1 to ff02::12: the CARP
    /// bytes, checksum included, are the IPv4 frame's (the checksum covers CARP only).
    const ADVERT6_FRAME: &str = "333300000012 00005e000007 86dd
        60000000 0024 70 ff 20010db8000000000000000000000001 ff020000000000000000000000000012
        21 07 00 07 00 01 1c14 3d0e479ccf9f13d4 004412d3cd302a583bd59d5bec8350092bdb0e85";

    fn golden6() -> Advert6Frame {
        Advert6Frame {
            dst_mac: multicast_mac6(packet::CARP_MCAST_V6),
            src_mac: advert_source_mac(7),
            src: "2001:db8::1".parse().unwrap(),
            dst: packet::CARP_MCAST_V6,
            advert: golden_advert(),
        }
    }

    #[test]
    fn ipv6_frame_into_a5_buffer_and_back() {
        let mut buf = [0xa5u8; 100];
        assert_eq!(golden6().emit(&mut buf), ADVERT6_FRAME_LEN);
        assert_eq_hex(&buf[..ADVERT6_FRAME_LEN], &hex(ADVERT6_FRAME));
        assert!(buf[ADVERT6_FRAME_LEN..].iter().all(|&b| b == 0xa5));
        assert_eq!(
            Advert6Frame::parse(&buf[..ADVERT6_FRAME_LEN]),
            Ok(golden6())
        );
        assert_eq!(
            multicast_mac6(packet::CARP_MCAST_V6),
            MacAddr(0x33, 0x33, 0, 0, 0, 0x12)
        );
    }

    #[test]
    fn ipv6_structural_errors() {
        let good = hex(ADVERT6_FRAME);
        assert_eq!(Advert6Frame::parse(&good[..53]), Err(FrameError::Truncated));
        let mut v4 = good.clone();
        v4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(Advert6Frame::parse(&v4), Err(FrameError::NotCarp));
        let mut ext = good.clone();
        ext[20] = 0; // a hop-by-hop header before CARP
        assert_eq!(Advert6Frame::parse(&ext), Err(FrameError::NotCarp));
        assert_eq!(
            Advert6Frame::parse(&good[..89]),
            Err(FrameError::Carp(packet::ParseError::Truncated))
        );
        assert_eq!(AdvertFrame::parse(&good), Err(FrameError::NotCarp));
    }

    #[test]
    fn emit_advert_picks_the_family() {
        let mut four = [0u8; MAX_ADVERT_FRAME_LEN];
        let g = golden();
        let len = emit_advert(
            &mut four,
            g.dst_mac,
            g.src_mac,
            g.src.into(),
            g.dst.into(),
            g.ip_id,
            g.advert,
        );
        assert_eq_hex(&four[..len], &hex(GOLDEN_ADVERT_FRAME));
        let mut six = [0u8; MAX_ADVERT_FRAME_LEN];
        let g6 = golden6();
        let len = emit_advert(
            &mut six,
            g6.dst_mac,
            g6.src_mac,
            g6.src.into(),
            g6.dst.into(),
            0,
            g6.advert,
        );
        assert_eq_hex(&six[..len], &hex(ADVERT6_FRAME));
        let mixed = emit_advert(
            &mut six,
            g.dst_mac,
            g.src_mac,
            g.src.into(),
            g6.dst.into(),
            0,
            g.advert,
        );
        assert_eq!(mixed, 0);
    }
}
