use super::problems::{CreateProblems, ListProblems, PageProblems, ReadProblems};
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKeyHeader, RequestUserAgent};
use crate::idempotency::Answer;
use crate::messaging::{self, Follower, LiveEvent, Sender};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::StreamExt;
use messaging_core::wire::{
    Conversation, ConversationListQuery, CreateConversationRequest, CreateConversationResponse,
    Message, MessageCursor, Page, PageQuery, StreamQuery, stream_event,
};
use messaging_core::{ConversationId, LocalId};
use std::convert::Infallible;

/// `POST /api/messages/conversations`: 201 with a new conversation, 200 with the one
/// that existed for this (context, user); replays and refusals as the contract says.
#[utoipa::path(
    post, path = "/api/messages/conversations", tag = "conversations",
    params(("Idempotency-Key" = String, Header, description = "Made once per intent by the client, reused on every retry; bare or RFC 8941 quoted")),
    request_body = CreateConversationRequest,
    responses(
        (status = 201, description = "A new conversation with its first message", body = CreateConversationResponse),
        (status = 200, description = "The conversation that existed for this context and user (`dedup: natural_key`), or a replay (`Idempotent-Replayed: true`)", body = CreateConversationResponse),
        CreateProblems
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn create_conversation(
    State(state): State<AppState>,
    caller: Authenticated,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    RequestUserAgent(user_agent): RequestUserAgent,
    ApiJson(request): ApiJson<CreateConversationRequest>,
) -> Result<Answer<CreateConversationResponse>, ApiError> {
    let sender = Sender {
        user: caller.user,
        user_agent,
    };
    messaging::start_conversation(state.messaging.clone(), sender, key, request).await
}

/// `GET /api/messages/conversations`: the caller's conversations, newest activity
/// first; with `context_type` and `context_id`, the "does one exist?" check.
#[utoipa::path(
    get, path = "/api/messages/conversations", tag = "conversations",
    params(ConversationListQuery),
    responses(
        (status = 200, description = "The caller's conversations, newest activity first", body = Page<Conversation>),
        ListProblems
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list_conversations(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<ConversationListQuery>,
) -> Result<Json<Page<Conversation>>, ApiError> {
    messaging::conversations(&state.messaging, caller.user.id, query)
        .await
        .map(Json)
}

/// `GET /api/messages/conversations/{id}`.
#[utoipa::path(
    get, path = "/api/messages/conversations/{id}", tag = "conversations",
    params(("id" = ConversationId, Path)),
    responses((status = 200, body = Conversation), ReadProblems),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn get_conversation(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<Conversation>, ApiError> {
    messaging::conversation(&state.messaging, caller.user.id, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("conversation"))
}

/// `GET /api/messages/conversations/{id}/messages`: oldest first, by cursor.
#[utoipa::path(
    get, path = "/api/messages/conversations/{id}/messages", tag = "conversations",
    params(("id" = ConversationId, Path), PageQuery),
    responses((status = 200, description = "Messages, oldest first", body = Page<Message>), PageProblems),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list_messages(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Message>>, ApiError> {
    messaging::messages(&state.messaging, caller.user.id, id, query)
        .await
        .map(Json)
}

/// `GET /api/messages/conversations/{id}/messages/{local_id}`: the message sent under
/// `local_id`, or 404 when the server does not have it: how a client that never got a
/// send's answer learns whether it was stored (and may drop it if not).
#[utoipa::path(
    get, path = "/api/messages/conversations/{id}/messages/{local_id}", tag = "conversations",
    params(("id" = ConversationId, Path), ("local_id" = String, Path, description = "The client's name for the message")),
    responses((status = 200, body = Message), ReadProblems),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn get_message(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath((id, local_id)): ApiPath<(ConversationId, LocalId)>,
) -> Result<Json<Message>, ApiError> {
    messaging::message_by_local_id(&state.messaging, caller.user.id, id, &local_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("message"))
}

/// `GET /api/messages/conversations/{id}/stream`: Server-Sent Events, one `message`
/// event per new message (with its `local_id`, so the sender's other tabs reconcile, and
/// its `seq` as the event id), first those after `Last-Event-ID` or `after`, until a
/// `closed` event says why the reader may no longer follow.
#[utoipa::path(
    get, path = "/api/messages/conversations/{id}/stream", tag = "conversations",
    params(
        ("id" = ConversationId, Path),
        StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The `seq` of the last message received (sent by EventSource when it reconnects); the stream starts after it")
    ),
    responses(
        (status = 200, description = "Server-Sent Events: `message` events whose data is a Message (with its local_id) and whose id is its seq; `lagged` when the client should catch up through the messages list; `closed` (data `signed_out`, `not_participant` or `replaced`, the last event) when the stream ends for good and the client should not reconnect", content_type = "text/event-stream", body = Message),
        PageProblems
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn stream_messages(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(query): ApiQuery<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    messaging::ensure_participant(&state.messaging, caller.user.id, id).await?;
    // EventSource's own reconnection names the last event it got; it wins over the
    // `after` its URL was first opened with.
    let last_event = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(MessageCursor::parse);
    let follower = Follower {
        user: caller.user.id,
        token_hash: caller.token_hash(),
        conversation: id,
        after: last_event.or(query.after),
    };
    let stream =
        messaging::follow(state.messaging.clone(), follower).filter_map(|event| async move {
            let event = match event {
                LiveEvent::Message(message) => Event::default()
                    .event(stream_event::MESSAGE)
                    .id(message.seq.to_string())
                    .json_data(&*message)
                    .ok()?,
                LiveEvent::MayHaveMissed => {
                    Event::default().event(stream_event::LAGGED).data("reload")
                }
                LiveEvent::Closed(reason) => Event::default()
                    .event(stream_event::CLOSED)
                    .data(reason.as_str()),
            };
            Some(Ok(event))
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
