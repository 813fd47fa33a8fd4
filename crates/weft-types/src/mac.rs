//! Ethernet MAC addresses.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 48-bit Ethernet address, printed as `fa:16:3e:12:34:56`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

/// Why a text is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacAddrError {
    #[error("MAC address must be six hex octets separated by ':' (like fa:16:3e:00:00:01)")]
    Format,
    #[error("MAC address {0} is a multicast address (low bit of the first octet set)")]
    Multicast(MacAddr),
    #[error("MAC address is all zeros")]
    Zero,
}

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    pub fn octets(self) -> [u8; 6] {
        self.0
    }

    pub fn is_multicast(self) -> bool {
        self.0[0] & 0x01 != 0
    }

    pub fn is_broadcast(self) -> bool {
        self == Self::BROADCAST
    }

    /// A unicast, non-zero address: what an interface may own.
    pub fn check_unicast(self) -> Result<Self, MacAddrError> {
        if self == Self::ZERO {
            return Err(MacAddrError::Zero);
        }
        if self.is_multicast() {
            return Err(MacAddrError::Multicast(self));
        }
        Ok(self)
    }
}

impl FromStr for MacAddr {
    type Err = MacAddrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut octets = [0u8; 6];
        let mut parts = text.split([':', '-']);
        for octet in &mut octets {
            let part = parts.next().ok_or(MacAddrError::Format)?;
            if part.len() != 2 {
                return Err(MacAddrError::Format);
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| MacAddrError::Format)?;
        }
        if parts.next().is_some() {
            return Err(MacAddrError::Format);
        }
        Ok(MacAddr(octets))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for MacAddr {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("Ethernet address, six hex octets joined by ':'"))
            .examples([serde_json::json!("fa:16:3e:00:00:01")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for MacAddr {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_text() {
        let mac: MacAddr = "FA:16:3e:0a:00:01".parse().unwrap();
        assert_eq!(mac.to_string(), "fa:16:3e:0a:00:01");
        assert_eq!(mac.check_unicast(), Ok(mac));
    }

    #[test]
    fn rejects_malformed_and_multicast() {
        for bad in [
            "",
            "fa:16:3e:0a:00",
            "fa:16:3e:0a:00:01:02",
            "fa:16:3e:0a:00:1",
            "zz:16:3e:0a:00:01",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(MacAddrError::Format), "{bad}");
        }
        let multicast: MacAddr = "01:00:5e:00:00:01".parse().unwrap();
        assert!(multicast.check_unicast().is_err());
        assert_eq!(MacAddr::ZERO.check_unicast(), Err(MacAddrError::Zero));
    }
}
