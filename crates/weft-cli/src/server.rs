//! `weft server`.

use anyhow::Context;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

use weft_server::{ControlConfig, Server, ServerConfig};

use crate::args::ServerArgs;

pub(crate) async fn run(args: ServerArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("WEFT_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = ServerConfig {
        data_dir: args.data_dir,
        listen: args.listen,
    };
    let mut server = Server::bind(&config).await.with_context(|| {
        format!(
            "cannot start with data directory {}",
            config.data_dir.display()
        )
    })?;
    if let (Some(listen), Some(token)) = (args.control_listen, args.token) {
        let control = ControlConfig {
            listen,
            token,
            grace: Duration::from_secs(args.grace_seconds),
        };
        server = server.with_control(control).await?;
        tracing::info!(%listen, "control node listening for agents");
    }
    let addr = server.local_addr()?;
    tracing::info!(%addr, store = %config.data_dir.join("weft.db").display(), "weft server listening");
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("shutting down");
    };
    server.serve(shutdown).await?;
    Ok(())
}
