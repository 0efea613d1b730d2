//! The CARP advertisement header (docs/PROTOCOL.md §2.3): a zero-copy view over the 36 bytes that
//! follow the IP header (IPv4 as in ucarp, or IPv6 as in BSD carp), and a value type
//! for what those bytes mean.
//!
//! Pure: this module never opens a socket, never reads the clock and never allocates.
//! Once [`CarpPacket::new_checked`] has succeeded, no accessor can panic.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  |     VHID      |    AdvSkew    |    AuthLen    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Reserved    |    AdvBase    |           Checksum            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Counter (64 bits, big-endian)                 |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +            HMAC-SHA1 digest "md" (20 bytes, docs/PROTOCOL.md §3)       +
//! |                              ...                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::checksum;

/// IP protocol number of CARP (and of VRRP, which shares it).
pub const CARP_PROTO: u8 = 112;
/// The CARP version ucarp speaks and requires on receipt (docs/PROTOCOL.md §4.3 step 6).
pub const CARP_VERSION: u8 = 2;
/// The only CARP message type: an advertisement.
pub const CARP_TYPE_ADVERTISEMENT: u8 = 1;
/// Length of counter + digest in 32-bit words, as sent (never checked on receipt).
pub const CARP_AUTHLEN: u8 = 7;
/// IPv4 TTL (IPv6 hop limit) of every advert; anything else is rejected on receipt
/// (docs/PROTOCOL.md §4.3 step 5).
pub const CARP_TTL: u8 = 255;
/// The default IPv4 multicast group and destination address of adverts.
pub const CARP_MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 group and destination of adverts, as in BSD carp (docs/PROTOCOL.md §2.4).
pub const CARP_MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Length of the HMAC-SHA1 digest in bytes.
pub const DIGEST_LEN: usize = 20;

/// Byte offsets of the header fields (docs/PROTOCOL.md §2.3).
mod field {
    use std::ops::Range;

    pub const VERSION_TYPE: usize = 0;
    pub const VHID: usize = 1;
    pub const ADVSKEW: usize = 2;
    pub const AUTHLEN: usize = 3;
    /// OpenBSD's `carp_demote`; ucarp sends 0 and ignores it.
    pub const RESERVED: usize = 4;
    pub const ADVBASE: usize = 5;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const COUNTER: Range<usize> = 8..16;
    pub const MD: Range<usize> = 16..36;
}

/// Why bytes could not be read as a CARP advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer than [`HEADER_LEN`] bytes.
    Truncated,
    /// The version nibble is not [`CARP_VERSION`].
    BadVersion(u8),
    /// The checksum over the 36 bytes does not verify.
    BadChecksum,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated => write!(f, "truncated CARP header"),
            ParseError::BadVersion(v) => write!(f, "Bad version: [{v}]"),
            ParseError::BadChecksum => write!(f, "Bad CARP checksum"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Length of the CARP header in bytes. Bytes after it are ignored, as ucarp does.
pub const HEADER_LEN: usize = 36;

/// A read/write view over a buffer that holds a CARP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarpPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> CarpPacket<T> {
    /// Wraps a buffer without checking its length; accessors may panic on a short one.
    ///
    /// Use this only on buffers the program sized itself (emitting); use
    /// [`new_checked`](Self::new_checked) on anything received.
    pub const fn new_unchecked(buffer: T) -> Self {
        CarpPacket { buffer }
    }

    /// Wraps a buffer after checking it is long enough for every accessor.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] when it holds fewer than [`HEADER_LEN`] bytes.
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds at least [`HEADER_LEN`] bytes.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] otherwise.
    pub fn check_len(&self) -> Result<(), ParseError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(ParseError::Truncated)
        } else {
            Ok(())
        }
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Returns the version nibble (2 for CARP).
    pub fn version(&self) -> u8 {
        self.bytes()[field::VERSION_TYPE] >> 4
    }

    /// Returns the type nibble (1 for an advertisement; never checked by ucarp).
    pub fn kind(&self) -> u8 {
        self.bytes()[field::VERSION_TYPE] & 0x0f
    }

    /// Returns the virtual host id.
    pub fn vhid(&self) -> u8 {
        self.bytes()[field::VHID]
    }

    /// Returns the advertised skew, in 1/256 s.
    pub fn advskew(&self) -> u8 {
        self.bytes()[field::ADVSKEW]
    }

    /// Returns the length of counter + digest in 32-bit words.
    pub fn authlen(&self) -> u8 {
        self.bytes()[field::AUTHLEN]
    }

    /// Returns the reserved byte (OpenBSD's demotion counter).
    pub fn reserved(&self) -> u8 {
        self.bytes()[field::RESERVED]
    }

    /// Returns the advertised base interval, in seconds.
    pub fn advbase(&self) -> u8 {
        self.bytes()[field::ADVBASE]
    }

    /// Returns the stored checksum.
    pub fn checksum(&self) -> u16 {
        let b = &self.bytes()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Returns the eight counter bytes exactly as on the wire (the HMAC covers these).
    pub fn counter_bytes(&self) -> [u8; 8] {
        let mut out = [0; 8];
        out.copy_from_slice(&self.bytes()[field::COUNTER]);
        out
    }

    /// Returns the counter as a number (big-endian on the wire, docs/PROTOCOL.md §2.3).
    pub fn counter(&self) -> u64 {
        u64::from_be_bytes(self.counter_bytes())
    }

    /// Returns the six header bytes before the checksum (version and type, vhid,
    /// advskew, authlen, reserved, advbase), exactly as on the wire: what
    /// `--strict-auth`'s digest covers besides the counter.
    pub fn signed_fields(&self) -> [u8; 6] {
        let mut out = [0; 6];
        out.copy_from_slice(&self.bytes()[..6]);
        out
    }

    /// Returns the HMAC-SHA1 digest.
    pub fn md(&self) -> [u8; DIGEST_LEN] {
        let mut out = [0; DIGEST_LEN];
        out.copy_from_slice(&self.bytes()[field::MD]);
        out
    }

    /// Returns true when the checksum over the 36 header bytes verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(&self.bytes()[..HEADER_LEN])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> CarpPacket<T> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the version and type nibbles.
    pub fn set_version_kind(&mut self, version: u8, kind: u8) {
        self.bytes_mut()[field::VERSION_TYPE] = (version << 4) | (kind & 0x0f);
    }

    /// Sets the virtual host id.
    pub fn set_vhid(&mut self, value: u8) {
        self.bytes_mut()[field::VHID] = value;
    }

    /// Sets the advertised skew, in 1/256 s.
    pub fn set_advskew(&mut self, value: u8) {
        self.bytes_mut()[field::ADVSKEW] = value;
    }

    /// Sets the authentication length, in 32-bit words.
    pub fn set_authlen(&mut self, value: u8) {
        self.bytes_mut()[field::AUTHLEN] = value;
    }

    /// Sets the reserved byte.
    pub fn set_reserved(&mut self, value: u8) {
        self.bytes_mut()[field::RESERVED] = value;
    }

    /// Sets the advertised base interval, in seconds.
    pub fn set_advbase(&mut self, value: u8) {
        self.bytes_mut()[field::ADVBASE] = value;
    }

    /// Stores a checksum value as is.
    pub fn set_checksum(&mut self, value: u16) {
        self.bytes_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the counter (stored big-endian).
    pub fn set_counter(&mut self, value: u64) {
        self.bytes_mut()[field::COUNTER].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the HMAC-SHA1 digest.
    pub fn set_md(&mut self, value: &[u8; DIGEST_LEN]) {
        self.bytes_mut()[field::MD].copy_from_slice(value);
    }

    /// Computes the checksum over the 36 header bytes and stores it (RFC 1071).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let value = checksum::checksum(&self.bytes()[..HEADER_LEN]);
        self.set_checksum(value);
    }
}

/// A CARP advertisement: the fields a node sends and an authenticated receiver acts on.
///
/// The type nibble, authlen and reserved byte are not kept: ucarp never checks them on
/// receipt (docs/PROTOCOL.md §4.3) and always sends 1, 7 and 0, which [`emit`](Self::emit)
/// writes. So emit-then-parse is the identity on this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Advert {
    /// Virtual host id, 1–255.
    pub vhid: u8,
    /// Base interval in seconds.
    pub advbase: u8,
    /// Skew in 1/256 s, added to `advbase`.
    pub advskew: u8,
    /// The counter that the digest covers (docs/PROTOCOL.md §3.3).
    pub counter: u64,
    /// HMAC-SHA1 digest over version, type, vhid, virtual address and counter (docs/PROTOCOL.md
    /// §3.2).
    pub md: [u8; DIGEST_LEN],
}

impl Advert {
    /// Returns true for a bow-out: advbase and advskew both 255, "I am leaving, take
    /// over" (BSD carp's convention).
    pub fn is_bow_out(&self) -> bool {
        self.advbase == u8::MAX && self.advskew == u8::MAX
    }

    /// Length of an emitted advertisement in bytes.
    pub const LEN: usize = HEADER_LEN;

    /// The six header bytes before the checksum, as [`emit`](Self::emit) writes them
    /// (see [`CarpPacket::signed_fields`]).
    pub fn signed_fields(&self) -> [u8; 6] {
        [
            CARP_VERSION << 4 | CARP_TYPE_ADVERTISEMENT,
            self.vhid,
            self.advskew,
            CARP_AUTHLEN,
            0,
            self.advbase,
        ]
    }

    /// Reads an advertisement, checking length, version and checksum in that order.
    ///
    /// # Errors
    /// The first check that fails, as a [`ParseError`].
    pub fn parse<T: AsRef<[u8]>>(packet: &CarpPacket<T>) -> Result<Advert, ParseError> {
        packet.check_len()?;
        if packet.version() != CARP_VERSION {
            return Err(ParseError::BadVersion(packet.version()));
        }
        if !packet.verify_checksum() {
            return Err(ParseError::BadChecksum);
        }
        Ok(Advert::from_packet(packet))
    }

    /// Reads the fields without any check beyond the length already checked.
    ///
    /// The receive path (`rx`) uses this after its own checks, which follow ucarp's
    /// order rather than [`parse`](Self::parse)'s.
    pub(crate) fn from_packet<T: AsRef<[u8]>>(packet: &CarpPacket<T>) -> Advert {
        Advert {
            vhid: packet.vhid(),
            advbase: packet.advbase(),
            advskew: packet.advskew(),
            counter: packet.counter(),
            md: packet.md(),
        }
    }

    /// Writes every byte of the header, checksum included.
    ///
    /// # Panics
    /// If the buffer is shorter than [`Advert::LEN`]; callers size it themselves.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut CarpPacket<T>) {
        packet.set_version_kind(CARP_VERSION, CARP_TYPE_ADVERTISEMENT);
        packet.set_vhid(self.vhid);
        packet.set_advskew(self.advskew);
        packet.set_authlen(CARP_AUTHLEN);
        packet.set_reserved(0);
        packet.set_advbase(self.advbase);
        packet.set_counter(self.counter);
        packet.set_md(&self.md);
        packet.fill_checksum();
    }
}

impl fmt::Display for Advert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CARP advert vhid={} advbase={} advskew={} counter={:#018x}",
            self.vhid, self.advbase, self.advskew, self.counter
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{golden_advert, hex};

    /// The CARP part of the golden frame of docs/PROTOCOL.md §2.3 (password `secret`, vhid 7).
    fn golden() -> Vec<u8> {
        hex("2107000700011c14 3d0e479ccf9f13d4 004412d3cd302a583bd59d5bec8350092bdb0e85")
    }

    #[test]
    fn deconstruct_golden() {
        let bytes = golden();
        let p = CarpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.version(), 2);
        assert_eq!(p.kind(), 1);
        assert_eq!(p.vhid(), 7);
        assert_eq!(p.advskew(), 0);
        assert_eq!(p.authlen(), 7);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.advbase(), 1);
        assert_eq!(p.checksum(), 0x1c14);
        assert!(p.verify_checksum());
        assert_eq!(Advert::parse(&p), Ok(golden_advert()));
    }

    #[test]
    fn construct_golden_into_a5_buffer() {
        let mut buf = [0xa5u8; HEADER_LEN];
        golden_advert().emit(&mut CarpPacket::new_unchecked(&mut buf[..]));
        assert_eq!(buf.to_vec(), golden());
    }

    #[test]
    fn short_buffers_are_truncated_not_panics() {
        for len in 0..HEADER_LEN {
            let buf = vec![0x21; len];
            assert_eq!(
                CarpPacket::new_checked(&buf[..]),
                Err(ParseError::Truncated)
            );
            assert_eq!(
                Advert::parse(&CarpPacket::new_unchecked(&buf[..])),
                Err(ParseError::Truncated)
            );
        }
    }

    #[test]
    fn parse_checks_version_then_checksum() {
        let mut bytes = golden();
        bytes[0] = 0x31; // VRRPv3's first byte
        let p = CarpPacket::new_unchecked(&bytes[..]);
        assert_eq!(Advert::parse(&p), Err(ParseError::BadVersion(3)));
        let mut bytes = golden();
        bytes[20] ^= 1;
        let p = CarpPacket::new_unchecked(&bytes[..]);
        assert_eq!(Advert::parse(&p), Err(ParseError::BadChecksum));
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        let mut bytes = golden();
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        let p = CarpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(Advert::parse(&p), Ok(golden_advert()));
    }

    #[test]
    fn type_authlen_reserved_are_not_checked() {
        // docs/PROTOCOL.md §4.3: "type=2, authlen=0, pad=5 ... is accepted".
        let mut bytes = golden();
        let mut p = CarpPacket::new_unchecked(&mut bytes[..]);
        p.set_version_kind(2, 2);
        p.set_authlen(0);
        p.set_reserved(5);
        p.fill_checksum();
        assert_eq!(Advert::parse(&p), Ok(golden_advert()));
    }
}
