//! VRRPv3 (`--vrrp`, RFC 5798) against Debian's keepalived (version 3), each side in each
//! role: election, preemption, equal priorities, the priority-0 handover, IPv6 and
//! unicast, and tshark's reading of our frames (root).
//!
//! Both sides advertise every 0.1 s, so a backup takes over after about 0.35 s of
//! silence; waits are bounded generously and the assertions are about outcomes (who
//! holds the address, what the scripts and keepalived logged), never durations. What
//! ours does is docs/PROTOCOL.md §14.

use std::process::Command;
use std::time::Duration;

use crate::netns::vrrp::{link_local, tshark_vrrp_fields, AddrWatch, KaConf, Keepalived};
use crate::netns::{sh, wait_until, Proc, Rig, OURS};

const VIP: &str = "198.18.0.100";
const VIP6: &str = "2001:db8::100";
const INTERVAL: &str = "0.1";
/// The bound of every wait: far beyond the few hundred milliseconds anything takes.
const LONG: Duration = Duration::from_secs(20);
/// How long a state must last to count as stable: 15 advert intervals.
const STEADY: Duration = Duration::from_millis(1500);

/// Which implementation runs on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    Ours,
    Keepalived,
}
use Impl::{Keepalived as Ka, Ours};

/// What a node is told, in terms both implementations understand.
#[derive(Clone, Debug)]
struct Spec {
    priority: u8,
    /// Ours: -P. Keepalived preempts unless `nopreempt`.
    preempt: bool,
    vips: Vec<String>,
    /// Ours: -s (default: the host's IPv4 address). Keepalived: `unicast_src_ip` when
    /// there are peers, otherwise its own choice.
    src: Option<String>,
    /// Ours: --peer. Keepalived: `unicast_peer`.
    peers: Vec<String>,
    /// More options for ours only (-z).
    ours_extra: Vec<String>,
}

impl Spec {
    fn new(priority: u8) -> Spec {
        Spec {
            priority,
            preempt: true,
            vips: vec![VIP.into()],
            src: None,
            peers: Vec::new(),
            ours_extra: Vec::new(),
        }
    }
    fn no_preempt(mut self) -> Spec {
        self.preempt = false;
        self
    }
    fn ours(mut self, args: &[&str]) -> Spec {
        self.ours_extra.extend(args.iter().map(|s| s.to_string()));
        self
    }
    fn vip(mut self, vip: &str) -> Spec {
        self.vips = vec![vip.into()];
        self
    }
    fn src(mut self, src: &str) -> Spec {
        self.src = Some(src.into());
        self
    }
    fn peer(mut self, peer: &str) -> Spec {
        self.peers.push(peer.into());
        self
    }
}

/// A running node of either implementation.
enum Node {
    Ours(Proc),
    Ka(Keepalived),
}

impl Node {
    fn output(&self) -> String {
        match self {
            Node::Ours(p) => p.output(),
            Node::Ka(k) => k.output(),
        }
    }
    fn proc(&self) -> &Proc {
        match self {
            Node::Ours(p) => p,
            Node::Ka(k) => &k.proc,
        }
    }
}

/// Starts `imp` on host `h` as `spec` says (VRID 7, advert interval 0.1 s).
fn start(rig: &mut Rig, h: usize, imp: Impl, spec: &Spec) -> Node {
    match imp {
        Ours => {
            let up = rig.vip_script(h, true).display().to_string();
            let down = rig.vip_script(h, false).display().to_string();
            let src = spec
                .src
                .clone()
                .unwrap_or_else(|| rig.hosts[h].ip.to_string());
            let mut args: Vec<String> = ["--vrrp", "-i", "eth0", "-s", &src, "-v", "7"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            for v in &spec.vips {
                args.extend(["-a".into(), v.clone()]);
            }
            args.extend([
                "--priority".into(),
                spec.priority.to_string(),
                "--advert-int".into(),
                INTERVAL.into(),
            ]);
            if spec.preempt {
                args.push("-P".into());
            }
            for p in &spec.peers {
                args.extend(["--peer".into(), p.clone()]);
            }
            args.extend([
                "-u".into(),
                up,
                "-d".into(),
                down,
                "-f".into(),
                "none".into(),
            ]);
            args.extend(spec.ours_extra.iter().cloned());
            Node::Ours(rig.start_raw(h, OURS, &args))
        }
        Ka => {
            let mut conf = KaConf::new(spec.priority);
            conf.advert_int = INTERVAL.into();
            conf.nopreempt = !spec.preempt;
            conf.vips = spec.vips.clone();
            if !spec.peers.is_empty() {
                conf.unicast_src = spec.src.clone();
                conf.unicast_peers = spec.peers.clone();
            }
            Node::Ka(rig.start_keepalived(h, &conf))
        }
    }
}

/// Stops a node as an administrator would (SIGTERM) and waits for it to exit. Ours exits
/// 0 with -z, and otherwise dies of the signal, as ucarp does (man page, SIGNALS).
fn stop(rig: &mut Rig, node: &Node) {
    match node {
        Node::Ours(p) => {
            use std::os::unix::process::ExitStatusExt;
            rig.signal(p, "TERM");
            let status = rig.wait_exit(p, LONG);
            assert!(
                status.is_some_and(|s| s.code() == Some(0) || s.signal() == Some(15)),
                "{status:?}\n{}",
                p.output()
            );
        }
        Node::Ka(k) => assert!(rig.stop_keepalived(k), "{}", k.output()),
    }
}

/// Waits until host `winner` alone of `hosts` holds `vip`, then checks that it stays so.
fn holds_alone(rig: &Rig, winner: usize, hosts: &[usize], vip: &str, nodes: &[&Node]) {
    let alone = || hosts.iter().all(|&h| rig.has_addr(h, vip) == (h == winner));
    let logs = || {
        nodes
            .iter()
            .map(|n| n.output())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    assert!(
        wait_until(LONG, alone),
        "host {winner} never held {vip} alone; scripts {:?}\n{}",
        rig.all_scripts(),
        logs()
    );
    std::thread::sleep(STEADY);
    assert!(
        alone(),
        "host {winner} lost {vip} or shared it; scripts {:?}\n{}",
        rig.all_scripts(),
        logs()
    );
}

/// Drops multicast VRRP (IPv4 and IPv6) on the bridge, so that only unicast adverts pass.
fn drop_multicast_vrrp(rig: &Rig) {
    let file = rig.dir.join("no-mcast-vrrp.nft");
    std::fs::write(
        &file,
        "table bridge vrrp_unicast {\n  chain no_mcast {\n    type filter hook forward priority 0;\n    ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 ip protocol 112 drop\n    ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 ip6 nexthdr 112 drop\n  }\n}\n",
    )
    .unwrap();
    sh(rig.bridge_cmd("nft").arg("-f").arg(&file));
}

/// A higher priority wins an election started on both sides at once (both preempt, so
/// the outcome does not depend on who starts first).
fn higher_priority_wins(high: Impl, low: Impl) {
    let mut rig = rig!(Rig::new(2));
    let a = start(&mut rig, 0, high, &Spec::new(200));
    let b = start(&mut rig, 1, low, &Spec::new(100));
    holds_alone(&rig, 0, &[0, 1], VIP, &[&a, &b]);
}

#[test]
fn ours_with_higher_priority_is_master_over_keepalived() {
    higher_priority_wins(Ours, Ka);
}

#[test]
fn keepalived_with_higher_priority_is_master_over_ours() {
    higher_priority_wins(Ka, Ours);
}

/// Keepalived is master at 100; ours at 200 joins. Without -P it stays backup; with -P it
/// takes over and keepalived steps down to backup.
#[test]
fn ours_preempts_keepalived_only_with_p() {
    let mut rig = rig!(Rig::new(2));
    let ka = start(&mut rig, 1, Ka, &Spec::new(100));
    holds_alone(&rig, 1, &[0, 1], VIP, &[&ka]);
    let polite = start(&mut rig, 0, Ours, &Spec::new(200).no_preempt());
    holds_alone(&rig, 1, &[0, 1], VIP, &[&ka, &polite]);
    stop(&mut rig, &polite);
    let pushy = start(&mut rig, 0, Ours, &Spec::new(200));
    holds_alone(&rig, 0, &[0, 1], VIP, &[&ka, &pushy]);
    assert!(
        rig.script_log(1).iter().any(|l| l.starts_with("BACKUP")),
        "{:?}",
        rig.script_log(1)
    );
}

/// Ours is master at 100; keepalived at 200 (preempting, its default) joins: ours steps
/// down, running its down script, and keepalived holds the address.
#[test]
fn keepalived_preempts_ours() {
    let mut rig = rig!(Rig::new(2));
    let ours = start(&mut rig, 0, Ours, &Spec::new(100).no_preempt());
    holds_alone(&rig, 0, &[0, 1], VIP, &[&ours]);
    let ka = start(&mut rig, 1, Ka, &Spec::new(200));
    holds_alone(&rig, 1, &[0, 1], VIP, &[&ours, &ka]);
    let log = rig.script_log(0);
    assert!(
        log.iter()
            .any(|l| l == &format!("DOWN argc=2 [eth0] [{VIP}]")),
        "{log:?}"
    );
}

/// Equal priorities: the higher primary address, compared as a big-endian number, wins.
/// 198.18.1.1 beats 198.18.0.2 (a little-endian comparison would pick the other). Both
/// become master during a partition; when it heals, 198.18.0.2 steps down, whichever
/// implementation runs where.
#[test]
fn equal_priorities_go_to_the_higher_address_on_both_sides() {
    let winner = std::net::Ipv4Addr::new(198, 18, 1, 1);
    let loser = std::net::Ipv4Addr::new(198, 18, 0, 2);
    for (at_winner, at_loser) in [(Ours, Ka), (Ka, Ours)] {
        let mut rig = rig!(Rig::with_ips(&[winner, loser]));
        rig.partition(true);
        let w = start(&mut rig, 0, at_winner, &Spec::new(100));
        let l = start(&mut rig, 1, at_loser, &Spec::new(100));
        assert!(
            wait_until(LONG, || rig.has_addr(0, VIP) && rig.has_addr(1, VIP)),
            "both should be master while partitioned\n{}\n----\n{}",
            w.output(),
            l.output()
        );
        rig.partition(false);
        holds_alone(&rig, 0, &[0, 1], VIP, &[&w, &l]);
    }
}

/// When `watch` first saw `vip` added (`added`) or deleted.
fn first(watch: &AddrWatch, vip: &str, added: bool) -> Option<String> {
    watch
        .events(vip)
        .into_iter()
        .find(|e| e.added == added)
        .map(|e| e.at)
}

/// Ours (200, -z) is master, keepalived (100) backup. `how` makes ours hand over on
/// purpose (SIGTERM or SIGUSR2): it sends priority 0 and keeps the address until
/// keepalived has taken it, so keepalived adds it before ours removes it. tshark reads
/// every VRRP frame of ours in the capture as well-formed, with a good checksum and TTL
/// 255, one of them at priority 0.
fn ours_hands_over_to_keepalived(how: &str) {
    let mut rig = rig!(Rig::new(2));
    let cap = rig.capture("ip proto 112");
    let ours = start(&mut rig, 0, Ours, &Spec::new(200).ours(&["-z"]));
    holds_alone(&rig, 0, &[0, 1], VIP, &[&ours]);
    let ka = start(&mut rig, 1, Ka, &Spec::new(100));
    holds_alone(&rig, 0, &[0, 1], VIP, &[&ours, &ka]);
    let w0 = rig.watch_addrs(0);
    let w1 = rig.watch_addrs(1);
    if how == "TERM" {
        stop(&mut rig, &ours);
    } else {
        rig.signal(ours.proc(), how);
    }
    holds_alone(&rig, 1, &[0, 1], VIP, &[&ours, &ka]);
    rig.stop_capture(&cap);
    let added = first(&w1, VIP, true);
    let removed = first(&w0, VIP, false);
    assert!(
        added.is_some() && removed.is_some() && added <= removed,
        "keepalived added {VIP} at {added:?}, ours removed it at {removed:?}: a gap\nours:\n{}\nkeepalived:\n{}",
        w0.text(),
        w1.text()
    );
    check_our_frames(&cap.pcap, "ip.src == 198.18.0.1", true);
}

#[test]
fn ours_hands_over_to_keepalived_on_sigterm_without_a_gap() {
    ours_hands_over_to_keepalived("TERM");
}

#[test]
fn ours_hands_over_to_keepalived_on_sigusr2_without_a_gap() {
    ours_hands_over_to_keepalived("USR2");
}

/// Every VRRP frame matching `from` in `pcap` decodes without a malformed-packet mark,
/// with a checksum tshark calls good, TTL or hop limit 255 (multicast), version 3, type 1.
/// With `bow_out`, one of them has priority 0.
fn check_our_frames(pcap: &std::path::Path, from: &str, bow_out: bool) {
    let rows = tshark_vrrp_fields(
        pcap,
        &format!("({from}) && ip.proto == 112 || ({from}) && ipv6.nxt == 112"),
        &[
            "eth.src",
            "vrrp.version",
            "vrrp.type",
            "vrrp.prio",
            "vrrp.checksum.status",
            "ip.ttl",
            "ipv6.hlim",
            "_ws.malformed",
        ],
    );
    assert!(
        !rows.is_empty(),
        "no frames of ours ({from}) in the capture"
    );
    for row in &rows {
        let f: Vec<&str> = row.split('\t').collect();
        // RFC 5798 §7.3: the virtual router MAC, 00:00:5e:00:01:VRID (IPv4) or
        // 00:00:5e:00:02:VRID (IPv6).
        assert!(
            ["00:00:5e:00:01:07", "00:00:5e:00:02:07"].contains(&f[0]),
            "not from the virtual MAC: {row}"
        );
        assert_eq!(&f[1..3], &["3", "1"], "not a VRRPv3 advert: {row}");
        assert_eq!(f[4], "1", "checksum not good: {row}");
        assert!(f[5] == "255" || f[6] == "255", "TTL not 255: {row}");
        assert!(f[7].is_empty(), "malformed: {row}");
    }
    if bow_out {
        assert!(
            rows.iter().any(|r| r.split('\t').nth(3) == Some("0")),
            "no priority-0 advert of ours: {rows:?}"
        );
    }
}

/// Keepalived (200) is master, ours (100, -D) backup; keepalived is stopped and sends
/// priority 0: ours takes over (after its skew time rather than the full down interval;
/// not asserted), and its log shows the bow-out heard, then the takeover.
#[test]
fn keepalived_bows_out_to_ours() {
    let mut rig = rig!(Rig::new(2));
    let ka = start(&mut rig, 1, Ka, &Spec::new(200));
    holds_alone(&rig, 1, &[0, 1], VIP, &[&ka]);
    let ours = start(&mut rig, 0, Ours, &Spec::new(100).ours(&["-D"]));
    holds_alone(&rig, 1, &[0, 1], VIP, &[&ka, &ours]);
    stop(&mut rig, &ka);
    holds_alone(&rig, 0, &[0, 1], VIP, &[&ka, &ours]);
    let out = ours.output();
    let bow_out = out.find("<- VRRPv3 vrid 7 priority 0 ");
    let takeover = out.rfind("Switching to state: MASTER");
    assert!(
        bow_out.is_some() && takeover.is_some() && bow_out < takeover,
        "ours does not show a takeover after keepalived's bow-out:\n{out}"
    );
    // Said at INFO, without -D too.
    assert!(out.contains("resigned (priority 0): taking over"), "{out}");
}

/// Keepalived (200) is master, ours (100) backup; keepalived crashes (both processes
/// killed, its address left behind as after a power cut, its link cut): ours takes over
/// after the master down interval. Then ours (200, -P) is master over a new keepalived
/// (100) and is killed: keepalived takes over.
#[test]
fn each_takes_over_when_the_other_crashes() {
    let mut rig = rig!(Rig::new(2));
    let ka = start(&mut rig, 1, Ka, &Spec::new(200));
    holds_alone(&rig, 1, &[0, 1], VIP, &[&ka]);
    let Node::Ka(k) = &ka else { unreachable!() };
    assert!(k.wait_log("Entering MASTER STATE", LONG), "{}", k.output());
    let ours = start(&mut rig, 0, Ours, &Spec::new(100));
    holds_alone(&rig, 1, &[0, 1], VIP, &[&ka, &ours]);
    rig.crash_keepalived(k);
    rig.set_carrier(1, false);
    assert!(
        wait_until(LONG, || rig.has_addr(0, VIP)),
        "ours did not take over from a crashed keepalived:\n{}",
        ours.output()
    );
    // The crashed host is back without keepalived: it drops its stale address.
    sh(rig
        .cmd(1, "ip")
        .args(["addr", "del", &format!("{VIP}/32"), "dev", "eth0"]));
    rig.set_carrier(1, true);
    stop(&mut rig, &ours);
    // Stopped without -z, ours leaves the address behind, as ucarp does.
    let _ = rig
        .cmd(0, "ip")
        .args(["addr", "del", &format!("{VIP}/32"), "dev", "eth0"])
        .output();

    let ka = start(&mut rig, 1, Ka, &Spec::new(100));
    let ours = start(&mut rig, 0, Ours, &Spec::new(200));
    holds_alone(&rig, 0, &[0, 1], VIP, &[&ka, &ours]);
    sh(Command::new("kill").args(["-KILL", &ours.proc().pid.to_string()]));
    rig.set_carrier(0, false);
    assert!(
        wait_until(LONG, || rig.has_addr(1, VIP)),
        "keepalived did not take over from crashed ours:\n{}",
        ka.output()
    );
}

/// The exchange every transport test runs, with ours on host 0 and keepalived on host 1,
/// over `vip`: ours (200, -P -z) is master and keepalived, hearing it, stays backup; ours
/// stops and keepalived takes over; ours comes back at 50 and, hearing keepalived, stays
/// backup. Each direction of adverts is thus shown to be accepted.
fn exchange(rig: &mut Rig, ours: Spec, ka: Spec, vip: &str) {
    let ours_spec = ours.clone().vip(vip);
    let k = start(rig, 1, Ka, &ka.vip(vip));
    let o = start(rig, 0, Ours, &ours_spec.clone().ours(&["-z"]));
    holds_alone(rig, 0, &[0, 1], vip, &[&o, &k]);
    stop(rig, &o);
    holds_alone(rig, 1, &[0, 1], vip, &[&o, &k]);
    let mut back = ours_spec;
    back.priority = 50;
    let o2 = start(rig, 0, Ours, &back);
    holds_alone(rig, 1, &[0, 1], vip, &[&o2, &k]);
}

/// IPv6 multicast (ff02::12) with ours sourcing from its link-local address, as RFC 5798
/// §5.1.2.1 says; keepalived uses its own link-local address. tshark checks our frames.
#[test]
fn ipv6_multicast_from_link_local() {
    let mut rig = rig!(Rig::new(2));
    let ll = link_local(&rig, 0);
    link_local(&rig, 1);
    let cap = rig.capture("ip6 proto 112");
    exchange(&mut rig, Spec::new(200).src(&ll), Spec::new(100), VIP6);
    rig.stop_capture(&cap);
    check_our_frames(&cap.pcap, &format!("ipv6.src == {ll}"), true);
}

/// IPv6 multicast with ours sourcing from a global address (2001:db8::1): RFC 5798 wants
/// a link-local source, keepalived 2.2.7 accepts this one too.
#[test]
fn ipv6_multicast_from_global_address() {
    let mut rig = rig!(Rig::new(2));
    rig.add_ipv6(0, "2001:db8::1");
    rig.add_ipv6(1, "2001:db8::2");
    link_local(&rig, 1);
    exchange(
        &mut rig,
        Spec::new(200).src("2001:db8::1"),
        Spec::new(100),
        VIP6,
    );
}

/// IPv4 unicast: ours `--peer`, keepalived `unicast_src_ip`/`unicast_peer`, with
/// multicast VRRP dropped on the bridge.
#[test]
fn ipv4_unicast_peers() {
    let mut rig = rig!(Rig::new(2));
    drop_multicast_vrrp(&rig);
    exchange(
        &mut rig,
        Spec::new(200).src("198.18.0.1").peer("198.18.0.2"),
        Spec::new(100).src("198.18.0.2").peer("198.18.0.1"),
        VIP,
    );
}

/// IPv6 unicast between global addresses, multicast VRRP dropped on the bridge.
#[test]
fn ipv6_unicast_peers() {
    let mut rig = rig!(Rig::new(2));
    rig.add_ipv6(0, "2001:db8::1");
    rig.add_ipv6(1, "2001:db8::2");
    drop_multicast_vrrp(&rig);
    exchange(
        &mut rig,
        Spec::new(200).src("2001:db8::1").peer("2001:db8::2"),
        Spec::new(100).src("2001:db8::2").peer("2001:db8::1"),
        VIP6,
    );
}

/// keepalived 2.2.7 drops an advert whose address list differs from its own, so both
/// ends become master: why ours must be given exactly keepalived's addresses. Shown with
/// ours advertising 198.18.0.100 and 198.18.0.101 to a keepalived configured with the
/// first only.
#[test]
fn keepalived_ignores_an_advert_with_other_addresses() {
    let mut rig = rig!(Rig::new(2));
    let mut spec = Spec::new(200);
    spec.vips.push("198.18.0.101".into());
    let ours = start(&mut rig, 0, Ours, &spec);
    assert!(
        wait_until(LONG, || rig.has_addr(0, VIP)),
        "{}",
        ours.output()
    );
    let ka = start(&mut rig, 1, Ka, &Spec::new(100));
    assert!(
        wait_until(LONG, || rig.has_addr(1, VIP)),
        "keepalived accepted an advert with another address list:\n{}",
        ka.output()
    );
    assert!(
        ka.output().contains("unexpected ip number count"),
        "{}",
        ka.output()
    );
}

/// `--preflight --vrrp` beside a keepalived master: it names the peer with its
/// priority and interval, exits 0, and disturbs nothing; a CARP preflight on the same
/// link lists keepalived as foreign VRRPv3 traffic, with its priority and interval.
#[test]
fn preflight_names_keepalived_with_its_priority_and_interval() {
    let mut rig = rig!(Rig::new(2));
    let ka = start(&mut rig, 1, Ka, &Spec::new(150));
    holds_alone(&rig, 1, &[0, 1], VIP, &[&ka]);
    let (code, text) = rig.preflight(0, &["--vrrp", "--advert-int", INTERVAL]);
    assert_eq!(code, Some(0), "{text}");
    let peer = rig.hosts[1].ip;
    assert!(
        text.contains(&format!(
            "peer {peer}: MASTER, vrid 7, priority 150, interval 0.10 s"
        )),
        "{text}"
    );
    let (code, text) = rig.preflight(0, &["-p", "secret"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("VRRPv3 id 7 (priority 150, interval 0.10 s)"),
        "{text}"
    );
    // Nothing was disturbed: keepalived still holds the address alone.
    holds_alone(&rig, 1, &[0, 1], VIP, &[&ka]);
}
