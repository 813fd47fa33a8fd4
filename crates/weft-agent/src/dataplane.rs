//! The one task that owns the forwarding [`Engine`]: it applies the
//! reconciler's commands, feeds it frames read from vifs and the underlay,
//! hands every [`Output`] to a [`Transmit`] and ages flows with
//! [`Engine::poll`]. Everything else talks to it through a cheap-to-clone
//! [`Dataplane`] handle; introspection reads the engine with
//! [`Dataplane::query`].

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use weft_vrouter::{
    Command, Engine, Millis, Output, TunnelKind, UnderlayKind, VifId, VrouterError,
};

/// Where the engine's outputs go: real fds ([`crate::io`]) or, in tests, an
/// in-memory underlay. Called from the engine task; must not block.
pub trait Transmit: Send + 'static {
    /// Writes an Ethernet frame to a vif.
    fn to_vif(&mut self, vif: VifId, frame: &[u8]);
    /// Sends a tunnel payload to the remote vRouter at `dst`.
    fn to_underlay(&mut self, dst: Ipv4Addr, kind: UnderlayKind, payload: &[u8]);
}

/// A command the engine refused (logged by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub command: Command,
    pub error: VrouterError,
}

type Query = Box<dyn FnOnce(&Engine) + Send>;

enum Msg {
    Apply(Vec<Command>, oneshot::Sender<Vec<Refused>>),
    Vif(VifId, Vec<u8>),
    Underlay(Ipv4Addr, TunnelKind, Vec<u8>),
    Query(Query),
}

/// A handle on the engine task. The task ends when every handle is gone.
#[derive(Clone, Debug)]
pub struct Dataplane {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Apply(..) => "Apply",
            Msg::Vif(..) => "Vif",
            Msg::Underlay(..) => "Underlay",
            Msg::Query(_) => "Query",
        })
    }
}

/// Frames queued towards the engine before new ones are dropped.
const QUEUE: usize = 4096;

impl Dataplane {
    /// Starts the engine task; `poll_interval` paces flow ageing. Must be
    /// called inside a tokio runtime.
    pub fn spawn(
        engine: Engine,
        transmit: impl Transmit,
        poll_interval: Duration,
    ) -> (Dataplane, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(engine, transmit, rx, poll_interval));
        (Dataplane { tx }, task)
    }

    /// Applies `commands` in order; returns the refused ones.
    pub async fn apply(&self, commands: Vec<Command>) -> Vec<Refused> {
        if commands.is_empty() {
            return Vec::new();
        }
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Apply(commands, done)).await.is_err() {
            return Vec::new();
        }
        wait.await.unwrap_or_default()
    }

    /// Queues a frame a workload sent on `vif`; `false` if it was dropped
    /// (queue full or engine gone).
    pub fn vif_frame(&self, vif: VifId, frame: Vec<u8>) -> bool {
        self.tx.try_send(Msg::Vif(vif, frame)).is_ok()
    }

    /// Queues a tunnel payload from the vRouter at `src`.
    pub fn underlay_frame(&self, src: Ipv4Addr, kind: TunnelKind, payload: Vec<u8>) -> bool {
        self.tx.try_send(Msg::Underlay(src, kind, payload)).is_ok()
    }

    /// Runs `f` on the engine (between packets) and returns its result;
    /// `None` if the engine task is gone.
    pub async fn query<T, F>(&self, f: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> T + Send + 'static,
    {
        let (done, wait) = oneshot::channel();
        let query: Query = Box::new(move |engine| {
            let _ = done.send(f(engine));
        });
        self.tx.send(Msg::Query(query)).await.ok()?;
        wait.await.ok()
    }
}

async fn run(
    mut engine: Engine,
    mut transmit: impl Transmit,
    mut rx: mpsc::Receiver<Msg>,
    poll_interval: Duration,
) {
    let start = Instant::now();
    let now = || Millis(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
    let mut ticker = tokio::time::interval(poll_interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut out = Vec::new();
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { return };
                match msg {
                    Msg::Apply(commands, done) => {
                        let mut refused = Vec::new();
                        for command in commands {
                            if let Err(error) = engine.apply(command.clone()) {
                                refused.push(Refused { command, error });
                            }
                        }
                        let _ = done.send(refused);
                    }
                    Msg::Vif(vif, frame) => engine.receive_vif(now(), vif, &frame, &mut out),
                    Msg::Underlay(src, kind, payload) => {
                        engine.receive_underlay(now(), src, kind, &payload, &mut out);
                    }
                    Msg::Query(query) => query(&engine),
                }
                for output in out.drain(..) {
                    match output {
                        Output::ToVif { vif, frame } => transmit.to_vif(vif, &frame),
                        Output::ToUnderlay { dst, kind, payload } => {
                            transmit.to_underlay(dst, kind, &payload);
                        }
                    }
                }
            }
            _ = ticker.tick() => {
                engine.poll(now());
            }
        }
    }
}
