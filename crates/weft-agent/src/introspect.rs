//! Introspection over HTTP: the engine's views as JSON, for the CLI to
//! format like TF's `vif`, `rt`, `nh`, `flow` and `dropstats`.
//!
//! | request | answer |
//! |---|---|
//! | `GET /vifs` | every [`weft_vrouter::VifView`] |
//! | `GET /vifs/{id}` | one, or 404 |
//! | `GET /routes?vrf=N` | the VRF's [`weft_vrouter::RouteView`]s, or 404 for an unknown VRF |
//! | `GET /routes/get?vrf=N&prefix=P` | the longest-prefix match for `P`, or 404 |
//! | `GET /nexthops`, `/nexthops/{id}` | [`weft_vrouter::NextHopView`]s |
//! | `GET /flows` | [`weft_vrouter::FlowView`]s |
//! | `GET /dropstats` | engine-wide [`weft_vrouter::DropStats`] |
//!
//! Errors are `{"error": "..."}` with 400 (bad query), 404 (not found) or
//! 503 (engine gone).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use weft_types::Prefix;
use weft_vrouter::{NhId, VifId, VrfId};

use crate::dataplane::Dataplane;

/// The introspection routes over `dataplane`.
pub fn router(dataplane: Dataplane) -> Router {
    Router::new()
        .route("/vifs", get(vifs))
        .route("/vifs/{id}", get(vif))
        .route("/routes", get(routes))
        .route("/routes/get", get(route_get))
        .route("/nexthops", get(nexthops))
        .route("/nexthops/{id}", get(nexthop))
        .route("/flows", get(flows))
        .route("/dropstats", get(dropstats))
        .with_state(dataplane)
}

/// Why a request was not answered.
#[derive(Debug, thiserror::Error)]
enum IntrospectError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the forwarding engine is not running")]
    Gone,
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

impl IntoResponse for IntrospectError {
    fn into_response(self) -> Response {
        let status = match self {
            IntrospectError::NotFound(_) => StatusCode::NOT_FOUND,
            IntrospectError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IntrospectError::Gone => StatusCode::SERVICE_UNAVAILABLE,
        };
        (
            status,
            Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response()
    }
}

type Answer<T> = Result<Json<T>, IntrospectError>;

async fn ask<T, F>(dp: &Dataplane, f: F) -> Result<T, IntrospectError>
where
    T: Send + 'static,
    F: FnOnce(&weft_vrouter::Engine) -> T + Send + 'static,
{
    dp.query(f).await.ok_or(IntrospectError::Gone)
}

async fn vifs(State(dp): State<Dataplane>) -> Answer<Vec<weft_vrouter::VifView>> {
    Ok(Json(ask(&dp, |e| e.vifs()).await?))
}

async fn vif(State(dp): State<Dataplane>, Path(id): Path<u32>) -> Answer<weft_vrouter::VifView> {
    ask(&dp, move |e| e.vif(VifId(id)))
        .await?
        .map(Json)
        .ok_or_else(|| IntrospectError::NotFound(format!("vif {id} does not exist")))
}

#[derive(Deserialize)]
struct VrfQuery {
    vrf: u32,
}

async fn routes(
    State(dp): State<Dataplane>,
    Query(q): Query<VrfQuery>,
) -> Answer<Vec<weft_vrouter::RouteView>> {
    ask(&dp, move |e| e.routes(VrfId(q.vrf)))
        .await?
        .map(Json)
        .map_err(|e| IntrospectError::NotFound(e.to_string()))
}

#[derive(Deserialize)]
struct RouteGetQuery {
    vrf: u32,
    prefix: String,
}

async fn route_get(
    State(dp): State<Dataplane>,
    Query(q): Query<RouteGetQuery>,
) -> Answer<weft_vrouter::RouteView> {
    let prefix = parse_prefix(&q.prefix)?;
    match ask(&dp, move |e| e.route_get(VrfId(q.vrf), prefix)).await? {
        Ok(Some(route)) => Ok(Json(route)),
        Ok(None) => Err(IntrospectError::NotFound(format!(
            "VRF {} has no route to {prefix}",
            q.vrf
        ))),
        Err(e) => Err(IntrospectError::NotFound(e.to_string())),
    }
}

/// A prefix, or a bare address as a host prefix.
fn parse_prefix(text: &str) -> Result<Prefix, IntrospectError> {
    if let Ok(addr) = text.parse() {
        return Ok(Prefix::host(addr));
    }
    Prefix::parse_normalised(text).map_err(|_| {
        IntrospectError::BadRequest(format!("prefix {text:?} is not an address or prefix"))
    })
}

async fn nexthops(State(dp): State<Dataplane>) -> Answer<Vec<weft_vrouter::NextHopView>> {
    Ok(Json(ask(&dp, |e| e.nexthops()).await?))
}

async fn nexthop(
    State(dp): State<Dataplane>,
    Path(id): Path<u32>,
) -> Answer<weft_vrouter::NextHopView> {
    ask(&dp, move |e| e.nexthop(NhId(id)))
        .await?
        .map(Json)
        .ok_or_else(|| IntrospectError::NotFound(format!("next hop {id} does not exist")))
}

async fn flows(State(dp): State<Dataplane>) -> Answer<Vec<weft_vrouter::FlowView>> {
    Ok(Json(ask(&dp, |e| e.flows()).await?))
}

async fn dropstats(State(dp): State<Dataplane>) -> Answer<weft_vrouter::DropStats> {
    Ok(Json(ask(&dp, |e| e.drop_stats().clone()).await?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;
    use weft_vrouter::{Command, Engine, NextHop, NextHopKind, RouteConfig, VrfConfig};

    use super::*;
    use crate::dataplane::Transmit;

    struct Nowhere;
    impl Transmit for Nowhere {
        fn to_vif(&mut self, _: VifId, _: &[u8]) {}
        fn to_underlay(&mut self, _: std::net::Ipv4Addr, _: weft_vrouter::UnderlayKind, _: &[u8]) {}
    }

    async fn get(app: &Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let response = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn views_as_json() {
        let (dp, _task) = Dataplane::spawn(
            Engine::default(),
            Nowhere,
            std::time::Duration::from_secs(1),
        );
        let prefix: Prefix = "192.168.1.1/32".parse().unwrap();
        let refused = dp
            .apply(vec![
                Command::AddVrf(VrfConfig {
                    id: VrfId(5),
                    vni: None,
                    name: "vn".into(),
                }),
                Command::AddNextHop(NextHop {
                    id: NhId(1),
                    kind: NextHopKind::Receive,
                }),
                Command::AddRoute(RouteConfig {
                    vrf: VrfId(5),
                    prefix,
                    nh: NhId(1),
                    sgs: vec![],
                }),
            ])
            .await;
        assert!(refused.is_empty(), "{refused:?}");
        let app = router(dp);
        let (status, routes) = get(&app, "/routes?vrf=5").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(routes.as_array().unwrap().len(), 1);
        let (status, route) = get(&app, "/routes/get?vrf=5&prefix=192.168.1.1").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(route["nh"], 1);
        let (status, nh) = get(&app, "/nexthops/1").await;
        assert_eq!(
            (status, nh["kind"].as_str()),
            (StatusCode::OK, Some("Receive"))
        );
        let (status, body) = get(&app, "/routes?vrf=9").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body["error"].as_str().unwrap().contains("VRF"));
        let (status, _) = get(&app, "/routes/get?vrf=5&prefix=nonsense").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = get(&app, "/vifs/3").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for path in ["/vifs", "/nexthops", "/flows", "/dropstats"] {
            assert_eq!(get(&app, path).await.0, StatusCode::OK, "{path}");
        }
    }
}
