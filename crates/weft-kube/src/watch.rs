//! The driver: list then watch Namespaces, Pods, NetworkPolicies, Services
//! and Endpoints, keep a [`Snapshot`], and reconcile the model after every
//! burst of events.
//!
//! Restart (of the server or of kube-manager alone) is a fresh list: until
//! every kind is listed nothing is removed; then ports whose pod is gone
//! and load balancers whose Service is gone are deleted and everything
//! else is kept as it is, so no pod's address and no ClusterIP changes. A
//! watch that breaks is re-listed the same way (the watcher's
//! `Init`…`InitDone`, replacing that kind wholesale).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::{FutureExt, StreamExt, stream};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Config};
use uuid::Uuid;

use crate::annotation::{Placement, place};
use crate::backend::Backend;
use crate::cluster::{Endpoints, Namespace, Pod, Policy, Service, Snapshot};
use crate::convert;
use crate::names::ClusterConfig;
use crate::sync::Reconciler;

#[derive(Debug, thiserror::Error)]
pub enum KubeManagerError {
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("cluster configuration: {0}")]
    Cluster(String),
    #[error("Kubernetes client: {0}")]
    Client(#[from] kube::Error),
}

/// Why a pod cannot be placed now.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// The pod or its namespace asks for something unusable (bad annotation).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The apiserver cannot be asked, or does not know the pod.
    #[error("{0}")]
    Unavailable(String),
}

/// Which kinds have been listed in full.
#[derive(Default)]
struct State {
    snapshot: Snapshot,
    listed: BTreeSet<Kind>,
    /// Objects of a kind being re-listed, replacing the kind at `InitDone`.
    namespaces: Option<BTreeMap<String, Namespace>>,
    pods: Option<BTreeMap<Uuid, Pod>>,
    policies: Option<BTreeMap<(String, String), Policy>>,
    services: Option<BTreeMap<(String, String), Service>>,
    endpoints: Option<BTreeMap<(String, String), Endpoints>>,
    /// Problems already logged, so a problem is said once, not each pass.
    reported: BTreeSet<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Namespace,
    Pod,
    Policy,
    Service,
    Endpoints,
}

impl Kind {
    /// How many kinds are watched: all must be listed before removals.
    const COUNT: usize = 5;
}

enum Ev {
    Ns(watcher::Event<core::Namespace>),
    Pod(Box<watcher::Event<core::Pod>>),
    Policy(watcher::Event<net::NetworkPolicy>),
    Service(Box<watcher::Event<core::Service>>),
    Endpoints(watcher::Event<core::Endpoints>),
    Broken(Kind, watcher::Error),
}

/// kube-manager for one cluster.
#[derive(Clone)]
pub struct KubeManager {
    client: Client,
    reconciler: Reconciler,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for KubeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeManager")
            .field("cluster", &self.reconciler.cluster.name)
            .finish_non_exhaustive()
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    match state.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl KubeManager {
    /// A client from a kubeconfig file (its current context).
    pub async fn connect(
        kubeconfig: &Path,
        cluster: ClusterConfig,
        backend: Arc<dyn Backend>,
    ) -> Result<KubeManager, KubeManagerError> {
        let bad = |message: String| KubeManagerError::Kubeconfig {
            path: kubeconfig.display().to_string(),
            message,
        };
        let file = Kubeconfig::read_from(kubeconfig).map_err(|e| bad(e.to_string()))?;
        let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
            .await
            .map_err(|e| bad(e.to_string()))?;
        let client = Client::try_from(config)?;
        KubeManager::new(client, cluster, backend)
    }

    pub fn new(
        client: Client,
        cluster: ClusterConfig,
        backend: Arc<dyn Backend>,
    ) -> Result<KubeManager, KubeManagerError> {
        cluster.check().map_err(KubeManagerError::Cluster)?;
        Ok(KubeManager {
            client,
            reconciler: Reconciler { cluster, backend },
            state: Arc::new(Mutex::new(State::default())),
        })
    }

    pub fn cluster(&self) -> &ClusterConfig {
        &self.reconciler.cluster
    }

    /// Makes the cluster's own objects, then lists and watches until the
    /// future is dropped.
    pub async fn run(&self) {
        self.reconcile().await;
        let cfg = watcher::Config::default();
        let namespaces = watcher(
            Api::<core::Namespace>::all(self.client.clone()),
            cfg.clone(),
        )
        .default_backoff()
        .map(|e| e.map_or_else(|e| Ev::Broken(Kind::Namespace, e), Ev::Ns));
        let pods = watcher(Api::<core::Pod>::all(self.client.clone()), cfg.clone())
            .default_backoff()
            .map(|e| e.map_or_else(|e| Ev::Broken(Kind::Pod, e), |e| Ev::Pod(Box::new(e))));
        let policies = watcher(
            Api::<net::NetworkPolicy>::all(self.client.clone()),
            cfg.clone(),
        )
        .default_backoff()
        .map(|e| e.map_or_else(|e| Ev::Broken(Kind::Policy, e), Ev::Policy));
        let services = watcher(Api::<core::Service>::all(self.client.clone()), cfg.clone())
            .default_backoff()
            .map(|e| {
                e.map_or_else(
                    |e| Ev::Broken(Kind::Service, e),
                    |e| Ev::Service(Box::new(e)),
                )
            });
        let endpoints = watcher(Api::<core::Endpoints>::all(self.client.clone()), cfg)
            .default_backoff()
            .map(|e| e.map_or_else(|e| Ev::Broken(Kind::Endpoints, e), Ev::Endpoints));
        let mut events = stream::select_all([
            namespaces.boxed(),
            pods.boxed(),
            policies.boxed(),
            services.boxed(),
            endpoints.boxed(),
        ]);
        while let Some(first) = events.next().await {
            let mut changed = self.handle(first);
            // Take the whole burst before reconciling once.
            while let Some(Some(more)) = events.next().now_or_never() {
                changed |= self.handle(more);
            }
            if changed {
                self.reconcile().await;
            }
        }
    }

    /// Reconciles the model with what is known now.
    pub async fn reconcile(&self) {
        let (snapshot, synced) = {
            let state = lock(&self.state);
            (state.snapshot.clone(), state.listed.len() == Kind::COUNT)
        };
        let outcome = self.reconciler.reconcile(&snapshot, synced).await;
        let mut state = lock(&self.state);
        let now: BTreeSet<String> = outcome
            .problems
            .iter()
            .chain(outcome.failed.iter())
            .cloned()
            .collect();
        for problem in now.difference(&state.reported) {
            tracing::warn!(cluster = %self.reconciler.cluster.name, "{problem}");
        }
        state.reported = now;
        if outcome.applied > 0 {
            tracing::info!(
                cluster = %self.reconciler.cluster.name,
                changes = outcome.applied,
                synced,
                "model reconciled with the cluster"
            );
        }
    }

    fn handle(&self, ev: Ev) -> bool {
        let mut state = lock(&self.state);
        let state = &mut *state;
        match ev {
            Ev::Broken(kind, e) => {
                tracing::warn!(?kind, "watch of the apiserver broke, retrying: {e}");
                false
            }
            Ev::Ns(e) => {
                let key = |ns: &Namespace| ns.name.clone();
                apply_event(
                    e,
                    |o| convert::namespace(&o).ok_or_else(|| "namespace without a name".into()),
                    key,
                    &mut state.snapshot.namespaces,
                    &mut state.namespaces,
                    &mut state.listed,
                    Kind::Namespace,
                )
            }
            Ev::Pod(e) => apply_event(
                *e,
                |o| convert::pod(&o),
                |p: &Pod| p.uid,
                &mut state.snapshot.pods,
                &mut state.pods,
                &mut state.listed,
                Kind::Pod,
            ),
            Ev::Policy(e) => apply_event(
                e,
                |o| {
                    let (policy, warnings) = convert::policy(&o);
                    for w in warnings {
                        tracing::warn!("{w}");
                    }
                    Ok(policy)
                },
                |p: &Policy| (p.namespace.clone(), p.name.clone()),
                &mut state.snapshot.policies,
                &mut state.policies,
                &mut state.listed,
                Kind::Policy,
            ),
            Ev::Service(e) => apply_event(
                *e,
                |o| convert::service(&o),
                |s: &Service| (s.namespace.clone(), s.name.clone()),
                &mut state.snapshot.services,
                &mut state.services,
                &mut state.listed,
                Kind::Service,
            ),
            Ev::Endpoints(e) => apply_event(
                e,
                |o| convert::endpoints(&o),
                |e: &Endpoints| (e.namespace.clone(), e.name.clone()),
                &mut state.snapshot.endpoints,
                &mut state.endpoints,
                &mut state.listed,
                Kind::Endpoints,
            ),
        }
    }

    /// Where pod `namespace/name` goes: from what is known, else asked of
    /// the apiserver (a CNI ADD can arrive before the pod's watch event).
    pub async fn place(&self, namespace: &str, name: &str) -> Result<Placement, PlaceError> {
        let known = {
            let state = lock(&self.state);
            let pod = state
                .snapshot
                .pods_in(namespace)
                .find(|p| p.name == name)
                .map(|p| p.annotations.clone());
            let ns = state
                .snapshot
                .namespaces
                .get(namespace)
                .map(|n| n.annotations.clone());
            pod.zip(ns)
        };
        let (pod_annotations, ns_annotations) = match known {
            Some(k) => k,
            None => {
                let unavailable = |what: String, e: kube::Error| {
                    PlaceError::Unavailable(format!("cannot read {what} from the apiserver: {e}"))
                };
                let pod = Api::<core::Pod>::namespaced(self.client.clone(), namespace)
                    .get(name)
                    .await
                    .map_err(|e| unavailable(format!("pod {namespace}/{name}"), e))?;
                let ns = Api::<core::Namespace>::all(self.client.clone())
                    .get(namespace)
                    .await
                    .map_err(|e| unavailable(format!("namespace {namespace}"), e))?;
                (
                    pod.metadata.annotations.unwrap_or_default(),
                    ns.metadata.annotations.unwrap_or_default(),
                )
            }
        };
        place(
            &self.reconciler.cluster,
            namespace,
            name,
            &pod_annotations,
            &ns_annotations,
        )
        .map_err(|e| PlaceError::Invalid {
            field: "annotations".into(),
            message: e.to_string(),
        })
    }
}

/// Folds one watch event into the snapshot; true when something changed.
fn apply_event<O, T: Clone + PartialEq, K: Ord + Clone>(
    event: watcher::Event<O>,
    convert: impl Fn(O) -> Result<T, String>,
    key: impl Fn(&T) -> K,
    live: &mut BTreeMap<K, T>,
    buffer: &mut Option<BTreeMap<K, T>>,
    listed: &mut BTreeSet<Kind>,
    kind: Kind,
) -> bool {
    let read = |o| match convert(o) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!("{e}; ignored");
            None
        }
    };
    match event {
        watcher::Event::Init => {
            *buffer = Some(BTreeMap::new());
            false
        }
        watcher::Event::InitApply(o) => {
            if let (Some(t), Some(buffer)) = (read(o), buffer.as_mut()) {
                buffer.insert(key(&t), t);
            }
            false
        }
        watcher::Event::InitDone => {
            if let Some(fresh) = buffer.take() {
                *live = fresh;
            }
            listed.insert(kind);
            true
        }
        watcher::Event::Apply(o) => match read(o) {
            Some(t) => live.insert(key(&t), t.clone()).as_ref() != Some(&t),
            None => false,
        },
        watcher::Event::Delete(o) => match read(o) {
            Some(t) => live.remove(&key(&t)).is_some(),
            None => false,
        },
    }
}
