//! The agent side: [`AgentSession`] keeps one stream to the control node
//! up, replays the agent's state after every reconnect, and hands what the
//! server sends to the agent as [`AgentEvent`]s on a `tokio::sync::mpsc`
//! channel. The protocol logic is in [`AgentState`] (pure).
//!
//! Headless: a lost stream yields [`AgentEvent::Disconnected`] and nothing
//! else; the agent keeps forwarding with what it has. After reconnecting,
//! remote routes the server does not send again before its End-of-RIB for
//! their VRF arrive as [`AgentEvent::RouteWithdrawn`].

mod state;

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Endpoint;
use tonic::{Code, Request, Status};
use weft_types::Prefix;

pub use state::{AgentEvent, AgentIdentity, AgentState, LocalRoute, RemoteRoute};

use crate::auth::{AuthError, bearer_value};
use crate::proto::{self, control_client::ControlClient};

/// How to reach the control node and who this agent is.
#[derive(Clone, Debug)]
pub struct AgentSettings {
    /// `http://host:port` of the control node.
    pub endpoint: String,
    /// The per-cluster bearer token.
    pub token: String,
    /// Identity sent in Hello.
    pub identity: AgentIdentity,
    /// First reconnect delay; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// Events buffered before the session waits for the agent.
    pub event_buffer: usize,
}

impl AgentSettings {
    /// Defaults: backoff 100 ms … 10 s, 1024 buffered events.
    pub fn new(
        endpoint: impl Into<String>,
        token: impl Into<String>,
        identity: AgentIdentity,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            token: token.into(),
            identity,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            event_buffer: 1024,
        }
    }
}

/// Why a session cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The token cannot be sent.
    #[error("bad cluster token")]
    Token(#[from] AuthError),
    /// The endpoint is not a usable URI.
    #[error("bad control node endpoint")]
    Endpoint(#[source] tonic::transport::Error),
}

#[derive(Debug)]
enum Command {
    Subscribe(String),
    Unsubscribe(String),
    Publish(LocalRoute),
    Withdraw(String, Prefix),
    PortStatus(String, proto::PortState),
    LocalComplete,
}

/// A handle on the session task. Dropping it ends the session.
#[derive(Debug)]
pub struct AgentSession {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

impl Drop for AgentSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AgentSession {
    /// Starts connecting; returns the handle and the event stream. Must be
    /// called inside a tokio runtime.
    pub fn start(
        settings: AgentSettings,
    ) -> Result<(Self, mpsc::Receiver<AgentEvent>), AgentError> {
        let token = bearer_value(&settings.token)?;
        let endpoint = Endpoint::from_shared(settings.endpoint.clone())
            .map_err(AgentError::Endpoint)?
            .connect_timeout(Duration::from_secs(5))
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(20));
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, event_rx) = mpsc::channel(settings.event_buffer.max(1));
        let driver = Driver {
            state: AgentState::new(settings.identity.clone()),
            settings,
            endpoint,
            token,
            commands: command_rx,
            events,
        };
        let task = tokio::spawn(driver.run());
        Ok((Self { commands, task }, event_rx))
    }

    /// Asks for the routes of `vrf` (kept across reconnects).
    pub fn subscribe(&self, vrf: impl Into<String>) {
        self.send(Command::Subscribe(vrf.into()));
    }

    /// Stops the routes of `vrf`; known ones are withdrawn locally.
    pub fn unsubscribe(&self, vrf: impl Into<String>) {
        self.send(Command::Unsubscribe(vrf.into()));
    }

    /// Publishes (or replaces) a local route (kept across reconnects).
    pub fn publish(&self, route: LocalRoute) {
        self.send(Command::Publish(route));
    }

    /// Withdraws a local route.
    pub fn withdraw(&self, vrf: impl Into<String>, prefix: Prefix) {
        self.send(Command::Withdraw(vrf.into(), prefix));
    }

    /// Reports a local port's state.
    pub fn port_status(&self, port_id: impl Into<String>, state: proto::PortState) {
        self.send(Command::PortStatus(port_id.into(), state));
    }

    /// Every local route is published: send End-of-RIB now and after
    /// every reconnect's replay, so the server drops what was not
    /// republished. Call once after the agent's startup publication.
    pub fn local_routes_complete(&self) {
        self.send(Command::LocalComplete);
    }

    fn send(&self, command: Command) {
        // Fails only once the task is gone, i.e. the session is over.
        let _ = self.commands.send(command);
    }
}

struct Driver {
    settings: AgentSettings,
    state: AgentState,
    endpoint: Endpoint,
    token: MetadataValue<Ascii>,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<AgentEvent>,
}

/// How a connected stream ended.
enum Ended {
    /// The agent dropped the handle or the event receiver.
    Stop,
    /// The stream failed; reconnect.
    Lost(String),
}

type Outbound = mpsc::UnboundedSender<proto::AgentMessage>;

impl Driver {
    async fn run(mut self) {
        let mut backoff = self.settings.backoff_min;
        loop {
            match self.connect().await {
                Ok(Some((out, inbound))) => {
                    backoff = self.settings.backoff_min;
                    if !self.emit(AgentEvent::Connected).await {
                        return;
                    }
                    match self.connected(out, inbound).await {
                        Ended::Stop => return,
                        Ended::Lost(reason) => {
                            self.state.on_disconnected();
                            if !self.emit(AgentEvent::Disconnected { reason }).await {
                                return;
                            }
                        }
                    }
                }
                Ok(None) => return,
                Err(status) => {
                    tracing::debug!(%status, "control node unreachable");
                    if status.code() == Code::Unauthenticated
                        && !self
                            .emit(AgentEvent::Rejected {
                                message: status.message().to_owned(),
                            })
                            .await
                    {
                        return;
                    }
                }
            }
            if !self.wait(backoff).await {
                return;
            }
            backoff = (backoff * 2).min(self.settings.backoff_max);
        }
    }

    /// Opens a stream with the replay queued. `Ok(None)`: stop.
    async fn connect(
        &mut self,
    ) -> Result<Option<(Outbound, tonic::Streaming<proto::ServerMessage>)>, Status> {
        let (out, out_rx) = mpsc::unbounded_channel();
        for msg in self.state.on_connected() {
            let _ = out.send(msg);
        }
        let token = self.token.clone();
        let endpoint = self.endpoint.clone();
        let attempt = async move {
            let channel = endpoint
                .connect()
                .await
                .map_err(|e| Status::unavailable(e.to_string()))?;
            let mut client = ControlClient::with_interceptor(channel, move |mut r: Request<()>| {
                r.metadata_mut().insert("authorization", token.clone());
                Ok(r)
            });
            let response = client.session(UnboundedReceiverStream::new(out_rx)).await?;
            Ok::<_, Status>(response.into_inner())
        };
        tokio::pin!(attempt);
        loop {
            tokio::select! {
                result = &mut attempt => return result.map(|inbound| Some((out, inbound))),
                command = self.commands.recv() => {
                    // Queued behind the replay: it reaches the server in order.
                    let Some(command) = command else { return Ok(None) };
                    if !self.apply(command, Some(&out)).await {
                        return Ok(None);
                    }
                }
            }
        }
    }

    async fn connected(
        &mut self,
        out: Outbound,
        mut inbound: tonic::Streaming<proto::ServerMessage>,
    ) -> Ended {
        loop {
            tokio::select! {
                msg = inbound.message() => match msg {
                    Ok(Some(msg)) => {
                        for event in self.state.on_server_message(msg) {
                            if !self.emit(event).await {
                                return Ended::Stop;
                            }
                        }
                    }
                    Ok(None) => return Ended::Lost("the control node closed the stream".into()),
                    Err(status) => return Ended::Lost(status.to_string()),
                },
                command = self.commands.recv() => {
                    let Some(command) = command else { return Ended::Stop };
                    if !self.apply(command, Some(&out)).await {
                        return Ended::Stop;
                    }
                }
            }
        }
    }

    /// Sleeps `delay` while still recording commands. `false`: stop.
    async fn wait(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return true,
                command = self.commands.recv() => {
                    let Some(command) = command else { return false };
                    if !self.apply(command, None).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Records a command and sends its message on `out` if there is one.
    async fn apply(&mut self, command: Command, out: Option<&Outbound>) -> bool {
        let (msg, events) = match command {
            Command::Subscribe(vrf) => (self.state.subscribe(vrf), Vec::new()),
            Command::Unsubscribe(vrf) => self.state.unsubscribe(vrf),
            Command::Publish(route) => (self.state.publish(route), Vec::new()),
            Command::Withdraw(vrf, prefix) => (self.state.withdraw(vrf, prefix), Vec::new()),
            Command::PortStatus(port, state) => (self.state.port_status(port, state), Vec::new()),
            Command::LocalComplete => (self.state.local_complete(), Vec::new()),
        };
        if let Some(out) = out {
            let _ = out.send(msg);
        }
        for event in events {
            if !self.emit(event).await {
                return false;
            }
        }
        true
    }

    async fn emit(&self, event: AgentEvent) -> bool {
        self.events.send(event).await.is_ok()
    }
}

/// Convenience for [`AgentIdentity`] with the defaults weft uses.
pub fn identity(node_name: impl Into<String>, underlay_ip: Ipv4Addr) -> AgentIdentity {
    AgentIdentity {
        node_name: node_name.into(),
        underlay_ip,
        encapsulations: vec![
            proto::Encapsulation::MplsOverUdp,
            proto::Encapsulation::MplsOverGre,
            proto::Encapsulation::Vxlan,
        ],
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        restart_generation: 0,
    }
}
