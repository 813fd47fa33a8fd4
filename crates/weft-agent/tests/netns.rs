//! The agents' real I/O in network namespaces: two node namespaces joined
//! by a veth underlay (10.99.0.13 / 10.99.0.14), a VM stand-in namespace
//! holding a tap with 192.168.1.3 (attached by the os-compute agent) and a
//! pod stand-in holding a veth with 192.168.1.4 (AF_PACKET on its host side
//! on k8s-worker), a control node on 127.0.0.1, and ICMP echo across in
//! both directions (MPLSoUDP over the underlay); the pod's veth deleted
//! (port DOWN) and made again (ACTIVE, traffic flows). A tap a hypervisor
//! holds is reached from its host side. Teardown leaves no namespace behind.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use common::{FakeSource, POD_MAC, VM_MAC, node_config, port};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use weft_agent::{Agent, AgentConfig};
use weft_control::proto;
use weft_control::server::{ControlNode, ControlSettings};
use weft_system::{Netlink, Netns};
use weft_types::MacAddr;

const WHY: &str = "needs root and network namespaces: run scripts/test as root";
const PING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/netns/ping.py");

fn privileged() -> bool {
    if !std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        eprintln!("SKIP: not running as root ({WHY})");
        return false;
    }
    if !Path::new("/proc/self/ns/net").exists() {
        eprintln!("SKIP: this kernel has no network namespaces");
        return false;
    }
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIP: python3 (the ICMP echo sender) is not installed");
        return false;
    }
    true
}

fn netns_list() -> BTreeSet<String> {
    std::fs::read_dir("/run/netns")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Namespaces (and the persistent tap) created by the test, removed on drop.
#[derive(Default)]
struct Guard {
    names: Vec<String>,
    tap: Option<(String, String)>,
}

impl Guard {
    fn create(&mut self, tag: &str) -> Result<Netns> {
        let name = format!("wagent-{}-{tag}", std::process::id());
        let ns = Netns::create(&name).with_context(|| format!("create netns {name}"))?;
        self.names.push(name);
        Ok(ns)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some((ns, tap)) = self.tap.take() {
            for ns in [&ns, &self.names.get(2).cloned().unwrap_or_default()] {
                let _ = Command::new("ip")
                    .args(["-n", ns, "link", "del", &tap])
                    .output();
            }
        }
        for name in self.names.drain(..) {
            if Netns::exists(&name)
                && let Err(e) = Netns::delete(&name)
            {
                eprintln!("teardown: {e}");
            }
        }
    }
}

fn net(text: &str) -> Result<ipnet::IpNet> {
    text.parse()
        .with_context(|| format!("bad test address {text}"))
}

fn up_with(ns: &Netns, dev: &str, mac: Option<[u8; 6]>, addr: &str) -> Result<()> {
    let mut nl = Netlink::open(ns)?;
    if let Some(mac) = mac {
        nl.set_mac(dev, MacAddr(mac))?;
    }
    nl.add_address(dev, net(addr)?)?;
    nl.set_up(dev)?;
    nl.set_up("lo")?;
    Ok(())
}

fn ping(ns: &str, dst: &str, count: u32) -> Result<String> {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "python3",
            PING,
            dst,
            &count.to_string(),
        ])
        .output()?;
    if !out.status.success() {
        bail!(
            "no echo reply from {dst} in {ns}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A control node on 127.0.0.1 serving `source`; it stops when the
/// returned sender is dropped.
async fn control_node(source: std::sync::Arc<FakeSource>) -> Result<(String, oneshot::Sender<()>)> {
    let control = ControlNode::new(ControlSettings::new(common::TOKEN), source)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let server = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(control.serve(listener, async {
        let _ = stopped.await;
    }));
    Ok((server, stop))
}

/// Starts the agent of `node` at `ip` in `ns`; it runs until the returned
/// sender is used or dropped.
fn start_agent(
    node: &str,
    ip: Ipv4Addr,
    ns: &Netns,
    server: &str,
    state: &Path,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), weft_agent::AgentRunError>>,
) {
    let mut config = AgentConfig::new(
        node,
        ip,
        server.to_owned(),
        common::TOKEN,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        state.join(node),
    );
    config.netns = Some(ns.name().to_owned());
    config.attach_retry = Duration::from_millis(100);
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(Agent::run(config, async {
        let _ = stopped.await;
    }));
    (stop, agent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
async fn vm_and_pod_ping_across_two_agents() -> Result<()> {
    if !privileged() {
        return Ok(());
    }
    // Only this test's namespaces: others may come and go meanwhile.
    let mine = |all: BTreeSet<String>| -> BTreeSet<String> {
        let pid = std::process::id();
        ["compute", "worker", "vm", "pod"]
            .iter()
            .map(|tag| format!("wagent-{pid}-{tag}"))
            .filter(|name| all.contains(name))
            .collect()
    };
    let result = scenario().await;
    let left = mine(netns_list());
    ensure!(left.is_empty(), "namespaces left behind: {left:?}");
    result
}

async fn scenario() -> Result<()> {
    let pid = std::process::id();
    let mut guard = Guard::default();
    let compute = guard.create("compute")?;
    let worker = guard.create("worker")?;
    let vm = guard.create("vm")?;
    let pod = guard.create("pod")?;

    // Underlay: one veth between the two nodes.
    let (ua, ub) = (format!("wu{pid}a"), format!("wu{pid}b"));
    let mut nl = Netlink::open(&compute)?;
    nl.create_veth(&ua, &ub)?;
    nl.move_to_netns(&ub, &worker)?;
    up_with(&compute, &ua, None, "10.99.0.13/24")?;
    up_with(&worker, &ub, None, "10.99.0.14/24")?;

    // Pod: a veth whose host side stays on the worker.
    let (ph, pc) = (format!("wp{pid}h"), format!("wp{pid}c"));
    let mut nl = Netlink::open(&worker)?;
    nl.create_veth(&ph, &pc)?;
    nl.move_to_netns(&pc, &pod)?;
    up_with(&pod, &pc, Some(POD_MAC), "192.168.1.4/24")?;

    // VM: a persistent tap the "hypervisor" made on the compute node.
    let tap = format!("wt{pid}");
    let made = Command::new("ip")
        .args([
            "-n",
            compute.name(),
            "tuntap",
            "add",
            "mode",
            "tap",
            "name",
            &tap,
        ])
        .output()?;
    ensure!(
        made.status.success(),
        "ip tuntap add: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    guard.tap = Some((compute.name().to_owned(), tap.clone()));

    let vm_port = port(
        "vm-port",
        [192, 168, 1, 3],
        VM_MAC,
        common::VM_SG,
        proto::VifType::Tap,
        &tap,
    );
    let pod_port = port(
        "pod-port",
        [192, 168, 1, 4],
        POD_MAC,
        common::POD_SG,
        proto::VifType::Veth,
        &ph,
    );
    let source = FakeSource::new();
    source.set("os-compute", node_config(vm_port, true));
    source.set("k8s-worker", node_config(pod_port, true));
    let (server, _stop_server) = control_node(source.clone()).await?;
    let state = tempfile::tempdir()?;
    let mut stops = Vec::new();
    let mut agents = Vec::new();
    for (node, ip, ns) in [
        ("os-compute", Ipv4Addr::new(10, 99, 0, 13), &compute),
        ("k8s-worker", Ipv4Addr::new(10, 99, 0, 14), &worker),
    ] {
        let (stop, agent) = start_agent(node, ip, ns, &server, state.path());
        stops.push(stop);
        agents.push(agent);
    }

    // Both ports attached and reported ACTIVE.
    for _ in 0..100 {
        if source.active().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(
        source.active().len() == 2,
        "ports active: {:?}",
        source.active()
    );

    // The VM's end of the tap goes into the VM stand-in.
    Netlink::open(&compute)?.move_to_netns(&tap, &vm)?;
    guard.tap = Some((vm.name().to_owned(), tap.clone()));
    up_with(&vm, &tap, Some(VM_MAC), "192.168.1.3/24")?;

    let pod_to_vm = ping(pod.name(), "192.168.1.3", 20);
    let vm_to_pod = ping(vm.name(), "192.168.1.4", 10);

    // The pod goes away (its veth with it): the port is reported DOWN. A
    // new veth of the same name brings it back ACTIVE, and traffic flows.
    let key = ("k8s-worker".to_owned(), "pod-port".to_owned());
    let gone = Command::new("ip")
        .args(["-n", pod.name(), "link", "del", &pc])
        .output()?;
    ensure!(gone.status.success(), "ip link del {pc}");
    let down = wait_for(|| !source.active().contains(&key)).await;
    let mut nl = Netlink::open(&worker)?;
    nl.create_veth(&ph, &pc)?;
    nl.move_to_netns(&pc, &pod)?;
    up_with(&pod, &pc, Some(POD_MAC), "192.168.1.4/24")?;
    nl.set_up(&ph)?;
    let back = wait_for(|| source.active().contains(&key)).await;
    let again = ping(pod.name(), "192.168.1.3", 20);

    for stop in stops {
        let _ = stop.send(());
    }
    for agent in agents {
        agent.await?.context("agent")?;
    }
    eprintln!("pod → VM: {}", pod_to_vm?.trim());
    eprintln!("VM → pod: {}", vm_to_pod?.trim());
    ensure!(down, "pod port still ACTIVE after its veth was deleted");
    ensure!(back, "pod port not ACTIVE again after its veth came back");
    eprintln!("pod → VM after re-plug: {}", again?.trim());
    drop(guard);
    Ok(())
}

async fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

/// A tap a hypervisor already holds cannot be opened a second time; the
/// agent reaches it from its host side (AF_PACKET), as for a veth. The test
/// plays the hypervisor: it holds the tap's fd and sends the VM's ARP
/// request for its gateway, which the vRouter answers through the tap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
async fn a_tap_held_by_a_hypervisor_is_reached_from_its_host_side() -> Result<()> {
    if !privileged() {
        return Ok(());
    }
    let mut guard = Guard::default();
    let compute = guard.create("hv")?;
    let tap_name = format!("wh{}", std::process::id());
    let hypervisor = weft_system::Tap::open(&compute, &tap_name)?;
    let vm_port = port(
        "vm-port",
        [192, 168, 1, 3],
        VM_MAC,
        common::VM_SG,
        proto::VifType::Tap,
        &tap_name,
    );
    let source = FakeSource::new();
    source.set("os-compute", node_config(vm_port, true));
    let (server, _stop_server) = control_node(source.clone()).await?;
    let state = tempfile::tempdir()?;
    let mut nl = Netlink::open(&compute)?;
    nl.set_up("lo")?;
    nl.add_address("lo", net("10.99.1.13/32")?)?;
    let underlay = Ipv4Addr::new(10, 99, 1, 13);
    let (stop, agent) = start_agent("os-compute", underlay, &compute, &server, state.path());
    let active = wait_for(|| source.active().len() == 1).await;

    // ARP who-has 192.168.1.1 tell 192.168.1.3, from the VM's MAC.
    let mut request = vec![0xff; 6];
    request.extend_from_slice(&VM_MAC);
    request.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    request.extend_from_slice(&VM_MAC);
    request.extend_from_slice(&[192, 168, 1, 3]);
    request.extend_from_slice(&[0; 6]);
    request.extend_from_slice(&[192, 168, 1, 1]);
    let mut reply = None;
    let mut buf = [0u8; 2048];
    for _ in 0..50 {
        if !active {
            break;
        }
        hypervisor.send(&request)?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Ok(n) = hypervisor.recv(&mut buf) {
            let frame = &buf[..n];
            // An ARP reply (opcode 2) for the VM.
            if n >= 42 && frame[12..14] == [0x08, 0x06] && frame[20..22] == [0, 2] {
                reply = Some(frame.to_vec());
            }
        }
        if reply.is_some() {
            break;
        }
    }
    let _ = stop.send(());
    agent.await?.context("agent")?;
    drop(hypervisor);
    drop(guard);
    ensure!(active, "the port on the held tap never became ACTIVE");
    let reply = reply.context("no ARP reply came back through the held tap")?;
    ensure!(
        reply[0..6] == VM_MAC,
        "reply not addressed to the VM: {reply:02x?}"
    );
    ensure!(
        reply[28..32] == [192, 168, 1, 1],
        "reply is not for the gateway: {reply:02x?}"
    );
    Ok(())
}
