//! Numbers and addresses as ucarp reads them: C's `strtoul` with base 0, and each
//! option's range and message. Pure functions of the option's text.

use std::ffi::OsStr;
use std::net::IpAddr;
use std::time::Duration;

use super::ConfigError;

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

pub(super) fn text(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

/// Parses an address as `inet_pton` does: a dotted quad (four decimal parts, no leading
/// zeros) or an IPv6 address (ucarp takes IPv4 only). ucarp's message on failure.
pub(super) fn address(s: &OsStr) -> Result<IpAddr, ConfigError> {
    s.to_str()
        .and_then(|t| t.parse::<IpAddr>().ok())
        .ok_or_else(|| ConfigError::usage(format!("Invalid address: [{}]", text(s))))
}

/// Parses `-b` or `-k`. ucarp casts any number to 8 bits (256 → 0, -1 → 255); here a
/// value outside 0–255, or one with no digits, is an error (a deliberate fix).
pub(super) fn byte_option(s: &OsStr, what: &str) -> Result<u8, ConfigError> {
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
pub(super) fn seconds(s: &OsStr, what: &str) -> Result<Option<Duration>, ConfigError> {
    let t = s.to_str().unwrap_or("").trim();
    let secs = crate::decimal::Decimal::parse(t)
        .and_then(|d| d.to_duration(Duration::from_secs(86_400)))
        .ok_or_else(|| {
            ConfigError::usage(format!(
                "{what} must be a number of seconds from 0 to 86400, not [{}]",
                text(s)
            ))
        })?;
    Ok((!secs.is_zero()).then_some(secs))
}

/// Reads `-v` as ucarp does (`strtol`, base 0): 1 to 255, anything else is an error.
pub(super) fn vhid_value(s: &OsStr) -> Result<u8, ConfigError> {
    let t = s.to_str().unwrap_or("");
    let negative = t.trim_start().starts_with('-');
    strtoul(t)
        .filter(|_| !negative)
        .and_then(|v| u8::try_from(v).ok())
        .filter(|&v| v != 0)
        .ok_or_else(|| ConfigError::usage(crate::state::ConfigError::ZeroVhid.to_string()))
}
