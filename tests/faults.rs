//! Faults that real networks combine (issue 14), on a real network (root): a master
//! frozen for longer than the dead time, as a paused or migrating VM (SIGSTOP, with
//! every frame to and from it dropped on the bridge), then released; `--preempt-delay`;
//! witnesses against split brain; a carrier flap storm on the master.

use std::time::Duration;

use crate::netns::{tshark_fields, wait_until, Rig, OURS};

const VIP: &str = "198.18.0.100";
const LONG: Duration = Duration::from_secs(20);

/// The MAC a daemon reported at start ("Local advertised ethernet address is [..]").
fn mac_of(log: &str) -> String {
    let start = log.find("ethernet address is [").unwrap() + "ethernet address is [".len();
    log[start..start + 17].to_string()
}

/// Without `-P` the woken master yields: the address moved once, to the backup, and
/// stays there. With `-P` it takes the address back make-before-break (it never ran
/// its down script) and sends a gratuitous ARP at once.
#[test]
fn a_frozen_master_does_not_move_the_address_twice() {
    for preempt in [false, true] {
        let mut rig = rig!(Rig::new(2));
        let a_opts: &[&str] = if preempt {
            &["-k", "0", "-P", "-z"]
        } else {
            &["-k", "0", "-z"]
        };
        let a = rig.start(0, OURS, a_opts);
        assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
        let b = rig.start(1, OURS, &["-k", "50", "-z"]);
        assert!(b.wait_log("Switching to state: BACKUP", LONG));
        std::thread::sleep(Duration::from_secs(2));

        // Frozen for 5 s, longer than B's dead time (3 s + 50/256 s): B takes over.
        rig.isolate(0, true);
        rig.signal(&a, "STOP");
        assert!(
            b.wait_log("Switching to state: MASTER", LONG),
            "{}",
            b.output()
        );
        assert!(wait_until(LONG, || rig.has_addr(1, VIP)));
        std::thread::sleep(Duration::from_secs(2));
        let a_scripts_before = rig.script_log(0).len();
        let cap = rig.capture("arp");
        rig.signal(&a, "CONT");
        rig.isolate(0, false);

        assert!(
            a.wait_log("Missed our own adverts for", LONG),
            "{}",
            a.output()
        );
        std::thread::sleep(Duration::from_secs(6));
        rig.stop_capture(&cap);
        let a_out = a.output();
        let b_out = b.output();
        let a_new_scripts = rig.script_log(0)[a_scripts_before..].to_vec();
        if preempt {
            assert!(
                a_out.contains("took over while we were frozen: taking the address back"),
                "{a_out}"
            );
            assert!(rig.has_addr(0, VIP) && !rig.has_addr(1, VIP));
            assert_eq!(b.count("Preferred master advertised"), 1, "{b_out}");
            assert!(
                a_new_scripts.is_empty(),
                "A kept the address: {a_new_scripts:?}"
            );
            // A's gratuitous ARP went out after the release, from A's own MAC.
            let garps = tshark_fields(
                &cap.pcap,
                &format!("arp.src.hw_mac == {}", mac_of(&a_out)),
                &["arp.src.proto_ipv4"],
            );
            assert!(garps.iter().any(|ip| ip == VIP), "{garps:?}");
        } else {
            assert!(
                a_out.contains("took over while we were frozen: leaving the address to it"),
                "{a_out}"
            );
            assert!(rig.has_addr(1, VIP) && !rig.has_addr(0, VIP));
            assert!(!b_out.contains("Preferred master advertised"), "{b_out}");
            assert_eq!(a_new_scripts.len(), 1, "{a_new_scripts:?}");
            assert!(a_new_scripts[0].starts_with("DOWN"), "{a_new_scripts:?}");
        }
        assert!(!a_out.contains("Split brain"), "{a_out}");
    }
}

/// `--preempt-delay`: a `-P` node started while a worse master serves waits out the
/// delay before it preempts; a master that dies is replaced at the usual dead time
/// even during the delay.
#[test]
fn preempt_delay_waits_before_preempting_but_not_before_a_takeover() {
    let mut rig = rig!(Rig::new(2));
    let b = rig.start(1, OURS, &["-k", "100", "-z"]);
    assert!(wait_until(LONG, || rig.has_addr(1, VIP)), "{}", b.output());
    let a = rig.start(0, OURS, &["-k", "0", "-P", "--preempt-delay", "6"]);
    assert!(a.wait_log("Switching to state: BACKUP", LONG));
    std::thread::sleep(Duration::from_secs(3));
    assert!(!a.output().contains("MASTER"), "{}", a.output());
    assert!(rig.has_addr(1, VIP));
    assert!(
        a.wait_log("Putting MASTER down - preemption", LONG),
        "{}",
        a.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP) && !rig.has_addr(1, VIP)));
    // From the log's own timestamps: not before the delay had passed.
    let stamp = |line: &str| -> f64 {
        let t = &line[11..26]; // HH:MM:SS.uuuuuu
        let p: Vec<f64> = t.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600.0 + p[1] * 60.0 + p[2]
    };
    let out = a.output();
    let first = out.lines().next().unwrap();
    let master = out.lines().find(|l| l.contains("state: MASTER")).unwrap();
    assert!(stamp(master) - stamp(first) >= 6.0, "{out}");

    // B, now backup, dies while a new -P node with a long delay waits: A's crash is
    // taken over at the dead time, not after the delay.
    rig.signal(&a, "KILL");
    assert!(
        b.wait_log("Switching to state: MASTER", LONG),
        "{}",
        b.output()
    );
    let a2 = rig.start(0, OURS, &["-k", "0", "-P", "--preempt-delay", "600"]);
    assert!(a2.wait_log("Switching to state: BACKUP", LONG));
    std::thread::sleep(Duration::from_secs(2));
    assert!(!a2.output().contains("MASTER"), "{}", a2.output());
    rig.signal(&b, "KILL");
    assert!(
        a2.wait_log("Switching to state: MASTER", LONG),
        "{}",
        a2.output()
    );
}

/// `--witness` against split brain (docs/PROTOCOL.md §5.15): host 0 is the witness (a
/// namespace with an address, whose kernel answers ARP), hosts 1 and 2 run ours.
const WITNESS: &str = "198.18.0.1";

/// Polls both hosts every ~20 ms for at least `d`; returns false at the first moment
/// both hold the VIP.
fn never_two_holders(rig: &Rig, d: Duration) -> bool {
    let step = Duration::from_millis(20);
    for _ in 0..d.as_millis() / step.as_millis() {
        if rig.has_addr(1, VIP) && rig.has_addr(2, VIP) {
            return false;
        }
        std::thread::sleep(step);
    }
    true
}

/// Starts the pair: host 1 (advskew 0) becomes master, host 2 (advskew 100) backup.
fn witness_pair(rig: &mut Rig) -> (crate::netns::Proc, crate::netns::Proc) {
    let a = rig.start(1, OURS, &["-k", "0", "--witness", WITNESS]);
    assert!(wait_until(LONG, || rig.has_addr(1, VIP)), "{}", a.output());
    let state = rig.dir.join("b.state.json").display().to_string();
    let b = rig.start(
        2,
        OURS,
        &["-k", "100", "--witness", WITNESS, "--state-file", &state],
    );
    assert!(b.wait_log("Switching to state: BACKUP", LONG));
    std::thread::sleep(Duration::from_secs(2));
    (a, b)
}

/// Case A: the master is cut off from the peer and the witness. It releases the address
/// before the backup takes over: no moment with two holders; the backup ends holding
/// it and answering the witness's ping. Healed: one holder.
#[test]
fn witness_isolated_master_releases_before_the_backup_takes_over() {
    let mut rig = rig!(Rig::new(3));
    let (a, b) = witness_pair(&mut rig);
    rig.isolate(1, true);
    // The backup's dead time is 3.4 s; watch it and a few seconds more.
    assert!(
        never_two_holders(&rig, Duration::from_secs(8)),
        "two holders\n{}\n{}",
        a.output(),
        b.output()
    );
    assert!(rig.has_addr(2, VIP) && !rig.has_addr(1, VIP));
    assert!(
        a.output().contains("releasing the address anyway"),
        "{}",
        a.output()
    );
    assert!(wait_until(LONG, || rig
        .cmd(0, "ping")
        .args(["-c", "1", "-W", "1", VIP])
        .status()
        .is_ok_and(|s| s.success())));
    rig.isolate(1, false);
    assert!(never_two_holders(&rig, Duration::from_secs(6)));
    assert_eq!(
        [rig.has_addr(1, VIP), rig.has_addr(2, VIP)],
        [false, true],
        "{}\n{}",
        a.output(),
        b.output()
    );
}

/// Case B: the backup is cut off. It never takes the address (it sees no witness); the
/// master keeps it. Healed: one holder, the master.
#[test]
fn witness_isolated_backup_never_takes_the_address() {
    let mut rig = rig!(Rig::new(3));
    let (a, b) = witness_pair(&mut rig);
    rig.isolate(2, true);
    assert!(never_two_holders(&rig, Duration::from_secs(8)));
    assert!(!rig.has_addr(2, VIP), "{}", b.output());
    assert!(rig.has_addr(1, VIP), "{}", a.output());
    assert_eq!(
        b.count("No witness reachable: not taking over"),
        1,
        "{}",
        b.output()
    );
    // The state file says why this backup will not take over.
    let state = rig.dir.join("b.state.json");
    let witness = || {
        let text = std::fs::read_to_string(&state).unwrap_or_default();
        ucarp::status::parse(&text).ok().and_then(|d| {
            d.get("witness")
                .and_then(|w| w.as_str().map(str::to_string))
        })
    };
    assert!(wait_until(LONG, || witness().as_deref() == Some("unreachable")));
    rig.isolate(2, false);
    assert!(
        b.wait_log("A witness answers again", LONG),
        "{}",
        b.output()
    );
    assert!(never_two_holders(&rig, Duration::from_secs(6)));
    assert_eq!([rig.has_addr(1, VIP), rig.has_addr(2, VIP)], [true, false]);
    assert!(wait_until(LONG, || witness().as_deref() == Some("reachable")));
}

/// IPv6: witnesses are probed by neighbour solicitation. A lone node whose witness
/// answers (host 0's kernel) takes the address; one whose witness does not exist never
/// does, and says why.
#[test]
fn witness_ipv6_is_probed_by_neighbour_solicitation() {
    let mut rig = rig!(Rig::new(2));
    rig.add_ipv6(0, "2001:db8::1");
    rig.add_ipv6(1, "2001:db8::2");
    let root = env!("CARGO_MANIFEST_DIR");
    let args = |witness: &str| -> Vec<String> {
        [
            "-i",
            "eth0",
            "-s",
            "2001:db8::2",
            "-v",
            "7",
            "-a",
            "2001:db8::100",
            "-p",
            "secret",
            "-f",
            "none",
            "-z",
            "-u",
            &format!("{root}/scripts/vip-up.sh"),
            "-d",
            &format!("{root}/scripts/vip-down.sh"),
            "--witness",
            witness,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let none = rig.start_raw(1, OURS, &args("2001:db8::99"));
    std::thread::sleep(Duration::from_secs(6));
    assert!(!rig.has_addr(1, "2001:db8::100"), "{}", none.output());
    assert_eq!(
        none.count("No witness reachable: not taking over"),
        1,
        "{}",
        none.output()
    );
    rig.signal(&none, "TERM");
    assert!(rig.wait_exit(&none, LONG).is_some());
    let seen = rig.start_raw(1, OURS, &args("2001:db8::1"));
    assert!(
        wait_until(LONG, || rig.has_addr(1, "2001:db8::100")),
        "{}",
        seen.output()
    );
    assert!(!seen.output().contains("No witness reachable"));
}

/// A carrier flap storm on the master, each outage shorter than the carrier grace
/// (docs/PROTOCOL.md §5.6.1; found by scripts/chaos, where every flap storm cost one dead
/// time): the address never moves, no script runs on either node, and when the storm
/// ends the master announces itself with a gratuitous ARP.
#[test]
fn a_carrier_flap_storm_on_the_master_moves_nothing() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0", "-z"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    let b = rig.start(1, OURS, &["-k", "50", "-z"]);
    assert!(b.wait_log("Switching to state: BACKUP", LONG));
    std::thread::sleep(Duration::from_secs(2));
    let scripts = (rig.script_log(0).len(), rig.script_log(1).len());
    let cap = rig.capture("arp");
    for i in 0..20 {
        rig.set_carrier(0, i % 2 == 1);
        std::thread::sleep(Duration::from_millis(150));
    }
    std::thread::sleep(Duration::from_secs(6));
    rig.stop_capture(&cap);
    let (a_out, b_out) = (a.output(), b.output());
    assert!(a_out.contains("Link down: keeping the address"), "{a_out}");
    assert!(a_out.contains("Link up again in time"), "{a_out}");
    assert!(!a_out.contains("switching to BACKUP"), "{a_out}");
    assert!(!b_out.contains("MASTER"), "{b_out}");
    assert!(rig.has_addr(0, VIP) && !rig.has_addr(1, VIP));
    assert_eq!(
        (rig.script_log(0).len(), rig.script_log(1).len()),
        scripts,
        "no script ran"
    );
    let garps = tshark_fields(
        &cap.pcap,
        &format!("arp.src.hw_mac == {}", mac_of(&a_out)),
        &["arp.src.proto_ipv4"],
    );
    assert!(garps.iter().any(|ip| ip == VIP), "{garps:?}");
}
