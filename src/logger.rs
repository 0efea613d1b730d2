//! Logging as ucarp does it (docs/PROTOCOL.md §8): every message to syslog with ident `ucarp`,
//! the pid and the `-f` facility (unless `-f none`), and, while not daemonised, to
//! stderr as `YYYY-MM-DDTHH:MM:SS.uuuuuu: [LEVEL] text` in local time.
//!
//! Under systemd, when `JOURNAL_STREAM` names our stderr (its device and inode, as
//! systemd sets it for a service whose stderr is the journal), stderr lines carry no
//! timestamp (the journal has its own) and start with their syslog priority instead,
//! `<4>[WARNING] text`, which journald turns into the entry's priority, so that
//! `journalctl -p warning` works.
//!
//! Unlike ucarp, every level goes to stderr unbuffered, so INFO lines are neither late
//! nor lost. Filtering is env_logger's: `info` by default, `debug` with `-D`, and
//! `RUST_LOG` overrides both. This module owns the only calls into the C syslog API.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::config::Facility;

/// Whether stderr still gets log lines; cleared when the daemon detaches.
static TO_STDERR: AtomicBool = AtomicBool::new(true);

struct Logger {
    stderr: env_logger::Logger,
    /// The least severe level that still goes to stderr.
    stderr_max: Level,
    syslog: bool,
}

/// Returns ucarp's name for a level.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug | Level::Trace => "DEBUG",
    }
}

fn syslog_priority(level: Level) -> libc::c_int {
    match level {
        Level::Error => libc::LOG_ERR,
        Level::Warn => libc::LOG_WARNING,
        Level::Info => libc::LOG_INFO,
        Level::Debug | Level::Trace => libc::LOG_DEBUG,
    }
}

/// Whether stderr lines are for the journal (see the module documentation). Decided
/// once; a service's stderr does not change.
pub fn stderr_is_journal() -> bool {
    static JOURNAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *JOURNAL.get_or_init(|| {
        let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
            return false;
        };
        // dev_t and ino_t are narrower than 64 bits on some 32-bit targets.
        #[allow(clippy::useless_conversion)]
        nix::sys::stat::fstat(std::io::stderr()).is_ok_and(|st| {
            names_stream(
                &stream.to_string_lossy(),
                u64::from(st.st_dev),
                u64::from(st.st_ino),
            )
        })
    })
}

/// Whether `JOURNAL_STREAM`'s `DEVICE:INODE` (decimal) is the file `dev`, `ino`.
fn names_stream(journal_stream: &str, dev: u64, ino: u64) -> bool {
    journal_stream
        .split_once(':')
        .is_some_and(|(d, i)| d.parse() == Ok(dev) && i.parse() == Ok(ino))
}

/// The prefix of a stderr line at `level`: a timestamp for a terminal or a file, the
/// syslog priority for the journal.
fn stderr_prefix(journal: bool, level: Level) -> String {
    if journal {
        format!("<{}>", syslog_priority(level))
    } else {
        format!("{}: ", timestamp())
    }
}

/// An error line for stderr before the logger exists: `ucarp: message`, with the
/// error priority in front for the journal.
pub fn early_error_line(message: &str) -> String {
    let priority = if stderr_is_journal() {
        stderr_prefix(true, Level::Error)
    } else {
        String::new()
    };
    format!("{priority}ucarp: {message}")
}

/// Formats the current local time as `YYYY-MM-DDTHH:MM:SS.uuuuuu`.
fn timestamp() -> String {
    #[allow(clippy::disallowed_methods)] // a log timestamp is wall-clock time by nature
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // musl deprecates the alias (its time_t is changing to 64 bits); the value fits.
    #[allow(deprecated)]
    let secs = libc::time_t::try_from(now.as_secs()).unwrap_or(0);
    // SAFETY: `tm` is plain data, for which all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call, which only writes
    // into `tm`.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if !ok {
        return format!("{}.{:06}", secs, now.subsec_micros());
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_micros()
    )
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.stderr.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.stderr.matches(record) {
            return;
        }
        if self.syslog {
            let line = format!("[{}] {}", level_name(record.level()), record.args());
            // A NUL inside a message would cut it short in C; replace it.
            let line = CString::new(line.replace('\0', "\\0")).unwrap_or_default();
            // SAFETY: a constant format string and a valid NUL-terminated argument.
            unsafe {
                libc::syslog(
                    syslog_priority(record.level()),
                    c"%s".as_ptr(),
                    line.as_ptr(),
                )
            };
        }
        if TO_STDERR.load(Ordering::Relaxed) && record.level() <= self.stderr_max {
            self.stderr.log(record);
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Installs the logger. `facility` is `None` for `-f none`. With `daemonize`, only
/// errors reach stderr (setup failures before the process detaches); ucarp writes
/// nothing at all there under `-B`.
///
/// # Errors
/// When a logger is already installed.
pub fn init(
    debug: bool,
    facility: Option<Facility>,
    daemonize: bool,
) -> Result<(), log::SetLoggerError> {
    let journal = stderr_is_journal();
    let mut builder = env_logger::Builder::new();
    builder
        .filter_level(if debug {
            LevelFilter::Debug
        } else {
            LevelFilter::Info
        })
        .parse_env(env_logger::Env::new().filter("RUST_LOG"))
        .format(move |buf, record| {
            writeln!(
                buf,
                "{}[{}] {}",
                stderr_prefix(journal, record.level()),
                level_name(record.level()),
                record.args()
            )
        });
    let stderr = builder.build();
    let max = stderr.filter();
    if let Some(Facility(code)) = facility {
        // SAFETY: the ident is a 'static C string, as openlog requires (it keeps the
        // pointer); options and facility are plain integers.
        unsafe { libc::openlog(c"ucarp".as_ptr(), libc::LOG_PID, code) };
    }
    log::set_boxed_logger(Box::new(Logger {
        stderr,
        stderr_max: if daemonize {
            Level::Error
        } else {
            Level::Trace
        },
        syslog: facility.is_some(),
    }))?;
    log::set_max_level(max);
    Ok(())
}

/// Sends one `[ERROR]` line to syslog (ident `ucarp`, facility daemon) before the
/// logger exists: errors in the command line are logged there too, as ucarp does.
pub fn syslog_once(message: &str) {
    let line =
        CString::new(format!("[ERROR] {}", message.replace('\0', "\\0"))).unwrap_or_default();
    // SAFETY: a 'static ident, a constant format string and a valid NUL-terminated
    // argument; closelog only releases the socket openlog may have opened.
    unsafe {
        libc::openlog(c"ucarp".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON);
        libc::syslog(libc::LOG_ERR, c"%s".as_ptr(), line.as_ptr());
        libc::closelog();
    }
}

/// Stops writing to stderr, for a daemon whose stderr is about to be /dev/null.
pub fn detach_stderr() {
    TO_STDERR.store(false, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(level_name(Level::Warn), "WARNING");
        assert_eq!(level_name(Level::Trace), "DEBUG");
    }

    #[test]
    fn journal_stream_must_name_stderr_exactly() {
        assert!(names_stream("8:1234", 8, 1234));
        assert!(!names_stream("8:1234", 8, 1235));
        assert!(!names_stream("9:1234", 8, 1234));
        assert!(!names_stream("8:1234:5", 8, 1234));
        assert!(!names_stream("", 8, 1234));
        assert!(!names_stream("8", 8, 8));
    }

    #[test]
    fn journal_lines_carry_the_priority_instead_of_the_time() {
        assert_eq!(stderr_prefix(true, Level::Error), "<3>");
        assert_eq!(stderr_prefix(true, Level::Warn), "<4>");
        assert_eq!(stderr_prefix(true, Level::Info), "<6>");
        assert_eq!(stderr_prefix(true, Level::Debug), "<7>");
        let plain = stderr_prefix(false, Level::Warn);
        assert!(plain.ends_with(": ") && plain.len() == 28, "{plain}");
    }

    #[test]
    fn timestamp_shape() {
        let t = timestamp();
        assert_eq!(t.len(), "2026-11-25T12:00:00.123456".len(), "{t}");
        assert_eq!(&t[4..5], "-");
        assert_eq!(&t[10..11], "T");
        assert_eq!(&t[19..20], ".");
    }
}
