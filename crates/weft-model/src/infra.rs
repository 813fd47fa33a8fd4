//! Nodes (vRouters), control nodes and the global configuration.

use std::collections::BTreeSet;

use weft_types::{FqName, RouteTarget};

use crate::error::ModelError;
use crate::model::{Ctx, Model, Outcome, touch};
use crate::objects::{Change, ControlNode, Kind, Node, Object};
use crate::request::{CreateControlNode, CreateNode, Ref, UpdateGlobalConfig, UpdateNode};
use crate::validate;

impl Model {
    pub(crate) fn plan_create_node(
        &self,
        req: CreateNode,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let name = host_name(&req.name)?;
        validate::new_id(self, Kind::Node, req.id)?;
        validate::description(&req.description)?;
        validate::new_name(self, Kind::Node, "name", &name)?;
        if let Some(other) = self
            .nodes
            .values()
            .find(|n| n.underlay_ip == req.underlay_ip)
        {
            return Err(ModelError::conflict(
                "underlay_ip",
                format!(
                    "{} is already the underlay address of node {}",
                    req.underlay_ip, other.name
                ),
            ));
        }
        let node = Node {
            meta: ctx.meta(req.id, req.description, Vec::new()),
            name: req.name,
            underlay_ip: req.underlay_ip,
        };
        Ok(Outcome {
            changes: vec![Change::Put(Object::Node(node.clone()))],
            object: Object::Node(node),
        })
    }

    pub(crate) fn plan_update_node(
        &self,
        reference: &Ref,
        req: UpdateNode,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Node, reference, "")?;
        let mut node = self.nodes[&id].clone();
        if let Some(ip) = req.underlay_ip {
            if let Some(other) = self
                .nodes
                .values()
                .find(|n| n.underlay_ip == ip && n.meta.id != id)
            {
                return Err(ModelError::conflict(
                    "underlay_ip",
                    format!(
                        "{ip} is already the underlay address of node {}",
                        other.name
                    ),
                ));
            }
            node.underlay_ip = ip;
        }
        if let Some(description) = req.description {
            validate::description(&description)?;
            node.meta.description = description;
        }
        touch(&mut node.meta, ctx.now);
        Ok(Outcome {
            changes: vec![Change::Put(Object::Node(node.clone()))],
            object: Object::Node(node),
        })
    }

    pub(crate) fn plan_delete_node(&self, reference: &Ref) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Node, reference, "")?;
        let node = &self.nodes[&id];
        if let Some(port) = self
            .ports
            .values()
            .find(|p| p.binding_host_id.as_deref() == Some(node.name.as_str()))
        {
            return Err(ModelError::InUse {
                kind: Kind::Node,
                key: node.name.clone(),
                by: format!("port {} is bound to it", port.meta.id),
            });
        }
        Ok(Outcome {
            object: Object::Node(node.clone()),
            changes: vec![Change::Delete {
                kind: Kind::Node,
                id,
            }],
        })
    }

    pub(crate) fn plan_create_control_node(
        &self,
        req: CreateControlNode,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let name = host_name(&req.name)?;
        validate::new_id(self, Kind::ControlNode, req.id)?;
        validate::description(&req.description)?;
        validate::new_name(self, Kind::ControlNode, "name", &name)?;
        let node = ControlNode {
            meta: ctx.meta(req.id, req.description, Vec::new()),
            name: req.name,
            address: req.address,
        };
        Ok(Outcome {
            changes: vec![Change::Put(Object::ControlNode(node.clone()))],
            object: Object::ControlNode(node),
        })
    }

    pub(crate) fn plan_delete_control_node(&self, reference: &Ref) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::ControlNode, reference, "")?;
        Ok(Outcome {
            object: Object::ControlNode(self.control_nodes[&id].clone()),
            changes: vec![Change::Delete {
                kind: Kind::ControlNode,
                id,
            }],
        })
    }

    /// Changes the ASN (automatic route targets follow) or the encapsulation order.
    pub(crate) fn plan_update_global(
        &self,
        req: UpdateGlobalConfig,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let Some(mut global) = self.global.clone() else {
            return Err(ModelError::not_found(
                "",
                Kind::GlobalConfig,
                "global-config",
            ));
        };
        let mut changes = Vec::new();
        if let Some(encaps) = req.encapsulation_priority {
            if encaps.is_empty() {
                return Err(ModelError::invalid(
                    "encapsulation_priority",
                    "needs at least one encapsulation",
                ));
            }
            let unique: BTreeSet<String> = encaps.iter().map(|e| format!("{e:?}")).collect();
            if unique.len() != encaps.len() {
                return Err(ModelError::invalid(
                    "encapsulation_priority",
                    "an encapsulation is listed twice",
                ));
            }
            global.encapsulation_priority = encaps;
        }
        if let Some(asn) = req.asn {
            if asn.0 == 0 {
                return Err(ModelError::invalid("asn", "0 is not a usable AS number"));
            }
            if asn != global.asn {
                for network in self
                    .networks
                    .values()
                    .filter(|n| !n.route_targets_configured)
                {
                    let mut network = network.clone();
                    network.route_targets = vec![RouteTarget::automatic(asn, network.vn_id)];
                    touch(&mut network.meta, ctx.now);
                    changes.push(Change::Put(Object::VirtualNetwork(network)));
                }
            }
            global.asn = asn;
        }
        touch(&mut global.meta, ctx.now);
        changes.insert(0, Change::Put(Object::GlobalConfig(global.clone())));
        Ok(Outcome {
            object: Object::GlobalConfig(global),
            changes,
        })
    }
}

/// A node name is one FQ-name component (no ':').
fn host_name(name: &str) -> Result<FqName, ModelError> {
    FqName::from_components([name]).map_err(|e| ModelError::invalid("name", e.to_string()))
}
