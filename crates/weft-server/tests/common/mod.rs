//! An in-process server on a free loopback port.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use weft_api::client::Client;
use weft_server::Server;
use weft_store::Store;

pub(crate) struct Running {
    pub(crate) client: Client,
    pub(crate) url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    pub(crate) async fn start(store: Arc<dyn Store>) -> Running {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let server = Server::with_store(store, any).await.unwrap();
        let url = format!("http://{}", server.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Running {
            client: Client::new(&url).unwrap(),
            url,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops serving and waits for requests in flight.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}
