//! weft's intent model: the one network model shared by OpenStack and
//! Kubernetes, its validation, and the one IPAM.
//!
//! This is pure logic: no I/O, no clocks, no randomness — time and fresh
//! identifiers come in through [`Ctx`]. A [`Command`] is planned against the
//! current [`Model`] (every rule is checked, nothing changes), which yields an
//! [`Outcome`]: the object concerned and the [`Change`]s to persist. The
//! changes are then applied; the same apply rebuilds a model from a store.
//!
//! Where to start reading: [`objects`] for what exists, [`request`] for what
//! can be asked, [`model`] for how state and allocators are kept, [`ipam`] for
//! the address allocator.

pub mod backend;
pub mod compile;
pub mod error;
mod infra;
pub mod ipam;
mod loadbalancer;
pub mod model;
mod network;
pub mod objects;
mod port;
mod project;
mod rbac;
pub mod request;
mod router;
mod security;
mod validate;

pub use error::{ApplyError, ErrorClass, ModelError};
pub use ipam::{IpamError, SubnetAllocator};
pub use model::{Ctx, Entropy, Model, Outcome};
pub use objects::*;
pub use project::DEFAULT_GROUP;
pub use request::*;
pub use security::protocol_number;
