//! The model driven through commands, as the server drives it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Counter, World, ip};
use weft_model::*;

const SEAMLESS: &str = "default-domain:k8s-contrail:seamless";

#[test]
fn reference_scenario_vm_gets_3_and_pod_gets_4() {
    let mut w = World::new();
    w.project("k8s-contrail");
    let admin = w.project("admin");
    let pod_project = w.project("k8s-seamless");
    let Object::VirtualNetwork(vn) = w.network(SEAMLESS, &["192.168.1.0/24"]).unwrap() else {
        panic!()
    };
    assert_eq!(vn.vn_id, 1);
    assert_eq!(vn.vxlan_id.get(), 1);
    assert_eq!(vn.route_targets[0].to_string(), "target:64512:8000001");

    let subnet = w.model.subnets_of(vn.meta.id)[0].clone();
    assert_eq!(subnet.gateway_ip, Some(ip("192.168.1.1")));
    assert_eq!(subnet.dns_service_ip, Some(ip("192.168.1.2")));

    // A VM of project admin on a network of project k8s-contrail.
    let vm = w
        .port(SEAMLESS, serde_json::json!({"project": "admin", "device_owner": "compute:nova", "binding_host_id": "os-compute"}))
        .unwrap();
    assert_eq!(vm.fixed_ips[0].ip_address, ip("192.168.1.3"));
    assert_eq!(vm.project_id, admin);
    assert_eq!(vm.vif_type, VifType::Tap);
    assert_eq!(vm.mac_address.octets()[..3], [0xfa, 0x16, 0x3e]);
    // It is a member of its own project's default group.
    assert_eq!(
        vm.security_groups,
        vec![w.model.default_group_of(admin).unwrap()]
    );

    let pod = w
        .port(SEAMLESS, serde_json::json!({"project": "k8s-seamless", "binding_host_id": "k8s-worker", "vif_type": "veth"}))
        .unwrap();
    assert_eq!(pod.fixed_ips[0].ip_address, ip("192.168.1.4"));
    assert_eq!(
        pod.security_groups,
        vec![w.model.default_group_of(pod_project).unwrap()]
    );
}

#[test]
fn default_group_admits_only_its_members_and_allows_egress() {
    let mut w = World::new();
    let p = w.project("admin");
    let group = w.model.default_group_of(p).unwrap();
    let rules: Vec<_> = w.model.rules_of(group).cloned().collect();
    assert_eq!(rules.len(), 4);
    for rule in &rules {
        assert_eq!(rule.protocol, None);
        assert_eq!(rule.remote_ip_prefix, None);
        match rule.direction {
            Direction::Ingress => assert_eq!(rule.remote_group_id, Some(group)),
            Direction::Egress => assert_eq!(rule.remote_group_id, None),
        }
    }
    let families: Vec<_> = rules.iter().map(|r| (r.direction, r.ethertype)).collect();
    for want in [
        (Direction::Ingress, Ethertype::IPv4),
        (Direction::Ingress, Ethertype::IPv6),
        (Direction::Egress, Ethertype::IPv4),
        (Direction::Egress, Ethertype::IPv6),
    ] {
        assert!(families.contains(&want), "missing {want:?}");
    }
}

#[test]
fn bad_input_names_field_and_rule() {
    let mut w = World::new();
    w.project("p");
    let err = w
        .network("default-domain:missing:n", &["10.0.0.0/24"])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "fq_name: project 'default-domain:missing' does not exist"
    );
    let err = w.network("default-domain:p", &["10.0.0.0/24"]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("fq_name: 'default-domain:p' has 2 components"),
        "{err}"
    );
    let err = w
        .network("default-domain:p:n", &["10.0.0.0/24", "10.0.0.128/25"])
        .unwrap_err();
    assert_eq!(err.field(), Some("subnets[1].cidr"));
    assert!(
        err.to_string().contains("overlaps subnet 10.0.0.0/24"),
        "{err}"
    );
    // The failed create left no network behind.
    assert_eq!(w.model.networks().count(), 0);

    w.network("default-domain:p:n", &["10.0.0.0/24"]).unwrap();
    let err = w
        .network("default-domain:p:n", &["10.1.0.0/24"])
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict);

    let err = w
        .port("default-domain:p:nope", serde_json::json!({}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "network: virtual-network 'default-domain:p:nope' does not exist"
    );
    let err = w
        .port(
            "default-domain:p:n",
            serde_json::json!({"fixed_ips": [{"ip_address": "10.9.0.5"}]}),
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("fixed_ips[0].ip_address"));
    let err = w
        .port(
            "default-domain:p:n",
            serde_json::json!({"fixed_ips": [{"ip_address": "10.0.0.1"}]}),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "fixed_ips[0].ip_address: address 10.0.0.1 is already in use in 10.0.0.0/24"
    );
    assert_eq!(err.class(), ErrorClass::Conflict);
}

#[test]
fn requested_addresses_are_honoured_and_never_given_twice() {
    let mut w = World::new();
    w.project("p");
    w.network("default-domain:p:n", &["10.0.0.0/24"]).unwrap();
    let a = w
        .port(
            "default-domain:p:n",
            serde_json::json!({"fixed_ips": [{"ip_address": "10.0.0.3"}]}),
        )
        .unwrap();
    assert_eq!(a.fixed_ips[0].ip_address, ip("10.0.0.3"));
    let b = w.port("default-domain:p:n", serde_json::json!({})).unwrap();
    assert_eq!(b.fixed_ips[0].ip_address, ip("10.0.0.4"));
    let err = w
        .port(
            "default-domain:p:n",
            serde_json::json!({"fixed_ips": [{"ip_address": "10.0.0.4"}]}),
        )
        .unwrap_err();
    assert_eq!(err.code(), "AddressInUse");
    // Deleting releases; the lowest free comes back first.
    w.run(Command::DeletePort(Ref::Id(a.meta.id))).unwrap();
    let c = w.port("default-domain:p:n", serde_json::json!({})).unwrap();
    assert_eq!(c.fixed_ips[0].ip_address, ip("10.0.0.3"));
}

#[test]
fn allocation_pools_and_exhaustion() {
    let mut w = World::new();
    w.project("p");
    let req: CreateNetwork = serde_json::from_value(serde_json::json!({
        "fq_name": "default-domain:p:small",
        "subnets": [{"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.100", "end": "10.0.0.101"}]}],
    }))
    .unwrap();
    w.run(Command::CreateNetwork(req)).unwrap();
    let n = "default-domain:p:small";
    assert_eq!(
        w.port(n, serde_json::json!({})).unwrap().fixed_ips[0].ip_address,
        ip("10.0.0.100")
    );
    assert_eq!(
        w.port(n, serde_json::json!({})).unwrap().fixed_ips[0].ip_address,
        ip("10.0.0.101")
    );
    let err = w.port(n, serde_json::json!({})).unwrap_err();
    assert_eq!(err.code(), "AddressesExhausted");
    assert_eq!(
        err.to_string(),
        "fixed_ips: no free address left in the allocation pools of 10.0.0.0/24"
    );
    // An address outside the pools can still be asked for explicitly.
    let p = w
        .port(
            n,
            serde_json::json!({"fixed_ips": [{"ip_address": "10.0.0.7"}]}),
        )
        .unwrap();
    assert_eq!(p.fixed_ips[0].ip_address, ip("10.0.0.7"));
}

#[test]
fn dual_stack_and_ipv6_slash_64() {
    let mut w = World::new();
    w.project("p");
    w.network("default-domain:p:ds", &["10.0.0.0/24", "fd00:1::/64"])
        .unwrap();
    let p = w
        .port("default-domain:p:ds", serde_json::json!({}))
        .unwrap();
    let got: Vec<_> = p.fixed_ips.iter().map(|f| f.ip_address).collect();
    assert_eq!(got, vec![ip("10.0.0.3"), ip("fd00:1::3")]);
}

#[test]
fn port_in_use_blocks_subnet_network_and_group_deletion() {
    let mut w = World::new();
    let p = w.project("p");
    w.network("default-domain:p:n", &["10.0.0.0/24"]).unwrap();
    let sg = w
        .run(Command::CreateSecurityGroup(CreateSecurityGroup {
            fq_name: "default-domain:p:web".parse().unwrap(),
            id: None,
            description: String::new(),
            tags: Vec::new(),
            stateful: None,
        }))
        .unwrap();
    let port = w
        .port(
            "default-domain:p:n",
            serde_json::json!({"security_groups": ["default-domain:p:web"]}),
        )
        .unwrap();
    assert_eq!(port.security_groups, vec![sg.id()]);
    let subnet = w.model.subnets().next().unwrap().meta.id;
    for cmd in [
        Command::DeleteSubnet(Ref::Id(subnet)),
        Command::DeleteNetwork("default-domain:p:n".parse().unwrap()),
        Command::DeleteSecurityGroup(Ref::Id(sg.id())),
        Command::DeleteProject(Ref::Id(p)),
    ] {
        let err = w.run(cmd).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    }
    w.run(Command::DeletePort(Ref::Id(port.meta.id))).unwrap();
    w.run(Command::DeleteSecurityGroup(Ref::Id(sg.id())))
        .unwrap();
    w.run(Command::DeleteNetwork(
        "default-domain:p:n".parse().unwrap(),
    ))
    .unwrap();
    assert_eq!(w.model.subnets().count(), 0);
    w.run(Command::DeleteProject(Ref::Id(p))).unwrap();
    assert_eq!(w.model.security_groups().count(), 0);
    assert_eq!(w.model.security_group_rules().count(), 0);
}

#[test]
fn stateless_groups_change_only_unused_and_never_mix_on_a_port() {
    let mut w = World::new();
    w.project("p");
    w.network("default-domain:p:n", &["10.0.0.0/24"]).unwrap();
    let group = |w: &mut World, name: &str, stateful: Option<bool>| {
        let Object::SecurityGroup(g) = w
            .run(Command::CreateSecurityGroup(CreateSecurityGroup {
                fq_name: format!("default-domain:p:{name}").parse().unwrap(),
                id: None,
                description: String::new(),
                tags: Vec::new(),
                stateful,
            }))
            .unwrap()
        else {
            panic!()
        };
        g
    };
    let tracked = group(&mut w, "tracked", None);
    assert!(
        tracked.stateful,
        "a group is stateful unless told otherwise"
    );
    let raw = group(&mut w, "raw", Some(false));
    assert!(!raw.stateful);

    // Stored groups written before the attribute existed read as stateful.
    let mut stored = serde_json::to_value(&raw).unwrap();
    stored.as_object_mut().unwrap().remove("stateful");
    let old: SecurityGroup = serde_json::from_value(stored).unwrap();
    assert!(old.stateful);

    let mix = w.port(
        "default-domain:p:n",
        serde_json::json!({"security_groups": ["default-domain:p:tracked", "default-domain:p:raw"]}),
    );
    let err = mix.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    assert_eq!(err.field(), Some("security_groups"));
    assert!(
        err.to_string().contains("both stateful and stateless"),
        "{err}"
    );

    let port = w
        .port(
            "default-domain:p:n",
            serde_json::json!({"security_groups": ["default-domain:p:raw"]}),
        )
        .unwrap();
    // Adding a stateful group to the stateless port is the same mix.
    let err = w
        .run(Command::UpdatePort(
            Ref::Id(port.meta.id),
            serde_json::from_value(serde_json::json!({
                "security_groups": ["default-domain:p:raw", "default-domain:p:tracked"]
            }))
            .unwrap(),
        ))
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");

    let flip = |stateful| {
        Command::UpdateSecurityGroup(
            Ref::Id(raw.meta.id),
            UpdateSecurityGroup {
                stateful: Some(stateful),
                ..UpdateSecurityGroup::default()
            },
        )
    };
    // In use by the port: the statefulness is fixed, but setting it to
    // what it already is, or changing other attributes, is fine.
    let err = w.run(flip(true)).unwrap_err();
    assert!(matches!(err, ModelError::InUse { .. }), "{err}");
    assert!(err.to_string().contains(&port.meta.id.to_string()), "{err}");
    w.run(flip(false)).unwrap();
    assert!(
        !w.model
            .security_groups()
            .find(|g| g.meta.id == raw.meta.id)
            .unwrap()
            .stateful
    );

    w.run(Command::DeletePort(Ref::Id(port.meta.id))).unwrap();
    let Object::SecurityGroup(g) = w.run(flip(true)).unwrap() else {
        panic!()
    };
    assert!(g.stateful);
    // Now both are stateful and may share a port.
    w.port(
        "default-domain:p:n",
        serde_json::json!({"security_groups": ["default-domain:p:tracked", "default-domain:p:raw"]}),
    )
    .unwrap();
}

#[test]
fn rules_follow_neutron() {
    let mut w = World::new();
    w.project("p");
    let rule = |w: &mut World, body: serde_json::Value| {
        let mut b = serde_json::json!({"security_group": "default-domain:p:default"});
        b.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        w.run(Command::CreateSecurityGroupRule(
            serde_json::from_value(b).unwrap(),
        ))
    };
    let ok = rule(&mut w, serde_json::json!({"direction": "ingress", "protocol": "TCP", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.1.2.3/16"})).unwrap();
    let Object::SecurityGroupRule(r) = ok else {
        panic!()
    };
    assert_eq!(r.protocol.as_deref(), Some("tcp"));
    assert_eq!(r.remote_ip_prefix.unwrap().to_string(), "10.1.0.0/16");
    // The same rule with the protocol as a number is a duplicate.
    let dup = rule(&mut w, serde_json::json!({"direction": "ingress", "protocol": "6", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.1.0.0/16"})).unwrap_err();
    assert_eq!(dup.class(), ErrorClass::Conflict);
    for (body, field) in [
        (
            serde_json::json!({"direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 22}),
            "port_range_min",
        ),
        (
            serde_json::json!({"direction": "ingress", "protocol": "bogus"}),
            "protocol",
        ),
        (
            serde_json::json!({"direction": "ingress", "protocol": "gre", "port_range_min": 1}),
            "port_range_min",
        ),
        (
            serde_json::json!({"direction": "ingress", "ethertype": "IPv4", "remote_ip_prefix": "fd00::/8"}),
            "remote_ip_prefix",
        ),
        (
            serde_json::json!({"direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group": "default-domain:p:default"}),
            "remote_group",
        ),
        (
            serde_json::json!({"direction": "ingress", "protocol": "icmp", "port_range_min": 300}),
            "port_range_min",
        ),
    ] {
        let err = rule(&mut w, body.clone()).unwrap_err();
        assert_eq!(err.field(), Some(field), "{body}: {err}");
    }
    let v6 = rule(
        &mut w,
        serde_json::json!({"direction": "ingress", "remote_ip_prefix": "::/0"}),
    )
    .unwrap();
    let Object::SecurityGroupRule(v6) = v6 else {
        panic!()
    };
    assert_eq!(v6.ethertype, Ethertype::IPv6);
}

#[test]
fn port_security_off_means_no_groups() {
    let mut w = World::new();
    w.project("p");
    w.network("default-domain:p:n", &["10.0.0.0/24"]).unwrap();
    let p = w
        .port(
            "default-domain:p:n",
            serde_json::json!({"port_security_enabled": false}),
        )
        .unwrap();
    assert!(p.security_groups.is_empty());
    let err = w
        .port("default-domain:p:n", serde_json::json!({"port_security_enabled": false, "security_groups": ["default-domain:p:default"]}))
        .unwrap_err();
    assert_eq!(err.field(), Some("port_security_enabled"));
    let err = w
        .port(
            "default-domain:p:n",
            serde_json::json!({"mac_address": p.mac_address.to_string()}),
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("mac_address"));
}

#[test]
fn update_port_addresses_keeps_held_and_releases_dropped() {
    let mut w = World::new();
    w.project("p");
    w.network("default-domain:p:n", &["10.0.0.0/24"]).unwrap();
    let port = w.port("default-domain:p:n", serde_json::json!({})).unwrap();
    let subnet = port.fixed_ips[0].subnet_id;
    let upd: UpdatePort = serde_json::from_value(serde_json::json!({
        "fixed_ips": [{"ip_address": "10.0.0.3"}, {"subnet_id": subnet}]
    }))
    .unwrap();
    let Object::Port(updated) = w
        .run(Command::UpdatePort(Ref::Id(port.meta.id), upd))
        .unwrap()
    else {
        panic!()
    };
    let got: Vec<_> = updated.fixed_ips.iter().map(|f| f.ip_address).collect();
    assert_eq!(got, vec![ip("10.0.0.3"), ip("10.0.0.4")]);
    assert_eq!(updated.meta.revision_number, 2);
    let upd: UpdatePort =
        serde_json::from_value(serde_json::json!({"fixed_ips": [{"ip_address": "10.0.0.4"}]}))
            .unwrap();
    w.run(Command::UpdatePort(Ref::Id(port.meta.id), upd))
        .unwrap();
    assert!(!w.model.allocator(subnet).unwrap().is_held(ip("10.0.0.3")));
    let other = w.port("default-domain:p:n", serde_json::json!({})).unwrap();
    assert_eq!(other.fixed_ips[0].ip_address, ip("10.0.0.3"));
}

#[test]
fn asn_change_moves_automatic_route_targets_only() {
    let mut w = World::new();
    w.project("p");
    w.network("default-domain:p:auto", &[]).unwrap();
    let req: CreateNetwork = serde_json::from_value(serde_json::json!({
        "fq_name": "default-domain:p:fixed", "route_targets": ["target:65000:7"], "vxlan_id": 5001
    }))
    .unwrap();
    w.run(Command::CreateNetwork(req)).unwrap();
    w.run(Command::UpdateGlobalConfig(UpdateGlobalConfig {
        asn: Some(weft_types::Asn(65100)),
        encapsulation_priority: None,
    }))
    .unwrap();
    let targets: Vec<String> = w
        .model
        .networks()
        .map(|n| n.route_targets[0].to_string())
        .collect();
    assert!(
        targets.contains(&"target:65100:8000001".to_string()),
        "{targets:?}"
    );
    assert!(
        targets.contains(&"target:65000:7".to_string()),
        "{targets:?}"
    );
    let err = w
        .network("default-domain:p:x", &[])
        .map(|_| ())
        .and_then(|_| {
            let req: CreateNetwork = serde_json::from_value(
                serde_json::json!({"fq_name": "default-domain:p:y", "vxlan_id": 5001}),
            )
            .unwrap();
            w.run(Command::CreateNetwork(req)).map(|_| ())
        });
    assert_eq!(err.unwrap_err().field(), Some("vxlan_id"));
}

#[test]
fn model_rebuilt_from_its_changes_is_the_same() {
    let mut w = World::new();
    w.project("k8s-contrail");
    w.project("admin");
    w.network(SEAMLESS, &["192.168.1.0/24", "fd00::/64"])
        .unwrap();
    let mut ports = Vec::new();
    for i in 0..20 {
        ports.push(
            w.port(SEAMLESS, serde_json::json!({"name": format!("p{i}")}))
                .unwrap(),
        );
    }
    for p in ports.iter().step_by(3) {
        w.run(Command::DeletePort(Ref::Id(p.meta.id))).unwrap();
    }
    // Replay the final state of every object, as a store would hand it back.
    let mut last = std::collections::BTreeMap::new();
    for change in &w.log {
        match change {
            Change::Put(o) => {
                last.insert((o.kind(), o.id()), Some(o.clone()));
            }
            Change::Delete { kind, id } => {
                last.insert((*kind, *id), None);
            }
        }
    }
    let rebuilt = Model::load(last.into_values().flatten()).unwrap();
    for subnet in w.model.subnets() {
        assert_eq!(
            rebuilt.allocator(subnet.meta.id),
            w.model.allocator(subnet.meta.id)
        );
    }
    assert_eq!(rebuilt.ports().count(), w.model.ports().count());
    let mut w2 = World {
        model: rebuilt,
        entropy: Counter(10_000),
        log: Vec::new(),
    };
    let next = w2.port(SEAMLESS, serde_json::json!({})).unwrap();
    assert_eq!(next.fixed_ips[0].ip_address, ip("192.168.1.3"));
}

#[test]
fn absent_and_null_survive_a_round_trip_through_json() {
    // A client that serialises a request must not turn "absent" into "null".
    let req = CreateSubnet::with_cidr("10.0.0.0/24".parse().unwrap());
    let text = serde_json::to_string(&req).unwrap();
    let back: CreateSubnet = serde_json::from_str(&text).unwrap();
    assert_eq!(back.gateway_ip, None, "{text}");
    let mut no_gateway = req.clone();
    no_gateway.gateway_ip = Some(None);
    let text = serde_json::to_string(&no_gateway).unwrap();
    let back: CreateSubnet = serde_json::from_str(&text).unwrap();
    assert_eq!(back.gateway_ip, Some(None), "{text}");
    let unbind = UpdatePort {
        binding_host_id: Some(None),
        ..UpdatePort::default()
    };
    let back: UpdatePort = serde_json::from_str(&serde_json::to_string(&unbind).unwrap()).unwrap();
    assert_eq!(back.binding_host_id, Some(None));
    let keep = UpdatePort::default();
    let back: UpdatePort = serde_json::from_str(&serde_json::to_string(&keep).unwrap()).unwrap();
    assert_eq!(back.binding_host_id, None);
}

#[test]
fn domains_hold_projects_and_the_default_one_stays() {
    let mut w = World::new();
    let domain: CreateDomain =
        serde_json::from_value(serde_json::json!({"fq_name": "lab"})).unwrap();
    w.run(Command::CreateDomain(domain)).unwrap();
    w.project("lab:tenant");
    let err = w
        .run(Command::DeleteDomain("lab".parse().unwrap()))
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict);
    let err = w
        .run(Command::DeleteDomain("default-domain".parse().unwrap()))
        .unwrap_err();
    assert!(err.to_string().contains("default domain"), "{err}");
    let bad: CreateDomain = serde_json::from_value(serde_json::json!({"fq_name": "a:b"})).unwrap();
    assert_eq!(
        w.run(Command::CreateDomain(bad)).unwrap_err().field(),
        Some("fq_name")
    );
    w.run(Command::DeleteProject("lab:tenant".parse().unwrap()))
        .unwrap();
    w.run(Command::DeleteDomain("lab".parse().unwrap()))
        .unwrap();
    assert_eq!(w.model.domains().count(), 1);
}

#[test]
fn a_project_whose_group_has_foreign_members_is_not_deleted() {
    let mut w = World::new();
    w.project("p");
    let q = w.project("q");
    w.network("default-domain:p:n", &["10.0.0.0/24"]).unwrap();
    w.port(
        "default-domain:p:n",
        serde_json::json!({"security_groups": ["default-domain:q:default"]}),
    )
    .unwrap();
    let err = w.run(Command::DeleteProject(Ref::Id(q))).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    assert!(w.model.default_group_of(q).is_some());
}

#[test]
fn renames_cannot_smuggle_the_separator_into_a_name() {
    let mut w = World::new();
    w.project("p");
    w.network("default-domain:p:n", &[]).unwrap();
    let rename = UpdateNetwork {
        name: Some("a:b".into()),
        ..UpdateNetwork::default()
    };
    let err = w
        .run(Command::UpdateNetwork(
            "default-domain:p:n".parse().unwrap(),
            rename,
        ))
        .unwrap_err();
    assert_eq!(err.field(), Some("name"));
}

#[test]
fn fabric_snat_is_off_by_default_set_on_create_and_update_and_compiled() {
    let mut w = World::new();
    w.project("k8s-default");
    let Object::VirtualNetwork(vn) = w
        .network("default-domain:k8s-default:pods", &["10.32.0.0/24"])
        .unwrap()
    else {
        panic!()
    };
    assert!(!vn.fabric_snat);
    let req: CreateNetwork = serde_json::from_value(serde_json::json!({
        "fq_name": "default-domain:k8s-default:snat",
        "subnets": [{"cidr": "10.33.0.0/24"}],
        "fabric_snat": true,
    }))
    .unwrap();
    let Object::VirtualNetwork(snat) = w.run(Command::CreateNetwork(req)).unwrap() else {
        panic!()
    };
    assert!(snat.fabric_snat);

    let update = UpdateNetwork {
        fabric_snat: Some(true),
        ..UpdateNetwork::default()
    };
    let Object::VirtualNetwork(vn) = w
        .run(Command::UpdateNetwork(Ref::Id(vn.meta.id), update))
        .unwrap()
    else {
        panic!()
    };
    assert!(vn.fabric_snat);
    // An update that does not name it leaves it.
    let rename = UpdateNetwork {
        description: Some("pods".into()),
        ..UpdateNetwork::default()
    };
    let Object::VirtualNetwork(vn) = w
        .run(Command::UpdateNetwork(Ref::Id(vn.meta.id), rename))
        .unwrap()
    else {
        panic!()
    };
    assert!(vn.fabric_snat);
    let off = UpdateNetwork {
        fabric_snat: Some(false),
        ..UpdateNetwork::default()
    };
    w.run(Command::UpdateNetwork(Ref::Id(snat.meta.id), off))
        .unwrap();

    w.port(
        "default-domain:k8s-default:pods",
        serde_json::json!({"project": "k8s-default", "binding_host_id": "k8s-worker", "vif_type": "veth"}),
    )
    .unwrap();
    w.port(
        "default-domain:k8s-default:snat",
        serde_json::json!({"project": "k8s-default", "binding_host_id": "k8s-worker", "vif_type": "veth"}),
    )
    .unwrap();
    let desired = w.model.compile_node("k8s-worker");
    let snat_of = |name: &str| {
        desired
            .vrfs
            .values()
            .find(|v| v.fq_name.to_string() == name)
            .map(|v| (v.fabric_snat, v.subnets.clone()))
            .unwrap()
    };
    assert_eq!(
        snat_of("default-domain:k8s-default:pods"),
        (true, vec!["10.32.0.0/24".parse().unwrap()])
    );
    assert!(!snat_of("default-domain:k8s-default:snat").0);
}

/// RBAC policies: kept through a rebuild, refused twice, and not removable
/// while another project's port uses the group through them.
#[test]
fn rbac_policies_protect_the_ports_that_depend_on_them() {
    let mut w = World::new();
    w.project("k8s-contrail");
    let owner = w.project("owner");
    let user = w.project("user");
    w.network(SEAMLESS, &["192.168.1.0/24"]).unwrap();
    let group = w.model.default_group_of(owner).unwrap();
    let user_ref = w.model.orchestrator_id(user);
    let share = |target: &str| {
        Command::CreateRbacPolicy(CreateRbacPolicy {
            project: Ref::Id(owner),
            id: None,
            object_type: RbacObjectType::SecurityGroup,
            object_id: group,
            action: RbacAction::AccessAsShared,
            target_project: target.to_owned(),
        })
    };
    let Object::RbacPolicy(policy) = w.run(share(&user_ref)).unwrap() else {
        panic!()
    };
    assert!(w.model.shared_with(group, &user_ref));
    assert!(!w.model.shared_with(group, "someone-else"));
    assert!(matches!(
        w.run(share(&user_ref)),
        Err(ModelError::Conflict { .. })
    ));
    w.port(
        SEAMLESS,
        serde_json::json!({"project": "user", "security_groups": [group.to_string()]}),
    )
    .unwrap();
    let delete = Command::DeleteRbacPolicy(Ref::Id(policy.meta.id));
    assert!(matches!(
        w.run(delete.clone()),
        Err(ModelError::InUse {
            kind: Kind::RbacPolicy,
            ..
        })
    ));
    let retarget = |target: &str| {
        Command::UpdateRbacPolicy(
            Ref::Id(policy.meta.id),
            UpdateRbacPolicy {
                target_project: Some(target.to_owned()),
            },
        )
    };
    assert!(w.run(retarget("someone-else")).is_err());
    // '*' keeps the user covered; then the '*' itself is needed.
    w.run(retarget("*")).unwrap();
    assert!(w.run(delete.clone()).is_err());
    // A rebuilt model has the policy and the same answers.
    let rebuilt = Model::load(
        w.model
            .rbac_policies()
            .cloned()
            .map(Object::RbacPolicy)
            .chain(w.model.projects().cloned().map(Object::Project)),
    )
    .unwrap();
    assert_eq!(rebuilt.rbac_policies().count(), 1);
    // Another policy for the user lets the '*' go.
    w.run(share(&user_ref)).unwrap();
    w.run(delete).unwrap();
    assert!(w.model.shared_with(group, &user_ref));
}
