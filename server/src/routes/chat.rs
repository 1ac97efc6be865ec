use super::to_completion;
use crate::auth::Authenticated;
use crate::db;
use crate::error::ApiError;
use crate::extract::{ApiJson, user_agent};
use crate::idempotency::json_response;
use crate::messages::{Stored, judge_duplicate, store_once};
use crate::startup::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use messaging_core::NewChatMessage;
use messaging_core::Problem;
use messaging_core::wire::{ChatRequest, ChatResponse, CurrentUser};

/// `POST /api/chat`: 202 the first time, the same body (replayed) for a repeated
/// `local_id`, 422 when that `local_id` names another text or sender.
#[utoipa::path(
    post, path = "/api/chat", tag = "chat",
    request_body = ChatRequest,
    responses(
        (status = 202, description = "Stored; a repeat of the same local_id gets the same body with `Idempotent-Replayed: true`", body = ChatResponse),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Unknown conversation, or not a participant", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid fields, or the local_id names another message", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn send_chat_message(
    State(state): State<AppState>,
    caller: Authenticated,
    headers: HeaderMap,
    ApiJson(mut request): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    if request.user_agent.is_none() {
        request.user_agent = user_agent(&headers);
    }
    post_chat_message(state, caller.user, request).await
}

/// Stores a chat message once per `local_id`: the one path behind the API and the chat
/// form that works without JavaScript. A repeat is answered from what is stored; a new
/// message's write runs to the end even if the client leaves (see [`to_completion`]).
pub async fn post_chat_message(
    state: AppState,
    sender: CurrentUser,
    request: ChatRequest,
) -> Result<Response, ApiError> {
    let intent = NewChatMessage::try_from(request).map_err(ApiError::validation)?;
    let conversation_id = intent.conversation_id;
    if !state
        .caches
        .is_participant(&state.db, conversation_id, sender.id)
        .await?
    {
        return Err(ApiError::not_found("conversation"));
    }

    // A repeat costs no write: it is answered from memory, or after one read.
    if let Some(existing) = state
        .caches
        .stored_message(&state.db, conversation_id, &intent.message.local_id)
        .await?
    {
        let message = judge_duplicate(existing, &sender, &intent.message)?;
        return reply(
            ChatResponse {
                queued: true,
                message,
            },
            true,
        );
    }
    to_completion(async move { store_new(&state, &sender, intent).await }).await
}

/// The write of a message not seen yet (or stored by a racing request meanwhile).
async fn store_new(
    state: &AppState,
    sender: &CurrentUser,
    intent: NewChatMessage,
) -> Result<Response, ApiError> {
    let conversation_id = intent.conversation_id;
    let mut tx = state.db.begin_write().await?;
    let stored = store_once(&mut tx, conversation_id, sender, &intent.message).await?;
    db::commit(tx).await?;
    match stored {
        Stored::New(message) => {
            state.caches.remember_message(&message);
            state.hub.publish(message.clone());
            reply(
                ChatResponse {
                    queued: true,
                    message,
                },
                false,
            )
        }
        Stored::Duplicate(message) => reply(
            ChatResponse {
                queued: true,
                message,
            },
            true,
        ),
    }
}

fn reply(body: ChatResponse, replayed: bool) -> Result<Response, ApiError> {
    let json = serde_json::to_string(&body).map_err(anyhow::Error::from)?;
    Ok(json_response(StatusCode::ACCEPTED, json, replayed))
}
