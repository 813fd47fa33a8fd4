//! The network configuration on stdin, and the versions we speak.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};
use weft_api::cni::code;

use crate::CniError;

/// The versions whose configuration and results we understand, oldest
/// first. 0.3.x/0.4.0 for runtimes of the Kubernetes 1.20 era (containerd
/// 1.6 sends what the conflist says).
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// The plugin's `type`.
pub const PLUGIN_TYPE: &str = "weft-cni";

/// Where the agent listens unless `agentSocket` says otherwise.
pub const DEFAULT_SOCKET: &str = weft_api::cni::DEFAULT_CNI_SOCKET;

/// Where DELs wait while the agent is away unless `spoolDir` says otherwise
/// (the default spool of an agent whose state is in `/var/lib/weft/agent`).
pub const DEFAULT_SPOOL: &str = "/var/lib/weft/agent/cni-spool";

/// A spec version, comparable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u16, pub u16, pub u16);

impl Version {
    pub const V0_4_0: Version = Version(0, 4, 0);
    pub const V1_0_0: Version = Version(1, 0, 0);
    pub const V1_1_0: Version = Version(1, 1, 0);

    /// Parses a version we support; otherwise an "incompatible version" error.
    pub fn supported(text: &str) -> Result<Version, CniError> {
        if !SUPPORTED_VERSIONS.contains(&text) {
            return Err(CniError::new(
                code::INCOMPATIBLE_VERSION,
                format!(
                    "cniVersion {text} is not supported (supported: {})",
                    SUPPORTED_VERSIONS.join(", ")
                ),
            ));
        }
        let mut parts = text.split('.').map(|p| p.parse::<u16>().unwrap_or(0));
        Ok(Version(
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        ))
    }
}

/// Our network configuration (one plugin of the conflist, as the runtime
/// hands it over).
#[derive(Clone, Debug, PartialEq)]
pub struct NetConf {
    pub cni_version: String,
    pub version: Version,
    pub name: String,
    /// `agentSocket`: the agent's unix socket.
    pub agent_socket: PathBuf,
    /// `spoolDir`: where DELs wait while the agent is away.
    pub spool_dir: PathBuf,
    /// `cluster`: the Kubernetes cluster's name in weft.
    pub cluster: Option<String>,
    /// `mtu`: pods' MTU, if not the agent's.
    pub mtu: Option<u32>,
    /// `timeoutSeconds`: how long to wait for the agent.
    pub timeout: Duration,
    /// `prevResult`, for CHECK and DEL.
    pub prev_result: Option<Value>,
    /// GC's `cni.dev/valid-attachments`.
    pub valid_attachments: Vec<(String, String)>,
}

fn invalid(msg: String) -> CniError {
    CniError::new(code::INVALID_CONFIG, msg)
}

fn string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, CniError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(format!("{key} must be a string, not {other}"))),
    }
}

impl NetConf {
    /// Parses stdin. Not JSON: "failed to decode" (6); a field of the wrong
    /// kind or missing: "invalid configuration" (7); an unknown version:
    /// "incompatible version" (1).
    pub fn parse(stdin: &[u8]) -> Result<NetConf, CniError> {
        let value: Value = serde_json::from_slice(stdin).map_err(|e| {
            CniError::new(
                code::DECODE_FAILURE,
                format!("the network configuration on stdin is not JSON: {e}"),
            )
        })?;
        let Value::Object(obj) = value else {
            return Err(CniError::new(
                code::DECODE_FAILURE,
                "the network configuration on stdin is not a JSON object",
            ));
        };
        let cni_version =
            string(&obj, "cniVersion")?.ok_or_else(|| invalid("cniVersion is missing".into()))?;
        let version = Version::supported(&cni_version)?;
        let name = string(&obj, "name")?.ok_or_else(|| invalid("name is missing".into()))?;
        if let Some(kind) = string(&obj, "type")?
            && kind != PLUGIN_TYPE
        {
            return Err(invalid(format!(
                "type is '{kind}', this plugin is '{PLUGIN_TYPE}'"
            )));
        }
        let path = |key: &str, default: &str| -> Result<PathBuf, CniError> {
            Ok(PathBuf::from(
                string(&obj, key)?.unwrap_or_else(|| default.to_owned()),
            ))
        };
        let number = |key: &str| -> Result<Option<u64>, CniError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| invalid(format!("{key} must be a positive integer, not {v}"))),
            }
        };
        let mtu = number("mtu")?
            .map(|m| {
                u32::try_from(m)
                    .ok()
                    .filter(|m| (576..=65535).contains(m))
                    .ok_or_else(|| invalid(format!("mtu {m} is outside 576..65535")))
            })
            .transpose()?;
        let timeout = Duration::from_secs(number("timeoutSeconds")?.unwrap_or(60).max(1));
        let mut valid_attachments = Vec::new();
        if let Some(list) = obj.get("cni.dev/valid-attachments") {
            let Value::Array(items) = list else {
                return Err(invalid("cni.dev/valid-attachments must be a list".into()));
            };
            for (i, item) in items.iter().enumerate() {
                let cid = item.get("containerID").and_then(Value::as_str);
                let ifname = item.get("ifname").and_then(Value::as_str);
                match (cid, ifname) {
                    (Some(c), Some(i)) => valid_attachments.push((c.to_owned(), i.to_owned())),
                    _ => {
                        return Err(invalid(format!(
                            "cni.dev/valid-attachments[{i}] needs containerID and ifname"
                        )));
                    }
                }
            }
        }
        Ok(NetConf {
            cni_version,
            version,
            name,
            agent_socket: path("agentSocket", DEFAULT_SOCKET)?,
            spool_dir: path("spoolDir", DEFAULT_SPOOL)?,
            cluster: string(&obj, "cluster")?,
            mtu,
            timeout,
            prev_result: obj.get("prevResult").cloned().filter(|v| !v.is_null()),
            valid_attachments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_fields_are_checked() {
        let ok = NetConf::parse(
            br#"{"cniVersion":"0.3.1","name":"weft","type":"weft-cni","agentSocket":"/x.sock","mtu":1400}"#,
        )
        .expect("config");
        assert_eq!(ok.version, Version(0, 3, 1));
        assert_eq!(ok.agent_socket, PathBuf::from("/x.sock"));
        assert_eq!(ok.mtu, Some(1400));
        for (input, code, needle) in [
            (&b"{"[..], code::DECODE_FAILURE, "not JSON"),
            (br#"[1]"#, code::DECODE_FAILURE, "object"),
            (br#"{"name":"w"}"#, code::INVALID_CONFIG, "cniVersion"),
            (
                br#"{"cniVersion":"9.9.9","name":"w"}"#,
                code::INCOMPATIBLE_VERSION,
                "9.9.9",
            ),
            (br#"{"cniVersion":"1.0.0"}"#, code::INVALID_CONFIG, "name"),
            (
                br#"{"cniVersion":"1.0.0","name":"w","mtu":"x"}"#,
                code::INVALID_CONFIG,
                "mtu",
            ),
            (
                br#"{"cniVersion":"1.0.0","name":"w","type":"bridge"}"#,
                code::INVALID_CONFIG,
                "bridge",
            ),
        ] {
            let e = NetConf::parse(input).unwrap_err();
            assert_eq!(e.code, code, "{}", e.msg);
            assert!(e.msg.contains(needle), "{}", e.msg);
        }
    }
}
