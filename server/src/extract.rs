//! Extractors whose rejections are our problem bodies, so malformed input always gets a
//! clear 4xx in the same format as every other error.

use crate::error::ApiError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use messaging_core::{IDEMPOTENCY_KEY_HEADER, IdempotencyKey, ProblemCode};
use serde::de::DeserializeOwned;

/// A JSON body. Syntax errors are 400, well-formed but wrong bodies (unknown fields,
/// wrong types, missing fields) 422, a missing JSON content type 415, too large 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

fn json_problem(rejection: &JsonRejection) -> ApiError {
    let code = match rejection {
        JsonRejection::JsonDataError(_) => ProblemCode::ValidationFailed,
        JsonRejection::MissingJsonContentType(_) => ProblemCode::UnsupportedMediaType,
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ProblemCode::PayloadTooLarge,
        _ => ProblemCode::MalformedBody,
    };
    ApiError::new(code, rejection.body_text())
}

/// Query parameters; anything unparsable is a 400.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|rejection: QueryRejection| {
                ApiError::new(ProblemCode::MalformedBody, rejection.body_text())
            })
    }
}

/// A path parameter naming a resource; one that cannot even be parsed names nothing: 404.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|_: PathRejection| {
                ApiError::new(ProblemCode::NotFound, "Nothing lives at this address.")
            })
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

/// The request's own `User-Agent`, for when the body names none (the device icon).
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
