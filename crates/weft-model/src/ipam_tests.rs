#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn v4_24() -> SubnetAllocator {
    let prefix: Prefix = "192.168.1.0/24".parse().unwrap();
    let pools = SubnetAllocator::default_pools(prefix, Some(ip("192.168.1.1")));
    SubnetAllocator::new(prefix, &pools).unwrap()
}

#[test]
fn default_pools_skip_network_broadcast_and_gateway() {
    let prefix: Prefix = "192.168.1.0/24".parse().unwrap();
    assert_eq!(
        SubnetAllocator::default_pools(prefix, Some(ip("192.168.1.1"))),
        vec![(ip("192.168.1.2"), ip("192.168.1.254"))]
    );
    assert_eq!(
        SubnetAllocator::default_pools(prefix, Some(ip("192.168.1.100"))),
        vec![
            (ip("192.168.1.1"), ip("192.168.1.99")),
            (ip("192.168.1.101"), ip("192.168.1.254"))
        ]
    );
    let v6: Prefix = "fd00::/64".parse().unwrap();
    assert_eq!(
        SubnetAllocator::default_pools(v6, Some(ip("fd00::1"))),
        vec![(ip("fd00::2"), ip("fd00::ffff:ffff:ffff:ffff"))]
    );
}

#[test]
fn reference_scenario_gives_three_then_four() {
    let mut a = v4_24();
    // The subnet reserves its DNS/service address (.2); the gateway is outside the pool.
    a.take(ip("192.168.1.1")).unwrap();
    a.take(ip("192.168.1.2")).unwrap();
    assert_eq!(a.allocate_lowest().unwrap(), ip("192.168.1.3"));
    assert_eq!(a.allocate_lowest().unwrap(), ip("192.168.1.4"));
    assert_eq!(a.held(), 4);
}

#[test]
fn released_addresses_are_reused_lowest_first() {
    let mut a = v4_24();
    let first: Vec<_> = (0..5).map(|_| a.allocate_lowest().unwrap()).collect();
    a.release(first[1]).unwrap();
    a.release(first[3]).unwrap();
    assert_eq!(a.allocate_lowest().unwrap(), first[1]);
    assert_eq!(a.allocate_lowest().unwrap(), first[3]);
    assert_eq!(a.free_in_pools(), 253 - 5);
}

#[test]
fn errors_name_the_address_and_subnet() {
    let mut a = v4_24();
    a.take(ip("192.168.1.10")).unwrap();
    assert_eq!(
        a.take(ip("192.168.1.10")).unwrap_err().to_string(),
        "address 192.168.1.10 is already in use in 192.168.1.0/24"
    );
    assert_eq!(
        a.take(ip("10.0.0.1")).unwrap_err().to_string(),
        "address 10.0.0.1 is outside subnet 192.168.1.0/24"
    );
    assert_eq!(
        a.take(ip("192.168.1.255")).unwrap_err().to_string(),
        "address 192.168.1.255 is the broadcast address of 192.168.1.0/24 and cannot be assigned"
    );
    assert!(matches!(
        a.release(ip("192.168.1.11")),
        Err(IpamError::NotAllocated { .. })
    ));
}

#[test]
fn exhaustion_is_reported_and_changes_nothing() {
    let prefix: Prefix = "10.0.0.0/30".parse().unwrap();
    let mut a =
        SubnetAllocator::new(prefix, &SubnetAllocator::default_pools(prefix, None)).unwrap();
    assert_eq!(a.allocate_lowest().unwrap(), ip("10.0.0.1"));
    assert_eq!(a.allocate_lowest().unwrap(), ip("10.0.0.2"));
    let before = a.clone();
    assert_eq!(
        a.allocate_lowest(),
        Err(IpamError::Exhausted { subnet: prefix })
    );
    assert_eq!(a, before);
}

#[test]
fn addresses_outside_pools_are_held_separately() {
    let prefix: Prefix = "10.0.0.0/24".parse().unwrap();
    let mut a = SubnetAllocator::new(prefix, &[(ip("10.0.0.100"), ip("10.0.0.101"))]).unwrap();
    a.take(ip("10.0.0.5")).unwrap();
    assert!(a.is_held(ip("10.0.0.5")));
    assert_eq!(a.allocate_lowest().unwrap(), ip("10.0.0.100"));
    assert_eq!(a.held(), 2);
    a.release(ip("10.0.0.5")).unwrap();
    assert!(!a.is_held(ip("10.0.0.5")));
}

#[test]
fn bad_pools_are_rejected_with_reason() {
    let prefix: Prefix = "10.0.0.0/24".parse().unwrap();
    let err = SubnetAllocator::new(
        prefix,
        &[
            (ip("10.0.0.10"), ip("10.0.0.20")),
            (ip("10.0.0.15"), ip("10.0.0.30")),
        ],
    )
    .unwrap_err();
    assert!(err.to_string().contains("overlaps another pool"), "{err}");
    assert!(SubnetAllocator::new(prefix, &[(ip("10.0.0.20"), ip("10.0.0.10"))]).is_err());
    assert!(SubnetAllocator::new(prefix, &[(ip("10.0.0.0"), ip("10.0.0.10"))]).is_err());
    assert!(SubnetAllocator::new(prefix, &[(ip("10.0.1.1"), ip("10.0.1.10"))]).is_err());
}

#[test]
fn ipv6_slash_64_and_wider_never_enumerate() {
    let prefix: Prefix = "fd00::/64".parse().unwrap();
    let mut a = SubnetAllocator::new(
        prefix,
        &SubnetAllocator::default_pools(prefix, Some(ip("fd00::1"))),
    )
    .unwrap();
    a.take(ip("fd00::2")).unwrap();
    assert_eq!(a.allocate_lowest().unwrap(), ip("fd00::3"));
    assert_eq!(a.free_in_pools(), u128::from(u64::MAX) - 3);
    a.take(ip("fd00::ffff:ffff:ffff:ffff")).unwrap();

    // The widest possible prefix still works in constant time.
    let all: Prefix = "::/0".parse().unwrap();
    let mut b = SubnetAllocator::new(all, &SubnetAllocator::default_pools(all, None)).unwrap();
    assert_eq!(b.allocate_lowest().unwrap(), ip("::1"));
    b.take(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        .unwrap();
    b.release(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        .unwrap();
}

#[test]
fn peek_skips_addresses_promised_in_the_same_transaction() {
    let a = v4_24();
    let promised: BTreeSet<IpAddr> = [ip("192.168.1.2"), ip("192.168.1.3")].into();
    assert_eq!(a.peek_lowest(&promised).unwrap(), ip("192.168.1.4"));
}

#[derive(Debug, Clone)]
enum Op {
    Lowest,
    Take(u8),
    Release(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Lowest),
        2 => any::<u8>().prop_map(Op::Take),
        2 => any::<usize>().prop_map(Op::Release),
    ]
}

proptest! {
    /// Across any sequence of operations: no address is held twice, the held
    /// count matches the model, free + held-in-pools is the pool size, and
    /// releasing everything gives back the pristine allocator.
    #[test]
    fn no_duplicates_no_leaks(
        pool_start in 1u8..100,
        pool_len in 1u8..100,
        ops in proptest::collection::vec(op(), 0..300),
    ) {
        let prefix: Prefix = "10.1.2.0/24".parse().unwrap();
        let start = IpAddr::from([10, 1, 2, pool_start]);
        let end = IpAddr::from([10, 1, 2, pool_start.saturating_add(pool_len).min(254)]);
        let pristine = SubnetAllocator::new(prefix, &[(start, end)]).unwrap();
        let pool_size = pristine.free_in_pools();
        let mut a = pristine.clone();
        let mut held: Vec<IpAddr> = Vec::new();
        for op in ops {
            match op {
                Op::Lowest => match a.allocate_lowest() {
                    Ok(got) => {
                        prop_assert!(!held.contains(&got), "{got} handed out twice");
                        held.push(got);
                    }
                    Err(IpamError::Exhausted { .. }) => prop_assert_eq!(a.free_in_pools(), 0),
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                },
                Op::Take(last) => {
                    let want = IpAddr::from([10, 1, 2, last]);
                    let expect_ok = !held.contains(&want) && (1..=254).contains(&last);
                    prop_assert_eq!(a.take(want).is_ok(), expect_ok);
                    if expect_ok { held.push(want); }
                }
                Op::Release(i) if !held.is_empty() => {
                    let ip = held.swap_remove(i % held.len());
                    a.release(ip).unwrap();
                    prop_assert!(a.release(ip).is_err(), "double release accepted");
                }
                Op::Release(_) => {}
            }
            let unique: HashSet<_> = held.iter().collect();
            prop_assert_eq!(unique.len(), held.len());
            prop_assert_eq!(a.held(), held.len() as u128);
            let in_pool = held.iter().filter(|ip| (start..=end).contains(*ip)).count() as u128;
            prop_assert_eq!(a.free_in_pools() + in_pool, pool_size);
            for ip in &held { prop_assert!(a.is_held(*ip)); }
        }
        for ip in held.drain(..) { a.release(ip).unwrap(); }
        prop_assert_eq!(a, pristine);
    }

    /// Lowest-first: a fresh allocator hands out the pool in order.
    #[test]
    fn allocates_in_ascending_order(n in 1usize..200) {
        let mut a = v4_24();
        let got: Vec<IpAddr> = (0..n).map(|_| a.allocate_lowest().unwrap()).collect();
        let mut sorted = got.clone();
        sorted.sort();
        prop_assert_eq!(&got, &sorted);
        prop_assert_eq!(got[0], ip("192.168.1.2"));
    }
}
