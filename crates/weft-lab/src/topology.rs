//! What the lab builds: hosts with roles and underlay addresses on one
//! fabric, and the names their namespaces get.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use ipnet::Ipv4Net;

use crate::LabError;

/// The native API port of `weft server` in the lab.
pub const API_PORT: u16 = 8082;
/// The control node (agent sessions, gRPC) port of `weft server`.
pub const CONTROL_PORT: u16 = 8083;
/// Where each agent serves introspection, on the loopback of its node.
pub const INTROSPECT_PORT: u16 = 8085;
/// The fabric bridge inside the fabric namespace.
pub const FABRIC_BRIDGE: &str = "br0";
/// A host's underlay interface inside its namespace.
pub const UNDERLAY_IF: &str = "eth0";

/// What a host does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Runs `weft server` (config API and control node).
    Control,
    /// Runs `weft agent` and hosts workloads.
    Compute,
}

/// One host of the lab: a network namespace on the fabric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The host name, as nodes and `binding_host_id` name it.
    pub name: String,
    pub role: Role,
    /// Its address on the underlay (the host's `eth0`).
    pub underlay_ip: Ipv4Addr,
}

/// The hosts, the underlay they share, and the prefix every namespace name
/// of the lab starts with (so parallel labs and leftovers of a crashed one
/// never collide and can be found again).
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// DESIGN.md §2 as far as weft runs it: cnt-control (192.168.200.10,
    /// the server), os-compute (.13) and k8s-worker (.14), on
    /// 192.168.200.0/24.
    pub fn reference(prefix: &str) -> Result<Topology, LabError> {
        let underlay = Ipv4Net::new(Ipv4Addr::new(192, 168, 200, 0), 24)
            .map_err(|e| LabError::Topology(e.to_string()))?;
        Topology::new(prefix, underlay)?
            .with_host(
                "cnt-control",
                Role::Control,
                Ipv4Addr::new(192, 168, 200, 10),
            )?
            .with_host(
                "os-compute",
                Role::Compute,
                Ipv4Addr::new(192, 168, 200, 13),
            )?
            .with_host(
                "k8s-worker",
                Role::Compute,
                Ipv4Addr::new(192, 168, 200, 14),
            )
    }

    /// Adds a host. Names are unique, the address is a host address of the
    /// underlay, and there is at most one control host.
    pub fn with_host(
        mut self,
        name: &str,
        role: Role,
        underlay_ip: Ipv4Addr,
    ) -> Result<Topology, LabError> {
        let bad = |why: String| Err(LabError::Topology(format!("host {name:?}: {why}")));
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad("use letters, digits, '-' or '_'".into());
        }
        if self.hosts.iter().any(|h| h.name == name) {
            return bad("named twice".into());
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
        if role == Role::Control && self.hosts.iter().any(|h| h.role == Role::Control) {
            return bad("there is already a control host".into());
        }
        self.hosts.push(Host {
            name: name.to_owned(),
            role,
            underlay_ip,
        });
        Ok(self)
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
            .find(|h| h.role == Role::Control)
            .ok_or_else(|| LabError::Topology("the lab has no control host".into()))
    }

    /// The hosts running an agent.
    pub fn computes(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.role == Role::Compute)
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
        assert_eq!(names, ["cnt-control", "os-compute", "k8s-worker"]);
        assert_eq!(
            t.control().unwrap().underlay_ip,
            Ipv4Addr::new(192, 168, 200, 10)
        );
        assert_eq!(t.computes().count(), 2);
        assert_eq!(t.netns("os-compute"), "wl1-os-compute");
        assert_eq!(t.fabric_netns(), "wl1-fabric");
        assert_eq!(t.api_url().unwrap(), "http://192.168.200.10:8082");
        assert_eq!(t.control_url().unwrap(), "http://192.168.200.10:8083");
        let worker = t.host("k8s-worker").unwrap();
        assert_eq!(t.fabric_port(worker), "v14");
    }

    #[test]
    fn bad_topologies_are_refused() {
        assert!(Topology::reference("no spaces").is_err());
        assert!(Topology::reference("much-too-long-prefix-").is_err());
        let t = Topology::reference("x-").unwrap();
        assert!(
            t.clone()
                .with_host(
                    "os-compute",
                    Role::Compute,
                    Ipv4Addr::new(192, 168, 200, 20)
                )
                .is_err()
        );
        assert!(
            t.clone()
                .with_host("n", Role::Compute, Ipv4Addr::new(192, 168, 200, 13))
                .is_err()
        );
        assert!(
            t.clone()
                .with_host("n", Role::Compute, Ipv4Addr::new(10, 0, 0, 1))
                .is_err()
        );
        assert!(
            t.with_host("c2", Role::Control, Ipv4Addr::new(192, 168, 200, 11))
                .is_err()
        );
    }
}
