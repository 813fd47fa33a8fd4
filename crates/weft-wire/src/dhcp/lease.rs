//! Builders for the server's replies: OFFER, ACK and NAK (RFC 2131 §4.3.1,
//! table 3), answering a parsed client message.
//!
//! Where the reply goes (broadcast, unicast to `yiaddr`, or to the relay) is
//! the caller's decision, made from the request's `broadcast`, `client_addr`
//! and `relay_agent_addr` (RFC 2131 §4.1).

use std::net::Ipv4Addr;

use super::{ClasslessRoute, DhcpMessageType, DhcpRepr};

/// What the server hands a client: the address and its configuration.
///
/// RFC 3442: a client that receives option 121 ignores option 3, so when
/// `classless_routes` is not empty it should hold the default route too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DhcpLease {
    pub your_addr: Ipv4Addr,
    /// The server identifier: the address the client will unicast to.
    pub server_identifier: Ipv4Addr,
    /// Seconds; `u32::MAX` is infinite.
    pub lease_time: u32,
    pub subnet_mask: Ipv4Addr,
    pub routers: Vec<Ipv4Addr>,
    pub dns_servers: Vec<Ipv4Addr>,
    pub interface_mtu: Option<u16>,
    pub classless_routes: Vec<ClasslessRoute>,
    pub domain_name: Option<String>,
}

impl DhcpLease {
    /// T1: half the lease (RFC 2131 §4.4.5); none for an infinite lease.
    pub fn renewal_time(&self) -> Option<u32> {
        self.fraction_of_lease(1, 2)
    }

    /// T2: seven eighths of the lease; none for an infinite lease.
    pub fn rebinding_time(&self) -> Option<u32> {
        self.fraction_of_lease(7, 8)
    }

    fn fraction_of_lease(&self, numerator: u64, denominator: u64) -> Option<u32> {
        if self.lease_time == u32::MAX {
            return None;
        }
        u32::try_from(u64::from(self.lease_time) * numerator / denominator).ok()
    }
}

impl DhcpRepr {
    /// The reply fields every server message copies from the request.
    fn reply_to(request: &DhcpRepr, message_type: DhcpMessageType) -> DhcpRepr {
        DhcpRepr {
            broadcast: request.broadcast,
            relay_agent_addr: request.relay_agent_addr,
            // RFC 6842: echo the client identifier.
            client_identifier: request.client_identifier.clone(),
            ..DhcpRepr::new(message_type, request.xid, request.client_hardware_addr)
        }
    }

    fn with_lease(mut self, lease: &DhcpLease, assign: bool) -> DhcpRepr {
        self.server_identifier = Some(lease.server_identifier);
        if assign {
            self.your_addr = lease.your_addr;
            self.lease_time = Some(lease.lease_time);
            self.renewal_time = lease.renewal_time();
            self.rebinding_time = lease.rebinding_time();
        }
        self.subnet_mask = Some(lease.subnet_mask);
        self.routers = lease.routers.clone();
        self.dns_servers = lease.dns_servers.clone();
        self.interface_mtu = lease.interface_mtu;
        self.classless_routes = lease.classless_routes.clone();
        self.domain_name = lease.domain_name.clone();
        self
    }

    /// The DHCPOFFER answering a DHCPDISCOVER.
    pub fn offer(request: &DhcpRepr, lease: &DhcpLease) -> DhcpRepr {
        Self::reply_to(request, DhcpMessageType::OFFER).with_lease(lease, true)
    }

    /// The DHCPACK answering a DHCPREQUEST, or a DHCPINFORM (then without
    /// an address or lease times, and with `ciaddr` echoed: RFC 2131 §4.3.5).
    pub fn ack(request: &DhcpRepr, lease: &DhcpLease) -> DhcpRepr {
        let reply = Self::reply_to(request, DhcpMessageType::ACK);
        if request.message_type == DhcpMessageType::INFORM {
            DhcpRepr {
                client_addr: request.client_addr,
                ..reply.with_lease(lease, false)
            }
        } else {
            DhcpRepr {
                client_addr: request.client_addr,
                ..reply.with_lease(lease, true)
            }
        }
    }

    /// The DHCPNAK refusing a DHCPREQUEST. Through a relay the broadcast bit
    /// is set so the relay broadcasts it (RFC 2131 §4.3.2).
    pub fn nak(request: &DhcpRepr, server_identifier: Ipv4Addr, message: Option<&str>) -> DhcpRepr {
        let mut reply = Self::reply_to(request, DhcpMessageType::NAK);
        reply.server_identifier = Some(server_identifier);
        reply.message = message.map(str::to_owned);
        if !request.relay_agent_addr.is_unspecified() {
            reply.broadcast = true;
        }
        reply
    }
}
