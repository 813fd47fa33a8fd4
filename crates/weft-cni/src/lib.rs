//! `weft-cni`: the CNI plugin (spec 1.0/1.1, with 0.3.x/0.4.0 results for
//! older runtimes) that container runtimes exec on a weft node.
//!
//! It is thin: it reads the `CNI_*` environment ([`env`]) and the network
//! configuration on stdin ([`config`]), asks the local `weft agent` over
//! its unix socket ([`agent`], contract in [`weft_api::cni`]) and prints
//! the result in the shape the configuration's `cniVersion` wants
//! ([`result`]). The agent does the work: it gets the pod's port from the
//! server, makes the veth, and later deletes the port.
//!
//! * ADD / CHECK need the agent; without it they fail with "try again
//!   later" (11).
//! * DEL always succeeds: if the agent cannot take it now, the DEL is
//!   written to `spoolDir` and the agent finishes it when it is back.
//! * VERSION answers alone; STATUS reports whether the agent can serve ADD
//!   (50 when not); GC hands the runtime's valid attachments to the agent.
//!
//! Installing: the binary goes into the runtime's CNI bin dir (containerd:
//! `bin_dir`, `--cni-bin-dir`) as `weft-cni`, and `weft-cni.conflist` (next
//! to this crate's `Cargo.toml`) into its conf dir; `agentSocket` must be
//! the agent's `--cni-socket` and `spoolDir` its `--cni-spool` (default
//! `STATE_DIR/cni-spool`).
//!
//! Errors are printed as the spec's error object (`code`, `msg`,
//! `details`) on stdout with exit status 1. The configuration keys are
//! those of `weft-cni.conflist`: `agentSocket`, `spoolDir`, `cluster`,
//! `mtu`, `timeoutSeconds`.

pub mod agent;
pub mod config;
pub mod env;
pub mod result;

use serde_json::{Value, json};
use weft_api::cni::{CniAdd, CniReply, CniRequest, CniTarget, code};

use crate::config::{NetConf, SUPPORTED_VERSIONS, Version};
use crate::env::{Command, Env};

/// A CNI error: its code and message (spec "Error").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("CNI error {code}: {msg}")]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    fn with_details(mut self, details: impl Into<String>) -> CniError {
        self.details = details.into();
        self
    }
}

/// What the process prints and exits with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub exit: u8,
}

/// The newest version we speak, used when the input names none we can use.
const LATEST: &str = "1.1.0";

fn error_outcome(cni_version: &str, e: &CniError) -> Outcome {
    let mut body = json!({ "cniVersion": cni_version, "code": e.code, "msg": e.msg });
    if !e.details.is_empty() {
        body["details"] = json!(e.details);
    }
    Outcome {
        stdout: format!("{body}\n"),
        exit: 1,
    }
}

fn success(body: Option<Value>) -> Outcome {
    Outcome {
        stdout: body.map(|b| format!("{b}\n")).unwrap_or_default(),
        exit: 0,
    }
}

/// Runs one invocation: `var` reads the environment, `stdin` is the
/// network configuration.
pub fn run(var: impl Fn(&str) -> Option<String>, stdin: &[u8]) -> Outcome {
    // The version errors are reported in: the configuration's when it
    // names one we speak.
    let reported = serde_json::from_slice::<Value>(stdin)
        .ok()
        .and_then(|v| v.get("cniVersion")?.as_str().map(str::to_owned))
        .filter(|v| SUPPORTED_VERSIONS.contains(&v.as_str()))
        .unwrap_or_else(|| LATEST.to_owned());
    let env = match Env::read(&var) {
        Ok(env) => env,
        Err(e) => return error_outcome(&reported, &e),
    };
    if env.command == Command::Version {
        return success(Some(json!({
            "cniVersion": reported,
            "supportedVersions": SUPPORTED_VERSIONS,
        })));
    }
    let conf = match NetConf::parse(stdin) {
        Ok(conf) => conf,
        Err(e) => return error_outcome(&reported, &e),
    };
    match dispatch(&env, &conf) {
        Ok(out) => success(out),
        Err(e) => error_outcome(&conf.cni_version, &e),
    }
}

fn target(env: &Env) -> CniTarget {
    CniTarget {
        container_id: env.container_id.clone(),
        ifname: env.ifname.clone(),
        netns: env.netns.clone(),
        pod: env.pod(),
    }
}

fn agent_error(e: &agent::AgentError) -> CniError {
    let mut details = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if !details.is_empty() {
            details.push_str(": ");
        }
        details.push_str(&s.to_string());
        source = s.source();
    }
    CniError::new(code::TRY_AGAIN_LATER, e.to_string()).with_details(details)
}

fn reply_error(reply: CniReply) -> CniError {
    match reply {
        CniReply::Error { code, msg, details } => CniError::new(code, msg).with_details(details),
        other => CniError::new(
            code::IO_FAILURE,
            format!("the weft agent answered {other:?} where a result was expected"),
        ),
    }
}

fn dispatch(env: &Env, conf: &NetConf) -> Result<Option<Value>, CniError> {
    let ask = |request: &CniRequest| agent::ask(&conf.agent_socket, request, conf.timeout);
    match env.command {
        Command::Version => Ok(None),
        Command::Add => {
            let request = CniRequest::Add(CniAdd {
                target: target(env),
                cluster: conf.cluster.clone(),
                mtu: conf.mtu,
            });
            match ask(&request).map_err(|e| agent_error(&e))? {
                CniReply::Attached(a) => {
                    Ok(Some(result::render(&a, &conf.cni_version, conf.version)))
                }
                other => Err(reply_error(other)),
            }
        }
        Command::Check => {
            if conf.version < Version::V0_4_0 {
                return Err(CniError::new(
                    code::INCOMPATIBLE_VERSION,
                    format!(
                        "CHECK needs cniVersion 0.4.0 or later, the configuration has {}",
                        conf.cni_version
                    ),
                ));
            }
            let prev = conf.prev_result.as_ref().ok_or_else(|| {
                CniError::new(
                    code::INVALID_CONFIG,
                    "CHECK needs prevResult in the configuration",
                )
            })?;
            match ask(&CniRequest::Check(target(env))).map_err(|e| agent_error(&e))? {
                CniReply::Attached(a) => {
                    let now = result::render(&a, &conf.cni_version, conf.version);
                    let (want, have) = (result::addresses(prev), result::addresses(&now));
                    if want != have {
                        return Err(CniError::new(
                            code::PLUMBING_FAILED,
                            format!(
                                "prevResult has addresses {want:?}, the container has {have:?}"
                            ),
                        ));
                    }
                    Ok(None)
                }
                other => Err(reply_error(other)),
            }
        }
        Command::Del => {
            let target = target(env);
            let spool = |why: String| -> Result<Option<Value>, CniError> {
                agent::spool(&conf.spool_dir, &target).map_err(|e| {
                    CniError::new(
                        code::IO_FAILURE,
                        format!(
                            "{why}, and the DEL cannot be spooled in {}",
                            conf.spool_dir.display()
                        ),
                    )
                    .with_details(e.to_string())
                })?;
                Ok(None)
            };
            match ask(&CniRequest::Del(target.clone())) {
                Ok(CniReply::Done) => Ok(None),
                // Bad input is the caller's to fix, not ours to retry.
                Ok(CniReply::Error { code, msg, details }) if code == code::INVALID_ENVIRONMENT => {
                    Err(CniError::new(code, msg).with_details(details))
                }
                Ok(other) => spool(format!("the weft agent could not finish DEL ({other:?})")),
                Err(e) => spool(e.to_string()),
            }
        }
        Command::Status => match ask(&CniRequest::Status) {
            Ok(CniReply::Done) => Ok(None),
            Ok(other) => Err(reply_error(other)),
            Err(e) => Err(CniError::new(code::NOT_AVAILABLE, e.to_string())),
        },
        Command::Gc => {
            let request = CniRequest::Gc {
                valid: conf.valid_attachments.clone(),
            };
            match ask(&request).map_err(|e| agent_error(&e))? {
                CniReply::Done => Ok(None),
                other => Err(reply_error(other)),
            }
        }
    }
}
