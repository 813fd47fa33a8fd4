//! Reading Neutron request bodies: which attributes a resource accepts on
//! create and update, and typed access to them with Neutron's messages.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{NeutronError, Resource};

/// Attributes a client may send when creating a resource.
pub(crate) fn creatable(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::Network => &[
            "name",
            "admin_state_up",
            "shared",
            "tenant_id",
            "project_id",
            "description",
            "port_security_enabled",
            "router:external",
            "availability_zone_hints",
            "mtu",
            "tags",
        ],
        Resource::Subnet => &[
            "name",
            "network_id",
            "cidr",
            "ip_version",
            "gateway_ip",
            "allocation_pools",
            "dns_nameservers",
            "host_routes",
            "enable_dhcp",
            "tenant_id",
            "project_id",
            "description",
            "ipv6_ra_mode",
            "ipv6_address_mode",
            "subnetpool_id",
            "service_types",
            "tags",
        ],
        Resource::Port => &[
            "name",
            "network_id",
            "admin_state_up",
            "mac_address",
            "fixed_ips",
            "device_id",
            "device_owner",
            "security_groups",
            "allowed_address_pairs",
            "port_security_enabled",
            "binding:host_id",
            "binding:vnic_type",
            "binding:profile",
            "extra_dhcp_opts",
            "tenant_id",
            "project_id",
            "description",
            "tags",
        ],
        Resource::SecurityGroup => &[
            "name",
            "description",
            "tenant_id",
            "project_id",
            "stateful",
            "tags",
        ],
        Resource::Router => &[
            "name",
            "admin_state_up",
            "external_gateway_info",
            "tenant_id",
            "project_id",
            "description",
            "tags",
        ],
        Resource::SecurityGroupRule => &[
            "security_group_id",
            "direction",
            "ethertype",
            "protocol",
            "port_range_min",
            "port_range_max",
            "remote_ip_prefix",
            "remote_group_id",
            "tenant_id",
            "project_id",
            "description",
        ],
    }
}

/// Attributes a client may change.
pub(crate) fn updatable(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::Network => &[
            "name",
            "admin_state_up",
            "shared",
            "description",
            "port_security_enabled",
            "mtu",
        ],
        Resource::Subnet => &[
            "name",
            "gateway_ip",
            "allocation_pools",
            "dns_nameservers",
            "host_routes",
            "enable_dhcp",
            "service_types",
            "description",
        ],
        Resource::Port => &[
            "name",
            "admin_state_up",
            "mac_address",
            "fixed_ips",
            "device_id",
            "device_owner",
            "security_groups",
            "allowed_address_pairs",
            "port_security_enabled",
            "binding:host_id",
            "binding:vnic_type",
            "binding:profile",
            "description",
        ],
        Resource::SecurityGroup => &["name", "description", "stateful"],
        Resource::SecurityGroupRule => &["description"],
        Resource::Router => &[
            "name",
            "admin_state_up",
            "external_gateway_info",
            "description",
        ],
    }
}

/// One resource's attributes from a request, checked against what is allowed.
#[derive(Debug)]
pub(crate) struct Attrs {
    map: Map<String, Value>,
}

impl Attrs {
    pub(crate) fn new(
        value: Value,
        resource: Resource,
        allowed: &[&str],
        method: &str,
    ) -> Result<Attrs, NeutronError> {
        let Value::Object(map) = value else {
            return Err(NeutronError::bad_request(format!(
                "The '{}' in the request body must be an object",
                resource.singular()
            )));
        };
        let known = crate::render::attributes(resource);
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(if known.contains(&key.as_str()) {
                    NeutronError::bad_request(format!("Attribute '{key}' not allowed in {method}"))
                } else {
                    NeutronError::bad_request(format!("Unrecognized attribute(s) '{key}'"))
                });
            }
        }
        Ok(Attrs { map })
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// An attribute that may be absent but not `null`.
    pub(crate) fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, NeutronError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(value) => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(|e| invalid_value(key, value, &e.to_string())),
        }
    }

    /// An attribute where `null` means something: absent → `None`,
    /// `null` → `Some(None)`.
    pub(crate) fn nullable<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Option<T>>, NeutronError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(value) => serde_json::from_value(value.clone())
                .map(|v| Some(Some(v)))
                .map_err(|e| invalid_value(key, value, &e.to_string())),
        }
    }

    /// A string attribute; `null` reads as empty.
    pub(crate) fn text(&self, key: &str) -> Result<Option<String>, NeutronError> {
        Ok(self.nullable::<String>(key)?.map(Option::unwrap_or_default))
    }

    /// A boolean, accepting Neutron's spellings ("True", "false", 1).
    pub(crate) fn flag(&self, key: &str) -> Result<Option<bool>, NeutronError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(value @ Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(invalid_value(key, value, "not a boolean")),
            },
            Some(value @ Value::Number(n)) => match n.as_u64() {
                Some(1) => Ok(Some(true)),
                Some(0) => Ok(Some(false)),
                _ => Err(invalid_value(key, value, "not a boolean")),
            },
            Some(value) => Err(invalid_value(key, value, "not a boolean")),
        }
    }

    /// An integer, also as a string of one (`"4"`), as Neutron converts.
    pub(crate) fn integer(&self, key: &str) -> Result<Option<i64>, NeutronError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .map(Some)
            .ok_or_else(|| invalid_value(key, value, "not an integer")),
        }
    }

    /// The project a create names, if any (`project_id` or `tenant_id`).
    pub(crate) fn project(&self) -> Result<Option<String>, NeutronError> {
        let project = self.text("project_id")?.filter(|p| !p.is_empty());
        let tenant = self.text("tenant_id")?.filter(|p| !p.is_empty());
        match (project, tenant) {
            (Some(p), Some(t)) if p != t => Err(NeutronError::invalid(
                "project_id and tenant_id do not match",
            )),
            (p, t) => Ok(p.or(t)),
        }
    }
}

fn invalid_value(key: &str, value: &Value, why: &str) -> NeutronError {
    NeutronError::invalid(format!("'{value}' is not a valid value for {key} ({why})"))
}

/// Splits a create body into its items: `{"network": {…}}` is one,
/// `{"networks": [{…}, …]}` is a bulk create. Returns whether it was bulk.
pub(crate) fn create_items(
    body: Value,
    resource: Resource,
) -> Result<(Vec<Value>, bool), NeutronError> {
    let Value::Object(mut map) = body else {
        return Err(NeutronError::bad_request(
            "The request body must be a JSON object",
        ));
    };
    if let Some(one) = map.remove(resource.singular()) {
        return Ok((vec![one], false));
    }
    match map.remove(resource.plural()) {
        // An item may itself be wrapped (`{"security_groups":
        // [{"security_group": {…}}]}`), as Neutron accepts.
        Some(Value::Array(items)) if !items.is_empty() => Ok((
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(mut one)
                        if one.len() == 1 && one.contains_key(resource.singular()) =>
                    {
                        one.remove(resource.singular()).unwrap_or(Value::Null)
                    }
                    other => other,
                })
                .collect(),
            true,
        )),
        Some(_) => Err(NeutronError::bad_request(format!(
            "Resources required: '{}' must be a non-empty list",
            resource.plural()
        ))),
        None => Err(NeutronError::bad_request(format!(
            "Unable to find '{}' in request body",
            resource.singular()
        ))),
    }
}

/// The one object of an update body: `{"network": {…}}`.
pub(crate) fn update_item(body: Value, resource: Resource) -> Result<Value, NeutronError> {
    match body {
        Value::Object(mut map) => map.remove(resource.singular()).ok_or_else(|| {
            NeutronError::bad_request(format!(
                "Unable to find '{}' in request body",
                resource.singular()
            ))
        }),
        _ => Err(NeutronError::bad_request(
            "The request body must be a JSON object",
        )),
    }
}
