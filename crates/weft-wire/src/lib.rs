//! The wire layer: zero-copy packet views and validated representations for
//! everything weft's userspace vRouter touches.
//!
//! Each protocol has two levels, as smoltcp's `wire` module does:
//!
//! * `XxxPacket<T: AsRef<[u8]>>` (or `EthernetFrame`) is a view over bytes.
//!   `new_checked` checks lengths once; after that, getters, setters
//!   (`T: AsMut<[u8]>`) and `payload()` never panic. Even a view made with
//!   `new_unchecked` over a short buffer cannot panic: missing bytes read as
//!   zero and writes past the end are dropped.
//! * `XxxRepr` is the validated meaning of a packet: `parse` checks
//!   semantics and verifies checksums; `emit` writes it back into a buffer of
//!   at least `buffer_len()` bytes and computes lengths and checksums.
//!
//! Covered:
//!
//! | module | protocol | view | repr |
//! |---|---|---|---|
//! | [`ethernet`] | Ethernet II, one 802.1Q tag read and skipped | [`EthernetFrame`] | [`EthernetRepr`] |
//! | [`arp`] | ARP Ethernet/IPv4 (RFC 826), proxy reply builder | [`ArpPacket`] | [`ArpRepr`] |
//! | [`ipv4`] | IPv4 (RFC 791): header checksum, options skipped, fragments flagged | [`Ipv4Packet`] | [`Ipv4Repr`] |
//! | [`ipv6`] | IPv6 (RFC 8200): fixed header, bounded extension-header walk | [`Ipv6Packet`] | [`Ipv6Repr`] |
//! | [`icmpv4`] | ICMP echo, destination unreachable, time exceeded (RFC 792) | [`Icmpv4Packet`] | [`Icmpv4Repr`] |
//! | [`icmpv6`] | ICMPv6 echo (RFC 4443), neighbour solicitation/advertisement (RFC 4861) | [`Icmpv6Packet`] | [`Icmpv6Repr`] |
//! | [`udp`] | UDP (RFC 768) with IPv4/IPv6 pseudo-header checksum | [`UdpPacket`] | [`UdpRepr`] |
//! | [`tcp`] | TCP (RFC 9293): ports, flags, header length, checksum | [`TcpPacket`] | [`TcpRepr`] |
//! | [`mpls`] | MPLS label stack entry (RFC 3032), bounded stack walk | [`MplsPacket`] | [`MplsRepr`] |
//! | [`gre`] | GRE (RFC 2784, RFC 2890 key and sequence) | [`GrePacket`] | [`GreRepr`] |
//! | [`vxlan`] | VXLAN (RFC 7348) | [`VxlanPacket`] | [`VxlanRepr`] |
//! | [`dhcp`] | DHCPv4 (RFC 2131/2132/3442): options iterator, OFFER/ACK/NAK builders | [`DhcpPacket`] | [`DhcpRepr`] |
//!
//! Around them: [`consts`] holds every ethertype, protocol number, port,
//! message type and option code; [`checksum`] the Internet checksum, the
//! pseudo-headers and incremental update (RFC 1624) for NAT; [`encap`]
//! builds and strips the outer headers of the three overlays (MPLSoUDP,
//! MPLSoGRE, VXLAN over IPv4); [`offload`] reads the virtio-net header
//! of taps and packet sockets, completes partial checksums and cuts TCP/UDP
//! super-frames into segments (GSO). Failures are [`WireError`] values, one per
//! drop reason.
//!
//! This crate does no I/O and must not panic on any input: indexing,
//! `unwrap` and `expect` are denied outside tests, every read goes through
//! total accessors, and the `fuzz/` targets at the repository root drive
//! every decoder.

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod arp;
pub mod checksum;
pub mod consts;
pub mod dhcp;
pub mod encap;
mod error;
pub mod ethernet;
mod field;
pub mod gre;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod mpls;
pub mod offload;
pub mod tcp;
pub mod udp;
pub mod vxlan;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
pub use checksum::IpPair;
pub use consts::{EtherType, IpProtocol};
pub use dhcp::{
    ClasslessRoute, DhcpLease, DhcpMessageType, DhcpOption, DhcpOptions, DhcpPacket, DhcpRepr,
};
pub use encap::{Decapsulated, Encap, Tunnel, decapsulate};
pub use error::{Result, WireError};
pub use ethernet::{EthernetFrame, EthernetRepr, VlanTag};
pub use gre::{GrePacket, GreRepr};
pub use icmpv4::{Icmpv4Packet, Icmpv4Repr};
pub use icmpv6::{Icmpv6Packet, Icmpv6Repr, NeighborFlags};
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6Fragment, Ipv6Packet, Ipv6Repr, Ipv6UpperLayer};
pub use mpls::{MplsPacket, MplsRepr, MplsStack};
pub use offload::{Coalescer, Segmenter, VNET_HDR_LEN, VnetHdr};
pub use tcp::{TcpFlags, TcpPacket, TcpRepr};
pub use udp::{UdpPacket, UdpRepr};
pub use vxlan::{VxlanPacket, VxlanRepr};
