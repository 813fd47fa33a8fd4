//! weft-wire builds a frame, and reads one etherparse built.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use weft_types::MacAddr;
use weft_wire::checksum::IpPair;
use weft_wire::*;

use crate::frame::{Frame, Net, Transport};

// ---------------------------------------------------------------- weft builds

fn weft_transport_len(frame: &Frame) -> usize {
    match &frame.transport {
        Transport::Udp { .. } => 8 + frame.payload.len(),
        Transport::Tcp { options, .. } => 20 + options.len() + frame.payload.len(),
        Transport::Echo { .. } => 8 + frame.payload.len(),
        Transport::Neighbor { .. } => 8 + frame.ndp_body().len(),
    }
}

pub(crate) fn weft_build(frame: &Frame) -> Vec<u8> {
    let eth = EthernetRepr {
        src_addr: MacAddr(frame.src_mac),
        dst_addr: MacAddr(frame.dst_mac),
        ethertype: match frame.net {
            Net::V4 { .. } => EtherType::IPV4,
            Net::V6 { .. } => EtherType::IPV6,
        },
        vlan: frame.vlan.as_ref().map(|v| VlanTag {
            pcp: v.pcp,
            dei: v.dei,
            vid: v.vid,
        }),
    };
    let l4_len = weft_transport_len(frame);
    let protocol = match (&frame.transport, &frame.net) {
        (Transport::Udp { .. }, _) => IpProtocol::UDP,
        (Transport::Tcp { .. }, _) => IpProtocol::TCP,
        (_, Net::V4 { .. }) => IpProtocol::ICMP,
        (_, Net::V6 { .. }) => IpProtocol::ICMPV6,
    };
    let ip_header_len = match frame.net {
        Net::V4 { .. } => 20,
        Net::V6 { .. } => 40,
    };
    let mut buf = vec![0u8; eth.buffer_len() + ip_header_len + l4_len];
    let (eth_buf, ip_buf) = buf.split_at_mut(eth.buffer_len());
    eth.emit(&mut EthernetFrame::new_unchecked(&mut *eth_buf))
        .unwrap();
    let l4_buf = &mut ip_buf[ip_header_len..];
    let ips = frame.ips();

    match &frame.transport {
        Transport::Udp { src_port, dst_port } => {
            l4_buf[8..].copy_from_slice(&frame.payload);
            UdpRepr {
                src_port: *src_port,
                dst_port: *dst_port,
                payload_len: frame.payload.len(),
            }
            .emit(&mut UdpPacket::new_unchecked(&mut *l4_buf), &ips)
            .unwrap();
        }
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
            l4_buf[20 + options.len()..].copy_from_slice(&frame.payload);
            TcpRepr {
                src_port: *src_port,
                dst_port: *dst_port,
                seq_number: *seq,
                ack_number: *ack,
                flags: TcpFlags(*flags),
                window: *window,
                urgent_pointer: *urgent,
                options,
                payload_len: frame.payload.len(),
            }
            .emit(&mut TcpPacket::new_unchecked(&mut *l4_buf), &ips)
            .unwrap();
        }
        Transport::Echo {
            request,
            ident,
            seq_no,
        } => {
            let (ident, seq_no, data) = (*ident, *seq_no, &frame.payload[..]);
            match ips {
                IpPair::V4 { .. } => {
                    let repr = if *request {
                        Icmpv4Repr::EchoRequest {
                            ident,
                            seq_no,
                            data,
                        }
                    } else {
                        Icmpv4Repr::EchoReply {
                            ident,
                            seq_no,
                            data,
                        }
                    };
                    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut *l4_buf))
                        .unwrap();
                }
                IpPair::V6 { src, dst } => {
                    let repr = if *request {
                        Icmpv6Repr::EchoRequest {
                            ident,
                            seq_no,
                            data,
                        }
                    } else {
                        Icmpv6Repr::EchoReply {
                            ident,
                            seq_no,
                            data,
                        }
                    };
                    repr.emit(&mut Icmpv6Packet::new_unchecked(&mut *l4_buf), src, dst)
                        .unwrap();
                }
            }
        }
        Transport::Neighbor {
            advert,
            flags,
            target,
            lladdr,
        } => {
            let (src, dst) = frame.v6_addrs();
            let target_addr = Ipv6Addr::from(*target);
            let lladdr = lladdr.map(MacAddr);
            let repr = if *advert {
                Icmpv6Repr::NeighborAdvert {
                    flags: NeighborFlags(flags << 5),
                    target_addr,
                    lladdr,
                }
            } else {
                Icmpv6Repr::NeighborSolicit {
                    target_addr,
                    lladdr,
                }
            };
            repr.emit(&mut Icmpv6Packet::new_unchecked(&mut *l4_buf), src, dst)
                .unwrap();
        }
    }

    match &frame.net {
        Net::V4 {
            src,
            dst,
            ttl,
            dscp,
            ecn,
            ident,
            dont_fragment,
            ..
        } => Ipv4Repr {
            src_addr: (*src).into(),
            dst_addr: (*dst).into(),
            protocol,
            payload_len: l4_len,
            ttl: *ttl,
            dscp_ecn: dscp << 2 | ecn,
            ident: *ident,
            dont_fragment: *dont_fragment,
            more_fragments: false,
            fragment_offset: 0,
        }
        .emit(&mut Ipv4Packet::new_unchecked(&mut *ip_buf))
        .unwrap(),
        Net::V6 {
            src,
            dst,
            hop_limit,
            traffic_class,
            flow_label,
        } => Ipv6Repr {
            src_addr: (*src).into(),
            dst_addr: (*dst).into(),
            next_header: protocol,
            payload_len: l4_len,
            hop_limit: *hop_limit,
            traffic_class: *traffic_class,
            flow_label: *flow_label,
        }
        .emit(&mut Ipv6Packet::new_unchecked(&mut *ip_buf))
        .unwrap(),
    }
    buf
}

// ---------------------------------------------------------- weft reads etherparse

pub(crate) fn weft_reads(frame: &Frame, bytes: &[u8]) -> std::result::Result<(), TestCaseError> {
    let eth_frame = EthernetFrame::new_checked(bytes).unwrap();
    let eth = EthernetRepr::parse(&eth_frame).unwrap();
    prop_assert_eq!(eth.src_addr, MacAddr(frame.src_mac));
    prop_assert_eq!(eth.dst_addr, MacAddr(frame.dst_mac));
    prop_assert_eq!(
        eth.vlan,
        frame.vlan.as_ref().map(|v| VlanTag {
            pcp: v.pcp,
            dei: v.dei,
            vid: v.vid
        })
    );
    let ip_bytes = eth_frame.payload();
    let (l4, protocol) = match &frame.net {
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
            prop_assert_eq!(eth.ethertype, EtherType::IPV4);
            let packet = Ipv4Packet::new_checked(ip_bytes).unwrap();
            let ip = Ipv4Repr::parse(&packet).unwrap();
            prop_assert_eq!(ip.src_addr, Ipv4Addr::from(*src));
            prop_assert_eq!(ip.dst_addr, Ipv4Addr::from(*dst));
            prop_assert_eq!(ip.ttl, *ttl);
            prop_assert_eq!(ip.dscp_ecn, dscp << 2 | ecn);
            prop_assert_eq!(ip.ident, *ident);
            prop_assert_eq!(ip.dont_fragment, *dont_fragment);
            prop_assert!(!ip.is_fragment());
            prop_assert_eq!(packet.options(), &options[..]);
            (packet.payload(), ip.protocol)
        }
        Net::V6 {
            src,
            dst,
            hop_limit,
            traffic_class,
            flow_label,
        } => {
            prop_assert_eq!(eth.ethertype, EtherType::IPV6);
            let packet = Ipv6Packet::new_checked(ip_bytes).unwrap();
            let ip = Ipv6Repr::parse(&packet).unwrap();
            prop_assert_eq!(ip.src_addr, Ipv6Addr::from(*src));
            prop_assert_eq!(ip.dst_addr, Ipv6Addr::from(*dst));
            prop_assert_eq!(ip.hop_limit, *hop_limit);
            prop_assert_eq!(ip.traffic_class, *traffic_class);
            prop_assert_eq!(ip.flow_label, *flow_label);
            let upper = packet.upper_layer().unwrap();
            prop_assert_eq!(upper.offset, 0);
            (packet.payload(), upper.protocol)
        }
    };
    let ips = frame.ips();
    match &frame.transport {
        Transport::Udp { src_port, dst_port } => {
            prop_assert_eq!(protocol, IpProtocol::UDP);
            let packet = UdpPacket::new_checked(l4).unwrap();
            let udp = UdpRepr::parse(&packet, &ips).unwrap();
            prop_assert_eq!(
                udp,
                UdpRepr {
                    src_port: *src_port,
                    dst_port: *dst_port,
                    payload_len: frame.payload.len()
                }
            );
            prop_assert_eq!(packet.payload(), &frame.payload[..]);
        }
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
            prop_assert_eq!(protocol, IpProtocol::TCP);
            let packet = TcpPacket::new_checked(l4).unwrap();
            let tcp = TcpRepr::parse(&packet, &ips).unwrap();
            prop_assert_eq!(
                tcp,
                TcpRepr {
                    src_port: *src_port,
                    dst_port: *dst_port,
                    seq_number: *seq,
                    ack_number: *ack,
                    flags: TcpFlags(*flags),
                    window: *window,
                    urgent_pointer: *urgent,
                    options,
                    payload_len: frame.payload.len(),
                }
            );
            prop_assert_eq!(packet.payload(), &frame.payload[..]);
        }
        Transport::Echo {
            request,
            ident,
            seq_no,
        } => {
            let (ident, seq_no, data) = (*ident, *seq_no, &frame.payload[..]);
            match ips {
                IpPair::V4 { .. } => {
                    prop_assert_eq!(protocol, IpProtocol::ICMP);
                    let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(l4).unwrap()).unwrap();
                    let expected = if *request {
                        Icmpv4Repr::EchoRequest {
                            ident,
                            seq_no,
                            data,
                        }
                    } else {
                        Icmpv4Repr::EchoReply {
                            ident,
                            seq_no,
                            data,
                        }
                    };
                    prop_assert_eq!(repr, expected);
                }
                IpPair::V6 { src, dst } => {
                    prop_assert_eq!(protocol, IpProtocol::ICMPV6);
                    let packet = Icmpv6Packet::new_checked(l4).unwrap();
                    let repr = Icmpv6Repr::parse(&packet, src, dst).unwrap();
                    let expected = if *request {
                        Icmpv6Repr::EchoRequest {
                            ident,
                            seq_no,
                            data,
                        }
                    } else {
                        Icmpv6Repr::EchoReply {
                            ident,
                            seq_no,
                            data,
                        }
                    };
                    prop_assert_eq!(repr, expected);
                }
            }
        }
        Transport::Neighbor {
            advert,
            flags,
            target,
            lladdr,
        } => {
            prop_assert_eq!(protocol, IpProtocol::ICMPV6);
            let (src, dst) = frame.v6_addrs();
            let packet = Icmpv6Packet::new_checked(l4).unwrap();
            let repr = Icmpv6Repr::parse(&packet, src, dst).unwrap();
            let target_addr = Ipv6Addr::from(*target);
            let lladdr = lladdr.map(MacAddr);
            let expected = if *advert {
                Icmpv6Repr::NeighborAdvert {
                    flags: NeighborFlags(flags << 5),
                    target_addr,
                    lladdr,
                }
            } else {
                Icmpv6Repr::NeighborSolicit {
                    target_addr,
                    lladdr,
                }
            };
            prop_assert_eq!(repr, expected);
        }
    }
    Ok(())
}
