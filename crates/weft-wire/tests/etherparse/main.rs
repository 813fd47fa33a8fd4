//! Cross-checks against etherparse 0.21, an independent implementation:
//! frames weft-wire builds parse identically with etherparse (and carry the
//! checksums etherparse computes), and frames etherparse builds parse
//! identically with weft-wire (whose parsers verify every checksum).
//!
//! Covered: Ethernet II with and without an 802.1Q tag, IPv4 (with options
//! when etherparse builds), IPv6, UDP, TCP (with options), ICMPv4 echo and
//! destination unreachable, ICMPv6 echo and neighbour solicitation /
//! advertisement, ARP.

#![allow(clippy::unwrap_used)]

mod etherparse_side;
mod frame;
mod weft_side;

use etherparse as ep;
use proptest::prelude::*;
use weft_types::MacAddr;
use weft_wire::*;

use etherparse_side::{etherparse_build, etherparse_reads};
use frame::{Frame, Net, Transport, arb_frame};
use weft_side::{weft_build, weft_reads};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn frames_built_by_weft_parse_identically_with_etherparse(frame in arb_frame()) {
        let bytes = weft_build(&frame);
        etherparse_reads(&frame, &bytes)?;
    }

    #[test]
    fn frames_built_by_etherparse_parse_identically_with_weft(frame in arb_frame()) {
        let bytes = etherparse_build(&frame);
        weft_reads(&frame, &bytes)?;
    }

    #[test]
    fn frames_built_by_weft_match_etherparse_byte_for_byte(
        frame in arb_frame().prop_map(|mut f| {
            // weft emits no IPv4 options.
            if let Net::V4 { options, .. } = &mut f.net {
                options.clear();
            }
            f
        })
    ) {
        prop_assert_eq!(weft_build(&frame), etherparse_build(&frame));
    }

    #[test]
    fn arp_agrees_both_ways(
        request in any::<bool>(),
        sha in any::<[u8; 6]>(),
        spa in any::<[u8; 4]>(),
        tha in any::<[u8; 6]>(),
        tpa in any::<[u8; 4]>(),
    ) {
        let operation = if request { ep::ArpOperation::REQUEST } else { ep::ArpOperation::REPLY };
        let theirs = ep::ArpPacket::new(
            ep::ArpHardwareId::ETHERNET,
            ep::EtherType::IPV4,
            operation,
            &sha,
            &spa,
            &tha,
            &tpa,
        )
        .unwrap();
        let repr = ArpRepr {
            operation: if request { ArpOperation::Request } else { ArpOperation::Reply },
            source_hardware_addr: MacAddr(sha),
            source_protocol_addr: spa.into(),
            target_hardware_addr: MacAddr(tha),
            target_protocol_addr: tpa.into(),
        };
        let their_bytes = theirs.to_bytes();
        prop_assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(&their_bytes[..]).unwrap()).unwrap(), repr);

        let mut ours = [0u8; 28];
        repr.emit(&mut ArpPacket::new_unchecked(&mut ours[..])).unwrap();
        prop_assert_eq!(&ours[..], &their_bytes[..]);
        let parsed = ep::ArpPacket::from_slice(&ours).unwrap().try_eth_ipv4().unwrap();
        prop_assert_eq!(parsed.sender_mac, sha);
        prop_assert_eq!(parsed.sender_ipv4, spa);
        prop_assert_eq!(parsed.target_mac, tha);
        prop_assert_eq!(parsed.target_ipv4, tpa);
    }
}

#[test]
fn port_unreachable_agrees_with_etherparse() {
    // The original: a UDP datagram to a closed port.
    let original = etherparse_build(&Frame {
        src_mac: [2; 6],
        dst_mac: [4; 6],
        vlan: None,
        net: Net::V4 {
            src: [192, 168, 1, 4],
            dst: [192, 168, 1, 3],
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: 7,
            dont_fragment: true,
            options: Vec::new(),
        },
        transport: Transport::Udp {
            src_port: 5000,
            dst_port: 9,
        },
        payload: b"0123456789".to_vec(),
    });
    let ip = &original[14..];
    let repr = Icmpv4Repr::dst_unreachable(consts::icmpv4::UNREACH_PORT, 0, ip).unwrap();
    let mut ours = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut ours[..]))
        .unwrap();

    let theirs = ep::Icmpv4Slice::from_slice(&ours).unwrap();
    assert_eq!(
        theirs.icmp_type(),
        ep::Icmpv4Type::DestinationUnreachable(ep::icmpv4::DestUnreachableHeader::Port)
    );
    assert_eq!(theirs.payload(), &ip[..28]);
    let expected = ep::Icmpv4Header::with_checksum(theirs.icmp_type(), theirs.payload());
    assert_eq!(theirs.checksum(), expected.checksum);
}
