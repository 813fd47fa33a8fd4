//! IP prefixes (CIDRs) for IPv4 and IPv6.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 or IPv6 prefix whose host bits are zero (`192.168.1.0/24`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix(IpNet);

/// Why a text is not a usable prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("'{0}' is not a CIDR (expected address/length, like 192.168.1.0/24 or fd00::/64)")]
    Format(String),
    #[error("'{given}' has host bits set; the network is {network}")]
    HostBits { given: String, network: String },
}

impl Prefix {
    /// Parses a CIDR and refuses host bits, naming the network the user meant.
    pub fn parse_strict(text: &str) -> Result<Self, PrefixError> {
        let net: IpNet = text
            .trim()
            .parse()
            .map_err(|_| PrefixError::Format(text.to_owned()))?;
        if net.trunc() != net {
            return Err(PrefixError::HostBits {
                given: text.to_owned(),
                network: net.trunc().to_string(),
            });
        }
        Ok(Prefix(net))
    }

    /// Parses a CIDR and clears any host bits (Neutron normalises rule CIDRs so).
    pub fn parse_normalised(text: &str) -> Result<Self, PrefixError> {
        let net: IpNet = text
            .trim()
            .parse()
            .map_err(|_| PrefixError::Format(text.to_owned()))?;
        Ok(Prefix(net.trunc()))
    }

    /// A host route: /32 or /128.
    pub fn host(addr: IpAddr) -> Self {
        Prefix(IpNet::from(addr))
    }

    pub fn from_net(net: IpNet) -> Self {
        Prefix(net.trunc())
    }

    pub fn net(self) -> IpNet {
        self.0
    }

    pub fn network(self) -> IpAddr {
        self.0.network()
    }

    pub fn prefix_len(self) -> u8 {
        self.0.prefix_len()
    }

    /// Address family width in bits (32 or 128).
    pub fn max_len(self) -> u8 {
        self.0.max_prefix_len()
    }

    pub fn is_ipv4(self) -> bool {
        matches!(self.0, IpNet::V4(_))
    }

    /// 4 or 6.
    pub fn ip_version(self) -> u8 {
        if self.is_ipv4() { 4 } else { 6 }
    }

    pub fn contains(self, addr: IpAddr) -> bool {
        self.0.contains(&addr)
    }

    /// Whether the two prefixes share any address.
    pub fn overlaps(self, other: Prefix) -> bool {
        self.0.contains(&other.0.network()) || other.0.contains(&self.0.network())
    }

    /// The address at `offset` from the network address, if inside the prefix.
    pub fn addr_at(self, offset: u128) -> Option<IpAddr> {
        if offset > self.last_offset() {
            return None;
        }
        Some(match self.0 {
            IpNet::V4(n) => IpAddr::from(std::net::Ipv4Addr::from(
                u32::from(n.network()) + offset as u32,
            )),
            IpNet::V6(n) => {
                IpAddr::from(std::net::Ipv6Addr::from(u128::from(n.network()) + offset))
            }
        })
    }

    /// The offset of `addr` from the network address, if inside the prefix.
    pub fn offset_of(self, addr: IpAddr) -> Option<u128> {
        if !self.contains(addr) {
            return None;
        }
        Some(match (self.0, addr) {
            (IpNet::V4(n), IpAddr::V4(a)) => u128::from(u32::from(a) - u32::from(n.network())),
            (IpNet::V6(n), IpAddr::V6(a)) => u128::from(a) - u128::from(n.network()),
            _ => return None,
        })
    }

    /// Offset of the last address of the prefix (the broadcast address in IPv4).
    pub fn last_offset(self) -> u128 {
        let host_bits = u32::from(self.max_len() - self.prefix_len());
        if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        }
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_strict(text)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prefix({})", self.0)
    }
}

impl Serialize for Prefix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Prefix::parse_strict(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Prefix {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("IPv4 or IPv6 prefix in CIDR notation, host bits zero"))
            .examples([serde_json::json!("192.168.1.0/24")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Prefix {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_parse_names_the_network_on_host_bits() {
        let err = Prefix::parse_strict("192.168.1.5/24").unwrap_err();
        assert_eq!(
            err.to_string(),
            "'192.168.1.5/24' has host bits set; the network is 192.168.1.0/24"
        );
        assert_eq!(
            Prefix::parse_normalised("192.168.1.5/24")
                .unwrap()
                .to_string(),
            "192.168.1.0/24"
        );
        assert!(matches!(
            Prefix::parse_strict("300.1.1.0/24"),
            Err(PrefixError::Format(_))
        ));
        assert!(matches!(
            Prefix::parse_strict("10.0.0.0"),
            Err(PrefixError::Format(_))
        ));
    }

    #[test]
    fn offsets_work_for_both_families() {
        let v4 = Prefix::parse_strict("192.168.1.0/24").unwrap();
        assert_eq!(v4.last_offset(), 255);
        assert_eq!(v4.addr_at(3).unwrap().to_string(), "192.168.1.3");
        assert_eq!(v4.offset_of("192.168.1.4".parse().unwrap()), Some(4));
        assert_eq!(v4.addr_at(256), None);

        let v6 = Prefix::parse_strict("fd00::/64").unwrap();
        assert_eq!(v6.last_offset(), u128::from(u64::MAX));
        assert_eq!(v6.addr_at(2).unwrap().to_string(), "fd00::2");
        let all = Prefix::parse_strict("::/0").unwrap();
        assert_eq!(all.last_offset(), u128::MAX);
    }

    #[test]
    fn overlap_is_symmetric() {
        let a = Prefix::parse_strict("10.0.0.0/8").unwrap();
        let b = Prefix::parse_strict("10.1.0.0/16").unwrap();
        let c = Prefix::parse_strict("11.0.0.0/8").unwrap();
        assert!(a.overlaps(b) && b.overlaps(a));
        assert!(!a.overlaps(c));
    }
}
