//! `GET /v2.0/extensions`: exactly the extensions implemented, so clients
//! and tempest skip what weft does not do rather than fail on it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::NeutronState;
use crate::error::NeutronError;

/// (alias, name, description)
const EXTENSIONS: [(&str, &str, &str); 24] = [
    (
        "security-group",
        "security-group",
        "The security groups extension.",
    ),
    (
        "binding",
        "Port Binding",
        "Expose port bindings of a virtual port to external application",
    ),
    (
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
    ("port-security", "Port Security", "Provides port security"),
    (
        "allowed-address-pairs",
        "Allowed Address Pairs",
        "Provides allowed address pairs",
    ),
    (
        "pagination",
        "Pagination support",
        "Extension that indicates that pagination is enabled.",
    ),
    (
        "sorting",
        "Sorting support",
        "Extension that indicates that sorting is enabled.",
    ),
    (
        "filter-validation",
        "Filter parameters validation",
        "Provides validation on filter parameters.",
    ),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "revision-if-match",
        "If-Match constraints based on revision_number",
        "Updates and deletes may be constrained to a revision with If-Match: revision_number=N.",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute",
        "Tags on networks, subnets, ports and security groups, with the tags API and tag filters.",
    ),
    (
        "tag-creation",
        "Tag support for resources during creation",
        "Tags may be given when a resource is created.",
    ),
    (
        "tag-ports-during-bulk-creation",
        "Tag Ports During Bulk Creation",
        "Tags may be given to each port of a bulk create.",
    ),
    (
        "ip-substring-filtering",
        "IP address substring filtering",
        "Ports may be filtered by a substring of a fixed IP address (fixed_ips=ip_address_substr=...).",
    ),
    (
        "net-mtu",
        "Network MTU",
        "Networks report the MTU their ports are told: their own, else 1500 less the overlay's headers.",
    ),
    (
        "security-groups-normalized-cidr",
        "Security group rule normalized CIDR",
        "Rules show the remote prefix as given and, as normalized_cidr, with its host bits cleared.",
    ),
    (
        "subnet-service-types",
        "Subnet service types",
        "Subnets may name the device owners whose ports take their automatic addresses there.",
    ),
    (
        "quotas",
        "Quota management support",
        "Per-project limits on networks, subnets, ports, routers, security groups and rules.",
    ),
    (
        "quota_details",
        "Quota details management support",
        "Each quota with its limit, use and reservations.",
    ),
    (
        "net-mtu-writable",
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
    ),
    // `/v2.0/rbac-policies` is served, for security groups only. Neutron's
    // `rbac-policies` alias also means network RBAC (shared networks by
    // policy, `access_as_external`), which weft does not do: it is not
    // listed, so clients and tempest skip network RBAC instead of failing.
    (
        "rbac-security-groups",
        "Add security_group type to network RBAC",
        "RBAC policies (/v2.0/rbac-policies) share security groups with other projects.",
    ),
];

fn entry((alias, name, description): (&str, &str, &str)) -> Value {
    json!({
        "alias": alias,
        "name": name,
        "description": description,
        "updated": "2025-01-01T00:00:00-00:00",
        "links": [],
    })
}

/// The aliases served, for configuring clients (tempest's `api_extensions`).
pub fn aliases() -> Vec<&'static str> {
    EXTENSIONS.iter().map(|e| e.0).collect()
}

pub(crate) async fn list(
    State(state): State<NeutronState>,
    headers: HeaderMap,
) -> Result<Response, NeutronError> {
    state.auth.identify(&headers).await?;
    let list: Vec<Value> = EXTENSIONS.into_iter().map(entry).collect();
    Ok(axum::Json(json!({"extensions": list})).into_response())
}

pub(crate) async fn show(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    Path(alias): Path<String>,
) -> Result<Response, NeutronError> {
    state.auth.identify(&headers).await?;
    match EXTENSIONS.into_iter().find(|e| e.0 == alias) {
        Some(e) => Ok(axum::Json(json!({"extension": entry(e)})).into_response()),
        None => Err(NeutronError::new(
            StatusCode::NOT_FOUND,
            "ExtensionNotFound",
            format!("Extension with alias {alias} does not exist"),
        )),
    }
}
