//! kube-manager: Kubernetes namespaces, pods, network policies and Services
//! mapped onto weft's model, through the server's single writer like the Neutron
//! API (DESIGN.md §3.7).
//!
//! * Cluster `k8s` (by default) gets project `default-domain:k8s-default`
//!   with the default pod network (10.32.0.0/12) and the service network
//!   (10.96.0.0/12, no gateway or DNS address: every address may be a
//!   ClusterIP), made at start if missing ([`names`]).
//! * Namespace `ns` → project `default-domain:k8s-ns` whose `default` group
//!   admits all traffic (Kubernetes' default-allow); removed with the
//!   namespace once it holds nothing.
//! * Pod → the port whose UUID is the pod's UID (the CNI ADD finds or makes
//!   the same port), on the network its annotation, its namespace's
//!   annotation, or the cluster default names ([`annotation`]).
//! * NetworkPolicy → security groups ([`policy`]).
//! * Service (with a ClusterIP) → a port of the service network holding
//!   the ClusterIP and a load balancer on it whose backends are the ready
//!   addresses of the Service's Endpoints ([`service`]): the vRouters do
//!   what kube-proxy would.
//!
//! Layout: [`cluster`] holds the reduced view of Kubernetes objects,
//! [`convert`] fills it from the apiserver's types, [`reconcile`] plans
//! model commands from it (pure), [`sync`] submits them through a
//! [`backend::Backend`], and [`watch`] drives it all from list+watch.

pub mod annotation;
pub mod backend;
pub mod cluster;
pub mod convert;
pub mod names;
pub mod policy;
pub mod reconcile;
pub mod service;
pub mod sync;
pub mod watch;

#[cfg(test)]
mod testing;

pub use annotation::{Placement, PlacementError, PlacementSource};
pub use backend::{Backend, SubmitError, Submitted};
pub use names::ClusterConfig;
pub use watch::{KubeManager, KubeManagerError};
