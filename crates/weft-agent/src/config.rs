//! What one `weft agent` process is told at start.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The settings of one agent (one node).
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The node's name as the control node knows it.
    pub node: String,
    /// This node's underlay (vhost0) address: the next hop of its routes.
    pub underlay_ip: Ipv4Addr,
    /// `http://host:port` of the control node's gRPC endpoint.
    pub server: String,
    /// The per-cluster bearer token.
    pub token: String,
    /// The node's network namespace (`ip netns` name); `None`: the
    /// namespace the agent runs in.
    pub netns: Option<String>,
    /// Where the introspection HTTP server listens.
    pub introspect: SocketAddr,
    /// Where the agent keeps state across restarts (label allocations).
    pub state_dir: PathBuf,
    /// How often flows are aged ([`weft_vrouter::Engine::poll`]).
    pub poll_interval: Duration,
    /// How often a port whose interface is missing is retried.
    pub attach_retry: Duration,
    /// The local CNI endpoint, if served.
    pub cni: Option<crate::cni::CniSettings>,
    /// The tap the agent creates for the node's own stack (TF's vhost0);
    /// `None`: the node does not reach its workloads and no VN gets
    /// fabric SNAT on this node.
    pub host_interface: Option<String>,
}

impl AgentConfig {
    /// A configuration with the default intervals (1 s flow ageing, 500 ms
    /// attach retry).
    pub fn new(
        node: impl Into<String>,
        underlay_ip: Ipv4Addr,
        server: impl Into<String>,
        token: impl Into<String>,
        introspect: SocketAddr,
        state_dir: impl Into<PathBuf>,
    ) -> Self {
        AgentConfig {
            node: node.into(),
            underlay_ip,
            server: server.into(),
            token: token.into(),
            netns: None,
            introspect,
            state_dir: state_dir.into(),
            poll_interval: Duration::from_secs(1),
            attach_retry: Duration::from_millis(500),
            cni: None,
            host_interface: None,
        }
    }
}
