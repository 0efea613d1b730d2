//! Least privilege and the journal (issue 17), on a real network: ours run as `nobody`
//! with ambient capabilities, what a missing capability says, and the log format when
//! stderr is systemd's journal stream.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::netns::{wait_until, Rig, OURS};

const VIP: &str = "198.18.0.100";
const LONG: Duration = Duration::from_secs(20);

/// Lets `nobody` use the rig's folder: run a copy of our binary from it (the build
/// tree may sit under a private home) and write script logs and state files there.
fn open_to_nobody(dir: &Path) -> PathBuf {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o1777)).unwrap();
    let bin = dir.join("ucarp");
    fs::copy(OURS, &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// `setpriv` arguments that run `bin` as nobody with `caps` (e.g. `+net_raw`) ambient,
/// so that they survive the `execve` and reach the scripts too.
fn as_nobody(bin: &Path, caps: &str, args: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = [
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        &format!("--inh-caps={caps}"),
        &format!("--ambient-caps={caps}"),
        "--",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(bin.display().to_string());
    v.extend(args);
    v
}

/// Host `h`'s usual arguments with the rig's scripts, plus `extra`.
fn with_scripts(rig: &Rig, h: usize, extra: &[&str]) -> Vec<String> {
    let up = rig.script(h, true).display().to_string();
    let down = rig.script(h, false).display().to_string();
    rig.args(
        h,
        &[&["-u", up.as_str(), "-d", down.as_str()][..], extra].concat(),
    )
}

/// A /proc/PID/status field, e.g. `CapEff`.
fn status_field(pid: u32, field: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Run as `nobody` with CAP_NET_RAW and CAP_NET_ADMIN ambient and nothing else, a pair
/// elects a master, its script adds the address, and the backup takes over when the
/// master dies.
#[test]
fn a_pair_runs_as_nobody_with_two_capabilities() {
    let mut rig = rig!(Rig::new(2));
    let bin = open_to_nobody(&rig.dir);
    let caps = "+net_raw,+net_admin";
    let args = as_nobody(&bin, caps, with_scripts(&rig, 0, &[]));
    let a = rig.start_raw(0, "setpriv", &args);
    assert!(
        a.wait_log("Switching to state: MASTER", LONG),
        "{}",
        a.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    assert_eq!(
        status_field(a.pid, "Uid").split_whitespace().nth(1),
        Some("65534")
    );
    // Exactly CAP_NET_ADMIN (bit 12) and CAP_NET_RAW (bit 13).
    assert_eq!(status_field(a.pid, "CapEff"), "0000000000003000");

    let args = as_nobody(&bin, caps, with_scripts(&rig, 1, &["-k", "50"]));
    let b = rig.start_raw(1, "setpriv", &args);
    assert!(
        b.wait_log("Switching to state: BACKUP", LONG),
        "{}",
        b.output()
    );
    rig.signal(&a, "KILL");
    assert!(
        b.wait_log("Switching to state: MASTER", LONG),
        "{}",
        b.output()
    );
    assert!(wait_until(LONG, || rig.has_addr(1, VIP)), "{}", b.output());
    for p in [&a, &b] {
        let out = p.output();
        assert!(!out.contains("CAP_NET_ADMIN"), "{out}");
        assert!(!out.contains("ERROR"), "{out}");
    }
}

/// Without CAP_NET_RAW nothing can start, and the one error line says which capability
/// is missing. With CAP_NET_RAW alone the daemon runs and is elected, but warns at
/// start that its scripts lack CAP_NET_ADMIN, and reports the up script's failure.
#[test]
fn a_missing_capability_is_named() {
    let mut rig = rig!(Rig::new(1));
    let bin = open_to_nobody(&rig.dir);
    for extra in [&[][..], &["--peer", "198.18.0.2"]] {
        let args = as_nobody(&bin, "-all", with_scripts(&rig, 0, extra));
        let out = rig.cmd(0, "setpriv").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(
            errors[0].contains("Operation not permitted") && errors[0].contains("CAP_NET_RAW"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    // The project's own scripts, which exit with `ip`'s status.
    let mut scripts = Vec::new();
    for name in ["vip-up.sh", "vip-down.sh"] {
        let to = rig.dir.join(name);
        fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scripts")
                .join(name),
            &to,
        )
        .unwrap();
        fs::set_permissions(&to, fs::Permissions::from_mode(0o755)).unwrap();
        scripts.push(to.display().to_string());
    }
    let plain = rig.args(0, &["-u", &scripts[0], "-d", &scripts[1]]);
    let args = as_nobody(&bin, "+net_raw", plain);
    let a = rig.start_raw(0, "setpriv", &args);
    assert!(
        a.wait_log("Switching to state: MASTER", LONG),
        "{}",
        a.output()
    );
    assert!(
        a.output()
            .contains("[WARNING] Scripts will run without CAP_NET_ADMIN"),
        "{}",
        a.output()
    );
    // The script's `ip addr add` is refused; the daemon reports the failed script.
    assert!(a.wait_log("[ERROR]", LONG), "{}", a.output());
    assert!(
        a.output().contains("Operation not permitted"),
        "{}",
        a.output()
    );
    assert!(!rig.has_addr(0, VIP));
}

/// With JOURNAL_STREAM naming our stderr, lines start with their syslog priority and
/// carry no timestamp; naming another file, the usual format stays. Errors before the
/// logger exists get the priority too.
#[test]
fn logs_fit_the_journal_when_journal_stream_names_stderr() {
    let mut rig = rig!(Rig::new(2));
    let args = with_scripts(&rig, 0, &[]);
    let a = rig.start_with(0, OURS, &args, |cmd, log| {
        let m = log.metadata().unwrap();
        cmd.env("JOURNAL_STREAM", format!("{}:{}", m.dev(), m.ino()));
    });
    assert!(
        a.wait_log("<4>[WARNING] Switching to state: MASTER", LONG),
        "{}",
        a.output()
    );
    let out = a.output();
    assert!(out.lines().any(|l| l.starts_with("<6>[INFO] ")), "{out}");
    // ucarp's log lines, not the scripts' output, all carry a priority.
    for line in out.lines().filter(|l| l.contains("] ")) {
        assert!(line.starts_with('<'), "{line}");
    }

    let args = with_scripts(&rig, 1, &["-k", "50"]);
    let b = rig.start_with(1, OURS, &args, |cmd, log| {
        let m = log.metadata().unwrap();
        cmd.env("JOURNAL_STREAM", format!("{}:{}", m.dev(), m.ino() + 1));
    });
    assert!(
        b.wait_log("Switching to state: BACKUP", LONG),
        "{}",
        b.output()
    );
    let line = b
        .output()
        .lines()
        .find(|l| l.contains("Switching to state: BACKUP"))
        .unwrap()
        .to_string();
    assert!(
        line.starts_with("20") && line.contains(": [WARNING] "),
        "{line}"
    );

    // A command-line error, before logging is set up.
    let err_path = rig.dir.join("early.err");
    let err = fs::File::create(&err_path).unwrap();
    let m = err.metadata().unwrap();
    let status = Command::new(OURS)
        .args(["-f", "none", "--vhid", "0"])
        .env("JOURNAL_STREAM", format!("{}:{}", m.dev(), m.ino()))
        .stdout(Stdio::null())
        .stderr(err)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let text = fs::read_to_string(&err_path).unwrap();
    assert!(text.starts_with("<3>ucarp: "), "{text}");
}
