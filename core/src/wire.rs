//! Every JSON body of the HTTP API. Requests refuse unknown fields, so a typo in a field
//! name is a 422 `validation_failed` rather than a silently dropped value.

use crate::dedup::DedupReason;
use crate::device::DisplayData;
use crate::ids::{AgencyId, ConversationId, MessageId, UserId};
use crate::keys::LocalId;
use crate::micros;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// What a conversation is about. Today only an inquiry to an agency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ContextType {
    /// `context_id` is an [`AgencyId`].
    AgencyInquiry,
}

impl ContextType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AgencyInquiry => "agency_inquiry",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "agency_inquiry" => Some(Self::AgencyInquiry),
            _ => None,
        }
    }
}

/// `POST /api/messages/conversations` (with an `Idempotency-Key` header).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateConversationRequest {
    pub context_type: ContextType,
    pub context_id: Uuid,
    pub initial_message: InitialMessage,
}

/// The first message of a new conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InitialMessage {
    pub text: String,
    pub local_id: String,
    /// The browser's `navigator.userAgent`, for the device icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The browser's `navigator.maxTouchPoints`: tells an iPad that sends a Mac's user
    /// agent apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_touch_points: Option<u32>,
}

/// `POST /api/chat`: one message into an existing conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatRequest {
    pub conversation_id: ConversationId,
    pub text: String,
    pub local_id: String,
    /// As in [`InitialMessage`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// As in [`InitialMessage`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_touch_points: Option<u32>,
}

/// Someone taking part in a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Participant {
    pub id: UserId,
    pub display_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// Its place in the conversation: 1, 2, 3, … with no gap, given when it is stored. A
    /// reader that has every message up to `seq - 1` may show it; otherwise it fetches
    /// the gap first. (0 only in answers stored before sequences existed.)
    #[serde(default)]
    pub seq: u64,
    pub local_id: LocalId,
    pub sender: Participant,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub display_data: DisplayData,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    pub id: ConversationId,
    pub context_type: ContextType,
    pub context_id: Uuid,
    /// What the conversation is called for its reader: the agency's name.
    pub title: String,
    pub created_by: Participant,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_message_at: OffsetDateTime,
}

impl Conversation {
    /// What the conversation is called for `reader`: the agency's name for the customer
    /// who started it, the customer's name (and the agency's) for the agency's members.
    pub fn title_for(&self, reader: UserId) -> String {
        if reader == self.created_by.id {
            self.title.clone()
        } else {
            format!("{} · {}", self.created_by.display_name, self.title)
        }
    }
}

/// Answer to `POST /api/messages/conversations`: 201 when new, 200 when it existed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateConversationResponse {
    pub conversation: Conversation,
    /// The initial message as stored (once, whatever the number of retries).
    pub message: Message,
    /// Set when the answer is an existing conversation rather than a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<DedupReason>,
    /// Until when a retry with the same `Idempotency-Key` is safe (replayed).
    #[serde(with = "time::serde::rfc3339")]
    pub key_expires_at: OffsetDateTime,
}

/// Answer to `POST /api/chat` (202), the same for every retry of one `local_id`. It
/// comes once the message is stored durably: 202 and `queued` are the contract's
/// (a message may still be on its way to the other participants' screens).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatResponse {
    /// Always `true`.
    pub queued: bool,
    pub message: Message,
}

/// One page of a list; pass `next_cursor` back as `cursor` for the next page, and (a
/// page of older messages) `prev_cursor` back as `before` for the one before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_cursor: Option<String>,
}

/// How many items a list gives when the query names no `limit`.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The most items one page of any list holds; a larger `limit` is clamped to it.
pub const MAX_PAGE_SIZE: u32 = 200;

/// The page size for a query's `limit`: the default when absent, within `1..=MAX`.
pub fn page_size(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
}

/// Where a page of a list ordered by time ended: the last item's time (Unix
/// microseconds) and id, written `<micros>_<uuid>`. The same on the wire and in the
/// store's queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor<Id> {
    /// The time the list is ordered by: a conversation's last activity.
    pub at: i64,
    pub id: Id,
}

/// Resumes the conversations list (newest activity first) after one conversation.
pub type ConversationCursor = Cursor<ConversationId>;

/// Resumes a conversation's messages (in sequence) after one message: its `seq`, written
/// as a number. A client makes one to ask for what follows the messages it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MessageCursor {
    pub seq: u64,
}

impl ConversationCursor {
    pub fn after(conversation: &Conversation) -> Self {
        Self {
            at: micros::from_time(conversation.last_message_at),
            id: conversation.id,
        }
    }
}

impl MessageCursor {
    pub fn after(message: &Message) -> Self {
        Self { seq: message.seq }
    }

    pub fn parse(cursor: &str) -> Option<Self> {
        // Digits only: `u64::from_str` would take a leading `+`.
        if cursor.is_empty() || !cursor.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        cursor.parse().ok().map(|seq| Self { seq })
    }
}

impl fmt::Display for MessageCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.seq)
    }
}

impl Serialize for MessageCursor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MessageCursor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not a cursor this API gave out"))
    }
}

impl<Id: From<Uuid>> Cursor<Id> {
    pub fn parse(cursor: &str) -> Option<Self> {
        let (at, id) = cursor.split_once('_')?;
        Some(Self {
            at: at.parse().ok()?,
            id: Uuid::parse_str(id).ok()?.into(),
        })
    }
}

impl<Id: fmt::Display> fmt::Display for Cursor<Id> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.at, self.id)
    }
}

impl<Id: fmt::Display> Serialize for Cursor<Id> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de, Id: From<Uuid>> Deserialize<'de> for Cursor<Id> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not a cursor this API gave out"))
    }
}

/// Query of `GET /api/messages/conversations`; with a context it is the
/// "does a conversation already exist?" check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ConversationListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_type: Option<ContextType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<Uuid>,
    /// A `next_cursor` this list gave out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>), schema(value_type = Option<String>))]
    pub cursor: Option<ConversationCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Query of a conversation's messages: oldest first, resuming after `cursor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct PageQuery {
    /// A `next_cursor` this list gave out, or one made from a message the client has:
    /// the page starts after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>), schema(value_type = Option<String>))]
    pub cursor: Option<MessageCursor>,
    /// A `prev_cursor`, or the oldest message the client has: the page is the messages
    /// just before it (in order). Not with `cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>), schema(value_type = Option<String>))]
    pub before: Option<MessageCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Query of `GET /api/messages/conversations/{id}/stream`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct StreamQuery {
    /// The `seq` of the last message the client has: the stream starts with the ones
    /// after it. A `Last-Event-ID` header (the browser's own reconnection) wins over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>), schema(value_type = Option<String>))]
    pub after: Option<MessageCursor>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agency {
    pub id: AgencyId,
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// `POST /api/session`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInRequest {
    pub username: String,
    pub password: String,
}

/// Answer to a sign-in: the bearer token for API clients (browsers get a cookie too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionResponse {
    pub token: String,
    pub user: CurrentUser,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurrentUser {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_conversation_is_named_for_its_reader() {
        let alice = Participant {
            id: UserId::new_random(),
            display_name: "Alice Martin".into(),
        };
        let at = OffsetDateTime::UNIX_EPOCH;
        let conversation = Conversation {
            id: ConversationId::new_random(),
            context_type: ContextType::AgencyInquiry,
            context_id: Uuid::nil(),
            title: "Northwind Travel".into(),
            created_by: alice.clone(),
            created_at: at,
            last_message_at: at,
        };
        assert_eq!(conversation.title_for(alice.id), "Northwind Travel");
        assert_eq!(
            conversation.title_for(UserId::new_random()),
            "Alice Martin · Northwind Travel"
        );
    }

    #[test]
    fn a_cursor_made_by_a_client_reads_back_and_junk_does_not() {
        let cursor = MessageCursor { seq: 42 };
        assert_eq!(cursor.to_string(), "42");
        assert_eq!(MessageCursor::parse("42"), Some(cursor));
        let query: PageQuery = serde_json::from_value(json!({ "cursor": "42" })).expect("a cursor");
        assert_eq!(query.cursor, Some(cursor));
        assert!(serde_json::from_value::<PageQuery>(json!({ "cursor": "junk" })).is_err());
        for junk in ["", "+1", "-1", "1.0", " 1", "18446744073709551616"] {
            assert_eq!(MessageCursor::parse(junk), None, "{junk:?}");
        }
        let conversation = ConversationCursor {
            at: 1_700_000_000_000_000,
            id: ConversationId::from_uuid(Uuid::nil()),
        };
        assert_eq!(
            conversation.to_string(),
            "1700000000000000_00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            ConversationCursor::parse(&conversation.to_string()),
            Some(conversation)
        );
        for junk in [
            "",
            "_",
            "12",
            "x_00000000-0000-0000-0000-000000000000",
            "1_not-a-uuid",
        ] {
            assert_eq!(ConversationCursor::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn page_sizes_are_clamped_to_the_largest_page() {
        assert_eq!(page_size(None), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(7)), 7);
        assert_eq!(page_size(Some(u32::MAX)), MAX_PAGE_SIZE);
    }

    #[test]
    fn the_contract_example_body_deserializes() {
        let body = json!({
            "context_type": "agency_inquiry",
            "context_id": "6f1c1b7e-3f0a-4b8e-9a59-0f7f3c1d2e4b",
            "initial_message": { "text": "Hello!", "local_id": "m-1" }
        });
        let request: CreateConversationRequest = serde_json::from_value(body).expect("valid body");
        assert_eq!(request.context_type, ContextType::AgencyInquiry);
        assert_eq!(request.initial_message.user_agent, None);
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let bodies = [
            json!({ "conversation_id": "6f1c1b7e-3f0a-4b8e-9a59-0f7f3c1d2e4b", "text": "a", "local_id": "m", "extra": 1 }),
            json!({ "conversation_id": "not-a-uuid", "text": "a", "local_id": "m" }),
            json!({ "conversation_id": "6f1c1b7e-3f0a-4b8e-9a59-0f7f3c1d2e4b", "text": 5, "local_id": "m" }),
            json!({ "conversation_id": "6f1c1b7e-3f0a-4b8e-9a59-0f7f3c1d2e4b", "text": "a" }),
        ];
        for body in bodies {
            assert!(
                serde_json::from_value::<ChatRequest>(body.clone()).is_err(),
                "{body}"
            );
        }
        let unknown_context = json!({
            "context_type": "job_offer", "context_id": "6f1c1b7e-3f0a-4b8e-9a59-0f7f3c1d2e4b",
            "initial_message": { "text": "a", "local_id": "m" }
        });
        assert!(serde_json::from_value::<CreateConversationRequest>(unknown_context).is_err());
    }

    #[test]
    fn context_type_names_round_trip() {
        let t = ContextType::AgencyInquiry;
        assert_eq!(ContextType::parse(t.as_str()), Some(t));
        assert_eq!(serde_json::to_value(t).ok(), Some(json!(t.as_str())));
        assert_eq!(ContextType::parse("nope"), None);
    }
}

/// The event names of a conversation's live stream
/// (`GET /api/messages/conversations/{id}/stream`, Server-Sent Events).
pub mod stream_event {
    /// A new message; the data is the [`Message`](super::Message).
    pub const MESSAGE: &str = "message";
    /// Messages may have passed unseen: catch up through the API.
    pub const LAGGED: &str = "lagged";
    /// The server ended the stream for good; the data is a
    /// [`StreamClosed`](super::StreamClosed). Do not reconnect.
    pub const CLOSED: &str = "closed";
}

/// Why the server ended a live stream for good (the `closed` event's data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StreamClosed {
    /// The session ended: signed out, or expired.
    SignedOut,
    /// The user no longer takes part in the conversation.
    NotParticipant,
    /// The same user opened more streams than the server keeps; this was the oldest.
    Replaced,
}

impl StreamClosed {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::NotParticipant => "not_participant",
            Self::Replaced => "replaced",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::SignedOut, Self::NotParticipant, Self::Replaced]
            .into_iter()
            .find(|reason| reason.as_str() == value)
    }
}
