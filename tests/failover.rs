//! Failover behaviour beyond ucarp's (issue 5), checked on a real network by the order
//! of events in logs, script logs and captures, never by timings.

use std::time::Duration;

use crate::netns::{pcap_frames, wait_until, write_script, Rig, OURS, UCARP};

const VIP: &str = "198.18.0.100";
const LONG: Duration = Duration::from_secs(20);

/// (source IP last byte, advbase, advskew) of each CARP frame in a capture, in order.
fn adverts(frames: &[Vec<u8>]) -> Vec<(u8, u8, u8)> {
    frames
        .iter()
        .filter(|f| f.len() >= 70 && f[23] == 112)
        .map(|f| (f[29], f[39], f[36]))
        .collect()
}

#[test]
fn planned_stop_hands_over_make_before_break() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0", "-z"]);
    let b = rig.start(1, OURS, &["-k", "50"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    let cap = rig.capture("ip proto 112");
    rig.signal(&a, "TERM");
    assert_eq!(
        rig.wait_exit(&a, LONG).and_then(|s| s.code()),
        Some(0),
        "{}",
        a.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP)));
    rig.stop_capture(&cap);

    // B took over on the bow-out, not after a dead time.
    assert!(
        b.output()
            .contains("Putting MASTER DOWN (going to time out)"),
        "{}",
        b.output()
    );
    let out = a.output();
    let started = out.find("Handing over: bow-out advertised").expect(&out);
    let done = out.find("Successor [198.18.0.2] advertises").expect(&out);
    assert!(started < done);
    // On the wire: A's bow-out, then B's first advert, then nothing more from A.
    let ads = adverts(&pcap_frames(&cap.pcap));
    let bow_out = ads
        .iter()
        .position(|a| *a == (1, 255, 255))
        .expect("no bow-out");
    let b_first = ads.iter().position(|a| a.0 == 2).expect("no advert from B");
    assert!(bow_out < b_first, "{ads:?}");
    assert!(
        ads[b_first..]
            .iter()
            .all(|a| a.0 != 1 || (a.1, a.2) == (255, 255)),
        "{ads:?}"
    );
    // The address was added on B before it was removed from A.
    let events = rig.all_scripts();
    let b_up = events
        .iter()
        .position(|e| e == "h1 UP")
        .expect("B never ran up");
    let a_down = events.iter().rposition(|e| e == "h0 DOWN").unwrap();
    assert!(b_up < a_down, "{events:?}");
    assert!(!rig.has_addr(0, VIP));
}

#[test]
fn planned_stop_hands_over_to_debian_ucarp() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0", "-z"]);
    let b = rig.start(1, UCARP, &["-k", "50"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    std::thread::sleep(Duration::from_secs(2));
    rig.signal(&a, "TERM");
    assert_eq!(rig.wait_exit(&a, LONG).and_then(|s| s.code()), Some(0));
    // ucarp takes over on the bow-out ("going to time out"), not after its dead time.
    assert!(
        b.wait_log("Putting MASTER DOWN (going to time out)", LONG),
        "{}",
        b.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)));
}

/// SIGUSR2: the master hands over and then stays out, even with -P and the better
/// skew; the next SIGUSR2 lets it take the address back.
#[test]
fn maintenance_mode_survives_a_preempting_peer() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0", "-P"]);
    let b = rig.start(1, OURS, &["-k", "50", "-P"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    rig.signal(&a, "USR2");
    assert!(a.wait_log("Maintenance mode on", LONG));
    assert!(
        b.wait_log("Switching to state: MASTER", LONG),
        "{}",
        b.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)));
    // Several of B's adverts later, A still has not preempted.
    std::thread::sleep(Duration::from_secs(5));
    assert!(rig.has_addr(1, VIP) && !rig.has_addr(0, VIP));
    assert_eq!(a.count("Switching to state: MASTER"), 1, "{}", a.output());
    rig.signal(&a, "USR1");
    assert!(
        a.wait_log("BACKUP on eth0 id 7 (maintenance)", LONG),
        "{}",
        a.output()
    );

    rig.signal(&a, "USR2");
    assert!(a.wait_log("Maintenance mode off", LONG));
    assert!(
        a.wait_log("Putting MASTER down - preemption", LONG),
        "{}",
        a.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP) && !rig.has_addr(1, VIP)));
}

/// A hung up script (sleep 60) is killed at --script-timeout, adverts go on during the
/// hang, and the peer never takes over meanwhile; once the script is killed, the node
/// (which never got the address) is demoted and the peer takes over (issue 18).
#[test]
fn a_hung_up_script_is_killed_while_adverts_continue() {
    let mut rig = rig!(Rig::new(2));
    let hung = rig.dir.join("hung-up.sh");
    write_script(&hung, "exec sleep 60");
    let hung = hung.display().to_string();
    let args = rig.args(0, &["-k", "0", "--script-timeout", "4", "-u", &hung]);
    let cap = rig.capture("ip proto 112");
    let a = rig.start_raw(0, OURS, &args);
    let b = rig.start(1, OURS, &["-k", "50"]);
    assert!(a.wait_log("Switching to state: MASTER", LONG));
    std::thread::sleep(Duration::from_secs(3));
    // Still hanging: not yet killed, and adverts have gone out meanwhile.
    assert!(!a.output().contains("still running"), "{}", a.output());
    rig.stop_capture(&cap);
    let from_a = adverts(&pcap_frames(&cap.pcap))
        .iter()
        .filter(|a| a.0 == 1)
        .count();
    assert!(from_a >= 3, "{from_a} adverts from A during the hang");
    assert!(!b.output().contains("MASTER"), "{}", b.output());
    assert!(
        a.wait_log(
            "still running after 4 s: terminating its process group",
            LONG
        ),
        "{}",
        a.output()
    );
    assert!(
        a.wait_log("was killed by signal 15", LONG),
        "{}",
        a.output()
    );
    assert!(a.wait_log("The up script was killed at the timeout", LONG));
    assert!(
        b.wait_log("Switching to state: MASTER", LONG),
        "{}",
        b.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP)));
}
