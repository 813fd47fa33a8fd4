//! Underlay sockets opened inside a namespace: UDP for MPLSoUDP (6635) and
//! VXLAN (4789), and a raw IPv4 socket for GRE (IP protocol 47).
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::netns::{Netns, NetnsError};
use crate::packet::socklen_of;
use crate::sys::{cvt, cvt_size};

/// UDP destination port of MPLS-in-UDP (RFC 7510).
pub const MPLS_UDP_PORT: u16 = 6635;
/// UDP destination port of VXLAN (RFC 7348).
pub const VXLAN_PORT: u16 = 4789;
/// IP protocol number of GRE.
pub const IPPROTO_GRE: u8 = 47;

/// Errors of underlay sockets; each names the namespace and the address.
#[derive(Debug, thiserror::Error)]
pub enum UnderlayError {
    /// A system call failed.
    #[error("netns {ns:?}: {what} on {addr}: {op}: {source}")]
    Io {
        /// The namespace.
        ns: String,
        /// Which socket (`udp`, `gre`).
        what: &'static str,
        /// The local address.
        addr: String,
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

/// A non-blocking UDP socket bound to `local` inside `ns`
/// (e.g. `10.99.0.1:6635`).
pub fn udp_socket(ns: &Netns, local: SocketAddr) -> Result<UdpSocket, UnderlayError> {
    let err = |op| {
        move |source| UnderlayError::Io {
            ns: ns.name().to_owned(),
            what: "udp",
            addr: local.to_string(),
            op,
            source,
        }
    };
    let socket = ns.run(|| UdpSocket::bind(local))?.map_err(err("bind"))?;
    socket
        .set_nonblocking(true)
        .map_err(err("set non-blocking"))?;
    Ok(socket)
}

/// `UDP_SEGMENT` (linux/udp.h): send one buffer as datagrams of a size.
const UDP_SEGMENT: libc::c_int = 103;
/// `UDP_GRO` (linux/udp.h): receive runs of datagrams as one buffer.
const UDP_GRO: libc::c_int = 104;

/// Asks the kernel to coalesce consecutive datagrams of one sender into a
/// single read ([`recv_gro`] tells their size). Fewer reads, same datagrams.
pub fn enable_udp_gro(socket: &impl AsRawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: `one` is a readable c_int and its size is passed; the caller's
    // fd is open for the call.
    cvt(unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            UDP_GRO,
            (&raw const one).cast(),
            socklen_of::<libc::c_int>(),
        )
    })
    .map(|_| ())
}

/// Space for one `int` control message.
const CMSG_SPACE_INT: usize = 32;

/// Receives into `buf` on a socket with [`enable_udp_gro`]: returns the
/// length, the IPv4 sender and the size of each datagram when several were
/// coalesced (the last may be shorter). `WouldBlock` when none is queued.
pub fn recv_gro(
    socket: &impl AsRawFd,
    buf: &mut [u8],
) -> io::Result<(usize, Ipv4Addr, Option<u16>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_in = unsafe { mem::zeroed() };
    let mut control = [0u64; CMSG_SPACE_INT / 8];
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&raw mut addr).cast();
    msg.msg_namelen = socklen_of::<libc::sockaddr_in>();
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = CMSG_SPACE_INT;
    // SAFETY: every pointer in `msg` refers to live, writable memory of the
    // stated size for the duration of the call; the fd is open.
    let n = cvt_size(unsafe { libc::recvmsg(socket.as_raw_fd(), &raw mut msg, 0) })?;
    let mut segment = None;
    // SAFETY: the kernel filled `msg_control`/`msg_controllen`; the CMSG
    // macros walk only within that buffer.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_UDP && (*cmsg).cmsg_type == UDP_GRO {
                let value = libc::CMSG_DATA(cmsg).cast::<libc::c_int>().read_unaligned();
                segment = u16::try_from(value).ok();
            }
            cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
        }
    }
    let src = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
    Ok((n, src, segment.filter(|&s| usize::from(s) < n)))
}

/// Sends `buf` to `dst` as datagrams of `segment` bytes each (the last may
/// be shorter) with one system call (`UDP_SEGMENT`). The kernel allows at
/// most 64 datagrams and 64 KiB per call.
pub fn send_gso(
    socket: &impl AsRawFd,
    dst: SocketAddrV4,
    buf: &[u8],
    segment: u16,
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    let addr = sockaddr_in_port(*dst.ip(), dst.port());
    let mut control = [0u64; CMSG_SPACE_INT / 8];
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&raw const addr).cast_mut().cast();
    msg.msg_namelen = socklen_of::<libc::sockaddr_in>();
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(socklen_of::<u16>()) } as usize;
    msg.msg_controllen = space;
    // SAFETY: `control` holds `space` bytes (checked by the assertion in the
    // tests: CMSG_SPACE(2) <= 32), so the first header and its data fit;
    // the kernel only reads from `msg` and `buf`.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        (*cmsg).cmsg_level = libc::SOL_UDP;
        (*cmsg).cmsg_type = UDP_SEGMENT;
        (*cmsg).cmsg_len = libc::CMSG_LEN(socklen_of::<u16>()) as usize;
        libc::CMSG_DATA(cmsg).cast::<u16>().write_unaligned(segment);
        cvt_size(libc::sendmsg(socket.as_raw_fd(), &raw const msg, 0))
    }
}

/// A non-blocking raw IPv4 socket for IP protocol 47 (GRE).
///
/// Sending gives the kernel the GRE header and payload; the kernel adds the
/// outer IPv4 header. Receiving strips the IPv4 header the kernel delivers.
#[derive(Debug)]
pub struct GreSocket {
    fd: OwnedFd,
    local: Ipv4Addr,
}

impl GreSocket {
    /// Opens the socket inside `ns`, bound to `local` (receives GRE sent to
    /// it, sends with it as the source address).
    pub fn bind(ns: &Netns, local: Ipv4Addr) -> Result<GreSocket, UnderlayError> {
        let fd = ns
            .run(|| open_gre(local))?
            .map_err(|(op, source)| UnderlayError::Io {
                ns: ns.name().to_owned(),
                what: "gre",
                addr: local.to_string(),
                op,
                source,
            })?;
        Ok(GreSocket { fd, local })
    }

    /// The bound local address.
    pub fn local_addr(&self) -> Ipv4Addr {
        self.local
    }

    /// Sends `payload` (GRE header + inner packet) to `dst`.
    pub fn send_to(&self, payload: &[u8], dst: Ipv4Addr) -> io::Result<usize> {
        let addr = sockaddr_in(dst);
        // SAFETY: `payload` is valid for reads of its length and `addr` is an
        // initialised sockaddr_in whose size is passed; the fd is open.
        cvt_size(unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                payload.as_ptr().cast(),
                payload.len(),
                0,
                (&raw const addr).cast(),
                socklen_of::<libc::sockaddr_in>(),
            )
        })
    }

    /// Receives one GRE packet: its payload (after the outer IPv4 header)
    /// is moved to the front of `buf`; returns its length and the source.
    /// `WouldBlock` when none is queued.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Ipv4Addr)> {
        // SAFETY: `buf` is valid for writes of its length; the fd is open.
        let n = cvt_size(unsafe {
            libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0)
        })?;
        strip_ipv4_header(buf, n)
    }
}

impl AsFd for GreSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for GreSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Moves the payload of the IPv4 packet in `buf[..n]` to the front of `buf`;
/// returns its length and the source address.
fn strip_ipv4_header(buf: &mut [u8], n: usize) -> io::Result<(usize, Ipv4Addr)> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let n = n.min(buf.len());
    let first = *buf[..n].first().ok_or_else(|| bad("empty packet"))?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 || n < ihl {
        return Err(bad("not an IPv4 packet"));
    }
    let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
    buf.copy_within(ihl..n, 0);
    Ok((n - ihl, src))
}

fn sockaddr_in(ip: Ipv4Addr) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_in = unsafe { mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from(ip).to_be();
    addr
}

fn sockaddr_in_port(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    let mut addr = sockaddr_in(ip);
    addr.sin_port = port.to_be();
    addr
}

fn open_gre(local: Ipv4Addr) -> Result<OwnedFd, (&'static str, io::Error)> {
    // SAFETY: plain socket(2) call with constant arguments.
    let raw = cvt(unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::c_int::from(IPPROTO_GRE),
        )
    })
    .map_err(|e| ("socket(AF_INET, SOCK_RAW, 47)", e))?;
    // SAFETY: `raw` is a fresh, valid fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let addr = sockaddr_in(local);
    // SAFETY: `addr` is an initialised sockaddr_in and its size is passed.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            socklen_of::<libc::sockaddr_in>(),
        )
    })
    .map_err(|e| ("bind", e))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipv4_header_is_stripped_with_its_options() {
        // IHL 6 (one option word), source 10.99.0.1, payload "gre!".
        let mut buf = [0u8; 32];
        buf[0] = 0x46;
        buf[9] = IPPROTO_GRE;
        buf[12..16].copy_from_slice(&[10, 99, 0, 1]);
        buf[24..28].copy_from_slice(b"gre!");
        let (n, src) = strip_ipv4_header(&mut buf, 28).expect("valid packet");
        assert_eq!(
            (&buf[..n], src),
            (&b"gre!"[..], Ipv4Addr::new(10, 99, 0, 1))
        );
    }

    #[test]
    fn short_or_non_ipv4_packets_are_refused() {
        assert!(strip_ipv4_header(&mut [], 0).is_err());
        assert!(strip_ipv4_header(&mut [0x45; 10], 10).is_err());
        assert!(strip_ipv4_header(&mut [0x65; 40], 40).is_err());
        assert!(strip_ipv4_header(&mut [0x44; 40], 40).is_err());
    }

    #[test]
    fn the_control_buffer_holds_one_int() {
        // SAFETY: CMSG_SPACE is a pure size computation.
        let int = unsafe { libc::CMSG_SPACE(socklen_of::<libc::c_int>()) } as usize;
        assert!(int <= CMSG_SPACE_INT);
    }

    /// One `UDP_SEGMENT` send arrives as separate datagrams, and a
    /// `UDP_GRO` socket reads them back as one run with their size (or one
    /// by one where the kernel does not coalesce on loopback).
    #[test]
    fn segmented_sends_come_back_as_the_same_datagrams() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(dst) = rx.local_addr().unwrap() else {
            panic!("bound to IPv4")
        };
        enable_udp_gro(&rx).unwrap();
        let payload: Vec<u8> = (0..2500u32).map(|i| (i % 253) as u8).collect();
        assert_eq!(send_gso(&tx, dst, &payload, 1000).unwrap(), 2500);
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        let mut buf = vec![0u8; 65536];
        while got.len() < payload.len() {
            let (n, src, segment) = recv_gro(&rx, &mut buf).unwrap();
            assert_eq!(src, Ipv4Addr::LOCALHOST);
            let size = segment.map_or(n, usize::from);
            sizes.extend(buf[..n].chunks(size).map(<[u8]>::len));
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, payload);
        assert_eq!(sizes, vec![1000, 1000, 500]);
    }
}
