//! What the lab builds: hosts with roles and underlay addresses on one
//! fabric, and the names their namespaces get.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::LabError;

/// The native API port of `weft server` in the lab.
pub const API_PORT: u16 = 8082;
/// The control node (agent sessions, gRPC) port of `weft server`.
pub const CONTROL_PORT: u16 = 8083;
/// The Neutron v2.0 API port of `weft server`.
pub const NEUTRON_PORT: u16 = 9696;
/// Where each agent serves introspection, on the loopback of its node.
pub const INTROSPECT_PORT: u16 = 8085;
/// The fabric bridge inside the fabric namespace.
pub const FABRIC_BRIDGE: &str = "br0";
/// A host's underlay interface inside its namespace.
pub const UNDERLAY_IF: &str = "eth0";

/// What a host does, in the terms of TF's deployer roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The data-centre gateway the control node peers with (`sdn-gw`).
    Gateway,
    /// Runs `weft server` (config API and control node).
    Control,
    /// OpenStack's control services (Keystone; `openstack` CLI).
    Openstack,
    /// Kubernetes' control plane (etcd, kube-apiserver, …).
    KubernetesMaster,
    /// Runs `weft agent` (a vRouter).
    Vrouter,
    /// Hosts VMs (needs `vrouter`).
    OpenstackCompute,
    /// Hosts pods (needs `vrouter`).
    KubernetesNode,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 7] = [
        Role::Gateway,
        Role::Control,
        Role::Openstack,
        Role::KubernetesMaster,
        Role::Vrouter,
        Role::OpenstackCompute,
        Role::KubernetesNode,
    ];

    /// The role's name in inventories and output.
    pub fn name(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Control => "control",
            Role::Openstack => "openstack",
            Role::KubernetesMaster => "kubernetes-master",
            Role::Vrouter => "vrouter",
            Role::OpenstackCompute => "openstack-compute",
            Role::KubernetesNode => "kubernetes-node",
        }
    }

    /// A role by its name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One host of the lab: a network namespace on the fabric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// The host name, as nodes and `binding_host_id` name it.
    pub name: String,
    /// What it does (never empty).
    pub roles: BTreeSet<Role>,
    /// Its address on the underlay (the host's `eth0`).
    pub underlay_ip: Ipv4Addr,
}

impl Host {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The roles as `a, b`.
    pub fn role_names(&self) -> String {
        let names: Vec<&str> = self.roles.iter().map(|r| r.name()).collect();
        names.join(", ")
    }
}

/// The hosts, the underlay they share, and the prefix every namespace name
/// of the lab starts with (so parallel labs and leftovers of a crashed one
/// never collide and can be found again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    prefix: String,
    underlay: Ipv4Net,
    hosts: Vec<Host>,
}

impl Topology {
    /// An empty topology on `underlay`. `prefix` may hold ASCII letters,
    /// digits, `-` and `_`, at most 16 of them.
    pub fn new(prefix: &str, underlay: Ipv4Net) -> Result<Topology, LabError> {
        let valid = prefix.len() <= 16
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(LabError::Topology(format!(
                "prefix {prefix:?}: use at most 16 letters, digits, '-' or '_'"
            )));
        }
        Ok(Topology {
            prefix: prefix.to_owned(),
            underlay,
            hosts: Vec::new(),
        })
    }

    /// DESIGN.md §2: sdn-gw (192.168.200.1), cnt-control (.10, the
    /// server), os-control (.11), k8s-master (.12), os-compute (.13, VMs)
    /// and k8s-worker (.14, pods), on 192.168.200.0/24.
    pub fn reference(prefix: &str) -> Result<Topology, LabError> {
        let underlay = Ipv4Net::new(Ipv4Addr::new(192, 168, 200, 0), 24)
            .map_err(|e| LabError::Topology(e.to_string()))?;
        let at = |last| Ipv4Addr::new(192, 168, 200, last);
        Topology::new(prefix, underlay)?
            .with_host("sdn-gw", &[Role::Gateway], at(1))?
            .with_host("cnt-control", &[Role::Control], at(10))?
            .with_host("os-control", &[Role::Openstack], at(11))?
            .with_host("k8s-master", &[Role::KubernetesMaster], at(12))?
            .with_host(
                "os-compute",
                &[Role::Vrouter, Role::OpenstackCompute],
                at(13),
            )?
            .with_host("k8s-worker", &[Role::Vrouter, Role::KubernetesNode], at(14))
    }

    /// Adds a host. Names are unique, the address is a host address of the
    /// underlay, there is at most one control host, and hosts that run
    /// workloads run a vRouter.
    pub fn with_host(
        mut self,
        name: &str,
        roles: &[Role],
        underlay_ip: Ipv4Addr,
    ) -> Result<Topology, LabError> {
        let bad = |why: String| Err(LabError::Topology(format!("host {name:?}: {why}")));
        if name.is_empty()
            || name.len() > 32
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad("use at most 32 letters, digits, '-' or '_'".into());
        }
        if name == "fabric" {
            return bad("the name is the lab's own (the fabric namespace)".into());
        }
        if self.hosts.iter().any(|h| h.name == name) {
            return bad("named twice".into());
        }
        let roles: BTreeSet<Role> = roles.iter().copied().collect();
        if roles.is_empty() {
            return bad("no role".into());
        }
        for needs_vrouter in [Role::OpenstackCompute, Role::KubernetesNode] {
            if roles.contains(&needs_vrouter) && !roles.contains(&Role::Vrouter) {
                return bad(format!("role {needs_vrouter} needs role vrouter"));
            }
        }
        if !self.underlay.contains(&underlay_ip)
            || underlay_ip == self.underlay.network()
            || underlay_ip == self.underlay.broadcast()
        {
            return bad(format!("{underlay_ip} is not a host of {}", self.underlay));
        }
        if self.hosts.iter().any(|h| h.underlay_ip == underlay_ip) {
            return bad(format!("{underlay_ip} is taken"));
        }
        if roles.contains(&Role::Control) && self.hosts.iter().any(|h| h.has(Role::Control)) {
            return bad("there is already a control host".into());
        }
        self.hosts.push(Host {
            name: name.to_owned(),
            roles,
            underlay_ip,
        });
        Ok(self)
    }

    /// Checks what a lab needs beyond single hosts: a control host and
    /// at least one vRouter.
    pub fn validate(&self) -> Result<(), LabError> {
        self.control()?;
        if self.computes().next().is_none() {
            return Err(LabError::Topology(
                "the lab has no host with role vrouter".into(),
            ));
        }
        Ok(())
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn underlay(&self) -> Ipv4Net {
        self.underlay
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// A host by name.
    pub fn host(&self, name: &str) -> Result<&Host, LabError> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| LabError::Topology(format!("no host {name:?} in the lab")))
    }

    /// The host running the server.
    pub fn control(&self) -> Result<&Host, LabError> {
        self.hosts
            .iter()
            .find(|h| h.has(Role::Control))
            .ok_or_else(|| LabError::Topology("the lab has no control host".into()))
    }

    /// The hosts running an agent.
    pub fn computes(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.has(Role::Vrouter))
    }

    /// The first host with `role`.
    pub fn first_with(&self, role: Role) -> Option<&Host> {
        self.hosts.iter().find(|h| h.has(role))
    }

    /// The namespace of a host (or of a workload named `name`).
    pub fn netns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The namespace holding the fabric bridge.
    pub fn fabric_netns(&self) -> String {
        self.netns("fabric")
    }

    /// The native API, as seen from inside the lab.
    pub fn api_addr(&self) -> Result<SocketAddr, LabError> {
        Ok(SocketAddr::V4(SocketAddrV4::new(
            self.control()?.underlay_ip,
            API_PORT,
        )))
    }

    /// `http://…` of the native API, as seen from inside the lab.
    pub fn api_url(&self) -> Result<String, LabError> {
        Ok(format!("http://{}", self.api_addr()?))
    }

    /// `http://…` of the Neutron v2.0 API, as seen from inside the lab.
    pub fn neutron_url(&self) -> Result<String, LabError> {
        Ok(format!(
            "http://{}:{NEUTRON_PORT}",
            self.control()?.underlay_ip
        ))
    }

    /// `http://…` of the control node, as agents reach it.
    pub fn control_url(&self) -> Result<String, LabError> {
        Ok(format!(
            "http://{}:{CONTROL_PORT}",
            self.control()?.underlay_ip
        ))
    }

    /// `http://…` of an agent's introspection, inside its host's namespace.
    pub fn introspect_url(&self) -> String {
        format!("http://127.0.0.1:{INTROSPECT_PORT}")
    }

    /// The name of a host's port on the fabric bridge (inside the fabric
    /// namespace): `v` + the last octet of its underlay address.
    pub fn fabric_port(&self, host: &Host) -> String {
        format!("v{}", host.underlay_ip.octets()[3])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reference_topology_is_the_seed() {
        let t = Topology::reference("wl1-").unwrap();
        let names: Vec<&str> = t.hosts().iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sdn-gw",
                "cnt-control",
                "os-control",
                "k8s-master",
                "os-compute",
                "k8s-worker"
            ]
        );
        assert_eq!(
            t.control().unwrap().underlay_ip,
            Ipv4Addr::new(192, 168, 200, 10)
        );
        let computes: Vec<&str> = t.computes().map(|h| h.name.as_str()).collect();
        assert_eq!(computes, ["os-compute", "k8s-worker"]);
        assert_eq!(
            t.first_with(Role::KubernetesNode).unwrap().name,
            "k8s-worker"
        );
        assert_eq!(
            t.first_with(Role::OpenstackCompute).unwrap().name,
            "os-compute"
        );
        assert_eq!(t.netns("os-compute"), "wl1-os-compute");
        assert_eq!(t.fabric_netns(), "wl1-fabric");
        assert_eq!(t.api_url().unwrap(), "http://192.168.200.10:8082");
        assert_eq!(t.control_url().unwrap(), "http://192.168.200.10:8083");
        let worker = t.host("k8s-worker").unwrap();
        assert_eq!(t.fabric_port(worker), "v14");
        assert_eq!(worker.role_names(), "vrouter, kubernetes-node");
        t.validate().unwrap();
    }

    #[test]
    fn roles_round_trip_by_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse("webui"), None);
    }

    #[test]
    fn bad_topologies_are_refused() {
        let at = |last| Ipv4Addr::new(192, 168, 200, last);
        let compute = [Role::Vrouter];
        assert!(Topology::reference("no spaces").is_err());
        assert!(Topology::reference("much-too-long-prefix-").is_err());
        let t = Topology::reference("x-").unwrap();
        let refused = |t: Result<Topology, LabError>, why: &str| match t {
            Err(LabError::Topology(msg)) => assert!(msg.contains(why), "{msg:?} lacks {why:?}"),
            other => panic!("expected a refusal ({why}), got {other:?}"),
        };
        refused(
            t.clone().with_host("os-compute", &compute, at(20)),
            "named twice",
        );
        refused(t.clone().with_host("n", &compute, at(13)), "is taken");
        refused(
            t.clone()
                .with_host("n", &compute, Ipv4Addr::new(10, 0, 0, 1)),
            "not a host of",
        );
        refused(t.clone().with_host("n", &compute, at(255)), "not a host of");
        refused(
            t.clone().with_host("c2", &[Role::Control], at(20)),
            "already a control host",
        );
        refused(t.clone().with_host("n", &[], at(20)), "no role");
        refused(
            t.clone().with_host("n", &[Role::KubernetesNode], at(20)),
            "needs role vrouter",
        );
        refused(t.with_host("fabric", &compute, at(20)), "the lab's own");
        let underlay = Ipv4Net::new(at(0), 24).unwrap();
        let no_control = Topology::new("y-", underlay)
            .unwrap()
            .with_host("a", &compute, at(2))
            .unwrap();
        assert!(no_control.validate().is_err());
        let no_vrouter = Topology::new("y-", underlay)
            .unwrap()
            .with_host("a", &[Role::Control], at(2))
            .unwrap();
        assert!(no_vrouter.validate().is_err());
    }
}
