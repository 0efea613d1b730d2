//! The state file (`--state-file`): a small JSON document the daemon rewrites
//! atomically (write to a temporary file in the same directory, then rename) on every
//! change and every few seconds, and `ucarp --status FILE` to read it as a person.
//!
//! This module builds the document and writes it ([`write_atomically`]), and reads it
//! for `--status` ([`print()`]); the parts live apart: the timestamps in `time`, the
//! parser in `json`, the rendering for a person in `render`. The JSON is written and
//! read here by hand: the document is flat and fixed, and a general JSON library would
//! outweigh the rest of the daemon on a small router.
//!
//! ```json
//! {"version": 1, "pid": 812, "updated": "2026-11-25T13:00:05.120Z",
//!  "state": "MASTER", "since": "2026-11-25T12:58:01.004Z", "reason": "master-down",
//!  "peer": null, "vhid": 7, "vaddr": "192.0.2.100", "interface": "eth0",
//!  "srcip": "192.0.2.11", "master": "192.0.2.11", "demotions": [],
//!  "script_failed": null,
//!  "counters": {"adverts_sent": 124, "send_errors": 0, "adverts_received": 3,
//!               "transitions": 2, "rejected": {"bad_digest": 1}}}
//! ```

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::Path;
use std::time::SystemTime;

use crate::rx::RejectCounters;
use crate::state::{Demotions, Stats, Transition};

mod json;
mod render;
#[cfg(test)]
mod tests;
mod time;

pub use json::{parse, Json};
pub use render::render;
pub use time::{parse_rfc3339, rfc3339};

/// Everything the state file says.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    /// The daemon's pid.
    pub pid: u32,
    /// When this snapshot was taken.
    pub updated: SystemTime,
    /// `MASTER`, `BACKUP`, or `STOPPED` after exit.
    pub state: &'a str,
    /// When the state last changed.
    pub since: SystemTime,
    /// The last transition, for its reason and peer.
    pub transition: Option<Transition>,
    /// Virtual host id (the VRID in VRRP mode).
    pub vhid: u8,
    /// In VRRP mode, the priority advertised now (1 when demoted); `None` for CARP.
    pub vrrp_priority: Option<u8>,
    /// The virtual addresses as typed.
    pub vaddrs: &'a [String],
    /// Interface.
    pub interface: &'a str,
    /// Our source address.
    pub srcip: IpAddr,
    /// The current master, as far as this node knows.
    pub master: Option<IpAddr>,
    /// Active demotions.
    pub demotions: Demotions,
    /// Counters of the state machine.
    pub stats: Stats,
    /// Rejected packets by reason.
    pub rejects: &'a RejectCounters,
    /// `up` or `down` when that script failed and the address is in doubt: an up
    /// script that failed while the node stays MASTER, a down script that failed with
    /// a virtual address still on this host.
    pub script_failed: Option<&'a str>,
    /// With `--witness`: whether a witness answers; `None` without the option.
    pub witness: Option<bool>,
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt_ip(out: &mut String, ip: Option<IpAddr>) {
    match ip {
        Some(ip) => json_string(out, &ip.to_string()),
        None => out.push_str("null"),
    }
}

impl Snapshot<'_> {
    /// Renders the JSON document, one line, newline-terminated.
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(512);
        let _ = write!(o, "{{\"version\": 1, \"pid\": {}, \"updated\": ", self.pid);
        json_string(&mut o, &rfc3339(self.updated));
        o.push_str(", \"state\": ");
        json_string(&mut o, self.state);
        o.push_str(", \"since\": ");
        json_string(&mut o, &rfc3339(self.since));
        o.push_str(", \"reason\": ");
        match self.transition {
            Some(t) => json_string(&mut o, t.reason.name()),
            None => o.push_str("null"),
        }
        o.push_str(", \"peer\": ");
        json_opt_ip(&mut o, self.transition.and_then(|t| t.peer));
        match self.vrrp_priority {
            Some(p) => {
                let _ = write!(o, ", \"protocol\": \"vrrp\", \"priority\": {p}");
            }
            None => o.push_str(", \"protocol\": \"carp\""),
        }
        let _ = write!(o, ", \"vhid\": {}, \"vaddr\": ", self.vhid);
        json_string(&mut o, self.vaddrs.first().map_or("", String::as_str));
        o.push_str(", \"vaddrs\": [");
        for (i, v) in self.vaddrs.iter().enumerate() {
            if i > 0 {
                o.push_str(", ");
            }
            json_string(&mut o, v);
        }
        o.push(']');
        o.push_str(", \"interface\": ");
        json_string(&mut o, self.interface);
        o.push_str(", \"srcip\": ");
        json_string(&mut o, &self.srcip.to_string());
        o.push_str(", \"master\": ");
        json_opt_ip(&mut o, self.master);
        o.push_str(", \"demotions\": [");
        for (i, d) in self.demotions.iter().enumerate() {
            if i > 0 {
                o.push_str(", ");
            }
            json_string(&mut o, d.name());
        }
        o.push_str("], \"script_failed\": ");
        match self.script_failed {
            Some(name) => json_string(&mut o, name),
            None => o.push_str("null"),
        }
        o.push_str(", \"witness\": ");
        o.push_str(match self.witness {
            Some(true) => "\"reachable\"",
            Some(false) => "\"unreachable\"",
            None => "null",
        });
        let st = self.stats;
        let _ = write!(
            o,
            ", \"counters\": {{\"adverts_sent\": {}, \"send_errors\": {}, \"adverts_received\": {}, \"transitions\": {}, \"rejected\": {{",
            st.adverts_sent, st.send_errors, st.adverts_received, st.transitions
        );
        for (i, (reason, n)) in self.rejects.iter().enumerate() {
            if i > 0 {
                o.push_str(", ");
            }
            let _ = write!(o, "\"{}\": {n}", reason.name());
        }
        o.push_str("}}}\n");
        o
    }
}

/// Writes `contents` to `path` so that a reader sees the old file or the new one,
/// never a part: a temporary file in the same directory, then a rename.
///
/// # Errors
/// Any I/O error; the temporary file is removed on failure.
pub fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = Path::new(&tmp);
    let result = (|| {
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(contents.as_bytes())?;
        std::fs::rename(tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// `ucarp --status FILE [--json]`: prints the state file and returns the exit code:
/// 0, or 1 when it cannot be read or parsed (with a one-line message on stderr).
pub fn print(path: &Path, json: bool) -> u8 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ucarp: cannot read state file {}: {e}", path.display());
            return 1;
        }
    };
    let doc = match parse(&text) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "ucarp: state file {} is not valid JSON: {e}",
                path.display()
            );
            return 1;
        }
    };
    if json {
        print!("{text}");
        return 0;
    }
    let running = doc
        .get("pid")
        .and_then(Json::as_f64)
        .map(|pid| Path::new(&format!("/proc/{pid}")).exists());
    #[allow(clippy::disallowed_methods)] // wall-clock age of the file, for a person
    let now = SystemTime::now();
    print!("{}", render(&doc, now, running));
    0
}
