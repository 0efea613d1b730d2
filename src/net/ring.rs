//! The packet socket's receive ring, for floods only (docs/PROTOCOL.md §4.1.2): a
//! TPACKET_V3 ring shared with the kernel, which hands a block of frames over when it
//! is full or 1 ms after its first frame. However a flood is shaped, the daemon then
//! wakes at most once a millisecond and reads the frames from memory, with no system
//! call per batch. A quiet daemon has no ring: the kernel re-arms a ring's block timer
//! every millisecond for as long as it exists, traffic or not, which is no cost to
//! put on an idle router.
//!
//! Hand-written because it is small and the crates that read TPACKET_V3 rings come
//! with a capture library or an async runtime. It owns the mapping and the walk over
//! blocks; it never decides when to have a ring (the daemon's loop does) and never
//! judges a frame.

#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{fence, Ordering};

use super::{setsockopt, PacketSocket};

/// Bytes per block: four pages, room for about eighty 128-byte frames with headers.
const BLOCK_SIZE: usize = 16384;
/// Blocks in the ring: 128 KiB, some 640 frames, two milliseconds of 300 000 frames/s.
const BLOCKS: usize = 8;
/// The nominal frame size the kernel wants to know (TPACKET_V3 packs frames of any
/// length into a block; this only has to divide the block).
const FRAME_SIZE: usize = 256;
/// How long the kernel keeps a block open after its first frame.
const BLOCK_TIMEOUT_MS: u32 = 1;

// Offsets in a block descriptor (`struct tpacket_block_desc`, whose header is
// `struct tpacket_hdr_v1`) and a frame header (`struct tpacket3_hdr`): linux/if_packet.h.
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
const PKT_NEXT_OFFSET: usize = 0;
const PKT_SNAPLEN: usize = 12;
const PKT_MAC: usize = 24;

/// A TPACKET_V3 receive ring mapped from a packet socket.
#[derive(Debug)]
pub struct RxRing {
    base: *mut u8,
    /// The block to read next.
    next: usize,
}

impl RxRing {
    /// Gives `socket` a ring and maps it. From now on the socket's frames go to the
    /// ring: the caller reads what was queued before with `recv_batch`, then
    /// [`RxRing::read`] whenever the socket polls readable.
    ///
    /// # Errors
    /// The errno of setsockopt(2) (`EBUSY` if the socket has a ring already) or mmap(2).
    pub fn attach(socket: &PacketSocket) -> io::Result<RxRing> {
        let fd = socket.as_fd().as_raw_fd();
        setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &(libc::tpacket_versions::TPACKET_V3 as libc::c_int),
        )?;
        // SAFETY: tpacket_req3 is plain data; all-zero is valid.
        let mut req: libc::tpacket_req3 = unsafe { zeroed() };
        req.tp_block_size = BLOCK_SIZE as u32;
        req.tp_block_nr = BLOCKS as u32;
        req.tp_frame_size = FRAME_SIZE as u32;
        req.tp_frame_nr = (BLOCKS * BLOCK_SIZE / FRAME_SIZE) as u32;
        req.tp_retire_blk_tov = BLOCK_TIMEOUT_MS;
        setsockopt(fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;
        // SAFETY: maps the ring the kernel just allocated for this socket, shared and
        // readable and writable (the block status word is handed back by writing it).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                BLOCKS * BLOCK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            let _ = remove_ring(socket);
            return Err(e);
        }
        Ok(RxRing {
            base: base.cast(),
            next: 0,
        })
    }

    /// Unmaps the ring and takes it from `socket`, which goes back to queueing
    /// frames for `recv_batch`. Frames in the block the kernel has not handed over
    /// yet (at most a millisecond's) are lost.
    ///
    /// # Errors
    /// The errno of setsockopt(2).
    pub fn detach(self, socket: &PacketSocket) -> io::Result<()> {
        drop(self);
        remove_ring(socket)
    }

    /// Calls `f` on every frame of every block the kernel has handed over, in order,
    /// and hands each block back. Returns how many frames there were.
    pub fn read(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let mut count = 0;
        loop {
            // SAFETY: `next` < BLOCKS, so the block lies inside the mapping.
            let block = unsafe { self.base.add(self.next * BLOCK_SIZE) };
            if self.word(block, BLOCK_STATUS) & libc::TP_STATUS_USER == 0 {
                return count;
            }
            // The frames were written before the status that says so.
            fence(Ordering::Acquire);
            let frames = self.word(block, BLOCK_NUM_PKTS) as usize;
            let mut at = self.word(block, BLOCK_FIRST_PKT) as usize;
            for _ in 0..frames {
                // The kernel's offsets are trusted only as far as the block goes.
                if at + PKT_MAC + 2 > BLOCK_SIZE {
                    break;
                }
                let mac = usize::from(self.half(block, at + PKT_MAC));
                let len = self.word(block, at + PKT_SNAPLEN) as usize;
                if at + mac + len > BLOCK_SIZE {
                    break;
                }
                // SAFETY: the range was checked to lie inside this block, which is the
                // reader's until its status is handed back below.
                let frame = unsafe { std::slice::from_raw_parts(block.add(at + mac), len) };
                f(frame);
                count += 1;
                let next = self.word(block, at + PKT_NEXT_OFFSET) as usize;
                if next == 0 {
                    break;
                }
                at += next;
            }
            // Done with the frames before the kernel may write the block again.
            fence(Ordering::Release);
            // SAFETY: the status word is inside the block; a volatile write, since the
            // kernel reads it.
            unsafe {
                std::ptr::write_volatile(
                    block.add(BLOCK_STATUS).cast::<u32>(),
                    libc::TP_STATUS_KERNEL,
                )
            };
            self.next = (self.next + 1) % BLOCKS;
        }
    }

    /// The u32 at `block + at`, read as the kernel may write it.
    fn word(&self, block: *mut u8, at: usize) -> u32 {
        debug_assert!(at + 4 <= BLOCK_SIZE);
        // SAFETY: callers keep `at + 4` within the block; every offset used is a
        // multiple of 4 from a page-aligned block (the kernel aligns frames to 16).
        unsafe { std::ptr::read_volatile(block.add(at).cast::<u32>()) }
    }

    /// The u16 at `block + at`.
    fn half(&self, block: *mut u8, at: usize) -> u16 {
        debug_assert!(at + 2 <= BLOCK_SIZE);
        // SAFETY: as for `word`, 2-byte aligned.
        unsafe { std::ptr::read_volatile(block.add(at).cast::<u16>()) }
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `attach`, once.
        unsafe { libc::munmap(self.base.cast(), BLOCKS * BLOCK_SIZE) };
    }
}

/// Takes the ring from `socket` (a request for no blocks frees it).
fn remove_ring(socket: &PacketSocket) -> io::Result<()> {
    // SAFETY: tpacket_req3 is plain data; all-zero asks for no ring.
    let none: libc::tpacket_req3 = unsafe { zeroed() };
    debug_assert_eq!(size_of::<libc::tpacket_req3>(), 28);
    setsockopt(
        socket.as_fd().as_raw_fd(),
        libc::SOL_PACKET,
        libc::PACKET_RX_RING,
        &none,
    )
}
