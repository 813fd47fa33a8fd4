//! `weft vm`: Nova's part where Nova is absent. `boot` creates the VM's
//! port through the Neutron API as Nova does (device_owner `compute:nova`,
//! device_id the VM's UUID, bound to the compute node) and starts QEMU on
//! the tap Nova's libvirt driver would name (`tap` + 11 characters of the
//! port id), which the agent of that node attaches; `list` reads the VMs'
//! state like `nova list`; `delete` undoes all of it; `console` prints the
//! serial console.
//!
//! * [`openstack`] — OS_* settings, Keystone tokens, the Neutron client.
//! * [`qemu`] — the QEMU command line and the process and tap checks.
//! * [`record`] — the VMs' records in the state directory.

mod openstack;
pub mod qemu;
mod record;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;
use serde_json::{Value, json};

use crate::args::{Format, VmBootArgs, VmCmd, VmCommon, VmConsoleArgs, VmRefArgs};
use crate::output;
use openstack::{Neutron, Settings};
use qemu::{Console, Launch};
use record::{Records, VmRecord};

/// How long QEMU gets after SIGTERM, then after SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub(crate) async fn run(format: Format, cmd: VmCmd) -> anyhow::Result<()> {
    match cmd {
        VmCmd::Boot(args) => boot(format, args).await,
        VmCmd::List(args) => list(format, &args.common).await,
        VmCmd::Delete(args) => delete(format, args).await,
        VmCmd::Console(args) => console(args),
    }
}

/// A VM as `list` and `boot` show it.
#[derive(Debug, Serialize)]
struct VmView {
    id: String,
    name: String,
    status: &'static str,
    /// Network name → the port's addresses on it.
    networks: BTreeMap<String, Vec<String>>,
    host: String,
    port_id: String,
    pid: u32,
    netns: Option<String>,
    tap: String,
    mac: String,
    console_log: PathBuf,
    image: PathBuf,
}

impl VmView {
    fn new(record: &VmRecord, status: &'static str, addresses: Vec<String>) -> VmView {
        VmView {
            id: record.id.clone(),
            name: record.name.clone(),
            status,
            networks: BTreeMap::from([(record.network_name.clone(), addresses)]),
            host: record.host.clone(),
            port_id: record.port_id.clone(),
            pid: record.pid,
            netns: record.netns.clone(),
            tap: record.tap.clone(),
            mac: record.mac.clone(),
            console_log: record.console_log.clone(),
            image: record.image.clone(),
        }
    }

    /// `nova list`'s Networks column: `net=addr, addr; net2=addr`.
    fn networks_column(&self) -> String {
        self.networks
            .iter()
            .map(|(net, addrs)| format!("{net}={}", addrs.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Nova's status from what runs and what Neutron says of the port
/// (`None`: the port is gone): SHUTOFF once QEMU is gone, ACTIVE while it
/// runs with its port ACTIVE, BUILD while the port waits for the agent,
/// ERROR otherwise.
fn status(running: bool, port_status: Option<&str>) -> &'static str {
    match (running, port_status) {
        (false, _) => "SHUTOFF",
        (true, Some("ACTIVE")) => "ACTIVE",
        (true, Some("DOWN" | "BUILD")) => "BUILD",
        (true, _) => "ERROR",
    }
}

/// The addresses of a Neutron port.
fn addresses(port: &Value) -> Vec<String> {
    port["fixed_ips"]
        .as_array()
        .map(|ips| {
            ips.iter()
                .filter_map(|ip| ip["ip_address"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The port Nova asks Neutron for: unnamed, owned by the instance, bound
/// to its compute node.
fn port_request(
    network_id: &str,
    vm_id: &str,
    host: &str,
    security_groups: Option<Vec<String>>,
) -> Value {
    let mut port = json!({
        "network_id": network_id,
        "name": "",
        "admin_state_up": true,
        "device_owner": "compute:nova",
        "device_id": vm_id,
        "binding:host_id": host,
    });
    if let Some(groups) = security_groups {
        port["security_groups"] = json!(groups);
    }
    json!({ "port": port })
}

async fn boot(format: Format, args: VmBootArgs) -> anyhow::Result<()> {
    // Everything that can be checked here is, before Neutron is asked.
    let settings = Settings::from_args(&args.common)?;
    let image = args.image.clone().context(
        "no image: give --image DIR or set WEFT_VM_IMAGE (scripts/vm-image prints the directory)",
    )?;
    let image = image
        .canonicalize()
        .with_context(|| format!("the image directory {}", image.display()))?;
    qemu::check_image(&image)?;
    let qemu_path = qemu::find_qemu(&args.qemu)?;
    if let Some(ns) = &args.netns
        && !qemu::netns_exists(ns)
    {
        bail!("no network namespace {ns:?} (ip netns list)");
    }
    if args.name.trim().is_empty() {
        bail!("the VM's name is empty");
    }
    let records = Records::open(&args.common.state_dir)?;
    if let Some(same) = records.all()?.iter().find(|r| r.name == args.name) {
        bail!(
            "a VM named {:?} exists already (id {}); weft vm delete it first",
            args.name,
            same.id
        );
    }

    let neutron = Neutron::connect(&settings).await?;
    let network = neutron
        .network(&args.net)
        .await
        .with_context(|| format!("--net {}", args.net))?;
    let network_id = network["id"].as_str().unwrap_or_default().to_owned();
    let network_name = network["name"].as_str().unwrap_or_default().to_owned();
    let mut groups = Vec::new();
    for sg in &args.security_groups {
        groups.push(
            neutron
                .security_group_id(sg)
                .await
                .with_context(|| format!("--sg {sg}"))?,
        );
    }
    let groups = (!groups.is_empty()).then_some(groups);

    let vm_id = uuid::Uuid::new_v4().to_string();
    let port = neutron
        .post(
            "/ports",
            &port_request(&network_id, &vm_id, &args.host, groups),
        )
        .await
        .context("create the VM's port")?;
    let port = port["port"].clone();
    let port_id = port["id"].as_str().unwrap_or_default().to_owned();
    let record = VmRecord {
        id: vm_id.clone(),
        name: args.name.clone(),
        host: args.host.clone(),
        port_id: port_id.clone(),
        network_id,
        network_name,
        mac: port["mac_address"].as_str().unwrap_or_default().to_owned(),
        tap: qemu::tap_name(&port_id),
        pid: 0,
        netns: args.netns.clone(),
        console_log: records.console_log(&vm_id),
        image: image.clone(),
    };
    let started = start(&records, &record, &args, qemu_path).await;
    let record = match started {
        Ok(record) => record,
        Err(error) => {
            // Nothing half-made: the port goes too.
            if let Err(e) = neutron.delete(&format!("/ports/{port_id}")).await? {
                return Err(error.context(format!(
                    "and the port {port_id} could not be deleted ({e}): delete it by hand"
                )));
            }
            records.remove(&vm_id)?;
            return Err(error);
        }
    };
    let view = VmView::new(&record, status(true, Some("DOWN")), addresses(&port));
    match format {
        Format::Json => output::show(format, &view),
        Format::Table => {
            // People read the networks as `nova list` writes them.
            let mut fields = serde_json::to_value(&view)?;
            fields["networks"] = Value::String(view.networks_column());
            output::show(format, &fields);
        }
    }
    Ok(())
}

/// Starts QEMU on the port's tap and records the VM; on error nothing of
/// it is left running or recorded.
async fn start(
    records: &Records,
    record: &VmRecord,
    args: &VmBootArgs,
    qemu_path: PathBuf,
) -> anyhow::Result<VmRecord> {
    let netns = record.netns.as_deref();
    if record.port_id.is_empty() || record.mac.is_empty() {
        bail!("Neutron's port has no id or MAC address");
    }
    if qemu::link_exists(netns, &record.tap)? {
        bail!(
            "the tap {} exists already{}: another VM holds this port's interface",
            record.tap,
            netns.map(|n| format!(" in {n}")).unwrap_or_default()
        );
    }
    let pidfile = records.pidfile(&record.id);
    let launch = Launch {
        qemu: qemu_path,
        name: record.name.clone(),
        uuid: record.id.clone(),
        image: record.image.clone(),
        tap: record.tap.clone(),
        mac: record.mac.clone(),
        memory_mib: args.memory,
        kernel_args: args.kernel_args.clone(),
        console: Console::File(record.console_log.clone()),
        pidfile: Some(pidfile.clone()),
    };
    // QEMU daemonizes once the VM is set up: its exit status says whether
    // it started, and the VM outlives this command.
    let out = launch
        .command(netns)
        .stdin(std::process::Stdio::null())
        .output()
        .context("run QEMU")?;
    if !out.status.success() {
        bail!(
            "QEMU did not start ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .with_context(|| format!("QEMU wrote no PID to {}", pidfile.display()))?;
    let record = VmRecord {
        pid,
        ..record.clone()
    };
    let saved = qemu::set_link_mac(netns, &record.tap, &qemu::host_mac(&record.mac))
        .and_then(|()| records.save(&record));
    if let Err(e) = saved {
        stop(&record).await?;
        return Err(e);
    }
    Ok(record)
}

/// Stops the VM's QEMU (SIGTERM, then SIGKILL) if it runs.
async fn stop(record: &VmRecord) -> anyhow::Result<()> {
    let pid = Pid::from_raw(i32::try_from(record.pid).context("PID out of range")?);
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        if !qemu::is_running(record.pid, &record.id) {
            return Ok(());
        }
        kill(pid, signal).with_context(|| format!("signal QEMU (PID {})", record.pid))?;
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && qemu::is_running(record.pid, &record.id) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    if qemu::is_running(record.pid, &record.id) {
        bail!("QEMU (PID {}) did not stop", record.pid);
    }
    Ok(())
}

async fn list(format: Format, common: &VmCommon) -> anyhow::Result<()> {
    let records = Records::existing(&common.state_dir).all()?;
    let mut views = Vec::new();
    if !records.is_empty() {
        let neutron = Neutron::connect(&Settings::from_args(common)?).await?;
        for record in &records {
            let running = qemu::is_running(record.pid, &record.id);
            let port = match neutron
                .get(&format!("/ports/{}", record.port_id), &[])
                .await?
            {
                Ok(port) => Some(port["port"].clone()),
                Err(e) if e.status == reqwest::StatusCode::NOT_FOUND => None,
                Err(e) => return Err(e.into()),
            };
            let port_status = port.as_ref().and_then(|p| p["status"].as_str());
            let addrs = port.as_ref().map(addresses).unwrap_or_default();
            views.push(VmView::new(record, status(running, port_status), addrs));
        }
    }
    let rows = views
        .iter()
        .map(|v| {
            vec![
                v.id.clone(),
                v.name.clone(),
                v.status.to_owned(),
                v.networks_column(),
                v.host.clone(),
            ]
        })
        .collect();
    output::list(
        format,
        &views,
        &["ID", "NAME", "STATUS", "NETWORKS", "HOST"],
        rows,
    );
    Ok(())
}

async fn delete(format: Format, args: VmRefArgs) -> anyhow::Result<()> {
    let records = Records::existing(&args.common.state_dir);
    let record = records.find(&args.vm)?;
    // Neutron first: bad credentials leave the VM as it is.
    let neutron = Neutron::connect(&Settings::from_args(&args.common)?).await?;
    stop(&record).await?;
    match neutron
        .delete(&format!("/ports/{}", record.port_id))
        .await?
    {
        Ok(_) => {}
        Err(e) if e.status == reqwest::StatusCode::NOT_FOUND => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "QEMU is stopped but the port is left; the record stays for another weft vm delete {}",
                record.id
            )));
        }
    }
    // QEMU's tap goes with QEMU; one left behind (or persistent) goes here.
    let netns = record.netns.as_deref();
    let netns_gone = netns.is_some_and(|ns| !qemu::netns_exists(ns));
    if !netns_gone && qemu::link_exists(netns, &record.tap)? {
        qemu::remove_link(netns, &record.tap)?;
    }
    records.remove(&record.id)?;
    match format {
        Format::Json => output::json(&record),
        Format::Table => output::list(
            format,
            &[()],
            &["DELETED", "NAME", "ID"],
            vec![vec!["vm".into(), record.name.clone(), record.id.clone()]],
        ),
    }
    Ok(())
}

fn console(args: VmConsoleArgs) -> anyhow::Result<()> {
    let record = Records::existing(&args.state_dir).find(&args.vm)?;
    let log = std::fs::read(&record.console_log)
        .with_context(|| format!("read the console log {}", record.console_log.display()))?;
    output::text(String::from_utf8_lossy(&log).trim_end());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_process_and_the_port_as_nova_list_shows_it() {
        assert_eq!(status(true, Some("ACTIVE")), "ACTIVE");
        assert_eq!(status(true, Some("DOWN")), "BUILD");
        assert_eq!(status(true, Some("BUILD")), "BUILD");
        assert_eq!(status(true, Some("ERROR")), "ERROR");
        assert_eq!(status(true, None), "ERROR");
        assert_eq!(status(false, Some("ACTIVE")), "SHUTOFF");
        assert_eq!(status(false, None), "SHUTOFF");
    }

    #[test]
    fn the_port_is_asked_for_as_nova_asks() {
        let body = port_request("net-1", "vm-1", "os-compute", None);
        assert_eq!(
            body,
            json!({"port": {
                "network_id": "net-1",
                "name": "",
                "admin_state_up": true,
                "device_owner": "compute:nova",
                "device_id": "vm-1",
                "binding:host_id": "os-compute",
            }})
        );
        let body = port_request("n", "v", "h", Some(vec!["sg-1".into()]));
        assert_eq!(body["port"]["security_groups"], json!(["sg-1"]));
    }

    #[test]
    fn the_networks_column_reads_like_nova_list() {
        let record = VmRecord {
            id: "i".into(),
            name: "vm".into(),
            host: "h".into(),
            port_id: "p".into(),
            network_id: "n".into(),
            network_name: "seamless".into(),
            mac: "m".into(),
            tap: "t".into(),
            pid: 1,
            netns: None,
            console_log: "/c".into(),
            image: "/i".into(),
        };
        let port = json!({"fixed_ips": [
            {"subnet_id": "s", "ip_address": "192.168.1.3"},
            {"subnet_id": "s6", "ip_address": "fd00::3"}]});
        let view = VmView::new(&record, "ACTIVE", addresses(&port));
        assert_eq!(view.networks_column(), "seamless=192.168.1.3, fd00::3");
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json["networks"],
            json!({"seamless": ["192.168.1.3", "fd00::3"]})
        );
        assert_eq!(json["status"], "ACTIVE");
    }
}
