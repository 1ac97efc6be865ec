//! Bounds on requests, as middleware so every route has them: a whole-request deadline
//! (a body trickled a byte at a time cannot hold a handler for ever), the refusal of a
//! body announced over the limit before the handler waits for it, and a bound on the
//! memory all bodies being handled may take at once.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use messaging_core::{MAX_REQUEST_BODY_BYTES, ProblemCode};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How much of a refused body is read and thrown away before answering, and for how
/// long: a client still uploading when the server closes gets a TCP reset, which can
/// destroy the answer before it reads it. Go's net/http drains 256 KiB the same way.
const DRAIN_BYTES: usize = 256 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Answers 408, and closes the connection, when the request (its body, usually) has not
/// arrived and been answered within the configured time. A response that has begun (a
/// page, a live stream) is not cut: the deadline is on the handler, not the body it sends.
pub async fn request_deadline(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.config.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => closing(ApiError::new(
            ProblemCode::RequestTimeout,
            format!(
                "The request did not arrive in time ({} s); send it again.",
                limit.as_secs()
            ),
        )),
    }
}

/// Refuses with 413 a body whose `Content-Length` is over the limit, without waiting for
/// it: otherwise it is read until it passes the limit, for as long as the client takes.
pub async fn refuse_announced_oversize(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if announced.is_none_or(|length| length <= MAX_REQUEST_BODY_BYTES as u64) {
        return next.run(request).await;
    }
    // A client waiting for `100 Continue` has sent nothing and sends nothing unless the
    // body is read: nothing to drain.
    let expects_continue = request.headers().contains_key(header::EXPECT);
    if !expects_continue {
        drain(request.into_body()).await;
    }
    closing(ApiError::new(
        ProblemCode::PayloadTooLarge,
        format!("Request bodies are limited to {MAX_REQUEST_BODY_BYTES} bytes."),
    ))
}

/// The memory that the bodies of the requests being handled may take, in all, in bytes
/// (`MAX_BODY_MEMORY_BYTES`): 512 bodies of the largest size, or some 100,000 chat
/// messages. Each connection's requests are bounded one by one (64 KiB each); this bounds
/// them all, which `MAX_CONNECTIONS` and HTTP/2's streams per connection multiply.
pub const DEFAULT_BODY_MEMORY: usize = 512 * MAX_REQUEST_BODY_BYTES;

/// The bytes that bodies being handled may still take (see [`DEFAULT_BODY_MEMORY`]).
#[derive(Clone)]
pub struct BodyMemory(Arc<Semaphore>);

impl BodyMemory {
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes)))
    }
}

/// Reserves, before its handler reads it, what a request's body may take: its announced
/// length, or the body limit when it announces none (chunked, or an HTTP/2 body without
/// `content-length`); gives it back once answered. With no room left, 503 with
/// Retry-After: clients that send most of a body and then stall, on many connections and
/// streams, would otherwise hold memory without bound until their deadline.
pub async fn reserve_body_memory(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let size = axum::body::HttpBody::size_hint(request.body());
    if size.exact() == Some(0) {
        return next.run(request).await;
    }
    let limit = MAX_REQUEST_BODY_BYTES as u64;
    let reserved = size.upper().unwrap_or(limit).min(limit) as u32;
    let Ok(_reservation) = Arc::clone(&state.body_memory.0).try_acquire_many_owned(reserved) else {
        metrics::counter!("http_bodies_refused_total").increment(1);
        drain(request.into_body()).await;
        return closing(ApiError::busy(
            "The server is reading too many requests at once; retry shortly (with the same key or local_id).",
        ));
    };
    next.run(request).await
}

/// Reads and drops what arrives of `body`, up to [`DRAIN_BYTES`] or [`DRAIN_TIME`].
async fn drain(body: Body) {
    let mut body = http_body_util::Limited::new(body, DRAIN_BYTES);
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
}

/// The problem answer, with the connection closed after it: what is left of the request
/// on the wire cannot be told apart from a next request.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
