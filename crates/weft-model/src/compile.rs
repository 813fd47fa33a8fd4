//! The compiler: intent → the desired state of one node.
//!
//! For a node (by its name, as ports carry it in `binding_host_id`) it lists
//! the ports to plug there, the VRFs those ports need, and the security
//! groups those ports are members of, compiled into rules the vRouter
//! evaluates at flow setup. Remote-group rules stay as numeric SG ids:
//! routes carry the SG ids of their port, so a rule never has to be
//! recompiled when a port joins or leaves a group elsewhere (TF's approach).
//!
//! The output is plain data, ordered deterministically, so it can be
//! compared with golden files and diffed between revisions.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;
use uuid::Uuid;
use weft_types::{FqName, MacAddr, Prefix, RouteTarget, Vni};

use crate::model::Model;
use crate::objects::{
    Direction, Encapsulation, Ethertype, ForwardingMode, HostRoute, LbBackend, Port,
    SecurityGroupRule, VifType,
};
use crate::security::protocol_number;

/// Everything one node's agent must hold.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodeDesired {
    pub node: String,
    pub encapsulation_priority: Vec<Encapsulation>,
    /// Ports bound to the node, by port id.
    pub ports: BTreeMap<Uuid, DesiredPort>,
    /// VRFs of those ports, by VN FQ name.
    pub vrfs: BTreeMap<FqName, DesiredVrf>,
    /// Compiled rules of every group a port here is a member of, by SG id.
    pub acls: BTreeMap<u32, Vec<CompiledRule>>,
    /// The SG ids among `acls` of stateless groups: a port whose groups
    /// are all stateless has its replies judged by its rules, not tracked.
    pub stateless_groups: BTreeSet<u32>,
}

/// A port as the agent plugs it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DesiredPort {
    pub id: Uuid,
    pub name: String,
    pub network: FqName,
    pub vif_type: VifType,
    /// The host-side interface: `tap` + the first 11 characters of the
    /// port id for VMs (as Nova names it), `veth` + the same for pods.
    pub interface: String,
    pub mac: MacAddr,
    pub addresses: Vec<DesiredAddress>,
    pub port_security: bool,
    /// Numeric ids of the port's groups (empty without port security).
    pub security_groups: Vec<u32>,
    pub allowed_address_pairs: Vec<(Prefix, Option<MacAddr>)>,
    pub admin_up: bool,
    /// The MTU DHCP hands out when the network sets one (capped by what
    /// fits the overlay); `None`: the vRouter's own, what fits the overlay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

/// One address of a port with what DHCP hands out for it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DesiredAddress {
    pub ip: IpAddr,
    pub prefix: Prefix,
    pub gateway: Option<IpAddr>,
    pub dns_service_ip: Option<IpAddr>,
    pub dns_nameservers: Vec<IpAddr>,
    pub host_routes: Vec<HostRoute>,
    pub dhcp: bool,
}

/// A VN as a VRF on the node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DesiredVrf {
    pub fq_name: FqName,
    pub vn_id: u32,
    pub vni: Vni,
    pub route_targets: Vec<RouteTarget>,
    pub forwarding_mode: ForwardingMode,
    pub subnets: Vec<Prefix>,
    /// The VN's `fabric_snat`: its workloads reach the fabric through
    /// their node's stack.
    pub fabric_snat: bool,
    /// Load-balanced addresses the VRF's workloads reach, one entry per
    /// listener, ordered by address, protocol and port.
    pub services: Vec<DesiredService>,
}

/// One listener of a load balancer, as a VRF serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DesiredService {
    pub vip: IpAddr,
    /// IP protocol number (6 or 17).
    pub protocol: u8,
    pub port: u16,
    /// Sorted.
    pub backends: Vec<LbBackend>,
}

/// Who is at the other end of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Remote {
    Any,
    Prefix(Prefix),
    /// Members of the group with this numeric id.
    Group(u32),
}

/// A rule in the form the vRouter evaluates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CompiledRule {
    pub direction: Direction,
    pub ethertype: Ethertype,
    /// IP protocol number; `None` matches any.
    pub protocol: Option<u8>,
    /// Inclusive port range for TCP/UDP/SCTP; ICMP type (and code) for ICMP.
    pub port_min: Option<u16>,
    pub port_max: Option<u16>,
    pub remote: Remote,
}

/// The host-side interface name of a port.
pub fn interface_name(port: &Port) -> String {
    let id = port.meta.id.to_string();
    let prefix = match port.vif_type {
        VifType::Veth => "veth",
        VifType::Tap | VifType::Unbound => "tap",
    };
    format!("{prefix}{}", &id[..11])
}

impl Model {
    /// The desired state of `node`.
    pub fn compile_node(&self, node: &str) -> NodeDesired {
        let mut out = NodeDesired {
            node: node.to_owned(),
            encapsulation_priority: self
                .global()
                .map(|g| g.encapsulation_priority.clone())
                .unwrap_or_default(),
            ..NodeDesired::default()
        };
        let mut groups: BTreeSet<Uuid> = BTreeSet::new();
        for port in self
            .ports()
            .filter(|p| p.binding_host_id.as_deref() == Some(node))
        {
            let Some(network) = self.networks.get(&port.network_id) else {
                continue;
            };
            let subnets = self.subnets_of(network.meta.id);
            let addresses = port
                .fixed_ips
                .iter()
                .filter_map(|fixed| {
                    let subnet = subnets.iter().find(|s| s.meta.id == fixed.subnet_id)?;
                    Some(DesiredAddress {
                        ip: fixed.ip_address,
                        prefix: subnet.cidr,
                        gateway: subnet.gateway_ip,
                        dns_service_ip: subnet.dns_service_ip,
                        dns_nameservers: subnet.dns_nameservers.clone(),
                        host_routes: subnet.host_routes.clone(),
                        dhcp: subnet.enable_dhcp,
                    })
                })
                .collect();
            let security_groups = port
                .security_groups
                .iter()
                .filter_map(|g| self.groups.get(g))
                .map(|g| {
                    groups.insert(g.meta.id);
                    g.sg_id
                })
                .collect();
            let allowed_address_pairs = port
                .allowed_address_pairs
                .iter()
                .filter_map(|pair| {
                    let prefix = match pair.ip_address.parse::<IpAddr>() {
                        Ok(ip) => Prefix::host(ip),
                        Err(_) => Prefix::parse_strict(&pair.ip_address).ok()?,
                    };
                    Some((prefix, pair.mac_address))
                })
                .collect();
            out.vrfs
                .entry(network.fq_name.clone())
                .or_insert_with(|| DesiredVrf {
                    fq_name: network.fq_name.clone(),
                    vn_id: network.vn_id,
                    vni: network.vxlan_id,
                    route_targets: network.route_targets.clone(),
                    forwarding_mode: network.forwarding_mode,
                    subnets: subnets.iter().map(|s| s.cidr).collect(),
                    fabric_snat: network.fabric_snat,
                    services: self.services_for(network.meta.id),
                });
            out.ports.insert(
                port.meta.id,
                DesiredPort {
                    id: port.meta.id,
                    name: port.name.clone(),
                    network: network.fq_name.clone(),
                    vif_type: port.vif_type,
                    interface: interface_name(port),
                    mac: port.mac_address,
                    addresses,
                    port_security: port.port_security_enabled,
                    security_groups,
                    allowed_address_pairs,
                    admin_up: port.admin_state_up,
                    mtu: network.mtu.map(|_| self.network_mtu(network)),
                },
            );
        }
        for group in groups {
            let Some(sg) = self.groups.get(&group) else {
                continue;
            };
            let mut rules: Vec<CompiledRule> = self
                .rules_of(group)
                .filter_map(|rule| self.compile_rule(rule))
                .collect();
            rules.sort_by_key(|r| format!("{r:?}"));
            out.acls.insert(sg.sg_id, rules);
            if !sg.stateful {
                out.stateless_groups.insert(sg.sg_id);
            }
        }
        out
    }

    /// The listeners of every load balancer `network`'s workloads reach:
    /// those it is a client network of, and those whose address is in it.
    fn services_for(&self, network: Uuid) -> Vec<DesiredService> {
        let mut out: Vec<DesiredService> = self
            .load_balancers
            .values()
            .filter(|lb| {
                lb.client_network_ids.contains(&network)
                    || self
                        .ports
                        .get(&lb.vip_port_id)
                        .is_some_and(|p| p.network_id == network)
            })
            .flat_map(|lb| {
                lb.listeners.iter().map(|l| {
                    let mut backends = l.backends.clone();
                    backends.sort();
                    DesiredService {
                        vip: lb.vip_address,
                        protocol: l.protocol.number(),
                        port: l.port,
                        backends,
                    }
                })
            })
            .collect();
        out.sort_by_key(|s| (s.vip, s.protocol, s.port));
        out
    }

    fn compile_rule(&self, rule: &SecurityGroupRule) -> Option<CompiledRule> {
        let remote = match (rule.remote_ip_prefix, rule.remote_group_id) {
            (Some(prefix), _) => Remote::Prefix(prefix),
            // A rule naming a group that no longer exists matches nobody.
            (None, Some(group)) => Remote::Group(self.groups.get(&group)?.sg_id),
            (None, None) => Remote::Any,
        };
        Some(CompiledRule {
            direction: rule.direction,
            ethertype: rule.ethertype,
            protocol: protocol_number(rule.protocol.as_deref()),
            port_min: rule.port_range_min,
            port_max: rule.port_range_max,
            remote,
        })
    }
}
