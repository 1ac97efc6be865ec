//! HTTP handlers by resource.

pub mod agencies;
pub mod chat;
pub mod conversations;
pub mod session;
pub mod system;

use crate::error::ApiError;
use messaging_core::ProblemCode;
use messaging_core::wire::Cursor;
use uuid::Uuid;

/// Runs a request's writes to the end even if the client disconnects. axum drops a
/// handler's future when its connection closes; a write transaction dropped halfway left
/// its pooled connection unusable ("begin_with at non-zero transaction depth" from sqlx,
/// then a 500 for every later write on it: found by the benchmark), and an intent cut
/// off after its commit would lose the answer its retry should replay.
async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(work)
        .await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("request task failed: {e}")))?
}

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// A page size within bounds.
fn page_limit(requested: Option<u32>) -> u32 {
    requested.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// Where the previous page ended (the format is `core`'s [`Cursor`]).
fn encode_cursor(micros: i64, id: Uuid) -> String {
    Cursor { micros, id }.to_string()
}

fn decode_cursor(cursor: &str) -> Result<(i64, Uuid), ApiError> {
    Cursor::parse(cursor)
        .map(|cursor| (cursor.micros, cursor.id))
        .ok_or_else(|| {
            ApiError::new(
                ProblemCode::MalformedBody,
                "The cursor is not one this API gave out.",
            )
        })
}
