//! The unsolicited neighbour advertisement a new master sends for an IPv6 virtual
//! address: IPv6's counterpart of the gratuitous ARP in [`crate::wire::arp`] (RFC 4861 §7.2.6).
//!
//! Pure: never opens a socket, never reads the clock. Built with pnet's Ethernet and
//! IPv6 views; the ICMPv6 message is small and fixed, so its bytes are written here.
//!
//! The frame goes from the interface's MAC to the all-nodes group (`33:33:00:00:00:01`,
//! `ff02::1`), with the virtual address as IPv6 source and target, hop limit 255, the
//! Override flag set (caches must replace the old master's MAC) and the Solicited and
//! Router flags clear, and a target link-layer address option carrying the MAC.
//!
//! Also the neighbour solicitation that probes an IPv6 witness, and the advertisement
//! it answers with (docs/PROTOCOL.md §5.15).

use std::net::Ipv6Addr;

use pnet_base::MacAddr;
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;
use pnet_packet::{ethernet::EthernetPacket, ipv6::Ipv6Packet};

use crate::wire::checksum;
use crate::wire::frame::{multicast_mac6, ETHERNET_HEADER_LEN, IPV6_HEADER_LEN};

/// The all-nodes link-local group, destination of unsolicited advertisements.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// ICMPv6 type of a neighbour advertisement.
const NEIGHBOR_ADVERT: u8 = 136;
/// ICMPv6 type of a neighbour solicitation.
const NEIGHBOR_SOLICIT: u8 = 135;
/// NDP option type: source link-layer address.
const OPT_SOURCE_LL_ADDR: u8 = 1;
/// The Override flag, in the first byte of the flags word.
const FLAG_OVERRIDE: u8 = 0x20;
/// NDP option type: target link-layer address.
const OPT_TARGET_LL_ADDR: u8 = 2;
/// ICMPv6 header (4) + flags (4) + target (16) + one 8-byte option.
const ICMP_LEN: usize = 32;

/// An unsolicited neighbour advertisement announcing that `vaddr` is at `mac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsolicitedNa {
    /// The interface's own MAC address.
    pub mac: MacAddr,
    /// The virtual address being announced.
    pub vaddr: Ipv6Addr,
}

/// The ICMPv6 checksum: the pseudo-header of RFC 8200 §8.1 (source, destination,
/// upper-layer length, next header 58) and the message.
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let mut sum = checksum::accumulate(0, &src.octets());
    sum = checksum::accumulate(sum, &dst.octets());
    sum = checksum::accumulate(sum, &(message.len() as u32).to_be_bytes());
    sum = checksum::accumulate(sum, &[0, 0, 0, IpNextHeaderProtocols::Icmpv6.0]);
    checksum::finish(checksum::accumulate(sum, message))
}

impl UnsolicitedNa {
    /// Length of an emitted frame: 14 + 40 + 32 = 86 bytes.
    pub const LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + ICMP_LEN;

    /// Writes the [`Self::LEN`]-byte frame into the front of `buf`, returning the length.
    ///
    /// # Panics
    /// If `buf` is shorter than [`Self::LEN`]; callers size their own buffers.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let message = NdMessage {
            kind: NEIGHBOR_ADVERT,
            flags: FLAG_OVERRIDE,
            target: self.vaddr,
            option: OPT_TARGET_LL_ADDR,
        };
        emit_nd(buf, self.mac, self.vaddr, ALL_NODES, message)
    }

    /// Reads a frame that has exactly the shape [`emit`](Self::emit) writes, checksum
    /// included. Returns `None` for anything else.
    #[cfg(any(test, feature = "test-fixtures"))]
    pub fn parse(frame: &[u8]) -> Option<UnsolicitedNa> {
        let e = EthernetPacket::new(frame)?;
        let ip = Ipv6Packet::new(frame.get(ETHERNET_HEADER_LEN..)?)?;
        let icmp = frame.get(ETHERNET_HEADER_LEN + IPV6_HEADER_LEN..Self::LEN)?;
        let mac = e.get_source();
        let vaddr = ip.get_source();
        let shape_ok = e.get_destination() == multicast_mac6(ALL_NODES)
            && e.get_ethertype() == EtherTypes::Ipv6
            && ip.get_next_header() == IpNextHeaderProtocols::Icmpv6
            && ip.get_hop_limit() == 255
            && ip.get_destination() == ALL_NODES
            && usize::from(ip.get_payload_length()) == ICMP_LEN
            && icmp[0] == NEIGHBOR_ADVERT
            && icmp[4] == FLAG_OVERRIDE
            && icmp[8..24] == vaddr.octets()
            && icmp[24..26] == [OPT_TARGET_LL_ADDR, 1]
            && icmp[26..32] == mac.octets()
            && icmpv6_checksum(vaddr, ALL_NODES, icmp) == 0;
        shape_ok.then_some(UnsolicitedNa { mac, vaddr })
    }
}

/// The ICMPv6 part of a neighbour-discovery message as we send them: the type, the
/// first flags byte, the target, and one link-layer address option of this type
/// carrying our MAC.
struct NdMessage {
    kind: u8,
    flags: u8,
    target: Ipv6Addr,
    option: u8,
}

/// Writes a neighbour-discovery frame from (`mac`, `src`) to `dst` (and `dst`'s
/// multicast MAC), hop limit 255, into the front of `buf`; returns its length (86).
///
/// # Panics
/// If `buf` is shorter than 86 bytes; callers size their own buffers.
fn emit_nd(buf: &mut [u8], mac: MacAddr, src: Ipv6Addr, dst: Ipv6Addr, m: NdMessage) -> usize {
    let len = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + ICMP_LEN;
    let (eth, rest) = buf[..len].split_at_mut(ETHERNET_HEADER_LEN);
    let (ip, icmp) = rest.split_at_mut(IPV6_HEADER_LEN);
    // Invariant for both `expect`s: the slices were just cut to each view's size.
    let mut e = MutableEthernetPacket::new(eth).expect("14-byte Ethernet slice");
    e.set_destination(multicast_mac6(dst));
    e.set_source(mac);
    e.set_ethertype(EtherTypes::Ipv6);
    let mut i = MutableIpv6Packet::new(ip).expect("40-byte IPv6 slice");
    i.set_version(6);
    i.set_traffic_class(0);
    i.set_flow_label(0);
    i.set_payload_length(ICMP_LEN as u16);
    i.set_next_header(IpNextHeaderProtocols::Icmpv6);
    // RFC 4861 §7.1.1, §7.1.2: receivers drop neighbour discovery with any other hop
    // limit.
    i.set_hop_limit(255);
    i.set_source(src);
    i.set_destination(dst);
    icmp[0] = m.kind;
    icmp[1..8].fill(0);
    icmp[4] = m.flags;
    icmp[8..24].copy_from_slice(&m.target.octets());
    icmp[24] = m.option;
    icmp[25] = 1; // in units of 8 bytes
    icmp[26..32].copy_from_slice(&mac.octets());
    let sum = icmpv6_checksum(src, dst, icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    len
}

/// The solicited-node multicast group of `target` (RFC 4291 §2.7.1): `ff02::1:ff` and
/// its last 24 bits.
pub fn solicited_node(target: Ipv6Addr) -> Ipv6Addr {
    let o = target.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
    ])
}

/// A neighbour solicitation for `target` (a witness) from our own address, to the
/// target's solicited-node group: an ordinary address resolution (RFC 4861 §7.2.2),
/// which any IPv6 host answers with a solicited advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborSolicit {
    /// The interface's own MAC address, sent as the source link-layer option.
    pub mac: MacAddr,
    /// Our own address (`-s`).
    pub src: Ipv6Addr,
    /// The witness.
    pub target: Ipv6Addr,
}

impl NeighborSolicit {
    /// Length of an emitted frame: 14 + 40 + 32 = 86 bytes.
    pub const LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + ICMP_LEN;

    /// Writes the [`Self::LEN`]-byte frame into the front of `buf`, returning the length.
    ///
    /// # Panics
    /// If `buf` is shorter than [`Self::LEN`]; callers size their own buffers.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let message = NdMessage {
            kind: NEIGHBOR_SOLICIT,
            flags: 0,
            target: self.target,
            option: OPT_SOURCE_LL_ADDR,
        };
        emit_nd(
            buf,
            self.mac,
            self.src,
            solicited_node(self.target),
            message,
        )
    }

    /// Reads a frame that has exactly the shape [`emit`](Self::emit) writes, checksum
    /// included. Returns `None` for anything else.
    pub fn parse(frame: &[u8]) -> Option<NeighborSolicit> {
        let (e, ip, icmp) = icmpv6(frame)?;
        let target = Ipv6Addr::from(<[u8; 16]>::try_from(icmp.get(8..24)?).ok()?);
        let shape_ok = icmp.len() == ICMP_LEN
            && icmp[0] == NEIGHBOR_SOLICIT
            && ip.get_destination() == solicited_node(target)
            && e.get_destination() == multicast_mac6(solicited_node(target))
            && icmp[24..26] == [OPT_SOURCE_LL_ADDR, 1]
            && icmp[26..32] == e.get_source().octets();
        shape_ok.then_some(NeighborSolicit {
            mac: e.get_source(),
            src: ip.get_source(),
            target,
        })
    }
}

/// A neighbour advertisement: `target` is at the sender's link-layer address. A
/// witness's answer to a [`NeighborSolicit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborAdvert {
    /// Its IPv6 source.
    pub src: Ipv6Addr,
    /// The address it advertises: the witness.
    pub target: Ipv6Addr,
}

impl NeighborAdvert {
    /// Reads any well-formed neighbour advertisement (hop limit 255, a valid checksum,
    /// options or none); returns `None` for anything else.
    pub fn parse(frame: &[u8]) -> Option<NeighborAdvert> {
        let (_, ip, icmp) = icmpv6(frame)?;
        if icmp.len() < 24 || icmp[0] != NEIGHBOR_ADVERT || icmp[1] != 0 {
            return None;
        }
        let target = Ipv6Addr::from(<[u8; 16]>::try_from(&icmp[8..24]).ok()?);
        Some(NeighborAdvert {
            src: ip.get_source(),
            target,
        })
    }
}

/// The Ethernet and IPv6 views and the ICMPv6 message of a neighbour-discovery frame:
/// next header 58 right after the fixed header, hop limit 255, a payload within the
/// frame and a valid checksum.
fn icmpv6(frame: &[u8]) -> Option<(EthernetPacket<'_>, Ipv6Packet<'_>, &[u8])> {
    let e = EthernetPacket::new(frame)?;
    let ip = Ipv6Packet::new(frame.get(ETHERNET_HEADER_LEN..)?)?;
    let start = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN;
    let icmp = frame.get(start..start + usize::from(ip.get_payload_length()))?;
    let ok = e.get_ethertype() == EtherTypes::Ipv6
        && ip.get_version() == 6
        && ip.get_next_header() == IpNextHeaderProtocols::Icmpv6
        && ip.get_hop_limit() == 255
        && icmpv6_checksum(ip.get_source(), ip.get_destination(), icmp) == 0;
    ok.then_some((e, ip, icmp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_eq_hex, hex};
    use pnet_packet::icmpv6::Icmpv6Packet;

    fn na() -> UnsolicitedNa {
        UnsolicitedNa {
            mac: MacAddr(0x02, 0, 0, 0, 0, 0x01),
            vaddr: "2001:db8::100".parse().unwrap(),
        }
    }

    #[test]
    fn frame_into_a5_buffer() {
        let mut buf = [0xa5u8; 96];
        assert_eq!(na().emit(&mut buf), UnsolicitedNa::LEN);
        let want = hex("333300000001 020000000001 86dd
             60000000 0020 3a ff 20010db8000000000000000000000100 ff020000000000000000000000000001
             88 00 cs cs 20000000 20010db8000000000000000000000100 02 01 020000000001"
            .replace(
                "cs cs",
                &format!("{:04x}", u16::from_be_bytes([buf[56], buf[57]])),
            )
            .as_str());
        assert_eq_hex(&buf[..UnsolicitedNa::LEN], &want);
        assert!(buf[UnsolicitedNa::LEN..].iter().all(|&b| b == 0xa5));
        assert_eq!(UnsolicitedNa::parse(&buf), Some(na()));
    }

    /// The checksum agrees with pnet's independent ICMPv6 implementation.
    #[test]
    fn checksum_agrees_with_pnet() {
        let mut buf = [0u8; UnsolicitedNa::LEN];
        na().emit(&mut buf);
        let icmp = Icmpv6Packet::new(&buf[54..]).unwrap();
        let theirs = pnet_packet::icmpv6::checksum(&icmp, &na().vaddr, &ALL_NODES);
        assert_eq!(theirs, u16::from_be_bytes([buf[56], buf[57]]));
        assert_ne!(theirs, 0);
        let mut bad = buf;
        bad[40] ^= 1;
        assert_eq!(UnsolicitedNa::parse(&bad), None);
    }

    fn solicit() -> NeighborSolicit {
        NeighborSolicit {
            mac: MacAddr(0x02, 0, 0, 0, 0, 0x01),
            src: "2001:db8::11".parse().unwrap(),
            target: "2001:db8::1".parse().unwrap(),
        }
    }

    /// The solicitation's bytes, checked by hand against RFC 4861 §4.3; the checksum
    /// agrees with pnet's.
    #[test]
    fn solicit_layout() {
        let mut buf = [0xa5u8; 96];
        assert_eq!(solicit().emit(&mut buf), NeighborSolicit::LEN);
        let cs = u16::from_be_bytes([buf[56], buf[57]]);
        let want = hex(&format!(
            "3333ff000001 020000000001 86dd
             60000000 0020 3a ff 20010db8000000000000000000000011 ff0200000000000000000001ff000001
             87 00 {cs:04x} 00000000 20010db8000000000000000000000001 01 01 020000000001"
        ));
        assert_eq_hex(&buf[..NeighborSolicit::LEN], &want);
        let icmp = Icmpv6Packet::new(&buf[54..86]).unwrap();
        let dst = solicited_node(solicit().target);
        assert_eq!(
            pnet_packet::icmpv6::checksum(&icmp, &solicit().src, &dst),
            cs
        );
        assert_eq!(NeighborSolicit::parse(&buf[..86]), Some(solicit()));
        assert_eq!(NeighborAdvert::parse(&buf[..86]), None, "not an advert");
    }

    /// A solicited advertisement as a witness sends it, and the unsolicited one we send
    /// ourselves, both read as adverts; corrupted ones do not.
    #[test]
    fn advert_parses() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::11".parse().unwrap();
        let mut icmp =
            hex("88 00 0000 60000000 20010db8000000000000000000000001 02 01 0200000000aa");
        let sum = icmpv6_checksum(src, dst, &icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let mut frame = hex("020000000001 0200000000aa 86dd 60000000 0020 3a ff");
        frame.extend_from_slice(&src.octets());
        frame.extend_from_slice(&dst.octets());
        frame.extend_from_slice(&icmp);
        assert_eq!(
            NeighborAdvert::parse(&frame),
            Some(NeighborAdvert { src, target: src })
        );
        for len in 0..frame.len() {
            assert_eq!(NeighborAdvert::parse(&frame[..len]), None, "{len}");
        }
        let mut hop = frame.clone();
        hop[21] = 64;
        assert_eq!(NeighborAdvert::parse(&hop), None, "hop limit");
        let mut bad = frame.clone();
        bad[70] ^= 1;
        assert_eq!(NeighborAdvert::parse(&bad), None, "checksum");
        let mut ours = [0u8; UnsolicitedNa::LEN];
        na().emit(&mut ours);
        assert_eq!(
            NeighborAdvert::parse(&ours).map(|a| a.target),
            Some(na().vaddr)
        );
    }
}
