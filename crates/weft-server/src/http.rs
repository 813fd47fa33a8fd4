//! The native API's routes, built from the resource list of `weft-api`.

use std::str::FromStr;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use serde::Serialize;
use weft_api::{Filter, ListQuery, REVISION_HEADER, Resource, ResourceVisitor, ServerInfo};
use weft_model::{Command, Kind, Model, Object, Ref, UpdateGlobalConfig};
use weft_store::Store;

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::writer::{View, Writer};

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    pub writer: Writer,
    pub view: Arc<RwLock<View>>,
    pub store: Arc<dyn Store>,
    /// Turns true when the server shuts down; endless responses end then.
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// Decides which network and project a pod's port goes to.
    pub pods: Arc<dyn crate::pod::PodNetworks>,
}

impl AppState {
    /// Runs `f` on the committed model.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Model, u64) -> T) -> T {
        View::read(&self.view, |view| f(&view.model, view.revision))
    }
}

/// A JSON response carrying the store revision it reflects.
pub(crate) fn respond<T: Serialize>(status: StatusCode, revision: u64, body: &T) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&revision.to_string()) {
        response.headers_mut().insert(REVISION_HEADER, value);
    }
    response
}

fn parse_ref(segment: &str) -> Result<Ref, ApiError> {
    Ref::from_str(segment).map_err(|e| ApiError::Query {
        field: "path".into(),
        message: format!("'{segment}' is neither a UUID nor an FQ name: {e}"),
    })
}

async fn create<R: Resource>(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<R::Create>,
) -> Result<Response, ApiError> {
    let done = state.writer.submit(R::create(req)).await?;
    let object = R::from_object(done.object).ok_or_else(|| mismatch::<R>())?;
    Ok(respond(StatusCode::CREATED, done.revision, &object))
}

async fn show<R: Resource>(
    State(state): State<AppState>,
    Path(target): Path<String>,
) -> Result<Response, ApiError> {
    let reference = parse_ref(&target)?;
    state.read(|model, revision| {
        let id = model.resolve(R::KIND, &reference, "")?;
        let object = model
            .get(R::KIND, id)
            .and_then(R::from_object)
            .ok_or_else(|| mismatch::<R>())?;
        Ok(respond(StatusCode::OK, revision, &object))
    })
}

async fn list<R: Resource>(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = parse_list_query::<R>(query.as_deref().unwrap_or(""))?;
    state.read(|model, revision| {
        let filter = resolve_filter(model, &query)?;
        Ok(respond(StatusCode::OK, revision, &R::list(model, &filter)))
    })
}

async fn update<R: Resource>(
    State(state): State<AppState>,
    Path(target): Path<String>,
    ApiJson(req): ApiJson<R::Update>,
) -> Result<Response, ApiError> {
    let reference = parse_ref(&target)?;
    let command = R::update(reference, req).ok_or_else(|| ApiError::MethodNotAllowed {
        method: "PATCH".into(),
        path: R::PATH.into(),
    })?;
    let done = state.writer.submit(command).await?;
    let object = R::from_object(done.object).ok_or_else(|| mismatch::<R>())?;
    Ok(respond(StatusCode::OK, done.revision, &object))
}

async fn delete<R: Resource>(
    State(state): State<AppState>,
    Path(target): Path<String>,
) -> Result<Response, ApiError> {
    let reference = parse_ref(&target)?;
    let done = state.writer.submit(R::delete(reference)).await?;
    let object = R::from_object(done.object).ok_or_else(|| mismatch::<R>())?;
    Ok(respond(StatusCode::OK, done.revision, &object))
}

fn mismatch<R: Resource>() -> ApiError {
    ApiError::Unavailable(format!("the model returned another kind than {}", R::NAME))
}

/// Parses a list query and refuses filters the collection does not support.
fn parse_list_query<R: Resource>(raw: &str) -> Result<ListQuery, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|e| ApiError::Query {
            field: "query".into(),
            message: format!("the query string is malformed: {e}"),
        })?;
    let mut map = serde_json::Map::new();
    for (key, value) in pairs {
        if !R::FILTERS.contains(&key.as_str()) {
            return Err(ApiError::Query {
                message: format!(
                    "{} cannot be filtered by '{key}' (filters: {})",
                    R::PATH,
                    R::FILTERS.join(", ")
                ),
                field: key,
            });
        }
        if map
            .insert(key.clone(), serde_json::Value::String(value))
            .is_some()
        {
            return Err(ApiError::Query {
                message: format!("filter '{key}' is given twice"),
                field: key,
            });
        }
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| ApiError::Query {
        field: "query".into(),
        message: e.to_string(),
    })
}

fn resolve_filter(model: &Model, query: &ListQuery) -> Result<Filter, ApiError> {
    let resolve = |kind, r: &Option<Ref>, field| {
        r.as_ref()
            .map(|r| model.resolve(kind, r, field))
            .transpose()
    };
    Ok(Filter {
        project: resolve(Kind::Project, &query.project, "project")?,
        network: resolve(Kind::VirtualNetwork, &query.network, "network")?,
        security_group: resolve(Kind::SecurityGroup, &query.security_group, "security_group")?,
        binding_host_id: query.binding_host_id.clone(),
        name: query.name.clone(),
    })
}

async fn info(State(state): State<AppState>) -> Response {
    state.read(|_, revision| {
        let info = ServerInfo {
            name: "weft".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            revision,
        };
        respond(StatusCode::OK, revision, &info)
    })
}

async fn show_global(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.read(|model, revision| match model.global() {
        Some(global) => Ok(respond(StatusCode::OK, revision, global)),
        None => Err(ApiError::NoRoute("/v1/global-config".into())),
    })
}

async fn update_global(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<UpdateGlobalConfig>,
) -> Result<Response, ApiError> {
    let done = state
        .writer
        .submit(Command::UpdateGlobalConfig(req))
        .await?;
    match done.object {
        Object::GlobalConfig(global) => Ok(respond(StatusCode::OK, done.revision, &global)),
        _ => Err(ApiError::Unavailable(
            "the model returned another kind than global-config".into(),
        )),
    }
}

async fn openapi_document() -> Response {
    Json(crate::openapi::document()).into_response()
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_owned())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

struct Routes(Router<AppState>);

impl ResourceVisitor for Routes {
    fn visit<R: Resource>(&mut self) {
        let collection: MethodRouter<AppState> = get(list::<R>)
            .post(create::<R>)
            .fallback(method_not_allowed);
        let mut item: MethodRouter<AppState> = get(show::<R>).delete(delete::<R>);
        if R::UPDATABLE {
            item = item.patch(update::<R>);
        }
        let router = std::mem::take(&mut self.0);
        self.0 = router.route(R::PATH, collection).route(
            &format!("{}/{{target}}", R::PATH),
            item.fallback(method_not_allowed),
        );
    }
}

/// The whole native API.
pub(crate) fn router(state: AppState) -> Router {
    let mut routes = Routes(Router::new());
    weft_api::visit_resources(&mut routes);
    routes
        .0
        .route("/", get(info).fallback(method_not_allowed))
        .route("/openapi.json", get(openapi_document))
        .route(
            "/v1/global-config",
            get(show_global)
                .patch(update_global)
                .fallback(method_not_allowed),
        )
        .route("/v1/watch", get(crate::watch::watch))
        .route(
            weft_api::POD_PORTS_PATH,
            axum::routing::post(crate::pod::pod_port).fallback(method_not_allowed),
        )
        .fallback(no_route)
        .with_state(state)
}
