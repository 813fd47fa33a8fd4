//! The Neutron API of an in-process server, over HTTP: CRUD of every
//! resource, bulk create, filters, fields, pagination, sorting, the error
//! envelope, project isolation (with a fake Keystone), and the one IPAM
//! shared with `/v1`.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use weft_neutron::{Auth, FixedTokens};
use weft_server::{NeutronConfig, Server};
use weft_store::MemoryStore;

/// A `weft server` with the Neutron API, stopped when dropped.
struct Running {
    v1: String,
    neutron: String,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Running {
    async fn start(auth: Auth) -> Running {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let server = Server::with_store(Arc::new(MemoryStore::new()), any)
            .await
            .unwrap()
            .with_neutron(NeutronConfig { listen: any, auth })
            .await
            .unwrap();
        let v1 = format!("http://{}", server.local_addr().unwrap());
        let neutron = format!("http://{}", server.neutron_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            server
                .serve(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Running {
            v1,
            neutron,
            http: reqwest::Client::new(),
            _stop: stop,
        }
    }

    /// A Neutron request; `who` is a token (Keystone) or a project id (noauth).
    async fn call(
        &self,
        method: Method,
        path: &str,
        who: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.neutron));
        if let Some(who) = who {
            req = req
                .header("X-Auth-Token", who)
                .header("X-Project-Id", who)
                .header("X-Project-Name", who);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        (status, value)
    }

    async fn get(&self, path: &str, who: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(who), None).await
    }

    async fn post(&self, path: &str, who: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(who), Some(body)).await
    }

    async fn put(&self, path: &str, who: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(who), Some(body)).await
    }

    async fn delete(&self, path: &str, who: &str) -> StatusCode {
        self.call(Method::DELETE, path, Some(who), None).await.0
    }

    /// Deletes `path` and checks it is gone: a 404 of Neutron type `kind`.
    async fn assert_deleted(&self, path: &str, who: &str, kind: &str) {
        assert_eq!(
            self.delete(path, who).await,
            StatusCode::NO_CONTENT,
            "{path}"
        );
        assert_refused(self.get(path, who).await, StatusCode::NOT_FOUND, kind);
    }

    /// The `/v1` view of a Neutron network.
    async fn v1_network(&self, network: &Value) -> Value {
        let id = network["id"].as_str().unwrap();
        let url = format!("{}/v1/virtual-networks/{id}", self.v1);
        let resp = self.http.get(url).send().await.unwrap();
        resp.json().await.unwrap()
    }

    /// Creates one object and returns it.
    async fn create(&self, collection: &str, key: &str, who: &str, attrs: Value) -> Value {
        let (status, body) = self
            .post(&format!("/v2.0/{collection}"), who, json!({key: attrs}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body[key].clone()
    }
}

fn error_type(body: &Value) -> &str {
    body["NeutronError"]["type"].as_str().unwrap_or("")
}

/// Asserts a response is a refusal with `status` and Neutron error `kind`;
/// returns its message.
#[track_caller]
fn assert_refused(response: (StatusCode, Value), status: StatusCode, kind: &str) -> String {
    let (got, body) = response;
    assert_eq!((got, error_type(&body)), (status, kind), "{body}");
    body["NeutronError"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect()
}

const P: &str = "8e0b8ceca2704104a66667f5316a6dfa";

#[tokio::test]
async fn versions_and_extensions_describe_the_api() {
    let r = Running::start(Auth::NoAuth).await;
    let (status, body) = r.call(Method::GET, "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["versions"][0]["id"], "v2.0");
    assert_eq!(body["versions"][0]["status"], "CURRENT");
    let (_, body) = r.get("/v2.0/", P).await;
    assert_eq!(body["resources"].as_array().unwrap().len(), 6);
    let (status, body) = r.get("/v2.0/extensions", P).await;
    assert_eq!(status, StatusCode::OK);
    let aliases: Vec<&str> = body["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    assert_eq!(aliases, weft_neutron::extension_aliases());
    assert!(aliases.contains(&"security-group"));
    let (status, body) = r.get("/v2.0/extensions/binding", P).await;
    assert_eq!(
        (status, body["extension"]["alias"].clone()),
        (StatusCode::OK, json!("binding"))
    );
    let (status, body) = r.get("/v2.0/extensions/router", P).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "routers are not routed: not advertised"
    );
    assert_eq!(error_type(&body), "ExtensionNotFound");
    for served in [
        "standard-attr-tag",
        "tag-ports-during-bulk-creation",
        "net-mtu",
        "net-mtu-writable",
        "rbac-security-groups",
    ] {
        assert!(aliases.contains(&served), "{served}");
    }
    // Network RBAC (what Neutron's rbac-policies alias promises) is not done.
    assert!(!aliases.contains(&"rbac-policies"));
}

#[tokio::test]
async fn networks_crud_bulk_fields_and_errors() {
    let r = Running::start(Auth::NoAuth).await;
    let net = r
        .create(
            "networks",
            "network",
            P,
            json!({"name": "net1", "admin_state_up": true}),
        )
        .await;
    assert_eq!(net["name"], "net1");
    assert_eq!(net["tenant_id"], P);
    assert_eq!(net["project_id"], P);
    assert_eq!(net["status"], "ACTIVE");
    assert_eq!(net["subnets"], json!([]));
    assert_eq!(net["shared"], false);
    assert_eq!(net["router:external"], false);
    assert_eq!(net["revision_number"], 1);
    assert_eq!(net["tags"], json!([]));
    assert!(net["mtu"].as_u64().is_some());
    let id = net["id"].as_str().unwrap().to_owned();

    let (status, body) = r
        .post(
            "/v2.0/networks",
            P,
            json!({"networks": [{"name": "b1"}, {"name": "b2"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(names(&body["networks"]), ["b1", "b2"]);

    // A bulk create with a bad item makes nothing.
    assert_refused(
        r.post(
            "/v2.0/networks",
            P,
            json!({"networks": [{"name": "c1"}, {"name": "c2", "bogus": 1}]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "HTTPBadRequest",
    );
    let (_, body) = r.get("/v2.0/networks?name=c1", P).await;
    assert_eq!(body["networks"], json!([]));

    let (status, body) = r
        .get(&format!("/v2.0/networks/{id}?fields=id&fields=name"), P)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["network"], json!({"id": id, "name": "net1"}));

    let (status, body) = r
        .put(
            &format!("/v2.0/networks/{id}"),
            P,
            json!({"network": {"name": "renamed", "description": "d"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["network"]["name"], "renamed");
    assert_eq!(body["network"]["revision_number"], 2);

    // Neutron allows repeated and empty names; FQ names stay unique.
    let twin = r
        .create("networks", "network", P, json!({"name": "b1"}))
        .await;
    assert_eq!(twin["name"], "b1");
    let anonymous = r.create("networks", "network", P, json!({})).await;
    assert_eq!(anonymous["name"], "");
    let (_, body) = r.get("/v2.0/networks?name=b1", P).await;
    assert_eq!(body["networks"].as_array().unwrap().len(), 2);

    // Names are not ids: 404, so clients retry with ?name=.
    let (status, body) = r.get("/v2.0/networks/renamed", P).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_type(&body), "NetworkNotFound");
    assert_eq!(body["NeutronError"]["detail"], "");

    assert_eq!(
        r.delete(&format!("/v2.0/networks/{id}"), P).await,
        StatusCode::NO_CONTENT
    );
    let (status, body) = r.get(&format!("/v2.0/networks/{id}"), P).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["NeutronError"]["message"],
        format!("Network {id} could not be found.")
    );

    assert_refused(
        r.post("/v2.0/networks", P, json!({"net": {}})).await,
        StatusCode::BAD_REQUEST,
        "HTTPBadRequest",
    );
    assert_refused(
        r.post(
            "/v2.0/networks",
            P,
            json!({"network": {"admin_state_up": "maybe"}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    );
}

#[tokio::test]
async fn lists_filter_sort_and_paginate() {
    let r = Running::start(Auth::NoAuth).await;
    for name in ["d", "b", "e", "a", "c"] {
        r.create("networks", "network", P, json!({"name": name}))
            .await;
    }
    let (_, body) = r.get("/v2.0/networks?name=a&name=c", P).await;
    let mut found = names(&body["networks"]);
    found.sort();
    assert_eq!(found, ["a", "c"]);
    let (_, body) = r.get("/v2.0/networks?shared=False&name=e", P).await;
    assert_eq!(names(&body["networks"]), ["e"]);
    let (_, body) = r
        .get(&format!("/v2.0/networks?project_id={P}&shared=true"), P)
        .await;
    assert_eq!(body["networks"], json!([]));

    let (status, body) = r.get("/v2.0/networks?foo=bar", P).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["NeutronError"]["message"],
        "['foo'] is invalid attribute for filtering"
    );

    let (_, body) = r.get("/v2.0/networks?sort_key=name&sort_dir=desc", P).await;
    assert_eq!(names(&body["networks"]), ["e", "d", "c", "b", "a"]);
    let (status, _) = r.get("/v2.0/networks?sort_key=nope", P).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Walk forward two at a time by the next links, then back.
    let mut seen = Vec::new();
    let mut path = "/v2.0/networks?limit=2&sort_key=name&sort_dir=asc".to_owned();
    let mut last_body = Value::Null;
    for _ in 0..5 {
        let (status, body) = r.get(&path, P).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(names(&body["networks"]).into_iter().map(str::to_owned));
        let links = body["networks_links"].as_array().unwrap().clone();
        last_body = body;
        match links.iter().find(|l| l["rel"] == "next") {
            Some(next) => {
                let href = next["href"].as_str().unwrap();
                path = href
                    .split_once("/v2.0/")
                    .map(|(_, p)| format!("/v2.0/{p}"))
                    .unwrap();
            }
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    let previous = last_body["networks_links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "previous")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(previous.contains("page_reverse=True"), "{previous}");
    let path = previous
        .split_once("/v2.0/")
        .map(|(_, p)| format!("/v2.0/{p}"))
        .unwrap();
    let (_, body) = r.get(&path, P).await;
    assert_eq!(names(&body["networks"]), ["c", "d"]);

    let (_, body) = r
        .get("/v2.0/networks?fields=name&sort_key=name&limit=1", P)
        .await;
    assert_eq!(body["networks"], json!([{"name": "a"}]));
}

#[tokio::test]
async fn subnets_ports_and_the_ipam_shared_with_v1() {
    let r = Running::start(Auth::NoAuth).await;
    let who = "k8s-contrail";
    let net = r
        .create("networks", "network", who, json!({"name": "seamless"}))
        .await;
    let net_id = net["id"].as_str().unwrap().to_owned();
    let subnet = r
        .create(
            "subnets",
            "subnet",
            who,
            json!({"network_id": net_id, "ip_version": 4, "cidr": "192.168.1.0/24", "name": "s1"}),
        )
        .await;
    assert_eq!(subnet["gateway_ip"], "192.168.1.1");
    assert_eq!(subnet["enable_dhcp"], true);
    assert_eq!(subnet["host_routes"], json!([]));
    assert_eq!(subnet["dns_nameservers"], json!([]));
    assert!(
        subnet["allocation_pools"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
    let subnet_id = subnet["id"].as_str().unwrap().to_owned();
    let (_, body) = r.get(&format!("/v2.0/networks/{net_id}"), who).await;
    assert_eq!(body["network"]["subnets"], json!([subnet_id]));

    let (status, body) = r
        .post(
            "/v2.0/subnets",
            who,
            json!({"subnet": {"network_id": net_id, "ip_version": 4, "cidr": "10.0.0.0/33"}}),
        )
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (StatusCode::BAD_REQUEST, "InvalidInput")
    );

    // The Neutron port takes .3; a /v1 port on the same VN takes .4.
    let port = r
        .create(
            "ports",
            "port",
            who,
            json!({"network_id": net_id, "name": "p1"}),
        )
        .await;
    assert_eq!(
        port["fixed_ips"],
        json!([{"subnet_id": subnet_id, "ip_address": "192.168.1.3"}])
    );
    assert!(
        port["mac_address"]
            .as_str()
            .unwrap()
            .starts_with("fa:16:3e:")
    );
    assert_eq!(port["status"], "DOWN");
    assert_eq!(port["binding:vif_type"], "unbound");
    assert_eq!(port["binding:vnic_type"], "normal");
    assert_eq!(port["binding:host_id"], "");
    assert_eq!(port["binding:profile"], json!({}));
    assert_eq!(port["allowed_address_pairs"], json!([]));
    assert_eq!(port["port_security_enabled"], true);
    let (_, groups) = r.get("/v2.0/security-groups?name=default", who).await;
    let default_id = groups["security_groups"][0]["id"].clone();
    assert_eq!(port["security_groups"], json!([default_id]));

    let v1 = r
        .http
        .post(format!("{}/v1/ports", r.v1))
        .json(&json!({"network": "default-domain:k8s-contrail:seamless", "name": "pod"}))
        .send()
        .await
        .unwrap();
    assert_eq!(v1.status(), StatusCode::CREATED);
    let v1: Value = v1.json().await.unwrap();
    assert_eq!(v1["fixed_ips"][0]["ip_address"], "192.168.1.4");
    let (_, body) = r
        .get("/v2.0/ports?fixed_ips=ip_address%3D192.168.1.4", who)
        .await;
    assert_eq!(ids(&body["ports"]), [v1["id"].as_str().unwrap()]);

    assert_refused(
        r.post(
            "/v2.0/ports",
            who,
            json!({"port": {"network_id": net_id, "fixed_ips": [{"ip_address": "192.168.1.3"}]}}),
        )
        .await,
        StatusCode::CONFLICT,
        "IpAddressAlreadyAllocated",
    );

    let port_id = port["id"].as_str().unwrap().to_owned();
    let (status, body) = r
        .put(
            &format!("/v2.0/ports/{port_id}"),
            who,
            json!({"port": {"binding:host_id": "os-compute", "device_owner": "compute:nova"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["port"]["binding:vif_type"], "tap");
    assert_eq!(body["port"]["binding:host_id"], "os-compute");
    let (_, body) = r
        .get("/v2.0/ports?device_owner=compute:nova&fields=id", who)
        .await;
    assert_eq!(body["ports"], json!([{"id": port_id}]));

    let (status, body) = r
        .put(
            &format!("/v2.0/subnets/{subnet_id}"),
            who,
            json!({"subnet": {"name": "s2", "dns_nameservers": ["8.8.8.8"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subnet"]["dns_nameservers"], json!(["8.8.8.8"]));
    assert_refused(
        r.call(
            Method::DELETE,
            &format!("/v2.0/subnets/{subnet_id}"),
            Some(who),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "SubnetInUse",
    );
    assert_refused(
        r.call(
            Method::DELETE,
            &format!("/v2.0/networks/{net_id}"),
            Some(who),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "NetworkInUse",
    );
    r.assert_deleted(&format!("/v2.0/ports/{port_id}"), who, "PortNotFound")
        .await;
}

#[tokio::test]
async fn security_groups_and_rules() {
    let r = Running::start(Auth::NoAuth).await;
    let (_, body) = r.get("/v2.0/security-groups?name=default", P).await;
    let default = &body["security_groups"][0];
    assert_eq!(default["tenant_id"], P);
    assert_eq!(default["security_group_rules"].as_array().unwrap().len(), 4);

    let sg = r
        .create(
            "security-groups",
            "security_group",
            P,
            json!({"name": "web", "description": "web"}),
        )
        .await;
    let sg_id = sg["id"].as_str().unwrap().to_owned();
    let rules = sg["security_group_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert!(rules.iter().all(|r| r["direction"] == "egress"));

    let rule = json!({"security_group_id": sg_id, "direction": "ingress", "protocol": "tcp",
                      "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0",
                      "ethertype": "IPv4"});
    let made = r
        .create(
            "security-group-rules",
            "security_group_rule",
            P,
            rule.clone(),
        )
        .await;
    assert_eq!(made["protocol"], "tcp");
    assert_eq!(made["port_range_min"], 22);
    assert_eq!(made["remote_group_id"], Value::Null);
    assert_refused(
        r.post(
            "/v2.0/security-group-rules",
            P,
            json!({"security_group_rule": rule}),
        )
        .await,
        StatusCode::CONFLICT,
        "SecurityGroupRuleExists",
    );
    assert_refused(
        r.post(
            "/v2.0/security-group-rules",
            P,
            json!({"security_group_rule": {"security_group_id": sg_id, "direction": "sideways"}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    );

    let (_, body) = r
        .get(
            &format!("/v2.0/security-group-rules?security_group_id={sg_id}&direction=ingress"),
            P,
        )
        .await;
    assert_eq!(
        ids(&body["security_group_rules"]),
        [made["id"].as_str().unwrap()]
    );

    let (status, body) = r
        .put(
            &format!("/v2.0/security-groups/{sg_id}"),
            P,
            json!({"security_group": {"name": "www"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["security_group"]["name"], "www");
    assert_eq!(
        body["security_group"]["security_group_rules"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let rule_id = made["id"].as_str().unwrap();
    r.assert_deleted(
        &format!("/v2.0/security-group-rules/{rule_id}"),
        P,
        "SecurityGroupRuleNotFound",
    )
    .await;
    r.assert_deleted(
        &format!("/v2.0/security-groups/{sg_id}"),
        P,
        "SecurityGroupNotFound",
    )
    .await;
}

#[tokio::test]
async fn stateless_security_groups() {
    let r = Running::start(Auth::NoAuth).await;
    let (_, body) = r.get("/v2.0/extensions/stateful-security-group", P).await;
    assert_eq!(body["extension"]["alias"], "stateful-security-group");

    let tracked = r
        .create(
            "security-groups",
            "security_group",
            P,
            json!({"name": "tracked"}),
        )
        .await;
    assert_eq!(tracked["stateful"], true, "stateful unless told otherwise");
    let raw = r
        .create(
            "security-groups",
            "security_group",
            P,
            json!({"name": "raw", "stateful": false}),
        )
        .await;
    assert_eq!(raw["stateful"], false);
    let raw_id = raw["id"].as_str().unwrap().to_owned();
    let tracked_id = tracked["id"].as_str().unwrap().to_owned();

    // Bulk, and a filter on the attribute.
    let (status, body) = r
        .post(
            "/v2.0/security-groups",
            P,
            json!({"security_groups": [{"name": "b1", "stateful": false}, {"name": "b2", "stateful": "False"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        body["security_groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["stateful"] == false)
    );
    let (_, body) = r.get("/v2.0/security-groups?stateful=false", P).await;
    let mut stateless = names(&body["security_groups"]);
    stateless.sort_unstable();
    assert_eq!(stateless, ["b1", "b2", "raw"]);
    let (_, body) = r
        .get("/v2.0/security-groups?stateful=true&fields=name", P)
        .await;
    let mut stateful = names(&body["security_groups"]);
    stateful.sort_unstable();
    assert_eq!(stateful, ["default", "tracked"]);

    assert_refused(
        r.post(
            "/v2.0/security-groups",
            P,
            json!({"security_group": {"name": "odd", "stateful": "maybe"}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    );

    // Unused: the statefulness may change both ways.
    let path = format!("/v2.0/security-groups/{tracked_id}");
    for want in [false, true] {
        let (status, body) = r
            .put(&path, P, json!({"security_group": {"stateful": want}}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["security_group"]["stateful"], want);
        let (_, body) = r.get(&path, P).await;
        assert_eq!(body["security_group"]["stateful"], want);
    }

    let net = r
        .create("networks", "network", P, json!({"name": "n"}))
        .await;
    r.create(
        "subnets",
        "subnet",
        P,
        json!({"network_id": net["id"], "ip_version": 4, "cidr": "10.9.0.0/24"}),
    )
    .await;
    // One port cannot have both kinds (Neutron's SecurityGroupConflict).
    let message = assert_refused(
        r.post(
            "/v2.0/ports",
            P,
            json!({"port": {"network_id": net["id"], "security_groups": [raw_id, tracked_id]}}),
        )
        .await,
        StatusCode::CONFLICT,
        "SecurityGroupConflict",
    );
    assert!(
        message.contains("Cannot apply both stateful and stateless security groups"),
        "{message}"
    );
    let port = r
        .create(
            "ports",
            "port",
            P,
            json!({"network_id": net["id"], "security_groups": [raw_id]}),
        )
        .await;
    let port_id = port["id"].as_str().unwrap().to_owned();
    assert_refused(
        r.put(
            &format!("/v2.0/ports/{port_id}"),
            P,
            json!({"port": {"security_groups": [raw_id, tracked_id]}}),
        )
        .await,
        StatusCode::CONFLICT,
        "SecurityGroupConflict",
    );

    // In use: the statefulness is fixed (Neutron's SecurityGroupInUse),
    // while other attributes, and the same value, still change.
    let raw_path = format!("/v2.0/security-groups/{raw_id}");
    assert_refused(
        r.put(&raw_path, P, json!({"security_group": {"stateful": true}}))
            .await,
        StatusCode::CONFLICT,
        "SecurityGroupInUse",
    );
    let (status, body) = r
        .put(
            &raw_path,
            P,
            json!({"security_group": {"stateful": false, "description": "no tracking"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["security_group"]["description"], "no tracking");
    assert_eq!(
        r.delete(&format!("/v2.0/ports/{port_id}"), P).await,
        StatusCode::NO_CONTENT
    );
    let (status, body) = r
        .put(&raw_path, P, json!({"security_group": {"stateful": true}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["security_group"]["stateful"], true);
}

/// Tokens `admin`, `alice` (member of project a) and `bob` (member of b).
fn fake_keystone() -> Auth {
    Auth::Keystone(Arc::new(
        FixedTokens::new()
            .user("admin", "admin-id", "admin", "admin")
            .user("alice", "a-id", "a", "member")
            .user("bob", "b-id", "b", "member"),
    ))
}

#[tokio::test]
async fn tokens_scope_what_each_project_sees() {
    let r = Running::start(fake_keystone()).await;
    let (status, body) = r.call(Method::GET, "/v2.0/networks", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], 401);
    let (status, _) = r.get("/v2.0/networks", "forged").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = r.call(Method::GET, "/", None, None).await;
    assert_eq!(status, StatusCode::OK);

    let net = r
        .create("networks", "network", "alice", json!({"name": "private"}))
        .await;
    assert_eq!(net["project_id"], "a-id");
    let id = net["id"].as_str().unwrap();
    let (_, body) = r.get("/v2.0/networks", "bob").await;
    assert_eq!(body["networks"], json!([]));
    assert_refused(
        r.get(&format!("/v2.0/networks/{id}"), "bob").await,
        StatusCode::NOT_FOUND,
        "NetworkNotFound",
    );
    assert_eq!(
        r.delete(&format!("/v2.0/networks/{id}"), "bob").await,
        StatusCode::NOT_FOUND
    );
    let (_, body) = r.get("/v2.0/networks", "admin").await;
    assert_eq!(ids(&body["networks"]), [id]);
    let (_, body) = r.get("/v2.0/security-groups", "bob").await;
    assert_eq!(
        body["security_groups"].as_array().unwrap().len(),
        1,
        "only bob's default group"
    );

    // binding:* is admin-only to set; another project needs admin.
    assert_refused(
        r.post(
            "/v2.0/ports",
            "alice",
            json!({"port": {"network_id": id, "binding:host_id": "h"}}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "PolicyNotAuthorized",
    );
    let (status, _) = r
        .post(
            "/v2.0/networks",
            "alice",
            json!({"network": {"name": "x", "project_id": "b-id"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let made = r
        .create(
            "networks",
            "network",
            "admin",
            json!({"name": "for-b", "project_id": "b-id"}),
        )
        .await;
    assert_eq!(made["project_id"], "b-id");
    let (_, body) = r.get("/v2.0/networks", "bob").await;
    assert_eq!(names(&body["networks"]), ["for-b"]);
    let (status, body) = r
        .post(
            "/v2.0/ports",
            "admin",
            json!({"port": {"network_id": id, "binding:host_id": "h"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["port"]["binding:vif_type"], "tap");
}

/// What tempest showed Neutron does and clients rely on: `null` UUIDs, bulk
/// items wrapped in their singular key, a subnet's `shared` filter, the
/// overlap wording clients retry on, IPv6 address modes, the agents list.
#[tokio::test]
async fn neutron_details_clients_rely_on() {
    let r = Running::start(Auth::NoAuth).await;
    let sg = r
        .create(
            "security-groups",
            "security_group",
            P,
            json!({"name": "web"}),
        )
        .await;
    let (status, body) = r
        .post(
            "/v2.0/security-group-rules",
            P,
            json!({"security_group_rule": {"security_group_id": sg["id"], "direction": "ingress",
                   "protocol": "tcp", "remote_group_id": null, "remote_ip_prefix": null}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["security_group_rule"]["remote_group_id"], Value::Null);

    let (status, body) = r
        .post(
            "/v2.0/security-groups",
            P,
            json!({"security_groups": [{"security_group": {"name": "b1"}},
                                       {"security_group": {"name": "b2"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(names(&body["security_groups"]), ["b1", "b2"]);

    let net = r
        .create("networks", "network", P, json!({"name": "n"}))
        .await;
    let net_id = net["id"].as_str().unwrap();
    let subnet = |cidr: &str, extra: Value| {
        let mut s = json!({"network_id": net_id, "cidr": cidr,
                           "ip_version": if cidr.contains(':') { 6 } else { 4 }});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        json!({"subnet": s})
    };
    let (status, _) = r
        .post("/v2.0/subnets", P, subnet("10.1.0.0/24", json!({})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = r
        .post("/v2.0/subnets", P, subnet("10.1.0.0/25", json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["NeutronError"]["message"].as_str().unwrap();
    assert!(
        message.contains("overlaps with another subnet"),
        "{message}"
    );

    let (status, body) = r.get("/v2.0/subnets?shared=False", P).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subnets"].as_array().unwrap().len(), 1);
    assert!(body["subnets"][0].get("shared").is_none(), "{body}");
    let (_, body) = r.get("/v2.0/subnets?shared=True", P).await;
    assert_eq!(body["subnets"], json!([]));

    // IPv6 modes: recorded, only on IPv6, and they must agree.
    assert_refused(
        r.post(
            "/v2.0/subnets",
            P,
            subnet("10.2.0.0/24", json!({"ipv6_address_mode": "slaac"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    );
    let (status, _) = r
        .post(
            "/v2.0/subnets",
            P,
            subnet(
                "2001:db8::/64",
                json!({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = r
        .post(
            "/v2.0/subnets",
            P,
            subnet(
                "2001:db8::/64",
                json!({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v6 = body["subnet"].clone();
    assert_eq!(v6["ipv6_ra_mode"], "slaac");
    assert_eq!(v6["ipv6_address_mode"], "slaac");
    let port = r
        .create("ports", "port", P, json!({"network_id": net_id}))
        .await;
    assert_eq!(port["fixed_ips"].as_array().unwrap().len(), 2, "{port}");
    // On a SLAAC subnet the address is the EUI-64 one, from the MAC.
    let mac: Vec<u8> = port["mac_address"]
        .as_str()
        .unwrap()
        .split(':')
        .map(|o| u8::from_str_radix(o, 16).unwrap())
        .collect();
    let eui64 = format!(
        "2001:db8::{:x}:{:x}:{:x}:{:x}",
        u16::from_be_bytes([mac[0] ^ 2, mac[1]]),
        u16::from_be_bytes([mac[2], 0xff]),
        u16::from_be_bytes([0xfe, mac[3]]),
        u16::from_be_bytes([mac[4], mac[5]])
    );
    let v6_ip = port["fixed_ips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subnet_id"] == v6["id"])
        .map(|f| f["ip_address"].as_str().unwrap().to_owned());
    assert_eq!(v6_ip, Some(eui64), "{port}");
    // A SLAAC subnet goes from under its ports; they lose its address.
    let v6_id = v6["id"].as_str().unwrap();
    assert_eq!(
        r.delete(&format!("/v2.0/subnets/{v6_id}"), P).await,
        StatusCode::NO_CONTENT
    );
    let (_, body) = r
        .get(&format!("/v2.0/ports/{}", port["id"].as_str().unwrap()), P)
        .await;
    assert_eq!(
        body["port"]["fixed_ips"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    // The IPv4 subnet, whose address the port still holds, does not.
    let (status, _) = r
        .call(
            Method::DELETE,
            &format!(
                "/v2.0/subnets/{}",
                body["port"]["fixed_ips"][0]["subnet_id"].as_str().unwrap()
            ),
            Some(P),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = r
        .call(
            Method::DELETE,
            &format!("/v2.0/networks/{net_id}"),
            Some(P),
            None,
        )
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (StatusCode::CONFLICT, "NetworkInUse")
    );
    let message = body["NeutronError"]["message"].as_str().unwrap();
    assert!(
        message.contains("There are one or more ports still in use on the network"),
        "{message}"
    );

    // A remote prefix is shown as given, and normalised beside it.
    let (status, body) = r
        .post(
            "/v2.0/security-group-rules",
            P,
            json!({"security_group_rule": {"security_group_id": sg["id"], "direction": "ingress",
                   "remote_ip_prefix": "10.0.0.34/24"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["security_group_rule"]["remote_ip_prefix"],
        "10.0.0.34/24"
    );
    assert_eq!(
        body["security_group_rule"]["normalized_cidr"],
        "10.0.0.0/24"
    );
    let (status, body) = r
        .post(
            "/v2.0/security-group-rules",
            P,
            json!({"security_group_rule": {"security_group_id": sg["id"], "direction": "ingress",
                   "remote_ip_prefix": "10.0.0.0/24"}}),
        )
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (StatusCode::CONFLICT, "SecurityGroupRuleExists"),
        "the same rule once normalised"
    );

    // Service types: a port takes its automatic address from the subnet
    // that serves its device owner.
    let typed = r
        .create("networks", "network", P, json!({"name": "typed"}))
        .await;
    for (cidr, service) in [
        ("192.168.1.0/24", "test:type_1"),
        ("192.168.2.0/24", "test:type_2"),
    ] {
        let made = r
            .create(
                "subnets",
                "subnet",
                P,
                json!({"network_id": typed["id"], "cidr": cidr, "ip_version": 4,
                       "service_types": [service, "network:distributed"]}),
            )
            .await;
        assert_eq!(
            made["service_types"],
            json!([service, "network:distributed"])
        );
    }
    for (owner, prefix) in [("test:type_2", "192.168.2."), ("test:type_1", "192.168.1.")] {
        let port = r
            .create(
                "ports",
                "port",
                P,
                json!({"network_id": typed["id"], "device_owner": owner}),
            )
            .await;
        let ip = port["fixed_ips"][0]["ip_address"].as_str().unwrap();
        assert!(ip.starts_with(prefix), "{owner}: {ip}");
    }
    let (status, body) = r
        .post(
            "/v2.0/ports",
            P,
            json!({"port": {"network_id": typed["id"]}}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "no subnet serves it: {body}"
    );

    // Integers may come as strings; a network's port security is its new
    // ports' default.
    let open = r
        .create(
            "networks",
            "network",
            P,
            json!({"name": "open", "port_security_enabled": false}),
        )
        .await;
    assert_eq!(open["port_security_enabled"], false);
    r.create(
        "subnets",
        "subnet",
        P,
        json!({"network_id": open["id"], "cidr": "10.5.0.0/24", "ip_version": "4"}),
    )
    .await;
    let port = r
        .create("ports", "port", P, json!({"network_id": open["id"]}))
        .await;
    assert_eq!(port["port_security_enabled"], false);
    assert_eq!(port["security_groups"], json!([]));
    let (_, body) = r
        .put(
            &format!("/v2.0/networks/{}", open["id"].as_str().unwrap()),
            P,
            json!({"network": {"port_security_enabled": true}}),
        )
        .await;
    assert_eq!(body["network"]["port_security_enabled"], true);
    let port = r
        .create("ports", "port", P, json!({"network_id": open["id"]}))
        .await;
    assert_eq!(port["port_security_enabled"], true);
    assert_eq!(port["security_groups"].as_array().unwrap().len(), 1);

    let (status, body) = r.get("/v2.0/agents?agent_type=DHCP+Agent", P).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"agents": []})));
}

#[tokio::test]
async fn tags_of_every_tagged_resource() {
    let r = Running::start(Auth::NoAuth).await;
    let net = r
        .create(
            "networks",
            "network",
            P,
            json!({"name": "t", "tags": ["red"]}),
        )
        .await;
    assert_eq!(net["tags"], json!(["red"]));
    let tags = format!("/v2.0/networks/{}/tags", net["id"].as_str().unwrap());
    let (status, _) = r
        .call(Method::PUT, &format!("{tags}/blue"), Some(P), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, body) = r.get(&tags, P).await;
    assert_eq!(body, json!({"tags": ["red", "blue"]}));
    let (status, _) = r.get(&format!("{tags}/blue"), P).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_refused(
        r.get(&format!("{tags}/green"), P).await,
        StatusCode::NOT_FOUND,
        "TagNotFound",
    );
    let (_, body) = r.get("/v2.0/networks?tags=blue", P).await;
    assert_eq!(names(&body["networks"]), ["t"]);
    let (_, body) = r.get("/v2.0/networks?not-tags-any=blue", P).await;
    assert_eq!(body["networks"], json!([]));

    let (status, body) = r.put(&tags, P, json!({"tags": ["a", "b", "a"]})).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"tags": ["a", "b"]}))
    );
    assert_eq!(
        r.delete(&format!("{tags}/a"), P).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        r.delete(&format!("{tags}/a"), P).await,
        StatusCode::NOT_FOUND
    );
    let (_, body) = r
        .get(
            &format!("/v2.0/networks/{}", net["id"].as_str().unwrap()),
            P,
        )
        .await;
    assert_eq!(body["network"]["tags"], json!(["b"]));
    assert_eq!(r.delete(&tags, P).await, StatusCode::NO_CONTENT);
    let (_, body) = r.get(&tags, P).await;
    assert_eq!(body, json!({"tags": []}));
    let (status, _) = r.put(&tags, P, json!({"tags": [""]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Ports of a bulk create take their own tags; groups and subnets have tags too.
    let (status, body) = r
        .post(
            "/v2.0/ports",
            P,
            json!({"ports": [{"port": {"network_id": net["id"], "tags": ["x", "y"]}},
                             {"port": {"network_id": net["id"]}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["ports"][0]["tags"], json!(["x", "y"]));
    assert_eq!(body["ports"][1]["tags"], json!([]));
    let sg = r
        .create("security-groups", "security_group", P, json!({"name": "g"}))
        .await;
    let path = format!(
        "/v2.0/security-groups/{}/tags/k",
        sg["id"].as_str().unwrap()
    );
    let (status, _) = r.call(Method::PUT, &path, Some(P), None).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, body) = r.get("/v2.0/security-groups?tags-any=k,z", P).await;
    assert_eq!(names(&body["security_groups"]), ["g"]);
}

#[tokio::test]
async fn routers_keep_their_interface_ports() {
    let r = Running::start(Auth::NoAuth).await;
    let net = r
        .create("networks", "network", P, json!({"name": "n"}))
        .await;
    r.create(
        "subnets",
        "subnet",
        P,
        json!({"network_id": net["id"], "cidr": "10.9.0.0/24", "ip_version": 4}),
    )
    .await;
    let router = r
        .create(
            "routers",
            "router",
            P,
            json!({"name": "r1", "admin_state_up": false, "external_gateway_info": {}}),
        )
        .await;
    assert_eq!(router["admin_state_up"], false);
    assert_eq!(router["project_id"], P);
    let rid = router["id"].as_str().unwrap();
    assert_refused(
        r.post(
            "/v2.0/routers",
            P,
            json!({"router": {"external_gateway_info": {"network_id": net["id"]}}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    );

    let port = r
        .create("ports", "port", P, json!({"network_id": net["id"]}))
        .await;
    let pid = port["id"].as_str().unwrap();
    let add = format!("/v2.0/routers/{rid}/add_router_interface");
    let (status, body) = r.put(&add, P, json!({"port_id": pid})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["port_id"], pid);
    assert_eq!(body["subnet_ids"].as_array().unwrap().len(), 1);
    assert_refused(
        r.put(&add, P, json!({"port_id": pid})).await,
        StatusCode::CONFLICT,
        "PortInUse",
    );
    let (_, body) = r.get(&format!("/v2.0/ports?device_id={rid}"), P).await;
    assert_eq!(ids(&body["ports"]), [pid]);
    assert_eq!(body["ports"][0]["device_owner"], "network:router_interface");

    assert_refused(
        r.call(Method::DELETE, &format!("/v2.0/ports/{pid}"), Some(P), None)
            .await,
        StatusCode::CONFLICT,
        "L3PortInUse",
    );
    assert_refused(
        r.call(
            Method::DELETE,
            &format!("/v2.0/routers/{rid}"),
            Some(P),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "RouterInUse",
    );

    let remove = format!("/v2.0/routers/{rid}/remove_router_interface");
    let (status, body) = r.put(&remove, P, json!({"port_id": pid})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = r.get(&format!("/v2.0/ports/{pid}"), P).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "removing an interface deletes its port"
    );
    let (status, body) = r.put(&remove, P, json!({"port_id": pid})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, body) = r
        .put(
            &format!("/v2.0/routers/{rid}"),
            P,
            json!({"router": {"name": "r2"}}),
        )
        .await;
    assert_eq!(body["router"]["name"], "r2");
    assert_eq!(
        r.delete(&format!("/v2.0/routers/{rid}"), P).await,
        StatusCode::NO_CONTENT
    );
    let (_, body) = r.get("/v2.0/routers", P).await;
    assert_eq!(body["routers"], json!([]));
}

/// A member may not delete its project's default group; an admin deletes
/// it with the (otherwise empty) project, and the next request makes both
/// again.
#[tokio::test]
async fn default_group_goes_only_with_its_project() {
    let r = Running::start(fake_keystone()).await;
    let (_, body) = r.get("/v2.0/security-groups?name=default", "alice").await;
    let default = body["security_groups"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v2.0/security-groups/{default}");
    assert_refused(
        r.call(Method::DELETE, &path, Some("alice"), None).await,
        StatusCode::CONFLICT,
        "SecurityGroupCannotRemoveDefault",
    );
    let net = r
        .create("networks", "network", "alice", json!({"name": "keep"}))
        .await;
    let (status, body) = r.call(Method::DELETE, &path, Some("admin"), None).await;
    assert_eq!(
        (status, error_type(&body)),
        (StatusCode::CONFLICT, "SecurityGroupInUse"),
        "the project still owns a network"
    );
    assert_eq!(
        r.delete(
            &format!("/v2.0/networks/{}", net["id"].as_str().unwrap()),
            "alice"
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(r.delete(&path, "admin").await, StatusCode::NO_CONTENT);
    let (status, _) = r.get(&path, "admin").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = r.get("/v2.0/security-groups?name=default", "alice").await;
    let again = body["security_groups"][0]["id"].as_str().unwrap();
    assert_ne!(again, default, "a new default group");
}

/// Quotas: Neutron's defaults for groups and rules, set per project by an
/// admin, enforced on create, reset by DELETE.
#[tokio::test]
async fn quotas_limit_what_a_project_creates() {
    let r = Running::start(fake_keystone()).await;
    let (status, body) = r.get("/v2.0/quotas/a-id", "alice").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["quota"]["security_group"], 10);
    assert_eq!(body["quota"]["security_group_rule"], 100);
    assert_eq!(body["quota"]["port"], -1);
    let (status, _) = r.get("/v2.0/quotas/b-id", "alice").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another project's quotas");
    let (status, _) = r
        .put(
            "/v2.0/quotas/a-id",
            "alice",
            json!({"quota": {"security_group": 50}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "members do not set quotas");

    // alice's project has its default group: one more group is allowed.
    let (status, body) = r
        .put(
            "/v2.0/quotas/a-id",
            "admin",
            json!({"quota": {"security_group": 2, "force": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["quota"]["security_group"], 2);
    r.create(
        "security-groups",
        "security_group",
        "alice",
        json!({"name": "one"}),
    )
    .await;
    assert_refused(
        r.post(
            "/v2.0/security-groups",
            "alice",
            json!({"security_group": {"name": "two"}}),
        )
        .await,
        StatusCode::CONFLICT,
        "OverQuota",
    );
    let (_, body) = r.get("/v2.0/quotas/a-id/details", "alice").await;
    assert_eq!(
        body["quota"]["security_group"],
        json!({"limit": 2, "used": 2, "reserved": 0})
    );
    let (_, body) = r.get("/v2.0/quotas", "admin").await;
    assert_eq!(body["quotas"][0]["project_id"], "a-id");

    let (status, _) = r
        .put("/v2.0/quotas/a-id", "admin", json!({"quota": {"port": -2}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = r
        .put(
            "/v2.0/quotas/a-id",
            "admin",
            json!({"quota": {"widgets": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = r
        .put(
            "/v2.0/quotas/a-id",
            "admin",
            json!({"quota": {"port": 2_147_483_648_i64}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "limits are 32-bit");
    // A new group comes with two egress rules, which count too.
    let (status, _) = r
        .put(
            "/v2.0/quotas/a-id",
            "admin",
            json!({"quota": {"security_group": -1, "security_group_rule": 0}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_refused(
        r.post(
            "/v2.0/security-groups",
            "alice",
            json!({"security_group": {"name": "r"}}),
        )
        .await,
        StatusCode::CONFLICT,
        "OverQuota",
    );
    assert_eq!(
        r.delete("/v2.0/quotas/a-id", "admin").await,
        StatusCode::NO_CONTENT
    );
    // An admin listing a project's groups makes the project's default group
    // (Neutron does), so quotas set from that count are right.
    let (_, body) = r
        .get("/v2.0/security-groups?project_id=c-id", "admin")
        .await;
    assert_eq!(names(&body["security_groups"]), ["default"]);
    r.create(
        "security-groups",
        "security_group",
        "alice",
        json!({"name": "two"}),
    )
    .await;
    let (_, body) = r.get("/v2.0/quotas/a-id/default", "alice").await;
    assert_eq!(body["quota"]["security_group"], 10);
}

const ADMIN_P: &str = "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a0a";
const ALICE_P: &str = "1b1b1b1b1b1b4b1b8b1b1b1b1b1b1b1b";
const BOB_P: &str = "2c2c2c2c2c2c4c2c8c2c2c2c2c2c2c2c";
const CAROL_P: &str = "3d3d3d3d3d3d4d3d8d3d3d3d3d3d3d3d";

/// Keystone projects with UUID-like ids (RBAC targets must be), and one
/// project, `carol`, that no token belongs to: only its name can be asked.
fn rbac_keystone() -> Auth {
    Auth::Keystone(Arc::new(
        FixedTokens::new()
            .user("admin", ADMIN_P, "admin", "admin")
            .user("alice", ALICE_P, "alice", "member")
            .user("bob", BOB_P, "bob", "member")
            .project(CAROL_P, "carol"),
    ))
}

fn policy_body(object: &str, target: &str) -> Value {
    json!({"rbac_policy": {"object_type": "security_group", "object_id": object,
                           "action": "access_as_shared", "target_tenant": target}})
}

/// rbac-policies and rbac-security-groups as Neutron: an admin shares its
/// group with alice, who then sees it (shared) and uses it on her port but
/// cannot change it; bob sees nothing; nobody but admin sees the policy; a
/// policy alice's port depends on can be neither deleted nor retargeted.
#[tokio::test]
async fn rbac_policies_share_security_groups() {
    let r = Running::start(rbac_keystone()).await;
    let sg = r
        .create(
            "security-groups",
            "security_group",
            "admin",
            json!({"name": "shared-sg"}),
        )
        .await;
    let sg_id = sg["id"].as_str().unwrap().to_owned();
    let sg_path = format!("/v2.0/security-groups/{sg_id}");
    assert_eq!(r.get(&sg_path, "alice").await.0, StatusCode::NOT_FOUND);

    // Validation and policy, with Neutron's types.
    let message = assert_refused(
        r.post("/v2.0/rbac-policies", "alice", policy_body(&sg_id, ALICE_P))
            .await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    );
    assert!(
        message.contains("Only admins can manipulate policies on objects they do not own"),
        "{message}"
    );
    let own = r
        .create(
            "security-groups",
            "security_group",
            "alice",
            json!({"name": "alices"}),
        )
        .await;
    assert_refused(
        r.post(
            "/v2.0/rbac-policies",
            "alice",
            policy_body(own["id"].as_str().unwrap(), "*"),
        )
        .await,
        StatusCode::FORBIDDEN,
        "PolicyNotAuthorized",
    );
    for (bad, what) in [
        (policy_body(&sg_id, "not-a-project"), "valid target project"),
        (
            json!({"rbac_policy": {"object_type": "security_group", "object_id": sg_id,
                                   "action": "access_as_external", "target_tenant": ALICE_P}}),
            "Invalid action",
        ),
        (
            json!({"rbac_policy": {"object_type": "router", "object_id": sg_id,
                                   "action": "access_as_shared", "target_tenant": ALICE_P}}),
            "not a valid RBAC object type",
        ),
        (
            json!({"rbac_policy": {"object_type": "security_group", "object_id": "nope",
                                   "action": "access_as_shared", "target_tenant": ALICE_P}}),
            "not a valid UUID",
        ),
    ] {
        let (status, body) = r.post("/v2.0/rbac-policies", "admin", bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = body["NeutronError"]["message"].as_str().unwrap();
        assert!(message.contains(what), "{message}");
    }
    let (status, body) = r
        .post(
            "/v2.0/rbac-policies",
            "admin",
            json!({"rbac_policy": {"object_type": "security_group", "action": "access_as_shared",
                                   "target_tenant": ALICE_P}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["NeutronError"]["message"]
            .as_str()
            .unwrap()
            .contains("Required attribute 'object_id'")
    );

    // Shared with alice.
    let (status, body) = r
        .post("/v2.0/rbac-policies", "admin", policy_body(&sg_id, ALICE_P))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let policy = body["rbac_policy"].clone();
    let policy_id = policy["id"].as_str().unwrap().to_owned();
    assert_eq!(policy["object_type"], "security_group");
    assert_eq!(policy["object_id"], sg_id.as_str());
    assert_eq!(policy["action"], "access_as_shared");
    assert_eq!(policy["target_tenant"], ALICE_P);
    assert_eq!(policy["project_id"], ADMIN_P);
    assert_eq!(policy["tenant_id"], ADMIN_P);
    assert_refused(
        r.post("/v2.0/rbac-policies", "admin", policy_body(&sg_id, ALICE_P))
            .await,
        StatusCode::CONFLICT,
        "DuplicateRbacPolicy",
    );

    let (status, body) = r.get(&sg_path, "alice").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["security_group"]["shared"], true);
    assert_eq!(
        body["security_group"]["security_group_rules"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "a shared group shows its rules"
    );
    let (_, body) = r.get(&sg_path, "admin").await;
    assert_eq!(
        body["security_group"]["shared"], false,
        "not shared with admin"
    );
    let (_, body) = r.get("/v2.0/security-groups?shared=True", "alice").await;
    assert_eq!(ids(&body["security_groups"]), [sg_id.as_str()]);
    assert_eq!(r.get(&sg_path, "bob").await.0, StatusCode::NOT_FOUND);
    // Shared for use, not for change.
    let (status, _) = r
        .put(
            &sg_path,
            "alice",
            json!({"security_group": {"name": "mine"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = r
        .post(
            "/v2.0/security-group-rules",
            "alice",
            json!({"security_group_rule": {"security_group_id": sg_id, "direction": "ingress"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Only the policy's project sees it, not its target.
    let (_, body) = r.get("/v2.0/rbac-policies", "alice").await;
    assert_eq!(body["rbac_policies"], json!([]));
    assert_refused(
        r.get(&format!("/v2.0/rbac-policies/{policy_id}"), "alice")
            .await,
        StatusCode::NOT_FOUND,
        "RbacPolicyNotFound",
    );
    let (_, body) = r.get("/v2.0/rbac-policies", "admin").await;
    assert_eq!(body["rbac_policies"], json!([policy.clone()]));
    let (_, body) = r
        .get(
            &format!("/v2.0/rbac-policies?id={policy_id}&fields=id&fields=action"),
            "admin",
        )
        .await;
    assert_eq!(
        body["rbac_policies"],
        json!([{"id": policy_id, "action": "access_as_shared"}])
    );
    let (status, _) = r.get("/v2.0/rbac-policies?object_name=x", "admin").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // alice's port uses the shared group; bob may not.
    let net = r
        .create("networks", "network", "alice", json!({"name": "n"}))
        .await;
    let net_id = net["id"].as_str().unwrap();
    r.create(
        "subnets",
        "subnet",
        "alice",
        json!({"network_id": net_id, "cidr": "10.9.0.0/24", "ip_version": 4}),
    )
    .await;
    let port = r
        .create(
            "ports",
            "port",
            "alice",
            json!({"network_id": net_id, "security_groups": [sg_id]}),
        )
        .await;
    assert_eq!(port["security_groups"], json!([sg_id]));
    let bobs = r
        .create("networks", "network", "bob", json!({"name": "n"}))
        .await;
    assert_refused(
        r.post(
            "/v2.0/ports",
            "bob",
            json!({"port": {"network_id": bobs["id"], "security_groups": [sg_id]}}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "SecurityGroupNotFound",
    );

    // In use: neither deleted nor moved to bob; widening to '*' is fine.
    let policy_path = format!("/v2.0/rbac-policies/{policy_id}");
    assert_refused(
        r.call(Method::DELETE, &policy_path, Some("admin"), None)
            .await,
        StatusCode::CONFLICT,
        "RbacPolicyInUse",
    );
    assert_refused(
        r.put(
            &policy_path,
            "admin",
            json!({"rbac_policy": {"target_tenant": BOB_P}}),
        )
        .await,
        StatusCode::CONFLICT,
        "RbacPolicyInUse",
    );
    let (status, body) = r
        .put(
            &policy_path,
            "admin",
            json!({"rbac_policy": {"object_id": sg_id}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = r
        .put(
            &policy_path,
            "admin",
            json!({"rbac_policy": {"target_tenant": "*"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rbac_policy"]["target_tenant"], "*");
    let (_, body) = r.get(&sg_path, "bob").await;
    assert_eq!(body["security_group"]["shared"], true, "shared with all");
    // '*' goes only once alice is covered by a policy of her own.
    assert_eq!(r.delete(&policy_path, "admin").await, StatusCode::CONFLICT);
    let (_, body) = r
        .post("/v2.0/rbac-policies", "admin", policy_body(&sg_id, ALICE_P))
        .await;
    let alices = format!(
        "/v2.0/rbac-policies/{}",
        body["rbac_policy"]["id"].as_str().unwrap()
    );
    assert_eq!(
        r.delete(&policy_path, "admin").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(r.get(&sg_path, "bob").await.0, StatusCode::NOT_FOUND);
    assert_eq!(r.delete(&alices, "admin").await, StatusCode::CONFLICT);
    assert_eq!(
        r.delete(
            &format!("/v2.0/ports/{}", port["id"].as_str().unwrap()),
            "alice"
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(r.delete(&alices, "admin").await, StatusCode::NO_CONTENT);
    assert_eq!(r.get(&sg_path, "alice").await.0, StatusCode::NOT_FOUND);

    // A group's policies go with it.
    r.post("/v2.0/rbac-policies", "admin", policy_body(&sg_id, BOB_P))
        .await;
    assert_eq!(r.delete(&sg_path, "admin").await, StatusCode::NO_CONTENT);
    let (_, body) = r.get("/v2.0/rbac-policies", "admin").await;
    assert_eq!(body["rbac_policies"], json!([]));
}

/// net-mtu-writable as Neutron: set on create and update, 0 for the
/// largest, too big refused, and subnets' IP versions need 68 / 1280.
#[tokio::test]
async fn network_mtu_is_writable_and_checked() {
    let r = Running::start(Auth::NoAuth).await;
    let net = r
        .create(
            "networks",
            "network",
            P,
            json!({"name": "small", "mtu": 68}),
        )
        .await;
    assert_eq!(net["mtu"], 68);
    let path = format!("/v2.0/networks/{}", net["id"].as_str().unwrap());
    let (status, body) = r.put(&path, P, json!({"network": {"mtu": 1280}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["network"]["mtu"], 1280);
    assert_eq!(r.get(&path, P).await.1["network"]["mtu"], 1280);
    let (status, body) = r.put(&path, P, json!({"network": {"mtu": 1451}})).await;
    assert_eq!(
        (status, body["NeutronError"]["message"].as_str().unwrap()),
        (
            StatusCode::BAD_REQUEST,
            "Invalid input for operation: Requested MTU is too big, maximum is 1450."
        )
    );
    let (status, _) = r.put(&path, P, json!({"network": {"mtu": -1}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, body) = r.put(&path, P, json!({"network": {"mtu": 0}})).await;
    assert_eq!(body["network"]["mtu"], 1450, "0: the largest that fits");
    let (_, body) = r.get("/v2.0/networks?mtu=1450&name=small", P).await;
    assert_eq!(names(&body["networks"]), ["small"]);

    // A network too small for its subnets' IP version.
    let tiny = r
        .create("networks", "network", P, json!({"name": "tiny", "mtu": 67}))
        .await;
    assert_refused(
        r.post(
            "/v2.0/subnets",
            P,
            json!({"subnet": {"network_id": tiny["id"], "cidr": "10.0.0.0/24", "ip_version": 4}}),
        )
        .await,
        StatusCode::CONFLICT,
        "NetworkMTUSubnetConflict",
    );
    let v6 = r
        .create("networks", "network", P, json!({"name": "v6", "mtu": 1280}))
        .await;
    r.create(
        "subnets",
        "subnet",
        P,
        json!({"network_id": v6["id"], "cidr": "2001:db8::/64", "ip_version": 6}),
    )
    .await;
    let v6_path = format!("/v2.0/networks/{}", v6["id"].as_str().unwrap());
    let (status, body) = r.put(&v6_path, P, json!({"network": {"mtu": 1279}})).await;
    assert_eq!(
        (status, body["NeutronError"]["message"].clone()),
        (
            StatusCode::CONFLICT,
            json!(format!(
                "MTU of {} is not valid, subnet requires a minimum of 1280",
                v6["id"].as_str().unwrap()
            ))
        )
    );
}

/// Neutron's revision plugin: a rule revises its group, a subnet its
/// network, on create and delete.
#[tokio::test]
async fn children_revise_their_parents() {
    let r = Running::start(Auth::NoAuth).await;
    let sg = r
        .create("security-groups", "security_group", P, json!({"name": "g"}))
        .await;
    let sg_path = format!("/v2.0/security-groups/{}", sg["id"].as_str().unwrap());
    let revision = |body: &Value, key: &str| body[key]["revision_number"].as_u64().unwrap();
    let before = sg["revision_number"].as_u64().unwrap();
    let rule = r
        .create(
            "security-group-rules",
            "security_group_rule",
            P,
            json!({"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp"}),
        )
        .await;
    let after_create = revision(&r.get(&sg_path, P).await.1, "security_group");
    assert!(after_create > before, "{after_create} > {before}");
    r.delete(
        &format!(
            "/v2.0/security-group-rules/{}",
            rule["id"].as_str().unwrap()
        ),
        P,
    )
    .await;
    let after_delete = revision(&r.get(&sg_path, P).await.1, "security_group");
    assert!(after_delete > after_create);

    let net = r
        .create("networks", "network", P, json!({"name": "n"}))
        .await;
    let net_path = format!("/v2.0/networks/{}", net["id"].as_str().unwrap());
    let before = net["revision_number"].as_u64().unwrap();
    let subnet = r
        .create(
            "subnets",
            "subnet",
            P,
            json!({"network_id": net["id"], "cidr": "10.1.0.0/24", "ip_version": 4}),
        )
        .await;
    let after_create = revision(&r.get(&net_path, P).await.1, "network");
    assert!(after_create > before);
    let subnet_path = format!("/v2.0/subnets/{}", subnet["id"].as_str().unwrap());
    r.put(&subnet_path, P, json!({"subnet": {"name": "s"}}))
        .await;
    let after_update = revision(&r.get(&net_path, P).await.1, "network");
    assert!(after_update > after_create);
    r.delete(&subnet_path, P).await;
    let after_delete = revision(&r.get(&net_path, P).await.1, "network");
    assert!(after_delete > after_update);
}

/// A project an admin names before any of its users calls is named after
/// its Keystone name (asked with the service's credentials), so its
/// networks get the FQ names Kubernetes annotations use.
#[tokio::test]
async fn projects_first_named_by_an_admin_take_their_keystone_name() {
    let r = Running::start(rbac_keystone()).await;
    let net = r
        .create(
            "networks",
            "network",
            "admin",
            json!({"name": "carols", "project_id": CAROL_P}),
        )
        .await;
    assert_eq!(net["project_id"], CAROL_P);
    let vn = r.v1_network(&net).await;
    assert_eq!(vn["fq_name"], "default-domain:carol:carols", "{vn}");
    // An id Keystone does not know keeps the id as the name.
    let unknown = "4e4e4e4e4e4e4e4e8e4e4e4e4e4e4e4e";
    let net = r
        .create(
            "networks",
            "network",
            "admin",
            json!({"name": "x", "project_id": unknown}),
        )
        .await;
    let vn = r.v1_network(&net).await;
    assert_eq!(vn["fq_name"], format!("default-domain:{unknown}:x"));
}

/// revision-if-match: `If-Match: revision_number=N` holds an update or a
/// delete to the object's current revision (412 otherwise), as Neutron.
#[tokio::test]
async fn if_match_holds_changes_to_a_revision() {
    let r = Running::start(Auth::NoAuth).await;
    let net = r
        .create("networks", "network", P, json!({"name": "n"}))
        .await;
    let path = format!("/v2.0/networks/{}", net["id"].as_str().unwrap());
    let current = net["revision_number"].as_u64().unwrap();
    let with_if_match = |method: Method, tag: String, body: Option<Value>| {
        let mut req = r
            .http
            .request(method, format!("{}{path}", r.neutron))
            .header("X-Project-Id", P)
            .header("If-Match", tag);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send()
    };
    let rename = json!({"network": {"name": "m"}});
    let stale = with_if_match(
        Method::PUT,
        format!("revision_number={}", current - 1),
        Some(rename.clone()),
    )
    .await
    .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(error_type(&body), "RevisionNumberConstraintFailed");
    assert_eq!(r.get(&path, P).await.1["network"]["name"], "n", "unchanged");
    let bad = with_if_match(
        Method::PUT,
        "revision_number=x".into(),
        Some(rename.clone()),
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let fresh = with_if_match(
        Method::PUT,
        format!("revision_number={current}"),
        Some(rename),
    )
    .await
    .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    let stale = with_if_match(Method::DELETE, format!("revision_number={current}"), None)
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let fresh = with_if_match(
        Method::DELETE,
        format!("\"revision_number={}\"", current + 1),
        None,
    )
    .await
    .unwrap();
    assert_eq!(fresh.status(), StatusCode::NO_CONTENT);
}
