//! Our binaries for other CPUs, run under qemu-user against Debian's x86 ucarp (root):
//! aarch64 (little-endian) and big-endian MIPS. The interop scenarios of
//! `tests/interop.rs` run unchanged with the emulated build in place of ours: election
//! both ways and a planned handover, the equal-interval tie-break, and frames equal to
//! ucarp's byte for byte where ucarp's are fixed.
//!
//! The binaries are the debug builds that `scripts/test-cross` leaves in
//! `target/<triple>/debug/ucarp` (scripts/test runs it first). Missing, the tests skip,
//! except with `CI=true`, where they fail. Under qemu the packet socket cannot add the
//! group MAC (qemu does not translate PACKET_ADD_MEMBERSHIP): ours warns and relies on
//! the IP group join, as it does on any kernel that refuses it.

use std::os::unix::fs::PermissionsExt;

use crate::interop;
use crate::netns::built_or_skip;

/// A script that runs the emulated build of `triple` under `qemu`, or `None` (the test
/// then skips) when the build or qemu is missing outside CI.
fn emulated(triple: &str, qemu: &str) -> Option<String> {
    let bin = built_or_skip(
        &format!("{triple}/debug/ucarp"),
        &format!("scripts/test-cross {triple}"),
    )?;
    let have_qemu = std::process::Command::new(qemu)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_qemu {
        let why = format!("{qemu} missing (apt-get install qemu-user-static)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("skipping: {why}");
        return None;
    }
    // Written beside and renamed into place: tests running in parallel may be executing
    // the wrapper at that moment, and a rename never changes a file being run.
    let wrapper = bin.with_file_name("ucarp-qemu");
    let tmp = bin.with_file_name(format!(
        "ucarp-qemu.{}.{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(
        &tmp,
        format!("#!/bin/sh\nexec {qemu} {} \"$@\"\n", bin.display()),
    )
    .unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&tmp, &wrapper).unwrap();
    Some(wrapper.display().to_string())
}

macro_rules! emulated_interop {
    ($module:ident, $triple:literal, $qemu:literal) => {
        mod $module {
            use super::*;

            #[test]
            fn elects_with_ucarp_and_hands_over_to_it() {
                if let Some(bin) = emulated($triple, $qemu) {
                    interop::master_with_ucarp_backup_then_takeover_both_ways(&bin);
                }
            }

            #[test]
            fn backs_up_ucarp_and_takes_over() {
                if let Some(bin) = emulated($triple, $qemu) {
                    interop::ucarp_master_with_backup_then_takeover(&bin);
                }
            }

            #[test]
            fn breaks_equal_intervals_as_ucarp_does() {
                if let Some(bin) = emulated($triple, $qemu) {
                    interop::equal_intervals_are_decided_identically(&bin);
                }
            }

            #[test]
            fn sends_ucarps_bytes() {
                if let Some(bin) = emulated($triple, $qemu) {
                    interop::frames_match_ucarps_layout_field_by_field(&bin);
                }
            }
        }
    };
}

emulated_interop!(aarch64, "aarch64-unknown-linux-musl", "qemu-aarch64-static");
emulated_interop!(mips, "mips-unknown-linux-musl", "qemu-mips-static");
