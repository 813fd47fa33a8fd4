//! kube-manager's way into the server: the same [`weft_model::backend::Backend`]
//! the Neutron API uses ([`crate::neutron::ModelBackend`]), so pods and VMs
//! share one model and one IPAM.

use futures::future::BoxFuture;
use weft_api::PodPortRequest;
use weft_kube::KubeManager;
use weft_kube::watch::PlaceError;

use crate::pod::{PodNetworkError, PodNetworks, PodPlacement};

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
