//! NetworkPolicy compiled to security groups.
//!
//! weft's groups are allow-lists whose union applies to a port, with rules
//! that name a peer by CIDR or by remote group (a group's members, matched
//! through the group ids every route carries). So, as TF did before its
//! firewall-policy framework:
//!
//! * each policy becomes a group `np-<policy>` in its namespace's project,
//!   holding one rule per (peer, port, family) of the directions the policy
//!   isolates, given to every pod the policy selects;
//! * each peer that selects pods becomes a rule-less group
//!   `np-<policy>-<in|out>-<rule>-<peer>` given to the pods it selects, and
//!   the policy's rule names it as remote group;
//! * an `ipBlock` becomes rules for the block minus its exceptions, split
//!   into the prefixes that cover exactly the rest;
//! * a pod that some policy selects loses its namespace's allow-all
//!   `default` group; if no policy isolates one of its directions, the
//!   cluster's allow-all group for that direction is added back.
//!
//! Approximations: a named port resolves to the numbers the relevant pods
//! give that name (the selected pods for ingress, the peer pods — or every
//! pod when the peer is not pod-based — for egress); if they differ, the
//! rule admits each of them. Peers that have no weft port (host-network
//! pods, nodes) match only by `ipBlock`.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use uuid::Uuid;
use weft_model::{Direction, Ethertype};
use weft_types::FqName;

use crate::cluster::{Peer, Pod, Policy, PolicyPort, PolicyRule, PortSpec, Snapshot};
use crate::names::ClusterConfig;

/// Where a rule's traffic may come from or go to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Remote {
    Cidr(IpNet),
    Group(FqName),
}

/// One allow rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    pub direction: Direction,
    pub ethertype: Ethertype,
    pub protocol: Option<String>,
    pub port_min: Option<u16>,
    pub port_max: Option<u16>,
    pub remote: Remote,
}

impl RuleSpec {
    #[allow(clippy::type_complexity)]
    fn key(&self) -> (u8, u8, &Option<String>, Option<u16>, Option<u16>, &Remote) {
        let direction = match self.direction {
            Direction::Ingress => 0,
            Direction::Egress => 1,
        };
        let ethertype = match self.ethertype {
            Ethertype::IPv4 => 4,
            Ethertype::IPv6 => 6,
        };
        (
            direction,
            ethertype,
            &self.protocol,
            self.port_min,
            self.port_max,
            &self.remote,
        )
    }
}

impl PartialOrd for RuleSpec {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RuleSpec {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// A group kube-manager owns, with exactly these rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSpec {
    pub fq_name: FqName,
    pub description: String,
    pub rules: BTreeSet<RuleSpec>,
}

/// The groups policies need and the groups of each pod's port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compiled {
    /// Policy and peer groups, by name.
    pub groups: BTreeMap<FqName, GroupSpec>,
    /// The groups of each pod's port (pods that want a port only).
    pub pod_groups: BTreeMap<Uuid, BTreeSet<FqName>>,
    /// What could not be compiled as written, naming the policy.
    pub warnings: Vec<String>,
}

fn any_of(ethertype: Ethertype) -> IpNet {
    match ethertype {
        Ethertype::IPv4 => "0.0.0.0/0".parse().expect("constant"),
        Ethertype::IPv6 => "::/0".parse().expect("constant"),
    }
}

fn family(net: &IpNet) -> Ethertype {
    match net {
        IpNet::V4(_) => Ethertype::IPv4,
        IpNet::V6(_) => Ethertype::IPv6,
    }
}

/// Rules that admit everything in `direction`.
pub fn allow_all(direction: Direction) -> BTreeSet<RuleSpec> {
    [Ethertype::IPv4, Ethertype::IPv6]
        .into_iter()
        .map(|ethertype| RuleSpec {
            direction,
            ethertype,
            protocol: None,
            port_min: None,
            port_max: None,
            remote: Remote::Cidr(any_of(ethertype)),
        })
        .collect()
}

/// `cidr` minus `except`, as the fewest prefixes covering exactly the rest.
pub fn subtract(cidr: IpNet, except: &[IpNet]) -> Vec<IpNet> {
    let cidr = cidr.trunc();
    let relevant: Vec<IpNet> = except
        .iter()
        .map(IpNet::trunc)
        .filter(|e| cidr.contains(e) || e.contains(&cidr))
        .collect();
    if relevant.iter().any(|e| e.contains(&cidr)) {
        return Vec::new();
    }
    if relevant.is_empty() {
        return vec![cidr];
    }
    match cidr.subnets(cidr.prefix_len() + 1) {
        Ok(halves) => halves.flat_map(|h| subtract(h, &relevant)).collect(),
        Err(_) => Vec::new(),
    }
}

struct Ctx<'a> {
    cluster: &'a ClusterConfig,
    snapshot: &'a Snapshot,
    out: Compiled,
}

impl<'a> Ctx<'a> {
    fn pods_of_peer(&self, policy: &Policy, peer: &Peer) -> Vec<&'a Pod> {
        let Peer::Pods { namespaces, pods } = peer else {
            return Vec::new();
        };
        let snapshot: &'a Snapshot = self.snapshot;
        snapshot
            .pods
            .values()
            .filter(|p| p.wants_port())
            .filter(|p| match namespaces {
                None => p.namespace == policy.namespace,
                Some(sel) => snapshot
                    .namespaces
                    .get(&p.namespace)
                    .is_some_and(|ns| sel.matches(&ns.labels)),
            })
            .filter(|p| pods.matches(&p.labels))
            .collect()
    }

    /// Port ranges and protocols a policy port stands for.
    fn port_ranges(
        &mut self,
        policy: &Policy,
        port: &PolicyPort,
        named_in: &[&Pod],
    ) -> Vec<(Option<String>, Option<u16>, Option<u16>)> {
        let protocol = Some(port.protocol.clone());
        match &port.port {
            None => vec![(protocol, None, None)],
            Some(PortSpec::Number(n)) => {
                vec![(
                    protocol,
                    Some(*n),
                    Some(port.end_port.unwrap_or(*n).max(*n)),
                )]
            }
            Some(PortSpec::Named(name)) => {
                let numbers: BTreeSet<u16> = named_in
                    .iter()
                    .flat_map(|p| p.ports.iter())
                    .filter(|c| &c.name == name && c.protocol == port.protocol)
                    .map(|c| c.port)
                    .collect();
                if numbers.is_empty() {
                    self.out.warnings.push(format!(
                        "networkpolicy {}/{}: no pod names a {} port {name:?}; that port admits nothing",
                        policy.namespace, policy.name, port.protocol
                    ));
                }
                numbers
                    .into_iter()
                    .map(|n| (protocol.clone(), Some(n), Some(n)))
                    .collect()
            }
        }
    }

    fn rule(&mut self, policy: &Policy, direction: Direction, index: usize, rule: &PolicyRule) {
        let tag = match direction {
            Direction::Ingress => "in",
            Direction::Egress => "out",
        };
        let group = self
            .cluster
            .group_in(&policy.namespace, &policy_group(&policy.name));
        let selected: Vec<&'a Pod> = self.selected(policy);
        let all: Vec<&'a Pod> = self.snapshot.pods.values().collect();
        let mut remotes: Vec<(Remote, Vec<&'a Pod>)> = Vec::new();
        if rule.peers.is_empty() {
            for ethertype in [Ethertype::IPv4, Ethertype::IPv6] {
                remotes.push((Remote::Cidr(any_of(ethertype)), all.clone()));
            }
        }
        for (j, peer) in rule.peers.iter().enumerate() {
            match peer {
                Peer::Block { cidr, except } => {
                    for net in subtract(*cidr, except) {
                        remotes.push((Remote::Cidr(net), all.clone()));
                    }
                }
                Peer::Pods { .. } => {
                    let name = format!("np-{}-{tag}-{index}-{j}", policy.name);
                    let peer_group = self.cluster.group_in(&policy.namespace, &name);
                    let members = self.pods_of_peer(policy, peer);
                    for pod in &members {
                        self.out
                            .pod_groups
                            .entry(pod.uid)
                            .or_default()
                            .insert(peer_group.clone());
                    }
                    self.out.groups.insert(
                        peer_group.clone(),
                        GroupSpec {
                            fq_name: peer_group.clone(),
                            description: format!(
                                "pods peer {j} of {tag}gress rule {index} of networkpolicy {}/{} selects",
                                policy.namespace, policy.name
                            ),
                            rules: BTreeSet::new(),
                        },
                    );
                    remotes.push((Remote::Group(peer_group), members));
                }
            }
        }
        let mut rules = BTreeSet::new();
        for (remote, peers) in remotes {
            let named_in: &[&Pod] = match direction {
                Direction::Ingress => &selected,
                Direction::Egress => &peers,
            };
            let mut ranges = Vec::new();
            if rule.ports.is_empty() {
                ranges.push((None, None, None));
            }
            for p in &rule.ports {
                ranges.extend(self.port_ranges(policy, p, named_in));
            }
            let families = match &remote {
                Remote::Cidr(net) => vec![family(net)],
                Remote::Group(_) => vec![Ethertype::IPv4, Ethertype::IPv6],
            };
            for ethertype in families {
                for (protocol, port_min, port_max) in &ranges {
                    rules.insert(RuleSpec {
                        direction,
                        ethertype,
                        protocol: protocol.clone(),
                        port_min: *port_min,
                        port_max: *port_max,
                        remote: remote.clone(),
                    });
                }
            }
        }
        if let Some(spec) = self.out.groups.get_mut(&group) {
            spec.rules.extend(rules);
        }
    }

    fn selected(&self, policy: &Policy) -> Vec<&'a Pod> {
        let snapshot: &'a Snapshot = self.snapshot;
        snapshot
            .pods_in(&policy.namespace)
            .filter(|p| p.wants_port() && policy.pod_selector.matches(&p.labels))
            .collect()
    }
}

/// Name of a policy's group in its namespace's project.
pub fn policy_group(policy: &str) -> String {
    format!("np-{policy}")
}

/// Compiles every policy of `snapshot` and decides each pod's groups.
pub fn compile(cluster: &ClusterConfig, snapshot: &Snapshot) -> Compiled {
    let mut ctx = Ctx {
        cluster,
        snapshot,
        out: Compiled::default(),
    };
    // (ingress isolated, egress isolated) per selected pod.
    let mut isolated: BTreeMap<Uuid, (bool, bool)> = BTreeMap::new();
    // A policy whose namespace is not seen yet waits (its project is made
    // with the namespace).
    for policy in snapshot
        .policies
        .values()
        .filter(|p| snapshot.namespaces.contains_key(&p.namespace))
    {
        let group = cluster.group_in(&policy.namespace, &policy_group(&policy.name));
        ctx.out.groups.insert(
            group.clone(),
            GroupSpec {
                fq_name: group.clone(),
                description: format!("networkpolicy {}/{}", policy.namespace, policy.name),
                rules: BTreeSet::new(),
            },
        );
        for pod in ctx.selected(policy) {
            let entry = isolated.entry(pod.uid).or_default();
            entry.0 |= policy.ingress.is_some();
            entry.1 |= policy.egress.is_some();
            ctx.out
                .pod_groups
                .entry(pod.uid)
                .or_default()
                .insert(group.clone());
        }
        for (direction, rules) in [
            (Direction::Ingress, &policy.ingress),
            (Direction::Egress, &policy.egress),
        ] {
            for (i, rule) in rules.iter().flatten().enumerate() {
                ctx.rule(policy, direction, i, rule);
            }
        }
    }
    for pod in snapshot.pods.values().filter(|p| p.wants_port()) {
        let groups = ctx.out.pod_groups.entry(pod.uid).or_default();
        match isolated.get(&pod.uid) {
            None => {
                groups.insert(cluster.group_in(&pod.namespace, weft_model::DEFAULT_GROUP));
            }
            Some((ingress, egress)) => {
                if !ingress {
                    groups.insert(cluster.allow_ingress_group());
                }
                if !egress {
                    groups.insert(cluster.allow_egress_group());
                }
            }
        }
    }
    ctx.out
        .pod_groups
        .retain(|uid, _| snapshot.pods.get(uid).is_some_and(Pod::wants_port));
    ctx.out
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
