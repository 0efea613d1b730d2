//! The daemon on a real network: two or more of ours in network namespaces.
//!
//! Waits are bounded and generous (a default master-down time is 3 s); nothing here
//! asserts how fast something happened, only that it happened and in what order.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use crate::netns::{pcap_frames, sh, wait_until, write_script, Rig, OURS};

const VIP: &str = "198.18.0.100";
const LONG: Duration = Duration::from_secs(15);

/// Builds a rig or skips the test (outside CI) when namespaces are unavailable.
#[test]
fn election_then_takeover_when_the_master_link_is_cut() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0"]);
    let b = rig.start(1, OURS, &["-k", "50"]);
    assert!(
        a.wait_log("Switching to state: MASTER", LONG),
        "{}",
        a.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    assert!(b.output().contains("Switching to state: BACKUP"));
    assert!(!b.output().contains("MASTER"), "{}", b.output());

    rig.set_carrier(0, false);
    assert!(
        b.wait_log("Switching to state: MASTER", LONG),
        "{}",
        b.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP)));
    // The master that lost its carrier went to BACKUP and ran its downscript.
    assert!(a.wait_log("Link down", LONG), "{}", a.output());
    assert!(wait_until(LONG, || !rig.has_addr(0, VIP)));

    // Carrier back: A hears B as master and, without -P, stays backup.
    rig.set_carrier(0, true);
    assert!(a.wait_log("Link up", LONG), "{}", a.output());
    std::thread::sleep(Duration::from_secs(5));
    assert!(rig.has_addr(1, VIP) && !rig.has_addr(0, VIP));
    assert_eq!(a.count("Switching to state: MASTER"), 1, "{}", a.output());
}

#[test]
fn preemption_takes_the_address_back() {
    let mut rig = rig!(Rig::new(2));
    let b = rig.start(1, OURS, &["-k", "50"]);
    assert!(b.wait_log("Switching to state: MASTER", LONG));
    let a = rig.start(0, OURS, &["-k", "0", "-P"]);
    assert!(
        a.wait_log("Putting MASTER down - preemption", LONG),
        "{}",
        a.output()
    );
    assert!(b.wait_log(
        "Preferred master advertised: going back to BACKUP state",
        LONG
    ));
    assert!(wait_until(LONG, || rig.has_addr(0, VIP) && !rig.has_addr(1, VIP)));
}

#[test]
fn without_preemption_a_better_backup_waits() {
    let mut rig = rig!(Rig::new(2));
    let b = rig.start(1, OURS, &["-k", "50"]);
    assert!(b.wait_log("Switching to state: MASTER", LONG));
    let a = rig.start(0, OURS, &["-k", "0"]);
    std::thread::sleep(Duration::from_secs(6));
    assert!(!a.output().contains("MASTER"), "{}", a.output());
    assert!(rig.has_addr(1, VIP));
}

#[test]
fn neutral_skips_the_startup_downscript() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-n"]);
    let b = rig.start(1, OURS, &["-k", "50"]);
    assert!(a.wait_log("Switching to state: MASTER", LONG));
    assert!(wait_until(LONG, || !rig.script_log(0).is_empty()));
    assert!(
        rig.script_log(0)[0].starts_with("UP "),
        "{:?}",
        rig.script_log(0)
    );
    assert!(wait_until(LONG, || !rig.script_log(1).is_empty()));
    assert!(rig.script_log(1)[0].starts_with("DOWN "));
    drop(b);
}

#[test]
fn script_arguments_byte_for_byte() {
    let mut rig = rig!(Rig::new(2));
    let _a = rig.start(0, OURS, &["-x", "extra  arg"]);
    let _b = rig.start(1, OURS, &[]);
    assert!(wait_until(LONG, || rig
        .script_log(0)
        .iter()
        .any(|l| l.starts_with("UP"))
        || rig.script_log(1).iter().any(|l| l.starts_with("UP"))));
    let with_x = rig.script_log(0);
    let without_x = rig.script_log(1);
    assert_eq!(with_x[0], "DOWN argc=3 [eth0] [198.18.0.100] [extra  arg]");
    assert_eq!(without_x[0], "DOWN argc=2 [eth0] [198.18.0.100]");
    let up = with_x
        .iter()
        .chain(&without_x)
        .find(|l| l.starts_with("UP"))
        .unwrap();
    assert!(
        up == "UP argc=3 [eth0] [198.18.0.100] [extra  arg]"
            || up == "UP argc=2 [eth0] [198.18.0.100]",
        "{up}"
    );
}

#[test]
fn sigterm_with_z_runs_the_downscript_and_exits_0() {
    let mut rig = rig!(Rig::new(1));
    let a = rig.start(0, OURS, &["-z"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    rig.signal(&a, "TERM");
    let status = rig.wait_exit(&a, LONG).expect("still running");
    assert_eq!(status.code(), Some(0), "{}", a.output());
    assert_eq!(rig.script_log(0).last().map(|l| &l[..4]), Some("DOWN"));
    assert!(!rig.has_addr(0, VIP));
}

#[test]
fn sigterm_without_z_kills_at_once_and_leaves_the_address() {
    let mut rig = rig!(Rig::new(1));
    let a = rig.start(0, OURS, &[]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    rig.signal(&a, "TERM");
    let status = rig.wait_exit(&a, LONG).expect("still running");
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(rig.script_log(0).last().unwrap().starts_with("UP"));
    assert!(rig.has_addr(0, VIP));
}

#[test]
fn sigterm_in_backup_exits_without_a_script() {
    let mut rig = rig!(Rig::new(2));
    let _a = rig.start(0, OURS, &["-k", "0"]);
    let b = rig.start(1, OURS, &["-k", "50", "-z"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    let lines = rig.script_log(1).len();
    rig.signal(&b, "TERM");
    assert_eq!(rig.wait_exit(&b, LONG).and_then(|s| s.code()), Some(0));
    assert_eq!(rig.script_log(1).len(), lines);
}

#[test]
fn usr2_demotes_and_the_peer_takes_over() {
    let mut rig = rig!(Rig::new(2));
    let a = rig.start(0, OURS, &["-k", "0"]);
    let b = rig.start(1, OURS, &["-k", "50"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    rig.signal(&a, "USR2");
    assert!(
        b.wait_log("Switching to state: MASTER", LONG),
        "{}",
        b.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)));
    assert!(a.output().contains("Switching to state: BACKUP"));
}

#[test]
fn usr1_logs_the_state() {
    let mut rig = rig!(Rig::new(1));
    let a = rig.start(0, OURS, &[]);
    // Until its handlers are set up, USR1's default action would kill it.
    assert!(a.wait_log("Switching to state: BACKUP", LONG));
    rig.signal(&a, "USR1");
    assert!(
        a.wait_log("[INFO] BACKUP on eth0 id 7", LONG),
        "{}",
        a.output()
    );
    assert!(a.wait_log("Switching to state: MASTER", LONG));
    rig.signal(&a, "USR1");
    assert!(
        a.wait_log("[INFO] MASTER on eth0 id 7", LONG),
        "{}",
        a.output()
    );
}

#[test]
fn nomcast_sends_broadcast_frames_and_elects() {
    let mut rig = rig!(Rig::new(2));
    let cap = rig.capture("ip proto 112");
    let a = rig.start(0, OURS, &["-M", "-k", "0"]);
    let b = rig.start(1, OURS, &["-M", "-k", "50"]);
    assert!(a.wait_log("Switching to state: MASTER", LONG));
    std::thread::sleep(Duration::from_secs(3));
    rig.stop_capture(&cap);
    assert!(!b.output().contains("MASTER"), "{}", b.output());
    let frames = pcap_frames(&cap.pcap);
    assert!(frames.len() >= 3, "{} frames", frames.len());
    for f in &frames {
        assert_eq!(f[0..6], [0xff; 6]);
        assert_eq!(
            f[30..34],
            [224, 0, 0, 18],
            "the IP destination stays the group"
        );
    }
}

#[test]
fn interface_set_down_exits_0_after_the_downscript_under_z() {
    let mut rig = rig!(Rig::new(1));
    let a = rig.start(0, OURS, &["-z"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    sh(Command::new("ip").args(["-n", &rig.hosts[0].ns, "link", "set", "eth0", "down"]));
    let status = rig.wait_exit(&a, LONG).expect("still running");
    assert_eq!(status.code(), Some(0), "{}", a.output());
    assert!(rig.script_log(0).last().unwrap().starts_with("DOWN"));
    // One account of what happened: exiting, not "waiting for the link" (issue 18).
    let out = a.output();
    // The packet socket ("Network is down") or netlink ("interface set down") tells
    // first; either way it is the one account given.
    assert!(out.contains("exiting: interface [eth0] is gone: "), "{out}");
    assert!(!out.contains("Link down"), "{out}");
}

#[test]
fn interface_deleted_exits_0() {
    let mut rig = rig!(Rig::new(1));
    let a = rig.start(0, OURS, &[]);
    assert!(a.wait_log("Switching to state: BACKUP", LONG));
    sh(Command::new("ip").args(["-n", &rig.hosts[0].ns, "link", "del", "eth0"]));
    let status = rig.wait_exit(&a, LONG).expect("still running");
    assert_eq!(status.code(), Some(0), "{}", a.output());
    assert!(a.output().contains("exiting"));
}

#[test]
fn signals_are_handled_at_once_while_the_link_is_down() {
    let mut rig = rig!(Rig::new(1));
    let a = rig.start(0, OURS, &["-z"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    rig.set_carrier(0, false);
    // After the carrier grace (docs/PROTOCOL.md §5.6.1), BACKUP until the link returns.
    assert!(a.wait_log("switching to BACKUP until it comes back", LONG));
    rig.signal(&a, "USR1");
    assert!(a.wait_log("BACKUP on eth0 id 7", Duration::from_secs(2)));
    rig.signal(&a, "TERM");
    // ucarp would wait for the link to come back; here TERM is handled at once.
    let status = rig
        .wait_exit(&a, Duration::from_secs(2))
        .expect("TERM deferred");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn adverts_keep_going_while_a_script_runs() {
    let mut rig = rig!(Rig::new(2));
    // An up script that takes 5 s: the master must keep advertising meanwhile, so the
    // backup never takes over.
    let slow = rig.dir.join("slow-up.sh");
    write_script(&slow, "sleep 5\nip addr add \"$2\"/32 dev \"$1\"");
    let slow = slow.display().to_string();
    let args = rig.args(0, &["--script-timeout", "30", "-u", &slow]);
    let a = rig.start_raw(0, OURS, &args);
    assert!(a.wait_log("Switching to state: MASTER", LONG));
    let b = rig.start(1, OURS, &["-k", "50"]);
    std::thread::sleep(Duration::from_secs(6));
    assert!(!b.output().contains("MASTER"), "{}", b.output());
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
}

/// Syslog as ucarp does it: ident `ucarp`, the pid, the `-f` facility, ucarp's
/// `[LEVEL]` prefix. The daemon runs in a private mount namespace with its own tmpfs
/// on /dev, so the test's /dev/log socket never exists on the host.
#[test]
fn syslog_gets_ident_pid_facility_and_level() {
    use std::os::unix::net::UnixDatagram;
    let mut rig = rig!(Rig::new(1));
    let keep = rig.dir.join("keep");
    std::fs::create_dir_all(&keep).unwrap();
    let k = keep.display();
    let ip = rig.hosts[0].ip;
    let script = format!(
        "set -e; mount --make-rprivate /; \
         touch {k}/null {k}/urandom; mount --bind /dev/null {k}/null; mount --bind /dev/urandom {k}/urandom; \
         mount -t tmpfs none /dev; touch /dev/null /dev/urandom; \
         mount --bind {k}/null /dev/null; mount --bind {k}/urandom /dev/urandom; touch /dev/ready; \
         while [ ! -S /dev/log ]; do sleep 0.05; done; \
         exec {OURS} -i eth0 -s {ip} -v 7 -p secret -a {VIP} -f local3 -n"
    );
    let args: Vec<String> = ["-m", "sh", "-c", &script]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let p = rig.start_raw(0, "unshare", &args);
    let root = std::path::PathBuf::from(format!("/proc/{}/root/dev", p.pid));
    assert!(
        wait_until(LONG, || root.join("ready").exists()),
        "{}",
        p.output()
    );
    let sock = UnixDatagram::bind(root.join("log")).unwrap();
    sock.set_read_timeout(Some(LONG)).unwrap();
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    while !got
        .iter()
        .any(|m: &String| m.contains("Switching to state: MASTER"))
    {
        let n = match sock.recv(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => other.expect("no syslog message in time"),
        };
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let backup = got
        .iter()
        .find(|m| m.contains("Switching to state: BACKUP"))
        .unwrap();
    // local3 (19 << 3) + LOG_WARNING (4) = 156.
    assert!(backup.starts_with("<156>"), "{backup}");
    assert!(
        backup.contains(&format!(
            "ucarp[{}]: [WARNING] Switching to state: BACKUP",
            p.pid
        )),
        "{backup}"
    );
    // Nothing reached stderr's format in syslog, and INFO goes to syslog too.
    assert!(got
        .iter()
        .any(|m| m.starts_with("<158>") && m.contains("[INFO] Local advertised ethernet address")));
}

#[test]
fn daemonize_detaches_after_setup_and_keeps_running() {
    let rig = rig!(Rig::new(1));
    let up = rig.script(0, true);
    let down = rig.script(0, false);
    let ip = rig.hosts[0].ip.to_string();
    let out = rig
        .cmd(0, OURS)
        .args([
            "-i", "eth0", "-s", &ip, "-v", "7", "-p", "secret", "-a", VIP, "-f", "none", "-B",
        ])
        .arg("-u")
        .arg(&up)
        .arg("-d")
        .arg(&down)
        .output()
        .unwrap();
    // The parent returns at once, with 0 and nothing written.
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The detached daemon becomes master and runs the scripts (absolute paths: its
    // working directory is now /).
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    let pids = sh(Command::new("ip").args(["netns", "pids", &rig.hosts[0].ns]));
    let pids = String::from_utf8_lossy(&pids.stdout).into_owned();
    let pid = pids.split_whitespace().next().expect("daemon not running");
    // It is not a session leader (double fork) and its cwd is /.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_ne!(fields[3], pid, "session leader");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        std::path::Path::new("/")
    );
}

#[test]
fn takeover_sends_gratuitous_arps_from_the_real_mac() {
    let mut rig = rig!(Rig::new(1));
    let cap = rig.capture("arp");
    let a = rig.start(0, OURS, &[]);
    assert!(a.wait_log("Switching to state: MASTER", LONG));
    // The second GARP goes with the third advert, two intervals later.
    std::thread::sleep(Duration::from_secs(3));
    rig.stop_capture(&cap);
    let garps: Vec<ucarp::arp::GarpFrame> = pcap_frames(&cap.pcap)
        .iter()
        .filter_map(|f| ucarp::arp::GarpFrame::parse(f))
        .collect();
    assert_eq!(garps.len(), 2, "{garps:?}");
    for g in garps {
        assert_eq!(g.mac.to_string(), "02:00:00:00:00:01");
        assert_eq!(g.vaddr.to_string(), VIP);
    }
}
