//! Frames captured from Debian's real ucarp (`tests/data/`, made by
//! `scripts/capture-golden`; the exact command lines are in `tests/data/README.md`):
//! each parses to the fields of its command line, passes every receive check with the
//! same password, and re-emitted with the same IP id and counter gives the same bytes.
//! Likewise the VRRPv3 adverts of Debian's keepalived (`scripts/capture-golden-vrrp`,
//! `tests/data/README-keepalived.md`), and our own VRRP adverts read by tshark.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use carp::testutil::hex;
use pnet_base::MacAddr;
use ucarp::arp::GarpFrame;
use ucarp::auth::Key;
use ucarp::frame::multicast_mac6;
use ucarp::frame::{advert_source_mac, multicast_mac, AdvertFrame, BROADCAST_MAC};
use ucarp::packet::CARP_MCAST_V4;
use ucarp::rx::{Receiver, VrrpReceiver};
use ucarp::wire::vrrp::{
    emit_vrrp_frame, vrrp_group, vrrp_source_mac, ChecksumForm, VrrpAdvert, VrrpFrame,
    MAX_ADDRESSES, MAX_VRRP_FRAME_LEN,
};

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

/// One advert captured from keepalived 2.2.7 (`tests/data/README-keepalived.md`, made by
/// `scripts/capture-golden-vrrp`): what its configuration says it must carry.
struct KeepalivedGolden {
    file: String,
    src: IpAddr,
    dst: IpAddr,
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    addresses: Vec<IpAddr>,
}

/// keepalived sends from the interface's own MAC (A's eth0), not the virtual one.
const KEEPALIVED_MAC: MacAddr = MacAddr(0x02, 0, 0, 0, 0, 0x0a);

fn keepalived_goldens() -> Vec<KeepalivedGolden> {
    let addr = |s: &str| -> IpAddr { s.parse().unwrap() };
    let mut out = Vec::new();
    for (stem, src, dst, vrid, priority, interval_cs, addresses) in [
        (
            "v4-vrid51",
            "192.0.2.1",
            "224.0.0.18",
            51,
            100,
            100,
            vec!["192.0.2.100"],
        ),
        (
            "v4-vrid53",
            "192.0.2.1",
            "224.0.0.18",
            53,
            200,
            50,
            vec!["198.51.100.10", "198.51.100.11"],
        ),
        (
            "v4-vrid54-unicast",
            "203.0.113.1",
            "203.0.113.2",
            54,
            150,
            100,
            vec!["203.0.113.54"],
        ),
        (
            "v6-vrid52",
            "fe80::ff:fe00:a",
            "ff02::12",
            52,
            100,
            100,
            vec!["2001:db8::100"],
        ),
    ] {
        for (suffix, priority) in [("", priority), ("-prio0", 0)] {
            out.push(KeepalivedGolden {
                file: format!("keepalived-{stem}{suffix}.bin"),
                src: addr(src),
                dst: addr(dst),
                vrid,
                priority,
                interval_cs,
                addresses: addresses.iter().map(|a| addr(a)).collect(),
            });
        }
    }
    out
}

/// Every keepalived advert: read to the fields of its configuration, accepted by our
/// receiver (checksum with the pseudo-header, the same address list), and re-emitted by
/// us from the same inputs into the same bytes. IPv4: the whole frame (keepalived's TOS
/// 0xC0, no DF, TTL 255 are ours too). IPv6: all but the flow label, which keepalived's
/// kernel sets (auto flow labels) and we leave 0.
#[test]
fn keepalived_adverts_are_accepted_and_re_emitted_identically() {
    for g in keepalived_goldens() {
        let bytes = data(&g.file);
        let f = VrrpFrame::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", g.file));
        let v6 = g.src.is_ipv6();
        let unicast = !g.dst.is_multicast();
        let advert = VrrpAdvert {
            vrid: g.vrid,
            priority: g.priority,
            interval_cs: g.interval_cs,
        };
        assert_eq!(
            (f.src, f.dst, f.advert),
            (g.src, g.dst, advert),
            "{}",
            g.file
        );
        assert_eq!(f.addresses, g.addresses, "{}", g.file);
        assert_eq!(f.src_mac, KEEPALIVED_MAC, "{}", g.file);
        let dst_mac = match g.dst {
            IpAddr::V4(d) if d.is_multicast() => multicast_mac(d),
            IpAddr::V6(d) => multicast_mac6(d),
            _ => MacAddr(0x02, 0, 0, 0, 0, 0x0b), // the unicast peer's neighbour entry
        };
        assert_eq!(f.dst_mac, dst_mac, "{}", g.file);
        assert_eq!(
            (f.tos, f.ttl, f.reserved, f.trailing),
            (0xc0, 255, 0, 0),
            "{}",
            g.file
        );
        assert_eq!(f.form, ChecksumForm::PseudoHeader, "{}", g.file);

        let me: IpAddr = if v6 {
            "fe80::2".parse().unwrap()
        } else if unicast {
            g.dst
        } else {
            ip(192, 0, 2, 2).into()
        };
        let rx = VrrpReceiver {
            srcip: me,
            vrid: g.vrid,
            group: vrrp_group(v6),
            peers: if unicast { vec![g.src] } else { Vec::new() },
            addresses: g.addresses.iter().rev().copied().collect(),
        };
        let v = rx
            .accept(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", g.file));
        assert_eq!((v.src(), *v.advert()), (g.src, advert), "{}", g.file);
        assert_eq!(v.checksum(), ChecksumForm::PseudoHeader, "{}", g.file);
        assert!(v.addresses_match(), "{}", g.file);

        let mut out = [0xa5u8; MAX_VRRP_FRAME_LEN];
        let len = emit_vrrp_frame(
            &mut out,
            f.dst_mac,
            f.src_mac,
            g.src,
            g.dst,
            f.ip_id,
            advert,
            &g.addresses,
        );
        assert_eq!(len, bytes.len(), "{}", g.file);
        let ip_end = if v6 { 54 } else { 34 };
        assert_eq!(
            out[ip_end..len],
            bytes[ip_end..],
            "{}: VRRP message",
            g.file
        );
        if v6 {
            assert_eq!(out[..15], bytes[..15], "{}", g.file);
            assert_eq!(out[18..ip_end], bytes[18..ip_end], "{}", g.file);
            assert_ne!(
                f.flow_label, 0,
                "{}: keepalived's kernel labels the flow",
                g.file
            );
        } else {
            assert_eq!(out[..len], bytes[..], "{}: whole frame", g.file);
        }
    }
}

/// keepalived's first vrid-51 advert is our checksum worked example
/// (`VRRP_EXAMPLE_FRAME`, docs/PROTOCOL.md §14.2) apart from its source MAC and IP id
/// (1, so the IP checksum is 0x1899, not 0x189a): the same VRRP bytes, 0x0572; its
/// bow-out, 0x6972.
#[test]
fn keepalived_matches_the_worked_example() {
    let first = data("keepalived-v4-vrid51.bin");
    assert_eq!(first[34..], hex("3133 6401 0064 0572 c0000264")[..]);
    assert_eq!(first[18..20], [0, 1], "IP id");
    let bow_out = data("keepalived-v4-vrid51-prio0.bin");
    assert_eq!(bow_out[34..], hex("3133 0001 0064 6972 c0000264")[..]);
}

/// A classic pcap (microsecond, Ethernet) of `frames`.
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // time zone, accuracy
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.len()).unwrap();
        out.extend_from_slice(&u32::try_from(i + 1).unwrap().to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// Runs tshark on a pcap with the VRRPv3 checksum preference given; `None` when tshark
/// is not installed and this is not CI (where its absence fails the test).
fn tshark_fields(
    path: &std::path::Path,
    as_in_v2: bool,
    fields: &[&str],
) -> Option<Vec<Vec<String>>> {
    let mut cmd = std::process::Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .args([
            "-o",
            &format!(
                "vrrp.v3_checksum_as_in_v2:{}",
                if as_in_v2 { "TRUE" } else { "FALSE" }
            ),
        ])
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "tshark is missing"
            );
            eprintln!("skipped: tshark is not installed");
            return None;
        }
        Err(e) => panic!("tshark: {e}"),
    };
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect(),
    )
}

/// Wireshark's VRRP dissector reads our adverts as well-formed VRRPv3 with a good
/// checksum (docs/PROTOCOL.md §14.2): IPv4 multicast and unicast, IPv6 multicast and
/// unicast, a bow-out, several addresses, the longest list. With its "checksum as in
/// v2" preference (Cisco's message-only form) the IPv4 ones turn bad, so the checksum is
/// really being checked.
#[test]
fn tshark_reads_our_vrrp_adverts_as_valid() {
    let addr = |s: &str| -> IpAddr { s.parse().unwrap() };
    let many4: Vec<IpAddr> = (1..=5).map(|i| IpAddr::from(ip(198, 51, 100, i))).collect();
    let many6: Vec<IpAddr> = (0..MAX_ADDRESSES as u16)
        .map(|i| IpAddr::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, i)))
        .collect();
    let cases: Vec<(IpAddr, IpAddr, u8, &[IpAddr])> = vec![
        (addr("192.0.2.1"), addr("224.0.0.18"), 100, &[]),
        (addr("192.0.2.1"), addr("192.0.2.2"), 150, &[]),
        (addr("192.0.2.1"), addr("224.0.0.18"), 0, &[]),
        (addr("198.51.100.1"), addr("224.0.0.18"), 254, &many4),
        (addr("fe80::1"), addr("ff02::12"), 100, &[]),
        (addr("fe80::1"), addr("fe80::2"), 200, &[]),
        (addr("fe80::1"), addr("ff02::12"), 0, &many6[..3]),
        (addr("fe80::1"), addr("ff02::12"), 255, &many6),
    ];
    let vip4 = [addr("192.0.2.100")];
    let vip6 = [addr("2001:db8::100")];
    let mut frames = Vec::new();
    let mut expected = Vec::new();
    for (i, (src, dst, priority, list)) in cases.into_iter().enumerate() {
        let list: &[IpAddr] = match (list.is_empty(), src.is_ipv6()) {
            (true, false) => &vip4,
            (true, true) => &vip6,
            (false, _) => list,
        };
        let dst_mac = match dst {
            IpAddr::V4(d) if d.is_multicast() => multicast_mac(d),
            IpAddr::V6(d) if d.is_multicast() => multicast_mac6(d),
            _ => MacAddr(0x02, 0, 0, 0, 0, 0x0b),
        };
        let mut buf = vec![0u8; MAX_VRRP_FRAME_LEN];
        let advert = VrrpAdvert {
            vrid: 51,
            priority,
            interval_cs: 100,
        };
        let len = emit_vrrp_frame(
            &mut buf,
            dst_mac,
            vrrp_source_mac(51, src.is_ipv6()),
            src,
            dst,
            u16::try_from(i).unwrap(),
            advert,
            list,
        );
        buf.truncate(len);
        frames.push(buf);
        expected.push((src.is_ipv6(), priority, list.len()));
    }
    let dir = std::env::temp_dir().join(format!("ucarp-vrrp-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ours.pcap");
    std::fs::write(&path, pcap(&frames)).unwrap();

    let fields = [
        "frame.number",
        "vrrp.version",
        "vrrp.type",
        "vrrp.prio",
        "vrrp.addr_count",
        "vrrp.checksum.status",
        "_ws.malformed",
        "_ws.expert",
    ];
    let Some(rows) = tshark_fields(&path, false, &fields) else {
        std::fs::remove_dir_all(&dir).ok();
        return;
    };
    let as_v2 = tshark_fields(&path, true, &["vrrp.checksum.status"]).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(rows.len(), frames.len(), "{rows:?}");
    for (row, (v6, priority, count)) in rows.iter().zip(&expected) {
        let row: Vec<&str> = row.iter().map(String::as_str).collect();
        let want_count = count.to_string();
        let want_prio = priority.to_string();
        // Checksum status 1 is "Good"; no malformed-packet or expert item.
        assert_eq!(
            row[1..],
            ["3", "1", &want_prio[..], &want_count[..], "1", "", ""],
            "frame {} (IPv6: {v6})",
            row[0]
        );
    }
    for (row, (v6, ..)) in as_v2.iter().zip(&expected) {
        if !v6 {
            assert_eq!(
                row,
                &["0".to_string()],
                "the message-only sum must not match"
            );
        }
    }
}
