//! ICMP the vRouter originates: echo replies from the gateway and service
//! addresses, and time-exceeded when a routed packet's TTL runs out.

use std::net::Ipv4Addr;

use weft_types::MacAddr;
use weft_wire::{EtherType, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr};

use crate::packet::ethernet_frame;
use crate::stats::DropReason;

const TTL: u8 = 64;

/// The frame answering an IPv4 echo request addressed to the vRouter, or
/// `ReceiveUnhandled` if the packet is anything else.
pub(crate) fn echo_reply(
    ip: &[u8],
    vrouter_mac: MacAddr,
    dst_mac: MacAddr,
) -> Result<Vec<u8>, DropReason> {
    let packet = Ipv4Packet::new_checked(ip)?;
    let header = Ipv4Repr::parse(&packet)?;
    if header.protocol != IpProtocol::ICMP || header.is_fragment() {
        return Err(DropReason::ReceiveUnhandled);
    }
    let icmp = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(packet.payload())?)?;
    let reply = icmp.echo_reply().ok_or(DropReason::ReceiveUnhandled)?;
    ip_frame(
        header.dst_addr,
        header.src_addr,
        &reply,
        vrouter_mac,
        dst_mac,
    )
}

/// The frame telling the sender of `original` (a whole IPv4 packet) that
/// its TTL expired at the gateway `from`.
pub(crate) fn time_exceeded(
    original: &[u8],
    from: Ipv4Addr,
    vrouter_mac: MacAddr,
    dst_mac: MacAddr,
) -> Result<Vec<u8>, DropReason> {
    let header = Ipv4Repr::parse(&Ipv4Packet::new_checked(original)?)?;
    let message = Icmpv4Repr::time_exceeded(original)?;
    ip_frame(from, header.src_addr, &message, vrouter_mac, dst_mac)
}

fn ip_frame(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    message: &Icmpv4Repr<'_>,
    vrouter_mac: MacAddr,
    dst_mac: MacAddr,
) -> Result<Vec<u8>, DropReason> {
    let header = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::ICMP,
        payload_len: message.buffer_len(),
        ttl: TTL,
        dscp_ecn: 0,
        ident: 0,
        dont_fragment: false,
        more_fragments: false,
        fragment_offset: 0,
    };
    let mut ip = vec![0u8; header.buffer_len()];
    header
        .emit(&mut Ipv4Packet::new_unchecked(&mut ip[..]))
        .map_err(|_| DropReason::EmitFailed)?;
    let body = ip
        .get_mut(header.header_len()..)
        .ok_or(DropReason::EmitFailed)?;
    message
        .emit(&mut Icmpv4Packet::new_unchecked(body))
        .map_err(|_| DropReason::EmitFailed)?;
    ethernet_frame(vrouter_mac, dst_mac, EtherType::IPV4, &ip)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use weft_wire::EthernetFrame;

    const VROUTER: MacAddr = MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, 0x00]);
    const VM: MacAddr = MacAddr([0xfa, 0x16, 0x3e, 0, 0, 3]);

    /// scapy: IP(src="192.168.1.4", dst="192.168.1.3", id=0x1c46,
    /// flags="DF", ttl=64)/ICMP(type=8, id=0x0b2a, seq=1)/b"weft"
    const PING: [u8; 32] = [
        0x45, 0x00, 0x00, 0x20, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x9b, 0x3f, 0xc0, 0xa8, 0x01,
        0x04, 0xc0, 0xa8, 0x01, 0x03, 0x08, 0x00, 0x0e, 0xfb, 0x0b, 0x2a, 0x00, 0x01, 0x77, 0x65,
        0x66, 0x74,
    ];

    #[test]
    fn echo_reply_swaps_addresses_and_keeps_ident_seq_data() {
        let frame = echo_reply(&PING, VROUTER, VM).unwrap();
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!((eth.src_addr(), eth.dst_addr()), (VROUTER, VM));
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        let header = Ipv4Repr::parse(&ip).unwrap();
        assert_eq!(header.src_addr, Ipv4Addr::new(192, 168, 1, 3));
        assert_eq!(header.dst_addr, Ipv4Addr::new(192, 168, 1, 4));
        let icmp = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(ip.payload()).unwrap()).unwrap();
        assert_eq!(
            icmp,
            Icmpv4Repr::EchoReply {
                ident: 0x0b2a,
                seq_no: 1,
                data: b"weft"
            }
        );
    }

    #[test]
    fn only_echo_requests_are_answered() {
        let reply = echo_reply(&PING, VROUTER, VM).unwrap();
        let eth = EthernetFrame::new_checked(&reply[..]).unwrap();
        assert_eq!(
            echo_reply(eth.payload(), VROUTER, VM),
            Err(DropReason::ReceiveUnhandled)
        );
    }

    #[test]
    fn time_exceeded_quotes_the_original() {
        let frame = time_exceeded(&PING, Ipv4Addr::new(192, 168, 1, 1), VROUTER, VM).unwrap();
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert_eq!(ip.dst_addr(), Ipv4Addr::new(192, 168, 1, 4));
        let icmp = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(ip.payload()).unwrap()).unwrap();
        assert!(matches!(icmp, Icmpv4Repr::TimeExceeded { code: 0, .. }));
    }
}
