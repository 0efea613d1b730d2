//! Frames captured from Debian's real ucarp (`tests/data/`, made by
//! `scripts/capture-golden`; the exact command lines are in `tests/data/README.md`):
//! each parses to the fields of its command line, passes every receive check with the
//! same password, and re-emitted with the same IP id and counter gives the same bytes.

use std::net::Ipv4Addr;

use pnet_base::MacAddr;
use ucarp::arp::GarpFrame;
use ucarp::auth::Key;
use ucarp::frame::{advert_source_mac, multicast_mac, AdvertFrame, BROADCAST_MAC};
use ucarp::packet::CARP_MCAST_V4;
use ucarp::rx::Receiver;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Golden {
    file: &'static str,
    password: &'static [u8],
    vhid: u8,
    advbase: u8,
    advskew: u8,
    src: Ipv4Addr,
    vaddr: Ipv4Addr,
    group: Ipv4Addr,
    nomcast: bool,
}

const fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

const SYNC_A: Ipv4Addr = ip(192, 0, 2, 1);
const SYNC_B: Ipv4Addr = ip(192, 0, 2, 2);

fn sync(file: &'static str, src: Ipv4Addr) -> Golden {
    Golden {
        file,
        password: b"syncpw",
        vhid: 5,
        advbase: 1,
        advskew: if src == SYNC_A { 0 } else { 100 },
        src,
        vaddr: ip(192, 0, 2, 50),
        group: CARP_MCAST_V4,
        nomcast: false,
    }
}

fn goldens() -> Vec<Golden> {
    let default = |file| Golden {
        file,
        password: b"secret",
        vhid: 7,
        advbase: 1,
        advskew: 0,
        src: ip(192, 0, 2, 1),
        vaddr: ip(192, 0, 2, 100),
        group: CARP_MCAST_V4,
        nomcast: false,
    };
    vec![
        default("advert-vhid7-default.bin"),
        default("advert-vhid7-default-2.bin"),
        Golden {
            file: "advert-vhid42-b2-k100-nomcast.bin",
            password: b"hunter2",
            vhid: 42,
            advbase: 2,
            advskew: 100,
            src: ip(198, 51, 100, 1),
            vaddr: ip(198, 51, 100, 42),
            group: CARP_MCAST_V4,
            nomcast: true,
        },
        Golden {
            file: "advert-vhid9-mcastip.bin",
            password: b"mcastpw",
            vhid: 9,
            advbase: 1,
            advskew: 0,
            src: ip(203, 0, 113, 1),
            vaddr: ip(203, 0, 113, 9),
            group: ip(224, 0, 0, 100),
            nomcast: false,
        },
        Golden {
            file: "advert-max-password.bin",
            password: b"0123456789abcdefghi",
            vhid: 19,
            advbase: 1,
            advskew: 0,
            src: ip(198, 18, 0, 1),
            vaddr: ip(198, 18, 0, 100),
            group: CARP_MCAST_V4,
            nomcast: false,
        },
        sync("counter-sync-b-last.bin", SYNC_B),
        sync("counter-sync-b-race.bin", SYNC_B),
        sync("counter-sync-b-stepdown.bin", SYNC_B),
        sync("counter-sync-a-first.bin", SYNC_A),
        sync("counter-sync-a-second.bin", SYNC_A),
        sync("counter-sync-a-steady.bin", SYNC_A),
        sync("counter-sync-a-steady-2.bin", SYNC_A),
    ]
}

#[test]
fn captured_adverts_parse_verify_and_re_emit_identically() {
    for g in goldens() {
        let bytes = data(g.file);
        let f = AdvertFrame::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", g.file));
        let dst_mac = if g.nomcast {
            BROADCAST_MAC
        } else {
            multicast_mac(g.group)
        };
        assert_eq!(f.dst_mac, dst_mac, "{}", g.file);
        assert_eq!(f.src_mac, advert_source_mac(g.vhid), "{}", g.file);
        assert_eq!((f.src, f.dst), (g.src, g.group), "{}", g.file);
        assert_eq!(
            (f.advert.vhid, f.advert.advbase, f.advert.advskew),
            (g.vhid, g.advbase, g.advskew),
            "{}",
            g.file
        );

        let rx = Receiver {
            srcip: ip(198, 18, 255, 254).into(),
            vhid: g.vhid,
            group: g.group.into(),
            peers: Vec::new(),
            signer: Key::new(g.password)
                .unwrap()
                .signer(g.vhid, &[g.vaddr.into()]),
        };
        let v = rx
            .accept(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", g.file));
        assert_eq!(v.src(), g.src);
        assert_eq!(v.advert(), &f.advert);

        // Our own signature of the same counter is ucarp's digest.
        let key = Key::new(g.password).unwrap();
        let md = key.sign(g.vhid, g.vaddr, &f.advert.counter.to_be_bytes());
        assert_eq!(md, f.advert.md, "{}", g.file);

        let mut out = [0xa5u8; AdvertFrame::LEN];
        f.emit(&mut out);
        assert_eq!(out.to_vec(), bytes, "{}: re-emitted bytes differ", g.file);
    }
}

/// docs/PROTOCOL.md §3.3 as real ucarp does it: the preempting node adopts the counter it heard
/// and adds one; the node stepping down sends one more advert with the adopted counter
/// plus one; a lone master counts up by one.
#[test]
fn captured_counters_synchronise_as_the_core_does() {
    let counter = |file| AdvertFrame::parse(&data(file)).unwrap().advert.counter;
    let b_last = counter("counter-sync-b-last.bin");
    let a_first = counter("counter-sync-a-first.bin");
    assert_eq!(a_first, b_last.wrapping_add(1));
    assert_eq!(
        counter("counter-sync-b-stepdown.bin"),
        a_first.wrapping_add(1)
    );
    assert_eq!(
        counter("counter-sync-a-steady-2.bin"),
        counter("counter-sync-a-steady.bin").wrapping_add(1)
    );
    // Before synchronising, every advert carries a fresh random counter.
    let lone = counter("advert-vhid7-default.bin");
    assert_ne!(counter("advert-vhid7-default-2.bin"), lone.wrapping_add(1));
}

#[test]
fn captured_garp_parses_and_re_emits_identically() {
    let bytes = data("garp-vhid7.bin");
    let g = GarpFrame::parse(&bytes).unwrap();
    assert_eq!(g.mac, MacAddr(0x02, 0, 0, 0, 0, 0x0a));
    assert_eq!(g.vaddr, ip(192, 0, 2, 100));
    let mut out = [0xa5u8; GarpFrame::LEN];
    g.emit(&mut out);
    assert_eq!(out.to_vec(), bytes);
}
