//! The agent's local CNI API: what the `weft-cni` plugin and `weft agent`
//! say to each other over the agent's unix socket.
//!
//! One request per connection: the plugin writes one JSON [`CniRequest`]
//! and a newline, the agent answers one JSON [`CniReply`] and closes. The
//! agent answers with CNI error codes already, so the plugin only has to
//! print them.

use serde::{Deserialize, Serialize};

/// Where `weft agent` serves the plugin unless told otherwise.
pub const DEFAULT_CNI_SOCKET: &str = "/run/weft/cni.sock";

/// CNI error codes (spec 1.0, "Error"); 100 and above are weft's own.
pub mod code {
    /// Incompatible CNI version.
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    /// Unsupported field in the network configuration.
    pub const UNSUPPORTED_FIELD: u32 = 2;
    /// Container unknown or does not exist.
    pub const UNKNOWN_CONTAINER: u32 = 3;
    /// Invalid necessary environment variables (`CNI_*`).
    pub const INVALID_ENVIRONMENT: u32 = 4;
    /// I/O failure.
    pub const IO_FAILURE: u32 = 5;
    /// Failed to decode content (stdin is not the expected JSON).
    pub const DECODE_FAILURE: u32 = 6;
    /// Invalid network configuration.
    pub const INVALID_CONFIG: u32 = 7;
    /// Try again later.
    pub const TRY_AGAIN_LATER: u32 = 11;
    /// STATUS: the plugin cannot serve ADD now.
    pub const NOT_AVAILABLE: u32 = 50;
    /// The weft server refused the pod's port.
    pub const SERVER_REFUSED: u32 = 100;
    /// Plumbing the pod's interface failed.
    pub const PLUMBING_FAILED: u32 = 101;
}

/// The pod a container belongs to, from `CNI_ARGS` (`K8S_POD_*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniPod {
    /// `K8S_POD_NAMESPACE`.
    pub namespace: String,
    /// `K8S_POD_NAME`.
    pub name: String,
    /// `K8S_POD_UID` (the runtime's text, checked by the agent).
    pub uid: String,
}

/// One container's attachment, as CNI names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniTarget {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_NETNS`: a path to the container's network namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<CniPod>,
}

/// ADD: plug a container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniAdd {
    #[serde(flatten)]
    pub target: CniTarget,
    /// The Kubernetes cluster's name in weft (`k8s` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The MTU the plugin's configuration asks for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

/// What the plugin asks of the agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "UPPERCASE")]
pub enum CniRequest {
    Add(CniAdd),
    Del(CniTarget),
    Check(CniTarget),
    /// Whether the agent can serve ADD now.
    Status,
    /// Remove every attachment not in this list.
    Gc {
        valid: Vec<(String, String)>,
    },
}

/// An interface of the result (spec 1.0 "interfaces").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniInterface {
    pub name: String,
    pub mac: String,
    /// The namespace path for the container's interface; absent for the host end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

/// An address of the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniIp {
    /// `10.32.0.3/24`.
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Index into the interfaces: the container's interface.
    pub interface: usize,
}

/// A route of the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniRoute {
    pub dst: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<String>,
}

/// DNS of the result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniDns {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// What ADD set up (and CHECK found): the parts of a CNI result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniAttachment {
    /// The host end first, then the container's interface.
    pub interfaces: Vec<CniInterface>,
    pub ips: Vec<CniIp>,
    pub routes: Vec<CniRoute>,
    pub dns: CniDns,
    /// The weft port behind it.
    pub port_id: String,
}

/// The agent's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "lowercase")]
pub enum CniReply {
    /// ADD or CHECK succeeded.
    Attached(Box<CniAttachment>),
    /// DEL, STATUS or GC succeeded.
    Done,
    /// A CNI error.
    Error {
        code: u32,
        msg: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        details: String,
    },
}

impl CniReply {
    pub fn error(code: u32, msg: impl Into<String>, details: impl Into<String>) -> CniReply {
        CniReply::Error {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }
}
