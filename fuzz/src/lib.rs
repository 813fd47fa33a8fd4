//! Shared walkers for the fuzz targets in `fuzz_targets/`.
//!
//! Each walker parses what it can and, for every representation that
//! parses, emits it again and checks that it parses back to the same value.
//! A panic is a finding: either a decoder panicked on hostile input (which
//! weft-wire must never do) or a parse/emit pair disagrees.
//!
//! [`api`] holds the intent-model harness of the `api_*` targets,
//! [`neutron`] the Neutron API harness of `neutron_api`.

pub mod api;
pub mod neutron;

use std::net::Ipv6Addr;

use weft_types::{MacAddr, MplsLabel};
use weft_wire::checksum::IpPair;
use weft_wire::consts::{icmpv4, port};
use weft_wire::*;

/// Calls every accessor of every view built unchecked over `data`: none may
/// panic, whatever the length.
pub fn poke_unchecked(data: &[u8]) {
    let eth = EthernetFrame::new_unchecked(data);
    let _ = (
        eth.dst_addr(),
        eth.src_addr(),
        eth.vlan(),
        eth.ethertype(),
        eth.payload(),
    );
    let arp = ArpPacket::new_unchecked(data);
    let _ = (
        arp.operation(),
        arp.source_hardware_addr(),
        arp.target_protocol_addr(),
    );
    let ip4 = Ipv4Packet::new_unchecked(data);
    let _ = (
        ip4.header_len(),
        ip4.options(),
        ip4.payload(),
        ip4.verify_checksum(),
    );
    let ip6 = Ipv6Packet::new_unchecked(data);
    let _ = (
        ip6.flow_label(),
        ip6.payload(),
        ip6.upper_layer(),
        ip6.dst_addr(),
    );
    let ips = IpPair::V4 {
        src: ip4.src_addr(),
        dst: ip4.dst_addr(),
    };
    let udp = UdpPacket::new_unchecked(data);
    let _ = (udp.payload(), udp.verify_checksum(&ips));
    let tcp = TcpPacket::new_unchecked(data);
    let _ = (
        tcp.options(),
        tcp.payload(),
        tcp.flags(),
        tcp.verify_checksum(&ips),
    );
    let icmp = Icmpv4Packet::new_unchecked(data);
    let _ = (icmp.data(), icmp.next_hop_mtu(), icmp.verify_checksum());
    let icmp6 = Icmpv6Packet::new_unchecked(data);
    let _ = (
        icmp6.target_addr(),
        icmp6.ndp_options(),
        icmp6.neighbor_flags(),
    );
    let mpls = MplsPacket::new_unchecked(data);
    let _ = (mpls.label(), mpls.payload());
    let gre = GrePacket::new_unchecked(data);
    let _ = (
        gre.key(),
        gre.sequence(),
        gre.checksum(),
        gre.payload(),
        gre.verify_checksum(),
    );
    let vxlan = VxlanPacket::new_unchecked(data);
    let _ = (vxlan.vni(), vxlan.payload());
    let dhcp = DhcpPacket::new_unchecked(data);
    let _ = (
        dhcp.client_hardware_addr(),
        dhcp.magic_cookie(),
        dhcp.boot_file(),
    );
    let _ = dhcp.options().count();

    // Setters over a short copy drop what does not fit.
    let mut copy = data.to_vec();
    let mut ip = Ipv4Packet::new_unchecked(&mut copy[..]);
    ip.fill_checksum();
    ip.decrement_ttl();
    let mut tcp = TcpPacket::new_unchecked(&mut copy[..]);
    tcp.fill_checksum(&ips);
    let mut gre = GrePacket::new_unchecked(&mut copy[..]);
    gre.set_sequence(1);
    gre.fill_checksum();
}

/// An Ethernet frame and everything above it.
pub fn walk_frame(data: &[u8]) {
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        return;
    };
    let Ok(eth) = EthernetRepr::parse(&frame) else {
        return;
    };
    let mut out = vec![0u8; eth.buffer_len()];
    eth.emit(&mut EthernetFrame::new_unchecked(&mut out[..]))
        .unwrap();
    assert_eq!(
        EthernetRepr::parse(&EthernetFrame::new_checked(&out[..]).unwrap()),
        Ok(eth)
    );

    match eth.ethertype {
        EtherType::ARP => walk_arp(frame.payload()),
        EtherType::IPV4 | EtherType::IPV6 => walk_ip(frame.payload()),
        _ => {}
    }
}

fn walk_arp(data: &[u8]) {
    let Ok(packet) = ArpPacket::new_checked(data) else {
        return;
    };
    let Ok(arp) = ArpRepr::parse(&packet) else {
        return;
    };
    let mut out = [0u8; 28];
    arp.emit(&mut ArpPacket::new_unchecked(&mut out[..]))
        .unwrap();
    assert_eq!(
        ArpRepr::parse(&ArpPacket::new_checked(&out[..]).unwrap()),
        Ok(arp)
    );
    if let Some(reply) = arp.proxy_reply(MacAddr([2, 0, 0, 0, 0, 1])) {
        reply
            .emit(&mut ArpPacket::new_unchecked(&mut out[..]))
            .unwrap();
    }
}

/// An IPv4 or IPv6 packet, told apart by its version nibble: walked as
/// given, then again with its checksums repaired so the fuzzer reaches the
/// layers above them.
pub fn walk_ip(data: &[u8]) {
    walk_ip_exact(data);
    if let Some(repaired) = repair_checksums(data) {
        walk_ip_exact(&repaired);
    }
}

fn walk_ip_exact(data: &[u8]) {
    match data.first().map(|b| b >> 4) {
        Some(4) => walk_ipv4(data),
        Some(6) => walk_ipv6(data),
        _ => {}
    }
}

/// A copy of an IP packet with the IPv4 header checksum and the transport
/// checksum (UDP, TCP, ICMP, ICMPv6) recomputed; `None` if nothing could be
/// repaired or nothing changed.
pub fn repair_checksums(data: &[u8]) -> Option<Vec<u8>> {
    let mut copy = data.to_vec();
    let (protocol, ips, l4) = match data.first().map(|b| b >> 4) {
        Some(4) => {
            let mut ip = Ipv4Packet::new_checked(&mut copy[..]).ok()?;
            ip.fill_checksum();
            let range = ip.header_len()..usize::from(ip.total_len());
            (ip.protocol(), ip.ip_pair(), range)
        }
        Some(6) => {
            let ip = Ipv6Packet::new_checked(&copy[..]).ok()?;
            let upper = ip.upper_layer().ok()?;
            let start = 40 + upper.offset;
            let range = start..40 + usize::from(ip.payload_len());
            (upper.protocol, ip.ip_pair(), range)
        }
        _ => return None,
    };
    if let Some(l4) = copy.get_mut(l4) {
        match protocol {
            IpProtocol::UDP => {
                let mut udp = UdpPacket::new_unchecked(l4);
                if udp.check_len().is_ok() {
                    udp.fill_checksum(&ips);
                }
            }
            IpProtocol::TCP => TcpPacket::new_unchecked(l4).fill_checksum(&ips),
            IpProtocol::ICMP => Icmpv4Packet::new_unchecked(l4).fill_checksum(),
            IpProtocol::ICMPV6 => {
                if let IpPair::V6 { src, dst } = ips {
                    Icmpv6Packet::new_unchecked(l4).fill_checksum(src, dst);
                }
            }
            _ => {}
        }
    }
    (copy != data).then_some(copy)
}

fn walk_ipv4(data: &[u8]) {
    let Ok(packet) = Ipv4Packet::new_checked(data) else {
        return;
    };
    let Ok(ip) = Ipv4Repr::parse(&packet) else {
        return;
    };
    let payload = packet.payload();
    let mut out = vec![0u8; ip.buffer_len()];
    out[ip.header_len()..].copy_from_slice(payload);
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
        .unwrap();
    assert_eq!(
        Ipv4Repr::parse(&Ipv4Packet::new_checked(&out[..]).unwrap()),
        Ok(ip)
    );

    // Whatever arrived, an error about it is either refused or well formed.
    if let Ok(error) = Icmpv4Repr::dst_unreachable(icmpv4::UNREACH_ADMIN_PROHIBITED, 0, data) {
        round_trip_icmpv4(&error);
    }
    if ip.fragment_offset != 0 {
        return;
    }
    let ips = ip.ip_pair();
    match ip.protocol {
        IpProtocol::ICMP => walk_icmpv4(payload),
        protocol => walk_transport(protocol, payload, &ips),
    }
}

fn walk_ipv6(data: &[u8]) {
    let Ok(packet) = Ipv6Packet::new_checked(data) else {
        return;
    };
    let Ok(ip) = Ipv6Repr::parse(&packet) else {
        return;
    };
    let payload = packet.payload();
    let mut out = vec![0u8; ip.buffer_len()];
    out[ip.header_len()..].copy_from_slice(payload);
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]))
        .unwrap();
    assert_eq!(
        Ipv6Repr::parse(&Ipv6Packet::new_checked(&out[..]).unwrap()),
        Ok(ip)
    );

    let Ok(upper) = packet.upper_layer() else {
        return;
    };
    if upper.fragment.is_some_and(|f| f.offset != 0) {
        return;
    }
    let Some(l4) = payload.get(upper.offset..) else {
        panic!(
            "upper-layer offset {} past a {}-byte payload",
            upper.offset,
            payload.len()
        );
    };
    match upper.protocol {
        IpProtocol::ICMPV6 => walk_icmpv6(l4, ip.src_addr, ip.dst_addr),
        protocol => walk_transport(protocol, l4, &ip.ip_pair()),
    }
}

fn walk_transport(protocol: IpProtocol, data: &[u8], ips: &IpPair) {
    match protocol {
        IpProtocol::UDP => walk_udp(data, ips),
        IpProtocol::TCP => walk_tcp(data, ips),
        IpProtocol::GRE => walk_gre(data),
        _ => {}
    }
}

fn walk_udp(data: &[u8], ips: &IpPair) {
    let Ok(packet) = UdpPacket::new_checked(data) else {
        return;
    };
    let Ok(udp) = UdpRepr::parse(&packet, ips) else {
        return;
    };
    let mut out = vec![0u8; udp.buffer_len()];
    out[8..].copy_from_slice(packet.payload());
    udp.emit(&mut UdpPacket::new_unchecked(&mut out[..]), ips)
        .unwrap();
    assert_eq!(
        UdpRepr::parse(&UdpPacket::new_checked(&out[..]).unwrap(), ips),
        Ok(udp)
    );

    let payload = packet.payload();
    match udp.dst_port {
        port::DHCP_SERVER | port::DHCP_CLIENT => walk_dhcp(payload),
        port::MPLS_UDP => walk_mpls(payload),
        port::VXLAN => {
            if let Ok(vxlan) = VxlanPacket::new_checked(payload)
                && VxlanRepr::parse(&vxlan).is_ok()
            {
                walk_frame(vxlan.payload());
            }
        }
        _ => {}
    }
}

fn walk_tcp(data: &[u8], ips: &IpPair) {
    let Ok(packet) = TcpPacket::new_checked(data) else {
        return;
    };
    let Ok(tcp) = TcpRepr::parse(&packet, ips) else {
        return;
    };
    let mut out = vec![0u8; tcp.buffer_len()];
    out[tcp.header_len()..].copy_from_slice(packet.payload());
    tcp.emit(&mut TcpPacket::new_unchecked(&mut out[..]), ips)
        .unwrap();
    assert_eq!(
        TcpRepr::parse(&TcpPacket::new_checked(&out[..]).unwrap(), ips),
        Ok(tcp)
    );
}

fn round_trip_icmpv4(repr: &Icmpv4Repr<'_>) {
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]))
        .unwrap();
    assert_eq!(
        Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&out[..]).unwrap()),
        Ok(*repr)
    );
}

fn walk_icmpv4(data: &[u8]) {
    let Ok(packet) = Icmpv4Packet::new_checked(data) else {
        return;
    };
    let Ok(icmp) = Icmpv4Repr::parse(&packet) else {
        return;
    };
    round_trip_icmpv4(&icmp);
    if let Some(reply) = icmp.echo_reply() {
        round_trip_icmpv4(&reply);
    }
}

fn walk_icmpv6(data: &[u8], src: Ipv6Addr, dst: Ipv6Addr) {
    let Ok(packet) = Icmpv6Packet::new_checked(data) else {
        return;
    };
    let Ok(icmp) = Icmpv6Repr::parse(&packet, src, dst) else {
        return;
    };
    let mut out = vec![0u8; icmp.buffer_len()];
    icmp.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), src, dst)
        .unwrap();
    assert_eq!(
        Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&out[..]).unwrap(), src, dst),
        Ok(icmp)
    );
    if let Some(advert) = icmp.proxy_advert(MacAddr([2, 0, 0, 0, 0, 1]), true) {
        let mut out = vec![0u8; advert.buffer_len()];
        // Sent back to the solicitor, from the target.
        advert
            .emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), dst, src)
            .unwrap();
    }
}

fn walk_gre(data: &[u8]) {
    let Ok(packet) = GrePacket::new_checked(data) else {
        return;
    };
    let Ok(gre) = GreRepr::parse(&packet) else {
        return;
    };
    let mut out = vec![0u8; gre.header_len()];
    out.extend_from_slice(packet.payload());
    gre.emit(&mut GrePacket::new_unchecked(&mut out[..]))
        .unwrap();
    assert_eq!(
        GreRepr::parse(&GrePacket::new_checked(&out[..]).unwrap()),
        Ok(gre)
    );
    if gre.protocol == EtherType::MPLS_UNICAST {
        walk_mpls(packet.payload());
    }
}

fn walk_mpls(data: &[u8]) {
    let Ok((entries, inner)) = MplsStack::split(data) else {
        return;
    };
    assert!(!entries.is_empty() && entries.len() <= weft_wire::mpls::MAX_STACK_DEPTH);
    for entry in &entries {
        let mut out = [0u8; 4];
        entry
            .emit(&mut MplsPacket::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(
            MplsRepr::parse(&MplsPacket::new_checked(&out[..]).unwrap()),
            Ok(*entry)
        );
    }
    walk_ip(inner);
}

/// A DHCP message: the options iterator, the repr round trip, and the
/// server's replies.
pub fn walk_dhcp(data: &[u8]) {
    let Ok(packet) = DhcpPacket::new_checked(data) else {
        return;
    };
    // The iterator ends, and yields at most one error, as its last item.
    let mut errors = 0;
    for option in packet.options() {
        assert_eq!(errors, 0, "option after an error");
        if option.is_err() {
            errors += 1;
        }
    }
    let Ok(dhcp) = DhcpRepr::parse(&packet) else {
        return;
    };
    let round_trip = |repr: &DhcpRepr| {
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut DhcpPacket::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(
            DhcpRepr::parse(&DhcpPacket::new_checked(&out[..]).unwrap()).as_ref(),
            Ok(repr)
        );
    };
    round_trip(&dhcp);

    let lease = DhcpLease {
        your_addr: [192, 168, 1, 3].into(),
        server_identifier: [192, 168, 1, 2].into(),
        lease_time: dhcp.lease_time.unwrap_or(86400),
        subnet_mask: [255, 255, 255, 0].into(),
        routers: dhcp.routers.clone(),
        dns_servers: dhcp.dns_servers.clone(),
        interface_mtu: dhcp.interface_mtu,
        classless_routes: dhcp.classless_routes.clone(),
        domain_name: dhcp.domain_name.clone(),
    };
    round_trip(&DhcpRepr::offer(&dhcp, &lease));
    round_trip(&DhcpRepr::ack(&dhcp, &lease));
    round_trip(&DhcpRepr::nak(
        &dhcp,
        lease.server_identifier,
        dhcp.message.as_deref(),
    ));
}

/// An underlay packet on the tunnel receive path, as given and with its
/// outer checksums repaired.
pub fn walk_overlay(data: &[u8]) {
    walk_overlay_exact(data);
    if let Some(repaired) = repair_checksums(data) {
        walk_overlay_exact(&repaired);
    }
}

fn walk_overlay_exact(data: &[u8]) {
    let Ok(decap) = decapsulate(data) else {
        return;
    };
    assert_eq!(
        data.get(decap.inner_offset..decap.inner_offset + decap.inner.len()),
        Some(decap.inner)
    );
    match decap.encap.tunnel {
        Tunnel::Vxlan { .. } => walk_frame(decap.inner),
        Tunnel::MplsOverUdp { label, .. } | Tunnel::MplsOverGre { label } => {
            assert!(label.get() >= MplsLabel::FIRST_UNRESERVED);
            walk_ip(decap.inner);
        }
    }
    let mut out = vec![0u8; decap.encap.header_len()];
    out.extend_from_slice(decap.inner);
    if decap.encap.emit(&mut out).is_err() {
        // Only an inner packet too big for a fresh outer header may fail
        // (the received one may have had no room to spare).
        assert!(out.len() > 0xffff);
        return;
    }
    let again = decapsulate(&out).unwrap();
    assert_eq!(again.encap, decap.encap);
    assert_eq!(again.inner, decap.inner);
}
