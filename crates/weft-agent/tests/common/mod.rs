//! The reference scenario's desired state and a fake config source, shared
//! by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use weft_control::proto::{self, acl_rule::Remote};
use weft_control::server::ConfigSource;

pub const TOKEN: &str = "cluster-secret";
pub const VN: &str = "default-domain:k8s-contrail:seamless";
pub const VN_ID: u32 = 5;
pub const COMPUTE: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 13);
pub const WORKER: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 14);
pub const VM_IP: [u8; 4] = [192, 168, 1, 3];
pub const POD_IP: [u8; 4] = [192, 168, 1, 4];
pub const VM_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0, 0, 3];
pub const POD_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 4];
pub const VM_SG: u32 = 7;
pub const POD_SG: u32 = 8;

pub struct FakeSource {
    configs: Mutex<HashMap<String, proto::NodeConfig>>,
    changes: watch::Sender<u64>,
    active: Mutex<BTreeSet<(String, String)>>,
}

impl FakeSource {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeSource {
            configs: Mutex::new(HashMap::new()),
            changes: watch::channel(1).0,
            active: Mutex::new(BTreeSet::new()),
        })
    }

    /// Ports reported ACTIVE, as (node, port id).
    pub fn active(&self) -> BTreeSet<(String, String)> {
        self.active.lock().expect("lock").clone()
    }

    pub fn set(&self, node: &str, config: proto::NodeConfig) {
        self.configs
            .lock()
            .expect("lock")
            .insert(node.to_owned(), config);
        self.changes.send_modify(|g| *g += 1);
    }
}

impl ConfigSource for FakeSource {
    fn node_config(&self, node: &str) -> proto::NodeConfig {
        let configs = self.configs.lock().expect("lock");
        configs.get(node).cloned().unwrap_or_default()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn nodes(&self) -> Vec<String> {
        self.configs.lock().expect("lock").keys().cloned().collect()
    }

    fn port_status(&self, node: &str, port_id: &str, state: proto::PortState) {
        let mut active = self.active.lock().expect("lock");
        let key = (node.to_owned(), port_id.to_owned());
        if state == proto::PortState::Active {
            active.insert(key);
        } else {
            active.remove(&key);
        }
    }
}

pub fn rule(direction: proto::Direction, remote: Remote) -> proto::AclRule {
    proto::AclRule {
        direction: direction as i32,
        ethertype: proto::Ethertype::Ipv4 as i32,
        protocol: None,
        port_min: 0,
        port_max: 65535,
        remote: Some(remote),
    }
}

/// Project `default`'s group admits only its own members; the pod's group
/// (k8s) admits everything.
pub fn acls(vm_open: bool) -> Vec<proto::SecurityGroupAcl> {
    let any = || Remote::Any(proto::Any {});
    let mut vm = vec![
        rule(proto::Direction::Ingress, Remote::SgId(VM_SG)),
        rule(proto::Direction::Egress, any()),
    ];
    if vm_open {
        vm.push(rule(
            proto::Direction::Ingress,
            Remote::Prefix("0.0.0.0/0".into()),
        ));
    }
    vec![
        proto::SecurityGroupAcl {
            sg_id: VM_SG,
            rules: vm,
            stateless: false,
        },
        proto::SecurityGroupAcl {
            sg_id: POD_SG,
            rules: vec![
                rule(proto::Direction::Ingress, any()),
                rule(proto::Direction::Egress, any()),
            ],
            stateless: false,
        },
    ]
}

pub fn node_config(port: proto::Port, vm_open: bool) -> proto::NodeConfig {
    proto::NodeConfig {
        generation: 1,
        ports: vec![port],
        vrfs: vec![proto::Vrf {
            name: VN.into(),
            vn_id: VN_ID,
            vni: VN_ID,
            route_targets: vec![format!("target:64512:{}", 8_000_000 + VN_ID)],
            services: vec![],
            ..proto::Vrf::default()
        }],
        acls: acls(vm_open),
        encapsulation_priority: vec![
            proto::Encapsulation::MplsOverUdp as i32,
            proto::Encapsulation::MplsOverGre as i32,
            proto::Encapsulation::Vxlan as i32,
        ],
    }
}

pub fn port(
    id: &str,
    ip: [u8; 4],
    mac: [u8; 6],
    sg: u32,
    vif_type: proto::VifType,
    interface: &str,
) -> proto::Port {
    proto::Port {
        port_id: id.into(),
        vn_fq_name: VN.into(),
        vn_id: VN_ID,
        vni: VN_ID,
        mac: weft_types::MacAddr(mac).to_string(),
        fixed_ips: vec![proto::FixedIp {
            address: Ipv4Addr::from(ip).to_string(),
            prefix_len: 24,
            gateway: "192.168.1.1".into(),
            dns_service: "192.168.1.2".into(),
            host_routes: vec![],
            dhcp_enabled: true,
        }],
        sg_ids: vec![sg],
        port_security: true,
        allowed_address_pairs: vec![],
        vif_type: vif_type as i32,
        interface_name: interface.into(),
        admin_up: true,
        mtu: 0,
    }
}

pub fn vm_port() -> proto::Port {
    let id = "3f2a9c1e-7b4d-4e0a-9a55-0c1d2e3f4a5b";
    let tap = weft_control::tap_interface_name(id);
    port(id, VM_IP, VM_MAC, VM_SG, proto::VifType::Tap, &tap)
}

pub fn pod_port() -> proto::Port {
    let id = "9d8c7b6a-1111-4222-8333-444455556666";
    port(
        id,
        POD_IP,
        POD_MAC,
        POD_SG,
        proto::VifType::Veth,
        "veth-cont",
    )
}
