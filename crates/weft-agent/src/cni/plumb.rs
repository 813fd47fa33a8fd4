//! The pod's veth: made in the node's namespace, one end moved into the
//! container's namespace and addressed there. Blocking (netlink); call from
//! a blocking task.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use ipnet::IpNet;
use weft_system::{LinkError, Netlink, Netns, NetnsError};
use weft_types::MacAddr;

/// What the container's interface gets.
#[derive(Clone, Debug)]
pub(super) struct PodInterface<'a> {
    /// Host end, named from the port id (the vRouter attaches it by name).
    pub(super) host_if: &'a str,
    /// `CNI_IFNAME`.
    pub(super) ifname: &'a str,
    pub(super) mac: MacAddr,
    pub(super) addresses: &'a [IpNet],
    /// The default route's next hop.
    pub(super) gateway: Option<IpAddr>,
    pub(super) mtu: u32,
}

/// Why the interface could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PlumbError {
    #[error("cannot open the container's network namespace {path}")]
    Netns {
        path: String,
        #[source]
        source: NetnsError,
    },
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("{0}")]
    Mismatch(String),
}

/// Opens the container's namespace by path.
pub(super) fn container_ns(path: &str) -> Result<Netns, PlumbError> {
    Netns::open_path(path, Path::new(path)).map_err(|source| PlumbError::Netns {
        path: path.to_owned(),
        source,
    })
}

fn temp_peer(host_if: &str) -> String {
    // `veth` + 11 → `wtmp` + 11: unique per port, 15 characters.
    format!("wtmp{}", host_if.get(4..).unwrap_or(host_if))
}

/// Makes the veth pair; a leftover from an interrupted attempt is removed
/// first, so this can simply be run again.
pub(super) fn plug(
    node: &Netns,
    container: &Netns,
    pod: &PodInterface<'_>,
) -> Result<(), PlumbError> {
    let mut nl = Netlink::open(node)?;
    let peer = temp_peer(pod.host_if);
    for stale in [pod.host_if, peer.as_str()] {
        match nl.delete_link(stale) {
            Ok(()) | Err(LinkError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut inside = Netlink::open(container)?;
    match inside.link(pod.ifname) {
        Ok(_) => inside.delete_link(pod.ifname)?,
        Err(LinkError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    nl.create_veth(pod.host_if, &peer)?;
    nl.set_mtu(pod.host_if, pod.mtu)?;
    nl.move_to_netns(&peer, container)?;
    nl.set_up(pod.host_if)?;
    inside.set_name(&peer, pod.ifname)?;
    inside.set_mac(pod.ifname, pod.mac)?;
    inside.set_mtu(pod.ifname, pod.mtu)?;
    for address in pod.addresses {
        inside.add_address(pod.ifname, *address)?;
    }
    inside.set_up(pod.ifname)?;
    if let Some(gw) = pod.gateway {
        let default = match gw {
            IpAddr::V4(_) => IpNet::V4(
                ipnet::Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0)
                    .map_err(|e| PlumbError::Mismatch(format!("default route: {e}")))?,
            ),
            IpAddr::V6(_) => IpNet::V6(
                ipnet::Ipv6Net::new(std::net::Ipv6Addr::UNSPECIFIED, 0)
                    .map_err(|e| PlumbError::Mismatch(format!("default route: {e}")))?,
            ),
        };
        inside.add_route(default, Some(gw), Some(pod.ifname))?;
    }
    Ok(())
}

/// Removes the pair by its host end; gone already is fine.
pub(super) fn unplug(node: &Netns, host_if: &str) -> Result<(), PlumbError> {
    let mut nl = Netlink::open(node)?;
    match nl.delete_link(host_if) {
        Ok(()) | Err(LinkError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Checks that both ends exist and the container's end has the port's MAC
/// and addresses.
pub(super) fn check(
    node: &Netns,
    container: &Netns,
    host_if: &str,
    ifname: &str,
    mac: MacAddr,
    addresses: &[IpNet],
) -> Result<(), PlumbError> {
    Netlink::open(node)?.link(host_if)?;
    let mut inside = Netlink::open(container)?;
    let link = inside.link(ifname)?;
    if link.mac != Some(mac) {
        return Err(PlumbError::Mismatch(format!(
            "{ifname} has MAC {:?}, the port has {mac}",
            link.mac.map(|m| m.to_string())
        )));
    }
    if !link.up {
        return Err(PlumbError::Mismatch(format!("{ifname} is down")));
    }
    let have = inside.addresses(ifname)?;
    for want in addresses {
        if !have.contains(want) {
            return Err(PlumbError::Mismatch(format!(
                "{ifname} lacks address {want} (has {have:?})"
            )));
        }
    }
    Ok(())
}
