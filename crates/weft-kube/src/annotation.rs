//! The annotations that put a pod (or every pod of a namespace) on a
//! network other than the cluster's default pod network.
//!
//! * `opencontrail.org/network: '{"domain":"default-domain","project":"k8s-contrail","name":"seamless"}'`
//!   — Tungsten Fabric's, accepted as is so TF manifests work unchanged.
//! * `weft.io/network: default-domain:k8s-contrail:seamless` — weft's own:
//!   the network's FQ name.
//!
//! Both on one object must agree. Order: the pod's annotation, then its
//! namespace's, then the cluster default.

use std::collections::BTreeMap;

use serde::Deserialize;
use weft_types::FqName;

use crate::names::{ClusterConfig, DOMAIN};

/// TF's annotation key.
pub const TF_NETWORK: &str = "opencontrail.org/network";
/// weft's annotation key.
pub const WEFT_NETWORK: &str = "weft.io/network";

/// A network annotation that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("annotation {key}: {reason}")]
pub struct AnnotationError {
    pub key: &'static str,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TfNetwork {
    #[serde(default)]
    domain: Option<String>,
    project: String,
    name: String,
}

fn tf_network(value: &str) -> Result<FqName, AnnotationError> {
    let bad = |reason: String| AnnotationError {
        key: TF_NETWORK,
        reason,
    };
    let parsed: TfNetwork = serde_json::from_str(value).map_err(|e| {
        bad(format!(
            "{value:?} is not {{\"domain\":…,\"project\":…,\"name\":…}}: {e}"
        ))
    })?;
    let domain = parsed.domain.unwrap_or_else(|| DOMAIN.to_owned());
    FqName::from_components([domain.trim(), parsed.project.trim(), parsed.name.trim()])
        .map_err(|e| bad(format!("{value:?} does not name a network: {e}")))
}

fn weft_network(value: &str) -> Result<FqName, AnnotationError> {
    let name: FqName = value.trim().parse().map_err(|e| AnnotationError {
        key: WEFT_NETWORK,
        reason: format!("{value:?} is not a network's domain:project:name: {e}"),
    })?;
    if name.components().len() != 3 {
        return Err(AnnotationError {
            key: WEFT_NETWORK,
            reason: format!("{value:?} is not a network's domain:project:name"),
        });
    }
    Ok(name)
}

/// The network an object's annotations ask for, if any.
pub fn network_of(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<FqName>, AnnotationError> {
    let tf = annotations
        .get(TF_NETWORK)
        .map(|v| tf_network(v))
        .transpose()?;
    let weft = annotations
        .get(WEFT_NETWORK)
        .map(|v| weft_network(v))
        .transpose()?;
    match (tf, weft) {
        (Some(a), Some(b)) if a != b => Err(AnnotationError {
            key: WEFT_NETWORK,
            reason: format!("names {b} but {TF_NETWORK} names {a}"),
        }),
        (a, b) => Ok(b.or(a)),
    }
}

/// Where a pod's port goes and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The network (`domain:project:name`).
    pub network: FqName,
    /// The project the port belongs to: always the pod's namespace's.
    pub project: FqName,
    /// What chose the network.
    pub source: PlacementSource,
}

/// What chose a pod's network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementSource {
    Pod,
    Namespace,
    ClusterDefault,
}

/// Why a pod cannot be placed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("pod {namespace}/{pod}: {error}")]
    Pod {
        namespace: String,
        pod: String,
        error: AnnotationError,
    },
    #[error("namespace {namespace} (of pod {namespace}/{pod}): {error}")]
    Namespace {
        namespace: String,
        pod: String,
        error: AnnotationError,
    },
}

/// The pod's network: its annotation, else its namespace's, else the
/// cluster's default pod network. A bad annotation is an error, not a
/// silent fall-back: the pod would otherwise land on a network its owner
/// did not ask for.
pub fn place(
    cluster: &ClusterConfig,
    namespace: &str,
    pod: &str,
    pod_annotations: &BTreeMap<String, String>,
    namespace_annotations: &BTreeMap<String, String>,
) -> Result<Placement, PlacementError> {
    let project = cluster.project_of(namespace);
    let from_pod = network_of(pod_annotations).map_err(|error| PlacementError::Pod {
        namespace: namespace.to_owned(),
        pod: pod.to_owned(),
        error,
    })?;
    if let Some(network) = from_pod {
        return Ok(Placement {
            network,
            project,
            source: PlacementSource::Pod,
        });
    }
    let from_ns = network_of(namespace_annotations).map_err(|error| PlacementError::Namespace {
        namespace: namespace.to_owned(),
        pod: pod.to_owned(),
        error,
    })?;
    Ok(match from_ns {
        Some(network) => Placement {
            network,
            project,
            source: PlacementSource::Namespace,
        },
        None => Placement {
            network: cluster.pod_network(),
            project,
            source: PlacementSource::ClusterDefault,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const SEED: &str =
        r#"{"domain":"default-domain", "project": "k8s-contrail", "name":"seamless"}"#;

    #[test]
    fn the_seed_annotation_names_the_seamless_network() {
        let n = network_of(&ann(&[(TF_NETWORK, SEED)])).expect("parses");
        assert_eq!(
            n.map(|n| n.to_string()).as_deref(),
            Some("default-domain:k8s-contrail:seamless")
        );
    }

    #[test]
    fn weft_annotation_and_agreement() {
        let n = network_of(&ann(&[(WEFT_NETWORK, "default-domain:p:n")])).expect("parses");
        assert_eq!(
            n.map(|n| n.to_string()).as_deref(),
            Some("default-domain:p:n")
        );
        let both = ann(&[
            (TF_NETWORK, SEED),
            (WEFT_NETWORK, "default-domain:k8s-contrail:seamless"),
        ]);
        assert!(network_of(&both).expect("agree").is_some());
        let clash = ann(&[(TF_NETWORK, SEED), (WEFT_NETWORK, "default-domain:p:n")]);
        let e = network_of(&clash).expect_err("disagree");
        assert!(e.to_string().contains("default-domain:p:n"), "{e}");
    }

    #[test]
    fn tf_annotation_without_domain_uses_default_domain() {
        let n = network_of(&ann(&[(TF_NETWORK, r#"{"project":"p","name":"n"}"#)])).expect("parses");
        assert_eq!(
            n.map(|n| n.to_string()).as_deref(),
            Some("default-domain:p:n")
        );
    }

    #[test]
    fn bad_annotations_say_what_is_wrong() {
        for (key, value, needle) in [
            (TF_NETWORK, "seamless", "is not {"),
            (TF_NETWORK, r#"{"project":"p"}"#, "name"),
            (
                TF_NETWORK,
                r#"{"project":"p","name":"n","x":1}"#,
                "unknown field",
            ),
            (TF_NETWORK, r#"{"project":"","name":"n"}"#, "does not name"),
            (WEFT_NETWORK, "p:n", "domain:project:name"),
            (WEFT_NETWORK, "", "domain:project:name"),
        ] {
            let e = network_of(&ann(&[(key, value)])).expect_err(value);
            assert_eq!(e.key, key);
            assert!(e.to_string().contains(needle), "{value}: {e}");
        }
    }

    #[test]
    fn pod_then_namespace_then_cluster_default() {
        let c = ClusterConfig::default();
        let none = BTreeMap::new();
        let ns = ann(&[(TF_NETWORK, SEED)]);
        let pod = ann(&[(WEFT_NETWORK, "default-domain:a:b")]);

        let p = place(&c, "seamless", "cont", &pod, &ns).expect("pod");
        assert_eq!(p.source, PlacementSource::Pod);
        assert_eq!(p.network.to_string(), "default-domain:a:b");
        assert_eq!(p.project.to_string(), "default-domain:k8s-seamless");

        let p = place(&c, "seamless", "cont", &none, &ns).expect("ns");
        assert_eq!(p.source, PlacementSource::Namespace);
        assert_eq!(
            p.network.to_string(),
            "default-domain:k8s-contrail:seamless"
        );

        let p = place(&c, "seamless", "cont", &none, &none).expect("default");
        assert_eq!(p.source, PlacementSource::ClusterDefault);
        assert_eq!(p.network, c.pod_network());
    }

    #[test]
    fn a_bad_annotation_names_the_pod() {
        let c = ClusterConfig::default();
        let bad = ann(&[(TF_NETWORK, "nope")]);
        let e = place(&c, "ns", "p1", &BTreeMap::new(), &bad).expect_err("bad ns");
        let text = e.to_string();
        assert!(
            text.contains("namespace ns") && text.contains("ns/p1"),
            "{text}"
        );
        let e = place(&c, "ns", "p1", &bad, &BTreeMap::new()).expect_err("bad pod");
        assert!(
            e.to_string()
                .starts_with("pod ns/p1: annotation opencontrail.org/network"),
            "{e}"
        );
    }
}
