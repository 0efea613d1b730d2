//! The state file (`--state-file`): rewritten when what it says changes, and every
//! [`PERIOD`] so its `updated` field shows the daemon is alive. Owns the file's path,
//! the wall-clock time of the last state change and what was last written; the JSON
//! itself is [`crate::status`]'s.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::hooks::Script;
use crate::rx::RejectCounters;
use crate::state::{Carp, Demotions, State};
use crate::status::{self, Snapshot};

/// How often the state file is rewritten when nothing changes.
const PERIOD: Duration = Duration::from_secs(5);

/// What the state file says that can change: state, demotions, master, transitions,
/// the failed script, the witnesses.
type Key = (
    State,
    Demotions,
    Option<IpAddr>,
    u64,
    Option<Script>,
    Option<bool>,
);

/// What the file is written from.
pub(super) struct View<'a> {
    pub(super) cfg: &'a Config,
    pub(super) carp: &'a Carp,
    pub(super) rejects: &'a RejectCounters,
    pub(super) script_failed: Option<Script>,
}

/// The state file, when configured.
#[derive(Debug)]
pub(super) struct StateFile {
    path: Option<PathBuf>,
    /// When the state last changed (wall clock).
    pub(super) since: SystemTime,
    /// What it last said, to rewrite it only on change (and periodically).
    written: Option<Key>,
    /// When it is next rewritten even without a change.
    pub(super) next_at: Option<Instant>,
}

impl StateFile {
    pub(super) fn new(path: Option<PathBuf>, since: SystemTime) -> StateFile {
        StateFile {
            path,
            since,
            written: None,
            next_at: None,
        }
    }

    /// Returns true when the file must be rewritten now: what it says changed, or its
    /// period is due. Counts it as written.
    pub(super) fn is_due(
        &mut self,
        now: Instant,
        carp: &Carp,
        script_failed: Option<Script>,
    ) -> bool {
        if self.path.is_none() {
            return false;
        }
        let key = (
            carp.state(),
            carp.demotions(),
            carp.current_master(),
            carp.stats().transitions,
            script_failed,
            carp.witness(),
        );
        let due = self.next_at.is_none_or(|at| at <= now);
        if self.written == Some(key) && !due {
            return false;
        }
        self.written = Some(key);
        self.next_at = now.checked_add(PERIOD);
        true
    }

    /// Writes the file now; `stopped` marks the daemon's exit.
    pub(super) fn write(&self, view: &View, stopped: bool) {
        let Some(path) = &self.path else {
            return;
        };
        let (cfg, carp) = (view.cfg, view.carp);
        let state = if stopped {
            "STOPPED"
        } else {
            carp.state().as_str()
        };
        #[allow(clippy::disallowed_methods)] // wall-clock time for the state file
        let updated = SystemTime::now();
        let vaddrs: Vec<String> = cfg
            .vaddr_args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let snapshot = Snapshot {
            pid: std::process::id(),
            updated,
            state,
            since: if stopped { updated } else { self.since },
            transition: carp.last_transition(),
            vhid: cfg.vhid,
            vrrp_priority: carp.vrrp_priority(),
            vaddrs: &vaddrs,
            interface: &cfg.iface,
            srcip: cfg.srcip,
            master: carp.current_master(),
            demotions: carp.demotions(),
            stats: carp.stats(),
            rejects: view.rejects,
            script_failed: view.script_failed.map(Script::name),
            witness: carp.witness(),
        };
        if let Err(e) = status::write_atomically(path, &snapshot.to_json()) {
            log::warn!("Unable to write the state file {}: {e}", path.display());
        }
    }
}
