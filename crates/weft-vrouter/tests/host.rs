//! The host vif (TF's vhost0): the node's own kernel reaches its pods
//! whatever their security groups say, and a pod's traffic for the fabric
//! goes to the kernel (which masquerades it) under the pod's own rules.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::Ipv4Addr;

use common::*;
use weft_types::{MacAddr, Vni};
use weft_vrouter::{
    AclRule, Backend, Command, DhcpConfig, Direction, DropReason, Engine, Ethertype, Millis,
    NextHop, NextHopKind, NhId, Output, ServiceConfig, ServiceKey, VROUTER_MAC, VifConfig, VifId,
    VifKind, VrfConfig, VrfId, VrouterError,
};
use weft_wire::{ArpPacket, ArpRepr, EthernetFrame, Icmpv4Repr};

const HOST_VRF: VrfId = VrfId(0);
const POD_VRF: VrfId = VrfId(2);
const HOST_VIF: VifId = VifId(1);
const HOST_MAC: MacAddr = MacAddr([0x02, 0x77, 0, 0, 0, 0x01]);
const NODE: Ipv4Addr = B_UNDERLAY;
const OTHER_HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 12);

fn host_vif() -> VifConfig {
    VifConfig {
        id: HOST_VIF,
        name: "vhost0".into(),
        kind: VifKind::Host,
        mac: HOST_MAC,
        addrs: vec![v4(NODE)],
        vrf: HOST_VRF,
        // Ignored for the host vif: nothing is enforced on it.
        policy: true,
        allowed_address_pairs: vec![],
        sgs: vec![],
        label: None,
        dhcp: None,
    }
}

/// A node with a pod in VRF 5 whose groups hold `acl`, the host vif in
/// VRF 0 with a route to the pod, and in the pod's VRF the node's address
/// (and, with `fabric_snat`, everything else) towards the host vif.
fn node(acl: Vec<AclRule>, fabric_snat: bool) -> Engine {
    let mut engine = Engine::default();
    let mut commands = vec![
        Command::SetUnderlayAddr(NODE),
        Command::AddVrf(VrfConfig {
            id: HOST_VRF,
            vni: None,
            name: "host".into(),
        }),
        Command::AddVrf(VrfConfig {
            id: POD_VRF,
            vni: Some(Vni::new(VNI).unwrap()),
            name: "default-domain:k8s-default:pods".into(),
        }),
        Command::AddVif(host_vif()),
        Command::AddVif(pod_config()),
        Command::SetAcl {
            vif: POD_VIF,
            rules: acl,
            stateful: true,
        },
        Command::AddNextHop(NextHop {
            id: NhId(2),
            kind: NextHopKind::Encap { vif: HOST_VIF },
        }),
        Command::AddNextHop(NextHop {
            id: NhId(3),
            kind: NextHopKind::Encap { vif: POD_VIF },
        }),
        route(HOST_VRF, &format!("{POD_IP}/32"), 3, vec![]),
        route(POD_VRF, &format!("{POD_IP}/32"), 3, vec![POD_SG]),
        route(POD_VRF, &format!("{NODE}/32"), 2, vec![]),
    ];
    if fabric_snat {
        commands.push(route(POD_VRF, "0.0.0.0/0", 2, vec![]));
    }
    apply(&mut engine, commands);
    engine
}

fn send(engine: &mut Engine, vif: VifId, frame: &[u8]) -> Vec<Output> {
    let mut out = Vec::new();
    engine.receive_vif(Millis(1), vif, frame, &mut out);
    out
}

/// The one frame written to `vif`, if that is all that came out.
fn only_to(out: &[Output], vif: VifId) -> Option<&[u8]> {
    match out {
        [Output::ToVif { vif: to, frame }] if *to == vif => Some(frame),
        _ => None,
    }
}

fn egress_only() -> Vec<AclRule> {
    vec![AclRule::allow_all(Direction::Egress, Ethertype::IPv4)]
}

#[test]
fn host_arp_for_a_routed_pod_is_answered_and_nothing_else() {
    let mut engine = node(vec![], false);
    let out = send(&mut engine, HOST_VIF, &arp_request(HOST_MAC, NODE, POD_IP));
    let frame = only_to(&out, HOST_VIF).expect("an ARP reply to the host");
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    assert_eq!(arp.source_hardware_addr, VROUTER_MAC);
    assert_eq!(arp.source_protocol_addr, POD_IP);
    assert_eq!(arp.target_hardware_addr, HOST_MAC);

    // Not routed in the host VRF: no answer.
    let out = send(
        &mut engine,
        HOST_VIF,
        &arp_request(HOST_MAC, NODE, OTHER_HOST),
    );
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn the_node_reaches_its_pod_whatever_the_pods_groups_say() {
    // No rule at all: every flow of the pod's own is denied.
    let mut engine = node(vec![], false);
    let out = send(
        &mut engine,
        HOST_VIF,
        &ping(HOST_MAC, NODE, POD_IP, 7, false),
    );
    let frame = only_to(&out, POD_VIF).expect("the request reaches the pod");
    let (src_mac, dst_mac, ip, _) = icmp_of(frame);
    assert_eq!((src_mac, dst_mac), (VROUTER_MAC, POD_MAC));
    assert_eq!((ip.src_addr, ip.dst_addr), (NODE, POD_IP));

    let out = send(&mut engine, POD_VIF, &ping(POD_MAC, POD_IP, NODE, 7, true));
    let frame = only_to(&out, HOST_VIF).expect("the reply reaches the host");
    let (src_mac, dst_mac, ip, icmp) = icmp_of(frame);
    assert_eq!((src_mac, dst_mac), (VROUTER_MAC, HOST_MAC));
    assert_eq!((ip.src_addr, ip.dst_addr), (POD_IP, NODE));
    assert!(matches!(icmp, Icmpv4Repr::EchoReply { ident: 7, .. }));

    // The pod may open connections to its node too (probes' replies and
    // the kubelet's own ports).
    let out = send(&mut engine, POD_VIF, &ping(POD_MAC, POD_IP, NODE, 8, false));
    assert!(only_to(&out, HOST_VIF).is_some(), "{out:?}");
    assert_eq!(engine.drop_stats().get(DropReason::FlowDenied), 0);
}

#[test]
fn the_host_vif_has_no_anti_spoofing() {
    let mut engine = node(vec![], false);
    let other_mac = MacAddr([0x02, 0x77, 0, 0, 0, 0x99]);
    // Another MAC and a source that is not the node's: forwarded, but
    // as traffic the node forwards, so the pod's (empty) rules apply.
    let out = send(
        &mut engine,
        HOST_VIF,
        &ping(other_mac, OTHER_HOST, POD_IP, 9, false),
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(engine.drop_stats().get(DropReason::SpoofedSource), 0);
    assert_eq!(engine.drop_stats().get(DropReason::FlowDenied), 1);
}

#[test]
fn fabric_traffic_goes_to_the_host_under_the_pods_rules() {
    // Without the default route: nowhere to go.
    let mut engine = node(egress_only(), false);
    let out = send(
        &mut engine,
        POD_VIF,
        &ping(POD_MAC, POD_IP, OTHER_HOST, 3, false),
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(engine.drop_stats().get(DropReason::NoRoute), 1);

    // With it: out through the host vif, and the reply (which comes back
    // from the kernel on the host vif) follows the pod's flow although the
    // pod admits no ingress.
    let mut engine = node(egress_only(), true);
    let out = send(
        &mut engine,
        POD_VIF,
        &ping(POD_MAC, POD_IP, OTHER_HOST, 3, false),
    );
    let frame = only_to(&out, HOST_VIF).expect("to the node's kernel");
    let (_, dst_mac, ip, _) = icmp_of(frame);
    assert_eq!(dst_mac, HOST_MAC);
    assert_eq!((ip.src_addr, ip.dst_addr), (POD_IP, OTHER_HOST));
    let out = send(
        &mut engine,
        HOST_VIF,
        &ping(HOST_MAC, OTHER_HOST, POD_IP, 3, true),
    );
    assert!(only_to(&out, POD_VIF).is_some(), "{out:?}");

    // A new connection from the fabric to the pod is not admitted.
    let out = send(
        &mut engine,
        HOST_VIF,
        &ping(HOST_MAC, OTHER_HOST, POD_IP, 4, false),
    );
    assert!(out.is_empty(), "{out:?}");

    // And a pod whose rules deny egress does not get out at all.
    let mut engine = node(vec![], true);
    let out = send(
        &mut engine,
        POD_VIF,
        &ping(POD_MAC, POD_IP, OTHER_HOST, 3, false),
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(engine.drop_stats().get(DropReason::FlowDenied), 1);
}

#[test]
fn a_service_backend_outside_any_vn_is_reached_through_the_fabric() {
    // The `kubernetes` Service: its VIP in the pod's VRF, its endpoint the
    // apiserver's underlay address, which no VN holds.
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);
    let service = Command::SetService(ServiceConfig {
        key: ServiceKey {
            vrf: POD_VRF,
            vip: v4(VIP),
            protocol: 17,
            port: 443,
        },
        backends: vec![Backend {
            addr: v4(OTHER_HOST),
            port: 6443,
        }],
    });

    // Without fabric SNAT the backend is not routed: dropped, not sent.
    let mut engine = node(egress_only(), false);
    apply(&mut engine, vec![service.clone()]);
    let request = udp_frame(POD_MAC, (POD_IP, 40000), (VIP, 443));
    let out = send(&mut engine, POD_VIF, &request);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(engine.drop_stats().get(DropReason::NoRoute), 1);

    // With it: the connection leaves through the host vif addressed to the
    // backend (the kernel masquerades it), and the reply the kernel hands
    // back comes to the pod from the service's address.
    let mut engine = node(egress_only(), true);
    apply(&mut engine, vec![service.clone()]);
    let out = send(&mut engine, POD_VIF, &request);
    let frame = only_to(&out, HOST_VIF).expect("to the node's kernel");
    assert_eq!(udp_ends(frame), ((POD_IP, 40000), (OTHER_HOST, 6443)));
    let reply = udp_frame(HOST_MAC, (OTHER_HOST, 6443), (POD_IP, 40000));
    let out = send(&mut engine, HOST_VIF, &reply);
    let frame = only_to(&out, POD_VIF).expect("the reply reaches the pod");
    assert_eq!(udp_ends(frame), ((VIP, 443), (POD_IP, 40000)));
    assert_eq!(engine.service_connections(), 1);

    // The pod's rules still hold on the backend's address: no egress, no
    // connection.
    let mut engine = node(vec![], true);
    apply(&mut engine, vec![service]);
    let out = send(&mut engine, POD_VIF, &request);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(engine.drop_stats().get(DropReason::FlowDenied), 1);
}

#[test]
fn the_host_vif_serves_no_dhcp() {
    let mut engine = node(vec![], false);
    let mut config = host_vif();
    config.dhcp = Some(DhcpConfig {
        addr: NODE,
        prefix_len: 24,
        gateway: None,
        dns: None,
        mtu: None,
        host_routes: vec![],
        lease_time: 60,
    });
    assert_eq!(
        engine.apply(Command::AddVif(config)),
        Err(VrouterError::HostVifDhcp { vif: HOST_VIF })
    );
    let out = send(&mut engine, HOST_VIF, &dhcp_frame(&discover()));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(engine.drop_stats().get(DropReason::DhcpIgnored), 1);
}
