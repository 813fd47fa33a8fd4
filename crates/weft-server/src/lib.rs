//! `weft server`: the native API over the intent model, on a durable store.
//!
//! Requests that change something become model commands and go through the
//! single [`writer`](writer), which commits them in groups and answers only
//! once they are durable. Reads are served from a copy of the model that
//! holds committed changes only. The router and the OpenAPI document are
//! both built from `weft-api`'s resource list.
//!
//! Start reading at [`Server`], then `writer.rs`, then `http.rs`.

pub mod codec;
pub mod control;
mod error;
pub mod extract;
mod http;
mod kube;
mod neutron;
pub mod openapi;
pub mod pod;
mod watch;
pub mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use weft_control::server::{ControlNode, ControlSettings};
use weft_store::{SqliteOptions, SqliteStore, Store, StoreError};

pub use error::ApiError;
pub use http::AppState;
pub use pod::{DefaultPodNetworks, PodNetworkError, PodNetworks, PodPlacement};

/// Where the server keeps its state and listens.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Directory of the embedded store (`weft.db` inside it).
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create the data directory {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the store")]
    Store(#[from] StoreError),
    #[error("cannot load the model from the store")]
    Load(#[from] writer::LoadError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
    #[error("the control node failed")]
    Control(#[from] weft_control::server::ControlError),
    #[error("cannot start kube-manager")]
    Kube(#[from] weft_kube::KubeManagerError),
}

/// A server with its store open and its socket bound, ready to serve.
#[derive(Debug)]
pub struct Server {
    state: AppState,
    listener: TcpListener,
    closing: tokio::sync::watch::Sender<bool>,
    control: Option<(TcpListener, ControlSettings)>,
    neutron: Option<(TcpListener, weft_neutron::Auth)>,
    kube: Option<weft_kube::KubeManager>,
}

/// Where the Neutron API listens and how it authenticates.
#[derive(Clone, Debug)]
pub struct NeutronConfig {
    /// Neutron's usual address is 127.0.0.1:9696 ([`weft_neutron::DEFAULT_LISTEN`]).
    pub listen: SocketAddr,
    pub auth: weft_neutron::Auth,
}

/// The control node's listener and credentials.
#[derive(Clone, Debug)]
pub struct ControlConfig {
    /// Where agents connect (gRPC).
    pub listen: SocketAddr,
    /// The cluster token agents must present.
    pub token: String,
    /// How long a lost agent's routes stay advertised.
    pub grace: std::time::Duration,
}

/// The Neutron API over `store`, in process: no socket and no other API.
/// For driving the API without a network (its fuzz target) or embedding
/// it in another server. Must be called inside a tokio runtime.
pub fn neutron_router(
    store: Arc<dyn Store>,
    auth: weft_neutron::Auth,
) -> Result<axum::Router, ServerError> {
    let (writer, view) = writer::Writer::start(store)?;
    let backend = neutron::ModelBackend { writer, view };
    Ok(weft_neutron::router(Arc::new(backend), auth))
}

impl Server {
    /// Opens the store in `config.data_dir`, loads the model and binds the socket.
    pub async fn bind(config: &ServerConfig) -> Result<Server, ServerError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let path = config.data_dir.join("weft.db");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, SqliteOptions::default())?);
        Self::with_store(store, config.listen).await
    }

    /// A server over any store (tests use the in-memory one).
    pub async fn with_store(
        store: Arc<dyn Store>,
        listen: SocketAddr,
    ) -> Result<Server, ServerError> {
        let (writer, view) = writer::Writer::start(store.clone())?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: listen,
                source,
            })?;
        let (closing, closing_rx) = tokio::sync::watch::channel(false);
        Ok(Server {
            state: AppState {
                writer,
                view,
                store,
                closing: closing_rx,
                pods: Arc::new(pod::DefaultPodNetworks),
            },
            listener,
            closing,
            control: None,
            neutron: None,
            kube: None,
        })
    }

    /// Also serves the control node (agent sessions) on `config.listen`.
    pub async fn with_control(mut self, config: ControlConfig) -> Result<Server, ServerError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let mut settings = ControlSettings::new(config.token);
        settings.grace = config.grace;
        self.control = Some((listener, settings));
        Ok(self)
    }

    /// Decides pods' networks with `pods` (kube-manager) instead of
    /// [`DefaultPodNetworks`].
    pub fn with_pod_networks(mut self, pods: Arc<dyn PodNetworks>) -> Server {
        self.state.pods = pods;
        self
    }

    /// Also serves the OpenStack Neutron v2.0 API on `config.listen`, over
    /// the same model and writer as the native API.
    pub async fn with_neutron(mut self, config: NeutronConfig) -> Result<Server, ServerError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        self.neutron = Some((listener, config.auth));
        Ok(self)
    }

    /// Also runs kube-manager for the cluster `kubeconfig` points at: the
    /// cluster's projects, networks, pods' ports and policies are kept in
    /// the model through the same writer.
    pub async fn with_kube(
        mut self,
        kubeconfig: &std::path::Path,
        cluster: weft_kube::ClusterConfig,
    ) -> Result<Server, ServerError> {
        let backend = neutron::ModelBackend {
            writer: self.state.writer.clone(),
            view: self.state.view.clone(),
        };
        let manager =
            weft_kube::KubeManager::connect(kubeconfig, cluster, Arc::new(backend)).await?;
        // The CNI's pod ports are placed as kube-manager places pods.
        self.state.pods = Arc::new(kube::KubePodNetworks(manager.clone()));
        self.kube = Some(manager);
        Ok(self)
    }

    /// kube-manager, if it runs: it also answers where a pod goes
    /// ([`weft_kube::KubeManager::place`]).
    pub fn kube_manager(&self) -> Option<&weft_kube::KubeManager> {
        self.kube.as_ref()
    }

    /// The Neutron API's address, if it is served.
    pub fn neutron_addr(&self) -> Option<SocketAddr> {
        self.neutron
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// The control node's address, if it is served.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(ServerError::Serve)
    }

    /// Serves until `shutdown` resolves, then finishes requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let closing = self.closing;
        let closed = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|closed| *closed).await;
        };
        let control = match self.control {
            Some((listener, settings)) => {
                let source = control::ModelConfigSource::new(
                    self.state.view.clone(),
                    self.state.writer.clone(),
                );
                let node = ControlNode::new(settings, Arc::new(source))?;
                Some(node.serve(listener, closed(closing.subscribe())))
            }
            None => None,
        };
        let neutron = self.neutron.map(|(listener, auth)| {
            let backend = neutron::ModelBackend {
                writer: self.state.writer.clone(),
                view: self.state.view.clone(),
            };
            let router = weft_neutron::router(Arc::new(backend), auth);
            let serving =
                axum::serve(listener, router).with_graceful_shutdown(closed(closing.subscribe()));
            tokio::spawn(async move {
                if let Err(e) = serving.await {
                    tracing::error!(error = %e, "the Neutron API failed");
                }
            })
        });
        let kube = self.kube.map(|manager| {
            let mut closed = closing.subscribe();
            tokio::spawn(async move {
                tokio::select! {
                    () = manager.run() => {}
                    _ = closed.wait_for(|closed| *closed) => {}
                }
            })
        });
        let rest = axum::serve(self.listener, http::router(self.state))
            .with_graceful_shutdown(closed(closing.subscribe()));
        tokio::spawn(async move {
            shutdown.await;
            // Ends watch streams and agent sessions, which would otherwise
            // hold the shutdown open.
            let _ = closing.send(true);
        });
        let result = match control {
            Some(control) => {
                let (rest, control) = tokio::join!(rest.into_future(), control);
                rest.map_err(ServerError::Serve)?;
                control?;
                Ok(())
            }
            None => rest.await.map_err(ServerError::Serve),
        };
        if let Some(neutron) = neutron {
            let _ = neutron.await;
        }
        if let Some(kube) = kube {
            let _ = kube.await;
        }
        result
    }
}
