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
mod error;
pub mod extract;
mod http;
pub mod openapi;
mod watch;
pub mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use weft_store::{SqliteOptions, SqliteStore, Store, StoreError};

pub use error::ApiError;
pub use http::AppState;

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
}

/// A server with its store open and its socket bound, ready to serve.
#[derive(Debug)]
pub struct Server {
    state: AppState,
    listener: TcpListener,
    closing: tokio::sync::watch::Sender<bool>,
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
            },
            listener,
            closing,
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(ServerError::Serve)
    }

    /// Serves until `shutdown` resolves, then finishes requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let app = http::router(self.state);
        let closing = self.closing;
        let shutdown = async move {
            shutdown.await;
            // Ends watch streams, which would otherwise hold the shutdown open.
            let _ = closing.send(true);
        };
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServerError::Serve)
    }
}
