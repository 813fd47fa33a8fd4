//! The real OpenStack clients against `weft server` with a real Keystone:
//! `scripts/openstack-env` makes the venv (python-openstackclient,
//! openstacksdk, Keystone) and a Keystone on loopback; the test registers
//! weft as the `network` endpoint and drives it with the `openstack` CLI.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stops a process this test started, by its PID, and waits for it.
struct Stop(u32);

impl Drop for Stop {
    fn drop(&mut self) {
        let pid = self.0.to_string();
        let _ = Command::new("kill").arg(&pid).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && Path::new(&format!("/proc/{pid}")).exists() {
            std::thread::sleep(Duration::from_millis(100));
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    }
}

struct Weft(Child);

impl Drop for Weft {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain HTTP/1.0 GET on loopback: status and body.
fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

struct OpenStack {
    venv: PathBuf,
    env: HashMap<String, String>,
}

impl OpenStack {
    /// Runs `openstack <args>` as `user` of `project`; returns stdout, or
    /// the error output.
    fn run(&self, user: &str, project: &str, args: &[&str]) -> Result<String, String> {
        let out = Command::new(self.venv.join("bin/openstack"))
            .args(args)
            .envs(&self.env)
            .env("OS_USERNAME", user)
            .env("OS_PASSWORD", "secret")
            .env("OS_PROJECT_NAME", project)
            .env("PYTHONWARNINGS", "ignore")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    fn json(&self, user: &str, project: &str, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-f", "json"]);
        let out = self
            .run(user, project, &all)
            .unwrap_or_else(|e| panic!("openstack {}: {e}", args.join(" ")));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }
}

#[test]
#[ignore = "needs the OpenStack venv: run scripts/test"]
fn openstack_cli_with_keystone_drives_the_neutron_api() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/openstack-env");
    let dir = tempfile::tempdir().unwrap();
    let ks_dir = dir.path().join("keystone");
    let setup = Command::new(&script)
        .arg("keystone")
        .arg(&ks_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // Stop Keystone whatever happens next, if it was started.
    let _keystone = std::fs::read_to_string(ks_dir.join("keystone.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .map(Stop);
    if !setup.status.success() {
        println!(
            "SKIP: cannot set up the OpenStack venv and Keystone: {}",
            String::from_utf8_lossy(&setup.stderr)
        );
        return;
    }
    let env: HashMap<String, String> = std::fs::read_to_string(ks_dir.join("keystone.env"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let os = OpenStack {
        venv: PathBuf::from(&env["OPENSTACK_VENV"]),
        env: env
            .iter()
            .filter(|(k, _)| k.starts_with("OS_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };

    // weft as the catalog's network endpoint, validating tokens as `neutron`.
    let (api_port, neutron_port) = (free_port(), free_port());
    let neutron_url = format!("http://127.0.0.1:{neutron_port}");
    os.run(
        "admin",
        "admin",
        &["service", "create", "--name", "neutron", "network"],
    )
    .unwrap();
    os.run(
        "admin",
        "admin",
        &[
            "endpoint",
            "create",
            "--region",
            "RegionOne",
            "network",
            "public",
            &neutron_url,
        ],
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("weft.log")).unwrap();
    let _weft = Weft(
        Command::new(env!("CARGO_BIN_EXE_weft"))
            .arg("server")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", &format!("127.0.0.1:{api_port}")])
            .args(["--neutron-listen", &format!("127.0.0.1:{neutron_port}")])
            .args(["--keystone-url", &env["KEYSTONE_URL"]])
            .args([
                "--keystone-user",
                "neutron",
                "--keystone-project",
                "service",
            ])
            .env("WEFT_KEYSTONE_PASSWORD", "secret")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", neutron_port)).is_err() {
        assert!(Instant::now() < deadline, "weft server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The member of k8s-contrail builds the reference scenario's VM side.
    let demo = |args: &[&str]| os.json("demo", "k8s-contrail", args);
    let net = demo(&["network", "create", "seamless"]);
    assert_eq!(net["name"], "seamless");
    let net_id = net["id"].as_str().unwrap().to_owned();
    let subnet = demo(&[
        "subnet",
        "create",
        "--network",
        "seamless",
        "--subnet-range",
        "192.168.1.0/24",
        "s1",
    ]);
    assert_eq!(subnet["gateway_ip"], "192.168.1.1");
    let port = demo(&["port", "create", "--network", "seamless", "p1"]);
    assert_eq!(port["fixed_ips"][0]["ip_address"], "192.168.1.3", "{port}");
    let rule = demo(&[
        "security",
        "group",
        "rule",
        "create",
        "--ingress",
        "--remote-ip",
        "0.0.0.0/0",
        "default",
    ]);
    assert_eq!(rule["remote_ip_prefix"], "0.0.0.0/0");
    assert_eq!(rule["direction"], "ingress");

    let networks = demo(&["network", "list"]);
    assert!(
        networks
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["Name"] == "seamless"),
        "{networks}"
    );
    let ports = demo(&["port", "list"]);
    assert!(
        ports.as_array().unwrap().iter().any(|p| p["Name"] == "p1"),
        "{ports}"
    );
    let shown = demo(&["port", "show", "p1"]);
    assert_eq!(shown["id"], port["id"]);
    assert_eq!(shown["status"], "DOWN");
    assert_eq!(
        shown["mac_address"].as_str().unwrap().get(..9),
        Some("fa:16:3e:")
    );

    // A member of another project sees none of it.
    let others = os.json("other", "other", &["network", "list"]);
    assert_eq!(others, Value::Array(Vec::new()));
    let refused = os.run("other", "other", &["network", "show", &net_id]);
    assert!(refused.is_err(), "{refused:?}");

    // No token, or a forged one: 401. The version document needs none.
    let (status, body) = http_get(neutron_port, "/v2.0/networks", &[]);
    assert_eq!(status, 401, "{body}");
    let (status, _) = http_get(
        neutron_port,
        "/v2.0/networks",
        &[("X-Auth-Token", "gAAAAAforged")],
    );
    assert_eq!(status, 401);
    assert_eq!(http_get(neutron_port, "/", &[]).0, 200);

    // The network is the weft VN named after the Keystone project.
    let (status, body) = http_get(
        api_port,
        "/v1/virtual-networks/default-domain:k8s-contrail:seamless",
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let vn: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(vn["id"], net_id);

    // A project weft first meets through an admin acting for it (no token
    // of its own yet) is still named after its Keystone name, which weft
    // reads with the service user's credentials.
    os.run(
        "admin",
        "admin",
        &["project", "create", "--domain", "default", "fresh"],
    )
    .unwrap();
    let made = os.json(
        "admin",
        "admin",
        &["network", "create", "--project", "fresh", "freshnet"],
    );
    let (status, body) = http_get(
        api_port,
        "/v1/virtual-networks/default-domain:fresh:freshnet",
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let vn: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(vn["id"], made["id"]);

    // The CLI's RBAC commands: demo's group shared with project other,
    // which then sees it; the policy goes again.
    let web = demo(&["security", "group", "create", "web"]);
    let web_id = web["id"].as_str().unwrap().to_owned();
    assert!(
        os.run("other", "other", &["security", "group", "show", &web_id])
            .is_err()
    );
    let policy = os.json(
        "admin",
        "admin",
        &[
            "network",
            "rbac",
            "create",
            "--type",
            "security_group",
            "--action",
            "access_as_shared",
            "--target-project",
            "other",
            &web_id,
        ],
    );
    assert_eq!(policy["object_type"], "security_group");
    let shared = os.json("other", "other", &["security", "group", "show", &web_id]);
    assert_eq!(shared["id"], web_id.as_str());
    let listed = os.json("admin", "admin", &["network", "rbac", "list"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["ID"] == policy["id"]),
        "{listed}"
    );
    os.run(
        "admin",
        "admin",
        &["network", "rbac", "delete", policy["id"].as_str().unwrap()],
    )
    .unwrap();
    assert!(
        os.run("other", "other", &["security", "group", "show", &web_id])
            .is_err()
    );
}
