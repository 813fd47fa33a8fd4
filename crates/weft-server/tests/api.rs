//! The native API end to end over HTTP, against an in-process server.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use common::Running;
use serde_json::{Value, json};
use weft_api::client::ClientError;
use weft_api::{ListQuery, Ports, Projects, SecurityGroupRules, Subnets, VirtualNetworks};
use weft_model::{CreatePort, CreateProject, Ref};
use weft_store::MemoryStore;

const SEAMLESS: &str = "default-domain:k8s-contrail:seamless";

async fn project(r: &Running, name: &str) {
    let req = CreateProject {
        fq_name: name.parse().unwrap(),
        id: None,
        description: String::new(),
        tags: Vec::new(),
        external_id: None,
    };
    r.client.create::<Projects>(&req).await.unwrap();
}

async fn raw(r: &Running, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut req = http.request(method.parse().unwrap(), format!("{}{path}", r.url));
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn reference_scenario_through_the_api() {
    let r = Running::start(Arc::new(MemoryStore::new())).await;
    for p in ["k8s-contrail", "admin", "k8s-seamless"] {
        project(&r, p).await;
    }
    let (status, vn) = raw(
        &r,
        "POST",
        "/v1/virtual-networks",
        Some(&json!({"fq_name": SEAMLESS, "subnets": [{"cidr": "192.168.1.0/24"}]}).to_string()),
    )
    .await;
    assert_eq!(status, 201, "{vn}");
    assert_eq!(vn["vxlan_id"], 1);
    assert_eq!(vn["route_targets"][0], "target:64512:8000001");

    let mut vm = CreatePort::on(SEAMLESS.parse().unwrap());
    vm.project = Some("admin".parse().unwrap());
    vm.binding_host_id = Some("os-compute".into());
    vm.device_owner = "compute:nova".into();
    let vm = r.client.create::<Ports>(&vm).await.unwrap();
    assert_eq!(vm.fixed_ips[0].ip_address.to_string(), "192.168.1.3");

    let mut pod = CreatePort::on(SEAMLESS.parse().unwrap());
    pod.project = Some("k8s-seamless".parse().unwrap());
    let pod = r.client.create::<Ports>(&pod).await.unwrap();
    assert_eq!(pod.fixed_ips[0].ip_address.to_string(), "192.168.1.4");

    // Reads by FQ name and by id agree; filters work.
    let by_name = r.client.get::<VirtualNetworks>(SEAMLESS).await.unwrap();
    assert_eq!(by_name.meta.id.to_string(), vn["id"].as_str().unwrap());
    let query = ListQuery {
        project: Some("admin".parse().unwrap()),
        ..ListQuery::default()
    };
    let admin_ports = r.client.list::<Ports>(&query).await.unwrap();
    assert_eq!(admin_ports.len(), 1);
    assert_eq!(admin_ports[0].meta.id, vm.meta.id);
    let subnets = r
        .client
        .list::<Subnets>(&ListQuery {
            network: Some(SEAMLESS.parse().unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(subnets[0].gateway_ip.unwrap().to_string(), "192.168.1.1");
    assert_eq!(
        subnets[0].dns_service_ip.unwrap().to_string(),
        "192.168.1.2"
    );

    // The default group of admin: ingress only from itself.
    let rules = r
        .client
        .list::<SecurityGroupRules>(&ListQuery {
            security_group: Some("default-domain:admin:default".parse().unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rules.len(), 4);
    r.stop().await;
}

/// Every bad request gets a 4xx whose JSON body names the field, and changes nothing.
#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_nothing_written() {
    let r = Running::start(Arc::new(MemoryStore::new())).await;
    project(&r, "p").await;
    let ok = json!({"fq_name": "default-domain:p:n", "subnets": [{"cidr": "10.0.0.0/24"}]});
    assert_eq!(
        raw(&r, "POST", "/v1/virtual-networks", Some(&ok.to_string()))
            .await
            .0,
        201
    );
    let before = r.client.info().await.unwrap().revision;

    let cases: &[(&str, &str, Value, u16, Option<&str>)] = &[
        (
            "POST",
            "/v1/virtual-networks",
            json!({"fq_name": "default-domain:p:a", "subnets": [{"cidr": "10.0.0.300/24"}]}),
            400,
            Some("subnets[0].cidr"),
        ),
        (
            "POST",
            "/v1/virtual-networks",
            json!({"fq_name": "default-domain:p:a", "subnets": [{"cidr": "10.1.0.5/24"}]}),
            400,
            Some("subnets[0].cidr"),
        ),
        (
            "POST",
            "/v1/virtual-networks",
            json!({"fq_name": "default-domain:p:a", "subnets": [{"cidr": "10.1.0.0/24"}, {"cidr": "10.1.0.0/25"}]}),
            400,
            Some("subnets[1].cidr"),
        ),
        (
            "POST",
            "/v1/virtual-networks",
            json!({"fq_name": "default-domain::a"}),
            400,
            Some("fq_name"),
        ),
        (
            "POST",
            "/v1/virtual-networks",
            json!({"fq_name": "default-domain:p"}),
            400,
            Some("fq_name"),
        ),
        (
            "POST",
            "/v1/virtual-networks",
            json!({"fq_name": "default-domain:p:n"}),
            409,
            Some("fq_name"),
        ),
        (
            "POST",
            "/v1/virtual-networks",
            json!({"fq_name": 7}),
            400,
            Some("fq_name"),
        ),
        (
            "POST",
            "/v1/virtual-networks",
            json!({"fq_name": "default-domain:p:a", "shared": "yes"}),
            400,
            Some("shared"),
        ),
        (
            "POST",
            "/v1/virtual-networks",
            json!({"fq_name": "default-domain:p:a", "colour": "red"}),
            400,
            Some("colour"),
        ),
        (
            "POST",
            "/v1/virtual-networks",
            json!({"fq_name": "default-domain:p:a", "vxlan_id": 0}),
            400,
            Some("vxlan_id"),
        ),
        (
            "POST",
            "/v1/ports",
            json!({"network": "default-domain:p:missing"}),
            400,
            Some("network"),
        ),
        (
            "POST",
            "/v1/ports",
            json!({"network": "default-domain:p:n", "fixed_ips": [{"ip_address": "10.9.9.9"}]}),
            400,
            Some("fixed_ips[0].ip_address"),
        ),
        (
            "POST",
            "/v1/ports",
            json!({"network": "default-domain:p:n", "fixed_ips": [{"ip_address": "10.0.0.1"}]}),
            409,
            Some("fixed_ips[0].ip_address"),
        ),
        (
            "POST",
            "/v1/ports",
            json!({"network": "default-domain:p:n", "fixed_ips": [{"ip_address": "banana"}]}),
            400,
            Some("fixed_ips[0].ip_address"),
        ),
        (
            "POST",
            "/v1/ports",
            json!({"network": "default-domain:p:n", "mac_address": "01:00:5e:00:00:01"}),
            400,
            Some("mac_address"),
        ),
        (
            "POST",
            "/v1/ports",
            json!({"network": "default-domain:p:n", "security_groups": ["default-domain:p:nope"]}),
            400,
            Some("security_groups[0]"),
        ),
        (
            "POST",
            "/v1/subnets",
            json!({"network": "default-domain:p:n", "cidr": "10.0.0.128/25"}),
            400,
            Some("cidr"),
        ),
        (
            "POST",
            "/v1/security-group-rules",
            json!({"security_group": "default-domain:p:default", "direction": "sideways"}),
            400,
            Some("direction"),
        ),
        (
            "PATCH",
            "/v1/ports/00000000-0000-0000-0000-000000000009",
            json!({"name": "x"}),
            404,
            None,
        ),
        (
            "DELETE",
            "/v1/virtual-networks/default-domain:p:zzz",
            Value::Null,
            404,
            None,
        ),
        ("DELETE", "/v1/projects/p", Value::Null, 409, None),
    ];
    for (method, path, body, status, field) in cases {
        let body = (!body.is_null()).then(|| body.to_string());
        let (got, answer) = raw(&r, method, path, body.as_deref()).await;
        assert_eq!(got, *status, "{method} {path} {body:?} → {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
        assert_eq!(
            answer["error"]["field"].as_str(),
            *field,
            "{method} {path} {body:?} → {answer}"
        );
    }
    for (body, what) in [
        ("", "empty"),
        ("{\"fq_name\": ", "cut short"),
        ("[1,2]", "array"),
        ("{} {}", "trailing"),
    ] {
        let (got, answer) = raw(&r, "POST", "/v1/projects", Some(body)).await;
        assert_eq!(got, 400, "{what}: {answer}");
        assert_eq!(answer["error"]["type"], "MalformedBody", "{what}: {answer}");
    }
    // Not JSON at all is refused by media type.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/projects", r.url))
        .header("content-type", "text/plain")
        .body("fq_name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let (got, answer) = raw(&r, "GET", "/v1/ports?colour=red", None).await;
    assert_eq!(
        (got, answer["error"]["field"].as_str()),
        (400, Some("colour"))
    );

    // Nothing of any refused request was written.
    assert_eq!(r.client.info().await.unwrap().revision, before);
    assert_eq!(
        r.client
            .list::<Ports>(&ListQuery::default())
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        r.client
            .list::<VirtualNetworks>(&ListQuery::default())
            .await
            .unwrap()
            .len(),
        1
    );
    r.stop().await;
}

/// Many clients at once on one network: distinct addresses, no gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_port_creation_gives_distinct_gapless_addresses() {
    let r = Running::start(Arc::new(MemoryStore::new())).await;
    project(&r, "p").await;
    let body = json!({"fq_name": "default-domain:p:big", "subnets": [{"cidr": "10.0.0.0/16"}]});
    assert_eq!(
        raw(&r, "POST", "/v1/virtual-networks", Some(&body.to_string()))
            .await
            .0,
        201
    );
    const CLIENTS: usize = 32;
    const EACH: usize = 25;
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let client = r.client.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..EACH {
                let port = client
                    .create::<Ports>(&CreatePort::on(Ref::Name(
                        "default-domain:p:big".parse().unwrap(),
                    )))
                    .await
                    .unwrap();
                got.push(port.fixed_ips[0].ip_address);
            }
            got
        }));
    }
    let mut all: Vec<IpAddr> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: BTreeSet<IpAddr> = all.iter().copied().collect();
    assert_eq!(
        unique.len(),
        CLIENTS * EACH,
        "an address was handed out twice"
    );
    let expected: BTreeSet<IpAddr> = (3..3 + CLIENTS * EACH)
        .map(|i| IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]))
        .collect();
    assert_eq!(
        unique, expected,
        "addresses are not the contiguous run from 10.0.0.3"
    );
    r.stop().await;
}

#[tokio::test]
async fn watch_streams_committed_changes_from_a_revision() {
    let r = Running::start(Arc::new(MemoryStore::new())).await;
    let start = r.client.info().await.unwrap().revision + 1;
    project(&r, "p").await;
    let resp = reqwest::get(format!("{}/v1/watch?from={start}&kind=project", r.url))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut stream = resp;
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let line: Value = serde_json::from_slice(chunk.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["kind"], "project");
    assert_eq!(line["op"], "put");
    assert_eq!(line["revision"], start);
    assert_eq!(line["object"]["fq_name"], "default-domain:p");
    let (status, answer) = raw(&r, "GET", "/v1/watch?kind=bogus", None).await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (400, Some("kind"))
    );
    r.stop().await;
}

#[tokio::test]
async fn state_survives_a_restart_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.db");
    let open = || Arc::new(weft_store::SqliteStore::open(&path, Default::default()).unwrap());
    let r = Running::start(open()).await;
    project(&r, "p").await;
    let body = json!({"fq_name": "default-domain:p:n", "subnets": [{"cidr": "10.0.0.0/24"}]});
    raw(&r, "POST", "/v1/virtual-networks", Some(&body.to_string())).await;
    let first = r
        .client
        .create::<Ports>(&CreatePort::on("default-domain:p:n".parse().unwrap()))
        .await
        .unwrap();
    let second = r
        .client
        .create::<Ports>(&CreatePort::on("default-domain:p:n".parse().unwrap()))
        .await
        .unwrap();
    r.client
        .delete::<Ports>(&first.meta.id.to_string())
        .await
        .unwrap();
    let revision = r.client.info().await.unwrap().revision;
    r.stop().await;
    // Give the writer thread a moment to drop its store handle (the file lock).
    let r = loop {
        match weft_store::SqliteStore::open(&path, Default::default()) {
            Ok(store) => break Running::start(Arc::new(store)).await,
            Err(weft_store::StoreError::Locked { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(r.client.info().await.unwrap().revision, revision);
    let ports = r.client.list::<Ports>(&ListQuery::default()).await.unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0], second);
    // The released address is free again after the restart.
    let third = r
        .client
        .create::<Ports>(&CreatePort::on("default-domain:p:n".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(third.fixed_ips[0].ip_address, first.fixed_ips[0].ip_address);
    match r.client.get::<Ports>(&first.meta.id.to_string()).await {
        Err(ClientError::Api { status, .. }) => assert_eq!(status.as_u16(), 404),
        other => panic!("deleted port still readable: {other:?}"),
    }
    r.stop().await;
}
