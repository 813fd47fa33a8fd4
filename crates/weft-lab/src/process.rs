//! Child processes run inside a namespace (`ip netns exec`, which execs,
//! so the child's PID is the program's own), logging to a file; stopped by
//! PID, SIGTERM first.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::LabError;

/// A program running in a lab namespace; killed (SIGKILL, by PID) when
/// dropped if it still runs.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
    /// Left running on purpose ([`Process::release`]): not killed on drop.
    released: bool,
}

/// `ip netns exec NS program`: a command that runs inside `netns`.
pub fn in_netns(netns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", netns]).arg(program);
    command
}

fn open_log(path: &Path) -> Result<File, LabError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LabError::Io {
            what: format!("open log {}", path.display()),
            source,
        })
}

impl Process {
    /// Starts `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Process, LabError> {
        let out = open_log(log)?;
        let err = out.try_clone().map_err(|source| LabError::Io {
            what: format!("open log {}", log.display()),
            source,
        })?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| LabError::Io {
                what: format!("start {name}"),
                source,
            })?;
        Ok(Process {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
            released: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn signal(&self, signal: Signal) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // ESRCH: already gone (reaped below).
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }

    /// SIGTERM; SIGKILL if it has not exited after `grace`. Reaps it.
    pub fn stop(&mut self, grace: Duration) {
        if !self.running() {
            return;
        }
        self.signal(Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }

    /// SIGKILL, as a crash would. Reaps it.
    pub fn kill(&mut self) {
        if self.running() {
            self.signal(Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }

    /// Waits until `ready` holds, failing early if the process exits.
    pub fn wait_until(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), LabError> {
        let deadline = Instant::now() + timeout;
        loop {
            if ready() {
                return Ok(());
            }
            if !self.running() {
                return Err(LabError::Process {
                    name: self.name.clone(),
                    why: format!("exited early; see {}", self.log.display()),
                });
            }
            if Instant::now() >= deadline {
                return Err(LabError::Process {
                    name: self.name.clone(),
                    why: format!("not ready after {timeout:?}; see {}", self.log.display()),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Process {
    /// Leaves the process running when this handle goes (a lab left up
    /// for later commands); returns its PID. [`crate::teardown`] still
    /// finds it by its namespace.
    pub fn release(mut self) -> u32 {
        self.released = true;
        self.pid()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !self.released {
            self.kill();
        }
    }
}
