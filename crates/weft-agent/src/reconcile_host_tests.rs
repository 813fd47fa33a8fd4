//! The host interface's part of the reconciler: the host VRF and vif, the
//! routes towards it, the kernel's routes and masquerade sources, and that
//! none of it is published.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::host::{HOST_VIF, HOST_VRF};

const VN: &str = "default-domain:k8s-default:pods";
const WORKER: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 14);

fn pod(id: &str, ip: &str) -> proto::Port {
    proto::Port {
        port_id: id.into(),
        vn_fq_name: VN.into(),
        vn_id: 7,
        vni: 7,
        mac: "02:00:00:00:00:04".into(),
        fixed_ips: vec![proto::FixedIp {
            address: ip.into(),
            prefix_len: 24,
            gateway: "10.32.0.1".into(),
            dns_service: "10.32.0.2".into(),
            host_routes: vec![],
            dhcp_enabled: false,
        }],
        sg_ids: vec![9],
        port_security: true,
        allowed_address_pairs: vec![],
        vif_type: proto::VifType::Veth as i32,
        interface_name: format!("veth{}", &id[..4]),
        admin_up: true,
        mtu: 0,
    }
}

fn snapshot(ports: Vec<proto::Port>, fabric_snat: bool) -> NodeConfig {
    NodeConfig {
        generation: 1,
        ports,
        vrfs: vec![proto::Vrf {
            name: VN.into(),
            vn_id: 7,
            vni: 7,
            fabric_snat,
            subnets: vec!["10.32.0.0/24".into(), "fd00:32::/64".into()],
            ..proto::Vrf::default()
        }],
        acls: vec![],
        encapsulation_priority: vec![proto::Encapsulation::MplsOverUdp as i32],
    }
}

fn reconciler() -> Reconciler {
    Reconciler::new(WORKER, vec![proto::Encapsulation::MplsOverUdp]).with_host("vhost0")
}

fn routes(plan: &Plan) -> Vec<&RouteConfig> {
    plan.commands
        .iter()
        .filter_map(|c| match c {
            Command::AddRoute(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn prefix(text: &str) -> Prefix {
    text.parse().unwrap()
}

fn apply(engine: &mut weft_vrouter::Engine, plan: &Plan) {
    for c in plan.commands.clone() {
        engine
            .apply(c.clone())
            .unwrap_or_else(|e| panic!("{c:?}: {e}"));
    }
}

#[test]
fn without_a_host_interface_nothing_of_it_is_programmed() {
    let mut r = Reconciler::new(WORKER, vec![proto::Encapsulation::MplsOverUdp]);
    let plan = r.apply_config(
        &snapshot(vec![pod("aaaa1", "10.32.0.4")], true),
        &mut Labels::default(),
    );
    assert!(plan.kernel.is_empty(), "{:?}", plan.kernel);
    assert!(
        !plan
            .commands
            .iter()
            .any(|c| matches!(c, Command::AddVrf(v) if v.id == HOST_VRF))
    );
    assert!(
        !routes(&plan)
            .iter()
            .any(|r| r.prefix == prefix("0.0.0.0/0") || r.prefix == prefix("192.168.200.14/32"))
    );
}

#[test]
fn host_vif_routes_and_kernel_routes_follow_the_ports_and_are_not_published() {
    let mut r = reconciler();
    let mut labels = Labels::default();
    let mut engine = weft_vrouter::Engine::default();
    let plan = r.apply_config(
        &snapshot(vec![pod("aaaa1", "10.32.0.4")], false),
        &mut labels,
    );
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    apply(&mut engine, &plan);

    // The host vif, attached like a port but as the host's own tap.
    let host = engine.vif(HOST_VIF).unwrap();
    assert_eq!(host.kind, VifKind::Host);
    assert_eq!(host.vrf, HOST_VRF);
    assert_eq!(host.addrs, vec![IpAddr::V4(WORKER)]);
    let attach = plan.attach.iter().find(|a| a.vif == HOST_VIF).unwrap();
    assert_eq!(
        (attach.kind, attach.interface.as_str()),
        (VifKind::Host, "vhost0")
    );

    // Host VRF: the pod's address to the pod; pod's VRF: the node's
    // address to the host vif; no default route without fabric SNAT.
    let pod_vif = r.port_vif("aaaa1").unwrap();
    let in_host = engine
        .route_get(HOST_VRF, prefix("10.32.0.4/32"))
        .unwrap()
        .unwrap();
    assert_eq!(engine.nexthop(in_host.nh).unwrap().oif, Some(pod_vif));
    let node = engine
        .route_get(VrfId(7), prefix("192.168.200.14/32"))
        .unwrap()
        .unwrap();
    assert_eq!(engine.nexthop(node.nh).unwrap().oif, Some(HOST_VIF));
    assert!(
        engine
            .route_get(VrfId(7), prefix("0.0.0.0/0"))
            .unwrap()
            .is_none()
    );

    assert_eq!(plan.kernel.add_routes, vec![Ipv4Addr::new(10, 32, 0, 4)]);
    assert!(plan.kernel.delete_routes.is_empty());
    assert_eq!(plan.kernel.snat, None);

    // Published: the pod's own address only.
    let plugged = r.set_plugged(pod_vif, true);
    let mut published: Vec<_> = plugged
        .publish
        .iter()
        .map(|p| (p.vrf.clone(), p.prefix))
        .collect();
    published.extend(
        r.set_plugged(HOST_VIF, true)
            .publish
            .iter()
            .map(|p| (p.vrf.clone(), p.prefix)),
    );
    assert_eq!(published, vec![(VN.to_owned(), prefix("10.32.0.4/32"))]);

    // A second pod: one more kernel route; the first is not told again.
    let plan = r.apply_config(
        &snapshot(
            vec![pod("aaaa1", "10.32.0.4"), pod("bbbb2", "10.32.0.5")],
            false,
        ),
        &mut labels,
    );
    apply(&mut engine, &plan);
    assert_eq!(plan.kernel.add_routes, vec![Ipv4Addr::new(10, 32, 0, 5)]);

    // The first pod goes: its routes (host VRF and kernel) go with it.
    let plan = r.apply_config(
        &snapshot(vec![pod("bbbb2", "10.32.0.5")], false),
        &mut labels,
    );
    apply(&mut engine, &plan);
    assert_eq!(plan.kernel.delete_routes, vec![Ipv4Addr::new(10, 32, 0, 4)]);
    assert!(plan.kernel.add_routes.is_empty());
    assert!(
        engine
            .route_get(HOST_VRF, prefix("10.32.0.4/32"))
            .unwrap()
            .is_none()
    );

    // The last pod goes: the node's route leaves the pods' VRF.
    let plan = r.apply_config(&snapshot(vec![], false), &mut labels);
    apply(&mut engine, &plan);
    assert!(
        engine
            .route_get(VrfId(7), prefix("192.168.200.14/32"))
            .unwrap()
            .is_none()
    );
    assert_eq!(engine.vifs().len(), 1, "only the host vif stays");
    let again = r.apply_config(&snapshot(vec![], false), &mut labels);
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn fabric_snat_adds_a_default_route_and_masquerades_the_vns_v4_subnets() {
    let mut r = reconciler();
    let mut labels = Labels::default();
    let mut engine = weft_vrouter::Engine::default();
    let plan = r.apply_config(
        &snapshot(vec![pod("aaaa1", "10.32.0.4")], true),
        &mut labels,
    );
    apply(&mut engine, &plan);
    let default = engine
        .route_get(VrfId(7), prefix("0.0.0.0/0"))
        .unwrap()
        .unwrap();
    assert_eq!(engine.nexthop(default.nh).unwrap().oif, Some(HOST_VIF));
    assert_eq!(plan.kernel.snat, Some(vec![prefix("10.32.0.0/24")]));
    assert!(!plan.publish.iter().any(|p| p.prefix == prefix("0.0.0.0/0")));

    // A remote default route never replaces the local one.
    let remote = r.route_added(RemoteRoute {
        vrf: VN.into(),
        prefix: prefix("0.0.0.0/0"),
        next_hop: Ipv4Addr::new(192, 168, 200, 13),
        attrs: RouteAttrs {
            label: 20,
            vni: 7,
            encapsulations: vec![proto::Encapsulation::MplsOverUdp],
            sg_ids: vec![],
        },
    });
    assert!(remote.commands.is_empty(), "{remote:?}");

    // Unchanged: nothing; turned off: the route and the rule go.
    assert!(
        r.apply_config(
            &snapshot(vec![pod("aaaa1", "10.32.0.4")], true),
            &mut labels
        )
        .is_empty()
    );
    let plan = r.apply_config(
        &snapshot(vec![pod("aaaa1", "10.32.0.4")], false),
        &mut labels,
    );
    apply(&mut engine, &plan);
    // The remote path takes over.
    let default = engine
        .route_get(VrfId(7), prefix("0.0.0.0/0"))
        .unwrap()
        .unwrap();
    assert_ne!(engine.nexthop(default.nh).unwrap().oif, Some(HOST_VIF));
    assert_eq!(plan.kernel.snat, Some(vec![]));
}

#[test]
fn a_pod_moving_to_another_vrf_keeps_its_host_route_valid() {
    let mut r = reconciler();
    let mut labels = Labels::default();
    let mut engine = weft_vrouter::Engine::default();
    let plan = r.apply_config(
        &snapshot(vec![pod("aaaa1", "10.32.0.4")], false),
        &mut labels,
    );
    apply(&mut engine, &plan);
    let mut moved = snapshot(vec![], false);
    let mut p = pod("aaaa1", "10.32.0.4");
    p.vn_fq_name = "default-domain:k8s-default:other".into();
    p.vn_id = 8;
    p.vni = 8;
    moved.ports.push(p);
    let plan = r.apply_config(&moved, &mut labels);
    apply(&mut engine, &plan);
    let in_host = engine
        .route_get(HOST_VRF, prefix("10.32.0.4/32"))
        .unwrap()
        .unwrap();
    assert_eq!(
        engine.nexthop(in_host.nh).unwrap().oif,
        Some(r.port_vif("aaaa1").unwrap())
    );
    assert!(
        engine
            .route_get(VrfId(8), prefix("192.168.200.14/32"))
            .unwrap()
            .is_some()
    );
}

#[test]
fn the_whole_kernel_state_is_there_for_a_new_host_tap() {
    let mut r = reconciler();
    let mut labels = Labels::default();
    r.apply_config(
        &snapshot(
            vec![pod("aaaa1", "10.32.0.4"), pod("bbbb2", "10.32.0.5")],
            true,
        ),
        &mut labels,
    );
    let state = r.kernel_state().unwrap();
    assert_eq!(
        state.add_routes,
        vec![Ipv4Addr::new(10, 32, 0, 4), Ipv4Addr::new(10, 32, 0, 5)]
    );
    assert_eq!(state.snat, Some(vec![prefix("10.32.0.0/24")]));
    assert!(Reconciler::new(WORKER, vec![]).kernel_state().is_none());
}
