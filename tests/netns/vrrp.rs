//! VRRPv3 helpers for the rig: Debian's keepalived on a rig host, timestamped watches of
//! a host's addresses, and tshark's VRRP dissector.
//!
//! keepalived runs in the host's namespace in the foreground (`-n`), VRRP only (`-P`),
//! logging to its console only (`-l -G`), with its configuration and both pid files in
//! the rig's directory, so nothing is written under /run. It adds and removes the
//! virtual addresses itself; a `notify` script logs each state it enters to the same
//! files as the rig's up and down scripts (`Rig::script_log`, `Rig::all_scripts`).
//! The rig's `Drop` kills it with every other process of the host's namespace (its VRRP
//! child too).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{sh, wait_until, write_file, Proc, Rig};

pub const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// One keepalived `vrrp_instance` (VRRP version 3) on interface eth0.
#[derive(Clone, Debug)]
pub struct KaConf {
    pub vrid: u8,
    /// 1–255; keepalived's default is 100.
    pub priority: u8,
    /// Seconds, as keepalived reads it ("0.1", "1").
    pub advert_int: String,
    /// Initial state MASTER rather than BACKUP.
    pub master: bool,
    /// `nopreempt` (keepalived preempts by default).
    pub nopreempt: bool,
    /// Virtual addresses without a prefix length: IPv4 ones get /32, IPv6 ones /64.
    pub vips: Vec<String>,
    /// `unicast_src_ip`.
    pub unicast_src: Option<String>,
    /// `unicast_peer` entries: with any, keepalived sends unicast only.
    pub unicast_peers: Vec<String>,
    /// `mcast_src_ip`: the source of its multicast adverts.
    pub mcast_src: Option<String>,
    /// More lines inside the `vrrp_instance` block, verbatim.
    pub extra: Vec<String>,
}

impl KaConf {
    /// Backup at start, priority `priority`, VRID 7, advert_int 0.1 s, the rig's VIP.
    pub fn new(priority: u8) -> KaConf {
        KaConf {
            vrid: 7,
            priority,
            advert_int: "0.1".into(),
            master: false,
            nopreempt: false,
            vips: vec!["198.18.0.100".into()],
            unicast_src: None,
            unicast_peers: Vec::new(),
            mcast_src: None,
            extra: Vec::new(),
        }
    }

    /// The configuration file's text, with `notify` as the notify script.
    pub fn render(&self, notify: &Path) -> String {
        let mut s = String::new();
        s.push_str("global_defs {\n    vrrp_version 3\n    script_user root\n");
        // One burst of gratuitous ARPs on becoming master, none 5 s later.
        s.push_str("    vrrp_garp_master_delay 0\n    vrrp_garp_master_repeat 1\n}\n");
        s.push_str("vrrp_instance rig {\n");
        s.push_str(if self.master {
            "    state MASTER\n"
        } else {
            "    state BACKUP\n"
        });
        s.push_str("    interface eth0\n    version 3\n");
        s.push_str(&format!("    virtual_router_id {}\n", self.vrid));
        s.push_str(&format!("    priority {}\n", self.priority));
        s.push_str(&format!("    advert_int {}\n", self.advert_int));
        if self.nopreempt {
            s.push_str("    nopreempt\n");
        }
        if let Some(src) = &self.mcast_src {
            s.push_str(&format!("    mcast_src_ip {src}\n"));
        }
        if let Some(src) = &self.unicast_src {
            s.push_str(&format!("    unicast_src_ip {src}\n"));
        }
        if !self.unicast_peers.is_empty() {
            s.push_str("    unicast_peer {\n");
            for p in &self.unicast_peers {
                s.push_str(&format!("        {p}\n"));
            }
            s.push_str("    }\n");
        }
        s.push_str(&format!("    notify \"{}\"\n", notify.display()));
        for line in &self.extra {
            s.push_str(&format!("    {line}\n"));
        }
        s.push_str("    virtual_ipaddress {\n");
        for v in &self.vips {
            let len = if v.contains(':') { 64 } else { 32 };
            s.push_str(&format!("        {v}/{len} dev eth0\n"));
        }
        s.push_str("    }\n}\n");
        s
    }
}

/// A keepalived started on a rig host.
pub struct Keepalived {
    /// The parent process (the one `-n` keeps in the foreground); its log is the
    /// console output of both processes.
    pub proc: Proc,
    pub vrrp_pid_file: PathBuf,
}

impl Keepalived {
    /// What it has logged so far.
    pub fn output(&self) -> String {
        self.proc.output()
    }

    /// Waits until its log contains `needle`.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> bool {
        self.proc.wait_log(needle, limit)
    }

    /// The VRRP child's pid, once it has written its pid file.
    pub fn vrrp_pid(&self) -> Option<u32> {
        fs::read_to_string(&self.vrrp_pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
}

impl Rig {
    /// Writes host `h`'s keepalived notify script: it logs the state and its arguments
    /// to `h<h>.scripts` ("MASTER argc=4 [INSTANCE] [rig] [MASTER] [200]") and "h<h> UP"
    /// (entering MASTER, after keepalived added the addresses) or "h<h> DOWN" (any other
    /// state, after it removed them) to the log shared by all hosts.
    pub fn keepalived_notify(&self, h: usize) -> PathBuf {
        let path = self.dir.join(format!("h{h}-notify.sh"));
        let log = self.script_log_path(h);
        let body = format!(
            "#!/bin/sh\nprintf '%s argc=%s' \"$3\" \"$#\" >> {log}\nfor a in \"$@\"; do printf ' [%s]' \"$a\" >> {log}; done\necho >> {log}\ncase \"$3\" in MASTER) s=UP ;; *) s=DOWN ;; esac\necho \"h{h} $s\" >> {all}\nexit 0\n",
            log = log.display(),
            all = self.dir.join("all.scripts").display()
        );
        write_file(&path, body.as_bytes(), "+x");
        path
    }

    /// Writes an up or down script for host `h` like `Rig::script` (the same logs), but
    /// for either family: an IPv4 address as /32, an IPv6 one as /128 without duplicate
    /// address detection (the old master may still hold it: make-before-break).
    pub fn vip_script(&self, h: usize, up: bool) -> PathBuf {
        let name = if up { "UP" } else { "DOWN" };
        let path = self.dir.join(format!("h{h}-vip-{name}.sh"));
        let log = self.script_log_path(h);
        let action = if up {
            r#"case "$2" in *:*) ip addr add "$2"/128 dev "$1" nodad ;; *) ip addr add "$2"/32 dev "$1" ;; esac"#
        } else {
            r#"case "$2" in *:*) ip addr del "$2"/128 dev "$1" ;; *) ip addr del "$2"/32 dev "$1" ;; esac 2>/dev/null"#
        };
        let body = format!(
            "#!/bin/sh\nprintf '%s argc=%s' {name} \"$#\" >> {log}\nfor a in \"$@\"; do printf ' [%s]' \"$a\" >> {log}; done\necho >> {log}\n{action}\necho 'h{h} {name}' >> {all}\nexit 0\n",
            log = log.display(),
            all = self.dir.join("all.scripts").display()
        );
        write_file(&path, body.as_bytes(), "+x");
        path
    }

    /// Starts keepalived on host `h` with the instance `conf`, and waits until it has
    /// started its VRRP child (its pid file written).
    pub fn start_keepalived(&mut self, h: usize, conf: &KaConf) -> Keepalived {
        let notify = self.keepalived_notify(h);
        let n = self.children.len();
        let conf_path = self.dir.join(format!("h{h}-keepalived-{n}.conf"));
        fs::write(&conf_path, conf.render(&notify)).unwrap();
        let pid_file = self.dir.join(format!("h{h}-keepalived-{n}.pid"));
        let vrrp_pid_file = self.dir.join(format!("h{h}-keepalived-{n}.vrrp.pid"));
        let args: Vec<String> = ["-n", "-l", "-G", "-D", "-P", "-f"]
            .iter()
            .map(|s| s.to_string())
            .chain([
                conf_path.display().to_string(),
                "-p".into(),
                pid_file.display().to_string(),
                "-r".into(),
                vrrp_pid_file.display().to_string(),
            ])
            .collect();
        let proc = self.start_raw(h, KEEPALIVED, &args);
        let ka = Keepalived {
            proc,
            vrrp_pid_file,
        };
        assert!(
            wait_until(Duration::from_secs(10), || ka.vrrp_pid().is_some()),
            "keepalived did not start its VRRP child: {}",
            ka.output()
        );
        ka
    }

    /// Stops keepalived as an administrator would: SIGTERM to the parent, whose VRRP
    /// child then sends a priority-0 advert and removes its addresses. Waits for the
    /// parent to exit and returns whether it did.
    pub fn stop_keepalived(&mut self, ka: &Keepalived) -> bool {
        self.signal(&ka.proc, "TERM");
        self.wait_exit(&ka.proc, Duration::from_secs(15)).is_some()
    }

    /// Crashes keepalived: both processes stopped, then killed, so that neither sends
    /// anything (killing the parent alone lets the child stop cleanly, with priority 0).
    /// Its addresses stay on the interface, as after a real crash.
    pub fn crash_keepalived(&mut self, ka: &Keepalived) {
        let mut pids = vec![ka.proc.pid.to_string()];
        if let Some(child) = ka.vrrp_pid() {
            pids.push(child.to_string());
        }
        let _ = Command::new("kill").arg("-STOP").args(&pids).status();
        let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        self.wait_exit(&ka.proc, Duration::from_secs(10));
    }

    /// Starts a timestamped watch of host `h`'s address changes (`ip -ts monitor
    /// address`), and returns once it demonstrably sees changes.
    pub fn watch_addrs(&mut self, h: usize) -> AddrWatch {
        let log = self
            .dir
            .join(format!("h{h}-addrs-{}.log", self.children.len()));
        let out = fs::File::create(&log).unwrap();
        let child = self
            .cmd(h, "ip")
            .args(["-ts", "-o", "monitor", "address"])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
        // A marker address on lo: once its addition shows, the watch is running.
        let ns = self.hosts[h].ns.clone();
        let marker = "198.19.255.254/32";
        let watch = AddrWatch { log };
        let marker_cmd = |verb: &str| {
            sh(Command::new("ip").args(["-n", &ns, "addr", verb, marker, "dev", "lo"]));
        };
        // Added and deleted until the watch shows it: a change made before the watch
        // subscribed is not shown.
        let seen = wait_until(Duration::from_secs(10), || {
            marker_cmd("add");
            std::thread::sleep(Duration::from_millis(20));
            marker_cmd("del");
            fs::read_to_string(&watch.log)
                .unwrap_or_default()
                .contains("198.19.255.254")
        });
        assert!(seen, "ip monitor did not start on host {h}");
        watch
    }
}

/// One host's address changes as `ip -ts -o monitor address` saw them.
pub struct AddrWatch {
    log: PathBuf,
}

/// An address added or deleted, at a wall-clock time ("2026-11-30T13:18:39.209697",
/// which sorts as it reads).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AddrEvent {
    pub at: String,
    pub added: bool,
}

impl AddrWatch {
    /// The additions and deletions of `addr` on eth0, in order.
    pub fn events(&self, addr: &str) -> Vec<AddrEvent> {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let inet = [format!("inet {addr}/"), format!("inet6 {addr}/")];
        text.lines()
            .filter(|l| l.contains(" eth0 ") && inet.iter().any(|i| l.contains(i.as_str())))
            .filter_map(|l| {
                let at = l.strip_prefix('[')?.split(']').next()?.to_string();
                let added = !l.contains("] Deleted ");
                Some(AddrEvent { at, added })
            })
            .collect()
    }

    /// The raw log, for messages.
    pub fn text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Runs tshark with its own VRRP dissector (protocol 112 is not forced to CARP, unlike
/// `tshark_fields`) and returns one line per frame matching `filter`, with `fields`
/// tab-separated.
pub fn tshark_vrrp_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    super::tshark_lines(pcap, &[], filter, fields)
}

/// Host `h`'s IPv6 link-local address on eth0, once duplicate address detection has
/// finished with it (keepalived and ours cannot send from a tentative address).
pub fn link_local(rig: &Rig, h: usize) -> String {
    let mut found = None;
    let ok = wait_until(Duration::from_secs(10), || {
        let out = sh(Command::new("ip").args([
            "-n",
            &rig.hosts[h].ns,
            "-6",
            "addr",
            "show",
            "dev",
            "eth0",
            "scope",
            "link",
        ]));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        found = text
            .lines()
            .find(|l| l.contains("inet6 fe80:") && !l.contains("tentative"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|a| a.split('/').next())
            .map(str::to_string);
        found.is_some()
    });
    assert!(ok, "host {h} has no usable link-local address");
    found.unwrap()
}
