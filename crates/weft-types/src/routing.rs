//! Routing values: ASN, VXLAN VNI, MPLS label, route target, route distinguisher.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text or number is not a valid routing value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingValueError {
    #[error("VNI {0} is out of range (1..=16777215)")]
    Vni(u32),
    #[error("MPLS label {0} is out of range (16..=1048575; 0-15 are reserved)")]
    Label(u32),
    #[error(
        "'{0}' is not a route target (expected target:<ASN>:<number> or target:<IPv4>:<number>)"
    )]
    RouteTarget(String),
    #[error("'{0}' is not a route distinguisher (expected <IPv4>:<number> or <ASN>:<number>)")]
    RouteDistinguisher(String),
}

/// A BGP autonomous system number (4-octet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Asn(pub u32);

impl Asn {
    /// TF's default, kept so mixed deployments agree.
    pub const DEFAULT: Asn = Asn(64512);
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A 24-bit VXLAN network identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vni(u32);

impl Vni {
    pub const MAX: u32 = (1 << 24) - 1;

    pub fn new(value: u32) -> Result<Self, RoutingValueError> {
        if value == 0 || value > Self::MAX {
            return Err(RoutingValueError::Vni(value));
        }
        Ok(Vni(value))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Vni {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vni::new(u32::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A 20-bit MPLS label usable for a service (16 and above).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MplsLabel(u32);

impl MplsLabel {
    pub const FIRST_UNRESERVED: u32 = 16;
    pub const MAX: u32 = (1 << 20) - 1;

    pub fn new(value: u32) -> Result<Self, RoutingValueError> {
        if !(Self::FIRST_UNRESERVED..=Self::MAX).contains(&value) {
            return Err(RoutingValueError::Label(value));
        }
        Ok(MplsLabel(value))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for MplsLabel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        MplsLabel::new(u32::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for MplsLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The administrator part of a route target or distinguisher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Administrator {
    Asn(u32),
    Ipv4(Ipv4Addr),
}

impl fmt::Display for Administrator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Administrator::Asn(asn) => asn.fmt(f),
            Administrator::Ipv4(ip) => ip.fmt(f),
        }
    }
}

/// Splits `admin:number` at the last ':' and parses both parts.
fn parse_admin_number(text: &str) -> Option<(Administrator, u32)> {
    let (admin, number) = text.rsplit_once(':')?;
    let number: u32 = number.parse().ok()?;
    let admin = if let Ok(ip) = admin.parse::<Ipv4Addr>() {
        Administrator::Ipv4(ip)
    } else {
        Administrator::Asn(admin.parse().ok()?)
    };
    Some((admin, number))
}

/// A route target extended community, `target:<ASN>:<n>` or `target:<IPv4>:<n>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteTarget {
    admin: Administrator,
    number: u32,
}

impl RouteTarget {
    /// First number used for automatically allocated route targets (TF's rule).
    pub const AUTO_BASE: u32 = 8_000_000;

    pub fn from_asn(asn: Asn, number: u32) -> Self {
        RouteTarget {
            admin: Administrator::Asn(asn.0),
            number,
        }
    }

    /// The route target a VN gets when none is configured: `target:<ASN>:<8000000 + n>`.
    pub fn automatic(asn: Asn, vn_id: u32) -> Self {
        Self::from_asn(asn, Self::AUTO_BASE + vn_id)
    }
}

impl FromStr for RouteTarget {
    type Err = RoutingValueError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rest = text
            .strip_prefix("target:")
            .ok_or_else(|| RoutingValueError::RouteTarget(text.to_owned()))?;
        let (admin, number) = parse_admin_number(rest)
            .ok_or_else(|| RoutingValueError::RouteTarget(text.to_owned()))?;
        Ok(RouteTarget { admin, number })
    }
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "target:{}:{}", self.admin, self.number)
    }
}

/// A route distinguisher, `<IPv4>:<n>` (weft uses node underlay IP : local VRF id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteDistinguisher {
    admin: Administrator,
    number: u32,
}

impl RouteDistinguisher {
    pub fn from_ip(ip: Ipv4Addr, number: u16) -> Self {
        RouteDistinguisher {
            admin: Administrator::Ipv4(ip),
            number: u32::from(number),
        }
    }
}

impl FromStr for RouteDistinguisher {
    type Err = RoutingValueError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (admin, number) = parse_admin_number(text)
            .ok_or_else(|| RoutingValueError::RouteDistinguisher(text.to_owned()))?;
        Ok(RouteDistinguisher { admin, number })
    }
}

impl fmt::Display for RouteDistinguisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.admin, self.number)
    }
}

macro_rules! text_serde {
    ($ty:ty, $example:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .examples([serde_json::json!($example)])
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $ty {}
    };
}

text_serde!(RouteTarget, "target:64512:8000001");
text_serde!(RouteDistinguisher, "192.168.200.13:1");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_route_target_follows_tf() {
        assert_eq!(
            RouteTarget::automatic(Asn(64512), 1).to_string(),
            "target:64512:8000001"
        );
    }

    #[test]
    fn route_targets_parse_both_forms() {
        let rt: RouteTarget = "target:65100:100".parse().unwrap();
        assert_eq!(rt, RouteTarget::from_asn(Asn(65100), 100));
        let rt: RouteTarget = "target:10.0.0.1:7".parse().unwrap();
        assert_eq!(rt.to_string(), "target:10.0.0.1:7");
        for bad in ["65100:100", "target:x:1", "target:1", "target:1:y"] {
            assert!(bad.parse::<RouteTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn route_distinguisher_uses_node_ip() {
        let rd = RouteDistinguisher::from_ip(Ipv4Addr::new(192, 168, 200, 13), 2);
        assert_eq!(rd.to_string(), "192.168.200.13:2");
        assert_eq!(
            "192.168.200.13:2".parse::<RouteDistinguisher>().unwrap(),
            rd
        );
    }

    #[test]
    fn ranges_are_checked() {
        assert!(Vni::new(0).is_err());
        assert!(Vni::new(1 << 24).is_err());
        assert_eq!(Vni::new(5001).unwrap().get(), 5001);
        assert!(MplsLabel::new(15).is_err());
        assert!(MplsLabel::new(1 << 20).is_err());
        assert!(serde_json::from_str::<Vni>("0").is_err());
    }
}
