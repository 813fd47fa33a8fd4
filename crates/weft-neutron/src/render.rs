//! weft's objects in Neutron's JSON shapes: every API-reference field,
//! lists as `[]` and never `null`.

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use uuid::Uuid;
use weft_model::{
    Kind, Meta, Model, Object, Port, PortStatus, Router, SecurityGroup, SecurityGroupRule, Subnet,
    VifType, VirtualNetwork,
};

use crate::error::Resource;

/// The attributes of each resource, which are also what can be filtered
/// and sorted on.
pub(crate) fn attributes(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::Network => &[
            "id",
            "name",
            "tenant_id",
            "project_id",
            "admin_state_up",
            "status",
            "subnets",
            "shared",
            "mtu",
            "router:external",
            "port_security_enabled",
            "availability_zone_hints",
            "availability_zones",
            "description",
            "tags",
            "created_at",
            "updated_at",
            "revision_number",
        ],
        Resource::Subnet => &[
            "id",
            "name",
            "tenant_id",
            "project_id",
            "network_id",
            "ip_version",
            "cidr",
            "gateway_ip",
            "allocation_pools",
            "dns_nameservers",
            "host_routes",
            "enable_dhcp",
            "ipv6_ra_mode",
            "ipv6_address_mode",
            "subnetpool_id",
            "service_types",
            "description",
            "tags",
            "created_at",
            "updated_at",
            "revision_number",
        ],
        Resource::Port => &[
            "id",
            "name",
            "tenant_id",
            "project_id",
            "network_id",
            "mac_address",
            "admin_state_up",
            "status",
            "fixed_ips",
            "device_id",
            "device_owner",
            "security_groups",
            "allowed_address_pairs",
            "port_security_enabled",
            "binding:host_id",
            "binding:vif_type",
            "binding:vnic_type",
            "binding:profile",
            "binding:vif_details",
            "extra_dhcp_opts",
            "description",
            "tags",
            "created_at",
            "updated_at",
            "revision_number",
        ],
        Resource::SecurityGroup => &[
            "id",
            "name",
            "tenant_id",
            "project_id",
            "security_group_rules",
            "stateful",
            "shared",
            "description",
            "tags",
            "created_at",
            "updated_at",
            "revision_number",
        ],
        Resource::Router => &[
            "id",
            "name",
            "tenant_id",
            "project_id",
            "admin_state_up",
            "status",
            "external_gateway_info",
            "description",
            "tags",
            "created_at",
            "updated_at",
            "revision_number",
        ],
        Resource::SecurityGroupRule => &[
            "id",
            "tenant_id",
            "project_id",
            "security_group_id",
            "direction",
            "ethertype",
            "protocol",
            "port_range_min",
            "port_range_max",
            "remote_ip_prefix",
            "remote_group_id",
            "remote_address_group_id",
            "normalized_cidr",
            "description",
            "created_at",
            "updated_at",
            "revision_number",
        ],
    }
}

/// Attributes a list may filter on that objects do not show: a subnet's
/// `shared` is its network's.
pub(crate) fn filter_only(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::Subnet => &["shared"],
        _ => &[],
    }
}

/// Neutron's time format: seconds, UTC.
fn time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The id a project is known by in Neutron: the orchestrator's id if the
/// project came from one, else weft's id without dashes (Keystone's form).
pub(crate) fn project_ref(model: &Model, project: Uuid) -> String {
    match model.get(Kind::Project, project) {
        Some(Object::Project(p)) => p
            .external_id
            .unwrap_or_else(|| p.meta.id.simple().to_string()),
        _ => project.simple().to_string(),
    }
}

/// The last FQ-name component for a Neutron name. Neutron allows empty and
/// repeated names, FQ names do not: an empty name becomes the id, and a
/// taken name gets `-<id>` appended (as Tungsten Fabric's plugin does).
pub(crate) fn fq_component(name: &str, id: Uuid, taken: bool) -> String {
    if name.is_empty() {
        id.to_string()
    } else if taken {
        format!("{name}-{id}")
    } else {
        name.to_owned()
    }
}

/// The Neutron name behind an FQ-name component made by [`fq_component`].
pub(crate) fn display_name(component: &str, id: Uuid) -> String {
    let id = id.to_string();
    if component == id {
        return String::new();
    }
    match component
        .strip_suffix(&id)
        .and_then(|c| c.strip_suffix('-'))
    {
        Some(name) => name.to_owned(),
        None => component.to_owned(),
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn standard(map: &mut Map<String, Value>, meta: &Meta, project: &str) {
    map.insert("id".into(), json!(meta.id));
    map.insert("tenant_id".into(), json!(project));
    map.insert("project_id".into(), json!(project));
    map.insert("description".into(), json!(meta.description));
    map.insert("tags".into(), json!(meta.tags));
    map.insert("created_at".into(), json!(time(meta.created_at)));
    map.insert("updated_at".into(), json!(time(meta.updated_at)));
    map.insert("revision_number".into(), json!(meta.revision_number));
}

pub(crate) fn network(model: &Model, n: &VirtualNetwork) -> Map<String, Value> {
    let subnets: Vec<Uuid> = model
        .subnets_of(n.meta.id)
        .iter()
        .map(|s| s.meta.id)
        .collect();
    let mut map = object(json!({
        "name": display_name(n.name(), n.meta.id),
        "admin_state_up": n.admin_state_up,
        "status": "ACTIVE",
        "subnets": subnets,
        "shared": n.shared,
        "mtu": model.network_mtu(n),
        "router:external": false,
        "port_security_enabled": n.port_security_enabled,
        "availability_zone_hints": [],
        "availability_zones": [],
    }));
    standard(&mut map, &n.meta, &project_ref(model, n.project_id));
    map
}

pub(crate) fn subnet(model: &Model, s: &Subnet) -> Map<String, Value> {
    let mut map = object(json!({
        "name": s.name,
        "network_id": s.network_id,
        "ip_version": s.ip_version,
        "cidr": s.cidr.to_string(),
        "gateway_ip": s.gateway_ip,
        "allocation_pools": s.allocation_pools,
        "dns_nameservers": s.dns_nameservers,
        "host_routes": s.host_routes.iter().map(|r| json!({
            "destination": r.destination.to_string(),
            "nexthop": r.nexthop,
        })).collect::<Vec<_>>(),
        "enable_dhcp": s.enable_dhcp,
        "ipv6_ra_mode": s.ipv6_ra_mode,
        "ipv6_address_mode": s.ipv6_address_mode,
        "subnetpool_id": null,
        "service_types": s.service_types,
    }));
    standard(&mut map, &s.meta, &project_ref(model, s.project_id));
    map
}

pub(crate) fn port(model: &Model, p: &Port) -> Map<String, Value> {
    let vif_type = match p.vif_type {
        VifType::Unbound => "unbound",
        VifType::Tap => "tap",
        VifType::Veth => "veth",
    };
    let status = match p.status {
        PortStatus::Down => "DOWN",
        PortStatus::Build => "BUILD",
        PortStatus::Active => "ACTIVE",
        PortStatus::Error => "ERROR",
    };
    let pairs: Vec<Value> = p
        .allowed_address_pairs
        .iter()
        .map(|pair| {
            json!({
                "ip_address": pair.ip_address,
                "mac_address": pair.mac_address.unwrap_or(p.mac_address).to_string(),
            })
        })
        .collect();
    let mut map = object(json!({
        "name": p.name,
        "network_id": p.network_id,
        "mac_address": p.mac_address.to_string(),
        "admin_state_up": p.admin_state_up,
        "status": status,
        "fixed_ips": p.fixed_ips,
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "security_groups": p.security_groups,
        "allowed_address_pairs": pairs,
        "port_security_enabled": p.port_security_enabled,
        "binding:host_id": p.binding_host_id.clone().unwrap_or_default(),
        "binding:vif_type": vif_type,
        "binding:vnic_type": p.vnic_type,
        "binding:profile": p.binding_profile,
        "binding:vif_details": {},
        "extra_dhcp_opts": [],
    }));
    standard(&mut map, &p.meta, &project_ref(model, p.project_id));
    map
}

pub(crate) fn security_group(model: &Model, g: &SecurityGroup) -> Map<String, Value> {
    let mut rules: Vec<&SecurityGroupRule> = model.rules_of(g.meta.id).collect();
    rules.sort_by_key(|r| (r.meta.created_at, r.meta.id));
    let rules: Vec<Value> = rules
        .into_iter()
        .map(|r| Value::Object(security_group_rule(model, r)))
        .collect();
    let mut map = object(json!({
        "name": display_name(g.name(), g.meta.id),
        "security_group_rules": rules,
        "stateful": g.stateful,
        "shared": false,
    }));
    standard(&mut map, &g.meta, &project_ref(model, g.project_id));
    map
}

pub(crate) fn router(model: &Model, r: &Router) -> Map<String, Value> {
    let mut map = object(json!({
        "name": r.name,
        "admin_state_up": r.admin_state_up,
        "status": "ACTIVE",
        "external_gateway_info": null,
    }));
    standard(&mut map, &r.meta, &project_ref(model, r.project_id));
    map
}

pub(crate) fn security_group_rule(model: &Model, r: &SecurityGroupRule) -> Map<String, Value> {
    let prefix = r.remote_ip_prefix.map(|p| p.to_string());
    let given = r.remote_ip_prefix_given.clone().or_else(|| prefix.clone());
    let mut map = object(json!({
        "security_group_id": r.security_group_id,
        "direction": r.direction,
        "ethertype": r.ethertype,
        "protocol": r.protocol,
        "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max,
        "remote_ip_prefix": given,
        "remote_group_id": r.remote_group_id,
        "remote_address_group_id": null,
        "normalized_cidr": prefix,
    }));
    standard(&mut map, &r.meta, &project_ref(model, r.project_id));
    map.remove("tags");
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_fq_components() {
        let id = Uuid::from_u128(7);
        for (name, taken) in [
            ("seamless", false),
            ("seamless", true),
            ("", false),
            ("a-b", true),
        ] {
            let component = fq_component(name, id, taken);
            assert_eq!(display_name(&component, id), name, "{component}");
        }
        assert_eq!(fq_component("seamless", id, false), "seamless");
    }
}
