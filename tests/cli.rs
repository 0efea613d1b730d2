//! Bad command lines, run through the real binary: each gives one clear line on stderr
//! and ucarp's exit code (docs/PROTOCOL.md §1.1), never a panic.

use std::process::{Command, Output};

use crate::netns::{Rig, OURS};

fn run(args: &[&str]) -> Output {
    Command::new(OURS)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

const GOOD: &[&str] = &[
    "-i",
    "lo",
    "-s",
    "192.0.2.1",
    "-v",
    "7",
    "-p",
    "secret",
    "-a",
    "192.0.2.100",
];

fn with(extra: &[&str]) -> Vec<String> {
    GOOD.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn check(args: &[String], code: i32, message: &str) {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&argv);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{argv:?}: {stderr}");
    assert!(
        stderr.contains(message),
        "{argv:?}: want {message:?}, got {stderr:?}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    let error_lines = stderr.lines().filter(|l| l.contains(message)).count();
    assert_eq!(error_lines, 1, "{stderr}");
}

#[test]
fn version_prints_one_line_and_exits_0() {
    for args in [&["-V"][..], &["--version"], &["-v", "3", "-V"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout,
            format!(
                "ucarp {} (Rust; compatible with ucarp 1.5.2)\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(out.stderr.is_empty());
    }
}

#[test]
fn help_and_no_arguments_print_usage_and_exit_0() {
    for args in [&[][..], &["-h"], &["--help"], &["-v", "3", "-h"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("--interface=<if> (-i <if>)"), "{stdout}");
        assert!(stdout.contains("--mcastip=<ip> (-m <ip>)"));
        assert!(out.stderr.is_empty());
    }
}

#[test]
fn bad_command_lines() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (s(&["--bogus"]), 1, "ucarp: unexpected argument '--bogus'"),
        (s(&["-q"]), 1, "unexpected argument '-q'"),
        (with(&["stray"]), 1, "unexpected argument 'stray'"),
        (s(&["--adv=3"]), 1, "--adv"),
        (s(&["-v"]), 1, "a value is required for '--vhid"),
        (with(&["-v", "0"]), 1, "vhid must be between 1 and 255."),
        (
            with(&["-s", "bad", "-s", "192.0.2.1"]),
            1,
            "Invalid address: [bad]",
        ),
        (with(&["-s", "bad", "-h"]), 1, "Invalid address: [bad]"),
        (with(&["-v", "300"]), 1, "vhid must be between 1 and 255."),
        (with(&["-v", "seven"]), 1, "vhid must be between 1 and 255."),
        (
            with(&["-s", "192.0.2.300"]),
            1,
            "Invalid address: [192.0.2.300]",
        ),
        (
            with(&["-a", "2001:db8::1"]),
            1,
            "Address family mismatch: the virtual address [2001:db8::1] is IPv6, but the source address [192.0.2.1] is IPv4",
        ),
        (
            with(&["-a", "2001:db8::1%eth0"]),
            1,
            "Invalid address: [2001:db8::1%eth0]",
        ),
        (
            with(&["--mcastip", "224.0.0"]),
            1,
            "Invalid address: [224.0.0]",
        ),
        (
            with(&["-b", "256"]),
            1,
            "advbase must be between 0 and 255, not [256]",
        ),
        (
            with(&["-k", "-1"]),
            1,
            "advskew must be between 0 and 255, not [-1]",
        ),
        (
            with(&["-b", "0", "-k", "0"]),
            1,
            "You must supply an advertisement time base",
        ),
        (with(&["-r", "0"]), 1, "Dead ratio can't be zero"),
        (with(&["-p", ""]), 1, "You must supply a password"),
        (
            with(&["-p", "twenty-bytes-is-long"]),
            2,
            "Password too long",
        ),
        (
            with(&["-o", "/nonexistent/pass"]),
            1,
            "unable to open passfile /nonexistent/pass for reading",
        ),
        (
            with(&["-o", "/dev/null"]),
            1,
            "error reading passfile /dev/null: unexpected end of file",
        ),
        (
            with(&["-i", "sixteen-chars-if"]),
            2,
            "Interface name too long",
        ),
        (
            s(&["-i", "lo", "-v", "7", "-p", "x", "-a", "192.0.2.100"]),
            1,
            "You must supply a persistent source address",
        ),
        (
            s(&["-i", "lo", "-v", "7", "-p", "x", "-s", "192.0.2.1"]),
            1,
            "You must supply a virtual host address",
        ),
        (
            with(&["-i", "nosuch0", "-u", "/bin/true", "-d", "/bin/true"]),
            2,
            "Unable to find MAC address of [nosuch0]",
        ),
        // -B still reports setup failures, and with a non-zero exit (ucarp exits 0).
        (
            with(&["-B", "-i", "nosuch0", "-u", "/bin/true", "-d", "/bin/true"]),
            2,
            "Unable to find MAC address of [nosuch0]",
        ),
    ];
    for (args, code, message) in &cases {
        check(args, *code, message);
    }
}

/// Setup errors that need a real interface: the source address is not local, so the
/// multicast join fails as in ucarp (exit 2).
#[test]
fn a_source_address_that_is_not_local_is_an_error() {
    let rig = rig!(Rig::new(1));
    let out = rig
        .cmd(0, OURS)
        .args([
            "-i",
            "eth0",
            "-s",
            "198.18.9.9",
            "-v",
            "7",
            "-p",
            "x",
            "-a",
            "198.18.0.100",
            "-f",
            "none",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Can't do IP_ADD_MEMBERSHIP"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

/// Every option of the command line is in the man page and in `--help`.
#[test]
fn man_page_and_help_cover_every_option() {
    // roff escapes every hyphen: compare on the text as a reader sees it.
    let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/ucarp.8"))
        .unwrap()
        .replace("\\-", "-");
    let help = String::from_utf8(run(&["--help"]).stdout).unwrap();
    let mut seen = 0;
    for arg in ucarp::cli::command().get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        seen += 1;
        assert!(
            man.contains(&format!("--{long}")),
            "--{long} missing from man/ucarp.8"
        );
        assert!(
            help.contains(&format!("--{long}")),
            "--{long} missing from --help"
        );
        if let Some(short) = arg.get_short() {
            let documented = [".B", ".BI", ".BR"]
                .iter()
                .any(|macro_| man.contains(&format!("{macro_} -{short} ")));
            assert!(documented, "-{short} missing from man/ucarp.8");
            assert!(
                help.contains(&format!("(-{short}")),
                "-{short} missing from --help"
            );
        }
    }
    assert!(seen >= 22, "only {seen} options found");
}

/// Every option × every kind of bad value: one clear line, the documented exit code,
/// no panic. Run inside a network namespace, so that a case that unexpectedly starts
/// the daemon cannot touch the host's interfaces (and is killed).
#[test]
fn every_option_with_every_kind_of_bad_value() {
    let rig = rig!(Rig::new(1));
    let dir = &rig.dir;
    let write = |name: &str, body: &[u8], mode: &str| {
        let p = dir.join(name);
        crate::netns::write_file(&p, body, mode);
        p.display().to_string()
    };
    let script = write("ok.sh", b"#!/bin/sh\nexit 0\n", "755");
    let not_exec = write("noexec.sh", b"#!/bin/sh\nexit 0\n", "644");
    let empty_pass = write("empty.pass", b"", "600");
    let long_pass = write("long.pass", &[b'x'; 600], "600");
    let a_dir = dir.display().to_string();
    let base = rig.args(0, &["-u", &script, "-d", &script]);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let with = |extra: &[&str]| base.iter().cloned().chain(s(extra)).collect::<Vec<_>>();
    let mut cases: Vec<(Vec<String>, i32, String)> = Vec::new();
    let mut case =
        |args: Vec<String>, code: i32, msg: &str| cases.push((args, code, msg.to_string()));

    // Missing value: every option that takes one.
    for o in ucarp::cli::OPTIONS.iter().filter(|o| !o.arg.is_empty()) {
        case(
            s(&["-v", "7", &format!("--{}", o.long)]),
            1,
            "a value is required for",
        );
    }
    // Empty values.
    case(with(&["-s", ""]), 1, "Invalid address: []");
    case(with(&["-a", ""]), 1, "Invalid address: []");
    case(with(&["--mcastip", ""]), 1, "Invalid address: []");
    case(with(&["-v", ""]), 1, "vhid must be between 1 and 255.");
    case(with(&["-p", ""]), 1, "You must supply a password");
    case(with(&["-o", ""]), 1, "unable to open passfile  for reading");
    case(
        with(&["-b", ""]),
        1,
        "advbase must be between 0 and 255, not []",
    );
    case(
        with(&["-k", ""]),
        1,
        "advskew must be between 0 and 255, not []",
    );
    case(with(&["-r", ""]), 1, "Dead ratio can't be zero");
    case(
        with(&["--script-timeout", ""]),
        1,
        "script-timeout must be a number of seconds",
    );
    case(
        with(&["--check-interval", ""]),
        1,
        "--check-interval needs --check-script",
    );
    case(
        with(&["--check-script", &script, "--check-interval", ""]),
        1,
        "check-interval must be a number",
    );
    case(
        with(&["--check-script", &script, "--check-timeout", ""]),
        1,
        "check-timeout must be a number",
    );
    case(
        with(&["--check-script", &script, "--check-rise", ""]),
        1,
        "check-rise must be from 1 to 1000, not []",
    );
    case(
        with(&["--check-script", &script, "--check-fall", ""]),
        1,
        "check-fall must be from 1 to 1000, not []",
    );
    case(
        with(&["--track-iface", ""]),
        1,
        "Invalid interface name for --track-iface: []",
    );
    case(
        with(&["--state-file", ""]),
        1,
        "--state-file needs a file name",
    );
    case(with(&["--pidfile", ""]), 1, "--pidfile needs a file name");
    case(
        with(&["--replay-window", ""]),
        1,
        "replay-window must be from 1 to 65536, not []",
    );
    case(s(&["--status", ""]), 1, "cannot read state file");
    // Non-numeric.
    case(with(&["-v", "seven"]), 1, "vhid must be between 1 and 255.");
    case(
        with(&["-b", "one"]),
        1,
        "advbase must be between 0 and 255, not [one]",
    );
    case(
        with(&["-k", "x1"]),
        1,
        "advskew must be between 0 and 255, not [x1]",
    );
    case(with(&["-r", "three"]), 1, "Dead ratio can't be zero");
    case(
        with(&["--script-timeout", "soon"]),
        1,
        "script-timeout must be a number of seconds",
    );
    case(
        with(&["--check-script", &script, "--check-interval", "often"]),
        1,
        "check-interval must be a number",
    );
    case(
        with(&["--check-script", &script, "--check-rise", "two"]),
        1,
        "check-rise must be from 1 to 1000",
    );
    case(
        with(&["--replay-window", "big"]),
        1,
        "replay-window must be from 1 to 65536",
    );
    // Negative.
    case(with(&["-v", "-7"]), 1, "vhid must be between 1 and 255.");
    case(
        with(&["-b", "-1"]),
        1,
        "advbase must be between 0 and 255, not [-1]",
    );
    case(
        with(&["-k", "-1"]),
        1,
        "advskew must be between 0 and 255, not [-1]",
    );
    case(
        with(&["--script-timeout", "-1"]),
        1,
        "script-timeout must be a number of seconds",
    );
    case(
        with(&["--check-script", &script, "--check-timeout", "-2"]),
        1,
        "check-timeout must be a number",
    );
    case(
        with(&["--check-script", &script, "--check-fall", "-2"]),
        1,
        "check-fall must be from 1 to 1000",
    );
    case(
        with(&["--replay-window", "-1"]),
        1,
        "replay-window must be from 1 to 65536",
    );
    // Overflow.
    case(
        with(&["-v", "99999999999999999999999"]),
        1,
        "vhid must be between 1 and 255.",
    );
    case(
        with(&["-b", "99999999999999999999999"]),
        1,
        "advbase must be between 0 and 255",
    );
    case(
        with(&["-k", "0x1000000000000000000"]),
        1,
        "advskew must be between 0 and 255",
    );
    case(
        with(&["--script-timeout", "1e400"]),
        1,
        "script-timeout must be a number of seconds",
    );
    case(
        with(&["--check-script", &script, "--check-rise", "99999999999"]),
        1,
        "check-rise must be from 1 to 1000",
    );
    case(
        with(&["--replay-window", "99999999999999999999"]),
        1,
        "replay-window must be from 1 to 65536",
    );
    // Out of range.
    case(with(&["-v", "0"]), 1, "vhid must be between 1 and 255.");
    case(with(&["-v", "256"]), 1, "vhid must be between 1 and 255.");
    case(
        with(&["-b", "256"]),
        1,
        "advbase must be between 0 and 255, not [256]",
    );
    case(
        with(&["-k", "300"]),
        1,
        "advskew must be between 0 and 255, not [300]",
    );
    case(
        with(&["-b", "0", "-k", "0"]),
        1,
        "You must supply an advertisement time base",
    );
    case(with(&["-r", "0"]), 1, "Dead ratio can't be zero");
    case(
        with(&["--script-timeout", "90000"]),
        1,
        "script-timeout must be a number of seconds from 0 to 86400",
    );
    case(
        with(&["--check-script", &script, "--check-interval", "0"]),
        1,
        "check-interval must be more than 0 seconds",
    );
    case(
        with(&["--check-script", &script, "--check-rise", "0"]),
        1,
        "check-rise must be from 1 to 1000, not [0]",
    );
    case(
        with(&["--check-script", &script, "--check-fall", "1001"]),
        1,
        "check-fall must be from 1 to 1000, not [1001]",
    );
    case(
        with(&["--replay-window", "0"]),
        1,
        "replay-window must be from 1 to 65536, not [0]",
    );
    case(
        with(&["--replay-window", "65537"]),
        1,
        "replay-window must be from 1 to 65536, not [65537]",
    );
    case(
        with(&["-i", "abcdefghijklmnop"]),
        2,
        "Interface name too long",
    );
    case(
        with(&["--track-iface", "abcdefghijklmnop"]),
        1,
        "Invalid interface name for --track-iface",
    );
    // Bad addresses.
    for opt in ["-s", "-a", "--mcastip", "--peer"] {
        for bad in [
            "198.18.0",
            "198.18.0.1.2",
            "300.1.1.1",
            "198.018.0.1",
            "198.18.0.1/15",
            "host.example",
            "2001:db8::1::2",
            "2001:db8::1/64",
            "fe80::1%eth0",
        ] {
            case(with(&[opt, bad]), 1, &format!("Invalid address: [{bad}]"));
        }
    }
    // IPv6 where the node is IPv4, and the reverse: one family per node.
    let mismatch = |what: &str, ip: &str, fam: &str, src: &str, srcfam: &str| {
        format!("Address family mismatch: the {what} [{ip}] is {fam}, but the source address [{src}] is {srcfam}")
    };
    case(
        with(&["-a", "2001:db8::1"]),
        1,
        &mismatch(
            "virtual address",
            "2001:db8::1",
            "IPv6",
            "198.18.0.1",
            "IPv4",
        ),
    );
    case(
        with(&["--mcastip", "ff02::12"]),
        1,
        &mismatch(
            "multicast address",
            "ff02::12",
            "IPv6",
            "198.18.0.1",
            "IPv4",
        ),
    );
    case(
        with(&["--peer", "2001:db8::2"]),
        1,
        &mismatch("peer", "2001:db8::2", "IPv6", "198.18.0.1", "IPv4"),
    );
    case(
        with(&["-s", "2001:db8::1"]),
        1,
        &mismatch(
            "virtual address",
            "198.18.0.100",
            "IPv4",
            "2001:db8::1",
            "IPv6",
        ),
    );
    case(
        with(&["-s", "0.0.0.0"]),
        1,
        "You must supply a persistent source address",
    );
    case(
        with(&["-a", "0.0.0.0"]),
        1,
        "You must supply a virtual host address",
    );
    // Password files.
    case(
        with(&["-o", "/nonexistent/pass"]),
        1,
        "unable to open passfile /nonexistent/pass for reading: No such file",
    );
    case(
        with(&["-o", &a_dir]),
        1,
        &format!("error reading passfile {a_dir}"),
    );
    case(
        with(&["-o", &empty_pass]),
        1,
        &format!("error reading passfile {empty_pass}: unexpected end of file"),
    );
    case(with(&["-o", &long_pass]), 2, "Password too long");
    case(
        with(&["-p", "0123456789abcdefghij"]),
        2,
        "Password too long",
    );
    // Scripts that cannot run are caught at start.
    case(
        with(&["-u", "/nonexistent/up"]),
        1,
        "Up script [/nonexistent/up] cannot be run: No such file",
    );
    case(
        with(&["-d", "/nonexistent/down"]),
        1,
        "Down script [/nonexistent/down] cannot be run: No such file",
    );
    case(
        with(&["-u", &not_exec]),
        1,
        &format!("Up script [{not_exec}] cannot be run: not executable"),
    );
    case(
        with(&["-d", &a_dir]),
        1,
        &format!("Down script [{a_dir}] cannot be run: not a regular file"),
    );
    case(
        with(&["--check-script", "/nonexistent/check"]),
        1,
        "Check script [/nonexistent/check] cannot be run",
    );
    // Interfaces.
    case(
        with(&["-i", "nosuch0"]),
        2,
        "Unable to find MAC address of [nosuch0]",
    );

    let total = cases.len();
    for (args, code, message) in cases {
        let mut child = rig
            .cmd(0, OURS)
            .args(&args)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let exited = crate::netns::wait_until(std::time::Duration::from_secs(5), || {
            child.try_wait().ok().flatten().is_some()
        });
        if !exited {
            let _ = child.kill();
            panic!("{args:?} did not exit: it was accepted");
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&message),
            "{args:?}: want {message:?}, got {stderr:?}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
        assert_eq!(
            stderr.lines().filter(|l| l.contains(&message)).count(),
            1,
            "{stderr}"
        );
    }
    assert!(total > 100, "{total} cases");
}

/// `--witness`: an unparsable value, one of the other family, or one that cannot be a
/// host on the link is a one-line usage error, exit 1.
#[test]
fn witness_bad_values_are_refused() {
    for (extra, message) in [
        (
            &["--witness", "gateway"][..],
            "Invalid witness: [gateway] (an IPv4 or IPv6 address)",
        ),
        (&["--witness", "192.0.2.300"], "Invalid witness: [192.0.2.300]"),
        (
            &["--witness", "2001:db8::1"],
            "Address family mismatch: the witness [2001:db8::1] is IPv6, but the source address [192.0.2.1] is IPv4",
        ),
        (
            &["--witness", "192.0.2.254", "--witness", "224.0.0.1"],
            "Invalid witness: [224.0.0.1] (a witness is another host's unicast address",
        ),
        (&["--witness", "192.0.2.1"], "Invalid witness: [192.0.2.1]"),
        (
            &["--witness", "192.0.2.100"],
            "Invalid witness: [192.0.2.100] is a virtual address",
        ),
    ] {
        check(&with(extra), 1, message);
    }
}
