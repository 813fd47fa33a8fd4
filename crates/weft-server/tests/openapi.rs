//! The OpenAPI document: served as generated, matching the committed copy,
//! internally consistent, and covering every route.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use common::Running;
use serde_json::Value;
use weft_api::{Resource, ResourceVisitor};
use weft_store::MemoryStore;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../api/openapi.json")
}

fn generated() -> Value {
    serde_json::to_value(weft_server::openapi::document()).unwrap()
}

/// `WEFT_UPDATE_GOLDEN=1 cargo test -p weft-server --test openapi` rewrites the copy.
#[test]
fn committed_document_matches_the_code() {
    let text = serde_json::to_string_pretty(&generated()).unwrap() + "\n";
    let path = committed_path();
    if std::env::var_os("WEFT_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with WEFT_UPDATE_GOLDEN=1)", path.display()));
    assert!(
        committed == text,
        "api/openapi.json is stale: the API changed. Rerun with WEFT_UPDATE_GOLDEN=1 and review the diff."
    );
}

#[test]
fn every_reference_resolves() {
    let doc = generated();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = BTreeSet::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("odd ref {r}"));
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
}

fn collect_refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.insert(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

struct Paths(Vec<(String, bool)>);

impl ResourceVisitor for Paths {
    fn visit<R: Resource>(&mut self) {
        self.0.push((R::PATH.to_owned(), R::UPDATABLE));
    }
}

#[tokio::test]
async fn served_document_is_the_generated_one_and_lists_every_route() {
    let r = Running::start(Arc::new(MemoryStore::new())).await;
    let served: Value = reqwest::get(format!("{}/openapi.json", r.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, generated());
    let mut paths = Paths(Vec::new());
    weft_api::visit_resources(&mut paths);
    for (path, updatable) in paths.0 {
        let item = &served["paths"][format!("{path}/{{target}}")];
        assert!(
            served["paths"][&path]["post"].is_object(),
            "{path} has no create"
        );
        assert!(
            item["get"].is_object() && item["delete"].is_object(),
            "{path} item ops"
        );
        assert_eq!(item["patch"].is_object(), updatable, "{path} patch");
        // And the server really answers on it.
        let status = reqwest::get(format!("{}{path}", r.url))
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 200, "{path}");
    }
    r.stop().await;
}
