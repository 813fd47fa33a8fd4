//! The reference scenario end to end, in memory: a VM on "os-compute" and
//! a pod on "k8s-worker", one virtual network, joined by a fake underlay
//! that hands each node's tunnel payloads to the other.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use weft_types::{MacAddr, MplsLabel, Vni};
use weft_vrouter::{
    Command, DropReason, Encapsulation, FlowAction, Millis, NhFlag, NhId, NhType, Remote,
    UnderlayKind, VROUTER_MAC, VrfId,
};
use weft_wire::{
    DhcpMessageType, EtherType, EthernetFrame, GrePacket, GreRepr, Icmpv4Repr, Ipv4Packet,
    Ipv4Repr, MplsStack, VxlanPacket, VxlanRepr,
};

#[test]
fn vm_gets_its_address_by_dhcp() {
    let mut world = World::new(all_encaps());
    let offer = world.send(Node::A, VM_VIF, &dhcp_frame(&discover()));
    let frames = offer.to(Node::A, VM_VIF);
    assert_eq!(frames.len(), 1);
    let offer = dhcp_of(frames[0]);
    assert_eq!(offer.message_type, DhcpMessageType::OFFER);
    assert_eq!(offer.your_addr, VM_IP);
    assert_eq!(
        offer.subnet_mask,
        Some(std::net::Ipv4Addr::new(255, 255, 255, 0))
    );
    assert_eq!(offer.routers, vec![GATEWAY]);
    assert_eq!(offer.dns_servers, vec![DNS]);
    // 1500 minus VXLAN's 50 bytes, the largest overhead in the list.
    assert_eq!(offer.interface_mtu, Some(1450));

    let mut request = discover();
    request.message_type = DhcpMessageType::REQUEST;
    request.requested_ip = Some(VM_IP);
    request.server_identifier = offer.server_identifier;
    let ack = world.send(Node::A, VM_VIF, &dhcp_frame(&request));
    let ack = dhcp_of(ack.to(Node::A, VM_VIF)[0]);
    assert_eq!(ack.message_type, DhcpMessageType::ACK);
    assert_eq!(ack.your_addr, VM_IP);
    assert_eq!(ack.lease_time, Some(86_400));

    // The pod's vif has no DHCP server.
    let pod_discover = {
        let mut d = discover();
        d.client_hardware_addr = POD_MAC;
        d
    };
    let none = world.send(Node::B, POD_VIF, &dhcp_frame(&pod_discover));
    assert!(none.frames.is_empty());
    assert_eq!(world.b.drop_stats().get(DropReason::DhcpIgnored), 1);
}

/// Checks the last underlay payload is the expected tunnel to the expected
/// node, and returns the inner IPv4 header.
fn check_tunnel(
    world: &World,
    encap: Encapsulation,
    to: std::net::Ipv4Addr,
    label: u32,
) -> Ipv4Repr {
    let (_, dst, kind, payload) = world.underlay.last().unwrap();
    assert_eq!(*dst, to);
    let inner_ip: Vec<u8> = match (encap, kind) {
        (Encapsulation::MplsOverUdp, UnderlayKind::MplsOverUdp { src_port }) => {
            assert!(*src_port >= 49152);
            let mut stack = MplsStack::new(payload);
            let entry = stack.next().unwrap().unwrap();
            assert_eq!(entry.label, label);
            assert!(entry.bottom_of_stack);
            stack.remainder().to_vec()
        }
        (Encapsulation::MplsOverGre, UnderlayKind::MplsOverGre) => {
            let gre = GrePacket::new_checked(&payload[..]).unwrap();
            assert_eq!(
                GreRepr::parse(&gre).unwrap().protocol,
                EtherType::MPLS_UNICAST
            );
            let mut stack = MplsStack::new(gre.payload());
            let entry = stack.next().unwrap().unwrap();
            assert_eq!(entry.label, label);
            stack.remainder().to_vec()
        }
        (Encapsulation::Vxlan, UnderlayKind::Vxlan { src_port }) => {
            assert!(*src_port >= 49152);
            let vxlan = VxlanPacket::new_checked(&payload[..]).unwrap();
            assert_eq!(VxlanRepr::parse(&vxlan).unwrap().vni, VNI);
            let eth = EthernetFrame::new_checked(vxlan.payload()).unwrap();
            assert_eq!(eth.src_addr(), VROUTER_MAC);
            let expected = if to == B_UNDERLAY { POD_MAC } else { VM_MAC };
            assert_eq!(eth.dst_addr(), expected);
            assert_eq!(eth.ethertype(), EtherType::IPV4);
            eth.payload().to_vec()
        }
        other => panic!("expected {encap:?}, got {other:?}"),
    };
    Ipv4Repr::parse(&Ipv4Packet::new_checked(&inner_ip[..]).unwrap()).unwrap()
}

/// The delivered frame is an echo (request or reply) with `ident`, from
/// the vRouter MAC to `mac`, with TTL decremented once.
fn check_delivered(frame: &[u8], mac: MacAddr, ident: u16, reply: bool) {
    let (src_mac, dst_mac, header, icmp) = icmp_of(frame);
    assert_eq!((src_mac, dst_mac), (VROUTER_MAC, mac));
    assert_eq!(header.ttl, 63);
    match icmp {
        Icmpv4Repr::EchoRequest { ident: i, .. } if !reply => assert_eq!(i, ident),
        Icmpv4Repr::EchoReply { ident: i, .. } if reply => assert_eq!(i, ident),
        other => panic!("unexpected {other:?}"),
    }
}

fn scenario(encap: Encapsulation) {
    // The priority list names the encapsulation under test first; routed
    // traffic takes MPLS when listed, so VXLAN is tested alone.
    let priority = match encap {
        Encapsulation::MplsOverUdp => all_encaps(),
        Encapsulation::MplsOverGre => vec![Encapsulation::MplsOverGre, Encapsulation::Vxlan],
        Encapsulation::Vxlan => vec![Encapsulation::Vxlan],
    };
    let mut w = World::new(priority);
    let expected_flag = match encap {
        Encapsulation::MplsOverUdp => NhFlag::MplsOverUdp,
        Encapsulation::MplsOverGre => NhFlag::MplsOverGre,
        Encapsulation::Vxlan => NhFlag::Vxlan,
    };
    let nh = w.a.nexthop(NhId(3)).unwrap();
    assert_eq!(nh.kind, NhType::Tunnel);
    assert_eq!((nh.sip, nh.dip), (Some(A_UNDERLAY), Some(B_UNDERLAY)));
    assert!(nh.flags.contains(&expected_flag), "{:?}", nh.flags);

    // VM → pod works from the start (egress is open, the pod admits all),
    // and the reply comes back through the reverse flow.
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, POD_IP, 1, false));
    let inner = check_tunnel(&w, encap, B_UNDERLAY, POD_LABEL);
    assert_eq!(
        (inner.src_addr, inner.dst_addr, inner.ttl),
        (VM_IP, POD_IP, 63)
    );
    check_delivered(d.to(Node::B, POD_VIF)[0], POD_MAC, 1, false);
    let d = w.send(Node::B, POD_VIF, &ping(POD_MAC, POD_IP, VM_IP, 1, true));
    check_tunnel(&w, encap, A_UNDERLAY, VM_LABEL);
    check_delivered(d.to(Node::A, VM_VIF)[0], VM_MAC, 1, true);

    // pod → VM is refused by the VM's default group: counted as denied.
    let d = w.send(Node::B, POD_VIF, &ping(POD_MAC, POD_IP, VM_IP, 2, false));
    assert!(d.frames.is_empty());
    assert_eq!(w.a.drop_stats().get(DropReason::FlowDenied), 1);
    assert_eq!(
        w.a.vif(VM_VIF)
            .unwrap()
            .drop_stats
            .get(DropReason::FlowDenied),
        1
    );
    let denied =
        w.a.flows()
            .into_iter()
            .find(|f| f.src_port == 2 && f.initiator)
            .unwrap();
    assert_eq!(denied.action, FlowAction::Drop);

    // Admit 0.0.0.0/0: the existing flow is re-evaluated and now passes,
    // both ways.
    apply(
        &mut w.a,
        vec![Command::SetAcl {
            vif: VM_VIF,
            rules: default_group(Remote::Prefix(prefix("0.0.0.0/0"))),
            stateful: true,
        }],
    );
    assert_eq!(w.a.flow(denied.index).unwrap().action, FlowAction::Forward);
    let d = w.send(Node::B, POD_VIF, &ping(POD_MAC, POD_IP, VM_IP, 2, false));
    check_delivered(d.to(Node::A, VM_VIF)[0], VM_MAC, 2, false);
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, POD_IP, 2, true));
    check_delivered(d.to(Node::B, POD_VIF)[0], POD_MAC, 2, true);

    // Back to members only: denied again.
    apply(
        &mut w.a,
        vec![Command::SetAcl {
            vif: VM_VIF,
            rules: default_group(Remote::Group(VM_SG)),
            stateful: true,
        }],
    );
    let d = w.send(Node::B, POD_VIF, &ping(POD_MAC, POD_IP, VM_IP, 3, false));
    assert!(d.frames.is_empty());
    assert_eq!(w.a.drop_stats().get(DropReason::FlowDenied), 2);

    // Admit the pod's group instead: the route to the pod carries its SG id.
    apply(
        &mut w.a,
        vec![Command::SetAcl {
            vif: VM_VIF,
            rules: default_group(Remote::Group(POD_SG)),
            stateful: true,
        }],
    );
    let d = w.send(Node::B, POD_VIF, &ping(POD_MAC, POD_IP, VM_IP, 4, false));
    check_delivered(d.to(Node::A, VM_VIF)[0], VM_MAC, 4, false);
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, POD_IP, 4, true));
    check_delivered(d.to(Node::B, POD_VIF)[0], POD_MAC, 4, true);

    // The flows are listed, forward and reverse, with counters.
    let flows = w.a.flows();
    let fwd = flows
        .iter()
        .find(|f| f.src_port == 4 && f.initiator)
        .unwrap();
    let rev = flows.iter().find(|f| f.index == fwd.reverse).unwrap();
    assert_eq!((fwd.src, fwd.dst), (v4(POD_IP), v4(VM_IP)));
    assert_eq!((rev.src, rev.dst), (v4(VM_IP), v4(POD_IP)));
    assert_eq!(fwd.vrf, VrfId(1));
    assert_eq!(
        (fwd.action, rev.action),
        (FlowAction::Forward, FlowAction::Forward)
    );
    assert_eq!((fwd.packets, rev.packets), (1, 1));
    // ident 3 was denied before the change and re-evaluated since.
    assert!(
        flows
            .iter()
            .filter(|f| f.src_port == 3)
            .all(|f| f.action == FlowAction::Forward)
    );

    // Flows age out when idle.
    let before = w.a.flows().len();
    assert!(before >= 8);
    assert_eq!(w.a.poll(Millis(w.now.0 + 1)), 0);
    let at = w.a.poll_at().unwrap();
    assert!(w.a.poll(Millis(at.0 + 200_000)) >= before);
    assert!(w.a.flows().is_empty());
}

/// The VM's rules, stateful or not.
fn vm_acl(w: &mut World, rules: Vec<weft_vrouter::AclRule>, stateful: bool) {
    apply(
        &mut w.a,
        vec![Command::SetAcl {
            vif: VM_VIF,
            rules,
            stateful,
        }],
    );
}

#[test]
fn stateless_vif_judges_replies_by_their_own_direction() {
    use weft_vrouter::{AclRule, Direction, Ethertype};
    let mut w = World::new(all_encaps());
    let egress_only = vec![AclRule::allow_all(Direction::Egress, Ethertype::IPv4)];
    let ingress_only = vec![AclRule::allow_all(Direction::Ingress, Ethertype::IPv4)];
    let denied = |w: &World| w.a.drop_stats().get(DropReason::FlowDenied);

    // Stateful, egress only: the VM's ping goes out and its reply comes back.
    vm_acl(&mut w, egress_only.clone(), true);
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, POD_IP, 10, false));
    check_delivered(d.to(Node::B, POD_VIF)[0], POD_MAC, 10, false);
    let d = w.send(Node::B, POD_VIF, &ping(POD_MAC, POD_IP, VM_IP, 10, true));
    check_delivered(d.to(Node::A, VM_VIF)[0], VM_MAC, 10, true);
    assert!(w.a.vif(VM_VIF).unwrap().stateful);

    // Stateless, same rules: the request still leaves, but nothing admits
    // the reply into the VM.
    vm_acl(&mut w, egress_only.clone(), false);
    assert!(!w.a.vif(VM_VIF).unwrap().stateful);
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, POD_IP, 11, false));
    check_delivered(d.to(Node::B, POD_VIF)[0], POD_MAC, 11, false);
    let d = w.send(Node::B, POD_VIF, &ping(POD_MAC, POD_IP, VM_IP, 11, true));
    assert!(
        d.frames.is_empty(),
        "a stateless vif admitted an unruled reply"
    );
    assert_eq!(denied(&w), 1);
    let flows = w.a.flows();
    let fwd = flows
        .iter()
        .find(|f| f.src_port == 11 && f.initiator)
        .unwrap();
    let rev = flows.iter().find(|f| f.index == fwd.reverse).unwrap();
    assert_eq!(
        (fwd.action, rev.action),
        (FlowAction::Forward, FlowAction::Drop)
    );
    // The flow set up while stateful was re-evaluated: its replies are
    // now refused too.
    let d = w.send(Node::B, POD_VIF, &ping(POD_MAC, POD_IP, VM_IP, 10, true));
    assert!(d.frames.is_empty());
    assert_eq!(denied(&w), 2);

    // An ingress rule for the pod's address admits the reply (and the
    // existing flow is re-evaluated in place).
    let mut both = egress_only.clone();
    both.push(AclRule {
        remote: Remote::Prefix(prefix("192.168.1.4/32")),
        ..AclRule::allow_all(Direction::Ingress, Ethertype::IPv4)
    });
    vm_acl(&mut w, both, false);
    let d = w.send(Node::B, POD_VIF, &ping(POD_MAC, POD_IP, VM_IP, 11, true));
    check_delivered(d.to(Node::A, VM_VIF)[0], VM_MAC, 11, true);

    // Ingress only, stateless: the pod's ping reaches the VM, the VM's
    // answer is refused on its way out...
    vm_acl(&mut w, ingress_only.clone(), false);
    let d = w.send(Node::B, POD_VIF, &ping(POD_MAC, POD_IP, VM_IP, 12, false));
    check_delivered(d.to(Node::A, VM_VIF)[0], VM_MAC, 12, false);
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, POD_IP, 12, true));
    assert!(d.frames.is_empty());
    assert_eq!(denied(&w), 3);
    assert_eq!(
        w.a.vif(VM_VIF)
            .unwrap()
            .drop_stats
            .get(DropReason::FlowDenied),
        3
    );
    // ...while stateful, the same rules let the answer out.
    vm_acl(&mut w, ingress_only, true);
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, POD_IP, 12, true));
    check_delivered(d.to(Node::B, POD_VIF)[0], POD_MAC, 12, true);
}

#[test]
fn pod_and_vm_over_mpls_over_udp() {
    scenario(Encapsulation::MplsOverUdp);
}

#[test]
fn pod_and_vm_over_mpls_over_gre() {
    scenario(Encapsulation::MplsOverGre);
}

#[test]
fn pod_and_vm_over_vxlan() {
    scenario(Encapsulation::Vxlan);
}

#[test]
fn arp_is_proxied_and_gratuitous_arp_ignored() {
    let mut w = World::new(all_encaps());
    for target in [POD_IP, GATEWAY] {
        let d = w.send(Node::A, VM_VIF, &arp_request(VM_MAC, VM_IP, target));
        let frame = d.to(Node::A, VM_VIF)[0];
        let eth = EthernetFrame::new_checked(frame).unwrap();
        assert_eq!((eth.src_addr(), eth.dst_addr()), (VROUTER_MAC, VM_MAC));
        let reply =
            weft_wire::ArpRepr::parse(&weft_wire::ArpPacket::new_checked(eth.payload()).unwrap())
                .unwrap();
        assert_eq!(reply.source_hardware_addr, VROUTER_MAC);
        assert_eq!(reply.source_protocol_addr, target);
    }
    // Outside the VN: no answer.
    let d = w.send(
        Node::A,
        VM_VIF,
        &arp_request(VM_MAC, VM_IP, std::net::Ipv4Addr::new(10, 1, 1, 1)),
    );
    assert!(d.frames.is_empty());
    assert_eq!(w.a.drop_stats().get(DropReason::ArpNoRoute), 1);

    // A gratuitous ARP claiming the pod's address: ignored, counted, and
    // traffic to the pod still goes to the pod.
    let d = w.send(Node::A, VM_VIF, &arp_request(VM_MAC, POD_IP, POD_IP));
    assert!(d.frames.is_empty());
    assert_eq!(w.a.drop_stats().get(DropReason::GratuitousArp), 1);
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, POD_IP, 1, false));
    assert_eq!(d.to(Node::B, POD_VIF).len(), 1);
}

#[test]
fn gateway_answers_ping_and_ttl_expiry_is_reported() {
    let mut w = World::new(all_encaps());
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, GATEWAY, 7, false));
    let (src_mac, dst_mac, header, icmp) = icmp_of(d.to(Node::A, VM_VIF)[0]);
    assert_eq!((src_mac, dst_mac), (VROUTER_MAC, VM_MAC));
    assert_eq!((header.src_addr, header.dst_addr), (GATEWAY, VM_IP));
    assert!(matches!(icmp, Icmpv4Repr::EchoReply { ident: 7, .. }));
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, DNS, 8, false));
    assert_eq!(d.to(Node::A, VM_VIF).len(), 1);

    let d = w.send(Node::A, VM_VIF, &ping_ttl(VM_MAC, VM_IP, POD_IP, 1));
    let (_, _, header, icmp) = icmp_of(d.to(Node::A, VM_VIF)[0]);
    assert_eq!(header.src_addr, GATEWAY);
    assert!(matches!(icmp, Icmpv4Repr::TimeExceeded { .. }));
    assert!(d.to(Node::B, POD_VIF).is_empty());
    assert_eq!(w.a.drop_stats().get(DropReason::TtlExpired), 1);
}

#[test]
fn anti_spoofing_drops_foreign_sources() {
    let mut w = World::new(all_encaps());
    let other_mac = MacAddr([0xfa, 0x16, 0x3e, 0, 0, 0x99]);
    let spoofed_ip = std::net::Ipv4Addr::new(192, 168, 1, 77);
    assert!(
        w.send(Node::A, VM_VIF, &ping(VM_MAC, spoofed_ip, POD_IP, 1, false))
            .frames
            .is_empty()
    );
    assert!(
        w.send(Node::A, VM_VIF, &ping(other_mac, VM_IP, POD_IP, 1, false))
            .frames
            .is_empty()
    );
    assert!(
        w.send(Node::A, VM_VIF, &arp_request(VM_MAC, spoofed_ip, GATEWAY))
            .frames
            .is_empty()
    );
    assert_eq!(w.a.drop_stats().get(DropReason::SpoofedSource), 3);
    assert_eq!(w.a.vif(VM_VIF).unwrap().drops, 3);
    assert!(w.underlay.is_empty());

    // An allowed address pair makes the address legitimate.
    let mut vm = vm_config();
    vm.allowed_address_pairs
        .push(weft_vrouter::AllowedAddressPair {
            prefix: prefix("192.168.1.77/32"),
            mac: None,
        });
    apply(&mut w.a, vec![Command::AddVif(vm)]);
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, spoofed_ip, POD_IP, 1, false));
    assert_eq!(d.to(Node::B, POD_VIF).len(), 1);

    // Port security off: anything goes.
    let mut vm = vm_config();
    vm.policy = false;
    apply(&mut w.a, vec![Command::AddVif(vm)]);
    let d = w.send(
        Node::A,
        VM_VIF,
        &ping(
            other_mac,
            std::net::Ipv4Addr::new(1, 2, 3, 4),
            POD_IP,
            2,
            false,
        ),
    );
    assert_eq!(d.to(Node::B, POD_VIF).len(), 1);
}

#[test]
fn views_show_the_tables() {
    let w = World::new(all_encaps());
    let vif = w.a.vif(VM_VIF).unwrap();
    assert_eq!(vif.os_name, "tap5e8f2a1c-3b");
    assert!(vif.flags.policy && vif.flags.l3 && vif.flags.dhcp);
    let routes = w.a.routes(VrfId(1)).unwrap();
    assert_eq!(routes.len(), 4);
    let to_pod =
        w.a.route_get(VrfId(1), prefix("192.168.1.4/32"))
            .unwrap()
            .unwrap();
    assert_eq!(to_pod.nh, NhId(3));
    assert_eq!(to_pod.label, Some(MplsLabel::new(POD_LABEL).unwrap()));
    assert!(to_pod.flags.label_valid && to_pod.flags.proxy_arp);
    assert_eq!(to_pod.sgs, vec![POD_SG]);
    assert_eq!(
        w.a.labels(),
        vec![(MplsLabel::new(VM_LABEL).unwrap(), VM_VIF)]
    );
    assert_eq!(w.a.vnis(), vec![(Vni::new(VNI).unwrap(), VrfId(1))]);
    let kinds: Vec<NhType> = w.a.nexthops().iter().map(|n| n.kind).collect();
    assert_eq!(kinds, vec![NhType::Receive, NhType::Encap, NhType::Tunnel]);
    // Everything serialises for the CLI and the agent's API.
    let json = serde_json::to_value((
        w.a.vifs(),
        routes,
        w.a.nexthops(),
        w.a.flows(),
        w.a.drop_stats(),
    ))
    .unwrap();
    assert!(json.is_array());
}
