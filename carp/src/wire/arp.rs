//! The gratuitous ARP frame a new master sends for the virtual address (docs/PROTOCOL.md §6),
//! built and read with pnet's Ethernet and ARP views.
//!
//! Pure: never opens a socket, never reads the clock. The frame is the 42 bytes ucarp
//! writes; the NIC pads it to the 60-byte Ethernet minimum on the wire.

use std::net::Ipv4Addr;

use pnet_base::MacAddr;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
#[cfg(any(test, feature = "test-fixtures"))]
use pnet_packet::{arp::ArpPacket, ethernet::EthernetPacket};

use crate::wire::frame::{BROADCAST_MAC, ETHERNET_HEADER_LEN};

/// Length of an ARP payload for IPv4 over Ethernet.
const ARP_LEN: usize = 28;

/// A gratuitous ARP announcing that `vaddr` is at `mac`.
///
/// As ucarp sends it: Ethernet broadcast from the real interface MAC, an ARP *request*
/// whose sender and target are both (`mac`, `vaddr`). The target MAC is the sender's
/// own, not zeros and not broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpFrame {
    /// The interface's own MAC address (read once at startup).
    pub mac: MacAddr,
    /// The virtual address being announced.
    pub vaddr: Ipv4Addr,
}

impl GarpFrame {
    /// Length of an emitted frame in bytes, before the NIC pads it.
    pub const LEN: usize = ETHERNET_HEADER_LEN + ARP_LEN;

    /// Writes the [`Self::LEN`]-byte frame into the front of `buf`, returning the length.
    ///
    /// # Panics
    /// If `buf` is shorter than [`Self::LEN`]; callers size their own buffers.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let (eth, arp) = buf[..Self::LEN].split_at_mut(ETHERNET_HEADER_LEN);
        // Invariant for both `expect`s: the slices were just cut to each view's
        // minimum size.
        let mut e = MutableEthernetPacket::new(eth).expect("14-byte Ethernet slice");
        e.set_destination(BROADCAST_MAC);
        e.set_source(self.mac);
        e.set_ethertype(EtherTypes::Arp);

        let mut a = MutableArpPacket::new(arp).expect("28-byte ARP slice");
        a.set_hardware_type(ArpHardwareTypes::Ethernet);
        a.set_protocol_type(EtherTypes::Ipv4);
        a.set_hw_addr_len(6);
        a.set_proto_addr_len(4);
        a.set_operation(ArpOperations::Request);
        a.set_sender_hw_addr(self.mac);
        a.set_sender_proto_addr(self.vaddr);
        a.set_target_hw_addr(self.mac);
        a.set_target_proto_addr(self.vaddr);
        Self::LEN
    }

    /// Reads a frame that has exactly the shape [`emit`](Self::emit) writes; trailing
    /// padding is allowed. Returns `None` for anything else.
    #[cfg(any(test, feature = "test-fixtures"))]
    pub fn parse(frame: &[u8]) -> Option<GarpFrame> {
        let e = EthernetPacket::new(frame)?;
        if e.get_destination() != BROADCAST_MAC || e.get_ethertype() != EtherTypes::Arp {
            return None;
        }
        let a = ArpPacket::new(&frame[ETHERNET_HEADER_LEN..])?;
        let mac = e.get_source();
        let vaddr = a.get_sender_proto_addr();
        let shape_ok = a.get_hardware_type() == ArpHardwareTypes::Ethernet
            && a.get_protocol_type() == EtherTypes::Ipv4
            && a.get_hw_addr_len() == 6
            && a.get_proto_addr_len() == 4
            && a.get_operation() == ArpOperations::Request
            && a.get_sender_hw_addr() == mac
            && a.get_target_hw_addr() == mac
            && a.get_target_proto_addr() == vaddr;
        shape_ok.then_some(GarpFrame { mac, vaddr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_eq_hex, hex, GOLDEN_GARP_FRAME};

    fn golden() -> GarpFrame {
        GarpFrame {
            mac: MacAddr(0xfa, 0xbd, 0x4f, 0x4d, 0xe3, 0x43),
            vaddr: Ipv4Addr::new(10, 9, 0, 100),
        }
    }

    #[test]
    fn construct_golden_into_a5_buffer() {
        let mut buf = [0xa5u8; 60];
        assert_eq!(golden().emit(&mut buf), 42);
        assert_eq_hex(&buf[..42], &hex(GOLDEN_GARP_FRAME));
        assert!(buf[42..].iter().all(|&b| b == 0xa5));
    }

    #[test]
    fn deconstruct_golden_with_and_without_padding() {
        let mut bytes = hex(GOLDEN_GARP_FRAME);
        assert_eq!(GarpFrame::parse(&bytes), Some(golden()));
        bytes.resize(60, 0);
        assert_eq!(GarpFrame::parse(&bytes), Some(golden()));
    }

    #[test]
    fn other_arp_is_not_a_garp() {
        let good = hex(GOLDEN_GARP_FRAME);
        for len in 0..42 {
            assert_eq!(GarpFrame::parse(&good[..len]), None);
        }
        let mut reply = good.clone();
        reply[21] = 2; // op = reply
        assert_eq!(GarpFrame::parse(&reply), None);
        let mut zero_target = good.clone();
        zero_target[32..38].fill(0);
        assert_eq!(GarpFrame::parse(&zero_target), None);
    }
}
