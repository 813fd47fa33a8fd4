//! Services as weft load balancers, so that no kube-proxy is needed: the
//! ClusterIP is held by a port of the cluster's service network (whose UUID
//! is the Service's UID), and a load balancer on that port (same UUID) has
//! a listener per Service port whose backends are the ready addresses of
//! the Service's Endpoints. Each client's vRouter spreads connections over
//! them (`weft-vrouter`'s service table).
//!
//! Endpoints carry `targetPort` already resolved, so selector-less Services
//! with manual Endpoints (pointing at a VM's port, or at the apiserver's
//! underlay address for the `kubernetes` Service) work like the others: a
//! backend is any address the client's VRF routes to, the fabric included
//! where the pod network has fabric SNAT.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use uuid::Uuid;
use weft_model::{
    Command, CreateLoadBalancer, CreatePort, FixedIpRequest, LbBackend, LbProtocol, Listener,
    Model, Ref, UpdateLoadBalancer,
};

use crate::cluster::{Endpoints, Service, Snapshot};
use crate::names::{ClusterConfig, SERVICE_DEVICE_OWNER, TAG};
use crate::reconcile::{Plan, cluster_tag, is_cluster_pod_port};

/// Tag of the load balancers made for Services.
pub const SERVICE_TAG: &str = "k8s-service";

fn who(service: &Service) -> String {
    format!("Service {}/{}", service.namespace, service.name)
}

/// The listeners of `service`: one per port, with the ready addresses of
/// the Endpoints port of the same name and protocol. No Endpoints (yet)
/// means no backend: connections are refused, as kube-proxy does.
pub fn listeners(service: &Service, endpoints: Option<&Endpoints>) -> (Vec<Listener>, Vec<String>) {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let vip_v4 = service.cluster_ip.is_none_or(|ip| ip.is_ipv4());
    for port in &service.ports {
        let protocol = match port.protocol.as_str() {
            "TCP" => LbProtocol::Tcp,
            "UDP" => LbProtocol::Udp,
            other => {
                problems.push(format!(
                    "{}: port {} uses {other}, which is not load-balanced (TCP and UDP are)",
                    who(service),
                    port.port
                ));
                continue;
            }
        };
        let mut backends = BTreeSet::new();
        for subset in endpoints.iter().flat_map(|e| e.subsets.iter()) {
            let Some(target) = subset
                .ports
                .iter()
                .find(|p| p.name == port.name && p.protocol == port.protocol)
            else {
                continue;
            };
            for address in &subset.addresses {
                if address.is_ipv4() != vip_v4 {
                    problems.push(format!(
                        "{}: endpoint {address} is not of the family of the clusterIP; left out",
                        who(service)
                    ));
                    continue;
                }
                backends.insert(LbBackend {
                    address: *address,
                    port: target.port,
                });
            }
        }
        out.push(Listener {
            protocol,
            port: port.port,
            backends: backends.into_iter().collect(),
        });
    }
    (out, problems)
}

/// The Services that should have a load balancer now, by UID, with their
/// ClusterIP.
fn wanted<'a>(
    cluster: &ClusterConfig,
    snapshot: &'a Snapshot,
    problems: &mut Vec<String>,
) -> BTreeMap<Uuid, (&'a Service, IpAddr)> {
    let mut out = BTreeMap::new();
    for service in snapshot.services.values() {
        let Some(ip) = service.cluster_ip else {
            continue;
        };
        if !cluster.service_cidr.contains(&ip) {
            problems.push(format!(
                "{}: clusterIP {ip} is outside the service network {} (the apiserver's \
                 --service-cluster-ip-range must be the cluster's service CIDR)",
                who(service),
                cluster.service_cidr
            ));
            continue;
        }
        out.insert(service.uid, (service, ip));
    }
    out
}

/// Plans the Services' ports and load balancers. Returns the ports and
/// load balancers planned for removal (so that projects they kept can go).
pub(crate) fn plan(
    cluster: &ClusterConfig,
    snapshot: &Snapshot,
    synced: bool,
    model: &Model,
    plan: &mut Plan,
) -> BTreeSet<Uuid> {
    let mut removed = BTreeSet::new();
    let service_net = cluster.service_network();
    let Some(service_net_id) = model
        .networks()
        .find(|n| n.fq_name == service_net)
        .map(|n| n.meta.id)
    else {
        return removed; // made in this pass; Services follow in the next
    };
    // Every network the cluster's pods are on reaches every Service.
    let pod_net = cluster.pod_network();
    let clients: Vec<Uuid> = model
        .networks()
        .filter(|n| n.fq_name == pod_net)
        .map(|n| n.meta.id)
        .chain(
            model
                .ports()
                .filter(|p| is_cluster_pod_port(cluster, p))
                .map(|p| p.network_id),
        )
        .filter(|id| *id != service_net_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let tags = vec![TAG.to_owned(), cluster_tag(cluster), SERVICE_TAG.to_owned()];
    let wanted = wanted(cluster, snapshot, &mut plan.problems);
    for (uid, (service, ip)) in &wanted {
        let project = cluster.project_of(&service.namespace);
        if !model.projects().any(|p| p.fq_name == project) {
            continue; // its namespace's project comes first
        }
        let endpoints = snapshot
            .endpoints
            .get(&(service.namespace.clone(), service.name.clone()));
        let (listeners, problems) = listeners(service, endpoints);
        plan.problems.extend(problems);
        let lb = model.load_balancers().find(|l| l.meta.id == *uid);
        match model.ports().find(|p| p.meta.id == *uid) {
            Some(port) if port.fixed_ips.first().map(|f| f.ip_address) != Some(*ip) => {
                // A ClusterIP never changes; a port that holds another
                // address is left from an earlier Service: made anew.
                if lb.is_some() {
                    plan.commands
                        .push(Command::DeleteLoadBalancer(Ref::Id(*uid)));
                }
                plan.commands.push(Command::DeletePort(Ref::Id(*uid)));
                continue;
            }
            Some(_) => {}
            None => {
                let mut create = CreatePort::on(Ref::Id(service_net_id));
                create.project = Some(Ref::Name(project.clone()));
                create.id = Some(*uid);
                create.name = format!("{}__{}", service.namespace, service.name);
                create.fixed_ips = Some(vec![FixedIpRequest {
                    subnet_id: None,
                    ip_address: Some(*ip),
                }]);
                create.device_owner = SERVICE_DEVICE_OWNER.into();
                create.device_id = uid.to_string();
                create.description = format!("clusterIP of {}", who(service));
                create.tags = tags.clone();
                plan.commands.push(Command::CreatePort(create));
            }
        }
        match lb {
            None => {
                let fq_name = match project.child(&service.name) {
                    Ok(n) => n,
                    Err(e) => {
                        plan.problems.push(format!("{}: {e}", who(service)));
                        continue;
                    }
                };
                plan.commands
                    .push(Command::CreateLoadBalancer(CreateLoadBalancer {
                        fq_name,
                        vip_port: Ref::Id(*uid),
                        client_networks: clients.iter().map(|n| Ref::Id(*n)).collect(),
                        listeners,
                        id: Some(*uid),
                        description: who(service),
                        tags: tags.clone(),
                    }));
            }
            Some(lb) => {
                let mut have = lb.client_network_ids.clone();
                have.sort();
                // Before every kind is listed, Endpoints and pods may be
                // missing from the snapshot: a restart must not empty or
                // narrow a working load balancer on the way.
                if synced && (lb.listeners != listeners || have != clients) {
                    plan.commands.push(Command::UpdateLoadBalancer(
                        Ref::Id(*uid),
                        UpdateLoadBalancer {
                            listeners: Some(listeners),
                            client_networks: Some(clients.iter().map(|n| Ref::Id(*n)).collect()),
                            ..UpdateLoadBalancer::default()
                        },
                    ));
                }
            }
        }
    }
    if !synced {
        return removed;
    }
    // Removals: the load balancer first (it holds its port), then the port.
    let tag = cluster_tag(cluster);
    for lb in model.load_balancers() {
        let ours = lb.meta.tags.contains(&tag) && lb.meta.tags.iter().any(|t| t == SERVICE_TAG);
        if ours && !wanted.contains_key(&lb.meta.id) {
            removed.insert(lb.meta.id);
            plan.commands
                .push(Command::DeleteLoadBalancer(Ref::Id(lb.meta.id)));
        }
    }
    for port in model.ports() {
        let ours = port.device_owner == SERVICE_DEVICE_OWNER && port.meta.tags.contains(&tag);
        let held = model
            .load_balancers()
            .any(|l| l.vip_port_id == port.meta.id && !removed.contains(&l.meta.id));
        if ours && !wanted.contains_key(&port.meta.id) && !held {
            removed.insert(port.meta.id);
            plan.commands
                .push(Command::DeletePort(Ref::Id(port.meta.id)));
        }
    }
    removed
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
