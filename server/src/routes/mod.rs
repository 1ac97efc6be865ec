//! HTTP handlers by resource.

pub mod agencies;
pub mod chat;
pub mod conversations;
pub mod session;
pub mod system;

use crate::error::ApiError;
use messaging_core::ProblemCode;
use uuid::Uuid;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// A page size within bounds.
fn page_limit(requested: Option<u32>) -> u32 {
    requested.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// Cursors are `<unix micros>_<uuid>`: where the previous page ended. Opaque to clients.
fn encode_cursor(micros: i64, id: Uuid) -> String {
    format!("{micros}_{id}")
}

fn decode_cursor(cursor: &str) -> Result<(i64, Uuid), ApiError> {
    cursor
        .split_once('_')
        .and_then(|(micros, id)| Some((micros.parse().ok()?, Uuid::parse_str(id).ok()?)))
        .ok_or_else(|| {
            ApiError::new(
                ProblemCode::MalformedBody,
                "The cursor is not one this API gave out.",
            )
        })
}
