//! IPv6 across the two nodes: neighbour discovery answered by the vRouter,
//! echo to the gateway, routed echo VM ↔ pod through flows and ACLs.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv6Addr};

use common::*;
use weft_types::MacAddr;
use weft_vrouter::{Command, DropReason, VROUTER_MAC, VrfId};
use weft_wire::{
    EtherType, EthernetFrame, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Packet, Ipv6Repr,
};

fn addr(text: &str) -> Ipv6Addr {
    text.parse().unwrap()
}

fn icmpv6_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hops: u8,
    message: &Icmpv6Repr<'_>,
) -> Vec<u8> {
    let header = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::ICMPV6,
        payload_len: message.buffer_len(),
        hop_limit: hops,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut ip = vec![0u8; header.buffer_len()];
    header
        .emit(&mut Ipv6Packet::new_unchecked(&mut ip[..]))
        .unwrap();
    message
        .emit(&mut Icmpv6Packet::new_unchecked(&mut ip[40..]), src, dst)
        .unwrap();
    frame(src_mac, dst_mac, EtherType::IPV6, &ip)
}

fn parse(frame: &[u8]) -> (MacAddr, Ipv6Repr, Icmpv6Repr<'_>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv6Packet::new_checked(eth.payload()).unwrap();
    let header = Ipv6Repr::parse(&ip).unwrap();
    let message = Icmpv6Repr::parse(
        &Icmpv6Packet::new_checked(ip.payload()).unwrap(),
        header.src_addr,
        header.dst_addr,
    )
    .unwrap();
    (eth.dst_addr(), header, message)
}

fn dual_stack() -> World {
    let mut w = World::new(all_encaps());
    let mut vm = vm_config();
    vm.addrs.push(IpAddr::V6(addr("fd00::3")));
    let mut pod = pod_config();
    pod.addrs.push(IpAddr::V6(addr("fd00::4")));
    apply(
        &mut w.a,
        vec![
            Command::AddVif(vm),
            route(VrfId(1), "fd00::1/128", 1, vec![]),
            route(VrfId(1), "fd00::3/128", 2, vec![VM_SG]),
            route(VrfId(1), "fd00::4/128", 3, vec![POD_SG]),
        ],
    );
    apply(
        &mut w.b,
        vec![
            Command::AddVif(pod),
            route(VrfId(2), "fd00::1/128", 1, vec![]),
            route(VrfId(2), "fd00::4/128", 2, vec![POD_SG]),
            route(VrfId(2), "fd00::3/128", 3, vec![VM_SG]),
        ],
    );
    w
}

fn echo(src_mac: MacAddr, src: &str, dst: &str, ident: u16, reply: bool) -> Vec<u8> {
    let message = if reply {
        Icmpv6Repr::EchoReply {
            ident,
            seq_no: 1,
            data: b"weft",
        }
    } else {
        Icmpv6Repr::EchoRequest {
            ident,
            seq_no: 1,
            data: b"weft",
        }
    };
    icmpv6_frame(src_mac, VROUTER_MAC, addr(src), addr(dst), 64, &message)
}

#[test]
fn neighbour_discovery_is_proxied() {
    let mut w = dual_stack();
    let solicit = Icmpv6Repr::NeighborSolicit {
        target_addr: addr("fd00::1"),
        lladdr: Some(VM_MAC),
    };
    let frame = icmpv6_frame(
        VM_MAC,
        MacAddr([0x33, 0x33, 0xff, 0, 0, 1]),
        addr("fe80::f816:3eff:fe00:3"),
        addr("ff02::1:ff00:1"),
        255,
        &solicit,
    );
    let d = w.send(Node::A, VM_VIF, &frame);
    let (dst_mac, header, advert) = parse(d.to(Node::A, VM_VIF)[0]);
    assert_eq!(dst_mac, VM_MAC);
    assert_eq!(header.src_addr, addr("fd00::1"));
    assert!(matches!(
        advert,
        Icmpv6Repr::NeighborAdvert {
            lladdr: Some(VROUTER_MAC),
            ..
        }
    ));
}

#[test]
fn echo_to_gateway_and_across_nodes() {
    let mut w = dual_stack();
    let d = w.send(
        Node::A,
        VM_VIF,
        &echo(VM_MAC, "fd00::3", "fd00::1", 1, false),
    );
    let (_, header, reply) = parse(d.to(Node::A, VM_VIF)[0]);
    assert_eq!(header.src_addr, addr("fd00::1"));
    assert!(matches!(reply, Icmpv6Repr::EchoReply { ident: 1, .. }));

    // VM → pod and back.
    let d = w.send(
        Node::A,
        VM_VIF,
        &echo(VM_MAC, "fd00::3", "fd00::4", 2, false),
    );
    let (dst_mac, header, _) = parse(d.to(Node::B, POD_VIF)[0]);
    assert_eq!((dst_mac, header.hop_limit), (POD_MAC, 63));
    let d = w.send(
        Node::B,
        POD_VIF,
        &echo(POD_MAC, "fd00::4", "fd00::3", 2, true),
    );
    assert_eq!(d.to(Node::A, VM_VIF).len(), 1);

    // pod → VM: the default group admits members only (and has no IPv6
    // ingress rule at all).
    let d = w.send(
        Node::B,
        POD_VIF,
        &echo(POD_MAC, "fd00::4", "fd00::3", 3, false),
    );
    assert!(d.frames.is_empty());
    assert_eq!(w.a.drop_stats().get(DropReason::FlowDenied), 1);
}
