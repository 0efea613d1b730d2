//! Issue 18, on a real network: groups of two to four nodes mixing ours and Debian's
//! ucarp, slow but working scripts, hung scripts, and the log lines that misled.
//!
//! Who holds the address is sampled on a thread every few milliseconds; script logs
//! give the order of events. No assertion is on a duration.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::netns::{wait_until, write_script, Proc, Rig, OURS, UCARP};

const VIP: &str = "198.18.0.100";
const LONG: Duration = Duration::from_secs(20);

/// Up and down scripts for host `h` that sleep `up`/`down` seconds, then add or
/// remove the address. Each appends `h<h> up-start` when it starts and `h<h> UP` (or
/// `DOWN`) when done to the rig's shared `all.scripts`.
fn slow_scripts(rig: &Rig, h: usize, up: f64, down: f64) -> (String, String) {
    let all = rig.dir.join("all.scripts");
    let write = |name: &str, sleep: f64, action: &str| -> PathBuf {
        let path = rig.dir.join(format!("h{h}-slow-{name}.sh"));
        let body = format!(
            "#!/bin/sh\necho 'h{h} {name}-start' >> {all}\nsleep {sleep}\n{action}\necho 'h{h} {NAME}' >> {all}\nexit 0\n",
            all = all.display(),
            NAME = name.to_uppercase(),
        );
        write_script(&path, &body);
        path
    };
    let up = write("up", up, r#"ip addr add "$2"/32 dev "$1""#);
    let down = write("down", down, r#"ip addr del "$2"/32 dev "$1" 2>/dev/null"#);
    (up.display().to_string(), down.display().to_string())
}

/// Starts `program` on host `h` with the given scripts and extra options.
fn start_with(
    rig: &mut Rig,
    h: usize,
    program: &str,
    (up, down): &(String, String),
    extra: &[&str],
) -> Proc {
    let args = rig.args(h, &[&["-u", up, "-d", down][..], extra].concat());
    rig.start_raw(h, program, &args)
}

/// Which hosts hold the VIP, sampled until stopped.
struct Holders {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Vec<usize>>>>,
}

impl Holders {
    /// Samples every host, the current holder `first`: a make-before-break move from
    /// it can then never look like a gap (the new holder is looked at after the old one,
    /// and adds the address before the old one removes it).
    fn watch(rig: &Rig, first: usize) -> Holders {
        let mut order: Vec<usize> = vec![first];
        order.extend((0..rig.hosts.len()).filter(|&h| h != first));
        let namespaces: Vec<(usize, String)> = order
            .into_iter()
            .map(|h| (h, rig.hosts[h].ns.clone()))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let mut holding: Vec<usize> = namespaces
                    .iter()
                    .filter(|(_, ns)| {
                        let out = Command::new("ip")
                            .args(["-n", ns, "-4", "addr", "show", "dev", "eth0"])
                            .output();
                        out.is_ok_and(|o| {
                            String::from_utf8_lossy(&o.stdout).contains(&format!("inet {VIP}/"))
                        })
                    })
                    .map(|(h, _)| *h)
                    .collect();
                holding.sort_unstable();
                samples.push(holding);
                std::thread::sleep(Duration::from_millis(2));
            }
            samples
        });
        Holders {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling; returns the samples, in order.
    fn stop(mut self) -> Vec<Vec<usize>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

/// Checks a move of the address from host `from` to host `to`: it was at `from`,
/// then at both (the make-before-break overlap, a few milliseconds that sampling may
/// miss), then at `to` for good. Never nowhere, never anywhere else.
fn assert_moved(samples: &[Vec<usize>], from: usize, to: usize, logs: &dyn Fn() -> String) {
    let mut story: Vec<Vec<usize>> = Vec::new();
    for s in samples {
        if story.last() != Some(s) {
            story.push(s.clone());
        }
    }
    let both = {
        let mut b = vec![from, to];
        b.sort_unstable();
        b
    };
    let without_overlap: Vec<&Vec<usize>> = story.iter().filter(|s| **s != both).collect();
    assert_eq!(
        without_overlap,
        vec![&vec![from], &vec![to]],
        "holders over time: {story:?}\n{}",
        logs()
    );
}

/// The `all.scripts` lines written after the first `skip`.
fn scripts_since(rig: &Rig, skip: usize) -> Vec<String> {
    rig.all_scripts().into_iter().skip(skip).collect()
}

/// A planned handover (USR2 or TERM under -z) from our master to `successor`, whose
/// down script takes 7 s, longer than the old 5 s default limit: the script is not
/// killed, and the group ends with exactly one holder, the successor.
fn slow_down_script_handover(successor: &str, signal: &str) {
    let mut rig = rig!(Rig::new(2));
    let state = rig.dir.join("h0.state");
    let slow = slow_scripts(&rig, 0, 0.0, 7.0);
    let fast = slow_scripts(&rig, 1, 0.0, 0.0);
    let a = start_with(
        &mut rig,
        0,
        OURS,
        &slow,
        &[
            "-k",
            "0",
            "-z",
            "-n",
            "--state-file",
            &state.to_string_lossy(),
        ],
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    let b = start_with(&mut rig, 1, successor, &fast, &["-k", "50", "-n"]);
    std::thread::sleep(Duration::from_secs(3));
    rig.signal(&a, signal);
    assert!(
        wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)),
        "ours:\n{}\nsuccessor:\n{}",
        a.output(),
        b.output()
    );
    if signal == "TERM" {
        assert_eq!(
            rig.wait_exit(&a, LONG).and_then(|s| s.code()),
            Some(0),
            "{}",
            a.output()
        );
        let doc = std::fs::read_to_string(&state).unwrap();
        assert!(doc.contains("\"state\": \"STOPPED\""), "{doc}");
        assert!(doc.contains("\"script_failed\": null"), "{doc}");
    }
    // Settled: exactly one holder, and it stays so.
    std::thread::sleep(Duration::from_secs(3));
    assert!(rig.has_addr(1, VIP) && !rig.has_addr(0, VIP));
    let out = a.output();
    assert!(!out.contains("terminating its process group"), "{out}");
    assert!(!out.contains("The down script"), "{out}");
}

#[test]
fn a_slow_down_script_after_usr2_to_ucarp_ends_with_one_holder() {
    slow_down_script_handover(UCARP, "USR2");
}

#[test]
fn a_slow_down_script_after_term_to_ucarp_ends_with_one_holder() {
    slow_down_script_handover(UCARP, "TERM");
}

#[test]
fn a_slow_down_script_after_term_to_ours_ends_with_one_holder() {
    slow_down_script_handover(OURS, "TERM");
}

/// An 8 s up script after a takeover from a dead master, next to a ucarp backup: not
/// killed, and ours ends up holding the address. (ucarp, which sees our claim up to a
/// second late, may hold it for a moment at start.)
#[test]
fn a_slow_up_script_after_a_dead_master_ends_with_our_address() {
    let mut rig = rig!(Rig::new(2));
    let slow = slow_scripts(&rig, 0, 8.0, 0.0);
    let fast = slow_scripts(&rig, 1, 0.0, 0.0);
    let a = start_with(&mut rig, 0, OURS, &slow, &["-k", "0", "-n"]);
    let b = start_with(&mut rig, 1, UCARP, &fast, &["-k", "100", "-n"]);
    assert!(
        wait_until(LONG, || rig.has_addr(0, VIP)),
        "ours:\n{}\nucarp:\n{}",
        a.output(),
        b.output()
    );
    assert!(wait_until(LONG, || !rig.has_addr(1, VIP)));
    std::thread::sleep(Duration::from_secs(3));
    assert!(rig.has_addr(0, VIP) && !rig.has_addr(1, VIP));
    assert!(!a.output().contains("killed"), "{}", a.output());
}

/// A -P node with an 8 s up script preempts a live master: the old master keeps the
/// address until the claim, which follows the up script, so there is no moment
/// without a holder; and preempting is not a split brain.
fn slow_up_preemption(old_master: &str) {
    let mut rig = rig!(Rig::new(2));
    let fast = slow_scripts(&rig, 1, 0.0, 0.0);
    let slow = slow_scripts(&rig, 0, 8.0, 0.0);
    let b = start_with(&mut rig, 1, old_master, &fast, &["-k", "50", "-n"]);
    assert!(wait_until(LONG, || rig.has_addr(1, VIP)), "{}", b.output());
    let holders = Holders::watch(&rig, 1);
    let a = start_with(&mut rig, 0, OURS, &slow, &["-k", "0", "-P", "-n"]);
    assert!(
        wait_until(Duration::from_secs(30), || rig.has_addr(0, VIP)
            && !rig.has_addr(1, VIP)),
        "ours:\n{}\nold master:\n{}",
        a.output(),
        b.output()
    );
    std::thread::sleep(Duration::from_secs(3));
    let samples = holders.stop();
    assert_moved(&samples, 1, 0, &|| {
        format!("{}\n----\n{}", a.output(), b.output())
    });
    let out = a.output();
    assert!(out.contains("Putting MASTER down - preemption"), "{out}");
    assert!(!out.contains("Split brain"), "{out}");
    assert!(!out.contains("killed"), "{out}");
}

#[test]
fn a_slow_up_script_preempting_ucarp_leaves_no_gap() {
    slow_up_preemption(UCARP);
}

#[test]
fn a_slow_up_script_preempting_ours_leaves_no_gap() {
    slow_up_preemption(OURS);
}

/// A hung up script (it never returns) is killed at --script-timeout; the node, which
/// claimed at once after a dead master, is demoted and hands the address to the other
/// node, as the man page says.
#[test]
fn a_hung_up_script_is_killed_and_the_address_handed_over() {
    let mut rig = rig!(Rig::new(2));
    let state = rig.dir.join("h0.state");
    let hung = slow_scripts(&rig, 0, 1000.0, 0.0);
    let fast = slow_scripts(&rig, 1, 0.0, 0.0);
    let a = start_with(
        &mut rig,
        0,
        OURS,
        &hung,
        &[
            "-k",
            "0",
            "-n",
            "--script-timeout",
            "2",
            "--state-file",
            &state.to_string_lossy(),
        ],
    );
    let b = start_with(&mut rig, 1, OURS, &fast, &["-k", "50", "-n"]);
    assert!(
        a.wait_log(
            "The up script was killed at the timeout: the virtual address may be missing here; handing it to another node",
            Duration::from_secs(30)
        ),
        "{}",
        a.output()
    );
    assert!(
        wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)),
        "{}\n{}",
        a.output(),
        b.output()
    );
    assert!(wait_until(LONG, || std::fs::read_to_string(&state)
        .is_ok_and(
            |d| d.contains("\"demotions\": [\"up-failed\"]") && d.contains("\"state\": \"BACKUP\"")
        )));
}

/// A down script that hangs twice is killed each time; with the address still on the
/// host that is an ERROR, the state file and SIGUSR1 say so, and the script runs again
/// until it succeeds.
#[test]
fn a_hung_down_script_is_killed_reported_and_retried() {
    let mut rig = rig!(Rig::new(2));
    let state = rig.dir.join("h0.state");
    let fast = slow_scripts(&rig, 0, 0.0, 0.0);
    // The first two runs hang; the third removes the address.
    let count = rig.dir.join("h0-down-runs");
    let down = rig.dir.join("h0-hanging-down.sh");
    write_script(
        &down,
        &format!(
            "#!/bin/sh\necho run >> {c}\nif [ $(wc -l < {c}) -le 2 ]; then sleep 1000; fi\nip addr del \"$2\"/32 dev \"$1\"\n",
            c = count.display()
        ),
    );
    let scripts = (fast.0.clone(), down.display().to_string());
    let a = start_with(
        &mut rig,
        0,
        OURS,
        &scripts,
        &[
            "-k",
            "0",
            "-n",
            "--script-timeout",
            "1",
            "--state-file",
            &state.to_string_lossy(),
        ],
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    let other = slow_scripts(&rig, 1, 0.0, 0.0);
    let _b = start_with(&mut rig, 1, OURS, &other, &["-k", "50", "-n"]);
    std::thread::sleep(Duration::from_secs(2));
    rig.signal(&a, "USR2");
    assert!(
        a.wait_log(
            "The down script was killed at the timeout: 198.18.0.100 still on this host; running it again in 1 s",
            LONG
        ),
        "{}",
        a.output()
    );
    assert!(wait_until(LONG, || std::fs::read_to_string(&state)
        .is_ok_and(|d| d.contains("\"script_failed\": \"down\""))));
    rig.signal(&a, "USR1");
    assert!(a.wait_log(
        "The last down script failed: the virtual address may still be on this host",
        LONG
    ));
    assert!(
        a.wait_log("running it again in 2 s", LONG),
        "{}",
        a.output()
    );
    // The third run succeeds: the address is gone and the report cleared.
    assert!(wait_until(LONG, || !rig.has_addr(0, VIP)));
    assert!(wait_until(LONG, || std::fs::read_to_string(&state)
        .is_ok_and(|d| d.contains("\"script_failed\": null"))));
    assert!(rig.has_addr(1, VIP));
    assert_eq!(std::fs::read_to_string(&count).unwrap().lines().count(), 3);
}

/// A TERM under -z to the master of a group: the best backup alone takes over. `kinds`
/// gives each host's program and advskew (and any more options); host 0 is the master that
/// leaves, and `successor` the host expected to take over. Exactly one up script runs in the
/// group, and no host but the leaver and the successor ever holds the address.
fn group_handover(kinds: &[(&str, &str)], successor: usize) {
    let mut rig = rig!(Rig::new(kinds.len()));
    let mut procs = Vec::new();
    for (h, (program, skew)) in kinds.iter().enumerate() {
        let scripts = slow_scripts(&rig, h, 0.0, 0.0);
        // "50 -P": the advskew, then more options.
        let mut extra: Vec<&str> = vec!["-n", "-k"];
        extra.extend(skew.split(' '));
        if h == 0 {
            extra.push("-z");
        }
        procs.push(start_with(&mut rig, h, program, &scripts, &extra));
        if h == 0 {
            assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
        }
    }
    // Every backup has heard the master for a while.
    std::thread::sleep(Duration::from_secs(3));
    let before = rig.all_scripts().len();
    let holders = Holders::watch(&rig, 0);
    rig.signal(&procs[0], "TERM");
    assert_eq!(
        rig.wait_exit(&procs[0], LONG).and_then(|s| s.code()),
        Some(0),
        "{}",
        procs[0].output()
    );
    assert!(wait_until(LONG, || rig.has_addr(successor, VIP)));
    // Long enough for any backup that would wrongly take over to have done so.
    std::thread::sleep(Duration::from_secs(4));
    let samples = holders.stop();
    let logs = || {
        procs
            .iter()
            .map(|p| p.output())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    assert_moved(&samples, 0, successor, &logs);
    let ran = scripts_since(&rig, before);
    let ups: Vec<&String> = ran.iter().filter(|l| l.ends_with("up-start")).collect();
    assert_eq!(
        ups,
        vec![&format!("h{successor} up-start")],
        "{ran:?}\n{}",
        logs()
    );
}

#[test]
fn three_of_ours_hand_over_to_the_best_backup_only() {
    group_handover(&[(OURS, "0"), (OURS, "50"), (OURS, "100")], 1);
}

/// Ours k0, ucarp k50, ours k100: the ucarp backup takes over on the bow-out at once
/// (after its capture delay), and our k100 node never races it.
#[test]
fn ours_ucarp_ours_the_ucarp_backup_alone_takes_over() {
    group_handover(&[(OURS, "0"), (UCARP, "50"), (OURS, "100")], 1);
}

/// Even when the ucarp backup is the least preferred, it takes over on a bow-out at
/// once: ours wait longer than its capture delay, hear it, and stay backups.
#[test]
fn four_mixed_nodes_run_one_up_script() {
    group_handover(
        &[(OURS, "0"), (OURS, "50"), (UCARP, "100"), (OURS, "150")],
        2,
    );
}

/// Every backup with -P: a bow-out is still no master to preempt.
#[test]
fn four_of_ours_hand_over_to_the_best_backup_only() {
    group_handover(
        &[
            (OURS, "0"),
            (OURS, "50 -P"),
            (OURS, "100 -P"),
            (OURS, "150 -P"),
        ],
        1,
    );
}

/// Preempting a ucarp master is an ordinary takeover: ucarp needs about a second to
/// hear us and step down, which is no split brain.
#[test]
fn preempting_a_ucarp_master_logs_no_split_brain() {
    let mut rig = rig!(Rig::new(2));
    let b = rig.start(1, UCARP, &["-k", "50"]);
    assert!(wait_until(LONG, || rig.has_addr(1, VIP)), "{}", b.output());
    let a = rig.start(0, OURS, &["-k", "0", "-P"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP) && !rig.has_addr(1, VIP)));
    std::thread::sleep(Duration::from_secs(5));
    let out = a.output();
    assert!(out.contains("Putting MASTER down - preemption"), "{out}");
    assert!(!out.contains("Split brain"), "{out}");
}
