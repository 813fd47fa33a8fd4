//! ICMPv6 the vRouter answers itself: neighbour solicitations for any
//! address its VRF routes (the IPv6 twin of the ARP proxy: every answer
//! is the vRouter MAC, with the router flag) and echo requests to its
//! gateway/service addresses. Duplicate address detection probes (from
//! `::`) get no answer and teach nothing.

use std::net::Ipv6Addr;

use weft_types::MacAddr;
use weft_wire::{EtherType, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Packet, Ipv6Repr};

use crate::packet::ethernet_frame;
use crate::stats::DropReason;

/// RFC 4861 §7.1: NDP messages travel with hop limit 255.
const NDP_HOP_LIMIT: u8 = 255;
const ECHO_HOP_LIMIT: u8 = 64;

/// A parsed ICMPv6 message with its IPv6 addresses.
fn parse(ip: &[u8]) -> Result<(Ipv6Repr, Icmpv6Repr<'_>), DropReason> {
    let packet = Ipv6Packet::new_checked(ip)?;
    let header = Ipv6Repr::parse(&packet)?;
    if header.next_header != IpProtocol::ICMPV6 {
        return Err(DropReason::Unsupported);
    }
    let body = Icmpv6Packet::new_checked(packet.payload())?;
    let message = Icmpv6Repr::parse(&body, header.src_addr, header.dst_addr)?;
    Ok((header, message))
}

/// Whether `ip` is a neighbour solicitation (a cheap peek before parsing).
pub(crate) fn is_neighbor_solicit(ip: &[u8]) -> bool {
    let packet = Ipv6Packet::new_unchecked(ip);
    packet.next_header() == IpProtocol::ICMPV6
        && packet.payload().first() == Some(&weft_wire::consts::icmpv6::NEIGHBOR_SOLICIT)
}

/// The advertisement answering a neighbour solicitation for a routed
/// target, from the vRouter MAC to `dst_mac`.
pub(crate) fn answer_solicit(
    ip: &[u8],
    vrouter_mac: MacAddr,
    dst_mac: MacAddr,
    routed: impl Fn(Ipv6Addr) -> bool,
) -> Result<Vec<u8>, DropReason> {
    let (header, message) = parse(ip)?;
    if header.hop_limit != NDP_HOP_LIMIT {
        return Err(DropReason::Malformed);
    }
    let Icmpv6Repr::NeighborSolicit { target_addr, .. } = message else {
        return Err(DropReason::Unsupported);
    };
    if header.src_addr.is_unspecified() {
        return Err(DropReason::GratuitousArp);
    }
    if !routed(target_addr) {
        return Err(DropReason::ArpNoRoute);
    }
    let advert = message
        .proxy_advert(vrouter_mac, true)
        .ok_or(DropReason::Unsupported)?;
    frame(
        target_addr,
        header.src_addr,
        NDP_HOP_LIMIT,
        &advert,
        vrouter_mac,
        dst_mac,
    )
}

/// The echo reply to an ICMPv6 echo request addressed to the vRouter.
pub(crate) fn echo_reply(
    ip: &[u8],
    vrouter_mac: MacAddr,
    dst_mac: MacAddr,
) -> Result<Vec<u8>, DropReason> {
    let (header, message) = parse(ip).map_err(|_| DropReason::ReceiveUnhandled)?;
    let reply = message.echo_reply().ok_or(DropReason::ReceiveUnhandled)?;
    frame(
        header.dst_addr,
        header.src_addr,
        ECHO_HOP_LIMIT,
        &reply,
        vrouter_mac,
        dst_mac,
    )
}

fn frame(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    message: &Icmpv6Repr<'_>,
    vrouter_mac: MacAddr,
    dst_mac: MacAddr,
) -> Result<Vec<u8>, DropReason> {
    let header = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::ICMPV6,
        payload_len: message.buffer_len(),
        hop_limit,
        traffic_class: 0,
        flow_label: 0,
    };
    let failed = |_| DropReason::EmitFailed;
    let mut ip = vec![0u8; header.buffer_len()];
    header
        .emit(&mut Ipv6Packet::new_unchecked(&mut ip[..]))
        .map_err(failed)?;
    let body = ip
        .get_mut(header.header_len()..)
        .ok_or(DropReason::EmitFailed)?;
    message
        .emit(&mut Icmpv6Packet::new_unchecked(body), src, dst)
        .map_err(failed)?;
    ethernet_frame(vrouter_mac, dst_mac, EtherType::IPV6, &ip)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use weft_wire::{EthernetFrame, NeighborFlags};

    const VROUTER: MacAddr = MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, 0x00]);
    const VM: MacAddr = MacAddr([0xfa, 0x16, 0x3e, 0, 0, 3]);

    pub(crate) fn icmpv6_packet(
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hops: u8,
        message: &Icmpv6Repr<'_>,
    ) -> Vec<u8> {
        let frame = frame(src, dst, hops, message, VM, VROUTER).unwrap();
        frame[14..].to_vec()
    }

    fn solicit(src: &str, target: &str) -> Vec<u8> {
        let src: Ipv6Addr = src.parse().unwrap();
        icmpv6_packet(
            src,
            "ff02::1:ff00:1".parse().unwrap(),
            255,
            &Icmpv6Repr::NeighborSolicit {
                target_addr: target.parse().unwrap(),
                // RFC 4861 §7.1.1: a DAD probe carries no source address option.
                lladdr: (!src.is_unspecified()).then_some(VM),
            },
        )
    }

    fn in_vn(addr: Ipv6Addr) -> bool {
        addr.segments()[0] == 0xfd00
    }

    #[test]
    fn solicitation_for_routed_target_gets_router_advert() {
        let ns = solicit("fe80::f816:3eff:fe00:3", "fd00::1");
        assert!(is_neighbor_solicit(&ns));
        let frame = answer_solicit(&ns, VROUTER, VM, in_vn).unwrap();
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!((eth.src_addr(), eth.dst_addr()), (VROUTER, VM));
        let (header, advert) = parse(eth.payload()).unwrap();
        assert_eq!(header.hop_limit, 255);
        assert_eq!(
            header.dst_addr,
            "fe80::f816:3eff:fe00:3".parse::<Ipv6Addr>().unwrap()
        );
        let Icmpv6Repr::NeighborAdvert {
            flags,
            target_addr,
            lladdr,
        } = advert
        else {
            panic!("{advert:?}");
        };
        assert!(flags.contains(NeighborFlags::ROUTER) && flags.contains(NeighborFlags::SOLICITED));
        assert_eq!(target_addr, "fd00::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(lladdr, Some(VROUTER));
    }

    #[test]
    fn probes_and_unrouted_targets_get_nothing() {
        let dad = solicit("::", "fd00::3");
        assert_eq!(
            answer_solicit(&dad, VROUTER, VM, in_vn),
            Err(DropReason::GratuitousArp)
        );
        let outside = solicit("fe80::1", "2001:db8::1");
        assert_eq!(
            answer_solicit(&outside, VROUTER, VM, in_vn),
            Err(DropReason::ArpNoRoute)
        );
    }

    #[test]
    fn echo_to_gateway_is_answered() {
        let request = icmpv6_packet(
            "fd00::3".parse().unwrap(),
            "fd00::1".parse().unwrap(),
            64,
            &Icmpv6Repr::EchoRequest {
                ident: 5,
                seq_no: 1,
                data: b"weft",
            },
        );
        assert!(!is_neighbor_solicit(&request));
        let frame = echo_reply(&request, VROUTER, VM).unwrap();
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        let (header, reply) = parse(eth.payload()).unwrap();
        assert_eq!(header.src_addr, "fd00::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            reply,
            Icmpv6Repr::EchoReply {
                ident: 5,
                seq_no: 1,
                data: b"weft"
            }
        );
    }
}
