//! The agent's local CNI endpoint (DESIGN.md §3.7): a unix socket the
//! `weft-cni` plugin talks to ([`weft_api::cni`] is the contract).
//!
//! * ADD — asks the server for the pod's port at once
//!   (`POST /v1/pod-ports`, made if kube-manager has not yet), records the
//!   attachment, makes the veth (host end named from the port id, so the
//!   vRouter attaches it when the port arrives in the node's config; the
//!   container end renamed to `CNI_IFNAME` with the port's MAC, address,
//!   MTU and a default route via the subnet's gateway) and answers the
//!   result. A repeated ADD for the same container id + ifname answers the
//!   recorded result (re-making the veth if it went missing).
//! * DEL — removes the veth and the record, then deletes the port on the
//!   server (unless another attachment still uses it); if the server is
//!   away the deletion is queued in `state_dir/cni/port-deletes` and
//!   retried. DEL always succeeds.
//! * CHECK — the record exists, both ends exist, the MAC and addresses are
//!   the port's.
//! * STATUS — whether ADD can be served (the server's API is known).
//! * GC — DEL for every recorded attachment not in the runtime's list.
//!
//! The plugin spools DELs it could not deliver (agent down) in a directory
//! the agent drains at start and on every retry tick.

mod plumb;
mod records;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Mutex;
use weft_api::client::{Client, ClientError};
use weft_api::cni::{
    CniAdd, CniAttachment, CniDns, CniInterface, CniIp, CniPod, CniReply, CniRequest, CniRoute,
    CniTarget, code,
};
use weft_api::{PodPort, PodPortRequest, Ports};
use weft_system::Netns;
use weft_types::MacAddr;

pub use plumb::PlumbError;
pub use records::{Attachment, RecordError, Records};

/// The most a tunnel adds to a pod's packet: VXLAN over IPv4 (outer IPv4
/// 20 + UDP 8 + VXLAN 8 + inner Ethernet 14); MPLSoUDP adds 32, MPLSoGRE 28.
pub const TUNNEL_OVERHEAD: u32 = 50;

/// The pods' MTU when the underlay's cannot be found.
const FALLBACK_MTU: u32 = 1500 - TUNNEL_OVERHEAD;

/// The MTU of the interface holding `underlay` in `ns`, less the tunnel
/// overhead.
fn overlay_mtu(ns: &Netns, underlay: std::net::Ipv4Addr) -> Option<u32> {
    let mut nl = weft_system::Netlink::open(ns).ok()?;
    let links = nl.links().ok()?;
    links.into_iter().find_map(|link| {
        let addresses = nl.addresses(&link.name).ok()?;
        addresses
            .iter()
            .any(|a| a.addr() == IpAddr::V4(underlay))
            .then(|| link.mtu.saturating_sub(TUNNEL_OVERHEAD))
    })
}

/// The largest request the endpoint reads.
const MAX_REQUEST: u64 = 1 << 20;

/// What the CNI endpoint is told.
#[derive(Clone, Debug)]
pub struct CniSettings {
    /// The unix socket the plugin connects to.
    pub socket: PathBuf,
    /// `http://host:port` of the server's native API.
    pub api: Option<String>,
    /// MTU of pod interfaces unless the plugin's configuration sets one;
    /// `None`: the underlay interface's MTU less the largest tunnel
    /// overhead ([`TUNNEL_OVERHEAD`]). A network with an MTU of its own
    /// gives its pods that one when it is lower.
    pub mtu: Option<u32>,
    /// Where the plugin spools DELs while the agent is away.
    pub spool: PathBuf,
    /// How often queued deletions are retried.
    pub retry: Duration,
    /// How long ADD waits for the vRouter to take the pod's interface
    /// before answering anyway (the pod is reachable once it does).
    pub attach_wait: Duration,
}

impl CniSettings {
    /// Defaults for an agent whose state is in `state_dir`.
    pub fn new(socket: impl Into<PathBuf>, state_dir: &Path) -> CniSettings {
        CniSettings {
            socket: socket.into(),
            api: None,
            mtu: None,
            spool: state_dir.join("cni-spool"),
            retry: Duration::from_secs(2),
            attach_wait: Duration::from_secs(10),
        }
    }
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum CniStartError {
    #[error("cannot listen on {path}")]
    Listen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the CNI records")]
    Records(#[from] RecordError),
    #[error("'{0}' is not a usable server API URL")]
    Api(String),
}

/// The CNI endpoint's state. Requests are served one at a time (serialising
/// them makes ADD/DEL races on one container impossible), except that an
/// ADD waits for the vRouter to take its pod's interface after it lets the
/// next request in: a burst of pods is plugged one after the other but
/// waits for the vRouter together.
#[derive(Debug)]
pub struct CniService {
    node: String,
    node_ns: Netns,
    records: Records,
    client: Option<Client>,
    mtu: u32,
    /// The ports the vRouter holds; ADD answers once its port is among them.
    attached: Option<tokio::sync::watch::Receiver<std::collections::BTreeSet<String>>>,
    attach_wait: Duration,
    /// Told when a pod's interface is made, so the vRouter takes it at once.
    appeared: Option<crate::io::InterfacesAppeared>,
    lock: Mutex<()>,
}

fn error(code: u32, msg: impl Into<String>, details: impl ToString) -> CniReply {
    CniReply::error(code, msg, details.to_string())
}

/// The whole chain of an error's messages.
/// The container's network namespace at `netns` (`CNI_NETNS`).
fn container_ns(netns: &str) -> Result<Netns, CniReply> {
    plumb::container_ns(netns).map_err(|e| {
        error(
            code::INVALID_ENVIRONMENT,
            format!("CNI_NETNS {netns} is not a network namespace"),
            chain(&e),
        )
    })
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn check_target(target: &CniTarget) -> Result<(), CniReply> {
    if !records::safe_name(&target.container_id) {
        return Err(error(
            code::INVALID_ENVIRONMENT,
            "CNI_CONTAINERID must be letters, digits, '_', '.' or '-'",
            &target.container_id,
        ));
    }
    if !records::safe_name(&target.ifname) || target.ifname.len() > 15 {
        return Err(error(
            code::INVALID_ENVIRONMENT,
            "CNI_IFNAME must be a plain interface name of at most 15 characters",
            &target.ifname,
        ));
    }
    Ok(())
}

/// A blocking netlink job on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PlumbError> + Send + 'static,
) -> Result<T, PlumbError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(PlumbError::Mismatch(format!("netlink task failed: {e}"))))
}

fn attachment_of(pod: &PodPort, host_if: &str, target: &CniTarget, mtu: u32) -> CniAttachment {
    let mut ips = Vec::new();
    let mut routes = Vec::new();
    let mut dns = CniDns::default();
    for address in &pod.addresses {
        ips.push(CniIp {
            address: address.address.clone(),
            gateway: address.gateway.clone(),
            interface: 1,
        });
        if let Some(gw) = &address.gateway {
            let dst = if gw.contains(':') {
                "::/0"
            } else {
                "0.0.0.0/0"
            };
            if !routes.iter().any(|r: &CniRoute| r.dst == dst) {
                routes.push(CniRoute {
                    dst: dst.into(),
                    gw: Some(gw.clone()),
                });
            }
        }
        if let Some(server) = &address.dns_server
            && !dns.nameservers.contains(server)
        {
            dns.nameservers.push(server.clone());
        }
    }
    CniAttachment {
        interfaces: vec![
            CniInterface {
                name: host_if.to_owned(),
                mac: String::new(),
                sandbox: None,
                mtu: Some(mtu),
            },
            CniInterface {
                name: target.ifname.clone(),
                mac: pod.port.mac_address.to_string(),
                sandbox: target.netns.clone(),
                mtu: Some(mtu),
            },
        ],
        ips,
        routes,
        dns,
        port_id: pod.port.meta.id.to_string(),
    }
}

/// The addresses, MAC and gateway of a recorded result.
fn plan_of(result: &CniAttachment) -> Result<(MacAddr, Vec<IpNet>, Option<IpAddr>), String> {
    let container = result
        .interfaces
        .get(1)
        .ok_or("the record has no container interface")?;
    let mac = MacAddr::from_str(&container.mac).map_err(|e| format!("recorded MAC: {e}"))?;
    let mut addresses = Vec::new();
    let mut gateway = None;
    for ip in &result.ips {
        addresses.push(IpNet::from_str(&ip.address).map_err(|e| format!("recorded address: {e}"))?);
        if gateway.is_none()
            && let Some(gw) = &ip.gateway
        {
            gateway = Some(IpAddr::from_str(gw).map_err(|e| format!("recorded gateway: {e}"))?);
        }
    }
    Ok((mac, addresses, gateway))
}

impl CniService {
    /// The endpoint of node `node` whose underlay address is `underlay`
    /// (to size pods' MTU), keeping its records in `state_dir`.
    pub fn new(
        node: String,
        node_ns: Netns,
        underlay: std::net::Ipv4Addr,
        state_dir: &Path,
        settings: &CniSettings,
    ) -> Result<CniService, CniStartError> {
        let mtu = settings.mtu.unwrap_or_else(|| {
            overlay_mtu(&node_ns, underlay).unwrap_or_else(|| {
                tracing::warn!(%underlay, mtu = FALLBACK_MTU, "underlay interface not found; pods get the fallback MTU");
                FALLBACK_MTU
            })
        });
        tracing::info!(mtu, "pods' MTU");
        let client = settings
            .api
            .as_deref()
            .map(|url| Client::new(url).map_err(|_| CniStartError::Api(url.to_owned())))
            .transpose()?;
        Ok(CniService {
            node,
            node_ns,
            records: Records::open(state_dir, &settings.spool)?,
            client,
            mtu,
            attached: None,
            attach_wait: settings.attach_wait,
            appeared: None,
            lock: Mutex::new(()),
        })
    }

    /// Makes ADD wait until the vRouter holds the pod's interface, and
    /// tell `appeared` when it has made one.
    pub fn wait_for_attachment(
        mut self,
        attached: tokio::sync::watch::Receiver<std::collections::BTreeSet<String>>,
        appeared: crate::io::InterfacesAppeared,
    ) -> CniService {
        self.attached = Some(attached);
        self.appeared = Some(appeared);
        self
    }

    /// Waits (bounded) until the vRouter holds `port_id`'s interface.
    async fn attachment(&self, port_id: &str) {
        let Some(attached) = &self.attached else {
            return;
        };
        let mut attached = attached.clone();
        let waited = tokio::time::timeout(
            self.attach_wait,
            attached.wait_for(|ports| ports.contains(port_id)),
        )
        .await;
        if !matches!(waited, Ok(Ok(_))) {
            tracing::warn!(
                port = port_id,
                wait = ?self.attach_wait,
                "the vRouter has not taken the pod's interface yet; answering ADD anyway"
            );
        }
    }

    /// Serves one request.
    pub async fn handle(&self, request: CniRequest) -> CniReply {
        let one_at_a_time = self.lock.lock().await;
        match request {
            CniRequest::Add(add) => match self.add(add).await {
                Ok((reply, port_id)) => {
                    drop(one_at_a_time);
                    self.attachment(&port_id).await;
                    reply
                }
                Err(e) => e,
            },
            CniRequest::Del(target) => self.del(&target).await.unwrap_or_else(|e| e),
            CniRequest::Check(target) => self.check(&target).await.unwrap_or_else(|e| e),
            CniRequest::Status => match self.client {
                Some(_) => CniReply::Done,
                None => error(
                    code::NOT_AVAILABLE,
                    "the agent was not told the server's API (--api)",
                    "",
                ),
            },
            CniRequest::Gc { valid } => self.gc(&valid).await.unwrap_or_else(|e| e),
        }
    }

    fn record_error(e: &RecordError) -> CniReply {
        error(
            code::IO_FAILURE,
            "cannot use the agent's CNI records",
            chain(e),
        )
    }

    /// Plugs the pod; the reply, and the port whose attachment it should
    /// wait for.
    async fn add(&self, add: CniAdd) -> Result<(CniReply, String), CniReply> {
        let target = &add.target;
        check_target(target)?;
        let netns = target.netns.clone().ok_or_else(|| {
            error(
                code::INVALID_ENVIRONMENT,
                "CNI_NETNS is required for ADD",
                "",
            )
        })?;
        let container = container_ns(&netns)?;
        // Idempotent: the same container + ifname answers what it answered.
        if let Some(known) = self
            .records
            .get(&target.container_id, &target.ifname)
            .map_err(|e| Self::record_error(&e))?
        {
            let (mac, addresses, gateway) = plan_of(&known.result)
                .map_err(|e| error(code::IO_FAILURE, "the CNI record is damaged", e))?;
            let mtu = known.result.interfaces[1].mtu.unwrap_or(self.mtu);
            let (node, host_if, ifname) = (
                self.node_ns.clone(),
                known.host_interface.clone(),
                target.ifname.clone(),
            );
            let addrs = addresses.clone();
            let intact = blocking(move || {
                plumb::check(&node, &container, &host_if, &ifname, mac, &addrs)?;
                Ok(container)
            })
            .await;
            if intact.is_err() {
                let container = container_ns(&netns)?;
                self.plumb(
                    &known.host_interface,
                    target,
                    container,
                    mac,
                    addresses,
                    gateway,
                    mtu,
                )
                .await?;
            }
            return Ok((CniReply::Attached(Box::new(known.result)), known.port_id));
        }
        let pod = target.pod.as_ref().ok_or_else(|| {
            error(
                code::INVALID_ENVIRONMENT,
                "CNI_ARGS must name the pod (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID)",
                "",
            )
        })?;
        let uid = uuid::Uuid::parse_str(&pod.uid).map_err(|e| {
            error(
                code::INVALID_ENVIRONMENT,
                format!("K8S_POD_UID '{}' is not a UUID", pod.uid),
                e,
            )
        })?;
        let client = self.client.as_ref().ok_or_else(|| {
            error(
                code::NOT_AVAILABLE,
                "the agent was not told the server's API (--api)",
                "",
            )
        })?;
        let request = PodPortRequest {
            cluster: add
                .cluster
                .clone()
                .unwrap_or_else(|| weft_api::DEFAULT_CLUSTER.into()),
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            uid,
            node: self.node.clone(),
        };
        let port = client
            .pod_port(&request)
            .await
            .map_err(|e| server_error(&e, pod))?;
        let host_if = weft_model::compile::interface_name(&port.port);
        // The network's MTU, never more than this node's setting allows.
        let node_mtu = add.mtu.unwrap_or(self.mtu);
        let mtu = port.mtu.map_or(node_mtu, |network| network.min(node_mtu));
        let result = attachment_of(&port, &host_if, target, mtu);
        let (mac, addresses, gateway) =
            plan_of(&result).map_err(|e| error(code::SERVER_REFUSED, "unusable port", e))?;
        // Recorded before plumbing: a DEL after a crash here still finds it.
        let record = Attachment {
            container_id: target.container_id.clone(),
            ifname: target.ifname.clone(),
            netns: Some(netns),
            port_id: result.port_id.clone(),
            pod_uid: Some(pod.uid.clone()),
            host_interface: host_if.clone(),
            result: result.clone(),
        };
        self.records
            .put(&record)
            .map_err(|e| Self::record_error(&e))?;
        // The pod is back before an earlier DEL reached the server: that
        // deletion must not remove the port now in use again.
        self.records
            .port_delete_done(&record.port_id)
            .map_err(|e| Self::record_error(&e))?;
        if let Err(reply) = self
            .plumb(&host_if, target, container, mac, addresses, gateway, mtu)
            .await
        {
            let node = self.node_ns.clone();
            let _ = blocking(move || plumb::unplug(&node, &host_if)).await;
            let _ = self.records.forget(&target.container_id, &target.ifname);
            return Err(reply);
        }
        tracing::info!(
            container = %target.container_id, pod = %format!("{}/{}", pod.namespace, pod.name),
            port = %result.port_id, "pod plugged"
        );
        let port_id = result.port_id.clone();
        Ok((CniReply::Attached(Box::new(result)), port_id))
    }

    #[allow(clippy::too_many_arguments)]
    async fn plumb(
        &self,
        host_if: &str,
        target: &CniTarget,
        container: Netns,
        mac: MacAddr,
        addresses: Vec<IpNet>,
        gateway: Option<IpAddr>,
        mtu: u32,
    ) -> Result<(), CniReply> {
        let node = self.node_ns.clone();
        let host_if = host_if.to_owned();
        let ifname = target.ifname.clone();
        blocking(move || {
            plumb::plug(
                &node,
                &container,
                &plumb::PodInterface {
                    host_if: &host_if,
                    ifname: &ifname,
                    mac,
                    addresses: &addresses,
                    gateway,
                    mtu,
                },
            )
        })
        .await
        .map_err(|e| {
            error(
                code::PLUMBING_FAILED,
                "cannot make the pod's interface",
                chain(&e),
            )
        })?;
        if let Some(appeared) = &self.appeared {
            appeared.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(())
    }

    async fn del(&self, target: &CniTarget) -> Result<CniReply, CniReply> {
        check_target(target)?;
        let known = self
            .records
            .get(&target.container_id, &target.ifname)
            .map_err(|e| Self::record_error(&e))?;
        let Some(known) = known else {
            // Unknown (never added, or deleted already): nothing to do.
            return Ok(CniReply::Done);
        };
        let node = self.node_ns.clone();
        let host_if = known.host_interface.clone();
        if let Err(e) = blocking(move || plumb::unplug(&node, &host_if)).await {
            return Err(error(
                code::IO_FAILURE,
                "cannot remove the pod's interface",
                chain(&e),
            ));
        }
        self.records
            .forget(&target.container_id, &target.ifname)
            .map_err(|e| Self::record_error(&e))?;
        let still_used = self
            .records
            .all()
            .map_err(|e| Self::record_error(&e))?
            .iter()
            .any(|a| a.port_id == known.port_id);
        if !still_used {
            // Queued first, so a crash or an absent server loses nothing.
            self.records
                .queue_port_delete(&known.port_id)
                .map_err(|e| Self::record_error(&e))?;
            self.delete_port(&known.port_id).await;
        }
        tracing::info!(container = %target.container_id, port = %known.port_id, "pod unplugged");
        Ok(CniReply::Done)
    }

    /// Deletes a queued port on the server; leaves it queued if the server
    /// cannot be reached.
    async fn delete_port(&self, port_id: &str) -> bool {
        let Some(client) = &self.client else {
            return false;
        };
        let in_use = self
            .records
            .all()
            .is_ok_and(|all| all.iter().any(|a| a.port_id == port_id));
        let done = if in_use {
            tracing::info!(
                port = port_id,
                "queued deletion dropped: the port is in use again"
            );
            true
        } else {
            self.delete_on_server(client, port_id).await
        };
        if done && let Err(e) = self.records.port_delete_done(port_id) {
            tracing::error!(error = %chain(&e), "cannot unqueue a port deletion");
        }
        done
    }

    async fn delete_on_server(&self, client: &Client, port_id: &str) -> bool {
        match client.delete::<Ports>(port_id).await {
            Ok(_) => true,
            Err(ClientError::Api { status, .. }) if status.as_u16() == 404 => true,
            Err(ClientError::Api { status, detail }) if status.is_client_error() => {
                tracing::error!(port = port_id, %detail, "the server refuses to delete the port");
                true
            }
            Err(e) => {
                tracing::warn!(port = port_id, error = %chain(&e), "port deletion queued");
                false
            }
        }
    }

    async fn check(&self, target: &CniTarget) -> Result<CniReply, CniReply> {
        check_target(target)?;
        let netns = target.netns.clone().ok_or_else(|| {
            error(
                code::INVALID_ENVIRONMENT,
                "CNI_NETNS is required for CHECK",
                "",
            )
        })?;
        let known = self
            .records
            .get(&target.container_id, &target.ifname)
            .map_err(|e| Self::record_error(&e))?
            .ok_or_else(|| {
                error(
                    code::UNKNOWN_CONTAINER,
                    format!(
                        "container {} has no interface {} on this node",
                        target.container_id, target.ifname
                    ),
                    "",
                )
            })?;
        let container = container_ns(&netns)?;
        let (mac, addresses, _) = plan_of(&known.result)
            .map_err(|e| error(code::IO_FAILURE, "the CNI record is damaged", e))?;
        let node = self.node_ns.clone();
        let host_if = known.host_interface.clone();
        let ifname = target.ifname.clone();
        blocking(move || plumb::check(&node, &container, &host_if, &ifname, mac, &addresses))
            .await
            .map_err(|e| {
                error(
                    code::PLUMBING_FAILED,
                    "the pod's interface is not as ADD made it",
                    chain(&e),
                )
            })?;
        Ok(CniReply::Attached(Box::new(known.result)))
    }

    async fn gc(&self, valid: &[(String, String)]) -> Result<CniReply, CniReply> {
        let all = self.records.all().map_err(|e| Self::record_error(&e))?;
        for stale in all.iter().filter(|a| {
            !valid
                .iter()
                .any(|(cid, ifname)| *cid == a.container_id && *ifname == a.ifname)
        }) {
            tracing::info!(container = %stale.container_id, "garbage-collecting an attachment");
            self.del(&CniTarget {
                container_id: stale.container_id.clone(),
                ifname: stale.ifname.clone(),
                netns: stale.netns.clone(),
                pod: None,
            })
            .await?;
        }
        Ok(CniReply::Done)
    }

    /// Finishes what was left: DELs the plugin spooled while the agent was
    /// away, and port deletions the server has not confirmed.
    pub async fn catch_up(&self) {
        let _one_at_a_time = self.lock.lock().await;
        match self.records.spooled() {
            Ok(spooled) => {
                for (path, target) in spooled {
                    match self.del(&target).await {
                        Ok(_) => {
                            tracing::info!(container = %target.container_id, "spooled DEL done");
                            if let Err(e) = self.records.take_spooled(&path) {
                                tracing::error!(error = %chain(&e), "cannot remove a spooled DEL");
                            }
                        }
                        Err(reply) => tracing::warn!(?reply, "spooled DEL failed; kept"),
                    }
                }
            }
            Err(e) => tracing::error!(error = %chain(&e), "cannot read the CNI spool"),
        }
        match self.records.pending_port_deletes() {
            Ok(ports) => {
                for port in ports {
                    self.delete_port(&port).await;
                }
            }
            Err(e) => tracing::error!(error = %chain(&e), "cannot read queued port deletions"),
        }
    }

    /// Serves the plugin on `settings.socket` and retries queued work every
    /// `settings.retry`, until the returned task is aborted. `None` when a
    /// live agent already serves that socket (two agents on one machine
    /// given the same path): it is left alone and this agent serves no CNI.
    pub async fn serve(
        self: Arc<Self>,
        settings: &CniSettings,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, CniStartError> {
        let listen = |source| CniStartError::Listen {
            path: settings.socket.clone(),
            source,
        };
        if let Some(dir) = settings.socket.parent() {
            std::fs::create_dir_all(dir).map_err(listen)?;
        }
        if UnixStream::connect(&settings.socket).await.is_ok() {
            tracing::warn!(
                socket = %settings.socket.display(),
                "another agent serves the CNI socket; not serving CNI (give --cni-socket)"
            );
            return Ok(None);
        }
        // A socket file left by an agent that is gone.
        match std::fs::remove_file(&settings.socket) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(listen(e)),
        }
        let listener = UnixListener::bind(&settings.socket).map_err(listen)?;
        std::fs::set_permissions(
            &settings.socket,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .map_err(listen)?;
        let retry = settings.retry;
        let service = self.clone();
        let retrier = tokio::spawn(async move {
            loop {
                service.catch_up().await;
                tokio::time::sleep(retry).await;
            }
        });
        Ok(Some(tokio::spawn(async move {
            let _retrier = AbortOnDrop(retrier);
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let service = self.clone();
                        tokio::spawn(async move { service.connection(stream).await });
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "CNI socket accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        })))
    }

    async fn connection(&self, stream: UnixStream) {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let mut reader = BufReader::new(read.take(MAX_REQUEST));
        let reply = match reader.read_line(&mut line).await {
            Err(e) => error(code::IO_FAILURE, "cannot read the request", e),
            Ok(_) => match serde_json::from_str::<CniRequest>(&line) {
                Ok(request) => self.handle(request).await,
                Err(e) => error(code::DECODE_FAILURE, "the request is not a CNI request", e),
            },
        };
        let mut bytes = serde_json::to_vec(&reply).unwrap_or_default();
        bytes.push(b'\n');
        if let Err(e) = write.write_all(&bytes).await {
            tracing::warn!(error = %e, "cannot answer the CNI plugin");
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn server_error(e: &ClientError, pod: &CniPod) -> CniReply {
    let what = format!("pod {}/{}", pod.namespace, pod.name);
    match e {
        ClientError::Api { status, detail } if status.is_client_error() => error(
            code::SERVER_REFUSED,
            format!("the weft server refused the port of {what}: {detail}"),
            "",
        ),
        other => error(
            code::TRY_AGAIN_LATER,
            format!("the weft server cannot be asked for the port of {what} now"),
            chain(other),
        ),
    }
}

#[cfg(test)]
mod tests;
