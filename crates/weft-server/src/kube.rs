//! kube-manager's way into the server: the same writer and committed model
//! the Neutron API uses ([`neutron::ModelBackend`]), so pods and VMs share
//! one model and one IPAM.

use weft_kube::{Backend, SubmitError, Submitted};
use weft_model::{Command, Model};

use crate::neutron::ModelBackend;
use crate::writer::WriteError;

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
        weft_neutron::Backend::read(self, f);
    }
}
