//! The objects of the intent model, as stored and as served by the API.
//!
//! Every object has a UUID, a per-object `revision_number` that grows on each
//! change, and creation/update times. Objects owned by a project carry its id;
//! names that must be unique are FQ names (`domain:project:name`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use weft_types::{Asn, FqName, MacAddr, Prefix, RouteTarget, Vni};

/// Bookkeeping common to every object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Meta {
    pub id: Uuid,
    /// Grows by one on every change of the object.
    pub revision_number: u64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// An administrative domain; projects live in one. `default-domain` always exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Domain {
    #[serde(flatten)]
    pub meta: Meta,
    pub fq_name: FqName,
}

/// A tenant: an OpenStack project (from Keystone) or a Kubernetes namespace
/// (`<cluster>-<namespace>`), or one made through weft's own API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    #[serde(flatten)]
    pub meta: Meta,
    /// `domain:project`.
    pub fq_name: FqName,
    pub domain_id: Uuid,
    /// The id the orchestrator knows the project by (a Keystone project id,
    /// a Kubernetes namespace UID), if it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Limits an orchestrator set on how many objects of a kind the project
    /// may have (OpenStack's quotas, keyed by its resource names; -1 is no
    /// limit). A kind not named has the orchestrator's default.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quotas: BTreeMap<String, i64>,
}

impl Project {
    /// The id the orchestrator knows the project by: its external id, else
    /// weft's id without dashes (Keystone's form).
    pub fn orchestrator_id(&self) -> String {
        self.external_id
            .clone()
            .unwrap_or_else(|| self.meta.id.simple().to_string())
    }
}

/// How a virtual network forwards: routed, bridged, or both (TF's `l2_l3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ForwardingMode {
    L2,
    L3,
    #[default]
    L2L3,
}

/// A virtual network: one VRF on every node that has a port in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VirtualNetwork {
    #[serde(flatten)]
    pub meta: Meta,
    /// `domain:project:name`.
    pub fq_name: FqName,
    pub project_id: Uuid,
    /// Small integer id, allocated from 1.
    pub vn_id: u32,
    /// VXLAN network identifier; the VN id unless configured.
    pub vxlan_id: Vni,
    pub vxlan_id_configured: bool,
    /// Route targets; `target:<ASN>:<8000000 + vn_id>` unless configured.
    pub route_targets: Vec<RouteTarget>,
    pub route_targets_configured: bool,
    pub forwarding_mode: ForwardingMode,
    pub shared: bool,
    pub admin_state_up: bool,
    /// The default of its new ports' `port_security_enabled`.
    #[serde(default = "enabled")]
    pub port_security_enabled: bool,
    /// Traffic of the VN's workloads for the fabric leaves through their
    /// node's own stack, masqueraded to the node's underlay address (TF's
    /// `fabric_snat`; Kubernetes pods reaching the API server).
    #[serde(default)]
    pub fabric_snat: bool,
    /// The MTU its workloads are told (DHCP option 26), as an orchestrator
    /// set it; `None`: the largest that fits the overlay. Either way a
    /// workload is never told more than fits the overlay in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

fn enabled() -> bool {
    true
}

impl VirtualNetwork {
    pub fn name(&self) -> &str {
        self.fq_name.name()
    }
}

/// An inclusive range of addresses a subnet allocates from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationPool {
    #[schema(value_type = String)]
    pub start: IpAddr,
    #[schema(value_type = String)]
    pub end: IpAddr,
}

/// A static route handed to workloads by DHCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HostRoute {
    pub destination: Prefix,
    #[schema(value_type = String)]
    pub nexthop: IpAddr,
}

/// An IP subnet of a virtual network, with its allocation pools.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Subnet {
    #[serde(flatten)]
    pub meta: Meta,
    pub name: String,
    pub network_id: Uuid,
    pub project_id: Uuid,
    pub cidr: Prefix,
    /// 4 or 6.
    pub ip_version: u8,
    /// The first host address unless configured; `null` means no gateway.
    #[schema(value_type = Option<String>)]
    pub gateway_ip: Option<IpAddr>,
    /// The vRouter's DNS/service address, the second host address unless configured.
    #[schema(value_type = Option<String>)]
    pub dns_service_ip: Option<IpAddr>,
    pub allocation_pools: Vec<AllocationPool>,
    pub host_routes: Vec<HostRoute>,
    #[schema(value_type = Vec<String>)]
    pub dns_nameservers: Vec<IpAddr>,
    pub enable_dhcp: bool,
    /// IPv6 only: how routers advertise the subnet (`slaac`,
    /// `dhcpv6-stateful`, `dhcpv6-stateless`), as Neutron records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_ra_mode: Option<Ipv6Mode>,
    /// IPv6 only: how hosts get addresses (same values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address_mode: Option<Ipv6Mode>,
    /// Device owners (`compute:nova`, `network:router_interface`, …) whose
    /// ports take their automatic address here; empty: any port whose owner
    /// no subnet of the network names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_types: Vec<String>,
}

/// An IPv6 subnet's router-advertisement or address mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Ipv6Mode {
    Slaac,
    Dhcpv6Stateful,
    Dhcpv6Stateless,
}

impl Subnet {
    /// Whether hosts make their own addresses (SLAAC or DHCPv6-stateless):
    /// such a subnet may be deleted under its ports, as in Neutron.
    pub fn auto_address(&self) -> bool {
        matches!(
            self.ipv6_address_mode,
            Some(Ipv6Mode::Slaac | Ipv6Mode::Dhcpv6Stateless)
        )
    }
}

/// One address of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FixedIp {
    pub subnet_id: Uuid,
    #[schema(value_type = String)]
    pub ip_address: IpAddr,
}

/// An extra address (or prefix) a port may send from, with an optional MAC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressPair {
    /// An IP address or a CIDR, kept as given.
    pub ip_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<MacAddr>,
}

/// How the interface behind a port is attached to the vRouter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VifType {
    /// Not bound to a node yet.
    #[default]
    Unbound,
    /// A tap device made by the hypervisor (VMs).
    Tap,
    /// A veth pair made by the CNI plugin (pods).
    Veth,
}

/// Operational state of a port, as Neutron reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PortStatus {
    #[default]
    Down,
    Build,
    Active,
    Error,
}

/// A workload's interface in a virtual network (a VM NIC or a pod's eth0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Port {
    #[serde(flatten)]
    pub meta: Meta,
    pub name: String,
    /// May differ from the network's project.
    pub project_id: Uuid,
    pub network_id: Uuid,
    pub mac_address: MacAddr,
    pub fixed_ips: Vec<FixedIp>,
    pub security_groups: Vec<Uuid>,
    pub allowed_address_pairs: Vec<AddressPair>,
    pub port_security_enabled: bool,
    pub admin_state_up: bool,
    /// The node whose agent plugs this port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_host_id: Option<String>,
    pub vif_type: VifType,
    pub vnic_type: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub binding_profile: serde_json::Map<String, serde_json::Value>,
    pub device_owner: String,
    pub device_id: String,
    pub status: PortStatus,
}

/// Traffic direction a rule applies to, seen from the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

/// Address family of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Ethertype {
    IPv4,
    IPv6,
}

impl Ethertype {
    pub fn matches(self, prefix: Prefix) -> bool {
        match self {
            Ethertype::IPv4 => prefix.is_ipv4(),
            Ethertype::IPv6 => !prefix.is_ipv4(),
        }
    }
}

/// A packet filter applied to the ports that are its members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SecurityGroup {
    #[serde(flatten)]
    pub meta: Meta,
    /// `domain:project:name`.
    pub fq_name: FqName,
    pub project_id: Uuid,
    /// Numeric id carried with routes so remote-group rules match without
    /// recompiling per address; allocated from 8,000,001.
    pub sg_id: u32,
    /// Stateful (the default): replies of an admitted connection pass.
    /// Stateless: every packet, replies too, must be admitted by the rules
    /// of its own direction. Stored objects without it are stateful.
    #[serde(default = "stateful_default")]
    pub stateful: bool,
}

fn stateful_default() -> bool {
    true
}

impl SecurityGroup {
    pub fn name(&self) -> &str {
        self.fq_name.name()
    }
}

/// One rule of a security group. Absent fields match anything.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SecurityGroupRule {
    #[serde(flatten)]
    pub meta: Meta,
    pub security_group_id: Uuid,
    pub project_id: Uuid,
    pub direction: Direction,
    pub ethertype: Ethertype,
    /// A protocol name (`tcp`, `udp`, `icmp`, …) or number, as given.
    pub protocol: Option<String>,
    pub port_range_min: Option<u16>,
    pub port_range_max: Option<u16>,
    /// Normalised: host bits cleared.
    pub remote_ip_prefix: Option<Prefix>,
    /// The prefix as written, when that had host bits set (`10.0.0.34/24`):
    /// OpenStack shows it so, with the normalised one beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip_prefix_given: Option<String>,
    pub remote_group_id: Option<Uuid>,
}

/// A compute node or Kubernetes worker running `weft agent` (a vRouter).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Node {
    #[serde(flatten)]
    pub meta: Meta,
    /// Host name, as orchestrators name the node (`binding:host_id`, `spec.nodeName`).
    pub name: String,
    /// Address tunnels to this node are sent to.
    #[schema(value_type = String)]
    pub underlay_ip: IpAddr,
}

/// A control node: the server side of agent sessions and BGP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ControlNode {
    #[serde(flatten)]
    pub meta: Meta,
    pub name: String,
    #[schema(value_type = String)]
    pub address: IpAddr,
}

/// A router as OpenStack records one: a name in a project. Its interfaces
/// are ports whose `device_owner` is `network:router_interface` and whose
/// `device_id` is the router's id. The dataplane does not route through it:
/// it is bookkeeping for orchestrators.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Router {
    #[serde(flatten)]
    pub meta: Meta,
    pub name: String,
    pub project_id: Uuid,
    pub admin_state_up: bool,
}

/// The `device_owner` of a port that is a router's interface.
pub const ROUTER_INTERFACE_OWNER: &str = "network:router_interface";

/// The kinds of object an RBAC policy can share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RbacObjectType {
    SecurityGroup,
}

/// What an RBAC policy grants its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RbacAction {
    /// The target sees the object and may use it (a shared security group
    /// on its ports) but not change it.
    AccessAsShared,
}

/// The target of a policy that names every project.
pub const RBAC_ANY_PROJECT: &str = "*";

/// An OpenStack RBAC policy: the owner of an object grants another project
/// (or every project, `*`) an action on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RbacPolicy {
    #[serde(flatten)]
    pub meta: Meta,
    /// The project that made the policy.
    pub project_id: Uuid,
    pub object_type: RbacObjectType,
    pub object_id: Uuid,
    pub action: RbacAction,
    /// The project granted access, as the orchestrator knows it (a Keystone
    /// project id; see [`Project::orchestrator_id`]), or `*` for all.
    pub target_project: String,
}

/// Overlay encapsulations, in TF's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Encapsulation {
    #[serde(rename = "MPLSoUDP")]
    MplsOverUdp,
    #[serde(rename = "MPLSoGRE")]
    MplsOverGre,
    #[serde(rename = "VXLAN")]
    Vxlan,
}

impl Encapsulation {
    /// Bytes the encapsulation adds in the underlay over an inner IP
    /// packet (outer IPv4 included), as the vRouter counts them.
    pub fn overhead(self) -> u32 {
        match self {
            // IPv4 20 + UDP 8 + MPLS 4
            Encapsulation::MplsOverUdp => 32,
            // IPv4 20 + GRE 4 + MPLS 4
            Encapsulation::MplsOverGre => 28,
            // IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
            Encapsulation::Vxlan => 50,
        }
    }
}

/// The underlay MTU the overlay's sizes assume.
pub const UNDERLAY_MTU: u32 = 1500;

/// Settings that apply to the whole deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GlobalConfig {
    #[serde(flatten)]
    pub meta: Meta,
    #[schema(value_type = u32)]
    pub asn: Asn,
    /// Tried in order; routed traffic uses the first MPLS one both ends support.
    pub encapsulation_priority: Vec<Encapsulation>,
}

impl GlobalConfig {
    /// The one global-config object has this fixed id.
    pub const ID: Uuid = Uuid::from_u128(0x7765_6674_0000_0000_0000_0000_0000_0001);
}

/// The transport protocols a load balancer listens on.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LbProtocol {
    Tcp,
    Udp,
}

impl LbProtocol {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            LbProtocol::Tcp => 6,
            LbProtocol::Udp => 17,
        }
    }
}

/// Where a listener's connections may go: an address the client network
/// routes to (a pod, a VM), and the port there.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub struct LbBackend {
    #[schema(value_type = String)]
    pub address: IpAddr,
    pub port: u16,
}

/// One protocol and port of a load balancer's address, with its backends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Listener {
    pub protocol: LbProtocol,
    pub port: u16,
    /// An empty list refuses connections.
    #[serde(default)]
    pub backends: Vec<LbBackend>,
}

/// A load-balanced address (a Kubernetes Service's ClusterIP): connections
/// to it from the client networks go to one of a listener's backends,
/// chosen per connection by the client's vRouter (no proxy, no kube-proxy).
/// The address is the first fixed IP of `vip_port_id`, a port of the
/// service network that holds it in the IPAM, as TF and Neutron's LBaaS
/// keep VIPs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoadBalancer {
    #[serde(flatten)]
    pub meta: Meta,
    /// `domain:project:name`.
    pub fq_name: FqName,
    pub project_id: Uuid,
    pub vip_port_id: Uuid,
    #[schema(value_type = String)]
    pub vip_address: IpAddr,
    /// Networks whose workloads reach the address, besides the VIP port's
    /// own network.
    #[serde(default)]
    pub client_network_ids: Vec<Uuid>,
    pub listeners: Vec<Listener>,
}

/// The kinds of object, as named in store keys, API paths and errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    // Order matters: a store is loaded kind by kind in this order, so that
    // everything an object refers to exists before it.
    GlobalConfig,
    Domain,
    Project,
    SecurityGroup,
    SecurityGroupRule,
    VirtualNetwork,
    Subnet,
    Port,
    LoadBalancer,
    Node,
    ControlNode,
    Router,
    RbacPolicy,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::GlobalConfig,
        Kind::Domain,
        Kind::Project,
        Kind::SecurityGroup,
        Kind::SecurityGroupRule,
        Kind::VirtualNetwork,
        Kind::Subnet,
        Kind::Port,
        Kind::LoadBalancer,
        Kind::Node,
        Kind::ControlNode,
        Kind::Router,
        Kind::RbacPolicy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::GlobalConfig => "global-config",
            Kind::Domain => "domain",
            Kind::Project => "project",
            Kind::SecurityGroup => "security-group",
            Kind::SecurityGroupRule => "security-group-rule",
            Kind::VirtualNetwork => "virtual-network",
            Kind::Subnet => "subnet",
            Kind::Port => "port",
            Kind::LoadBalancer => "load-balancer",
            Kind::Node => "node",
            Kind::ControlNode => "control-node",
            Kind::Router => "router",
            Kind::RbacPolicy => "rbac-policy",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any object of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "object", rename_all = "kebab-case")]
pub enum Object {
    GlobalConfig(GlobalConfig),
    Domain(Domain),
    Project(Project),
    SecurityGroup(SecurityGroup),
    SecurityGroupRule(SecurityGroupRule),
    VirtualNetwork(VirtualNetwork),
    Subnet(Subnet),
    Port(Port),
    LoadBalancer(LoadBalancer),
    Node(Node),
    ControlNode(ControlNode),
    Router(Router),
    RbacPolicy(RbacPolicy),
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::GlobalConfig(_) => Kind::GlobalConfig,
            Object::Domain(_) => Kind::Domain,
            Object::Project(_) => Kind::Project,
            Object::SecurityGroup(_) => Kind::SecurityGroup,
            Object::SecurityGroupRule(_) => Kind::SecurityGroupRule,
            Object::VirtualNetwork(_) => Kind::VirtualNetwork,
            Object::Subnet(_) => Kind::Subnet,
            Object::Port(_) => Kind::Port,
            Object::LoadBalancer(_) => Kind::LoadBalancer,
            Object::Node(_) => Kind::Node,
            Object::ControlNode(_) => Kind::ControlNode,
            Object::Router(_) => Kind::Router,
            Object::RbacPolicy(_) => Kind::RbacPolicy,
        }
    }

    pub fn meta(&self) -> &Meta {
        match self {
            Object::GlobalConfig(o) => &o.meta,
            Object::Domain(o) => &o.meta,
            Object::Project(o) => &o.meta,
            Object::SecurityGroup(o) => &o.meta,
            Object::SecurityGroupRule(o) => &o.meta,
            Object::VirtualNetwork(o) => &o.meta,
            Object::Subnet(o) => &o.meta,
            Object::Port(o) => &o.meta,
            Object::LoadBalancer(o) => &o.meta,
            Object::Node(o) => &o.meta,
            Object::ControlNode(o) => &o.meta,
            Object::Router(o) => &o.meta,
            Object::RbacPolicy(o) => &o.meta,
        }
    }

    pub fn id(&self) -> Uuid {
        self.meta().id
    }
}

/// One step of a transaction: an object written whole, or removed.
// Changes live only between planning and the store commit; boxing every
// object to shrink the rare delete would cost more than it saves.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Put(Object),
    Delete { kind: Kind, id: Uuid },
}

impl Change {
    pub fn kind(&self) -> Kind {
        match self {
            Change::Put(object) => object.kind(),
            Change::Delete { kind, .. } => *kind,
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Change::Put(object) => object.id(),
            Change::Delete { id, .. } => *id,
        }
    }
}
