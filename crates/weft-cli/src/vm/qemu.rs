//! Launching a VM as Nova's libvirt driver would for weft: QEMU (TCG) with
//! a virtio-net NIC on the tap `tap` + the first 11 characters of the
//! port id, carrying the port's MAC, the kernel and initramfs of an image
//! directory, and the serial console in a file. Shared by `weft vm boot`
//! and the tests that boot a VM by hand.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The files of an image directory (what scripts/vm-image makes).
pub const KERNEL: &str = "vmlinuz";
pub const INITRD: &str = "initramfs.cpio.gz";

/// The tap a hypervisor makes for a port, as Nova names it.
pub fn tap_name(port_id: &str) -> String {
    let short: String = port_id.chars().take(11).collect();
    format!("tap{short}")
}

/// Checks that `dir` holds a kernel and an initramfs.
pub fn check_image(dir: &Path) -> anyhow::Result<()> {
    for file in [KERNEL, INITRD] {
        if !dir.join(file).is_file() {
            bail!(
                "the image {} has no {file} (scripts/vm-image builds one and prints its directory)",
                dir.display()
            );
        }
    }
    Ok(())
}

/// The QEMU binary's path, found on PATH unless given with a slash.
pub fn find_qemu(qemu: &str) -> anyhow::Result<PathBuf> {
    let candidates: Vec<PathBuf> = if qemu.contains('/') {
        vec![PathBuf::from(qemu)]
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join(qemu)).collect())
            .unwrap_or_default()
    };
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .with_context(|| {
            format!("QEMU ({qemu}) is not installed here: apt-get install qemu-system-x86")
        })
}

/// Where the serial console goes.
#[derive(Debug, Clone)]
pub enum Console {
    /// QEMU's stdout (the caller redirects it).
    Stdout,
    /// A file QEMU writes itself (needed once QEMU daemonizes).
    File(PathBuf),
}

/// One VM's QEMU command line.
#[derive(Debug, Clone)]
pub struct Launch {
    pub qemu: PathBuf,
    /// The VM's name and UUID, shown in QEMU's command line (which is how
    /// a recorded PID is recognised as this VM's).
    pub name: String,
    pub uuid: String,
    pub image: PathBuf,
    pub tap: String,
    /// The guest NIC's MAC: the port's.
    pub mac: String,
    pub memory_mib: u32,
    /// Kernel command line after `console=ttyS0 quiet panic=-1`.
    pub kernel_args: String,
    pub console: Console,
    /// Daemonize once set up, writing the VM's PID here: the command then
    /// returns QEMU's start-up errors and exit status, and the VM runs on.
    pub pidfile: Option<PathBuf>,
}

impl Launch {
    /// QEMU's arguments.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |a: &str| args.push(a.into());
        push("-name");
        push(&self.name);
        push("-uuid");
        push(&self.uuid);
        for a in ["-accel", "tcg", "-smp", "1", "-no-reboot", "-nodefaults"] {
            push(a);
        }
        push("-m");
        push(&self.memory_mib.to_string());
        for a in ["-display", "none", "-monitor", "none", "-serial"] {
            push(a);
        }
        match &self.console {
            Console::Stdout => push("stdio"),
            Console::File(path) => push(&format!("file:{}", path.display())),
        }
        push("-netdev");
        push(&format!(
            "tap,id=n0,ifname={},script=no,downscript=no",
            self.tap
        ));
        push("-device");
        push(&format!("virtio-net-pci,netdev=n0,mac={}", self.mac));
        let mut append = String::from("console=ttyS0 quiet panic=-1");
        if !self.kernel_args.trim().is_empty() {
            append.push(' ');
            append.push_str(self.kernel_args.trim());
        }
        push("-append");
        push(&append);
        if let Some(pidfile) = &self.pidfile {
            push("-daemonize");
            push("-pidfile");
            push(&pidfile.display().to_string());
        }
        args.push("-kernel".into());
        args.push(self.image.join(KERNEL).into_os_string());
        args.push("-initrd".into());
        args.push(self.image.join(INITRD).into_os_string());
        args
    }

    /// The command, run inside `netns` (by `ip netns exec`, which execs
    /// QEMU: same PID) when one is given.
    pub fn command(&self, netns: Option<&str>) -> Command {
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.qemu);
                c
            }
            None => Command::new(&self.qemu),
        };
        command.args(self.args());
        command
    }
}

/// Whether `pid` is the QEMU of VM `uuid` (its command line names the
/// UUID), so a recycled PID is never taken for the VM.
pub fn is_running(pid: u32, uuid: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(uuid))
}

/// `ip [-n NETNS] ARGS`.
fn ip(netns: Option<&str>) -> Command {
    let mut command = Command::new("ip");
    if let Some(ns) = netns {
        command.args(["-n", ns]);
    }
    command
}

/// Whether a link of that name exists (in `netns`).
pub fn link_exists(netns: Option<&str>, name: &str) -> anyhow::Result<bool> {
    let out = ip(netns)
        .args(["link", "show", "dev", name])
        .output()
        .context("run ip (iproute2)")?;
    Ok(out.status.success())
}

/// Removes a link (in `netns`).
pub fn remove_link(netns: Option<&str>, name: &str) -> anyhow::Result<()> {
    let out = ip(netns)
        .args(["link", "del", "dev", name])
        .output()
        .context("run ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "cannot remove {name}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The MAC of a tap's host side, as libvirt sets it: the guest's with
/// the first octet `fe`, so the host never answers for the guest's MAC.
pub fn host_mac(guest_mac: &str) -> String {
    match guest_mac.split_once(':') {
        Some((_, rest)) => format!("fe:{rest}"),
        None => guest_mac.to_owned(),
    }
}

/// Sets the host side's MAC of a tap (in `netns`).
pub fn set_link_mac(netns: Option<&str>, name: &str, mac: &str) -> anyhow::Result<()> {
    let out = ip(netns)
        .args(["link", "set", "dev", name, "address", mac])
        .output()
        .context("run ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "cannot set the MAC of {name}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Whether a network namespace of that name exists.
pub fn netns_exists(name: &str) -> bool {
    !name.contains('/') && Path::new("/run/netns").join(name).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        Launch {
            qemu: "/usr/bin/qemu-system-x86_64".into(),
            name: "vm".into(),
            uuid: "5b0e7bfe-7c3b-4a0e-9f55-7d7f3c1d0a11".into(),
            image: "/img".into(),
            tap: tap_name("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            mac: "fa:16:3e:01:02:03".into(),
            memory_mib: 256,
            kernel_args: " peer=192.168.1.4 linger=60 ".into(),
            console: Console::File("/run/weft/vms/x.console.log".into()),
            pidfile: Some("/run/weft/vms/x.pid".into()),
        }
    }

    fn joined(l: &Launch) -> String {
        l.args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_host_side_of_the_tap_gets_libvirts_mac() {
        assert_eq!(host_mac("fa:16:3e:01:02:03"), "fe:16:3e:01:02:03");
    }

    #[test]
    fn the_tap_is_named_as_nova_names_it() {
        assert_eq!(
            tap_name("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            "tap0f1e2d3c-4b"
        );
        assert_eq!(tap_name("0f1e2d3c-4b").len(), 14);
    }

    #[test]
    fn qemu_gets_the_tap_the_mac_the_image_and_the_console() {
        let args = joined(&launch());
        for part in [
            "-uuid 5b0e7bfe-7c3b-4a0e-9f55-7d7f3c1d0a11",
            "-accel tcg",
            "-m 256",
            "-netdev tap,id=n0,ifname=tap0f1e2d3c-4b,script=no,downscript=no",
            "-device virtio-net-pci,netdev=n0,mac=fa:16:3e:01:02:03",
            "-serial file:/run/weft/vms/x.console.log",
            "-append console=ttyS0 quiet panic=-1 peer=192.168.1.4 linger=60 -daemonize",
            "-pidfile /run/weft/vms/x.pid",
            "-kernel /img/vmlinuz -initrd /img/initramfs.cpio.gz",
        ] {
            assert!(args.contains(part), "{part:?} not in {args}");
        }
        let mut foreground = launch();
        foreground.pidfile = None;
        foreground.console = Console::Stdout;
        foreground.kernel_args = String::new();
        let args = joined(&foreground);
        assert!(!args.contains("-daemonize"), "{args}");
        assert!(args.contains("-serial stdio"), "{args}");
        assert!(
            args.contains("-append console=ttyS0 quiet panic=-1 -kernel"),
            "{args}"
        );
    }

    #[test]
    fn a_netns_runs_qemu_through_ip_netns_exec() {
        let command = launch().command(Some("lab-os-compute"));
        assert_eq!(command.get_program(), "ip");
        let args: Vec<_> = command.get_args().take(4).collect();
        assert_eq!(
            args,
            [
                "netns",
                "exec",
                "lab-os-compute",
                "/usr/bin/qemu-system-x86_64"
            ]
        );
        assert_eq!(
            launch().command(None).get_program(),
            "/usr/bin/qemu-system-x86_64"
        );
    }

    #[test]
    fn a_missing_qemu_or_image_is_named() {
        let e = find_qemu("no-such-qemu-here").unwrap_err().to_string();
        assert!(
            e.contains("QEMU (no-such-qemu-here) is not installed"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let e = check_image(dir.path()).unwrap_err().to_string();
        assert!(e.contains("has no vmlinuz"), "{e}");
        std::fs::write(dir.path().join(KERNEL), b"k").unwrap();
        std::fs::write(dir.path().join(INITRD), b"i").unwrap();
        check_image(dir.path()).unwrap();
    }

    #[test]
    fn a_pid_is_this_vm_only_if_its_command_line_names_the_uuid() {
        let me = std::process::id();
        assert!(!is_running(me, "5b0e7bfe-7c3b-4a0e-9f55-7d7f3c1d0a11"));
        assert!(is_running(me, "weft"));
        assert!(!is_running(u32::MAX, "weft"));
    }
}
