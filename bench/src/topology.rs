//! Network namespaces and background processes a benchmark creates, and
//! their removal: on drop, and — for what a killed run left behind — at the
//! start of the next run.
//!
//! Every namespace carries the benchmark's prefix, so leftovers are found by
//! name. Every process started is recorded by PID in a file under the
//! system temporary directory; a later run stops only those PIDs, and only
//! while their command name and arguments still show them to be ours.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use weft_system::Netns;

/// The namespaces and processes of one run, removed when dropped.
#[derive(Debug)]
pub struct Topology {
    prefix: String,
    pid_file: PathBuf,
    namespaces: Vec<String>,
    /// Processes in start order; stopped in reverse.
    daemons: Vec<Daemon>,
}

/// A process started by [`Topology::spawn`].
#[derive(Debug)]
struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Topology {
    /// Removes what an earlier run with `prefix` left (recorded processes,
    /// then namespaces named `<prefix>-…`) and starts an empty topology.
    pub fn new(prefix: &str) -> anyhow::Result<Topology> {
        let pid_file = std::env::temp_dir().join(format!("{prefix}.pids"));
        stop_recorded(&pid_file, prefix);
        for name in namespaces_with(prefix) {
            eprintln!("removing namespace {name} left by an earlier run");
            Netns::delete(&name).with_context(|| format!("cannot delete namespace {name}"))?;
        }
        File::create(&pid_file).with_context(|| format!("cannot create {}", pid_file.display()))?;
        Ok(Topology {
            prefix: prefix.to_owned(),
            pid_file,
            namespaces: Vec::new(),
            daemons: Vec::new(),
        })
    }

    /// Creates namespace `<prefix>-<tag>` with `lo` up.
    pub fn netns(&mut self, tag: &str) -> anyhow::Result<Netns> {
        let name = format!("{}-{tag}", self.prefix);
        let ns = Netns::create(&name).with_context(|| format!("cannot create namespace {name}"))?;
        self.namespaces.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Starts `program args…` with stderr to `log`, and records its PID.
    pub fn spawn(
        &mut self,
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> anyhow::Result<u32> {
        let stderr =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot run {}", program.display()))?;
        let pid = child.id();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.pid_file)
            .with_context(|| format!("cannot open {}", self.pid_file.display()))?;
        writeln!(file, "{pid}").context("cannot record the PID")?;
        self.daemons.push(Daemon {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        });
        Ok(pid)
    }

    /// Fails, with the last lines of its log, if a process has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        for d in &mut self.daemons {
            if let Some(status) = d.child.try_wait().context("cannot poll a child")? {
                bail!(
                    "{} exited ({status}); its log:\n{}",
                    d.name,
                    log_tail(&d.log)
                );
            }
        }
        Ok(())
    }

    /// CPU time (user + system) each process, and this one last, has
    /// used so far, by name.
    pub fn cpu_seconds(&self) -> Vec<(String, f64)> {
        let mut all: Vec<(String, f64)> = self
            .daemons
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    cpu_seconds(d.child.id()).unwrap_or(f64::NAN),
                )
            })
            .collect();
        all.push((
            "the benchmark itself".to_owned(),
            cpu_seconds(std::process::id()).unwrap_or(f64::NAN),
        ));
        all
    }

    /// The last lines of every process's log, for error messages.
    pub fn logs(&self) -> String {
        self.daemons
            .iter()
            .map(|d| {
                format!(
                    "--- {} ({}):\n{}",
                    d.name,
                    d.log.display(),
                    log_tail(&d.log)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // SIGTERM to each child's own PID, then SIGKILL to any still there.
        for d in self.daemons.iter().rev() {
            if let Ok(pid) = i32::try_from(d.child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for d in self.daemons.iter_mut().rev() {
            while Instant::now() < deadline && matches!(d.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = d.child.kill();
            let _ = d.child.wait();
        }
        for name in self.namespaces.drain(..).rev() {
            if Netns::exists(&name)
                && let Err(e) = Netns::delete(&name)
            {
                eprintln!("cleanup: {e}");
            }
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// Runs `ip args…`, failing with its stderr.
pub fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("cannot run ip")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    let lead = format!("{prefix}-");
    std::fs::read_dir("/run/netns")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&lead))
                .collect()
        })
        .unwrap_or_default()
}

/// Kills the PIDs in `pid_file` whose command line still names `prefix`.
fn stop_recorded(pid_file: &Path, prefix: &str) {
    let Ok(text) = std::fs::read_to_string(pid_file) else {
        return;
    };
    for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(prefix) {
            eprintln!("stopping PID {pid} left by an earlier run");
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// utime + stime of `pid` from `/proc/PID/stat`, in seconds. Those fields
/// count USER_HZ ticks, which Linux fixes at 100 per second.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
