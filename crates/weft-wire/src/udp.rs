//! UDP (RFC 768), checksummed over the IPv4 or IPv6 pseudo-header.
//!
//! ```text
//!  0      7 8     15 16    23 24    31
//! +--------+--------+--------+--------+
//! |     Source      |   Destination   |
//! |      Port       |      Port       |
//! +--------+--------+--------+--------+
//! |                 |                 |
//! |     Length      |    Checksum     |
//! +--------+--------+--------+--------+
//! |          data octets ...
//! +---------------- ...
//! ```
//!
//! Over IPv4 a zero checksum means "not computed" and is accepted; over IPv6
//! it is invalid (RFC 8200 §8.1). A computed checksum of zero is sent as
//! 0xffff.

use crate::checksum::IpPair;
use crate::consts::IpProtocol;
use crate::field::{self, Field};
use crate::{Result, WireError};

mod fields {
    use super::Field;
    pub(super) const SRC_PORT: usize = 0;
    pub(super) const DST_PORT: usize = 2;
    pub(super) const LENGTH: usize = 4;
    pub(super) const CHECKSUM: usize = 6;
    pub(super) const CHECKSUM_FIELD: Field = 6..8;
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps a buffer holding the header and the whole length the header
    /// states (at least 8). Bytes past that length are ignored.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let stated = usize::from(self.len());
        if stated < HEADER_LEN {
            return Err(WireError::BadLength);
        }
        if len < stated {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::DST_PORT)
    }

    /// The length field: header plus payload.
    pub fn len(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::LENGTH)
    }

    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    pub fn checksum(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::CHECKSUM)
    }

    fn datagram(&self) -> &[u8] {
        field::slice(self.buffer.as_ref(), 0..usize::from(self.len()))
    }

    /// Whether the checksum verifies under `ips`' pseudo-header; a zero
    /// checksum over IPv4 means none was computed and verifies.
    pub fn verify_checksum(&self, ips: &IpPair) -> bool {
        match (ips, self.checksum()) {
            (IpPair::V4 { .. }, 0) => true,
            (IpPair::V6 { .. }, 0) => false,
            _ => ips.verifies(IpProtocol::UDP, self.datagram()),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> UdpPacket<&'a T> {
    /// The bytes after the header, up to the length field.
    pub fn payload(&self) -> &'a [u8] {
        let end = usize::from(self.len());
        field::slice(self.buffer.as_ref(), HEADER_LEN..end)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    pub fn set_src_port(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::SRC_PORT, value);
    }

    pub fn set_dst_port(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::DST_PORT, value);
    }

    pub fn set_len(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::LENGTH, value);
    }

    pub fn set_checksum(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::CHECKSUM, value);
    }

    /// Computes the checksum over the header and the payload now in the
    /// buffer (up to the length field) and writes it.
    pub fn fill_checksum(&mut self, ips: &IpPair) {
        field::set_bytes(self.buffer.as_mut(), fields::CHECKSUM_FIELD.start, &[0, 0]);
        let value = match ips.checksum(IpProtocol::UDP, self.datagram()) {
            0 => 0xffff,
            value => value,
        };
        self.set_checksum(value);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        field::slice_mut(self.buffer.as_mut(), HEADER_LEN..end)
    }
}

/// A validated UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    /// Bytes after the header.
    pub payload_len: usize,
}

impl UdpRepr {
    /// Validates the length and the checksum under `ips`' pseudo-header.
    pub fn parse<T: AsRef<[u8]>>(packet: &UdpPacket<T>, ips: &IpPair) -> Result<Self> {
        packet.check_len()?;
        if !packet.verify_checksum(ips) {
            return Err(WireError::BadChecksum);
        }
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload_len: usize::from(packet.len()).saturating_sub(HEADER_LEN),
        })
    }

    /// Always 8.
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload: what `emit` needs.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.payload_len)
    }

    /// Writes the header into a buffer of at least `buffer_len()` bytes and
    /// computes the checksum over the payload already in the buffer: write
    /// the payload first (or call [`UdpPacket::fill_checksum`] after).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut UdpPacket<T>,
        ips: &IpPair,
    ) -> Result<()> {
        field::check_room(packet.buffer.as_ref(), self.buffer_len())?;
        let len = u16::try_from(self.buffer_len()).map_err(|_| WireError::ValueTooLarge)?;
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(len);
        packet.fill_checksum(ips);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::consts::IpProtocol;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    pub(crate) const V4: IpPair = IpPair::V4 {
        src: Ipv4Addr::new(192, 168, 200, 14),
        dst: Ipv4Addr::new(192, 168, 200, 13),
    };

    /// A DNS-sized datagram 49152 → 53 carrying "weft" from 192.168.200.14
    /// to 192.168.200.13, generated with scapy 2.8.0: `IP(...) /
    /// UDP(sport=49152, dport=53) / b'weft'` (UDP part only).
    const DATAGRAM: [u8; 12] = [
        0xc0, 0x00, 0x00, 0x35, 0x00, 0x0c, 0x50, 0x59, 0x77, 0x65, 0x66, 0x74,
    ];

    #[test]
    fn parses_and_reemits_byte_exact() {
        let packet = UdpPacket::new_checked(&DATAGRAM[..]).unwrap();
        let repr = UdpRepr::parse(&packet, &V4).unwrap();
        assert_eq!(
            repr,
            UdpRepr {
                src_port: 49152,
                dst_port: 53,
                payload_len: 4
            }
        );
        assert_eq!(packet.payload(), b"weft");
        let mut out = [0u8; 12];
        out[8..].copy_from_slice(b"weft");
        repr.emit(&mut UdpPacket::new_unchecked(&mut out[..]), &V4)
            .unwrap();
        assert_eq!(out, DATAGRAM);
    }

    #[test]
    fn zero_checksum_is_none_over_ipv4_and_invalid_over_ipv6() {
        let mut buf = DATAGRAM;
        buf[6..8].fill(0);
        let packet = UdpPacket::new_checked(&buf[..]).unwrap();
        assert!(UdpRepr::parse(&packet, &V4).is_ok());
        let v6 = IpPair::V6 {
            src: Ipv6Addr::LOCALHOST,
            dst: Ipv6Addr::LOCALHOST,
        };
        assert_eq!(UdpRepr::parse(&packet, &v6), Err(WireError::BadChecksum));
    }

    #[test]
    fn rejects_bad_lengths_and_checksums() {
        let mut buf = DATAGRAM;
        buf[5] = 7;
        assert_eq!(
            UdpPacket::new_checked(&buf[..]).unwrap_err(),
            WireError::BadLength
        );
        buf[5] = 13;
        assert_eq!(
            UdpPacket::new_checked(&buf[..]).unwrap_err(),
            WireError::Truncated
        );
        let mut buf = DATAGRAM;
        buf[11] ^= 0x01;
        let packet = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(UdpRepr::parse(&packet, &V4), Err(WireError::BadChecksum));
    }

    #[test]
    fn nat_rewrite_with_incremental_checksums() {
        // Rewrite the source 192.168.200.14 → 10.0.0.1 as SNAT would, patching
        // the IPv4 header and UDP checksums with RFC 1624 instead of
        // recomputing them over the payload.
        use crate::checksum;
        use crate::ipv4::{Ipv4Packet, Ipv4Repr};
        let ip = Ipv4Repr {
            src_addr: Ipv4Addr::new(192, 168, 200, 14),
            dst_addr: Ipv4Addr::new(192, 168, 200, 13),
            protocol: IpProtocol::UDP,
            payload_len: DATAGRAM.len(),
            ttl: 64,
            dscp_ecn: 0,
            ident: 1,
            dont_fragment: true,
            more_fragments: false,
            fragment_offset: 0,
        };
        let mut packet = vec![0u8; ip.buffer_len()];
        packet[20..].copy_from_slice(&DATAGRAM);
        ip.emit(&mut Ipv4Packet::new_unchecked(&mut packet[..]))
            .unwrap();

        let new_src = Ipv4Addr::new(10, 0, 0, 1);
        let (old, new) = (ip.src_addr.octets(), new_src.octets());
        let mut header = Ipv4Packet::new_unchecked(&mut packet[..]);
        header.set_src_addr(new_src);
        let sum = checksum::update(header.checksum(), &old, &new);
        header.set_checksum(sum);
        let mut udp = UdpPacket::new_unchecked(&mut packet[20..]);
        let sum = checksum::update(udp.checksum(), &old, &new);
        udp.set_checksum(sum);

        let header = Ipv4Packet::new_checked(&packet[..]).unwrap();
        let repr = Ipv4Repr::parse(&header).unwrap();
        assert_eq!(repr.src_addr, new_src);
        let udp = UdpPacket::new_checked(header.payload()).unwrap();
        assert_eq!(UdpRepr::parse(&udp, &repr.ip_pair()).unwrap().dst_port, 53);
    }

    pub(crate) fn arb_ips() -> impl Strategy<Value = IpPair> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(s, d)| IpPair::V4 {
                src: s.into(),
                dst: d.into()
            }),
            (any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(|(s, d)| IpPair::V6 {
                src: s.into(),
                dst: d.into()
            }),
        ]
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(
            src_port in any::<u16>(),
            dst_port in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..200),
            ips in arb_ips(),
        ) {
            let repr = UdpRepr { src_port, dst_port, payload_len: payload.len() };
            let mut buf = vec![0u8; repr.buffer_len()];
            buf[HEADER_LEN..].copy_from_slice(&payload);
            repr.emit(&mut UdpPacket::new_unchecked(&mut buf[..]), &ips).unwrap();
            let packet = UdpPacket::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(UdpRepr::parse(&packet, &ips).unwrap(), repr);
            prop_assert_eq!(packet.payload(), &payload[..]);
        }
    }
}
