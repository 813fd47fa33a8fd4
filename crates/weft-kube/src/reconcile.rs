//! From what the cluster holds to the commands that make weft's model match.
//!
//! [`plan`] is pure: a [`Snapshot`] of the cluster and the committed
//! [`Model`] in, the commands to submit (in dependency order) and the
//! problems to report out. The driver submits them and plans again until
//! nothing is left (a new group comes with the model's default egress
//! rules, which the next pass removes where a policy owns the group).
//!
//! Rules that keep pods' addresses: a pod's port is the one whose UUID is
//! the pod's UID, whoever made it (kube-manager or the CNI ADD); an
//! existing port is never re-made, only its groups change. Removals happen
//! only once the cluster has been listed in full (`synced`), so a restart
//! cannot mistake a pod not yet seen for a pod that is gone.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use uuid::Uuid;
use weft_model::{
    Command, CreateNetwork, CreatePort, CreateProject, CreateSecurityGroup,
    CreateSecurityGroupRule, CreateSubnet, DEFAULT_GROUP, Direction, Ethertype, Model, Port, Ref,
    SecurityGroupRule, UpdatePort, UpdateSubnet, VifType,
};
use weft_types::{FqName, Prefix};

use crate::annotation::place;
use crate::cluster::{Pod, Snapshot};
use crate::names::{ClusterConfig, POD_DEVICE_OWNER, TAG};
use crate::policy::{self, GroupSpec, Remote, RuleSpec, compile};
use crate::service;

/// What one pass decided.
#[derive(Debug, Default)]
pub struct Plan {
    pub commands: Vec<Command>,
    /// Things the cluster asks that cannot be done, each naming its object.
    pub problems: Vec<String>,
}

/// The tag that marks an object as this cluster's.
pub fn cluster_tag(cluster: &ClusterConfig) -> String {
    format!("k8s-cluster={}", cluster.name)
}

fn tags(cluster: &ClusterConfig) -> Vec<String> {
    vec![TAG.to_owned(), cluster_tag(cluster)]
}

/// Whether a port is a pod port of this cluster (made here or by the CNI
/// side, which describes it as `pod NS/NAME of cluster C`).
pub fn is_cluster_pod_port(cluster: &ClusterConfig, port: &Port) -> bool {
    port.device_owner == POD_DEVICE_OWNER
        && (port.meta.tags.contains(&cluster_tag(cluster))
            || port
                .meta
                .description
                .ends_with(&format!(" of cluster {}", cluster.name)))
}

fn prefix(net: &IpNet) -> Prefix {
    Prefix::from_net(net.trunc())
}

fn any_of(ethertype: Ethertype) -> IpNet {
    match ethertype {
        Ethertype::IPv4 => "0.0.0.0/0".parse().expect("constant"),
        Ethertype::IPv6 => "::/0".parse().expect("constant"),
    }
}

/// A stored rule as a [`RuleSpec`] (None when it names a group that is gone).
fn spec_of(model: &Model, rule: &SecurityGroupRule) -> Option<RuleSpec> {
    let remote = match (rule.remote_group_id, rule.remote_ip_prefix) {
        (Some(id), _) => Remote::Group(
            model
                .security_groups()
                .find(|g| g.meta.id == id)?
                .fq_name
                .clone(),
        ),
        (None, Some(p)) => Remote::Cidr(p.net()),
        (None, None) => Remote::Cidr(any_of(rule.ethertype)),
    };
    Some(RuleSpec {
        direction: rule.direction,
        ethertype: rule.ethertype,
        protocol: rule.protocol.as_ref().map(|p| p.to_ascii_lowercase()),
        port_min: rule.port_range_min,
        port_max: rule.port_range_max,
        remote,
    })
}

fn create_rule(group: &FqName, rule: &RuleSpec) -> Command {
    let (remote_ip_prefix, remote_group) = match &rule.remote {
        Remote::Cidr(net) => (Some(net.trunc().to_string()), None),
        Remote::Group(g) => (None, Some(Ref::Name(g.clone()))),
    };
    Command::CreateSecurityGroupRule(CreateSecurityGroupRule {
        security_group: Ref::Name(group.clone()),
        id: None,
        direction: rule.direction,
        ethertype: Some(rule.ethertype),
        protocol: rule.protocol.clone(),
        port_range_min: rule.port_min,
        port_range_max: rule.port_max,
        remote_ip_prefix,
        remote_group,
        description: "Kubernetes".into(),
    })
}

struct Planner<'a> {
    cluster: &'a ClusterConfig,
    model: &'a Model,
    plan: Plan,
}

impl Planner<'_> {
    fn has_project(&self, name: &FqName) -> bool {
        self.model.projects().any(|p| &p.fq_name == name)
    }

    fn project(&mut self, name: &FqName, description: String, external_id: Option<String>) {
        if !self.has_project(name) {
            self.plan
                .commands
                .push(Command::CreateProject(CreateProject {
                    fq_name: name.clone(),
                    id: None,
                    description,
                    tags: tags(self.cluster),
                    external_id,
                }));
        }
    }

    /// `fabric_snat`: the network's pods reach the fabric (the API server,
    /// other nodes) through their node, masqueraded to its address.
    /// `all_addresses`: no gateway or DNS address takes any of the subnet's
    /// addresses (the service network, where each is a ClusterIP to be and
    /// the `kubernetes` Service takes the first).
    fn network(
        &mut self,
        name: FqName,
        cidr: &IpNet,
        description: &str,
        fabric_snat: bool,
        all_addresses: bool,
    ) {
        let found = self.model.networks().find(|n| n.fq_name == name);
        match found {
            None => {
                let mut subnet = CreateSubnet::with_cidr(prefix(cidr));
                subnet.name = format!("{}-subnet", name.name());
                if all_addresses {
                    // ClusterIPs come from the whole range: the apiserver
                    // gives the first address to the `kubernetes` Service.
                    subnet.gateway_ip = Some(None);
                    subnet.dns_service_ip = Some(None);
                }
                self.plan
                    .commands
                    .push(Command::CreateNetwork(CreateNetwork {
                        description: description.into(),
                        tags: tags(self.cluster),
                        subnets: vec![subnet],
                        fabric_snat,
                        ..CreateNetwork::named(name)
                    }));
            }
            Some(n) => {
                let want = prefix(cidr);
                let subnets = self.model.subnets_of(n.meta.id);
                let Some(subnet) = subnets.iter().find(|s| s.cidr == want) else {
                    self.plan.problems.push(format!(
                        "network {name} exists without subnet {want}; it is used as it is"
                    ));
                    return;
                };
                if !all_addresses {
                    return;
                }
                // Made before Services were load-balanced: its gateway
                // holds the first address, the `kubernetes` Service's.
                if subnet.gateway_ip.is_some() {
                    self.plan.commands.push(Command::UpdateSubnet(
                        Ref::Id(subnet.meta.id),
                        UpdateSubnet {
                            gateway_ip: Some(None),
                            ..UpdateSubnet::default()
                        },
                    ));
                }
                if let Some(dns) = subnet.dns_service_ip {
                    self.plan.problems.push(format!(
                        "subnet {want} of {name} keeps DNS address {dns}: no Service can \
                         have it as clusterIP"
                    ));
                }
            }
        }
    }

    /// Makes `group` exist with exactly `spec`'s rules.
    fn owned_group(&mut self, spec: &GroupSpec) {
        let Some(group) = self
            .model
            .security_groups()
            .find(|g| g.fq_name == spec.fq_name)
        else {
            self.plan
                .commands
                .push(Command::CreateSecurityGroup(CreateSecurityGroup {
                    fq_name: spec.fq_name.clone(),
                    id: None,
                    description: spec.description.clone(),
                    tags: tags(self.cluster),
                    stateful: Some(true),
                }));
            for rule in &spec.rules {
                self.plan.commands.push(create_rule(&spec.fq_name, rule));
            }
            return;
        };
        let mut have = BTreeSet::new();
        for rule in self.model.rules_of(group.meta.id) {
            match spec_of(self.model, rule) {
                Some(s) if spec.rules.contains(&s) && !have.contains(&s) => {
                    have.insert(s);
                }
                _ => self
                    .plan
                    .commands
                    .push(Command::DeleteSecurityGroupRule(Ref::Id(rule.meta.id))),
            }
        }
        for rule in spec.rules.difference(&have) {
            self.plan.commands.push(create_rule(&spec.fq_name, rule));
        }
    }

    /// Makes a namespace's `default` group admit all ingress (it admits
    /// all egress from birth).
    fn default_allows_all(&mut self, namespace: &str) {
        let name = self.cluster.group_in(namespace, DEFAULT_GROUP);
        let existing: BTreeSet<RuleSpec> = self
            .model
            .security_groups()
            .find(|g| g.fq_name == name)
            .map(|g| {
                self.model
                    .rules_of(g.meta.id)
                    .filter_map(|r| spec_of(self.model, r))
                    .collect()
            })
            .unwrap_or_default();
        for rule in policy::allow_all(Direction::Ingress) {
            if !existing.contains(&rule) {
                self.plan.commands.push(create_rule(&name, &rule));
            }
        }
    }

    fn group_names(&self, port: &Port) -> BTreeSet<FqName> {
        port.security_groups
            .iter()
            .filter_map(|id| self.model.security_groups().find(|g| g.meta.id == *id))
            .map(|g| g.fq_name.clone())
            .collect()
    }

    fn pod(&mut self, snapshot: &Snapshot, pod: &Pod, groups: &BTreeSet<FqName>) {
        let Some(namespace) = snapshot.namespaces.get(&pod.namespace) else {
            return; // its namespace is not seen yet: wait for it
        };
        let Some(node) = &pod.node else { return };
        let placement = place(
            self.cluster,
            &pod.namespace,
            &pod.name,
            &pod.annotations,
            &namespace.annotations,
        );
        let existing = self.model.ports().find(|p| p.meta.id == pod.uid);
        if let Some(port) = existing {
            if let Ok(placement) = &placement {
                let on = self
                    .model
                    .networks()
                    .find(|n| n.meta.id == port.network_id)
                    .map(|n| n.fq_name.clone());
                if on.as_ref() != Some(&placement.network) {
                    self.plan.problems.push(format!(
                        "pod {}/{}: its port is on {} but its annotations now ask for {}; \
                         the port is kept (a running pod keeps its address)",
                        pod.namespace,
                        pod.name,
                        on.map(|n| n.to_string()).unwrap_or_default(),
                        placement.network
                    ));
                }
            }
            if port.port_security_enabled && &self.group_names(port) != groups {
                self.plan.commands.push(Command::UpdatePort(
                    Ref::Id(port.meta.id),
                    UpdatePort {
                        security_groups: Some(groups.iter().cloned().map(Ref::Name).collect()),
                        ..UpdatePort::default()
                    },
                ));
            }
            return;
        }
        let placement = match placement {
            Ok(p) => p,
            Err(e) => {
                self.plan.problems.push(e.to_string());
                return;
            }
        };
        if !self
            .model
            .networks()
            .any(|n| n.fq_name == placement.network)
        {
            self.plan.problems.push(format!(
                "pod {}/{}: network {} does not exist (create it, or fix the annotation)",
                pod.namespace, pod.name, placement.network
            ));
            return;
        }
        let mut create = CreatePort::on(Ref::Name(placement.network.clone()));
        create.project = Some(Ref::Name(placement.project));
        create.id = Some(pod.uid);
        create.name = format!("{}__{}", pod.namespace, pod.name);
        create.security_groups = Some(groups.iter().cloned().map(Ref::Name).collect());
        create.binding_host_id = Some(node.clone());
        create.vif_type = Some(VifType::Veth);
        create.device_owner = POD_DEVICE_OWNER.into();
        create.device_id = pod.uid.to_string();
        create.description = format!(
            "pod {}/{} of cluster {}",
            pod.namespace, pod.name, self.cluster.name
        );
        create.tags = tags(self.cluster);
        self.plan.commands.push(Command::CreatePort(create));
    }
}

/// Plans one pass. `synced`: the snapshot holds the whole cluster (the
/// initial lists are complete), so what is missing from it may be removed.
pub fn plan(cluster: &ClusterConfig, snapshot: &Snapshot, synced: bool, model: &Model) -> Plan {
    let mut p = Planner {
        cluster,
        model,
        plan: Plan::default(),
    };
    // The cluster's own objects.
    p.project(
        &cluster.default_project(),
        format!("Kubernetes cluster {}", cluster.name),
        None,
    );
    p.network(
        cluster.pod_network(),
        &cluster.pod_cidr,
        "Kubernetes default pod network",
        true,
        false,
    );
    p.network(
        cluster.service_network(),
        &cluster.service_cidr,
        "Kubernetes service network",
        false,
        true,
    );
    for (name, direction) in [
        (cluster.allow_ingress_group(), Direction::Ingress),
        (cluster.allow_egress_group(), Direction::Egress),
    ] {
        p.owned_group(&GroupSpec {
            fq_name: name,
            description: "Kubernetes default-allow for one direction".into(),
            rules: policy::allow_all(direction),
        });
    }
    // Namespaces.
    for ns in snapshot.namespaces.values() {
        p.project(
            &cluster.project_of(&ns.name),
            format!("Kubernetes namespace {}", ns.name),
            ns.uid.clone(),
        );
        p.default_allows_all(&ns.name);
    }
    // Policies, then ports.
    let compiled = compile(cluster, snapshot);
    p.plan.problems.extend(compiled.warnings.iter().cloned());
    for spec in compiled.groups.values() {
        p.owned_group(spec);
    }
    let empty = BTreeSet::new();
    for pod in snapshot.pods.values().filter(|p| p.wants_port()) {
        let groups = compiled.pod_groups.get(&pod.uid).unwrap_or(&empty);
        p.pod(snapshot, pod, groups);
    }
    // Services (their removals too, once synced).
    let services_removed = service::plan(cluster, snapshot, synced, model, &mut p.plan);
    if !synced {
        return p.plan;
    }
    // Removals: ports of pods that are gone, then policy groups no policy
    // needs, then projects of namespaces that are gone and hold nothing.
    let wanted: BTreeSet<Uuid> = snapshot
        .pods
        .values()
        .filter(|p| p.wants_port())
        .map(|p| p.uid)
        .collect();
    let mut removed_ports = services_removed;
    for port in model.ports() {
        if is_cluster_pod_port(cluster, port) && !wanted.contains(&port.meta.id) {
            removed_ports.insert(port.meta.id);
            p.plan
                .commands
                .push(Command::DeletePort(Ref::Id(port.meta.id)));
        }
    }
    let cluster_tag = cluster_tag(cluster);
    for group in model.security_groups() {
        let ours = group.meta.tags.contains(&cluster_tag) && group.name().starts_with("np-");
        if ours && !compiled.groups.contains_key(&group.fq_name) {
            p.plan
                .commands
                .push(Command::DeleteSecurityGroup(Ref::Id(group.meta.id)));
        }
    }
    let holds: BTreeMap<Uuid, usize> = model
        .ports()
        .filter(|port| !removed_ports.contains(&port.meta.id))
        .map(|port| port.project_id)
        .chain(
            model
                .load_balancers()
                .filter(|lb| !removed_ports.contains(&lb.meta.id))
                .map(|lb| lb.project_id),
        )
        .fold(BTreeMap::new(), |mut m, project| {
            *m.entry(project).or_default() += 1;
            m
        });
    for project in model.projects() {
        let Some(ns) = cluster.namespace_of(&project.fq_name) else {
            continue;
        };
        let ours = project.meta.tags.contains(&cluster_tag)
            || project.meta.description.starts_with("Kubernetes namespace");
        if !ours
            || snapshot.namespaces.contains_key(&ns)
            || project.fq_name == cluster.default_project()
        {
            continue;
        }
        if holds.get(&project.meta.id).copied().unwrap_or(0) > 0
            || model.networks().any(|n| n.project_id == project.meta.id)
        {
            p.plan.problems.push(format!(
                "namespace {ns} is gone but project {} still holds ports, networks or load \
                 balancers; it is kept",
                project.fq_name
            ));
            continue;
        }
        p.plan
            .commands
            .push(Command::DeleteProject(Ref::Id(project.meta.id)));
    }
    p.plan
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
