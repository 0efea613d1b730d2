//! The state file (`--state-file`): a small JSON document the daemon rewrites
//! atomically (write to a temporary file in the same directory, then rename) on every
//! change and every few seconds, and `ucarp --status FILE` to read it as a person.
//!
//! This module builds, parses and renders the document; it writes files only in
//! [`write_atomically`] and reads them only in [`print`]. The JSON is written and read
//! here by hand: the document is flat and fixed, and a general JSON library would
//! outweigh the rest of the daemon on a small router.
//!
//! ```json
//! {"version": 1, "pid": 812, "updated": "2026-11-25T13:00:05.120Z",
//!  "state": "MASTER", "since": "2026-11-25T12:58:01.004Z", "reason": "master-down",
//!  "peer": null, "vhid": 7, "vaddr": "192.0.2.100", "interface": "eth0",
//!  "srcip": "192.0.2.11", "master": "192.0.2.11", "demotions": [],
//!  "script_failed": null,
//!  "counters": {"adverts_sent": 124, "send_errors": 0, "adverts_received": 3,
//!               "transitions": 2, "rejected": {"bad_digest": 1}}}
//! ```

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::rx::RejectCounters;
use crate::state::{Demotions, Stats, Transition};

/// Everything the state file says.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    /// The daemon's pid.
    pub pid: u32,
    /// When this snapshot was taken.
    pub updated: SystemTime,
    /// `MASTER`, `BACKUP`, or `STOPPED` after exit.
    pub state: &'a str,
    /// When the state last changed.
    pub since: SystemTime,
    /// The last transition, for its reason and peer.
    pub transition: Option<Transition>,
    /// Virtual host id.
    pub vhid: u8,
    /// The virtual addresses as typed.
    pub vaddrs: &'a [String],
    /// Interface.
    pub interface: &'a str,
    /// Our source address.
    pub srcip: IpAddr,
    /// The current master, as far as this node knows.
    pub master: Option<IpAddr>,
    /// Active demotions.
    pub demotions: Demotions,
    /// Counters of the state machine.
    pub stats: Stats,
    /// Rejected packets by reason.
    pub rejects: &'a RejectCounters,
    /// `up` or `down` when that script failed and the address is in doubt: an up
    /// script that failed while the node stays MASTER, a down script that failed with
    /// a virtual address still on this host.
    pub script_failed: Option<&'a str>,
}

/// Formats a time as RFC 3339 UTC with milliseconds, `2026-11-25T13:00:05.120Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Parses what [`rfc3339`] writes.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 24 || b[4] != b'-' || b[10] != b'T' || b[19] != b'.' || b[23] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, m, sec, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + m * 60 + sec).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms as u64))
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt_ip(out: &mut String, ip: Option<IpAddr>) {
    match ip {
        Some(ip) => json_string(out, &ip.to_string()),
        None => out.push_str("null"),
    }
}

impl Snapshot<'_> {
    /// Renders the JSON document, one line, newline-terminated.
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(512);
        let _ = write!(o, "{{\"version\": 1, \"pid\": {}, \"updated\": ", self.pid);
        json_string(&mut o, &rfc3339(self.updated));
        o.push_str(", \"state\": ");
        json_string(&mut o, self.state);
        o.push_str(", \"since\": ");
        json_string(&mut o, &rfc3339(self.since));
        o.push_str(", \"reason\": ");
        match self.transition {
            Some(t) => json_string(&mut o, t.reason.name()),
            None => o.push_str("null"),
        }
        o.push_str(", \"peer\": ");
        json_opt_ip(&mut o, self.transition.and_then(|t| t.peer));
        let _ = write!(o, ", \"vhid\": {}, \"vaddr\": ", self.vhid);
        json_string(&mut o, self.vaddrs.first().map_or("", String::as_str));
        o.push_str(", \"vaddrs\": [");
        for (i, v) in self.vaddrs.iter().enumerate() {
            if i > 0 {
                o.push_str(", ");
            }
            json_string(&mut o, v);
        }
        o.push(']');
        o.push_str(", \"interface\": ");
        json_string(&mut o, self.interface);
        o.push_str(", \"srcip\": ");
        json_string(&mut o, &self.srcip.to_string());
        o.push_str(", \"master\": ");
        json_opt_ip(&mut o, self.master);
        o.push_str(", \"demotions\": [");
        for (i, d) in self.demotions.iter().enumerate() {
            if i > 0 {
                o.push_str(", ");
            }
            json_string(&mut o, d.name());
        }
        o.push_str("], \"script_failed\": ");
        match self.script_failed {
            Some(name) => json_string(&mut o, name),
            None => o.push_str("null"),
        }
        let st = self.stats;
        let _ = write!(
            o,
            ", \"counters\": {{\"adverts_sent\": {}, \"send_errors\": {}, \"adverts_received\": {}, \"transitions\": {}, \"rejected\": {{",
            st.adverts_sent, st.send_errors, st.adverts_received, st.transitions
        );
        for (i, (reason, n)) in self.rejects.iter().enumerate() {
            if i > 0 {
                o.push_str(", ");
            }
            let _ = write!(o, "\"{}\": {n}", reason.name());
        }
        o.push_str("}}}\n");
        o
    }
}

/// Writes `contents` to `path` so that a reader sees the old file or the new one,
/// never a part: a temporary file in the same directory, then a rename.
///
/// # Errors
/// Any I/O error; the temporary file is removed on failure.
pub fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = Path::new(&tmp);
    let result = (|| {
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(contents.as_bytes())?;
        std::fs::rename(tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// A parsed JSON value: enough of JSON for the state file.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, keys in document order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Returns the member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Returns the string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Returns the number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }
}

/// Parses a JSON document (RFC 8259), with nothing but whitespace after it.
///
/// # Errors
/// A short description of the first problem and its byte offset.
pub fn parse(text: &str) -> Result<Json, String> {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.i)
    }

    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| b" \t\r\n".contains(c)) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        self.depth += 1;
        if self.depth > 32 {
            return Err(self.err("nested too deep"));
        }
        let v = match self.b.get(self.i) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number(),
            _ => Err(self.err("expected a value")),
        };
        self.depth -= 1;
        v
    }

    fn word(&mut self, w: &str, v: Json) -> Result<Json, String> {
        if self.b[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(self.err("bad literal"))
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        while self
            .b
            .get(self.i)
            .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
        {
            self.i += 1;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map(Json::Num)
            .ok_or_else(|| self.err("bad number"))
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.i;
            while self
                .b
                .get(self.i)
                .is_some_and(|c| *c != b'"' && *c != b'\\')
            {
                self.i += 1;
            }
            let chunk =
                std::str::from_utf8(&self.b[start..self.i]).map_err(|_| self.err("bad UTF-8"))?;
            out.push_str(chunk);
            match self.b.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let esc = *self
                        .b
                        .get(self.i + 1)
                        .ok_or_else(|| self.err("bad escape"))?;
                    self.i += 2;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let hex = self
                                .b
                                .get(self.i..self.i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or_else(|| self.err("bad \\u escape"))?;
                            self.i += 4;
                            out.push(char::from_u32(hex).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.err("bad escape")),
                    }
                }
                _ => return Err(self.err("unterminated string")),
            }
        }
    }

    fn array(&mut self) -> Result<Json, String> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Json::Arr(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        self.eat(b'{')?;
        let mut members = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Json::Obj(members));
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.eat(b':')?;
            members.push((key, self.value()?));
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }
}

fn ago(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Renders a state file for a person. `now` and `running` (whether its pid still
/// runs) come from the caller.
pub fn render(doc: &Json, now: SystemTime, running: Option<bool>) -> String {
    let s = |k: &str| doc.get(k).and_then(Json::as_str).unwrap_or("?");
    let n = |j: Option<&Json>| {
        j.and_then(Json::as_f64)
            .map_or("?".to_string(), |v| format!("{v}"))
    };
    let elapsed = |k: &str| {
        parse_rfc3339(s(k))
            .and_then(|t| now.duration_since(t).ok())
            .map(ago)
            .unwrap_or_else(|| "?".into())
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} for {} (since {}), reason: {}",
        s("state"),
        elapsed("since"),
        s("since"),
        doc.get("reason").and_then(Json::as_str).unwrap_or("-")
    );
    let vaddrs = match doc.get("vaddrs") {
        Some(Json::Arr(v)) if v.len() > 1 => {
            let all: Vec<&str> = v.iter().filter_map(Json::as_str).collect();
            format!("virtual addresses {}", all.join(", "))
        }
        _ => format!("virtual address {}", s("vaddr")),
    };
    let _ = writeln!(
        out,
        "  vhid {}, {vaddrs} on {}, this host {}",
        n(doc.get("vhid")),
        s("interface"),
        s("srcip")
    );
    let master = doc
        .get("master")
        .and_then(Json::as_str)
        .unwrap_or("unknown");
    let _ = writeln!(out, "  current master: {master}");
    if let Some(Json::Arr(d)) = doc.get("demotions") {
        if !d.is_empty() {
            let names: Vec<&str> = d.iter().filter_map(Json::as_str).collect();
            let _ = writeln!(out, "  demoted: {}", names.join(", "));
        }
    }
    match doc.get("script_failed").and_then(Json::as_str) {
        Some("up") => {
            let _ = writeln!(
                out,
                "  the up script failed: the virtual address may be missing here"
            );
        }
        Some("down") => {
            let _ = writeln!(
                out,
                "  the down script failed: the virtual address may still be on this host"
            );
        }
        _ => {}
    }
    let c = doc.get("counters");
    let cn = |k: &str| n(c.and_then(|c| c.get(k)));
    let _ = writeln!(
        out,
        "  adverts sent {} ({} send errors), received {}; {} transitions",
        cn("adverts_sent"),
        cn("send_errors"),
        cn("adverts_received"),
        cn("transitions")
    );
    if let Some(Json::Obj(rejected)) = c.and_then(|c| c.get("rejected")) {
        let nonzero: Vec<String> = rejected
            .iter()
            .filter(|(_, v)| v.as_f64().is_some_and(|v| v > 0.0))
            .map(|(k, v)| format!("{k} {}", n(Some(v))))
            .collect();
        if !nonzero.is_empty() {
            let _ = writeln!(out, "  rejected: {}", nonzero.join(", "));
        }
    }
    let pid = n(doc.get("pid"));
    let running = match running {
        Some(true) => "running",
        Some(false) => "NOT running: this state may be stale",
        None => "unknown",
    };
    let _ = writeln!(
        out,
        "  pid {pid} ({running}), updated {} ago",
        elapsed("updated")
    );
    out
}

/// `ucarp --status FILE [--json]`: prints the state file and returns the exit code:
/// 0, or 1 when it cannot be read or parsed (with a one-line message on stderr).
pub fn print(path: &Path, json: bool) -> u8 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ucarp: cannot read state file {}: {e}", path.display());
            return 1;
        }
    };
    let doc = match parse(&text) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "ucarp: state file {} is not valid JSON: {e}",
                path.display()
            );
            return 1;
        }
    };
    if json {
        print!("{text}");
        return 0;
    }
    let running = doc
        .get("pid")
        .and_then(Json::as_f64)
        .map(|pid| Path::new(&format!("/proc/{pid}")).exists());
    #[allow(clippy::disallowed_methods)] // wall-clock age of the file, for a person
    let now = SystemTime::now();
    print!("{}", render(&doc, now, running));
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rx::RejectReason;
    use crate::state::{Reason, State};
    use std::net::Ipv4Addr;

    #[test]
    fn rfc3339_round_trips() {
        for secs in [0u64, 951_782_400, 1_795_612_392, 4_102_444_800] {
            let t = UNIX_EPOCH + Duration::from_millis(secs * 1000 + 123);
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t), "{}", rfc3339(t));
        }
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(parse_rfc3339("2026-11-25 13:00:00"), None);
    }

    fn sample<'a>(rejects: &'a RejectCounters, vaddrs: &'a [String]) -> Snapshot<'a> {
        Snapshot {
            pid: 42,
            updated: UNIX_EPOCH + Duration::from_secs(1_795_612_400),
            state: "MASTER",
            since: UNIX_EPOCH + Duration::from_secs(1_795_612_392),
            transition: Some(Transition {
                from: State::Backup,
                to: State::Master,
                reason: Reason::MasterDown,
                peer: None,
            }),
            vhid: 7,
            vaddrs,
            interface: "eth\"0",
            srcip: Ipv4Addr::new(192, 0, 2, 11).into(),
            master: Some(Ipv4Addr::new(192, 0, 2, 11).into()),
            demotions: Demotions::default(),
            stats: Stats {
                adverts_sent: 5,
                send_errors: 0,
                adverts_received: 1,
                transitions: 2,
            },
            rejects,
            script_failed: None,
        }
    }

    #[test]
    fn snapshot_is_valid_json_with_every_field() {
        let mut rejects = RejectCounters::default();
        rejects.add(RejectReason::BadDigest);
        let vaddrs = ["192.0.2.100".to_string(), "192.0.2.101".to_string()];
        let doc = parse(&sample(&rejects, &vaddrs).to_json()).unwrap();
        assert_eq!(doc.get("state").and_then(Json::as_str), Some("MASTER"));
        assert_eq!(doc.get("vaddr").and_then(Json::as_str), Some("192.0.2.100"));
        assert_eq!(
            doc.get("vaddrs"),
            Some(&Json::Arr(vec![
                Json::Str("192.0.2.100".into()),
                Json::Str("192.0.2.101".into())
            ]))
        );
        assert_eq!(
            doc.get("reason").and_then(Json::as_str),
            Some("master-down")
        );
        assert_eq!(doc.get("peer"), Some(&Json::Null));
        assert_eq!(doc.get("interface").and_then(Json::as_str), Some("eth\"0"));
        assert_eq!(doc.get("vhid").and_then(Json::as_f64), Some(7.0));
        let c = doc.get("counters").unwrap();
        assert_eq!(c.get("adverts_sent").and_then(Json::as_f64), Some(5.0));
        let r = c.get("rejected").unwrap();
        assert_eq!(r.get("bad_digest").and_then(Json::as_f64), Some(1.0));
    }

    #[test]
    fn render_reads_like_a_status() {
        let mut rejects = RejectCounters::default();
        rejects.add(RejectReason::BadTtl);
        let vaddrs = ["192.0.2.100".to_string()];
        let doc = parse(&sample(&rejects, &vaddrs).to_json()).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_795_612_392 + 65);
        let text = render(&doc, now, Some(true));
        assert!(
            text.starts_with("MASTER for 1m 5s (since 2026-11-25T"),
            "{text}"
        );
        assert!(text.contains("reason: master-down"));
        assert!(text.contains("rejected: bad_ttl 1"));
        assert!(text.contains("pid 42 (running)"));
        assert!(!text.contains("script failed"), "{text}");
    }

    #[test]
    fn a_failed_script_is_in_the_file_and_the_rendering() {
        let rejects = RejectCounters::default();
        let vaddrs = ["192.0.2.100".to_string()];
        let mut snap = sample(&rejects, &vaddrs);
        assert_eq!(
            parse(&snap.to_json()).unwrap().get("script_failed"),
            Some(&Json::Null)
        );
        snap.state = "STOPPED";
        snap.script_failed = Some("down");
        let doc = parse(&snap.to_json()).unwrap();
        assert_eq!(
            doc.get("script_failed").and_then(Json::as_str),
            Some("down")
        );
        let text = render(&doc, UNIX_EPOCH, Some(false));
        assert!(
            text.contains("the down script failed: the virtual address may still be on this host"),
            "{text}"
        );
    }

    #[test]
    fn parser_rejects_broken_documents() {
        for bad in [
            "",
            "{",
            "{\"a\": }",
            "[1,]",
            "{\"a\" 1}",
            "\"x",
            "tru",
            "{} x",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse(r#" {"a": [1, -2.5e1, true, null, "x\u0041\n"]} "#).unwrap(),
            Json::Obj(vec![(
                "a".into(),
                Json::Arr(vec![
                    Json::Num(1.0),
                    Json::Num(-25.0),
                    Json::Bool(true),
                    Json::Null,
                    Json::Str("xA\n".into())
                ])
            )])
        );
    }

    #[test]
    fn atomic_write_replaces_the_file() {
        let dir = std::env::temp_dir().join(format!("ucarp-status-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        write_atomically(&path, "one\n").unwrap();
        write_atomically(&path, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "temporary file left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
