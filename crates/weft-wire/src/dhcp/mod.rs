//! DHCPv4 (RFC 2131, options RFC 2132, classless routes RFC 3442, long
//! options RFC 3396): enough for the agent's local DHCP server.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +---------------+---------------+---------------+---------------+
//! |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
//! +---------------+---------------+---------------+---------------+
//! |                            xid (4)                            |
//! +-------------------------------+-------------------------------+
//! |           secs (2)            |           flags (2)           |
//! +-------------------------------+-------------------------------+
//! |                          ciaddr  (4)                          |
//! +---------------------------------------------------------------+
//! |                          yiaddr  (4)                          |
//! +---------------------------------------------------------------+
//! |                          siaddr  (4)                          |
//! +---------------------------------------------------------------+
//! |                          giaddr  (4)                          |
//! +---------------------------------------------------------------+
//! |                          chaddr  (16)                         |
//! +---------------------------------------------------------------+
//! |                          sname   (64)                         |
//! +---------------------------------------------------------------+
//! |                          file    (128)                        |
//! +---------------------------------------------------------------+
//! |               magic cookie 99.130.83.99 (4)                   |
//! +---------------------------------------------------------------+
//! |                          options (variable)                   |
//! +---------------------------------------------------------------+
//! ```
//!
//! Options are code, length, value; pad (0) and end (255) are single bytes.
//! Options overloaded into `sname`/`file` (option 52) are not read.

mod lease;
mod repr;

use std::net::Ipv4Addr;

use weft_types::MacAddr;

pub use crate::consts::DhcpMessageType;
use crate::consts::dhcp;
use crate::field::{self, Field};
use crate::{Result, WireError};
pub use lease::DhcpLease;
pub use repr::{ClasslessRoute, DhcpRepr};

mod fields {
    use super::Field;
    pub(super) const OP: usize = 0;
    pub(super) const HTYPE: usize = 1;
    pub(super) const HLEN: usize = 2;
    pub(super) const HOPS: usize = 3;
    pub(super) const XID: usize = 4;
    pub(super) const SECS: usize = 8;
    pub(super) const FLAGS: usize = 10;
    pub(super) const CIADDR: usize = 12;
    pub(super) const YIADDR: usize = 16;
    pub(super) const SIADDR: usize = 20;
    pub(super) const GIADDR: usize = 24;
    pub(super) const CHADDR: Field = 28..44;
    pub(super) const SNAME: Field = 44..108;
    pub(super) const FILE: Field = 108..236;
    pub(super) const MAGIC: usize = 236;
    pub(super) const OPTIONS: usize = 240;
}

/// Length of the fixed part and the magic cookie.
pub const HEADER_LEN: usize = 240;
/// The smallest message emitted: a BOOTP-sized 300 bytes (RFC 951), which
/// some old clients still require.
pub const MIN_MESSAGE_LEN: usize = 300;

/// A read/write view of a DHCP message (the UDP payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DhcpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        DhcpPacket { buffer }
    }

    /// Wraps a buffer holding at least the fixed part and the cookie.
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

    pub fn op(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::OP)
    }

    pub fn hardware_type(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::HTYPE)
    }

    pub fn hardware_len(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::HLEN)
    }

    pub fn hops(&self) -> u8 {
        field::u8_at(self.buffer.as_ref(), fields::HOPS)
    }

    pub fn xid(&self) -> u32 {
        field::u32_at(self.buffer.as_ref(), fields::XID)
    }

    pub fn secs(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::SECS)
    }

    pub fn flags(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), fields::FLAGS)
    }

    /// Whether the client asked for broadcast replies.
    pub fn broadcast(&self) -> bool {
        self.flags() & dhcp::FLAG_BROADCAST != 0
    }

    pub fn client_addr(&self) -> Ipv4Addr {
        field::ipv4_at(self.buffer.as_ref(), fields::CIADDR)
    }

    pub fn your_addr(&self) -> Ipv4Addr {
        field::ipv4_at(self.buffer.as_ref(), fields::YIADDR)
    }

    pub fn server_addr(&self) -> Ipv4Addr {
        field::ipv4_at(self.buffer.as_ref(), fields::SIADDR)
    }

    pub fn relay_agent_addr(&self) -> Ipv4Addr {
        field::ipv4_at(self.buffer.as_ref(), fields::GIADDR)
    }

    /// The first six bytes of `chaddr`: the client's Ethernet address.
    pub fn client_hardware_addr(&self) -> MacAddr {
        field::mac_at(self.buffer.as_ref(), fields::CHADDR.start)
    }

    pub fn server_name(&self) -> &[u8] {
        field::slice(self.buffer.as_ref(), fields::SNAME)
    }

    pub fn boot_file(&self) -> &[u8] {
        field::slice(self.buffer.as_ref(), fields::FILE)
    }

    pub fn magic_cookie(&self) -> [u8; 4] {
        field::array(self.buffer.as_ref(), fields::MAGIC).unwrap_or_default()
    }

    /// The options after the magic cookie, up to the end option.
    pub fn options(&self) -> DhcpOptions<'_> {
        DhcpOptions::new(field::rest(self.buffer.as_ref(), fields::OPTIONS))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DhcpPacket<T> {
    pub fn set_op(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::OP, value);
    }

    /// Sets htype 1 (Ethernet) and hlen 6.
    pub fn set_hardware_ethernet(&mut self) {
        field::set_u8(self.buffer.as_mut(), fields::HTYPE, 1);
        field::set_u8(self.buffer.as_mut(), fields::HLEN, 6);
    }

    pub fn set_hops(&mut self, value: u8) {
        field::set_u8(self.buffer.as_mut(), fields::HOPS, value);
    }

    pub fn set_xid(&mut self, value: u32) {
        field::set_u32(self.buffer.as_mut(), fields::XID, value);
    }

    pub fn set_secs(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::SECS, value);
    }

    pub fn set_flags(&mut self, value: u16) {
        field::set_u16(self.buffer.as_mut(), fields::FLAGS, value);
    }

    pub fn set_client_addr(&mut self, addr: Ipv4Addr) {
        field::set_bytes(self.buffer.as_mut(), fields::CIADDR, &addr.octets());
    }

    pub fn set_your_addr(&mut self, addr: Ipv4Addr) {
        field::set_bytes(self.buffer.as_mut(), fields::YIADDR, &addr.octets());
    }

    pub fn set_server_addr(&mut self, addr: Ipv4Addr) {
        field::set_bytes(self.buffer.as_mut(), fields::SIADDR, &addr.octets());
    }

    pub fn set_relay_agent_addr(&mut self, addr: Ipv4Addr) {
        field::set_bytes(self.buffer.as_mut(), fields::GIADDR, &addr.octets());
    }

    /// Writes the Ethernet address and zeroes the rest of `chaddr`.
    pub fn set_client_hardware_addr(&mut self, mac: MacAddr) {
        let chaddr = field::slice_mut(self.buffer.as_mut(), fields::CHADDR);
        chaddr.fill(0);
        field::set_bytes(chaddr, 0, &mac.0);
    }

    /// Zeroes `sname` and `file`.
    pub fn clear_server_name_and_file(&mut self) {
        field::slice_mut(self.buffer.as_mut(), fields::SNAME.start..fields::FILE.end).fill(0);
    }

    pub fn set_magic_cookie(&mut self) {
        field::set_bytes(self.buffer.as_mut(), fields::MAGIC, &dhcp::MAGIC_COOKIE);
    }

    /// The bytes after the magic cookie.
    pub fn options_mut(&mut self) -> &mut [u8] {
        field::rest_mut(self.buffer.as_mut(), fields::OPTIONS)
    }
}

/// One option: its code and value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DhcpOption<'a> {
    pub code: u8,
    pub data: &'a [u8],
}

/// An iterator over DHCP options. Pad bytes are skipped; the end option or
/// the end of the buffer stops it. An option whose length byte or value is
/// cut off yields `Truncated` once, then the iterator stops. Every step
/// consumes at least one byte, so the walk is bounded by the buffer.
#[derive(Debug, Clone)]
pub struct DhcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> DhcpOptions<'a> {
    pub fn new(options: &'a [u8]) -> Self {
        DhcpOptions { rest: options }
    }
}

impl<'a> Iterator for DhcpOptions<'a> {
    type Item = Result<DhcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&code, after_code) = self.rest.split_first()?;
            match code {
                dhcp::OPT_PAD => self.rest = after_code,
                dhcp::OPT_END => {
                    self.rest = &[];
                    return None;
                }
                _ => {
                    let option = after_code.split_first().and_then(|(&len, value)| {
                        let len = usize::from(len);
                        Some((value.get(..len)?, field::rest(value, len)))
                    });
                    return match option {
                        Some((data, rest)) => {
                            self.rest = rest;
                            Some(Ok(DhcpOption { code, data }))
                        }
                        None => {
                            self.rest = &[];
                            Some(Err(WireError::Truncated))
                        }
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
