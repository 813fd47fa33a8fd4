//! Lab inventories: which hosts the lab has, their roles and underlay
//! addresses, and deployment-wide settings.
//!
//! Two formats are read:
//!
//! * TF's ansible-deployer `instances.yaml` (top-level `instances:`), for
//!   what the seed's inventory uses: roles `config`, `config_database`,
//!   `control`, `webui`, `analytics*` (all served by `weft server`),
//!   `openstack*`, `openstack_compute`, `vrouter`, `k8s_master`,
//!   `kubemanager`, `k8s_node`, and `contrail_configuration` keys such as
//!   `ENCAP_PRIORITY`, `BGP_ASN`, `VROUTER_GATEWAY`, `CONTROL_NODES`,
//!   `KUBERNETES_API_SERVER`.
//! * weft's own (top-level `hosts:`):
//!
//!   ```yaml
//!   underlay: 192.168.200.0/24
//!   encapsulation: [MPLSoUDP, MPLSoGRE, VXLAN]
//!   asn: 64512
//!   hosts:
//!     cnt-control: {address: 192.168.200.10, roles: [control]}
//!     os-compute:  {address: 192.168.200.13, roles: [vrouter, openstack-compute]}
//!   ```
//!
//! Nothing is dropped silently: every key that is not used is reported
//! as a [`Note`], either because it has no meaning in a weft lab (with
//! the reason) or because it is unknown. Addresses in an inventory are
//! used only inside the lab's namespaces.
//!
//! In a TF inventory `ip` is a host's management address; the lab's
//! underlay is the data network the `contrail_configuration` addresses
//! name (the /24 of `VROUTER_GATEWAY`, else of `CONTROL_NODES`). A host
//! whose `ip` lies on it keeps that address; the control host takes
//! `CONTROL_NODES`, the Kubernetes master `KUBERNETES_API_SERVER`; any
//! other host takes, in file order, the lowest free address above the
//! control host's. For the seed's inventory that gives exactly the
//! addresses of DESIGN.md §2.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize as DeriveDeserialize, Serialize};

use crate::LabError;
use crate::topology::{Role, Topology};

/// The encapsulations weft knows, in TF's spelling.
const ENCAPSULATIONS: [&str; 3] = ["MPLSoUDP", "MPLSoGRE", "VXLAN"];

/// Settings that apply to the whole lab deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, DeriveDeserialize)]
pub struct Settings {
    /// The global encapsulation priority, if the inventory sets one.
    pub encapsulation: Option<Vec<String>>,
    /// The deployment's AS number, if the inventory sets one.
    pub asn: Option<u32>,
    /// The Kubernetes cluster's name (projects are `<cluster>-<namespace>`).
    pub cluster_name: Option<String>,
}

/// A key of the inventory that the lab does not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Where it is, e.g. `contrail_configuration.JVM_EXTRA_OPTS`.
    pub key: String,
    /// Why it is not used; `None` when the key is unknown.
    pub ignored_because: Option<&'static str>,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ignored_because {
            Some(why) => write!(f, "{}: not used ({why})", self.key),
            None => write!(f, "{}: unknown key, not used", self.key),
        }
    }
}

/// Which format an inventory was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TF's ansible-deployer `instances.yaml`.
    TfInstances,
    /// weft's own.
    Weft,
}

/// A parsed inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub format: Format,
    pub topology: Topology,
    pub settings: Settings,
    /// Keys not used, in file order.
    pub notes: Vec<Note>,
}

impl Inventory {
    /// Reads an inventory in either format; namespaces get `prefix`.
    pub fn parse(text: &str, prefix: &str) -> Result<Inventory, LabError> {
        let doc: Yaml = serde_saphyr::from_str(text)
            .map_err(|e| LabError::Topology(format!("inventory: not YAML: {e}")))?;
        let Yaml::Map(top) = doc else {
            return Err(bad("", "the inventory is not a mapping"));
        };
        let mut parser = Parser { notes: Vec::new() };
        let (format, topology, settings) = if get(&top, "instances").is_some() {
            let (t, s) = parser.tf(&top, prefix)?;
            (Format::TfInstances, t, s)
        } else if get(&top, "hosts").is_some() {
            let (t, s) = parser.weft(&top, prefix)?;
            (Format::Weft, t, s)
        } else {
            return Err(bad(
                "",
                "neither `instances:` (TF's instances.yaml) nor `hosts:` (weft's format) is there",
            ));
        };
        topology.validate()?;
        Ok(Inventory {
            format,
            topology,
            settings,
            notes: parser.notes,
        })
    }
}

/// What a lab was built from, kept in its state directory so that later
/// commands (`scenario`, `status`, `exec`, `down`) see the same lab.
#[derive(Debug, Clone, PartialEq, Serialize, DeriveDeserialize)]
pub struct Plan {
    pub topology: Topology,
    pub settings: Settings,
}

impl Plan {
    /// The file in the lab's state directory.
    pub const FILE: &'static str = "lab.json";

    /// Writes the plan into `dir` (whole or not at all).
    pub fn save(&self, dir: &Path) -> Result<(), LabError> {
        let path = dir.join(Plan::FILE);
        let io = |source| LabError::Io {
            what: format!("write {}", path.display()),
            source,
        };
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| LabError::Topology(format!("encode the lab plan: {e}")))?;
        let tmp = dir.join(format!("{}.tmp", Plan::FILE));
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// The plan saved in `dir`, if any. The topology is rebuilt host by
    /// host, so a hand-edited file gets the same checks as an inventory.
    pub fn load(dir: &Path) -> Result<Option<Plan>, LabError> {
        let path = dir.join(Plan::FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LabError::Io {
                    what: format!("read {}", path.display()),
                    source,
                });
            }
        };
        let plan: Plan = serde_json::from_str(&text)
            .map_err(|e| LabError::Topology(format!("{}: {e}", path.display())))?;
        let mut topology = Topology::new(plan.topology.prefix(), plan.topology.underlay())?;
        for host in plan.topology.hosts() {
            let roles: Vec<Role> = host.roles.iter().copied().collect();
            topology = topology.with_host(&host.name, &roles, host.underlay_ip)?;
        }
        topology.validate()?;
        Ok(Some(Plan {
            topology,
            settings: plan.settings,
        }))
    }
}

fn bad(key: &str, why: impl fmt::Display) -> LabError {
    if key.is_empty() {
        LabError::Topology(format!("inventory: {why}"))
    } else {
        LabError::Topology(format!("inventory: {key}: {why}"))
    }
}

fn get<'a>(map: &'a [(String, Yaml)], key: &str) -> Option<&'a Yaml> {
    map.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// TF's roles, what the lab makes of them, and why some change nothing.
fn tf_role(name: &str) -> Option<(Option<Role>, Option<&'static str>)> {
    const SERVER: &str = "served by weft server on the control host";
    Some(match name {
        "config" | "control" => (Some(Role::Control), None),
        "config_database" => (Some(Role::Control), Some("weft server embeds its store")),
        "webui" => (Some(Role::Control), Some(SERVER)),
        "analytics" | "analytics_database" | "analytics_alarm" | "analytics_snmp" => {
            (Some(Role::Control), Some(SERVER))
        }
        "openstack" | "openstack_control" => (Some(Role::Openstack), None),
        "openstack_network" => (
            Some(Role::Openstack),
            Some("weft server serves the Neutron API itself"),
        ),
        "openstack_storage" | "openstack_monitoring" => {
            (None, Some("the lab runs only Keystone of OpenStack"))
        }
        "openstack_compute" => (Some(Role::OpenstackCompute), None),
        "vrouter" => (Some(Role::Vrouter), None),
        "k8s_master" => (Some(Role::KubernetesMaster), None),
        "kubemanager" => (
            None,
            Some("weft's kube-manager runs inside weft server on the control host"),
        ),
        "k8s_node" => (Some(Role::KubernetesNode), None),
        _ => return None,
    })
}

/// `contrail_configuration` keys that have no meaning in a weft lab.
fn tf_ignored_setting(key: &str) -> Option<&'static str> {
    Some(match key {
        "CLOUD_ORCHESTRATOR" => "the lab runs both orchestrators' sides",
        "CONTRAIL_VERSION" | "CONTRAIL_CONTAINER_TAG" | "OPENSTACK_VERSION" => {
            "versions of TF's containers; weft runs no containers"
        }
        "CONTROLLER_NODES" | "KUBERNETES_API_NODES" => {
            "a management address; the lab uses the underlay"
        }
        "KUBEMANAGER_NODES" => "weft's kube-manager runs inside weft server",
        "RABBITMQ_NODE_PORT" => "weft has no RabbitMQ",
        "JVM_EXTRA_OPTS" => "weft runs no JVM",
        "KEYSTONE_AUTH_URL_VERSION" => "weft speaks Keystone v3 only",
        "PHYSICAL_INTERFACE" => "the lab's underlay interface is each host's eth0",
        "KUBERNETES_CLUSTER_PROJECT" => "namespaces map to projects <cluster>-<namespace>",
        "AUTH_MODE" | "AAA_MODE" => "the lab's server runs with its own token",
        _ if key.contains("_NODEMGR__") => "weft has no node managers",
        _ => return None,
    })
}

struct Parser {
    notes: Vec<Note>,
}

impl Parser {
    fn ignore(&mut self, key: String, why: &'static str) {
        self.notes.push(Note {
            key,
            ignored_because: Some(why),
        });
    }

    fn unknown(&mut self, key: String) {
        self.notes.push(Note {
            key,
            ignored_because: None,
        });
    }

    fn tf(
        &mut self,
        top: &[(String, Yaml)],
        prefix: &str,
    ) -> Result<(Topology, Settings), LabError> {
        let mut settings = Settings::default();
        let mut gateway = None;
        let mut control_addr = None;
        let mut kube_api = None;
        let empty = Vec::new();
        let config = match get(top, "contrail_configuration") {
            Some(Yaml::Map(m)) => m,
            Some(Yaml::Null) | None => &empty,
            Some(_) => return Err(bad("contrail_configuration", "not a mapping")),
        };
        for (key, value) in config {
            let path = format!("contrail_configuration.{key}");
            match key.as_str() {
                "ENCAP_PRIORITY" => settings.encapsulation = Some(encapsulations(&path, value)?),
                "BGP_ASN" => settings.asn = Some(asn(&path, value)?),
                "VROUTER_GATEWAY" => gateway = Some(address(&path, value)?),
                "CONTROL_NODES" => control_addr = Some(single_address(&path, value)?),
                "KUBERNETES_API_SERVER" => kube_api = Some(address(&path, value)?),
                "KUBERNETES_CLUSTER_NAME" => {
                    settings.cluster_name = Some(name(&path, value)?);
                }
                _ => match tf_ignored_setting(key) {
                    Some(why) => self.ignore(path, why),
                    None => self.unknown(path),
                },
            }
        }
        for (key, _) in top {
            match key.as_str() {
                "instances" | "contrail_configuration" => {}
                "global_configuration" => {
                    self.ignore(
                        key.clone(),
                        "container registry settings; weft runs no containers",
                    );
                }
                "provider_config" => self.ignore(
                    key.clone(),
                    "the lab's hosts are network namespaces, not provisioned machines",
                ),
                "kolla_config" => self.ignore(
                    key.clone(),
                    "weft serves the Neutron API itself; the lab's Keystone is its own",
                ),
                "orchestrator_configuration" => {
                    self.ignore(key.clone(), "the lab runs both orchestrators' sides");
                }
                _ => self.unknown(key.clone()),
            }
        }

        let Some(Yaml::Map(instances)) = get(top, "instances") else {
            return Err(bad("instances", "not a mapping of hosts"));
        };
        // (name, roles, management address)
        let mut found: Vec<(String, BTreeSet<Role>, Option<Ipv4Addr>)> = Vec::new();
        for (host, body) in instances {
            let at = format!("instances.{host}");
            let Yaml::Map(fields) = body else {
                return Err(bad(&at, "not a mapping"));
            };
            let mut roles = BTreeSet::new();
            let mut ip = None;
            for (field, value) in fields {
                let path = format!("{at}.{field}");
                match field.as_str() {
                    "ip" => ip = Some(address(&path, value)?),
                    "provider" => self.ignore(path, "the lab's hosts are network namespaces"),
                    "roles" => {
                        let list = match value {
                            Yaml::Map(m) => m.clone(),
                            Yaml::Null => Vec::new(),
                            _ => return Err(bad(&path, "not a mapping of roles")),
                        };
                        for (role, params) in &list {
                            let rpath = format!("{path}.{role}");
                            match tf_role(role) {
                                Some((made, why)) => {
                                    roles.extend(made);
                                    if let Some(why) = why {
                                        self.ignore(rpath.clone(), why);
                                    }
                                }
                                None => self.unknown(rpath.clone()),
                            }
                            self.role_params(&rpath, role, params, &mut gateway)?;
                        }
                    }
                    _ => self.unknown(path),
                }
            }
            if roles.is_empty() {
                return Err(bad(&at, "no role the lab can play"));
            }
            found.push((host.clone(), roles, ip));
        }

        // The data network: the gateway's /24, else the control node's.
        let anchor = gateway.or(control_addr).ok_or_else(|| {
            bad(
                "contrail_configuration",
                "neither VROUTER_GATEWAY nor CONTROL_NODES gives the data network",
            )
        })?;
        let underlay = Ipv4Net::new(anchor, 24)
            .map_err(|e| bad("contrail_configuration", e))?
            .trunc();
        // (name, roles, underlay address when known)
        let hosts: Vec<(String, BTreeSet<Role>, Option<Ipv4Addr>)> = found
            .into_iter()
            .map(|(name, roles, ip)| {
                let addr = ip.filter(|ip| underlay.contains(ip)).or_else(|| {
                    if roles.contains(&Role::Control) {
                        control_addr
                    } else if roles.contains(&Role::KubernetesMaster) {
                        kube_api
                    } else {
                        None
                    }
                });
                (name, roles, addr)
            })
            .collect();

        let mut topology = Topology::new(prefix, underlay)?;
        let mut taken: BTreeSet<Ipv4Addr> = hosts.iter().filter_map(|h| h.2).collect();
        if let Some(gw) = gateway
            && !hosts.iter().any(|h| h.1.contains(&Role::Gateway))
            && !taken.contains(&gw)
        {
            topology = topology.with_host("sdn-gw", &[Role::Gateway], gw)?;
            taken.insert(gw);
        }
        let base = control_addr.unwrap_or(anchor);
        let mut next = u32::from(base);
        for (name, roles, addr) in hosts {
            let ip = match addr {
                Some(ip) => ip,
                None => loop {
                    next += 1;
                    let candidate = Ipv4Addr::from(next);
                    if !underlay.contains(&candidate) || candidate == underlay.broadcast() {
                        return Err(bad(
                            &format!("instances.{name}"),
                            format!("no free address left on {underlay}"),
                        ));
                    }
                    if taken.insert(candidate) {
                        break candidate;
                    }
                },
            };
            let roles: Vec<Role> = roles.into_iter().collect();
            topology = topology.with_host(&name, &roles, ip)?;
        }
        Ok((topology, settings))
    }

    /// Parameters under a TF role (`vrouter: {VROUTER_GATEWAY: …}`).
    fn role_params(
        &mut self,
        path: &str,
        role: &str,
        params: &Yaml,
        gateway: &mut Option<Ipv4Addr>,
    ) -> Result<(), LabError> {
        let entries = match params {
            Yaml::Null => return Ok(()),
            Yaml::Map(m) => m,
            _ => return Err(bad(path, "role parameters are not a mapping")),
        };
        for (key, value) in entries {
            let kpath = format!("{path}.{key}");
            match (role, key.as_str()) {
                ("vrouter", "VROUTER_GATEWAY") => {
                    let gw = address(&kpath, value)?;
                    match gateway {
                        Some(known) if *known != gw => {
                            return Err(bad(
                                &kpath,
                                format!("{gw} differs from the gateway {known} given before"),
                            ));
                        }
                        _ => *gateway = Some(gw),
                    }
                }
                ("vrouter", "PHYSICAL_INTERFACE") => {
                    self.ignore(kpath, "the lab's underlay interface is each host's eth0");
                }
                ("vrouter", "AGENT_MODE") => {
                    self.ignore(kpath, "weft's vRouter runs in user space");
                }
                _ => self.unknown(kpath),
            }
        }
        Ok(())
    }

    fn weft(
        &mut self,
        top: &[(String, Yaml)],
        prefix: &str,
    ) -> Result<(Topology, Settings), LabError> {
        let mut settings = Settings::default();
        let mut underlay = None;
        for (key, value) in top {
            match key.as_str() {
                "underlay" => {
                    let text = string(key, value)?;
                    let net: Ipv4Net = text
                        .parse()
                        .map_err(|e| bad(key, format!("{text:?} is not an IPv4 CIDR: {e}")))?;
                    if net != net.trunc() {
                        return Err(bad(key, format!("{net} has host bits set")));
                    }
                    underlay = Some(net);
                }
                "encapsulation" => settings.encapsulation = Some(encapsulations(key, value)?),
                "asn" => settings.asn = Some(asn(key, value)?),
                "cluster" => settings.cluster_name = Some(name(key, value)?),
                "hosts" => {}
                _ => self.unknown(key.clone()),
            }
        }
        let underlay =
            underlay.ok_or_else(|| bad("underlay", "missing (e.g. 192.168.200.0/24)"))?;
        let mut topology = Topology::new(prefix, underlay)?;
        let Some(Yaml::Map(hosts)) = get(top, "hosts") else {
            return Err(bad("hosts", "not a mapping of hosts"));
        };
        for (host, body) in hosts {
            let at = format!("hosts.{host}");
            let Yaml::Map(fields) = body else {
                return Err(bad(&at, "not a mapping"));
            };
            let mut addr = None;
            let mut roles = Vec::new();
            for (field, value) in fields {
                let path = format!("{at}.{field}");
                match field.as_str() {
                    "address" => addr = Some(address(&path, value)?),
                    "roles" => {
                        let Yaml::Seq(items) = value else {
                            return Err(bad(&path, "not a list of roles"));
                        };
                        for item in items {
                            let role = string(&path, item)?;
                            roles.push(Role::parse(&role).ok_or_else(|| {
                                let known: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                                bad(
                                    &path,
                                    format!("unknown role {role:?} (known: {})", known.join(", ")),
                                )
                            })?);
                        }
                    }
                    _ => self.unknown(path),
                }
            }
            let addr = addr.ok_or_else(|| bad(&at, "no address"))?;
            topology = topology.with_host(host, &roles, addr)?;
        }
        Ok((topology, settings))
    }
}

fn string(path: &str, value: &Yaml) -> Result<String, LabError> {
    match value {
        Yaml::Str(s) => Ok(s.clone()),
        Yaml::Int(i) => Ok(i.to_string()),
        other => Err(bad(path, format!("expected text, found {}", other.kind()))),
    }
}

fn name(path: &str, value: &Yaml) -> Result<String, LabError> {
    let text = string(path, value)?;
    let ok = !text.is_empty()
        && text.len() <= 63
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(bad(
            path,
            format!("{text:?}: use lower-case letters, digits and '-'"),
        ));
    }
    Ok(text)
}

fn address(path: &str, value: &Yaml) -> Result<Ipv4Addr, LabError> {
    let text = string(path, value)?;
    text.trim()
        .parse()
        .map_err(|_| bad(path, format!("{text:?} is not an IPv4 address")))
}

/// A one-address list (`CONTROL_NODES`): the lab runs one control node.
fn single_address(path: &str, value: &Yaml) -> Result<Ipv4Addr, LabError> {
    let text = string(path, value)?;
    let all: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    match all[..] {
        [one] => one
            .parse()
            .map_err(|_| bad(path, format!("{one:?} is not an IPv4 address"))),
        [] => Err(bad(path, "empty")),
        _ => Err(bad(
            path,
            format!("{text:?}: the lab runs one control node, not {}", all.len()),
        )),
    }
}

fn asn(path: &str, value: &Yaml) -> Result<u32, LabError> {
    let n = match value {
        Yaml::Int(n) => *n,
        Yaml::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| bad(path, format!("{s:?} is not an AS number")))?,
        other => {
            return Err(bad(
                path,
                format!("expected a number, found {}", other.kind()),
            ));
        }
    };
    u32::try_from(n)
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(|| bad(path, format!("{n} is not an AS number (1 to 4294967295)")))
}

/// `"VXLAN,MPLSoUDP"` or `[VXLAN, MPLSoUDP]`, each known, none twice.
fn encapsulations(path: &str, value: &Yaml) -> Result<Vec<String>, LabError> {
    let items: Vec<String> = match value {
        Yaml::Str(s) => s.split(',').map(|e| e.trim().to_owned()).collect(),
        Yaml::Seq(items) => items
            .iter()
            .map(|i| string(path, i))
            .collect::<Result<_, _>>()?,
        other => {
            return Err(bad(
                path,
                format!("expected a list of encapsulations, found {}", other.kind()),
            ));
        }
    };
    let mut seen = BTreeSet::new();
    for item in &items {
        if !ENCAPSULATIONS.contains(&item.as_str()) {
            return Err(bad(
                path,
                format!(
                    "unknown encapsulation {item:?} (known: {})",
                    ENCAPSULATIONS.join(", ")
                ),
            ));
        }
        if !seen.insert(item.as_str()) {
            return Err(bad(path, format!("{item} is listed twice")));
        }
    }
    if items.is_empty() {
        return Err(bad(path, "empty"));
    }
    Ok(items)
}

/// A YAML document with its mappings kept in file order (host order and
/// address assignment follow the file).
#[derive(Debug, Clone, PartialEq)]
enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    fn kind(&self) -> &'static str {
        match self {
            Yaml::Null => "nothing",
            Yaml::Bool(_) => "a boolean",
            Yaml::Int(_) | Yaml::Float(_) => "a number",
            Yaml::Str(_) => "text",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a mapping",
        }
    }

    /// A mapping key as text.
    fn into_key(self) -> Result<String, String> {
        match self {
            Yaml::Str(s) => Ok(s),
            Yaml::Int(i) => Ok(i.to_string()),
            Yaml::Bool(b) => Ok(b.to_string()),
            other => Err(format!("a mapping key is {}", other.kind())),
        }
    }
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Yaml, D::Error> {
        deserializer.deserialize_any(YamlVisitor)
    }
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }

    fn visit_none<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        Yaml::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Yaml, E> {
        Ok(Yaml::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Yaml, E> {
        i64::try_from(v)
            .map(Yaml::Int)
            .map_err(|_| E::custom(format!("{v} is too large")))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Yaml, E> {
        Ok(Yaml::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Yaml, E> {
        Ok(Yaml::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Yaml, E> {
        Ok(Yaml::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Yaml::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut entries: Vec<(String, Yaml)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<Yaml, Yaml>()? {
            let key = key.into_key().map_err(de::Error::custom)?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("key {key:?} appears twice")));
            }
            entries.push((key, value));
        }
        Ok(Yaml::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The seed's inventory (shared/seed/instances.yaml), as TF's deployer
    /// reads it.
    const SEED: &str = include_str!("../../../examples/instances.yaml");

    fn addr(t: &Topology, host: &str) -> String {
        t.host(host).unwrap().underlay_ip.to_string()
    }

    #[test]
    fn the_seed_inventory_gives_the_reference_topology() {
        let inv = Inventory::parse(SEED, "t-").unwrap();
        assert_eq!(inv.format, Format::TfInstances);
        let reference = Topology::reference("t-").unwrap();
        let mut got: Vec<_> = inv.topology.hosts().to_vec();
        let mut want: Vec<_> = reference.hosts().to_vec();
        got.sort_by_key(|h| h.underlay_ip);
        want.sort_by_key(|h| h.underlay_ip);
        assert_eq!(got, want);
        assert_eq!(inv.topology.underlay(), reference.underlay());
        assert_eq!(
            inv.settings.encapsulation.as_deref().unwrap(),
            ["VXLAN", "MPLSoUDP", "MPLSoGRE"]
        );
        assert_eq!(inv.settings.asn, Some(65100));
        let keys: Vec<&str> = inv.notes.iter().map(|n| n.key.as_str()).collect();
        for reported in [
            "global_configuration",
            "provider_config",
            "kolla_config",
            "contrail_configuration.JVM_EXTRA_OPTS",
            "contrail_configuration.RABBITMQ_NODE_PORT",
            "contrail_configuration.CONFIG_NODEMGR__DEFAULTS__minimum_diskGB",
            "instances.k8s-master.roles.kubemanager",
            "instances.cnt-control.provider",
        ] {
            assert!(
                keys.contains(&reported),
                "{reported} not reported in {keys:?}"
            );
        }
        // Everything reported is known: the seed has nothing unknown.
        assert!(inv.notes.iter().all(|n| n.ignored_because.is_some()));
    }

    #[test]
    fn unknown_keys_are_reported_not_dropped() {
        let text = SEED.replace(
            "  BGP_ASN: 65100\n",
            "  BGP_ASN: 65100\n  FANCY_FEATURE: on\n",
        );
        let inv = Inventory::parse(&text, "t-").unwrap();
        let unknown: Vec<String> = inv
            .notes
            .iter()
            .filter(|n| n.ignored_because.is_none())
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            unknown,
            ["contrail_configuration.FANCY_FEATURE: unknown key, not used"]
        );
        let text = SEED.replace("     k8s_node:\n", "     k8s_node:\n     gpu_node:\n");
        let inv = Inventory::parse(&text, "t-").unwrap();
        assert!(
            inv.notes
                .iter()
                .any(|n| n.key == "instances.k8s-worker.roles.gpu_node"
                    && n.ignored_because.is_none())
        );
    }

    #[test]
    fn weft_format() {
        let text = "
underlay: 10.9.0.0/24
encapsulation: [MPLSoGRE, VXLAN]
asn: 64600
cluster: lab
colour: blue
hosts:
  ctl: {address: 10.9.0.2, roles: [control]}
  n1:  {address: 10.9.0.3, roles: [vrouter, kubernetes-node], rack: 4}
";
        let inv = Inventory::parse(text, "w-").unwrap();
        assert_eq!(inv.format, Format::Weft);
        assert_eq!(addr(&inv.topology, "n1"), "10.9.0.3");
        assert_eq!(inv.topology.control().unwrap().name, "ctl");
        assert_eq!(
            inv.settings,
            Settings {
                encapsulation: Some(vec!["MPLSoGRE".into(), "VXLAN".into()]),
                asn: Some(64600),
                cluster_name: Some("lab".into()),
            }
        );
        let keys: Vec<&str> = inv.notes.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, ["colour", "hosts.n1.rack"]);
    }

    #[test]
    fn bad_inventories_name_what_is_wrong() {
        let refused = |text: &str, want: &str| match Inventory::parse(text, "b-") {
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(want), "{msg:?} lacks {want:?}");
            }
            Ok(inv) => panic!("accepted ({want}): {inv:?}"),
        };
        refused("[1, 2]", "not a mapping");
        refused("foo: 1", "neither `instances:`");
        refused("hosts: {}\n", "underlay: missing");
        refused(
            "underlay: 10.0.0.0/24\nhosts:\n  a: {address: 10.0.0.2, roles: [control, webui]}\n",
            "unknown role \"webui\"",
        );
        refused("underlay: 10.0.0.1/24\nhosts: {}\n", "host bits set");
        refused(
            "underlay: 10.0.0.0/24\nhosts:\n  a: {address: 10.0.0.2, roles: [control]}\n",
            "no host with role vrouter",
        );
        refused(
            "underlay: 10.0.0.0/24\nencapsulation: [MPLSoUDP, GENEVE]\nhosts: {}\n",
            "unknown encapsulation \"GENEVE\"",
        );
        refused(
            &SEED.replace(
                "ENCAP_PRIORITY: \"VXLAN,MPLSoUDP,MPLSoGRE\"",
                "ENCAP_PRIORITY: \"VXLAN,VXLAN\"",
            ),
            "listed twice",
        );
        refused(
            &SEED.replace("BGP_ASN: 65100", "BGP_ASN: lots"),
            "not an AS number",
        );
        refused(
            &SEED.replace(
                "CONTROL_NODES: 192.168.200.10",
                "CONTROL_NODES: 192.168.200.10,192.168.200.20",
            ),
            "one control node",
        );
        refused(
            &SEED.replace("ip: 10.102.240.171", "ip: 10.102.240"),
            "instances.os-compute.ip",
        );
        refused(
            "underlay: 10.0.0.0/24\nhosts:\n  a: {address: 10.0.0.2, roles: [control]}\n  a: {address: 10.0.0.3, roles: [vrouter]}\n",
            "duplicate mapping key: a",
        );
    }

    #[test]
    fn a_plan_survives_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Plan::load(dir.path()).unwrap(), None);
        let inv = Inventory::parse(SEED, "p-").unwrap();
        let plan = Plan {
            topology: inv.topology,
            settings: inv.settings,
        };
        plan.save(dir.path()).unwrap();
        assert_eq!(Plan::load(dir.path()).unwrap(), Some(plan));
        std::fs::write(dir.path().join(Plan::FILE), "{\"topology\": 1}").unwrap();
        assert!(Plan::load(dir.path()).is_err());
    }
}
