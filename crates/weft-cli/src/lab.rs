//! `weft lab`: the reference topology on this machine (weft-lab), brought
//! up once and used by later commands, or played from nothing to nothing.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use weft_lab::scenario::{OpenstackCli, Real, RealKube, RealVm};
use weft_lab::{Inventory, Lab, LabConfig, Plan, Role, Settings, Topology};

use crate::args::{LabArgs, LabCmd, LabExecArgs, LabScenarioArgs, LabScenarioCmd, LabUpArgs};
use crate::output::text;

/// How long a lab process gets after SIGTERM on `down`.
const GRACE: Duration = Duration::from_secs(5);

pub(crate) fn run(cmd: LabCmd) -> anyhow::Result<()> {
    match cmd {
        LabCmd::Up(args) => up(&args).map(|_| ()),
        LabCmd::Scenario(LabScenarioCmd::Seed(args)) => scenario_seed(&args),
        LabCmd::Status(args) => status(&args),
        LabCmd::Exec(args) => exec(args),
        LabCmd::Down(args) => down(&args),
        LabCmd::Seed(args) => seed(&args),
    }
}

fn state_dir(args: &LabArgs) -> PathBuf {
    args.state_dir.join(args.prefix.trim_end_matches('-'))
}

fn config(args: &LabArgs) -> anyhow::Result<LabConfig> {
    let weft = std::env::current_exe().context("find the weft binary")?;
    Ok(LabConfig::new(weft, state_dir(args)))
}

fn elapsed(since: Instant) -> String {
    format!("{:>5.1} s", since.elapsed().as_secs_f64())
}

/// What to build: the inventory's hosts and settings, or DESIGN.md §2.
/// Keys of the inventory the lab does not use are listed.
fn plan_for(args: &LabUpArgs) -> anyhow::Result<Plan> {
    let Some(file) = &args.inventory else {
        return Ok(Plan {
            topology: Topology::reference(&args.lab.prefix)?,
            settings: Settings::default(),
        });
    };
    let source = std::fs::read_to_string(file)
        .with_context(|| format!("read the inventory {}", file.display()))?;
    let inventory = Inventory::parse(&source, &args.lab.prefix)
        .with_context(|| format!("inventory {}", file.display()))?;
    for note in &inventory.notes {
        text(&format!("inventory: {note}"));
    }
    Ok(Plan {
        topology: inventory.topology,
        settings: inventory.settings,
    })
}

/// The plan of the lab that is up (saved by `up`), or DESIGN.md §2.
fn plan(args: &LabArgs) -> anyhow::Result<Plan> {
    match Plan::load(&state_dir(args))? {
        Some(plan) => Ok(plan),
        None => Ok(Plan {
            topology: Topology::reference(&args.prefix)?,
            settings: Settings::default(),
        }),
    }
}

/// Builds the lab and starts its processes, reporting each step.
fn build(args: &LabUpArgs) -> anyhow::Result<Lab> {
    let started = Instant::now();
    let plan = plan_for(args)?;
    let mut lab =
        Lab::up(plan.topology.clone(), config(&args.lab)?).context("build the lab's namespaces")?;
    plan.save(&state_dir(&args.lab))?;
    text(&format!(
        "[{}] namespaces and fabric of lab {:?} ({} hosts)",
        elapsed(started),
        args.lab.prefix,
        plan.topology.hosts().len()
    ));
    if args.full {
        full_openstack(&mut lab, &plan.topology, args, started)?;
        full_kubernetes(&mut lab, &plan.topology, args, started)?;
    }
    lab.start_server().context("start weft server")?;
    let control = plan.topology.control()?.name.clone();
    text(&format!("[{}] weft server on {control}", elapsed(started)));
    apply_settings(&lab, &control, &plan.settings)?;
    let computes: Vec<String> = plan.topology.computes().map(|h| h.name.clone()).collect();
    for host in computes {
        lab.start_agent(&host)
            .with_context(|| format!("start the agent of {host}"))?;
        text(&format!("[{}] weft agent on {host}", elapsed(started)));
    }
    Ok(lab)
}

/// Where Keystone listens on the OpenStack control host.
const KEYSTONE_PORT: u16 = 5000;

/// The project's scripts directory.
fn scripts_dir(args: &LabUpArgs) -> anyhow::Result<PathBuf> {
    let dir = args
        .scripts
        .clone()
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts")));
    if !dir.join("openstack-env").is_file() {
        bail!(
            "no scripts/openstack-env in {} (give --scripts DIR or WEFT_SCRIPTS)",
            dir.display()
        );
    }
    Ok(dir)
}

/// `--full`, OpenStack side: a real Keystone (from the project's venv) in
/// the OpenStack control host's namespace, with weft's Neutron API in its
/// catalog; the server then validates tokens against it. Writes an admin
/// openrc into the lab's state dir for `weft lab exec`.
fn full_openstack(
    lab: &mut Lab,
    topology: &Topology,
    args: &LabUpArgs,
    started: Instant,
) -> anyhow::Result<()> {
    let Some(host) = topology.first_with(Role::Openstack) else {
        text("  --full: the inventory has no openstack host; no Keystone");
        return Ok(());
    };
    let scripts = scripts_dir(args)?;
    let dir = state_dir(&args.lab).join("keystone");
    let listen = format!("{}:{KEYSTONE_PORT}", host.underlay_ip);
    let out = std::process::Command::new(scripts.join("openstack-env"))
        .arg("keystone")
        .arg(&dir)
        .args(["--netns", &topology.netns(&host.name), "--listen", &listen])
        .args(["--network-endpoint", &topology.neutron_url()?])
        .output()
        .context("run scripts/openstack-env keystone")?;
    if !out.status.success() {
        bail!(
            "Keystone on {}: {}",
            host.name,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let url = format!("http://{listen}");
    lab.set_neutron_auth(weft_lab::NeutronAuth::Keystone {
        url: url.clone(),
        user: "neutron".into(),
        password: "secret".into(),
        project: "service".into(),
        domain: "Default".into(),
    });
    text(&format!(
        "[{}] Keystone on {} ({url}), weft's Neutron API in its catalog",
        elapsed(started),
        host.name
    ));
    if topology.first_with(Role::OpenstackCompute).is_some() {
        let image = match std::env::var_os("WEFT_VM_IMAGE") {
            Some(image) => PathBuf::from(image),
            None => {
                let out = std::process::Command::new(scripts.join("vm-image"))
                    .output()
                    .context("run scripts/vm-image")?;
                if !out.status.success() {
                    bail!(
                        "the VM image: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            }
        };
        std::fs::write(
            state_dir(&args.lab).join(VM_IMAGE_FILE),
            image.as_os_str().as_encoded_bytes(),
        )
        .context("record the VM image")?;
        text(&format!(
            "[{}] VM image {} (kernel + busybox, for QEMU)",
            elapsed(started),
            image.display()
        ));
    }
    Ok(())
}

/// Where the registry serving `alpine` listens in the Kubernetes node's
/// namespace (its loopback: containerd pulls from there).
const REGISTRY_ADDR: &str = "127.0.0.1:5000";

/// The standard CNI loopback plugin.
const CNI_LOOPBACK: &str = "/usr/lib/cni/loopback";

/// Where `up --full` records the manifest the scenario applies.
const KUBE_MANIFEST_FILE: &str = "kubernetes-manifest";

/// The `KEY=value` lines of a file.
fn env_file(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Runs a project script; its stdout (trimmed). Its stderr goes to ours
/// when `progress` (a build shows what it does), else into the error.
fn script(
    path: &std::path::Path,
    args: &[&std::ffi::OsStr],
    progress: bool,
) -> anyhow::Result<String> {
    let mut command = std::process::Command::new(path);
    command.args(args);
    if progress {
        command.stderr(std::process::Stdio::inherit());
    }
    let out = command
        .output()
        .with_context(|| format!("run {}", path.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The `weft-cni` plugin binary: WEFT_CNI, or next to this weft.
fn cni_plugin() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("WEFT_CNI") {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()
            .context("find the weft binary")?
            .with_file_name("weft-cni"),
    };
    if !path.is_file() {
        bail!(
            "no weft-cni plugin at {} (cargo build -p weft-cni, or set WEFT_CNI)",
            path.display()
        );
    }
    Ok(path)
}

/// `--full`, Kubernetes side: the cluster of scripts/k8s-cluster on the
/// master and worker hosts (Kubernetes built by scripts/k8s-build when
/// missing), its pods networked by the weft CNI through the worker's
/// agent, and images pulled from a registry on the worker's loopback that
/// serves `alpine` (scripts/k8s-registry) as containerd's docker.io mirror.
/// The server started next runs kube-manager for it.
fn full_kubernetes(
    lab: &mut Lab,
    topology: &Topology,
    args: &LabUpArgs,
    started: Instant,
) -> anyhow::Result<()> {
    let (Some(master), Some(worker)) = (
        topology.first_with(Role::KubernetesMaster),
        topology.first_with(Role::KubernetesNode),
    ) else {
        text("  --full: the inventory has no Kubernetes master and node; no cluster");
        return Ok(());
    };
    let scripts = scripts_dir(args)?;
    let state = state_dir(&args.lab);
    let manifest = scripts.join("../examples/cn.yaml");
    let manifest = manifest
        .canonicalize()
        .with_context(|| format!("the seed's manifest {}", manifest.display()))?;
    std::fs::write(
        state.join(KUBE_MANIFEST_FILE),
        manifest.as_os_str().as_encoded_bytes(),
    )
    .context("record the manifest")?;
    let plugin = cni_plugin()?;

    text("  Kubernetes: scripts/k8s-build (once: 10-25 min on 2 cores, then cached)");
    let k8s = script(&scripts.join("k8s-build"), &[], true)?;
    text(&format!(
        "[{}] Kubernetes binaries in {k8s}",
        elapsed(started)
    ));

    let store = script(&scripts.join("k8s-registry"), &["store".as_ref()], true)?;
    let config = state.join("registry.yml");
    script(
        &scripts.join("k8s-registry"),
        &[
            "config".as_ref(),
            "--store".as_ref(),
            store.as_ref(),
            "--listen".as_ref(),
            REGISTRY_ADDR.as_ref(),
            "--out".as_ref(),
            config.as_os_str(),
        ],
        false,
    )?;
    let ns = lab.netns(&worker.name)?.clone();
    let mut command = weft_lab::process::in_netns(ns.name(), "docker-registry");
    command.arg("serve").arg(&config);
    let mut registry =
        weft_lab::Process::spawn("docker-registry", command, &state.join("registry.log"))?;
    let addr: std::net::SocketAddr = REGISTRY_ADDR.parse().context("registry address")?;
    registry.wait_until(Duration::from_secs(20), || {
        weft_lab::http::get(&ns, addr, "/v2/").is_ok_and(|(status, _)| status == 200)
    })?;
    // Ended with the worker's namespace on teardown.
    registry.release();
    text(&format!(
        "[{}] registry on {} ({REGISTRY_ADDR}) serving alpine, from {store}",
        elapsed(started),
        worker.name
    ));

    // The weft CNI: the plugin and a conflist naming the worker agent's socket.
    let cni = state.join("cni");
    std::fs::create_dir_all(cni.join("bin")).context("make the CNI dirs")?;
    std::fs::create_dir_all(cni.join("net.d")).context("make the CNI dirs")?;
    std::os::unix::fs::symlink(&plugin, cni.join("bin").join("weft-cni"))
        .context("link the weft-cni plugin")?;
    // containerd brings each pod's `lo` up with the standard plugin, from
    // the same directory (Debian's containernetworking-plugins).
    let loopback = std::path::Path::new(CNI_LOOPBACK);
    if !loopback.is_file() {
        bail!(
            "no CNI loopback plugin at {CNI_LOOPBACK} (scripts/k8s-build installs containernetworking-plugins)"
        );
    }
    std::os::unix::fs::symlink(loopback, cni.join("bin").join("loopback"))
        .context("link the CNI loopback plugin")?;
    let conflist = serde_json::json!({
        "cniVersion": "0.4.0",
        "name": "weft",
        "plugins": [{
            "type": "weft-cni",
            "agentSocket": lab.cni_socket(&worker.name),
            "spoolDir": lab.agent_state_dir(&worker.name).join("cni-spool"),
            "cluster": "k8s",
        }],
    });
    std::fs::write(
        cni.join("net.d").join("10-weft.conflist"),
        serde_json::to_string_pretty(&conflist)?,
    )
    .context("write the CNI conflist")?;

    let harness = scripts.join("k8s-cluster");
    // From here on every teardown takes the cluster down.
    std::fs::write(
        state.join(weft_lab::lab::KUBERNETES_HARNESS),
        harness.as_os_str().as_encoded_bytes(),
    )
    .context("record the cluster harness")?;
    let cluster = state.join(weft_lab::lab::KUBERNETES_DIR);
    let mirror = format!("http://{REGISTRY_ADDR}");
    let (bin_dir, conf_dir) = (cni.join("bin"), cni.join("net.d"));
    let (master_ip, worker_ip) = (
        master.underlay_ip.to_string(),
        worker.underlay_ip.to_string(),
    );
    let (master_ns, worker_ns) = (topology.netns(&master.name), topology.netns(&worker.name));
    let up: Vec<&std::ffi::OsStr> = vec![
        "up".as_ref(),
        "--state".as_ref(),
        cluster.as_os_str(),
        "--master-netns".as_ref(),
        master_ns.as_ref(),
        "--master-ip".as_ref(),
        master_ip.as_ref(),
        "--worker-netns".as_ref(),
        worker_ns.as_ref(),
        "--worker-ip".as_ref(),
        worker_ip.as_ref(),
        "--cni-bin-dir".as_ref(),
        bin_dir.as_os_str(),
        "--cni-conf-dir".as_ref(),
        conf_dir.as_os_str(),
        "--registry-mirror".as_ref(),
        mirror.as_ref(),
    ];
    script(&harness, &up, false).context("the Kubernetes cluster")?;
    let pid = std::fs::read_to_string(cluster.join("pids").join("containerd.pid"))
        .context("read the cluster's containerd pid")?;
    let pid: u32 = pid
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .context("the cluster's containerd pid file is unreadable")?;
    lab.set_kubernetes(cluster.join("admin.kubeconfig"), pid);
    text(&format!(
        "[{}] Kubernetes: apiserver on {} (https://{master_ip}:6443), node {} Ready, CNI weft-cni",
        elapsed(started),
        master.name,
        worker.name
    ));
    Ok(())
}

/// The Kubernetes binaries of the lab's cluster (scripts/k8s-cluster's
/// `K8S_BIN`), if `--full` made one.
fn kubernetes_bin(state: &std::path::Path) -> Option<PathBuf> {
    let env = env_file(&state.join(weft_lab::lab::KUBERNETES_DIR).join("env"));
    env.into_iter()
        .find(|(k, _)| k == "K8S_BIN")
        .map(|(_, v)| PathBuf::from(v))
}

/// Where `up --full` records the VM image for the scenario.
const VM_IMAGE_FILE: &str = "vm-image";

/// The `key=value` lines of the env file `scripts/openstack-env keystone`
/// wrote for the lab, if `--full` made one.
fn keystone_env(state: &std::path::Path) -> Option<Vec<(String, String)>> {
    let text = std::fs::read_to_string(state.join("keystone").join("keystone.env")).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

/// The inventory's deployment-wide settings, through the lab's API.
fn apply_settings(lab: &Lab, control: &str, settings: &Settings) -> anyhow::Result<()> {
    let mut set = vec!["global".to_owned(), "set".to_owned()];
    if let Some(encap) = &settings.encapsulation {
        set.extend(["--encap".to_owned(), encap.join(",")]);
    }
    if let Some(asn) = settings.asn {
        set.extend(["--asn".to_owned(), asn.to_string()]);
    }
    if set.len() == 2 {
        return Ok(());
    }
    let out = lab
        .weft(control)?
        .args(&set)
        .output()
        .context("run weft global set")?;
    if !out.status.success() {
        bail!(
            "weft {}: {}",
            set.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    text(&format!("  settings: weft {}", set.join(" ")));
    Ok(())
}

/// The agents' log names, for showing what went wrong.
fn agent_logs(topology: &Topology) -> Vec<String> {
    std::iter::once("server".to_owned())
        .chain(topology.computes().map(|h| format!("agent-{}", h.name)))
        .collect()
}

fn up(args: &LabUpArgs) -> anyhow::Result<()> {
    let lab = build(args)?;
    for host in lab.topology().hosts() {
        text(&format!(
            "  {:<12} {:<16} {:<20} {}",
            host.name,
            host.underlay_ip,
            lab.topology().netns(&host.name),
            host.role_names()
        ));
    }
    let pids = lab.leave_running();
    for (name, pid) in pids {
        text(&format!("  {name}: pid {pid}"));
    }
    text(&format!(
        "lab {:?} is up; `weft lab scenario seed`, `weft lab exec HOST -- CMD`, `weft lab down`",
        args.lab.prefix
    ));
    Ok(())
}

fn attach(args: &LabArgs) -> anyhow::Result<Lab> {
    Ok(Lab::attach(plan(args)?.topology, config(args)?)?)
}

/// The demo user's `openstack` CLI when the lab runs a real Keystone.
fn openstack_user(topology: &Topology, state: &std::path::Path) -> Option<OpenstackCli> {
    let vars = keystone_env(state)?;
    let host = topology.first_with(Role::Openstack)?.name.clone();
    let venv = vars.iter().find(|(k, _)| k == "OPENSTACK_VENV")?.1.clone();
    let mut env: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with("OS_"))
        .collect();
    for (k, v) in [
        ("OS_USERNAME", "demo"),
        ("OS_PASSWORD", "secret"),
        ("OS_PROJECT_NAME", "k8s-contrail"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    Some(OpenstackCli {
        host,
        program: PathBuf::from(venv).join("bin").join("openstack"),
        env,
    })
}

/// The real parts `up --full` brought up, for the scenario: the `openstack`
/// CLI of user demo, and `weft vm` as the admin (with the VM image).
fn real_parts(topology: &Topology, state: &std::path::Path) -> Real {
    let openstack = openstack_user(topology, state);
    let vm = std::fs::read_to_string(state.join(VM_IMAGE_FILE))
        .ok()
        .zip(keystone_env(state))
        .map(|(image, vars)| {
            let mut env: Vec<(String, String)> = vars
                .into_iter()
                .filter(|(k, _)| k.starts_with("OS_"))
                .collect();
            for (k, v) in [
                ("OS_USERNAME", "admin"),
                ("OS_PASSWORD", "secret"),
                ("OS_PROJECT_NAME", "admin"),
            ] {
                env.push((k.to_owned(), v.to_owned()));
            }
            env.push(("WEFT_VM_IMAGE".into(), image.trim().to_owned()));
            env.push((
                "WEFT_VM_STATE_DIR".into(),
                state.join("vms").to_string_lossy().into_owned(),
            ));
            RealVm { env }
        });
    let kube = kubernetes_bin(state)
        .zip(std::fs::read_to_string(state.join(KUBE_MANIFEST_FILE)).ok())
        .zip(topology.first_with(Role::KubernetesMaster))
        .map(|((bin, manifest), master)| RealKube {
            host: master.name.clone(),
            kubectl: bin.join("kubectl"),
            kubeconfig: state
                .join(weft_lab::lab::KUBERNETES_DIR)
                .join("admin.kubeconfig"),
            manifest: PathBuf::from(manifest),
        });
    Real {
        openstack,
        vm,
        kube,
    }
}

/// The real parts the lab's hosts call for but `real` lacks.
fn missing_parts(topology: &Topology, real: &Real) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if topology.first_with(Role::Openstack).is_some() && real.openstack.is_none() {
        missing.push("Keystone and the openstack CLI");
    }
    if topology.first_with(Role::OpenstackCompute).is_some() && real.vm.is_none() {
        missing.push("the QEMU VM");
    }
    let kubernetes = topology.first_with(Role::KubernetesMaster).is_some()
        && topology.first_with(Role::KubernetesNode).is_some();
    if kubernetes && real.kube.is_none() {
        missing.push("the Kubernetes cluster");
    }
    missing
}

fn scenario_seed(scenario: &LabScenarioArgs) -> anyhow::Result<()> {
    let args = &scenario.lab;
    let mut lab = attach(args)?;
    let real = real_parts(lab.topology(), &state_dir(args));
    let missing = missing_parts(lab.topology(), &real);
    if scenario.full && !missing.is_empty() {
        bail!(
            "--full: lab {:?} has no {} (bring it up with `weft lab up --full`)",
            args.prefix,
            missing.join(", ")
        );
    }
    let result = weft_lab::scenario::seed_with(&mut lab, &mut std::io::stdout(), real);
    if result.is_err() {
        for log in agent_logs(lab.topology()) {
            eprintln!("---- {log} (last lines) ----\n{}", lab.log_tail(&log, 20));
        }
    }
    Ok(result?)
}

fn status(args: &LabArgs) -> anyhow::Result<()> {
    let namespaces = weft_lab::survey(&args.prefix);
    if namespaces.is_empty() {
        text(&format!("no lab {:?} is up", args.prefix));
        return Ok(());
    }
    let topology = plan(args)?.topology;
    for ns in namespaces {
        let name = ns.name.strip_prefix(&args.prefix).unwrap_or(&ns.name);
        let role = topology
            .hosts()
            .iter()
            .find(|h| h.name == name)
            .map_or_else(
                || {
                    if name == "fabric" {
                        "fabric (underlay bridge)".to_owned()
                    } else {
                        "workload".to_owned()
                    }
                },
                |h| format!("{} ({})", h.underlay_ip, h.role_names()),
            );
        let processes: Vec<String> = ns
            .pids
            .iter()
            .map(|pid| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .map(|c| c.replace('\0', " ").trim().to_owned())
                    .unwrap_or_default();
                format!("{pid} {comm}")
            })
            .collect();
        text(&format!("{name:<12} {role}"));
        for p in processes {
            text(&format!("    {p}"));
        }
    }
    text("health");
    for (host, check) in health(args, &topology) {
        text(&format!("  {host:<12} {check}"));
    }
    Ok(())
}

/// Whether what runs in the lab answers: the server's APIs, each agent's
/// introspection (with its vif count), Keystone under `--full`.
fn health(args: &LabArgs, topology: &Topology) -> Vec<(String, String)> {
    let Ok(lab) = attach(args) else {
        return vec![("lab".into(), "cannot open its namespaces".into())];
    };
    let probe = |host: &str, addr: std::net::SocketAddr, path: &str| -> Result<String, String> {
        let ns = lab.netns(host).map_err(|e| e.to_string())?;
        match weft_lab::http::get(ns, addr, path) {
            Ok((status, body)) if status < 300 => Ok(body),
            Ok((status, _)) => Err(format!("answers {status}")),
            Err(e) => Err(format!("does not answer ({e})")),
        }
    };
    let verdict = |what: &str, r: Result<String, String>| match r {
        Ok(_) => format!("{what}: ok"),
        Err(e) => format!("{what}: DOWN, {e}"),
    };
    let mut out = Vec::new();
    if let (Ok(control), Ok(api)) = (topology.control(), topology.api_addr()) {
        let neutron = std::net::SocketAddr::new(api.ip(), weft_lab::topology::NEUTRON_PORT);
        out.push((
            control.name.clone(),
            format!(
                "{}; {}",
                verdict("weft server API", probe(&control.name, api, "/")),
                verdict("Neutron API", probe(&control.name, neutron, "/"))
            ),
        ));
    }
    for host in topology.computes() {
        let introspect = std::net::SocketAddr::from((
            std::net::Ipv4Addr::LOCALHOST,
            weft_lab::topology::INTROSPECT_PORT,
        ));
        let check = match probe(&host.name, introspect, "/vifs") {
            Ok(body) => {
                let vifs = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.as_array().map(Vec::len))
                    .unwrap_or(0);
                format!("weft agent: ok, {vifs} vif(s)")
            }
            Err(e) => format!("weft agent: DOWN, {e}"),
        };
        out.push((host.name.clone(), check));
    }
    if keystone_env(&state_dir(args)).is_some()
        && let Some(host) = topology.first_with(Role::Openstack)
    {
        let keystone = std::net::SocketAddr::from((host.underlay_ip, KEYSTONE_PORT));
        out.push((
            host.name.clone(),
            verdict("Keystone", probe(&host.name, keystone, "/v3")),
        ));
    }
    let state = state_dir(args);
    if let (Some(kube), Some(worker)) = (
        real_parts(topology, &state).kube,
        topology.first_with(Role::KubernetesNode),
    ) {
        let ready = lab.exec(&kube.host, &kube.kubectl).map(|mut c| {
            c.env("KUBECONFIG", &kube.kubeconfig)
                .args(["get", "nodes", "-o"])
                .arg("jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}")
                .output()
        });
        let check = match ready {
            Ok(Ok(o)) if o.status.success() => {
                format!(
                    "Kubernetes: ok, nodes {}",
                    String::from_utf8_lossy(&o.stdout).trim()
                )
            }
            Ok(Ok(o)) => format!(
                "Kubernetes: DOWN, {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Ok(Err(e)) => format!("Kubernetes: DOWN, {e}"),
            Err(e) => format!("Kubernetes: DOWN, {e}"),
        };
        out.push((kube.host.clone(), check));
        if let Ok(addr) = REGISTRY_ADDR.parse() {
            out.push((
                worker.name.clone(),
                verdict(
                    "registry (alpine)",
                    probe(&worker.name, addr, "/v2/library/alpine/tags/list"),
                ),
            ));
        }
    }
    out
}

fn exec(args: LabExecArgs) -> anyhow::Result<()> {
    let topology = plan(&args.lab)?.topology;
    let netns = topology.netns(&args.name);
    let state = state_dir(&args.lab);
    let namespaces = weft_lab::lab_namespaces(&args.lab.prefix);
    if !namespaces.contains(&netns)
        && let Some(kube) = real_parts(&topology, &state).kube
        && args.name == weft_lab::scenario::POD_NAME
    {
        // The scenario's pod of the real cluster: kubectl exec.
        let mut command = std::process::Command::new("ip");
        command
            .args(["netns", "exec", &topology.netns(&kube.host)])
            .arg(&kube.kubectl)
            .args(["exec", "-n", weft_lab::scenario::POD_NAMESPACE])
            .args([weft_lab::scenario::POD_NAME, "--"])
            .args(&args.command)
            .env("KUBECONFIG", &kube.kubeconfig);
        let err = command.exec();
        return Err(err).context("run kubectl exec for pod cont");
    }
    if !namespaces.contains(&netns) {
        bail!(
            "no host or workload {:?} in lab {:?} (is it up?)",
            args.name,
            args.lab.prefix
        );
    }
    let (program, rest) = args.command.split_first().context("no command given")?;
    let mut command = std::process::Command::new("ip");
    command
        .args(["netns", "exec", &netns, program])
        .args(rest)
        .env("WEFT_SERVER", topology.api_url()?)
        .env("WEFT_AGENT", topology.introspect_url());
    if let Ok(host) = topology.host(&args.name) {
        host_environment(&mut command, &topology, host, &state_dir(&args.lab))?;
    }
    let err = command.exec();
    Err(err).with_context(|| format!("run {program} in {netns}"))
}

/// What a person logged in to `host` would have set: an openrc for the
/// admin user where OpenStack runs, KUBECONFIG where Kubernetes runs.
fn host_environment(
    command: &mut std::process::Command,
    topology: &Topology,
    host: &weft_lab::Host,
    state: &std::path::Path,
) -> anyhow::Result<()> {
    // OpenStack hosts, compute nodes too (`weft vm` plays Nova there).
    if host.has(Role::Openstack) || host.has(Role::OpenstackCompute) {
        let mut cli = openstack_cli_dir();
        match keystone_env(state) {
            // `--full`: the admin user's openrc against the lab's Keystone.
            Some(vars) => {
                for (key, value) in &vars {
                    if key.starts_with("OS_") {
                        command.env(key, value);
                    }
                    if key == "OPENSTACK_VENV" {
                        cli = Some(PathBuf::from(value).join("bin"));
                    }
                }
                command
                    .env("OS_USERNAME", "admin")
                    .env("OS_PASSWORD", "secret")
                    .env("OS_PROJECT_NAME", "admin");
            }
            // The lab's Neutron API runs with Neutron's noauth: the CLI's
            // `none` auth plugin talks to it directly, as admin.
            None => {
                command
                    .env("OS_AUTH_TYPE", "none")
                    .env("OS_ENDPOINT", topology.neutron_url()?);
            }
        }
        if let Some(bin) = cli {
            let path = std::env::var("PATH").unwrap_or_default();
            command.env("PATH", format!("{}:{path}", bin.display()));
        }
    }
    if host.has(Role::KubernetesMaster) || host.has(Role::KubernetesNode) {
        let kubeconfig = state
            .join(weft_lab::lab::KUBERNETES_DIR)
            .join("admin.kubeconfig");
        if kubeconfig.exists() {
            command.env("KUBECONFIG", kubeconfig);
        }
        // The cluster's own kubectl, matching its apiserver.
        if let Some(bin) = kubernetes_bin(state) {
            let path = std::env::var("PATH").unwrap_or_default();
            command.env("PATH", format!("{}:{path}", bin.display()));
        }
    }
    Ok(())
}

/// The `openstack` CLI the project's scripts install (scripts/openstack-env
/// makes its venv under WEFT_CACHE), when it is not on PATH already.
fn openstack_cli_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("openstack").is_file()));
    if on_path {
        return None;
    }
    let cache = std::env::var_os("WEFT_CACHE")
        .map_or_else(|| PathBuf::from("/var/cache/weft"), PathBuf::from);
    let mut venvs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&cache)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("venv-openstack-")
        })
        .filter(|e| e.path().join(".complete").exists() && e.path().join("bin/openstack").is_file())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path().join("bin"))))
        .collect();
    venvs.sort();
    venvs.pop().map(|(_, bin)| bin)
}

fn down(args: &LabArgs) -> anyhow::Result<()> {
    // The cluster first: its pods' CNI DELs go to the agents. The rest
    // goes even when that fails.
    let cluster = weft_lab::kubernetes_down(&state_dir(args));
    let removed = weft_lab::teardown(&args.prefix, GRACE)
        .with_context(|| format!("tear lab {:?} down", args.prefix))?;
    let dir = state_dir(args);
    // Kept when the cluster did not go: its state names what is left.
    if dir.exists() && cluster.is_ok() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    text(&format!(
        "lab {:?}: {} processes stopped, {} namespaces removed",
        args.prefix,
        removed.processes.len(),
        removed.namespaces.len()
    ));
    cluster
        .with_context(|| format!("take the Kubernetes cluster of lab {:?} down", args.prefix))?;
    Ok(())
}

/// Up, scenario, down: the lab is removed even when a step fails (the
/// error comes after the teardown); leftovers of a crashed run go first.
fn seed(args: &LabUpArgs) -> anyhow::Result<()> {
    down(&args.lab)?;
    let started = Instant::now();
    let mut lab = build(args)?;
    let real = real_parts(lab.topology(), &state_dir(&args.lab));
    let played = weft_lab::scenario::seed_with(&mut lab, &mut std::io::stdout(), real);
    if played.is_err() {
        for log in agent_logs(lab.topology()) {
            eprintln!("---- {log} (last lines) ----\n{}", lab.log_tail(&log, 20));
        }
    }
    let removed = lab.down();
    played?;
    let removed = removed.context("tear the lab down")?;
    text(&format!(
        "lab {:?}: up, scenario played, {} namespaces removed, in {:.1} s",
        args.lab.prefix,
        removed.namespaces.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}
