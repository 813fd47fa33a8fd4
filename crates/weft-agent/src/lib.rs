//! `weft agent`: one per compute node or Kubernetes worker (DESIGN.md §3.1).
//!
//! The agent glues three crates together and holds no protocol logic of
//! its own:
//!
//! ```text
//!  control node ──gRPC (weft-control AgentSession)──┐
//!    NodeConfig snapshots, RouteAdded/Withdrawn     │ publish / withdraw / port status
//!                                                   ▼
//!                       reconcile::Reconciler (pure: snapshot + events → Plan)
//!                                                   │ engine Commands, ports to attach
//!                                                   ▼
//!   dataplane::Dataplane ── one task owns the weft-vrouter Engine
//!        ▲ frames from taps / veths (weft-system)       │ Output::ToVif / ToUnderlay
//!        └ MPLSoUDP :6635, VXLAN :4789, GRE (underlay)  ▼ written to the right fd
//!                                                   introspect (axum): /vifs /routes /nexthops /flows /dropstats
//! ```
//!
//! * [`config`] — [`AgentConfig`], what the process is told.
//! * [`labels`] — per-node MPLS labels and vif ids, persisted in
//!   `state_dir` so a restarted agent re-plugs ports with the same labels.
//! * [`reconcile`] — the pure reconciler, unit-tested without I/O.
//! * [`dataplane`] — the engine task and its [`dataplane::Transmit`] sink;
//!   [`io`] — the real fds (taps, AF_PACKET, underlay sockets) in the
//!   node's namespace.
//! * [`host`] — the node's own stack (`--host-interface`, TF's vhost0):
//!   the host vif's constants, the kernel routes and fabric-SNAT
//!   masquerade carried out with `ip` and `nft` in the node's namespace.
//! * [`introspect`] — the HTTP views the CLI formats like TF's `vif`, `rt`,
//!   `nh`, `flow`, `dropstats`.
//! * [`cni`] — the local CNI endpoint (unix socket) the `weft-cni` plugin
//!   calls: pod ports got or made on the server at once, veths made into
//!   the container's namespace, DELs queued while the server is away.
//! * [`agent`] — [`Agent::run`], which wires them.
//!
//! Headless: when the control session drops the agent changes nothing and
//! keeps forwarding; the session reconnects and resynchronises by itself.
//!
//! # Tests
//! `reconcile` unit tests (snapshot → commands accepted by a real engine,
//! labels kept across a restart through `state_dir`, remote route → tunnel
//! next hop + route with SG ids, withdrawal); `tests/two_agents.rs` (two
//! agents against a real control node over gRPC with an in-memory underlay:
//! routes, labels, Sip/Dip, SG gating of the pod → VM ping, headless
//! forwarding); `tests/netns.rs` (root: real taps, veths and underlay
//! sockets in namespaces, ICMP echo both ways).
//!
//! # Not yet
//! A local API for VM port plug (VM ports come only from the control
//! node's snapshots), `PortState::Down` on detach, honouring the
//! engine's flow-hash UDP source port (the underlay sockets are bound to
//! 6635/4789), batching (one frame per syscall), stale-route cleanup on
//! agent restart beyond what the session's End-of-RIB does, ECMP between
//! several nodes advertising one prefix (the lowest next hop wins).

pub mod agent;
pub mod cni;
pub mod config;
mod convert;
pub mod dataplane;
pub mod host;
pub mod introspect;
pub mod io;
pub mod labels;
pub mod reconcile;

pub use agent::{Agent, AgentRunError};
pub use config::AgentConfig;
pub use convert::ConvertError;
pub use dataplane::{Dataplane, Transmit};
pub use labels::{LabelStore, Labels};
pub use reconcile::{Plan, Reconciler};
