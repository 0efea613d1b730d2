//! A network-namespace rig for tests that need a real network: one bridge namespace and
//! one namespace per host, each host's `eth0` a veth whose peer sits on the bridge.
//!
//! Names are unique per test (pid + counter), addresses come from 198.18.0.0/15 (the
//! benchmarking range) and exist only inside the namespaces; nothing touches the
//! host's own interfaces. `Drop` kills every process started here and deletes every
//! namespace, also when the test panics.
//!
//! Without root the tests skip with a message, except under `CI=true`, where being
//! unable to create namespaces is a failure.

pub mod vrrp;

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub const OURS: &str = env!("CARGO_BIN_EXE_ucarp");
pub const UCARP: &str = "/usr/sbin/ucarp";

/// Runs `f` on a thread that has entered network namespace `ns`: sockets it opens
/// belong to that namespace. Network namespaces are per thread, so the rest of the
/// test process is untouched.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let file = fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns on a valid namespace fd; it only changes this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}

/// Writes `body` to `path` and gives it `mode` (as `chmod` takes it: "600", "+x").
pub fn write_file(path: &Path, body: &[u8], mode: &str) {
    fs::write(path, body).unwrap();
    sh(Command::new("chmod").arg(mode).arg(path));
}

/// Writes an executable shell script: `#!/bin/sh`, then `body`.
pub fn write_script(path: &Path, body: &str) {
    write_file(path, format!("#!/bin/sh\n{body}\n").as_bytes(), "+x");
}

/// A packet socket on `iface` of the current namespace that only sends: its kernel
/// filter keeps nothing, so no frame is ever queued for reading.
pub fn sending_socket(iface: &str) -> ucarp::net::PacketSocket {
    let ifindex = ucarp::net::interface_index(iface).unwrap();
    let drop_all = [libc::sock_filter {
        code: 0x06, // BPF_RET | BPF_K: return 0, drop
        jt: 0,
        jf: 0,
        k: 0,
    }];
    ucarp::net::PacketSocket::open(ifindex, &drop_all, libc::ETH_P_IP as u16).unwrap()
}

/// Runs a command, panicking with its output when it fails.
pub fn sh(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ip(args: &[&str]) -> Output {
    sh(Command::new("ip").args(args))
}

/// Polls `cond` every 50 ms until it holds or `limit` passes. Returns whether it held.
/// A bounded wait, not a timing assertion: limits are generous.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct Host {
    pub ns: String,
    pub ip: Ipv4Addr,
    /// The bridge-side end of this host's veth: setting it down cuts the carrier.
    pub port: String,
}

pub struct Rig {
    pub bridge_ns: String,
    pub hosts: Vec<Host>,
    pub dir: PathBuf,
    children: Vec<Child>,
}

/// Whether this process can create network namespaces (root with CAP_SYS_ADMIN).
/// Probed once: parallel tests would otherwise race on the probe's name.
fn netns_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(probe_netns)
}

/// `path` inside the cargo target directory (`OURS` is `<target dir>/debug/ucarp`), for
/// tests of builds that scripts/test makes first (a static release, cross builds), or
/// `None` when it is missing or namespaces are unavailable: the test then skips,
/// except with `CI=true`, where it fails, naming the command that builds it.
pub fn built_or_skip(path: &str, built_by: &str) -> Option<PathBuf> {
    if !namespaces_or_skip() {
        return None;
    }
    let target_dir = Path::new(OURS).parent()?.parent()?;
    let file = target_dir.join(path);
    if file.exists() {
        return Some(file);
    }
    let why = format!("{} missing ({built_by} builds it)", file.display());
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipping: {why}");
    None
}

/// Whether a test that needs network namespaces can run: false (after saying why)
/// when they are unavailable outside CI; with `CI=true` it fails the test instead.
pub fn namespaces_or_skip() -> bool {
    if netns_available() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but network namespaces cannot be created (root needed)");
    }
    eprintln!("skipping: network namespaces unavailable (run as root)");
    false
}

fn probe_netns() -> bool {
    let probe = format!("ucprobe{}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &probe])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        let _ = Command::new("ip").args(["netns", "del", &probe]).status();
    }
    ok
}

impl Rig {
    /// Builds a rig of `n` hosts at 198.18.0.1 … 198.18.0.n (/15), or returns `None`
    /// (after saying why) when namespaces are unavailable outside CI.
    pub fn new(n: usize) -> Option<Rig> {
        Rig::with_ips(
            &(1..=n as u8)
                .map(|i| Ipv4Addr::new(198, 18, 0, i))
                .collect::<Vec<_>>(),
        )
    }

    /// Builds a rig whose hosts have the given addresses, all in 198.18.0.0/15.
    pub fn with_ips(ips: &[Ipv4Addr]) -> Option<Rig> {
        if !namespaces_or_skip() {
            return None;
        }
        let id = format!(
            "uc{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(format!("ucarp-test-{id}"));
        fs::create_dir_all(&dir).unwrap();
        let bridge_ns = format!("{id}br");
        let mut rig = Rig {
            bridge_ns: bridge_ns.clone(),
            hosts: Vec::new(),
            dir,
            children: Vec::new(),
        };
        ip(&["netns", "add", &bridge_ns]);
        ip(&[
            "-n",
            &bridge_ns,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", &bridge_ns, "link", "set", "br0", "up"]);
        for (i, addr) in ips.iter().enumerate() {
            let ns = format!("{id}h{}", i + 1);
            let port = format!("v{}", i + 1);
            let mac = format!("02:00:00:00:00:{:02x}", i + 1);
            ip(&["netns", "add", &ns]);
            rig.hosts.push(Host {
                ns: ns.clone(),
                ip: *addr,
                port: port.clone(),
            });
            ip(&[
                "link", "add", "eth0", "netns", &ns, "address", &mac, "type", "veth", "peer",
                "name", &port, "netns", &bridge_ns,
            ]);
            ip(&[
                "-n", &bridge_ns, "link", "set", &port, "master", "br0", "up",
            ]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/15"),
                "dev",
                "eth0",
            ]);
        }
        Some(rig)
    }

    /// A command run inside host `h`'s namespace.
    pub fn cmd(&self, h: usize, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.hosts[h].ns, program]);
        c
    }

    /// A command run inside the bridge namespace.
    pub fn bridge_cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.bridge_ns, program]);
        c
    }

    /// Writes an up or down script for host `h` that logs `$#` and each argument to
    /// `<dir>/h<h>.scripts`, then adds or removes the address given as `$2`.
    pub fn script(&self, h: usize, up: bool) -> PathBuf {
        let name = if up { "up" } else { "down" };
        let path = self.dir.join(format!("h{h}-{name}.sh"));
        let log = self.script_log_path(h);
        let action = if up {
            r#"ip addr add "$2"/32 dev "$1""#
        } else {
            r#"ip addr del "$2"/32 dev "$1" 2>/dev/null"#
        };
        // Each script also appends "h<h> UP|DOWN" to one log shared by all hosts, so a
        // test can check the order of events across hosts (make-before-break).
        let body = format!(
            "#!/bin/sh\nprintf '%s argc=%s' {NAME} \"$#\" >> {log}\nfor a in \"$@\"; do printf ' [%s]' \"$a\" >> {log}; done\necho >> {log}\n{action}\necho 'h{h} {NAME}' >> {all}\nexit 0\n",
            NAME = name.to_uppercase(),
            log = log.display(),
            all = self.dir.join("all.scripts").display()
        );
        write_file(&path, body.as_bytes(), "+x");
        path
    }

    /// The "h<h> UP|DOWN" lines of every host's scripts, in the order they ran (each
    /// written after the script's address change).
    pub fn all_scripts(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("all.scripts"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn script_log_path(&self, h: usize) -> PathBuf {
        self.dir.join(format!("h{h}.scripts"))
    }

    /// The lines host `h`'s scripts logged so far.
    pub fn script_log(&self, h: usize) -> Vec<String> {
        fs::read_to_string(self.script_log_path(h))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The usual test command line of host `h`: interface, source, vhid 7, the VIP, no
    /// syslog, and password `secret` unless `extra` gives one; then `extra`.
    pub fn args(&self, h: usize, extra: &[&str]) -> Vec<String> {
        let ip = self.hosts[h].ip.to_string();
        let mut args: Vec<String> = [
            "-i",
            "eth0",
            "-s",
            &ip,
            "-v",
            "7",
            "-a",
            "198.18.0.100",
            "-f",
            "none",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if !extra
            .iter()
            .any(|a| *a == "-p" || *a == "-o" || a.starts_with("--pass"))
        {
            args.extend(["-p".into(), "secret".into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// Runs ours with `--preflight` on host `h` for vhid 7 and the VIP, plus `extra`;
    /// returns its exit code and output.
    pub fn preflight(&self, h: usize, extra: &[&str]) -> (Option<i32>, String) {
        let ip = self.hosts[h].ip.to_string();
        let out = self
            .cmd(h, OURS)
            .args(["-i", "eth0", "-s", &ip, "-v", "7", "-a", "198.18.0.100"])
            .arg("--preflight")
            .args(extra)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    }

    /// Starts `program` (ours or ucarp) on host `h` with the usual test options plus
    /// `extra`, up/down scripts that manage the VIP, and its output in a log file.
    pub fn start(&mut self, h: usize, program: &str, extra: &[&str]) -> Proc {
        let up = self.script(h, true).display().to_string();
        let down = self.script(h, false).display().to_string();
        let with_scripts = [&["-u", up.as_str(), "-d", down.as_str()][..], extra].concat();
        let args = self.args(h, &with_scripts);
        self.start_raw(h, program, &args)
    }

    /// Starts `program` on host `h` with exactly `args`.
    pub fn start_raw(&mut self, h: usize, program: &str, args: &[String]) -> Proc {
        self.start_with(h, program, args, |_, _| {})
    }

    /// Starts `program` on host `h` with exactly `args`, after `adjust` has seen the
    /// command and the log file its stdout and stderr go to.
    pub fn start_with(
        &mut self,
        h: usize,
        program: &str,
        args: &[String],
        adjust: impl FnOnce(&mut Command, &fs::File),
    ) -> Proc {
        let tag = std::path::Path::new(program)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let log = self
            .dir
            .join(format!("h{h}-{tag}-{}.log", self.children.len()));
        let out = fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let mut cmd = self.cmd(h, "stdbuf");
        // stdbuf: ucarp's INFO lines go to a fully buffered stdout otherwise.
        cmd.args(["-oL", "-eL", program]).args(args);
        adjust(&mut cmd, &out);
        let child = cmd.stdout(out).stderr(err).spawn().unwrap();
        let pid = child.id();
        self.children.push(child);
        Proc {
            pid,
            log,
            index: self.children.len() - 1,
        }
    }

    /// Sends a signal to a process started here.
    pub fn signal(&self, p: &Proc, sig: &str) {
        sh(Command::new("kill").args([&format!("-{sig}"), &p.pid.to_string()]));
    }

    /// Waits for a process started here to exit, up to `limit`.
    pub fn wait_exit(&mut self, p: &Proc, limit: Duration) -> Option<ExitStatus> {
        let child = &mut self.children[p.index];
        let mut status = None;
        wait_until(limit, || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }

    /// Whether host `h` holds `addr` (IPv4 or IPv6) on eth0.
    pub fn has_addr(&self, h: usize, addr: &str) -> bool {
        let out =
            sh(Command::new("ip").args(["-n", &self.hosts[h].ns, "addr", "show", "dev", "eth0"]));
        let text = String::from_utf8_lossy(&out.stdout);
        text.contains(&format!("inet {addr}/")) || text.contains(&format!("inet6 {addr}/"))
    }

    /// Gives host `h` an IPv6 address in 2001:db8::/64, usable at once (no duplicate
    /// address detection).
    pub fn add_ipv6(&self, h: usize, addr: &str) {
        ip(&[
            "-n",
            &self.hosts[h].ns,
            "addr",
            "add",
            &format!("{addr}/64"),
            "dev",
            "eth0",
            "nodad",
        ]);
    }

    /// Cuts or restores host `h`'s carrier by setting its bridge port down or up.
    pub fn set_carrier(&self, h: usize, up: bool) {
        ip(&[
            "-n",
            &self.bridge_ns,
            "link",
            "set",
            &self.hosts[h].port,
            if up { "up" } else { "down" },
        ]);
    }

    /// Drops (or lets through again) every CARP frame crossing the bridge, with an
    /// nftables bridge rule: a partition that leaves the links up.
    pub fn partition(&self, on: bool) {
        let script = if on {
            "table bridge ucarp_test {\n  chain carp_drop {\n    type filter hook forward priority 0;\n    ip protocol 112 drop\n  }\n}\n"
        } else {
            "delete table bridge ucarp_test"
        };
        let file = self.dir.join("partition.nft");
        fs::write(&file, script).unwrap();
        sh(self.bridge_cmd("nft").arg("-f").arg(&file));
    }

    /// Drops (or lets through again) every frame to or from host `h` on the bridge, as
    /// a paused VM neither sends nor receives; its link stays up.
    pub fn isolate(&self, h: usize, on: bool) {
        let table = format!("ucarp_isolate_{h}");
        let port = &self.hosts[h].port;
        let script = if on {
            format!(
                "table bridge {table} {{\n  chain drop_all {{\n    type filter hook forward priority 0;\n    iifname \"{port}\" drop\n    oifname \"{port}\" drop\n  }}\n}}\n"
            )
        } else {
            format!("delete table bridge {table}\n")
        };
        let file = self.dir.join(format!("isolate{h}.nft"));
        fs::write(&file, script).unwrap();
        sh(self.bridge_cmd("nft").arg("-f").arg(&file));
    }

    /// Starts tcpdump on the bridge, writing what crosses it to a pcap file.
    pub fn capture(&mut self, filter: &str) -> Capture {
        let pcap = self.dir.join(format!("cap{}.pcap", self.children.len()));
        let mut child = self
            .bridge_cmd("tcpdump")
            .args(["-i", "br0", "--immediate-mode", "-U", "-w"])
            .arg(&pcap)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // tcpdump says "listening on ..." on stderr once the capture is open.
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains("listening on") {
            line.clear();
            use std::io::BufRead;
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("tcpdump did not start");
            }
        }
        self.children.push(child);
        Capture {
            pcap,
            pid,
            _stderr: stderr,
        }
    }

    /// Stops a capture, so the file is complete.
    pub fn stop_capture(&mut self, c: &Capture) {
        let _ = Command::new("kill")
            .args(["-INT", &c.pid.to_string()])
            .status();
        if let Some(i) = self.children.iter().position(|ch| ch.id() == c.pid) {
            let child = &mut self.children[i];
            wait_until(Duration::from_secs(5), || {
                child.try_wait().ok().flatten().is_some()
            });
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for h in &self.hosts {
            // Also what was not started as our child, e.g. a daemon detached with -B.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &h.ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", &h.ns]).status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.bridge_ns])
            .status();
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("test files kept in {}", self.dir.display());
        }
    }
}

/// A daemon started by the rig.
pub struct Proc {
    pub pid: u32,
    pub log: PathBuf,
    index: usize,
}

impl Proc {
    /// What it has logged so far (stdout and stderr).
    pub fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its log contains `needle`.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> bool {
        wait_until(limit, || self.output().contains(needle))
    }

    /// How many times its log contains `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.output().matches(needle).count()
    }
}

pub struct Capture {
    pub pcap: PathBuf,
    pid: u32,
    /// Kept open so that tcpdump's last words do not hit a closed pipe.
    _stderr: std::io::BufReader<std::process::ChildStderr>,
}

/// Runs tshark on a capture with the CARP dissector on proto 112 and returns one line
/// per frame with the requested fields, tab-separated.
pub fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    tshark_lines(pcap, &["-d", "ip.proto==112,carp"], filter, fields)
}

/// Runs tshark on a capture, with `decode` (`-d` options, or none for tshark's own
/// choice of dissector), and returns one line per frame matching `filter`, with
/// `fields` tab-separated.
pub fn tshark_lines(pcap: &Path, decode: &[&str], filter: &str, fields: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(pcap)
        .args(decode)
        .args(["-Y", filter, "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = sh(&mut cmd);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Reads the raw frames of a pcap file (classic libpcap format, as tcpdump -w writes).
pub fn pcap_frames(pcap: &Path) -> Vec<Vec<u8>> {
    let data = fs::read(pcap).unwrap();
    assert!(data.len() >= 24, "short pcap");
    let le = data[0..4] == [0xd4, 0xc3, 0xb2, 0xa1] || data[0..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let u32_at = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let caplen = u32_at(&data[at + 8..]) as usize;
        let start = at + 16;
        if start + caplen > data.len() {
            break;
        }
        frames.push(data[start..start + caplen].to_vec());
        at = start + caplen;
    }
    frames
}
