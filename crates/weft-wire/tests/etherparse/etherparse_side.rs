//! etherparse builds a frame, and reads one weft-wire built.

#![allow(clippy::unwrap_used)]

use etherparse as ep;
use proptest::prelude::*;

use crate::frame::{Frame, Net, Transport};

// ---------------------------------------------------- etherparse reads weft

fn tcp_flag_bits(t: &ep::TcpHeader) -> u8 {
    [t.fin, t.syn, t.rst, t.psh, t.ack, t.urg, t.ece, t.cwr]
        .iter()
        .enumerate()
        .map(|(bit, set)| u8::from(*set) << bit)
        .sum()
}

pub(crate) fn etherparse_reads(
    frame: &Frame,
    bytes: &[u8],
) -> std::result::Result<(), TestCaseError> {
    let headers = ep::PacketHeaders::from_ethernet_slice(bytes)
        .map_err(|e| TestCaseError::fail(format!("etherparse refused weft's frame: {e:?}")))?;
    let Some(ep::LinkHeader::Ethernet2(eth)) = &headers.link else {
        return Err(TestCaseError::fail("no Ethernet header"));
    };
    prop_assert_eq!(eth.source, frame.src_mac);
    prop_assert_eq!(eth.destination, frame.dst_mac);
    match (&frame.vlan, headers.link_exts.first()) {
        (Some(v), Some(ep::LinkExtHeader::Vlan(tag))) => {
            prop_assert_eq!(tag.pcp.value(), v.pcp);
            prop_assert_eq!(tag.drop_eligible_indicator, v.dei);
            prop_assert_eq!(tag.vlan_id.value(), v.vid);
        }
        (None, None) => {}
        (expected, got) => prop_assert!(false, "VLAN {:?} read as {:?}", expected, got),
    }
    let payload = headers.payload.slice();
    prop_assert_eq!(payload, &frame.expected_payload()[..]);
    let transport = headers.transport.as_ref();

    match (&frame.net, &headers.net) {
        (
            Net::V4 {
                src,
                dst,
                ttl,
                dscp,
                ecn,
                ident,
                dont_fragment,
                ..
            },
            Some(ep::NetHeaders::Ipv4(ip, _)),
        ) => {
            prop_assert_eq!(ip.source, *src);
            prop_assert_eq!(ip.destination, *dst);
            prop_assert_eq!(ip.time_to_live, *ttl);
            prop_assert_eq!(ip.dscp.value(), *dscp);
            prop_assert_eq!(ip.ecn.value(), *ecn);
            prop_assert_eq!(ip.identification, *ident);
            prop_assert_eq!(ip.dont_fragment, *dont_fragment);
            prop_assert!(!ip.more_fragments);
            prop_assert_eq!(ip.header_checksum, ip.calc_header_checksum());
            match (&frame.transport, transport) {
                (Transport::Udp { .. }, Some(ep::TransportHeader::Udp(u))) => {
                    prop_assert_eq!(u.checksum, u.calc_checksum_ipv4(ip, payload).unwrap());
                }
                (Transport::Tcp { .. }, Some(ep::TransportHeader::Tcp(t))) => {
                    prop_assert_eq!(t.checksum, t.calc_checksum_ipv4(ip, payload).unwrap());
                }
                (_, Some(ep::TransportHeader::Icmpv4(i))) => {
                    let expected = ep::Icmpv4Header::with_checksum(i.icmp_type.clone(), payload);
                    prop_assert_eq!(i.checksum, expected.checksum);
                }
                (_, other) => prop_assert!(false, "IPv4 transport read as {:?}", other),
            }
        }
        (
            Net::V6 {
                src,
                dst,
                hop_limit,
                traffic_class,
                flow_label,
            },
            Some(ep::NetHeaders::Ipv6(ip, _)),
        ) => {
            prop_assert_eq!(ip.source, *src);
            prop_assert_eq!(ip.destination, *dst);
            prop_assert_eq!(ip.hop_limit, *hop_limit);
            prop_assert_eq!(ip.traffic_class, *traffic_class);
            prop_assert_eq!(ip.flow_label.value(), *flow_label);
            match (&frame.transport, transport) {
                (Transport::Udp { .. }, Some(ep::TransportHeader::Udp(u))) => {
                    prop_assert_eq!(u.checksum, u.calc_checksum_ipv6(ip, payload).unwrap());
                }
                (Transport::Tcp { .. }, Some(ep::TransportHeader::Tcp(t))) => {
                    prop_assert_eq!(t.checksum, t.calc_checksum_ipv6(ip, payload).unwrap());
                }
                (_, Some(ep::TransportHeader::Icmpv6(i))) => {
                    let expected = ep::Icmpv6Header::with_checksum(
                        i.icmp_type,
                        ip.source,
                        ip.destination,
                        payload,
                    )
                    .unwrap();
                    prop_assert_eq!(i.checksum, expected.checksum);
                }
                (_, other) => prop_assert!(false, "IPv6 transport read as {:?}", other),
            }
        }
        (net, other) => prop_assert!(false, "{:?} read as {:?}", net, other),
    }

    match (&frame.transport, transport) {
        (Transport::Udp { src_port, dst_port }, Some(ep::TransportHeader::Udp(u))) => {
            prop_assert_eq!(u.source_port, *src_port);
            prop_assert_eq!(u.destination_port, *dst_port);
            prop_assert_eq!(usize::from(u.length), 8 + frame.payload.len());
        }
        (
            Transport::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                window,
                urgent,
                options,
            },
            Some(ep::TransportHeader::Tcp(t)),
        ) => {
            prop_assert_eq!(t.source_port, *src_port);
            prop_assert_eq!(t.destination_port, *dst_port);
            prop_assert_eq!(t.sequence_number, *seq);
            prop_assert_eq!(t.acknowledgment_number, *ack);
            prop_assert_eq!(tcp_flag_bits(t), *flags);
            prop_assert!(!t.ns);
            prop_assert_eq!(t.window_size, *window);
            prop_assert_eq!(t.urgent_pointer, *urgent);
            prop_assert_eq!(t.options.as_slice(), &options[..]);
        }
        (
            Transport::Echo {
                request,
                ident,
                seq_no,
            },
            Some(header),
        ) => {
            let echo = ep::IcmpEchoHeader {
                id: *ident,
                seq: *seq_no,
            };
            let matches = match header {
                ep::TransportHeader::Icmpv4(i) => {
                    i.icmp_type
                        == if *request {
                            ep::Icmpv4Type::EchoRequest(echo)
                        } else {
                            ep::Icmpv4Type::EchoReply(echo)
                        }
                }
                ep::TransportHeader::Icmpv6(i) => {
                    i.icmp_type
                        == if *request {
                            ep::Icmpv6Type::EchoRequest(echo)
                        } else {
                            ep::Icmpv6Type::EchoReply(echo)
                        }
                }
                _ => false,
            };
            prop_assert!(matches, "echo read as {:?}", header);
        }
        (Transport::Neighbor { advert, flags, .. }, Some(ep::TransportHeader::Icmpv6(i))) => {
            let expected = if *advert {
                ep::Icmpv6Type::NeighborAdvertisement(ep::icmpv6::NeighborAdvertisementHeader {
                    router: flags & 4 != 0,
                    solicited: flags & 2 != 0,
                    r#override: flags & 1 != 0,
                })
            } else {
                ep::Icmpv6Type::NeighborSolicitation
            };
            prop_assert_eq!(&i.icmp_type, &expected);
            prop_assert_eq!(payload, &frame.ndp_body()[..]);
        }
        (transport, other) => prop_assert!(false, "{:?} read as {:?}", transport, other),
    }
    Ok(())
}

// ---------------------------------------------------------- etherparse builds

pub(crate) fn etherparse_build(frame: &Frame) -> Vec<u8> {
    let ip = match &frame.net {
        Net::V4 {
            src,
            dst,
            ttl,
            dscp,
            ecn,
            ident,
            dont_fragment,
            options,
        } => {
            let header = ep::Ipv4Header {
                dscp: ep::IpDscp::try_new(*dscp).unwrap(),
                ecn: ep::IpEcn::try_new(*ecn).unwrap(),
                identification: *ident,
                dont_fragment: *dont_fragment,
                time_to_live: *ttl,
                source: *src,
                destination: *dst,
                options: ep::Ipv4Options::try_from(&options[..]).unwrap(),
                ..Default::default()
            };
            ep::IpHeaders::Ipv4(header, Default::default())
        }
        Net::V6 {
            src,
            dst,
            hop_limit,
            traffic_class,
            flow_label,
        } => ep::IpHeaders::Ipv6(
            ep::Ipv6Header {
                traffic_class: *traffic_class,
                flow_label: ep::Ipv6FlowLabel::try_new(*flow_label).unwrap(),
                hop_limit: *hop_limit,
                source: *src,
                destination: *dst,
                ..Default::default()
            },
            Default::default(),
        ),
    };
    let step = match &frame.vlan {
        Some(v) => ep::PacketBuilder::ethernet2(frame.src_mac, frame.dst_mac)
            .vlan(ep::VlanHeader::Single(ep::SingleVlanHeader {
                pcp: ep::VlanPcp::try_new(v.pcp).unwrap(),
                drop_eligible_indicator: v.dei,
                vlan_id: ep::VlanId::try_new(v.vid).unwrap(),
                ether_type: ep::EtherType(0),
            }))
            .ip(ip),
        None => ep::PacketBuilder::ethernet2(frame.src_mac, frame.dst_mac).ip(ip),
    };
    let mut out = Vec::new();
    let v6 = matches!(frame.net, Net::V6 { .. });
    match &frame.transport {
        Transport::Udp { src_port, dst_port } => step
            .udp(*src_port, *dst_port)
            .write(&mut out, &frame.payload)
            .unwrap(),
        Transport::Tcp {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window,
            urgent,
            options,
        } => {
            let mut tcp = ep::TcpHeader::new(*src_port, *dst_port, *seq, *window);
            tcp.acknowledgment_number = *ack;
            tcp.urgent_pointer = *urgent;
            [
                tcp.fin, tcp.syn, tcp.rst, tcp.psh, tcp.ack, tcp.urg, tcp.ece, tcp.cwr,
            ] = std::array::from_fn(|bit| flags & (1 << bit) != 0);
            tcp.set_options_raw(options).unwrap();
            step.tcp_header(tcp)
                .write(&mut out, &frame.payload)
                .unwrap()
        }
        Transport::Echo {
            request,
            ident,
            seq_no,
        } => {
            let echo = ep::IcmpEchoHeader {
                id: *ident,
                seq: *seq_no,
            };
            match (v6, request) {
                (false, true) => step.icmpv4(ep::Icmpv4Type::EchoRequest(echo)),
                (false, false) => step.icmpv4(ep::Icmpv4Type::EchoReply(echo)),
                (true, true) => {
                    return finish6(
                        step.icmpv6(ep::Icmpv6Type::EchoRequest(echo)),
                        &frame.payload,
                    );
                }
                (true, false) => {
                    return finish6(step.icmpv6(ep::Icmpv6Type::EchoReply(echo)), &frame.payload);
                }
            }
            .write(&mut out, &frame.payload)
            .unwrap()
        }
        Transport::Neighbor { advert, flags, .. } => {
            let icmp_type = if *advert {
                ep::Icmpv6Type::NeighborAdvertisement(ep::icmpv6::NeighborAdvertisementHeader {
                    router: flags & 4 != 0,
                    solicited: flags & 2 != 0,
                    r#override: flags & 1 != 0,
                })
            } else {
                ep::Icmpv6Type::NeighborSolicitation
            };
            return finish6(step.icmpv6(icmp_type), &frame.ndp_body());
        }
    }
    out
}

fn finish6(step: ep::PacketBuilderStep<ep::Icmpv6Header>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    step.write(&mut out, payload).unwrap();
    out
}
