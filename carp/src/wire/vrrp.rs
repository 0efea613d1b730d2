//! The VRRPv3 advertisement (RFC 5798 §5, docs/PROTOCOL.md §14.1): the 8-byte header and
//! its address list, read through the zero-copy view [`VrrpPacket`]; the value type for
//! what a node advertises ([`VrrpAdvert`]); the checksum in each form seen in the field
//! ([`checksum`], [`ChecksumForm`], docs/PROTOCOL.md §14.2); and the whole Ethernet frame
//! of an advert ([`emit_vrrp_frame`]).
//!
//! Pure: never opens a socket, never reads the clock, never allocates outside the
//! test-fixture reader, and never panics, whatever the buffer or the address list
//! (a short buffer truncates, see [`emit_vrrp_frame`]). Judging a received advert
//! (TTL, source, checksum form, address list) is [`crate::rx::VrrpReceiver`]'s job,
//! not this module's.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  |     VRID      |   Priority    | Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 IPvX Address(es), Count of them               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use pnet_base::MacAddr;
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::ipv4::MutableIpv4Packet;
use pnet_packet::ipv6::MutableIpv6Packet;
#[cfg(any(test, feature = "test-fixtures"))]
use pnet_packet::{ethernet::EthernetPacket, ipv4::Ipv4Packet, ipv6::Ipv6Packet};

use crate::wire::checksum::{accumulate, finish};
use crate::wire::frame::{ETHERNET_HEADER_LEN, IPV4_HEADER_LEN, IPV6_HEADER_LEN};

/// The VRRP version this mode speaks and requires.
pub const VRRP_VERSION: u8 = 3;
/// The only VRRP message type: an advertisement.
pub const VRRP_TYPE_ADVERTISEMENT: u8 = 1;
/// Length of the fixed header, before the addresses.
pub const HEADER_LEN: usize = 8;
/// The priority of a master that resigns: "take over now" (RFC 5798 §5.2.4).
pub const PRIORITY_BOW_OUT: u8 = 0;
/// The longest interval the 12-bit field holds, in centiseconds (40.95 s).
pub const MAX_INTERVAL_CS: u16 = 0x0fff;

/// What a VRRPv3 advert says, apart from its address list (which the sender's
/// configuration holds, and the receiver only compares with its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VrrpAdvert {
    /// The virtual router id, 1–255.
    pub vrid: u8,
    /// 1–254 for a backup-capable router, 0 for a master resigning, 255 for the owner.
    pub priority: u8,
    /// Max Adver Int, in centiseconds (12 bits: 1–4095).
    pub interval_cs: u16,
}

impl VrrpAdvert {
    /// Returns the advertised interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.interval_cs & MAX_INTERVAL_CS) * 10)
    }

    /// Returns true for a resigning master's advert (priority 0).
    pub fn is_bow_out(&self) -> bool {
        self.priority == PRIORITY_BOW_OUT
    }
}

impl fmt::Display for VrrpAdvert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cs = self.interval_cs & MAX_INTERVAL_CS;
        write!(
            f,
            "VRRPv3 vrid {} priority {} interval {}.{:02} s",
            self.vrid,
            self.priority,
            cs / 100,
            cs % 100
        )
    }
}

/// Which sum a received advert's checksum verified with (docs/PROTOCOL.md §14): senders
/// disagree on IPv4, so a receiver accepts each form and reports which one it saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumForm {
    /// RFC 5798's pseudo-header (source, the actual destination, length, protocol)
    /// plus the message: what keepalived and FreeBSD send, and what we send.
    PseudoHeader,
    /// The message alone, as RFC 9568 and Cisco compute it for IPv4.
    MessageOnly,
    /// A unicast advert summed with the group 224.0.0.18 as destination, as keepalived
    /// before 1.3.7 did.
    GroupPseudoHeader,
}

impl ChecksumForm {
    /// Returns a short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumForm::PseudoHeader => "pseudo-header",
            ChecksumForm::MessageOnly => "message-only",
            ChecksumForm::GroupPseudoHeader => "pseudo-header with the group as destination",
        }
    }
}

/// IP protocol number of VRRP (shared with CARP; the version nibble tells them apart).
pub const VRRP_PROTO: u8 = 112;
/// IPv4 TTL and IPv6 hop limit of every advert we send (RFC 5798 §5.1.1.3, §5.1.2.3).
pub const VRRP_TTL: u8 = 255;
/// IPv4 TOS and IPv6 traffic class of the adverts we send: 0xC0 (DSCP 48, CS6), what
/// keepalived 2.2.7 was captured sending in both families (`tests/data/README-keepalived.md`).
pub const VRRP_TOS: u8 = 0xc0;
/// The IPv4 group of VRRP adverts (RFC 5798 §5.1.1.2).
pub const VRRP_MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 group of VRRP adverts (RFC 5798 §5.1.2.2).
pub const VRRP_MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The most addresses we put in one advert (the count field itself holds 255).
pub const MAX_ADDRESSES: usize = 64;
/// The longest frame [`emit_vrrp_frame`] writes: Ethernet, an IPv6 header, the VRRP
/// header and [`MAX_ADDRESSES`] IPv6 addresses (1,086 bytes).
pub const MAX_VRRP_FRAME_LEN: usize =
    ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + HEADER_LEN + 16 * MAX_ADDRESSES;

/// Byte offsets of the header fields (docs/PROTOCOL.md §14.1).
mod field {
    use std::ops::Range;

    pub const VERSION_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// 4 reserved bits, then the 12-bit Max Adver Int.
    pub const INTERVAL: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// Returns the length of one address of the family: 4 or 16 bytes.
pub const fn address_len(ipv6: bool) -> usize {
    if ipv6 {
        16
    } else {
        4
    }
}

/// Returns the virtual router MAC of a VRID (RFC 5798 §7.3): `00:00:5e:00:01:{vrid}` for
/// IPv4, `00:00:5e:00:02:{vrid}` for IPv6. keepalived sends its adverts from the
/// interface's own MAC unless `use_vmac`; this is the address a master answers for.
pub fn vrrp_source_mac(vrid: u8, ipv6: bool) -> MacAddr {
    MacAddr(0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid)
}

/// Returns the group of the family: 224.0.0.18 or ff02::12.
pub fn vrrp_group(ipv6: bool) -> IpAddr {
    if ipv6 {
        VRRP_MCAST_V6.into()
    } else {
        VRRP_MCAST_V4.into()
    }
}

/// Computes the VRRP checksum of `message` (the VRRP header and its addresses, nothing
/// after them) sent from `src` to `dst`, in `form` (docs/PROTOCOL.md §14.2).
///
/// `message` is summed as given, checksum field included, like
/// [`crate::wire::checksum::checksum`]: to fill the field, zero it and store the result;
/// to verify a received message, pass it as received and compare the result with 0
/// (or call [`verify`]).
///
/// The pseudo-header follows `src`'s family:
/// * IPv4: `src(4) dst(4) 00 70 length(2)`;
/// * IPv6 (RFC 2460 §8.1): `src(16) dst(16) length(4) 00 00 00 70`;
///
/// where the length is `message.len()`. [`ChecksumForm::PseudoHeader`] uses `dst`;
/// [`ChecksumForm::GroupPseudoHeader`] uses the family's group instead of `dst`;
/// [`ChecksumForm::MessageOnly`] sums no pseudo-header (defined for IPv4 only; for IPv6
/// the result is computed the same way, but no sender uses it). A `dst` of the other
/// family than `src` (no frame has one) is summed as its own bytes.
pub fn checksum(src: IpAddr, dst: IpAddr, message: &[u8], form: ChecksumForm) -> u16 {
    let dst = match form {
        ChecksumForm::MessageOnly => return finish(accumulate(0, message)),
        ChecksumForm::PseudoHeader => dst,
        ChecksumForm::GroupPseudoHeader => vrrp_group(src.is_ipv6()),
    };
    let mut sum = accumulate(0, ip_octets(&src, &mut [0; 16]));
    sum = accumulate(sum, ip_octets(&dst, &mut [0; 16]));
    // `accumulate` pads an odd region, so the regions below are all even-sized words.
    let len = message.len();
    sum = match src {
        IpAddr::V4(_) => {
            let len = u16::try_from(len).unwrap_or(u16::MAX);
            let [hi, lo] = len.to_be_bytes();
            accumulate(sum, &[0, VRRP_PROTO, hi, lo])
        }
        IpAddr::V6(_) => {
            let len = u32::try_from(len).unwrap_or(u32::MAX);
            let sum = accumulate(sum, &len.to_be_bytes());
            accumulate(sum, &[0, 0, 0, VRRP_PROTO])
        }
    };
    finish(accumulate(sum, message))
}

/// Returns true when `message`, checksum field as received, verifies in `form`.
pub fn verify(src: IpAddr, dst: IpAddr, message: &[u8], form: ChecksumForm) -> bool {
    checksum(src, dst, message, form) == 0
}

/// The address's bytes, in a caller's scratch buffer.
fn ip_octets<'a>(ip: &IpAddr, scratch: &'a mut [u8; 16]) -> &'a [u8] {
    match ip {
        IpAddr::V4(a) => {
            scratch[..4].copy_from_slice(&a.octets());
            &scratch[..4]
        }
        IpAddr::V6(a) => {
            *scratch = a.octets();
            &scratch[..]
        }
    }
}

/// Why bytes could not be read as a VRRPv3 advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer than [`HEADER_LEN`] bytes, or fewer addresses than the count announces.
    Truncated,
    /// The version nibble is not [`VRRP_VERSION`].
    BadVersion(u8),
    /// The type nibble is not [`VRRP_TYPE_ADVERTISEMENT`].
    BadType(u8),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated => write!(f, "truncated VRRP advertisement"),
            ParseError::BadVersion(v) => write!(f, "Bad version: [{v}]"),
            ParseError::BadType(t) => write!(f, "Bad VRRP type: [{t}]"),
        }
    }
}

impl std::error::Error for ParseError {}

/// A read/write view over a buffer that holds a VRRP header and, after it, its
/// addresses. The buffer may be longer (padding, another address family's view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrrpPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VrrpPacket<T> {
    /// Wraps a buffer without checking its length; the header accessors panic on one
    /// shorter than [`HEADER_LEN`].
    ///
    /// Use this only on buffers the program sized itself (emitting); use
    /// [`new_checked`](Self::new_checked) on anything received.
    pub const fn new_unchecked(buffer: T) -> Self {
        VrrpPacket { buffer }
    }

    /// Wraps a buffer after checking it holds the 8-byte header, so that no accessor
    /// can panic. The addresses are read with bounds checks of their own.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] when it holds fewer than [`HEADER_LEN`] bytes.
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        Ok(VrrpPacket { buffer })
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Returns the version nibble (3 for VRRPv3; CARP and VRRPv2 send 2).
    pub fn version(&self) -> u8 {
        self.bytes()[field::VERSION_TYPE] >> 4
    }

    /// Returns the type nibble (1 for an advertisement, the only type).
    pub fn kind(&self) -> u8 {
        self.bytes()[field::VERSION_TYPE] & 0x0f
    }

    /// Returns the virtual router id.
    pub fn vrid(&self) -> u8 {
        self.bytes()[field::VRID]
    }

    /// Returns the priority (0 for a master resigning, 255 for the owner).
    pub fn priority(&self) -> u8 {
        self.bytes()[field::PRIORITY]
    }

    /// Returns how many addresses the advert announces.
    pub fn count(&self) -> u8 {
        self.bytes()[field::COUNT]
    }

    /// Returns the 4 reserved bits before the interval (sent as 0, ignored on receipt).
    pub fn reserved(&self) -> u8 {
        self.bytes()[field::INTERVAL.start] >> 4
    }

    /// Returns Max Adver Int in centiseconds, the reserved bits masked off.
    pub fn interval_cs(&self) -> u16 {
        let b = &self.bytes()[field::INTERVAL];
        u16::from_be_bytes([b[0], b[1]]) & MAX_INTERVAL_CS
    }

    /// Returns the stored checksum.
    pub fn checksum(&self) -> u16 {
        let b = &self.bytes()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Returns the length of the message the count announces: 8 + count × 4 (IPv4) or
    /// 8 + count × 16 (IPv6).
    pub fn message_len(&self, ipv6: bool) -> usize {
        HEADER_LEN + usize::from(self.count()) * address_len(ipv6)
    }

    /// Returns the header's values: vrid, priority, interval.
    pub fn advert(&self) -> VrrpAdvert {
        VrrpAdvert {
            vrid: self.vrid(),
            priority: self.priority(),
            interval_cs: self.interval_cs(),
        }
    }

    /// Iterates over the announced addresses of the family, in order: at most
    /// [`count`](Self::count) of them, fewer when the buffer ends first.
    pub fn addresses(&self, ipv6: bool) -> Addresses<'_> {
        Addresses {
            chunks: self
                .bytes()
                .get(HEADER_LEN..)
                .unwrap_or_default()
                .chunks_exact(address_len(ipv6)),
            remaining: self.count(),
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VrrpPacket<T> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the version and type nibbles.
    pub fn set_version_kind(&mut self, version: u8, kind: u8) {
        self.bytes_mut()[field::VERSION_TYPE] = (version << 4) | (kind & 0x0f);
    }

    /// Sets the virtual router id.
    pub fn set_vrid(&mut self, value: u8) {
        self.bytes_mut()[field::VRID] = value;
    }

    /// Sets the priority.
    pub fn set_priority(&mut self, value: u8) {
        self.bytes_mut()[field::PRIORITY] = value;
    }

    /// Sets the address count.
    pub fn set_count(&mut self, value: u8) {
        self.bytes_mut()[field::COUNT] = value;
    }

    /// Sets the interval in centiseconds (masked to 12 bits) with the reserved bits 0.
    pub fn set_interval_cs(&mut self, value: u16) {
        self.bytes_mut()[field::INTERVAL].copy_from_slice(&(value & MAX_INTERVAL_CS).to_be_bytes());
    }

    /// Stores a checksum value as is.
    pub fn set_checksum(&mut self, value: u16) {
        self.bytes_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }
}

/// The addresses of a [`VrrpPacket`], from [`VrrpPacket::addresses`].
#[derive(Debug, Clone)]
pub struct Addresses<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
    remaining: u8,
}

impl Iterator for Addresses<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        self.remaining = self.remaining.checked_sub(1)?;
        let chunk = self.chunks.next()?;
        if let Ok(v4) = <[u8; 4]>::try_from(chunk) {
            return Some(IpAddr::from(v4));
        }
        <[u8; 16]>::try_from(chunk).ok().map(IpAddr::from)
    }
}

/// Writes the whole Ethernet frame of a VRRPv3 advert into `buf` and returns its length
/// (docs/PROTOCOL.md §14.1). Nothing is padded: a NIC pads short frames to 60 bytes.
///
/// * Ethernet: `dst_mac`, `src_mac` (the interface's MAC as keepalived sends, or
///   [`vrrp_source_mac`]), type IPv4 or IPv6 by `src`'s family.
/// * IPv4: version 4, IHL 5, TOS [`VRRP_TOS`], total length, identification `ip_id`,
///   no flags (no DF, as keepalived), TTL 255, protocol 112, header checksum.
/// * IPv6: version 6, traffic class [`VRRP_TOS`] (keepalived's, measured), flow label 0,
///   payload length, next header 112, hop limit 255; `ip_id` is unused.
/// * VRRP: version 3, type 1, `advert`'s vrid, priority and interval (masked to 12 bits,
///   reserved bits 0), the addresses, and the checksum in the
///   [`ChecksumForm::PseudoHeader`] form with the actual `dst` (the peer, for unicast).
///
/// Only the addresses of `src`'s family are written, in order; the count is the number
/// written. The list is cut at [`MAX_ADDRESSES`], and further at what fits in `buf`, so
/// this never panics: a buffer of [`MAX_VRRP_FRAME_LEN`] bytes always holds the whole
/// frame. Returns 0 (nothing written that counts) when `src` and `dst` are not of one
/// family, or when `buf` cannot hold the headers.
#[allow(clippy::too_many_arguments)]
pub fn emit_vrrp_frame(
    buf: &mut [u8],
    dst_mac: MacAddr,
    src_mac: MacAddr,
    src: IpAddr,
    dst: IpAddr,
    ip_id: u16,
    advert: VrrpAdvert,
    addresses: &[IpAddr],
) -> usize {
    let ipv6 = src.is_ipv6();
    if dst.is_ipv6() != ipv6 {
        return 0;
    }
    let ip_len = if ipv6 {
        IPV6_HEADER_LEN
    } else {
        IPV4_HEADER_LEN
    };
    let alen = address_len(ipv6);
    let Some(room) = buf
        .len()
        .checked_sub(ETHERNET_HEADER_LEN + ip_len + HEADER_LEN)
    else {
        return 0;
    };
    let same_family = || addresses.iter().filter(|a| a.is_ipv6() == ipv6);
    let count = same_family().count().min(MAX_ADDRESSES).min(room / alen);
    let message_len = HEADER_LEN + count * alen;
    let frame_len = ETHERNET_HEADER_LEN + ip_len + message_len;

    let (eth, rest) = buf[..frame_len].split_at_mut(ETHERNET_HEADER_LEN);
    let (ip, message) = rest.split_at_mut(ip_len);

    // Each view's minimum size is exactly the slice cut for it, so none of these
    // `let … else` branches is ever taken; they keep the function panic-free.
    let Some(mut e) = MutableEthernetPacket::new(eth) else {
        return 0;
    };
    e.set_destination(dst_mac);
    e.set_source(src_mac);
    e.set_ethertype(if ipv6 {
        EtherTypes::Ipv6
    } else {
        EtherTypes::Ipv4
    });

    let (header, list) = message.split_at_mut(HEADER_LEN);
    for (slot, addr) in list.chunks_exact_mut(alen).zip(same_family()) {
        slot.copy_from_slice(ip_octets(addr, &mut [0; 16]));
    }
    let mut v = VrrpPacket::new_unchecked(header);
    v.set_version_kind(VRRP_VERSION, VRRP_TYPE_ADVERTISEMENT);
    v.set_vrid(advert.vrid);
    v.set_priority(advert.priority);
    // `count` is at most MAX_ADDRESSES (64).
    v.set_count(u8::try_from(count).unwrap_or(u8::MAX));
    v.set_interval_cs(advert.interval_cs);
    v.set_checksum(0);
    let sum = checksum(src, dst, message, ChecksumForm::PseudoHeader);
    VrrpPacket::new_unchecked(&mut message[..HEADER_LEN]).set_checksum(sum);

    // At most 40 + 8 + 16 × 64 bytes: always fits in u16.
    let ip_total = u16::try_from(ip_len + message_len).unwrap_or(u16::MAX);
    let message_len = u16::try_from(message_len).unwrap_or(u16::MAX);
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let Some(mut i) = MutableIpv4Packet::new(ip) else {
                return 0;
            };
            i.set_version(4);
            i.set_header_length(5);
            i.set_dscp(VRRP_TOS >> 2);
            i.set_ecn(VRRP_TOS & 0b11);
            i.set_total_length(ip_total);
            i.set_identification(ip_id);
            i.set_flags(0);
            i.set_fragment_offset(0);
            i.set_ttl(VRRP_TTL);
            i.set_next_level_protocol(IpNextHeaderProtocol(VRRP_PROTO));
            i.set_source(src);
            i.set_destination(dst);
            i.set_checksum(0);
            let sum = crate::wire::checksum::checksum(pnet_packet::Packet::packet(&i));
            i.set_checksum(sum);
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let Some(mut i) = MutableIpv6Packet::new(ip) else {
                return 0;
            };
            i.set_version(6);
            i.set_traffic_class(VRRP_TOS);
            i.set_flow_label(0);
            i.set_payload_length(message_len);
            i.set_next_header(IpNextHeaderProtocol(VRRP_PROTO));
            i.set_hop_limit(VRRP_TTL);
            i.set_source(src);
            i.set_destination(dst);
        }
        _ => return 0,
    }
    frame_len
}

/// Why bytes could not be read as a VRRP frame.
#[cfg(any(test, feature = "test-fixtures"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than the headers it claims to hold, or than its IP length announces.
    Truncated,
    /// Not IPv4 protocol 112 or IPv6 next header 112 in an Ethernet II frame.
    NotVrrp,
    /// The IPv4 header length field is below 5 words.
    BadHeaderLength(u8),
    /// The VRRP message is not 8 bytes plus its count of addresses.
    BadLength {
        /// What the count announces.
        expected: usize,
        /// What the IP header's length leaves for the message.
        got: usize,
    },
    /// The header is not a VRRPv3 advertisement.
    Vrrp(ParseError),
    /// No checksum form verifies.
    BadChecksum,
}

#[cfg(any(test, feature = "test-fixtures"))]
impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated => write!(f, "truncated frame"),
            FrameError::NotVrrp => write!(f, "not a VRRP frame"),
            FrameError::BadHeaderLength(ihl) => write!(f, "bad IPv4 header length: [{ihl}]"),
            FrameError::BadLength { expected, got } => {
                write!(f, "VRRP message of {got} bytes, its count says {expected}")
            }
            FrameError::Vrrp(e) => e.fmt(f),
            FrameError::BadChecksum => write!(f, "bad VRRP checksum"),
        }
    }
}

#[cfg(any(test, feature = "test-fixtures"))]
impl std::error::Error for FrameError {}

/// A whole VRRP frame, read structurally, for tests and fuzzing (`test-fixtures`): the
/// receive path is [`crate::rx::VrrpReceiver`].
#[cfg(any(test, feature = "test-fixtures"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpFrame {
    /// Ethernet destination.
    pub dst_mac: MacAddr,
    /// Ethernet source.
    pub src_mac: MacAddr,
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// IPv4 identification (0 for IPv6).
    pub ip_id: u16,
    /// IPv4 TOS, or the IPv6 traffic class.
    pub tos: u8,
    /// IPv4 TTL, or the IPv6 hop limit.
    pub ttl: u8,
    /// The IPv6 flow label (0 for IPv4).
    pub flow_label: u32,
    /// Vrid, priority and interval.
    pub advert: VrrpAdvert,
    /// The reserved bits before the interval.
    pub reserved: u8,
    /// The addresses, in order.
    pub addresses: Vec<IpAddr>,
    /// The stored checksum.
    pub checksum: u16,
    /// The first form that verifies, tried in [`crate::rx::VrrpReceiver`]'s order
    /// (with the actual destination, message only, with the group).
    pub form: ChecksumForm,
    /// Bytes after the IP length (Ethernet padding).
    pub trailing: usize,
}

#[cfg(any(test, feature = "test-fixtures"))]
impl VrrpFrame {
    /// Reads a frame: Ethernet II, IPv4 (options skipped) or IPv6 (no extension
    /// headers) with protocol 112, a VRRPv3 advertisement exactly as long as its count
    /// says within the IP length, and a checksum that verifies in some form.
    ///
    /// # Errors
    /// The first structural problem found, as a [`FrameError`].
    pub fn parse(frame: &[u8]) -> Result<VrrpFrame, FrameError> {
        let eth = EthernetPacket::new(frame).ok_or(FrameError::Truncated)?;
        let l3 = &frame[ETHERNET_HEADER_LEN..];
        let ipv6 = eth.get_ethertype() == EtherTypes::Ipv6;
        let (src, dst, ip_id, tos, ttl, flow_label, message, trailing) = if ipv6 {
            let ip = Ipv6Packet::new(l3).ok_or(FrameError::Truncated)?;
            if ip.get_version() != 6 || ip.get_next_header().0 != VRRP_PROTO {
                return Err(FrameError::NotVrrp);
            }
            let end = IPV6_HEADER_LEN + usize::from(ip.get_payload_length());
            let message = l3.get(IPV6_HEADER_LEN..end).ok_or(FrameError::Truncated)?;
            let src: IpAddr = ip.get_source().into();
            let dst: IpAddr = ip.get_destination().into();
            let (tc, hl, fl) = (
                ip.get_traffic_class(),
                ip.get_hop_limit(),
                ip.get_flow_label(),
            );
            (src, dst, 0, tc, hl, fl, message, l3.len() - end)
        } else {
            if eth.get_ethertype() != EtherTypes::Ipv4 {
                return Err(FrameError::NotVrrp);
            }
            let ip = Ipv4Packet::new(l3).ok_or(FrameError::Truncated)?;
            if ip.get_version() != 4 || ip.get_next_level_protocol().0 != VRRP_PROTO {
                return Err(FrameError::NotVrrp);
            }
            let ihl = ip.get_header_length();
            if ihl < 5 {
                return Err(FrameError::BadHeaderLength(ihl));
            }
            let end = usize::from(ip.get_total_length());
            let message = l3
                .get(usize::from(ihl) * 4..end)
                .ok_or(FrameError::Truncated)?;
            let tos = (ip.get_dscp() << 2) | ip.get_ecn();
            let src: IpAddr = ip.get_source().into();
            let dst: IpAddr = ip.get_destination().into();
            let id = ip.get_identification();
            (src, dst, id, tos, ip.get_ttl(), 0, message, l3.len() - end)
        };
        let v = VrrpPacket::new_checked(message).map_err(FrameError::Vrrp)?;
        if v.version() != VRRP_VERSION {
            return Err(FrameError::Vrrp(ParseError::BadVersion(v.version())));
        }
        if v.kind() != VRRP_TYPE_ADVERTISEMENT {
            return Err(FrameError::Vrrp(ParseError::BadType(v.kind())));
        }
        if v.message_len(ipv6) != message.len() {
            return Err(FrameError::BadLength {
                expected: v.message_len(ipv6),
                got: message.len(),
            });
        }
        let mut forms = [
            ChecksumForm::PseudoHeader,
            ChecksumForm::MessageOnly,
            ChecksumForm::GroupPseudoHeader,
        ]
        .into_iter()
        .filter(|&f| !(ipv6 && f == ChecksumForm::MessageOnly));
        let form = forms
            .find(|&f| verify(src, dst, message, f))
            .ok_or(FrameError::BadChecksum)?;
        Ok(VrrpFrame {
            dst_mac: eth.get_destination(),
            src_mac: eth.get_source(),
            src,
            dst,
            ip_id,
            tos,
            ttl,
            flow_label,
            advert: v.advert(),
            reserved: v.reserved(),
            addresses: v.addresses(ipv6).collect(),
            checksum: v.checksum(),
            form,
            trailing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_eq_hex, hex};

    /// The worked example (docs/PROTOCOL.md §14.2): vrid 51, priority 100, 1 s, VIP
    /// 192.0.2.100, from 192.0.2.1 to the group, keepalived's IPv4 header with id 0.
    const EXAMPLE_V4: &str = "01005e000012 00005e000133 0800
        45c0 0020 0000 0000 ff 70 189a c0000201 e0000012
        31 33 64 01 0064 0572 c0000264";

    fn v4(prio: u8) -> VrrpAdvert {
        VrrpAdvert {
            vrid: 51,
            priority: prio,
            interval_cs: 100,
        }
    }

    const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const VIP4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
    const GROUP4: IpAddr = IpAddr::V4(VRRP_MCAST_V4);

    fn emit4(prio: u8, dst: IpAddr, addresses: &[IpAddr]) -> Vec<u8> {
        let mut buf = vec![0xa5; MAX_VRRP_FRAME_LEN];
        let len = emit_vrrp_frame(
            &mut buf,
            MacAddr(0x01, 0, 0x5e, 0, 0, 0x12),
            vrrp_source_mac(51, false),
            SRC4,
            dst,
            0,
            v4(prio),
            addresses,
        );
        assert!(
            buf[len..].iter().all(|&b| b == 0xa5),
            "wrote past the frame"
        );
        buf.truncate(len);
        buf
    }

    fn vrrp_checksum(frame: &[u8]) -> u16 {
        let v = VrrpFrame::parse(frame).unwrap();
        v.checksum
    }

    #[test]
    fn worked_example_byte_for_byte() {
        let frame = emit4(100, GROUP4, &[VIP4]);
        assert_eq_hex(&frame, &hex(EXAMPLE_V4));
        assert_eq!(frame.len(), 46);
        assert_eq!(u16::from_be_bytes([frame[24], frame[25]]), 0x189a);
        let message = &frame[34..];
        let mut zeroed = message.to_vec();
        zeroed[6..8].fill(0);
        for (form, want) in [
            (ChecksumForm::PseudoHeader, 0x0572),
            (ChecksumForm::MessageOnly, 0xa802),
            (ChecksumForm::GroupPseudoHeader, 0x0572),
        ] {
            assert_eq!(checksum(SRC4, GROUP4, &zeroed, form), want, "{form:?}");
        }
        assert!(verify(SRC4, GROUP4, message, ChecksumForm::PseudoHeader));
        assert!(!verify(SRC4, GROUP4, message, ChecksumForm::MessageOnly));
        let parsed = VrrpFrame::parse(&frame).unwrap();
        assert_eq!(parsed.form, ChecksumForm::PseudoHeader);
        assert_eq!(parsed.advert, v4(100));
        assert_eq!(parsed.addresses, vec![VIP4]);
        assert_eq!((parsed.tos, parsed.ttl, parsed.ip_id), (0xc0, 255, 0));
    }

    #[test]
    fn worked_example_priority_zero_and_unicast() {
        let frame = emit4(0, GROUP4, &[VIP4]);
        assert_eq!(vrrp_checksum(&frame), 0x6972);
        let mut zeroed = frame[34..].to_vec();
        zeroed[6..8].fill(0);
        assert_eq!(
            checksum(SRC4, GROUP4, &zeroed, ChecksumForm::MessageOnly),
            0x0c03
        );
        let peer = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let unicast = emit4(100, peer, &[VIP4]);
        assert_eq!(vrrp_checksum(&unicast), 0x2382);
        assert_eq!(
            VrrpFrame::parse(&unicast).unwrap().form,
            ChecksumForm::PseudoHeader
        );
        // The old keepalived form of the same unicast advert: summed with the group.
        let mut old = unicast.clone();
        old[40..42].copy_from_slice(&0x0572u16.to_be_bytes());
        assert_eq!(
            VrrpFrame::parse(&old).unwrap().form,
            ChecksumForm::GroupPseudoHeader
        );
        // And Cisco's, without a pseudo-header.
        let mut cisco = unicast;
        cisco[40..42].copy_from_slice(&0xa802u16.to_be_bytes());
        assert_eq!(
            VrrpFrame::parse(&cisco).unwrap().form,
            ChecksumForm::MessageOnly
        );
    }

    /// An IPv6 advert, checked independently with python3 (the RFC 2460 pseudo-header
    /// summed by hand): vrid 52, priority 150, 3 s, two VIPs, fe80::1 to ff02::12
    /// (0xdbfa) or to fe80::2 (0xdc8c); the message alone sums to 0xda29.
    const EXAMPLE_V6: &str = "333300000012 00005e000234 86dd
        6c000000 0028 70 ff fe800000000000000000000000000001 ff020000000000000000000000000012
        31 34 96 02 012c dbfa 20010db8000000000000000000000100 20010db8000000000000000000000101";

    #[test]
    fn ipv6_example_byte_for_byte() {
        let src: IpAddr = "fe80::1".parse().unwrap();
        let vips: [IpAddr; 3] = [
            "2001:db8::100".parse().unwrap(),
            VIP4, // another family: skipped
            "2001:db8::101".parse().unwrap(),
        ];
        let advert = VrrpAdvert {
            vrid: 52,
            priority: 150,
            interval_cs: 300,
        };
        let mut buf = [0xa5u8; 200];
        let emit = |buf: &mut [u8], dst: IpAddr| {
            emit_vrrp_frame(
                buf,
                crate::wire::frame::multicast_mac6(VRRP_MCAST_V6),
                vrrp_source_mac(52, true),
                src,
                dst,
                0x1234, // unused by IPv6
                advert,
                &vips,
            )
        };
        let len = emit(&mut buf, VRRP_MCAST_V6.into());
        assert_eq_hex(&buf[..len], &hex(EXAMPLE_V6));
        assert!(buf[len..].iter().all(|&b| b == 0xa5));
        let f = VrrpFrame::parse(&buf[..len]).unwrap();
        assert_eq!(f.addresses, vec![vips[0], vips[2]]);
        assert_eq!(
            (f.tos, f.ttl, f.flow_label, f.form),
            (0xc0, 255, 0, ChecksumForm::PseudoHeader)
        );
        let peer: IpAddr = "fe80::2".parse().unwrap();
        let len = emit(&mut buf, peer);
        assert_eq!(VrrpFrame::parse(&buf[..len]).unwrap().checksum, 0xdc8c);
        let mut zeroed = buf[54..len].to_vec();
        zeroed[6..8].fill(0);
        assert_eq!(
            checksum(src, peer, &zeroed, ChecksumForm::MessageOnly),
            0xda29
        );
        assert_eq!(
            checksum(src, peer, &zeroed, ChecksumForm::GroupPseudoHeader),
            0xdbfa
        );
    }

    #[test]
    fn view_reads_every_field_and_masks_the_interval() {
        let mut bytes = hex("31 33 64 01 f064 0572 c0000264 ffffffff ffff");
        let p = VrrpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            (p.version(), p.kind(), p.vrid(), p.priority()),
            (3, 1, 51, 100)
        );
        assert_eq!((p.count(), p.reserved(), p.interval_cs()), (1, 0xf, 100));
        assert_eq!(p.checksum(), 0x0572);
        assert_eq!(p.message_len(false), 12);
        assert_eq!(p.message_len(true), 24);
        assert_eq!(p.addresses(false).collect::<Vec<_>>(), vec![VIP4]);
        // The count bounds the list; the buffer bounds it too.
        assert_eq!(p.addresses(true).count(), 0);
        bytes[3] = 5;
        let p = VrrpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.addresses(false).count(), 2);
        assert_eq!(p.advert().interval(), Duration::from_secs(1));
        let mut p = VrrpPacket::new_unchecked(&mut bytes[..]);
        p.set_interval_cs(0xffff);
        assert_eq!((p.reserved(), p.interval_cs()), (0, MAX_INTERVAL_CS));
        for len in 0..HEADER_LEN {
            assert_eq!(
                VrrpPacket::new_checked(&bytes[..len]),
                Err(ParseError::Truncated)
            );
        }
    }

    #[test]
    fn source_macs_and_groups() {
        assert_eq!(vrrp_source_mac(51, false), MacAddr(0, 0, 0x5e, 0, 1, 0x33));
        assert_eq!(vrrp_source_mac(255, true), MacAddr(0, 0, 0x5e, 0, 2, 0xff));
        assert_eq!(vrrp_group(false), GROUP4);
        assert_eq!(vrrp_group(true), IpAddr::from(VRRP_MCAST_V6));
        assert_eq!(MAX_VRRP_FRAME_LEN, 14 + 40 + 8 + 16 * 64);
    }

    #[test]
    fn long_lists_and_short_buffers_truncate_without_panicking() {
        let many: Vec<IpAddr> = (0..300u32)
            .map(|i| IpAddr::V4(Ipv4Addr::from(0xc000_0200 + i)))
            .collect();
        let frame = emit4(100, GROUP4, &many);
        let f = VrrpFrame::parse(&frame).unwrap();
        assert_eq!(f.addresses, many[..MAX_ADDRESSES].to_vec());
        // A buffer that holds the headers and two addresses and a half.
        let mut small = [0u8; 14 + 20 + 8 + 10];
        let len = emit_vrrp_frame(
            &mut small,
            MacAddr::zero(),
            MacAddr::zero(),
            SRC4,
            GROUP4,
            7,
            v4(1),
            &many,
        );
        assert_eq!(len, 14 + 20 + 8 + 8);
        assert_eq!(
            VrrpFrame::parse(&small[..len]).unwrap().addresses,
            many[..2].to_vec()
        );
        // Every buffer size, both families: never a panic, always a readable frame.
        let six: Vec<IpAddr> = vec!["2001:db8::1".parse().unwrap(); 3];
        for (src, dst, list) in [
            (SRC4, GROUP4, &many[..3]),
            (
                "fe80::1".parse().unwrap(),
                IpAddr::from(VRRP_MCAST_V6),
                &six[..],
            ),
        ] {
            for size in 0..120 {
                let mut buf = vec![0u8; size];
                let len = emit_vrrp_frame(
                    &mut buf,
                    MacAddr::zero(),
                    MacAddr::zero(),
                    src,
                    dst,
                    0,
                    v4(9),
                    list,
                );
                assert!(len <= size);
                if len > 0 {
                    assert!(VrrpFrame::parse(&buf[..len]).is_ok(), "size {size}");
                }
            }
        }
        // Mixed families write nothing.
        let mut buf = [0u8; MAX_VRRP_FRAME_LEN];
        let len = emit_vrrp_frame(
            &mut buf,
            MacAddr::zero(),
            MacAddr::zero(),
            SRC4,
            VRRP_MCAST_V6.into(),
            0,
            v4(9),
            &[VIP4],
        );
        assert_eq!(len, 0);
    }

    #[test]
    fn frame_reader_errors() {
        let good = hex(EXAMPLE_V4);
        assert_eq!(VrrpFrame::parse(&good[..13]), Err(FrameError::Truncated));
        assert_eq!(VrrpFrame::parse(&good[..45]), Err(FrameError::Truncated));
        let mut f = good.clone();
        f[23] = 17;
        assert_eq!(VrrpFrame::parse(&f), Err(FrameError::NotVrrp));
        let mut f = good.clone();
        f[14] = 0x44;
        assert_eq!(VrrpFrame::parse(&f), Err(FrameError::BadHeaderLength(4)));
        let mut f = good.clone();
        f[34] = 0x21;
        assert_eq!(
            VrrpFrame::parse(&f),
            Err(FrameError::Vrrp(ParseError::BadVersion(2)))
        );
        let mut f = good.clone();
        f[34] = 0x32;
        assert_eq!(
            VrrpFrame::parse(&f),
            Err(FrameError::Vrrp(ParseError::BadType(2)))
        );
        let mut f = good.clone();
        f[37] = 2;
        assert_eq!(
            VrrpFrame::parse(&f),
            Err(FrameError::BadLength {
                expected: 16,
                got: 12
            })
        );
        let mut f = good.clone();
        f[45] ^= 1;
        assert_eq!(VrrpFrame::parse(&f), Err(FrameError::BadChecksum));
        // Ethernet padding after the IP length is not part of the message.
        let mut padded = good.clone();
        padded.resize(60, 0);
        let p = VrrpFrame::parse(&padded).unwrap();
        assert_eq!(p.trailing, 14);
        assert_eq!(p.addresses, vec![VIP4]);
    }

    #[test]
    fn display_and_names() {
        assert_eq!(
            v4(100).to_string(),
            "VRRPv3 vrid 51 priority 100 interval 1.00 s"
        );
        assert_eq!(ParseError::BadType(2).to_string(), "Bad VRRP type: [2]");
        assert_eq!(ChecksumForm::MessageOnly.name(), "message-only");
    }
}
