#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;
use crate::ipv4::tests::PING;

// Outer headers generated with scapy 2.8.0 around the 32-byte PING of the
// ipv4 tests, underlay 192.168.200.14 → 192.168.200.13 (k8s-worker →
// os-compute in the seed), TTL 64, id 0, source port 0xc44c (what
// `entropy_port(0x1234_5678)` gives), label 17, VNI 5001.

/// `IP(src, dst, ttl=64, id=0) / UDP(sport=0xc44c, dport=6635, chksum=0) /
/// MPLS(label=17, s=1, ttl=64) / ping`.
const MPLS_UDP: [u8; 32] = [
    0x45, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x69, 0x40, 0xc0, 0xa8, 0xc8, 0x0e,
    0xc0, 0xa8, 0xc8, 0x0d, 0xc4, 0x4c, 0x19, 0xeb, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x01, 0x11, 0x40,
];

/// The same with the UDP checksum scapy computes (0xfeaf).
const MPLS_UDP_CHECKSUMMED: [u8; 32] = [
    0x45, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x69, 0x40, 0xc0, 0xa8, 0xc8, 0x0e,
    0xc0, 0xa8, 0xc8, 0x0d, 0xc4, 0x4c, 0x19, 0xeb, 0x00, 0x2c, 0xfe, 0xaf, 0x00, 0x01, 0x11, 0x40,
];

/// `IP(src, dst, ttl=64, id=0) / GRE(proto=0x8847) / MPLS(label=17, s=1,
/// ttl=64) / ping`.
const MPLS_GRE: [u8; 28] = [
    0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x00, 0x40, 0x2f, 0x69, 0x26, 0xc0, 0xa8, 0xc8, 0x0e,
    0xc0, 0xa8, 0xc8, 0x0d, 0x00, 0x00, 0x88, 0x47, 0x00, 0x01, 0x11, 0x40,
];

/// `IP(src, dst, ttl=64, id=0) / UDP(sport=0xc44c, dport=4789, chksum=0) /
/// VXLAN(vni=5001, flags=0x08) / Ether(dst='fa:16:3e:00:00:03',
/// src='fa:16:3e:00:00:04') / ping`: 36 outer bytes, then the 14-byte inner
/// Ethernet header.
const VXLAN: [u8; 50] = [
    0x45, 0x00, 0x00, 0x52, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x69, 0x2e, 0xc0, 0xa8, 0xc8, 0x0e,
    0xc0, 0xa8, 0xc8, 0x0d, 0xc4, 0x4c, 0x12, 0xb5, 0x00, 0x3e, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
    0x00, 0x13, 0x89, 0x00, 0xfa, 0x16, 0x3e, 0x00, 0x00, 0x03, 0xfa, 0x16, 0x3e, 0x00, 0x00, 0x04,
    0x08, 0x00,
];

fn encap(tunnel: Tunnel, checksum: bool) -> Encap {
    Encap {
        src_addr: Ipv4Addr::new(192, 168, 200, 14),
        dst_addr: Ipv4Addr::new(192, 168, 200, 13),
        ttl: 64,
        dscp_ecn: 0,
        ident: 0,
        checksum,
        tunnel,
    }
}

fn label() -> MplsLabel {
    MplsLabel::new(17).unwrap()
}

/// Emits `encap` in front of `inner`, leaving headroom as the data path would.
fn wrap(encap: &Encap, inner: &[u8]) -> Vec<u8> {
    let mut packet = vec![0xee; encap.header_len()];
    packet.extend_from_slice(inner);
    encap.emit(&mut packet).unwrap();
    packet
}

fn concat(outer: &[u8], inner: &[u8]) -> Vec<u8> {
    [outer, inner].concat()
}

#[test]
fn entropy_port_is_in_the_dynamic_range() {
    assert_eq!(entropy_port(0x1234_5678), 0xc44c);
    assert_eq!(entropy_port(0), 49152);
    assert_eq!(entropy_port(u32::MAX), 49152);
    assert_eq!(entropy_port(0x3fff), 65535);
}

#[test]
fn mpls_over_udp_is_byte_exact_both_ways() {
    let plain = encap(Tunnel::mpls_over_udp(label(), 0x1234_5678), false);
    let expected = concat(&MPLS_UDP, &PING);
    assert_eq!(wrap(&plain, &PING), expected);
    let checksummed = Encap {
        checksum: true,
        ..plain
    };
    let expected_checksummed = concat(&MPLS_UDP_CHECKSUMMED, &PING);
    assert_eq!(wrap(&checksummed, &PING), expected_checksummed);

    for (bytes, encap) in [(&expected, plain), (&expected_checksummed, checksummed)] {
        let decap = decapsulate(bytes).unwrap();
        assert_eq!(decap.encap, encap);
        assert_eq!(decap.inner, PING);
        assert_eq!(decap.inner_offset, 32);
    }
}

#[test]
fn mpls_over_gre_is_byte_exact_both_ways() {
    let gre = encap(Tunnel::MplsOverGre { label: label() }, false);
    let expected = concat(&MPLS_GRE, &PING);
    assert_eq!(wrap(&gre, &PING), expected);
    let decap = decapsulate(&expected).unwrap();
    assert_eq!(decap.encap, gre);
    assert_eq!(decap.inner, PING);
    assert_eq!(decap.inner_offset, 28);
}

#[test]
fn vxlan_is_byte_exact_both_ways() {
    let vxlan = encap(Tunnel::vxlan(Vni::new(5001).unwrap(), 0x1234_5678), false);
    let inner = concat(&VXLAN[36..], &PING);
    let expected = concat(&VXLAN, &PING);
    assert_eq!(wrap(&vxlan, &inner), expected);
    let decap = decapsulate(&expected).unwrap();
    assert_eq!(decap.encap, vxlan);
    assert_eq!(decap.inner, inner);
    assert_eq!(decap.inner_offset, 36);
}

#[test]
fn decap_trims_underlay_padding() {
    let mut padded = concat(&MPLS_UDP, &PING);
    padded.extend_from_slice(&[0; 6]);
    assert_eq!(decapsulate(&padded).unwrap().inner, PING);
}

#[test]
fn decap_bounds_the_inner_packet_by_the_udp_length() {
    // Four bytes inside the IPv4 total length but past the UDP length (found
    // by the wire_overlay fuzz target): the inner packet stops at the UDP
    // length and still starts right after the VXLAN header.
    let mut bytes = concat(&VXLAN, &PING);
    bytes.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let mut ip = Ipv4Packet::new_unchecked(&mut bytes[..]);
    ip.set_total_len(ip.total_len() + 4);
    ip.fill_checksum();
    let decap = decapsulate(&bytes).unwrap();
    assert_eq!(decap.inner_offset, 36);
    assert_eq!(decap.inner, &bytes[36..bytes.len() - 4]);
}

#[test]
fn decap_names_each_drop_reason() {
    let udp = concat(&MPLS_UDP, &PING);
    let with = |mutate: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = udp.clone();
        mutate(&mut bytes);
        Ipv4Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        decapsulate(&bytes).map(|d| d.encap)
    };
    // Outer fragment.
    assert_eq!(with(&|b| b[6] = 0x20), Err(WireError::Fragment));
    // Another UDP port.
    assert_eq!(with(&|b| b[23] = 0x35), Err(WireError::Unsupported));
    // A reserved label (3, implicit null) and a two-label stack.
    assert_eq!(
        with(&|b| b[28..32].copy_from_slice(&[0, 0, 0x31, 64])),
        Err(WireError::Unsupported)
    );
    assert_eq!(with(&|b| b[30] = 0x10), Err(WireError::Unsupported));
    // Another IP protocol.
    assert_eq!(with(&|b| b[9] = 6), Err(WireError::Unsupported));
    // A corrupted UDP checksum.
    let mut bad = concat(&MPLS_UDP_CHECKSUMMED, &PING);
    bad[40] ^= 1;
    assert_eq!(
        decapsulate(&bad).map(|d| d.encap),
        Err(WireError::BadChecksum)
    );
    // GRE carrying something other than MPLS.
    let mut gre = concat(&MPLS_GRE, &PING);
    gre[22..24].copy_from_slice(&[0x08, 0x00]);
    assert_eq!(
        decapsulate(&gre).map(|d| d.encap),
        Err(WireError::Unsupported)
    );
    // VXLAN with VNI 0 or the I flag clear.
    let mut vxlan = concat(&VXLAN, &PING);
    vxlan[32..35].fill(0);
    assert_eq!(
        decapsulate(&vxlan).map(|d| d.encap),
        Err(WireError::Unsupported)
    );
    let mut vxlan = concat(&VXLAN, &PING);
    vxlan[28] = 0;
    assert_eq!(
        decapsulate(&vxlan).map(|d| d.encap),
        Err(WireError::Malformed)
    );
    // Cut inside the label.
    let mut short = MPLS_UDP[..30].to_vec();
    short[3] = 30;
    short[25] = 10;
    Ipv4Packet::new_unchecked(&mut short[..]).fill_checksum();
    assert_eq!(
        decapsulate(&short).map(|d| d.encap),
        Err(WireError::Truncated)
    );
}

#[test]
fn emit_checks_room_and_size() {
    let gre = encap(Tunnel::MplsOverGre { label: label() }, false);
    let mut small = vec![0u8; gre.header_len() - 1];
    assert_eq!(gre.emit(&mut small), Err(WireError::BufferTooSmall));
    let mut huge = vec![0u8; 70_000];
    assert_eq!(gre.emit(&mut huge), Err(WireError::ValueTooLarge));
}

fn arb_tunnel() -> impl Strategy<Value = (Tunnel, bool)> {
    let label = (16u32..=mpls::MAX_LABEL).prop_map(|l| MplsLabel::new(l).unwrap());
    let vni = (1u32..=vxlan::MAX_VNI).prop_map(|v| Vni::new(v).unwrap());
    prop_oneof![
        (label.clone(), any::<u32>(), any::<bool>())
            .prop_map(|(label, hash, ck)| (Tunnel::mpls_over_udp(label, hash), ck)),
        label.prop_map(|label| (Tunnel::MplsOverGre { label }, false)),
        (vni, any::<u32>(), any::<bool>())
            .prop_map(|(vni, hash, ck)| (Tunnel::vxlan(vni, hash), ck)),
    ]
}

proptest! {
    #[test]
    fn emit_then_decapsulate_round_trips(
        (tunnel, checksum) in arb_tunnel(),
        addrs in any::<([u8; 4], [u8; 4])>(),
        ttl in any::<u8>(),
        dscp_ecn in any::<u8>(),
        ident in any::<u16>(),
        inner in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let encap = Encap {
            src_addr: addrs.0.into(),
            dst_addr: addrs.1.into(),
            ttl,
            dscp_ecn,
            ident,
            checksum,
            tunnel,
        };
        let packet = wrap(&encap, &inner);
        prop_assert_eq!(packet.len(), encap.buffer_len(inner.len()));
        let decap = decapsulate(&packet).unwrap();
        prop_assert_eq!(decap.encap, encap);
        prop_assert_eq!(decap.inner, &inner[..]);
        prop_assert_eq!(decap.inner_offset, encap.header_len());
    }
}
