//! Translating the control protocol's messages into engine types. A field
//! that does not parse makes the item it belongs to unusable; the caller
//! logs it and skips the item ([`ConvertError`] says which field and why).

use std::net::{IpAddr, Ipv4Addr};

use weft_control::proto;
use weft_types::{MacAddr, Prefix};
use weft_vrouter::{
    AclRule, AllowedAddressPair, DhcpConfig, Direction, Encapsulation, Ethertype, Remote, SgId,
};

/// A field of a control message the agent cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?}: {rule}")]
pub struct ConvertError {
    pub what: &'static str,
    pub value: String,
    pub rule: &'static str,
}

fn bad(what: &'static str, value: impl ToString, rule: &'static str) -> ConvertError {
    ConvertError {
        what,
        value: value.to_string(),
        rule,
    }
}

/// DHCP lease time handed out (TF's default, one day).
pub(crate) const LEASE_SECONDS: u32 = 86_400;

pub(crate) fn encapsulation(e: proto::Encapsulation) -> Option<Encapsulation> {
    match e {
        proto::Encapsulation::MplsOverUdp => Some(Encapsulation::MplsOverUdp),
        proto::Encapsulation::MplsOverGre => Some(Encapsulation::MplsOverGre),
        proto::Encapsulation::Vxlan => Some(Encapsulation::Vxlan),
        proto::Encapsulation::Unspecified => None,
    }
}

pub(crate) fn encapsulations(
    list: impl IntoIterator<Item = proto::Encapsulation>,
) -> Vec<Encapsulation> {
    let mut out = Vec::new();
    for e in list.into_iter().filter_map(encapsulation) {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

pub(crate) fn sg_ids(ids: &[u32]) -> Vec<SgId> {
    let mut out: Vec<SgId> = ids.iter().map(|id| SgId(*id)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// One compiled security-group rule.
pub(crate) fn acl_rule(rule: &proto::AclRule) -> Result<AclRule, ConvertError> {
    let direction = match rule.direction() {
        proto::Direction::Ingress => Direction::Ingress,
        proto::Direction::Egress => Direction::Egress,
        proto::Direction::Unspecified => return Err(bad("direction", 0, "must be set")),
    };
    let ethertype = match rule.ethertype() {
        proto::Ethertype::Ipv4 => Ethertype::IPv4,
        proto::Ethertype::Ipv6 => Ethertype::IPv6,
        proto::Ethertype::Unspecified => return Err(bad("ethertype", 0, "must be set")),
    };
    let protocol = match rule.protocol {
        None => None,
        Some(p) => Some(u8::try_from(p).map_err(|_| bad("protocol", p, "must be 0-255"))?),
    };
    let port = |p: u32| u16::try_from(p).map_err(|_| bad("port", p, "must be 0-65535"));
    let (first, last) = (port(rule.port_min)?, port(rule.port_max)?);
    if first > last {
        return Err(bad("port range", format!("{first}-{last}"), "is reversed"));
    }
    let ports = (first, last) != (0, u16::MAX);
    let remote = match &rule.remote {
        None | Some(proto::acl_rule::Remote::Any(_)) => Remote::Any,
        Some(proto::acl_rule::Remote::Prefix(p)) => Remote::Prefix(
            Prefix::parse_normalised(p).map_err(|_| bad("remote prefix", p, "is not a prefix"))?,
        ),
        Some(proto::acl_rule::Remote::SgId(id)) => Remote::Group(SgId(*id)),
    };
    Ok(AclRule {
        direction,
        ethertype,
        protocol,
        ports: ports.then_some((first, last)),
        remote,
    })
}

pub(crate) fn mac(text: &str) -> Result<MacAddr, ConvertError> {
    text.parse()
        .map_err(|_| bad("mac", text, "is not a MAC address"))
}

pub(crate) fn ip(what: &'static str, text: &str) -> Result<IpAddr, ConvertError> {
    text.parse()
        .map_err(|_| bad(what, text, "is not an IP address"))
}

fn optional_v4(what: &'static str, text: &str) -> Result<Option<Ipv4Addr>, ConvertError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| bad(what, text, "is not an IPv4 address"))
}

pub(crate) fn allowed_address_pair(
    pair: &proto::AllowedAddressPair,
) -> Result<AllowedAddressPair, ConvertError> {
    let prefix = Prefix::parse_normalised(&pair.ip_prefix)
        .map_err(|_| bad("allowed address pair", &pair.ip_prefix, "is not a prefix"))?;
    let mac = if pair.mac.is_empty() {
        None
    } else {
        Some(mac(&pair.mac)?)
    };
    Ok(AllowedAddressPair { prefix, mac })
}

/// The DHCP answer for the port's first IPv4 fixed IP with DHCP enabled,
/// with the network's MTU if it sets one.
pub(crate) fn dhcp(port: &proto::Port) -> Result<Option<DhcpConfig>, ConvertError> {
    // More than fits the overlay is capped by the vRouter anyway.
    let mtu = (port.mtu != 0).then(|| u16::try_from(port.mtu).unwrap_or(u16::MAX));
    for fixed in port.fixed_ips.iter().filter(|f| f.dhcp_enabled) {
        let IpAddr::V4(addr) = ip("fixed ip", &fixed.address)? else {
            continue;
        };
        let prefix_len = u8::try_from(fixed.prefix_len)
            .ok()
            .filter(|len| *len <= 32)
            .ok_or_else(|| bad("prefix length", fixed.prefix_len, "must be 0-32"))?;
        let mut host_routes = Vec::new();
        for route in &fixed.host_routes {
            let dst = Prefix::parse_normalised(&route.destination)
                .map_err(|_| bad("host route", &route.destination, "is not a prefix"))?;
            let Some(via) = optional_v4("host route next hop", &route.nexthop)? else {
                continue;
            };
            host_routes.push((dst, via));
        }
        return Ok(Some(DhcpConfig {
            addr,
            prefix_len,
            gateway: optional_v4("gateway", &fixed.gateway)?,
            dns: optional_v4("dns/service address", &fixed.dns_service)?,
            mtu,
            host_routes,
            lease_time: LEASE_SECONDS,
        }));
    }
    Ok(None)
}

/// The addresses the vRouter itself answers for in a port's subnets: the
/// gateway and the DNS/service address of each fixed IP.
pub(crate) fn service_addresses(fixed_ips: &[proto::FixedIp]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for fixed in fixed_ips {
        for text in [&fixed.gateway, &fixed.dns_service] {
            if let Ok(addr) = text.parse::<IpAddr>()
                && !out.contains(&addr)
            {
                out.push(addr);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn full_port_range_is_no_range() {
        let rule = proto::AclRule {
            direction: proto::Direction::Ingress as i32,
            ethertype: proto::Ethertype::Ipv4 as i32,
            protocol: Some(6),
            port_min: 0,
            port_max: 65535,
            remote: Some(proto::acl_rule::Remote::SgId(7)),
        };
        let got = acl_rule(&rule).unwrap();
        assert_eq!(got.ports, None);
        assert_eq!(got.remote, Remote::Group(SgId(7)));
        let ranged = proto::AclRule {
            port_min: 22,
            port_max: 22,
            ..rule.clone()
        };
        assert_eq!(acl_rule(&ranged).unwrap().ports, Some((22, 22)));
        let reversed = proto::AclRule {
            port_min: 23,
            port_max: 22,
            ..rule
        };
        assert!(acl_rule(&reversed).is_err());
    }
}
