//! The one task that owns the forwarding [`Engine`]: it applies the
//! reconciler's commands, feeds it frames read from vifs and the underlay,
//! hands every [`Output`] to a [`Transmit`] and ages flows with
//! [`Engine::poll`]. Everything else talks to it through a cheap-to-clone
//! [`Dataplane`] handle; introspection reads the engine with
//! [`Dataplane::query`].

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use weft_vrouter::{
    Command, DropReason, Engine, Millis, Output, TunnelKind, UnderlayKind, VifId, VrouterError,
};

/// Where the engine's outputs go: real fds ([`crate::io`]) or, in tests, an
/// in-memory underlay. Called from the engine task; must not block.
pub trait Transmit: Send + 'static {
    /// Writes an Ethernet frame to a vif.
    fn to_vif(&mut self, vif: VifId, frame: &[u8]);
    /// Sends a tunnel payload to the remote vRouter at `dst`. May hold it
    /// back to send it with the next ones in one system call.
    fn to_underlay(&mut self, dst: Ipv4Addr, kind: UnderlayKind, payload: &[u8]);
    /// Sends whatever is held back; called after each batch of inputs.
    fn flush(&mut self) {}
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
    /// A read from a vif; `offloaded` when it starts with a virtio-net
    /// header.
    Vif {
        vif: VifId,
        buf: Vec<u8>,
        offloaded: bool,
    },
    /// A read from an underlay socket: one payload, or a run of payloads of
    /// `segment` bytes each (the last may be shorter) the kernel coalesced.
    Underlay {
        src: Ipv4Addr,
        kind: TunnelKind,
        buf: Vec<u8>,
        segment: Option<u16>,
    },
    Query(Query),
}

/// A handle on the engine task. The task ends when every handle is gone.
#[derive(Clone, Debug)]
pub struct Dataplane {
    tx: mpsc::Sender<Msg>,
    /// Reads dropped because the queue was full, not yet counted by the
    /// engine.
    queue_drops: Arc<AtomicU64>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Apply(..) => "Apply",
            Msg::Vif { .. } => "Vif",
            Msg::Underlay { .. } => "Underlay",
            Msg::Query(_) => "Query",
        })
    }
}

/// Reads queued towards the engine before new ones are dropped.
const QUEUE: usize = 4096;
/// Inputs handled before held-back outputs are flushed.
const BATCH: usize = 64;

impl Dataplane {
    /// Starts the engine task; `poll_interval` paces flow ageing. Must be
    /// called inside a tokio runtime.
    pub fn spawn(
        engine: Engine,
        transmit: impl Transmit,
        poll_interval: Duration,
    ) -> (Dataplane, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let queue_drops = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(run(
            engine,
            transmit,
            rx,
            poll_interval,
            queue_drops.clone(),
        ));
        (Dataplane { tx, queue_drops }, task)
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
        self.queue(Msg::Vif {
            vif,
            buf: frame,
            offloaded: false,
        })
    }

    fn queue(&self, msg: Msg) -> bool {
        let queued = self.tx.try_send(msg);
        if let Err(mpsc::error::TrySendError::Full(_)) = queued {
            self.queue_drops.fetch_add(1, Ordering::Relaxed);
        }
        queued.is_ok()
    }

    /// Queues what was read from `vif` through an interface with a
    /// virtio-net header (see [`Engine::receive_vif_offloaded`]).
    pub fn vif_offloaded(&self, vif: VifId, buf: Vec<u8>) -> bool {
        self.queue(Msg::Vif {
            vif,
            buf,
            offloaded: true,
        })
    }

    /// Queues a tunnel payload from the vRouter at `src`.
    pub fn underlay_frame(&self, src: Ipv4Addr, kind: TunnelKind, payload: Vec<u8>) -> bool {
        self.underlay_run(src, kind, payload, None)
    }

    /// Queues tunnel payloads from `src` read as one run of `segment`-byte
    /// datagrams (the last may be shorter), or one payload if `None`.
    pub fn underlay_run(
        &self,
        src: Ipv4Addr,
        kind: TunnelKind,
        buf: Vec<u8>,
        segment: Option<u16>,
    ) -> bool {
        self.queue(Msg::Underlay {
            src,
            kind,
            buf,
            segment,
        })
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
    queue_drops: Arc<AtomicU64>,
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
                let at = now();
                handle(&mut engine, &mut transmit, &mut out, at, msg);
                // Whatever else is already queued goes in the same batch, so
                // held-back outputs leave together.
                for _ in 1..BATCH {
                    match rx.try_recv() {
                        Ok(msg) => handle(&mut engine, &mut transmit, &mut out, at, msg),
                        Err(_) => break,
                    }
                }
                transmit.flush();
                engine.count_external_drops(
                    DropReason::QueueFull,
                    queue_drops.swap(0, Ordering::Relaxed),
                );
            }
            _ = ticker.tick() => {
                engine.poll(now());
            }
        }
    }
}

fn handle(
    engine: &mut Engine,
    transmit: &mut impl Transmit,
    out: &mut Vec<Output>,
    now: Millis,
    msg: Msg,
) {
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
        Msg::Vif {
            vif,
            mut buf,
            offloaded,
        } => {
            if offloaded {
                engine.receive_vif_offloaded(now, vif, &mut buf, out);
            } else {
                engine.receive_vif(now, vif, &buf, out);
            }
        }
        Msg::Underlay {
            src,
            kind,
            buf,
            segment,
        } => {
            let size = segment.map_or(buf.len(), usize::from).max(1);
            for payload in buf.chunks(size) {
                engine.receive_underlay(now, src, kind, payload, out);
            }
        }
        Msg::Query(query) => query(engine),
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
