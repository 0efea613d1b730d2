//! The receive checks of docs/PROTOCOL.md §4.3, in ucarp's order, from raw frame bytes to a
//! [`VerifiedAdvert`] — the only thing the state machine accepts.
//!
//! Pure: never opens a socket, never reads the clock, never allocates, never panics on
//! any input. Every rejection is a distinct [`Reject`], countable by [`RejectReason`];
//! the daemon decides how loudly to log each one.
//!
//! Deviations from ucarp, all stricter on frames no real sender produces:
//! * the Ethernet type must be IPv4 and the IP version 4 (ucarp leaves the Ethernet type
//!   to its BPF filter and never looks at the IP version);
//! * an IP header length below 5 words is rejected (ucarp would read the CARP header
//!   from inside the IP header).
//!
//! Like ucarp, the Ethernet addresses are not checked: a `-M` node (broadcast MAC) and a
//! multicast node form one pair, and ucarp never looks at the source MAC.
//!
//! An IPv6 node (ucarp has none; BSD carp's format, docs/PROTOCOL.md §2.4) runs the same checks in
//! the same order on an IPv6 frame: the hop limit stands for the TTL, the CARP header
//! must follow the IPv6 header directly (no extension headers), and the checksum covers
//! the CARP header alone. A node takes frames of its own family only.
//!
//! A VRRPv3 node (`--vrrp`) has its own receiver, [`VrrpReceiver`], with the checks of
//! docs/PROTOCOL.md §14.3 in the same spirit and mostly the same [`Reject`]s (plus
//! [`Reject::BadType`]); only it builds a [`VerifiedVrrp`]. It reports which checksum
//! form verified, and flags (never drops) an address list that differs from ours.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_packet::ethernet::{EtherType, EtherTypes, EthernetPacket};
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::ipv6::Ipv6Packet;

use crate::auth::{DigestMismatch, Signer};
use crate::replay::{Replay, ReplayGuard};
use crate::wire::checksum;
use crate::wire::frame::{ETHERNET_HEADER_LEN, IPV4_HEADER_LEN, IPV6_HEADER_LEN};
use crate::wire::packet::{self, Advert, CarpPacket, CARP_PROTO, CARP_TTL, CARP_VERSION};
use crate::wire::vrrp::{
    self, ChecksumForm, VrrpAdvert, VrrpPacket, VRRP_PROTO, VRRP_TTL, VRRP_TYPE_ADVERTISEMENT,
    VRRP_VERSION,
};

/// Why a received frame was dropped, in the order the checks run (docs/PROTOCOL.md §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Step 1: no room for anything past the Ethernet and IP headers (≤ 34 bytes, or
    /// ≤ 54 for IPv6).
    TooShort {
        /// Captured length.
        len: usize,
    },
    /// Step 2: our own advert, recognised by its source address.
    OwnSource,
    /// Step 3: not IPv4 protocol 112 (for an IPv6 node: not IPv6 with next header 112).
    NotCarp,
    /// Step 4: shorter than its IP header plus 36 CARP bytes, or an IHL below 5 (IPv6:
    /// a payload length below 36).
    BogusSize {
        /// Captured length.
        len: usize,
    },
    /// Step 5: TTL (IPv6: hop limit) is not 255, so it may have crossed a router.
    BadTtl(u8),
    /// Step 6: CARP version is not 2 (VRRPv3 sends 3); in VRRP mode, not 3.
    BadVersion(u8),
    /// VRRP mode only, after the version: the type is not 1, an advertisement
    /// (docs/PROTOCOL.md §14.3).
    BadType(u8),
    /// Step 7: another virtual host id.
    OtherVhid(u8),
    /// Step 8: sent to another destination than our group (unicast, other group), or
    /// with `--peer`, than our own address.
    OtherDestination(IpAddr),
    /// After step 8, with `--peer`: the source is not a configured peer.
    NotAPeer(IpAddr),
    /// Step 9: the one's-complement sum over IP header and CARP header fails (IPv6:
    /// over the CARP header).
    BadChecksum,
    /// Step 10: the HMAC does not match: other password, vhid or virtual address.
    BadDigest(DigestMismatch),
    /// After step 10, with `--replay-window`: an authenticated advert seen before, or
    /// behind its source's count (see [`crate::replay`]).
    Replay {
        /// The source.
        src: IpAddr,
        /// Its counter.
        counter: u64,
    },
}

/// The kind of a [`Reject`], without its details: an index for counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// See [`Reject::TooShort`].
    TooShort,
    /// See [`Reject::OwnSource`].
    OwnSource,
    /// See [`Reject::NotCarp`].
    NotCarp,
    /// See [`Reject::BogusSize`].
    BogusSize,
    /// See [`Reject::BadTtl`].
    BadTtl,
    /// See [`Reject::BadVersion`].
    BadVersion,
    /// See [`Reject::BadType`].
    BadType,
    /// See [`Reject::OtherVhid`].
    OtherVhid,
    /// See [`Reject::OtherDestination`].
    OtherDestination,
    /// See [`Reject::NotAPeer`].
    NotAPeer,
    /// See [`Reject::BadChecksum`].
    BadChecksum,
    /// See [`Reject::BadDigest`].
    BadDigest,
    /// See [`Reject::Replay`].
    Replay,
}

impl RejectReason {
    /// Every reason, in check order.
    pub const ALL: [RejectReason; 13] = [
        RejectReason::TooShort,
        RejectReason::OwnSource,
        RejectReason::NotCarp,
        RejectReason::BogusSize,
        RejectReason::BadTtl,
        RejectReason::BadVersion,
        RejectReason::BadType,
        RejectReason::OtherVhid,
        RejectReason::OtherDestination,
        RejectReason::NotAPeer,
        RejectReason::BadChecksum,
        RejectReason::BadDigest,
        RejectReason::Replay,
    ];

    /// Returns a stable snake_case name, for counters and status output.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::TooShort => "too_short",
            RejectReason::OwnSource => "own_source",
            RejectReason::NotCarp => "not_carp",
            RejectReason::BogusSize => "bogus_size",
            RejectReason::BadTtl => "bad_ttl",
            RejectReason::BadVersion => "bad_version",
            RejectReason::BadType => "bad_type",
            RejectReason::OtherVhid => "other_vhid",
            RejectReason::OtherDestination => "other_destination",
            RejectReason::NotAPeer => "not_a_peer",
            RejectReason::BadChecksum => "bad_checksum",
            RejectReason::BadDigest => "bad_digest",
            RejectReason::Replay => "replay",
        }
    }

    /// Returns true for the reasons ucarp logs at WARNING (steps 5, 6, 9, 10), and a bad
    /// VRRP type; the others are silent or DEBUG in ucarp and are normal on a shared LAN.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            RejectReason::BadTtl
                | RejectReason::BadVersion
                | RejectReason::BadType
                | RejectReason::BadChecksum
                | RejectReason::BadDigest
                | RejectReason::Replay
                | RejectReason::NotAPeer
        )
    }
}

impl Reject {
    /// Returns the kind of this rejection.
    pub fn reason(&self) -> RejectReason {
        match self {
            Reject::TooShort { .. } => RejectReason::TooShort,
            Reject::OwnSource => RejectReason::OwnSource,
            Reject::NotCarp => RejectReason::NotCarp,
            Reject::BogusSize { .. } => RejectReason::BogusSize,
            Reject::BadTtl(_) => RejectReason::BadTtl,
            Reject::BadVersion(_) => RejectReason::BadVersion,
            Reject::BadType(_) => RejectReason::BadType,
            Reject::OtherVhid(_) => RejectReason::OtherVhid,
            Reject::OtherDestination(_) => RejectReason::OtherDestination,
            Reject::NotAPeer(_) => RejectReason::NotAPeer,
            Reject::BadChecksum => RejectReason::BadChecksum,
            Reject::BadDigest(_) => RejectReason::BadDigest,
            Reject::Replay { .. } => RejectReason::Replay,
        }
    }
}

/// ucarp's wording (docs/PROTOCOL.md §4.3), so existing log watchers keep matching.
impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::TooShort { len } => write!(f, "Short packet: [{len}] bytes"),
            Reject::OwnSource => write!(f, "Ignoring our own advertisement"),
            Reject::NotCarp => write!(f, "Not a CARP packet"),
            Reject::BogusSize { len } => write!(f, "Bogus size: [{len}]"),
            Reject::BadTtl(ttl) => write!(f, "Bad TTL: [{ttl}]"),
            Reject::BadVersion(v) => write!(f, "Bad version: [{v}]"),
            Reject::BadType(t) => write!(f, "Bad VRRP type: [{t}]"),
            Reject::OtherVhid(vhid) => write!(f, "Ignoring vhid: [{vhid}]"),
            Reject::OtherDestination(ip) => {
                write!(f, "Ignoring different multicast ip: [{ip}]")
            }
            Reject::NotAPeer(ip) => write!(f, "Ignoring advert from [{ip}]: not a configured peer"),
            Reject::BadChecksum => write!(f, "Bad IP checksum"),
            Reject::BadDigest(m) => write!(
                f,
                "Bad digest - md2=[{}] md=[{}] - Check vhid, password and virtual IP address",
                Hex4(m.expected),
                Hex4(m.received)
            ),
            Reject::Replay { src, counter } => {
                write!(f, "Replayed advert from [{src}] (counter {counter:#018x})")
            }
        }
    }
}

struct Hex4([u8; 4]);

impl fmt::Display for Hex4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Per-reason rejection counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectCounters {
    counts: [u64; RejectReason::ALL.len()],
}

impl RejectCounters {
    /// Counts one rejection.
    pub fn add(&mut self, reason: RejectReason) {
        let slot = &mut self.counts[reason as usize];
        *slot = slot.saturating_add(1);
    }

    /// Counts `n` rejections of one reason (counted elsewhere, by the kernel).
    pub fn add_many(&mut self, reason: RejectReason, n: u64) {
        let slot = &mut self.counts[reason as usize];
        *slot = slot.saturating_add(n);
    }

    /// Returns the count for one reason.
    pub fn get(&self, reason: RejectReason) -> u64 {
        self.counts[reason as usize]
    }

    /// Returns the sum over all reasons.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0, |a, &b| a.saturating_add(b))
    }

    /// Iterates over (reason, count) in check order.
    pub fn iter(&self) -> impl Iterator<Item = (RejectReason, u64)> + '_ {
        RejectReason::ALL.iter().map(|&r| (r, self.get(r)))
    }
}

/// An advert that passed every check, digest included. Only [`Receiver::accept`]
/// makes one, so the state machine never sees unauthenticated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedAdvert {
    src: IpAddr,
    advert: Advert,
}

impl VerifiedAdvert {
    /// Returns the source address of the sender.
    pub fn src(&self) -> IpAddr {
        self.src
    }

    /// Returns the advert.
    pub fn advert(&self) -> &Advert {
        &self.advert
    }
}

/// A VRRPv3 advert that passed every receive check (docs/PROTOCOL.md §14.3). Only
/// [`VrrpReceiver::accept`] makes one outside tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedVrrp {
    src: IpAddr,
    advert: VrrpAdvert,
    checksum: ChecksumForm,
    addresses_match: bool,
}

impl VerifiedVrrp {
    /// Returns the source address of the sender.
    pub fn src(&self) -> IpAddr {
        self.src
    }

    /// Returns the advert.
    pub fn advert(&self) -> &VrrpAdvert {
        &self.advert
    }

    /// Returns which checksum form verified.
    pub fn checksum(&self) -> ChecksumForm {
        self.checksum
    }

    /// Returns false when the advert's address list differs from ours (count or
    /// members, order ignored): accepted, but worth a warning.
    pub fn addresses_match(&self) -> bool {
        self.addresses_match
    }

    /// Makes one without a frame, for tests of the state machine.
    #[cfg(any(test, feature = "test-fixtures"))]
    pub fn for_tests(src: IpAddr, advert: VrrpAdvert) -> VerifiedVrrp {
        VerifiedVrrp {
            src,
            advert,
            checksum: ChecksumForm::PseudoHeader,
            addresses_match: true,
        }
    }
}

/// Passes an accepted advert through the replay guard, when there is one
/// (`--replay-window`). `Ok(None)` is a leaver's repeated bow-out: it resends the first
/// with the same counter, a retransmission of what was already heard, dropped without
/// being reported as a replay.
///
/// # Errors
/// [`Reject::Replay`] for a counter the guard refuses.
pub fn admit(
    guard: Option<&mut ReplayGuard>,
    adv: VerifiedAdvert,
) -> Result<Option<VerifiedAdvert>, Reject> {
    let Some(guard) = guard else {
        return Ok(Some(adv));
    };
    match guard.check(adv.src(), adv.advert().counter) {
        Ok(()) => Ok(Some(adv)),
        Err(Replay::Repeated) if adv.advert().is_bow_out() => Ok(None),
        Err(_) => Err(Reject::Replay {
            src: adv.src(),
            counter: adv.advert().counter,
        }),
    }
}

/// Where a frame's CARP (or VRRP) header starts, and who sent it, read with the same
/// packet views as [`Receiver::accept`] but judging nothing: for `--preflight`, which
/// reports every CARP and VRRP speaker, including the frames the receive checks would
/// refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located<'a> {
    /// The IP source address.
    pub src: IpAddr,
    /// Everything after the IP header (IPv4 options included), where the CARP or VRRP
    /// header starts; empty when the IP header claims more than the frame holds.
    pub header: &'a [u8],
}

/// Locates the CARP or VRRP header of a frame of either family (IPv6 when the Ethernet
/// type says so, IPv4 otherwise). `None` when the frame is too short to hold its source.
pub fn locate(frame: &[u8]) -> Option<Located<'_>> {
    let eth = EthernetPacket::new(frame)?;
    let l3 = frame.get(ETHERNET_HEADER_LEN..)?;
    if eth.get_ethertype() == EtherTypes::Ipv6 {
        let ip = Ipv6Packet::new(l3)?;
        let header = l3.get(IPV6_HEADER_LEN..).unwrap_or_default();
        return Some(Located {
            src: ip.get_source().into(),
            header,
        });
    }
    let ip = Ipv4Packet::new(l3)?;
    let ihl = usize::from(ip.get_header_length()) * 4;
    Some(Located {
        src: ip.get_source().into(),
        header: l3.get(ihl..).unwrap_or_default(),
    })
}

/// What a node accepts: its own identity plus the shared secret.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// Our own source address; frames from it are ours. Its family is the only one
    /// accepted.
    pub srcip: IpAddr,
    /// Our virtual host id.
    pub vhid: u8,
    /// The destination adverts must carry: the group (`--mcastip`), or with `--peer`
    /// our own address.
    pub group: IpAddr,
    /// With `--peer`, the only sources accepted; empty for any source.
    pub peers: Vec<IpAddr>,
    /// The key bound to the vhid and the virtual addresses the digest covers.
    pub signer: Signer,
}

impl Receiver {
    /// Runs every check of docs/PROTOCOL.md §4.3 on a whole Ethernet frame, in ucarp's order.
    ///
    /// # Errors
    /// The first check that fails, as a [`Reject`].
    pub fn accept(&self, frame: &[u8]) -> Result<VerifiedAdvert, Reject> {
        match self.srcip {
            IpAddr::V4(me) => self.accept_v4(me, frame),
            IpAddr::V6(me) => self.accept_v6(me, frame),
        }
    }

    fn accept_v4(&self, me: Ipv4Addr, frame: &[u8]) -> Result<VerifiedAdvert, Reject> {
        // 1. Room for something after the Ethernet and IPv4 headers.
        let len = frame.len();
        if len <= ETHERNET_HEADER_LEN + IPV4_HEADER_LEN {
            return Err(Reject::TooShort { len });
        }
        let l3 = &frame[ETHERNET_HEADER_LEN..];
        let (Some(eth), Some(ip)) = (EthernetPacket::new(frame), Ipv4Packet::new(l3)) else {
            return Err(Reject::TooShort { len });
        };
        // 2. Our own frame (the kernel also hands us what we send).
        let src = ip.get_source();
        if src == me {
            return Err(Reject::OwnSource);
        }
        // 3. IPv4 protocol 112.
        if eth.get_ethertype() != EtherTypes::Ipv4
            || ip.get_version() != 4
            || ip.get_next_level_protocol().0 != CARP_PROTO
        {
            return Err(Reject::NotCarp);
        }
        // 4. IP header (options allowed) plus a whole CARP header.
        let ip_len = usize::from(ip.get_header_length()) * 4;
        if ip_len < IPV4_HEADER_LEN || l3.len() < ip_len + packet::HEADER_LEN {
            return Err(Reject::BogusSize { len });
        }
        let (ip_header, rest) = l3.split_at(ip_len);
        // 5. TTL 255: the sender is on this link.
        if ip.get_ttl() != CARP_TTL {
            return Err(Reject::BadTtl(ip.get_ttl()));
        }
        // 6–10. ucarp sums IP header and CARP header together: either checksum being
        //    wrong fails, and both are reported as a bad IP checksum.
        self.accept_carp(
            src.into(),
            ip.get_destination().into(),
            checksum::accumulate(0, ip_header),
            &rest[..packet::HEADER_LEN],
        )
    }

    fn accept_v6(&self, me: Ipv6Addr, frame: &[u8]) -> Result<VerifiedAdvert, Reject> {
        // 1. Room for something after the Ethernet and IPv6 headers.
        let len = frame.len();
        if len <= ETHERNET_HEADER_LEN + IPV6_HEADER_LEN {
            return Err(Reject::TooShort { len });
        }
        let l3 = &frame[ETHERNET_HEADER_LEN..];
        let (Some(eth), Some(ip)) = (EthernetPacket::new(frame), Ipv6Packet::new(l3)) else {
            return Err(Reject::TooShort { len });
        };
        // 2. Our own frame.
        let src = ip.get_source();
        if src == me {
            return Err(Reject::OwnSource);
        }
        // 3. IPv6, CARP right after the fixed header.
        if eth.get_ethertype() != EtherTypes::Ipv6
            || ip.get_version() != 6
            || ip.get_next_header().0 != CARP_PROTO
        {
            return Err(Reject::NotCarp);
        }
        // 4. A whole CARP header, captured and announced.
        if l3.len() < IPV6_HEADER_LEN + packet::HEADER_LEN
            || usize::from(ip.get_payload_length()) < packet::HEADER_LEN
        {
            return Err(Reject::BogusSize { len });
        }
        // 5. Hop limit 255: the sender is on this link.
        if ip.get_hop_limit() != CARP_TTL {
            return Err(Reject::BadTtl(ip.get_hop_limit()));
        }
        // 6–10. No IPv6 header checksum: the sum covers the CARP header alone.
        let carp = &l3[IPV6_HEADER_LEN..IPV6_HEADER_LEN + packet::HEADER_LEN];
        self.accept_carp(src.into(), ip.get_destination().into(), 0, carp)
    }

    /// Steps 6 to 10, the same for both families. `sum` is the one's-complement sum of
    /// what the checksum covers besides the CARP header.
    fn accept_carp(
        &self,
        src: IpAddr,
        dst: IpAddr,
        sum: u32,
        carp_bytes: &[u8],
    ) -> Result<VerifiedAdvert, Reject> {
        let carp = CarpPacket::new_unchecked(carp_bytes);
        // 6. CARP version.
        if carp.version() != CARP_VERSION {
            return Err(Reject::BadVersion(carp.version()));
        }
        // 7. Our vhid.
        if carp.vhid() != self.vhid {
            return Err(Reject::OtherVhid(carp.vhid()));
        }
        // 8. Addressed to our group.
        if dst != self.group {
            return Err(Reject::OtherDestination(dst));
        }
        if !self.peers.is_empty() && !self.peers.contains(&src) {
            return Err(Reject::NotAPeer(src));
        }
        // 9. The checksum.
        if checksum::finish(checksum::accumulate(sum, carp_bytes)) != 0 {
            return Err(Reject::BadChecksum);
        }
        // 10. The digest, last because it is the only costly check.
        self.signer
            .verify(&carp.signed_fields(), &carp.counter_bytes(), &carp.md())
            .map_err(Reject::BadDigest)?;
        Ok(VerifiedAdvert {
            src,
            advert: Advert::from_packet(&carp),
        })
    }
}

/// What a VRRPv3 node (`--vrrp`) accepts: its identity and its configured addresses
/// (docs/PROTOCOL.md §14.3). Every field is plain data; [`accept`](Self::accept) neither
/// allocates nor panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpReceiver {
    /// Our own source address; frames from it are ours. Its family is the only one
    /// accepted.
    pub srcip: IpAddr,
    /// Our virtual router id.
    pub vrid: u8,
    /// The destination adverts must carry: 224.0.0.18 or ff02::12 (with peers, our
    /// own address is accepted as well).
    pub group: IpAddr,
    /// With unicast peers, the only sources accepted; empty for multicast, any source.
    pub peers: Vec<IpAddr>,
    /// Our virtual addresses, which a received advert's list is compared with (only
    /// those of our family count).
    pub addresses: Vec<IpAddr>,
}

impl VrrpReceiver {
    /// Runs the receive checks of docs/PROTOCOL.md §14.3 on a whole Ethernet frame, in
    /// this order: [`Reject::TooShort`] (no room past the Ethernet and IP headers),
    /// [`Reject::OwnSource`], [`Reject::NotCarp`] (not our family's IP with protocol
    /// 112), [`Reject::BogusSize`] (an IPv4 header below 20 bytes, an IP length beyond
    /// the frame or too short for the VRRP header, a message that is not exactly
    /// 8 + count × address length, a count of 0 or an interval of 0, RFC 9568),
    /// [`Reject::BadTtl`] (TTL or hop limit not 255; multicast only, since keepalived's
    /// IPv6 unicast uses the kernel's default hop limit), [`Reject::BadVersion`] (not 3),
    /// [`Reject::BadType`] (not 1), [`Reject::OtherVhid`], [`Reject::OtherDestination`]
    /// (neither the group nor, with peers, our address), [`Reject::NotAPeer`] (with
    /// peers), [`Reject::BadChecksum`].
    ///
    /// The checksum is tried with the pseudo-header and the actual destination, then
    /// (IPv4) over the message alone, then (with peers) with the pseudo-header and the
    /// group as destination; the first form that verifies is reported. The length is
    /// the IP header's, so Ethernet padding after the message is ignored; IPv4 options
    /// are skipped; IPv6 extension headers are not (next header must be 112). An
    /// address list that differs from ours is accepted and flagged
    /// ([`VerifiedVrrp::addresses_match`]).
    ///
    /// # Errors
    /// The first check that fails, as a [`Reject`].
    pub fn accept(&self, frame: &[u8]) -> Result<VerifiedVrrp, Reject> {
        let len = frame.len();
        let ipv6 = self.srcip.is_ipv6();
        let ip_min = if ipv6 {
            IPV6_HEADER_LEN
        } else {
            IPV4_HEADER_LEN
        };
        // 1. Room for something after the Ethernet and IP headers.
        if len <= ETHERNET_HEADER_LEN + ip_min {
            return Err(Reject::TooShort { len });
        }
        let Some(eth) = EthernetPacket::new(frame) else {
            return Err(Reject::TooShort { len });
        };
        let l3 = frame.get(ETHERNET_HEADER_LEN..).unwrap_or_default();
        // 2–4. Source, protocol and the IP layer's length, per family.
        let ip = if ipv6 {
            self.ipv6_layer(eth.get_ethertype(), l3, len)?
        } else {
            self.ipv4_layer(eth.get_ethertype(), l3, len)?
        };
        // 4, continued: the message is exactly its header plus its count of
        //    addresses; RFC 9568 drops a count or an interval of 0.
        let Ok(vrrp) = VrrpPacket::new_checked(ip.message) else {
            return Err(Reject::BogusSize { len });
        };
        if vrrp.count() == 0
            || vrrp.message_len(ipv6) != ip.message.len()
            || vrrp.interval_cs() == 0
        {
            return Err(Reject::BogusSize { len });
        }
        // 5. TTL 255, unless unicast (keepalived's IPv6 unicast uses the default).
        if self.peers.is_empty() && ip.ttl != VRRP_TTL {
            return Err(Reject::BadTtl(ip.ttl));
        }
        // 6. Version 3, type advertisement.
        if vrrp.version() != VRRP_VERSION {
            return Err(Reject::BadVersion(vrrp.version()));
        }
        if vrrp.kind() != VRRP_TYPE_ADVERTISEMENT {
            return Err(Reject::BadType(vrrp.kind()));
        }
        // 7. Our virtual router.
        if vrrp.vrid() != self.vrid {
            return Err(Reject::OtherVhid(vrrp.vrid()));
        }
        // 8. Addressed to the group, or to us by a peer.
        let unicast = !self.peers.is_empty();
        if ip.dst != self.group && !(unicast && ip.dst == self.srcip) {
            return Err(Reject::OtherDestination(ip.dst));
        }
        if unicast && !self.peers.contains(&ip.src) {
            return Err(Reject::NotAPeer(ip.src));
        }
        // 9. The checksum, in the first form that verifies.
        let forms = [
            (ChecksumForm::PseudoHeader, true),
            (ChecksumForm::MessageOnly, !ipv6),
            (ChecksumForm::GroupPseudoHeader, unicast),
        ];
        let Some(form) = forms
            .into_iter()
            .filter(|&(_, tried)| tried)
            .map(|(form, _)| form)
            .find(|&form| vrrp::verify(ip.src, ip.dst, ip.message, form))
        else {
            return Err(Reject::BadChecksum);
        };
        Ok(VerifiedVrrp {
            src: ip.src,
            advert: vrrp.advert(),
            checksum: form,
            addresses_match: self.addresses_match(&vrrp, ipv6),
        })
    }

    /// Steps 2 to 4 on an IPv4 packet: options allowed, the message bounded by the
    /// total length.
    fn ipv4_layer<'a>(
        &self,
        ethertype: EtherType,
        l3: &'a [u8],
        len: usize,
    ) -> Result<VrrpIp<'a>, Reject> {
        let Some(ip) = Ipv4Packet::new(l3) else {
            return Err(Reject::TooShort { len });
        };
        let src = IpAddr::V4(ip.get_source());
        if src == self.srcip {
            return Err(Reject::OwnSource);
        }
        if ethertype != EtherTypes::Ipv4
            || ip.get_version() != 4
            || ip.get_next_level_protocol().0 != VRRP_PROTO
        {
            return Err(Reject::NotCarp);
        }
        let header = usize::from(ip.get_header_length()) * 4;
        let total = usize::from(ip.get_total_length());
        let message = match l3.get(header..total) {
            Some(m) if header >= IPV4_HEADER_LEN => m,
            _ => return Err(Reject::BogusSize { len }),
        };
        Ok(VrrpIp {
            src,
            dst: ip.get_destination().into(),
            ttl: ip.get_ttl(),
            message,
        })
    }

    /// Steps 2 to 4 on an IPv6 packet: VRRP right after the fixed header, the message
    /// bounded by the payload length.
    fn ipv6_layer<'a>(
        &self,
        ethertype: EtherType,
        l3: &'a [u8],
        len: usize,
    ) -> Result<VrrpIp<'a>, Reject> {
        let Some(ip) = Ipv6Packet::new(l3) else {
            return Err(Reject::TooShort { len });
        };
        let src = IpAddr::V6(ip.get_source());
        if src == self.srcip {
            return Err(Reject::OwnSource);
        }
        if ethertype != EtherTypes::Ipv6
            || ip.get_version() != 6
            || ip.get_next_header().0 != VRRP_PROTO
        {
            return Err(Reject::NotCarp);
        }
        let end = IPV6_HEADER_LEN + usize::from(ip.get_payload_length());
        let Some(message) = l3.get(IPV6_HEADER_LEN..end) else {
            return Err(Reject::BogusSize { len });
        };
        Ok(VrrpIp {
            src,
            dst: ip.get_destination().into(),
            ttl: ip.get_hop_limit(),
            message,
        })
    }

    /// The same count and the same set as our addresses of the family, order ignored.
    fn addresses_match(&self, vrrp: &VrrpPacket<&[u8]>, ipv6: bool) -> bool {
        let ours = || self.addresses.iter().filter(|a| a.is_ipv6() == ipv6);
        ours().count() == usize::from(vrrp.count())
            && vrrp.addresses(ipv6).all(|a| self.addresses.contains(&a))
            && ours().all(|a| vrrp.addresses(ipv6).any(|b| b == *a))
    }
}

/// What [`VrrpReceiver`] reads from the IP layer before judging the message.
struct VrrpIp<'a> {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    message: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The replay guard refuses a repeated advert, but a leaver's repeated bow-out (one
    /// counter, resent) is dropped without being a replay.
    #[test]
    fn admit_drops_a_repeated_bow_out_quietly_and_refuses_other_repeats() {
        use crate::wire::frame::{advert_source_mac, multicast_mac, AdvertFrame};
        let rx = receiver();
        let frame = |advbase: u8, advskew: u8| {
            let mut advert = crate::testutil::golden_advert();
            (advert.advbase, advert.advskew) = (advbase, advskew);
            let mut buf = vec![0; AdvertFrame::LEN];
            AdvertFrame {
                dst_mac: multicast_mac(Ipv4Addr::new(224, 0, 0, 18)),
                src_mac: advert_source_mac(7),
                src: Ipv4Addr::new(10, 9, 0, 1),
                dst: Ipv4Addr::new(224, 0, 0, 18),
                ip_id: 1,
                advert,
            }
            .emit(&mut buf);
            buf
        };
        let mut guard = ReplayGuard::new(64);
        let mut admit_frame =
            |f: &[u8]| admit(Some(&mut guard), rx.accept(f).unwrap()).map(|a| a.is_some());
        assert_eq!(admit_frame(&frame(255, 255)), Ok(true));
        assert_eq!(admit_frame(&frame(255, 255)), Ok(false), "a retransmission");
        let regular = frame(1, 0);
        let mut guard = ReplayGuard::new(64);
        assert!(admit(Some(&mut guard), rx.accept(&regular).unwrap()).is_ok());
        assert!(matches!(
            admit(Some(&mut guard), rx.accept(&regular).unwrap()),
            Err(Reject::Replay { .. })
        ));
        // Without a guard every advert passes.
        assert!(admit(None, rx.accept(&regular).unwrap()).unwrap().is_some());
    }

    #[test]
    fn locate_finds_the_source_and_the_header_of_either_family() {
        let golden = hex(GOLDEN_ADVERT_FRAME);
        let at = locate(&golden).unwrap();
        assert_eq!(at.src, IpAddr::from([10, 9, 0, 1]));
        assert_eq!(at.header, &golden[34..]);
        // IHL 6: one word of options before the header.
        let mut opts = golden.clone();
        opts[14] = 0x46;
        assert_eq!(locate(&opts).unwrap().header, &opts[38..]);
        // IHL 15: the header would start past the end of this 70-byte frame.
        let mut long = golden.clone();
        long[14] = 0x4f;
        assert!(locate(&long).unwrap().header.is_empty());
        assert!(locate(&golden[..29]).is_none(), "no room for the source");
    }
    use crate::testutil::{hex, GOLDEN_ADVERT_FRAME};

    /// A receiver that accepts the golden frame of docs/PROTOCOL.md §2.3.
    fn receiver() -> Receiver {
        receiver_with(b"secret")
    }

    fn receiver_with(password: &[u8]) -> Receiver {
        let key = crate::auth::Key::new(password).unwrap();
        Receiver {
            srcip: Ipv4Addr::new(10, 9, 0, 2).into(),
            vhid: 7,
            group: Ipv4Addr::new(224, 0, 0, 18).into(),
            peers: Vec::new(),
            signer: key.signer(7, &[Ipv4Addr::new(10, 9, 0, 100).into()]),
        }
    }

    fn golden() -> Vec<u8> {
        hex(GOLDEN_ADVERT_FRAME)
    }

    /// Rewrites both checksums so that a mutation is judged by the later checks.
    fn refill(frame: &mut [u8]) {
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        frame[24..26].fill(0);
        let c = checksum::checksum(&frame[14..14 + ihl]);
        frame[24..26].copy_from_slice(&c.to_be_bytes());
        let mut carp = CarpPacket::new_unchecked(&mut frame[14 + ihl..14 + ihl + 36]);
        carp.fill_checksum();
    }

    #[test]
    fn golden_is_accepted() {
        let v = receiver().accept(&golden()).unwrap();
        assert_eq!(v.src(), IpAddr::from(Ipv4Addr::new(10, 9, 0, 1)));
        assert_eq!(v.advert().counter, 0x3d0e_479c_cf9f_13d4);
        assert_eq!(v.advert().advbase, 1);
    }

    #[test]
    fn each_check_in_order() {
        let r = receiver();
        let g = golden();
        assert_eq!(r.accept(&g[..34]), Err(Reject::TooShort { len: 34 }));
        assert_eq!(r.accept(&[]), Err(Reject::TooShort { len: 0 }));

        let mine = Receiver {
            srcip: Ipv4Addr::new(10, 9, 0, 1).into(),
            ..receiver()
        };
        assert_eq!(mine.accept(&g), Err(Reject::OwnSource));

        let mut f = g.clone();
        f[23] = 17;
        assert_eq!(r.accept(&f), Err(Reject::NotCarp));
        let mut f = g.clone();
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(r.accept(&f), Err(Reject::NotCarp));

        assert_eq!(r.accept(&g[..69]), Err(Reject::BogusSize { len: 69 }));
        let mut f = g.clone();
        f[14] = 0x44;
        assert_eq!(r.accept(&f), Err(Reject::BogusSize { len: 70 }));
        let mut f = g.clone();
        f[14] = 0x46; // claims 4 bytes of options that are not there
        assert_eq!(r.accept(&f), Err(Reject::BogusSize { len: 70 }));

        let mut f = g.clone();
        f[22] = 64;
        refill(&mut f);
        assert_eq!(r.accept(&f), Err(Reject::BadTtl(64)));

        let mut f = g.clone();
        f[34] = 0x31;
        refill(&mut f);
        assert_eq!(r.accept(&f), Err(Reject::BadVersion(3)));

        let other_vhid = Receiver {
            vhid: 8,
            ..receiver()
        };
        assert_eq!(other_vhid.accept(&g), Err(Reject::OtherVhid(7)));

        let other_group = Receiver {
            group: Ipv4Addr::new(224, 0, 0, 100).into(),
            ..receiver()
        };
        assert_eq!(
            other_group.accept(&g),
            Err(Reject::OtherDestination(
                Ipv4Addr::new(224, 0, 0, 18).into()
            ))
        );

        let mut f = g.clone();
        f[60] ^= 0x80;
        assert_eq!(r.accept(&f), Err(Reject::BadChecksum));

        let wrong_key = receiver_with(b"Secret");
        match wrong_key.accept(&g) {
            Err(Reject::BadDigest(m)) => assert_eq!(m.received, [0x00, 0x44, 0x12, 0xd3]),
            other => panic!("expected a bad digest, got {other:?}"),
        }
    }

    #[test]
    fn with_peers_only_peers_are_accepted() {
        let g = golden();
        let only_other = Receiver {
            peers: vec![Ipv4Addr::new(10, 9, 0, 3).into()],
            ..receiver()
        };
        assert_eq!(
            only_other.accept(&g),
            Err(Reject::NotAPeer(Ipv4Addr::new(10, 9, 0, 1).into()))
        );
        let with_sender = Receiver {
            peers: vec![
                Ipv4Addr::new(10, 9, 0, 3).into(),
                Ipv4Addr::new(10, 9, 0, 1).into(),
            ],
            ..receiver()
        };
        assert!(with_sender.accept(&g).is_ok());
    }

    #[test]
    fn ip_options_are_accepted() {
        let g = golden();
        let mut f = g[..34].to_vec();
        f.extend_from_slice(&[1, 1, 1, 0]);
        f.extend_from_slice(&g[34..]);
        f[14] = 0x46;
        f[16..18].copy_from_slice(&60u16.to_be_bytes());
        refill(&mut f);
        assert!(receiver().accept(&f).is_ok());
    }

    #[test]
    fn unchecked_fields_as_in_ucarp() {
        // Type, authlen, reserved, IP total length and the Ethernet addresses are not
        // checked (docs/PROTOCOL.md §4.3 "Not checked").
        let mut f = golden();
        f[0..12].fill(0x42);
        f[16..18].copy_from_slice(&999u16.to_be_bytes());
        f[34] = 0x22;
        f[37] = 0;
        f[38] = 5;
        refill(&mut f);
        assert!(receiver().accept(&f).is_ok());
    }

    #[test]
    fn compensating_checksum_errors_pass_as_in_ucarp() {
        // ucarp verifies one sum over both headers (docs/PROTOCOL.md §4.3 step 9): an error in one
        // checksum field that the other one cancels out goes unnoticed.
        let mut f = golden();
        let ip_csum = u16::from_be_bytes([f[24], f[25]]);
        let carp_csum = u16::from_be_bytes([f[40], f[41]]);
        f[24..26].copy_from_slice(&ip_csum.wrapping_add(1).to_be_bytes());
        f[40..42].copy_from_slice(&carp_csum.wrapping_sub(1).to_be_bytes());
        assert!(receiver().accept(&f).is_ok());
    }

    #[test]
    fn wording_matches_ucarp() {
        assert_eq!(Reject::BadTtl(64).to_string(), "Bad TTL: [64]");
        assert_eq!(Reject::BadVersion(3).to_string(), "Bad version: [3]");
        assert_eq!(Reject::BadChecksum.to_string(), "Bad IP checksum");
        let m = DigestMismatch {
            expected: [0xde, 0xad, 0xbe, 0xef],
            received: [0, 0x44, 0x12, 0xd3],
        };
        assert_eq!(
            Reject::BadDigest(m).to_string(),
            "Bad digest - md2=[deadbeef] md=[004412d3] - Check vhid, password and virtual IP address"
        );
    }

    #[test]
    fn counters() {
        let mut c = RejectCounters::default();
        c.add(RejectReason::BadDigest);
        c.add(RejectReason::BadDigest);
        c.add(RejectReason::TooShort);
        assert_eq!(c.get(RejectReason::BadDigest), 2);
        assert_eq!(c.total(), 3);
        assert_eq!(c.iter().count(), RejectReason::ALL.len());
        for (i, r) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    /// An IPv6 node: the golden advert re-signed for 2001:db8::100, sent from
    /// 2001:db8::1 to ff02::12.
    fn receiver6() -> Receiver {
        let key = crate::auth::Key::new(b"secret").unwrap();
        let vaddr: IpAddr = "2001:db8::100".parse().unwrap();
        Receiver {
            srcip: "2001:db8::2".parse().unwrap(),
            vhid: 7,
            group: packet::CARP_MCAST_V6.into(),
            peers: Vec::new(),
            signer: key.signer(7, &[vaddr]),
        }
    }

    fn golden6() -> Vec<u8> {
        let mut advert = crate::testutil::golden_advert();
        advert.md = receiver6()
            .signer
            .sign(&advert.signed_fields(), &advert.counter.to_be_bytes());
        let mut buf = vec![0u8; crate::wire::frame::ADVERT6_FRAME_LEN];
        crate::wire::frame::Advert6Frame {
            dst_mac: crate::wire::frame::multicast_mac6(packet::CARP_MCAST_V6),
            src_mac: crate::wire::frame::advert_source_mac(7),
            src: "2001:db8::1".parse().unwrap(),
            dst: packet::CARP_MCAST_V6,
            advert,
        }
        .emit(&mut buf);
        buf
    }

    #[test]
    fn ipv6_each_check_in_order() {
        let r = receiver6();
        let g = golden6();
        let v = r.accept(&g).unwrap();
        assert_eq!(v.src(), "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(r.accept(&g[..54]), Err(Reject::TooShort { len: 54 }));
        let mine = Receiver {
            srcip: "2001:db8::1".parse().unwrap(),
            ..receiver6()
        };
        assert_eq!(mine.accept(&g), Err(Reject::OwnSource));
        // An IPv4 node does not take IPv6 frames, nor an IPv6 node IPv4 ones.
        assert_eq!(receiver().accept(&g), Err(Reject::NotCarp));
        assert_eq!(r.accept(&golden()), Err(Reject::NotCarp));
        let mut f = g.clone();
        f[20] = 0; // hop-by-hop options first
        assert_eq!(r.accept(&f), Err(Reject::NotCarp));
        assert_eq!(r.accept(&g[..89]), Err(Reject::BogusSize { len: 89 }));
        let mut f = g.clone();
        f[19] = 35; // payload length
        assert_eq!(r.accept(&f), Err(Reject::BogusSize { len: 90 }));
        let mut f = g.clone();
        f[21] = 1;
        assert_eq!(r.accept(&f), Err(Reject::BadTtl(1)));
        let other_group = Receiver {
            group: "ff02::1".parse().unwrap(),
            ..receiver6()
        };
        assert_eq!(
            other_group.accept(&g),
            Err(Reject::OtherDestination(packet::CARP_MCAST_V6.into()))
        );
        let mut f = g.clone();
        f[80] ^= 0x80;
        assert_eq!(r.accept(&f), Err(Reject::BadChecksum));
        // The IPv6 header is not covered by a checksum: a flipped flow label passes.
        let mut f = g.clone();
        f[17] ^= 1;
        assert!(r.accept(&f).is_ok());
        let other_vip = Receiver {
            signer: crate::auth::Key::new(b"secret")
                .unwrap()
                .signer(7, &["2001:db8::101".parse().unwrap()]),
            ..receiver6()
        };
        assert!(matches!(other_vip.accept(&g), Err(Reject::BadDigest(_))));
    }
}

/// [`VrrpReceiver`]: the checks of docs/PROTOCOL.md §14.3, one by one, and the promise
/// that no byte of any frame makes it panic or accept something else.
#[cfg(test)]
mod vrrp_tests {
    use super::*;
    use crate::wire::frame::{multicast_mac, multicast_mac6};
    use crate::wire::vrrp::{
        emit_vrrp_frame, vrrp_source_mac, MAX_VRRP_FRAME_LEN, VRRP_MCAST_V4, VRRP_MCAST_V6,
    };
    use pnet_base::MacAddr;

    const SENDER4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const ME4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

    fn ip6(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn advert() -> VrrpAdvert {
        VrrpAdvert {
            vrid: 51,
            priority: 100,
            interval_cs: 100,
        }
    }

    fn emit(src: IpAddr, dst: IpAddr, addresses: &[IpAddr]) -> Vec<u8> {
        let mut buf = vec![0; MAX_VRRP_FRAME_LEN];
        let dst_mac = match dst {
            IpAddr::V4(d) if d.is_multicast() => multicast_mac(d),
            IpAddr::V6(d) if d.is_multicast() => multicast_mac6(d),
            _ => MacAddr(2, 0, 0, 0, 0, 0x0b),
        };
        let len = emit_vrrp_frame(
            &mut buf,
            dst_mac,
            vrrp_source_mac(51, src.is_ipv6()),
            src,
            dst,
            1,
            advert(),
            addresses,
        );
        buf.truncate(len);
        buf
    }

    fn receiver4() -> VrrpReceiver {
        VrrpReceiver {
            srcip: ME4.into(),
            vrid: 51,
            group: VRRP_MCAST_V4.into(),
            peers: Vec::new(),
            addresses: vec![VIP4.into()],
        }
    }

    fn frame4() -> Vec<u8> {
        emit(SENDER4.into(), VRRP_MCAST_V4.into(), &[VIP4.into()])
    }

    fn unicast4() -> (VrrpReceiver, Vec<u8>) {
        let rx = VrrpReceiver {
            peers: vec![SENDER4.into()],
            ..receiver4()
        };
        (rx, emit(SENDER4.into(), ME4.into(), &[VIP4.into()]))
    }

    fn vips6() -> Vec<IpAddr> {
        vec![ip6("2001:db8::100"), ip6("2001:db8::101")]
    }

    fn receiver6() -> VrrpReceiver {
        VrrpReceiver {
            srcip: ip6("fe80::2"),
            vrid: 51,
            group: VRRP_MCAST_V6.into(),
            peers: Vec::new(),
            addresses: vips6(),
        }
    }

    fn frame6() -> Vec<u8> {
        emit(ip6("fe80::1"), VRRP_MCAST_V6.into(), &vips6())
    }

    /// Where the VRRP message starts, and its length by the IP header.
    fn message_at(frame: &[u8]) -> (usize, usize) {
        if frame[12..14] == [0x86, 0xdd] {
            (54, usize::from(u16::from_be_bytes([frame[18], frame[19]])))
        } else {
            let ihl = usize::from(frame[14] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
            (14 + ihl, total.saturating_sub(ihl))
        }
    }

    /// Rewrites the IPv4 header checksum and the VRRP checksum (pseudo-header form), so
    /// that a mutation is judged by the check it targets.
    fn refill(frame: &mut [u8]) {
        let (at, len) = message_at(frame);
        let (src, dst): (IpAddr, IpAddr) = if at == 54 {
            let a: [u8; 16] = frame[22..38].try_into().unwrap();
            let b: [u8; 16] = frame[38..54].try_into().unwrap();
            (a.into(), b.into())
        } else {
            let a: [u8; 4] = frame[26..30].try_into().unwrap();
            let b: [u8; 4] = frame[30..34].try_into().unwrap();
            frame[24..26].fill(0);
            let c = checksum::checksum(&frame[14..at.min(frame.len())]);
            frame[24..26].copy_from_slice(&c.to_be_bytes());
            (a.into(), b.into())
        };
        // A length mutation may leave no whole message to sum: nothing to refill.
        if len >= 8 && at + len <= frame.len() {
            set_vrrp_checksum(frame, src, dst, ChecksumForm::PseudoHeader, at, len);
        }
    }

    fn set_vrrp_checksum(
        frame: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        form: ChecksumForm,
        at: usize,
        len: usize,
    ) {
        frame[at + 6..at + 8].fill(0);
        let c = vrrp::checksum(src, dst, &frame[at..at + len], form);
        frame[at + 6..at + 8].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn emitted_frames_are_accepted() {
        let v = receiver4().accept(&frame4()).unwrap();
        assert_eq!(v.src(), IpAddr::from(SENDER4));
        assert_eq!(v.advert(), &advert());
        assert_eq!(v.checksum(), ChecksumForm::PseudoHeader);
        assert!(v.addresses_match());
        let v = receiver6().accept(&frame6()).unwrap();
        assert_eq!(
            (v.src(), v.checksum()),
            (ip6("fe80::1"), ChecksumForm::PseudoHeader)
        );
        assert!(v.addresses_match());
        let (rx, f) = unicast4();
        assert_eq!(
            rx.accept(&f).unwrap().checksum(),
            ChecksumForm::PseudoHeader
        );
        // Ethernet padding (a 46-byte frame is 60 on the wire) is not part of it.
        let mut padded = frame4();
        padded.resize(60, 0);
        assert_eq!(receiver4().accept(&padded), receiver4().accept(&frame4()));
    }

    #[test]
    fn every_checksum_form_is_accepted_and_reported() {
        let (rx, f) = unicast4();
        let (at, len) = message_at(&f);
        let (src, dst) = (IpAddr::from(SENDER4), IpAddr::from(ME4));
        for form in [
            ChecksumForm::PseudoHeader,
            ChecksumForm::MessageOnly,
            ChecksumForm::GroupPseudoHeader,
        ] {
            let mut g = f.clone();
            set_vrrp_checksum(&mut g, src, dst, form, at, len);
            assert_eq!(rx.accept(&g).map(|v| v.checksum()), Ok(form));
        }
        // The group form is a unicast form: without peers, only the two others.
        let mut g = frame4();
        set_vrrp_checksum(
            &mut g,
            src,
            VRRP_MCAST_V4.into(),
            ChecksumForm::MessageOnly,
            at,
            len,
        );
        assert_eq!(
            receiver4().accept(&g).map(|v| v.checksum()),
            Ok(ChecksumForm::MessageOnly)
        );
        // IPv6 has no message-only form.
        let mut g = frame6();
        let (at, len) = message_at(&g);
        set_vrrp_checksum(
            &mut g,
            ip6("fe80::1"),
            ip6("ff02::12"),
            ChecksumForm::MessageOnly,
            at,
            len,
        );
        assert_eq!(receiver6().accept(&g), Err(Reject::BadChecksum));
        // A unicast advert summed with the group as destination verifies only with peers.
        let (rx6, _) = (
            VrrpReceiver {
                peers: vec![ip6("fe80::1")],
                ..receiver6()
            },
            (),
        );
        let mut g = emit(ip6("fe80::1"), ip6("fe80::2"), &vips6());
        set_vrrp_checksum(
            &mut g,
            ip6("fe80::1"),
            ip6("fe80::2"),
            ChecksumForm::GroupPseudoHeader,
            at,
            len,
        );
        assert_eq!(
            rx6.accept(&g).map(|v| v.checksum()),
            Ok(ChecksumForm::GroupPseudoHeader)
        );
    }

    #[test]
    fn each_reject_in_order() {
        let r = receiver4();
        let g = frame4();
        assert_eq!(r.accept(&[]), Err(Reject::TooShort { len: 0 }));
        assert_eq!(r.accept(&g[..34]), Err(Reject::TooShort { len: 34 }));
        assert_eq!(
            receiver6().accept(&frame6()[..54]),
            Err(Reject::TooShort { len: 54 })
        );

        let mine = VrrpReceiver {
            srcip: SENDER4.into(),
            ..receiver4()
        };
        assert_eq!(mine.accept(&g), Err(Reject::OwnSource));

        let mut f = g.clone();
        f[23] = 17;
        assert_eq!(r.accept(&f), Err(Reject::NotCarp));
        let mut f = g.clone();
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(r.accept(&f), Err(Reject::NotCarp));
        assert_eq!(r.accept(&frame6()), Err(Reject::NotCarp), "another family");
        assert_eq!(receiver6().accept(&g), Err(Reject::TooShort { len: 46 }));
        let mut padded = g.clone();
        padded.resize(60, 0);
        assert_eq!(receiver6().accept(&padded), Err(Reject::NotCarp));

        let bogus = |at: usize, value: u8| {
            let mut f = g.clone();
            f[at] = value;
            refill(&mut f);
            r.accept(&f)
        };
        let size = Err(Reject::BogusSize { len: 46 });
        assert_eq!(bogus(14, 0x44), size, "IHL 4");
        assert_eq!(
            bogus(14, 0x46),
            size,
            "IHL 6: options beyond the total length"
        );
        assert_eq!(bogus(17, 47), size, "total length beyond the frame");
        assert_eq!(bogus(17, 27), size, "total length shorter than the header");
        assert_eq!(bogus(17, 31), size, "total length cuts an address");
        assert_eq!(bogus(37, 0), size, "count 0");
        assert_eq!(bogus(37, 2), size, "count 2, one address");
        let mut f = g.clone();
        f[38..40].copy_from_slice(&[0xf0, 0x00]); // reserved bits set, interval 0
        refill(&mut f);
        assert_eq!(r.accept(&f), size, "interval 0");
        assert_eq!(r.accept(&g[..45]), Err(Reject::BogusSize { len: 45 }));
        let mut f = frame6();
        f[19] += 1;
        assert_eq!(receiver6().accept(&f), Err(Reject::BogusSize { len: 94 }));

        assert_eq!(bogus(22, 64), Err(Reject::BadTtl(64)));
        assert_eq!(bogus(34, 0x21), Err(Reject::BadVersion(2)));
        assert_eq!(bogus(34, 0x32), Err(Reject::BadType(2)));
        assert_eq!(bogus(35, 52), Err(Reject::OtherVhid(52)));
        let other: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 19);
        let f = emit(SENDER4.into(), other.into(), &[VIP4.into()]);
        assert_eq!(r.accept(&f), Err(Reject::OtherDestination(other.into())));
        let f = emit(SENDER4.into(), ME4.into(), &[VIP4.into()]);
        assert_eq!(
            r.accept(&f),
            Err(Reject::OtherDestination(ME4.into())),
            "unicast without peers"
        );
        let stranger = VrrpReceiver {
            peers: vec![Ipv4Addr::new(192, 0, 2, 3).into()],
            ..receiver4()
        };
        assert_eq!(stranger.accept(&f), Err(Reject::NotAPeer(SENDER4.into())));
        let mut f = g.clone();
        f[45] ^= 1;
        assert_eq!(r.accept(&f), Err(Reject::BadChecksum));

        // A CARP advert has the right length for a VRRP one (authlen 7 reads as a count
        // of 7): it is told apart by its version.
        let carp = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        let carp_rx = VrrpReceiver {
            vrid: 7,
            ..receiver4()
        };
        assert_eq!(carp_rx.accept(&carp), Err(Reject::BadVersion(2)));
        assert_eq!(Reject::BadType(2).to_string(), "Bad VRRP type: [2]");
        assert_eq!(RejectReason::BadType.name(), "bad_type");
        assert!(RejectReason::BadType.is_warning());
    }

    #[test]
    fn ttl_is_checked_for_multicast_only() {
        let mut f = frame4();
        f[22] = 64;
        refill(&mut f);
        assert_eq!(receiver4().accept(&f), Err(Reject::BadTtl(64)));
        let (rx, mut u) = unicast4();
        u[22] = 64;
        refill(&mut u);
        assert!(rx.accept(&u).is_ok(), "unicast: any TTL");
        let mut f = frame6();
        f[21] = 1;
        assert_eq!(receiver6().accept(&f), Err(Reject::BadTtl(1)));
        let rx6 = VrrpReceiver {
            peers: vec![ip6("fe80::1")],
            ..receiver6()
        };
        let mut u = emit(ip6("fe80::1"), ip6("fe80::2"), &vips6());
        u[21] = 64; // keepalived's IPv6 unicast: the kernel's default hop limit
        assert!(rx6.accept(&u).is_ok());
        // With peers, the group is still accepted.
        let mut f = frame6();
        assert!(rx6.accept(&f).is_ok());
        f[21] = 64;
        assert!(rx6.accept(&f).is_ok());
    }

    #[test]
    fn address_lists_are_compared_not_judged() {
        let same = |addresses: Vec<IpAddr>| {
            VrrpReceiver {
                addresses,
                ..receiver6()
            }
            .accept(&frame6())
            .map(|v| v.addresses_match())
        };
        assert_eq!(same(vips6()), Ok(true));
        assert_eq!(
            same(vec![vips6()[1], vips6()[0]]),
            Ok(true),
            "order ignored"
        );
        assert_eq!(
            same(vec![vips6()[0], VIP4.into(), vips6()[1]]),
            Ok(true),
            "other family ignored"
        );
        assert_eq!(same(vec![vips6()[0]]), Ok(false), "fewer");
        assert_eq!(
            same(vec![vips6()[0], vips6()[0]]),
            Ok(false),
            "a duplicate for one"
        );
        assert_eq!(
            same(vec![vips6()[0], ip6("2001:db8::102")]),
            Ok(false),
            "another"
        );
        assert_eq!(same(Vec::new()), Ok(false));
    }

    #[test]
    fn ip_options_are_skipped() {
        let g = frame4();
        let mut f = g[..34].to_vec();
        f.extend_from_slice(&[1, 1, 1, 0]);
        f.extend_from_slice(&g[34..]);
        f[14] = 0x46;
        f[16..18].copy_from_slice(&36u16.to_be_bytes());
        refill(&mut f);
        assert_eq!(receiver4().accept(&f), receiver4().accept(&g));
    }

    /// Every one-byte change and every truncation of a valid frame of each kind: never a
    /// panic, and either the same verdict as the original or a rejection.
    #[test]
    fn no_mutation_panics_or_accepts_something_else() {
        let (rx_u, f_u) = unicast4();
        for (rx, frame) in [
            (receiver4(), frame4()),
            (receiver6(), frame6()),
            (rx_u, f_u),
        ] {
            let good = rx.accept(&frame).unwrap();
            for at in 0..frame.len() {
                for value in 0..=255u8 {
                    let mut f = frame.clone();
                    f[at] = value;
                    if let Ok(v) = rx.accept(&f) {
                        assert_eq!(v, good, "byte {at} = {value:#04x}");
                    }
                }
            }
            for len in 0..frame.len() {
                assert!(rx.accept(&frame[..len]).is_err(), "cut at {len}");
            }
            let mut longer = frame.clone();
            longer.extend_from_slice(&[0xff; 40]);
            assert_eq!(rx.accept(&longer), Ok(good));
        }
    }

    #[test]
    fn locate_finds_a_vrrp_header_of_either_family() {
        let f = frame4();
        let at = locate(&f).unwrap();
        assert_eq!((at.src, at.header), (IpAddr::from(SENDER4), &f[34..]));
        let f = frame6();
        let at = locate(&f).unwrap();
        assert_eq!((at.src, at.header), (ip6("fe80::1"), &f[54..]));
    }
}
