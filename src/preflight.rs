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

use crate::config::Config;
use crate::daemon::Error;
use crate::frame::{
    advert_source_mac, emit_advert, group_mac, BROADCAST_MAC, MAX_ADVERT_FRAME_LEN,
};
use crate::net::{self, ControlSocket, PacketSocket};
use crate::packet::Advert;
use crate::rx::{Receiver, Reject};
use crate::state::{advert_interval, handover_bound, master_down_interval};

/// The shortest listening time.
const MIN_LISTEN: Duration = Duration::from_secs(3);

/// What was heard from one source.
#[derive(Debug, Default)]
struct Heard {
    /// Authenticated adverts for our vhid, with the last interval seen.
    good: u32,
    interval: Option<(u8, u8)>,
    /// Our vhid, digest mismatch.
    bad_digest: u32,
    /// Other problems with our vhid: (description, count).
    other: BTreeMap<String, u32>,
    /// Foreign traffic: (description, count).
    foreign: BTreeMap<String, u32>,
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
            // "1\tlo        :     1      V3" — a device line.
            in_iface = line.split_whitespace().nth(1) == Some(iface);
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
    let listen = (advert_interval(cfg.advbase, cfg.advskew) * 3).max(MIN_LISTEN);
    let _ = writeln!(
        out,
        "ucarp preflight on {iface}: vhid {}, {} from {}, listening {:.1} s",
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
    let advert = Advert {
        vhid: 0,
        advbase: cfg.advbase,
        advskew: cfg.advskew,
        counter: 0,
        md: [0; 20],
    };
    let mut buf = [0u8; MAX_ADVERT_FRAME_LEN];
    let len = emit_advert(&mut buf, dst_mac, src_mac, cfg.srcip, cfg.group, 0, advert);
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

    // Listen.
    let rx = cfg.receiver();
    let mut heard: BTreeMap<IpAddr, Heard> = BTreeMap::new();
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
            classify(&rx, &frame[..len], cfg.vhid, &mut heard);
        }
    }

    drop(membership);
    let mut authenticated = false;
    let mut foreign: Vec<String> = Vec::new();
    for (ip, h) in &heard {
        if h.good > 0 {
            authenticated = true;
            let (base, skew) = h.interval.unwrap_or((0, 0));
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
    if foreign.is_empty() {
        let _ = writeln!(out, "  [ok]   no foreign VRRP/CARP traffic heard");
    } else {
        let _ = writeln!(
            out,
            "  [warn] foreign VRRP/CARP traffic: {}",
            foreign.join(", ")
        );
    }
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
        "  [info] worst-case failover: {:.3} s after the master dies (advbase {} x deadratio {} + advskew {}/256), plus up to 1 s with a Debian ucarp backup; planned moves (-z, SIGUSR2): at most {:.3} s, usually a few ms",
        master_down_interval(cfg.advbase, cfg.advskew, cfg.deadratio).as_secs_f64(),
        cfg.advbase,
        cfg.deadratio,
        cfg.advskew,
        handover_bound(cfg.advbase, cfg.advskew).as_secs_f64()
    );
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

/// Sorts one frame into what was heard from its source.
fn classify(rx: &Receiver, frame: &[u8], vhid: u8, heard: &mut BTreeMap<IpAddr, Heard>) {
    // The source and where the CARP/VRRP header starts, by the frame's own family.
    let (src, carp_at) = match frame.get(12..14) {
        Some([0x86, 0xdd]) => match frame.get(22..38).and_then(|b| <[u8; 16]>::try_from(b).ok()) {
            Some(b) => (IpAddr::from(b), 14 + 40),
            None => return,
        },
        _ => match frame.get(26..30).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
            Some(b) => (
                IpAddr::from(b),
                14 + usize::from(frame.get(14).map_or(5, |b| b & 0x0f)) * 4,
            ),
            None => return,
        },
    };
    let first = frame.get(carp_at).copied().unwrap_or(0);
    let id = frame.get(carp_at + 1).copied().unwrap_or(0);
    let protocol = match first >> 4 {
        2 if frame.len() >= carp_at + crate::packet::HEADER_LEN => "CARP".to_string(),
        2 => "VRRPv2".to_string(),
        v => format!("VRRPv{v}"),
    };
    let h = heard.entry(src).or_default();
    match rx.accept(frame) {
        Ok(v) => {
            h.good += 1;
            h.interval = Some((v.advert().advbase, v.advert().advskew));
        }
        Err(Reject::BadDigest(_)) => h.bad_digest += 1,
        Err(Reject::OtherVhid(_)) | Err(Reject::BogusSize { .. }) | Err(Reject::BadVersion(_))
            if id != vhid || first >> 4 != 2 =>
        {
            *h.foreign.entry(format!("{protocol} id {id}")).or_default() += 1;
        }
        Err(e) => *h.other.entry(e.to_string()).or_default() += 1,
    }
}
