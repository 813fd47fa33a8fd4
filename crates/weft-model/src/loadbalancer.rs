//! Load balancers: an address held by a port of a service network, and the
//! backends each of its listeners spreads connections over.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::error::ModelError;
use crate::model::{Ctx, Model, Outcome, touch};
use crate::objects::{Change, Kind, Listener, LoadBalancer, Object};
use crate::request::{CreateLoadBalancer, Ref, UpdateLoadBalancer};
use crate::validate;

impl Model {
    pub(crate) fn plan_create_load_balancer(
        &self,
        req: CreateLoadBalancer,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        validate::fq_depth("fq_name", &req.fq_name, 3, "domain:project:name")?;
        validate::new_id(self, Kind::LoadBalancer, req.id)?;
        validate::description(&req.description)?;
        validate::tags(&req.tags)?;
        let parent = req.fq_name.parent().unwrap_or_else(|| req.fq_name.clone());
        let project_id = self.resolve(Kind::Project, &Ref::Name(parent), "fq_name")?;
        validate::new_name(self, Kind::LoadBalancer, "fq_name", &req.fq_name)?;
        let vip_port_id = self.resolve(Kind::Port, &req.vip_port, "vip_port")?;
        let port = &self.ports[&vip_port_id];
        let vip = port
            .fixed_ips
            .first()
            .ok_or_else(|| {
                ModelError::invalid(
                    "vip_port",
                    format!("port {vip_port_id} has no fixed IP to serve"),
                )
            })?
            .ip_address;
        if let Some(other) = self
            .load_balancers
            .values()
            .find(|lb| lb.vip_port_id == vip_port_id)
        {
            return Err(ModelError::conflict(
                "vip_port",
                format!(
                    "port {vip_port_id} is already the address of load balancer {}",
                    other.fq_name
                ),
            ));
        }
        let client_network_ids = self.client_networks(&req.client_networks)?;
        check_listeners(&req.listeners, vip)?;
        let lb = LoadBalancer {
            meta: ctx.meta(req.id, req.description, req.tags),
            fq_name: req.fq_name,
            project_id,
            vip_port_id,
            vip_address: vip,
            client_network_ids,
            listeners: req.listeners,
        };
        Ok(Outcome {
            changes: vec![Change::Put(Object::LoadBalancer(lb.clone()))],
            object: Object::LoadBalancer(lb),
        })
    }

    pub(crate) fn plan_update_load_balancer(
        &self,
        reference: &Ref,
        req: UpdateLoadBalancer,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::LoadBalancer, reference, "")?;
        let mut lb = self.load_balancers[&id].clone();
        if let Some(listeners) = req.listeners {
            check_listeners(&listeners, lb.vip_address)?;
            lb.listeners = listeners;
        }
        if let Some(networks) = req.client_networks {
            lb.client_network_ids = self.client_networks(&networks)?;
        }
        if let Some(description) = req.description {
            validate::description(&description)?;
            lb.meta.description = description;
        }
        if let Some(tags) = req.tags {
            validate::tags(&tags)?;
            lb.meta.tags = tags;
        }
        touch(&mut lb.meta, ctx.now);
        Ok(Outcome {
            changes: vec![Change::Put(Object::LoadBalancer(lb.clone()))],
            object: Object::LoadBalancer(lb),
        })
    }

    pub(crate) fn plan_delete_load_balancer(&self, reference: &Ref) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::LoadBalancer, reference, "")?;
        Ok(Outcome {
            object: Object::LoadBalancer(self.load_balancers[&id].clone()),
            changes: vec![Change::Delete {
                kind: Kind::LoadBalancer,
                id,
            }],
        })
    }

    /// The load balancer whose address a port holds, if any.
    pub(crate) fn load_balancer_on(&self, port: Uuid) -> Option<&LoadBalancer> {
        self.load_balancers
            .values()
            .find(|lb| lb.vip_port_id == port)
    }

    /// A load balancer that lists `network` as a client network, if any.
    pub(crate) fn load_balancer_serving(&self, network: Uuid) -> Option<&LoadBalancer> {
        self.load_balancers
            .values()
            .find(|lb| lb.client_network_ids.contains(&network))
    }

    fn client_networks(&self, refs: &[Ref]) -> Result<Vec<Uuid>, ModelError> {
        let mut ids = Vec::new();
        for (i, r) in refs.iter().enumerate() {
            let id = self.resolve(Kind::VirtualNetwork, r, &format!("client_networks[{i}]"))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

/// Listeners are unique by protocol and port, ports are not 0, and
/// backends are of the address's family, each listed once.
fn check_listeners(listeners: &[Listener], vip: std::net::IpAddr) -> Result<(), ModelError> {
    let mut seen = BTreeSet::new();
    for (i, l) in listeners.iter().enumerate() {
        let field = format!("listeners[{i}]");
        if l.port == 0 {
            return Err(ModelError::invalid(format!("{field}.port"), "port 0"));
        }
        if !seen.insert((l.protocol, l.port)) {
            return Err(ModelError::invalid(
                field,
                format!("{:?} port {} is listed twice", l.protocol, l.port),
            ));
        }
        let mut backends = BTreeSet::new();
        for (j, b) in l.backends.iter().enumerate() {
            let field = format!("listeners[{i}].backends[{j}]");
            if b.port == 0 {
                return Err(ModelError::invalid(format!("{field}.port"), "port 0"));
            }
            if b.address.is_ipv4() != vip.is_ipv4() {
                return Err(ModelError::invalid(
                    format!("{field}.address"),
                    format!("{} is not of the family of the address {vip}", b.address),
                ));
            }
            if !backends.insert(*b) {
                return Err(ModelError::invalid(
                    field,
                    format!("{}:{} is listed twice", b.address, b.port),
                ));
            }
        }
    }
    Ok(())
}
