//! Frame builders (with weft-wire) and a two-node world joined by a fake
//! underlay, for the end-to-end tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};

use weft_types::{MacAddr, MplsLabel, Prefix, Vni};
use weft_vrouter::{
    AclRule, Command, DhcpConfig, Direction, Encapsulation, Engine, Ethertype, Millis, NextHop,
    NextHopKind, NhId, Output, Remote, RouteConfig, SgId, UnderlayKind, VROUTER_MAC, VifConfig,
    VifId, VifKind, VrfConfig, VrfId,
};
use weft_wire::{
    ArpOperation, ArpPacket, ArpRepr, DhcpMessageType, DhcpPacket, DhcpRepr, EtherType,
    EthernetFrame, EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpPair, IpProtocol, Ipv4Packet,
    Ipv4Repr, UdpPacket, UdpRepr,
};

pub const A_UNDERLAY: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 13);
pub const B_UNDERLAY: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 14);
pub const VM_MAC: MacAddr = MacAddr([0xfa, 0x16, 0x3e, 0x00, 0x00, 0x03]);
pub const POD_MAC: MacAddr = MacAddr([0x02, 0x42, 0x0a, 0x00, 0x00, 0x04]);
pub const VM_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 3);
pub const POD_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 4);
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
pub const DNS: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);
pub const VM_VIF: VifId = VifId(3);
pub const POD_VIF: VifId = VifId(4);
/// The OpenStack-like default group of the VM and the pods' allow-all group.
pub const VM_SG: SgId = SgId(8_000_010);
pub const POD_SG: SgId = SgId(8_000_020);
pub const VNI: u32 = 5;
pub const VM_LABEL: u32 = 17;
pub const POD_LABEL: u32 = 18;

pub fn label(n: u32) -> MplsLabel {
    MplsLabel::new(n).unwrap()
}

pub fn prefix(text: &str) -> Prefix {
    text.parse().unwrap()
}

pub fn v4(addr: Ipv4Addr) -> IpAddr {
    IpAddr::V4(addr)
}

pub fn all_encaps() -> Vec<Encapsulation> {
    vec![
        Encapsulation::MplsOverUdp,
        Encapsulation::MplsOverGre,
        Encapsulation::Vxlan,
    ]
}

// ---- frames ----

pub fn ipv4_packet(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: IpProtocol,
    ttl: u8,
    body: &[u8],
) -> Vec<u8> {
    let header = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol,
        payload_len: body.len(),
        ttl,
        dscp_ecn: 0,
        ident: 0x1c46,
        dont_fragment: true,
        more_fragments: false,
        fragment_offset: 0,
    };
    let mut packet = vec![0u8; header.buffer_len()];
    packet[20..].copy_from_slice(body);
    header
        .emit(&mut Ipv4Packet::new_unchecked(&mut packet[..]))
        .unwrap();
    packet
}

pub fn frame(src: MacAddr, dst: MacAddr, ethertype: EtherType, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 14];
    EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype,
        vlan: None,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]))
    .unwrap();
    frame.extend_from_slice(payload);
    frame
}

fn icmp(repr: Icmpv4Repr<'_>) -> Vec<u8> {
    let mut body = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut body[..]))
        .unwrap();
    body
}

/// An echo request (or reply) frame sent to the vRouter MAC.
pub fn ping(src_mac: MacAddr, src: Ipv4Addr, dst: Ipv4Addr, ident: u16, reply: bool) -> Vec<u8> {
    let repr = if reply {
        Icmpv4Repr::EchoReply {
            ident,
            seq_no: 1,
            data: b"weft",
        }
    } else {
        Icmpv4Repr::EchoRequest {
            ident,
            seq_no: 1,
            data: b"weft",
        }
    };
    let ip = ipv4_packet(src, dst, IpProtocol::ICMP, 64, &icmp(repr));
    frame(src_mac, VROUTER_MAC, EtherType::IPV4, &ip)
}

pub fn ping_ttl(src_mac: MacAddr, src: Ipv4Addr, dst: Ipv4Addr, ttl: u8) -> Vec<u8> {
    let body = icmp(Icmpv4Repr::EchoRequest {
        ident: 9,
        seq_no: 1,
        data: b"weft",
    });
    let ip = ipv4_packet(src, dst, IpProtocol::ICMP, ttl, &body);
    frame(src_mac, VROUTER_MAC, EtherType::IPV4, &ip)
}

pub fn arp_request(src_mac: MacAddr, sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let repr = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: src_mac,
        source_protocol_addr: sender,
        target_hardware_addr: MacAddr::ZERO,
        target_protocol_addr: target,
    };
    let mut body = vec![0u8; 28];
    repr.emit(&mut ArpPacket::new_unchecked(&mut body[..]))
        .unwrap();
    frame(src_mac, MacAddr::BROADCAST, EtherType::ARP, &body)
}

/// A DHCP client message, broadcast from 0.0.0.0 (or from `ciaddr`).
pub fn dhcp_frame(repr: &DhcpRepr) -> Vec<u8> {
    let mut dhcp = vec![0u8; repr.buffer_len()];
    repr.emit(&mut DhcpPacket::new_unchecked(&mut dhcp[..]))
        .unwrap();
    let src = repr.client_addr;
    let dst = Ipv4Addr::BROADCAST;
    let udp = UdpRepr {
        src_port: 68,
        dst_port: 67,
        payload_len: dhcp.len(),
    };
    let mut datagram = vec![0u8; udp.buffer_len()];
    datagram[8..].copy_from_slice(&dhcp);
    udp.emit(
        &mut UdpPacket::new_unchecked(&mut datagram[..]),
        &IpPair::V4 { src, dst },
    )
    .unwrap();
    let ip = ipv4_packet(src, dst, IpProtocol::UDP, 64, &datagram);
    frame(
        repr.client_hardware_addr,
        MacAddr::BROADCAST,
        EtherType::IPV4,
        &ip,
    )
}

/// The DHCP message in a frame the engine sent.
pub fn dhcp_of(frame: &[u8]) -> DhcpRepr {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    DhcpRepr::parse(&DhcpPacket::new_checked(udp.payload()).unwrap()).unwrap()
}

/// (src MAC, dst MAC, IPv4 header, ICMP) of an ICMP frame.
pub fn icmp_of(frame: &[u8]) -> (MacAddr, MacAddr, Ipv4Repr, Icmpv4Repr<'_>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let header = Ipv4Repr::parse(&ip).unwrap();
    let icmp = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(ip.payload()).unwrap()).unwrap();
    (eth.src_addr(), eth.dst_addr(), header, icmp)
}

pub fn discover() -> DhcpRepr {
    DhcpRepr::new(DhcpMessageType::DISCOVER, 0xfeed, VM_MAC)
}

// ---- the two nodes ----

/// Which node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    A,
    B,
}

/// "os-compute" (A, 192.168.200.13) and "k8s-worker" (B, 192.168.200.14).
#[derive(Debug)]
pub struct World {
    pub a: Engine,
    pub b: Engine,
    pub now: Millis,
    /// Every underlay payload sent, with its sender.
    pub underlay: Vec<(Node, Ipv4Addr, UnderlayKind, Vec<u8>)>,
}

/// Frames the world delivered to vifs, by node.
#[derive(Debug, Default)]
pub struct Delivered {
    pub frames: Vec<(Node, VifId, Vec<u8>)>,
}

impl Delivered {
    pub fn to(&self, node: Node, vif: VifId) -> Vec<&[u8]> {
        self.frames
            .iter()
            .filter(|(n, v, _)| *n == node && *v == vif)
            .map(|(_, _, f)| f.as_slice())
            .collect()
    }
}

pub fn apply(engine: &mut Engine, commands: Vec<Command>) {
    for command in commands {
        engine
            .apply(command.clone())
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    }
}

pub fn allow_all() -> Vec<AclRule> {
    vec![
        AclRule::allow_all(Direction::Ingress, Ethertype::IPv4),
        AclRule::allow_all(Direction::Egress, Ethertype::IPv4),
        AclRule::allow_all(Direction::Ingress, Ethertype::IPv6),
        AclRule::allow_all(Direction::Egress, Ethertype::IPv6),
    ]
}

/// Neutron's default group: all egress, ingress only from members.
pub fn default_group(extra_ingress: Remote) -> Vec<AclRule> {
    let mut rules = vec![
        AclRule::allow_all(Direction::Egress, Ethertype::IPv4),
        AclRule::allow_all(Direction::Egress, Ethertype::IPv6),
        AclRule {
            remote: Remote::Group(VM_SG),
            ..AclRule::allow_all(Direction::Ingress, Ethertype::IPv4)
        },
    ];
    if extra_ingress != Remote::Group(VM_SG) {
        rules.push(AclRule {
            remote: extra_ingress,
            ..AclRule::allow_all(Direction::Ingress, Ethertype::IPv4)
        });
    }
    rules
}

/// One side's programming: its own vif, the VRF, the other side's route.
#[allow(clippy::too_many_arguments)]
fn program(
    underlay: Ipv4Addr,
    remote: Ipv4Addr,
    vrf: VrfId,
    vif: VifConfig,
    remote_ip: Ipv4Addr,
    remote_label: u32,
    remote_mac: MacAddr,
    remote_sg: SgId,
) -> Vec<Command> {
    let own_ip = match vif.addrs[0] {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => unreachable!(),
    };
    let own_sgs = vif.sgs.clone();
    let id = vif.id;
    vec![
        Command::SetUnderlayAddr(underlay),
        Command::AddVrf(VrfConfig {
            id: vrf,
            vni: Some(Vni::new(VNI).unwrap()),
            name: "default-domain:k8s-contrail:seamless".into(),
        }),
        Command::AddVif(vif),
        Command::AddNextHop(NextHop {
            id: NhId(1),
            kind: NextHopKind::Receive,
        }),
        Command::AddNextHop(NextHop {
            id: NhId(2),
            kind: NextHopKind::Encap { vif: id },
        }),
        Command::AddNextHop(NextHop {
            id: NhId(3),
            kind: NextHopKind::Tunnel {
                dst: remote,
                label: Some(label(remote_label)),
                vni: None,
                encaps: all_encaps(),
                mac: Some(remote_mac),
            },
        }),
        route(vrf, "192.168.1.1/32", 1, vec![]),
        route(vrf, "192.168.1.2/32", 1, vec![]),
        route(vrf, &format!("{own_ip}/32"), 2, own_sgs),
        route(vrf, &format!("{remote_ip}/32"), 3, vec![remote_sg]),
    ]
}

pub fn route(vrf: VrfId, p: &str, nh: u32, sgs: Vec<SgId>) -> Command {
    Command::AddRoute(RouteConfig {
        vrf,
        prefix: prefix(p),
        nh: NhId(nh),
        sgs,
    })
}

pub fn vm_config() -> VifConfig {
    VifConfig {
        id: VM_VIF,
        name: "tap5e8f2a1c-3b".into(),
        kind: VifKind::Tap,
        mac: VM_MAC,
        addrs: vec![v4(VM_IP)],
        vrf: VrfId(1),
        policy: true,
        allowed_address_pairs: vec![],
        sgs: vec![VM_SG],
        label: Some(label(VM_LABEL)),
        dhcp: Some(DhcpConfig {
            addr: VM_IP,
            prefix_len: 24,
            gateway: Some(GATEWAY),
            dns: Some(DNS),
            mtu: None,
            host_routes: vec![],
            lease_time: 86_400,
        }),
    }
}

pub fn pod_config() -> VifConfig {
    VifConfig {
        id: POD_VIF,
        name: "veth3a9c01d2".into(),
        kind: VifKind::Veth,
        mac: POD_MAC,
        addrs: vec![v4(POD_IP)],
        vrf: VrfId(2),
        policy: true,
        allowed_address_pairs: vec![],
        sgs: vec![POD_SG],
        label: Some(label(POD_LABEL)),
        dhcp: None,
    }
}

impl World {
    /// The reference scenario: the VM on A in the default group, the pod on
    /// B in an allow-all group, one VN (VNI 5) with local VRF ids 1 and 2.
    pub fn new(priority: Vec<Encapsulation>) -> World {
        let mut a = Engine::default();
        let mut b = Engine::default();
        apply(
            &mut a,
            program(
                A_UNDERLAY,
                B_UNDERLAY,
                VrfId(1),
                vm_config(),
                POD_IP,
                POD_LABEL,
                POD_MAC,
                POD_SG,
            ),
        );
        apply(
            &mut b,
            program(
                B_UNDERLAY,
                A_UNDERLAY,
                VrfId(2),
                pod_config(),
                VM_IP,
                VM_LABEL,
                VM_MAC,
                VM_SG,
            ),
        );
        apply(
            &mut a,
            vec![
                Command::SetEncapPriority(priority.clone()),
                Command::SetAcl {
                    vif: VM_VIF,
                    rules: default_group(Remote::Group(VM_SG)),
                    stateful: true,
                },
            ],
        );
        apply(
            &mut b,
            vec![
                Command::SetEncapPriority(priority),
                Command::SetAcl {
                    vif: POD_VIF,
                    rules: allow_all(),
                    stateful: true,
                },
            ],
        );
        World {
            a,
            b,
            now: Millis(1_000),
            underlay: Vec::new(),
        }
    }

    pub fn engine(&mut self, node: Node) -> &mut Engine {
        match node {
            Node::A => &mut self.a,
            Node::B => &mut self.b,
        }
    }

    /// Sends `frame` from `vif` on `node` and carries every output across
    /// the fake underlay until nothing is left in flight.
    pub fn send(&mut self, node: Node, vif: VifId, frame: &[u8]) -> Delivered {
        let now = self.now;
        let mut out = Vec::new();
        self.engine(node).receive_vif(now, vif, frame, &mut out);
        let mut queue: Vec<(Node, Output)> = out.into_iter().map(|o| (node, o)).collect();
        let mut delivered = Delivered::default();
        while let Some((from, output)) = (!queue.is_empty()).then(|| queue.remove(0)) {
            match output {
                Output::ToVif { vif, frame } => delivered.frames.push((from, vif, frame)),
                Output::ToUnderlay { dst, kind, payload } => {
                    let (to, src) = match (from, dst) {
                        (Node::A, B_UNDERLAY) => (Node::B, A_UNDERLAY),
                        (Node::B, A_UNDERLAY) => (Node::A, B_UNDERLAY),
                        other => panic!("no underlay path for {other:?}"),
                    };
                    self.underlay.push((from, dst, kind, payload.clone()));
                    let mut out = Vec::new();
                    self.engine(to).receive_underlay(
                        now,
                        src,
                        kind.tunnel_kind(),
                        &payload,
                        &mut out,
                    );
                    queue.extend(out.into_iter().map(|o| (to, o)));
                }
            }
        }
        delivered
    }
}
