//! ARP proxy: the vRouter answers every request for an address its VRF
//! routes (the gateway included) with its own MAC, so workloads send all
//! routed traffic to it (TF's distributed anycast gateway). Gratuitous
//! ARPs and probes are ignored and poison nothing: the engine learns no
//! binding from ARP at all.

use std::net::Ipv4Addr;

use weft_types::MacAddr;
use weft_wire::{ArpOperation, ArpPacket, ArpRepr, EtherType};

use crate::packet::ethernet_frame;
use crate::stats::DropReason;

/// The parsed request and the answer to send, or why there is none.
///
/// `sender_allowed` is the vif's anti-spoofing check for the sender's MAC
/// and address; `routed` says whether the VRF has a route for the target.
pub(crate) fn answer(
    body: &[u8],
    vrouter_mac: MacAddr,
    sender_allowed: impl Fn(MacAddr, Ipv4Addr) -> bool,
    routed: impl Fn(Ipv4Addr) -> bool,
) -> Result<Vec<u8>, DropReason> {
    let request = ArpRepr::parse(&ArpPacket::new_checked(body)?)?;
    if request.operation != ArpOperation::Request {
        return Err(DropReason::Unsupported);
    }
    if request.is_gratuitous() || request.source_protocol_addr.is_unspecified() {
        return Err(DropReason::GratuitousArp);
    }
    if !sender_allowed(request.source_hardware_addr, request.source_protocol_addr) {
        return Err(DropReason::SpoofedSource);
    }
    if !routed(request.target_protocol_addr) {
        return Err(DropReason::ArpNoRoute);
    }
    let reply = request
        .proxy_reply(vrouter_mac)
        .ok_or(DropReason::Unsupported)?;
    let mut body = vec![0u8; reply.buffer_len()];
    reply
        .emit(&mut ArpPacket::new_unchecked(&mut body[..]))
        .map_err(|_| DropReason::EmitFailed)?;
    ethernet_frame(
        vrouter_mac,
        request.source_hardware_addr,
        EtherType::ARP,
        &body,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use weft_wire::EthernetFrame;

    const VROUTER: MacAddr = MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, 0x00]);
    const VM: MacAddr = MacAddr([0xfa, 0x16, 0x3e, 0, 0, 3]);

    fn request(sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        let repr = ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: VM,
            source_protocol_addr: Ipv4Addr::from(sender),
            target_hardware_addr: MacAddr::ZERO,
            target_protocol_addr: Ipv4Addr::from(target),
        };
        let mut body = vec![0u8; 28];
        repr.emit(&mut ArpPacket::new_unchecked(&mut body[..]))
            .unwrap();
        body
    }

    fn in_subnet(addr: Ipv4Addr) -> bool {
        addr.octets()[..3] == [192, 168, 1]
    }

    #[test]
    fn answers_with_vrouter_mac_for_routed_targets() {
        let frame = answer(
            &request([192, 168, 1, 3], [192, 168, 1, 1]),
            VROUTER,
            |_, _| true,
            in_subnet,
        )
        .unwrap();
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!(eth.dst_addr(), VM);
        assert_eq!(eth.src_addr(), VROUTER);
        assert_eq!(eth.ethertype(), EtherType::ARP);
        let reply = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
        assert_eq!(reply.operation, ArpOperation::Reply);
        assert_eq!(reply.source_hardware_addr, VROUTER);
        assert_eq!(reply.source_protocol_addr, Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(reply.target_protocol_addr, Ipv4Addr::new(192, 168, 1, 3));
    }

    #[test]
    fn ignores_gratuitous_probes_spoofers_and_unrouted() {
        let ok = |_, _| true;
        let garp = request([192, 168, 1, 3], [192, 168, 1, 3]);
        assert_eq!(
            answer(&garp, VROUTER, ok, in_subnet),
            Err(DropReason::GratuitousArp)
        );
        let probe = request([0, 0, 0, 0], [192, 168, 1, 3]);
        assert_eq!(
            answer(&probe, VROUTER, ok, in_subnet),
            Err(DropReason::GratuitousArp)
        );
        let spoof = request([192, 168, 1, 9], [192, 168, 1, 1]);
        assert_eq!(
            answer(
                &spoof,
                VROUTER,
                |_, a| a == Ipv4Addr::new(192, 168, 1, 3),
                in_subnet
            ),
            Err(DropReason::SpoofedSource)
        );
        let outside = request([192, 168, 1, 3], [10, 0, 0, 1]);
        assert_eq!(
            answer(&outside, VROUTER, ok, in_subnet),
            Err(DropReason::ArpNoRoute)
        );
        assert_eq!(
            answer(&[1, 2], VROUTER, ok, in_subnet),
            Err(DropReason::Malformed)
        );
    }
}
