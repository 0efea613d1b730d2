//! Hardening (issue 7) on a real network: secrets, replays, link storms, crashes.

use std::process::Command;
use std::time::{Duration, Instant};

use ucarp::net::{advert_filter, PacketSocket};

use crate::netns::{in_netns, sending_socket, sh, wait_until, write_file, Rig, OURS};

const VIP: &str = "198.18.0.100";
const LONG: Duration = Duration::from_secs(20);

fn cmdline(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap())
        .replace('\0', " ")
}

/// The -p password is gone from /proc/PID/cmdline right after parsing, whatever its
/// form, and never shows in logs (even with -D) or in the state file.
#[test]
fn the_password_is_hidden_from_ps_logs_and_state() {
    let mut rig = rig!(Rig::new(1));
    let state = rig.dir.join("state.json");
    let s = state.display().to_string();
    for form in [
        &["-p", "hush-hush-42"][..],
        &["--pass=hush-hush-42"],
        &["-phush-hush-42"],
    ] {
        let mut extra: Vec<&str> = form.to_vec();
        extra.extend(["-D", "--state-file", &s]);
        let a = rig.start(0, OURS, &extra);
        assert!(
            a.wait_log("Switching to state: MASTER", LONG),
            "{}",
            a.output()
        );
        let line = cmdline(a.pid);
        assert!(!line.contains("hush"), "{line}");
        assert!(line.contains("xxxxxxxxxxxx"), "{line}");
        assert!(
            line.contains("-i eth0"),
            "other arguments must stay: {line}"
        );
        rig.signal(&a, "USR1");
        assert!(a.wait_log("adverts sent=", LONG));
        assert!(!a.output().contains("hush"), "password in the log");
        assert!(!std::fs::read_to_string(&state).unwrap().contains("hush"));
        rig.signal(&a, "KILL");
        rig.wait_exit(&a, LONG);
    }
}

#[test]
fn a_password_file_readable_by_others_is_warned_about() {
    let mut rig = rig!(Rig::new(1));
    for (mode, warned) in [("0644", true), ("0600", false)] {
        let file = rig.dir.join(format!("pass-{mode}"));
        write_file(&file, b"secret\n", mode);
        let f = file.display().to_string();
        let a = rig.start(0, OURS, &["-o", &f]);
        assert!(a.wait_log("Switching to state: BACKUP", LONG));
        assert_eq!(
            a.output().contains("readable by group or others"),
            warned,
            "{}",
            a.output()
        );
        rig.signal(&a, "KILL");
        rig.wait_exit(&a, LONG);
    }
}

/// Captures one advert of the master, kills the master, and replays the advert every
/// second from a third host: Debian-compatible ucarp semantics keep the backup quiet
/// forever; with --replay-window the backup takes over on time.
#[test]
fn replayed_adverts_keep_a_plain_backup_quiet_but_not_a_protected_one() {
    for protected in [false, true] {
        let mut rig = rig!(Rig::new(3));
        let mut extra = vec!["-k", "0"];
        if protected {
            extra.extend(["--replay-window", "1024"]);
        }
        let a = rig.start(0, OURS, &extra);
        assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
        let mut extra = vec!["-k", "50"];
        if protected {
            extra.extend(["--replay-window", "1024"]);
        }
        let b = rig.start(1, OURS, &extra);
        std::thread::sleep(Duration::from_secs(3));
        let ns = rig.hosts[2].ns.clone();
        // Capture the master's next advert from the attacker's namespace.
        let captured = capture_advert(&rig);
        rig.signal(&a, "KILL");
        rig.wait_exit(&a, LONG);
        rig.set_carrier(0, false);
        let replay = captured.clone();
        in_netns(&ns, move || {
            let socket = sending_socket("eth0");
            for _ in 0..10 {
                socket.send(&replay).unwrap();
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        if protected {
            assert!(
                b.output().contains("Switching to state: MASTER"),
                "{}",
                b.output()
            );
            assert!(
                b.output().contains("Replayed advert from [198.18.0.1]"),
                "{}",
                b.output()
            );
            assert!(rig.has_addr(1, VIP));
        } else {
            assert!(!b.output().contains("MASTER"), "{}", b.output());
        }
    }
}

/// 50 carrier flaps in 10 s on the master, then the interface deleted: no crash, one
/// master at the end, and each host's scripts in a consistent order (never two up
/// scripts without a down script between them).
#[test]
fn link_storms_end_with_one_master_and_scripts_in_order() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0", "-z"]);
    let b = rig.start(1, OURS, &["-k", "50", "-z"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    for i in 0..100 {
        rig.set_carrier(0, i % 2 == 1);
        std::thread::sleep(Duration::from_millis(100));
    }
    // Settled: exactly one host holds the address.
    assert!(wait_until(LONG, || rig.has_addr(0, VIP) != rig.has_addr(1, VIP)));
    std::thread::sleep(Duration::from_secs(5));
    assert!(rig.has_addr(0, VIP) != rig.has_addr(1, VIP));
    // Set down and up, then deleted: A exits cleanly (ucarp semantics), B holds on.
    sh(Command::new("ip").args(["-n", &rig.hosts[0].ns, "link", "set", "eth0", "down"]));
    let status = rig
        .wait_exit(&a, LONG)
        .expect("A still running after its interface went down");
    assert_eq!(status.code(), Some(0), "{}", a.output());
    assert!(!a.output().contains("panicked"));
    sh(Command::new("ip").args(["-n", &rig.hosts[0].ns, "link", "del", "eth0"]));
    assert!(wait_until(LONG, || rig.has_addr(1, VIP)), "{}", b.output());
    assert!(rig.wait_exit(&b, Duration::ZERO).is_none(), "B exited");
    for h in 0..2 {
        let log = rig.script_log(h);
        let kinds: Vec<&str> = log.iter().map(|l| &l[..l.find(' ').unwrap()]).collect();
        assert!(
            kinds.windows(2).all(|w| !(w[0] == "UP" && w[1] == "UP")),
            "host {h}: {kinds:?}"
        );
        assert_eq!(
            kinds.first(),
            Some(&"DOWN"),
            "host {h} starts with its down script"
        );
    }
}

/// After kill -9 of the master and a restart, the address is on two hosts for less
/// than one dead time: the restarted node runs its down script at start.
#[test]
fn a_killed_and_restarted_master_does_not_keep_the_address() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0"]);
    let _b = rig.start(1, OURS, &["-k", "50"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    rig.signal(&a, "KILL");
    rig.wait_exit(&a, LONG);
    // The killed master ran no script: its address is still there.
    assert!(rig.has_addr(0, VIP));
    std::thread::sleep(Duration::from_secs(1));
    let _a2 = rig.start(0, OURS, &["-k", "0"]);
    // Sample who holds the address for 10 s; the overlap must stay under a dead time.
    let dead = Duration::from_millis(3195);
    let (mut both_since, mut longest) = (None, Duration::ZERO);
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let both = rig.has_addr(0, VIP) && rig.has_addr(1, VIP);
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        match (both, both_since) {
            (true, None) => both_since = Some(now),
            (false, Some(t)) => {
                longest = longest.max(now - t);
                both_since = None;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(both_since.is_none(), "still on both hosts");
    assert!(longest < dead, "on both hosts for {longest:?}");
    assert!(rig.has_addr(0, VIP) != rig.has_addr(1, VIP));
}

/// Captures, from host 2's namespace, the next advert for vhid 7 that crosses the LAN.
fn capture_advert(rig: &Rig) -> Vec<u8> {
    let attacker = rig.hosts[2].ip;
    in_netns(&rig.hosts[2].ns.clone(), move || {
        let ifindex = ucarp::net::interface_index("eth0").unwrap();
        let socket = PacketSocket::open(
            ifindex,
            &advert_filter(attacker.into(), 7),
            ucarp::net::ethertype_of(attacker.into()),
        )
        .unwrap();
        let mut bufs = [[0u8; ucarp::net::FRAME_SNAP]; 1];
        let mut lens = [0usize; 1];
        for _ in 0..500 {
            if socket.recv_batch(&mut bufs, &mut lens).unwrap() == 1 {
                return bufs[0][..lens[0]].to_vec();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no advert captured");
    })
}

/// A captured advert with advbase and advskew rewritten and the CARP checksum
/// recomputed: what anyone on the LAN can make of one advert, since ucarp's digest
/// does not cover those two fields.
fn forge(frame: &[u8], advbase: u8, advskew: u8) -> Vec<u8> {
    let mut f = frame.to_vec();
    let carp = &mut f[34..70];
    carp[2] = advskew;
    carp[5] = advbase;
    ucarp::packet::CarpPacket::new_unchecked(carp).fill_checksum();
    f
}

/// Two forgeries from one captured advert of the master, replayed ten times a second
/// for five seconds. A skew so poor (255/254) that a `-P` backup preempts: the address
/// moves to it today, then back as the real master re-announces, for as long as the
/// replays go on. A bow-out (255/255): a Debian ucarp backup takes over at once; ours
/// waits 1.25 s plus its skew, and the live master's own adverts keep re-arming that
/// wait, so nothing moves. With --strict-auth both are bad digests and nothing moves.
#[test]
fn strict_auth_refuses_forged_bow_outs_and_skews() {
    for (advbase, advskew) in [(255, 254), (255, 255)] {
        for strict in [false, true] {
            let mut rig = rig!(Rig::new(3));
            let mut a_opts = vec!["-k", "0"];
            let mut b_opts = vec!["-k", "50", "-P"];
            if strict {
                a_opts.push("--strict-auth");
                b_opts.push("--strict-auth");
            }
            let a = rig.start(0, OURS, &a_opts);
            assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
            let b = rig.start(1, OURS, &b_opts);
            assert!(b.wait_log("Switching to state: BACKUP", LONG));
            std::thread::sleep(Duration::from_secs(2));
            let forged = forge(&capture_advert(&rig), advbase, advskew);
            in_netns(&rig.hosts[2].ns.clone(), move || {
                let socket = sending_socket("eth0");
                for _ in 0..50 {
                    socket.send(&forged).unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
            std::thread::sleep(Duration::from_secs(1));
            let what = format!("forged {advbase}/{advskew}, strict {strict}");
            let moved = b.output().contains("Switching to state: MASTER");
            if strict {
                assert!(!moved, "{what}: {}", b.output());
                assert!(b.output().contains("Bad digest"), "{what}: {}", b.output());
                assert!(rig.has_addr(0, VIP) && !rig.has_addr(1, VIP), "{what}");
            } else {
                assert_eq!(moved, advskew == 254, "{what}: {}", b.output());
            }
        }
    }
}

/// With --strict-auth on both sides, a pair still hands over on TERM (the bow-out is
/// signed whole), preempts back, and takes over from a crashed master.
#[test]
fn a_strict_pair_fails_over_planned_and_unplanned() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0", "-P", "-z", "--strict-auth"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    let b = rig.start(1, OURS, &["-k", "50", "-z", "--strict-auth"]);
    assert!(b.wait_log("Switching to state: BACKUP", LONG));
    std::thread::sleep(Duration::from_secs(2));
    rig.signal(&a, "TERM");
    assert!(
        b.wait_log("Switching to state: MASTER", LONG),
        "{}",
        b.output()
    );
    assert_eq!(rig.wait_exit(&a, LONG).and_then(|s| s.code()), Some(0));
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)));
    let a2 = rig.start(0, OURS, &["-k", "0", "-P", "-z", "--strict-auth"]);
    assert!(
        a2.wait_log("Putting MASTER down - preemption", LONG),
        "{}",
        a2.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP) && !rig.has_addr(1, VIP)));
    rig.signal(&a2, "KILL");
    assert!(wait_until(LONG, || b.count("Switching to state: MASTER") == 2));
    assert!(!b.output().contains("Bad digest"), "{}", b.output());
}
