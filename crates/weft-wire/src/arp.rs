//! ARP for IPv4 over Ethernet (RFC 826), and the proxy reply the vRouter
//! sends for every address of a virtual network.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Hardware type (1)        |    Protocol type (0x0800)     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | HW length (6) |Proto length(4)|          Operation            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Sender hardware address (6 octets) ...              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  ... sender hw address        | Sender protocol address ...   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | ... sender proto address      | Target hardware address ...   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           ... target hardware address (6 octets)              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Target protocol address                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The view reads the generic layout (addresses sized by the length fields);
//! the representation only accepts Ethernet/IPv4.

use std::net::Ipv4Addr;

use weft_types::MacAddr;

use crate::consts::{EtherType, arp};
use crate::field;
use crate::{Result, WireError};

mod fields {
    pub(super) const HTYPE: usize = 0;
    pub(super) const PTYPE: usize = 2;
    pub(super) const HLEN: usize = 4;
    pub(super) const PLEN: usize = 5;
    pub(super) const OPER: usize = 6;
    pub(super) const SHA: usize = 8;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const ETHERNET_IPV4_LEN: usize = 28;

/// An ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    Request,
    Reply,
}

/// A read/write view of an ARP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps a buffer that holds the fixed part and all four addresses.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < fields::SHA || len < self.packet_len() {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    /// The length the hardware and protocol length fields imply.
    pub fn packet_len(&self) -> usize {
        fields::SHA + 2 * (usize::from(self.hardware_len()) + usize::from(self.protocol_len()))
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn hardware_type(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::HTYPE)
    }

    pub fn protocol_type(&self) -> EtherType {
        EtherType(field::u16_at(self.buffer.as_ref(), fields::PTYPE))
    }

    pub fn hardware_len(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::HLEN)
    }

    pub fn protocol_len(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::PLEN)
    }

    pub fn operation(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::OPER)
    }

    fn spa_at(&self) -> usize {
        fields::SHA + usize::from(self.hardware_len())
    }

    fn tha_at(&self) -> usize {
        self.spa_at() + usize::from(self.protocol_len())
    }

    fn tpa_at(&self) -> usize {
        self.tha_at() + usize::from(self.hardware_len())
    }

    pub fn source_hardware_addr(&self) -> &[u8] {
        let at = fields::SHA;
        field::slice(self.buffer.as_ref(), at..self.spa_at())
    }

    pub fn source_protocol_addr(&self) -> &[u8] {
        field::slice(self.buffer.as_ref(), self.spa_at()..self.tha_at())
    }

    pub fn target_hardware_addr(&self) -> &[u8] {
        field::slice(self.buffer.as_ref(), self.tha_at()..self.tpa_at())
    }

    pub fn target_protocol_addr(&self) -> &[u8] {
        let end = self.tpa_at() + usize::from(self.protocol_len());
        field::slice(self.buffer.as_ref(), self.tpa_at()..end)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    pub fn set_hardware_type(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::HTYPE, value);
    }

    pub fn set_protocol_type(&mut self, value: EtherType) {
        field::set_u16(self.buffer.as_mut(), fields::PTYPE, value.0);
    }

    pub fn set_hardware_len(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::HLEN, value);
    }

    pub fn set_protocol_len(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::PLEN, value);
    }

    pub fn set_operation(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::OPER, value);
    }

    /// Writes the sender hardware address; sized by the hardware length field.
    pub fn set_source_hardware_addr(&mut self, value: &[u8]) {
        field::set_bytes(self.buffer.as_mut(), fields::SHA, value);
    }

    pub fn set_source_protocol_addr(&mut self, value: &[u8]) {
        let at = self.spa_at();
        field::set_bytes(self.buffer.as_mut(), at, value);
    }

    pub fn set_target_hardware_addr(&mut self, value: &[u8]) {
        let at = self.tha_at();
        field::set_bytes(self.buffer.as_mut(), at, value);
    }

    pub fn set_target_protocol_addr(&mut self, value: &[u8]) {
        let at = self.tpa_at();
        field::set_bytes(self.buffer.as_mut(), at, value);
    }
}

/// A validated Ethernet/IPv4 ARP request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    pub operation: ArpOperation,
    pub source_hardware_addr: MacAddr,
    pub source_protocol_addr: Ipv4Addr,
    pub target_hardware_addr: MacAddr,
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Accepts Ethernet/IPv4 requests and replies; anything else is
    /// `Unsupported`.
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<Self> {
        packet.check_len()?;
        if packet.hardware_type() != arp::HTYPE_ETHERNET
            || packet.protocol_type() != EtherType::IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(WireError::Unsupported);
        }
        let operation = match packet.operation() {
            arp::OP_REQUEST => ArpOperation::Request,
            arp::OP_REPLY => ArpOperation::Reply,
            _ => return Err(WireError::Unsupported),
        };
        let buf = packet.buffer.as_ref();
        Ok(ArpRepr {
            operation,
            source_hardware_addr: field::mac_at(buf, fields::SHA),
            source_protocol_addr: field::ipv4_at(buf, 14),
            target_hardware_addr: field::mac_at(buf, 18),
            target_protocol_addr: field::ipv4_at(buf, 24),
        })
    }

    /// Always 28: an Ethernet/IPv4 ARP packet.
    pub fn buffer_len(&self) -> usize {
        ETHERNET_IPV4_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) -> Result<()> {
        field::check_room(packet.buffer.as_ref(), self.buffer_len())?;
        packet.set_hardware_type(arp::HTYPE_ETHERNET);
        packet.set_protocol_type(EtherType::IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(match self.operation {
            ArpOperation::Request => arp::OP_REQUEST,
            ArpOperation::Reply => arp::OP_REPLY,
        });
        packet.set_source_hardware_addr(&self.source_hardware_addr.0);
        packet.set_source_protocol_addr(&self.source_protocol_addr.octets());
        packet.set_target_hardware_addr(&self.target_hardware_addr.0);
        packet.set_target_protocol_addr(&self.target_protocol_addr.octets());
        Ok(())
    }

    /// A gratuitous ARP announces the sender's own address (RFC 5227 §3):
    /// it asks for nothing and gets no answer.
    pub fn is_gratuitous(&self) -> bool {
        self.source_protocol_addr == self.target_protocol_addr
    }

    /// The reply a proxy owning `mac` sends to this request: "target
    /// protocol address is at `mac`", addressed to the requester. `None` for
    /// replies, gratuitous requests and probes from 0.0.0.0 whose answer
    /// would be a conflict report rather than a proxy reply (RFC 5227 §2.1.1).
    pub fn proxy_reply(&self, mac: MacAddr) -> Option<ArpRepr> {
        if self.operation != ArpOperation::Request
            || self.is_gratuitous()
            || self.source_protocol_addr.is_unspecified()
        {
            return None;
        }
        Some(ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: mac,
            source_protocol_addr: self.target_protocol_addr,
            target_hardware_addr: self.source_hardware_addr,
            target_protocol_addr: self.source_protocol_addr,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ethernet::tests::arb_mac;
    use proptest::prelude::*;

    /// "Who has 192.168.1.1? Tell 192.168.1.3" from fa:16:3e:00:00:03, the
    /// 28-byte ARP body of a Linux VM's request (tcpdump -xx layout).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // Ethernet, IPv4, 6, 4, request
        0xfa, 0x16, 0x3e, 0x00, 0x00, 0x03, 192, 168, 1, 3, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 168, 1, 1, // target
    ];

    #[test]
    fn parses_request_and_builds_proxy_reply() {
        let request = ArpRepr::parse(&ArpPacket::new_checked(&REQUEST[..]).unwrap()).unwrap();
        assert_eq!(request.operation, ArpOperation::Request);
        assert_eq!(request.source_protocol_addr, Ipv4Addr::new(192, 168, 1, 3));
        assert_eq!(request.target_protocol_addr, Ipv4Addr::new(192, 168, 1, 1));

        let vrouter = MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, 0x00]);
        let reply = request.proxy_reply(vrouter).unwrap();
        let mut out = [0u8; 28];
        reply
            .emit(&mut ArpPacket::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(
            out,
            [
                0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, // reply
                0x00, 0x00, 0x5e, 0x00, 0x01, 0x00, 192, 168, 1, 1, // vRouter has .1
                0xfa, 0x16, 0x3e, 0x00, 0x00, 0x03, 192, 168, 1, 3, // to the asker
            ]
        );
        assert!(reply.proxy_reply(vrouter).is_none());
    }

    #[test]
    fn gratuitous_and_probes_get_no_proxy_reply() {
        let mut gratuitous = REQUEST;
        gratuitous[24..28].copy_from_slice(&[192, 168, 1, 3]);
        let repr = ArpRepr::parse(&ArpPacket::new_checked(&gratuitous[..]).unwrap()).unwrap();
        assert!(repr.proxy_reply(MacAddr::BROADCAST).is_none());

        let mut probe = REQUEST;
        probe[14..18].copy_from_slice(&[0, 0, 0, 0]);
        let repr = ArpRepr::parse(&ArpPacket::new_checked(&probe[..]).unwrap()).unwrap();
        assert!(repr.proxy_reply(MacAddr::BROADCAST).is_none());
    }

    #[test]
    fn other_hardware_is_unsupported_and_short_is_truncated() {
        let mut other = REQUEST;
        other[1] = 6; // IEEE 802
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_checked(&other[..]).unwrap()),
            Err(WireError::Unsupported)
        );
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).unwrap_err(),
            WireError::Truncated
        );
        // A length field that points far past the end is caught too.
        let mut long = REQUEST;
        long[4] = 255;
        assert_eq!(
            ArpPacket::new_checked(&long[..]).unwrap_err(),
            WireError::Truncated
        );
    }

    pub(crate) fn arb_repr() -> impl Strategy<Value = ArpRepr> {
        (
            any::<bool>(),
            arb_mac(),
            any::<[u8; 4]>(),
            arb_mac(),
            any::<[u8; 4]>(),
        )
            .prop_map(|(request, sha, spa, tha, tpa)| ArpRepr {
                operation: if request {
                    ArpOperation::Request
                } else {
                    ArpOperation::Reply
                },
                source_hardware_addr: sha,
                source_protocol_addr: spa.into(),
                target_hardware_addr: tha,
                target_protocol_addr: tpa.into(),
            })
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(repr in arb_repr()) {
            let mut buf = [0u8; ETHERNET_IPV4_LEN];
            repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()).unwrap(), repr);
        }
    }
}
