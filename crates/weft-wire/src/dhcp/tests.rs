#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use proptest::prelude::*;
use weft_types::MacAddr;

use super::*;
use crate::ethernet::tests::arb_mac;

const VM_MAC: MacAddr = MacAddr([0xfa, 0x16, 0x3e, 0x00, 0x00, 0x03]);

/// A message from its first 44 bytes (op .. chaddr), zero `sname`/`file`,
/// the cookie and the option bytes.
fn message(head: [u8; 44], options: &[u8]) -> Vec<u8> {
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(&[0u8; 192]);
    bytes.extend_from_slice(&dhcp::MAGIC_COOKIE);
    bytes.extend_from_slice(options);
    bytes
}

fn head(op: u8, yiaddr: [u8; 4]) -> [u8; 44] {
    let mut head = [0u8; 44];
    head[..4].copy_from_slice(&[op, 1, 6, 0]);
    head[4..8].copy_from_slice(&[0x39, 0x03, 0xf3, 0x26]);
    head[16..20].copy_from_slice(&yiaddr);
    head[28..34].copy_from_slice(&VM_MAC.0);
    head
}

/// A DISCOVER as a cloud-init VM sends it, generated with scapy 2.8.0:
/// `BOOTP(op=1, xid=0x3903f326, chaddr=mac2str('fa:16:3e:00:00:03')) /
/// DHCP(options=[('message-type', 'discover'), ('client_id', b'\x01' + mac),
/// ('param_req_list', [1, 3, 6, 15, 26, 121]), ('max_dhcp_size', 1500),
/// 'end'])` (265 bytes: the fixed part as built by `head`, then these
/// options).
fn discover() -> Vec<u8> {
    message(
        head(1, [0; 4]),
        &[
            0x35, 0x01, 0x01, 0x3d, 0x07, 0x01, 0xfa, 0x16, 0x3e, 0x00, 0x00, 0x03, 0x37, 0x06,
            0x01, 0x03, 0x06, 0x0f, 0x1a, 0x79, 0x39, 0x02, 0x05, 0xdc, 0xff,
        ],
    )
}

/// The OFFER weft must answer it with, generated with scapy 2.8.0:
/// `BOOTP(op=2, xid=0x3903f326, yiaddr='192.168.1.3', chaddr=mac) /
/// DHCP(options=[('message-type', 'offer'), ('server_id', '192.168.1.2'),
/// ('lease_time', 86400), ('renewal_time', 43200), ('rebinding_time',
/// 75600), ('subnet_mask', '255.255.255.0'), ('router', '192.168.1.1'),
/// ('name_server', '192.168.1.2'), ('domain', b'seamless.weft'),
/// ('interface-mtu', 1450), ('classless_static_routes', ['0.0.0.0/0:192.168.1.1',
/// '169.254.169.254/32:192.168.1.2', '10.96.0.0/12:192.168.1.1']),
/// ('client_id', b'\x01' + mac), 'end'])` (337 bytes).
fn offer() -> Vec<u8> {
    message(
        head(2, [192, 168, 1, 3]),
        &[
            0x35, 0x01, 0x02, 0x36, 0x04, 0xc0, 0xa8, 0x01, 0x02, 0x33, 0x04, 0x00, 0x01, 0x51,
            0x80, 0x3a, 0x04, 0x00, 0x00, 0xa8, 0xc0, 0x3b, 0x04, 0x00, 0x01, 0x27, 0x50, 0x01,
            0x04, 0xff, 0xff, 0xff, 0x00, 0x03, 0x04, 0xc0, 0xa8, 0x01, 0x01, 0x06, 0x04, 0xc0,
            0xa8, 0x01, 0x02, 0x0f, 0x0d, 0x73, 0x65, 0x61, 0x6d, 0x6c, 0x65, 0x73, 0x73, 0x2e,
            0x77, 0x65, 0x66, 0x74, 0x1a, 0x02, 0x05, 0xaa, 0x79, 0x15, 0x00, 0xc0, 0xa8, 0x01,
            0x01, 0x20, 0xa9, 0xfe, 0xa9, 0xfe, 0xc0, 0xa8, 0x01, 0x02, 0x0c, 0x0a, 0x60, 0xc0,
            0xa8, 0x01, 0x01, 0x3d, 0x07, 0x01, 0xfa, 0x16, 0x3e, 0x00, 0x00, 0x03, 0xff,
        ],
    )
}

fn route(net: &str, gateway: [u8; 4]) -> ClasslessRoute {
    ClasslessRoute {
        destination: net.parse().unwrap(),
        gateway: gateway.into(),
    }
}

/// The lease of the seed scenario's VM: .3 on 192.168.1.0/24, gateway .1,
/// DNS/service .2.
fn lease() -> DhcpLease {
    DhcpLease {
        your_addr: Ipv4Addr::new(192, 168, 1, 3),
        server_identifier: Ipv4Addr::new(192, 168, 1, 2),
        lease_time: 86400,
        subnet_mask: Ipv4Addr::new(255, 255, 255, 0),
        routers: vec![Ipv4Addr::new(192, 168, 1, 1)],
        dns_servers: vec![Ipv4Addr::new(192, 168, 1, 2)],
        interface_mtu: Some(1450),
        classless_routes: vec![
            route("0.0.0.0/0", [192, 168, 1, 1]),
            route("169.254.169.254/32", [192, 168, 1, 2]),
            route("10.96.0.0/12", [192, 168, 1, 1]),
        ],
        domain_name: Some("seamless.weft".into()),
    }
}

fn parse(bytes: &[u8]) -> Result<DhcpRepr> {
    DhcpRepr::parse(&DhcpPacket::new_checked(bytes)?)
}

fn emit(repr: &DhcpRepr) -> Vec<u8> {
    let mut out = vec![0xaa; repr.buffer_len()];
    repr.emit(&mut DhcpPacket::new_unchecked(&mut out[..]))
        .unwrap();
    out
}

#[test]
fn discover_parses() {
    let bytes = discover();
    let packet = DhcpPacket::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.op(), dhcp::OP_BOOTREQUEST);
    assert_eq!(packet.magic_cookie(), dhcp::MAGIC_COOKIE);
    let repr = DhcpRepr::parse(&packet).unwrap();
    assert_eq!(repr.message_type, DhcpMessageType::DISCOVER);
    assert_eq!(repr.xid, 0x3903_f326);
    assert_eq!(repr.client_hardware_addr, VM_MAC);
    assert_eq!(
        repr.client_identifier.as_deref(),
        Some(&[1, 0xfa, 0x16, 0x3e, 0, 0, 3][..])
    );
    assert_eq!(
        repr.parameter_request_list.as_deref(),
        Some(&[1, 3, 6, 15, 26, 121][..])
    );
    assert_eq!(repr.max_message_size, Some(1500));
    assert!(!repr.broadcast);
}

#[test]
fn offer_is_byte_exact() {
    let request = parse(&discover()).unwrap();
    let offer_repr = DhcpRepr::offer(&request, &lease());
    assert_eq!(emit(&offer_repr), offer());
    assert_eq!(parse(&offer()).unwrap(), offer_repr);
}

#[test]
fn ack_nak_and_inform() {
    let mut request = parse(&discover()).unwrap();
    request.message_type = DhcpMessageType::REQUEST;
    request.requested_ip = Some(Ipv4Addr::new(192, 168, 1, 3));
    let ack = DhcpRepr::ack(&request, &lease());
    assert_eq!(ack.message_type, DhcpMessageType::ACK);
    assert_eq!(ack.your_addr, Ipv4Addr::new(192, 168, 1, 3));
    assert_eq!(ack.requested_ip, None);
    let bytes = emit(&ack);
    assert_eq!(bytes[0], dhcp::OP_BOOTREPLY);
    assert_eq!(parse(&bytes).unwrap(), ack);

    let mut inform = request.clone();
    inform.message_type = DhcpMessageType::INFORM;
    inform.client_addr = Ipv4Addr::new(192, 168, 1, 3);
    let ack = DhcpRepr::ack(&inform, &lease());
    assert_eq!(ack.your_addr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(ack.client_addr, inform.client_addr);
    assert_eq!(ack.lease_time, None);
    assert_eq!(ack.renewal_time, None);

    let mut relayed = request;
    relayed.relay_agent_addr = Ipv4Addr::new(10, 0, 0, 1);
    let nak = DhcpRepr::nak(
        &relayed,
        Ipv4Addr::new(192, 168, 1, 2),
        Some("wrong network"),
    );
    assert!(nak.broadcast);
    assert_eq!(nak.your_addr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(nak.lease_time, None);
    let bytes = emit(&nak);
    assert_eq!(bytes.len(), MIN_MESSAGE_LEN);
    assert_eq!(parse(&bytes).unwrap(), nak);
}

#[test]
fn infinite_lease_has_no_t1_t2() {
    let lease = DhcpLease {
        lease_time: u32::MAX,
        ..lease()
    };
    assert_eq!(lease.renewal_time(), None);
    assert_eq!(lease.rebinding_time(), None);
}

#[test]
fn long_options_are_split_and_joined() {
    // RFC 3396: a 300-byte domain name travels as 255 + 45.
    let name = "a".repeat(300);
    let mut repr = DhcpRepr::new(DhcpMessageType::ACK, 1, VM_MAC);
    repr.domain_name = Some(name.clone());
    let bytes = emit(&repr);
    let options: Vec<_> = DhcpPacket::new_checked(&bytes[..])
        .unwrap()
        .options()
        .map(|o| o.unwrap())
        .filter(|o| o.code == dhcp::OPT_DOMAIN_NAME)
        .map(|o| o.data.len())
        .collect();
    assert_eq!(options, vec![255, 45]);
    assert_eq!(parse(&bytes).unwrap().domain_name, Some(name));
}

#[test]
fn rejects_what_a_server_must_drop() {
    let with = |mutate: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = discover();
        mutate(&mut bytes);
        parse(&bytes)
    };
    assert_eq!(with(&|b| b[236] = 0), Err(WireError::BadMagic));
    assert_eq!(with(&|b| b[0] = 3), Err(WireError::Malformed));
    assert_eq!(with(&|b| b[1] = 6), Err(WireError::Unsupported));
    // BOOTP: no message type.
    assert_eq!(
        with(&|b| b[240] = dhcp::OPT_HOST_NAME),
        Err(WireError::Unsupported)
    );
    // A message type of two bytes.
    assert_eq!(
        with(&|b| {
            b.truncate(240);
            b.extend_from_slice(&[53, 2, 1, 1, 255]);
        }),
        Err(WireError::Malformed)
    );
    // A lease time of three bytes, a router list of five.
    for option in [&[51u8, 3, 0, 0, 1][..], &[3, 5, 1, 2, 3, 4, 5]] {
        assert_eq!(
            with(&|b| {
                b.truncate(243);
                b.extend_from_slice(option);
                b.push(dhcp::OPT_END);
            }),
            Err(WireError::Malformed)
        );
    }
    // An option running past the end.
    assert_eq!(
        with(&|b| {
            b.truncate(243);
            b.extend_from_slice(&[61, 9, 1]);
        }),
        Err(WireError::Truncated)
    );
    // A classless route of width 33, and one cut short.
    for option in [[121u8, 5, 33, 1, 1, 1, 1], [121, 5, 24, 10, 0, 0, 1]] {
        assert_eq!(
            with(&|b| {
                b.truncate(243);
                b.extend_from_slice(&option);
            }),
            Err(WireError::Malformed)
        );
    }
    assert_eq!(parse(&discover()[..239]), Err(WireError::Truncated));
}

#[test]
fn emit_refuses_a_short_buffer() {
    let repr = parse(&offer()).unwrap();
    let mut out = vec![0u8; repr.buffer_len() - 1];
    assert_eq!(
        repr.emit(&mut DhcpPacket::new_unchecked(&mut out[..])),
        Err(WireError::BufferTooSmall)
    );
}

fn arb_addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn arb_text() -> impl Strategy<Value = String> {
    "[a-z0-9.-]{0,300}"
}

fn arb_route() -> impl Strategy<Value = ClasslessRoute> {
    (arb_addr(), 0u8..=32, arb_addr()).prop_map(|(addr, len, gateway)| ClasslessRoute {
        destination: Ipv4Net::new(addr, len).unwrap().trunc(),
        gateway,
    })
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..300)
}

prop_compose! {
    fn arb_fixed()(
        message_type in any::<u8>(),
        xid in any::<u32>(),
        secs in any::<u16>(),
        broadcast in any::<bool>(),
        hops in any::<u8>(),
        addrs in proptest::array::uniform4(arb_addr()),
        mac in arb_mac(),
    ) -> DhcpRepr {
        DhcpRepr {
            secs,
            broadcast,
            hops,
            client_addr: addrs[0],
            your_addr: addrs[1],
            server_addr: addrs[2],
            relay_agent_addr: addrs[3],
            ..DhcpRepr::new(DhcpMessageType(message_type), xid, mac)
        }
    }
}

prop_compose! {
    fn arb_repr()(
        fixed in arb_fixed(),
        client_identifier in proptest::option::of(arb_bytes()),
        requested_ip in proptest::option::of(arb_addr()),
        server_identifier in proptest::option::of(arb_addr()),
        parameter_request_list in proptest::option::of(arb_bytes()),
        max_message_size in proptest::option::of(any::<u16>()),
        times in proptest::array::uniform3(proptest::option::of(any::<u32>())),
        subnet_mask in proptest::option::of(arb_addr()),
        routers in proptest::collection::vec(arb_addr(), 0..70),
        dns_servers in proptest::collection::vec(arb_addr(), 0..4),
        interface_mtu in proptest::option::of(any::<u16>()),
        classless_routes in proptest::collection::vec(arb_route(), 0..40),
        domain_name in proptest::option::of(arb_text()),
        message in proptest::option::of(arb_text()),
    ) -> DhcpRepr {
        DhcpRepr {
            client_identifier,
            requested_ip,
            server_identifier,
            parameter_request_list,
            max_message_size,
            lease_time: times[0],
            renewal_time: times[1],
            rebinding_time: times[2],
            subnet_mask,
            routers,
            dns_servers,
            interface_mtu,
            classless_routes,
            domain_name,
            message,
            ..fixed
        }
    }
}

proptest! {
    #[test]
    fn emit_then_parse_round_trips(repr in arb_repr()) {
        let bytes = emit(&repr);
        prop_assert!(bytes.len() >= MIN_MESSAGE_LEN);
        prop_assert_eq!(parse(&bytes).unwrap(), repr);
    }
}

#[test]
fn options_iterator_skips_pad_and_stops_at_end() {
    let options = [0, 0, 53, 1, 1, 0, 12, 3, b'v', b'm', b'1', 255, 53, 1, 2];
    let found: Vec<_> = DhcpOptions::new(&options).collect::<Result<_>>().unwrap();
    assert_eq!(
        found,
        vec![
            DhcpOption {
                code: 53,
                data: &[1]
            },
            DhcpOption {
                code: 12,
                data: b"vm1"
            },
        ]
    );
}

#[test]
fn options_iterator_reports_truncation_once() {
    for cut in [&[53u8][..], &[53, 4, 1, 2]] {
        let mut options = DhcpOptions::new(cut);
        assert_eq!(options.next(), Some(Err(WireError::Truncated)));
        assert_eq!(options.next(), None);
    }
    // Without an end option the buffer's end is the end.
    assert_eq!(DhcpOptions::new(&[53, 1, 1, 0, 0]).count(), 1);
}
