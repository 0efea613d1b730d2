//! The up and down scripts (SPEC.md §7), run without ever blocking the loop.
//!
//! Scripts run one at a time, in the order the state machine asked for them: a down
//! script waits for a running up script. A gratuitous ARP queued behind a script goes
//! out only when the script has finished, so the address it announces is in place.
//! Adverts never wait here: the daemon sends them at once, whatever runs.
//!
//! Like ucarp: executed directly, without a shell and without a PATH search (a bare
//! name is relative to the working directory), `argv` = path, interface, the `-a`
//! string as typed, and `-x` only when given; environment and stdio inherited. Unlike
//! ucarp: each script runs in its own process group, and its exit status is logged.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::config::Config;
use crate::state::Transition;

/// Which script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Run on becoming master: add the address.
    Up,
    /// Run on becoming backup: remove the address.
    Down,
}

/// Work that must happen in order, after the scripts queued before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Run a script for a transition.
    Run(Script, Transition),
    /// Send a gratuitous ARP.
    Garp,
}

#[derive(Debug)]
struct Running {
    child: Child,
    shown: String,
}

/// The script queue and the one script that may be running.
#[derive(Debug)]
pub struct Hooks {
    iface: OsString,
    vaddr_arg: OsString,
    xparam: Option<OsString>,
    up: Option<PathBuf>,
    down: Option<PathBuf>,
    queue: VecDeque<Job>,
    running: Option<Running>,
}

impl Hooks {
    /// Prepares the scripts of a configuration.
    pub fn new(cfg: &Config) -> Hooks {
        Hooks {
            iface: OsString::from(&cfg.iface),
            vaddr_arg: cfg.vaddr_arg.clone(),
            xparam: cfg.xparam.clone(),
            up: cfg.upscript.clone(),
            down: cfg.downscript.clone(),
            queue: VecDeque::new(),
            running: None,
        }
    }

    /// Queues a job behind everything queued before it.
    pub fn push(&mut self, job: Job) {
        self.queue.push_back(job);
    }

    /// Returns true when no script runs and nothing is queued.
    pub fn is_idle(&self) -> bool {
        self.running.is_none() && self.queue.is_empty()
    }

    /// Starts what can start now: queued GARPs up to the next script, and that script
    /// if none is running. Returns how many GARPs the caller must send now.
    pub fn advance(&mut self) -> usize {
        let mut garps = 0;
        while self.running.is_none() {
            match self.queue.pop_front() {
                None => break,
                Some(Job::Garp) => garps += 1,
                Some(Job::Run(script, _)) => self.spawn(script),
            }
        }
        garps
    }

    /// Collects the running script if it has exited (call on SIGCHLD).
    pub fn reap(&mut self) {
        let Some(running) = &mut self.running else {
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
        self.running = None;
    }

    fn spawn(&mut self, script: Script) {
        let path = match script {
            Script::Up => self.up.as_ref(),
            Script::Down => self.down.as_ref(),
        };
        let Some(path) = path else {
            return;
        };
        let mut shown = format!(
            "{} {} {}",
            path.display(),
            self.iface.to_string_lossy(),
            self.vaddr_arg.to_string_lossy()
        );
        if let Some(x) = &self.xparam {
            shown.push(' ');
            shown.push_str(&x.to_string_lossy());
        }
        log::warn!("Spawning [{shown}]");
        // execve, not execvp: a bare name must not be looked up in PATH.
        let program = if path.as_os_str().as_encoded_bytes().contains(&b'/') {
            path.clone()
        } else {
            Path::new(".").join(path)
        };
        let mut cmd = Command::new(program);
        cmd.arg0(path)
            .arg(&self.iface)
            .arg(&self.vaddr_arg)
            .args(self.xparam.as_ref())
            .process_group(0);
        match cmd.spawn() {
            Ok(child) => self.running = Some(Running { child, shown }),
            Err(e) => log::error!("Unable to exec {shown}: {e}"),
        }
    }
}
