#![allow(clippy::unwrap_used)]

use weft_control::proto::acl_rule::Remote as ProtoRemote;
use weft_vrouter::{Direction, Ethertype, Remote, SgId};

use super::*;
use crate::labels::LabelStore;

const VN: &str = "default-domain:k8s-contrail:seamless";
const COMPUTE: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 13);
const WORKER: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 14);

fn encaps() -> Vec<proto::Encapsulation> {
    vec![
        proto::Encapsulation::MplsOverUdp,
        proto::Encapsulation::MplsOverGre,
        proto::Encapsulation::Vxlan,
    ]
}

fn port(id: &str, ip: &str, sg: u32) -> proto::Port {
    proto::Port {
        port_id: id.into(),
        vn_fq_name: VN.into(),
        vn_id: 5,
        vni: 5,
        mac: "02:00:00:00:00:03".into(),
        fixed_ips: vec![proto::FixedIp {
            address: ip.into(),
            prefix_len: 24,
            gateway: "192.168.1.1".into(),
            dns_service: "192.168.1.2".into(),
            host_routes: vec![],
            dhcp_enabled: true,
        }],
        sg_ids: vec![sg],
        port_security: true,
        allowed_address_pairs: vec![],
        vif_type: proto::VifType::Tap as i32,
        interface_name: weft_control::tap_interface_name(id),
        admin_up: true,
        mtu: 0,
    }
}

fn own_members(sg: u32) -> proto::SecurityGroupAcl {
    let rule = |direction: proto::Direction, remote| proto::AclRule {
        direction: direction as i32,
        ethertype: proto::Ethertype::Ipv4 as i32,
        protocol: None,
        port_min: 0,
        port_max: 65535,
        remote: Some(remote),
    };
    proto::SecurityGroupAcl {
        sg_id: sg,
        rules: vec![
            rule(proto::Direction::Ingress, ProtoRemote::SgId(sg)),
            rule(proto::Direction::Egress, ProtoRemote::Any(proto::Any {})),
        ],
        stateless: false,
    }
}

fn snapshot(ports: Vec<proto::Port>) -> NodeConfig {
    NodeConfig {
        generation: 1,
        ports,
        vrfs: vec![proto::Vrf {
            name: VN.into(),
            vn_id: 5,
            vni: 5,
            route_targets: vec!["target:64512:8000005".into()],
            services: vec![],
            ..proto::Vrf::default()
        }],
        acls: vec![own_members(7)],
        encapsulation_priority: vec![
            proto::Encapsulation::MplsOverUdp as i32,
            proto::Encapsulation::MplsOverGre as i32,
            proto::Encapsulation::Vxlan as i32,
        ],
    }
}

fn host(ip: &str) -> Prefix {
    Prefix::host(ip.parse().unwrap())
}

fn vm_port() -> proto::Port {
    port("3f2a9c1e-7b4d-4e0a-9a55-0c1d2e3f4a5b", "192.168.1.3", 7)
}

/// The `stateful` flag of the SetAcl commands in `commands`.
fn acl_statefulness(commands: &[Command]) -> Vec<bool> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::SetAcl { stateful, .. } => Some(*stateful),
            _ => None,
        })
        .collect()
}

#[test]
fn a_port_of_stateless_groups_only_is_programmed_stateless() {
    let mut r = Reconciler::new(COMPUTE, encaps());
    let mut labels = Labels::default();
    let mut config = snapshot(vec![vm_port()]);
    let plan = r.apply_config(&config, &mut labels);
    assert_eq!(acl_statefulness(&plan.commands), [true]);

    // Its one group turns stateless: the same rules, programmed again
    // without tracking.
    config.acls[0].stateless = true;
    config.generation += 1;
    let plan = r.apply_config(&config, &mut labels);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    assert_eq!(acl_statefulness(&plan.commands), [false]);
    let plan = r.apply_config(&config, &mut labels);
    assert_eq!(
        acl_statefulness(&plan.commands),
        Vec::<bool>::new(),
        "nothing changed"
    );

    // A stateful group beside it: tracked again.
    let mut port = vm_port();
    port.sg_ids.push(8);
    config.ports = vec![port];
    config.acls.push(own_members(8));
    config.generation += 1;
    let plan = r.apply_config(&config, &mut labels);
    assert_eq!(acl_statefulness(&plan.commands), [true]);
}

#[test]
fn snapshot_programs_vrf_vif_receive_routes_acl_and_publishes() {
    let mut r = Reconciler::new(COMPUTE, encaps());
    let mut labels = Labels::default();
    let plan = r.apply_config(&snapshot(vec![vm_port()]), &mut labels);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    let c = &plan.commands;
    assert_eq!(c[0], Command::SetUnderlayAddr(COMPUTE));
    let vrf_at = c
        .iter()
        .position(|c| matches!(c, Command::AddVrf(v) if v.id == VrfId(5) && v.name == VN))
        .unwrap();
    let vif_at = c
        .iter()
        .position(|c| matches!(c, Command::AddVif(_)))
        .unwrap();
    assert!(vrf_at < vif_at, "VRF before vif: {c:?}");
    let Command::AddVif(vif) = &c[vif_at] else {
        unreachable!()
    };
    assert_eq!(vif.label.map(|l| l.get()), Some(16));
    assert_eq!(vif.name, "tap3f2a9c1e-7b");
    assert_eq!(vif.sgs, vec![SgId(7)]);
    assert_eq!(
        vif.dhcp.as_ref().unwrap().gateway,
        Some("192.168.1.1".parse().unwrap())
    );
    let encap_nh = c
        .iter()
        .find_map(|c| match c {
            Command::AddNextHop(nh) if nh.kind == NextHopKind::Encap { vif: vif.id } => Some(nh.id),
            _ => None,
        })
        .unwrap();
    let routes: Vec<&RouteConfig> = c
        .iter()
        .filter_map(|c| match c {
            Command::AddRoute(r) => Some(r),
            _ => None,
        })
        .collect();
    assert!(
        routes
            .iter()
            .any(|r| r.prefix == host("192.168.1.3") && r.nh == encap_nh && r.sgs == vec![SgId(7)])
    );
    for service in ["192.168.1.1", "192.168.1.2"] {
        assert!(
            routes
                .iter()
                .any(|r| r.prefix == host(service) && r.nh == RECEIVE_NH)
        );
    }
    let acl = c
        .iter()
        .find_map(|c| match c {
            Command::SetAcl { rules, .. } => Some(rules),
            _ => None,
        })
        .unwrap();
    assert_eq!(acl.len(), 2);
    assert_eq!(acl[0].direction, Direction::Ingress);
    assert_eq!(acl[0].ethertype, Ethertype::IPv4);
    assert_eq!(acl[0].remote, Remote::Group(SgId(7)));
    assert_eq!(plan.subscribe, vec![VN.to_owned()]);
    assert_eq!(plan.attach.len(), 1);
    assert_eq!(plan.attach[0].kind, VifKind::Tap);
    // Nothing is published before the interface is there.
    assert!(plan.publish.is_empty(), "{:?}", plan.publish);
    let plan = r.set_plugged(vif.id, true);
    assert_eq!(plan.publish.len(), 1);
    let published = &plan.publish[0];
    assert_eq!(published.prefix, host("192.168.1.3"));
    assert_eq!(published.attrs.label, 16);
    assert_eq!(published.attrs.vni, 5);
    assert_eq!(published.attrs.sg_ids, vec![7]);

    // Every command is accepted by a real engine, in order.
    let mut engine = weft_vrouter::Engine::default();
    for command in plan.commands {
        engine
            .apply(command.clone())
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    }
    // The same snapshot again changes nothing.
    let again = r.apply_config(&snapshot(vec![vm_port()]), &mut labels);
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn labels_survive_a_restart_through_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let ports = vec![port("aaa", "192.168.1.3", 7), port("bbb", "192.168.1.5", 7)];
    let first = {
        let (mut store, mut labels) = LabelStore::open(dir.path()).unwrap();
        let mut r = Reconciler::new(COMPUTE, encaps());
        // Allocate in one order...
        r.apply_config(&snapshot(vec![ports[1].clone()]), &mut labels);
        let plan = r.apply_config(&snapshot(ports.clone()), &mut labels);
        store.save(&labels).unwrap();
        let _ = plan;
        (labels.get("aaa").unwrap(), labels.get("bbb").unwrap())
    };
    assert_eq!(first.1.label, 16);
    assert_eq!(first.0.label, 17);
    // ...a restarted agent sees them in the other order and keeps them.
    let (_, mut labels) = LabelStore::open(dir.path()).unwrap();
    let mut r = Reconciler::new(COMPUTE, encaps());
    let plan = r.apply_config(&snapshot(ports), &mut labels);
    let mut by_name: Vec<(String, u32)> = plan
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::AddVif(v) => Some((v.name.clone(), v.label.unwrap().get())),
            _ => None,
        })
        .collect();
    by_name.sort();
    assert_eq!(
        by_name,
        vec![
            ("tapaaa".into(), first.0.label),
            ("tapbbb".into(), first.1.label)
        ]
    );
}

fn remote(prefix: &str, label: u32, sgs: Vec<u32>) -> RemoteRoute {
    RemoteRoute {
        vrf: VN.into(),
        prefix: host(prefix),
        next_hop: WORKER,
        attrs: RouteAttrs {
            label,
            vni: 5,
            encapsulations: encaps(),
            sg_ids: sgs,
        },
    }
}

#[test]
fn remote_route_becomes_tunnel_and_withdrawal_removes_it() {
    let mut r = Reconciler::new(COMPUTE, encaps());
    let mut labels = Labels::default();
    let mut engine = weft_vrouter::Engine::default();
    let apply = |engine: &mut weft_vrouter::Engine, plan: &Plan| {
        for command in &plan.commands {
            engine
                .apply(command.clone())
                .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        }
    };
    apply(
        &mut engine,
        &r.apply_config(&snapshot(vec![vm_port()]), &mut labels),
    );

    let plan = r.route_added(remote("192.168.1.4", 16, vec![9]));
    apply(&mut engine, &plan);
    let route = engine
        .route_get(VrfId(5), host("192.168.1.4"))
        .unwrap()
        .unwrap();
    let nh = engine.nexthop(route.nh).unwrap();
    assert_eq!(
        engine
            .nexthops()
            .iter()
            .find(|n| n.id == route.nh)
            .map(|n| n.id),
        Some(nh.id)
    );
    let Some(Command::AddNextHop(NextHop { kind, .. })) = plan.commands.first() else {
        panic!("{plan:?}")
    };
    assert_eq!(
        *kind,
        NextHopKind::Tunnel {
            dst: WORKER,
            label: Some(weft_types::MplsLabel::new(16).unwrap()),
            vni: Some(Vni::new(5).unwrap()),
            encaps: vec![
                Encapsulation::MplsOverUdp,
                Encapsulation::MplsOverGre,
                Encapsulation::Vxlan
            ],
            mac: None,
        }
    );
    let Some(Command::AddRoute(rc)) = plan.commands.get(1) else {
        panic!("{plan:?}")
    };
    assert_eq!(rc.sgs, vec![SgId(9)]);

    // SG change only: the route is replaced, the next hop kept.
    let plan = r.route_added(remote("192.168.1.4", 16, vec![9, 10]));
    assert!(
        matches!(plan.commands.as_slice(), [Command::AddRoute(rc)] if rc.sgs == vec![SgId(9), SgId(10)])
    );
    apply(&mut engine, &plan);

    let plan = r.route_withdrawn(VN.into(), host("192.168.1.4"), WORKER);
    assert!(matches!(
        plan.commands.as_slice(),
        [Command::DeleteRoute { .. }, Command::DeleteNextHop(_)]
    ));
    apply(&mut engine, &plan);
    assert!(
        engine
            .route_get(VrfId(5), host("192.168.1.4"))
            .unwrap()
            .is_none()
    );
    assert!(engine.nexthop(nh.id).is_none());
}

#[test]
fn routes_for_unknown_vrfs_wait_and_own_routes_are_ignored() {
    let mut r = Reconciler::new(COMPUTE, encaps());
    let mut labels = Labels::default();
    assert!(
        r.route_added(remote("192.168.1.4", 16, vec![]))
            .commands
            .is_empty()
    );
    let mut own = remote("192.168.1.9", 20, vec![]);
    own.next_hop = COMPUTE;
    assert!(r.route_added(own).is_empty());
    let plan = r.apply_config(&snapshot(vec![vm_port()]), &mut labels);
    assert!(
        plan.commands
            .iter()
            .any(|c| matches!(c, Command::AddRoute(rc) if rc.prefix == host("192.168.1.4")))
    );
}

#[test]
fn removed_port_is_unplugged_withdrawn_and_its_label_freed() {
    let mut r = Reconciler::new(COMPUTE, encaps());
    let mut labels = Labels::default();
    let mut engine = weft_vrouter::Engine::default();
    let plan = r.apply_config(&snapshot(vec![vm_port()]), &mut labels);
    let vif = plan.attach[0].vif;
    for c in plan.commands {
        engine.apply(c).unwrap();
    }
    assert_eq!(r.set_plugged(vif, true).publish.len(), 1);
    let plan = r.apply_config(&snapshot(vec![]), &mut labels);
    for c in plan.commands.clone() {
        engine
            .apply(c.clone())
            .unwrap_or_else(|e| panic!("{c:?}: {e}"));
    }
    assert_eq!(plan.withdraw, vec![(VN.to_owned(), host("192.168.1.3"))]);
    assert_eq!(plan.detach.len(), 1);
    assert!(engine.vifs().is_empty());
    assert!(labels.get("3f2a9c1e-7b4d-4e0a-9a55-0c1d2e3f4a5b").is_none());
    // The VRF (still configured) stays; removing it unsubscribes.
    let mut empty = snapshot(vec![]);
    empty.vrfs.clear();
    let plan = r.apply_config(&empty, &mut labels);
    for c in plan.commands.clone() {
        engine
            .apply(c.clone())
            .unwrap_or_else(|e| panic!("{c:?}: {e}"));
    }
    assert_eq!(plan.unsubscribe, vec![VN.to_owned()]);
}

#[test]
fn allowed_address_pairs_are_routed_to_the_port_and_published() {
    let mut r = Reconciler::new(COMPUTE, encaps());
    let mut labels = Labels::default();
    let mut with_pair = vm_port();
    with_pair.allowed_address_pairs = vec![proto::AllowedAddressPair {
        ip_prefix: "192.168.1.50/32".into(),
        mac: String::new(),
    }];
    let plan = r.apply_config(&snapshot(vec![with_pair]), &mut labels);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    let published: Vec<Prefix> = r
        .set_plugged(plan.attach[0].vif, true)
        .publish
        .iter()
        .map(|p| p.prefix)
        .collect();
    let own = plan
        .commands
        .iter()
        .find_map(|c| match c {
            Command::AddRoute(route) if route.prefix == host("192.168.1.3") => Some(route.nh),
            _ => None,
        })
        .unwrap();
    assert!(plan.commands.iter().any(
        |c| matches!(c, Command::AddRoute(route) if route.prefix == host("192.168.1.50") && route.nh == own)
    ));
    assert_eq!(published, vec![host("192.168.1.3"), host("192.168.1.50")]);

    // Without the pair, its route is removed and withdrawn.
    let plan = r.apply_config(&snapshot(vec![vm_port()]), &mut labels);
    assert!(plan.commands.iter().any(
        |c| matches!(c, Command::DeleteRoute { prefix, .. } if *prefix == host("192.168.1.50"))
    ));
    assert_eq!(plan.withdraw, vec![(VN.to_owned(), host("192.168.1.50"))]);
}

#[test]
fn an_unplugged_port_is_withdrawn_and_published_again_when_back() {
    let mut r = Reconciler::new(COMPUTE, encaps());
    let mut labels = Labels::default();
    let plan = r.apply_config(&snapshot(vec![vm_port()]), &mut labels);
    let vif = plan.attach[0].vif;
    assert_eq!(r.set_plugged(vif, true).publish.len(), 1);
    // A repeated report changes nothing.
    assert!(r.set_plugged(vif, true).is_empty());
    let down = r.set_plugged(vif, false);
    assert_eq!(down.withdraw, vec![(VN.to_owned(), host("192.168.1.3"))]);
    assert!(down.publish.is_empty());
    // A config update while unplugged publishes nothing.
    assert!(
        r.apply_config(&snapshot(vec![vm_port()]), &mut labels)
            .publish
            .is_empty()
    );
    let back = r.set_plugged(vif, true);
    assert_eq!(back.publish.len(), 1);
    assert_eq!(back.publish[0].attrs.label, 16, "same label after re-plug");
}

fn service(backends: &[(&str, u32)]) -> proto::Service {
    proto::Service {
        vip: "10.96.0.10".into(),
        protocol: 6,
        port: 80,
        backends: backends
            .iter()
            .map(|(a, p)| proto::Backend {
                address: (*a).into(),
                port: *p,
            })
            .collect(),
    }
}

#[test]
fn services_follow_the_snapshots_and_go_before_their_vrf() {
    let mut r = Reconciler::new(COMPUTE, encaps());
    let mut labels = Labels::default();
    let mut engine = weft_vrouter::Engine::default();
    let apply = |plan: &Plan, engine: &mut weft_vrouter::Engine| {
        for c in plan.commands.clone() {
            engine
                .apply(c.clone())
                .unwrap_or_else(|e| panic!("{c:?}: {e}"));
        }
    };
    let with = |services: Vec<proto::Service>| {
        let mut config = snapshot(vec![vm_port()]);
        config.vrfs[0].services = services;
        config
    };
    let plan = r.apply_config(&with(vec![service(&[("192.168.1.3", 8080)])]), &mut labels);
    apply(&plan, &mut engine);
    let set: Vec<&Command> = plan
        .commands
        .iter()
        .filter(|c| matches!(c, Command::SetService(_)))
        .collect();
    assert_eq!(set.len(), 1, "{:?}", plan.commands);
    let (key, backends) = engine.services().next().unwrap();
    assert_eq!(key.vrf, VrfId(5));
    assert_eq!(backends.len(), 1);

    // The same snapshot changes nothing; new backends replace the old.
    let plan = r.apply_config(&with(vec![service(&[("192.168.1.3", 8080)])]), &mut labels);
    assert!(plan.commands.is_empty(), "{:?}", plan.commands);
    let plan = r.apply_config(
        &with(vec![service(&[
            ("192.168.1.3", 8080),
            ("192.168.1.4", 8080),
        ])]),
        &mut labels,
    );
    apply(&plan, &mut engine);
    assert_eq!(engine.services().next().unwrap().1.len(), 2);

    // A bad entry is reported, not programmed.
    let mut bad = service(&[]);
    bad.vip = "not-an-address".into();
    let plan = r.apply_config(&with(vec![bad]), &mut labels);
    assert!(
        plan.problems.iter().any(|p| p.contains("bad address")),
        "{:?}",
        plan.problems
    );
    apply(&plan, &mut engine);
    assert_eq!(engine.services().count(), 0);

    // Gone with the VRF: the service goes first, so the engine accepts both.
    let plan = r.apply_config(&with(vec![service(&[("192.168.1.3", 8080)])]), &mut labels);
    apply(&plan, &mut engine);
    let mut empty = snapshot(vec![]);
    empty.vrfs.clear();
    let plan = r.apply_config(&empty, &mut labels);
    apply(&plan, &mut engine);
    assert_eq!(engine.services().count(), 0);
}

/// The network's MTU, as the port carries it, goes to the vif's DHCP
/// server, and a change reaches the vif again; 0 leaves it to the vRouter.
#[test]
fn the_network_mtu_reaches_the_dhcp_server() {
    let mut r = Reconciler::new(COMPUTE, encaps());
    let mut labels = Labels::default();
    let dhcp_mtu = |plan: &Plan| {
        plan.commands.iter().find_map(|c| match c {
            Command::AddVif(v) => Some(v.dhcp.as_ref().unwrap().mtu),
            _ => None,
        })
    };
    let plan = r.apply_config(&snapshot(vec![vm_port()]), &mut labels);
    assert_eq!(dhcp_mtu(&plan), Some(None));
    let mut port = vm_port();
    port.mtu = 1400;
    let plan = r.apply_config(&snapshot(vec![port.clone()]), &mut labels);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    assert_eq!(dhcp_mtu(&plan), Some(Some(1400)));
    let plan = r.apply_config(&snapshot(vec![port]), &mut labels);
    assert_eq!(dhcp_mtu(&plan), None, "unchanged: nothing to do");
}
