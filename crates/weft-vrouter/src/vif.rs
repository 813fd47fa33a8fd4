//! Virtual interfaces: a VM's tap, a pod's veth or the node's own stack
//! (TF's vhost0), as the agent describes them, and what the engine keeps
//! about each.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};
use weft_types::{MacAddr, MplsLabel, Prefix};

use crate::acl::AclRule;
use crate::ids::{SgId, VifId, VrfId};
use crate::stats::{Counters, DropReason, DropStats};

/// How the workload is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VifKind {
    /// A VM's tap device.
    Tap,
    /// A pod's veth.
    Veth,
    /// The node's own network stack (TF's vhost0): a tap whose other end
    /// is the node's kernel. No anti-spoofing, no DHCP, no security
    /// groups; traffic between the node's own addresses (the vif's
    /// `addrs`) and local workloads is always forwarded, as Kubernetes
    /// requires for kubelet probes whatever the policy says.
    Host,
}

/// An extra address the port may send from (Neutron allowed address pair).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AllowedAddressPair {
    pub prefix: Prefix,
    /// The MAC it may be sent with; `None` is the vif's own MAC.
    pub mac: Option<MacAddr>,
}

/// What the vRouter's DHCP server hands this vif.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DhcpConfig {
    /// The address offered; one of the vif's IPv4 addresses.
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    /// The DNS/service address (`.2` of the subnet in TF and weft).
    pub dns: Option<Ipv4Addr>,
    /// Interface MTU, as the network sets it; never more than 1500 minus
    /// the largest overlay overhead, which is also what `None` is.
    pub mtu: Option<u16>,
    /// Classless static routes (option 121): destination and router.
    pub host_routes: Vec<(Prefix, Ipv4Addr)>,
    /// Seconds.
    pub lease_time: u32,
}

/// A vif as the agent programs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VifConfig {
    pub id: VifId,
    /// The OS interface name (`tapXXXXXXXX-XX`, `vethXXXX`).
    pub name: String,
    pub kind: VifKind,
    pub mac: MacAddr,
    pub addrs: Vec<IpAddr>,
    pub vrf: VrfId,
    /// Port security: anti-spoofing and security groups.
    pub policy: bool,
    pub allowed_address_pairs: Vec<AllowedAddressPair>,
    pub sgs: Vec<SgId>,
    /// The label remote vRouters put on traffic for this vif.
    pub label: Option<MplsLabel>,
    /// `None`: no DHCP server on this vif.
    pub dhcp: Option<DhcpConfig>,
}

/// A vif and its state.
#[derive(Debug, Clone)]
pub(crate) struct Vif {
    pub config: VifConfig,
    pub acl: Vec<AclRule>,
    /// Whether replies of a connection its rules admitted pass it without
    /// a rule of their own (connection tracking), or need one (stateless).
    pub stateful: bool,
    pub rx: Counters,
    pub tx: Counters,
    pub drops: DropStats,
}

impl Vif {
    pub(crate) fn new(config: VifConfig) -> Self {
        Vif {
            config,
            acl: Vec::new(),
            stateful: true,
            rx: Counters::default(),
            tx: Counters::default(),
            drops: DropStats::default(),
        }
    }

    /// Whether anti-spoofing and security groups apply: port security on
    /// a workload's vif. Never on the host vif.
    pub(crate) fn enforces_policy(&self) -> bool {
        self.config.policy && self.config.kind != VifKind::Host
    }

    /// Whether `addr` is one of the node's own addresses on the host vif.
    pub(crate) fn is_host_addr(&self, addr: IpAddr) -> bool {
        self.config.kind == VifKind::Host && self.config.addrs.contains(&addr)
    }

    pub(crate) fn drop(&mut self, reason: DropReason) {
        self.drops.count(reason);
    }

    /// Anti-spoofing for a frame's source MAC: the vif's own or one named
    /// by an allowed address pair.
    pub(crate) fn mac_allowed(&self, mac: MacAddr) -> bool {
        mac == self.config.mac
            || self
                .config
                .allowed_address_pairs
                .iter()
                .any(|pair| pair.mac == Some(mac))
    }

    /// Anti-spoofing for a source address sent with `mac`: one of the vif's
    /// addresses (with its own MAC), or inside an allowed address pair whose
    /// MAC is `mac`.
    pub(crate) fn source_allowed(&self, mac: MacAddr, addr: IpAddr) -> bool {
        let own_mac = mac == self.config.mac;
        (own_mac && self.config.addrs.contains(&addr))
            || self.config.allowed_address_pairs.iter().any(|pair| {
                pair.prefix.contains(addr) && pair.mac.unwrap_or(self.config.mac) == mac
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vif() -> Vif {
        Vif::new(VifConfig {
            id: VifId(3),
            name: "tap0".into(),
            kind: VifKind::Tap,
            mac: "fa:16:3e:00:00:03".parse().unwrap(),
            addrs: vec!["192.168.1.3".parse().unwrap()],
            vrf: VrfId(1),
            policy: true,
            allowed_address_pairs: vec![AllowedAddressPair {
                prefix: "10.9.0.0/16".parse().unwrap(),
                mac: Some("fa:16:3e:00:00:99".parse().unwrap()),
            }],
            sgs: vec![],
            label: None,
            dhcp: None,
        })
    }

    #[test]
    fn anti_spoofing_rules() {
        let vif = vif();
        let own: MacAddr = "fa:16:3e:00:00:03".parse().unwrap();
        let pair: MacAddr = "fa:16:3e:00:00:99".parse().unwrap();
        let other: MacAddr = "fa:16:3e:00:00:04".parse().unwrap();
        assert!(vif.mac_allowed(own) && vif.mac_allowed(pair) && !vif.mac_allowed(other));
        assert!(vif.source_allowed(own, "192.168.1.3".parse().unwrap()));
        assert!(!vif.source_allowed(own, "192.168.1.4".parse().unwrap()));
        assert!(vif.source_allowed(pair, "10.9.3.3".parse().unwrap()));
        assert!(!vif.source_allowed(own, "10.9.3.3".parse().unwrap()));
        assert!(!vif.source_allowed(pair, "192.168.1.3".parse().unwrap()));
    }
}
