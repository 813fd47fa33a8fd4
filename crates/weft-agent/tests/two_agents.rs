//! Two agents' control path, reconciler and engine against a real control
//! node over gRPC on 127.0.0.1, with an in-memory underlay instead of fds:
//! the reference scenario (VM 192.168.1.3 on os-compute, pod 192.168.1.4 on
//! k8s-worker, VN default-domain:k8s-contrail:seamless).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use anyhow::{Context, Result, bail, ensure};
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
    /// Sessions the node has had.
    connected: Arc<AtomicUsize>,
    dataplane: Dataplane,
    delivered: mpsc::UnboundedReceiver<(VifId, Vec<u8>)>,
    /// Aborting it ends the agent: its session closes.
    controller: tokio::task::JoinHandle<()>,
    _session: Arc<AgentSession>,
    _state: tempfile::TempDir,
}

fn start_node(name: &str, ip: Ipv4Addr, server: &str, peers: &Peers) -> Result<Node> {
    start_node_with_backoff(name, ip, server, peers, Duration::from_millis(20))
}

/// A node whose first reconnect comes `backoff` after a lost session.
fn start_node_with_backoff(
    name: &str,
    ip: Ipv4Addr,
    server: &str,
    peers: &Peers,
    backoff: Duration,
) -> Result<Node> {
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
    settings.backoff_min = backoff;
    let (session, mut session_events) = AgentSession::start(settings)?;
    // Watch the events on their way to the controller, to see sessions
    // come and go.
    let disconnected = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicUsize::new(0));
    let (forward, events) = mpsc::channel(1024);
    let (seen, sessions) = (disconnected.clone(), connected.clone());
    tokio::spawn(async move {
        while let Some(event) = session_events.recv().await {
            match event {
                AgentEvent::Disconnected { .. } => seen.store(true, Ordering::SeqCst),
                AgentEvent::Connected => {
                    sessions.fetch_add(1, Ordering::SeqCst);
                }
                _ => {}
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
    let controller = tokio::spawn(controller.run(events, plugs));
    Ok(Node {
        controller,
        disconnected,
        connected,
        dataplane,
        delivered,
        _session: session,
        _state: state,
    })
}

/// Serves `source` on `listener` until the returned sender is dropped.
fn serve_control(source: Arc<FakeSource>, listener: TcpListener) -> Result<oneshot::Sender<()>> {
    let control = ControlNode::new(ControlSettings::new(TOKEN), source)?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(control.serve(listener, async {
        let _ = stopped.await;
    }));
    Ok(stop)
}

/// The reference scenario's ports on both nodes, and a listener for the
/// control node.
async fn seed_scenario() -> Result<(Arc<FakeSource>, TcpListener)> {
    let source = FakeSource::new();
    source.set("os-compute", node_config(vm_port(), false));
    source.set("k8s-worker", node_config(pod_port(), false));
    Ok((source, TcpListener::bind("127.0.0.1:0").await?))
}

/// Waits up to 5 s for every node to have lost its session.
async fn wait_headless(nodes: &[&Node]) -> Result<()> {
    let lost = || nodes.iter().all(|n| n.disconnected.load(Ordering::SeqCst));
    for _ in 0..100 {
        if lost() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("sessions still up 5 s after the control node stopped")
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
    let (source, listener) = seed_scenario().await?;
    let server = format!("http://{}", listener.local_addr()?);
    let stop_control = serve_control(source.clone(), listener)?;

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
    wait_headless(&[&compute, &worker]).await?;
    for (node, remote) in [(&worker, VM_IP), (&compute, POD_IP)] {
        assert!(
            route_to(node, remote).await,
            "route to {} kept while headless",
            host(remote)
        );
    }
    worker
        .dataplane
        .vif_frame(pod_vif, echo(POD_MAC, POD_IP, VM_IP, false));
    let headless = delivered_echo(&mut compute, POD_IP, VM_IP, Duration::from_secs(2)).await;
    assert_eq!(headless, Some(vm_vif), "pod → VM while headless");
    Ok(())
}

async fn route_to(node: &Node, remote: [u8; 4]) -> bool {
    let prefix = host(remote);
    node.dataplane
        .query(move |e| e.route_get(VrfId(VN_ID), prefix).ok().flatten())
        .await
        .flatten()
        .is_some()
}

/// A control node that starts again knows no route. The worker, back
/// first, must keep the VM's route until os-compute has republished it:
/// ending the worker's sync at once would drop the route for that while
/// (a lost reply in the lab's killed-server test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_control_node_leaves_routes_in_place_until_their_origin_is_back() -> Result<()>
{
    let (source, listener) = seed_scenario().await?;
    let addr = listener.local_addr()?;
    let server = format!("http://{addr}");
    let stop_control = serve_control(source.clone(), listener)?;

    let peers = Peers::default();
    // os-compute comes back 3 s after losing its session; the worker at once.
    let compute = start_node_with_backoff(
        "os-compute",
        COMPUTE,
        &server,
        &peers,
        Duration::from_secs(3),
    )?;
    let worker = start_node("k8s-worker", WORKER, &server, &peers)?;
    for (node, remote) in [(&worker, VM_IP), (&compute, POD_IP)] {
        eventually(node, "the remote /32", move |e| {
            e.route_get(VrfId(VN_ID), host(remote)).ok().flatten()
        })
        .await?;
    }

    drop(stop_control);
    wait_headless(&[&compute, &worker]).await?;
    let listener = TcpListener::bind(addr).await?;
    let _control = serve_control(source.clone(), listener)?;

    // The worker is back long before os-compute; through that window it
    // keeps the VM's route.
    let back = tokio::time::Instant::now();
    let mut worker_back = false;
    while back.elapsed() < Duration::from_millis(2_000) {
        worker_back |= worker.connected.load(Ordering::SeqCst) >= 2;
        assert!(
            route_to(&worker, VM_IP).await,
            "the worker dropped the VM's route {} ms after the control node restarted",
            back.elapsed().as_millis()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(worker_back, "the worker did not reconnect within 2 s");
    assert_eq!(
        compute.connected.load(Ordering::SeqCst),
        1,
        "os-compute came back too early for the check"
    );
    // os-compute returns and both still hold each other's route.
    while compute.connected.load(Ordering::SeqCst) < 2 {
        ensure!(
            back.elapsed() < Duration::from_secs(10),
            "os-compute did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        route_to(&worker, VM_IP).await,
        "the VM's route after os-compute is back"
    );
    assert!(
        route_to(&compute, POD_IP).await,
        "the pod's route after os-compute is back"
    );
    Ok(())
}

/// An agent that starts again tells the control node when its routes are
/// republished (End-of-RIB), so a path it no longer has is withdrawn then,
/// not when the 30 s grace period ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_ends_its_stale_routes_with_end_of_rib() -> Result<()> {
    let (source, listener) = seed_scenario().await?;
    let server = format!("http://{}", listener.local_addr()?);
    let _control = serve_control(source.clone(), listener)?;
    let peers = Peers::default();
    let compute = start_node("os-compute", COMPUTE, &server, &peers)?;
    let worker = start_node("k8s-worker", WORKER, &server, &peers)?;
    eventually(&worker, "the VM's route", |e| {
        e.route_get(VrfId(VN_ID), host(VM_IP)).ok().flatten()
    })
    .await?;

    // os-compute's agent stops; the VM goes while it is away.
    compute.controller.abort();
    drop(compute);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        route_to(&worker, VM_IP).await,
        "the VM's route kept through the grace period"
    );
    source.set("os-compute", node_config_without_ports());
    let restarted = tokio::time::Instant::now();
    let _compute = start_node("os-compute", COMPUTE, &server, &peers)?;
    while route_to(&worker, VM_IP).await {
        ensure!(
            restarted.elapsed() < Duration::from_secs(10),
            "the VM's route outlived the restarted agent's End-of-RIB"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn node_config_without_ports() -> weft_control::proto::NodeConfig {
    let mut config = node_config(vm_port(), false);
    config.ports.clear();
    config.generation += 1;
    config
}
