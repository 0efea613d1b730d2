//! Hostile traffic on the LAN (issue 7): while a pair is stable, a third host floods
//! every kind of bad or foreign frame; nothing may change.
//!
//! The flood generator is also a tool for `scripts/bench-flood`, which runs it in a
//! namespace through the ignored test `flood_tool` (configured by environment).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ucarp::auth::Key;
use ucarp::packet::{Advert, CarpPacket};

use crate::netns::{in_netns, sending_socket, wait_until, Rig, OURS};
use crate::sim::frame_from;

const VIP: &str = "198.18.0.100";
const LONG: Duration = Duration::from_secs(20);

/// What the flood imitates: the pair's vhid, password, address and master.
pub struct Target {
    pub vhid: u8,
    pub password: &'static [u8],
    pub vaddr: Ipv4Addr,
    pub master: Ipv4Addr,
    pub attacker: Ipv4Addr,
}

/// The kinds of frame in the flood, one of each per round.
pub const KINDS: [&str; 11] = [
    "bad digest",
    "bad ttl",
    "bad checksum",
    "truncated",
    "oversized",
    "ip options",
    "other vhid",
    "vrrp v2",
    "vrrp v3",
    "forged skew",
    "udp",
];

/// Rewrites both checksums after an edit, so that only the intended check fails.
fn refill(f: &mut [u8]) {
    let ihl = usize::from(f[14] & 0x0f) * 4;
    f[24..26].fill(0);
    let c = ucarp::checksum::checksum(&f[14..14 + ihl]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    if f.len() >= 14 + ihl + 36 {
        CarpPacket::new_unchecked(&mut f[14 + ihl..14 + ihl + 36]).fill_checksum();
    }
}

/// Builds one frame of kind `k` (an index into [`KINDS`]); `n` varies counters.
pub fn hostile_frame(t: &Target, k: usize, n: u64) -> Vec<u8> {
    let key = Key::new(t.password).unwrap();
    let signed = |vhid: u8, advbase: u8, advskew: u8, counter: u64| Advert {
        vhid,
        advbase,
        advskew,
        counter,
        md: key.sign(vhid, t.vaddr, &counter.to_be_bytes()),
    };
    let id = n as u16;
    match KINDS[k] {
        "bad digest" => {
            let mut a = signed(t.vhid, 1, 0, n);
            a.md[0] ^= 1;
            frame_from(t.attacker, a, id)
        }
        "bad ttl" => {
            let mut f = frame_from(t.attacker, signed(t.vhid, 1, 0, n), id);
            f[22] = 64;
            refill(&mut f);
            f
        }
        "bad checksum" => {
            let mut f = frame_from(t.attacker, signed(t.vhid, 1, 0, n), id);
            f[40] ^= 0x55;
            f
        }
        "truncated" => frame_from(t.attacker, signed(t.vhid, 1, 0, n), id)[..50].to_vec(),
        // Trailing bytes are ignored (docs/PROTOCOL.md §4.3): with a valid digest this would be
        // a real advert from a node that knows the password, so the digest is broken.
        "oversized" => {
            let mut a = signed(t.vhid, 1, 0, n);
            a.md[19] ^= 1;
            let mut f = frame_from(t.attacker, a, id);
            f.resize(1400, 0xee);
            f
        }
        "ip options" => {
            let mut a = signed(t.vhid, 1, 0, n);
            a.md[5] ^= 0x80;
            let plain = frame_from(t.attacker, a, id);
            let mut f = plain[..34].to_vec();
            f.extend_from_slice(&[0x94, 0x04, 0, 0]); // router alert
            f.extend_from_slice(&plain[34..]);
            f[14] = 0x46;
            f[16..18].copy_from_slice(&60u16.to_be_bytes());
            refill(&mut f);
            f
        }
        "other vhid" => frame_from(t.attacker, signed(t.vhid.wrapping_add(1), 1, 0, n), id),
        "vrrp v2" | "vrrp v3" => {
            // A VRRP advert for the same id: version/type, vrid, priority, count,
            // auth type / max interval, checksum, one address.
            let version = if KINDS[k] == "vrrp v2" { 0x21 } else { 0x31 };
            let mut f = frame_from(t.attacker, signed(t.vhid, 1, 0, n), id)[..34].to_vec();
            f.extend_from_slice(&[version, t.vhid, 100, 1, 0, 1, 0, 0]);
            f.extend_from_slice(&t.vaddr.octets());
            let ip_len = (f.len() - 14) as u16;
            f[16..18].copy_from_slice(&ip_len.to_be_bytes());
            refill(&mut f);
            f
        }
        // A valid advert of the master with advskew and advbase rewritten: the HMAC
        // does not cover them (docs/PROTOCOL.md §3.2). Kept below the backup's dead time, so
        // that nothing changes; a forged 255/255 would make the backup take over.
        "forged skew" => frame_from(t.master, signed(t.vhid, 2, 200, n), id),
        "udp" => {
            let mut f = frame_from(t.attacker, signed(t.vhid, 1, 0, n), id);
            f[23] = 17;
            refill(&mut f);
            f
        }
        other => unreachable!("{other}"),
    }
}

/// Sends every kind of frame, `rate` frames a second of each, for `duration`, from
/// `iface` in the current network namespace. Returns how many frames went out.
pub fn flood(iface: &str, t: &Target, rate: u32, duration: Duration) -> u64 {
    flood_kinds(iface, t, rate, duration, &[])
}

/// [`flood`] without the kinds named in `skip`.
pub fn flood_kinds(iface: &str, t: &Target, rate: u32, duration: Duration, skip: &[&str]) -> u64 {
    let socket = sending_socket(iface);
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let round = Duration::from_secs(1) / rate.max(1);
    let mut sent = 0u64;
    let mut n = 0u64;
    while start.elapsed() < duration {
        for k in (0..KINDS.len()).filter(|&k| !skip.contains(&KINDS[k])) {
            if socket.send(&hostile_frame(t, k, n)).is_ok() {
                sent += 1;
            }
        }
        n += 1;
        let due = round * u32::try_from(n).unwrap_or(u32::MAX);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    sent
}

fn target(rig: &Rig) -> Target {
    Target {
        vhid: 7,
        password: b"secret",
        vaddr: VIP.parse().unwrap(),
        master: rig.hosts[0].ip,
        attacker: rig.hosts[2].ip,
    }
}

/// Warning lines about bad packets in a log.
fn packet_warnings(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("[WARNING]"))
        .filter(|l| {
            ["Bad digest", "Bad TTL", "Bad version", "Bad IP checksum"]
                .iter()
                .any(|w| l.contains(w))
        })
        .count()
}

#[test]
fn a_flood_of_hostile_frames_changes_nothing() {
    let mut rig = match Rig::new(3) {
        Some(r) => r,
        None => return,
    };
    let a = rig.start(0, OURS, &["-k", "0"]);
    let b = rig.start(1, OURS, &["-k", "50", "-D"]);
    assert!(wait_until(LONG, || rig.has_addr(0, VIP)), "{}", a.output());
    let t = target(&rig);
    let ns = rig.hosts[2].ns.clone();
    // Bounded for CI: 1000 frames a second of each of 11 kinds, for 4 s: longer than
    // the backup's dead time, so it must hear the master's adverts through the ring.
    let sent = in_netns(&ns, move || flood("eth0", &t, 1000, Duration::from_secs(4)));
    assert!(sent > 25_000, "only {sent} frames sent");
    assert!(
        b.output().contains("reading them through a ring"),
        "{}",
        b.output()
    );
    std::thread::sleep(Duration::from_secs(1));

    // Nothing moved, nobody died.
    assert!(rig.has_addr(0, VIP) && !rig.has_addr(1, VIP));
    assert_eq!(a.count("Switching to state: MASTER"), 1, "{}", a.output());
    assert!(!b.output().contains("MASTER"), "{}", b.output());
    for p in [&a, &b] {
        assert!(
            rig.wait_exit(p, Duration::ZERO).is_none(),
            "a daemon exited"
        );
    }
    // Rate-limited: at most one line per kind of warning per 10 s.
    for p in [&a, &b] {
        let lines = packet_warnings(&p.output());
        assert!(lines <= 4 * 2, "{lines} warning lines:\n{}", p.output());
    }
    // The backup counted what it rejected; the kernel filter kept the other vhid and
    // the UDP away entirely.
    rig.signal(&b, "USR1");
    assert!(b.wait_log("rejected=", LONG));
    let out = b.output();
    let counters = out.lines().rfind(|l| l.contains("rejected=")).unwrap();
    for reason in ["bad_digest", "bad_ttl", "bad_checksum", "bogus_size"] {
        assert!(
            counters.contains(&format!(" {reason}=")),
            "{reason} missing: {counters}"
        );
    }
    // The kernel rejected the bad TTLs (docs/PROTOCOL.md §4.1.1) and its screen counted
    // every one: one per round of the flood (sends rarely fail on a veth).
    let bad_ttl: u64 = counters
        .split(" bad_ttl=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let rounds = sent / KINDS.len() as u64;
    assert!(
        bad_ttl <= rounds + 1 && bad_ttl * 100 >= rounds * 99,
        "bad_ttl={bad_ttl}, rounds={rounds}: {counters}"
    );
    assert!(!counters.contains("other_vhid"), "{counters}");
    assert!(!counters.contains("not_carp"), "{counters}");

    // Ten seconds on, one more bad frame: its line says how many were suppressed. The
    // ring went after a calm second.
    std::thread::sleep(Duration::from_secs(10));
    assert!(b.output().contains("calm again"), "{}", b.output());
    let t = target(&rig);
    in_netns(&ns, move || flood("eth0", &t, 1, Duration::from_millis(10)));
    assert!(b.wait_log("more suppressed)", LONG), "{}", b.output());
}

/// The flood as a tool for `scripts/bench-flood`: runs only when UCARP_FLOOD_IFACE
/// is set (the script runs this test binary inside the attacker's namespace).
#[test]
#[ignore]
fn flood_tool() {
    let Ok(iface) = std::env::var("UCARP_FLOOD_IFACE") else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let t = Target {
        vhid: var("UCARP_FLOOD_VHID").parse().unwrap(),
        password: Box::leak(var("UCARP_FLOOD_PASS").into_bytes().into_boxed_slice()),
        vaddr: var("UCARP_FLOOD_VIP").parse().unwrap(),
        master: var("UCARP_FLOOD_MASTER").parse().unwrap(),
        attacker: var("UCARP_FLOOD_SRC").parse().unwrap(),
    };
    let rate: u32 = var("UCARP_FLOOD_RATE").parse().unwrap();
    let secs: u64 = var("UCARP_FLOOD_SECS").parse().unwrap();
    let skip = std::env::var("UCARP_FLOOD_SKIP").unwrap_or_default();
    let skip: Vec<&str> = skip.split(',').filter(|k| !k.is_empty()).collect();
    let sent = flood_kinds(&iface, &t, rate, Duration::from_secs(secs), &skip);
    println!("sent {sent} frames");
}

/// The latency probe for `scripts/bench-flood --latency`: runs only when
/// UCARP_PROBE_IFACE is set, inside a third host's namespace. Each probe is a valid
/// advert in the master's name with a poorer advskew (100) than the backup's; the
/// backup, run with `-P`, preempts at once and advertises (and steps down again at
/// the real master's next advert). The time from the probe leaving to the backup's
/// advert arriving, measured here, is the backup's reaction time: with a flood
/// running and without, the difference is what the flood adds to a valid advert. The
/// flood then leaves out its forged skews, which would make the backup preempt too.
/// Prints one line: `latency_us N,N,...`.
#[test]
#[ignore]
fn latency_tool() {
    use std::os::fd::{AsFd, AsRawFd};
    let Ok(iface) = std::env::var("UCARP_PROBE_IFACE") else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let vhid: u8 = var("UCARP_PROBE_VHID").parse().unwrap();
    let key = Key::new(var("UCARP_PROBE_PASS").as_bytes()).unwrap();
    let vaddr: Ipv4Addr = var("UCARP_PROBE_VIP").parse().unwrap();
    let master: Ipv4Addr = var("UCARP_PROBE_MASTER").parse().unwrap();
    let backup: Ipv4Addr = var("UCARP_PROBE_BACKUP").parse().unwrap();
    let me: Ipv4Addr = var("UCARP_PROBE_SRC").parse().unwrap();
    let count: u64 = var("UCARP_PROBE_COUNT").parse().unwrap();
    let send = sending_socket(&iface);
    let ifindex = ucarp::net::interface_index(&iface).unwrap();
    let capture = ucarp::net::PacketSocket::open(
        ifindex,
        &ucarp::net::advert_filter(me.into(), vhid),
        libc::ETH_P_IP as u16,
    )
    .unwrap();
    capture.set_receive_buffer(1 << 20);
    let mut bufs = [[0u8; ucarp::net::FRAME_SNAP]; 64];
    let mut lens = [0usize; 64];
    let mut latencies = Vec::new();
    for n in 0..count {
        // The backup steps down on the master's next advert, within a second.
        std::thread::sleep(Duration::from_millis(1500));
        while capture.recv_batch(&mut bufs, &mut lens).unwrap() > 0 {}
        let counter = 0x5eed_0000_0000 + n;
        let poorer = Advert {
            vhid,
            advbase: 1,
            advskew: 100,
            counter,
            md: key.sign(vhid, vaddr, &counter.to_be_bytes()),
        };
        let frame = frame_from(master, poorer, n as u16);
        #[allow(clippy::disallowed_methods)]
        let sent = Instant::now();
        send.send(&frame).unwrap();
        'wait: while sent.elapsed() < Duration::from_secs(3) {
            let mut fds = [libc::pollfd {
                fd: capture.as_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(fds.as_mut_ptr(), 1, 100) };
            let got = capture.recv_batch(&mut bufs, &mut lens).unwrap();
            for (buf, &len) in bufs.iter().zip(&lens).take(got) {
                if len >= 30 && buf[26..30] == backup.octets() {
                    latencies.push(sent.elapsed().as_micros());
                    break 'wait;
                }
            }
        }
    }
    let list: Vec<String> = latencies.iter().map(u128::to_string).collect();
    println!("latency_us {}", list.join(","));
}
