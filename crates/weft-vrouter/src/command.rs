//! The narrow interface through which the agent programs the engine, as
//! TF's agent programs its kernel module: every table change is one
//! [`Command`]. Adds are upserts (the agent's reconciler may resend), and a
//! refused command changes nothing.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use weft_types::{Prefix, Vni};

use crate::acl::AclRule;
use crate::ids::{NhId, SgId, VifId, VrfId};
use crate::nexthop::{Encapsulation, NextHop};
use crate::service::{ServiceConfig, ServiceKey};
use crate::vif::VifConfig;

/// A VRF as the agent programs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrfConfig {
    pub id: VrfId,
    /// The VXLAN VNI of the virtual network; `None`: no VXLAN.
    pub vni: Option<Vni>,
    /// The virtual network's FQ name, for display.
    pub name: String,
}

/// A route as the agent programs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteConfig {
    pub vrf: VrfId,
    pub prefix: Prefix,
    pub nh: NhId,
    /// The security groups of the port the route belongs to.
    pub sgs: Vec<SgId>,
}

/// One change to the engine's tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// This node's underlay (vhost0) address: the Sip of tunnels.
    SetUnderlayAddr(Ipv4Addr),
    AddVif(VifConfig),
    DeleteVif(VifId),
    AddVrf(VrfConfig),
    DeleteVrf(VrfId),
    AddNextHop(NextHop),
    DeleteNextHop(NhId),
    AddRoute(RouteConfig),
    DeleteRoute {
        vrf: VrfId,
        prefix: Prefix,
    },
    /// The global encapsulation priority list, most preferred first.
    SetEncapPriority(Vec<Encapsulation>),
    /// Replaces a vif's compiled security-group rules and re-evaluates
    /// existing flows. `stateful` (the default): replies of a connection
    /// the vif's rules admitted pass it; otherwise every packet, replies
    /// too, needs a rule of its own direction (stateless groups).
    SetAcl {
        vif: VifId,
        rules: Vec<AclRule>,
        #[serde(default = "stateful_default")]
        stateful: bool,
    },
    /// Removes every flow.
    FlushFlows,
    /// Re-evaluates every flow against the current ACLs and routes.
    ReevaluateFlows,
    /// Adds or replaces a load-balanced service (see [`crate::service`]).
    SetService(ServiceConfig),
    DeleteService(ServiceKey),
}

fn stateful_default() -> bool {
    true
}
