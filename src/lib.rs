//! `ucarp`: a drop-in replacement for ucarp 1.5.2, the CARP IP failover daemon.
//!
//! Two or more hosts share a virtual IP address. Each sends HMAC-SHA1-signed CARP
//! adverts (IP protocol 112, multicast 224.0.0.18, or ff02::12 over IPv6); the one with the
//! shortest advert interval is master and runs the up script, which adds the address. The
//! behaviour and wire format follow `docs/PROTOCOL.md`, section by section.
//!
//! The code is split along one line, between two crates:
//! * the pure, sans-IO core, the `carp` crate (`carp/`): the wire format ([`wire`]),
//!   [`auth`], [`rx`], [`replay`], [`state`] and [`event`], re-exported here. It never
//!   opens a socket, never reads the clock and never spawns a process, and its
//!   dependencies and lints make sure of it. Time and randomness come in as arguments,
//!   so the core is tested with a virtual clock;
//! * this crate, the I/O layer that drives it: [`cli`] and [`config`] (the command line),
//!   [`net`] (sockets), [`hooks`] (scripts), [`check`] (the health check), [`process`]
//!   (how both start and kill their children),
//!   [`service`] (pid file, systemd), [`status`] (the state file), [`logger`], and
//!   [`daemon`], the one `epoll` loop. [`ratelimit`] is pure but serves only the
//!   daemon's logging.
//!
//! ARCHITECTURE.md at the repository root is the map.

#![warn(missing_docs)]
#![deny(unsafe_code)]

// The sans-IO core lives in its own crate, `carp/`; these re-exports keep the paths
// the daemon and the tests use (`ucarp::state`, `crate::rx`, ...).
pub use carp::wire::{arp, checksum, frame, ndp, packet, vrrp};
pub use carp::{auth, event, replay, rx, state, wire};

pub mod argv;
pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod decimal;
pub mod error;
pub mod hooks;
pub mod logger;
pub mod net;
pub mod preflight;
pub mod process;
pub mod ratelimit;
pub mod service;
pub mod status;

#[cfg(test)]
mod testutil;
