//! IPv4 (RFC 791): header checksum, options skipped through IHL, fragments
//! flagged.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |   DSCP    |ECN|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |Flags|      Fragment Offset    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Flags: bit 0 reserved, bit 1 DF (don't fragment), bit 2 MF (more
//! fragments); the offset counts 8-octet units.
//!
//! A fragment parses (its repr says so through [`Ipv4Repr::is_fragment`]); a
//! non-initial fragment carries no upper-layer header, so callers must not
//! look for ports in it.

use std::net::Ipv4Addr;

use crate::checksum::{self, IpPair};
use crate::consts::IpProtocol;
use crate::field::{self, Field};
use crate::{Result, WireError};

mod fields {
    use super::Field;
    pub(super) const VER_IHL: usize = 0;
    pub(super) const DSCP_ECN: usize = 1;
    pub(super) const LENGTH: usize = 2;
    pub(super) const IDENT: usize = 4;
    pub(super) const FLG_OFF: usize = 6;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: usize = 10;
    pub(super) const SRC_ADDR: usize = 12;
    pub(super) const DST_ADDR: usize = 16;
    pub(super) const CHECKSUM_FIELD: Field = 10..12;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// The largest total length the 16-bit field can hold.
pub const MAX_PACKET_LEN: usize = 0xffff;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer holding an IPv4 packet: version 4, IHL at least 5, and
    /// the whole header and total length present. Bytes past the total
    /// length (Ethernet padding) are allowed and ignored.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        check_header(self.buffer.as_ref())?;
        if self.buffer.as_ref().len() < usize::from(self.total_len()) {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::VER_IHL) >> 4
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(field::u8_at(self.buffer.as_ref(), fields::VER_IHL) & 0x0f) * 4
    }

    /// The former type-of-service byte: DSCP (6 bits) and ECN (2 bits).
    pub fn dscp_ecn(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::DSCP_ECN)
    }

    pub fn total_len(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::LENGTH)
    }

    pub fn ident(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::IDENT)
    }

    pub fn dont_fragment(&self) -> bool {
        field::u16_at(self.buffer.as_ref(), fields::FLG_OFF) & FLAG_DF != 0
    }

    pub fn more_fragments(&self) -> bool {
        field::u16_at(self.buffer.as_ref(), fields::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn fragment_offset(&self) -> u16 {
        (field::u16_at(self.buffer.as_ref(), fields::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// Whether this is a fragment (MF set or a nonzero offset).
    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.fragment_offset() != 0
    }

    pub fn ttl(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::TTL)
    }

    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(field::u8_at(self.buffer.as_ref(), fields::PROTOCOL))
    }

    pub fn checksum(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::CHECKSUM)
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        field::ipv4_at(self.buffer.as_ref(), fields::SRC_ADDR)
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        field::ipv4_at(self.buffer.as_ref(), fields::DST_ADDR)
    }

    /// The source and destination, for an upper layer's pseudo-header.
    pub fn ip_pair(&self) -> IpPair {
        IpPair::V4 {
            src: self.src_addr(),
            dst: self.dst_addr(),
        }
    }

    /// The option bytes between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        field::slice(self.buffer.as_ref(), HEADER_LEN..self.header_len())
    }

    /// Whether the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        let header = field::slice(self.buffer.as_ref(), 0..self.header_len());
        !header.is_empty() && checksum::verifies(checksum::sum(0, header))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The bytes between the header and the total length.
    pub fn payload(&self) -> &'a [u8] {
        let buf = self.buffer.as_ref();
        field::slice(buf, self.header_len()..usize::from(self.total_len()))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets version 4 and the header length in bytes (a multiple of 4).
    pub fn set_header_len(&mut self, len: usize) {
        let ihl = u8::try_from(len / 4).unwrap_or(0x0f).min(0x0f);
        field::set_u8(self.buffer.as_mut(), fields::VER_IHL, 0x40 | ihl);
    }

    pub fn set_dscp_ecn(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::DSCP_ECN, value);
    }

    pub fn set_total_len(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::LENGTH, value);
    }

    pub fn set_ident(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::IDENT, value);
    }

    /// Sets DF, MF and the offset (in bytes, rounded down to 8) at once;
    /// the reserved flag is cleared.
    pub fn set_fragment(&mut self, dont_fragment: bool, more_fragments: bool, offset: u16) {
        let mut value = (offset >> 3) & OFFSET_MASK;
        if dont_fragment {
            value |= FLAG_DF;
        }
        if more_fragments {
            value |= FLAG_MF;
        }
        field::set_u16(self.buffer.as_mut(), fields::FLG_OFF, value);
    }

    pub fn set_ttl(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::TTL, value);
    }

    pub fn set_protocol(&mut self, value: IpProtocol) {
        field::set_u8(self.buffer.as_mut(), fields::PROTOCOL, value.0);
    }

    pub fn set_checksum(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::CHECKSUM, value);
    }

    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        field::set_bytes(self.buffer.as_mut(), fields::SRC_ADDR, &addr.octets());
    }

    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        field::set_bytes(self.buffer.as_mut(), fields::DST_ADDR, &addr.octets());
    }

    /// Computes and writes the header checksum.
    pub fn fill_checksum(&mut self) {
        field::set_bytes(self.buffer.as_mut(), fields::CHECKSUM_FIELD.start, &[0, 0]);
        let header_len = self.header_len();
        let value = checksum::checksum(field::slice(self.buffer.as_ref(), 0..header_len));
        self.set_checksum(value);
    }

    /// Decrements the TTL and patches the checksum incrementally (RFC 1624),
    /// as a router does on forward. Returns the new TTL; 0 means the packet
    /// must be dropped (and may be answered with time-exceeded).
    pub fn decrement_ttl(&mut self) -> u8 {
        let ttl = self.ttl();
        let new = ttl.saturating_sub(1);
        let proto = self.protocol().0;
        let old_word = u16::from_be_bytes([ttl, proto]);
        let new_word = u16::from_be_bytes([new, proto]);
        let sum = checksum::update_word(self.checksum(), old_word, new_word);
        self.set_ttl(new);
        self.set_checksum(sum);
        new
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        field::slice_mut(self.buffer.as_mut(), range)
    }
}

/// Checks what a header alone needs: used for whole packets and for the
/// quoted header inside an ICMP error, whose total length exceeds the quote.
fn check_header(buf: &[u8]) -> Result<usize> {
    if buf.len() < HEADER_LEN {
        return Err(WireError::Truncated);
    }
    let packet = Ipv4Packet::new_unchecked(buf);
    if packet.version() != 4 {
        return Err(WireError::BadVersion);
    }
    let header_len = packet.header_len();
    if header_len < HEADER_LEN {
        return Err(WireError::BadLength);
    }
    if buf.len() < header_len {
        return Err(WireError::Truncated);
    }
    if usize::from(packet.total_len()) < header_len {
        return Err(WireError::BadLength);
    }
    Ok(header_len)
}

/// A validated IPv4 header. Options are not represented: parse skips them
/// and emit writes none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub protocol: IpProtocol,
    /// Bytes after the header: total length minus header length.
    pub payload_len: usize,
    pub ttl: u8,
    pub dscp_ecn: u8,
    pub ident: u16,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    /// Fragment offset in bytes, a multiple of 8.
    pub fragment_offset: u16,
}

impl Ipv4Repr {
    /// Validates lengths and the header checksum.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Result<Self> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        Ok(Self::from_checked(packet))
    }

    /// The header quoted in an ICMP error: lengths are checked against the
    /// header only (the quote stops after 8 payload bytes) and the checksum
    /// is not verified. Returns the repr and the quoted header's length.
    pub(crate) fn parse_quoted(buf: &[u8]) -> Result<(Self, usize)> {
        let header_len = check_header(buf)?;
        Ok((
            Self::from_checked(&Ipv4Packet::new_unchecked(buf)),
            header_len,
        ))
    }

    fn from_checked<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Self {
        Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()).saturating_sub(packet.header_len()),
            ttl: packet.ttl(),
            dscp_ecn: packet.dscp_ecn(),
            ident: packet.ident(),
            dont_fragment: packet.dont_fragment(),
            more_fragments: packet.more_fragments(),
            fragment_offset: packet.fragment_offset(),
        }
    }

    /// Whether this is a fragment (MF set or a nonzero offset).
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.fragment_offset != 0
    }

    /// The source and destination, for an upper layer's pseudo-header.
    pub fn ip_pair(&self) -> IpPair {
        IpPair::V4 {
            src: self.src_addr,
            dst: self.dst_addr,
        }
    }

    /// Always 20: emit writes no options.
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload: what `emit` needs.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.payload_len)
    }

    /// Writes the header (with its checksum) at the start of a buffer of at
    /// least `buffer_len()` bytes; the payload is the caller's.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv4Packet<T>) -> Result<()> {
        field::check_room(packet.buffer.as_ref(), self.buffer_len())?;
        self.emit_header(packet.buffer.as_mut())
    }

    /// Writes the 20-byte header only, with a total length that may exceed
    /// the buffer (the quoted header of an ICMP error).
    pub(crate) fn emit_header(&self, buf: &mut [u8]) -> Result<()> {
        field::check_room(buf, HEADER_LEN)?;
        let total_len = u16::try_from(self.buffer_len()).map_err(|_| WireError::ValueTooLarge)?;
        if !self.fragment_offset.is_multiple_of(8) {
            return Err(WireError::Malformed);
        }
        let mut packet = Ipv4Packet::new_unchecked(buf);
        packet.set_header_len(HEADER_LEN);
        packet.set_dscp_ecn(self.dscp_ecn);
        packet.set_total_len(total_len);
        packet.set_ident(self.ident);
        packet.set_fragment(
            self.dont_fragment,
            self.more_fragments,
            self.fragment_offset,
        );
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// An ICMP echo request 192.168.1.4 → 192.168.1.3 (IP id 0x1c46, DF,
    /// TTL 64; ICMP ident 0x0b2a, seq 1, data "weft"), generated with scapy
    /// 2.8.0: `IP(src=..., dst=..., id=0x1c46, flags='DF', ttl=64) /
    /// ICMP(type=8, id=0x0b2a, seq=1) / b'weft'`.
    pub(crate) const PING: [u8; 32] = [
        0x45, 0x00, 0x00, 0x20, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x9b, 0x3f, 0xc0, 0xa8, 0x01,
        0x04, 0xc0, 0xa8, 0x01, 0x03, 0x08, 0x00, 0x0e, 0xfb, 0x0b, 0x2a, 0x00, 0x01, 0x77, 0x65,
        0x66, 0x74,
    ];

    #[test]
    fn parses_and_reemits_byte_exact() {
        let packet = Ipv4Packet::new_checked(&PING[..]).unwrap();
        assert!(packet.verify_checksum());
        let repr = Ipv4Repr::parse(&packet).unwrap();
        assert_eq!(repr.src_addr, Ipv4Addr::new(192, 168, 1, 4));
        assert_eq!(repr.protocol, IpProtocol::ICMP);
        assert_eq!(repr.payload_len, 12);
        assert_eq!(repr.ident, 0x1c46);
        assert!(repr.dont_fragment && !repr.is_fragment());
        assert_eq!(packet.payload(), &PING[20..]);

        let mut out = PING;
        out[..20].fill(0);
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, PING);
    }

    #[test]
    fn options_are_skipped_and_padding_trimmed() {
        // IHL 6 with a 4-byte option (NOP NOP NOP EOL), then 2 payload bytes
        // and 3 bytes of Ethernet padding past the total length.
        let mut buf = [
            0x46, 0x00, 0x00, 0x1a, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 1, 1, 1, 0,
            0x12, 0x34, 0, 0, 0,
        ];
        Ipv4Packet::new_unchecked(&mut buf[..]).fill_checksum();
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.options(), &[1, 1, 1, 0]);
        assert_eq!(packet.payload(), &[0x12, 0x34]);
        assert_eq!(Ipv4Repr::parse(&packet).unwrap().payload_len, 2);
    }

    #[test]
    fn rejects_bad_headers() {
        let check = |mutate: fn(&mut [u8; 32]), len: usize| {
            let mut buf = PING;
            mutate(&mut buf);
            Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&buf[..len]))
        };
        assert_eq!(check(|_| {}, 19), Err(WireError::Truncated));
        assert_eq!(check(|_| {}, 31), Err(WireError::Truncated));
        assert_eq!(check(|b| b[0] = 0x65, 32), Err(WireError::BadVersion));
        assert_eq!(check(|b| b[0] = 0x44, 32), Err(WireError::BadLength));
        assert_eq!(check(|b| b[0] = 0x4f, 32), Err(WireError::Truncated));
        assert_eq!(check(|b| b[3] = 19, 32), Err(WireError::BadLength));
        assert_eq!(check(|b| b[11] ^= 1, 32), Err(WireError::BadChecksum));
    }

    #[test]
    fn fragments_are_flagged() {
        let mut buf = PING;
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        packet.set_fragment(false, true, 1480);
        packet.fill_checksum();
        let repr = Ipv4Repr::parse(&packet).unwrap();
        assert!(repr.is_fragment() && repr.more_fragments);
        assert_eq!(repr.fragment_offset, 1480);
    }

    #[test]
    fn ttl_decrement_keeps_the_checksum_valid() {
        let mut buf = PING;
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        assert_eq!(packet.decrement_ttl(), 63);
        assert!(packet.verify_checksum());
        let mut again = buf;
        Ipv4Packet::new_unchecked(&mut again[..]).fill_checksum();
        assert_eq!(again, buf);
    }

    #[test]
    fn emit_refuses_oversized_payload_and_short_buffer() {
        let mut repr = Ipv4Repr::parse(&Ipv4Packet::new_checked(&PING[..]).unwrap()).unwrap();
        let mut out = [0u8; 31];
        assert_eq!(
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..])),
            Err(WireError::BufferTooSmall)
        );
        repr.payload_len = 70_000;
        let mut big = vec![0u8; 70_020];
        assert_eq!(
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut big[..])),
            Err(WireError::ValueTooLarge)
        );
    }

    pub(crate) fn arb_repr() -> impl Strategy<Value = Ipv4Repr> {
        (
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u8>(),
            0usize..1500,
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<bool>(),
            any::<bool>(),
            0u16..=0x1fff,
        )
            .prop_map(
                |(src, dst, protocol, payload_len, ttl, dscp_ecn, ident, df, mf, offset)| {
                    Ipv4Repr {
                        src_addr: src.into(),
                        dst_addr: dst.into(),
                        protocol: IpProtocol(protocol),
                        payload_len,
                        ttl,
                        dscp_ecn,
                        ident,
                        dont_fragment: df,
                        more_fragments: mf,
                        fragment_offset: offset << 3,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(repr in arb_repr()) {
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..])).unwrap();
            let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Ipv4Repr::parse(&packet).unwrap(), repr);
        }
    }
}
