//! GRE version 0 (RFC 2784) with the key and sequence number extensions
//! (RFC 2890), as MPLSoGRE (RFC 4023) uses it.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |C| |K|S| Reserved0       | Ver |         Protocol Type         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Checksum (optional)      |       Reserved1 (Optional)    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Key (optional)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Sequence Number (Optional)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! RFC 2784 §2.5.1: a receiver discards a packet with any of bits 1–5 set
//! unless it implements RFC 1701; RFC 2890 gives bits 2 (K) and 3 (S)
//! meaning, so bits 1 (routing), 4 (strict source route) and 5 make a
//! packet `Unsupported`. Bits 6–12 are ignored. GRE has no length field:
//! the view's buffer is the whole GRE packet (the IP payload), and the
//! checksum, when present, covers all of it.

use crate::checksum;
use crate::consts::EtherType;
use crate::field;
use crate::{Result, WireError};

mod fields {
    pub(super) const FLAGS: usize = 0;
    pub(super) const PROTOCOL: usize = 2;
    pub(super) const OPTIONAL: usize = 4;
}

const FLAG_CHECKSUM: u16 = 0x8000;
const FLAG_ROUTING: u16 = 0x4000;
const FLAG_KEY: u16 = 0x2000;
const FLAG_SEQUENCE: u16 = 0x1000;
/// Bits 4 (strict source route) and 5 (first recursion-control bit) of RFC 1701.
const RFC1701_BITS: u16 = 0x0800 | 0x0400;
const VERSION_MASK: u16 = 0x0007;

/// Length of the header without optional fields.
pub const HEADER_LEN: usize = 4;

/// A read/write view of a GRE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrePacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GrePacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        GrePacket { buffer }
    }

    /// Wraps a buffer holding the header and every optional field its
    /// flags announce.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < self.header_len() {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn flags(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::FLAGS)
    }

    pub fn has_checksum(&self) -> bool {
        self.flags() & FLAG_CHECKSUM != 0
    }

    pub fn has_routing(&self) -> bool {
        self.flags() & FLAG_ROUTING != 0
    }

    pub fn has_key(&self) -> bool {
        self.flags() & FLAG_KEY != 0
    }

    pub fn has_sequence(&self) -> bool {
        self.flags() & FLAG_SEQUENCE != 0
    }

    pub fn version(&self) -> u8 {
        (self.flags() & VERSION_MASK) as u8
    }

    pub fn protocol(&self) -> EtherType {
        EtherType(field::u16_at(self.buffer.as_ref(), fields::PROTOCOL))
    }

    /// 4, plus 4 for each of checksum (or routing), key and sequence.
    pub fn header_len(&self) -> usize {
        let present = [
            self.has_checksum() || self.has_routing(),
            self.has_key(),
            self.has_sequence(),
        ];
        HEADER_LEN + 4 * present.iter().filter(|bit| **bit).count()
    }

    fn key_at(&self) -> usize {
        if self.has_checksum() || self.has_routing() {
            fields::OPTIONAL + 4
        } else {
            fields::OPTIONAL
        }
    }

    fn sequence_at(&self) -> usize {
        self.key_at() + if self.has_key() { 4 } else { 0 }
    }

    pub fn checksum(&self) -> Option<u16> {
        self.has_checksum()
            .then(|| field::u16_at(self.buffer.as_ref(), fields::OPTIONAL))
    }

    pub fn key(&self) -> Option<u32> {
        self.has_key()
            .then(|| field::u32_at(self.buffer.as_ref(), self.key_at()))
    }

    pub fn sequence(&self) -> Option<u32> {
        self.has_sequence()
            .then(|| field::u32_at(self.buffer.as_ref(), self.sequence_at()))
    }

    /// Whether the checksum verifies; true when there is none.
    pub fn verify_checksum(&self) -> bool {
        !self.has_checksum() || checksum::verifies(checksum::sum(0, self.buffer.as_ref()))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> GrePacket<&'a T> {
    /// The bytes after the header and its optional fields.
    pub fn payload(&self) -> &'a [u8] {
        field::rest(self.buffer.as_ref(), self.header_len())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GrePacket<T> {
    /// Writes the flag word for the given optional fields, version 0.
    pub fn set_flags(&mut self, checksum: bool, key: bool, sequence: bool) {
        let mut flags = 0;
        if checksum {
            flags |= FLAG_CHECKSUM;
        }
        if key {
            flags |= FLAG_KEY;
        }
        if sequence {
            flags |= FLAG_SEQUENCE;
        }
        field::set_u16(self.buffer.as_mut(), fields::FLAGS, flags);
    }

    pub fn set_protocol(&mut self, value: EtherType) {
        field::set_u16(self.buffer.as_mut(), fields::PROTOCOL, value.0);
    }

    /// Writes the key; the flags must announce one.
    pub fn set_key(&mut self, value: u32) {
        let at = self.key_at();
        field::set_u32(self.buffer.as_mut(), at, value);
    }

    /// Writes the sequence number; the flags must announce one.
    pub fn set_sequence(&mut self, value: u32) {
        let at = self.sequence_at();
        field::set_u32(self.buffer.as_mut(), at, value);
    }

    /// Computes the checksum over the whole buffer and writes it (with a
    /// zero Reserved1), if the flags announce one.
    pub fn fill_checksum(&mut self) {
        if !self.has_checksum() {
            return;
        }
        field::set_u32(self.buffer.as_mut(), fields::OPTIONAL, 0);
        let value = checksum::checksum(self.buffer.as_ref());
        field::set_u16(self.buffer.as_mut(), fields::OPTIONAL, value);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        field::rest_mut(self.buffer.as_mut(), at)
    }
}

/// A validated GRE header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GreRepr {
    /// The payload's ethertype (0x8847 for MPLS).
    pub protocol: EtherType,
    /// Whether a checksum is present (it is verified on parse and computed
    /// on emit).
    pub checksum: bool,
    pub key: Option<u32>,
    pub sequence: Option<u32>,
}

impl GreRepr {
    pub fn parse<T: AsRef<[u8]>>(packet: &GrePacket<T>) -> Result<Self> {
        packet.check_len()?;
        if packet.version() != 0 {
            return Err(WireError::BadVersion);
        }
        if packet.has_routing() || packet.flags() & RFC1701_BITS != 0 {
            return Err(WireError::Unsupported);
        }
        if !packet.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        Ok(GreRepr {
            protocol: packet.protocol(),
            checksum: packet.has_checksum(),
            key: packet.key(),
            sequence: packet.sequence(),
        })
    }

    /// The header length: 4 plus 4 per optional field. The payload is the
    /// caller's.
    pub fn header_len(&self) -> usize {
        let present = [self.checksum, self.key.is_some(), self.sequence.is_some()];
        HEADER_LEN + 4 * present.iter().filter(|bit| **bit).count()
    }

    /// Same as `header_len`: what `emit` needs at least.
    pub fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Writes the header at the start of the buffer. With `checksum` set it
    /// is computed over the whole buffer, so write the payload first.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut GrePacket<T>) -> Result<()> {
        field::check_room(packet.buffer.as_ref(), self.header_len())?;
        packet.set_flags(self.checksum, self.key.is_some(), self.sequence.is_some());
        packet.set_protocol(self.protocol);
        if let Some(key) = self.key {
            packet.set_key(key);
        }
        if let Some(sequence) = self.sequence {
            packet.set_sequence(sequence);
        }
        packet.fill_checksum();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// MPLSoGRE as weft sends it: plain GRE, protocol 0x8847, then label 17.
    /// scapy 2.8.0: `GRE(proto=0x8847) / MPLS(label=17, s=1, ttl=64)`.
    const PLAIN: [u8; 8] = [0x00, 0x00, 0x88, 0x47, 0x00, 0x01, 0x11, 0x40];

    /// Every optional field: checksum, key 0x01020304, sequence 7, same
    /// payload. scapy 2.8.0: `GRE(chksum_present=1, key_present=1,
    /// key=0x01020304, seqnum_present=1, sequence_number=7, proto=0x8847) /
    /// MPLS(label=17, s=1, ttl=64)`.
    const FULL: [u8; 20] = [
        0xb0, 0x00, 0x88, 0x47, 0xb2, 0x69, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00,
        0x07, 0x00, 0x01, 0x11, 0x40,
    ];

    fn reemit(repr: &GreRepr, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; repr.header_len()];
        out.extend_from_slice(payload);
        repr.emit(&mut GrePacket::new_unchecked(&mut out[..]))
            .unwrap();
        out
    }

    #[test]
    fn plain_gre_round_trips_byte_exact() {
        let packet = GrePacket::new_checked(&PLAIN[..]).unwrap();
        let repr = GreRepr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            GreRepr {
                protocol: EtherType::MPLS_UNICAST,
                checksum: false,
                key: None,
                sequence: None
            }
        );
        assert_eq!(packet.payload(), &PLAIN[4..]);
        assert_eq!(reemit(&repr, packet.payload()), PLAIN);
    }

    #[test]
    fn optional_fields_round_trip_byte_exact() {
        let packet = GrePacket::new_checked(&FULL[..]).unwrap();
        let repr = GreRepr::parse(&packet).unwrap();
        assert!(repr.checksum);
        assert_eq!(repr.key, Some(0x0102_0304));
        assert_eq!(repr.sequence, Some(7));
        assert_eq!(packet.payload(), &PLAIN[4..]);
        assert_eq!(reemit(&repr, packet.payload()), FULL);
    }

    #[test]
    fn rejects_what_rfc2784_says_to_discard() {
        let parse = |bytes: &[u8]| GreRepr::parse(&GrePacket::new_checked(bytes)?);
        let mut v1 = PLAIN;
        v1[1] = 0x01;
        assert_eq!(parse(&v1), Err(WireError::BadVersion));
        let mut routing = FULL;
        routing[0] = 0x40;
        assert_eq!(parse(&routing), Err(WireError::Unsupported));
        let mut strict = PLAIN;
        strict[0] = 0x08;
        assert_eq!(parse(&strict), Err(WireError::Unsupported));
        let mut corrupt = FULL;
        corrupt[19] ^= 1;
        assert_eq!(parse(&corrupt), Err(WireError::BadChecksum));
        assert_eq!(parse(&FULL[..15]), Err(WireError::Truncated));
        // Reserved bits 6-12 are ignored on receipt.
        let mut reserved = PLAIN;
        reserved[1] = 0x80;
        assert!(parse(&reserved).is_ok());
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(
            protocol in any::<u16>(),
            checksum in any::<bool>(),
            key in proptest::option::of(any::<u32>()),
            sequence in proptest::option::of(any::<u32>()),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let repr = GreRepr { protocol: EtherType(protocol), checksum, key, sequence };
            let out = reemit(&repr, &payload);
            let packet = GrePacket::new_checked(&out[..]).unwrap();
            prop_assert_eq!(GreRepr::parse(&packet).unwrap(), repr);
            prop_assert_eq!(packet.payload(), &payload[..]);
        }
    }
}
