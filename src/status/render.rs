//! The state file for a person (`ucarp --status FILE`): state, since when and why, the
//! address, the master, demotions, a failed script, counters, and whether the daemon
//! still runs.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::json::Json;
use super::time::parse_rfc3339;

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
    let id = match doc.get("priority") {
        Some(p) => format!(
            "VRRPv3 vrid {}, priority {}",
            n(doc.get("vhid")),
            n(Some(p))
        ),
        None => format!("vhid {}", n(doc.get("vhid"))),
    };
    let _ = writeln!(
        out,
        "  {id}, {vaddrs} on {}, this host {}",
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
    if doc.get("witness").and_then(Json::as_str) == Some("unreachable") {
        let _ = writeln!(
            out,
            "  no witness answers: this node will not take the address"
        );
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
