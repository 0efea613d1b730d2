//! The AF_PACKET socket: bound to the interface, it sends whole Ethernet frames and
//! receives, in batches, what its kernel filter keeps.

#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use pnet_base::MacAddr;

use super::*;

/// An AF_PACKET raw socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

fn link_address(ifindex: i32, protocol: u16) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex;
    sll
}

impl PacketSocket {
    /// Opens the socket, attaches `filter`, then binds to `ifindex` for frames of
    /// Ethernet type `ethertype` (see [`ethertype_of`]).
    ///
    /// The socket is created with protocol 0, which receives nothing, and bound only
    /// after the filter is in place, so no unfiltered frame is ever queued.
    ///
    /// # Errors
    /// Any failing syscall; `EPERM` without CAP_NET_RAW.
    pub fn open(
        ifindex: u32,
        filter: &[libc::sock_filter],
        ethertype: u16,
    ) -> io::Result<PacketSocket> {
        let fd = socket(libc::AF_PACKET, libc::SOCK_RAW, 0).map_err(needing("CAP_NET_RAW"))?;
        let ifindex =
            i32::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
        attach_filter(&fd, filter)?;
        // Older kernels lack it; the filter drops our own frames by source anyway.
        let _ = setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            &1 as &libc::c_int,
        );
        let sll = link_address(ifindex, ethertype);
        // SAFETY: `sll` is a valid sockaddr_ll and the length is its size.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// Replaces the socket's kernel filter.
    ///
    /// # Errors
    /// As for [`PacketSocket::open`]'s filter.
    pub fn set_filter(&self, filter: &[libc::sock_filter]) -> io::Result<()> {
        attach_filter(&self.fd, filter)
    }

    /// Sets the receive buffer to `bytes`, above the system maximum when privileged
    /// (SO_RCVBUFFORCE), else as far as it allows.
    pub fn set_receive_buffer(&self, bytes: usize) {
        let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        let fd = self.fd.as_raw_fd();
        if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &size).is_err() {
            let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &size);
        }
    }

    /// Asks the interface to accept frames for a multicast MAC (no promiscuous mode).
    ///
    /// # Errors
    /// The failing setsockopt's errno.
    pub fn add_multicast_mac(&self, mac: MacAddr) -> io::Result<()> {
        // SAFETY: packet_mreq is plain data; all-zero is valid.
        let mut mreq: libc::packet_mreq = unsafe { zeroed() };
        mreq.mr_ifindex = self.ifindex;
        mreq.mr_type = libc::PACKET_MR_MULTICAST as u16;
        mreq.mr_alen = 6;
        mreq.mr_address[..6].copy_from_slice(&mac.octets());
        setsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            &mreq,
        )
    }

    /// Sends one whole Ethernet frame. The protocol for the kernel is read from the
    /// frame's own Ethernet type. EINTR is retried.
    ///
    /// # Errors
    /// The errno of send(2), or `EMSGSIZE` for a partial write or a runt frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let Some(&[hi, lo]) = frame.get(12..14) else {
            return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
        };
        let sll = link_address(self.ifindex, u16::from_be_bytes([hi, lo]));
        send_whole(&self.fd, frame, &sll)
    }

    /// Receives up to `bufs.len()` frames with one recvmmsg(2), without blocking,
    /// storing each frame's length in `lens`. Returns how many were received (0 when
    /// none was queued). A frame longer than its buffer is cut to its length.
    ///
    /// # Errors
    /// The errno of recvmmsg(2), e.g. `ENETDOWN` once the interface is set down.
    pub fn recv_batch<const N: usize>(
        &self,
        bufs: &mut [[u8; N]],
        lens: &mut [usize],
    ) -> io::Result<usize> {
        let count = bufs.len().min(lens.len()).min(64);
        // SAFETY: iovec and mmsghdr are plain data; all-zero is valid.
        let mut iovs: [libc::iovec; 64] = unsafe { zeroed() };
        let mut msgs: [libc::mmsghdr; 64] = unsafe { zeroed() };
        for i in 0..count {
            iovs[i].iov_base = bufs[i].as_mut_ptr().cast();
            iovs[i].iov_len = N;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        loop {
            // SAFETY: each of the first `count` headers points to one iovec, which
            // points to a live buffer of N bytes; the kernel writes only inside them
            // and into the headers' msg_len.
            let ret = unsafe {
                libc::recvmmsg(
                    self.fd.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    count as libc::c_uint,
                    // c_int in glibc, c_uint in musl.
                    libc::MSG_DONTWAIT as _,
                    std::ptr::null_mut(),
                )
            };
            match usize::try_from(ret) {
                Ok(n) => {
                    for i in 0..n {
                        lens[i] = (msgs[i].msg_len as usize).min(N);
                    }
                    return Ok(n);
                }
                Err(_) => {
                    let e = io::Error::last_os_error();
                    match e.kind() {
                        io::ErrorKind::Interrupted => continue,
                        io::ErrorKind::WouldBlock => return Ok(0),
                        _ => return Err(e),
                    }
                }
            }
        }
    }

    /// Joins the fanout group `id` of CBPF type, or with `None` founds one under an id
    /// the kernel picks (PACKET_FANOUT_FLAG_UNIQUEID, Linux 4.5). From then on the
    /// group's one hook receives for all members and its program
    /// ([`PacketSocket::set_fanout_program`]) picks which member gets each frame;
    /// the member's own filter still applies. Returns the group's id.
    ///
    /// # Errors
    /// The errno of setsockopt(2) or getsockopt(2).
    pub fn join_fanout(&self, id: Option<u16>) -> io::Result<u16> {
        let flags = match id {
            Some(_) => libc::PACKET_FANOUT_CBPF,
            None => libc::PACKET_FANOUT_CBPF | libc::PACKET_FANOUT_FLAG_UNIQUEID,
        };
        let arg = u32::from(id.unwrap_or(0)) | (flags << 16);
        let fd = self.fd.as_raw_fd();
        setsockopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg)?;
        let got: u32 = getsockopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT)?;
        Ok((got & 0xffff) as u16)
    }

    /// Gives this socket's fanout group its selecting program (PACKET_FANOUT_DATA).
    ///
    /// # Errors
    /// `EINVAL` for a program too long, or setsockopt's errno.
    pub fn set_fanout_program(&self, program: &[libc::sock_filter]) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: u16::try_from(program.len())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
            filter: program.as_ptr().cast_mut(),
        };
        setsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_FANOUT_DATA,
            &prog,
        )
    }

    /// How many frames the kernel filter kept since the last call, queued or dropped
    /// for want of room (PACKET_STATISTICS, which the call resets).
    ///
    /// # Errors
    /// The errno of getsockopt(2).
    pub fn kept_since_last(&self) -> io::Result<u64> {
        let stats: libc::tpacket_stats = getsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
        )?;
        // The kernel's tp_packets already includes tp_drops.
        Ok(u64::from(stats.tp_packets))
    }

    /// Reads and clears the socket's pending error (after POLLERR).
    pub fn take_error(&self) -> io::Error {
        match getsockopt::<libc::c_int>(self.fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_ERROR) {
            Ok(err) => io::Error::from_raw_os_error(err),
            Err(e) => e,
        }
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
