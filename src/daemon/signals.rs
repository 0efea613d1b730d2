//! Signals, taken through a signalfd by the loop: SIGUSR1 (status), SIGUSR2
//! (maintenance), SIGCHLD (reap), and the exit signals (a handover under `-z`, else
//! death by the signal after cleaning up, as ucarp dies of it).

use std::time::Instant;

use nix::sys::signal::{SigSet, Signal};

use super::Daemon;

/// The signals the loop takes through its signalfd. TERM, INT, QUIT and HUP are taken
/// with `-z`, and also when a pid file or state file must be cleaned up at exit (the
/// daemon then dies of the signal itself, as it would have); otherwise they keep their
/// default action and kill the process, as in ucarp.
pub(crate) fn handled_signals(exit_signals: bool) -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGUSR1, Signal::SIGUSR2, Signal::SIGCHLD] {
        set.add(s);
    }
    if exit_signals {
        for s in [
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGQUIT,
            Signal::SIGHUP,
        ] {
            set.add(s);
        }
    }
    set
}

impl Daemon {
    pub(super) fn on_signals(&mut self, now: Instant) {
        loop {
            let sig = match self.signals.read_signal() {
                Ok(Some(info)) => info.ssi_signo,
                Ok(None) => return,
                Err(e) => {
                    log::warn!("signalfd: {e}");
                    return;
                }
            };
            match Signal::try_from(sig as i32) {
                Ok(Signal::SIGUSR1) => {
                    self.carp.handle_status(now);
                    self.perform(now);
                    self.intake.review_screens(now, true);
                    self.log_counters();
                    self.scripts.log_status();
                }
                Ok(Signal::SIGUSR2) => self.carp.handle_demote(now),
                Ok(Signal::SIGCHLD) => self.reap_children(now),
                // A second exit signal while waiting for the downscript: leave now.
                Ok(s) if self.exiting => {
                    log::warn!("{s} again: exiting without waiting for the script");
                    self.exit_now = true;
                }
                Ok(s) if self.cfg.shutdown => {
                    log::debug!("{s}: handing over if master, then exiting");
                    self.carp.handle_shutdown(now);
                }
                // Taken only to clean up the pid and state files: die of it, as
                // without those files (no script).
                Ok(s) => {
                    self.killed_by = Some(s);
                    self.exit_now = true;
                }
                Err(_) => {}
            }
        }
    }
}
