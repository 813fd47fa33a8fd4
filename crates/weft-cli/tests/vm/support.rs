//! What the `weft vm` tests share: the image and QEMU, the root check,
//! command output, and guards that stop what a test started.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use weft_cli::vm::qemu;

/// The VM image scripts/vm-image built (scripts/test exports its
/// directory as WEFT_VM_IMAGE) and QEMU, or why the test cannot boot one.
pub(crate) fn vm_image() -> std::result::Result<PathBuf, String> {
    let dir = std::env::var_os("WEFT_VM_IMAGE")
        .map(PathBuf::from)
        .ok_or("WEFT_VM_IMAGE is not set: scripts/test builds the image with scripts/vm-image")?;
    qemu::check_image(&dir).map_err(|e| e.to_string())?;
    qemu::find_qemu("qemu-system-x86_64").map_err(|e| e.to_string())?;
    Ok(dir)
}

/// The project's scripts directory.
pub(crate) fn scripts_dir() -> String {
    format!("{}/../../scripts", env!("CARGO_MANIFEST_DIR"))
}

/// Makes (or finds) the OpenStack venv of `scripts/openstack-env`, for the
/// real Keystone; `false` after saying why when there is none.
pub(crate) fn openstack_venv_ready() -> Result<bool> {
    let venv = Command::new(format!("{}/openstack-env", scripts_dir()))
        .arg("venv")
        .output()?;
    if !venv.status.success() {
        eprintln!(
            "SKIP: no OpenStack venv for the real Keystone: {}",
            String::from_utf8_lossy(&venv.stderr)
        );
    }
    Ok(venv.status.success())
}

pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(crate) fn ok(out: Output, what: &str) -> Result<String> {
    ensure!(out.status.success(), "weft vm {what}: {}", text(&out));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn json(out: Output, what: &str) -> Result<Value> {
    let stdout = ok(out, what)?;
    serde_json::from_str(&stdout).with_context(|| format!("weft vm {what}: not JSON: {stdout}"))
}

/// `weft -o json port list` prints one port as an object, more as an array.
pub(crate) fn port_list(ports: Value) -> Vec<Value> {
    match ports {
        Value::Array(ports) => ports,
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

/// Stops a process this test started, by its PID.
pub(crate) struct Stop(pub(crate) u32);

impl Drop for Stop {
    fn drop(&mut self) {
        let pid = self.0.to_string();
        let _ = Command::new("kill").arg(&pid).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && Path::new(&format!("/proc/{pid}")).exists() {
            std::thread::sleep(Duration::from_millis(100));
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    }
}

/// A VM's QEMU this test booted, killed when dropped if it still runs
/// (a failed check must not leave it behind).
pub(crate) struct StopVm(pub(crate) u32, pub(crate) String);

impl Drop for StopVm {
    fn drop(&mut self) {
        if qemu::is_running(self.0, &self.1) {
            let _ = Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .status();
        }
    }
}
