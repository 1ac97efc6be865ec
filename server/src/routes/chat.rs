use super::problems::ChatProblems;
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{ApiJson, RequestUserAgent};
use crate::idempotency::Answer;
use crate::messaging::{self, Sender};
use crate::state::AppState;
use axum::extract::State;
use messaging_core::wire::{ChatRequest, ChatResponse};

/// `POST /api/chat`: 202 the first time, the same body (replayed) for a repeated
/// `local_id`, 422 when that `local_id` names another text or sender.
#[utoipa::path(
    post, path = "/api/chat", tag = "chat",
    request_body = ChatRequest,
    responses(
        (status = 202, description = "Stored; a repeat of the same local_id gets the same body with `Idempotent-Replayed: true`", body = ChatResponse),
        ChatProblems
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn send_chat_message(
    State(state): State<AppState>,
    caller: Authenticated,
    RequestUserAgent(user_agent): RequestUserAgent,
    ApiJson(request): ApiJson<ChatRequest>,
) -> Result<Answer<ChatResponse>, ApiError> {
    let sender = Sender {
        user: caller.user,
        user_agent,
    };
    messaging::post_message(state.messaging.clone(), sender, request).await
}
