//! The schedule: a seeded sequence of faults, drawn before anything runs, so every
//! pass (ours, all-ucarp) meets the same faults in the same order with the same
//! durations. Targets that depend on the run ("the master") are resolved when the step
//! starts.
//!
//! The generator is a hand-written SplitMix64 rather than the `rand` crate: a seed
//! must draw the same schedule in every future version of this harness, which a
//! dependency's algorithm does not promise.

use std::fmt;
use std::time::Duration;

/// SplitMix64: small, fast, and its sequence is fixed by its definition.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// A duration in `lo_ms..=hi_ms` milliseconds.
    pub fn millis(&mut self, lo_ms: u64, hi_ms: u64) -> Duration {
        Duration::from_millis(self.between(lo_ms, hi_ms))
    }

    /// True with probability `percent` %.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.between(1, 100) <= percent
    }
}

/// The kinds of fault, as the issue lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `kill -9`; the node's address goes with it, as with a host that crashed; restart.
    Crash,
    /// TERM (the nodes run with `-z`); restart.
    Term,
    /// SIGUSR2, then SIGUSR2 again.
    Usr2,
    /// SIGSTOP with every frame to and from the node dropped; both released at once.
    Freeze,
    /// The node's link cut, then healed.
    Cut,
    /// The node's carrier toggled many times quickly, ending up.
    Flap,
    /// A share of every frame on the bridge dropped.
    Loss,
    /// The nodes (and the observer) split into two groups that cannot hear each other.
    Partition,
    /// The best backup's next up script hangs; the master is sent SIGUSR2 so that the
    /// backup must take over; SIGUSR2 again at the end.
    Hang,
    /// The node's health check fails (ours only: ucarp has none), then passes again.
    Sick,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Crash,
        Kind::Term,
        Kind::Usr2,
        Kind::Freeze,
        Kind::Cut,
        Kind::Flap,
        Kind::Loss,
        Kind::Partition,
        Kind::Hang,
        Kind::Sick,
    ];

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Crash => "crash",
            Kind::Term => "term",
            Kind::Usr2 => "usr2",
            Kind::Freeze => "freeze",
            Kind::Cut => "cut",
            Kind::Flap => "flap",
            Kind::Loss => "loss",
            Kind::Partition => "partition",
            Kind::Hang => "hang",
            Kind::Sick => "sick",
        }
    }

    /// Faults of the network (or of a node's view of it), during which two holders
    /// are expected: they end at most one dead time after the heal.
    pub fn splits(self) -> bool {
        matches!(
            self,
            Kind::Freeze | Kind::Cut | Kind::Flap | Kind::Loss | Kind::Partition
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which node a step hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Whoever holds the address when the step starts (node 0 if nobody or several).
    Master,
    Node(usize),
}

/// One fault: what, to whom, for how long, and how long to watch the calm after it.
#[derive(Debug, Clone)]
pub struct Step {
    /// From 1, as printed and as `--step` takes it.
    pub index: usize,
    pub kind: Kind,
    pub target: Target,
    /// From the fault to its end (the heal, the restart, the second signal).
    pub hold: Duration,
    /// After the settle bound, how long exactly one holder must be seen.
    pub quiet: Duration,
    /// `Loss`: the share of frames dropped, in %.
    pub loss_percent: u64,
    /// `Partition`: each node's side; the observer is on side `false`.
    pub sides: Vec<bool>,
    /// `Flap`: how long each carrier state lasts, in order, starting with down.
    pub flaps: Vec<Duration>,
}

impl Step {
    /// How long the step takes at most, given the settle bound of its kind.
    pub fn planned(&self, bound: Duration) -> Duration {
        self.hold + bound + self.quiet
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} {}", self.index, self.kind)?;
        match self.target {
            Target::Master => write!(f, " master")?,
            Target::Node(n) => write!(f, " h{n}")?,
        }
        match self.kind {
            Kind::Loss => write!(f, " {}%", self.loss_percent)?,
            Kind::Partition => {
                let side: Vec<String> = (0..self.sides.len())
                    .filter(|&n| self.sides[n])
                    .map(|n| format!("h{n}"))
                    .collect();
                write!(f, " [{}] cut off", side.join(","))?
            }
            Kind::Flap => write!(f, " x{}", self.flaps.len())?,
            _ => {}
        }
        write!(f, " for {:.1} s", self.hold.as_secs_f64())
    }
}

/// Draws steps from `seed` for `nodes` nodes until their planned time would pass
/// `budget`; `bound` gives each kind's settle bound; only `kinds` are drawn. At least
/// one step.
pub fn plan(
    seed: u64,
    nodes: usize,
    kinds: &[Kind],
    budget: Duration,
    bound: impl Fn(Kind) -> Duration,
) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let mut steps = Vec::new();
    let mut used = Duration::ZERO;
    loop {
        let step = draw(&mut rng, steps.len() + 1, nodes, kinds);
        let planned = step.planned(bound(step.kind));
        if !steps.is_empty() && used + planned > budget {
            return steps;
        }
        used += planned;
        steps.push(step);
    }
}

fn draw(rng: &mut Rng, index: usize, nodes: usize, kinds: &[Kind]) -> Step {
    let kind = kinds[rng.between(0, kinds.len() as u64 - 1) as usize];
    let target = if rng.chance(70) {
        Target::Master
    } else {
        Target::Node(rng.between(0, nodes as u64 - 1) as usize)
    };
    // A hang needs a handover: it always starts at the master (the draw above still
    // happens, so that the rest of the schedule stays as it was).
    let target = if kind == Kind::Hang {
        Target::Master
    } else {
        target
    };
    let mut flaps = Vec::new();
    let hold = match kind {
        Kind::Crash | Kind::Term => rng.millis(1_000, 5_000),
        Kind::Freeze => rng.millis(1_000, 10_000),
        Kind::Flap => {
            // An even number of toggles, so the storm ends with the carrier up.
            let n = 2 * rng.between(3, 10);
            flaps = (0..n).map(|_| rng.millis(50, 300)).collect();
            flaps.iter().sum()
        }
        Kind::Hang => rng.millis(5_000, 12_000),
        Kind::Usr2 | Kind::Cut | Kind::Loss | Kind::Partition | Kind::Sick => {
            rng.millis(2_000, 8_000)
        }
    };
    let loss_percent = rng.between(10, 40);
    // Both sides non-empty: draw until some node is cut off and some is not.
    let sides = loop {
        let sides: Vec<bool> = (0..nodes).map(|_| rng.chance(50)).collect();
        if sides.iter().any(|&s| s) && sides.iter().any(|&s| !s) {
            break sides;
        }
    };
    Step {
        index,
        kind,
        target,
        hold,
        quiet: rng.millis(1_000, 3_000),
        loss_percent,
        sides,
        flaps,
    }
}
