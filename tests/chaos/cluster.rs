//! One cluster under chaos: the namespaces (from the test rig), the nodes (ours or
//! Debian's ucarp), their scripts, and every fault as an operation on them. It acts;
//! it does not judge (that is `judge.rs`).
//!
//! Node `n` runs with advskew `20 n`, so the order of preference is fixed; node 0 also
//! preempts (`-P`). All run with `-z`. Ours add what a careful user of ours would
//! set: a state file, `--script-timeout 3` with `--up-must-succeed`, and a health
//! check.

use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::netns::{self, Proc, Rig};
use crate::watch::{self, Watch};

pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
/// Our `--script-timeout`: a hung up script is killed after this long.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Our health check's period and how many failures in a row demote (or passes clear).
pub const CHECK_EVERY: Duration = Duration::from_millis(500);
pub const CHECK_FALL: u32 = 2;
/// The advert interval's base, in seconds.
pub const ADVBASE: u64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    Ours,
    Ucarp,
}

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::Ucarp => "ucarp",
        }
    }
}

pub fn advskew(node: usize) -> u64 {
    20 * node as u64
}

pub struct Node {
    pub imp: Impl,
    pub proc: Option<Proc>,
    /// Whether the process may exit now (it was sent TERM or killed).
    pub may_exit: bool,
    pub state_file: PathBuf,
}

pub struct Cluster {
    pub rig: Rig,
    pub nodes: Vec<Node>,
    pub watch: Watch,
    /// The rig's host index of the observer.
    pub observer: usize,
    /// Whether `set_loss`/`partition` have a table in place.
    net_rules: bool,
}

impl Cluster {
    /// Builds the namespaces and starts the nodes, or `None` without namespaces.
    pub fn new(mix: &[Impl]) -> Option<Cluster> {
        let mut ips: Vec<Ipv4Addr> = (1..=mix.len() as u8)
            .map(|i| Ipv4Addr::new(198, 18, 0, i))
            .collect();
        ips.push(Ipv4Addr::new(198, 18, 0, 250));
        let rig = Rig::with_ips(&ips)?;
        let observer = mix.len();
        let node_ns: Vec<String> = rig.hosts[..mix.len()]
            .iter()
            .map(|h| h.ns.clone())
            .collect();
        let watch = Watch::start(&node_ns, &rig.hosts[observer].ns, VIP);
        let nodes = mix
            .iter()
            .enumerate()
            .map(|(n, &imp)| Node {
                imp,
                proc: None,
                may_exit: false,
                state_file: rig.dir.join(format!("h{n}.state.json")),
            })
            .collect();
        let mut c = Cluster {
            rig,
            nodes,
            watch,
            observer,
            net_rules: false,
        };
        for n in 0..mix.len() {
            c.write_scripts(n);
            c.start(n);
        }
        Some(c)
    }

    fn path(&self, n: usize, what: &str) -> PathBuf {
        self.rig.dir.join(format!("h{n}.{what}"))
    }

    /// The script log of node `n`: `LIFE` at each start, then `UP` or `DOWN` as each
    /// script begins.
    pub fn script_log(&self, n: usize) -> String {
        fs::read_to_string(self.path(n, "scripts")).unwrap_or_default()
    }

    fn write_scripts(&self, n: usize) {
        let log = self.path(n, "scripts").display().to_string();
        let hang = self.path(n, "hang").display().to_string();
        let sick = self.path(n, "sick").display().to_string();
        netns::write_script(
            &self.path(n, "up.sh"),
            &format!(
                "echo UP >> {log}\nif [ -e {hang} ]; then s=$(cat {hang}); rm -f {hang}; sleep \"$s\"; fi\nip addr add \"$2\"/32 dev \"$1\" 2>/dev/null\nexit 0"
            ),
        );
        netns::write_script(
            &self.path(n, "down.sh"),
            &format!("echo DOWN >> {log}\nip addr del \"$2\"/32 dev \"$1\" 2>/dev/null\nexit 0"),
        );
        netns::write_script(&self.path(n, "check.sh"), &format!("[ ! -e {sick} ]"));
    }

    /// Starts (or restarts) node `n`.
    pub fn start(&mut self, n: usize) {
        let up = self.path(n, "up.sh").display().to_string();
        let down = self.path(n, "down.sh").display().to_string();
        let check = self.path(n, "check.sh").display().to_string();
        let skew = advskew(n).to_string();
        let base = ADVBASE.to_string();
        let state = self.nodes[n].state_file.display().to_string();
        let timeout = SCRIPT_TIMEOUT.as_secs().to_string();
        let every = format!("{}", CHECK_EVERY.as_secs_f64());
        let fall = CHECK_FALL.to_string();
        let mut extra: Vec<&str> = vec!["-b", &base, "-k", &skew, "-z", "-u", &up, "-d", &down];
        if n == 0 {
            extra.push("-P");
        }
        let program = match self.nodes[n].imp {
            Impl::Ours => {
                extra.extend([
                    "--state-file",
                    &state,
                    "--script-timeout",
                    &timeout,
                    "--up-must-succeed",
                    "--check-script",
                    &check,
                    "--check-interval",
                    &every,
                    "--check-fall",
                    &fall,
                    "--check-rise",
                    &fall,
                ]);
                netns::OURS
            }
            Impl::Ucarp => netns::UCARP,
        };
        let args = self.rig.args(n, &extra);
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(n, "scripts"))
            .unwrap();
        use std::io::Write;
        writeln!(log, "LIFE").unwrap();
        let p = self.rig.start_raw(n, program, &args);
        self.nodes[n].proc = Some(p);
        self.nodes[n].may_exit = false;
    }

    /// The node that holds the address, if exactly one does.
    pub fn master(&self) -> Option<usize> {
        match self.watch.holders()[..] {
            [n] => Some(n),
            _ => None,
        }
    }

    /// The most preferred node other than `n` that runs (the next in line).
    pub fn next_in_line(&self, n: usize) -> usize {
        (0..self.nodes.len())
            .find(|&m| m != n && self.nodes[m].proc.is_some())
            .unwrap_or((n + 1) % self.nodes.len())
    }

    fn signal(&self, n: usize, sig: &str) {
        if let Some(p) = &self.nodes[n].proc {
            let _ = Command::new("kill")
                .args([&format!("-{sig}"), &p.pid.to_string()])
                .status();
        }
    }

    /// `kill -9` of node `n` and of the scripts it runs; its address goes with it.
    pub fn crash(&mut self, n: usize) {
        if let Some(p) = &self.nodes[n].proc {
            let _ = Command::new("pkill")
                .args(["-KILL", "-P", &p.pid.to_string()])
                .status();
        }
        self.nodes[n].may_exit = true;
        self.signal(n, "KILL");
        self.remove_vip(n);
    }

    fn remove_vip(&self, n: usize) {
        let _ = Command::new("ip")
            .args([
                "-n",
                &self.rig.hosts[n].ns,
                "addr",
                "del",
                &format!("{VIP}/32"),
                "dev",
                "eth0",
            ])
            .stderr(std::process::Stdio::null())
            .status();
    }

    /// TERM to node `n` (it runs with `-z`, so it leaves cleanly).
    pub fn term(&mut self, n: usize) {
        self.nodes[n].may_exit = true;
        self.signal(n, "TERM");
    }

    /// Restarts node `n` after a crash or TERM: first makes sure the old process is
    /// gone (a TERM still waiting for a script is killed, its address removed).
    pub fn restart(&mut self, n: usize) -> Option<String> {
        let mut note = None;
        if let Some(p) = self.nodes[n].proc.take() {
            match self.rig.wait_exit(&p, Duration::from_secs(2)) {
                Some(status) if status.success() || status.code().is_none() => {}
                Some(status) => note = Some(format!("h{n} exited with {status} after TERM")),
                None => {
                    let _ = Command::new("pkill")
                        .args(["-KILL", "-P", &p.pid.to_string()])
                        .status();
                    let _ = Command::new("kill")
                        .args(["-KILL", &p.pid.to_string()])
                        .status();
                    self.rig.wait_exit(&p, Duration::from_secs(2));
                    self.remove_vip(n);
                    note = Some(format!(
                        "h{n} still running 2 s after the end of its step: killed"
                    ));
                }
            }
        }
        self.start(n);
        note
    }

    pub fn usr2(&self, n: usize) {
        self.signal(n, "USR2");
    }

    /// Freezes (SIGSTOP, every frame to and from it dropped) or thaws node `n`.
    pub fn freeze(&self, n: usize, on: bool) {
        if on {
            self.rig.isolate(n, true);
            self.signal(n, "STOP");
        } else {
            self.signal(n, "CONT");
            self.rig.isolate(n, false);
        }
    }

    pub fn set_carrier(&self, n: usize, up: bool) {
        self.rig.set_carrier(n, up);
    }

    /// Makes node `n`'s next up script hang for `for_`.
    pub fn hang_next_up(&self, n: usize, for_: Duration) {
        fs::write(self.path(n, "hang"), format!("{}", for_.as_secs())).unwrap();
    }

    /// Removes a hang that no script consumed.
    pub fn unhang(&self, n: usize) {
        let _ = fs::remove_file(self.path(n, "hang"));
    }

    pub fn set_sick(&self, n: usize, sick: bool) {
        if sick {
            fs::write(self.path(n, "sick"), "").unwrap();
        } else {
            let _ = fs::remove_file(self.path(n, "sick"));
        }
    }

    /// Drops `percent` % of the frames crossing the bridge (`None`: none).
    pub fn set_loss(&mut self, percent: Option<u64>) {
        match percent {
            Some(p) => self.net_rules(&format!("numgen random mod 100 < {p} drop")),
            None => self.clear_net_rules(),
        }
    }

    /// Cuts the nodes with `sides[n]` (and not the observer) off from the others.
    pub fn partition(&mut self, sides: &[bool]) {
        let port = |n: usize| format!("\"{}\"", self.rig.hosts[n].port);
        let cut: Vec<String> = (0..sides.len()).filter(|&n| sides[n]).map(port).collect();
        let rest: Vec<String> = (0..sides.len())
            .filter(|&n| !sides[n])
            .chain(std::iter::once(self.observer))
            .map(port)
            .collect();
        let (a, b) = (cut.join(", "), rest.join(", "));
        self.net_rules(&format!(
            "iifname {{ {a} }} oifname {{ {b} }} drop\n    iifname {{ {b} }} oifname {{ {a} }} drop"
        ));
    }

    pub fn heal_partition(&mut self) {
        self.clear_net_rules();
    }

    fn net_rules(&mut self, rules: &str) {
        let script = format!(
            "table bridge chaos {{\n  chain forward {{\n    type filter hook forward priority 0;\n    {rules}\n  }}\n}}\n"
        );
        self.nft(&script);
        self.net_rules = true;
    }

    fn clear_net_rules(&mut self) {
        if self.net_rules {
            self.nft("delete table bridge chaos\n");
            self.net_rules = false;
        }
    }

    fn nft(&self, script: &str) {
        let file = self.rig.dir.join("chaos.nft");
        fs::write(&file, script).unwrap();
        netns::sh(self.rig.bridge_cmd("nft").arg("-f").arg(&file));
    }

    /// Every log this node's processes wrote, all lives.
    pub fn all_output(&self, n: usize) -> String {
        let mut out = String::new();
        if let Ok(dir) = fs::read_dir(&self.rig.dir) {
            let mut logs: Vec<PathBuf> = dir
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|f| f.to_str())
                        .is_some_and(|f| f.starts_with(&format!("h{n}-")) && f.ends_with(".log"))
                })
                .collect();
            logs.sort();
            for l in logs {
                out.push_str(&fs::read_to_string(&l).unwrap_or_default());
            }
        }
        out
    }

    /// Problems seen right now: a node that died when it should not have (it is
    /// restarted), a state file that does not parse.
    pub fn health(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for n in 0..self.nodes.len() {
            let Some(p) = &self.nodes[n].proc else {
                continue;
            };
            if !self.nodes[n].may_exit {
                if let Some(status) = self.rig.wait_exit(p, Duration::ZERO) {
                    let log = p.output();
                    let last = log.lines().last().unwrap_or("").to_string();
                    problems.push(format!(
                        "h{n} ({}) died: {status}; last log line: {last}",
                        self.nodes[n].imp.name()
                    ));
                    // Go on with the run: the node comes back as after a crash.
                    self.remove_vip(n);
                    self.start(n);
                    continue;
                }
            }
            if self.nodes[n].imp == Impl::Ours {
                if let Ok(text) = fs::read_to_string(&self.nodes[n].state_file) {
                    if let Err(e) = ucarp::status::parse(&text) {
                        problems.push(format!("h{n} state file does not parse: {e}: {text:?}"));
                    }
                }
            }
        }
        problems
    }

    /// Sleeps until `until`, checking `health` every 100 ms; returns what it found.
    pub fn wait(&mut self, until: std::time::Instant) -> Vec<String> {
        let mut problems = Vec::new();
        loop {
            problems.extend(self.health());
            let left = until.saturating_duration_since(watch::now());
            if left.is_zero() {
                return problems;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}
