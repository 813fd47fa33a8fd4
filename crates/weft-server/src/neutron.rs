//! The Neutron API's way into the server: commands through the single
//! writer, reads from the committed model — the same path `/v1` takes.

use std::sync::{Arc, RwLock};

use weft_model::{Command, Model};
use weft_neutron::{Backend, SubmitError, Submitted};

use crate::writer::{View, WriteError, Writer};

/// The server's model, as the Neutron API sees it.
#[derive(Debug, Clone)]
pub(crate) struct ModelBackend {
    pub(crate) writer: Writer,
    pub(crate) view: Arc<RwLock<View>>,
}

impl Backend for ModelBackend {
    fn submit(&self, command: Command) -> Submitted {
        let writer = self.writer.clone();
        Box::pin(async move {
            match writer.submit(command).await {
                Ok(done) => Ok(done.object),
                Err(WriteError::Refused(e)) => Err(SubmitError::Refused(e)),
                Err(other) => Err(SubmitError::Unavailable(other.to_string())),
            }
        })
    }

    fn read(&self, f: &mut dyn FnMut(&Model)) {
        View::read(&self.view, |view| f(&view.model));
    }
}
