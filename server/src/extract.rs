//! Extractors whose rejections are our problem bodies, so malformed input always gets a
//! clear 4xx in the same format as every other error (the axum `customize-extractor-error`
//! example's `via` derive).

use crate::error::ApiError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum_client_ip::ClientIp;
use messaging_core::{IDEMPOTENCY_KEY_HEADER, IdempotencyKey, ProblemCode};
use std::convert::Infallible;
use std::net::IpAddr;

/// A JSON body. Syntax errors are 400, well-formed but wrong bodies (unknown fields,
/// wrong types, missing fields) 422, a missing JSON content type 415, too large 413.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match &rejection {
            JsonRejection::JsonDataError(_) => ProblemCode::ValidationFailed,
            JsonRejection::MissingJsonContentType(_) => ProblemCode::UnsupportedMediaType,
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ProblemCode::PayloadTooLarge
            }
            _ => ProblemCode::MalformedBody,
        };
        Self::new(code, rejection.body_text())
    }
}

/// Query parameters; anything unparsable is a 400.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(ProblemCode::MalformedBody, rejection.body_text())
    }
}

/// A path parameter naming a resource; one that cannot even be parsed names nothing: 404.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        Self::new(ProblemCode::NotFound, "Nothing lives at this address.")
    }
}

/// The required `Idempotency-Key` header, bare or RFC 8941 quoted.
pub struct IdempotencyKeyHeader(pub IdempotencyKey);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(ApiError::new(
                ProblemCode::IdempotencyKeyMissing,
                "Send exactly one Idempotency-Key header (a UUID made once per intent, reused on every retry).",
            ));
        };
        let value = value.to_str().map_err(|_| {
            ApiError::new(
                ProblemCode::IdempotencyKeyInvalid,
                "the Idempotency-Key may only hold visible ASCII",
            )
        })?;
        IdempotencyKey::parse_header(value)
            .map(Self)
            .map_err(|e| ApiError::new(ProblemCode::IdempotencyKeyInvalid, e.to_string()))
    }
}

/// The request's `User-Agent`, for the device icon when the body names none.
pub struct RequestUserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestUserAgent {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(user_agent(&parts.headers)))
    }
}

/// Where the request comes from: the peer's address, or the one the trusted proxy names
/// (`CLIENT_IP_SOURCE`); `None` when neither is known (a router driven without a socket,
/// a proxy that sent no such header).
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_address(parts).await))
    }
}

/// The client's address as [`ClientAddress`] finds it, for callers holding the parts.
pub async fn client_address(parts: &mut Parts) -> Option<IpAddr> {
    ClientIp::from_request_parts(parts, &())
        .await
        .inspect_err(|rejection| tracing::debug!(%rejection, "client address unknown"))
        .ok()
        .map(|ClientIp(address)| address)
}

/// The `User-Agent` header, when it is text.
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
