//! The single integration-test binary (ripgrep's layout): topic files are modules.
//!
//! * `props`: property tests of the wire format, receive checks and state machine.
//! * `scenarios`: the state machine over a simulated wire, in virtual time.

mod props;
mod scenarios;
mod sim;
