//! What the server-rendered pages read, provided to `app`'s server functions as
//! [`PageData`] so that SQL stays in this crate.

use crate::auth;
use crate::db::{conversations, directory, messages};
use crate::error::ApiError;
use crate::startup::AppState;
use app::data::{ConversationPage, PageData, PageDataError};
use messaging_core::ConversationId;
use messaging_core::wire::{Agency, CurrentUser};
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
            let messages = messages::page(pool, id, None, 200)
                .await
                .map_err(|e| shown(e.into()))?;
            Ok(Some(ConversationPage {
                conversation,
                messages,
                reader,
            }))
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
