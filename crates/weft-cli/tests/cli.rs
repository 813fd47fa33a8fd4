//! The `weft` command against a real server: the model part of the
//! reference scenario, tables and JSON, and errors on bad input.

#![allow(clippy::unwrap_used)]

mod common;

use common::ServerProcess;

fn ok(server: &ServerProcess, args: &[&str]) -> String {
    let out = server.cli(args);
    assert!(
        out.status.success(),
        "weft {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const SEAMLESS: &str = "default-domain:k8s-contrail:seamless";

#[test]
fn reference_scenario_model_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"));
    for p in ["k8s-contrail", "admin", "k8s-seamless"] {
        ok(&server, &["project", "create", p]);
    }
    let vn = ok(
        &server,
        &["vn", "create", SEAMLESS, "--subnet", "192.168.1.0/24"],
    );
    assert!(
        vn.contains(SEAMLESS) && vn.contains("target:64512:8000001"),
        "{vn}"
    );

    let vm = ok(
        &server,
        &[
            "port",
            "create",
            "--vn",
            SEAMLESS,
            "--name",
            "vm",
            "--project",
            "admin",
            "--host",
            "os-compute",
            "--device-owner",
            "compute:nova",
            "-o",
            "json",
        ],
    );
    let vm: serde_json::Value = serde_json::from_str(&vm).unwrap();
    assert_eq!(vm["fixed_ips"][0]["ip_address"], "192.168.1.3");
    assert_eq!(vm["vif_type"], "tap");
    let pod = ok(
        &server,
        &[
            "port",
            "create",
            "--vn",
            SEAMLESS,
            "--name",
            "cont",
            "--project",
            "k8s-seamless",
            "--host",
            "k8s-worker",
            "--vif-type",
            "veth",
        ],
    );
    assert!(
        pod.contains("192.168.1.4") && pod.contains("default-domain:k8s-seamless"),
        "{pod}"
    );

    let table = ok(&server, &["port", "list", "--vn", SEAMLESS]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("FIXED IPS"), "{table}");
    assert_eq!(lines.len(), 3, "{table}");

    // The VM's group admits only its members; a rule admits the pod's group.
    let rule = ok(
        &server,
        &[
            "sg",
            "rule",
            "add",
            "default-domain:admin:default",
            "--direction",
            "ingress",
            "--remote-group",
            "default-domain:k8s-seamless:default",
        ],
    );
    assert!(
        rule.contains("group default-domain:k8s-seamless:default"),
        "{rule}"
    );
    let rules = ok(
        &server,
        &[
            "sg",
            "rule",
            "list",
            "default-domain:admin:default",
            "-o",
            "json",
        ],
    );
    let rules: Vec<serde_json::Value> = serde_json::from_str(&rules).unwrap();
    assert_eq!(rules.len(), 5);

    let json = ok(&server, &["vn", "list", "-o", "json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(list[0]["fq_name"], SEAMLESS);

    // A network's MTU: set, and back to what fits the overlay with 0.
    let json = ok(
        &server,
        &["vn", "update", SEAMLESS, "--mtu", "1400", "-o", "json"],
    );
    let vn: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(vn["mtu"], 1400);
    let json = ok(
        &server,
        &["vn", "update", SEAMLESS, "--mtu", "0", "-o", "json"],
    );
    let vn: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(vn.get("mtu"), None);
}

#[test]
fn bad_input_exits_non_zero_with_the_rule_broken() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"));
    ok(&server, &["project", "create", "p"]);
    for (args, says) in [
        (
            vec![
                "vn",
                "create",
                "default-domain:p:n",
                "--subnet",
                "10.0.0.5/24",
            ],
            "host bits set",
        ),
        (
            vec!["vn", "create", "default-domain:q:n"],
            "project 'default-domain:q' does not exist",
        ),
        (
            vec!["port", "create", "--vn", "default-domain:p:none"],
            "virtual-network 'default-domain:p:none' does not exist",
        ),
        (vec!["vn", "show", "default-domain:p:none"], "404"),
        (
            vec!["vn", "create", "default-domain:p:big", "--mtu", "9000"],
            "maximum is 1450",
        ),
        (
            vec![
                "sg",
                "rule",
                "add",
                "default-domain:p:default",
                "--direction",
                "up",
            ],
            "not a direction",
        ),
    ] {
        let out = server.cli(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    // A server that is not there is named.
    let out = std::process::Command::new(common::weft())
        .args(["vn", "list", "--server", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot talk to the weft server at http://127.0.0.1:9")
    );
}

#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"));
    ok(&server, &["project", "create", "k8s-contrail"]);
    let mut child = server
        .command(&["project", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the answer comes back from the server,
    // as `weft project list | head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(nix::libc::SIGPIPE),
        "status {:?}, stderr {stderr}",
        out.status
    );
    assert!(stderr.is_empty(), "{stderr}");
}
