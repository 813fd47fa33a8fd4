//! Ethernet II frames, with one IEEE 802.1Q tag read and skipped.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Destination address (6 octets)               |
//! +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                               |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//! |                     Source address (6 octets)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   EtherType (or TPID 0x8100)  |  PCP|D|   VLAN id (if tagged)  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   EtherType (if tagged)       |  payload ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! A second tag (QinQ) is not skipped: its TPID shows as the payload
//! ethertype and the caller drops the frame as unsupported.

use weft_types::MacAddr;

use crate::consts::EtherType;
use crate::field::{self, Field};
use crate::{Result, WireError};

mod fields {
    use super::Field;
    pub(super) const DESTINATION: usize = 0;
    pub(super) const SOURCE: usize = 6;
    pub(super) const ETHERTYPE: usize = 12;
    /// Tag control information, when the frame is tagged.
    pub(super) const TCI: usize = 14;
    pub(super) const TAGGED_ETHERTYPE: usize = 16;
    pub(super) const HEADER: Field = 0..14;
}

/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Length of an 802.1Q tag.
pub const VLAN_TAG_LEN: usize = 4;

/// An IEEE 802.1Q tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VlanTag {
    /// Priority code point, 3 bits.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN id, 12 bits (0 = priority-tagged only).
    pub vid: u16,
}

impl VlanTag {
    fn from_tci(tci: u16) -> Self {
        VlanTag {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        }
    }

    fn tci(&self) -> Result<u16> {
        if self.pcp > 7 || self.vid > 0x0fff {
            return Err(WireError::ValueTooLarge);
        }
        Ok((u16::from(self.pcp) << 13) | (u16::from(self.dei) << 12) | self.vid)
    }
}

/// A read/write view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps a buffer without checking it; accessors on a short buffer read
    /// zeros.
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps a buffer that holds the whole header, tag included.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks that the header, including an 802.1Q tag, is present.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < self.header_len() {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn dst_addr(&self) -> MacAddr {
        field::mac_at(self.buffer.as_ref(), fields::DESTINATION)
    }

    pub fn src_addr(&self) -> MacAddr {
        field::mac_at(self.buffer.as_ref(), fields::SOURCE)
    }

    /// The ethertype right after the addresses: the TPID if the frame is tagged.
    pub fn outer_ethertype(&self) -> EtherType {
        EtherType(field::u16_at(self.buffer.as_ref(), fields::ETHERTYPE))
    }

    /// The 802.1Q tag, if the frame carries one.
    pub fn vlan(&self) -> Option<VlanTag> {
        if self.outer_ethertype() == EtherType::VLAN {
            Some(VlanTag::from_tci(field::u16_at(
                self.buffer.as_ref(),
                fields::TCI,
            )))
        } else {
            None
        }
    }

    /// The ethertype of the payload, after any 802.1Q tag.
    pub fn ethertype(&self) -> EtherType {
        if self.outer_ethertype() == EtherType::VLAN {
            EtherType(field::u16_at(
                self.buffer.as_ref(),
                fields::TAGGED_ETHERTYPE,
            ))
        } else {
            self.outer_ethertype()
        }
    }

    /// 14, or 18 with an 802.1Q tag.
    pub fn header_len(&self) -> usize {
        if self.outer_ethertype() == EtherType::VLAN {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> EthernetFrame<&'a T> {
    /// The bytes after the header (and tag). Ethernet has no length field, so
    /// this includes any padding to the 60-byte minimum; the IP layer trims it.
    pub fn payload(&self) -> &'a [u8] {
        field::rest(self.buffer.as_ref(), self.header_len())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        field::set_bytes(self.buffer.as_mut(), fields::DESTINATION, &addr.0);
    }

    pub fn set_src_addr(&mut self, addr: MacAddr) {
        field::set_bytes(self.buffer.as_mut(), fields::SOURCE, &addr.0);
    }

    /// Sets the ethertype right after the addresses (the TPID of a tagged frame).
    pub fn set_outer_ethertype(&mut self, ethertype: EtherType) {
        field::set_u16(self.buffer.as_mut(), fields::ETHERTYPE, ethertype.0);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        field::rest_mut(self.buffer.as_mut(), at)
    }

    /// The header bytes, tag excluded, for in-place L2 rewrite.
    pub fn header_mut(&mut self) -> &mut [u8] {
        field::slice_mut(self.buffer.as_mut(), fields::HEADER)
    }
}

/// A validated Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    pub src_addr: MacAddr,
    pub dst_addr: MacAddr,
    /// The payload's ethertype (after the tag, if any).
    pub ethertype: EtherType,
    pub vlan: Option<VlanTag>,
}

impl EthernetRepr {
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<Self> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
            vlan: frame.vlan(),
        })
    }

    /// The header length: 14, or 18 with a tag. The payload is the caller's.
    pub fn buffer_len(&self) -> usize {
        if self.vlan.is_some() {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Writes the header at the start of the frame's buffer.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) -> Result<()> {
        field::check_room(frame.buffer.as_ref(), self.buffer_len())?;
        let buf = frame.buffer.as_mut();
        field::set_bytes(buf, fields::DESTINATION, &self.dst_addr.0);
        field::set_bytes(buf, fields::SOURCE, &self.src_addr.0);
        match self.vlan {
            Some(tag) => {
                field::set_u16(buf, fields::ETHERTYPE, EtherType::VLAN.0);
                field::set_u16(buf, fields::TCI, tag.tci()?);
                field::set_u16(buf, fields::TAGGED_ETHERTYPE, self.ethertype.0);
            }
            // An untagged frame whose ethertype is the TPID would read back tagged.
            None if self.ethertype == EtherType::VLAN => return Err(WireError::Malformed),
            None => field::set_u16(buf, fields::ETHERTYPE, self.ethertype.0),
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// A broadcast ARP request as `tcpdump -xx` shows one on a tap (Linux,
    /// fa:16:3e OpenStack OUI), tagged with VLAN 100 priority 5.
    const TAGGED: [u8; 20] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination
        0xfa, 0x16, 0x3e, 0x01, 0x02, 0x03, // source
        0x81, 0x00, 0xa0, 0x64, // 802.1Q: PCP 5, DEI 0, VID 100
        0x08, 0x06, // ARP
        0xde, 0xad,
    ];

    #[test]
    fn reads_tagged_frame() {
        let frame = EthernetFrame::new_checked(&TAGGED[..]).unwrap();
        assert_eq!(frame.dst_addr(), MacAddr::BROADCAST);
        assert_eq!(frame.src_addr(), MacAddr([0xfa, 0x16, 0x3e, 1, 2, 3]));
        assert_eq!(frame.outer_ethertype(), EtherType::VLAN);
        assert_eq!(frame.ethertype(), EtherType::ARP);
        assert_eq!(
            frame.vlan(),
            Some(VlanTag {
                pcp: 5,
                dei: false,
                vid: 100
            })
        );
        assert_eq!(frame.payload(), &[0xde, 0xad]);

        let repr = EthernetRepr::parse(&frame).unwrap();
        let mut out = [0u8; 20];
        repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out[..18], TAGGED[..18]);
    }

    #[test]
    fn short_frames_are_truncated() {
        assert_eq!(
            EthernetFrame::new_checked(&TAGGED[..13]).unwrap_err(),
            WireError::Truncated
        );
        // Tagged, but the tag is cut off.
        assert_eq!(
            EthernetFrame::new_checked(&TAGGED[..16]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn emit_refuses_a_short_buffer() {
        let repr = EthernetRepr {
            src_addr: MacAddr::ZERO,
            dst_addr: MacAddr::BROADCAST,
            ethertype: EtherType::IPV4,
            vlan: Some(VlanTag::default()),
        };
        let mut out = [0u8; 17];
        assert_eq!(
            repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..])),
            Err(WireError::BufferTooSmall)
        );
    }

    pub(crate) fn arb_mac() -> impl Strategy<Value = MacAddr> {
        any::<[u8; 6]>().prop_map(MacAddr)
    }

    pub(crate) fn arb_repr() -> impl Strategy<Value = EthernetRepr> {
        let tag = (0u8..8, any::<bool>(), 0u16..4096).prop_map(|(pcp, dei, vid)| VlanTag {
            pcp,
            dei,
            vid,
        });
        (
            arb_mac(),
            arb_mac(),
            any::<u16>().prop_filter("not a VLAN TPID", |t| *t != EtherType::VLAN.0),
            proptest::option::of(tag),
        )
            .prop_map(|(src_addr, dst_addr, ethertype, vlan)| EthernetRepr {
                src_addr,
                dst_addr,
                ethertype: EtherType(ethertype),
                vlan,
            })
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(repr in arb_repr()) {
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut EthernetFrame::new_unchecked(&mut buf[..])).unwrap();
            let frame = EthernetFrame::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(EthernetRepr::parse(&frame).unwrap(), repr);
        }
    }
}
