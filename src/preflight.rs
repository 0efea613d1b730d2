//! `--preflight`: checks a configuration on the real network without taking part in
//! it, and says what it found in plain words.
//!
//! It opens the same sockets as the daemon and joins the same group, sends one
//! harmless test frame (an advert for vhid 0, which no node can have), then listens for
//! a few intervals to every CARP/VRRP frame on the link — not only our vhid — without
//! running the state machine or any script. It reports: whether frames can be sent,
//! whether the multicast group is joined on the interface, every peer heard for our
//! vhid (address, interval, whether its digest matches), digest mismatches (same vhid,
//! other password or virtual address), foreign VRRP/CARP traffic, and the worst-case
//! failover time of this configuration. Exit code 0 when a peer was heard and
//! authenticated, 1 otherwise, 2 when the sockets cannot be set up.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::auth::Signer;
use crate::config::Config;
use crate::daemon::Error;
use crate::frame::{advert_source_mac, emit_advert, group_mac, BROADCAST_MAC, ETHERNET_HEADER_LEN};
use crate::net::{self, ControlSocket, PacketSocket, RawIpSocket};
use crate::packet::Advert;
use crate::rx::{Receiver, Reject, VrrpReceiver};
use crate::state::{
    advert_interval, handover_bound, master_down_interval, vrrp_handover_bound, vrrp_master_down,
};
use crate::vrrp::{emit_vrrp_frame, vrrp_source_mac, VrrpAdvert, MAX_VRRP_FRAME_LEN};

/// The shortest listening time.
const MIN_LISTEN: Duration = Duration::from_secs(3);

/// What was heard from one source.
#[derive(Debug, Default)]
struct Heard {
    /// Authenticated (VRRP: valid) adverts for our vhid, with the last standing seen.
    good: u32,
    seen: Option<Seen>,
    /// Our vhid, digest mismatch.
    bad_digest: u32,
    /// Our vhid, a digest that matches in the other format: the peer's `--strict-auth`
    /// differs from ours.
    other_format: u32,
    /// Other problems with our vhid: (description, count).
    other: BTreeMap<String, u32>,
    /// Foreign traffic: (description, count).
    foreign: BTreeMap<String, u32>,
}

/// What a peer's last valid advert said.
#[derive(Debug, Clone, Copy)]
enum Seen {
    /// CARP: advbase and advskew.
    Carp(u8, u8),
    /// VRRPv3: the advert.
    Vrrp(VrrpAdvert),
}

/// What judges our id's frames: CARP's checks (and the other signature format, to
/// tell a `--strict-auth` mismatch from a wrong password), or VRRP's.
#[allow(clippy::large_enum_variant)] // one, on the stack of a run that exits
enum Judge {
    Carp(Receiver, Signer),
    Vrrp(VrrpReceiver),
}

/// Returns true when the group is joined on `iface`, per /proc/net/igmp or igmp6;
/// `None` when that file cannot be read.
fn group_joined(iface: &str, group: IpAddr) -> Option<bool> {
    match group {
        IpAddr::V4(g) => igmp_lists(&std::fs::read_to_string("/proc/net/igmp").ok()?, iface, g),
        IpAddr::V6(g) => igmp6_lists(&std::fs::read_to_string("/proc/net/igmp6").ok()?, iface, g),
    }
}

/// Reads /proc/net/igmp: a device line, then its groups, each printed as the
/// little-endian u32 in hex (224.0.0.18 is `120000E0`).
fn igmp_lists(text: &str, iface: &str, group: Ipv4Addr) -> Option<bool> {
    let hex = format!("{:08X}", u32::from_le_bytes(group.octets()));
    let mut in_iface = false;
    for line in text.lines().skip(1) {
        if !line.starts_with(char::is_whitespace) {
            // "1\tlo        :     1      V3" — a device line. The kernel pads the name
            // to 10 columns, so a longer one runs into the colon: "12\tenp3s0f0.100:".
            in_iface = line
                .split_whitespace()
                .nth(1)
                .map(|n| n.trim_end_matches(':'))
                == Some(iface);
        } else if in_iface && line.split_whitespace().next() == Some(hex.as_str()) {
            return Some(true);
        }
    }
    Some(false)
}

/// Reads /proc/net/igmp6: one line per (index, device, group in 32 hex digits, ...).
fn igmp6_lists(text: &str, iface: &str, group: Ipv6Addr) -> Option<bool> {
    let hex: String = group.octets().iter().map(|b| format!("{b:02x}")).collect();
    Some(text.lines().any(|line| {
        let mut f = line.split_whitespace().skip(1);
        f.next() == Some(iface) && f.next() == Some(hex.as_str())
    }))
}

/// Runs the preflight check; returns the exit code.
///
/// # Errors
/// A setup failure (no such interface, no permission), exit code 2.
pub fn run(cfg: &Config) -> Result<u8, Error> {
    let iface = &cfg.iface;
    let setup = |what: &str, e: std::io::Error| Error::setup(format!("{what}: {e}"));
    let control = ControlSocket::open().map_err(|e| setup("control socket", e))?;
    let ifindex =
        net::interface_index(iface).map_err(|e| setup(&format!("interface [{iface}]"), e))?;
    let (mac, _) = control
        .hardware_address(iface)
        .map_err(|e| setup(&format!("interface [{iface}]"), e))?;
    // Every CARP/VRRP frame from others, whatever its vhid.
    let packet = PacketSocket::open(
        ifindex,
        &net::carp_filter(cfg.srcip),
        net::ethertype_of(cfg.srcip),
    )
    .map_err(|e| setup(&format!("packet socket on [{iface}]"), e))?;
    let mut out = String::new();
    let mut ok = true;
    let vaddrs: Vec<String> = cfg.vaddrs.iter().map(IpAddr::to_string).collect();
    let interval = match cfg.vrrp {
        Some(v) => v.interval(),
        None => advert_interval(cfg.advbase, cfg.advskew),
    };
    let listen = (interval * 3).max(MIN_LISTEN);
    let (id, mode) = match cfg.vrrp {
        Some(_) => ("VRRPv3 vrid", " (VRRPv3)"),
        None => ("vhid", ""),
    };
    let _ = writeln!(
        out,
        "ucarp preflight{mode} on {iface}: {id} {}, {} from {}, listening {:.1} s",
        cfg.vhid,
        vaddrs.join(", "),
        cfg.srcip,
        listen.as_secs_f64()
    );

    // Multicast membership, as the daemon would do it.
    let unicast = !cfg.peers.is_empty();
    // An IPv6 membership lasts as long as its socket: held until the end.
    let mut membership = None;
    if unicast {
        let peers: Vec<String> = cfg.peers.iter().map(IpAddr::to_string).collect();
        let _ = writeln!(
            out,
            "  [ok]   unicast to {}: no multicast group needed",
            peers.join(", ")
        );
    } else if cfg.nomcast {
        let _ = writeln!(
            out,
            "  [ok]   -M: adverts go to the Ethernet broadcast address, no group to join"
        );
    } else {
        match control.join_group(cfg.group, cfg.srcip, ifindex) {
            Err(e) => {
                ok = false;
                let _ = writeln!(
                    out,
                    "  [FAIL] cannot join {} through {} ({e}): is {} an address of this host?",
                    cfg.group, cfg.srcip, cfg.srcip
                );
            }
            Ok(held) => {
                membership = held;
                let _ = packet.add_multicast_mac(group_mac(cfg.group));
                match group_joined(iface, cfg.group) {
                    Some(true) => {
                        let _ = writeln!(
                            out,
                            "  [ok]   multicast group {} joined on {iface}",
                            cfg.group
                        );
                    }
                    Some(false) => {
                        let _ = writeln!(
                            out,
                            "  [warn] multicast group {} is joined, but not on {iface}: {} belongs to another interface (the group MAC is still accepted on {iface})",
                            cfg.group, cfg.srcip
                        );
                    }
                    None => {}
                }
            }
        }
    }

    // A test frame: an advert for vhid 0, which no node can be configured with.
    let dst_mac = if cfg.nomcast || unicast {
        BROADCAST_MAC
    } else {
        group_mac(cfg.group)
    };
    let src_mac = if cfg.real_mac {
        mac
    } else {
        advert_source_mac(0)
    };
    // A test frame for id 0, which no node can be configured with: an advert of our
    // protocol.
    let mut buf = [0u8; MAX_VRRP_FRAME_LEN];
    let test_frame = |buf: &mut [u8], dst: IpAddr| match cfg.vrrp {
        Some(v) => {
            let src_mac = if cfg.real_mac {
                mac
            } else {
                vrrp_source_mac(0, cfg.srcip.is_ipv6())
            };
            let advert = VrrpAdvert {
                vrid: 0,
                priority: v.priority,
                interval_cs: v.interval_cs,
            };
            emit_vrrp_frame(
                buf,
                dst_mac,
                src_mac,
                cfg.srcip,
                dst,
                0,
                advert,
                &cfg.vaddrs,
            )
        }
        None => {
            let advert = Advert {
                vhid: 0,
                advbase: cfg.advbase,
                advskew: cfg.advskew,
                counter: 0,
                md: [0; 20],
            };
            emit_advert(buf, dst_mac, src_mac, cfg.srcip, dst, 0, advert)
        }
    };
    let _raw = if unicast {
        let raw = RawIpSocket::open(iface, ifindex, cfg.srcip)
            .map_err(|e| setup(&format!("raw IP socket on [{iface}]"), e))?;
        for &peer in &cfg.peers {
            let len = test_frame(&mut buf, peer);
            let packet = buf.get(ETHERNET_HEADER_LEN..len).unwrap_or_default();
            match raw.send_to(packet, peer) {
                Ok(()) => {
                    let _ = writeln!(
                        out,
                        "  [ok]   a test packet for vhid 0 could be sent to {peer}"
                    );
                }
                Err(e) => {
                    ok = false;
                    let _ = writeln!(out, "  [FAIL] cannot send to {peer}: {e}");
                }
            }
        }
        Some(raw)
    } else {
        let len = test_frame(&mut buf, cfg.group);
        match packet.send(&buf[..len]) {
            Ok(()) => {
                let _ = writeln!(
                    out,
                    "  [ok]   frames can be sent on {iface} (a test frame for vhid 0)"
                );
            }
            Err(e) => {
                ok = false;
                let _ = writeln!(out, "  [FAIL] frames cannot be sent on {iface}: {e}");
            }
        }
        None
    };

    // Listen.
    let judge = match (cfg.receiver(), cfg.other_signer()) {
        (Some(rx), Some(other)) => Judge::Carp(rx, other),
        _ => Judge::Vrrp(cfg.vrrp_receiver()),
    };
    let mut heard: BTreeMap<IpAddr, Heard> = BTreeMap::new();
    let mut unlisted = 0u64;
    let mut bufs = [[0u8; net::FRAME_SNAP]; 64];
    let mut lens = [0usize; 64];
    #[allow(clippy::disallowed_methods)] // a person waits for this: wall-clock listening
    let start = Instant::now();
    while start.elapsed() < listen {
        let n = packet
            .recv_batch(&mut bufs, &mut lens)
            .map_err(|e| setup("receiving", e))?;
        if n == 0 {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        for (frame, &len) in bufs.iter().zip(lens.iter()).take(n) {
            if !classify(&judge, &frame[..len], cfg.vhid, &mut heard) {
                unlisted += 1;
            }
        }
    }

    drop(membership);
    let mut authenticated = false;
    let mut foreign: Vec<String> = Vec::new();
    for (ip, h) in &heard {
        if h.good > 0 {
            authenticated = true;
            match h.seen {
                Some(Seen::Vrrp(a)) => {
                    let role = if a.is_bow_out() {
                        "leaving (priority 0)"
                    } else {
                        "MASTER"
                    };
                    let _ = writeln!(
                        out,
                        "  [ok]   peer {ip}: {role}, vrid {}, priority {}, interval {:.2} s ({} adverts)",
                        a.vrid,
                        a.priority,
                        a.interval().as_secs_f64(),
                        h.good
                    );
                }
                seen => {
                    let (base, skew) = match seen {
                        Some(Seen::Carp(b, k)) => (b, k),
                        _ => (0, 0),
                    };
                    let role = if base == 255 && skew == 255 {
                        "leaving (bow-out)"
                    } else {
                        "MASTER"
                    };
                    let _ = writeln!(
                        out,
                        "  [ok]   peer {ip}: {role}, vhid {}, advbase {base} advskew {skew} (interval {:.3} s), authenticated ({} adverts)",
                        cfg.vhid,
                        advert_interval(base, skew).as_secs_f64(),
                        h.good
                    );
                }
            }
        }
        if h.other_format > 0 {
            ok = false;
            let (theirs, fix) = if cfg.strict_auth {
                (
                    "signs in ucarp's format, without advbase and advskew",
                    "--strict-auth needs it on every node",
                )
            } else {
                (
                    "signs the whole header (--strict-auth)",
                    "give this node --strict-auth too",
                )
            };
            let _ = writeln!(
                out,
                "  [FAIL] {ip}: same vhid {}, same password, but it {theirs}: {fix} ({} adverts)",
                cfg.vhid, h.other_format
            );
        }
        if h.bad_digest > 0 {
            ok = false;
            let _ = writeln!(
                out,
                "  [FAIL] {ip}: same vhid {}, but its digest does not match: a different password or virtual address ({} adverts)",
                cfg.vhid, h.bad_digest
            );
        }
        for (what, n) in &h.other {
            let _ = writeln!(out, "  [warn] {ip}: vhid {} advert {what} ({n})", cfg.vhid);
        }
        for (what, n) in &h.foreign {
            foreign.push(format!("{what} from {ip} ({n})"));
        }
    }
    if unlisted > 0 {
        let _ = writeln!(
            out,
            "  [warn] {unlisted} frames from sources beyond the first {MAX_SOURCES} were not looked at"
        );
    }
    if foreign.is_empty() {
        let _ = writeln!(out, "  [ok]   no foreign VRRP/CARP traffic heard");
    } else {
        let _ = writeln!(
            out,
            "  [warn] foreign VRRP/CARP traffic: {}",
            foreign.join(", ")
        );
    }
    if let Some(v) = cfg.vrrp {
        let interval = v.interval();
        let down = vrrp_master_down(v.priority, interval);
        if !authenticated {
            let _ = writeln!(
                out,
                "  [info] no peer advertised vrid {}: this node would become master after {:.3} s",
                cfg.vhid,
                down.as_secs_f64()
            );
        }
        let _ = writeln!(
            out,
            "  [info] worst-case failover: {:.3} s after the master dies (3 x its interval + (256 - priority {})/256 of it, at the master's interval {:.2} s); planned moves (-z, SIGUSR2): priority 0, make-before-break, the address moves within {:.3} s with no outage",
            down.as_secs_f64(),
            v.priority,
            interval.as_secs_f64(),
            vrrp_handover_bound(interval).as_secs_f64()
        );
    } else {
        if !authenticated {
            let _ = writeln!(
                out,
                "  [info] no peer advertised vhid {}: this node would become master after {:.3} s",
                cfg.vhid,
                master_down_interval(cfg.advbase, cfg.advskew, cfg.deadratio).as_secs_f64()
            );
        }
        let _ = writeln!(
            out,
            "  [info] worst-case failover: {:.3} s after the master dies (advbase {} x deadratio {} + advskew {}/256), plus up to 1 s with a Debian ucarp backup; planned moves (-z, SIGUSR2): make-before-break, the address moves within {:.3} s with no outage",
            master_down_interval(cfg.advbase, cfg.advskew, cfg.deadratio).as_secs_f64(),
            cfg.advbase,
            cfg.deadratio,
            cfg.advskew,
            handover_bound(cfg.advbase, cfg.advskew, cfg.deadratio).as_secs_f64()
        );
    }
    let verdict = if authenticated && ok {
        "a peer was heard and authenticated"
    } else if authenticated {
        "a peer was heard and authenticated, but see the problems above"
    } else {
        "no authenticated peer was heard"
    };
    let _ = writeln!(out, "result: {verdict}");
    print!("{out}");
    Ok(u8::from(!authenticated))
}

/// The most sources listed; frames from further ones are counted, not listed, so that
/// a flood of forged sources cannot grow the report without bound.
const MAX_SOURCES: usize = 256;

/// Sorts one frame into what was heard from its source. Returns false when the source
/// was new and [`MAX_SOURCES`] are already listed.
fn classify(judge: &Judge, frame: &[u8], vhid: u8, heard: &mut BTreeMap<IpAddr, Heard>) -> bool {
    // The source and where the CARP/VRRP header starts, as the receive path reads them.
    let Some(at) = crate::rx::locate(frame) else {
        return true;
    };
    let src = at.src;
    if heard.len() >= MAX_SOURCES && !heard.contains_key(&src) {
        return false;
    }
    let first = at.header.first().copied().unwrap_or(0);
    let id = at.header.get(1).copied().unwrap_or(0);
    let h = heard.entry(src).or_default();
    let ours = match judge {
        Judge::Carp(..) => 2,
        Judge::Vrrp(_) => 3,
    };
    // Another id, or not our protocol: foreign, whatever else is wrong with it.
    if first >> 4 != ours || id != vhid {
        let what = match first >> 4 {
            2 if at.header.len() >= crate::packet::HEADER_LEN => format!("CARP id {id}"),
            2 => format!("VRRPv2 id {id}"),
            // A VRRPv3 speaker says what it advertises: a keepalived group to join.
            3 => match crate::vrrp::VrrpPacket::new_checked(at.header) {
                Ok(p) => format!(
                    "VRRPv3 id {id} (priority {}, interval {:.2} s)",
                    p.priority(),
                    f64::from(p.interval_cs()) / 100.0
                ),
                Err(_) => format!("VRRPv3 id {id}"),
            },
            v => format!("VRRPv{v} id {id}"),
        };
        *h.foreign.entry(what).or_default() += 1;
        return true;
    }
    let (rx, other_format) = match judge {
        Judge::Vrrp(rx) => {
            match rx.accept(frame) {
                Ok(v) => {
                    h.good += 1;
                    h.seen = Some(Seen::Vrrp(*v.advert()));
                }
                Err(e) => *h.other.entry(e.to_string()).or_default() += 1,
            }
            return true;
        }
        Judge::Carp(rx, other) => (rx, other),
    };
    match rx.accept(frame) {
        Ok(v) => {
            h.good += 1;
            h.seen = Some(Seen::Carp(v.advert().advbase, v.advert().advskew));
        }
        Err(Reject::BadDigest(_)) => {
            // Signed by the same key and addresses, but in the other format?
            let carp = crate::packet::CarpPacket::new_checked(at.header).ok();
            let matches_other = carp.is_some_and(|c| {
                other_format
                    .verify(&c.signed_fields(), &c.counter_bytes(), &c.md())
                    .is_ok()
            });
            if matches_other {
                h.other_format += 1;
            } else {
                h.bad_digest += 1;
            }
        }
        Err(e) => *h.other.entry(e.to_string()).or_default() += 1,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /proc/net/igmp as the kernel prints it: a name of 10 characters or more runs
    /// into the colon.
    #[test]
    fn igmp_device_lines_with_short_and_long_names() {
        let text = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n\
                    1\tlo        :     1      V3\n\
                    \t\t\t\t010000E0     1 0:00000000\t\t0\n\
                    2\teth0      :     2      V3\n\
                    \t\t\t\t010000E0     1 0:00000000\t\t0\n\
                    12\tenp3s0f0.100:     2      V3\n\
                    \t\t\t\t120000E0     1 0:00000000\t\t0\n\
                    \t\t\t\t010000E0     1 0:00000000\t\t0\n";
        let group = Ipv4Addr::new(224, 0, 0, 18);
        assert_eq!(igmp_lists(text, "enp3s0f0.100", group), Some(true));
        assert_eq!(igmp_lists(text, "eth0", group), Some(false));
        assert_eq!(
            igmp_lists(text, "lo", Ipv4Addr::new(224, 0, 0, 1)),
            Some(true)
        );
    }

    #[test]
    fn igmp6_lines() {
        let text = "1    lo              ff020000000000000000000000000001     1 0000000C 0\n\
                    12   enp3s0f0.100    ff020000000000000000000000000012     1 00000004 0\n";
        let group: Ipv6Addr = "ff02::12".parse().unwrap();
        assert_eq!(igmp6_lists(text, "enp3s0f0.100", group), Some(true));
        assert_eq!(igmp6_lists(text, "lo", group), Some(false));
    }

    fn frame(src: Ipv4Addr, vhid: u8, ttl: u8) -> Vec<u8> {
        let key = crate::auth::Key::new(b"secret").unwrap();
        let vip: IpAddr = Ipv4Addr::new(198, 18, 0, 100).into();
        let mut advert = Advert {
            vhid,
            advbase: 1,
            advskew: 0,
            counter: 5,
            md: [0; 20],
        };
        advert.md = key
            .signer(vhid, &[vip])
            .sign(&advert.signed_fields(), &5u64.to_be_bytes());
        let mut buf = vec![0u8; crate::frame::MAX_ADVERT_FRAME_LEN];
        let g = crate::packet::CARP_MCAST_V4;
        let len = emit_advert(
            &mut buf,
            group_mac(g.into()),
            advert_source_mac(vhid),
            src.into(),
            g.into(),
            1,
            advert,
        );
        buf.truncate(len);
        buf[22] = ttl; // TTL; the checksum is then wrong too, which does not matter here
        buf
    }

    /// Frames are sorted by id first: another vhid is foreign whatever else is wrong
    /// with it; our vhid's problems are named; the number of sources is bounded.
    #[test]
    fn classify_sorts_by_id_first_and_bounds_the_sources() {
        let key = crate::auth::Key::new(b"secret").unwrap();
        let rx = Receiver {
            srcip: Ipv4Addr::new(198, 18, 0, 2).into(),
            vhid: 7,
            group: crate::packet::CARP_MCAST_V4.into(),
            peers: Vec::new(),
            signer: key.signer(7, &[Ipv4Addr::new(198, 18, 0, 100).into()]),
        };
        let other = key.strict_signer(&[Ipv4Addr::new(198, 18, 0, 100).into()]);
        let judge = Judge::Carp(rx, other);
        let mut heard = BTreeMap::new();
        let a = Ipv4Addr::new(198, 18, 0, 1);
        assert!(classify(&judge, &frame(a, 7, 255), 7, &mut heard));
        assert!(classify(&judge, &frame(a, 8, 64), 7, &mut heard));
        assert!(classify(&judge, &frame(a, 7, 64), 7, &mut heard));
        let h = &heard[&IpAddr::from(a)];
        assert_eq!(h.good, 1);
        assert_eq!(h.foreign.get("CARP id 8"), Some(&1));
        assert_eq!(h.other.len(), 1);
        for i in 0..MAX_SOURCES as u32 {
            let src = Ipv4Addr::from(0xc612_1000 + i);
            classify(&judge, &frame(src, 9, 255), 7, &mut heard);
        }
        assert_eq!(heard.len(), MAX_SOURCES);
        assert!(!classify(
            &judge,
            &frame(Ipv4Addr::new(198, 19, 9, 9), 9, 255),
            7,
            &mut heard
        ));
        assert!(classify(&judge, &frame(a, 9, 255), 7, &mut heard));
    }
}
