//! How model objects are laid out in the store: one key per object,
//! `/weft/<kind>/<uuid>`, holding the object as JSON.

use uuid::Uuid;
use weft_model::{Change, Kind, Object};
use weft_store::{KeyValue, Op};

/// Prefix of every key weft writes.
pub const PREFIX: &str = "/weft/";

/// Why a stored value could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("key '{0}' is not /weft/<kind>/<uuid>")]
    Key(String),
    #[error("value of '{key}' is not a valid {kind}")]
    Value {
        key: String,
        kind: Kind,
        #[source]
        source: serde_json::Error,
    },
}

pub fn key(kind: Kind, id: Uuid) -> String {
    format!("{PREFIX}{}/{id}", kind.as_str())
}

/// Splits a key into kind and id.
pub fn parse_key(key: &str) -> Result<(Kind, Uuid), DecodeError> {
    let bad = || DecodeError::Key(key.to_owned());
    let rest = key.strip_prefix(PREFIX).ok_or_else(bad)?;
    let (kind, id) = rest.split_once('/').ok_or_else(bad)?;
    let kind = Kind::parse(kind).ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((kind, id))
}

/// The object's own JSON, without the kind tag (the key carries the kind).
pub fn encode_object(object: &Object) -> Vec<u8> {
    let value = match object {
        Object::GlobalConfig(o) => serde_json::to_vec(o),
        Object::Domain(o) => serde_json::to_vec(o),
        Object::Project(o) => serde_json::to_vec(o),
        Object::SecurityGroup(o) => serde_json::to_vec(o),
        Object::SecurityGroupRule(o) => serde_json::to_vec(o),
        Object::VirtualNetwork(o) => serde_json::to_vec(o),
        Object::Subnet(o) => serde_json::to_vec(o),
        Object::Port(o) => serde_json::to_vec(o),
        Object::LoadBalancer(o) => serde_json::to_vec(o),
        Object::Node(o) => serde_json::to_vec(o),
        Object::ControlNode(o) => serde_json::to_vec(o),
        Object::Router(o) => serde_json::to_vec(o),
        Object::RbacPolicy(o) => serde_json::to_vec(o),
    };
    // Model objects are plain data with string keys: serialising cannot fail.
    value.unwrap_or_default()
}

pub fn decode_object(kind: Kind, key: &str, value: &[u8]) -> Result<Object, DecodeError> {
    let wrap = |source| DecodeError::Value {
        key: key.to_owned(),
        kind,
        source,
    };
    Ok(match kind {
        Kind::GlobalConfig => Object::GlobalConfig(serde_json::from_slice(value).map_err(wrap)?),
        Kind::Domain => Object::Domain(serde_json::from_slice(value).map_err(wrap)?),
        Kind::Project => Object::Project(serde_json::from_slice(value).map_err(wrap)?),
        Kind::SecurityGroup => Object::SecurityGroup(serde_json::from_slice(value).map_err(wrap)?),
        Kind::SecurityGroupRule => {
            Object::SecurityGroupRule(serde_json::from_slice(value).map_err(wrap)?)
        }
        Kind::VirtualNetwork => {
            Object::VirtualNetwork(serde_json::from_slice(value).map_err(wrap)?)
        }
        Kind::Subnet => Object::Subnet(serde_json::from_slice(value).map_err(wrap)?),
        Kind::Port => Object::Port(serde_json::from_slice(value).map_err(wrap)?),
        Kind::LoadBalancer => Object::LoadBalancer(serde_json::from_slice(value).map_err(wrap)?),
        Kind::Node => Object::Node(serde_json::from_slice(value).map_err(wrap)?),
        Kind::ControlNode => Object::ControlNode(serde_json::from_slice(value).map_err(wrap)?),
        Kind::Router => Object::Router(serde_json::from_slice(value).map_err(wrap)?),
        Kind::RbacPolicy => Object::RbacPolicy(serde_json::from_slice(value).map_err(wrap)?),
    })
}

pub fn decode(kv: &KeyValue) -> Result<Object, DecodeError> {
    let (kind, _) = parse_key(&kv.key)?;
    decode_object(kind, &kv.key, &kv.value)
}

/// The store operation for one change.
pub fn op(change: &Change) -> Op {
    match change {
        Change::Put(object) => Op::put(key(object.kind(), object.id()), encode_object(object)),
        Change::Delete { kind, id } => Op::delete(key(*kind, *id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let id = Uuid::from_u128(7);
        let k = key(Kind::SecurityGroupRule, id);
        assert_eq!(
            k,
            "/weft/security-group-rule/00000000-0000-0000-0000-000000000007"
        );
        assert_eq!(parse_key(&k).unwrap(), (Kind::SecurityGroupRule, id));
        for bad in [
            "/weft/port",
            "/weft/bogus/00000000-0000-0000-0000-000000000007",
            "/x/port/1",
            "/weft/port/zz",
        ] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }
}
