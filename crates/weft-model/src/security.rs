//! Security groups and their rules, with Neutron's rule semantics.

use uuid::Uuid;
use weft_types::Prefix;

use crate::error::ModelError;
use crate::model::{Ctx, Model, Outcome, touch};
use crate::objects::{
    Change, Direction, Ethertype, Kind, Object, SecurityGroup, SecurityGroupRule,
};
use crate::project::{DEFAULT_GROUP, plain_rule};
use crate::request::{CreateSecurityGroup, CreateSecurityGroupRule, Ref, UpdateSecurityGroup};
use crate::validate;

/// IP protocol names Neutron accepts, with their numbers.
const PROTOCOLS: [(&str, u8); 26] = [
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ipip", 4),
    ("tcp", 6),
    ("egp", 8),
    ("udp", 17),
    ("ipv6-encap", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ospf", 89),
    ("pgm", 113),
    ("vrrp", 112),
    ("sctp", 132),
    ("udplite", 136),
    ("dccp", 33),
    ("ip", 0),
    ("any", 0),
];

/// Protocols whose rules may carry a port range.
const PORTED: [u8; 5] = [6, 17, 33, 132, 136];
/// Protocols whose rules carry an ICMP type (min) and code (max).
const ICMP: [u8; 2] = [1, 58];

/// The number of a protocol given by name or number; `None` matches any.
pub fn protocol_number(protocol: Option<&str>) -> Option<u8> {
    let protocol = protocol?;
    if protocol == "any" || protocol == "ip" {
        return None;
    }
    PROTOCOLS
        .iter()
        .find(|(name, _)| *name == protocol)
        .map(|(_, n)| *n)
        .or_else(|| protocol.parse().ok())
}

impl Model {
    pub(crate) fn plan_create_group(
        &self,
        req: CreateSecurityGroup,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        validate::fq_depth("fq_name", &req.fq_name, 3, "domain:project:name")?;
        validate::new_id(self, Kind::SecurityGroup, req.id)?;
        validate::description(&req.description)?;
        validate::tags(&req.tags)?;
        let parent = req.fq_name.parent().unwrap_or_else(|| req.fq_name.clone());
        let project_id = self.resolve(Kind::Project, &Ref::Name(parent), "fq_name")?;
        validate::new_name(self, Kind::SecurityGroup, "fq_name", &req.fq_name)?;
        let group = SecurityGroup {
            meta: ctx.meta(req.id, req.description, req.tags),
            fq_name: req.fq_name,
            project_id,
            sg_id: self.next_sg_id()?,
            stateful: req.stateful.unwrap_or(true),
        };
        let mut changes = vec![Change::Put(Object::SecurityGroup(group.clone()))];
        for ethertype in [Ethertype::IPv4, Ethertype::IPv6] {
            let rule = plain_rule(&group, Direction::Egress, ethertype, None, ctx);
            changes.push(Change::Put(Object::SecurityGroupRule(rule)));
        }
        Ok(Outcome {
            object: Object::SecurityGroup(group),
            changes,
        })
    }

    pub(crate) fn plan_update_group(
        &self,
        reference: &Ref,
        req: UpdateSecurityGroup,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::SecurityGroup, reference, "")?;
        let mut group = self.groups[&id].clone();
        if let Some(name) = req.name
            && name != group.name()
        {
            if group.name() == DEFAULT_GROUP {
                return Err(ModelError::conflict(
                    "name",
                    "the default group cannot be renamed",
                ));
            }
            let parent = group
                .fq_name
                .parent()
                .unwrap_or_else(|| group.fq_name.clone());
            let fq_name = parent
                .child(&name)
                .map_err(|e| ModelError::invalid("name", e.to_string()))?;
            validate::new_name(self, Kind::SecurityGroup, "name", &fq_name)?;
            group.fq_name = fq_name;
        }
        if let Some(description) = req.description {
            validate::description(&description)?;
            group.meta.description = description;
        }
        if let Some(tags) = req.tags {
            validate::tags(&tags)?;
            group.meta.tags = tags;
        }
        if let Some(stateful) = req.stateful
            && stateful != group.stateful
        {
            // Neutron refuses too: the ports' filters would change under
            // their established connections.
            if let Some(port) = self.members_of(id).next() {
                return Err(ModelError::InUse {
                    kind: Kind::SecurityGroup,
                    key: group.fq_name.to_string(),
                    by: format!(
                        "port {} is a member, so it cannot become {}",
                        port.meta.id,
                        if stateful { "stateful" } else { "stateless" }
                    ),
                });
            }
            group.stateful = stateful;
        }
        touch(&mut group.meta, ctx.now);
        Ok(Outcome {
            changes: vec![Change::Put(Object::SecurityGroup(group.clone()))],
            object: Object::SecurityGroup(group),
        })
    }

    pub(crate) fn plan_delete_group(&self, reference: &Ref) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::SecurityGroup, reference, "")?;
        let group = &self.groups[&id];
        let in_use = |by: String| ModelError::InUse {
            kind: Kind::SecurityGroup,
            key: group.fq_name.to_string(),
            by,
        };
        if group.name() == DEFAULT_GROUP {
            return Err(in_use(
                "it is its project's default group; delete the project instead".into(),
            ));
        }
        if let Some(port) = self.members_of(id).next() {
            return Err(in_use(format!("port {} is a member", port.meta.id)));
        }
        Ok(Outcome {
            object: Object::SecurityGroup(group.clone()),
            changes: self.group_removal(id),
        })
    }

    /// Deletes a group, its rules, and rules elsewhere that name it as remote.
    pub(crate) fn group_removal(&self, id: Uuid) -> Vec<Change> {
        let mut changes: Vec<Change> = self
            .rules
            .values()
            .filter(|r| r.security_group_id == id || r.remote_group_id == Some(id))
            .map(|r| Change::Delete {
                kind: Kind::SecurityGroupRule,
                id: r.meta.id,
            })
            .collect();
        changes.extend(self.policies_on(id).map(|p| Change::Delete {
            kind: Kind::RbacPolicy,
            id: p.meta.id,
        }));
        changes.push(Change::Delete {
            kind: Kind::SecurityGroup,
            id,
        });
        changes
    }

    pub(crate) fn plan_create_rule(
        &self,
        req: CreateSecurityGroupRule,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let group_id = self.resolve(Kind::SecurityGroup, &req.security_group, "security_group")?;
        let group = &self.groups[&group_id];
        validate::new_id(self, Kind::SecurityGroupRule, req.id)?;
        validate::description(&req.description)?;

        if req.remote_ip_prefix.is_some() && req.remote_group.is_some() {
            return Err(ModelError::invalid(
                "remote_group",
                "give remote_ip_prefix or remote_group, not both",
            ));
        }
        let remote_ip_prefix = req
            .remote_ip_prefix
            .as_deref()
            .map(|text| {
                Prefix::parse_normalised(text)
                    .map_err(|e| ModelError::invalid("remote_ip_prefix", e.to_string()))
            })
            .transpose()?;
        let ethertype = match (req.ethertype, remote_ip_prefix) {
            (Some(e), Some(p)) if !e.matches(p) => {
                return Err(ModelError::invalid(
                    "remote_ip_prefix",
                    format!("{p} is not of ethertype {e:?}"),
                ));
            }
            (Some(e), _) => e,
            (None, Some(p)) if !p.is_ipv4() => Ethertype::IPv6,
            (None, _) => Ethertype::IPv4,
        };
        let remote_group_id = req
            .remote_group
            .as_ref()
            .map(|r| self.resolve(Kind::SecurityGroup, r, "remote_group"))
            .transpose()?;
        let protocol = normalise_protocol(req.protocol.as_deref())?;
        let number = protocol_number(protocol.as_deref());
        check_ports(number, req.port_range_min, req.port_range_max)?;

        let rule = SecurityGroupRule {
            meta: ctx.meta(req.id, req.description, Vec::new()),
            security_group_id: group_id,
            project_id: group.project_id,
            direction: req.direction,
            ethertype,
            protocol,
            port_range_min: req.port_range_min,
            port_range_max: req.port_range_max,
            remote_ip_prefix,
            remote_ip_prefix_given: req
                .remote_ip_prefix
                .filter(|given| remote_ip_prefix.is_some_and(|p| p.to_string() != *given)),
            remote_group_id,
        };
        if let Some(twin) = self.rules_of(group_id).find(|r| same_match(r, &rule)) {
            return Err(ModelError::conflict(
                "security_group",
                format!("an identical rule already exists: {}", twin.meta.id),
            ));
        }
        // A group's revision counts its rules' changes too (Neutron's
        // revision plugin: a rule revises its group).
        let mut group = group.clone();
        touch(&mut group.meta, ctx.now);
        Ok(Outcome {
            changes: vec![
                Change::Put(Object::SecurityGroupRule(rule.clone())),
                Change::Put(Object::SecurityGroup(group)),
            ],
            object: Object::SecurityGroupRule(rule),
        })
    }

    pub(crate) fn plan_delete_rule(
        &self,
        reference: &Ref,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::SecurityGroupRule, reference, "")?;
        let rule = &self.rules[&id];
        let mut changes = vec![Change::Delete {
            kind: Kind::SecurityGroupRule,
            id,
        }];
        if let Some(group) = self.groups.get(&rule.security_group_id) {
            let mut group = group.clone();
            touch(&mut group.meta, ctx.now);
            changes.push(Change::Put(Object::SecurityGroup(group)));
        }
        Ok(Outcome {
            object: Object::SecurityGroupRule(rule.clone()),
            changes,
        })
    }
}

/// Lower-cases a protocol and checks it is a known name or a number 0-255.
fn normalise_protocol(protocol: Option<&str>) -> Result<Option<String>, ModelError> {
    let Some(protocol) = protocol else {
        return Ok(None);
    };
    let lower = protocol.trim().to_ascii_lowercase();
    if lower.is_empty() || lower == "any" {
        return Ok(None);
    }
    let known = PROTOCOLS.iter().any(|(name, _)| *name == lower);
    if known || lower.parse::<u8>().is_ok() {
        return Ok(Some(lower));
    }
    Err(ModelError::invalid(
        "protocol",
        format!("'{protocol}' is neither a protocol name (tcp, udp, icmp, …) nor a number 0-255"),
    ))
}

fn check_ports(protocol: Option<u8>, min: Option<u16>, max: Option<u16>) -> Result<(), ModelError> {
    if min.is_none() && max.is_none() {
        return Ok(());
    }
    let Some(number) = protocol else {
        return Err(ModelError::invalid(
            "port_range_min",
            "a port range needs a protocol (tcp, udp, sctp, udplite, dccp, or icmp type/code)",
        ));
    };
    if ICMP.contains(&number) {
        for (field, value) in [("port_range_min", min), ("port_range_max", max)] {
            if value.is_some_and(|v| v > 255) {
                return Err(ModelError::invalid(field, "an ICMP type or code is 0-255"));
            }
        }
        if min.is_none() {
            return Err(ModelError::invalid(
                "port_range_min",
                "an ICMP code (port_range_max) needs a type (port_range_min)",
            ));
        }
        return Ok(());
    }
    if !PORTED.contains(&number) {
        return Err(ModelError::invalid(
            "port_range_min",
            format!("protocol {number} has no ports"),
        ));
    }
    match (min, max) {
        (Some(0), _) | (_, Some(0)) => {
            Err(ModelError::invalid("port_range_min", "ports are 1-65535"))
        }
        (Some(lo), Some(hi)) if lo > hi => Err(ModelError::invalid(
            "port_range_min",
            format!("{lo} is greater than port_range_max {hi}"),
        )),
        (None, Some(_)) => Err(ModelError::invalid(
            "port_range_min",
            "is required with port_range_max",
        )),
        _ => Ok(()),
    }
}

/// Whether two rules match the same traffic (protocol names and numbers equal).
fn same_match(a: &SecurityGroupRule, b: &SecurityGroupRule) -> bool {
    a.direction == b.direction
        && a.ethertype == b.ethertype
        && protocol_number(a.protocol.as_deref()) == protocol_number(b.protocol.as_deref())
        && a.port_range_min == b.port_range_min
        && a.port_range_max == b.port_range_max
        && a.remote_ip_prefix == b.remote_ip_prefix
        && a.remote_group_id == b.remote_group_id
}
