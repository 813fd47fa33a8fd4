//! Outer headers of the three overlays, over an IPv4 underlay:
//!
//! ```text
//! MPLSoUDP (RFC 7510): | IPv4 | UDP → 6635 | MPLS (S=1) | inner IP packet |
//! MPLSoGRE (RFC 4023): | IPv4 | GRE 0x8847 | MPLS (S=1) | inner IP packet |
//! VXLAN    (RFC 7348): | IPv4 | UDP → 4789 | VXLAN      | inner Ethernet frame |
//! ```
//!
//! [`Encap::emit`] writes the outer headers in front of an inner packet
//! already in place (leave [`Encap::header_len`] bytes of headroom), filling
//! in lengths and checksums. [`decapsulate`] validates the outer headers of
//! a received underlay packet and returns the tunnel key and the inner
//! packet, zero-copy. As in Tungsten Fabric, the stack holds one label,
//! which identifies the destination interface or VRF on the receiving node.
//!
//! The UDP source port carries entropy: callers pass a hash of the inner
//! flow and it lands in 49152–65535 (RFC 7510 §3, RFC 7348 §5), so ECMP in
//! the underlay spreads flows without reordering any one of them.

use std::net::Ipv4Addr;

use weft_types::{MplsLabel, Vni};

use crate::checksum::IpPair;
use crate::consts::{EtherType, IpProtocol, port};
use crate::field;
use crate::gre::{self, GrePacket, GreRepr};
use crate::ipv4::{self, Ipv4Packet, Ipv4Repr};
use crate::mpls::{self, MplsPacket, MplsRepr, MplsStack};
use crate::udp::{self, UdpPacket, UdpRepr};
use crate::vxlan::{self, VxlanPacket, VxlanRepr};
use crate::{Result, WireError};

/// An overlay tunnel and the key the receiver demultiplexes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tunnel {
    MplsOverUdp { label: MplsLabel, src_port: u16 },
    MplsOverGre { label: MplsLabel },
    Vxlan { vni: Vni, src_port: u16 },
}

impl Tunnel {
    /// MPLSoUDP with the source port drawn from `flow_hash`.
    pub fn mpls_over_udp(label: MplsLabel, flow_hash: u32) -> Self {
        Tunnel::MplsOverUdp {
            label,
            src_port: entropy_port(flow_hash),
        }
    }

    /// VXLAN with the source port drawn from `flow_hash`.
    pub fn vxlan(vni: Vni, flow_hash: u32) -> Self {
        Tunnel::Vxlan {
            vni,
            src_port: entropy_port(flow_hash),
        }
    }

    /// Bytes between the outer IPv4 header and the inner packet.
    pub fn header_len(&self) -> usize {
        match self {
            Tunnel::MplsOverUdp { .. } => udp::HEADER_LEN + mpls::ENTRY_LEN,
            Tunnel::MplsOverGre { .. } => gre::HEADER_LEN + mpls::ENTRY_LEN,
            Tunnel::Vxlan { .. } => udp::HEADER_LEN + vxlan::HEADER_LEN,
        }
    }
}

/// A UDP source port in the dynamic range 49152–65535, folded from all 32
/// bits of `flow_hash`.
pub fn entropy_port(flow_hash: u32) -> u16 {
    let folded = (flow_hash ^ (flow_hash >> 16)) & 0x3fff;
    port::EPHEMERAL_FIRST | u16::try_from(folded).unwrap_or(0)
}

/// The outer headers of one tunnelled packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Encap {
    /// This node's underlay address.
    pub src_addr: Ipv4Addr,
    /// The remote node's underlay address.
    pub dst_addr: Ipv4Addr,
    /// Outer IPv4 TTL, also written as the label's TTL.
    pub ttl: u8,
    /// Outer DSCP/ECN, typically copied from the inner packet.
    pub dscp_ecn: u8,
    /// Outer IPv4 identification.
    pub ident: u16,
    /// Whether to compute the UDP checksum. Over IPv4 both RFC 7510 §3 and
    /// RFC 7348 §5 recommend sending zero (the inner packet carries its own
    /// checksums). MPLSoGRE is sent without a GRE checksum whatever this
    /// says, and decapsulation reports `false` for it.
    pub checksum: bool,
    pub tunnel: Tunnel,
}

impl Encap {
    /// Outer IPv4 header plus the tunnel headers: the headroom `emit` needs.
    pub fn header_len(&self) -> usize {
        ipv4::HEADER_LEN + self.tunnel.header_len()
    }

    /// The whole packet for an inner packet of `inner_len` bytes.
    pub fn buffer_len(&self, inner_len: usize) -> usize {
        self.header_len().saturating_add(inner_len)
    }

    /// Writes the outer headers into `packet[..header_len()]`; the inner
    /// packet must already be in `packet[header_len()..]`, which is all of
    /// the rest of the buffer. Fails with `BufferTooSmall` if there is no
    /// room for the headers and `ValueTooLarge` if the result exceeds 65535
    /// bytes. The outer DF bit is left clear, so the underlay may fragment.
    pub fn emit(&self, packet: &mut [u8]) -> Result<()> {
        field::check_room(packet, self.header_len())?;
        if packet.len() > ipv4::MAX_PACKET_LEN {
            return Err(WireError::ValueTooLarge);
        }
        let payload_len = packet.len().saturating_sub(ipv4::HEADER_LEN);
        let (ip_header, payload) = packet.split_at_mut(ipv4::HEADER_LEN);
        let ips = IpPair::V4 {
            src: self.src_addr,
            dst: self.dst_addr,
        };
        let protocol = match self.tunnel {
            Tunnel::MplsOverUdp { label, src_port } => {
                self.emit_label(field::rest_mut(payload, udp::HEADER_LEN), label)?;
                self.emit_udp(payload, src_port, port::MPLS_UDP, &ips)?;
                IpProtocol::UDP
            }
            Tunnel::Vxlan { vni, src_port } => {
                VxlanRepr { vni: vni.get() }.emit(&mut VxlanPacket::new_unchecked(
                    field::rest_mut(payload, udp::HEADER_LEN),
                ))?;
                self.emit_udp(payload, src_port, port::VXLAN, &ips)?;
                IpProtocol::UDP
            }
            Tunnel::MplsOverGre { label } => {
                self.emit_label(field::rest_mut(payload, gre::HEADER_LEN), label)?;
                GreRepr {
                    protocol: EtherType::MPLS_UNICAST,
                    checksum: false,
                    key: None,
                    sequence: None,
                }
                .emit(&mut GrePacket::new_unchecked(&mut *payload))?;
                IpProtocol::GRE
            }
        };
        Ipv4Repr {
            src_addr: self.src_addr,
            dst_addr: self.dst_addr,
            protocol,
            payload_len,
            ttl: self.ttl,
            dscp_ecn: self.dscp_ecn,
            ident: self.ident,
            dont_fragment: false,
            more_fragments: false,
            fragment_offset: 0,
        }
        .emit_header(ip_header)
    }

    fn emit_label(&self, buf: &mut [u8], label: MplsLabel) -> Result<()> {
        MplsRepr {
            label: label.get(),
            traffic_class: 0,
            bottom_of_stack: true,
            ttl: self.ttl,
        }
        .emit(&mut MplsPacket::new_unchecked(buf))
    }

    fn emit_udp(
        &self,
        datagram: &mut [u8],
        src_port: u16,
        dst_port: u16,
        ips: &IpPair,
    ) -> Result<()> {
        let repr = UdpRepr {
            src_port,
            dst_port,
            payload_len: datagram.len().saturating_sub(udp::HEADER_LEN),
        };
        let len = u16::try_from(repr.buffer_len()).map_err(|_| WireError::ValueTooLarge)?;
        let mut packet = UdpPacket::new_unchecked(datagram);
        if self.checksum {
            return repr.emit(&mut packet, ips);
        }
        // Zero checksum: no pass over the inner packet.
        packet.set_src_port(src_port);
        packet.set_dst_port(dst_port);
        packet.set_len(len);
        packet.set_checksum(0);
        Ok(())
    }
}

/// A received tunnel packet, taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decapsulated<'a> {
    /// The outer headers, as `Encap::emit` would write them again.
    pub encap: Encap,
    /// The inner IP packet (MPLS tunnels) or Ethernet frame (VXLAN), up to
    /// the outer IPv4 total length.
    pub inner: &'a [u8],
    /// Where `inner` starts in the buffer given to [`decapsulate`].
    pub inner_offset: usize,
}

/// Validates the outer headers of an underlay IPv4 packet (the IP header
/// and its checksum, UDP or GRE and their checksums, the label stack or the
/// VXLAN header) and finds the inner packet.
///
/// Errors name the drop reason: `Fragment` for an outer fragment (no
/// reassembly here), `Unsupported` for another protocol or UDP port, a GRE
/// payload other than MPLS, a label stack deeper than one, a reserved label
/// (0–15) or VNI 0; the views' own errors otherwise.
pub fn decapsulate(packet: &[u8]) -> Result<Decapsulated<'_>> {
    let ip = Ipv4Packet::new_checked(packet)?;
    let outer = Ipv4Repr::parse(&ip)?;
    if outer.is_fragment() {
        return Err(WireError::Fragment);
    }
    let payload = ip.payload();
    let ips = outer.ip_pair();
    // `tunnel_len` counts the bytes between the IPv4 header and `inner`.
    let (tunnel, checksum, tunnel_len, inner) = match outer.protocol {
        IpProtocol::UDP => {
            let datagram = UdpPacket::new_checked(payload)?;
            let udp = UdpRepr::parse(&datagram, &ips)?;
            let checksum = datagram.checksum() != 0;
            match udp.dst_port {
                port::MPLS_UDP => {
                    let (label, inner) = single_label(datagram.payload())?;
                    let tunnel = Tunnel::MplsOverUdp {
                        label,
                        src_port: udp.src_port,
                    };
                    (tunnel, checksum, udp::HEADER_LEN + mpls::ENTRY_LEN, inner)
                }
                port::VXLAN => {
                    let header = VxlanPacket::new_checked(datagram.payload())?;
                    let vxlan = VxlanRepr::parse(&header)?;
                    let vni = Vni::new(vxlan.vni).map_err(|_| WireError::Unsupported)?;
                    let tunnel = Tunnel::Vxlan {
                        vni,
                        src_port: udp.src_port,
                    };
                    let len = udp::HEADER_LEN + vxlan::HEADER_LEN;
                    (tunnel, checksum, len, header.payload())
                }
                _ => return Err(WireError::Unsupported),
            }
        }
        IpProtocol::GRE => {
            let gre_packet = GrePacket::new_checked(payload)?;
            let gre = GreRepr::parse(&gre_packet)?;
            if gre.protocol != EtherType::MPLS_UNICAST {
                return Err(WireError::Unsupported);
            }
            let (label, inner) = single_label(gre_packet.payload())?;
            let len = gre_packet.header_len() + mpls::ENTRY_LEN;
            (Tunnel::MplsOverGre { label }, false, len, inner)
        }
        _ => return Err(WireError::Unsupported),
    };
    let inner_offset = ip.header_len() + tunnel_len;
    Ok(Decapsulated {
        encap: Encap {
            src_addr: outer.src_addr,
            dst_addr: outer.dst_addr,
            ttl: outer.ttl,
            dscp_ecn: outer.dscp_ecn,
            ident: outer.ident,
            checksum,
            tunnel,
        },
        inner,
        inner_offset,
    })
}

/// The one label of a TF-style stack, and what follows it.
fn single_label(stack: &[u8]) -> Result<(MplsLabel, &[u8])> {
    let mut entries = MplsStack::new(stack);
    let first = entries.next().ok_or(WireError::Truncated)??;
    if !first.bottom_of_stack {
        return Err(WireError::Unsupported);
    }
    let label = MplsLabel::new(first.label).map_err(|_| WireError::Unsupported)?;
    Ok((label, entries.remainder()))
}

#[cfg(test)]
mod tests;
