//! The `ucarp` binary: parse the command line, set up logging, run the daemon, and turn
//! the outcome into ucarp's exit codes (docs/PROTOCOL.md §1.1). Everything else is in the library.

use std::process::ExitCode;

use ucarp::cli::{self, Opt};
use ucarp::config::{Config, Startup};
use ucarp::daemon::Outcome;
use ucarp::{argv, daemon, logger, net, status};

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args_os()) {
        Ok(args) => args,
        Err(e) => return fail(&e.to_string(), 1, true),
    };
    // Out of `ps` and /proc/PID/cmdline as soon as it has been read.
    for occ in args.occurrences.iter().filter(|o| o.opt == Opt::Pass) {
        if let Some(password) = &occ.value {
            argv::hide(cli::os_bytes(password));
        }
    }
    // ucarp's own errors about options also reach syslog, unless -f none was given.
    let syslog = !args
        .last(Opt::Facility)
        .is_some_and(|f| f.eq_ignore_ascii_case("none"));
    let cfg = match Config::from_args(&args, net::default_interface) {
        Ok(Startup::Run(cfg)) => cfg,
        Ok(Startup::Help) => {
            print!("{}", cli::usage());
            return ExitCode::SUCCESS;
        }
        Ok(Startup::Version) => {
            println!("{}", cli::version());
            return ExitCode::SUCCESS;
        }
        Ok(Startup::Status { path, json }) => return ExitCode::from(status::print(&path, json)),
        Err(e) => return fail(&e.message, e.exit_code, syslog),
    };
    if let Err(e) = logger::init(cfg.debug, cfg.facility, cfg.daemonize) {
        return fail(&format!("Unable to set up logging: {e}"), 2, syslog);
    }
    for (level, note) in &cfg.notes {
        log::log!(*level, "{note}");
    }
    if cfg.preflight {
        return match ucarp::preflight::run(&cfg) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                log::error!("{e}");
                ExitCode::from(e.exit_code)
            }
        };
    }
    match daemon::run(*cfg) {
        Ok(Outcome::Exit) => ExitCode::SUCCESS,
        Ok(Outcome::Killed(signal)) => ucarp::process::die_of(signal),
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(e.exit_code)
        }
    }
}

/// Reports an error found before logging is set up: one line on stderr, and at
/// LOG_ERR in syslog (facility daemon) unless `syslog` is false.
fn fail(message: &str, code: u8, syslog: bool) -> ExitCode {
    eprintln!("{}", logger::early_error_line(message));
    if syslog {
        logger::syslog_once(message);
    }
    ExitCode::from(code)
}
