#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::*;
use crate::annotation::TF_NETWORK;
use crate::cluster::{Labels, Namespace, Peer, Policy, PolicyRule, Selector};
use crate::sync::Reconciler;
use crate::testing::Memory;
use weft_model::{Kind, Object};

fn world() -> (Arc<Memory>, Reconciler) {
    let memory = Arc::new(Memory::new());
    let reconciler = Reconciler {
        cluster: ClusterConfig::default(),
        backend: memory.clone(),
    };
    (memory, reconciler)
}

fn ns(name: &str, annotations: &[(&str, &str)]) -> Namespace {
    Namespace {
        name: name.into(),
        uid: Some(format!("uid-{name}")),
        labels: Labels::new(),
        annotations: annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn pod(namespace: &str, name: &str, uid: u128) -> Pod {
    Pod {
        namespace: namespace.into(),
        name: name.into(),
        uid: Uuid::from_u128(uid),
        node: Some("k8s-worker".into()),
        host_network: false,
        finished: false,
        labels: Labels::new(),
        annotations: Labels::new(),
        ports: Vec::new(),
    }
}

fn snapshot(namespaces: Vec<Namespace>, pods: Vec<Pod>) -> Snapshot {
    Snapshot {
        namespaces: namespaces
            .into_iter()
            .map(|n| (n.name.clone(), n))
            .collect(),
        pods: pods.into_iter().map(|p| (p.uid, p)).collect(),
        policies: BTreeMap::new(),
        ..Snapshot::default()
    }
}

fn port(memory: &Memory, uid: u128) -> Option<Port> {
    crate::backend::read(memory, |m| match m.get(Kind::Port, Uuid::from_u128(uid)) {
        Some(Object::Port(p)) => Some(p),
        _ => None,
    })
}

fn address(memory: &Memory, uid: u128) -> String {
    port(memory, uid).unwrap().fixed_ips[0]
        .ip_address
        .to_string()
}

fn groups_of(memory: &Memory, uid: u128) -> Vec<String> {
    let p = port(memory, uid).unwrap();
    crate::backend::read(memory, |m| {
        let mut names: Vec<String> = p
            .security_groups
            .iter()
            .filter_map(|id| m.security_groups().find(|g| g.meta.id == *id))
            .map(|g| g.fq_name.to_string())
            .collect();
        names.sort();
        names
    })
}

#[tokio::test]
async fn start_makes_the_cluster_networks_once() {
    let (memory, r) = world();
    let first = r.reconcile(&Snapshot::default(), false).await;
    assert!(first.converged && first.failed.is_empty(), "{first:?}");
    assert!(first.applied > 0);
    crate::backend::read(memory.as_ref(), |m| {
        let pod_net = m
            .networks()
            .find(|n| n.fq_name.to_string() == "default-domain:k8s-default:k8s-default-pod-network")
            .expect("pod network");
        assert_eq!(
            m.subnets_of(pod_net.meta.id)[0].cidr.to_string(),
            "10.32.0.0/12"
        );
        let svc = m
            .networks()
            .find(|n| {
                n.fq_name.to_string() == "default-domain:k8s-default:k8s-default-service-network"
            })
            .expect("service network");
        let svc_subnet = &m.subnets_of(svc.meta.id)[0];
        assert_eq!(svc_subnet.cidr.to_string(), "10.96.0.0/12");
        // 10.96.0.1 is the `kubernetes` Service's ClusterIP, not a gateway.
        assert_eq!(svc_subnet.gateway_ip, None);
        assert_eq!(svc_subnet.dns_service_ip, None);
        assert_eq!(
            m.subnets_of(pod_net.meta.id)[0]
                .gateway_ip
                .map(|g| g.to_string()),
            Some("10.32.0.1".to_owned())
        );
    });
    let again = r.reconcile(&Snapshot::default(), true).await;
    assert_eq!(again.applied, 0, "idempotent: {again:?}");
    assert!(again.converged);
}

#[tokio::test]
async fn namespace_and_pod_become_project_and_port() {
    let (memory, r) = world();
    let s = snapshot(vec![ns("web", &[])], vec![pod("web", "a", 0xa)]);
    let out = r.reconcile(&s, true).await;
    assert!(
        out.converged && out.failed.is_empty() && out.problems.is_empty(),
        "{out:?}"
    );
    let p = port(&memory, 0xa).expect("the pod's port, by its UID");
    assert_eq!(p.device_owner, POD_DEVICE_OWNER);
    assert_eq!(p.binding_host_id.as_deref(), Some("k8s-worker"));
    assert_eq!(p.vif_type, VifType::Veth);
    assert_eq!(address(&memory, 0xa), "10.32.0.3");
    assert_eq!(
        groups_of(&memory, 0xa),
        vec!["default-domain:k8s-web:default"]
    );
    crate::backend::read(memory.as_ref(), |m| {
        let project = m
            .projects()
            .find(|p| p.fq_name.to_string() == "default-domain:k8s-web")
            .expect("project");
        assert_eq!(project.external_id.as_deref(), Some("uid-web"));
        let group = m
            .security_groups()
            .find(|g| g.fq_name.to_string() == "default-domain:k8s-web:default")
            .expect("default group");
        let rules: Vec<RuleSpec> = m
            .rules_of(group.meta.id)
            .filter_map(|r| spec_of(m, r))
            .collect();
        for want in policy::allow_all(Direction::Ingress) {
            assert!(rules.contains(&want), "{want:?} missing from {rules:?}");
        }
    });
    // The pod and then its namespace go: port, then project, removed.
    let out = r
        .reconcile(&snapshot(vec![ns("web", &[])], vec![]), true)
        .await;
    assert!(out.failed.is_empty(), "{out:?}");
    assert!(port(&memory, 0xa).is_none());
    r.reconcile(&Snapshot::default(), true).await;
    crate::backend::read(memory.as_ref(), |m| {
        assert!(
            !m.projects()
                .any(|p| p.fq_name.to_string() == "default-domain:k8s-web")
        );
        assert!(
            m.projects()
                .any(|p| p.fq_name == r.cluster.default_project())
        );
    });
}

#[tokio::test]
async fn the_seed_pod_joins_the_vm_on_seamless() {
    let (memory, r) = world();
    let fq = |s: &str| -> FqName { s.parse().unwrap() };
    memory.create_seamless();
    let vm = memory
        .run(Command::CreatePort(CreatePort::on(Ref::Name(fq(
            "default-domain:k8s-contrail:seamless",
        )))))
        .unwrap();
    let Object::Port(vm) = vm else {
        panic!("a port")
    };
    assert_eq!(vm.fixed_ips[0].ip_address.to_string(), "192.168.1.3");
    let annotated = ns(
        "seamless",
        &[(
            TF_NETWORK,
            r#"{"domain":"default-domain", "project": "k8s-contrail", "name":"seamless"}"#,
        )],
    );
    let out = r
        .reconcile(
            &snapshot(vec![annotated], vec![pod("seamless", "cont", 0xc0)]),
            true,
        )
        .await;
    assert!(out.failed.is_empty() && out.problems.is_empty(), "{out:?}");
    assert_eq!(address(&memory, 0xc0), "192.168.1.4");
    let p = port(&memory, 0xc0).unwrap();
    crate::backend::read(memory.as_ref(), |m| {
        let project = m.projects().find(|x| x.meta.id == p.project_id).unwrap();
        assert_eq!(project.fq_name.to_string(), "default-domain:k8s-seamless");
    });
    // The VM's port is not a pod's: a synced pass leaves it alone.
    r.reconcile(&Snapshot::default(), true).await;
    assert!(crate::backend::read(memory.as_ref(), |m| m
        .get(Kind::Port, vm.meta.id)
        .is_some()));
}

#[tokio::test]
async fn restart_keeps_addresses_and_drops_ports_of_gone_pods() {
    let (memory, r) = world();
    let pods = vec![pod("a", "p1", 1), pod("a", "p2", 2), pod("a", "p3", 3)];
    r.reconcile(&snapshot(vec![ns("a", &[])], pods.clone()), true)
        .await;
    let before: Vec<String> = (1..=3).map(|u| address(&memory, u)).collect();

    // A fresh kube-manager (empty snapshot) has not listed yet: nothing goes.
    let again = Reconciler {
        cluster: ClusterConfig::default(),
        backend: memory.clone(),
    };
    let out = again.reconcile(&Snapshot::default(), false).await;
    assert!(out.failed.is_empty(), "{out:?}");
    assert!(port(&memory, 1).is_some() && port(&memory, 3).is_some());

    // Listed: p2 was deleted while nobody watched, p4 is new.
    let listed = vec![pods[0].clone(), pods[2].clone(), pod("a", "p4", 4)];
    let out = again
        .reconcile(&snapshot(vec![ns("a", &[])], listed), true)
        .await;
    assert!(out.failed.is_empty(), "{out:?}");
    assert_eq!(address(&memory, 1), before[0]);
    assert_eq!(address(&memory, 3), before[2]);
    assert!(port(&memory, 2).is_none(), "the gone pod's port is removed");
    let held = crate::backend::read(memory.as_ref(), |m| {
        m.ports().any(|p| {
            p.fixed_ips
                .iter()
                .any(|ip| ip.ip_address.to_string() == before[1])
        })
    });
    assert!(!held, "the gone pod's address {} is free again", before[1]);
    assert!(port(&memory, 4).is_some());
}

#[tokio::test]
async fn a_port_made_by_the_cni_add_is_kept() {
    let (memory, r) = world();
    r.reconcile(&snapshot(vec![ns("a", &[])], vec![]), true)
        .await;
    // What the CNI side makes on ADD, before kube-manager saw the pod.
    let mut create = CreatePort::on(Ref::Name(r.cluster.pod_network()));
    create.id = Some(Uuid::from_u128(7));
    create.project = Some(Ref::Name(r.cluster.project_of("a")));
    create.device_owner = POD_DEVICE_OWNER.into();
    create.binding_host_id = Some("k8s-worker".into());
    create.description = "pod a/p of cluster k8s".into();
    memory.run(Command::CreatePort(create)).unwrap();
    let before = address(&memory, 7);
    let out = r
        .reconcile(&snapshot(vec![ns("a", &[])], vec![pod("a", "p", 7)]), true)
        .await;
    assert!(out.failed.is_empty() && out.converged, "{out:?}");
    assert_eq!(address(&memory, 7), before);
    // And removed once the pod is gone, though kube-manager did not make it.
    r.reconcile(&snapshot(vec![ns("a", &[])], vec![]), true)
        .await;
    assert!(port(&memory, 7).is_none());
}

#[tokio::test]
async fn a_bad_annotation_is_reported_and_harms_nothing_else() {
    let (memory, r) = world();
    let mut bad = pod("a", "bad", 1);
    bad.annotations.insert(TF_NETWORK.into(), "seamless".into());
    let mut missing = pod("a", "missing", 2);
    missing.annotations.insert(
        crate::annotation::WEFT_NETWORK.into(),
        "default-domain:x:y".into(),
    );
    let s = snapshot(vec![ns("a", &[])], vec![bad, missing, pod("a", "good", 3)]);
    let out = r.reconcile(&s, true).await;
    assert!(out.failed.is_empty(), "{out:?}");
    assert!(port(&memory, 1).is_none() && port(&memory, 2).is_none());
    assert!(port(&memory, 3).is_some());
    assert!(
        out.problems
            .iter()
            .any(|p| p.starts_with("pod a/bad: annotation opencontrail.org/network")),
        "{:?}",
        out.problems
    );
    assert!(
        out.problems
            .iter()
            .any(|p| p.contains("pod a/missing") && p.contains("default-domain:x:y does not exist")),
        "{:?}",
        out.problems
    );
}

#[tokio::test]
async fn a_policy_becomes_exact_groups_and_goes_away_cleanly() {
    let (memory, r) = world();
    let mut db = pod("shop", "db", 1);
    db.labels.insert("app".into(), "db".into());
    let mut web = pod("shop", "web", 2);
    web.labels.insert("app".into(), "web".into());
    let mut s = snapshot(vec![ns("shop", &[])], vec![db, web]);
    r.reconcile(&s, true).await;
    let policy = Policy {
        namespace: "shop".into(),
        name: "db".into(),
        pod_selector: Selector {
            match_labels: [("app".to_owned(), "db".to_owned())].into(),
            ..Selector::default()
        },
        ingress: Some(vec![PolicyRule {
            peers: vec![Peer::Pods {
                namespaces: None,
                pods: Selector {
                    match_labels: [("app".to_owned(), "web".to_owned())].into(),
                    ..Selector::default()
                },
            }],
            ports: vec![],
        }]),
        egress: None,
    };
    s.policies.insert(("shop".into(), "db".into()), policy);
    let out = r.reconcile(&s, true).await;
    assert!(out.converged && out.failed.is_empty(), "{out:?}");
    assert_eq!(
        groups_of(&memory, 1),
        vec![
            "default-domain:k8s-default:k8s-allow-all-egress",
            "default-domain:k8s-shop:np-db"
        ]
    );
    assert_eq!(
        groups_of(&memory, 2),
        vec![
            "default-domain:k8s-shop:default",
            "default-domain:k8s-shop:np-db-in-0-0"
        ]
    );
    crate::backend::read(memory.as_ref(), |m| {
        let g = m
            .security_groups()
            .find(|g| g.fq_name == r.cluster.group_in("shop", "np-db"))
            .unwrap();
        let rules: Vec<RuleSpec> = m
            .rules_of(g.meta.id)
            .filter_map(|x| spec_of(m, x))
            .collect();
        assert_eq!(
            rules.len(),
            2,
            "ingress from the web group, IPv4 and IPv6 only: {rules:?}"
        );
        assert!(rules.iter().all(|x| x.direction == Direction::Ingress
            && x.remote == Remote::Group(r.cluster.group_in("shop", "np-db-in-0-0"))));
        let peer = m
            .security_groups()
            .find(|g| g.fq_name == r.cluster.group_in("shop", "np-db-in-0-0"))
            .unwrap();
        assert_eq!(
            m.rules_of(peer.meta.id).count(),
            0,
            "a peer group admits nothing itself"
        );
    });
    s.policies.clear();
    let out = r.reconcile(&s, true).await;
    assert!(out.converged && out.failed.is_empty(), "{out:?}");
    assert_eq!(
        groups_of(&memory, 1),
        vec!["default-domain:k8s-shop:default"]
    );
    crate::backend::read(memory.as_ref(), |m| {
        assert!(!m.security_groups().any(|g| g.name().starts_with("np-")));
    });
}
