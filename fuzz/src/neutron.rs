//! The harness of the `neutron_api` target: a script of Neutron API
//! requests run in process against a fresh server on the in-memory store,
//! behind a fake Keystone with three users, with checks after every
//! response and at the end.
//!
//! A script is text, one request per line: `<method><who><path>[ <body>]`.
//! The method is `G` (GET), `P` (POST), `U` (PUT) or `D` (DELETE); who is
//! `a` (an admin), `m` (a member of project A), `o` (a member of project
//! B), anything else sends no token. `{N}` in the path or the body stands
//! for the id of the N-th object created so far.
//!
//! Checked: no request gets a 500 (the API's answer to a broken model);
//! what a success carries is JSON; a refusal in JSON is a
//! `NeutronError` with a type and a message (a 401: keystonemiddleware's
//! `error` with its code); and at the end, seen by the
//! admin, every port sits on a listed network, each of its addresses in a
//! listed subnet of that network and inside its CIDR, and no address of a
//! subnet is held twice.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use weft_neutron::{Auth, FixedTokens};
use weft_store::MemoryStore;
use weft_types::Prefix;

/// At most this many requests of a script are run.
pub const MAX_REQUESTS: usize = 24;

const ADMIN_P: &str = "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a0a";
const MEMBER_P: &str = "1b1b1b1b1b1b4b1b8b1b1b1b1b1b1b1b";
const OTHER_P: &str = "2c2c2c2c2c2c4c2c8c2c2c2c2c2c2c2c";

/// Three users, each a token: `admin`, `member` (project A), `other`
/// (project B).
fn keystone() -> Auth {
    Auth::Keystone(Arc::new(
        FixedTokens::new()
            .user("admin", ADMIN_P, "admin", "admin")
            .user("member", MEMBER_P, "member", "member")
            .user("other", OTHER_P, "other", "member"),
    ))
}

/// One request of a script.
#[derive(Debug)]
pub struct Call {
    method: Method,
    token: Option<&'static str>,
    path: String,
    body: String,
}

/// Reads a script; lines that are not requests are skipped.
pub fn parse(text: &str) -> Vec<Call> {
    text.lines()
        .filter_map(|line| {
            let mut chars = line.chars();
            let method = match chars.next()? {
                'G' => Method::GET,
                'P' => Method::POST,
                'U' => Method::PUT,
                'D' => Method::DELETE,
                _ => return None,
            };
            let token = match chars.next()? {
                'a' => Some("admin"),
                'm' => Some("member"),
                'o' => Some("other"),
                _ => None,
            };
            let rest = chars.as_str();
            let (path, body) = rest.split_once(' ').unwrap_or((rest, ""));
            path.starts_with('/').then(|| Call {
                method,
                token,
                path: path.to_owned(),
                body: body.to_owned(),
            })
        })
        .take(MAX_REQUESTS)
        .collect()
}

/// Runs `calls` against a fresh server and checks every answer and the
/// end state; panics on a finding.
pub fn run(calls: &[Call]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let router = weft_server::neutron_router(Arc::new(MemoryStore::new()), keystone())
            .expect("server over an empty store");
        let mut created: Vec<String> = Vec::new();
        for call in calls {
            let path = with_ids(&call.path, &created);
            let body = with_ids(&call.body, &created);
            let (status, answer) =
                send(&router, call.method.clone(), call.token, &path, body).await;
            check_answer(&call.method, &path, status, &answer);
            if status == StatusCode::CREATED {
                created.extend(ids_in(&answer));
            }
        }
        check_end_state(&router).await;
    });
}

fn with_ids(text: &str, ids: &[String]) -> String {
    let mut out = text.to_owned();
    for (n, id) in ids.iter().enumerate() {
        out = out.replace(&format!("{{{n}}}"), id);
    }
    out
}

async fn send(
    router: &axum::Router,
    method: Method,
    token: Option<&str>,
    path: &str,
    body: String,
) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("X-Auth-Token", token);
    }
    if !body.is_empty() {
        request = request.header("Content-Type", "application/json");
    }
    // A path the HTTP layer cannot carry is not a request the API sees.
    let Ok(request) = request.body(Body::from(body)) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, bytes.to_vec())
}

fn check_answer(method: &Method, path: &str, status: StatusCode, answer: &[u8]) {
    let text = String::from_utf8_lossy(answer);
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {path}: {text}"
    );
    let json = serde_json::from_slice::<Value>(answer).ok();
    if status.is_success() && !answer.is_empty() {
        assert!(json.is_some(), "{method} {path} {status}: not JSON: {text}");
    }
    if status.is_client_error()
        && let Some(body @ Value::Object(_)) = &json
    {
        // keystonemiddleware's envelope for a missing or bad token, as
        // in front of Neutron; Neutron's own otherwise.
        let well_formed = if status == StatusCode::UNAUTHORIZED {
            body["error"]["code"] == 401 && body["error"]["message"].is_string()
        } else {
            body["NeutronError"]["type"].is_string() && body["NeutronError"]["message"].is_string()
        };
        assert!(
            well_formed,
            "{method} {path} {status}: not a NeutronError: {text}"
        );
    }
}

/// The ids of what a create answered: `{"<kind>": {...}}` or `{"<kinds>": [...]}`.
fn ids_in(answer: &[u8]) -> Vec<String> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(answer) else {
        return Vec::new();
    };
    body.values()
        .flat_map(|v| match v {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        })
        .filter_map(|item| item["id"].as_str().map(str::to_owned))
        .collect()
}

async fn list(router: &axum::Router, collection: &str) -> Vec<Value> {
    let path = format!("/v2.0/{collection}");
    let (status, answer) = send(router, Method::GET, Some("admin"), &path, String::new()).await;
    assert_eq!(status, StatusCode::OK, "GET {path}");
    let body: Value = serde_json::from_slice(&answer).expect("list is JSON");
    body[collection.replace('-', "_")]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("GET {path}: no list"))
}

async fn check_end_state(router: &axum::Router) {
    let networks: BTreeSet<String> = list(router, "networks")
        .await
        .iter()
        .filter_map(|n| n["id"].as_str().map(str::to_owned))
        .collect();
    let subnets = list(router, "subnets").await;
    let subnet = |id: &str| subnets.iter().find(|s| s["id"] == id);
    let mut held: BTreeSet<(String, IpAddr)> = BTreeSet::new();
    for port in list(router, "ports").await {
        let network = port["network_id"].as_str().unwrap_or_default();
        assert!(networks.contains(network), "port on no network: {port}");
        for fixed in port["fixed_ips"].as_array().into_iter().flatten() {
            let subnet_id = fixed["subnet_id"].as_str().unwrap_or_default();
            let s = subnet(subnet_id).unwrap_or_else(|| panic!("port in no subnet: {port}"));
            assert_eq!(
                s["network_id"], network,
                "subnet of another network: {port}"
            );
            let ip: IpAddr = fixed["ip_address"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("unreadable address: {port}"));
            let cidr: Prefix = s["cidr"]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("unreadable cidr: {s}"));
            assert!(cidr.contains(ip), "{ip} outside {cidr}: {port}");
            assert!(
                held.insert((subnet_id.to_owned(), ip)),
                "{ip} held twice in {subnet_id}"
            );
        }
    }
}
