//! The reference scenario (DESIGN.md §2) played in a running lab, step by
//! step, through the real `weft` CLI, with a transcript a person can read.
//! Every expected result is checked; the first that does not hold ends the
//! run with [`LabError::Scenario`].
//!
//! The workloads are stand-ins: the VM a namespace holding the port's tap
//! (its address by DHCP from the agent, with busybox `udhcpc`), the pod a
//! namespace with a veth addressed as the CNI plugin does. With real parts
//! ([`Real`]) the network comes from the `openstack` CLI, the VM from QEMU
//! and the pod from a real Kubernetes cluster (`kubectl apply` of the
//! seed's manifest; kube-manager and the weft CNI give it its port).

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_types::MacAddr;

use crate::{Host, Lab, LabError, Role};

/// The seed's virtual network.
pub const VN: &str = "default-domain:k8s-contrail:seamless";
/// The VM's project and its `default` group, which admits only members.
const VM_PROJECT: &str = "admin";
const VM_SG: &str = "default-domain:admin:default";
/// The pod's project: kube-manager's namespace project, default-allow.
const POD_PROJECT: &str = "k8s-seamless";
const POD_SG: &str = "default-domain:k8s-seamless:default";

fn fail(why: impl Into<String>) -> LabError {
    LabError::Scenario(why.into())
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `openstack` CLI as a user of the lab's real Keystone would run it.
#[derive(Debug, Clone)]
pub struct OpenstackCli {
    /// The host it runs on (the OpenStack control host).
    pub host: String,
    /// The `openstack` program.
    pub program: std::path::PathBuf,
    /// The user's openrc.
    pub env: Vec<(String, String)>,
}

/// A real VM booted with `weft vm` (QEMU on the compute host), in place of
/// the namespace stand-in.
#[derive(Debug, Clone)]
pub struct RealVm {
    /// What `weft vm` needs besides its arguments: the openrc of the
    /// booting user, `WEFT_VM_IMAGE`, `WEFT_VM_STATE_DIR`.
    pub env: Vec<(String, String)>,
}

/// A real Kubernetes cluster whose pods get their network from weft
/// (kube-manager in the server, the weft CNI on the node).
#[derive(Debug, Clone)]
pub struct RealKube {
    /// The host kubectl runs on (the master).
    pub host: String,
    /// The kubectl program.
    pub kubectl: std::path::PathBuf,
    /// The cluster admin's kubeconfig.
    pub kubeconfig: std::path::PathBuf,
    /// The manifest applied in step 3: the seed's `cn.yaml` (namespace
    /// `seamless` on the VN, pod `cont`).
    pub manifest: std::path::PathBuf,
}

/// The real parts a scenario uses instead of stand-ins.
#[derive(Debug, Clone, Default)]
pub struct Real {
    /// Step 1 through the `openstack` CLI and Keystone.
    pub openstack: Option<OpenstackCli>,
    /// Step 2 with a QEMU VM booted by `weft vm`.
    pub vm: Option<RealVm>,
    /// Step 3 with a pod of a real Kubernetes cluster.
    pub kube: Option<RealKube>,
}

/// The seed manifest's namespace (examples/cn.yaml).
pub const POD_NAMESPACE: &str = "seamless";
/// The seed manifest's pod, the scenario's `cont`.
pub const POD_NAME: &str = "cont";

/// Plays the scenario in `lab` (server and agents running), writing the
/// transcript to `out`. The VM goes to the first host with role
/// `openstack-compute`, the pod to the first with `kubernetes-node`.
pub fn seed(lab: &mut Lab, out: &mut dyn Write) -> Result<(), LabError> {
    seed_with(lab, out, Real::default())
}

/// [`seed`] with real parts: step 1 (the network) made through the real
/// `openstack` CLI and Keystone — what OpenStack creates is what the rest
/// of the scenario, the Kubernetes side included, uses — and step 2 a real
/// VM booted by `weft vm` as Nova would.
pub fn seed_with(lab: &mut Lab, out: &mut dyn Write, real: Real) -> Result<(), LabError> {
    let topology = lab.topology();
    let host = |role: Role| {
        topology.first_with(role).cloned().ok_or_else(|| {
            fail(format!(
                "the scenario needs a host with role {role}; this lab has none"
            ))
        })
    };
    let control = topology.control()?.name.clone();
    let compute = host(Role::OpenstackCompute)?;
    let worker = host(Role::KubernetesNode)?;
    let mut s = Script {
        lab,
        out,
        control,
        compute,
        worker,
        openstack: real.openstack,
        vm: real.vm,
        kube: real.kube,
    };
    s.run()
}

struct Script<'a> {
    lab: &'a mut Lab,
    out: &'a mut dyn Write,
    /// The host running the server (where the CLI runs).
    control: String,
    /// Where the VM runs.
    compute: Host,
    /// Where the pod runs.
    worker: Host,
    openstack: Option<OpenstackCli>,
    vm: Option<RealVm>,
    kube: Option<RealKube>,
}

/// How long a real pod gets to be Running (image pull from the node's
/// registry, CNI ADD through the agent).
const POD_START: Duration = Duration::from_secs(120);

/// How long a real VM gets to boot, lease its address and ping (QEMU TCG).
const VM_BOOT: Duration = Duration::from_secs(120);

struct Port {
    id: String,
    mac: MacAddr,
    ip: Ipv4Addr,
}

impl Script<'_> {
    fn say(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.out, "{}", line.as_ref());
        let _ = self.out.flush();
    }

    fn step(&mut self, title: &str) {
        self.say("");
        self.say(format!("== {title}"));
    }

    /// Runs `command` (`name` and `args` as a person would type them) on
    /// `host`; its stdout, echoed with the command line when `show`.
    fn command(
        &mut self,
        host: &str,
        mut command: std::process::Command,
        name: &str,
        args: &[&str],
        show: bool,
    ) -> Result<String, LabError> {
        let line = format!("{name} {}", args.join(" "));
        let out = command.args(args).output().map_err(|source| LabError::Io {
            what: format!("run {line}"),
            source,
        })?;
        if !out.status.success() {
            return Err(fail(format!("{line} (on {host}): {}", text(&out))));
        }
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if show {
            self.say(format!("{host}$ {line}"));
            self.say(stdout.trim_end());
        }
        Ok(stdout)
    }

    /// `weft ARGS` inside `host`.
    fn weft(&mut self, host: &str, args: &[&str], show: bool) -> Result<String, LabError> {
        let command = self.lab.weft(host)?;
        self.command(host, command, "weft", args, show)
    }

    /// `weft vm ARGS` on the compute host, as the booting user.
    fn weft_vm(&mut self, vm: &RealVm, args: &[&str], show: bool) -> Result<String, LabError> {
        let host = self.compute.name.clone();
        let mut command = self.lab.weft(&host)?;
        command
            .arg("vm")
            .envs(vm.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut all = vec!["vm"];
        all.extend_from_slice(args);
        // `vm` is already on the command; the echo shows it once.
        let out = self.command(&host, command, "weft vm", args, false)?;
        if show {
            self.say(format!("{host}$ weft {}", all.join(" ")));
            self.say(out.trim_end());
        }
        Ok(out)
    }

    /// The VM's serial console.
    fn console(&mut self, vm: &RealVm) -> String {
        self.weft_vm(vm, &["console", "vm"], false)
            .unwrap_or_default()
    }

    /// `openstack ARGS` as the lab's OpenStack user, echoed with its output.
    fn openstack(&mut self, cli: &OpenstackCli, args: &[&str]) -> Result<String, LabError> {
        let mut command = self.lab.exec(&cli.host, &cli.program)?;
        command.envs(cli.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.command(&cli.host, command, "openstack", args, true)
    }

    /// `kubectl ARGS` on the master as the cluster admin.
    fn kubectl(&mut self, kube: &RealKube, args: &[&str], show: bool) -> Result<String, LabError> {
        let mut command = self.lab.exec(&kube.host, &kube.kubectl)?;
        command.env("KUBECONFIG", &kube.kubeconfig);
        self.command(&kube.host, command, "kubectl", args, show)
    }

    fn json(&mut self, host: &str, args: &[&str]) -> Result<Value, LabError> {
        let mut all = vec!["-o", "json"];
        all.extend_from_slice(args);
        let out = self.weft(host, &all, false)?;
        serde_json::from_str(&out)
            .map_err(|e| fail(format!("weft {}: not JSON ({e}): {out}", args.join(" "))))
    }

    fn port(&mut self, args: &[&str]) -> Result<Port, LabError> {
        let mut all = vec!["port", "create"];
        all.extend_from_slice(args);
        let port = self.json(&self.control.clone(), &all)?;
        let field = |ptr: &str| port.pointer(ptr).and_then(Value::as_str).map(str::to_owned);
        let parse =
            |ptr: &str| field(ptr).ok_or_else(|| fail(format!("port without {ptr}: {port}")));
        Ok(Port {
            id: parse("/id")?,
            mac: parse("/mac_address")?
                .parse()
                .map_err(|e| fail(format!("port MAC: {e}")))?,
            ip: parse("/fixed_ips/0/ip_address")?
                .parse()
                .map_err(|e| fail(format!("port address: {e}")))?,
        })
    }

    /// busybox ping from a workload: (sent, received).
    fn ping(&mut self, from: &str, dst: &str, count: u32) -> Result<(u32, u32), LabError> {
        let count = count.to_string();
        let ping = ["ping", "-c", &count, "-i", "0.3", "-W", "1", dst];
        let mut command = match &self.kube {
            // The real pod: its image's busybox ping, through the apiserver.
            Some(kube) if from == POD_NAME => {
                let mut c = self.lab.exec(&kube.host, &kube.kubectl)?;
                c.env("KUBECONFIG", &kube.kubeconfig).args([
                    "exec",
                    "-n",
                    POD_NAMESPACE,
                    POD_NAME,
                    "--",
                ]);
                c
            }
            _ => self.lab.exec(from, "busybox")?,
        };
        let out = command.args(ping).output().map_err(|source| LabError::Io {
            what: "run busybox ping".into(),
            source,
        })?;
        let all = text(&out);
        let line = all
            .lines()
            .find(|l| l.contains("packets transmitted"))
            .ok_or_else(|| fail(format!("no ping summary: {all}")))?;
        let numbers: Vec<u32> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        self.say(format!("{from}$ ping -c {count} {dst}: {}", line.trim()));
        match numbers[..] {
            [sent, received, ..] => Ok((sent, received)),
            _ => Err(fail(format!("unreadable ping summary: {line}"))),
        }
    }

    fn wait(&mut self, what: &str, check: impl FnMut(&mut Self) -> bool) -> Result<(), LabError> {
        self.wait_for(what, Duration::from_secs(20), check)
    }

    fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&mut Self) -> bool,
    ) -> Result<(), LabError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(self) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(fail(format!("timed out waiting for {what}")))
    }

    /// Step 3 with the seed's manifest in the real cluster: kube-manager
    /// gives the pod its port, the weft CNI plugs it on the node.
    fn real_pod(&mut self, kube: &RealKube) -> Result<(), LabError> {
        let manifest = kube.manifest.to_string_lossy().into_owned();
        self.kubectl(kube, &["apply", "-f", &manifest], true)?;
        let phase = [
            "get",
            "pod",
            "-n",
            POD_NAMESPACE,
            POD_NAME,
            "-o",
            "jsonpath={.status.phase}",
        ];
        let running = self.wait_for(&format!("pod {POD_NAME} Running"), POD_START, |s| {
            s.kubectl(kube, &phase, false).is_ok_and(|p| p == "Running")
        });
        if let Err(e) = running {
            let describe = self
                .kubectl(
                    kube,
                    &["describe", "pod", "-n", POD_NAMESPACE, POD_NAME],
                    false,
                )
                .unwrap_or_else(|e| e.to_string());
            return Err(fail(format!("{e}\n{describe}")));
        }
        let wide = self.kubectl(
            kube,
            &["get", "pod", "-n", POD_NAMESPACE, "-o", "wide"],
            true,
        )?;
        if !wide.contains(" 192.168.1.4 ") {
            return Err(fail(format!(
                "pod {POD_NAME} is not at 192.168.1.4: {wide}"
            )));
        }
        Ok(())
    }

    /// Step 3 with a stand-in: the port made as kube-manager makes it, a
    /// namespace with a veth as the CNI plugin plugs it.
    fn stand_in_pod(&mut self, worker: &str) -> Result<(), LabError> {
        let control = self.control.clone();
        let control = control.as_str();
        let pod_port = self.port(&[
            "--vn",
            VN,
            "--name",
            "cont",
            "--project",
            POD_PROJECT,
            "--host",
            worker,
            "--vif-type",
            "veth",
        ])?;
        if pod_port.ip != Ipv4Addr::new(192, 168, 1, 4) {
            return Err(fail(format!(
                "the pod got {}, not 192.168.1.4",
                pod_port.ip
            )));
        }
        // kube-manager's namespace group admits everything.
        self.weft(
            control,
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
            false,
        )?;
        self.lab.add_pod(
            worker,
            "cont",
            &pod_port.id,
            pod_port.mac,
            "192.168.1.4/24"
                .parse()
                .map_err(|e| fail(format!("pod address: {e}")))?,
            Some(Ipv4Addr::new(192, 168, 1, 1)),
        )?;
        Ok(())
    }

    fn run(&mut self) -> Result<(), LabError> {
        let control = self.control.clone();
        let control = control.as_str();
        let compute = self.compute.name.clone();
        let compute = compute.as_str();
        let worker = self.worker.name.clone();
        let worker = worker.as_str();
        self.step("the nodes and projects");
        let computes: Vec<(String, String)> = self
            .lab
            .topology()
            .computes()
            .map(|h| (h.name.clone(), h.underlay_ip.to_string()))
            .collect();
        for (name, ip) in &computes {
            self.weft(control, &["node", "create", name, "--underlay", ip], false)?;
        }
        let openstack = self.openstack.clone();
        // Through Keystone, the network's project is made on first use.
        let projects: &[&str] = if openstack.is_some() {
            &[VM_PROJECT, POD_PROJECT]
        } else {
            &["k8s-contrail", VM_PROJECT, POD_PROJECT]
        };
        let kube = self.kube.clone();
        for project in projects {
            // kube-manager makes the pod's project from its namespace.
            if kube.is_some() && *project == POD_PROJECT {
                continue;
            }
            self.weft(control, &["project", "create", project], false)?;
        }
        self.weft(control, &["node", "list"], true)?;

        self.step("1. the virtual network");
        match &openstack {
            Some(cli) => {
                self.say("(as OpenStack user demo of project k8s-contrail, token from Keystone)");
                self.openstack(
                    cli,
                    &["network", "create", "seamless", "-f", "value", "-c", "id"],
                )?;
                self.openstack(
                    cli,
                    &[
                        "subnet",
                        "create",
                        "--network",
                        "seamless",
                        "--subnet-range",
                        "192.168.1.0/24",
                        "seamless",
                        "-f",
                        "value",
                        "-c",
                        "cidr",
                    ],
                )?;
                self.weft(control, &["vn", "show", VN], true)?;
            }
            None => {
                self.weft(
                    control,
                    &["vn", "create", VN, "--subnet", "192.168.1.0/24"],
                    true,
                )?;
            }
        }
        let vn = self.json(control, &["vn", "show", VN])?;
        let vrf = vn["vn_id"]
            .as_u64()
            .ok_or_else(|| fail(format!("VN without vn_id: {vn}")))?
            .to_string();

        self.step(&format!(
            "2. a VM on {compute} (address by DHCP from the agent)"
        ));
        let real_vm = self.vm.clone();
        match &real_vm {
            Some(vm) => {
                // Nova's part: the port through Neutron, QEMU on the tap.
                // The guest pings the pod once it has its address.
                self.weft_vm(
                    vm,
                    &[
                        "boot",
                        "vm",
                        "--net",
                        "seamless",
                        "--host",
                        compute,
                        "--kernel-args",
                        "peer=192.168.1.4 linger=900",
                    ],
                    true,
                )?;
            }
            None => {
                let vm_port = self.port(&[
                    "--vn",
                    VN,
                    "--name",
                    "vm",
                    "--project",
                    VM_PROJECT,
                    "--host",
                    compute,
                    "--vif-type",
                    "tap",
                    "--device-owner",
                    "compute:nova",
                ])?;
                let vm = self.lab.add_vm(compute, "vm", &vm_port.id)?;
                self.lab.plug_vm(&vm, vm_port.mac)?;
                let lease = crate::workload::dhcp(self.lab, &vm)?;
                self.say(format!("vm$ udhcpc -i {}: {lease}", vm.interface));
                if !lease.contains("ip=192.168.1.3 ") || !lease.contains("router=192.168.1.1") {
                    return Err(fail(format!(
                        "the VM's lease is not 192.168.1.3 via .1: {lease}"
                    )));
                }
            }
        }

        self.step(&format!("3. a pod on {worker} (same network, same IPAM)"));
        match &kube {
            Some(kube) => self.real_pod(kube)?,
            None => self.stand_in_pod(worker)?,
        }
        if let Some(vm) = &real_vm {
            let lease = "WEFT-VM dhcp-ok addr=192.168.1.3/24 router=192.168.1.1";
            self.wait_for("the VM's DHCP lease on its console", VM_BOOT, |s| {
                s.console(vm).contains(lease)
            })?;
            let console = self.console(vm);
            for line in console.lines().filter(|l| l.starts_with("WEFT-VM dhcp")) {
                self.say(format!("vm console: {line}"));
            }
            self.wait("the VM ACTIVE", |s| {
                s.weft_vm(vm, &["list"], false)
                    .is_ok_and(|l| l.contains("ACTIVE") && l.contains("seamless=192.168.1.3"))
            })?;
            self.weft_vm(vm, &["list"], true)?;
        }
        self.wait("both ports ACTIVE", |s| {
            s.json(control, &["port", "list", "--vn", VN])
                .is_ok_and(|ports| {
                    let ports = match ports {
                        Value::Array(all) => all,
                        one => vec![one],
                    };
                    ports.len() == 2 && ports.iter().all(|p| p["status"] == "ACTIVE")
                })
        })?;
        self.weft(control, &["port", "list", "--vn", VN], true)?;

        self.step("4. both vRouters route to the other workload through a tunnel");
        for (host, prefix) in [(worker, "192.168.1.3/32"), (compute, "192.168.1.4/32")] {
            self.wait(&format!("{host} to learn {prefix}"), |s| {
                s.json(host, &["rt", "--get", prefix, "--vrf", &vrf])
                    .is_ok_and(|r| r.get("label").is_some_and(|l| !l.is_null()))
            })?;
            self.weft(host, &["rt", "--get", prefix, "--vrf", &vrf], true)?;
        }
        let route = self.json(worker, &["rt", "--get", "192.168.1.3/32", "--vrf", &vrf])?;
        let nh = route["nh"]
            .as_u64()
            .ok_or_else(|| fail(format!("route without next hop: {route}")))?
            .to_string();
        let shown = self.weft(worker, &["nh", "--get", &nh], true)?;
        let sip = format!("Sip:{}", self.worker.underlay_ip);
        let dip = format!("Dip:{}", self.compute.underlay_ip);
        for want in ["Tunnel", "MPLSoUDP", &sip, &dip] {
            if !shown.contains(want) {
                return Err(fail(format!(
                    "next hop {nh} on {worker} does not show {want}: {shown}"
                )));
            }
        }

        self.step("5. pod → VM is refused by the VM's default group");
        let (sent, received) = self.ping("cont", "192.168.1.3", 3)?;
        if received != 0 || sent == 0 {
            return Err(fail("the pod reached the VM before any rule admitted it"));
        }

        self.step("6. an ingress rule on the VM's group, and the pings pass");
        self.weft(
            control,
            &[
                "sg",
                "rule",
                "add",
                VM_SG,
                "--direction",
                "ingress",
                "--remote-ip",
                "0.0.0.0/0",
            ],
            true,
        )?;
        self.wait("pod → VM to answer", |s| {
            s.ping("cont", "192.168.1.3", 2)
                .is_ok_and(|(n, r)| n > 0 && r == n)
        })?;
        match &real_vm {
            Some(vm) => {
                // The guest pinged the pod after its lease: the pod's
                // group admits everyone.
                let mark = "WEFT-VM ping-ok peer 192.168.1.4";
                self.wait_for("the VM's ping of the pod on its console", VM_BOOT, |s| {
                    s.console(vm).contains(mark)
                })?;
                self.say(format!("vm console: {mark}"));
            }
            None => {
                let (sent, received) = self.ping("vm", "192.168.1.4", 3)?;
                if sent == 0 || received != sent {
                    return Err(fail("the VM does not reach the pod"));
                }
            }
        }
        self.weft(worker, &["flow", "-l"], true)?;
        self.say("");
        self.say("seed scenario: every expected result held");
        Ok(())
    }
}
