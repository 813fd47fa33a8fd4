//! weft's control protocol: the long-lived gRPC stream between the control
//! node (`weft server`) and each `weft agent`.
//!
//! # The stream
//! The agent opens `weft.control.v1.Control/Session` (see
//! `proto/control.proto`) with `authorization: Bearer <cluster token>`; a
//! missing or wrong token is refused with `Unauthenticated` before any data
//! flows ([`auth`]). The agent's first message is `Hello` (node name,
//! underlay IPv4, encapsulations, version, restart generation). Then, in any
//! order: `SubscribeVrf`/`UnsubscribeVrf`, `PublishRoute`/`WithdrawRoute`
//! for its local ports, `PortStatus`, and `EndOfRib` once all its local
//! routes have been (re)published.
//!
//! The server sends:
//! * `NodeConfig` — always a **full snapshot** of the node's desired state
//!   (ports bound to it, VRFs, compiled ACLs per SG id, encapsulation
//!   priority) with a `generation`. One is sent right after Hello and again
//!   whenever the [`server::ConfigSource`] signals a change *and* this node's
//!   snapshot differs from the last one sent on this session, so a change
//!   reaches only the nodes it concerns. The agent diffs snapshots; a
//!   reconnect needs no special resync.
//! * `RouteAdd`/`RouteWithdraw` — paths of subscribed VRFs published by
//!   *other* nodes, with next hop = the origin's underlay IP, label, VNI,
//!   encapsulations and the SG ids of the origin port (so remote-group
//!   rules are evaluated at flow setup). A path is identified by (VRF,
//!   prefix, next hop).
//! * `EndOfRib{vrf}` — after a subscription's current paths were sent.
//! * `Error` — a rejected request (bad field, message before Hello).
//!
//! # Restart semantics
//! * Server ([`rib`]): when a session drops, the node's paths stay
//!   advertised as stale for a grace period (default 30 s). If the node
//!   reconnects, the deadline restarts as a bound on its End-of-RIB; paths
//!   it republishes are refreshed silently (reflected only if changed), and
//!   on its `EndOfRib` the still-stale ones are withdrawn. If the deadline
//!   passes, all its stale paths are withdrawn.
//! * Server start: the new reflector knows no path while the agents still
//!   forward with the previous one's. Until every node that holds ports
//!   ([`server::ConfigSource::nodes`]) has sent its `EndOfRib`, or the
//!   grace period has passed, it holds back the `EndOfRib` of every
//!   subscription, so no agent drops a remote route its origin has not
//!   had the time to republish.
//! * Agent ([`agent`]): on disconnect it emits
//!   [`agent::AgentEvent::Disconnected`] and keeps everything (headless);
//!   its copy of remote routes is marked stale. It reconnects with
//!   exponential backoff, says Hello, resubscribes, republishes its local
//!   routes and port status, and sends `EndOfRib` — once the agent has
//!   declared its local routes complete
//!   ([`agent::AgentSession::local_routes_complete`]); a freshly started
//!   agent sends it only then, so the server keeps its stale paths until
//!   it has republished. `weft agent` declares them complete once every
//!   port of its first configuration is plugged, or 10 s after that
//!   configuration. On server shutdown every session ends with
//!   `Unavailable` and the agents go headless. For each VRF, the
//!   server's `EndOfRib` makes it drop the remote routes not refreshed
//!   since the reconnect, emitting one [`agent::AgentEvent::RouteWithdrawn`]
//!   each — so the consumer only ever applies adds and withdrawals.
//!
//! # Layout
//! [`proto`] (generated), [`rib`] (the pure reflector state machine),
//! [`server`] (the tonic driver around it), [`agent`] (the session and its
//! pure state), [`auth`] (the bearer-token check).

pub mod agent;
pub mod auth;
pub mod rib;
pub mod server;

/// Messages and service generated from `proto/control.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("weft.control.v1");
}

/// `tap` + the first 11 characters of the port id: the interface name of a
/// VM's tap, as Nova/os-vif and TF name it.
pub fn tap_interface_name(port_id: &str) -> String {
    let head: String = port_id.chars().take(11).collect();
    format!("tap{head}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn tap_name_takes_eleven_chars() {
        assert_eq!(
            super::tap_interface_name("3f2a9c1e-7b4d-4e0a-9a55-0c1d2e3f4a5b"),
            "tap3f2a9c1e-7b"
        );
        assert_eq!(super::tap_interface_name("abc"), "tapabc");
    }
}
