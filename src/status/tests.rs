//! Tests of the state file: the JSON written, read back and rendered.

use super::*;
use crate::rx::RejectReason;
use crate::state::{Reason, State};
use std::net::Ipv4Addr;
use std::time::{Duration, UNIX_EPOCH};

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
        vrrp_priority: None,
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
        witness: None,
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

#[test]
fn the_witness_is_in_the_file_and_the_rendering() {
    let rejects = RejectCounters::default();
    let vaddrs = ["192.0.2.100".to_string()];
    let mut snap = sample(&rejects, &vaddrs);
    let now = UNIX_EPOCH + Duration::from_secs(1_795_612_400);
    let doc = parse(&snap.to_json()).unwrap();
    assert_eq!(doc.get("witness"), Some(&Json::Null));
    assert!(!render(&doc, now, Some(true)).contains("witness"));
    snap.witness = Some(true);
    let doc = parse(&snap.to_json()).unwrap();
    assert_eq!(doc.get("witness").and_then(Json::as_str), Some("reachable"));
    assert!(!render(&doc, now, Some(true)).contains("witness"));
    snap.state = "BACKUP";
    snap.witness = Some(false);
    let doc = parse(&snap.to_json()).unwrap();
    assert_eq!(
        doc.get("witness").and_then(Json::as_str),
        Some("unreachable")
    );
    let text = render(&doc, now, Some(true));
    assert!(text.contains("no witness answers"), "{text}");
}
