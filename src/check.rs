//! The health check (`--check-script`): a program run every interval, never waited
//! for. Its exit status feeds a rise/fall counter whose verdict demotes the node or
//! lifts the demotion (keepalived's `vrrp_script` is the model).
//!
//! The program is executed directly, in its own process group, with stdin, stdout
//! and stderr on /dev/null; a run that outlives the timeout has its group killed and
//! counts as a failure. Checks never overlap: the next starts one interval after the
//! previous one started, or when it ends if it ran longer. The node starts healthy.

use std::process::{Child, Stdio};
use std::time::Instant;

use nix::sys::signal::Signal;

use crate::config::CheckConfig;

/// The health check's schedule, its running process and its verdict.
#[derive(Debug)]
pub struct Checker {
    cfg: CheckConfig,
    running: Option<(Child, Instant)>,
    next_at: Instant,
    successes: u32,
    failures: u32,
    healthy: bool,
}

impl Checker {
    /// Prepares a checker whose first run is due at `now`.
    pub fn new(cfg: CheckConfig, now: Instant) -> Checker {
        Checker {
            cfg,
            running: None,
            next_at: now,
            successes: 0,
            failures: 0,
            healthy: true,
        }
    }

    /// Returns the current verdict.
    #[cfg(test)]
    pub fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// Returns when the checker next needs [`handle_timeout`](Self::handle_timeout):
    /// the running check's deadline, or the next start.
    pub fn poll_timeout(&self) -> Instant {
        match &self.running {
            Some((_, deadline)) => *deadline,
            None => self.next_at,
        }
    }

    /// Starts a due check, or kills one that ran out of time (it is then reaped, and
    /// counted as failed, on SIGCHLD). Returns the new verdict when it changed: a check
    /// that cannot even be started fails at once.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<bool> {
        match &mut self.running {
            Some((child, deadline)) if *deadline <= now => {
                log::warn!(
                    "Health check [{}] still running after {} s: killing it",
                    self.cfg.script.display(),
                    self.cfg.timeout.as_secs_f64()
                );
                crate::process::signal_group(child, Signal::SIGKILL);
                // Wait for the reap; do not kill again.
                *deadline = now + self.cfg.interval;
                None
            }
            Some(_) => None,
            None if self.next_at <= now => self.start(now),
            None => None,
        }
    }

    fn start(&mut self, now: Instant) -> Option<bool> {
        self.next_at = now + self.cfg.interval;
        let path = &self.cfg.script;
        let spawned = crate::process::command(path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => {
                self.running = Some((child, now + self.cfg.timeout));
                None
            }
            Err(e) => {
                log::error!("Unable to exec health check [{}]: {e}", path.display());
                self.record(false)
            }
        }
    }

    /// Collects a finished check (call on SIGCHLD). Returns the new verdict when it
    /// changed.
    pub fn reap(&mut self, now: Instant) -> Option<bool> {
        let (child, _) = self.running.as_mut()?;
        let ok = match child.try_wait() {
            Ok(None) => return None,
            Ok(Some(status)) => status.success(),
            Err(_) => false,
        };
        self.running = None;
        // A check that ran past its interval starts the next one now.
        self.next_at = self.next_at.max(now);
        self.record(ok)
    }

    fn record(&mut self, ok: bool) -> Option<bool> {
        let path = self.cfg.script.display();
        if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if !self.healthy && self.successes >= self.cfg.rise {
                self.healthy = true;
                log::warn!(
                    "Health check [{path}] passed {} times: healthy",
                    self.successes
                );
                return Some(true);
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            log::debug!("Health check [{path}] failed ({} in a row)", self.failures);
            if self.healthy && self.failures >= self.cfg.fall {
                self.healthy = false;
                log::warn!(
                    "Health check [{path}] failed {} times: demoting",
                    self.failures
                );
                return Some(false);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn checker(script: &str, rise: u32, fall: u32) -> Checker {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        Checker::new(
            CheckConfig {
                script: PathBuf::from(script),
                interval: Duration::from_millis(10),
                timeout: Duration::from_secs(5),
                rise,
                fall,
            },
            now,
        )
    }

    /// Runs one check to completion and returns the verdict change.
    fn run_once(c: &mut Checker) -> Option<bool> {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        c.next_at = now;
        let mut change = c.handle_timeout(now);
        assert!(crate::testutil::wait_for(|| {
            if c.running.is_none() {
                return true;
            }
            change = change.or(c.reap(now));
            c.running.is_none()
        }));
        change
    }

    #[test]
    fn fall_and_rise_counts() {
        let mut c = checker("/bin/false", 2, 3);
        assert_eq!(run_once(&mut c), None);
        assert_eq!(run_once(&mut c), None);
        assert_eq!(run_once(&mut c), Some(false));
        assert_eq!(run_once(&mut c), None);
        c.cfg.script = PathBuf::from("/bin/true");
        assert_eq!(run_once(&mut c), None);
        assert_eq!(run_once(&mut c), Some(true));
        assert!(c.is_healthy());
    }

    #[test]
    fn a_missing_program_fails() {
        let mut c = checker("/nonexistent/check", 1, 1);
        assert_eq!(run_once(&mut c), Some(false));
    }

    #[test]
    fn a_check_past_its_timeout_is_killed_and_fails() {
        let dir = std::env::temp_dir().join(format!("ucarp-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("hang.sh");
        crate::testutil::write_script(&script, "#!/bin/sh\nexec sleep 60\n");
        let mut c = checker(script.to_str().unwrap(), 1, 1);
        c.cfg.timeout = Duration::from_millis(50);
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        c.handle_timeout(start);
        assert!(c.running.is_some());
        let deadline = c.poll_timeout();
        c.handle_timeout(deadline);
        let mut change = None;
        assert!(crate::testutil::wait_for(|| {
            change = change.or(c.reap(deadline));
            c.running.is_none()
        }));
        assert_eq!(change, Some(false));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
