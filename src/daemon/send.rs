//! Sending: adverts (to the group, or to each `--peer`) and the gratuitous ARPs or
//! unsolicited neighbour advertisements that announce the addresses. Owns what only
//! sending needs: the raw IP socket of `--peer`, the MACs, the IP id generator and the
//! per-peer log budgets. Decides nothing: the state machine says what to send, when.

use std::net::IpAddr;
use std::time::Instant;

use pnet_base::MacAddr;

use crate::arp::GarpFrame;
use crate::frame::{advert_source_mac, emit_advert, ETHERNET_HEADER_LEN, MAX_ADVERT_FRAME_LEN};
use crate::ndp::UnsolicitedNa;
use crate::net::{PacketSocket, RawIpSocket};
use crate::ratelimit::{Budget, Suppressed, DEFAULT_PERIOD};
use crate::state::Advertisement;
use crate::vrrp::{emit_vrrp_frame, vrrp_source_mac, MAX_VRRP_FRAME_LEN};

/// Everything needed to put our frames on the wire.
#[derive(Debug)]
pub(super) struct Sender {
    /// With `--peer`: sends the unicast adverts.
    pub(super) unicast: Option<RawIpSocket>,
    /// The interface's own MAC: GARPs, and adverts with `--real-mac`.
    pub(super) mac: MacAddr,
    /// The group's MAC, or broadcast with `-M` or `--peer`.
    pub(super) dst_mac: MacAddr,
    pub(super) real_mac: bool,
    pub(super) vhid: u8,
    pub(super) srcip: IpAddr,
    pub(super) group: IpAddr,
    pub(super) peers: Vec<IpAddr>,
    pub(super) vaddrs: Vec<IpAddr>,
    /// With `--peer`: the log budget of failed sends, one per peer.
    pub(super) peer_send_limit: Vec<Budget>,
    pub(super) ip_id: u64,
}

impl Sender {
    fn next_ip_id(&mut self) -> u16 {
        // xorshift64: unpredictable enough for an IP id, as ucarp's arc4random is.
        self.ip_id ^= self.ip_id << 13;
        self.ip_id ^= self.ip_id >> 7;
        self.ip_id ^= self.ip_id << 17;
        (self.ip_id >> 16) as u16
    }

    /// Builds the frame of an advert to `dst` into `buf`; returns its length.
    fn advert_frame(&mut self, advert: &Advertisement, dst: IpAddr, buf: &mut [u8]) -> usize {
        let ip_id = self.next_ip_id();
        match advert {
            Advertisement::Carp(advert) => {
                let src_mac = if self.real_mac {
                    self.mac
                } else {
                    advert_source_mac(self.vhid)
                };
                emit_advert(buf, self.dst_mac, src_mac, self.srcip, dst, ip_id, *advert)
            }
            Advertisement::Vrrp(advert) => {
                // docs/PROTOCOL.md §14.1: the VRRP virtual MAC of the family.
                let src_mac = if self.real_mac {
                    self.mac
                } else {
                    vrrp_source_mac(self.vhid, self.srcip.is_ipv6())
                };
                emit_vrrp_frame(
                    buf,
                    self.dst_mac,
                    src_mac,
                    self.srcip,
                    dst,
                    ip_id,
                    *advert,
                    &self.vaddrs,
                )
            }
        }
    }

    /// Sends an advert: one frame to the group (or the broadcast MAC with `-M`), or
    /// with `--peer` one unicast packet to each peer. True when it left: the frame was
    /// sent, or with peers, at least one packet was (one unreachable peer says nothing
    /// about our own link, which is what the send-failure count watches).
    pub(super) fn advert(
        &mut self,
        packet: &PacketSocket,
        now: Instant,
        advert: &Advertisement,
    ) -> bool {
        const _: () = assert!(MAX_VRRP_FRAME_LEN >= MAX_ADVERT_FRAME_LEN);
        let mut buf = [0u8; MAX_VRRP_FRAME_LEN];
        log::debug!("-> {advert}");
        if self.unicast.is_none() {
            let len = self.advert_frame(advert, self.group, &mut buf);
            return match packet.send(&buf[..len]) {
                Ok(()) => true,
                Err(e) => {
                    log::warn!("write() has failed: {e}");
                    false
                }
            };
        }
        let mut sent_any = false;
        for i in 0..self.peers.len() {
            let peer = self.peers[i];
            let len = self.advert_frame(advert, peer, &mut buf);
            let bytes = buf.get(ETHERNET_HEADER_LEN..len).unwrap_or_default();
            let sent = match &self.unicast {
                Some(raw) => raw.send_to(bytes, peer),
                None => Ok(()),
            };
            match sent {
                Ok(()) => sent_any = true,
                Err(e) => {
                    // Logged at most once per period per peer: a peer that stays
                    // unreachable would otherwise log at every advert.
                    let budget = self.peer_send_limit.get_mut(i);
                    if let Some(n) = budget.and_then(|b| b.check(now, DEFAULT_PERIOD)) {
                        log::warn!("write() to {peer} has failed: {e}{}", Suppressed(n));
                    }
                }
            }
        }
        sent_any
    }

    /// Announces each virtual address at our MAC: a gratuitous ARP for IPv4, an
    /// unsolicited neighbour advertisement for IPv6.
    pub(super) fn announce(&self, packet: &PacketSocket) {
        const _: () = assert!(UnsolicitedNa::LEN >= GarpFrame::LEN);
        for &vaddr in &self.vaddrs {
            let mut buf = [0u8; UnsolicitedNa::LEN];
            let (len, what) = match vaddr {
                IpAddr::V4(vaddr) => (
                    GarpFrame {
                        mac: self.mac,
                        vaddr,
                    }
                    .emit(&mut buf),
                    "gratuitous ARP",
                ),
                IpAddr::V6(vaddr) => (
                    UnsolicitedNa {
                        mac: self.mac,
                        vaddr,
                    }
                    .emit(&mut buf),
                    "neighbour advertisement",
                ),
            };
            log::debug!("-> {what} for {vaddr} at {}", self.mac);
            if let Err(e) = packet.send(&buf[..len]) {
                log::warn!("write() of a {what} has failed: {e}");
            }
        }
    }
}
