//! A `weft server` subprocess on a free loopback port.
//!
//! Only the process started here is ever signalled, by its PID; dropping a
//! [`ServerProcess`] that was not stopped kills it, so an error part-way
//! through a benchmark leaves nothing running.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use weft_api::client::Client;

/// A running `weft server` started by this process.
#[derive(Debug)]
pub struct ServerProcess {
    /// `None` once stopped.
    child: Option<Child>,
    pid: u32,
    url: String,
    log: PathBuf,
}

/// The server's memory, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now, in KiB.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident size, in KiB.
    pub hwm_kib: u64,
}

impl ServerProcess {
    /// Starts `weft server` on `data_dir` (created by the server) and a free
    /// loopback port, with its log in `log`. Does not wait for it to answer.
    pub fn start(weft: &Path, data_dir: &Path, log: &Path) -> anyhow::Result<ServerProcess> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .context("cannot find a free loopback port")?
            .port();
        let log_file =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(weft)
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot run {}", weft.display()))?;
        Ok(ServerProcess {
            pid: child.id(),
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            log: log.to_owned(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until `GET /` answers, failing if the server exits first or
    /// `timeout` passes.
    pub async fn wait_ready(&mut self, client: &Client, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if client.info().await.is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("cannot poll the server")?
            {
                self.child = None;
                bail!(
                    "weft server exited before answering ({status}); its log:\n{}",
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "weft server at {} did not answer within {timeout:?}; its log:\n{}",
                    self.url,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server's resident memory now and at its peak.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.pid);
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .with_context(|| format!("no {name} in {path}"))?;
            let kib = line.trim().trim_end_matches("kB").trim();
            kib.parse()
                .with_context(|| format!("unreadable {name} in {path}: {line:?}"))
        };
        Ok(Memory {
            rss_kib: field("VmRSS")?,
            hwm_kib: field("VmHWM")?,
        })
    }

    /// Sends SIGTERM and waits up to `timeout` for the server to exit, then
    /// kills it. An exit by anything but SIGTERM's clean path is an error.
    pub async fn stop(mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("weft server {} was already gone", self.pid);
        };
        let pid = Pid::from_raw(i32::try_from(self.pid).context("PID out of range")?);
        kill(pid, Signal::SIGTERM).with_context(|| format!("cannot signal PID {pid}"))?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().context("cannot wait for the server")? {
                if !status.success() {
                    bail!(
                        "weft server exited with {status} after SIGTERM; its log:\n{}",
                        self.log_tail()
                    );
                }
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("weft server did not exit within {timeout:?} of SIGTERM; killed it");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL to this child's PID only.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
