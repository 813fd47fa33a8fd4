//! Commands: what a client asks the model to do.
//!
//! The structs double as the native API's request bodies, so every one
//! rejects unknown fields. A field that is absent takes its default; where
//! `null` means something different from absent (a subnet without a gateway),
//! the field is an `Option<Option<_>>`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;
use weft_types::{Asn, FqName, FqNameError, MacAddr, Prefix, RouteTarget, Vni};

use crate::objects::{
    AddressPair, AllocationPool, Direction, Encapsulation, Ethertype, ForwardingMode, HostRoute,
    Ipv6Mode, Kind, Listener, PortStatus, RbacAction, RbacObjectType, VifType,
};

/// A reference to an object: its UUID, or its FQ name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ref {
    Id(Uuid),
    Name(FqName),
}

impl FromStr for Ref {
    type Err = FqNameError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match Uuid::parse_str(text) {
            Ok(id) => Ok(Ref::Id(id)),
            Err(_) => Ok(Ref::Name(text.parse()?)),
        }
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ref::Id(id) => id.fmt(f),
            Ref::Name(name) => name.fmt(f),
        }
    }
}

impl From<Uuid> for Ref {
    fn from(id: Uuid) -> Self {
        Ref::Id(id)
    }
}

impl Serialize for Ref {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ref {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Ref {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("An object's UUID or its FQ name"))
            .examples([serde_json::json!("default-domain:k8s-contrail:seamless")])
            .into()
    }
}

impl ToSchema for Ref {}

/// Deserializes a field whose `null` differs from its absence.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Create an administrative domain (a one-component FQ name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDomain {
    pub fq_name: FqName,
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Create a project (`domain:project`, or just `project` in `default-domain`).
/// Its `default` security group is created with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    pub fq_name: FqName,
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Replaces every quota of the project.
    #[serde(default)]
    pub quotas: Option<BTreeMap<String, i64>>,
}

/// Create a virtual network, optionally with its subnets in the same transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNetwork {
    /// `domain:project:name`; the project must exist.
    pub fq_name: FqName,
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub subnets: Vec<CreateSubnet>,
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub vxlan_id: Option<Vni>,
    #[serde(default)]
    pub route_targets: Option<Vec<RouteTarget>>,
    #[serde(default)]
    pub forwarding_mode: Option<ForwardingMode>,
    #[serde(default)]
    pub shared: bool,
    #[serde(default)]
    pub admin_state_up: Option<bool>,
    /// Workloads reach the fabric through their node, masqueraded to its
    /// underlay address. Default false.
    #[serde(default)]
    pub fabric_snat: bool,
    /// The MTU workloads are told; absent: the largest the overlay fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

impl CreateNetwork {
    /// A network with no subnet and every default taken.
    pub fn named(fq_name: FqName) -> Self {
        CreateNetwork {
            fq_name,
            id: None,
            description: String::new(),
            tags: Vec::new(),
            subnets: Vec::new(),
            vxlan_id: None,
            route_targets: None,
            forwarding_mode: None,
            shared: false,
            admin_state_up: None,
            fabric_snat: false,
            mtu: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNetwork {
    /// A new last component of the FQ name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// `null` returns to the automatic VNI (the VN id).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>)]
    pub vxlan_id: Option<Option<Vni>>,
    /// `null` returns to the automatic route target.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub route_targets: Option<Option<Vec<RouteTarget>>>,
    #[serde(default)]
    pub forwarding_mode: Option<ForwardingMode>,
    #[serde(default)]
    pub shared: Option<bool>,
    #[serde(default)]
    pub admin_state_up: Option<bool>,
    /// The default for the network's new ports.
    #[serde(default)]
    pub port_security_enabled: Option<bool>,
    /// Workloads reach the fabric through their node, masqueraded to its
    /// underlay address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fabric_snat: Option<bool>,
    /// The MTU workloads are told; `null` returns to the largest the
    /// overlay fits.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub mtu: Option<Option<u32>>,
}

/// Create a subnet. Inside a network create, `network` is left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubnet {
    #[serde(default)]
    pub network: Option<Ref>,
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub name: String,
    pub cidr: Prefix,
    /// Absent: the first host address. `null`: no gateway.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub gateway_ip: Option<Option<IpAddr>>,
    /// Absent: the second host address. `null`: none.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub dns_service_ip: Option<Option<IpAddr>>,
    #[serde(default)]
    pub allocation_pools: Option<Vec<AllocationPool>>,
    #[serde(default)]
    pub host_routes: Vec<HostRoute>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub dns_nameservers: Vec<IpAddr>,
    #[serde(default)]
    pub enable_dhcp: Option<bool>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// IPv6 subnets only.
    #[serde(default)]
    pub ipv6_ra_mode: Option<Ipv6Mode>,
    /// IPv6 subnets only.
    #[serde(default)]
    pub ipv6_address_mode: Option<Ipv6Mode>,
    /// Device owners whose ports take their automatic address here.
    #[serde(default)]
    pub service_types: Vec<String>,
}

impl CreateSubnet {
    /// A subnet with every default taken.
    pub fn with_cidr(cidr: Prefix) -> Self {
        CreateSubnet {
            network: None,
            id: None,
            name: String::new(),
            cidr,
            gateway_ip: None,
            dns_service_ip: None,
            allocation_pools: None,
            host_routes: Vec::new(),
            dns_nameservers: Vec::new(),
            enable_dhcp: None,
            description: String::new(),
            tags: Vec::new(),
            ipv6_ra_mode: None,
            ipv6_address_mode: None,
            service_types: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubnet {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub gateway_ip: Option<Option<IpAddr>>,
    #[serde(default)]
    pub allocation_pools: Option<Vec<AllocationPool>>,
    #[serde(default)]
    pub host_routes: Option<Vec<HostRoute>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub dns_nameservers: Option<Vec<IpAddr>>,
    #[serde(default)]
    pub enable_dhcp: Option<bool>,
    #[serde(default)]
    pub service_types: Option<Vec<String>>,
}

/// An address wanted by a port: from a subnet, a given address, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedIpRequest {
    #[serde(default)]
    pub subnet_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub ip_address: Option<IpAddr>,
}

/// Create a port. Without `fixed_ips` it gets the lowest free address of the
/// network's first IPv4 subnet and of its first IPv6 subnet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePort {
    pub network: Ref,
    /// Defaults to the network's project.
    #[serde(default)]
    pub project: Option<Ref>,
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mac_address: Option<MacAddr>,
    #[serde(default)]
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    /// Defaults to the project's `default` group when port security is on.
    #[serde(default)]
    pub security_groups: Option<Vec<Ref>>,
    #[serde(default)]
    pub allowed_address_pairs: Vec<AddressPair>,
    #[serde(default)]
    pub port_security_enabled: Option<bool>,
    #[serde(default)]
    pub admin_state_up: Option<bool>,
    #[serde(default)]
    pub binding_host_id: Option<String>,
    #[serde(default)]
    pub vif_type: Option<VifType>,
    #[serde(default)]
    pub vnic_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub binding_profile: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub device_owner: String,
    #[serde(default)]
    pub device_id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl CreatePort {
    /// A port on `network` with every default taken.
    pub fn on(network: Ref) -> Self {
        CreatePort {
            network,
            project: None,
            id: None,
            name: String::new(),
            mac_address: None,
            fixed_ips: None,
            security_groups: None,
            allowed_address_pairs: Vec::new(),
            port_security_enabled: None,
            admin_state_up: None,
            binding_host_id: None,
            vif_type: None,
            vnic_type: None,
            binding_profile: None,
            device_owner: String::new(),
            device_id: String::new(),
            description: String::new(),
            tags: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePort {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub mac_address: Option<MacAddr>,
    #[serde(default)]
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    #[serde(default)]
    pub security_groups: Option<Vec<Ref>>,
    #[serde(default)]
    pub allowed_address_pairs: Option<Vec<AddressPair>>,
    #[serde(default)]
    pub port_security_enabled: Option<bool>,
    #[serde(default)]
    pub admin_state_up: Option<bool>,
    /// `null` unbinds the port.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_host_id: Option<Option<String>>,
    #[serde(default)]
    pub vif_type: Option<VifType>,
    #[serde(default)]
    pub vnic_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub binding_profile: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub device_owner: Option<String>,
    #[serde(default)]
    pub device_id: Option<String>,
    /// Set by the agent that plugs the port.
    #[serde(default)]
    pub status: Option<PortStatus>,
}

/// Create a security group (`domain:project:name`). Like Neutron, a new group
/// allows all egress and no ingress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSecurityGroup {
    pub fq_name: FqName,
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Stateful (default): replies of an admitted connection pass.
    /// Stateless: every packet, replies too, needs a rule of its direction.
    #[serde(default)]
    pub stateful: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSecurityGroup {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Only while no port is a member (as Neutron).
    #[serde(default)]
    pub stateful: Option<bool>,
}

/// Add a rule to a security group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSecurityGroupRule {
    pub security_group: Ref,
    #[serde(default)]
    pub id: Option<Uuid>,
    pub direction: Direction,
    /// Defaults to IPv4, or to the family of `remote_ip_prefix`.
    #[serde(default)]
    pub ethertype: Option<Ethertype>,
    /// A protocol name or number (0-255); absent matches any.
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub port_range_min: Option<u16>,
    #[serde(default)]
    pub port_range_max: Option<u16>,
    /// A CIDR; host bits are cleared.
    #[serde(default)]
    pub remote_ip_prefix: Option<String>,
    #[serde(default)]
    pub remote_group: Option<Ref>,
    #[serde(default)]
    pub description: String,
}

/// Register a node that runs `weft agent`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNode {
    pub name: String,
    #[schema(value_type = String)]
    pub underlay_ip: IpAddr,
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub description: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNode {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub underlay_ip: Option<IpAddr>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Register a control node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateControlNode {
    pub name: String,
    #[schema(value_type = String)]
    pub address: IpAddr,
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub description: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGlobalConfig {
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub asn: Option<Asn>,
    #[serde(default)]
    pub encapsulation_priority: Option<Vec<Encapsulation>>,
}

/// Create a load balancer on a VIP port (see [`crate::LoadBalancer`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLoadBalancer {
    /// `domain:project:name`.
    pub fq_name: FqName,
    /// The port holding the address (its first fixed IP); one load
    /// balancer per port.
    #[schema(value_type = String)]
    pub vip_port: Ref,
    /// Networks whose workloads reach the address, besides the VIP port's.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub client_networks: Vec<Ref>,
    #[serde(default)]
    pub listeners: Vec<Listener>,
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLoadBalancer {
    /// Replaces every listener (and so every backend).
    #[serde(default)]
    pub listeners: Option<Vec<Listener>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub client_networks: Option<Vec<Ref>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// Everything the model can be asked to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    CreateDomain(CreateDomain),
    DeleteDomain(Ref),
    CreateProject(CreateProject),
    UpdateProject(Ref, UpdateProject),
    DeleteProject(Ref),
    CreateNetwork(CreateNetwork),
    UpdateNetwork(Ref, UpdateNetwork),
    DeleteNetwork(Ref),
    CreateSubnet(CreateSubnet),
    UpdateSubnet(Ref, UpdateSubnet),
    DeleteSubnet(Ref),
    CreatePort(CreatePort),
    UpdatePort(Ref, UpdatePort),
    DeletePort(Ref),
    CreateSecurityGroup(CreateSecurityGroup),
    UpdateSecurityGroup(Ref, UpdateSecurityGroup),
    DeleteSecurityGroup(Ref),
    CreateSecurityGroupRule(CreateSecurityGroupRule),
    DeleteSecurityGroupRule(Ref),
    CreateNode(CreateNode),
    UpdateNode(Ref, UpdateNode),
    DeleteNode(Ref),
    CreateControlNode(CreateControlNode),
    DeleteControlNode(Ref),
    CreateRouter(CreateRouter),
    UpdateRouter(Ref, UpdateRouter),
    DeleteRouter(Ref),
    UpdateGlobalConfig(UpdateGlobalConfig),
    CreateLoadBalancer(CreateLoadBalancer),
    UpdateLoadBalancer(Ref, UpdateLoadBalancer),
    DeleteLoadBalancer(Ref),
    CreateRbacPolicy(CreateRbacPolicy),
    UpdateRbacPolicy(Ref, UpdateRbacPolicy),
    DeleteRbacPolicy(Ref),
    /// The command, only if an object is still at a revision (OpenStack's
    /// `If-Match: revision_number=N`); checked in the same step as the
    /// command, so no other change can come between.
    IfRevision(RevisionGuard, Box<Command>),
}

/// The revision an object must still be at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevisionGuard {
    pub kind: Kind,
    pub id: Uuid,
    pub revision: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRouter {
    pub project: Ref,
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub admin_state_up: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRouter {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub admin_state_up: Option<bool>,
}

/// Grant a project (or every project, `*`) an action on an object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRbacPolicy {
    /// The project the policy belongs to.
    pub project: Ref,
    #[serde(default)]
    pub id: Option<Uuid>,
    pub object_type: RbacObjectType,
    pub object_id: Uuid,
    pub action: RbacAction,
    /// A project id as the orchestrator knows it, or `*`.
    pub target_project: String,
}

/// Only the target of a policy can change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRbacPolicy {
    #[serde(default)]
    pub target_project: Option<String>,
}
