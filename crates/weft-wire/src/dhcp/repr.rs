//! The validated meaning of a DHCP message, and its encoder.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use weft_types::MacAddr;

use super::{DhcpMessageType, DhcpOptions, DhcpPacket, HEADER_LEN, MIN_MESSAGE_LEN};
use crate::consts::dhcp;
use crate::field;
use crate::{Result, WireError};

/// One classless static route (RFC 3442, option 121).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClasslessRoute {
    /// The destination; host bits are cleared on both parse and emit.
    pub destination: Ipv4Net,
    /// The router; 0.0.0.0 means on-link.
    pub gateway: Ipv4Addr,
}

/// A validated DHCP message with the options a server reads or writes.
///
/// List options empty and `Option`s `None` are absent on the wire. Options
/// weft does not use are skipped on parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DhcpRepr {
    pub message_type: DhcpMessageType,
    pub xid: u32,
    pub secs: u16,
    /// The broadcast bit of `flags`.
    pub broadcast: bool,
    pub hops: u8,
    /// `ciaddr`: the client's current address (renewing, INFORM).
    pub client_addr: Ipv4Addr,
    /// `yiaddr`: the address offered or assigned.
    pub your_addr: Ipv4Addr,
    /// `siaddr`: next server (unused by weft: 0.0.0.0).
    pub server_addr: Ipv4Addr,
    /// `giaddr`: the relay agent, if any.
    pub relay_agent_addr: Ipv4Addr,
    pub client_hardware_addr: MacAddr,
    /// Option 61.
    pub client_identifier: Option<Vec<u8>>,
    /// Option 50.
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 54.
    pub server_identifier: Option<Ipv4Addr>,
    /// Option 55.
    pub parameter_request_list: Option<Vec<u8>>,
    /// Option 57.
    pub max_message_size: Option<u16>,
    /// Option 51, seconds.
    pub lease_time: Option<u32>,
    /// Option 58 (T1), seconds.
    pub renewal_time: Option<u32>,
    /// Option 59 (T2), seconds.
    pub rebinding_time: Option<u32>,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Addr>,
    /// Option 3.
    pub routers: Vec<Ipv4Addr>,
    /// Option 6.
    pub dns_servers: Vec<Ipv4Addr>,
    /// Option 26.
    pub interface_mtu: Option<u16>,
    /// Option 121.
    pub classless_routes: Vec<ClasslessRoute>,
    /// Option 15.
    pub domain_name: Option<String>,
    /// Option 56: why a NAK was sent.
    pub message: Option<String>,
}

impl DhcpRepr {
    /// A message of `message_type` with every other field zero or absent.
    pub fn new(message_type: DhcpMessageType, xid: u32, client_hardware_addr: MacAddr) -> Self {
        DhcpRepr {
            message_type,
            xid,
            secs: 0,
            broadcast: false,
            hops: 0,
            client_addr: Ipv4Addr::UNSPECIFIED,
            your_addr: Ipv4Addr::UNSPECIFIED,
            server_addr: Ipv4Addr::UNSPECIFIED,
            relay_agent_addr: Ipv4Addr::UNSPECIFIED,
            client_hardware_addr,
            client_identifier: None,
            requested_ip: None,
            server_identifier: None,
            parameter_request_list: None,
            max_message_size: None,
            lease_time: None,
            renewal_time: None,
            rebinding_time: None,
            subnet_mask: None,
            routers: Vec::new(),
            dns_servers: Vec::new(),
            interface_mtu: None,
            classless_routes: Vec::new(),
            domain_name: None,
            message: None,
        }
    }

    /// Validates the fixed part (op 1 or 2, Ethernet hardware, magic cookie)
    /// and the options. A message without option 53 is plain BOOTP:
    /// `Unsupported`. A known option of the wrong size is `Malformed`.
    /// Repeated instances of an option are concatenated (RFC 3396).
    pub fn parse<T: AsRef<[u8]>>(packet: &DhcpPacket<T>) -> Result<Self> {
        packet.check_len()?;
        if packet.op() != dhcp::OP_BOOTREQUEST && packet.op() != dhcp::OP_BOOTREPLY {
            return Err(WireError::Malformed);
        }
        if packet.hardware_type() != 1 || packet.hardware_len() != 6 {
            return Err(WireError::Unsupported);
        }
        if packet.magic_cookie() != dhcp::MAGIC_COOKIE {
            return Err(WireError::BadMagic);
        }
        let options = packet.options();
        // One pass to surface a truncated option; lookups below then see
        // only well-formed ones.
        for option in options.clone() {
            option?;
        }
        let find = |code| concatenated(&options, code);
        let message_type = match find(dhcp::OPT_MESSAGE_TYPE).as_deref() {
            Some(&[value]) => DhcpMessageType(value),
            Some(_) => return Err(WireError::Malformed),
            None => return Err(WireError::Unsupported),
        };
        Ok(DhcpRepr {
            message_type,
            xid: packet.xid(),
            secs: packet.secs(),
            broadcast: packet.broadcast(),
            hops: packet.hops(),
            client_addr: packet.client_addr(),
            your_addr: packet.your_addr(),
            server_addr: packet.server_addr(),
            relay_agent_addr: packet.relay_agent_addr(),
            client_hardware_addr: packet.client_hardware_addr(),
            client_identifier: find(dhcp::OPT_CLIENT_ID).map(Cow::into_owned),
            requested_ip: find(dhcp::OPT_REQUESTED_IP).map(addr).transpose()?,
            server_identifier: find(dhcp::OPT_SERVER_ID).map(addr).transpose()?,
            parameter_request_list: find(dhcp::OPT_PARAMETER_REQUEST_LIST).map(Cow::into_owned),
            max_message_size: find(dhcp::OPT_MAX_MESSAGE_SIZE)
                .map(u16_value)
                .transpose()?,
            lease_time: find(dhcp::OPT_LEASE_TIME).map(u32_value).transpose()?,
            renewal_time: find(dhcp::OPT_RENEWAL_TIME).map(u32_value).transpose()?,
            rebinding_time: find(dhcp::OPT_REBINDING_TIME).map(u32_value).transpose()?,
            subnet_mask: find(dhcp::OPT_SUBNET_MASK).map(addr).transpose()?,
            routers: find(dhcp::OPT_ROUTER)
                .map(addrs)
                .transpose()?
                .unwrap_or_default(),
            dns_servers: find(dhcp::OPT_DNS_SERVER)
                .map(addrs)
                .transpose()?
                .unwrap_or_default(),
            interface_mtu: find(dhcp::OPT_INTERFACE_MTU).map(u16_value).transpose()?,
            classless_routes: find(dhcp::OPT_CLASSLESS_STATIC_ROUTE)
                .map(routes)
                .transpose()?
                .unwrap_or_default(),
            domain_name: find(dhcp::OPT_DOMAIN_NAME).map(text).transpose()?,
            message: find(dhcp::OPT_MESSAGE).map(text).transpose()?,
        })
    }

    /// The option bytes `emit` writes, end option excluded.
    fn encode_options(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        put(&mut out, dhcp::OPT_MESSAGE_TYPE, &[self.message_type.0]);
        let addr_option = |out: &mut Vec<u8>, code, value: Option<Ipv4Addr>| {
            if let Some(value) = value {
                put(out, code, &value.octets());
            }
        };
        let u32_option = |out: &mut Vec<u8>, code, value: Option<u32>| {
            if let Some(value) = value {
                put(out, code, &value.to_be_bytes());
            }
        };
        let list_option = |out: &mut Vec<u8>, code, list: &[Ipv4Addr]| {
            if !list.is_empty() {
                let bytes: Vec<u8> = list.iter().flat_map(|a| a.octets()).collect();
                put(out, code, &bytes);
            }
        };
        addr_option(&mut out, dhcp::OPT_SERVER_ID, self.server_identifier);
        u32_option(&mut out, dhcp::OPT_LEASE_TIME, self.lease_time);
        u32_option(&mut out, dhcp::OPT_RENEWAL_TIME, self.renewal_time);
        u32_option(&mut out, dhcp::OPT_REBINDING_TIME, self.rebinding_time);
        addr_option(&mut out, dhcp::OPT_SUBNET_MASK, self.subnet_mask);
        list_option(&mut out, dhcp::OPT_ROUTER, &self.routers);
        list_option(&mut out, dhcp::OPT_DNS_SERVER, &self.dns_servers);
        if let Some(name) = &self.domain_name {
            put(&mut out, dhcp::OPT_DOMAIN_NAME, name.as_bytes());
        }
        if let Some(mtu) = self.interface_mtu {
            put(&mut out, dhcp::OPT_INTERFACE_MTU, &mtu.to_be_bytes());
        }
        if !self.classless_routes.is_empty() {
            let mut bytes = Vec::new();
            for route in &self.classless_routes {
                let destination = route.destination.trunc();
                let width = destination.prefix_len();
                bytes.push(width);
                let significant = usize::from(width.div_ceil(8));
                bytes.extend(destination.addr().octets().iter().take(significant));
                bytes.extend_from_slice(&route.gateway.octets());
            }
            put(&mut out, dhcp::OPT_CLASSLESS_STATIC_ROUTE, &bytes);
        }
        addr_option(&mut out, dhcp::OPT_REQUESTED_IP, self.requested_ip);
        if let Some(id) = &self.client_identifier {
            put(&mut out, dhcp::OPT_CLIENT_ID, id);
        }
        if let Some(list) = &self.parameter_request_list {
            put(&mut out, dhcp::OPT_PARAMETER_REQUEST_LIST, list);
        }
        if let Some(size) = self.max_message_size {
            put(&mut out, dhcp::OPT_MAX_MESSAGE_SIZE, &size.to_be_bytes());
        }
        if let Some(message) = &self.message {
            put(&mut out, dhcp::OPT_MESSAGE, message.as_bytes());
        }
        out
    }

    /// The message length: fixed part, options, end option, padded to 300.
    pub fn buffer_len(&self) -> usize {
        (HEADER_LEN + self.encode_options().len() + 1).max(MIN_MESSAGE_LEN)
    }

    /// Writes the whole message into the first `buffer_len()` bytes: op
    /// from the message type, Ethernet hardware, empty `sname`/`file`,
    /// options, end, zero padding.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut DhcpPacket<T>) -> Result<()> {
        let options = self.encode_options();
        let len = (HEADER_LEN + options.len() + 1).max(MIN_MESSAGE_LEN);
        let message = field::slice_mut(packet.buffer.as_mut(), 0..len);
        if message.len() != len {
            return Err(WireError::BufferTooSmall);
        }
        let mut message = DhcpPacket::new_unchecked(message);
        message.set_op(self.message_type.op());
        message.set_hardware_ethernet();
        message.set_hops(self.hops);
        message.set_xid(self.xid);
        message.set_secs(self.secs);
        message.set_flags(if self.broadcast {
            dhcp::FLAG_BROADCAST
        } else {
            0
        });
        message.set_client_addr(self.client_addr);
        message.set_your_addr(self.your_addr);
        message.set_server_addr(self.server_addr);
        message.set_relay_agent_addr(self.relay_agent_addr);
        message.set_client_hardware_addr(self.client_hardware_addr);
        message.clear_server_name_and_file();
        message.set_magic_cookie();
        let tail = message.options_mut();
        tail.fill(0);
        field::set_bytes(tail, 0, &options);
        field::set_u8(tail, options.len(), dhcp::OPT_END);
        Ok(())
    }
}

/// Appends an option, split into 255-byte instances when longer (RFC 3396).
fn put(out: &mut Vec<u8>, code: u8, value: &[u8]) {
    if value.is_empty() {
        out.extend_from_slice(&[code, 0]);
        return;
    }
    for chunk in value.chunks(255) {
        out.push(code);
        out.push(u8::try_from(chunk.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(chunk);
    }
}

/// Every instance of `code`, concatenated (RFC 3396); borrowed when there
/// is one.
fn concatenated<'a>(options: &DhcpOptions<'a>, code: u8) -> Option<Cow<'a, [u8]>> {
    let mut found: Option<Cow<'a, [u8]>> = None;
    for option in options.clone().flatten().filter(|o| o.code == code) {
        found = Some(match found {
            None => Cow::Borrowed(option.data),
            Some(before) => {
                let mut joined = before.into_owned();
                joined.extend_from_slice(option.data);
                Cow::Owned(joined)
            }
        });
    }
    found
}

fn addr(value: Cow<'_, [u8]>) -> Result<Ipv4Addr> {
    <[u8; 4]>::try_from(&*value)
        .map(Ipv4Addr::from)
        .map_err(|_| WireError::Malformed)
}

fn u16_value(value: Cow<'_, [u8]>) -> Result<u16> {
    <[u8; 2]>::try_from(&*value)
        .map(u16::from_be_bytes)
        .map_err(|_| WireError::Malformed)
}

fn u32_value(value: Cow<'_, [u8]>) -> Result<u32> {
    <[u8; 4]>::try_from(&*value)
        .map(u32::from_be_bytes)
        .map_err(|_| WireError::Malformed)
}

/// A list of addresses: a nonzero multiple of 4 bytes (RFC 2132 §3.5, §3.8).
fn addrs(value: Cow<'_, [u8]>) -> Result<Vec<Ipv4Addr>> {
    if value.is_empty() || !value.len().is_multiple_of(4) {
        return Err(WireError::Malformed);
    }
    Ok(value
        .chunks_exact(4)
        .filter_map(|chunk| <[u8; 4]>::try_from(chunk).ok())
        .map(Ipv4Addr::from)
        .collect())
}

fn text(value: Cow<'_, [u8]>) -> Result<String> {
    String::from_utf8(value.into_owned()).map_err(|_| WireError::Malformed)
}

/// Decodes RFC 3442 descriptors: width, significant destination octets,
/// router.
fn routes(value: Cow<'_, [u8]>) -> Result<Vec<ClasslessRoute>> {
    let mut rest: &[u8] = &value;
    let mut routes = Vec::new();
    while let Some((&width, after)) = rest.split_first() {
        if width > 32 {
            return Err(WireError::Malformed);
        }
        let significant = usize::from(width.div_ceil(8));
        let mut destination = [0u8; 4];
        let octets = after.get(..significant).ok_or(WireError::Malformed)?;
        field::set_bytes(&mut destination, 0, octets);
        let gateway = field::array::<4>(after, significant).ok_or(WireError::Malformed)?;
        let destination =
            Ipv4Net::new(Ipv4Addr::from(destination), width).map_err(|_| WireError::Malformed)?;
        routes.push(ClasslessRoute {
            destination: destination.trunc(),
            gateway: Ipv4Addr::from(gateway),
        });
        rest = field::rest(after, significant + 4);
    }
    Ok(routes)
}
