//! `weft vm` for real on the reference lab: QEMU (TCG) boots the
//! project's image on a port made through weft's Neutron API (noauth, as
//! the lab serves it by default); the VM gets 192.168.1.3 by DHCP from the
//! agent on os-compute, pings a pod stand-in on k8s-worker, is listed
//! ACTIVE, and `weft vm delete` leaves no tap, process or port. The
//! Keystone paths are in `vm_keystone.rs`.

#[allow(dead_code)]
#[path = "overlay/support.rs"]
mod support;
#[allow(dead_code)]
#[path = "vm/support.rs"]
mod vm_support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use support::*;
use vm_support::*;
use weft_cli::vm::qemu;
use weft_lab::Lab;

/// `weft vm ARGS` on os-compute, against the lab's noauth Neutron.
fn vm(lab: &Lab, state: &Path, image: &Path, args: &[&str]) -> Result<Output> {
    Ok(lab
        .weft(COMPUTE)?
        .arg("vm")
        .args(args)
        .env_remove("OS_NETWORK_ENDPOINT_OVERRIDE")
        .env_remove("OS_PROJECT_ID")
        .env("OS_AUTH_TYPE", "none")
        .env("OS_ENDPOINT", lab.topology().neutron_url()?)
        .env("WEFT_VM_STATE_DIR", state)
        .env("WEFT_VM_IMAGE", image)
        .output()?)
}

/// The ports Nova-style boots made (device_owner compute:nova).
fn nova_ports(lab: &Lab) -> Result<Vec<Value>> {
    Ok(port_list(api(lab, &["port", "list"])?)
        .into_iter()
        .filter(|p| p["device_owner"] == "compute:nova")
        .collect())
}

#[test]
#[ignore = "needs root, network namespaces and QEMU: run scripts/test as root"]
fn weft_vm_boots_a_qemu_vm_that_gets_its_address_by_dhcp_and_reaches_a_pod() -> Result<()> {
    let image = match vm_image() {
        Ok(dir) => dir,
        Err(why) => {
            eprintln!("SKIP: {why}");
            return Ok(());
        }
    };
    with_lab("v", |lab| {
        register_nodes(lab)?;
        for project in ["k8s-contrail", "k8s-seamless"] {
            weft(lab, CONTROL, &["project", "create", project])?;
        }
        api(lab, &["vn", "create", VN, "--subnet", "192.168.1.0/24"])?;
        // The pod stand-in holds .4, so the VM's port takes .3.
        pod_stand_in(
            lab,
            "pod",
            &[
                "--vn",
                VN,
                "--name",
                "cont",
                "--project",
                "k8s-seamless",
                "--ip",
                "192.168.1.4",
            ],
            "192.168.1.1",
        )?;
        add_ingress(lab, POD_SG, &["--remote-ip", "0.0.0.0/0"])?;
        let state = lab.state_dir().join("vms");
        let netns = lab.topology().netns(COMPUTE);

        // Refusals name what was wrong and leave nothing behind.
        let unknown = vm(
            lab,
            &state,
            &image,
            &["boot", "vm", "--net", "nope", "--host", COMPUTE],
        )?;
        ensure!(
            !unknown.status.success() && text(&unknown).contains("no network \"nope\""),
            "boot on an unknown network: {}",
            text(&unknown)
        );
        let broken = lab.state_dir().join("broken-image");
        std::fs::create_dir_all(&broken)?;
        std::fs::write(broken.join(qemu::KERNEL), "not a kernel")?;
        std::fs::write(broken.join(qemu::INITRD), "not an initramfs")?;
        let failed = vm(
            lab,
            &state,
            &image,
            &[
                "boot",
                "vm",
                "--net",
                "seamless",
                "--host",
                COMPUTE,
                "--netns",
                &netns,
                "--image",
                &broken.display().to_string(),
            ],
        )?;
        ensure!(
            !failed.status.success() && text(&failed).contains("QEMU did not start"),
            "boot of a broken image: {}",
            text(&failed)
        );
        let left = nova_ports(lab)?;
        ensure!(left.is_empty(), "ports left by failed boots: {left:?}");

        // Nova's part: the port through Neutron, QEMU on its tap.
        let booted = json(
            vm(
                lab,
                &state,
                &image,
                &[
                    "-o",
                    "json",
                    "boot",
                    "vm",
                    "--net",
                    "seamless",
                    "--host",
                    COMPUTE,
                    "--netns",
                    &netns,
                    "--kernel-args",
                    "peer=192.168.1.4 linger=120",
                ],
            )?,
            "boot",
        )?;
        let vm_id = str_of(&booted, "id")?.to_owned();
        let port_id = str_of(&booted, "port_id")?.to_owned();
        let tap = str_of(&booted, "tap")?.to_owned();
        let pid = booted["pid"].as_u64().context("pid")? as u32;
        ensure!(
            tap == qemu::tap_name(&port_id) && qemu::is_running(pid, &vm_id),
            "after boot: {booted}"
        );
        let port = api(lab, &["port", "show", &port_id])?;
        ensure!(
            port["device_owner"] == "compute:nova"
                && port["device_id"] == vm_id.as_str()
                && port["binding_host_id"] == COMPUTE
                && port["fixed_ips"][0]["ip_address"] == "192.168.1.3",
            "the VM's port as Nova makes it: {port}"
        );

        let console = || {
            vm(lab, &state, &image, &["console", "vm"])
                .map(|o| text(&o))
                .unwrap_or_default()
        };
        let pinged = wait_for("the VM to ping the pod", Duration::from_secs(180), || {
            let log = console();
            log.contains("WEFT-VM ping-ok peer") || log.contains("WEFT-VM ping-failed peer")
        });
        let log = console();
        pinged.with_context(|| format!("console:\n{log}"))?;
        for mark in [
            "WEFT-VM dhcp-ok addr=192.168.1.3/24 router=192.168.1.1",
            "WEFT-VM ping-ok gateway 192.168.1.1",
            "WEFT-VM ping-ok peer 192.168.1.4",
        ] {
            ensure!(log.contains(mark), "no {mark:?} in the console:\n{log}");
        }

        // `nova list`: ACTIVE with its address, in both formats.
        let listed = json(vm(lab, &state, &image, &["-o", "json", "list"])?, "list")?;
        let row = listed
            .as_array()
            .and_then(|l| l.iter().find(|v| v["id"] == vm_id.as_str()))
            .with_context(|| format!("the VM is not listed: {listed}"))?;
        ensure!(
            row["status"] == "ACTIVE"
                && row["networks"] == serde_json::json!({"seamless": ["192.168.1.3"]}),
            "vm list: {row}"
        );
        let table = ok(vm(lab, &state, &image, &["list"])?, "list")?;
        let line = table
            .lines()
            .find(|l| l.contains(&vm_id))
            .with_context(|| format!("no row in {table}"))?;
        ensure!(
            line.contains("ACTIVE") && line.contains("seamless=192.168.1.3"),
            "vm list table: {table}"
        );

        // The pod reaches the VM once the VM's group admits it.
        let before = ping(lab, "pod", "192.168.1.3", 2)?;
        ensure!(before.none(), "pod → VM before the rule: {before:?}");
        let vm_sg = port["security_groups"][0]
            .as_str()
            .with_context(|| format!("the VM's port has no group: {port}"))?;
        add_ingress(lab, vm_sg, &["--remote-ip", "0.0.0.0/0"])?;
        ping_until_ok(lab, "pod", "192.168.1.3")?;

        // Groups by name, in the caller's project (noauth: Neutron's
        // fake_project_id, the project the first VM's port went to).
        let vm2 = |sg: &str| {
            vm(
                lab,
                &state,
                &image,
                &[
                    "-o", "json", "boot", "vm2", "--net", "seamless", "--host", COMPUTE, "--netns",
                    &netns, "--sg", sg,
                ],
            )
        };
        let unknown = vm2("nope")?;
        ensure!(
            !unknown.status.success() && text(&unknown).contains("no security group \"nope\""),
            "boot with an unknown group: {}",
            text(&unknown)
        );
        ensure!(nova_ports(lab)?.len() == 1, "a refused boot made a port");
        let second = json(vm2("default")?, "boot vm2")?;
        let second_port = api(lab, &["port", "show", str_of(&second, "port_id")?])?;
        ensure!(
            second_port["security_groups"] == serde_json::json!([vm_sg]),
            "--sg default gave {second_port}"
        );
        let listed = json(vm(lab, &state, &image, &["-o", "json", "list"])?, "list")?;
        ensure!(
            listed.as_array().map(Vec::len) == Some(2),
            "two VMs: {listed}"
        );
        ok(
            vm(lab, &state, &image, &["delete", str_of(&second, "id")?])?,
            "delete vm2",
        )?;

        // Delete: no process, no tap, no port, no record.
        let deleted = ok(vm(lab, &state, &image, &["delete", "vm"])?, "delete")?;
        ensure!(deleted.contains(&vm_id), "vm delete: {deleted}");
        ensure!(!qemu::is_running(pid, &vm_id), "QEMU {pid} runs on");
        ensure!(
            !qemu::link_exists(Some(&netns), &tap)?,
            "{tap} is left in {netns}"
        );
        let gone = lab
            .weft(CONTROL)?
            .args(["port", "show", &port_id])
            .output()?;
        ensure!(!gone.status.success(), "the port is left: {}", text(&gone));
        let listed = json(vm(lab, &state, &image, &["-o", "json", "list"])?, "list")?;
        ensure!(listed == serde_json::json!([]), "after delete: {listed}");
        Ok(())
    })
}
