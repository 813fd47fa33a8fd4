//! [`Lab`]: a built topology and the weft processes running in it.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipnet::Ipv4Net;
use weft_system::Netns;
use weft_types::MacAddr;

use crate::LabError;
use crate::capture::Capture;
use crate::fabric::{self, Removed};
use crate::http;
use crate::process::{Process, in_netns};
use crate::topology::{CONTROL_PORT, INTROSPECT_PORT, NEUTRON_PORT, Role, Topology};
use crate::workload::{self, Workload, WorkloadKind};

/// How long a process gets to stop after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

/// How the lab runs weft.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// The `weft` binary.
    pub weft: PathBuf,
    /// Where the lab keeps the server's data, the agents' state, logs and
    /// captures. Created by [`Lab::up`]; removed by [`Lab::down`] unless
    /// `keep_state`.
    pub state_dir: PathBuf,
    /// The cluster token agents present.
    pub token: String,
    /// `WEFT_LOG` of the processes.
    pub log_filter: String,
    /// Keep `state_dir` on [`Lab::down`].
    pub keep_state: bool,
    /// How long processes get to become ready.
    pub ready_timeout: Duration,
    /// How the server's Neutron API authenticates.
    pub neutron: NeutronAuth,
    /// The host interface (`weft agent --host-interface`) of the agents on
    /// Kubernetes nodes; `None`: none.
    pub host_interface: Option<String>,
    /// The kubeconfig of a Kubernetes cluster the server also runs
    /// kube-manager for (`weft server --kubeconfig`); `None`: none.
    pub kubeconfig: Option<PathBuf>,
    /// A process of the container runtime on the Kubernetes nodes: their
    /// agents join its mount namespace, where the runtime mounts the pods'
    /// network namespaces (the paths the CNI plugin hands over). `None`:
    /// agents stay in the lab's mount namespace.
    pub runtime_pid: Option<u32>,
}

/// How the lab server's Neutron v2.0 API (port 9696 of the control host)
/// authenticates requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeutronAuth {
    /// Neutron's noauth: every request is admin (the default: the lab
    /// needs nothing else then).
    NoAuth,
    /// Tokens validated against a Keystone reachable from the control host.
    Keystone {
        url: String,
        user: String,
        password: String,
        project: String,
        domain: String,
    },
}

impl LabConfig {
    /// Defaults: a token unique to this process and moment, `info` logs,
    /// state removed on teardown, 20 s to become ready.
    pub fn new(weft: impl Into<PathBuf>, state_dir: impl Into<PathBuf>) -> LabConfig {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        LabConfig {
            weft: weft.into(),
            state_dir: state_dir.into(),
            token: format!("lab-{}-{nanos:x}", std::process::id()),
            log_filter: "info".into(),
            keep_state: false,
            ready_timeout: Duration::from_secs(20),
            neutron: NeutronAuth::NoAuth,
            host_interface: None,
            kubeconfig: None,
            runtime_pid: None,
        }
    }
}

/// A lab: its namespaces, the server and agents it runs, its workloads.
/// Dropping it tears everything down (best effort); [`Lab::down`] does
/// the same and reports errors.
#[derive(Debug)]
pub struct Lab {
    topology: Topology,
    config: LabConfig,
    netns: BTreeMap<String, Netns>,
    server: Option<Process>,
    agents: BTreeMap<String, Process>,
    workloads: BTreeMap<String, Workload>,
    captures: AtomicU32,
    down: bool,
}

impl Lab {
    /// Builds the namespaces and links of `topology` (no process yet).
    /// Refuses if namespaces of its prefix exist: tear them down first
    /// ([`crate::teardown`]).
    pub fn up(topology: Topology, config: LabConfig) -> Result<Lab, LabError> {
        let leftovers = fabric::lab_namespaces(topology.prefix());
        if !leftovers.is_empty() {
            return Err(LabError::Leftovers {
                prefix: topology.prefix().to_owned(),
                names: leftovers,
            });
        }
        std::fs::create_dir_all(&config.state_dir).map_err(|source| LabError::Io {
            what: format!("create {}", config.state_dir.display()),
            source,
        })?;
        let mut lab = Lab {
            topology,
            config,
            netns: BTreeMap::new(),
            server: None,
            agents: BTreeMap::new(),
            workloads: BTreeMap::new(),
            captures: AtomicU32::new(0),
            down: false,
        };
        // On failure `lab` is dropped, which removes what was made.
        fabric::build(&lab.topology, &mut lab.netns)?;
        Ok(lab)
    }

    /// Takes hold of the lab of `topology`'s prefix that an earlier
    /// process brought up and left running ([`Lab::leave_running`]): its
    /// namespaces are opened, its processes are left alone. Dropping the
    /// handle changes nothing; [`Lab::down`] tears the lab down.
    pub fn attach(topology: Topology, config: LabConfig) -> Result<Lab, LabError> {
        let names = fabric::lab_namespaces(topology.prefix());
        let fabric_ns = topology.netns("fabric");
        if !names.contains(&fabric_ns) {
            return Err(LabError::Topology(format!(
                "no lab {:?} is up (no namespace {fabric_ns})",
                topology.prefix()
            )));
        }
        let mut netns = BTreeMap::new();
        for name in names {
            let ns = Netns::open(&name)?;
            netns.insert(name, ns);
        }
        Ok(Lab {
            topology,
            config,
            netns,
            server: None,
            agents: BTreeMap::new(),
            workloads: BTreeMap::new(),
            captures: AtomicU32::new(0),
            down: true,
        })
    }

    /// Leaves the lab up after this handle goes: the processes keep
    /// running, the namespaces and the state dir stay. Returns the PIDs
    /// left running, by process name.
    pub fn leave_running(mut self) -> Vec<(String, u32)> {
        self.down = true;
        let mut pids = Vec::new();
        if let Some(server) = self.server.take() {
            pids.push((server.name().to_owned(), server.release()));
        }
        for (_, agent) in std::mem::take(&mut self.agents) {
            pids.push((agent.name().to_owned(), agent.release()));
        }
        pids
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// How the server's Neutron API authenticates, for the next
    /// [`Lab::start_server`].
    pub fn set_neutron_auth(&mut self, auth: NeutronAuth) {
        self.config.neutron = auth;
    }

    /// A Kubernetes cluster the lab runs: the server started next runs
    /// kube-manager with `kubeconfig`, and the Kubernetes nodes' agents
    /// started next join the mount namespace of `runtime_pid` (their
    /// container runtime).
    pub fn set_kubernetes(&mut self, kubeconfig: PathBuf, runtime_pid: u32) {
        self.config.kubeconfig = Some(kubeconfig);
        self.config.runtime_pid = Some(runtime_pid);
    }

    pub fn config(&self) -> &LabConfig {
        &self.config
    }

    pub fn state_dir(&self) -> &Path {
        &self.config.state_dir
    }

    /// The namespace of a host or workload, by its name.
    pub fn netns(&self, name: &str) -> Result<&Netns, LabError> {
        self.netns
            .get(&self.topology.netns(name))
            .ok_or_else(|| LabError::Topology(format!("no host or workload {name:?} in the lab")))
    }

    /// A command running `program` inside the namespace of host or
    /// workload `name`.
    pub fn exec(&self, name: &str, program: impl AsRef<OsStr>) -> Result<Command, LabError> {
        Ok(in_netns(self.netns(name)?.name(), program))
    }

    /// The `weft` CLI inside host `name`'s namespace, pointed at the lab's
    /// server (`WEFT_SERVER`) and the host's agent (`WEFT_AGENT`).
    pub fn weft(&self, host: &str) -> Result<Command, LabError> {
        let mut command = self.exec(host, &self.config.weft)?;
        command
            .env("WEFT_SERVER", self.topology.api_url()?)
            .env("WEFT_AGENT", self.topology.introspect_url());
        Ok(command)
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.config.state_dir.join(format!("{name}.log"))
    }

    /// The server's data directory.
    pub fn server_data_dir(&self) -> PathBuf {
        self.config.state_dir.join("server")
    }

    /// An agent's state directory.
    pub fn agent_state_dir(&self, host: &str) -> PathBuf {
        self.config.state_dir.join(format!("agent-{host}"))
    }

    /// The unix socket a host's agent serves the CNI plugin on (one per
    /// agent: the lab's hosts share one filesystem).
    pub fn cni_socket(&self, host: &str) -> PathBuf {
        self.agent_state_dir(host).join("cni.sock")
    }

    /// Starts the server and every agent, each once ready.
    pub fn start(&mut self) -> Result<(), LabError> {
        self.start_server()?;
        let hosts: Vec<String> = self.topology.computes().map(|h| h.name.clone()).collect();
        for host in hosts {
            self.start_agent(&host)?;
        }
        Ok(())
    }

    /// Starts `weft server` in the control host's namespace (API and
    /// control node on its underlay address, store in the state dir) and
    /// waits until the API answers. The data dir is kept across restarts.
    pub fn start_server(&mut self) -> Result<(), LabError> {
        if self.server.as_mut().is_some_and(Process::running) {
            return Err(LabError::Process {
                name: "weft server".into(),
                why: "already running".into(),
            });
        }
        let control = self.topology.control()?.clone();
        let ns = self.netns(&control.name)?.clone();
        let api = self.topology.api_addr()?;
        let mut command = in_netns(ns.name(), &self.config.weft);
        command
            .arg("server")
            .arg("--data-dir")
            .arg(self.server_data_dir())
            .args([
                "--listen",
                &api.to_string(),
                "--control-listen",
                &format!("{}:{CONTROL_PORT}", control.underlay_ip),
            ])
            .arg("--neutron-listen")
            .arg(format!("{}:{NEUTRON_PORT}", control.underlay_ip))
            .env("WEFT_TOKEN", &self.config.token)
            .env("WEFT_LOG", &self.config.log_filter)
            .env("NO_COLOR", "1");
        match &self.config.neutron {
            NeutronAuth::NoAuth => {
                command.arg("--neutron-noauth");
            }
            NeutronAuth::Keystone {
                url,
                user,
                password,
                project,
                domain,
            } => {
                command
                    .args(["--keystone-url", url, "--keystone-user", user])
                    .args(["--keystone-project", project, "--keystone-domain", domain])
                    .env("WEFT_KEYSTONE_PASSWORD", password);
            }
        }
        if let Some(kubeconfig) = &self.config.kubeconfig {
            command.arg("--kubeconfig").arg(kubeconfig);
        }
        let mut server = Process::spawn("weft server", command, &self.log_path("server"))?;
        server.wait_until(self.config.ready_timeout, || {
            http::get(&ns, api, "/").is_ok_and(|(status, _)| status == 200)
        })?;
        self.server = Some(server);
        Ok(())
    }

    /// The server's PID, while it runs.
    pub fn server_pid(&mut self) -> Option<u32> {
        let server = self.server.as_mut()?;
        server.running().then(|| server.pid())
    }

    /// SIGKILL to the server, as a crash would.
    pub fn kill_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill();
        }
    }

    /// SIGTERM to the server (SIGKILL after a grace period).
    pub fn stop_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop(GRACE);
        }
    }

    /// Starts `weft agent` for compute host `host` inside its namespace and
    /// waits until its introspection answers. The state dir (labels) is
    /// kept across restarts.
    pub fn start_agent(&mut self, host: &str) -> Result<(), LabError> {
        let h = self.topology.host(host)?.clone();
        if !h.has(Role::Vrouter) {
            return Err(LabError::Topology(format!(
                "{host} has no vrouter role (roles: {})",
                h.role_names()
            )));
        }
        if self.agents.get_mut(host).is_some_and(Process::running) {
            return Err(LabError::Process {
                name: format!("weft agent {host}"),
                why: "already running".into(),
            });
        }
        let ns = self.netns(host)?.clone();
        let mut command = match self.config.runtime_pid {
            Some(pid) if h.has(Role::KubernetesNode) => {
                // nsenter opens both namespaces before entering either.
                let mut c = Command::new("nsenter");
                c.args(["-t", &pid.to_string(), "-m"])
                    .arg(format!("--net=/run/netns/{}", ns.name()))
                    .arg("--")
                    .arg(&self.config.weft);
                c
            }
            _ => in_netns(ns.name(), &self.config.weft),
        };
        command
            .args([
                "agent",
                "--node",
                host,
                "--underlay",
                &h.underlay_ip.to_string(),
                "--control",
                &self.topology.control_url()?,
                "--introspect",
                &format!("127.0.0.1:{INTROSPECT_PORT}"),
                "--api",
                &self.topology.api_url()?,
                "--state-dir",
            ])
            .arg(self.agent_state_dir(host))
            .arg("--cni-socket")
            .arg(self.cni_socket(host));
        if let Some(interface) = &self.config.host_interface
            && h.has(Role::KubernetesNode)
        {
            command.args(["--host-interface", interface]);
        }
        command
            .env("WEFT_TOKEN", &self.config.token)
            .env("WEFT_LOG", &self.config.log_filter)
            .env("NO_COLOR", "1");
        let name = format!("weft agent {host}");
        let mut agent = Process::spawn(&name, command, &self.log_path(&format!("agent-{host}")))?;
        let addr = introspect_addr();
        agent.wait_until(self.config.ready_timeout, || {
            http::get(&ns, addr, "/vifs").is_ok_and(|(status, _)| status == 200)
        })?;
        self.agents.insert(host.to_owned(), agent);
        Ok(())
    }

    /// SIGTERM to an agent (SIGKILL after a grace period).
    pub fn stop_agent(&mut self, host: &str) {
        if let Some(mut agent) = self.agents.remove(host) {
            agent.stop(GRACE);
        }
    }

    /// SIGKILL to an agent.
    pub fn kill_agent(&mut self, host: &str) {
        if let Some(mut agent) = self.agents.remove(host) {
            agent.kill();
        }
    }

    /// An agent's PID, while it runs.
    pub fn agent_pid(&mut self, host: &str) -> Option<u32> {
        let agent = self.agents.get_mut(host)?;
        agent.running().then(|| agent.pid())
    }

    /// `GET path` on the native API, from the control host.
    pub fn api_get(&self, path: &str) -> Result<serde_json::Value, LabError> {
        let control = &self.topology.control()?.name;
        http::get_json(self.netns(control)?, self.topology.api_addr()?, path)
    }

    /// `GET path` on a host's agent introspection (`/vifs`, `/routes?vrf=N`,
    /// `/nexthops`, `/flows`, `/dropstats`).
    pub fn agent_get(&self, host: &str, path: &str) -> Result<serde_json::Value, LabError> {
        http::get_json(self.netns(host)?, introspect_addr(), path)
    }

    fn new_workload_netns(&mut self, name: &str) -> Result<Netns, LabError> {
        let full = self.topology.netns(name);
        if self.netns.contains_key(&full) || name == "fabric" {
            return Err(LabError::Topology(format!(
                "{name:?} is already a host or workload of the lab"
            )));
        }
        let ns = fabric::create_netns(&full)?;
        self.netns.insert(full, ns.clone());
        Ok(ns)
    }

    /// A VM stand-in `name` on compute host `host` for port `port_id`: its
    /// namespace, and the tap on the host the agent will open. Call
    /// [`Lab::plug_vm`] once the port is bound to the host.
    pub fn add_vm(&mut self, host: &str, name: &str, port_id: &str) -> Result<Workload, LabError> {
        let host_ns = self.netns(host)?.name().to_owned();
        let netns = self.new_workload_netns(name)?.name().to_owned();
        let tap = workload::create_tap(&host_ns, port_id)?;
        let vm = Workload {
            kind: WorkloadKind::Vm,
            name: name.to_owned(),
            host: host.to_owned(),
            netns,
            port_id: port_id.to_owned(),
            host_interface: tap.clone(),
            interface: tap,
        };
        self.workloads.insert(name.to_owned(), vm.clone());
        Ok(vm)
    }

    /// Waits until the host's agent has opened the VM's tap, then moves
    /// the interface into the VM namespace with the port's MAC, up (the
    /// guest then configures it, e.g. by DHCP).
    pub fn plug_vm(&self, vm: &Workload, mac: MacAddr) -> Result<(), LabError> {
        workload::plug_tap(
            self.netns(&vm.host)?,
            self.netns(&vm.name)?,
            &vm.host_interface,
            mac,
            self.config.ready_timeout,
        )
    }

    /// A pod stand-in `name` on `host` for port `port_id`: a namespace
    /// whose `eth0` has `mac` and `addr` (and a default route via
    /// `gateway`), its veth peer on the host for the agent.
    pub fn add_pod(
        &mut self,
        host: &str,
        name: &str,
        port_id: &str,
        mac: MacAddr,
        addr: Ipv4Net,
        gateway: Option<Ipv4Addr>,
    ) -> Result<Workload, LabError> {
        let host_ns = self.netns(host)?.clone();
        let pod_ns = self.new_workload_netns(name)?;
        let host_if = workload::create_pod_veth(&host_ns, &pod_ns, port_id, mac, addr, gateway)?;
        let pod = Workload {
            kind: WorkloadKind::Pod,
            name: name.to_owned(),
            host: host.to_owned(),
            netns: pod_ns.name().to_owned(),
            port_id: port_id.to_owned(),
            host_interface: host_if,
            interface: workload::WORKLOAD_IF.to_owned(),
        };
        self.workloads.insert(name.to_owned(), pod.clone());
        Ok(pod)
    }

    pub fn workloads(&self) -> impl Iterator<Item = &Workload> {
        self.workloads.values()
    }

    /// Starts a capture on `interface` in the namespace of host, workload
    /// or `fabric` `name`, written into the state dir.
    pub fn capture(&self, name: &str, interface: &str, filter: &str) -> Result<Capture, LabError> {
        let netns = if name == "fabric" {
            self.topology.fabric_netns()
        } else {
            self.netns(name)?.name().to_owned()
        };
        let n = self.captures.fetch_add(1, Ordering::Relaxed) + 1;
        let file = self
            .config
            .state_dir
            .join(format!("capture-{n}-{name}.pcapng"));
        Capture::start(&netns, interface, filter, &file)
    }

    /// The last `lines` lines of a process log (`server`, `agent-HOST`).
    pub fn log_tail(&self, name: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops every process, removes every namespace of the lab (and the
    /// links in them) and, unless asked to keep it, the state dir.
    pub fn down(mut self) -> Result<Removed, LabError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<Removed, LabError> {
        self.down = true;
        // The cluster first: its pods' CNI DELs go to the agents.
        if let Err(e) = kubernetes_down(&self.config.state_dir) {
            eprintln!("weft lab: {e}");
        }
        for (_, mut agent) in std::mem::take(&mut self.agents) {
            agent.stop(GRACE);
        }
        self.stop_server();
        // Our handles would keep the namespaces alive after their names go.
        self.netns.clear();
        self.workloads.clear();
        let removed = fabric::teardown(self.topology.prefix(), GRACE)?;
        if !self.config.keep_state && self.config.state_dir.exists() {
            std::fs::remove_dir_all(&self.config.state_dir).map_err(|source| LabError::Io {
                what: format!("remove {}", self.config.state_dir.display()),
                source,
            })?;
        }
        Ok(removed)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.down
            && let Err(e) = self.teardown()
        {
            eprintln!("weft lab: teardown of {}: {e}", self.topology.prefix());
        }
    }
}

/// Where a lab's Kubernetes cluster keeps its state (scripts/k8s-cluster
/// `--state`), under the lab's state dir.
pub const KUBERNETES_DIR: &str = "kubernetes";

/// The file naming the cluster harness (scripts/k8s-cluster) that brought
/// the lab's cluster up, so that any later teardown can take it down.
pub const KUBERNETES_HARNESS: &str = "kubernetes-harness";

/// Takes down the Kubernetes cluster of the lab whose state dir is
/// `state_dir`, if it has one: `k8s-cluster down` deletes the pods (CNI
/// DEL), stops its processes by PID and removes its mounts, cgroups and
/// state. Nothing to do without one.
pub fn kubernetes_down(state_dir: &Path) -> Result<(), LabError> {
    let Ok(harness) = std::fs::read_to_string(state_dir.join(KUBERNETES_HARNESS)) else {
        return Ok(());
    };
    let cluster = state_dir.join(KUBERNETES_DIR);
    let line = format!("{} down --state {}", harness.trim(), cluster.display());
    let out = Command::new(harness.trim())
        .arg("down")
        .arg("--state")
        .arg(&cluster)
        .output()
        .map_err(|source| LabError::Io {
            what: format!("run {line}"),
            source,
        })?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: line,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    std::fs::remove_file(state_dir.join(KUBERNETES_HARNESS)).map_err(|source| LabError::Io {
        what: format!("remove {}", state_dir.join(KUBERNETES_HARNESS).display()),
        source,
    })
}

fn introspect_addr() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, INTROSPECT_PORT))
}
