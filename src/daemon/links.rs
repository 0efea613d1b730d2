//! Links: our interface's carrier (and whether it is gone), and the `--track-iface`
//! interfaces, followed through route netlink; after lost events, read directly with
//! ioctls. Tells the state machine; decides nothing itself.

use std::time::Instant;

use super::Daemon;
use crate::net::{self, ControlSocket};

/// An interface of `--track-iface`.
#[derive(Debug)]
pub(super) struct Tracked {
    pub(super) name: String,
    pub(super) ifindex: Option<i32>,
    pub(super) up: bool,
}

impl Tracked {
    /// Reads the interface's index and state with ioctls; a missing one is down.
    pub(super) fn read(control: &ControlSocket, name: &str) -> Tracked {
        Tracked {
            name: name.to_string(),
            ifindex: net::interface_index(name)
                .ok()
                .and_then(|i| i32::try_from(i).ok()),
            up: control.flags(name).is_ok_and(net::is_up_and_running),
        }
    }
}

impl Daemon {
    pub(super) fn on_links(&mut self, now: Instant, buf: &mut [u8]) {
        loop {
            let events = match self.links.recv(buf) {
                Ok(None) => break,
                Ok(Some(len)) if len <= buf.len() => net::parse_link_events(&buf[..len]),
                // Events were lost (a storm, or a message too long for the buffer):
                // read the state of every interface we care about directly.
                Ok(Some(_)) => {
                    self.reread_links(now);
                    continue;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.reread_links(now);
                    continue;
                }
                Err(e) => {
                    log::warn!("netlink: {e}");
                    break;
                }
            };
            for e in events {
                if e.ifindex == self.ifindex {
                    self.own_link(now, (!e.deleted).then_some(e.flags));
                    if self.gone {
                        return;
                    }
                }
                self.tracked_event(&e);
            }
        }
        self.tracked_changed(now);
    }

    /// Our own interface: `None` when deleted.
    fn own_link(&mut self, now: Instant, flags: Option<u32>) {
        match flags {
            None => self.interface_gone(now, "interface deleted"),
            Some(f) if f & libc::IFF_UP as u32 == 0 => {
                self.interface_gone(now, "interface set down")
            }
            Some(f) if !self.cfg.ignoreifstate => {
                self.carp
                    .handle_link(now, f & libc::IFF_RUNNING as u32 != 0);
            }
            Some(_) => {}
        }
    }

    /// Updates a tracked interface from a netlink event, matched by index, or by name
    /// for an interface (re)created since.
    fn tracked_event(&mut self, e: &net::LinkEvent) {
        for t in &mut self.tracked {
            let same_name = e.name.as_deref() == Some(t.name.as_str());
            if t.ifindex == Some(e.ifindex) || (same_name && !e.deleted) {
                t.ifindex = (!e.deleted).then_some(e.ifindex);
                t.up = !e.deleted && net::is_up_and_running(e.flags);
            }
        }
    }

    /// Tells the state machine whether every tracked interface has its carrier.
    fn tracked_changed(&mut self, now: Instant) {
        if !self.tracked.is_empty() {
            let all_up = self.tracked.iter().all(|t| t.up);
            self.carp.handle_tracked_links(now, all_up);
        }
    }

    /// Reads our interface's and the tracked interfaces' flags with ioctls, after lost
    /// netlink events.
    fn reread_links(&mut self, now: Instant) {
        let flags = self.control.flags(&self.cfg.iface).ok();
        self.own_link(now, flags);
        for t in &mut self.tracked {
            *t = Tracked::read(&self.control, &t.name);
        }
        self.tracked_changed(now);
    }
}
