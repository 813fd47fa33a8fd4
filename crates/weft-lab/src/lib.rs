//! The reference topology of DESIGN.md §2 on one machine, in network
//! namespaces, running the real `weft` processes. This is what
//! `weft lab up/down/status/exec` and the end-to-end tests stand on.
//!
//! ```text
//!   <prefix>cnt-control        <prefix>os-compute          <prefix>k8s-worker
//!   weft server                weft agent                  weft agent
//!   eth0 192.168.200.10        eth0 192.168.200.13         eth0 192.168.200.14
//!      │ veth                     │ veth  tap─▶<prefix>vm     │ veth  veth─▶<prefix>pod
//!   ┌──┴──────────────────────────┴───────────────────────────┴──┐
//!   │ <prefix>fabric: bridge br0 (ports v10, v13, v14)            │
//!   └─────────────────────────────────────────────────────────────┘
//! ```
//!
//! Everything — agent sessions, the API, tunnels — stays inside the lab's
//! namespaces; nothing is added to the root namespace. Clients run where
//! they belong: the `weft` CLI for resources inside the control host
//! ([`Lab::weft`] sets `WEFT_SERVER`), the introspection commands (`weft
//! vif`, `rt`, `nh`, `flow`, `dropstats`) on the node whose agent they ask.
//!
//! * [`topology`] — hosts, roles, underlay addresses and namespace names
//!   (every name starts with a caller-chosen prefix).
//! * [`inventory`] — topologies and settings read from TF's
//!   `instances.yaml` or weft's own inventory format.
//! * [`fabric`] — building the namespaces and links, and [`teardown`],
//!   which finds a lab again by its prefix (also after a crash), ends the
//!   processes inside its namespaces and removes them.
//! * [`process`] — child processes inside a namespace, logs, readiness,
//!   SIGTERM/SIGKILL by PID.
//! * [`workload`] — VM stand-ins (a tap the agent opens, then moved into
//!   the VM namespace) and pod stand-ins (a veth whose host end the agent
//!   attaches).
//! * [`capture`] — dumpcap on a lab interface, decoded with tshark.
//! * [`lab`] — [`Lab`], which ties them together.
//! * [`scenario`] — the reference scenario played in a lab, with a
//!   transcript; with real parts (`weft lab up --full`) the network comes
//!   from the `openstack` CLI, the VM from QEMU and the pod from a real
//!   Kubernetes cluster ([`kubernetes_down`] takes that cluster down first
//!   on every teardown).
//!
//! Needs root (namespaces, taps), `ip` (iproute2) and, for captures,
//! `dumpcap`/`tshark`.

pub mod capture;
pub mod fabric;
pub mod http;
pub mod inventory;
pub mod lab;
pub mod process;
pub mod scenario;
pub mod topology;
pub mod workload;

pub use capture::{Capture, decode};
pub use fabric::{NetnsStatus, Removed, lab_namespaces, survey, teardown};
pub use inventory::{Inventory, Note, Plan, Settings};
pub use lab::{Lab, LabConfig, NeutronAuth, kubernetes_down};
pub use process::Process;
pub use topology::{Host, Role, Topology};
pub use workload::{Workload, WorkloadKind, tap_name, veth_name};

use weft_system::{LinkError, NetnsError};

/// Why the lab could not do something.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The topology or a name in it is not usable.
    #[error("lab topology: {0}")]
    Topology(String),
    /// Namespaces of the prefix exist already.
    #[error("namespaces of lab {prefix:?} exist already ({names:?}); tear that lab down first")]
    Leftovers { prefix: String, names: Vec<String> },
    /// A namespace could not be created, opened or removed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// A link could not be made or changed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A system call or file operation failed.
    #[error("cannot {what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A helper command failed.
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    /// A lab process did not start, answer or stay up.
    #[error("{name}: {why}")]
    Process { name: String, why: String },
    /// An expected result of a scenario did not hold.
    #[error("scenario: {0}")]
    Scenario(String),
}
