//! Services load-balanced in the vRouter, as kube-proxy would do it but
//! without it: a connection to a service's virtual address (`vip:port`, a
//! Kubernetes ClusterIP) from a local vif goes to one of the service's
//! backends, chosen by the hash of its 5-tuple and kept for the life of the
//! connection (sticky per flow, as ECMP is). The vRouter of the client
//! rewrites the destination (DNAT) on the way out and the source of the
//! replies back to the virtual address on the way in, so neither the client
//! nor the backend needs anything: the backend sees the client's own
//! address, and the security groups are evaluated on the backend's address
//! and port.
//!
//! Backends may be anywhere the client's VRF routes to: a pod on this node,
//! a pod on another node, a VM. A service with no backend refuses
//! connections (counted as [`DropReason::NoBackend`]).

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use weft_wire::checksum;

use crate::flow::{FlowKey, FlowTimeouts};
use crate::ids::{Millis, VrfId};
use crate::stats::DropReason;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// Where a service's connections may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Backend {
    pub addr: IpAddr,
    pub port: u16,
}

/// What identifies a service: the VRF its clients are in, and the virtual
/// address, protocol and port they connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceKey {
    pub vrf: VrfId,
    pub vip: IpAddr,
    /// 6 (TCP) or 17 (UDP).
    pub protocol: u8,
    pub port: u16,
}

/// A service as the agent programs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceConfig {
    pub key: ServiceKey,
    /// In any order; an empty list refuses connections.
    pub backends: Vec<Backend>,
}

impl ServiceConfig {
    /// Checks what the engine cannot work with.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let key = &self.key;
        if key.protocol != TCP && key.protocol != UDP {
            return Err(format!("protocol {} (only TCP 6 and UDP 17)", key.protocol));
        }
        if key.port == 0 {
            return Err("port 0".into());
        }
        for b in &self.backends {
            if b.port == 0 {
                return Err(format!("backend {} with port 0", b.addr));
            }
            if b.addr.is_ipv4() != key.vip.is_ipv4() {
                return Err(format!(
                    "backend {} is not of the address family of {}",
                    b.addr, key.vip
                ));
            }
        }
        Ok(())
    }
}

/// One translated connection.
#[derive(Debug, Clone, Copy)]
struct Translation {
    /// The service's side: what the client connected to.
    service: Backend,
    /// The backend chosen for it.
    backend: Backend,
    last_used: Millis,
}

/// The services of one engine and the connections translated so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Services {
    services: HashMap<ServiceKey, Vec<Backend>>,
    /// By the client's original key (client → vip:port).
    outbound: HashMap<FlowKey, Translation>,
    /// By the reply's key (backend → client).
    inbound: HashMap<FlowKey, FlowKey>,
}

impl Services {
    pub(crate) fn is_empty(&self) -> bool {
        self.services.is_empty() && self.outbound.is_empty()
    }

    /// Adds or replaces a service. Connections to a backend it no longer
    /// has are forgotten (their next packet picks a backend anew); the
    /// others keep theirs.
    pub(crate) fn set(&mut self, config: ServiceConfig) {
        let mut backends = config.backends;
        backends.sort();
        backends.dedup();
        let key = config.key;
        self.forget(|client, t| {
            client.vrf == key.vrf
                && client.dst == key.vip
                && client.protocol == key.protocol
                && client.dst_port == key.port
                && !backends.contains(&t.backend)
        });
        self.services.insert(key, backends);
    }

    /// Removes a service and its connections; `false` if there was none.
    pub(crate) fn delete(&mut self, key: &ServiceKey) -> bool {
        let existed = self.services.remove(key).is_some();
        let key = *key;
        self.forget(|client, _| {
            client.vrf == key.vrf
                && client.dst == key.vip
                && client.protocol == key.protocol
                && client.dst_port == key.port
        });
        existed
    }

    /// Forgets the services and connections of a VRF.
    pub(crate) fn delete_vrf(&mut self, vrf: VrfId) {
        self.services.retain(|k, _| k.vrf != vrf);
        self.forget(|client, _| client.vrf == vrf);
    }

    fn forget(&mut self, gone: impl Fn(&FlowKey, &Translation) -> bool) {
        let inbound = &mut self.inbound;
        self.outbound.retain(|client, t| {
            if gone(client, t) {
                inbound.remove(&translated(client, t.backend).reversed());
                false
            } else {
                true
            }
        });
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&ServiceKey, &[Backend])> {
        self.services.iter().map(|(k, v)| (k, v.as_slice()))
    }

    /// The backend a packet of `client` (from a local vif) goes to:
    /// `Ok(None)` if it is not for a service, `Err` if the service has no
    /// backend.
    pub(crate) fn outbound(
        &mut self,
        now: Millis,
        client: &FlowKey,
    ) -> Result<Option<Backend>, DropReason> {
        if let Some(t) = self.outbound.get_mut(client) {
            t.last_used = now;
            return Ok(Some(t.backend));
        }
        let key = ServiceKey {
            vrf: client.vrf,
            vip: client.dst,
            protocol: client.protocol,
            port: client.dst_port,
        };
        let Some(backends) = self.services.get(&key) else {
            return Ok(None);
        };
        let count = u32::try_from(backends.len()).unwrap_or(u32::MAX);
        if count == 0 {
            return Err(DropReason::NoBackend);
        }
        let index = usize::try_from(client.hash() % count).unwrap_or(0);
        let backend = *backends.get(index).ok_or(DropReason::NoBackend)?;
        let t = Translation {
            service: Backend {
                addr: client.dst,
                port: client.dst_port,
            },
            backend,
            last_used: now,
        };
        self.outbound.insert(*client, t);
        self.inbound
            .insert(translated(client, backend).reversed(), *client);
        Ok(Some(backend))
    }

    /// What the source of a reply (`reply`, after the flow check) must be
    /// rewritten to, if it answers a translated connection.
    pub(crate) fn inbound(&mut self, now: Millis, reply: &FlowKey) -> Option<Backend> {
        let client = self.inbound.get(reply)?;
        let t = self.outbound.get_mut(client)?;
        t.last_used = now;
        Some(t.service)
    }

    /// Forgets connections idle for longer than their protocol's flow
    /// timeout; returns how many.
    pub(crate) fn expire(&mut self, now: Millis, timeouts: &FlowTimeouts) -> usize {
        let before = self.outbound.len();
        self.forget(|client, t| now.since(t.last_used) >= timeouts.for_protocol(client.protocol));
        before - self.outbound.len()
    }

    /// Connections currently translated.
    pub(crate) fn connections(&self) -> usize {
        self.outbound.len()
    }
}

/// `client`'s key with the destination rewritten to `backend`.
fn translated(client: &FlowKey, backend: Backend) -> FlowKey {
    FlowKey {
        dst: backend.addr,
        dst_port: backend.port,
        ..*client
    }
}

/// Which end of a packet to rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Source,
    Destination,
}

/// Rewrites one end's address and port of a TCP or UDP packet in place,
/// keeping the IPv4 header checksum and the L4 checksum right (a UDP
/// checksum of 0 over IPv4 means none and stays 0). The address family
/// must not change.
pub(crate) fn rewrite(packet: &mut [u8], end: End, to: Backend) -> Result<(), DropReason> {
    let version = packet.first().map(|b| b >> 4);
    let (addr_at, addr_len, l4_at, protocol) = match (version, to.addr) {
        (Some(4), IpAddr::V4(_)) => {
            let ihl = usize::from(packet.first().copied().unwrap_or(0) & 0x0f) * 4;
            let protocol = *packet.get(9).ok_or(DropReason::Malformed)?;
            let at = if end == End::Source { 12 } else { 16 };
            (at, 4, ihl, protocol)
        }
        (Some(6), IpAddr::V6(_)) => {
            // Services see only packets without extension headers.
            let protocol = *packet.get(6).ok_or(DropReason::Malformed)?;
            let at = if end == End::Source { 8 } else { 24 };
            (at, 16, 40, protocol)
        }
        _ => return Err(DropReason::Malformed),
    };
    let checksum_at = match protocol {
        TCP => l4_at + 16,
        UDP => l4_at + 6,
        _ => return Err(DropReason::Unsupported),
    };
    let port_at = l4_at + if end == End::Source { 0 } else { 2 };
    let new_addr: Vec<u8> = match to.addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let old_addr = packet
        .get(addr_at..addr_at + addr_len)
        .ok_or(DropReason::Malformed)?
        .to_vec();
    let old_port = packet
        .get(port_at..port_at + 2)
        .ok_or(DropReason::Malformed)?
        .to_vec();
    let new_port = to.port.to_be_bytes();
    let l4_sum = read_u16(packet, checksum_at)?;
    let udp_without_sum = protocol == UDP && version == Some(4) && l4_sum == 0;
    if !udp_without_sum {
        let mut sum = checksum::update(l4_sum, &old_addr, &new_addr);
        sum = checksum::update(sum, &old_port, &new_port);
        if protocol == UDP && sum == 0 {
            sum = 0xffff;
        }
        write(packet, checksum_at, &sum.to_be_bytes())?;
    }
    if version == Some(4) {
        let header_sum = read_u16(packet, 10)?;
        let sum = checksum::update(header_sum, &old_addr, &new_addr);
        write(packet, 10, &sum.to_be_bytes())?;
    }
    write(packet, addr_at, &new_addr)?;
    write(packet, port_at, &new_port)
}

fn read_u16(packet: &[u8], at: usize) -> Result<u16, DropReason> {
    match packet.get(at..at + 2) {
        Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
        _ => Err(DropReason::Malformed),
    }
}

fn write(packet: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), DropReason> {
    packet
        .get_mut(at..at + bytes.len())
        .ok_or(DropReason::Malformed)?
        .copy_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use std::net::Ipv4Addr;

    use weft_wire::checksum::verifies;
    use weft_wire::{IpPair, IpProtocol, Ipv4Packet};

    use super::*;

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn client(src_port: u16) -> FlowKey {
        FlowKey {
            vrf: VrfId(1),
            src: v4(4),
            dst: IpAddr::V4(Ipv4Addr::new(10, 96, 0, 10)),
            protocol: TCP,
            src_port,
            dst_port: 80,
        }
    }

    fn service(backends: &[u8]) -> ServiceConfig {
        ServiceConfig {
            key: ServiceKey {
                vrf: VrfId(1),
                vip: IpAddr::V4(Ipv4Addr::new(10, 96, 0, 10)),
                protocol: TCP,
                port: 80,
            },
            backends: backends
                .iter()
                .map(|b| Backend {
                    addr: v4(*b),
                    port: 8080,
                })
                .collect(),
        }
    }

    #[test]
    fn connections_spread_and_stick() {
        let mut s = Services::default();
        s.set(service(&[11, 12, 13]));
        let mut chosen = std::collections::BTreeSet::new();
        for port in 1000..1100 {
            let first = s.outbound(Millis(0), &client(port)).unwrap().unwrap();
            let again = s.outbound(Millis(5), &client(port)).unwrap().unwrap();
            assert_eq!(first, again, "a connection keeps its backend");
            chosen.insert(first.addr);
            // The reply maps back to the service.
            let reply = translated(&client(port), first).reversed();
            assert_eq!(
                s.inbound(Millis(6), &reply),
                Some(Backend {
                    addr: client(port).dst,
                    port: 80
                })
            );
        }
        assert_eq!(chosen.len(), 3, "100 connections use every backend");
        // Not a service: untouched.
        let mut other = client(1);
        other.dst_port = 81;
        assert_eq!(s.outbound(Millis(0), &other).unwrap(), None);
    }

    #[test]
    fn removed_backends_lose_their_connections_only() {
        let mut s = Services::default();
        s.set(service(&[11, 12]));
        let mut on = std::collections::BTreeMap::new();
        for port in 1000..1040 {
            on.insert(port, s.outbound(Millis(0), &client(port)).unwrap().unwrap());
        }
        s.set(service(&[11]));
        for (port, before) in on {
            let now = s.outbound(Millis(1), &client(port)).unwrap().unwrap();
            assert_eq!(now.addr, v4(11));
            if before.addr == v4(12) {
                let stale = translated(&client(port), before).reversed();
                assert_eq!(s.inbound(Millis(1), &stale), None);
            }
        }
        s.set(service(&[]));
        assert_eq!(
            s.outbound(Millis(2), &client(5000)),
            Err(DropReason::NoBackend)
        );
        assert!(s.delete(&service(&[]).key));
        assert!(!s.delete(&service(&[]).key));
        assert_eq!(s.connections(), 0);
    }

    #[test]
    fn idle_connections_expire() {
        let mut s = Services::default();
        s.set(service(&[11]));
        s.outbound(Millis(0), &client(1)).unwrap();
        s.outbound(Millis(170_000), &client(2)).unwrap();
        let timeouts = FlowTimeouts::default();
        assert_eq!(s.expire(Millis(179_999), &timeouts), 0);
        assert_eq!(s.expire(Millis(180_000), &timeouts), 1);
        assert_eq!(s.connections(), 1);
    }

    #[test]
    fn bad_services_are_named() {
        let mut bad = service(&[11]);
        bad.key.protocol = 1;
        assert!(bad.validate().unwrap_err().contains("protocol 1"));
        let mut bad = service(&[11]);
        bad.backends[0].addr = "fd00::1".parse().unwrap();
        assert!(bad.validate().unwrap_err().contains("address family"));
        let mut bad = service(&[11]);
        bad.backends[0].port = 0;
        assert!(bad.validate().unwrap_err().contains("port 0"));
        assert!(service(&[]).validate().is_ok());
    }

    /// A TCP/IPv4 packet with correct checksums.
    fn tcp_packet() -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        p[8] = 64;
        p[9] = TCP;
        p[12..16].copy_from_slice(&[10, 0, 0, 4]);
        p[16..20].copy_from_slice(&[10, 96, 0, 10]);
        p[20..22].copy_from_slice(&1000u16.to_be_bytes());
        p[22..24].copy_from_slice(&80u16.to_be_bytes());
        p[32] = 0x50;
        let sum = checksum::checksum(&p[..20]);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        let pseudo = IpPair::V4 {
            src: Ipv4Addr::new(10, 0, 0, 4),
            dst: Ipv4Addr::new(10, 96, 0, 10),
        };
        let sum = pseudo.checksum(IpProtocol::TCP, &p[20..]);
        p[36..38].copy_from_slice(&sum.to_be_bytes());
        p
    }

    fn checksums_hold(p: &[u8]) -> bool {
        let ip = Ipv4Packet::new_checked(p).unwrap();
        let pseudo = IpPair::V4 {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
        };
        verifies(checksum::sum(0, &p[..20])) && pseudo.verifies(IpProtocol::TCP, &p[20..])
    }

    #[test]
    fn rewriting_keeps_checksums_right() {
        let mut p = tcp_packet();
        assert!(checksums_hold(&p));
        let backend = Backend {
            addr: v4(11),
            port: 8080,
        };
        rewrite(&mut p, End::Destination, backend).unwrap();
        assert_eq!(&p[16..20], &[10, 0, 0, 11]);
        assert_eq!(&p[22..24], &8080u16.to_be_bytes());
        assert!(checksums_hold(&p));
        rewrite(
            &mut p,
            End::Source,
            Backend {
                addr: v4(99),
                port: 1234,
            },
        )
        .unwrap();
        assert_eq!(&p[12..16], &[10, 0, 0, 99]);
        assert_eq!(&p[20..22], &1234u16.to_be_bytes());
        assert!(checksums_hold(&p));
        // The wrong family and non-TCP/UDP packets are refused untouched.
        let before = p.clone();
        assert!(
            rewrite(
                &mut p,
                End::Source,
                Backend {
                    addr: "fd00::1".parse().unwrap(),
                    port: 1
                }
            )
            .is_err()
        );
        p[9] = 1;
        assert_eq!(
            rewrite(&mut p, End::Source, backend),
            Err(DropReason::Unsupported)
        );
        p[9] = TCP;
        assert_eq!(p, before);
    }
}
