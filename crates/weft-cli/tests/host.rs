//! The node's own stack (`weft agent --host-interface vhost0`) with real
//! packets in the reference lab: the k8s-worker namespace (the node)
//! reaches its pod by ping and TCP whatever the pod's group says; a pod
//! on a VN with fabric SNAT reaches a web server on k8s-master's underlay
//! address, which sees the node's address as the source, and does not
//! without it; when the agent stops, its kernel routes and NAT table go.

#[allow(dead_code)]
mod fabric;
#[allow(dead_code)]
#[path = "overlay/support.rs"]
mod support;

use std::process::Output;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fabric::*;
use support::*;
use weft_lab::Lab;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The node's `net.ipv4.ip_forward`.
fn forwarding(lab: &Lab) -> Result<String> {
    Ok(
        stdout(&on_node(lab, "sysctl", &["-n", "net.ipv4.ip_forward"])?)
            .trim()
            .to_owned(),
    )
}

/// Waits (as `what`) until the pod fetches `whoami` from k8s-master, and
/// checks that the server saw the node's address: masqueraded on the way.
fn pod_reaches_master_as_the_node(lab: &Lab, whoami: &str, what: &str) -> Result<()> {
    let mut last = None;
    wait_for(what, Duration::from_secs(20), || {
        last = fetch(lab, "pod", whoami).ok().flatten();
        last.is_some()
    })
    .with_context(|| format!("last answer: {last:?}"))?;
    ensure!(
        last.as_deref().map(client_of).as_deref() == Some(NODE_IP),
        "{what}: the server saw {last:?}, not the node's address"
    );
    Ok(())
}

/// `program args` inside the node's namespace, as `ip netns exec` runs it.
fn on_node(lab: &Lab, program: &str, args: &[&str]) -> Result<Output> {
    Ok(lab.exec(WORKER, program)?.args(args).output()?)
}

#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn the_node_reaches_its_pods_and_pods_reach_the_fabric_through_snat() -> Result<()> {
    for (tool, arg) in [
        ("nft", "--version"),
        ("curl", "--version"),
        ("sysctl", "--version"),
    ] {
        ensure!(
            std::process::Command::new(tool).arg(arg).output().is_ok(),
            "{tool} is not installed (scripts/test installs it)"
        );
    }
    with_lab_config(
        "h",
        |config| config.host_interface = Some("vhost0".into()),
        |lab| {
            ensure!(forwarding(lab)? == "0", "the node forwards before the test");
            register_nodes(lab)?;
            weft(lab, CONTROL, &["project", "create", "k8s-default"])?;
            weft(
                lab,
                CONTROL,
                &["vn", "create", PODS, "--subnet", "10.32.0.0/24"],
            )?;
            // Egress only: nothing may open a connection to the pod.
            let closed = "default-domain:k8s-default:closed";
            weft(lab, CONTROL, &["sg", "create", closed])?;
            let (port, _) = pod_stand_in(
                lab,
                "pod",
                &[
                    "--vn",
                    PODS,
                    "--name",
                    "probe-me",
                    "--project",
                    "k8s-default",
                    "--sg",
                    closed,
                ],
                "10.32.0.1",
            )?;
            let pod_ip = port.ip.to_string();

            // The kernel route to the pod, through vhost0 from the node's
            // own address.
            let dest = format!("{pod_ip}/32");
            wait_for(
                "the node's route to its pod",
                Duration::from_secs(20),
                || {
                    on_node(lab, "ip", &["-4", "route", "show", &dest]).is_ok_and(|o| {
                        stdout(&o).contains("dev vhost0") && stdout(&o).contains(NODE_IP)
                    })
                },
            )?;

            // ICMP and TCP from the node, although the pod's group admits
            // no ingress at all.
            ping_until_ok(lab, WORKER, &pod_ip)?;
            let site = tempfile::tempdir()?;
            std::fs::write(site.path().join("index.html"), "pod is ready\n")?;
            let _pod_httpd = Started(
                lab.exec("pod", "busybox")?
                    .args(["httpd", "-f", "-p", "8080", "-h"])
                    .arg(site.path())
                    .spawn()?,
            );
            let url = format!("http://{pod_ip}:8080/");
            let mut last = None;
            wait_for("the node's TCP probe of its pod", Duration::from_secs(10), || {
                last = fetch(lab, WORKER, &url).ok().flatten();
                last.as_deref() == Some("pod is ready\n")
            })
            .with_context(|| {
                let diag = |p: &str, a: &[&str]| {
                    on_node(lab, p, a)
                        .map(|o| format!("{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr)))
                        .unwrap_or_default()
                };
                let pod_diag = lab
                    .exec("pod", "ss")
                    .ok()
                    .and_then(|mut c| c.args(["-ltn"]).output().ok())
                    .map(|o| stdout(&o));
                format!(
                    "last body: {last:?}; drops {:?}; flows {:?}; curl: {}; link: {}; neigh: {}; pod: {pod_diag:?}",
                    agent(lab, WORKER, &["dropstats"]).ok(),
                    agent(lab, WORKER, &["flow", "-l"]).ok(),
                    diag("curl", &["-sS", "--noproxy", "*", "-m", "2", &url]),
                    diag("ip", &["-s", "link", "show", "vhost0"]),
                    diag("ip", &["neigh"]),
                )
            })?;

            // A web server on k8s-master's underlay address that answers
            // with the client's address.
            let _master_httpd = whoami_server(lab, MASTER, 8081)?;
            let whoami = format!("http://{MASTER_IP}:8081/cgi-bin/ip");
            let mut last = None;
            wait_for("k8s-master's server", Duration::from_secs(10), || {
                last = Some(on_node(
                    lab,
                    "curl",
                    &["-sS", "--noproxy", "*", "-m", "2", &whoami],
                ));
                fetch(lab, WORKER, &whoami)
                    .is_ok_and(|b| b.as_deref().map(client_of).as_deref() == Some(NODE_IP))
            })
            .with_context(|| format!("last: {last:?}"))?;

            // Without fabric SNAT the pod has no way out.
            let none = fetch(lab, "pod", &whoami)?;
            ensure!(
                none.is_none(),
                "pod reached the fabric without fabric SNAT: {none:?}"
            );
            let nat = on_node(lab, "nft", &["list", "table", "ip", "weft_fabric_snat"])?;
            ensure!(
                !nat.status.success(),
                "a NAT table without fabric SNAT: {}",
                stdout(&nat)
            );

            // With it the server sees the node's address.
            let vn = api(lab, &["vn", "update", PODS, "--fabric-snat", "true"])?;
            ensure!(vn["fabric_snat"] == true, "vn update: {vn}");
            pod_reaches_master_as_the_node(lab, &whoami, "the pod to reach k8s-master")?;
            let nat = on_node(lab, "nft", &["list", "table", "ip", "weft_fabric_snat"])?;
            ensure!(
                stdout(&nat).contains("10.32.0.0/24") && stdout(&nat).contains("masquerade"),
                "NAT table: {}",
                stdout(&nat)
            );
            // The node forwards for the pod, but what it forwards stays
            // under the pod's group: k8s-master, routed through the node,
            // cannot open anything to the pod; the node itself still can.
            let via = lab
                .exec(MASTER, "ip")?
                .args(["route", "add", "10.32.0.0/24", "via", NODE_IP])
                .output()?;
            ensure!(via.status.success(), "route on k8s-master: {via:?}");
            let from_master = ping(lab, MASTER, &pod_ip, 2)?;
            ensure!(
                from_master.none(),
                "k8s-master → pod through the node: {from_master:?}"
            );
            ensure!(
                drops(lab, WORKER, "flow_denied")? > 0,
                "no FlowDenied drop for k8s-master → pod"
            );
            let from_node = ping(lab, WORKER, &pod_ip, 2)?;
            ensure!(
                from_node.all(),
                "node → pod with fabric SNAT: {from_node:?}"
            );

            ensure!(forwarding(lab)? == "1", "fabric SNAT without forwarding");
            // Turned off again: no way out, no NAT table, no forwarding.
            api(lab, &["vn", "update", PODS, "--fabric-snat", "false"])?;
            wait_for("fabric SNAT to go", Duration::from_secs(20), || {
                fetch(lab, "pod", &whoami).is_ok_and(|b| b.is_none())
                    && on_node(lab, "nft", &["list", "table", "ip", "weft_fabric_snat"])
                        .is_ok_and(|o| !o.status.success())
                    && forwarding(lab).is_ok_and(|f| f == "0")
            })?;
            api(lab, &["vn", "update", PODS, "--fabric-snat", "true"])?;
            wait_for(
                "the NAT table to come back",
                Duration::from_secs(20),
                || {
                    on_node(lab, "nft", &["list", "table", "ip", "weft_fabric_snat"])
                        .is_ok_and(|o| o.status.success())
                },
            )?;

            // The agent stops: its tap, routes and NAT table go.
            lab.stop_agent(WORKER);
            let link = on_node(lab, "ip", &["link", "show", "vhost0"])?;
            ensure!(!link.status.success(), "vhost0 left behind");
            let routes = on_node(lab, "ip", &["-4", "route", "show"])?;
            ensure!(
                !stdout(&routes).contains(&pod_ip),
                "route to the pod left behind: {}",
                stdout(&routes)
            );
            let nat = on_node(lab, "nft", &["list", "table", "ip", "weft_fabric_snat"])?;
            ensure!(
                !nat.status.success(),
                "NAT table left behind: {}",
                stdout(&nat)
            );
            ensure!(forwarding(lab)? == "0", "forwarding left on");

            // Started again with the pod there: the new tap gets the
            // routes and the NAT rule back at once.
            lab.start_agent(WORKER)?;
            pod_reaches_master_as_the_node(lab, &whoami, "the pod to reach k8s-master again")?;
            ping_until_ok(lab, WORKER, &pod_ip)?;
            lab.stop_agent(WORKER);
            let nat = on_node(lab, "nft", &["list", "table", "ip", "weft_fabric_snat"])?;
            ensure!(
                !nat.status.success(),
                "NAT table left behind after the restart"
            );
            Ok(())
        },
    )
}
