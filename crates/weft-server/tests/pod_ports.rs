//! `POST /v1/pod-ports` over HTTP: get-or-create by pod UID, the default
//! pod network, the namespace project with its default-allow group.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::Running;
use serde_json::json;
use weft_api::client::ClientError;
use weft_api::{ListQuery, PodPortRequest, Ports, Projects, SecurityGroupRules};
use weft_model::CreateProject;
use weft_store::MemoryStore;

const POD_NET: &str = "default-domain:k8s-default:k8s-default-pod-network";

fn pod(name: &str, uid: &str) -> PodPortRequest {
    PodPortRequest {
        cluster: "k8s".into(),
        namespace: "web".into(),
        name: name.into(),
        uid: uid.parse().unwrap(),
        node: "k8s-worker".into(),
    }
}

async fn pod_network(r: &Running) {
    let req = CreateProject {
        fq_name: "k8s-default".parse().unwrap(),
        id: None,
        description: String::new(),
        tags: Vec::new(),
        external_id: None,
    };
    r.client.create::<Projects>(&req).await.unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/virtual-networks", r.url))
        .json(&json!({"fq_name": POD_NET, "subnets": [{"cidr": "10.32.0.0/24"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        201,
        "{}",
        resp.text().await.unwrap()
    );
}

#[tokio::test]
async fn pod_port_is_made_once_on_the_default_pod_network() {
    let r = Running::start(Arc::new(MemoryStore::new())).await;
    let a = pod("a", "6f1f0d7e-9a43-4c55-9d0f-2a8c3b1e0a01");

    // No pod network yet: a clear refusal naming it, nothing made.
    let err = r.client.pod_port(&a).await.unwrap_err();
    match &err {
        ClientError::Api { status, detail } => {
            assert_eq!(status.as_u16(), 400, "{detail}");
            assert_eq!(detail.field.as_deref(), Some("network"));
            assert!(detail.message.contains(POD_NET), "{detail}");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(
        r.client
            .list::<Ports>(&ListQuery::default())
            .await
            .unwrap()
            .is_empty()
    );

    pod_network(&r).await;
    let first = r.client.pod_port(&a).await.unwrap();
    assert!(first.created);
    assert_eq!(first.port.meta.id, a.uid);
    assert_eq!(first.network, POD_NET);
    assert_eq!(first.project, "default-domain:k8s-web");
    assert_eq!(first.port.binding_host_id.as_deref(), Some("k8s-worker"));
    assert_eq!(first.port.vif_type, weft_model::VifType::Veth);
    assert_eq!(first.addresses.len(), 1);
    // .1 gateway, .2 DNS/service: the first pod gets .3.
    assert_eq!(first.addresses[0].address, "10.32.0.3/24");
    assert_eq!(first.addresses[0].gateway.as_deref(), Some("10.32.0.1"));

    // Again: the same port and address, not a second one.
    let again = r.client.pod_port(&a).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.port, first.port);
    let b = r
        .client
        .pod_port(&pod("b", "6f1f0d7e-9a43-4c55-9d0f-2a8c3b1e0a02"))
        .await
        .unwrap();
    assert_eq!(b.addresses[0].address, "10.32.0.4/24");
    assert_eq!(
        r.client
            .list::<Ports>(&ListQuery::default())
            .await
            .unwrap()
            .len(),
        2
    );

    // The namespace's project admits all ingress (Kubernetes default-allow).
    let rules = r
        .client
        .list::<SecurityGroupRules>(&ListQuery::default())
        .await
        .unwrap();
    let open: Vec<_> = rules
        .iter()
        .filter(|rule| {
            rule.project_id == first.port.project_id
                && rule.remote_ip_prefix.is_some_and(|p| p.prefix_len() == 0)
        })
        .collect();
    assert_eq!(open.len(), 2, "IPv4 and IPv6 admit-all rules: {rules:?}");

    // The same pod asked for from another node is refused.
    let mut moved = a.clone();
    moved.node = "elsewhere".into();
    match r.client.pod_port(&moved).await.unwrap_err() {
        ClientError::Api { status, detail } => {
            assert_eq!(status.as_u16(), 409);
            assert_eq!(detail.field.as_deref(), Some("node"));
        }
        other => panic!("unexpected {other}"),
    }
    r.stop().await;
}

#[tokio::test]
async fn racing_calls_for_one_pod_get_one_port() {
    let r = Running::start(Arc::new(MemoryStore::new())).await;
    pod_network(&r).await;
    let a = pod("a", "6f1f0d7e-9a43-4c55-9d0f-2a8c3b1e0a0a");
    let calls = (0..8).map(|_| r.client.pod_port(&a));
    let got = futures::future::join_all(calls).await;
    let ports: Vec<_> = got.into_iter().map(Result::unwrap).collect();
    assert_eq!(ports.iter().filter(|p| p.created).count(), 1);
    assert!(ports.iter().all(|p| p.addresses == ports[0].addresses));
    assert_eq!(
        r.client
            .list::<Ports>(&ListQuery::default())
            .await
            .unwrap()
            .len(),
        1
    );
    r.stop().await;
}

#[tokio::test]
async fn bad_pod_requests_name_the_field() {
    let r = Running::start(Arc::new(MemoryStore::new())).await;
    let http = reqwest::Client::new();
    for (body, field) in [
        (
            json!({"namespace": "", "name": "a", "uid": "6f1f0d7e-9a43-4c55-9d0f-2a8c3b1e0a01", "node": "n"}),
            "namespace",
        ),
        (
            json!({"namespace": "x", "name": "a", "uid": "nope", "node": "n"}),
            "uid",
        ),
        (
            json!({"namespace": "x", "name": "a:b", "uid": "6f1f0d7e-9a43-4c55-9d0f-2a8c3b1e0a01", "node": "n"}),
            "name",
        ),
    ] {
        let resp = http
            .post(format!("{}/v1/pod-ports", r.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    r.stop().await;
}
