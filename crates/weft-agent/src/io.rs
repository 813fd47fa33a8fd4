//! The real fds: each port's tap or veth, and the underlay sockets
//! (MPLSoUDP on :6635, VXLAN on :4789, GRE), all opened inside the node's
//! network namespace through `weft-system`.
//!
//! [`FdTransmit`] writes the engine's outputs (non-blocking; a full queue
//! drops the frame, as a NIC would). Reader tasks feed frames to the
//! [`Dataplane`]. [`FdPorts`] attaches ports the reconciler names, retrying
//! until the interface exists (a hypervisor may create the tap later), and
//! reports them ACTIVE.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use weft_control::agent::AgentSession;
use weft_control::proto::PortState;
use weft_system::asyncio::{AsyncFrames, AsyncGre};
use weft_system::{
    FrameIo, GreSocket, MPLS_UDP_PORT, Netlink, Netns, PacketSocket, Tap, UnderlayError,
    VXLAN_PORT, udp_socket,
};
use weft_vrouter::{TunnelKind, UnderlayKind, VifId, VifKind};

use crate::dataplane::{Dataplane, Transmit};
use crate::reconcile::Attach;

/// Largest frame read from a vif or the underlay.
const FRAME: usize = 65_536;

/// The node's underlay sockets.
#[derive(Debug, Clone)]
pub struct Underlay {
    mpls: Arc<UdpSocket>,
    vxlan: Arc<UdpSocket>,
    gre: Arc<AsyncGre>,
}

impl Underlay {
    /// Binds the three sockets on `ip` inside `ns`. Needs a tokio runtime
    /// (and `CAP_NET_RAW` for GRE).
    pub fn open(ns: &Netns, ip: Ipv4Addr) -> Result<Underlay, UnderlayError> {
        let udp = |port| -> Result<Arc<UdpSocket>, UnderlayError> {
            let socket = udp_socket(ns, SocketAddr::V4(SocketAddrV4::new(ip, port)))?;
            let socket = UdpSocket::from_std(socket).map_err(|source| UnderlayError::Io {
                ns: ns.name().to_owned(),
                what: "udp",
                addr: format!("{ip}:{port}"),
                op: "register with tokio",
                source,
            })?;
            Ok(Arc::new(socket))
        };
        let gre = GreSocket::bind(ns, ip)?;
        let gre = AsyncGre::new(gre).map_err(|source| UnderlayError::Io {
            ns: ns.name().to_owned(),
            what: "gre",
            addr: ip.to_string(),
            op: "register with tokio",
            source,
        })?;
        Ok(Underlay {
            mpls: udp(MPLS_UDP_PORT)?,
            vxlan: udp(VXLAN_PORT)?,
            gre: Arc::new(gre),
        })
    }

    /// Starts one reader task per socket, feeding `dataplane`.
    pub fn spawn_readers(&self, dataplane: &Dataplane) -> Vec<JoinHandle<()>> {
        let udp = |socket: Arc<UdpSocket>, kind: TunnelKind, dataplane: Dataplane| async move {
            let mut buf = vec![0u8; FRAME];
            loop {
                match socket.recv_from(&mut buf).await {
                    Ok((n, SocketAddr::V4(src))) => {
                        let payload = buf.get(..n).unwrap_or_default().to_vec();
                        dataplane.underlay_frame(*src.ip(), kind, payload);
                    }
                    Ok(_) => {}
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
                let mut buf = vec![0u8; FRAME];
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

/// An attached vif's device.
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

    fn send_now(&self, frame: &[u8]) -> io::Result<usize> {
        match self {
            VifDevice::Tap(d) => d.get_ref().send_frame(frame),
            VifDevice::Veth(d) => d.get_ref().send_frame(frame),
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
}

impl Transmit for FdTransmit {
    fn to_vif(&mut self, vif: VifId, frame: &[u8]) {
        let device = self
            .vifs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&vif)
            .cloned();
        if let Some(device) = device
            && let Err(e) = device.send_now(frame)
        {
            tracing::debug!(error = %e, ?vif, "vif send dropped");
        }
    }

    fn to_underlay(&mut self, dst: Ipv4Addr, kind: UnderlayKind, payload: &[u8]) {
        // The sockets are bound to the tunnel ports, so the flow-hash source
        // port the engine suggests is not used.
        let sent = match kind {
            UnderlayKind::MplsOverUdp { .. } => self
                .underlay
                .mpls
                .try_send_to(payload, SocketAddr::from((dst, MPLS_UDP_PORT))),
            UnderlayKind::Vxlan { .. } => self
                .underlay
                .vxlan
                .try_send_to(payload, SocketAddr::from((dst, VXLAN_PORT))),
            UnderlayKind::MplsOverGre => self.underlay.gre.get_ref().send_to(payload, dst),
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, %dst, "underlay send dropped");
        }
    }
}

/// What attaches and detaches ports for the controller.
pub trait Ports: Send + 'static {
    fn attach(&mut self, attach: Attach);
    fn detach(&mut self, vif: VifId);
}

/// Ports that are never attached (tests of the control path).
#[derive(Debug, Default)]
pub struct NoPorts;

impl Ports for NoPorts {
    fn attach(&mut self, _: Attach) {}
    fn detach(&mut self, _: VifId) {}
}

/// Attaches ports to real taps and veths in the node's namespace.
#[derive(Debug)]
pub struct FdPorts {
    ns: Netns,
    vifs: Registry,
    dataplane: Dataplane,
    session: Arc<AgentSession>,
    retry: Duration,
    tasks: HashMap<VifId, JoinHandle<()>>,
}

impl FdTransmit {
    /// Writes to `underlay` and to the vifs `FdPorts` attach into `vifs`.
    pub fn new(underlay: Underlay, vifs: VifRegistry) -> Self {
        FdTransmit {
            underlay,
            vifs: vifs.0,
        }
    }
}

impl FdPorts {
    /// Attaches ports inside `ns`, registering their devices in `vifs` and
    /// reporting them on `session`; a missing interface is retried every
    /// `retry`.
    pub fn new(
        ns: Netns,
        vifs: VifRegistry,
        dataplane: Dataplane,
        session: Arc<AgentSession>,
        retry: Duration,
    ) -> Self {
        FdPorts {
            ns,
            vifs: vifs.0,
            dataplane,
            session,
            retry,
            tasks: HashMap::new(),
        }
    }
}

fn open(ns: &Netns, attach: &Attach) -> Result<VifDevice, String> {
    // Wait for the interface: Tap::open would otherwise create it.
    let mut netlink = Netlink::open(ns).map_err(|e| e.to_string())?;
    netlink.link(&attach.interface).map_err(|e| e.to_string())?;
    let device = match attach.kind {
        VifKind::Tap => {
            let tap = Tap::open(ns, &attach.interface).map_err(|e| e.to_string())?;
            VifDevice::Tap(AsyncFrames::new(tap).map_err(|e| e.to_string())?)
        }
        VifKind::Veth => {
            let socket =
                PacketSocket::bind_name(ns, &attach.interface).map_err(|e| e.to_string())?;
            VifDevice::Veth(AsyncFrames::new(socket).map_err(|e| e.to_string())?)
        }
    };
    // Best effort: a tap the agent opened first starts down.
    let _ = netlink.set_up(&attach.interface);
    Ok(device)
}

impl Ports for FdPorts {
    fn attach(&mut self, attach: Attach) {
        self.detach(attach.vif);
        let ns = self.ns.clone();
        let vifs = self.vifs.clone();
        let dataplane = self.dataplane.clone();
        let session = self.session.clone();
        let retry = self.retry;
        let vif = attach.vif;
        let task = tokio::spawn(async move {
            let mut logged = false;
            let device = loop {
                let (ns2, a2) = (ns.clone(), attach.clone());
                match tokio::task::spawn_blocking(move || open(&ns2, &a2)).await {
                    Ok(Ok(device)) => break Arc::new(device),
                    Ok(Err(why)) if !logged => {
                        tracing::info!(port = %attach.port_id, interface = %attach.interface, %why, "waiting for interface");
                        logged = true;
                    }
                    _ => {}
                }
                tokio::time::sleep(retry).await;
            };
            vifs.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(vif, device.clone());
            tracing::info!(port = %attach.port_id, interface = %attach.interface, ?vif, "port attached");
            session.port_status(attach.port_id.clone(), PortState::Active);
            let mut buf = vec![0u8; FRAME];
            loop {
                match device.recv(&mut buf).await {
                    Ok(n) => {
                        dataplane.vif_frame(vif, buf.get(..n).unwrap_or_default().to_vec());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, ?vif, "vif receive failed");
                        tokio::time::sleep(retry).await;
                    }
                }
            }
        });
        self.tasks.insert(vif, task);
    }

    fn detach(&mut self, vif: VifId) {
        if let Some(task) = self.tasks.remove(&vif) {
            task.abort();
        }
        self.vifs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&vif);
    }
}

impl Drop for FdPorts {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}
