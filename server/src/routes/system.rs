use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use messaging_core::ProblemCode;

/// `GET /healthz`: 200 once migrations ran (startup waits for them), the store answers
/// and (SQLite) its group commit runs.
pub async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.messaging.db.is_healthy().await {
        Ok("ok")
    } else {
        Err(ApiError::new(
            ProblemCode::Unavailable,
            "The store does not answer.",
        ))
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        crate::metrics::handle().render(),
    )
}

/// Any unknown `/api` path.
pub async fn api_not_found() -> ApiError {
    ApiError::new(ProblemCode::NotFound, "No API endpoint at this path.")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ProblemCode::MethodNotAllowed,
        "This endpoint does not take this method.",
    )
}
