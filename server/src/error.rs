//! The API's one error type. Every error leaves as an RFC 9457 problem body built from
//! `core`'s codes; an unexpected error is logged once here and never shown to the client.

use crate::db;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use messaging_core::{FieldErrors, Problem, ProblemCode};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A problem the client can act on (4xx, or 503 with Retry-After).
    #[error("{0}")]
    Problem(Box<Problem>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self::Problem(Box::new(problem))
    }
}

impl ApiError {
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self::from(Problem::new(code, detail))
    }

    pub fn validation(errors: FieldErrors) -> Self {
        let detail = format!("The request breaks {} rule(s): {errors}", errors.0.len());
        Self::from(Problem::new(ProblemCode::ValidationFailed, detail).with_errors(errors.0))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            ProblemCode::NotFound,
            format!("No {what} with this id is visible to you."),
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ProblemCode::Unauthenticated,
            "Sign in, or send a valid `Authorization: Bearer` token.",
        )
    }

    /// Another request holds what this one needs; retrying shortly is safe.
    pub fn in_flight() -> Self {
        Self::from(
            Problem::new(
                ProblemCode::IdempotencyKeyInFlight,
                "The first request with this Idempotency-Key is still being processed; retry with the same key.",
            )
            .with_retry_after(1),
        )
    }

    pub fn unavailable() -> Self {
        Self::from(
            Problem::new(
                ProblemCode::Unavailable,
                "The store is busy; retry shortly with the same key or local_id.",
            )
            .with_retry_after(1),
        )
    }
}

/// Store errors: contention is a retryable 503, anything else is unexpected.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if db::is_contention(&error) {
            tracing::warn!(error = %error, "store contention");
            Self::unavailable()
        } else {
            Self::Unexpected(anyhow::Error::new(error).context("Store error"))
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            Self::Problem(problem) => *problem,
            Self::Unexpected(error) => {
                tracing::error!(error = format!("{error:#}"), "unexpected error");
                Problem::new(
                    ProblemCode::Internal,
                    "Something went wrong on our side. Nothing was half-done: retrying with the same key or local_id is safe.",
                )
            }
        };
        problem_response(problem)
    }
}

pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let retry_after = problem.retry_after_secs;
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(Problem::CONTENT_TYPE),
        )],
        body,
    )
        .into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}
