//! Request extractors whose failures name the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; a bad one is answered with the path of the offending field.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = req.headers().get(CONTENT_TYPE) {
            let json = content_type
                .to_str()
                .ok()
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| {
                    let v = v.trim();
                    v == "application/json" || v.ends_with("+json")
                });
            if !json {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "the body must be application/json, not {content_type:?}"
                )));
            }
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::PayloadTooLarge(e.body_text()))?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses JSON, reporting the path of the first field that does not fit.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = result.map_err(|error| {
        let path = error.path().to_string();
        let inner = error.inner();
        let mut message = inner.to_string();
        // serde_json appends the position; the path says more.
        if let Some(at) = message.find(" at line ") {
            message.truncate(at);
        }
        if inner.is_eof() {
            message = "the body is empty or cut short".into();
        } else if inner.is_syntax() {
            message = format!(
                "the body is not valid JSON ({message}, line {} column {})",
                inner.line(),
                inner.column()
            );
        }
        let field = (path != "." && !path.is_empty()).then_some(path);
        if let Some(field) = &field {
            message = format!("{field}: {message}");
        }
        ApiError::Body { field, message }
    })?;
    deserializer.end().map_err(|_| ApiError::Body {
        field: None,
        message: "the body has data after its JSON value".into(),
    })?;
    Ok(value)
}
