//! The invariants, judged on what the observer recorded, and the numbers per step:
//!
//! * once a step's fault has settled (its end plus its bound: one dead time plus
//!   100 ms, more for faults that take longer by design), exactly one node holds the
//!   address until the next step; a make-before-break handover may show two holders
//!   for at most [`OVERLAP`] ([`OVERLAP_UCARP`] with ucarp in the cluster);
//! * once settled, the address answers the observer's pings (no gap over
//!   [`OVERLAP`]);
//! * outside the faults that split the network, two holders never last longer than
//!   [`OVERLAP`];
//! * every life of every node runs its scripts alternately, down first (the startup
//!   down script);
//! * (checked while running, by `Cluster::health`) no daemon dies unasked, and every
//!   state file parses.

use std::time::{Duration, Instant};

use crate::plan::{Kind, Step};
use crate::watch::{Timeline, PING_EVERY};

/// How long two nodes of ours may both hold the address in a planned make-before-break
/// handover: the new master's claim, then the old one's down script.
pub const OVERLAP: Duration = Duration::from_millis(250);

/// The same with ucarp in the cluster: a ucarp master steps down only when it next
/// reads its capture, up to one advert interval after the claim.
pub const OVERLAP_UCARP: Duration = Duration::from_millis(1_250);

/// One step as it ran.
pub struct Run {
    pub step: Step,
    /// The node it hit.
    pub target: usize,
    /// False when the fault does not apply (a health check on ucarp).
    pub applied: bool,
    pub start: Instant,
    /// `start` in seconds since the epoch, as logs and captures show time.
    pub wall: f64,
    /// When the fault ended.
    pub heal: Instant,
    /// When exactly one holder must be seen from.
    pub settle_by: Instant,
    pub end: Instant,
    /// What `Cluster::health` and the restarts reported during the step.
    pub problems: Vec<String>,
    /// How long a handover may show two holders ([`OVERLAP`] or [`OVERLAP_UCARP`]).
    pub overlap: Duration,
}

/// A step's numbers and broken invariants.
pub struct Verdict {
    pub index: usize,
    pub kind: Kind,
    pub applied: bool,
    /// The longest time the address did not answer the observer, in ms.
    pub outage_ms: u64,
    /// How long two or more nodes held the address, in ms.
    pub two_ms: u64,
    pub broken: Vec<String>,
}

/// (from, to, holders) for the whole timeline, starting with nobody at `origin`.
fn segments(t: &Timeline, origin: Instant, until: Instant) -> Vec<(Instant, Instant, usize)> {
    let mut out = Vec::new();
    let mut holding = vec![false; t.current.len()];
    let mut from = origin;
    for &(at, node, holds) in &t.holds {
        if at > from {
            out.push((from, at, holding.iter().filter(|&&h| h).count()));
            from = at;
        }
        holding[node] = holds;
    }
    if until > from {
        out.push((from, until, holding.iter().filter(|&&h| h).count()));
    }
    out
}

/// `i` as the step's messages say it: into the fault, or after it ended.
fn when(run: &Run, i: Instant) -> String {
    if i >= run.heal {
        format!(
            "{:.2} s after the fault ended",
            (i - run.heal).as_secs_f64()
        )
    } else {
        format!("{:.2} s into the fault", (i - run.start).as_secs_f64())
    }
}

/// The episodes with two or more holders: (from, to, most holders at once).
fn episodes(segs: &[(Instant, Instant, usize)]) -> Vec<(Instant, Instant, usize)> {
    let mut out: Vec<(Instant, Instant, usize)> = Vec::new();
    for &(from, to, n) in segs.iter().filter(|s| s.2 >= 2) {
        match out.last_mut() {
            Some(last) if last.1 == from => {
                last.1 = to;
                last.2 = last.2.max(n);
            }
            _ => out.push((from, to, n)),
        }
    }
    out
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Judges one step on the timeline; `origin` is when the cluster started.
pub fn judge(run: &Run, t: &Timeline, origin: Instant) -> Verdict {
    let mut broken = run.problems.clone();
    let segs = segments(t, origin, run.end);
    let mut two = Duration::ZERO;
    for &(from, to, n) in &segs {
        let (a, b) = (from.max(run.start), to.min(run.end));
        if b <= a {
            continue;
        }
        if n >= 2 {
            two += b - a;
        }
        if n == 0 && b > run.settle_by {
            let a2 = a.max(run.settle_by);
            broken.push(format!(
                "no holder for {} ms from {}",
                ms(b - a2),
                when(run, a2)
            ));
        }
    }
    // Two holders or more, as whole episodes (2 then 3 then 2 holders is one): fine for
    // a handover's overlap, and while a split lasts and up to its bound after; never
    // otherwise.
    for (from, to, n) in episodes(&segs) {
        if to <= run.start || from >= run.end {
            continue;
        }
        if to - from > run.overlap && (!run.step.kind.splits() || to > run.settle_by) {
            broken.push(format!(
                "up to {n} holders for {} ms from {}",
                ms(to - from),
                when(run, from.max(run.start))
            ));
        }
    }
    broken.dedup();
    // The observer's view: the longest time without a reply.
    let mut last = run.start;
    let mut worst = Duration::ZERO;
    for &r in t.replies.iter().filter(|&&r| r > run.start && r <= run.end) {
        worst = worst.max(r - last);
        last = r;
    }
    worst = worst.max(run.end - last);
    // And once settled, the address answers: a holder the observer cannot reach (its
    // ARP never announced, or announced by another) is no holder.
    let mut last = run.settle_by;
    for &r in t
        .replies
        .iter()
        .filter(|&&r| r > run.settle_by && r <= run.end)
    {
        if r - last > run.overlap {
            broken.push(format!(
                "no reply for {} ms from {:.2} s after the fault ended",
                ms(r - last),
                (last - run.heal).as_secs_f64()
            ));
        }
        last = r;
    }
    if run.end > last && run.end - last > run.overlap {
        broken.push(format!(
            "no reply for the last {} ms of the step",
            ms(run.end - last)
        ));
    }
    Verdict {
        index: run.step.index,
        kind: run.step.kind,
        applied: run.applied,
        outage_ms: ms(worst.saturating_sub(PING_EVERY)),
        two_ms: ms(two),
        broken,
    }
}

/// The script-order invariant over a node's whole log: each life (`LIFE`) runs its
/// down script first and then alternates.
pub fn scripts_alternate(node: usize, log: &str) -> Vec<String> {
    let mut broken = Vec::new();
    let mut life = 0;
    let mut last: Option<&str> = None;
    for line in log.lines() {
        match line {
            "LIFE" => {
                life += 1;
                last = None;
            }
            "UP" | "DOWN" => {
                let expected = match last {
                    None => "DOWN",
                    Some("DOWN") => "UP",
                    Some(_) => "DOWN",
                };
                if line != expected {
                    broken.push(format!(
                        "h{node}, life {life}: {line} after {}",
                        last.unwrap_or("start")
                    ));
                }
                last = Some(line);
            }
            _ => {}
        }
    }
    broken
}

/// Median and worst of some numbers.
pub fn median_worst(mut v: Vec<u64>) -> Option<(u64, u64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some((v[v.len() / 2], v[v.len() - 1]))
}
