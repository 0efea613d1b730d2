//! Beyond the multicast LAN (issue 8): unicast peers, the real source MAC, several
//! virtual addresses, and the split-brain watch, on a real network.

use std::time::Duration;

use crate::netns::{pcap_frames, sh, wait_until, Rig, OURS};

const VIP: &str = "198.18.0.100";
const VIP2: &str = "198.18.0.101";
const LONG: Duration = Duration::from_secs(20);

macro_rules! rig {
    ($n:expr) => {
        match Rig::new($n) {
            Some(r) => r,
            None => return,
        }
    };
}

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

#[test]
fn unicast_peers_work_where_multicast_is_dropped() {
    let mut rig = rig!(2);
    block_multicast(&rig);
    let cap = rig.capture("ip proto 112");
    let a = rig.start(0, OURS, &["-k", "0", "-z", "--peer", "198.18.0.2"]);
    let b = rig.start(1, OURS, &["-k", "50", "--peer", "198.18.0.1"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    std::thread::sleep(Duration::from_secs(4));
    // B hears A's unicast adverts: it stays backup.
    assert!(!b.output().contains("MASTER"), "{}", b.output());
    // A planned stop hands over by unicast too.
    rig.signal(&a, "TERM");
    assert!(
        b.wait_log("Putting MASTER DOWN (going to time out)", LONG),
        "{}",
        b.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)));
    std::thread::sleep(Duration::from_secs(2));
    rig.stop_capture(&cap);
    let frames = pcap_frames(&cap.pcap);
    assert!(frames.len() >= 4, "{} frames", frames.len());
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

#[test]
fn adverts_come_from_the_real_mac_with_real_mac() {
    let mut rig = rig!(1);
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
    let mut rig = rig!(2);
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
    let mut rig = rig!(2);
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

/// Runs `--preflight` on host `h` for vhid 7 with `extra` options; returns its exit
/// code and output.
fn preflight(rig: &Rig, h: usize, extra: &[&str]) -> (Option<i32>, String) {
    let ip = rig.hosts[h].ip.to_string();
    let out = rig
        .cmd(h, OURS)
        .args(["-i", "eth0", "-s", &ip, "-v", "7", "-a", VIP, "--preflight"])
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The healthy case: a master with the same password is heard and authenticated,
/// another vhid on the group is reported as foreign, and the running pair is not
/// disturbed (no script runs, the master stays master).
#[test]
fn preflight_reports_a_healthy_peer_and_foreign_traffic() {
    let mut rig = rig!(3);
    let a = rig.start(0, OURS, &["-k", "0"]);
    let _c = rig.start(1, OURS, &["-v", "8", "-a", "198.18.0.108"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    let (code, text) = preflight(&rig, 2, &["-p", "secret"]);
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

/// Same vhid, other password: the mismatch is named and the exit code is 1; with no
/// peer at all the exit code is 1 too.
#[test]
fn preflight_reports_a_digest_mismatch() {
    let mut rig = rig!(2);
    let a = rig.start(0, OURS, &["-k", "0"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    let (code, text) = preflight(&rig, 1, &["-p", "other"]);
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
    let (code, text) = preflight(&rig, 1, &["-p", "secret"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("no peer advertised vhid 7: this node would become master after 3.000 s"),
        "{text}"
    );
}
