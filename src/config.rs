//! From raw [`Args`] to a validated [`Config`] (SPEC.md §1): ucarp's number parsing,
//! its checks in its order, its messages and exit codes.
//!
//! Apart from reading the `-o` password file, this module does no I/O: the default
//! interface comes from a caller-supplied lookup, and the messages meant for the log
//! (warnings about missing scripts, an unknown facility) are returned in
//! [`Config::notes`] for the caller to log once logging is set up.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::Level;

use crate::auth::{Key, KeyError};
use crate::cli::{os_bytes, Args, Opt};
use crate::packet::{CARP_MCAST_V4, CARP_MCAST_V6};

/// The longest interface name Linux accepts, in bytes (IFNAMSIZ − 1).
pub const MAX_IFNAME_LEN: usize = 15;
/// How long a script may run by default before it is killed (`--script-timeout`).
///
/// Long enough for the slow scripts real users run, a cloud API call that moves an
/// address (with its retries) or a service restart, which take seconds to tens of
/// seconds; short enough that a truly hung script is noticed within a minute and a
/// killed up script hands the address to another node. Adverts never wait for it,
/// except a claim while the master it takes over from still serves the address.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// ucarp reads at most this many bytes of the password file's first line.
pub const MAX_PASSFILE_LINE: usize = 511;

/// A configuration that cannot run: a one-line message and the exit code ucarp uses
/// (SPEC.md §1.1): 1 for option errors, 2 for protocol setup errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// What is wrong, worded as ucarp words it where ucarp has a message.
    pub message: String,
    /// The process exit code.
    pub exit_code: u8,
}

impl ConfigError {
    fn usage(message: impl Into<String>) -> ConfigError {
        ConfigError {
            message: message.into(),
            exit_code: 1,
        }
    }

    fn setup(message: impl Into<String>) -> ConfigError {
        ConfigError {
            message: message.into(),
            exit_code: 2,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A syslog facility code (`LOG_DAEMON` and friends, already shifted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(pub i32);

impl Facility {
    /// ucarp's default, `daemon`.
    pub const DAEMON: Facility = Facility(3 << 3);

    /// Looks a name up case-insensitively, in glibc's `facilitynames` table.
    pub fn from_name(name: &str) -> Option<Facility> {
        let code = match name.to_ascii_lowercase().as_str() {
            "kern" => 0,
            "user" => 1,
            "mail" => 2,
            "daemon" => 3,
            "auth" | "security" => 4,
            "syslog" => 5,
            "lpr" => 6,
            "news" => 7,
            "uucp" => 8,
            "cron" => 9,
            "authpriv" => 10,
            "ftp" => 11,
            "mark" => 24,
            "local0" => 16,
            "local1" => 17,
            "local2" => 18,
            "local3" => 19,
            "local4" => 20,
            "local5" => 21,
            "local6" => 22,
            "local7" => 23,
            _ => return None,
        };
        Some(Facility(code << 3))
    }
}

/// Everything the daemon needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Interface to send and receive on.
    pub iface: String,
    /// Our persistent source address; its family is the family of every address here.
    pub srcip: IpAddr,
    /// Group and destination of adverts.
    pub group: IpAddr,
    /// Virtual host id, 1–255.
    pub vhid: u8,
    /// The HMAC key made from the password.
    pub key: Key,
    /// `-P`.
    pub preempt: bool,
    /// `-n`.
    pub neutral: bool,
    /// The virtual addresses: one per `-a` (ucarp takes one; several are an extension).
    pub vaddrs: Vec<IpAddr>,
    /// The `-a` arguments exactly as typed: each script run gets one as `$2`.
    pub vaddr_args: Vec<OsString>,
    /// `--peer`: unicast peers; empty for ucarp's multicast (or `-M` broadcast).
    pub peers: Vec<IpAddr>,
    /// `--real-mac`: adverts from the interface's own MAC.
    pub real_mac: bool,
    /// `--preflight`: check, report and exit instead of running.
    pub preflight: bool,
    /// Base interval, seconds.
    pub advbase: u8,
    /// Skew, 1/256 s.
    pub advskew: u8,
    /// Script for becoming master.
    pub upscript: Option<PathBuf>,
    /// Script for becoming backup.
    pub downscript: Option<PathBuf>,
    /// Intervals without an advert before the master counts as dead.
    pub deadratio: u32,
    /// `-D`.
    pub debug: bool,
    /// `-z`.
    pub shutdown: bool,
    /// `-B`.
    pub daemonize: bool,
    /// `-S`.
    pub ignoreifstate: bool,
    /// `-M`.
    pub nomcast: bool,
    /// Syslog facility; `None` for `-f none`.
    pub facility: Option<Facility>,
    /// `-x`: the scripts' `$3`.
    pub xparam: Option<OsString>,
    /// `--script-timeout`: how long a script may run; `None` for no limit.
    pub script_timeout: Option<Duration>,
    /// `--up-must-succeed`: a failed or timed-out up script demotes the node.
    pub up_must_succeed: bool,
    /// `--check-script` and its timing, when a health check is configured.
    pub check: Option<CheckConfig>,
    /// `--track-iface`: interfaces whose carrier the node depends on.
    pub track: Vec<String>,
    /// `--state-file`: where the JSON status is kept.
    pub state_file: Option<PathBuf>,
    /// `--pidfile`: where the pid is written.
    pub pidfile: Option<PathBuf>,
    /// `--replay-window`: how many counters to remember per peer, when replay
    /// protection is on.
    pub replay_window: Option<usize>,
    /// Messages for the log, with their level, in the order ucarp emits them.
    pub notes: Vec<(Level, String)>,
}

/// Reads a number the way C's `strtoul(s, NULL, 0)` does: leading blanks, an optional
/// sign, `0x` for hex and a leading `0` for octal, trailing junk ignored, a negative
/// value wrapped, an overflow saturated. Returns `None` when no digit was read.
pub fn strtoul(s: &str) -> Option<u64> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let hex_digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_hexdigit()));
    let (radix, digits) = match hex_digits {
        Some(rest) => (16, rest),
        None if s.starts_with('0') => (8, s),
        None => (10, s),
    };
    let mut value: u64 = 0;
    let mut overflow = false;
    let mut any = false;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        any = true;
        match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if !any {
        return None;
    }
    Some(match (overflow, negative) {
        (true, _) => u64::MAX,
        (false, true) => value.wrapping_neg(),
        (false, false) => value,
    })
}

fn text(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

/// Parses an address as `inet_pton` does: a dotted quad (four decimal parts, no leading
/// zeros) or an IPv6 address (ucarp takes IPv4 only). ucarp's message on failure.
fn address(s: &OsStr) -> Result<IpAddr, ConfigError> {
    s.to_str()
        .and_then(|t| t.parse::<IpAddr>().ok())
        .ok_or_else(|| ConfigError::usage(format!("Invalid address: [{}]", text(s))))
}

/// Parses `-b` or `-k`. ucarp casts any number to 8 bits (256 → 0, -1 → 255); here a
/// value outside 0–255, or one with no digits, is an error (a deliberate fix).
fn byte_option(s: &OsStr, what: &str) -> Result<u8, ConfigError> {
    let t = s.to_str().unwrap_or("");
    let negative = t.trim_start().starts_with('-');
    strtoul(t)
        .filter(|_| !negative)
        .and_then(|v| u8::try_from(v).ok())
        .ok_or_else(|| {
            ConfigError::usage(format!(
                "{what} must be between 0 and 255, not [{}]",
                text(s)
            ))
        })
}

/// Parses a duration in seconds (decimals allowed, at most a day); 0 means none.
fn seconds(s: &OsStr, what: &str) -> Result<Option<Duration>, ConfigError> {
    let t = s.to_str().unwrap_or("").trim();
    let secs: f64 = t
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && (0.0..=86_400.0).contains(v))
        .ok_or_else(|| {
            ConfigError::usage(format!(
                "{what} must be a number of seconds from 0 to 86400, not [{}]",
                text(s)
            ))
        })?;
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs)))
}

/// Returns a warning when the password file can be read by group or others.
fn passfile_exposure(path: &OsStr) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "Password file {} is readable by group or others (mode {:o}): chmod 600 it",
            text(path),
            mode & 0o777
        )
    })
}

/// Checks that a script exists and is executable, as it will be run: relative paths
/// against `base` when given (the working directory once detached).
fn executable(what: &str, path: &Path, base: Option<&Path>) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let full = match base {
        Some(b) if path.is_relative() => b.join(path),
        _ => path.to_path_buf(),
    };
    let problem = match std::fs::metadata(&full) {
        Err(e) => Some(e.to_string()),
        Ok(m) if !m.is_file() => Some("not a regular file".to_string()),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Some("not executable".to_string()),
        Ok(_) => None,
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(ConfigError::usage(format!(
            "{what} [{}] cannot be run: {why}",
            path.display()
        ))),
    }
}

/// Reads the `--check-*` options. Timing options without `--check-script` are an error.
fn check_config(args: &Args) -> Result<Option<CheckConfig>, ConfigError> {
    let timing = [
        Opt::CheckInterval,
        Opt::CheckTimeout,
        Opt::CheckRise,
        Opt::CheckFall,
    ];
    let Some(script) = args.last(Opt::CheckScript).filter(|s| !s.is_empty()) else {
        if let Some(o) = timing.iter().find(|o| args.has(**o)) {
            let name = crate::cli::OPTIONS
                .iter()
                .find(|d| d.opt == *o)
                .map_or("", |d| d.long);
            return Err(ConfigError::usage(format!("--{name} needs --check-script")));
        }
        return Ok(None);
    };
    let positive = |opt: Opt, what: &str, default: Duration| -> Result<Duration, ConfigError> {
        match args.last(opt) {
            None => Ok(default),
            Some(v) => seconds(v, what)?
                .ok_or_else(|| ConfigError::usage(format!("{what} must be more than 0 seconds"))),
        }
    };
    let interval = positive(Opt::CheckInterval, "check-interval", DEFAULT_CHECK_INTERVAL)?;
    let timeout = positive(Opt::CheckTimeout, "check-timeout", interval)?;
    let count = |opt: Opt, what: &str| -> Result<u32, ConfigError> {
        match args.last(opt) {
            None => Ok(DEFAULT_CHECK_COUNT),
            Some(v) => v
                .to_str()
                .and_then(|t| t.trim().parse::<u32>().ok())
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    ConfigError::usage(format!("{what} must be from 1 to 1000, not [{}]", text(v)))
                }),
        }
    };
    Ok(Some(CheckConfig {
        script: PathBuf::from(script),
        interval,
        timeout,
        rise: count(Opt::CheckRise, "check-rise")?,
        fall: count(Opt::CheckFall, "check-fall")?,
    }))
}

/// Reads the password from the first line of a file, as ucarp's `-o` does: at most
/// [`MAX_PASSFILE_LINE`] bytes, only the first `\n` removed (a `\r` stays in the key).
fn read_passfile(path: &OsStr) -> Result<Vec<u8>, ConfigError> {
    let shown = text(path);
    let file = std::fs::File::open(path).map_err(|e| {
        ConfigError::usage(format!("unable to open passfile {shown} for reading: {e}"))
    })?;
    let file = std::io::BufReader::new(file);
    let mut line = Vec::with_capacity(64);
    for byte in file.take(MAX_PASSFILE_LINE as u64).bytes() {
        let byte =
            byte.map_err(|e| ConfigError::usage(format!("error reading passfile {shown}: {e}")))?;
        line.push(byte);
        if byte == b'\n' {
            break;
        }
    }
    if line.is_empty() {
        return Err(ConfigError::usage(format!(
            "error reading passfile {shown}: unexpected end of file"
        )));
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    // ucarp copies the line with strdup(): a NUL byte ends the password.
    if let Some(nul) = line.iter().position(|&b| b == 0) {
        line.truncate(nul);
    }
    Ok(line)
}

/// A health check: a program run every `interval`, failing on a non-zero exit or
/// after `timeout`; `fall` failures in a row demote the node, `rise` successes in a
/// row end that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckConfig {
    /// The program, executed directly (no shell, no PATH search).
    pub script: PathBuf,
    /// Time between the starts of two checks.
    pub interval: Duration,
    /// Time after which a running check is killed and counts as failed.
    pub timeout: Duration,
    /// Successes in a row that end a failure.
    pub rise: u32,
    /// Failures in a row that start one.
    pub fall: u32,
}

/// Default time between two health checks.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// Default number of results in a row for `--check-rise` and `--check-fall`.
pub const DEFAULT_CHECK_COUNT: u32 = 2;

/// What the command line asks for, once validated.
#[derive(Debug)]
pub enum Startup {
    /// Run the daemon with this configuration.
    Run(Box<Config>),
    /// `-h`, or no arguments: print the usage and exit 0.
    Help,
    /// `--status FILE`: print the state file and exit.
    Status {
        /// The state file.
        path: PathBuf,
        /// `--json`: print the JSON as is.
        json: bool,
    },
}

/// Reads `-v` as ucarp does (`strtol`, base 0): 1 to 255, anything else is an error.
fn vhid_value(s: &OsStr) -> Result<u8, ConfigError> {
    let t = s.to_str().unwrap_or("");
    let negative = t.trim_start().starts_with('-');
    strtoul(t)
        .filter(|_| !negative)
        .and_then(|v| u8::try_from(v).ok())
        .filter(|&v| v != 0)
        .ok_or_else(|| ConfigError::usage("vhid must be between 1 and 255."))
}

impl Config {
    /// Goes through the options in command-line order as ucarp's getopt loop does
    /// (SPEC.md §1): an address, `-v`, `-b`, `-k`, `-o` or `-h` is acted on as soon as
    /// it is met, every occurrence included, and the last occurrence of an option
    /// wins. Then come ucarp's checks after parsing, in its order: interface, vhid,
    /// password, interval, source address, virtual address, script warnings and dead
    /// ratio; then the two checks of protocol setup (password and interface name
    /// length, exit 2).
    ///
    /// `default_iface` is asked for an interface when `-i` is missing or empty.
    ///
    /// # Errors
    /// The first failed check, as a [`ConfigError`] with ucarp's message and exit code.
    pub fn from_args(
        args: &Args,
        default_iface: impl FnOnce() -> Option<String>,
    ) -> Result<Startup, ConfigError> {
        if let Some(path) = args.last(Opt::Status) {
            return Ok(Startup::Status {
                path: PathBuf::from(path),
                json: args.has(Opt::Json),
            });
        }
        let mut notes = Vec::new();
        let mut srcip = None;
        let mut group = None;
        let mut vhid: u8 = 0;
        let mut password: Vec<u8> = Vec::new();
        let mut vaddrs: Vec<(IpAddr, OsString)> = Vec::new();
        let mut peers: Vec<IpAddr> = Vec::new();
        let mut advbase: u8 = 1;
        let mut advskew: u8 = 0;
        let mut facility = Some(Facility::DAEMON);
        for occ in &args.occurrences {
            let value = occ.value.as_deref().unwrap_or_default();
            match occ.opt {
                Opt::Help => return Ok(Startup::Help),
                Opt::Srcip => srcip = Some(address(value)?),
                Opt::Mcastip => group = Some(address(value)?),
                Opt::Vhid => vhid = vhid_value(value)?,
                Opt::Pass => password = os_bytes(value).to_vec(),
                Opt::Passfile => {
                    password = read_passfile(value)?;
                    if let Some(warning) = passfile_exposure(value) {
                        notes.push((Level::Warn, warning));
                    }
                }
                Opt::Addr => {
                    // A repeated address is the same set: ucarp takes `-a X -a X` too.
                    let a = address(value)?;
                    if !vaddrs.iter().any(|(v, _)| *v == a) {
                        vaddrs.push((a, value.to_os_string()));
                    }
                }
                Opt::Peer => {
                    let p = address(value)?;
                    if !peers.contains(&p) {
                        peers.push(p);
                    }
                }
                Opt::Advbase => advbase = byte_option(value, "advbase")?,
                Opt::Advskew => advskew = byte_option(value, "advskew")?,
                Opt::Facility => {
                    let name = text(value);
                    facility = if name.eq_ignore_ascii_case("none") {
                        None
                    } else if let Some(f) = Facility::from_name(&name) {
                        Some(f)
                    } else {
                        notes.push((Level::Error, format!("Unknown syslog facility: [{name}]")));
                        Some(Facility::DAEMON)
                    };
                }
                _ => {}
            }
        }

        // The checks ucarp makes after parsing, in its order.
        let iface = match args.last(Opt::Interface).filter(|i| !i.is_empty()) {
            Some(i) => text(i),
            None => {
                let found = default_iface()
                    .ok_or_else(|| ConfigError::usage("You must supply a network interface"))?;
                notes.push((
                    Level::Info,
                    format!("Using [{found}] as a network interface"),
                ));
                found
            }
        };
        if vhid == 0 {
            return Err(ConfigError::usage(
                "You must supply a valid virtual host id",
            ));
        }
        if password.is_empty() {
            return Err(ConfigError::usage("You must supply a password"));
        }
        if advbase == 0 && advskew == 0 {
            return Err(ConfigError::usage(
                "You must supply an advertisement time base",
            ));
        }
        let srcip = srcip
            .filter(|ip: &IpAddr| !ip.is_unspecified())
            .ok_or_else(|| ConfigError::usage("You must supply a persistent source address"))?;
        if vaddrs.is_empty() || vaddrs.iter().any(|(a, _)| a.is_unspecified()) {
            return Err(ConfigError::usage("You must supply a virtual host address"));
        }
        // One family per node: the adverts, the digest and the announcements are of the
        // source address's family.
        let family = |ip: &IpAddr| if ip.is_ipv4() { "IPv4" } else { "IPv6" };
        let mismatch = |what: &str, ip: IpAddr| {
            ConfigError::usage(format!(
                "Address family mismatch: {what} [{ip}] is {}, but the source address [{srcip}] is {}",
                family(&ip),
                family(&srcip)
            ))
        };
        if let Some((a, _)) = vaddrs.iter().find(|(a, _)| a.is_ipv4() != srcip.is_ipv4()) {
            return Err(mismatch("the virtual address", *a));
        }
        if let Some(p) = peers.iter().find(|p| p.is_ipv4() != srcip.is_ipv4()) {
            return Err(mismatch("the peer", *p));
        }
        if let Some(g) = group.filter(|g| g.is_ipv4() != srcip.is_ipv4()) {
            return Err(mismatch("the multicast address", g));
        }
        let group = group.unwrap_or(match srcip {
            IpAddr::V4(_) => CARP_MCAST_V4.into(),
            IpAddr::V6(_) => CARP_MCAST_V6.into(),
        });
        if matches!(group, IpAddr::V6(g) if !g.is_multicast()) {
            return Err(ConfigError::usage(format!(
                "Invalid multicast address: [{group}] (an IPv6 group starts with ff)"
            )));
        }
        for p in &peers {
            let broadcast = matches!(p, IpAddr::V4(p) if p.is_broadcast());
            if p.is_unspecified() || p.is_multicast() || broadcast || *p == srcip {
                return Err(ConfigError::usage(format!(
                    "Invalid peer: [{p}] (a peer is another host's own unicast address)"
                )));
            }
        }
        if !peers.is_empty() && (args.has(Opt::Nomcast) || args.has(Opt::Mcastip)) {
            return Err(ConfigError::usage(
                "--peer sends by unicast: it cannot be combined with -M or --mcastip",
            ));
        }
        // ucarp warns only when the option is absent; an empty path runs nothing, quietly.
        let upscript = args.last(Opt::Upscript).map(PathBuf::from);
        let downscript = args.last(Opt::Downscript).map(PathBuf::from);
        // --preflight never runs a script: no warning that none is set.
        let preflight = args.has(Opt::Preflight);
        if upscript.is_none() && !preflight {
            notes.push((
                Level::Warn,
                "Warning: no script called when going up".into(),
            ));
        }
        if downscript.is_none() && !preflight {
            notes.push((
                Level::Warn,
                "Warning: no script called when going down".into(),
            ));
        }
        let deadratio = match args.last(Opt::Deadratio) {
            // ucarp stores strtoul's unsigned long in an unsigned int.
            Some(s) => strtoul(s.to_str().unwrap_or("")).unwrap_or(0) as u32,
            None => 3,
        };
        if deadratio == 0 {
            return Err(ConfigError::usage("Dead ratio can't be zero"));
        }

        let script_timeout = match args.last(Opt::ScriptTimeout) {
            None => Some(DEFAULT_SCRIPT_TIMEOUT),
            Some(s) => seconds(s, "script-timeout")?,
        };
        let replay_window = match args.last(Opt::ReplayWindow) {
            None => None,
            Some(v) => Some(
                v.to_str()
                    .and_then(|t| t.trim().parse::<usize>().ok())
                    .filter(|n| (1..=crate::replay::MAX_WINDOW).contains(n))
                    .ok_or_else(|| {
                        ConfigError::usage(format!(
                            "replay-window must be from 1 to {}, not [{}]",
                            crate::replay::MAX_WINDOW,
                            text(v)
                        ))
                    })?,
            ),
        };
        let file_option = |opt: Opt, what: &str| -> Result<Option<PathBuf>, ConfigError> {
            match args.last(opt) {
                Some(p) if p.is_empty() => {
                    Err(ConfigError::usage(format!("--{what} needs a file name")))
                }
                p => Ok(p.map(PathBuf::from)),
            }
        };
        let state_file = file_option(Opt::StateFile, "state-file")?;
        let pidfile = file_option(Opt::Pidfile, "pidfile")?;
        let check = check_config(args)?;
        // A script that cannot run is found now, not at the first failover. Relative
        // paths are resolved as they will be: against / once -B has detached.
        let base = if args.has(Opt::Daemonize) {
            Some(Path::new("/"))
        } else {
            None
        };
        for (what, path) in [
            ("Up script", upscript.as_deref()),
            ("Down script", downscript.as_deref()),
            ("Check script", check.as_ref().map(|c| c.script.as_path())),
        ] {
            if let Some(path) = path.filter(|p| !p.as_os_str().is_empty()) {
                executable(what, path, base)?;
            }
        }
        let track: Vec<String> = args
            .occurrences
            .iter()
            .filter(|o| o.opt == Opt::TrackIface)
            .filter_map(|o| o.value.as_deref())
            .map(text)
            .collect();
        if let Some(bad) = track
            .iter()
            .find(|t| t.is_empty() || t.len() > MAX_IFNAME_LEN)
        {
            return Err(ConfigError::usage(format!(
                "Invalid interface name for --track-iface: [{bad}]"
            )));
        }

        // Protocol setup (exit 2 in ucarp).
        let key = Key::new(&password).map_err(|e| match e {
            KeyError::Empty => ConfigError::usage(e.to_string()),
            KeyError::TooLong { .. } => ConfigError::setup(e.to_string()),
        })?;
        if iface.len() > MAX_IFNAME_LEN {
            return Err(ConfigError::setup(format!(
                "Interface name too long: [{iface}]"
            )));
        }

        Ok(Startup::Run(Box::new(Config {
            iface,
            srcip,
            group,
            vhid,
            key,
            preempt: args.has(Opt::Preempt),
            neutral: args.has(Opt::Neutral),
            vaddrs: vaddrs.iter().map(|(a, _)| *a).collect(),
            vaddr_args: vaddrs.into_iter().map(|(_, s)| s).collect(),
            peers,
            real_mac: args.has(Opt::RealMac),
            preflight,
            advbase,
            advskew,
            upscript,
            downscript,
            deadratio,
            debug: args.has(Opt::Debug),
            shutdown: args.has(Opt::Shutdown),
            daemonize: args.has(Opt::Daemonize),
            ignoreifstate: args.has(Opt::Ignoreifstate),
            nomcast: args.has(Opt::Nomcast),
            facility,
            xparam: args.last(Opt::Xparam).map(OsStr::to_os_string),
            script_timeout,
            up_must_succeed: args.has(Opt::UpMustSucceed),
            check,
            track,
            state_file,
            pidfile,
            replay_window,
            notes,
        })))
    }

    /// Returns the state machine's part of the configuration.
    pub fn carp(&self) -> crate::state::Config {
        crate::state::Config {
            iface: self.iface.clone(),
            vhid: self.vhid,
            advbase: self.advbase,
            advskew: self.advskew,
            deadratio: self.deadratio,
            preempt: self.preempt,
            neutral: self.neutral,
            srcip: self.srcip,
            signer: self.signer(),
            sequential_counters: self.replay_window.is_some(),
        }
    }

    /// Returns the key bound to the vhid and every virtual address.
    pub fn signer(&self) -> crate::auth::Signer {
        self.key.signer(self.vhid, &self.vaddrs)
    }

    /// Returns what this node accepts: its address and family, vhid, the destination
    /// adverts must carry, the peers, and the key.
    pub fn receiver(&self) -> crate::rx::Receiver {
        crate::rx::Receiver {
            srcip: self.srcip,
            vhid: self.vhid,
            group: self.advert_destination(),
            peers: self.peers.clone(),
            signer: self.signer(),
        }
    }

    /// Returns the destination adverts carry, and must carry when received: the group,
    /// or with `--peer` this node's own address.
    pub fn advert_destination(&self) -> IpAddr {
        if self.peers.is_empty() {
            self.group
        } else {
            self.srcip
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse;
    use std::net::Ipv4Addr;

    fn startup(args: &[&str]) -> Result<Startup, ConfigError> {
        let mut argv = vec!["ucarp"];
        argv.extend_from_slice(args);
        Config::from_args(&parse(argv).unwrap(), || Some("eth9".into()))
    }

    fn config(args: &[&str]) -> Result<Config, ConfigError> {
        match startup(args)? {
            Startup::Run(c) => Ok(*c),
            other => panic!("{other:?}"),
        }
    }

    const BASE: &[&str] = &[
        "-i",
        "eth0",
        "-s",
        "192.0.2.1",
        "-v",
        "7",
        "-p",
        "secret",
        "-a",
        "192.0.2.100",
    ];

    fn with(extra: &[&str]) -> Result<Config, ConfigError> {
        let mut v = BASE.to_vec();
        v.extend_from_slice(extra);
        config(&v)
    }

    #[test]
    fn strtoul_like_c() {
        assert_eq!(strtoul("7"), Some(7));
        assert_eq!(strtoul("0x10"), Some(16));
        assert_eq!(strtoul("0X1f"), Some(31));
        assert_eq!(strtoul("010"), Some(8));
        assert_eq!(strtoul("0"), Some(0));
        assert_eq!(strtoul("  +12"), Some(12));
        assert_eq!(strtoul("7abc"), Some(7));
        assert_eq!(strtoul("09"), Some(0));
        assert_eq!(strtoul("0x"), Some(0));
        assert_eq!(strtoul("-1"), Some(u64::MAX));
        assert_eq!(strtoul("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(strtoul("abc"), None);
        assert_eq!(strtoul(""), None);
        assert_eq!(strtoul("-"), None);
    }

    #[test]
    fn defaults() {
        let c = with(&[]).unwrap();
        assert_eq!((c.advbase, c.advskew, c.deadratio), (1, 0, 3));
        assert_eq!(c.group, CARP_MCAST_V4);
        assert_eq!(c.facility, Some(Facility::DAEMON));
        assert!(!c.preempt && !c.neutral && !c.shutdown && !c.nomcast);
        assert_eq!(c.vaddr_args, vec![OsString::from("192.0.2.100")]);
        assert_eq!(
            c.notes,
            vec![
                (
                    Level::Warn,
                    "Warning: no script called when going up".into()
                ),
                (
                    Level::Warn,
                    "Warning: no script called when going down".into()
                )
            ]
        );
    }

    #[test]
    fn numbers_in_c_bases() {
        let c = with(&["-v", "0x10", "-b", "010", "-k", "0x20", "-r", "-1"]).unwrap();
        assert_eq!((c.vhid, c.advbase, c.advskew), (16, 8, 32));
        assert_eq!(c.deadratio, u32::MAX);
    }

    #[test]
    fn messages_and_exit_codes() {
        let cases: &[(&[&str], &str, u8)] = &[
            (&["-s", "192.0.2.256"], "Invalid address: [192.0.2.256]", 1),
            (&["-s", "192.0.2.01"], "Invalid address: [192.0.2.01]", 1),
            (
                &["-a", "192.0.2.0/24"],
                "Invalid address: [192.0.2.0/24]",
                1,
            ),
            (&["--mcastip", "fe80::%1"], "Invalid address: [fe80::%1]", 1),
            (
                &["--mcastip", "ff02::12"],
                "Address family mismatch: the multicast address [ff02::12] is IPv6, but the source address [192.0.2.1] is IPv4",
                1,
            ),
            (
                &["-a", "2001:db8::100"],
                "Address family mismatch: the virtual address [2001:db8::100] is IPv6, but the source address [192.0.2.1] is IPv4",
                1,
            ),
            (
                &["--peer", "2001:db8::2"],
                "Address family mismatch: the peer [2001:db8::2] is IPv6, but the source address [192.0.2.1] is IPv4",
                1,
            ),
            (&["-v", "0"], "vhid must be between 1 and 255.", 1),
            (&["-v", "256"], "vhid must be between 1 and 255.", 1),
            (&["-v", "abc"], "vhid must be between 1 and 255.", 1),
            (
                &["-b", "0", "-k", "0"],
                "You must supply an advertisement time base",
                1,
            ),
            (
                &["-b", "256"],
                "advbase must be between 0 and 255, not [256]",
                1,
            ),
            (
                &["-k", "-1"],
                "advskew must be between 0 and 255, not [-1]",
                1,
            ),
            (
                &["-k", "x"],
                "advskew must be between 0 and 255, not [x]",
                1,
            ),
            (&["-r", "0"], "Dead ratio can't be zero", 1),
            (&["-r", "4294967296"], "Dead ratio can't be zero", 1),
            (&["-p", ""], "You must supply a password", 1),
            (
                &["-s", "0.0.0.0"],
                "You must supply a persistent source address",
                1,
            ),
            (
                &["-a", "0.0.0.0"],
                "You must supply a virtual host address",
                1,
            ),
            (
                &["-p", "01234567890123456789"],
                "Password too long (20 bytes; at most 19 are allowed)",
                2,
            ),
            (
                &["-i", "abcdefghijklmnop"],
                "Interface name too long: [abcdefghijklmnop]",
                2,
            ),
        ];
        for (extra, message, code) in cases {
            let e = with(extra).unwrap_err();
            assert_eq!(
                (e.message.as_str(), e.exit_code),
                (*message, *code),
                "{extra:?}"
            );
        }
        assert!(with(&["-p", "0123456789012345678"]).is_ok());
    }

    #[test]
    fn missing_mandatory_options() {
        let e = config(&["-i", "eth0"]).unwrap_err();
        assert_eq!(e.message, "You must supply a valid virtual host id");
        let e = config(&["-v", "1"]).unwrap_err();
        assert_eq!(e.message, "You must supply a password");
        let e = config(&["-v", "1", "-p", "x"]).unwrap_err();
        assert_eq!(e.message, "You must supply a persistent source address");
        let e = config(&["-v", "1", "-p", "x", "-s", "192.0.2.1"]).unwrap_err();
        assert_eq!(e.message, "You must supply a virtual host address");
    }

    #[test]
    fn first_bad_option_on_the_line_is_reported() {
        let e = config(&["-a", "bad-vip", "-s", "bad-src"]).unwrap_err();
        assert_eq!(e.message, "Invalid address: [bad-vip]");
        let e = config(&["-s", "bad-src", "-a", "bad-vip"]).unwrap_err();
        assert_eq!(e.message, "Invalid address: [bad-src]");
        let e = config(&["-v", "0", "-s", "bad-src"]).unwrap_err();
        assert_eq!(e.message, "vhid must be between 1 and 255.");
    }

    #[test]
    fn default_interface() {
        let c = config(&["-s", "192.0.2.1", "-v", "7", "-p", "x", "-a", "192.0.2.100"]).unwrap();
        assert_eq!(c.iface, "eth9");
        assert_eq!(
            c.notes[0],
            (Level::Info, "Using [eth9] as a network interface".into())
        );
        let a = parse(["ucarp", "-i", "", "-v", "1"]).unwrap();
        let e = Config::from_args(&a, || None).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.exit_code),
            ("You must supply a network interface", 1)
        );
    }

    #[test]
    fn every_occurrence_is_checked_in_order() {
        // ucarp checks each option as getopt meets it, even one a later one overrides.
        let e = with(&["-s", "bad", "-s", "192.0.2.1"]).unwrap_err();
        assert_eq!(e.message, "Invalid address: [bad]");
        let e = with(&["-v", "0", "-v", "7"]).unwrap_err();
        assert_eq!(e.message, "vhid must be between 1 and 255.");
        let e = with(&["-o", "/nonexistent/pass", "-p", "x"]).unwrap_err();
        assert!(e
            .message
            .starts_with("unable to open passfile /nonexistent/pass"));
        // -h is acted on where it stands: after a bad option it is too late.
        assert!(with(&["-s", "bad", "-h"]).is_err());
        assert!(matches!(startup(&["-h", "-s", "bad"]), Ok(Startup::Help)));
        // The last value wins.
        assert_eq!(with(&["-v", "9"]).unwrap().vhid, 9);
    }

    #[test]
    fn negative_vhid_is_rejected_even_when_it_wraps() {
        let e = with(&["-v", "-18446744073709551615"]).unwrap_err();
        assert_eq!(e.message, "vhid must be between 1 and 255.");
    }

    #[test]
    fn empty_script_paths_run_nothing_and_warn_nothing() {
        let c = with(&["-u", "", "-d", ""]).unwrap();
        assert!(c.notes.is_empty(), "{:?}", c.notes);
    }

    #[test]
    fn script_timeout() {
        assert_eq!(
            with(&[]).unwrap().script_timeout,
            Some(DEFAULT_SCRIPT_TIMEOUT)
        );
        assert_eq!(
            with(&["--script-timeout", "0"]).unwrap().script_timeout,
            None
        );
        assert_eq!(
            with(&["--script-timeout=2.5"]).unwrap().script_timeout,
            Some(Duration::from_millis(2500))
        );
        for bad in ["-1", "x", "1e9", "nan"] {
            let e = with(&["--script-timeout", bad]).unwrap_err();
            assert!(
                e.message.starts_with("script-timeout must be"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn health_check_options() {
        assert_eq!(with(&[]).unwrap().check, None);
        let c = with(&[
            "--check-script",
            "/bin/true",
            "--check-interval",
            "0.5",
            "--check-fall",
            "3",
        ])
        .unwrap()
        .check
        .unwrap();
        assert_eq!(c.interval, Duration::from_millis(500));
        assert_eq!(
            c.timeout,
            Duration::from_millis(500),
            "the timeout defaults to the interval"
        );
        assert_eq!((c.rise, c.fall), (DEFAULT_CHECK_COUNT, 3));
        let e = with(&["--check-interval", "1"]).unwrap_err();
        assert_eq!(e.message, "--check-interval needs --check-script");
        let e = with(&["--check-script", "/bin/true", "--check-rise", "0"]).unwrap_err();
        assert_eq!(e.message, "check-rise must be from 1 to 1000, not [0]");
        let e = with(&["--check-script", "/bin/true", "--check-interval", "0"]).unwrap_err();
        assert_eq!(e.message, "check-interval must be more than 0 seconds");
    }

    #[test]
    fn tracked_interfaces_status_and_files() {
        let c = with(&[
            "--track-iface",
            "eth1",
            "--track-iface=bond0",
            "--pidfile",
            "/run/u.pid",
            "--up-must-succeed",
        ])
        .unwrap();
        assert_eq!(c.track, ["eth1", "bond0"]);
        assert_eq!(c.pidfile, Some(PathBuf::from("/run/u.pid")));
        assert!(c.up_must_succeed);
        let e = with(&["--track-iface", "a-very-long-ifname"]).unwrap_err();
        assert!(e
            .message
            .starts_with("Invalid interface name for --track-iface"));
        assert!(matches!(
            startup(&["--status", "/run/s.json", "--json"]),
            Ok(Startup::Status { json: true, .. })
        ));
    }

    #[test]
    fn facilities() {
        assert_eq!(
            with(&["-f", "LOCAL3"]).unwrap().facility,
            Some(Facility(19 << 3))
        );
        assert_eq!(with(&["-f", "none"]).unwrap().facility, None);
        let c = with(&["-f", "bogus"]).unwrap();
        assert_eq!(c.facility, Some(Facility::DAEMON));
        assert!(c
            .notes
            .contains(&(Level::Error, "Unknown syslog facility: [bogus]".into())));
    }

    #[test]
    fn passfile_first_line_only() {
        let dir = std::env::temp_dir().join(format!("ucarp-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, body: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, body).unwrap();
            p.to_str().unwrap().to_string()
        };
        let key_of = |path: &str| {
            let c = config(&[
                "-i",
                "e",
                "-s",
                "192.0.2.1",
                "-v",
                "7",
                "-o",
                path,
                "-a",
                "192.0.2.100",
            ]);
            c.map(|c| c.key.sign(7, Ipv4Addr::new(192, 0, 2, 100), &[0; 8]))
        };
        let expect = |pw: &[u8]| {
            Key::new(pw)
                .unwrap()
                .sign(7, Ipv4Addr::new(192, 0, 2, 100), &[0; 8])
        };
        assert_eq!(
            key_of(&write("a", b"secret\nsecond line\n")),
            Ok(expect(b"secret"))
        );
        assert_eq!(key_of(&write("b", b"secret")), Ok(expect(b"secret")));
        assert_eq!(key_of(&write("c", b"secret\r\n")), Ok(expect(b"secret\r")));
        assert_eq!(key_of(&write("n", b"sec\0ret\n")), Ok(expect(b"sec")));
        let empty = write("d", b"");
        assert_eq!(
            key_of(&empty).unwrap_err().message,
            format!("error reading passfile {empty}: unexpected end of file")
        );
        assert_eq!(
            key_of(&write("e", b"\nx")).unwrap_err().message,
            "You must supply a password"
        );
        let missing = dir.join("missing").to_str().unwrap().to_string();
        let e = key_of(&missing).unwrap_err();
        assert!(e
            .message
            .starts_with(&format!("unable to open passfile {missing} for reading: ")));
        assert_eq!(e.exit_code, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ipv6_node() {
        let v6 = |extra: &[&str]| {
            let mut args = vec!["-i", "eth0", "-s", "2001:db8::1", "-v", "7", "-p", "secret"];
            args.extend_from_slice(extra);
            config(&args)
        };
        let c = v6(&["-a", "2001:db8::100", "-a", "2001:db8::101"]).unwrap();
        assert_eq!(c.group, IpAddr::from(CARP_MCAST_V6));
        assert_eq!(c.vaddrs.len(), 2);
        assert_eq!(c.advert_destination(), IpAddr::from(CARP_MCAST_V6));
        let c = v6(&["-a", "2001:db8::100", "--peer", "fe80::2"]).unwrap();
        assert_eq!(c.advert_destination(), c.srcip);
        let e = v6(&["-a", "198.51.100.1"]).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.exit_code),
            (
                "Address family mismatch: the virtual address [198.51.100.1] is IPv4, but the source address [2001:db8::1] is IPv6",
                1
            )
        );
        let e = v6(&["-a", "2001:db8::100", "--mcastip", "2001:db8::5"]).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid multicast address: [2001:db8::5] (an IPv6 group starts with ff)"
        );
        let e = v6(&["-a", "::"]).unwrap_err();
        assert_eq!(e.message, "You must supply a virtual host address");
    }

    /// An address or peer given twice counts once (ucarp takes `-a X -a X` too); the
    /// order of the first occurrences is kept.
    #[test]
    fn repeated_addresses_and_peers_count_once() {
        let c = with(&[
            "-a",
            "192.0.2.101",
            "-a",
            "192.0.2.100",
            "--peer",
            "192.0.2.2",
            "--peer",
            "192.0.2.3",
            "--peer",
            "192.0.2.2",
        ])
        .unwrap();
        let ips = |v: &[&str]| {
            v.iter()
                .map(|a| a.parse().unwrap())
                .collect::<Vec<IpAddr>>()
        };
        assert_eq!(c.vaddrs, ips(&["192.0.2.100", "192.0.2.101"]));
        assert_eq!(c.peers, ips(&["192.0.2.2", "192.0.2.3"]));
    }
}
