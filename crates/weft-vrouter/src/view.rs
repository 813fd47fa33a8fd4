//! Read-only views of the engine's tables, shaped like TF's `vif`, `rt`,
//! `nh`, `flow` and `dropstats` (TF notes §4.2). Data only: the CLI formats.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};
use weft_types::{MacAddr, MplsLabel, Prefix, Vni};

use crate::engine::Engine;
use crate::error::VrouterError;
use crate::fib::Route;
use crate::flow::{FlowAction, FlowEntry};
use crate::ids::{NhId, SgId, VifId, VrfId};
use crate::nexthop::{Encapsulation, NextHopKind};
use crate::stats::{Counters, DropStats};
use crate::vif::{Vif, VifKind};

/// `vif --list` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VifFlags {
    /// P: policy (port security, flows).
    pub policy: bool,
    /// L3: routed.
    pub l3: bool,
    /// L2: bridged (not supported yet: always false).
    pub l2: bool,
    /// D: DHCP served.
    pub dhcp: bool,
}

/// One row of `vif --list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VifView {
    pub index: VifId,
    pub os_name: String,
    pub kind: VifKind,
    pub mac: MacAddr,
    pub addrs: Vec<IpAddr>,
    pub vrf: VrfId,
    pub label: Option<MplsLabel>,
    pub sgs: Vec<SgId>,
    pub flags: VifFlags,
    pub rx: Counters,
    pub tx: Counters,
    pub drops: u64,
    pub drop_stats: DropStats,
    pub acl_rules: usize,
    /// Whether replies of admitted connections pass without a rule.
    pub stateful: bool,
}

/// `rt` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteFlags {
    /// L: the label is valid.
    pub label_valid: bool,
    /// P: the vRouter answers ARP for the prefix.
    pub proxy_arp: bool,
}

/// One row of `rt --dump <vrf>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteView {
    pub prefix: Prefix,
    pub label: Option<MplsLabel>,
    pub nh: NhId,
    pub flags: RouteFlags,
    pub sgs: Vec<SgId>,
}

/// `nh` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NhType {
    Encap,
    Tunnel,
    Receive,
    Discard,
}

/// `nh` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NhFlag {
    Valid,
    Policy,
    MplsOverUdp,
    MplsOverGre,
    Vxlan,
}

/// One row of `nh --list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextHopView {
    pub id: NhId,
    pub kind: NhType,
    pub flags: Vec<NhFlag>,
    /// The outgoing vif of an Encap next hop.
    pub oif: Option<VifId>,
    /// Tunnel source (this node's underlay address) and destination.
    pub sip: Option<Ipv4Addr>,
    pub dip: Option<Ipv4Addr>,
    pub label: Option<MplsLabel>,
    pub vni: Option<Vni>,
    /// What the remote supports.
    pub encaps: Vec<Encapsulation>,
}

/// One entry of `flow -l`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowView {
    pub index: u32,
    pub reverse: u32,
    pub vrf: VrfId,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub action: FlowAction,
    pub packets: u64,
    pub bytes: u64,
    /// Whether this is the initiator's direction.
    pub initiator: bool,
}

fn vif_view(vif: &Vif) -> VifView {
    let c = &vif.config;
    VifView {
        index: c.id,
        os_name: c.name.clone(),
        kind: c.kind,
        mac: c.mac,
        addrs: c.addrs.clone(),
        vrf: c.vrf,
        label: c.label,
        sgs: c.sgs.clone(),
        flags: VifFlags {
            policy: c.policy,
            l3: true,
            l2: false,
            dhcp: c.dhcp.is_some(),
        },
        rx: vif.rx,
        tx: vif.tx,
        drops: vif.drops.total(),
        drop_stats: vif.drops.clone(),
        acl_rules: vif.acl.len(),
        stateful: vif.stateful,
    }
}

fn flow_view(index: u32, e: &FlowEntry) -> FlowView {
    FlowView {
        index,
        reverse: e.reverse,
        vrf: e.key.vrf,
        src: e.key.src,
        dst: e.key.dst,
        protocol: e.key.protocol,
        src_port: e.key.src_port,
        dst_port: e.key.dst_port,
        action: e.action,
        packets: e.stats.packets,
        bytes: e.stats.bytes,
        initiator: e.initiator,
    }
}

impl Engine {
    /// `vif --list`.
    pub fn vifs(&self) -> Vec<VifView> {
        self.vifs.values().map(vif_view).collect()
    }

    /// `vif --get <id>`.
    pub fn vif(&self, id: VifId) -> Option<VifView> {
        self.vifs.get(&id).map(vif_view)
    }

    fn route_view(&self, vrf: VrfId, route: &Route) -> RouteView {
        let kind = self.nexthops.get(&route.nh).map(|nh| &nh.kind);
        let label = match kind {
            Some(NextHopKind::Tunnel { label, .. }) => *label,
            Some(NextHopKind::Encap { vif }) => self.vifs.get(vif).and_then(|v| v.config.label),
            _ => None,
        };
        let _ = vrf;
        RouteView {
            prefix: route.prefix,
            label,
            nh: route.nh,
            flags: RouteFlags {
                label_valid: label.is_some(),
                proxy_arp: !matches!(kind, Some(NextHopKind::Discard) | None),
            },
            sgs: route.sgs.clone(),
        }
    }

    /// `rt --dump <vrf>`: IPv4 then IPv6, by prefix.
    pub fn routes(&self, vrf: VrfId) -> Result<Vec<RouteView>, VrouterError> {
        let table = self.vrfs.get(&vrf).ok_or(VrouterError::UnknownVrf(vrf))?;
        Ok(table
            .routes()
            .into_iter()
            .map(|r| self.route_view(vrf, r))
            .collect())
    }

    /// `rt --get <prefix> --vrf <vrf>`: the route for exactly `prefix`, or
    /// else the longest one covering its address.
    pub fn route_get(&self, vrf: VrfId, prefix: Prefix) -> Result<Option<RouteView>, VrouterError> {
        let table = self.vrfs.get(&vrf).ok_or(VrouterError::UnknownVrf(vrf))?;
        let route = table
            .exact(prefix)
            .or_else(|| table.lookup(prefix.network()));
        Ok(route.map(|r| self.route_view(vrf, r)))
    }

    /// `nh --list`.
    pub fn nexthops(&self) -> Vec<NextHopView> {
        self.nexthops
            .keys()
            .filter_map(|id| self.nexthop(*id))
            .collect()
    }

    /// `nh --get <id>`. Tunnel flags name the encapsulation routed traffic
    /// takes under the current priority list.
    pub fn nexthop(&self, id: NhId) -> Option<NextHopView> {
        let nh = self.nexthops.get(&id)?;
        let mut flags = vec![NhFlag::Valid];
        let mut view = NextHopView {
            id,
            kind: NhType::Discard,
            flags: Vec::new(),
            oif: None,
            sip: None,
            dip: None,
            label: None,
            vni: None,
            encaps: Vec::new(),
        };
        match &nh.kind {
            NextHopKind::Receive => view.kind = NhType::Receive,
            NextHopKind::Discard => {}
            NextHopKind::Encap { vif } => {
                view.kind = NhType::Encap;
                view.oif = Some(*vif);
                let target = self.vifs.get(vif);
                if target.is_some_and(|v| v.config.policy) {
                    flags.push(NhFlag::Policy);
                }
                if target.is_none() {
                    flags.clear();
                }
            }
            NextHopKind::Tunnel {
                dst,
                label,
                vni,
                encaps,
                ..
            } => {
                view.kind = NhType::Tunnel;
                view.sip = self.underlay;
                view.dip = Some(*dst);
                view.label = *label;
                view.vni = *vni;
                view.encaps = encaps.clone();
                // Next hops are shared by VRFs: a VXLAN-only tunnel counts
                // as usable if some VRF has a VNI.
                let any_vni = self.vrfs.values().find_map(|v| v.vni);
                let chosen = self.tunnel_encap(&nh.kind, any_vni).map(|(e, _)| e);
                match chosen {
                    Some(Encapsulation::MplsOverUdp) => flags.push(NhFlag::MplsOverUdp),
                    Some(Encapsulation::MplsOverGre) => flags.push(NhFlag::MplsOverGre),
                    Some(Encapsulation::Vxlan) => flags.push(NhFlag::Vxlan),
                    None => flags.clear(),
                }
            }
        }
        view.flags = flags;
        Some(view)
    }

    /// `mpls --dump`: label → vif.
    pub fn labels(&self) -> Vec<(MplsLabel, VifId)> {
        let mut labels: Vec<_> = self.labels.iter().map(|(l, v)| (*l, *v)).collect();
        labels.sort();
        labels
    }

    /// `vxlan --dump`: VNI → VRF.
    pub fn vnis(&self) -> Vec<(Vni, VrfId)> {
        let mut vnis: Vec<_> = self.vnis.iter().map(|(n, v)| (*n, *v)).collect();
        vnis.sort();
        vnis
    }

    /// `flow -l`.
    pub fn flows(&self) -> Vec<FlowView> {
        self.flows.iter().map(|(i, e)| flow_view(i, e)).collect()
    }

    /// `flow --get <index>`.
    pub fn flow(&self, index: u32) -> Option<FlowView> {
        self.flows.get(index).map(|e| flow_view(index, e))
    }

    /// `dropstats`: every drop of the engine, by reason.
    pub fn drop_stats(&self) -> &DropStats {
        &self.drops
    }
}
