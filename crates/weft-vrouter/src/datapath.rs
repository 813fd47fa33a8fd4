//! The packet path: frames from vifs, payloads from the underlay, and what
//! the engine sends in answer ([`Output`]).
//!
//! Every input ends in outputs or in exactly one counted drop; nothing here
//! panics on any input.

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;
use weft_wire::encap::entropy_port;
use weft_wire::{EtherType, EthernetFrame, EthernetRepr, VNET_HDR_LEN, VnetHdr};

use crate::engine::Engine;
use crate::flow::{FlowAction, FlowEnds, FlowKey};
use crate::ids::{Millis, VifId, VrfId};
use crate::nexthop::{Encapsulation, NextHopKind};
use crate::packet::{IpInfo, decrement_ttl, ethernet_frame, ethertype_of, parse_ip};
use crate::service::{self, End};
use crate::stats::DropReason;
use crate::tunnel::{self, Decapsulated, TunnelKind, UnderlayKind};
use crate::vif::VifKind;
use crate::{arp, dhcp, icmp, icmpv6};

/// Something the engine wants sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Output {
    /// An Ethernet frame to write to a vif.
    ToVif { vif: VifId, frame: Vec<u8> },
    /// A tunnel payload for the underlay socket `kind` names, to the remote
    /// vRouter at `dst` (see [`crate::tunnel`] for the layouts).
    ToUnderlay {
        dst: Ipv4Addr,
        kind: UnderlayKind,
        payload: Vec<u8>,
    },
}

const UDP: u8 = 17;
const DHCP_SERVER_PORT: u16 = 67;
const BASE_MTU: u16 = 1500;

fn flow_key(vrf: VrfId, info: &IpInfo) -> FlowKey {
    FlowKey {
        vrf,
        src: info.src,
        dst: info.dst,
        protocol: info.protocol,
        src_port: info.src_port,
        dst_port: info.dst_port,
    }
}

impl Engine {
    /// Handles one frame a workload sent on `vif`.
    pub fn receive_vif(&mut self, now: Millis, vif: VifId, frame: &[u8], out: &mut Vec<Output>) {
        let Some(entry) = self.vifs.get_mut(&vif) else {
            self.drop(None, DropReason::UnknownVif);
            return;
        };
        entry.rx.add(frame.len());
        if let Err(reason) = self.vif_rx(now, vif, frame, out) {
            self.drop(Some(vif), reason);
        }
    }

    /// Handles what the kernel handed over on `vif` through an interface
    /// with a virtio-net header (a tap with `IFF_VNET_HDR`, a packet socket
    /// with `PACKET_VNET_HDR`): `buf` is the header and the frame. Partial
    /// checksums are completed and TCP/UDP super-frames cut into segments,
    /// each then handled as [`Engine::receive_vif`] does. A header that
    /// cannot be honoured is one drop.
    pub fn receive_vif_offloaded(
        &mut self,
        now: Millis,
        vif: VifId,
        buf: &mut [u8],
        out: &mut Vec<Output>,
    ) {
        let known = self.vifs.contains_key(&vif).then_some(vif);
        let Ok(hdr) = VnetHdr::parse(buf) else {
            self.drop(known, DropReason::Malformed);
            return;
        };
        let mut segmenter = std::mem::take(&mut self.segmenter);
        let result = match buf.get_mut(VNET_HDR_LEN..) {
            Some(frame) => segmenter.resolve(&hdr, frame, |segment| {
                self.receive_vif(now, vif, segment, out);
            }),
            None => Ok(0),
        };
        self.segmenter = segmenter;
        if let Err(error) = result {
            let reason = match error {
                weft_wire::WireError::Unsupported => DropReason::Unsupported,
                _ => DropReason::Malformed,
            };
            self.drop(known, reason);
        }
    }

    /// Handles one tunnel payload the agent read from the underlay socket
    /// `kind`, sent by the vRouter at `src`. As in TF, the label (or the
    /// VNI and inner destination) alone picks the vif: `src` is not checked
    /// against known tunnel endpoints.
    pub fn receive_underlay(
        &mut self,
        now: Millis,
        src: Ipv4Addr,
        kind: TunnelKind,
        payload: &[u8],
        out: &mut Vec<Output>,
    ) {
        let _ = src;
        let mut dst_vif = None;
        if let Err(reason) = self.underlay_rx(now, kind, payload, &mut dst_vif, out) {
            self.drop(dst_vif, reason);
        }
    }

    /// 1500 minus the largest overhead among the encapsulations in use.
    pub fn default_mtu(&self) -> u16 {
        let overhead = self
            .encap_priority
            .iter()
            .map(|e| e.overhead())
            .max()
            .unwrap_or(0);
        BASE_MTU.saturating_sub(overhead)
    }

    fn vif_rx(
        &mut self,
        now: Millis,
        vif_id: VifId,
        frame: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), DropReason> {
        let eth = EthernetFrame::new_checked(frame)?;
        let header = EthernetRepr::parse(&eth)?;
        if header.vlan.is_some() {
            return Err(DropReason::Unsupported);
        }
        let vif = self.vifs.get(&vif_id).ok_or(DropReason::UnknownVif)?;
        let policy = vif.enforces_policy();
        if policy && !vif.mac_allowed(header.src_addr) {
            return Err(DropReason::SpoofedSource);
        }
        match header.ethertype {
            EtherType::ARP => {
                let vrf = vif.config.vrf;
                let reply = arp::answer(
                    eth.payload(),
                    self.config.vrouter_mac,
                    |mac, addr| !policy || vif.source_allowed(mac, IpAddr::V4(addr)),
                    |target| self.routes_to(vrf, IpAddr::V4(target)),
                )?;
                self.emit_to_vif(vif_id, reply, out);
                Ok(())
            }
            EtherType::IPV4 | EtherType::IPV6 => {
                self.vif_ip(now, vif_id, &header, eth.payload(), out)
            }
            _ => Err(DropReason::Unsupported),
        }
    }

    /// Whether ARP for `addr` should be answered: the VRF routes it
    /// somewhere other than a discard.
    fn routes_to(&self, vrf: VrfId, addr: IpAddr) -> bool {
        self.vrfs
            .get(&vrf)
            .and_then(|t| t.lookup(addr))
            .and_then(|route| self.nexthops.get(&route.nh))
            .is_some_and(|nh| nh.kind != NextHopKind::Discard)
    }

    fn vif_ip(
        &mut self,
        now: Millis,
        vif_id: VifId,
        header: &EthernetRepr,
        payload: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), DropReason> {
        let (info, ip) = parse_ip(payload)?;
        let vif = self.vifs.get(&vif_id).ok_or(DropReason::UnknownVif)?;
        let mac = self.config.vrouter_mac;
        if info.protocol == UDP && info.dst_port == DHCP_SERVER_PORT && info.src.is_ipv4() {
            let config = vif.config.dhcp.as_ref().ok_or(DropReason::DhcpIgnored)?;
            let reply = dhcp::serve(ip, config, self.default_mtu(), mac)?;
            self.emit_to_vif(vif_id, reply, out);
            return Ok(());
        }
        if let IpAddr::V6(src) = info.src
            && icmpv6::is_neighbor_solicit(ip)
        {
            // Link-local and unspecified sources are how NDP works; the
            // MAC was checked above.
            let own_or_link_local = src.is_unspecified()
                || src.is_unicast_link_local()
                || !vif.enforces_policy()
                || vif.source_allowed(header.src_addr, info.src);
            if !own_or_link_local {
                return Err(DropReason::SpoofedSource);
            }
            let vrf = vif.config.vrf;
            let reply = icmpv6::answer_solicit(ip, mac, header.src_addr, |target| {
                self.routes_to(vrf, IpAddr::V6(target))
            })?;
            self.emit_to_vif(vif_id, reply, out);
            return Ok(());
        }
        if vif.enforces_policy() && !vif.source_allowed(header.src_addr, info.src) {
            return Err(DropReason::SpoofedSource);
        }
        if header.dst_addr != mac {
            return Err(DropReason::NotForVrouter);
        }
        let vrf = vif.config.vrf;
        let from_host = vif.config.kind == VifKind::Host;
        let vif_mac = vif.config.mac;
        let gateway = vif.config.dhcp.as_ref().and_then(|d| d.gateway);
        // A connection to a service goes to one of its backends: from here
        // on the packet is addressed to it.
        let mut translated = None;
        if !self.services.is_empty()
            && let Some(backend) = self.services.outbound(now, &flow_key(vrf, &info))?
        {
            let mut copy = ip.to_vec();
            service::rewrite(&mut copy, End::Destination, backend)?;
            translated = Some(copy);
        }
        let (info, ip) = match &translated {
            Some(packet) => parse_ip(packet)?,
            None => (info, ip),
        };
        let route = self
            .vrfs
            .get(&vrf)
            .and_then(|t| t.lookup(info.dst))
            .ok_or(DropReason::NoRoute)?;
        let nh = self
            .nexthops
            .get(&route.nh)
            .ok_or(DropReason::InvalidNextHop)?
            .kind
            .clone();
        let dst_vif = match nh {
            NextHopKind::Receive => {
                let reply = match info.dst {
                    IpAddr::V4(_) => icmp::echo_reply(ip, mac, header.src_addr)?,
                    IpAddr::V6(_) => icmpv6::echo_reply(ip, mac, header.src_addr)?,
                };
                self.emit_to_vif(vif_id, reply, out);
                return Ok(());
            }
            NextHopKind::Discard => return Err(DropReason::Discard),
            NextHopKind::Encap { vif } => Some(vif),
            NextHopKind::Tunnel { .. } => None,
        };
        let mut packet = ip.to_vec();
        if !decrement_ttl(&mut packet) {
            if let (Some(gateway), IpAddr::V4(_)) = (gateway, info.src)
                && let Ok(frame) = icmp::time_exceeded(ip, gateway, mac, vif_mac)
            {
                self.emit_to_vif(vif_id, frame, out);
            }
            return Err(DropReason::TtlExpired);
        }
        // What the node's kernel sends belongs to the flow of the
        // workload it goes to, in that workload's VRF, so that the
        // workload's replies (looked up in its own VRF) find it.
        let flow_vrf = match dst_vif.and_then(|id| self.vifs.get(&id)) {
            Some(dst) if from_host => dst.config.vrf,
            _ => vrf,
        };
        let key = flow_key(flow_vrf, &info);
        let ends = FlowEnds {
            src_vif: Some(vif_id),
            dst_vif,
        };
        self.flow_check(now, &key, ends, ip.len())?;
        self.restore_service_source(now, &key, &mut packet)?;
        match dst_vif {
            Some(dst) => self.deliver(dst, &packet, out),
            None => self.send_tunnel(&nh, vrf, &key, &packet, out),
        }
    }

    fn underlay_rx(
        &mut self,
        now: Millis,
        kind: TunnelKind,
        payload: &[u8],
        dst_vif: &mut Option<VifId>,
        out: &mut Vec<Output>,
    ) -> Result<(), DropReason> {
        let (vif, inner) = match tunnel::decapsulate(kind, payload)? {
            Decapsulated::Label(label, inner) => {
                let vif = *self.labels.get(&label).ok_or(DropReason::UnknownLabel)?;
                (vif, inner)
            }
            Decapsulated::Vni(vni, frame) => {
                let vrf = *self.vnis.get(&vni).ok_or(DropReason::UnknownVni)?;
                let eth = EthernetFrame::new_checked(frame)?;
                let header = EthernetRepr::parse(&eth)?;
                if header.vlan.is_some()
                    || !matches!(header.ethertype, EtherType::IPV4 | EtherType::IPV6)
                {
                    return Err(DropReason::Unsupported);
                }
                let (info, _) = parse_ip(eth.payload())?;
                let route = self
                    .vrfs
                    .get(&vrf)
                    .and_then(|t| t.lookup(info.dst))
                    .ok_or(DropReason::NoRoute)?;
                let vif = self.local_vif_of(route).ok_or(DropReason::InvalidNextHop)?;
                (vif, eth.payload())
            }
        };
        *dst_vif = Some(vif);
        let vrf = self
            .vifs
            .get(&vif)
            .ok_or(DropReason::InvalidNextHop)?
            .config
            .vrf;
        let (info, ip) = parse_ip(inner)?;
        let key = flow_key(vrf, &info);
        let ends = FlowEnds {
            src_vif: None,
            dst_vif: Some(vif),
        };
        self.flow_check(now, &key, ends, ip.len())?;
        if !self.services.is_empty()
            && let Some(service) = self.services.inbound(now, &key)
        {
            let mut packet = ip.to_vec();
            service::rewrite(&mut packet, End::Source, service)?;
            return self.deliver(vif, &packet, out);
        }
        self.deliver(vif, ip, out)
    }

    /// A reply of a translated service connection leaves with the
    /// service's address and port as its source, as the client expects.
    fn restore_service_source(
        &mut self,
        now: Millis,
        key: &FlowKey,
        packet: &mut [u8],
    ) -> Result<(), DropReason> {
        if self.services.is_empty() {
            return Ok(());
        }
        match self.services.inbound(now, key) {
            Some(service) => service::rewrite(packet, End::Source, service),
            None => Ok(()),
        }
    }

    /// Looks the packet's flow up, setting it up on a miss; `Err` if the
    /// flow says drop. Packets between ends without port security skip
    /// the table.
    fn flow_check(
        &mut self,
        now: Millis,
        key: &FlowKey,
        ends: FlowEnds,
        len: usize,
    ) -> Result<(), DropReason> {
        if !self.needs_flow(ends) {
            return Ok(());
        }
        let index = match self.flows.lookup(key) {
            Some(index) => index,
            None => {
                let verdict = self.evaluate(key, ends);
                self.flows
                    .insert(*key, ends, verdict, now)
                    .map_err(|_| DropReason::FlowTableFull)?
            }
        };
        match self.flows.hit(index, len, now) {
            Some(FlowAction::Forward) => Ok(()),
            _ => Err(DropReason::FlowDenied),
        }
    }

    /// Writes an IP packet to a local vif with the L2 rewrite: from the
    /// vRouter MAC to the vif's MAC.
    fn deliver(&mut self, vif: VifId, ip: &[u8], out: &mut Vec<Output>) -> Result<(), DropReason> {
        let dst_mac = self
            .vifs
            .get(&vif)
            .ok_or(DropReason::InvalidNextHop)?
            .config
            .mac;
        let frame = ethernet_frame(self.config.vrouter_mac, dst_mac, ethertype_of(ip), ip)?;
        self.emit_to_vif(vif, frame, out);
        Ok(())
    }

    fn emit_to_vif(&mut self, vif: VifId, frame: Vec<u8>, out: &mut Vec<Output>) {
        if let Some(entry) = self.vifs.get_mut(&vif) {
            entry.tx.add(frame.len());
        }
        out.push(Output::ToVif { vif, frame });
    }

    /// The encapsulation a tunnel next hop gets for routed traffic, and the
    /// VNI VXLAN would use.
    pub(crate) fn tunnel_encap(
        &self,
        nh: &NextHopKind,
        vrf_vni: Option<weft_types::Vni>,
    ) -> Option<(Encapsulation, Option<weft_types::Vni>)> {
        let NextHopKind::Tunnel {
            label, vni, encaps, ..
        } = nh
        else {
            return None;
        };
        let vni = vni.or(vrf_vni);
        let usable: Vec<Encapsulation> = encaps
            .iter()
            .copied()
            .filter(|e| {
                if e.is_mpls() {
                    label.is_some()
                } else {
                    vni.is_some()
                }
            })
            .collect();
        tunnel::choose(&self.encap_priority, &usable).map(|e| (e, vni))
    }

    fn send_tunnel(
        &mut self,
        nh: &NextHopKind,
        vrf: VrfId,
        key: &FlowKey,
        packet: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), DropReason> {
        let NextHopKind::Tunnel {
            dst, label, mac, ..
        } = nh
        else {
            return Err(DropReason::InvalidNextHop);
        };
        let (encap, vni) = self
            .tunnel_encap(nh, self.vrfs.get(&vrf).and_then(|t| t.vni))
            .ok_or(DropReason::InvalidNextHop)?;
        let src_port = entropy_port(key.hash());
        let ttl = parse_ip(packet).map(|(info, _)| info.ttl).unwrap_or(64);
        let (kind, payload) = match (encap, label, vni) {
            (Encapsulation::MplsOverUdp, Some(label), _) => (
                UnderlayKind::MplsOverUdp { src_port },
                tunnel::mpls_over_udp(*label, ttl, packet)?,
            ),
            (Encapsulation::MplsOverGre, Some(label), _) => (
                UnderlayKind::MplsOverGre,
                tunnel::mpls_over_gre(*label, ttl, packet)?,
            ),
            (Encapsulation::Vxlan, _, Some(vni)) => {
                let vrouter = self.config.vrouter_mac;
                let inner_dst = mac.unwrap_or(vrouter);
                let frame = ethernet_frame(vrouter, inner_dst, ethertype_of(packet), packet)?;
                (
                    UnderlayKind::Vxlan { src_port },
                    tunnel::vxlan(vni, &frame)?,
                )
            }
            _ => return Err(DropReason::InvalidNextHop),
        };
        out.push(Output::ToUnderlay {
            dst: *dst,
            kind,
            payload,
        });
        Ok(())
    }
}
