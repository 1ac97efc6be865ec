//! What the conversation view shows: the messages the server confirmed, oldest first,
//! then the outbox's unsent ones. A message is known by its `local_id` wherever it comes
//! from (the page, a send's answer, the live stream, another tab), so it shows once.

use crate::outbox::Pending;
use messaging_core::wire::Message;
use messaging_core::{ConversationId, DeviceKind, LocalId, UserId};
use time::OffsetDateTime;

/// Where a message is on its way to the server, as its sender sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Stored by the server.
    Sent,
    /// In the outbox, not tried yet or being tried.
    Sending,
    /// The last try failed. `will_retry`: the outbox tries again by itself (offline,
    /// timeout, server busy); otherwise the server refused it and only the person can
    /// decide (edit, or discard).
    Failed {
        /// Why, in words for the person.
        reason: String,
        /// Whether the outbox tries again by itself.
        will_retry: bool,
    },
}

/// One line of the conversation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Row {
    /// The message's name, the same in every copy of it.
    pub local_id: LocalId,
    /// Who wrote it, by display name.
    pub sender: String,
    /// Written by the reader.
    pub own: bool,
    /// What it says.
    pub text: String,
    /// When the server stored it; `None` while it is unsent.
    pub sent_at: Option<OffsetDateTime>,
    /// What it was sent from.
    pub device: DeviceKind,
    /// How far it got.
    pub delivery: Delivery,
}

/// Adds a confirmed message, or replaces the copy with the same `local_id`, keeping the
/// server's order (time, then id). Messages of other conversations are ignored.
pub fn merge_confirmed(
    confirmed: &mut Vec<Message>,
    conversation: ConversationId,
    message: Message,
) {
    if message.conversation_id != conversation {
        return;
    }
    confirmed.retain(|known| known.local_id != message.local_id);
    let at = confirmed
        .partition_point(|known| (known.created_at, known.id) < (message.created_at, message.id));
    confirmed.insert(at, message);
}

/// The rows to show: confirmed messages, then this conversation's unsent ones in the
/// order they were written, minus any the server has confirmed meanwhile.
pub fn rows(
    confirmed: &[Message],
    pending: &[Pending],
    conversation: ConversationId,
    reader: UserId,
    reader_name: &str,
) -> Vec<Row> {
    let sent = confirmed.iter().map(|message| Row {
        local_id: message.local_id.clone(),
        sender: message.sender.display_name.clone(),
        own: message.sender.id == reader,
        text: message.text.clone(),
        sent_at: Some(message.created_at),
        device: message.display_data.device_kind,
        delivery: Delivery::Sent,
    });
    let unsent = pending
        .iter()
        .filter(|p| p.conversation_id == conversation)
        .filter(|p| !confirmed.iter().any(|m| m.local_id == p.local_id))
        .map(|p| Row {
            local_id: p.local_id.clone(),
            sender: reader_name.to_owned(),
            own: true,
            text: p.text.clone(),
            sent_at: None,
            device: p
                .user_agent
                .as_deref()
                .map_or(DeviceKind::Unknown, DeviceKind::from_user_agent),
            delivery: match &p.last_error {
                None => Delivery::Sending,
                Some(reason) => Delivery::Failed {
                    reason: reason.clone(),
                    will_retry: !p.refused,
                },
            },
        });
    sent.chain(unsent).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use messaging_core::device::DisplayData;
    use messaging_core::wire::Participant;
    use messaging_core::{MessageId, UserId};
    use time::Duration;

    fn reader() -> Participant {
        Participant {
            id: UserId::new_random(),
            display_name: "Alice".into(),
        }
    }

    fn confirmed(
        conversation: ConversationId,
        sender: &Participant,
        local_id: &LocalId,
        at: i64,
    ) -> Message {
        Message {
            id: MessageId::new_random(),
            conversation_id: conversation,
            local_id: local_id.clone(),
            sender: sender.clone(),
            text: format!("text of {local_id}"),
            created_at: OffsetDateTime::UNIX_EPOCH + Duration::seconds(at),
            display_data: DisplayData::from_user_agent(None),
        }
    }

    fn pending(conversation: ConversationId, local_id: &LocalId) -> Pending {
        Pending::new(
            conversation,
            local_id.clone(),
            format!("text of {local_id}"),
            None,
        )
    }

    #[test]
    fn a_confirmed_message_replaces_its_unsent_copy() {
        let conversation = ConversationId::new_random();
        let alice = reader();
        let local_id = LocalId::generate();
        let outbox = vec![pending(conversation, &local_id)];

        let before = rows(&[], &outbox, conversation, alice.id, "Alice");
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].delivery, Delivery::Sending);

        // Confirmed while the outbox still holds it (the answer and the stream race).
        let mut messages = Vec::new();
        merge_confirmed(
            &mut messages,
            conversation,
            confirmed(conversation, &alice, &local_id, 1),
        );
        let after = rows(&messages, &outbox, conversation, alice.id, "Alice");
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].delivery, Delivery::Sent);
        assert!(after[0].own);
    }

    #[test]
    fn the_same_message_from_the_answer_and_the_stream_shows_once() {
        let conversation = ConversationId::new_random();
        let alice = reader();
        let local_id = LocalId::generate();
        let message = confirmed(conversation, &alice, &local_id, 1);
        let mut messages = Vec::new();
        merge_confirmed(&mut messages, conversation, message.clone());
        merge_confirmed(&mut messages, conversation, message);
        assert_eq!(messages.len(), 1);
    }

    #[test]
    fn confirmed_messages_keep_the_server_order_and_unsent_ones_follow() {
        let conversation = ConversationId::new_random();
        let alice = reader();
        let carol = Participant {
            id: UserId::new_random(),
            display_name: "Carol".into(),
        };
        let (first, second, unsent) = (
            LocalId::generate(),
            LocalId::generate(),
            LocalId::generate(),
        );
        let mut messages = Vec::new();
        // The stream may deliver a later message before an earlier one.
        merge_confirmed(
            &mut messages,
            conversation,
            confirmed(conversation, &carol, &second, 2),
        );
        merge_confirmed(
            &mut messages,
            conversation,
            confirmed(conversation, &alice, &first, 1),
        );
        let outbox = vec![pending(conversation, &unsent)];
        let shown: Vec<_> = rows(&messages, &outbox, conversation, alice.id, "Alice")
            .into_iter()
            .map(|row| (row.local_id, row.own))
            .collect();
        assert_eq!(shown, [(first, true), (second, false), (unsent, true)]);
    }

    #[test]
    fn other_conversations_stay_out() {
        let (here, elsewhere) = (ConversationId::new_random(), ConversationId::new_random());
        let alice = reader();
        let mut messages = Vec::new();
        merge_confirmed(
            &mut messages,
            here,
            confirmed(elsewhere, &alice, &LocalId::generate(), 1),
        );
        let outbox = vec![pending(elsewhere, &LocalId::generate())];
        assert!(rows(&messages, &outbox, here, alice.id, "Alice").is_empty());
    }

    #[test]
    fn a_failed_send_says_whether_it_is_retried() {
        let conversation = ConversationId::new_random();
        let alice = reader();
        let mut offline = pending(conversation, &LocalId::generate());
        offline.last_error = Some("offline".into());
        let mut refused = pending(conversation, &LocalId::generate());
        refused.last_error = Some("too long".into());
        refused.refused = true;
        let shown = rows(&[], &[offline, refused], conversation, alice.id, "Alice");
        assert_eq!(
            shown[0].delivery,
            Delivery::Failed {
                reason: "offline".into(),
                will_retry: true
            }
        );
        assert_eq!(
            shown[1].delivery,
            Delivery::Failed {
                reason: "too long".into(),
                will_retry: false
            }
        );
    }
}
