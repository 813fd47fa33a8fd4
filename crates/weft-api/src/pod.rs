//! `POST /v1/pod-ports`: get or create the port of a Kubernetes pod.
//!
//! The agent on the pod's node calls this on CNI ADD. The port's UUID is the
//! pod's UID, so the call is idempotent: a second call (a retried ADD, or
//! kube-manager having made the port first) returns the same port and
//! address. Which network and project the pod goes to is decided by the
//! server's pod-network resolver (`weft_server::PodNetworks`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use weft_model::Port;

/// The cluster name used when a request names none.
pub const DEFAULT_CLUSTER: &str = "k8s";

/// Path of the pod-port operation.
pub const POD_PORTS_PATH: &str = "/v1/pod-ports";

/// Which pod, on which node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PodPortRequest {
    /// The Kubernetes cluster's name in weft (`k8s` when absent).
    #[serde(default = "default_cluster")]
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    /// The pod's UID; it becomes the port's UUID.
    pub uid: Uuid,
    /// The node whose agent plugs the port (`binding_host_id`).
    pub node: String,
}

fn default_cluster() -> String {
    DEFAULT_CLUSTER.to_owned()
}

/// One address of the pod's port with what the pod needs around it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PodAddress {
    /// Address with the subnet's prefix length (`10.32.0.3/12`).
    pub address: String,
    /// The subnet's gateway (the vRouter answers for it), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// The vRouter's DNS/service address of the subnet, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_server: Option<String>,
    pub subnet_id: Uuid,
}

/// The pod's port, as the agent needs it to plug the pod.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PodPort {
    pub port: Port,
    /// `domain:project:name` of the network the port is on.
    pub network: String,
    /// `domain:project` of the port's project.
    pub project: String,
    pub addresses: Vec<PodAddress>,
    /// The network's MTU when one is set on it, capped to what the overlay
    /// carries; absent, the node's own choice stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Whether this call created the port (`false`: it existed already).
    pub created: bool,
}
