//! The frame description both builders work from, and its strategies.

use proptest::prelude::*;
use std::net::Ipv6Addr;
use weft_wire::checksum::IpPair;

#[derive(Debug, Clone)]
pub(crate) struct Vlan {
    pub(crate) pcp: u8,
    pub(crate) dei: bool,
    pub(crate) vid: u16,
}

#[derive(Debug, Clone)]
pub(crate) enum Net {
    V4 {
        src: [u8; 4],
        dst: [u8; 4],
        ttl: u8,
        dscp: u8,
        ecn: u8,
        ident: u16,
        dont_fragment: bool,
        /// Only etherparse writes options; weft emits none.
        options: Vec<u8>,
    },
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
        hop_limit: u8,
        traffic_class: u8,
        flow_label: u32,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Transport {
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        urgent: u16,
        options: Vec<u8>,
    },
    /// ICMPv4 over IPv4, ICMPv6 over IPv6.
    Echo {
        request: bool,
        ident: u16,
        seq_no: u16,
    },
    /// IPv6 only; becomes echo over IPv4.
    Neighbor {
        advert: bool,
        flags: u8,
        target: [u8; 16],
        lladdr: Option<[u8; 6]>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) src_mac: [u8; 6],
    pub(crate) dst_mac: [u8; 6],
    pub(crate) vlan: Option<Vlan>,
    pub(crate) net: Net,
    pub(crate) transport: Transport,
    pub(crate) payload: Vec<u8>,
}

impl Frame {
    pub(crate) fn ips(&self) -> IpPair {
        match &self.net {
            Net::V4 { src, dst, .. } => IpPair::V4 {
                src: (*src).into(),
                dst: (*dst).into(),
            },
            Net::V6 { src, dst, .. } => IpPair::V6 {
                src: (*src).into(),
                dst: (*dst).into(),
            },
        }
    }

    pub(crate) fn v6_addrs(&self) -> (Ipv6Addr, Ipv6Addr) {
        match self.ips() {
            IpPair::V6 { src, dst } => (src, dst),
            IpPair::V4 { .. } => unreachable!("ICMPv6 over IPv4"),
        }
    }

    /// What follows the transport header as etherparse sees it: the target
    /// and options for neighbour messages, the payload for the rest.
    pub(crate) fn expected_payload(&self) -> Vec<u8> {
        match self.transport {
            Transport::Neighbor { .. } => self.ndp_body(),
            _ => self.payload.clone(),
        }
    }

    pub(crate) fn ndp_body(&self) -> Vec<u8> {
        let Transport::Neighbor {
            target,
            lladdr,
            advert,
            ..
        } = &self.transport
        else {
            return Vec::new();
        };
        let mut body = target.to_vec();
        if let Some(mac) = lladdr {
            body.extend_from_slice(&[if *advert { 2 } else { 1 }, 1]);
            body.extend_from_slice(mac);
        }
        body
    }
}

pub(crate) fn arb_v6_unicast() -> impl Strategy<Value = [u8; 16]> {
    any::<[u8; 16]>().prop_filter("unicast, specified", |a| a[0] != 0xff && *a != [0; 16])
}

pub(crate) fn arb_net() -> impl Strategy<Value = Net> {
    prop_oneof![
        (
            any::<([u8; 4], [u8; 4], u8, u16, bool)>(),
            0u8..64,
            0u8..4,
            (0usize..=10).prop_flat_map(|w| proptest::collection::vec(any::<u8>(), w * 4)),
        )
            .prop_map(
                |((src, dst, ttl, ident, dont_fragment), dscp, ecn, options)| Net::V4 {
                    src,
                    dst,
                    ttl,
                    dscp,
                    ecn,
                    ident,
                    dont_fragment,
                    options,
                }
            ),
        (
            arb_v6_unicast(),
            arb_v6_unicast(),
            any::<(u8, u8)>(),
            0u32..=0xfffff
        )
            .prop_map(
                |(src, dst, (hop_limit, traffic_class), flow_label)| Net::V6 {
                    src,
                    dst,
                    hop_limit,
                    traffic_class,
                    flow_label,
                }
            ),
    ]
}

pub(crate) fn arb_transport() -> impl Strategy<Value = Transport> {
    prop_oneof![
        any::<(u16, u16)>().prop_map(|(src_port, dst_port)| Transport::Udp { src_port, dst_port }),
        (
            any::<(u16, u16, u32, u32, u8, u16, u16)>(),
            (0usize..=10).prop_flat_map(|w| proptest::collection::vec(any::<u8>(), w * 4)),
        )
            .prop_map(
                |((src_port, dst_port, seq, ack, flags, window, urgent), options)| {
                    Transport::Tcp {
                        src_port,
                        dst_port,
                        seq,
                        ack,
                        flags,
                        window,
                        urgent,
                        options,
                    }
                }
            ),
        any::<(bool, u16, u16)>().prop_map(|(request, ident, seq_no)| Transport::Echo {
            request,
            ident,
            seq_no
        }),
        (
            any::<bool>(),
            0u8..8,
            arb_v6_unicast(),
            proptest::option::of(any::<[u8; 6]>())
        )
            .prop_map(|(advert, flags, target, lladdr)| Transport::Neighbor {
                advert,
                flags,
                target,
                lladdr
            }),
    ]
}

prop_compose! {
    pub(crate) fn arb_frame()(
        src_mac in any::<[u8; 6]>(),
        dst_mac in any::<[u8; 6]>(),
        vlan in proptest::option::of((0u8..8, any::<bool>(), 0u16..4096)),
        net in arb_net(),
        transport in arb_transport(),
        payload in proptest::collection::vec(any::<u8>(), 0..128),
    ) -> Frame {
        // Neighbour discovery only exists over IPv6.
        let transport = match (&net, transport) {
            (Net::V4 { .. }, Transport::Neighbor { .. }) => Transport::Echo {
                request: true,
                ident: 1,
                seq_no: 1,
            },
            (_, transport) => transport,
        };
        Frame {
            src_mac,
            dst_mac,
            vlan: vlan.map(|(pcp, dei, vid)| Vlan { pcp, dei, vid }),
            net,
            transport,
            payload,
        }
    }
}
