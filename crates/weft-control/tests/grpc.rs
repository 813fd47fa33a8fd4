//! The protocol end to end over real gRPC on 127.0.0.1.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use weft_control::agent::{AgentEvent, AgentSession, AgentSettings, LocalRoute, identity};
use weft_control::proto::{self, Encapsulation};
use weft_control::rib::RouteAttrs;
use weft_control::server::{ConfigSource, ControlNode, ControlSettings};
use weft_types::Prefix;

const TOKEN: &str = "cluster-secret";
const VRF: &str = "default-domain:k8s-contrail:seamless";
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const C_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const QUIET: Duration = Duration::from_millis(300);

struct FakeSource {
    configs: Mutex<HashMap<String, proto::NodeConfig>>,
    changes: watch::Sender<u64>,
    ports: Mutex<Vec<(String, String, proto::PortState)>>,
}

impl FakeSource {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            configs: Mutex::new(HashMap::new()),
            changes: watch::channel(1).0,
            ports: Mutex::new(Vec::new()),
        })
    }

    fn set(&self, node: &str, config: proto::NodeConfig) {
        self.configs
            .lock()
            .expect("lock")
            .insert(node.to_owned(), config);
        self.changes.send_modify(|g| *g += 1);
    }
}

impl ConfigSource for FakeSource {
    fn node_config(&self, node: &str) -> proto::NodeConfig {
        self.configs
            .lock()
            .expect("lock")
            .get(node)
            .cloned()
            .unwrap_or_default()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn port_status(&self, node: &str, port_id: &str, state: proto::PortState) {
        self.ports
            .lock()
            .expect("lock")
            .push((node.to_owned(), port_id.to_owned(), state));
    }
}

struct Server {
    addr: SocketAddr,
    source: Arc<FakeSource>,
    node: ControlNode,
    _stop: oneshot::Sender<()>,
}

async fn server(grace: Duration) -> Result<Server> {
    let source = FakeSource::new();
    let mut settings = ControlSettings::new(TOKEN);
    settings.grace = grace;
    let node = ControlNode::new(settings, source.clone())?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(node.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    Ok(Server {
        addr,
        source,
        node,
        _stop: stop,
    })
}

fn agent(
    server: &Server,
    node: &str,
    ip: Ipv4Addr,
    token: &str,
) -> Result<(AgentSession, mpsc::Receiver<AgentEvent>)> {
    agent_with_backoff(server, node, ip, token, Duration::from_millis(20))
}

fn agent_with_backoff(
    server: &Server,
    node: &str,
    ip: Ipv4Addr,
    token: &str,
    backoff: Duration,
) -> Result<(AgentSession, mpsc::Receiver<AgentEvent>)> {
    let mut settings =
        AgentSettings::new(format!("http://{}", server.addr), token, identity(node, ip));
    settings.backoff_min = backoff;
    settings.backoff_max = backoff * 10;
    Ok(AgentSession::start(settings)?)
}

/// Waits for the first event matching `want`, skipping others.
async fn expect<F>(rx: &mut mpsc::Receiver<AgentEvent>, what: &str, want: F) -> Result<AgentEvent>
where
    F: Fn(&AgentEvent) -> bool,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .with_context(|| format!("timed out waiting for {what}"))?
            .context("event stream ended")?;
        if want(&event) {
            return Ok(event);
        }
    }
}

/// Fails if an event matching `bad` arrives within `quiet`.
async fn expect_none<F>(rx: &mut mpsc::Receiver<AgentEvent>, quiet: Duration, bad: F) -> Result<()>
where
    F: Fn(&AgentEvent) -> bool,
{
    let deadline = tokio::time::Instant::now() + quiet;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if bad(&event) {
            bail!("unexpected event {event:?}");
        }
    }
    Ok(())
}

fn pod_route() -> Result<LocalRoute> {
    Ok(LocalRoute {
        vrf: VRF.into(),
        prefix: Prefix::parse_strict("192.168.1.3/32")?,
        attrs: RouteAttrs {
            label: 17,
            vni: 0,
            encapsulations: vec![Encapsulation::MplsOverUdp, Encapsulation::MplsOverGre],
            sg_ids: vec![8_000_002],
        },
    })
}

fn is_synced(e: &AgentEvent) -> bool {
    matches!(e, AgentEvent::VrfSynced { vrf } if vrf == VRF)
}

fn is_route_event(e: &AgentEvent) -> bool {
    matches!(
        e,
        AgentEvent::RouteAdded(_) | AgentEvent::RouteWithdrawn { .. }
    )
}

fn is_withdrawal(e: &AgentEvent) -> bool {
    matches!(e, AgentEvent::RouteWithdrawn { .. })
}

#[tokio::test]
async fn routes_reach_subscribers_only_and_withdrawals_follow() -> Result<()> {
    let srv = server(Duration::from_secs(30)).await?;
    let (a, mut a_rx) = agent(&srv, "a", A_IP, TOKEN)?;
    let (b, mut b_rx) = agent(&srv, "b", B_IP, TOKEN)?;
    let (_c, mut c_rx) = agent(&srv, "c", C_IP, TOKEN)?;
    b.subscribe(VRF);
    a.subscribe(VRF);
    expect(&mut b_rx, "B synced", is_synced).await?;
    expect(&mut a_rx, "A synced", is_synced).await?;

    let route = pod_route()?;
    a.publish(route.clone());
    let AgentEvent::RouteAdded(got) = expect(&mut b_rx, "B gets the route", |e| {
        matches!(e, AgentEvent::RouteAdded(_))
    })
    .await?
    else {
        bail!("not a route")
    };
    assert_eq!(got.vrf, VRF);
    assert_eq!(got.prefix, route.prefix);
    assert_eq!(got.next_hop, A_IP);
    assert_eq!(got.attrs, route.attrs, "label, encaps and SG ids survive");

    expect_none(&mut c_rx, QUIET, is_route_event).await?;
    expect_none(&mut a_rx, Duration::ZERO, is_route_event).await?;

    a.withdraw(VRF, route.prefix);
    let withdrawn = expect(&mut b_rx, "B gets the withdrawal", is_withdrawal).await?;
    assert_eq!(
        withdrawn,
        AgentEvent::RouteWithdrawn {
            vrf: VRF.into(),
            prefix: route.prefix,
            next_hop: A_IP
        }
    );
    expect_none(&mut a_rx, QUIET, is_route_event).await?;
    expect_none(&mut c_rx, Duration::ZERO, is_route_event).await?;
    Ok(())
}

#[tokio::test]
async fn wrong_token_gets_unauthenticated_and_no_data() -> Result<()> {
    let srv = server(Duration::from_secs(30)).await?;
    // A raw client: the call itself is refused.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", srv.addr))?
        .connect()
        .await?;
    let mut client = proto::control_client::ControlClient::with_interceptor(
        channel,
        |mut r: tonic::Request<()>| {
            r.metadata_mut()
                .insert("authorization", "Bearer wrong".parse().expect("ascii"));
            Ok(r)
        },
    );
    let status = client
        .session(tokio_stream::iter(Vec::<proto::AgentMessage>::new()))
        .await
        .err()
        .context("a wrong token must be refused")?;
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    // An agent session: told it is rejected, given nothing.
    let (_x, mut x_rx) = agent(&srv, "x", C_IP, "wrong")?;
    let first = expect(&mut x_rx, "rejection", |_| true).await?;
    assert!(matches!(first, AgentEvent::Rejected { .. }), "{first:?}");
    expect_none(&mut x_rx, QUIET, |e| {
        !matches!(e, AgentEvent::Rejected { .. })
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn config_changes_reach_only_their_node() -> Result<()> {
    let srv = server(Duration::from_secs(30)).await?;
    let (_a, mut a_rx) = agent(&srv, "a", A_IP, TOKEN)?;
    let (_b, mut b_rx) = agent(&srv, "b", B_IP, TOKEN)?;
    let is_config = |e: &AgentEvent| matches!(e, AgentEvent::Config(_));
    expect(&mut a_rx, "A initial config", is_config).await?;
    expect(&mut b_rx, "B initial config", is_config).await?;

    let port_id = "3f2a9c1e-7b4d-4e0a-9a55-0c1d2e3f4a5b";
    srv.source.set(
        "a",
        proto::NodeConfig {
            generation: 2,
            ports: vec![proto::Port {
                port_id: port_id.into(),
                vn_fq_name: VRF.into(),
                vn_id: 5,
                vni: 5,
                sg_ids: vec![8_000_002],
                vif_type: proto::VifType::Tap as i32,
                interface_name: weft_control::tap_interface_name(port_id),
                ..proto::Port::default()
            }],
            ..proto::NodeConfig::default()
        },
    );
    let AgentEvent::Config(config) = expect(&mut a_rx, "A's new config", is_config).await? else {
        bail!("not a config")
    };
    assert_eq!(config.generation, 2);
    assert_eq!(config.ports[0].interface_name, "tap3f2a9c1e-7b");
    expect_none(&mut b_rx, QUIET, is_config).await?;
    Ok(())
}

/// Agent A publishes the pod's route and subscribed agent B has it.
/// Returns both sessions and B's events.
async fn a_publishes_to_b(
    srv: &Server,
) -> Result<(AgentSession, AgentSession, mpsc::Receiver<AgentEvent>)> {
    let (a, mut a_rx) = agent(srv, "a", A_IP, TOKEN)?;
    let (b, mut b_rx) = agent(srv, "b", B_IP, TOKEN)?;
    b.subscribe(VRF);
    expect(&mut b_rx, "B synced", is_synced).await?;
    expect(&mut a_rx, "A connected", |e| {
        matches!(e, AgentEvent::Connected)
    })
    .await?;
    a.publish(pod_route()?);
    expect(&mut b_rx, "B gets the route", |e| {
        matches!(e, AgentEvent::RouteAdded(_))
    })
    .await?;
    Ok((a, b, b_rx))
}

#[tokio::test]
async fn lost_session_is_withdrawn_after_grace() -> Result<()> {
    let grace = Duration::from_millis(300);
    let srv = server(grace).await?;
    let (a, _b, mut b_rx) = a_publishes_to_b(&srv).await?;

    let killed = Instant::now();
    drop(a);
    expect(&mut b_rx, "B gets the withdrawal", is_withdrawal).await?;
    assert!(
        killed.elapsed() >= grace,
        "withdrawn after {:?}, before the grace period",
        killed.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn reconnect_within_grace_causes_no_withdrawal() -> Result<()> {
    let grace = Duration::from_millis(500);
    let srv = server(grace).await?;
    let (a, _b, mut b_rx) = a_publishes_to_b(&srv).await?;

    // The agent process restarts: a new session republishes the same route.
    drop(a);
    let (a2, _a2_rx) = agent(&srv, "a", A_IP, TOKEN)?;
    a2.publish(pod_route()?);
    a2.local_routes_complete();
    expect_none(&mut b_rx, grace * 3, is_route_event).await?;
    Ok(())
}

#[tokio::test]
async fn agent_rides_out_a_server_restart_headless() -> Result<()> {
    // B holds A's route; the server goes away and comes back on the same
    // port; B reports Disconnected, keeps the route, resyncs, and only the
    // route A no longer has is withdrawn.
    let srv = server(Duration::from_secs(30)).await?;
    let addr = srv.addr;
    let (a, mut a_rx) = agent(&srv, "a", A_IP, TOKEN)?;
    // B retries later than A, so A has republished when B resyncs.
    let (b, mut b_rx) = agent_with_backoff(&srv, "b", B_IP, TOKEN, Duration::from_millis(400))?;
    b.subscribe(VRF);
    expect(&mut b_rx, "B synced", is_synced).await?;
    expect(&mut a_rx, "A connected", |e| {
        matches!(e, AgentEvent::Connected)
    })
    .await?;
    let kept = pod_route()?;
    let mut dropped = pod_route()?;
    dropped.prefix = Prefix::parse_strict("192.168.1.4/32")?;
    a.publish(kept.clone());
    a.publish(dropped.clone());
    a.local_routes_complete();
    for _ in 0..2 {
        expect(&mut b_rx, "B gets A's routes", |e| {
            matches!(e, AgentEvent::RouteAdded(_))
        })
        .await?;
    }

    srv.node.close_sessions();
    drop(srv);
    expect(&mut b_rx, "B disconnected", |e| {
        matches!(e, AgentEvent::Disconnected { .. })
    })
    .await?;
    // While headless, A drops a route; the new server will never see it.
    a.withdraw(VRF, dropped.prefix);

    let source = FakeSource::new();
    let node = ControlNode::new(ControlSettings::new(TOKEN), source)?;
    let listener = TcpListener::bind(addr).await?;
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(node.serve(listener, async {
        let _ = stopped.await;
    }));

    let mut events = Vec::new();
    loop {
        let e = expect(&mut b_rx, "B resynced", |_| true).await?;
        let done = is_synced(&e);
        events.push(e);
        if done {
            break;
        }
    }
    let withdrawn: Vec<_> = events.iter().filter(|e| is_withdrawal(e)).collect();
    assert_eq!(
        withdrawn,
        vec![&AgentEvent::RouteWithdrawn {
            vrf: VRF.into(),
            prefix: dropped.prefix,
            next_hop: A_IP
        }],
        "{events:?} / A: {:?}",
        std::iter::from_fn(|| a_rx.try_recv().ok()).collect::<Vec<_>>()
    );
    Ok(())
}

fn hello_then(msgs: Vec<proto::agent_message::Msg>) -> Vec<proto::AgentMessage> {
    let hello = proto::agent_message::Msg::Hello(proto::Hello {
        node_name: "raw".into(),
        underlay_ip: "10.0.0.9".into(),
        ..proto::Hello::default()
    });
    std::iter::once(hello)
        .chain(msgs)
        .map(|msg| proto::AgentMessage { msg: Some(msg) })
        .collect()
}

async fn raw_session(
    srv: &Server,
    msgs: Vec<proto::AgentMessage>,
) -> Result<tonic::Streaming<proto::ServerMessage>> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", srv.addr))?
        .connect()
        .await?;
    let mut client = proto::control_client::ControlClient::with_interceptor(
        channel,
        |mut r: tonic::Request<()>| {
            r.metadata_mut().insert(
                "authorization",
                format!("Bearer {TOKEN}").parse().expect("ascii"),
            );
            Ok(r)
        },
    );
    // Keep the request stream open so the session stays up.
    let stream = tokio_stream::StreamExt::chain(tokio_stream::iter(msgs), tokio_stream::pending());
    Ok(client.session(stream).await?.into_inner())
}

#[tokio::test]
async fn bad_requests_get_errors_naming_the_field() -> Result<()> {
    use proto::agent_message::Msg;
    let srv = server(Duration::from_secs(30)).await?;
    let mut inbound = raw_session(
        &srv,
        hello_then(vec![
            Msg::Publish(proto::PublishRoute {
                vrf: VRF.into(),
                prefix: "192.168.1.300/32".into(),
                ..proto::PublishRoute::default()
            }),
            Msg::Publish(proto::PublishRoute {
                vrf: VRF.into(),
                prefix: "192.168.1.3/32".into(),
                next_hop: "10.0.0.1".into(),
                ..proto::PublishRoute::default()
            }),
        ]),
    )
    .await?;
    let mut errors = Vec::new();
    while errors.len() < 2 {
        let msg = tokio::time::timeout(Duration::from_secs(5), inbound.message())
            .await??
            .context("stream ended")?;
        if let Some(proto::server_message::Msg::Error(e)) = msg.msg {
            errors.push(e);
        }
    }
    assert_eq!(errors[0].code(), proto::ErrorCode::InvalidArgument);
    assert!(
        errors[0].message.contains("publish.prefix"),
        "{:?}",
        errors[0]
    );
    assert!(errors[1].message.contains("next_hop"), "{:?}", errors[1]);

    // Anything before Hello ends the stream with FailedPrecondition.
    let mut early = raw_session(
        &srv,
        vec![proto::AgentMessage {
            msg: Some(Msg::EndOfRib(proto::EndOfRib::default())),
        }],
    )
    .await?;
    let status = tokio::time::timeout(Duration::from_secs(5), early.message())
        .await?
        .err()
        .context("must fail")?;
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    Ok(())
}

#[tokio::test]
async fn port_status_reaches_the_config_source_with_its_node() -> Result<()> {
    let srv = server(Duration::from_secs(30)).await?;
    let (a, _a_rx) = agent(&srv, "a", A_IP, TOKEN)?;
    a.port_status("p1", proto::PortState::Active);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = srv.source.ports.lock().expect("lock").clone();
        if !seen.is_empty() {
            assert_eq!(
                seen,
                vec![("a".into(), "p1".into(), proto::PortState::Active)]
            );
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("port status never arrived");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
