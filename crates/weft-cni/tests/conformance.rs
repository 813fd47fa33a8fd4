//! The plugin binary called as a runtime calls it: `CNI_*` variables, the
//! configuration on stdin, the exit status and stdout checked. The agent
//! behind the socket is a stand-in that records what it is asked and
//! answers what the test says (the real agent is in `tests/lab.rs`).

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use weft_api::cni::{
    CniAttachment, CniDns, CniInterface, CniIp, CniReply, CniRequest, CniRoute, CniTarget,
};

const UID: &str = "6f1f0d7e-9a43-4c55-9d0f-2a8c3b1e0a01";

/// A stand-in agent: answers every request with `reply`, keeps the requests.
struct FakeAgent {
    socket: PathBuf,
    seen: Arc<Mutex<Vec<CniRequest>>>,
    reply: Arc<Mutex<CniReply>>,
}

impl FakeAgent {
    fn start(dir: &Path) -> FakeAgent {
        let socket = dir.join("agent.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(Mutex::new(CniReply::Done));
        let (s, r) = (seen.clone(), reply.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut line = String::new();
                BufReader::new(&stream).read_line(&mut line).unwrap();
                s.lock().unwrap().push(serde_json::from_str(&line).unwrap());
                let answer = serde_json::to_string(&*r.lock().unwrap()).unwrap();
                let _ = writeln!(stream, "{answer}");
            }
        });
        FakeAgent {
            socket,
            seen,
            reply,
        }
    }

    fn answer(&self, reply: CniReply) {
        *self.reply.lock().unwrap() = reply;
    }

    fn requests(&self) -> Vec<CniRequest> {
        self.seen.lock().unwrap().clone()
    }
}

fn attachment(netns: &str) -> CniAttachment {
    CniAttachment {
        interfaces: vec![
            CniInterface {
                name: "veth6f1f0d7e-9a".into(),
                mac: String::new(),
                sandbox: None,
                mtu: Some(1450),
            },
            CniInterface {
                name: "eth0".into(),
                mac: "02:6f:1f:0d:7e:9a".into(),
                sandbox: Some(netns.into()),
                mtu: Some(1450),
            },
        ],
        ips: vec![CniIp {
            address: "10.32.0.3/24".into(),
            gateway: Some("10.32.0.1".into()),
            interface: 1,
        }],
        routes: vec![CniRoute {
            dst: "0.0.0.0/0".into(),
            gw: Some("10.32.0.1".into()),
        }],
        dns: CniDns::default(),
        port_id: UID.into(),
    }
}

struct World {
    dir: tempfile::TempDir,
    agent: FakeAgent,
    /// Stands for the container's namespace path (the plugin only checks
    /// that it exists; the agent opens it).
    netns: String,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let agent = FakeAgent::start(dir.path());
        let netns = dir.path().join("netns-c1");
        std::fs::write(&netns, b"").unwrap();
        World {
            netns: netns.display().to_string(),
            agent,
            dir,
        }
    }

    fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    fn config(&self, version: &str) -> Value {
        json!({
            "cniVersion": version,
            "name": "weft",
            "type": "weft-cni",
            "agentSocket": self.agent.socket,
            "spoolDir": self.spool(),
        })
    }

    fn env(&self, command: &str) -> Vec<(&'static str, String)> {
        vec![
            ("CNI_COMMAND", command.into()),
            ("CNI_CONTAINERID", "c1".into()),
            ("CNI_NETNS", self.netns.clone()),
            ("CNI_IFNAME", "eth0".into()),
            ("CNI_PATH", "/opt/cni/bin".into()),
            (
                "CNI_ARGS",
                format!(
                    "IgnoreUnknown=1;K8S_POD_NAMESPACE=web;K8S_POD_NAME=a;K8S_POD_UID={UID};K8S_POD_INFRA_CONTAINER_ID=c1"
                ),
            ),
        ]
    }
}

/// Runs the binary with exactly `env` and `stdin`.
fn plugin(env: &[(&str, String)], stdin: &[u8]) -> (i32, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft-cni"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text}"))
    };
    (out.status.code().unwrap(), value)
}

fn without(env: &[(&'static str, String)], name: &str) -> Vec<(&'static str, String)> {
    env.iter().filter(|(k, _)| *k != name).cloned().collect()
}

fn with(
    env: &[(&'static str, String)],
    name: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    let mut out = without(env, name);
    out.push((name, value.into()));
    out
}

/// Asserts a spec error object with `code` whose msg contains `needle`.
fn assert_error(got: &(i32, Value), code: u64, needle: &str) {
    let (exit, body) = got;
    assert_ne!(*exit, 0, "an error exits non-zero: {body}");
    assert_eq!(body["code"], code, "{body}");
    let msg = body["msg"].as_str().unwrap_or_default();
    assert!(msg.contains(needle), "msg {msg:?} should name {needle:?}");
    assert!(body["cniVersion"].is_string(), "{body}");
}

#[test]
fn version_lists_the_old_and_new_versions() {
    let w = World::new();
    let (exit, body) = plugin(
        &[("CNI_COMMAND", "VERSION".into())],
        br#"{"cniVersion":"0.4.0"}"#,
    );
    assert_eq!(exit, 0, "{body}");
    assert_eq!(body["cniVersion"], "0.4.0");
    let versions: Vec<&str> = body["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for v in ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        assert!(versions.contains(&v), "{versions:?} lacks {v}");
    }
    assert!(
        w.agent.requests().is_empty(),
        "VERSION does not ask the agent"
    );
}

#[test]
fn add_answers_in_the_shape_of_each_version() {
    let w = World::new();
    w.agent
        .answer(CniReply::Attached(Box::new(attachment(&w.netns))));
    for version in ["0.3.1", "0.4.0", "1.0.0"] {
        let (exit, result) = plugin(&w.env("ADD"), w.config(version).to_string().as_bytes());
        assert_eq!(exit, 0, "{result}");
        assert_eq!(result["cniVersion"], version);
        assert_eq!(result["ips"][0]["address"], "10.32.0.3/24");
        assert_eq!(result["ips"][0]["gateway"], "10.32.0.1");
        assert_eq!(result["ips"][0]["interface"], 1);
        assert_eq!(result["interfaces"][1]["name"], "eth0");
        assert_eq!(result["interfaces"][1]["sandbox"], w.netns.as_str());
        assert_eq!(result["interfaces"][1]["mac"], "02:6f:1f:0d:7e:9a");
        assert_eq!(result["routes"][0]["dst"], "0.0.0.0/0");
        let has_ip_version = result["ips"][0].get("version").is_some();
        assert_eq!(has_ip_version, version != "1.0.0", "{version}: {result}");
    }
    // What the agent was asked: the container, and the pod from CNI_ARGS.
    let CniRequest::Add(add) = &w.agent.requests()[0] else {
        panic!("{:?}", w.agent.requests());
    };
    assert_eq!(add.target.container_id, "c1");
    assert_eq!(add.target.ifname, "eth0");
    assert_eq!(add.target.netns.as_deref(), Some(w.netns.as_str()));
    let pod = add.target.pod.as_ref().unwrap();
    assert_eq!(
        (pod.namespace.as_str(), pod.name.as_str(), pod.uid.as_str()),
        ("web", "a", UID)
    );
}

#[test]
fn bad_environment_is_refused_with_code_4() {
    let w = World::new();
    let conf = w.config("1.0.0").to_string();
    let env = w.env("ADD");
    assert_error(&plugin(&[], conf.as_bytes()), 4, "CNI_COMMAND");
    assert_error(
        &plugin(&with(&env, "CNI_COMMAND", "PLUG"), conf.as_bytes()),
        4,
        "PLUG",
    );
    for name in ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_NETNS", "CNI_PATH"] {
        assert_error(&plugin(&without(&env, name), conf.as_bytes()), 4, name);
    }
    let missing = w.dir.path().join("no-such-netns").display().to_string();
    assert_error(
        &plugin(&with(&env, "CNI_NETNS", &missing), conf.as_bytes()),
        4,
        &missing,
    );
    assert_error(
        &plugin(&with(&env, "CNI_CONTAINERID", "../x"), conf.as_bytes()),
        4,
        "CNI_CONTAINERID",
    );
    assert_error(
        &plugin(&with(&env, "CNI_IFNAME", "a/b"), conf.as_bytes()),
        4,
        "CNI_IFNAME",
    );
    assert_error(
        &plugin(&with(&env, "CNI_ARGS", "K8S_POD_NAME"), conf.as_bytes()),
        4,
        "CNI_ARGS",
    );
    assert!(
        w.agent.requests().is_empty(),
        "nothing bad reached the agent"
    );
}

#[test]
fn bad_configuration_is_refused_with_its_code() {
    let w = World::new();
    let env = w.env("ADD");
    assert_error(&plugin(&env, b"{not json"), 6, "not JSON");
    assert_error(&plugin(&env, br#"{"name":"weft"}"#), 7, "cniVersion");
    assert_error(&plugin(&env, br#"{"cniVersion":"1.0.0"}"#), 7, "name");
    assert_error(
        &plugin(&env, br#"{"cniVersion":"2.0.0","name":"weft"}"#),
        1,
        "2.0.0",
    );
    let mut conf = w.config("1.0.0");
    conf["mtu"] = json!("big");
    assert_error(&plugin(&env, conf.to_string().as_bytes()), 7, "mtu");
    // VERSION with a version it does not know still answers, in the newest
    // version it speaks, so the runtime can pick one from the list.
    let (exit, body) = plugin(
        &[("CNI_COMMAND", "VERSION".into())],
        br#"{"cniVersion":"9.0.0"}"#,
    );
    assert_eq!(exit, 0);
    assert_eq!(body["cniVersion"], "1.1.0");
    assert!(w.agent.requests().is_empty());
}

#[test]
fn agent_errors_and_absence_become_cni_errors() {
    let w = World::new();
    let conf = w.config("1.0.0").to_string();
    w.agent.answer(CniReply::error(
        100,
        "the weft server refused the port of pod web/a: NotFound",
        "",
    ));
    assert_error(&plugin(&w.env("ADD"), conf.as_bytes()), 100, "web/a");
    // No agent: ADD is "try again later", STATUS "not available".
    let mut away = w.config("1.0.0");
    away["agentSocket"] = json!(w.dir.path().join("gone.sock"));
    let away = away.to_string();
    assert_error(&plugin(&w.env("ADD"), away.as_bytes()), 11, "not answering");
    assert_error(
        &plugin(&w.env("STATUS"), away.as_bytes()),
        50,
        "not answering",
    );
    w.agent.answer(CniReply::Done);
    assert_eq!(plugin(&w.env("STATUS"), conf.as_bytes()).0, 0);
}

#[test]
fn check_compares_with_the_previous_result() {
    let w = World::new();
    w.agent
        .answer(CniReply::Attached(Box::new(attachment(&w.netns))));
    let (_, prev) = plugin(&w.env("ADD"), w.config("1.0.0").to_string().as_bytes());
    let mut conf = w.config("1.0.0");
    conf["prevResult"] = prev.clone();
    let (exit, body) = plugin(&w.env("CHECK"), conf.to_string().as_bytes());
    assert_eq!((exit, body), (0, Value::Null));
    // Another address than the runtime recorded.
    let mut other = prev.clone();
    other["ips"][0]["address"] = json!("10.32.0.9/24");
    conf["prevResult"] = other;
    assert_error(
        &plugin(&w.env("CHECK"), conf.to_string().as_bytes()),
        101,
        "10.32.0.9/24",
    );
    // No prevResult; a version without CHECK; a container the agent does not know.
    assert_error(
        &plugin(&w.env("CHECK"), w.config("1.0.0").to_string().as_bytes()),
        7,
        "prevResult",
    );
    let mut old = w.config("0.3.1");
    old["prevResult"] = prev.clone();
    assert_error(
        &plugin(&w.env("CHECK"), old.to_string().as_bytes()),
        1,
        "0.4.0",
    );
    w.agent.answer(CniReply::error(
        3,
        "container c1 has no interface eth0 on this node",
        "",
    ));
    conf["prevResult"] = prev;
    assert_error(
        &plugin(&w.env("CHECK"), conf.to_string().as_bytes()),
        3,
        "c1",
    );
}

#[test]
fn del_succeeds_and_is_spooled_when_the_agent_is_away() {
    let w = World::new();
    let conf = w.config("0.4.0").to_string();
    w.agent.answer(CniReply::Done);
    assert_eq!(plugin(&w.env("DEL"), conf.as_bytes()), (0, Value::Null));
    assert!(
        matches!(w.agent.requests().last(), Some(CniRequest::Del(t)) if t.container_id == "c1")
    );
    assert!(!w.spool().join("c1.eth0.json").exists());

    // Agent gone, and the container's namespace gone too: still success.
    let mut away = w.config("0.4.0");
    away["agentSocket"] = json!(w.dir.path().join("gone.sock"));
    let env = with(&w.env("DEL"), "CNI_NETNS", "");
    assert_eq!(plugin(&env, away.to_string().as_bytes()), (0, Value::Null));
    let spooled: CniTarget =
        serde_json::from_slice(&std::fs::read(w.spool().join("c1.eth0.json")).unwrap()).unwrap();
    assert_eq!(spooled.container_id, "c1");
    assert_eq!(spooled.pod.unwrap().uid, UID);

    // The agent failing the DEL: spooled for later as well.
    w.agent.answer(CniReply::error(5, "cannot remove", ""));
    let env = with(&w.env("DEL"), "CNI_CONTAINERID", "c2");
    assert_eq!(plugin(&env, conf.as_bytes()).0, 0);
    assert!(w.spool().join("c2.eth0.json").exists());
}

#[test]
fn gc_hands_the_valid_attachments_to_the_agent() {
    let w = World::new();
    let mut conf = w.config("1.1.0");
    conf["cni.dev/valid-attachments"] = json!([{"containerID": "c1", "ifname": "eth0"}]);
    assert_eq!(
        plugin(&[("CNI_COMMAND", "GC".into())], conf.to_string().as_bytes()).0,
        0
    );
    assert!(matches!(
        w.agent.requests().last(),
        Some(CniRequest::Gc { valid }) if valid == &vec![("c1".to_owned(), "eth0".to_owned())]
    ));
}
