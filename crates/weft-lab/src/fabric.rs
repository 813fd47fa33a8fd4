//! Namespaces and links: the fabric bridge, one namespace per host joined
//! to it by a veth, and the teardown that finds everything of a lab again
//! by its prefix (so it also works after a crash).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use weft_system::netns::NETNS_RUN_DIR;
use weft_system::{Netlink, Netns};

use crate::LabError;
use crate::topology::{FABRIC_BRIDGE, Topology, UNDERLAY_IF};

/// Runs `ip ARGS`, failing with its stderr.
pub(crate) fn ip(args: &[&str]) -> Result<(), LabError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|source| LabError::Io {
            what: "run ip".into(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Command {
            command: format!("ip {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Creates a namespace with `lo` up.
pub(crate) fn create_netns(name: &str) -> Result<Netns, LabError> {
    let ns = Netns::create(name)?;
    Netlink::open(&ns)?.set_up("lo")?;
    Ok(ns)
}

/// Builds the fabric namespace with its bridge and every host's namespace
/// with its underlay veth on the bridge. Each namespace made is added to
/// `made` as soon as it exists, so a failure halfway can be torn down.
pub(crate) fn build(
    topology: &Topology,
    made: &mut BTreeMap<String, Netns>,
) -> Result<(), LabError> {
    let fabric_name = topology.fabric_netns();
    let fabric = create_netns(&fabric_name)?;
    made.insert(fabric_name, fabric.clone());
    let mut fabric_nl = Netlink::open(&fabric)?;
    fabric_nl.create_bridge(FABRIC_BRIDGE)?;
    fabric_nl.set_up(FABRIC_BRIDGE)?;
    for host in topology.hosts() {
        let name = topology.netns(&host.name);
        let ns = create_netns(&name)?;
        made.insert(name, ns.clone());
        let port = topology.fabric_port(host);
        let mut nl = Netlink::open(&ns)?;
        nl.create_veth(UNDERLAY_IF, &port)?;
        nl.move_to_netns(&port, &fabric)?;
        fabric_nl.set_master(&port, FABRIC_BRIDGE)?;
        fabric_nl.set_up(&port)?;
        let addr = Ipv4Net::new(host.underlay_ip, topology.underlay().prefix_len())
            .map_err(|e| LabError::Topology(e.to_string()))?;
        nl.add_address(UNDERLAY_IF, IpNet::V4(addr))?;
        nl.set_up(UNDERLAY_IF)?;
    }
    Ok(())
}

/// The named namespaces whose names start with `prefix`.
pub fn lab_namespaces(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(NETNS_RUN_DIR)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !prefix.is_empty() && n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// PIDs of the processes whose network namespace is the named one.
pub fn pids_in(netns: &str) -> Vec<i32> {
    let Ok(target) = std::fs::metadata(Path::new(NETNS_RUN_DIR).join(netns)) else {
        return Vec::new();
    };
    let me = std::process::id();
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| u32::try_from(*pid).is_ok_and(|p| p != me))
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino())
        })
        .collect()
}

/// Whether `pid` still runs (a zombie waiting to be reaped does not).
fn alive(pid: i32) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    // /proc/PID/stat: "PID (comm) STATE …"; comm may hold spaces.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = stat.rsplit_once(')')?.1;
            after.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// One namespace of a lab and the processes inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsStatus {
    pub name: String,
    pub pids: Vec<i32>,
}

/// The namespaces of the lab `prefix` and what runs in them, found from
/// the system alone (for `weft lab status`, also after a crash).
pub fn survey(prefix: &str) -> Vec<NetnsStatus> {
    lab_namespaces(prefix)
        .into_iter()
        .map(|name| NetnsStatus {
            pids: pids_in(&name),
            name,
        })
        .collect()
}

/// What [`teardown`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    pub namespaces: Vec<String>,
    pub processes: Vec<i32>,
}

/// Removes every namespace of the lab `prefix` and ends the processes
/// still inside them (SIGTERM, SIGKILL after `grace`): all of them were
/// started by the lab. Idempotent; works without the [`crate::Lab`] that
/// made them (after a crash). Links and taps go with their namespaces.
pub fn teardown(prefix: &str, grace: Duration) -> Result<Removed, LabError> {
    if prefix.is_empty() {
        return Err(LabError::Topology(
            "refusing to tear down with an empty prefix".into(),
        ));
    }
    let namespaces = lab_namespaces(prefix);
    let processes: Vec<i32> = namespaces.iter().flat_map(|ns| pids_in(ns)).collect();
    for pid in &processes {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while processes.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in &processes {
        if alive(*pid) {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }
    let mut first_error = None;
    for name in &namespaces {
        if Netns::exists(name)
            && let Err(e) = Netns::delete(name)
        {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(Removed {
            namespaces,
            processes,
        }),
    }
}
