//! VRFs and their forwarding tables: longest-prefix match over IPv4 and
//! IPv6 routes.
//!
//! A table is one hash map per prefix length, probed from the longest
//! length present down to the shortest (at most 33 or 129 probes, usually a
//! handful): simple, and exact for any mix of lengths.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use weft_types::{Prefix, Vni};

use crate::ids::{NhId, SgId};

/// A route: where the prefix goes and the SG ids of the port behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub prefix: Prefix,
    pub nh: NhId,
    pub sgs: Vec<SgId>,
}

#[derive(Debug, Default, Clone)]
struct Lpm {
    by_len: BTreeMap<u8, HashMap<u128, Route>>,
}

fn key(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

fn masked(value: u128, len: u8, max_len: u8) -> u128 {
    let shift = u32::from(max_len.saturating_sub(len));
    value & u128::MAX.checked_shl(shift).unwrap_or(0)
}

impl Lpm {
    fn insert(&mut self, route: Route) {
        let (value, max) = key(route.prefix.network());
        let len = route.prefix.prefix_len();
        self.by_len
            .entry(len)
            .or_default()
            .insert(masked(value, len, max), route);
    }

    fn remove(&mut self, prefix: Prefix) -> Option<Route> {
        let (value, max) = key(prefix.network());
        let len = prefix.prefix_len();
        let table = self.by_len.get_mut(&len)?;
        let removed = table.remove(&masked(value, len, max));
        if table.is_empty() {
            self.by_len.remove(&len);
        }
        removed
    }

    fn exact(&self, prefix: Prefix) -> Option<&Route> {
        let (value, max) = key(prefix.network());
        let len = prefix.prefix_len();
        self.by_len.get(&len)?.get(&masked(value, len, max))
    }

    fn lookup(&self, addr: IpAddr) -> Option<&Route> {
        let (value, max) = key(addr);
        self.by_len
            .iter()
            .rev()
            .find_map(|(len, table)| table.get(&masked(value, *len, max)))
    }

    fn routes(&self) -> impl Iterator<Item = &Route> {
        self.by_len.values().flat_map(HashMap::values)
    }
}

/// One VRF: its VNI and its IPv4 and IPv6 tables.
#[derive(Debug, Clone)]
pub(crate) struct Vrf {
    pub name: String,
    pub vni: Option<Vni>,
    v4: Lpm,
    v6: Lpm,
}

impl Vrf {
    pub(crate) fn new(name: String, vni: Option<Vni>) -> Self {
        Vrf {
            name,
            vni,
            v4: Lpm::default(),
            v6: Lpm::default(),
        }
    }

    fn table(&self, ipv4: bool) -> &Lpm {
        if ipv4 { &self.v4 } else { &self.v6 }
    }

    fn table_mut(&mut self, ipv4: bool) -> &mut Lpm {
        if ipv4 { &mut self.v4 } else { &mut self.v6 }
    }

    /// Adds or replaces the route for its prefix.
    pub(crate) fn insert(&mut self, route: Route) {
        let ipv4 = route.prefix.is_ipv4();
        self.table_mut(ipv4).insert(route);
    }

    pub(crate) fn remove(&mut self, prefix: Prefix) -> Option<Route> {
        self.table_mut(prefix.is_ipv4()).remove(prefix)
    }

    /// The route for exactly `prefix`.
    pub(crate) fn exact(&self, prefix: Prefix) -> Option<&Route> {
        self.table(prefix.is_ipv4()).exact(prefix)
    }

    /// Longest-prefix match.
    pub(crate) fn lookup(&self, addr: IpAddr) -> Option<&Route> {
        self.table(addr.is_ipv4()).lookup(addr)
    }

    /// Every route, IPv4 first, sorted by prefix.
    pub(crate) fn routes(&self) -> Vec<&Route> {
        let mut v4: Vec<&Route> = self.v4.routes().collect();
        let mut v6: Vec<&Route> = self.v6.routes().collect();
        v4.sort_by_key(|r| (r.prefix.network(), r.prefix.prefix_len()));
        v6.sort_by_key(|r| (r.prefix.network(), r.prefix.prefix_len()));
        v4.extend(v6);
        v4
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn route(prefix: &str, nh: u32) -> Route {
        Route {
            prefix: prefix.parse().unwrap(),
            nh: NhId(nh),
            sgs: Vec::new(),
        }
    }

    fn nh_for(vrf: &Vrf, addr: &str) -> Option<u32> {
        vrf.lookup(addr.parse().unwrap()).map(|r| r.nh.0)
    }

    #[test]
    fn longest_prefix_wins() {
        let mut vrf = Vrf::new("red".into(), None);
        vrf.insert(route("0.0.0.0/0", 1));
        vrf.insert(route("192.168.1.0/24", 2));
        vrf.insert(route("192.168.1.3/32", 3));
        vrf.insert(route("fd00::/64", 4));
        vrf.insert(route("fd00::3/128", 5));
        assert_eq!(nh_for(&vrf, "192.168.1.3"), Some(3));
        assert_eq!(nh_for(&vrf, "192.168.1.4"), Some(2));
        assert_eq!(nh_for(&vrf, "8.8.8.8"), Some(1));
        assert_eq!(nh_for(&vrf, "fd00::3"), Some(5));
        assert_eq!(nh_for(&vrf, "fd00::9"), Some(4));
        assert_eq!(nh_for(&vrf, "fd01::9"), None);
        vrf.remove("192.168.1.3/32".parse().unwrap()).unwrap();
        assert_eq!(nh_for(&vrf, "192.168.1.3"), Some(2));
        assert_eq!(vrf.routes().len(), 4);
        assert!(vrf.exact("192.168.1.0/24".parse().unwrap()).is_some());
        assert!(vrf.exact("192.168.1.0/25".parse().unwrap()).is_none());
    }

    proptest! {
        /// The table agrees with a linear scan for the longest containing prefix.
        #[test]
        fn matches_linear_scan(
            prefixes in proptest::collection::vec((any::<u32>(), 0u8..=32), 0..40),
            probes in proptest::collection::vec(any::<u32>(), 1..40),
        ) {
            let mut vrf = Vrf::new("p".into(), None);
            let mut all: Vec<(Prefix, u32)> = Vec::new();
            for (i, (addr, len)) in prefixes.iter().enumerate() {
                let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(*addr), *len).unwrap().trunc();
                let prefix = Prefix::from_net(net.into());
                let nh = u32::try_from(i).unwrap();
                all.retain(|(p, _)| *p != prefix);
                all.push((prefix, nh));
                vrf.insert(Route { prefix, nh: NhId(nh), sgs: Vec::new() });
            }
            for probe in probes {
                let addr = IpAddr::V4(std::net::Ipv4Addr::from(probe));
                let expected = all
                    .iter()
                    .filter(|(p, _)| p.contains(addr))
                    .max_by_key(|(p, _)| p.prefix_len())
                    .map(|(_, nh)| *nh);
                prop_assert_eq!(vrf.lookup(addr).map(|r| r.nh.0), expected);
            }
        }
    }
}
