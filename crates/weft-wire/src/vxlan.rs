//! VXLAN (RFC 7348), carried in UDP to port 4789, wrapping an Ethernet frame.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|R|R|R|I|R|R|R|            Reserved                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                VXLAN Network Identifier (VNI) |   Reserved    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! RFC 7348 §5: the I flag must be set for a valid VNI; reserved fields are
//! sent as zero and ignored on receipt.

use crate::field;
use crate::{Result, WireError};

mod fields {
    pub(super) const FLAGS: usize = 0;
    pub(super) const VNI: usize = 4;
}

/// Length of the VXLAN header.
pub const HEADER_LEN: usize = 8;
/// The I flag: the VNI is valid.
const FLAG_VNI: u8 = 0x08;
/// The largest VNI the 24-bit field holds.
pub const MAX_VNI: u32 = (1 << 24) - 1;

/// A read/write view of a VXLAN header and the frame it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VxlanPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        VxlanPacket { buffer }
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

    pub fn flags(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::FLAGS)
    }

    /// Whether the I flag is set.
    pub fn vni_valid(&self) -> bool {
        self.flags() & FLAG_VNI != 0
    }

    /// The 24-bit VNI.
    pub fn vni(&self) -> u32 {
        field::u32_at(self.buffer.as_ref(), fields::VNI) >> 8
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> VxlanPacket<&'a T> {
    /// The inner Ethernet frame.
    pub fn payload(&self) -> &'a [u8] {
        field::rest(self.buffer.as_ref(), HEADER_LEN)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VxlanPacket<T> {
    /// Writes the I flag, the VNI (masked to 24 bits) and zero reserved
    /// fields.
    pub fn set_vni(&mut self, vni: u32) {
        let buf = self.buffer.as_mut();
        field::set_u32(buf, fields::FLAGS, u32::from(FLAG_VNI) << 24);
        field::set_u32(buf, fields::VNI, (vni & MAX_VNI) << 8);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        field::rest_mut(self.buffer.as_mut(), HEADER_LEN)
    }
}

/// A validated VXLAN header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VxlanRepr {
    /// The raw 24-bit VNI (0 is representable; weft allocates from 1).
    pub vni: u32,
}

impl VxlanRepr {
    /// A clear I flag is `Malformed`.
    pub fn parse<T: AsRef<[u8]>>(packet: &VxlanPacket<T>) -> Result<Self> {
        packet.check_len()?;
        if !packet.vni_valid() {
            return Err(WireError::Malformed);
        }
        Ok(VxlanRepr { vni: packet.vni() })
    }

    /// Always 8; the inner frame is the caller's.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut VxlanPacket<T>) -> Result<()> {
        field::check_room(packet.buffer.as_ref(), HEADER_LEN)?;
        if self.vni > MAX_VNI {
            return Err(WireError::ValueTooLarge);
        }
        packet.set_vni(self.vni);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// VNI 5001 (the seed scenario's first VN), by hand from RFC 7348 §5:
    /// flags 0x08, 5001 = 0x001389 in bytes 4–6. scapy 2.8.0
    /// `VXLAN(vni=5001, flags=0x08)` gives the same eight bytes.
    const HEADER: [u8; 8] = [0x08, 0x00, 0x00, 0x00, 0x00, 0x13, 0x89, 0x00];

    #[test]
    fn parses_header_byte_exact() {
        let mut frame = HEADER.to_vec();
        frame.extend_from_slice(&[0xff; 14]);
        let packet = VxlanPacket::new_checked(&frame[..]).unwrap();
        let repr = VxlanRepr::parse(&packet).unwrap();
        assert_eq!(repr.vni, 5001);
        assert_eq!(packet.payload(), &[0xff; 14]);
        let mut out = [0xaau8; 8];
        repr.emit(&mut VxlanPacket::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, HEADER);
    }

    #[test]
    fn i_flag_is_required_and_reserved_bits_ignored() {
        let mut clear = HEADER;
        clear[0] = 0;
        assert_eq!(
            VxlanRepr::parse(&VxlanPacket::new_checked(&clear[..]).unwrap()),
            Err(WireError::Malformed)
        );
        let mut reserved = HEADER;
        reserved[0] = 0xff;
        reserved[7] = 0xff;
        assert_eq!(
            VxlanRepr::parse(&VxlanPacket::new_checked(&reserved[..]).unwrap())
                .unwrap()
                .vni,
            5001
        );
        assert_eq!(
            VxlanPacket::new_checked(&HEADER[..7]).unwrap_err(),
            WireError::Truncated
        );
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(vni in 0u32..=MAX_VNI) {
            let repr = VxlanRepr { vni };
            let mut out = [0u8; 8];
            repr.emit(&mut VxlanPacket::new_unchecked(&mut out[..])).unwrap();
            prop_assert_eq!(VxlanRepr::parse(&VxlanPacket::new_checked(&out[..]).unwrap()).unwrap(), repr);
        }
    }
}
