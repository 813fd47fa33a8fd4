//! Two agents' control path, reconciler and engine against a real control
//! node over gRPC on 127.0.0.1, with an in-memory underlay instead of fds:
//! the reference scenario (VM 192.168.1.3 on os-compute, pod 192.168.1.4 on
//! k8s-worker, VN default-domain:k8s-contrail:seamless).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use weft_agent::agent::Controller;
use weft_agent::dataplane::{Dataplane, Transmit};
use weft_agent::io::NoPorts;
use weft_agent::{LabelStore, Reconciler};
use weft_control::agent::{AgentEvent, AgentSession, AgentSettings, identity};
use weft_control::server::{ControlNode, ControlSettings};
use weft_types::Prefix;

use common::{
    COMPUTE, FakeSource, POD_IP, POD_MAC, POD_SG, TOKEN, VM_IP, VM_MAC, VM_SG, VN_ID, WORKER,
    node_config, pod_port, vm_port,
};
use weft_vrouter::{
    Encapsulation, Engine, NhFlag, NhType, SgId, UnderlayKind, VROUTER_MAC, VifId, VrfId,
};

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
    disconnected: Arc<AtomicBool>,
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
    let (session, mut session_events) = AgentSession::start(settings)?;
    // Watch the events on their way to the controller, to see Disconnected.
    let disconnected = Arc::new(AtomicBool::new(false));
    let (forward, events) = mpsc::channel(1024);
    let seen = disconnected.clone();
    tokio::spawn(async move {
        while let Some(event) = session_events.recv().await {
            if matches!(event, AgentEvent::Disconnected { .. }) {
                seen.store(true, Ordering::SeqCst);
            }
            if forward.send(event).await.is_err() {
                return;
            }
        }
    });
    let session = Arc::new(session);
    let state = tempfile::tempdir()?;
    let controller = Controller::new(
        Reconciler::new(ip, encaps),
        LabelStore::open(state.path())?,
        session.clone(),
        dataplane.clone(),
        NoPorts,
    );
    // NoPorts plugs every port as it is attached: nothing reports plugs.
    let (_, plugs) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(controller.run(events, plugs));
    Ok(Node {
        disconnected,
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
    let source = FakeSource::new();
    source.set("os-compute", node_config(vm_port(), false));
    source.set("k8s-worker", node_config(pod_port(), false));
    let control = ControlNode::new(ControlSettings::new(TOKEN), source.clone())?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let server = format!("http://{}", listener.local_addr()?);
    let (stop_control, stopped) = oneshot::channel::<()>();
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

    // Headless: with the control node gone, both agents keep their routes
    // and keep forwarding.
    drop(stop_control);
    for _ in 0..100 {
        if compute.disconnected.load(Ordering::SeqCst) && worker.disconnected.load(Ordering::SeqCst)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        compute.disconnected.load(Ordering::SeqCst) && worker.disconnected.load(Ordering::SeqCst),
        "both sessions lost"
    );
    for (node, remote) in [(&worker, VM_IP), (&compute, POD_IP)] {
        let prefix = host(remote);
        let kept = node
            .dataplane
            .query(move |e| e.route_get(VrfId(VN_ID), prefix).ok().flatten())
            .await
            .flatten();
        assert!(kept.is_some(), "route to {prefix} kept while headless");
    }
    worker
        .dataplane
        .vif_frame(pod_vif, echo(POD_MAC, POD_IP, VM_IP, false));
    let headless = delivered_echo(&mut compute, POD_IP, VM_IP, Duration::from_secs(2)).await;
    assert_eq!(headless, Some(vm_vif), "pod → VM while headless");
    Ok(())
}
