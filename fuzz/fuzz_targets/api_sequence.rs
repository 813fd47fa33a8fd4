//! A sequence of structured API operations on the prepared world: ports
//! created, readdressed, regrouped and deleted; subnets created, given new
//! gateways and pools, and deleted; networks, security groups, rules and
//! projects created and deleted. Addresses, prefixes and pools come from a
//! small set that overlaps on purpose, so requests collide, exhaust small
//! subnets and reuse freed addresses.
//!
//! Checked after every step (`World::run`): a refused step changed nothing;
//! no address is held by two ports; each subnet's allocator holds exactly
//! its ports' addresses and its gateway/DNS address; a model rebuilt from
//! the objects has the same allocators; references point at objects that
//! exist.

#![no_main]

use std::net::IpAddr;

use arbitrary::Arbitrary;
use uuid::Uuid;
use weft_fuzz::api::{self, World};
use weft_model::{
    AllocationPool, Command, CreateNetwork, CreatePort, CreateProject, CreateSecurityGroup,
    CreateSubnet, Direction, Ethertype, FixedIpRequest, Ref, UpdatePort, UpdateSubnet,
};
use weft_types::Prefix;

/// Longest sequence tried per input.
const MAX_STEPS: usize = 48;

const PREFIXES: [&str; 12] = [
    "10.0.0.0/24",
    "10.0.0.0/29",
    "10.0.0.8/29",
    "10.0.1.0/30",
    "10.0.0.0/16",
    "192.168.0.0/31",
    "fd00::/64",
    "fd00::/125",
    "fd00::8/125",
    "fd01::/126",
    "10.0.0.0/28",
    "fd00::/120",
];

const ADDRESSES: [&str; 28] = [
    "10.0.0.0",
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.4",
    "10.0.0.5",
    "10.0.0.6",
    "10.0.0.7",
    "10.0.0.8",
    "10.0.0.9",
    "10.0.0.14",
    "10.0.0.15",
    "10.0.0.254",
    "10.0.0.255",
    "10.0.1.1",
    "10.0.1.2",
    "10.0.1.3",
    "192.168.0.1",
    "fd00::",
    "fd00::1",
    "fd00::2",
    "fd00::3",
    "fd00::7",
    "fd00::8",
    "fd00::9",
    "fd00::ff",
    "fd01::1",
    "fd01::3",
];

const PROJECTS: [&str; 3] = ["p", "q", "default-domain:r"];
const NAMES: [&str; 4] = ["n", "m", "web", "db"];
const PROTOCOLS: [&str; 6] = ["tcp", "udp", "icmp", "6", "any", "ipv6-icmp"];

/// An address: the subnet's default, none (`null`), or one of `ADDRESSES`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum AddrPick {
    Default,
    Null,
    Ip(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct FixedIpPick {
    subnet: Option<u8>,
    ip: Option<u8>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct PoolPick {
    start: u8,
    end: u8,
}

#[derive(Arbitrary, Debug)]
enum Op {
    CreatePort {
        network: u8,
        project: Option<u8>,
        fixed_ips: Option<Vec<FixedIpPick>>,
        groups: Option<Vec<u8>>,
    },
    UpdatePortAddresses {
        port: u8,
        fixed_ips: Vec<FixedIpPick>,
    },
    UpdatePortGroups {
        port: u8,
        groups: Vec<u8>,
        port_security: Option<bool>,
    },
    DeletePort {
        port: u8,
    },
    CreateSubnet {
        network: u8,
        prefix: u8,
        gateway: AddrPick,
        dns: AddrPick,
        pools: Option<Vec<PoolPick>>,
    },
    UpdateSubnet {
        subnet: u8,
        gateway: Option<AddrPick>,
        pools: Option<Vec<PoolPick>>,
    },
    DeleteSubnet {
        subnet: u8,
    },
    CreateNetwork {
        project: u8,
        name: u8,
        prefixes: Vec<u8>,
    },
    DeleteNetwork {
        network: u8,
    },
    CreateGroup {
        project: u8,
        name: u8,
    },
    DeleteGroup {
        group: u8,
    },
    CreateRule {
        group: u8,
        ingress: bool,
        v6: bool,
        protocol: Option<u8>,
        ports: Option<(u16, u16)>,
        remote_group: Option<u8>,
    },
    DeleteRule {
        rule: u8,
    },
    CreateProject {
        name: u8,
    },
    DeleteProject {
        project: u8,
    },
}

libfuzzer_sys::fuzz_target!(|ops: Vec<Op>| {
    let mut world = World::prepared();
    for op in ops.into_iter().take(MAX_STEPS) {
        let command = command(&world, op);
        let _ = world.run(command);
    }
});

fn addr(i: u8) -> IpAddr {
    let text = ADDRESSES[usize::from(i) % ADDRESSES.len()];
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// One of `ids`, by index; past the end, an id nothing has.
fn pick_id(ids: &[Uuid], i: u8) -> Uuid {
    let i = usize::from(i);
    ids.get(i % (ids.len() + 1))
        .copied()
        .unwrap_or(Uuid::from_u128(0xdead))
}

fn pick(ids: Vec<Uuid>, i: u8) -> Ref {
    Ref::Id(pick_id(&ids, i))
}

fn nullable(pick: AddrPick) -> Option<Option<IpAddr>> {
    match pick {
        AddrPick::Default => None,
        AddrPick::Null => Some(None),
        AddrPick::Ip(i) => Some(Some(addr(i))),
    }
}

fn pools(picks: Vec<PoolPick>) -> Vec<AllocationPool> {
    picks
        .into_iter()
        .take(3)
        .map(|p| AllocationPool {
            start: addr(p.start),
            end: addr(p.end),
        })
        .collect()
}

fn command(world: &World, op: Op) -> Command {
    let model = &world.model;
    let networks = || model.networks().map(|n| n.meta.id).collect::<Vec<_>>();
    let subnets = || model.subnets().map(|s| s.meta.id).collect::<Vec<_>>();
    let ports = || model.ports().map(|p| p.meta.id).collect::<Vec<_>>();
    let groups = || {
        model
            .security_groups()
            .map(|g| g.meta.id)
            .collect::<Vec<_>>()
    };
    let projects = || model.projects().map(|p| p.meta.id).collect::<Vec<_>>();
    let fixed_ips = |picks: Vec<FixedIpPick>| -> Vec<FixedIpRequest> {
        picks
            .into_iter()
            .take(4)
            .map(|f| FixedIpRequest {
                subnet_id: f.subnet.map(|s| pick_id(&subnets(), s)),
                ip_address: f.ip.map(addr),
            })
            .collect()
    };
    let group_refs = |picks: Vec<u8>| -> Vec<Ref> {
        picks
            .into_iter()
            .take(3)
            .map(|g| pick(groups(), g))
            .collect()
    };
    match op {
        Op::CreatePort {
            network,
            project,
            fixed_ips: ips,
            groups: wanted,
        } => {
            let mut req = CreatePort::on(pick(networks(), network));
            req.project = project.map(|p| pick(projects(), p));
            req.fixed_ips = ips.map(fixed_ips);
            req.security_groups = wanted.map(group_refs);
            Command::CreatePort(req)
        }
        Op::UpdatePortAddresses {
            port,
            fixed_ips: ips,
        } => Command::UpdatePort(
            pick(ports(), port),
            UpdatePort {
                fixed_ips: Some(fixed_ips(ips)),
                ..UpdatePort::default()
            },
        ),
        Op::UpdatePortGroups {
            port,
            groups: wanted,
            port_security,
        } => Command::UpdatePort(
            pick(ports(), port),
            UpdatePort {
                security_groups: Some(group_refs(wanted)),
                port_security_enabled: port_security,
                ..UpdatePort::default()
            },
        ),
        Op::DeletePort { port } => Command::DeletePort(pick(ports(), port)),
        Op::CreateSubnet {
            network,
            prefix,
            gateway,
            dns,
            pools: wanted,
        } => {
            let mut req = CreateSubnet::with_cidr(prefix_at(prefix));
            req.network = Some(pick(networks(), network));
            req.gateway_ip = nullable(gateway);
            req.dns_service_ip = nullable(dns);
            req.allocation_pools = wanted.map(pools);
            Command::CreateSubnet(req)
        }
        Op::UpdateSubnet {
            subnet,
            gateway,
            pools: wanted,
        } => Command::UpdateSubnet(
            pick(subnets(), subnet),
            UpdateSubnet {
                // An update has no "default" gateway: absent keeps it.
                gateway_ip: gateway.and_then(nullable),
                allocation_pools: wanted.map(pools),
                ..UpdateSubnet::default()
            },
        ),
        Op::DeleteSubnet { subnet } => Command::DeleteSubnet(pick(subnets(), subnet)),
        Op::CreateNetwork {
            project,
            name,
            prefixes,
        } => {
            let project = PROJECTS[usize::from(project) % PROJECTS.len()];
            let project = project.rsplit(':').next().unwrap_or(project);
            let name = NAMES[usize::from(name) % NAMES.len()];
            Command::CreateNetwork(CreateNetwork {
                fq_name: fq(&format!("default-domain:{project}:{name}")),
                id: None,
                description: String::new(),
                tags: Vec::new(),
                subnets: prefixes
                    .into_iter()
                    .take(3)
                    .map(|p| CreateSubnet::with_cidr(prefix_at(p)))
                    .collect(),
                vxlan_id: None,
                route_targets: None,
                forwarding_mode: None,
                shared: false,
                admin_state_up: None,
                fabric_snat: false,
                mtu: None,
            })
        }
        Op::DeleteNetwork { network } => Command::DeleteNetwork(pick(networks(), network)),
        Op::CreateGroup { project, name } => {
            let project = PROJECTS[usize::from(project) % PROJECTS.len()];
            let project = project.rsplit(':').next().unwrap_or(project);
            let name = NAMES[usize::from(name) % NAMES.len()];
            Command::CreateSecurityGroup(CreateSecurityGroup {
                fq_name: fq(&format!("default-domain:{project}:{name}")),
                id: None,
                description: String::new(),
                tags: Vec::new(),
                stateful: None,
            })
        }
        Op::DeleteGroup { group } => Command::DeleteSecurityGroup(pick(groups(), group)),
        Op::CreateRule {
            group,
            ingress,
            v6,
            protocol,
            ports: range,
            remote_group,
        } => {
            let direction = if ingress {
                Direction::Ingress
            } else {
                Direction::Egress
            };
            let mut req = api::rule(pick(groups(), group), direction);
            req.ethertype = Some(if v6 { Ethertype::IPv6 } else { Ethertype::IPv4 });
            req.protocol = protocol.map(|p| PROTOCOLS[usize::from(p) % PROTOCOLS.len()].to_owned());
            if let Some((min, max)) = range {
                req.port_range_min = Some(min);
                req.port_range_max = Some(max);
            }
            req.remote_group = remote_group.map(|g| pick(groups(), g));
            Command::CreateSecurityGroupRule(req)
        }
        Op::DeleteRule { rule } => Command::DeleteSecurityGroupRule(pick(
            model.security_group_rules().map(|r| r.meta.id).collect(),
            rule,
        )),
        Op::CreateProject { name } => Command::CreateProject(CreateProject {
            fq_name: fq(PROJECTS[usize::from(name) % PROJECTS.len()]),
            id: None,
            description: String::new(),
            tags: Vec::new(),
            external_id: None,
        }),
        Op::DeleteProject { project } => Command::DeleteProject(pick(projects(), project)),
    }
}

fn prefix_at(i: u8) -> Prefix {
    let text = PREFIXES[usize::from(i) % PREFIXES.len()];
    text.parse().unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

fn fq(text: &str) -> weft_types::FqName {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}
