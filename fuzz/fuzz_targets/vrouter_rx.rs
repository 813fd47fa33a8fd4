//! The vRouter forwarding engine under hostile input: a programmed engine
//! (two VRFs, local vifs with port security, DHCP and ACLs, a tunnel next
//! hop that loops back to a local label, load-balanced services) is fed a sequence of operations
//! decoded from the fuzz input: raw frames on vifs (with and without a
//! virtio-net header), raw underlay payloads of
//! each tunnel kind, well-formed IPv4 packets with fuzzed fields (so flows
//! and ACLs are reached), ACL changes and time passing. Nothing may panic,
//! every ToVif output must be an Ethernet frame and every ToUnderlay
//! payload must be accepted back without a panic.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use weft_types::{MacAddr, MplsLabel, Vni};
use weft_vrouter::{
    AclRule, Backend, Command, DhcpConfig, Direction, Encapsulation, Engine, EngineConfig,
    Ethertype, FlowTimeouts, Millis, NextHop, NextHopKind, NhId, Output, Remote, RouteConfig,
    ServiceConfig, ServiceKey, SgId, TunnelKind, VROUTER_MAC, VifConfig, VifId, VifKind,
    VrfConfig, VrfId,
};
use weft_wire::{EtherType, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr};

const ENCAPS: [Encapsulation; 3] = [
    Encapsulation::MplsOverUdp,
    Encapsulation::MplsOverGre,
    Encapsulation::Vxlan,
];

fn mac(last: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, last])
}

fn engine() -> Option<Engine> {
    let mut engine = Engine::new(EngineConfig {
        flow_capacity: 64,
        flow_timeouts: FlowTimeouts::default(),
        ..EngineConfig::default()
    });
    let label = |n| MplsLabel::new(n).ok();
    let mut commands = vec![Command::SetUnderlayAddr(Ipv4Addr::new(192, 168, 200, 13))];
    for (vrf, vni) in [(1u32, 5u32), (2, 6)] {
        commands.push(Command::AddVrf(VrfConfig {
            id: VrfId(vrf),
            vni: Vni::new(vni).ok(),
            name: format!("vn{vrf}"),
        }));
    }
    commands.push(Command::AddNextHop(NextHop {
        id: NhId(1),
        kind: NextHopKind::Receive,
    }));
    commands.push(Command::AddNextHop(NextHop {
        id: NhId(2),
        kind: NextHopKind::Discard,
    }));
    for vif in 3u8..=5 {
        let vrf = if vif == 5 { 2 } else { 1 };
        commands.push(Command::AddVif(VifConfig {
            id: VifId(u32::from(vif)),
            name: format!("tap{vif}"),
            kind: VifKind::Tap,
            mac: mac(vif),
            addrs: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, vif))],
            vrf: VrfId(vrf),
            policy: vif != 4,
            allowed_address_pairs: vec![],
            sgs: vec![SgId(u32::from(vif))],
            label: label(16 + u32::from(vif)),
            dhcp: Some(DhcpConfig {
                addr: Ipv4Addr::new(10, 0, 0, vif),
                prefix_len: 24,
                gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
                dns: Some(Ipv4Addr::new(10, 0, 0, 2)),
                mtu: None,
                host_routes: vec![],
                lease_time: 3600,
            }),
        }));
        commands.push(Command::AddNextHop(NextHop {
            id: NhId(10 + u32::from(vif)),
            kind: NextHopKind::Encap {
                vif: VifId(u32::from(vif)),
            },
        }));
        commands.push(Command::AddRoute(RouteConfig {
            vrf: VrfId(vrf),
            prefix: format!("10.0.0.{vif}/32").parse().ok()?,
            nh: NhId(10 + u32::from(vif)),
            sgs: vec![],
        }));
    }
    // A "remote" 10.0.0.9 whose tunnel label is the local vif 3's, so
    // payloads looped back land somewhere.
    commands.push(Command::AddNextHop(NextHop {
        id: NhId(30),
        kind: NextHopKind::Tunnel {
            dst: Ipv4Addr::new(192, 168, 200, 14),
            label: label(19),
            vni: None,
            encaps: ENCAPS.to_vec(),
            mac: Some(mac(3)),
        },
    }));
    for (vrf, prefix, nh) in [
        (1, "10.0.0.9/32", 30),
        (1, "10.0.0.1/32", 1),
        (1, "10.0.0.2/32", 1),
        (1, "10.0.1.0/24", 2),
        (2, "10.0.0.9/32", 30),
        (2, "0.0.0.0/0", 1),
    ] {
        commands.push(Command::AddRoute(RouteConfig {
            vrf: VrfId(vrf),
            prefix: prefix.parse().ok()?,
            nh: NhId(nh),
            sgs: vec![SgId(9)],
        }));
    }
    // Services on 10.0.0.11: TCP 80 spread over a local and a remote
    // backend, UDP 53 without backends (refused).
    for vrf in [1, 2] {
        let key = |protocol, port| ServiceKey {
            vrf: VrfId(vrf),
            vip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 11)),
            protocol,
            port,
        };
        commands.push(Command::SetService(ServiceConfig {
            key: key(6, 80),
            backends: vec![
                Backend {
                    addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)),
                    port: 8080,
                },
                Backend {
                    addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)),
                    port: 80,
                },
            ],
        }));
        commands.push(Command::SetService(ServiceConfig {
            key: key(17, 53),
            backends: vec![],
        }));
    }
    for command in commands {
        engine.apply(command).ok()?;
    }
    Some(engine)
}

fn acl(selector: u8) -> Vec<AclRule> {
    let remote = match selector % 4 {
        0 => Remote::Any,
        1 => Remote::Group(SgId(9)),
        2 => Remote::Group(SgId(3)),
        _ => Remote::Prefix(
            "10.0.0.0/28"
                .parse()
                .unwrap_or_else(|_| std::process::abort()),
        ),
    };
    let mut rules = vec![AclRule::allow_all(Direction::Egress, Ethertype::IPv4)];
    if selector & 4 != 0 {
        rules.push(AclRule {
            protocol: Some(selector >> 4),
            ports: Some((0, u16::from(selector) * 200)),
            remote,
            ..AclRule::allow_all(Direction::Ingress, Ethertype::IPv4)
        });
    }
    rules
}

/// A valid Ethernet + IPv4 frame to the vRouter MAC with fuzzed fields.
fn crafted(from: u8, fields: &[u8]) -> Option<Vec<u8>> {
    let [dst, protocol, ttl, rest @ ..] = fields else {
        return None;
    };
    let ip = Ipv4Repr {
        src_addr: Ipv4Addr::new(10, 0, 0, from),
        dst_addr: Ipv4Addr::new(10, 0, 0, dst % 12),
        protocol: IpProtocol(*protocol % 20),
        payload_len: rest.len(),
        ttl: *ttl,
        dscp_ecn: 0,
        ident: 0,
        dont_fragment: false,
        more_fragments: false,
        fragment_offset: 0,
    };
    let mut frame = vec![0u8; 14 + ip.buffer_len()];
    EthernetRepr {
        src_addr: mac(from),
        dst_addr: VROUTER_MAC,
        ethertype: EtherType::IPV4,
        vlan: None,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]))
    .ok()?;
    frame.get_mut(34..)?.copy_from_slice(rest);
    ip.emit(&mut Ipv4Packet::new_unchecked(frame.get_mut(14..)?))
        .ok()?;
    Some(frame)
}

fn check(engine: &mut Engine, now: Millis, out: Vec<Output>) {
    for output in out {
        match output {
            Output::ToVif { frame, .. } => {
                assert!(EthernetFrame::new_checked(&frame[..]).is_ok());
            }
            Output::ToUnderlay { kind, payload, .. } => {
                let mut again = Vec::new();
                engine.receive_underlay(
                    now,
                    Ipv4Addr::new(192, 168, 200, 14),
                    kind.tunnel_kind(),
                    &payload,
                    &mut again,
                );
                for output in again {
                    assert!(matches!(output, Output::ToVif { .. }));
                }
            }
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(mut engine) = engine() else {
        std::process::abort();
    };
    let mut now = Millis(0);
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        let mut out = Vec::new();
        match op % 9 {
            0..=2 => {
                let vif = VifId(u32::from(op % 4) + 3);
                if op & 0x40 == 0 {
                    engine.receive_vif(now, vif, chunk, &mut out);
                } else {
                    // As read with a virtio-net header: partial checksums
                    // and super-frames to cut.
                    engine.receive_vif_offloaded(now, vif, &mut chunk.to_vec(), &mut out);
                }
            }
            3 => engine.receive_underlay(
                now,
                Ipv4Addr::LOCALHOST,
                TunnelKind::MplsOverUdp,
                chunk,
                &mut out,
            ),
            4 => engine.receive_underlay(
                now,
                Ipv4Addr::LOCALHOST,
                TunnelKind::MplsOverGre,
                chunk,
                &mut out,
            ),
            5 => engine.receive_underlay(
                now,
                Ipv4Addr::LOCALHOST,
                TunnelKind::Vxlan,
                chunk,
                &mut out,
            ),
            6 => {
                let from = 3 + op / 9 % 3;
                if let Some(frame) = crafted(from, chunk) {
                    engine.receive_vif(now, VifId(u32::from(from)), &frame, &mut out);
                }
            }
            7 => {
                let selector = chunk.first().copied().unwrap_or(0);
                let vif = VifId(3 + u32::from(selector & 1) * 2);
                let _ = engine.apply(Command::SetAcl {
                    vif,
                    rules: acl(selector),
                    // Stateless vifs judge replies by their own rules.
                    stateful: selector & 2 == 0,
                });
                let priority = match selector % 3 {
                    0 => ENCAPS.to_vec(),
                    1 => vec![Encapsulation::MplsOverGre],
                    _ => vec![Encapsulation::Vxlan],
                };
                let _ = engine.apply(Command::SetEncapPriority(priority));
            }
            _ => {
                now = Millis(now.0.saturating_add(u64::try_from(len).unwrap_or(0) * 1000));
                engine.poll(now);
            }
        }
        check(&mut engine, now, out);
    }
    // The views never panic either.
    let _ = (
        engine.vifs(),
        engine.nexthops(),
        engine.flows(),
        engine.routes(VrfId(1)),
    );
});
