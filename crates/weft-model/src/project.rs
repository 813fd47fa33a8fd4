//! Domains, projects, the bootstrap objects, and each project's `default` group.

use uuid::Uuid;
use weft_types::{Asn, DEFAULT_DOMAIN, FqName};

use crate::error::ModelError;
use crate::model::{Ctx, Model, Outcome, touch};
use crate::objects::{
    Change, Direction, Domain, Encapsulation, Ethertype, GlobalConfig, Kind, Object, Project,
    SecurityGroup, SecurityGroupRule,
};
use crate::request::{CreateDomain, CreateProject, Ref, UpdateProject};
use crate::validate;

/// Name of the group every project gets.
pub const DEFAULT_GROUP: &str = "default";

impl Model {
    /// The objects a fresh deployment needs (global config, `default-domain`),
    /// if they are missing. Empty when the model is already bootstrapped.
    pub fn bootstrap(&self, ctx: &mut Ctx<'_>) -> Vec<Change> {
        let mut changes = Vec::new();
        if self.global.is_none() {
            let meta = ctx.meta(Some(GlobalConfig::ID), String::new(), Vec::new());
            changes.push(Change::Put(Object::GlobalConfig(GlobalConfig {
                meta,
                asn: Asn::DEFAULT,
                encapsulation_priority: vec![
                    Encapsulation::MplsOverUdp,
                    Encapsulation::MplsOverGre,
                    Encapsulation::Vxlan,
                ],
            })));
        }
        let domain = FqName::from_components([DEFAULT_DOMAIN]);
        if let Ok(domain) = domain
            && !self.names.contains_key(&(Kind::Domain, domain.clone()))
        {
            changes.push(Change::Put(Object::Domain(Domain {
                meta: ctx.meta(None, String::new(), Vec::new()),
                fq_name: domain,
            })));
        }
        changes
    }

    pub(crate) fn plan_create_domain(
        &self,
        req: CreateDomain,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        validate::fq_depth("fq_name", &req.fq_name, 1, "a single name")?;
        validate::new_id(self, Kind::Domain, req.id)?;
        validate::description(&req.description)?;
        validate::tags(&req.tags)?;
        validate::new_name(self, Kind::Domain, "fq_name", &req.fq_name)?;
        let domain = Domain {
            meta: ctx.meta(req.id, req.description, req.tags),
            fq_name: req.fq_name,
        };
        Ok(Outcome {
            changes: vec![Change::Put(Object::Domain(domain.clone()))],
            object: Object::Domain(domain),
        })
    }

    pub(crate) fn plan_delete_domain(&self, reference: &Ref) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Domain, reference, "")?;
        let domain = &self.domains[&id];
        let in_use = |by: String| ModelError::InUse {
            kind: Kind::Domain,
            key: domain.fq_name.to_string(),
            by,
        };
        if domain.fq_name.name() == DEFAULT_DOMAIN {
            return Err(in_use("it is the default domain".into()));
        }
        if let Some(project) = self.projects.values().find(|p| p.domain_id == id) {
            return Err(in_use(format!("it holds project {}", project.fq_name)));
        }
        Ok(Outcome {
            object: Object::Domain(domain.clone()),
            changes: vec![Change::Delete {
                kind: Kind::Domain,
                id,
            }],
        })
    }

    pub(crate) fn plan_create_project(
        &self,
        req: CreateProject,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let fq_name = match req.fq_name.components().len() {
            1 | 2 => in_default_domain(&req.fq_name)
                .map_err(|e| ModelError::invalid("fq_name", e.to_string()))?,
            _ => {
                return Err(ModelError::invalid(
                    "fq_name",
                    format!(
                        "'{}' is not a project name; expected domain:project",
                        req.fq_name
                    ),
                ));
            }
        };
        validate::new_id(self, Kind::Project, req.id)?;
        validate::description(&req.description)?;
        validate::tags(&req.tags)?;
        if let Some(external) = &req.external_id {
            validate::text("external_id", external)?;
        }
        let domain = fq_name.parent().unwrap_or_else(|| fq_name.clone());
        let domain_id = self.resolve(Kind::Domain, &Ref::Name(domain), "fq_name")?;
        validate::new_name(self, Kind::Project, "fq_name", &fq_name)?;

        let project = Project {
            meta: ctx.meta(req.id, req.description, req.tags),
            fq_name,
            domain_id,
            external_id: req.external_id,
            quotas: Default::default(),
        };
        let mut changes = vec![Change::Put(Object::Project(project.clone()))];
        changes.extend(self.default_group(&project, ctx)?);
        Ok(Outcome {
            object: Object::Project(project),
            changes,
        })
    }

    /// A project's `default` group: ingress only from its own members, egress
    /// anywhere, for IPv4 and IPv6 (OpenStack's semantics).
    fn default_group(
        &self,
        project: &Project,
        ctx: &mut Ctx<'_>,
    ) -> Result<Vec<Change>, ModelError> {
        let fq_name = project
            .fq_name
            .child(DEFAULT_GROUP)
            .map_err(|e| ModelError::invalid("fq_name", e.to_string()))?;
        let group = SecurityGroup {
            meta: ctx.meta(None, "Default security group".into(), Vec::new()),
            fq_name,
            project_id: project.meta.id,
            sg_id: self.next_sg_id()?,
            stateful: true,
        };
        let mut changes = Vec::with_capacity(5);
        for direction in [Direction::Ingress, Direction::Egress] {
            for ethertype in [Ethertype::IPv4, Ethertype::IPv6] {
                let remote_group_id = (direction == Direction::Ingress).then_some(group.meta.id);
                changes.push(Change::Put(Object::SecurityGroupRule(plain_rule(
                    &group,
                    direction,
                    ethertype,
                    remote_group_id,
                    ctx,
                ))));
            }
        }
        changes.insert(0, Change::Put(Object::SecurityGroup(group)));
        Ok(changes)
    }

    pub(crate) fn plan_update_project(
        &self,
        reference: &Ref,
        req: UpdateProject,
        ctx: &mut Ctx<'_>,
    ) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Project, reference, "")?;
        let mut project = self.projects[&id].clone();
        if let Some(description) = req.description {
            validate::description(&description)?;
            project.meta.description = description;
        }
        if let Some(tags) = req.tags {
            validate::tags(&tags)?;
            project.meta.tags = tags;
        }
        if let Some(quotas) = req.quotas {
            for (resource, limit) in &quotas {
                let field = format!("quotas.{resource}");
                if resource.is_empty() {
                    return Err(ModelError::invalid(
                        "quotas",
                        "a quota needs a resource name",
                    ));
                }
                validate::text(&field, resource)?;
                if *limit < -1 {
                    return Err(ModelError::invalid(
                        field,
                        "a quota is -1 (no limit) or more",
                    ));
                }
            }
            project.quotas = quotas;
        }
        touch(&mut project.meta, ctx.now);
        Ok(Outcome {
            changes: vec![Change::Put(Object::Project(project.clone()))],
            object: Object::Project(project),
        })
    }

    pub(crate) fn plan_delete_project(&self, reference: &Ref) -> Result<Outcome, ModelError> {
        let id = self.resolve(Kind::Project, reference, "")?;
        let project = &self.projects[&id];
        let in_use = |by: String| ModelError::InUse {
            kind: Kind::Project,
            key: project.fq_name.to_string(),
            by,
        };
        if let Some(n) = self.networks.values().find(|n| n.project_id == id) {
            return Err(in_use(format!("it owns virtual network {}", n.fq_name)));
        }
        if let Some(p) = self.ports.values().find(|p| p.project_id == id) {
            return Err(in_use(format!("it owns port {}", p.meta.id)));
        }
        if let Some(lb) = self.load_balancers.values().find(|lb| lb.project_id == id) {
            return Err(in_use(format!("it owns load balancer {}", lb.fq_name)));
        }
        if let Some(r) = self.routers.values().find(|r| r.project_id == id) {
            return Err(in_use(format!("it owns router {}", r.meta.id)));
        }
        if let Some(g) = self
            .groups
            .values()
            .find(|g| g.project_id == id && g.name() != DEFAULT_GROUP)
        {
            return Err(in_use(format!("it owns security group {}", g.fq_name)));
        }
        for group in self.groups.values().filter(|g| g.project_id == id) {
            if let Some(port) = self.members_of(group.meta.id).next() {
                return Err(in_use(format!(
                    "port {} of another project is a member of its group {}",
                    port.meta.id, group.fq_name
                )));
            }
        }
        let mut changes = Vec::new();
        for group in self.groups.values().filter(|g| g.project_id == id) {
            changes.extend(self.group_removal(group.meta.id));
        }
        // The policies it made go with it (those on its groups already did).
        let gone: Vec<Uuid> = changes
            .iter()
            .filter(|c| c.kind() == Kind::RbacPolicy)
            .map(Change::id)
            .collect();
        for policy in self
            .rbac_policies
            .values()
            .filter(|p| p.project_id == id && !gone.contains(&p.meta.id))
        {
            changes.push(Change::Delete {
                kind: Kind::RbacPolicy,
                id: policy.meta.id,
            });
        }
        changes.push(Change::Delete {
            kind: Kind::Project,
            id,
        });
        Ok(Outcome {
            object: Object::Project(project.clone()),
            changes,
        })
    }

    pub(crate) fn next_sg_id(&self) -> Result<u32, ModelError> {
        validate::lowest_free(&self.sg_ids, crate::model::FIRST_SG_ID)
            .ok_or_else(|| ModelError::conflict("sg_id", "no security-group id left"))
    }
}

/// A project name as given: `domain:project`, or a bare `project`, which
/// lives in the default domain.
pub(crate) fn in_default_domain(name: &FqName) -> Result<FqName, weft_types::FqNameError> {
    match name.components() {
        [project] => FqName::project(DEFAULT_DOMAIN, project),
        _ => Ok(name.clone()),
    }
}

/// A rule with no protocol, ports or prefix: everything in one direction and
/// family, optionally only from/to members of a remote group.
pub(crate) fn plain_rule(
    group: &SecurityGroup,
    direction: Direction,
    ethertype: Ethertype,
    remote_group_id: Option<Uuid>,
    ctx: &mut Ctx<'_>,
) -> SecurityGroupRule {
    SecurityGroupRule {
        meta: ctx.meta(None, String::new(), Vec::new()),
        security_group_id: group.meta.id,
        project_id: group.project_id,
        direction,
        ethertype,
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        remote_ip_prefix: None,
        remote_ip_prefix_given: None,
        remote_group_id,
    }
}
