//! Virtual networks and their subnets.

use std::collections::BTreeSet;
use std::net::IpAddr;

use weft_types::{Prefix, RouteTarget, Vni};

use crate::error::ModelError;
use crate::ipam::{IpamError, SubnetAllocator};
use crate::model::{Ctx, Model, Outcome, reserved_addresses, touch};
use crate::objects::{
    AllocationPool, Change, Encapsulation, Kind, Object, Subnet, UNDERLAY_MTU, VirtualNetwork,
};
use crate::request::{CreateNetwork, CreateSubnet, Ref, UpdateNetwork, UpdateSubnet};
use crate::validate;

impl Model {
    pub(crate) fn plan_create_network(
        &self,
        req: CreateNetwork,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        validate::fq_depth("fq_name", &req.fq_name, 3, "domain:project:name")?;
        validate::new_id(self, Kind::VirtualNetwork, req.id)?;
        validate::description(&req.description)?;
        validate::tags(&req.tags)?;
        let parent = req.fq_name.parent().unwrap_or_else(|| req.fq_name.clone());
        let project_id = self.resolve(Kind::Project, &Ref::Name(parent), "fq_name")?;
        validate::new_name(self, Kind::VirtualNetwork, "fq_name", &req.fq_name)?;

        let vn_id = self.next_vn_id()?;
        let (vxlan_id, vxlan_id_configured) = match req.vxlan_id {
            Some(vni) => {
                self.check_vni_free(vni, None)?;
                (vni, true)
            }
            None => (self.automatic_vni(vn_id)?, false),
        };
        let (route_targets, route_targets_configured) =
            self.route_targets(req.route_targets, vn_id, "route_targets")?;
        let network = VirtualNetwork {
            meta: ctx.meta(req.id, req.description, req.tags),
            fq_name: req.fq_name,
            project_id,
            vn_id,
            vxlan_id,
            vxlan_id_configured,
            route_targets,
            route_targets_configured,
            forwarding_mode: req.forwarding_mode.unwrap_or_default(),
            shared: req.shared,
            admin_state_up: req.admin_state_up.unwrap_or(true),
            port_security_enabled: true,
            fabric_snat: req.fabric_snat,
            mtu: req.mtu,
        };
        if let Some(mtu) = network.mtu {
            self.check_mtu(mtu)?;
        }

        let mut subnets: Vec<Subnet> = Vec::with_capacity(req.subnets.len());
        for (i, spec) in req.subnets.into_iter().enumerate() {
            let field = format!("subnets[{i}]");
            if spec.network.is_some() {
                return Err(ModelError::invalid(
                    format!("{field}.network"),
                    "must be left out inside a network",
                ));
            }
            let siblings: Vec<&Subnet> = subnets.iter().collect();
            let subnet = self.build_subnet(&network, &siblings, spec, &field, ctx)?;
            if subnets.iter().any(|s| s.meta.id == subnet.meta.id) {
                return Err(ModelError::invalid(format!("{field}.id"), "given twice"));
            }
            subnets.push(subnet);
        }

        let mut changes = vec![Change::Put(Object::VirtualNetwork(network.clone()))];
        changes.extend(subnets.into_iter().map(|s| Change::Put(Object::Subnet(s))));
        Ok(Outcome {
            object: Object::VirtualNetwork(network),
            changes,
        })
    }

    pub(crate) fn plan_update_network(
        &self,
        reference: &Ref,
        req: UpdateNetwork,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::VirtualNetwork, reference, "")?;
        let mut network = self.networks[&id].clone();
        if let Some(name) = req.name {
            let parent = network
                .fq_name
                .parent()
                .unwrap_or_else(|| network.fq_name.clone());
            let fq_name = parent
                .child(&name)
                .map_err(|e| ModelError::invalid("name", e.to_string()))?;
            if fq_name != network.fq_name {
                validate::new_name(self, Kind::VirtualNetwork, "name", &fq_name)?;
                network.fq_name = fq_name;
            }
        }
        if let Some(description) = req.description {
            validate::description(&description)?;
            network.meta.description = description;
        }
        if let Some(tags) = req.tags {
            validate::tags(&tags)?;
            network.meta.tags = tags;
        }
        match req.vxlan_id {
            Some(Some(vni)) => {
                self.check_vni_free(vni, Some(id))?;
                network.vxlan_id = vni;
                network.vxlan_id_configured = true;
            }
            Some(None) => {
                let vni = Vni::new(network.vn_id)
                    .map_err(|e| ModelError::invalid("vxlan_id", e.to_string()))?;
                self.check_vni_free(vni, Some(id))?;
                network.vxlan_id = vni;
                network.vxlan_id_configured = false;
            }
            None => {}
        }
        if let Some(targets) = req.route_targets {
            let (targets, configured) =
                self.route_targets(targets, network.vn_id, "route_targets")?;
            network.route_targets = targets;
            network.route_targets_configured = configured;
        }
        if let Some(mode) = req.forwarding_mode {
            network.forwarding_mode = mode;
        }
        if let Some(shared) = req.shared {
            network.shared = shared;
        }
        if let Some(enabled) = req.port_security_enabled {
            network.port_security_enabled = enabled;
        }
        if let Some(up) = req.admin_state_up {
            network.admin_state_up = up;
        }
        if let Some(snat) = req.fabric_snat {
            network.fabric_snat = snat;
        }
        if let Some(mtu) = req.mtu {
            if let Some(mtu) = mtu {
                self.check_mtu(mtu)?;
                let versions: Vec<u8> = self.subnets_of(id).iter().map(|s| s.ip_version).collect();
                check_subnets_fit(id, mtu, &versions)?;
            }
            network.mtu = mtu;
        }
        touch(&mut network.meta, ctx.now);
        Ok(Outcome {
            changes: vec![Change::Put(Object::VirtualNetwork(network.clone()))],
            object: Object::VirtualNetwork(network),
        })
    }

    pub(crate) fn plan_delete_network(&self, reference: &Ref) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::VirtualNetwork, reference, "")?;
        let network = &self.networks[&id];
        if let Some(port) = self.ports_of(id).next() {
            return Err(ModelError::InUse {
                kind: Kind::VirtualNetwork,
                key: network.fq_name.to_string(),
                by: format!(
                    "port {} is attached to it ({} port(s) in all)",
                    port.meta.id,
                    self.ports_of(id).count()
                ),
            });
        }
        if let Some(lb) = self.load_balancer_serving(id) {
            return Err(ModelError::InUse {
                kind: Kind::VirtualNetwork,
                key: network.fq_name.to_string(),
                by: format!("load balancer {} serves it", lb.fq_name),
            });
        }
        let mut changes: Vec<Change> = self
            .subnets_of(id)
            .into_iter()
            .map(|s| Change::Delete {
                kind: Kind::Subnet,
                id: s.meta.id,
            })
            .collect();
        changes.push(Change::Delete {
            kind: Kind::VirtualNetwork,
            id,
        });
        Ok(Outcome {
            object: Object::VirtualNetwork(network.clone()),
            changes,
        })
    }

    pub(crate) fn plan_create_subnet(
        &self,
        mut req: CreateSubnet,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let Some(network_ref) = req.network.take() else {
            return Err(ModelError::invalid("network", "is required"));
        };
        let network_id = self.resolve(Kind::VirtualNetwork, &network_ref, "network")?;
        let network = &self.networks[&network_id];
        let subnet = self.build_subnet(network, &[], req, "", ctx)?;
        Ok(Outcome {
            changes: vec![
                Change::Put(Object::Subnet(subnet.clone())),
                self.revised_network(network_id, ctx),
            ],
            object: Object::Subnet(subnet),
        })
    }

    pub(crate) fn plan_update_subnet(
        &self,
        reference: &Ref,
        req: UpdateSubnet,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Subnet, reference, "")?;
        let mut subnet = self.subnets[&id].clone();
        if let Some(name) = req.name {
            validate::text("name", &name)?;
            subnet.name = name;
        }
        if let Some(description) = req.description {
            validate::description(&description)?;
            subnet.meta.description = description;
        }
        if let Some(tags) = req.tags {
            validate::tags(&tags)?;
            subnet.meta.tags = tags;
        }
        if let Some(gateway) = req.gateway_ip {
            subnet.gateway_ip = gateway
                .map(|ip| check_own_address(subnet.cidr, ip, "gateway_ip"))
                .transpose()?;
        }
        if let Some(pools) = req.allocation_pools {
            subnet.allocation_pools = pools;
        }
        check_pools(&subnet)?;
        if let Some(routes) = req.host_routes {
            subnet.host_routes = routes;
        }
        if let Some(servers) = req.dns_nameservers {
            subnet.dns_nameservers = servers;
        }
        check_routes_and_servers(&subnet)?;
        if let Some(dhcp) = req.enable_dhcp {
            subnet.enable_dhcp = dhcp;
        }
        if let Some(types) = req.service_types {
            check_service_types(&types)?;
            subnet.service_types = types;
        }
        // The new gateway must not be an address a port already holds.
        let old = &self.subnets[&id];
        for ip in reserved_addresses(&subnet) {
            let was_reserved = reserved_addresses(old).any(|r| r == ip);
            if !was_reserved && self.allocators.get(&id).is_some_and(|a| a.is_held(ip)) {
                return Err(ModelError::Ipam {
                    field: "gateway_ip".into(),
                    error: IpamError::InUse {
                        ip,
                        subnet: subnet.cidr,
                    },
                });
            }
        }
        touch(&mut subnet.meta, ctx.now);
        Ok(Outcome {
            changes: vec![
                Change::Put(Object::Subnet(subnet.clone())),
                self.revised_network(subnet.network_id, ctx),
            ],
            object: Object::Subnet(subnet),
        })
    }

    pub(crate) fn plan_delete_subnet(
        &self,
        reference: &Ref,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Subnet, reference, "")?;
        let subnet = &self.subnets[&id];
        let mut changes = Vec::new();
        for port in self.ports_of(subnet.network_id) {
            if let Some(fixed) = port.fixed_ips.iter().find(|f| f.subnet_id == id) {
                if !subnet.auto_address() {
                    return Err(ModelError::InUse {
                        kind: Kind::Subnet,
                        key: id.to_string(),
                        by: format!("port {} holds {}", port.meta.id, fixed.ip_address),
                    });
                }
                // Hosts made these addresses themselves: the ports
                // simply lose them (Neutron's rule).
                let mut port = port.clone();
                port.fixed_ips.retain(|f| f.subnet_id != id);
                changes.push(Change::Put(Object::Port(port)));
            }
        }
        changes.push(Change::Delete {
            kind: Kind::Subnet,
            id,
        });
        changes.push(self.revised_network(subnet.network_id, ctx));
        Ok(Outcome {
            object: Object::Subnet(subnet.clone()),
            changes,
        })
    }

    /// Validates a subnet request against its network (and against
    /// `siblings` created in the same transaction) and builds the subnet.
    fn build_subnet(
        &self,
        network: &VirtualNetwork,
        siblings: &[&Subnet],
        req: CreateSubnet,
        field: &str,
        ctx: &mut Ctx<'_>,
    ) -> Result<Subnet, ModelError> {
        let at = |name: &str| {
            if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        };
        validate::new_id(self, Kind::Subnet, req.id).map_err(|e| prefix_field(e, field))?;
        validate::text(&at("name"), &req.name)?;
        validate::text(&at("description"), &req.description)?;
        validate::tags(&req.tags).map_err(|e| prefix_field(e, field))?;
        let cidr = req.cidr;
        let room = cidr.max_len() - cidr.prefix_len();
        if room < 2 {
            return Err(ModelError::invalid(
                at("cidr"),
                format!(
                    "{cidr} leaves no room for a gateway and workloads (at most /{} for IPv{})",
                    cidr.max_len() - 2,
                    cidr.ip_version()
                ),
            ));
        }
        let existing = self.subnets_of(network.meta.id);
        if let Some(other) = existing
            .iter()
            .chain(siblings)
            .find(|s| s.cidr.overlaps(cidr))
        {
            return Err(ModelError::invalid(
                at("cidr"),
                format!(
                    "{cidr} overlaps subnet {} ({}) of network {}",
                    other.cidr, other.meta.id, network.fq_name
                ),
            ));
        }
        let gateway_ip = match req.gateway_ip {
            None => cidr.addr_at(1),
            Some(None) => None,
            Some(Some(ip)) => Some(check_own_address(cidr, ip, &at("gateway_ip"))?),
        };
        let dns_service_ip = match req.dns_service_ip {
            None => cidr.addr_at(2),
            Some(None) => None,
            Some(Some(ip)) => Some(check_own_address(cidr, ip, &at("dns_service_ip"))?),
        };
        let allocation_pools = match req.allocation_pools {
            Some(pools) => pools,
            None => SubnetAllocator::default_pools(cidr, gateway_ip)
                .into_iter()
                .map(|(start, end)| AllocationPool { start, end })
                .collect(),
        };
        let subnet = Subnet {
            meta: ctx.meta(req.id, req.description, req.tags),
            name: req.name,
            network_id: network.meta.id,
            project_id: network.project_id,
            cidr,
            ip_version: cidr.ip_version(),
            gateway_ip,
            dns_service_ip,
            allocation_pools,
            host_routes: req.host_routes,
            dns_nameservers: req.dns_nameservers,
            enable_dhcp: req.enable_dhcp.unwrap_or(true),
            ipv6_ra_mode: req.ipv6_ra_mode,
            ipv6_address_mode: req.ipv6_address_mode,
            service_types: req.service_types,
        };
        if let Some(mtu) = network.mtu {
            check_subnets_fit(network.meta.id, mtu, &[subnet.ip_version])?;
        }
        check_service_types(&subnet.service_types).map_err(|e| prefix_field(e, field))?;
        check_ipv6_modes(&subnet).map_err(|e| prefix_field(e, field))?;
        check_pools(&subnet).map_err(|e| prefix_field(e, field))?;
        check_routes_and_servers(&subnet).map_err(|e| prefix_field(e, field))?;
        Ok(subnet)
    }

    /// A network with its revision bumped because one of its subnets
    /// changed (Neutron's revision plugin: a subnet revises its network).
    fn revised_network(&self, id: uuid::Uuid, ctx: &Ctx<'_>) -> Change {
        let mut network = self.networks[&id].clone();
        touch(&mut network.meta, ctx.now);
        Change::Put(Object::VirtualNetwork(network))
    }

    /// The largest MTU that fits the overlay: the underlay's less the
    /// largest overhead among the encapsulations in use.
    pub fn overlay_mtu(&self) -> u32 {
        let overhead = self
            .global
            .as_ref()
            .and_then(|g| g.encapsulation_priority.iter().map(|e| e.overhead()).max())
            .unwrap_or(Encapsulation::Vxlan.overhead());
        UNDERLAY_MTU.saturating_sub(overhead)
    }

    /// The MTU a network's workloads are told: its own, capped by what
    /// fits the overlay (encapsulations may change after it was set).
    pub fn network_mtu(&self, network: &VirtualNetwork) -> u32 {
        let fits = self.overlay_mtu();
        network.mtu.map_or(fits, |mtu| mtu.min(fits))
    }

    fn check_mtu(&self, mtu: u32) -> Result<(), ModelError> {
        let max = self.overlay_mtu();
        if mtu == 0 {
            return Err(ModelError::invalid(
                "mtu",
                "must be positive (leave it out for the largest that fits)",
            ));
        }
        if mtu > max {
            return Err(ModelError::invalid(
                "mtu",
                format!("Requested MTU is too big, maximum is {max}"),
            ));
        }
        Ok(())
    }

    fn next_vn_id(&self) -> Result<u32, ModelError> {
        let mut candidate = validate::lowest_free(&self.vn_ids, 1);
        // In automatic mode the VNI is the VN id: skip ids whose VNI a
        // network has configured for itself.
        while let Some(id) = candidate {
            let clash = self
                .networks
                .values()
                .any(|n| n.vxlan_id_configured && n.vxlan_id.get() == id);
            if !clash {
                return Ok(id);
            }
            let mut used = self.vn_ids.clone();
            used.insert(id);
            candidate = validate::lowest_free(&used, id);
        }
        Err(ModelError::conflict(
            "fq_name",
            "no virtual-network id left",
        ))
    }

    fn automatic_vni(&self, vn_id: u32) -> Result<Vni, ModelError> {
        Vni::new(vn_id).map_err(|e| ModelError::conflict("vxlan_id", e.to_string()))
    }

    fn check_vni_free(&self, vni: Vni, except: Option<uuid::Uuid>) -> Result<(), ModelError> {
        if let Some(other) = self
            .networks
            .values()
            .find(|n| n.vxlan_id == vni && Some(n.meta.id) != except)
        {
            return Err(ModelError::conflict(
                "vxlan_id",
                format!("VNI {vni} is already used by network {}", other.fq_name),
            ));
        }
        Ok(())
    }

    fn route_targets(
        &self,
        requested: Option<Vec<RouteTarget>>,
        vn_id: u32,
        field: &str,
    ) -> Result<(Vec<RouteTarget>, bool), ModelError> {
        match requested {
            Some(targets) if !targets.is_empty() => {
                let unique: BTreeSet<_> = targets.iter().collect();
                if unique.len() != targets.len() {
                    return Err(ModelError::invalid(field, "a route target is given twice"));
                }
                Ok((targets, true))
            }
            _ => {
                let asn = self
                    .global
                    .as_ref()
                    .map(|g| g.asn)
                    .unwrap_or(weft_types::Asn::DEFAULT);
                Ok((vec![RouteTarget::automatic(asn, vn_id)], false))
            }
        }
    }
}

/// Checks that `ip` can be a subnet's own address (gateway, DNS).
fn check_own_address(cidr: Prefix, ip: IpAddr, field: &str) -> Result<IpAddr, ModelError> {
    let probe = SubnetAllocator::new(cidr, &[]).and_then(|a| a.check_available(ip));
    match probe {
        Ok(()) => Ok(ip),
        Err(error) => Err(ModelError::Ipam {
            field: field.into(),
            error,
        }),
    }
}

/// Pools must be valid, inside the subnet, disjoint, and clear of the gateway.
fn check_pools(subnet: &Subnet) -> Result<(), ModelError> {
    let pools: Vec<(IpAddr, IpAddr)> = subnet
        .allocation_pools
        .iter()
        .map(|p| (p.start, p.end))
        .collect();
    SubnetAllocator::new(subnet.cidr, &pools).map_err(|error| ModelError::Ipam {
        field: "allocation_pools".into(),
        error,
    })?;
    if let Some(gateway) = subnet.gateway_ip
        && let Some(pool) = subnet
            .allocation_pools
            .iter()
            .find(|p| (p.start..=p.end).contains(&gateway))
    {
        return Err(ModelError::invalid(
            "allocation_pools",
            format!(
                "pool {}-{} contains the gateway {gateway}",
                pool.start, pool.end
            ),
        ));
    }
    Ok(())
}

/// Host routes and DNS servers must be of the subnet's family.
fn check_routes_and_servers(subnet: &Subnet) -> Result<(), ModelError> {
    let v4 = subnet.cidr.is_ipv4();
    for (i, route) in subnet.host_routes.iter().enumerate() {
        if route.destination.is_ipv4() != v4 || route.nexthop.is_ipv4() != v4 {
            return Err(ModelError::invalid(
                format!("host_routes[{i}]"),
                format!("must be IPv{} like the subnet", subnet.ip_version),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, server) in subnet.dns_nameservers.iter().enumerate() {
        if !seen.insert(server) {
            return Err(ModelError::invalid(
                format!("dns_nameservers[{i}]"),
                format!("{server} is given twice"),
            ));
        }
    }
    Ok(())
}

/// Puts `prefix.` in front of an error's field (for nested subnets).
fn prefix_field(error: ModelError, prefix: &str) -> ModelError {
    if prefix.is_empty() {
        return error;
    }
    match error {
        ModelError::Invalid { field, reason } => ModelError::Invalid {
            field: format!("{prefix}.{field}"),
            reason,
        },
        ModelError::Ipam { field, error } => ModelError::Ipam {
            field: format!("{prefix}.{field}"),
            error,
        },
        ModelError::AlreadyExists { field, kind, name } => ModelError::AlreadyExists {
            field: format!("{prefix}.{field}"),
            kind,
            name,
        },
        other => other,
    }
}

/// IPv6 modes only on IPv6 subnets; if both are given they agree.
fn check_ipv6_modes(subnet: &Subnet) -> Result<(), ModelError> {
    let modes = [
        ("ipv6_ra_mode", subnet.ipv6_ra_mode),
        ("ipv6_address_mode", subnet.ipv6_address_mode),
    ];
    if subnet.ip_version != 6
        && let Some((field, _)) = modes.iter().find(|(_, m)| m.is_some())
    {
        return Err(ModelError::invalid(
            *field,
            "can be set only on IPv6 subnets",
        ));
    }
    if subnet.auto_address() && subnet.cidr.prefix_len() != 64 {
        return Err(ModelError::invalid(
            "ipv6_address_mode",
            format!(
                "{} is not a /64: hosts making their own addresses (EUI-64) need one",
                subnet.cidr
            ),
        ));
    }
    if let (Some(ra), Some(address)) = (subnet.ipv6_ra_mode, subnet.ipv6_address_mode)
        && ra != address
    {
        return Err(ModelError::invalid(
            "ipv6_ra_mode",
            format!("{ra:?} does not match ipv6_address_mode {address:?}"),
        ));
    }
    Ok(())
}

/// Service types are device owners: non-empty text, each once.
fn check_service_types(types: &[String]) -> Result<(), ModelError> {
    for (i, t) in types.iter().enumerate() {
        let field = format!("service_types[{i}]");
        if t.is_empty() {
            return Err(ModelError::invalid(field, "a service type cannot be empty"));
        }
        validate::text(&field, t)?;
        if types[..i].contains(t) {
            return Err(ModelError::invalid(field, format!("'{t}' is given twice")));
        }
    }
    Ok(())
}

/// The smallest MTU IPv4 works with (RFC 791) and IPv6 (RFC 8200).
const IPV4_MIN_MTU: u32 = 68;
const IPV6_MIN_MTU: u32 = 1280;

/// Whether subnets of these IP versions work on a network with `mtu`;
/// refused as Neutron's `NetworkMTUSubnetConflict` words it.
fn check_subnets_fit(network: uuid::Uuid, mtu: u32, versions: &[u8]) -> Result<(), ModelError> {
    if versions.is_empty() || mtu >= IPV6_MIN_MTU {
        return Ok(());
    }
    let min = if mtu < IPV4_MIN_MTU {
        IPV4_MIN_MTU
    } else if versions.contains(&6) {
        IPV6_MIN_MTU
    } else {
        return Ok(());
    };
    Err(ModelError::conflict(
        "mtu",
        format!("MTU of {network} is not valid, subnet requires a minimum of {min}"),
    ))
}
