//! Fuzzes everything that reads bytes from the network or from files written by
//! others: the receive checks of an IPv4 and an IPv6 node (with replay protection),
//! those of a VRRPv3 node of each family, multicast and unicast, frame, VRRP frame,
//! GARP and neighbour-advertisement parsing, netlink link events and the
//! state-file parser. None of it may panic.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use ucarp::arp::GarpFrame;
use ucarp::auth::Key;
use ucarp::frame::{Advert6Frame, AdvertFrame};
use ucarp::ndp::UnsolicitedNa;
use ucarp::packet::{CARP_MCAST_V4, CARP_MCAST_V6};
use ucarp::replay::ReplayGuard;
use ucarp::rx::{Receiver, VrrpReceiver};
use ucarp::wire::vrrp::{VrrpFrame, VrrpPacket, VRRP_MCAST_V4, VRRP_MCAST_V6};

fuzz_target!(|data: &[u8]| {
    let key = Key::new(b"secret").expect("a valid password");
    let v4 = Receiver {
        srcip: Ipv4Addr::new(192, 0, 2, 2).into(),
        vhid: 7,
        group: CARP_MCAST_V4.into(),
        peers: Vec::new(),
        signer: key.signer(7, &[Ipv4Addr::new(192, 0, 2, 100).into()]),
    };
    let vaddr6: IpAddr = "2001:db8::100".parse().expect("an IPv6 address");
    let v6 = Receiver {
        srcip: "2001:db8::2".parse().expect("an IPv6 address"),
        vhid: 7,
        group: CARP_MCAST_V6.into(),
        peers: Vec::new(),
        signer: key.signer(7, &[vaddr6]),
    };
    for rx in [&v4, &v6] {
        if let Ok(v) = rx.accept(data) {
            let mut guard = ReplayGuard::new(16);
            let _ = guard.check(v.src(), v.advert().counter);
            let _ = guard.check(v.src(), v.advert().counter);
        }
    }
    let me6: IpAddr = "fe80::2".parse().expect("an IPv6 address");
    for (srcip, group, vip) in [
        (
            IpAddr::from(Ipv4Addr::new(192, 0, 2, 2)),
            IpAddr::from(VRRP_MCAST_V4),
            IpAddr::from(Ipv4Addr::new(192, 0, 2, 100)),
        ),
        (me6, IpAddr::from(VRRP_MCAST_V6), vaddr6),
    ] {
        for peers in [Vec::new(), vec![srcip]] {
            let rx = VrrpReceiver {
                srcip,
                vrid: 51,
                group,
                peers,
                addresses: vec![vip],
            };
            if let Ok(v) = rx.accept(data) {
                let _ = (
                    v.advert().interval(),
                    v.checksum().name(),
                    v.addresses_match(),
                );
            }
        }
    }
    let _ = VrrpFrame::parse(data);
    if let Ok(p) = VrrpPacket::new_checked(data) {
        let _ = (
            p.advert(),
            p.addresses(false).count(),
            p.addresses(true).count(),
        );
    }
    let _ = AdvertFrame::parse(data);
    let _ = Advert6Frame::parse(data);
    let _ = GarpFrame::parse(data);
    let _ = UnsolicitedNa::parse(data);
    let _ = ucarp::net::parse_link_events(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ucarp::status::parse(text);
    }
});
