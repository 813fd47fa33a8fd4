//! The compiler's desired state per node, against golden files.
//!
//! `WEFT_UPDATE_GOLDEN=1 cargo test -p weft-model --test compile` rewrites
//! them; review the diff like code.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::World;
use weft_model::compile::Remote;
use weft_model::*;

const SEAMLESS: &str = "default-domain:k8s-contrail:seamless";

/// The reference scenario, with the rule of step 6 (remote group = the pod's group).
fn scenario() -> World {
    let mut w = World::new();
    w.project("k8s-contrail");
    w.project("admin");
    w.project("k8s-seamless");
    w.network(SEAMLESS, &["192.168.1.0/24"]).unwrap();
    w.port(SEAMLESS, serde_json::json!({"name": "vm", "project": "admin", "binding_host_id": "os-compute", "device_owner": "compute:nova"}))
        .unwrap();
    w.port(SEAMLESS, serde_json::json!({"name": "cont", "project": "k8s-seamless", "binding_host_id": "k8s-worker", "vif_type": "veth"}))
        .unwrap();
    let rule: CreateSecurityGroupRule = serde_json::from_value(serde_json::json!({
        "security_group": "default-domain:admin:default",
        "direction": "ingress",
        "remote_group": "default-domain:k8s-seamless:default",
    }))
    .unwrap();
    w.run(Command::CreateSecurityGroupRule(rule)).unwrap();
    w
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("WEFT_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with WEFT_UPDATE_GOLDEN=1)", path.display()));
    assert!(
        expected == actual,
        "{name} differs from the compiler's output; rerun with WEFT_UPDATE_GOLDEN=1 and review"
    );
}

#[test]
fn reference_scenario_per_node_matches_golden_files() {
    let w = scenario();
    for node in ["os-compute", "k8s-worker"] {
        let desired = w.model.compile_node(node);
        let text = serde_json::to_string_pretty(&desired).unwrap() + "\n";
        golden(&format!("compile-{node}.json"), &text);
    }
}

#[test]
fn each_node_gets_only_its_ports_and_their_groups() {
    let w = scenario();
    let compute = w.model.compile_node("os-compute");
    let worker = w.model.compile_node("k8s-worker");
    assert_eq!(compute.ports.len(), 1);
    assert_eq!(worker.ports.len(), 1);
    let vm = compute.ports.values().next().unwrap();
    assert_eq!(vm.addresses[0].ip.to_string(), "192.168.1.3");
    assert_eq!(vm.addresses[0].gateway.unwrap().to_string(), "192.168.1.1");
    assert!(
        vm.interface.starts_with("tap") && vm.interface.len() == 14,
        "{}",
        vm.interface
    );
    let pod = worker.ports.values().next().unwrap();
    assert!(pod.interface.starts_with("veth"), "{}", pod.interface);
    // Both nodes hold the one VRF of the seamless VN.
    assert_eq!(
        compute.vrfs.keys().collect::<Vec<_>>(),
        worker.vrfs.keys().collect::<Vec<_>>()
    );
    // The VM's group admits its own members and, after step 6, the pod's group.
    let admin_sg = vm.security_groups[0];
    let pod_sg = pod.security_groups[0];
    let remotes: Vec<Remote> = compute.acls[&admin_sg]
        .iter()
        .filter(|r| r.direction == Direction::Ingress)
        .map(|r| r.remote)
        .collect();
    assert!(
        remotes.contains(&Remote::Group(admin_sg)) && remotes.contains(&Remote::Group(pod_sg)),
        "{remotes:?}"
    );
    assert!(
        !worker.acls.contains_key(&admin_sg),
        "the worker has no member of the admin group"
    );
    assert!(w.model.compile_node("nowhere").ports.is_empty());
}

#[test]
fn stateless_groups_are_named_for_the_agent() {
    let mut w = scenario();
    w.run(Command::CreateSecurityGroup(CreateSecurityGroup {
        fq_name: "default-domain:admin:raw".parse().unwrap(),
        id: None,
        description: String::new(),
        tags: Vec::new(),
        stateful: Some(false),
    }))
    .unwrap();
    w.port(
        SEAMLESS,
        serde_json::json!({"name": "vm2", "project": "admin", "binding_host_id": "os-compute",
                                        "security_groups": ["default-domain:admin:raw"]}),
    )
    .unwrap();
    let compute = w.model.compile_node("os-compute");
    let raw = w
        .model
        .security_groups()
        .find(|g| g.fq_name.to_string() == "default-domain:admin:raw")
        .unwrap()
        .sg_id;
    assert!(compute.acls.contains_key(&raw));
    assert_eq!(compute.stateless_groups.iter().collect::<Vec<_>>(), [&raw]);
    // The worker holds no member of it.
    assert!(
        w.model
            .compile_node("k8s-worker")
            .stateless_groups
            .is_empty()
    );
}

/// A Kubernetes-style service: its address held by an unbound port of the
/// service network, a listener whose backend is the VM, and the seed's VN
/// as a client network.
fn with_service(w: &mut World) -> LoadBalancer {
    w.project("k8s-default");
    let service_net = "default-domain:k8s-default:k8s-default-service-network";
    w.network(service_net, &["10.96.0.0/12"]).unwrap();
    let vip = w
        .port(service_net, serde_json::json!({"name": "web", "project": "k8s-default", "device_owner": "k8s:service"}))
        .unwrap();
    let req: CreateLoadBalancer = serde_json::from_value(serde_json::json!({
        "fq_name": "default-domain:k8s-seamless:web",
        "vip_port": vip.meta.id.to_string(),
        "client_networks": [SEAMLESS],
        "listeners": [{"protocol": "tcp", "port": 80,
                        "backends": [{"address": "192.168.1.3", "port": 8080}]}],
    }))
    .unwrap();
    match w.run(Command::CreateLoadBalancer(req)).unwrap() {
        Object::LoadBalancer(lb) => lb,
        other => panic!("{other:?}"),
    }
}

#[test]
fn load_balancers_reach_the_vrfs_of_their_client_networks() {
    let mut w = scenario();
    let lb = with_service(&mut w);
    assert_eq!(lb.vip_address.to_string(), "10.96.0.3");
    let worker = w.model.compile_node("k8s-worker");
    let vrf = &worker.vrfs[&SEAMLESS.parse().unwrap()];
    assert_eq!(vrf.services.len(), 1);
    let service = &vrf.services[0];
    assert_eq!(service.vip, lb.vip_address);
    assert_eq!((service.protocol, service.port), (6, 80));
    assert_eq!(
        service.backends,
        vec![LbBackend {
            address: "192.168.1.3".parse().unwrap(),
            port: 8080
        }]
    );

    // New backends replace the old ones; no listener, nothing served.
    let update: UpdateLoadBalancer = serde_json::from_value(serde_json::json!({
        "listeners": [{"protocol": "udp", "port": 53, "backends": []}],
    }))
    .unwrap();
    w.run(Command::UpdateLoadBalancer(Ref::Id(lb.meta.id), update))
        .unwrap();
    let worker = w.model.compile_node("k8s-worker");
    let services = &worker.vrfs[&SEAMLESS.parse().unwrap()].services;
    assert_eq!((services[0].protocol, services[0].port), (17, 53));
    assert!(services[0].backends.is_empty());
}

#[test]
fn load_balancers_hold_what_they_use_and_refuse_bad_listeners() {
    let mut w = scenario();
    let lb = with_service(&mut w);
    // The VIP port, the client network and the project stay while it exists.
    let err = w
        .run(Command::DeletePort(Ref::Id(lb.vip_port_id)))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("load balancer default-domain:k8s-seamless:web"),
        "{err}"
    );
    let err = w
        .run(Command::DeleteNetwork(Ref::Name(SEAMLESS.parse().unwrap())))
        .unwrap_err();
    assert!(matches!(err, ModelError::InUse { .. }), "{err}");
    let err = w
        .run(Command::DeleteProject(Ref::Name(
            "default-domain:k8s-seamless".parse().unwrap(),
        )))
        .unwrap_err();
    assert!(matches!(err, ModelError::InUse { .. }), "{err}");

    let bad = |listeners: serde_json::Value, want: &str, w: &mut World| {
        let update: UpdateLoadBalancer =
            serde_json::from_value(serde_json::json!({"listeners": listeners})).unwrap();
        let err = w
            .run(Command::UpdateLoadBalancer(Ref::Id(lb.meta.id), update))
            .unwrap_err();
        assert!(err.to_string().contains(want), "{err} lacks {want}");
    };
    bad(
        serde_json::json!([{"protocol": "tcp", "port": 80}, {"protocol": "tcp", "port": 80}]),
        "listed twice",
        &mut w,
    );
    bad(
        serde_json::json!([{"protocol": "tcp", "port": 0}]),
        "port 0",
        &mut w,
    );
    bad(
        serde_json::json!([{"protocol": "tcp", "port": 80, "backends": [{"address": "fd00::1", "port": 80}]}]),
        "not of the family",
        &mut w,
    );
    // A second load balancer on the same address is refused.
    let again: CreateLoadBalancer = serde_json::from_value(serde_json::json!({
        "fq_name": "default-domain:k8s-seamless:web2",
        "vip_port": lb.vip_port_id.to_string(),
    }))
    .unwrap();
    let err = w.run(Command::CreateLoadBalancer(again)).unwrap_err();
    assert!(err.to_string().contains("already the address"), "{err}");

    w.run(Command::DeleteLoadBalancer(Ref::Id(lb.meta.id)))
        .unwrap();
    w.run(Command::DeletePort(Ref::Id(lb.vip_port_id))).unwrap();
    let worker = w.model.compile_node("k8s-worker");
    assert!(worker.vrfs[&SEAMLESS.parse().unwrap()].services.is_empty());
}

/// A network's own MTU reaches its ports on the node, capped by what fits
/// the overlay once encapsulations change; without one, the vRouter picks.
#[test]
fn a_network_mtu_reaches_its_ports_capped_by_the_overlay() {
    let mut w = scenario();
    let vm_port = |w: &World| {
        w.model
            .compile_node("os-compute")
            .ports
            .values()
            .next()
            .unwrap()
            .mtu
    };
    assert_eq!(vm_port(&w), None);
    let set = |mtu: Option<u32>| {
        Command::UpdateNetwork(
            SEAMLESS.parse().unwrap(),
            UpdateNetwork {
                mtu: Some(mtu),
                ..UpdateNetwork::default()
            },
        )
    };
    w.run(set(Some(1400))).unwrap();
    assert_eq!(vm_port(&w), Some(1400));
    let too_big = w.run(set(Some(1451))).unwrap_err();
    assert!(too_big.to_string().contains("maximum is 1450"), "{too_big}");
    // Without VXLAN the overlay fits 1472; with it back, 1450 caps.
    let encaps = |list: Vec<Encapsulation>| {
        Command::UpdateGlobalConfig(
            serde_json::from_value(serde_json::json!({"encapsulation_priority": list})).unwrap(),
        )
    };
    w.run(encaps(vec![Encapsulation::MplsOverGre])).unwrap();
    w.run(set(Some(1472))).unwrap();
    assert_eq!(vm_port(&w), Some(1472));
    w.run(encaps(vec![Encapsulation::Vxlan])).unwrap();
    assert_eq!(vm_port(&w), Some(1450));
    w.run(set(None)).unwrap();
    assert_eq!(vm_port(&w), None);
}
