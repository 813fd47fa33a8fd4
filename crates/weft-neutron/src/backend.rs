//! The Neutron API's way into the server: the model's [`Backend`], shared
//! with kube-manager, so the Neutron and native APIs go through one writer
//! and one IPAM.

pub(crate) use weft_model::backend::read;
pub use weft_model::backend::{Backend, SubmitError, Submitted};
