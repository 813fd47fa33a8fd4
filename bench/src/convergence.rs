//! The `convergence` benchmark: from a port's plug on node A to its route
//! being programmed in node B's vRouter, over real processes.
//!
//! One `weft server` (API + control node, embedded store) and two `weft
//! agent`s run as subprocesses; each agent opens its sockets and interfaces
//! in its own node namespace (`wbcv-a`, `wbcv-b`, joined by a veth underlay)
//! while its control session and introspection stay on loopback. Node B
//! holds one (unplugged) port of the network, so it subscribes to the VRF.
//!
//! Ports bound to node A with vif type veth are brought in at a steady rate
//! (`--rate`). For each one, with its id and address chosen up front:
//!
//! * **plug** — the veth whose host end the agent expects
//!   (`veth` + the first 11 characters of the id) is created in node A's
//!   namespace by one rtnetlink request; the instant is taken when the
//!   kernel has acknowledged it, so the interface exists;
//! * **create** — `POST /v1/ports`, timed from send to answer;
//! * **route on B** — node B's introspection `GET /routes/get?vrf=V&prefix=IP/32`
//!   is polled for ports not yet seen (up to 16 per cycle, oldest first),
//!   every `--poll` (1 ms by default); the first answer naming exactly that
//!   /32 is timestamped on arrival. Each port's resolution (previous probe
//!   of its prefix → the answer that found it) and the probe's round trip
//!   are measured and reported;
//! * **ACTIVE** — the server's watch feed (`/v1/watch?kind=port`) is read
//!   as a stream, and the first event showing the port ACTIVE (the agent on
//!   A attached the interface and reported it) is timestamped on arrival.
//!
//! Two orders, `--ports` ports each, interleaved port by port so that both
//! see the same load and the same number of ports already on node A:
//!
//! * **cni**: plug, then create — what a CNI plugin does (the veth exists
//!   before the agent hears of the port);
//! * **nova**: create, then plug — what Nova does for a VM (the port exists
//!   before the hypervisor makes the tap).
//!
//! The figure is *plug → route on B* (target p99 < 50 ms). Weft's
//! agent publishes a port's route when the port reaches it in the node's
//! configuration, not when the interface appears, so in the nova order the
//! route is usually on B before the plug (counted, and shown as negative
//! values); *plug → ready* (route on B and port ACTIVE on A, whichever is
//! later) is the interval after which traffic can flow, for both orders.
//!
//! References measured in the same run: the API's create latency (one
//! durable write and its HTTP round trip), and the introspection probe's
//! round trip. Ratios: p99 to the target, and p99 to the API's p99.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde::Serialize;
use uuid::Uuid;
use weft_api::client::Client;
use weft_api::{Nodes, Ports, WatchEvent, WatchOp};
use weft_model::{CreateNode, CreatePort, FixedIpRequest, Ref, VifType};
use weft_system::Netlink;

use crate::port_create;
use crate::stats::MsSummary;
use crate::topology::{Topology, ip};

/// Namespaces, processes and temporary files of this benchmark carry it.
pub const PREFIX: &str = "wbcv";
/// The target for plug → route on B.
pub const TARGET_P99_MS: f64 = 50.0;

const NODE_A: &str = "node-a";
const NODE_B: &str = "node-b";
const UNDERLAY_A: Ipv4Addr = Ipv4Addr::new(10, 67, 0, 1);
const UNDERLAY_B: Ipv4Addr = Ipv4Addr::new(10, 67, 0, 2);
const TOKEN: &str = "wbcv-bench-token";
/// The most prefixes one poll cycle asks node B about.
const PROBES_PER_CYCLE: usize = 16;

/// Which comes first for each port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Plug, then create (a CNI plugin).
    Cni,
    /// Create, then plug (Nova and a hypervisor).
    Nova,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Ports per phase.
    pub ports: usize,
    /// Ports brought in per second.
    pub rate: f64,
    /// Interval between polls of node B's routes.
    pub poll: Duration,
    /// Unmeasured ports brought in first (cni order).
    pub warmup: usize,
    pub orders: Vec<Order>,
    pub weft: PathBuf,
}

/// Everything a run measured; also the JSON written by `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    pub ports_per_order: usize,
    pub rate_per_sec: f64,
    pub poll_ms: f64,
    pub cpus: usize,
    pub target_p99_ms: f64,
    /// The measured ports, orders interleaved, from first plug or create
    /// to the last port settled.
    pub measured_seconds: f64,
    pub by_order: Vec<ByOrder>,
    /// Reference: one introspection probe to B, send to answer.
    pub probe_round_trip: Option<MsSummary>,
    /// Per found route: from the previous probe of its prefix to the answer
    /// that found it — how late "route on B" can be.
    pub route_resolution: Option<MsSummary>,
    /// CPU seconds each process used while the measured ports were brought
    /// in (of `measured_seconds` × `cpus`).
    pub cpu_seconds: Vec<ProcessCpu>,
    pub total_seconds: f64,
}

/// The ports of one order. Every summary is in milliseconds and covers the
/// ports for which both ends of the interval were seen.
#[derive(Clone, Debug, Serialize)]
pub struct ByOrder {
    pub order: Order,
    pub ports: usize,
    /// Ports whose route never appeared on B / never became ACTIVE
    /// within the deadline.
    pub missing_routes: usize,
    pub missing_active: usize,
    pub plug_to_route_on_b: Option<MsSummary>,
    /// Ports whose route was on B before their plug (negative above).
    pub route_before_plug: usize,
    pub create_to_route_on_b: Option<MsSummary>,
    /// p50 of create → route on B for each tenth of these ports, in the
    /// order they were brought in: how the interval grows with node A's
    /// port count.
    pub create_to_route_on_b_p50_by_tenth: Vec<f64>,
    pub plug_to_active: Option<MsSummary>,
    /// max(route on B, ACTIVE) − plug: when traffic can flow.
    pub plug_to_ready: Option<MsSummary>,
    /// Reference: `POST /v1/ports`, send to answer.
    pub api_create: Option<MsSummary>,
    /// The rtnetlink request that creates the veth.
    pub plug_call: Option<MsSummary>,
    /// plug_to_route_on_b p99 ÷ the target.
    pub route_p99_over_target: Option<f64>,
    /// plug_to_ready p99 ÷ the target.
    pub ready_p99_over_target: Option<f64>,
    /// plug_to_route_on_b p99 ÷ api_create p99.
    pub route_p99_over_api_p99: Option<f64>,
}

/// CPU time one process used.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessCpu {
    pub process: String,
    pub seconds: f64,
}

/// The instants of one port; `None` until seen.
#[derive(Clone, Copy, Debug, Default)]
struct Timeline {
    plug: Option<Instant>,
    plug_call: Option<Duration>,
    sent: Option<Instant>,
    answered: Option<Instant>,
    route_on_b: Option<Instant>,
    active: Option<Instant>,
}

/// What the pacer, the route poller and the watch reader share.
#[derive(Debug, Default)]
struct Shared {
    timelines: Vec<Timeline>,
    /// Ports whose route B has not shown yet: index → address.
    waiting_routes: BTreeMap<usize, Waiting>,
    by_id: HashMap<Uuid, usize>,
    /// Probe round trips, and each found route's resolution, of the
    /// measured ports.
    probes: Vec<Duration>,
    resolutions: Vec<Duration>,
}

/// A prefix node B has not shown yet.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    address: Ipv4Addr,
    /// When the port was registered (just before its plug or create).
    since: Instant,
    /// When the last probe that did not find it was sent.
    last_probe: Option<Instant>,
}

type SharedRef = Arc<Mutex<Shared>>;

fn lock(shared: &SharedRef) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One port to bring in.
struct PortPlan {
    index: usize,
    order: Order,
    id: Uuid,
    address: Ipv4Addr,
    host_end: String,
    peer_end: String,
}

/// Runs the whole benchmark. Progress goes to stderr.
pub async fn run(config: &Config) -> anyhow::Result<Results> {
    ensure!(config.ports > 0, "--ports must be at least 1");
    ensure!(config.rate > 0.0, "--rate must be positive");
    ensure!(
        !config.orders.is_empty(),
        "--order needs one or more values"
    );
    ensure!(
        (config.warmup + config.ports * config.orders.len()) < 60_000,
        "too many ports for one /16"
    );
    if !config.weft.is_file() {
        bail!(
            "no weft binary at {} (build it with `cargo build --release -p weft-cli`, or pass --weft)",
            config.weft.display()
        );
    }
    let started = Instant::now();
    let mut topo = Topology::new(PREFIX)?;
    remove_stale_dirs();
    let temp = tempfile::Builder::new()
        .prefix(&format!("{PREFIX}-"))
        .tempdir()
        .context("cannot create the temporary directory")?;
    let dir = temp.path();
    eprintln!("temporary directory: {}", dir.display());

    // Node namespaces, joined by a veth underlay.
    let ns_a = topo.netns("a")?;
    let ns_b = topo.netns("b")?;
    ip(&[
        "link",
        "add",
        "u0",
        "netns",
        ns_a.name(),
        "type",
        "veth",
        "peer",
        "name",
        "u0",
        "netns",
        ns_b.name(),
    ])?;
    for (ns, addr) in [(&ns_a, UNDERLAY_A), (&ns_b, UNDERLAY_B)] {
        ip(&[
            "-n",
            ns.name(),
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "u0",
        ])?;
        ip(&["-n", ns.name(), "link", "set", "u0", "up"])?;
    }

    // The server with its control node.
    let (api_port, control_port) = (free_port()?, free_port()?);
    let api = format!("http://127.0.0.1:{api_port}");
    let weft = &config.weft;
    topo.spawn(
        "weft server",
        weft,
        &strings(&[
            "server",
            "--data-dir",
            &dir.join("server").display().to_string(),
            "--listen",
            &format!("127.0.0.1:{api_port}"),
            "--control-listen",
            &format!("127.0.0.1:{control_port}"),
            "--token",
            TOKEN,
        ]),
        &dir.join("server.log"),
    )?;
    let client = Client::new(&api)?;
    wait_for(&mut topo, "the server's API", || async {
        client.info().await.is_ok()
    })
    .await?;
    port_create::prepare(&client).await?;
    let network = Ref::Name(port_create::NETWORK.parse()?);
    for (name, addr) in [(NODE_A, UNDERLAY_A), (NODE_B, UNDERLAY_B)] {
        client
            .create::<Nodes>(&CreateNode {
                name: name.to_owned(),
                underlay_ip: addr.into(),
                id: None,
                description: String::new(),
            })
            .await
            .with_context(|| format!("creating node {name}"))?;
    }
    // A port on B, never plugged: B's agent then subscribes to the VRF.
    let b_port = Uuid::new_v4();
    client
        .create::<Ports>(&port_request(
            &network,
            b_port,
            Ipv4Addr::new(10, 0, 0, 250),
            NODE_B,
        ))
        .await
        .context("creating node B's port")?;

    // The agents.
    let introspect_b = free_port()?;
    for (node, addr, ns, introspect) in [
        (NODE_A, UNDERLAY_A, &ns_a, free_port()?),
        (NODE_B, UNDERLAY_B, &ns_b, introspect_b),
    ] {
        topo.spawn(
            &format!("weft agent {node}"),
            weft,
            &strings(&[
                "agent",
                "--node",
                node,
                "--underlay",
                &addr.to_string(),
                "--control",
                &format!("http://127.0.0.1:{control_port}"),
                "--token",
                TOKEN,
                "--netns",
                ns.name(),
                "--introspect",
                &format!("127.0.0.1:{introspect}"),
                "--state-dir",
                &dir.join(format!("agent-{node}")).display().to_string(),
            ]),
            &dir.join(format!("agent-{node}.log")),
        )?;
    }
    let agent_b = format!("http://127.0.0.1:{introspect_b}");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("cannot build the HTTP client")?;
    let b_vif = format!("veth{}", &b_port.to_string()[..11]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let vrf = loop {
        if let Some(vrf) = vrf_of(&http, &agent_b, &b_vif).await {
            break vrf;
        }
        topo.check_running()?;
        if Instant::now() > deadline {
            bail!(
                "node B has no vif {b_vif} after 30 s; logs:\n{}",
                topo.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("node B programs the network as VRF {vrf}");

    // Observers: node B's routes, and the server's port feed.
    let shared: SharedRef = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let poller = tokio::spawn(poll_routes(
        http.clone(),
        agent_b,
        vrf,
        config.poll,
        shared.clone(),
        stop.clone(),
    ));
    let revision = client.info().await?.revision;
    let watcher = tokio::spawn(watch_active(
        http.clone(),
        api.clone(),
        revision + 1,
        shared.clone(),
    ));

    let mut netlink = Netlink::open(&ns_a).context("cannot open netlink in node A")?;
    let mut next = 0;
    // Port k of a batch takes orders[k % orders.len()].
    let mut plan = |count: usize, orders: &[Order]| -> Vec<PortPlan> {
        let first = next;
        next += count;
        (first..next)
            .map(|index| {
                let id = Uuid::new_v4();
                let n = u32::try_from(index).unwrap_or(u32::MAX);
                PortPlan {
                    index,
                    order: orders[(index - first) % orders.len()],
                    id,
                    // 10.0.1.0 onwards: clear of the gateway, service
                    // address and B's port.
                    address: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 1, 0)) + n),
                    host_end: format!("veth{}", &id.to_string()[..11]),
                    peer_end: format!("p{index}"),
                }
            })
            .collect()
    };

    let result = async {
        if config.warmup > 0 {
            eprintln!("warm-up: {} ports (cni order, not measured)", config.warmup);
            let ports = plan(config.warmup, &[Order::Cni]);
            bring_in(config, &ports, &client, &network, &mut netlink, &shared).await?;
            settle(&mut topo, &ports, &shared).await?;
        }
        let orders: Vec<String> = config.orders.iter().map(|o| format!("{o:?}")).collect();
        eprintln!(
            "measuring: {} ports per order ({}, interleaved) on node A at {} per second",
            config.ports,
            orders.join(", "),
            config.rate
        );
        let ports = plan(config.ports * config.orders.len(), &config.orders);
        {
            let mut s = lock(&shared);
            s.probes.clear();
            s.resolutions.clear();
        }
        let begun = Instant::now();
        let cpu_before = topo.cpu_seconds();
        bring_in(config, &ports, &client, &network, &mut netlink, &shared).await?;
        settle(&mut topo, &ports, &shared).await?;
        let measured = begun.elapsed();
        let cpu = topo
            .cpu_seconds()
            .into_iter()
            .zip(cpu_before)
            .map(|((process, after), (_, before))| ProcessCpu {
                process,
                seconds: after - before,
            })
            .collect::<Vec<_>>();
        anyhow::Ok((ports, measured, cpu))
    }
    .await
    .with_context(|| format!("logs:\n{}", topo.logs()));
    stop.store(true, Ordering::Relaxed);
    let _ = poller.await;
    watcher.abort();
    let (ports, measured, cpu_seconds) = result?;
    drop(topo);

    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    let (probe_round_trip, route_resolution) = {
        let s = lock(&shared);
        (
            MsSummary::of(&s.probes.iter().map(ms).collect::<Vec<_>>()),
            MsSummary::of(&s.resolutions.iter().map(ms).collect::<Vec<_>>()),
        )
    };
    let by_order = config
        .orders
        .iter()
        .map(|&order| {
            let mine: Vec<&PortPlan> = ports.iter().filter(|p| p.order == order).collect();
            summarise(order, &mine, &shared)
        })
        .collect();
    Ok(Results {
        ports_per_order: config.ports,
        rate_per_sec: config.rate,
        poll_ms: config.poll.as_secs_f64() * 1e3,
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        target_p99_ms: TARGET_P99_MS,
        measured_seconds: measured.as_secs_f64(),
        by_order,
        probe_round_trip,
        route_resolution,
        cpu_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Removes the temporary directories of earlier runs; [`Topology::new`]
/// has just stopped whatever could still use them.
fn remove_stale_dirs() {
    let lead = format!("{PREFIX}-");
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in dir.filter_map(|e| e.ok()) {
        if entry.file_name().to_string_lossy().starts_with(&lead)
            && entry.file_type().is_ok_and(|t| t.is_dir())
        {
            eprintln!("removing {} left by an earlier run", entry.path().display());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .context("cannot find a free loopback port")?
        .port())
}

fn port_request(network: &Ref, id: Uuid, address: Ipv4Addr, node: &str) -> CreatePort {
    CreatePort {
        id: Some(id),
        fixed_ips: Some(vec![FixedIpRequest {
            subnet_id: None,
            ip_address: Some(address.into()),
        }]),
        binding_host_id: Some(node.to_owned()),
        vif_type: Some(VifType::Veth),
        ..CreatePort::on(network.clone())
    }
}

/// Polls `ready` every 50 ms for up to 30 s, failing early if a process
/// of the topology exits.
async fn wait_for<F, Fut>(topo: &mut Topology, what: &str, mut ready: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready().await {
        topo.check_running()?;
        if Instant::now() > deadline {
            bail!("{what} not ready within 30 s; logs:\n{}", topo.logs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The VRF of the vif named `os_name` on the agent at `base`.
async fn vrf_of(http: &reqwest::Client, base: &str, os_name: &str) -> Option<u64> {
    let vifs: Vec<serde_json::Value> = http
        .get(format!("{base}/vifs"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    vifs.iter()
        .find(|v| v["os_name"] == os_name)
        .and_then(|v| v["vrf"].as_u64())
}

/// Brings `ports` in at the configured rate, each in its order.
async fn bring_in(
    config: &Config,
    ports: &[PortPlan],
    client: &Client,
    network: &Ref,
    netlink: &mut Netlink,
    shared: &SharedRef,
) -> anyhow::Result<()> {
    {
        let mut s = lock(shared);
        let len = ports.last().map_or(0, |p| p.index + 1);
        if s.timelines.len() < len {
            s.timelines.resize(len, Timeline::default());
        }
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / config.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for port in ports {
        tick.tick().await;
        {
            let mut s = lock(shared);
            s.waiting_routes.insert(
                port.index,
                Waiting {
                    address: port.address,
                    since: Instant::now(),
                    last_probe: None,
                },
            );
            s.by_id.insert(port.id, port.index);
        }
        match port.order {
            Order::Cni => {
                plug(netlink, port, shared)?;
                create(client, network, port, shared).await?;
            }
            Order::Nova => {
                create(client, network, port, shared).await?;
                plug(netlink, port, shared)?;
            }
        }
    }
    Ok(())
}

/// Creates the port's veth in node A. Runs on the caller's thread (the
/// runtime's `block_on` thread, not a worker), so observers keep running.
fn plug(netlink: &mut Netlink, port: &PortPlan, shared: &SharedRef) -> anyhow::Result<()> {
    let start = Instant::now();
    netlink
        .create_veth(&port.host_end, &port.peer_end)
        .with_context(|| format!("plugging {}", port.host_end))?;
    let done = Instant::now();
    let mut s = lock(shared);
    let t = &mut s.timelines[port.index];
    t.plug = Some(done);
    t.plug_call = Some(done - start);
    Ok(())
}

async fn create(
    client: &Client,
    network: &Ref,
    port: &PortPlan,
    shared: &SharedRef,
) -> anyhow::Result<()> {
    let request = port_request(network, port.id, port.address, NODE_A);
    let sent = Instant::now();
    client
        .create::<Ports>(&request)
        .await
        .with_context(|| format!("creating port {} ({})", port.index, port.address))?;
    let answered = Instant::now();
    let mut s = lock(shared);
    let t = &mut s.timelines[port.index];
    t.sent = Some(sent);
    t.answered = Some(answered);
    Ok(())
}

/// Waits until every port of `ports` has its route on B and is ACTIVE, or
/// 15 s pass (the stragglers are then reported as missing).
async fn settle(topo: &mut Topology, ports: &[PortPlan], shared: &SharedRef) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let done = {
            let s = lock(shared);
            ports.iter().all(|p| {
                let t = &s.timelines[p.index];
                t.route_on_b.is_some() && t.active.is_some()
            })
        };
        if done || Instant::now() > deadline {
            break;
        }
        topo.check_running()?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Ports still waiting are no longer polled.
    let mut s = lock(shared);
    for p in ports {
        s.waiting_routes.remove(&p.index);
    }
    Ok(())
}

/// Every `period`, asks node B about waiting prefixes, and timestamps the
/// first answer naming that /32. A cycle asks about at most
/// [`PROBES_PER_CYCLE`] prefixes: the oldest half (routes mostly arrive in
/// order) and the rest in turn, so a backlog does not turn the poller into
/// a load of its own. Each port's resolution is the time from the previous
/// probe of its prefix (or from when it started waiting) to the answer
/// that found it.
async fn poll_routes(
    http: reqwest::Client,
    base: String,
    vrf: u64,
    period: Duration,
    shared: SharedRef,
    stop: Arc<AtomicBool>,
) {
    let url = format!("{base}/routes/get");
    let vrf = vrf.to_string();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cursor = 0usize;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let batch: Vec<(usize, Waiting)> = {
            let s = lock(&shared);
            let all: Vec<(usize, Waiting)> =
                s.waiting_routes.iter().map(|(&i, &w)| (i, w)).collect();
            if all.len() <= PROBES_PER_CYCLE {
                all
            } else {
                let oldest = PROBES_PER_CYCLE / 2;
                let rest = &all[oldest..];
                cursor %= rest.len();
                let mut batch = all[..oldest].to_vec();
                batch.extend(
                    rest.iter()
                        .cycle()
                        .skip(cursor)
                        .take(PROBES_PER_CYCLE - oldest),
                );
                cursor += PROBES_PER_CYCLE - oldest;
                batch
            }
        };
        for (index, waiting) in batch {
            let prefix = format!("{}/32", waiting.address);
            let sent = Instant::now();
            let answer = http
                .get(&url)
                .query(&[("vrf", vrf.as_str()), ("prefix", prefix.as_str())])
                .send()
                .await;
            let Ok(answer) = answer else { continue };
            let found = answer.status().is_success();
            let body: Option<serde_json::Value> = answer.json().await.ok();
            let now = Instant::now();
            let mut s = lock(&shared);
            s.probes.push(now - sent);
            if found && body.is_some_and(|b| b["prefix"] == prefix.as_str()) {
                s.waiting_routes.remove(&index);
                s.resolutions
                    .push(now - waiting.last_probe.unwrap_or(waiting.since));
                if let Some(t) = s.timelines.get_mut(index) {
                    t.route_on_b.get_or_insert(now);
                }
            } else if let Some(w) = s.waiting_routes.get_mut(&index) {
                w.last_probe = Some(sent);
            }
        }
    }
}

/// Reads the server's port feed and timestamps each port's first ACTIVE.
async fn watch_active(
    http: reqwest::Client,
    api: String,
    from: u64,
    shared: SharedRef,
) -> anyhow::Result<()> {
    let mut answer = http
        .get(format!("{api}/v1/watch"))
        .query(&[("kind", "port"), ("from", &from.to_string())])
        .send()
        .await?
        .error_for_status()?;
    let mut buffer = Vec::new();
    while let Some(chunk) = answer.chunk().await? {
        let now = Instant::now();
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let Ok(event) = serde_json::from_slice::<WatchEvent>(&line) else {
                continue;
            };
            let active = event.op == WatchOp::Put
                && event
                    .object
                    .as_ref()
                    .is_some_and(|o| o["status"] == "ACTIVE");
            if active {
                let mut s = lock(&shared);
                if let Some(&i) = s.by_id.get(&event.id)
                    && let Some(t) = s.timelines.get_mut(i)
                {
                    t.active.get_or_insert(now);
                }
            }
        }
    }
    Ok(())
}

fn summarise(order: Order, ports: &[&PortPlan], shared: &SharedRef) -> ByOrder {
    let s = lock(shared);
    let lines: Vec<Timeline> = ports.iter().map(|p| s.timelines[p.index]).collect();
    // b − a in ms, when both were seen.
    let between = |a: Option<Instant>, b: Option<Instant>| -> Option<f64> {
        let (a, b) = (a?, b?);
        Some(if b >= a {
            (b - a).as_secs_f64() * 1e3
        } else {
            -((a - b).as_secs_f64() * 1e3)
        })
    };
    let series = |f: &dyn Fn(&Timeline) -> Option<f64>| -> Option<MsSummary> {
        MsSummary::of(&lines.iter().filter_map(f).collect::<Vec<_>>())
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let plug_to_route_on_b = series(&|t| between(t.plug, t.route_on_b));
    let plug_to_ready = series(&|t| between(t.plug, Some(t.route_on_b?.max(t.active?))));
    let api_create = series(&|t| between(t.sent, t.answered));
    let ratio = |a: Option<MsSummary>, b: f64| a.map(|a| a.p99 / b);
    ByOrder {
        order,
        ports: ports.len(),
        missing_routes: lines.iter().filter(|t| t.route_on_b.is_none()).count(),
        missing_active: lines.iter().filter(|t| t.active.is_none()).count(),
        plug_to_route_on_b,
        route_before_plug: lines
            .iter()
            .filter(|t| between(t.plug, t.route_on_b).is_some_and(|v| v < 0.0))
            .count(),
        create_to_route_on_b: series(&|t| between(t.sent, t.route_on_b)),
        create_to_route_on_b_p50_by_tenth: lines
            .chunks(lines.len().div_ceil(10).max(1))
            .filter_map(|tenth| {
                let v: Vec<f64> = tenth
                    .iter()
                    .filter_map(|t| between(t.sent, t.route_on_b))
                    .collect();
                MsSummary::of(&v).map(|s| s.p50)
            })
            .collect(),
        plug_to_active: series(&|t| between(t.plug, t.active)),
        plug_to_ready,
        api_create,
        plug_call: series(&|t| t.plug_call.map(ms)),
        route_p99_over_target: ratio(plug_to_route_on_b, TARGET_P99_MS),
        ready_p99_over_target: ratio(plug_to_ready, TARGET_P99_MS),
        route_p99_over_api_p99: plug_to_route_on_b
            .zip(api_create)
            .map(|(r, a)| r.p99 / a.p99),
    }
}

/// The weft binary next to the running program.
pub fn default_weft() -> anyhow::Result<PathBuf> {
    Ok(std::env::current_exe()
        .context("cannot find this program's path")?
        .with_file_name("weft"))
}
