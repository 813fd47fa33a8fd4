//! The Internet checksum (RFC 1071), the IPv4/IPv6 pseudo-headers that UDP,
//! TCP and ICMPv6 cover, and incremental update (RFC 1624) for NAT.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::consts::IpProtocol;

/// Adds `data` as big-endian 16-bit words to `acc` (an odd last byte is
/// padded with zero). The 64-bit accumulator cannot overflow for any buffer
/// that fits in memory, so no carry is lost before [`fold`].
pub fn sum(acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    let mut acc = acc;
    for word in &mut chunks {
        if let [hi, lo] = *word {
            acc += u64::from(u16::from_be_bytes([hi, lo]));
        }
    }
    if let [last] = *chunks.remainder() {
        acc += u64::from(u16::from_be_bytes([last, 0]));
    }
    acc
}

/// Folds the carries of a one's-complement sum into 16 bits.
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves at most 16 significant bits.
    u16::try_from(acc).unwrap_or(0xffff)
}

/// The checksum field value for `data` whose checksum field is zero.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(0, data))
}

/// Whether `data`, checksum field included, sums to all ones.
pub fn verifies(acc: u64) -> bool {
    fold(acc) == 0xffff
}

/// The source and destination of an IP packet: what a transport checksum's
/// pseudo-header covers besides the protocol and the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpPair {
    V4 { src: Ipv4Addr, dst: Ipv4Addr },
    V6 { src: Ipv6Addr, dst: Ipv6Addr },
}

impl IpPair {
    /// The one's-complement sum of the pseudo-header (RFC 768, RFC 793 for
    /// IPv4; RFC 8200 §8.1 for IPv6) for an upper-layer packet of `length`
    /// bytes.
    pub fn pseudo_header_sum(&self, protocol: IpProtocol, length: u32) -> u64 {
        let mut acc = u64::from(protocol.0);
        acc += u64::from(length >> 16) + u64::from(length & 0xffff);
        match self {
            IpPair::V4 { src, dst } => {
                acc = sum(acc, &src.octets());
                sum(acc, &dst.octets())
            }
            IpPair::V6 { src, dst } => {
                acc = sum(acc, &src.octets());
                sum(acc, &dst.octets())
            }
        }
    }

    /// The checksum field value for an upper-layer `packet` (checksum field
    /// zeroed) under this pseudo-header.
    pub fn checksum(&self, protocol: IpProtocol, packet: &[u8]) -> u16 {
        let length = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        !fold(sum(self.pseudo_header_sum(protocol, length), packet))
    }

    /// Whether an upper-layer `packet`, checksum field included, verifies.
    pub fn verifies(&self, protocol: IpProtocol, packet: &[u8]) -> bool {
        let length = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        verifies(sum(self.pseudo_header_sum(protocol, length), packet))
    }
}

/// Updates a checksum field after a 16-bit word it covers changed from `old`
/// to `new` (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`).
pub fn update_word(checksum: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!checksum) + u64::from(!old) + u64::from(new))
}

/// Updates a checksum field after the bytes it covers changed from `old` to
/// `new`, for example an IPv4 address (4 bytes) or a port (2 bytes) rewritten
/// by NAT. The two slices must start at the same even offset in the covered
/// data; if their lengths differ the checksum is returned unchanged.
///
/// For a UDP checksum over IPv4, 0 means "none" and must stay 0: check that
/// before calling.
pub fn update(checksum: u16, old: &[u8], new: &[u8]) -> u16 {
    if old.len() != new.len() {
        return checksum;
    }
    let acc = u64::from(!checksum);
    // ~m is added as the sum of the complemented words of `old`.
    let mut minus_old = 0u64;
    let mut words = old.chunks(2);
    for word in &mut words {
        let value = match *word {
            [hi, lo] => u16::from_be_bytes([hi, lo]),
            [hi] => u16::from_be_bytes([hi, 0]),
            _ => 0,
        };
        minus_old += u64::from(!value);
    }
    !fold(sum(acc + minus_old, new))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_is_padded() {
        assert_eq!(fold(sum(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    /// One's complement has two zeros, 0x0000 and 0xffff: both are the same sum.
    fn same_checksum(a: u16, b: u16) -> bool {
        a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0)
    }

    proptest! {
        #[test]
        fn incremental_update_matches_recomputation(
            mut data in proptest::collection::vec(any::<u8>(), 8..64),
            at in 0usize..3,
            new in any::<[u8; 4]>(),
        ) {
            let at = at * 2;
            let before = checksum(&data);
            let old: [u8; 4] = data[at..at + 4].try_into().unwrap();
            data[at..at + 4].copy_from_slice(&new);
            let after = checksum(&data);
            let updated = update(before, &old, &new);
            prop_assert!(same_checksum(updated, after));
        }

        #[test]
        fn word_update_matches_recomputation(mut data in proptest::collection::vec(any::<u8>(), 2..40), new in any::<u16>()) {
            let before = checksum(&data);
            let old = u16::from_be_bytes([data[0], data[1]]);
            data[..2].copy_from_slice(&new.to_be_bytes());
            let after = checksum(&data);
            let updated = update_word(before, old, new);
            prop_assert!(same_checksum(updated, after));
        }
    }
}
