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
//! * [`introspect`] — the HTTP views the CLI formats like TF's `vif`, `rt`,
//!   `nh`, `flow`, `dropstats`.
//! * [`agent`] — [`Agent::run`], which wires them.
//!
//! Headless: when the control session drops the agent changes nothing and
//! keeps forwarding; the session reconnects and resynchronises by itself.

pub mod agent;
pub mod config;
mod convert;
pub mod dataplane;
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
