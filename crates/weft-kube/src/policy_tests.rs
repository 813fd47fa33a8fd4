use super::*;
use crate::cluster::{ContainerPort, Labels, Namespace, Selector};

pub(crate) fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(crate) fn pod(ns: &str, name: &str, uid: u128, l: &[(&str, &str)]) -> Pod {
    Pod {
        namespace: ns.into(),
        name: name.into(),
        uid: Uuid::from_u128(uid),
        node: Some("k8s-worker".into()),
        host_network: false,
        finished: false,
        labels: labels(l),
        annotations: Labels::new(),
        ports: vec![ContainerPort {
            name: "http".into(),
            port: 8080,
            protocol: "tcp".into(),
        }],
    }
}

pub(crate) fn namespace(name: &str, l: &[(&str, &str)]) -> Namespace {
    Namespace {
        name: name.into(),
        uid: None,
        labels: labels(l),
        annotations: Labels::new(),
    }
}

fn snapshot(namespaces: Vec<Namespace>, pods: Vec<Pod>, policies: Vec<Policy>) -> Snapshot {
    Snapshot {
        namespaces: namespaces
            .into_iter()
            .map(|n| (n.name.clone(), n))
            .collect(),
        pods: pods.into_iter().map(|p| (p.uid, p)).collect(),
        policies: policies
            .into_iter()
            .map(|p| ((p.namespace.clone(), p.name.clone()), p))
            .collect(),
        ..Snapshot::default()
    }
}

fn select(l: &[(&str, &str)]) -> Selector {
    Selector {
        match_labels: labels(l),
        ..Selector::default()
    }
}

fn names(set: &BTreeSet<FqName>) -> Vec<String> {
    set.iter().map(ToString::to_string).collect()
}

#[test]
fn subtract_covers_exactly_the_rest() {
    let net = |s: &str| -> IpNet { s.parse().expect("cidr") };
    assert_eq!(
        subtract(net("10.0.0.0/8"), &[net("10.0.0.0/9")]),
        vec![net("10.128.0.0/9")]
    );
    let rest = subtract(
        net("10.0.0.0/24"),
        &[net("10.0.0.16/28"), net("10.0.0.200/32")],
    );
    // Every address of the /24 but the exceptions, and nothing twice.
    let covered: u32 = rest.iter().map(|n| 1u32 << (32 - n.prefix_len())).sum();
    assert_eq!(covered, 256 - 16 - 1);
    for n in &rest {
        assert!(!n.contains(&net("10.0.0.20/32")) && !n.contains(&net("10.0.0.200/32")));
    }
    assert!(subtract(net("10.1.0.0/16"), &[net("10.0.0.0/8")]).is_empty());
    assert_eq!(
        subtract(net("10.1.0.0/16"), &[net("192.168.0.0/16")]),
        vec![net("10.1.0.0/16")]
    );
}

#[test]
fn without_policies_pods_get_their_namespace_default_group() {
    let c = ClusterConfig::default();
    let s = snapshot(
        vec![namespace("shop", &[])],
        vec![pod("shop", "a", 1, &[])],
        vec![],
    );
    let out = compile(&c, &s);
    assert!(out.groups.is_empty());
    assert_eq!(
        names(&out.pod_groups[&Uuid::from_u128(1)]),
        vec!["default-domain:k8s-shop:default"]
    );
}

#[test]
fn ingress_policy_isolates_selected_pods_only_for_ingress() {
    let c = ClusterConfig::default();
    let policy = Policy {
        namespace: "shop".into(),
        name: "db".into(),
        pod_selector: select(&[("app", "db")]),
        ingress: Some(vec![PolicyRule {
            peers: vec![
                Peer::Pods {
                    namespaces: None,
                    pods: select(&[("app", "web")]),
                },
                Peer::Pods {
                    namespaces: Some(select(&[("team", "ops")])),
                    pods: Selector::default(),
                },
            ],
            ports: vec![
                PolicyPort {
                    protocol: "tcp".into(),
                    port: Some(PortSpec::Number(5432)),
                    end_port: None,
                },
                PolicyPort {
                    protocol: "tcp".into(),
                    port: Some(PortSpec::Named("http".into())),
                    end_port: None,
                },
            ],
        }]),
        egress: None,
    };
    let s = snapshot(
        vec![namespace("shop", &[]), namespace("ops", &[("team", "ops")])],
        vec![
            pod("shop", "db", 1, &[("app", "db")]),
            pod("shop", "web", 2, &[("app", "web")]),
            pod("ops", "probe", 3, &[]),
            pod("shop", "other", 4, &[]),
        ],
        vec![policy],
    );
    let out = compile(&c, &s);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let db = names(&out.pod_groups[&Uuid::from_u128(1)]);
    assert_eq!(
        db,
        vec![
            "default-domain:k8s-default:k8s-allow-all-egress",
            "default-domain:k8s-shop:np-db",
        ],
        "ingress isolated, egress still open, namespace default gone"
    );
    assert_eq!(
        names(&out.pod_groups[&Uuid::from_u128(2)]),
        vec![
            "default-domain:k8s-shop:default",
            "default-domain:k8s-shop:np-db-in-0-0"
        ]
    );
    assert_eq!(
        names(&out.pod_groups[&Uuid::from_u128(3)]),
        vec![
            "default-domain:k8s-ops:default",
            "default-domain:k8s-shop:np-db-in-0-1"
        ]
    );
    assert_eq!(
        names(&out.pod_groups[&Uuid::from_u128(4)]),
        vec!["default-domain:k8s-shop:default"]
    );
    let group = &out.groups[&c.group_in("shop", "np-db")];
    // 2 peers × 2 families × 2 ports (5432, and http → 8080 on the db pod).
    assert_eq!(group.rules.len(), 8);
    let web = Remote::Group(c.group_in("shop", "np-db-in-0-0"));
    for port in [5432, 8080] {
        assert!(group.rules.contains(&RuleSpec {
            direction: Direction::Ingress,
            ethertype: Ethertype::IPv4,
            protocol: Some("tcp".into()),
            port_min: Some(port),
            port_max: Some(port),
            remote: web.clone(),
        }));
    }
    assert!(
        out.groups[&c.group_in("shop", "np-db-in-0-0")]
            .rules
            .is_empty()
    );
}

#[test]
fn deny_all_egress_and_ip_blocks() {
    let c = ClusterConfig::default();
    let net = |s: &str| -> IpNet { s.parse().expect("cidr") };
    let lock = Policy {
        namespace: "ns".into(),
        name: "lock".into(),
        pod_selector: Selector::default(),
        ingress: None,
        egress: Some(vec![]),
    };
    let dns = Policy {
        namespace: "ns".into(),
        name: "out".into(),
        pod_selector: select(&[("app", "a")]),
        ingress: Some(vec![PolicyRule::default()]),
        egress: Some(vec![PolicyRule {
            peers: vec![Peer::Block {
                cidr: net("10.0.0.0/8"),
                except: vec![net("10.0.0.0/9")],
            }],
            ports: vec![PolicyPort {
                protocol: "udp".into(),
                port: Some(PortSpec::Number(53)),
                end_port: None,
            }],
        }]),
    };
    let s = snapshot(
        vec![namespace("ns", &[])],
        vec![pod("ns", "a", 1, &[("app", "a")]), pod("ns", "b", 2, &[])],
        vec![lock, dns],
    );
    let out = compile(&c, &s);
    assert!(out.groups[&c.group_in("ns", "np-lock")].rules.is_empty());
    assert_eq!(
        names(&out.pod_groups[&Uuid::from_u128(2)]),
        vec![
            "default-domain:k8s-default:k8s-allow-all-ingress",
            "default-domain:k8s-ns:np-lock"
        ],
        "egress denied, ingress open"
    );
    assert_eq!(
        names(&out.pod_groups[&Uuid::from_u128(1)]),
        vec![
            "default-domain:k8s-ns:np-lock",
            "default-domain:k8s-ns:np-out"
        ]
    );
    let rules = &out.groups[&c.group_in("ns", "np-out")].rules;
    let egress: Vec<_> = rules
        .iter()
        .filter(|r| r.direction == Direction::Egress)
        .collect();
    assert_eq!(egress.len(), 1);
    assert_eq!(egress[0].remote, Remote::Cidr(net("10.128.0.0/9")));
    assert_eq!(egress[0].port_min, Some(53));
    assert_eq!(
        rules
            .iter()
            .filter(|r| r.direction == Direction::Ingress)
            .count(),
        2,
        "an empty ingress rule admits everything, IPv4 and IPv6"
    );
}

#[test]
fn a_named_port_no_pod_has_is_reported() {
    let c = ClusterConfig::default();
    let p = Policy {
        namespace: "ns".into(),
        name: "p".into(),
        pod_selector: Selector::default(),
        ingress: Some(vec![PolicyRule {
            peers: vec![],
            ports: vec![PolicyPort {
                protocol: "tcp".into(),
                port: Some(PortSpec::Named("grpc".into())),
                end_port: None,
            }],
        }]),
        egress: None,
    };
    let s = snapshot(
        vec![namespace("ns", &[])],
        vec![pod("ns", "a", 1, &[])],
        vec![p],
    );
    let out = compile(&c, &s);
    assert!(out.groups[&c.group_in("ns", "np-p")].rules.is_empty());
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("networkpolicy ns/p") && w.contains("grpc")),
        "{:?}",
        out.warnings
    );
}
