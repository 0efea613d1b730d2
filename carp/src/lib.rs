//! `carp`: the sans-IO core of ucarp-rs, a drop-in replacement for the ucarp 1.5.2
//! CARP failover daemon.
//!
//! # The contract
//!
//! This crate decides; it never acts. It owns the CARP wire format ([`wire`]), the
//! HMAC-SHA1 authentication ([`auth`]), the checks a received frame must pass, in
//! ucarp's order ([`rx`]), the optional replay guard ([`replay`]) and the state machine
//! of one virtual host ([`state`]), with what it reports for the log ([`event`]). The
//! same parts speak VRRPv3 for `--vrrp` ([`wire::vrrp`], [`rx::VrrpReceiver`],
//! [`state::Protocol::Vrrp`]). The
//! state machine is a one-way chain: [`types`] (its vocabulary) → [`timing`] (the
//! formulas) → [`event`] → [`state`] (the machine, which re-exports the first two).
//!
//! It never opens a socket, reads the clock, sleeps, touches a file or the environment,
//! spawns a process or logs. Time comes in as an `Instant` argument, randomness as a
//! seed, frames as byte slices; what should happen goes out as values
//! ([`state::Action`]s, emitted bytes) for the caller to carry out. The compiler holds
//! the line: the crate depends only on packet and crypto crates (no libc, nix or
//! logging crate), forbids `unsafe`, and its `clippy.toml` bans the clock, sleeps, file,
//! environment, process and socket APIs.
//!
//! The daemon (the `ucarp` package at the repository root) wraps it: sockets, netlink,
//! signals, scripts, logging and the state file, in one single-threaded loop. Because
//! the core takes `now` as an argument, its tests run on a virtual clock: an hour of a
//! lossy network simulates in a fraction of a second.
//!
//! # Driving it
//!
//! As in quinn-proto: create a [`state::Carp`], feed it inputs through its `handle_*`
//! methods (an authenticated advert from [`rx::Receiver::accept`], the passing of time,
//! link changes, signals, script outcomes), drain [`state::Carp::poll_action`] after
//! each, and call [`state::Carp::handle_timeout`] at [`state::Carp::poll_timeout`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod event;
pub mod replay;
pub mod rx;
pub mod state;
pub mod timing;
pub mod types;
pub mod wire;

#[cfg(any(test, feature = "test-fixtures"))]
pub mod testutil;
