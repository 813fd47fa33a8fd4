//! The per-cluster bearer token, checked on every stream.
//!
//! [`TokenCheck`] is a tonic interceptor: a request without
//! `authorization: Bearer <token>` or with another token is refused with
//! `Unauthenticated` before the service sees it. The agent side adds the
//! header with [`bearer_value`].

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Why a token cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Empty tokens would let any client in.
    #[error("the cluster token is empty")]
    Empty,
    /// Not representable as an HTTP/2 header value.
    #[error("the cluster token has characters not allowed in a header")]
    NotAscii,
}

/// The `authorization` header value for `token`.
pub fn bearer_value(token: &str) -> Result<MetadataValue<Ascii>, AuthError> {
    if token.is_empty() {
        return Err(AuthError::Empty);
    }
    format!("Bearer {token}")
        .parse()
        .map_err(|_| AuthError::NotAscii)
}

/// Interceptor accepting only the cluster token.
#[derive(Clone)]
pub struct TokenCheck {
    expected: Vec<u8>,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCheck").finish_non_exhaustive()
    }
}

impl TokenCheck {
    /// Accepts `Bearer <token>`.
    pub fn new(token: &str) -> Result<Self, AuthError> {
        let value = bearer_value(token)?;
        Ok(Self {
            expected: value.as_bytes().to_vec(),
        })
    }

    /// Whether `presented` (the raw header value) carries the token.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        constant_time_eq(&self.expected, presented)
    }
}

impl Interceptor for TokenCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        match request.metadata().get("authorization") {
            Some(value) if self.accepts(value.as_bytes()) => Ok(request),
            _ => Err(Status::unauthenticated("missing or wrong cluster token")),
        }
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(header: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(h) = header {
            request
                .metadata_mut()
                .insert("authorization", h.parse().expect("ascii"));
        }
        request
    }

    #[test]
    fn only_the_cluster_token_passes() {
        let mut check = TokenCheck::new("s3cret").expect("token");
        assert!(check.call(request(Some("Bearer s3cret"))).is_ok());
        for bad in [
            None,
            Some("Bearer s3cre"),
            Some("s3cret"),
            Some("Bearer s3cret2"),
        ] {
            let status = check.call(request(bad)).expect_err("refused");
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
        }
    }

    #[test]
    fn empty_token_is_refused_at_construction() {
        assert_eq!(TokenCheck::new("").err(), Some(AuthError::Empty));
        assert_eq!(bearer_value("a\nb").err(), Some(AuthError::NotAscii));
    }
}
