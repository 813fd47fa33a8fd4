//! The contract of weft's native API, shared by the server that serves it and
//! every client (the `weft` CLI, tests, benchmarks).
//!
//! Each kind of object is a [`Resource`]: a collection path, the object type,
//! its create and update bodies, and how those map onto model commands. The
//! server builds both its router and its OpenAPI document from the same list
//! ([`visit_resources`]), so the document cannot drift from what is served.
//!
//! Errors have one shape, [`ErrorBody`], naming the field and the rule broken.

pub mod cni;
mod pod;
mod resource;

#[cfg(feature = "client")]
pub mod client;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use pod::*;
pub use resource::*;

/// Every error the API returns has this body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable name: `InvalidField`, `NotFound`, `AlreadyExists`, `Conflict`,
    /// `InUse`, `AddressInUse`, `AddressesExhausted`, `InvalidAddress`,
    /// `MalformedBody`, `MethodNotAllowed`, `Unavailable`, `Internal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request field at fault, as a path (`subnets[0].cidr`), if any.
    pub field: Option<String>,
    /// What was wrong, in a sentence.
    pub message: String,
}

impl std::fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) if !self.message.starts_with(field.as_str()) => {
                write!(f, "{}: {field}: {}", self.kind, self.message)
            }
            _ => write!(f, "{}: {}", self.kind, self.message),
        }
    }
}

/// `GET /`: what this server is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
    /// The store revision the server's state is at.
    pub revision: u64,
}

/// Whether a watched object was written or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WatchOp {
    Put,
    Delete,
}

/// One line of `GET /v1/watch`: a change to one object at one revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WatchEvent {
    pub revision: u64,
    /// The object kind, as in store keys (`port`, `virtual-network`, …).
    pub kind: String,
    pub id: Uuid,
    pub op: WatchOp,
    /// The object as written; absent for deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<serde_json::Value>,
}

/// Header carrying the store revision a response reflects.
pub const REVISION_HEADER: &str = "x-weft-revision";
