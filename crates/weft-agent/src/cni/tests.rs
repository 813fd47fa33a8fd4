//! The endpoint without root: requests that need no namespace of their own
//! and no server, over a real unix socket.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use weft_api::cni::{CniAdd, CniPod, CniReply, CniRequest, CniTarget, code};
use weft_system::Netns;

use super::{CniService, CniSettings};

fn target(netns: Option<&str>, pod: bool) -> CniTarget {
    CniTarget {
        container_id: "c1".into(),
        ifname: "eth0".into(),
        netns: netns.map(str::to_owned),
        pod: pod.then(|| CniPod {
            namespace: "web".into(),
            name: "a".into(),
            uid: "6f1f0d7e-9a43-4c55-9d0f-2a8c3b1e0a01".into(),
        }),
    }
}

fn add(netns: Option<&str>, pod: bool) -> CniRequest {
    CniRequest::Add(CniAdd {
        target: target(netns, pod),
        cluster: None,
        mtu: None,
    })
}

fn code_of(reply: &CniReply) -> Option<u32> {
    match reply {
        CniReply::Error { code, .. } => Some(*code),
        _ => None,
    }
}

async fn ask(socket: &std::path::Path, line: &str) -> CniReply {
    let mut stream = UnixStream::connect(socket).await.unwrap();
    stream.write_all(line.as_bytes()).await.unwrap();
    stream.write_all(b"\n").await.unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).await.unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[tokio::test]
async fn refusals_carry_cni_codes_and_del_of_the_unknown_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = CniSettings::new(dir.path().join("cni.sock"), dir.path());
    // A server that is not there: ADD must say "try again later".
    settings.api = Some("http://127.0.0.1:9".into());
    let service = CniService::new(
        "n1".into(),
        Netns::current().unwrap(),
        std::net::Ipv4Addr::LOCALHOST,
        dir.path(),
        &settings,
    )
    .unwrap();
    let own = "/proc/self/ns/net";
    let missing = dir.path().join("gone").display().to_string();
    for (request, want) in [
        (add(None, true), code::INVALID_ENVIRONMENT),
        (add(Some(&missing), true), code::INVALID_ENVIRONMENT),
        (add(Some(own), false), code::INVALID_ENVIRONMENT),
        (add(Some(own), true), code::TRY_AGAIN_LATER),
        (
            CniRequest::Check(target(Some(own), true)),
            code::UNKNOWN_CONTAINER,
        ),
    ] {
        let reply = service.handle(request.clone()).await;
        assert_eq!(code_of(&reply), Some(want), "{request:?} → {reply:?}");
    }
    let mut bad = target(Some(own), true);
    bad.container_id = "../etc".into();
    assert_eq!(
        code_of(&service.handle(CniRequest::Del(bad)).await),
        Some(code::INVALID_ENVIRONMENT)
    );
    assert_eq!(
        service.handle(CniRequest::Del(target(None, true))).await,
        CniReply::Done
    );
    assert_eq!(service.handle(CniRequest::Status).await, CniReply::Done);

    // Without the server's API, STATUS says the plugin cannot serve ADD.
    let blind = CniService::new(
        "n1".into(),
        Netns::current().unwrap(),
        std::net::Ipv4Addr::LOCALHOST,
        dir.path(),
        &CniSettings::new(dir.path().join("b.sock"), dir.path()),
    )
    .unwrap();
    assert_eq!(
        code_of(&blind.handle(CniRequest::Status).await),
        Some(code::NOT_AVAILABLE)
    );
}

#[tokio::test]
async fn the_socket_answers_and_spooled_dels_are_drained() {
    let dir = tempfile::tempdir().unwrap();
    let settings = CniSettings::new(dir.path().join("run/cni.sock"), dir.path());
    // A DEL the plugin spooled while the agent was away.
    std::fs::create_dir_all(&settings.spool).unwrap();
    let spooled = settings.spool.join("c1.eth0.json");
    std::fs::write(&spooled, serde_json::to_vec(&target(None, true)).unwrap()).unwrap();
    let service = Arc::new(
        CniService::new(
            "n1".into(),
            Netns::current().unwrap(),
            std::net::Ipv4Addr::LOCALHOST,
            dir.path(),
            &settings,
        )
        .unwrap(),
    );
    let task = service.clone().serve(&settings).await.unwrap().unwrap();
    let reply = ask(
        &settings.socket,
        r#"{"command":"DEL","container_id":"c9","ifname":"eth0"}"#,
    )
    .await;
    assert_eq!(reply, CniReply::Done);
    let reply = ask(&settings.socket, "{not json").await;
    assert_eq!(code_of(&reply), Some(code::DECODE_FAILURE));
    for _ in 0..50 {
        if !spooled.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!spooled.exists(), "the spooled DEL is done and removed");

    // A second agent given the same socket leaves the live one alone.
    let second = Arc::new(
        CniService::new(
            "n1".into(),
            Netns::current().unwrap(),
            std::net::Ipv4Addr::LOCALHOST,
            dir.path(),
            &settings,
        )
        .unwrap(),
    );
    assert!(second.serve(&settings).await.unwrap().is_none());
    let reply = ask(&settings.socket, r#"{"command":"STATUS"}"#).await;
    assert_eq!(code_of(&reply), Some(code::NOT_AVAILABLE));
    task.abort();
}
