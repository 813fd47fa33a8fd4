//! Workload stand-ins: a namespace per VM or pod.
//!
//! * A VM is a tap, made persistent on the compute node the way a
//!   hypervisor makes it (`tap` + the first 11 characters of the port id),
//!   opened there by the agent, and then moved into the VM's namespace:
//!   the agent keeps its fd, the "guest" gets the kernel interface.
//! * A pod is a veth whose host end (`veth` + the first 11 characters of
//!   the port id) stays on the node and whose other end is the pod's
//!   `eth0`, addressed statically as a CNI plugin would.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};
use weft_system::{Netlink, Netns};
use weft_types::MacAddr;

use crate::LabError;
use crate::fabric::ip;

/// The interface name inside a workload namespace.
pub const WORKLOAD_IF: &str = "eth0";

/// The host-side name of a VM port's tap (as Nova names it).
pub fn tap_name(port_id: &str) -> String {
    format!("tap{}", port_id.get(..11).unwrap_or(port_id))
}

/// The host-side name of a pod port's veth.
pub fn veth_name(port_id: &str) -> String {
    format!("veth{}", port_id.get(..11).unwrap_or(port_id))
}

/// What kind of stand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Vm,
    Pod,
}

/// A VM or pod stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// The workload's name (its namespace is the lab prefix + this).
    pub name: String,
    /// The compute host it runs on.
    pub host: String,
    /// Its namespace.
    pub netns: String,
    /// The port it is plugged into.
    pub port_id: String,
    /// The interface the agent attaches, in the host's namespace.
    pub host_interface: String,
    /// Its interface inside the workload namespace: the tap for a VM
    /// (same name as on the host), `eth0` for a pod.
    pub interface: String,
}

/// Makes the persistent tap of a VM in the host namespace `host_ns`.
pub(crate) fn create_tap(host_ns: &str, port_id: &str) -> Result<String, LabError> {
    let tap = tap_name(port_id);
    ip(&["-n", host_ns, "tuntap", "add", "mode", "tap", "name", &tap])?;
    Ok(tap)
}

/// Whether a link in `ns` is up with carrier (an agent has the tap open).
fn lower_up(ns: &str, dev: &str) -> bool {
    Command::new("ip")
        .args(["-n", ns, "-o", "link", "show", "dev", dev])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("LOWER_UP"))
}

/// Waits until the agent has opened the tap in `host_ns`, then hands the
/// kernel interface to the VM namespace with the port's MAC, up.
pub(crate) fn plug_tap(
    host_ns: &Netns,
    vm_ns: &Netns,
    tap: &str,
    mac: MacAddr,
    timeout: Duration,
) -> Result<(), LabError> {
    let deadline = Instant::now() + timeout;
    while !lower_up(host_ns.name(), tap) {
        if Instant::now() >= deadline {
            return Err(LabError::Process {
                name: format!("agent in {}", host_ns.name()),
                why: format!("did not open tap {tap} within {timeout:?}"),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Netlink::open(host_ns)?.move_to_netns(tap, vm_ns)?;
    let mut nl = Netlink::open(vm_ns)?;
    nl.set_mac(tap, mac)?;
    nl.set_up(tap)?;
    Ok(())
}

/// Makes a pod's veth: the host end in `host_ns`, `eth0` in `pod_ns` with
/// `mac`, `addr` and a default route via `gateway`.
pub(crate) fn create_pod_veth(
    host_ns: &Netns,
    pod_ns: &Netns,
    port_id: &str,
    mac: MacAddr,
    addr: Ipv4Net,
    gateway: Option<Ipv4Addr>,
) -> Result<String, LabError> {
    let host_if = veth_name(port_id);
    let peer = format!("p{}", port_id.get(..11).unwrap_or(port_id));
    let mut nl = Netlink::open(host_ns)?;
    nl.create_veth(&host_if, &peer)?;
    nl.move_to_netns(&peer, pod_ns)?;
    nl.set_up(&host_if)?;
    ip(&[
        "-n",
        pod_ns.name(),
        "link",
        "set",
        &peer,
        "name",
        WORKLOAD_IF,
    ])?;
    let mut pod = Netlink::open(pod_ns)?;
    pod.set_mac(WORKLOAD_IF, mac)?;
    pod.add_address(WORKLOAD_IF, IpNet::V4(addr))?;
    pod.set_up(WORKLOAD_IF)?;
    if let Some(gw) = gateway {
        ip(&[
            "-n",
            pod_ns.name(),
            "route",
            "add",
            "default",
            "via",
            &gw.to_string(),
        ])?;
    }
    Ok(host_if)
}

/// Runs busybox `udhcpc` in VM stand-in `vm` on its interface with an
/// event script that applies the lease and records it, and returns the
/// lease as `ip=… mask=… router=… mtu=…`.
pub fn dhcp(lab: &crate::Lab, vm: &Workload) -> Result<String, LabError> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| LabError::Io { what, source }
    };
    let lease = lab.state_dir().join(format!("{}.lease", vm.name));
    let script = lab.state_dir().join("udhcpc-event.sh");
    let body = format!(
        "#!/bin/sh\n\
         # udhcpc event script: apply the lease and record it.\n\
         case \"$1\" in\n\
         deconfig) ip addr flush dev \"$interface\" ;;\n\
         bound|renew)\n\
           ip addr flush dev \"$interface\"\n\
           ip addr add \"$ip/$mask\" dev \"$interface\"\n\
           [ -n \"$mtu\" ] && ip link set \"$interface\" mtu \"$mtu\"\n\
           [ -n \"$router\" ] && ip route replace default via \"$router\" dev \"$interface\"\n\
           echo \"ip=$ip mask=$mask router=$router mtu=$mtu\" > {}\n\
           ;;\n\
         esac\n\
         exit 0\n",
        lease.display()
    );
    std::fs::write(&script, body).map_err(io("write the udhcpc event script"))?;
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(io("make the udhcpc event script executable"))?;
    let out = lab
        .exec(&vm.name, "busybox")?
        .args([
            "udhcpc",
            "-i",
            &vm.interface,
            "-q",
            "-n",
            "-B",
            "-t",
            "5",
            "-T",
            "1",
            "-s",
        ])
        .arg(&script)
        .output()
        .map_err(io("run busybox udhcpc"))?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: format!("udhcpc -i {} (in {})", vm.interface, vm.name),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let got = std::fs::read_to_string(&lease).map_err(io("read the DHCP lease"))?;
    Ok(format!("{} ", got.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_model() {
        let id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        assert_eq!(tap_name(id), "tap0f1e2d3c-4b");
        assert_eq!(veth_name(id), "veth0f1e2d3c-4b");
        assert!(veth_name(id).len() <= 15);
    }
}
