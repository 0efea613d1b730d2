//! Service health and operations (issue 6): health checks, interface tracking, hook
//! environment, `--up-must-succeed`, the state file, the pid file, and the ifupdown
//! hook. Network tests run in namespaces as root.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use crate::netns::{sh, wait_until, write_script, Rig, OURS};

const VIP: &str = "198.18.0.100";
const LONG: Duration = Duration::from_secs(20);

/// The demo: a service (here `sleep`) watched by a check; killing it moves the address
/// to the peer; restarting it brings the address back (-P).
#[test]
fn a_failing_health_check_moves_the_address_and_back() {
    let mut rig = rig!(Rig::new(2));
    let pidfile = rig.dir.join("service.pid");
    let service = || {
        let child = Command::new("sleep").arg("1000").spawn().unwrap();
        std::fs::write(&pidfile, child.id().to_string()).unwrap();
        child
    };
    let mut svc = service();
    let check = rig.dir.join("check.sh");
    write_script(
        &check,
        &format!("kill -0 \"$(cat {})\" 2>/dev/null", pidfile.display()),
    );
    let check = check.display().to_string();
    let a = rig.start(
        0,
        OURS,
        &[
            "-k",
            "0",
            "-P",
            "--check-script",
            &check,
            "--check-interval",
            "0.2",
            "--check-fall",
            "2",
            "--check-rise",
            "2",
        ],
    );
    let _b = rig.start(1, OURS, &["-k", "50"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());

    svc.kill().unwrap();
    svc.wait().unwrap();
    assert!(a.wait_log("Health check", LONG), "{}", a.output());
    assert!(a.wait_log("Demoted (check-failed)", LONG), "{}", a.output());
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)));

    let mut svc = service();
    assert!(
        a.wait_log("No longer demoted (check-failed)", LONG),
        "{}",
        a.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP) && !rig.has_addr(1, VIP)));
    svc.kill().unwrap();
    let _ = svc.wait();
}

#[test]
fn losing_a_tracked_interface_moves_the_address() {
    let mut rig = rig!(Rig::new(2));
    // A second link on host A, whose peer end sits in the bridge namespace.
    let ns = rig.hosts[0].ns.clone();
    sh(Command::new("ip").args([
        "link",
        "add",
        "trk0",
        "netns",
        &ns,
        "type",
        "veth",
        "peer",
        "name",
        "trk0p",
        "netns",
        &rig.bridge_ns,
    ]));
    sh(Command::new("ip").args(["-n", &ns, "link", "set", "trk0", "up"]));
    sh(Command::new("ip").args(["-n", &rig.bridge_ns, "link", "set", "trk0p", "up"]));
    let a = rig.start(0, OURS, &["-k", "0", "-P", "--track-iface", "trk0"]);
    let _b = rig.start(1, OURS, &["-k", "50"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());

    sh(Command::new("ip").args(["-n", &rig.bridge_ns, "link", "set", "trk0p", "down"]));
    assert!(
        a.wait_log("Demoted (tracked-link-down)", LONG),
        "{}",
        a.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)));

    sh(Command::new("ip").args(["-n", &rig.bridge_ns, "link", "set", "trk0p", "up"]));
    assert!(
        a.wait_log("No longer demoted (tracked-link-down)", LONG),
        "{}",
        a.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP) && !rig.has_addr(1, VIP)));
}

/// Scripts get UCARP_STATE, UCARP_REASON, UCARP_VHID and UCARP_PEER besides ucarp's
/// argv.
#[test]
fn scripts_get_state_reason_vhid_and_peer_in_their_environment() {
    let mut rig = rig!(Rig::new(2));
    let log = rig.dir.join("env.log");
    let mut started = Vec::new();
    for h in 0..2 {
        let up = rig.dir.join(format!("env-up-{h}.sh"));
        let down = rig.dir.join(format!("env-down-{h}.sh"));
        let line = format!(
            "echo \"h{h} $1 $2 state=$UCARP_STATE reason=$UCARP_REASON vhid=$UCARP_VHID peer=${{UCARP_PEER-none}}\" >> {}",
            log.display()
        );
        write_script(&up, &format!("{line}\nip addr add \"$2\"/32 dev \"$1\""));
        write_script(
            &down,
            &format!("{line}\nip addr del \"$2\"/32 dev \"$1\" 2>/dev/null; exit 0"),
        );
        let skew = if h == 0 { "0" } else { "50" };
        let (up, down) = (up.display().to_string(), down.display().to_string());
        let args = rig.args(h, &["-z", "-k", skew, "-u", &up, "-d", &down]);
        started.push(rig.start_raw(h, OURS, &args));
    }
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)));
    rig.signal(&started[0], "TERM");
    assert!(wait_until(LONG, || rig.has_addr(1, VIP) && !rig.has_addr(0, VIP)));
    assert!(rig.wait_exit(&started[0], LONG).is_some());
    let lines = std::fs::read_to_string(&log).unwrap();
    let expect = [
        "h0 eth0 198.18.0.100 state=BACKUP reason=startup vhid=7 peer=none",
        "h0 eth0 198.18.0.100 state=MASTER reason=master-down vhid=7 peer=none",
        "h1 eth0 198.18.0.100 state=MASTER reason=bow-out vhid=7 peer=198.18.0.1",
        "h0 eth0 198.18.0.100 state=BACKUP reason=signal vhid=7 peer=198.18.0.2",
    ];
    for e in expect {
        assert!(lines.lines().any(|l| l == e), "missing {e:?} in:\n{lines}");
    }
}

#[test]
fn a_failing_up_script_with_up_must_succeed_hands_the_address_to_the_peer() {
    let mut rig = rig!(Rig::new(2));
    let failing = rig.dir.join("failing-up.sh");
    write_script(&failing, "exit 1");
    let failing = failing.display().to_string();
    let args = rig.args(0, &["-k", "0", "--up-must-succeed", "-u", &failing]);
    let a = rig.start_raw(0, OURS, &args);
    let b = rig.start(1, OURS, &["-k", "50"]);
    assert!(a.wait_log("exited with status 1", LONG), "{}", a.output());
    assert!(a.wait_log("Demoted (up-failed)", LONG), "{}", a.output());
    assert!(
        b.wait_log("Switching to state: MASTER", LONG),
        "{}",
        b.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP)));
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(a.count("Switching to state: MASTER"), 1, "{}", a.output());
    assert!(rig.has_addr(1, VIP));
}

/// The state file is valid JSON every time it is read, even while the state changes,
/// and `ucarp --status` shows it.
#[test]
fn the_state_file_is_never_half_written() {
    let mut rig = rig!(Rig::new(2));
    let file = rig.dir.join("state.json");
    let f = file.display().to_string();
    let a = rig.start(0, OURS, &["-k", "0", "--state-file", &f]);
    let _b = rig.start(1, OURS, &["-k", "50"]);
    let reader = {
        let file = file.clone();
        std::thread::spawn(move || {
            let mut states = Vec::new();
            let mut reads = 0;
            #[allow(clippy::disallowed_methods)]
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_secs(12) {
                let Ok(text) = std::fs::read_to_string(&file) else {
                    continue;
                };
                reads += 1;
                let doc = ucarp::status::parse(&text)
                    .unwrap_or_else(|e| panic!("half-written state file ({e}): {text:?}"));
                let state = doc
                    .get("state")
                    .and_then(|s| s.as_str())
                    .unwrap()
                    .to_string();
                if states.last() != Some(&state) {
                    states.push(state);
                }
            }
            (states, reads)
        })
    };
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    std::thread::sleep(Duration::from_secs(2));
    rig.signal(&a, "USR2");
    std::thread::sleep(Duration::from_secs(2));
    rig.signal(&a, "USR2");
    let (states, reads) = reader.join().unwrap();
    assert!(reads > 1000, "only {reads} reads");
    assert!(
        states.starts_with(&[
            "BACKUP".to_string(),
            "MASTER".to_string(),
            "BACKUP".to_string()
        ]),
        "{states:?}"
    );

    let status = Command::new(OURS).args(["--status", &f]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(0));
    assert!(text.starts_with("BACKUP for "), "{text}");
    assert!(
        text.contains("vhid 7, virtual address 198.18.0.100 on eth0, this host 198.18.0.1"),
        "{text}"
    );
    assert!(text.contains("current master: 198.18.0.2"), "{text}");
    assert!(text.contains("(running)"), "{text}");
    let json = Command::new(OURS)
        .args(["--status", &f, "--json"])
        .output()
        .unwrap();
    assert!(ucarp::status::parse(&String::from_utf8_lossy(&json.stdout)).is_ok());
}

#[test]
fn the_pid_file_is_removed_after_term_with_and_without_z() {
    let mut rig = rig!(Rig::new(1));
    for z in [true, false] {
        let pidfile = rig.dir.join(format!("ucarp-{z}.pid"));
        let p = pidfile.display().to_string();
        let mut extra = vec!["--pidfile", p.as_str()];
        if z {
            extra.push("-z");
        }
        let a = rig.start(0, OURS, &extra);
        assert!(a.wait_log("Switching to state: BACKUP", LONG));
        assert!(wait_until(LONG, || pidfile.exists()));
        assert_eq!(
            std::fs::read_to_string(&pidfile).unwrap().trim(),
            a.pid.to_string()
        );
        rig.signal(&a, "TERM");
        let status = rig.wait_exit(&a, LONG).expect("still running");
        assert!(!pidfile.exists(), "pid file left (-z: {z})");
        if z {
            assert_eq!(status.code(), Some(0));
        } else {
            // Without -z the daemon still dies of the signal, as ucarp does.
            assert_eq!(status.signal(), Some(libc::SIGTERM));
        }
    }
}

/// The ifupdown hook turns `ucarp-*` stanza options into the expected command line.
/// A fake `ucarp` first in PATH records its arguments.
#[test]
fn the_ifupdown_hook_builds_the_command_line() {
    let dir = std::env::temp_dir().join(format!("ucarp-ifupdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let args_file = dir.join("args");
    write_script(
        &dir.join("ucarp"),
        &format!(
            "for a in \"$@\"; do printf '[%s] ' \"$a\"; done > {}",
            args_file.display()
        ),
    );
    let hook = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/ifupdown/if-up.d/ucarp"
    );
    let run = |vars: &[(&str, &str)]| {
        let _ = std::fs::remove_file(&args_file);
        let mut cmd = Command::new(hook);
        cmd.env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
            .env("UCARP_RUNDIR", &dir)
            .env("IFACE", "eth0")
            .env("IF_ADDRESS", "192.0.2.11/24");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        assert!(cmd.status().unwrap().success());
        std::fs::read_to_string(&args_file).ok()
    };
    let pid = dir.join("ucarp.eth0.pid").display().to_string();
    // Debian's options.
    let got = run(&[
        ("IF_UCARP_VID", "10"),
        ("IF_UCARP_VIP", "192.0.2.100"),
        ("IF_UCARP_PASSWORD", "secret"),
        ("IF_UCARP_MASTER", "yes"),
        ("IF_UCARP_ADVSKEW", "20"),
        ("IF_UCARP_ADVBASE", "2"),
        ("IF_UCARP_DEADRATIO", "4"),
        ("IF_UCARP_NOMCAST", "off"),
        ("IF_UCARP_XPARAM", "extra"),
    ]);
    assert_eq!(
        got.as_deref(),
        Some(format!("[-i] [eth0] [-s] [192.0.2.11] [-B] [-z] [-v] [10] [-p] [secret] [-a] [192.0.2.100] [-u] [/usr/share/ucarp/vip-up] [-d] [/usr/share/ucarp/vip-down] [-P] [-k] [20] [-b] [2] [-r] [4] [-x] [extra] [--pidfile] [{pid}] ").as_str())
    );
    // The options Debian's hook could not pass.
    let got = run(&[
        ("IF_UCARP_VID", "10"),
        ("IF_UCARP_VIP", "192.0.2.100"),
        ("IF_UCARP_PASSFILE", "/etc/ucarp/eth0.pass"),
        ("IF_UCARP_MASTER", "no"),
        ("IF_UCARP_NEUTRAL", "yes"),
        ("IF_UCARP_FACILITY", "local3"),
        ("IF_UCARP_UPSCRIPT", "/usr/local/bin/up"),
        ("IF_UCARP_DOWNSCRIPT", "/usr/local/bin/down"),
    ]);
    assert_eq!(
        got.as_deref(),
        Some(format!("[-i] [eth0] [-s] [192.0.2.11] [-B] [-z] [-v] [10] [-o] [/etc/ucarp/eth0.pass] [-a] [192.0.2.100] [-u] [/usr/local/bin/up] [-d] [/usr/local/bin/down] [-n] [-f] [local3] [--pidfile] [{pid}] ").as_str())
    );
    // Not a ucarp stanza: nothing runs.
    assert_eq!(run(&[("IF_UCARP_VID", "10")]), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The systemd unit's command line, filled from the example configuration, is one this
/// ucarp accepts.
#[test]
fn the_systemd_unit_expands_to_a_valid_command_line() {
    let root = env!("CARGO_MANIFEST_DIR");
    let unit = std::fs::read_to_string(format!("{root}/contrib/systemd/ucarp@.service")).unwrap();
    let conf = std::fs::read_to_string(format!("{root}/contrib/systemd/example.conf")).unwrap();
    let vars: Vec<(String, String)> = conf
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let exec = unit
        .replace("\\\n", " ")
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=").map(str::to_string))
        .unwrap();
    let mut argv: Vec<String> = Vec::new();
    for word in exec.split_whitespace() {
        let word = word
            .replace("%i", "vip1")
            .replace("%d", "/run/credentials/ucarp@vip1.service");
        if let Some(name) = word.strip_prefix('$') {
            let name = name.trim_matches(['{', '}']);
            let value = &vars.iter().find(|(k, _)| k == name).unwrap().1;
            if word.starts_with("${") {
                argv.push(value.clone());
            } else {
                argv.extend(value.split_whitespace().map(str::to_string));
            }
        } else {
            argv.push(word);
        }
    }
    assert_eq!(argv[0], "/usr/sbin/ucarp");
    let args = ucarp::cli::parse(&argv).unwrap();
    // The pass file (systemd's copy of the credential) does not exist here; everything
    // before it must be accepted.
    match ucarp::config::Config::from_args(&args, || None) {
        Err(e) => assert!(
            e.message
                .starts_with("unable to open passfile /run/credentials/ucarp@vip1.service/pass"),
            "{e}"
        ),
        Ok(_) => panic!("expected the missing pass file to be reported"),
    }
    // The hardening the unit promises (ucarp(8), RUNNING WITHOUT ROOT).
    for option in [
        "DynamicUser=yes",
        "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
        "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_PACKET AF_NETLINK AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
    ] {
        assert!(unit.lines().any(|l| l == option), "{option}");
    }
}

/// `systemd-analyze verify` accepts an instance of the unit (it needs no running
/// systemd; scripts/test installs it, so CI always runs this).
#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "systemd-analyze is missing"
        );
        eprintln!("systemd-analyze not installed: unit not verified");
        return;
    };
    assert!(version.status.success());
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = std::env::temp_dir().join(format!("ucarp-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        format!("{root}/contrib/systemd/ucarp@.service"),
        dir.join("ucarp@vip1.service"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.join("ucarp@vip1.service"))
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}
