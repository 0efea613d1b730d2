//! The `ucarp` binary: parse the command line, set up logging, run the daemon, and turn
//! the outcome into ucarp's exit codes (SPEC.md §1.1). Everything else is in the library.

use std::process::ExitCode;

use ucarp::cli::{self, Parsed};
use ucarp::config::Config;
use ucarp::{daemon, logger, net};

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args_os()) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            print!("{}", cli::usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&e.to_string(), 1),
    };
    let cfg = match Config::from_args(&args, net::default_interface) {
        Ok(cfg) => cfg,
        Err(e) => return fail(&e.message, e.exit_code),
    };
    if let Err(e) = logger::init(cfg.debug, cfg.facility, cfg.daemonize) {
        return fail(&format!("Unable to set up logging: {e}"), 2);
    }
    for (level, note) in &cfg.notes {
        log::log!(*level, "{note}");
    }
    match daemon::run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(e.exit_code)
        }
    }
}

/// Reports an error found before logging is set up: one line on stderr.
fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("ucarp: {message}");
    ExitCode::from(code)
}
