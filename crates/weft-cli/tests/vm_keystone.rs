//! `weft vm` with a real Keystone: on `weft lab up --full` from os-compute
//! with the lab's openrc, and on loopback with scripts/openstack-env's
//! Keystone and an agent whose data plane is in the test's namespace. An
//! openrc's credentials give the token and the catalog's network endpoint;
//! a wrong password is refused with Keystone's answer.

#[allow(dead_code)]
#[path = "overlay/support.rs"]
mod support;
#[allow(dead_code)]
#[path = "vm/support.rs"]
mod vm_support;

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use support::*;
use vm_support::*;
use weft_cli::vm::qemu;

/// A namespace this test made, removed when dropped.
struct OwnNetns(String);

impl Drop for OwnNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// With a real Keystone: the openrc's credentials give the token and the
/// catalog's network endpoint (weft's Neutron API, validating tokens
/// against the same Keystone); a wrong password is refused with
/// Keystone's answer and nothing made; boot, list (BUILD: no agent has
/// the tap yet), then an agent for the VM's namespace starts, gives the
/// VM .3 by DHCP and the list says ACTIVE; delete. QEMU and the agent's
/// data plane are in a namespace of the test's own (underlay on its
/// loopback); weft, the agent's control session and Keystone on loopback.
#[test]
#[ignore = "needs root, QEMU and the OpenStack venv: run scripts/test as root"]
fn weft_vm_authenticates_with_keystone_and_uses_the_catalog() -> Result<()> {
    let image = match vm_image() {
        Ok(dir) => dir,
        Err(why) => {
            eprintln!("SKIP: {why}");
            return Ok(());
        }
    };
    if !is_root() {
        eprintln!("SKIP: not running as root (network namespaces and taps)");
        return Ok(());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/openstack-env");
    let dir = tempfile::tempdir()?;
    let ks_dir = dir.path().join("keystone");
    let setup = Command::new(&script)
        .arg("keystone")
        .arg(&ks_dir)
        .stdin(Stdio::null())
        .output()?;
    let _keystone = std::fs::read_to_string(ks_dir.join("keystone.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .map(Stop);
    if !setup.status.success() {
        eprintln!(
            "SKIP: cannot set up the OpenStack venv and Keystone: {}",
            String::from_utf8_lossy(&setup.stderr)
        );
        return Ok(());
    }
    let env: HashMap<String, String> = std::fs::read_to_string(ks_dir.join("keystone.env"))?
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let os_env: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with("OS_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let openstack = |args: &[&str]| -> Result<String> {
        let out = Command::new(Path::new(&env["OPENSTACK_VENV"]).join("bin/openstack"))
            .args(args)
            .envs(os_env.iter().cloned())
            .env("OS_USERNAME", "admin")
            .env("OS_PASSWORD", "secret")
            .env("OS_PROJECT_NAME", "admin")
            .env("PYTHONWARNINGS", "ignore")
            .output()?;
        ensure!(
            out.status.success(),
            "openstack {}: {}",
            args.join(" "),
            text(&out)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };

    // weft as the catalog's network endpoint.
    let (api_port, neutron_port, control_port) = (free_port(), free_port(), free_port());
    let token = format!("vm-test-{}", std::process::id());
    let neutron_url = format!("http://127.0.0.1:{neutron_port}");
    openstack(&["service", "create", "--name", "neutron", "network"])?;
    openstack(&[
        "endpoint",
        "create",
        "--region",
        "RegionOne",
        "network",
        "public",
        &neutron_url,
    ])?;
    let log = std::fs::File::create(dir.path().join("weft.log"))?;
    let mut server = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("server")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--listen", &format!("127.0.0.1:{api_port}")])
        .args(["--neutron-listen", &neutron_url[7..]])
        .args(["--keystone-url", &env["KEYSTONE_URL"]])
        .args([
            "--keystone-user",
            "neutron",
            "--keystone-project",
            "service",
        ])
        .args(["--control-listen", &format!("127.0.0.1:{control_port}")])
        .env("WEFT_TOKEN", &token)
        .env("WEFT_KEYSTONE_PASSWORD", "secret")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let _server = Stop(server.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", neutron_port)).is_err() {
        if Instant::now() > deadline || server.try_wait()?.is_some() {
            bail!("weft server did not come up");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The network's own MTU, below what fits the overlay: the VM's DHCP
    // lease must carry it (option 26).
    openstack(&["network", "create", "--mtu", "1400", "seamless"])?;
    openstack(&[
        "subnet",
        "create",
        "--network",
        "seamless",
        "--subnet-range",
        "192.168.1.0/24",
        "s1",
    ])?;

    let netns = OwnNetns(format!("wvk{}-compute", std::process::id()));
    let made = Command::new("ip")
        .args(["netns", "add", &netns.0])
        .output()?;
    ensure!(made.status.success(), "ip netns add: {}", text(&made));
    let lo = Command::new("ip")
        .args(["-n", &netns.0, "link", "set", "lo", "up"])
        .output()?;
    ensure!(lo.status.success(), "lo up: {}", text(&lo));
    let state = dir.path().join("vms");
    let weft_url = format!("http://127.0.0.1:{api_port}");
    let vm = |password: &str, args: &[&str]| -> Result<Output> {
        Ok(Command::new(env!("CARGO_BIN_EXE_weft"))
            .arg("vm")
            .args(args)
            .env_remove("OS_AUTH_TYPE")
            .env_remove("OS_ENDPOINT")
            .env_remove("OS_NETWORK_ENDPOINT_OVERRIDE")
            .env_remove("OS_PROJECT_ID")
            .env_remove("OS_REGION_NAME")
            .envs(os_env.iter().cloned())
            .env("OS_USERNAME", "admin")
            .env("OS_PASSWORD", password)
            .env("OS_PROJECT_NAME", "admin")
            .env("WEFT_VM_STATE_DIR", &state)
            .env("WEFT_VM_IMAGE", &image)
            .output()?)
    };
    let native_ports = || -> Result<Vec<Value>> {
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["-o", "json", "port", "list"])
            .env("WEFT_SERVER", &weft_url)
            .output()?;
        ensure!(out.status.success(), "port list: {}", text(&out));
        Ok(port_list(serde_json::from_slice(&out.stdout)?))
    };
    let boot = [
        "-o",
        "json",
        "boot",
        "vm",
        "--net",
        "seamless",
        "--host",
        "os-compute",
        "--netns",
        &netns.0,
        "--kernel-args",
        "linger=120",
    ];

    let refused = vm("wrong", &boot)?;
    ensure!(
        !refused.status.success()
            && text(&refused).contains("Keystone at")
            && text(&refused).contains("refused user \"admin\": 401"),
        "boot with a wrong password: {}",
        text(&refused)
    );
    ensure!(native_ports()?.is_empty(), "a refused boot made a port");

    let booted = json(vm("secret", &boot)?, "boot")?;
    let vm_id = str_of(&booted, "id")?.to_owned();
    let port_id = str_of(&booted, "port_id")?.to_owned();
    let tap = str_of(&booted, "tap")?.to_owned();
    let pid = booted["pid"].as_u64().context("pid")? as u32;
    let _qemu = StopVm(pid, vm_id.clone());
    ensure!(
        qemu::is_running(pid, &vm_id),
        "QEMU is not running: {booted}"
    );
    ensure!(
        qemu::link_exists(Some(&netns.0), &tap)?,
        "no {tap} in {}",
        netns.0
    );
    let ports = native_ports()?;
    let port = ports
        .iter()
        .find(|p| p["id"] == port_id.as_str())
        .with_context(|| format!("the VM's port is not in {ports:?}"))?;
    ensure!(
        port["device_owner"] == "compute:nova"
            && port["device_id"] == vm_id.as_str()
            && port["binding_host_id"] == "os-compute",
        "the VM's port: {port}"
    );

    let listed = json(vm("secret", &["-o", "json", "list"])?, "list")?;
    ensure!(
        listed[0]["id"] == vm_id.as_str()
            && listed[0]["status"] == "BUILD"
            && listed[0]["networks"]["seamless"][0] == "192.168.1.3",
        "vm list before the agent runs: {listed}"
    );

    // The node's agent (its data plane in the VM's namespace) attaches
    // the tap QEMU holds and answers the guest's DHCP.
    let agent_log = std::fs::File::create(dir.path().join("agent.log"))?;
    let agent = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["agent", "--node", "os-compute", "--underlay", "127.0.0.1"])
        .args(["--control", &format!("http://127.0.0.1:{control_port}")])
        .args(["--netns", &netns.0])
        .args(["--introspect", &format!("127.0.0.1:{}", free_port())])
        .arg("--state-dir")
        .arg(dir.path().join("agent"))
        .env("WEFT_TOKEN", &token)
        .stdout(Stdio::null())
        .stderr(agent_log)
        .spawn()?;
    let _agent = Stop(agent.id());
    let console = || {
        vm("secret", &["console", "vm"])
            .map(|o| text(&o))
            .unwrap_or_default()
    };
    let leased = wait_for("the VM's DHCP lease", Duration::from_secs(120), || {
        let log = console();
        log.contains("WEFT-VM dhcp-ok") || log.contains("WEFT-VM dhcp-failed")
    });
    let log = console();
    let agent_said = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
    leased.with_context(|| format!("console:\n{log}\nagent:\n{agent_said}"))?;
    ensure!(
        log.contains("WEFT-VM dhcp-ok addr=192.168.1.3/24 router=192.168.1.1 mtu=1400"),
        "no lease for .3 with the network's MTU 1400 in the console:\n{log}\nagent:\n{agent_said}"
    );
    let listed = json(vm("secret", &["-o", "json", "list"])?, "list")?;
    ensure!(
        listed[0]["status"] == "ACTIVE",
        "vm list once the agent has the tap: {listed}"
    );

    ok(vm("secret", &["delete", &vm_id])?, "delete")?;
    ensure!(!qemu::is_running(pid, &vm_id), "QEMU {pid} runs on");
    ensure!(
        !qemu::link_exists(Some(&netns.0), &tap)?,
        "{tap} is left in {}",
        netns.0
    );
    let left = native_ports()?;
    ensure!(left.is_empty(), "the port is left: {left:?}");
    let listed = json(vm("secret", &["-o", "json", "list"])?, "list")?;
    ensure!(listed == serde_json::json!([]), "after delete: {listed}");
    Ok(())
}

/// `weft lab down` of a lab this test brought up, whatever happens.
struct LabDown {
    prefix: String,
    state: PathBuf,
}

impl Drop for LabDown {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["lab", "down", "--prefix", &self.prefix, "--state-dir"])
            .arg(&self.state)
            .output();
    }
}

/// The operator's path on `weft lab up --full` (a real Keystone on
/// os-control, weft's Neutron API in its catalog): the network made with
/// the `openstack` CLI on os-control, then `weft lab exec os-compute --
/// weft vm boot …` with the compute host's openrc (a Keystone token, the
/// catalog's endpoint; a wrong password is refused); the VM gets .3 from
/// the agent and pings its gateway, is listed ACTIVE, and after delete
/// Neutron has no port left.
#[test]
#[ignore = "needs root, network namespaces, QEMU and the OpenStack venv: run scripts/test as root"]
fn weft_vm_in_the_full_lab_goes_through_its_keystone() -> Result<()> {
    let image = match vm_image() {
        Ok(dir) => dir,
        Err(why) => {
            eprintln!("SKIP: {why}");
            return Ok(());
        }
    };
    if !is_root() {
        eprintln!("SKIP: not running as root (weft lab builds network namespaces)");
        return Ok(());
    }
    if !openstack_venv_ready()? {
        return Ok(());
    }
    let scripts = scripts_dir();
    let prefix = format!("wvf{}-", std::process::id());
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("lab");
    let vms = dir.path().join("vms");
    let weft_lab = |args: &[&str]| -> Result<Output> {
        let (verb, rest) = args.split_first().context("no lab verb")?;
        Ok(Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["lab", verb, "--prefix", &prefix, "--state-dir"])
            .arg(&state)
            .args(rest)
            .env_remove("OS_AUTH_TYPE")
            .env_remove("OS_ENDPOINT")
            .env_remove("OS_NETWORK_ENDPOINT_OVERRIDE")
            .env("WEFT_VM_IMAGE", &image)
            .env("WEFT_VM_STATE_DIR", &vms)
            .output()?)
    };
    let _down = LabDown {
        prefix: prefix.clone(),
        state: state.clone(),
    };
    let up = weft_lab(&["up", "--full", "--scripts", &scripts])?;
    ensure!(up.status.success(), "weft lab up --full: {}", text(&up));
    let on = |host: &str, command: &[&str]| -> Result<String> {
        let mut all = vec!["exec", host, "--"];
        all.extend_from_slice(command);
        let out = weft_lab(&all)?;
        ensure!(
            out.status.success(),
            "on {host}: {}: {}",
            command.join(" "),
            text(&out)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let weft = env!("CARGO_BIN_EXE_weft");
    on(
        "os-control",
        &["openstack", "network", "create", "seamless"],
    )?;
    on(
        "os-control",
        &[
            "openstack",
            "subnet",
            "create",
            "--network",
            "seamless",
            "--subnet-range",
            "192.168.1.0/24",
            "s1",
        ],
    )?;
    let refused = weft_lab(&[
        "exec",
        "os-compute",
        "--",
        "env",
        "OS_PASSWORD=wrong",
        weft,
        "vm",
        "boot",
        "vm",
        "--net",
        "seamless",
        "--host",
        "os-compute",
    ])?;
    ensure!(
        !refused.status.success() && text(&refused).contains("refused user \"admin\": 401"),
        "boot with a wrong password: {}",
        text(&refused)
    );
    let booted: Value = serde_json::from_str(&on(
        "os-compute",
        &[
            weft,
            "-o",
            "json",
            "vm",
            "boot",
            "vm",
            "--net",
            "seamless",
            "--host",
            "os-compute",
            "--kernel-args",
            "linger=60",
        ],
    )?)?;
    let port_id = str_of(&booted, "port_id")?.to_owned();
    let _qemu = StopVm(
        booted["pid"].as_u64().context("pid")? as u32,
        str_of(&booted, "id")?.to_owned(),
    );
    let console = || on("os-compute", &[weft, "vm", "console", "vm"]).unwrap_or_default();
    let leased = wait_for("the VM's gateway ping", Duration::from_secs(120), || {
        let log = console();
        log.contains("WEFT-VM ping-ok gateway") || log.contains("WEFT-VM ping-failed gateway")
    });
    let log = console();
    leased.with_context(|| format!("console:\n{log}"))?;
    for mark in [
        "WEFT-VM dhcp-ok addr=192.168.1.3/24 router=192.168.1.1",
        "WEFT-VM ping-ok gateway 192.168.1.1",
    ] {
        ensure!(log.contains(mark), "no {mark:?} in the console:\n{log}");
    }
    let listed: Value =
        serde_json::from_str(&on("os-compute", &[weft, "-o", "json", "vm", "list"])?)?;
    ensure!(
        listed[0]["status"] == "ACTIVE"
            && listed[0]["networks"] == serde_json::json!({"seamless": ["192.168.1.3"]}),
        "vm list: {listed}"
    );
    on("os-compute", &[weft, "vm", "delete", "vm"])?;
    let ports = on(
        "os-control",
        &["openstack", "port", "list", "-f", "value", "-c", "ID"],
    )?;
    ensure!(
        !ports.contains(&port_id),
        "Neutron still has {port_id}: {ports}"
    );
    let down = weft_lab(&["down"])?;
    ensure!(down.status.success(), "weft lab down: {}", text(&down));
    let left: Vec<String> = netns_list()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    ensure!(left.is_empty(), "namespaces left: {left:?}");
    Ok(())
}
