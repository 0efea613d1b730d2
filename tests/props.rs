//! Property tests of the wire format, the receive checks and the state machine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use pnet_base::MacAddr;
use proptest::prelude::*;
use ucarp::arp::GarpFrame;
use ucarp::auth::Key;
use ucarp::frame::{multicast_mac6, Advert6Frame, AdvertFrame};
use ucarp::ndp::UnsolicitedNa;
use ucarp::packet::{Advert, CarpPacket, CARP_MCAST_V4, CARP_MCAST_V6};
use ucarp::rx::Receiver;
use ucarp::state::{Carp, CarpConfig, Config, Protocol, State};

use crate::sim::{frame_from, signed_advert, Sim, Spec, PASSWORD, VADDR, VHID};

/// A block's case count, divided by `UCARP_PROPTEST_DIVISOR` (default 1): scripts/test-cross
/// scales the counts down under emulation and prints the counts it used.
fn cases(full: u32) -> u32 {
    let divisor = std::env::var("UCARP_PROPTEST_DIVISOR")
        .ok()
        .and_then(|d| d.parse::<u32>().ok())
        .filter(|&d| d > 0)
        .unwrap_or(1);
    (full / divisor).max(1)
}

fn any_advert() -> impl Strategy<Value = Advert> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u64>(),
        any::<[u8; 20]>(),
    )
        .prop_map(|(vhid, advbase, advskew, counter, md)| Advert {
            vhid,
            advbase,
            advskew,
            counter,
            md,
        })
}

fn any_mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(|m| MacAddr(m[0], m[1], m[2], m[3], m[4], m[5]))
}

fn any_ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn receiver() -> Receiver {
    Receiver {
        srcip: Ipv4Addr::new(198, 51, 100, 2).into(),
        vhid: VHID,
        group: CARP_MCAST_V4.into(),
        peers: Vec::new(),
        signer: Key::new(PASSWORD).unwrap().signer(VHID, &[VADDR.into()]),
    }
}

fn any_ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

const VADDR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

fn receiver6() -> Receiver {
    Receiver {
        srcip: "2001:db8::2".parse().unwrap(),
        vhid: VHID,
        group: CARP_MCAST_V6.into(),
        peers: Vec::new(),
        signer: Key::new(PASSWORD)
            .unwrap()
            .signer(VHID, &[IpAddr::from(VADDR6)]),
    }
}

/// An IPv6 frame that `receiver6()` accepts.
fn valid_frame6(advskew: u8, counter: u64) -> Vec<u8> {
    let mut advert = Advert {
        vhid: VHID,
        advbase: 1,
        advskew,
        counter,
        md: [0; 20],
    };
    advert.md = receiver6()
        .signer
        .sign(&advert.signed_fields(), &counter.to_be_bytes());
    let mut buf = vec![0u8; Advert6Frame::LEN];
    Advert6Frame {
        dst_mac: multicast_mac6(CARP_MCAST_V6),
        src_mac: MacAddr(0, 0, 0x5e, 0, 0, VHID),
        src: "2001:db8::1".parse().unwrap(),
        dst: CARP_MCAST_V6,
        advert,
    }
    .emit(&mut buf);
    buf
}

/// A frame that `receiver()` accepts.
fn valid_frame(advbase: u8, advskew: u8, counter: u64, ip_id: u16) -> Vec<u8> {
    frame_from(
        Ipv4Addr::new(198, 51, 100, 1),
        signed_advert(advbase, advskew, counter),
        ip_id,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(2000)))]

    #[test]
    fn advert_emit_then_parse_is_identity(advert in any_advert()) {
        let mut buf = [0xa5u8; Advert::LEN];
        advert.emit(&mut CarpPacket::new_unchecked(&mut buf[..]));
        let parsed = Advert::parse(&CarpPacket::new_checked(&buf[..]).unwrap());
        prop_assert_eq!(parsed, Ok(advert));
    }

    #[test]
    fn frame_emit_then_parse_is_identity(
        advert in any_advert(),
        dst_mac in any_mac(),
        src_mac in any_mac(),
        src in any_ipv4(),
        dst in any_ipv4(),
        ip_id in any::<u16>(),
    ) {
        let f = AdvertFrame { dst_mac, src_mac, src, dst, ip_id, advert };
        let mut buf = [0xa5u8; AdvertFrame::LEN];
        prop_assert_eq!(f.emit(&mut buf), AdvertFrame::LEN);
        prop_assert_eq!(AdvertFrame::parse(&buf), Ok(f));
    }

    #[test]
    fn ipv6_frame_emit_then_parse_is_identity(
        advert in any_advert(),
        dst_mac in any_mac(),
        src_mac in any_mac(),
        src in any_ipv6(),
        dst in any_ipv6(),
    ) {
        let f = Advert6Frame { dst_mac, src_mac, src, dst, advert };
        let mut buf = [0xa5u8; Advert6Frame::LEN];
        prop_assert_eq!(f.emit(&mut buf), Advert6Frame::LEN);
        prop_assert_eq!(Advert6Frame::parse(&buf), Ok(f));
    }

    #[test]
    fn na_emit_then_parse_is_identity(mac in any_mac(), vaddr in any_ipv6()) {
        let na = UnsolicitedNa { mac, vaddr };
        let mut buf = [0xa5u8; UnsolicitedNa::LEN];
        na.emit(&mut buf);
        prop_assert_eq!(UnsolicitedNa::parse(&buf), Some(na));
    }

    /// Over IPv6 the checks cover the Ethernet type, the IPv6 version, next header, hop
    /// limit and destination, and the checksum and digest cover the CARP header: a
    /// flipped bit there is rejected. Traffic class, flow label, a longer payload length
    /// (as IPv4's total length in ucarp) and the source address are not checked: IPv6
    /// has no header checksum (the Ethernet FCS guards them).
    #[test]
    fn ipv6_a_flipped_bit_is_rejected(
        counter in any::<u64>(),
        advskew in any::<u8>(),
        bit in prop_oneof![
            (12usize * 8)..(14 * 8),     // Ethernet type
            (14usize * 8 + 4)..(15 * 8), // IPv6 version
            (20usize * 8)..(22 * 8),     // next header, hop limit
            (38usize * 8)..(90 * 8),     // destination, CARP header
        ],
    ) {
        let mut f = valid_frame6(advskew, counter);
        prop_assert!(receiver6().accept(&f).is_ok());
        f[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(receiver6().accept(&f).is_err(), "bit {} accepted", bit);
    }

    #[test]
    fn garp_emit_then_parse_is_identity(mac in any_mac(), vaddr in any_ipv4()) {
        let g = GarpFrame { mac, vaddr };
        let mut buf = [0xa5u8; GarpFrame::LEN];
        g.emit(&mut buf);
        prop_assert_eq!(GarpFrame::parse(&buf), Some(g));
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Advert::parse(&CarpPacket::new_unchecked(&bytes[..]));
        let _ = CarpPacket::new_checked(&bytes[..]);
        let _ = AdvertFrame::parse(&bytes);
        let _ = GarpFrame::parse(&bytes);
        let _ = receiver().accept(&bytes);
        let _ = Advert6Frame::parse(&bytes);
        let _ = UnsolicitedNa::parse(&bytes);
        let _ = receiver6().accept(&bytes);
    }

    /// Arbitrary bytes behind a plausible Ethernet + IPv4 + CARP prefix, so the later
    /// checks (IHL, TTL, version, lengths) see hostile values too.
    #[test]
    fn hostile_frames_with_a_carp_prefix_never_panic(
        ihl_and_tail in proptest::collection::vec(any::<u8>(), 0..120),
        ihl in 0u8..16,
    ) {
        let mut f = valid_frame(1, 0, 1, 1);
        f.truncate(14);
        f.push(0x40 | ihl);
        f.extend_from_slice(&[0x10, 0, 56, 0, 1, 0x40, 0, 255, 112, 0, 0, 198, 51, 100, 1, 224, 0, 0, 18]);
        f.extend_from_slice(&ihl_and_tail);
        let _ = AdvertFrame::parse(&f);
        let _ = receiver().accept(&f);
    }

    /// Any single flipped bit from the Ethernet type on is rejected: every such byte is
    /// covered by a check or by the combined checksum (docs/PROTOCOL.md §4.3).
    #[test]
    fn a_flipped_bit_is_rejected(
        counter in any::<u64>(),
        advskew in any::<u8>(),
        ip_id in any::<u16>(),
        bit in (12 * 8)..(AdvertFrame::LEN * 8),
    ) {
        let mut f = valid_frame(1, advskew, counter, ip_id);
        prop_assert!(receiver().accept(&f).is_ok());
        f[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(receiver().accept(&f).is_err(), "bit {} accepted", bit);
    }

    /// The Ethernet addresses are the exception, as in ucarp: they are not checked, so a
    /// `-M` node and a multicast node interoperate.
    #[test]
    fn a_flipped_mac_bit_is_accepted(counter in any::<u64>(), bit in 0usize..(12 * 8)) {
        let mut f = valid_frame(1, 0, counter, 9);
        f[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(receiver().accept(&f).is_ok());
    }
}

/// One input to a lone node, for the random-walk property.
#[derive(Debug, Clone)]
enum Input {
    Wait(Duration),
    Advert { src: u8, advbase: u8, advskew: u8 },
    Link(bool),
    Demote,
    Status,
    SendFails(bool),
    Shutdown,
}

fn any_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => (0u64..5000).prop_map(|ms| Input::Wait(Duration::from_millis(ms))),
        4 => (1u8..=3, any::<u8>(), any::<u8>())
            .prop_map(|(src, advbase, advskew)| Input::Advert { src, advbase, advskew }),
        1 => any::<bool>().prop_map(Input::Link),
        1 => Just(Input::Demote),
        1 => Just(Input::Status),
        1 => any::<bool>().prop_map(Input::SendFails),
        1 => Just(Input::Shutdown),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(500)))]

    /// Whatever happens, the machine never spins and never goes deaf: after handling a
    /// due timeout the next deadline is in the future, and with the link up there is
    /// always a deadline (advert or master-down), except after a 255/255 advert.
    #[test]
    fn random_inputs_never_spin_or_stall(
        advbase in 0u8..4,
        advskew in any::<u8>(),
        preempt in any::<bool>(),
        inputs in proptest::collection::vec(any_input(), 1..60),
    ) {
        prop_assume!(advbase > 0 || advskew > 0);
        let key = Key::new(PASSWORD).unwrap();
        let srcip = Ipv4Addr::new(198, 51, 100, 2);
        let cfg = Config {
            iface: "prop0".into(),
            vhid: VHID,
            preempt,
            neutral: false,
            srcip: srcip.into(),
            preempt_delay: std::time::Duration::ZERO,
            witness: false,
            protocol: Protocol::Carp(CarpConfig {
                advbase,
                advskew,
                deadratio: 3,
                signer: key.signer(VHID, &[VADDR.into()]),
                sequential_counters: false,
            }),
        };
        let rx = Receiver {
            srcip: srcip.into(),
            vhid: VHID,
            group: CARP_MCAST_V4.into(),
            peers: Vec::new(),
            signer: key.signer(VHID, &[VADDR.into()]),
        };
        #[allow(clippy::disallowed_methods)] // the origin of virtual time
        let mut now = std::time::Instant::now();
        let mut carp = Carp::new(cfg, now, 5).unwrap();
        let mut link_up = true;
        let mut fails = false;
        let mut stopped = false;
        let mut counter = 0;
        for input in inputs {
            match input {
                Input::Wait(d) => {
                    let until = now + d;
                    while let Some(t) = carp.poll_timeout().filter(|t| *t <= until) {
                        prop_assert!(t >= now);
                        now = t;
                        carp.handle_timeout(now);
                        prop_assert!(carp.poll_timeout().is_none_or(|n| n > now), "spin");
                        stopped |= drain(&mut carp, now, fails)?;
                    }
                    now = until;
                }
                Input::Advert { src, advbase, advskew } => {
                    counter += 1;
                    let f = frame_from(Ipv4Addr::new(198, 51, 100, src + 2), signed_advert(advbase, advskew, counter), 1);
                    let v = rx.accept(&f).unwrap();
                    carp.handle_advert(now, &v);
                }
                Input::Link(up) => {
                    link_up = up;
                    carp.handle_link(now, up);
                }
                Input::Demote => carp.handle_demote(now),
                Input::Status => carp.handle_status(now),
                Input::SendFails(f) => fails = f,
                Input::Shutdown => carp.handle_shutdown(now),
            }
            stopped |= drain(&mut carp, now, fails)?;
            let own_bow_out = advbase == 255 && advskew == 255;
            if stopped {
                prop_assert_eq!(carp.poll_timeout(), None);
            } else if link_up && !own_bow_out {
                prop_assert!(carp.poll_timeout().is_some(), "deaf in {}", carp.state());
            }
            if !link_up && !stopped {
                if carp.state() == State::Backup {
                    prop_assert_eq!(carp.poll_timeout(), None);
                } else {
                    // A master in its carrier grace (docs/PROTOCOL.md §5.6.1): one
                    // deadline, its end, at the latest.
                    prop_assert_eq!(carp.state(), State::Master);
                    prop_assert!(carp.poll_timeout().is_some(), "no end to the grace");
                }
            }
        }
    }

    /// Random clusters converge to exactly one master and stay there.
    #[test]
    fn random_clusters_converge_to_one_master(
        skews in proptest::collection::vec(any::<u8>(), 2..=5),
        advbase in 1u8..=3,
        delay_ms in 0u64..50,
        preempt in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut sim = Sim::new(seed);
        sim.delay = Duration::from_millis(delay_ms);
        for (i, skew) in skews.iter().enumerate() {
            let mut spec = Spec::host(i as u8 + 1).skew(*skew).base(advbase);
            if preempt {
                spec = spec.preempt();
            }
            sim.start(spec);
        }
        sim.run_for(Duration::from_secs(60));
        prop_assert_eq!(sim.masters().len(), 1);
        let master = sim.masters()[0];
        let before: Vec<usize> = sim.nodes.iter().map(|n| n.ups().len()).collect();
        sim.run_for(Duration::from_secs(60));
        prop_assert_eq!(sim.masters(), vec![master]);
        let after: Vec<usize> = sim.nodes.iter().map(|n| n.ups().len()).collect();
        prop_assert_eq!(before, after, "mastership moved after convergence");
    }
}

/// Carries out a node's actions; returns whether it exited. Nothing may follow Exit.
fn drain(
    carp: &mut Carp,
    now: std::time::Instant,
    fails: bool,
) -> Result<bool, proptest::test_runner::TestCaseError> {
    let mut exited = false;
    while let Some(a) = carp.poll_action() {
        prop_assert!(!exited, "{:?} after Exit", a);
        match a {
            ucarp::state::Action::SendAdvert { .. } => carp.handle_send_result(now, !fails),
            ucarp::state::Action::Exit => exited = true,
            _ => {}
        }
    }
    Ok(exited)
}

/// One edit of a valid frame.
#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Flip(usize, u8),
    Truncate(usize),
    Extend(Vec<u8>),
    Ihl(u8),
    Ttl(u8),
    Version(u8),
}

fn any_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0usize..120, any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (0usize..120, 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (0usize..90).prop_map(Mutation::Truncate),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Mutation::Extend),
        (0u8..16).prop_map(Mutation::Ihl),
        any::<u8>().prop_map(Mutation::Ttl),
        (0u8..16).prop_map(Mutation::Version),
    ]
}

fn mutate(mut f: Vec<u8>, edits: &[Mutation]) -> Vec<u8> {
    for m in edits {
        match m {
            Mutation::Set(i, b) => {
                if let Some(x) = f.get_mut(*i) {
                    *x = *b;
                }
            }
            Mutation::Flip(i, bit) => {
                if let Some(x) = f.get_mut(*i) {
                    *x ^= 1 << bit;
                }
            }
            Mutation::Truncate(n) => f.truncate(*n),
            Mutation::Extend(tail) => f.extend_from_slice(tail),
            Mutation::Ihl(v) => {
                if let Some(x) = f.get_mut(14) {
                    *x = (*x & 0xf0) | v;
                }
            }
            Mutation::Ttl(v) => {
                if let Some(x) = f.get_mut(22) {
                    *x = *v;
                }
            }
            Mutation::Version(v) => {
                if let Some(x) = f.get_mut(34) {
                    *x = (*x & 0x0f) | (v << 4);
                }
            }
        }
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(100_000)))]

    /// 100 000 generated frames — valid adverts edited in every way a hostile LAN can
    /// manage — through the whole receive path: no panic, and a frame either passes
    /// every check or is rejected; never anything else.
    #[test]
    fn the_receive_path_survives_100k_hostile_frames(
        counter in any::<u64>(),
        advbase in any::<u8>(),
        advskew in any::<u8>(),
        edits in proptest::collection::vec(any_mutation(), 0..6),
    ) {
        thread_local! {
            static GUARD: std::cell::RefCell<ucarp::replay::ReplayGuard> =
                std::cell::RefCell::new(ucarp::replay::ReplayGuard::new(64));
        }
        let f = mutate(valid_frame(advbase, advskew, counter, 7), &edits);
        let _ = AdvertFrame::parse(&f);
        let _ = GarpFrame::parse(&f);
        if let Ok(v) = receiver().accept(&f) {
            prop_assert_eq!(v.advert().vhid, VHID);
            GUARD.with(|g| {
                let _ = g.borrow_mut().check(v.src(), v.advert().counter);
            });
        }
    }
}
