//! The timing formulas (docs/PROTOCOL.md §5): advert and master-down intervals, the bow-out
//! wait, the handover hold, the step-down grace, the witness probes and release, and the
//! tie-break between equal intervals. The state machine, the daemon and `--preflight` all use these, so each
//! lives here once.

use std::net::IpAddr;
use std::time::Duration;

use crate::types::DEMOTED_ADVSKEW;

/// How late Debian's ucarp may see a frame: libpcap hands it packets in blocks that a
/// 1 s kernel timer releases (docs/PROTOCOL.md §4.1). Our backups wait at least this long after
/// a bow-out, so that a ucarp backup, which takes over on it at once, is never raced;
/// and a step-down of a ucarp master can take this long too.
pub const UCARP_RX_LAG: Duration = Duration::from_secs(1);
/// Added to [`UCARP_RX_LAG`] after a bow-out: the time a ucarp backup's up script and
/// its first advert take to follow, for a usual `ip addr add` script.
pub const BOW_OUT_GUARD: Duration = Duration::from_millis(250);

/// Returns ucarp's interval `T(base, skew)`: `base` s + `skew`/256 s, truncated to whole
/// microseconds (docs/PROTOCOL.md §5).
pub fn advert_interval(advbase: u8, advskew: u8) -> Duration {
    Duration::from_micros(u64::from(advbase) * 1_000_000 + skew_micros(advskew))
}

/// Returns the master-down interval: `advbase × deadratio` s + `advskew`/256 s, as
/// ucarp: only the base is multiplied (docs/PROTOCOL.md §5.1, §12 item 6).
///
/// With advbase 0 (a sub-second interval of `advskew`/256 s) it is `deadratio` whole
/// intervals instead. ucarp's formula gives one interval there, so a single late or lost
/// advert makes the backup take over, and pairs flap; this is a deliberate deviation.
pub fn master_down_interval(advbase: u8, advskew: u8, deadratio: u32) -> Duration {
    if advbase == 0 {
        return Duration::from_micros(skew_micros(advskew).saturating_mul(u64::from(deadratio)));
    }
    Duration::from_secs(u64::from(advbase) * u64::from(deadratio))
        + Duration::from_micros(skew_micros(advskew))
}

/// Returns how long a backup waits after a bow-out (or any advert slower than its own
/// dead time) before it takes over, so that backups take over one at a time, in
/// preference order: the best one's first advert reaches the others before their own
/// wait ends, and they stay backups.
///
/// With advbase ≥ 1 it is [`UCARP_RX_LAG`] + [`BOW_OUT_GUARD`] + `advskew`/256 s: the
/// skew orders our backups (3.9 ms per step of advskew), the fixed part lets a Debian
/// ucarp backup, which takes over at once but sees the bow-out up to a second late,
/// win the race it would otherwise start. The leaving master keeps the address until a
/// successor advertises, so the wait costs no outage. With advbase 0 (sub-second
/// intervals, which ucarp cannot follow) it is the node's own interval, `advskew`/256 s.
pub fn bow_out_delay(advbase: u8, advskew: u8) -> Duration {
    let skew = Duration::from_micros(skew_micros(advskew));
    if advbase == 0 {
        skew
    } else {
        UCARP_RX_LAG + BOW_OUT_GUARD + skew
    }
}

/// Returns how long a master handing over keeps the address while waiting for the
/// successor's first advert: the group's dead time (the master-down interval its
/// backups compute from its adverts), but never less than the longest any of our
/// backups waits after a bow-out, plus [`BOW_OUT_GUARD`] for its up script.
pub fn handover_bound(advbase: u8, advskew: u8, deadratio: u32) -> Duration {
    master_down_interval(advbase, advskew, deadratio)
        .max(bow_out_delay(advbase, DEMOTED_ADVSKEW) + BOW_OUT_GUARD)
}

/// Returns how long after becoming master a rival master is still expected: the master
/// we preempted (or that was frozen) steps down on our first advert, which a ucarp
/// master may see [`UCARP_RX_LAG`] late, and may send an advert of its own meanwhile.
/// Only a rival still heard after that is a split brain. `slower` is the slower of the
/// two advert intervals.
pub fn step_down_grace(slower: Duration) -> Duration {
    UCARP_RX_LAG + slower.saturating_mul(2)
}

/// The shortest gap between two probes of one witness, so that a sub-second interval
/// does not flood the witness (docs/PROTOCOL.md §5.15).
pub const WITNESS_PROBE_FLOOR: Duration = Duration::from_millis(10);
/// How many probe periods without any answer make every witness lost.
pub const WITNESS_PROBES_LOST: u32 = 8;
/// Kept free before a peer's earliest takeover when a cut-off master releases the
/// address: the time its down script takes to remove it (docs/PROTOCOL.md §5.15).
pub const WITNESS_RELEASE_GUARD: Duration = Duration::from_millis(100);

/// Returns how often each witness is probed: a sixteenth of the advert interval
/// `T(advbase, advskew)` (62.5 ms at the defaults), or of the release time
/// [`witness_release_after`] where that is shorter (a slow master: advskew above about
/// 200 at advbase 1), so that every witness is lost, at [`WITNESS_PROBES_LOST`] periods,
/// well before the release is due; never more often than [`WITNESS_PROBE_FLOOR`]
/// (docs/PROTOCOL.md §5.15).
pub fn witness_probe_interval(advbase: u8, advskew: u8, deadratio: u32) -> Duration {
    let (interval, earliest) = carp_cadence(advbase, advskew, deadratio);
    probe_interval(interval, earliest)
}

/// Returns how long without an answer from any witness makes every witness lost:
/// [`WITNESS_PROBES_LOST`] probe periods, half an interval at the defaults (500 ms), so
/// that seven lost probes or replies in a row go unnoticed (docs/PROTOCOL.md §5.15).
pub fn witness_lost_after(advbase: u8, advskew: u8, deadratio: u32) -> Duration {
    witness_probe_interval(advbase, advskew, deadratio) * WITNESS_PROBES_LOST
}

/// Returns how long after the last answer from a witness a master that has lost every
/// witness must have released the address, unless a successor took it over first
/// (docs/PROTOCOL.md §5.15). `advskew` is the skew of its adverts.
///
/// If the master was cut off right after that answer, its last advert a backup heard
/// went out at most one interval `T(advbase, advskew)` before, and the backup takes
/// over one master-down interval after that advert, its own skew included: at the
/// earliest `advbase × deadratio` s later whatever that skew (with advbase 0, where the
/// skew is the interval, assuming the backup is no more preferred than this master).
/// The release comes [`WITNESS_RELEASE_GUARD`] (at most a quarter of the window)
/// before: 1.9 s at the defaults.
pub fn witness_release_after(advbase: u8, advskew: u8, deadratio: u32) -> Duration {
    let (interval, earliest) = carp_cadence(advbase, advskew, deadratio);
    release_after(interval, earliest)
}

/// A CARP master's advert interval, and the earliest any backup takes over after
/// hearing it last (see [`witness_release_after`]).
pub fn carp_cadence(advbase: u8, advskew: u8, deadratio: u32) -> (Duration, Duration) {
    let earliest = if advbase == 0 {
        master_down_interval(0, advskew, deadratio)
    } else {
        master_down_interval(advbase, 0, deadratio)
    };
    (advert_interval(advbase, advskew), earliest)
}

/// [`witness_probe_interval`] for a master advertising every `interval` whose backups
/// take over `earliest` after its last advert they heard, at the soonest: the one rule
/// for both protocols.
pub fn probe_interval(interval: Duration, earliest: Duration) -> Duration {
    (interval.min(release_after(interval, earliest)) / 16).max(WITNESS_PROBE_FLOOR)
}

/// [`witness_release_after`] for a master advertising every `interval` whose backups
/// take over `earliest` after its last advert they heard, at the soonest.
pub fn release_after(interval: Duration, earliest: Duration) -> Duration {
    let window = earliest.saturating_sub(interval);
    window.saturating_sub(WITNESS_RELEASE_GUARD.min(window / 4))
}

/// VRRP's Skew_Time: `(256 − priority) / 256` of the master's interval
/// (RFC 5798 §6.1, docs/PROTOCOL.md §14.4), exact to the nanosecond.
pub fn vrrp_skew(priority: u8, master_interval: Duration) -> Duration {
    let nanos = master_interval.as_nanos() * (256 - u128::from(priority)) / 256;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// VRRP's Master_Down_Interval: three of the master's intervals plus
/// [`vrrp_skew`] (RFC 5798 §6.1, docs/PROTOCOL.md §14.4).
pub fn vrrp_master_down(priority: u8, master_interval: Duration) -> Duration {
    master_interval.saturating_mul(3) + vrrp_skew(priority, master_interval)
}

/// How long a VRRP master handing over keeps the address while waiting for a
/// successor: the master-down interval of the least preferred backup (priority 1),
/// which is the longest any backup waits after a priority-0 advert, plus
/// [`BOW_OUT_GUARD`] for its up script.
pub fn vrrp_handover_bound(interval: Duration) -> Duration {
    vrrp_master_down(crate::types::DEMOTED_PRIORITY, interval) + BOW_OUT_GUARD
}

/// Returns how long a master that lost its carrier keeps the address in case the carrier
/// comes back (docs/PROTOCOL.md §5.6.1): the same window as
/// [`witness_release_after`], measured from the carrier loss, since the last advert
/// any backup heard went out at most one interval before it. No backup can have taken
/// over within it (1.9 s at the defaults), so a master whose carrier returns in time
/// resumes at once; one whose carrier stays away goes to BACKUP before any backup takes
/// over. Zero where there is no such window (deadratio 1): BACKUP at once, as ucarp.
pub fn carrier_grace(advbase: u8, advskew: u8, deadratio: u32) -> Duration {
    witness_release_after(advbase, advskew, deadratio)
}

fn skew_micros(advskew: u8) -> u64 {
    u64::from(advskew) * 1_000_000 / 256
}

/// The tie-break key of an address: its bytes read as a little-endian integer, as
/// ucarp on x86 and arm64 compares IPv4 addresses (docs/PROTOCOL.md §5.4, §12 item 1). The last
/// octet counts most: 10.9.1.1 beats 10.9.0.2. IPv6 (no ucarp to agree with) follows
/// the same rule over its 16 bytes, so 2001:db8::1:1 beats 2001:db8::2; a node only
/// ever compares addresses of its own family.
pub fn tie_break_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(ip) => u128::from(u32::from_le_bytes(ip.octets())),
        IpAddr::V6(ip) => u128::from_le_bytes(ip.octets()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn intervals_truncate_to_microseconds() {
        assert_eq!(advert_interval(1, 0), Duration::from_secs(1));
        // 50/256 s = 195312.5 µs, truncated.
        assert_eq!(advert_interval(1, 50), Duration::from_micros(1_195_312));
        assert_eq!(advert_interval(0, 20), Duration::from_micros(78_125));
        assert_eq!(
            master_down_interval(1, 50, 3),
            Duration::from_micros(3_195_312)
        );
        assert_eq!(
            master_down_interval(255, 255, u32::MAX),
            Duration::from_secs(255 * u64::from(u32::MAX)) + Duration::from_micros(996_093)
        );
    }

    #[test]
    fn witness_timing() {
        // The defaults: probes every 62.5 ms, lost after 500 ms, released 1.9 s after
        // the last answer; a backup's earliest takeover is 2 s after the cut.
        assert_eq!(
            witness_probe_interval(1, 0, 3),
            Duration::from_micros(62_500)
        );
        assert_eq!(witness_lost_after(1, 0, 3), Duration::from_millis(500));
        assert_eq!(witness_release_after(1, 0, 3), Duration::from_millis(1900));
        // A slower master has less time: its last advert may be older.
        assert_eq!(
            witness_release_after(1, 128, 3),
            Duration::from_millis(1400)
        );
        // Sub-second intervals: the floor, and the window in whole intervals.
        assert_eq!(witness_probe_interval(0, 20, 3), WITNESS_PROBE_FLOOR);
        let window = advert_interval(0, 20) * 2;
        assert_eq!(witness_release_after(0, 20, 3), window - window / 4);
        // Deadratio 1 leaves no window: release at once.
        assert_eq!(witness_release_after(1, 0, 1), Duration::ZERO);
        // A slow master (advskew 255 at advbase 1: release 0.91 s, interval 2 s) probes
        // faster, so the loss is still noticed well before the release.
        for (base, skew) in [(1, 0), (1, 100), (1, 200), (1, 255), (2, 0), (3, 255)] {
            assert!(
                witness_lost_after(base, skew, 3) * 2 <= witness_release_after(base, skew, 3),
                "{base}/{skew}: loss noticed before the release is due"
            );
        }
    }

    #[test]
    fn tie_break_is_little_endian() {
        let a = IpAddr::from([10, 9, 1, 1]);
        let b = IpAddr::from([10, 9, 0, 2]);
        assert!(tie_break_key(a) < tie_break_key(b));
        assert!(Ipv4Addr::new(10, 9, 1, 1) > Ipv4Addr::new(10, 9, 0, 2));
        // IPv6 follows the same rule: the last byte counts most.
        let a: IpAddr = "2001:db8::1:1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        assert!(tie_break_key(a) < tie_break_key(b));
    }
}
