//! The OpenWrt init script's translation of `/etc/config/ucarp` into ucarp command
//! lines (`contrib/openwrt/`), run with a stand-in for OpenWrt's shell libraries: the
//! shipped example covers every option that makes sense under procd, and each line it
//! produces is one ucarp's parser accepts.

use std::process::Command;

use ucarp::cli::{self, Opt, OPTIONS};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs the init script's translation on `config` (UCI text).
fn run_translate(config: &str) -> std::process::Output {
    let file =
        std::env::temp_dir().join(format!("ucarp-uci-{}-{}", std::process::id(), config.len()));
    std::fs::write(&file, config).unwrap();
    let out = Command::new("sh")
        .arg(format!("{ROOT}/contrib/openwrt/test/translate.sh"))
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    out
}

/// The instances the init script starts for `config` (UCI text): (name, argv).
fn translate(config: &str) -> Vec<(String, Vec<String>)> {
    let out = run_translate(config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (name, cmd) = l.split_once(": ").unwrap();
            (
                name.to_string(),
                cmd.split_whitespace().map(str::to_string).collect(),
            )
        })
        .collect()
}

fn shipped_config() -> String {
    std::fs::read_to_string(format!("{ROOT}/contrib/openwrt/files/ucarp.config")).unwrap()
}

#[test]
fn the_shipped_example_translates_to_valid_command_lines() {
    // Shipped disabled: nothing starts.
    assert!(translate(&shipped_config()).is_empty());

    let enabled = shipped_config().replace("option enabled '0'", "option enabled '1'");
    let instances = translate(&enabled);
    let names: Vec<&str> = instances.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["lan", "wan", "guest"]);
    let lan = instances[0].1.join(" ");
    assert_eq!(
        lan,
        "/usr/sbin/ucarp -i br-lan -s 192.0.2.1 -v 10 -o /etc/ucarp/lan.pass \
         -a 192.0.2.254 -b 1 -k 0 -r 3 -P --preempt-delay 30 -z -f daemon -x 24 \
         -u /usr/share/ucarp/vip-up.sh -d /usr/share/ucarp/vip-down.sh \
         --script-timeout 60 --check-script /usr/libexec/ucarp-check-wan \
         --check-interval 2 --check-timeout 2 --check-rise 2 --check-fall 2 \
         --track-iface wan --witness 192.0.2.253 --witness 192.0.2.252 \
         --state-file /var/run/ucarp-lan.json"
    );
    let wan = instances[1].1.join(" ");
    assert_eq!(
        wan,
        "/usr/sbin/ucarp -i eth1 -s 198.51.100.2 -v 20 -p change-me \
         -a 198.51.100.10 -a 198.51.100.11 -k 100 -m 224.0.0.18 -n -z \
         -u /usr/share/ucarp/vip-up.sh -d /usr/share/ucarp/vip-down.sh \
         --peer 198.51.100.1 --real-mac --replay-window 64 --strict-auth \
         --state-file /tmp/ucarp-wan.json"
    );
    let guest = instances[2].1.join(" ");
    assert_eq!(
        guest,
        "/usr/sbin/ucarp -i br-guest -s 203.0.113.2 -v 30 -a 203.0.113.254 -P -z \
         -u /usr/share/ucarp/vip-up.sh -d /usr/share/ucarp/vip-down.sh --vrrp \
         --priority 90 --advert-int 1 --state-file /var/run/ucarp-guest.json"
    );

    // Every line parses, and together they use every option a daemon under procd can
    // take (not the one-shot commands, -B or the pid file, which procd replaces).
    let mut used = Vec::new();
    for (_, argv) in &instances {
        let args = cli::parse(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        used.extend(args.occurrences.iter().map(|o| o.opt));
    }
    let not_under_procd = [
        Opt::Help,
        Opt::Version,
        Opt::Status,
        Opt::Json,
        Opt::Preflight,
        Opt::Daemonize,
        Opt::Pidfile,
        Opt::UpMustSucceed, // shipped as '0': present in the file, off
        Opt::Ignoreifstate, // shipped as '0'
        Opt::Nomcast,       // shipped as '0'
        Opt::Debug,         // shipped as '0'
    ];
    for doc in OPTIONS {
        if !not_under_procd.contains(&doc.opt) {
            assert!(used.contains(&doc.opt), "--{} is not covered", doc.long);
        }
    }
}

#[test]
fn booleans_lists_and_defaults_follow_uci_rules() {
    let config = "\
config ucarp 'a'
\toption enabled 'yes'
\toption interface 'eth0'
\toption srcip '192.0.2.11'
\toption vhid '7'
\toption shutdown 'off'
\toption debug 'true'
\toption nomcast 'on'
\toption ignoreifstate '1'
\toption up_must_succeed 'enabled'
\toption password 'two words *'
\tlist address '192.0.2.100'
\tlist address \"192.0.2.101\"
\tlist track_iface 'eth1'
\tlist track_iface eth2

config other 'x'
\toption enabled '1'

config ucarp
\toption enabled '1'
\toption interface 'eth9'
\toption srcip '192.0.2.12'
\toption vhid '8'
\toption shutdown 'bogus'

config ucarp 'b'
\toption enabled '1'
\toption interface 'eth0'
";
    let out = run_translate(config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Section b lacks srcip and vhid: refused with a message, a still starts.
    assert!(
        stderr.contains("section b needs interface, srcip and vhid"),
        "{stderr}"
    );
    // A password with a space and a glob stays one argument; an unnamed section gets
    // uci's cfgNNNNNN name; a boolean word OpenWrt does not know means the default.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "a: /usr/sbin/ucarp -i eth0 -s 192.0.2.11 -v 7 -p 'two words *' \
             -a 192.0.2.100 -a 192.0.2.101 -S -M -D -u /usr/share/ucarp/vip-up.sh \
             -d /usr/share/ucarp/vip-down.sh --up-must-succeed --track-iface eth1 \
             --track-iface eth2 --state-file /var/run/ucarp-a.json",
            "cfg000001: /usr/sbin/ucarp -i eth9 -s 192.0.2.12 -v 8 -z \
             -u /usr/share/ucarp/vip-up.sh -d /usr/share/ucarp/vip-down.sh \
             --state-file /var/run/ucarp-cfg000001.json",
        ]
    );
}
