//! The control node: the tonic driver around the [`Rib`].
//!
//! One task owns the [`Rib`] and the per-session senders; each stream gets
//! a task that reads the agent's messages, validates them into
//! [`RibInput`]s and pushes `NodeConfig` snapshots when the
//! [`ConfigSource`] changes. Protocol logic lives in [`crate::rib`]; this
//! module only moves messages and reads the clock.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};
use weft_types::Prefix;

use crate::auth::{AuthError, TokenCheck};
use crate::proto::{self, agent_message, control_server, server_message};
use crate::rib::{Rib, RibInput, RibOutput, RouteAttrs, SessionId};

/// Where a node's desired state comes from (the server's compiler).
pub trait ConfigSource: Send + Sync + 'static {
    /// The full snapshot `node` should hold now.
    fn node_config(&self, node: &str) -> proto::NodeConfig;
    /// A counter that bumps on any change; every session then recomputes
    /// its node's snapshot and sends it if it differs from the last one.
    fn subscribe(&self) -> watch::Receiver<u64>;
    /// A port on `node` became active or went down. Default: ignored.
    fn port_status(&self, node: &str, port_id: &str, state: proto::PortState) {
        let _ = (node, port_id, state);
    }
    /// The nodes that hold ports, read once at start: until each has
    /// republished (or the grace period ends), subscribers keep the remote
    /// routes a previous control node gave them. Default: none.
    fn nodes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// How the control node runs.
#[derive(Clone, Debug)]
pub struct ControlSettings {
    /// The per-cluster bearer token agents must present.
    pub token: String,
    /// How long a lost node's routes stay advertised.
    pub grace: Duration,
    /// HTTP/2 keepalive ping interval (detects dead peers).
    pub keepalive_interval: Duration,
    /// How long to wait for a keepalive answer.
    pub keepalive_timeout: Duration,
}

impl ControlSettings {
    /// Defaults (30 s grace, 10 s keepalive, 20 s timeout) for `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            grace: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(20),
        }
    }
}

/// Why the control node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The token cannot be used.
    #[error("bad cluster token")]
    Token(#[from] AuthError),
    /// The gRPC server failed.
    #[error("gRPC transport failed")]
    Transport(#[from] tonic::transport::Error),
}

type Outbound = mpsc::UnboundedSender<Result<proto::ServerMessage, Status>>;

enum RibCommand {
    Register { session: SessionId, tx: Outbound },
    Input(RibInput),
}

/// The server side of the protocol. Cheap to clone.
#[derive(Clone)]
pub struct ControlNode {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ControlSettings,
    check: TokenCheck,
    source: Arc<dyn ConfigSource>,
    rib: mpsc::UnboundedSender<RibCommand>,
    next_session: AtomicU64,
    /// Turns true when the server shuts down: every session then ends.
    closing: watch::Sender<bool>,
}

impl std::fmt::Debug for ControlNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlNode")
            .field("grace", &self.inner.settings.grace)
            .finish_non_exhaustive()
    }
}

impl ControlNode {
    /// Starts the reflector task. Must be called inside a tokio runtime.
    pub fn new(
        settings: ControlSettings,
        source: Arc<dyn ConfigSource>,
    ) -> Result<Self, ControlError> {
        let check = TokenCheck::new(&settings.token)?;
        let (rib_tx, rib_rx) = mpsc::unbounded_channel();
        let rib = Rib::starting(settings.grace, source.nodes(), Instant::now());
        tokio::spawn(run_rib(rib, rib_rx));
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                check,
                source,
                rib: rib_tx,
                next_session: AtomicU64::new(1),
                closing: watch::channel(false).0,
            }),
        })
    }

    /// The gRPC service with the token check in front, for a tonic router.
    pub fn service(&self) -> InterceptedService<control_server::ControlServer<Self>, TokenCheck> {
        control_server::ControlServer::with_interceptor(self.clone(), self.inner.check.clone())
    }

    /// Ends every session (with `Unavailable`), as on shutdown. The
    /// agents go headless and reconnect with backoff.
    pub fn close_sessions(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Serves on `listener` until `shutdown` completes; then ends every
    /// session and waits for the streams to close.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ControlError> {
        let settings = &self.inner.settings;
        let this = self.clone();
        let shutdown = async move {
            shutdown.await;
            this.close_sessions();
        };
        // The builder's tcp_nodelay only applies to listeners it binds
        // itself. Without it, a message longer than one HTTP/2 frame
        // (16 KiB: a node's configuration past ~100 ports) waits for the
        // delayed ACK of its first segment, ~40 ms, before its tail is sent.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(settings.keepalive_interval))
            .http2_keepalive_timeout(Some(settings.keepalive_timeout))
            .add_service(self.service())
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await?;
        Ok(())
    }
}

#[tonic::async_trait]
impl control_server::Control for ControlNode {
    type SessionStream = UnboundedReceiverStream<Result<proto::ServerMessage, Status>>;

    async fn session(
        &self,
        request: Request<Streaming<proto::AgentMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::unbounded_channel();
        let session = self.inner.next_session.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(run_session(self.inner.clone(), session, inbound, tx));
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }
}

/// The reflector task: feeds inputs and timer ticks to the [`Rib`] and
/// sends its outputs.
async fn run_rib(mut rib: Rib, mut commands: mpsc::UnboundedReceiver<RibCommand>) {
    let mut senders: HashMap<SessionId, Outbound> = HashMap::new();
    loop {
        let deadline = rib.poll_at();
        let outputs = tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(RibCommand::Register { session, tx }) => {
                    senders.insert(session, tx);
                    continue;
                }
                Some(RibCommand::Input(input)) => {
                    let down = match input {
                        RibInput::SessionDown { session } => Some(session),
                        _ => None,
                    };
                    let outputs = rib.handle(input, Instant::now());
                    if let Some(session) = down {
                        senders.remove(&session);
                    }
                    outputs
                }
            },
            () = sleep_until(deadline), if deadline.is_some() => rib.poll(Instant::now()),
        };
        for output in outputs {
            dispatch(&mut senders, output);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(at) = deadline {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
}

fn dispatch(senders: &mut HashMap<SessionId, Outbound>, output: RibOutput) {
    let (to, msg) = match output {
        RibOutput::Add { to, route } => (
            to,
            server_message::Msg::RouteAdd(proto::RouteAdd {
                vrf: route.vrf,
                prefix: route.prefix.to_string(),
                next_hop: route.next_hop.to_string(),
                label: route.attrs.label,
                vni: route.attrs.vni,
                encapsulations: route
                    .attrs
                    .encapsulations
                    .iter()
                    .map(|e| *e as i32)
                    .collect(),
                sg_ids: route.attrs.sg_ids,
            }),
        ),
        RibOutput::Withdraw {
            to,
            vrf,
            prefix,
            next_hop,
        } => (
            to,
            server_message::Msg::RouteWithdraw(proto::RouteWithdraw {
                vrf,
                prefix: prefix.to_string(),
                next_hop: next_hop.to_string(),
            }),
        ),
        RibOutput::EndOfRib { to, vrf } => {
            (to, server_message::Msg::EndOfRib(proto::EndOfRib { vrf }))
        }
        RibOutput::Reject { session, error } => (
            session,
            server_message::Msg::Error(proto::Error {
                code: proto::ErrorCode::Protocol as i32,
                message: error.to_string(),
            }),
        ),
        RibOutput::Close { session } => {
            if let Some(tx) = senders.remove(&session) {
                let _ = tx.send(Err(Status::aborted(
                    "superseded by a newer session of the same node",
                )));
            }
            return;
        }
    };
    if let Some(tx) = senders.get(&to) {
        // A closed receiver means the session is ending; its task reports
        // SessionDown.
        let _ = tx.send(Ok(proto::ServerMessage { msg: Some(msg) }));
    }
}

/// What a validated Hello says.
struct Peer {
    node: String,
    underlay: Ipv4Addr,
}

fn validate_hello(hello: &proto::Hello) -> Result<Peer, Status> {
    if hello.node_name.is_empty() {
        return Err(Status::invalid_argument("hello.node_name is empty"));
    }
    let underlay = hello.underlay_ip.parse().map_err(|_| {
        Status::invalid_argument(format!(
            "hello.underlay_ip {:?} is not an IPv4 address",
            hello.underlay_ip
        ))
    })?;
    Ok(Peer {
        node: hello.node_name.clone(),
        underlay,
    })
}

/// A request the session refuses, sent back as an `Error` message.
#[derive(Debug, thiserror::Error)]
enum RequestError {
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} {value:?} is not a prefix")]
    Prefix { field: &'static str, value: String },
    #[error("publish.next_hop {0:?} is not this node's underlay IP")]
    NextHop(String),
    #[error("hello was already received on this stream")]
    SecondHello,
}

impl RequestError {
    fn into_message(self) -> proto::ServerMessage {
        let code = match self {
            RequestError::SecondHello => proto::ErrorCode::Protocol,
            _ => proto::ErrorCode::InvalidArgument,
        };
        proto::ServerMessage {
            msg: Some(server_message::Msg::Error(proto::Error {
                code: code as i32,
                message: self.to_string(),
            })),
        }
    }
}

fn vrf_name(vrf: &str, field: &'static str) -> Result<String, RequestError> {
    if vrf.is_empty() {
        return Err(RequestError::Empty { field });
    }
    Ok(vrf.to_owned())
}

fn prefix(text: &str, field: &'static str) -> Result<Prefix, RequestError> {
    Prefix::parse_strict(text).map_err(|_| RequestError::Prefix {
        field,
        value: text.to_owned(),
    })
}

/// Turns one agent message into a RIB input (or nothing, for port status).
fn translate(
    inner: &Inner,
    session: SessionId,
    peer: &Peer,
    msg: agent_message::Msg,
) -> Result<Option<RibInput>, RequestError> {
    use agent_message::Msg;
    Ok(Some(match msg {
        Msg::Hello(_) => return Err(RequestError::SecondHello),
        Msg::Subscribe(s) => RibInput::Subscribe {
            session,
            vrf: vrf_name(&s.vrf, "subscribe.vrf")?,
        },
        Msg::Unsubscribe(s) => RibInput::Unsubscribe {
            session,
            vrf: vrf_name(&s.vrf, "unsubscribe.vrf")?,
        },
        Msg::Publish(p) => {
            if !p.next_hop.is_empty() && p.next_hop.parse() != Ok(peer.underlay) {
                return Err(RequestError::NextHop(p.next_hop));
            }
            RibInput::Publish {
                session,
                vrf: vrf_name(&p.vrf, "publish.vrf")?,
                prefix: prefix(&p.prefix, "publish.prefix")?,
                attrs: RouteAttrs {
                    label: p.label,
                    vni: p.vni,
                    encapsulations: p.encapsulations().collect(),
                    sg_ids: p.sg_ids,
                },
            }
        }
        Msg::Withdraw(w) => RibInput::Withdraw {
            session,
            vrf: vrf_name(&w.vrf, "withdraw.vrf")?,
            prefix: prefix(&w.prefix, "withdraw.prefix")?,
        },
        Msg::PortStatus(p) => {
            if p.port_id.is_empty() {
                return Err(RequestError::Empty {
                    field: "port_status.port_id",
                });
            }
            inner.source.port_status(&peer.node, &p.port_id, p.state());
            return Ok(None);
        }
        Msg::EndOfRib(_) => RibInput::EndOfRib { session },
    }))
}

/// One agent stream: Hello, then messages until the stream ends.
async fn run_session(
    inner: Arc<Inner>,
    session: SessionId,
    mut inbound: Streaming<proto::AgentMessage>,
    tx: Outbound,
) {
    let first = match inbound.next().await {
        Some(Ok(proto::AgentMessage {
            msg: Some(agent_message::Msg::Hello(hello)),
        })) => validate_hello(&hello),
        Some(Ok(_)) => Err(Status::failed_precondition(
            "the first message must be Hello",
        )),
        Some(Err(_)) | None => return,
    };
    let peer = match first {
        Ok(peer) => peer,
        Err(status) => {
            let _ = tx.send(Err(status));
            return;
        }
    };
    tracing::info!(session, node = %peer.node, underlay = %peer.underlay, "agent session up");
    let pusher = tokio::spawn(push_config(
        inner.source.clone(),
        peer.node.clone(),
        tx.clone(),
    ));
    let mut closing = inner.closing.subscribe();
    let rib = &inner.rib;
    let _ = rib.send(RibCommand::Register {
        session,
        tx: tx.clone(),
    });
    let _ = rib.send(RibCommand::Input(RibInput::SessionUp {
        session,
        node: peer.node.clone(),
        underlay: peer.underlay,
    }));
    loop {
        let item = tokio::select! {
            item = inbound.next() => item,
            () = tx.closed() => break,
            _ = closing.wait_for(|c| *c) => {
                let _ = tx.send(Err(Status::unavailable("the control node is shutting down")));
                break;
            }
        };
        let msg = match item {
            Some(Ok(proto::AgentMessage { msg: Some(msg) })) => msg,
            Some(Ok(proto::AgentMessage { msg: None })) => continue,
            Some(Err(status)) => {
                tracing::info!(session, node = %peer.node, %status, "agent stream failed");
                break;
            }
            None => break,
        };
        match translate(&inner, session, &peer, msg) {
            Ok(Some(input)) => {
                let _ = rib.send(RibCommand::Input(input));
            }
            Ok(None) => {}
            Err(error) => {
                let _ = tx.send(Ok(error.into_message()));
            }
        }
    }
    tracing::info!(session, node = %peer.node, "agent session down");
    pusher.abort();
    let _ = rib.send(RibCommand::Input(RibInput::SessionDown { session }));
}

/// Sends the node's snapshot now and whenever it changes.
async fn push_config(source: Arc<dyn ConfigSource>, node: String, tx: Outbound) {
    let mut changes = source.subscribe();
    let mut last: Option<proto::NodeConfig> = None;
    loop {
        changes.borrow_and_update();
        let config = source.node_config(&node);
        if last.as_ref() != Some(&config) {
            let msg = proto::ServerMessage {
                msg: Some(server_message::Msg::Config(config.clone())),
            };
            if tx.send(Ok(msg)).is_err() {
                return;
            }
            last = Some(config);
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            () = tx.closed() => return,
        }
    }
}
