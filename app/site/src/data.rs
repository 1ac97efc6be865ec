//! What the pages read and do on the server, as server functions. On the server they
//! call the [`PageData`] the host app provides as context (the SQL stays in the server
//! crate); in the browser they are HTTP calls to `/_fn/...`. Sign-in is one too, so the
//! sign-in form works without JavaScript.

use leptos::prelude::*;
use messaging_core::wire::{Agency, Conversation, CurrentUser, Message, Page};
#[cfg(feature = "ssr")]
use messaging_core::wire::{ChatRequest, ContextType, CreateConversationRequest, InitialMessage};
use messaging_core::{AgencyId, ConversationId, IdempotencyKey, LocalId};
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
    use messaging_core::wire::{
        Agency, ChatRequest, Conversation, CreateConversationRequest, CurrentUser, Page,
    };
    use std::future::Future;
    use std::pin::Pin;

    pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, PageDataError>> + Send + 'a>>;

    /// A failure the page shows as text, with the HTTP status it stands for.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PageDataError {
        pub status: u16,
        pub message: String,
    }

    /// What the host server provides to the pages (see `server/src/page_data.rs`).
    pub trait PageData: Send + Sync + 'static {
        fn agencies(&self) -> Boxed<'_, Vec<Agency>>;
        fn agency(&self, slug: String) -> Boxed<'_, Option<Agency>>;
        /// The user of the request's session cookie, if any.
        fn current_user(&self, headers: http::HeaderMap) -> Boxed<'_, Option<CurrentUser>>;
        /// The conversation with its newest messages (or those just before message
        /// number `before`), if the request's user takes part in it.
        fn conversation(
            &self,
            headers: http::HeaderMap,
            id: ConversationId,
            before: Option<u64>,
        ) -> Boxed<'_, Option<ConversationPage>>;
        /// A page of the request's user's conversations, newest activity first, after
        /// `cursor` (a `next_cursor` it gave); `None` when signed out.
        fn conversations(
            &self,
            headers: http::HeaderMap,
            cursor: Option<String>,
        ) -> Boxed<'_, Option<Page<Conversation>>>;
        /// Creates, merges or replays a conversation exactly as the API does.
        fn start_conversation(
            &self,
            headers: http::HeaderMap,
            idempotency_key: String,
            request: CreateConversationRequest,
        ) -> Boxed<'_, ConversationId>;
        /// Stores a chat message once per `local_id`, exactly as the API does.
        fn post_chat_message(
            &self,
            headers: http::HeaderMap,
            request: ChatRequest,
        ) -> Boxed<'_, ()>;
        /// Checks the credentials; returns the `Set-Cookie` value of the new session. The
        /// request tells where the attempt comes from (sign-in is limited per address).
        fn sign_in(
            &self,
            request: http::request::Parts,
            username: String,
            password: String,
        ) -> Boxed<'_, String>;
        /// Ends the request's session; returns the `Set-Cookie` value that removes it.
        fn sign_out(&self, headers: http::HeaderMap) -> Boxed<'_, String>;
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
    page_data()?
        .current_user(request_headers())
        .await
        .map_err(failed)
}

#[cfg(feature = "ssr")]
fn request_headers() -> http::HeaderMap {
    request_parts().headers
}

/// The request's head, as Leptos provides it to server functions (empty without one).
#[cfg(feature = "ssr")]
fn request_parts() -> http::request::Parts {
    use_context::<http::request::Parts>().unwrap_or_else(|| http::Request::new(()).into_parts().0)
}

/// The conversation and its newest messages (or those before number `before`), or `None`
/// when it is not the reader's to see.
#[server(prefix = "/_fn")]
pub async fn get_conversation(
    id: ConversationId,
    before: Option<u64>,
) -> Result<Option<ConversationPage>, ServerFnError> {
    page_data()?
        .conversation(request_headers(), id, before)
        .await
        .map_err(failed)
}

/// A page of the signed-in user's conversations, newest activity first, after `cursor`;
/// `None` when signed out.
#[server(prefix = "/_fn")]
pub async fn list_conversations(
    cursor: Option<String>,
) -> Result<Option<Page<Conversation>>, ServerFnError> {
    page_data()?
        .conversations(request_headers(), cursor)
        .await
        .map_err(failed)
}

/// The ids a form rendered by the server posts back (the no-JavaScript path): made once
/// per page render, so submitting the same form twice is a retry of one intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormIntent {
    pub idempotency_key: IdempotencyKey,
    pub local_id: LocalId,
}

impl FormIntent {
    pub fn generate() -> Self {
        Self {
            idempotency_key: IdempotencyKey::generate(),
            local_id: LocalId::generate(),
        }
    }
}

/// The compose form's post without JavaScript: creates (or merges, or replays) the
/// conversation through the same idempotent path as the API, then opens it. On failure
/// it goes `back` to the form with the text and the same key and local_id.
#[server(prefix = "/_fn", endpoint = "start_conversation")]
pub async fn start_conversation(
    agency_id: AgencyId,
    idempotency_key: String,
    local_id: String,
    text: String,
    back: String,
) -> Result<(), ServerFnError> {
    let request = CreateConversationRequest {
        context_type: ContextType::AgencyInquiry,
        context_id: *agency_id.as_uuid(),
        initial_message: InitialMessage {
            text: text.clone(),
            local_id: local_id.clone(),
            user_agent: None,
            max_touch_points: None,
        },
    };
    let started = page_data()?
        .start_conversation(request_headers(), idempotency_key.clone(), request)
        .await;
    match started {
        Ok(id) => leptos_axum::redirect(&format!("/conversations/{id}")),
        Err(error) => back_to_form(
            &safe_next(Some(&back)),
            &[
                ("idempotency_key", &idempotency_key),
                ("local_id", &local_id),
                ("text", &text),
            ],
            &error,
        ),
    }
    Ok(())
}

/// The chat form's post without JavaScript (with JavaScript the outbox sends through
/// the API instead); stored once per `local_id`, then back to the conversation, with
/// the text and the same local_id when it failed.
#[server(prefix = "/_fn", endpoint = "post_chat_message")]
pub async fn post_chat_message(
    conversation_id: ConversationId,
    local_id: String,
    text: String,
) -> Result<(), ServerFnError> {
    let request = ChatRequest {
        conversation_id,
        text: text.clone(),
        local_id: local_id.clone(),
        user_agent: None,
        max_touch_points: None,
    };
    let page = format!("/conversations/{conversation_id}");
    match page_data()?
        .post_chat_message(request_headers(), request)
        .await
    {
        Ok(()) => leptos_axum::redirect(&page),
        Err(error) => back_to_form(&page, &[("local_id", &local_id), ("text", &text)], &error),
    }
    Ok(())
}

/// A form post that failed goes back to its page with what was written, the same ids
/// (so sending again is a retry of the same intent) and the error to show.
#[cfg(feature = "ssr")]
fn back_to_form(page: &str, fields: &[(&str, &str)], error: &PageDataError) {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter().copied())
        .append_pair("error", &error.message)
        .finish();
    leptos_axum::redirect(&format!("{page}?{query}"));
}

/// What a form page was sent back with after a failed post (see `back_to_form`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReturnedForm {
    pub idempotency_key: Option<IdempotencyKey>,
    pub local_id: Option<LocalId>,
    pub text: String,
    pub error: Option<String>,
}

impl ReturnedForm {
    /// Read from the page's query; ids that do not parse are ignored (fresh ones are used).
    pub fn from_query() -> Self {
        leptos_router::hooks::use_query_map().with_untracked(|query| Self {
            idempotency_key: query
                .get("idempotency_key")
                .and_then(|key| IdempotencyKey::parse(&key).ok()),
            local_id: query
                .get("local_id")
                .and_then(|id| LocalId::parse(&id).ok()),
            text: query.get("text").unwrap_or_default(),
            error: query.get("error"),
        })
    }
}

/// Ends the session and goes to the sign-in page.
#[server(prefix = "/_fn", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    let cookie = page_data()?
        .sign_out(request_headers())
        .await
        .map_err(failed)?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    if let Ok(value) = http::HeaderValue::from_str(&cookie) {
        response.insert_header(http::header::SET_COOKIE, value);
    }
    leptos_axum::redirect("/sign-in");
    Ok(())
}

/// The error a form post came back with when JavaScript is off: the server function
/// redirects to the form's page with it encoded in the query (`__err`).
pub fn form_error() -> Option<String> {
    use leptos::server_fn::error::ServerFnUrlError;
    let encoded = leptos_router::hooks::use_query_map().with(|q| q.get("__err"))?;
    let error = ServerFnUrlError::<ServerFnError>::decode_err(&encoded);
    Some(error_text(&error))
}

/// A server function's error as the person reads it.
pub fn error_text(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        _ => "Could not reach the server. Check your connection and try again.".into(),
    }
}

/// Signs in and goes to `next` (a local path), or back to the form with the error.
#[server(prefix = "/_fn", endpoint = "sign_in")]
pub async fn sign_in(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    let cookie = page_data()?
        .sign_in(request_parts(), username, password)
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
