//! kube-manager's way into the server: the same writer and committed model
//! the Neutron API uses ([`neutron::ModelBackend`]), so pods and VMs share
//! one model and one IPAM.

use futures::future::BoxFuture;
use weft_api::PodPortRequest;
use weft_kube::watch::PlaceError;
use weft_kube::{Backend, KubeManager, SubmitError, Submitted};
use weft_model::{Command, Model};

use crate::neutron::ModelBackend;
use crate::pod::{PodNetworkError, PodNetworks, PodPlacement};
use crate::writer::WriteError;

/// Where a pod goes when kube-manager runs: its annotation, its namespace's,
/// then the cluster's default pod network, as kube-manager reads them from
/// the apiserver (the CNI ADD may come before kube-manager saw the pod).
#[derive(Clone)]
pub(crate) struct KubePodNetworks(pub(crate) KubeManager);

impl std::fmt::Debug for KubePodNetworks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubePodNetworks")
    }
}

impl PodNetworks for KubePodNetworks {
    fn place<'a>(
        &'a self,
        pod: &'a PodPortRequest,
    ) -> BoxFuture<'a, Result<PodPlacement, PodNetworkError>> {
        Box::pin(async move {
            match self.0.place(&pod.namespace, &pod.name).await {
                Ok(placement) => Ok(PodPlacement {
                    network: placement.network,
                    project: placement.project,
                }),
                Err(PlaceError::Invalid { field, message }) => {
                    Err(PodNetworkError::Invalid { field, message })
                }
                Err(PlaceError::Unavailable(why)) => Err(PodNetworkError::Unavailable(why)),
            }
        })
    }
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
        weft_neutron::Backend::read(self, f);
    }
}
