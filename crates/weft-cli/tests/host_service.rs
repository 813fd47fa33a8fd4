//! A Service whose backend is outside every VN, as the `kubernetes`
//! Service's is (the apiserver's underlay address), with real packets in
//! the reference lab: a pod on a VN with fabric SNAT connects to the
//! service address; its vRouter sends the connection to k8s-master's
//! underlay address through the node's kernel (which masquerades it), and
//! the answer comes back to the pod from the service address.

#[allow(dead_code)]
mod fabric;
#[allow(dead_code)]
#[path = "overlay/support.rs"]
mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fabric::*;
use support::*;

const SERVICES: &str = "default-domain:k8s-default:k8s-default-service-network";
#[test]
#[ignore = "needs root and network namespaces: run scripts/test as root"]
fn a_pod_reaches_the_fabric_through_a_service_address() -> Result<()> {
    for (tool, arg) in [("nft", "--version"), ("curl", "--version")] {
        ensure!(
            std::process::Command::new(tool).arg(arg).output().is_ok(),
            "{tool} is not installed (scripts/test installs it)"
        );
    }
    with_lab_config(
        "v",
        |config| config.host_interface = Some("vhost0".into()),
        |lab| {
            register_nodes(lab)?;
            weft(lab, CONTROL, &["project", "create", "k8s-default"])?;
            weft(
                lab,
                CONTROL,
                &[
                    "vn",
                    "create",
                    PODS,
                    "--subnet",
                    "10.32.0.0/24",
                    "--fabric-snat",
                ],
            )?;
            weft(
                lab,
                CONTROL,
                &["vn", "create", SERVICES, "--subnet", "10.96.0.0/12"],
            )?;
            let (port, _) = pod_stand_in(
                lab,
                "pod",
                &["--vn", PODS, "--name", "client", "--project", "k8s-default"],
                "10.32.0.1",
            )?;

            // The apiserver stand-in: k8s-master's underlay address, in no
            // VN, answering with the client's address.
            let _httpd = whoami_server(lab, MASTER, 6443)?;

            let vip = create_port(
                lab,
                &[
                    "--vn",
                    SERVICES,
                    "--name",
                    "kubernetes",
                    "--project",
                    "k8s-default",
                ],
            )?;
            let backend = format!("tcp:443={MASTER_IP}:6443");
            let lb = api(
                lab,
                &[
                    "lb",
                    "create",
                    "default-domain:k8s-default:kubernetes",
                    "--vip-port",
                    &vip.id,
                    "--client-network",
                    PODS,
                    "--listener",
                    &backend,
                ],
            )?;
            let vip_ip = vip.ip.to_string();
            ensure!(lb["vip_address"] == vip_ip.as_str(), "{lb}");

            let url = format!("http://{vip_ip}:443/cgi-bin/ip");
            let mut last = None;
            wait_for(
                "the pod to reach k8s-master through the service address",
                Duration::from_secs(20),
                || {
                    last = fetch(lab, "pod", &url).ok().flatten();
                    last.is_some()
                },
            )
            .with_context(|| {
                format!(
                    "last answer: {last:?}; drops {:?}; flows {:?}",
                    agent(lab, WORKER, &["dropstats"]).ok(),
                    agent(lab, WORKER, &["flow", "-l"]).ok()
                )
            })?;
            // Masqueraded by the node on the way out.
            ensure!(
                last.as_deref().map(client_of).as_deref() == Some(NODE_IP),
                "k8s-master saw {last:?}, not the node's address"
            );
            // The flow the pod's groups saw is the one to the backend.
            let flows = agent(lab, WORKER, &["flow", "-l"])?;
            let to_backend = flows.as_array().context("flows")?.iter().any(|f| {
                f["src"] == port.ip.to_string().as_str()
                    && f["dst"] == MASTER_IP
                    && f["dst_port"] == 6443
            });
            ensure!(to_backend, "no pod → {MASTER_IP}:6443 flow: {flows}");

            // The backend gone from the listener: connections are refused.
            weft(
                lab,
                CONTROL,
                &[
                    "lb",
                    "update",
                    "default-domain:k8s-default:kubernetes",
                    "--listener",
                    "tcp:443",
                ],
            )?;
            wait_for("connections to be refused", Duration::from_secs(20), || {
                fetch(lab, "pod", &url).is_ok_and(|b| b.is_none())
                    && drops(lab, WORKER, "no_backend").is_ok_and(|n| n > 0)
            })?;
            Ok(())
        },
    )
}
