//! The one IPAM driven through commands, as the API drives it: any sequence
//! of port and subnet creates, readdressings, gateway and pool changes and
//! deletes keeps every subnet's allocator equal to what its ports and
//! reserved addresses hold, never gives one address to two ports, and
//! matches the allocators of a model rebuilt from the objects (a restart).
//!
//! `fuzz/fuzz_targets/api_sequence.rs` explores the same space, and more
//! kinds of command, without a time limit; this keeps the core of it in CI.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use common::{World, ip};
use proptest::prelude::*;
use uuid::Uuid;
use weft_model::*;

const NETWORK: &str = "default-domain:p:n";

/// Small and overlapping on purpose: requests collide and subnets run out.
const PREFIXES: [&str; 6] = [
    "10.0.0.0/29",
    "10.0.0.8/29",
    "10.0.0.0/28",
    "fd00::/125",
    "fd00::8/125",
    "10.0.1.0/30",
];
const ADDRESSES: [&str; 16] = [
    "10.0.0.0",
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.5",
    "10.0.0.6",
    "10.0.0.7",
    "10.0.0.9",
    "10.0.0.14",
    "10.0.1.1",
    "10.0.1.2",
    "fd00::",
    "fd00::1",
    "fd00::3",
    "fd00::7",
    "fd00::9",
];

#[derive(Clone, Debug)]
enum Op {
    CreatePort(Option<Vec<(Option<usize>, Option<usize>)>>),
    Readdress(usize, Vec<(Option<usize>, Option<usize>)>),
    DeletePort(usize),
    CreateSubnet {
        prefix: usize,
        gateway: Option<Option<usize>>,
        pool: Option<(usize, usize)>,
    },
    UpdateSubnet {
        subnet: usize,
        gateway: Option<Option<usize>>,
        pool: Option<(usize, usize)>,
    },
    DeleteSubnet(usize),
}

fn fixed_ips() -> impl Strategy<Value = Vec<(Option<usize>, Option<usize>)>> {
    proptest::collection::vec((any::<Option<usize>>(), any::<Option<usize>>()), 0..3)
}

fn op() -> impl Strategy<Value = Op> {
    let gateway = proptest::option::of(proptest::option::of(any::<usize>()));
    let pool = proptest::option::of((any::<usize>(), any::<usize>()));
    prop_oneof![
        4 => proptest::option::of(fixed_ips()).prop_map(Op::CreatePort),
        2 => (any::<usize>(), fixed_ips()).prop_map(|(p, f)| Op::Readdress(p, f)),
        2 => any::<usize>().prop_map(Op::DeletePort),
        2 => (any::<usize>(), gateway.clone(), pool.clone())
            .prop_map(|(prefix, gateway, pool)| Op::CreateSubnet { prefix, gateway, pool }),
        2 => (any::<usize>(), gateway, pool)
            .prop_map(|(subnet, gateway, pool)| Op::UpdateSubnet { subnet, gateway, pool }),
        1 => any::<usize>().prop_map(Op::DeleteSubnet),
    ]
}

fn address(i: usize) -> IpAddr {
    ip(ADDRESSES[i % ADDRESSES.len()])
}

fn nth(ids: Vec<Uuid>, i: usize) -> Ref {
    Ref::Id(
        ids.get(i % ids.len().max(1))
            .copied()
            .unwrap_or(Uuid::nil()),
    )
}

fn command(w: &World, op: Op) -> Command {
    let subnets: Vec<Uuid> = w.model.subnets().map(|s| s.meta.id).collect();
    let ports: Vec<Uuid> = w.model.ports().map(|p| p.meta.id).collect();
    let requests = |picks: Vec<(Option<usize>, Option<usize>)>| -> Vec<FixedIpRequest> {
        picks
            .into_iter()
            .map(|(subnet, ip)| FixedIpRequest {
                subnet_id: subnet.and_then(|s| subnets.get(s % subnets.len().max(1)).copied()),
                ip_address: ip.map(address),
            })
            .collect()
    };
    let pools = |pool: Option<(usize, usize)>| {
        pool.map(|(start, end)| {
            vec![AllocationPool {
                start: address(start),
                end: address(end),
            }]
        })
    };
    match op {
        Op::CreatePort(picks) => {
            let mut req = CreatePort::on(NETWORK.parse().unwrap());
            req.fixed_ips = picks.map(requests);
            Command::CreatePort(req)
        }
        Op::Readdress(port, picks) => Command::UpdatePort(
            nth(ports, port),
            UpdatePort {
                fixed_ips: Some(requests(picks)),
                ..UpdatePort::default()
            },
        ),
        Op::DeletePort(port) => Command::DeletePort(nth(ports, port)),
        Op::CreateSubnet {
            prefix,
            gateway,
            pool,
        } => {
            let mut req =
                CreateSubnet::with_cidr(PREFIXES[prefix % PREFIXES.len()].parse().unwrap());
            req.network = Some(NETWORK.parse().unwrap());
            req.gateway_ip = gateway.map(|g| g.map(address));
            req.allocation_pools = pools(pool);
            Command::CreateSubnet(req)
        }
        Op::UpdateSubnet {
            subnet,
            gateway,
            pool,
        } => Command::UpdateSubnet(
            nth(subnets, subnet),
            UpdateSubnet {
                gateway_ip: gateway.map(|g| g.map(address)),
                allocation_pools: pools(pool),
                ..UpdateSubnet::default()
            },
        ),
        Op::DeleteSubnet(subnet) => Command::DeleteSubnet(nth(subnets, subnet)),
    }
}

/// Every object of the model, for a rebuild.
fn objects(model: &Model) -> Vec<Object> {
    let mut out: Vec<Object> = model
        .global()
        .cloned()
        .map(Object::GlobalConfig)
        .into_iter()
        .collect();
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
    out
}

fn allocators(model: &Model) -> Vec<(Uuid, Option<SubnetAllocator>)> {
    model
        .subnets()
        .map(|s| (s.meta.id, model.allocator(s.meta.id).cloned()))
        .collect()
}

fn check(model: &Model) -> Result<(), TestCaseError> {
    let mut holders: BTreeMap<IpAddr, Uuid> = BTreeMap::new();
    let mut per_subnet: BTreeMap<Uuid, u128> = BTreeMap::new();
    for port in model.ports() {
        for fixed in &port.fixed_ips {
            let ip = fixed.ip_address;
            let subnet = model.subnets().find(|s| s.meta.id == fixed.subnet_id);
            prop_assert!(
                subnet.is_some_and(|s| s.cidr.contains(ip)),
                "{ip} outside its subnet"
            );
            if let Some(other) = holders.insert(ip, port.meta.id) {
                prop_assert!(false, "{ip} held by ports {other} and {}", port.meta.id);
            }
            let allocator = model.allocator(fixed.subnet_id);
            prop_assert!(
                allocator.is_some_and(|a| a.is_held(ip)),
                "{ip} free in its allocator"
            );
            *per_subnet.entry(fixed.subnet_id).or_default() += 1;
        }
    }
    for subnet in model.subnets() {
        let reserved: BTreeSet<IpAddr> = subnet
            .gateway_ip
            .into_iter()
            .chain(subnet.dns_service_ip)
            .collect();
        let allocator = model.allocator(subnet.meta.id).unwrap();
        for ip in &reserved {
            prop_assert!(allocator.is_held(*ip), "reserved {ip} is free");
            prop_assert!(!holders.contains_key(ip), "a port holds reserved {ip}");
        }
        let ports = per_subnet.get(&subnet.meta.id).copied().unwrap_or(0);
        prop_assert_eq!(
            allocator.held(),
            ports + reserved.len() as u128,
            "held count of {}",
            subnet.cidr
        );
    }
    let rebuilt = Model::load(objects(model)).unwrap();
    prop_assert_eq!(
        allocators(&rebuilt),
        allocators(model),
        "allocators after a rebuild"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn commands_keep_the_ipam_in_step_with_the_ports(
        ops in proptest::collection::vec(op(), 0..40),
    ) {
        let mut w = World::new();
        w.project("p");
        w.network(NETWORK, &["10.0.0.0/29", "fd00::/125"]).unwrap();
        for op in ops {
            let command = command(&w, op);
            let before = allocators(&w.model);
            if w.run(command).is_err() {
                prop_assert_eq!(&before, &allocators(&w.model), "a refused command changed the allocators");
            }
            check(&w.model)?;
        }
    }
}
