//! AF_PACKET sockets bound to one interface: whole Ethernet frames in and out.
//!
//! This is the copying (`recvfrom`/`send`) flavour. A PACKET_MMAP ring can
//! replace the inside later without changing [`PacketSocket`]'s API.
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::FrameIo;
use crate::netns::{Netns, NetnsError};
use crate::sys::{cvt, cvt_size};

/// `sll_pkttype` of a frame this host sent (linux/if_packet.h).
const PACKET_OUTGOING: u8 = 4;
/// Socket option: do not deliver outgoing frames at all (Linux ≥ 4.20).
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
/// Socket option: a virtio-net header before every frame (linux/if_packet.h).
const PACKET_VNET_HDR: libc::c_int = 15;

/// Errors of packet socket handling; each names the namespace and interface.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    /// A system call failed.
    #[error("netns {ns:?}: packet socket on {dev}: {op}: {source}")]
    Io {
        /// The namespace.
        ns: String,
        /// The interface (name or `ifindex N`).
        dev: String,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Entering the namespace failed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
}

/// A non-blocking `AF_PACKET`/`SOCK_RAW` socket bound to one interface for
/// every protocol (`ETH_P_ALL`). Frames this host sends out of the interface
/// are not received.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl PacketSocket {
    /// Opens a packet socket inside `ns` bound to the interface `ifindex`.
    pub fn bind(ns: &Netns, ifindex: u32) -> Result<PacketSocket, PacketError> {
        let dev = format!("ifindex {ifindex}");
        let fd = ns
            .run(|| open_bound(ifindex))?
            .map_err(|(op, source)| PacketError::Io {
                ns: ns.name().to_owned(),
                dev,
                op,
                source,
            })?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// Opens a packet socket inside `ns` bound to the interface named `name`.
    pub fn bind_name(ns: &Netns, name: &str) -> Result<PacketSocket, PacketError> {
        let index = ns
            .run(|| nix::net::if_::if_nametoindex(name))?
            .map_err(|e| PacketError::Io {
                ns: ns.name().to_owned(),
                dev: name.to_owned(),
                op: "find interface",
                source: e.into(),
            })?;
        PacketSocket::bind(ns, index)
    }

    /// The interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Puts a virtio-net header before every frame received and expects
    /// one before every frame sent: the kernel then hands over partial
    /// checksums and unsegmented TCP/UDP super-frames instead of doing that
    /// work itself (see `weft_wire::offload`).
    pub fn enable_vnet_hdr(&self) -> io::Result<()> {
        let one: libc::c_int = 1;
        // SAFETY: `one` is a readable c_int and its size is passed; the fd
        // is owned by `self` and open.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_VNET_HDR,
                (&raw const one).cast(),
                socklen_of::<libc::c_int>(),
            )
        })
        .map(|_| ())
    }

    /// Receives one frame that arrived on the interface (outgoing copies are
    /// skipped); `WouldBlock` when none is queued. A frame longer than `buf`
    /// is truncated.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
            let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
            let mut len = socklen_of::<libc::sockaddr_ll>();
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes, and
            // `addr`/`len` describe a writable sockaddr_ll of that size; the
            // fd is owned by `self` and open.
            let n = cvt_size(unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&raw mut addr).cast(),
                    &mut len,
                )
            })?;
            if addr.sll_pkttype != PACKET_OUTGOING {
                return Ok(n);
            }
        }
    }

    /// Sends one whole Ethernet frame out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        // SAFETY: `frame` is valid for reads of `frame.len()` bytes; the fd
        // is owned by `self` and open.
        cvt_size(unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) })
    }
}

impl FrameIo for PacketSocket {
    fn recv_frame(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf)
    }

    fn send_frame(&self, frame: &[u8]) -> io::Result<usize> {
        self.send(frame)
    }

    fn send_parts(&self, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
        crate::sys::writev(self.fd.as_fd(), parts)
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

pub(crate) fn socklen_of<T>() -> libc::socklen_t {
    // A sockaddr is a few dozen bytes: this never truncates.
    mem::size_of::<T>() as libc::socklen_t
}

/// Opens the socket with protocol 0 (receives nothing) and binds it with
/// `ETH_P_ALL` and the ifindex, so no frame of another interface is queued
/// in between.
fn open_bound(ifindex: u32) -> Result<OwnedFd, (&'static str, io::Error)> {
    let ifindex = libc::c_int::try_from(ifindex).map_err(|_| {
        (
            "bind",
            io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"),
        )
    })?;
    // SAFETY: plain socket(2) call with constant arguments.
    let raw = cvt(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })
    .map_err(|e| ("socket(AF_PACKET)", e))?;
    // SAFETY: `raw` is a fresh, valid fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    // Best effort: older kernels lack the option; `recv` filters anyway.
    // SAFETY: `one` is a readable c_int and its size is passed.
    let _ = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            (&raw const one).cast(),
            socklen_of::<libc::c_int>(),
        )
    };
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as libc::c_ushort;
    addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    addr.sll_ifindex = ifindex;
    // SAFETY: `addr` is an initialised sockaddr_ll and its size is passed.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            socklen_of::<libc::sockaddr_ll>(),
        )
    })
    .map_err(|e| ("bind", e))?;
    Ok(fd)
}
