//! The VRRPv3 advertisement (RFC 5798 §5, docs/PROTOCOL.md §14): the 8-byte header and
//! its address list, the value type for what a node advertises, and the checksum forms
//! seen in the field.
//!
//! Pure: never opens a socket, never reads the clock.
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
use std::time::Duration;

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
