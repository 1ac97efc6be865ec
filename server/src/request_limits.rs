//! Bounds on requests, as middleware so every route has them: a whole-request deadline
//! (a body trickled a byte at a time cannot hold a handler for ever), the refusal of a
//! body announced over the limit before the handler waits for it, and a bound on the
//! memory all bodies being read may take at once.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use messaging_core::{MAX_REQUEST_BODY_BYTES, ProblemCode};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    closing(ApiError::payload_too_large())
}

/// Counts a request's body against the memory for bodies (`MAX_BODY_MEMORY_BYTES`,
/// `AppState`'s `body_memory`) as its bytes arrive, until it is read
/// to its end or dropped. Without room for the next bytes, 503 with Retry-After: clients
/// that send most of a body and then stall, on many connections and streams, would
/// otherwise hold memory without bound until their deadline. What is counted is what
/// arrived, not what a request announces: announcing costs a client nothing.
pub async fn count_body_memory(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if HttpBody::size_hint(request.body()).exact() == Some(0) {
        return next.run(request).await;
    }
    let refused = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(Counted {
            body,
            memory: Arc::clone(&state.body_memory),
            taken: None,
            refused: Arc::clone(&refused),
        })
    });
    let response = next.run(request).await;
    if !refused.load(Ordering::Relaxed) {
        return response;
    }
    metrics::counter!("http_bodies_refused_total").increment(1);
    closing(ApiError::busy(
        "The server is reading too many requests at once; retry shortly (with the same key or local_id).",
    ))
}

/// A body whose arrived bytes are taken from the memory for bodies (see
/// [`count_body_memory`]).
struct Counted {
    body: Body,
    memory: Arc<Semaphore>,
    /// What its bytes so far took, given back when it is dropped.
    taken: Option<OwnedSemaphorePermit>,
    /// Set when there was no room for its next bytes.
    refused: Arc<AtomicBool>,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let frame = std::task::ready!(Pin::new(&mut this.body).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            let room = u32::try_from(data.len())
                .ok()
                .and_then(|bytes| Arc::clone(&this.memory).try_acquire_many_owned(bytes).ok());
            let Some(room) = room else {
                this.refused.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(axum::Error::new("no room for this body now"))));
            };
            match &mut this.taken {
                Some(taken) => taken.merge(room),
                None => this.taken = Some(room),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
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
