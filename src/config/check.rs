//! The health check's options (`--check-*`): read together, and refused without
//! `--check-script`.

use std::path::PathBuf;
use std::time::Duration;

use super::number::{seconds, text};
use super::ConfigError;
use crate::cli::{Args, Opt};

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

/// Reads the `--check-*` options. Timing options without `--check-script` are an error.
pub(super) fn check_config(args: &Args) -> Result<Option<CheckConfig>, ConfigError> {
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
