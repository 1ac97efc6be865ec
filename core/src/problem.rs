//! The RFC 9457 problem body every API error uses, and its stable machine codes.

use crate::intent::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, machine-readable error code. Clients branch on this, never on `title` or
/// `detail`, which are for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ProblemCode {
    /// The body is not JSON, or not the JSON this endpoint takes.
    MalformedBody,
    /// The body is well formed but a field breaks a rule; `errors` lists each.
    ValidationFailed,
    UnsupportedMediaType,
    PayloadTooLarge,
    IdempotencyKeyMissing,
    IdempotencyKeyInvalid,
    /// The key was used before with a different payload; `differing_fields` names them.
    IdempotencyKeyReused,
    /// The key's first request is still running; retry after `Retry-After`.
    IdempotencyKeyInFlight,
    /// The `local_id` names a stored message with another text or sender.
    LocalIdReused,
    Unauthenticated,
    InvalidCredentials,
    /// Unknown resource, or one the caller may not see (the two look the same).
    NotFound,
    MethodNotAllowed,
    /// A cookie-authenticated unsafe request from another site.
    CrossSiteRequest,
    RateLimited,
    /// The request (its body, usually) did not arrive in time; the connection is closed.
    RequestTimeout,
    Internal,
    Unavailable,
}

impl ProblemCode {
    pub const fn status(self) -> u16 {
        match self {
            Self::MalformedBody | Self::IdempotencyKeyMissing | Self::IdempotencyKeyInvalid => 400,
            Self::Unauthenticated | Self::InvalidCredentials => 401,
            Self::CrossSiteRequest => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::IdempotencyKeyInFlight => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::ValidationFailed | Self::IdempotencyKeyReused | Self::LocalIdReused => 422,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    pub const fn title(self) -> &'static str {
        match self {
            Self::MalformedBody => "Malformed request body",
            Self::ValidationFailed => "Invalid request",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge => "Request body too large",
            Self::IdempotencyKeyMissing => "Idempotency-Key header missing",
            Self::IdempotencyKeyInvalid => "Idempotency-Key header invalid",
            Self::IdempotencyKeyReused => "Idempotency-Key reused with a different request",
            Self::IdempotencyKeyInFlight => "A request with this Idempotency-Key is in progress",
            Self::LocalIdReused => "local_id reused for a different message",
            Self::Unauthenticated => "Sign-in required",
            Self::InvalidCredentials => "Wrong username or password",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::CrossSiteRequest => "Cross-site request refused",
            Self::RateLimited => "Too many requests",
            Self::RequestTimeout => "Request not received in time",
            Self::Internal => "Internal server error",
            Self::Unavailable => "Service unavailable",
        }
    }

    /// The stable code, as it appears in the `code` member.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedBody => "malformed_body",
            Self::ValidationFailed => "validation_failed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::IdempotencyKeyMissing => "idempotency_key_missing",
            Self::IdempotencyKeyInvalid => "idempotency_key_invalid",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            Self::LocalIdReused => "local_id_reused",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::CrossSiteRequest => "cross_site_request",
            Self::RateLimited => "rate_limited",
            Self::RequestTimeout => "request_timeout",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    pub const ALL: [Self; 18] = [
        Self::MalformedBody,
        Self::ValidationFailed,
        Self::UnsupportedMediaType,
        Self::PayloadTooLarge,
        Self::IdempotencyKeyMissing,
        Self::IdempotencyKeyInvalid,
        Self::IdempotencyKeyReused,
        Self::IdempotencyKeyInFlight,
        Self::LocalIdReused,
        Self::Unauthenticated,
        Self::InvalidCredentials,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::CrossSiteRequest,
        Self::RateLimited,
        Self::RequestTimeout,
        Self::Internal,
        Self::Unavailable,
    ];

    /// The problem type URI (relative, resolved against the API's origin).
    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.as_str())
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `application/problem+json` body (RFC 9457) with our extension members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ProblemCode,
    /// Each field that broke a rule (`validation_failed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request fields that differ from the first use of a key or local_id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differing_fields: Vec<String>,
    /// Seconds to wait before retrying (mirrors the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    pub const CONTENT_TYPE: &'static str = "application/problem+json";

    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            type_uri: code.type_uri(),
            title: code.title().to_owned(),
            status: code.status(),
            detail: detail.into(),
            code,
            errors: Vec::new(),
            differing_fields: Vec::new(),
            retry_after_secs: None,
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_differing_fields(mut self, fields: Vec<String>) -> Self {
        self.differing_fields = fields;
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.status, self.detail)
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_serde_name_and_a_client_error_status_unless_server_side() {
        for code in ProblemCode::ALL {
            let name = code.as_str();
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::json!(name))
            );
            let server_side = matches!(code, ProblemCode::Internal | ProblemCode::Unavailable);
            assert_eq!(code.status() >= 500, server_side, "{name}");
        }
    }

    #[test]
    fn problem_serializes_per_rfc_9457() {
        let problem = Problem::new(
            ProblemCode::IdempotencyKeyReused,
            "The key was first used for another message.",
        )
        .with_differing_fields(vec!["initial_message.text".into()]);
        let json = serde_json::to_value(&problem).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "type": "/problems/idempotency_key_reused",
                "title": "Idempotency-Key reused with a different request",
                "status": 422,
                "detail": "The key was first used for another message.",
                "code": "idempotency_key_reused",
                "differing_fields": ["initial_message.text"],
            })
        );
        assert_eq!(serde_json::from_value::<Problem>(json).ok(), Some(problem));
    }
}
