//! From raw [`Args`] to a validated [`Config`] (docs/PROTOCOL.md §1): ucarp's number parsing,
//! its checks in its order, its messages and exit codes.
//!
//! Apart from reading the `-o` password file, this module does no I/O: the default
//! interface comes from a caller-supplied lookup, and the messages meant for the log
//! (warnings about missing scripts, an unknown facility) are returned in
//! [`Config::notes`] for the caller to log once logging is set up.

use std::ffi::{OsStr, OsString};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::Level;

use crate::auth::{Key, KeyError};
use crate::cli::{os_bytes, Args, Opt};
use crate::packet::{CARP_MCAST_V4, CARP_MCAST_V6};
use crate::state::VrrpConfig;

mod check;
mod facility;
mod files;
mod number;
#[cfg(test)]
mod tests;

use check::check_config;
pub use check::{CheckConfig, DEFAULT_CHECK_COUNT, DEFAULT_CHECK_INTERVAL};
pub use facility::Facility;
use files::{executable, passfile_exposure, read_passfile};
pub use number::strtoul;
use number::{address, byte_option, seconds, text, vhid_value};

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

/// The replay window `--strict-auth` turns on when `--replay-window` is not given.
pub const STRICT_REPLAY_WINDOW: usize = 64;
/// ucarp reads at most this many bytes of the password file's first line.
pub const MAX_PASSFILE_LINE: usize = 511;

/// A configuration error: the crate's one error type, with ucarp's exit code.
pub type ConfigError = crate::error::Error;

/// The configurations the state machine refuses, with ucarp's wording: checked here,
/// in ucarp's order, with the core's own messages, so each is written once.
use crate::state::ConfigError as Invalid;

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
    /// The HMAC key made from the password; `None` in VRRP mode, which has none.
    pub key: Option<Key>,
    /// `--vrrp`: speak VRRPv3 with this priority and interval instead of CARP
    /// (docs/PROTOCOL.md §14); `None` for CARP.
    pub vrrp: Option<VrrpConfig>,
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
    /// `--strict-auth`: the digest covers the whole header; ucarp's format is refused.
    pub strict_auth: bool,
    /// `--preempt-delay`: with `-P`, how long to wait after start or link up before
    /// preempting.
    pub preempt_delay: Duration,
    /// `--witness`: hosts probed by ARP or neighbour solicitation; without an answer
    /// from any, the node does not hold the address (docs/PROTOCOL.md §5.15).
    pub witnesses: Vec<IpAddr>,
    /// Messages for the log, with their level, in the order ucarp emits them.
    pub notes: Vec<(Level, String)>,
}

/// What the command line asks for, once validated.
#[derive(Debug)]
pub enum Startup {
    /// Run the daemon with this configuration.
    Run(Box<Config>),
    /// `-h`, or no arguments: print the usage and exit 0.
    Help,
    /// `-V`: print the version and exit 0.
    Version,
    /// `--status FILE`: print the state file and exit.
    Status {
        /// The state file.
        path: PathBuf,
        /// `--json`: print the JSON as is.
        json: bool,
    },
}

impl Config {
    /// Goes through the options in command-line order as ucarp's getopt loop does
    /// (docs/PROTOCOL.md §1): an address, `-v`, `-b`, `-k`, `-o` or `-h` is acted on as soon as
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
        let mut witnesses: Vec<IpAddr> = Vec::new();
        let mut advbase: u8 = 1;
        let mut advskew: u8 = 0;
        let mut facility = Some(Facility::DAEMON);
        for occ in &args.occurrences {
            let value = occ.value.as_deref().unwrap_or_default();
            match occ.opt {
                Opt::Help => return Ok(Startup::Help),
                Opt::Version => return Ok(Startup::Version),
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
                Opt::Witness => {
                    let w = value
                        .to_str()
                        .and_then(|t| t.parse::<IpAddr>().ok())
                        .ok_or_else(|| {
                            ConfigError::usage(format!(
                                "Invalid witness: [{}] (an IPv4 or IPv6 address)",
                                text(value)
                            ))
                        })?;
                    if !witnesses.contains(&w) {
                        witnesses.push(w);
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

        let vrrp = vrrp_config(args)?;

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
        if password.is_empty() && vrrp.is_none() {
            return Err(ConfigError::usage("You must supply a password"));
        }
        if advbase == 0 && advskew == 0 {
            return Err(ConfigError::usage(Invalid::ZeroInterval.to_string()));
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
        if let Some(w) = witnesses.iter().find(|w| w.is_ipv4() != srcip.is_ipv4()) {
            return Err(mismatch("the witness", *w));
        }
        for w in &witnesses {
            let broadcast = matches!(w, IpAddr::V4(w) if w.is_broadcast());
            if w.is_unspecified() || w.is_multicast() || w.is_loopback() || broadcast || *w == srcip
            {
                return Err(ConfigError::usage(format!(
                    "Invalid witness: [{w}] (a witness is another host's unicast address on the link, such as the gateway)"
                )));
            }
            if vaddrs.iter().any(|(a, _)| a == w) {
                return Err(ConfigError::usage(format!(
                    "Invalid witness: [{w}] is a virtual address"
                )));
            }
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
            return Err(ConfigError::usage(Invalid::ZeroDeadRatio.to_string()));
        }

        let script_timeout = match args.last(Opt::ScriptTimeout) {
            None => Some(DEFAULT_SCRIPT_TIMEOUT),
            Some(s) => seconds(s, "script-timeout")?,
        };
        let preempt_delay = match args.last(Opt::PreemptDelay) {
            None => Duration::ZERO,
            Some(s) => seconds(s, "preempt-delay")?.unwrap_or(Duration::ZERO),
        };
        let strict_auth = args.has(Opt::StrictAuth);
        let replay_window = match args.last(Opt::ReplayWindow) {
            // Strict groups also refuse replays: a signed header is no use if the
            // whole advert can be sent again.
            None if strict_auth => Some(STRICT_REPLAY_WINDOW),
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
        let key = match vrrp {
            Some(_) => None,
            None => Some(Key::new(&password).map_err(|e| match e {
                KeyError::Empty => ConfigError::usage(e.to_string()),
                KeyError::TooLong { .. } => ConfigError::setup(e.to_string()),
            })?),
        };
        if let Some(limit) = vrrp.map(|_| vrrp_address_limit(srcip)) {
            if vaddrs.len() > limit {
                return Err(ConfigError::usage(format!(
                    "--vrrp advertises at most {limit} addresses of this family, not {}",
                    vaddrs.len()
                )));
            }
        }
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
            vrrp,
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
            strict_auth,
            preempt_delay,
            witnesses,
            notes,
        })))
    }

    /// Returns the state machine's part of the configuration.
    pub fn carp(&self) -> crate::state::Config {
        crate::state::Config {
            iface: self.iface.clone(),
            vhid: self.vhid,
            preempt: self.preempt,
            neutral: self.neutral,
            srcip: self.srcip,
            preempt_delay: self.preempt_delay,
            witness: !self.witnesses.is_empty(),
            protocol: match self.vrrp {
                Some(v) => crate::state::Protocol::Vrrp(v),
                None => crate::state::Protocol::Carp(crate::state::CarpConfig {
                    advbase: self.advbase,
                    advskew: self.advskew,
                    deadratio: self.deadratio,
                    #[allow(clippy::expect_used)]
                    signer: self
                        .signer()
                        .expect("invariant: from_args gives every CARP configuration a key"),
                    sequential_counters: self.replay_window.is_some(),
                }),
            },
        }
    }

    /// Returns the key bound to the vhid and every virtual address, in this node's
    /// format: ucarp's, or with `--strict-auth` the whole header.
    /// `None` in VRRP mode.
    pub fn signer(&self) -> Option<crate::auth::Signer> {
        let key = self.key.as_ref()?;
        Some(if self.strict_auth {
            key.strict_signer(&self.vaddrs)
        } else {
            key.signer(self.vhid, &self.vaddrs)
        })
    }

    /// Returns the signer of the format this node does not use, for `--preflight` to
    /// tell a peer with another `--strict-auth` from one with another password.
    /// `None` in VRRP mode.
    pub fn other_signer(&self) -> Option<crate::auth::Signer> {
        let key = self.key.as_ref()?;
        Some(if self.strict_auth {
            key.signer(self.vhid, &self.vaddrs)
        } else {
            key.strict_signer(&self.vaddrs)
        })
    }

    /// Returns what this node accepts: its address and family, vhid, the destination
    /// adverts must carry, the peers, and the key.
    /// `None` in VRRP mode (see [`Config::vrrp_receiver`]).
    pub fn receiver(&self) -> Option<crate::rx::Receiver> {
        Some(crate::rx::Receiver {
            srcip: self.srcip,
            vhid: self.vhid,
            group: self.advert_destination(),
            peers: self.peers.clone(),
            signer: self.signer()?,
        })
    }

    /// Returns what this node accepts in VRRP mode (docs/PROTOCOL.md §14.3): its
    /// address and family, VRID, the destination adverts must carry, the peers and
    /// the addresses adverts should list.
    pub fn vrrp_receiver(&self) -> crate::rx::VrrpReceiver {
        crate::rx::VrrpReceiver {
            srcip: self.srcip,
            vrid: self.vhid,
            group: self.advert_destination(),
            peers: self.peers.clone(),
            addresses: self.vaddrs.clone(),
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

/// The VRRP priority without `--priority`, RFC 5798's default.
pub const DEFAULT_PRIORITY: u8 = 100;
/// The VRRP interval without `--advert-int`: 1 s.
pub const DEFAULT_INTERVAL_CS: u16 = 100;

/// How many addresses of `srcip`'s family a VRRP advert of ours may list: as many as
/// fit in the part of a frame the kernel hands the daemon (`net::FRAME_SNAP`).
pub fn vrrp_address_limit(srcip: IpAddr) -> usize {
    match srcip {
        IpAddr::V4(_) => 40,
        IpAddr::V6(_) => 12,
    }
}

/// Reads `--vrrp`, `--priority` and `--advert-int`, and refuses what makes no sense in
/// either mode: the VRRP options without `--vrrp`, and CARP's password, interval and
/// authentication options with it (docs/PROTOCOL.md §14).
fn vrrp_config(args: &Args) -> Result<Option<VrrpConfig>, ConfigError> {
    let vrrp_only = [(Opt::Priority, "priority"), (Opt::AdvertInt, "advert-int")];
    if !args.has(Opt::Vrrp) {
        if let Some((_, name)) = vrrp_only.iter().find(|(o, _)| args.has(*o)) {
            return Err(ConfigError::usage(format!("--{name} needs --vrrp")));
        }
        return Ok(None);
    }
    let carp_only = [
        (Opt::Pass, "-p (VRRPv3 has no authentication)"),
        (Opt::Passfile, "-o (VRRPv3 has no authentication)"),
        (Opt::Advbase, "-b (use --advert-int)"),
        (Opt::Advskew, "-k (use --priority)"),
        (Opt::Deadratio, "-r (VRRP's master-down interval is fixed)"),
        (
            Opt::StrictAuth,
            "--strict-auth (VRRPv3 has no authentication)",
        ),
        (
            Opt::ReplayWindow,
            "--replay-window (VRRPv3 adverts carry no counter)",
        ),
    ];
    if let Some((_, what)) = carp_only.iter().find(|(o, _)| args.has(*o)) {
        return Err(ConfigError::usage(format!(
            "--vrrp cannot be combined with {what}"
        )));
    }
    let priority = match args.last(Opt::Priority) {
        None => DEFAULT_PRIORITY,
        Some(v) => v
            .to_str()
            .and_then(|t| t.trim().parse::<u8>().ok())
            .filter(|p| (1..=254).contains(p))
            .ok_or_else(|| {
                ConfigError::usage(format!("priority must be from 1 to 254, not [{}]", text(v)))
            })?,
    };
    let interval_cs = match args.last(Opt::AdvertInt) {
        None => DEFAULT_INTERVAL_CS,
        Some(v) => v
            .to_str()
            .and_then(|t| crate::decimal::Decimal::parse(t.trim()))
            .and_then(|d| d.to_duration(Duration::from_secs(41)))
            .filter(|d| d.subsec_nanos() % 10_000_000 == 0)
            .and_then(|d| u16::try_from(d.as_millis() / 10).ok())
            .filter(|cs| (1..=crate::vrrp::MAX_INTERVAL_CS).contains(cs))
            .ok_or_else(|| {
                ConfigError::usage(format!(
                    "advert-int must be from 0.01 to 40.95 seconds in steps of 0.01, not [{}]",
                    text(v)
                ))
            })?,
    };
    Ok(Some(VrrpConfig {
        priority,
        interval_cs,
    }))
}
