//! The control node inside `weft server`, fed by the real model: agents get
//! their node's ports, VRFs and ACLs, routes are reflected between nodes
//! with labels and SG ids, port status reaches the API, and a wrong token
//! gets nothing.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use weft_api::client::Client;
use weft_api::{Ports, Projects};
use weft_control::agent::{AgentEvent, AgentSession, AgentSettings, LocalRoute, identity};
use weft_control::proto;
use weft_control::rib::RouteAttrs;
use weft_model::{CreatePort, CreateProject, PortStatus};
use weft_server::{ControlConfig, Server};
use weft_store::MemoryStore;

const SEAMLESS: &str = "default-domain:k8s-contrail:seamless";
const TOKEN: &str = "cluster-secret";

async fn next(
    events: &mut mpsc::Receiver<AgentEvent>,
    what: &str,
    want: impl Fn(&AgentEvent) -> bool,
) -> AgentEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("session ended waiting for {what}"));
        if want(&event) {
            return event;
        }
    }
}

fn config_with_ports(n: usize) -> impl Fn(&AgentEvent) -> bool {
    move |e| matches!(e, AgentEvent::Config(c) if c.ports.len() == n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_get_their_config_and_each_others_routes() {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::with_store(Arc::new(MemoryStore::new()), any)
        .await
        .unwrap()
        .with_control(ControlConfig {
            listen: any,
            token: TOKEN.into(),
            grace: Duration::from_millis(300),
        })
        .await
        .unwrap();
    let rest = format!("http://{}", server.local_addr().unwrap());
    let control = format!("http://{}", server.control_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    let client = Client::new(&rest).unwrap();
    for p in ["k8s-contrail", "admin", "k8s-seamless"] {
        let req = CreateProject {
            fq_name: p.parse().unwrap(),
            id: None,
            description: String::new(),
            tags: Vec::new(),
            external_id: None,
        };
        client.create::<Projects>(&req).await.unwrap();
    }
    let http = reqwest::Client::new();
    let status = http
        .post(format!("{rest}/v1/virtual-networks"))
        .json(&json!({"fq_name": SEAMLESS, "subnets": [{"cidr": "192.168.1.0/24"}]}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 201);

    let connect = |node: &str, ip: [u8; 4], token: &str| {
        AgentSession::start(AgentSettings::new(
            control.clone(),
            token,
            identity(node, Ipv4Addr::from(ip)),
        ))
        .unwrap()
    };
    let (compute, mut compute_events) = connect("os-compute", [192, 168, 200, 13], TOKEN);
    let (worker, mut worker_events) = connect("k8s-worker", [192, 168, 200, 14], TOKEN);
    next(&mut compute_events, "empty config", config_with_ports(0)).await;

    // The VM port bound to os-compute reaches that node only, compiled.
    let mut vm = CreatePort::on(SEAMLESS.parse().unwrap());
    vm.project = Some("admin".parse().unwrap());
    vm.binding_host_id = Some("os-compute".into());
    let vm = client.create::<Ports>(&vm).await.unwrap();
    let AgentEvent::Config(config) =
        next(&mut compute_events, "VM config", config_with_ports(1)).await
    else {
        unreachable!()
    };
    let port = &config.ports[0];
    assert_eq!(port.port_id, vm.meta.id.to_string());
    assert_eq!(port.fixed_ips[0].address, "192.168.1.3");
    assert_eq!(port.fixed_ips[0].gateway, "192.168.1.1");
    assert_eq!(
        port.interface_name,
        format!("tap{}", &vm.meta.id.to_string()[..11])
    );
    assert_eq!(config.vrfs[0].name, SEAMLESS);
    let vm_sg = port.sg_ids[0];
    assert!(
        config
            .acls
            .iter()
            .any(|a| a.sg_id == vm_sg && a.rules.len() == 4)
    );

    let mut pod = CreatePort::on(SEAMLESS.parse().unwrap());
    pod.project = Some("k8s-seamless".parse().unwrap());
    pod.binding_host_id = Some("k8s-worker".into());
    pod.vif_type = Some(weft_model::VifType::Veth);
    client.create::<Ports>(&pod).await.unwrap();
    let AgentEvent::Config(worker_config) =
        next(&mut worker_events, "pod config", config_with_ports(1)).await
    else {
        unreachable!()
    };
    assert_eq!(worker_config.ports[0].fixed_ips[0].address, "192.168.1.4");
    assert_eq!(
        worker_config.ports[0].vif_type,
        i32::from(proto::VifType::Veth)
    );

    // os-compute publishes the VM's /32; k8s-worker, subscribed, gets it with
    // the label, the next hop and the VM's SG id.
    worker.subscribe(SEAMLESS);
    compute.subscribe(SEAMLESS);
    compute.publish(LocalRoute {
        vrf: SEAMLESS.into(),
        prefix: "192.168.1.3/32".parse().unwrap(),
        attrs: RouteAttrs {
            label: 17,
            vni: 1,
            encapsulations: vec![proto::Encapsulation::MplsOverUdp],
            sg_ids: vec![vm_sg],
        },
    });
    let AgentEvent::RouteAdded(route) = next(&mut worker_events, "VM route", |e| {
        matches!(e, AgentEvent::RouteAdded(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(route.prefix.to_string(), "192.168.1.3/32");
    assert_eq!(route.next_hop, Ipv4Addr::new(192, 168, 200, 13));
    assert_eq!(
        (route.attrs.label, route.attrs.sg_ids.clone()),
        (17, vec![vm_sg])
    );

    // The agent reports the interface up: the API shows the port ACTIVE.
    compute.port_status(vm.meta.id.to_string(), proto::PortState::Active);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let port = client.get::<Ports>(&vm.meta.id.to_string()).await.unwrap();
        if port.status == PortStatus::Active {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "port never became ACTIVE"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // os-compute goes away: after the grace period its route is withdrawn.
    drop(compute);
    next(&mut worker_events, "withdrawal after grace", |e| {
        matches!(e, AgentEvent::RouteWithdrawn { .. })
    })
    .await;

    // A wrong token is refused and receives no configuration.
    let (_intruder, mut intruder_events) = connect("os-compute", [192, 168, 200, 13], "wrong");
    match next(&mut intruder_events, "rejection", |e| {
        matches!(e, AgentEvent::Rejected { .. } | AgentEvent::Config(_))
    })
    .await
    {
        AgentEvent::Rejected { .. } => {}
        other => panic!("unauthenticated agent got {other:?}"),
    }
    drop(worker);
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
