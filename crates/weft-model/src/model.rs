//! The model's state: every object, the indexes that keep commands cheap, and
//! the allocators (addresses, VN ids, SG ids) derived from the objects.
//!
//! A command is first *planned* against `&self` — every check happens there
//! and nothing can change — and only then are its changes *applied*. Apply
//! is also how a model is rebuilt from a store, so the allocators are always a
//! function of the stored objects: an address is held exactly while a stored
//! port or subnet holds it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use jiff::Timestamp;
use uuid::Uuid;
use weft_types::{FqName, MacAddr};

use crate::error::{ApplyError, ModelError};
use crate::ipam::SubnetAllocator;
use crate::objects::{
    Change, ControlNode, Domain, GlobalConfig, Kind, LoadBalancer, Meta, Node, Object, Port,
    Project, RbacPolicy, Router, SecurityGroup, SecurityGroupRule, Subnet, VirtualNetwork,
};
use crate::request::{Command, Ref};

/// First numeric security-group id (TF allocates automatic ids from 8,000,000).
pub const FIRST_SG_ID: u32 = 8_000_001;

/// Where fresh identifiers come from. The server gives real randomness; tests
/// give a counter, which keeps them deterministic.
pub trait Entropy {
    fn uuid(&mut self) -> Uuid;
    /// Three random octets for a generated MAC address.
    fn mac_tail(&mut self) -> [u8; 3];
}

/// Everything a command needs from outside the model.
pub struct Ctx<'a> {
    pub now: Timestamp,
    pub entropy: &'a mut dyn Entropy,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    /// Bookkeeping for a new object.
    pub(crate) fn meta(
        &mut self,
        id: Option<Uuid>,
        description: String,
        tags: Vec<String>,
    ) -> Meta {
        Meta {
            id: id.unwrap_or_else(|| self.entropy.uuid()),
            revision_number: 1,
            created_at: self.now,
            updated_at: self.now,
            description,
            tags,
        }
    }
}

/// Bumps the bookkeeping of an object that is being changed.
pub(crate) fn touch(meta: &mut Meta, now: Timestamp) {
    meta.revision_number += 1;
    meta.updated_at = now;
}

/// What a command did: the object it is about and the changes to persist.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub object: Object,
    pub changes: Vec<Change>,
}

/// The whole intent model in memory.
#[derive(Debug, Default, Clone)]
pub struct Model {
    pub(crate) global: Option<GlobalConfig>,
    pub(crate) domains: BTreeMap<Uuid, Domain>,
    pub(crate) projects: BTreeMap<Uuid, Project>,
    pub(crate) networks: BTreeMap<Uuid, VirtualNetwork>,
    pub(crate) subnets: BTreeMap<Uuid, Subnet>,
    pub(crate) ports: BTreeMap<Uuid, Port>,
    pub(crate) groups: BTreeMap<Uuid, SecurityGroup>,
    pub(crate) rules: BTreeMap<Uuid, SecurityGroupRule>,
    pub(crate) nodes: BTreeMap<Uuid, Node>,
    pub(crate) control_nodes: BTreeMap<Uuid, ControlNode>,
    pub(crate) load_balancers: BTreeMap<Uuid, LoadBalancer>,
    pub(crate) routers: BTreeMap<Uuid, Router>,
    pub(crate) rbac_policies: BTreeMap<Uuid, RbacPolicy>,
    /// Unique names: FQ names of domains, projects, networks and groups;
    /// one-component names of nodes and control nodes.
    pub(crate) names: HashMap<(Kind, FqName), Uuid>,
    pub(crate) allocators: HashMap<Uuid, SubnetAllocator>,
    pub(crate) vn_ids: BTreeSet<u32>,
    pub(crate) sg_ids: BTreeSet<u32>,
    /// MAC addresses in use, per network.
    pub(crate) macs: HashSet<(Uuid, MacAddr)>,
    pub(crate) network_subnets: HashMap<Uuid, BTreeSet<Uuid>>,
    pub(crate) network_ports: HashMap<Uuid, BTreeSet<Uuid>>,
    pub(crate) group_members: HashMap<Uuid, BTreeSet<Uuid>>,
    pub(crate) group_rules: HashMap<Uuid, BTreeSet<Uuid>>,
}

impl Model {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a model from stored objects, in any order.
    pub fn load(objects: impl IntoIterator<Item = Object>) -> Result<Self, ApplyError> {
        let mut objects: Vec<Object> = objects.into_iter().collect();
        objects.sort_by_key(|o| (o.kind(), o.id()));
        let mut model = Model::new();
        for object in objects {
            model.apply(&Change::Put(object))?;
        }
        Ok(model)
    }

    /// Plans `command` and applies it. On error nothing changed.
    pub fn execute(&mut self, command: Command, ctx: &mut Ctx<'_>) -> Result<Outcome, ModelError> {
        let outcome = self.plan(command, ctx)?;
        for change in &outcome.changes {
            self.apply(change).map_err(ModelError::Inconsistent)?;
        }
        Ok(outcome)
    }

    /// Checks `command` and works out its changes, without changing anything.
    pub fn plan(&self, command: Command, ctx: &mut Ctx<'_>) -> Result<Outcome, ModelError> {
        match command {
            Command::CreateDomain(req) => self.plan_create_domain(req, ctx),
            Command::DeleteDomain(r) => self.plan_delete_domain(&r),
            Command::CreateProject(req) => self.plan_create_project(req, ctx),
            Command::UpdateProject(r, req) => self.plan_update_project(&r, req, ctx),
            Command::DeleteProject(r) => self.plan_delete_project(&r),
            Command::CreateNetwork(req) => self.plan_create_network(req, ctx),
            Command::UpdateNetwork(r, req) => self.plan_update_network(&r, req, ctx),
            Command::DeleteNetwork(r) => self.plan_delete_network(&r),
            Command::CreateSubnet(req) => self.plan_create_subnet(req, ctx),
            Command::UpdateSubnet(r, req) => self.plan_update_subnet(&r, req, ctx),
            Command::DeleteSubnet(r) => self.plan_delete_subnet(&r, ctx),
            Command::CreatePort(req) => self.plan_create_port(req, ctx),
            Command::UpdatePort(r, req) => self.plan_update_port(&r, req, ctx),
            Command::DeletePort(r) => self.plan_delete_port(&r),
            Command::CreateSecurityGroup(req) => self.plan_create_group(req, ctx),
            Command::UpdateSecurityGroup(r, req) => self.plan_update_group(&r, req, ctx),
            Command::DeleteSecurityGroup(r) => self.plan_delete_group(&r),
            Command::CreateSecurityGroupRule(req) => self.plan_create_rule(req, ctx),
            Command::DeleteSecurityGroupRule(r) => self.plan_delete_rule(&r, ctx),
            Command::CreateNode(req) => self.plan_create_node(req, ctx),
            Command::UpdateNode(r, req) => self.plan_update_node(&r, req, ctx),
            Command::DeleteNode(r) => self.plan_delete_node(&r),
            Command::CreateControlNode(req) => self.plan_create_control_node(req, ctx),
            Command::DeleteControlNode(r) => self.plan_delete_control_node(&r),
            Command::CreateRouter(req) => self.plan_create_router(req, ctx),
            Command::UpdateRouter(r, req) => self.plan_update_router(&r, req, ctx),
            Command::DeleteRouter(r) => self.plan_delete_router(&r),
            Command::UpdateGlobalConfig(req) => self.plan_update_global(req, ctx),
            Command::CreateLoadBalancer(req) => self.plan_create_load_balancer(req, ctx),
            Command::UpdateLoadBalancer(r, req) => self.plan_update_load_balancer(&r, req, ctx),
            Command::DeleteLoadBalancer(r) => self.plan_delete_load_balancer(&r),
            Command::CreateRbacPolicy(req) => self.plan_create_rbac_policy(req, ctx),
            Command::UpdateRbacPolicy(r, req) => self.plan_update_rbac_policy(&r, req, ctx),
            Command::DeleteRbacPolicy(r) => self.plan_delete_rbac_policy(&r),
            Command::IfRevision(guard, command) => {
                let current = self
                    .get(guard.kind, guard.id)
                    .map(|o| o.meta().revision_number)
                    .ok_or_else(|| ModelError::not_found("", guard.kind, guard.id))?;
                if current != guard.revision {
                    return Err(ModelError::conflict(
                        "revision_number",
                        format!(
                            "Constrained to {}, but current revision is {current}",
                            guard.revision
                        ),
                    ));
                }
                self.plan(*command, ctx)
            }
        }
    }

    /// Applies one change. Fails only if the change does not fit the model,
    /// which for planned changes is a bug; the model must then be rebuilt.
    pub fn apply(&mut self, change: &Change) -> Result<(), ApplyError> {
        match change {
            Change::Put(object) => {
                let kind = object.kind();
                let id = object.id();
                self.unindex(kind, id);
                self.index(object.clone())
            }
            Change::Delete { kind, id } => {
                if !self.unindex(*kind, *id) {
                    return Err(ApplyError {
                        kind: *kind,
                        id: *id,
                        reason: "deleted but not present".into(),
                    });
                }
                Ok(())
            }
        }
    }

    // ---- reading ----

    pub fn global(&self) -> Option<&GlobalConfig> {
        self.global.as_ref()
    }

    pub fn domains(&self) -> impl Iterator<Item = &Domain> {
        self.domains.values()
    }

    pub fn projects(&self) -> impl Iterator<Item = &Project> {
        self.projects.values()
    }

    pub fn networks(&self) -> impl Iterator<Item = &VirtualNetwork> {
        self.networks.values()
    }

    pub fn subnets(&self) -> impl Iterator<Item = &Subnet> {
        self.subnets.values()
    }

    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.values()
    }

    pub fn security_groups(&self) -> impl Iterator<Item = &SecurityGroup> {
        self.groups.values()
    }

    pub fn security_group_rules(&self) -> impl Iterator<Item = &SecurityGroupRule> {
        self.rules.values()
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    pub fn control_nodes(&self) -> impl Iterator<Item = &ControlNode> {
        self.control_nodes.values()
    }

    pub fn load_balancers(&self) -> impl Iterator<Item = &LoadBalancer> {
        self.load_balancers.values()
    }

    pub fn routers(&self) -> impl Iterator<Item = &Router> {
        self.routers.values()
    }

    pub fn rbac_policies(&self) -> impl Iterator<Item = &RbacPolicy> {
        self.rbac_policies.values()
    }

    /// Any object by kind and id.
    pub fn get(&self, kind: Kind, id: Uuid) -> Option<Object> {
        Some(match kind {
            Kind::GlobalConfig => {
                Object::GlobalConfig(self.global.clone().filter(|g| g.meta.id == id)?)
            }
            Kind::Domain => Object::Domain(self.domains.get(&id)?.clone()),
            Kind::Project => Object::Project(self.projects.get(&id)?.clone()),
            Kind::SecurityGroup => Object::SecurityGroup(self.groups.get(&id)?.clone()),
            Kind::SecurityGroupRule => Object::SecurityGroupRule(self.rules.get(&id)?.clone()),
            Kind::VirtualNetwork => Object::VirtualNetwork(self.networks.get(&id)?.clone()),
            Kind::Subnet => Object::Subnet(self.subnets.get(&id)?.clone()),
            Kind::Port => Object::Port(self.ports.get(&id)?.clone()),
            Kind::LoadBalancer => Object::LoadBalancer(self.load_balancers.get(&id)?.clone()),
            Kind::Node => Object::Node(self.nodes.get(&id)?.clone()),
            Kind::ControlNode => Object::ControlNode(self.control_nodes.get(&id)?.clone()),
            Kind::Router => Object::Router(self.routers.get(&id)?.clone()),
            Kind::RbacPolicy => Object::RbacPolicy(self.rbac_policies.get(&id)?.clone()),
        })
    }

    /// Resolves a reference to an id. `field` names the request field in the
    /// error (empty for the object a URL addresses).
    pub fn resolve(&self, kind: Kind, reference: &Ref, field: &str) -> Result<Uuid, ModelError> {
        let found = match reference {
            Ref::Id(id) => self.get(kind, *id).map(|_| *id),
            Ref::Name(name) => {
                let name = match kind {
                    Kind::Project => crate::project::in_default_domain(name)
                        .map_err(|e| ModelError::invalid(field, e.to_string()))?,
                    _ => name.clone(),
                };
                self.names.get(&(kind, name)).copied()
            }
        };
        found.ok_or_else(|| ModelError::not_found(field, kind, reference))
    }

    /// The allocator of a subnet (for inspection).
    pub fn allocator(&self, subnet: Uuid) -> Option<&SubnetAllocator> {
        self.allocators.get(&subnet)
    }

    /// The subnets of a network, oldest first.
    pub fn subnets_of(&self, network: Uuid) -> Vec<&Subnet> {
        let mut out: Vec<&Subnet> = self
            .network_subnets
            .get(&network)
            .into_iter()
            .flatten()
            .filter_map(|id| self.subnets.get(id))
            .collect();
        out.sort_by_key(|s| (s.meta.created_at, s.meta.id));
        out
    }

    /// The ports of a network.
    pub fn ports_of(&self, network: Uuid) -> impl Iterator<Item = &Port> {
        self.network_ports
            .get(&network)
            .into_iter()
            .flatten()
            .filter_map(|id| self.ports.get(id))
    }

    /// The rules of a security group.
    pub fn rules_of(&self, group: Uuid) -> impl Iterator<Item = &SecurityGroupRule> {
        self.group_rules
            .get(&group)
            .into_iter()
            .flatten()
            .filter_map(|id| self.rules.get(id))
    }

    /// The ports that are members of a security group.
    pub fn members_of(&self, group: Uuid) -> impl Iterator<Item = &Port> {
        self.group_members
            .get(&group)
            .into_iter()
            .flatten()
            .filter_map(|id| self.ports.get(id))
    }

    // ---- indexing ----

    fn index(&mut self, object: Object) -> Result<(), ApplyError> {
        let kind = object.kind();
        let id = object.id();
        let fail = |reason: String| ApplyError { kind, id, reason };
        match object {
            Object::GlobalConfig(g) => self.global = Some(g),
            Object::Domain(d) => {
                self.names.insert((kind, d.fq_name.clone()), id);
                self.domains.insert(id, d);
            }
            Object::Project(p) => {
                self.names.insert((kind, p.fq_name.clone()), id);
                self.projects.insert(id, p);
            }
            Object::SecurityGroup(g) => {
                self.names.insert((kind, g.fq_name.clone()), id);
                self.sg_ids.insert(g.sg_id);
                self.groups.insert(id, g);
            }
            Object::SecurityGroupRule(r) => {
                self.group_rules
                    .entry(r.security_group_id)
                    .or_default()
                    .insert(id);
                self.rules.insert(id, r);
            }
            Object::VirtualNetwork(n) => {
                self.names.insert((kind, n.fq_name.clone()), id);
                self.vn_ids.insert(n.vn_id);
                self.networks.insert(id, n);
            }
            Object::Subnet(s) => {
                let allocator = self.build_allocator(&s).map_err(fail)?;
                self.allocators.insert(id, allocator);
                self.network_subnets
                    .entry(s.network_id)
                    .or_default()
                    .insert(id);
                self.subnets.insert(id, s);
            }
            Object::Port(p) => {
                for (i, fixed) in p.fixed_ips.iter().enumerate() {
                    let allocator = self
                        .allocators
                        .get_mut(&fixed.subnet_id)
                        .ok_or_else(|| fail(format!("fixed_ips[{i}] names a missing subnet")))?;
                    if let Err(e) = allocator.take(fixed.ip_address) {
                        // Undo what this port took so far, then report.
                        for earlier in &p.fixed_ips[..i] {
                            if let Some(a) = self.allocators.get_mut(&earlier.subnet_id) {
                                let _ = a.release(earlier.ip_address);
                            }
                        }
                        return Err(fail(format!("fixed_ips[{i}]: {e}")));
                    }
                }
                self.macs.insert((p.network_id, p.mac_address));
                self.network_ports
                    .entry(p.network_id)
                    .or_default()
                    .insert(id);
                for group in &p.security_groups {
                    self.group_members.entry(*group).or_default().insert(id);
                }
                self.ports.insert(id, p);
            }
            Object::LoadBalancer(lb) => {
                self.names.insert((kind, lb.fq_name.clone()), id);
                self.load_balancers.insert(id, lb);
            }
            Object::Node(n) => {
                let name =
                    FqName::from_components([n.name.as_str()]).map_err(|e| fail(e.to_string()))?;
                self.names.insert((kind, name), id);
                self.nodes.insert(id, n);
            }
            Object::ControlNode(n) => {
                let name =
                    FqName::from_components([n.name.as_str()]).map_err(|e| fail(e.to_string()))?;
                self.names.insert((kind, name), id);
                self.control_nodes.insert(id, n);
            }
            Object::Router(r) => {
                if !self.projects.contains_key(&r.project_id) {
                    return Err(fail("names a missing project".into()));
                }
                self.routers.insert(id, r);
            }
            Object::RbacPolicy(p) => {
                if !self.projects.contains_key(&p.project_id) {
                    return Err(fail("names a missing project".into()));
                }
                self.rbac_policies.insert(id, p);
            }
        }
        Ok(())
    }

    /// Removes an object and everything indexed for it. Returns whether it existed.
    fn unindex(&mut self, kind: Kind, id: Uuid) -> bool {
        match kind {
            Kind::GlobalConfig => self.global.take().is_some(),
            Kind::Domain => self
                .domains
                .remove(&id)
                .map(|d| self.names.remove(&(kind, d.fq_name)))
                .is_some(),
            Kind::Project => self
                .projects
                .remove(&id)
                .map(|p| self.names.remove(&(kind, p.fq_name)))
                .is_some(),
            Kind::SecurityGroup => match self.groups.remove(&id) {
                Some(g) => {
                    self.names.remove(&(kind, g.fq_name));
                    self.sg_ids.remove(&g.sg_id);
                    true
                }
                None => false,
            },
            Kind::SecurityGroupRule => match self.rules.remove(&id) {
                Some(r) => {
                    remove_from(&mut self.group_rules, r.security_group_id, id);
                    true
                }
                None => false,
            },
            Kind::VirtualNetwork => match self.networks.remove(&id) {
                Some(n) => {
                    self.names.remove(&(kind, n.fq_name));
                    self.vn_ids.remove(&n.vn_id);
                    true
                }
                None => false,
            },
            Kind::Subnet => match self.subnets.remove(&id) {
                Some(s) => {
                    self.allocators.remove(&id);
                    remove_from(&mut self.network_subnets, s.network_id, id);
                    true
                }
                None => false,
            },
            Kind::Port => match self.ports.remove(&id) {
                Some(p) => {
                    for fixed in &p.fixed_ips {
                        if let Some(a) = self.allocators.get_mut(&fixed.subnet_id) {
                            let _ = a.release(fixed.ip_address);
                        }
                    }
                    self.macs.remove(&(p.network_id, p.mac_address));
                    remove_from(&mut self.network_ports, p.network_id, id);
                    for group in &p.security_groups {
                        remove_from(&mut self.group_members, *group, id);
                    }
                    true
                }
                None => false,
            },
            Kind::LoadBalancer => self
                .load_balancers
                .remove(&id)
                .map(|lb| self.names.remove(&(kind, lb.fq_name)))
                .is_some(),
            Kind::Node => match self.nodes.remove(&id) {
                Some(n) => {
                    self.names
                        .retain(|k, v| !(k.0 == Kind::Node && *v == n.meta.id));
                    true
                }
                None => false,
            },
            Kind::ControlNode => match self.control_nodes.remove(&id) {
                Some(n) => {
                    self.names
                        .retain(|k, v| !(k.0 == Kind::ControlNode && *v == n.meta.id));
                    true
                }
                None => false,
            },
            Kind::Router => self.routers.remove(&id).is_some(),
            Kind::RbacPolicy => self.rbac_policies.remove(&id).is_some(),
        }
    }

    /// A subnet's allocator with its own reserved addresses and every port
    /// address already in it.
    fn build_allocator(&self, subnet: &Subnet) -> Result<SubnetAllocator, String> {
        let pools: Vec<(IpAddr, IpAddr)> = subnet
            .allocation_pools
            .iter()
            .map(|p| (p.start, p.end))
            .collect();
        let mut allocator = SubnetAllocator::new(subnet.cidr, &pools).map_err(|e| e.to_string())?;
        for ip in reserved_addresses(subnet) {
            allocator.take(ip).map_err(|e| e.to_string())?;
        }
        for port in self.ports_of(subnet.network_id) {
            for fixed in port
                .fixed_ips
                .iter()
                .filter(|f| f.subnet_id == subnet.meta.id)
            {
                allocator
                    .take(fixed.ip_address)
                    .map_err(|e| format!("port {}: {e}", port.meta.id))?;
            }
        }
        Ok(allocator)
    }
}

/// The addresses a subnet keeps for itself: gateway and DNS/service address.
pub(crate) fn reserved_addresses(subnet: &Subnet) -> impl Iterator<Item = IpAddr> + '_ {
    subnet.gateway_ip.into_iter().chain(
        subnet
            .dns_service_ip
            .filter(|dns| Some(*dns) != subnet.gateway_ip),
    )
}

fn remove_from(index: &mut HashMap<Uuid, BTreeSet<Uuid>>, key: Uuid, id: Uuid) {
    if let Some(set) = index.get_mut(&key) {
        set.remove(&id);
        if set.is_empty() {
            index.remove(&key);
        }
    }
}
