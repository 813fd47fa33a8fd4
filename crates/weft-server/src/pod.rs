//! Pods' ports: `POST /v1/pod-ports` gets or creates the port of one pod.
//!
//! Where a pod goes (its network and project) is not decided here but by a
//! [`PodNetworks`] given to the server: kube-manager answers from the
//! apiserver (pod annotation, namespace annotation, cluster default);
//! without it, [`DefaultPodNetworks`] puts every pod on its cluster's
//! default pod network. This module then makes sure the project exists
//! (with a `default` group that admits all traffic, Kubernetes'
//! default-allow) and creates the port with the pod's UID as its UUID, so
//! the operation is idempotent and two racing callers get one port.

use std::fmt;
use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::future::BoxFuture;
use weft_api::{PodAddress, PodPort, PodPortRequest};
use weft_model::{
    Command, CreatePort, CreateProject, CreateSecurityGroupRule, Direction, Ethertype, Kind, Model,
    ModelError, Object, Port, Ref, VifType,
};
use weft_types::FqName;

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::http::{AppState, respond};

/// `device_owner` of the ports this operation creates.
pub const POD_DEVICE_OWNER: &str = "k8s:pod";

/// Where a pod's port goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodPlacement {
    /// `domain:project:name` of the virtual network.
    pub network: FqName,
    /// `domain:project` the port belongs to (made if missing).
    pub project: FqName,
}

/// Why a pod cannot be placed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PodNetworkError {
    /// The pod (or its namespace) names something unusable.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The orchestrator that decides cannot be asked now.
    #[error("{0}")]
    Unavailable(String),
}

/// The seam through which the server learns which network and project a
/// pod belongs to. kube-manager implements it from the apiserver; the
/// server falls back to [`DefaultPodNetworks`].
pub trait PodNetworks: Send + Sync + fmt::Debug {
    fn place<'a>(
        &'a self,
        pod: &'a PodPortRequest,
    ) -> BoxFuture<'a, Result<PodPlacement, PodNetworkError>>;
}

/// Every pod on `default-domain:<cluster>-default:<cluster>-default-pod-network`,
/// its port in project `default-domain:<cluster>-<namespace>`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultPodNetworks;

impl DefaultPodNetworks {
    /// The cluster's default pod network.
    pub fn network_of(cluster: &str) -> String {
        format!("default-domain:{cluster}-default:{cluster}-default-pod-network")
    }

    /// The project of a namespace.
    pub fn project_of(cluster: &str, namespace: &str) -> String {
        format!("default-domain:{cluster}-{namespace}")
    }

    fn placement(pod: &PodPortRequest) -> Result<PodPlacement, PodNetworkError> {
        let parse = |field: &str, text: String| {
            text.parse::<FqName>()
                .map_err(|e| PodNetworkError::Invalid {
                    field: field.into(),
                    message: format!("'{text}' is not a usable name: {e}"),
                })
        };
        Ok(PodPlacement {
            network: parse("cluster", Self::network_of(&pod.cluster))?,
            project: parse("namespace", Self::project_of(&pod.cluster, &pod.namespace))?,
        })
    }
}

impl PodNetworks for DefaultPodNetworks {
    fn place<'a>(
        &'a self,
        pod: &'a PodPortRequest,
    ) -> BoxFuture<'a, Result<PodPlacement, PodNetworkError>> {
        Box::pin(async move { Self::placement(pod) })
    }
}

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::Body {
        field: Some(field.into()),
        message,
    }
}

fn check(req: &PodPortRequest) -> Result<(), ApiError> {
    for (field, value) in [
        ("cluster", &req.cluster),
        ("namespace", &req.namespace),
        ("name", &req.name),
        ("node", &req.node),
    ] {
        if value.is_empty() {
            return Err(invalid(field, format!("{field} must not be empty")));
        }
        if value.contains(':') {
            return Err(invalid(field, format!("{field} must not contain ':'")));
        }
    }
    Ok(())
}

/// What the pod needs to know about its port's addresses.
fn addresses(model: &Model, port: &Port) -> Vec<PodAddress> {
    port.fixed_ips
        .iter()
        .filter_map(|ip| {
            let subnet = model.subnets().find(|s| s.meta.id == ip.subnet_id)?;
            Some(PodAddress {
                address: format!("{}/{}", ip.ip_address, subnet.cidr.prefix_len()),
                gateway: subnet.gateway_ip.map(|g| g.to_string()),
                dns_server: subnet.dns_service_ip.map(|d: IpAddr| d.to_string()),
                subnet_id: subnet.meta.id,
            })
        })
        .collect()
}

fn describe(model: &Model, port: Port, created: bool) -> PodPort {
    let network = model.networks().find(|n| n.meta.id == port.network_id);
    let mtu = network.and_then(|n| n.mtu.map(|_| model.network_mtu(n)));
    let network = network.map(|n| n.fq_name.to_string()).unwrap_or_default();
    let project = model
        .projects()
        .find(|p| p.meta.id == port.project_id)
        .map(|p| p.fq_name.to_string())
        .unwrap_or_default();
    PodPort {
        addresses: addresses(model, &port),
        network,
        project,
        port,
        mtu,
        created,
    }
}

fn existing(state: &AppState, req: &PodPortRequest) -> Result<Option<(PodPort, u64)>, ApiError> {
    state.read(|model, revision| match model.get(Kind::Port, req.uid) {
        Some(Object::Port(port)) => {
            if port.binding_host_id.as_deref() != Some(req.node.as_str()) {
                return Err(ApiError::Model(ModelError::Conflict {
                    field: "node".into(),
                    reason: format!(
                        "the port of pod {}/{} is bound to node {:?}, not {}",
                        req.namespace, req.name, port.binding_host_id, req.node
                    ),
                }));
            }
            Ok(Some((describe(model, port, false), revision)))
        }
        _ => Ok(None),
    })
}

/// Submits `command`, treating "already exists" (an identical rule: a
/// conflict) as done: a racing caller made the same object.
async fn ensure(state: &AppState, command: Command) -> Result<(), ApiError> {
    match state.writer.submit(command).await.map_err(ApiError::from) {
        Ok(_)
        | Err(ApiError::Model(ModelError::AlreadyExists { .. } | ModelError::Conflict { .. })) => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Makes the project if missing, and makes its `default` group admit all
/// ingress (egress is open already).
async fn ensure_project(state: &AppState, project: &FqName) -> Result<(), ApiError> {
    let found = state.read(|model, _| model.projects().any(|p| &p.fq_name == project));
    if !found {
        ensure(
            state,
            Command::CreateProject(CreateProject {
                fq_name: project.clone(),
                id: None,
                description: "Kubernetes namespace".into(),
                tags: vec!["k8s".into()],
                external_id: None,
            }),
        )
        .await?;
    }
    let group = project
        .child(weft_model::DEFAULT_GROUP)
        .map_err(|e| invalid("namespace", e.to_string()))?;
    for (ethertype, any) in [(Ethertype::IPv4, "0.0.0.0/0"), (Ethertype::IPv6, "::/0")] {
        let admitted = state.read(|model, _| {
            let Some(sg) = model.security_groups().find(|g| g.fq_name == group) else {
                return false;
            };
            model.rules_of(sg.meta.id).any(|r| {
                r.direction == Direction::Ingress
                    && r.ethertype == ethertype
                    && r.protocol.is_none()
                    && r.remote_group_id.is_none()
                    && r.remote_ip_prefix.is_some_and(|p| p.prefix_len() == 0)
            })
        });
        if !admitted {
            ensure(
                state,
                Command::CreateSecurityGroupRule(CreateSecurityGroupRule {
                    security_group: Ref::Name(group.clone()),
                    id: None,
                    direction: Direction::Ingress,
                    ethertype: Some(ethertype),
                    protocol: None,
                    port_range_min: None,
                    port_range_max: None,
                    remote_ip_prefix: Some(any.into()),
                    remote_group: None,
                    description: "Kubernetes default-allow".into(),
                }),
            )
            .await?;
        }
    }
    Ok(())
}

/// Gets or creates the port of a pod.
pub(crate) async fn pod_port(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PodPortRequest>,
) -> Result<Response, ApiError> {
    check(&req)?;
    if let Some((found, revision)) = existing(&state, &req)? {
        return Ok(respond(StatusCode::OK, revision, &found));
    }
    let placement = state.pods.place(&req).await.map_err(|e| match e {
        PodNetworkError::Invalid { field, message } => invalid(&field, message),
        PodNetworkError::Unavailable(m) => ApiError::Unavailable(m),
    })?;
    let network_known =
        state.read(|model, _| model.networks().any(|n| n.fq_name == placement.network));
    if !network_known {
        return Err(ApiError::Model(ModelError::NotFound {
            field: "network".into(),
            kind: Kind::VirtualNetwork,
            key: format!(
                "{} (the pod network of {}/{} in cluster {}; create it first)",
                placement.network, req.namespace, req.name, req.cluster
            ),
        }));
    }
    ensure_project(&state, &placement.project).await?;
    let create = Command::CreatePort(CreatePort {
        network: Ref::Name(placement.network.clone()),
        project: Some(Ref::Name(placement.project.clone())),
        id: Some(req.uid),
        name: format!("{}__{}", req.namespace, req.name),
        mac_address: None,
        fixed_ips: None,
        security_groups: None,
        allowed_address_pairs: Vec::new(),
        port_security_enabled: None,
        admin_state_up: None,
        binding_host_id: Some(req.node.clone()),
        vif_type: Some(VifType::Veth),
        vnic_type: None,
        binding_profile: None,
        device_owner: POD_DEVICE_OWNER.into(),
        device_id: req.uid.to_string(),
        description: format!(
            "pod {}/{} of cluster {}",
            req.namespace, req.name, req.cluster
        ),
        tags: vec!["k8s".into()],
    });
    match state.writer.submit(create).await.map_err(ApiError::from) {
        Ok(done) => {
            let Object::Port(port) = done.object else {
                return Err(ApiError::Unavailable(
                    "the model returned another kind than port".into(),
                ));
            };
            let body = state.read(|model, _| describe(model, port, true));
            Ok(respond(StatusCode::CREATED, done.revision, &body))
        }
        // Another caller made it in the meantime.
        Err(ApiError::Model(ModelError::AlreadyExists { .. })) => match existing(&state, &req)? {
            Some((found, revision)) => Ok(respond(StatusCode::OK, revision, &found)),
            None => Err(ApiError::Unavailable(format!(
                "the port of pod {}/{} was made and removed at once; retry",
                req.namespace, req.name
            ))),
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_placement_follows_the_cluster_and_namespace() {
        let pod = PodPortRequest {
            cluster: "k8s".into(),
            namespace: "seamless".into(),
            name: "cont".into(),
            uid: uuid::Uuid::nil(),
            node: "k8s-worker".into(),
        };
        let placed = DefaultPodNetworks::placement(&pod).expect("placement");
        assert_eq!(
            placed.network.to_string(),
            "default-domain:k8s-default:k8s-default-pod-network"
        );
        assert_eq!(placed.project.to_string(), "default-domain:k8s-seamless");
    }
}
