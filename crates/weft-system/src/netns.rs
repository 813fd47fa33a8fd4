//! Network namespaces: named ones the way `ip netns add` makes them, and
//! running code inside one.
//!
//! `setns(2)` changes the namespace of the *calling thread* only, so code runs
//! in a namespace on a thread of its own: [`Netns::run`] for one closure,
//! [`NetnsThread`] for a long-lived thread that takes jobs. Sockets and
//! devices opened there keep belonging to that namespace whichever thread
//! later uses their fds.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where named namespaces are bind-mounted (as `ip netns` expects).
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Errors of namespace handling; each names the namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The name cannot be a file name under `/run/netns`.
    #[error("invalid network namespace name {name:?}")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// `create` found the name taken.
    #[error("network namespace {name:?} already exists")]
    AlreadyExists {
        /// The namespace.
        name: String,
    },
    /// No namespace of that name.
    #[error("network namespace {name:?} does not exist")]
    NotFound {
        /// The namespace.
        name: String,
    },
    /// A system call failed.
    #[error("network namespace {name:?}: {op}: {source}")]
    Io {
        /// The namespace.
        name: String,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The closure run inside the namespace panicked.
    #[error("network namespace {name:?}: the code run inside it panicked")]
    Panicked {
        /// The namespace.
        name: String,
    },
    /// The namespace thread is gone.
    #[error("network namespace {name:?}: its thread has stopped")]
    ThreadGone {
        /// The namespace.
        name: String,
    },
}

fn io_err<'a>(name: &'a str, op: &'static str) -> impl FnOnce(io::Error) -> NetnsError + 'a {
    move |source| NetnsError::Io {
        name: name.to_owned(),
        op,
        source,
    }
}

fn nix_err<'a>(name: &'a str, op: &'static str) -> impl FnOnce(nix::Error) -> NetnsError + 'a {
    move |e| NetnsError::Io {
        name: name.to_owned(),
        op,
        source: e.into(),
    }
}

/// An open network namespace: a name for messages and an fd that pins it.
///
/// Cheap to clone. Holding one keeps the namespace alive even after
/// [`Netns::delete`] removed its name.
#[derive(Debug, Clone)]
pub struct Netns {
    name: String,
    file: Arc<File>,
}

impl Netns {
    /// Creates a named namespace bind-mounted at `/run/netns/NAME`, like
    /// `ip netns add NAME`, and opens it. Only `lo` (down) is in it.
    pub fn create(name: &str) -> Result<Netns, NetnsError> {
        let path = path_of(name)?;
        prepare_run_dir(name)?;
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o000)
            .open(&path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(NetnsError::AlreadyExists {
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(io_err(name, "create mount point")(e)),
        }
        let made = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name(format!("netns-add-{name}"))
                .spawn_scoped(s, || -> Result<(), NetnsError> {
                    // This thread leaves the namespace of the process for a
                    // fresh one; the bind mount keeps that one alive.
                    unshare(CloneFlags::CLONE_NEWNET).map_err(nix_err(name, "unshare"))?;
                    mount(
                        Some("/proc/thread-self/ns/net"),
                        &path,
                        None::<&str>,
                        MsFlags::MS_BIND,
                        None::<&str>,
                    )
                    .map_err(nix_err(name, "bind mount"))
                })
                .map_err(io_err(name, "spawn thread"))?
                .join()
                .map_err(|_| NetnsError::Panicked {
                    name: name.to_owned(),
                })?
        });
        if let Err(e) = made {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Netns::open(name)
    }

    /// Opens an existing named namespace.
    pub fn open(name: &str) -> Result<Netns, NetnsError> {
        let path = path_of(name)?;
        Netns::open_path(name, &path)
    }

    /// Opens a namespace by path (e.g. `/proc/PID/ns/net`), naming it `name`
    /// in messages.
    pub fn open_path(name: &str, path: &Path) -> Result<Netns, NetnsError> {
        match File::open(path) {
            Ok(file) => Ok(Netns {
                name: name.to_owned(),
                file: Arc::new(file),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(NetnsError::NotFound {
                name: name.to_owned(),
            }),
            Err(e) => Err(io_err(name, "open")(e)),
        }
    }

    /// The namespace of the calling thread (the host's, unless called from a
    /// namespace thread), named `"current"`.
    pub fn current() -> Result<Netns, NetnsError> {
        Netns::open_path("current", Path::new("/proc/thread-self/ns/net"))
    }

    /// Whether a named namespace exists (as `ip netns list` would show it).
    pub fn exists(name: &str) -> bool {
        path_of(name).is_ok_and(|p| p.exists())
    }

    /// Removes a named namespace like `ip netns delete`: unmounts and
    /// removes `/run/netns/NAME`. The namespace itself goes away when the
    /// last process, fd or device using it is gone.
    pub fn delete(name: &str) -> Result<(), NetnsError> {
        let path = path_of(name)?;
        if !path.exists() {
            return Err(NetnsError::NotFound {
                name: name.to_owned(),
            });
        }
        match umount2(&path, MntFlags::MNT_DETACH) {
            // EINVAL: not a mount point (a half-made namespace): just remove it.
            Ok(()) | Err(nix::Error::EINVAL) => {}
            Err(e) => return Err(nix_err(name, "unmount")(e)),
        }
        fs::remove_file(&path).map_err(io_err(name, "remove mount point"))
    }

    /// The name given at creation or opening.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on a new thread that has entered this namespace and returns
    /// its result. The thread ends with `f`. The caller blocks meanwhile:
    /// from async code, call it inside `spawn_blocking`.
    pub fn run<F, T>(&self, f: F) -> Result<T, NetnsError>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name(format!("netns-{}", self.name))
                .spawn_scoped(s, || -> Result<T, NetnsError> {
                    self.enter()?;
                    Ok(f())
                })
                .map_err(io_err(&self.name, "spawn thread"))?
                .join()
                .map_err(|_| NetnsError::Panicked {
                    name: self.name.clone(),
                })?
        })
    }

    /// Starts a long-lived thread inside this namespace; see [`NetnsThread`].
    pub fn spawn_thread(&self) -> Result<NetnsThread, NetnsError> {
        NetnsThread::spawn(self)
    }

    /// Moves the calling thread into this namespace.
    fn enter(&self) -> Result<(), NetnsError> {
        setns(self.file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(nix_err(&self.name, "setns"))
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for Netns {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

fn path_of(name: &str) -> Result<PathBuf, NetnsError> {
    let bad = name.is_empty()
        || name.len() > 255
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\0');
    if bad {
        return Err(NetnsError::InvalidName {
            name: name.to_owned(),
        });
    }
    Ok(Path::new(NETNS_RUN_DIR).join(name))
}

/// Makes `/run/netns` and makes it a shared mount, as iproute2 does, so
/// that namespace mounts propagate to other mount namespaces.
fn prepare_run_dir(name: &str) -> Result<(), NetnsError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(NETNS_RUN_DIR)
        .map_err(io_err(name, "create /run/netns"))?;
    let share = || {
        mount(
            None::<&str>,
            NETNS_RUN_DIR,
            Some("none"),
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match share() {
        Ok(()) => Ok(()),
        Err(nix::Error::EINVAL) => {
            // Not a mount point yet: bind it onto itself, then share it.
            mount(
                Some(NETNS_RUN_DIR),
                NETNS_RUN_DIR,
                Some("none"),
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(nix_err(name, "bind /run/netns"))?;
            share().map_err(nix_err(name, "share /run/netns"))
        }
        Err(e) => Err(nix_err(name, "share /run/netns")(e)),
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A long-lived thread inside a namespace that runs jobs one at a time.
///
/// For sockets that must be created inside the namespace over the life of
/// the agent without a thread per call. Dropping it stops the thread after
/// the queued jobs.
#[derive(Debug)]
pub struct NetnsThread {
    name: String,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl NetnsThread {
    fn spawn(ns: &Netns) -> Result<NetnsThread, NetnsError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let entered = ns.clone();
        let thread = std::thread::Builder::new()
            .name(format!("netns-{}", ns.name))
            .spawn(move || {
                let res = entered.enter();
                let ok = res.is_ok();
                let _ = ready_tx.send(res);
                if ok {
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                }
            })
            .map_err(io_err(&ns.name, "spawn thread"))?;
        let gone = || NetnsError::ThreadGone {
            name: ns.name.clone(),
        };
        ready_rx.recv().map_err(|_| gone())??;
        Ok(NetnsThread {
            name: ns.name.clone(),
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `f` on the namespace thread and waits for its result.
    pub fn run<F, T>(&self, f: F) -> Result<T, NetnsError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let gone = || NetnsError::ThreadGone {
            name: self.name.clone(),
        };
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(f)));
        });
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        rx.recv()
            .map_err(|_| gone())?
            .map_err(|_| NetnsError::Panicked {
                name: self.name.clone(),
            })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for NetnsThread {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_file_names_are_rejected() {
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            assert!(matches!(path_of(bad), Err(NetnsError::InvalidName { .. })));
        }
        assert_eq!(
            path_of("weft-1").ok(),
            Some(PathBuf::from("/run/netns/weft-1"))
        );
    }

    #[test]
    fn current_namespace_runs_closures_on_another_thread() {
        let ns = Netns::current().expect("open current netns");
        let here = std::thread::current().id();
        let there = ns.run(|| std::thread::current().id());
        assert!(matches!(there, Ok(id) if id != here) || there.is_err());
    }
}
