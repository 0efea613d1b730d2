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

use std::net::Ipv6Addr;

use pnet_base::MacAddr;
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;
#[cfg(any(test, feature = "test-fixtures"))]
use pnet_packet::{ethernet::EthernetPacket, ipv6::Ipv6Packet};

use crate::wire::checksum;
use crate::wire::frame::{multicast_mac6, ETHERNET_HEADER_LEN, IPV6_HEADER_LEN};

/// The all-nodes link-local group, destination of unsolicited advertisements.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// ICMPv6 type of a neighbour advertisement.
const NEIGHBOR_ADVERT: u8 = 136;
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
        let (eth, rest) = buf[..Self::LEN].split_at_mut(ETHERNET_HEADER_LEN);
        let (ip, icmp) = rest.split_at_mut(IPV6_HEADER_LEN);
        // Invariant for both `expect`s: the slices were just cut to each view's size.
        let mut e = MutableEthernetPacket::new(eth).expect("14-byte Ethernet slice");
        e.set_destination(multicast_mac6(ALL_NODES));
        e.set_source(self.mac);
        e.set_ethertype(EtherTypes::Ipv6);
        let mut i = MutableIpv6Packet::new(ip).expect("40-byte IPv6 slice");
        i.set_version(6);
        i.set_traffic_class(0);
        i.set_flow_label(0);
        i.set_payload_length(ICMP_LEN as u16);
        i.set_next_header(IpNextHeaderProtocols::Icmpv6);
        // RFC 4861 §7.1.2: receivers drop neighbour discovery with any other hop limit.
        i.set_hop_limit(255);
        i.set_source(self.vaddr);
        i.set_destination(ALL_NODES);

        icmp[0] = NEIGHBOR_ADVERT;
        icmp[1] = 0;
        icmp[2..4].fill(0);
        icmp[4] = FLAG_OVERRIDE;
        icmp[5..8].fill(0);
        icmp[8..24].copy_from_slice(&self.vaddr.octets());
        icmp[24] = OPT_TARGET_LL_ADDR;
        icmp[25] = 1; // in units of 8 bytes
        icmp[26..32].copy_from_slice(&self.mac.octets());
        let sum = icmpv6_checksum(self.vaddr, ALL_NODES, icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        Self::LEN
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
}
