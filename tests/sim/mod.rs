//! A virtual-clock simulation of CARP nodes on one shared wire, after quinn-proto's test
//! `Pair`: no sleeping, no sockets. Time jumps from one deadline or delivery to the
//! next. Frames cross the wire as bytes, through the real framing and receive checks,
//! so the simulation exercises everything the daemon will, except the syscalls.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ucarp::auth::Key;
use ucarp::event::Event;
use ucarp::frame::{advert_source_mac, multicast_mac, AdvertFrame};
use ucarp::packet::{Advert, CARP_MCAST_V4};
use ucarp::replay::ReplayGuard;
use ucarp::rx::{Receiver, RejectCounters, VrrpReceiver};
use ucarp::state::{
    Action, Advertisement, Carp, CarpConfig, Config, Protocol, State, Transition, VrrpConfig,
    WitnessSchedule,
};
use ucarp::vrrp::{emit_vrrp_frame, vrrp_source_mac, VrrpAdvert, MAX_VRRP_FRAME_LEN};

pub const VHID: u8 = 7;
pub const PASSWORD: &[u8] = b"secret";
pub const VADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 100);

/// How one node is configured.
#[derive(Debug, Clone)]
pub struct Spec {
    pub srcip: Ipv4Addr,
    pub advbase: u8,
    pub advskew: u8,
    pub deadratio: u32,
    pub preempt: bool,
    pub neutral: bool,
    /// `--replay-window`: sequential counters and a replay guard on receipt.
    pub replay_window: Option<usize>,
    /// How long its up script runs: a claim (an advert the core asks to send after
    /// the scripts) waits that long, as the daemon holds it.
    pub up_script: Duration,
    /// `--preempt-delay`.
    pub preempt_delay: Duration,
    /// `--witness`: the node probes a witness, which answers while the node sees it
    /// (see [`Sim::see_witness`]).
    pub witness: bool,
    /// `--vrrp`: priority and interval in centiseconds; `None` for CARP.
    pub vrrp: Option<(u8, u16)>,
}

impl Spec {
    /// A node at 198.51.100.`n` with ucarp's defaults.
    pub fn host(n: u8) -> Spec {
        Spec {
            srcip: Ipv4Addr::new(198, 51, 100, n),
            advbase: 1,
            advskew: 0,
            deadratio: 3,
            preempt: false,
            neutral: false,
            replay_window: None,
            up_script: Duration::ZERO,
            preempt_delay: Duration::ZERO,
            witness: false,
            vrrp: None,
        }
    }

    /// A VRRPv3 node at 198.51.100.`n` with this priority and RFC 5798's 1 s interval.
    pub fn vrrp(n: u8, priority: u8) -> Spec {
        Spec {
            vrrp: Some((priority, 100)),
            ..Spec::host(n)
        }
    }

    /// The VRRP interval, in centiseconds.
    pub fn advert_int(mut self, cs: u16) -> Spec {
        if let Some((_, c)) = self.vrrp.as_mut() {
            *c = cs;
        }
        self
    }

    pub fn witness(mut self) -> Spec {
        self.witness = true;
        self
    }

    pub fn up_script(mut self, d: Duration) -> Spec {
        self.up_script = d;
        self
    }

    pub fn replay_window(mut self, n: usize) -> Spec {
        self.replay_window = Some(n);
        self
    }

    pub fn skew(mut self, advskew: u8) -> Spec {
        self.advskew = advskew;
        self
    }

    pub fn base(mut self, advbase: u8) -> Spec {
        self.advbase = advbase;
        self
    }

    pub fn preempt(mut self) -> Spec {
        self.preempt = true;
        self
    }

    pub fn preempt_delay(mut self, d: Duration) -> Spec {
        self.preempt_delay = d;
        self
    }

    pub fn neutral(mut self) -> Spec {
        self.neutral = true;
        self
    }

    pub fn ip(mut self, ip: Ipv4Addr) -> Spec {
        self.srcip = ip;
        self
    }
}

/// What a node did, as the daemon would carry it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Did {
    Up(Transition),
    Down(Transition),
    Advert(Advertisement),
    Garp,
    /// An authenticated advert from this source was handed to the state machine.
    Heard(std::net::IpAddr),
    Log(Event),
    Exit,
}

/// A node's receive checks: CARP's or VRRP's.
pub enum Rx {
    Carp(Receiver),
    Vrrp(VrrpReceiver),
}

pub struct Node {
    pub spec: Spec,
    pub carp: Carp,
    pub rx: Rx,
    /// False once crashed: sends nothing, hears nothing, its timers are ignored.
    pub alive: bool,
    /// When true, every advert send is reported as failed.
    pub send_fails: bool,
    /// Everything it did, stamped with virtual time since the simulation began.
    pub did: Vec<(Duration, Did)>,
    pub rejects: RejectCounters,
    pub replay: Option<ReplayGuard>,
    /// When the running up script ends.
    up_until: Option<Instant>,
    /// A claim held until the up script ends.
    claim: Option<(Instant, Advertisement)>,
    /// With a witness: whether it answers this node's probes.
    pub sees_witness: bool,
    /// Cut off from the wire: it sends nothing that arrives, and hears nothing.
    pub isolated: bool,
    /// The prober's schedule, the daemon's own.
    witness: Option<WitnessSchedule>,
}

impl Node {
    pub fn state(&self) -> State {
        self.carp.state()
    }

    /// Times of the up script runs.
    pub fn ups(&self) -> Vec<Duration> {
        self.did
            .iter()
            .filter(|(_, d)| matches!(d, Did::Up(_)))
            .map(|(t, _)| *t)
            .collect()
    }

    /// Times of the down script runs.
    pub fn downs(&self) -> Vec<Duration> {
        self.did
            .iter()
            .filter(|(_, d)| matches!(d, Did::Down(_)))
            .map(|(t, _)| *t)
            .collect()
    }

    /// The prober's next deadline: a probe, or the loss of the witness.
    fn witness_deadline(&self) -> Option<Instant> {
        self.witness
            .as_ref()
            .and_then(WitnessSchedule::poll_timeout)
    }

    /// The VRRP adverts it sent, with their times.
    pub fn vrrp_adverts(&self) -> Vec<(Duration, VrrpAdvert)> {
        self.did
            .iter()
            .filter_map(|(t, d)| match d {
                Did::Advert(Advertisement::Vrrp(a)) => Some((*t, *a)),
                _ => None,
            })
            .collect()
    }

    /// The adverts it sent, with their times.
    pub fn adverts(&self) -> Vec<(Duration, Advert)> {
        self.did
            .iter()
            .filter_map(|(t, d)| match d {
                Did::Advert(Advertisement::Carp(a)) => Some((*t, *a)),
                _ => None,
            })
            .collect()
    }
}

/// A frame on the wire: delivered to node `to` at `at`. `seq` keeps FIFO order among
/// equal times.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Instant,
    seq: u64,
    to: usize,
    frame: Vec<u8>,
}

pub struct Sim {
    pub t0: Instant,
    pub now: Instant,
    pub nodes: Vec<Node>,
    /// Probability that one frame to one receiver is lost.
    pub loss: f64,
    /// One-way delay of every frame.
    pub delay: Duration,
    /// Probability that a witness's answer (or the probe) is lost.
    pub witness_loss: f64,
    wire: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    rng: u64,
}

impl Sim {
    pub fn new(seed: u64) -> Sim {
        #[allow(clippy::disallowed_methods)] // the one clock read: the origin
        let t0 = Instant::now();
        Sim {
            t0,
            now: t0,
            nodes: Vec::new(),
            loss: 0.0,
            delay: Duration::ZERO,
            witness_loss: 0.0,
            wire: BinaryHeap::new(),
            seq: 0,
            // Spread nearby seeds apart; xorshift needs a non-zero state.
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        }
    }

    /// A simulation seeded with `seed` whose nodes start together and settle for
    /// `settle`.
    pub fn cluster(specs: &[Spec], settle: Duration, seed: u64) -> Sim {
        let mut sim = Sim::new(seed);
        for s in specs {
            sim.start(s.clone());
        }
        sim.run_for(settle);
        sim
    }

    /// Starts a node now; returns its index.
    pub fn start(&mut self, spec: Spec) -> usize {
        let key = Key::new(PASSWORD).unwrap();
        let cfg = Config {
            iface: "sim0".into(),
            vhid: VHID,
            preempt: spec.preempt,
            neutral: spec.neutral,
            srcip: spec.srcip.into(),
            preempt_delay: spec.preempt_delay,
            witness: spec.witness,
            protocol: match spec.vrrp {
                Some((priority, interval_cs)) => Protocol::Vrrp(VrrpConfig {
                    priority,
                    interval_cs,
                }),
                None => Protocol::Carp(CarpConfig {
                    advbase: spec.advbase,
                    advskew: spec.advskew,
                    deadratio: spec.deadratio,
                    signer: key.signer(VHID, &[VADDR.into()]),
                    sequential_counters: spec.replay_window.is_some(),
                }),
            },
        };
        let timing = cfg.witness_timing();
        let seed = self.next_random();
        let carp = Carp::new(cfg, self.now, seed).unwrap();
        let rx = match spec.vrrp {
            Some(_) => Rx::Vrrp(VrrpReceiver {
                srcip: spec.srcip.into(),
                vrid: VHID,
                group: CARP_MCAST_V4.into(),
                peers: Vec::new(),
                addresses: vec![VADDR.into()],
            }),
            None => Rx::Carp(Receiver {
                srcip: spec.srcip.into(),
                vhid: VHID,
                group: CARP_MCAST_V4.into(),
                peers: Vec::new(),
                signer: key.signer(VHID, &[VADDR.into()]),
            }),
        };
        let replay = spec.replay_window.map(ReplayGuard::new);
        let witness = spec.witness.then(|| WitnessSchedule::new(timing, self.now));
        self.nodes.push(Node {
            sees_witness: true,
            isolated: false,
            witness,
            replay,
            spec,
            carp,
            rx,
            alive: true,
            send_fails: false,
            did: Vec::new(),
            rejects: RejectCounters::default(),
            up_until: None,
            claim: None,
        });
        let i = self.nodes.len() - 1;
        self.drain(i);
        i
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// xorshift64*: the wire's own randomness, seeded.
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn lost(&mut self) -> bool {
        self.loss > 0.0 && (self.next_random() >> 11) as f64 / (1u64 << 53) as f64 <= self.loss
    }

    /// Runs every event up to and including `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            let next_frame = self.wire.peek().map(|Reverse(f)| f.at);
            let next_timer = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.alive)
                .flat_map(|(i, n)| {
                    let claim = n.claim.map(|(at, _)| at);
                    [n.carp.poll_timeout(), claim, n.witness_deadline()]
                        .into_iter()
                        .flatten()
                        .map(move |t| (t, i))
                })
                .min();
            // Frames first at equal times: what is already on the wire arrives before
            // a timer that fires at the same instant.
            match (next_frame, next_timer) {
                (Some(f), t) if f <= until && t.is_none_or(|(t, _)| f <= t) => {
                    let Reverse(frame) = self.wire.pop().unwrap();
                    self.now = frame.at;
                    self.deliver(frame.to, &frame.frame);
                }
                (_, Some((t, i))) if t <= until => {
                    assert!(t >= self.now, "deadline in the past: the core would spin");
                    self.now = t;
                    if self.nodes[i].witness_deadline().is_some_and(|w| w <= t) {
                        self.witness_timeout(i);
                        self.drain(i);
                        continue;
                    }
                    if self.nodes[i].claim.is_some_and(|(at, _)| at <= t) {
                        let (_, advert) = self.nodes[i].claim.take().unwrap();
                        self.send(i, advert);
                        self.drain(i);
                        continue;
                    }
                    self.nodes[i].carp.handle_timeout(t);
                    self.drain(i);
                    let after = self.nodes[i].carp.poll_timeout();
                    assert!(
                        after.is_none_or(|a| a > t),
                        "handle_timeout left a due deadline: spin"
                    );
                }
                _ => break,
            }
        }
        self.now = until;
    }

    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// The prober of node `i` at its deadline: the loss of the witness, then the probe,
    /// which the witness answers at once while the node sees it.
    fn witness_timeout(&mut self, i: usize) {
        let now = self.now;
        let answer_lost = self.witness_loss > 0.0
            && (self.next_random() >> 11) as f64 / (1u64 << 53) as f64 <= self.witness_loss;
        let n = &mut self.nodes[i];
        let Some(schedule) = n.witness.as_mut() else {
            return;
        };
        let tick = schedule.handle_timeout(now);
        if tick.lost {
            n.carp.handle_witness(now, false);
        }
        if tick.probe && n.sees_witness && !answer_lost {
            schedule.answered(now);
            n.carp.handle_witness(now, true);
        }
    }

    /// Whether the witness answers node `i` from now on.
    pub fn see_witness(&mut self, i: usize, on: bool) {
        self.nodes[i].sees_witness = on;
    }

    /// Cuts node `i` off from the wire and from the witness (a partition), or heals it.
    pub fn isolate(&mut self, i: usize, on: bool) {
        self.nodes[i].isolated = on;
        self.nodes[i].sees_witness = !on;
    }

    fn deliver(&mut self, to: usize, frame: &[u8]) {
        let now = self.now;
        let node = &mut self.nodes[to];
        if !node.alive || node.isolated {
            return;
        }
        // As the daemon: the receive checks, then the replay guard.
        let verdict = match &node.rx {
            Rx::Carp(rx) => rx
                .accept(frame)
                .and_then(|v| ucarp::rx::admit(node.replay.as_mut(), v))
                .map(|v| v.map(|v| (v.src(), Ok(v)))),
            Rx::Vrrp(rx) => rx.accept(frame).map(|v| Some((v.src(), Err(v)))),
        };
        match verdict {
            Ok(None) => {}
            Ok(Some((src, heard))) => {
                let t = now - self.t0;
                node.did.push((t, Did::Heard(src)));
                match heard {
                    Ok(v) => node.carp.handle_advert(now, &v),
                    Err(v) => node.carp.handle_vrrp_advert(now, &v),
                }
                self.drain(to);
            }
            Err(e) => node.rejects.add(e.reason()),
        }
    }

    /// Puts a frame on the wire from outside any node, to every live node.
    pub fn inject(&mut self, frame: Vec<u8>) {
        for to in 0..self.nodes.len() {
            self.seq += 1;
            self.wire.push(Reverse(InFlight {
                at: self.now + self.delay,
                seq: self.seq,
                to,
                frame: frame.clone(),
            }));
        }
    }

    /// Carries out node `i`'s queued actions, as the daemon would.
    fn drain(&mut self, i: usize) {
        while let Some(action) = self.nodes[i].carp.poll_action() {
            let t = self.elapsed();
            let now = self.now;
            let did = match action {
                Action::SendAdvert {
                    advert,
                    after_scripts: true,
                } if self.nodes[i].up_until.is_some_and(|u| u > now) => {
                    let until = self.nodes[i].up_until.unwrap_or(now);
                    self.nodes[i].claim = Some((until, advert));
                    continue;
                }
                Action::SendAdvert { advert, .. } => {
                    self.send(i, advert);
                    continue;
                }
                Action::SendGratuitousArp => Did::Garp,
                Action::RunUp(t) => {
                    self.nodes[i].up_until = Some(now + self.nodes[i].spec.up_script);
                    Did::Up(t)
                }
                Action::RunDown(t) => {
                    // The daemon drops a claim still waiting when the down script comes.
                    self.nodes[i].claim = None;
                    Did::Down(t)
                }
                Action::Log(e) => Did::Log(e),
                Action::Exit => {
                    // The process exits: it hears nothing more.
                    self.nodes[i].alive = false;
                    Did::Exit
                }
            };
            self.nodes[i].did.push((t, did));
        }
    }

    /// Sends an advert of node `i` now and reports the result to it, as the daemon does.
    fn send(&mut self, i: usize, advert: Advertisement) {
        if let (Some(g), Advertisement::Carp(a)) = (&mut self.nodes[i].replay, advert) {
            g.note_sent(a.counter);
        }
        let ok = !self.nodes[i].send_fails;
        if ok {
            self.broadcast(i, advert);
        }
        let now = self.now;
        self.nodes[i].carp.handle_send_result(now, ok);
        let t = self.elapsed();
        self.nodes[i].did.push((t, Did::Advert(advert)));
    }

    fn broadcast(&mut self, from: usize, advert: Advertisement) {
        let ip_id = self.next_random() as u16;
        let frame = match advert {
            Advertisement::Carp(advert) => frame_from(self.nodes[from].spec.srcip, advert, ip_id),
            Advertisement::Vrrp(advert) => {
                vrrp_frame_from(self.nodes[from].spec.srcip, advert, ip_id)
            }
        };
        for to in 0..self.nodes.len() {
            if to == from || self.nodes[from].isolated || self.lost() {
                continue;
            }
            self.seq += 1;
            self.wire.push(Reverse(InFlight {
                at: self.now + self.delay,
                seq: self.seq,
                to,
                frame: frame.clone(),
            }));
        }
    }

    /// Indexes of the live nodes that are MASTER.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive && self.nodes[i].state() == State::Master)
            .collect()
    }

    /// Crashes node `i`: from now on it neither sends nor hears anything.
    pub fn crash(&mut self, i: usize) {
        self.nodes[i].alive = false;
    }

    /// Freezes node `i` (a paused VM, SIGSTOP with its frames dropped): it neither sends
    /// nor hears anything, and its timers wait, until [`thaw`](Self::thaw).
    pub fn freeze(&mut self, i: usize) {
        self.nodes[i].alive = false;
    }

    /// Releases a frozen node, as SIGCONT wakes the daemon: its overdue timers fire at
    /// once, at the current time.
    pub fn thaw(&mut self, i: usize) {
        self.nodes[i].alive = true;
        let now = self.now;
        // The daemon's order: the prober, then the machine.
        if self.nodes[i].witness_deadline().is_some_and(|t| t <= now) {
            self.witness_timeout(i);
        }
        if self.nodes[i].carp.poll_timeout().is_some_and(|t| t <= now) {
            self.nodes[i].carp.handle_timeout(now);
        }
        self.drain(i);
    }

    /// Drains node `i` after the test called one of its handlers directly.
    pub fn settle(&mut self, i: usize) {
        self.drain(i);
    }
}

/// Frames an advert as a ucarp node at `src` would.
pub fn frame_from(src: Ipv4Addr, advert: Advert, ip_id: u16) -> Vec<u8> {
    let mut buf = vec![0; AdvertFrame::LEN];
    AdvertFrame {
        dst_mac: multicast_mac(CARP_MCAST_V4),
        src_mac: advert_source_mac(advert.vhid),
        src,
        dst: CARP_MCAST_V4,
        ip_id,
        advert,
    }
    .emit(&mut buf);
    buf
}

/// A VRRPv3 advert's frame from `src` to the group, listing the simulation's VIP.
pub fn vrrp_frame_from(src: Ipv4Addr, advert: VrrpAdvert, ip_id: u16) -> Vec<u8> {
    let mut buf = vec![0; MAX_VRRP_FRAME_LEN];
    let len = emit_vrrp_frame(
        &mut buf,
        multicast_mac(CARP_MCAST_V4),
        vrrp_source_mac(advert.vrid, false),
        src.into(),
        CARP_MCAST_V4.into(),
        ip_id,
        advert,
        &[VADDR.into()],
    );
    buf.truncate(len);
    buf
}

/// A correctly signed advert for the simulation's vhid, VIP and password.
pub fn signed_advert(advbase: u8, advskew: u8, counter: u64) -> Advert {
    let key = Key::new(PASSWORD).unwrap();
    Advert {
        vhid: VHID,
        advbase,
        advskew,
        counter,
        md: key.sign(VHID, VADDR, &counter.to_be_bytes()),
    }
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
