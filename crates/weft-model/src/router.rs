//! Routers: OpenStack's bookkeeping of a named router in a project and the
//! ports that are its interfaces.

use crate::error::ModelError;
use crate::model::{Ctx, Model, Outcome, touch};
use crate::objects::{Change, Kind, Object, ROUTER_INTERFACE_OWNER, Router};
use crate::request::{CreateRouter, Ref, UpdateRouter};
use crate::validate;

impl Model {
    pub(crate) fn plan_create_router(
        &self,
        req: CreateRouter,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let project_id = self.resolve(Kind::Project, &req.project, "project")?;
        validate::new_id(self, Kind::Router, req.id)?;
        validate::text("name", &req.name)?;
        validate::description(&req.description)?;
        validate::tags(&req.tags)?;
        let router = Router {
            meta: ctx.meta(req.id, req.description, req.tags),
            name: req.name,
            project_id,
            admin_state_up: req.admin_state_up.unwrap_or(true),
        };
        Ok(Outcome {
            changes: vec![Change::Put(Object::Router(router.clone()))],
            object: Object::Router(router),
        })
    }

    pub(crate) fn plan_update_router(
        &self,
        reference: &Ref,
        req: UpdateRouter,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Router, reference, "")?;
        let mut router = self.routers[&id].clone();
        if let Some(name) = req.name {
            validate::text("name", &name)?;
            router.name = name;
        }
        if let Some(description) = req.description {
            validate::description(&description)?;
            router.meta.description = description;
        }
        if let Some(tags) = req.tags {
            validate::tags(&tags)?;
            router.meta.tags = tags;
        }
        if let Some(up) = req.admin_state_up {
            router.admin_state_up = up;
        }
        touch(&mut router.meta, ctx.now);
        Ok(Outcome {
            changes: vec![Change::Put(Object::Router(router.clone()))],
            object: Object::Router(router),
        })
    }

    /// A router goes only once it has no interfaces left.
    pub(crate) fn plan_delete_router(&self, reference: &Ref) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Router, reference, "")?;
        if let Some(port) = self.interfaces_of(id).next() {
            return Err(ModelError::InUse {
                kind: Kind::Router,
                key: id.to_string(),
                by: format!("port {} is one of its interfaces", port.meta.id),
            });
        }
        Ok(Outcome {
            object: Object::Router(self.routers[&id].clone()),
            changes: vec![Change::Delete {
                kind: Kind::Router,
                id,
            }],
        })
    }

    /// The ports that are a router's interfaces.
    pub fn interfaces_of(&self, router: uuid::Uuid) -> impl Iterator<Item = &crate::Port> {
        let device = router.to_string();
        self.ports
            .values()
            .filter(move |p| p.device_owner == ROUTER_INTERFACE_OWNER && p.device_id == device)
    }
}
