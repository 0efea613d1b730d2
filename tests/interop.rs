//! Interoperability with Debian's real ucarp (`/usr/sbin/ucarp`), in both roles.
//!
//! Debian's ucarp receives through libpcap with TPACKET_V3, which delivers frames up to
//! about 1 s late (docs/PROTOCOL.md §4.1), so its reactions are awaited generously.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::netns::{pcap_frames, tshark_fields, wait_until, Rig, OURS, UCARP};

const VIP: &str = "198.18.0.100";
const LONG: Duration = Duration::from_secs(20);

#[test]
fn ours_master_with_ucarp_backup_then_takeover_both_ways() {
    master_with_ucarp_backup_then_takeover_both_ways(OURS);
}

/// The body of [`ours_master_with_ucarp_backup_then_takeover_both_ways`], for any build of ours (`tests/emulated.rs` runs it
/// on other CPUs under qemu).
pub fn master_with_ucarp_backup_then_takeover_both_ways(ours_bin: &str) {
    let mut rig = rig!(Rig::new(2));
    let ours = rig.start(0, ours_bin, &["-k", "0", "-z"]);
    assert!(
        ours.wait_log("Switching to state: MASTER", LONG),
        "{}",
        ours.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    // Started once ours advertises: started together, Debian's ucarp may time out
    // before its capture buffer hands it our first adverts (up to 1 s late).
    let theirs = rig.start(1, UCARP, &["-k", "50", "-z"]);
    std::thread::sleep(Duration::from_secs(4));
    assert!(!theirs.output().contains("MASTER"), "{}", theirs.output());

    // Ours leaves: ucarp takes over after its dead time.
    rig.signal(&ours, "TERM");
    assert_eq!(rig.wait_exit(&ours, LONG).and_then(|s| s.code()), Some(0));
    assert!(
        theirs.wait_log("Switching to state: MASTER", LONG),
        "{}",
        theirs.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)));

    // Ours comes back with -P: it preempts, and ucarp steps down to it.
    let back = rig.start(0, ours_bin, &["-k", "0", "-P"]);
    assert!(
        back.wait_log("Putting MASTER down - preemption", LONG),
        "{}",
        back.output()
    );
    assert!(
        theirs.wait_log("Preferred master advertised", LONG),
        "{}",
        theirs.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP) && !rig.has_addr(1, VIP)));
}

#[test]
fn ucarp_master_with_our_backup_then_takeover() {
    ucarp_master_with_backup_then_takeover(OURS);
}

/// The body of [`ucarp_master_with_our_backup_then_takeover`], for any build of ours (`tests/emulated.rs` runs it
/// on other CPUs under qemu).
pub fn ucarp_master_with_backup_then_takeover(ours_bin: &str) {
    let mut rig = rig!(Rig::new(2));
    let theirs = rig.start(0, UCARP, &["-k", "0", "-z"]);
    assert!(
        theirs.wait_log("Switching to state: MASTER", LONG),
        "{}",
        theirs.output()
    );
    let ours = rig.start(1, ours_bin, &["-k", "50", "-D"]);
    // Ours authenticates ucarp's adverts and stays backup.
    assert!(
        ours.wait_log("<- CARP advert vhid=7", LONG),
        "{}",
        ours.output()
    );
    std::thread::sleep(Duration::from_secs(4));
    assert!(!ours.output().contains("MASTER"), "{}", ours.output());
    assert!(rig.has_addr(0, VIP));

    rig.signal(&theirs, "TERM");
    assert!(
        ours.wait_log("Switching to state: MASTER", LONG),
        "{}",
        ours.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)));
}

/// Equal intervals: both sides must apply the same little-endian tie-break (docs/PROTOCOL.md
/// §5.4). 198.18.1.1 beats 198.18.0.2 because the last octet counts most. Both become
/// master during a partition; when it heals, 198.18.0.2 steps down, whichever
/// implementation runs where.
#[test]
fn equal_intervals_are_decided_identically_by_both_sides() {
    equal_intervals_are_decided_identically(OURS);
}

/// The body of [`equal_intervals_are_decided_identically_by_both_sides`], for any build of ours (`tests/emulated.rs` runs it
/// on other CPUs under qemu).
pub fn equal_intervals_are_decided_identically(ours_bin: &str) {
    let winner = Ipv4Addr::new(198, 18, 1, 1);
    let loser = Ipv4Addr::new(198, 18, 0, 2);
    for (at_winner, at_loser) in [(ours_bin, UCARP), (UCARP, ours_bin)] {
        let mut rig = rig!(Rig::with_ips(&[winner, loser]));
        rig.partition(true);
        let w = rig.start(0, at_winner, &["-k", "10"]);
        let l = rig.start(1, at_loser, &["-k", "10"]);
        assert!(
            w.wait_log("Switching to state: MASTER", LONG),
            "{}",
            w.output()
        );
        assert!(
            l.wait_log("Switching to state: MASTER", LONG),
            "{}",
            l.output()
        );
        rig.partition(false);
        assert!(
            l.wait_log(
                "Preferred master advertised: going back to BACKUP state",
                LONG
            ),
            "loser {at_loser}: {}",
            l.output()
        );
        std::thread::sleep(Duration::from_secs(3));
        assert!(!w.output().contains("Preferred master"), "{}", w.output());
        assert!(rig.has_addr(0, VIP) && !rig.has_addr(1, VIP));
    }
}

#[test]
fn a_wrong_password_is_rejected_by_both_sides() {
    let mut rig = rig!(Rig::new(2));
    let ours = rig.start(0, OURS, &["-p", "secret"]);
    let theirs = rig.start(1, UCARP, &["-p", "other"]);
    assert!(ours.wait_log("Bad digest", LONG), "{}", ours.output());
    assert!(theirs.wait_log("Bad digest", LONG), "{}", theirs.output());
    // Neither accepts the other, so both end up master.
    assert!(ours.wait_log("Switching to state: MASTER", LONG));
    assert!(theirs.wait_log("Switching to state: MASTER", LONG));
}

#[test]
fn nomcast_on_both_sides() {
    let mut rig = rig!(Rig::new(2));
    let ours = rig.start(0, OURS, &["-M", "-k", "0", "-z"]);
    assert!(
        ours.wait_log("Switching to state: MASTER", LONG),
        "{}",
        ours.output()
    );
    let theirs = rig.start(1, UCARP, &["-M", "-k", "50", "-z"]);
    std::thread::sleep(Duration::from_secs(4));
    assert!(!theirs.output().contains("MASTER"), "{}", theirs.output());
    rig.signal(&ours, "TERM");
    assert!(
        theirs.wait_log("Switching to state: MASTER", LONG),
        "{}",
        theirs.output()
    );
}

#[test]
fn passfile_on_our_side_password_on_theirs() {
    let mut rig = rig!(Rig::new(2));
    let file = rig.dir.join("pass");
    std::fs::write(&file, "secret\nignored second line\n").unwrap();
    let file = file.display().to_string();
    let theirs = rig.start(0, UCARP, &["-k", "0"]);
    assert!(theirs.wait_log("Switching to state: MASTER", LONG));
    let ours = rig.start(1, OURS, &["-o", &file, "-k", "50", "-D"]);
    assert!(
        ours.wait_log("<- CARP advert vhid=7", LONG),
        "{}",
        ours.output()
    );
    std::thread::sleep(Duration::from_secs(4));
    assert!(!ours.output().contains("Bad digest"), "{}", ours.output());
    assert!(!ours.output().contains("MASTER"), "{}", ours.output());
}

/// Our frames decode in tshark's CARP dissector with a good checksum, and every field
/// that does not vary per packet equals ucarp's, field by field.
#[test]
fn our_frames_match_ucarps_layout_field_by_field() {
    frames_match_ucarps_layout_field_by_field(OURS);
}

/// The body of [`our_frames_match_ucarps_layout_field_by_field`], for any build of ours (`tests/emulated.rs` runs it
/// on other CPUs under qemu).
pub fn frames_match_ucarps_layout_field_by_field(ours_bin: &str) {
    let mut rig = rig!(Rig::new(2));
    let cap = rig.capture("ip proto 112");
    // Separate vhids so both are master and send.
    let ours = rig.start(0, ours_bin, &["-v", "7", "-k", "42", "-b", "2"]);
    let theirs = rig.start(1, UCARP, &["-v", "8", "-k", "42", "-b", "2"]);
    assert!(ours.wait_log("Switching to state: MASTER", LONG));
    assert!(theirs.wait_log("Switching to state: MASTER", LONG));
    std::thread::sleep(Duration::from_secs(5));
    rig.stop_capture(&cap);

    let fields = [
        "ip.dsfield",
        "ip.len",
        "ip.flags",
        "ip.ttl",
        "ip.proto",
        "ip.dst",
        "carp.version",
        "carp.type",
        "carp.advskew",
        "carp.authlen",
        "carp.demotion",
        "carp.adver_int",
        "carp.checksum.status",
        "frame.len",
        "eth.dst",
    ];
    let decoded = |vhid: u8| tshark_fields(&cap.pcap, &format!("carp.vhid == {vhid}"), &fields);
    let ours_rows = decoded(7);
    let theirs_rows = decoded(8);
    assert!(ours_rows.len() >= 2, "{ours_rows:?}");
    assert!(theirs_rows.len() >= 2, "{theirs_rows:?}");
    for row in &ours_rows {
        assert_eq!(row, &theirs_rows[0], "\nfields: {fields:?}");
    }
    // Wireshark's checksum status: 0 bad, 1 good. adver_int is advbase.
    let cols: Vec<&str> = ours_rows[0].split('\t').collect();
    assert_eq!(cols[12], "1", "{cols:?}");
    assert_eq!(cols[11], "2");

    // Byte layout: the same bytes everywhere except IP id, IP checksum, IP source,
    // Ethernet source (the vhid), vhid, CARP checksum, counter and digest.
    let frames = pcap_frames(&cap.pcap);
    let ours_f = frames.iter().find(|f| f.len() > 35 && f[35] == 7).unwrap();
    let theirs_f = frames.iter().find(|f| f.len() > 35 && f[35] == 8).unwrap();
    assert_eq!(ours_f.len(), 70);
    assert_eq!(theirs_f.len(), 70);
    let varying = [11, 18, 19, 24, 25, 26, 27, 28, 29, 35, 40, 41];
    for i in 0..70 {
        if !varying.contains(&i) && i < 42 {
            assert_eq!(ours_f[i], theirs_f[i], "byte {i} differs");
        }
    }
    assert_eq!(ours_f[6..11], [0x00, 0x00, 0x5e, 0x00, 0x00]);
    assert_eq!(ours_f[11], 7);
}
