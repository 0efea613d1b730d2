//! The gratuitous ARP frame a new master sends for the virtual address (docs/PROTOCOL.md §6),
//! and the ARP request that probes a witness with the reply it expects
//! (docs/PROTOCOL.md §5.15), built and read with pnet's Ethernet and ARP views.
//!
//! Pure: never opens a socket, never reads the clock. The frame is the 42 bytes ucarp
//! writes; the NIC pads it to the 60-byte Ethernet minimum on the wire.

use std::net::Ipv4Addr;

use pnet_base::MacAddr;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperation, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
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
        let me = (self.mac, self.vaddr);
        emit_arp(buf, self.mac, ArpOperations::Request, me, me)
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

/// An ARP request asking who has `target` (a witness), from our own address: an
/// ordinary address resolution, which any IPv4 host answers (docs/PROTOCOL.md §5.15).
///
/// Ethernet broadcast from the interface's MAC; sender (`mac`, `sender`), target
/// (zeros, `target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpProbe {
    /// The interface's own MAC address.
    pub mac: MacAddr,
    /// Our own address (`-s`).
    pub sender: Ipv4Addr,
    /// The witness.
    pub target: Ipv4Addr,
}

impl ArpProbe {
    /// Length of an emitted frame in bytes, before the NIC pads it.
    pub const LEN: usize = ETHERNET_HEADER_LEN + ARP_LEN;

    /// Writes the [`Self::LEN`]-byte frame into the front of `buf`, returning the length.
    ///
    /// # Panics
    /// If `buf` is shorter than [`Self::LEN`]; callers size their own buffers.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let sender = (self.mac, self.sender);
        let target = (MacAddr::zero(), self.target);
        emit_arp(buf, self.mac, ArpOperations::Request, sender, target)
    }

    /// Reads a frame that has exactly the shape [`emit`](Self::emit) writes; trailing
    /// padding is allowed. Returns `None` for anything else.
    pub fn parse(frame: &[u8]) -> Option<ArpProbe> {
        let (e, a) = ethernet_arp(frame)?;
        let shape_ok = e.get_destination() == BROADCAST_MAC
            && a.get_operation() == ArpOperations::Request
            && a.get_sender_hw_addr() == e.get_source()
            && a.get_target_hw_addr() == MacAddr::zero();
        shape_ok.then_some(ArpProbe {
            mac: e.get_source(),
            sender: a.get_sender_proto_addr(),
            target: a.get_target_proto_addr(),
        })
    }
}

/// An ARP reply: `sender` is at `mac`. A witness's answer to an [`ArpProbe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpReply {
    /// The answering host's MAC address, as it states it.
    pub mac: MacAddr,
    /// The answering host's address: the witness.
    pub sender: Ipv4Addr,
    /// Whom it answers.
    pub target: Ipv4Addr,
}

impl ArpReply {
    /// Reads an IPv4-over-Ethernet ARP reply (operation 2), to any destination MAC;
    /// trailing padding is allowed. Returns `None` for anything else.
    pub fn parse(frame: &[u8]) -> Option<ArpReply> {
        let (_, a) = ethernet_arp(frame)?;
        (a.get_operation() == ArpOperations::Reply).then_some(ArpReply {
            mac: a.get_sender_hw_addr(),
            sender: a.get_sender_proto_addr(),
            target: a.get_target_proto_addr(),
        })
    }
}

/// Writes an IPv4-over-Ethernet ARP frame, Ethernet broadcast from `mac`, with these
/// sender and target (MAC, address) pairs, into the front of `buf`; returns its length.
///
/// # Panics
/// If `buf` is shorter than [`GarpFrame::LEN`]; callers size their own buffers.
fn emit_arp(
    buf: &mut [u8],
    mac: MacAddr,
    operation: ArpOperation,
    (sender_mac, sender): (MacAddr, Ipv4Addr),
    (target_mac, target): (MacAddr, Ipv4Addr),
) -> usize {
    let len = ETHERNET_HEADER_LEN + ARP_LEN;
    let (eth, arp) = buf[..len].split_at_mut(ETHERNET_HEADER_LEN);
    // Invariant for both `expect`s: the slices were just cut to each view's size.
    let mut e = MutableEthernetPacket::new(eth).expect("14-byte Ethernet slice");
    e.set_destination(BROADCAST_MAC);
    e.set_source(mac);
    e.set_ethertype(EtherTypes::Arp);
    let mut a = MutableArpPacket::new(arp).expect("28-byte ARP slice");
    a.set_hardware_type(ArpHardwareTypes::Ethernet);
    a.set_protocol_type(EtherTypes::Ipv4);
    a.set_hw_addr_len(6);
    a.set_proto_addr_len(4);
    a.set_operation(operation);
    a.set_sender_hw_addr(sender_mac);
    a.set_sender_proto_addr(sender);
    a.set_target_hw_addr(target_mac);
    a.set_target_proto_addr(target);
    len
}

/// The Ethernet and ARP views of an IPv4-over-Ethernet ARP frame, or `None`.
fn ethernet_arp(frame: &[u8]) -> Option<(EthernetPacket<'_>, ArpPacket<'_>)> {
    let e = EthernetPacket::new(frame)?;
    let a = ArpPacket::new(frame.get(ETHERNET_HEADER_LEN..)?)?;
    let ok = e.get_ethertype() == EtherTypes::Arp
        && a.get_hardware_type() == ArpHardwareTypes::Ethernet
        && a.get_protocol_type() == EtherTypes::Ipv4
        && a.get_hw_addr_len() == 6
        && a.get_proto_addr_len() == 4;
    ok.then_some((e, a))
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

    fn probe() -> ArpProbe {
        ArpProbe {
            mac: MacAddr(0x02, 0, 0, 0, 0, 0x01),
            sender: Ipv4Addr::new(198, 18, 0, 11),
            target: Ipv4Addr::new(198, 18, 0, 1),
        }
    }

    /// The probe's bytes, checked by hand against RFC 826's layout.
    #[test]
    fn probe_layout() {
        let mut buf = [0xa5u8; 60];
        assert_eq!(probe().emit(&mut buf), ArpProbe::LEN);
        let want = hex("ffffffffffff 020000000001 0806
             0001 0800 06 04 0001 020000000001 c612000b 000000000000 c6120001");
        assert_eq_hex(&buf[..42], &want);
        assert!(buf[42..].iter().all(|&b| b == 0xa5));
        assert_eq!(ArpProbe::parse(&buf[..42]), Some(probe()));
        let mut padded = buf[..42].to_vec();
        padded.resize(60, 0);
        assert_eq!(ArpProbe::parse(&padded), Some(probe()));
        // A probe is not a reply, and a GARP is not a probe.
        assert_eq!(ArpReply::parse(&buf[..42]), None);
        assert_eq!(ArpProbe::parse(&hex(GOLDEN_GARP_FRAME)), None);
    }

    /// A reply as Linux sends it to our probe: unicast, operation 2, the witness as
    /// sender, us as target.
    #[test]
    fn reply_parses() {
        let reply = hex("020000000001 0200000000aa 0806
             0001 0800 06 04 0002 0200000000aa c6120001 020000000001 c612000b");
        assert_eq!(
            ArpReply::parse(&reply),
            Some(ArpReply {
                mac: MacAddr(0x02, 0, 0, 0, 0, 0xaa),
                sender: Ipv4Addr::new(198, 18, 0, 1),
                target: Ipv4Addr::new(198, 18, 0, 11),
            })
        );
        for len in 0..42 {
            assert_eq!(ArpReply::parse(&reply[..len]), None, "{len}");
        }
        let mut request = reply.clone();
        request[21] = 1;
        assert_eq!(ArpReply::parse(&request), None);
        let mut ipv6 = reply.clone();
        ipv6[16..18].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(ArpReply::parse(&ipv6), None);
        let mut not_arp = reply;
        not_arp[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(ArpReply::parse(&not_arp), None);
    }
}
