//! The classic BPF programs the kernel runs on every frame before it reaches the packet
//! socket: keep CARP adverts of our family for our vhid from other sources
//! ([`advert_filter`]), or every CARP/VRRP frame but ours for `--preflight`
//! ([`carp_filter`]), or the witnesses' answers ([`witness_filter`]); drop the rest in the kernel, so foreign traffic never wakes the
//! daemon. Pure: both are built by one small builder whose jumps name their targets
//! (the next check, drop, keep), so nobody counts offsets by hand;
//! [`super::PacketSocket`] attaches them. The tests run each program on real frames
//! with a small BPF interpreter.

use std::net::IpAddr;

/// Classic BPF opcodes used by the programs here.
mod bpf {
    pub const LD_H_ABS: u16 = 0x28;
    pub const LD_B_ABS: u16 = 0x30;
    pub const LD_W_ABS: u16 = 0x20;
    pub const LD_B_IND: u16 = 0x50;
    pub const LDX_B_MSH: u16 = 0xb1;
    pub const JEQ_K: u16 = 0x15;
    pub const RET_K: u16 = 0x06;
}

/// How much of a kept frame the kernel copies to the daemon: Ethernet, the longest IPv4
/// header (60 bytes) and the CARP header fit; the rest is never read.
pub const FRAME_SNAP: usize = 14 + 60 + 36 + 18;

/// Where a comparison goes: on to the next instruction, to one of the program's two
/// returns, or to a place marked with [`Program::place`].
#[derive(Clone, Copy)]
enum To {
    Next,
    Drop,
    Keep,
    Label(usize),
}

/// Builds a classic BPF program from loads and comparisons whose targets are named, not
/// counted: [`Program::finish`] appends the two returns (drop, keep the headers) and
/// works out every jump offset, so a check can be added without recounting.
#[derive(Default)]
struct Program {
    ins: Vec<(u16, To, To, u32)>,
    labels: Vec<usize>,
}

impl Program {
    fn op(&mut self, code: u16, k: u32) -> &mut Self {
        self.ins.push((code, To::Next, To::Next, k));
        self
    }

    /// Jumps to `eq` when the accumulator equals `k`, else to `ne`.
    fn jump_eq(&mut self, k: u32, eq: To, ne: To) -> &mut Self {
        self.ins.push((bpf::JEQ_K, eq, ne, k));
        self
    }

    /// A label to jump to, placed later with [`Program::place`].
    fn label(&mut self) -> To {
        self.labels.push(usize::MAX);
        To::Label(self.labels.len() - 1)
    }

    /// Places `label` at the next instruction.
    fn place(&mut self, label: To) -> &mut Self {
        if let To::Label(n) = label {
            self.labels[n] = self.ins.len();
        }
        self
    }

    /// Keeps only protocol-112 frames of `srcip`'s family: for IPv4 any header length,
    /// for IPv6 next header 112 right after the fixed header.
    fn carp_of_family(&mut self, srcip: IpAddr) -> &mut Self {
        let (ethertype, protocol_at) = match srcip {
            IpAddr::V4(_) => (0x0800, 14 + 9),
            IpAddr::V6(_) => (0x86dd, 14 + 6),
        };
        self.op(bpf::LD_H_ABS, 12)
            .jump_eq(ethertype, To::Next, To::Drop)
            .op(bpf::LD_B_ABS, protocol_at)
            .jump_eq(112, To::Next, To::Drop)
    }

    /// Drops frames sent from `srcip`; others go to `otherwise`.
    fn not_from(&mut self, srcip: IpAddr, otherwise: To) -> &mut Self {
        match srcip {
            IpAddr::V4(ip) => {
                self.op(bpf::LD_W_ABS, 14 + 12)
                    .jump_eq(u32::from(ip), To::Drop, otherwise)
            }
            // Ours only when all four words match; the first that differs decides.
            IpAddr::V6(ip) => {
                let o = ip.octets();
                for (i, w) in o.chunks_exact(4).enumerate() {
                    let word = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
                    let at = 14 + 8 + 4 * i as u32;
                    let eq = if i == 3 { To::Drop } else { To::Next };
                    self.op(bpf::LD_W_ABS, at).jump_eq(word, eq, otherwise);
                }
                self
            }
        }
    }

    /// Appends drop (`ret 0`) and keep (`ret FRAME_SNAP`) and resolves the jumps.
    fn finish(&mut self) -> Vec<libc::sock_filter> {
        let drop = self.ins.len();
        let (keep, end) = (drop + 1, drop + 2);
        let mut out = Vec::with_capacity(end);
        for (i, &(code, jt, jf, k)) in self.ins.iter().enumerate() {
            let offset = |to| {
                let at = match to {
                    To::Next => i + 1,
                    To::Drop => drop,
                    To::Keep => keep,
                    To::Label(n) => self.labels[n],
                };
                // Invariant: every label is placed, ahead of its jumps, and the programs
                // built here are a few dozen instructions long (the tests build each).
                assert!(
                    at > i && at <= keep,
                    "BPF jump to an unplaced or earlier label"
                );
                u8::try_from(at - (i + 1)).unwrap_or(u8::MAX)
            };
            let (jt, jf) = (offset(jt), offset(jf));
            out.push(libc::sock_filter { code, jt, jf, k });
        }
        for k in [0, FRAME_SNAP as u32] {
            out.push(libc::sock_filter {
                code: bpf::RET_K,
                jt: 0,
                jf: 0,
                k,
            });
        }
        out
    }
}

/// Builds the kernel filter: keep CARP frames of `srcip`'s family whose source is not
/// `srcip` and whose CARP vhid byte is `vhid`; drop everything else before it is
/// queued. VRRP adverts for a VRID equal to our vhid pass (same byte), so ucarp's
/// `Bad version` warning for them still shows.
pub fn advert_filter(srcip: IpAddr, vhid: u8) -> Vec<libc::sock_filter> {
    let mut p = Program::default();
    let vhid_check = p.label();
    p.carp_of_family(srcip).not_from(srcip, vhid_check);
    p.place(vhid_check);
    match srcip {
        // X = the IPv4 header length, then the byte after it plus one: the vhid.
        IpAddr::V4(_) => p.op(bpf::LDX_B_MSH, 14).op(bpf::LD_B_IND, 14 + 1),
        IpAddr::V6(_) => p.op(bpf::LD_B_ABS, 14 + 40 + 1),
    };
    p.jump_eq(u32::from(vhid), To::Keep, To::Drop).finish()
}

/// Builds the kernel filter of the witness socket (docs/PROTOCOL.md §5.15): for IPv4
/// witnesses, ARP replies (operation 2) whose sender address is one of them; for IPv6,
/// neighbour advertisements (ICMPv6 type 136 right after the fixed header) whose target
/// is one of them. Everything else is dropped before it is queued. `witnesses` are of
/// one family (the configuration checks it) and there are at most a few dozen.
pub fn witness_filter(witnesses: &[IpAddr]) -> Vec<libc::sock_filter> {
    let mut p = Program::default();
    match witnesses.first() {
        None | Some(IpAddr::V4(_)) => {
            p.op(bpf::LD_H_ABS, 12)
                .jump_eq(0x0806, To::Next, To::Drop)
                .op(bpf::LD_H_ABS, 14 + 6)
                .jump_eq(2, To::Next, To::Drop)
                .op(bpf::LD_W_ABS, 14 + 14);
            for w in witnesses {
                if let IpAddr::V4(w) = w {
                    p.jump_eq(u32::from(*w), To::Keep, To::Next);
                }
            }
        }
        Some(IpAddr::V6(_)) => {
            p.op(bpf::LD_H_ABS, 12)
                .jump_eq(0x86dd, To::Next, To::Drop)
                .op(bpf::LD_B_ABS, 14 + 6)
                .jump_eq(58, To::Next, To::Drop)
                .op(bpf::LD_B_ABS, 14 + 40)
                .jump_eq(136, To::Next, To::Drop);
            // The target: all four words must match; the first that differs moves on
            // to the next witness.
            for w in witnesses {
                if let IpAddr::V6(w) = w {
                    let next = p.label();
                    for (i, word) in w.octets().chunks_exact(4).enumerate() {
                        let word = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
                        let eq = if i == 3 { To::Keep } else { To::Next };
                        p.op(bpf::LD_W_ABS, 14 + 40 + 8 + 4 * i as u32)
                            .jump_eq(word, eq, next);
                    }
                    p.place(next);
                }
            }
        }
    }
    // Past the last comparison comes the drop.
    p.finish()
}

/// Builds a kernel filter for `--preflight`: every protocol-112 frame (CARP and VRRP,
/// any id) of `srcip`'s family whose source is not `srcip`.
pub fn carp_filter(srcip: IpAddr) -> Vec<libc::sock_filter> {
    Program::default()
        .carp_of_family(srcip)
        .not_from(srcip, To::Keep)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the few classic-BPF instructions `advert_filter` uses, as the kernel would:
    /// returns the number of bytes kept (0 = dropped). Loads past the end drop.
    fn run_bpf(prog: &[libc::sock_filter], pkt: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let byte = |i: usize| pkt.get(i).copied().map(u32::from);
        loop {
            let ins = prog[pc];
            let k = ins.k as usize;
            pc += 1;
            match ins.code {
                bpf::LD_H_ABS => match (byte(k), byte(k + 1)) {
                    (Some(h), Some(l)) => a = h << 8 | l,
                    _ => return 0,
                },
                bpf::LD_W_ABS => match pkt.get(k..k + 4) {
                    Some(w) => a = u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
                    None => return 0,
                },
                bpf::LD_B_ABS => match byte(k) {
                    Some(b) => a = b,
                    None => return 0,
                },
                bpf::LD_B_IND => match byte(x as usize + k) {
                    Some(b) => a = b,
                    None => return 0,
                },
                bpf::LDX_B_MSH => match byte(k) {
                    Some(b) => x = 4 * (b & 0xf),
                    None => return 0,
                },
                bpf::JEQ_K => pc += usize::from(if a == ins.k { ins.jt } else { ins.jf }),
                bpf::RET_K => return ins.k,
                other => panic!("opcode {other:#x} not modelled"),
            }
        }
    }

    #[test]
    fn filter_keeps_only_peer_adverts_for_our_vhid() {
        // The golden frame of docs/PROTOCOL.md §2.3: vhid 7 from 10.9.0.1.
        let golden = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        let keep = |srcip, vhid, frame: &[u8]| run_bpf(&advert_filter(srcip, vhid), frame) > 0;
        let me = IpAddr::from([10, 9, 0, 2]);
        assert!(keep(me, 7, &golden));
        assert!(!keep(IpAddr::from([10, 9, 0, 1]), 7, &golden), "own source");
        assert!(!keep(me, 8, &golden), "other vhid");
        let mut udp = golden.clone();
        udp[23] = 17;
        assert!(!keep(me, 7, &udp));
        let mut arp = golden.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(!keep(me, 7, &arp));
        // With 4 bytes of IP options the vhid is read 4 bytes further on.
        let mut opts = golden[..34].to_vec();
        opts.extend_from_slice(&[1, 1, 1, 0]);
        opts.extend_from_slice(&golden[34..]);
        opts[14] = 0x46;
        assert!(keep(me, 7, &opts));
        assert!(!keep(me, 7, &golden[..20]), "runt");
        let garp = crate::testutil::hex(crate::testutil::GOLDEN_GARP_FRAME);
        assert!(!keep(me, 7, &garp));
    }

    #[test]
    fn preflight_filter_keeps_every_vhid_but_not_ours_or_other_protocols() {
        let golden = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        let keep = |srcip: [u8; 4], frame: &[u8]| run_bpf(&carp_filter(srcip.into()), frame) > 0;
        assert!(keep([10, 9, 0, 2], &golden));
        assert!(!keep([10, 9, 0, 1], &golden), "own source");
        let mut other_vhid = golden.clone();
        other_vhid[35] = 99;
        assert!(keep([10, 9, 0, 2], &other_vhid));
        let mut udp = golden.clone();
        udp[23] = 17;
        assert!(!keep([10, 9, 0, 2], &udp));
    }

    #[test]
    fn filter_jumps_stay_inside_the_program() {
        let v4 = IpAddr::from([192, 0, 2, 1]);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        for prog in [
            advert_filter(v4, 7),
            advert_filter(v6, 7),
            carp_filter(v4),
            carp_filter(v6),
            witness_filter(&[v4, IpAddr::from([192, 0, 2, 9])]),
            witness_filter(&[v6, "2001:db8::9".parse().unwrap()]),
        ] {
            for (i, ins) in prog.iter().enumerate() {
                if ins.code == bpf::JEQ_K {
                    assert!(i + 1 + usize::from(ins.jt) < prog.len());
                    assert!(i + 1 + usize::from(ins.jf) < prog.len());
                }
            }
            assert_eq!(prog.last().unwrap().code, bpf::RET_K);
            assert_eq!(prog[prog.len() - 2].k, 0, "the drop");
        }
    }

    #[test]
    fn witness_filter_keeps_only_their_answers() {
        use crate::arp::ArpProbe;
        use crate::ndp::{NeighborSolicit, UnsolicitedNa};
        let w1 = std::net::Ipv4Addr::new(198, 18, 0, 1);
        let w2 = std::net::Ipv4Addr::new(198, 18, 0, 2);
        let prog = witness_filter(&[w1.into(), w2.into()]);
        let reply = |from: std::net::Ipv4Addr| {
            let mut f = vec![0u8; 42];
            ArpProbe {
                mac: pnet_base::MacAddr(2, 0, 0, 0, 0, 1),
                sender: from,
                target: std::net::Ipv4Addr::new(198, 18, 0, 11),
            }
            .emit(&mut f);
            f[21] = 2; // operation: reply
            f
        };
        assert!(run_bpf(&prog, &reply(w1)) > 0);
        assert!(run_bpf(&prog, &reply(w2)) > 0);
        assert_eq!(run_bpf(&prog, &reply([198, 18, 0, 3].into())), 0);
        let mut request = reply(w1);
        request[21] = 1;
        assert_eq!(run_bpf(&prog, &request), 0, "a request");
        let golden = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        assert_eq!(run_bpf(&prog, &golden), 0);
        assert_eq!(run_bpf(&prog, &reply(w1)[..20]), 0, "runt");

        let a: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
        let b: std::net::Ipv6Addr = "2001:db8::2".parse().unwrap();
        let prog6 = witness_filter(&[a.into(), b.into()]);
        let na = |target| {
            let mut f = vec![0u8; UnsolicitedNa::LEN];
            UnsolicitedNa {
                mac: pnet_base::MacAddr(2, 0, 0, 0, 0, 1),
                vaddr: target,
            }
            .emit(&mut f);
            f
        };
        assert!(run_bpf(&prog6, &na(a)) > 0);
        assert!(run_bpf(&prog6, &na(b)) > 0);
        for other in ["2001:db8::3", "2001:db8::1:1", "2001:db9::1"] {
            assert_eq!(run_bpf(&prog6, &na(other.parse().unwrap())), 0, "{other}");
        }
        let mut ns = vec![0u8; NeighborSolicit::LEN];
        NeighborSolicit {
            mac: pnet_base::MacAddr(2, 0, 0, 0, 0, 1),
            src: "2001:db8::11".parse().unwrap(),
            target: a,
        }
        .emit(&mut ns);
        assert_eq!(run_bpf(&prog6, &ns), 0, "a solicitation");
        assert_eq!(run_bpf(&prog, &na(a)), 0);
        assert_eq!(run_bpf(&prog6, &reply(w1)), 0);
    }

    /// An IPv6 advert frame for vhid 7 from 2001:db8::1.
    fn advert6(src: &str) -> Vec<u8> {
        let mut buf = vec![0u8; crate::frame::ADVERT6_FRAME_LEN];
        crate::frame::Advert6Frame {
            dst_mac: crate::frame::multicast_mac6(crate::packet::CARP_MCAST_V6),
            src_mac: crate::frame::advert_source_mac(7),
            src: src.parse().unwrap(),
            dst: crate::packet::CARP_MCAST_V6,
            advert: crate::testutil::golden_advert(),
        }
        .emit(&mut buf);
        buf
    }

    #[test]
    fn ipv6_filter_keeps_only_peer_adverts_for_our_vhid() {
        let me: IpAddr = "2001:db8::2".parse().unwrap();
        let keep = |srcip, vhid, frame: &[u8]| run_bpf(&advert_filter(srcip, vhid), frame) > 0;
        let frame = advert6("2001:db8::1");
        assert!(keep(me, 7, &frame));
        assert!(!keep(me, 8, &frame), "other vhid");
        assert!(
            !keep("2001:db8::1".parse().unwrap(), 7, &frame),
            "own source"
        );
        // Sources that share three of our four words are not ours.
        for other in [
            "2001:db8::2:2",
            "2001:db8:0:1::2",
            "2001:db9::2",
            "3001:db8::2",
        ] {
            assert!(keep(me, 7, &advert6(other)), "{other}");
            assert!(run_bpf(&carp_filter(me), &advert6(other)) > 0, "{other}");
        }
        assert!(run_bpf(&carp_filter(me), &advert6("2001:db8::2")) == 0);
        let mut hop_by_hop = frame.clone();
        hop_by_hop[20] = 0;
        assert!(!keep(me, 7, &hop_by_hop));
        assert!(run_bpf(&carp_filter(me), &hop_by_hop) == 0);
        // An IPv4 node's filter drops IPv6 frames and the reverse.
        let golden = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        assert!(!keep(me, 7, &golden));
        assert!(!keep(IpAddr::from([10, 9, 0, 2]), 7, &frame));
        assert!(run_bpf(&carp_filter(me), &golden) == 0);
    }
}
