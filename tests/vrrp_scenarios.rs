//! VRRPv3 mode's election over a simulated wire (docs/PROTOCOL.md §14.4, §14.5), in
//! virtual time: the same machine as CARP's with VRRP's rules, frames through the real
//! VRRP framing and receive checks. Expected instants come from RFC 5798's formulas.

use std::net::Ipv4Addr;
use std::time::Duration;

use proptest::prelude::*;
use ucarp::state::{vrrp_master_down, vrrp_pace, vrrp_skew, Reason, State, VRRP_SUCCESSOR_GRACE};

use crate::sim::{secs, Sim, Spec};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_formulas_are_rfc_5798s() {
    // Priority 100 at 1 s: Skew_Time 156/256 s, Master_Down 3.609375 s.
    assert_eq!(vrrp_skew(100, secs(1.0)), Duration::from_nanos(609_375_000));
    assert_eq!(
        vrrp_master_down(100, secs(1.0)),
        ms(3609) + Duration::from_nanos(375_000)
    );
    assert_eq!(vrrp_skew(254, ms(100)), Duration::from_nanos(781_250));
    // Three adverts per interval, never closer than 10 ms.
    assert_eq!(vrrp_pace(secs(1.0)), Duration::from_nanos(333_333_333));
    assert_eq!(vrrp_pace(ms(20)), ms(10));
    assert_eq!(vrrp_pace(ms(10)), ms(10));
}

#[test]
fn a_lone_node_becomes_master_at_exactly_master_down() {
    for (priority, cs) in [(100u8, 100u16), (254, 10), (1, 50)] {
        let mut sim = Sim::new(1);
        let a = sim.start(Spec::vrrp(1, priority).advert_int(cs));
        sim.run_for(secs(10.0));
        let interval = ms(u64::from(cs) * 10);
        assert_eq!(
            sim.nodes[a].ups(),
            vec![vrrp_master_down(priority, interval)],
            "{priority}/{cs}"
        );
        // It advertises its priority and interval, three times per interval.
        let adverts = sim.nodes[a].vrrp_adverts();
        let (t0, first) = adverts[0];
        assert_eq!(
            (first.vrid, first.priority, first.interval_cs),
            (7, priority, cs)
        );
        assert_eq!(adverts[1].0 - t0, vrrp_pace(interval));
    }
}

#[test]
fn with_p_the_highest_priority_wins_whatever_the_order_of_start() {
    // keepalived's default, and RFC 5798's: preemption.
    for order in [[0usize, 1, 2], [2, 1, 0], [1, 2, 0]] {
        let specs = [
            Spec::vrrp(1, 100).preempt(),
            Spec::vrrp(2, 200).preempt(),
            Spec::vrrp(3, 150).preempt(),
        ];
        let mut sim = Sim::new(3);
        let mut index = [0; 3];
        for &i in &order {
            index[i] = sim.start(specs[i].clone());
            sim.run_for(ms(300));
        }
        sim.run_for(secs(10.0));
        assert_eq!(sim.masters(), vec![index[1]], "{order:?}");
    }
}

#[test]
fn equal_priorities_are_decided_by_the_higher_address_read_big_endian() {
    // CARP's tie-break reads addresses little-endian (10.9.0.2 beats 10.9.1.1); VRRP's
    // reads them as numbers: 198.51.101.1 beats 198.51.100.2. Started together, both
    // time out before hearing each other, and the two masters settle it.
    let low = Ipv4Addr::new(198, 51, 100, 2);
    let high = Ipv4Addr::new(198, 51, 101, 1);
    for (first, second) in [(low, high), (high, low)] {
        let mut sim = Sim::new(4);
        sim.delay = ms(1);
        let a = sim.start(Spec::vrrp(1, 100).ip(first));
        let b = sim.start(Spec::vrrp(2, 100).ip(second));
        sim.run_for(secs(10.0));
        let winner = if first == high { a } else { b };
        assert_eq!(sim.masters(), vec![winner]);
    }
}

#[test]
fn a_backup_learns_the_masters_interval() {
    // The master advertises every 0.5 s; the backup, configured at 2 s, takes over
    // 3 × 0.5 s + its skew after the master's last advert, not 3 × 2 s.
    let mut sim = Sim::cluster(
        &[
            Spec::vrrp(1, 200).advert_int(50),
            Spec::vrrp(2, 100).advert_int(200),
        ],
        secs(10.0),
        5,
    );
    assert_eq!(sim.masters(), vec![0]);
    let last = sim.nodes[0].vrrp_adverts().last().unwrap().0;
    sim.crash(0);
    sim.run_for(secs(10.0));
    let up = *sim.nodes[1].ups().last().unwrap();
    assert_eq!(up, last + vrrp_master_down(100, ms(500)));
    // As master it advertises its own interval.
    let own = sim.nodes[1].vrrp_adverts().last().unwrap().1;
    assert_eq!(own.interval_cs, 200);
}

#[test]
fn a_priority_0_advert_hands_over_make_before_break() {
    let mut sim = Sim::new(6);
    sim.delay = ms(1);
    let a = sim.start(Spec::vrrp(1, 200));
    let b = sim.start(Spec::vrrp(2, 100));
    sim.run_for(secs(8.0));
    assert_eq!(sim.masters(), vec![a]);
    let t = sim.elapsed();
    sim.nodes[a].carp.handle_shutdown(sim.now);
    sim.settle(a);
    sim.run_for(secs(5.0));
    let bow_out = sim.nodes[a]
        .vrrp_adverts()
        .into_iter()
        .find(|(at, _)| *at >= t)
        .unwrap();
    assert_eq!((bow_out.0, bow_out.1.priority), (t, 0));
    // B took over Skew_Time after hearing it (RFC 5798 §6.4.2), not Master_Down.
    let b_up = *sim.nodes[b].ups().last().unwrap();
    assert_eq!(b_up, t + ms(1) + vrrp_skew(100, secs(1.0)));
    // A let the address go VRRP_SUCCESSOR_GRACE after B's first advert arrived (a
    // keepalived successor adds it only after that advert), then exited.
    let b_first = sim.nodes[b].vrrp_adverts()[0].0;
    assert_eq!(
        *sim.nodes[a].downs().last().unwrap(),
        b_first + ms(1) + VRRP_SUCCESSOR_GRACE
    );
    assert!(b_first >= b_up, "the claim follows the up script");
    assert_eq!(sim.masters(), vec![b]);
}

#[test]
fn preemption_follows_p() {
    // Without -P a better node that joins late stays backup; with -P it takes over
    // at once, and the old master steps down on hearing the better priority.
    for preempt in [false, true] {
        let mut sim = Sim::new(7);
        sim.delay = ms(1);
        let a = sim.start(Spec::vrrp(1, 100));
        sim.run_for(secs(5.0));
        let spec = Spec::vrrp(2, 200);
        let b = sim.start(if preempt { spec.preempt() } else { spec });
        sim.run_for(secs(3.0));
        let expect = if preempt { vec![b] } else { vec![a] };
        assert_eq!(sim.masters(), expect, "preempt {preempt}");
        if preempt {
            let t = sim.nodes[a].carp.last_transition().unwrap();
            assert_eq!((t.to, t.reason), (State::Backup, Reason::Preempted));
        }
    }
}

#[test]
fn a_demoted_node_has_priority_1_and_its_master_offers_the_address() {
    let mut sim = Sim::new(8);
    sim.delay = ms(1);
    let a = sim.start(Spec::vrrp(1, 200));
    let b = sim.start(Spec::vrrp(2, 100));
    sim.run_for(secs(8.0));
    assert_eq!(sim.masters(), vec![a]);
    let now = sim.now;
    sim.nodes[a].carp.handle_demote(now);
    sim.settle(a);
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![b]);
    assert_eq!(sim.nodes[a].carp.vrrp_priority(), Some(1));
    // Alone, the demoted node takes the address back, advertising priority 1 and then
    // offering it with priority 0, so that a healthy node that comes takes over.
    sim.crash(b);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![a]);
    let after: Vec<u8> = sim.nodes[a]
        .vrrp_adverts()
        .iter()
        .rev()
        .take(3)
        .map(|(_, ad)| ad.priority)
        .collect();
    assert_eq!(after, [0, 0, 0]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the priorities, intervals and start times, a lossless group settles on
    /// exactly one master, the node with the highest priority (then address).
    #[test]
    fn a_group_settles_on_the_best_node(
        nodes in proptest::collection::vec((1u8..=254, 5u16..=150, 0u64..3000), 2..5),
        seed in any::<u64>(),
    ) {
        // A backup never breaks a tie: equal priorities are decided by start order.
        let mut priorities: Vec<u8> = nodes.iter().map(|n| n.0).collect();
        priorities.sort_unstable();
        priorities.dedup();
        prop_assume!(priorities.len() == nodes.len());
        let mut sim = Sim::new(seed);
        sim.delay = ms(1);
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        order.sort_by_key(|&i| nodes[i].2);
        let mut at = 0;
        let mut index = vec![0; nodes.len()];
        for &i in &order {
            let (priority, cs, start) = nodes[i];
            sim.run_for(ms(start - at));
            at = start;
            index[i] = sim.start(Spec::vrrp(i as u8 + 1, priority).advert_int(cs).preempt());
        }
        sim.run_for(secs(30.0));
        let best = (0..nodes.len()).max_by_key(|&i| (nodes[i].0, i)).unwrap();
        prop_assert_eq!(sim.masters(), vec![index[best]]);
    }
}

/// At 10 % loss a pair paced at three adverts per interval does not flap: the backup
/// needs about nine lost adverts in a row to take over (one advert per interval would
/// flap every two minutes or so at 0.1 s).
#[test]
fn ten_percent_loss_does_not_flap_in_ten_minutes() {
    for seed in 1..=3 {
        let mut sim = Sim::cluster(
            &[
                Spec::vrrp(1, 200).advert_int(10),
                Spec::vrrp(2, 100).advert_int(10),
            ],
            secs(2.0),
            seed,
        );
        assert_eq!(sim.masters(), vec![0]);
        sim.loss = 0.1;
        sim.run_for(secs(600.0));
        assert!(sim.nodes[1].ups().is_empty(), "seed {seed}");
        assert_eq!(sim.masters(), vec![0]);
    }
}

/// One input to a lone VRRP node, for the random walk.
#[derive(Debug, Clone)]
enum Input {
    Wait(Duration),
    Advert { src: u8, priority: u8, cs: u16 },
    Link(bool),
    Demote,
    Health(bool),
    SendFails(bool),
    Shutdown,
}

fn any_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => (0u64..5000).prop_map(|ms| Input::Wait(ms_of(ms))),
        4 => (1u8..=3, any::<u8>(), 1u16..=400)
            .prop_map(|(src, priority, cs)| Input::Advert { src, priority, cs }),
        1 => any::<bool>().prop_map(Input::Link),
        1 => Just(Input::Demote),
        1 => any::<bool>().prop_map(Input::Health),
        1 => any::<bool>().prop_map(Input::SendFails),
        1 => Just(Input::Shutdown),
    ]
}

fn ms_of(n: u64) -> Duration {
    Duration::from_millis(n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever a VRRP node hears (any priority, 0 included, any interval) and
    /// whatever happens to it, it never spins, never goes deaf while its link is up,
    /// never asks for anything after its exit, and only ever advertises its own
    /// priority, 1 (demoted) or 0 (leaving), at its own interval.
    #[test]
    fn random_inputs_never_spin_stall_or_lie(
        priority in 1u8..=254,
        cs in 1u16..=400,
        preempt in any::<bool>(),
        inputs in proptest::collection::vec(any_input(), 1..60),
    ) {
        use ucarp::rx::VrrpReceiver;
        use ucarp::state::{Action, Advertisement, Carp, Config, Protocol, VrrpConfig};
        use ucarp::vrrp::VrrpAdvert;

        let srcip = Ipv4Addr::new(198, 51, 100, 2);
        let cfg = Config {
            iface: "prop0".into(),
            vhid: crate::sim::VHID,
            preempt,
            neutral: false,
            srcip: srcip.into(),
            preempt_delay: Duration::ZERO,
            witness: false,
            protocol: Protocol::Vrrp(VrrpConfig { priority, interval_cs: cs }),
        };
        let rx = VrrpReceiver {
            srcip: srcip.into(),
            vrid: crate::sim::VHID,
            group: ucarp::packet::CARP_MCAST_V4.into(),
            peers: Vec::new(),
            addresses: vec![crate::sim::VADDR.into()],
        };
        #[allow(clippy::disallowed_methods)] // the origin of virtual time
        let mut now = std::time::Instant::now();
        let mut carp = Carp::new(cfg, now, 5).unwrap();
        let (mut link_up, mut fails, mut stopped) = (true, false, false);
        let drain = |carp: &mut Carp, now, fails: bool| -> Result<bool, TestCaseError> {
            let mut exited = false;
            while let Some(a) = carp.poll_action() {
                prop_assert!(!exited, "{:?} after Exit", a);
                match a {
                    Action::SendAdvert { advert, .. } => {
                        let Advertisement::Vrrp(ad) = advert else {
                            return Err(TestCaseError::fail("a CARP advert in VRRP mode"));
                        };
                        prop_assert!(
                            [priority, 1, 0].contains(&ad.priority)
                                || ad.priority == priority.min(16),
                            "advertised {}", ad.priority
                        );
                        prop_assert_eq!(ad.interval_cs, cs);
                        carp.handle_send_result(now, !fails);
                    }
                    Action::Exit => exited = true,
                    _ => {}
                }
            }
            Ok(exited)
        };
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
                Input::Advert { src, priority, cs } => {
                    let advert = VrrpAdvert { vrid: crate::sim::VHID, priority, interval_cs: cs };
                    let f = crate::sim::vrrp_frame_from(Ipv4Addr::new(198, 51, 100, src + 2), advert, 1);
                    let v = rx.accept(&f).unwrap();
                    carp.handle_vrrp_advert(now, &v);
                }
                Input::Link(up) => {
                    link_up = up;
                    carp.handle_link(now, up);
                }
                Input::Demote => carp.handle_demote(now),
                Input::Health(ok) => carp.handle_health(now, ok),
                Input::SendFails(f) => fails = f,
                Input::Shutdown => carp.handle_shutdown(now),
            }
            stopped |= drain(&mut carp, now, fails)?;
            if stopped {
                prop_assert_eq!(carp.poll_timeout(), None);
            } else if link_up {
                prop_assert!(carp.poll_timeout().is_some(), "deaf in {}", carp.state());
            }
        }
    }
}
