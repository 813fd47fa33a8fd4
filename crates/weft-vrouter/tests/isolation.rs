//! VN isolation: two VRFs holding the same 10.0.0.0/24 on the same two
//! engines never leak into each other, over MPLS labels or VXLAN VNIs.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::Ipv4Addr;

use common::*;
use weft_types::{MacAddr, Vni};
use weft_vrouter::{
    Command, DropReason, Encapsulation, Engine, NextHop, NextHopKind, NhId, VifConfig, VifId,
    VifKind, VrfConfig, VrfId,
};

const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const REMOTE: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 4);

fn mac(last: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, last])
}

/// Adds VRF `vrf` (VNI `vni`) with a local vif at `local` and a route to a
/// remote vif at `remote` behind `peer`.
#[allow(clippy::too_many_arguments)]
fn add_vn(
    engine: &mut Engine,
    vrf: u32,
    vni: u32,
    vif: u32,
    local: Ipv4Addr,
    local_label: u32,
    peer: Ipv4Addr,
    remote: Ipv4Addr,
    remote_label: u32,
    remote_mac: MacAddr,
) {
    let vrf_id = VrfId(vrf);
    apply(
        engine,
        vec![
            Command::AddVrf(VrfConfig {
                id: vrf_id,
                vni: Some(Vni::new(vni).unwrap()),
                name: format!("vn{vni}"),
            }),
            Command::AddVif(VifConfig {
                id: VifId(vif),
                name: format!("veth{vif}"),
                kind: VifKind::Veth,
                mac: mac(u8::try_from(vif).unwrap()),
                addrs: vec![v4(local)],
                vrf: vrf_id,
                policy: false,
                allowed_address_pairs: vec![],
                sgs: vec![],
                label: Some(label(local_label)),
                dhcp: None,
            }),
            Command::AddNextHop(NextHop {
                id: NhId(100 + vif),
                kind: NextHopKind::Encap { vif: VifId(vif) },
            }),
            Command::AddNextHop(NextHop {
                id: NhId(200 + vif),
                kind: NextHopKind::Tunnel {
                    dst: peer,
                    label: Some(label(remote_label)),
                    vni: None,
                    encaps: all_encaps(),
                    mac: Some(remote_mac),
                },
            }),
            route(vrf_id, &format!("{local}/32"), 100 + vif, vec![]),
            route(vrf_id, &format!("{remote}/32"), 200 + vif, vec![]),
        ],
    );
}

/// Blue (VNI 7) and red (VNI 8) on both nodes, both 10.0.0.0/24.
fn world(priority: Vec<Encapsulation>) -> World {
    let mut w = World::new(priority);
    add_vn(
        &mut w.a,
        10,
        7,
        10,
        LOCAL,
        30,
        B_UNDERLAY,
        REMOTE,
        40,
        mac(20),
    );
    add_vn(
        &mut w.a,
        11,
        8,
        11,
        LOCAL,
        31,
        B_UNDERLAY,
        REMOTE,
        41,
        mac(21),
    );
    add_vn(
        &mut w.b,
        20,
        7,
        20,
        REMOTE,
        40,
        A_UNDERLAY,
        LOCAL,
        30,
        mac(10),
    );
    add_vn(
        &mut w.b,
        21,
        8,
        21,
        REMOTE,
        41,
        A_UNDERLAY,
        LOCAL,
        31,
        mac(11),
    );
    // Only red knows 10.0.0.9.
    apply(&mut w.a, vec![route(VrfId(11), "10.0.0.9/32", 211, vec![])]);
    w
}

fn isolation(priority: Vec<Encapsulation>) {
    let mut w = world(priority);
    for (vif, expect) in [(10, 20), (11, 21)] {
        let d = w.send(
            Node::A,
            VifId(vif),
            &ping(mac(u8::try_from(vif).unwrap()), LOCAL, REMOTE, 1, false),
        );
        assert_eq!(d.frames.len(), 1, "vif {vif}");
        let (node, to, frame) = &d.frames[0];
        assert_eq!((*node, *to), (Node::B, VifId(expect)));
        let (_, dst_mac, header, _) = icmp_of(frame);
        assert_eq!(dst_mac, mac(u8::try_from(expect).unwrap()));
        assert_eq!(header.dst_addr, REMOTE);
    }
    // Blue has no route to 10.0.0.9 even though red has.
    let d = w.send(
        Node::A,
        VifId(10),
        &ping(mac(10), LOCAL, Ipv4Addr::new(10, 0, 0, 9), 1, false),
    );
    assert!(d.frames.is_empty());
    assert_eq!(w.a.drop_stats().get(DropReason::NoRoute), 1);
    // Nor does blue answer ARP for it.
    let d = w.send(
        Node::A,
        VifId(10),
        &arp_request(mac(10), LOCAL, Ipv4Addr::new(10, 0, 0, 9)),
    );
    assert!(d.frames.is_empty());
    // The reference VN is untouched: the VM still reaches only the pod.
    let d = w.send(Node::A, VM_VIF, &ping(VM_MAC, VM_IP, REMOTE, 1, false));
    assert!(d.frames.is_empty());
}

#[test]
fn same_prefix_in_two_vrfs_over_mpls() {
    isolation(all_encaps());
}

#[test]
fn same_prefix_in_two_vrfs_over_vxlan() {
    isolation(vec![Encapsulation::Vxlan]);
}

#[test]
fn unknown_labels_and_vnis_are_counted() {
    let mut w = world(all_encaps());
    let mut out = Vec::new();
    let inner = ipv4_packet(REMOTE, LOCAL, weft_wire::IpProtocol::UDP, 64, &[0; 8]);
    let mut payload = vec![0x00, 0x3e, 0x81, 64]; // label 1000, S=1
    payload.extend_from_slice(&inner);
    w.a.receive_underlay(
        w.now,
        B_UNDERLAY,
        weft_vrouter::TunnelKind::MplsOverUdp,
        &payload,
        &mut out,
    );
    let vxlan = [0x08, 0, 0, 0, 0, 0, 99, 0];
    w.a.receive_underlay(
        w.now,
        B_UNDERLAY,
        weft_vrouter::TunnelKind::Vxlan,
        &vxlan,
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(w.a.drop_stats().get(DropReason::UnknownLabel), 1);
    assert_eq!(w.a.drop_stats().get(DropReason::UnknownVni), 1);
}
