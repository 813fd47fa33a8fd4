//! The one place errors become Neutron responses:
//! `{"NeutronError": {"type", "message", "detail"}}` with Neutron's types
//! and status codes, and Keystone's shape for 401.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use weft_model::{IpamError, Kind, ModelError};

use crate::backend::SubmitError;

/// A refused Neutron request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct NeutronError {
    pub status: StatusCode,
    /// Neutron's exception name (`NetworkNotFound`, `InvalidInput`, …).
    pub kind: &'static str,
    pub message: String,
}

impl NeutronError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        NeutronError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// `InvalidInput`: "Invalid input for operation: …".
    pub fn invalid(message: impl AsRef<str>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            format!("Invalid input for operation: {}.", message.as_ref()),
        )
    }

    /// `HTTPBadRequest`, for malformed requests and queries.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "HTTPBadRequest", message)
    }

    /// `<Resource>NotFound` for an object the caller may not see or that is missing.
    pub fn not_found(resource: Resource, key: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            resource.not_found_type(),
            format!("{} {key} could not be found.", resource.title()),
        )
    }

    pub fn policy(action: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            format!("({action}) is disallowed by policy"),
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "The request you have made requires authentication.",
        )
    }

    /// Maps a refusal of the model onto Neutron's exceptions. `resource` is
    /// what the URL addresses.
    pub fn from_model(error: ModelError, resource: Resource) -> Self {
        match &error {
            ModelError::NotFound { kind, key, .. } => {
                NeutronError::not_found(Resource::of_kind(*kind).unwrap_or(resource), key)
            }
            ModelError::Invalid { field, reason }
                if field.ends_with("cidr") && reason.contains(" overlaps ") =>
            {
                // Neutron's wording, which clients (tempest) look for to
                // pick another CIDR.
                let cidr = reason.split(' ').next().unwrap_or_default();
                NeutronError::invalid(format!(
                    "Requested subnet with cidr: {cidr} overlaps with another subnet ({reason})"
                ))
            }
            // The model words these as Neutron does.
            ModelError::Invalid { field, reason } if field == "mtu" => {
                NeutronError::invalid(reason)
            }
            ModelError::Conflict { field, reason } if field == "revision_number" => {
                NeutronError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "RevisionNumberConstraintFailed",
                    reason.clone(),
                )
            }
            ModelError::Conflict { field, reason } if field == "mtu" => NeutronError::new(
                StatusCode::CONFLICT,
                "NetworkMTUSubnetConflict",
                reason.clone(),
            ),
            ModelError::Invalid { field, reason } => {
                NeutronError::invalid(format!("{}: {reason}", neutron_field(field)))
            }
            ModelError::Conflict { reason, .. }
                if resource == Resource::SecurityGroupRule
                    && reason.starts_with("an identical rule") =>
            {
                let id = reason.rsplit(' ').next().unwrap_or_default();
                NeutronError::new(
                    StatusCode::CONFLICT,
                    "SecurityGroupRuleExists",
                    format!("Security group rule already exists. Rule id is {id}."),
                )
            }
            ModelError::Conflict { field, reason } => {
                let kind = match (resource, field.as_str()) {
                    (Resource::SecurityGroupRule, _) => "SecurityGroupRuleExists",
                    (_, "mac_address") => "MacAddressInUse",
                    (_, "security_groups") => {
                        return NeutronError::new(
                            StatusCode::CONFLICT,
                            "SecurityGroupConflict",
                            format!("Error {reason} while attempting the operation."),
                        );
                    }
                    _ => "Conflict",
                };
                NeutronError::new(StatusCode::CONFLICT, kind, reason.clone())
            }
            ModelError::AlreadyExists { .. } => {
                NeutronError::new(StatusCode::CONFLICT, "Conflict", error.to_string())
            }
            ModelError::InUse { kind, key, by } if *kind == Kind::VirtualNetwork => {
                NeutronError::new(
                    StatusCode::CONFLICT,
                    "NetworkInUse",
                    format!(
                        "Unable to complete operation on network {key}. There are one or more ports still in use on the network ({by})."
                    ),
                )
            }
            ModelError::InUse { kind, key, by } => {
                let resource = Resource::of_kind(*kind).unwrap_or(resource);
                NeutronError::new(
                    StatusCode::CONFLICT,
                    resource.in_use_type(),
                    format!(
                        "Unable to complete operation on {} {key}: {by}.",
                        resource.title().to_lowercase()
                    ),
                )
            }
            ModelError::Ipam { error: ipam, .. } => match ipam {
                IpamError::InUse { .. } => NeutronError::new(
                    StatusCode::CONFLICT,
                    "IpAddressAlreadyAllocated",
                    ipam.to_string(),
                ),
                IpamError::Exhausted { .. } => NeutronError::new(
                    StatusCode::CONFLICT,
                    "IpAddressGenerationFailure",
                    ipam.to_string(),
                ),
                _ => NeutronError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidIpForSubnet",
                    ipam.to_string(),
                ),
            },
            ModelError::Inconsistent(_) => NeutronError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "HTTPInternalServerError",
                error.to_string(),
            ),
        }
    }

    pub fn from_submit(error: SubmitError, resource: Resource) -> Self {
        match error {
            SubmitError::Refused(e) => Self::from_model(e, resource),
            SubmitError::Unavailable(message) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                message,
            ),
        }
    }
}

/// weft's request field names, spelled as Neutron spells them.
fn neutron_field(field: &str) -> &str {
    match field {
        "binding_host_id" => "binding:host_id",
        "vif_type" => "binding:vif_type",
        "vnic_type" => "binding:vnic_type",
        "binding_profile" => "binding:profile",
        "network" => "network_id",
        "security_group" => "security_group_id",
        "remote_group" => "remote_group_id",
        other => other,
    }
}

impl IntoResponse for NeutronError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(error = %self, "neutron request failed");
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // keystonemiddleware answers in Keystone's shape.
            let body =
                json!({"error": {"code": 401, "title": "Unauthorized", "message": self.message}});
            let mut response = (self.status, Json(body)).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Keystone uri=\"\""),
            );
            return response;
        }
        let body =
            json!({"NeutronError": {"type": self.kind, "message": self.message, "detail": ""}});
        (self.status, Json(body)).into_response()
    }
}

/// The Neutron resources served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Network,
    Subnet,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Router,
}

impl Resource {
    pub fn of_kind(kind: Kind) -> Option<Resource> {
        Some(match kind {
            Kind::VirtualNetwork => Resource::Network,
            Kind::Subnet => Resource::Subnet,
            Kind::Port => Resource::Port,
            Kind::SecurityGroup => Resource::SecurityGroup,
            Kind::SecurityGroupRule => Resource::SecurityGroupRule,
            Kind::Router => Resource::Router,
            _ => return None,
        })
    }

    /// The JSON key of one object (`network`).
    pub fn singular(self) -> &'static str {
        match self {
            Resource::Network => "network",
            Resource::Subnet => "subnet",
            Resource::Port => "port",
            Resource::SecurityGroup => "security_group",
            Resource::SecurityGroupRule => "security_group_rule",
            Resource::Router => "router",
        }
    }

    /// The JSON key of a list (`networks`).
    pub fn plural(self) -> &'static str {
        match self {
            Resource::Network => "networks",
            Resource::Subnet => "subnets",
            Resource::Port => "ports",
            Resource::SecurityGroup => "security_groups",
            Resource::SecurityGroupRule => "security_group_rules",
            Resource::Router => "routers",
        }
    }

    /// The URL collection (`security-groups`).
    pub fn path(self) -> &'static str {
        match self {
            Resource::Network => "networks",
            Resource::Subnet => "subnets",
            Resource::Port => "ports",
            Resource::SecurityGroup => "security-groups",
            Resource::SecurityGroupRule => "security-group-rules",
            Resource::Router => "routers",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Resource::Network => "Network",
            Resource::Subnet => "Subnet",
            Resource::Port => "Port",
            Resource::SecurityGroup => "Security group",
            Resource::SecurityGroupRule => "Security group rule",
            Resource::Router => "Router",
        }
    }

    fn not_found_type(self) -> &'static str {
        match self {
            Resource::Network => "NetworkNotFound",
            Resource::Subnet => "SubnetNotFound",
            Resource::Port => "PortNotFound",
            Resource::SecurityGroup => "SecurityGroupNotFound",
            Resource::SecurityGroupRule => "SecurityGroupRuleNotFound",
            Resource::Router => "RouterNotFound",
        }
    }

    fn in_use_type(self) -> &'static str {
        match self {
            Resource::Network => "NetworkInUse",
            Resource::Subnet => "SubnetInUse",
            Resource::Port => "PortInUse",
            Resource::SecurityGroup => "SecurityGroupInUse",
            Resource::SecurityGroupRule => "InUse",
            Resource::Router => "RouterInUse",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_refusals_get_neutron_types() {
        let missing = ModelError::not_found("", Kind::VirtualNetwork, "net1");
        let e = NeutronError::from_model(missing, Resource::Network);
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.kind, "NetworkNotFound");
        assert_eq!(e.message, "Network net1 could not be found.");

        let dup = ModelError::conflict("security_group", "an identical rule already exists");
        let e = NeutronError::from_model(dup, Resource::SecurityGroupRule);
        assert_eq!(
            (e.status, e.kind),
            (StatusCode::CONFLICT, "SecurityGroupRuleExists")
        );

        let bad = ModelError::invalid("binding_host_id", "cannot be empty");
        let e = NeutronError::from_model(bad, Resource::Port);
        assert_eq!(e.kind, "InvalidInput");
        assert!(e.message.contains("binding:host_id"), "{}", e.message);
    }
}
