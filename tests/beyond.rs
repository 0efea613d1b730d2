//! Beyond the multicast LAN (issue 8): unicast peers, the real source MAC, several
//! virtual addresses, and the split-brain watch, on a real network.

use std::time::Duration;

use crate::netns::{pcap_frames, sh, tshark_fields, wait_until, Capture, Proc, Rig, OURS};

const VIP: &str = "198.18.0.100";
const VIP2: &str = "198.18.0.101";
const VIP6: &str = "2001:db8::100";
const LONG: Duration = Duration::from_secs(20);

/// Drops every multicast frame on the bridge (broadcast, and so ARP, still passes), as
/// some clouds and hypervisors do.
fn block_multicast(rig: &Rig) {
    let file = rig.dir.join("no-multicast.nft");
    std::fs::write(
        &file,
        "table bridge no_multicast {\n  chain forward_drop {\n    type filter hook forward priority 0;\n    ether daddr != ff:ff:ff:ff:ff:ff ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 drop\n  }\n}\n",
    )
    .unwrap();
    sh(rig.bridge_cmd("nft").arg("-f").arg(&file));
}

/// A planned stop of `a` (TERM): `b` must take over on the bow-out and hold `vip`
/// alone. Returns the frames captured by `cap`, stopped 2 s later.
fn hand_over_and_capture(
    rig: &mut Rig,
    a: &Proc,
    b: &Proc,
    vip: &str,
    cap: &Capture,
) -> Vec<Vec<u8>> {
    rig.signal(a, "TERM");
    assert!(
        b.wait_log("Putting MASTER DOWN (going to time out)", LONG),
        "{}",
        b.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, vip) && !rig.has_addr(0, vip)));
    std::thread::sleep(Duration::from_secs(2));
    rig.stop_capture(cap);
    let frames = pcap_frames(&cap.pcap);
    assert!(frames.len() >= 4, "{} frames", frames.len());
    frames
}

/// The command line of host `h` (2001:db8::h+1) in an IPv6 pair managing [`VIP6`]
/// with the example scripts, `-z`, and `extra`.
fn ipv6_args(h: usize, skew: &str, extra: &[&str]) -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let src = format!("2001:db8::{}", h + 1);
    let up = format!("{root}/scripts/vip-up.sh");
    let down = format!("{root}/scripts/vip-down.sh");
    [
        "-i", "eth0", "-s", &src, "-v", "7", "-a", VIP6, "-p", "secret", "-f", "none", "-k", skew,
        "-z", "-u", &up, "-d", &down,
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn unicast_peers_work_where_multicast_is_dropped() {
    let mut rig = rig!(Rig::new(2));
    block_multicast(&rig);
    let cap = rig.capture("ip proto 112");
    let a = rig.start(0, OURS, &["-k", "0", "-z", "--peer", "198.18.0.2"]);
    let b = rig.start(1, OURS, &["-k", "50", "--peer", "198.18.0.1"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    std::thread::sleep(Duration::from_secs(4));
    // B hears A's unicast adverts: it stays backup.
    assert!(!b.output().contains("MASTER"), "{}", b.output());
    // A planned stop hands over by unicast too.
    let frames = hand_over_and_capture(&mut rig, &a, &b, VIP, &cap);
    for f in &frames {
        let (src, dst) = (&f[26..30], &f[30..34]);
        assert_eq!(f[22], 255, "TTL");
        assert!(
            f[0] & 1 == 0,
            "a multicast or broadcast advert was sent: {:02x?}",
            &f[..6]
        );
        match src {
            [198, 18, 0, 1] => {
                assert_eq!(dst, [198, 18, 0, 2]);
                assert_eq!(f[0..6], [2, 0, 0, 0, 0, 2], "to B's MAC");
                assert_eq!(f[6..12], [2, 0, 0, 0, 0, 1], "from A's own MAC");
            }
            [198, 18, 0, 2] => assert_eq!(dst, [198, 18, 0, 1]),
            other => panic!("advert from {other:?}"),
        }
    }
}

/// One peer that cannot be sent to (a local firewall rule makes every send to
/// 203.0.113.9 fail with EPERM) is logged, but does not count as a failed send: the
/// master is not demoted and a `-P` backup does not take over.
#[test]
fn an_unreachable_peer_does_not_demote_the_master() {
    let mut rig = rig!(Rig::new(2));
    block_multicast(&rig);
    let gone = "203.0.113.9";
    let file = rig.dir.join("no-peer.nft");
    std::fs::write(
        &file,
        format!("table ip no_peer {{\n  chain out {{\n    type filter hook output priority 0;\n    ip daddr {gone} drop\n  }}\n}}\n"),
    )
    .unwrap();
    sh(rig.cmd(0, "nft").arg("-f").arg(&file));
    let a = rig.start(
        0,
        OURS,
        &["-k", "0", "--peer", "198.18.0.2", "--peer", gone],
    );
    let b = rig.start(1, OURS, &["-k", "50", "-P", "--peer", "198.18.0.1"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    assert!(
        a.wait_log(&format!("write() to {gone} has failed"), LONG),
        "{}",
        a.output()
    );
    // Well past three failed sends to the unreachable peer.
    std::thread::sleep(Duration::from_secs(5));
    // Logged once per 10 s, not at every advert.
    let lines = a.count(&format!("write() to {gone} has failed"));
    assert!((1..=2).contains(&lines), "{}", a.output());
    assert!(!b.output().contains("MASTER"), "{}", b.output());
    assert_eq!(a.count("Switching to state: MASTER"), 1, "{}", a.output());
    assert!(rig.has_addr(0, VIP) && !rig.has_addr(1, VIP));
}

#[test]
fn adverts_come_from_the_real_mac_with_real_mac() {
    let mut rig = rig!(Rig::new(1));
    let cap = rig.capture("ip proto 112");
    let a = rig.start(0, OURS, &["--real-mac"]);
    assert!(a.wait_log("Switching to state: MASTER", LONG));
    std::thread::sleep(Duration::from_secs(2));
    rig.stop_capture(&cap);
    let frames = pcap_frames(&cap.pcap);
    assert!(frames.len() >= 2);
    for f in &frames {
        assert_eq!(f[6..12], [2, 0, 0, 0, 0, 1]);
        assert_eq!(f[0..6], [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
    }
}

/// Two virtual addresses for one vhid: both move together; each script runs once per
/// address with ucarp's argv (the address as $2) and all of them in UCARP_VIPS.
#[test]
fn two_virtual_addresses_move_together() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0", "-a", VIP2]);
    let b = rig.start(1, OURS, &["-k", "50", "-a", VIP2]);
    assert!(
        wait_until(LONG, || rig.has_addr(0, VIP) && rig.has_addr(0, VIP2)),
        "{}",
        a.output()
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !b.output().contains("MASTER"),
        "B must accept A's two-address digest: {}",
        b.output()
    );
    rig.set_carrier(0, false);
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && rig.has_addr(1, VIP2)));
    assert!(wait_until(LONG, || !rig.has_addr(0, VIP) && !rig.has_addr(0, VIP2)));
    let ups: Vec<String> = rig
        .script_log(1)
        .into_iter()
        .filter(|l| l.starts_with("UP"))
        .collect();
    assert_eq!(
        ups,
        vec![
            format!("UP argc=2 [eth0] [{VIP}]"),
            format!("UP argc=2 [eth0] [{VIP2}]"),
        ]
    );
}

/// A healed partition: both nodes were master; the winner logs the split brain once
/// and the loser steps down.
#[test]
fn a_split_brain_is_logged_once_and_resolved() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0"]);
    let b = rig.start(1, OURS, &["-k", "50"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    rig.partition(true);
    assert!(
        b.wait_log("Switching to state: MASTER", LONG),
        "{}",
        b.output()
    );
    std::thread::sleep(Duration::from_secs(2));
    rig.partition(false);
    assert!(b.wait_log(
        "Preferred master advertised: going back to BACKUP state",
        LONG
    ));
    assert!(wait_until(LONG, || rig.has_addr(0, VIP) && !rig.has_addr(1, VIP)));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        a.count("Split brain: [198.18.0.2] also advertises as master of vhid 7"),
        1,
        "{}",
        a.output()
    );
    assert_eq!(a.count("Switching to state: MASTER"), 1);
}

/// The healthy case: a master with the same password is heard and authenticated,
/// another vhid on the group is reported as foreign, and the running pair is not
/// disturbed (no script runs, the master stays master).
#[test]
fn preflight_reports_a_healthy_peer_and_foreign_traffic() {
    let mut rig = rig!(Rig::new(3));
    let a = rig.start(0, OURS, &["-k", "0"]);
    let _c = rig.start(1, OURS, &["-v", "8", "-a", "198.18.0.108"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    let (code, text) = rig.preflight(2, &["-p", "secret"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("[ok]   frames can be sent on eth0"), "{text}");
    assert!(
        text.contains("[ok]   multicast group 224.0.0.18 joined on eth0"),
        "{text}"
    );
    assert!(
        text.contains("[ok]   peer 198.18.0.1: MASTER, vhid 7, advbase 1 advskew 0"),
        "{text}"
    );
    assert!(text.contains("CARP id 8 from 198.18.0.2"), "{text}");
    assert!(text.contains("worst-case failover: 3.000 s"), "{text}");
    assert!(
        text.contains("result: a peer was heard and authenticated"),
        "{text}"
    );
    assert!(!text.contains("FAIL"), "{text}");
    assert!(rig.script_log(2).is_empty());
    assert_eq!(a.count("Switching to state"), 2, "{}", a.output());
    assert!(!a.output().contains("Bad"), "{}", a.output());
}

/// Over unicast with multicast dropped: the test packet goes to each peer through the
/// raw socket (a firewalled one is named), and the unicast master is heard.
#[test]
fn preflight_checks_the_unicast_path() {
    let mut rig = rig!(Rig::new(2));
    block_multicast(&rig);
    let a = rig.start(0, OURS, &["-k", "0", "--peer", "198.18.0.2"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    let file = rig.dir.join("no-peer.nft");
    std::fs::write(
        &file,
        "table ip no_peer {\n  chain out {\n    type filter hook output priority 0;\n    ip daddr 203.0.113.9 drop\n  }\n}\n",
    )
    .unwrap();
    sh(rig.cmd(1, "nft").arg("-f").arg(&file));
    let peers = ["--peer", "198.18.0.1", "--peer", "203.0.113.9"];
    let (code, text) = rig.preflight(1, &[&["-p", "secret"][..], &peers].concat());
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("[ok]   a test packet for vhid 0 could be sent to 198.18.0.1"),
        "{text}"
    );
    assert!(
        text.contains("[FAIL] cannot send to 203.0.113.9: Operation not permitted"),
        "{text}"
    );
    assert!(
        text.contains("[ok]   peer 198.18.0.1: MASTER, vhid 7, advbase 1 advskew 0"),
        "{text}"
    );
    assert!(
        text.contains("a peer was heard and authenticated, but see the problems above"),
        "{text}"
    );
    assert_eq!(a.count("Switching to state"), 2, "{}", a.output());
}

/// Same vhid, other password: the mismatch is named and the exit code is 1; with no
/// peer at all the exit code is 1 too.
#[test]
fn preflight_reports_a_digest_mismatch() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    let (code, text) = rig.preflight(1, &["-p", "other"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "[FAIL] 198.18.0.1: same vhid 7, but its digest does not match: a different password or virtual address"
        ),
        "{text}"
    );
    assert!(
        text.contains("result: no authenticated peer was heard"),
        "{text}"
    );
    rig.signal(&a, "KILL");
    assert!(rig.wait_exit(&a, LONG).is_some());
    let (code, text) = rig.preflight(1, &["-p", "secret"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("no peer advertised vhid 7: this node would become master after 3.000 s"),
        "{text}"
    );
}

/// An IPv6 pair: adverts to ff02::12 with hop limit 255, the address added by the
/// example scripts, a planned handover, and the new master's unsolicited neighbour
/// advertisement in the capture, judged by tshark.
#[test]
fn an_ipv6_pair_elects_and_moves_the_address() {
    let mut rig = rig!(Rig::new(2));
    rig.add_ipv6(0, "2001:db8::1");
    rig.add_ipv6(1, "2001:db8::2");
    let cap = rig.capture("ip6");
    let a = rig.start_raw(0, OURS, &ipv6_args(0, "0", &[]));
    assert!(wait_until(LONG, || rig.has_addr(0, VIP6)), "{}", a.output());
    let b = rig.start_raw(1, OURS, &ipv6_args(1, "50", &[]));
    std::thread::sleep(Duration::from_secs(3));
    assert!(!b.output().contains("MASTER"), "{}", b.output());
    assert!(!rig.has_addr(1, VIP6));
    // Preflight over IPv6, next to B on the same host.
    let out = rig
        .cmd(1, OURS)
        .args(["-i", "eth0", "-s", "2001:db8::2", "-v", "7", "-a", VIP6])
        .args(["-p", "secret", "--preflight"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("[ok]   multicast group ff02::12 joined on eth0"),
        "{text}"
    );
    assert!(
        text.contains("[ok]   peer 2001:db8::1: MASTER, vhid 7, advbase 1 advskew 0"),
        "{text}"
    );
    rig.signal(&a, "TERM");
    assert!(wait_until(LONG, || rig.has_addr(1, VIP6)), "{}", b.output());
    assert!(
        wait_until(LONG, || !rig.has_addr(0, VIP6)),
        "{}",
        a.output()
    );
    assert_eq!(rig.wait_exit(&a, LONG).and_then(|s| s.code()), Some(0));
    // The address is usable on B, not held back as tentative or a duplicate.
    let shown = sh(rig.cmd(1, "ip").args(["-6", "addr", "show", "dev", "eth0"]));
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        !shown.contains("tentative") && !shown.contains("dadfailed"),
        "{shown}"
    );
    std::thread::sleep(Duration::from_secs(2));
    rig.stop_capture(&cap);

    // The preflight's test frame, for vhid 0.
    let probe = tshark_fields(&cap.pcap, "carp.vhid == 0", &["ipv6.src"]);
    assert_eq!(probe, ["2001:db8::2"]);
    let adverts = tshark_fields(
        &cap.pcap,
        "carp.vhid == 7",
        &[
            "ipv6.src",
            "ipv6.dst",
            "ipv6.hlim",
            "carp.vhid",
            "carp.advskew",
            "eth.dst",
        ],
    );
    assert!(adverts.len() >= 5, "{adverts:?}");
    for line in &adverts {
        let f: Vec<&str> = line.split('\t').collect();
        assert!(f[0] == "2001:db8::1" || f[0] == "2001:db8::2", "{line}");
        assert_eq!(&f[1..4], ["ff02::12", "255", "7"], "{line}");
        assert_eq!(f[5], "33:33:00:00:00:12", "{line}");
    }
    // tshark does not verify CARP checksums: over IPv6 it covers the 36 CARP bytes.
    for f in pcap_frames(&cap.pcap)
        .iter()
        .filter(|f| f.len() == 90 && f[20] == 112)
    {
        assert!(ucarp::checksum::verify(&f[54..90]), "{f:02x?}");
    }
    assert!(
        adverts
            .iter()
            .any(|l| l.starts_with("2001:db8::1\t") && l.contains("\t255\t7\t255\t")),
        "A's bow-out: {adverts:?}"
    );
    assert!(
        adverts.iter().any(|l| l.starts_with("2001:db8::2\t")),
        "B's adverts: {adverts:?}"
    );
    let na = tshark_fields(
        &cap.pcap,
        "icmpv6.type == 136 && icmpv6.nd.na.target_address == 2001:db8::100",
        &[
            "eth.src",
            "ipv6.src",
            "ipv6.dst",
            "ipv6.hlim",
            "icmpv6.nd.na.flag.o",
            "icmpv6.opt.linkaddr",
            "icmpv6.checksum.status",
        ],
    );
    // A announced the address when it took it, B when it took it over.
    let from = |mac: &str| {
        na.iter()
            .filter(|l| l.starts_with(mac))
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    for mac in ["02:00:00:00:00:01", "02:00:00:00:00:02"] {
        let lines = from(mac);
        assert!(!lines.is_empty(), "no NA from {mac}: {na:?}");
        for f in lines {
            assert_eq!(f[1..5], [VIP6, "ff02::1", "255", "1"], "{f:?}");
            assert_eq!(f[5], mac, "{f:?}");
            assert_eq!(f[6], "1", "checksum good: {f:?}");
        }
    }
}

/// IPv6 unicast: with multicast dropped on the bridge (and so neighbour discovery;
/// the hosts get static neighbour entries, as a cloud's fabric would answer), the pair
/// still elects one master and hands over on a planned stop.
#[test]
fn ipv6_unicast_peers_work_where_multicast_is_dropped() {
    let mut rig = rig!(Rig::new(2));
    block_multicast(&rig);
    for h in 0..2 {
        rig.add_ipv6(h, &format!("2001:db8::{}", h + 1));
        let other = 1 - h;
        sh(rig.cmd(h, "ip").args([
            "-6",
            "neigh",
            "add",
            &format!("2001:db8::{}", other + 1),
            "lladdr",
            &format!("02:00:00:00:00:{:02x}", other + 1),
            "dev",
            "eth0",
            "nud",
            "permanent",
        ]));
    }
    let cap = rig.capture("ip6 proto 112");
    let a = rig.start_raw(0, OURS, &ipv6_args(0, "0", &["--peer", "2001:db8::2"]));
    assert!(wait_until(LONG, || rig.has_addr(0, VIP6)), "{}", a.output());
    let b = rig.start_raw(1, OURS, &ipv6_args(1, "50", &["--peer", "2001:db8::1"]));
    std::thread::sleep(Duration::from_secs(4));
    assert!(!b.output().contains("MASTER"), "{}", b.output());
    let frames = hand_over_and_capture(&mut rig, &a, &b, VIP6, &cap);
    for f in &frames {
        assert_eq!(f[21], 255, "hop limit");
        assert!(f[0] & 1 == 0, "multicast advert sent: {:02x?}", &f[..6]);
        let (src, dst) = (&f[22..38], &f[38..54]);
        assert_ne!(src, dst);
        assert_eq!(src[..15], dst[..15], "both in 2001:db8::/64 ({f:02x?})");
        assert!(ucarp::checksum::verify(&f[54..90]));
    }
}

/// The example scripts on their own: any spelling of an address is the same address,
/// both are idempotent, `-x` sets the prefix and the down script removes it whatever
/// its prefix.
#[test]
fn the_example_scripts_match_addresses_however_they_are_spelled() {
    let rig = rig!(Rig::new(1));
    let root = env!("CARGO_MANIFEST_DIR");
    let run = |script: &str, args: &[&str]| {
        sh(rig
            .cmd(0, &format!("{root}/scripts/{script}"))
            .arg("eth0")
            .args(args));
    };
    let prefixes = |family: &str| {
        let out = sh(rig
            .cmd(0, "ip")
            .args(["-o", family, "addr", "show", "dev", "eth0"]));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
            .collect::<Vec<_>>()
    };
    // IPv6, typed in capitals with a leading zero: added once, with /128 and nodad.
    run("vip-up.sh", &["2001:DB8::0100"]);
    run("vip-up.sh", &["2001:db8::100"]);
    run("vip-up.sh", &["2001:db8:0::100"]);
    let v6 = prefixes("-6");
    assert_eq!(
        v6.iter()
            .filter(|p| p.starts_with("2001:db8::100/"))
            .count(),
        1,
        "{v6:?}"
    );
    assert!(v6.contains(&"2001:db8::100/128".to_string()), "{v6:?}");
    assert!(rig.has_addr(0, VIP6));
    run("vip-down.sh", &["2001:0db8:0000::0100"]);
    assert!(!rig.has_addr(0, VIP6));
    run("vip-down.sh", &[VIP6]);
    // IPv4 with -x 24, twice; removed by the down script, twice.
    run("vip-up.sh", &[VIP, "24"]);
    run("vip-up.sh", &[VIP, "24"]);
    assert!(prefixes("-4").contains(&format!("{VIP}/24")));
    run("vip-down.sh", &[VIP, "24"]);
    run("vip-down.sh", &[VIP]);
    assert!(!rig.has_addr(0, VIP));
    // A /32 without -x; the host's own address is never touched.
    run("vip-up.sh", &[VIP2]);
    assert!(prefixes("-4").contains(&format!("{VIP2}/32")));
    run("vip-down.sh", &[VIP2]);
    assert!(!rig.has_addr(0, VIP2));
    assert!(rig.has_addr(0, "198.18.0.1"));
}
