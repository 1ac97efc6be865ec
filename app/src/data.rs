//! What the pages read and do on the server, as server functions. On the server they
//! call the [`PageData`] the host app provides as context (the SQL stays in the server
//! crate); in the browser they are HTTP calls to `/_fn/...`. Sign-in is one too, so the
//! sign-in form works without JavaScript.

use leptos::prelude::*;
use messaging_core::ConversationId;
use messaging_core::wire::{Agency, Conversation, CurrentUser, Message};
use serde::{Deserialize, Serialize};

/// A conversation as its page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationPage {
    pub conversation: Conversation,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Who is reading, to tell their own messages apart.
    pub reader: CurrentUser,
}

/// Where the server functions live; `/api` belongs to the REST API.
pub const SERVER_FN_PREFIX: &str = "/_fn";

#[cfg(feature = "ssr")]
pub use provider::{PageData, PageDataError};

#[cfg(feature = "ssr")]
mod provider {
    use super::ConversationPage;
    use messaging_core::ConversationId;
    use messaging_core::wire::{Agency, CurrentUser};
    use std::future::Future;
    use std::pin::Pin;

    pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, PageDataError>> + Send + 'a>>;

    /// A failure the page shows as text, with the HTTP status it stands for.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PageDataError {
        pub status: u16,
        pub message: String,
    }

    /// What the host server provides to the pages (see `server/src/pages.rs`).
    pub trait PageData: Send + Sync + 'static {
        fn agencies(&self) -> Boxed<'_, Vec<Agency>>;
        fn agency(&self, slug: String) -> Boxed<'_, Option<Agency>>;
        /// The user of the request's session cookie, if any.
        fn current_user(&self, headers: http::HeaderMap) -> Boxed<'_, Option<CurrentUser>>;
        /// The conversation with its first page of messages, if the request's user takes
        /// part in it.
        fn conversation(
            &self,
            headers: http::HeaderMap,
            id: ConversationId,
        ) -> Boxed<'_, Option<ConversationPage>>;
        /// Checks the credentials; returns the `Set-Cookie` value of the new session.
        fn sign_in(&self, username: String, password: String) -> Boxed<'_, String>;
    }
}

#[cfg(feature = "ssr")]
fn page_data() -> Result<std::sync::Arc<dyn PageData>, ServerFnError> {
    use_context::<std::sync::Arc<dyn PageData>>()
        .ok_or_else(|| ServerFnError::new("page data is not provided by the server"))
}

/// Turns a failure into the server function's error; a script caller (not a plain form
/// post, which is redirected back) also gets its 4xx status rather than a 500.
#[cfg(feature = "ssr")]
fn failed(error: PageDataError) -> ServerFnError {
    let from_a_form = use_context::<http::request::Parts>()
        .and_then(|parts| parts.headers.get(http::header::ACCEPT).cloned())
        .and_then(|accept| accept.to_str().ok().map(|a| a.contains("text/html")))
        .unwrap_or(false);
    if !from_a_form
        && let (Some(response), Ok(status)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            http::StatusCode::from_u16(error.status),
        )
    {
        response.set_status(status);
    }
    ServerFnError::new(error.message)
}

#[server(prefix = "/_fn")]
pub async fn list_agencies() -> Result<Vec<Agency>, ServerFnError> {
    page_data()?.agencies().await.map_err(failed)
}

#[server(prefix = "/_fn")]
pub async fn get_agency(slug: String) -> Result<Option<Agency>, ServerFnError> {
    page_data()?.agency(slug).await.map_err(failed)
}

#[server(prefix = "/_fn")]
pub async fn signed_in_user() -> Result<Option<CurrentUser>, ServerFnError> {
    let headers = use_context::<http::request::Parts>()
        .map(|parts| parts.headers)
        .unwrap_or_default();
    page_data()?.current_user(headers).await.map_err(failed)
}

#[cfg(feature = "ssr")]
fn request_headers() -> http::HeaderMap {
    use_context::<http::request::Parts>()
        .map(|parts| parts.headers)
        .unwrap_or_default()
}

/// The conversation and its messages, or `None` when it is not the reader's to see.
#[server(prefix = "/_fn")]
pub async fn get_conversation(
    id: ConversationId,
) -> Result<Option<ConversationPage>, ServerFnError> {
    page_data()?
        .conversation(request_headers(), id)
        .await
        .map_err(failed)
}

/// Signs in and goes to `next` (a local path), or back to the form with the error.
#[server(prefix = "/_fn")]
pub async fn sign_in(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    let cookie = page_data()?
        .sign_in(username, password)
        .await
        .map_err(failed)?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    if let Ok(value) = http::HeaderValue::from_str(&cookie) {
        response.insert_header(http::header::SET_COOKIE, value);
    }
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// Only same-site paths are followed after sign-in (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        // Browsers drop tabs and line breaks from URLs: "/\t/evil" would become "//evil".
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path
                    .chars()
                    .any(|c| c == '\\' || c.is_control() || c.is_whitespace()) =>
        {
            path.to_owned()
        }
        _ => "/agencies".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/agencies/northwind")),
            "/agencies/northwind"
        );
        for unsafe_next in [
            None,
            Some("https://evil.example"),
            Some("//evil.example"),
            Some("/\\evil"),
            Some("/\t/evil.example"),
            Some("/ /evil.example"),
            Some(""),
        ] {
            assert_eq!(safe_next(unsafe_next), "/agencies");
        }
    }
}
