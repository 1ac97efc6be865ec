//! What the conversation view shows: the messages the server confirmed, in sequence and
//! with no gap, then the outbox's unsent ones. A message is known by its `local_id`
//! wherever it comes from (the page, a send's answer, the live stream, another tab), so it
//! shows once; one whose sequence number is not the next is held back until the messages
//! before it are fetched.

use crate::outbox::Pending;
use crate::outbox::queue::{self, Place};
use messaging_core::wire::Message;
use messaging_core::{ConversationId, DeviceKind, LocalId, UserId};
use time::OffsetDateTime;

/// Where a message is on its way to the server, as its sender sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Stored by the server.
    Sent,
    /// In the outbox, not tried yet or being tried (or waiting its turn).
    Sending,
    /// Held back behind an earlier message of the conversation that the server refused:
    /// sent once the person retries or discards that one.
    Waiting,
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
    /// Unsent, and no request has carried it yet: it can still be edited or cancelled.
    pub editable: bool,
    /// Unsent and kept in this tab's memory only (storage is full): lost with the tab.
    pub only_in_this_tab: bool,
}

/// What became of a message offered to the confirmed list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merged {
    /// In the list (added, or it was there already).
    Shown,
    /// Messages are missing before it: it is left out, and the caller fetches what
    /// follows the last shown message (which brings this one too).
    Gap,
    /// Of another conversation.
    Ignored,
}

/// Adds a confirmed message at its place in the sequence, or replaces the copy with the
/// same sequence number or `local_id`, so the list stays a gap-free run of the
/// conversation. A message past the next number (or without one) is a [`Merged::Gap`].
pub fn merge_confirmed(
    confirmed: &mut Vec<Message>,
    conversation: ConversationId,
    message: Message,
) -> Merged {
    if message.conversation_id != conversation {
        return Merged::Ignored;
    }
    let next = confirmed.last().map_or(1, |last| last.seq + 1);
    let starts_the_list = confirmed.is_empty() && message.seq > 0;
    if !starts_the_list && (message.seq == 0 || message.seq > next) {
        return Merged::Gap;
    }
    confirmed.retain(|known| known.local_id != message.local_id || known.seq == message.seq);
    let at = confirmed.partition_point(|known| known.seq < message.seq);
    match confirmed.get_mut(at) {
        Some(known) if known.seq == message.seq => *known = message,
        _ => confirmed.insert(at, message),
    }
    Merged::Shown
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
        editable: false,
        only_in_this_tab: false,
    });
    let queued: Vec<Pending> = pending
        .iter()
        .filter(|p| p.conversation_id == conversation)
        .cloned()
        .collect();
    let unsent = queue::places(&queued)
        .filter(|(p, _)| !confirmed.iter().any(|m| m.local_id == p.local_id))
        .map(|(p, place)| Row {
            local_id: p.local_id.clone(),
            sender: reader_name.to_owned(),
            own: true,
            text: p.text.clone(),
            sent_at: None,
            device: p.user_agent.as_deref().map_or(DeviceKind::Unknown, |ua| {
                DeviceKind::from_client(ua, p.max_touch_points)
            }),
            delivery: match (place, &p.last_error) {
                (Place::HeldBack, _) => Delivery::Waiting,
                (_, Some(reason)) => Delivery::Failed {
                    reason: reason.clone(),
                    will_retry: !p.refused,
                },
                (_, None) => Delivery::Sending,
            },
            editable: p.editable(),
            only_in_this_tab: p.only_in_this_tab,
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
        seq: u64,
    ) -> Message {
        Message {
            id: MessageId::new_random(),
            conversation_id: conversation,
            seq,
            local_id: local_id.clone(),
            sender: sender.clone(),
            text: format!("text of {local_id}"),
            created_at: OffsetDateTime::UNIX_EPOCH + Duration::seconds(seq as i64),
            display_data: DisplayData::from_user_agent(None),
        }
    }

    fn pending(conversation: ConversationId, local_id: &LocalId) -> Pending {
        Pending::new(
            conversation,
            local_id.clone(),
            format!("text of {local_id}"),
            crate::api::DeviceHints::default(),
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
    fn confirmed_messages_keep_the_sequence_and_unsent_ones_follow() {
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
        let mut messages = vec![confirmed(conversation, &alice, &first, 1)];
        let outbox = vec![pending(conversation, &unsent)];
        assert_eq!(
            merge_confirmed(
                &mut messages,
                conversation,
                confirmed(conversation, &carol, &second, 2)
            ),
            Merged::Shown
        );
        let shown: Vec<_> = rows(&messages, &outbox, conversation, alice.id, "Alice")
            .into_iter()
            .map(|row| (row.local_id, row.own))
            .collect();
        assert_eq!(shown, [(first, true), (second, false), (unsent, true)]);
    }

    #[test]
    fn a_message_past_a_gap_waits_for_the_gap_to_be_fetched() {
        let conversation = ConversationId::new_random();
        let alice = reader();
        let mut messages = vec![confirmed(conversation, &alice, &LocalId::generate(), 4)];
        let sixth = confirmed(conversation, &alice, &LocalId::generate(), 6);
        let fifth = confirmed(conversation, &alice, &LocalId::generate(), 5);
        assert_eq!(
            merge_confirmed(&mut messages, conversation, sixth.clone()),
            Merged::Gap
        );
        assert_eq!(messages.len(), 1, "nothing shown past the gap");
        // The catch-up brings both, in order; the live copy of 6 then changes nothing.
        for message in [fifth, sixth.clone(), sixth] {
            assert_eq!(
                merge_confirmed(&mut messages, conversation, message),
                Merged::Shown
            );
        }
        let seqs: Vec<u64> = messages.iter().map(|message| message.seq).collect();
        assert_eq!(seqs, [4, 5, 6]);
        // An answer stored before sequences existed has none: fetched, not guessed.
        let unnumbered = confirmed(conversation, &alice, &LocalId::generate(), 0);
        assert_eq!(
            merge_confirmed(&mut messages, conversation, unnumbered),
            Merged::Gap
        );
    }

    #[test]
    fn other_conversations_stay_out() {
        let (here, elsewhere) = (ConversationId::new_random(), ConversationId::new_random());
        let alice = reader();
        let mut messages = Vec::new();
        let merged = merge_confirmed(
            &mut messages,
            here,
            confirmed(elsewhere, &alice, &LocalId::generate(), 1),
        );
        assert_eq!(merged, Merged::Ignored);
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

    #[test]
    fn messages_behind_a_refused_one_wait_for_it() {
        let conversation = ConversationId::new_random();
        let alice = reader();
        let mut refused = pending(conversation, &LocalId::generate());
        refused.last_error = Some("too long".into());
        refused.refused = true;
        refused.carried = true;
        let behind = pending(conversation, &LocalId::generate());
        let shown = rows(&[], &[refused, behind], conversation, alice.id, "Alice");
        assert_eq!(shown[1].delivery, Delivery::Waiting);
        // The refused one was carried: bound to its text. The one behind was not.
        assert_eq!((shown[0].editable, shown[1].editable), (false, true));
    }
}
