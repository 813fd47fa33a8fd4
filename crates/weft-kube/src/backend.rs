//! kube-manager's way into the server: the model's [`Backend`], shared with
//! the Neutron API, so pods and VMs go through one writer and one IPAM.

pub use weft_model::backend::{Backend, SubmitError, Submitted, read};
