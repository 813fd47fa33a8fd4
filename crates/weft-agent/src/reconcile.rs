//! The reconciler: desired state (the control node's [`NodeConfig`]
//! snapshots and the remote routes it reflects) in, engine [`Command`]s and
//! control-protocol actions out. Pure: no I/O, no clock, no runtime.
//!
//! Every snapshot is diffed against what the reconciler last programmed,
//! table by table, and the commands come out in an order the engine
//! accepts: removals first (routes, then next hops and vifs, then VRFs),
//! then additions (VRFs, vifs, next hops, ACLs, routes). Remote paths are
//! installed only in known VRFs and never over a local port's address; when
//! several nodes advertise one prefix, the lowest next hop wins.
//!
//! On `Disconnected` nothing is called: the engine keeps everything
//! (headless, DESIGN.md §3.4).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use weft_control::agent::{LocalRoute, RemoteRoute};
use weft_control::proto::{self, NodeConfig};
use weft_control::rib::RouteAttrs;
use weft_types::{Prefix, Vni};
use weft_vrouter::{
    AclRule, Backend, Command, Encapsulation, NextHop, NextHopKind, NhId, RouteConfig,
    ServiceConfig, ServiceKey, VifConfig, VifId, VifKind, VrfConfig, VrfId,
};

use crate::convert;
use crate::host::{HOST_VIF, KernelChanges, host_commands};
use crate::labels::Labels;

/// A port whose interface the data plane must open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    pub port_id: String,
    pub vif: VifId,
    pub kind: VifKind,
    /// The tap name, or the host-side veth name.
    pub interface: String,
}

/// What one input asks of the agent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Engine commands, in order.
    pub commands: Vec<Command>,
    /// Local routes to publish (new or changed).
    pub publish: Vec<LocalRoute>,
    /// Local routes to withdraw: (VRF name, prefix).
    pub withdraw: Vec<(String, Prefix)>,
    pub subscribe: Vec<String>,
    pub unsubscribe: Vec<String>,
    /// Interfaces to open (new ports, or ports whose interface changed).
    pub attach: Vec<Attach>,
    /// Interfaces to close.
    pub detach: Vec<VifId>,
    /// Items skipped because a field was unusable, for the log.
    pub problems: Vec<String>,
    /// What the node's kernel must change (with a host interface only).
    pub kernel: KernelChanges,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        *self == Plan::default()
    }
}

/// Who a next-hop id belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum NhOwner {
    Receive,
    Host,
    Port(String),
    Remote(String, Prefix),
}

/// A local port as programmed.
#[derive(Debug, Clone, PartialEq)]
struct PortState {
    vrf_name: String,
    vif: VifConfig,
    acl: Vec<AclRule>,
    /// Replies tracked (any group stateful) or judged by the rules (all
    /// of the port's groups stateless).
    stateful: bool,
    interface: String,
}

/// A remote path as installed.
#[derive(Debug, Clone, PartialEq)]
struct Installed {
    vrf: VrfId,
    next_hop: Ipv4Addr,
    attrs: RouteAttrs,
}

/// The agent's desired-state-to-engine reconciler for one node.
#[derive(Debug)]
pub struct Reconciler {
    underlay: Ipv4Addr,
    /// What this node accepts, advertised with its routes.
    local_encaps: Vec<proto::Encapsulation>,
    started: bool,
    encap_priority: Vec<Encapsulation>,
    vrfs: BTreeMap<String, VrfConfig>,
    ports: BTreeMap<String, PortState>,
    local_routes: BTreeMap<(VrfId, Prefix), RouteConfig>,
    published: BTreeMap<(String, Prefix), RouteAttrs>,
    /// Known remote paths: (VRF, prefix) → next hop → attributes.
    remote: BTreeMap<(String, Prefix), BTreeMap<Ipv4Addr, RouteAttrs>>,
    installed: BTreeMap<(String, Prefix), Installed>,
    nh_ids: BTreeMap<NhOwner, NhId>,
    /// Vifs whose interface is attached: only their routes are published.
    plugged: BTreeSet<VifId>,
    /// Load-balanced services as programmed.
    services: BTreeMap<ServiceKey, Vec<Backend>>,
    /// The node's own stack, when the agent holds a host interface.
    host: Option<HostState>,
}

/// The host vif and what the kernel was told.
#[derive(Debug, Clone, PartialEq)]
struct HostState {
    interface: String,
    /// Local workload addresses routed to the host interface.
    kernel_routes: BTreeSet<Ipv4Addr>,
    /// Sources the kernel masquerades.
    snat: Vec<Prefix>,
}

/// The next hop every gateway and service address points at.
pub const RECEIVE_NH: NhId = NhId(1);

impl Reconciler {
    /// A reconciler for the node at `underlay` that accepts `local_encaps`.
    pub fn new(underlay: Ipv4Addr, local_encaps: Vec<proto::Encapsulation>) -> Self {
        let mut nh_ids = BTreeMap::new();
        nh_ids.insert(NhOwner::Receive, RECEIVE_NH);
        Reconciler {
            underlay,
            local_encaps,
            started: false,
            encap_priority: Vec::new(),
            vrfs: BTreeMap::new(),
            ports: BTreeMap::new(),
            local_routes: BTreeMap::new(),
            published: BTreeMap::new(),
            remote: BTreeMap::new(),
            installed: BTreeMap::new(),
            nh_ids,
            plugged: BTreeSet::new(),
            services: BTreeMap::new(),
            host: None,
        }
    }

    /// Programs the node's own stack as the host vif on `interface` (TF's
    /// vhost0): a host VRF routing every local workload address, in every
    /// VRF with local ports a route for the node's underlay address to the
    /// host vif, and in VRFs with `fabric_snat` a default route to it.
    /// None of these routes is published.
    pub fn with_host(mut self, interface: impl Into<String>) -> Self {
        self.host = Some(HostState {
            interface: interface.into(),
            kernel_routes: BTreeSet::new(),
            snat: Vec::new(),
        });
        self
    }

    /// The VRF id of a VRF name, once programmed.
    pub fn vrf_id(&self, name: &str) -> Option<VrfId> {
        self.vrfs.get(name).map(|v| v.id)
    }

    /// The vif of a local port, once programmed.
    pub fn port_vif(&self, port_id: &str) -> Option<VifId> {
        self.ports.get(port_id).map(|p| p.vif.id)
    }

    fn nh_id(&mut self, owner: NhOwner) -> NhId {
        if let Some(id) = self.nh_ids.get(&owner) {
            return *id;
        }
        let used: BTreeSet<u32> = self.nh_ids.values().map(|id| id.0).collect();
        let id = NhId((1..).find(|n| !used.contains(n)).unwrap_or(u32::MAX));
        self.nh_ids.insert(owner, id);
        id
    }

    fn free_nh(&mut self, owner: &NhOwner) -> Option<NhId> {
        self.nh_ids.remove(owner)
    }

    /// Diffs a snapshot against what is programmed. `labels` allocates the
    /// vif id and label of new ports and frees those of removed ones.
    pub fn apply_config(&mut self, config: &NodeConfig, labels: &mut Labels) -> Plan {
        let mut plan = Plan::default();
        if !self.started {
            self.started = true;
            plan.commands.push(Command::SetUnderlayAddr(self.underlay));
            plan.commands.push(Command::AddNextHop(NextHop {
                id: RECEIVE_NH,
                kind: NextHopKind::Receive,
            }));
            if let Some(host) = &self.host {
                let interface = host.interface.clone();
                let nh = self.nh_id(NhOwner::Host);
                plan.commands
                    .extend(host_commands(&interface, self.underlay, nh));
                plan.attach.push(Attach {
                    port_id: String::new(),
                    vif: HOST_VIF,
                    kind: VifKind::Host,
                    interface,
                });
            }
        }
        let priority = convert::encapsulations(config.encapsulation_priority());
        if !priority.is_empty() && priority != self.encap_priority {
            self.encap_priority = priority.clone();
            plan.commands.push(Command::SetEncapPriority(priority));
        }

        let vrfs = desired_vrfs(config, &mut plan.problems);
        let ports = desired_ports(config, &vrfs, labels, &mut plan.problems);
        let mut local_routes = BTreeMap::new();
        let by_id: HashMap<&str, &proto::Port> = config
            .ports
            .iter()
            .map(|p| (p.port_id.as_str(), p))
            .collect();
        // Gateway and service addresses first, so a port's own address wins.
        for (port, state) in &ports {
            if let Some(p) = by_id.get(port.as_str()) {
                for addr in convert::service_addresses(&p.fixed_ips) {
                    let prefix = Prefix::host(addr);
                    local_routes.insert(
                        (state.vif.vrf, prefix),
                        RouteConfig {
                            vrf: state.vif.vrf,
                            prefix,
                            nh: RECEIVE_NH,
                            sgs: Vec::new(),
                        },
                    );
                }
            }
        }

        // Removals: routes, then vifs and their next hops, then VRFs.
        let moved: BTreeSet<String> = self
            .ports
            .iter()
            .filter(|(id, old)| ports.get(*id).is_none_or(|new| new.vif.vrf != old.vif.vrf))
            .map(|(id, _)| id.clone())
            .collect();
        let mut port_nhs = BTreeMap::new();
        for (id, state) in &ports {
            let nh = self.nh_id(NhOwner::Port(id.clone()));
            port_nhs.insert(id.clone(), nh);
            for prefix in port_prefixes(&state.vif) {
                local_routes.insert(
                    (state.vif.vrf, prefix),
                    RouteConfig {
                        vrf: state.vif.vrf,
                        prefix,
                        nh,
                        sgs: state.vif.sgs.clone(),
                    },
                );
            }
        }
        let snat = self.host_routes(config, &ports, &port_nhs, &mut local_routes);
        // A moved port's next hop is deleted and added again: every route
        // through it goes first (the host VRF's keep their key).
        let moved_nhs: BTreeSet<NhId> = moved
            .iter()
            .filter_map(|id| self.nh_ids.get(&NhOwner::Port(id.clone())))
            .copied()
            .collect();
        let stale_routes: Vec<(VrfId, Prefix)> = self
            .local_routes
            .iter()
            .filter(|(key, route)| {
                !local_routes.contains_key(*key) || moved_nhs.contains(&route.nh)
            })
            .map(|(key, _)| *key)
            .collect();
        for (vrf, prefix) in stale_routes {
            self.local_routes.remove(&(vrf, prefix));
            plan.commands.push(Command::DeleteRoute { vrf, prefix });
        }
        for id in &moved {
            let Some(old) = self.ports.remove(id) else {
                continue;
            };
            if let Some(nh) = self.nh_ids.get(&NhOwner::Port(id.clone())) {
                plan.commands.push(Command::DeleteNextHop(*nh));
            }
            plan.commands.push(Command::DeleteVif(old.vif.id));
            plan.detach.push(old.vif.id);
            self.plugged.remove(&old.vif.id);
            if !ports.contains_key(id) {
                self.free_nh(&NhOwner::Port(id.clone()));
                labels.release(id);
            }
        }
        let services = desired_services(config, &vrfs, &mut plan.problems);
        let gone_services: Vec<ServiceKey> = self
            .services
            .keys()
            .filter(|key| !services.contains_key(*key))
            .copied()
            .collect();
        for key in gone_services {
            self.services.remove(&key);
            plan.commands.push(Command::DeleteService(key));
        }
        let gone_vrfs: Vec<String> = self
            .vrfs
            .keys()
            .filter(|name| !vrfs.contains_key(*name))
            .cloned()
            .collect();
        for name in &gone_vrfs {
            let Some(old) = self.vrfs.remove(name) else {
                continue;
            };
            let keys: Vec<_> = self
                .remote
                .keys()
                .filter(|k| &k.0 == name)
                .cloned()
                .collect();
            for key in keys {
                self.sync_remote(&key, &mut plan);
                self.remote.remove(&key);
            }
            plan.commands.push(Command::DeleteVrf(old.id));
            plan.unsubscribe.push(name.clone());
        }

        // Additions and changes.
        for (name, vrf) in &vrfs {
            match self.vrfs.get(name) {
                Some(old) if old == vrf => {}
                old => {
                    if old.is_none() {
                        plan.subscribe.push(name.clone());
                    }
                    self.vrfs.insert(name.clone(), vrf.clone());
                    plan.commands.push(Command::AddVrf(vrf.clone()));
                }
            }
        }
        for (key, backends) in services {
            if self.services.get(&key) != Some(&backends) {
                plan.commands.push(Command::SetService(ServiceConfig {
                    key,
                    backends: backends.clone(),
                }));
                self.services.insert(key, backends);
            }
        }
        for (id, state) in ports {
            let old = self.ports.get(&id).cloned();
            if old.as_ref().map(|o| &o.vif) != Some(&state.vif) {
                plan.commands.push(Command::AddVif(state.vif.clone()));
            }
            if old.is_none()
                && let Some(nh) = port_nhs.get(&id)
            {
                plan.commands.push(Command::AddNextHop(NextHop {
                    id: *nh,
                    kind: NextHopKind::Encap { vif: state.vif.id },
                }));
            }
            if old.as_ref().map(|o| (&o.acl, o.stateful)) != Some((&state.acl, state.stateful)) {
                plan.commands.push(Command::SetAcl {
                    vif: state.vif.id,
                    rules: state.acl.clone(),
                    stateful: state.stateful,
                });
            }
            let reattach = old
                .as_ref()
                .is_none_or(|o| o.interface != state.interface || o.vif.kind != state.vif.kind);
            if reattach {
                plan.attach.push(Attach {
                    port_id: id.clone(),
                    vif: state.vif.id,
                    kind: state.vif.kind,
                    interface: state.interface.clone(),
                });
            }
            self.ports.insert(id, state);
        }
        for (key, route) in local_routes {
            if self.local_routes.get(&key) != Some(&route) {
                plan.commands.push(Command::AddRoute(route.clone()));
                self.local_routes.insert(key, route);
            }
        }

        let keys: Vec<_> = self.remote.keys().cloned().collect();
        for key in keys {
            self.sync_remote(&key, &mut plan);
        }
        self.sync_published(&mut plan);
        self.sync_kernel(&host::ports_v4(&self.ports), snat, &mut plan);
        plan
    }

    /// A remote path to install or replace.
    pub fn route_added(&mut self, route: RemoteRoute) -> Plan {
        let mut plan = Plan::default();
        if route.next_hop == self.underlay {
            return plan;
        }
        let key = (route.vrf, route.prefix);
        self.remote
            .entry(key.clone())
            .or_default()
            .insert(route.next_hop, route.attrs);
        self.sync_remote(&key, &mut plan);
        plan
    }

    /// A remote path withdrawn.
    pub fn route_withdrawn(&mut self, vrf: String, prefix: Prefix, next_hop: Ipv4Addr) -> Plan {
        let mut plan = Plan::default();
        let key = (vrf, prefix);
        if let Some(paths) = self.remote.get_mut(&key) {
            paths.remove(&next_hop);
            if paths.is_empty() {
                self.remote.remove(&key);
            }
        }
        self.sync_remote(&key, &mut plan);
        plan
    }

    /// Brings the engine's route for `key` in line with the known paths.
    fn sync_remote(&mut self, key: &(String, Prefix), plan: &mut Plan) {
        let vrf = self.vrfs.get(&key.0).map(|v| v.id);
        let local = vrf.is_some_and(|id| self.local_routes.contains_key(&(id, key.1)));
        let desired = match vrf {
            Some(vrf) if !local => self
                .remote
                .get(key)
                .and_then(|paths| paths.iter().next())
                .map(|(nh, attrs)| Installed {
                    vrf,
                    next_hop: *nh,
                    attrs: attrs.clone(),
                }),
            _ => None,
        };
        let owner = NhOwner::Remote(key.0.clone(), key.1);
        let installed = self.installed.get(key).cloned();
        match (installed, desired) {
            (None, None) => {}
            (Some(old), None) => {
                if !local {
                    plan.commands.push(Command::DeleteRoute {
                        vrf: old.vrf,
                        prefix: key.1,
                    });
                }
                if let Some(nh) = self.free_nh(&owner) {
                    plan.commands.push(Command::DeleteNextHop(nh));
                }
                self.installed.remove(key);
            }
            (old, Some(new)) => {
                if old.as_ref() == Some(&new) {
                    return;
                }
                let encaps = convert::encapsulations(new.attrs.encapsulations.iter().copied());
                if encaps.is_empty() {
                    plan.problems.push(format!(
                        "route {} in {} via {}: no usable encapsulation",
                        key.1, key.0, new.next_hop
                    ));
                    return;
                }
                let nh = self.nh_id(owner);
                let kind = NextHopKind::Tunnel {
                    dst: new.next_hop,
                    label: weft_types::MplsLabel::new(new.attrs.label).ok(),
                    vni: vni(new.attrs.vni),
                    encaps,
                    mac: None,
                };
                let old_kind_same = old.as_ref().is_some_and(|o| {
                    o.next_hop == new.next_hop
                        && o.attrs.label == new.attrs.label
                        && o.attrs.vni == new.attrs.vni
                        && o.attrs.encapsulations == new.attrs.encapsulations
                });
                if !old_kind_same {
                    plan.commands
                        .push(Command::AddNextHop(NextHop { id: nh, kind }));
                }
                plan.commands.push(Command::AddRoute(RouteConfig {
                    vrf: new.vrf,
                    prefix: key.1,
                    nh,
                    sgs: convert::sg_ids(&new.attrs.sg_ids),
                }));
                self.installed.insert(key.clone(), new);
            }
        }
    }

    /// Whether the interface of `vif` is attached.
    pub fn is_plugged(&self, vif: VifId) -> bool {
        self.plugged.contains(&vif)
    }

    /// The interface of `vif` was attached (`true`) or went away. A port's
    /// routes are published only while it is plugged, as TF's agent adds a
    /// port's route when its interface is added: no other node is sent
    /// towards an interface that is not there yet.
    pub fn set_plugged(&mut self, vif: VifId, plugged: bool) -> Plan {
        let changed = if plugged {
            self.plugged.insert(vif)
        } else {
            self.plugged.remove(&vif)
        };
        let mut plan = Plan::default();
        if changed {
            self.sync_published(&mut plan);
        }
        plan
    }

    fn sync_published(&mut self, plan: &mut Plan) {
        let mut desired = BTreeMap::new();
        for state in self.ports.values() {
            if !self.plugged.contains(&state.vif.id) {
                continue;
            }
            let Some(label) = state.vif.label else {
                continue;
            };
            let vni = self
                .vrfs
                .get(&state.vrf_name)
                .and_then(|v| v.vni)
                .map_or(0, Vni::get);
            for prefix in port_prefixes(&state.vif) {
                desired.insert(
                    (state.vrf_name.clone(), prefix),
                    RouteAttrs {
                        label: label.get(),
                        vni,
                        encapsulations: self.local_encaps.clone(),
                        sg_ids: state.vif.sgs.iter().map(|sg| sg.0).collect(),
                    },
                );
            }
        }
        for key in self.published.keys() {
            if !desired.contains_key(key) {
                plan.withdraw.push(key.clone());
            }
        }
        for (key, attrs) in &desired {
            if self.published.get(key) != Some(attrs) {
                plan.publish.push(LocalRoute {
                    vrf: key.0.clone(),
                    prefix: key.1,
                    attrs: attrs.clone(),
                });
            }
        }
        self.published = desired;
    }
}

/// What a port's next hop is the route to: its own addresses, then the
/// prefixes of its allowed address pairs (so replies to an address the
/// port may send from come back to it, as in TF). A pair never takes a
/// fixed address's place.
fn port_prefixes(vif: &VifConfig) -> Vec<Prefix> {
    let mut out: Vec<Prefix> = vif.addrs.iter().map(|a| Prefix::host(*a)).collect();
    for pair in &vif.allowed_address_pairs {
        if !out.contains(&pair.prefix) {
            out.push(pair.prefix);
        }
    }
    out
}

fn vni(value: u32) -> Option<Vni> {
    if value == 0 {
        None
    } else {
        Vni::new(value).ok()
    }
}

fn desired_vrfs(config: &NodeConfig, problems: &mut Vec<String>) -> BTreeMap<String, VrfConfig> {
    let mut out = BTreeMap::new();
    let listed = config.vrfs.iter().map(|v| (&v.name, v.vn_id, v.vni));
    let from_ports = config.ports.iter().map(|p| (&p.vn_fq_name, p.vn_id, p.vni));
    for (name, vn_id, vni_value) in listed.chain(from_ports) {
        if out.contains_key(name) {
            continue;
        }
        if vn_id == 0 || name.is_empty() {
            problems.push(format!("VRF {name:?}: no virtual network id"));
            continue;
        }
        out.insert(
            name.clone(),
            VrfConfig {
                id: VrfId(vn_id),
                vni: vni(vni_value),
                name: name.clone(),
            },
        );
    }
    out
}

/// The services of the VRFs this node holds; unusable entries are skipped
/// and reported.
fn desired_services(
    config: &NodeConfig,
    vrfs: &BTreeMap<String, VrfConfig>,
    problems: &mut Vec<String>,
) -> BTreeMap<ServiceKey, Vec<Backend>> {
    let mut out = BTreeMap::new();
    for vrf in &config.vrfs {
        let Some(id) = vrfs.get(&vrf.name).map(|v| v.id) else {
            continue;
        };
        for service in &vrf.services {
            let what = format!("VRF {}: service {}:{}", vrf.name, service.vip, service.port);
            let Ok(vip) = service.vip.parse::<IpAddr>() else {
                problems.push(format!("{what}: bad address"));
                continue;
            };
            let (Ok(protocol), Ok(port)) =
                (u8::try_from(service.protocol), u16::try_from(service.port))
            else {
                problems.push(format!("{what}: bad protocol or port"));
                continue;
            };
            let mut backends = Vec::new();
            for b in &service.backends {
                match (b.address.parse::<IpAddr>(), u16::try_from(b.port)) {
                    (Ok(addr), Ok(port)) => backends.push(Backend { addr, port }),
                    _ => problems.push(format!("{what}: bad backend {}:{}", b.address, b.port)),
                }
            }
            backends.sort();
            backends.dedup();
            let key = ServiceKey {
                vrf: id,
                vip,
                protocol,
                port,
            };
            out.insert(key, backends);
        }
    }
    out
}

fn desired_ports(
    config: &NodeConfig,
    vrfs: &BTreeMap<String, VrfConfig>,
    labels: &mut Labels,
    problems: &mut Vec<String>,
) -> BTreeMap<String, PortState> {
    let acls: BTreeMap<u32, &proto::SecurityGroupAcl> =
        config.acls.iter().map(|a| (a.sg_id, a)).collect();
    let mut out = BTreeMap::new();
    for port in &config.ports {
        match port_state(port, vrfs, &acls, labels) {
            Ok(state) => {
                out.insert(port.port_id.clone(), state);
            }
            Err(why) => problems.push(format!("port {}: {why}", port.port_id)),
        }
    }
    out
}

fn port_state(
    port: &proto::Port,
    vrfs: &BTreeMap<String, VrfConfig>,
    acls: &BTreeMap<u32, &proto::SecurityGroupAcl>,
    labels: &mut Labels,
) -> Result<PortState, String> {
    let vrf = vrfs
        .get(&port.vn_fq_name)
        .ok_or_else(|| format!("VRF {:?} unknown", port.vn_fq_name))?;
    let kind = match port.vif_type() {
        proto::VifType::Tap => VifKind::Tap,
        proto::VifType::Veth => VifKind::Veth,
        proto::VifType::Unspecified => return Err("vif type not set".into()),
    };
    if port.interface_name.is_empty() {
        return Err("no interface name".into());
    }
    let mac = convert::mac(&port.mac).map_err(|e| e.to_string())?;
    let mut addrs: Vec<IpAddr> = Vec::new();
    for fixed in &port.fixed_ips {
        addrs.push(convert::ip("fixed ip", &fixed.address).map_err(|e| e.to_string())?);
    }
    let allowed_address_pairs = port
        .allowed_address_pairs
        .iter()
        .map(convert::allowed_address_pair)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let dhcp = convert::dhcp(port).map_err(|e| e.to_string())?;
    let sgs = convert::sg_ids(&port.sg_ids);
    let mut acl = Vec::new();
    // Neutron never lets a port mix the kinds; should it happen, tracking
    // wins, as it admits the replies either kind's rules would.
    let mut stateless = None;
    if port.port_security {
        for sg in &sgs {
            if let Some(group) = acls.get(&sg.0) {
                stateless = Some(stateless.unwrap_or(true) && group.stateless);
                for rule in &group.rules {
                    acl.push(convert::acl_rule(rule).map_err(|e| format!("SG {}: {e}", sg.0))?);
                }
            }
        }
    }
    let binding = labels.allocate(&port.port_id).map_err(|e| e.to_string())?;
    Ok(PortState {
        vrf_name: port.vn_fq_name.clone(),
        vif: VifConfig {
            id: binding.vif_id(),
            name: port.interface_name.clone(),
            kind,
            mac,
            addrs,
            vrf: vrf.id,
            policy: port.port_security,
            allowed_address_pairs,
            sgs,
            label: binding.mpls_label(),
            dhcp,
        },
        acl,
        stateful: stateless != Some(true),
        interface: port.interface_name.clone(),
    })
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;

#[path = "reconcile_host.rs"]
mod host;

#[cfg(test)]
#[path = "reconcile_host_tests.rs"]
mod host_tests;
