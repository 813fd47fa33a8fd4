//! RBAC policies: the owner of an object shares it with another project, or
//! with every project (`*`), as OpenStack's `rbac-policies` do. A policy
//! that a project's ports depend on cannot be removed or retargeted.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::error::ModelError;
use crate::model::{Ctx, Model, Outcome, touch};
use crate::objects::{
    Change, Kind, Object, RBAC_ANY_PROJECT, RbacAction, RbacObjectType, RbacPolicy,
};
use crate::request::{CreateRbacPolicy, Ref, UpdateRbacPolicy};
use crate::validate;

impl Model {
    pub(crate) fn plan_create_rbac_policy(
        &self,
        req: CreateRbacPolicy,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let project_id = self.resolve(Kind::Project, &req.project, "project")?;
        validate::new_id(self, Kind::RbacPolicy, req.id)?;
        self.rbac_object_owner(req.object_type, req.object_id)?;
        check_target(&req.target_project)?;
        let policy = RbacPolicy {
            meta: ctx.meta(req.id, String::new(), Vec::new()),
            project_id,
            object_type: req.object_type,
            object_id: req.object_id,
            action: req.action,
            target_project: req.target_project,
        };
        self.check_unique(&policy)?;
        Ok(Outcome {
            changes: vec![Change::Put(Object::RbacPolicy(policy.clone()))],
            object: Object::RbacPolicy(policy),
        })
    }

    pub(crate) fn plan_update_rbac_policy(
        &self,
        reference: &Ref,
        req: UpdateRbacPolicy,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::RbacPolicy, reference, "")?;
        let mut policy = self.rbac_policies[&id].clone();
        if let Some(target) = req.target_project
            && target != policy.target_project
        {
            check_target(&target)?;
            // Moving to '*' widens access; moving elsewhere takes it from
            // the old target, which must not depend on it.
            if target != RBAC_ANY_PROJECT {
                self.check_not_depended_on(&policy)?;
            }
            policy.target_project = target;
            self.check_unique(&policy)?;
        }
        touch(&mut policy.meta, ctx.now);
        Ok(Outcome {
            changes: vec![Change::Put(Object::RbacPolicy(policy.clone()))],
            object: Object::RbacPolicy(policy),
        })
    }

    pub(crate) fn plan_delete_rbac_policy(&self, reference: &Ref) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::RbacPolicy, reference, "")?;
        let policy = &self.rbac_policies[&id];
        self.check_not_depended_on(policy)?;
        Ok(Outcome {
            object: Object::RbacPolicy(policy.clone()),
            changes: vec![Change::Delete {
                kind: Kind::RbacPolicy,
                id,
            }],
        })
    }

    /// The project owning the object a policy is about.
    pub fn rbac_object_owner(
        &self,
        object_type: RbacObjectType,
        object_id: Uuid,
    ) -> Result<Uuid, ModelError> {
        match object_type {
            RbacObjectType::SecurityGroup => self
                .groups
                .get(&object_id)
                .map(|g| g.project_id)
                .ok_or_else(|| ModelError::not_found("object_id", Kind::SecurityGroup, object_id)),
        }
    }

    /// Whether a policy shares the object with `project` (an orchestrator
    /// id, see [`crate::objects::Project::orchestrator_id`]), naming it or `*`.
    pub fn shared_with(&self, object_id: Uuid, project: &str) -> bool {
        self.rbac_policies.values().any(|p| {
            p.object_id == object_id
                && p.action == RbacAction::AccessAsShared
                && (p.target_project == RBAC_ANY_PROJECT || p.target_project == project)
        })
    }

    /// The RBAC policies on an object.
    pub fn policies_on(&self, object_id: Uuid) -> impl Iterator<Item = &RbacPolicy> {
        self.rbac_policies
            .values()
            .filter(move |p| p.object_id == object_id)
    }

    fn check_unique(&self, policy: &RbacPolicy) -> Result<(), ModelError> {
        match self.rbac_policies.values().find(|p| {
            p.meta.id != policy.meta.id
                && p.object_type == policy.object_type
                && p.object_id == policy.object_id
                && p.action == policy.action
                && p.target_project == policy.target_project
        }) {
            Some(twin) => Err(ModelError::conflict(
                "target_project",
                format!(
                    "an RBAC policy already exists with those values: {}",
                    twin.meta.id
                ),
            )),
            None => Ok(()),
        }
    }

    /// Refuses to take access away from a project whose ports use the
    /// object through this policy. The owner's own ports never depend on a
    /// policy; nor does anyone while another policy grants the same access.
    fn check_not_depended_on(&self, policy: &RbacPolicy) -> Result<(), ModelError> {
        if policy.action != RbacAction::AccessAsShared {
            return Ok(());
        }
        let Ok(owner) = self.rbac_object_owner(policy.object_type, policy.object_id) else {
            return Ok(());
        };
        let owner_ref = self.orchestrator_id(owner);
        if policy.target_project == owner_ref {
            return Ok(());
        }
        let users: BTreeSet<String> = match policy.object_type {
            RbacObjectType::SecurityGroup => self
                .members_of(policy.object_id)
                .map(|p| self.orchestrator_id(p.project_id))
                .filter(|p| *p != owner_ref)
                .collect(),
        };
        let others: BTreeSet<&str> = self
            .policies_on(policy.object_id)
            .filter(|p| p.meta.id != policy.meta.id && p.action == policy.action)
            .map(|p| p.target_project.as_str())
            .collect();
        if others.contains(RBAC_ANY_PROJECT) {
            return Ok(());
        }
        let stranded = if policy.target_project == RBAC_ANY_PROJECT {
            users.iter().find(|u| !others.contains(u.as_str()))
        } else {
            users.iter().find(|u| **u == policy.target_project)
        };
        match stranded {
            Some(project) => Err(ModelError::InUse {
                kind: Kind::RbacPolicy,
                key: policy.object_id.to_string(),
                by: format!(
                    "project_id={} (a port of project {project} uses it)",
                    policy.target_project
                ),
            }),
            None => Ok(()),
        }
    }

    /// A project's id as its orchestrator knows it.
    pub fn orchestrator_id(&self, project: Uuid) -> String {
        match self.projects.get(&project) {
            Some(p) => p.orchestrator_id(),
            None => project.simple().to_string(),
        }
    }
}

/// A target is a project id as the orchestrator spells it, or `*`.
fn check_target(target: &str) -> Result<(), ModelError> {
    if target.is_empty() {
        return Err(ModelError::invalid(
            "target_project",
            "a project id or '*' is required",
        ));
    }
    if target.chars().any(char::is_whitespace) {
        return Err(ModelError::invalid(
            "target_project",
            format!("'{target}' is not a project id or '*'"),
        ));
    }
    validate::text("target_project", target)
}
