//! Behaviour of the state machine over a simulated wire (docs/PROTOCOL.md §5), in virtual time.
//! Expected instants are derived from the configuration, never from measurement.

use std::net::Ipv4Addr;
use std::time::Duration;

use ucarp::event::Event;
use ucarp::state::{
    advert_interval, bow_out_delay, carrier_grace, handover_bound, master_down_interval,
    step_down_grace, witness_release_after, Action, Reason, State,
};

use crate::sim::{frame_from, secs, signed_advert, Did, Sim, Spec};

#[test]
fn startup_runs_downscript_and_sends_nothing() {
    let mut sim = Sim::new(1);
    let a = sim.start(Spec::host(1));
    let n = &sim.nodes[a];
    assert_eq!(n.state(), State::Backup);
    assert!(matches!(
        n.did.as_slice(),
        [(_, Did::Log(Event::StateChange(t))), (_, Did::Down(_))]
            if t.reason == Reason::Startup && t.from == State::Init
    ));
    sim.run_for(secs(2.9));
    assert!(sim.nodes[a].adverts().is_empty());
}

#[test]
fn neutral_skips_only_the_startup_downscript() {
    let mut sim = Sim::new(1);
    let a = sim.start(Spec::host(1).neutral());
    assert!(sim.nodes[a].downs().is_empty());
    sim.run_for(secs(4.0));
    assert_eq!(sim.nodes[a].state(), State::Master);
    sim.nodes[a].carp.handle_link(sim.now, false);
    sim.run_for(secs(2.0)); // past the carrier grace
    assert_eq!(sim.nodes[a].downs().len(), 1);
}

#[test]
fn lone_node_becomes_master_at_exactly_master_down() {
    for skew in [0u8, 50, 200] {
        let mut sim = Sim::new(2);
        let a = sim.start(Spec::host(1).skew(skew));
        sim.run_for(secs(10.0));
        assert_eq!(sim.nodes[a].ups(), vec![master_down_interval(1, skew, 3)]);
    }
}

#[test]
fn takeover_order_up_garp_advert_then_garp_with_third_advert() {
    let mut sim = Sim::new(3);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(6.5));
    let seq: Vec<&Did> = sim.nodes[a]
        .did
        .iter()
        .skip_while(|(_, d)| !matches!(d, Did::Up(_)))
        .map(|(_, d)| d)
        .filter(|d| !matches!(d, Did::Log(_)))
        .collect();
    assert!(
        matches!(
            seq.as_slice(),
            [
                Did::Up(_),
                Did::Garp,
                Did::Advert(_),
                Did::Advert(_),
                Did::Advert(_),
                Did::Garp,
                Did::Advert(_)
            ]
        ),
        "{seq:?}"
    );
    // Adverts one interval apart, from the takeover on.
    let times: Vec<Duration> = sim.nodes[a].adverts().iter().map(|(t, _)| *t).collect();
    for w in times.windows(2) {
        assert_eq!(w[1] - w[0], advert_interval(1, 0));
    }
}

#[test]
fn one_master_after_convergence_for_two_to_five_nodes() {
    for n in 2..=5u8 {
        for seed in 0..5 {
            let specs: Vec<Spec> = (1..=n).map(|i| Spec::host(i).skew(10 * i)).collect();
            let mut sim = Sim::cluster(&specs, secs(30.0), seed);
            sim.delay = Duration::from_millis(1);
            sim.run_for(secs(30.0));
            assert_eq!(sim.masters(), vec![0], "n={n} seed={seed}");
            // The lowest skew timed out first and nobody else ever held the address.
            for other in 1..usize::from(n) {
                assert!(sim.nodes[other].ups().is_empty());
            }
        }
    }
}

#[test]
fn equal_intervals_are_decided_by_the_little_endian_tie_break() {
    // 10.9.1.1 beats 10.9.0.2: the last octet counts most (docs/PROTOCOL.md §5.4).
    let winner = Ipv4Addr::new(10, 9, 1, 1);
    let loser = Ipv4Addr::new(10, 9, 0, 2);
    for (first, second) in [(winner, loser), (loser, winner)] {
        let mut sim = Sim::new(4);
        // A 1 ms wire: both time out at 3 s before hearing each other, so both are
        // master for a moment and the tie-break must settle it.
        sim.delay = Duration::from_millis(1);
        sim.start(Spec::host(1).ip(first));
        sim.start(Spec::host(2).ip(second));
        sim.run_for(secs(3.0005));
        assert_eq!(sim.masters().len(), 2);
        sim.run_for(secs(10.0));
        let masters: Vec<Ipv4Addr> = sim
            .masters()
            .iter()
            .map(|&i| sim.nodes[i].spec.srcip)
            .collect();
        assert_eq!(masters, vec![winner]);
        // The loser stepped down once, after one extra advert; the winner never did.
        let l = sim
            .nodes
            .iter()
            .position(|n| n.spec.srcip == loser)
            .unwrap();
        let w = sim
            .nodes
            .iter()
            .position(|n| n.spec.srcip == winner)
            .unwrap();
        assert_eq!(sim.nodes[l].downs().len(), 2); // startup + stepping down
        assert_eq!(sim.nodes[w].downs().len(), 1); // startup only
        assert!(sim.nodes[w].did.iter().any(|(_, d)| matches!(
            d,
            Did::Log(Event::NonPreferredMaster { peer }) if *peer == loser
        )));
    }
}

#[test]
fn five_equal_nodes_settle_on_the_smallest_little_endian_address() {
    let ips = [
        Ipv4Addr::new(198, 18, 0, 9),
        Ipv4Addr::new(198, 18, 3, 2),
        Ipv4Addr::new(198, 18, 1, 2),
        Ipv4Addr::new(198, 19, 0, 4),
        Ipv4Addr::new(198, 18, 0, 2),
    ];
    let mut sim = Sim::new(5);
    sim.delay = Duration::from_millis(2);
    for (i, ip) in ips.iter().enumerate() {
        sim.start(Spec::host(i as u8 + 1).ip(*ip));
    }
    sim.run_for(secs(20.0));
    let best = ips
        .iter()
        .min_by_key(|ip| u32::from_le_bytes(ip.octets()))
        .unwrap();
    assert_eq!(*best, Ipv4Addr::new(198, 18, 0, 2));
    let masters: Vec<Ipv4Addr> = sim
        .masters()
        .iter()
        .map(|&i| sim.nodes[i].spec.srcip)
        .collect();
    assert_eq!(masters, vec![*best]);
}

#[test]
fn backup_takes_over_at_exactly_the_deadline_after_the_last_advert() {
    for (skew, delay_ms) in [(50u8, 0u64), (1, 3), (200, 10)] {
        let mut sim = Sim::new(6);
        sim.delay = Duration::from_millis(delay_ms);
        let a = sim.start(Spec::host(1));
        sim.run_for(secs(1.0));
        let b = sim.start(Spec::host(2).skew(skew));
        sim.run_for(secs(10.0));
        assert_eq!(sim.masters(), vec![a]);
        sim.crash(a);
        let last_sent = sim.nodes[a].adverts().last().unwrap().0;
        sim.run_for(secs(10.0));
        let heard = last_sent + Duration::from_millis(delay_ms);
        assert_eq!(
            sim.nodes[b].ups(),
            vec![heard + master_down_interval(1, skew, 3)],
            "skew {skew}"
        );
    }
}

#[test]
fn preemption_returns_mastership_to_the_lower_skew() {
    let mut sim = Sim::new(7);
    sim.delay = Duration::from_millis(1);
    let b = sim.start(Spec::host(2).skew(100));
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![b]);
    let a = sim.start(Spec::host(1).preempt());
    sim.run_for(secs(2.0));
    assert_eq!(sim.masters(), vec![a]);
    // A preempted on the first advert it heard from B, long before its own dead time.
    let a_up = sim.nodes[a].ups()[0];
    let b_advert_heard = sim.nodes[b]
        .adverts()
        .iter()
        .map(|(t, _)| *t + Duration::from_millis(1))
        .find(|t| *t >= secs(10.0))
        .unwrap();
    assert_eq!(a_up, b_advert_heard);
    let up = sim.nodes[a].did.iter().find_map(|(_, d)| match d {
        Did::Up(t) => Some(*t),
        _ => None,
    });
    assert_eq!(up.unwrap().reason, Reason::Preempt);
    assert_eq!(up.unwrap().peer, Some(sim.nodes[b].spec.srcip.into()));
    // B sent one more advert right before stepping down (docs/PROTOCOL.md §5.4).
    let tail: Vec<&Did> = sim.nodes[b]
        .did
        .iter()
        .map(|(_, d)| d)
        .filter(|d| !matches!(d, Did::Log(_)))
        .collect();
    let down_at = tail
        .iter()
        .rposition(|d| matches!(d, Did::Down(t) if t.reason == Reason::Preempted))
        .unwrap();
    assert!(matches!(tail[down_at - 1], Did::Advert(_)));
}

#[test]
fn without_preempt_a_better_backup_waits() {
    let mut sim = Sim::new(8);
    let b = sim.start(Spec::host(2).skew(100));
    sim.run_for(secs(10.0));
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(60.0));
    assert_eq!(sim.masters(), vec![b]);
    assert!(sim.nodes[a].ups().is_empty());
    sim.crash(b);
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
}

/// A bow-out makes a backup take over after its own short wait (`bow_out_delay`), not
/// after its dead time; a repeated bow-out does not push the takeover back.
#[test]
fn bow_out_advert_hands_over_after_the_skew_wait() {
    let mut sim = Sim::new(9);
    let a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(10.25));
    assert_eq!(sim.masters(), vec![a]);
    sim.crash(a);
    // What an OpenBSD master (and ours) sends when it leaves: 255/255.
    let bow_out = signed_advert(255, 255, 42);
    sim.inject(frame_from(sim.nodes[a].spec.srcip, bow_out, 1));
    let t = sim.elapsed();
    sim.run_for(secs(0.5));
    sim.inject(frame_from(
        sim.nodes[a].spec.srcip,
        signed_advert(255, 255, 43),
        2,
    ));
    sim.run_for(secs(2.0));
    assert_eq!(
        bow_out_delay(1, 50),
        secs(1.25) + Duration::from_micros(195_312)
    );
    assert_eq!(sim.nodes[b].ups(), vec![t + bow_out_delay(1, 50)]);
    let reason = sim.nodes[b].did.iter().find_map(|(_, d)| match d {
        Did::Up(t) => Some(t.reason),
        _ => None,
    });
    assert_eq!(reason, Some(Reason::BowOut));
}

#[test]
fn own_255_255_interval_sends_once_and_never_spins() {
    let mut sim = Sim::new(10);
    let a = sim.start(Spec::host(1).base(255).skew(255));
    // Master down after 255 × 3 s + 255/256 s; then one advert and no re-arm.
    sim.run_for(secs(800.0));
    assert_eq!(sim.nodes[a].state(), State::Master);
    assert_eq!(sim.nodes[a].adverts().len(), 1);
    assert_eq!(sim.nodes[a].carp.poll_timeout(), None);
}

#[test]
fn counters_are_random_until_synchronised_then_adopted_plus_one() {
    let mut sim = Sim::new(11);
    sim.delay = Duration::from_millis(1);
    let b = sim.start(Spec::host(2).skew(100));
    sim.run_for(secs(10.0));
    let lone: Vec<u64> = sim.nodes[b]
        .adverts()
        .iter()
        .map(|(_, a)| a.counter)
        .collect();
    assert!(lone.len() >= 5);
    assert!(lone.windows(2).all(|w| w[1] != w[0].wrapping_add(1)));
    let a = sim.start(Spec::host(1).preempt());
    sim.run_for(secs(5.0));
    let b_ads = sim.nodes[b].adverts();
    let a_ads = sim.nodes[a].adverts();
    // A heard B's advert at 10.x s, adopted its counter and sent counter + 1.
    let heard = b_ads.iter().find(|(t, _)| *t >= secs(10.0)).unwrap().1;
    assert_eq!(a_ads[0].1.counter, heard.counter + 1);
    // B heard A's and sent its extra step-down advert with A's + 1.
    let b_extra = b_ads.last().unwrap().1;
    assert_eq!(b_extra.counter, a_ads[0].1.counter + 1);
    // From then on A counts up by one, whatever B sent last.
    assert!(a_ads
        .windows(2)
        .skip(1)
        .all(|w| w[1].1.counter == w[0].1.counter + 1));
}

#[test]
fn counter_wraps_at_the_top() {
    let mut sim = Sim::new(12);
    let a = sim.start(Spec::host(1).preempt());
    // A worse master whose counter is at the top: A preempts and wraps to 0.
    let peer = Ipv4Addr::new(198, 51, 100, 9);
    sim.inject(frame_from(peer, signed_advert(1, 100, u64::MAX), 7));
    sim.run_for(secs(0.5));
    assert_eq!(sim.nodes[a].adverts()[0].1.counter, 0);
}

#[test]
fn master_hearing_a_worse_master_reasserts_with_two_garps() {
    let mut sim = Sim::new(13);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(5.5));
    let peer = Ipv4Addr::new(198, 51, 100, 9);
    sim.inject(frame_from(peer, signed_advert(1, 100, 5), 9));
    sim.run_for(secs(3.1));
    let after: Vec<&Did> = sim.nodes[a]
        .did
        .iter()
        .filter(|(t, _)| *t >= secs(5.5))
        .map(|(_, d)| d)
        .filter(|d| !matches!(d, Did::Log(_) | Did::Heard(_)))
        .collect();
    // GARP at once, then the delayed one with the second advert after it.
    assert!(
        matches!(
            after.as_slice(),
            [
                Did::Garp,
                Did::Advert(_),
                Did::Advert(_),
                Did::Garp,
                Did::Advert(_)
            ]
        ),
        "{after:?}"
    );
    assert_eq!(sim.nodes[a].state(), State::Master);
}

#[test]
fn three_send_failures_suppress_preemption_and_three_successes_lift_it() {
    let mut sim = Sim::new(14);
    let a = sim.start(Spec::host(1).skew(10));
    sim.run_for(secs(3.5));
    assert_eq!(sim.nodes[a].state(), State::Master);
    sim.nodes[a].send_fails = true;
    sim.run_for(secs(3.5));
    assert_eq!(
        logged(&sim, a, |e| matches!(e, Event::SendErrors { .. })),
        1
    );
    let ads = sim.nodes[a].adverts();
    // The third failure sends one more advert at once, already with advskew 240.
    let (t3, third) = ads[ads.len() - 2];
    let (t4, extra) = ads[ads.len() - 1];
    assert_eq!(third.advskew, 10);
    assert_eq!(extra.advskew, 240);
    assert_eq!(t3, t4);
    sim.nodes[a].send_fails = false;
    sim.run_for(secs(10.0));
    assert_eq!(
        logged(&sim, a, |e| matches!(e, Event::SendRecovered { .. })),
        1
    );
    assert_eq!(sim.nodes[a].adverts().last().unwrap().1.advskew, 10);
}

#[test]
fn suppressed_preemption_lets_a_healthy_backup_win() {
    let mut sim = Sim::new(15);
    let a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(100).preempt());
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
    // A's sends "fail" but still reach the wire (e.g. a flaky driver that reports
    // errors): once suppressed it advertises 240, which B with -P preempts.
    sim.nodes[a].send_fails = true;
    sim.run_for(secs(4.0));
    assert_eq!(sim.masters(), vec![b]);
}

#[test]
fn link_down_forces_backup_after_the_carrier_grace_and_link_up_restarts_the_election() {
    let mut sim = Sim::new(16);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(4.0));
    assert_eq!(sim.nodes[a].state(), State::Master);
    let down = sim.now;
    let grace = carrier_grace(1, 0, 3);
    assert_eq!(grace, secs(1.9));
    sim.nodes[a].carp.handle_link(down, false);
    sim.settle(a);
    // docs/PROTOCOL.md §5.6.1: the address stays for the grace, without adverts.
    assert_eq!(sim.nodes[a].state(), State::Master);
    assert_eq!(sim.nodes[a].carp.poll_timeout(), Some(down + grace));
    let sent = sim.nodes[a].adverts().len();
    sim.run_for(secs(2.0));
    assert_eq!(sim.nodes[a].state(), State::Backup);
    assert_eq!(
        sim.nodes[a].downs().last().copied(),
        Some(down - sim.t0 + grace)
    );
    assert_eq!(sim.nodes[a].carp.poll_timeout(), None);
    sim.run_for(secs(20.0));
    assert_eq!(sim.nodes[a].adverts().len(), sent);
    let up = sim.now;
    sim.nodes[a].carp.handle_link(up, true);
    sim.settle(a);
    sim.run_for(secs(5.0));
    assert_eq!(
        sim.nodes[a].ups().last().copied(),
        Some(up - sim.t0 + master_down_interval(1, 0, 3))
    );
}

/// A carrier flap shorter than the grace (a switch port renegotiating, a cable
/// reseated) moves nothing: the master advertises and sends a gratuitous ARP as soon as
/// the carrier is back, before any backup's dead time, and no script runs anywhere.
#[test]
fn a_carrier_flap_within_the_grace_keeps_the_address_where_it_is() {
    for away in [secs(0.05), secs(1.0), secs(1.85)] {
        let mut sim = Sim::new(61);
        let a = sim.start(Spec::host(1));
        let b = sim.start(Spec::host(2).skew(50));
        sim.run_for(secs(6.0));
        assert_eq!(sim.masters(), vec![a]);
        let (ups, downs) = (sim.nodes[a].ups().len(), sim.nodes[a].downs().len());
        let announced = garps(&sim, a);
        sim.nodes[a].carp.handle_link(sim.now, false);
        sim.settle(a);
        sim.run_for(away);
        sim.nodes[a].carp.handle_link(sim.now, true);
        sim.settle(a);
        assert_eq!(garps(&sim, a), announced + 1, "announced at once");
        assert_eq!(logged(&sim, a, |e| matches!(e, Event::LinkBackInTime)), 1);
        sim.run_for(secs(20.0));
        assert_eq!(sim.masters(), vec![a], "away {away:?}");
        assert!(sim.nodes[b].ups().is_empty(), "away {away:?}");
        assert_eq!(sim.nodes[a].ups().len(), ups);
        assert_eq!(sim.nodes[a].downs().len(), downs);
    }
}

/// A carrier away for longer than the grace: the master releases the address at the end
/// of the grace, before the backup takes over at its dead time, so there is never a
/// moment with two masters; back, it finds the backup master and stays a backup.
#[test]
fn a_carrier_away_past_the_grace_releases_before_the_backup_takes_over() {
    let mut sim = Sim::new(62);
    let a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(6.0));
    let down = sim.elapsed();
    sim.nodes[a].carp.handle_link(sim.now, false);
    sim.settle(a);
    sim.run_for(secs(5.0));
    let released = *sim.nodes[a].downs().last().unwrap();
    let took_over = sim.nodes[b].ups()[0];
    assert_eq!(released, down + carrier_grace(1, 0, 3));
    assert!(released < took_over, "{released:?} {took_over:?}");
    sim.nodes[a].carp.handle_link(sim.now, true);
    sim.settle(a);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![b]);
}

/// `-z` while the carrier is away during the grace: nobody could hear a bow-out, so the
/// master runs its down script and exits at once.
#[test]
fn shutdown_during_the_carrier_grace_leaves_at_once() {
    let mut sim = Sim::new(63);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(4.0));
    sim.nodes[a].carp.handle_link(sim.now, false);
    sim.settle(a);
    let downs = sim.nodes[a].downs().len();
    sim.nodes[a].carp.handle_shutdown(sim.now);
    sim.settle(a);
    assert_eq!(sim.nodes[a].downs().len(), downs + 1);
    assert_eq!(sim.nodes[a].carp.poll_timeout(), None);
}

/// A master frozen for longer than a dead time (a migrating VM) whose carrier went
/// while it was frozen: after the thaw the daemon reads the link events before its
/// timers, so the carrier loss is its first input. The window of the grace, counted
/// from its last advert, is long over, a backup holds the address: no grace, and a
/// carrier back at once or a little later must not take the address back.
#[test]
fn a_master_frozen_while_its_carrier_went_gets_no_grace() {
    for back in [secs(0.0), secs(1.0)] {
        let mut sim = Sim::new(64);
        let a = sim.start(Spec::host(1));
        let b = sim.start(Spec::host(2).skew(50));
        sim.run_for(secs(6.0));
        assert_eq!(sim.masters(), vec![a]);
        sim.freeze(a);
        sim.run_for(secs(5.0));
        assert_eq!(sim.nodes[b].state(), State::Master);
        let b_downs = sim.nodes[b].downs().len();
        let now = sim.now;
        sim.nodes[a].carp.handle_link(now, false);
        sim.thaw(a);
        sim.run_for(back);
        let now = sim.now;
        sim.nodes[a].carp.handle_link(now, true);
        sim.settle(a);
        sim.run_for(secs(10.0));
        assert_eq!(sim.masters(), vec![b], "back after {back:?}");
        assert_eq!(sim.nodes[b].downs().len(), b_downs, "back after {back:?}");
        assert_eq!(logged(&sim, a, |e| matches!(e, Event::LinkBackInTime)), 0);
        assert_eq!(
            logged(&sim, a, |e| matches!(e, Event::LinkDownHolding { .. })),
            0
        );
    }
}

/// A master frozen during its grace, and the carrier back before the thaw: the daemon
/// reads the carrier's return before its overdue timers. The grace ended long ago and
/// a backup took over: the return is no flap within the grace, the master releases
/// (down script) and the address stays where it is.
#[test]
fn a_carrier_back_after_the_grace_ended_unnoticed_takes_nothing_back() {
    let mut sim = Sim::new(65);
    let a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(6.0));
    let now = sim.now;
    sim.nodes[a].carp.handle_link(now, false);
    sim.settle(a);
    sim.freeze(a);
    sim.run_for(secs(5.0));
    assert_eq!(sim.nodes[b].state(), State::Master);
    let b_downs = sim.nodes[b].downs().len();
    let a_downs = sim.nodes[a].downs().len();
    let now = sim.now;
    sim.nodes[a].carp.handle_link(now, true);
    sim.thaw(a);
    assert_eq!(sim.nodes[a].state(), State::Backup);
    assert_eq!(sim.nodes[a].downs().len(), a_downs + 1);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![b]);
    assert_eq!(sim.nodes[b].downs().len(), b_downs);
    assert_eq!(logged(&sim, a, |e| matches!(e, Event::LinkBackInTime)), 0);
}

/// `--witness` (docs/PROTOCOL.md §5.15): the master is cut off from the group and the
/// witness, and its carrier goes at the cut or a little after it; every witness is lost
/// during the grace. The carrier returns within the grace but the cut remains: the
/// master must still release before a backup on the other side takes over, not keep
/// the address as a demoted master nobody answers.
#[test]
fn witness_lost_during_the_carrier_grace_still_releases_in_time() {
    for (seed, carrier_after) in [(66, 0.0), (67, 0.3)] {
        let mut sim = Sim::cluster(
            &[Spec::host(1).witness(), Spec::host(2).skew(1).witness()],
            secs(5.5),
            seed,
        );
        let cut = sim.elapsed();
        sim.isolate(0, true);
        sim.run_for(secs(carrier_after));
        let now = sim.now;
        sim.nodes[0].carp.handle_link(now, false);
        sim.settle(0);
        sim.run_until(sim.t0 + cut + secs(1.0));
        let now = sim.now;
        sim.nodes[0].carp.handle_link(now, true);
        sim.settle(0);
        sim.run_for(secs(10.0));
        let down = *sim.nodes[0].downs().last().unwrap();
        let up = sim.nodes[1].ups()[0];
        assert!(
            down < up,
            "{carrier_after}: released at {down:?}, peer took over at {up:?}"
        );
        assert!(down <= cut + carrier_grace(1, 0, 3), "{carrier_after}");
        assert_eq!(sim.masters(), vec![1], "{carrier_after}");
        sim.isolate(0, false);
        sim.run_for(secs(10.0));
        assert_eq!(sim.masters(), vec![1], "{carrier_after}");
    }
}

#[test]
fn adverts_are_ignored_while_the_link_is_down() {
    let mut sim = Sim::new(17);
    let a = sim.start(Spec::host(1).preempt());
    sim.nodes[a].carp.handle_link(sim.now, false);
    sim.settle(a);
    sim.inject(frame_from(
        Ipv4Addr::new(198, 51, 100, 9),
        signed_advert(1, 200, 1),
        1,
    ));
    sim.run_for(secs(1.0));
    assert_eq!(sim.nodes[a].state(), State::Backup);
    assert_eq!(sim.nodes[a].carp.stats().adverts_received, 0);
}

#[test]
fn shutdown_of_a_backup_exits_at_once_without_a_script() {
    let mut sim = Sim::new(18);
    let _a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(5.0));
    let before = sim.nodes[b].did.len();
    sim.nodes[b].carp.handle_shutdown(sim.now);
    sim.settle(b);
    let new: Vec<&Did> = sim.nodes[b].did[before..].iter().map(|(_, d)| d).collect();
    assert_eq!(new, vec![&Did::Exit]);
    assert_eq!(sim.nodes[b].carp.poll_timeout(), None);
}

/// Make-before-break: the leaving master sends a bow-out, the backup takes over on it
/// at once, and the leaving master drops the address only when it hears the
/// successor's first advert; then it exits.
#[test]
fn shutdown_of_a_master_hands_over_make_before_break() {
    let mut sim = Sim::new(18);
    sim.delay = Duration::from_millis(1);
    let a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
    let t = sim.elapsed();
    sim.nodes[a].carp.handle_shutdown(sim.now);
    sim.settle(a);
    sim.run_for(secs(2.0));
    let bow_out = sim.nodes[a]
        .adverts()
        .into_iter()
        .find(|(at, ad)| *at >= t && ad.advbase == 255)
        .unwrap();
    assert_eq!(
        (bow_out.0, bow_out.1.advbase, bow_out.1.advskew),
        (t, 255, 255)
    );
    // B took over one wire delay and its bow-out wait later, not after its dead time.
    let b_up = *sim.nodes[b].ups().last().unwrap();
    assert_eq!(b_up, t + Duration::from_millis(1) + bow_out_delay(1, 50));
    // A released the address when B's first advert arrived, not before, then exited.
    let b_first = sim.nodes[b]
        .adverts()
        .iter()
        .find(|(at, _)| *at >= t)
        .unwrap()
        .0;
    let a_down = *sim.nodes[a].downs().last().unwrap();
    assert_eq!(a_down, b_first + Duration::from_millis(1));
    assert!(matches!(sim.nodes[a].did.last(), Some((_, Did::Exit))));
    assert_eq!(sim.masters(), vec![b]);
}

#[test]
fn shutdown_of_a_lone_master_releases_at_the_bound() {
    // The group's dead time, or the longest wait of a backup after a bow-out (advskew
    // 255) plus a guard for its up script, whichever is longer.
    for (base, skew, bound) in [
        (1u8, 0u8, secs(3.0)),
        (0, 20, bow_out_delay(0, 255) + secs(0.25)),
    ] {
        assert_eq!(handover_bound(base, skew, 3), bound);
        let mut sim = Sim::new(18);
        let a = sim.start(Spec::host(1).base(base).skew(skew));
        sim.run_for(secs(5.0));
        let t = sim.elapsed();
        sim.nodes[a].carp.handle_shutdown(sim.now);
        sim.settle(a);
        sim.run_for(secs(4.0));
        let down = *sim.nodes[a].downs().last().unwrap();
        let diff = down.abs_diff(t + bound);
        assert!(
            diff < Duration::from_micros(2),
            "{down:?} vs {:?}",
            t + bound
        );
        assert!(matches!(sim.nodes[a].did.last(), Some((_, Did::Exit))));
        // Bow-outs were repeated while waiting, at most every 100 ms, as retransmissions
        // of the first: one counter, so a successor that missed some is in sequence.
        let bow_outs: Vec<u64> = sim.nodes[a]
            .adverts()
            .iter()
            .filter(|(at, a)| *at >= t && a.advbase == 255)
            .map(|(_, a)| a.counter)
            .collect();
        assert!(bow_outs.len() >= 4, "{bow_outs:?}");
        assert!(bow_outs.iter().all(|c| *c == bow_outs[0]), "{bow_outs:?}");
    }
}

#[test]
fn a_lost_bow_out_is_repeated() {
    let mut sim = Sim::new(30);
    sim.delay = Duration::from_millis(1);
    let a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(5.0));
    let t = sim.elapsed();
    // The first bow-out is lost on the wire.
    sim.loss = 1.0;
    sim.nodes[a].carp.handle_shutdown(sim.now);
    sim.settle(a);
    sim.loss = 0.0;
    sim.run_for(secs(2.0));
    // B heard the second bow-out, 100 ms later.
    let b_up = *sim.nodes[b].ups().last().unwrap();
    let wait = bow_out_delay(1, 50);
    assert!(
        b_up > t + wait && b_up <= t + wait + secs(0.101 + 0.001),
        "{b_up:?}"
    );
    assert_eq!(sim.masters(), vec![b]);
}

/// SIGUSR2 on a master: the same handover, then the node stays as a least preferred
/// backup that never takes the address back, even with -P, until SIGUSR2 again.
#[test]
fn maintenance_hands_over_and_never_preempts_back() {
    let mut sim = Sim::new(19);
    sim.delay = Duration::from_millis(1);
    let a = sim.start(Spec::host(1).preempt());
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
    let t = sim.elapsed();
    sim.nodes[a].carp.handle_demote(sim.now);
    sim.settle(a);
    sim.run_for(secs(30.0));
    assert_eq!(sim.masters(), vec![b]);
    assert_eq!(
        *sim.nodes[b].ups().last().unwrap(),
        t + Duration::from_millis(1) + bow_out_delay(1, 50)
    );
    assert_eq!(sim.nodes[a].ups().len(), 1, "A took the address back");
    assert!(sim.nodes[a]
        .carp
        .demotions()
        .contains(ucarp::state::Demotion::Maintenance));
    let reason = sim.nodes[a].did.iter().rev().find_map(|(_, d)| match d {
        Did::Down(t) => Some(t.reason),
        _ => None,
    });
    assert_eq!(reason, Some(Reason::Maintenance));
    // Leaving maintenance, A (with -P, better skew) preempts at B's next advert.
    sim.nodes[a].carp.handle_demote(sim.now);
    sim.settle(a);
    sim.run_for(secs(2.0));
    assert_eq!(sim.masters(), vec![a]);
}

#[test]
fn maintenance_on_a_lone_master_keeps_the_address_least_preferred() {
    let mut sim = Sim::new(20);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(4.0));
    sim.nodes[a].carp.handle_demote(sim.now);
    sim.settle(a);
    sim.run_for(secs(5.0));
    assert_eq!(sim.nodes[a].state(), State::Master);
    assert_eq!(sim.nodes[a].downs().len(), 1, "only the startup downscript");
    // It keeps advertising every interval, each advert a bow-out.
    let ads = sim.nodes[a].adverts();
    let last = ads[ads.len() - 2..].to_vec();
    assert!(last
        .iter()
        .all(|(_, ad)| (ad.advbase, ad.advskew) == (255, 255)));
    assert_eq!(last[1].0 - last[0].0, advert_interval(1, 255));
    // A node that appears now, even without -P, takes over on the first bow-out it
    // hears (after its short wait); the maintenance master steps down on its advert.
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(advert_interval(1, 255) + bow_out_delay(1, 50) + secs(0.01));
    assert_eq!(sim.masters(), vec![b]);
    assert_eq!(sim.nodes[a].state(), State::Backup);
}

#[test]
fn maintenance_in_backup_never_preempts_and_promotes_last() {
    let mut sim = Sim::new(21);
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(5.0));
    let a = sim.start(Spec::host(1).preempt());
    sim.nodes[a].carp.handle_demote(sim.now);
    sim.settle(a);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![b]);
    // Alone at last, it still takes the address: it must be somewhere.
    sim.crash(b);
    let last_b = sim.nodes[b].adverts().last().unwrap().0;
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![a]);
    assert_eq!(
        *sim.nodes[a].ups().last().unwrap(),
        last_b + master_down_interval(1, 255, 3)
    );
}

/// `-b 0 -k N`: the master-down interval is deadratio whole intervals (ucarp: one).
#[test]
fn sub_second_dead_time_is_deadratio_intervals() {
    let mut sim = Sim::new(22);
    let a = sim.start(Spec::host(1).base(0).skew(10));
    let b = sim.start(Spec::host(2).base(0).skew(20));
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
    assert_eq!(sim.nodes[a].ups(), vec![advert_interval(0, 10) * 3]);
    sim.crash(a);
    let last = sim.nodes[a].adverts().last().unwrap().0;
    sim.run_for(secs(1.0));
    assert_eq!(sim.nodes[b].ups(), vec![last + advert_interval(0, 20) * 3]);
}

/// Sub-second intervals with 10 % loss for ten simulated minutes: with a backup skew of
/// 20 (78 ms) behind a master at 10 (39 ms), the backup needs six adverts lost in a
/// row; it never promotes.
#[test]
fn sub_second_mode_does_not_flap_under_ten_percent_loss() {
    let mut sim = Sim::new(23);
    sim.delay = Duration::from_millis(1);
    sim.loss = 0.1;
    let a = sim.start(Spec::host(1).base(0).skew(10));
    let b = sim.start(Spec::host(2).base(0).skew(20));
    sim.run_for(secs(600.0));
    assert_eq!(sim.masters(), vec![a]);
    assert!(sim.nodes[b].ups().is_empty(), "{:?}", sim.nodes[b].ups());
}

#[test]
fn status_reports_state_iface_and_vhid() {
    let mut sim = Sim::new(22);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(4.0));
    sim.nodes[a].carp.handle_status(sim.now);
    sim.settle(a);
    match sim.nodes[a].did.last() {
        Some((_, Did::Log(e))) => assert_eq!(e.to_string(), "MASTER on sim0 id 7"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn early_timeouts_do_nothing() {
    let mut sim = Sim::new(23);
    let a = sim.start(Spec::host(1));
    let deadline = sim.nodes[a].carp.poll_timeout().unwrap();
    for ms in [0, 1000, 2999] {
        sim.nodes[a]
            .carp
            .handle_timeout(sim.t0 + Duration::from_millis(ms));
        assert!(sim.nodes[a].carp.poll_action().is_none());
        assert_eq!(sim.nodes[a].carp.poll_timeout(), Some(deadline));
    }
    sim.nodes[a].carp.handle_timeout(deadline);
    assert!(matches!(
        sim.nodes[a].carp.poll_action(),
        Some(Action::Log(Event::StateChange(_)))
    ));
}

#[test]
fn rejected_frames_change_nothing() {
    let mut sim = Sim::new(24);
    let a = sim.start(Spec::host(1).preempt());
    sim.run_for(secs(1.0));
    let deadline = sim.nodes[a].carp.poll_timeout();
    let peer = Ipv4Addr::new(198, 51, 100, 9);
    let mut bad_digest = frame_from(peer, signed_advert(1, 200, 3), 1);
    bad_digest[60] ^= 1;
    bad_digest[40..42].fill(0);
    let mut c = ucarp::packet::CarpPacket::new_unchecked(&mut bad_digest[34..70]);
    c.fill_checksum();
    let mut bad_ttl = frame_from(peer, signed_advert(1, 200, 3), 1);
    bad_ttl[22] = 1;
    for f in [bad_digest, bad_ttl, vec![0; 10], vec![0xff; 200]] {
        sim.inject(f);
    }
    sim.run_for(secs(0.01));
    assert_eq!(sim.nodes[a].state(), State::Backup);
    assert_eq!(sim.nodes[a].carp.poll_timeout(), deadline);
    assert_eq!(sim.nodes[a].rejects.total(), 4);
    assert_eq!(sim.nodes[a].carp.stats().adverts_received, 0);
}

/// docs/PROTOCOL.md §5.4 with 20 % of frames lost, for a simulated hour.
///
/// "No flap" here means: the preferred master never loses MASTER, and the backup only
/// ever promotes when it really heard nothing for its whole dead time, stepping down
/// again at the first advert it hears. With independent 20 % loss, three adverts in a
/// row are lost with probability 0.2³ = 0.8 % per second, about 23 times an hour, and
/// ucarp's rules (which the core reproduces) then promote the backup each time; no
/// CARP implementation with deadratio 3 can avoid that. Its GARPs are answered at once
/// by the master's "reasserting control" GARP.
#[test]
fn twenty_percent_loss_for_an_hour_never_moves_the_master() {
    for seed in 0..3 {
        let mut sim = Sim::new(seed);
        sim.delay = Duration::from_millis(1);
        sim.loss = 0.2;
        let a = sim.start(Spec::host(1));
        let b = sim.start(Spec::host(2).skew(100));
        sim.run_for(secs(3600.0));
        let a_ip = std::net::IpAddr::from(sim.nodes[a].spec.srcip);
        assert_eq!(sim.masters(), vec![a], "seed {seed}");
        assert_eq!(sim.nodes[a].ups().len(), 1, "seed {seed}");
        assert_eq!(sim.nodes[a].downs().len(), 1, "seed {seed}: startup only");

        let dead = master_down_interval(1, 100, 3);
        let mut last_heard = Duration::ZERO;
        let mut promoted = false;
        let mut promotions = 0;
        for (t, d) in &sim.nodes[b].did {
            match d {
                Did::Heard(ip) if *ip == a_ip => last_heard = *t,
                Did::Up(_) => {
                    assert_eq!(*t - last_heard, dead, "seed {seed}: promoted early");
                    promoted = true;
                    promotions += 1;
                }
                Did::Down(tr) if promoted => {
                    assert_eq!(tr.reason, Reason::Preempted);
                    assert_eq!(*t, last_heard, "seed {seed}: stayed master after hearing A");
                    promoted = false;
                }
                _ => {}
            }
        }
        // Expected about 23 an hour; far more would mean the core reacts to loss badly.
        assert!(promotions < 60, "seed {seed}: {promotions} promotions");
    }
}

/// With a dead time of six intervals the same loss never promotes the backup: the
/// chance of six losses in a row is 0.2⁶, about once in 5 hours.
#[test]
fn twenty_percent_loss_with_deadratio_six_never_promotes_the_backup() {
    let mut sim = Sim::new(99);
    sim.delay = Duration::from_millis(1);
    sim.loss = 0.2;
    let mut spec_a = Spec::host(1);
    spec_a.deadratio = 6;
    let mut spec_b = Spec::host(2).skew(100);
    spec_b.deadratio = 6;
    let a = sim.start(spec_a);
    let b = sim.start(spec_b);
    sim.run_for(secs(3600.0));
    assert_eq!(sim.masters(), vec![a]);
    assert!(sim.nodes[b].ups().is_empty());
}

/// A failing health check demotes the node: the master hands over make-before-break;
/// when the check recovers, a -P node takes the address back.
#[test]
fn failing_health_check_moves_the_address_and_recovery_brings_it_back() {
    let mut sim = Sim::new(40);
    sim.delay = Duration::from_millis(1);
    let a = sim.start(Spec::host(1).preempt());
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(5.0));
    let t = sim.elapsed();
    sim.nodes[a].carp.handle_health(sim.now, false);
    sim.settle(a);
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![b]);
    assert_eq!(
        *sim.nodes[b].ups().last().unwrap(),
        t + Duration::from_millis(1) + bow_out_delay(1, 50)
    );
    let down = sim.nodes[a].did.iter().rev().find_map(|(_, d)| match d {
        Did::Down(t) => Some(*t),
        _ => None,
    });
    assert_eq!(down.map(|t| t.reason), Some(Reason::CheckFailed));
    assert_eq!(
        down.and_then(|t| t.peer),
        Some(sim.nodes[b].spec.srcip.into())
    );
    sim.nodes[a].carp.handle_health(sim.now, true);
    sim.settle(a);
    sim.run_for(secs(2.0));
    assert_eq!(sim.masters(), vec![a]);
}

#[test]
fn demotions_stack_and_clear_independently() {
    let mut sim = Sim::new(41);
    let a = sim.start(Spec::host(1).preempt());
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(5.0));
    let now = sim.now;
    sim.nodes[a].carp.handle_health(now, false);
    sim.nodes[a].carp.handle_tracked_links(now, false);
    sim.settle(a);
    sim.run_for(secs(3.0));
    assert_eq!(sim.masters(), vec![b]);
    let now = sim.now;
    sim.nodes[a].carp.handle_health(now, true);
    sim.settle(a);
    sim.run_for(secs(3.0));
    assert_eq!(sim.masters(), vec![b], "still demoted by the tracked link");
    assert_eq!(
        sim.nodes[a].carp.demotions().to_string(),
        "tracked-link-down"
    );
    let now = sim.now;
    sim.nodes[a].carp.handle_tracked_links(now, true);
    sim.settle(a);
    sim.run_for(secs(3.0));
    assert_eq!(sim.masters(), vec![a]);
}

/// --up-must-succeed: a master whose up script failed hands the address back; the mark
/// stays until SIGUSR2 leaves maintenance (or an up script succeeds).
#[test]
fn a_failed_up_script_hands_the_address_back() {
    let mut sim = Sim::new(42);
    sim.delay = Duration::from_millis(1);
    let a = sim.start(Spec::host(1).preempt());
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(5.0));
    sim.nodes[a].carp.handle_up_result(sim.now, false);
    sim.settle(a);
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![b]);
    // USR2 twice: into maintenance and out, clearing the failed-up mark.
    let now = sim.now;
    sim.nodes[a].carp.handle_demote(now);
    sim.nodes[a].carp.handle_demote(now);
    sim.settle(a);
    assert!(!sim.nodes[a].carp.demotions().any());
    sim.run_for(secs(2.0));
    assert_eq!(sim.masters(), vec![a]);
}

#[test]
fn current_master_and_last_transition_are_known() {
    let mut sim = Sim::new(43);
    let a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(50));
    assert_eq!(sim.nodes[b].carp.current_master(), None);
    sim.run_for(secs(5.0));
    let a_ip = std::net::IpAddr::from(sim.nodes[a].spec.srcip);
    assert_eq!(sim.nodes[a].carp.current_master(), Some(a_ip));
    assert_eq!(sim.nodes[b].carp.current_master(), Some(a_ip));
    assert_eq!(
        sim.nodes[a].carp.last_transition().map(|t| t.reason),
        Some(Reason::MasterDown)
    );
}

/// Two demoted nodes must not pass the address back and forth: a demoted backup does
/// not take over on a bow-out, only when its own timer runs out.
#[test]
fn demoted_nodes_do_not_ping_pong() {
    let mut sim = Sim::new(44);
    sim.delay = Duration::from_millis(1);
    let a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(5.0));
    let now = sim.now;
    sim.nodes[b].carp.handle_health(now, false);
    sim.settle(b);
    sim.nodes[a].carp.handle_health(now, false);
    sim.settle(a);
    sim.run_for(secs(60.0));
    assert_eq!(sim.masters(), vec![a]);
    assert_eq!(sim.nodes[a].ups().len(), 1);
    assert!(sim.nodes[b].ups().is_empty());
    // B heals: it takes over on A's next bow-out.
    let now = sim.now;
    sim.nodes[b].carp.handle_health(now, true);
    sim.settle(b);
    sim.run_for(secs(3.0));
    assert_eq!(sim.masters(), vec![b]);
}

/// ucarp has no replay protection (docs/PROTOCOL.md §3.3): one captured advert of a master that
/// has left, replayed every second, keeps the backup from ever taking over. With
/// --replay-window the replays are refused and the backup takes over on time.
#[test]
fn a_replayed_advert_keeps_a_plain_backup_quiet_but_not_a_protected_one() {
    for protected in [false, true] {
        let mut sim = Sim::new(50);
        sim.delay = Duration::from_millis(1);
        let mut a_spec = Spec::host(1);
        let mut b_spec = Spec::host(2).skew(50);
        if protected {
            a_spec = a_spec.replay_window(256);
            b_spec = b_spec.replay_window(256);
        }
        let a = sim.start(a_spec);
        let b = sim.start(b_spec);
        sim.run_for(secs(10.0));
        let (_, captured) = *sim.nodes[a].adverts().last().unwrap();
        let a_ip = sim.nodes[a].spec.srcip;
        sim.crash(a);
        for _ in 0..30 {
            sim.inject(frame_from(a_ip, captured, 1));
            sim.run_for(secs(1.0));
        }
        if protected {
            assert_eq!(sim.masters(), vec![b]);
            assert!(sim.nodes[b].rejects.get(ucarp::rx::RejectReason::Replay) >= 29);
        } else {
            assert!(sim.masters().is_empty(), "the replays kept B quiet");
            assert!(sim.nodes[b].ups().is_empty());
        }
    }
}

/// With --replay-window a master counts from a random start even before it heard
/// anyone, so protected peers can follow its sequence; ucarp peers ignore counters.
#[test]
fn replay_protected_masters_count_in_sequence_from_the_start() {
    let mut sim = Sim::new(51);
    let a = sim.start(Spec::host(1).replay_window(64));
    sim.run_for(secs(8.0));
    let counters: Vec<u64> = sim.nodes[a]
        .adverts()
        .iter()
        .map(|(_, a)| a.counter)
        .collect();
    assert!(counters.len() >= 5);
    assert!(
        counters.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "{counters:?}"
    );
}

/// A protected pair behaves exactly like an unprotected one: election, takeover,
/// preemption, handover.
#[test]
fn replay_protection_does_not_change_normal_failover() {
    let mut sim = Sim::new(52);
    sim.delay = Duration::from_millis(1);
    sim.loss = 0.05;
    let a = sim.start(Spec::host(1).preempt().replay_window(64));
    let b = sim.start(Spec::host(2).skew(50).replay_window(64));
    sim.run_for(secs(30.0));
    assert_eq!(sim.masters(), vec![a]);
    sim.nodes[a].carp.handle_demote(sim.now);
    sim.settle(a);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![b]);
    sim.nodes[a].carp.handle_demote(sim.now);
    sim.settle(a);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![a]);
    // Under 5 % loss one advert per move may look out of sequence: when the stepping-
    // down master's last advert (counter c + 1) is lost, the new master's next advert
    // carries c + 1 too. The one after it is in sequence again.
    assert!(sim.nodes[b].rejects.get(ucarp::rx::RejectReason::Replay) <= 1);
    assert!(sim.nodes[a].rejects.get(ucarp::rx::RejectReason::Replay) <= 1);
}

/// Split brain after a partition heals: the winning master logs the other master once
/// per episode (not at every advert) and keeps re-announcing the address until the
/// loser steps down.
#[test]
fn split_brain_is_logged_once_per_episode() {
    let mut sim = Sim::new(60);
    sim.delay = Duration::from_millis(1);
    let a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(50));
    sim.run_for(secs(5.0));
    // Partition: B hears nothing and takes over; both are master.
    sim.loss = 1.0;
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters().len(), 2);
    sim.loss = 0.0;
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
    let split = |sim: &Sim, n: usize| {
        sim.nodes[n]
            .did
            .iter()
            .filter(|(_, d)| matches!(d, Did::Log(Event::SplitBrain { .. })))
            .count()
    };
    assert_eq!(split(&sim, a), 1);
    assert_eq!(split(&sim, b), 0);
    // A second partition is a new episode.
    sim.loss = 1.0;
    sim.run_for(secs(10.0));
    sim.loss = 0.0;
    sim.run_for(secs(5.0));
    assert_eq!(split(&sim, a), 2);
    assert_eq!(sim.masters(), vec![a]);
}

/// Counts node `n`'s log lines that match `pred`.
/// How many gratuitous ARPs node `n` sent so far.
fn garps(sim: &Sim, n: usize) -> usize {
    sim.nodes[n]
        .did
        .iter()
        .filter(|(_, d)| *d == Did::Garp)
        .count()
}

fn logged(sim: &Sim, n: usize, pred: impl Fn(&Event) -> bool) -> usize {
    sim.nodes[n]
        .did
        .iter()
        .filter(|(_, d)| matches!(d, Did::Log(e) if pred(e)))
        .count()
}

/// A master that hears a bow-out (a node leaving, such as the old master of a handover
/// it just took over) re-announces the address but reports no split brain.
#[test]
fn a_bow_out_heard_as_master_is_not_a_split_brain() {
    let mut sim = Sim::new(61);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
    let garps = |sim: &Sim| {
        sim.nodes[a]
            .did
            .iter()
            .filter(|(_, d)| matches!(d, Did::Garp))
            .count()
    };
    let before = garps(&sim);
    for i in 0..5 {
        let leaver = Ipv4Addr::new(198, 18, 0, 9);
        sim.inject(frame_from(leaver, signed_advert(255, 255, 100 + i), 1));
        sim.run_for(secs(0.05));
    }
    assert_eq!(sim.masters(), vec![a]);
    assert!(garps(&sim) > before);
    assert_eq!(
        logged(&sim, a, |e| matches!(
            e,
            Event::SplitBrain { .. } | Event::NonPreferredMaster { .. }
        )),
        0
    );
}

/// A losing master that advertises more slowly than our whole dead time (advbase 4
/// against our 3 s) is still one episode; ucarp's own line comes at every advert.
#[test]
fn a_slow_rival_is_one_split_brain_episode() {
    let mut sim = Sim::new(62);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(5.0));
    let rival = Ipv4Addr::new(198, 18, 0, 9);
    for i in 0..5 {
        sim.inject(frame_from(rival, signed_advert(4, 0, 1000 + i), 1));
        sim.run_for(secs(4.0));
    }
    assert_eq!(sim.masters(), vec![a]);
    assert_eq!(
        logged(&sim, a, |e| matches!(e, Event::SplitBrain { .. })),
        1
    );
    assert_eq!(
        logged(&sim, a, |e| matches!(e, Event::NonPreferredMaster { .. })),
        5
    );
}

/// Two rivals at once are each reported once, not at every alternation; after
/// we leave MASTER and come back, a rival starts a new episode.
#[test]
fn two_rivals_are_reported_once_each() {
    let mut sim = Sim::new(63);
    let a = sim.start(Spec::host(1).skew(10));
    sim.run_for(secs(5.0));
    let (r1, r2) = (Ipv4Addr::new(198, 18, 0, 8), Ipv4Addr::new(198, 18, 0, 9));
    for i in 0..6 {
        sim.inject(frame_from(r1, signed_advert(1, 100, 2000 + 2 * i), 1));
        sim.run_for(secs(0.5));
        sim.inject(frame_from(r2, signed_advert(1, 200, 2001 + 2 * i), 1));
        sim.run_for(secs(0.5));
    }
    let split = |sim: &Sim, who: Ipv4Addr| {
        logged(
            sim,
            a,
            |e| matches!(e, Event::SplitBrain { peer, .. } if *peer == who),
        )
    };
    assert_eq!((split(&sim, r1), split(&sim, r2)), (1, 1));
    // A better master makes A step down; when it is gone A is master again, and r1
    // is a new episode.
    sim.inject(frame_from(
        Ipv4Addr::new(198, 18, 0, 7),
        signed_advert(1, 0, 3000),
        1,
    ));
    sim.run_for(secs(0.01));
    assert_eq!(sim.nodes[a].state(), State::Backup);
    sim.run_for(secs(4.0));
    assert_eq!(sim.masters(), vec![a]);
    // Right after A's takeover r1 could be a master stepping down; later it is not.
    sim.run_for(step_down_grace(advert_interval(1, 100)));
    sim.inject(frame_from(r1, signed_advert(1, 100, 4000), 1));
    sim.run_for(secs(0.01));
    assert_eq!(split(&sim, r1), 2);
}

/// Issue 18: with three or four nodes, a bow-out makes only the best backup take over:
/// the others hear its claim during their longer wait and stay backups. Exactly one up
/// script runs in the group, and the leaver drops the address only after the
/// successor's claim, which follows the successor's up script.
#[test]
fn a_bow_out_wakes_only_the_best_backup() {
    // With -P too: a bow-out is no master to preempt.
    for (nodes, preempt) in [(3u8, false), (4, false), (3, true), (4, true)] {
        let mut sim = Sim::new(70 + u64::from(nodes));
        sim.delay = Duration::from_millis(1);
        let up = Duration::from_millis(10);
        let a = sim.start(Spec::host(1).up_script(up));
        let backups: Vec<usize> = (1..nodes)
            .map(|i| {
                let spec = Spec::host(i + 1).skew(50 * i).up_script(up);
                sim.start(if preempt { spec.preempt() } else { spec })
            })
            .collect();
        sim.run_for(secs(5.0));
        assert_eq!(sim.masters(), vec![a]);
        let t = sim.elapsed();
        sim.nodes[a].carp.handle_shutdown(sim.now);
        sim.settle(a);
        sim.run_for(secs(10.0));
        let best = backups[0];
        assert_eq!(sim.masters(), vec![best], "{nodes} nodes");
        let ups: usize = (0..sim.nodes.len())
            .map(|i| sim.nodes[i].ups().iter().filter(|u| **u >= t).count())
            .sum();
        assert_eq!(ups, 1, "{nodes} nodes: one up script in the group");
        let best_up = *sim.nodes[best].ups().last().unwrap();
        assert_eq!(best_up, t + Duration::from_millis(1) + bow_out_delay(1, 50));
        let claim = sim.nodes[best]
            .adverts()
            .into_iter()
            .find(|(at, _)| *at >= t)
            .unwrap()
            .0;
        assert_eq!(claim, best_up + up, "the claim follows the up script");
        assert_eq!(
            *sim.nodes[a].downs().last().unwrap(),
            claim + Duration::from_millis(1),
            "the leaver drops the address when it hears the claim"
        );
    }
}

/// Issue 18: a -P node that preempts a live master keeps its claim (and every other
/// advert) until its up script is done; the old master serves the address meanwhile,
/// and its adverts are neither re-announced against nor a split brain.
#[test]
fn a_preempting_claim_waits_for_a_slow_up_script() {
    let mut sim = Sim::new(80);
    sim.delay = Duration::from_millis(1);
    let a = sim.start(Spec::host(1).skew(50));
    sim.run_for(secs(5.0));
    let up = secs(8.0);
    let b = sim.start(Spec::host(2).preempt().up_script(up));
    sim.run_for(secs(1.5));
    let b_up = *sim.nodes[b].ups().last().expect("B preempted");
    sim.run_for(secs(7.0));
    // B has run its up script for 7 s: silent, while A still serves.
    assert!(sim.nodes[b].adverts().is_empty());
    assert_eq!(sim.nodes[a].state(), State::Master);
    assert_eq!(
        sim.nodes[a].downs().len(),
        1,
        "only A's startup down script"
    );
    sim.run_for(secs(3.0));
    let claim = sim.nodes[b].adverts()[0].0;
    assert_eq!(claim, b_up + up);
    assert_eq!(
        *sim.nodes[a].downs().last().unwrap(),
        claim + Duration::from_millis(1)
    );
    assert_eq!(sim.masters(), vec![b]);
    assert_eq!(
        logged(&sim, b, |e| matches!(e, Event::SplitBrain { .. })),
        0
    );
    // Before the claim, A's adverts were expected: nothing re-announced against them
    // (the one GARP is the takeover's, which the daemon holds behind the up script).
    let before = |pred: fn(&Did) -> bool| {
        sim.nodes[b]
            .did
            .iter()
            .filter(|(at, d)| *at < claim && pred(d))
            .count()
    };
    assert_eq!(before(|d| matches!(d, Did::Garp)), 1);
    assert_eq!(
        before(|d| matches!(d, Did::Log(Event::NonPreferredMaster { .. }))),
        0
    );
    // The advert timer starts from the claim.
    let ads = sim.nodes[b].adverts();
    assert_eq!(ads[1].0 - ads[0].0, advert_interval(1, 0));
}

/// Issue 18: a takeover from a dead master claims at once, whatever the up script
/// takes: nobody serves the address, and other backups must hear a master.
#[test]
fn a_takeover_from_a_dead_master_claims_at_once() {
    let mut sim = Sim::new(81);
    let a = sim.start(Spec::host(1));
    let b = sim.start(Spec::host(2).skew(50).up_script(secs(8.0)));
    sim.run_for(secs(5.0));
    sim.crash(a);
    sim.run_for(secs(5.0));
    let b_up = *sim.nodes[b].ups().last().unwrap();
    assert_eq!(sim.nodes[b].adverts()[0].0, b_up);
}

/// Issue 18: demoted (here, the health check fails) while the claim still waits for
/// the up script: the node steps back to BACKUP without a word on the wire, no
/// bow-out, and the master it was taking over from keeps the address.
#[test]
fn a_demotion_before_the_claim_steps_back_quietly() {
    let mut sim = Sim::new(82);
    sim.delay = Duration::from_millis(1);
    let a = sim.start(Spec::host(1).skew(50));
    sim.run_for(secs(5.0));
    let b = sim.start(Spec::host(2).preempt().up_script(secs(8.0)));
    sim.run_for(secs(3.0));
    assert_eq!(sim.nodes[b].ups().len(), 1);
    sim.nodes[b].carp.handle_health(sim.now, false);
    sim.settle(b);
    assert_eq!(sim.nodes[b].state(), State::Backup);
    sim.run_for(secs(20.0));
    assert!(sim.nodes[b].adverts().is_empty(), "B never claimed");
    assert_eq!(sim.masters(), vec![a]);
    assert_eq!(
        sim.nodes[a].downs().len(),
        1,
        "only A's startup down script"
    );
}

/// Issue 18: TERM under -z while the claim waits: no bow-out (nobody heard us claim),
/// just the down script and exit.
#[test]
fn a_shutdown_before_the_claim_leaves_without_a_bow_out() {
    let mut sim = Sim::new(83);
    sim.delay = Duration::from_millis(1);
    let a = sim.start(Spec::host(1).skew(50));
    sim.run_for(secs(5.0));
    let b = sim.start(Spec::host(2).preempt().up_script(secs(8.0)));
    sim.run_for(secs(3.0));
    sim.nodes[b].carp.handle_shutdown(sim.now);
    sim.settle(b);
    assert!(matches!(sim.nodes[b].did.last(), Some((_, Did::Exit))));
    assert!(sim.nodes[b].adverts().is_empty());
    assert_eq!(sim.nodes[b].downs().len(), 2, "startup and leaving");
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![a]);
}

/// Issue 18: preempting a master that takes a while to step down (a ucarp master hears
/// our claim up to a second late) is not a split brain; a master still advertising
/// after that grace is.
#[test]
fn a_slow_step_down_is_not_a_split_brain() {
    let mut sim = Sim::new(84);
    let old = Ipv4Addr::new(198, 51, 100, 9);
    let b = sim.start(Spec::host(2).preempt());
    // A worse master (ucarp-like: it keeps advertising for a while after our claim).
    for i in 0..3 {
        sim.inject(frame_from(old, signed_advert(1, 100, 100 + i), 1));
        sim.run_for(secs(1.0));
    }
    assert_eq!(sim.nodes[b].state(), State::Master);
    let split = |sim: &Sim| logged(sim, b, |e| matches!(e, Event::SplitBrain { .. }));
    assert_eq!(split(&sim), 0, "within the step-down grace");
    sim.run_for(step_down_grace(advert_interval(1, 100)));
    sim.inject(frame_from(old, signed_advert(1, 100, 200), 1));
    sim.run_for(secs(0.01));
    assert_eq!(split(&sim), 1, "still advertising after the grace");
}

/// Issue 18: the interface set down or deleted under -z: the master runs its down
/// script and exits, with no "link down, waiting for it to come back" story.
#[test]
fn interface_gone_is_one_story() {
    let mut sim = Sim::new(85);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
    sim.nodes[a].carp.handle_interface_gone(sim.now);
    sim.settle(a);
    assert_eq!(logged(&sim, a, |e| matches!(e, Event::LinkDown)), 0);
    let down = sim.nodes[a].did.iter().rev().find_map(|(_, d)| match d {
        Did::Down(t) => Some(t.reason),
        _ => None,
    });
    assert_eq!(down, Some(Reason::LinkDown));
    assert!(matches!(sim.nodes[a].did.last(), Some((_, Did::Exit))));
}

/// A takeover from a dead master while our own down script still runs: the daemon
/// holds the claim (the up script waits behind the down) and says so. Until it goes
/// out, nothing else is sent, and another backup that took over meanwhile is not a
/// split brain; the advert timer starts from the claim.
#[test]
fn a_deferred_claim_is_pending_like_a_preemption() {
    let mut sim = Sim::new(86);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
    // As if the claim had been held: the daemon reports it deferred.
    let first = sim.nodes[a].adverts().len();
    sim.nodes[a].carp.handle_claim_deferred(sim.now);
    sim.settle(a);
    let other = Ipv4Addr::new(198, 51, 100, 9);
    for i in 0..10 {
        sim.inject(frame_from(other, signed_advert(1, 100, 500 + i), 1));
        sim.run_for(secs(1.0));
    }
    assert_eq!(
        sim.nodes[a].adverts().len(),
        first,
        "nothing sent meanwhile"
    );
    assert_eq!(
        logged(&sim, a, |e| matches!(
            e,
            Event::SplitBrain { .. } | Event::NonPreferredMaster { .. }
        )),
        0
    );
    assert_eq!(sim.nodes[a].state(), State::Master);
    // The claim goes out: the timer runs from then.
    let now = sim.now;
    sim.nodes[a].carp.handle_send_result(now, true);
    sim.settle(a);
    sim.run_for(secs(1.5));
    assert_eq!(sim.nodes[a].adverts().len(), first + 1);
    assert_eq!(
        sim.nodes[a].adverts().last().unwrap().0,
        sim.elapsed() - secs(0.5)
    );
}

/// A master frozen for longer than the dead time (a paused VM) finds on waking that a
/// backup took over. It keeps quiet and listens instead of advertising at once: without
/// `-P` it yields, so the address moves only once; with `-P` and the better skew it takes
/// the address back, claim and gratuitous ARP at once, and the other steps down. Alone,
/// it advertises again after one dead time, with a gratuitous ARP.
#[test]
fn a_frozen_master_listens_before_it_asserts() {
    for preempt in [false, true] {
        let mut sim = Sim::new(41);
        sim.delay = Duration::from_millis(1);
        let spec = if preempt {
            Spec::host(1).preempt()
        } else {
            Spec::host(1)
        };
        let a = sim.start(spec);
        sim.run_for(secs(4.0));
        let b = sim.start(Spec::host(2).skew(50));
        sim.run_for(secs(5.0));
        assert_eq!(sim.masters(), vec![a]);
        sim.freeze(a);
        sim.run_for(secs(6.0));
        assert_eq!(sim.masters(), vec![b], "B took over during the freeze");
        let thawed = sim.elapsed();
        sim.thaw(a);
        assert!(
            sim.nodes[a]
                .did
                .iter()
                .any(|(t, d)| *t == thawed && matches!(d, Did::Log(Event::Frozen { .. }))),
            "{:?}",
            sim.nodes[a].did
        );
        sim.run_for(secs(10.0));
        let after = |i: usize, f: &dyn Fn(&Did) -> bool| {
            sim.nodes[i]
                .did
                .iter()
                .filter(|(t, d)| *t >= thawed && f(d))
                .count()
        };
        let is_up = |d: &Did| matches!(d, Did::Up(_));
        let is_down = |d: &Did| matches!(d, Did::Down(_));
        let is_garp = |d: &Did| matches!(d, Did::Garp);
        if preempt {
            assert_eq!(sim.masters(), vec![a], "A took the address back");
            assert_eq!(after(a, &is_down), 0, "A never let go of the address");
            assert_eq!(after(a, &is_up), 0, "A still held it: no up script");
            assert!(after(a, &is_garp) >= 1, "caches point at A at once");
            assert_eq!(after(b, &is_down), 1, "B stepped down once");
            let first_advert = sim.nodes[a]
                .adverts()
                .into_iter()
                .find(|(t, _)| *t >= thawed)
                .unwrap()
                .0;
            let heard_b = sim.nodes[a]
                .did
                .iter()
                .find(|(t, d)| *t >= thawed && matches!(d, Did::Heard(_)))
                .unwrap()
                .0;
            assert_eq!(
                first_advert, heard_b,
                "A listened first, then claimed at once"
            );
        } else {
            assert_eq!(sim.masters(), vec![b], "the address moved only once");
            assert_eq!(after(a, &is_down), 1, "A yielded and ran its down script");
            assert_eq!(after(b, &is_down), 0);
            assert!(
                sim.nodes[a].adverts().iter().all(|(t, _)| *t < thawed),
                "A never advertised after waking"
            );
        }
    }

    // Alone: nobody took over, so A advertises again one dead time after waking.
    let mut sim = Sim::new(42);
    let a = sim.start(Spec::host(1));
    sim.run_for(secs(5.0));
    sim.freeze(a);
    sim.run_for(secs(7.0));
    let thawed = sim.elapsed();
    sim.thaw(a);
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
    let resumed = sim.nodes[a]
        .adverts()
        .into_iter()
        .find(|(t, _)| *t >= thawed)
        .unwrap()
        .0;
    assert_eq!(resumed, thawed + master_down_interval(1, 0, 3));
    assert!(sim.nodes[a]
        .did
        .iter()
        .any(|(t, d)| *t == resumed && matches!(d, Did::Garp)));
    assert!(sim.nodes[a].downs().iter().all(|t| *t < thawed));
}

/// `--preempt-delay`: a `-P` node started (or whose carrier came back) while a worse
/// master serves waits that long before it preempts, then preempts at the next advert.
/// A dead master is replaced at the usual deadline, hold or not.
#[test]
fn preempt_delay_holds_preemption_but_never_a_takeover() {
    let hold = secs(5.0);
    let mut sim = Sim::new(43);
    sim.delay = Duration::from_millis(1);
    let b = sim.start(Spec::host(2).skew(100));
    sim.run_for(secs(5.0));
    let started = sim.elapsed();
    let a = sim.start(Spec::host(1).preempt().preempt_delay(hold));
    sim.run_for(secs(4.5));
    assert_eq!(sim.masters(), vec![b], "no preemption during the hold");
    sim.run_for(secs(2.0));
    assert_eq!(sim.masters(), vec![a]);
    let up = sim.nodes[a].ups()[0];
    assert!(
        up >= started + hold && up <= started + hold + secs(1.5),
        "{up:?}"
    );

    // After the carrier returns, the hold starts over.
    sim.nodes[a].carp.handle_link(sim.now, false);
    sim.settle(a);
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![b]);
    let link_up = sim.elapsed();
    sim.nodes[a].carp.handle_link(sim.now, true);
    sim.settle(a);
    sim.run_for(secs(4.5));
    assert_eq!(sim.masters(), vec![b], "held again after link up");
    sim.run_for(secs(2.0));
    assert_eq!(sim.masters(), vec![a]);
    assert!(sim.nodes[a].ups()[1] >= link_up + hold);

    // A dead master: taken over at the master-down deadline, inside the hold.
    let mut sim = Sim::new(44);
    let b = sim.start(Spec::host(2).skew(100));
    sim.run_for(secs(5.0));
    let a = sim.start(Spec::host(1).preempt().preempt_delay(secs(60.0)));
    sim.run_for(secs(2.0));
    sim.crash(b);
    let last = sim.nodes[b].adverts().last().unwrap().0;
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![a]);
    assert_eq!(
        sim.nodes[a].ups(),
        vec![last + master_down_interval(1, 0, 3)]
    );
}

// --- Witnesses (docs/PROTOCOL.md §5.15) -------------------------------------------------

fn logged_times(sim: &Sim, i: usize, want: &Event) -> usize {
    sim.nodes[i]
        .did
        .iter()
        .filter(|(_, d)| matches!(d, Did::Log(e) if e == want))
        .count()
}

/// The first advert node `i` sent as master after `after`: its claim.
fn claim_after(sim: &Sim, i: usize, after: Duration) -> Duration {
    sim.nodes[i]
        .adverts()
        .into_iter()
        .find(|(t, a)| *t >= after && a.advbase != 255)
        .map(|(t, _)| t)
        .expect("a claim")
}

#[test]
fn witness_backup_without_one_does_not_promote_on_master_down() {
    let mut sim = Sim::cluster(
        &[Spec::host(1).witness(), Spec::host(2).skew(100).witness()],
        secs(5.0),
        71,
    );
    assert_eq!(sim.masters(), vec![0]);
    sim.see_witness(1, false);
    sim.run_for(secs(1.0));
    sim.crash(0);
    sim.run_for(secs(20.0));
    assert_eq!(sim.nodes[1].state(), State::Backup);
    assert!(sim.nodes[1].ups().is_empty());
    assert_eq!(
        logged_times(&sim, 1, &Event::WitnessHoldBack),
        1,
        "logged once"
    );
    // The witness answers again: it competes, and takes over a master-down later.
    sim.see_witness(1, true);
    let back = sim.elapsed();
    sim.run_for(secs(10.0));
    assert_eq!(logged_times(&sim, 1, &Event::WitnessBack), 1);
    assert_eq!(sim.masters(), vec![1]);
    let up = sim.nodes[1].ups()[0];
    assert!(up > back && up <= back + secs(0.1) + master_down_interval(1, 255, 3));
}

#[test]
fn witness_backup_without_one_ignores_a_bow_out() {
    let mut sim = Sim::cluster(
        &[Spec::host(1).witness(), Spec::host(2).skew(100).witness()],
        secs(5.0),
        72,
    );
    sim.see_witness(1, false);
    sim.run_for(secs(1.0));
    // The master goes into maintenance: it bows out, nobody answers, it stays.
    let now = sim.now;
    sim.nodes[0].carp.handle_demote(now);
    sim.settle(0);
    sim.run_for(secs(10.0));
    assert!(sim.nodes[1].ups().is_empty());
    assert_eq!(sim.masters(), vec![0]);
    assert!(logged_times(&sim, 1, &Event::WitnessHoldBack) <= 1);
}

#[test]
fn witness_backup_without_one_does_not_preempt() {
    let mut sim = Sim::new(73);
    let a = sim.start(Spec::host(1).skew(100));
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![a]);
    let b = sim.start(Spec::host(2).preempt().witness());
    sim.see_witness(b, false);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![a], "no preemption without a witness");
    assert_eq!(logged_times(&sim, b, &Event::WitnessHoldBack), 1);
    sim.see_witness(b, true);
    sim.run_for(secs(3.0));
    assert_eq!(sim.masters(), vec![b], "with one, -P preempts as before");
}

#[test]
fn witness_lost_master_hands_over_make_before_break() {
    // A backup with a small skew takes over on the bow-out before the release is due:
    // 0.5 s to notice + bow_out_delay(1, 10) = 1.79 s < 1.9 s after the last answer.
    let mut sim = Sim::cluster(
        &[Spec::host(1).witness(), Spec::host(2).skew(10).witness()],
        secs(5.0),
        74,
    );
    let cut = sim.elapsed();
    sim.see_witness(0, false);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![1]);
    let up = sim.nodes[1].ups()[0];
    let claim = claim_after(&sim, 1, up);
    let down = *sim.nodes[0].downs().last().unwrap();
    assert!(claim <= down, "claim at {claim:?}, release at {down:?}");
    assert!(down <= cut + witness_release_after(1, 0, 3));
    match sim.nodes[0].carp.last_transition() {
        Some(t) => assert_eq!(t.reason, Reason::NoWitness),
        None => panic!("no transition"),
    }
    assert_eq!(sim.nodes[0].carp.demotions().to_string(), "no-witness");
    // The witness answers the old master again: demotion off, it stays a backup.
    sim.see_witness(0, true);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![1]);
    assert!(!sim.nodes[0].carp.demotions().any());
}

#[test]
fn witness_isolated_master_releases_before_the_backup_can_promote() {
    for (seed, at) in [(75, 0.0), (76, 0.3), (77, 0.55), (78, 0.97)] {
        let mut sim = Sim::cluster(
            &[Spec::host(1).witness(), Spec::host(2).skew(100).witness()],
            secs(5.0 + at),
            seed,
        );
        let cut = sim.elapsed();
        let last_advert = sim.nodes[0]
            .adverts()
            .into_iter()
            .map(|(t, _)| t)
            .filter(|t| *t <= cut)
            .max()
            .unwrap();
        sim.isolate(0, true);
        sim.run_for(secs(10.0));
        let down = *sim.nodes[0].downs().last().unwrap();
        let up = sim.nodes[1].ups()[0];
        // The backup's earliest takeover: a master-down after the last advert it heard.
        let earliest = last_advert + master_down_interval(1, 100, 3);
        assert_eq!(up, earliest);
        assert!(
            down < up,
            "{at}: released at {down:?}, peer took over at {up:?}"
        );
        // Whatever the backup's skew: within (deadratio - 1) × advbase of the cut.
        assert!(down <= cut + secs(2.0), "{at}");
        assert_eq!(sim.nodes[0].state(), State::Backup);
        // Healed: one master, the one that took over (no -P).
        sim.isolate(0, false);
        sim.run_for(secs(10.0));
        assert_eq!(sim.masters(), vec![1], "{at}");
    }
}

#[test]
fn witness_back_lets_a_preempting_node_take_the_address_back() {
    let mut sim = Sim::cluster(
        &[
            Spec::host(1).preempt().witness(),
            Spec::host(2).skew(100).witness(),
        ],
        secs(5.0),
        79,
    );
    sim.see_witness(0, false);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![1]);
    sim.see_witness(0, true);
    sim.run_for(secs(5.0));
    assert_eq!(sim.masters(), vec![0]);
}

#[test]
fn witness_loss_bursts_rarely_move_the_address() {
    let mut sim = Sim::cluster(
        &[Spec::host(1).witness(), Spec::host(2).skew(100).witness()],
        secs(5.0),
        80,
    );
    sim.witness_loss = 0.4;
    sim.run_for(secs(600.0));
    assert_eq!(sim.masters(), vec![0]);
    assert!(sim.nodes[1].ups().is_empty(), "the address never moved");
}

#[test]
fn witness_when_everyone_loses_it_the_address_goes_until_it_answers() {
    let mut sim = Sim::cluster(
        &[Spec::host(1).witness(), Spec::host(2).skew(100).witness()],
        secs(5.0),
        81,
    );
    sim.see_witness(0, false);
    sim.see_witness(1, false);
    sim.run_for(secs(10.0));
    assert!(sim.masters().is_empty(), "nobody holds it");
    sim.see_witness(0, true);
    sim.see_witness(1, true);
    sim.run_for(secs(10.0));
    assert_eq!(sim.masters(), vec![0]);
}

#[test]
fn witness_reports_are_ignored_without_the_option() {
    let run = |report: bool| {
        let mut sim = Sim::cluster(&[Spec::host(1), Spec::host(2).skew(100)], secs(1.0), 82);
        for step in 0..200 {
            if report {
                let now = sim.now;
                for i in 0..2 {
                    sim.nodes[i].carp.handle_witness(now, step % 3 == 0);
                    sim.settle(i);
                }
            }
            if step == 50 {
                sim.crash(0);
            }
            sim.run_for(secs(0.1));
        }
        sim.nodes.iter().map(|n| n.did.clone()).collect::<Vec<_>>()
    };
    assert_eq!(run(false), run(true));
}

/// A master frozen for less than a dead time (a VM paused 1 s) sent no probe meanwhile:
/// that silence is no loss of the witness. It goes on as master without a demotion, a
/// bow-out or a move of the address, as it does without `--witness`. The prober used to
/// count the stall as 16 unanswered probe periods and start a handover at the thaw.
#[test]
fn witness_a_short_freeze_is_no_loss_of_the_witness() {
    for freeze in [0.6, 1.0, 2.5] {
        let mut sim = Sim::cluster(
            &[Spec::host(1).witness(), Spec::host(2).skew(100).witness()],
            secs(5.0),
            83,
        );
        assert_eq!(sim.masters(), vec![0]);
        sim.freeze(0);
        sim.run_for(secs(freeze));
        sim.thaw(0);
        sim.run_for(secs(10.0));
        assert_eq!(sim.masters(), vec![0], "{freeze}");
        assert!(
            sim.nodes[1].ups().is_empty(),
            "{freeze}: the address never moved"
        );
        assert!(
            sim.nodes[0].adverts().iter().all(|(_, a)| a.advbase != 255),
            "{freeze}: no bow-out"
        );
        let demoted = Event::Demotion {
            demotion: ucarp::state::Demotion::NoWitness,
            on: true,
        };
        assert_eq!(logged_times(&sim, 0, &demoted), 0, "{freeze}");
    }
}

/// After a stall, a witness that really is gone is still lost: a loss time after the
/// first probe that went out again; the master hands over, and releases by its release
/// time after the last answer, or at once if that is past.
#[test]
fn witness_lost_during_a_freeze_is_noticed_a_loss_time_after_the_thaw() {
    let mut sim = Sim::cluster(
        &[Spec::host(1).witness(), Spec::host(2).skew(100).witness()],
        secs(5.0),
        84,
    );
    sim.freeze(0);
    sim.see_witness(0, false);
    sim.run_for(secs(1.0));
    let thawed = sim.elapsed();
    sim.thaw(0);
    sim.run_for(secs(10.0));
    let down = *sim.nodes[0].downs().last().expect("released");
    assert!(
        down >= thawed + ucarp::state::witness_lost_after(1, 0, 3),
        "{down:?}"
    );
    let last_answer = thawed - secs(1.0);
    let release = last_answer + witness_release_after(1, 0, 3);
    assert!(down <= release.max(thawed + secs(0.51)), "{down:?}");
    assert_eq!(sim.masters(), vec![1]);
}
