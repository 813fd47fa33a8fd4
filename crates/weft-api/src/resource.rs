//! The resources of the native API and how they map onto the model.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use weft_model::{
    Command, ControlNode, CreateControlNode, CreateDomain, CreateLoadBalancer, CreateNetwork,
    CreateNode, CreatePort, CreateProject, CreateSecurityGroup, CreateSecurityGroupRule,
    CreateSubnet, Domain, Kind, LoadBalancer, Model, Node, Object, Port, Project, Ref,
    SecurityGroup, SecurityGroupRule, Subnet, UpdateLoadBalancer, UpdateNetwork, UpdateNode,
    UpdatePort, UpdateProject, UpdateSecurityGroup, UpdateSubnet, VirtualNetwork,
};

/// Query parameters a collection may be filtered by, already resolved to ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub project: Option<Uuid>,
    pub network: Option<Uuid>,
    pub security_group: Option<Uuid>,
    pub binding_host_id: Option<String>,
    pub name: Option<String>,
}

/// Query parameters of a list request, as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_host_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Body of resources that cannot be updated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoUpdate {}

/// One kind of object served as a collection.
pub trait Resource: Send + Sync + 'static {
    /// Collection path, like `/v1/ports`.
    const PATH: &'static str;
    /// Singular name, for operation ids and messages.
    const NAME: &'static str;
    const KIND: Kind;
    /// Filters the collection accepts (names of [`ListQuery`] fields).
    const FILTERS: &'static [&'static str];
    /// Whether `PATCH` is served.
    const UPDATABLE: bool;

    type Object: Serialize + DeserializeOwned + ToSchema + Send + 'static;
    type Create: Serialize + DeserializeOwned + ToSchema + Send + 'static;
    type Update: Serialize + DeserializeOwned + ToSchema + Send + 'static;

    fn create(req: Self::Create) -> Command;
    fn update(target: Ref, req: Self::Update) -> Option<Command>;
    fn delete(target: Ref) -> Command;
    fn from_object(object: Object) -> Option<Self::Object>;
    fn list(model: &Model, filter: &Filter) -> Vec<Self::Object>;
}

fn name_matches(filter: &Filter, name: &str) -> bool {
    filter.name.as_deref().is_none_or(|n| n == name)
}

#[derive(Debug)]
pub struct Domains;
#[derive(Debug)]
pub struct Projects;
#[derive(Debug)]
pub struct VirtualNetworks;
#[derive(Debug)]
pub struct Subnets;
#[derive(Debug)]
pub struct Ports;
#[derive(Debug)]
pub struct SecurityGroups;
#[derive(Debug)]
pub struct SecurityGroupRules;
#[derive(Debug)]
pub struct Nodes;
#[derive(Debug)]
pub struct ControlNodes;
#[derive(Debug)]
pub struct LoadBalancers;

impl Resource for Domains {
    const PATH: &'static str = "/v1/domains";
    const NAME: &'static str = "domain";
    const KIND: Kind = Kind::Domain;
    const FILTERS: &'static [&'static str] = &["name"];
    const UPDATABLE: bool = false;
    type Object = Domain;
    type Create = CreateDomain;
    type Update = NoUpdate;

    fn create(req: CreateDomain) -> Command {
        Command::CreateDomain(req)
    }
    fn update(_: Ref, _: NoUpdate) -> Option<Command> {
        None
    }
    fn delete(target: Ref) -> Command {
        Command::DeleteDomain(target)
    }
    fn from_object(object: Object) -> Option<Domain> {
        match object {
            Object::Domain(o) => Some(o),
            _ => None,
        }
    }
    fn list(model: &Model, filter: &Filter) -> Vec<Domain> {
        model
            .domains()
            .filter(|d| name_matches(filter, d.fq_name.name()))
            .cloned()
            .collect()
    }
}

impl Resource for Projects {
    const PATH: &'static str = "/v1/projects";
    const NAME: &'static str = "project";
    const KIND: Kind = Kind::Project;
    const FILTERS: &'static [&'static str] = &["name"];
    const UPDATABLE: bool = true;
    type Object = Project;
    type Create = CreateProject;
    type Update = UpdateProject;

    fn create(req: CreateProject) -> Command {
        Command::CreateProject(req)
    }
    fn update(target: Ref, req: UpdateProject) -> Option<Command> {
        Some(Command::UpdateProject(target, req))
    }
    fn delete(target: Ref) -> Command {
        Command::DeleteProject(target)
    }
    fn from_object(object: Object) -> Option<Project> {
        match object {
            Object::Project(o) => Some(o),
            _ => None,
        }
    }
    fn list(model: &Model, filter: &Filter) -> Vec<Project> {
        model
            .projects()
            .filter(|p| name_matches(filter, p.fq_name.name()))
            .cloned()
            .collect()
    }
}

impl Resource for VirtualNetworks {
    const PATH: &'static str = "/v1/virtual-networks";
    const NAME: &'static str = "virtual-network";
    const KIND: Kind = Kind::VirtualNetwork;
    const FILTERS: &'static [&'static str] = &["project", "name"];
    const UPDATABLE: bool = true;
    type Object = VirtualNetwork;
    type Create = CreateNetwork;
    type Update = UpdateNetwork;

    fn create(req: CreateNetwork) -> Command {
        Command::CreateNetwork(req)
    }
    fn update(target: Ref, req: UpdateNetwork) -> Option<Command> {
        Some(Command::UpdateNetwork(target, req))
    }
    fn delete(target: Ref) -> Command {
        Command::DeleteNetwork(target)
    }
    fn from_object(object: Object) -> Option<VirtualNetwork> {
        match object {
            Object::VirtualNetwork(o) => Some(o),
            _ => None,
        }
    }
    fn list(model: &Model, filter: &Filter) -> Vec<VirtualNetwork> {
        model
            .networks()
            .filter(|n| filter.project.is_none_or(|p| p == n.project_id))
            .filter(|n| name_matches(filter, n.name()))
            .cloned()
            .collect()
    }
}

impl Resource for Subnets {
    const PATH: &'static str = "/v1/subnets";
    const NAME: &'static str = "subnet";
    const KIND: Kind = Kind::Subnet;
    const FILTERS: &'static [&'static str] = &["network", "project", "name"];
    const UPDATABLE: bool = true;
    type Object = Subnet;
    type Create = CreateSubnet;
    type Update = UpdateSubnet;

    fn create(req: CreateSubnet) -> Command {
        Command::CreateSubnet(req)
    }
    fn update(target: Ref, req: UpdateSubnet) -> Option<Command> {
        Some(Command::UpdateSubnet(target, req))
    }
    fn delete(target: Ref) -> Command {
        Command::DeleteSubnet(target)
    }
    fn from_object(object: Object) -> Option<Subnet> {
        match object {
            Object::Subnet(o) => Some(o),
            _ => None,
        }
    }
    fn list(model: &Model, filter: &Filter) -> Vec<Subnet> {
        let subnets: Vec<&Subnet> = match filter.network {
            Some(network) => model.subnets_of(network),
            None => model.subnets().collect(),
        };
        subnets
            .into_iter()
            .filter(|s| filter.project.is_none_or(|p| p == s.project_id))
            .filter(|s| name_matches(filter, &s.name))
            .cloned()
            .collect()
    }
}

impl Resource for Ports {
    const PATH: &'static str = "/v1/ports";
    const NAME: &'static str = "port";
    const KIND: Kind = Kind::Port;
    const FILTERS: &'static [&'static str] = &[
        "network",
        "project",
        "security_group",
        "binding_host_id",
        "name",
    ];
    const UPDATABLE: bool = true;
    type Object = Port;
    type Create = CreatePort;
    type Update = UpdatePort;

    fn create(req: CreatePort) -> Command {
        Command::CreatePort(req)
    }
    fn update(target: Ref, req: UpdatePort) -> Option<Command> {
        Some(Command::UpdatePort(target, req))
    }
    fn delete(target: Ref) -> Command {
        Command::DeletePort(target)
    }
    fn from_object(object: Object) -> Option<Port> {
        match object {
            Object::Port(o) => Some(o),
            _ => None,
        }
    }
    fn list(model: &Model, filter: &Filter) -> Vec<Port> {
        let keep = |p: &&Port| {
            filter.project.is_none_or(|x| x == p.project_id)
                && filter
                    .security_group
                    .is_none_or(|g| p.security_groups.contains(&g))
                && filter
                    .binding_host_id
                    .as_deref()
                    .is_none_or(|h| p.binding_host_id.as_deref() == Some(h))
                && name_matches(filter, &p.name)
        };
        match filter.network {
            Some(network) => model.ports_of(network).filter(keep).cloned().collect(),
            None => model.ports().filter(keep).cloned().collect(),
        }
    }
}

impl Resource for SecurityGroups {
    const PATH: &'static str = "/v1/security-groups";
    const NAME: &'static str = "security-group";
    const KIND: Kind = Kind::SecurityGroup;
    const FILTERS: &'static [&'static str] = &["project", "name"];
    const UPDATABLE: bool = true;
    type Object = SecurityGroup;
    type Create = CreateSecurityGroup;
    type Update = UpdateSecurityGroup;

    fn create(req: CreateSecurityGroup) -> Command {
        Command::CreateSecurityGroup(req)
    }
    fn update(target: Ref, req: UpdateSecurityGroup) -> Option<Command> {
        Some(Command::UpdateSecurityGroup(target, req))
    }
    fn delete(target: Ref) -> Command {
        Command::DeleteSecurityGroup(target)
    }
    fn from_object(object: Object) -> Option<SecurityGroup> {
        match object {
            Object::SecurityGroup(o) => Some(o),
            _ => None,
        }
    }
    fn list(model: &Model, filter: &Filter) -> Vec<SecurityGroup> {
        model
            .security_groups()
            .filter(|g| filter.project.is_none_or(|p| p == g.project_id))
            .filter(|g| name_matches(filter, g.name()))
            .cloned()
            .collect()
    }
}

impl Resource for SecurityGroupRules {
    const PATH: &'static str = "/v1/security-group-rules";
    const NAME: &'static str = "security-group-rule";
    const KIND: Kind = Kind::SecurityGroupRule;
    const FILTERS: &'static [&'static str] = &["security_group", "project"];
    const UPDATABLE: bool = false;
    type Object = SecurityGroupRule;
    type Create = CreateSecurityGroupRule;
    type Update = NoUpdate;

    fn create(req: CreateSecurityGroupRule) -> Command {
        Command::CreateSecurityGroupRule(req)
    }
    fn update(_: Ref, _: NoUpdate) -> Option<Command> {
        None
    }
    fn delete(target: Ref) -> Command {
        Command::DeleteSecurityGroupRule(target)
    }
    fn from_object(object: Object) -> Option<SecurityGroupRule> {
        match object {
            Object::SecurityGroupRule(o) => Some(o),
            _ => None,
        }
    }
    fn list(model: &Model, filter: &Filter) -> Vec<SecurityGroupRule> {
        let keep = |r: &&SecurityGroupRule| filter.project.is_none_or(|p| p == r.project_id);
        match filter.security_group {
            Some(group) => model.rules_of(group).filter(keep).cloned().collect(),
            None => model.security_group_rules().filter(keep).cloned().collect(),
        }
    }
}

impl Resource for Nodes {
    const PATH: &'static str = "/v1/nodes";
    const NAME: &'static str = "node";
    const KIND: Kind = Kind::Node;
    const FILTERS: &'static [&'static str] = &["name"];
    const UPDATABLE: bool = true;
    type Object = Node;
    type Create = CreateNode;
    type Update = UpdateNode;

    fn create(req: CreateNode) -> Command {
        Command::CreateNode(req)
    }
    fn update(target: Ref, req: UpdateNode) -> Option<Command> {
        Some(Command::UpdateNode(target, req))
    }
    fn delete(target: Ref) -> Command {
        Command::DeleteNode(target)
    }
    fn from_object(object: Object) -> Option<Node> {
        match object {
            Object::Node(o) => Some(o),
            _ => None,
        }
    }
    fn list(model: &Model, filter: &Filter) -> Vec<Node> {
        model
            .nodes()
            .filter(|n| name_matches(filter, &n.name))
            .cloned()
            .collect()
    }
}

impl Resource for ControlNodes {
    const PATH: &'static str = "/v1/control-nodes";
    const NAME: &'static str = "control-node";
    const KIND: Kind = Kind::ControlNode;
    const FILTERS: &'static [&'static str] = &["name"];
    const UPDATABLE: bool = false;
    type Object = ControlNode;
    type Create = CreateControlNode;
    type Update = NoUpdate;

    fn create(req: CreateControlNode) -> Command {
        Command::CreateControlNode(req)
    }
    fn update(_: Ref, _: NoUpdate) -> Option<Command> {
        None
    }
    fn delete(target: Ref) -> Command {
        Command::DeleteControlNode(target)
    }
    fn from_object(object: Object) -> Option<ControlNode> {
        match object {
            Object::ControlNode(o) => Some(o),
            _ => None,
        }
    }
    fn list(model: &Model, filter: &Filter) -> Vec<ControlNode> {
        model
            .control_nodes()
            .filter(|n| name_matches(filter, &n.name))
            .cloned()
            .collect()
    }
}

impl Resource for LoadBalancers {
    const PATH: &'static str = "/v1/load-balancers";
    const NAME: &'static str = "load-balancer";
    const KIND: Kind = Kind::LoadBalancer;
    const FILTERS: &'static [&'static str] = &["project", "network", "name"];
    const UPDATABLE: bool = true;
    type Object = LoadBalancer;
    type Create = CreateLoadBalancer;
    type Update = UpdateLoadBalancer;

    fn create(req: CreateLoadBalancer) -> Command {
        Command::CreateLoadBalancer(req)
    }
    fn update(target: Ref, req: UpdateLoadBalancer) -> Option<Command> {
        Some(Command::UpdateLoadBalancer(target, req))
    }
    fn delete(target: Ref) -> Command {
        Command::DeleteLoadBalancer(target)
    }
    fn from_object(object: Object) -> Option<LoadBalancer> {
        match object {
            Object::LoadBalancer(o) => Some(o),
            _ => None,
        }
    }
    /// `network` matches the client networks and the address's network.
    fn list(model: &Model, filter: &Filter) -> Vec<LoadBalancer> {
        let vip_network = |lb: &LoadBalancer| {
            model
                .ports()
                .find(|p| p.meta.id == lb.vip_port_id)
                .map(|p| p.network_id)
        };
        model
            .load_balancers()
            .filter(|lb| filter.project.is_none_or(|p| p == lb.project_id))
            .filter(|lb| {
                filter.network.is_none_or(|n| {
                    lb.client_network_ids.contains(&n) || vip_network(lb) == Some(n)
                })
            })
            .filter(|lb| name_matches(filter, lb.fq_name.name()))
            .cloned()
            .collect()
    }
}

/// Something done once per resource type.
pub trait ResourceVisitor {
    fn visit<R: Resource>(&mut self);
}

/// Visits every resource: the single list the server builds both its router
/// and its OpenAPI document from.
pub fn visit_resources(visitor: &mut impl ResourceVisitor) {
    visitor.visit::<Domains>();
    visitor.visit::<Projects>();
    visitor.visit::<VirtualNetworks>();
    visitor.visit::<Subnets>();
    visitor.visit::<Ports>();
    visitor.visit::<SecurityGroups>();
    visitor.visit::<SecurityGroupRules>();
    visitor.visit::<Nodes>();
    visitor.visit::<ControlNodes>();
    visitor.visit::<LoadBalancers>();
}
