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

/// A node with the host interface: the reconciler, its labels, and an
/// engine each plan is applied to.
struct Node {
    r: Reconciler,
    labels: Labels,
    engine: weft_vrouter::Engine,
}

impl Node {
    fn new() -> Self {
        Node {
            r: Reconciler::new(WORKER, vec![proto::Encapsulation::MplsOverUdp]).with_host("vhost0"),
            labels: Labels::default(),
            engine: weft_vrouter::Engine::default(),
        }
    }

    /// Applies a snapshot of `ports` and carries out its plan.
    fn configure(&mut self, ports: Vec<proto::Port>, fabric_snat: bool) -> Plan {
        self.configure_with(&snapshot(ports, fabric_snat))
    }

    fn configure_with(&mut self, config: &NodeConfig) -> Plan {
        let plan = self.r.apply_config(config, &mut self.labels);
        for c in plan.commands.clone() {
            self.engine
                .apply(c.clone())
                .unwrap_or_else(|e| panic!("{c:?}: {e}"));
        }
        plan
    }

    /// The vif the route for `p` in `vrf` leaves by; `None`: no route.
    fn route_oif(&self, vrf: VrfId, p: &str) -> Option<Option<VifId>> {
        let route = self.engine.route_get(vrf, prefix(p)).unwrap()?;
        Some(self.engine.nexthop(route.nh).unwrap().oif)
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
    let mut node = Node::new();
    let plan = node.configure(vec![pod("aaaa1", "10.32.0.4")], false);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);

    // The host vif, attached like a port but as the host's own tap.
    let host = node.engine.vif(HOST_VIF).unwrap();
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
    let pod_vif = node.r.port_vif("aaaa1").unwrap();
    assert_eq!(
        node.route_oif(HOST_VRF, "10.32.0.4/32"),
        Some(Some(pod_vif))
    );
    assert_eq!(
        node.route_oif(VrfId(7), "192.168.200.14/32"),
        Some(Some(HOST_VIF))
    );
    assert_eq!(node.route_oif(VrfId(7), "0.0.0.0/0"), None);

    assert_eq!(plan.kernel.add_routes, vec![Ipv4Addr::new(10, 32, 0, 4)]);
    assert!(plan.kernel.delete_routes.is_empty());
    assert_eq!(plan.kernel.snat, None);

    // Published: the pod's own address only.
    let mut published: Vec<_> = [pod_vif, HOST_VIF]
        .into_iter()
        .flat_map(|vif| node.r.set_plugged(vif, true).publish)
        .map(|p| (p.vrf, p.prefix))
        .collect();
    published.sort();
    assert_eq!(published, vec![(VN.to_owned(), prefix("10.32.0.4/32"))]);

    // A second pod: one more kernel route; the first is not told again.
    let plan = node.configure(
        vec![pod("aaaa1", "10.32.0.4"), pod("bbbb2", "10.32.0.5")],
        false,
    );
    assert_eq!(plan.kernel.add_routes, vec![Ipv4Addr::new(10, 32, 0, 5)]);

    // The first pod goes: its routes (host VRF and kernel) go with it.
    let plan = node.configure(vec![pod("bbbb2", "10.32.0.5")], false);
    assert_eq!(plan.kernel.delete_routes, vec![Ipv4Addr::new(10, 32, 0, 4)]);
    assert!(plan.kernel.add_routes.is_empty());
    assert_eq!(node.route_oif(HOST_VRF, "10.32.0.4/32"), None);

    // The last pod goes: the node's route leaves the pods' VRF.
    node.configure(vec![], false);
    assert_eq!(node.route_oif(VrfId(7), "192.168.200.14/32"), None);
    assert_eq!(node.engine.vifs().len(), 1, "only the host vif stays");
    assert!(node.configure(vec![], false).is_empty());
}

#[test]
fn fabric_snat_adds_a_default_route_and_masquerades_the_vns_v4_subnets() {
    let mut node = Node::new();
    let plan = node.configure(vec![pod("aaaa1", "10.32.0.4")], true);
    assert_eq!(node.route_oif(VrfId(7), "0.0.0.0/0"), Some(Some(HOST_VIF)));
    assert_eq!(plan.kernel.snat, Some(vec![prefix("10.32.0.0/24")]));
    assert!(!plan.publish.iter().any(|p| p.prefix == prefix("0.0.0.0/0")));

    // A remote default route never replaces the local one.
    let remote = node.r.route_added(RemoteRoute {
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
        node.configure(vec![pod("aaaa1", "10.32.0.4")], true)
            .is_empty()
    );
    let plan = node.configure(vec![pod("aaaa1", "10.32.0.4")], false);
    // The remote path takes over.
    let via = node.route_oif(VrfId(7), "0.0.0.0/0");
    assert!(via.is_some() && via != Some(Some(HOST_VIF)), "{via:?}");
    assert_eq!(plan.kernel.snat, Some(vec![]));
}

#[test]
fn a_pod_moving_to_another_vrf_keeps_its_host_route_valid() {
    let mut node = Node::new();
    node.configure(vec![pod("aaaa1", "10.32.0.4")], false);
    let mut moved = snapshot(vec![], false);
    let mut p = pod("aaaa1", "10.32.0.4");
    p.vn_fq_name = "default-domain:k8s-default:other".into();
    p.vn_id = 8;
    p.vni = 8;
    moved.ports.push(p);
    node.configure_with(&moved);
    let pod_vif = node.r.port_vif("aaaa1").unwrap();
    assert_eq!(
        node.route_oif(HOST_VRF, "10.32.0.4/32"),
        Some(Some(pod_vif))
    );
    assert!(node.route_oif(VrfId(8), "192.168.200.14/32").is_some());
}

#[test]
fn the_whole_kernel_state_is_there_for_a_new_host_tap() {
    let mut node = Node::new();
    node.configure(
        vec![pod("aaaa1", "10.32.0.4"), pod("bbbb2", "10.32.0.5")],
        true,
    );
    let state = node.r.kernel_state().unwrap();
    assert_eq!(
        state.add_routes,
        vec![Ipv4Addr::new(10, 32, 0, 4), Ipv4Addr::new(10, 32, 0, 5)]
    );
    assert_eq!(state.snat, Some(vec![prefix("10.32.0.0/24")]));
    assert!(Reconciler::new(WORKER, vec![]).kernel_state().is_none());
}
