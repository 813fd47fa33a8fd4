//! The `CNI_*` environment a runtime sets (spec 1.0, "Parameters").

use std::collections::BTreeMap;

use weft_api::cni::{CniPod, code};

use crate::CniError;

/// The operation asked for (`CNI_COMMAND`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Version,
    Status,
    Gc,
}

impl Command {
    fn parse(text: &str) -> Option<Command> {
        Some(match text {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "VERSION" => Command::Version,
            "STATUS" => Command::Status,
            "GC" => Command::Gc,
            _ => return None,
        })
    }
}

/// The parameters of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Env {
    pub command: Command,
    pub container_id: String,
    pub netns: Option<String>,
    pub ifname: String,
    /// `CNI_ARGS` as key/value pairs.
    pub args: BTreeMap<String, String>,
}

fn missing(name: &str, command: &str) -> CniError {
    CniError::new(
        code::INVALID_ENVIRONMENT,
        format!("{name} must be set for {command}"),
    )
}

/// Whether `id` is a container id CNI allows: letters, digits, `_`, `.`, `-`,
/// starting with a letter or digit.
fn valid_container_id(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Whether `name` is a Linux interface name: 1–15 bytes, no `/`, `:` or
/// whitespace, not `.` or `..`.
fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

/// Parses `CNI_ARGS` (`K=V;K2=V2`).
fn parse_args(text: &str) -> Result<BTreeMap<String, String>, CniError> {
    let mut out = BTreeMap::new();
    for pair in text.split(';').filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(CniError::new(
                code::INVALID_ENVIRONMENT,
                format!("CNI_ARGS: '{pair}' is not KEY=VALUE"),
            ));
        };
        if key.is_empty() {
            return Err(CniError::new(
                code::INVALID_ENVIRONMENT,
                format!("CNI_ARGS: '{pair}' has an empty key"),
            ));
        }
        out.insert(key.to_owned(), value.to_owned());
    }
    Ok(out)
}

impl Env {
    /// Reads the parameters through `var` (the process environment, or a
    /// map in tests) and checks what `CNI_COMMAND` needs.
    pub fn read(var: impl Fn(&str) -> Option<String>) -> Result<Env, CniError> {
        let get = |name: &str| var(name).filter(|v| !v.is_empty());
        let text = get("CNI_COMMAND")
            .ok_or_else(|| CniError::new(code::INVALID_ENVIRONMENT, "CNI_COMMAND must be set"))?;
        let command = Command::parse(&text).ok_or_else(|| {
            CniError::new(
                code::INVALID_ENVIRONMENT,
                format!("CNI_COMMAND '{text}' is not one of ADD, DEL, CHECK, VERSION, STATUS, GC"),
            )
        })?;
        let mut env = Env {
            command,
            container_id: String::new(),
            netns: get("CNI_NETNS"),
            ifname: String::new(),
            args: parse_args(&get("CNI_ARGS").unwrap_or_default())?,
        };
        if matches!(command, Command::Add | Command::Del | Command::Check) {
            env.container_id =
                get("CNI_CONTAINERID").ok_or_else(|| missing("CNI_CONTAINERID", &text))?;
            if !valid_container_id(&env.container_id) {
                return Err(CniError::new(
                    code::INVALID_ENVIRONMENT,
                    format!(
                        "CNI_CONTAINERID '{}' must be letters, digits, '_', '.' or '-', starting with a letter or digit",
                        env.container_id
                    ),
                ));
            }
            env.ifname = get("CNI_IFNAME").ok_or_else(|| missing("CNI_IFNAME", &text))?;
            if !valid_ifname(&env.ifname) {
                return Err(CniError::new(
                    code::INVALID_ENVIRONMENT,
                    format!(
                        "CNI_IFNAME '{}' is not an interface name (1-15 characters, no '/', ':' or spaces)",
                        env.ifname
                    ),
                ));
            }
            get("CNI_PATH").ok_or_else(|| missing("CNI_PATH", &text))?;
        }
        if matches!(command, Command::Add | Command::Check) {
            let netns = env
                .netns
                .as_deref()
                .ok_or_else(|| missing("CNI_NETNS", &text))?;
            if !std::path::Path::new(netns).exists() {
                return Err(CniError::new(
                    code::INVALID_ENVIRONMENT,
                    format!("CNI_NETNS {netns} does not exist"),
                ));
            }
        }
        Ok(env)
    }

    /// The pod named by `K8S_POD_*` in `CNI_ARGS`, if all three are there.
    pub fn pod(&self) -> Option<CniPod> {
        let get = |k: &str| self.args.get(k).filter(|v| !v.is_empty()).cloned();
        Some(CniPod {
            namespace: get("K8S_POD_NAMESPACE")?,
            name: get("K8S_POD_NAME")?,
            uid: get("K8S_POD_UID")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<Env, CniError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::read(|k| map.get(k).cloned())
    }

    #[test]
    fn cni_args_are_split_into_pairs() {
        let e = env(&[
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", "/opt/cni/bin"),
            (
                "CNI_ARGS",
                "IgnoreUnknown=1;K8S_POD_NAMESPACE=web;K8S_POD_NAME=a;K8S_POD_UID=u",
            ),
        ])
        .expect("env");
        let pod = e.pod().expect("pod");
        assert_eq!(
            (pod.namespace.as_str(), pod.name.as_str(), pod.uid.as_str()),
            ("web", "a", "u")
        );
        let bad = env(&[("CNI_COMMAND", "VERSION"), ("CNI_ARGS", "novalue")]).unwrap_err();
        assert_eq!(bad.code, code::INVALID_ENVIRONMENT);
        assert!(bad.msg.contains("novalue"), "{}", bad.msg);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_container_id("0af-1.b_c"));
        assert!(!valid_container_id("-x"));
        assert!(!valid_container_id("a/b"));
        assert!(valid_ifname("eth0"));
        assert!(!valid_ifname("a-name-longer-than-15"));
        assert!(!valid_ifname("a/b"));
    }
}
