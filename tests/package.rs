//! The Debian package (`scripts/build-deb`), built around the static x86_64 release
//! binary (scripts/test builds it), checked by lintian there, then installed into a
//! throwaway root over Debian's own ucarp package, run, and purged. Never touches the
//! host's package database (root).

use std::path::Path;
use std::process::Command;

use crate::netns::{built_or_skip, sh};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `dpkg` on the throwaway root `root` (its own database and log).
fn dpkg(root: &Path) -> Command {
    let mut c = Command::new("dpkg");
    c.arg(format!("--root={}", root.display()))
        .arg(format!("--log={}", root.join("dpkg.log").display()))
        .arg("--force-depends");
    c
}

/// Files under `root`, except dpkg's own database and log.
fn files(root: &Path) -> Vec<String> {
    let out = sh(Command::new("find")
        .arg(root)
        .args(["-type", "f", "-not", "-path", "*/var/lib/dpkg/*"])
        .args(["-not", "-name", "dpkg.log"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            l.trim_start_matches(&*root.display().to_string())
                .to_string()
        })
        .collect()
}

#[test]
fn the_package_replaces_debians_ucarp_and_purges_cleanly() {
    let Some(bin) = built_or_skip(
        "x86_64-unknown-linux-musl/release/ucarp",
        "cargo build --release --target x86_64-unknown-linux-musl",
    ) else {
        return;
    };
    let work = std::env::temp_dir().join(format!("ucarp-deb-{}", std::process::id()));
    let root = work.join("root");
    for d in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(root.join("var/lib/dpkg").join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    std::fs::write(root.join("var/lib/dpkg/available"), "").unwrap();

    // Ours, built and checked by lintian (the script fails on any lintian error).
    let out = sh(Command::new(format!("{ROOT}/scripts/build-deb"))
        .arg("--binary")
        .arg(&bin)
        .arg("amd64"));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{report}");
    let deb = std::fs::read_dir(format!("{ROOT}/dist"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name == format!("ucarp-rs_{}-1_amd64.deb", env!("CARGO_PKG_VERSION"))
        })
        .unwrap();
    assert!(!report.contains("\nE: "), "{report}");

    // Debian's ucarp first, then ours over it.
    let got = sh(Command::new("apt-get")
        .args(["download", "ucarp"])
        .current_dir(&work));
    assert!(got.status.success(), "apt-get download ucarp failed");
    let theirs = std::fs::read_dir(&work)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".deb"))
        .unwrap();
    assert!(sh(dpkg(&root).arg("-i").arg(&theirs)).status.success());
    assert!(files(&root).contains(&"/usr/share/ucarp/vip-up".to_string()));
    let out = sh(dpkg(&root).arg("-i").arg(&deb));
    assert!(out.status.success(), "{out:?}");
    let status = String::from_utf8_lossy(&sh(dpkg(&root).arg("-l")).stdout).into_owned();
    assert!(
        status.lines().any(|l| l.starts_with("ii  ucarp-rs")),
        "{status}"
    );
    assert!(
        !status.lines().any(|l| l.starts_with("ii  ucarp ")),
        "Debian's ucarp still installed:\n{status}"
    );
    let installed = files(&root);
    for f in [
        "/usr/sbin/ucarp",
        "/usr/share/man/man8/ucarp.8.gz",
        "/usr/share/ucarp/vip-up",
        "/usr/share/ucarp/vip-down",
        "/usr/share/ucarp/vip-up.sh",
        "/usr/share/ucarp/vip-down.sh",
        "/etc/network/if-up.d/ucarp",
        "/etc/network/if-down.d/ucarp",
        "/lib/systemd/system/ucarp@.service",
        "/usr/share/doc/ucarp-rs/copyright",
    ] {
        assert!(
            installed.contains(&f.to_string()),
            "{f} missing: {installed:?}"
        );
    }
    // The static binary runs inside the root, which has no C library at all.
    let help = sh(Command::new("chroot")
        .arg(&root)
        .args(["/usr/sbin/ucarp", "--help"]));
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--interface=<if> (-i <if>)"));

    // Purged (and Debian's leftover configuration with it), nothing remains.
    assert!(sh(dpkg(&root).args(["--purge", "ucarp-rs"]))
        .status
        .success());
    assert!(sh(dpkg(&root).args(["--purge", "ucarp"])).status.success());
    assert_eq!(files(&root), Vec::<String>::new());
    std::fs::remove_dir_all(&work).unwrap();
}
