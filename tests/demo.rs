//! The README's first command, `scripts/demo`, run end to end with our debug build: it
//! must finish by itself, exit 0, tell the story in plain words, and leave no
//! namespace behind, also when interrupted.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::netns::{namespaces_or_skip, wait_until, OURS};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The demo's namespaces still present (`ucd<pid>…`), for the demo run as `pid`.
fn leftovers(pid: u32) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&format!("ucd{pid}")))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_demo_runs_end_to_end_and_cleans_up() {
    if !namespaces_or_skip() {
        return;
    }
    let child = Command::new(format!("{ROOT}/scripts/demo"))
        .env("UCARP_BIN", OURS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for line in [
        "Election: A is master",
        "B holds it",
        "A holds it again",
        "B took over",
        "Done. Removing the lab.",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
    if std::path::Path::new("/usr/sbin/ucarp").exists() {
        assert!(stdout.contains("U stays BACKUP"), "{stdout}");
    }
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert_eq!(leftovers(pid), Vec::<String>::new());
}

/// Ctrl-C in the middle removes the lab too.
#[test]
fn an_interrupted_demo_removes_its_lab() {
    if !namespaces_or_skip() {
        return;
    }
    let mut child = Command::new(format!("{ROOT}/scripts/demo"))
        .env("UCARP_BIN", OURS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(wait_until(Duration::from_secs(20), || !leftovers(pid).is_empty()));
    std::thread::sleep(Duration::from_secs(2));
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(leftovers(pid), Vec::<String>::new());
}
