//! The tag API of Neutron's `standard-attr-tag` extension, for networks,
//! subnets, ports and security groups:
//!
//! | request | answer |
//! |---|---|
//! | `GET …/{id}/tags` | 200 `{"tags": […]}` |
//! | `GET …/{id}/tags/{tag}` | 204, or 404 `TagNotFound` |
//! | `PUT …/{id}/tags` `{"tags": […]}` | 200 `{"tags": […]}`, replacing all |
//! | `PUT …/{id}/tags/{tag}` | 201, adding one |
//! | `DELETE …/{id}/tags` | 204, removing all |
//! | `DELETE …/{id}/tags/{tag}` | 204, or 404 `TagNotFound` |
//!
//! Tags live in the model's objects, so a tag set here is what weft's own
//! API and list filters (`tags`, `tags-any`, `not-tags`, `not-tags-any`) see.

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;
use weft_model::{
    Command, Object, Ref, UpdateNetwork, UpdatePort, UpdateRouter, UpdateSecurityGroup,
    UpdateSubnet,
};

use crate::api::NeutronState;
use crate::backend::read;
use crate::convert::{owner, visible};
use crate::error::{NeutronError, Resource};

/// The resources that carry tags.
pub(crate) const TAGGED: [Resource; 5] = [
    Resource::Network,
    Resource::Subnet,
    Resource::Port,
    Resource::SecurityGroup,
    Resource::Router,
];

/// What a tag request does.
#[derive(Debug, Clone)]
pub(crate) enum TagOp {
    List,
    Check(String),
    Replace(Bytes),
    Add(String),
    ClearAll,
    Remove(String),
}

fn not_found(resource: Resource, id: Uuid, tag: &str) -> NeutronError {
    NeutronError::new(
        StatusCode::NOT_FOUND,
        "TagNotFound",
        format!(
            "Tag {tag} could not be found for {} {id}.",
            resource.singular()
        ),
    )
}

fn tags_of(object: &Object) -> Vec<String> {
    match object {
        Object::VirtualNetwork(n) => n.meta.tags.clone(),
        Object::Subnet(s) => s.meta.tags.clone(),
        Object::Port(p) => p.meta.tags.clone(),
        Object::SecurityGroup(g) => g.meta.tags.clone(),
        Object::Router(r) => r.meta.tags.clone(),
        _ => Vec::new(),
    }
}

fn set_tags(resource: Resource, id: Uuid, tags: Vec<String>) -> Command {
    let r = Ref::Id(id);
    let tags = Some(tags);
    match resource {
        Resource::Network => Command::UpdateNetwork(
            r,
            UpdateNetwork {
                tags,
                ..UpdateNetwork::default()
            },
        ),
        Resource::Subnet => Command::UpdateSubnet(
            r,
            UpdateSubnet {
                tags,
                ..UpdateSubnet::default()
            },
        ),
        Resource::Port => Command::UpdatePort(
            r,
            UpdatePort {
                tags,
                ..UpdatePort::default()
            },
        ),
        Resource::Router => Command::UpdateRouter(
            r,
            UpdateRouter {
                tags,
                ..UpdateRouter::default()
            },
        ),
        _ => Command::UpdateSecurityGroup(
            r,
            UpdateSecurityGroup {
                tags,
                ..UpdateSecurityGroup::default()
            },
        ),
    }
}

/// Tags as Neutron takes them: strings, each at most once (in the order
/// first given).
fn tag_list(body: &Bytes) -> Result<Vec<String>, NeutronError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| NeutronError::bad_request(format!("Malformed request body: {e}")))?;
    let Some(Value::Array(items)) = value.get("tags") else {
        return Err(NeutronError::bad_request(
            "Invalid input for tags: the body must be {\"tags\": [...]}",
        ));
    };
    let mut tags: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(tag) = item else {
            return Err(NeutronError::invalid(format!(
                "'{item}' is not a valid tag"
            )));
        };
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    Ok(tags)
}

pub(crate) async fn handle(
    resource: Resource,
    state: NeutronState,
    headers: HeaderMap,
    id: String,
    op: TagOp,
) -> Result<Response, NeutronError> {
    let caller = state.caller(&headers).await?;
    let id = Uuid::try_parse(&id).map_err(|_| NeutronError::not_found(resource, &id))?;
    let (current, owned) = read(state.backend.as_ref(), |model| {
        let object = visible(model, &caller, resource, id)?;
        let (project, _) = owner(model, &object).unwrap_or((caller.project, false));
        Ok::<_, NeutronError>((
            tags_of(&object),
            project == caller.project || caller.is_admin,
        ))
    })?;
    let writes = !matches!(op, TagOp::List | TagOp::Check(_));
    if writes && !owned {
        return Err(NeutronError::policy(&format!(
            "update_{}:tags",
            resource.singular()
        )));
    }
    let answer = match &op {
        TagOp::Replace(_) => StatusCode::OK,
        TagOp::Add(_) => StatusCode::CREATED,
        _ => StatusCode::NO_CONTENT,
    };
    let new = match op {
        TagOp::List => return Ok(Json(json!({"tags": current})).into_response()),
        TagOp::Check(tag) => {
            return if current.contains(&tag) {
                Ok(StatusCode::NO_CONTENT.into_response())
            } else {
                Err(not_found(resource, id, &tag))
            };
        }
        TagOp::Replace(body) => tag_list(&body)?,
        TagOp::Add(tag) => {
            if current.contains(&tag) {
                return Ok(StatusCode::CREATED.into_response());
            }
            let mut tags = current;
            tags.push(tag);
            tags
        }
        TagOp::ClearAll => Vec::new(),
        TagOp::Remove(tag) => {
            if !current.contains(&tag) {
                return Err(not_found(resource, id, &tag));
            }
            current.into_iter().filter(|t| *t != tag).collect()
        }
    };
    let object = state
        .backend
        .submit(set_tags(resource, id, new))
        .await
        .map_err(|e| NeutronError::from_submit(e, resource))?;
    Ok(if answer == StatusCode::OK {
        Json(json!({"tags": tags_of(&object)})).into_response()
    } else {
        answer.into_response()
    })
}
