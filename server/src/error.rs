//! The one error type of the API and the service behind it. Every error leaves as an
//! RFC 9457 problem body built from `core`'s codes. An unexpected error is never shown
//! to the client: its response carries it as an extension, and [`log_unexpected`], a
//! layer, logs it once (the axum `error-handling` example's way).

use crate::db::{self, WriteError};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use messaging_core::{FieldErrors, MAX_REQUEST_BODY_BYTES, Problem, ProblemCode};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A problem the client can act on (4xx, or 503 with Retry-After).
    #[error("{0}")]
    Problem(Box<Problem>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    /// An unexpected failure while carrying out an intent named by a key or local_id:
    /// its transaction left nothing half-done, so a retry with the same name is safe.
    #[error(transparent)]
    IntentInterrupted(anyhow::Error),
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

    /// 413: the body is over [`MAX_REQUEST_BODY_BYTES`].
    pub fn payload_too_large() -> Self {
        Self::new(
            ProblemCode::PayloadTooLarge,
            format!("Request bodies are limited to {MAX_REQUEST_BODY_BYTES} bytes."),
        )
    }

    /// 503 with Retry-After: the store did not answer in time, or is contended.
    pub fn store_busy() -> Self {
        Self::busy("The store is busy; retry shortly with the same key or local_id.")
    }

    /// 503 with Retry-After: the server has no room for this request now.
    pub fn busy(detail: &'static str) -> Self {
        Self::from(Problem::new(ProblemCode::Unavailable, detail).with_retry_after(1))
    }

    /// For the errors of an intent whose retries are deduplicated.
    pub fn in_intent(self) -> Self {
        match self {
            Self::Unexpected(error) => Self::IntentInterrupted(error),
            other => other,
        }
    }
}

/// Store errors: contention and a lost connection are a retryable 503, anything else is
/// unexpected.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::from(WriteError::Store(error))
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        if matches!(error, WriteError::Stalled | WriteError::CommitterStopped) {
            // Never a hang: the client retries (the key or local_id makes it safe), by
            // then perhaps on another process.
            tracing::error!(error = %error, "the store's writer is stuck");
            Self::store_busy()
        } else if db::is_write_contention(&error) {
            tracing::warn!(error = %error, "store contention");
            Self::store_busy()
        } else if db::is_connection_lost(&error) {
            // PostgreSQL restarted, failed over or dropped the connection: the retry
            // runs on a new one (the key or local_id tells whether this one committed).
            tracing::warn!(error = %error, "lost the connection to the store");
            Self::store_busy()
        } else {
            Self::Unexpected(anyhow::Error::new(error).context("Store error"))
        }
    }
}

/// What a person is told of an unexpected error (its cause goes to the log only).
pub const SOMETHING_WENT_WRONG: &str = "Something went wrong on our side.";

/// An unexpected error, riding on its 500 response to [`log_unexpected`].
#[derive(Clone)]
struct Unexpected(Arc<anyhow::Error>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (error, detail) = match self {
            Self::Problem(problem) => return problem_response(*problem),
            Self::Unexpected(error) => (error, SOMETHING_WENT_WRONG),
            Self::IntentInterrupted(error) => (
                error,
                "Something went wrong on our side. Nothing was half-done: retrying with the same key or local_id is safe.",
            ),
        };
        let mut response = problem_response(Problem::new(ProblemCode::Internal, detail));
        response
            .extensions_mut()
            .insert(Unexpected(Arc::new(error)));
        response
    }
}

/// Logs the unexpected error a response carries, once, wherever it was answered.
pub async fn log_unexpected(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(Unexpected(error)) = response.extensions().get::<Unexpected>() {
        report(error);
    }
    response
}

/// The log line of an unexpected error, with its whole chain of causes. Server functions
/// answer through Leptos, whose responses cannot carry the error: the pages call it.
pub fn report(error: &anyhow::Error) {
    tracing::error!(error = format!("{error:#}"), "unexpected error");
}

fn problem_response(problem: Problem) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// A connection that broke under a request (PostgreSQL restarted, say) is a 503 the
    /// client retries, not a 500; a store error of another kind stays a 500.
    #[test]
    fn a_lost_store_connection_is_a_retryable_503() {
        let lost = sqlx::Error::Io(io::Error::from(io::ErrorKind::ConnectionReset));
        let response = ApiError::from(lost).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");

        let response = ApiError::from(sqlx::Error::RowNotFound).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
