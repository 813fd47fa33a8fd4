//! The system layer of weft: the only crate with `unsafe` and FFI (DESIGN.md §3.2).
//!
//! It gives the agent what it needs to attach workloads and talk to the
//! underlay, always *inside a given network namespace*:
//!
//! * [`netns`] — create/delete named namespaces the way `ip netns add` does,
//!   run closures inside one on a dedicated thread, and a long-lived
//!   [`netns::NetnsThread`]. `setns` is per thread, so every socket, tap and
//!   netlink handle of this crate is opened from a thread that entered the
//!   namespace; the fd then stays bound to that namespace.
//! * [`link`] — veth, bridge, up/down, MAC, MTU, addresses, routes over
//!   rtnetlink messages on a synchronous netlink socket.
//! * [`tap`] — tap devices (`IFF_TAP | IFF_NO_PI`) with a non-blocking fd.
//! * [`packet`] — AF_PACKET sockets bound to one interface.
//! * [`underlay`] — UDP sockets for MPLSoUDP/VXLAN and a raw IPv4 socket for GRE.
//!
//! Every fd type implements `AsRawFd` and `AsFd`, and all of them are
//! non-blocking, so the agent can register them with tokio's `AsyncFd`
//! (the `tokio` feature has thin wrappers in [`asyncio`]). This crate holds
//! no policy: it does exactly what it is told.

pub mod link;
pub mod netns;
pub mod packet;
mod sys;
pub mod tap;
pub mod underlay;

#[cfg(feature = "tokio")]
pub mod asyncio;

pub use link::{LinkError, LinkInfo, Netlink};
pub use netns::{Netns, NetnsError, NetnsThread};
pub use packet::{PacketError, PacketSocket};
pub use sys::{default_sigpipe, set_socket_buffers, wait_readable};
pub use tap::{Tap, TapError};
pub use underlay::{
    GreSocket, MPLS_UDP_PORT, UnderlayError, VXLAN_PORT, enable_udp_gro, recv_gro, send_gso,
    udp_socket,
};

/// A non-blocking device that moves whole frames (or datagrams) one at a time.
///
/// Implemented by [`Tap`] and [`PacketSocket`], so callers (and the async
/// wrappers) can treat both kinds of vif alike. Sealed: the async wrappers
/// rely on the implementors owning their fd.
pub trait FrameIo: std::os::fd::AsFd + sealed::Sealed {
    /// Receives one frame into `buf`; `WouldBlock` when none is queued.
    fn recv_frame(&self, buf: &mut [u8]) -> std::io::Result<usize>;
    /// Sends one whole frame; `WouldBlock` when the device queue is full.
    fn send_frame(&self, frame: &[u8]) -> std::io::Result<usize>;
    /// Sends one frame given in parts (a virtio-net header and the frame,
    /// say) with a single system call.
    fn send_parts(&self, parts: &[std::io::IoSlice<'_>]) -> std::io::Result<usize>;
}

mod sealed {
    /// Keeps [`super::FrameIo`] implemented only by this crate's fd owners.
    pub trait Sealed {}
    impl Sealed for crate::Tap {}
    impl Sealed for crate::PacketSocket {}
}
