//! The reconciler's part for the node's own stack (the host vif): its
//! routes in the host VRF and the VN VRFs, and what the kernel is told.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use weft_control::proto::NodeConfig;
use weft_types::Prefix;
use weft_vrouter::{NhId, RouteConfig, VrfId};

use super::{NhOwner, Plan, PortState, Reconciler};
use crate::host::{HOST_VRF, KernelChanges};

impl Reconciler {
    /// Everything the kernel must hold, for a host tap that was (re)made:
    /// its routes go with it. `None` without a host interface.
    pub fn kernel_state(&self) -> Option<KernelChanges> {
        let host = self.host.as_ref()?;
        Some(KernelChanges {
            add_routes: host.kernel_routes.iter().copied().collect(),
            delete_routes: Vec::new(),
            snat: Some(host.snat.clone()),
        })
    }

    /// The host vif's routes, added to `local_routes` (a port's own
    /// address always wins); returns the subnets to masquerade.
    pub(super) fn host_routes(
        &mut self,
        config: &NodeConfig,
        ports: &BTreeMap<String, PortState>,
        port_nhs: &BTreeMap<String, NhId>,
        local_routes: &mut BTreeMap<(VrfId, Prefix), RouteConfig>,
    ) -> Vec<Prefix> {
        if self.host.is_none() {
            return Vec::new();
        }
        let host_nh = self.nh_id(NhOwner::Host);
        let route = |vrf, prefix, nh| RouteConfig {
            vrf,
            prefix,
            nh,
            sgs: Vec::new(),
        };
        let mut snat = BTreeSet::new();
        for (id, state) in ports {
            let Some(nh) = port_nhs.get(id) else {
                continue;
            };
            for addr in state.vif.addrs.iter().filter(|a| a.is_ipv4()) {
                let prefix = Prefix::host(*addr);
                local_routes
                    .entry((HOST_VRF, prefix))
                    .or_insert_with(|| route(HOST_VRF, prefix, *nh));
            }
            let vrf = state.vif.vrf;
            let node = Prefix::host(IpAddr::V4(self.underlay));
            local_routes
                .entry((vrf, node))
                .or_insert_with(|| route(vrf, node, host_nh));
            let Some(listed) = config.vrfs.iter().find(|v| v.name == state.vrf_name) else {
                continue;
            };
            if listed.fabric_snat {
                let default = Prefix::parse_strict("0.0.0.0/0").ok();
                if let Some(default) = default {
                    local_routes
                        .entry((vrf, default))
                        .or_insert_with(|| route(vrf, default, host_nh));
                }
                snat.extend(
                    listed
                        .subnets
                        .iter()
                        .filter_map(|s| Prefix::parse_strict(s).ok())
                        .filter(|p| p.is_ipv4()),
                );
            }
        }
        snat.into_iter().collect()
    }

    /// Brings the kernel's routes to local workloads and its masquerade
    /// sources in line with the ports.
    pub(super) fn sync_kernel(
        &mut self,
        addrs: &BTreeSet<Ipv4Addr>,
        snat: Vec<Prefix>,
        plan: &mut Plan,
    ) {
        let Some(host) = &mut self.host else {
            return;
        };
        plan.kernel.delete_routes = host.kernel_routes.difference(addrs).copied().collect();
        plan.kernel.add_routes = addrs.difference(&host.kernel_routes).copied().collect();
        host.kernel_routes = addrs.clone();
        if snat != host.snat {
            host.snat = snat.clone();
            plan.kernel.snat = Some(snat);
        }
    }
}

/// The IPv4 addresses of the programmed ports.
pub(super) fn ports_v4(ports: &BTreeMap<String, PortState>) -> BTreeSet<Ipv4Addr> {
    ports
        .values()
        .flat_map(|p| p.vif.addrs.iter())
        .filter_map(|a| match a {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        })
        .collect()
}
