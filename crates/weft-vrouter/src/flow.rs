//! The flow table: security-group decisions per 5-tuple and VRF.
//!
//! A flow is set up on the first packet of a connection (the table misses):
//! the engine evaluates the ACLs once and installs a forward entry for the
//! packet's direction and a reverse entry for the replies, each with its
//! action ([`Verdict`]). Where the vifs are stateful the two actions are
//! the same, so replies of an allowed connection pass whatever the ACLs
//! say about their direction; a stateless vif decides the replies by its
//! rules for their direction. Entries age out when neither direction has
//! been used for the protocol's timeout ([`FlowTimeouts`]).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::ids::{Millis, VifId, VrfId};
use crate::stats::Counters;

/// What identifies a flow. ICMP echo uses its identifier as both ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FlowKey {
    pub vrf: VrfId,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
}

impl FlowKey {
    /// The key of the replies.
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            vrf: self.vrf,
            src: self.dst,
            dst: self.src,
            protocol: self.protocol,
            src_port: self.dst_port,
            dst_port: self.src_port,
        }
    }

    /// A stable hash of the 5-tuple (FNV-1a), for the tunnel source port.
    /// Symmetric in nothing: each direction spreads on its own.
    pub fn hash(&self) -> u32 {
        let mut h: u32 = 0x811c_9dc5;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u32::from(*b);
                h = h.wrapping_mul(0x0100_0193);
            }
        };
        for addr in [self.src, self.dst] {
            match addr {
                IpAddr::V4(a) => eat(&a.octets()),
                IpAddr::V6(a) => eat(&a.octets()),
            }
        }
        eat(&[self.protocol]);
        eat(&self.src_port.to_be_bytes());
        eat(&self.dst_port.to_be_bytes());
        h
    }
}

/// A flow's action (`flow -l`: F or D).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FlowAction {
    Forward,
    Drop,
}

/// The actions of a new flow: for the initiator's direction and for its
/// replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub forward: FlowAction,
    pub reverse: FlowAction,
}

impl Verdict {
    /// The same action both ways (connection tracking).
    pub(crate) fn both(action: FlowAction) -> Self {
        Verdict {
            forward: action,
            reverse: action,
        }
    }
}

/// Idle timeouts by protocol, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowTimeouts {
    pub tcp: u64,
    pub udp: u64,
    pub icmp: u64,
    pub other: u64,
}

impl Default for FlowTimeouts {
    /// TF's default ageing is 180 s; UDP and ICMP get shorter ones.
    fn default() -> Self {
        FlowTimeouts {
            tcp: 180_000,
            udp: 60_000,
            icmp: 30_000,
            other: 60_000,
        }
    }
}

impl FlowTimeouts {
    pub(crate) fn for_protocol(&self, protocol: u8) -> u64 {
        match protocol {
            6 => self.tcp,
            17 => self.udp,
            1 | 58 => self.icmp,
            _ => self.other,
        }
    }
}

/// One direction of a flow.
#[derive(Debug, Clone)]
pub(crate) struct FlowEntry {
    pub key: FlowKey,
    pub reverse: u32,
    pub action: FlowAction,
    /// The initiator's direction (set up on a miss) rather than the reply's.
    pub initiator: bool,
    /// The local vif the initiator came from, if any.
    pub src_vif: Option<VifId>,
    /// The local vif the initiator went to, if any.
    pub dst_vif: Option<VifId>,
    pub stats: Counters,
    pub last_used: Millis,
}

/// Where an initiator's packet came from and went to, kept for
/// re-evaluation when ACLs change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowEnds {
    pub src_vif: Option<VifId>,
    pub dst_vif: Option<VifId>,
}

/// The table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowTableFull;

#[derive(Debug, Clone)]
pub(crate) struct FlowTable {
    entries: BTreeMap<u32, FlowEntry>,
    by_key: HashMap<FlowKey, u32>,
    next_index: u32,
    capacity: usize,
    pub timeouts: FlowTimeouts,
}

impl FlowTable {
    pub(crate) fn new(capacity: usize, timeouts: FlowTimeouts) -> Self {
        FlowTable {
            entries: BTreeMap::new(),
            by_key: HashMap::new(),
            next_index: 0,
            capacity,
            timeouts,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn lookup(&self, key: &FlowKey) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    pub(crate) fn get(&self, index: u32) -> Option<&FlowEntry> {
        self.entries.get(&index)
    }

    fn allocate(&mut self) -> u32 {
        // Indices wrap; skip any still in use.
        loop {
            let index = self.next_index;
            self.next_index = self.next_index.wrapping_add(1);
            if !self.entries.contains_key(&index) {
                return index;
            }
        }
    }

    /// Installs the forward entry for `key` and its reverse; returns the
    /// forward index. A packet whose reverse key equals its own key (same
    /// source and destination) gets one entry, with the forward action.
    pub(crate) fn insert(
        &mut self,
        key: FlowKey,
        ends: FlowEnds,
        verdict: Verdict,
        now: Millis,
    ) -> Result<u32, FlowTableFull> {
        let reverse_key = key.reversed();
        let needed = if reverse_key == key { 1 } else { 2 };
        // Reuse of a half-present pair cannot happen: entries go in pairs.
        if self.entries.len().saturating_add(needed) > self.capacity {
            return Err(FlowTableFull);
        }
        let forward = self.allocate();
        let reverse = if needed == 2 {
            self.allocate()
        } else {
            forward
        };
        let entry = |key, reverse, initiator: bool| FlowEntry {
            key,
            reverse,
            action: if initiator {
                verdict.forward
            } else {
                verdict.reverse
            },
            initiator,
            src_vif: ends.src_vif,
            dst_vif: ends.dst_vif,
            stats: Counters::default(),
            last_used: now,
        };
        self.entries.insert(forward, entry(key, reverse, true));
        self.by_key.insert(key, forward);
        if needed == 2 {
            self.entries
                .insert(reverse, entry(reverse_key, forward, false));
            self.by_key.insert(reverse_key, reverse);
        }
        Ok(forward)
    }

    /// Counts a packet on an entry and returns its action.
    pub(crate) fn hit(&mut self, index: u32, len: usize, now: Millis) -> Option<FlowAction> {
        let entry = self.entries.get_mut(&index)?;
        entry.stats.add(len);
        entry.last_used = now;
        Some(entry.action)
    }

    fn remove_pair(&mut self, index: u32) {
        if let Some(entry) = self.entries.remove(&index) {
            self.by_key.remove(&entry.key);
            if let Some(reverse) = self.entries.remove(&entry.reverse) {
                self.by_key.remove(&reverse.key);
            }
        }
    }

    /// Removes every pair whose initiator entry satisfies `doomed`.
    pub(crate) fn remove_where(&mut self, doomed: impl Fn(&FlowEntry) -> bool) {
        let gone: Vec<u32> = self
            .entries
            .iter()
            .filter(|(_, e)| e.initiator && doomed(e))
            .map(|(i, _)| *i)
            .collect();
        for index in gone {
            self.remove_pair(index);
        }
    }

    /// Removes pairs idle (in both directions) for longer than their
    /// protocol's timeout. Returns how many entries went.
    pub(crate) fn expire(&mut self, now: Millis) -> usize {
        let before = self.entries.len();
        let idle: Vec<u32> = self
            .entries
            .iter()
            .filter(|(_, e)| e.initiator)
            .filter(|(_, e)| {
                let last = self
                    .entries
                    .get(&e.reverse)
                    .map_or(e.last_used, |r| r.last_used.max(e.last_used));
                now.since(last) > self.timeouts.for_protocol(e.key.protocol)
            })
            .map(|(index, _)| *index)
            .collect();
        for index in idle {
            self.remove_pair(index);
        }
        before.saturating_sub(self.entries.len())
    }

    /// The earliest time at which `expire` could remove something.
    pub(crate) fn poll_at(&self) -> Option<Millis> {
        self.entries
            .values()
            .map(|e| {
                Millis(
                    e.last_used
                        .0
                        .saturating_add(self.timeouts.for_protocol(e.key.protocol))
                        .saturating_add(1),
                )
            })
            .min()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.by_key.clear();
    }

    /// Initiator entries: (index, key, ends), for re-evaluation.
    pub(crate) fn initiators(&self) -> Vec<(u32, FlowKey, FlowEnds)> {
        self.entries
            .iter()
            .filter(|(_, e)| e.initiator)
            .map(|(i, e)| {
                let ends = FlowEnds {
                    src_vif: e.src_vif,
                    dst_vif: e.dst_vif,
                };
                (*i, e.key, ends)
            })
            .collect()
    }

    /// Sets the actions of an initiator entry and its reverse.
    pub(crate) fn set_actions(&mut self, index: u32, verdict: Verdict) {
        let reverse = self.entries.get_mut(&index).map(|e| {
            e.action = verdict.forward;
            e.reverse
        });
        if let Some(reverse) = reverse
            && reverse != index
            && let Some(e) = self.entries.get_mut(&reverse)
        {
            e.action = verdict.reverse;
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &FlowEntry)> {
        self.entries.iter().map(|(i, e)| (*i, e))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(protocol: u8) -> FlowKey {
        FlowKey {
            vrf: VrfId(1),
            src: "192.168.1.3".parse().unwrap(),
            dst: "192.168.1.4".parse().unwrap(),
            protocol,
            src_port: 40000,
            dst_port: 80,
        }
    }

    const FORWARD: Verdict = Verdict {
        forward: FlowAction::Forward,
        reverse: FlowAction::Forward,
    };

    const ENDS: FlowEnds = FlowEnds {
        src_vif: Some(VifId(1)),
        dst_vif: None,
    };

    #[test]
    fn pairs_and_reverse_lookup() {
        let mut table = FlowTable::new(16, FlowTimeouts::default());
        let fwd = table.insert(key(6), ENDS, FORWARD, Millis(0)).unwrap();
        let rev = table.lookup(&key(6).reversed()).unwrap();
        assert_ne!(fwd, rev);
        assert_eq!(table.get(fwd).unwrap().reverse, rev);
        assert_eq!(table.get(rev).unwrap().reverse, fwd);
        table.set_actions(fwd, Verdict::both(FlowAction::Drop));
        assert_eq!(table.hit(rev, 100, Millis(1)), Some(FlowAction::Drop));
        assert_eq!(table.get(rev).unwrap().stats.bytes, 100);
    }

    #[test]
    fn each_direction_keeps_its_own_action() {
        let mut table = FlowTable::new(16, FlowTimeouts::default());
        let replies_denied = Verdict {
            forward: FlowAction::Forward,
            reverse: FlowAction::Drop,
        };
        let fwd = table
            .insert(key(17), ENDS, replies_denied, Millis(0))
            .unwrap();
        let rev = table.lookup(&key(17).reversed()).unwrap();
        assert_eq!(table.hit(fwd, 1, Millis(1)), Some(FlowAction::Forward));
        assert_eq!(table.hit(rev, 1, Millis(1)), Some(FlowAction::Drop));
        table.set_actions(
            fwd,
            Verdict {
                forward: FlowAction::Drop,
                reverse: FlowAction::Forward,
            },
        );
        assert_eq!(table.hit(fwd, 1, Millis(2)), Some(FlowAction::Drop));
        assert_eq!(table.hit(rev, 1, Millis(2)), Some(FlowAction::Forward));
    }

    #[test]
    fn ages_out_by_protocol_and_last_use_of_either_direction() {
        let t = FlowTimeouts::default();
        let mut table = FlowTable::new(16, t);
        table.insert(key(6), ENDS, FORWARD, Millis(0)).unwrap();
        table.insert(key(1), ENDS, FORWARD, Millis(0)).unwrap();
        assert_eq!(table.len(), 4);
        assert_eq!(table.poll_at(), Some(Millis(t.icmp + 1)));
        // Keep the TCP flow alive through its reverse direction.
        let rev = table.lookup(&key(6).reversed()).unwrap();
        table.hit(rev, 1, Millis(t.icmp));
        assert_eq!(table.expire(Millis(t.icmp)), 0);
        assert_eq!(table.expire(Millis(t.icmp + 1)), 2);
        assert!(table.lookup(&key(1)).is_none());
        assert!(table.lookup(&key(6)).is_some());
        assert_eq!(table.expire(Millis(t.icmp + t.tcp + 1)), 2);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn refuses_when_full() {
        let mut table = FlowTable::new(3, FlowTimeouts::default());
        table.insert(key(6), ENDS, FORWARD, Millis(0)).unwrap();
        assert_eq!(
            table.insert(key(17), ENDS, FORWARD, Millis(0)),
            Err(FlowTableFull)
        );
    }
}
