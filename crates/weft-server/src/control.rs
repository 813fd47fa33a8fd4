//! The control node's view of the model: each node's desired state,
//! compiled from the committed model and handed to `weft-control`.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use prost::Message;
use tokio::sync::watch;
use weft_control::proto::{self, acl_rule};
use weft_control::server::ConfigSource;
use weft_model::compile::{CompiledRule, NodeDesired, Remote};
use weft_model::{
    Command, Direction, Encapsulation, Ethertype, PortStatus, Ref, UpdatePort, VifType,
};

use crate::writer::{View, Writer};

/// Compiles node snapshots from the readers' model (committed state only).
#[derive(Debug)]
pub struct ModelConfigSource {
    view: Arc<RwLock<View>>,
    writer: Writer,
    runtime: tokio::runtime::Handle,
}

impl ModelConfigSource {
    /// Must be created inside the tokio runtime that will apply port status.
    pub fn new(view: Arc<RwLock<View>>, writer: Writer) -> Self {
        ModelConfigSource {
            view,
            writer,
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

impl ConfigSource for ModelConfigSource {
    fn node_config(&self, node: &str) -> proto::NodeConfig {
        to_proto(&View::read(&self.view, |view| {
            view.model.compile_node(node)
        }))
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.writer.revisions()
    }

    fn nodes(&self) -> Vec<String> {
        View::read(&self.view, |view| {
            let hosts: BTreeSet<&str> = view
                .model
                .ports()
                .filter_map(|p| p.binding_host_id.as_deref())
                .filter(|host| !host.is_empty())
                .collect();
            hosts.into_iter().map(str::to_owned).collect()
        })
    }

    /// The agent has (or no longer has) the port's interface: Neutron's
    /// ACTIVE/DOWN, written through the model like any change.
    fn port_status(&self, node: &str, port_id: &str, state: proto::PortState) {
        let status = match state {
            proto::PortState::Active => PortStatus::Active,
            proto::PortState::Down => PortStatus::Down,
            proto::PortState::Unspecified => return,
        };
        let Ok(reference) = Ref::from_str(port_id) else {
            tracing::warn!(node, port_id, "port status for an unparsable port id");
            return;
        };
        let writer = self.writer.clone();
        let node = node.to_owned();
        self.runtime.spawn(async move {
            let update = UpdatePort {
                status: Some(status),
                ..UpdatePort::default()
            };
            if let Err(error) = writer.submit(Command::UpdatePort(reference, update)).await {
                tracing::warn!(%node, %error, "cannot record port status");
            }
        });
    }
}

fn encapsulation(e: Encapsulation) -> i32 {
    match e {
        Encapsulation::MplsOverUdp => proto::Encapsulation::MplsOverUdp,
        Encapsulation::MplsOverGre => proto::Encapsulation::MplsOverGre,
        Encapsulation::Vxlan => proto::Encapsulation::Vxlan,
    }
    .into()
}

/// The wire form of a node's desired state. `generation` is a hash of the
/// content, so it changes exactly when the snapshot does.
pub fn to_proto(desired: &NodeDesired) -> proto::NodeConfig {
    let mut config = proto::NodeConfig {
        generation: 0,
        ports: desired
            .ports
            .values()
            .map(|port| {
                let vrf = desired.vrfs.get(&port.network);
                proto::Port {
                    port_id: port.id.to_string(),
                    vn_fq_name: port.network.to_string(),
                    vn_id: vrf.map(|v| v.vn_id).unwrap_or_default(),
                    vni: vrf.map(|v| v.vni.get()).unwrap_or_default(),
                    mac: port.mac.to_string(),
                    fixed_ips: port
                        .addresses
                        .iter()
                        .map(|a| proto::FixedIp {
                            address: a.ip.to_string(),
                            prefix_len: u32::from(a.prefix.prefix_len()),
                            gateway: a.gateway.map(|g| g.to_string()).unwrap_or_default(),
                            dns_service: a
                                .dns_service_ip
                                .map(|d| d.to_string())
                                .unwrap_or_default(),
                            host_routes: a
                                .host_routes
                                .iter()
                                .map(|r| proto::HostRoute {
                                    destination: r.destination.to_string(),
                                    nexthop: r.nexthop.to_string(),
                                })
                                .collect(),
                            dhcp_enabled: a.dhcp,
                        })
                        .collect(),
                    sg_ids: port.security_groups.clone(),
                    port_security: port.port_security,
                    allowed_address_pairs: port
                        .allowed_address_pairs
                        .iter()
                        .map(|(prefix, mac)| proto::AllowedAddressPair {
                            ip_prefix: prefix.to_string(),
                            mac: mac.map(|m| m.to_string()).unwrap_or_default(),
                        })
                        .collect(),
                    vif_type: match port.vif_type {
                        VifType::Veth => proto::VifType::Veth,
                        VifType::Tap | VifType::Unbound => proto::VifType::Tap,
                    }
                    .into(),
                    interface_name: port.interface.clone(),
                    admin_up: port.admin_up,
                    mtu: port.mtu.unwrap_or(0),
                }
            })
            .collect(),
        vrfs: desired
            .vrfs
            .values()
            .map(|v| proto::Vrf {
                name: v.fq_name.to_string(),
                vn_id: v.vn_id,
                vni: v.vni.get(),
                route_targets: v.route_targets.iter().map(ToString::to_string).collect(),
                fabric_snat: v.fabric_snat,
                subnets: v.subnets.iter().map(ToString::to_string).collect(),
                services: v
                    .services
                    .iter()
                    .map(|s| proto::Service {
                        vip: s.vip.to_string(),
                        protocol: u32::from(s.protocol),
                        port: u32::from(s.port),
                        backends: s
                            .backends
                            .iter()
                            .map(|b| proto::Backend {
                                address: b.address.to_string(),
                                port: u32::from(b.port),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        acls: desired
            .acls
            .iter()
            .map(|(sg_id, rules)| proto::SecurityGroupAcl {
                sg_id: *sg_id,
                rules: rules.iter().map(rule).collect(),
                stateless: desired.stateless_groups.contains(sg_id),
            })
            .collect(),
        encapsulation_priority: desired
            .encapsulation_priority
            .iter()
            .copied()
            .map(encapsulation)
            .collect(),
    };
    let mut hasher = DefaultHasher::new();
    config.encode_to_vec().hash(&mut hasher);
    config.generation = hasher.finish();
    config
}

fn rule(rule: &CompiledRule) -> proto::AclRule {
    proto::AclRule {
        direction: match rule.direction {
            Direction::Ingress => proto::Direction::Ingress,
            Direction::Egress => proto::Direction::Egress,
        }
        .into(),
        ethertype: match rule.ethertype {
            Ethertype::IPv4 => proto::Ethertype::Ipv4,
            Ethertype::IPv6 => proto::Ethertype::Ipv6,
        }
        .into(),
        protocol: rule.protocol.map(u32::from),
        port_min: rule.port_min.map(u32::from).unwrap_or(0),
        port_max: rule
            .port_max
            .or(rule.port_min)
            .map(u32::from)
            .unwrap_or(u32::from(u16::MAX)),
        remote: Some(match rule.remote {
            Remote::Any => acl_rule::Remote::Any(proto::Any {}),
            Remote::Prefix(prefix) => acl_rule::Remote::Prefix(prefix.to_string()),
            Remote::Group(sg_id) => acl_rule::Remote::SgId(sg_id),
        }),
    }
}
