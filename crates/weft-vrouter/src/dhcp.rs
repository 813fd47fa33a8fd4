//! The per-vif DHCP server: every vif with DHCP settings gets exactly its
//! own address, the gateway as router, the service address as DNS, the
//! network's MTU capped by what fits the overlay, and the subnet's host
//! routes (RFC 3442).
//!
//! DISCOVER → OFFER; REQUEST (selecting, renewing or rebinding) for the
//! vif's address → ACK, for any other → NAK; REQUEST naming another server
//! → ignored; INFORM → ACK without a lease; RELEASE and DECLINE → ignored
//! (the address belongs to the port, not to a pool).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use weft_types::MacAddr;
use weft_wire::consts::port;
use weft_wire::{
    ClasslessRoute, DhcpLease, DhcpMessageType, DhcpPacket, DhcpRepr, EtherType, IpPair,
    IpProtocol, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

use crate::packet::ethernet_frame;
use crate::stats::DropReason;
use crate::vif::DhcpConfig;

/// The address the server speaks from: the gateway, else the DNS/service
/// address, else a link-local one.
pub(crate) fn server_addr(config: &DhcpConfig) -> Ipv4Addr {
    config
        .gateway
        .or(config.dns)
        .unwrap_or(Ipv4Addr::new(169, 254, 169, 254))
}

fn mask(prefix_len: u8) -> Ipv4Addr {
    Ipv4Net::new(Ipv4Addr::UNSPECIFIED, prefix_len.min(32))
        .map(|net| net.netmask())
        .unwrap_or(Ipv4Addr::BROADCAST)
}

/// The lease of `config`. Its MTU is the config's, but never more than
/// `default_mtu` (what fits the overlay), which is also what it is when the
/// config names none.
pub(crate) fn lease(config: &DhcpConfig, default_mtu: u16) -> DhcpLease {
    let mut classless_routes: Vec<ClasslessRoute> = config
        .host_routes
        .iter()
        .filter_map(|(prefix, gateway)| match prefix.net() {
            ipnet::IpNet::V4(destination) => Some(ClasslessRoute {
                destination,
                gateway: *gateway,
            }),
            ipnet::IpNet::V6(_) => None,
        })
        .collect();
    // RFC 3442: a client given option 121 ignores option 3, so the default
    // route goes in too.
    if let Some(gateway) = config.gateway
        && !classless_routes.is_empty()
        && !classless_routes
            .iter()
            .any(|r| r.destination.prefix_len() == 0)
    {
        classless_routes.push(ClasslessRoute {
            destination: Ipv4Net::default(),
            gateway,
        });
    }
    DhcpLease {
        your_addr: config.addr,
        server_identifier: server_addr(config),
        lease_time: config.lease_time,
        subnet_mask: mask(config.prefix_len),
        routers: config.gateway.into_iter().collect(),
        dns_servers: config.dns.into_iter().collect(),
        interface_mtu: Some(config.mtu.map_or(default_mtu, |mtu| mtu.min(default_mtu))),
        classless_routes,
        domain_name: None,
    }
}

/// Answers the DHCP message in `ip` (a whole IPv4 packet, UDP to port 67)
/// with a frame for the client.
pub(crate) fn serve(
    ip: &[u8],
    config: &DhcpConfig,
    default_mtu: u16,
    vrouter_mac: MacAddr,
) -> Result<Vec<u8>, DropReason> {
    let packet = Ipv4Packet::new_checked(ip)?;
    let header = Ipv4Repr::parse(&packet)?;
    let udp = UdpPacket::new_checked(packet.payload())?;
    UdpRepr::parse(&udp, &header.ip_pair())?;
    let request = DhcpRepr::parse(&DhcpPacket::new_checked(udp.payload())?)?;
    let lease = lease(config, default_mtu);
    let reply = match request.message_type {
        DhcpMessageType::DISCOVER => DhcpRepr::offer(&request, &lease),
        DhcpMessageType::INFORM => DhcpRepr::ack(&request, &lease),
        DhcpMessageType::REQUEST => {
            if request
                .server_identifier
                .is_some_and(|id| id != lease.server_identifier)
            {
                return Err(DropReason::DhcpIgnored);
            }
            let wanted = request.requested_ip.unwrap_or(request.client_addr);
            if wanted == config.addr {
                DhcpRepr::ack(&request, &lease)
            } else {
                DhcpRepr::nak(
                    &request,
                    lease.server_identifier,
                    Some("address not assigned to this port"),
                )
            }
        }
        _ => return Err(DropReason::DhcpIgnored),
    };
    emit(&request, &reply, lease.server_identifier, vrouter_mac)
}

/// RFC 2131 §4.1: NAKs and clients asking for broadcast get a broadcast;
/// a client with an address gets unicast there; otherwise unicast to the
/// offered address at the client's MAC.
fn emit(
    request: &DhcpRepr,
    reply: &DhcpRepr,
    server: Ipv4Addr,
    vrouter_mac: MacAddr,
) -> Result<Vec<u8>, DropReason> {
    let (dst, dst_mac) = if reply.message_type == DhcpMessageType::NAK || request.broadcast {
        (Ipv4Addr::BROADCAST, MacAddr::BROADCAST)
    } else if !request.client_addr.is_unspecified() {
        (request.client_addr, request.client_hardware_addr)
    } else {
        (reply.your_addr, request.client_hardware_addr)
    };
    let dhcp_len = reply.buffer_len();
    let udp = UdpRepr {
        src_port: port::DHCP_SERVER,
        dst_port: port::DHCP_CLIENT,
        payload_len: dhcp_len,
    };
    let ip = Ipv4Repr {
        src_addr: server,
        dst_addr: dst,
        protocol: IpProtocol::UDP,
        payload_len: udp.buffer_len(),
        ttl: 64,
        dscp_ecn: 0,
        ident: 0,
        dont_fragment: false,
        more_fragments: false,
        fragment_offset: 0,
    };
    let failed = |_| DropReason::EmitFailed;
    let mut buf = vec![0u8; ip.buffer_len()];
    let udp_at = ip.header_len();
    let dhcp_at = udp_at.saturating_add(udp.header_len());
    let body = buf.get_mut(dhcp_at..).ok_or(DropReason::EmitFailed)?;
    reply
        .emit(&mut DhcpPacket::new_unchecked(body))
        .map_err(failed)?;
    let datagram = buf.get_mut(udp_at..).ok_or(DropReason::EmitFailed)?;
    let ips = IpPair::V4 { src: server, dst };
    udp.emit(&mut UdpPacket::new_unchecked(datagram), &ips)
        .map_err(failed)?;
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]))
        .map_err(failed)?;
    ethernet_frame(vrouter_mac, dst_mac, EtherType::IPV4, &buf)
}

#[cfg(test)]
mod tests;
