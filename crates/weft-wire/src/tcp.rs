//! TCP (RFC 9293): ports, sequence numbers, flags, header length and the
//! pseudo-header checksum. Options are carried as raw bytes.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! |       |       |R|E|G|K|H|T|N|N|                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           [Options]                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                             data ...
//! ```
//!
//! TCP has no length field: the view's buffer is the whole segment (the IP
//! payload), and the checksum covers all of it.

use std::fmt;
use std::ops::BitOr;

use crate::checksum::IpPair;
use crate::consts::IpProtocol;
use crate::field::{self, Field};
use crate::{Result, WireError};

mod fields {
    use super::Field;
    pub(super) const SRC_PORT: usize = 0;
    pub(super) const DST_PORT: usize = 2;
    pub(super) const SEQ_NUM: usize = 4;
    pub(super) const ACK_NUM: usize = 8;
    pub(super) const DATA_OFFSET: usize = 12;
    pub(super) const FLAGS: usize = 13;
    pub(super) const WINDOW: usize = 14;
    pub(super) const CHECKSUM: usize = 16;
    pub(super) const URGENT: usize = 18;
    pub(super) const CHECKSUM_FIELD: Field = 16..18;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// The most option bytes a 4-bit data offset allows.
pub const MAX_OPTIONS_LEN: usize = 40;

/// The eight TCP control bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;

    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(TcpFlags, &str); 8] = [
            (TcpFlags::CWR, "CWR"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::ACK, "ACK"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::FIN, "FIN"),
        ];
        let mut set = NAMES.iter().filter(|(flag, _)| self.contains(*flag));
        f.write_str("TcpFlags(")?;
        if let Some((_, first)) = set.next() {
            f.write_str(first)?;
            for (_, name) in set {
                write!(f, "|{name}")?;
            }
        }
        f.write_str(")")
    }
}

/// A read/write view of a TCP segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps a buffer holding a whole segment: a data offset of at least 5
    /// and the options it implies.
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
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(WireError::BadLength);
        }
        if len < header_len {
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

    pub fn seq_number(&self) -> u32 {
        field::u32_at(self.buffer.as_ref(), fields::SEQ_NUM)
    }

    pub fn ack_number(&self) -> u32 {
        field::u32_at(self.buffer.as_ref(), fields::ACK_NUM)
    }

    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(field::u8_at(self.buffer.as_ref(), fields::DATA_OFFSET) >> 4) * 4
    }

    pub fn flags(&self) -> TcpFlags {
        TcpFlags(field::u8_at(self.buffer.as_ref(), fields::FLAGS))
    }

    pub fn window(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::WINDOW)
    }

    pub fn checksum(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::CHECKSUM)
    }

    pub fn urgent_pointer(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::URGENT)
    }

    /// Whether the checksum over the whole buffer verifies under `ips`.
    pub fn verify_checksum(&self, ips: &IpPair) -> bool {
        ips.verifies(IpProtocol::TCP, self.buffer.as_ref())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TcpPacket<&'a T> {
    /// The option bytes between the fixed header and the data.
    pub fn options(&self) -> &'a [u8] {
        field::slice(self.buffer.as_ref(), HEADER_LEN..self.header_len())
    }

    /// The data after the header.
    pub fn payload(&self) -> &'a [u8] {
        field::rest(self.buffer.as_ref(), self.header_len())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    pub fn set_src_port(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::SRC_PORT, value);
    }

    pub fn set_dst_port(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::DST_PORT, value);
    }

    pub fn set_seq_number(&mut self, value: u32) {
        field::set_u32(self.buffer.as_mut(), fields::SEQ_NUM, value);
    }

    pub fn set_ack_number(&mut self, value: u32) {
        field::set_u32(self.buffer.as_mut(), fields::ACK_NUM, value);
    }

    /// Sets the data offset from a header length in bytes (a multiple of 4,
    /// at most 60); clears the reserved bits.
    pub fn set_header_len(&mut self, len: usize) {
        let offset = u8::try_from(len / 4).unwrap_or(0x0f).min(0x0f);
        field::set_u8(self.buffer.as_mut(), fields::DATA_OFFSET, offset << 4);
    }

    pub fn set_flags(&mut self, flags: TcpFlags) {
        field::set_u8(self.buffer.as_mut(), fields::FLAGS, flags.0);
    }

    pub fn set_window(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::WINDOW, value);
    }

    pub fn set_checksum(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::CHECKSUM, value);
    }

    pub fn set_urgent_pointer(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::URGENT, value);
    }

    /// Computes the checksum over the whole buffer and writes it.
    pub fn fill_checksum(&mut self, ips: &IpPair) {
        field::set_bytes(self.buffer.as_mut(), fields::CHECKSUM_FIELD.start, &[0, 0]);
        let value = ips.checksum(IpProtocol::TCP, self.buffer.as_ref());
        self.set_checksum(value);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        field::rest_mut(self.buffer.as_mut(), at)
    }
}

/// A validated TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq_number: u32,
    pub ack_number: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent_pointer: u16,
    /// Raw option bytes, padding included (a multiple of 4 when parsed).
    pub options: &'a [u8],
    /// Bytes after the header.
    pub payload_len: usize,
}

impl<'a> TcpRepr<'a> {
    /// Validates the data offset and the checksum under `ips`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &TcpPacket<&'a T>, ips: &IpPair) -> Result<Self> {
        packet.check_len()?;
        if !packet.verify_checksum(ips) {
            return Err(WireError::BadChecksum);
        }
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq_number: packet.seq_number(),
            ack_number: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window(),
            urgent_pointer: packet.urgent_pointer(),
            options: packet.options(),
            payload_len: packet.payload().len(),
        })
    }

    /// 20 plus the options rounded up to 4.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len().next_multiple_of(4)
    }

    /// Header plus payload: the segment `emit` writes.
    pub fn buffer_len(&self) -> usize {
        self.header_len().saturating_add(self.payload_len)
    }

    /// Writes the header (options zero-padded to 4) into a buffer of at
    /// least `buffer_len()` bytes and computes the checksum over the first
    /// `buffer_len()` bytes, payload included: write the payload first.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut TcpPacket<T>,
        ips: &IpPair,
    ) -> Result<()> {
        if self.options.len() > MAX_OPTIONS_LEN {
            return Err(WireError::ValueTooLarge);
        }
        let segment_len = self.buffer_len();
        let segment = field::slice_mut(packet.buffer.as_mut(), 0..segment_len);
        if segment.len() != segment_len {
            return Err(WireError::BufferTooSmall);
        }
        let header_len = self.header_len();
        let mut segment = TcpPacket::new_unchecked(segment);
        segment.set_src_port(self.src_port);
        segment.set_dst_port(self.dst_port);
        segment.set_seq_number(self.seq_number);
        segment.set_ack_number(self.ack_number);
        segment.set_header_len(header_len);
        segment.set_flags(self.flags);
        segment.set_window(self.window);
        segment.set_urgent_pointer(self.urgent_pointer);
        let options = field::slice_mut(segment.buffer, HEADER_LEN..header_len);
        options.fill(0);
        field::set_bytes(options, 0, self.options);
        segment.fill_checksum(ips);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::udp::tests::arb_ips;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// A Linux-style SYN 192.168.1.4:40000 → 192.168.1.3:22 with MSS 1460,
    /// SACK permitted, timestamps and window scale 7, generated with scapy
    /// 2.8.0: `TCP(sport=40000, dport=22, seq=0x01020304, flags='S',
    /// window=64240, options=[('MSS', 1460), ('SAckOK', b''), ('Timestamp',
    /// (1, 0)), ('NOP', None), ('WScale', 7)])` under that IP header.
    const SYN: [u8; 40] = [
        0x9c, 0x40, 0x00, 0x16, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x29, 0x5a, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];
    const SYN_IPS: IpPair = IpPair::V4 {
        src: Ipv4Addr::new(192, 168, 1, 4),
        dst: Ipv4Addr::new(192, 168, 1, 3),
    };

    /// An SSH banner fd00::3:22 → fd00::4:40000, PSH|ACK, over IPv6 (scapy
    /// 2.8.0: `IPv6(src='fd00::4', dst='fd00::3') / TCP(sport=22,
    /// dport=40000, seq=0x0a0b0c0d, ack=0x01020305, flags='PA', window=502) /
    /// b'SSH-2.0-weft\r\n'`).
    const BANNER: [u8; 34] = [
        0x00, 0x16, 0x9c, 0x40, 0x0a, 0x0b, 0x0c, 0x0d, 0x01, 0x02, 0x03, 0x05, 0x50, 0x18, 0x01,
        0xf6, 0x14, 0x8b, 0x00, 0x00, 0x53, 0x53, 0x48, 0x2d, 0x32, 0x2e, 0x30, 0x2d, 0x77, 0x65,
        0x66, 0x74, 0x0d, 0x0a,
    ];
    const BANNER_IPS: IpPair = IpPair::V6 {
        src: Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 4),
        dst: Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3),
    };

    fn reemit(repr: &TcpRepr<'_>, payload: &[u8], ips: &IpPair) -> Vec<u8> {
        let mut out = vec![0u8; repr.buffer_len()];
        out[repr.header_len()..].copy_from_slice(payload);
        repr.emit(&mut TcpPacket::new_unchecked(&mut out[..]), ips)
            .unwrap();
        out
    }

    #[test]
    fn syn_with_options_round_trips_byte_exact() {
        let packet = TcpPacket::new_checked(&SYN[..]).unwrap();
        let repr = TcpRepr::parse(&packet, &SYN_IPS).unwrap();
        assert_eq!(repr.flags, TcpFlags::SYN);
        assert_eq!(repr.seq_number, 0x0102_0304);
        assert_eq!(repr.window, 64240);
        assert_eq!(repr.options.len(), 20);
        assert_eq!(repr.payload_len, 0);
        assert_eq!(reemit(&repr, &[], &SYN_IPS), SYN);
    }

    #[test]
    fn ipv6_segment_round_trips_byte_exact() {
        let packet = TcpPacket::new_checked(&BANNER[..]).unwrap();
        let repr = TcpRepr::parse(&packet, &BANNER_IPS).unwrap();
        assert_eq!(repr.flags, TcpFlags::PSH | TcpFlags::ACK);
        assert_eq!(format!("{:?}", repr.flags), "TcpFlags(ACK|PSH)");
        assert_eq!(packet.payload(), b"SSH-2.0-weft\r\n");
        assert_eq!(reemit(&repr, packet.payload(), &BANNER_IPS), BANNER);
        // The same bytes under the wrong pseudo-header do not verify.
        assert_eq!(
            TcpRepr::parse(&packet, &SYN_IPS),
            Err(WireError::BadChecksum)
        );
    }

    #[test]
    fn rejects_bad_data_offsets() {
        let mut buf = SYN;
        buf[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&buf[..]).unwrap_err(),
            WireError::BadLength
        );
        buf[12] = 0xf0;
        assert_eq!(
            TcpPacket::new_checked(&buf[..]).unwrap_err(),
            WireError::Truncated
        );
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(
            ports in any::<(u16, u16)>(),
            numbers in any::<(u32, u32)>(),
            flags in any::<u8>(),
            window in any::<u16>(),
            urgent in any::<u16>(),
            options in (0usize..=10).prop_flat_map(|words| proptest::collection::vec(any::<u8>(), words * 4)),
            payload in proptest::collection::vec(any::<u8>(), 0..100),
            ips in arb_ips(),
        ) {
            let repr = TcpRepr {
                src_port: ports.0,
                dst_port: ports.1,
                seq_number: numbers.0,
                ack_number: numbers.1,
                flags: TcpFlags(flags),
                window,
                urgent_pointer: urgent,
                options: &options,
                payload_len: payload.len(),
            };
            let out = reemit(&repr, &payload, &ips);
            let packet = TcpPacket::new_checked(&out[..]).unwrap();
            prop_assert_eq!(TcpRepr::parse(&packet, &ips).unwrap(), repr);
        }
    }
}
