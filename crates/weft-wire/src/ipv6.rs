//! IPv6 (RFC 8200): the fixed header, and a bounded walk over extension
//! headers to find the upper-layer protocol.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                         Source Address (128 bits)             +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                      Destination Address (128 bits)           +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Extension headers (hop-by-hop, routing, destination options: next header,
//! length in 8-octet units beyond the first; fragment: 8 octets; AH: length
//! in 4-octet units beyond the first two) are skipped, at most
//! [`MAX_EXTENSION_HEADERS`] of them. Jumbograms are not supported: the
//! payload length is taken as written.

use std::net::Ipv6Addr;

use crate::checksum::IpPair;
use crate::consts::IpProtocol;
use crate::field;
use crate::{Result, WireError};

mod fields {
    pub(super) const VER_TC_FLOW: usize = 0;
    pub(super) const LENGTH: usize = 4;
    pub(super) const NXT_HDR: usize = 6;
    pub(super) const HOP_LIMIT: usize = 7;
    pub(super) const SRC_ADDR: usize = 8;
    pub(super) const DST_ADDR: usize = 24;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;
/// How many extension headers the walk skips before giving up.
pub const MAX_EXTENSION_HEADERS: usize = 8;

/// A read/write view of an IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// Where the upper-layer header starts, after the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6UpperLayer {
    /// The upper-layer protocol (the last next-header value).
    pub protocol: IpProtocol,
    /// Offset of the upper-layer header from the start of the IPv6 payload.
    pub offset: usize,
    /// Set when a fragment header was crossed.
    pub fragment: Option<Ipv6Fragment>,
}

/// The fields of an IPv6 fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Fragment {
    /// Offset in bytes. When nonzero, no upper-layer header follows.
    pub offset: u16,
    pub more_fragments: bool,
    pub ident: u32,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer holding version 6, the fixed header and the whole
    /// payload length. Trailing bytes (Ethernet padding) are ignored.
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
        if self.version() != 6 {
            return Err(WireError::BadVersion);
        }
        if len < HEADER_LEN + usize::from(self.payload_len()) {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn first_word(&self) -> u32 {
        field::u32_at(self.buffer.as_ref(), fields::VER_TC_FLOW)
    }

    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    pub fn payload_len(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::LENGTH)
    }

    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(field::u8_at(self.buffer.as_ref(), fields::NXT_HDR))
    }

    pub fn hop_limit(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::HOP_LIMIT)
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        field::ipv6_at(self.buffer.as_ref(), fields::SRC_ADDR)
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        field::ipv6_at(self.buffer.as_ref(), fields::DST_ADDR)
    }

    /// The source and destination, for an upper layer's pseudo-header.
    pub fn ip_pair(&self) -> IpPair {
        IpPair::V6 {
            src: self.src_addr(),
            dst: self.dst_addr(),
        }
    }

    /// Walks the extension headers to the upper-layer protocol.
    ///
    /// Stops at the first header that is not hop-by-hop, routing, fragment,
    /// destination options or AH (so ESP and "no next header" are returned
    /// as the protocol), and at a fragment header with a nonzero offset
    /// (nothing after it is a header). Fails with `Truncated` if a header
    /// runs past the payload and `TooManyHeaders` past the bound.
    pub fn upper_layer(&self) -> Result<Ipv6UpperLayer> {
        let end = HEADER_LEN + usize::from(self.payload_len());
        let payload = field::slice(self.buffer.as_ref(), HEADER_LEN..end);
        walk_extension_headers(self.next_header(), payload)
    }
}

fn walk_extension_headers(first: IpProtocol, payload: &[u8]) -> Result<Ipv6UpperLayer> {
    let mut protocol = first;
    let mut offset = 0usize;
    let mut fragment = None;
    for _ in 0..=MAX_EXTENSION_HEADERS {
        let len = match protocol {
            IpProtocol::HOPOPT | IpProtocol::IPV6_ROUTE | IpProtocol::IPV6_OPTS => {
                (usize::from(field::u8_at(payload, offset + 1)) + 1) * 8
            }
            IpProtocol::AH => (usize::from(field::u8_at(payload, offset + 1)) + 2) * 4,
            IpProtocol::IPV6_FRAG => 8,
            _ => {
                return Ok(Ipv6UpperLayer {
                    protocol,
                    offset,
                    fragment,
                });
            }
        };
        let header = field::array::<8>(payload, offset).ok_or(WireError::Truncated)?;
        if payload.len() < offset + len {
            return Err(WireError::Truncated);
        }
        let [next, _, off_hi, off_lo, id0, id1, id2, id3] = header;
        if protocol == IpProtocol::IPV6_FRAG {
            let off_res_m = u16::from_be_bytes([off_hi, off_lo]);
            let this = Ipv6Fragment {
                offset: off_res_m & 0xfff8,
                more_fragments: off_res_m & 1 != 0,
                ident: u32::from_be_bytes([id0, id1, id2, id3]),
            };
            fragment = Some(this);
            if this.offset != 0 {
                return Ok(Ipv6UpperLayer {
                    protocol: IpProtocol(next),
                    offset: offset + len,
                    fragment,
                });
            }
        }
        protocol = IpProtocol(next);
        offset += len;
    }
    Err(WireError::TooManyHeaders)
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv6Packet<&'a T> {
    /// The bytes after the fixed header, up to the payload length
    /// (extension headers included).
    pub fn payload(&self) -> &'a [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        field::slice(self.buffer.as_ref(), HEADER_LEN..end)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, the traffic class and the flow label (20 bits).
    pub fn set_version_class_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let word = (6 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        field::set_u32(self.buffer.as_mut(), fields::VER_TC_FLOW, word);
    }

    pub fn set_payload_len(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::LENGTH, value);
    }

    pub fn set_next_header(&mut self, value: IpProtocol) {
        field::set_u8(self.buffer.as_mut(), fields::NXT_HDR, value.0);
    }

    pub fn set_hop_limit(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::HOP_LIMIT, value);
    }

    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        field::set_bytes(self.buffer.as_mut(), fields::SRC_ADDR, &addr.octets());
    }

    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        field::set_bytes(self.buffer.as_mut(), fields::DST_ADDR, &addr.octets());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        field::slice_mut(self.buffer.as_mut(), HEADER_LEN..end)
    }
}

/// A validated IPv6 fixed header. Extension headers are part of the payload;
/// use [`Ipv6Packet::upper_layer`] to skip them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    pub src_addr: Ipv6Addr,
    pub dst_addr: Ipv6Addr,
    /// The fixed header's next header (possibly an extension header).
    pub next_header: IpProtocol,
    pub payload_len: usize,
    pub hop_limit: u8,
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
}

impl Ipv6Repr {
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Result<Self> {
        packet.check_len()?;
        Ok(Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// The source and destination, for an upper layer's pseudo-header.
    pub fn ip_pair(&self) -> IpPair {
        IpPair::V6 {
            src: self.src_addr,
            dst: self.dst_addr,
        }
    }

    /// Always 40.
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload: what `emit` needs.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.payload_len)
    }

    /// Writes the fixed header into a buffer of at least `buffer_len()`
    /// bytes; the payload is the caller's.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv6Packet<T>) -> Result<()> {
        field::check_room(packet.buffer.as_ref(), self.buffer_len())?;
        let payload_len = u16::try_from(self.payload_len).map_err(|_| WireError::ValueTooLarge)?;
        if self.flow_label > 0x000f_ffff {
            return Err(WireError::ValueTooLarge);
        }
        packet.set_version_class_flow(self.traffic_class, self.flow_label);
        packet.set_payload_len(payload_len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// fe80::1 → fe80::2, traffic class 0x28, flow label 0x12345, hop
    /// limit 64, carrying a hop-by-hop header (8 bytes, PadN), a fragment
    /// header (offset 0, M set, id 0xdeadbeef) and an empty UDP datagram. Generated
    /// with scapy 2.8.0: `IPv6(src='fe80::1', dst='fe80::2', tc=0x28,
    /// fl=0x12345, hlim=64) / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(m=1,
    /// id=0xdeadbeef) / UDP(sport=1000, dport=2000)`, payload length and
    /// checksum as scapy filled them.
    pub(crate) const WITH_EXTENSIONS: [u8; 64] = [
        0x62, 0x81, 0x23, 0x45, 0x00, 0x18, 0x00, 0x40, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x2c, 0x00, 0x01, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x03, 0xe8, 0x07, 0xd0,
        0x00, 0x08, 0xf7, 0x21,
    ];

    #[test]
    fn walks_extension_headers_to_udp() {
        let packet = Ipv6Packet::new_checked(&WITH_EXTENSIONS[..]).unwrap();
        let repr = Ipv6Repr::parse(&packet).unwrap();
        assert_eq!(repr.traffic_class, 0x28);
        assert_eq!(repr.flow_label, 0x12345);
        assert_eq!(repr.next_header, IpProtocol::HOPOPT);
        assert_eq!(repr.payload_len, 24);
        let upper = packet.upper_layer().unwrap();
        assert_eq!(upper.protocol, IpProtocol::UDP);
        assert_eq!(upper.offset, 16);
        assert_eq!(
            upper.fragment,
            Some(Ipv6Fragment {
                offset: 0,
                more_fragments: true,
                ident: 0xdead_beef
            })
        );

        let mut out = WITH_EXTENSIONS;
        out[..40].fill(0);
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, WITH_EXTENSIONS);
    }

    #[test]
    fn rejects_bad_headers_and_bounds_the_walk() {
        assert_eq!(
            Ipv6Packet::new_checked(&WITH_EXTENSIONS[..63]).unwrap_err(),
            WireError::Truncated
        );
        let mut v4 = WITH_EXTENSIONS;
        v4[0] = 0x42;
        assert_eq!(
            Ipv6Packet::new_checked(&v4[..]).unwrap_err(),
            WireError::BadVersion
        );
        // A hop-by-hop header claiming 16 bytes when 8 remain is truncated.
        let mut long = WITH_EXTENSIONS;
        long[41] = 5;
        let packet = Ipv6Packet::new_checked(&long[..]).unwrap();
        assert_eq!(packet.upper_layer(), Err(WireError::Truncated));

        // Nine destination-options headers in a row exceed the bound.
        let mut chain = [0u8; 40 + 9 * 8];
        let mut packet = Ipv6Packet::new_unchecked(&mut chain[..]);
        packet.set_version_class_flow(0, 0);
        packet.set_payload_len(72);
        packet.set_next_header(IpProtocol::IPV6_OPTS);
        for header in packet.payload_mut().chunks_mut(8) {
            header[0] = IpProtocol::IPV6_OPTS.0;
        }
        assert_eq!(packet.upper_layer(), Err(WireError::TooManyHeaders));
    }

    #[test]
    fn non_initial_fragment_stops_the_walk() {
        let mut frag = WITH_EXTENSIONS;
        frag[50..52].copy_from_slice(&[0x05, 0xc8]); // offset 1480, M clear
        let upper = Ipv6Packet::new_checked(&frag[..])
            .unwrap()
            .upper_layer()
            .unwrap();
        assert_eq!(upper.fragment.unwrap().offset, 1480);
        assert_eq!(upper.protocol, IpProtocol::UDP);
        assert_eq!(upper.offset, 16);
    }

    pub(crate) fn arb_repr() -> impl Strategy<Value = Ipv6Repr> {
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<u8>(),
            0usize..1500,
            any::<u8>(),
            any::<u8>(),
            0u32..=0xfffff,
        )
            .prop_map(|(src, dst, next, payload_len, hop, tc, flow)| Ipv6Repr {
                src_addr: src.into(),
                dst_addr: dst.into(),
                next_header: IpProtocol(next),
                payload_len,
                hop_limit: hop,
                traffic_class: tc,
                flow_label: flow,
            })
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(repr in arb_repr()) {
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..])).unwrap();
            let packet = Ipv6Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Ipv6Repr::parse(&packet).unwrap(), repr);
        }
    }
}
