//! What the server-rendered pages read, provided to `app`'s server functions as
//! [`PageData`] so that SQL stays in this crate.

use crate::auth;
use crate::db::{conversations, directory, messages};
use crate::error::ApiError;
use crate::extract::user_agent;
use crate::routes::{chat, conversations as conversation_routes};
use crate::startup::AppState;
use app::data::{ConversationPage, PageData, PageDataError};
use messaging_core::wire::{
    Agency, ChatRequest, Conversation, CreateConversationRequest, CreateConversationResponse,
    CurrentUser,
};
use messaging_core::{ConversationId, IdempotencyKey, ProblemCode};
use std::future::Future;
use std::pin::Pin;

pub struct ServerPageData {
    pub state: AppState,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, PageDataError>> + Send + 'a>>;

/// The page shows the problem's detail; unexpected errors are logged and stay generic.
fn shown(error: ApiError) -> PageDataError {
    match error {
        ApiError::Problem(problem) => PageDataError {
            status: problem.status,
            message: problem.detail,
        },
        ApiError::Unexpected(error) => {
            tracing::error!(error = format!("{error:#}"), "page data failed");
            PageDataError {
                status: 500,
                message: "Something went wrong on our side.".into(),
            }
        }
    }
}

/// How many conversations the list page shows.
const LISTED_CONVERSATIONS: u32 = 100;
/// A conversation page opens on this many of its newest messages.
pub const SHOWN_MESSAGES: u32 = 200;

impl ServerPageData {
    /// The request's user, or the 401 a form post without a session gets.
    async fn signed_in(&self, headers: &http::HeaderMap) -> Result<CurrentUser, PageDataError> {
        self.current_user(headers.clone())
            .await?
            .ok_or_else(|| shown(ApiError::unauthenticated()))
    }
}

impl PageData for ServerPageData {
    fn agencies(&self) -> Boxed<'_, Vec<Agency>> {
        Box::pin(async move {
            directory::agencies(self.state.db.pool())
                .await
                .map_err(|e| shown(e.into()))
        })
    }

    fn agency(&self, slug: String) -> Boxed<'_, Option<Agency>> {
        Box::pin(async move {
            directory::agency_by_slug(self.state.db.pool(), &slug)
                .await
                .map_err(|e| shown(e.into()))
        })
    }

    fn current_user(&self, headers: http::HeaderMap) -> Boxed<'_, Option<CurrentUser>> {
        Box::pin(async move {
            match auth::token_from(&headers) {
                Some(token) => auth::user_of_token(&self.state, &token)
                    .await
                    .map_err(shown),
                None => Ok(None),
            }
        })
    }

    fn conversation(
        &self,
        headers: http::HeaderMap,
        id: ConversationId,
    ) -> Boxed<'_, Option<ConversationPage>> {
        Box::pin(async move {
            let Some(reader) = self.current_user(headers).await? else {
                return Ok(None);
            };
            let pool = self.state.db.pool();
            let Some(conversation) = conversations::for_participant(pool, id, reader.id)
                .await
                .map_err(|e| shown(e.into()))?
            else {
                return Ok(None);
            };
            let messages = messages::latest(pool, id, SHOWN_MESSAGES)
                .await
                .map_err(|e| shown(e.into()))?;
            Ok(Some(ConversationPage {
                conversation,
                messages,
                reader,
            }))
        })
    }

    fn conversations(&self, headers: http::HeaderMap) -> Boxed<'_, Option<Vec<Conversation>>> {
        Box::pin(async move {
            let Some(reader) = self.current_user(headers).await? else {
                return Ok(None);
            };
            let filter = conversations::ListFilter {
                context_type: None,
                context_id: None,
                after: None,
                limit: LISTED_CONVERSATIONS,
            };
            conversations::list_for_user(self.state.db.pool(), reader.id, &filter)
                .await
                .map(Some)
                .map_err(|e| shown(e.into()))
        })
    }

    fn start_conversation(
        &self,
        headers: http::HeaderMap,
        idempotency_key: String,
        mut request: CreateConversationRequest,
    ) -> Boxed<'_, ConversationId> {
        Box::pin(async move {
            let user = self.signed_in(&headers).await?;
            let key = IdempotencyKey::parse(&idempotency_key).map_err(|e| {
                shown(ApiError::new(
                    ProblemCode::IdempotencyKeyInvalid,
                    e.to_string(),
                ))
            })?;
            request.initial_message.user_agent = user_agent(&headers);
            let response =
                conversation_routes::start_conversation(self.state.clone(), user, key, request)
                    .await
                    .map_err(shown)?;
            // The stored (maybe replayed) response is the one source of the answer.
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map_err(|e| shown(ApiError::Unexpected(e.into())))?;
            let created: CreateConversationResponse =
                serde_json::from_slice(&body).map_err(|e| shown(ApiError::Unexpected(e.into())))?;
            Ok(created.conversation.id)
        })
    }

    fn post_chat_message(
        &self,
        headers: http::HeaderMap,
        mut request: ChatRequest,
    ) -> Boxed<'_, ()> {
        Box::pin(async move {
            let user = self.signed_in(&headers).await?;
            request.user_agent = user_agent(&headers);
            chat::post_chat_message(self.state.clone(), user, request)
                .await
                .map(drop)
                .map_err(shown)
        })
    }

    fn sign_out(&self, headers: http::HeaderMap) -> Boxed<'_, String> {
        Box::pin(async move {
            if let Some(token) = auth::token_from(&headers) {
                auth::sign_out(&self.state, &token).await.map_err(shown)?;
            }
            Ok(auth::removal_cookie(self.state.config.production).to_string())
        })
    }

    fn sign_in(&self, username: String, password: String) -> Boxed<'_, String> {
        Box::pin(async move {
            let signed_in = auth::sign_in(&self.state, &username, &password)
                .await
                .map_err(shown)?;
            Ok(auth::session_cookie(signed_in.token, self.state.config.production).to_string())
        })
    }
}
