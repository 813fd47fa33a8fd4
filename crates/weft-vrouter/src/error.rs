//! Why a command was refused. A refused command changes nothing.

use crate::ids::{NhId, VifId, VrfId};
use weft_types::{MplsLabel, Prefix, Vni};

/// A command the engine refused, naming the object and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VrouterError {
    #[error("vif {0:?} already exists")]
    VifExists(VifId),
    #[error("vif {0:?} does not exist")]
    UnknownVif(VifId),
    #[error("vif {vif:?}: VRF {vrf:?} does not exist")]
    VifVrfMissing { vif: VifId, vrf: VrfId },
    #[error("MPLS label {label} is already bound to vif {owner:?}")]
    LabelInUse { label: MplsLabel, owner: VifId },
    #[error("vif {vif:?}: DHCP address {addr} is not one of the vif's IPv4 addresses")]
    DhcpAddressNotOnVif {
        vif: VifId,
        addr: std::net::Ipv4Addr,
    },
    #[error("vif {vif:?}: the host vif has no DHCP server")]
    HostVifDhcp { vif: VifId },
    #[error("vif {vif:?}: DHCP prefix length {len} is over 32")]
    DhcpPrefixLen { vif: VifId, len: u8 },
    #[error("VRF {0:?} already exists")]
    VrfExists(VrfId),
    #[error("VRF {0:?} does not exist")]
    UnknownVrf(VrfId),
    #[error("VRF {vrf:?} is still used by vif {vif:?}")]
    VrfInUse { vrf: VrfId, vif: VifId },
    #[error("VNI {vni} is already mapped to VRF {owner:?}")]
    VniInUse { vni: Vni, owner: VrfId },
    #[error("next hop {0:?} already exists")]
    NextHopExists(NhId),
    #[error("next hop {0:?} does not exist")]
    UnknownNextHop(NhId),
    #[error("next hop {nh:?} is still used by a route to {prefix} in VRF {vrf:?}")]
    NextHopInUse {
        nh: NhId,
        vrf: VrfId,
        prefix: Prefix,
    },
    #[error("next hop {nh:?}: vif {vif:?} does not exist")]
    NextHopVifMissing { nh: NhId, vif: VifId },
    #[error("next hop {0:?}: a tunnel must support at least one encapsulation")]
    TunnelWithoutEncap(NhId),
    #[error("VRF {vrf:?} has no route to {prefix}")]
    UnknownRoute { vrf: VrfId, prefix: Prefix },
    #[error("the encapsulation priority list must not be empty or repeat an entry")]
    BadEncapPriority,
    #[error("vif {vif:?}: ACL rule {index}: port range {first}-{last} is reversed")]
    BadPortRange {
        vif: VifId,
        index: usize,
        first: u16,
        last: u16,
    },
    #[error("service {vip} port {port}: {why}")]
    BadService {
        vip: std::net::IpAddr,
        port: u16,
        why: String,
    },
    #[error("VRF {vrf:?} has no service {vip} port {port}")]
    UnknownService {
        vrf: VrfId,
        vip: std::net::IpAddr,
        port: u16,
    },
}
