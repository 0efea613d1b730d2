//! The classic BPF programs the kernel runs on every frame before it reaches a packet
//! socket: keep CARP adverts of our family for our vhid from other sources that pass
//! the structural receive checks ([`advert_filter`]), or those that fail one given
//! check, to be counted ([`screen_filter`]), and the fanout group's choice of which of
//! these sockets gets a frame ([`screen_selector`]); or every CARP/VRRP frame but ours
//! for `--preflight` ([`carp_filter`]), or the witnesses' answers ([`witness_filter`]);
//! drop the rest in the kernel, so foreign and malformed traffic never wakes the daemon
//! (docs/PROTOCOL.md §4.1.1). Pure: all are built by one small builder whose jumps name
//! their targets (the next check, drop, keep), so nobody counts offsets by hand;
//! [`super::PacketSocket`] attaches them. The tests run each program on real frames
//! with a small BPF interpreter.

use std::net::IpAddr;

use crate::rx::RejectReason;

/// Classic BPF opcodes used by the programs here.
mod bpf {
    pub const LD_H_ABS: u16 = 0x28;
    pub const LD_B_ABS: u16 = 0x30;
    pub const LD_W_ABS: u16 = 0x20;
    pub const LD_B_IND: u16 = 0x50;
    pub const LDX_B_MSH: u16 = 0xb1;
    pub const LD_W_LEN: u16 = 0x80;
    pub const LD_MEM: u16 = 0x60;
    pub const ST: u16 = 0x02;
    pub const ADD_X: u16 = 0x0c;
    pub const SUB_X: u16 = 0x1c;
    pub const AND_K: u16 = 0x54;
    pub const RSH_K: u16 = 0x74;
    pub const TAX: u16 = 0x07;
    pub const TXA: u16 = 0x87;
    pub const JEQ_K: u16 = 0x15;
    pub const JGE_K: u16 = 0x35;
    pub const RET_K: u16 = 0x06;
}

/// The receive checks of docs/PROTOCOL.md §4.3 that the kernel makes too, in their
/// order there: a frame that fails one never wakes the daemon, and a screen socket
/// per check ([`screen_filter`]) lets the kernel count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Step 4: room for the IP header (IHL ≥ 5) and the whole CARP header.
    Size,
    /// Step 5: TTL (hop limit) 255.
    Ttl,
    /// Step 6: CARP version 2.
    Version,
    /// Step 9: the checksum (IPv4 only with a 20-byte header; a header with options
    /// is left to the daemon).
    Checksum,
}

impl Check {
    /// Every check, in order.
    pub const ALL: [Check; 4] = [Check::Size, Check::Ttl, Check::Version, Check::Checksum];

    /// The daemon's reject reason for a frame that fails this check.
    pub fn reason(self) -> RejectReason {
        match self {
            Check::Size => RejectReason::BogusSize,
            Check::Ttl => RejectReason::BadTtl,
            Check::Version => RejectReason::BadVersion,
            Check::Checksum => RejectReason::BadChecksum,
        }
    }
}

/// How much of a kept frame the kernel copies to the daemon: Ethernet, the longest IPv4
/// header (60 bytes) and the CARP header fit with room to spare, and so does a VRRP
/// advert of up to 40 IPv4 or 12 IPv6 addresses (`config::vrrp_address_limit`); the
/// rest is never read.
pub const FRAME_SNAP: usize = 256;

/// Where a comparison goes: on to the next instruction, to one of the program's two
/// returns, or to a place marked with [`Program::place`].
#[derive(Clone, Copy)]
enum To {
    Next,
    Drop,
    Keep,
    Label(usize),
    /// `ret n`: in a fanout selector, the member that gets the frame.
    Return(u32),
}

/// Builds a classic BPF program from loads and comparisons whose targets are named, not
/// counted: [`Program::finish`] appends the two returns (drop, keep the headers) and
/// works out every jump offset, so a check can be added without recounting.
struct Program {
    ins: Vec<(u16, To, To, u32)>,
    labels: Vec<usize>,
    /// Where the IP header starts: 14, after the Ethernet header, in a socket's
    /// filter; 0 in a fanout group's selector, which the kernel runs on the packet
    /// from its network header on.
    l3: u32,
}

impl Default for Program {
    fn default() -> Program {
        Program {
            ins: Vec::new(),
            labels: Vec::new(),
            l3: 14,
        }
    }
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

    /// Jumps to `ge` when the accumulator is at least `k`, else to `lt`.
    fn jump_ge(&mut self, k: u32, ge: To, lt: To) -> &mut Self {
        self.ins.push((bpf::JGE_K, ge, lt, k));
        self
    }

    /// Leaves in the accumulator the one's-complement sum, folded to 16 bits, of
    /// `count` big-endian 16-bit words from offset `from` (RFC 1071): 0xffff when the
    /// checksum they hold verifies. Uses X and scratch word 0.
    fn folded_sum(&mut self, from: u32, count: u32) -> &mut Self {
        self.op(bpf::LD_H_ABS, from);
        for i in 1..count {
            self.op(bpf::TAX, 0)
                .op(bpf::LD_H_ABS, from + 2 * i)
                .op(bpf::ADD_X, 0);
        }
        // At most 30 words sum below 2^21: two folds bring it within 16 bits.
        for _ in 0..2 {
            self.op(bpf::ST, 0)
                .op(bpf::AND_K, 0xffff)
                .op(bpf::TAX, 0)
                .op(bpf::LD_MEM, 0)
                .op(bpf::RSH_K, 16)
                .op(bpf::ADD_X, 0);
        }
        self
    }

    /// One structural check of a frame whose vhid already matched (for IPv4, X holds
    /// the IP header length): on to `pass` or `fail`.
    fn check(&mut self, check: Check, v4: bool, pass: To, fail: To) -> &mut Self {
        let l3 = self.l3;
        // Where the headers are, for each family: IPv4 after a header of X bytes.
        let (ttl_at, carp_min_len) = if v4 {
            (l3 + 8, l3 + 36)
        } else {
            (l3 + 7, l3 + 40 + 36)
        };
        match (check, v4) {
            (Check::Size, true) => self
                .op(bpf::TXA, 0)
                .jump_ge(20, To::Next, fail)
                .op(bpf::LD_W_LEN, 0)
                .op(bpf::SUB_X, 0)
                .jump_ge(carp_min_len, pass, fail),
            (Check::Size, false) => self
                .op(bpf::LD_W_LEN, 0)
                .jump_ge(carp_min_len, To::Next, fail)
                .op(bpf::LD_H_ABS, l3 + 4)
                .jump_ge(36, pass, fail),
            (Check::Ttl, _) => self.op(bpf::LD_B_ABS, ttl_at).jump_eq(255, pass, fail),
            (Check::Version, _) => {
                if v4 {
                    self.op(bpf::LD_B_IND, l3);
                } else {
                    self.op(bpf::LD_B_ABS, l3 + 40);
                }
                self.op(bpf::AND_K, 0xf0).jump_eq(0x20, pass, fail)
            }
            // IPv4: the IP header and the CARP header are summed as one
            // (docs/PROTOCOL.md §4.3 step 9), here only when the header has no options
            // (28 words); else the daemon sums.
            (Check::Checksum, true) => self
                .op(bpf::TXA, 0)
                .jump_eq(20, To::Next, pass)
                .folded_sum(l3, 28)
                .jump_eq(0xffff, pass, fail),
            (Check::Checksum, false) => self.folded_sum(l3 + 40, 18).jump_eq(0xffff, pass, fail),
        }
    }

    /// Drops frames whose vhid byte is not `vhid`; for IPv4 leaves the IP header
    /// length in X. VRRP adverts for a VRID equal to our vhid pass (same byte) and are
    /// judged by the checks, so ucarp's `Bad version` warning for them still shows.
    fn vhid(&mut self, srcip: IpAddr, vhid: u8) -> &mut Self {
        let l3 = self.l3;
        if srcip.is_ipv4() {
            // X = the IPv4 header length, then the byte after it plus one: the vhid.
            self.op(bpf::LDX_B_MSH, l3).op(bpf::LD_B_IND, l3 + 1);
        } else {
            self.op(bpf::LD_B_ABS, l3 + 40 + 1);
        }
        self.jump_eq(u32::from(vhid), To::Next, To::Drop)
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

    /// Keeps only protocol-112 frames of `srcip`'s family (Ethernet type and IP
    /// version): for IPv4 any header length, for IPv6 next header 112 right after the
    /// fixed header.
    fn carp_of_family(&mut self, srcip: IpAddr) -> &mut Self {
        let l3 = self.l3;
        let (ethertype, version, protocol_at) = match srcip {
            IpAddr::V4(_) => (0x0800, 0x40, l3 + 9),
            IpAddr::V6(_) => (0x86dd, 0x60, l3 + 6),
        };
        // Without the Ethernet header the socket's binding has chosen the type.
        if l3 == 14 {
            self.op(bpf::LD_H_ABS, 12)
                .jump_eq(ethertype, To::Next, To::Drop);
        }
        self.op(bpf::LD_B_ABS, l3)
            .op(bpf::AND_K, 0xf0)
            .jump_eq(version, To::Next, To::Drop)
            .op(bpf::LD_B_ABS, protocol_at)
            .jump_eq(112, To::Next, To::Drop)
    }

    /// Drops frames sent from `srcip`; others go to `otherwise`.
    fn not_from(&mut self, srcip: IpAddr, otherwise: To) -> &mut Self {
        let l3 = self.l3;
        match srcip {
            IpAddr::V4(ip) => {
                self.op(bpf::LD_W_ABS, l3 + 12)
                    .jump_eq(u32::from(ip), To::Drop, otherwise)
            }
            // Ours only when all four words match; the first that differs decides.
            IpAddr::V6(ip) => {
                let o = ip.octets();
                for (i, w) in o.chunks_exact(4).enumerate() {
                    let word = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
                    let at = l3 + 8 + 4 * i as u32;
                    let eq = if i == 3 { To::Drop } else { To::Next };
                    self.op(bpf::LD_W_ABS, at).jump_eq(word, eq, otherwise);
                }
                self
            }
        }
    }

    /// Appends drop (`ret 0`), keep (`ret FRAME_SNAP`) and each other return jumped
    /// to, and resolves the jumps.
    fn finish(&mut self) -> Vec<libc::sock_filter> {
        let drop = self.ins.len();
        let mut returns = vec![0, FRAME_SNAP as u32];
        for &(_, jt, jf, _) in &self.ins {
            for to in [jt, jf] {
                if let To::Return(n) = to {
                    if !returns.contains(&n) {
                        returns.push(n);
                    }
                }
            }
        }
        let keep = drop + 1;
        let end = drop + returns.len();
        let mut out = Vec::with_capacity(end);
        for (i, &(code, jt, jf, k)) in self.ins.iter().enumerate() {
            let offset = |to| {
                let at = match to {
                    To::Next => i + 1,
                    To::Drop => drop,
                    To::Keep => keep,
                    To::Label(n) => self.labels[n],
                    To::Return(n) => drop + returns.iter().position(|&r| r == n).unwrap_or(0),
                };
                // Invariant: every label is placed, ahead of its jumps, and the programs
                // built here are short enough for 8-bit jumps (the tests build each).
                assert!(
                    at > i && at < end && at - (i + 1) <= usize::from(u8::MAX),
                    "BPF jump to an unplaced or earlier label, or too far"
                );
                (at - (i + 1)) as u8
            };
            let (jt, jf) = (offset(jt), offset(jf));
            out.push(libc::sock_filter { code, jt, jf, k });
        }
        for k in returns {
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

/// Builds the daemon's kernel filter: keep CARP frames of `srcip`'s family whose
/// source is not `srcip`, whose CARP vhid byte is `vhid`, and that pass every
/// [`Check`]; drop everything else before it is queued. What fails a check is counted
/// by the screens ([`screen_filter`]) instead.
pub fn advert_filter(srcip: IpAddr, vhid: u8) -> Vec<libc::sock_filter> {
    checked(srcip, vhid, None)
}

/// Builds the daemon's kernel filter in VRRP mode (docs/PROTOCOL.md §14.3): keep
/// protocol-112 frames of `srcip`'s family whose source is not `srcip` and whose VRID
/// byte is `vrid`. The daemon makes every other check: VRRP adverts vary in length,
/// and a VRRP group is small and quiet.
pub fn vrrp_filter(srcip: IpAddr, vrid: u8) -> Vec<libc::sock_filter> {
    let mut p = Program::default();
    let vrid_check = p.label();
    p.carp_of_family(srcip).not_from(srcip, vrid_check);
    p.place(vrid_check);
    // The VRID sits where CARP's vhid does, the second byte after the IP header.
    p.vhid(srcip, vrid).jump_eq(0, To::Keep, To::Keep);
    p.finish()
}

/// Builds the filter of the screen socket for `failing`: keep the frames that
/// [`advert_filter`] would have kept up to that check but that fail it, and nothing
/// else. The kernel counts what a screen keeps; the daemon reads the count and a
/// sample frame for the log line now and then, never waking for them.
pub fn screen_filter(srcip: IpAddr, vhid: u8, failing: Check) -> Vec<libc::sock_filter> {
    checked(srcip, vhid, Some(failing))
}

/// Where [`screen_selector`] sends the frames that are not ours (another vhid or
/// protocol, our own): the sink, a socket that keeps nothing and joins the fanout
/// group first.
pub const SELECT_SINK: u32 = 0;
/// Where [`screen_selector`] sends the frames of ours that fail no check: the packet
/// socket, which joins the fanout group after the sink and the four screens.
pub const SELECT_ADVERT: u32 = Check::ALL.len() as u32 + 1;

/// Builds the program of the fanout group that the sink, the screens and the packet
/// socket form (docs/PROTOCOL.md §4.1.1): for each frame, the member that gets it. A
/// frame of ours that fails a [`Check`] goes to that check's screen (1 plus the
/// check's index in [`Check::ALL`], the order in which the screens join), any other
/// frame of ours to the packet socket ([`SELECT_ADVERT`]), the rest to the sink
/// ([`SELECT_SINK`]). The kernel runs it on the packet from the IP header on, without
/// the Ethernet header a socket's filter sees. With it the kernel runs one hook and
/// one program per frame for the group, instead of one per socket, and the screens
/// keep all they are given ([`keep_all`]).
pub fn screen_selector(srcip: IpAddr, vhid: u8) -> Vec<libc::sock_filter> {
    let mut p = Program {
        l3: 0,
        ..Program::default()
    };
    let vhid_check = p.label();
    p.carp_of_family(srcip).not_from(srcip, vhid_check);
    p.place(vhid_check);
    p.vhid(srcip, vhid);
    for (i, check) in Check::ALL.into_iter().enumerate() {
        let pass = if check == Check::Checksum {
            To::Return(SELECT_ADVERT)
        } else {
            To::Next
        };
        p.check(check, srcip.is_ipv4(), pass, To::Return(i as u32 + 1));
    }
    // Everything else jumps to the drop, `ret 0`: the sink.
    p.finish()
}

/// A filter that keeps every frame (cut to [`FRAME_SNAP`]): a screen's, once the
/// fanout group's selector has chosen what it gets.
pub fn keep_all() -> Vec<libc::sock_filter> {
    Program::default().jump_eq(0, To::Keep, To::Keep).finish()
}

/// A filter that keeps nothing: the sink's.
pub fn drop_all() -> Vec<libc::sock_filter> {
    Program::default().finish()
}

/// The advert filter, or a screen when `failing` names a check.
fn checked(srcip: IpAddr, vhid: u8, failing: Option<Check>) -> Vec<libc::sock_filter> {
    let mut p = Program::default();
    let vhid_check = p.label();
    p.carp_of_family(srcip).not_from(srcip, vhid_check);
    p.place(vhid_check);
    let v4 = srcip.is_ipv4();
    p.vhid(srcip, vhid);
    for check in Check::ALL {
        let (pass, fail) = match failing {
            Some(f) if f == check => (To::Drop, To::Keep),
            Some(_) => (To::Next, To::Drop),
            None if check == Check::Checksum => (To::Keep, To::Drop),
            None => (To::Next, To::Drop),
        };
        p.check(check, v4, pass, fail);
        if failing == Some(check) {
            break;
        }
    }
    p.finish()
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

    /// Runs the classic-BPF instructions the programs here use, as the kernel would:
    /// returns the number of bytes kept (0 = dropped). Loads past the end drop.
    fn run_bpf(prog: &[libc::sock_filter], pkt: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let mut mem = [0u32; 16];
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
                bpf::LD_W_LEN => a = pkt.len() as u32,
                bpf::LD_MEM => a = mem[k],
                bpf::ST => mem[k] = a,
                bpf::ADD_X => a = a.wrapping_add(x),
                bpf::SUB_X => a = a.wrapping_sub(x),
                bpf::AND_K => a &= ins.k,
                bpf::RSH_K => a >>= ins.k,
                bpf::TAX => x = a,
                bpf::TXA => a = x,
                bpf::JEQ_K => pc += usize::from(if a == ins.k { ins.jt } else { ins.jf }),
                bpf::JGE_K => pc += usize::from(if a >= ins.k { ins.jt } else { ins.jf }),
                bpf::RET_K => return ins.k,
                other => panic!("opcode {other:#x} not modelled"),
            }
        }
    }

    /// Which program keeps `frame`: the advert filter (`None`), a screen, or nobody.
    fn kept_by(me: IpAddr, frame: &[u8]) -> Vec<Option<Check>> {
        let mut by = Vec::new();
        if run_bpf(&advert_filter(me, 7), frame) > 0 {
            by.push(None);
        }
        for c in Check::ALL {
            if run_bpf(&screen_filter(me, 7, c), frame) > 0 {
                by.push(Some(c));
            }
        }
        by
    }

    /// The daemon's verdict on a frame, as received at node `me` (vhid 7, password
    /// "secret", the golden frames' address).
    fn verdict(me: IpAddr, frame: &[u8]) -> Result<(), RejectReason> {
        let key = crate::auth::Key::new(b"secret").unwrap();
        let group = match me {
            IpAddr::V4(_) => IpAddr::from([224, 0, 0, 18]),
            IpAddr::V6(_) => crate::packet::CARP_MCAST_V6.into(),
        };
        let rx = crate::rx::Receiver {
            srcip: me,
            vhid: 7,
            group,
            peers: Vec::new(),
            signer: key.signer(7, &[IpAddr::from([10, 9, 0, 100])]),
        };
        let frame = &frame[..frame.len().min(FRAME_SNAP)];
        rx.accept(frame).map(drop).map_err(|r| r.reason())
    }

    /// The kernel and the daemon agree on every frame: each is kept by at most one
    /// program; what a screen keeps, the daemon rejects for that screen's reason; what
    /// the advert filter drops without a screen never was the daemon's business (other
    /// vhid, own source, not CARP). The destination is the one check the daemon makes
    /// before the checksum and the kernel does not make at all.
    fn agree(me: IpAddr, frame: &[u8], what: &str) {
        let by = kept_by(me, frame);
        assert!(by.len() <= 1, "{what}: kept by {by:?}");
        let verdict = verdict(me, frame);
        match by.first() {
            // The one difference of order: the daemon checks the destination (step 8)
            // before the checksum, the kernel after.
            Some(Some(Check::Checksum)) if verdict == Err(RejectReason::OtherDestination) => {}
            Some(Some(c)) => assert_eq!(verdict, Err(c.reason()), "{what}"),
            Some(None) => assert!(
                !matches!(
                    verdict,
                    Err(RejectReason::BogusSize | RejectReason::BadTtl | RejectReason::BadVersion)
                ),
                "{what}: kept, but {verdict:?}"
            ),
            None => assert!(
                matches!(
                    verdict,
                    Err(RejectReason::TooShort
                        | RejectReason::OwnSource
                        | RejectReason::NotCarp
                        | RejectReason::OtherVhid)
                ) || frame.get(12..14) != Some(&frame_type(me)[..])
                    || kernel_vhid(me, frame) != Some(7),
                "{what}: dropped unseen, but {verdict:?}"
            ),
        }
    }

    /// The byte the kernel takes for the vhid: after the IPv4 header as its length
    /// field says, whether or not the frame is long enough for that header.
    fn kernel_vhid(me: IpAddr, frame: &[u8]) -> Option<u8> {
        let at = match me {
            IpAddr::V4(_) => 14 + 4 * usize::from(frame.get(14)? & 0xf) + 1,
            IpAddr::V6(_) => 14 + 40 + 1,
        };
        frame.get(at).copied()
    }

    fn frame_type(me: IpAddr) -> [u8; 2] {
        if me.is_ipv4() {
            [0x08, 0x00]
        } else {
            [0x86, 0xdd]
        }
    }

    /// Every byte of the golden frame set to a few values, and every truncation and
    /// extension: the kernel's checks and the daemon's agree.
    #[test]
    fn screens_and_the_advert_filter_split_frames_as_the_daemon_judges_them() {
        let me = IpAddr::from([10, 9, 0, 2]);
        let golden = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        assert_eq!(kept_by(me, &golden), [None]);
        assert_eq!(verdict(me, &golden), Ok(()));
        for at in 0..golden.len() {
            for v in [0u8, 1, 0x20, 0x45, 0x46, 0x55, 0x7f, 0xff, golden[at] ^ 1] {
                let mut f = golden.clone();
                f[at] = v;
                agree(me, &f, &format!("byte {at} = {v:#x}"));
            }
        }
        for len in 0..golden.len() {
            agree(me, &golden[..len], &format!("cut to {len}"));
        }
        let mut long = golden.clone();
        long.resize(1400, 0xee);
        assert_eq!(kept_by(me, &long), [None], "trailing bytes are ignored");
        // IP options: the checksum is left to the daemon.
        let mut opts = golden[..34].to_vec();
        opts.extend_from_slice(&[0x94, 0x04, 0, 0]);
        opts.extend_from_slice(&golden[34..]);
        opts[14] = 0x46;
        assert_eq!(kept_by(me, &opts), [None]);
        assert_eq!(verdict(me, &opts), Err(RejectReason::BadChecksum));
        let mut short_opts = opts.clone();
        short_opts.truncate(60);
        assert_eq!(kept_by(me, &short_opts), [Some(Check::Size)]);

        let me6: IpAddr = "2001:db8::2".parse().unwrap();
        let frame6 = advert6("2001:db8::1");
        assert_eq!(kept_by(me6, &frame6), [None]);
        for at in 0..frame6.len() {
            for v in [0u8, 1, 0x20, 0x7f, 0xff, frame6[at] ^ 1] {
                let mut f = frame6.clone();
                f[at] = v;
                agree(me6, &f, &format!("IPv6 byte {at} = {v:#x}"));
            }
        }
        for len in 0..frame6.len() {
            agree(me6, &frame6[..len], &format!("IPv6 cut to {len}"));
        }
    }

    /// The fanout selector sends each frame where the exact filters would have kept
    /// it: a screen, the packet socket, or (kept by none) the sink.
    #[test]
    fn the_selector_sends_each_frame_where_the_exact_filters_keep_it() {
        let check = |me: IpAddr, frame: &[u8], what: &str| {
            let chosen = run_bpf(&screen_selector(me, 7), frame.get(14..).unwrap_or(&[]));
            let expected = match kept_by(me, frame)[..] {
                [] => SELECT_SINK,
                [None] => SELECT_ADVERT,
                [Some(c)] => Check::ALL.iter().position(|&k| k == c).unwrap() as u32 + 1,
                ref more => panic!("{what}: kept by {more:?}"),
            };
            // Frames of another Ethernet type never reach the group (it is bound to
            // our family's); the selector cannot see the type.
            if frame.get(12..14) == Some(&frame_type(me)[..]) {
                assert_eq!(chosen, expected, "{what}");
            }
        };
        let me = IpAddr::from([10, 9, 0, 2]);
        let golden = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        assert_eq!(
            run_bpf(&screen_selector(me, 7), &golden[14..]),
            SELECT_ADVERT
        );
        for at in 0..golden.len() {
            for v in [0u8, 1, 0x20, 0x46, 0x7f, 0xff, golden[at] ^ 1] {
                let mut f = golden.clone();
                f[at] = v;
                check(me, &f, &format!("byte {at} = {v:#x}"));
            }
        }
        for len in 0..golden.len() {
            check(me, &golden[..len], &format!("cut to {len}"));
        }
        let me6: IpAddr = "2001:db8::2".parse().unwrap();
        let frame6 = advert6("2001:db8::1");
        for at in 0..frame6.len() {
            for v in [0u8, 1, 0x20, 0x7f, 0xff, frame6[at] ^ 1] {
                let mut f = frame6.clone();
                f[at] = v;
                check(me6, &f, &format!("IPv6 byte {at} = {v:#x}"));
            }
        }
        assert!(run_bpf(&keep_all(), &golden) > 0);
        assert_eq!(run_bpf(&drop_all(), &golden), 0);
    }

    #[test]
    fn each_screen_keeps_the_frames_failing_its_check() {
        let me = IpAddr::from([10, 9, 0, 2]);
        let golden = crate::testutil::hex(crate::testutil::GOLDEN_ADVERT_FRAME);
        let mut ttl = golden.clone();
        ttl[22] = 64;
        let mut version = golden.clone();
        version[34] = 0x31;
        let mut sum = golden.clone();
        sum[40] ^= 0x55;
        for (frame, check) in [
            (&golden[..60], Check::Size),
            (&ttl[..], Check::Ttl),
            (&version[..], Check::Version),
            (&sum[..], Check::Checksum),
        ] {
            assert_eq!(kept_by(me, frame), [Some(check)], "{check:?}");
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
        let screens = Check::ALL
            .iter()
            .flat_map(|&c| [screen_filter(v4, 7, c), screen_filter(v6, 7, c)])
            .chain([
                screen_selector(v4, 7),
                screen_selector(v6, 7),
                keep_all(),
                drop_all(),
            ]);
        for prog in [
            advert_filter(v4, 7),
            advert_filter(v6, 7),
            carp_filter(v4),
            carp_filter(v6),
            witness_filter(&[v4, IpAddr::from([192, 0, 2, 9])]),
            witness_filter(&[v6, "2001:db8::9".parse().unwrap()]),
        ]
        .into_iter()
        .chain(screens)
        {
            for (i, ins) in prog.iter().enumerate() {
                if ins.code == bpf::JEQ_K || ins.code == bpf::JGE_K {
                    assert!(i + 1 + usize::from(ins.jt) < prog.len());
                    assert!(i + 1 + usize::from(ins.jf) < prog.len());
                }
            }
            assert_eq!(prog.last().unwrap().code, bpf::RET_K);
            assert!(
                prog.iter().any(|i| i.code == bpf::RET_K && i.k == 0),
                "the drop"
            );
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
