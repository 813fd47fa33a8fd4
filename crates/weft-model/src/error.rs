//! What can go wrong when a command meets the model.

use crate::ipam::IpamError;
use crate::objects::Kind;

/// A command the model refused. Nothing of it was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A field's value broke a rule.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// A referenced or addressed object does not exist.
    #[error("{field}: {kind} '{key}' does not exist")]
    NotFound {
        field: String,
        kind: Kind,
        key: String,
    },
    /// The name is taken by another object of the same kind.
    #[error("{field}: {kind} '{name}' already exists")]
    AlreadyExists {
        field: String,
        kind: Kind,
        name: String,
    },
    /// The request clashes with existing state (a MAC or VNI already taken,
    /// an identical rule).
    #[error("{field}: {reason}")]
    Conflict { field: String, reason: String },
    /// The object is still used by others and cannot be removed or changed so.
    #[error("{kind} '{key}' is in use: {by}")]
    InUse { kind: Kind, key: String, by: String },
    /// The allocator refused an address.
    #[error("{field}: {error}")]
    Ipam { field: String, error: IpamError },
    /// The model found itself inconsistent while applying a planned change:
    /// a bug. The caller must rebuild the model from the store.
    #[error("internal inconsistency: {0}")]
    Inconsistent(ApplyError),
}

/// How a refusal maps onto a transport: the status class of the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    BadRequest,
    NotFound,
    Conflict,
    Internal,
}

impl ModelError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ModelError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ModelError::Conflict {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(field: impl Into<String>, kind: Kind, key: impl ToString) -> Self {
        ModelError::NotFound {
            field: field.into(),
            kind,
            key: key.to_string(),
        }
    }

    /// The request field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ModelError::Invalid { field, .. }
            | ModelError::NotFound { field, .. }
            | ModelError::AlreadyExists { field, .. }
            | ModelError::Conflict { field, .. }
            | ModelError::Ipam { field, .. } => Some(field),
            ModelError::InUse { .. } | ModelError::Inconsistent(_) => None,
        }
    }

    /// A stable machine-readable name of the error.
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::Invalid { .. } => "InvalidField",
            ModelError::NotFound { .. } => "NotFound",
            ModelError::AlreadyExists { .. } => "AlreadyExists",
            ModelError::InUse { .. } => "InUse",
            ModelError::Conflict { .. } => "Conflict",
            ModelError::Inconsistent(_) => "Internal",
            ModelError::Ipam { error, .. } => match error {
                IpamError::Exhausted { .. } => "AddressesExhausted",
                IpamError::InUse { .. } => "AddressInUse",
                IpamError::OutsideSubnet { .. }
                | IpamError::Unassignable { .. }
                | IpamError::NotAllocated { .. }
                | IpamError::BadPool { .. } => "InvalidAddress",
            },
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            ModelError::Invalid { .. } => ErrorClass::BadRequest,
            ModelError::NotFound { field, .. } if field.is_empty() => ErrorClass::NotFound,
            // A reference inside a request body that does not resolve is the
            // request's fault, not a missing resource at the URL.
            ModelError::NotFound { .. } => ErrorClass::BadRequest,
            ModelError::AlreadyExists { .. }
            | ModelError::InUse { .. }
            | ModelError::Conflict { .. } => ErrorClass::Conflict,
            ModelError::Inconsistent(_) => ErrorClass::Internal,
            ModelError::Ipam { error, .. } => match error {
                IpamError::Exhausted { .. } | IpamError::InUse { .. } => ErrorClass::Conflict,
                _ => ErrorClass::BadRequest,
            },
        }
    }
}

/// A stored object that does not fit the model: a bug or a damaged store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored {kind} {id} is inconsistent: {reason}")]
pub struct ApplyError {
    pub kind: Kind,
    pub id: uuid::Uuid,
    pub reason: String,
}
