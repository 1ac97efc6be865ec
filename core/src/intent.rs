//! Request bodies turned into validated intents. The server's handlers and the browser's
//! compose form call the same conversions, so an error shown inline is the error the
//! server would give.

use crate::dedup::{RetryVerdict, judge_retry};
use crate::device::DisplayData;
use crate::fingerprint::{Fingerprint, Fingerprinted};
use crate::ids::{ConversationId, UserId};
use crate::keys::LocalId;
use crate::text::MessageText;
use crate::wire::{ChatRequest, ContextType, CreateConversationRequest, InitialMessage};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// One field that broke a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field's path in the request body, such as `initial_message.text`.
    pub field: String,
    /// Why, for people.
    pub message: String,
}

/// Every field error of one request (never empty when returned as an error).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result
            .map_err(|error| {
                self.0.push(FieldError {
                    field: field.to_owned(),
                    message: error.to_string(),
                })
            })
            .ok()
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for FieldErrors {}

/// A message that passed every rule, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub text: MessageText,
    pub local_id: LocalId,
    pub display_data: DisplayData,
}

impl NewMessage {
    /// Validates text and local id; `prefix` is the path of the enclosing object.
    fn parse(
        errors: &mut FieldErrors,
        prefix: &str,
        text: &str,
        local_id: &str,
        user_agent: Option<&str>,
        max_touch_points: Option<u32>,
    ) -> Option<Self> {
        let text = errors.check(&format!("{prefix}text"), MessageText::parse(text));
        let local_id = errors.check(&format!("{prefix}local_id"), LocalId::parse(local_id));
        Some(Self {
            text: text?,
            local_id: local_id?,
            display_data: DisplayData::from_client(user_agent, max_touch_points),
        })
    }

    /// What a repeat of this `local_id` must match: the same text from the same sender.
    /// The user agent is left out: it describes the device, not the message.
    pub fn identity(&self, sender: UserId) -> Fingerprint {
        message_identity(sender, self.text.as_str())
    }

    /// Judges this message, sent by `sender`, as a repeat of the stored message its
    /// `local_id` names. An exact repeat (the common case: a retried send) is known
    /// without hashing, since equal fields have equal fingerprints.
    pub fn judge_as_repeat_of(
        &self,
        sender: UserId,
        stored_sender: UserId,
        stored_text: &str,
    ) -> RetryVerdict {
        if sender == stored_sender && self.text.as_str() == stored_text {
            return RetryVerdict::Replay;
        }
        judge_retry(
            &message_identity(stored_sender, stored_text),
            &self.identity(sender),
        )
    }
}

/// The identity of a stored message, compared against a retry of its `local_id`.
fn message_identity(sender: UserId, text: &str) -> Fingerprint {
    Fingerprint::of([("sender", sender.to_string().as_str()), ("text", text)])
}

/// A validated `CreateConversationRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewConversation {
    pub context_type: ContextType,
    pub context_id: Uuid,
    pub initial_message: NewMessage,
}

impl TryFrom<CreateConversationRequest> for NewConversation {
    type Error = FieldErrors;

    fn try_from(request: CreateConversationRequest) -> Result<Self, Self::Error> {
        let mut errors = FieldErrors::default();
        let InitialMessage {
            text,
            local_id,
            user_agent,
            max_touch_points,
        } = &request.initial_message;
        let message = NewMessage::parse(
            &mut errors,
            "initial_message.",
            text,
            local_id,
            user_agent.as_deref(),
            *max_touch_points,
        );
        match message {
            Some(initial_message) if errors.0.is_empty() => Ok(Self {
                context_type: request.context_type,
                context_id: request.context_id,
                initial_message,
            }),
            _ => Err(errors),
        }
    }
}

impl Fingerprinted for NewConversation {
    fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of([
            ("context_type", self.context_type.as_str()),
            ("context_id", self.context_id.to_string().as_str()),
            ("initial_message.text", self.initial_message.text.as_str()),
            (
                "initial_message.local_id",
                self.initial_message.local_id.as_str(),
            ),
        ])
    }
}

/// A validated `ChatRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChatMessage {
    pub conversation_id: ConversationId,
    pub message: NewMessage,
}

impl TryFrom<ChatRequest> for NewChatMessage {
    type Error = FieldErrors;

    fn try_from(request: ChatRequest) -> Result<Self, Self::Error> {
        let mut errors = FieldErrors::default();
        let message = NewMessage::parse(
            &mut errors,
            "",
            &request.text,
            &request.local_id,
            request.user_agent.as_deref(),
            request.max_touch_points,
        );
        match message {
            Some(message) if errors.0.is_empty() => Ok(Self {
                conversation_id: request.conversation_id,
                message,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str, local_id: &str) -> CreateConversationRequest {
        CreateConversationRequest {
            context_type: ContextType::AgencyInquiry,
            context_id: Uuid::nil(),
            initial_message: InitialMessage {
                text: text.into(),
                local_id: local_id.into(),
                user_agent: None,
                max_touch_points: None,
            },
        }
    }

    #[test]
    fn a_valid_request_becomes_an_intent() {
        let intent = NewConversation::try_from(request("Hello", "m1")).expect("valid");
        assert_eq!(intent.initial_message.text.as_str(), "Hello");
        assert_eq!(intent.initial_message.local_id.as_str(), "m1");
    }

    #[test]
    fn every_broken_field_is_reported_with_its_path() {
        let errors = NewConversation::try_from(request("  ", "bad id")).expect_err("invalid");
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["initial_message.text", "initial_message.local_id"]);
        assert_eq!(errors.0[0].message, "the message is empty");

        let chat = ChatRequest {
            conversation_id: ConversationId::new_random(),
            text: "ok".into(),
            local_id: String::new(),
            user_agent: None,
            max_touch_points: None,
        };
        let errors = NewChatMessage::try_from(chat).expect_err("invalid");
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].field, "local_id");
    }

    #[test]
    fn the_user_agent_does_not_change_the_fingerprint() {
        let plain = NewConversation::try_from(request("Hello", "m1")).expect("valid");
        let mut with_ua = request("Hello", "m1");
        with_ua.initial_message.user_agent = Some("Mozilla/5.0 (iPhone)".into());
        let with_ua = NewConversation::try_from(with_ua).expect("valid");
        assert_eq!(
            with_ua.initial_message.display_data.device_kind,
            crate::DeviceKind::Iphone
        );
        assert_eq!(
            judge_retry(&plain.fingerprint(), &with_ua.fingerprint()),
            RetryVerdict::Replay
        );
    }

    #[test]
    fn a_retry_with_other_text_names_the_text_field() {
        let first = NewConversation::try_from(request("Hello", "m1")).expect("valid");
        let retry = NewConversation::try_from(request("Hello again", "m1")).expect("valid");
        assert_eq!(
            judge_retry(&first.fingerprint(), &retry.fingerprint()),
            RetryVerdict::Mismatch {
                differing_fields: vec!["initial_message.text".into()]
            }
        );
    }

    #[test]
    fn a_local_id_repeated_by_another_sender_is_a_mismatch() {
        let (alice, bob) = (UserId::new_random(), UserId::new_random());
        assert_eq!(
            judge_retry(&message_identity(alice, "hi"), &message_identity(bob, "hi")),
            RetryVerdict::Mismatch {
                differing_fields: vec!["sender".into()]
            }
        );
    }

    #[test]
    fn a_repeat_is_judged_like_its_fingerprints_would_be() {
        let (alice, bob) = (UserId::new_random(), UserId::new_random());
        let chat = |text: &str| {
            NewChatMessage::try_from(ChatRequest {
                conversation_id: ConversationId::new_random(),
                text: text.into(),
                local_id: "m1".into(),
                user_agent: None,
                max_touch_points: None,
            })
            .expect("valid")
            .message
        };
        for (sender, stored_sender, stored_text) in [
            (alice, alice, "hi"),
            (alice, bob, "hi"),
            (alice, alice, "hello"),
            (bob, alice, "hello"),
        ] {
            let message = chat("hi");
            assert_eq!(
                message.judge_as_repeat_of(sender, stored_sender, stored_text),
                judge_retry(
                    &message_identity(stored_sender, stored_text),
                    &message.identity(sender)
                ),
            );
        }
        assert_eq!(
            chat("hi").judge_as_repeat_of(alice, alice, "hi"),
            RetryVerdict::Replay
        );
    }
}
