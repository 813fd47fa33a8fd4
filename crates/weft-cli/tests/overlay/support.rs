//! What the overlay tests share: the root check, one lab per test, the
//! CLI run inside the lab, pings, and the seamless scenario's objects.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use weft_lab::{Lab, LabConfig, Topology, Workload};
use weft_types::MacAddr;

pub(crate) const WHY: &str = "needs root and network namespaces: run scripts/test as root";
pub(crate) const VN: &str = "default-domain:k8s-contrail:seamless";
pub(crate) const COMPUTE: &str = "os-compute";
pub(crate) const WORKER: &str = "k8s-worker";
pub(crate) const CONTROL: &str = "cnt-control";

/// Why the tests cannot run here, if they cannot.
fn cannot_run() -> Option<String> {
    if !std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        return Some(format!("not running as root ({WHY})"));
    }
    if !Path::new("/proc/self/ns/net").exists() {
        return Some("this kernel has no network namespaces".into());
    }
    for (tool, arg) in [
        ("ip", "-V"),
        ("busybox", "true"),
        ("tshark", "-v"),
        ("dumpcap", "-v"),
    ] {
        if Command::new(tool).arg(arg).output().is_err() {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// `ip netns list`, as names.
pub(crate) fn netns_list() -> BTreeSet<String> {
    std::fs::read_dir("/run/netns")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `body` against a fresh reference lab (server and both agents
/// running) whose namespaces start with `wl<pid><tag>-`, tears it down,
/// and checks that `ip netns list` is as before. Skips (passes) when not
/// root.
pub(crate) fn with_lab(tag: &str, body: impl FnOnce(&mut Lab) -> Result<()>) -> Result<()> {
    with_lab_config(tag, |_| {}, body)
}

/// [`with_lab`] with the lab's configuration changed by `configure` first.
pub(crate) fn with_lab_config(
    tag: &str,
    configure: impl FnOnce(&mut LabConfig),
    body: impl FnOnce(&mut Lab) -> Result<()>,
) -> Result<()> {
    if let Some(why) = cannot_run() {
        eprintln!("SKIP: {why}");
        return Ok(());
    }
    let before = netns_list();
    let prefix = format!("wl{}{tag}-", std::process::id());
    let dir = tempfile::tempdir()?;
    let mut config = LabConfig::new(env!("CARGO_BIN_EXE_weft"), dir.path().join("lab"));
    configure(&mut config);
    let started = Instant::now();
    let mut lab = Lab::up(Topology::reference(&prefix)?, config)?;
    let result = lab
        .start()
        .context("start the server and the agents")
        .and_then(|()| body(&mut lab));
    if let Err(e) = &result {
        eprintln!("[{tag}] FAILED: {e:#}");
        for log in ["server", "agent-os-compute", "agent-k8s-worker"] {
            eprintln!(
                "[{tag}] ---- {log} (last lines) ----\n{}",
                lab.log_tail(log, 40)
            );
        }
    }
    let removed = lab.down();
    eprintln!("[{tag}] done in {:.1} s", started.elapsed().as_secs_f64());
    // `ip netns list` as before, as far as this lab is concerned: every
    // name it makes or removes starts with its prefix, while other tests
    // (and other users of the machine) add and remove their own
    // namespaces meanwhile.
    let outside = |set: &BTreeSet<String>| -> BTreeSet<String> {
        set.iter()
            .filter(|n| n.starts_with(&prefix))
            .cloned()
            .collect()
    };
    let (before, after) = (outside(&before), outside(&netns_list()));
    result?;
    removed.context("teardown")?;
    ensure!(
        before == after,
        "namespaces differ after teardown: left {:?}, gone {:?}",
        after.difference(&before).collect::<Vec<_>>(),
        before.difference(&after).collect::<Vec<_>>()
    );
    Ok(())
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `weft ARGS` inside `host`; its stdout, or an error with its output.
pub(crate) fn weft(lab: &Lab, host: &str, args: &[&str]) -> Result<String> {
    let out = lab.weft(host)?.args(args).output()?;
    ensure!(
        out.status.success(),
        "weft {} (on {host}): {}",
        args.join(" "),
        text(&out)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `weft -o json ARGS` against the API, from the control host.
pub(crate) fn api(lab: &Lab, args: &[&str]) -> Result<Value> {
    let mut all = vec!["-o", "json"];
    all.extend_from_slice(args);
    let out = weft(lab, CONTROL, &all)?;
    serde_json::from_str(&out).with_context(|| format!("weft {}: not JSON: {out}", args.join(" ")))
}

/// `weft -o json ARGS` against a node's agent.
pub(crate) fn agent(lab: &Lab, host: &str, args: &[&str]) -> Result<Value> {
    let mut all = vec!["-o", "json"];
    all.extend_from_slice(args);
    let out = weft(lab, host, &all)?;
    serde_json::from_str(&out).with_context(|| format!("weft {}: not JSON: {out}", args.join(" ")))
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .with_context(|| format!("no string {key:?} in {v}"))
}

/// Polls `check` until it holds or `timeout` passes.
pub(crate) fn wait_for(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("timed out after {timeout:?} waiting for {what}")
}

/// Echo requests sent and replies received by a busybox ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PingResult {
    pub(crate) sent: u32,
    pub(crate) received: u32,
}

impl PingResult {
    pub(crate) fn all(&self) -> bool {
        self.sent > 0 && self.received == self.sent
    }
    pub(crate) fn none(&self) -> bool {
        self.sent > 0 && self.received == 0
    }
}

/// Parses busybox ping's summary line.
pub(crate) fn ping_summary(out: &str) -> Result<PingResult> {
    let line = out
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .with_context(|| format!("no ping summary in: {out}"))?;
    let numbers: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [sent, received, ..] => Ok(PingResult { sent, received }),
        _ => bail!("unreadable ping summary: {line}"),
    }
}

/// `busybox ping -c count -i interval [extra] dst` inside workload `from`.
pub(crate) fn ping_with(
    lab: &Lab,
    from: &str,
    dst: &str,
    count: u32,
    extra: &[&str],
) -> Result<PingResult> {
    let count = count.to_string();
    let mut args = vec!["ping", "-c", &count, "-i", "0.2", "-W", "1"];
    args.extend_from_slice(extra);
    args.push(dst);
    let out = lab.exec(from, "busybox")?.args(&args).output()?;
    ping_summary(&text(&out))
}

pub(crate) fn ping(lab: &Lab, from: &str, dst: &str, count: u32) -> Result<PingResult> {
    ping_with(lab, from, dst, count, &[])
}

/// Pings until every echo of a round is answered (the path converges).
pub(crate) fn ping_until_ok(lab: &Lab, from: &str, dst: &str) -> Result<()> {
    let mut last = None;
    wait_for(
        &format!("{from} → {dst} to answer"),
        Duration::from_secs(20),
        || {
            let result = ping(lab, from, dst, 2);
            let ok = result.as_ref().is_ok_and(PingResult::all);
            last = Some(result);
            ok
        },
    )
    .with_context(|| format!("last round: {last:?}"))
}

/// A port as the API returned it.
#[derive(Debug, Clone)]
pub(crate) struct PortInfo {
    pub(crate) id: String,
    pub(crate) mac: MacAddr,
    pub(crate) ip: Ipv4Addr,
}

/// `weft port create`, reading back id, MAC and first address.
pub(crate) fn create_port(lab: &Lab, args: &[&str]) -> Result<PortInfo> {
    let mut all = vec!["port", "create"];
    all.extend_from_slice(args);
    let port = api(lab, &all)?;
    let ip = port
        .pointer("/fixed_ips/0/ip_address")
        .and_then(Value::as_str)
        .with_context(|| format!("port without address: {port}"))?;
    Ok(PortInfo {
        id: str_of(&port, "id")?.to_owned(),
        mac: str_of(&port, "mac_address")?.parse()?,
        ip: ip.parse()?,
    })
}

/// A pod stand-in on k8s-worker as the CNI plugin makes one: a port from
/// `weft port create ARGS --host k8s-worker --vif-type veth`, then the
/// veth in namespace `workload` holding the port's address (/24) with
/// `gateway` as its default route.
pub(crate) fn pod_stand_in(
    lab: &mut Lab,
    workload: &str,
    args: &[&str],
    gateway: &str,
) -> Result<(PortInfo, Workload)> {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--host", WORKER, "--vif-type", "veth"]);
    let port = create_port(lab, &all)?;
    let pod = lab.add_pod(
        WORKER,
        workload,
        &port.id,
        port.mac,
        format!("{}/24", port.ip).parse()?,
        Some(gateway.parse()?),
    )?;
    Ok((port, pod))
}

/// The nodes of the reference topology, registered through the CLI.
pub(crate) fn register_nodes(lab: &Lab) -> Result<()> {
    for host in lab.topology().computes() {
        weft(
            lab,
            CONTROL,
            &[
                "node",
                "create",
                &host.name,
                "--underlay",
                &host.underlay_ip.to_string(),
            ],
        )?;
    }
    Ok(())
}

/// The seamless scenario's objects and stand-ins.
#[derive(Debug)]
pub(crate) struct Seamless {
    pub(crate) vrf: u32,
    pub(crate) vni: u32,
    pub(crate) vm_port: PortInfo,
    pub(crate) pod_port: PortInfo,
    pub(crate) vm: Workload,
    pub(crate) pod: Workload,
}

pub(crate) const VM_SG: &str = "default-domain:admin:default";
pub(crate) const POD_SG: &str = "default-domain:k8s-seamless:default";

/// DESIGN §2 steps 1–3 through the CLI: VN seamless 192.168.1.0/24 in
/// project k8s-contrail; a VM port (project admin, tap, os-compute) and a
/// pod port (project k8s-seamless, veth, k8s-worker). The pod's project
/// admits all ingress, as kube-manager's namespace default group does.
/// The VM gets its address by DHCP (checked); the pod is addressed
/// statically as the CNI plugin would.
pub(crate) fn seamless(lab: &mut Lab) -> Result<Seamless> {
    register_nodes(lab)?;
    for project in ["k8s-contrail", "admin", "k8s-seamless"] {
        weft(lab, CONTROL, &["project", "create", project])?;
    }
    let vn = api(lab, &["vn", "create", VN, "--subnet", "192.168.1.0/24"])?;
    let vrf = vn["vn_id"].as_u64().context("vn_id")? as u32;
    let vni = vn["vxlan_id"].as_u64().context("vxlan_id")? as u32;
    let vm_port = create_port(
        lab,
        &[
            "--vn",
            VN,
            "--name",
            "vm",
            "--project",
            "admin",
            "--host",
            COMPUTE,
            "--vif-type",
            "tap",
        ],
    )?;
    let pod_port = create_port(
        lab,
        &[
            "--vn",
            VN,
            "--name",
            "cont",
            "--project",
            "k8s-seamless",
            "--host",
            WORKER,
            "--vif-type",
            "veth",
        ],
    )?;
    ensure!(
        vm_port.ip == Ipv4Addr::new(192, 168, 1, 3) && pod_port.ip == Ipv4Addr::new(192, 168, 1, 4),
        "one IPAM: VM {} and pod {}",
        vm_port.ip,
        pod_port.ip
    );
    weft(
        lab,
        CONTROL,
        &[
            "sg",
            "rule",
            "add",
            POD_SG,
            "--direction",
            "ingress",
            "--remote-ip",
            "0.0.0.0/0",
        ],
    )?;
    let vm = lab.add_vm(COMPUTE, "vm", &vm_port.id)?;
    lab.plug_vm(&vm, vm_port.mac)?;
    let pod = lab.add_pod(
        WORKER,
        "pod",
        &pod_port.id,
        pod_port.mac,
        "192.168.1.4/24".parse()?,
        Some(Ipv4Addr::new(192, 168, 1, 1)),
    )?;
    dhcp(lab, &vm, "192.168.1.3", "192.168.1.1")?;
    for (host, prefix) in [(WORKER, "192.168.1.3/32"), (COMPUTE, "192.168.1.4/32")] {
        wait_for(
            &format!("{host} to learn {prefix}"),
            Duration::from_secs(20),
            || route_label(lab, host, vrf, prefix).is_ok_and(|l| l.is_some()),
        )?;
    }
    Ok(Seamless {
        vrf,
        vni,
        vm_port,
        pod_port,
        vm,
        pod,
    })
}

/// The label of a route as `weft rt --get` shows it on `host`.
pub(crate) fn route_label(lab: &Lab, host: &str, vrf: u32, prefix: &str) -> Result<Option<u64>> {
    let route = agent(
        lab,
        host,
        &["rt", "--get", prefix, "--vrf", &vrf.to_string()],
    )?;
    Ok(route.get("label").and_then(Value::as_u64))
}

/// Runs busybox udhcpc in the VM on its tap (weft-lab's event script
/// applies and records the lease); checks address, router and mask.
pub(crate) fn dhcp(lab: &Lab, vm: &Workload, want_ip: &str, want_router: &str) -> Result<()> {
    let got = weft_lab::workload::dhcp(lab, vm)?;
    let field = |k: &str| {
        got.split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_owned()
    };
    ensure!(
        field("ip") == want_ip && field("router") == want_router && field("mask") == "24",
        "DHCP lease: {got}"
    );
    let addrs = lab
        .exec(&vm.name, "ip")?
        .args(["-o", "-4", "addr", "show", "dev", &vm.interface])
        .output()?;
    let addrs = text(&addrs);
    ensure!(
        addrs.contains(&format!("{want_ip}/24")),
        "VM address after DHCP: {addrs}"
    );
    Ok(())
}

/// Adds an ingress rule to `sg` (`--remote-ip X` or `--remote-group G`)
/// and returns its id.
pub(crate) fn add_ingress(lab: &Lab, sg: &str, remote: &[&str]) -> Result<String> {
    let mut args = vec!["sg", "rule", "add", sg, "--direction", "ingress"];
    args.extend_from_slice(remote);
    let rules = api(lab, &args)?;
    let mine = rules
        .as_array()
        .context("rule add answers the group's rules")?
        .iter()
        .find(|r| {
            r["direction"] == "ingress"
                && (r["remote_ip_prefix"].as_str() == remote.get(1).copied()
                    || (remote.first() == Some(&"--remote-group")
                        && !r["remote_group_id"].is_null()
                        && r["remote_group_id"] != r["security_group_id"]))
        })
        .with_context(|| format!("the new rule is not in {rules}"))?;
    Ok(str_of(mine, "id")?.to_owned())
}

/// The drop counter for `reason` (snake case) on `host`.
pub(crate) fn drops(lab: &Lab, host: &str, reason: &str) -> Result<u64> {
    let stats = agent(lab, host, &["dropstats"])?;
    Ok(stats.get(reason).and_then(Value::as_u64).unwrap_or(0))
}
