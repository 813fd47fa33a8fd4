//! Every port acknowledged to a client survives `kill -9` of the server in
//! the middle of a burst of concurrent creations; no address is duplicated,
//! none leaks, and allocation goes on where it stopped.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use common::ServerProcess;
use uuid::Uuid;
use weft_api::client::Client;
use weft_api::{ListQuery, Ports, Projects, VirtualNetworks};
use weft_model::{CreateNetwork, CreatePort, CreateProject, CreateSubnet, Ref};

const CLIENTS: usize = 16;

fn network() -> Ref {
    Ref::Name("default-domain:crash:net".parse().unwrap())
}

async fn prepare(client: &Client) {
    client
        .create::<Projects>(&CreateProject {
            fq_name: "crash".parse().unwrap(),
            id: None,
            description: String::new(),
            tags: Vec::new(),
            external_id: None,
        })
        .await
        .unwrap();
    client
        .create::<VirtualNetworks>(&CreateNetwork {
            subnets: vec![CreateSubnet::with_cidr("10.0.0.0/16".parse().unwrap())],
            ..CreateNetwork::named("default-domain:crash:net".parse().unwrap())
        })
        .await
        .unwrap();
}

fn offset(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4) - u32::from(Ipv4Addr::new(10, 0, 0, 0)),
        IpAddr::V6(_) => panic!("unexpected IPv6 address {ip}"),
    }
}

#[test]
fn acknowledged_ports_survive_kill_9() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    for (round, kill_after) in [150usize, 400, 700].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut server = ServerProcess::start(&data);
        let client = Client::new(&server.url).unwrap();
        runtime.block_on(prepare(&client));

        // A burst of concurrent creations; every acknowledged port is recorded.
        let acked: Arc<Mutex<BTreeMap<Uuid, IpAddr>>> = Arc::default();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let client = client.clone();
                let acked = acked.clone();
                runtime.spawn(async move {
                    loop {
                        match client.create::<Ports>(&CreatePort::on(network())).await {
                            Ok(port) => {
                                acked
                                    .lock()
                                    .unwrap()
                                    .insert(port.meta.id, port.fixed_ips[0].ip_address);
                            }
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        while acked.lock().unwrap().len() < kill_after {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        server.kill_9();
        for task in tasks {
            runtime.block_on(task).unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        assert!(acked.len() >= kill_after, "round {round}");

        let server = ServerProcess::start(&data);
        let client = Client::new(&server.url).unwrap();
        let ports = runtime
            .block_on(client.list::<Ports>(&ListQuery::default()))
            .unwrap();
        let stored: BTreeMap<Uuid, IpAddr> = ports
            .iter()
            .map(|p| (p.meta.id, p.fixed_ips[0].ip_address))
            .collect();

        // Every acknowledged port is there, with the address it was given.
        for (id, ip) in &acked {
            assert_eq!(
                stored.get(id),
                Some(ip),
                "round {round}: acknowledged port {id} ({ip}) lost"
            );
        }
        // Ports committed but not yet acknowledged when the server died may
        // exist too; nothing else can.
        assert!(stored.len() >= acked.len());
        assert!(
            stored.len() <= acked.len() + CLIENTS,
            "round {round}: more ports than requests in flight"
        );
        // No address twice, and no gap: the held addresses are exactly .3 onward.
        let offsets: BTreeSet<u32> = stored.values().map(|ip| offset(*ip)).collect();
        assert_eq!(
            offsets.len(),
            stored.len(),
            "round {round}: an address is held twice"
        );
        let expected: BTreeSet<u32> = (3..3 + stored.len() as u32).collect();
        assert_eq!(
            offsets, expected,
            "round {round}: addresses are not a gapless run from 10.0.0.3"
        );
        // Nothing leaked: the next port gets the very next address.
        let next = runtime
            .block_on(client.create::<Ports>(&CreatePort::on(network())))
            .unwrap();
        assert_eq!(
            offset(next.fixed_ips[0].ip_address),
            3 + stored.len() as u32,
            "round {round}"
        );
        eprintln!(
            "round {round}: killed after {} acknowledged, {} stored after restart",
            acked.len(),
            stored.len()
        );
    }
}
