//! What the daemon makes of a script's outcome (the man page's "Scripts that fail"):
//! which failure leaves the address in doubt, when a failed down script runs again, and
//! what the state file and SIGUSR1 say meanwhile. Never runs a script itself: it tells
//! the loop when a down script is due again, and the loop queues it with the hooks.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::hooks::{Outcome, Script};
use crate::net;
use crate::state::Transition;

/// The first pause before a failed down script is run again; it doubles each time.
const DOWN_RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest pause between two runs of a failing down script.
const DOWN_RETRY_MAX: Duration = Duration::from_secs(60);
/// Runs of a failing down script after the first, when the daemon is exiting.
const DOWN_RETRIES_AT_EXIT: u32 = 1;

/// Script failures that leave the address in doubt, and the down script's retries.
#[derive(Debug, Default)]
pub(super) struct ScriptWatch {
    /// The script whose failure leaves the address in doubt, until a later run settles
    /// it: an up script that failed while we stay MASTER, or a down script that failed
    /// with a virtual address still on this host.
    pub(super) failed: Option<Script>,
    /// Runs of the down script that failed in a row, with the address left here.
    down_failures: u32,
    /// When the failed down script runs again.
    pub(super) retry_at: Option<Instant>,
    /// The transition the down script being retried ran for.
    transition: Option<Transition>,
}

impl ScriptWatch {
    /// An up script ended. Returns the verdict for the state machine's
    /// `handle_up_result`, if it gets one: a killed script always fails (it never
    /// finished), a non-zero exit only with `--up-must-succeed`.
    pub(super) fn up_done(&mut self, outcome: Outcome, must_succeed: bool) -> Option<bool> {
        match outcome {
            Outcome::Ok => {
                self.failed = None;
                Some(true)
            }
            Outcome::Killed => {
                self.failed = Some(Script::Up);
                log::error!(
                    "The up script was killed at the timeout: the virtual address may be missing here; handing it to another node"
                );
                Some(false)
            }
            Outcome::Failed if must_succeed => {
                self.failed = Some(Script::Up);
                log::error!(
                    "The up script failed: handing the address to another node (--up-must-succeed)"
                );
                Some(false)
            }
            Outcome::Failed => {
                self.failed = Some(Script::Up);
                log::error!(
                    "The up script failed: staying MASTER, but the virtual address may be missing here (--up-must-succeed hands it over instead)"
                );
                None
            }
        }
    }

    /// A down script ended. After a failure, if a virtual address is still on this
    /// host, say so at ERROR and run the script again after a pause that doubles each
    /// time (1 s up to 60 s), until it succeeds or the node becomes master again; when
    /// exiting, only [`DOWN_RETRIES_AT_EXIT`] more times. If none is left here, the
    /// script did its job whatever its status (many scripts exit non-zero on removing
    /// an absent address).
    pub(super) fn down_done(
        &mut self,
        now: Instant,
        outcome: Outcome,
        t: Transition,
        master_again: bool,
        exiting: bool,
        vaddrs: &[IpAddr],
    ) {
        let how = match outcome {
            Outcome::Ok => return self.settle(),
            Outcome::Killed => "was killed at the timeout",
            Outcome::Failed => "failed",
        };
        if master_again && !exiting {
            // Master again meanwhile: the up script queued behind it settles the address.
            log::warn!("The down script {how}; master again, the up script follows");
            return self.settle();
        }
        let left = match net::addresses_present(vaddrs) {
            Ok(present) if present.is_empty() => {
                log::warn!(
                    "The down script {how}, but no virtual address is on this host: nothing left to remove"
                );
                return self.settle();
            }
            Ok(present) => {
                let list: Vec<String> = present.iter().map(IpAddr::to_string).collect();
                format!("{} still on this host", list.join(", "))
            }
            Err(e) => format!("the virtual address may still be on this host ({e})"),
        };
        self.failed = Some(Script::Down);
        self.down_failures += 1;
        self.transition = Some(t);
        if exiting && self.down_failures > DOWN_RETRIES_AT_EXIT {
            self.retry_at = None;
            log::error!("The down script {how}: {left}; exiting anyway");
            return;
        }
        let pause = DOWN_RETRY_FIRST
            .saturating_mul(1 << (self.down_failures - 1).min(6))
            .min(DOWN_RETRY_MAX);
        self.retry_at = now.checked_add(pause);
        log::error!(
            "The down script {how}: {left}; running it again in {} s",
            pause.as_secs()
        );
    }

    fn settle(&mut self) {
        *self = ScriptWatch::default();
    }

    /// Returns the transition to run the down script for again, when its pause is over.
    pub(super) fn due(&mut self, now: Instant) -> Option<Transition> {
        if self.retry_at.is_none_or(|at| at > now) {
            return None;
        }
        self.retry_at = None;
        self.transition
    }

    /// The node becomes master again: its up script puts the address in place,
    /// whatever a failed down script left.
    pub(super) fn master_again(&mut self) {
        self.retry_at = None;
        self.down_failures = 0;
    }

    /// The daemon is exiting: a down script waiting for its next run runs now.
    pub(super) fn exiting(&mut self, now: Instant) {
        if self.retry_at.is_some() {
            self.retry_at = Some(now);
        }
    }

    /// Repeats, after the SIGUSR1 status line, a failure that leaves the address in
    /// doubt.
    pub(super) fn log_status(&self) {
        match self.failed {
            Some(Script::Up) => {
                log::error!("The last up script failed: the virtual address may be missing here")
            }
            Some(Script::Down) => log::error!(
                "The last down script failed: the virtual address may still be on this host{}",
                if self.retry_at.is_some() {
                    " (it will run again)"
                } else {
                    ""
                }
            ),
            None => {}
        }
    }
}
