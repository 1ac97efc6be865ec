use super::{decode_cursor, encode_cursor, page_limit, to_completion};
use crate::auth::Authenticated;
use crate::db::{self, conversations, directory};
use crate::error::ApiError;
use crate::events::{self, Update};
use crate::extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKeyHeader, user_agent};
use crate::idempotency::{Begun, Committed, IntentKey};
use crate::messages::{Stored, store_once};
use crate::metrics::dedup;
use crate::startup::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use messaging_core::Problem;
use messaging_core::fingerprint::Fingerprinted;
use messaging_core::wire::CurrentUser;
use messaging_core::wire::{
    Conversation, ConversationListQuery, CreateConversationRequest, CreateConversationResponse,
    Message, Page, PageQuery,
};
use messaging_core::{AgencyId, ConversationId, DedupReason, IdempotencyKey, NewConversation};
use std::convert::Infallible;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

const CREATE_ENDPOINT: &str = "POST /api/messages/conversations";

/// `POST /api/messages/conversations`: 201 with a new conversation, 200 with the one
/// that existed for this (context, user); replays and refusals as the contract says.
#[utoipa::path(
    post, path = "/api/messages/conversations", tag = "conversations",
    params(("Idempotency-Key" = String, Header, description = "Made once per intent by the client, reused on every retry; bare or RFC 8941 quoted")),
    request_body = CreateConversationRequest,
    responses(
        (status = 201, description = "A new conversation with its first message", body = CreateConversationResponse),
        (status = 200, description = "The conversation that existed for this context and user (`dedup: natural_key`), or a replay (`Idempotent-Replayed: true`)", body = CreateConversationResponse),
        (status = 400, description = "Missing or malformed Idempotency-Key or body", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Unknown agency", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The same key is in flight; see Retry-After", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid fields, or the key was used for another payload", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn create_conversation(
    State(state): State<AppState>,
    caller: Authenticated,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    headers: HeaderMap,
    ApiJson(mut request): ApiJson<CreateConversationRequest>,
) -> Result<Response, ApiError> {
    if request.initial_message.user_agent.is_none() {
        request.initial_message.user_agent = user_agent(&headers);
    }
    start_conversation(state, caller.user, key, request).await
}

/// Creates, merges or replays a conversation: the one path behind the API and the
/// compose form that works without JavaScript. It runs to the end even if the client
/// leaves (see [`to_completion`]).
pub async fn start_conversation(
    state: AppState,
    user: CurrentUser,
    key: IdempotencyKey,
    request: CreateConversationRequest,
) -> Result<Response, ApiError> {
    to_completion(async move { create_or_merge(&state, &user, &key, request).await }).await
}

async fn create_or_merge(
    state: &AppState,
    user: &CurrentUser,
    key: &IdempotencyKey,
    request: CreateConversationRequest,
) -> Result<Response, ApiError> {
    let intent = NewConversation::try_from(request).map_err(ApiError::validation)?;
    let agency = directory::agency_by_id(state.db.pool(), AgencyId::from(intent.context_id))
        .await?
        .ok_or_else(|| ApiError::not_found("agency"))?;

    let intent_key = IntentKey {
        user: user.id,
        key,
        endpoint: CREATE_ENDPOINT,
        fingerprint: intent.fingerprint(),
    };
    let mut fresh = match state.idempotency.begin(&state.db, intent_key).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(fresh) => fresh,
    };

    let row = conversations::NewConversationRow {
        id: ConversationId::new_random(),
        context_type: intent.context_type,
        context_id: intent.context_id,
        created_by: user.id,
        agency_id: agency.id,
        created_at: db::to_micros(db::now()),
    };
    let created = conversations::insert(&mut **fresh.tx(), &row).await?;
    // Either ours, or the one the natural key already named (made with another key).
    let conversation_id = conversations::by_natural_key(
        &mut **fresh.tx(),
        intent.context_type,
        intent.context_id,
        user.id,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("Conversation missing after insert"))?
    .id;
    let stored = store_once(fresh.tx(), conversation_id, user, &intent.initial_message).await?;
    let conversation = conversations::for_participant(&mut **fresh.tx(), conversation_id, user.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("Conversation not readable by its creator"))?;

    let dedup = (!created).then_some(DedupReason::NaturalKey);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = CreateConversationResponse {
        conversation,
        message: stored.message().clone(),
        dedup,
        key_expires_at: fresh.expires_at(),
    };
    match fresh.commit(status, &body).await? {
        Committed::Stored(response) => {
            if !created {
                metrics::counter!(dedup::NATURAL_KEY_MERGES).increment(1);
                tracing::info!(conversation.id = %body.conversation.id, "create merged into the existing conversation");
            }
            if let Stored::New(message) = stored {
                state.hub.publish(message);
            }
            Ok(response)
        }
        Committed::Superseded(response) => Ok(response),
    }
}

/// `GET /api/messages/conversations`: the caller's conversations, newest activity
/// first; with `context_type` and `context_id`, the "does one exist?" check.
#[utoipa::path(
    get, path = "/api/messages/conversations", tag = "conversations",
    params(ConversationListQuery),
    responses(
        (status = 200, description = "The caller's conversations, newest activity first", body = Page<Conversation>),
        (status = 400, description = "Bad query or cursor", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list_conversations(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<ConversationListQuery>,
) -> Result<Json<Page<Conversation>>, ApiError> {
    let limit = page_limit(query.limit);
    let after =
        query
            .cursor
            .as_deref()
            .map(decode_cursor)
            .transpose()?
            .map(|(last_message_at, id)| conversations::ListCursor {
                last_message_at,
                id,
            });
    let filter = conversations::ListFilter {
        context_type: query.context_type,
        context_id: query.context_id,
        after,
        limit: limit + 1,
    };
    let mut items = conversations::list_for_user(state.db.pool(), caller.user.id, &filter).await?;
    let next_cursor = next_page(&mut items, limit)
        .map(|last| encode_cursor(db::to_micros(last.last_message_at), *last.id.as_uuid()));
    Ok(Json(Page { items, next_cursor }))
}

/// Trims the look-ahead row; returns the last item kept when there is a next page.
fn next_page<T>(items: &mut Vec<T>, limit: u32) -> Option<&T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > limit;
    items.truncate(limit);
    if more { items.last() } else { None }
}

/// `GET /api/messages/conversations/{id}`.
#[utoipa::path(
    get, path = "/api/messages/conversations/{id}", tag = "conversations",
    params(("id" = ConversationId, Path)),
    responses(
        (status = 200, body = Conversation),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Unknown, or not a participant", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn get_conversation(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<Conversation>, ApiError> {
    conversations::for_participant(state.db.pool(), id, caller.user.id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("conversation"))
}

/// `GET /api/messages/conversations/{id}/messages`: oldest first, by cursor.
#[utoipa::path(
    get, path = "/api/messages/conversations/{id}/messages", tag = "conversations",
    params(("id" = ConversationId, Path), PageQuery),
    responses(
        (status = 200, description = "Messages, oldest first", body = Page<Message>),
        (status = 400, description = "Bad query or cursor", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Unknown, or not a participant", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list_messages(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Message>>, ApiError> {
    if conversations::for_participant(state.db.pool(), id, caller.user.id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("conversation"));
    }
    let limit = page_limit(query.limit);
    let after = query
        .cursor
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .map(|(created_at, id)| db::messages::PageCursor {
            created_at,
            id: id.into(),
        });
    let mut items = db::messages::page(state.db.pool(), id, after, limit + 1).await?;
    let next_cursor = next_page(&mut items, limit)
        .map(|last| encode_cursor(db::to_micros(last.created_at), *last.id.as_uuid()));
    Ok(Json(Page { items, next_cursor }))
}

/// `GET /api/messages/conversations/{id}/stream`: Server-Sent Events, one `message`
/// event per new message (with its `local_id`, so the sender's other tabs reconcile).
#[utoipa::path(
    get, path = "/api/messages/conversations/{id}/stream", tag = "conversations",
    params(("id" = ConversationId, Path)),
    responses(
        (status = 200, description = "Server-Sent Events: `message` events whose data is a Message (with its local_id); `lagged` when the client should reload", content_type = "text/event-stream", body = Message),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Unknown, or not a participant", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn stream_messages(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if conversations::for_participant(state.db.pool(), id, caller.user.id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("conversation"));
    }
    let stream =
        BroadcastStream::new(state.hub.subscribe()).filter_map(move |received| match received {
            Ok(Update::Message(message)) if events::is_for(&message, id) => {
                let event = Event::default()
                    .event("message")
                    .id(message.id.to_string())
                    .json_data(&*message)
                    .ok()?;
                Some(Ok(event))
            }
            Ok(Update::Message(_)) => None,
            // Fell behind, or may have missed messages: the client catches up.
            Ok(Update::MayHaveMissed) | Err(_) => {
                Some(Ok(Event::default().event("lagged").data("reload")))
            }
        });
    let stream = futures_util::StreamExt::take_until(stream, state.hub.closing());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
