//! The HTTP API's handlers, by resource: each extracts, calls the service
//! ([`crate::messaging`], [`crate::auth`]) and answers.

pub mod agencies;
pub mod chat;
pub mod conversations;
pub mod problems;
pub mod session;
pub mod system;

use crate::idempotency::Answer;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A JSON answer; a replay carries `Idempotent-Replayed: true` and the stored bytes as is.
impl<T> IntoResponse for Answer<T> {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.json,
        )
            .into_response();
        if self.replayed {
            response.headers_mut().insert(
                HeaderName::from_static(REPLAYED_HEADER),
                HeaderValue::from_static("true"),
            );
        }
        response
    }
}

/// core's [`messaging_core::IDEMPOTENT_REPLAYED_HEADER`] as http spells header names (lower case).
const REPLAYED_HEADER: &str = "idempotent-replayed";

#[cfg(test)]
mod tests {
    use super::*;
    use messaging_core::IDEMPOTENT_REPLAYED_HEADER;

    #[test]
    fn the_replayed_header_is_the_one_core_names() {
        assert!(REPLAYED_HEADER.eq_ignore_ascii_case(IDEMPOTENT_REPLAYED_HEADER));
    }
}
