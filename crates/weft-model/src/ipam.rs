//! The IP address allocator of one subnet.
//!
//! Addresses are handled as offsets from the subnet's network address, so the
//! same code serves IPv4 and IPv6. Free space inside the allocation pools is
//! kept as a set of disjoint intervals: allocating the lowest free address,
//! taking a requested one and releasing one are all `O(log n)` in the number
//! of intervals, and nothing ever walks the range, so a /64 costs the same as
//! a /30. Addresses held outside the pools (a fixed IP an operator asked for,
//! or a gateway placed outside them) are tracked separately.
//!
//! The allocator holds no record of *who* holds an address: the model derives
//! it from the ports and subnets, which is what keeps allocation and the
//! object holding the address in one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use weft_types::Prefix;

/// Why an address could not be allocated, taken or released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("no free address left in the allocation pools of {subnet}")]
    Exhausted { subnet: Prefix },
    #[error("address {ip} is already in use in {subnet}")]
    InUse { ip: IpAddr, subnet: Prefix },
    #[error("address {ip} is outside subnet {subnet}")]
    OutsideSubnet { ip: IpAddr, subnet: Prefix },
    #[error("address {ip} is the {what} address of {subnet} and cannot be assigned")]
    Unassignable {
        ip: IpAddr,
        subnet: Prefix,
        what: &'static str,
    },
    #[error("address {ip} is not allocated in {subnet}")]
    NotAllocated { ip: IpAddr, subnet: Prefix },
    #[error("allocation pool {start}-{end} is invalid: {reason}")]
    BadPool {
        start: IpAddr,
        end: IpAddr,
        reason: &'static str,
    },
}

/// Allocation state of one subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetAllocator {
    prefix: Prefix,
    /// Pools as inclusive offset ranges, sorted and disjoint.
    pools: Vec<(u128, u128)>,
    /// Free offsets inside the pools: start → inclusive end, disjoint, not adjacent.
    free: BTreeMap<u128, u128>,
    /// Held offsets that lie outside every pool.
    outside: BTreeSet<u128>,
    held: u128,
}

impl SubnetAllocator {
    /// An allocator with every pool address free. `pools` are inclusive
    /// address ranges inside `prefix`; they must not overlap.
    pub fn new(prefix: Prefix, pools: &[(IpAddr, IpAddr)]) -> Result<Self, IpamError> {
        let mut ranges = Vec::with_capacity(pools.len());
        for &(start, end) in pools {
            let bad = |reason| IpamError::BadPool { start, end, reason };
            let (Some(s), Some(e)) = (prefix.offset_of(start), prefix.offset_of(end)) else {
                return Err(bad("it is not inside the subnet"));
            };
            if s > e {
                return Err(bad("its start is after its end"));
            }
            if unassignable(prefix, s).is_some() || unassignable(prefix, e).is_some() {
                return Err(bad("it includes the network or broadcast address"));
            }
            ranges.push((s, e));
        }
        ranges.sort_unstable();
        for pair in ranges.windows(2) {
            if pair[1].0 <= pair[0].1 {
                let start = addr(prefix, pair[1].0);
                let end = addr(prefix, pair[1].1);
                return Err(IpamError::BadPool {
                    start,
                    end,
                    reason: "it overlaps another pool",
                });
            }
        }
        let free = ranges.iter().copied().collect();
        Ok(SubnetAllocator {
            prefix,
            pools: ranges,
            free,
            outside: BTreeSet::new(),
            held: 0,
        })
    }

    /// The default pool set of a subnet: every assignable address except the
    /// gateway, split around it (Neutron's rule).
    pub fn default_pools(prefix: Prefix, gateway: Option<IpAddr>) -> Vec<(IpAddr, IpAddr)> {
        let (first, last) = host_range(prefix);
        if first > last {
            return Vec::new();
        }
        let gw = gateway.and_then(|g| prefix.offset_of(g));
        let mut out = Vec::new();
        match gw {
            Some(g) if (first..=last).contains(&g) => {
                if g > first {
                    out.push((first, g - 1));
                }
                if g < last {
                    out.push((g + 1, last));
                }
            }
            _ => out.push((first, last)),
        }
        out.into_iter()
            .map(|(s, e)| (addr(prefix, s), addr(prefix, e)))
            .collect()
    }

    pub fn prefix(&self) -> Prefix {
        self.prefix
    }

    /// Number of addresses held (inside and outside the pools).
    pub fn held(&self) -> u128 {
        self.held
    }

    /// Number of free addresses left in the pools.
    pub fn free_in_pools(&self) -> u128 {
        self.free.iter().map(|(s, e)| e - s + 1).sum()
    }

    /// Whether `ip` is currently held.
    pub fn is_held(&self, ip: IpAddr) -> bool {
        match self.prefix.offset_of(ip) {
            Some(off) if self.in_pools(off) => !self.is_free(off),
            Some(off) => self.outside.contains(&off),
            None => false,
        }
    }

    /// The lowest free pool address that is not in `exclude` (offsets already
    /// promised to someone in the same transaction), without taking it.
    pub fn peek_lowest(&self, exclude: &BTreeSet<IpAddr>) -> Result<IpAddr, IpamError> {
        let excluded: BTreeSet<u128> = exclude
            .iter()
            .filter_map(|ip| self.prefix.offset_of(*ip))
            .collect();
        for (&start, &end) in &self.free {
            let mut candidate = start;
            for &taken in excluded.range(start..=end) {
                if taken != candidate {
                    break;
                }
                match candidate.checked_add(1) {
                    Some(next) => candidate = next,
                    None => break,
                }
            }
            if candidate <= end && !excluded.contains(&candidate) {
                return Ok(addr(self.prefix, candidate));
            }
        }
        Err(IpamError::Exhausted {
            subnet: self.prefix,
        })
    }

    /// Takes the lowest free pool address.
    pub fn allocate_lowest(&mut self) -> Result<IpAddr, IpamError> {
        let ip = self.peek_lowest(&BTreeSet::new())?;
        self.take(ip)?;
        Ok(ip)
    }

    /// Checks that `ip` could be taken now, without taking it.
    pub fn check_available(&self, ip: IpAddr) -> Result<(), IpamError> {
        let off = self.offset(ip)?;
        if let Some(what) = unassignable(self.prefix, off) {
            return Err(IpamError::Unassignable {
                ip,
                subnet: self.prefix,
                what,
            });
        }
        let busy = if self.in_pools(off) {
            !self.is_free(off)
        } else {
            self.outside.contains(&off)
        };
        if busy {
            return Err(IpamError::InUse {
                ip,
                subnet: self.prefix,
            });
        }
        Ok(())
    }

    /// Takes a specific address, inside or outside the pools.
    pub fn take(&mut self, ip: IpAddr) -> Result<(), IpamError> {
        self.check_available(ip)?;
        let off = self.offset(ip)?;
        if self.in_pools(off) {
            self.remove_free(off);
        } else {
            self.outside.insert(off);
        }
        self.held += 1;
        Ok(())
    }

    /// Gives a held address back.
    pub fn release(&mut self, ip: IpAddr) -> Result<(), IpamError> {
        let off = self.offset(ip)?;
        let not_allocated = IpamError::NotAllocated {
            ip,
            subnet: self.prefix,
        };
        if self.in_pools(off) {
            if self.is_free(off) {
                return Err(not_allocated);
            }
            self.insert_free(off);
        } else if !self.outside.remove(&off) {
            return Err(not_allocated);
        }
        self.held -= 1;
        Ok(())
    }

    fn offset(&self, ip: IpAddr) -> Result<u128, IpamError> {
        self.prefix.offset_of(ip).ok_or(IpamError::OutsideSubnet {
            ip,
            subnet: self.prefix,
        })
    }

    fn in_pools(&self, off: u128) -> bool {
        let idx = self.pools.partition_point(|&(s, _)| s <= off);
        idx > 0 && self.pools[idx - 1].1 >= off
    }

    fn is_free(&self, off: u128) -> bool {
        self.free
            .range(..=off)
            .next_back()
            .is_some_and(|(_, &end)| end >= off)
    }

    /// Removes `off` from the free interval holding it (caller checked it is free).
    fn remove_free(&mut self, off: u128) {
        let Some((&start, &end)) = self.free.range(..=off).next_back() else {
            return;
        };
        self.free.remove(&start);
        if start < off {
            self.free.insert(start, off - 1);
        }
        if off < end {
            self.free.insert(off + 1, end);
        }
    }

    /// Adds `off` back as free, merging with neighbours inside the same pool.
    fn insert_free(&mut self, off: u128) {
        let mut start = off;
        let mut end = off;
        if let Some((&s, &e)) = self.free.range(..off).next_back()
            && e.checked_add(1) == Some(off)
            && self.same_pool(s, off)
        {
            self.free.remove(&s);
            start = s;
        }
        if let Some(next) = off.checked_add(1)
            && let Some(&e) = self.free.get(&next)
            && self.same_pool(off, next)
        {
            self.free.remove(&next);
            end = e;
        }
        self.free.insert(start, end);
    }

    fn same_pool(&self, a: u128, b: u128) -> bool {
        self.pools.iter().any(|&(s, e)| s <= a && b <= e)
    }
}

/// Offsets of the first and last assignable host of a prefix.
fn host_range(prefix: Prefix) -> (u128, u128) {
    let last = prefix.last_offset();
    if prefix.is_ipv4() {
        match prefix.prefix_len() {
            32 => (0, 0),
            31 => (0, 1),
            _ => (1, last - 1),
        }
    } else if prefix.prefix_len() == 128 {
        (0, 0)
    } else {
        (1, last)
    }
}

/// Why the address at `off` may never be handed out, if it may not.
fn unassignable(prefix: Prefix, off: u128) -> Option<&'static str> {
    let (first, last) = host_range(prefix);
    if off < first {
        Some(if prefix.is_ipv4() {
            "network"
        } else {
            "subnet-router anycast"
        })
    } else if off > last {
        Some("broadcast")
    } else {
        None
    }
}

fn addr(prefix: Prefix, off: u128) -> IpAddr {
    // Offsets handled here always come from the prefix itself.
    prefix.addr_at(off).unwrap_or(prefix.network())
}

#[cfg(test)]
#[path = "ipam_tests.rs"]
mod tests;
