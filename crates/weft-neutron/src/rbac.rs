//! `/v2.0/rbac-policies`: the owner of a security group shares it with
//! another project (or with every project, `*`) for use on its ports, as
//! Neutron's `rbac-policies` and `rbac-security-groups` extensions do.
//!
//! Who may do what follows Neutron's policy defaults: a member manages the
//! policies of its own project on the objects it owns, and only an admin
//! shares with `*` or acts on others' objects. A policy is seen only by
//! its own project (and admins), never by its target. The model refuses to
//! remove or retarget a policy that another project's ports depend on.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;
use weft_model::{
    Command, CreateRbacPolicy, Kind, Model, ModelError, Object, RBAC_ANY_PROJECT, RbacAction,
    RbacObjectType, RbacPolicy, Ref, UpdateRbacPolicy,
};

use crate::api::NeutronState;
use crate::backend::{SubmitError, read};
use crate::convert::Caller;
use crate::error::{NeutronError, Resource};
use crate::query::{ListQuery, fields_only};
use crate::render::project_ref;

const SINGULAR: &str = "rbac_policy";
const PLURAL: &str = "rbac_policies";

/// What a policy shows, which is also what can be filtered and sorted on.
const ATTRIBUTES: [&str; 7] = [
    "id",
    "project_id",
    "tenant_id",
    "object_type",
    "object_id",
    "action",
    "target_tenant",
];
const CREATABLE: [&str; 6] = [
    "project_id",
    "tenant_id",
    "object_type",
    "object_id",
    "action",
    "target_tenant",
];
const UPDATABLE: [&str; 1] = ["target_tenant"];

/// Neutron's names of the object types and actions.
const SECURITY_GROUP: &str = "security_group";
const ACCESS_AS_SHARED: &str = "access_as_shared";

/// Object types Neutron knows but weft does not share.
const UNSUPPORTED_TYPES: [&str; 5] = [
    "network",
    "qos_policy",
    "address_scope",
    "subnetpool",
    "address_group",
];

pub(crate) fn render(model: &Model, policy: &RbacPolicy) -> Map<String, Value> {
    let project = project_ref(model, policy.project_id);
    let object_type = match policy.object_type {
        RbacObjectType::SecurityGroup => SECURITY_GROUP,
    };
    let action = match policy.action {
        RbacAction::AccessAsShared => ACCESS_AS_SHARED,
    };
    let mut map = Map::new();
    map.insert("id".into(), json!(policy.meta.id));
    map.insert("project_id".into(), json!(project));
    map.insert("tenant_id".into(), json!(project));
    map.insert("object_type".into(), json!(object_type));
    map.insert("object_id".into(), json!(policy.object_id));
    map.insert("action".into(), json!(action));
    map.insert("target_tenant".into(), json!(policy.target_project));
    map
}

fn not_found(object_type: &str, id: impl std::fmt::Display) -> NeutronError {
    NeutronError::new(
        StatusCode::NOT_FOUND,
        "RbacPolicyNotFound",
        format!("RBAC policy of type {object_type} with ID {id} not found"),
    )
}

/// A policy the caller may see: its project's, or any for an admin.
fn visible(model: &Model, caller: &Caller, id: &str) -> Result<RbacPolicy, NeutronError> {
    let found = Uuid::try_parse(id)
        .ok()
        .and_then(|uuid| match model.get(Kind::RbacPolicy, uuid) {
            Some(Object::RbacPolicy(p)) => Some(p),
            _ => None,
        });
    match found {
        Some(p) if caller.is_admin || p.project_id == caller.project => Ok(p),
        Some(_) => Err(not_found(SECURITY_GROUP, id)),
        None => Err(not_found("unknown", id)),
    }
}

/// Neutron's refusals of a policy change, from the model's.
fn from_submit(error: SubmitError, id: impl std::fmt::Display) -> NeutronError {
    match error {
        SubmitError::Refused(ModelError::InUse {
            kind: Kind::RbacPolicy,
            key,
            by,
        }) => NeutronError::new(
            StatusCode::CONFLICT,
            "RbacPolicyInUse",
            format!(
                "RBAC policy on object {key} cannot be removed because other objects depend on it.\nDetails: {by}"
            ),
        ),
        SubmitError::Refused(ModelError::Conflict { field, .. }) if field == "target_project" => {
            NeutronError::new(
                StatusCode::CONFLICT,
                "DuplicateRbacPolicy",
                "An RBAC policy already exists with those values.",
            )
        }
        SubmitError::Refused(ModelError::NotFound {
            kind: Kind::RbacPolicy,
            ..
        }) => not_found("unknown", id),
        other => NeutronError::from_submit(other, Resource::SecurityGroup),
    }
}

fn parse_body(bytes: &Bytes) -> Result<Value, NeutronError> {
    serde_json::from_slice(bytes)
        .map_err(|e| NeutronError::bad_request(format!("Malformed request body: {e}")))
}

/// The attributes of one policy in a request, checked against `allowed`.
fn attributes(
    value: Value,
    allowed: &[&str],
    method: &str,
) -> Result<Map<String, Value>, NeutronError> {
    let Value::Object(map) = value else {
        return Err(NeutronError::bad_request(format!(
            "The '{SINGULAR}' in the request body must be an object"
        )));
    };
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(if ATTRIBUTES.contains(&key.as_str()) {
                NeutronError::bad_request(format!("Attribute '{key}' not allowed in {method}"))
            } else {
                NeutronError::bad_request(format!("Unrecognized attribute(s) '{key}'"))
            });
        }
    }
    Ok(map)
}

/// A string attribute; anything else is Neutron's "not a valid string".
fn text(map: &Map<String, Value>, key: &str) -> Result<Option<String>, NeutronError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(NeutronError::invalid(format!(
            "'{other}' is not a valid string"
        ))),
    }
}

fn required(map: &Map<String, Value>, key: &str) -> Result<String, NeutronError> {
    text(map, key)?.ok_or_else(|| {
        NeutronError::bad_request(format!(
            "Failed to parse request. Required attribute '{key}' not specified"
        ))
    })
}

/// Neutron's `valid_target_project`: a UUID-like id or `*`.
fn target(text: &str, caller: &Caller, action: &str) -> Result<String, NeutronError> {
    if text == RBAC_ANY_PROJECT {
        if !caller.is_admin {
            return Err(NeutronError::policy(&format!("{action}:target_tenant")));
        }
        return Ok(text.to_owned());
    }
    if Uuid::try_parse(text).is_err() {
        return Err(NeutronError::invalid(format!(
            "'{text}' is not a valid target project ID; expected a UUID or '*'"
        )));
    }
    Ok(text.to_owned())
}

/// Neutron's rule for creating and changing policies: only admins act on
/// objects they do not own.
fn check_owner(model: &Model, caller: &Caller, object: Uuid) -> Result<(), NeutronError> {
    if caller.is_admin {
        return model
            .rbac_object_owner(RbacObjectType::SecurityGroup, object)
            .map(|_| ())
            .map_err(|_| NeutronError::not_found(Resource::SecurityGroup, object));
    }
    match model.rbac_object_owner(RbacObjectType::SecurityGroup, object) {
        Ok(owner) if owner == caller.project => Ok(()),
        _ => Err(NeutronError::invalid(
            "Only admins can manipulate policies on objects they do not own",
        )),
    }
}

fn collection_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}/v2.0/rbac-policies")
}

pub(crate) async fn list(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let query = ListQuery::parse(raw.as_deref().unwrap_or(""), &ATTRIBUTES)?;
    let page = read(state.backend.as_ref(), |model| {
        let items: Vec<Map<String, Value>> = model
            .rbac_policies()
            .filter(|p| caller.is_admin || p.project_id == caller.project)
            .map(|p| render(model, p))
            .filter(|rendered| query.matches(rendered))
            .collect();
        query.page(items, &collection_url(&headers))
    });
    let mut body = Map::new();
    body.insert(PLURAL.into(), Value::Array(page.items));
    if let Some(links) = page.links {
        body.insert(format!("{PLURAL}_links"), Value::Array(links));
    }
    Ok(Json(Value::Object(body)).into_response())
}

pub(crate) async fn show(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let fields = fields_only(raw.as_deref().unwrap_or(""));
    let policy = read(state.backend.as_ref(), |model| {
        visible(model, &caller, &id).map(|p| render(model, &p))
    })?;
    let policy: Map<String, Value> = policy
        .into_iter()
        .filter(|(k, _)| fields.is_empty() || fields.contains(k))
        .collect();
    Ok(Json(json!({SINGULAR: policy})).into_response())
}

/// The items of a create body: `{"rbac_policy": {…}}` or, in bulk,
/// `{"rbac_policies": [{…}, …]}`.
fn create_items(body: Value) -> Result<(Vec<Value>, bool), NeutronError> {
    let Value::Object(mut map) = body else {
        return Err(NeutronError::bad_request(
            "The request body must be a JSON object",
        ));
    };
    if let Some(one) = map.remove(SINGULAR) {
        return Ok((vec![one], false));
    }
    match map.remove(PLURAL) {
        Some(Value::Array(items)) if !items.is_empty() => Ok((items, true)),
        Some(_) => Err(NeutronError::bad_request(format!(
            "Resources required: '{PLURAL}' must be a non-empty list"
        ))),
        None => Err(NeutronError::bad_request(format!(
            "Unable to find '{SINGULAR}' in request body"
        ))),
    }
}

/// Checks one create item and makes its command.
async fn create_command(
    state: &NeutronState,
    caller: &Caller,
    item: Value,
) -> Result<Command, NeutronError> {
    let map = attributes(item, &CREATABLE, "POST")?;
    let object_type = required(&map, "object_type")?;
    let object_type = object_type.trim().to_lowercase();
    if object_type != SECURITY_GROUP {
        let why = if UNSUPPORTED_TYPES.contains(&object_type.as_str()) {
            " (weft shares only security groups)"
        } else {
            ""
        };
        return Err(NeutronError::invalid(format!(
            "'{object_type}' is not a valid RBAC object type{why}"
        )));
    }
    let object_id = required(&map, "object_id")?;
    let object_id = Uuid::try_parse(&object_id)
        .map_err(|_| NeutronError::invalid(format!("'{object_id}' is not a valid UUID")))?;
    let target_project = target(
        &required(&map, "target_tenant")?,
        caller,
        "create_rbac_policy",
    )?;
    let action = required(&map, "action")?;
    if action != ACCESS_AS_SHARED {
        return Err(NeutronError::invalid(format!(
            "Invalid action '{action}' for object type '{object_type}'. Valid actions: ('{ACCESS_AS_SHARED}',)"
        )));
    }
    let project = match (text(&map, "project_id")?, text(&map, "tenant_id")?) {
        (Some(p), Some(t)) if p != t => {
            return Err(NeutronError::invalid(
                "project_id and tenant_id do not match",
            ));
        }
        (p, t) => p.or(t).filter(|p| !p.is_empty()),
    };
    let project = match project {
        Some(named) if named != caller.project_ref => {
            if !caller.is_admin {
                return Err(NeutronError::bad_request(
                    "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
                ));
            }
            state.project(&named, None).await?
        }
        _ => caller.project,
    };
    read(state.backend.as_ref(), |model| {
        check_owner(model, caller, object_id)
    })?;
    Ok(Command::CreateRbacPolicy(CreateRbacPolicy {
        project: Ref::Id(project),
        id: Some(Uuid::new_v4()),
        object_type: RbacObjectType::SecurityGroup,
        object_id,
        action: RbacAction::AccessAsShared,
        target_project,
    }))
}

pub(crate) async fn create(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let (items, bulk) = create_items(parse_body(&bytes)?)?;
    let mut made: Vec<Object> = Vec::with_capacity(items.len());
    for item in items {
        let result = match create_command(&state, &caller, item).await {
            Ok(command) => state
                .backend
                .submit(command)
                .await
                .map_err(|e| from_submit(e, "")),
            Err(e) => Err(e),
        };
        match result {
            Ok(object) => made.push(object),
            Err(error) => {
                // A bulk create is all or nothing: undo what was made.
                for object in made.iter().rev() {
                    let undo = Command::DeleteRbacPolicy(Ref::Id(object.id()));
                    if let Err(e) = state.backend.submit(undo).await {
                        tracing::warn!(error = %e, id = %object.id(), "cannot undo part of a bulk create");
                    }
                }
                return Err(error);
            }
        }
    }
    let rendered: Vec<Value> = read(state.backend.as_ref(), |model| {
        made.iter()
            .filter_map(|o| match o {
                Object::RbacPolicy(p) => Some(Value::Object(render(model, p))),
                _ => None,
            })
            .collect()
    });
    let body = if bulk {
        json!({PLURAL: rendered})
    } else {
        json!({SINGULAR: rendered.into_iter().next().unwrap_or(Value::Null)})
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(crate) async fn update(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let body = parse_body(&bytes)?;
    let item = match body {
        Value::Object(mut map) => map.remove(SINGULAR).ok_or_else(|| {
            NeutronError::bad_request(format!("Unable to find '{SINGULAR}' in request body"))
        })?,
        _ => {
            return Err(NeutronError::bad_request(
                "The request body must be a JSON object",
            ));
        }
    };
    let map = attributes(item, &UPDATABLE, "PUT")?;
    let command = read(state.backend.as_ref(), |model| {
        let policy = visible(model, &caller, &id)?;
        let target_project = text(&map, "target_tenant")?
            .map(|t| target(&t, &caller, "update_rbac_policy"))
            .transpose()?;
        check_owner(model, &caller, policy.object_id)?;
        Ok::<_, NeutronError>(Command::UpdateRbacPolicy(
            Ref::Id(policy.meta.id),
            UpdateRbacPolicy { target_project },
        ))
    })?;
    let object = state
        .backend
        .submit(command)
        .await
        .map_err(|e| from_submit(e, &id))?;
    let rendered = read(state.backend.as_ref(), |model| match &object {
        Object::RbacPolicy(p) => Value::Object(render(model, p)),
        _ => Value::Null,
    });
    Ok(Json(json!({SINGULAR: rendered})).into_response())
}

pub(crate) async fn delete(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let policy = read(state.backend.as_ref(), |model| visible(model, &caller, &id))?;
    state
        .backend
        .submit(Command::DeleteRbacPolicy(Ref::Id(policy.meta.id)))
        .await
        .map_err(|e| from_submit(e, &id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
