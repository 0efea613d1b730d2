//! Bad command lines, run through the real binary: each gives one clear line on stderr
//! and ucarp's exit code (SPEC.md §1.1), never a panic.

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
            "Invalid address: [2001:db8::1]",
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
    let Some(rig) = Rig::new(1) else { return };
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
