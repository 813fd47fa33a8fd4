//! The plugin binary against real `weft server` and `weft agent` processes
//! on the reference lab topology (weft-lab: one namespace per host), with
//! real container namespaces, veths and pings through the vRouters.
//!
//! Needs root, `ip`, `busybox`, and the `weft` binary built next to this
//! test (`cargo build -p weft-cli`; `scripts/test` builds the workspace) or
//! named by `WEFT_BIN`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use weft_lab::{Lab, LabConfig, Topology};

const WHY: &str = "needs root and network namespaces: run scripts/test as root";
const WORKER: &str = "k8s-worker";
const COMPUTE: &str = "os-compute";
const CONTROL: &str = "cnt-control";
const POD_NET: &str = "default-domain:k8s-default:k8s-default-pod-network";

fn weft_binary() -> Result<PathBuf> {
    if let Ok(path) = std::env::var("WEFT_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/lab-… → target/<profile>/weft
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("weft"))
        .context("no target dir")?;
    ensure!(
        path.exists(),
        "the weft binary is not built at {} (cargo build -p weft-cli, or set WEFT_BIN)",
        path.display()
    );
    Ok(path)
}

fn cannot_run() -> Option<String> {
    if !std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        return Some(format!("not running as root ({WHY})"));
    }
    for (tool, arg) in [("ip", "-V"), ("busybox", "true")] {
        if Command::new(tool).arg(arg).output().is_err() {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

fn netns_list(prefix: &str) -> BTreeSet<String> {
    std::fs::read_dir("/run/netns")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

fn run(mut command: Command) -> Result<String> {
    let out = command.output()?;
    ensure!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn api(lab: &Lab, args: &[&str]) -> Result<Value> {
    let mut command = lab.weft(CONTROL)?;
    command.args(["-o", "json"]).args(args);
    let out = run(command)?;
    serde_json::from_str(&out).with_context(|| format!("weft {args:?}: not JSON: {out}"))
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !ok() {
        if Instant::now() >= deadline {
            bail!("{what}: not within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// One container: a namespace the test makes, as a runtime would.
struct Pod {
    netns: String,
    container_id: String,
    uid: String,
    name: String,
}

impl Pod {
    fn new(prefix: &str, name: &str, uid: &str) -> Result<Pod> {
        let netns = format!("{prefix}{name}");
        run({
            let mut c = Command::new("ip");
            c.args(["netns", "add", &netns]);
            c
        })?;
        Ok(Pod {
            netns,
            container_id: format!("ctr-{name}-{}", &uid[..8]),
            uid: uid.into(),
            name: name.into(),
        })
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.netns)
    }

    fn ping(&self, dst: &str, count: u32) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.netns, "busybox", "ping", "-c"])
            .arg(count.to_string())
            .args(["-i", "0.2", "-W", "1", dst])
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).contains(&format!(
                    "{count} packets transmitted, {count} packets received"
                ))
            })
    }
}

/// The plugin as containerd calls it; (exit status, stdout as JSON).
fn cni(command: &str, pod: &Pod, conf: &Value) -> Result<(i32, Value)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft-cni"))
        .env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", &pod.container_id)
        .env("CNI_NETNS", pod.path())
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/opt/cni/bin")
        .env(
            "CNI_ARGS",
            format!(
                "IgnoreUnknown=1;K8S_POD_NAMESPACE=web;K8S_POD_NAME={};K8S_POD_UID={}",
                pod.name, pod.uid
            ),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(conf.to_string().as_bytes())?;
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?
    };
    Ok((out.status.code().unwrap_or(-1), value))
}

/// The host's spool: the agent's default, `STATE_DIR/cni-spool`.
fn spool(lab: &Lab, host: &str) -> PathBuf {
    lab.agent_state_dir(host).join("cni-spool")
}

fn conf(lab: &Lab, host: &str) -> Value {
    json!({
        "cniVersion": "0.4.0",
        "name": "weft",
        "type": "weft-cni",
        "agentSocket": lab.cni_socket(host),
        "spoolDir": spool(lab, host),
    })
}

fn add(pod: &Pod, conf: &Value) -> Result<Value> {
    let (exit, result) = cni("ADD", pod, conf)?;
    ensure!(exit == 0, "ADD {}: {result}", pod.name);
    Ok(result)
}

/// `ip -o link show dev eth0` inside the pod.
fn eth0_link(pod: &Pod) -> Result<String> {
    let mut c = Command::new("ip");
    c.args(["-n", &pod.netns, "-o", "link", "show", "dev", "eth0"]);
    run(c)
}

/// The `mtu N` of an `ip -o link` line.
fn mtu_of(line: &str) -> Option<u32> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == "mtu")?;
    words.next()?.parse().ok()
}

fn port_ids(lab: &Lab) -> Result<BTreeSet<String>> {
    let mut command = lab.weft(CONTROL)?;
    command.args(["-o", "json", "port", "list"]);
    let out = run(command)?;
    // One array, or one object per line.
    let mut ids = BTreeSet::new();
    for value in serde_json::Deserializer::from_str(&out).into_iter::<Value>() {
        let value = value.with_context(|| format!("weft port list: not JSON: {out}"))?;
        let items = match value {
            Value::Array(items) => items,
            one => vec![one],
        };
        for port in items {
            ids.insert(port["id"].as_str().context("a port without id")?.to_owned());
        }
    }
    Ok(ids)
}

fn scenario(lab: &mut Lab, prefix: &str) -> Result<()> {
    for host in [COMPUTE, WORKER] {
        let ip = lab.topology().host(host)?.underlay_ip.to_string();
        api(lab, &["node", "create", host, "--underlay", &ip])?;
    }
    // The pod network does not exist yet: ADD says so, clearly.
    let early = Pod::new(prefix, "early", "9b3c4d5e-0000-4000-8000-000000000009")?;
    let (exit, err) = cni("ADD", &early, &conf(lab, WORKER))?;
    ensure!(
        exit != 0 && err["code"] == 100 && err["msg"].as_str().unwrap_or("").contains(POD_NET),
        "ADD before the pod network exists: {err}"
    );
    api(lab, &["project", "create", "k8s-default"])?;
    api(lab, &["vn", "create", POD_NET, "--subnet", "10.32.0.0/24"])?;

    let worker = conf(lab, WORKER);
    let compute = conf(lab, COMPUTE);
    let a = Pod::new(prefix, "a", "ab3c4d5e-0000-4000-8000-00000000000a")?;
    let b = Pod::new(prefix, "b", "bb3c4d5e-0000-4000-8000-00000000000b")?;
    let ra = add(&a, &worker)?;
    ensure!(ra["ips"][0]["address"] == "10.32.0.3/24", "pod a: {ra}");
    ensure!(ra["ips"][0]["gateway"] == "10.32.0.1", "pod a: {ra}");
    ensure!(
        ra["ips"][0]["version"] == "4",
        "0.4.0 results carry the IP version: {ra}"
    );
    let rb = add(&b, &compute)?;
    ensure!(rb["ips"][0]["address"] == "10.32.0.4/24", "pod b: {rb}");
    // ADD again: the same answer, no second port.
    let again = add(&a, &worker)?;
    ensure!(again == ra, "repeated ADD: {again} vs {ra}");
    ensure!(port_ids(lab)?.len() == 2, "two pods, two ports");

    // The container's interface as ADD describes it.
    let link = run({
        let mut c = Command::new("ip");
        c.args(["-n", &a.netns, "-o", "addr", "show", "dev", "eth0"]);
        c
    })?;
    ensure!(link.contains("10.32.0.3/24"), "eth0 of pod a: {link}");
    let mtu = eth0_link(&a)?;
    let underlay = run({
        let mut c = Command::new("ip");
        c.args([
            "-n",
            lab.netns(WORKER)?.name(),
            "-o",
            "link",
            "show",
            "dev",
            "eth0",
        ]);
        c
    })?;
    let (pod_mtu, underlay_mtu) = (mtu_of(&mtu), mtu_of(&underlay));
    ensure!(
        pod_mtu.is_some() && pod_mtu == underlay_mtu.map(|m| m - 50),
        "the pod's MTU leaves room for the tunnel: pod {pod_mtu:?}, underlay {underlay_mtu:?}"
    );

    // Gateway (the vRouter) and the pod on the other node, through the
    // tunnel. ADD answered once the vRouter held the interface, so the
    // gateway answers at once.
    ensure!(a.ping("10.32.0.1", 2), "pod a → gateway right after ADD");
    wait_for("pod a → pod b", Duration::from_secs(20), || {
        a.ping("10.32.0.4", 2)
    })?;
    ensure!(b.ping("10.32.0.3", 3), "pod b → pod a");

    // CHECK against what ADD returned.
    let mut check = worker.clone();
    check["prevResult"] = ra.clone();
    let (exit, out) = cni("CHECK", &a, &check)?;
    ensure!(exit == 0, "CHECK of pod a: {out}");

    // DEL frees the address: a new pod gets .3 back.
    let (exit, out) = cni("DEL", &a, &worker)?;
    ensure!(exit == 0 && out.is_null(), "DEL of pod a: {out}");
    ensure!(!port_ids(lab)?.contains(&a.uid), "pod a's port is gone");
    let (exit, out) = cni("CHECK", &a, &check)?;
    ensure!(exit != 0 && out["code"] == 3, "CHECK after DEL: {out}");
    let (exit, out) = cni("DEL", &a, &worker)?;
    ensure!(exit == 0, "a second DEL succeeds: {out}");
    let c = Pod::new(prefix, "c", "cb3c4d5e-0000-4000-8000-00000000000c")?;
    let rc = add(&c, &worker)?;
    ensure!(
        rc["ips"][0]["address"] == "10.32.0.3/24",
        "pod c reuses .3: {rc}"
    );
    wait_for("pod c → pod b", Duration::from_secs(20), || {
        c.ping("10.32.0.4", 2)
    })?;

    // A burst, as a kubelet starts pods: ADDs at once are plugged one after
    // the other but wait for the vRouter together, and the vRouter takes
    // each interface as soon as it is made (not at its next 500 ms look), so
    // ten take far less than the ten looks they took one by one.
    let burst: Vec<Pod> = (0..10)
        .map(|i| {
            Pod::new(
                prefix,
                &format!("burst{i}"),
                // Host interfaces are named after the first 11 characters.
                &format!("d{i}b3c4d5-0000-4000-8000-00000000000d"),
            )
        })
        .collect::<Result<_>>()?;
    let started = Instant::now();
    let results: Vec<Result<Value>> = std::thread::scope(|s| {
        let handles: Vec<_> = burst.iter().map(|p| s.spawn(|| add(p, &worker))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("ADD thread panicked")))
            })
            .collect()
    });
    let took = started.elapsed();
    let mut addresses = BTreeSet::new();
    for r in results {
        addresses.insert(r?["ips"][0]["address"].as_str().unwrap_or("").to_owned());
    }
    ensure!(
        addresses.len() == 10,
        "ten pods, ten addresses: {addresses:?}"
    );
    ensure!(
        took < Duration::from_secs(3),
        "10 ADDs at once took {took:?} (one 500 ms attach retry each would be 5 s)"
    );
    for p in &burst {
        ensure!(
            p.ping("10.32.0.1", 1),
            "pod {} → gateway right after the burst",
            p.name
        );
        let (exit, out) = cni("DEL", p, &worker)?;
        ensure!(exit == 0, "DEL of pod {}: {out}", p.name);
    }

    // A network's own MTU is the pod's, within what the node allows.
    api(lab, &["vn", "update", POD_NET, "--mtu", "1300"])?;
    let m = Pod::new(prefix, "m", "eb3c4d5e-0000-4000-8000-00000000000e")?;
    let rm = add(&m, &worker)?;
    let m_mtu = mtu_of(&eth0_link(&m)?);
    ensure!(
        m_mtu == Some(1300),
        "a pod on a network with MTU 1300 has {m_mtu:?}: {rm}"
    );
    let (exit, out) = cni("DEL", &m, &worker)?;
    ensure!(exit == 0, "DEL of pod m: {out}");
    api(lab, &["vn", "update", POD_NET, "--mtu", "0"])?;

    // Restarts keep addresses: server and the compute agent go and come back.
    lab.stop_server();
    lab.stop_agent(COMPUTE);
    lab.start_server()?;
    lab.start_agent(COMPUTE)?;
    let rb2 = add(&b, &compute)?;
    ensure!(rb2 == rb, "pod b after restarts: {rb2} vs {rb}");
    wait_for(
        "pod c → pod b after restarts",
        Duration::from_secs(30),
        || c.ping("10.32.0.4", 2),
    )?;

    // DEL with the agent stopped succeeds, and is finished once it is back.
    lab.stop_agent(WORKER);
    let (exit, out) = cni("DEL", &c, &worker)?;
    ensure!(exit == 0 && out.is_null(), "DEL with the agent away: {out}");
    let spooled = spool(lab, WORKER).join(format!("{}.eth0.json", c.container_id));
    ensure!(spooled.exists(), "the DEL waits in {}", spooled.display());
    ensure!(
        port_ids(lab)?.contains(&c.uid),
        "the port stays until the agent is back"
    );
    lab.start_agent(WORKER)?;
    wait_for(
        "the spooled DEL to be done",
        Duration::from_secs(20),
        || !spooled.exists() && port_ids(lab).is_ok_and(|p| !p.contains(&c.uid)),
    )?;
    let host_if = format!("veth{}", &c.uid[..11]);
    let links = run({
        let mut cmd = Command::new("ip");
        cmd.args(["-n", lab.netns(WORKER)?.name(), "-o", "link", "show"]);
        cmd
    })?;
    ensure!(!links.contains(&host_if), "{host_if} is removed: {links}");

    // DEL with the server away: done on the node at once, the port deleted
    // once the server is back.
    lab.stop_server();
    let (exit, out) = cni("DEL", &b, &compute)?;
    ensure!(
        exit == 0 && out.is_null(),
        "DEL with the server away: {out}"
    );
    ensure!(!b.ping("10.32.0.1", 1), "pod b is unplugged");
    lab.start_server()?;
    wait_for("the queued port deletion", Duration::from_secs(20), || {
        port_ids(lab).is_ok_and(|p| !p.contains(&b.uid))
    })?;
    Ok(())
}

#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn pods_get_addresses_on_the_default_pod_network() -> Result<()> {
    if let Some(why) = cannot_run() {
        eprintln!("SKIP: {why}");
        return Ok(());
    }
    let prefix = format!("wc{}-", std::process::id());
    let before = netns_list(&prefix);
    let dir = tempfile::tempdir()?;
    let config = LabConfig::new(weft_binary()?, dir.path().join("lab"));
    let mut lab = Lab::up(Topology::reference(&prefix)?, config)?;
    let result = lab
        .start()
        .context("start the server and the agents")
        .and_then(|()| scenario(&mut lab, &prefix));
    if let Err(e) = &result {
        eprintln!("FAILED: {e:#}");
        for log in ["server", "agent-os-compute", "agent-k8s-worker"] {
            eprintln!("---- {log} (last lines) ----\n{}", lab.log_tail(log, 40));
        }
    }
    let removed = lab.down();
    result?;
    removed.context("teardown")?;
    ensure!(
        netns_list(&prefix) == before,
        "namespaces left: {:?}",
        netns_list(&prefix)
    );
    Ok(())
}
