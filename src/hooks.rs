//! The up and down scripts (docs/PROTOCOL.md §7), run without ever blocking the loop, and the
//! frames that must wait for them.
//!
//! Scripts run one at a time, in the order the state machine asked for them: a down
//! script waits for a running up script. A gratuitous ARP or a takeover advert queued
//! behind a script goes out only when the script has finished, so the address it
//! announces is in place (make-before-break: a peer that hands over on hearing our
//! first advert removes its copy only once ours exists). Regular adverts never wait.
//!
//! The queue never holds more than one pending script: a script queued behind a
//! running one is cancelled by the opposite script (up then down, or down then up),
//! which leaves the address as the last event wants it and keeps every up followed by
//! a down. A down script also drops the GARPs and the claim of the master period it
//! ends. A script that runs longer than the timeout has its process group sent
//! SIGTERM, then SIGKILL a second later; the timeout is also what bounds a claim
//! waiting for it. Each script's [`Outcome`] is handed back before anything queued
//! behind it, so the caller can act on a failure (drop the claim, retry a down
//! script) before those frames go out.
//!
//! Like ucarp: executed directly, without a shell and without a PATH search (a bare
//! name is relative to the working directory), `argv` = path, interface, the `-a`
//! string as typed, and `-x` only when given; environment and stdio inherited. Unlike
//! ucarp: each script runs in its own process group, its exit status is logged, and
//! its environment also says what happened: `UCARP_STATE` (the new state),
//! `UCARP_REASON` (see [`crate::state::Reason::name`]), `UCARP_VHID`, and `UCARP_PEER`
//! (the source address of the advert that caused it, when one did).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::config::Config;
use crate::state::Advertisement;
use crate::state::Transition;

/// How long a timed-out script gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(1);

/// Which script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Run on becoming master: add the address.
    Up,
    /// Run on becoming backup: remove the address.
    Down,
}

impl Script {
    /// Returns `up` or `down`, for logs and the state file.
    pub fn name(self) -> &'static str {
        match self {
            Script::Up => "up",
            Script::Down => "down",
        }
    }
}

/// Work that must happen in order, after the scripts queued before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Run a script for a transition.
    Run(Script, Transition),
    /// Send a gratuitous ARP.
    Garp,
    /// Send the first advert after a takeover from a live master (the claim), once the
    /// jobs before it are done.
    Advert(Advertisement),
}

/// How a script ended, over all its runs (one per virtual address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every run exited with status 0 (or no script is configured).
    Ok,
    /// A run exited non-zero, died of a signal, or could not be started.
    Failed,
    /// A run was still going at the timeout and was killed: it never finished its job.
    Killed,
}

impl Outcome {
    /// The worse of two outcomes.
    fn and(self, other: Outcome) -> Outcome {
        match (self, other) {
            (Outcome::Killed, _) | (_, Outcome::Killed) => Outcome::Killed,
            (Outcome::Failed, _) | (_, Outcome::Failed) => Outcome::Failed,
            _ => Outcome::Ok,
        }
    }
}

/// Something whose turn has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Send a gratuitous ARP now.
    Garp,
    /// Send this advert now.
    Advert(Advertisement),
    /// A script has run for every virtual address. Also reported when no such script
    /// is configured.
    Done {
        /// Which script.
        script: Script,
        /// How it went.
        outcome: Outcome,
        /// The transition it ran for.
        transition: Transition,
    },
}

/// A script being run once per virtual address, one address after the other.
#[derive(Debug, Clone, Copy)]
struct Current {
    script: Script,
    transition: Transition,
    /// The next virtual address to run it for.
    next: usize,
    outcome: Outcome,
}

#[derive(Debug)]
struct Running {
    child: Child,
    /// Killed for running too long: counts as a failure whatever its status.
    timed_out: bool,
    shown: String,
    /// When SIGTERM goes out, if it has not yet.
    term_at: Option<Instant>,
    /// When SIGKILL goes out, once SIGTERM has.
    kill_at: Option<Instant>,
}

/// The script queue and the one script that may be running.
#[derive(Debug)]
pub struct Hooks {
    iface: OsString,
    vaddr_args: Vec<OsString>,
    xparam: Option<OsString>,
    vhid: u8,
    up: Option<PathBuf>,
    down: Option<PathBuf>,
    timeout: Option<Duration>,
    queue: VecDeque<Job>,
    current: Option<Current>,
    running: Option<Running>,
}

impl Hooks {
    /// Prepares the scripts of a configuration.
    pub fn new(cfg: &Config) -> Hooks {
        Hooks {
            iface: OsString::from(&cfg.iface),
            vaddr_args: cfg.vaddr_args.clone(),
            xparam: cfg.xparam.clone(),
            vhid: cfg.vhid,
            up: cfg.upscript.clone().filter(|p| !p.as_os_str().is_empty()),
            down: cfg.downscript.clone().filter(|p| !p.as_os_str().is_empty()),
            timeout: cfg.script_timeout,
            queue: VecDeque::new(),
            current: None,
            running: None,
        }
    }

    /// Queues a job behind everything queued before it, cancelling a pending opposite
    /// script (see the module documentation).
    pub fn push(&mut self, job: Job) {
        if let Job::Run(script, _) = job {
            if script == Script::Down {
                self.queue.retain(|j| matches!(j, Job::Run(..)));
            }
            let pending = self.queue.iter().rposition(|j| matches!(j, Job::Run(..)));
            if let Some(at) = pending {
                if matches!(self.queue[at], Job::Run(s, _) if s != script) {
                    self.queue.truncate(at);
                    return;
                }
            }
        }
        self.queue.push_back(job);
    }

    /// Returns true when no script runs and nothing is queued.
    pub fn is_idle(&self) -> bool {
        self.running.is_none() && self.current.is_none() && self.queue.is_empty()
    }

    /// Returns true while an up script waits behind another script: the address is
    /// certainly not in place, so the node should not claim it yet.
    pub fn is_up_waiting(&self) -> bool {
        (self.running.is_some() || self.current.is_some())
            && self
                .queue
                .iter()
                .any(|j| matches!(j, Job::Run(Script::Up, _)))
    }

    /// Drops queued takeover adverts: a newer advert is about to go out.
    pub fn drop_adverts(&mut self) {
        self.queue.retain(|j| !matches!(j, Job::Advert(..)));
    }

    /// Returns true while a takeover advert waits behind a script.
    pub fn has_claim(&self) -> bool {
        self.queue.iter().any(|j| matches!(j, Job::Advert(..)))
    }

    /// Drops everything queued (the running script is left to finish on its own).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.current = None;
    }

    /// Starts what can start now: the next run of the current script, or the next
    /// job, and hands back what is due, in order: frames queued behind finished
    /// scripts, and each script's outcome once it has run for every address. It stops
    /// right after an outcome: call it again, once the outcome is acted on, for what
    /// follows.
    pub fn advance(&mut self, now: Instant) -> Vec<Due> {
        let mut due = Vec::new();
        while self.running.is_none() {
            if let Some(cur) = self.current.as_mut() {
                if cur.next < self.vaddr_args.len() {
                    let (script, t, i) = (cur.script, cur.transition, cur.next);
                    cur.next += 1;
                    if !self.spawn(script, &t, i, now) {
                        if let Some(cur) = self.current.as_mut() {
                            cur.outcome = cur.outcome.and(Outcome::Failed);
                        }
                    }
                } else {
                    due.push(Due::Done {
                        script: cur.script,
                        outcome: cur.outcome,
                        transition: cur.transition,
                    });
                    self.current = None;
                    break;
                }
                continue;
            }
            match self.queue.pop_front() {
                None => break,
                Some(Job::Garp) => due.push(Due::Garp),
                Some(Job::Advert(a)) => due.push(Due::Advert(a)),
                Some(Job::Run(script, transition)) => {
                    self.current = Some(Current {
                        script,
                        transition,
                        next: 0,
                        outcome: Outcome::Ok,
                    })
                }
            }
        }
        due
    }

    /// Returns when the running script must be signalled, if it runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.running.as_ref().and_then(|r| r.term_at.or(r.kill_at))
    }

    /// Signals the running script's process group when its time is up: SIGTERM at the
    /// timeout, SIGKILL [`KILL_GRACE`] later.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(r) = &mut self.running else {
            return;
        };
        if r.term_at.is_some_and(|t| t <= now) {
            r.term_at = None;
            r.timed_out = true;
            r.kill_at = now.checked_add(KILL_GRACE);
            let secs = self.timeout.map_or(0.0, |t| t.as_secs_f64());
            log::warn!(
                "[{}] still running after {secs} s: terminating its process group",
                r.shown
            );
            crate::process::signal_group(&r.child, Signal::SIGTERM);
        } else if r.kill_at.is_some_and(|t| t <= now) {
            r.kill_at = None;
            log::warn!("[{}] ignored SIGTERM: killing its process group", r.shown);
            crate::process::signal_group(&r.child, Signal::SIGKILL);
        }
    }

    /// Collects the running script if it has exited (call on SIGCHLD); its outcome
    /// is reported by [`advance`](Self::advance) once it ran for every address.
    pub fn reap(&mut self) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        let status = match running.child.try_wait() {
            Ok(None) => return,
            Ok(Some(status)) => Some(status),
            Err(e) => {
                log::warn!("Unable to wait for [{}]: {e}", running.shown);
                None
            }
        };
        match status.map(|s| (s.code(), s.signal())) {
            Some((Some(0), _)) => log::debug!("[{}] exited with status 0", running.shown),
            Some((Some(code), _)) => {
                log::warn!("[{}] exited with status {code}", running.shown)
            }
            Some((None, Some(sig))) => {
                log::warn!("[{}] was killed by signal {sig}", running.shown)
            }
            _ => {}
        }
        let outcome = if running.timed_out {
            Outcome::Killed
        } else if status.is_some_and(|s| s.success()) {
            Outcome::Ok
        } else {
            Outcome::Failed
        };
        self.running = None;
        if let Some(cur) = self.current.as_mut() {
            cur.outcome = cur.outcome.and(outcome);
        }
    }

    /// Runs `script` for virtual address `vaddr`; false when it could not be started.
    /// No script configured is a success with nothing to run.
    fn spawn(&mut self, script: Script, t: &Transition, vaddr: usize, now: Instant) -> bool {
        let path = match script {
            Script::Up => self.up.as_ref(),
            Script::Down => self.down.as_ref(),
        };
        let (Some(path), Some(vaddr_arg)) = (path, self.vaddr_args.get(vaddr)) else {
            return true;
        };
        let mut shown = format!(
            "{} {} {}",
            path.display(),
            self.iface.to_string_lossy(),
            vaddr_arg.to_string_lossy()
        );
        if let Some(x) = &self.xparam {
            shown.push(' ');
            shown.push_str(&x.to_string_lossy());
        }
        log::warn!("Spawning [{shown}]");
        let mut cmd = crate::process::command(path);
        cmd.arg(&self.iface)
            .arg(vaddr_arg)
            .args(self.xparam.as_ref())
            .env("UCARP_STATE", t.to.as_str())
            .env("UCARP_REASON", t.reason.name())
            .env("UCARP_VHID", self.vhid.to_string())
            .env(
                "UCARP_VIPS",
                self.vaddr_args.join(std::ffi::OsStr::new(" ")),
            );
        match t.peer {
            Some(peer) => cmd.env("UCARP_PEER", peer.to_string()),
            None => cmd.env_remove("UCARP_PEER"),
        };
        match cmd.spawn() {
            Ok(child) => {
                self.running = Some(Running {
                    child,
                    timed_out: false,
                    shown,
                    term_at: self.timeout.and_then(|t| now.checked_add(t)),
                    kill_at: None,
                });
                true
            }
            Err(e) => {
                log::error!("Unable to exec {shown}: {e}");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Reason, State};

    fn t() -> Transition {
        Transition {
            from: State::Backup,
            to: State::Master,
            reason: Reason::MasterDown,
            peer: None,
        }
    }

    fn hooks() -> Hooks {
        Hooks {
            iface: "eth0".into(),
            vaddr_args: vec!["192.0.2.100".into()],
            xparam: None,
            vhid: 7,
            up: None,
            down: None,
            timeout: None,
            queue: VecDeque::new(),
            current: None,
            running: None,
        }
    }

    /// Runs everything queued, reaping as SIGCHLD would, until the hooks are idle;
    /// returns all that became due, in order.
    fn run_to_idle(h: &mut Hooks) -> Vec<Due> {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut due = Vec::new();
        assert!(crate::testutil::wait_for(|| {
            h.reap();
            due.extend(h.advance(now));
            h.is_idle()
        }));
        due
    }

    fn kinds(h: &Hooks) -> Vec<&'static str> {
        h.queue
            .iter()
            .map(|j| match j {
                Job::Run(Script::Up, _) => "up",
                Job::Run(Script::Down, _) => "down",
                Job::Garp => "garp",
                Job::Advert(..) => "advert",
            })
            .collect()
    }

    #[test]
    fn opposite_pending_scripts_cancel_out() {
        let mut h = hooks();
        h.push(Job::Run(Script::Up, t()));
        h.push(Job::Garp);
        h.push(Job::Run(Script::Down, t()));
        assert!(kinds(&h).is_empty());
        h.push(Job::Run(Script::Down, t()));
        h.push(Job::Run(Script::Up, t()));
        assert!(kinds(&h).is_empty());
        h.push(Job::Run(Script::Up, t()));
        h.push(Job::Garp);
        assert_eq!(kinds(&h), ["up", "garp"]);
    }

    #[test]
    fn a_down_script_drops_the_frames_of_the_ending_master_period() {
        let mut h = hooks();
        h.push(Job::Garp);
        h.push(Job::Garp);
        h.push(Job::Run(Script::Down, t()));
        assert_eq!(kinds(&h), ["down"]);
    }

    #[test]
    fn frames_wait_for_the_script_before_them() {
        let mut h = hooks();
        h.up = Some(PathBuf::from("/bin/sleep"));
        h.xparam = None;
        h.iface = "0.3".into();
        h.vaddr_args = vec!["0".into()];
        h.push(Job::Run(Script::Up, t()));
        h.push(Job::Garp);
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        assert!(
            h.advance(now).is_empty(),
            "GARP went out before the script ended"
        );
        assert!(!h.is_idle());
        assert!(crate::testutil::wait_for(|| {
            h.reap();
            h.running.is_none()
        }));
        assert_eq!(
            h.advance(now),
            vec![Due::Done {
                script: Script::Up,
                outcome: Outcome::Ok,
                transition: t(),
            }]
        );
        // The outcome comes alone, so the caller can act on it before the GARP.
        assert_eq!(h.advance(now), vec![Due::Garp]);
        assert!(h.is_idle());
    }

    #[test]
    fn timed_out_scripts_are_terminated() {
        let mut h = hooks();
        h.up = Some(PathBuf::from("/bin/sleep"));
        h.iface = "60".into();
        h.vaddr_args = vec!["60".into()];
        h.timeout = Some(Duration::from_millis(1));
        h.push(Job::Run(Script::Up, t()));
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        h.advance(now);
        let deadline = h.poll_timeout().unwrap();
        h.handle_timeout(deadline);
        assert!(crate::testutil::wait_for(|| {
            h.reap();
            h.running.is_none()
        }));
        assert_eq!(
            h.advance(now),
            vec![Due::Done {
                script: Script::Up,
                outcome: Outcome::Killed,
                transition: t(),
            }]
        );
    }

    #[test]
    fn a_non_zero_exit_is_a_failure_not_a_kill() {
        let mut h = hooks();
        h.up = Some(PathBuf::from("/bin/false"));
        h.push(Job::Run(Script::Up, t()));
        let due = run_to_idle(&mut h);
        assert_eq!(
            due,
            vec![Due::Done {
                script: Script::Up,
                outcome: Outcome::Failed,
                transition: t(),
            }]
        );
    }

    #[test]
    fn a_claim_waits_for_the_up_script_and_a_down_drops_it() {
        let mut h = hooks();
        let advert = crate::packet::Advert {
            vhid: 7,
            advbase: 1,
            advskew: 0,
            counter: 1,
            md: [0; 20],
        };
        h.push(Job::Run(Script::Up, t()));
        h.push(Job::Advert(Advertisement::Carp(advert)));
        assert!(h.has_claim());
        assert_eq!(h.poll_timeout(), None, "a claim has no deadline of its own");
        h.push(Job::Run(Script::Down, t()));
        assert!(!h.has_claim());
    }

    /// With several virtual addresses each script runs once per address, in order,
    /// and frames queued behind it wait for the last run.
    #[test]
    fn scripts_run_once_per_virtual_address() {
        let mut h = hooks();
        let dir = std::env::temp_dir().join(format!("ucarp-hooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log");
        let script = dir.join("up.sh");
        crate::testutil::write_script(
            &script,
            &format!("#!/bin/sh\necho \"$2 $UCARP_VIPS\" >> {}\n", log.display()),
        );
        h.up = Some(script);
        h.vaddr_args = vec!["192.0.2.100".into(), "192.0.2.101".into()];
        h.push(Job::Run(Script::Up, t()));
        h.push(Job::Garp);
        let due = run_to_idle(&mut h);
        assert_eq!(
            due,
            vec![
                Due::Done {
                    script: Script::Up,
                    outcome: Outcome::Ok,
                    transition: t(),
                },
                Due::Garp
            ]
        );
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "192.0.2.100 192.0.2.100 192.0.2.101\n192.0.2.101 192.0.2.100 192.0.2.101\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
