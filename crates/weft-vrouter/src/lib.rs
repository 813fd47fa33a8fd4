//! The forwarding engine of weft's userspace vRouter: Tungsten Fabric's
//! `vrouter.ko` tables (vif, VRF/FIB, next hop, MPLS label, VXLAN VNI,
//! flow) and packet path, as a library with no I/O.
//!
//! The engine is a state machine in the smoltcp mould: the agent programs
//! it with [`Command`]s ([`Engine::apply`]), hands it frames read from taps
//! and veths ([`Engine::receive_vif`]) and tunnel payloads read from the
//! underlay sockets ([`Engine::receive_underlay`]), sends the [`Output`]s
//! it gets back, and calls [`Engine::poll`] to age flows. Time is an
//! argument ([`Millis`]); nothing here reads a clock, opens a socket or
//! panics on any input.
//!
//! # The packet path (DESIGN.md §3.5)
//!
//! ```text
//! vif rx ─ Ethernet ─┬ ARP ─────────── proxy reply with the vRouter MAC (arp)
//!   (anti-spoofing)  ├ UDP → 67 ────── DHCP server (dhcp)
//!                    └ IP to vRouter MAC ─ service VIP? DNAT to a backend (service)
//!                        FIB LPM in the vif's VRF (fib)
//!                        ├ Receive ─── ICMP/ICMPv6 echo reply (icmp, icmpv6)
//!                        ├ Discard
//!                        ├ Encap ───┐
//!                        └ Tunnel ──┤ flow lookup; on a miss evaluate the
//!                                   │ egress ACL of the local source and the
//!                                   │ ingress ACL of the local destination
//!                                   │ (flow, acl), install fwd + rev entries
//!                                   ├ local vif: L2 rewrite, TTL − 1
//!                                   └ tunnel: MPLSoUDP | MPLSoGRE | VXLAN
//!                                     payload to the remote (tunnel)
//! underlay rx ─ label → vif │ VNI → VRF → inner LPM → vif ─ flow ─ deliver
//! (replies of a translated connection get the service address back)
//! ```
//!
//! Every drop is counted under one [`DropReason`], engine-wide and per vif.
//!
//! The host vif ([`VifKind::Host`], TF's vhost0) is the node's own kernel:
//! no anti-spoofing or DHCP on it, and a flow between the node's own
//! address and a local workload is always forwarded (kubelet probes).
//! What the kernel sends a workload is keyed in the workload's VRF, so a
//! pod's traffic to the fabric (fabric SNAT: the kernel masquerades it)
//! gets its replies back through the pod's flow.
//!
//! # Where to start reading
//!
//! [`engine`] (tables and commands), then [`datapath`] (the per-packet
//! code), then the concept modules it calls: `fib`, [`flow`], [`acl`],
//! [`tunnel`], `arp`, `dhcp`, `icmp`, `icmpv6`. [`view`] holds the
//! introspection rows the CLI prints.

//! # Not yet
//!
//! L2 bridging (frames not addressed to the vRouter MAC are dropped as
//! `NotForVrouter`; VXLAN carries routed traffic only), ECMP composite next
//! hops for routes (services spread connections over backends instead),
//! TCP-state-driven flow eviction, matching ICMP errors to the flow they
//! quote, NAT other than services (floating IPs, link-local services; the
//! node's kernel does fabric SNAT through the host vif) and mirroring.

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod acl;
mod arp;
pub mod command;
pub mod datapath;
mod dhcp;
pub mod engine;
mod error;
mod fib;
pub mod flow;
mod icmp;
mod icmpv6;
pub mod ids;
pub mod nexthop;
mod packet;
pub mod service;
pub mod stats;
pub mod tunnel;
pub mod view;
pub mod vif;

pub use acl::{AclRule, Direction, Ethertype, Remote};
pub use command::{Command, RouteConfig, VrfConfig};
pub use datapath::Output;
pub use engine::{Engine, EngineConfig, VROUTER_MAC};
pub use error::VrouterError;
pub use flow::{FlowAction, FlowKey, FlowTimeouts};
pub use ids::{Millis, NhId, SgId, VifId, VrfId};
pub use nexthop::{Encapsulation, NextHop, NextHopKind};
pub use service::{Backend, ServiceConfig, ServiceKey};
pub use stats::{Counters, DropReason, DropStats};
pub use tunnel::{TunnelKind, UnderlayKind};
pub use view::{FlowView, NextHopView, NhFlag, NhType, RouteFlags, RouteView, VifFlags, VifView};
pub use vif::{AllowedAddressPair, DhcpConfig, VifConfig, VifKind};
