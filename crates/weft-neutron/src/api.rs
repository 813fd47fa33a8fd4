//! The HTTP handlers: authentication, the caller's project, and CRUD for
//! each resource over the backend.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;
use weft_model::{
    Command, CreateProject, DEFAULT_GROUP, Kind, Model, Object, ROUTER_INTERFACE_OWNER, Ref,
    RevisionGuard, UpdateNetwork, UpdatePort,
};
use weft_types::{DEFAULT_DOMAIN, FqName};

use crate::auth::Auth;
use crate::backend::{Backend, SubmitError, read};
use crate::body::{Attrs, creatable, create_items, updatable, update_item};
use crate::convert::{self, Caller, changeable, owner, visible};
use crate::error::{NeutronError, Resource};
use crate::query::{ListQuery, fields_only};
use crate::render;

/// What every handler shares.
#[derive(Clone)]
pub struct NeutronState {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) auth: Auth,
}

impl std::fmt::Debug for NeutronState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeutronState")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl NeutronState {
    pub fn new(backend: Arc<dyn Backend>, auth: Auth) -> Self {
        NeutronState { backend, auth }
    }

    /// Authenticates the request and finds (or makes) the caller's project.
    pub(crate) async fn caller(&self, headers: &HeaderMap) -> Result<Caller, NeutronError> {
        let identity = self.auth.identify(headers).await?;
        let project = self
            .project(&identity.project_id, Some(&identity.project_name))
            .await?;
        let project_ref = read(self.backend.as_ref(), |m| m.orchestrator_id(project));
        Ok(Caller {
            project,
            project_ref,
            is_admin: identity.is_admin,
        })
    }

    /// The weft project of an orchestrator's project, made on first use
    /// (with its `default` security group) as `default-domain:<name>`.
    /// `name` is the project's name when the request tells it (a token);
    /// otherwise it is asked of Keystone, and only if Keystone cannot say
    /// is the project named by its id.
    pub(crate) async fn project(
        &self,
        external: &str,
        name: Option<&str>,
    ) -> Result<Uuid, NeutronError> {
        if let Some(id) = read(self.backend.as_ref(), |m| find_project(m, external, None)) {
            return Ok(id);
        }
        let name = match name {
            Some(name) => Some(name.to_owned()),
            None => self.auth.project_name(external).await,
        }
        .filter(|n| !n.is_empty());
        let found = |m: &Model| find_project(m, external, name.as_deref());
        if let Some(id) = read(self.backend.as_ref(), found) {
            return Ok(id);
        }
        let component = name
            .as_deref()
            .filter(|n| FqName::project(DEFAULT_DOMAIN, n).is_ok())
            .unwrap_or(external);
        let fq_name = FqName::project(DEFAULT_DOMAIN, component)
            .map_err(|e| NeutronError::invalid(format!("project '{external}': {e}")))?;
        let command = Command::CreateProject(CreateProject {
            fq_name,
            id: Uuid::try_parse(external).ok(),
            description: String::new(),
            tags: Vec::new(),
            external_id: Some(external.to_owned()),
        });
        match self.backend.submit(command).await {
            Ok(object) => Ok(object.id()),
            Err(error) => {
                // Another request may have made it meanwhile.
                read(self.backend.as_ref(), found)
                    .ok_or_else(|| NeutronError::from_submit(error, Resource::Network))
            }
        }
    }
}

/// A project by the orchestrator's id, by weft's id, or by name: the one
/// project of that name, whether OpenStack or Kubernetes made it.
pub(crate) fn find_project(model: &Model, external: &str, name: Option<&str>) -> Option<Uuid> {
    if let Some(p) = model
        .projects()
        .find(|p| p.external_id.as_deref() == Some(external))
    {
        return Some(p.meta.id);
    }
    if let Ok(id) = Uuid::try_parse(external)
        && model.get(Kind::Project, id).is_some()
    {
        return Some(id);
    }
    let fq = FqName::project(DEFAULT_DOMAIN, name?).ok()?;
    model.resolve(Kind::Project, &Ref::Name(fq), "").ok()
}

/// An object as `caller` sees it: a security group's `shared` says
/// whether an RBAC policy shares it with the caller's project.
fn render(model: &Model, caller: &Caller, object: &Object) -> Option<Map<String, Value>> {
    Some(match object {
        Object::VirtualNetwork(n) => render::network(model, n),
        Object::Subnet(s) => render::subnet(model, s),
        Object::Port(p) => render::port(model, p),
        Object::SecurityGroup(g) => {
            let mut map = render::security_group(model, g);
            let shared = model.shared_with(g.meta.id, &caller.project_ref);
            map.insert("shared".into(), json!(shared));
            map
        }
        Object::SecurityGroupRule(r) => render::security_group_rule(model, r),
        Object::Router(r) => render::router(model, r),
        _ => return None,
    })
}

fn all(model: &Model, resource: Resource) -> Vec<Object> {
    match resource {
        Resource::Network => model
            .networks()
            .cloned()
            .map(Object::VirtualNetwork)
            .collect(),
        Resource::Subnet => model.subnets().cloned().map(Object::Subnet).collect(),
        Resource::Port => model.ports().cloned().map(Object::Port).collect(),
        Resource::SecurityGroup => model
            .security_groups()
            .cloned()
            .map(Object::SecurityGroup)
            .collect(),
        Resource::SecurityGroupRule => model
            .security_group_rules()
            .cloned()
            .map(Object::SecurityGroupRule)
            .collect(),
        Resource::Router => model.routers().cloned().map(Object::Router).collect(),
    }
}

/// The projects a list query filters on (`project_id=`, `tenant_id=`).
fn query_projects(raw: &str) -> Vec<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| (k == "project_id" || k == "tenant_id") && !v.is_empty())
        .map(|(_, v)| v)
        .collect()
}

/// A path id: anything but a UUID (a name, say) is simply not found, so
/// clients fall back to `?name=`.
fn path_id(resource: Resource, text: &str) -> Result<Uuid, NeutronError> {
    Uuid::try_parse(text).map_err(|_| NeutronError::not_found(resource, text))
}

fn parse_body(bytes: &Bytes) -> Result<Value, NeutronError> {
    serde_json::from_slice(bytes)
        .map_err(|e| NeutronError::bad_request(format!("Malformed request body: {e}")))
}

fn collection_url(headers: &HeaderMap, resource: Resource) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}/v2.0/{}", resource.path())
}

pub(crate) async fn list(
    resource: Resource,
    state: NeutronState,
    headers: HeaderMap,
    raw: Option<String>,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    if resource == Resource::SecurityGroup && caller.is_admin {
        // As Neutron: listing a project's groups makes its default group.
        for project in query_projects(raw.as_deref().unwrap_or("")) {
            state.project(&project, None).await?;
        }
    }
    let mut filterable = render::attributes(resource).to_vec();
    filterable.extend(render::filter_only(resource));
    let query = ListQuery::parse(raw.as_deref().unwrap_or(""), &filterable)?;
    let page = read(state.backend.as_ref(), |model| {
        let items: Vec<Map<String, Value>> = all(model, resource)
            .iter()
            .filter_map(|o| {
                let (_, shared) = owner(model, o)?;
                if !convert::sees_object(model, &caller, o) {
                    return None;
                }
                let mut rendered = render(model, &caller, o)?;
                // Filter on what Neutron filters on but does not show,
                // then drop it again.
                for key in render::filter_only(resource) {
                    rendered.insert((*key).into(), json!(shared));
                }
                let pass = query.matches(&rendered);
                for key in render::filter_only(resource) {
                    rendered.remove(*key);
                }
                pass.then_some(rendered)
            })
            .collect();
        query.page(items, &collection_url(&headers, resource))
    });
    let mut body = Map::new();
    body.insert(resource.plural().into(), Value::Array(page.items));
    if let Some(links) = page.links {
        body.insert(format!("{}_links", resource.plural()), Value::Array(links));
    }
    Ok(Json(Value::Object(body)).into_response())
}

pub(crate) async fn show(
    resource: Resource,
    state: NeutronState,
    headers: HeaderMap,
    id: String,
    raw: Option<String>,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let id = path_id(resource, &id)?;
    let fields = fields_only(raw.as_deref().unwrap_or(""));
    let object = read(state.backend.as_ref(), |model| {
        let object = visible(model, &caller, resource, id)?;
        render(model, &caller, &object).ok_or_else(|| NeutronError::not_found(resource, id))
    })?;
    let object: Map<String, Value> = if fields.is_empty() {
        object
    } else {
        object
            .into_iter()
            .filter(|(k, _)| fields.contains(k))
            .collect()
    };
    Ok(Json(json!({resource.singular(): object})).into_response())
}

/// The project a create puts its object in: the caller's, or for an
/// admin, the one the body names.
async fn target_project(
    state: &NeutronState,
    caller: &Caller,
    attrs: &Attrs,
) -> Result<Uuid, NeutronError> {
    let Some(named) = attrs.project()? else {
        return Ok(caller.project);
    };
    let own = read(state.backend.as_ref(), |m| {
        render::project_ref(m, caller.project)
    });
    if named == own {
        return Ok(caller.project);
    }
    if !caller.is_admin {
        return Err(NeutronError::bad_request(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
        ));
    }
    state.project(&named, None).await
}

async fn create_one(
    resource: Resource,
    state: &NeutronState,
    caller: &Caller,
    item: Value,
) -> Result<Object, NeutronError> {
    let attrs = Attrs::new(item, resource, creatable(resource), "POST")?;
    let project = target_project(state, caller, &attrs).await?;
    let command = read(state.backend.as_ref(), |model| {
        crate::quotas::check(model, project, resource)?;
        match resource {
            Resource::Network => convert::create_network(model, caller, project, &attrs),
            Resource::Subnet => convert::create_subnet(model, caller, &attrs),
            Resource::Port => convert::create_port(model, caller, project, &attrs),
            Resource::SecurityGroup => convert::create_group(model, project, &attrs),
            Resource::SecurityGroupRule => convert::create_rule(model, caller, &attrs),
            Resource::Router => convert::create_router(project, &attrs),
        }
    })?;
    let object = submit(state, resource, command).await?;
    if resource == Resource::Network && attrs.flag("port_security_enabled")? == Some(false) {
        // The model makes networks with port security on; turn it off
        // in a second step, or take the network back.
        let off = Command::UpdateNetwork(
            Ref::Id(object.id()),
            UpdateNetwork {
                port_security_enabled: Some(false),
                ..UpdateNetwork::default()
            },
        );
        return match submit(state, resource, off).await {
            Ok(updated) => Ok(updated),
            Err(error) => {
                if let Err(e) = state
                    .backend
                    .submit(convert::delete(resource, object.id()))
                    .await
                {
                    tracing::warn!(error = %e, id = %object.id(), "cannot take back a network");
                }
                Err(error)
            }
        };
    }
    Ok(object)
}

async fn submit(
    state: &NeutronState,
    resource: Resource,
    command: Command,
) -> Result<Object, NeutronError> {
    state
        .backend
        .submit(command)
        .await
        .map_err(|e: SubmitError| NeutronError::from_submit(e, resource))
}

pub(crate) async fn create(
    resource: Resource,
    state: NeutronState,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let (items, bulk) = create_items(parse_body(&bytes)?, resource)?;
    let mut made: Vec<Object> = Vec::with_capacity(items.len());
    for item in items {
        match create_one(resource, &state, &caller, item).await {
            Ok(object) => made.push(object),
            Err(error) => {
                // A bulk create is all or nothing: undo what was made.
                for object in made.iter().rev() {
                    if let Err(e) = state
                        .backend
                        .submit(convert::delete(resource, object.id()))
                        .await
                    {
                        tracing::warn!(error = %e, id = %object.id(), "cannot undo part of a bulk create");
                    }
                }
                return Err(error);
            }
        }
    }
    let rendered: Vec<Value> = read(state.backend.as_ref(), |model| {
        made.iter()
            .filter_map(|o| {
                // Re-read: a later item may have changed an earlier one's view
                // (a subnet adds itself to its network).
                let current = model.get(o.kind(), o.id()).unwrap_or_else(|| o.clone());
                render(model, &caller, &current).map(Value::Object)
            })
            .collect()
    });
    let body = if bulk {
        json!({resource.plural(): rendered})
    } else {
        json!({resource.singular(): rendered.into_iter().next().unwrap_or(Value::Null)})
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(crate) async fn update(
    resource: Resource,
    state: NeutronState,
    headers: HeaderMap,
    id: String,
    bytes: Bytes,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let id = path_id(resource, &id)?;
    let item = update_item(parse_body(&bytes)?, resource)?;
    let attrs = Attrs::new(item, resource, updatable(resource), "PUT")?;
    let command = read(state.backend.as_ref(), |model| {
        let (object, project) = changeable(model, &caller, resource, id, "update")?;
        match (resource, &object) {
            (Resource::Network, _) => convert::update_network(model, &caller, id, project, &attrs),
            (Resource::Subnet, _) => convert::update_subnet(id, &attrs),
            (Resource::Port, _) => convert::update_port(model, &caller, id, project, &attrs),
            (Resource::Router, _) => convert::update_router(id, &attrs),
            (Resource::SecurityGroup, Object::SecurityGroup(g)) => {
                let current = render::display_name(g.name(), id);
                convert::update_group(model, id, project, &current, &attrs)
            }
            _ => Err(NeutronError::bad_request(format!(
                "{} cannot be updated",
                resource.plural()
            ))),
        }
    })?;
    let command = guarded(resource, id, if_match(&headers)?, command);
    let object = submit(&state, resource, command).await?;
    let rendered = read(state.backend.as_ref(), |model| {
        render(model, &caller, &object)
    });
    Ok(Json(json!({resource.singular(): rendered})).into_response())
}

pub(crate) async fn delete(
    resource: Resource,
    state: NeutronState,
    headers: HeaderMap,
    id: String,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let id = path_id(resource, &id)?;
    let command = read(state.backend.as_ref(), |model| {
        let (object, project) = changeable(model, &caller, resource, id, "delete")?;
        match &object {
            Object::SecurityGroup(g) if g.name() == DEFAULT_GROUP => {
                default_group_removal(&caller, project)
            }
            Object::Port(p) if p.device_owner == ROUTER_INTERFACE_OWNER => Err(NeutronError::new(
                StatusCode::CONFLICT,
                "L3PortInUse",
                format!(
                    "Port {id} cannot be deleted directly via the port API: has device owner {}.",
                    p.device_owner
                ),
            )),
            _ => Ok(convert::delete(resource, id)),
        }
    })?;
    let command = guarded(resource, id, if_match(&headers)?, command);
    submit(&state, resource, command).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The revision an update or delete is constrained to: Neutron's
/// `If-Match: revision_number=N` (other entity tags are ignored).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, NeutronError> {
    let bad = |msg: &str| {
        NeutronError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Bad if-match request: {msg}"),
        )
    };
    let mut revision = None;
    for value in headers.get_all(header::IF_MATCH) {
        let text = value
            .to_str()
            .map_err(|_| bad("the If-Match header is not text"))?;
        for tag in text.split(',') {
            let tag = tag.trim().trim_start_matches("W/").trim_matches('"');
            let Some(number) = tag.strip_prefix("revision_number=") else {
                continue;
            };
            if revision.is_some() {
                return Err(bad("Multiple revision_number etags are not supported."));
            }
            revision = Some(number.parse::<u64>().map_err(|_| {
                bad("Revision number etag must be in the format of revision_number=<int>")
            })?);
        }
    }
    Ok(revision)
}

/// `command`, held to the object's revision when the request names one.
fn guarded(resource: Resource, id: Uuid, revision: Option<u64>, command: Command) -> Command {
    match revision {
        Some(revision) => Command::IfRevision(
            RevisionGuard {
                kind: convert::kind_of(resource),
                id,
                revision,
            },
            Box::new(command),
        ),
        None => command,
    }
}

/// Deleting a project's `default` group: a member may not (as in Neutron);
/// for an admin, the group goes with its project, which weft deletes if
/// nothing else is left in it. Both come back on the project's next use.
fn default_group_removal(caller: &Caller, project: Uuid) -> Result<Command, NeutronError> {
    if !caller.is_admin {
        return Err(NeutronError::new(
            StatusCode::CONFLICT,
            "SecurityGroupCannotRemoveDefault",
            "Insufficient rights for removing default security group.",
        ));
    }
    Ok(Command::DeleteProject(Ref::Id(project)))
}

/// `PUT /v2.0/routers/{id}/add_router_interface` and
/// `…/remove_router_interface` with `{"port_id": …}`: a port becomes the
/// router's interface (`device_owner` `network:router_interface`,
/// `device_id` the router) or, removed, is deleted, as in Neutron.
pub(crate) async fn interface(
    add: bool,
    state: NeutronState,
    headers: HeaderMap,
    id: String,
    bytes: Bytes,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let router = path_id(Resource::Router, &id)?;
    let body = parse_body(&bytes)?;
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let port = match (text("port_id"), text("subnet_id")) {
        (Some(port), _) => Uuid::try_parse(&port)
            .map_err(|_| NeutronError::invalid(format!("'{port}' is not a valid UUID")))?,
        (None, Some(_)) => {
            return Err(NeutronError::invalid(
                "router interfaces are made from ports: give port_id, not subnet_id",
            ));
        }
        (None, None) => {
            return Err(NeutronError::bad_request(
                "Either subnet_id or port_id must be specified",
            ));
        }
    };
    let (command, answer) = read(state.backend.as_ref(), |model| {
        let Object::Router(r) = visible(model, &caller, Resource::Router, router)? else {
            return Err(NeutronError::not_found(Resource::Router, router));
        };
        if r.project_id != caller.project && !caller.is_admin {
            return Err(NeutronError::policy("update_router"));
        }
        let Object::Port(p) = visible(model, &caller, Resource::Port, port)? else {
            return Err(NeutronError::not_found(Resource::Port, port));
        };
        let subnets: Vec<Uuid> = p.fixed_ips.iter().map(|f| f.subnet_id).collect();
        let project = render::project_ref(model, r.project_id);
        let answer = json!({
            "id": router,
            "tenant_id": project,
            "project_id": project,
            "port_id": port,
            "network_id": p.network_id,
            "subnet_id": subnets.first(),
            "subnet_ids": subnets,
        });
        let command = if add {
            if !p.device_id.is_empty() || !p.device_owner.is_empty() {
                return Err(NeutronError::new(
                    StatusCode::CONFLICT,
                    "PortInUse",
                    format!(
                        "Unable to complete operation for network {}. The port {port} is in use by device {}.",
                        p.network_id, p.device_id
                    ),
                ));
            }
            if p.fixed_ips.is_empty() {
                return Err(NeutronError::bad_request(
                    "Router port must have at least one fixed IP",
                ));
            }
            Command::UpdatePort(
                Ref::Id(port),
                UpdatePort {
                    device_owner: Some(ROUTER_INTERFACE_OWNER.to_owned()),
                    device_id: Some(router.to_string()),
                    ..UpdatePort::default()
                },
            )
        } else {
            if p.device_owner != ROUTER_INTERFACE_OWNER || p.device_id != router.to_string() {
                return Err(NeutronError::new(
                    StatusCode::NOT_FOUND,
                    "RouterInterfaceNotFound",
                    format!("Router {router} does not have an interface with id {port}"),
                ));
            }
            Command::DeletePort(Ref::Id(port))
        };
        Ok((command, answer))
    })?;
    submit(&state, Resource::Port, command).await?;
    Ok(Json(answer).into_response())
}

/// Handlers bound to one resource, for the router.
pub(crate) mod bound {
    use super::*;

    pub(crate) fn list(
        r: Resource,
    ) -> impl Fn(State<NeutronState>, HeaderMap, RawQuery) -> futures_like::Fut + Clone {
        move |State(s), h, RawQuery(q)| Box::pin(super::list(r, s, h, q))
    }

    pub(crate) fn show(
        r: Resource,
    ) -> impl Fn(State<NeutronState>, HeaderMap, Path<String>, RawQuery) -> futures_like::Fut + Clone
    {
        move |State(s), h, Path(id), RawQuery(q)| Box::pin(super::show(r, s, h, id, q))
    }

    pub(crate) fn create(
        r: Resource,
    ) -> impl Fn(State<NeutronState>, HeaderMap, Bytes) -> futures_like::Fut + Clone {
        move |State(s), h, b| Box::pin(super::create(r, s, h, b))
    }

    pub(crate) fn update(
        r: Resource,
    ) -> impl Fn(State<NeutronState>, HeaderMap, Path<String>, Bytes) -> futures_like::Fut + Clone
    {
        move |State(s), h, Path(id), b| Box::pin(super::update(r, s, h, id, b))
    }

    pub(crate) fn delete(
        r: Resource,
    ) -> impl Fn(State<NeutronState>, HeaderMap, Path<String>) -> futures_like::Fut + Clone {
        move |State(s), h, Path(id)| Box::pin(super::delete(r, s, h, id))
    }

    /// `…/{id}/tags`: `op` makes the operation from the body.
    pub(crate) fn tags(
        r: Resource,
        op: fn(Bytes) -> crate::tags::TagOp,
    ) -> impl Fn(State<NeutronState>, HeaderMap, Path<String>, Bytes) -> futures_like::Fut + Clone
    {
        move |State(s), h, Path(id), b| Box::pin(crate::tags::handle(r, s, h, id, op(b)))
    }

    /// `…/{id}/tags/{tag}`: `op` makes the operation from the tag.
    pub(crate) fn tag(
        r: Resource,
        op: fn(String) -> crate::tags::TagOp,
    ) -> impl Fn(State<NeutronState>, HeaderMap, Path<(String, String)>) -> futures_like::Fut + Clone
    {
        move |State(s), h, Path((id, tag))| Box::pin(crate::tags::handle(r, s, h, id, op(tag)))
    }

    pub(crate) fn interface(
        add: bool,
    ) -> impl Fn(State<NeutronState>, HeaderMap, Path<String>, Bytes) -> futures_like::Fut + Clone
    {
        move |State(s), h, Path(id), b| Box::pin(super::interface(add, s, h, id, b))
    }

    pub(crate) mod futures_like {
        use super::*;
        pub(crate) type Fut = std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Response, NeutronError>> + Send>,
        >;
    }
}
