//! The command line as the user typed it (SPEC.md §1): ucarp's option letters and long
//! names, parsed with getopt-like rules, and the usage text.
//!
//! This module only splits the command line into raw values and remembers where each
//! option appeared; [`crate::config`] validates them and turns them into a
//! configuration. It never touches the network or the file system.
//!
//! getopt rules kept: options may be permuted and grouped (`-Pz`), values attached
//! (`-v7`, `--vhid=7`) or separate, values may start with `-` (`-k -1`), a unique
//! prefix of a long name is accepted (`--int`, `--mcast`), and a repeated option's last
//! value wins (`-o` and `-p` override each other). Deliberate fixes: an unknown option
//! or a stray argument is an error (ucarp prints usage and exits 0), and `-m` is
//! accepted as the short form of `--mcastip` (ucarp documents it but rejects it).

use std::ffi::{OsStr, OsString};

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};

/// The options of ucarp 1.5.2, raw. Numbers and addresses stay text until
/// [`crate::config`] checks them, so that errors can use ucarp's wording.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "ucarp",
    disable_help_flag = true,
    disable_version_flag = true,
    infer_long_args = true,
    args_override_self = true
)]
pub struct Args {
    /// `-i`: the interface to send and receive on.
    #[arg(short = 'i', long = "interface", allow_hyphen_values = true)]
    pub interface: Option<OsString>,
    /// `-s`: this host's real, persistent IPv4 address.
    #[arg(short = 's', long = "srcip", allow_hyphen_values = true)]
    pub srcip: Option<OsString>,
    /// `-m`: the multicast group and destination address.
    #[arg(short = 'm', long = "mcastip", allow_hyphen_values = true)]
    pub mcastip: Option<OsString>,
    /// `-v`: the virtual host id.
    #[arg(short = 'v', long = "vhid", allow_hyphen_values = true)]
    pub vhid: Option<OsString>,
    /// `-p`: the shared password.
    #[arg(
        short = 'p',
        long = "pass",
        allow_hyphen_values = true,
        overrides_with = "passfile"
    )]
    pub pass: Option<OsString>,
    /// `-o`: a file whose first line is the password.
    #[arg(
        short = 'o',
        long = "passfile",
        allow_hyphen_values = true,
        overrides_with = "pass"
    )]
    pub passfile: Option<OsString>,
    /// `-P`: take over from a worse master at once.
    #[arg(short = 'P', long = "preempt")]
    pub preempt: bool,
    /// `-n`: no downscript at start.
    #[arg(short = 'n', long = "neutral")]
    pub neutral: bool,
    /// `-a`: the virtual address.
    #[arg(short = 'a', long = "addr", allow_hyphen_values = true)]
    pub addr: Option<OsString>,
    /// `-h`: print usage and exit 0.
    #[arg(short = 'h', long = "help")]
    pub help: bool,
    /// `-b`: base advert interval, seconds.
    #[arg(short = 'b', long = "advbase", allow_hyphen_values = true)]
    pub advbase: Option<OsString>,
    /// `-k`: advert skew, 1/256 s.
    #[arg(short = 'k', long = "advskew", allow_hyphen_values = true)]
    pub advskew: Option<OsString>,
    /// `-u`: script run when becoming master.
    #[arg(short = 'u', long = "upscript", allow_hyphen_values = true)]
    pub upscript: Option<OsString>,
    /// `-d`: script run when becoming backup.
    #[arg(short = 'd', long = "downscript", allow_hyphen_values = true)]
    pub downscript: Option<OsString>,
    /// `-r`: how many intervals without an advert make the master dead.
    #[arg(short = 'r', long = "deadratio", allow_hyphen_values = true)]
    pub deadratio: Option<OsString>,
    /// `-D`: log debug messages.
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// `-z`: run the downscript on TERM, INT, QUIT and HUP, then exit 0.
    #[arg(short = 'z', long = "shutdown")]
    pub shutdown: bool,
    /// `-B`: detach and run in the background.
    #[arg(short = 'B', long = "daemonize")]
    pub daemonize: bool,
    /// `-S`: ignore the interface's carrier state.
    #[arg(short = 'S', long = "ignoreifstate")]
    pub ignoreifstate: bool,
    /// `-M`: send adverts to the Ethernet broadcast address, join no group.
    #[arg(short = 'M', long = "nomcast")]
    pub nomcast: bool,
    /// `-f`: syslog facility, or `none`.
    #[arg(short = 'f', long = "facility", allow_hyphen_values = true)]
    pub facility: Option<OsString>,
    /// `-x`: extra argument passed to the scripts.
    #[arg(short = 'x', long = "xparam", allow_hyphen_values = true)]
    pub xparam: Option<OsString>,

    /// Where each option last appeared, for ucarp's left-to-right error order.
    #[arg(skip)]
    pub positions: Positions,
}

/// The argv index of the last occurrence of the options whose errors ucarp reports
/// while parsing, so the first bad one on the line is the one reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Positions {
    /// `-s`.
    pub srcip: Option<usize>,
    /// `--mcastip`.
    pub mcastip: Option<usize>,
    /// `-v`.
    pub vhid: Option<usize>,
    /// `-o` or `-p`, whichever came last.
    pub password: Option<usize>,
    /// `-a`.
    pub addr: Option<usize>,
    /// `-b`.
    pub advbase: Option<usize>,
    /// `-k`.
    pub advskew: Option<usize>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Run with these arguments.
    Run(Box<Args>),
    /// `-h`, or no arguments at all: print [`usage`] and exit 0, as ucarp does.
    Help,
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

/// Parses a whole argv, program name first.
///
/// # Errors
/// A [`UsageError`] for an unknown or ambiguous option, a missing value or a stray
/// argument, worded on one line.
pub fn parse<I, T>(argv: I) -> Result<Parsed, UsageError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    if argv.len() <= 1 {
        return Ok(Parsed::Help);
    }
    let matches = Args::command()
        .try_get_matches_from(&argv)
        .map_err(|e| UsageError(first_line(&e.to_string())))?;
    let mut args =
        Args::from_arg_matches(&matches).map_err(|e| UsageError(first_line(&e.to_string())))?;
    if args.help {
        return Ok(Parsed::Help);
    }
    args.positions = positions(&matches);
    Ok(Parsed::Run(Box::new(args)))
}

fn positions(m: &ArgMatches) -> Positions {
    let at = |id: &str| m.indices_of(id).and_then(|mut i| i.next_back());
    Positions {
        srcip: at("srcip"),
        mcastip: at("mcastip"),
        vhid: at("vhid"),
        password: at("pass").max(at("passfile")),
        addr: at("addr"),
        advbase: at("advbase"),
        advskew: at("advskew"),
    }
}

/// clap's messages span several lines (tips, usage); keep the one that says what is
/// wrong, without its `error: ` prefix.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("invalid command line");
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// One option of the usage text: long name, short letter, argument, description.
pub struct OptionDoc {
    /// Long name, without dashes.
    pub long: &'static str,
    /// Short letter.
    pub short: char,
    /// Argument placeholder, empty for flags.
    pub arg: &'static str,
    /// What it does.
    pub help: &'static str,
}

/// Every option, in the order of the usage text and the man page.
pub const OPTIONS: &[OptionDoc] = &[
    OptionDoc {
        long: "interface",
        short: 'i',
        arg: "<if>",
        help: "interface to send and receive adverts on",
    },
    OptionDoc {
        long: "srcip",
        short: 's',
        arg: "<ip>",
        help: "this host's own, persistent IPv4 address",
    },
    OptionDoc {
        long: "mcastip",
        short: 'm',
        arg: "<ip>",
        help: "multicast group and destination of adverts (default 224.0.0.18)",
    },
    OptionDoc {
        long: "vhid",
        short: 'v',
        arg: "<id>",
        help: "virtual host id, 1 to 255",
    },
    OptionDoc {
        long: "pass",
        short: 'p',
        arg: "<pass>",
        help: "shared password, at most 19 bytes",
    },
    OptionDoc {
        long: "passfile",
        short: 'o',
        arg: "<file>",
        help: "read the password from the first line of <file>",
    },
    OptionDoc {
        long: "preempt",
        short: 'P',
        arg: "",
        help: "take over at once from a less preferred master",
    },
    OptionDoc {
        long: "neutral",
        short: 'n',
        arg: "",
        help: "do not run the downscript at start",
    },
    OptionDoc {
        long: "addr",
        short: 'a',
        arg: "<ip>",
        help: "the virtual (shared) IPv4 address",
    },
    OptionDoc {
        long: "help",
        short: 'h',
        arg: "",
        help: "print this text and exit",
    },
    OptionDoc {
        long: "advbase",
        short: 'b',
        arg: "<seconds>",
        help: "base advert interval, 0 to 255 (default 1)",
    },
    OptionDoc {
        long: "advskew",
        short: 'k',
        arg: "<skew>",
        help: "added to the interval in 1/256 s, 0 to 255; lower is preferred (default 0)",
    },
    OptionDoc {
        long: "upscript",
        short: 'u',
        arg: "<file>",
        help: "run <file> when becoming master",
    },
    OptionDoc {
        long: "downscript",
        short: 'd',
        arg: "<file>",
        help: "run <file> when becoming backup",
    },
    OptionDoc {
        long: "deadratio",
        short: 'r',
        arg: "<ratio>",
        help: "intervals without adverts before the master is dead (default 3)",
    },
    OptionDoc {
        long: "debug",
        short: 'D',
        arg: "",
        help: "log debug messages",
    },
    OptionDoc {
        long: "shutdown",
        short: 'z',
        arg: "",
        help: "on TERM, INT, QUIT or HUP run the downscript if master, then exit 0",
    },
    OptionDoc {
        long: "daemonize",
        short: 'B',
        arg: "",
        help: "detach and run in the background",
    },
    OptionDoc {
        long: "ignoreifstate",
        short: 'S',
        arg: "",
        help: "ignore the interface's carrier state",
    },
    OptionDoc {
        long: "nomcast",
        short: 'M',
        arg: "",
        help: "send adverts to the Ethernet broadcast address; join no group",
    },
    OptionDoc {
        long: "facility",
        short: 'f',
        arg: "<facility>",
        help: "syslog facility (default daemon), or none",
    },
    OptionDoc {
        long: "xparam",
        short: 'x',
        arg: "<value>",
        help: "extra argument passed to the scripts as $3",
    },
];

/// Returns the usage text, in ucarp's `--long=<arg> (-x <arg>): text` layout.
pub fn usage() -> String {
    let mut out = String::from("\nucarp ");
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push_str(" - CARP failover daemon, compatible with ucarp 1.5.2\n\n");
    for o in OPTIONS {
        if o.arg.is_empty() {
            out.push_str(&format!("--{} (-{}): {}\n", o.long, o.short, o.help));
        } else {
            out.push_str(&format!(
                "--{}={} (-{} {}): {}\n",
                o.long, o.arg, o.short, o.arg, o.help
            ));
        }
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
        match parse(argv).unwrap() {
            Parsed::Run(a) => *a,
            Parsed::Help => panic!("help"),
        }
    }

    fn err(args: &[&str]) -> String {
        let mut argv = vec!["ucarp"];
        argv.extend_from_slice(args);
        parse(argv).unwrap_err().0
    }

    #[test]
    fn no_arguments_and_help_print_usage() {
        assert!(matches!(parse(["ucarp"]), Ok(Parsed::Help)));
        assert!(matches!(parse(["ucarp", "-h"]), Ok(Parsed::Help)));
        assert!(matches!(
            parse(["ucarp", "-v", "1", "--help"]),
            Ok(Parsed::Help)
        ));
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
        assert_eq!(a.vhid.as_deref(), Some(OsStr::new("7")));
        assert_eq!(a.srcip.as_deref(), Some(OsStr::new("192.0.2.1")));
        assert!(a.preempt && a.shutdown);
        assert_eq!(a.addr.as_deref(), Some(OsStr::new("192.0.2.100")));
        assert_eq!(a.advskew.as_deref(), Some(OsStr::new("-1")));
    }

    #[test]
    fn unique_prefixes_and_exact_names() {
        let a = run(&["--int=eth1", "--mcast=239.1.1.1", "--pass", "x"]);
        assert_eq!(a.interface.as_deref(), Some(OsStr::new("eth1")));
        assert_eq!(a.mcastip.as_deref(), Some(OsStr::new("239.1.1.1")));
        assert_eq!(a.pass.as_deref(), Some(OsStr::new("x")));
        assert!(a.passfile.is_none());
        assert!(err(&["--adv=3"]).contains("--adv"));
    }

    #[test]
    fn m_is_mcastip() {
        assert_eq!(
            run(&["-m", "239.0.0.1"]).mcastip.as_deref(),
            Some(OsStr::new("239.0.0.1"))
        );
    }

    #[test]
    fn last_one_wins() {
        let a = run(&["-v", "1", "-v", "2", "-P", "-P"]);
        assert_eq!(a.vhid.as_deref(), Some(OsStr::new("2")));
        let a = run(&["-p", "one", "-o", "/f"]);
        assert!(a.pass.is_none());
        assert_eq!(a.passfile.as_deref(), Some(OsStr::new("/f")));
        let a = run(&["-o", "/f", "-p", "two"]);
        assert!(a.passfile.is_none());
        assert_eq!(a.pass.as_deref(), Some(OsStr::new("two")));
    }

    #[test]
    fn positions_follow_the_command_line() {
        let a = run(&["-a", "x", "-v", "0", "-s", "y"]);
        assert!(a.positions.addr < a.positions.vhid);
        assert!(a.positions.vhid < a.positions.srcip);
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
        let cmd = Args::command();
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                assert!(
                    u.contains(&format!("--{long}")),
                    "--{long} missing from usage"
                );
            }
        }
        assert_eq!(
            OPTIONS.len(),
            cmd.get_arguments()
                .filter(|a| a.get_long().is_some())
                .count()
        );
    }
}
