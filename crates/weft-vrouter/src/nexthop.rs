//! Next hops: what a route resolves to.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use weft_types::{MacAddr, MplsLabel, Vni};

use crate::ids::{NhId, VifId};

/// An overlay encapsulation (the global priority list and what a remote
/// vRouter supports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Encapsulation {
    MplsOverUdp,
    MplsOverGre,
    Vxlan,
}

impl Encapsulation {
    pub fn is_mpls(self) -> bool {
        matches!(
            self,
            Encapsulation::MplsOverUdp | Encapsulation::MplsOverGre
        )
    }

    /// Bytes the encapsulation adds in the underlay (outer IPv4 included),
    /// over an inner IP packet.
    pub fn overhead(self) -> u16 {
        match self {
            // IPv4 20 + UDP 8 + MPLS 4
            Encapsulation::MplsOverUdp => 32,
            // IPv4 20 + GRE 4 + MPLS 4
            Encapsulation::MplsOverGre => 28,
            // IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
            Encapsulation::Vxlan => 50,
        }
    }
}

/// A next hop as the agent programs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextHopKind {
    /// The vRouter itself (gateway and service addresses).
    Receive,
    /// A local vif.
    Encap { vif: VifId },
    /// A remote vRouter.
    Tunnel {
        /// The remote's underlay address.
        dst: Ipv4Addr,
        /// The label the remote bound to the destination (MPLS encaps).
        label: Option<MplsLabel>,
        /// The VNI for VXLAN; `None` uses the VRF's.
        vni: Option<Vni>,
        /// The encapsulations the remote accepts.
        encaps: Vec<Encapsulation>,
        /// The remote port's MAC, used as the inner destination for VXLAN.
        mac: Option<MacAddr>,
    },
    /// Drop.
    Discard,
}

/// A next hop with its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NextHop {
    pub id: NhId,
    pub kind: NextHopKind,
}
