//! Two agents' control path, reconciler and engine against a real control
//! node over gRPC on 127.0.0.1, with an in-memory underlay instead of fds:
//! the reference scenario (VM 192.168.1.3 on os-compute, pod 192.168.1.4 on
//! k8s-worker, VN default-domain:k8s-contrail:seamless).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use weft_agent::agent::Controller;
use weft_agent::dataplane::{Dataplane, Transmit};
use weft_agent::io::NoPorts;
use weft_agent::{LabelStore, Reconciler};
use weft_control::agent::{AgentSession, AgentSettings, identity};
use weft_control::proto::{self, acl_rule::Remote};
use weft_control::server::{ConfigSource, ControlNode, ControlSettings};
use weft_types::Prefix;
use weft_vrouter::{
    Encapsulation, Engine, NhFlag, NhType, SgId, UnderlayKind, VROUTER_MAC, VifId, VrfId,
};

const TOKEN: &str = "cluster-secret";
const VN: &str = "default-domain:k8s-contrail:seamless";
const VN_ID: u32 = 5;
const COMPUTE: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 13);
const WORKER: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 14);
const VM_IP: [u8; 4] = [192, 168, 1, 3];
const POD_IP: [u8; 4] = [192, 168, 1, 4];
const VM_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0, 0, 3];
const POD_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 4];
const VM_SG: u32 = 7;
const POD_SG: u32 = 8;

struct FakeSource {
    configs: Mutex<HashMap<String, proto::NodeConfig>>,
    changes: watch::Sender<u64>,
}

impl FakeSource {
    fn set(&self, node: &str, config: proto::NodeConfig) {
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
}

fn rule(direction: proto::Direction, remote: Remote) -> proto::AclRule {
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
fn acls(vm_open: bool) -> Vec<proto::SecurityGroupAcl> {
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
        },
        proto::SecurityGroupAcl {
            sg_id: POD_SG,
            rules: vec![
                rule(proto::Direction::Ingress, any()),
                rule(proto::Direction::Egress, any()),
            ],
        },
    ]
}

fn node_config(port: proto::Port, vm_open: bool) -> proto::NodeConfig {
    proto::NodeConfig {
        generation: 1,
        ports: vec![port],
        vrfs: vec![proto::Vrf {
            name: VN.into(),
            vn_id: VN_ID,
            vni: VN_ID,
            route_targets: vec![format!("target:64512:{}", 8_000_000 + VN_ID)],
        }],
        acls: acls(vm_open),
        encapsulation_priority: vec![
            proto::Encapsulation::MplsOverUdp as i32,
            proto::Encapsulation::MplsOverGre as i32,
            proto::Encapsulation::Vxlan as i32,
        ],
    }
}

fn port(id: &str, ip: [u8; 4], mac: [u8; 6], sg: u32, vif_type: proto::VifType) -> proto::Port {
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
        interface_name: match vif_type {
            proto::VifType::Tap => weft_control::tap_interface_name(id),
            _ => "veth-cont".into(),
        },
        admin_up: true,
    }
}

fn vm_port() -> proto::Port {
    let id = "3f2a9c1e-7b4d-4e0a-9a55-0c1d2e3f4a5b";
    port(id, VM_IP, VM_MAC, VM_SG, proto::VifType::Tap)
}

fn pod_port() -> proto::Port {
    let id = "9d8c7b6a-1111-4222-8333-444455556666";
    port(id, POD_IP, POD_MAC, POD_SG, proto::VifType::Veth)
}

type Peers = Arc<Mutex<HashMap<Ipv4Addr, Dataplane>>>;

/// The underlay as a map of engines; vif output goes to the test.
struct MemTransmit {
    me: Ipv4Addr,
    peers: Peers,
    delivered: mpsc::UnboundedSender<(VifId, Vec<u8>)>,
}

impl Transmit for MemTransmit {
    fn to_vif(&mut self, vif: VifId, frame: &[u8]) {
        let _ = self.delivered.send((vif, frame.to_vec()));
    }

    fn to_underlay(&mut self, dst: Ipv4Addr, kind: UnderlayKind, payload: &[u8]) {
        let peer = self.peers.lock().expect("lock").get(&dst).cloned();
        if let Some(peer) = peer {
            peer.underlay_frame(self.me, kind.tunnel_kind(), payload.to_vec());
        }
    }
}

struct Node {
    dataplane: Dataplane,
    delivered: mpsc::UnboundedReceiver<(VifId, Vec<u8>)>,
    _session: Arc<AgentSession>,
    _state: tempfile::TempDir,
}

fn start_node(name: &str, ip: Ipv4Addr, server: &str, peers: &Peers) -> Result<Node> {
    let (tx, delivered) = mpsc::unbounded_channel();
    let transmit = MemTransmit {
        me: ip,
        peers: peers.clone(),
        delivered: tx,
    };
    let (dataplane, _task) =
        Dataplane::spawn(Engine::default(), transmit, Duration::from_millis(100));
    peers.lock().expect("lock").insert(ip, dataplane.clone());
    let ident = identity(name, ip);
    let encaps = ident.encapsulations.clone();
    let mut settings = AgentSettings::new(server, TOKEN, ident);
    settings.backoff_min = Duration::from_millis(20);
    let (session, events) = AgentSession::start(settings)?;
    let session = Arc::new(session);
    let state = tempfile::tempdir()?;
    let controller = Controller::new(
        Reconciler::new(ip, encaps),
        LabelStore::open(state.path())?,
        session.clone(),
        dataplane.clone(),
        NoPorts,
    );
    tokio::spawn(controller.run(events));
    Ok(Node {
        dataplane,
        delivered,
        _session: session,
        _state: state,
    })
}

fn host(ip: [u8; 4]) -> Prefix {
    Prefix::host(Ipv4Addr::from(ip).into())
}

/// Polls `node` until `f` returns `Some`, for up to 10 s.
async fn eventually<T, F>(node: &Node, what: &str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: Fn(&Engine) -> Option<T> + Send + Sync + Clone + 'static,
{
    for _ in 0..200 {
        if let Some(found) = node.dataplane.query(f.clone()).await.flatten() {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("timed out waiting for {what}")
}

fn echo(src_mac: [u8; 6], src: [u8; 4], dst: [u8; 4], reply: bool) -> Vec<u8> {
    let builder =
        etherparse::PacketBuilder::ethernet2(src_mac, VROUTER_MAC.octets()).ipv4(src, dst, 64);
    let builder = if reply {
        builder.icmpv4_echo_reply(7, 1)
    } else {
        builder.icmpv4_echo_request(7, 1)
    };
    let payload = b"weft ping";
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    let _ = builder.write(&mut frame, payload);
    frame
}

/// The first frame delivered within `wait` that is an ICMP echo from `src`
/// to `dst`, with the vif it went to.
async fn delivered_echo(
    node: &mut Node,
    src: [u8; 4],
    dst: [u8; 4],
    wait: Duration,
) -> Option<VifId> {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some((vif, frame))) =
        tokio::time::timeout_at(deadline, node.delivered.recv()).await
    {
        let ip = frame.get(14..34)?;
        if ip[9] == 1 && ip[12..16] == src && ip[16..20] == dst {
            return Some(vif);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_learn_each_others_workload_and_sgs_gate_the_ping() -> Result<()> {
    let source = Arc::new(FakeSource {
        configs: Mutex::new(HashMap::new()),
        changes: watch::channel(1).0,
    });
    source.set("os-compute", node_config(vm_port(), false));
    source.set("k8s-worker", node_config(pod_port(), false));
    let control = ControlNode::new(ControlSettings::new(TOKEN), source.clone())?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let server = format!("http://{}", listener.local_addr()?);
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(control.serve(listener, async {
        let _ = stopped.await;
    }));

    let peers = Peers::default();
    let mut compute = start_node("os-compute", COMPUTE, &server, &peers)?;
    let mut worker = start_node("k8s-worker", WORKER, &server, &peers)?;

    // Each engine holds the other's /32 as a Tunnel route with its label,
    // Dip and SG ids (DESIGN.md §2 step 4).
    for (node, remote, remote_ip, sg, local_ip) in [
        (&worker, VM_IP, COMPUTE, VM_SG, WORKER),
        (&compute, POD_IP, WORKER, POD_SG, COMPUTE),
    ] {
        let prefix = host(remote);
        let route = eventually(node, "the remote /32", move |e| {
            e.route_get(VrfId(VN_ID), prefix).ok().flatten()
        })
        .await?;
        assert_eq!(route.prefix, prefix);
        assert_eq!(route.sgs, vec![SgId(sg)]);
        let nh = node
            .dataplane
            .query(move |e| e.nexthop(route.nh))
            .await
            .flatten()
            .context("next hop of the route")?;
        assert_eq!(nh.kind, NhType::Tunnel);
        assert_eq!(nh.sip, Some(local_ip));
        assert_eq!(nh.dip, Some(remote_ip));
        assert!(nh.flags.contains(&NhFlag::MplsOverUdp), "{:?}", nh.flags);
        assert!(nh.encaps.contains(&Encapsulation::MplsOverUdp));
        // The label is the one the remote agent bound to its vif (16: the
        // first label each agent hands out).
        assert_eq!(nh.label.map(|l| l.get()), Some(16));
    }
    let vm_vif = eventually(&compute, "the VM's vif", |e| {
        e.vifs().first().map(|v| v.index)
    })
    .await?;
    let pod_vif = eventually(&worker, "the pod's vif", |e| {
        e.vifs().first().map(|v| v.index)
    })
    .await?;

    // Step 5: pod → VM is refused by the VM's group (own members only).
    worker
        .dataplane
        .vif_frame(pod_vif, echo(POD_MAC, POD_IP, VM_IP, false));
    let got = delivered_echo(&mut compute, POD_IP, VM_IP, Duration::from_millis(500)).await;
    assert_eq!(got, None, "the VM's security group must refuse the pod");

    // Step 6: an ingress rule from 0.0.0.0/0 on the VM's group; the ping
    // now reaches the VM and its reply the pod.
    source.set("os-compute", node_config(vm_port(), true));
    let mut reached = None;
    for _ in 0..40 {
        worker
            .dataplane
            .vif_frame(pod_vif, echo(POD_MAC, POD_IP, VM_IP, false));
        reached = delivered_echo(&mut compute, POD_IP, VM_IP, Duration::from_millis(250)).await;
        if reached.is_some() {
            break;
        }
    }
    assert_eq!(reached, Some(vm_vif), "pod → VM after the rule");
    compute
        .dataplane
        .vif_frame(vm_vif, echo(VM_MAC, VM_IP, POD_IP, true));
    let back = delivered_echo(&mut worker, VM_IP, POD_IP, Duration::from_secs(2)).await;
    assert_eq!(back, Some(pod_vif), "VM → pod reply");
    Ok(())
}
