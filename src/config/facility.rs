//! Syslog facilities by name, as glibc's `facilitynames` table spells them.

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
