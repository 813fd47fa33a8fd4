//! What kube-manager knows of the cluster: namespaces, pods, network
//! policies, Services and their Endpoints, reduced to the fields the translation reads. The watcher
//! fills these from the apiserver ([`crate::convert`]); tests build them
//! directly.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use uuid::Uuid;

pub type Labels = BTreeMap<String, String>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub uid: Option<String>,
    pub labels: Labels,
    pub annotations: Labels,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    /// Becomes the port's UUID (the CNI side looks the port up by it).
    pub uid: Uuid,
    /// `spec.nodeName`: the port is bound there. None while unscheduled.
    pub node: Option<String>,
    /// Host-network pods have no port.
    pub host_network: bool,
    /// Succeeded or Failed: its address is given back.
    pub finished: bool,
    pub labels: Labels,
    pub annotations: Labels,
    /// Named container ports, for policies that name a port.
    pub ports: Vec<ContainerPort>,
}

impl Pod {
    /// Whether the pod should hold a port now.
    pub fn wants_port(&self) -> bool {
        !self.host_network && !self.finished && self.node.is_some()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: String,
    pub port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// A label selector (`matchLabels` and `matchExpressions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    pub match_labels: Labels,
    pub expressions: Vec<Expression>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expression {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Selector {
    /// The empty selector selects everything.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|e| match e {
                Expression::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
                Expression::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
                Expression::Exists(k) => labels.contains_key(k),
                Expression::DoesNotExist(k) => !labels.contains_key(k),
            })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    pub pod_selector: Selector,
    /// None: the policy does not isolate ingress (not in `policyTypes`).
    pub ingress: Option<Vec<PolicyRule>>,
    /// None: the policy does not isolate egress.
    pub egress: Option<Vec<PolicyRule>>,
}

/// One `ingress`/`egress` entry: traffic from/to any of `peers` (empty: any
/// peer) on any of `ports` (empty: every port).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub peers: Vec<Peer>,
    pub ports: Vec<PolicyPort>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Pods matching `pods` in the namespaces matching `namespaces` (None:
    /// the policy's own namespace).
    Pods {
        namespaces: Option<Selector>,
        pods: Selector,
    },
    Block {
        cidr: IpNet,
        except: Vec<IpNet>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyPort {
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    pub port: Option<PortSpec>,
    pub end_port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    Number(u16),
    Named(String),
}

/// A Service that is load-balanced on its ClusterIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    /// Becomes the UUID of the VIP port and of the load balancer.
    pub uid: Uuid,
    /// None for headless and ExternalName Services (no load balancer).
    pub cluster_ip: Option<IpAddr>,
    pub ports: Vec<ServicePort>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// Empty for the single unnamed port.
    pub name: String,
    /// `TCP`, `UDP` or `SCTP`, as Kubernetes spells them.
    pub protocol: String,
    pub port: u16,
}

/// A Service's core/v1 Endpoints: `targetPort` already resolved, ready
/// addresses only (`notReadyAddresses` get no traffic, as with kube-proxy).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub namespace: String,
    pub name: String,
    pub subsets: Vec<EndpointSubset>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointSubset {
    pub addresses: Vec<IpAddr>,
    pub ports: Vec<ServicePort>,
}

/// The whole of what kube-manager has seen, keyed for lookups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub namespaces: BTreeMap<String, Namespace>,
    /// By UID.
    pub pods: BTreeMap<Uuid, Pod>,
    /// By (namespace, name).
    pub policies: BTreeMap<(String, String), Policy>,
    /// By (namespace, name).
    pub services: BTreeMap<(String, String), Service>,
    /// By (namespace, name), the name of their Service.
    pub endpoints: BTreeMap<(String, String), Endpoints>,
}

impl Snapshot {
    pub fn pods_in<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a Pod> + 'a {
        let namespace = namespace.to_owned();
        self.pods.values().filter(move |p| p.namespace == namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn selectors_match_as_kubernetes_does() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(Selector::default().matches(&l));
        let s = Selector {
            match_labels: labels(&[("app", "web")]),
            expressions: vec![
                Expression::In("tier".into(), vec!["front".into(), "back".into()]),
                Expression::DoesNotExist("canary".into()),
            ],
        };
        assert!(s.matches(&l));
        assert!(!s.matches(&labels(&[("app", "web")])));
        let s = Selector {
            expressions: vec![Expression::NotIn("tier".into(), vec!["front".into()])],
            ..Selector::default()
        };
        assert!(!s.matches(&l));
        assert!(s.matches(&labels(&[("app", "db")])));
        let s = Selector {
            expressions: vec![Expression::Exists("tier".into())],
            ..Selector::default()
        };
        assert!(s.matches(&l) && !s.matches(&Labels::new()));
    }
}
