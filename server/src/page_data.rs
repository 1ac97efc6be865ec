//! The pages' adapter over the service: what the server-rendered pages read and do,
//! provided to `app`'s server functions as [`PageData`] so that SQL stays in this crate.

use crate::auth;
use crate::db::directory;
use crate::error::{self, ApiError};
use crate::extract::{client_address, user_agent};
use crate::messaging::{self, Sender};
use crate::state::AppState;
use messaging_core::wire::{
    Agency, ChatRequest, Conversation, ConversationCursor, ConversationListQuery,
    CreateConversationRequest, CurrentUser, MAX_PAGE_SIZE, MessageCursor, Page, PageQuery,
};
use messaging_core::{ConversationId, IdempotencyKey, ProblemCode};
use site::data::{ConversationPage, PageData, PageDataError};
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
        ApiError::Unexpected(error) | ApiError::IntentInterrupted(error) => {
            error::report(&error);
            PageDataError {
                status: 500,
                message: error::SOMETHING_WENT_WRONG.into(),
            }
        }
    }
}

/// How long a form post waits for its own first post still in flight: 20 × 100 ms.
const IN_FLIGHT_WAITS: u32 = 20;
const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// How many conversations the list page shows.
const LISTED_CONVERSATIONS: u32 = 100;
/// A conversation page opens on this many of its newest messages: the largest page.
pub const SHOWN_MESSAGES: u32 = MAX_PAGE_SIZE;

impl ServerPageData {
    fn sender(user: CurrentUser, headers: &http::HeaderMap) -> Sender {
        Sender {
            user,
            user_agent: user_agent(headers),
        }
    }
}

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
            directory::agencies(self.state.messaging.db.pool())
                .await
                .map_err(|e| shown(e.into()))
        })
    }

    fn agency(&self, slug: String) -> Boxed<'_, Option<Agency>> {
        Box::pin(async move {
            directory::agency_by_slug(self.state.messaging.db.pool(), &slug)
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
        before: Option<u64>,
    ) -> Boxed<'_, Option<ConversationPage>> {
        Box::pin(async move {
            let Some(reader) = self.current_user(headers).await? else {
                return Ok(None);
            };
            let Some(conversation) = messaging::conversation(&self.state.messaging, reader.id, id)
                .await
                .map_err(shown)?
            else {
                return Ok(None);
            };
            let messages = match before {
                None => {
                    messaging::latest_messages(&self.state.messaging, reader.id, id, SHOWN_MESSAGES)
                        .await
                }
                Some(seq) => {
                    let older = PageQuery {
                        before: Some(MessageCursor { seq }),
                        limit: Some(SHOWN_MESSAGES),
                        ..PageQuery::default()
                    };
                    messaging::messages(&self.state.messaging, reader.id, id, older)
                        .await
                        .map(|page| page.items)
                }
            }
            .map_err(shown)?;
            Ok(Some(ConversationPage {
                conversation,
                messages,
                reader,
            }))
        })
    }

    fn conversations(
        &self,
        headers: http::HeaderMap,
        cursor: Option<String>,
    ) -> Boxed<'_, Option<Page<Conversation>>> {
        Box::pin(async move {
            let Some(reader) = self.current_user(headers).await? else {
                return Ok(None);
            };
            // A cursor that is not one the list gave out starts from the top.
            let query = ConversationListQuery {
                limit: Some(LISTED_CONVERSATIONS),
                cursor: cursor.as_deref().and_then(ConversationCursor::parse),
                ..ConversationListQuery::default()
            };
            messaging::conversations(&self.state.messaging, reader.id, query)
                .await
                .map(Some)
                .map_err(shown)
        })
    }

    fn start_conversation(
        &self,
        headers: http::HeaderMap,
        idempotency_key: String,
        request: CreateConversationRequest,
    ) -> Boxed<'_, ConversationId> {
        Box::pin(async move {
            let user = self.signed_in(&headers).await?;
            let key = IdempotencyKey::parse(&idempotency_key).map_err(|e| {
                shown(ApiError::new(
                    ProblemCode::IdempotencyKeyInvalid,
                    e.to_string(),
                ))
            })?;
            let sender = Self::sender(user, &headers);
            let mut waits = 0;
            let answer = loop {
                let attempt = messaging::start_conversation(
                    self.state.messaging.clone(),
                    sender.clone(),
                    key.clone(),
                    request.clone(),
                )
                .await;
                // A form sent twice (a double click, without script) meets its own first
                // post still running; there is no script to retry, so the server waits
                // for it, as the dialog would, and answers as it did.
                match attempt {
                    Err(ApiError::Problem(problem))
                        if problem.code == ProblemCode::IdempotencyKeyInFlight
                            && waits < IN_FLIGHT_WAITS =>
                    {
                        waits += 1;
                        tokio::time::sleep(IN_FLIGHT_WAIT).await;
                    }
                    other => break other.map_err(shown)?,
                }
            };
            // The answer a replay would give too: the same conversation.
            let created = answer.body().map_err(shown)?;
            Ok(created.conversation.id)
        })
    }

    fn post_chat_message(&self, headers: http::HeaderMap, request: ChatRequest) -> Boxed<'_, ()> {
        Box::pin(async move {
            let user = self.signed_in(&headers).await?;
            let sender = Self::sender(user, &headers);
            messaging::post_message(self.state.messaging.clone(), sender, request)
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

    fn sign_in(
        &self,
        mut request: http::request::Parts,
        username: String,
        password: String,
    ) -> Boxed<'_, String> {
        Box::pin(async move {
            let address = client_address(&mut request).await;
            let signed_in = auth::sign_in(&self.state, address, &username, &password)
                .await
                .map_err(shown)?;
            Ok(auth::session_cookie(signed_in.token, self.state.config.production).to_string())
        })
    }
}
