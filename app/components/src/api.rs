//! The typed API client the components use in the browser. Every call goes through
//! `fetch` (gloo-net) with a timeout; failures come back as a [`Failure`] that `core`'s
//! retry policy understands, plus the problem body when the server sent one.

use crate::labels::{Labels, fill};
use gloo_net::http::{Request, RequestBuilder, Response};
use messaging_core::retry::{Failure, parse_retry_after};
use messaging_core::wire::{
    Agency, ChatRequest, ChatResponse, ContextType, Conversation, CreateConversationRequest,
    CreateConversationResponse, CurrentUser, MAX_PAGE_SIZE, Message, MessageCursor, Page,
    SessionResponse, SignInRequest,
};
use messaging_core::{ConversationId, IDEMPOTENCY_KEY_HEADER, IdempotencyKey, LocalId, Problem};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// How long a call waits unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// What the browser tells of its device, sent with each message: the server decides the
/// message's device kind from it (`core::device::DeviceKind::from_client`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHints {
    /// `navigator.userAgent`.
    pub user_agent: Option<String>,
    /// `navigator.maxTouchPoints`: an iPad asking for desktop sites sends a Mac's user
    /// agent, and only this tells it apart.
    pub max_touch_points: Option<u32>,
}

impl DeviceHints {
    /// This browser's (call it in the browser only).
    pub fn of_this_browser() -> Self {
        let navigator = leptos::prelude::window().navigator();
        Self {
            user_agent: navigator.user_agent().ok(),
            max_touch_points: u32::try_from(navigator.max_touch_points()).ok(),
        }
    }
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    /// What went wrong, as `core`'s retry policy judges it.
    pub failure: Failure,
    /// The server's problem body, when it answered with one.
    pub problem: Option<Box<Problem>>,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl CallError {
    fn network(failure: Failure) -> Self {
        Self {
            failure,
            problem: None,
            retry_after: None,
        }
    }

    /// What to tell the person: the server's explanation, or the labels' words for a
    /// failure without one.
    pub fn message(&self, labels: &Labels) -> String {
        match (&self.problem, self.failure) {
            (Some(problem), _) => problem.detail.clone(),
            (None, Failure::Timeout) => labels.timed_out.to_string(),
            (None, Failure::Network) => labels.unreachable.to_string(),
            (None, Failure::Status { status, .. }) => {
                fill(&labels.server_error, &[("status", &status.to_string())])
            }
        }
    }
}

/// What [`ConversationView`](crate::ConversationView) opens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedConversation {
    /// The conversation.
    pub conversation: Conversation,
    /// Its first page of messages, oldest first.
    pub messages: Vec<Message>,
    /// The signed-in reader.
    pub reader: CurrentUser,
}

/// A client for the API at `base` ("" for the same origin).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiClient {
    base: String,
}

impl ApiClient {
    /// A client for the API at `base`: "" for the same origin, or an origin such as
    /// `https://api.example.com` (which must then accept this site's requests).
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs in; the browser keeps the session cookie the answer sets.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<CurrentUser, CallError> {
        let body = SignInRequest {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        let request = Request::post(&self.url("/api/session"));
        let session: SessionResponse = call(request, Some(&body), timeout).await?;
        Ok(session.user)
    }

    /// Who is signed in (by the session cookie); `None` when nobody is.
    pub async fn current_user(&self, timeout: Duration) -> Result<Option<CurrentUser>, CallError> {
        let request = Request::get(&self.url("/api/session"));
        absent_when(401, call(request, None::<&()>, timeout).await)
    }

    /// An agency by its slug; `None` when there is none.
    pub async fn agency(&self, slug: &str, timeout: Duration) -> Result<Option<Agency>, CallError> {
        let slug = String::from(js_sys::encode_uri_component(slug));
        let request = Request::get(&self.url(&format!("/api/agencies/{slug}")));
        absent_when(404, call(request, None::<&()>, timeout).await)
    }

    /// A conversation the signed-in user takes part in; `None` for any other.
    pub async fn conversation(
        &self,
        id: ConversationId,
        timeout: Duration,
    ) -> Result<Option<Conversation>, CallError> {
        let request = Request::get(&self.url(&format!("/api/messages/conversations/{id}")));
        absent_when(404, call(request, None::<&()>, timeout).await)
    }

    /// The conversation's message sent under `local_id`; `None` when the server does not
    /// have it (or the conversation is not the reader's).
    pub async fn stored_message(
        &self,
        conversation: ConversationId,
        local_id: &LocalId,
        timeout: Duration,
    ) -> Result<Option<Message>, CallError> {
        let local_id = String::from(js_sys::encode_uri_component(local_id.as_str()));
        let request = Request::get(&self.url(&format!(
            "/api/messages/conversations/{conversation}/messages/{local_id}"
        )));
        absent_when(404, call(request, None::<&()>, timeout).await)
    }

    /// Everything a conversation view needs, for the signed-in reader; `None` when nobody
    /// is signed in or the conversation is not theirs to see.
    pub async fn open_conversation(
        &self,
        id: ConversationId,
        timeout: Duration,
    ) -> Result<Option<OpenedConversation>, CallError> {
        let Some(reader) = self.current_user(timeout).await? else {
            return Ok(None);
        };
        let Some(conversation) = self.conversation(id, timeout).await? else {
            return Ok(None);
        };
        let messages = self.messages(id, None, timeout).await?.items;
        Ok(Some(OpenedConversation {
            conversation,
            messages,
            reader,
        }))
    }

    /// The "does a conversation already exist?" check.
    pub async fn find_conversation(
        &self,
        context_type: ContextType,
        context_id: Uuid,
        timeout: Duration,
    ) -> Result<Option<Conversation>, CallError> {
        let url = self.url(&format!(
            "/api/messages/conversations?context_type={}&context_id={context_id}&limit=1",
            context_type.as_str()
        ));
        let page: Page<Conversation> = call(Request::get(&url), None::<&()>, timeout).await?;
        Ok(page.items.into_iter().next())
    }

    /// Creates (or finds, or replays) the conversation; the key makes retries safe.
    pub async fn create_conversation(
        &self,
        key: &IdempotencyKey,
        request: &CreateConversationRequest,
        timeout: Duration,
    ) -> Result<CreateConversationResponse, CallError> {
        let builder = Request::post(&self.url("/api/messages/conversations"))
            .header(IDEMPOTENCY_KEY_HEADER, key.as_str());
        call(builder, Some(request), timeout).await
    }

    /// Sends a chat message; its `local_id` makes retries safe.
    pub async fn send_chat(
        &self,
        request: &ChatRequest,
        timeout: Duration,
    ) -> Result<ChatResponse, CallError> {
        call(
            Request::post(&self.url("/api/chat")),
            Some(request),
            timeout,
        )
        .await
    }

    /// One page of a conversation's messages (the largest the API gives), oldest first.
    pub async fn messages(
        &self,
        conversation: ConversationId,
        after: Option<&MessageCursor>,
        timeout: Duration,
    ) -> Result<Page<Message>, CallError> {
        let mut url = self.url(&format!(
            "/api/messages/conversations/{conversation}/messages?limit={MAX_PAGE_SIZE}"
        ));
        if let Some(cursor) = after {
            url.push_str("&cursor=");
            url.push_str(&String::from(js_sys::encode_uri_component(
                &cursor.to_string(),
            )));
        }
        call(Request::get(&url), None::<&()>, timeout).await
    }

    /// The page of messages just before `before` (the largest the API gives), in
    /// sequence; its `prev_cursor` names the page before it.
    pub async fn older_messages(
        &self,
        conversation: ConversationId,
        before: MessageCursor,
        timeout: Duration,
    ) -> Result<Page<Message>, CallError> {
        let url = self.url(&format!(
            "/api/messages/conversations/{conversation}/messages?limit={MAX_PAGE_SIZE}&before={before}"
        ));
        call(Request::get(&url), None::<&()>, timeout).await
    }

    /// Where a conversation's live stream (Server-Sent Events) is; with `after`, it
    /// starts with the messages that follow that one.
    pub fn stream_url(&self, conversation: ConversationId, after: Option<MessageCursor>) -> String {
        let path = format!("/api/messages/conversations/{conversation}/stream");
        match after {
            Some(after) => self.url(&format!("{path}?after={after}")),
            None => self.url(&path),
        }
    }
}

/// A call's answer, with the one status that means "no such thing" as `None`.
fn absent_when<T>(status: u16, answer: Result<T, CallError>) -> Result<Option<T>, CallError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(error) if matches!(error.failure, Failure::Status { status: s, .. } if s == status) => {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Sends one request with a timeout and decodes the JSON answer or the problem.
async fn call<B: serde::Serialize, T: DeserializeOwned>(
    builder: RequestBuilder,
    body: Option<&B>,
    timeout: Duration,
) -> Result<T, CallError> {
    let controller =
        web_sys::AbortController::new().map_err(|_| CallError::network(Failure::Network))?;
    let builder = builder.abort_signal(Some(&controller.signal()));
    let request = match body {
        Some(body) => builder.json(body),
        None => builder.build(),
    }
    .map_err(|_| CallError::network(Failure::Network))?;

    // Armed until the body is read too: an answer whose body stalls (a connection lost
    // after the headers) is a timeout, not a wait for ever.
    let timer = leptos::prelude::set_timeout_with_handle(
        {
            let controller = controller.clone();
            move || controller.abort()
        },
        timeout,
    )
    .ok();
    let failure = || {
        let failure = if controller.signal().aborted() {
            Failure::Timeout
        } else {
            Failure::Network
        };
        CallError::network(failure)
    };
    let answer = async {
        let response = request.send().await.map_err(|_| failure())?;
        if response.ok() {
            return response.json().await.map_err(|_| failure());
        }
        Err(problem_of(response).await)
    }
    .await;
    if let Some(timer) = timer {
        timer.clear();
    }
    answer
}

/// Waits `duration` on a browser timer (between retries).
pub(crate) async fn sleep(duration: Duration) {
    let (sender, receiver) = futures_channel::oneshot::channel::<()>();
    leptos::prelude::set_timeout(
        move || {
            let _ = sender.send(());
        },
        duration,
    );
    let _ = receiver.await;
}

async fn problem_of(response: Response) -> CallError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .as_deref()
        .and_then(parse_retry_after);
    let problem = response.json::<Problem>().await.ok().map(Box::new);
    CallError {
        failure: Failure::Status {
            status,
            code: problem.as_ref().map(|p| p.code),
        },
        problem,
        retry_after,
    }
}
