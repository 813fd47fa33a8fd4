//! Who is asking: a Keystone-validated token, or Neutron's `noauth` mode.

use std::sync::Arc;

use axum::http::HeaderMap;

use crate::error::NeutronError;
use crate::keystone::{TokenError, TokenValidator};

/// The project requests fall into in `noauth` mode when they name none
/// (Neutron's own convention).
pub const NOAUTH_PROJECT: &str = "fake_project_id";

/// How requests are authenticated.
#[derive(Clone)]
pub enum Auth {
    /// Development only: every request is admin; the project comes from
    /// `X-Project-Id` (and `X-Project-Name`), else [`NOAUTH_PROJECT`].
    NoAuth,
    /// `X-Auth-Token` validated by Keystone; project and roles from the token.
    Keystone(Arc<dyn TokenValidator>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::NoAuth => f.write_str("NoAuth"),
            Auth::Keystone(_) => f.write_str("Keystone"),
        }
    }
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The project id as the orchestrator knows it (a Keystone project id).
    pub project_id: String,
    /// The project's name: the middle of its networks' FQ names.
    pub project_name: String,
    pub is_admin: bool,
}

impl Auth {
    /// A project's name by its id, when a request names a project it does
    /// not belong to (an admin acting for another project): Keystone is
    /// asked with the service's credentials. `None` in `noauth` mode or
    /// when Keystone cannot say.
    pub async fn project_name(&self, project_id: &str) -> Option<String> {
        match self {
            Auth::NoAuth => None,
            Auth::Keystone(validator) => validator.project_name(project_id).await,
        }
    }

    /// Authenticates a request from its headers.
    pub async fn identify(&self, headers: &HeaderMap) -> Result<Identity, NeutronError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        match self {
            Auth::NoAuth => {
                let project_id = header("x-project-id")
                    .or_else(|| header("x-tenant-id"))
                    .unwrap_or(NOAUTH_PROJECT)
                    .to_owned();
                let project_name = header("x-project-name")
                    .map(str::to_owned)
                    .unwrap_or_else(|| project_id.clone());
                Ok(Identity {
                    project_id,
                    project_name,
                    is_admin: true,
                })
            }
            Auth::Keystone(validator) => {
                let token = header("x-auth-token").ok_or_else(NeutronError::unauthorized)?;
                match validator.validate(token).await {
                    Ok(info) => Ok(Identity {
                        is_admin: info.roles.iter().any(|r| r == "admin"),
                        project_id: info.project_id,
                        project_name: info.project_name,
                    }),
                    Err(TokenError::Invalid | TokenError::Unscoped) => {
                        Err(NeutronError::unauthorized())
                    }
                    Err(e @ TokenError::Unavailable(_)) => Err(NeutronError::new(
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailable",
                        e.to_string(),
                    )),
                }
            }
        }
    }
}
