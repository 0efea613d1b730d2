//! Test fixtures: the golden frames captured from Debian's ucarp, the VRRPv3 checksum
//! worked example, hex decoding and a hex-printing assertion. Compiled for this crate's
//! tests and, with the `test-fixtures` feature, for the tests of crates built on it;
//! never in a release build (the helpers panic on bad input, as test helpers should).

#![allow(clippy::unwrap_used, missing_docs)]

/// docs/PROTOCOL.md §2.3: advert captured from real ucarp (password `secret`, vhid 7,
/// VIP 10.9.0.100, srcip 10.9.0.1, default group).
pub const GOLDEN_ADVERT_FRAME: &str = "01005e000012 00005e000007 0800
    45 10 0038 9413 4000 ff 70 fd15 0a090001 e0000012
    21 07 00 07 00 01 1c14 3d0e479ccf9f13d4 004412d3cd302a583bd59d5bec8350092bdb0e85";

/// docs/PROTOCOL.md §6: gratuitous ARP captured from real ucarp (NIC MAC fa:bd:4f:4d:e3:43,
/// VIP 10.9.0.100).
pub const GOLDEN_GARP_FRAME: &str = "ffffffffffff fabd4f4de343 0806 0001 0800 06 04 0001
    fabd4f4de343 0a090064 fabd4f4de343 0a090064";

/// A worked example of the VRRPv3 checksum (docs/PROTOCOL.md §14.2), byte for byte what keepalived 2.2.7
/// sends (`tests/data/keepalived-v4-vrid51.bin`) but for its IP id (0 here) and source
/// MAC (the virtual router MAC here): vrid 51, priority 100, interval 100 cs, VIP
/// 192.0.2.100, from 192.0.2.1 to 224.0.0.18, TOS 0xC0, no DF; IP checksum 0x189a, VRRP
/// checksum 0x0572 (pseudo-header form).
pub const VRRP_EXAMPLE_FRAME: &str = "01005e000012 00005e000133 0800
    45c0 0020 0000 0000 ff 70 189a c0000201 e0000012
    31 33 64 01 0064 0572 c0000264";

/// The advert inside [`GOLDEN_ADVERT_FRAME`].
pub fn golden_advert() -> crate::wire::packet::Advert {
    crate::wire::packet::Advert {
        vhid: 7,
        advbase: 1,
        advskew: 0,
        counter: 0x3d0e_479c_cf9f_13d4,
        md: hex("004412d3cd302a583bd59d5bec8350092bdb0e85")
            .try_into()
            .unwrap(),
    }
}

/// Decodes hex digits, ignoring whitespace.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Asserts equality, printing both sides as hex on failure.
#[track_caller]
pub fn assert_eq_hex(got: &[u8], want: &[u8]) {
    if got != want {
        panic!(
            "bytes differ\n got: {}\nwant: {}",
            to_hex(got),
            to_hex(want)
        );
    }
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
