//! The witness prober (`--witness`, docs/PROTOCOL.md §5.15): owns an AF_PACKET socket on
//! our interface whose kernel filter keeps only the witnesses' answers (ARP replies for
//! IPv4, neighbour advertisements for IPv6), the probe frames, built once, and the
//! probe schedule ([`WitnessSchedule`], pure, in `carp`). Every probe period it sends
//! each witness an ARP request or a neighbour solicitation from our own address; every
//! answer is reported to the state machine as reachable, and the loss time ([`WitnessTiming`]) of
//! probing without any answer as lost (a stall of the process, which sends no probe,
//! does not count). Its two deadlines (the next probe, the loss) go into the loop's one
//! deadline.
//!
//! It never decides what reachability means (that is `carp`'s `witness.rs`), never
//! blocks (frames are sent and read without waiting; a failed send is logged once per
//! episode and the schedule goes on), and exists only with `--witness`: without it the
//! daemon opens no socket and sends no probe.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

use pnet_base::MacAddr;

use crate::arp::{ArpProbe, ArpReply};
use crate::ndp::{NeighborAdvert, NeighborSolicit};
use crate::net::{self, PacketSocket};
use crate::state::{Carp, WitnessSchedule, WitnessTiming};

/// Frames read per wake-up; the filter keeps only answers, a few per probe period.
const FRAMES_PER_WAKE: usize = 16;

/// The witnesses, their probes and what was last heard from them.
#[derive(Debug)]
pub(super) struct Prober {
    socket: PacketSocket,
    witnesses: Vec<IpAddr>,
    /// One probe frame per witness, built at start.
    probes: Vec<Vec<u8>>,
    timing: WitnessTiming,
    /// When to probe and when every witness is lost; `None` before
    /// [`start`](Self::start).
    schedule: Option<WitnessSchedule>,
    /// A probe could not be sent: logged once until one goes out again.
    send_failed: bool,
}

impl Prober {
    /// Opens the socket on `ifindex` and prepares the probes from (`mac`, `srcip`); the
    /// first probes go out at [`start`](Self::start).
    ///
    /// # Errors
    /// The socket's, e.g. `EPERM` without CAP_NET_RAW.
    pub(super) fn open(
        ifindex: u32,
        mac: MacAddr,
        srcip: IpAddr,
        witnesses: &[IpAddr],
        timing: WitnessTiming,
    ) -> io::Result<Prober> {
        let ethertype = match srcip {
            IpAddr::V4(_) => 0x0806,
            IpAddr::V6(_) => 0x86dd,
        };
        let socket = PacketSocket::open(ifindex, &net::witness_filter(witnesses), ethertype)?;
        let probes = witnesses
            .iter()
            .filter_map(|w| match (srcip, *w) {
                (IpAddr::V4(sender), IpAddr::V4(target)) => {
                    let mut buf = vec![0; ArpProbe::LEN];
                    ArpProbe {
                        mac,
                        sender,
                        target,
                    }
                    .emit(&mut buf);
                    Some(buf)
                }
                (IpAddr::V6(src), IpAddr::V6(target)) => {
                    let mut buf = vec![0; NeighborSolicit::LEN];
                    NeighborSolicit { mac, src, target }.emit(&mut buf);
                    Some(buf)
                }
                // The configuration refuses witnesses of the other family.
                _ => None,
            })
            .collect();
        Ok(Prober {
            socket,
            witnesses: witnesses.to_vec(),
            probes,
            timing,
            schedule: None,
            send_failed: false,
        })
    }

    /// Schedules the first probes at `now`, when the loop starts.
    pub(super) fn start(&mut self, now: Instant) {
        self.schedule = Some(WitnessSchedule::new(self.timing, now));
    }

    /// Returns when [`handle_timeout`](Self::handle_timeout) next has work: the next
    /// probe, or the loss of every witness if that comes first.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.schedule
            .as_ref()
            .and_then(WitnessSchedule::poll_timeout)
    }

    /// Sends the probes when due, and reports the loss of every witness when it is.
    pub(super) fn handle_timeout(&mut self, now: Instant, carp: &mut Carp) {
        let Some(tick) = self.schedule.as_mut().map(|s| s.handle_timeout(now)) else {
            return;
        };
        if tick.lost {
            log::debug!(
                "No witness answered for {} ms",
                self.timing.lost_after.as_millis()
            );
            carp.handle_witness(now, false);
        }
        if tick.probe {
            self.probe();
        }
    }

    fn probe(&mut self) {
        let mut failed = None;
        for frame in &self.probes {
            if let Err(e) = self.socket.send(frame) {
                failed = Some(e);
            }
        }
        match failed {
            Some(e) if !self.send_failed => {
                self.send_failed = true;
                log::warn!("Unable to probe the witnesses: {e}");
            }
            Some(_) => {}
            None => self.send_failed = false,
        }
    }

    /// Reads what the filter kept and reports each witness's answer.
    ///
    /// # Errors
    /// recvmmsg's, e.g. `ENETDOWN` once the interface is set down.
    pub(super) fn on_frames(&mut self, now: Instant, carp: &mut Carp) -> io::Result<()> {
        let mut bufs = [[0u8; net::FRAME_SNAP]; FRAMES_PER_WAKE];
        let mut lens = [0usize; FRAMES_PER_WAKE];
        let n = self.socket.recv_batch(&mut bufs, &mut lens)?;
        for (buf, &len) in bufs.iter().zip(lens.iter()).take(n) {
            let frame = &buf[..len];
            let from = ArpReply::parse(frame)
                .map(|r| IpAddr::V4(r.sender))
                .or_else(|| NeighborAdvert::parse(frame).map(|a| IpAddr::V6(a.target)));
            let Some(from) = from.filter(|w| self.witnesses.contains(w)) else {
                continue;
            };
            let Some(schedule) = self.schedule.as_mut() else {
                continue;
            };
            if schedule.answered(now) {
                log::debug!("Witness [{from}] answers");
            }
            carp.handle_witness(now, true);
        }
        Ok(())
    }
}

impl AsFd for Prober {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}
