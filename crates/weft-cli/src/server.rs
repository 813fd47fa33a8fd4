//! `weft server` and `weft agent`: the two long-running processes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;
use weft_neutron::{Auth, Keystone, KeystoneConfig};
use weft_server::{ControlConfig, NeutronConfig, Server, ServerConfig};

use crate::args::{AgentArgs, ServerArgs};

fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("WEFT_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Resolves on SIGTERM or SIGINT.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("shutting down");
    })
}

pub(crate) async fn run(args: ServerArgs) -> anyhow::Result<()> {
    init_logging();
    let config = ServerConfig {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
    };
    let mut server = Server::bind(&config).await.with_context(|| {
        format!(
            "cannot start with data directory {}",
            config.data_dir.display()
        )
    })?;
    if let (Some(listen), Some(token)) = (args.control_listen, args.token.clone()) {
        let control = ControlConfig {
            listen,
            token,
            grace: Duration::from_secs(args.grace_seconds),
        };
        server = server.with_control(control).await?;
        tracing::info!(%listen, "control node listening for agents");
    }
    if let Some(listen) = args.neutron_listen {
        let auth = neutron_auth(&args).await?;
        server = server.with_neutron(NeutronConfig { listen, auth }).await?;
        tracing::info!(%listen, "Neutron API listening");
    }
    if let Some(kubeconfig) = &args.kubeconfig {
        let cluster = weft_kube::ClusterConfig {
            name: args.cluster_name.clone(),
            pod_cidr: args.pod_cidr,
            service_cidr: args.service_cidr,
        };
        server = server
            .with_kube(kubeconfig, cluster)
            .await
            .with_context(|| format!("kube-manager with kubeconfig {}", kubeconfig.display()))?;
        tracing::info!(cluster = %args.cluster_name, kubeconfig = %kubeconfig.display(), "kube-manager watching the cluster");
    }
    let addr = server.local_addr()?;
    tracing::info!(%addr, store = %config.data_dir.join("weft.db").display(), "weft server listening");
    server.serve(shutdown_signal()?).await?;
    Ok(())
}

/// How the Neutron API authenticates, from the flags.
async fn neutron_auth(args: &ServerArgs) -> anyhow::Result<Auth> {
    if args.neutron_noauth {
        tracing::warn!("the Neutron API runs without authentication (--neutron-noauth)");
        return Ok(Auth::NoAuth);
    }
    let Some(url) = args.keystone_url.clone() else {
        anyhow::bail!(
            "--neutron-listen needs --keystone-url (or --neutron-noauth for development)"
        );
    };
    let password = args
        .keystone_password
        .clone()
        .context("--keystone-url needs --keystone-password (or WEFT_KEYSTONE_PASSWORD)")?;
    let keystone = Keystone::new(KeystoneConfig {
        url,
        user: args.keystone_user.clone(),
        password,
        project: args.keystone_project.clone(),
        user_domain: args.keystone_domain.clone(),
        project_domain: args.keystone_domain.clone(),
    })?;
    // Fetched now to report a misconfiguration early; it is fetched again
    // on first use if Keystone is not up yet.
    if let Err(e) = keystone.service_token(None).await {
        tracing::warn!(error = %e, "cannot get a service token from Keystone yet");
    }
    Ok(Auth::Keystone(Arc::new(keystone)))
}

pub(crate) async fn run_agent(args: AgentArgs) -> anyhow::Result<()> {
    init_logging();
    let mut config = weft_agent::AgentConfig::new(
        args.node,
        args.underlay,
        args.control,
        args.token,
        args.introspect,
        args.state_dir,
    );
    config.netns = args.netns;
    if !args.no_cni {
        let mut cni = weft_agent::cni::CniSettings::new(args.cni_socket, &config.state_dir);
        cni.api = args.api;
        cni.mtu = args.cni_mtu;
        if let Some(spool) = args.cni_spool {
            cni.spool = spool;
        }
        config.cni = Some(cni);
    }
    config.host_interface = args.host_interface;
    tracing::info!(node = %config.node, introspect = %args.introspect, "weft agent starting");
    weft_agent::Agent::run(config, shutdown_signal()?).await?;
    Ok(())
}
