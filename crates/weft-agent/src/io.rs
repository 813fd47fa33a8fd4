//! The real fds: each port's tap or veth, and the underlay sockets
//! (MPLSoUDP on :6635, VXLAN on :4789, GRE), all opened inside the node's
//! network namespace through `weft-system`.
//!
//! [`FdTransmit`] writes the engine's outputs (non-blocking; a full queue
//! drops the frame, as a NIC would). Reader tasks feed frames to the
//! [`Dataplane`]. [`FdPorts`] attaches ports the reconciler names, retrying
//! until the interface exists (a hypervisor may create the tap later), and
//! reports them ACTIVE.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, IoSlice};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_control::agent::AgentSession;
use weft_control::proto::PortState;
use weft_system::asyncio::{AsyncFrames, AsyncGre};
use weft_system::{
    FrameIo, GreSocket, MPLS_UDP_PORT, Netlink, Netns, PacketSocket, Tap, TapError, UnderlayError,
    VXLAN_PORT, enable_udp_gro, recv_gro, send_gso, set_socket_buffers, udp_socket,
};
use weft_vrouter::{TunnelKind, UnderlayKind, VifId, VifKind};
use weft_wire::{Coalescer, VNET_HDR_LEN};

use crate::dataplane::{Dataplane, Transmit};
use crate::host::HOST_MAC;
use crate::reconcile::Attach;

/// Largest read from a vif (a virtio-net header and a 64 KiB super-frame)
/// or from the underlay (a run of coalesced datagrams).
const READ: usize = VNET_HDR_LEN + 65_536;

/// Sockets that send tunnel traffic, one source port each; a flow's hash
/// picks one, so the fabric can spread flows over its paths (RFC 7510
/// §3, RFC 7348 §5) while each flow keeps one path.
const SOURCE_PORTS: usize = 8;

/// Receive and send buffer of every socket of the data path.
const SOCKET_BUFFER: usize = 4 << 20;

/// Largest run of datagrams handed to the kernel in one `UDP_SEGMENT` send.
const GSO_SEGMENTS: usize = 64;
const GSO_BYTES: usize = 65_000;

/// The node's underlay sockets.
#[derive(Debug, Clone)]
pub struct Underlay {
    mpls: Arc<UdpSocket>,
    vxlan: Arc<UdpSocket>,
    gre: Arc<AsyncGre>,
    senders: Arc<[std::net::UdpSocket]>,
}

impl Underlay {
    /// Binds the receiving sockets (UDP 6635 and 4789, GRE) and the
    /// sending sockets on `ip` inside `ns`. Needs a tokio runtime (and
    /// `CAP_NET_RAW` for GRE).
    pub fn open(ns: &Netns, ip: Ipv4Addr) -> Result<Underlay, UnderlayError> {
        let io_err = |what: &'static str, addr: String, op: &'static str| {
            let ns = ns.name().to_owned();
            move |source| UnderlayError::Io {
                ns,
                what,
                addr,
                op,
                source,
            }
        };
        let udp = |port| -> Result<Arc<UdpSocket>, UnderlayError> {
            let socket = udp_socket(ns, SocketAddr::V4(SocketAddrV4::new(ip, port)))?;
            // Best effort: without these each datagram is one read, and
            // bursts overflow the default buffer.
            let _ = enable_udp_gro(&socket);
            let _ = set_socket_buffers(socket.as_fd(), SOCKET_BUFFER);
            let socket = UdpSocket::from_std(socket).map_err(io_err(
                "udp",
                format!("{ip}:{port}"),
                "register with tokio",
            ))?;
            Ok(Arc::new(socket))
        };
        let gre = GreSocket::bind(ns, ip)?;
        let gre =
            AsyncGre::new(gre).map_err(io_err("gre", ip.to_string(), "register with tokio"))?;
        let senders = (0..SOURCE_PORTS)
            .map(|_| {
                let socket = udp_socket(ns, SocketAddr::V4(SocketAddrV4::new(ip, 0)))?;
                let _ = set_socket_buffers(socket.as_fd(), SOCKET_BUFFER);
                Ok(socket)
            })
            .collect::<Result<Vec<_>, UnderlayError>>()?;
        Ok(Underlay {
            mpls: udp(MPLS_UDP_PORT)?,
            vxlan: udp(VXLAN_PORT)?,
            gre: Arc::new(gre),
            senders: senders.into(),
        })
    }

    /// Starts one reader task per receiving socket, feeding `dataplane`.
    pub fn spawn_readers(&self, dataplane: &Dataplane) -> Vec<JoinHandle<()>> {
        let udp = |socket: Arc<UdpSocket>, kind: TunnelKind, dataplane: Dataplane| async move {
            let mut buf = vec![0u8; READ];
            loop {
                let read = match socket.readable().await {
                    Ok(()) => socket.try_io(Interest::READABLE, || recv_gro(&*socket, &mut buf)),
                    Err(e) => Err(e),
                };
                match read {
                    Ok((n, src, segment)) => {
                        let payload = buf.get(..n).unwrap_or_default().to_vec();
                        dataplane.underlay_run(src, kind, payload, segment);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => tracing::warn!(error = %e, ?kind, "underlay receive failed"),
                }
            }
        };
        let gre = self.gre.clone();
        let gre_dp = dataplane.clone();
        vec![
            tokio::spawn(udp(
                self.mpls.clone(),
                TunnelKind::MplsOverUdp,
                dataplane.clone(),
            )),
            tokio::spawn(udp(
                self.vxlan.clone(),
                TunnelKind::Vxlan,
                dataplane.clone(),
            )),
            tokio::spawn(async move {
                let mut buf = vec![0u8; READ];
                loop {
                    match gre.recv_from(&mut buf).await {
                        Ok((n, src)) => {
                            let payload = buf.get(..n).unwrap_or_default().to_vec();
                            gre_dp.underlay_frame(src, TunnelKind::MplsOverGre, payload);
                        }
                        Err(e) => tracing::warn!(error = %e, "GRE receive failed"),
                    }
                }
            }),
        ]
    }
}

/// Tunnel payloads held back to leave in one `UDP_SEGMENT` send: same
/// socket, same destination, all of `segment` bytes but the last.
#[derive(Debug, Default)]
struct Run {
    socket: usize,
    dst: Option<SocketAddrV4>,
    segment: usize,
    count: usize,
    /// A shorter payload ended the run.
    closed: bool,
    buf: Vec<u8>,
}

impl Run {
    fn takes(&self, socket: usize, dst: SocketAddrV4, len: usize) -> bool {
        self.dst == Some(dst)
            && self.socket == socket
            && !self.closed
            && len <= self.segment
            && self.count < GSO_SEGMENTS
            && self.buf.len() + len <= GSO_BYTES
    }
}

/// An attached vif's device; both kinds carry a virtio-net header, so the
/// kernel hands over TCP super-frames with partial checksums in one read.
#[derive(Debug)]
enum VifDevice {
    Tap(AsyncFrames<Tap>),
    Veth(AsyncFrames<PacketSocket>),
}

impl VifDevice {
    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            VifDevice::Tap(d) => d.recv(buf).await,
            VifDevice::Veth(d) => d.recv(buf).await,
        }
    }

    /// Writes a frame behind its virtio-net header.
    fn send_now(&self, hdr: &[u8; VNET_HDR_LEN], frame: &[u8]) -> io::Result<usize> {
        let parts = [IoSlice::new(hdr), IoSlice::new(frame)];
        match self {
            VifDevice::Tap(d) => d.get_ref().send_parts(&parts),
            VifDevice::Veth(d) => d.get_ref().send_parts(&parts),
        }
    }
}

type Registry = Arc<Mutex<HashMap<VifId, Arc<VifDevice>>>>;

/// The attached vifs, shared by [`FdPorts`] (writer) and [`FdTransmit`]
/// (reader).
#[derive(Debug, Clone, Default)]
pub struct VifRegistry(Registry);

/// Writes the engine's outputs to the attached vifs and the underlay.
#[derive(Debug)]
pub struct FdTransmit {
    underlay: Underlay,
    vifs: Registry,
    run: Run,
    /// Frames for `gro_vif` held back to be joined into one write.
    gro: Coalescer,
    gro_vif: Option<VifId>,
}

impl FdTransmit {
    /// Writes what the coalescer holds to its vif in one write.
    fn flush_vif(&mut self) {
        let Some(vif) = self.gro_vif.take() else {
            return;
        };
        let device = self
            .vifs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&vif)
            .cloned();
        let sent = self.gro.take(|hdr, frame| match &device {
            Some(device) => device.send_now(&hdr.to_bytes(), frame),
            None => Ok(0),
        });
        if let Some(Err(e)) = sent {
            tracing::debug!(error = %e, ?vif, "vif send dropped");
        }
    }
}

impl Transmit for FdTransmit {
    fn to_vif(&mut self, vif: VifId, frame: &[u8]) {
        if self.gro_vif == Some(vif) && self.gro.push(frame) {
            return;
        }
        self.flush_vif();
        self.gro_vif = Some(vif);
        self.gro.push(frame);
    }

    fn to_underlay(&mut self, dst: Ipv4Addr, kind: UnderlayKind, payload: &[u8]) {
        let (port, src_port) = match kind {
            UnderlayKind::MplsOverUdp { src_port } => (MPLS_UDP_PORT, src_port),
            UnderlayKind::Vxlan { src_port } => (VXLAN_PORT, src_port),
            UnderlayKind::MplsOverGre => {
                if let Err(e) = self.underlay.gre.get_ref().send_to(payload, dst) {
                    tracing::debug!(error = %e, %dst, "underlay send dropped");
                }
                return;
            }
        };
        let socket = usize::from(src_port) % self.underlay.senders.len().max(1);
        let dst = SocketAddrV4::new(dst, port);
        if !self.run.takes(socket, dst, payload.len()) {
            self.flush();
            self.run.socket = socket;
            self.run.dst = Some(dst);
            self.run.segment = payload.len();
        }
        self.run.buf.extend_from_slice(payload);
        self.run.count += 1;
        self.run.closed = payload.len() < self.run.segment;
    }

    fn flush(&mut self) {
        self.flush_vif();
        let run = &mut self.run;
        let Some(dst) = run.dst.take() else {
            return;
        };
        let Some(socket) = self.underlay.senders.get(run.socket) else {
            return;
        };
        let sent = match u16::try_from(run.segment) {
            Ok(segment) if run.count > 1 => send_gso(socket, dst, &run.buf, segment),
            _ => socket.send_to(&run.buf, dst),
        };
        match sent {
            Ok(_) => {}
            // The kernel refuses runs whose datagrams need fragmenting:
            // send them one by one.
            Err(e) if run.count > 1 && e.kind() != io::ErrorKind::WouldBlock => {
                for payload in run.buf.chunks(run.segment.max(1)) {
                    if let Err(e) = socket.send_to(payload, dst) {
                        tracing::debug!(error = %e, %dst, "underlay send dropped");
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, %dst, "underlay send dropped"),
        }
        run.buf.clear();
        run.count = 0;
        run.closed = false;
    }
}

/// What attaches and detaches ports for the controller.
pub trait Ports: Send + 'static {
    fn attach(&mut self, attach: Attach);
    fn detach(&mut self, vif: VifId);
    /// Whether an attached port counts as plugged at once (no interface
    /// to wait for); otherwise the implementation reports plugging itself.
    fn plugged_at_once(&self) -> bool {
        false
    }
}

/// Ports that are never attached (tests of the control path).
#[derive(Debug, Default)]
pub struct NoPorts;

impl Ports for NoPorts {
    fn attach(&mut self, _: Attach) {}
    fn detach(&mut self, _: VifId) {}
    fn plugged_at_once(&self) -> bool {
        true
    }
}

/// Attaches ports to real taps and veths in the node's namespace.
#[derive(Debug)]
pub struct FdPorts {
    ns: Netns,
    vifs: Registry,
    dataplane: Dataplane,
    session: Arc<AgentSession>,
    retry: Duration,
    tasks: HashMap<VifId, (JoinHandle<()>, String)>,
    plugs: mpsc::UnboundedSender<(VifId, bool)>,
    attached: AttachedPorts,
    appeared: InterfacesAppeared,
}

/// The ids of the ports whose interface the vRouter holds now; the CNI
/// endpoint waits on it so that ADD answers once the pod is reachable.
pub type AttachedPorts = Arc<tokio::sync::watch::Sender<BTreeSet<String>>>;

/// Bumped by whoever makes a port's interface (the CNI endpoint, once it
/// has plugged a pod): ports waiting for their interface look again at
/// once instead of at their next retry.
pub type InterfacesAppeared = Arc<tokio::sync::watch::Sender<u64>>;

impl FdTransmit {
    /// Writes to `underlay` and to the vifs `FdPorts` attach into `vifs`.
    pub fn new(underlay: Underlay, vifs: VifRegistry) -> Self {
        FdTransmit {
            underlay,
            vifs: vifs.0,
            run: Run::default(),
            gro: Coalescer::new(),
            gro_vif: None,
        }
    }
}

impl FdPorts {
    /// Attaches ports inside `ns`, registering their devices in `vifs`,
    /// reporting their status on `session` and their plugging on `plugs`;
    /// a missing interface is retried every `retry`.
    pub fn new(
        ns: Netns,
        vifs: VifRegistry,
        dataplane: Dataplane,
        session: Arc<AgentSession>,
        retry: Duration,
        plugs: mpsc::UnboundedSender<(VifId, bool)>,
    ) -> Self {
        FdPorts {
            ns,
            vifs: vifs.0,
            dataplane,
            session,
            retry,
            tasks: HashMap::new(),
            plugs,
            attached: Arc::new(tokio::sync::watch::Sender::new(BTreeSet::new())),
            appeared: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// Where makers of interfaces say that one appeared.
    pub fn appeared(&self) -> InterfacesAppeared {
        self.appeared.clone()
    }

    /// Where the ports' attachment is published.
    pub fn attached(&self) -> AttachedPorts {
        self.attached.clone()
    }
}

fn open(ns: &Netns, attach: &Attach) -> Result<VifDevice, String> {
    let mut netlink = Netlink::open(ns).map_err(|e| e.to_string())?;
    if attach.kind == VifKind::Host {
        // The agent's own tap: created here, held as long as it runs.
        let tap = Tap::open_offload(ns, &attach.interface).map_err(|e| e.to_string())?;
        netlink
            .set_mac(&attach.interface, HOST_MAC)
            .map_err(|e| e.to_string())?;
        netlink
            .set_up(&attach.interface)
            .map_err(|e| e.to_string())?;
        return Ok(VifDevice::Tap(
            AsyncFrames::new(tap).map_err(|e| e.to_string())?,
        ));
    }
    // Wait for the interface: Tap::open would otherwise create it.
    netlink.link(&attach.interface).map_err(|e| e.to_string())?;
    // Best effort, and before a packet socket binds to it (a tap starts
    // down; bound to a down link the socket starts with ENETDOWN).
    let _ = netlink.set_up(&attach.interface);
    let packet_socket = || -> Result<VifDevice, String> {
        let socket = PacketSocket::bind_name(ns, &attach.interface).map_err(|e| e.to_string())?;
        socket
            .enable_vnet_hdr()
            .map_err(|e| format!("enable virtio-net header: {e}"))?;
        let _ = set_socket_buffers(socket.as_fd(), SOCKET_BUFFER);
        Ok(VifDevice::Veth(
            AsyncFrames::new(socket).map_err(|e| e.to_string())?,
        ))
    };
    let device = match attach.kind {
        // A tap nobody holds is the workload's wire: the agent takes its fd.
        // A tap a hypervisor holds (the kernel refuses a second fd) is
        // reached like a veth, from its host side.
        VifKind::Tap => match Tap::open_offload(ns, &attach.interface) {
            Ok(tap) => VifDevice::Tap(AsyncFrames::new(tap).map_err(|e| e.to_string())?),
            Err(TapError::Io { source, .. }) if source.kind() == io::ErrorKind::ResourceBusy => {
                packet_socket()?
            }
            Err(e) => return Err(e.to_string()),
        },
        VifKind::Veth => packet_socket()?,
        VifKind::Host => return Err("the host interface is opened above".into()),
    };
    Ok(device)
}

/// Whether the interface still exists in `ns` (`true` when that cannot be
/// told, so a passing error never detaches a port).
async fn still_there(ns: &Netns, interface: &str) -> bool {
    let (ns, interface) = (ns.clone(), interface.to_owned());
    tokio::task::spawn_blocking(move || match Netlink::open(&ns) {
        Ok(mut netlink) => netlink.link(&interface).is_ok(),
        Err(_) => true,
    })
    .await
    .unwrap_or(true)
}

/// One port's life on this node: wait for its interface (looking again
/// every `retry`, and at once when `appeared` says one was made), attach it
/// and report it ACTIVE, feed what it sends to the data path; when the
/// interface goes away (the pod or VM is gone), report the port DOWN and
/// wait for it again.
#[allow(clippy::too_many_arguments)]
async fn serve_port(
    ns: Netns,
    vifs: Registry,
    dataplane: Dataplane,
    session: Arc<AgentSession>,
    retry: Duration,
    plugs: mpsc::UnboundedSender<(VifId, bool)>,
    attached: AttachedPorts,
    appeared: InterfacesAppeared,
    attach: Attach,
) {
    let vif = attach.vif;
    let mut appeared = appeared.subscribe();
    loop {
        let mut logged = false;
        let device = loop {
            // Seen before looking: an interface made during the look
            // wakes the wait below.
            appeared.borrow_and_update();
            let (ns2, a2) = (ns.clone(), attach.clone());
            match tokio::task::spawn_blocking(move || open(&ns2, &a2)).await {
                Ok(Ok(device)) => break Arc::new(device),
                Ok(Err(why)) if !logged => {
                    tracing::info!(port = %attach.port_id, interface = %attach.interface, %why, "waiting for interface");
                    logged = true;
                }
                _ => {}
            }
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                // A dropped sender disables this branch: the retry remains.
                Ok(()) = appeared.changed() => {}
            }
        };
        vifs.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(vif, device.clone());
        tracing::info!(port = %attach.port_id, interface = %attach.interface, ?vif, "port attached");
        let _ = plugs.send((vif, true));
        let is_port = attach.kind != VifKind::Host;
        if is_port {
            attached.send_modify(|ports| {
                ports.insert(attach.port_id.clone());
            });
            session.port_status(attach.port_id.clone(), PortState::Active);
        }
        let mut buf = vec![0u8; READ];
        loop {
            match device.recv(&mut buf).await {
                Ok(n) => {
                    dataplane.vif_offloaded(vif, buf.get(..n).unwrap_or_default().to_vec());
                }
                Err(e) => {
                    if !still_there(&ns, &attach.interface).await {
                        break;
                    }
                    tracing::warn!(error = %e, ?vif, "vif receive failed");
                    tokio::time::sleep(retry).await;
                }
            }
        }
        vifs.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&vif);
        tracing::info!(port = %attach.port_id, interface = %attach.interface, ?vif, "interface gone; port down");
        let _ = plugs.send((vif, false));
        if is_port {
            attached.send_modify(|ports| {
                ports.remove(&attach.port_id);
            });
            session.port_status(attach.port_id.clone(), PortState::Down);
        }
    }
}

impl Ports for FdPorts {
    fn attach(&mut self, attach: Attach) {
        self.detach(attach.vif);
        let vif = attach.vif;
        let port_id = attach.port_id.clone();
        let task = tokio::spawn(serve_port(
            self.ns.clone(),
            self.vifs.clone(),
            self.dataplane.clone(),
            self.session.clone(),
            self.retry,
            self.plugs.clone(),
            self.attached.clone(),
            self.appeared.clone(),
            attach,
        ));
        self.tasks.insert(vif, (task, port_id));
    }

    fn detach(&mut self, vif: VifId) {
        if let Some((task, port_id)) = self.tasks.remove(&vif) {
            task.abort();
            self.attached.send_modify(|ports| {
                ports.remove(&port_id);
            });
        }
        self.vifs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&vif);
    }
}

impl Drop for FdPorts {
    fn drop(&mut self) {
        for (task, _) in self.tasks.values() {
            task.abort();
        }
    }
}
