//! Neutron requests as model commands. Policy checks that depend on the
//! caller (admin-only attributes, other projects) happen here too, before
//! anything is submitted.

use std::net::IpAddr;

use uuid::Uuid;
use weft_model::{
    AddressPair, AllocationPool, Command, CreateNetwork, CreatePort, CreateRouter,
    CreateSecurityGroup, CreateSecurityGroupRule, CreateSubnet, DEFAULT_GROUP, Direction,
    Ethertype, FixedIpRequest, HostRoute, Ipv6Mode, Kind, Model, Object, Ref, UpdateNetwork,
    UpdatePort, UpdateRouter, UpdateSecurityGroup, UpdateSubnet,
};
use weft_types::{FqName, MacAddr, Prefix};

use crate::body::Attrs;
use crate::error::{NeutronError, Resource};
use crate::render::fq_component;

/// The caller of a request, with its weft project.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub project: Uuid,
    /// The project's id as the orchestrator knows it, which RBAC policies
    /// name as their target.
    pub project_ref: String,
    pub is_admin: bool,
}

impl Caller {
    /// Whether the caller may see an object of `project` (`shared` networks
    /// and what is in them are seen by all).
    pub(crate) fn sees(&self, project: Uuid, shared: bool) -> bool {
        self.is_admin || shared || project == self.project
    }

    fn admin_only(&self, attrs: &Attrs, action: &str, keys: &[&str]) -> Result<(), NeutronError> {
        match keys.iter().find(|k| attrs.has(k)) {
            Some(key) if !self.is_admin => Err(NeutronError::policy(&format!("{action}:{key}"))),
            _ => Ok(()),
        }
    }
}

/// The project and visibility of any Neutron object.
pub(crate) fn owner(model: &Model, object: &Object) -> Option<(Uuid, bool)> {
    let network_shared = |id: Uuid| match model.get(Kind::VirtualNetwork, id) {
        Some(Object::VirtualNetwork(n)) => n.shared,
        _ => false,
    };
    Some(match object {
        Object::VirtualNetwork(n) => (n.project_id, n.shared),
        Object::Subnet(s) => (s.project_id, network_shared(s.network_id)),
        Object::Port(p) => (p.project_id, false),
        Object::SecurityGroup(g) => (g.project_id, false),
        Object::SecurityGroupRule(r) => (r.project_id, false),
        Object::Router(r) => (r.project_id, false),
        _ => return None,
    })
}

/// Looks up an object the caller may see; anything else is "not found".
pub(crate) fn visible(
    model: &Model,
    caller: &Caller,
    resource: Resource,
    id: Uuid,
) -> Result<Object, NeutronError> {
    let kind = kind_of(resource);
    model
        .get(kind, id)
        .filter(|o| sees_object(model, caller, o))
        .ok_or_else(|| NeutronError::not_found(resource, id))
}

/// Looks up an object the caller may `action` (`update`, `delete`): one it
/// sees and owns, or any it sees for an admin. Returns it with its project.
/// Seen (shared) but not owned: Neutron's policy refusal.
pub(crate) fn changeable(
    model: &Model,
    caller: &Caller,
    resource: Resource,
    id: Uuid,
    action: &str,
) -> Result<(Object, Uuid), NeutronError> {
    let object = visible(model, caller, resource, id)?;
    let (project, _) = owner(model, &object).unwrap_or((caller.project, false));
    if project != caller.project && !caller.is_admin {
        return Err(NeutronError::policy(&format!(
            "{action}_{}",
            resource.singular()
        )));
    }
    Ok((object, project))
}

/// Whether the caller may see an object: its own, a shared network and
/// what is in it, or a security group an RBAC policy shares with it.
pub(crate) fn sees_object(model: &Model, caller: &Caller, object: &Object) -> bool {
    let Some((project, shared)) = owner(model, object) else {
        return false;
    };
    caller.sees(project, shared)
        || matches!(object, Object::SecurityGroup(g) if model.shared_with(g.meta.id, &caller.project_ref))
}

/// Neutron's check of a port's groups: a member may use only groups of the
/// port's project or shared with it (others are "not found").
fn check_port_groups(
    model: &Model,
    caller: &Caller,
    project: Uuid,
    groups: Option<&[Ref]>,
) -> Result<(), NeutronError> {
    if caller.is_admin {
        return Ok(());
    }
    let project_ref = model.orchestrator_id(project);
    let missing: Vec<String> = groups
        .unwrap_or_default()
        .iter()
        .filter_map(|g| match g {
            Ref::Id(id) => Some(*id),
            Ref::Name(_) => None,
        })
        .filter(|id| match model.get(Kind::SecurityGroup, *id) {
            Some(Object::SecurityGroup(g)) => {
                g.project_id != project && !model.shared_with(g.meta.id, &project_ref)
            }
            _ => true,
        })
        .map(|id| id.to_string())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(NeutronError::not_found(
            Resource::SecurityGroup,
            missing.join(", "),
        ))
    }
}

/// The MTU a request asks for: Neutron's 0 is "the largest that fits".
fn mtu(attrs: &Attrs) -> Result<Option<Option<u32>>, NeutronError> {
    let Some(value) = attrs.integer("mtu")? else {
        return Ok(None);
    };
    match u32::try_from(value) {
        Ok(0) => Ok(Some(None)),
        Ok(mtu) => Ok(Some(Some(mtu))),
        Err(_) => Err(NeutronError::invalid(format!(
            "'{value}' should be non-negative"
        ))),
    }
}

pub(crate) fn kind_of(resource: Resource) -> Kind {
    match resource {
        Resource::Network => Kind::VirtualNetwork,
        Resource::Subnet => Kind::Subnet,
        Resource::Port => Kind::Port,
        Resource::SecurityGroup => Kind::SecurityGroup,
        Resource::SecurityGroupRule => Kind::SecurityGroupRule,
        Resource::Router => Kind::Router,
    }
}

/// A UUID attribute; absent, `null` and `""` all mean none (Neutron's
/// clients send `"remote_group_id": null`).
fn uuid_attr(attrs: &Attrs, key: &str) -> Result<Option<Uuid>, NeutronError> {
    match attrs.text(key)?.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => Uuid::try_parse(&text)
            .map(Some)
            .map_err(|_| NeutronError::invalid(format!("'{text}' is not a valid UUID"))),
    }
}

fn required<T>(value: Option<T>, key: &str) -> Result<T, NeutronError> {
    value.ok_or_else(|| {
        NeutronError::bad_request(format!(
            "Failed to parse request. Required attribute '{key}' not specified"
        ))
    })
}

/// The FQ name of a new network or group in `project` for a Neutron name.
fn child_name(
    model: &Model,
    kind: Kind,
    project: Uuid,
    name: &str,
    id: Uuid,
) -> Result<FqName, NeutronError> {
    let Some(Object::Project(p)) = model.get(Kind::Project, project) else {
        return Err(NeutronError::invalid(format!(
            "project {project} does not exist"
        )));
    };
    let plain = p
        .fq_name
        .child(&fq_component(name, id, false))
        .map_err(|e| NeutronError::invalid(format!("name '{name}': {e}")))?;
    let taken = model
        .resolve(kind, &Ref::Name(plain.clone()), "")
        .is_ok_and(|other| other != id);
    if !taken {
        return Ok(plain);
    }
    p.fq_name
        .child(&fq_component(name, id, true))
        .map_err(|e| NeutronError::invalid(format!("name '{name}': {e}")))
}

pub(crate) fn create_network(
    model: &Model,
    caller: &Caller,
    project: Uuid,
    attrs: &Attrs,
) -> Result<Command, NeutronError> {
    let shared = attrs.flag("shared")?.unwrap_or(false);
    if shared && !caller.is_admin {
        return Err(NeutronError::policy("create_network:shared"));
    }
    check_supported(attrs)?;
    let id = Uuid::new_v4();
    let name = attrs.text("name")?.unwrap_or_default();
    Ok(Command::CreateNetwork(CreateNetwork {
        fq_name: child_name(model, Kind::VirtualNetwork, project, &name, id)?,
        id: Some(id),
        description: attrs.text("description")?.unwrap_or_default(),
        tags: attrs.get("tags")?.unwrap_or_default(),
        subnets: Vec::new(),
        vxlan_id: None,
        route_targets: None,
        forwarding_mode: None,
        shared,
        admin_state_up: attrs.flag("admin_state_up")?,
        fabric_snat: false,
        mtu: mtu(attrs)?.flatten(),
    }))
}

/// Network attributes weft accepts only at their default values.
fn check_supported(attrs: &Attrs) -> Result<(), NeutronError> {
    attrs.flag("port_security_enabled")?;
    if attrs.flag("router:external")? == Some(true) {
        return Err(NeutronError::invalid("external networks are not supported"));
    }
    if let Some(hints) = attrs.get::<Vec<String>>("availability_zone_hints")?
        && !hints.is_empty()
    {
        return Err(NeutronError::invalid(
            "availability zones are not supported",
        ));
    }
    Ok(())
}

pub(crate) fn update_network(
    model: &Model,
    caller: &Caller,
    id: Uuid,
    project: Uuid,
    attrs: &Attrs,
) -> Result<Command, NeutronError> {
    if attrs.has("shared") && !caller.is_admin {
        return Err(NeutronError::policy("update_network:shared"));
    }
    check_supported(attrs)?;
    let name = match attrs.text("name")? {
        Some(name) => {
            let fq = child_name(model, Kind::VirtualNetwork, project, &name, id)?;
            Some(fq.name().to_owned())
        }
        None => None,
    };
    Ok(Command::UpdateNetwork(
        Ref::Id(id),
        UpdateNetwork {
            name,
            description: attrs.text("description")?,
            shared: attrs.flag("shared")?,
            admin_state_up: attrs.flag("admin_state_up")?,
            port_security_enabled: attrs.flag("port_security_enabled")?,
            mtu: mtu(attrs)?,
            ..UpdateNetwork::default()
        },
    ))
}

fn host_routes(attrs: &Attrs) -> Result<Option<Vec<HostRoute>>, NeutronError> {
    attrs
        .nullable::<Vec<HostRoute>>("host_routes")
        .map(|r| r.map(Option::unwrap_or_default))
}

fn dns_nameservers(attrs: &Attrs) -> Result<Option<Vec<IpAddr>>, NeutronError> {
    attrs
        .nullable::<Vec<IpAddr>>("dns_nameservers")
        .map(|r| r.map(Option::unwrap_or_default))
}

pub(crate) fn create_subnet(
    model: &Model,
    caller: &Caller,
    attrs: &Attrs,
) -> Result<Command, NeutronError> {
    let network = required(uuid_attr(attrs, "network_id")?, "network_id")?;
    let Object::VirtualNetwork(net) = visible(model, caller, Resource::Network, network)? else {
        return Err(NeutronError::not_found(Resource::Network, network));
    };
    if net.project_id != caller.project && !caller.is_admin {
        return Err(NeutronError::policy("create_subnet:network_id"));
    }
    if attrs.has("subnetpool_id") && attrs.text("subnetpool_id")?.is_some_and(|s| !s.is_empty()) {
        return Err(NeutronError::invalid("subnet pools are not supported"));
    }
    let text = required(attrs.text("cidr")?, "cidr")?;
    let cidr = Prefix::parse_strict(&text)
        .map_err(|_| NeutronError::invalid(format!("{text} is not in a CIDR format")))?;
    let version = required(attrs.integer("ip_version")?, "ip_version")?;
    if version != 4 && version != 6 {
        return Err(NeutronError::invalid(format!("{version} is not in [4, 6]")));
    }
    if version != i64::from(cidr.ip_version()) {
        return Err(NeutronError::invalid(format!(
            "Cannot use CIDR {cidr} with IPv{version}"
        )));
    }
    let mut req = CreateSubnet::with_cidr(cidr);
    req.network = Some(Ref::Id(network));
    req.id = Some(Uuid::new_v4());
    req.name = attrs.text("name")?.unwrap_or_default();
    req.description = attrs.text("description")?.unwrap_or_default();
    req.tags = attrs.get("tags")?.unwrap_or_default();
    req.gateway_ip = attrs.nullable("gateway_ip")?;
    req.allocation_pools = attrs.get::<Vec<AllocationPool>>("allocation_pools")?;
    req.host_routes = host_routes(attrs)?.unwrap_or_default();
    req.dns_nameservers = dns_nameservers(attrs)?.unwrap_or_default();
    req.enable_dhcp = attrs.flag("enable_dhcp")?;
    req.ipv6_ra_mode = attrs.nullable::<Ipv6Mode>("ipv6_ra_mode")?.flatten();
    req.ipv6_address_mode = attrs.nullable::<Ipv6Mode>("ipv6_address_mode")?.flatten();
    req.service_types = attrs.get("service_types")?.unwrap_or_default();
    Ok(Command::CreateSubnet(req))
}

pub(crate) fn update_subnet(id: Uuid, attrs: &Attrs) -> Result<Command, NeutronError> {
    Ok(Command::UpdateSubnet(
        Ref::Id(id),
        UpdateSubnet {
            name: attrs.text("name")?,
            description: attrs.text("description")?,
            tags: None,
            gateway_ip: attrs.nullable("gateway_ip")?,
            allocation_pools: attrs.get("allocation_pools")?,
            host_routes: host_routes(attrs)?,
            dns_nameservers: dns_nameservers(attrs)?,
            enable_dhcp: attrs.flag("enable_dhcp")?,
            service_types: attrs.get("service_types")?,
        },
    ))
}

fn fixed_ips(attrs: &Attrs) -> Result<Option<Vec<FixedIpRequest>>, NeutronError> {
    attrs.get("fixed_ips")
}

fn address_pairs(attrs: &Attrs) -> Result<Option<Vec<AddressPair>>, NeutronError> {
    attrs
        .nullable::<Vec<AddressPair>>("allowed_address_pairs")
        .map(|r| r.map(Option::unwrap_or_default))
}

fn groups(attrs: &Attrs) -> Result<Option<Vec<Ref>>, NeutronError> {
    let groups = attrs.nullable::<Vec<Uuid>>("security_groups")?;
    if let Some(Some(list)) = &groups
        && let Some(twice) = list
            .iter()
            .enumerate()
            .find(|(i, g)| list[..*i].contains(g))
    {
        return Err(NeutronError::invalid(format!(
            "Duplicate items in the list: '{}'",
            twice.1
        )));
    }
    Ok(groups.map(|g| g.unwrap_or_default().into_iter().map(Ref::Id).collect()))
}

fn profile(
    attrs: &Attrs,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, NeutronError> {
    attrs
        .nullable("binding:profile")
        .map(|p| p.map(Option::unwrap_or_default))
}

pub(crate) fn create_port(
    model: &Model,
    caller: &Caller,
    project: Uuid,
    attrs: &Attrs,
) -> Result<Command, NeutronError> {
    caller.admin_only(
        attrs,
        "create_port",
        &["binding:host_id", "binding:profile"],
    )?;
    let network = required(uuid_attr(attrs, "network_id")?, "network_id")?;
    visible(model, caller, Resource::Network, network)?;
    if let Some(opts) = attrs.get::<Vec<serde_json::Value>>("extra_dhcp_opts")?
        && !opts.is_empty()
    {
        return Err(NeutronError::invalid("extra_dhcp_opts are not supported"));
    }
    let mut req = CreatePort::on(Ref::Id(network));
    req.project = Some(Ref::Id(project));
    req.id = Some(Uuid::new_v4());
    req.name = attrs.text("name")?.unwrap_or_default();
    req.description = attrs.text("description")?.unwrap_or_default();
    req.tags = attrs.get("tags")?.unwrap_or_default();
    req.mac_address = attrs.get::<MacAddr>("mac_address")?;
    req.fixed_ips = fixed_ips(attrs)?;
    req.security_groups = groups(attrs)?;
    check_port_groups(model, caller, project, req.security_groups.as_deref())?;
    req.allowed_address_pairs = address_pairs(attrs)?.unwrap_or_default();
    req.port_security_enabled = attrs.flag("port_security_enabled")?;
    req.admin_state_up = attrs.flag("admin_state_up")?;
    req.binding_host_id = attrs.text("binding:host_id")?.filter(|h| !h.is_empty());
    req.vnic_type = attrs.text("binding:vnic_type")?;
    req.binding_profile = profile(attrs)?;
    req.device_owner = attrs.text("device_owner")?.unwrap_or_default();
    req.device_id = attrs.text("device_id")?.unwrap_or_default();
    Ok(Command::CreatePort(req))
}

pub(crate) fn update_port(
    model: &Model,
    caller: &Caller,
    id: Uuid,
    project: Uuid,
    attrs: &Attrs,
) -> Result<Command, NeutronError> {
    caller.admin_only(
        attrs,
        "update_port",
        &["binding:host_id", "binding:profile"],
    )?;
    let security_groups = groups(attrs)?;
    check_port_groups(model, caller, project, security_groups.as_deref())?;
    let host = attrs
        .text("binding:host_id")?
        .map(|h| Some(h).filter(|h| !h.is_empty()));
    Ok(Command::UpdatePort(
        Ref::Id(id),
        UpdatePort {
            name: attrs.text("name")?,
            description: attrs.text("description")?,
            mac_address: attrs.get("mac_address")?,
            fixed_ips: fixed_ips(attrs)?,
            security_groups,
            allowed_address_pairs: address_pairs(attrs)?,
            port_security_enabled: attrs.flag("port_security_enabled")?,
            admin_state_up: attrs.flag("admin_state_up")?,
            binding_host_id: host,
            vnic_type: attrs.text("binding:vnic_type")?,
            binding_profile: profile(attrs)?,
            device_owner: attrs.text("device_owner")?,
            device_id: attrs.text("device_id")?,
            ..UpdatePort::default()
        },
    ))
}

pub(crate) fn create_group(
    model: &Model,
    project: Uuid,
    attrs: &Attrs,
) -> Result<Command, NeutronError> {
    let name = attrs.text("name")?.unwrap_or_default();
    if name == DEFAULT_GROUP {
        return Err(NeutronError::new(
            axum::http::StatusCode::CONFLICT,
            "SecurityGroupDefaultAlreadyExists",
            "Default security group already exists.",
        ));
    }
    let id = Uuid::new_v4();
    Ok(Command::CreateSecurityGroup(CreateSecurityGroup {
        fq_name: child_name(model, Kind::SecurityGroup, project, &name, id)?,
        id: Some(id),
        description: attrs.text("description")?.unwrap_or_default(),
        tags: attrs.get("tags")?.unwrap_or_default(),
        stateful: attrs.flag("stateful")?,
    }))
}

pub(crate) fn update_group(
    model: &Model,
    id: Uuid,
    project: Uuid,
    current: &str,
    attrs: &Attrs,
) -> Result<Command, NeutronError> {
    let name = match attrs.text("name")? {
        Some(name) if name == current => None,
        Some(name) if name == DEFAULT_GROUP => {
            return Err(NeutronError::new(
                axum::http::StatusCode::CONFLICT,
                "SecurityGroupDefaultAlreadyExists",
                "Default security group already exists.",
            ));
        }
        Some(name) => Some(
            child_name(model, Kind::SecurityGroup, project, &name, id)?
                .name()
                .to_owned(),
        ),
        None => None,
    };
    Ok(Command::UpdateSecurityGroup(
        Ref::Id(id),
        UpdateSecurityGroup {
            name,
            description: attrs.text("description")?,
            tags: None,
            stateful: attrs.flag("stateful")?,
        },
    ))
}

pub(crate) fn create_rule(
    model: &Model,
    caller: &Caller,
    attrs: &Attrs,
) -> Result<Command, NeutronError> {
    let group = required(uuid_attr(attrs, "security_group_id")?, "security_group_id")?;
    if let Object::SecurityGroup(g) = visible(model, caller, Resource::SecurityGroup, group)?
        && g.project_id != caller.project
        && !caller.is_admin
    {
        // Seen through an RBAC policy: shared for use, not for change.
        return Err(NeutronError::policy("create_security_group_rule"));
    }
    let direction: Direction = required(attrs.get("direction")?, "direction")?;
    let ethertype: Option<Ethertype> = attrs.nullable("ethertype")?.flatten();
    let protocol = match attrs.nullable::<serde_json::Value>("protocol")?.flatten() {
        None => None,
        Some(serde_json::Value::String(s)) if s.is_empty() || s.eq_ignore_ascii_case("any") => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(NeutronError::invalid(format!(
                "protocol {other} is not supported"
            )));
        }
    };
    // A remote group that is not a UUID is simply not found (Neutron).
    let remote_group = match attrs.text("remote_group_id")?.filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => Some(
            Uuid::try_parse(&text)
                .map_err(|_| NeutronError::not_found(Resource::SecurityGroup, &text))?,
        ),
    };
    if let Some(remote) = remote_group {
        visible(model, caller, Resource::SecurityGroup, remote)?;
    }
    let remote_ip_prefix = attrs.text("remote_ip_prefix")?.filter(|p| !p.is_empty());
    check_rule_family(ethertype, remote_ip_prefix.as_deref(), protocol.as_deref())?;
    let (port_range_min, port_range_max) = rule_ports(attrs, protocol.as_deref())?;
    Ok(Command::CreateSecurityGroupRule(CreateSecurityGroupRule {
        security_group: Ref::Id(group),
        id: Some(Uuid::new_v4()),
        direction,
        ethertype,
        protocol,
        port_range_min,
        port_range_max,
        remote_ip_prefix,
        remote_group: remote_group.map(Ref::Id),
        description: attrs.text("description")?.unwrap_or_default(),
    }))
}

/// Protocols of IPv6 only: a rule for IPv4 may not name them.
const IPV6_ONLY: [(&str, u8); 7] = [
    ("ipv6-encap", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
];

fn bad(kind: &'static str, message: String) -> NeutronError {
    NeutronError::new(axum::http::StatusCode::BAD_REQUEST, kind, message)
}

/// Neutron's checks of a rule's address family, with its wording: the
/// ethertype against the remote prefix and against IPv6-only protocols.
fn check_rule_family(
    ethertype: Option<Ethertype>,
    prefix: Option<&str>,
    protocol: Option<&str>,
) -> Result<(), NeutronError> {
    let parsed = prefix.and_then(|p| Prefix::parse_normalised(p).ok());
    if let (Some(e), Some(p), Some(text)) = (ethertype, parsed, prefix)
        && !e.matches(p)
    {
        return Err(bad(
            "SecurityGroupRuleParameterConflict",
            format!("Conflicting value ethertype {e:?} for CIDR {text}"),
        ));
    }
    let family = ethertype.unwrap_or(match parsed {
        Some(p) if !p.is_ipv4() => Ethertype::IPv6,
        _ => Ethertype::IPv4,
    });
    if let Some(protocol) = protocol
        && family == Ethertype::IPv4
        && IPV6_ONLY.iter().any(|(name, number)| {
            protocol.eq_ignore_ascii_case(name) || protocol == number.to_string()
        })
    {
        return Err(bad(
            "SecurityGroupEthertypeConflictWithProtocol",
            format!("Ethertype IPv4 is not supported by protocol {protocol}."),
        ));
    }
    Ok(())
}

/// A rule's port range (or ICMP type and code), checked with Neutron's
/// messages before the model sees it.
fn rule_ports(
    attrs: &Attrs,
    protocol: Option<&str>,
) -> Result<(Option<u16>, Option<u16>), NeutronError> {
    let value = |key: &str| -> Result<Option<u16>, NeutronError> {
        let raw = match attrs.nullable::<serde_json::Value>(key)?.flatten() {
            None => return Ok(None),
            Some(raw) => raw,
        };
        let number = match &raw {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let shown = match &raw {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        number
            .and_then(|n| u16::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                bad(
                    "SecurityGroupInvalidPortValue",
                    format!("Invalid value for port {shown}"),
                )
            })
    };
    let (min, max) = (value("port_range_min")?, value("port_range_max")?);
    let number = weft_model::protocol_number(protocol.map(str::to_ascii_lowercase).as_deref());
    match number {
        Some(1 | 58) => {
            for (field, attr, v) in [
                ("type", "port_range_min", min),
                ("code", "port_range_max", max),
            ] {
                if let Some(v) = v.filter(|v| *v > 255) {
                    return Err(bad(
                        "SecurityGroupInvalidIcmpValue",
                        format!(
                            "Invalid value for ICMP {field} ({attr}) {v}. It must be 0 to 255."
                        ),
                    ));
                }
            }
            if let (None, Some(code)) = (min, max) {
                return Err(bad(
                    "SecurityGroupMissingIcmpType",
                    format!(
                        "ICMP code (port-range-max) {code} is provided but ICMP type (port-range-min) is missing."
                    ),
                ));
            }
        }
        Some(6 | 17 | 33 | 132 | 136) if max.is_some() && (min.is_none() || min > max) => {
            return Err(bad(
                "SecurityGroupInvalidPortRange",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max".into(),
            ));
        }
        _ => {}
    }
    Ok((min, max))
}

pub(crate) fn delete(resource: Resource, id: Uuid) -> Command {
    let r = Ref::Id(id);
    match resource {
        Resource::Network => Command::DeleteNetwork(r),
        Resource::Subnet => Command::DeleteSubnet(r),
        Resource::Port => Command::DeletePort(r),
        Resource::SecurityGroup => Command::DeleteSecurityGroup(r),
        Resource::SecurityGroupRule => Command::DeleteSecurityGroupRule(r),
        Resource::Router => Command::DeleteRouter(r),
    }
}

/// Routers here are bookkeeping without an external gateway: an empty or
/// `null` gateway is all there is.
fn no_gateway(attrs: &Attrs) -> Result<(), NeutronError> {
    match attrs.nullable::<serde_json::Value>("external_gateway_info")? {
        None | Some(None) => Ok(()),
        Some(Some(serde_json::Value::Object(m))) if m.is_empty() => Ok(()),
        Some(Some(_)) => Err(NeutronError::invalid(
            "external gateways are not supported (there are no external networks)",
        )),
    }
}

pub(crate) fn create_router(project: Uuid, attrs: &Attrs) -> Result<Command, NeutronError> {
    no_gateway(attrs)?;
    Ok(Command::CreateRouter(CreateRouter {
        project: Ref::Id(project),
        id: Some(Uuid::new_v4()),
        name: attrs.text("name")?.unwrap_or_default(),
        description: attrs.text("description")?.unwrap_or_default(),
        tags: attrs.get("tags")?.unwrap_or_default(),
        admin_state_up: attrs.flag("admin_state_up")?,
    }))
}

pub(crate) fn update_router(id: Uuid, attrs: &Attrs) -> Result<Command, NeutronError> {
    no_gateway(attrs)?;
    Ok(Command::UpdateRouter(
        Ref::Id(id),
        UpdateRouter {
            name: attrs.text("name")?,
            description: attrs.text("description")?,
            tags: None,
            admin_state_up: attrs.flag("admin_state_up")?,
        },
    ))
}
