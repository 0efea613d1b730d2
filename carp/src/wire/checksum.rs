//! The Internet checksum of RFC 1071, used by the IPv4 header, the CARP header
//! (docs/PROTOCOL.md §2.2, §2.3, §4.3 step 9) and ICMPv6 neighbour advertisements.
//!
//! Pure arithmetic over byte slices: no allocation, no I/O. The receive path needs the
//! one's-complement *sum* over two regions at once (IP header + CARP header), so the
//! accumulate and fold steps are public separately.

/// Adds `data` to a running one's-complement sum of big-endian 16-bit words.
///
/// An odd trailing byte is padded with a zero byte, as RFC 1071 §4.1 prescribes. Only
/// the last region of a multi-part sum may have an odd length.
pub fn accumulate(mut sum: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        // Fold early so that the running sum can never overflow, whatever the length.
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// Folds a running sum into the 16-bit one's-complement checksum value to store.
pub fn finish(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // Truncation is the point: after folding, `sum` fits in 16 bits.
    !(sum as u16)
}

/// Computes the checksum of `data`, with whatever the checksum field holds counted as is.
///
/// To fill a checksum field, zero it first and store the result; to verify a region that
/// includes its checksum field, see [`verify`].
pub fn checksum(data: &[u8]) -> u16 {
    finish(accumulate(0, data))
}

/// Returns true when the one's-complement sum over `data` (checksum field included)
/// verifies, i.e. folds to all ones.
pub fn verify(data: &[u8]) -> bool {
    checksum(data) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 worked example: words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_is_zero_padded() {
        assert_eq!(
            checksum(&[0x12, 0x34, 0x56]),
            checksum(&[0x12, 0x34, 0x56, 0x00])
        );
    }

    #[test]
    fn split_sum_equals_whole_sum() {
        let data: Vec<u8> = (0u8..=255).collect();
        let (a, b) = data.split_at(100);
        assert_eq!(finish(accumulate(accumulate(0, a), b)), checksum(&data));
    }

    #[test]
    fn filled_checksum_verifies() {
        let mut data = [
            0x45, 0x10, 0x00, 0x38, 0x94, 0x13, 0x40, 0x00, 0xff, 0x70, 0, 0,
        ];
        let c = checksum(&data);
        data[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(verify(&data));
    }

    #[test]
    fn empty_input() {
        assert_eq!(checksum(&[]), 0xffff);
        assert!(!verify(&[]));
    }
}
