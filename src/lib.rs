//! `ucarp`: a drop-in replacement for ucarp 1.5.2, the CARP IP failover daemon.
//!
//! Two or more hosts share a virtual IP address. Each sends HMAC-SHA1-signed CARP
//! adverts (IP protocol 112, multicast 224.0.0.18, or ff02::12 over IPv6); the one with the shortest advert
//! interval is master and runs the up script, which adds the address. The behaviour and
//! wire format follow the project's `SPEC.md`, section by section.
//!
//! The crate is split along one line:
//! * a pure, sans-IO core — [`checksum`], [`packet`], [`frame`], [`arp`], [`ndp`],
//!   [`auth`], [`rx`], [`replay`], [`state`] and [`event`] — that never opens a socket, never reads the clock
//!   and never spawns a process. Time and randomness come in as arguments, so the core is
//!   tested with a virtual clock;
//! * the I/O layer that drives it: [`cli`] and [`config`] (the command line),
//!   [`net`] (sockets), [`hooks`] (scripts), [`check`] (the health check),
//!   [`service`] (pid file, systemd), [`status`] (the state file), [`logger`], and
//!   [`daemon`], the one `ppoll` loop. [`ratelimit`] is pure but serves only the
//!   daemon's logging.
//!
//! `clippy.toml` forbids `Instant::now` and `SystemTime::now` so the core cannot read
//! the clock by accident.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod argv;
pub mod arp;
pub mod auth;
pub mod check;
pub mod checksum;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod event;
pub mod frame;
pub mod hooks;
pub mod logger;
pub mod ndp;
pub mod net;
pub mod packet;
pub mod preflight;
pub mod ratelimit;
pub mod replay;
pub mod rx;
pub mod service;
pub mod state;
pub mod status;

#[cfg(test)]
mod testutil;
