//! Services load-balanced in the vRouter, end to end in memory: the pod on
//! "k8s-worker" connects to a service address; its vRouter sends the
//! connection to a backend (here the VM on "os-compute", across the
//! overlay), and the VM's reply reaches the pod from the service address.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use weft_vrouter::{
    Backend, Command, DropReason, ServiceConfig, ServiceKey, VROUTER_MAC, VrfId, VrouterError,
};
use weft_wire::{
    EtherType, EthernetFrame, IpPair, IpProtocol, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);

/// A UDP datagram frame from `src:sport` to `dst:dport`, sent to the
/// vRouter MAC, with a correct checksum.
fn udp_frame(mac: weft_types::MacAddr, src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16)) -> Vec<u8> {
    let body = b"hello service";
    let udp = UdpRepr {
        src_port: src.1,
        dst_port: dst.1,
        payload_len: body.len(),
    };
    let mut datagram = vec![0u8; udp.buffer_len()];
    datagram[8..].copy_from_slice(body);
    udp.emit(
        &mut UdpPacket::new_unchecked(&mut datagram[..]),
        &IpPair::V4 {
            src: src.0,
            dst: dst.0,
        },
    )
    .unwrap();
    let ip = ipv4_packet(src.0, dst.0, IpProtocol::UDP, 64, &datagram);
    frame(mac, VROUTER_MAC, EtherType::IPV4, &ip)
}

/// (src, dst) of a delivered UDP frame, after checking both checksums.
fn udp_ends(frame: &[u8]) -> ((Ipv4Addr, u16), (Ipv4Addr, u16)) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let repr = Ipv4Repr::parse(&ip).expect("IPv4 header checksum");
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    let ips = IpPair::V4 {
        src: repr.src_addr,
        dst: repr.dst_addr,
    };
    let udp_repr = UdpRepr::parse(&udp, &ips).expect("UDP checksum");
    (
        (repr.src_addr, udp_repr.src_port),
        (repr.dst_addr, udp_repr.dst_port),
    )
}

fn key(vrf: u32) -> ServiceKey {
    ServiceKey {
        vrf: VrfId(vrf),
        vip: IpAddr::V4(VIP),
        protocol: 17,
        port: 53,
    }
}

fn world_with_service(backends: Vec<Backend>) -> World {
    let mut world = World::new(all_encaps());
    // The VM admits the pod (its default group would not).
    apply(
        &mut world.a,
        vec![Command::SetAcl {
            vif: VM_VIF,
            rules: allow_all(),
            stateful: true,
        }],
    );
    apply(
        &mut world.b,
        vec![Command::SetService(ServiceConfig {
            key: key(2),
            backends,
        })],
    );
    world
}

#[test]
fn a_pod_reaches_a_vm_through_a_service_address() {
    let mut world = world_with_service(vec![Backend {
        addr: IpAddr::V4(VM_IP),
        port: 5353,
    }]);
    let sent = world.send(
        Node::B,
        POD_VIF,
        &udp_frame(POD_MAC, (POD_IP, 40000), (VIP, 53)),
    );
    let at_vm = sent.to(Node::A, VM_VIF);
    assert_eq!(at_vm.len(), 1, "{sent:?}");
    // The VM sees the pod's own address, and itself as the destination.
    assert_eq!(udp_ends(at_vm[0]), ((POD_IP, 40000), (VM_IP, 5353)));

    let replied = world.send(
        Node::A,
        VM_VIF,
        &udp_frame(VM_MAC, (VM_IP, 5353), (POD_IP, 40000)),
    );
    let at_pod = replied.to(Node::B, POD_VIF);
    assert_eq!(at_pod.len(), 1, "{replied:?}");
    // The reply comes from the address the pod connected to.
    assert_eq!(udp_ends(at_pod[0]), ((VIP, 53), (POD_IP, 40000)));

    // A reply the VM sends to a connection the pod never made is not
    // rewritten.
    let stray = world.send(
        Node::A,
        VM_VIF,
        &udp_frame(VM_MAC, (VM_IP, 5353), (POD_IP, 40001)),
    );
    let at_pod = stray.to(Node::B, POD_VIF);
    assert_eq!(udp_ends(at_pod[0]).0, (VM_IP, 5353));
}

#[test]
fn connections_spread_over_backends_and_keep_theirs() {
    // Two backends on the VM's address (two ports stand for two pods).
    let backends = vec![
        Backend {
            addr: IpAddr::V4(VM_IP),
            port: 6001,
        },
        Backend {
            addr: IpAddr::V4(VM_IP),
            port: 6002,
        },
    ];
    let mut world = world_with_service(backends);
    let mut used = std::collections::BTreeMap::new();
    for sport in 41000..41040 {
        let first = world.send(
            Node::B,
            POD_VIF,
            &udp_frame(POD_MAC, (POD_IP, sport), (VIP, 53)),
        );
        let second = world.send(
            Node::B,
            POD_VIF,
            &udp_frame(POD_MAC, (POD_IP, sport), (VIP, 53)),
        );
        let to = udp_ends(first.to(Node::A, VM_VIF)[0]).1;
        assert_eq!(to, udp_ends(second.to(Node::A, VM_VIF)[0]).1);
        *used.entry(to.1).or_insert(0) += 1;
    }
    assert_eq!(used.len(), 2, "40 connections use both backends: {used:?}");
    assert_eq!(world.b.service_connections(), 40);
    let (_, backends) = world.b.services().next().unwrap();
    assert_eq!(backends.len(), 2);
    // Idle connections are forgotten with the flows.
    world.b.poll(weft_vrouter::Millis(world.now.0 + 61_000));
    assert_eq!(world.b.service_connections(), 0);
}

#[test]
fn a_service_without_backends_refuses_and_bad_ones_are_named() {
    let mut world = world_with_service(vec![]);
    let sent = world.send(
        Node::B,
        POD_VIF,
        &udp_frame(POD_MAC, (POD_IP, 40000), (VIP, 53)),
    );
    assert!(sent.frames.is_empty());
    assert_eq!(world.b.drop_stats().get(DropReason::NoBackend), 1);

    let err = world
        .b
        .apply(Command::SetService(ServiceConfig {
            key: key(99),
            backends: vec![],
        }))
        .unwrap_err();
    assert_eq!(err, VrouterError::UnknownVrf(VrfId(99)));
    let mut icmp = key(2);
    icmp.protocol = 1;
    let err = world
        .b
        .apply(Command::SetService(ServiceConfig {
            key: icmp,
            backends: vec![],
        }))
        .unwrap_err();
    assert!(err.to_string().contains("only TCP 6 and UDP 17"), "{err}");
    world.b.apply(Command::DeleteService(key(2))).unwrap();
    assert!(world.b.apply(Command::DeleteService(key(2))).is_err());
    // Without the service the address is just unrouted.
    world.send(
        Node::B,
        POD_VIF,
        &udp_frame(POD_MAC, (POD_IP, 40000), (VIP, 53)),
    );
    assert_eq!(world.b.drop_stats().get(DropReason::NoRoute), 1);
}
