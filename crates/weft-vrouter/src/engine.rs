//! The engine: its tables, the command interpreter, flow evaluation and
//! ageing. The per-packet path is in `datapath`, the read-only views in
//! `view`.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use weft_types::{MacAddr, MplsLabel, Vni};

use crate::acl::{AclQuery, Direction, permits};
use crate::command::{Command, RouteConfig, VrfConfig};
use crate::error::VrouterError;
use crate::fib::{Route, Vrf};
use crate::flow::{FlowAction, FlowEnds, FlowKey, FlowTable, FlowTimeouts, Verdict};
use crate::ids::{Millis, NhId, SgId, VifId, VrfId};
use crate::nexthop::{Encapsulation, NextHop, NextHopKind};
use crate::service::{Backend, ServiceKey, Services};
use crate::stats::{DropReason, DropStats};
use crate::vif::{Vif, VifConfig, VifKind};

/// The MAC the vRouter answers ARP with and sends from (TF's
/// `00:00:5e:00:01:00`, the same on every node).
pub const VROUTER_MAC: MacAddr = MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, 0x00]);

/// Fixed parameters of an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    pub vrouter_mac: MacAddr,
    /// Flow entries (each connection takes two).
    pub flow_capacity: usize,
    pub flow_timeouts: FlowTimeouts,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            vrouter_mac: VROUTER_MAC,
            flow_capacity: 512 * 1024,
            flow_timeouts: FlowTimeouts::default(),
        }
    }
}

/// The forwarding engine of one node. See the crate docs for the packet
/// path.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) underlay: Option<Ipv4Addr>,
    pub(crate) vifs: BTreeMap<VifId, Vif>,
    pub(crate) labels: HashMap<MplsLabel, VifId>,
    pub(crate) vrfs: BTreeMap<VrfId, Vrf>,
    pub(crate) vnis: HashMap<Vni, VrfId>,
    pub(crate) nexthops: BTreeMap<NhId, NextHop>,
    pub(crate) encap_priority: Vec<Encapsulation>,
    pub(crate) flows: FlowTable,
    pub(crate) drops: DropStats,
    /// Cuts offloaded super-frames (see [`Engine::receive_vif_offloaded`]).
    pub(crate) segmenter: weft_wire::Segmenter,
    /// Load-balanced services and their translated connections.
    pub(crate) services: Services,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(EngineConfig::default())
    }
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            config,
            underlay: None,
            vifs: BTreeMap::new(),
            labels: HashMap::new(),
            vrfs: BTreeMap::new(),
            vnis: HashMap::new(),
            nexthops: BTreeMap::new(),
            encap_priority: vec![
                Encapsulation::MplsOverUdp,
                Encapsulation::MplsOverGre,
                Encapsulation::Vxlan,
            ],
            flows: FlowTable::new(config.flow_capacity, config.flow_timeouts),
            drops: DropStats::default(),
            segmenter: weft_wire::Segmenter::default(),
            services: Services::default(),
        }
    }

    /// Applies one command; on error nothing changed.
    pub fn apply(&mut self, command: Command) -> Result<(), VrouterError> {
        match command {
            Command::SetUnderlayAddr(addr) => {
                self.underlay = Some(addr);
                Ok(())
            }
            Command::AddVif(config) => self.add_vif(config),
            Command::DeleteVif(id) => self.delete_vif(id),
            Command::AddVrf(config) => self.add_vrf(config),
            Command::DeleteVrf(id) => self.delete_vrf(id),
            Command::AddNextHop(nh) => self.add_nexthop(nh),
            Command::DeleteNextHop(id) => self.delete_nexthop(id),
            Command::AddRoute(route) => self.add_route(route),
            Command::DeleteRoute { vrf, prefix } => {
                let table = self
                    .vrfs
                    .get_mut(&vrf)
                    .ok_or(VrouterError::UnknownVrf(vrf))?;
                table
                    .remove(prefix)
                    .map(|_| ())
                    .ok_or(VrouterError::UnknownRoute { vrf, prefix })
            }
            Command::SetEncapPriority(list) => {
                let mut seen = list.clone();
                seen.sort();
                seen.dedup();
                if list.is_empty() || seen.len() != list.len() {
                    return Err(VrouterError::BadEncapPriority);
                }
                self.encap_priority = list;
                Ok(())
            }
            Command::SetAcl {
                vif,
                rules,
                stateful,
            } => {
                for (index, rule) in rules.iter().enumerate() {
                    if let Some((first, last)) = rule.ports
                        && first > last
                    {
                        return Err(VrouterError::BadPortRange {
                            vif,
                            index,
                            first,
                            last,
                        });
                    }
                }
                let entry = self
                    .vifs
                    .get_mut(&vif)
                    .ok_or(VrouterError::UnknownVif(vif))?;
                entry.acl = rules;
                entry.stateful = stateful;
                self.reevaluate_flows();
                Ok(())
            }
            Command::FlushFlows => {
                self.flows.clear();
                Ok(())
            }
            Command::ReevaluateFlows => {
                self.reevaluate_flows();
                Ok(())
            }
            Command::SetService(config) => {
                if !self.vrfs.contains_key(&config.key.vrf) {
                    return Err(VrouterError::UnknownVrf(config.key.vrf));
                }
                config.validate().map_err(|why| VrouterError::BadService {
                    vip: config.key.vip,
                    port: config.key.port,
                    why,
                })?;
                self.services.set(config);
                Ok(())
            }
            Command::DeleteService(key) => {
                if self.services.delete(&key) {
                    Ok(())
                } else {
                    Err(VrouterError::UnknownService {
                        vrf: key.vrf,
                        vip: key.vip,
                        port: key.port,
                    })
                }
            }
        }
    }

    fn add_vif(&mut self, config: VifConfig) -> Result<(), VrouterError> {
        let id = config.id;
        if !self.vrfs.contains_key(&config.vrf) {
            return Err(VrouterError::VifVrfMissing {
                vif: id,
                vrf: config.vrf,
            });
        }
        if let Some(label) = config.label
            && let Some(owner) = self.labels.get(&label)
            && *owner != id
        {
            return Err(VrouterError::LabelInUse {
                label,
                owner: *owner,
            });
        }
        if let Some(dhcp) = &config.dhcp {
            if config.kind == VifKind::Host {
                return Err(VrouterError::HostVifDhcp { vif: id });
            }
            if dhcp.prefix_len > 32 {
                return Err(VrouterError::DhcpPrefixLen {
                    vif: id,
                    len: dhcp.prefix_len,
                });
            }
            if !config.addrs.contains(&IpAddr::V4(dhcp.addr)) {
                return Err(VrouterError::DhcpAddressNotOnVif {
                    vif: id,
                    addr: dhcp.addr,
                });
            }
        }
        let sgs_changed;
        match self.vifs.get_mut(&id) {
            Some(existing) => {
                if let Some(old) = existing.config.label {
                    self.labels.remove(&old);
                }
                sgs_changed = existing.config.sgs != config.sgs
                    || existing.config.policy != config.policy
                    || existing.config.vrf != config.vrf;
                existing.config = config.clone();
            }
            None => {
                sgs_changed = false;
                self.vifs.insert(id, Vif::new(config.clone()));
            }
        }
        if let Some(label) = config.label {
            self.labels.insert(label, id);
        }
        if sgs_changed {
            self.reevaluate_flows();
        }
        Ok(())
    }

    fn delete_vif(&mut self, id: VifId) -> Result<(), VrouterError> {
        let vif = self.vifs.remove(&id).ok_or(VrouterError::UnknownVif(id))?;
        if let Some(label) = vif.config.label {
            self.labels.remove(&label);
        }
        self.flows
            .remove_where(|e| e.src_vif == Some(id) || e.dst_vif == Some(id));
        Ok(())
    }

    fn add_vrf(&mut self, config: VrfConfig) -> Result<(), VrouterError> {
        if let Some(vni) = config.vni
            && let Some(owner) = self.vnis.get(&vni)
            && *owner != config.id
        {
            return Err(VrouterError::VniInUse { vni, owner: *owner });
        }
        match self.vrfs.get_mut(&config.id) {
            Some(existing) => {
                if let Some(old) = existing.vni {
                    self.vnis.remove(&old);
                }
                existing.vni = config.vni;
                existing.name = config.name;
            }
            None => {
                self.vrfs
                    .insert(config.id, Vrf::new(config.name, config.vni));
            }
        }
        if let Some(vni) = config.vni {
            self.vnis.insert(vni, config.id);
        }
        Ok(())
    }

    fn delete_vrf(&mut self, id: VrfId) -> Result<(), VrouterError> {
        if !self.vrfs.contains_key(&id) {
            return Err(VrouterError::UnknownVrf(id));
        }
        if let Some(vif) = self.vifs.values().find(|v| v.config.vrf == id) {
            return Err(VrouterError::VrfInUse {
                vrf: id,
                vif: vif.config.id,
            });
        }
        if let Some(vrf) = self.vrfs.remove(&id)
            && let Some(vni) = vrf.vni
        {
            self.vnis.remove(&vni);
        }
        self.flows.remove_where(|e| e.key.vrf == id);
        self.services.delete_vrf(id);
        Ok(())
    }

    fn add_nexthop(&mut self, nh: NextHop) -> Result<(), VrouterError> {
        match &nh.kind {
            NextHopKind::Encap { vif } if !self.vifs.contains_key(vif) => {
                return Err(VrouterError::NextHopVifMissing {
                    nh: nh.id,
                    vif: *vif,
                });
            }
            NextHopKind::Tunnel { encaps, .. } if encaps.is_empty() => {
                return Err(VrouterError::TunnelWithoutEncap(nh.id));
            }
            _ => {}
        }
        self.nexthops.insert(nh.id, nh);
        Ok(())
    }

    fn delete_nexthop(&mut self, id: NhId) -> Result<(), VrouterError> {
        if !self.nexthops.contains_key(&id) {
            return Err(VrouterError::UnknownNextHop(id));
        }
        for (vrf_id, vrf) in &self.vrfs {
            if let Some(route) = vrf.routes().into_iter().find(|r| r.nh == id) {
                return Err(VrouterError::NextHopInUse {
                    nh: id,
                    vrf: *vrf_id,
                    prefix: route.prefix,
                });
            }
        }
        self.nexthops.remove(&id);
        Ok(())
    }

    fn add_route(&mut self, route: RouteConfig) -> Result<(), VrouterError> {
        if !self.nexthops.contains_key(&route.nh) {
            return Err(VrouterError::UnknownNextHop(route.nh));
        }
        let vrf = self
            .vrfs
            .get_mut(&route.vrf)
            .ok_or(VrouterError::UnknownVrf(route.vrf))?;
        // Remote-group rules read the SG ids routes carry: a change
        // re-evaluates the flows.
        let sgs_changed = vrf
            .exact(route.prefix)
            .is_some_and(|old| old.sgs != route.sgs || old.nh != route.nh);
        vrf.insert(Route {
            prefix: route.prefix,
            nh: route.nh,
            sgs: route.sgs,
        });
        if sgs_changed {
            self.reevaluate_flows();
        }
        Ok(())
    }

    /// Removes idle flows. Call at least at [`Engine::poll_at`].
    pub fn poll(&mut self, now: Millis) -> usize {
        self.services.expire(now, &self.config.flow_timeouts);
        self.flows.expire(now)
    }

    /// The services programmed, with their backends (sorted).
    pub fn services(&self) -> impl Iterator<Item = (&ServiceKey, &[Backend])> {
        self.services.iter()
    }

    /// Connections currently translated to a service's backend.
    pub fn service_connections(&self) -> usize {
        self.services.connections()
    }

    /// When the next flow may age out.
    pub fn poll_at(&self) -> Option<Millis> {
        self.flows.poll_at()
    }

    /// Counts `n` packets dropped outside the engine (by whoever feeds it)
    /// for `reason`, so `dropstats` shows every loss in one place.
    pub fn count_external_drops(&mut self, reason: DropReason, n: u64) {
        self.drops.add(reason, n);
    }

    pub(crate) fn drop(&mut self, vif: Option<VifId>, reason: DropReason) {
        self.drops.count(reason);
        if let Some(v) = vif.and_then(|id| self.vifs.get_mut(&id)) {
            v.drop(reason);
        }
    }

    /// The local vif a route's next hop delivers to, if any.
    pub(crate) fn local_vif_of(&self, route: &Route) -> Option<VifId> {
        match self.nexthops.get(&route.nh).map(|nh| &nh.kind) {
            Some(NextHopKind::Encap { vif }) => Some(*vif),
            _ => None,
        }
    }

    /// The SG ids of an endpoint: the local vif's, else the route's.
    fn endpoint_sgs(&self, vrf: VrfId, addr: IpAddr, local: Option<VifId>) -> Vec<SgId> {
        if let Some(vif) = local.and_then(|id| self.vifs.get(&id)) {
            return vif.config.sgs.clone();
        }
        let Some(route) = self.vrfs.get(&vrf).and_then(|t| t.lookup(addr)) else {
            return Vec::new();
        };
        match self.local_vif_of(route).and_then(|id| self.vifs.get(&id)) {
            Some(vif) => vif.config.sgs.clone(),
            None => route.sgs.clone(),
        }
    }

    fn policy_vif(&self, id: Option<VifId>) -> Option<&Vif> {
        id.and_then(|id| self.vifs.get(&id))
            .filter(|v| v.enforces_policy())
    }

    /// Whether a flow is between the node itself and a local workload:
    /// one end is the host vif and that end's address is the node's own.
    /// Such flows are always forwarded (Kubernetes: a node always reaches
    /// its pods). Traffic the node only forwards (fabric SNAT) is not: the
    /// workload's rules still apply to it.
    fn node_to_workload(&self, key: &FlowKey, ends: FlowEnds) -> bool {
        let host_end = |id: Option<VifId>, addr| {
            id.and_then(|id| self.vifs.get(&id))
                .is_some_and(|v| v.is_host_addr(addr))
        };
        host_end(ends.src_vif, key.src) || host_end(ends.dst_vif, key.dst)
    }

    /// Whether a packet between these ends is subject to flows at all:
    /// only when a local end has port security on.
    pub(crate) fn needs_flow(&self, ends: FlowEnds) -> bool {
        self.policy_vif(ends.src_vif).is_some() || self.policy_vif(ends.dst_vif).is_some()
    }

    /// Whether a policy vif's rules admit a packet in `direction` to or
    /// from `remote` (with its SG ids) on `dst_port`.
    fn admits(
        vif: &Vif,
        direction: Direction,
        key: &FlowKey,
        dst_port: u16,
        remote: IpAddr,
        remote_sgs: &[SgId],
    ) -> bool {
        let query = AclQuery {
            direction,
            protocol: key.protocol,
            dst_port,
            remote_addr: remote,
            remote_sgs,
        };
        permits(&vif.acl, &query)
    }

    /// The actions for a new flow. The initiator passes when the egress ACL
    /// of a local source and the ingress ACL of a local destination both
    /// admit it. Its replies pass each end as follows: a stateful vif lets
    /// them through exactly when it let the initiator through; a stateless
    /// one judges them as packets of their own, by its rules for their
    /// direction (egress at the replying destination, ingress at the
    /// source), as Neutron's stateless groups do.
    pub(crate) fn evaluate(&self, key: &FlowKey, ends: FlowEnds) -> Verdict {
        if self.node_to_workload(key, ends) {
            return Verdict::both(FlowAction::Forward);
        }
        let src = self.policy_vif(ends.src_vif);
        let dst = self.policy_vif(ends.dst_vif);
        let dst_sgs = match src {
            Some(_) => self.endpoint_sgs(key.vrf, key.dst, ends.dst_vif),
            None => Vec::new(),
        };
        let src_sgs = match dst {
            Some(_) => self.endpoint_sgs(key.vrf, key.src, ends.src_vif),
            None => Vec::new(),
        };
        let src_out = src.is_none_or(|v| {
            Self::admits(v, Direction::Egress, key, key.dst_port, key.dst, &dst_sgs)
        });
        let dst_in = dst.is_none_or(|v| {
            Self::admits(v, Direction::Ingress, key, key.dst_port, key.src, &src_sgs)
        });
        let reply_out = match dst {
            None => true,
            Some(v) if v.stateful => dst_in,
            Some(v) => Self::admits(v, Direction::Egress, key, key.src_port, key.src, &src_sgs),
        };
        let reply_in = match src {
            None => true,
            Some(v) if v.stateful => src_out,
            Some(v) => Self::admits(v, Direction::Ingress, key, key.src_port, key.dst, &dst_sgs),
        };
        let action = |pass: bool| {
            if pass {
                FlowAction::Forward
            } else {
                FlowAction::Drop
            }
        };
        Verdict {
            forward: action(src_out && dst_in),
            reverse: action(reply_out && reply_in),
        }
    }

    /// Re-runs flow setup policy for every flow, in place.
    pub(crate) fn reevaluate_flows(&mut self) {
        for (index, key, ends) in self.flows.initiators() {
            let verdict = self.evaluate(&key, ends);
            self.flows.set_actions(index, verdict);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::vif::VifKind;

    fn vrf(id: u32, vni: Option<u32>) -> Command {
        Command::AddVrf(VrfConfig {
            id: VrfId(id),
            vni: vni.map(|n| Vni::new(n).unwrap()),
            name: format!("vn{id}"),
        })
    }

    fn vif(id: u32, vrf: u32, label: u32) -> Command {
        Command::AddVif(VifConfig {
            id: VifId(id),
            name: format!("tap{id}"),
            kind: VifKind::Tap,
            mac: MacAddr([2, 0, 0, 0, 0, 1]),
            addrs: vec![],
            vrf: VrfId(vrf),
            policy: true,
            allowed_address_pairs: vec![],
            sgs: vec![],
            label: Some(MplsLabel::new(label).unwrap()),
            dhcp: None,
        })
    }

    #[test]
    fn commands_check_references_and_refusals_change_nothing() {
        let mut e = Engine::default();
        assert_eq!(
            e.apply(vif(1, 1, 20)),
            Err(VrouterError::VifVrfMissing {
                vif: VifId(1),
                vrf: VrfId(1)
            })
        );
        e.apply(vrf(1, Some(5))).unwrap();
        assert!(matches!(
            e.apply(vrf(2, Some(5))),
            Err(VrouterError::VniInUse { .. })
        ));
        assert!(!e.vrfs.contains_key(&VrfId(2)));
        e.apply(vif(1, 1, 20)).unwrap();
        assert!(matches!(
            e.apply(vif(2, 1, 20)),
            Err(VrouterError::LabelInUse { .. })
        ));
        // Re-adding a vif is an update: its label may move.
        e.apply(vif(1, 1, 21)).unwrap();
        e.apply(vif(2, 1, 20)).unwrap();
        assert_eq!(e.labels.len(), 2);

        let encap = NextHop {
            id: NhId(7),
            kind: NextHopKind::Encap { vif: VifId(1) },
        };
        e.apply(Command::AddNextHop(encap)).unwrap();
        let tunnel = NextHop {
            id: NhId(8),
            kind: NextHopKind::Tunnel {
                dst: Ipv4Addr::new(192, 168, 200, 14),
                label: None,
                vni: None,
                encaps: vec![],
                mac: None,
            },
        };
        assert_eq!(
            e.apply(Command::AddNextHop(tunnel)),
            Err(VrouterError::TunnelWithoutEncap(NhId(8)))
        );
        let prefix = "10.0.0.1/32".parse().unwrap();
        let route = RouteConfig {
            vrf: VrfId(1),
            prefix,
            nh: NhId(7),
            sgs: vec![],
        };
        e.apply(Command::AddRoute(route)).unwrap();
        assert!(matches!(
            e.apply(Command::DeleteNextHop(NhId(7))),
            Err(VrouterError::NextHopInUse { .. })
        ));
        assert!(matches!(
            e.apply(Command::DeleteVrf(VrfId(1))),
            Err(VrouterError::VrfInUse { .. })
        ));
        e.apply(Command::DeleteRoute {
            vrf: VrfId(1),
            prefix,
        })
        .unwrap();
        assert_eq!(
            e.apply(Command::DeleteRoute {
                vrf: VrfId(1),
                prefix
            }),
            Err(VrouterError::UnknownRoute {
                vrf: VrfId(1),
                prefix
            })
        );
        e.apply(Command::DeleteNextHop(NhId(7))).unwrap();
        e.apply(Command::DeleteVif(VifId(1))).unwrap();
        e.apply(Command::DeleteVif(VifId(2))).unwrap();
        assert!(e.labels.is_empty());
        e.apply(Command::DeleteVrf(VrfId(1))).unwrap();
        assert!(e.vnis.is_empty());

        assert_eq!(
            e.apply(Command::SetEncapPriority(vec![])),
            Err(VrouterError::BadEncapPriority)
        );
        assert_eq!(
            e.apply(Command::SetEncapPriority(vec![
                Encapsulation::Vxlan,
                Encapsulation::Vxlan
            ])),
            Err(VrouterError::BadEncapPriority)
        );
        assert_eq!(e.default_mtu(), 1450);
        e.apply(Command::SetEncapPriority(vec![Encapsulation::MplsOverGre]))
            .unwrap();
        assert_eq!(e.default_mtu(), 1472);
    }

    #[test]
    fn acl_port_ranges_are_checked() {
        let mut e = Engine::default();
        e.apply(vrf(1, None)).unwrap();
        e.apply(vif(1, 1, 20)).unwrap();
        let rule = crate::acl::AclRule {
            ports: Some((80, 22)),
            ..crate::acl::AclRule::allow_all(Direction::Ingress, crate::acl::Ethertype::IPv4)
        };
        assert!(matches!(
            e.apply(Command::SetAcl {
                vif: VifId(1),
                rules: vec![rule],
                stateful: true,
            }),
            Err(VrouterError::BadPortRange { index: 0, .. })
        ));
        assert!(e.vifs.get(&VifId(1)).unwrap().acl.is_empty());
    }

    /// Two local vifs in VRF 1: 10.0.0.1 (vif 1) and 10.0.0.2 (vif 2).
    fn two_local() -> Engine {
        let mut e = Engine::default();
        e.apply(vrf(1, None)).unwrap();
        for (id, label) in [(1, 20), (2, 21)] {
            let Command::AddVif(mut config) = vif(id, 1, label) else {
                unreachable!()
            };
            config.addrs = vec![IpAddr::from([10, 0, 0, u8::try_from(id).unwrap()])];
            e.apply(Command::AddVif(config)).unwrap();
        }
        e
    }

    fn acl(e: &mut Engine, vif: u32, rules: &[(Direction, Option<u16>)], stateful: bool) {
        use crate::acl::{AclRule, Ethertype};
        let rules = rules
            .iter()
            .map(|(direction, port)| AclRule {
                protocol: Some(6),
                ports: port.map(|p| (p, p)),
                ..AclRule::allow_all(*direction, Ethertype::IPv4)
            })
            .collect();
        e.apply(Command::SetAcl {
            vif: VifId(vif),
            rules,
            stateful,
        })
        .unwrap();
    }

    #[test]
    fn stateless_ends_judge_replies_by_their_rules() {
        use FlowAction::{Drop, Forward};
        let mut e = two_local();
        // 10.0.0.1:40000 -> 10.0.0.2:80 over TCP.
        let key = FlowKey {
            vrf: VrfId(1),
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            protocol: 6,
            src_port: 40000,
            dst_port: 80,
        };
        let ends = FlowEnds {
            src_vif: Some(VifId(1)),
            dst_vif: Some(VifId(2)),
        };
        let verdict = |e: &Engine| {
            let v = e.evaluate(&key, ends);
            (v.forward, v.reverse)
        };
        let out_any = (Direction::Egress, None);
        let in_any = (Direction::Ingress, None);
        // The client sends anything; the server takes port 80.
        acl(&mut e, 1, &[out_any], true);
        acl(&mut e, 2, &[(Direction::Ingress, Some(80))], true);
        assert_eq!(
            verdict(&e),
            (Forward, Forward),
            "stateful: replies ride along"
        );

        // A stateless server needs an egress rule for its answers (to the
        // client's port 40000), a stateless client an ingress rule for them.
        acl(&mut e, 2, &[(Direction::Ingress, Some(80))], false);
        assert_eq!(verdict(&e), (Forward, Drop));
        acl(
            &mut e,
            2,
            &[
                (Direction::Ingress, Some(80)),
                (Direction::Egress, Some(443)),
            ],
            false,
        );
        assert_eq!(verdict(&e), (Forward, Drop), "egress to the wrong port");
        acl(
            &mut e,
            2,
            &[
                (Direction::Ingress, Some(80)),
                (Direction::Egress, Some(40000)),
            ],
            false,
        );
        assert_eq!(verdict(&e), (Forward, Forward));
        acl(&mut e, 1, &[out_any], false);
        assert_eq!(verdict(&e), (Forward, Drop));
        acl(&mut e, 1, &[out_any, in_any], false);
        assert_eq!(verdict(&e), (Forward, Forward));

        // Stateless both ways: a reply is judged even when the initiator
        // was refused (no egress at the client), as packets are not
        // tracked.
        acl(&mut e, 1, &[in_any], false);
        assert_eq!(verdict(&e), (Drop, Forward));
        // A stateful client refusing the initiator refuses its replies.
        acl(&mut e, 1, &[in_any], true);
        assert_eq!(verdict(&e), (Drop, Drop));

        // Without port security on a vif, its end imposes nothing.
        let Command::AddVif(mut open) = vif(1, 1, 20) else {
            unreachable!()
        };
        open.policy = false;
        open.addrs = vec![key.src];
        e.apply(Command::AddVif(open)).unwrap();
        assert_eq!(verdict(&e), (Forward, Forward));
    }
}
