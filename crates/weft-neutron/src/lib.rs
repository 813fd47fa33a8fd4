//! The OpenStack Networking (Neutron) v2.0 API, served by `weft server` on
//! the one model: a Neutron network is a weft virtual network named
//! `default-domain:<project name>:<network name>`, a Neutron port takes its
//! address from the same allocator as a port made through weft's own API,
//! and a project's `default` security group is the weft one.
//!
//! Served: the version document (`GET /`, no token), `/v2.0/` and
//! `/v2.0/extensions`, and networks, subnets, ports, security groups and
//! their rules, and routers — create (one or bulk), show, list (filters,
//! `fields`, sorting, pagination), update, delete — with Neutron's JSON
//! shapes and its `NeutronError` envelope; the tags API (`tags.rs`), quotas
//! (`quotas.rs`), RBAC policies sharing security groups (`rbac.rs`), router
//! interfaces, and an empty `/v2.0/agents`.
//!
//! Routers are recorded (name, project, interface ports) but nothing routes
//! through them yet, so the `router` extension is not advertised: clients
//! that check extensions skip router features, and those that use routers
//! as bookkeeping (tempest's port tests) work.
//!
//! Requests are authenticated either by Keystone tokens, validated as
//! keystonemiddleware does ([`keystone`]), or in Neutron's `noauth` mode for
//! development ([`Auth::NoAuth`]). A member sees its own project's objects,
//! shared networks and the security groups RBAC policies share with it; an
//! admin sees everything.
//!
//! The crate does not know the server: it reaches the model through
//! [`Backend`], which `weft-server` implements over its single writer.
//!
//! Start reading at [`router`], then `api.rs` (handlers), `convert.rs`
//! (Neutron requests as model commands) and `render.rs` (objects as Neutron
//! JSON).

mod api;
pub mod auth;
mod backend;
mod body;
mod convert;
pub mod error;
mod extensions;
pub mod keystone;
pub mod query;
mod quotas;
mod rbac;
mod render;
mod tags;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::json;

pub use api::NeutronState;
pub use auth::{Auth, Identity, NOAUTH_PROJECT};
pub use backend::{Backend, SubmitError, Submitted};
pub use error::{NeutronError, Resource};
pub use extensions::aliases as extension_aliases;
pub use keystone::{
    FixedTokens, Keystone, KeystoneConfig, NameLookup, TokenError, TokenInfo, TokenValidator,
    Validation,
};

/// The default listen address of the Neutron API (Neutron's port).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9696";

const RESOURCES: [Resource; 6] = [
    Resource::Network,
    Resource::Subnet,
    Resource::Port,
    Resource::SecurityGroup,
    Resource::SecurityGroupRule,
    Resource::Router,
];

/// The whole Neutron API over `backend`.
pub fn router(backend: Arc<dyn Backend>, auth: Auth) -> Router {
    let mut router = Router::new()
        .route("/", get(versions))
        .route("/v2.0", get(resources))
        .route("/v2.0/", get(resources))
        .route("/v2.0/extensions", get(extensions::list))
        .route("/v2.0/extensions/{alias}", get(extensions::show))
        .route("/v2.0/agents", get(agents))
        .route("/v2.0/quotas", get(quotas::list))
        .route(
            "/v2.0/quotas/{project}",
            get(quotas::show).put(quotas::update).delete(quotas::reset),
        )
        .route("/v2.0/quotas/{project}/default", get(quotas::defaults))
        .route("/v2.0/quotas/{project}/details", get(quotas::details))
        .route("/v2.0/rbac-policies", get(rbac::list).post(rbac::create))
        .route(
            "/v2.0/rbac-policies/{id}",
            get(rbac::show).put(rbac::update).delete(rbac::delete),
        )
        .route(
            "/v2.0/routers/{id}/add_router_interface",
            put(api::bound::interface(true)),
        )
        .route(
            "/v2.0/routers/{id}/remove_router_interface",
            put(api::bound::interface(false)),
        );
    for resource in RESOURCES {
        let collection = format!("/v2.0/{}", resource.path());
        router = router
            .route(
                &collection,
                get(api::bound::list(resource)).post(api::bound::create(resource)),
            )
            .route(
                &format!("{collection}/{{id}}"),
                get(api::bound::show(resource))
                    .put(api::bound::update(resource))
                    .delete(api::bound::delete(resource)),
            );
    }
    for resource in tags::TAGGED {
        let tags = format!("/v2.0/{}/{{id}}/tags", resource.path());
        router = router
            .route(
                &tags,
                get(api::bound::tags(resource, |_| tags::TagOp::List))
                    .put(api::bound::tags(resource, tags::TagOp::Replace))
                    .delete(api::bound::tags(resource, |_| tags::TagOp::ClearAll)),
            )
            .route(
                &format!("{tags}/{{tag}}"),
                get(api::bound::tag(resource, tags::TagOp::Check))
                    .put(api::bound::tag(resource, tags::TagOp::Add))
                    .delete(api::bound::tag(resource, tags::TagOp::Remove)),
            );
    }
    router
        .fallback(not_found)
        .with_state(NeutronState::new(backend, auth))
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// `GET /`: the API versions, without a token (clients discover with it).
async fn versions(headers: HeaderMap) -> Response {
    let href = format!("{}/v2.0/", base_url(&headers));
    axum::Json(json!({"versions": [{
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"href": href, "rel": "self"}],
    }]}))
    .into_response()
}

/// `GET /v2.0/`: the collections served.
async fn resources(
    State(state): State<NeutronState>,
    headers: HeaderMap,
) -> Result<Response, NeutronError> {
    state.auth.identify(&headers).await?;
    let base = base_url(&headers);
    let list: Vec<_> = RESOURCES
        .iter()
        .map(|r| {
            json!({
                "name": r.singular(),
                "collection": r.plural(),
                "links": [{"href": format!("{base}/v2.0/{}", r.path()), "rel": "self"}],
            })
        })
        .collect();
    Ok(axum::Json(json!({"resources": list})).into_response())
}

/// `GET /v2.0/agents`: weft runs none of Neutron's agents (its own agents
/// speak to the control node), so the list is empty; clients that look for
/// a DHCP or L3 agent then know there is none. The `agent` extension (agent
/// management) is not served.
async fn agents(
    State(state): State<NeutronState>,
    headers: HeaderMap,
) -> Result<Response, NeutronError> {
    state.auth.identify(&headers).await?;
    Ok(axum::Json(json!({"agents": []})).into_response())
}

async fn not_found(uri: Uri) -> NeutronError {
    NeutronError::new(
        axum::http::StatusCode::NOT_FOUND,
        "HTTPNotFound",
        format!("The resource could not be found: {}", uri.path()),
    )
}
