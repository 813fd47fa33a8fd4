//! MPLS label stack entries (RFC 3032) and a bounded walk to the bottom of
//! the stack.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                Label                  | TC  |S|       TTL     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! In MPLSoUDP (RFC 7510) and MPLSoGRE (RFC 4023) the stack is followed
//! directly by the inner packet: no Ethernet header, the first nibble tells
//! IPv4 from IPv6.

use crate::field;
use crate::{Result, WireError};

/// Length of one label stack entry.
pub const ENTRY_LEN: usize = 4;
/// How many entries [`MplsStack`] reads before giving up.
pub const MAX_STACK_DEPTH: usize = 8;
/// The largest label a 20-bit field holds.
pub const MAX_LABEL: u32 = (1 << 20) - 1;

/// A read/write view of one label stack entry and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MplsPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MplsPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        MplsPacket { buffer }
    }

    /// Wraps a buffer holding at least one entry.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ENTRY_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn entry(&self) -> u32 {
        field::u32_at(self.buffer.as_ref(), 0)
    }

    /// The 20-bit label.
    pub fn label(&self) -> u32 {
        self.entry() >> 12
    }

    /// Traffic class (RFC 5462), 3 bits.
    pub fn traffic_class(&self) -> u8 {
        ((self.entry() >> 9) & 0x7) as u8
    }

    pub fn bottom_of_stack(&self) -> bool {
        self.entry() & 0x100 != 0
    }

    pub fn ttl(&self) -> u8 {
        (self.entry() & 0xff) as u8
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> MplsPacket<&'a T> {
    /// The bytes after this entry: the next entry, or the inner packet at
    /// the bottom of the stack.
    pub fn payload(&self) -> &'a [u8] {
        field::rest(self.buffer.as_ref(), ENTRY_LEN)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> MplsPacket<T> {
    /// Writes the whole entry; the label is masked to 20 bits and the
    /// traffic class to 3.
    pub fn set_entry(&mut self, label: u32, traffic_class: u8, bottom: bool, ttl: u8) {
        let entry = ((label & MAX_LABEL) << 12)
            | (u32::from(traffic_class & 0x7) << 9)
            | (u32::from(bottom) << 8)
            | u32::from(ttl);
        field::set_u32(self.buffer.as_mut(), 0, entry);
    }

    /// Rewrites the TTL alone.
    pub fn set_ttl(&mut self, ttl: u8) {
        field::set_u8(self.buffer.as_mut(), 3, ttl);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        field::rest_mut(self.buffer.as_mut(), ENTRY_LEN)
    }
}

/// A validated label stack entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MplsRepr {
    /// The raw 20-bit label; 0–15 are reserved (RFC 3032 §2.1) but
    /// representable.
    pub label: u32,
    pub traffic_class: u8,
    pub bottom_of_stack: bool,
    pub ttl: u8,
}

impl MplsRepr {
    pub fn parse<T: AsRef<[u8]>>(packet: &MplsPacket<T>) -> Result<Self> {
        packet.check_len()?;
        Ok(MplsRepr {
            label: packet.label(),
            traffic_class: packet.traffic_class(),
            bottom_of_stack: packet.bottom_of_stack(),
            ttl: packet.ttl(),
        })
    }

    /// Always 4: one entry.
    pub fn buffer_len(&self) -> usize {
        ENTRY_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut MplsPacket<T>) -> Result<()> {
        field::check_room(packet.buffer.as_ref(), ENTRY_LEN)?;
        if self.label > MAX_LABEL || self.traffic_class > 7 {
            return Err(WireError::ValueTooLarge);
        }
        packet.set_entry(
            self.label,
            self.traffic_class,
            self.bottom_of_stack,
            self.ttl,
        );
        Ok(())
    }
}

/// An iterator over a label stack, top first, ending after the entry with
/// the bottom-of-stack bit. Yields `Truncated` if the buffer ends first and
/// `TooManyHeaders` after [`MAX_STACK_DEPTH`] entries, then stops.
#[derive(Debug, Clone)]
pub struct MplsStack<'a> {
    rest: &'a [u8],
    depth: usize,
    done: bool,
}

impl<'a> MplsStack<'a> {
    pub fn new(buffer: &'a [u8]) -> Self {
        MplsStack {
            rest: buffer,
            depth: 0,
            done: false,
        }
    }

    /// What follows the entries read so far: after the iterator has yielded
    /// the bottom entry, the inner packet.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }

    /// Walks the whole stack: the entries and the inner packet after it.
    pub fn split(buffer: &'a [u8]) -> Result<(Vec<MplsRepr>, &'a [u8])> {
        let mut stack = MplsStack::new(buffer);
        let mut entries = Vec::new();
        for entry in stack.by_ref() {
            entries.push(entry?);
        }
        Ok((entries, stack.remainder()))
    }
}

impl Iterator for MplsStack<'_> {
    type Item = Result<MplsRepr>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.depth == MAX_STACK_DEPTH {
            self.done = true;
            return Some(Err(WireError::TooManyHeaders));
        }
        let entry = MplsPacket::new_checked(self.rest).and_then(|packet| MplsRepr::parse(&packet));
        match entry {
            Ok(repr) => {
                self.depth += 1;
                self.rest = field::rest(self.rest, ENTRY_LEN);
                self.done = repr.bottom_of_stack;
                Some(Ok(repr))
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// Label 17 (the first label a weft agent hands out), TC 0, bottom of
    /// stack, TTL 64, then the first byte of an IPv4 header. scapy 2.8.0:
    /// `MPLS(label=17, s=1, ttl=64)`. By hand from RFC 3032 §2.1:
    /// 17 << 12 | 1 << 8 | 64 = 0x00011140.
    const ENTRY: [u8; 5] = [0x00, 0x01, 0x11, 0x40, 0x45];

    #[test]
    fn parses_entry_byte_exact() {
        let packet = MplsPacket::new_checked(&ENTRY[..]).unwrap();
        let repr = MplsRepr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            MplsRepr {
                label: 17,
                traffic_class: 0,
                bottom_of_stack: true,
                ttl: 64
            }
        );
        assert_eq!(packet.payload(), &[0x45]);
        let mut out = [0u8; 4];
        repr.emit(&mut MplsPacket::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, ENTRY[..4]);
    }

    #[test]
    fn stack_walk_finds_the_inner_packet_and_is_bounded() {
        // Two entries: label 1048575 (max), TC 5, not bottom; then ENTRY.
        let mut two = vec![0xff, 0xff, 0xfa, 0x01];
        two.extend_from_slice(&ENTRY);
        let (entries, inner) = MplsStack::split(&two).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].label, MAX_LABEL);
        assert_eq!(entries[0].traffic_class, 5);
        assert!(!entries[0].bottom_of_stack);
        assert_eq!(inner, &[0x45]);

        assert_eq!(
            MplsStack::split(&two[..6]).unwrap_err(),
            WireError::Truncated
        );
        let never_bottom = [0u8; 4 * (MAX_STACK_DEPTH + 1)];
        assert_eq!(
            MplsStack::split(&never_bottom).unwrap_err(),
            WireError::TooManyHeaders
        );
        let mut iter = MplsStack::new(&never_bottom);
        assert_eq!(iter.by_ref().count(), MAX_STACK_DEPTH + 1);
        assert!(iter.next().is_none());
    }

    #[test]
    fn emit_refuses_oversized_label() {
        let repr = MplsRepr {
            label: MAX_LABEL + 1,
            traffic_class: 0,
            bottom_of_stack: true,
            ttl: 1,
        };
        let mut out = [0u8; 4];
        assert_eq!(
            repr.emit(&mut MplsPacket::new_unchecked(&mut out[..])),
            Err(WireError::ValueTooLarge)
        );
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(
            label in 0u32..=MAX_LABEL,
            traffic_class in 0u8..8,
            bottom_of_stack in any::<bool>(),
            ttl in any::<u8>(),
        ) {
            let repr = MplsRepr { label, traffic_class, bottom_of_stack, ttl };
            let mut out = [0u8; 4];
            repr.emit(&mut MplsPacket::new_unchecked(&mut out[..])).unwrap();
            prop_assert_eq!(MplsRepr::parse(&MplsPacket::new_checked(&out[..]).unwrap()).unwrap(), repr);
        }
    }
}
