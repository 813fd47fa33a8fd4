//! Neutron requests as model commands. Policy checks that depend on the
//! caller (admin-only attributes, other projects) happen here too, before
//! anything is submitted.

use std::net::IpAddr;

use uuid::Uuid;
use weft_model::{
    AddressPair, AllocationPool, Command, CreateNetwork, CreatePort, CreateSecurityGroup,
    CreateSecurityGroupRule, CreateSubnet, DEFAULT_GROUP, Direction, Ethertype, FixedIpRequest,
    HostRoute, Kind, Model, Object, Ref, UpdateNetwork, UpdatePort, UpdateSecurityGroup,
    UpdateSubnet,
};
use weft_types::{FqName, MacAddr, Prefix};

use crate::body::Attrs;
use crate::error::{NeutronError, Resource};
use crate::render::fq_component;

/// The caller of a request, with its weft project.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub project: Uuid,
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
        .filter(|o| owner(model, o).is_some_and(|(p, shared)| caller.sees(p, shared)))
        .ok_or_else(|| NeutronError::not_found(resource, id))
}

pub(crate) fn kind_of(resource: Resource) -> Kind {
    match resource {
        Resource::Network => Kind::VirtualNetwork,
        Resource::Subnet => Kind::Subnet,
        Resource::Port => Kind::Port,
        Resource::SecurityGroup => Kind::SecurityGroup,
        Resource::SecurityGroupRule => Kind::SecurityGroupRule,
    }
}

fn uuid_attr(attrs: &Attrs, key: &str) -> Result<Option<Uuid>, NeutronError> {
    match attrs.text(key)? {
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
    }))
}

/// Network attributes weft accepts only at their default values.
fn check_supported(attrs: &Attrs) -> Result<(), NeutronError> {
    if attrs.flag("port_security_enabled")? == Some(false) {
        return Err(NeutronError::invalid(
            "port_security_enabled can only be true on networks; disable it per port",
        ));
    }
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
    for key in ["ipv6_ra_mode", "ipv6_address_mode"] {
        if attrs.text(key)?.is_some_and(|s| !s.is_empty()) {
            return Err(NeutronError::invalid(format!("{key} is not supported")));
        }
    }
    let text = required(attrs.text("cidr")?, "cidr")?;
    let cidr = Prefix::parse_strict(&text)
        .map_err(|_| NeutronError::invalid(format!("{text} is not in a CIDR format")))?;
    let version: u8 = required(attrs.get("ip_version")?, "ip_version")?;
    if version != cidr.ip_version() {
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
    Ok(attrs
        .nullable::<Vec<Uuid>>("security_groups")?
        .map(|g| g.unwrap_or_default().into_iter().map(Ref::Id).collect()))
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
    caller: &Caller,
    id: Uuid,
    attrs: &Attrs,
) -> Result<Command, NeutronError> {
    caller.admin_only(
        attrs,
        "update_port",
        &["binding:host_id", "binding:profile"],
    )?;
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
            security_groups: groups(attrs)?,
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
            return Err(NeutronError::invalid("the name 'default' is reserved"));
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
        },
    ))
}

pub(crate) fn create_rule(
    model: &Model,
    caller: &Caller,
    attrs: &Attrs,
) -> Result<Command, NeutronError> {
    let group = required(uuid_attr(attrs, "security_group_id")?, "security_group_id")?;
    visible(model, caller, Resource::SecurityGroup, group)?;
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
    let remote_group = uuid_attr(attrs, "remote_group_id")?;
    if let Some(remote) = remote_group {
        visible(model, caller, Resource::SecurityGroup, remote)?;
    }
    Ok(Command::CreateSecurityGroupRule(CreateSecurityGroupRule {
        security_group: Ref::Id(group),
        id: Some(Uuid::new_v4()),
        direction,
        ethertype,
        protocol,
        port_range_min: attrs.port_number("port_range_min")?,
        port_range_max: attrs.port_number("port_range_max")?,
        remote_ip_prefix: attrs.text("remote_ip_prefix")?.filter(|p| !p.is_empty()),
        remote_group: remote_group.map(Ref::Id),
        description: attrs.text("description")?.unwrap_or_default(),
    }))
}

pub(crate) fn delete(resource: Resource, id: Uuid) -> Command {
    let r = Ref::Id(id);
    match resource {
        Resource::Network => Command::DeleteNetwork(r),
        Resource::Subnet => Command::DeleteSubnet(r),
        Resource::Port => Command::DeletePort(r),
        Resource::SecurityGroup => Command::DeleteSecurityGroup(r),
        Resource::SecurityGroupRule => Command::DeleteSecurityGroupRule(r),
    }
}
