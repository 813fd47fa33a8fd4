//! Wiring: the [`Controller`] turns control-session events into reconciler
//! plans and carries them out (engine commands, routes published, ports
//! attached); [`Agent::run`] builds the whole process around it.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use weft_control::agent::{AgentError, AgentEvent, AgentSession, AgentSettings, identity};
use weft_system::{Netns, NetnsError, UnderlayError};
use weft_vrouter::{Engine, VifId};

use crate::config::AgentConfig;
use crate::dataplane::Dataplane;
use crate::host::{HOST_VIF, HostStack};
use crate::introspect;
use crate::io::{FdPorts, FdTransmit, Ports, Underlay, VifRegistry};
use crate::labels::{LabelStore, LabelStoreError, Labels};
use crate::reconcile::{Plan, Reconciler};

/// Carries out plans: owns the reconciler and the label store, talks to the
/// session, the engine task and the port attacher.
#[derive(Debug)]
pub struct Controller<P: Ports> {
    reconciler: Reconciler,
    labels: Labels,
    store: LabelStore,
    session: Arc<AgentSession>,
    dataplane: Dataplane,
    ports: P,
    host: Option<HostStack>,
    startup: Startup,
}

/// How long after its first configuration a starting agent waits for its
/// ports' interfaces before it tells the control node its routes are
/// complete (the control node then drops the paths it did not republish).
pub const STARTUP_PUBLISH_WAIT: Duration = Duration::from_secs(10);

/// Where the agent is in publishing its local routes after it started.
#[derive(Debug)]
enum Startup {
    /// No configuration yet.
    Unconfigured,
    /// The first configuration is applied; these vifs' interfaces are
    /// still being attached.
    Attaching {
        pending: BTreeSet<VifId>,
        until: tokio::time::Instant,
    },
    /// End-of-RIB sent: every reconnect's replay ends with it.
    Complete,
}

impl<P: Ports> Controller<P> {
    pub fn new(
        reconciler: Reconciler,
        (store, labels): (LabelStore, Labels),
        session: Arc<AgentSession>,
        dataplane: Dataplane,
        ports: P,
    ) -> Self {
        Controller {
            reconciler,
            labels,
            store,
            session,
            dataplane,
            ports,
            host: None,
            startup: Startup::Unconfigured,
        }
    }

    /// Carries out the kernel side of the host interface with `host` (the
    /// reconciler must have been made [`Reconciler::with_host`]).
    pub fn with_host(mut self, host: HostStack) -> Self {
        self.host = Some(host);
        self
    }

    /// Handles one session event.
    pub async fn handle(&mut self, event: AgentEvent) {
        let plan = match event {
            AgentEvent::Config(config) => {
                tracing::debug!(generation = config.generation, "node config");
                let plan = self.reconciler.apply_config(&config, &mut self.labels);
                // Persist before the labels are used anywhere else.
                if let Err(e) = self.store.save(&self.labels) {
                    tracing::error!(error = %e, "cannot persist labels");
                }
                if matches!(self.startup, Startup::Unconfigured) {
                    let attaching: BTreeSet<VifId> = plan.attach.iter().map(|a| a.vif).collect();
                    self.execute(plan).await;
                    let pending = attaching
                        .into_iter()
                        .filter(|vif| !self.reconciler.is_plugged(*vif))
                        .collect();
                    self.startup = Startup::Attaching {
                        pending,
                        until: tokio::time::Instant::now() + STARTUP_PUBLISH_WAIT,
                    };
                    self.check_startup(false);
                    return;
                }
                plan
            }
            AgentEvent::RouteAdded(route) => self.reconciler.route_added(route),
            AgentEvent::RouteWithdrawn {
                vrf,
                prefix,
                next_hop,
            } => self.reconciler.route_withdrawn(vrf, prefix, next_hop),
            AgentEvent::Disconnected { reason } => {
                tracing::warn!(%reason, "control session lost; forwarding headless");
                return;
            }
            AgentEvent::Rejected { message } => {
                tracing::error!(%message, "control node refused the token");
                return;
            }
            AgentEvent::ServerError { message } => {
                tracing::warn!(%message, "control node error");
                return;
            }
            AgentEvent::Connected | AgentEvent::VrfSynced { .. } => return,
        };
        self.execute(plan).await;
    }

    /// Handles a port's interface being attached (`true`) or gone.
    pub async fn plugged(&mut self, vif: VifId, plugged: bool) {
        // A host tap that was (re)made has none of its kernel routes yet
        // (they may have been refused before it existed).
        if plugged
            && vif == HOST_VIF
            && let (Some(host), Some(state)) = (&mut self.host, self.reconciler.kernel_state())
        {
            for e in host.apply(&state).await {
                tracing::error!(error = %e, "node kernel change failed");
            }
        }
        let plan = self.reconciler.set_plugged(vif, plugged);
        self.execute(plan).await;
        if plugged && let Startup::Attaching { pending, .. } = &mut self.startup {
            pending.remove(&vif);
            self.check_startup(false);
        }
    }

    /// Ends the start once every port of the first configuration is
    /// plugged, or when `waited_enough`: the local routes are published, and
    /// the control node is told so (End-of-RIB).
    fn check_startup(&mut self, waited_enough: bool) {
        let Startup::Attaching { pending, .. } = &self.startup else {
            return;
        };
        if !pending.is_empty() && !waited_enough {
            return;
        }
        if !pending.is_empty() {
            tracing::info!(
                waiting = pending.len(),
                "local routes declared complete with ports still unplugged"
            );
        }
        self.startup = Startup::Complete;
        self.session.local_routes_complete();
    }

    /// When the start stops waiting for interfaces, if it still does.
    fn startup_deadline(&self) -> Option<tokio::time::Instant> {
        match &self.startup {
            Startup::Attaching { until, .. } => Some(*until),
            _ => None,
        }
    }

    async fn execute(&mut self, mut plan: Plan) {
        for problem in &plan.problems {
            tracing::warn!(%problem, "skipped");
        }
        for vif in plan.detach {
            self.ports.detach(vif);
        }
        for refused in self.dataplane.apply(plan.commands).await {
            tracing::error!(command = ?refused.command, error = %refused.error, "engine refused a command");
        }
        if let Some(host) = &mut self.host
            && !plan.kernel.is_empty()
        {
            for e in host.apply(&plan.kernel).await {
                tracing::error!(error = %e, "node kernel change failed");
            }
        }
        for attach in plan.attach {
            let vif = attach.vif;
            self.ports.attach(attach);
            if self.ports.plugged_at_once() {
                let more = self.reconciler.set_plugged(vif, true);
                plan.withdraw.extend(more.withdraw);
                plan.publish.extend(more.publish);
            }
        }
        for (vrf, prefix) in plan.withdraw {
            self.session.withdraw(vrf, prefix);
        }
        for route in plan.publish {
            self.session.publish(route);
        }
        for vrf in plan.unsubscribe {
            self.session.unsubscribe(vrf);
        }
        for vrf in plan.subscribe {
            self.session.subscribe(vrf);
        }
    }

    /// Handles session events and plug events until the session ends.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<AgentEvent>,
        mut plugs: mpsc::UnboundedReceiver<(VifId, bool)>,
    ) {
        loop {
            let deadline = self.startup_deadline();
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.handle(event).await,
                    None => return,
                },
                Some((vif, plugged)) = plugs.recv() => self.plugged(vif, plugged).await,
                () = sleep_until(deadline), if deadline.is_some() => self.check_startup(true),
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    if let Some(at) = deadline {
        tokio::time::sleep_until(at).await;
    }
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentRunError {
    #[error("cannot open the node's network namespace")]
    Netns(#[from] NetnsError),
    #[error("cannot load the label allocations")]
    Labels(#[from] LabelStoreError),
    #[error("cannot open the underlay sockets")]
    Underlay(#[from] UnderlayError),
    #[error("cannot start the control session")]
    Control(#[from] AgentError),
    #[error("cannot serve the CNI endpoint")]
    Cni(#[from] crate::cni::CniStartError),
    #[error("cannot serve introspection on {addr}")]
    Introspect {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// One `weft agent` process.
#[derive(Debug)]
pub struct Agent;

impl Agent {
    /// Runs the agent described by `config` until `shutdown` completes:
    /// opens the underlay sockets in the node's namespace, starts the engine
    /// task, the control session, the port attacher and the introspection
    /// server. Must be called inside a tokio runtime.
    pub async fn run(
        config: AgentConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentRunError> {
        let ns = match &config.netns {
            Some(name) => Netns::open(name)?,
            None => Netns::current()?,
        };
        let labels = LabelStore::open(&config.state_dir)?;
        let underlay = Underlay::open(&ns, config.underlay_ip)?;
        let registry = VifRegistry::default();
        let (dataplane, engine_task) = Dataplane::spawn(
            Engine::default(),
            FdTransmit::new(underlay.clone(), registry.clone()),
            config.poll_interval,
        );
        let readers = underlay.spawn_readers(&dataplane);
        let ident = identity(config.node.clone(), config.underlay_ip);
        let encaps = ident.encapsulations.clone();
        let settings = AgentSettings::new(config.server.clone(), config.token.clone(), ident);
        let (session, events) = AgentSession::start(settings)?;
        let session = Arc::new(session);
        let (plugs_tx, plugs) = mpsc::unbounded_channel();
        let ports = FdPorts::new(
            ns.clone(),
            registry,
            dataplane.clone(),
            session.clone(),
            config.attach_retry,
            plugs_tx,
        );
        let cni = match &config.cni {
            Some(settings) => {
                let service = crate::cni::CniService::new(
                    config.node.clone(),
                    ns,
                    config.underlay_ip,
                    &config.state_dir,
                    settings,
                )?
                .wait_for_attachment(ports.attached().subscribe(), ports.appeared());
                Arc::new(service).serve(settings).await?
            }
            None => None,
        };
        let listener = TcpListener::bind(config.introspect)
            .await
            .map_err(|source| AgentRunError::Introspect {
                addr: config.introspect,
                source,
            })?;
        let app = introspect::router(dataplane.clone());
        let http = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "introspection server failed");
            }
        });
        let mut reconciler = Reconciler::new(config.underlay_ip, encaps);
        if let Some(interface) = &config.host_interface {
            reconciler = reconciler.with_host(interface.clone());
        }
        let mut controller = Controller::new(reconciler, labels, session, dataplane, ports);
        let host = config.host_interface.as_ref().map(|interface| {
            HostStack::new(config.netns.clone(), interface.clone(), config.underlay_ip)
        });
        if let Some(host) = &host {
            controller = controller.with_host(host.clone());
        }
        tracing::info!(node = %config.node, underlay = %config.underlay_ip, "agent running");
        tokio::select! {
            () = controller.run(events, plugs) => {}
            () = shutdown => {}
        }
        // The routes go with the host tap; the NAT rule must be removed.
        if let Some(mut host) = host
            && let Err(e) = host.teardown().await
        {
            tracing::error!(error = %e, "cannot remove the fabric SNAT rule");
        }
        http.abort();
        if let Some(cni) = cni {
            cni.abort();
        }
        for reader in readers {
            reader.abort();
        }
        engine_task.abort();
        Ok(())
    }
}
