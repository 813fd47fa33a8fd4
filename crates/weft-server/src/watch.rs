//! `GET /v1/watch`: the store's change feed as newline-delimited JSON.
//!
//! `?from=N` starts at revision N (default: the next revision), `?kind=port`
//! narrows to one kind. Each line is a `WatchEvent`; if the client falls too
//! far behind, a last line carries an error naming the revision to resume from.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use weft_api::{WatchEvent, WatchOp};
use weft_model::Kind;
use weft_store::{EventKind, StoreError, Watch, WatchError};

use crate::codec;
use crate::error::ApiError;
use crate::http::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchQuery {
    from: Option<u64>,
    kind: Option<String>,
}

pub(crate) async fn watch(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query: WatchQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).map_err(|e| ApiError::Query {
            field: "query".into(),
            message: format!("watch takes from=<revision> and kind=<kind>: {e}"),
        })?;
    let prefix = match &query.kind {
        Some(kind) => {
            let kind = Kind::parse(kind).ok_or_else(|| ApiError::Query {
                field: "kind".into(),
                message: format!("'{kind}' is not a kind of object"),
            })?;
            format!("{}{}/", codec::PREFIX, kind.as_str())
        }
        None => codec::PREFIX.to_owned(),
    };
    let store = state.store.clone();
    let from = match query.from {
        Some(from) => from,
        None => {
            store
                .revision()
                .map_err(|e| ApiError::Unavailable(e.to_string()))?
                + 1
        }
    };
    let watch = store.watch(&prefix, from).map_err(|e| match e {
        StoreError::Compacted { .. } => ApiError::Gone(e.to_string()),
        other => ApiError::Unavailable(other.to_string()),
    })?;
    let lines = futures::stream::unfold((Some(watch), state.closing.clone()), next_lines);
    Ok((
        [(CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response())
}

type Feed = (Option<Watch>, tokio::sync::watch::Receiver<bool>);

/// The next batch as JSON lines; after an error, one error line and the end;
/// nothing more once the server is closing.
async fn next_lines((watch, mut closing): Feed) -> Option<(Result<String, std::io::Error>, Feed)> {
    let mut watch = watch?;
    if *closing.borrow() {
        return None;
    }
    let next = tokio::select! {
        next = watch.next() => next,
        _ = closing.wait_for(|closed| *closed) => return None,
    };
    match next {
        Ok(batch) => {
            let mut out = String::new();
            for event in batch.events {
                let Ok((kind, id)) = codec::parse_key(&event.key) else {
                    continue;
                };
                let (op, object) = match event.kind {
                    EventKind::Put => (
                        WatchOp::Put,
                        event.value.and_then(|v| serde_json::from_slice(&v).ok()),
                    ),
                    EventKind::Delete => (WatchOp::Delete, None),
                };
                let line = WatchEvent {
                    revision: batch.revision,
                    kind: kind.as_str().to_owned(),
                    id,
                    op,
                    object,
                };
                if let Ok(text) = serde_json::to_string(&line) {
                    out.push_str(&text);
                    out.push('\n');
                }
            }
            Some((Ok(out), (Some(watch), closing)))
        }
        Err(WatchError::Lagged { resume_from }) => {
            let line = serde_json::json!({"error": {"type": "Lagged", "resume_from": resume_from,
                "message": format!("the watch fell behind; watch again from revision {resume_from}")}});
            Some((Ok(format!("{line}\n")), (None, closing)))
        }
        Err(_) => None,
    }
}
