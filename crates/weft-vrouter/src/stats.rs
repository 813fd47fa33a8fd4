//! Drop reasons and counters (`dropstats`), and per-interface counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why a packet was dropped. Every drop is counted under exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A header failed to parse or validate (length, checksum, version).
    Malformed,
    /// A protocol or frame kind the engine does not handle (VLAN tags,
    /// non-IP ethertypes, IP fragments to the vRouter, other ARP kinds).
    Unsupported,
    /// Received on a vif the engine does not know.
    UnknownVif,
    /// Source MAC or IP not the vif's (port security).
    SpoofedSource,
    /// No route for the destination in the VRF.
    NoRoute,
    /// The flow's action is drop (security groups).
    FlowDenied,
    /// The flow table is full.
    FlowTableFull,
    /// Tunnel label bound to no vif.
    UnknownLabel,
    /// VXLAN VNI bound to no VRF.
    UnknownVni,
    /// The route's next hop cannot carry the packet (missing, wrong kind,
    /// no encapsulation in common, no underlay address).
    InvalidNextHop,
    /// The route's next hop is a discard.
    Discard,
    /// TTL or hop limit would reach zero.
    TtlExpired,
    /// A gratuitous ARP, an ARP probe or an IPv6 DAD probe from a vif:
    /// ignored, learns nothing.
    GratuitousArp,
    /// An ARP request or neighbour solicitation for an address the VRF
    /// has no route to.
    ArpNoRoute,
    /// A unicast frame not addressed to the vRouter MAC (no bridging).
    NotForVrouter,
    /// Addressed to the vRouter (gateway/service) but not a service it runs.
    ReceiveUnhandled,
    /// DHCP on a vif without DHCP, or a client message the server ignores.
    DhcpIgnored,
    /// A reply could not be built (too large for its headers).
    EmitFailed,
    /// The agent's queue towards the engine was full: the frame was
    /// dropped before the engine saw it (counted by the agent).
    QueueFull,
    /// A connection to a service that has no backend.
    NoBackend,
}

impl DropReason {
    /// Every reason, in `dropstats` order.
    pub const ALL: [DropReason; 20] = [
        DropReason::Malformed,
        DropReason::Unsupported,
        DropReason::UnknownVif,
        DropReason::SpoofedSource,
        DropReason::NoRoute,
        DropReason::FlowDenied,
        DropReason::FlowTableFull,
        DropReason::UnknownLabel,
        DropReason::UnknownVni,
        DropReason::InvalidNextHop,
        DropReason::Discard,
        DropReason::TtlExpired,
        DropReason::GratuitousArp,
        DropReason::ArpNoRoute,
        DropReason::NotForVrouter,
        DropReason::ReceiveUnhandled,
        DropReason::DhcpIgnored,
        DropReason::EmitFailed,
        DropReason::QueueFull,
        DropReason::NoBackend,
    ];
}

/// Drop counters by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DropStats {
    counts: BTreeMap<DropReason, u64>,
}

impl DropStats {
    pub fn count(&mut self, reason: DropReason) {
        self.add(reason, 1);
    }

    /// Counts `n` drops for `reason` at once.
    pub fn add(&mut self, reason: DropReason, n: u64) {
        if n > 0 {
            let slot = self.counts.entry(reason).or_insert(0);
            *slot = slot.saturating_add(n);
        }
    }

    /// Packets dropped for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts.get(&reason).copied().unwrap_or(0)
    }

    /// Packets dropped for any reason.
    pub fn total(&self) -> u64 {
        self.counts
            .values()
            .fold(0u64, |sum, n| sum.saturating_add(*n))
    }

    /// Nonzero counters, in `dropstats` order.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        self.counts.iter().map(|(reason, n)| (*reason, *n))
    }
}

/// Packet and byte counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

impl Counters {
    pub fn add(&mut self, len: usize) {
        self.packets = self.packets.saturating_add(1);
        self.bytes = self
            .bytes
            .saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_reason_and_totals() {
        let mut stats = DropStats::default();
        stats.count(DropReason::NoRoute);
        stats.count(DropReason::NoRoute);
        stats.count(DropReason::FlowDenied);
        assert_eq!(stats.get(DropReason::NoRoute), 2);
        assert_eq!(stats.get(DropReason::Malformed), 0);
        assert_eq!(stats.total(), 3);
        assert_eq!(stats.iter().count(), 2);
    }

    #[test]
    fn drops_counted_outside_the_engine_join_the_totals() {
        let mut engine = crate::Engine::default();
        engine.count_external_drops(DropReason::QueueFull, 0);
        assert_eq!(engine.drop_stats().iter().count(), 0, "nothing to count");
        engine.count_external_drops(DropReason::QueueFull, 5);
        engine.count_external_drops(DropReason::QueueFull, 2);
        assert_eq!(engine.drop_stats().get(DropReason::QueueFull), 7);
        assert_eq!(engine.drop_stats().total(), 7);
    }
}
