//! The single integration-test binary (ripgrep's layout): topic files are modules.
//!
//! * `props`: property tests of the wire format, receive checks and state machine.
//! * `scenarios`: the state machine over a simulated wire, in virtual time.
//! * `vrrp_scenarios`: the same in VRRPv3 mode (`--vrrp`).
//! * `golden`: frames captured from Debian's ucarp (`tests/data/`).
//! * `hardening`: secrets, replays, link storms, crash and restart (root).
//! * `hostile`: floods of bad and foreign frames against a stable pair (root).
//! * `beyond`: unicast peers, real MAC, several addresses, split brain (root).
//! * `cli`: bad command lines through the real binary.
//! * `docs`: citations name documents and sections inside the repository.
//! * `emulated`: our aarch64 and big-endian MIPS builds under qemu against Debian's ucarp
//!   (root; the builds come from `scripts/test-cross`).
//! * `daemon`: two or more of ours in network namespaces (root).
//! * `demo`: `scripts/demo`, the README's first command, end to end (root).
//! * `faults`: faults real networks combine: a frozen master, witnesses, a carrier flap
//!   storm (root).
//! * `failover`: handover, maintenance mode, script timeouts (root).
//! * `groups`: three- and four-node groups mixing ours and ucarp, slow and hung scripts
//!   (root).
//! * `package`: the Debian package, lintian-checked, installed into a throwaway root over
//!   Debian's ucarp and purged (root).
//! * `openwrt`: the OpenWrt init script's UCI translation, with stand-in shell libraries.
//! * `operations`: health checks, tracking, hook environment, state and pid files, ifupdown and
//!   systemd integration (root).
//! * `interop`: ours against Debian's `/usr/sbin/ucarp` (root).
//! * `vrrp`: VRRPv3 (`--vrrp`) against Debian's keepalived, each side in each role,
//!   over IPv4 and IPv6, multicast and unicast (root).
//! * `privilege`: ours as `nobody` with two capabilities, missing capabilities, and
//!   log lines for the journal (root).

/// Unwraps a network rig (`Rig::new`, `Rig::with_ips`), or ends the test when
/// namespaces are unavailable outside CI; with `CI=true` the rig has already failed it.
macro_rules! rig {
    ($rig:expr) => {
        match $rig {
            Some(r) => r,
            None => return,
        }
    };
}

mod beyond;
mod cli;
mod daemon;
mod demo;
mod docs;
mod emulated;
mod failover;
mod faults;
mod golden;
mod groups;
mod hardening;
mod hostile;
mod interop;
mod netns;
mod openwrt;
mod operations;
mod package;
mod privilege;
mod props;
mod scenarios;
mod sim;
mod vrrp;
mod vrrp_scenarios;
