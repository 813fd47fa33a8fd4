//! Compiled security-group rules of one vif, and their evaluation at flow
//! setup.
//!
//! Security groups are allow-lists: a packet passes a vif's ACL in one
//! direction when at least one rule of that direction matches, and an ACL
//! with no rule for a direction denies it (Neutron semantics; a port with
//! port security off has no ACL evaluated at all). A rule's remote is the
//! other endpoint: the destination for egress, the source for ingress. A
//! remote-group rule matches the SG ids of that endpoint, which the engine
//! takes from the route to it (TF notes §4.6) or from the local vif.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use weft_types::Prefix;

use crate::ids::SgId;

/// Traffic leaving the vif (egress) or entering it (ingress), from the
/// vif's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ethertype {
    IPv4,
    IPv6,
}

/// The other endpoint a rule admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remote {
    Any,
    Prefix(Prefix),
    Group(SgId),
}

/// One compiled rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AclRule {
    pub direction: Direction,
    pub ethertype: Ethertype,
    /// IP protocol number; `None` is any.
    pub protocol: Option<u8>,
    /// Destination port range, inclusive; constrains TCP and UDP only.
    pub ports: Option<(u16, u16)>,
    pub remote: Remote,
}

impl AclRule {
    /// A rule admitting everything in `direction` for `ethertype`.
    pub fn allow_all(direction: Direction, ethertype: Ethertype) -> Self {
        AclRule {
            direction,
            ethertype,
            protocol: None,
            ports: None,
            remote: Remote::Any,
        }
    }
}

/// What a rule is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AclQuery<'a> {
    pub direction: Direction,
    pub protocol: u8,
    pub dst_port: u16,
    /// The other endpoint's address and SG ids.
    pub remote_addr: IpAddr,
    pub remote_sgs: &'a [SgId],
}

const TCP: u8 = 6;
const UDP: u8 = 17;

impl AclRule {
    pub(crate) fn matches(&self, query: &AclQuery<'_>) -> bool {
        if self.direction != query.direction {
            return false;
        }
        let family = match query.remote_addr {
            IpAddr::V4(_) => Ethertype::IPv4,
            IpAddr::V6(_) => Ethertype::IPv6,
        };
        if self.ethertype != family {
            return false;
        }
        if self.protocol.is_some_and(|p| p != query.protocol) {
            return false;
        }
        if let Some((first, last)) = self.ports
            && matches!(query.protocol, TCP | UDP)
            && !(first..=last).contains(&query.dst_port)
        {
            return false;
        }
        match self.remote {
            Remote::Any => true,
            Remote::Prefix(prefix) => prefix.contains(query.remote_addr),
            Remote::Group(sg) => query.remote_sgs.contains(&sg),
        }
    }
}

/// Whether `rules` admit the query: at least one rule matches.
pub(crate) fn permits(rules: &[AclRule], query: &AclQuery<'_>) -> bool {
    rules.iter().any(|rule| rule.matches(query))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn query(direction: Direction, remote: &str, sgs: &[SgId]) -> AclQuery<'static> {
        let sgs: &'static [SgId] = Box::leak(sgs.to_vec().into_boxed_slice());
        AclQuery {
            direction,
            protocol: TCP,
            dst_port: 22,
            remote_addr: remote.parse().unwrap(),
            remote_sgs: sgs,
        }
    }

    #[test]
    fn empty_acl_denies() {
        assert!(!permits(&[], &query(Direction::Ingress, "10.0.0.1", &[])));
    }

    #[test]
    fn direction_and_family_must_match() {
        let rules = [AclRule::allow_all(Direction::Egress, Ethertype::IPv4)];
        assert!(permits(&rules, &query(Direction::Egress, "10.0.0.1", &[])));
        assert!(!permits(
            &rules,
            &query(Direction::Ingress, "10.0.0.1", &[])
        ));
        assert!(!permits(&rules, &query(Direction::Egress, "fd00::1", &[])));
    }

    #[test]
    fn remote_prefix_and_group() {
        let by_prefix = [AclRule {
            remote: Remote::Prefix("192.168.1.0/24".parse().unwrap()),
            ..AclRule::allow_all(Direction::Ingress, Ethertype::IPv4)
        }];
        assert!(permits(
            &by_prefix,
            &query(Direction::Ingress, "192.168.1.4", &[])
        ));
        assert!(!permits(
            &by_prefix,
            &query(Direction::Ingress, "10.1.1.4", &[])
        ));

        let by_group = [AclRule {
            remote: Remote::Group(SgId(7)),
            ..AclRule::allow_all(Direction::Ingress, Ethertype::IPv4)
        }];
        assert!(permits(
            &by_group,
            &query(Direction::Ingress, "10.1.1.4", &[SgId(3), SgId(7)])
        ));
        assert!(!permits(
            &by_group,
            &query(Direction::Ingress, "10.1.1.4", &[SgId(3)])
        ));
    }

    #[test]
    fn protocol_and_port_range() {
        let ssh = [AclRule {
            protocol: Some(TCP),
            ports: Some((22, 22)),
            ..AclRule::allow_all(Direction::Ingress, Ethertype::IPv4)
        }];
        let mut q = query(Direction::Ingress, "10.0.0.1", &[]);
        assert!(permits(&ssh, &q));
        q.dst_port = 80;
        assert!(!permits(&ssh, &q));
        q.protocol = UDP;
        q.dst_port = 22;
        assert!(!permits(&ssh, &q));
        // Port ranges do not constrain ICMP.
        let icmp_any_port = [AclRule {
            protocol: Some(1),
            ports: Some((1, 2)),
            ..AclRule::allow_all(Direction::Ingress, Ethertype::IPv4)
        }];
        q.protocol = 1;
        q.dst_port = 999;
        assert!(permits(&icmp_any_port, &q));
    }
}
