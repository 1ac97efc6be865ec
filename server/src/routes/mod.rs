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
