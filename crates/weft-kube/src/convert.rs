//! The apiserver's objects reduced to [`crate::cluster`]'s view.
//!
//! A part of a NetworkPolicy that cannot be read (a bad CIDR, an unknown
//! selector operator) is left out with a warning naming the policy: the
//! policy still isolates the pods it selects, so a mistake denies traffic
//! rather than admitting it.

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use uuid::Uuid;

use crate::cluster::{
    ContainerPort, EndpointSubset, Endpoints, Expression, Namespace, Peer, Pod, Policy, PolicyPort,
    PolicyRule, PortSpec, Selector, Service, ServicePort,
};

pub fn namespace(ns: &core::Namespace) -> Option<Namespace> {
    Some(Namespace {
        name: ns.metadata.name.clone()?,
        uid: ns.metadata.uid.clone(),
        labels: ns.metadata.labels.clone().unwrap_or_default(),
        annotations: ns.metadata.annotations.clone().unwrap_or_default(),
    })
}

/// A pod, or why it cannot be one (no name, no UID that is a UUID).
pub fn pod(pod: &core::Pod) -> Result<Pod, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid_text = pod.metadata.uid.clone().unwrap_or_default();
    let uid = Uuid::parse_str(&uid_text)
        .map_err(|e| format!("pod {namespace}/{name}: uid {uid_text:?} is not a UUID: {e}"))?;
    let spec = pod.spec.clone().unwrap_or_default();
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let ports = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            Some(ContainerPort {
                name: p.name.clone()?,
                port: u16::try_from(p.container_port).ok()?,
                protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
            })
        })
        .collect();
    Ok(Pod {
        namespace,
        name,
        uid,
        node: spec.node_name.clone().filter(|n| !n.is_empty()),
        host_network: spec.host_network.unwrap_or(false),
        finished: matches!(phase, Some("Succeeded" | "Failed")),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        annotations: pod.metadata.annotations.clone().unwrap_or_default(),
        ports,
    })
}

/// A Service, or why it cannot be one (no UID that is a UUID, a clusterIP
/// or port that is not one).
pub fn service(svc: &core::Service) -> Result<Service, String> {
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let who = format!("Service {namespace}/{name}");
    let uid_text = svc.metadata.uid.clone().unwrap_or_default();
    let uid = Uuid::parse_str(&uid_text)
        .map_err(|e| format!("{who}: uid {uid_text:?} is not a UUID: {e}"))?;
    let spec = svc.spec.clone().unwrap_or_default();
    let cluster_ip = match (spec.type_.as_deref(), spec.cluster_ip.as_deref()) {
        (Some("ExternalName"), _) | (_, None | Some("" | "None")) => None,
        (_, Some(ip)) => Some(
            ip.parse()
                .map_err(|_| format!("{who}: clusterIP {ip:?} is not an address"))?,
        ),
    };
    let ports = spec
        .ports
        .iter()
        .flatten()
        .map(|p| service_port(&who, p.name.as_deref(), p.protocol.as_deref(), p.port))
        .collect::<Result<_, _>>()?;
    Ok(Service {
        namespace,
        name,
        uid,
        cluster_ip,
        ports,
    })
}

/// One port of a Service or of its Endpoints (the two carry the same
/// fields in different types); TCP when the protocol is not given.
fn service_port(
    who: &str,
    name: Option<&str>,
    protocol: Option<&str>,
    port: i32,
) -> Result<ServicePort, String> {
    Ok(ServicePort {
        name: name.unwrap_or_default().to_owned(),
        protocol: protocol.unwrap_or("TCP").to_owned(),
        port: u16::try_from(port)
            .ok()
            .filter(|n| *n != 0)
            .ok_or_else(|| format!("{who}: port {port} is out of range"))?,
    })
}

/// A Service's Endpoints (ready addresses only), or why they cannot be
/// read (an address or port that is not one).
pub fn endpoints(ep: &core::Endpoints) -> Result<Endpoints, String> {
    let namespace = ep.metadata.namespace.clone().unwrap_or_default();
    let name = ep.metadata.name.clone().unwrap_or_default();
    let who = format!("Endpoints {namespace}/{name}");
    let mut subsets = Vec::new();
    for subset in ep.subsets.iter().flatten() {
        let mut addresses = Vec::new();
        for a in subset.addresses.iter().flatten() {
            addresses.push(
                a.ip.parse()
                    .map_err(|_| format!("{who}: address {:?} is not an address", a.ip))?,
            );
        }
        let ports = subset
            .ports
            .iter()
            .flatten()
            .map(|p| service_port(&who, p.name.as_deref(), p.protocol.as_deref(), p.port))
            .collect::<Result<_, _>>()?;
        subsets.push(EndpointSubset { addresses, ports });
    }
    Ok(Endpoints {
        namespace,
        name,
        subsets,
    })
}

fn selector(sel: &LabelSelector) -> Result<Selector, String> {
    let mut expressions = Vec::new();
    for req in sel.match_expressions.iter().flatten() {
        let values = req.values.clone().unwrap_or_default();
        expressions.push(match req.operator.as_str() {
            "In" => Expression::In(req.key.clone(), values),
            "NotIn" => Expression::NotIn(req.key.clone(), values),
            "Exists" => Expression::Exists(req.key.clone()),
            "DoesNotExist" => Expression::DoesNotExist(req.key.clone()),
            other => return Err(format!("selector operator {other:?} is unknown")),
        });
    }
    Ok(Selector {
        match_labels: sel.match_labels.clone().unwrap_or_default(),
        expressions,
    })
}

fn peer(p: &net::NetworkPolicyPeer) -> Result<Peer, String> {
    if let Some(block) = &p.ip_block {
        let cidr = block
            .cidr
            .parse()
            .map_err(|e| format!("ipBlock.cidr {:?}: {e}", block.cidr))?;
        let mut except = Vec::new();
        for e in block.except.iter().flatten() {
            except.push(
                e.parse()
                    .map_err(|err| format!("ipBlock.except {e:?}: {err}"))?,
            );
        }
        return Ok(Peer::Block { cidr, except });
    }
    let namespaces = p.namespace_selector.as_ref().map(selector).transpose()?;
    let pods = p
        .pod_selector
        .as_ref()
        .map(selector)
        .transpose()?
        .unwrap_or_default();
    Ok(Peer::Pods { namespaces, pods })
}

fn port(p: &net::NetworkPolicyPort) -> Result<PolicyPort, String> {
    let protocol = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("protocol {protocol:?} is not TCP, UDP or SCTP"));
    }
    let number = |n: i32| u16::try_from(n).ok().filter(|n| *n > 0);
    let port = match &p.port {
        None => None,
        Some(IntOrString::Int(n)) => Some(PortSpec::Number(
            number(*n).ok_or_else(|| format!("port {n} is not 1-65535"))?,
        )),
        Some(IntOrString::String(s)) => Some(match s.parse::<i32>() {
            Ok(n) => PortSpec::Number(number(n).ok_or_else(|| format!("port {n} is not 1-65535"))?),
            Err(_) => PortSpec::Named(s.clone()),
        }),
    };
    let end_port = p
        .end_port
        .map(|n| number(n).ok_or_else(|| format!("endPort {n} is not 1-65535")))
        .transpose()?;
    Ok(PolicyPort {
        protocol,
        port,
        end_port,
    })
}

fn rule(
    peers: Option<&Vec<net::NetworkPolicyPeer>>,
    ports: Option<&Vec<net::NetworkPolicyPort>>,
    what: &str,
    warnings: &mut Vec<String>,
) -> Option<PolicyRule> {
    let mut out = PolicyRule::default();
    let given_peers = peers.is_some_and(|p| !p.is_empty());
    for (i, p) in peers.into_iter().flatten().enumerate() {
        match peer(p) {
            Ok(p) => out.peers.push(p),
            Err(e) => warnings.push(format!("{what} peer {i}: {e}; left out")),
        }
    }
    let given_ports = ports.is_some_and(|p| !p.is_empty());
    for (i, p) in ports.into_iter().flatten().enumerate() {
        match port(p) {
            Ok(p) => out.ports.push(p),
            Err(e) => warnings.push(format!("{what} port {i}: {e}; left out")),
        }
    }
    // Every peer (or port) unreadable: the rule would widen to "any", so
    // it admits nothing instead.
    if (given_peers && out.peers.is_empty()) || (given_ports && out.ports.is_empty()) {
        return None;
    }
    Some(out)
}

/// A policy and what of it could not be read.
pub fn policy(np: &net::NetworkPolicy) -> (Policy, Vec<String>) {
    let namespace = np.metadata.namespace.clone().unwrap_or_default();
    let name = np.metadata.name.clone().unwrap_or_default();
    let label = format!("networkpolicy {namespace}/{name}");
    let spec = np.spec.clone().unwrap_or_default();
    let mut warnings = Vec::new();
    let pod_selector = match spec.pod_selector.as_ref().map(selector).transpose() {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => {
            warnings.push(format!("{label}: podSelector: {e}; it selects no pod"));
            Selector {
                expressions: vec![Expression::In(String::new(), Vec::new())],
                ..Selector::default()
            }
        }
    };
    let types: Vec<String> = spec.policy_types.clone().unwrap_or_else(|| {
        let mut t = vec!["Ingress".to_owned()];
        if spec.egress.is_some() {
            t.push("Egress".to_owned());
        }
        t
    });
    let ingress = types.iter().any(|t| t == "Ingress").then(|| {
        spec.ingress
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, r)| {
                rule(
                    r.from.as_ref(),
                    r.ports.as_ref(),
                    &format!("{label}: ingress[{i}]"),
                    &mut warnings,
                )
            })
            .collect()
    });
    let egress = types.iter().any(|t| t == "Egress").then(|| {
        spec.egress
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, r)| {
                rule(
                    r.to.as_ref(),
                    r.ports.as_ref(),
                    &format!("{label}: egress[{i}]"),
                    &mut warnings,
                )
            })
            .collect()
    });
    (
        Policy {
            namespace,
            name,
            pod_selector,
            ingress,
            egress,
        },
        warnings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn np(json: serde_json::Value) -> net::NetworkPolicy {
        serde_json::from_value(json).expect("a NetworkPolicy")
    }

    #[test]
    fn services_and_endpoints_read_as_kubernetes_means_them() {
        let uid = "0b6c43d4-5d8e-4b6f-9c43-7a3e2b1c0d9e";
        let read = |v: serde_json::Value| service(&serde_json::from_value(v).expect("a Service"));
        let s = read(serde_json::json!({
            "metadata": {"name": "web", "namespace": "a", "uid": uid},
            "spec": {"clusterIP": "10.96.0.20", "ports": [
                {"name": "http", "port": 80, "targetPort": "web"},
                {"name": "dns", "port": 53, "protocol": "UDP"}
            ]}
        }))
        .expect("a load-balanced Service");
        assert_eq!(s.cluster_ip, Some("10.96.0.20".parse().expect("ip")));
        assert_eq!(s.uid.to_string(), uid);
        assert_eq!(
            (
                s.ports[0].name.as_str(),
                s.ports[0].protocol.as_str(),
                s.ports[0].port
            ),
            ("http", "TCP", 80)
        );
        assert_eq!(s.ports[1].protocol, "UDP");
        for spec in [
            serde_json::json!({"clusterIP": "None"}),
            serde_json::json!({"type": "ExternalName", "externalName": "example.org"}),
        ] {
            let s = read(serde_json::json!({
                "metadata": {"name": "h", "namespace": "a", "uid": uid}, "spec": spec
            }))
            .expect("a Service");
            assert_eq!(s.cluster_ip, None);
        }
        let bad = read(serde_json::json!({
            "metadata": {"name": "b", "namespace": "a", "uid": uid},
            "spec": {"clusterIP": "ten"}
        }));
        assert!(
            bad.expect_err("bad clusterIP")
                .contains("Service a/b: clusterIP \"ten\"")
        );

        let e: core::Endpoints = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "a"},
            "subsets": [{
                "addresses": [{"ip": "10.32.0.5"}],
                "notReadyAddresses": [{"ip": "10.32.0.9"}],
                "ports": [{"name": "http", "port": 8080}]
            }]
        }))
        .expect("Endpoints");
        let e = endpoints(&e).expect("readable");
        assert_eq!(
            e.subsets[0].addresses,
            vec!["10.32.0.5".parse::<std::net::IpAddr>().expect("ip")]
        );
        assert_eq!(e.subsets[0].ports[0].port, 8080);
        assert_eq!(e.subsets[0].ports[0].protocol, "TCP");
    }

    #[test]
    fn a_policy_reads_as_kubernetes_means_it() {
        let (p, warnings) = policy(&np(serde_json::json!({
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "db"}},
                "ingress": [{
                    "from": [
                        {"podSelector": {"matchLabels": {"app": "web"}}},
                        {"namespaceSelector": {"matchLabels": {"team": "ops"}}},
                        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
                    ],
                    "ports": [{"port": 5432}, {"protocol": "UDP", "port": "dns"}, {"port": 8000, "endPort": 8080}]
                }]
            }
        })));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(p.egress.is_none(), "no Egress in implied policyTypes");
        let ingress = p.ingress.expect("ingress");
        assert_eq!(ingress.len(), 1);
        assert_eq!(ingress[0].peers.len(), 3);
        assert!(matches!(
            &ingress[0].peers[0],
            Peer::Pods {
                namespaces: None,
                ..
            }
        ));
        assert!(matches!(
            &ingress[0].peers[1],
            Peer::Pods {
                namespaces: Some(_),
                ..
            }
        ));
        assert_eq!(
            ingress[0].ports,
            vec![
                PolicyPort {
                    protocol: "tcp".into(),
                    port: Some(PortSpec::Number(5432)),
                    end_port: None
                },
                PolicyPort {
                    protocol: "udp".into(),
                    port: Some(PortSpec::Named("dns".into())),
                    end_port: None
                },
                PolicyPort {
                    protocol: "tcp".into(),
                    port: Some(PortSpec::Number(8000)),
                    end_port: Some(8080)
                },
            ]
        );
    }

    #[test]
    fn deny_all_egress_and_bad_parts() {
        let (p, warnings) = policy(&np(serde_json::json!({
            "metadata": {"name": "lock", "namespace": "ns"},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "not-a-cidr"}}]}]
            }
        })));
        assert!(p.ingress.is_none());
        assert_eq!(p.egress, Some(vec![]), "the unreadable rule admits nothing");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("networkpolicy ns/lock: egress[0] peer 0: ipBlock.cidr"),
            "{warnings:?}"
        );
    }

    #[test]
    fn pods_read_uid_node_and_phase() {
        let p: core::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cont", "namespace": "seamless",
                         "uid": "0b6c3a8e-1111-4c2e-9d5e-0123456789ab"},
            "spec": {"nodeName": "k8s-worker", "containers": [
                {"name": "c", "ports": [{"name": "http", "containerPort": 80}]}]},
            "status": {"phase": "Running"}
        }))
        .expect("pod");
        let p = pod(&p).expect("reads");
        assert!(p.wants_port());
        assert_eq!(p.node.as_deref(), Some("k8s-worker"));
        assert_eq!(p.ports[0].protocol, "tcp");
        let bad: core::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "x", "namespace": "n", "uid": "nope"}
        }))
        .expect("pod");
        assert!(pod(&bad).expect_err("bad uid").contains("pod n/x: uid"));
    }
}
