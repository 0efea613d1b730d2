//! Fuzzes everything that reads bytes from the network or from files written by
//! others: the receive checks (with replay protection), frame and GARP parsing,
//! netlink link events and the state-file parser. None of it may panic.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use ucarp::arp::GarpFrame;
use ucarp::auth::Key;
use ucarp::frame::AdvertFrame;
use ucarp::packet::CARP_MCAST_V4;
use ucarp::replay::ReplayGuard;
use ucarp::rx::Receiver;

fuzz_target!(|data: &[u8]| {
    let rx = Receiver {
        srcip: Ipv4Addr::new(192, 0, 2, 2),
        vhid: 7,
        group: CARP_MCAST_V4,
        peers: Vec::new(),
        signer: Key::new(b"secret")
            .expect("a valid password")
            .signer(7, &[Ipv4Addr::new(192, 0, 2, 100).into()]),
    };
    if let Ok(v) = rx.accept(data) {
        let mut guard = ReplayGuard::new(16);
        let _ = guard.check(v.src(), v.advert().counter);
        let _ = guard.check(v.src(), v.advert().counter);
    }
    let _ = AdvertFrame::parse(data);
    let _ = GarpFrame::parse(data);
    let _ = ucarp::net::parse_link_events(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ucarp::status::parse(text);
    }
});
