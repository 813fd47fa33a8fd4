//! Ports: addresses from the one IPAM, MACs, security groups, binding.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use uuid::Uuid;
use weft_types::{MacAddr, Prefix};

use crate::error::ModelError;
use crate::ipam::IpamError;
use crate::model::{Ctx, Model, Outcome, touch};
use crate::objects::{
    AddressPair, Change, FixedIp, Kind, Object, Port, PortStatus, Subnet, VifType,
};
use crate::project::DEFAULT_GROUP;
use crate::request::{CreatePort, FixedIpRequest, Ref, UpdatePort};
use crate::validate;

/// Neutron's base for generated MAC addresses.
const MAC_BASE: [u8; 3] = [0xfa, 0x16, 0x3e];

/// VNIC types Neutron knows; weft plugs `normal` ones.
const VNIC_TYPES: [&str; 9] = [
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "remote-managed",
];

impl Model {
    pub(crate) fn plan_create_port(
        &self,
        req: CreatePort,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let network_id = self.resolve(Kind::VirtualNetwork, &req.network, "network")?;
        let network = &self.networks[&network_id];
        let project_id = match &req.project {
            Some(project) => self.resolve(Kind::Project, project, "project")?,
            None => network.project_id,
        };
        validate::new_id(self, Kind::Port, req.id)?;
        validate::text("name", &req.name)?;
        validate::description(&req.description)?;
        validate::tags(&req.tags)?;
        validate::text("device_owner", &req.device_owner)?;
        validate::text("device_id", &req.device_id)?;

        let mac_address = match req.mac_address {
            Some(mac) => {
                self.check_mac(network_id, mac)?;
                mac
            }
            None => self.generate_mac(network_id, ctx)?,
        };
        let fixed_ips = match &req.fixed_ips {
            Some(requests) => self.plan_addresses(network_id, requests, None)?,
            None => self.default_addresses(network_id, &req.device_owner, mac_address)?,
        };
        let port_security_enabled = req
            .port_security_enabled
            .unwrap_or(network.port_security_enabled);
        let security_groups = match &req.security_groups {
            Some(groups) => self.resolve_groups(groups)?,
            None if port_security_enabled && !req.device_owner.starts_with("network:") => {
                self.default_group_of(project_id).into_iter().collect()
            }
            None => Vec::new(),
        };
        check_security(
            port_security_enabled,
            &security_groups,
            &req.allowed_address_pairs,
        )?;
        check_address_pairs(&req.allowed_address_pairs)?;
        let vnic_type = req.vnic_type.unwrap_or_else(|| "normal".into());
        check_vnic_type(&vnic_type)?;
        let vif_type = binding_vif_type(
            req.binding_host_id.as_deref(),
            req.vif_type,
            VifType::Unbound,
        )?;

        let port = Port {
            meta: ctx.meta(req.id, req.description, req.tags),
            name: req.name,
            project_id,
            network_id,
            mac_address,
            fixed_ips,
            security_groups,
            allowed_address_pairs: req.allowed_address_pairs,
            port_security_enabled,
            admin_state_up: req.admin_state_up.unwrap_or(true),
            binding_host_id: req.binding_host_id,
            vif_type,
            vnic_type,
            binding_profile: req.binding_profile.unwrap_or_default(),
            device_owner: req.device_owner,
            device_id: req.device_id,
            status: PortStatus::Down,
        };
        Ok(Outcome {
            changes: vec![Change::Put(Object::Port(port.clone()))],
            object: Object::Port(port),
        })
    }

    pub(crate) fn plan_update_port(
        &self,
        reference: &Ref,
        req: UpdatePort,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Port, reference, "")?;
        let old = &self.ports[&id];
        let mut port = old.clone();
        if let Some(name) = req.name {
            validate::text("name", &name)?;
            port.name = name;
        }
        if let Some(description) = req.description {
            validate::description(&description)?;
            port.meta.description = description;
        }
        if let Some(tags) = req.tags {
            validate::tags(&tags)?;
            port.meta.tags = tags;
        }
        if let Some(mac) = req.mac_address
            && mac != port.mac_address
        {
            if port.binding_host_id.is_some() {
                return Err(ModelError::conflict(
                    "mac_address",
                    "cannot change the MAC address of a bound port",
                ));
            }
            self.check_mac(port.network_id, mac)?;
            port.mac_address = mac;
        }
        if let Some(requests) = &req.fixed_ips {
            port.fixed_ips = self.plan_addresses(port.network_id, requests, Some(old))?;
        }
        if let Some(enabled) = req.port_security_enabled {
            port.port_security_enabled = enabled;
        }
        if let Some(groups) = &req.security_groups {
            port.security_groups = self.resolve_groups(groups)?;
        }
        if let Some(pairs) = req.allowed_address_pairs {
            port.allowed_address_pairs = pairs;
        }
        check_security(
            port.port_security_enabled,
            &port.security_groups,
            &port.allowed_address_pairs,
        )?;
        check_address_pairs(&port.allowed_address_pairs)?;
        if let Some(up) = req.admin_state_up {
            port.admin_state_up = up;
        }
        if let Some(vnic_type) = req.vnic_type {
            check_vnic_type(&vnic_type)?;
            port.vnic_type = vnic_type;
        }
        if let Some(profile) = req.binding_profile {
            port.binding_profile = profile;
        }
        match req.binding_host_id {
            Some(host) => {
                if host != port.binding_host_id {
                    port.status = PortStatus::Down;
                }
                port.vif_type = binding_vif_type(host.as_deref(), req.vif_type, port.vif_type)?;
                port.binding_host_id = host;
            }
            None => {
                port.vif_type =
                    binding_vif_type(port.binding_host_id.as_deref(), req.vif_type, port.vif_type)?;
            }
        }
        if let Some(owner) = req.device_owner {
            validate::text("device_owner", &owner)?;
            port.device_owner = owner;
        }
        if let Some(device) = req.device_id {
            validate::text("device_id", &device)?;
            port.device_id = device;
        }
        if let Some(status) = req.status {
            port.status = status;
        }
        touch(&mut port.meta, ctx.now);
        Ok(Outcome {
            changes: vec![Change::Put(Object::Port(port.clone()))],
            object: Object::Port(port),
        })
    }

    pub(crate) fn plan_delete_port(&self, reference: &Ref) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Port, reference, "")?;
        if let Some(lb) = self.load_balancer_on(id) {
            return Err(ModelError::InUse {
                kind: Kind::Port,
                key: id.to_string(),
                by: format!("it holds the address of load balancer {}", lb.fq_name),
            });
        }
        Ok(Outcome {
            object: Object::Port(self.ports[&id].clone()),
            changes: vec![Change::Delete {
                kind: Kind::Port,
                id,
            }],
        })
    }

    /// The project's `default` group, if it still exists.
    pub fn default_group_of(&self, project: Uuid) -> Option<Uuid> {
        let name = self
            .projects
            .get(&project)?
            .fq_name
            .child(DEFAULT_GROUP)
            .ok()?;
        self.names.get(&(Kind::SecurityGroup, name)).copied()
    }

    /// One address from the first IPv4 subnet with room, one from the first
    /// IPv6 subnet with room where addresses are assigned, and the EUI-64
    /// address (from the MAC) in every IPv6 subnet where hosts make their
    /// own (SLAAC, DHCPv6-stateless) — among the subnets whose service types
    /// name the port's device owner if there are any, else among those
    /// without service types.
    fn default_addresses(
        &self,
        network: Uuid,
        device_owner: &str,
        mac: MacAddr,
    ) -> Result<Vec<FixedIp>, ModelError> {
        let all = self.subnets_of(network);
        let serves = |s: &&Subnet| s.service_types.iter().any(|t| t == device_owner);
        let subnets: Vec<&Subnet> = if all.iter().any(serves) {
            all.iter().copied().filter(|s| serves(s)).collect()
        } else {
            all.iter()
                .copied()
                .filter(|s| s.service_types.is_empty())
                .collect()
        };
        if subnets.is_empty() && !all.is_empty() {
            return Err(ModelError::invalid(
                "fixed_ips",
                format!("no subnet of the network serves device owner '{device_owner}'"),
            ));
        }
        let mut out = Vec::new();
        for subnet in subnets.iter().filter(|s| s.auto_address()) {
            let ip = eui64(subnet.cidr, mac);
            if self
                .allocators
                .get(&subnet.meta.id)
                .is_some_and(|a| a.is_held(ip))
            {
                return Err(ModelError::Ipam {
                    field: "fixed_ips".into(),
                    error: IpamError::InUse {
                        ip,
                        subnet: subnet.cidr,
                    },
                });
            }
            out.push(FixedIp {
                subnet_id: subnet.meta.id,
                ip_address: ip,
            });
        }
        for version in [4u8, 6] {
            let mut first_error = None;
            for subnet in subnets
                .iter()
                .filter(|s| s.ip_version == version && !s.auto_address())
            {
                let Some(allocator) = self.allocators.get(&subnet.meta.id) else {
                    continue;
                };
                match allocator.peek_lowest(&BTreeSet::new()) {
                    Ok(ip) => {
                        out.push(FixedIp {
                            subnet_id: subnet.meta.id,
                            ip_address: ip,
                        });
                        first_error = None;
                        break;
                    }
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            if let Some(error) = first_error {
                return Err(ModelError::Ipam {
                    field: "fixed_ips".into(),
                    error,
                });
            }
        }
        Ok(out)
    }

    /// Works out the addresses a port asks for. Addresses the port already
    /// holds (`current`) stay valid for it.
    fn plan_addresses(
        &self,
        network: Uuid,
        requests: &[FixedIpRequest],
        current: Option<&Port>,
    ) -> Result<Vec<FixedIp>, ModelError> {
        let held_by_self =
            |ip: IpAddr| current.is_some_and(|p| p.fixed_ips.iter().any(|f| f.ip_address == ip));
        let subnets = self.subnets_of(network);
        let mut promised: HashMap<Uuid, BTreeSet<IpAddr>> = HashMap::new();
        let mut out: Vec<FixedIp> = Vec::with_capacity(requests.len());
        // Specific addresses first, so that automatic picks avoid them.
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by_key(|&i| requests[i].ip_address.is_none());
        let mut slots: Vec<Option<FixedIp>> = vec![None; requests.len()];
        for i in order {
            let request = requests[i];
            let field = format!("fixed_ips[{i}]");
            let subnet = match (request.subnet_id, request.ip_address) {
                (Some(subnet_id), _) => subnets
                    .iter()
                    .find(|s| s.meta.id == subnet_id)
                    .ok_or_else(|| {
                        ModelError::invalid(
                            format!("{field}.subnet_id"),
                            format!("subnet {subnet_id} is not a subnet of this port's network"),
                        )
                    })?,
                (None, Some(ip)) => {
                    subnets
                        .iter()
                        .find(|s| s.cidr.contains(ip))
                        .ok_or_else(|| {
                            ModelError::invalid(
                                format!("{field}.ip_address"),
                                format!("{ip} is not inside any subnet of this port's network"),
                            )
                        })?
                }
                (None, None) => {
                    return Err(ModelError::invalid(
                        field,
                        "give a subnet_id, an ip_address, or both",
                    ));
                }
            };
            let sid = subnet.meta.id;
            let allocator = self.allocators.get(&sid).ok_or_else(|| {
                ModelError::invalid(format!("{field}.subnet_id"), "subnet has no allocator")
            })?;
            let taken = promised.entry(sid).or_default();
            let ip = match request.ip_address {
                Some(ip) => {
                    let ip_field = format!("{field}.ip_address");
                    if !subnet.cidr.contains(ip) {
                        return Err(ModelError::Ipam {
                            field: ip_field,
                            error: IpamError::OutsideSubnet {
                                ip,
                                subnet: subnet.cidr,
                            },
                        });
                    }
                    if taken.contains(&ip) {
                        return Err(ModelError::invalid(
                            ip_field,
                            format!("{ip} is asked for twice"),
                        ));
                    }
                    if !held_by_self(ip) {
                        allocator
                            .check_available(ip)
                            .map_err(|error| ModelError::Ipam {
                                field: ip_field,
                                error,
                            })?;
                    }
                    ip
                }
                None => allocator
                    .peek_lowest(taken)
                    .map_err(|error| ModelError::Ipam {
                        field: field.clone(),
                        error,
                    })?,
            };
            taken.insert(ip);
            slots[i] = Some(FixedIp {
                subnet_id: sid,
                ip_address: ip,
            });
        }
        out.extend(slots.into_iter().flatten());
        Ok(out)
    }

    fn check_mac(&self, network: Uuid, mac: MacAddr) -> Result<(), ModelError> {
        mac.check_unicast()
            .map_err(|e| ModelError::invalid("mac_address", e.to_string()))?;
        if self.macs.contains(&(network, mac)) {
            return Err(ModelError::conflict(
                "mac_address",
                format!("{mac} is already used by another port of this network"),
            ));
        }
        Ok(())
    }

    fn generate_mac(&self, network: Uuid, ctx: &mut Ctx<'_>) -> Result<MacAddr, ModelError> {
        for _ in 0..32 {
            let [a, b, c] = ctx.entropy.mac_tail();
            let mac = MacAddr([MAC_BASE[0], MAC_BASE[1], MAC_BASE[2], a, b, c]);
            if !self.macs.contains(&(network, mac)) {
                return Ok(mac);
            }
        }
        Err(ModelError::conflict(
            "mac_address",
            "could not generate a free MAC address; give one",
        ))
    }

    fn resolve_groups(&self, groups: &[Ref]) -> Result<Vec<Uuid>, ModelError> {
        let mut out: Vec<Uuid> = Vec::with_capacity(groups.len());
        for (i, group) in groups.iter().enumerate() {
            let id = self.resolve(Kind::SecurityGroup, group, &format!("security_groups[{i}]"))?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
        // A port's traffic is either tracked or not: Neutron refuses a mix.
        let stateful = |id: &Uuid| self.groups.get(id).is_some_and(|g| g.stateful);
        if out.iter().any(stateful) && !out.iter().all(stateful) {
            return Err(ModelError::conflict(
                "security_groups",
                "Cannot apply both stateful and stateless security groups on the same port at the same time",
            ));
        }
        Ok(out)
    }
}

/// With port security off a port has no groups and no extra addresses.
fn check_security(enabled: bool, groups: &[Uuid], pairs: &[AddressPair]) -> Result<(), ModelError> {
    if enabled {
        return Ok(());
    }
    if !groups.is_empty() {
        return Err(ModelError::conflict(
            "port_security_enabled",
            "port security is off, so the port can have no security groups (set security_groups to [])",
        ));
    }
    if !pairs.is_empty() {
        return Err(ModelError::conflict(
            "port_security_enabled",
            "port security is off, so allowed_address_pairs has no meaning (set it to [])",
        ));
    }
    Ok(())
}

fn check_address_pairs(pairs: &[AddressPair]) -> Result<(), ModelError> {
    let mut seen = BTreeSet::new();
    for (i, pair) in pairs.iter().enumerate() {
        let field = format!("allowed_address_pairs[{i}]");
        let prefix = match pair.ip_address.parse::<IpAddr>() {
            Ok(ip) => Prefix::host(ip),
            Err(_) => Prefix::parse_strict(&pair.ip_address)
                .map_err(|e| ModelError::invalid(format!("{field}.ip_address"), e.to_string()))?,
        };
        if let Some(mac) = pair.mac_address {
            mac.check_unicast()
                .map_err(|e| ModelError::invalid(format!("{field}.mac_address"), e.to_string()))?;
        }
        if !seen.insert((prefix, pair.mac_address)) {
            return Err(ModelError::invalid(field, "given twice"));
        }
    }
    Ok(())
}

fn check_vnic_type(vnic_type: &str) -> Result<(), ModelError> {
    if !VNIC_TYPES.contains(&vnic_type) {
        return Err(ModelError::invalid(
            "vnic_type",
            format!("'{vnic_type}' is not one of {}", VNIC_TYPES.join(", ")),
        ));
    }
    Ok(())
}

/// The attachment type once `host` is (or is not) set.
fn binding_vif_type(
    host: Option<&str>,
    requested: Option<VifType>,
    current: VifType,
) -> Result<VifType, ModelError> {
    match host {
        None => match requested {
            None | Some(VifType::Unbound) => Ok(VifType::Unbound),
            Some(_) => Err(ModelError::invalid(
                "vif_type",
                "needs binding_host_id: only a bound port has an attachment type",
            )),
        },
        Some(host) => {
            if host.is_empty() {
                return Err(ModelError::invalid("binding_host_id", "cannot be empty"));
            }
            validate::text("binding_host_id", host)?;
            match requested {
                Some(VifType::Unbound) => Err(ModelError::invalid(
                    "vif_type",
                    "a bound port cannot be 'unbound'",
                )),
                Some(vif) => Ok(vif),
                None if current != VifType::Unbound => Ok(current),
                None => Ok(VifType::Tap),
            }
        }
    }
}

/// The EUI-64 address of `mac` in a /64: the MAC with its universal/local
/// bit flipped and ff:fe in the middle, as the host's interface id.
fn eui64(prefix: Prefix, mac: MacAddr) -> IpAddr {
    let m = mac.octets();
    let iid = u64::from_be_bytes([m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]);
    match prefix.network() {
        IpAddr::V6(net) => {
            let high = u128::from(net) & !u128::from(u64::MAX);
            IpAddr::V6(std::net::Ipv6Addr::from(high | u128::from(iid)))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod eui64_tests {
    use super::*;

    #[test]
    fn eui64_follows_the_mac() {
        let prefix = Prefix::parse_strict("2001:db8::/64").unwrap_or_else(|e| panic!("{e}"));
        let mac = MacAddr([0xfa, 0x16, 0x3e, 0xef, 0x42, 0x77]);
        assert_eq!(
            eui64(prefix, mac).to_string(),
            "2001:db8::f816:3eff:feef:4277"
        );
    }
}
