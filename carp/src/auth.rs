//! Advert authentication (docs/PROTOCOL.md §3): HMAC-SHA1 keyed with the password, over
//! `02 01 vhid vaddr counter`, and its constant-time verification.
//!
//! Pure: never opens a socket, never reads the clock. The key never leaves this module
//! and is never printed: `Key`'s `Debug` shows nothing of it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::wire::packet::{CARP_TYPE_ADVERTISEMENT, CARP_VERSION, DIGEST_LEN};

type HmacSha1 = Hmac<Sha1>;

/// The longest password ucarp accepts, in bytes (docs/PROTOCOL.md §3.1: the 20-byte key buffer
/// must also hold a NUL, so 20 bytes or more are refused).
pub const MAX_PASSWORD_LEN: usize = 19;

/// Why a password cannot be a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The password is empty (ucarp treats it as absent).
    Empty,
    /// The password is longer than [`MAX_PASSWORD_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Empty => write!(f, "You must supply a password"),
            KeyError::TooLong { len } => write!(
                f,
                "Password too long ({len} bytes; at most {MAX_PASSWORD_LEN} are allowed)"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// An HMAC-SHA1 key made from the shared password.
///
/// The keyed HMAC state is computed once; each signature clones it.
#[derive(Clone)]
pub struct Key {
    keyed: HmacSha1,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// A digest that did not match, with the first four bytes of each for ucarp's log line
/// `Bad digest - md2=[..] md=[..]` (docs/PROTOCOL.md §3.2). Four bytes of a digest say nothing
/// useful about the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestMismatch {
    /// First bytes of the digest this node computed.
    pub expected: [u8; 4],
    /// First bytes of the digest the packet carried.
    pub received: [u8; 4],
}

/// A key bound to one virtual host, ready to sign or check adverts. Cheap to clone.
///
/// Two formats. ucarp's (docs/PROTOCOL.md §3.2): the HMAC state after `02 01 vhid` and
/// the addresses, then the counter; advbase and advskew are not covered, so a captured
/// advert can be replayed with them rewritten. `--strict-auth`'s
/// ([`Key::strict_signer`]): a domain tag, the addresses, then the six header bytes
/// before the checksum (version and type, vhid, advskew, authlen, reserved, advbase)
/// and the counter, so that every field that means something is signed. (The fields
/// and counter have fixed lengths and come last, so the message is unambiguous.)
#[derive(Clone)]
pub struct Signer {
    prefix: HmacSha1,
    whole: bool,
}

/// The first bytes of `--strict-auth`'s HMAC message: a digest of one format can never
/// be taken for one of the other.
const STRICT_TAG: &[u8] = b"ucarp-rs strict advert v1\0";

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(..)")
    }
}

/// Orders addresses for the digest: IPv4 ascending, as BSD carp hashes them (docs/PROTOCOL.md
/// §11.2), then IPv6. BSD hashes its IPv6 addresses in the interface's list order, which
/// a command line does not have, so they are sorted ascending too: our own choice,
/// which makes the order of `-a` options irrelevant. With one IPv4 address this is
/// exactly ucarp's message.
pub fn hmac_order(addrs: &[IpAddr]) -> Vec<IpAddr> {
    let mut v4: Vec<Ipv4Addr> = addrs
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
        .collect();
    let mut v6: Vec<std::net::Ipv6Addr> = addrs
        .iter()
        .filter_map(|a| match a {
            IpAddr::V6(a) => Some(*a),
            IpAddr::V4(_) => None,
        })
        .collect();
    v4.sort();
    v6.sort();
    v4.into_iter()
        .map(IpAddr::V4)
        .chain(v6.into_iter().map(IpAddr::V6))
        .collect()
}

impl Signer {
    /// Whether this signer covers the whole header (`--strict-auth`).
    pub fn is_strict(&self) -> bool {
        self.whole
    }

    fn mac(&self, fields: &[u8; 6], counter: &[u8; 8]) -> HmacSha1 {
        let mut mac = self.prefix.clone();
        if self.whole {
            mac.update(fields);
        }
        mac.update(counter);
        mac
    }

    /// Computes the digest of an advert with these six leading header bytes (ignored
    /// in ucarp's format, whose prefix already holds the vhid) and counter bytes.
    pub fn sign(&self, fields: &[u8; 6], counter: &[u8; 8]) -> [u8; DIGEST_LEN] {
        self.mac(fields, counter).finalize().into_bytes().into()
    }

    /// Checks a received digest in constant time.
    ///
    /// # Errors
    /// A [`DigestMismatch`] carrying the first bytes of both digests for the log.
    pub fn verify(
        &self,
        fields: &[u8; 6],
        counter: &[u8; 8],
        md: &[u8; DIGEST_LEN],
    ) -> Result<(), DigestMismatch> {
        let expected = self.mac(fields, counter).finalize();
        // `CtOutput`'s equality is constant-time (subtle), unlike ucarp's memcmp.
        if expected == hmac::digest::CtOutput::new((*md).into()) {
            return Ok(());
        }
        let expected = expected.into_bytes();
        let mut mismatch = DigestMismatch {
            expected: [0; 4],
            received: [0; 4],
        };
        mismatch.expected.copy_from_slice(&expected[..4]);
        mismatch.received.copy_from_slice(&md[..4]);
        Err(mismatch)
    }
}

/// Feeds the addresses to the HMAC in [`hmac_order`].
fn update_addrs(mac: &mut HmacSha1, addrs: &[IpAddr]) {
    for a in hmac_order(addrs) {
        match a {
            IpAddr::V4(a) => mac.update(&a.octets()),
            IpAddr::V6(a) => mac.update(&a.octets()),
        }
    }
}

impl Key {
    /// Binds the key to a virtual host: its vhid and the addresses the digest covers,
    /// hashed in [`hmac_order`] (docs/PROTOCOL.md §3.2, §11.2).
    pub fn signer(&self, vhid: u8, addrs: &[IpAddr]) -> Signer {
        let mut prefix = self.keyed.clone();
        prefix.update(&[CARP_VERSION, CARP_TYPE_ADVERTISEMENT, vhid]);
        update_addrs(&mut prefix, addrs);
        Signer {
            prefix,
            whole: false,
        }
    }

    /// Binds the key to the addresses for `--strict-auth`'s format, which signs the
    /// whole header (see [`Signer`]). Only nodes with the option understand it.
    pub fn strict_signer(&self, addrs: &[IpAddr]) -> Signer {
        let mut prefix = self.keyed.clone();
        prefix.update(STRICT_TAG);
        update_addrs(&mut prefix, addrs);
        Signer {
            prefix,
            whole: true,
        }
    }

    /// Makes a key from the password bytes, used as the HMAC key as they are (no hashing).
    ///
    /// # Errors
    /// [`KeyError::Empty`] or [`KeyError::TooLong`].
    pub fn new(password: &[u8]) -> Result<Key, KeyError> {
        if password.is_empty() {
            return Err(KeyError::Empty);
        }
        if password.len() > MAX_PASSWORD_LEN {
            return Err(KeyError::TooLong {
                len: password.len(),
            });
        }
        // ucarp zero-pads the password into a 20-byte buffer; trailing zero bytes of a
        // key shorter than the 64-byte block do not change HMAC, so the bare password is
        // the same key (docs/PROTOCOL.md §3.1).
        let keyed = HmacSha1::new_from_slice(password).map_err(|_| KeyError::Empty)?;
        Ok(Key { keyed })
    }

    /// Computes the digest of an advert for one IPv4 virtual address, as ucarp does
    /// (docs/PROTOCOL.md §3.2). `counter` is the eight bytes as they appear on the wire.
    pub fn sign(&self, vhid: u8, vaddr: Ipv4Addr, counter: &[u8; 8]) -> [u8; DIGEST_LEN] {
        self.signer(vhid, &[vaddr.into()]).sign(&[0; 6], counter)
    }

    /// Checks a received digest for one IPv4 virtual address, in constant time.
    ///
    /// # Errors
    /// A [`DigestMismatch`] carrying the first bytes of both digests for the log.
    pub fn verify(
        &self,
        vhid: u8,
        vaddr: Ipv4Addr,
        counter: &[u8; 8],
        md: &[u8; DIGEST_LEN],
    ) -> Result<(), DigestMismatch> {
        self.signer(vhid, &[vaddr.into()])
            .verify(&[0; 6], counter, md)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hex;

    /// RFC 2202 §3 test cases for HMAC-SHA1 whose keys fit the 19-byte limit, plus the
    /// long-key ones run through the underlying HMAC directly.
    #[test]
    fn rfc2202_vectors() {
        let cases: &[(Vec<u8>, Vec<u8>, &str)] = &[
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b617318655057264e28bc0b6fb378c8ef146be00",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
            ),
            (
                (1u8..=25).collect(),
                vec![0xcd; 50],
                "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
            ),
            (
                vec![0x0c; 20],
                b"Test With Truncation".to_vec(),
                "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
            ),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "aa4ae5e15272d00e95705637ce8a3b55ed402112",
            ),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"
                    .to_vec(),
                "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
            ),
        ];
        for (key, data, digest) in cases {
            let mut mac = HmacSha1::new_from_slice(key).unwrap();
            mac.update(data);
            assert_eq!(
                mac.finalize().into_bytes().to_vec(),
                hex(digest),
                "key {key:02x?}"
            );
        }
        // The one RFC 2202 key short enough for ucarp, through our own Key type.
        let jefe = Key::new(b"Jefe").unwrap();
        let mut mac = jefe.keyed.clone();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            mac.finalize().into_bytes().to_vec(),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
    }

    /// The golden frame of docs/PROTOCOL.md §2.3: password `secret`, vhid 7, VIP 10.9.0.100.
    #[test]
    fn golden_digest() {
        let key = Key::new(b"secret").unwrap();
        let counter = hex("3d0e479ccf9f13d4").try_into().unwrap();
        let md: [u8; 20] = hex("004412d3cd302a583bd59d5bec8350092bdb0e85")
            .try_into()
            .unwrap();
        let vaddr = Ipv4Addr::new(10, 9, 0, 100);
        assert_eq!(key.sign(7, vaddr, &counter), md);
        assert_eq!(key.verify(7, vaddr, &counter, &md), Ok(()));
        let other = Key::new(b"secreT").unwrap();
        let err = other.verify(7, vaddr, &counter, &md).unwrap_err();
        assert_eq!(err.received, [0x00, 0x44, 0x12, 0xd3]);
        assert_ne!(err.expected, err.received);
        // The digest covers vhid and vaddr too.
        assert!(key.verify(8, vaddr, &counter, &md).is_err());
        assert!(key
            .verify(7, Ipv4Addr::new(10, 9, 0, 101), &counter, &md)
            .is_err());
    }

    #[test]
    fn password_length_limits() {
        assert_eq!(Key::new(b"").unwrap_err(), KeyError::Empty);
        assert!(Key::new(&[b'x'; MAX_PASSWORD_LEN]).is_ok());
        assert_eq!(
            Key::new(&[b'x'; 20]).unwrap_err(),
            KeyError::TooLong { len: 20 }
        );
    }

    /// Several addresses are hashed IPv4 ascending, then IPv6 ascending, whatever the
    /// order given (BSD carp's message for IPv4; see [`hmac_order`] for IPv6).
    #[test]
    fn several_addresses_in_bsd_order() {
        let key = Key::new(b"secret").unwrap();
        let a: IpAddr = Ipv4Addr::new(192, 0, 2, 200).into();
        let b: IpAddr = Ipv4Addr::new(192, 0, 2, 100).into();
        let c: IpAddr = "2001:db8::1".parse().unwrap();
        let counter = [1, 2, 3, 4, 5, 6, 7, 8];
        let md = key.signer(7, &[c, a, b]).sign(&[0; 6], &counter);
        let mut mac = HmacSha1::new_from_slice(b"secret").unwrap();
        mac.update(&[2, 1, 7, 192, 0, 2, 100, 192, 0, 2, 200]);
        mac.update(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        mac.update(&counter);
        assert_eq!(md.to_vec(), mac.finalize().into_bytes().to_vec());
        assert_eq!(key.signer(7, &[b, c, a]).sign(&[0; 6], &counter), md);
        // One IPv4 address: ucarp's digest.
        assert_eq!(
            key.signer(7, &[b]).sign(&[0; 6], &counter),
            key.sign(7, Ipv4Addr::new(192, 0, 2, 100), &counter)
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let key = Key::new(b"topsecret").unwrap();
        assert_eq!(format!("{key:?}"), "Key(..)");
    }

    /// `--strict-auth`'s digest covers advbase, advskew and the other header fields,
    /// and never equals ucarp's: a captured advert rewritten, or one of the other
    /// format, does not verify.
    #[test]
    fn the_strict_format_signs_the_whole_header() {
        let key = Key::new(b"secret").unwrap();
        let addrs: [IpAddr; 1] = [Ipv4Addr::new(192, 0, 2, 100).into()];
        let strict = key.strict_signer(&addrs);
        let ucarp = key.signer(7, &addrs);
        assert!(strict.is_strict() && !ucarp.is_strict());
        let fields = [0x21, 7, 50, 7, 0, 1];
        let counter = 42u64.to_be_bytes();
        let md = strict.sign(&fields, &counter);
        assert_eq!(strict.verify(&fields, &counter, &md), Ok(()));
        assert!(ucarp.verify(&fields, &counter, &md).is_err());
        assert!(strict
            .verify(&fields, &counter, &ucarp.sign(&fields, &counter))
            .is_err());
        for (i, forged) in [(2, 255), (5, 255), (1, 8), (3, 0), (4, 9), (0, 0x22)] {
            let mut f = fields;
            f[i] = forged;
            assert!(strict.verify(&f, &counter, &md).is_err(), "byte {i}");
            // ucarp's format covers none of them (its vhid is bound in the signer and
            // checked by the receiver on its own): the forgery passes.
            assert!(ucarp
                .verify(&f, &counter, &ucarp.sign(&fields, &counter))
                .is_ok());
        }
        let other_addr = key.strict_signer(&[Ipv4Addr::new(192, 0, 2, 101).into()]);
        assert!(other_addr.verify(&fields, &counter, &md).is_err());
    }
}
