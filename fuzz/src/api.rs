//! The intent model as the API drives it, for the `api_*` targets: a small
//! prepared world, deterministic entropy, and the invariants that must hold
//! after every command, accepted or refused.
//!
//! Every check panics with what broke, so a finding names the invariant.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::sync::OnceLock;

use jiff::Timestamp;
use uuid::Uuid;
use weft_model::{
    Change, Command, CreateNetwork, CreatePort, CreateProject, CreateSecurityGroup,
    CreateSecurityGroupRule, Ctx, Entropy, Kind, Model, ModelError, Object, Outcome, Ref,
    SubnetAllocator,
};
use weft_types::{Asn, RouteTarget};

/// The prepared world's fixed ids, so seeds can name them.
pub mod ids {
    use uuid::Uuid;

    pub const PROJECT: Uuid = Uuid::from_u128(0x01);
    pub const GROUP_WEB: Uuid = Uuid::from_u128(0x02);
    pub const NETWORK: Uuid = Uuid::from_u128(0x03);
    pub const SUBNET_V4: Uuid = Uuid::from_u128(0x04);
    pub const SUBNET_V6: Uuid = Uuid::from_u128(0x06);
    pub const RULE_WEB: Uuid = Uuid::from_u128(0x07);
    pub const NODE: Uuid = Uuid::from_u128(0x08);
    pub const PORT_A: Uuid = Uuid::from_u128(0x0a);
    pub const PORT_B: Uuid = Uuid::from_u128(0x0b);
}

/// Counter-based ids and MACs, far above the fixed ids.
#[derive(Debug, Clone)]
pub struct Counter(u64);

impl Default for Counter {
    fn default() -> Self {
        Counter(0x1_0000)
    }
}

impl Entropy for Counter {
    fn uuid(&mut self) -> Uuid {
        self.0 += 1;
        Uuid::from_u128(u128::from(self.0))
    }

    fn mac_tail(&mut self) -> [u8; 3] {
        self.0 += 1;
        let b = self.0.to_be_bytes();
        [b[5], b[6], b[7]]
    }
}

/// A model and the entropy its commands draw from.
#[derive(Debug, Clone)]
pub struct World {
    pub model: Model,
    pub entropy: Counter,
}

impl World {
    /// The prepared world (built once, cloned per input): project `p` with
    /// its default group and a group `web` with one rule, network
    /// `default-domain:p:n` with 10.0.0.0/24 and fd00::/64, ports A (on
    /// node-1) and B holding the first addresses, and node `node-1`.
    pub fn prepared() -> World {
        static PREPARED: OnceLock<World> = OnceLock::new();
        PREPARED.get_or_init(build_prepared).clone()
    }

    /// Executes `command` and checks what the model promises about it:
    /// planning does not panic; a refused command changes nothing; an
    /// accepted one leaves each written object as planned; and the model's
    /// invariants hold afterwards. Returns what `execute` returned.
    pub fn run(&mut self, command: Command) -> Result<Outcome, ModelError> {
        let before = fingerprint(&self.model);
        let mut ctx = Ctx {
            now: Timestamp::UNIX_EPOCH,
            entropy: &mut self.entropy,
        };
        let shown = format!("{command:?}");
        let result = self.model.execute(command, &mut ctx);
        match &result {
            Err(ModelError::Inconsistent(e)) => {
                panic!("planned changes did not apply: {e}\ncommand: {shown}")
            }
            Err(_) => assert!(
                before == fingerprint(&self.model),
                "a refused command changed the model\ncommand: {shown}"
            ),
            Ok(outcome) => {
                for change in &outcome.changes {
                    let now = self.model.get(change.kind(), change.id());
                    match change {
                        Change::Put(object) => assert_eq!(
                            now.as_ref(),
                            Some(object),
                            "a written object is not as planned\ncommand: {shown}"
                        ),
                        Change::Delete { .. } => assert!(
                            now.is_none(),
                            "a deleted object is still there\ncommand: {shown}"
                        ),
                    }
                }
            }
        }
        check_model(&self.model);
        result
    }

    /// Like [`World::run`], for a command that must be accepted.
    pub fn must(&mut self, command: Command) -> Outcome {
        let shown = format!("{command:?}");
        match self.run(command) {
            Ok(outcome) => outcome,
            Err(e) => panic!("refused: {e}\ncommand: {shown}"),
        }
    }
}

fn build_prepared() -> World {
    let mut world = World {
        model: Model::new(),
        entropy: Counter::default(),
    };
    let mut ctx = Ctx {
        now: Timestamp::UNIX_EPOCH,
        entropy: &mut world.entropy,
    };
    for change in world.model.bootstrap(&mut ctx) {
        world
            .model
            .apply(&change)
            .unwrap_or_else(|e| panic!("bootstrap: {e}"));
    }
    world.must(Command::CreateProject(CreateProject {
        fq_name: name("p"),
        id: Some(ids::PROJECT),
        description: String::new(),
        tags: Vec::new(),
        external_id: None,
    }));
    world.must(Command::CreateSecurityGroup(CreateSecurityGroup {
        fq_name: name("default-domain:p:web"),
        id: Some(ids::GROUP_WEB),
        description: String::new(),
        tags: Vec::new(),
        stateful: None,
    }));
    world.must(Command::CreateSecurityGroupRule(body(serde_json::json!({
        "security_group": ids::GROUP_WEB,
        "id": ids::RULE_WEB,
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 80,
        "port_range_max": 443,
    }))));
    let network: CreateNetwork = body(serde_json::json!({
        "fq_name": "default-domain:p:n",
        "id": ids::NETWORK,
        "subnets": [
            {"id": ids::SUBNET_V4, "cidr": "10.0.0.0/24"},
            {"id": ids::SUBNET_V6, "cidr": "fd00::/64"},
        ],
    }));
    world.must(Command::CreateNetwork(network));
    world.must(Command::CreateNode(body(serde_json::json!({
        "name": "node-1",
        "underlay_ip": "192.0.2.1",
        "id": ids::NODE,
    }))));
    let mut a = CreatePort::on(Ref::Id(ids::NETWORK));
    a.id = Some(ids::PORT_A);
    a.binding_host_id = Some("node-1".into());
    world.must(Command::CreatePort(a));
    let mut b = CreatePort::on(Ref::Id(ids::NETWORK));
    b.id = Some(ids::PORT_B);
    b.security_groups = Some(vec![Ref::Id(ids::GROUP_WEB)]);
    world.must(Command::CreatePort(b));
    world
}

fn name(text: &str) -> weft_types::FqName {
    text.parse()
        .unwrap_or_else(|e| panic!("bad name {text}: {e}"))
}

fn body<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("bad request body: {e}"))
}

/// Every object of the model, kind by kind.
pub fn objects(model: &Model) -> Vec<Object> {
    let mut out: Vec<Object> = Vec::new();
    out.extend(model.global().cloned().map(Object::GlobalConfig));
    out.extend(model.domains().cloned().map(Object::Domain));
    out.extend(model.projects().cloned().map(Object::Project));
    out.extend(model.security_groups().cloned().map(Object::SecurityGroup));
    out.extend(
        model
            .security_group_rules()
            .cloned()
            .map(Object::SecurityGroupRule),
    );
    out.extend(model.networks().cloned().map(Object::VirtualNetwork));
    out.extend(model.subnets().cloned().map(Object::Subnet));
    out.extend(model.ports().cloned().map(Object::Port));
    out.extend(model.nodes().cloned().map(Object::Node));
    out.extend(model.control_nodes().cloned().map(Object::ControlNode));
    out.extend(model.load_balancers().cloned().map(Object::LoadBalancer));
    out.extend(model.routers().cloned().map(Object::Router));
    out.extend(model.rbac_policies().cloned().map(Object::RbacPolicy));
    out
}

/// What a model holds: its objects and its subnets' allocators. An
/// object's revision bookkeeping is left out: a child made and removed
/// again leaves its parent's revision bumped twice (a rule its group's, a
/// subnet its network's), as in Neutron, but otherwise as it was.
#[derive(Debug, PartialEq)]
pub struct Fingerprint {
    objects: Vec<serde_json::Value>,
    allocators: Vec<(Uuid, Option<SubnetAllocator>)>,
}

fn without_revision(object: Object) -> serde_json::Value {
    let mut value = serde_json::to_value(object).unwrap_or_default();
    if let Some(inner) = value.get_mut("object").and_then(|o| o.as_object_mut()) {
        inner.remove("revision_number");
        inner.remove("updated_at");
    }
    value
}

pub fn fingerprint(model: &Model) -> Fingerprint {
    Fingerprint {
        objects: objects(model).into_iter().map(without_revision).collect(),
        allocators: model
            .subnets()
            .map(|s| (s.meta.id, model.allocator(s.meta.id).cloned()))
            .collect(),
    }
}

/// The addresses a subnet keeps for itself (gateway, DNS/service address).
fn reserved(subnet: &weft_model::Subnet) -> BTreeSet<IpAddr> {
    subnet
        .gateway_ip
        .into_iter()
        .chain(subnet.dns_service_ip)
        .collect()
}

/// The model's invariants. Panics naming the first one broken.
pub fn check_model(model: &Model) {
    let exists = |kind: Kind, id: Uuid| model.get(kind, id).is_some();

    for lb in model.load_balancers() {
        let name = &lb.fq_name;
        assert!(exists(Kind::Project, lb.project_id), "load balancer {name} names a missing project");
        let Some(Object::Port(port)) = model.get(Kind::Port, lb.vip_port_id) else {
            panic!("load balancer {name} is on a missing port");
        };
        assert!(
            port.fixed_ips.iter().any(|f| f.ip_address == lb.vip_address),
            "load balancer {name} serves {}, which its port does not hold",
            lb.vip_address
        );
        for network in &lb.client_network_ids {
            assert!(
                exists(Kind::VirtualNetwork, *network),
                "load balancer {name} serves a missing network {network}"
            );
        }
    }

    // References point at objects that exist.
    for project in model.projects() {
        assert!(
            exists(Kind::Domain, project.domain_id),
            "project {} names a missing domain",
            project.fq_name
        );
    }
    for group in model.security_groups() {
        assert!(
            exists(Kind::Project, group.project_id),
            "group {} names a missing project",
            group.fq_name
        );
    }
    for rule in model.security_group_rules() {
        assert!(
            exists(Kind::SecurityGroup, rule.security_group_id),
            "rule {} belongs to a missing group",
            rule.meta.id
        );
        if let Some(remote) = rule.remote_group_id {
            assert!(
                exists(Kind::SecurityGroup, remote),
                "rule {} names a missing remote group {remote}",
                rule.meta.id
            );
        }
    }
    for network in model.networks() {
        assert!(
            exists(Kind::Project, network.project_id),
            "network {} names a missing project",
            network.fq_name
        );
    }
    for subnet in model.subnets() {
        assert!(
            exists(Kind::VirtualNetwork, subnet.network_id),
            "subnet {} names a missing network",
            subnet.cidr
        );
        assert!(
            model.allocator(subnet.meta.id).is_some(),
            "subnet {} has no allocator",
            subnet.cidr
        );
    }

    // Unique names and numbers.
    let mut seen = HashSet::new();
    for network in model.networks() {
        assert!(
            seen.insert(("vn-name", network.fq_name.to_string())),
            "two networks are named {}",
            network.fq_name
        );
        assert!(
            seen.insert(("vn-id", network.vn_id.to_string())),
            "two networks have VN id {}",
            network.vn_id
        );
        assert!(
            seen.insert(("vni", network.vxlan_id.get().to_string())),
            "two networks have VNI {}",
            network.vxlan_id.get()
        );
        if !network.vxlan_id_configured {
            assert_eq!(
                network.vxlan_id.get(),
                network.vn_id,
                "network {}: automatic VNI is not its VN id",
                network.fq_name
            );
        }
        if !network.route_targets_configured {
            let asn = model.global().map_or(Asn::DEFAULT, |g| g.asn);
            assert_eq!(
                network.route_targets,
                vec![RouteTarget::automatic(asn, network.vn_id)],
                "network {}: automatic route target is stale",
                network.fq_name
            );
        }
    }
    for group in model.security_groups() {
        assert!(
            seen.insert(("sg-name", group.fq_name.to_string())),
            "two groups are named {}",
            group.fq_name
        );
        assert!(
            seen.insert(("sg-id", group.sg_id.to_string())),
            "two groups have sg id {}",
            group.sg_id
        );
    }

    // Subnets of one network do not overlap.
    let subnets: Vec<_> = model.subnets().collect();
    for (i, a) in subnets.iter().enumerate() {
        for b in &subnets[i + 1..] {
            assert!(
                a.network_id != b.network_id || !a.cidr.overlaps(b.cidr),
                "subnets {} and {} of one network overlap",
                a.cidr,
                b.cidr
            );
        }
    }

    // Ports: their addresses and MACs.
    let mut addresses: BTreeMap<(Uuid, IpAddr), Uuid> = BTreeMap::new();
    let mut per_subnet: BTreeMap<Uuid, u128> = BTreeMap::new();
    let mut macs = HashSet::new();
    for port in model.ports() {
        let id = port.meta.id;
        assert!(
            exists(Kind::VirtualNetwork, port.network_id),
            "port {id} names a missing network"
        );
        assert!(
            exists(Kind::Project, port.project_id),
            "port {id} names a missing project"
        );
        for group in &port.security_groups {
            assert!(
                exists(Kind::SecurityGroup, *group),
                "port {id} is a member of a missing group {group}"
            );
        }
        assert!(
            macs.insert((port.network_id, port.mac_address)),
            "two ports of one network have MAC {}",
            port.mac_address
        );
        for fixed in &port.fixed_ips {
            let ip = fixed.ip_address;
            let Some(Object::Subnet(subnet)) = model.get(Kind::Subnet, fixed.subnet_id) else {
                panic!(
                    "port {id} holds {ip} in a missing subnet {}",
                    fixed.subnet_id
                );
            };
            assert_eq!(
                subnet.network_id, port.network_id,
                "port {id} holds {ip} in a subnet of another network"
            );
            assert!(
                subnet.cidr.contains(ip),
                "port {id} holds {ip}, outside its subnet {}",
                subnet.cidr
            );
            assert!(
                !reserved(&subnet).contains(&ip),
                "port {id} holds {ip}, the gateway or DNS address of {}",
                subnet.cidr
            );
            if let Some(other) = addresses.insert((port.network_id, ip), id) {
                panic!("ports {other} and {id} both hold {ip}");
            }
            let allocator = model.allocator(subnet.meta.id);
            assert!(
                allocator.is_some_and(|a| a.is_held(ip)),
                "port {id} holds {ip} but the allocator of {} has it free",
                subnet.cidr
            );
            *per_subnet.entry(subnet.meta.id).or_default() += 1;
        }
    }

    // Each allocator holds exactly the ports' addresses and the reserved ones.
    for subnet in model.subnets() {
        let Some(allocator) = model.allocator(subnet.meta.id) else {
            continue;
        };
        let reserved = reserved(subnet);
        for ip in &reserved {
            assert!(
                allocator.is_held(*ip),
                "reserved {ip} of {} is free in its allocator",
                subnet.cidr
            );
        }
        let ports = per_subnet.get(&subnet.meta.id).copied().unwrap_or(0);
        assert_eq!(
            allocator.held(),
            ports + reserved.len() as u128,
            "allocator of {} holds {} addresses; ports hold {ports} and {} are reserved",
            subnet.cidr,
            allocator.held(),
            reserved.len()
        );
    }

    // A model rebuilt from the objects (a server restart) is the same.
    let stored = objects(model);
    let rebuilt = match Model::load(stored.iter().cloned()) {
        Ok(rebuilt) => rebuilt,
        Err(e) => panic!("the objects do not load back: {e}"),
    };
    assert!(
        fingerprint(&rebuilt) == fingerprint(model),
        "a model rebuilt from the objects differs: {:#?}\nvs live {:#?}",
        fingerprint(&rebuilt),
        fingerprint(model)
    );
}

/// Objects must survive the store's encoding (the server writes each as
/// JSON and reads it back on restart).
pub fn check_stored(object: &Object) {
    let bytes = weft_server::codec::encode_object(object);
    let kind = object.kind();
    match weft_server::codec::decode_object(kind, "fuzz", &bytes) {
        Ok(back) => assert!(
            &back == object,
            "a {kind} does not read back as written\nwritten: {object:?}\nread:    {back:?}{}",
            match (fq_name(object), fq_name(&back)) {
                (Some(a), Some(b)) if a != b => format!(
                    "\nFQ name components written {:?}, read {:?}",
                    a.components(),
                    b.components()
                ),
                _ => String::new(),
            }
        ),
        Err(e) => panic!(
            "a stored {kind} does not decode: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

fn fq_name(object: &Object) -> Option<&weft_types::FqName> {
    match object {
        Object::Domain(o) => Some(&o.fq_name),
        Object::Project(o) => Some(&o.fq_name),
        Object::SecurityGroup(o) => Some(&o.fq_name),
        Object::VirtualNetwork(o) => Some(&o.fq_name),
        _ => None,
    }
}

/// The command that removes an object `create` made, so a create can be
/// undone and the model compared with what it was.
pub fn undo(created: &Object) -> Option<Command> {
    let id = Ref::Id(created.id());
    Some(match created {
        Object::Project(_) => Command::DeleteProject(id),
        Object::SecurityGroup(_) => Command::DeleteSecurityGroup(id),
        Object::SecurityGroupRule(_) => Command::DeleteSecurityGroupRule(id),
        Object::VirtualNetwork(_) => Command::DeleteNetwork(id),
        Object::Subnet(_) => Command::DeleteSubnet(id),
        Object::Port(_) => Command::DeletePort(id),
        Object::Node(_) => Command::DeleteNode(id),
        Object::ControlNode(_) => Command::DeleteControlNode(id),
        Object::LoadBalancer(_) => Command::DeleteLoadBalancer(id),
        Object::Router(_) => Command::DeleteRouter(id),
        Object::RbacPolicy(_) => Command::DeleteRbacPolicy(id),
        Object::GlobalConfig(_) | Object::Domain(_) => return None,
    })
}

/// A rule request with only the required fields.
pub fn rule(group: Ref, direction: weft_model::Direction) -> CreateSecurityGroupRule {
    CreateSecurityGroupRule {
        security_group: group,
        id: None,
        direction,
        ethertype: None,
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        remote_ip_prefix: None,
        remote_group: None,
        description: String::new(),
    }
}
