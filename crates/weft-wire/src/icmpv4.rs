//! ICMP for IPv4 (RFC 792): echo request and reply, destination unreachable
//! and time exceeded quoting the original header, and builders for the
//! messages the vRouter originates.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Identifier          |        Sequence Number        |  echo
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |            unused             |   Next-hop MTU (RFC 1191)     |  errors
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data (echo) / Internet Header + 64 bits of Original Data     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-
//! ```
//!
//! The checksum covers the whole ICMP message; the view's buffer is the IP
//! payload.

use crate::checksum;
use crate::consts::{IpProtocol, icmpv4};
use crate::field;
use crate::ipv4::Ipv4Repr;
use crate::{Result, WireError};

mod fields {
    pub(super) const TYPE: usize = 0;
    pub(super) const CODE: usize = 1;
    pub(super) const CHECKSUM: usize = 2;
    pub(super) const ECHO_IDENT: usize = 4;
    pub(super) const ECHO_SEQNO: usize = 6;
    pub(super) const NEXT_HOP_MTU: usize = 6;
}

/// Length of the ICMP header (type, code, checksum and the 4-byte rest).
pub const HEADER_LEN: usize = 8;
/// How many bytes of the original payload an error quotes (RFC 792).
pub const QUOTED_PAYLOAD_LEN: usize = 8;

/// A read/write view of an ICMPv4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// Wraps a buffer holding at least the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::TYPE)
    }

    pub fn msg_code(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::CODE)
    }

    pub fn checksum(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::CHECKSUM)
    }

    pub fn echo_ident(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::ECHO_IDENT)
    }

    pub fn echo_seq_no(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::ECHO_SEQNO)
    }

    /// The next-hop MTU of a "fragmentation needed" message.
    pub fn next_hop_mtu(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::NEXT_HOP_MTU)
    }

    pub fn verify_checksum(&self) -> bool {
        checksum::verifies(checksum::sum(0, self.buffer.as_ref()))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Icmpv4Packet<&'a T> {
    /// The bytes after the 8-byte header.
    pub fn data(&self) -> &'a [u8] {
        field::rest(self.buffer.as_ref(), HEADER_LEN)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    pub fn set_msg_type(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::TYPE, value);
    }

    pub fn set_msg_code(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::CODE, value);
    }

    pub fn set_checksum(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::CHECKSUM, value);
    }

    pub fn set_echo_ident(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::ECHO_IDENT, value);
    }

    pub fn set_echo_seq_no(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::ECHO_SEQNO, value);
    }

    /// Clears the unused word and sets the next-hop MTU.
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        field::set_u32(self.buffer.as_mut(), fields::ECHO_IDENT, u32::from(value));
    }

    /// Computes the checksum over the whole buffer and writes it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let value = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(value);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        field::rest_mut(self.buffer.as_mut(), HEADER_LEN)
    }
}

/// A validated ICMPv4 message of a type weft handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4Repr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    DstUnreachable {
        /// One of the `consts::icmpv4::UNREACH_*` codes.
        code: u8,
        /// Set for "fragmentation needed" (RFC 1191), 0 otherwise.
        next_hop_mtu: u16,
        /// The original header; its `payload_len` is the original's, not
        /// the quote's.
        header: Ipv4Repr,
        /// The quoted start of the original payload.
        data: &'a [u8],
    },
    TimeExceeded {
        /// 0: TTL exceeded in transit; 1: reassembly time exceeded.
        code: u8,
        header: Ipv4Repr,
        data: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Verifies the checksum and reads the message. Types other than echo,
    /// destination unreachable and time exceeded are `Unsupported`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Icmpv4Packet<&'a T>) -> Result<Self> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        let code = packet.msg_code();
        match packet.msg_type() {
            icmpv4::ECHO_REQUEST | icmpv4::ECHO_REPLY if code != 0 => Err(WireError::Malformed),
            icmpv4::ECHO_REQUEST => Ok(Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data: packet.data(),
            }),
            icmpv4::ECHO_REPLY => Ok(Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data: packet.data(),
            }),
            icmpv4::DST_UNREACHABLE => {
                let (header, header_len) = Ipv4Repr::parse_quoted(packet.data())?;
                Ok(Icmpv4Repr::DstUnreachable {
                    code,
                    next_hop_mtu: packet.next_hop_mtu(),
                    header,
                    data: field::rest(packet.data(), header_len),
                })
            }
            icmpv4::TIME_EXCEEDED => {
                let (header, header_len) = Ipv4Repr::parse_quoted(packet.data())?;
                Ok(Icmpv4Repr::TimeExceeded {
                    code,
                    header,
                    data: field::rest(packet.data(), header_len),
                })
            }
            _ => Err(WireError::Unsupported),
        }
    }

    /// The whole message length.
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Icmpv4Repr::DstUnreachable { header, data, .. }
            | Icmpv4Repr::TimeExceeded { header, data, .. } => {
                HEADER_LEN + header.header_len() + data.len()
            }
        }
    }

    /// Writes the whole message and its checksum into the first
    /// `buffer_len()` bytes of the buffer.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Icmpv4Packet<T>) -> Result<()> {
        let len = self.buffer_len();
        let message = field::slice_mut(packet.buffer.as_mut(), 0..len);
        if message.len() != len {
            return Err(WireError::BufferTooSmall);
        }
        let mut message = Icmpv4Packet::new_unchecked(message);
        match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                let msg_type = if matches!(self, Icmpv4Repr::EchoRequest { .. }) {
                    icmpv4::ECHO_REQUEST
                } else {
                    icmpv4::ECHO_REPLY
                };
                message.set_msg_type(msg_type);
                message.set_msg_code(0);
                message.set_echo_ident(ident);
                message.set_echo_seq_no(seq_no);
                field::set_bytes(message.data_mut(), 0, data);
            }
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                header,
                data,
            } => {
                message.set_msg_type(icmpv4::DST_UNREACHABLE);
                message.set_msg_code(code);
                message.set_next_hop_mtu(next_hop_mtu);
                emit_quote(message.data_mut(), &header, data)?;
            }
            Icmpv4Repr::TimeExceeded { code, header, data } => {
                message.set_msg_type(icmpv4::TIME_EXCEEDED);
                message.set_msg_code(code);
                message.set_next_hop_mtu(0);
                emit_quote(message.data_mut(), &header, data)?;
            }
        }
        message.fill_checksum();
        Ok(())
    }

    /// The reply to an echo request: same identifier, sequence number and
    /// data. `None` for anything else.
    pub fn echo_reply(&self) -> Option<Icmpv4Repr<'a>> {
        match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => Some(Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            }),
            _ => None,
        }
    }

    /// A destination unreachable about `original` (the whole IPv4 packet
    /// being refused), quoting its header and the first 8 payload bytes
    /// (RFC 792). The quoted header is re-emitted without options.
    /// `next_hop_mtu` matters only for `UNREACH_FRAG_NEEDED`.
    ///
    /// Refuses (`Unsupported`) where RFC 1122 §3.2.2 forbids an error: about
    /// an ICMP error, a non-initial fragment, or a packet to a broadcast or
    /// multicast address.
    pub fn dst_unreachable(code: u8, next_hop_mtu: u16, original: &'a [u8]) -> Result<Self> {
        let (header, data) = quote(original)?;
        Ok(Icmpv4Repr::DstUnreachable {
            code,
            next_hop_mtu,
            header,
            data,
        })
    }

    /// A time exceeded (code 0, TTL expired in transit) about `original`,
    /// under the same rules as [`Icmpv4Repr::dst_unreachable`].
    pub fn time_exceeded(original: &'a [u8]) -> Result<Self> {
        let (header, data) = quote(original)?;
        Ok(Icmpv4Repr::TimeExceeded {
            code: 0,
            header,
            data,
        })
    }
}

fn emit_quote(buf: &mut [u8], header: &Ipv4Repr, data: &[u8]) -> Result<()> {
    header.emit_header(buf)?;
    field::set_bytes(buf, header.header_len(), data);
    Ok(())
}

/// The header and first payload bytes of an original packet an error may
/// be sent about.
fn quote(original: &[u8]) -> Result<(Ipv4Repr, &[u8])> {
    let (header, header_len) = Ipv4Repr::parse_quoted(original)?;
    if header.fragment_offset != 0
        || header.dst_addr.is_broadcast()
        || header.dst_addr.is_multicast()
    {
        return Err(WireError::Unsupported);
    }
    // The payload up to the total length, or to the end of what was captured.
    let end = header_len
        .saturating_add(header.payload_len)
        .min(original.len());
    let payload = field::slice(original, header_len..end);
    if header.protocol == IpProtocol::ICMP {
        let inner = Icmpv4Packet::new_unchecked(payload);
        if !matches!(inner.msg_type(), icmpv4::ECHO_REQUEST | icmpv4::ECHO_REPLY) {
            return Err(WireError::Unsupported);
        }
    }
    let quoted = payload.len().min(QUOTED_PAYLOAD_LEN);
    Ok((header, field::slice(payload, 0..quoted)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ipv4::Ipv4Packet;
    use crate::ipv4::tests::PING;
    use proptest::prelude::*;

    fn emit(repr: &Icmpv4Repr<'_>) -> Vec<u8> {
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]))
            .unwrap();
        out
    }

    #[test]
    fn echo_request_parses_and_reply_is_byte_exact() {
        let icmp = &PING[20..];
        let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(icmp).unwrap()).unwrap();
        assert_eq!(
            repr,
            Icmpv4Repr::EchoRequest {
                ident: 0x0b2a,
                seq_no: 1,
                data: b"weft"
            }
        );
        assert_eq!(emit(&repr), icmp);
        // scapy 2.8.0: ICMP(type=0, id=0x0b2a, seq=1) / b'weft'.
        let reply = [
            0x00, 0x00, 0x16, 0xfb, 0x0b, 0x2a, 0x00, 0x01, 0x77, 0x65, 0x66, 0x74,
        ];
        assert_eq!(emit(&repr.echo_reply().unwrap()), reply);
    }

    #[test]
    fn port_unreachable_quotes_header_and_eight_bytes() {
        // scapy 2.8.0: IP(src='192.168.1.4', dst='192.168.1.3', id=7) /
        // UDP(sport=5000, dport=9) / b'0123456789', then ICMP(type=3,
        // code=3) / bytes(that)[:28].
        let original = [
            0x45, 0x00, 0x00, 0x26, 0x00, 0x07, 0x00, 0x00, 0x40, 0x11, 0xf7, 0x68, 0xc0, 0xa8,
            0x01, 0x04, 0xc0, 0xa8, 0x01, 0x03, 0x13, 0x88, 0x00, 0x09, 0x00, 0x12, 0x63, 0xd7,
            0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
        ];
        let expected = [
            0x03, 0x03, 0x85, 0x82, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x26, 0x00, 0x07,
            0x00, 0x00, 0x40, 0x11, 0xf7, 0x68, 0xc0, 0xa8, 0x01, 0x04, 0xc0, 0xa8, 0x01, 0x03,
            0x13, 0x88, 0x00, 0x09, 0x00, 0x12, 0x63, 0xd7,
        ];
        let repr = Icmpv4Repr::dst_unreachable(icmpv4::UNREACH_PORT, 0, &original).unwrap();
        let out = emit(&repr);
        assert_eq!(out, expected);
        let parsed = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&out[..]).unwrap()).unwrap();
        assert_eq!(parsed, repr);
        let Icmpv4Repr::DstUnreachable { header, data, .. } = parsed else {
            panic!("not a destination unreachable");
        };
        assert_eq!(header.payload_len, 18);
        assert_eq!(data, &original[20..28]);
    }

    #[test]
    fn no_error_about_an_error_or_a_later_fragment() {
        let unreachable = Icmpv4Repr::dst_unreachable(icmpv4::UNREACH_HOST, 0, &PING).unwrap();
        let mut error = vec![0u8; 20 + unreachable.buffer_len()];
        let ip = Ipv4Repr {
            payload_len: unreachable.buffer_len(),
            ..Ipv4Repr::parse(&Ipv4Packet::new_checked(&PING[..]).unwrap()).unwrap()
        };
        ip.emit(&mut Ipv4Packet::new_unchecked(&mut error[..]))
            .unwrap();
        unreachable
            .emit(&mut Icmpv4Packet::new_unchecked(&mut error[20..]))
            .unwrap();
        assert_eq!(
            Icmpv4Repr::time_exceeded(&error),
            Err(WireError::Unsupported)
        );

        let mut later = PING;
        let mut packet = Ipv4Packet::new_unchecked(&mut later[..]);
        packet.set_fragment(false, false, 8);
        assert_eq!(
            Icmpv4Repr::time_exceeded(&later),
            Err(WireError::Unsupported)
        );
    }

    #[test]
    fn rejects_bad_checksum_and_unknown_types() {
        let mut icmp = PING[20..].to_vec();
        icmp[2] ^= 0xff;
        assert_eq!(
            Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&icmp[..]).unwrap()),
            Err(WireError::BadChecksum)
        );
        let mut redirect = [5u8, 0, 0, 0, 0, 0, 0, 0];
        Icmpv4Packet::new_unchecked(&mut redirect[..]).fill_checksum();
        assert_eq!(
            Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&redirect[..]).unwrap()),
            Err(WireError::Unsupported)
        );
        assert_eq!(
            Icmpv4Packet::new_checked(&icmp[..7]).unwrap_err(),
            WireError::Truncated
        );
    }

    fn arb_repr_with<'a>(
        data: &'a [u8],
        kind: u8,
        a: u16,
        b: u16,
        header: Ipv4Repr,
    ) -> Icmpv4Repr<'a> {
        match kind {
            0 => Icmpv4Repr::EchoRequest {
                ident: a,
                seq_no: b,
                data,
            },
            1 => Icmpv4Repr::EchoReply {
                ident: a,
                seq_no: b,
                data,
            },
            2 => Icmpv4Repr::DstUnreachable {
                code: a as u8,
                next_hop_mtu: b,
                header,
                data,
            },
            _ => Icmpv4Repr::TimeExceeded {
                code: a as u8,
                header,
                data,
            },
        }
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            kind in 0u8..4,
            a in any::<u16>(),
            b in any::<u16>(),
            header in crate::ipv4::tests::arb_repr(),
        ) {
            let repr = arb_repr_with(&data, kind, a, b, header);
            let out = emit(&repr);
            let packet = Icmpv4Packet::new_checked(&out[..]).unwrap();
            prop_assert_eq!(Icmpv4Repr::parse(&packet).unwrap(), repr);
        }
    }
}
