//! Every text the components show a person, in one value with English defaults, so an
//! app can translate them without forking: provide a [`Labels`] as context (or pass it
//! to an island), and every component below reads it.
//!
//! ```
//! use leptos::prelude::*;
//! use messaging_components::{Labels, provide_labels};
//!
//! #[component]
//! fn FrenchMarketplace(children: Children) -> impl IntoView {
//!     provide_labels(Labels {
//!         send_message: "Envoyer un message".into(),
//!         compose_title: "Message à {recipient}".into(),
//!         ..Labels::default()
//!     });
//!     children()
//! }
//! ```

use leptos::prelude::*;
use messaging_core::MessageTextError;
use messaging_core::wire::StreamClosed;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

type Text = Cow<'static, str>;

/// The texts, each a template where a `{name}` stands for a value the component fills
/// in (named in each field's documentation). As JSON, an object of the texts that differ
/// from the English defaults; names it does not know are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Labels {
    /// The button that starts a conversation.
    pub send_message: Text,
    /// The button while it asks whether a conversation exists.
    pub checking: Text,
    /// The compose dialog's title; `{recipient}`.
    pub compose_title: Text,
    /// The dialog's close button (its accessible name).
    pub close: Text,
    /// The label of the message field.
    pub your_message: Text,
    /// The send button.
    pub send: Text,
    /// The send button while a send is in flight, and a message's delivery meanwhile.
    pub sending: Text,
    /// The send button after a failure, and the retry of a message not sent.
    pub retry: Text,
    /// After a failed send's reason.
    pub kept_for_retry: Text,
    /// When the send found the conversation that existed (a natural-key merge).
    pub already_contacted: Text,
    /// The link to that conversation.
    pub open_conversation: Text,
    /// The conversation's accessible name; `{title}`.
    pub conversation: Text,
    /// The list of messages (its accessible name).
    pub messages: Text,
    /// A message's delivery, as its sender sees it.
    pub sent: Text,
    /// A message that was not sent; `{reason}`.
    pub not_sent: Text,
    /// After `not_sent` when the outbox tries again by itself.
    pub retrying_by_itself: Text,
    /// Drops a message not sent (one that may have reached the server, only if it did not).
    pub discard: Text,
    /// A message held back behind an earlier one the server refused.
    pub waiting_for_earlier: Text,
    /// Takes an unsent message (no request carried it yet) back into the composer.
    pub edit: Text,
    /// Drops an unsent message no request carried yet.
    pub cancel: Text,
    /// When an edit or a cancel came too late: the message had just left.
    pub already_on_its_way: Text,
    /// A message not sent yet that the browser's storage had no room for.
    pub only_in_this_tab: Text,
    /// When discarding a message that may have reached the server could not ask it.
    pub discard_needs_the_server: Text,
    /// Above the unsent messages of a conversation that cannot be opened any more.
    pub cannot_be_sent: Text,
    /// One message written and not sent yet (a header's link to it).
    pub unsent_one: Text,
    /// More than one; `{count}`.
    pub unsent_many: Text,
    /// The sign-out button.
    pub sign_out: Text,
    /// Asked before signing out discards unsent messages; `{count}`.
    pub sign_out_with_unsent: Text,
    /// The composer's placeholder.
    pub write_a_message: Text,
    /// A device the user agent did not tell.
    pub unknown_device: Text,
    /// No answer in time (and no explanation from the server).
    pub timed_out: Text,
    /// No connection to the server.
    pub unreachable: Text,
    /// An error status without the server's explanation; `{status}`.
    pub server_error: Text,
    /// The message text rules (`core`'s [`MessageTextError`]).
    pub text_blank: Text,
    /// `{len}`, `{max}`.
    pub text_too_long: Text,
    /// `{code}`: the character's code point, as `U+0007`.
    pub text_control_character: Text,
    /// Loads the messages before the first one shown.
    pub older_messages: Text,
    /// The live conversation lost its connection and is getting it back.
    pub reconnecting: Text,
    /// The live conversation stopped: the session ended.
    pub stream_signed_out: Text,
    /// The live conversation stopped: the reader no longer takes part.
    pub stream_not_participant: Text,
    /// The live conversation stopped: opened in too many other tabs or windows.
    pub stream_replaced: Text,
}

impl Default for Labels {
    fn default() -> Self {
        Self {
            send_message: "Send message".into(),
            checking: "Checking…".into(),
            compose_title: "Message {recipient}".into(),
            close: "Close".into(),
            your_message: "Your message".into(),
            send: "Send".into(),
            sending: "Sending…".into(),
            retry: "Retry".into(),
            kept_for_retry: "Your message is kept; sending again is safe.".into(),
            already_contacted:
                "You already contacted this agency. Your message was added to that conversation."
                    .into(),
            open_conversation: "Open the conversation".into(),
            conversation: "Conversation: {title}".into(),
            messages: "Messages".into(),
            sent: "Sent".into(),
            not_sent: "Not sent: {reason}".into(),
            retrying_by_itself: "Retrying by itself.".into(),
            discard: "Discard".into(),
            waiting_for_earlier: "Waiting: the message above was not sent.".into(),
            edit: "Edit".into(),
            cancel: "Cancel".into(),
            already_on_its_way: "Too late to change: it is on its way.".into(),
            only_in_this_tab:
                "Not saved on this device (its storage is full): it is lost if this page is closed before it is sent."
                    .into(),
            discard_needs_the_server:
                "It may have reached the server: discarding it needs the server's answer. Try again once online."
                    .into(),
            cannot_be_sent:
                "You wrote these here and they were not sent. They cannot be sent any more: copy what you want to keep, then discard them."
                    .into(),
            unsent_one: "1 message not sent yet".into(),
            unsent_many: "{count} messages not sent yet".into(),
            sign_out: "Sign out".into(),
            sign_out_with_unsent:
                "{count} of your messages are not sent yet. Signing out discards them. Sign out anyway?"
                    .into(),
            write_a_message: "Write a message…".into(),
            unknown_device: "Unknown device".into(),
            timed_out: "The server took too long to answer.".into(),
            unreachable: "Could not reach the server. Check your connection.".into(),
            server_error: "The server answered with an error ({status}).".into(),
            // core's own wording: the server's validation errors say the same.
            text_blank: "the message is empty".into(),
            text_too_long: "the message is {len} characters long; at most {max} are allowed".into(),
            text_control_character: "the message holds a control character ({code})".into(),
            older_messages: "Older messages".into(),
            reconnecting: "Reconnecting…".into(),
            stream_signed_out: "You were signed out. Sign in again to see new messages.".into(),
            stream_not_participant: "You no longer take part in this conversation.".into(),
            stream_replaced:
                "This conversation is open in other tabs or windows; reload to follow it here."
                    .into(),
        }
    }
}

impl Labels {
    /// The text named `name` (a field's name), to be replaced.
    fn text_mut(&mut self, name: &str) -> Option<&mut Text> {
        let text = match name {
            "send_message" => &mut self.send_message,
            "checking" => &mut self.checking,
            "compose_title" => &mut self.compose_title,
            "close" => &mut self.close,
            "your_message" => &mut self.your_message,
            "send" => &mut self.send,
            "sending" => &mut self.sending,
            "retry" => &mut self.retry,
            "kept_for_retry" => &mut self.kept_for_retry,
            "already_contacted" => &mut self.already_contacted,
            "open_conversation" => &mut self.open_conversation,
            "conversation" => &mut self.conversation,
            "messages" => &mut self.messages,
            "sent" => &mut self.sent,
            "not_sent" => &mut self.not_sent,
            "retrying_by_itself" => &mut self.retrying_by_itself,
            "discard" => &mut self.discard,
            "waiting_for_earlier" => &mut self.waiting_for_earlier,
            "edit" => &mut self.edit,
            "cancel" => &mut self.cancel,
            "already_on_its_way" => &mut self.already_on_its_way,
            "only_in_this_tab" => &mut self.only_in_this_tab,
            "discard_needs_the_server" => &mut self.discard_needs_the_server,
            "cannot_be_sent" => &mut self.cannot_be_sent,
            "unsent_one" => &mut self.unsent_one,
            "unsent_many" => &mut self.unsent_many,
            "sign_out" => &mut self.sign_out,
            "sign_out_with_unsent" => &mut self.sign_out_with_unsent,
            "write_a_message" => &mut self.write_a_message,
            "unknown_device" => &mut self.unknown_device,
            "timed_out" => &mut self.timed_out,
            "unreachable" => &mut self.unreachable,
            "server_error" => &mut self.server_error,
            "text_blank" => &mut self.text_blank,
            "text_too_long" => &mut self.text_too_long,
            "text_control_character" => &mut self.text_control_character,
            "older_messages" => &mut self.older_messages,
            "reconnecting" => &mut self.reconnecting,
            "stream_signed_out" => &mut self.stream_signed_out,
            "stream_not_participant" => &mut self.stream_not_participant,
            "stream_replaced" => &mut self.stream_replaced,
            _ => return None,
        };
        Some(text)
    }

    /// Why the live conversation stopped, in these words.
    pub fn stream_closed(&self, reason: StreamClosed) -> String {
        match reason {
            StreamClosed::SignedOut => &self.stream_signed_out,
            StreamClosed::NotParticipant => &self.stream_not_participant,
            StreamClosed::Replaced => &self.stream_replaced,
        }
        .to_string()
    }

    /// Why a message text breaks `core`'s rules, in these words.
    pub fn text_problem(&self, error: &MessageTextError) -> String {
        match error {
            MessageTextError::Blank => self.text_blank.to_string(),
            MessageTextError::TooLong { len } => fill(
                &self.text_too_long,
                &[
                    ("len", &len.to_string()),
                    ("max", &messaging_core::MessageText::MAX_CHARS.to_string()),
                ],
            ),
            MessageTextError::ControlCharacter { code } => fill(
                &self.text_control_character,
                &[("code", &format!("U+{code:04X}"))],
            ),
        }
    }
}

/// Written by hand, over `Labels::text_mut`: serde's derived visitor has a branch per
/// field for every way a struct can arrive, 24 KB of wasm in every bundle whose island
/// takes labels; this one reads an object, the only form [`Labels`] is written in.
impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Texts;

        impl<'de> Visitor<'de> for Texts {
            type Value = Labels;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of texts")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut texts: M) -> Result<Labels, M::Error> {
                let mut labels = Labels::default();
                while let Some((name, text)) = texts.next_entry::<Cow<'de, str>, String>()? {
                    if let Some(slot) = labels.text_mut(&name) {
                        *slot = text.into();
                    }
                }
                Ok(labels)
            }
        }

        deserializer.deserialize_map(Texts)
    }
}

/// `template` with each `{name}` replaced by its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}

/// Makes `labels` the texts of every component below the current owner.
pub fn provide_labels(labels: Labels) {
    provide_context(labels);
}

/// The labels provided above, or the English defaults.
pub fn use_labels() -> Labels {
    use_context::<Labels>().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_by_name() {
        assert_eq!(
            fill("Message {recipient}", &[("recipient", "Northwind")]),
            "Message Northwind"
        );
        assert_eq!(fill("{a}{b}{a}", &[("a", "1"), ("b", "2")]), "121");
        assert_eq!(fill("no values", &[("a", "1")]), "no values");
    }

    #[test]
    fn the_default_words_for_text_rules_are_cores() {
        let labels = Labels::default();
        for error in [
            MessageTextError::Blank,
            MessageTextError::TooLong { len: 4001 },
            MessageTextError::ControlCharacter { code: 7 },
        ] {
            assert_eq!(labels.text_problem(&error), error.to_string());
        }
    }

    /// Every field can be translated: a field missing from `text_mut` would be ignored.
    #[test]
    fn every_text_round_trips_through_json() {
        let defaults = serde_json::to_value(Labels::default()).expect("labels as JSON");
        let names: Vec<String> = defaults
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect();
        let translated: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .map(|name| (name.clone(), format!("«{name}»").into()))
            .collect();
        let labels: Labels =
            serde_json::from_value(translated.clone().into()).expect("translated labels");
        assert_eq!(
            serde_json::to_value(labels).expect("back"),
            serde_json::Value::Object(translated)
        );
    }

    #[test]
    fn a_partial_translation_keeps_the_english_defaults_for_the_rest() {
        let french: Labels =
            serde_json::from_str(r#"{"send_message": "Envoyer un message"}"#).expect("labels");
        assert_eq!(french.send_message, "Envoyer un message");
        assert_eq!(french.send, Labels::default().send);
        let unknown: Labels =
            serde_json::from_str(r#"{"no_such_text": "x"}"#).expect("unknown names ignored");
        assert_eq!(unknown, Labels::default());
        assert!(serde_json::from_str::<Labels>(r#"["Envoyer"]"#).is_err());
    }
}
