//! The one place errors become HTTP responses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weft_api::{ErrorBody, ErrorDetail};
use weft_model::{ErrorClass, ModelError};

use crate::writer::WriteError;

/// Anything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The body is not JSON of the expected shape.
    #[error("{message}")]
    Body {
        field: Option<String>,
        message: String,
    },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A query parameter or path segment is unusable.
    #[error("{message}")]
    Query { field: String, message: String },
    #[error("no such path: {0}")]
    NoRoute(String),
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// Watch history no longer there.
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Refused(e) => ApiError::Model(e),
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, Option<String>) {
        match self {
            ApiError::Model(e) => {
                let status = match e.class() {
                    ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
                    ErrorClass::NotFound => StatusCode::NOT_FOUND,
                    ErrorClass::Conflict => StatusCode::CONFLICT,
                    ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                };
                let field = e.field().filter(|f| !f.is_empty()).map(str::to_owned);
                (status, e.code(), field)
            }
            ApiError::Body { field, .. } => {
                (StatusCode::BAD_REQUEST, "MalformedBody", field.clone())
            }
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                None,
            ),
            ApiError::PayloadTooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge", None)
            }
            ApiError::Query { field, .. } => {
                (StatusCode::BAD_REQUEST, "InvalidQuery", Some(field.clone()))
            }
            ApiError::NoRoute(_) => (StatusCode::NOT_FOUND, "NotFound", None),
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", None)
            }
            ApiError::Gone(_) => (StatusCode::GONE, "Compacted", None),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable", None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, field) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                kind: kind.to_owned(),
                field,
                message: self.to_string(),
            },
        };
        (status, Json(body)).into_response()
    }
}
