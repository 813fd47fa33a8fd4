//! What the API front ends (the Neutron API, kube-manager) need from the
//! server: submit commands through its single writer, so every front end
//! shares one model and one IPAM, and read the committed model. The server
//! implements it over its writer; unit tests over an in-memory [`Model`].

use std::future::Future;
use std::pin::Pin;

use crate::{Command, Model, ModelError, Object};

/// Why a submitted command produced no object.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Refused(#[from] ModelError),
    /// The writer or the store failed; nothing was written.
    #[error("{0}")]
    Unavailable(String),
}

/// A submitted command's answer, once durable.
pub type Submitted = Pin<Box<dyn Future<Output = Result<Object, SubmitError>> + Send>>;

/// The model a front end works on.
pub trait Backend: Send + Sync + 'static {
    /// Submits a command; resolves once it is committed (or refused). A
    /// committed write is visible to [`Backend::read`] when this resolves.
    fn submit(&self, command: Command) -> Submitted;

    /// Runs `f` on the committed model.
    fn read(&self, f: &mut dyn FnMut(&Model));
}

/// Runs `f` on the committed model and returns its result.
pub fn read<T>(backend: &dyn Backend, f: impl FnOnce(&Model) -> T) -> T {
    let mut f = Some(f);
    let mut out = None;
    backend.read(&mut |model| {
        if let Some(f) = f.take() {
            out = Some(f(model));
        }
    });
    match out {
        Some(out) => out,
        // A backend that does not call back is a bug in the server.
        None => panic!("Backend::read did not run its closure"),
    }
}
