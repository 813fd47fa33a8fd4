//! What the engine reads from an IP packet (addresses, protocol, ports,
//! TTL), and the frames it writes, through `weft-wire`'s views.

use std::net::IpAddr;

use weft_types::MacAddr;
use weft_wire::consts::icmpv4 as icmp4;
use weft_wire::consts::icmpv6 as icmp6;
use weft_wire::ethernet::{self, EthernetFrame};
use weft_wire::{
    EtherType, EthernetRepr, Icmpv4Packet, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr,
    TcpPacket, UdpPacket, WireError,
};

use crate::stats::DropReason;

/// The flow-relevant fields of an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpInfo {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// TTL or hop limit.
    pub ttl: u8,
}

impl From<WireError> for DropReason {
    fn from(error: WireError) -> Self {
        match error {
            WireError::Unsupported | WireError::Fragment => DropReason::Unsupported,
            _ => DropReason::Malformed,
        }
    }
}

/// Parses an IPv4 or IPv6 packet (by its version nibble) and returns its
/// fields and the packet trimmed to its own length (link padding removed).
/// Fragments carry no ports: they are keyed with ports 0.
pub(crate) fn parse_ip(bytes: &[u8]) -> Result<(IpInfo, &[u8]), DropReason> {
    match bytes.first().map(|b| b >> 4) {
        Some(4) => parse_ipv4(bytes),
        Some(6) => parse_ipv6(bytes),
        _ => Err(DropReason::Malformed),
    }
}

fn parse_ipv4(bytes: &[u8]) -> Result<(IpInfo, &[u8]), DropReason> {
    let packet = Ipv4Packet::new_checked(bytes)?;
    let repr = Ipv4Repr::parse(&packet)?;
    let trimmed = bytes
        .get(..usize::from(packet.total_len()))
        .ok_or(DropReason::Malformed)?;
    let packet = Ipv4Packet::new_unchecked(trimmed);
    let (src_port, dst_port) = if repr.is_fragment() {
        (0, 0)
    } else {
        ports(repr.protocol, packet.payload())?
    };
    let info = IpInfo {
        src: repr.src_addr.into(),
        dst: repr.dst_addr.into(),
        protocol: repr.protocol.0,
        src_port,
        dst_port,
        ttl: repr.ttl,
    };
    Ok((info, trimmed))
}

fn parse_ipv6(bytes: &[u8]) -> Result<(IpInfo, &[u8]), DropReason> {
    let packet = Ipv6Packet::new_checked(bytes)?;
    let repr = Ipv6Repr::parse(&packet)?;
    let len = weft_wire::ipv6::HEADER_LEN
        .checked_add(repr.payload_len)
        .ok_or(DropReason::Malformed)?;
    let trimmed = bytes.get(..len).ok_or(DropReason::Malformed)?;
    let packet = Ipv6Packet::new_unchecked(trimmed);
    let upper = packet.upper_layer()?;
    let (src_port, dst_port) = match upper.fragment {
        Some(_) => (0, 0),
        None => {
            let l4 = packet
                .payload()
                .get(upper.offset..)
                .ok_or(DropReason::Malformed)?;
            ports(upper.protocol, l4)?
        }
    };
    let info = IpInfo {
        src: repr.src_addr.into(),
        dst: repr.dst_addr.into(),
        protocol: upper.protocol.0,
        src_port,
        dst_port,
        ttl: repr.hop_limit,
    };
    Ok((info, trimmed))
}

/// Ports of TCP and UDP; the echo identifier (as both ports) of ICMP and
/// ICMPv6 echo; zero otherwise.
fn ports(protocol: IpProtocol, l4: &[u8]) -> Result<(u16, u16), DropReason> {
    match protocol {
        IpProtocol::TCP => {
            let tcp = TcpPacket::new_checked(l4)?;
            Ok((tcp.src_port(), tcp.dst_port()))
        }
        IpProtocol::UDP => {
            let udp = UdpPacket::new_checked(l4)?;
            Ok((udp.src_port(), udp.dst_port()))
        }
        IpProtocol::ICMP | IpProtocol::ICMPV6 => {
            let icmp = Icmpv4Packet::new_checked(l4)?;
            let echo = matches!(
                icmp.msg_type(),
                icmp4::ECHO_REQUEST | icmp4::ECHO_REPLY | icmp6::ECHO_REQUEST | icmp6::ECHO_REPLY
            );
            let ident = if echo { icmp.echo_ident() } else { 0 };
            Ok((ident, ident))
        }
        _ => Ok((0, 0)),
    }
}

/// Decrements the TTL (IPv4, checksum patched) or hop limit (IPv6) of a
/// packet in place. Returns false, leaving the packet alone, if it would
/// reach zero.
pub(crate) fn decrement_ttl(packet: &mut [u8]) -> bool {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let mut view = Ipv4Packet::new_unchecked(packet);
            if view.ttl() <= 1 {
                return false;
            }
            view.decrement_ttl();
            true
        }
        Some(6) => {
            let mut view = Ipv6Packet::new_unchecked(packet);
            let hops = view.hop_limit();
            if hops <= 1 {
                return false;
            }
            view.set_hop_limit(hops.saturating_sub(1));
            true
        }
        _ => false,
    }
}

/// The ethertype of an IP packet, by version.
pub(crate) fn ethertype_of(ip: &[u8]) -> EtherType {
    if ip.first().map(|b| b >> 4) == Some(6) {
        EtherType::IPV6
    } else {
        EtherType::IPV4
    }
}

/// An untagged Ethernet frame around `payload`.
pub(crate) fn ethernet_frame(
    src: MacAddr,
    dst: MacAddr,
    ethertype: EtherType,
    payload: &[u8],
) -> Result<Vec<u8>, DropReason> {
    let mut frame = vec![0u8; ethernet::HEADER_LEN];
    let repr = EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype,
        vlan: None,
    };
    repr.emit(&mut EthernetFrame::new_unchecked(&mut frame[..]))
        .map_err(|_| DropReason::EmitFailed)?;
    frame.extend_from_slice(payload);
    Ok(frame)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// scapy: IP(src="192.168.1.4", dst="192.168.1.3", id=0x1c46,
    /// flags="DF", ttl=64)/ICMP(type=8, id=0x0b2a, seq=1)/b"weft"
    const PING: [u8; 32] = [
        0x45, 0x00, 0x00, 0x20, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x9b, 0x3f, 0xc0, 0xa8, 0x01,
        0x04, 0xc0, 0xa8, 0x01, 0x03, 0x08, 0x00, 0x0e, 0xfb, 0x0b, 0x2a, 0x00, 0x01, 0x77, 0x65,
        0x66, 0x74,
    ];

    #[test]
    fn reads_echo_identifier_as_ports_and_trims_padding() {
        let mut padded = PING.to_vec();
        padded.extend_from_slice(&[0; 14]);
        let (info, trimmed) = parse_ip(&padded).unwrap();
        assert_eq!(trimmed.len(), 32);
        assert_eq!(info.protocol, 1);
        assert_eq!((info.src_port, info.dst_port), (0x0b2a, 0x0b2a));
        assert_eq!(info.ttl, 64);
    }

    #[test]
    fn ttl_decrement_keeps_checksum_valid() {
        let mut packet = PING;
        assert!(decrement_ttl(&mut packet));
        let view = Ipv4Packet::new_checked(&packet[..]).unwrap();
        assert_eq!(view.ttl(), 63);
        assert!(view.verify_checksum());
        packet[8] = 1;
        assert!(!decrement_ttl(&mut packet));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_ip(&[]), Err(DropReason::Malformed));
        assert_eq!(parse_ip(&[0x45, 0, 0]), Err(DropReason::Malformed));
        let mut bad = PING;
        bad[10] ^= 1;
        assert_eq!(parse_ip(&bad), Err(DropReason::Malformed));
    }
}
