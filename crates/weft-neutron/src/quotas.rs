//! Neutron's `quotas` and `quota_details` extensions: per-project limits on
//! how many networks, subnets, ports, security groups, rules and routers a
//! project may have, enforced when the Neutron API creates one.
//!
//! | request | answer |
//! |---|---|
//! | `GET /v2.0/quotas` | projects with limits set (admin) |
//! | `GET /v2.0/quotas/{project}` | `{"quota": {resource: limit}}` |
//! | `GET /v2.0/quotas/{project}/default` | the defaults |
//! | `GET /v2.0/quotas/{project}/details` | limit, used and reserved per resource |
//! | `PUT /v2.0/quotas/{project}` `{"quota": {…}}` | sets the given limits (admin) |
//! | `DELETE /v2.0/quotas/{project}` | back to the defaults (admin) |
//!
//! Limits live in the model's project, so they survive restarts. -1 is no
//! limit. The defaults are Neutron's for security groups (10) and rules
//! (100); networks, subnets, ports and routers are unlimited unless set.
//! The count is taken when a create is checked, so two creates racing for
//! the last unit may both pass.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;
use weft_model::{Command, Model, Object, Ref, UpdateProject};

use crate::api::{NeutronState, find_project};
use crate::backend::read;
use crate::convert::Caller;
use crate::error::{NeutronError, Resource};
use crate::render::project_ref;

/// Each limited resource and its default limit.
const DEFAULTS: [(&str, i64); 6] = [
    ("network", -1),
    ("subnet", -1),
    ("port", -1),
    ("router", -1),
    ("security_group", 10),
    ("security_group_rule", 100),
];

/// Neutron keeps limits in 32 bits.
const MAX_LIMIT: i64 = i32::MAX as i64;

fn quota_name(resource: Resource) -> &'static str {
    resource.singular()
}

/// The limits of a weft project (or the defaults for none).
fn limits(model: &Model, project: Option<Uuid>) -> BTreeMap<&'static str, i64> {
    let set = project.and_then(|p| match model.get(weft_model::Kind::Project, p) {
        Some(Object::Project(p)) => Some(p.quotas),
        _ => None,
    });
    DEFAULTS
        .iter()
        .map(|(name, default)| {
            let limit = set
                .as_ref()
                .and_then(|q| q.get(*name).copied())
                .unwrap_or(*default);
            (*name, limit)
        })
        .collect()
}

/// How many objects of `resource` the project has.
fn used(model: &Model, project: Uuid, resource: &str) -> i64 {
    let count = match resource {
        "network" => model.networks().filter(|n| n.project_id == project).count(),
        "subnet" => model.subnets().filter(|s| s.project_id == project).count(),
        "port" => model.ports().filter(|p| p.project_id == project).count(),
        "router" => model.routers().filter(|r| r.project_id == project).count(),
        "security_group" => model
            .security_groups()
            .filter(|g| g.project_id == project)
            .count(),
        "security_group_rule" => model
            .security_group_rules()
            .filter(|r| r.project_id == project)
            .count(),
        _ => 0,
    };
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// The egress rules (IPv4 and IPv6) every new group starts with.
const NEW_GROUP_RULES: i64 = 2;

/// Refuses a create that would take `project` over its limit — for a new
/// security group, also over its rules' limit with the rules it comes with.
pub(crate) fn check(model: &Model, project: Uuid, resource: Resource) -> Result<(), NeutronError> {
    let limits = limits(model, Some(project));
    let mut wanted = vec![(quota_name(resource), 1)];
    if resource == Resource::SecurityGroup {
        wanted.push(("security_group_rule", NEW_GROUP_RULES));
    }
    for (name, more) in wanted {
        let Some(limit) = limits.get(name).copied() else {
            continue;
        };
        if limit >= 0 && used(model, project, name) + more > limit {
            return Err(NeutronError::new(
                StatusCode::CONFLICT,
                "OverQuota",
                format!("Quota exceeded for resources: ['{name}']."),
            ));
        }
    }
    Ok(())
}

fn quota_body(limits: &BTreeMap<&'static str, i64>) -> Value {
    Value::Object(
        limits
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect(),
    )
}

/// The caller may read a project's quotas if it is an admin or the project's member.
/// The project a quota read names, if the caller may read it (admin, or the
/// caller's own project); `None` inside for a project weft has not seen yet.
fn readable_project(
    model: &Model,
    caller: &Caller,
    project: &str,
) -> Result<Option<Uuid>, NeutronError> {
    if caller.is_admin || project_ref(model, caller.project) == project {
        Ok(find_project(model, project, None))
    } else {
        Err(NeutronError::policy("get_quota"))
    }
}

fn admin_only(caller: &Caller, action: &str) -> Result<(), NeutronError> {
    if caller.is_admin {
        Ok(())
    } else {
        Err(NeutronError::policy(action))
    }
}

pub(crate) async fn list(
    State(state): State<NeutronState>,
    headers: HeaderMap,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    admin_only(&caller, "get_quota")?;
    let quotas: Vec<Value> = read(state.backend.as_ref(), |model| {
        model
            .projects()
            .filter(|p| !p.quotas.is_empty())
            .map(|p| {
                let mut body = quota_body(&limits(model, Some(p.meta.id)));
                let id = project_ref(model, p.meta.id);
                body["project_id"] = json!(id);
                body["tenant_id"] = json!(id);
                body
            })
            .collect()
    });
    Ok(Json(json!({"quotas": quotas})).into_response())
}

pub(crate) async fn show(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let body = read(state.backend.as_ref(), |model| {
        let id = readable_project(model, &caller, &project)?;
        Ok(quota_body(&limits(model, id)))
    })?;
    Ok(Json(json!({"quota": body})).into_response())
}

pub(crate) async fn defaults(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    Path(_project): Path<String>,
) -> Result<Response, NeutronError> {
    state.caller(&headers).await?;
    let body = read(state.backend.as_ref(), |model| {
        quota_body(&limits(model, None))
    });
    Ok(Json(json!({"quota": body})).into_response())
}

pub(crate) async fn details(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let body = read(state.backend.as_ref(), |model| {
        let id = readable_project(model, &caller, &project)?;
        let details: Map<String, Value> = limits(model, id)
            .into_iter()
            .map(|(name, limit)| {
                let used = id.map_or(0, |p| used(model, p, name));
                (
                    name.to_owned(),
                    json!({"limit": limit, "used": used, "reserved": 0}),
                )
            })
            .collect();
        Ok(Value::Object(details))
    })?;
    Ok(Json(json!({"quota": body})).into_response())
}

/// The limits a PUT body sets; `force` (skip Neutron's check against
/// usage, which weft does not make) is accepted and ignored.
fn requested(bytes: &Bytes) -> Result<BTreeMap<String, i64>, NeutronError> {
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| NeutronError::bad_request(format!("Malformed request body: {e}")))?;
    let Some(Value::Object(items)) = body.get("quota") else {
        return Err(NeutronError::bad_request(
            "Unable to find 'quota' in request body",
        ));
    };
    let mut out = BTreeMap::new();
    for (key, value) in items {
        if key == "force" {
            continue;
        }
        if !DEFAULTS.iter().any(|(name, _)| name == key) {
            return Err(NeutronError::bad_request(format!(
                "Unrecognized attribute(s) '{key}'"
            )));
        }
        let limit = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|l| (-1..=MAX_LIMIT).contains(l))
        .ok_or_else(|| {
            NeutronError::invalid(format!(
                "'{value}' is not a valid quota for {key}: an integer from -1 to {MAX_LIMIT}"
            ))
        })?;
        out.insert(key.clone(), limit);
    }
    Ok(out)
}

pub(crate) async fn update(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    bytes: Bytes,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    admin_only(&caller, "update_quota")?;
    let wanted = requested(&bytes)?;
    let id = state.project(&project, None).await?;
    let mut quotas = read(state.backend.as_ref(), |model| {
        match model.get(weft_model::Kind::Project, id) {
            Some(Object::Project(p)) => p.quotas,
            _ => BTreeMap::new(),
        }
    });
    quotas.extend(wanted);
    set(&state, id, quotas).await?;
    let body = read(state.backend.as_ref(), |model| {
        quota_body(&limits(model, Some(id)))
    });
    Ok(Json(json!({"quota": body})).into_response())
}

pub(crate) async fn reset(
    State(state): State<NeutronState>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    admin_only(&caller, "delete_quota")?;
    if let Some(id) = read(state.backend.as_ref(), |model| {
        find_project(model, &project, None)
    }) {
        set(&state, id, BTreeMap::new()).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set(
    state: &NeutronState,
    project: Uuid,
    quotas: BTreeMap<String, i64>,
) -> Result<(), NeutronError> {
    let command = Command::UpdateProject(
        Ref::Id(project),
        UpdateProject {
            quotas: Some(quotas),
            ..UpdateProject::default()
        },
    );
    state
        .backend
        .submit(command)
        .await
        .map(|_| ())
        .map_err(|e| NeutronError::from_submit(e, Resource::Network))
}
