//! The command line as the user typed it (docs/PROTOCOL.md §1): ucarp's option letters and long
//! names, parsed with getopt-like rules, and the usage text.
//!
//! This module only splits the command line into option occurrences, in order;
//! [`crate::config`] then goes through them the way ucarp's getopt loop does (some
//! checks fire as each option is met, the last occurrence wins) and builds the
//! configuration. It never touches the network or the file system.
//!
//! One table, [`OPTIONS`], drives the parser, the usage text and the man-page test, so
//! they cannot drift apart; that is why the parser is built with clap's builder rather
//! than its derive macro, which would need a second list of the same options.
//!
//! getopt rules kept: options may be permuted and grouped (`-Pz`), values attached
//! (`-v7`, `--vhid=7`) or separate, values may start with `-` (`-k -1`), and a unique
//! prefix of a long name is accepted (`--int`, `--mcast`). Deliberate fixes: an
//! unknown option, a missing value or a stray argument is an error (ucarp prints usage
//! and exits 0), and `-m` is accepted as the short form of `--mcastip` (ucarp documents
//! it but rejects it).

use std::ffi::{OsStr, OsString};

use clap::{Arg, ArgAction, ArgMatches, Command};

/// One option of ucarp's command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opt {
    /// `-i`: the interface to send and receive on.
    Interface,
    /// `-s`: this host's real, persistent address (IPv4, or IPv6 for an IPv6 node).
    Srcip,
    /// `-m`: the multicast group and destination address.
    Mcastip,
    /// `-v`: the virtual host id.
    Vhid,
    /// `-p`: the shared password.
    Pass,
    /// `-o`: a file whose first line is the password.
    Passfile,
    /// `-P`: take over from a worse master at once.
    Preempt,
    /// `-n`: no downscript at start.
    Neutral,
    /// `-a`: the virtual address.
    Addr,
    /// `-h`: print usage and exit 0.
    Help,
    /// `-V`: print the version and exit 0 (ucarp has no such option).
    Version,
    /// `-b`: base advert interval, seconds.
    Advbase,
    /// `-k`: advert skew, 1/256 s.
    Advskew,
    /// `-u`: script run when becoming master.
    Upscript,
    /// `-d`: script run when becoming backup.
    Downscript,
    /// `-r`: how many intervals without an advert make the master dead.
    Deadratio,
    /// `-D`: log debug messages.
    Debug,
    /// `-z`: run the downscript on TERM, INT, QUIT and HUP, then exit 0.
    Shutdown,
    /// `-B`: detach and run in the background.
    Daemonize,
    /// `-S`: ignore the interface's carrier state.
    Ignoreifstate,
    /// `-M`: send adverts to the Ethernet broadcast address, join no group.
    Nomcast,
    /// `-f`: syslog facility, or `none`.
    Facility,
    /// `-x`: extra argument passed to the scripts.
    Xparam,
    /// `--script-timeout`: seconds a script may run before it is killed.
    ScriptTimeout,
    /// `--up-must-succeed`: a failed up script demotes the node.
    UpMustSucceed,
    /// `--check-script`: health check run periodically.
    CheckScript,
    /// `--check-interval`: seconds between two checks.
    CheckInterval,
    /// `--check-timeout`: seconds a check may run.
    CheckTimeout,
    /// `--check-rise`: successes in a row that make a failing node healthy.
    CheckRise,
    /// `--check-fall`: failures in a row that make a healthy node fail.
    CheckFall,
    /// `--track-iface`: an interface whose carrier the node depends on (repeatable).
    TrackIface,
    /// `--state-file`: where to keep the JSON status.
    StateFile,
    /// `--pidfile`: where to write the pid.
    Pidfile,
    /// `--status`: print a state file and exit.
    Status,
    /// `--json`: with `--status`, print the JSON itself.
    Json,
    /// `--replay-window`: reject replayed adverts, remembering this many per source.
    ReplayWindow,
    /// `--strict-auth`: sign and require the whole header (groups of our nodes only).
    StrictAuth,
    /// `--preempt-delay`: with `-P`, wait this long after start or link up before
    /// preempting.
    PreemptDelay,
    /// `--peer`: a peer's unicast address; adverts go to the peers only (repeatable).
    Peer,
    /// `--real-mac`: send adverts from the interface's own MAC.
    RealMac,
    /// `--preflight`: check the configuration on the network, then exit.
    Preflight,
    /// `--witness`: a host (the gateway) whose answers allow holding the address
    /// (repeatable).
    Witness,
    /// `--vrrp`: speak VRRPv3 instead of CARP.
    Vrrp,
    /// `--priority`: the VRRP priority, 1–254.
    Priority,
    /// `--advert-int`: the VRRP advert interval, seconds.
    AdvertInt,
}

/// One option's documentation and shape.
#[derive(Debug)]
pub struct OptionDoc {
    /// Which option.
    pub opt: Opt,
    /// Long name, without dashes.
    pub long: &'static str,
    /// Short letter; the options ucarp does not have are long only.
    pub short: Option<char>,
    /// Argument placeholder; empty for flags.
    pub arg: &'static str,
    /// What it does.
    pub help: &'static str,
}

macro_rules! doc {
    ($opt:ident, $long:literal, $short:literal, $arg:literal, $help:literal) => {
        OptionDoc {
            opt: Opt::$opt,
            long: $long,
            short: Some($short),
            arg: $arg,
            help: $help,
        }
    };
    ($opt:ident, $long:literal, $arg:literal, $help:literal) => {
        OptionDoc {
            opt: Opt::$opt,
            long: $long,
            short: None,
            arg: $arg,
            help: $help,
        }
    };
}

/// Every option, in the order of the usage text and the man page.
#[rustfmt::skip]
pub const OPTIONS: &[OptionDoc] = &[
    doc!(Interface, "interface", 'i', "<if>", "interface to send and receive adverts on"),
    doc!(Srcip, "srcip", 's', "<ip>", "this host's own, persistent address (IPv4 or IPv6)"),
    doc!(Mcastip, "mcastip", 'm', "<ip>", "multicast group and destination of adverts (default 224.0.0.18, or ff02::12)"),
    doc!(Vhid, "vhid", 'v', "<id>", "virtual host id, 1 to 255"),
    doc!(Pass, "pass", 'p', "<pass>", "shared password, at most 19 bytes"),
    doc!(Passfile, "passfile", 'o', "<file>", "read the password from the first line of <file>"),
    doc!(Preempt, "preempt", 'P', "", "take over at once from a less preferred master"),
    doc!(Neutral, "neutral", 'n', "", "do not run the downscript at start"),
    doc!(Addr, "addr", 'a', "<ip>", "the virtual (shared) address, of -s's family (repeatable)"),
    doc!(Help, "help", 'h', "", "print this text and exit"),
    doc!(Version, "version", 'V', "", "print the version and exit"),
    doc!(Advbase, "advbase", 'b', "<seconds>", "base advert interval, 0 to 255 (default 1)"),
    doc!(Advskew, "advskew", 'k', "<skew>", "added to the interval in 1/256 s, 0 to 255; lower is preferred (default 0)"),
    doc!(Upscript, "upscript", 'u', "<file>", "run <file> when becoming master"),
    doc!(Downscript, "downscript", 'd', "<file>", "run <file> when becoming backup"),
    doc!(Deadratio, "deadratio", 'r', "<ratio>", "intervals without adverts before the master is dead (default 3)"),
    doc!(Debug, "debug", 'D', "", "log debug messages"),
    doc!(Shutdown, "shutdown", 'z', "", "on TERM, INT, QUIT or HUP run the downscript if master, then exit 0"),
    doc!(Daemonize, "daemonize", 'B', "", "detach and run in the background"),
    doc!(Ignoreifstate, "ignoreifstate", 'S', "", "ignore the interface's carrier state"),
    doc!(Nomcast, "nomcast", 'M', "", "send adverts to the Ethernet broadcast address; join no group"),
    doc!(Facility, "facility", 'f', "<facility>", "syslog facility (default daemon), or none"),
    doc!(Xparam, "xparam", 'x', "<value>", "extra argument passed to the scripts as $3"),
    doc!(ScriptTimeout, "script-timeout", "<seconds>", "kill a script still running after <seconds> (default 60; 0 = never)"),
    doc!(UpMustSucceed, "up-must-succeed", "", "an up script that exits non-zero demotes the node, as one killed at the timeout always does"),
    doc!(CheckScript, "check-script", "<file>", "health check: run <file> periodically; while it fails, the node is demoted"),
    doc!(CheckInterval, "check-interval", "<seconds>", "seconds between two health checks (default 2)"),
    doc!(CheckTimeout, "check-timeout", "<seconds>", "a health check running longer fails (default: the interval)"),
    doc!(CheckRise, "check-rise", "<n>", "successes in a row that end a failure (default 2)"),
    doc!(CheckFall, "check-fall", "<n>", "failures in a row that demote the node (default 2)"),
    doc!(TrackIface, "track-iface", "<if>", "demote the node while <if> has no carrier (repeatable)"),
    doc!(StateFile, "state-file", "<file>", "keep the state, as JSON, in <file> (rewritten atomically)"),
    doc!(Pidfile, "pidfile", "<file>", "write the pid to <file>, removed at exit"),
    doc!(Status, "status", "<file>", "print the state kept in <file> by --state-file, and exit"),
    doc!(Json, "json", "", "with --status: print the JSON as is"),
    doc!(Peer, "peer", "<ip>", "send adverts to <ip> by unicast instead of the group, and accept only the peers' (repeatable)"),
    doc!(RealMac, "real-mac", "", "send adverts from the interface's own MAC, not 00:00:5e:00:00:<vhid>"),
    doc!(Preflight, "preflight", "", "listen a few intervals without taking part, report what was heard and what is wrong, and exit"),
    doc!(ReplayWindow, "replay-window", "<n>", "reject replayed adverts, remembering the last <n> counters of each peer; count adverts in sequence"),
    doc!(StrictAuth, "strict-auth", "", "sign the whole advert, advbase and advskew included, and refuse ucarp's format (groups of this ucarp only); implies --replay-window 64"),
    doc!(PreemptDelay, "preempt-delay", "<seconds>", "with -P, wait <seconds> after start or link up before preempting (never before taking over from a dead master)"),
    doc!(Witness, "witness", "<ip>", "probe <ip> (the gateway) by ARP or neighbour solicitation; take the address only while a witness answers, release it when none does (repeatable)"),
    doc!(Vrrp, "vrrp", "", "speak VRRPv3 (RFC 5798, keepalived, FreeBSD) instead of CARP; -v is the VRID, no password"),
    doc!(Priority, "priority", "<n>", "with --vrrp: 1 to 254, higher is preferred (default 100)"),
    doc!(AdvertInt, "advert-int", "<seconds>", "with --vrrp: the advert interval, 0.01 to 40.95 in steps of 0.01 (default 1)"),
];

/// One option as it appeared on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// Which option.
    pub opt: Opt,
    /// Its value; `None` for flags.
    pub value: Option<OsString>,
}

/// The command line: every option occurrence, in the order typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// The occurrences, left to right.
    pub occurrences: Vec<Occurrence>,
}

impl Args {
    /// Returns the value of the last occurrence of `opt`: ucarp's "last one wins".
    pub fn last(&self, opt: Opt) -> Option<&OsStr> {
        self.occurrences
            .iter()
            .rev()
            .find(|o| o.opt == opt)
            .and_then(|o| o.value.as_deref())
    }

    /// Returns true when `opt` was given at least once.
    pub fn has(&self, opt: Opt) -> bool {
        self.occurrences.iter().any(|o| o.opt == opt)
    }
}

/// A command line that cannot be used: one line, exit code 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (see ucarp --help)", self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns the clap command built from [`OPTIONS`].
pub fn command() -> Command {
    let mut cmd = Command::new("ucarp")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .infer_long_args(true);
    for o in OPTIONS {
        let mut arg = Arg::new(o.long).long(o.long);
        if let Some(short) = o.short {
            arg = arg.short(short);
        }
        // Flags are appended too (an empty value per occurrence), so that every
        // occurrence keeps its own position on the command line.
        arg = arg
            .action(ArgAction::Append)
            .value_parser(clap::builder::OsStringValueParser::new());
        arg = if o.arg.is_empty() {
            arg.num_args(0).default_missing_value("")
        } else {
            arg.value_name(o.arg.trim_matches(['<', '>']))
                .allow_hyphen_values(true)
        };
        cmd = cmd.arg(arg);
    }
    cmd
}

/// Parses a whole argv, program name first. An empty command line (no arguments at all)
/// is `-h`, as in ucarp.
///
/// # Errors
/// A [`UsageError`] for an unknown or ambiguous option, a missing value or a stray
/// argument, worded on one line.
pub fn parse<I, T>(argv: I) -> Result<Args, UsageError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    if argv.len() <= 1 {
        return Ok(Args {
            occurrences: vec![Occurrence {
                opt: Opt::Help,
                value: None,
            }],
        });
    }
    let matches = command()
        .try_get_matches_from(&argv)
        .map_err(|e| UsageError(first_line(&e.to_string())))?;
    Ok(Args {
        occurrences: occurrences(&matches),
    })
}

fn occurrences(m: &ArgMatches) -> Vec<Occurrence> {
    let mut found: Vec<(usize, Occurrence)> = Vec::new();
    for o in OPTIONS {
        let Some(indices) = m.indices_of(o.long) else {
            continue;
        };
        let values = m.get_many::<OsString>(o.long).into_iter().flatten();
        found.extend(indices.zip(values).map(|(i, v)| {
            let value = (!o.arg.is_empty()).then(|| v.clone());
            (i, Occurrence { opt: o.opt, value })
        }));
    }
    found.sort_by_key(|(i, _)| *i);
    found.into_iter().map(|(_, o)| o).collect()
}

/// clap's messages span several lines (tips, usage); keep the one that says what is
/// wrong, without its `error: ` prefix.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("invalid command line");
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// Returns the one line `-V` prints: the name, this version and what it replaces.
pub fn version() -> String {
    format!(
        "ucarp {} (Rust; compatible with ucarp 1.5.2)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Returns the usage text, in ucarp's `--long=<arg> (-x <arg>): text` layout.
pub fn usage() -> String {
    let mut out = String::from("\nucarp ");
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push_str(" - CARP failover daemon, compatible with ucarp 1.5.2\n\n");
    for o in OPTIONS {
        let arg = if o.arg.is_empty() {
            String::new()
        } else {
            format!("={}", o.arg)
        };
        let short = match (o.short, o.arg.is_empty()) {
            (Some(c), true) => format!(" (-{c})"),
            (Some(c), false) => format!(" (-{c} {})", o.arg),
            (None, _) => String::new(),
        };
        out.push_str(&format!("--{}{arg}{short}: {}\n", o.long, o.help));
    }
    out.push_str(
        "\nExample: share 192.0.2.100 on eth0 as vhid 10, this host being 192.0.2.11;\n\
         vip-up adds the address and vip-down removes it:\n\n\
         ucarp -i eth0 -s 192.0.2.11 -v 10 -p secret -a 192.0.2.100 \\\n    \
         -u /usr/share/ucarp/vip-up -d /usr/share/ucarp/vip-down -z -P\n\n\
         Scripts get the interface as $1, the virtual address as $2 and -x as $3.\n",
    );
    out
}

/// Returns the argument as bytes: Unix arguments are bytes, not necessarily UTF-8.
pub fn os_bytes(s: &OsStr) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Args {
        let mut argv = vec!["ucarp"];
        argv.extend_from_slice(args);
        parse(argv).unwrap()
    }

    fn err(args: &[&str]) -> String {
        let mut argv = vec!["ucarp"];
        argv.extend_from_slice(args);
        parse(argv).unwrap_err().0
    }

    fn value(a: &Args, opt: Opt) -> Option<&str> {
        a.last(opt).and_then(OsStr::to_str)
    }

    #[test]
    fn no_arguments_is_help() {
        assert!(parse(["ucarp"]).unwrap().has(Opt::Help));
        assert!(run(&["-v", "1", "--help"]).has(Opt::Help));
    }

    #[test]
    fn getopt_shapes() {
        let a = run(&[
            "-v7",
            "--srcip=192.0.2.1",
            "-Pz",
            "--addr",
            "192.0.2.100",
            "-k",
            "-1",
        ]);
        assert_eq!(value(&a, Opt::Vhid), Some("7"));
        assert_eq!(value(&a, Opt::Srcip), Some("192.0.2.1"));
        assert!(a.has(Opt::Preempt) && a.has(Opt::Shutdown));
        assert_eq!(value(&a, Opt::Addr), Some("192.0.2.100"));
        assert_eq!(value(&a, Opt::Advskew), Some("-1"));
    }

    #[test]
    fn unique_prefixes_and_exact_names() {
        let a = run(&["--int=eth1", "--mcast=239.1.1.1", "--pass", "x"]);
        assert_eq!(value(&a, Opt::Interface), Some("eth1"));
        assert_eq!(value(&a, Opt::Mcastip), Some("239.1.1.1"));
        assert_eq!(value(&a, Opt::Pass), Some("x"));
        assert!(!a.has(Opt::Passfile));
        assert!(err(&["--adv=3"]).contains("--adv"));
    }

    #[test]
    fn m_is_mcastip() {
        assert_eq!(
            value(&run(&["-m", "239.0.0.1"]), Opt::Mcastip),
            Some("239.0.0.1")
        );
    }

    #[test]
    fn every_occurrence_is_kept_in_order() {
        let a = run(&["-v", "1", "-P", "-o", "/f", "-v", "2", "-p", "x", "-P"]);
        let opts: Vec<Opt> = a.occurrences.iter().map(|o| o.opt).collect();
        assert_eq!(
            opts,
            [
                Opt::Vhid,
                Opt::Preempt,
                Opt::Passfile,
                Opt::Vhid,
                Opt::Pass,
                Opt::Preempt
            ]
        );
        assert_eq!(value(&a, Opt::Vhid), Some("2"));
        let grouped = run(&["-Pzv7"]);
        let opts: Vec<Opt> = grouped.occurrences.iter().map(|o| o.opt).collect();
        assert_eq!(opts, [Opt::Preempt, Opt::Shutdown, Opt::Vhid]);
    }

    #[test]
    fn unknown_options_and_stray_arguments_are_one_line_errors() {
        for bad in [
            &["--bogus"][..],
            &["-q"],
            &["stray"],
            &["-v"],
            &["-v", "1", "extra"],
        ] {
            let e = err(bad);
            assert!(!e.contains('\n'), "{e:?}");
            assert!(!e.is_empty());
        }
    }

    #[test]
    fn usage_lists_every_option() {
        let u = usage();
        for o in OPTIONS {
            assert!(
                u.contains(&format!("--{}", o.long)),
                "--{} missing from usage",
                o.long
            );
            if let Some(c) = o.short {
                assert!(u.contains(&format!("(-{c}")), "-{c} missing from usage");
            }
        }
        assert_eq!(command().get_arguments().count(), OPTIONS.len());
    }
}
