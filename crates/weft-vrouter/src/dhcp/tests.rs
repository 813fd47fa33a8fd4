#![allow(clippy::unwrap_used)]
use super::*;
use weft_types::Prefix;
use weft_wire::{DhcpOption, EthernetFrame};

const VROUTER: MacAddr = MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, 0x00]);
const VM: MacAddr = MacAddr([0xfa, 0x16, 0x3e, 0, 0, 3]);

fn config() -> DhcpConfig {
    DhcpConfig {
        addr: Ipv4Addr::new(192, 168, 1, 3),
        prefix_len: 24,
        gateway: Some(Ipv4Addr::new(192, 168, 1, 1)),
        dns: Some(Ipv4Addr::new(192, 168, 1, 2)),
        mtu: None,
        host_routes: vec![(
            "10.10.0.0/16".parse::<Prefix>().unwrap(),
            Ipv4Addr::new(192, 168, 1, 254),
        )],
        lease_time: 86400,
    }
}

/// A client message as a whole IPv4 packet from 0.0.0.0 (or `ciaddr`).
fn client_packet(repr: &DhcpRepr) -> Vec<u8> {
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
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::UDP,
        payload_len: udp.buffer_len(),
        ttl: 64,
        dscp_ecn: 0,
        ident: 1,
        dont_fragment: false,
        more_fragments: false,
        fragment_offset: 0,
    };
    let mut buf = vec![0u8; ip.buffer_len()];
    buf[28..].copy_from_slice(&dhcp);
    udp.emit(
        &mut UdpPacket::new_unchecked(&mut buf[20..]),
        &IpPair::V4 { src, dst },
    )
    .unwrap();
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]))
        .unwrap();
    buf
}

/// The reply frame's IPv4 destination and DHCP message.
fn reply_of(frame: &[u8]) -> (MacAddr, Ipv4Addr, DhcpRepr, Vec<u8>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let header = Ipv4Repr::parse(&ip).unwrap();
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    UdpRepr::parse(&udp, &header.ip_pair()).unwrap();
    assert_eq!((udp.src_port(), udp.dst_port()), (67, 68));
    let dhcp = DhcpPacket::new_checked(udp.payload()).unwrap();
    let repr = DhcpRepr::parse(&dhcp).unwrap();
    (
        eth.dst_addr(),
        header.dst_addr,
        repr,
        udp.payload().to_vec(),
    )
}

fn option(raw: &[u8], code: u8) -> Option<Vec<u8>> {
    let packet = DhcpPacket::new_checked(raw).unwrap();
    packet
        .options()
        .filter_map(|o| o.ok())
        .find(|o: &DhcpOption<'_>| o.code == code)
        .map(|o| o.data.to_vec())
}

#[test]
fn discover_gets_offer_with_every_setting() {
    let discover = DhcpRepr::new(DhcpMessageType::DISCOVER, 0x1234, VM);
    let frame = serve(&client_packet(&discover), &config(), 1450, VROUTER).unwrap();
    let (_, dst, offer, raw) = reply_of(&frame);
    assert_eq!(dst, Ipv4Addr::new(192, 168, 1, 3));
    assert_eq!(offer.message_type, DhcpMessageType::OFFER);
    assert_eq!(offer.xid, 0x1234);
    assert_eq!(offer.your_addr, Ipv4Addr::new(192, 168, 1, 3));
    assert_eq!(offer.routers, vec![Ipv4Addr::new(192, 168, 1, 1)]);
    assert_eq!(offer.dns_servers, vec![Ipv4Addr::new(192, 168, 1, 2)]);
    // Option bytes, as a client reads them.
    assert_eq!(option(&raw, 1), Some(vec![255, 255, 255, 0]));
    assert_eq!(option(&raw, 3), Some(vec![192, 168, 1, 1]));
    assert_eq!(option(&raw, 6), Some(vec![192, 168, 1, 2]));
    assert_eq!(option(&raw, 26), Some(1450u16.to_be_bytes().to_vec()));
    assert_eq!(option(&raw, 51), Some(86400u32.to_be_bytes().to_vec()));
    assert_eq!(option(&raw, 54), Some(vec![192, 168, 1, 1]));
    // 10.10.0.0/16 via .254, then the default route via the gateway.
    assert_eq!(
        option(&raw, 121),
        Some(vec![16, 10, 10, 192, 168, 1, 254, 0, 192, 168, 1, 1])
    );
}

#[test]
fn request_for_own_address_is_acked_and_renewal_too() {
    let mut request = DhcpRepr::new(DhcpMessageType::REQUEST, 7, VM);
    request.requested_ip = Some(Ipv4Addr::new(192, 168, 1, 3));
    request.server_identifier = Some(Ipv4Addr::new(192, 168, 1, 1));
    let (_, _, ack, _) =
        reply_of(&serve(&client_packet(&request), &config(), 1450, VROUTER).unwrap());
    assert_eq!(ack.message_type, DhcpMessageType::ACK);
    assert_eq!(ack.your_addr, Ipv4Addr::new(192, 168, 1, 3));

    // Renewal: ciaddr set, unicast back to it.
    let mut renew = DhcpRepr::new(DhcpMessageType::REQUEST, 8, VM);
    renew.client_addr = Ipv4Addr::new(192, 168, 1, 3);
    let frame = serve(&client_packet(&renew), &config(), 1450, VROUTER).unwrap();
    let (mac, dst, ack, _) = reply_of(&frame);
    assert_eq!(ack.message_type, DhcpMessageType::ACK);
    assert_eq!((mac, dst), (VM, Ipv4Addr::new(192, 168, 1, 3)));
}

#[test]
fn wrong_address_is_naked_other_server_ignored() {
    let mut request = DhcpRepr::new(DhcpMessageType::REQUEST, 9, VM);
    request.requested_ip = Some(Ipv4Addr::new(192, 168, 1, 50));
    let (mac, dst, nak, _) =
        reply_of(&serve(&client_packet(&request), &config(), 1450, VROUTER).unwrap());
    assert_eq!(nak.message_type, DhcpMessageType::NAK);
    assert_eq!((mac, dst), (MacAddr::BROADCAST, Ipv4Addr::BROADCAST));

    request.requested_ip = Some(Ipv4Addr::new(192, 168, 1, 3));
    request.server_identifier = Some(Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(
        serve(&client_packet(&request), &config(), 1450, VROUTER),
        Err(DropReason::DhcpIgnored)
    );
    let release = DhcpRepr::new(DhcpMessageType::RELEASE, 9, VM);
    assert_eq!(
        serve(&client_packet(&release), &config(), 1450, VROUTER),
        Err(DropReason::DhcpIgnored)
    );
}

#[test]
fn network_mtu_is_handed_out_but_never_more_than_fits() {
    let discover = DhcpRepr::new(DhcpMessageType::DISCOVER, 1, VM);
    let mtu_of = |mtu: Option<u16>| {
        let mut config = config();
        config.mtu = mtu;
        config.host_routes.clear();
        let (_, _, _, raw) =
            reply_of(&serve(&client_packet(&discover), &config, 1450, VROUTER).unwrap());
        assert_eq!(option(&raw, 121), None);
        option(&raw, 26)
    };
    // A network's smaller MTU goes to the workload as it is.
    assert_eq!(mtu_of(Some(1280)), Some(1280u16.to_be_bytes().to_vec()));
    // More than the overlay fits would be dropped in the tunnels: capped.
    assert_eq!(mtu_of(Some(9000)), Some(1450u16.to_be_bytes().to_vec()));
    // None set: what fits the overlay.
    assert_eq!(mtu_of(None), Some(1450u16.to_be_bytes().to_vec()));
}
