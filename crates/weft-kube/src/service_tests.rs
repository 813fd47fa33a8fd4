#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::*;
use crate::cluster::{EndpointSubset, Namespace, ServicePort};
use crate::sync::Reconciler;
use crate::testing::Memory;
use weft_model::{CreateNetwork, CreateSubnet, LoadBalancer, Port};
use weft_types::Prefix;

fn world() -> (Arc<Memory>, Reconciler) {
    let memory = Arc::new(Memory::new());
    let reconciler = Reconciler {
        cluster: ClusterConfig::default(),
        backend: memory.clone(),
    };
    (memory, reconciler)
}

fn ns(name: &str) -> Namespace {
    Namespace {
        name: name.into(),
        uid: Some(format!("uid-{name}")),
        ..Namespace::default()
    }
}

fn sport(name: &str, protocol: &str, port: u16) -> ServicePort {
    ServicePort {
        name: name.into(),
        protocol: protocol.into(),
        port,
    }
}

fn svc(namespace: &str, name: &str, uid: u128, ip: &str, ports: Vec<ServicePort>) -> Service {
    Service {
        namespace: namespace.into(),
        name: name.into(),
        uid: Uuid::from_u128(uid),
        cluster_ip: Some(ip.parse().unwrap()),
        ports,
    }
}

fn eps(namespace: &str, name: &str, addresses: &[&str], ports: Vec<ServicePort>) -> Endpoints {
    Endpoints {
        namespace: namespace.into(),
        name: name.into(),
        subsets: vec![EndpointSubset {
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            ports,
        }],
    }
}

fn snapshot(namespaces: &[&str], services: Vec<Service>, endpoints: Vec<Endpoints>) -> Snapshot {
    Snapshot {
        namespaces: namespaces
            .iter()
            .map(|n| ((*n).to_owned(), ns(n)))
            .collect(),
        services: services
            .into_iter()
            .map(|s| ((s.namespace.clone(), s.name.clone()), s))
            .collect(),
        endpoints: endpoints
            .into_iter()
            .map(|e| ((e.namespace.clone(), e.name.clone()), e))
            .collect(),
        ..Snapshot::default()
    }
}

fn lb(memory: &Memory, uid: u128) -> Option<LoadBalancer> {
    crate::backend::read(memory, |m| {
        m.load_balancers()
            .find(|l| l.meta.id == Uuid::from_u128(uid))
            .cloned()
    })
}

fn port(memory: &Memory, uid: u128) -> Option<Port> {
    crate::backend::read(memory, |m| {
        m.ports()
            .find(|p| p.meta.id == Uuid::from_u128(uid))
            .cloned()
    })
}

fn backends(lb: &LoadBalancer, listener: usize) -> Vec<String> {
    lb.listeners[listener]
        .backends
        .iter()
        .map(|b| format!("{}:{}", b.address, b.port))
        .collect()
}

/// The `kubernetes` Service as a 1.x apiserver makes it: 10.96.0.1:443,
/// its endpoint the apiserver's underlay address.
fn kubernetes() -> (Service, Endpoints) {
    (
        svc(
            "default",
            "kubernetes",
            0x1,
            "10.96.0.1",
            vec![sport("https", "TCP", 443)],
        ),
        eps(
            "default",
            "kubernetes",
            &["192.168.200.12"],
            vec![sport("https", "TCP", 6443)],
        ),
    )
}

#[tokio::test]
async fn cluster_ip_services_become_load_balancers_and_follow_their_endpoints() {
    let (memory, r) = world();
    let (k, k_eps) = kubernetes();
    let web = svc(
        "web",
        "front",
        0x2,
        "10.96.12.34",
        vec![sport("http", "TCP", 80), sport("dns", "UDP", 53)],
    );
    let web_eps = Endpoints {
        namespace: "web".into(),
        name: "front".into(),
        subsets: vec![
            EndpointSubset {
                addresses: vec!["10.32.0.5".parse().unwrap(), "10.32.0.4".parse().unwrap()],
                ports: vec![sport("http", "TCP", 8080), sport("dns", "UDP", 5353)],
            },
            // A selector-less Service's manual Endpoints: a VM's address.
            EndpointSubset {
                addresses: vec!["192.168.1.3".parse().unwrap()],
                ports: vec![sport("http", "TCP", 80)],
            },
        ],
    };
    let s = snapshot(
        &["default", "web"],
        vec![k.clone(), web.clone()],
        vec![k_eps.clone(), web_eps],
    );
    let out = r.reconcile(&s, true).await;
    assert!(
        out.converged && out.failed.is_empty() && out.problems.is_empty(),
        "{out:?}"
    );

    // The `kubernetes` Service takes the service network's first address.
    let k_lb = lb(&memory, 0x1).expect("the kubernetes Service's load balancer");
    assert_eq!(k_lb.vip_address.to_string(), "10.96.0.1");
    assert_eq!(
        k_lb.fq_name.to_string(),
        "default-domain:k8s-default:kubernetes"
    );
    assert_eq!(backends(&k_lb, 0), vec!["192.168.200.12:6443"]);
    let vip = port(&memory, 0x1).expect("the VIP port, by the Service's UID");
    assert_eq!(vip.device_owner, SERVICE_DEVICE_OWNER);
    let pod_net = crate::backend::read(memory.as_ref(), |m| {
        m.networks()
            .find(|n| n.fq_name == r.cluster.pod_network())
            .map(|n| n.meta.id)
            .unwrap()
    });
    assert_eq!(k_lb.client_network_ids, vec![pod_net]);

    let w = lb(&memory, 0x2).expect("web/front's load balancer");
    assert_eq!(w.fq_name.to_string(), "default-domain:k8s-web:front");
    assert_eq!(w.vip_address.to_string(), "10.96.12.34");
    assert_eq!(
        (w.listeners[0].protocol, w.listeners[0].port),
        (LbProtocol::Tcp, 80)
    );
    assert_eq!(
        backends(&w, 0),
        vec!["10.32.0.4:8080", "10.32.0.5:8080", "192.168.1.3:80"]
    );
    assert_eq!(
        (w.listeners[1].protocol, w.listeners[1].port),
        (LbProtocol::Udp, 53)
    );
    assert_eq!(backends(&w, 1), vec!["10.32.0.4:5353", "10.32.0.5:5353"]);

    // A restart lists the same objects: nothing changes.
    let again = r.reconcile(&s, true).await;
    assert_eq!(again.applied, 0, "idempotent: {again:?}");

    // Scaled down to one pod: one backend left, the VIP port kept.
    let scaled = eps(
        "web",
        "front",
        &["10.32.0.4"],
        vec![sport("http", "TCP", 8080), sport("dns", "UDP", 5353)],
    );
    let s = snapshot(
        &["default", "web"],
        vec![k.clone(), web],
        vec![k_eps.clone(), scaled],
    );
    let out = r.reconcile(&s, true).await;
    assert!(out.converged && out.failed.is_empty(), "{out:?}");
    let w = lb(&memory, 0x2).unwrap();
    assert_eq!(backends(&w, 0), vec!["10.32.0.4:8080"]);
    assert_eq!(backends(&w, 1), vec!["10.32.0.4:5353"]);

    // The Service deleted: its load balancer and port go, the others stay.
    let s = snapshot(&["default", "web"], vec![k], vec![k_eps]);
    let out = r.reconcile(&s, true).await;
    assert!(out.converged && out.failed.is_empty(), "{out:?}");
    assert!(lb(&memory, 0x2).is_none() && port(&memory, 0x2).is_none());
    assert!(lb(&memory, 0x1).is_some() && port(&memory, 0x1).is_some());

    // The namespace gone too: its project goes once it holds nothing.
    let out = r
        .reconcile(&snapshot(&["default"], vec![], vec![]), true)
        .await;
    assert!(out.converged && out.failed.is_empty(), "{out:?}");
    assert!(lb(&memory, 0x1).is_none() && port(&memory, 0x1).is_none());
    let gone = crate::backend::read(memory.as_ref(), |m| {
        !m.projects()
            .any(|p| p.fq_name.to_string() == "default-domain:k8s-web")
    });
    assert!(gone, "the web namespace's project is removed");
}

#[tokio::test]
async fn nothing_is_removed_before_the_cluster_is_listed() {
    let (memory, r) = world();
    let (k, k_eps) = kubernetes();
    let s = snapshot(&["default"], vec![k], vec![k_eps]);
    assert!(r.reconcile(&s, true).await.converged);
    // A restart: the Services are not listed yet.
    let out = r
        .reconcile(&snapshot(&["default"], vec![], vec![]), false)
        .await;
    assert_eq!(out.applied, 0, "{out:?}");
    assert!(lb(&memory, 0x1).is_some());
}

#[tokio::test]
async fn backends_are_not_rewritten_before_the_cluster_is_listed() {
    let (memory, r) = world();
    let (k, k_eps) = kubernetes();
    let s = snapshot(&["default"], vec![k.clone()], vec![k_eps]);
    assert!(r.reconcile(&s, true).await.converged);
    let before = lb(&memory, 0x1).unwrap();
    assert_eq!(backends(&before, 0), vec!["192.168.200.12:6443"]);
    // A restart: the Services are listed, their Endpoints not yet.
    let out = r
        .reconcile(&snapshot(&["default"], vec![k], vec![]), false)
        .await;
    assert_eq!(out.applied, 0, "{out:?}");
    assert_eq!(lb(&memory, 0x1).unwrap(), before);
}

#[tokio::test]
async fn no_endpoints_means_no_backend_and_headless_services_get_nothing() {
    let (memory, r) = world();
    let mut headless = svc("default", "h", 0x3, "10.96.0.9", vec![sport("", "TCP", 80)]);
    headless.cluster_ip = None;
    let lonely = svc(
        "default",
        "lonely",
        0x4,
        "10.96.0.10",
        vec![sport("", "TCP", 80)],
    );
    let s = snapshot(&["default"], vec![headless, lonely], vec![]);
    let out = r.reconcile(&s, true).await;
    assert!(out.converged && out.failed.is_empty(), "{out:?}");
    assert!(lb(&memory, 0x3).is_none() && port(&memory, 0x3).is_none());
    let l = lb(&memory, 0x4).expect("a load balancer that refuses");
    assert!(l.listeners[0].backends.is_empty());
}

#[tokio::test]
async fn what_cannot_be_load_balanced_is_named() {
    let (memory, r) = world();
    let outside = svc(
        "default",
        "far",
        0x5,
        "10.200.0.1",
        vec![sport("", "TCP", 80)],
    );
    let sctp = svc(
        "default",
        "mixed",
        0x6,
        "10.96.0.20",
        vec![sport("a", "TCP", 80), sport("b", "SCTP", 9)],
    );
    let v6 = eps(
        "default",
        "mixed",
        &["fd00::5", "10.32.0.7"],
        vec![sport("a", "TCP", 8080)],
    );
    let out = r
        .reconcile(&snapshot(&["default"], vec![outside, sctp], vec![v6]), true)
        .await;
    assert!(out.converged && out.failed.is_empty(), "{out:?}");
    let text = out.problems.join("\n");
    assert!(
        text.contains("Service default/far: clusterIP 10.200.0.1 is outside"),
        "{text}"
    );
    assert!(
        text.contains("Service default/mixed: port 9 uses SCTP"),
        "{text}"
    );
    assert!(
        text.contains("endpoint fd00::5 is not of the family"),
        "{text}"
    );
    assert!(lb(&memory, 0x5).is_none());
    let m = lb(&memory, 0x6).unwrap();
    assert_eq!(m.listeners.len(), 1);
    assert_eq!(backends(&m, 0), vec!["10.32.0.7:8080"]);
}

#[tokio::test]
async fn an_old_service_network_gives_its_gateway_address_back() {
    let (memory, r) = world();
    // The cluster's project and a service network made the earlier way,
    // with a gateway on 10.96.0.1.
    assert!(r.reconcile(&Snapshot::default(), false).await.converged);
    let service_net = r.cluster.service_network();
    let net_id = crate::backend::read(memory.as_ref(), |m| {
        m.networks()
            .find(|n| n.fq_name == service_net)
            .unwrap()
            .meta
            .id
    });
    memory.run(Command::DeleteNetwork(Ref::Id(net_id))).unwrap();
    let mut subnet = CreateSubnet::with_cidr(Prefix::from_net("10.96.0.0/12".parse().unwrap()));
    subnet.dns_service_ip = Some(None);
    memory
        .run(Command::CreateNetwork(CreateNetwork {
            subnets: vec![subnet],
            ..CreateNetwork::named(service_net.clone())
        }))
        .unwrap();
    let gateway = crate::backend::read(memory.as_ref(), |m| {
        let n = m.networks().find(|n| n.fq_name == service_net).unwrap();
        m.subnets_of(n.meta.id)[0].gateway_ip
    });
    assert_eq!(gateway.map(|g| g.to_string()).as_deref(), Some("10.96.0.1"));
    let (k, k_eps) = kubernetes();
    let out = r
        .reconcile(&snapshot(&["default"], vec![k], vec![k_eps]), true)
        .await;
    assert!(out.converged && out.failed.is_empty(), "{out:?}");
    assert_eq!(
        lb(&memory, 0x1).unwrap().vip_address.to_string(),
        "10.96.0.1"
    );
}

#[tokio::test]
async fn pods_on_annotated_networks_reach_services_too() {
    let (memory, r) = world();
    memory.create_seamless();
    let mut seamless = ns("seamless");
    seamless.annotations.insert(
        crate::annotation::TF_NETWORK.into(),
        r#"{"domain":"default-domain", "project": "k8s-contrail", "name":"seamless"}"#.into(),
    );
    let (k, k_eps) = kubernetes();
    let mut s = snapshot(&["default"], vec![k], vec![k_eps]);
    s.namespaces.insert("seamless".into(), seamless);
    let cont = crate::cluster::Pod {
        namespace: "seamless".into(),
        name: "cont".into(),
        uid: Uuid::from_u128(0xc0),
        node: Some("k8s-worker".into()),
        host_network: false,
        finished: false,
        labels: Default::default(),
        annotations: Default::default(),
        ports: Vec::new(),
    };
    s.pods.insert(cont.uid, cont);
    let out = r.reconcile(&s, true).await;
    assert!(
        out.converged && out.failed.is_empty() && out.problems.is_empty(),
        "{out:?}"
    );
    let (pod_net, seamless_net) = crate::backend::read(memory.as_ref(), |m| {
        let id = |fq: &str| {
            m.networks()
                .find(|n| n.fq_name.to_string() == fq)
                .unwrap()
                .meta
                .id
        };
        (
            id("default-domain:k8s-default:k8s-default-pod-network"),
            id("default-domain:k8s-contrail:seamless"),
        )
    });
    let mut want = vec![pod_net, seamless_net];
    want.sort();
    assert_eq!(lb(&memory, 0x1).unwrap().client_network_ids, want);

    // The pod gone: its network no longer needs the Service.
    s.pods.clear();
    let out = r.reconcile(&s, true).await;
    assert!(out.converged && out.failed.is_empty(), "{out:?}");
    assert_eq!(lb(&memory, 0x1).unwrap().client_network_ids, vec![pod_net]);
}
