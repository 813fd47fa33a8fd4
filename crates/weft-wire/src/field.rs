//! Total byte accessors.
//!
//! Every packet view reads and writes through these helpers, so no accessor
//! can panic even on a view built with `new_unchecked` over a short buffer:
//! missing bytes read as zero and writes past the end are dropped. A view
//! built with `new_checked` never reaches those fallbacks.

use std::net::{Ipv4Addr, Ipv6Addr};

use weft_types::MacAddr;

/// A byte range inside a header.
pub(crate) type Field = core::ops::Range<usize>;

/// `N` bytes at `at`, if the buffer holds them.
pub(crate) fn array<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    let end = at.checked_add(N)?;
    buf.get(at..end)?.try_into().ok()
}

pub(crate) fn u8_at(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

pub(crate) fn u16_at(buf: &[u8], at: usize) -> u16 {
    array(buf, at).map_or(0, u16::from_be_bytes)
}

pub(crate) fn u32_at(buf: &[u8], at: usize) -> u32 {
    array(buf, at).map_or(0, u32::from_be_bytes)
}

pub(crate) fn ipv4_at(buf: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::from(array::<4>(buf, at).unwrap_or_default())
}

pub(crate) fn ipv6_at(buf: &[u8], at: usize) -> Ipv6Addr {
    Ipv6Addr::from(array::<16>(buf, at).unwrap_or_default())
}

pub(crate) fn mac_at(buf: &[u8], at: usize) -> MacAddr {
    MacAddr(array(buf, at).unwrap_or_default())
}

/// The bytes of `range`, or nothing if the buffer does not hold all of them.
pub(crate) fn slice(buf: &[u8], range: Field) -> &[u8] {
    buf.get(range).unwrap_or(&[])
}

/// The bytes from `at` to the end, or nothing if `at` is past the end.
pub(crate) fn rest(buf: &[u8], at: usize) -> &[u8] {
    buf.get(at..).unwrap_or(&[])
}

pub(crate) fn slice_mut(buf: &mut [u8], range: Field) -> &mut [u8] {
    match buf.get_mut(range) {
        Some(bytes) => bytes,
        None => &mut [],
    }
}

pub(crate) fn rest_mut(buf: &mut [u8], at: usize) -> &mut [u8] {
    match buf.get_mut(at..) {
        Some(bytes) => bytes,
        None => &mut [],
    }
}

/// Writes `value` at `at` if the buffer holds all of it.
pub(crate) fn set_bytes(buf: &mut [u8], at: usize, value: &[u8]) {
    let Some(end) = at.checked_add(value.len()) else {
        return;
    };
    if let Some(dst) = buf.get_mut(at..end) {
        dst.copy_from_slice(value);
    }
}

pub(crate) fn set_u8(buf: &mut [u8], at: usize, value: u8) {
    if let Some(byte) = buf.get_mut(at) {
        *byte = value;
    }
}

pub(crate) fn set_u16(buf: &mut [u8], at: usize, value: u16) {
    set_bytes(buf, at, &value.to_be_bytes());
}

pub(crate) fn set_u32(buf: &mut [u8], at: usize, value: u32) {
    set_bytes(buf, at, &value.to_be_bytes());
}

/// Fails with `BufferTooSmall` unless `buf` holds `needed` bytes.
pub(crate) fn check_room(buf: &[u8], needed: usize) -> crate::Result<()> {
    if buf.len() < needed {
        Err(crate::WireError::BufferTooSmall)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_buffers_read_zero_and_ignore_writes() {
        let mut buf = [0xaau8; 3];
        assert_eq!(u16_at(&buf, 1), 0xaaaa);
        assert_eq!(u16_at(&buf, 2), 0);
        assert_eq!(u32_at(&buf, usize::MAX), 0);
        assert_eq!(slice(&buf, 2..9), &[] as &[u8]);
        set_u32(&mut buf, 1, 0);
        set_u16(&mut buf, usize::MAX, 0);
        assert_eq!(buf, [0xaa; 3]);
    }
}
