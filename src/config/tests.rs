//! Tests of the configuration: ucarp's checks, in its order, with its messages.

use super::*;
use crate::cli::parse;
use std::net::Ipv4Addr;

fn startup(args: &[&str]) -> Result<Startup, ConfigError> {
    let mut argv = vec!["ucarp"];
    argv.extend_from_slice(args);
    Config::from_args(&parse(argv).unwrap(), || Some("eth9".into()))
}

fn config(args: &[&str]) -> Result<Config, ConfigError> {
    match startup(args)? {
        Startup::Run(c) => Ok(*c),
        other => panic!("{other:?}"),
    }
}

const BASE: &[&str] = &[
    "-i",
    "eth0",
    "-s",
    "192.0.2.1",
    "-v",
    "7",
    "-p",
    "secret",
    "-a",
    "192.0.2.100",
];

fn with(extra: &[&str]) -> Result<Config, ConfigError> {
    let mut v = BASE.to_vec();
    v.extend_from_slice(extra);
    config(&v)
}

#[test]
fn strtoul_like_c() {
    assert_eq!(strtoul("7"), Some(7));
    assert_eq!(strtoul("0x10"), Some(16));
    assert_eq!(strtoul("0X1f"), Some(31));
    assert_eq!(strtoul("010"), Some(8));
    assert_eq!(strtoul("0"), Some(0));
    assert_eq!(strtoul("  +12"), Some(12));
    assert_eq!(strtoul("7abc"), Some(7));
    assert_eq!(strtoul("09"), Some(0));
    assert_eq!(strtoul("0x"), Some(0));
    assert_eq!(strtoul("-1"), Some(u64::MAX));
    assert_eq!(strtoul("99999999999999999999999"), Some(u64::MAX));
    assert_eq!(strtoul("abc"), None);
    assert_eq!(strtoul(""), None);
    assert_eq!(strtoul("-"), None);
}

#[test]
fn defaults() {
    let c = with(&[]).unwrap();
    assert_eq!((c.advbase, c.advskew, c.deadratio), (1, 0, 3));
    assert_eq!(c.group, CARP_MCAST_V4);
    assert_eq!(c.facility, Some(Facility::DAEMON));
    assert!(!c.preempt && !c.neutral && !c.shutdown && !c.nomcast);
    assert_eq!(c.vaddr_args, vec![OsString::from("192.0.2.100")]);
    assert_eq!(
        c.notes,
        vec![
            (
                Level::Warn,
                "Warning: no script called when going up".into()
            ),
            (
                Level::Warn,
                "Warning: no script called when going down".into()
            )
        ]
    );
}

#[test]
fn numbers_in_c_bases() {
    let c = with(&["-v", "0x10", "-b", "010", "-k", "0x20", "-r", "-1"]).unwrap();
    assert_eq!((c.vhid, c.advbase, c.advskew), (16, 8, 32));
    assert_eq!(c.deadratio, u32::MAX);
}

#[test]
fn messages_and_exit_codes() {
    let cases: &[(&[&str], &str, u8)] = &[
        (&["-s", "192.0.2.256"], "Invalid address: [192.0.2.256]", 1),
        (&["-s", "192.0.2.01"], "Invalid address: [192.0.2.01]", 1),
        (
            &["-a", "192.0.2.0/24"],
            "Invalid address: [192.0.2.0/24]",
            1,
        ),
        (&["--mcastip", "fe80::%1"], "Invalid address: [fe80::%1]", 1),
        (
            &["--mcastip", "ff02::12"],
            "Address family mismatch: the multicast address [ff02::12] is IPv6, but the source address [192.0.2.1] is IPv4",
            1,
        ),
        (
            &["-a", "2001:db8::100"],
            "Address family mismatch: the virtual address [2001:db8::100] is IPv6, but the source address [192.0.2.1] is IPv4",
            1,
        ),
        (
            &["--peer", "2001:db8::2"],
            "Address family mismatch: the peer [2001:db8::2] is IPv6, but the source address [192.0.2.1] is IPv4",
            1,
        ),
        (&["-v", "0"], "vhid must be between 1 and 255.", 1),
        (&["-v", "256"], "vhid must be between 1 and 255.", 1),
        (&["-v", "abc"], "vhid must be between 1 and 255.", 1),
        (
            &["-b", "0", "-k", "0"],
            "You must supply an advertisement time base",
            1,
        ),
        (
            &["-b", "256"],
            "advbase must be between 0 and 255, not [256]",
            1,
        ),
        (
            &["-k", "-1"],
            "advskew must be between 0 and 255, not [-1]",
            1,
        ),
        (
            &["-k", "x"],
            "advskew must be between 0 and 255, not [x]",
            1,
        ),
        (&["-r", "0"], "Dead ratio can't be zero", 1),
        (&["-r", "4294967296"], "Dead ratio can't be zero", 1),
        (&["-p", ""], "You must supply a password", 1),
        (
            &["-s", "0.0.0.0"],
            "You must supply a persistent source address",
            1,
        ),
        (
            &["-a", "0.0.0.0"],
            "You must supply a virtual host address",
            1,
        ),
        (
            &["-p", "01234567890123456789"],
            "Password too long (20 bytes; at most 19 are allowed)",
            2,
        ),
        (
            &["-i", "abcdefghijklmnop"],
            "Interface name too long: [abcdefghijklmnop]",
            2,
        ),
    ];
    for (extra, message, code) in cases {
        let e = with(extra).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.exit_code),
            (*message, *code),
            "{extra:?}"
        );
    }
    assert!(with(&["-p", "0123456789012345678"]).is_ok());
}

#[test]
fn missing_mandatory_options() {
    let e = config(&["-i", "eth0"]).unwrap_err();
    assert_eq!(e.message, "You must supply a valid virtual host id");
    let e = config(&["-v", "1"]).unwrap_err();
    assert_eq!(e.message, "You must supply a password");
    let e = config(&["-v", "1", "-p", "x"]).unwrap_err();
    assert_eq!(e.message, "You must supply a persistent source address");
    let e = config(&["-v", "1", "-p", "x", "-s", "192.0.2.1"]).unwrap_err();
    assert_eq!(e.message, "You must supply a virtual host address");
}

#[test]
fn first_bad_option_on_the_line_is_reported() {
    let e = config(&["-a", "bad-vip", "-s", "bad-src"]).unwrap_err();
    assert_eq!(e.message, "Invalid address: [bad-vip]");
    let e = config(&["-s", "bad-src", "-a", "bad-vip"]).unwrap_err();
    assert_eq!(e.message, "Invalid address: [bad-src]");
    let e = config(&["-v", "0", "-s", "bad-src"]).unwrap_err();
    assert_eq!(e.message, "vhid must be between 1 and 255.");
}

#[test]
fn default_interface() {
    let c = config(&["-s", "192.0.2.1", "-v", "7", "-p", "x", "-a", "192.0.2.100"]).unwrap();
    assert_eq!(c.iface, "eth9");
    assert_eq!(
        c.notes[0],
        (Level::Info, "Using [eth9] as a network interface".into())
    );
    let a = parse(["ucarp", "-i", "", "-v", "1"]).unwrap();
    let e = Config::from_args(&a, || None).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.exit_code),
        ("You must supply a network interface", 1)
    );
}

#[test]
fn every_occurrence_is_checked_in_order() {
    // ucarp checks each option as getopt meets it, even one a later one overrides.
    let e = with(&["-s", "bad", "-s", "192.0.2.1"]).unwrap_err();
    assert_eq!(e.message, "Invalid address: [bad]");
    let e = with(&["-v", "0", "-v", "7"]).unwrap_err();
    assert_eq!(e.message, "vhid must be between 1 and 255.");
    let e = with(&["-o", "/nonexistent/pass", "-p", "x"]).unwrap_err();
    assert!(e
        .message
        .starts_with("unable to open passfile /nonexistent/pass"));
    // -h is acted on where it stands: after a bad option it is too late.
    assert!(with(&["-s", "bad", "-h"]).is_err());
    assert!(matches!(startup(&["-h", "-s", "bad"]), Ok(Startup::Help)));
    // The last value wins.
    assert_eq!(with(&["-v", "9"]).unwrap().vhid, 9);
}

#[test]
fn negative_vhid_is_rejected_even_when_it_wraps() {
    let e = with(&["-v", "-18446744073709551615"]).unwrap_err();
    assert_eq!(e.message, "vhid must be between 1 and 255.");
}

#[test]
fn empty_script_paths_run_nothing_and_warn_nothing() {
    let c = with(&["-u", "", "-d", ""]).unwrap();
    assert!(c.notes.is_empty(), "{:?}", c.notes);
}

#[test]
fn preempt_delay() {
    assert_eq!(with(&[]).unwrap().preempt_delay, Duration::ZERO);
    assert_eq!(
        with(&["-P", "--preempt-delay", "2.5"])
            .unwrap()
            .preempt_delay,
        Duration::from_millis(2500)
    );
    assert_eq!(
        with(&["--preempt-delay=0"]).unwrap().preempt_delay,
        Duration::ZERO
    );
    for bad in ["-1", "x", "1e9"] {
        let e = with(&["--preempt-delay", bad]).unwrap_err();
        assert!(e.message.starts_with("preempt-delay must be"), "{bad}: {e}");
        assert_eq!(e.exit_code, 1);
    }
}

#[test]
fn script_timeout() {
    assert_eq!(
        with(&[]).unwrap().script_timeout,
        Some(DEFAULT_SCRIPT_TIMEOUT)
    );
    assert_eq!(
        with(&["--script-timeout", "0"]).unwrap().script_timeout,
        None
    );
    assert_eq!(
        with(&["--script-timeout=2.5"]).unwrap().script_timeout,
        Some(Duration::from_millis(2500))
    );
    for bad in ["-1", "x", "1e9", "nan"] {
        let e = with(&["--script-timeout", bad]).unwrap_err();
        assert!(
            e.message.starts_with("script-timeout must be"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn health_check_options() {
    assert_eq!(with(&[]).unwrap().check, None);
    let c = with(&[
        "--check-script",
        "/bin/true",
        "--check-interval",
        "0.5",
        "--check-fall",
        "3",
    ])
    .unwrap()
    .check
    .unwrap();
    assert_eq!(c.interval, Duration::from_millis(500));
    assert_eq!(
        c.timeout,
        Duration::from_millis(500),
        "the timeout defaults to the interval"
    );
    assert_eq!((c.rise, c.fall), (DEFAULT_CHECK_COUNT, 3));
    let e = with(&["--check-interval", "1"]).unwrap_err();
    assert_eq!(e.message, "--check-interval needs --check-script");
    let e = with(&["--check-script", "/bin/true", "--check-rise", "0"]).unwrap_err();
    assert_eq!(e.message, "check-rise must be from 1 to 1000, not [0]");
    let e = with(&["--check-script", "/bin/true", "--check-interval", "0"]).unwrap_err();
    assert_eq!(e.message, "check-interval must be more than 0 seconds");
}

#[test]
fn tracked_interfaces_status_and_files() {
    let c = with(&[
        "--track-iface",
        "eth1",
        "--track-iface=bond0",
        "--pidfile",
        "/run/u.pid",
        "--up-must-succeed",
    ])
    .unwrap();
    assert_eq!(c.track, ["eth1", "bond0"]);
    assert_eq!(c.pidfile, Some(PathBuf::from("/run/u.pid")));
    assert!(c.up_must_succeed);
    let e = with(&["--track-iface", "a-very-long-ifname"]).unwrap_err();
    assert!(e
        .message
        .starts_with("Invalid interface name for --track-iface"));
    assert!(matches!(
        startup(&["--status", "/run/s.json", "--json"]),
        Ok(Startup::Status { json: true, .. })
    ));
}

#[test]
fn facilities() {
    assert_eq!(
        with(&["-f", "LOCAL3"]).unwrap().facility,
        Some(Facility(19 << 3))
    );
    assert_eq!(with(&["-f", "none"]).unwrap().facility, None);
    let c = with(&["-f", "bogus"]).unwrap();
    assert_eq!(c.facility, Some(Facility::DAEMON));
    assert!(c
        .notes
        .contains(&(Level::Error, "Unknown syslog facility: [bogus]".into())));
}

#[test]
fn passfile_first_line_only() {
    let dir = std::env::temp_dir().join(format!("ucarp-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, body: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_string()
    };
    let key_of = |path: &str| {
        let c = config(&[
            "-i",
            "e",
            "-s",
            "192.0.2.1",
            "-v",
            "7",
            "-o",
            path,
            "-a",
            "192.0.2.100",
        ]);
        c.map(|c| {
            c.key
                .unwrap()
                .sign(7, Ipv4Addr::new(192, 0, 2, 100), &[0; 8])
        })
    };
    let expect = |pw: &[u8]| {
        Key::new(pw)
            .unwrap()
            .sign(7, Ipv4Addr::new(192, 0, 2, 100), &[0; 8])
    };
    assert_eq!(
        key_of(&write("a", b"secret\nsecond line\n")),
        Ok(expect(b"secret"))
    );
    assert_eq!(key_of(&write("b", b"secret")), Ok(expect(b"secret")));
    assert_eq!(key_of(&write("c", b"secret\r\n")), Ok(expect(b"secret\r")));
    assert_eq!(key_of(&write("n", b"sec\0ret\n")), Ok(expect(b"sec")));
    let empty = write("d", b"");
    assert_eq!(
        key_of(&empty).unwrap_err().message,
        format!("error reading passfile {empty}: unexpected end of file")
    );
    assert_eq!(
        key_of(&write("e", b"\nx")).unwrap_err().message,
        "You must supply a password"
    );
    let missing = dir.join("missing").to_str().unwrap().to_string();
    let e = key_of(&missing).unwrap_err();
    assert!(e
        .message
        .starts_with(&format!("unable to open passfile {missing} for reading: ")));
    assert_eq!(e.exit_code, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ipv6_node() {
    let v6 = |extra: &[&str]| {
        let mut args = vec!["-i", "eth0", "-s", "2001:db8::1", "-v", "7", "-p", "secret"];
        args.extend_from_slice(extra);
        config(&args)
    };
    let c = v6(&["-a", "2001:db8::100", "-a", "2001:db8::101"]).unwrap();
    assert_eq!(c.group, IpAddr::from(CARP_MCAST_V6));
    assert_eq!(c.vaddrs.len(), 2);
    assert_eq!(c.advert_destination(), IpAddr::from(CARP_MCAST_V6));
    let c = v6(&["-a", "2001:db8::100", "--peer", "fe80::2"]).unwrap();
    assert_eq!(c.advert_destination(), c.srcip);
    let e = v6(&["-a", "198.51.100.1"]).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.exit_code),
        (
            "Address family mismatch: the virtual address [198.51.100.1] is IPv4, but the source address [2001:db8::1] is IPv6",
            1
        )
    );
    let e = v6(&["-a", "2001:db8::100", "--mcastip", "2001:db8::5"]).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid multicast address: [2001:db8::5] (an IPv6 group starts with ff)"
    );
    let e = v6(&["-a", "::"]).unwrap_err();
    assert_eq!(e.message, "You must supply a virtual host address");
}

/// An address or peer given twice counts once (ucarp takes `-a X -a X` too); the
/// order of the first occurrences is kept.
#[test]
fn repeated_addresses_and_peers_count_once() {
    let c = with(&[
        "-a",
        "192.0.2.101",
        "-a",
        "192.0.2.100",
        "--peer",
        "192.0.2.2",
        "--peer",
        "192.0.2.3",
        "--peer",
        "192.0.2.2",
    ])
    .unwrap();
    let ips = |v: &[&str]| {
        v.iter()
            .map(|a| a.parse().unwrap())
            .collect::<Vec<IpAddr>>()
    };
    assert_eq!(c.vaddrs, ips(&["192.0.2.100", "192.0.2.101"]));
    assert_eq!(c.peers, ips(&["192.0.2.2", "192.0.2.3"]));
}

const VRRP: &[&str] = &[
    "--vrrp",
    "-i",
    "eth0",
    "-s",
    "192.0.2.1",
    "-v",
    "51",
    "-a",
    "192.0.2.100",
];

fn vrrp(extra: &[&str]) -> Result<Config, ConfigError> {
    let mut v = VRRP.to_vec();
    v.extend_from_slice(extra);
    config(&v)
}

/// docs/PROTOCOL.md §14: no password, RFC 5798's defaults, the options' ranges.
#[test]
fn vrrp_mode_defaults_and_ranges() {
    let c = vrrp(&[]).unwrap();
    assert!(c.key.is_none());
    assert_eq!(
        c.vrrp,
        Some(VrrpConfig {
            priority: 100,
            interval_cs: 100
        })
    );
    assert!(matches!(c.carp().protocol, crate::state::Protocol::Vrrp(_)));
    let c = vrrp(&["--priority", "254", "--advert-int", "0.01"]).unwrap();
    assert_eq!(c.vrrp.map(|v| (v.priority, v.interval_cs)), Some((254, 1)));
    let c = vrrp(&["--advert-int", "40.95", "--priority", "1"]).unwrap();
    assert_eq!(c.vrrp.map(|v| (v.priority, v.interval_cs)), Some((1, 4095)));
    for bad in [
        ["--priority", "0"],
        ["--priority", "255"],
        ["--priority", "x"],
    ] {
        let e = vrrp(&bad).unwrap_err();
        assert_eq!(e.exit_code, 1, "{bad:?}");
        assert!(
            e.message.contains("priority must be from 1 to 254"),
            "{e:?}"
        );
    }
    for bad in ["0", "41", "0.005", "1.234", "-1", "abc"] {
        let e = vrrp(&["--advert-int", bad]).unwrap_err();
        assert_eq!(e.exit_code, 1, "{bad}");
        assert!(e.message.contains("advert-int must be from 0.01"), "{e:?}");
    }
}

/// Options that make no sense with `--vrrp` are refused with one line and exit 1,
/// and the VRRP options need `--vrrp`.
#[test]
fn vrrp_mode_refuses_carp_options_and_carp_refuses_vrrp_options() {
    for opt in [
        &["-p", "secret"][..],
        &["-o", "/etc/passwd"],
        &["-b", "2"],
        &["-k", "10"],
        &["-r", "4"],
        &["--strict-auth"],
        &["--replay-window", "8"],
    ] {
        let e = vrrp(opt).unwrap_err();
        assert_eq!(e.exit_code, 1, "{opt:?}");
        assert!(
            e.message.starts_with("--vrrp cannot be combined with"),
            "{e:?}"
        );
        assert!(!e.message.contains('\n'));
    }
    for opt in [&["--priority", "100"][..], &["--advert-int", "1"]] {
        let e = with(opt).unwrap_err();
        assert_eq!(e.exit_code, 1);
        assert!(e.message.ends_with("needs --vrrp"), "{e:?}");
    }
    // A CARP node still needs its password.
    let e = config(&VRRP[1..]).unwrap_err();
    assert_eq!(e.message, "You must supply a password");
}

/// As many addresses as a frame the daemon reads can carry, per family.
#[test]
fn vrrp_mode_limits_the_address_list() {
    let many: Vec<String> = (1..=41).map(|i| format!("192.0.2.{i}")).collect();
    let mut args: Vec<&str> = VRRP[..VRRP.len() - 2].to_vec();
    for a in &many[..40] {
        args.extend(["-a", a.as_str()]);
    }
    assert_eq!(config(&args).unwrap().vaddrs.len(), 40);
    args.extend(["-a", many[40].as_str()]);
    let e = config(&args).unwrap_err();
    assert!(e.message.contains("at most 40 addresses"), "{e:?}");
}
